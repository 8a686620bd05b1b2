//! The runtime-neutral request and response every adapter converts to and from.

use crate::error::AppwriteError;

/// HTTP methods edgewrite routes. Anything else is answered before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Head,
}

impl Method {
    /// Parses a method name; `None` for methods edgewrite never serves (TRACE, CONNECT…).
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "HEAD" => Method::Head,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Head => "HEAD",
        }
    }
}

/// Header list with case-insensitive lookup. Names are stored lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Appends a header (several `Set-Cookie` lines are allowed).
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Replaces every header of that name.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.append(name, value);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<N: AsRef<str>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (n, v) in iter {
            headers.append(n.as_ref(), v);
        }
        headers
    }
}

/// The client's address: the last entry of the `trusted` header (the one the edge or proxy in
/// front sets or appends to, so whatever a client wrote there itself comes first), else the
/// connection's `peer`, else empty. A header the deployment does not name is never read: a
/// client could otherwise pick a fresh address per request and reset every per-address limit.
pub fn client_address(headers: &Headers, trusted: &str, peer: Option<&str>) -> String {
    let vouched = (!trusted.is_empty())
        .then(|| {
            let mut values = headers.0.iter().filter(|(n, _)| n.eq_ignore_ascii_case(trusted));
            values.next_back().and_then(|(_, v)| v.rsplit(',').next()).map(str::trim)
        })
        .flatten();
    let ip = |text: &str| text.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string());
    vouched.and_then(ip).or_else(|| peer.and_then(ip)).unwrap_or_default()
}

/// The client's country (ISO 3166-1 alpha-2, upper case): the `trusted` header's when the
/// deployment names one and the request has it (a proxy in front that sets it, such as
/// `CF-IPCountry`; its "unknown" is final), else what the platform vouches for (Cloudflare's
/// `request.cf.country`), else empty. The unknown and Tor markers (`XX`, `T1`) are no country.
pub fn client_country(headers: &Headers, trusted: &str, platform: Option<&str>) -> String {
    let country = |text: &str| {
        let code = text.trim().to_ascii_uppercase();
        (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) && code != "XX" && code != "T1")
            .then_some(code)
    };
    match (!trusted.is_empty()).then(|| headers.get(trusted)).flatten() {
        Some(vouched) => country(vouched),
        None => platform.and_then(country),
    }
    .unwrap_or_default()
}

/// An incoming request, already read whole (bodies are bounded by [`crate::Limits`]).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path without query string, still percent-encoded, e.g. `/v1/health/db`.
    pub path: String,
    /// Raw query string without `?` (may be empty).
    pub query: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Client address as the platform vouches for it ([`client_address`]); empty when it
    /// vouches for none.
    pub client_ip: String,
    /// `http` or `https`, as the client reached us.
    pub scheme: String,
    /// Host name the client used (without port), for cookie and same-site decisions.
    pub host: String,
    /// The client's country as [`client_country`] found it; empty when unknown.
    pub country: String,
}

/// The host of a URL, an origin or an authority (`https://a.example:8443/x` → `a.example`):
/// scheme, path and a trailing `:port` go; IPv6 literals keep their brackets.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// Decodes `%XX` escapes (a `+` stays a `+`); `None` for malformed escapes or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly: `from_str_radix` alone would also take a sign (`%+4`).
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Request {
    /// `host[:port]` the caller reached the API through: its `Host` header, else [`Request::host`].
    pub fn authority(&self) -> String {
        self.header("host").map_or_else(|| self.host.clone(), str::to_string)
    }

    /// Builds a request from a full URL such as `http://127.0.0.1:8787/v1/ping?x=1`.
    pub fn from_url(method: Method, url: &str) -> Result<Request, AppwriteError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| AppwriteError::invalid_param("url", "URL must be absolute."))?;
        let (authority, path_and_query) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let host = host_of(authority);
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let path = path.split('#').next().unwrap_or_default();
        Ok(Request {
            method,
            path: path.to_string(),
            query: query.split('#').next().unwrap_or_default().to_string(),
            headers: Headers::new(),
            body: Vec::new(),
            client_ip: String::new(),
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            country: String::new(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The value of the cookie `name` in the `Cookie` header, as sent (not decoded).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
    }
}

/// Content type of every JSON body, as Appwrite sends it.
pub const JSON: &str = "application/json; charset=UTF-8";

/// An outgoing response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// A body of stored blobs instead of `body`: adapters stream it from the project's blob
    /// store part by part, so a file of any size never sits whole in memory.
    pub blob_body: Option<BlobBody>,
}

/// Byte ranges of a project's blobs, sent one after another as a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobBody {
    pub project: String,
    pub parts: Vec<(String, crate::ports::ByteRange)>,
}

impl BlobBody {
    pub fn len(&self) -> u64 {
        self.parts.iter().map(|(_, r)| r.end - r.start).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Response {
    pub fn new(status: u16) -> Self {
        Self { status, headers: Headers::new(), body: Vec::new(), blob_body: None }
    }

    /// A JSON response; every JSON body carries `Content-Type: application/json` (the SDKs only
    /// parse bodies that do).
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let mut response = Self::new(status);
        response.headers.set("content-type", JSON);
        response.body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        response
    }

    pub fn text(status: u16, body: &str) -> Self {
        let mut response = Self::new(status);
        response.headers.set("content-type", "text/plain; charset=utf-8");
        response.body = body.as_bytes().to_vec();
        response
    }

    /// `204 No Content` with an empty body, as the SDKs expect from deletes, and the
    /// `Content-Type` Appwrite's server sends with it (PHP's default, not JSON): the Python SDK
    /// reads that header on every answer, and parses JSON ones.
    pub fn no_content() -> Self {
        let mut response = Self::new(204);
        response.headers.set("content-type", "text/html; charset=UTF-8");
        response
    }

    pub fn error(err: &AppwriteError) -> Self {
        let mut response = Self::new(err.status());
        response.headers.set("content-type", JSON);
        for (name, value) in &err.headers {
            response.headers.set(name, value.clone());
        }
        response.body = err.body();
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_url_splits_host_path_and_query() {
        let req = Request::from_url(Method::Get, "http://127.0.0.1:8787/v1/ping?a=1#frag").unwrap();
        assert_eq!(req.host, "127.0.0.1");
        assert_eq!(req.scheme, "http");
        assert_eq!(req.path, "/v1/ping");
        assert_eq!(req.query, "a=1");
    }

    #[test]
    fn hosts_and_escapes() {
        assert_eq!(host_of("https://a.example:8443/x"), "a.example");
        assert_eq!(host_of("http://[::1]:80"), "[::1]");
        assert_eq!(host_of("b.example"), "b.example");
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b+c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%"), None);
        // Found by the fuzzer (`components/fuzz/corpus/cookies/crash-3c16e9da4ebb4f16`).
        assert_eq!(percent_decode("%+4"), None, "a sign is not a hex digit");
    }

    #[test]
    fn headers_are_case_insensitive() {
        let mut headers = Headers::new();
        headers.append("X-Appwrite-Project", "p1");
        assert_eq!(headers.get("x-appwrite-project"), Some("p1"));
        headers.set("x-APPWRITE-project", "p2");
        assert_eq!(headers.iter().count(), 1);
        assert_eq!(headers.get("X-Appwrite-Project"), Some("p2"));
    }

    #[test]
    fn the_client_address_comes_only_from_what_the_deployment_trusts() {
        let headers: Headers =
            [("cf-connecting-ip", "203.0.113.7"), ("x-forwarded-for", "6.6.6.6, 198.51.100.2")]
                .into_iter()
                .collect();
        // An untrusted header is never read, whatever it says.
        assert_eq!(client_address(&headers, "", Some("127.0.0.9")), "127.0.0.9");
        let mut countries = Headers::new();
        countries.set("cf-ipcountry", "de");
        assert_eq!(client_country(&countries, "cf-ipcountry", Some("US")), "DE");
        assert_eq!(client_country(&countries, "", Some("US")), "US", "an unnamed header is never read");
        countries.set("cf-ipcountry", "XX");
        assert_eq!(
            client_country(&countries, "cf-ipcountry", Some("US")),
            "",
            "the proxy's unknown is final"
        );
        assert_eq!(client_country(&Headers::new(), "cf-ipcountry", Some("us")), "US");
        countries.set("cf-ipcountry", "Germany");
        assert_eq!(client_country(&countries, "cf-ipcountry", Some("t1")), "");
        assert_eq!(client_address(&headers, "", None), "");
        assert_eq!(client_address(&headers, "cf-connecting-ip", None), "203.0.113.7");
        // Behind a proxy that appends, the client's own entries come first.
        assert_eq!(client_address(&headers, "X-Forwarded-For", Some("10.0.0.1")), "198.51.100.2");
        // A trusted header absent or not an address: the peer.
        assert_eq!(client_address(&headers, "x-real-ip", Some("[::1]:80")), "");
        assert_eq!(client_address(&headers, "x-real-ip", Some("::1")), "::1");
        let junk: Headers = [("cf-connecting-ip", "not-an-ip")].into_iter().collect();
        assert_eq!(client_address(&junk, "cf-connecting-ip", Some("10.0.0.1")), "10.0.0.1");
    }
}
