//! Target `cookies`: the credentials a request carries (`edgewrite_core::identity::Credentials`):
//! the `Cookie` header's `a_session_<project>` (and `_legacy`), `X-Appwrite-Session`, and
//! `X-Fallback-Cookies` (a JSON object), with `percent_decode` under the cookie.
//!
//! Input, one per line: the project id, the `Cookie` header, `X-Fallback-Cookies`,
//! `X-Appwrite-Session`, the path, the query string (a missing line sends no header).
//!
//! Properties: never panics; `Request::cookie` answers the value of a `name=value` pair of the
//! header; `percent_decode` agrees with a strict decoder (exactly two hex digits after `%`,
//! UTF-8 result); a session read from any of the three places has a non-empty id and secret
//! and survives `encode` then `decode`; a JWT is never blank.

use edgewrite_core::http::{percent_decode, Method, Request};
use edgewrite_core::identity::{session_cookie_name, Credentials, SessionCredential};

use crate::Target;

pub const TARGET: Target = Target {
    name: "cookies",
    run,
    dictionary: &[
        "a_session_",
        "_legacy",
        "=",
        "; ",
        "%3D",
        "%2",
        "%",
        "eyJpZCI6InUxIiwic2VjcmV0IjoiczEifQ==",
        "{\"a_session_p\":\"",
        "\"}",
        "/v1/realtime",
        "jwt=",
        "impersonateUserId=",
    ],
    max_len: 8192,
};

fn run(input: &[u8]) {
    let lines = super::lines(input);
    let line = |i: usize| lines.get(i).map(String::as_str);
    let project = line(0).unwrap_or_default();
    let Ok(mut req) = Request::from_url(Method::Get, "http://h/v1/account") else { return };
    for (i, header) in [(1, "cookie"), (2, "x-fallback-cookies"), (3, "x-appwrite-session")] {
        if let Some(value) = line(i) {
            req.headers.set(header, value);
        }
    }
    if let Some(path) = line(4) {
        req.path = path.to_string();
    }
    if let Some(query) = line(5) {
        req.query = query.to_string();
    }
    let credentials = Credentials::from_request(&req, project);
    if let Some(session) = &credentials.session {
        assert!(!session.id.is_empty() && !session.secret.is_empty(), "{session:?}");
        assert_eq!(
            SessionCredential::decode(&session.encode()).as_ref(),
            Some(session),
            "encode then decode"
        );
    }
    if let Some(jwt) = &credentials.jwt {
        assert!(!jwt.trim().is_empty(), "a blank JWT");
    }
    let header = line(1).unwrap_or_default();
    for name in [session_cookie_name(project), format!("{}_legacy", session_cookie_name(project))] {
        let Some(value) = req.cookie(&name) else { continue };
        let pair = format!("{name}={value}");
        assert!(header.split(';').any(|p| p.trim() == pair), "{pair:?} is not a pair of {header:?}");
        assert_eq!(percent_decode(value), strict_percent_decode(value), "percent_decode({value:?})");
    }
    for line in &lines {
        assert_eq!(percent_decode(line), strict_percent_decode(line), "percent_decode({line:?})");
    }
}

/// `%XX` escapes with exactly two hex digits; anything else after a `%`, or a result that is
/// not UTF-8, is `None`.
fn strict_percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            let high = hex(*bytes.get(i + 1)?)?;
            let low = hex(*bytes.get(i + 2)?)?;
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
