//! Answers with the request it was given and the `APPWRITE_FUNCTION_*` environment, so a
//! caller can check what a function sees. `?status=N` picks the status code.

use serde_json::json;

fn main() {
    let req = edgewrite_function::request();
    edgewrite_function::log(&format!("echo {} {}", req["method"].as_str().unwrap_or(""), req["path"].as_str().unwrap_or("")));
    eprintln!("a line on standard error");
    let env: serde_json::Map<String, serde_json::Value> = std::env::vars()
        .filter(|(k, _)| k.starts_with("APPWRITE_") || k.starts_with("ECHO_"))
        .map(|(k, v)| (k, v.into()))
        .collect();
    let status = req["query"]["status"].as_str().and_then(|s| s.parse().ok()).unwrap_or(200);
    let has_key = req["headers"]["x-appwrite-key"].as_str().is_some_and(|k| !k.is_empty());
    let body = json!({
        "method": req["method"],
        "path": req["path"],
        "queryString": req["queryString"],
        "query": req["query"],
        "headers": req["headers"],
        "bodyText": req["bodyText"],
        "env": env,
        "hasKey": has_key,
    });
    edgewrite_function::respond(status, &[("content-type", "application/json"), ("x-echo", "yes")], &body.to_string());
}
