//! `wrangler dev` as a child process: edgewrite in local workerd, on loopback only, with
//! offline-safe settings, stopped with its whole process group.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::repo_root;
use crate::tools::Tools;

pub struct Workerd {
    child: Child,
    pub port: u16,
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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

impl Workerd {
    /// Starts `wrangler dev` and waits until edgewrite answers. `log` receives wrangler's output
    /// (`None`: inherit the terminal).
    pub fn start(
        tools: &Tools,
        port: u16,
        state: &Path,
        vars: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Result<Workerd> {
        let root = repo_root();
        let wrangler = root.join("tests/node_modules/wrangler/bin/wrangler.js");
        let mut cmd = Command::new(&tools.wrangler_node);
        cmd.arg(&wrangler)
            .args(["dev", "--local", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .arg("--persist-to")
            .arg(state)
            .args([
                "--inspector-ip",
                "127.0.0.1",
                "--show-interactive-dev-session=false",
                "--log-level",
                "warn",
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
        for (k, v) in vars {
            cmd.arg("--var").arg(format!("{k}:{v}"));
        }
        if let Some(log) = log {
            let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        let child = cmd.spawn().context("starting wrangler dev")?;
        let mut workerd = Workerd { child, port };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if http_status(port, "/v1/health/version") == Some(200) {
                return Ok(workerd);
            }
            if let Some(status) = workerd.child.try_wait()? {
                bail!("wrangler dev exited early ({status}){}", log_hint(log));
            }
            if Instant::now() > deadline {
                bail!("edgewrite did not answer on port {port} within 90 s{}", log_hint(log));
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

    /// Waits for wrangler to exit on its own (dev: until Ctrl-C).
    pub fn wait_until(&mut self, stop: impl Fn() -> bool) -> Result<()> {
        while !stop() {
            if self.child.try_wait()?.is_some() {
                bail!("wrangler dev stopped");
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
            format!("; wrangler said:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
        })
        .unwrap_or_default()
}

impl Drop for Workerd {
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

/// Peak resident memory (VmHWM, KiB) of the workerd processes in `group`.
pub fn workerd_peak_kib(group: u32) -> Option<u64> {
    let mut peak = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else { continue };
        // Fields after the parenthesised command: state ppid pgrp …
        let Some((comm, rest)) = stat.rsplit_once(')') else { continue };
        let pgrp = rest.split_whitespace().nth(2).and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(group) || !comm.contains("workerd") {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        peak = peak.max(hwm);
    }
    peak
}
