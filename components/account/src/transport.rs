//! Session transport as the SDKs expect it (`appwrite-api.md` §1.3): two cookies
//! (`a_session_<project>` with `SameSite=None`, and its `_legacy` twin without), `HttpOnly`,
//! `Secure` only on https, host-only on localhost and IP hosts; and the `X-Fallback-Cookies`
//! header when the page's origin is on another site than the API.

use edgewrite_core::http::{Request, Response};
use edgewrite_core::identity::session_cookie_name;
use edgewrite_core::time::http_date_from_ms;

fn is_ip_or_localhost(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('[')
        || host.contains(':')
        || (host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok()))
}

/// The last two labels of a host name: a registrable-domain approximation that needs no public
/// suffix list. Empty for IPs and localhost, as in Appwrite.
fn registrable_domain(host: &str) -> String {
    if is_ip_or_localhost(host) {
        return String::new();
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

/// Whether the browser may not send our cookies back (third-party context), so the SDK needs the
/// session in `X-Fallback-Cookies`.
pub fn needs_fallback(req: &Request) -> bool {
    let api = registrable_domain(&req.host);
    let origin = req
        .header("origin")
        .map(|o| registrable_domain(&edgewrite_core::http::host_of(o).to_ascii_lowercase()))
        .unwrap_or_default();
    api.is_empty() || origin != api
}

fn cookie(req: &Request, name: &str, value: &str, expires_ms: i64, same_site_none: bool) -> String {
    let mut c = format!("{name}={value}; expires={}; path=/", http_date_from_ms(expires_ms));
    if !is_ip_or_localhost(&req.host) {
        c.push_str(&format!("; domain=.{}", req.host));
    }
    if req.scheme == "https" {
        c.push_str("; secure");
    }
    c.push_str("; httponly");
    if same_site_none {
        c.push_str("; samesite=None");
    }
    c
}

/// Sets the session cookies (and the fallback header) carrying `credential`.
pub fn attach(response: &mut Response, req: &Request, project: &str, credential: &str, expire_ms: i64) {
    let name = session_cookie_name(project);
    response.headers.append("set-cookie", cookie(req, &name, credential, expire_ms, true));
    response
        .headers
        .append("set-cookie", cookie(req, &format!("{name}_legacy"), credential, expire_ms, false));
    if needs_fallback(req) {
        let fallback = serde_json::json!({ name: credential });
        response.headers.set("x-fallback-cookies", fallback.to_string());
    }
}

/// Expires both cookies and empties the fallback store (`X-Fallback-Cookies: []`).
pub fn clear(response: &mut Response, req: &Request, project: &str) {
    let name = session_cookie_name(project);
    response.headers.append("set-cookie", cookie(req, &name, "", 0, true));
    response.headers.append("set-cookie", cookie(req, &format!("{name}_legacy"), "", 0, false));
    response.headers.set("x-fallback-cookies", "[]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewrite_core::http::Method;

    fn req(url: &str, origin: Option<&str>) -> Request {
        let mut r = Request::from_url(Method::Post, url).unwrap();
        if let Some(o) = origin {
            r.headers.set("origin", o);
        }
        r
    }

    #[test]
    fn localhost_cookies_are_host_only_and_not_secure() {
        let mut resp = Response::new(201);
        attach(&mut resp, &req("http://127.0.0.1:8787/v1/account/sessions/email", None), "p", "Y3JlZA==", 0);
        let cookies: Vec<&str> =
            resp.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v).collect();
        assert_eq!(cookies.len(), 2);
        assert!(cookies[0].starts_with("a_session_p=Y3JlZA==; expires=Thu, 01 Jan 1970"));
        assert!(cookies[0].ends_with("; path=/; httponly; samesite=None"));
        assert!(cookies[1].starts_with("a_session_p_legacy=") && !cookies[1].contains("samesite"));
        assert_eq!(resp.headers.get("x-fallback-cookies"), Some(r#"{"a_session_p":"Y3JlZA=="}"#));
    }

    #[test]
    fn https_domains_get_secure_domain_cookies_and_fallback_only_cross_site() {
        let same = req("https://api.example.com/v1/x", Some("https://app.example.com"));
        let mut resp = Response::new(201);
        attach(&mut resp, &same, "p", "c", 0);
        let first = resp.headers.get("set-cookie").unwrap();
        assert!(first.contains("; domain=.api.example.com; secure; httponly"));
        assert_eq!(resp.headers.get("x-fallback-cookies"), None);
        assert!(needs_fallback(&req("https://api.example.com/v1/x", Some("https://app.other.dev"))));
    }
}
