//! Outbound calls from the Worker: `fetch` for HTTP providers, and the TCP socket API
//! (`connect()`, with `startTls()`) for SMTP.

use std::pin::pin;
use std::time::Duration;

use async_trait::async_trait;
use edgewrite_core::ports::{
    BoundedResponse, Connection, FetchBounds, Outbound, OutboundError, OutboundRequest, OutboundResponse, Tls,
};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, SecureTransport,
    Socket,
};

pub struct WorkerOutbound;

/// How long a provider may take to answer (an HTTP request, or one step of an SMTP dialogue):
/// a run delivering a message must not hang on one.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

fn failed(e: impl std::fmt::Display) -> OutboundError {
    OutboundError::Failed(e.to_string())
}

struct WorkerConnection(Socket);

/// `step` of a provider call (a fetch, a step of an SMTP dialogue), given up on when the other
/// side stays silent for [`FETCH_TIMEOUT`].
async fn within<T>(
    step: &str,
    work: impl std::future::Future<Output = Result<T, OutboundError>>,
) -> Result<T, OutboundError> {
    match select(pin!(work), pin!(Delay::from(FETCH_TIMEOUT))).await {
        Either::Left((done, _)) => done,
        Either::Right(_) => Err(failed(format!("{step}: no answer within {} s", FETCH_TIMEOUT.as_secs()))),
    }
}

#[async_trait(?Send)]
impl Connection for WorkerConnection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, OutboundError> {
        within("reading", async { self.0.read(buf).await.map_err(failed) }).await
    }
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutboundError> {
        within("writing", async {
            self.0.write_all(bytes).await.map_err(failed)?;
            self.0.flush().await.map_err(failed)
        })
        .await
    }
    async fn start_tls(self: Box<Self>) -> Result<Box<dyn Connection>, OutboundError> {
        Ok(Box::new(WorkerConnection(self.0.start_tls())))
    }
    async fn close(mut self: Box<Self>) {
        // A socket dropped without `close()` stays open until the isolate goes: the server's
        // side waits half-closed (and the Worker's open sockets are limited).
        if let Err(e) = within("closing", async { self.0.close().await.map_err(failed) }).await {
            tracing::debug!(error = %e, "closing an SMTP connection");
        }
    }
}

#[async_trait(?Send)]
impl Outbound for WorkerOutbound {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(failed)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.clone())).with_headers(headers);
        if !request.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(request.body.as_slice()).into()));
        }
        let req = Request::new_with_init(&request.url, &init).map_err(failed)?;
        let abort = AbortController::default();
        let signal = abort.signal();
        let answer = within("fetching", async {
            let mut resp = Fetch::Request(req).send_with_signal(&signal).await.map_err(failed)?;
            Ok(OutboundResponse { status: resp.status_code(), body: resp.bytes().await.map_err(failed)? })
        })
        .await;
        if answer.is_err() {
            // A request given up on is not left running (aborting a finished one does nothing).
            abort.abort();
        }
        answer
    }

    /// The platform refuses private destinations at connect time: Cloudflare's network does not
    /// route a Worker's `fetch` to private addresses, whatever a name resolves to.
    async fn send_bounded(
        &self,
        request: OutboundRequest,
        bounds: FetchBounds,
    ) -> Result<BoundedResponse, OutboundError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(failed)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.clone()))
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        if !request.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(request.body.as_slice()).into()));
        }
        let req = Request::new_with_init(&request.url, &init).map_err(failed)?;
        let abort = AbortController::default();
        let signal = abort.signal();
        let work = async {
            let mut resp = Fetch::Request(req).send_with_signal(&signal).await.map_err(failed)?;
            let mut answer = BoundedResponse {
                status: resp.status_code(),
                location: resp.headers().get("location").ok().flatten(),
                body: Vec::new(),
            };
            // Read as it arrives, so an endless answer stops at the cap, not at the memory limit.
            let mut stream = resp.stream().map_err(failed)?;
            while let Some(chunk) = stream.next().await {
                answer.body.extend_from_slice(&chunk.map_err(failed)?);
                if answer.body.len() > bounds.max_bytes {
                    return Err(failed(format!("the answer is larger than {} bytes", bounds.max_bytes)));
                }
            }
            Ok(answer)
        };
        let answer =
            match select(pin!(work), pin!(Delay::from(Duration::from_millis(bounds.timeout_ms)))).await {
                Either::Left((done, _)) => done,
                Either::Right(_) => Err(failed(format!("no answer within {} ms", bounds.timeout_ms))),
            };
        if answer.is_err() {
            abort.abort();
        }
        answer
    }

    async fn connect(&self, host: &str, port: u16, tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        let transport = match tls {
            Tls::None => SecureTransport::Off,
            Tls::Implicit => SecureTransport::On,
            Tls::StartTls => SecureTransport::StartTls,
        };
        let socket = Socket::builder().secure_transport(transport).connect(host, port).map_err(failed)?;
        within("connecting", async { socket.opened().await.map_err(failed) }).await?;
        Ok(Box::new(WorkerConnection(socket)))
    }
}
