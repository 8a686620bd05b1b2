//! `cargo xtask fuzz [--seconds N] [--seed S] [TARGET…]`: the fuzz targets of `components/fuzz`
//! for N seconds each (default 60), all of them unless some are named, from a random seed the
//! run prints (`--seed S` replays it). `cargo test` runs the same targets for about two seconds
//! from a fixed seed; this runs them longer, optimised but with overflow checks and debug
//! assertions on, so that arithmetic overflow still panics as it does in tests.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{run, step};

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--seed S] [TARGET…]  (targets: cargo run -p edgewrite-fuzz -- --list)";

pub fn fuzz(args: &[String]) -> Result<()> {
    let mut seconds = "60".to_string();
    let mut forwarded: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().cloned().with_context(|| format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--seconds" => {
                seconds = value()?;
                if seconds.parse::<f64>().is_err() {
                    bail!("--seconds {seconds}: not a number\n{USAGE}");
                }
            }
            "--seed" => {
                let seed = value()?;
                if seed.parse::<u64>().is_err() {
                    bail!("--seed {seed}: not a whole number\n{USAGE}");
                }
                forwarded.extend([arg.clone(), seed]);
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
            target => forwarded.push(target.to_string()),
        }
    }
    step(&format!("fuzz targets, {seconds} s each"));
    run(Command::new("cargo")
        .args(["run", "--quiet", "--profile", "host-release"])
        .args(["--config", "profile.host-release.overflow-checks=true"])
        .args(["--config", "profile.host-release.debug-assertions=true"])
        .args(["-p", "edgewrite-fuzz", "--", "--seconds", &seconds])
        .args(&forwarded))
}
