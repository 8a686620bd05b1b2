//! Creates a document from the request body `{"databaseId", "collectionId", "data"}` through
//! the project's own API, with the short-lived key edgewrite hands each execution in
//! `x-appwrite-key` (it carries the function's `scopes`), and answers with the new document.

use serde_json::json;

fn main() {
    let req = edgewrite_function::request();
    let input: serde_json::Value = serde_json::from_str(req["bodyText"].as_str().unwrap_or("")).unwrap_or_default();
    let (Some(database), Some(collection)) = (input["databaseId"].as_str(), input["collectionId"].as_str()) else {
        edgewrite_function::respond(400, &[], "send {\"databaseId\", \"collectionId\", \"data\"}");
        return;
    };
    let endpoint = std::env::var("APPWRITE_FUNCTION_API_ENDPOINT").unwrap_or_default();
    let project = std::env::var("APPWRITE_FUNCTION_PROJECT_ID").unwrap_or_default();
    let key = req["headers"]["x-appwrite-key"].as_str().unwrap_or_default();
    let url = format!("{endpoint}/databases/{database}/collections/{collection}/documents");
    let body = json!({ "documentId": "unique()", "data": input["data"] }).to_string();
    let headers = [("content-type", "application/json"), ("x-appwrite-project", project.as_str()), ("x-appwrite-key", key)];
    match edgewrite_function::fetch("POST", &url, &headers, &body) {
        Ok(answer) => {
            edgewrite_function::log(&format!("create document: {}", answer.status));
            edgewrite_function::respond(answer.status, &[("content-type", "application/json")], &answer.body);
        }
        Err(reason) => {
            eprintln!("fetch refused: {reason}");
            edgewrite_function::respond(502, &[], &reason);
        }
    }
}
