//! The gradual-migration proxy on Spin (`edgewrite_core::upstream`): the request, already read
//! within the body limit, goes to the legacy backend through `wasi:http` with the caller's
//! verified identity signed into a header; the answer comes back read whole (up to
//! [`MAX_ANSWER_BYTES`]). A failed connection is a 502, no answer within the timeout a 504.

use bytes::Bytes;
use edgewrite_core::identity::Authenticator;
use edgewrite_core::serve::Runtime;
use edgewrite_core::upstream::{self, Upstream, IDENTITY_HEADER};
use edgewrite_core::{Config, Request, Response};
use http_body_util::BodyExt;
use spin_sdk::http::FullBody;

/// Largest legacy answer relayed (Spin components answer with a whole body).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Answer headers the relay sets itself or that belong to the hop.
const DROPPED: &[&str] =
    &["connection", "keep-alive", "transfer-encoding", "content-length", "trailer", "upgrade"];

pub async fn forward(
    req: &Request,
    config: &Config,
    runtime: &dyn Runtime,
    auth: Option<&dyn Authenticator>,
    upstream: &Upstream,
) -> Response {
    let fail = |err| edgewrite_core::serve::reject(req, config, &err);
    // Who is calling matters only when it is signed for the legacy backend.
    let (project, caller) = match upstream.secret {
        Some(_) => edgewrite_core::serve::identify(req, config, runtime, auth).await,
        None => (None, edgewrite_core::identity::Caller::Guest),
    };
    let mut builder =
        ::http::Request::builder().method(req.method.as_str()).uri(upstream.target(&req.path, &req.query));
    for (name, value) in upstream::forward_headers(&req.headers, &req.client_ip, &req.host, &req.scheme) {
        builder = builder.header(name, value);
    }
    if let Some(secret) = &upstream.secret {
        let now_s = runtime.clock().now_ms() / 1000;
        builder = builder
            .header(IDENTITY_HEADER, upstream::identity_token(secret, project.as_deref(), &caller, now_s));
    }
    // The host enforces the timeout: no answer's head within it fails the request.
    let options = wasip3::http::types::RequestOptions::new();
    let _ = options.set_first_byte_timeout(Some(upstream.timeout_ms.saturating_mul(1_000_000)));
    builder = builder.extension(wasip3::http_compat::RequestOptionsExtension(options));
    let outbound = match builder.body(FullBody::new(Bytes::from(req.body.clone()))) {
        Ok(outbound) => outbound,
        Err(e) => return fail(upstream::unreachable(&e.to_string())),
    };
    let answer = match spin_sdk::http::send(outbound).await {
        Ok(answer) => answer,
        Err(e) if format!("{e:?}").contains("Timeout") => {
            return fail(upstream::timed_out(upstream.timeout_ms))
        }
        Err(e) => return fail(upstream::unreachable(&format!("{e:?}"))),
    };
    let mut response = Response::new(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if let (false, Ok(value)) = (DROPPED.contains(&name.as_str()), value.to_str()) {
            response.headers.append(name.as_str(), value);
        }
    }
    match http_body_util::Limited::new(answer.into_body(), MAX_ANSWER_BYTES).collect().await {
        Ok(body) => response.body = body.to_bytes().to_vec(),
        Err(e) => return fail(upstream::unreachable(&format!("reading the answer: {e}"))),
    }
    tracing::info!(method = req.method.as_str(), path = %req.path, status = response.status, "forwarded upstream");
    response
}
