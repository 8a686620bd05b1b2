//! The function ABI's two JSON documents: the request a function reads from standard input
//! (Appwrite's `context.req` fields) and the response it writes to standard output.

use serde_json::{json, Map, Value as Json};

/// The request an execution hands its function.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FunctionRequest {
    pub method: String,
    /// The path with its query string, as the execution gave it (`/items?id=1`).
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub scheme: String,
    /// Host and port of the API the execution came through.
    pub authority: String,
}

impl FunctionRequest {
    /// The JSON written to the function's standard input.
    pub fn to_stdin(&self) -> Vec<u8> {
        let (path, query_string) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let mut query = Map::new();
        for (k, v) in form_urlencoded::parse(query_string.as_bytes()) {
            query.entry(k.into_owned()).or_insert(Json::from(v.into_owned()));
        }
        let headers: Map<String, Json> =
            self.headers.iter().map(|(k, v)| (k.clone(), Json::from(v.as_str()))).collect();
        let (host, port) = match self.authority.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
                (h.to_string(), p.to_string())
            }
            _ => (self.authority.clone(), if self.scheme == "https" { "443" } else { "80" }.to_string()),
        };
        let body_json: Json = serde_json::from_str(&self.body).unwrap_or(Json::Null);
        json!({
            "method": self.method,
            "scheme": self.scheme,
            "host": host,
            "port": port.parse::<u16>().unwrap_or(80),
            "path": path,
            "queryString": query_string,
            "query": query,
            "headers": headers,
            "bodyText": self.body,
            "bodyRaw": self.body,
            "bodyJson": body_json,
            "url": format!("{}://{}{}", self.scheme, self.authority, self.path),
        })
        .to_string()
        .into_bytes()
    }
}

/// What a function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Most response headers kept.
const MAX_HEADERS: usize = 100;

/// The response in a function's standard output: `{"statusCode"|"status", "headers", "body"}`.
/// A body that is not a string is sent as its JSON text.
pub fn parse_response(stdout: &[u8]) -> Result<FunctionResponse, String> {
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Err("The function wrote no response: write one JSON object ({\"statusCode\", \"headers\", \"body\"}) to standard output.".into());
    }
    let value: Json = serde_json::from_slice(stdout).map_err(|e| {
        format!("The function's standard output is not one JSON response object ({e}); use edgewrite::log or standard error for logging.")
    })?;
    let Json::Object(object) = value else {
        return Err("The function's standard output must be a JSON object.".into());
    };
    let status =
        object.get("statusCode").or_else(|| object.get("status")).and_then(Json::as_u64).unwrap_or(200);
    let status = u16::try_from(status).ok().filter(|s| (100..=599).contains(s)).ok_or_else(|| {
        format!("The function answered with status {status}; a status must be between 100 and 599.")
    })?;
    let headers = match object.get("headers") {
        Some(Json::Object(map)) => map
            .iter()
            .take(MAX_HEADERS)
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .filter(|(k, v)| !k.is_empty() && !k.contains(['\r', '\n', ':']) && !v.contains(['\r', '\n']))
            .collect(),
        _ => Vec::new(),
    };
    let body = match object.get("body") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Ok(FunctionResponse { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_appwrite_context_fields() {
        let req = FunctionRequest {
            method: "PATCH".into(),
            path: "/items/7?sort=asc&x=%20y".into(),
            headers: vec![("x-custom".into(), "1".into())],
            body: "{\"a\":1}".into(),
            scheme: "http".into(),
            authority: "127.0.0.1:8787".into(),
        };
        let v: Json = serde_json::from_slice(&req.to_stdin()).unwrap();
        assert_eq!(v["method"], "PATCH");
        assert_eq!(v["path"], "/items/7");
        assert_eq!(v["queryString"], "sort=asc&x=%20y");
        assert_eq!(v["query"]["x"], " y");
        assert_eq!(v["headers"]["x-custom"], "1");
        assert_eq!(v["bodyJson"]["a"], 1);
        assert_eq!(v["port"], 8787);
        assert_eq!(v["url"], "http://127.0.0.1:8787/items/7?sort=asc&x=%20y");
    }

    #[test]
    fn responses_parse_with_defaults_and_refuse_junk() {
        let r =
            parse_response(br#"{"statusCode":201,"headers":{"X-A":"b","bad\r\n":"x"},"body":{"ok":true}}"#)
                .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.headers, vec![("x-a".to_string(), "b".to_string())]);
        assert_eq!(r.body, r#"{"ok":true}"#);
        assert_eq!(parse_response(br#"{"body":"hi"}"#).unwrap().status, 200);
        assert!(parse_response(b"").unwrap_err().contains("no response"));
        assert!(parse_response(b"hello").unwrap_err().contains("not one JSON"));
        assert!(parse_response(br#"{"statusCode":1000}"#).is_err());
    }
}
