//! The gradual-migration proxy: with `EDGEWRITE_UPSTREAM` set, every request edgewrite does not
//! serve (no route matches), and every request whose path matches `EDGEWRITE_UPSTREAM_ROUTES`,
//! goes to the legacy backend, which answers instead. The pieces here are runtime-free: which
//! requests go, which headers go with them, and the signed identity header that tells the
//! legacy backend who edgewrite verified the caller to be. The adapters do the forwarding
//! (streamed on Cloudflare).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::error::{AppwriteError, ErrorType};
use crate::http::{Headers, Method};
use crate::identity::Caller;
use crate::ports::Secrets;
use crate::router::{self, Capability, Match};

/// The header carrying the caller's identity to the legacy backend: an HS256 JWT signed with
/// `EDGEWRITE_UPSTREAM_SECRET`. A client's own header of that name never passes.
pub const IDENTITY_HEADER: &str = "x-edgewrite-identity";
/// How long a signed identity is valid, in seconds (it is made per request).
pub const IDENTITY_TTL_SECS: i64 = 300;

/// The legacy backend, from the operator's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `scheme://host[:port]` (and an optional base path), without a trailing `/`.
    pub url: String,
    /// Path patterns forwarded even though edgewrite serves them: `/v1/functions/*` (that path
    /// and everything under it) or an exact path.
    pub routes: Vec<String>,
    /// Signs [`IDENTITY_HEADER`]; without it no identity is sent.
    pub secret: Option<String>,
    /// Longest wait for the legacy backend's answer (`EDGEWRITE_UPSTREAM_TIMEOUT_MS`).
    pub timeout_ms: u64,
}

impl Upstream {
    pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

    /// `EDGEWRITE_UPSTREAM` (unset or empty: no proxy), `EDGEWRITE_UPSTREAM_ROUTES`,
    /// `EDGEWRITE_UPSTREAM_SECRET`, `EDGEWRITE_UPSTREAM_TIMEOUT_MS`.
    pub fn from_secrets(secrets: &dyn Secrets) -> Option<Upstream> {
        let url = secrets.get("EDGEWRITE_UPSTREAM")?.trim().trim_end_matches('/').to_string();
        // Empty is how Spin (whose variables always exist) and wrangler say "not set".
        if url.is_empty() {
            return None;
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            tracing::error!(%url, "EDGEWRITE_UPSTREAM must be an http(s) URL; the proxy is off");
            return None;
        }
        let routes = secrets
            .get("EDGEWRITE_UPSTREAM_ROUTES")
            .unwrap_or_default()
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| r.starts_with('/'))
            .collect();
        let secret = secrets.get("EDGEWRITE_UPSTREAM_SECRET").filter(|s| !s.is_empty());
        let timeout_ms = secrets
            .get("EDGEWRITE_UPSTREAM_TIMEOUT_MS")
            .and_then(|v| v.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(Self::DEFAULT_TIMEOUT_MS);
        Some(Upstream { url, routes, secret, timeout_ms })
    }

    /// Whether a request for `path` goes to the legacy backend: a path matching a configured
    /// pattern, or one no route of edgewrite's matches, even spelled as a lenient server would
    /// read it (decoded, lower-case). Paths with empty, `.` or `..` segments never go: a legacy
    /// backend that normalises them could be reached, with a signed identity, at a route
    /// edgewrite serves.
    pub fn forwards(&self, capabilities: &[&dyn Capability], method: Method, path: &str) -> bool {
        let Some(lenient) = lenient(path) else { return false };
        self.routes.iter().any(|pattern| matches(pattern, path))
            || (matches!(router::find(capabilities, method, path), Match::NotFound)
                && matches!(router::find(capabilities, method, &lenient), Match::NotFound))
    }

    /// The legacy backend's URL for `path` and `query` (both as the client sent them).
    pub fn target(&self, path: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{}{path}", self.url)
        } else {
            format!("{}{path}?{query}", self.url)
        }
    }
}

/// `path` as a lenient server reads it (percent-decoded, lower-case), or `None` for spellings
/// only a trick needs: segments such a server would collapse or climb (`//`, `/./`, `/../`), a
/// backslash, unreserved characters percent-encoded (`%61`), or Appwrite's API namespace and
/// service names (`/v1/account`) in anything but lower case. The last ones matter on Spin,
/// where a component knows only its own routes.
fn lenient(path: &str) -> Option<String> {
    let encodes_unreserved = path.split('%').skip(1).any(|rest| {
        rest.get(..2)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    });
    let decoded = crate::http::percent_decode(path)?;
    let body = decoded.strip_prefix('/')?;
    let body = body.strip_suffix('/').unwrap_or(body);
    let mut segments = body.split('/');
    let odd_segment = !body.is_empty() && body.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    let api = segments.next().is_some_and(|s| s.eq_ignore_ascii_case("v1"));
    let odd_case = api
        && (!body.starts_with("v1")
            || segments.next().is_some_and(|s| s.bytes().any(|b| b.is_ascii_uppercase())));
    if encodes_unreserved || odd_segment || odd_case || decoded.contains('\\') {
        return None;
    }
    Some(decoded.to_lowercase())
}

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')),
        None => path == pattern,
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those the runtime sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Headers through which a client could claim an address.
const CLIENT_ADDRESS: &[&str] =
    &["forwarded", "x-real-ip", "true-client-ip", "x-client-ip", "cf-connecting-ip"];

/// The headers that go to the legacy backend: the client's, minus hop-by-hop ones (and those
/// its `Connection` header names) and any identity header of its own, plus `X-Forwarded-*`
/// and, with a secret, the signed identity.
pub fn forward_headers(
    headers: &Headers,
    client_ip: &str,
    host: &str,
    scheme: &str,
) -> Vec<(String, String)> {
    let named: Vec<String> = headers
        .get("connection")
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .filter(|(k, _)| !HOP_BY_HOP.contains(&k.as_str()) && !named.contains(k) && k != IDENTITY_HEADER)
        // Who the client is comes from edgewrite alone.
        .filter(|(k, _)| !k.starts_with("x-forwarded-") && !CLIENT_ADDRESS.contains(&k.as_str()))
        .collect();
    if !client_ip.is_empty() {
        out.push(("x-forwarded-for".into(), client_ip.to_string()));
    }
    out.push(("x-forwarded-host".into(), host.to_string()));
    out.push(("x-forwarded-proto".into(), scheme.to_string()));
    out
}

/// The signed identity of `caller` in `project` at `now_s`: an HS256 JWT whose claims are
/// `iss` (`edgewrite`), `project`, `kind` (`guest`, `user` or `key`), `sub` (the user id),
/// `sessionId`, `keyId`, `roles` (the permission roles edgewrite resolved), `iat` and `exp`.
pub fn identity_token(secret: &str, project: Option<&str>, caller: &Caller, now_s: i64) -> String {
    let (kind, user, session, key) = match caller {
        Caller::Guest => ("guest", "", "", ""),
        Caller::User(u) => ("user", u.user_id.as_str(), u.session_id.as_str(), ""),
        Caller::App { key_id, .. } => ("key", "", "", key_id.as_str()),
    };
    let claims = json!({
        "iss": "edgewrite",
        "project": project.unwrap_or_default(),
        "kind": kind,
        "sub": user,
        "sessionId": session,
        "keyId": key,
        "roles": caller.roles(),
        "iat": now_s,
        "exp": now_s + IDENTITY_TTL_SECS,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The legacy backend could not be reached, or broke off its answer.
pub fn unreachable(detail: &str) -> AppwriteError {
    tracing::warn!(%detail, "the upstream (legacy backend) failed");
    AppwriteError::new(ErrorType::GeneralUpstreamFailed, "The upstream server could not be reached.")
}

/// The legacy backend did not answer within the timeout.
pub fn timed_out(timeout_ms: u64) -> AppwriteError {
    AppwriteError::new(
        ErrorType::GeneralUpstreamTimeout,
        format!("The upstream server did not answer within {timeout_ms} ms."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(&'static [(&'static str, &'static str)]);

    impl Secrets for Vars {
        fn get(&self, name: &str) -> Option<String> {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn unset_or_empty_means_no_proxy_and_a_url_means_one() {
        assert!(Upstream::from_secrets(&Vars(&[])).is_none());
        assert!(Upstream::from_secrets(&Vars(&[("EDGEWRITE_UPSTREAM", "  ")])).is_none());
        assert!(Upstream::from_secrets(&Vars(&[("EDGEWRITE_UPSTREAM", "ftp://legacy")])).is_none());
        let on = Upstream::from_secrets(&Vars(&[("EDGEWRITE_UPSTREAM", "https://legacy.test/")])).unwrap();
        assert_eq!(on.url, "https://legacy.test");
    }

    #[test]
    fn patterns_match_a_path_and_what_is_under_it() {
        assert!(matches("/v1/functions/*", "/v1/functions"));
        assert!(matches("/v1/functions/*", "/v1/functions/abc/executions"));
        assert!(!matches("/v1/functions/*", "/v1/functionsx"));
        assert!(matches("/legacy", "/legacy"));
        assert!(!matches("/legacy", "/legacy/x"));
    }

    #[test]
    fn odd_spellings_of_paths_are_recognised() {
        assert_eq!(lenient("/v1/account/Sessions/").as_deref(), Some("/v1/account/sessions/"));
        assert_eq!(lenient("/api/getUser%20x").as_deref(), Some("/api/getuser x"));
        assert_eq!(lenient("/"), Some("/".into()));
        for odd in [
            "/v1//account",
            "/v1/functions/../account",
            "/v1/./x",
            "/v1/%2e%2e/x",
            "/v1\\x",
            "/v1/%61ccount",
            "/V1/account",
            "/v1/ACCOUNT",
        ] {
            assert_eq!(lenient(odd), None, "{odd}");
        }
    }

    #[test]
    fn hop_by_hop_and_forged_identity_headers_never_pass() {
        let mut h = Headers::new();
        h.set("Connection", "keep-alive, X-Secret-Hop");
        h.set("x-secret-hop", "1");
        h.set("Transfer-Encoding", "chunked");
        h.set("X-Edgewrite-Identity", "forged");
        h.set("x-forwarded-for", "6.6.6.6");
        h.set("X-Real-IP", "6.6.6.6");
        h.set("Forwarded", "for=6.6.6.6");
        h.set("Authorization", "Bearer legacy");
        h.set("content-type", "application/json");
        let out = forward_headers(&h, "203.0.113.9", "app.example", "https");
        let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        for gone in
            ["connection", "x-secret-hop", "transfer-encoding", IDENTITY_HEADER, "x-real-ip", "forwarded"]
        {
            assert!(!names.contains(&gone), "{gone}");
        }
        assert!(out.contains(&("authorization".into(), "Bearer legacy".into())));
        assert!(out.contains(&("x-forwarded-for".into(), "203.0.113.9".into())));
        assert_eq!(out.iter().filter(|(k, _)| k == "x-forwarded-for").count(), 1);
    }

    #[test]
    fn the_identity_is_a_jwt_signed_with_the_shared_secret() {
        let token = identity_token("s3cret", Some("p1"), &Caller::Guest, 1_000);
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(input.as_bytes());
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap(), mac.finalize().into_bytes().to_vec());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(input.split('.').nth(1).unwrap()).unwrap())
                .unwrap();
        assert_eq!(claims["kind"], "guest");
        assert_eq!(claims["project"], "p1");
        assert_eq!(claims["exp"], 1_300);
    }
}
