//! Conversion between Spin's `wasi:http@0.3` request/response (as `http` crate types) and the
//! core's runtime-neutral ones.

use std::net::SocketAddr;

use bytes::{Buf, Bytes};
use edgewrite_core::serve::{body_limit, declared_length, too_large, unreadable_body};
use edgewrite_core::{Config, Method};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use spin_sdk::http::{FullBody, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};

/// What [`crate::serve_http`] answers: the whole body is in memory (the core buffers it).
pub type SpinResponse = Response<FullBody<Bytes>>;

/// The Spin host's routing headers (`spin-full-url`, `spin-client-addr`, `spin-path-info` …).
const HOST_HEADER_PREFIX: &str = "spin-";

/// The last value of a header. The host appends its routing headers after the client's, so a
/// client cannot spoof `spin-client-addr` by sending one first.
fn last_header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get_all(name).iter().next_back().and_then(|v| v.to_str().ok())
}

/// The URL the client used: the host's `spin-full-url`, else the request's own scheme and
/// authority, else the `Host` header.
fn full_url(uri: &Uri, headers: &HeaderMap) -> String {
    if let Some(url) = last_header(headers, "spin-full-url") {
        return url.to_string();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        return format!("{scheme}://{authority}{path}");
    }
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}{path}")
}

/// `spin-client-addr` is `ip:port` (`[v6]:port` for IPv6); the core wants the address alone.
fn client_ip(addr: &str) -> String {
    addr.parse::<SocketAddr>().map_or_else(|_| addr.to_string(), |a| a.ip().to_string())
}

/// Converts a Spin request, reading its body within the configured limit. `Err` is the answer
/// to send instead (unknown method, body too large or unreadable).
pub async fn to_core(
    req: Request,
    config: &Config,
) -> Result<edgewrite_core::Request, edgewrite_core::Response> {
    let (parts, body) = req.into_parts();
    let method = Method::parse(parts.method.as_str());
    let url = full_url(&parts.uri, &parts.headers);
    let mut core = edgewrite_core::Request::from_url(method.unwrap_or(Method::Get), &url)
        .map_err(|e| edgewrite_core::Response::error(&e))?;
    core.headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !name.as_str().starts_with(HOST_HEADER_PREFIX))
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
        .collect();
    // wasi:http carries the authority beside the headers; handlers read it as `Host`.
    if core.header("host").is_none() {
        if let Some(authority) = url.split_once("://").and_then(|(_, rest)| rest.split(['/', '?']).next()) {
            core.headers.set("host", authority);
        }
    }
    let peer = last_header(&parts.headers, "spin-client-addr").map(client_ip);
    let trusted = config.trusted_client_ip_header.as_deref().unwrap_or_default();
    core.client_ip = edgewrite_core::http::client_address(&core.headers, trusted, peer.as_deref());
    // Spin has no geodata of its own: only a proxy in front can name the country.
    core.country = edgewrite_core::http::client_country(&core.headers, &config.trusted_country_header, None);
    let limit = match body_limit(&core, method.is_some(), config) {
        Ok(Some(limit)) => limit,
        Ok(None) => return Ok(core),
        Err(refused) => {
            if worth_draining(&core, 0) {
                drain(std::pin::pin!(body)).await;
            }
            return Err(refused);
        }
    };
    // A chunked body has no length: stop reading once it passes the limit.
    let mut body = std::pin::pin!(body);
    match Limited::new(body.as_mut(), limit).collect().await {
        Ok(collected) => core.body = collected.to_bytes().to_vec(),
        Err(e) if e.is::<LengthLimitError>() => {
            if worth_draining(&core, limit) {
                drain(body).await;
            }
            return Err(too_large(&core, config));
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the request body");
            return Err(unreadable_body(&core, config));
        }
    }
    Ok(core)
}

/// How much more of a refused body is read (and dropped) before the refusal goes out.
const DRAIN_BYTES: usize = 8 * 1024 * 1024;

/// Whether reading on (see [`drain`]) can end the body, `read` bytes in. Not when the client
/// waits for `100 Continue` before sending (reading would invite the upload the 413 spares it),
/// nor when its declared length is beyond the bound anyway.
fn worth_draining(core: &edgewrite_core::Request, read: usize) -> bool {
    let expects_continue =
        core.header("expect").is_some_and(|e| e.trim().eq_ignore_ascii_case("100-continue"));
    !expects_continue
        && declared_length(core).is_none_or(|n| n.saturating_sub(read as u64) <= DRAIN_BYTES as u64)
}

/// Reads and drops up to [`DRAIN_BYTES`] of what is left of a refused body. Spin's server closes
/// the connection after the answer; if the client is still sending then, its TCP stack resets
/// the connection and the client may never read the 413 (undici: "Response does not match the
/// HTTP/1.1 protocol (Invalid EOF state)"). Past the bound the connection is closed anyway.
async fn drain<B: http_body::Body>(mut body: std::pin::Pin<&mut B>) {
    let mut read = 0;
    while read <= DRAIN_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.remaining()),
            _ => return,
        }
    }
}

/// Converts the core's response, keeping repeated headers (`Set-Cookie`) as separate lines.
///
/// The body is whole, so its length goes in `Content-Length`: Spin streams a component's body
/// and, without a length, sends it chunked, where clients and SDKs read a download's size from
/// the header. The length is always the body's own (Spin fails a response whose body disagrees
/// with it); an answer to `HEAD` (`head`), whose body the core emptied, and a 1xx, 204 or 304
/// carry none.
pub fn from_core(resp: edgewrite_core::Response, head: bool) -> SpinResponse {
    let length = resp.body.len();
    let mut out = Response::new(FullBody::new(Bytes::from(resp.body)));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bodiless = head
        || out.status().is_informational()
        || out.status() == StatusCode::NO_CONTENT
        || out.status() == StatusCode::NOT_MODIFIED;
    let headers = out.headers_mut();
    if !bodiless {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    for (name, value) in resp.headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
    {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            // Header values come from our own code, but may embed client input: drop what HTTP
            // cannot carry rather than fail the response.
            _ => tracing::warn!(header = name, "dropping a response header HTTP cannot carry"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn the_url_prefers_the_hosts_last_full_url() {
        let uri: Uri = "/v1/ping?x=1".parse().unwrap();
        let h = headers(&[
            ("host", "a.example"),
            ("spin-full-url", "http://spoofed/"),
            ("spin-full-url", "https://a.example:3000/v1/ping?x=1"),
        ]);
        assert_eq!(full_url(&uri, &h), "https://a.example:3000/v1/ping?x=1");
        assert_eq!(
            full_url(&uri, &headers(&[("host", "a.example:3000")])),
            "http://a.example:3000/v1/ping?x=1"
        );
        assert_eq!(full_url(&uri, &HeaderMap::new()), "http://localhost/v1/ping?x=1");
        let absolute: Uri = "https://b.example/v1/health".parse().unwrap();
        assert_eq!(full_url(&absolute, &HeaderMap::new()), "https://b.example/v1/health");
    }

    #[test]
    fn client_addresses_lose_their_port() {
        assert_eq!(client_ip("127.0.0.1:54321"), "127.0.0.1");
        assert_eq!(client_ip("[::1]:8080"), "::1");
        assert_eq!(client_ip("not an address"), "not an address");
    }

    #[test]
    fn repeated_response_headers_stay_separate() {
        let mut resp = edgewrite_core::Response::new(201);
        resp.headers.append("set-cookie", "a=1");
        resp.headers.append("set-cookie", "b=2");
        resp.headers.append("x-bad", "line\nbreak");
        resp.body = b"{}".to_vec();
        resp.headers.append("content-length", "999");
        let out = from_core(resp, false);
        assert_eq!(out.status(), StatusCode::CREATED);
        assert_eq!(out.headers().get("content-length").unwrap(), "2");
        assert!(from_core(edgewrite_core::Response::new(204), false)
            .headers()
            .get("content-length")
            .is_none());
        let mut head = edgewrite_core::Response::new(200);
        head.headers.append("content-length", "1024");
        assert!(from_core(head, true).headers().get("content-length").is_none());
        let cookies: Vec<_> = out.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(out.headers().get("x-bad").is_none());
    }
}
