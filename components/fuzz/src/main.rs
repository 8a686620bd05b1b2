//! `edgewrite-fuzz [--seconds N] [--seed S] [--runs N] [TARGET…]`: runs the named targets (all
//! by default) for N seconds each, from seed S (random unless given; printed either way so a
//! failure can be replayed). `cargo xtask fuzz` runs it. Exit status 1 when a target failed.

use std::process::ExitCode;
use std::time::Duration;

use edgewrite_fuzz::{driver, target, Budget, TARGETS};

const USAGE: &str = "usage: edgewrite-fuzz [--seconds N] [--seed S] [--runs N] [TARGET…]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 10.0;
    let mut seed = None;
    let mut runs = u64::MAX;
    let mut names = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let parsed = match arg.as_str() {
            "--seconds" => value("--seconds")
                .and_then(|v| v.parse().map_err(|e| format!("--seconds {v}: {e}")))
                .map(|v| seconds = v),
            "--seed" => value("--seed")
                .and_then(|v| v.parse().map_err(|e| format!("--seed {v}: {e}")))
                .map(|v| seed = Some(v)),
            "--runs" => value("--runs")
                .and_then(|v| v.parse().map_err(|e| format!("--runs {v}: {e}")))
                .map(|v| runs = v),
            "--list" => {
                TARGETS.iter().for_each(|t| println!("{}", t.name));
                return ExitCode::SUCCESS;
            }
            name if target(name).is_some() => {
                names.push(name.to_string());
                Ok(())
            }
            other => Err(format!("unknown target or option {other:?} (targets: {})", all_names())),
        };
        if let Err(message) = parsed {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    if names.is_empty() {
        names = TARGETS.iter().map(|t| t.name.to_string()).collect();
    }
    let seed = seed.unwrap_or_else(random_seed);
    println!("fuzz: seed {seed}, {seconds} s per target (replay: --seed {seed})");
    let budget = Budget { time: Duration::from_secs_f64(seconds), runs };
    let mut failed = 0;
    for name in &names {
        let target = target(name).expect("checked above");
        // Each target in its own thread, so its thread-local state is dropped (and its temporary
        // files removed) when it is done.
        let report = std::thread::scope(|s| s.spawn(|| driver::fuzz(target, seed, budget)).join());
        match report {
            Ok(report) => {
                print!("{:>14}: {} corpus inputs, {} mutations", report.target, report.corpus, report.runs);
                match report.crash {
                    None => println!(", ok"),
                    Some(crash) => {
                        failed += 1;
                        println!(", FAILED\n    input: {}\n    {}", crash.input.display(), crash.message);
                    }
                }
            }
            Err(_) => {
                failed += 1;
                println!("{name:>14}: the driver itself panicked");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        println!("fuzz: {failed} target(s) failed; replay with --seed {seed} {}", names.join(" "));
        ExitCode::FAILURE
    }
}

fn all_names() -> String {
    TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// A seed from the clock and the process: nothing here needs better.
fn random_seed() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}
