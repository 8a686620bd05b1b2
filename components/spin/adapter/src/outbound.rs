//! Outbound calls on Spin: HTTP through `wasi:http/client` (Spin checks the destination against
//! the component's `allowed_outbound_hosts`). Raw TCP is not offered: Spin components reach
//! providers over HTTP (see the README's mail section).

use async_trait::async_trait;
use bytes::Bytes;
use edgewrite_core::ports::{
    BoundedResponse, Connection, FetchBounds, Outbound, OutboundError, OutboundRequest, OutboundResponse, Tls,
};
use http_body_util::BodyExt;
use spin_sdk::http::FullBody;

pub struct SpinOutbound;

/// Largest provider answer read (providers answer a few hundred bytes).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How long a provider may take to start answering: a request delivering messages inline must
/// not hang on one.
const FIRST_BYTE_TIMEOUT_NS: u64 = 30_000_000_000;

#[async_trait(?Send)]
impl Outbound for SpinOutbound {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let failed = |e: &dyn std::fmt::Display| OutboundError::Failed(e.to_string());
        let mut builder = ::http::Request::builder().method(request.method.as_str()).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // The host enforces it: no answer's head within it fails the request.
        let options = wasip3::http::types::RequestOptions::new();
        let _ = options.set_first_byte_timeout(Some(FIRST_BYTE_TIMEOUT_NS));
        builder = builder.extension(wasip3::http_compat::RequestOptionsExtension(options));
        let req = builder.body(FullBody::new(Bytes::from(request.body))).map_err(|e| failed(&e))?;
        let resp = spin_sdk::http::send(req).await.map_err(|e| failed(&format!("{e:?}")))?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| failed(&e))?
            .to_bytes()
            .to_vec();
        Ok(OutboundResponse { status, body })
    }

    /// Spin resolves the name and connects: its `allowed_outbound_hosts` and, where the runtime
    /// configuration sets them, its `block_networks` decide at connect time (README, "Webhooks").
    async fn send_bounded(
        &self,
        request: OutboundRequest,
        bounds: FetchBounds,
    ) -> Result<BoundedResponse, OutboundError> {
        let failed = |e: &dyn std::fmt::Display| OutboundError::Failed(e.to_string());
        // wasi:http hands redirects back as they are: each hop is the caller's to check.
        let options = wasip3::http::types::RequestOptions::new();
        let timeout_ns = bounds.timeout_ms.saturating_mul(1_000_000);
        let _ = options.set_connect_timeout(Some(timeout_ns));
        let _ = options.set_first_byte_timeout(Some(timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(timeout_ns));
        let mut builder = ::http::Request::builder().method(request.method.as_str()).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let req = builder
            .extension(wasip3::http_compat::RequestOptionsExtension(options))
            .body(FullBody::new(Bytes::from(request.body)))
            .map_err(|e| failed(&e))?;
        let resp = spin_sdk::http::send(req).await.map_err(|e| {
            let detail = format!("{e:?}");
            // The host refused the destination: not in allowed_outbound_hosts, or an address
            // its policy blocks.
            if detail.contains("DestinationIpProhibited") || detail.contains("HttpRequestDenied") {
                OutboundError::Denied(format!("{}: {detail}", request.url))
            } else {
                failed(&detail)
            }
        })?;
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), bounds.max_bytes)
            .collect()
            .await
            .map_err(|e| failed(&e))?
            .to_bytes()
            .to_vec();
        Ok(BoundedResponse { status, location, body })
    }

    async fn connect(&self, host: &str, port: u16, _tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        Err(OutboundError::Denied(format!(
            "{host}:{port}: Spin components send mail through an HTTP provider, not SMTP"
        )))
    }
}
