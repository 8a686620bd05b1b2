//! The edgewrite function ABI (README, "Functions"), for Rust functions built for
//! `wasm32-wasip1`:
//!
//! - the request arrives on standard input as one JSON object (Appwrite's `context.req`
//!   fields: `method`, `path`, `queryString`, `query`, `headers`, `bodyText`, …);
//! - the response leaves on standard output as one JSON object (`statusCode`, `headers`,
//!   `body`);
//! - `log` (this module's import) becomes the execution's `logs`, standard error its `errors`;
//! - `fetch` calls the project's own API (or an allow-listed host) and waits for the answer.
//!
//! ```no_run
//! let req = edgewrite_function::request();
//! edgewrite_function::log("hello");
//! edgewrite_function::respond(200, &[("content-type", "text/plain")], req["bodyText"].as_str().unwrap_or(""));
//! ```

use serde_json::{json, Value};
use std::io::{Read, Write};

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "edgewrite")]
extern "C" {
    #[link_name = "log"]
    fn host_log(ptr: *const u8, len: usize);
    #[link_name = "fetch"]
    fn host_fetch(ptr: *const u8, len: usize) -> i32;
    #[link_name = "fetch_read"]
    fn host_fetch_read(ptr: *mut u8, len: usize) -> i32;
}

/// The request, as the JSON object edgewrite wrote to standard input.
pub fn request() -> Value {
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    serde_json::from_str(&input).unwrap_or(Value::Null)
}

/// Writes the response. Call it once, at the end.
pub fn respond(status: u16, headers: &[(&str, &str)], body: &str) {
    let headers: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    let out = json!({ "statusCode": status, "headers": headers, "body": body });
    let _ = std::io::stdout().write_all(out.to_string().as_bytes());
}

/// Adds a line to the execution's `logs`.
pub fn log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        host_log(message.as_ptr(), message.len())
    }
    #[cfg(not(target_arch = "wasm32"))]
    println!("{message}");
}

/// An answer to [`fetch`].
#[derive(Debug, Clone)]
pub struct FetchResponse {
    pub status: u16,
    pub headers: Value,
    pub body: String,
}

/// Calls `url` (the project's API, from `APPWRITE_FUNCTION_API_ENDPOINT`, or a host the
/// deployment allows) and waits for the answer. `Err` carries edgewrite's reason for refusing.
pub fn fetch(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Result<FetchResponse, String> {
    let headers: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    let request = json!({ "method": method, "url": url, "headers": headers, "body": body }).to_string();
    let (ok, answer) = raw_fetch(request.as_bytes());
    if !ok {
        return Err(String::from_utf8_lossy(&answer).into_owned());
    }
    let answer: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
    Ok(FetchResponse {
        status: answer["status"].as_u64().unwrap_or(0) as u16,
        headers: answer["headers"].clone(),
        body: answer["body"].as_str().unwrap_or_default().to_string(),
    })
}

#[cfg(target_arch = "wasm32")]
fn raw_fetch(request: &[u8]) -> (bool, Vec<u8>) {
    let n = unsafe { host_fetch(request.as_ptr(), request.len()) };
    let mut answer = vec![0u8; n.unsigned_abs() as usize];
    unsafe { host_fetch_read(answer.as_mut_ptr(), answer.len()) };
    (n >= 0, answer)
}

#[cfg(not(target_arch = "wasm32"))]
fn raw_fetch(_request: &[u8]) -> (bool, Vec<u8>) {
    (false, b"fetch is only available inside edgewrite".to_vec())
}
