//! `cargo xtask soak --minutes N`: the Worker in workerd under a steady mixed workload for N
//! minutes (tests/soak/soak.mjs drives it and checks every acknowledged write afterwards) while
//! the server's resident memory is sampled; the report goes to target/soak/report.json.
//!
//! It fails on any 5xx (or request without an answer), any lost or duplicated write or delivery,
//! and when memory is not flat after warm-up: the mean RSS of the second half of the samples
//! taken after the warm-up exceeds the first half's by more than [`MAX_GROWTH_PCT`].

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{build, generate_key, repo_root, server, step, tools, Runtime};

const DEFAULT_MINUTES: u64 = 10;
/// How often the server's RSS is read during the load.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples before this much of the load are warm-up (caches and the database filling): the
/// first 2 minutes, or the first 20% of a shorter run.
const WARM_UP_MAX_SECS: f64 = 120.0;
const WARM_UP_SHARE: f64 = 0.2;
/// Most growth of the mean RSS from the first half of the post-warm-up samples to the second.
const MAX_GROWTH_PCT: f64 = 15.0;
/// Time the script gets beyond the load for set-up and checks before it is stopped.
const SLACK_SECS: u64 = 900;

/// One reading of the server's resident memory, `t_s` seconds into the load.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    t_s: f64,
    kib: u64,
}

/// `cargo xtask soak [--minutes N]`.
pub(crate) fn soak(args: &[String]) -> Result<()> {
    let minutes = parse_minutes(args)?;
    let tools = tools::ensure(false)?;
    build::worker(&tools)?;
    let examples = build::function_examples()?;
    let run_dir = repo_root().join("target/soak");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;
    let key = generate_key()?;
    let port = server::free_port()?;
    // SMS go to the Twilio stand-in (tests/e2e/providers.mjs), which the script starts here.
    let providers_port = server::port_for_later()?.to_string();
    let providers_origin = format!("http://127.0.0.1:{providers_port}");
    let providers_urls = format!("twilio={providers_origin}");
    let vars = [
        ("EDGEWRITE_PROJECTS", "soak"),
        ("EDGEWRITE_API_KEY", key.as_str()),
        // Sign-ups and logins at soak rates would trip the per-address limits.
        ("EDGEWRITE_ABUSE_LIMITS", "off"),
        // Each worker and subscriber names its own client address, as behind a proxy.
        ("EDGEWRITE_TRUSTED_CLIENT_IP_HEADER", "x-forwarded-for"),
        ("EDGEWRITE_MESSAGING_BASE_URLS", providers_urls.as_str()),
        ("EDGEWRITE_MESSAGING_ORIGIN", providers_origin.as_str()),
    ];
    step(&format!("starting workerd (fresh state) on 127.0.0.1:{port}"));
    let server = Runtime::Workerd.start(
        &tools,
        port,
        &run_dir.join("state"),
        &vars,
        &run_dir.join("server.log"),
        false,
    )?;
    step(&format!(
        "soak: {minutes} min of mixed load (tests/soak/soak.mjs), RSS every {} s",
        SAMPLE_EVERY.as_secs()
    ));
    let mut child = Command::new(&tools.test_node)
        .arg("soak/soak.mjs")
        .current_dir(repo_root().join("tests"))
        .env("EDGEWRITE_ENDPOINT", server.endpoint())
        .env("EDGEWRITE_PROJECT_ID", "soak")
        .env("EDGEWRITE_API_KEY", &key)
        .env("EDGEWRITE_TEST_PROVIDERS_PORT", &providers_port)
        .env("EDGEWRITE_FUNCTION_EXAMPLES", &examples)
        .env("EDGEWRITE_SOAK_MINUTES", minutes.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting tests/soak/soak.mjs")?;
    let stdout = child.stdout.take().context("the script's stdout")?;
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    // The script says when the load starts and stops; the memory is read in between.
    let deadline = Instant::now() + Duration::from_secs(minutes * 60 + SLACK_SECS);
    let mut load: Option<Instant> = None;
    let mut next_sample: Option<Instant> = None;
    let mut samples: Vec<Sample> = Vec::new();
    let mut server_gone = false;
    let mut take_sample = |start: Instant, samples: &mut Vec<Sample>| match server::rss_kib(server.pid()) {
        Some(kib) => samples.push(Sample { t_s: start.elapsed().as_secs_f64(), kib }),
        None => server_gone = true,
    };
    let mut report: Option<Value> = None;
    loop {
        let wait =
            next_sample.map_or(Duration::from_secs(1), |at| at.saturating_duration_since(Instant::now()));
        match lines.recv_timeout(wait) {
            Ok(line) => match serde_json::from_str::<Value>(&line) {
                Ok(v) if v["phase"] == "load" => {
                    let start = Instant::now();
                    load = Some(start);
                    take_sample(start, &mut samples);
                    next_sample = Some(start + SAMPLE_EVERY);
                }
                Ok(v) if v["phase"] == "check" => {
                    if let Some(start) = load {
                        if samples.last().is_none_or(|s| start.elapsed().as_secs_f64() - s.t_s >= 5.0) {
                            take_sample(start, &mut samples);
                        }
                    }
                    next_sample = None;
                }
                Ok(v) if v.get("per_minute").is_some() => report = Some(v),
                _ => println!("{line}"),
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let (Some(start), Some(at)) = (load, next_sample) {
            if Instant::now() >= at {
                take_sample(start, &mut samples);
                next_sample = Some(at + SAMPLE_EVERY);
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!(
                "the soak script did not finish within {} s of its load; logs in {}",
                SLACK_SECS,
                run_dir.display()
            );
        }
    }
    let status = child.wait()?;
    drop(server);
    let Some(mut report) = report else {
        bail!("tests/soak/soak.mjs ended without a report ({status}); server log in {}", run_dir.display());
    };

    let load_secs = report["load_seconds"].as_f64().unwrap_or(minutes as f64 * 60.0);
    let memory = growth(&samples, load_secs);
    let mut failures: Vec<String> = report["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(String::from))
        .collect();
    if server_gone {
        failures.push("the server was gone when its memory was read".into());
    }
    match &memory {
        Some(m) if m.growth_pct > MAX_GROWTH_PCT => failures
            .push(format!("memory grew {:.1}% after warm-up (more than {MAX_GROWTH_PCT}%)", m.growth_pct)),
        Some(_) => {}
        None => failures.push("too few memory samples after warm-up to compare".into()),
    }
    report["rss_samples"] =
        samples.iter().map(|s| json!({"t_s": (s.t_s * 10.0).round() / 10.0, "kib": s.kib})).collect();
    report["memory"] = match &memory {
        Some(m) => json!({
            "warm_up_s": (m.warm_up_s * 10.0).round() / 10.0, "first_half_mean_kib": m.first_mean_kib.round(),
            "second_half_mean_kib": m.second_mean_kib.round(), "growth_pct": (m.growth_pct * 10.0).round() / 10.0,
            "max_growth_pct": MAX_GROWTH_PCT,
        }),
        None => json!({"max_growth_pct": MAX_GROWTH_PCT}),
    };
    report["failures"] = json!(failures);
    report["passed"] = json!(failures.is_empty());
    let dest = run_dir.join("report.json");
    std::fs::write(&dest, serde_json::to_string_pretty(&report)?)?;
    print_summary(&report, &samples, memory.as_ref());
    println!("wrote {}", dest.display());
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    Ok(())
}

/// `[]` (the default), `--minutes N` or `--minutes=N`, N ≥ 1.
fn parse_minutes(args: &[String]) -> Result<u64> {
    let value = match args {
        [] => return Ok(DEFAULT_MINUTES),
        [flag, n] if flag == "--minutes" => n.as_str(),
        [one] => match one.strip_prefix("--minutes=") {
            Some(n) => n,
            None => bail!("usage: cargo xtask soak [--minutes N]"),
        },
        _ => bail!("usage: cargo xtask soak [--minutes N]"),
    };
    match value.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => bail!("--minutes takes a whole number of minutes, 1 or more (not {value:?})"),
    }
}

/// Memory after warm-up: the mean RSS of the first and second halves of the later samples.
#[derive(Debug, PartialEq)]
struct Growth {
    warm_up_s: f64,
    first_mean_kib: f64,
    second_mean_kib: f64,
    growth_pct: f64,
}

/// `None` with fewer than two samples after the warm-up of a `load_secs` run (an odd middle
/// sample belongs to neither half).
fn growth(samples: &[Sample], load_secs: f64) -> Option<Growth> {
    let warm_up_s = WARM_UP_MAX_SECS.min(WARM_UP_SHARE * load_secs);
    let after: Vec<f64> = samples.iter().filter(|s| s.t_s >= warm_up_s).map(|s| s.kib as f64).collect();
    let half = after.len() / 2;
    if half == 0 {
        return None;
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let first_mean_kib = mean(&after[..half]);
    let second_mean_kib = mean(&after[after.len() - half..]);
    Some(Growth {
        warm_up_s,
        first_mean_kib,
        second_mean_kib,
        growth_pct: (second_mean_kib - first_mean_kib) / first_mean_kib * 100.0,
    })
}

fn print_summary(report: &Value, samples: &[Sample], memory: Option<&Growth>) {
    // A JSON number as one that table widths apply to.
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let totals = &report["totals"];
    println!(
        "soak: {} min, {} workers, {} requests, {} executions",
        report["minutes"], report["workers"], totals["requests"], totals["executions"]
    );
    println!("{:>6} {:>9} {:>5} {:>9} {:>9}", "minute", "requests", "5xx", "p50 ms", "p99 ms");
    for m in report["per_minute"].as_array().into_iter().flatten() {
        println!(
            "{:>6} {:>9} {:>5} {:>9.1} {:>9.1}",
            n(&m["minute"]),
            n(&m["requests"]),
            n(&m["status5xx"]),
            m["p50_ms"].as_f64().unwrap_or(0.0),
            m["p99_ms"].as_f64().unwrap_or(0.0)
        );
    }
    println!("{:<13} {:>8} {:>8} {:>9} {:>9}", "operation", "requests", "ok", "p50 ms", "p99 ms");
    for (op, s) in report["operations"].as_object().into_iter().flatten() {
        println!(
            "{op:<13} {:>8} {:>8} {:>9.1} {:>9.1}",
            n(&s["requests"]),
            n(&s["ok"]),
            s["p50_ms"].as_f64().unwrap_or(0.0),
            s["p99_ms"].as_f64().unwrap_or(0.0)
        );
    }
    let c = &report["checks"];
    println!(
        "users: {} signed up, server total {}; documents: {} created, server total {}, {} lost updates; files: {} uploaded, server total {}",
        c["users"]["acknowledged"],
        c["users"]["server_total"],
        c["documents"]["acknowledged"],
        c["documents"]["server_total"],
        c["documents"]["lost_updates"],
        c["files"]["acknowledged"],
        c["files"]["server_total"]
    );
    println!(
        "messages: {} created, {} sent, {} of {} deliveries reached the stand-in",
        c["messages"]["acknowledged"],
        c["messages"]["sent"],
        c["messages"]["deliveries_received"],
        c["messages"]["deliveries_expected"]
    );
    for (i, r) in c["realtime"].as_array().into_iter().flatten().enumerate() {
        println!(
            "realtime subscriber {}: {} create events, {} update events, {} lost, {} extra",
            i + 1,
            r["received_creates"],
            r["received_updates"],
            r["lost"],
            r["extra"]
        );
    }
    println!(
        "5xx: {}, no answer: {}, unexpected status: {}, mismatched: {}, lost: {}, extra: {}",
        totals["status_5xx"],
        totals["no_answer"],
        totals["unexpected"],
        totals["mismatched"],
        totals["lost"],
        totals["extra"]
    );
    let mib = |kib: f64| kib / 1024.0;
    let readings: Vec<String> =
        samples.iter().map(|s| format!("{:.0}s {:.1}", s.t_s, mib(s.kib as f64))).collect();
    println!("RSS (MiB): {}", readings.join(", "));
    if let Some(m) = memory {
        println!(
            "memory after {:.0} s of warm-up: {:.1} → {:.1} MiB, {:+.1}% (limit {MAX_GROWTH_PCT}%)",
            m.warm_up_s,
            mib(m.first_mean_kib),
            mib(m.second_mean_kib),
            m.growth_pct
        );
    }
    for p in report["problems"].as_array().into_iter().flatten().take(10) {
        println!("  problem: {p}");
    }
    match report["failures"].as_array().filter(|f| !f.is_empty()) {
        Some(failures) => println!(
            "soak FAILED: {}",
            failures.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")
        ),
        None => println!("soak passed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(kib: &[u64]) -> Vec<Sample> {
        kib.iter().enumerate().map(|(i, &kib)| Sample { t_s: i as f64 * 10.0, kib }).collect()
    }

    #[test]
    fn growth_compares_the_halves_after_warm_up() {
        // 10 minutes: the first 2 are warm-up (t < 120 s), then 48 samples, flat then 10% up.
        let mut kib = vec![50_000; 12];
        kib.extend([100_000; 24]);
        kib.extend([110_000; 24]);
        let g = growth(&samples(&kib), 600.0).unwrap();
        assert_eq!(g.warm_up_s, 120.0);
        assert_eq!((g.first_mean_kib, g.second_mean_kib), (100_000.0, 110_000.0));
        assert!((g.growth_pct - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_short_run_warms_up_for_a_fifth_and_drops_an_odd_middle_sample() {
        // 1 minute: warm-up 12 s; samples at 20..60 s, the one at 40 s in neither half.
        let g = growth(&samples(&[10, 20, 100, 100, 999, 120, 120]), 60.0).unwrap();
        assert_eq!(g.warm_up_s, 12.0);
        assert_eq!((g.first_mean_kib, g.second_mean_kib), (100.0, 120.0));
        assert!(growth(&samples(&[10, 20]), 60.0).is_none(), "one sample after warm-up is no comparison");
    }

    #[test]
    fn minutes_are_parsed() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_minutes(&args(&[])).unwrap(), 10);
        assert_eq!(parse_minutes(&args(&["--minutes", "3"])).unwrap(), 3);
        assert_eq!(parse_minutes(&args(&["--minutes=1"])).unwrap(), 1);
        assert!(parse_minutes(&args(&["--minutes", "0"])).is_err());
        assert!(parse_minutes(&args(&["--minutes", "x"])).is_err());
        assert!(parse_minutes(&args(&["--hours", "1"])).is_err());
    }
}
