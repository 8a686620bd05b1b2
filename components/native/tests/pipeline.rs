//! The request pipeline in-process: health routes, error shapes, CORS, projects and keys.

use edgewrite_core::{Capability, Method, Request, Response};
use edgewrite_native::{MapSecrets, NativeRuntime};
use serde_json::Value;

const KEY: &str = "standard_testkey";

fn runtime() -> NativeRuntime {
    let dir = std::env::temp_dir().join(format!(
        "edgewrite-pipeline-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let secrets = MapSecrets(
        [
            ("EDGEWRITE_PROJECTS", "p1"),
            ("EDGEWRITE_API_KEY", KEY),
            ("EDGEWRITE_ALLOWED_ORIGINS", "http://app.test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    NativeRuntime::new(dir, secrets)
}

fn call(method: Method, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut req = Request::from_url(method, &format!("http://127.0.0.1{path}")).unwrap();
    for (k, v) in headers {
        req.headers.append(k, *v);
    }
    req.body = body.to_vec();
    let rt = runtime();
    let caps: [&dyn Capability; 2] = [&edgewrite_health::Health, &edgewrite_conformance::TestRoutes];
    let config = edgewrite_core::Config::from_secrets(edgewrite_core::Runtime::secrets(&rt));
    futures_executor::block_on(edgewrite_core::serve(&req, &config, &rt, &caps, None))
}

fn json(r: &Response) -> Value {
    assert!(r.headers.get("content-type").unwrap().starts_with("application/json"), "{r:?}");
    serde_json::from_slice(&r.body).unwrap()
}

fn assert_error(r: &Response, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let body = json(r);
    assert_eq!(body["type"], kind);
    assert_eq!(body["code"], status);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["version"].is_string());
}

#[test]
fn ping_answers_pong_for_a_known_project() {
    let r = call(Method::Get, "/v1/ping", &[("x-appwrite-project", "p1")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Pong!");
    assert_error(&call(Method::Get, "/v1/ping", &[], b""), 404, "project_not_found");
    assert_error(
        &call(Method::Get, "/v1/ping", &[("x-appwrite-project", "nope")], b""),
        404,
        "project_not_found",
    );
}

#[test]
fn health_needs_a_key_and_reports_pass() {
    let guest = call(Method::Get, "/v1/health", &[("x-appwrite-project", "p1")], b"");
    assert_error(&guest, 401, "general_unauthorized_scope");
    assert_eq!(json(&guest)["message"], "User (role: guests) missing scopes ([\"health.read\"])");
    let h = [("x-appwrite-project", "p1"), ("x-appwrite-key", KEY)];
    assert_eq!(json(&call(Method::Get, "/v1/health", &h, b""))["status"], "pass");
    let db = json(&call(Method::Get, "/v1/health/db", &h, b""));
    assert_eq!(db["total"], 1);
    assert_eq!(db["statuses"][0]["status"], "pass");
    assert_eq!(json(&call(Method::Get, "/v1/health/storage", &h, b""))["status"], "pass");
    assert_eq!(json(&call(Method::Get, "/v1/health/time", &h, b""))["diff"], 0);
    assert!(json(&call(Method::Get, "/v1/health/version", &[], b""))["version"].is_string());
}

#[test]
fn wrong_keys_are_refused_not_downgraded() {
    let r = call(
        Method::Get,
        "/v1/health",
        &[("x-appwrite-project", "p1"), ("x-appwrite-key", "standard_wrong")],
        b"",
    );
    assert_error(&r, 401, "user_unauthorized");
    let r =
        call(Method::Get, "/v1/health", &[("x-appwrite-project", "p1"), ("x-appwrite-key", "wrong")], b"");
    assert_error(&r, 401, "user_unauthorized");
}

#[test]
fn unknown_routes_and_methods_are_404_json() {
    assert_error(
        &call(Method::Get, "/v1/nope", &[("x-appwrite-project", "p1")], b""),
        404,
        "general_route_not_found",
    );
    assert_error(
        &call(Method::Delete, "/v1/ping", &[("x-appwrite-project", "p1")], b""),
        404,
        "general_route_not_found",
    );
    assert_error(&call(Method::Get, "/", &[], b""), 404, "general_route_not_found");
}

#[test]
fn bad_and_oversized_bodies_get_appwrite_errors() {
    let h = [("x-appwrite-project", "p1"), ("x-appwrite-key", KEY), ("content-type", "application/json")];
    assert_error(
        &call(Method::Post, "/v1/__edgewrite/conformance", &h, b"{\"a\":"),
        400,
        "general_argument_invalid",
    );
    let big = vec![b' '; 6 * 1024 * 1024 + 1];
    assert_error(
        &call(Method::Post, "/v1/__edgewrite/conformance", &h, &big),
        413,
        "general_payload_too_large",
    );
}

#[test]
fn cors_echoes_allowed_origins_and_refuses_others() {
    let pre = call(Method::Options, "/v1/account", &[("origin", "http://app.test")], b"");
    assert_eq!(pre.status, 204);
    assert_eq!(pre.headers.get("access-control-allow-origin"), Some("http://app.test"));
    assert!(pre.headers.get("access-control-allow-headers").unwrap().contains("X-Fallback-Cookies"));
    let ok =
        call(Method::Get, "/v1/ping", &[("x-appwrite-project", "p1"), ("origin", "http://app.test")], b"");
    assert_eq!(ok.headers.get("access-control-allow-origin"), Some("http://app.test"));
    assert_eq!(ok.headers.get("access-control-allow-credentials"), Some("true"));
    assert!(ok.headers.get("access-control-expose-headers").unwrap().contains("X-Fallback-Cookies"));
    let evil =
        call(Method::Get, "/v1/ping", &[("x-appwrite-project", "p1"), ("origin", "http://evil.test")], b"");
    assert_error(&evil, 403, "general_unknown_origin");
    assert_eq!(evil.headers.get("access-control-allow-origin"), None);
}

#[test]
fn conformance_route_is_hidden_unless_enabled() {
    let h = [("x-appwrite-project", "p1"), ("x-appwrite-key", KEY)];
    assert_error(&call(Method::Post, "/v1/__edgewrite/conformance", &h, b""), 404, "general_route_not_found");
}
