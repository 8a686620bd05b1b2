//! Target `params`: a request's parameters (`edgewrite_core::params::Params::from_request`):
//! query strings with indexed arrays, JSON, `multipart/form-data` and urlencoded bodies.
//!
//! Input: the `Content-Type` header on the first line, the query string on the second, the
//! body after that (raw bytes, CRLFs kept).
//!
//! Properties: never panics; the route's path slot wins over any parameter of the same name;
//! without a body (only the query string), no array holds more than `max_array_items` items;
//! every typed accessor answers a value or an error for every parameter, without panicking.

use edgewrite_core::http::{Method, Request};
use edgewrite_core::params::Params;
use edgewrite_core::Limits;
use serde_json::Value;

use crate::Target;

pub const TARGET: Target = Target {
    name: "params",
    run,
    dictionary: &[
        "application/json",
        "multipart/form-data; boundary=",
        "application/x-www-form-urlencoded",
        "Content-Disposition: form-data; name=",
        "; filename=",
        "Content-Type: ",
        "\r\n\r\n",
        "\r\n--",
        "--\r\n",
        "queries[]",
        "queries[0]",
        "queries%5B1%5D",
        "permissions[]",
        "[]",
        "[18446744073709551615]",
        "%5B",
        "%5D",
        "%",
        "+",
        "&",
        "=",
        "bucketId",
        "null",
        "true",
        "{}",
    ],
    max_len: 64 * 1024,
};

/// Small, so arrays reach the limit often.
const MAX_ARRAY_ITEMS: usize = 8;

fn run(input: &[u8]) {
    let (content_type, rest) = split_line(input);
    let (query, body) = split_line(rest);
    let Ok(mut req) = Request::from_url(Method::Post, "http://h/v1/storage/buckets/b1/files") else { return };
    req.query = String::from_utf8_lossy(query).into_owned();
    if !content_type.is_empty() {
        req.headers.set("content-type", String::from_utf8_lossy(content_type));
    }
    req.body = body.to_vec();
    let limits = Limits { max_array_items: MAX_ARRAY_ITEMS, ..Limits::default() };
    let Ok(params) = Params::from_request(&req, vec![("bucketId".into(), "b1".into())], &limits) else {
        return;
    };
    assert_eq!(params.path("bucketId"), Some("b1"));
    assert_eq!(params.raw("bucketId"), Some(&Value::String("b1".into())), "the path slot wins");
    let names: Vec<String> = params.names().map(str::to_string).collect();
    for name in &names {
        if body.is_empty() {
            if let Some(Value::Array(items)) = params.raw(name) {
                assert!(items.len() <= MAX_ARRAY_ITEMS, "{name} holds {} items", items.len());
            }
        }
        let _ = params.text(name, 36);
        let _ = params.required_text(name, usize::MAX);
        let _ = params.boolean(name);
        let _ = params.integer(name, i64::MIN, i64::MAX);
        let _ = params.integer(name, 1, 100);
        let _ = params.string_array(name, 4096, &limits);
        let _ = params.object(name);
        let _ = params.file(name);
    }
}

/// The bytes before the first `\n` (without a trailing `\r`), and those after it.
fn split_line(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => (input[..i].strip_suffix(b"\r").unwrap_or(&input[..i]), &input[i + 1..]),
        None => (input, &[]),
    }
}
