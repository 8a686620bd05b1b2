//! One conformance suite for the ports (`DESIGN.md` "Ports"), run against every adapter: natively
//! in `cargo test`, and inside workerd and the Spin host through the test-only route
//! `POST /v1/__edgewrite/conformance` (mounted when `EDGEWRITE_TEST_ROUTES=1`, API key only).
//! The same switch mounts `GET /v1/__edgewrite/roles`, which answers the permission roles the
//! caller resolved to, so end-to-end tests can check role resolution before anything enforces it.
//!
//! Cases leave nothing behind and use fresh names, so they can run against persistent state.

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::ports::{ByteRange, Ports, Statement, StoreError, Value};
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};
use serde_json::json;

/// Result of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub name: &'static str,
    pub error: Option<String>,
}

type CaseResultInner = Result<(), String>;

fn check(cond: bool, what: impl Into<String>) -> CaseResultInner {
    if cond {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn err<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{context}: {e}")
}

fn table(ports: &Ports<'_>, stem: &str) -> String {
    format!("_conf_{stem}_{}", edgewrite_core::ids::random_hex(6, ports.random))
}

async fn sql_values_round_trip(ports: &Ports<'_>) -> CaseResultInner {
    let t = table(ports, "values");
    let sql = ports.sql;
    sql.query(Statement::new(
        format!("CREATE TABLE {t} (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)"),
        vec![],
    ))
    .await
    .map_err(err("create"))?;
    let blob: Vec<u8> = (0..=255).collect();
    let text = "héllo \u{1F600} 'quoted' \"double\" \0 nul";
    let big = 9_007_199_254_740_991i64; // 2^53 - 1: the largest integer every runtime keeps exact
    let result = async {
        sql.query(Statement::new(
            format!("INSERT INTO {t} (i, r, s, b, n) VALUES (?, ?, ?, ?, ?)"),
            vec![Value::Integer(big), Value::Real(1.5), text.into(), Value::Blob(blob.clone()), Value::Null],
        ))
        .await
        .map_err(err("insert"))?;
        let rows = sql
            .query(Statement::new(format!("SELECT i, r, s, b, n FROM {t}"), vec![]))
            .await
            .map_err(err("select"))?;
        check(rows.columns == ["i", "r", "s", "b", "n"], format!("columns {:?}", rows.columns))?;
        check(rows.rows.len() == 1, format!("{} rows", rows.rows.len()))?;
        check(
            rows.get(0, "i").and_then(Value::as_i64) == Some(big),
            format!("integer {:?}", rows.get(0, "i")),
        )?;
        check(rows.get(0, "r").and_then(Value::as_f64) == Some(1.5), "real")?;
        check(
            rows.get(0, "s").and_then(Value::as_str) == Some(text),
            format!("text {:?}", rows.get(0, "s")),
        )?;
        check(rows.get(0, "b").and_then(Value::as_bytes) == Some(&blob[..]), "blob")?;
        check(rows.get(0, "n") == Some(&Value::Null), "null")?;
        let empty = sql
            .query(Statement::new(format!("SELECT i FROM {t} WHERE i = ?"), vec![Value::Integer(-1)]))
            .await
            .map_err(err("select none"))?;
        check(empty.rows.is_empty() && empty.columns == ["i"], format!("empty result {empty:?}"))
    }
    .await;
    drop_table(ports, &t).await;
    result
}

async fn drop_table(ports: &Ports<'_>, t: &str) {
    let _ = ports.sql.query(Statement::new(format!("DROP TABLE IF EXISTS {t}"), vec![])).await;
}

async fn sql_batch_is_atomic(ports: &Ports<'_>) -> CaseResultInner {
    let t = table(ports, "atomic");
    let sql = ports.sql;
    sql.query(Statement::new(format!("CREATE TABLE {t} (id TEXT PRIMARY KEY, v INTEGER NOT NULL)"), vec![]))
        .await
        .map_err(err("create"))?;
    let result = async {
        let out = sql
            .batch(vec![
                Statement::new(format!("INSERT INTO {t} VALUES ('a', 1)"), vec![]),
                Statement::new(format!("INSERT INTO {t} VALUES ('b', 2)"), vec![]),
                Statement::new(format!("SELECT count(*) AS c FROM {t}"), vec![]),
            ])
            .await
            .map_err(err("first batch"))?;
        check(out.len() == 3, "one result per statement")?;
        check(out[0].changes == 1, format!("insert changes {}", out[0].changes))?;
        check(out[2].get(0, "c").and_then(Value::as_i64) == Some(2), "batch sees its own writes")?;

        // The second statement violates the primary key: the first must not survive.
        let failed = sql
            .batch(vec![
                Statement::new(format!("INSERT INTO {t} VALUES ('c', 3)"), vec![]),
                Statement::new(format!("INSERT INTO {t} VALUES ('a', 4)"), vec![]),
            ])
            .await;
        check(
            matches!(failed, Err(StoreError::Constraint(_))),
            format!("duplicate key should be a constraint error, got {failed:?}"),
        )?;

        // A guard that does not hold rolls back the whole batch.
        let guarded = sql
            .batch(vec![
                Statement::new(format!("UPDATE {t} SET v = 10 WHERE id = 'a'"), vec![]),
                Statement::new(format!("UPDATE {t} SET v = 20 WHERE id = 'zz'"), vec![]).expect_changes(1),
            ])
            .await;
        check(
            matches!(guarded, Err(StoreError::GuardFailed { statement: 1, expected: 1, actual: 0 })),
            format!("guard should fail on statement 1, got {guarded:?}"),
        )?;
        let held = sql
            .batch(vec![Statement::new(format!("UPDATE {t} SET v = v + 1 WHERE id IN ('a', 'b')"), vec![])
                .expect_changes(2)])
            .await
            .map_err(err("holding guard"))?;
        check(held[0].changes == 2, "update changes")?;

        let rows = sql
            .query(Statement::new(format!("SELECT id, v FROM {t} ORDER BY id"), vec![]))
            .await
            .map_err(err("final select"))?;
        let got: Vec<(String, i64)> = rows
            .rows
            .iter()
            .map(|r| (r[0].as_str().unwrap_or("?").to_string(), r[1].as_i64().unwrap_or(-1)))
            .collect();
        check(
            got == [("a".to_string(), 2), ("b".to_string(), 3)],
            format!("state after failed batches: {got:?}"),
        )
    }
    .await;
    drop_table(ports, &t).await;
    result
}

async fn sql_errors_are_classified(ports: &Ports<'_>) -> CaseResultInner {
    let bad = ports.sql.query(Statement::new("SELEC nonsense", vec![])).await;
    check(matches!(bad, Err(StoreError::Invalid(_))), format!("syntax error: {bad:?}"))?;
    let missing = ports.sql.query(Statement::new("SELECT * FROM _conf_no_such_table", vec![])).await;
    check(matches!(missing, Err(StoreError::Invalid(_))), format!("missing table: {missing:?}"))
}

async fn blobs_round_trip(ports: &Ports<'_>) -> CaseResultInner {
    let key = format!("_conformance/{}/file name.bin", edgewrite_core::ids::random_hex(6, ports.random));
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let blobs = ports.blobs;
    check(blobs.get(&key, None).await.map_err(err("get absent"))?.is_none(), "absent blob is None")?;
    blobs.put(&key, data.clone()).await.map_err(err("put"))?;
    let result = async {
        let whole = blobs.get(&key, None).await.map_err(err("get"))?;
        check(whole.as_deref() == Some(&data[..]), "whole blob")?;
        let part = blobs.get(&key, Some(ByteRange { start: 10, end: 20 })).await.map_err(err("range"))?;
        check(part.as_deref() == Some(&data[10..20]), "range")?;
        let tail = blobs
            .get(&key, Some(ByteRange { start: 69_990, end: 80_000 }))
            .await
            .map_err(err("tail range"))?;
        check(tail.as_deref() == Some(&data[69_990..]), "range clamped to size")?;
        blobs.put(&key, b"replaced".to_vec()).await.map_err(err("overwrite"))?;
        let replaced = blobs.get(&key, None).await.map_err(err("get replaced"))?;
        check(replaced.as_deref() == Some(&b"replaced"[..]), "overwrite replaces")
    }
    .await;
    blobs.delete(&key).await.map_err(err("delete"))?;
    blobs.delete(&key).await.map_err(err("delete absent"))?;
    check(blobs.get(&key, None).await.map_err(err("get deleted"))?.is_none(), "deleted blob is gone")?;
    result
}

async fn kv_round_trip(ports: &Ports<'_>) -> CaseResultInner {
    let key = format!("_conformance:{}", edgewrite_core::ids::random_hex(6, ports.random));
    let kv = ports.kv;
    check(kv.get(&key).await.map_err(err("get absent"))?.is_none(), "absent key is None")?;
    kv.put(&key, b"v1".to_vec(), None).await.map_err(err("put"))?;
    check(kv.get(&key).await.map_err(err("get"))?.as_deref() == Some(&b"v1"[..]), "value")?;
    kv.put(&key, b"v2".to_vec(), Some(3600)).await.map_err(err("put ttl"))?;
    check(kv.get(&key).await.map_err(err("get ttl"))?.as_deref() == Some(&b"v2"[..]), "value with ttl")?;
    kv.delete(&key).await.map_err(err("delete"))?;
    check(kv.get(&key).await.map_err(err("get deleted"))?.is_none(), "deleted key is gone")
}

async fn clock_and_random(ports: &Ports<'_>) -> CaseResultInner {
    let now = ports.clock.now_ms();
    check(now > 1_700_000_000_000, format!("clock looks wrong: {now}"))?;
    let mut a = [0u8; 16];
    let mut b = [0u8; 16];
    ports.random.fill(&mut a);
    ports.random.fill(&mut b);
    check(a != b && a != [0; 16], "random bytes repeat")
}

/// Runs every case and reports each one.
pub async fn run(ports: &Ports<'_>) -> Vec<CaseResult> {
    let mut out = Vec::new();
    macro_rules! case {
        ($f:ident) => {
            out.push(CaseResult { name: stringify!($f), error: $f(ports).await.err() });
        };
    }
    case!(sql_values_round_trip);
    case!(sql_batch_is_atomic);
    case!(sql_errors_are_classified);
    case!(blobs_round_trip);
    case!(kv_round_trip);
    case!(clock_and_random);
    out
}

/// The test-only routes: the suite inside a real runtime, and the caller's roles.
pub struct TestRoutes;

static ROUTES: &[Route] = &[
    Route {
        method: Method::Post,
        path: "/v1/__edgewrite/conformance",
        scope: Some("health.read"),
        needs_project: true,
        name: "conformance.run",
    },
    Route {
        method: Method::Get,
        path: "/v1/__edgewrite/roles",
        scope: None,
        needs_project: true,
        name: "roles",
    },
    Route {
        method: Method::Get,
        path: "/v1/__edgewrite/stored-file",
        scope: Some("health.read"),
        needs_project: true,
        name: "stored-file",
    },
    // Where the isolate's linear memory stands: answered by whoever serves the route, the
    // Worker for the first (no project state), the project's object for the second.
    Route {
        method: Method::Get,
        path: "/v1/__edgewrite/memory",
        scope: None,
        needs_project: false,
        name: "memory",
    },
    Route {
        method: Method::Get,
        path: "/v1/__edgewrite/memory/project",
        scope: None,
        needs_project: true,
        name: "memory",
    },
];

/// The size of this instance's wasm linear memory, in bytes (0 off wasm).
fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// The bytes a file's chunks occupy in the blob store, as stored (compressed, encrypted):
/// tests check that nothing of a file in an encrypting bucket is stored in the clear.
async fn stored_file(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let bucket = ctx.params.required_text("bucketId", 36)?;
    let file = ctx.params.required_text("fileId", 36)?;
    let rows = ctx
        .ports
        .sql
        .query(edgewrite_core::ports::Statement::new(
            "SELECT f.blobs, c.idx FROM files f JOIN buckets b ON b.seq = f.bucket_seq
             JOIN file_chunks c ON c.file_seq = f.seq WHERE b.id = ? AND f.id = ? ORDER BY c.idx",
            vec![bucket.into(), file.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let mut body = Vec::new();
    for row in &rows.rows {
        let (Some(blobs), Some(idx)) =
            (row.first().and_then(|v| v.as_str()), row.get(1).and_then(|v| v.as_i64()))
        else {
            continue;
        };
        let stored = ctx
            .ports
            .blobs
            .get(&format!("files/{blobs}/{idx}"), None)
            .await
            .map_err(AppwriteError::internal)?;
        body.extend(stored.unwrap_or_default());
    }
    let mut response = Response::new(200);
    response.headers.set("content-type", "application/octet-stream");
    response.body = body;
    Ok(response)
}

#[async_trait(?Send)]
impl Capability for TestRoutes {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        if !ctx.config.test_routes {
            return Err(ErrorType::GeneralRouteNotFound.into());
        }
        if route.name == "roles" {
            return Ok(Response::json(200, &json!({ "roles": ctx.caller.roles() })));
        }
        if route.name == "stored-file" {
            return stored_file(ctx).await;
        }
        if route.name == "memory" {
            return Ok(Response::json(200, &json!({ "wasmBytes": wasm_memory_bytes() })));
        }
        let results = run(&ctx.ports).await;
        let cases: Vec<_> = results
            .iter()
            .map(|r| json!({"name": r.name, "passed": r.error.is_none(), "error": r.error}))
            .collect();
        Ok(Response::json(200, &json!({ "cases": cases })))
    }
}
