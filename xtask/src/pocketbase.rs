//! `cargo xtask bench --vs pocketbase`: PocketBase and edgewrite (workerd under `wrangler dev`)
//! side by side, with the same data, scenarios and load client (`tests/bench/vs.mjs`), and a
//! hello-world Worker under the same `wrangler dev` as the floor. Results go to
//! `bench/results.json` under `vs_pocketbase`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::server::{self, Server};
use crate::tools::{self, POCKETBASE_VERSION};
use crate::{build, generate_key, repo_root, step};

const SUPERUSER_EMAIL: &str = "bench@pocketbase.test";

pub fn bench() -> Result<()> {
    let tools = tools::ensure(true)?;
    let pocketbase = tools::pocketbase()?;
    build::worker(&tools)?;
    build::spin()?;
    let spin_host = build::spin_host_optimised()?;
    let run_dir = repo_root().join("target/bench/vs-pocketbase");
    let _ = std::fs::remove_dir_all(&run_dir);
    for dir in ["pocketbase", "edgewrite", "spin", "hello"] {
        std::fs::create_dir_all(run_dir.join(dir))?;
    }

    let pb_dir = run_dir.join("pocketbase");
    // bcrypt reads at most 72 bytes of a password: 32 random hex digits.
    let superuser_password = generate_key()?["standard_".len()..][..32].to_string();
    let pb_port = server::free_port()?;
    step(&format!("starting PocketBase {POCKETBASE_VERSION} (fresh state) on 127.0.0.1:{pb_port}"));
    let pb = start_pocketbase(&pocketbase, &pb_dir, pb_port, &superuser_password)?;

    let key = generate_key()?;
    let ew_port = server::free_port()?;
    step(&format!("starting edgewrite in workerd (fresh state) on 127.0.0.1:{ew_port}"));
    let ew = Server::workerd(
        &tools,
        ew_port,
        &run_dir.join("edgewrite/state"),
        &[("EDGEWRITE_PROJECTS", "bench"), ("EDGEWRITE_API_KEY", &key), ("EDGEWRITE_ABUSE_LIMITS", "off")],
        Some(&run_dir.join("edgewrite/server.log")),
        false,
    )?;

    let spin_port = server::free_port()?;
    step(&format!(
        "starting edgewrite's Spin components in the Spin test host (fresh state) on 127.0.0.1:{spin_port}"
    ));
    let spin = Server::spin_host(
        &spin_host,
        spin_port,
        &run_dir.join("spin/state"),
        &[("EDGEWRITE_PROJECTS", "bench"), ("EDGEWRITE_API_KEY", &key), ("EDGEWRITE_ABUSE_LIMITS", "off")],
        Some(&run_dir.join("spin/server.log")),
    )?;

    let hello_port = server::free_port()?;
    step(&format!("starting the hello-world Worker in workerd on 127.0.0.1:{hello_port}"));
    let hello = Server::wrangler(
        &tools,
        &repo_root().join("tests/bench/hello/wrangler.toml"),
        hello_port,
        &run_dir.join("hello/state"),
        &[],
        Some(&run_dir.join("hello/server.log")),
        false,
    )?;

    step("load scenarios (tests/bench/vs.mjs)");
    let out = Command::new(&tools.test_node)
        .arg("bench/vs.mjs")
        .current_dir(repo_root().join("tests"))
        .env("POCKETBASE_URL", origin(&pb))
        .env("POCKETBASE_SUPERUSER_EMAIL", SUPERUSER_EMAIL)
        .env("POCKETBASE_SUPERUSER_PASSWORD", &superuser_password)
        .env("EDGEWRITE_ENDPOINT", ew.endpoint())
        .env("EDGEWRITE_PROJECT_ID", "bench")
        .env("EDGEWRITE_API_KEY", &key)
        .env("SPIN_ENDPOINT", spin.endpoint())
        .env("HELLO_URL", origin(&hello))
        .env(
            "BENCH_PROCESS_GROUPS",
            format!(
                "pocketbase={},edgewrite={},spin={},hello={}",
                pb.pid(),
                ew.pid(),
                spin.pid(),
                hello.pid()
            ),
        )
        .stderr(Stdio::inherit())
        .output()
        .context("running the load client")?;
    let memory: Vec<Value> = [("pocketbase", &pb), ("edgewrite", &ew), ("spin", &spin), ("hello", &hello)]
        .into_iter()
        .map(|(name, s)| {
            json!({
                "server": name,
                "peak_rss_kib": server::peak_rss_kib(s.pid()),
                "final_rss_kib": server::rss_kib(s.pid()),
            })
        })
        .collect();
    drop((pb, ew, spin, hello));
    if !out.status.success() {
        bail!("the load client failed ({}); server logs are in {}", out.status, run_dir.display());
    }

    let mut results: Value = serde_json::from_slice(&out.stdout).context("load client output is not JSON")?;
    results["memory"] = memory.into();
    results["measured_at"] = command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).into();
    results["cpus"] = std::thread::available_parallelism().map_or(0, |n| n.get()).into();
    results["edgewrite_commit"] = command_output("git", &["describe", "--always", "--dirty"]).into();
    results["pocketbase_version"] = POCKETBASE_VERSION.into();
    results["settings"] = json!({
        "pocketbase": "defaults (API rate limits off, request log in pb_data/auxiliary.db)",
        "edgewrite": format!(
            "wrangler.toml defaults (EDGEWRITE_LOG={}) but EDGEWRITE_ABUSE_LIMITS=off; wrangler dev --log-level warn",
            wrangler_var("EDGEWRITE_LOG").unwrap_or_else(|| "?".into())
        ),
    });

    let dest = repo_root().join("bench/results.json");
    std::fs::create_dir_all(dest.parent().expect("bench/ has a parent"))?;
    let mut all: Value = std::fs::read(&dest)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    all["vs_pocketbase"] = results.clone();
    std::fs::write(&dest, serde_json::to_string_pretty(&all)?)?;

    print_table(&results);
    println!("wrote {} (key vs_pocketbase)", dest.display());
    Ok(())
}

/// Creates the superuser that seeds the data, then serves PocketBase from `dir`.
fn start_pocketbase(bin: &Path, dir: &Path, port: u16, superuser_password: &str) -> Result<Server> {
    let data = dir.join("pb_data");
    // This wheel's build keeps pb_migrations and pb_public in the working directory.
    crate::run(
        Command::new(bin)
            .args(["superuser", "upsert", SUPERUSER_EMAIL, superuser_password, "--dir"])
            .arg(&data)
            .current_dir(dir)
            .stdout(Stdio::null()),
    )?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--http", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(&data)
        .current_dir(dir)
        .stdin(Stdio::null())
        .process_group(0);
    Server::spawn(cmd, port, "/api/health", Some(&dir.join("server.log")), "PocketBase")
}

fn origin(server: &Server) -> String {
    format!("http://127.0.0.1:{}", server.port)
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// A `[vars]` value of the repo's wrangler.toml: the deployment default in force for the run.
fn wrangler_var(name: &str) -> Option<String> {
    let toml = std::fs::read_to_string(repo_root().join("wrangler.toml")).ok()?;
    toml.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn print_table(results: &Value) {
    let f = |v: &Value, key: &str| v[key].as_f64().unwrap_or(f64::NAN);
    let server = |v: &Value| {
        format!(
            "{:>7.0} {:>6.2} {:>7.2} {:>6.2}",
            f(v, "throughput_rps"),
            f(v, "p50_ms"),
            f(v, "p99_ms"),
            f(v, "cpu_ms_per_request")
        )
    };
    println!(
        "{:<28} {:>3} {:>5} | {:<29} | {:<29} | {:<29} | {:>6} {:>8} {:>8}",
        "",
        "",
        "",
        "PocketBase",
        "edgewrite (workerd)",
        "hello-world Worker",
        "ew/pb",
        "ew/hello",
        "ew/hello"
    );
    let columns = format!("{:>7} {:>6} {:>7} {:>6}", "req/s", "p50", "p99", "cpu");
    println!(
        "{:<28} {:>3} {:>5} | {columns} | {columns} | {columns} | {:>6} {:>8} {:>8}",
        "scenario", "c", "reqs", "req/s", "req/s", "+object"
    );
    for row in results["scenarios"].as_array().into_iter().flatten() {
        println!(
            "{:<28} {:>3} {:>5} | {} | {} | {} | {:>6.2} {:>8.2} {:>8.2}",
            row["name"].as_str().unwrap_or("?"),
            row["concurrency"].as_u64().unwrap_or(0),
            row["pocketbase"]["requests"].as_u64().unwrap_or(0),
            server(&row["pocketbase"]),
            server(&row["edgewrite"]),
            server(&row["hello"]),
            f(row, "edgewrite_over_pocketbase"),
            f(row, "edgewrite_share_of_hello"),
            f(row, "edgewrite_share_of_hello_object"),
        );
    }
    println!("\nthe same scenarios against edgewrite's Spin components (the Spin test host, wasmtime):");
    println!("{:<28} {:>3} {:>5} | {:<29} | {:>6}", "", "", "", "edgewrite (Spin)", "spin/pb");
    println!("{:<28} {:>3} {:>5} | {columns} | {:>6}", "scenario", "c", "reqs", "req/s");
    for row in results["scenarios"].as_array().into_iter().flatten().filter(|row| row["spin"].is_object()) {
        println!(
            "{:<28} {:>3} {:>5} | {} | {:>6.2}",
            row["name"].as_str().unwrap_or("?"),
            row["concurrency"].as_u64().unwrap_or(0),
            row["spin"]["requests"].as_u64().unwrap_or(0),
            server(&row["spin"]),
            f(row, "spin_over_pocketbase"),
        );
    }
    for h in results["hello_object"].as_array().into_iter().flatten() {
        println!(
            "hello-world through one Durable Object (GET /object), c={}: {}",
            h["concurrency"],
            server(h)
        );
    }
    println!(
        "p50/p99 in ms; cpu: ms of CPU per request of the server's whole process tree (for the Workers:\n\
         wrangler's Node and its workerd processes). hello-world: GET / ({} requests), the floor of every row.",
        results["hello"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| format!("c={}: {}", h["concurrency"], h["requests"]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "measured {} on {} CPUs (load client on the same machine), scale {}; edgewrite: {}",
        results["measured_at"].as_str().unwrap_or("?"),
        results["cpus"],
        results["scale"],
        results["settings"]["edgewrite"].as_str().unwrap_or("?")
    );
    for m in results["memory"].as_array().into_iter().flatten() {
        let mib = |key: &str| m[key].as_f64().map_or("?".into(), |k| format!("{:.1} MiB", k / 1024.0));
        println!(
            "{:<10} largest process's resident memory: peak {}, after the run {}",
            m["server"].as_str().unwrap_or("?"),
            mib("peak_rss_kib"),
            mib("final_rss_kib")
        );
    }
    let rows = results["scenarios"].as_array().into_iter().flatten();
    let measured = rows.flat_map(|row| [&row["pocketbase"], &row["edgewrite"], &row["spin"]]);
    let errors: u64 = measured
        .chain(results["hello"].as_array().into_iter().flatten())
        .chain(results["hello_object"].as_array().into_iter().flatten())
        .map(|m| m["errors"].as_u64().unwrap_or(0))
        .sum();
    if errors > 0 {
        println!("warning: {errors} requests failed (see first_error in the results)");
    }
}
