//! The gradual-migration proxy on Cloudflare (`edgewrite_core::upstream`): a request edgewrite
//! does not serve goes to the legacy backend with its body streamed through, the caller's
//! verified identity signed into a header, and the backend's answer streamed back. No answer
//! within the timeout is a 504, a failed connection a 502, both Appwrite-shaped.

use std::pin::pin;
use std::time::Duration;

use edgewrite_core::upstream::{self, Upstream, IDENTITY_HEADER};
use edgewrite_core::Config;
use futures_util::future::{select, Either};
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response};

use crate::{from_core, CloudflareRuntime};

pub(crate) async fn forward(
    req: Request,
    head: edgewrite_core::Request,
    runtime: &CloudflareRuntime<'_>,
    config: &Config,
    upstream: &Upstream,
) -> worker::Result<Response> {
    let fail = |err| from_core(edgewrite_core::serve::reject(&head, config, &err));
    // Who is calling matters only when it is signed for the legacy backend.
    let (project, caller) = match upstream.secret {
        Some(_) => {
            let auth: &dyn edgewrite_core::identity::Authenticator = &edgewrite_account::AccountAuthenticator;
            edgewrite_core::serve::identify(&head, config, runtime, Some(auth)).await
        }
        None => (None, edgewrite_core::identity::Caller::Guest),
    };
    let headers = Headers::new();
    for (name, value) in upstream::forward_headers(&head.headers, &head.client_ip, &head.host, &head.scheme) {
        // A header the platform refuses to forward is dropped, not fatal.
        let _ = headers.append(&name, &value);
    }
    if let Some(secret) = &upstream.secret {
        let now_s = worker::Date::now().as_millis() as i64 / 1000;
        headers
            .set(IDENTITY_HEADER, &upstream::identity_token(secret, project.as_deref(), &caller, now_s))?;
    }
    let mut init = RequestInit::new();
    init.with_method(worker::Method::from(head.method.as_str().to_string()))
        .with_headers(headers)
        // The legacy backend's redirects go back to the client as they are.
        .with_redirect(RequestRedirect::Manual);
    if let Some(body) = req.inner().body() {
        init.with_body(Some(JsValue::from(body)));
    }
    let target = upstream.target(&head.path, &head.query);
    let outbound = match Request::new_with_init(&target, &init) {
        Ok(outbound) => outbound,
        Err(e) => return fail(upstream::unreachable(&e.to_string())),
    };
    let abort = AbortController::default();
    let signal = abort.signal();
    let fetch = Fetch::Request(outbound);
    let fetch = pin!(fetch.send_with_signal(&signal));
    let timer = pin!(Delay::from(Duration::from_millis(upstream.timeout_ms)));
    match select(fetch, timer).await {
        Either::Left((Ok(response), _)) => {
            tracing::info!(method = head.method.as_str(), path = %head.path, status = response.status_code(), "forwarded upstream");
            Ok(response)
        }
        Either::Left((Err(e), _)) => fail(upstream::unreachable(&e.to_string())),
        Either::Right(_) => {
            abort.abort();
            fail(upstream::timed_out(upstream.timeout_ms))
        }
    }
}
