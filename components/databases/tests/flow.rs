//! The databases capability in-process over the native adapter: realtime events of writes, and
//! the document-security rules, without a runtime.

use edgewrite_core::{Capability, Method, Request};
use edgewrite_native::{MapSecrets, NativeRuntime};
use serde_json::{json, Value};

const KEY: &str = "standard_k";

fn runtime(name: &str) -> NativeRuntime {
    let dir = std::env::temp_dir().join(format!("edgewrite-databases-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let secrets = MapSecrets(
        [("EDGEWRITE_PROJECTS", "p"), ("EDGEWRITE_API_KEY", KEY)]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    );
    NativeRuntime::new(dir, secrets)
}

fn call(rt: &NativeRuntime, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = Request::from_url(method, &format!("http://127.0.0.1/v1{path}")).unwrap();
    req.headers.set("x-appwrite-project", "p");
    req.headers.set("x-appwrite-key", KEY);
    req.headers.set("content-type", "application/json");
    req.body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let caps: [&dyn Capability; 2] = [&edgewrite_databases::Databases, &edgewrite_databases::TablesDb];
    let config = edgewrite_core::Config::from_secrets(edgewrite_core::Runtime::secrets(rt));
    let resp = futures_executor::block_on(edgewrite_core::serve(
        &req,
        &config,
        rt,
        &caps,
        Some(&edgewrite_account::AccountAuthenticator),
    ));
    (resp.status, serde_json::from_slice(&resp.body).unwrap_or(Value::Null))
}

#[test]
fn every_document_write_publishes_an_event_with_its_names_channels_and_read_roles() {
    let rt = runtime("events");
    assert_eq!(call(&rt, Method::Post, "/databases", Some(json!({"databaseId": "db", "name": "db"}))).0, 201);
    let collection = json!({"collectionId": "c", "name": "c", "permissions": ["read(\"users\")"], "documentSecurity": true});
    assert_eq!(call(&rt, Method::Post, "/databases/db/collections", Some(collection)).0, 201);
    let attribute = json!({"key": "title", "size": 32, "required": false});
    assert_eq!(
        call(&rt, Method::Post, "/databases/db/collections/c/attributes/string", Some(attribute)).0,
        202
    );
    let doc = json!({"documentId": "d1", "data": {"title": "hi"}, "permissions": ["read(\"user:u1\")"]});
    assert_eq!(call(&rt, Method::Post, "/databases/db/collections/c/documents", Some(doc)).0, 201);
    assert_eq!(
        call(&rt, Method::Patch, "/tablesdb/db/tables/c/rows/d1", Some(json!({"data": {"title": "ho"}}))).0,
        200
    );
    assert_eq!(call(&rt, Method::Delete, "/databases/db/collections/c/documents/d1", None).0, 204);

    let events = rt.events.0.borrow();
    assert_eq!(events.len(), 3);
    let create = &events[0];
    for name in [
        "databases.db.collections.c.documents.d1.create",
        "databases.*.collections.*.documents.*.create",
        "tablesdb.db.tables.c.rows.d1.create",
        "databases.db",
    ] {
        assert!(create.names.iter().any(|n| n == name), "{name}");
    }
    for channel in
        ["documents", "databases.db.collections.c.documents.d1", "tablesdb.db.tables.c.rows.create", "rows"]
    {
        assert!(create.channels.iter().any(|c| c == channel), "{channel}");
    }
    assert_eq!(create.roles, ["users", "user:u1"], "collection read roles, then the document's");
    assert_eq!(create.payload["title"], "hi");
    assert!(events[1].names.iter().any(|n| n == "databases.db.collections.c.documents.d1.update"));
    assert!(events[2].names.iter().any(|n| n == "databases.db.collections.c.documents.d1.delete"));
}
