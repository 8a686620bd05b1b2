//! The port conformance suite against the native adapter.

use edgewrite_core::ports::Ports;
use edgewrite_native::{DirBlobs, MapSecrets, MemoryKv, NativeSql, OsRandom, RecordedEvents, SystemClock};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edgewrite-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn native_adapter_passes_the_conformance_suite() {
    let dir = temp_dir("conformance");
    std::fs::create_dir_all(&dir).unwrap();
    let sql = NativeSql::open(&dir.join("db.sqlite")).unwrap();
    let blobs = DirBlobs::new(dir.join("blobs"));
    let kv = MemoryKv::default();
    let events = RecordedEvents::default();
    let secrets = MapSecrets::default();
    let ports = Ports {
        sql: &sql,
        blobs: &blobs,
        kv: &kv,
        clock: &SystemClock,
        random: &OsRandom,
        events: &events,
        secrets: &secrets,
        outbound: &edgewrite_core::ports::NoOutbound,
        jobs: &edgewrite_core::ports::NoJobs,
        offload: &edgewrite_core::ports::Inline,
    };
    let results = futures_executor::block_on(edgewrite_conformance::run(&ports));
    let failed: Vec<_> = results.iter().filter(|r| r.error.is_some()).collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
    assert!(results.len() >= 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn migrations_are_idempotent() {
    let sql = NativeSql::in_memory();
    let first = futures_executor::block_on(edgewrite_sql::migrate(&sql, 1)).unwrap();
    assert_eq!(first, edgewrite_sql::MIGRATIONS.len());
    let second = futures_executor::block_on(edgewrite_sql::migrate(&sql, 2)).unwrap();
    assert_eq!(second, 0);
}

#[test]
fn a_retired_user_or_team_id_cannot_be_taken_again() {
    use edgewrite_core::ports::{Sql, Statement, StoreError, Value};
    let sql = NativeSql::in_memory();
    futures_executor::block_on(edgewrite_sql::migrate(&sql, 1)).unwrap();
    let run = |text: &str, id: &str| {
        let params = vec![Value::from(id), Value::Integer(1), Value::Integer(1), Value::Integer(1)];
        futures_executor::block_on(sql.batch(vec![Statement::new(text, params)]))
    };
    let user = "INSERT INTO users (id, created_at, updated_at, accessed_at) VALUES (?, ?, ?, ?)";
    let team = "INSERT INTO teams (id, name, total, created_at, updated_at) VALUES (?, 'n', ?, ?, ?)";
    let retire = |kind: &str, id: &str| {
        let params = vec![Value::from(kind), Value::from(id), Value::Integer(1)];
        let statement =
            Statement::new("INSERT INTO retired_ids (kind, id, retired_at) VALUES (?, ?, ?)", params);
        futures_executor::block_on(sql.batch(vec![statement])).unwrap();
    };
    retire("user", "gone");
    retire("team", "gone-team");
    assert!(matches!(run(user, "gone"), Err(StoreError::Constraint(_))));
    assert!(matches!(run(team, "gone-team"), Err(StoreError::Constraint(_))));
    // Other ids, and an id retired for the other kind, are free.
    run(user, "gone-team").unwrap();
    run(team, "gone").unwrap();
}
