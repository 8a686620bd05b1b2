//! edgewrite (or another server to measure against) as a child process on loopback: in local
//! workerd (`wrangler dev`, offline-safe settings) or under the Spin test host; started until it
//! answers, stopped with its whole process group.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::repo_root;
use crate::tools::Tools;

/// A running server.
/// Settings of the Spin test host rather than of edgewrite: `vars` may carry them, and only
/// [`Server::spin_host`] uses them.
const HOST_PREFIX: &str = "SPIN_TEST_HOST_";
pub const HOST_BLOCK_NETWORKS: &str = "SPIN_TEST_HOST_BLOCK_NETWORKS";
pub const HOST_RESOLVE: &str = "SPIN_TEST_HOST_RESOLVE";

pub struct Server {
    child: Child,
    pub port: u16,
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free port for a listener that starts later (the suite's stand-ins), chosen below Linux's
/// ephemeral range (32768–60999): the servers started meanwhile take ephemeral ports for
/// themselves (workerd, its inspector), and one of them could otherwise take this one first.
pub fn port_for_later() -> Result<u16> {
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
    for _ in 0..200 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let port = 20_000 + (seed >> 8) as u16 % 10_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    free_port()
}

/// Minimal HTTP GET over loopback (no client library needed): the status code.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Server {
    /// Starts `wrangler dev` and waits until edgewrite answers. `log` receives wrangler's output
    /// (`None`: inherit the terminal).
    pub fn workerd(
        tools: &Tools,
        port: u16,
        state: &Path,
        vars: &[(&str, &str)],
        log: Option<&Path>,
        worker_logs: bool,
    ) -> Result<Server> {
        Server::wrangler(tools, &repo_root().join("wrangler.toml"), port, state, vars, log, worker_logs)
    }

    /// Starts `wrangler dev` on the Worker that `config` describes, the way [`Server::workerd`]
    /// starts edgewrite; it must answer `GET /v1/health/version` with 200.
    pub fn wrangler(
        tools: &Tools,
        config: &Path,
        port: u16,
        state: &Path,
        vars: &[(&str, &str)],
        log: Option<&Path>,
        worker_logs: bool,
    ) -> Result<Server> {
        let root = repo_root();
        let wrangler = root.join("tests/node_modules/wrangler/bin/wrangler.js");
        let mut cmd = Command::new(&tools.wrangler_node);
        cmd.arg(&wrangler)
            .args(["dev", "--local", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .arg("--config")
            .arg(config)
            .arg("--persist-to")
            .arg(state)
            .args([
                "--inspector-ip",
                "127.0.0.1",
                "--show-interactive-dev-session=false",
                // The Worker's own lines too when asked (the suite reads them), else only
                // wrangler's warnings.
                "--log-level",
                if worker_logs { "log" } else { "warn" },
                // `GET /__scheduled` runs the Cron Trigger now (the suite's schedule tests).
                "--test-scheduled",
            ])
            .current_dir(&root)
            .envs([
                ("WRANGLER_SEND_METRICS", "false"),
                ("WRANGLER_SEND_ERROR_REPORTS", "false"),
                ("DO_NOT_TRACK", "1"),
                ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
                ("WRANGLER_HIDE_BANNER", "true"),
                ("WRANGLER_NO_SKILLS_UPDATE_PROMPTS", "true"),
                ("NO_UPDATE_NOTIFIER", "1"),
            ])
            .stdin(Stdio::null())
            // Its own process group, so stopping it stops workerd too, and Ctrl-C reaches only us.
            .process_group(0);
        // wrangler's local traces (on unless X_LOCAL_OBSERVABILITY says otherwise) cost more CPU
        // than serving a read: each SQL statement becomes a span that a collector Worker writes
        // to SQLite. Production has no such collector, so local runs leave it off unless asked.
        if std::env::var_os("X_LOCAL_OBSERVABILITY").is_none() {
            cmd.env("X_LOCAL_OBSERVABILITY", "false");
        }
        for (k, v) in vars.iter().filter(|(k, _)| !k.starts_with(HOST_PREFIX)) {
            cmd.arg("--var").arg(format!("{k}:{v}"));
        }
        Server::spawn(cmd, port, "/v1/health/version", log, "wrangler dev")
    }

    /// Starts the Spin test host (`components/spin-test-host`, already built) on the app in
    /// `spin.toml`, with `vars` as Spin variables (lower-cased names).
    pub fn spin_host(
        host: &Path,
        port: u16,
        state: &Path,
        vars: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Result<Server> {
        let mut cmd = Command::new(host);
        cmd.arg("--manifest")
            .arg(repo_root().join("spin.toml"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--state")
            .arg(state)
            .stdin(Stdio::null())
            .process_group(0);
        for (k, v) in vars {
            match *k {
                // The host's own network policy (Spin's `block_networks`, and names answered
                // without DNS), not application variables.
                HOST_BLOCK_NETWORKS => cmd.arg("--block-networks").arg(v),
                HOST_RESOLVE => cmd.arg("--resolve").arg(v),
                _ => cmd.arg("--var").arg(format!("{}={v}", k.to_ascii_lowercase())),
            };
        }
        Server::spawn(cmd, port, "/v1/health/version", log, "the Spin test host")
    }

    /// Starts a real Spin (`spin up`, from PATH) on the app in `spin.toml`, with state under
    /// `state` and `vars` as Spin variables. They go in as `SPIN_VARIABLE_*` in its environment
    /// rather than `--variable` arguments: a password or key on a command line is any local
    /// user's to read.
    pub fn spin_up(port: u16, state: &Path, vars: &[(&str, &str)], log: Option<&Path>) -> Result<Server> {
        let mut cmd = Command::new("spin");
        cmd.arg("up")
            .current_dir(repo_root())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(state)
            .stdin(Stdio::null())
            .process_group(0);
        // Only these settings: a SPIN_VARIABLE_* left in the caller's shell would reach the app.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                cmd.env_remove(name);
            }
        }
        for (k, v) in vars.iter().filter(|(k, _)| !k.starts_with(HOST_PREFIX)) {
            cmd.env(format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()), v);
        }
        Server::spawn(cmd, port, "/v1/health/version", log, "spin up")
    }

    /// Starts `cmd` (in a process group of its own, for [`Drop`]) and waits until `GET ready`
    /// answers 200.
    pub fn spawn(mut cmd: Command, port: u16, ready: &str, log: Option<&Path>, what: &str) -> Result<Server> {
        if let Some(log) = log {
            let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        const START_TIMEOUT_SECS: u64 = 300;
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        let mut server = Server { child, port };
        // The Spin test host compiles every component before it answers: 75 s on an idle 2-core
        // machine with a cold cache, longer while other builds run.
        let deadline = Instant::now() + Duration::from_secs(START_TIMEOUT_SECS);
        loop {
            if http_status(port, ready) == Some(200) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("{what} exited early ({status}){}", log_hint(log));
            }
            if Instant::now() > deadline {
                bail!("{what} did not answer on port {port} within {START_TIMEOUT_SECS} s{}", log_hint(log));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server's whole process group at once (SIGKILL: no shutdown of any kind), as a
    /// crash or a power cut would, and waits for it.
    pub fn kill(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }

    /// Waits for the server to exit on its own (dev: until Ctrl-C).
    pub fn wait_until(&mut self, stop: impl Fn() -> bool) -> Result<()> {
        while !stop() {
            if self.child.try_wait()?.is_some() {
                bail!("the server stopped");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }
}

fn log_hint(log: Option<&Path>) -> String {
    log.and_then(|l| std::fs::read_to_string(l).ok())
        .map(|text| {
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            format!("; its log ends:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
        })
        .unwrap_or_default()
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // `--` so that the negative process-group id is not read as an option.
        let signal = |sig: &str| {
            let _ = Command::new("kill").args(["-s", sig, "--", &group]).stderr(Stdio::null()).status();
        };
        signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // workerd may outlive wrangler; take the whole group down either way.
        signal("KILL");
        let _ = self.child.wait();
    }
}

/// Peak resident memory (VmHWM, KiB) of the largest process in `group` (workerd under
/// wrangler; the Spin test host itself).
pub fn peak_rss_kib(group: u32) -> Option<u64> {
    largest_in_group(group, "VmHWM:")
}

/// Resident memory now (VmRSS, KiB) of the largest process in `group`.
pub fn rss_kib(group: u32) -> Option<u64> {
    largest_in_group(group, "VmRSS:")
}

/// The largest value of a KiB `field` of `/proc/<pid>/status` among the processes in `group`.
fn largest_in_group(group: u32, field: &str) -> Option<u64> {
    let mut largest = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else { continue };
        // Fields after the parenthesised command: state ppid pgrp …
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let pgrp = rest.split_whitespace().nth(2).and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        largest = largest.max(kib);
    }
    largest
}
