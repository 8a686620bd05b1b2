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
