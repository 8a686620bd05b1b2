//! Calls its project's API with the execution's key: the body is `{"method", "path", "body"}`
//! (the path under `/v1`), and the answer is the API's status and body.
fn main() {
    let req = edgewrite_function::request();
    let call: serde_json::Value = serde_json::from_str(req["bodyText"].as_str().unwrap_or("")).unwrap_or_default();
    let endpoint = std::env::var("APPWRITE_FUNCTION_API_ENDPOINT").unwrap_or_default();
    let project = std::env::var("APPWRITE_FUNCTION_PROJECT_ID").unwrap_or_default();
    let key = req["headers"]["x-appwrite-key"].as_str().unwrap_or_default();
    let url = format!("{endpoint}{}", call["path"].as_str().unwrap_or("/"));
    let body = match &call["body"] {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let headers = [("content-type", "application/json"), ("x-appwrite-project", project.as_str()), ("x-appwrite-key", key)];
    match edgewrite_function::fetch(call["method"].as_str().unwrap_or("GET"), &url, &headers, &body) {
        Ok(answer) => edgewrite_function::respond(answer.status, &[("content-type", "application/json")], &answer.body),
        Err(reason) => edgewrite_function::respond(502, &[], &reason),
    }
}
