//! Every target over its committed corpus, then about two seconds of mutations from a fixed
//! seed: the part of the fuzzing `cargo test` (and so `cargo xtask test`) runs.

use std::time::Duration;

use edgewrite_fuzz::{driver, target, Budget};

const SEED: u64 = 24;

fn fuzz_briefly(name: &str) {
    let target = target(name).expect("a target of that name");
    let report = driver::fuzz(target, SEED, Budget { time: Duration::from_secs(2), runs: 200_000 });
    assert!(report.corpus >= 5, "{name}: {} corpus inputs; commit some to corpus/{name}", report.corpus);
    if let Some(crash) = report.crash {
        panic!("{name} failed on {}: {}", crash.input.display(), crash.message);
    }
}

#[test]
fn query_parser_and_sql_compiler() {
    fuzz_briefly("query");
}

#[test]
fn request_parameters() {
    fuzz_briefly("params");
}

#[test]
fn permission_strings() {
    fuzz_briefly("permissions");
}

#[test]
fn content_range_headers() {
    fuzz_briefly("content_range");
}

#[test]
fn cookies_and_fallback_cookies() {
    fuzz_briefly("cookies");
}

#[test]
fn jwts() {
    fuzz_briefly("jwt");
}

#[test]
fn realtime_frames() {
    fuzz_briefly("realtime");
}

#[test]
fn chunked_uploads() {
    fuzz_briefly("upload");
}

#[test]
fn every_target_is_tested_here() {
    let names: Vec<&str> = edgewrite_fuzz::TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        ["query", "params", "permissions", "content_range", "cookies", "jwt", "realtime", "upload"]
    );
}
