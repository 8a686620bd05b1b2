//! CORS as Appwrite does it (`appwrite-api.md` §1.1): echo the allowed Origin, allow credentials,
//! allow the SDK headers and expose `X-Fallback-Cookies`, so the web SDK can keep its session.

use crate::config::AllowedOrigins;
use crate::http::{Request, Response};

pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

pub const ALLOW_HEADERS: &str = "Accept, Origin, Cookie, Set-Cookie, Content-Type, Content-Range, Range, Cache-Control, Expires, Pragma, X-Requested-With, X-Forwarded-For, X-Forwarded-User-Agent, X-Fallback-Cookies, X-Appwrite-Project, X-Appwrite-Key, X-Appwrite-Dev-Key, X-Appwrite-Locale, X-Appwrite-Mode, X-Appwrite-JWT, X-Appwrite-Response-Format, X-Appwrite-Timeout, X-Appwrite-ID, X-Appwrite-Timestamp, X-Appwrite-Session, X-Appwrite-Platform, X-Appwrite-Impersonate-User-Id, X-Appwrite-Impersonate-User-Email, X-Appwrite-Impersonate-User-Phone, X-SDK-Version, X-SDK-Name, X-SDK-Language, X-SDK-Platform, X-SDK-GraphQL, X-SDK-Profile";

pub const EXPOSE_HEADERS: &str = "X-Appwrite-Session, X-Fallback-Cookies";

/// Adds the CORS headers to `response` (errors included). `Access-Control-Allow-Origin` echoes
/// the Origin only when it is allowed; the browser then refuses everything else.
pub fn apply(req: &Request, allowed: &AllowedOrigins, response: &mut Response) {
    let origin = req.header("origin").filter(|o| allowed.allows(o));
    set_headers(origin, response);
}

fn set_headers(origin: Option<&str>, response: &mut Response) {
    let h = &mut response.headers;
    if let Some(origin) = origin {
        h.set("access-control-allow-origin", origin.trim().to_ascii_lowercase());
        h.append("vary", "Origin");
    }
    h.set("access-control-allow-credentials", "true");
    h.set("access-control-allow-methods", ALLOW_METHODS);
    h.set("access-control-allow-headers", ALLOW_HEADERS);
    h.set("access-control-expose-headers", EXPOSE_HEADERS);
    h.set("access-control-max-age", "86400");
}

/// The answer to an `OPTIONS` preflight: 204, echoing any Origin (as Appwrite does; the real
/// request is refused if the origin is not allowed).
pub fn preflight(req: &Request) -> Response {
    let mut response = Response::no_content();
    set_headers(req.header("origin"), &mut response);
    response
}
