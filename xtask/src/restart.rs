//! Restart survival: the server is killed (SIGKILL, its whole process group) in the middle of a
//! burst of writes and started again on the same state; every write that was answered 2xx must
//! be read back whole, every other one whole or absent (tests/restart/burst.mjs does the
//! writing and the reading).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{generate_key, repo_root, server, step, tools, Runtime};

/// How long the burst runs before the kill.
const BURST_BEFORE_KILL: Duration = Duration::from_secs(4);

/// Runs the scenario on `runtime`; `Ok(true)` when nothing acknowledged was lost or torn.
pub(crate) fn survive(tools: &tools::Tools, runtime: Runtime<'_>) -> Result<bool> {
    step(&format!("restart survival on {} (killed mid-burst, started on the same state)", runtime.name()));
    let run_dir = repo_root().join("target/restart").join(runtime.name());
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;
    let key = generate_key()?;
    let port = server::free_port()?;
    let vars = [
        ("EDGEWRITE_PROJECTS", "restart"),
        ("EDGEWRITE_API_KEY", key.as_str()),
        ("EDGEWRITE_ABUSE_LIMITS", "off"),
    ];
    let state = run_dir.join("state");
    let writes = run_dir.join("writes.json");
    let node = |phase: &str| {
        let mut cmd = Command::new(&tools.test_node);
        cmd.arg("restart/burst.mjs")
            .arg(phase)
            .arg(&writes)
            .current_dir(repo_root().join("tests"))
            .env("EDGEWRITE_ENDPOINT", format!("http://127.0.0.1:{port}/v1"))
            .env("EDGEWRITE_PROJECT_ID", "restart")
            .env("EDGEWRITE_API_KEY", &key);
        cmd
    };

    let mut first = runtime.start(tools, port, &state, &vars, &run_dir.join("server-1.log"), false)?;
    run(node("prepare"))?;
    let mut burst = node("burst").stdout(Stdio::null()).spawn().context("starting the burst")?;
    std::thread::sleep(BURST_BEFORE_KILL);
    first.kill();
    let deadline = Instant::now() + Duration::from_secs(60);
    while burst.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = burst.kill();
            bail!("the burst did not stop after the server was killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(first);

    let second = runtime.start(tools, port, &state, &vars, &run_dir.join("server-2.log"), false)?;
    let out = node("check").output().context("checking the writes")?;
    drop(second);
    let report = String::from_utf8_lossy(&out.stdout);
    let line = report.lines().last().unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(line).with_context(|| {
        format!("the check printed no report: {report}{}", String::from_utf8_lossy(&out.stderr))
    })?;
    let count = |field: &str| parsed[field].as_array().map_or(0, Vec::len);
    println!(
        "    {} writes, {} acknowledged; after the restart {} acknowledged lost, {} torn",
        parsed["checked"],
        parsed["acknowledged"],
        count("lost"),
        count("torn")
    );
    if parsed["acknowledged"].as_u64().unwrap_or(0) == 0 {
        bail!(
            "no write was acknowledged before the kill: the scenario tested nothing ({})",
            log_of(&run_dir)
        );
    }
    let survived = out.status.success() && count("lost") == 0 && count("torn") == 0;
    if !survived {
        println!("    lost: {}\n    torn: {}", parsed["lost"], parsed["torn"]);
    }
    Ok(survived)
}

fn run(mut cmd: Command) -> Result<()> {
    let status = cmd.status().context("running node")?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn log_of(run_dir: &Path) -> String {
    format!("logs in {}", run_dir.display())
}
