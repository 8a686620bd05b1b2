//! `cargo xtask dev|test|bench|build` — see README.md. Everything a fresh machine lacks (wasm
//! targets, worker-build, wasm-bindgen, wasm-tools, wrangler, the SDKs) is installed on first use.

mod build;
mod fuzz;
mod pocketbase;
mod restart;
mod server;
mod soak;
mod spin_check;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use server::Server;

const USAGE: &str = "usage: cargo xtask <command>

  dev [--spin]   build and serve edgewrite locally (workerd via wrangler dev; --spin: Spin)
  test           fmt, clippy, unit + conformance tests, both wasm builds, end-to-end suite
  e2e [--spin] [FILE…]
                 only the end-to-end suite (or the named tests/e2e files) on one runtime
  bench          load scenarios against the local Worker; writes bench/results.json
  bench --vs pocketbase
                 the same scenarios against PocketBase and edgewrite, with a hello-world
                 Worker as the floor; writes bench/results.json (vs_pocketbase)
  build [--spin] release artifacts and their sizes
  fuzz [--seconds N] [--seed S] [TARGET…]
                 fuzz the input parsers (components/fuzz) for N seconds each
  restart [--spin]
                 kill the server mid-burst of writes, start it on the same state, read
                 every write back (part of `test`)
  soak [--minutes N]
                 N minutes (default 10) of mixed load on the Worker; checks every write,
                 5xx and memory growth; writes target/soak/report.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev(args.iter().any(|a| a == "--spin")),
        Some("test") => test(),
        Some("e2e") => e2e_only(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("bench") => match args.get(1..).unwrap_or_default() {
            [] => bench(),
            [flag, other] if flag == "--vs" && other == "pocketbase" => pocketbase::bench(),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        Some("build") => build_cmd(args.iter().any(|a| a == "--spin")),
        Some("restart") => restart_only(args.iter().any(|a| a == "--spin")),
        Some("soak") => soak::soak(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo root").to_path_buf()
}

pub fn step(what: &str) {
    eprintln!("==> {what}");
}

/// Runs a command from the repo root (unless it set its own directory); fails on non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(repo_root());
    }
    let status = cmd.status().with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} {:?} failed ({status})", cmd.get_program(), cmd.get_args().collect::<Vec<_>>());
    }
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

/// A fresh `standard_` API key: 64 bytes from the OS CSPRNG, hex-encoded.
fn generate_key() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 64];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("standard_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn build_cmd(spin: bool) -> Result<()> {
    let tools = tools::ensure(spin)?;
    let started = Instant::now();
    let mut artifacts = vec![build::worker(&tools)?];
    if spin {
        artifacts.extend(build::spin()?);
    }
    println!("built in {:.1} s:", started.elapsed().as_secs_f64());
    build::print_sizes(&artifacts);
    Ok(())
}

/// Whether a real `spin` is on PATH.
fn spin_on_path() -> bool {
    Command::new("spin").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn dev(spin: bool) -> Result<()> {
    let tools = tools::ensure(spin)?;
    let real_spin = spin && spin_on_path();
    let spin_host = match (spin, real_spin) {
        (true, true) => {
            build::spin()?;
            None
        }
        (true, false) => {
            build::spin()?;
            eprintln!("`spin` is not on PATH: serving the Spin components with edgewrite's Spin test host");
            Some(build::spin_host()?)
        }
        (false, _) => {
            build::worker(&tools)?;
            None
        }
    };
    let port: u16 =
        env_or("EDGEWRITE_PORT", "8787").parse().context("EDGEWRITE_PORT must be a port number")?;
    let project = env_or("EDGEWRITE_PROJECT_ID", "dev");
    let state = repo_root().join(env_or("EDGEWRITE_STATE_DIR", ".edgewrite"));
    std::fs::create_dir_all(&state)?;
    let key = match std::env::var("EDGEWRITE_API_KEY").ok().filter(|k| !k.is_empty()) {
        Some(key) => key,
        None => {
            let file = state.join("api-key");
            match std::fs::read_to_string(&file) {
                Ok(key) if !key.trim().is_empty() => key.trim().to_string(),
                _ => {
                    let key = generate_key()?;
                    std::fs::write(&file, &key)?;
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                    }
                    key
                }
            }
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the Ctrl-C handler")?;
    let dev_vars = std::fs::read_to_string(repo_root().join(".dev.vars")).unwrap_or_default();
    let env: Vec<(String, String)> = std::env::vars().collect();
    let settings = dev_settings(&dev_vars, &env, &project, &key);
    let vars: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server = if real_spin || spin_host.is_some() {
        // Spin takes only the variables spin.toml declares.
        let declared = spin_variables(&std::fs::read_to_string(repo_root().join("spin.toml"))?);
        let (known, unknown): (Vec<_>, Vec<_>) =
            vars.iter().partition(|(k, _)| declared.contains(&k.to_ascii_lowercase()));
        for (name, _) in unknown {
            eprintln!("{name} is not one of spin.toml's [variables]: not set under Spin");
        }
        match &spin_host {
            Some(host) => Server::spin_host(host, port, &state.join("spin"), &known, None)?,
            None => {
                eprintln!("serving under Spin (`spin up`)");
                Server::spin_up(port, &state.join("spin-up"), &known, None)?
            }
        }
    } else {
        Server::workerd(&tools, port, &state.join("wrangler"), &vars, None, false)?
    };
    println!("API key (every scope; kept in {}): {key}", state.display());
    println!("edgewrite ready: {} project={project}", server.endpoint());
    let result = server.wait_until(|| stop.load(Ordering::SeqCst));
    drop(server);
    eprintln!("edgewrite stopped");
    if stop.load(Ordering::SeqCst) {
        Ok(())
    } else {
        result
    }
}

/// What `cargo xtask dev` hands the server: its defaults for local development, then every
/// `EDGEWRITE_*` setting of `.dev.vars` (`dev_vars`, wrangler's file, read for Spin too) and of
/// the environment (`env`, which wins), less the few that are `dev`'s own (port, state
/// directory, project id) and the API key, which `key` already is.
fn dev_settings(dev_vars: &str, env: &[(String, String)], project: &str, key: &str) -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = vec![
        ("EDGEWRITE_PROJECTS".into(), project.into()),
        ("EDGEWRITE_API_KEY".into(), key.into()),
        // Nothing in front of a local server vouches for a client's address: under wrangler dev
        // a client writes CF-Connecting-IP itself.
        ("EDGEWRITE_TRUSTED_CLIENT_IP_HEADER".into(), "none".into()),
    ];
    let from_file = dev_vars.lines().filter_map(|line| {
        let line = line.trim();
        let (name, value) = line.split_once('=').filter(|_| !line.starts_with('#'))?;
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        Some((name.trim().to_string(), value.to_string()))
    });
    let chosen = from_file.chain(env.iter().cloned()).filter(|(name, _)| {
        name.starts_with("EDGEWRITE_")
            && !matches!(
                name.as_str(),
                "EDGEWRITE_PORT" | "EDGEWRITE_STATE_DIR" | "EDGEWRITE_PROJECT_ID" | "EDGEWRITE_API_KEY"
            )
    });
    for (name, value) in chosen {
        match settings.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => settings.push((name, value)),
        }
    }
    // The project the ready line names is always served, whatever list was given.
    if let Some((_, projects)) = settings.iter_mut().find(|(n, _)| n == "EDGEWRITE_PROJECTS") {
        if !projects.split(',').any(|p| p.trim() == project) {
            *projects = format!("{project},{projects}");
        }
    }
    settings
}

/// The names in spin.toml's `[variables]` table.
fn spin_variables(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|line| line.trim() != "[variables]")
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_string()))
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect()
}

/// Counts of an e2e run, read from the TAP summary node writes.
fn tap_counts(tap: &str) -> (u64, u64, u64) {
    let count = |key: &str| {
        tap.lines()
            .filter_map(|l| l.strip_prefix(&format!("# {key} ")))
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .next_back()
            .unwrap_or(0)
    };
    (count("pass"), count("fail"), count("skipped"))
}

fn test() -> Result<()> {
    let started = Instant::now();
    // A whole-suite run gains nothing from incremental caches and they double the debug target's
    // size; a developer who wants them sets CARGO_INCREMENTAL themselves.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        std::env::set_var("CARGO_INCREMENTAL", "0");
    }
    let mut tools = tools::ensure(true)?;
    tools.chromium = tools::chromium();
    tools.python_sdk = tools::python_sdk();
    step("cargo fmt --check");
    run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    step("clippy (host crates, Worker, Spin components)");
    run(Command::new("cargo").args(["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"]))?;
    run(Command::new("cargo").args([
        "clippy",
        "--quiet",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "edgewrite-cloudflare",
        "--",
        "-D",
        "warnings",
    ]))?;
    let mut spin_clippy = Command::new("cargo");
    spin_clippy.args([
        "clippy",
        "--quiet",
        "--release",
        "--target",
        "wasm32-wasip2",
        "-p",
        "edgewrite-spin-adapter",
    ]);
    for c in build::SPIN_COMPONENTS {
        spin_clippy.args(["-p", &c.replace('_', "-")]);
    }
    run(spin_clippy.args(["--", "-D", "warnings"]))?;
    step("unit and native conformance tests");
    run(Command::new("cargo").args(["test", "--quiet"]))?;
    // The Worker's crate is not a default member (it builds for wasm), but its tests run on the
    // host: the README's route table is checked against its routes.
    run(Command::new("cargo").args(["test", "--quiet", "-p", "edgewrite-cloudflare"]))?;

    let mut artifacts = vec![build::worker(&tools)?];
    let spin = build::spin()?;
    step("checking the Spin components against wit/edgewrite.wit");
    for a in &spin {
        let world = spin_check::check(&tools, &a.path)?;
        eprintln!("    {}: imports {:?}, exports {:?}", a.name, world.imports, world.exports);
    }
    artifacts.extend(spin);
    build::print_sizes(&artifacts);

    let spin_host = build::spin_host()?;
    let mut totals = (0, 0, 0);
    for runtime in [Runtime::Workerd, Runtime::SpinHost(&spin_host)] {
        let (passed, failed, skipped) = e2e(&tools, runtime, &[])?;
        println!("e2e on {}: {passed} passed, {failed} failed, {skipped} skipped", runtime.name());
        totals = (totals.0 + passed, totals.1 + failed, totals.2 + skipped);
        let survived = restart::survive(&tools, runtime)?;
        println!("restart survival on {}: {}", runtime.name(), if survived { "passed" } else { "FAILED" });
        totals =
            if survived { (totals.0 + 1, totals.1, totals.2) } else { (totals.0, totals.1 + 1, totals.2) };
    }
    let (passed, failed, skipped) = totals;
    eprintln!("xtask test finished in {:.0} s", started.elapsed().as_secs_f64());
    println!(
        "{passed} passed, {failed} failed{}",
        if skipped > 0 { format!(", {skipped} skipped") } else { String::new() }
    );
    if failed > 0 || passed == 0 {
        bail!("end-to-end tests failed");
    }
    Ok(())
}

/// Where the e2e suite and the bench run.
#[derive(Clone, Copy)]
pub(crate) enum Runtime<'a> {
    Workerd,
    /// The Spin components under the test host (the binary's path).
    SpinHost(&'a Path),
    /// The Spin components under a real `spin up` (from PATH).
    Spin,
}

impl Runtime<'_> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Runtime::Workerd => "workerd",
            Runtime::SpinHost(_) | Runtime::Spin => "spin",
        }
    }

    pub(crate) fn start(
        &self,
        tools: &tools::Tools,
        port: u16,
        state: &Path,
        vars: &[(&str, &str)],
        log: &Path,
        worker_logs: bool,
    ) -> Result<Server> {
        match self {
            Runtime::Workerd => Server::workerd(tools, port, state, vars, Some(log), worker_logs),
            Runtime::SpinHost(host) => Server::spin_host(host, port, state, vars, Some(log)),
            Runtime::Spin => Server::spin_up(port, state, vars, Some(log)),
        }
    }
}

/// `cargo xtask restart [--spin]`: the restart-survival scenario alone.
fn restart_only(spin: bool) -> Result<()> {
    let tools = tools::ensure(spin)?;
    let survived = if spin {
        build::spin()?;
        let host = build::spin_host()?;
        restart::survive(&tools, Runtime::SpinHost(&host))?
    } else {
        build::worker(&tools)?;
        restart::survive(&tools, Runtime::Workerd)?
    };
    if !survived {
        bail!("an acknowledged write was lost or torn by the restart");
    }
    Ok(())
}

/// `cargo xtask e2e`: a quick loop while working on one area.
fn e2e_only(args: &[String]) -> Result<()> {
    let mut tools = tools::ensure(true)?;
    tools.chromium = tools::chromium();
    tools.python_sdk = tools::python_sdk();
    let files: Vec<String> = args.iter().filter(|a| !a.starts_with("--")).cloned().collect();
    let (passed, failed, _) = if args.iter().any(|a| a == "--spin") {
        build::spin()?;
        // A real `spin` on PATH serves the components as a Spin user runs them; without one,
        // the test host does (as in `cargo xtask test` and CI, which always use the host).
        if spin_on_path() {
            eprintln!("serving under Spin (`spin up` from PATH)");
            e2e(&tools, Runtime::Spin, &files)?
        } else {
            let host = build::spin_host()?;
            e2e(&tools, Runtime::SpinHost(&host), &files)?
        }
    } else {
        build::worker(&tools)?;
        e2e(&tools, Runtime::Workerd, &files)?
    };
    println!("{passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        bail!("end-to-end tests failed");
    }
    Ok(())
}

/// Runs `files` (paths under tests/, all of `e2e/` when empty) against a fresh `runtime`.
fn e2e(tools: &tools::Tools, runtime: Runtime<'_>, files: &[String]) -> Result<(u64, u64, u64)> {
    let run_dir = repo_root().join("target/e2e").join(runtime.name());
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;
    let key = generate_key()?;
    let port = server::free_port()?;
    // The suite's stand-ins for the mail and SMS providers (tests/e2e/sinks.mjs) listen here.
    let smtp_port = server::port_for_later()?.to_string();
    let sink_origin = format!("http://127.0.0.1:{}", server::port_for_later()?);
    let sink_port = sink_origin.rsplit(':').next().unwrap_or_default().to_string();
    // The messaging providers' stand-ins (tests/e2e/providers.mjs): every kind on one server.
    let providers_origin = format!("http://127.0.0.1:{}", server::port_for_later()?);
    let providers_port = providers_origin.rsplit(':').next().unwrap_or_default().to_string();
    let providers_urls = [
        "mailgun",
        "sendgrid",
        "resend",
        "postmark",
        "ses",
        "twilio",
        "vonage",
        "textmagic",
        "telesign",
        "msg91",
        "fcm",
        "fcm-token",
        "apns",
    ]
    .map(|kind| format!("{kind}={providers_origin}"))
    .join(",");
    // The OAuth2 providers' stand-in (tests/e2e/oauth-provider.mjs): an OpenID Connect server
    // (found by discovery) and GitHub's endpoints, on one loopback server.
    let oauth_origin = format!("http://127.0.0.1:{}", server::port_for_later()?);
    let oauth_port = oauth_origin.rsplit(':').next().unwrap_or_default().to_string();
    let oauth_providers = serde_json::json!({
        "oidc": {"appId": "edgewrite-oidc", "secret": {
            "clientSecret": "oidc-secret",
            "wellKnownEndpoint": format!("{oauth_origin}/.well-known/openid-configuration"),
        }},
        "github": {"appId": "edgewrite-github", "secret": "github-secret"},
        "gitlab": {"enabled": false, "appId": "off", "secret": "off"},
    })
    .to_string();
    let oauth_base_urls = format!("github={oauth_origin}");
    // The remote images avatars fetch (tests/e2e/avatars.test.mjs serves them): a private origin
    // the deployment allows, as an operator would allow a CDN on its own network.
    let images_origin = format!("http://127.0.0.1:{}", server::port_for_later()?);
    let images_port = images_origin.rsplit(':').next().unwrap_or_default().to_string();
    step(&format!("starting {} (fresh state) on 127.0.0.1:{port}", runtime.name()));
    let mut vars = vec![
        // `other` and the migration's `migrated`, `restored`, `restored-v1`, `copied` and
        // `copied-dump` stay empty but for tests/e2e/migration.test.mjs; `oauth` is the project
        // whose OAuth2 settings tests/e2e/oauth2.test.mjs changes through the project API.
        ("EDGEWRITE_PROJECTS", "test,other,migrated,restored,restored-v1,copied,copied-dump,oauth"),
        ("EDGEWRITE_API_KEY", key.as_str()),
        ("EDGEWRITE_TEST_ROUTES", "1"),
        // The suite stands for a proxy in front that appends the client's address: a test that
        // needs a fresh per-address counter says so in X-Forwarded-For.
        ("EDGEWRITE_TRUSTED_CLIENT_IP_HEADER", "x-forwarded-for"),
        // And the proxy names the client's country, as Cloudflare's does in front of an origin.
        ("EDGEWRITE_TRUSTED_COUNTRY_HEADER", "cf-ipcountry"),
        // The optional password policies, on, so the suite covers them.
        ("EDGEWRITE_PASSWORD_HISTORY", "3"),
        ("EDGEWRITE_PASSWORD_PERSONAL_DATA", "on"),
        ("EDGEWRITE_PROJECT_NAME", "Edgewrite Tests"),
        ("EDGEWRITE_MAIL_FROM", "noreply@edgewrite.test"),
        ("EDGEWRITE_MAIL_FROM_NAME", "Edgewrite Tests"),
        ("EDGEWRITE_SMS_PROVIDER", "twilio"),
        ("EDGEWRITE_SMS_FROM", "+15550001111"),
        ("EDGEWRITE_SMS_ACCOUNT", "ACtest"),
        ("EDGEWRITE_SMS_TOKEN", "twilio-token"),
        ("EDGEWRITE_SMS_API_URL", sink_origin.as_str()),
        ("EDGEWRITE_SMS_API_ORIGIN", sink_origin.as_str()),
        ("EDGEWRITE_MESSAGING_BASE_URLS", providers_urls.as_str()),
        ("EDGEWRITE_MESSAGING_ORIGIN", providers_origin.as_str()),
        ("EDGEWRITE_OAUTH2_PROVIDERS", oauth_providers.as_str()),
        ("EDGEWRITE_OAUTH2_BASE_URLS", oauth_base_urls.as_str()),
        ("EDGEWRITE_OAUTH2_ORIGIN", oauth_origin.as_str()),
        ("EDGEWRITE_OUTBOUND_PRIVATE_ORIGINS", images_origin.as_str()),
        // tests/e2e/webhooks.test.mjs: its loopback receiver is allowed although private, and a
        // failed delivery is tried again after a second.
        ("EDGEWRITE_WEBHOOKS_ALLOWED_HOSTS", "127.0.0.1"),
        ("EDGEWRITE_WEBHOOKS_RETRY_SECONDS", "1,1"),
        // Spin: every component that writes may deliver to any http(s) destination.
        ("EDGEWRITE_WEBHOOKS_OUTBOUND", "http://*:*"),
        // The Spin test host blocks 127.0.0.2 as Spin's `block_networks` would, and resolves a
        // public-looking name to it: a DNS rebinding the delivery must refuse at connect time.
        (server::HOST_BLOCK_NETWORKS, "127.0.0.2/32"),
        (server::HOST_RESOLVE, "rebind.edgewrite-e2e.com=127.0.0.2"),
    ];
    match runtime {
        // workerd delivers mail over SMTP (the TCP socket API); Spin components have no raw TCP
        // and use the HTTP mail API. Both paths end in the same test inbox.
        Runtime::Workerd => vars.extend([
            ("EDGEWRITE_SMTP_HOST", "127.0.0.1"),
            ("EDGEWRITE_SMTP_PORT", smtp_port.as_str()),
            ("EDGEWRITE_SMTP_SECURE", "none"),
            ("EDGEWRITE_SMTP_USERNAME", "edgewrite"),
            ("EDGEWRITE_SMTP_PASSWORD", "sink-password"),
        ]),
        Runtime::SpinHost(_) | Runtime::Spin => vars.extend([
            ("EDGEWRITE_MAIL_API", "resend"),
            ("EDGEWRITE_MAIL_API_KEY", "re_test_key"),
            ("EDGEWRITE_MAIL_API_URL", sink_origin.as_str()),
            ("EDGEWRITE_MAIL_API_ORIGIN", sink_origin.as_str()),
        ]),
    }
    let server =
        runtime.start(tools, port, &run_dir.join("state"), &vars, &run_dir.join("server.log"), true)?;
    // A second instance in front of a legacy backend (the gradual-migration proxy), which
    // tests/e2e/proxy.test.mjs starts on `legacy_port`.
    let legacy_port = loop {
        let port = server::port_for_later()?.to_string();
        if ![&smtp_port, &sink_port, &providers_port, &oauth_port, &images_port].contains(&&port) {
            break port;
        }
    };
    let upstream_secret = generate_key()?;
    let wants_proxy =
        files.is_empty() || files.iter().any(|f| f.contains("proxy") || f.contains("migration"));
    let proxy = if wants_proxy {
        let upstream = format!("http://127.0.0.1:{legacy_port}");
        let mut proxy_vars = vars.clone();
        proxy_vars.extend([
            ("EDGEWRITE_UPSTREAM", upstream.as_str()),
            // Spin: the components' allowed_outbound_hosts.
            ("EDGEWRITE_UPSTREAM_ORIGIN", upstream.as_str()),
            ("EDGEWRITE_UPSTREAM_ROUTES", "/v1/functions/*,/v1/storage/buckets/legacy/*"),
            ("EDGEWRITE_UPSTREAM_SECRET", upstream_secret.as_str()),
            ("EDGEWRITE_UPSTREAM_TIMEOUT_MS", "1500"),
        ]);
        let proxy_port = server::free_port()?;
        step(&format!(
            "starting a second {} in front of a legacy backend on 127.0.0.1:{proxy_port}",
            runtime.name()
        ));
        Some(runtime.start(
            tools,
            proxy_port,
            &run_dir.join("proxy-state"),
            &proxy_vars,
            &run_dir.join("proxy.log"),
            false,
        )?)
    } else {
        None
    };
    let cli = if wants_proxy { Some(build::cli()?) } else { None };
    let examples = build::function_examples()?;
    step(&format!("end-to-end suite (official SDKs against {})", runtime.name()));
    let tap = run_dir.join("e2e.tap");
    // `python` names the Python SDK flows, not a Node file.
    let node_files: Vec<String> = files.iter().filter(|f| f.as_str() != "python").cloned().collect();
    let mut counts = (0, 0, 0);
    if files.is_empty() || !node_files.is_empty() {
        let status = Command::new(&tools.test_node)
            .args([
                "--test",
                "--test-concurrency=1",
                "--test-reporter=spec",
                "--test-reporter-destination=stdout",
            ])
            .arg("--test-reporter=tap")
            .arg(format!("--test-reporter-destination={}", tap.display()))
            .args(if files.is_empty() { vec!["e2e/".to_string()] } else { node_files.clone() })
            .current_dir(repo_root().join("tests"))
            .env("EDGEWRITE_ENDPOINT", server.endpoint())
            .env("EDGEWRITE_PROJECT_ID", "test")
            .env("EDGEWRITE_API_KEY", &key)
            .env("EDGEWRITE_RUNTIME", runtime.name())
            // The few tests that meet a real Spin's own behaviour before edgewrite's say so.
            .env("EDGEWRITE_SPIN_UP", if matches!(runtime, Runtime::Spin) { "1" } else { "" })
            .env("EDGEWRITE_POLICIES_ON", "1")
            .env("EDGEWRITE_TEST_SMTP_PORT", &smtp_port)
            .env("EDGEWRITE_TEST_HTTP_SINK_PORT", &sink_port)
            .env("EDGEWRITE_TEST_PROVIDERS_PORT", &providers_port)
            .env("EDGEWRITE_TEST_OAUTH_PORT", &oauth_port)
            .env("EDGEWRITE_TEST_IMAGES_PORT", &images_port)
            .env("EDGEWRITE_PROXY_ENDPOINT", proxy.as_ref().map(|p| p.endpoint()).unwrap_or_default())
            .env("EDGEWRITE_TEST_LEGACY_PORT", &legacy_port)
            .env("EDGEWRITE_TEST_UPSTREAM_SECRET", &upstream_secret)
            .env("EDGEWRITE_CLI", cli.as_deref().map(|p| p.as_os_str()).unwrap_or_default())
            .env("EDGEWRITE_FUNCTION_EXAMPLES", &examples)
            .env("EDGEWRITE_CHROMIUM", tools.chromium.as_deref().map(|p| p.as_os_str()).unwrap_or_default())
            .status()
            .context("running node --test")?;
        counts = tap_counts(&std::fs::read_to_string(&tap).unwrap_or_default());
        if !status.success() && counts.1 == 0 {
            bail!("node --test failed before reporting results ({status}); see {}", run_dir.display());
        }
    }
    if files.is_empty() || files.iter().any(|f| f == "python") {
        let (passed, failed, skipped) = python_flows(tools, &server.endpoint(), &key, &run_dir)?;
        counts = (counts.0 + passed, counts.1 + failed, counts.2 + skipped);
    }
    drop(server);
    drop(proxy);
    Ok(counts)
}

/// tests/python/test_sdk.py (the official Python SDK) against the suite's server, then the model
/// check of every answer it received (tests/e2e/check-answers.mjs, one more test): the counts,
/// or one skip without a Python SDK.
fn python_flows(tools: &tools::Tools, endpoint: &str, key: &str, run_dir: &Path) -> Result<(u64, u64, u64)> {
    let Some(python) = &tools.python_sdk else {
        println!("﹣ python SDK flows skipped: no Python 3 to install the SDK with");
        return Ok((0, 0, 1));
    };
    step("Python SDK flows (tests/python/test_sdk.py)");
    let answers = run_dir.join("python-answers.jsonl");
    let _ = std::fs::remove_file(&answers);
    let out = Command::new(python)
        .arg(repo_root().join("tests/python/test_sdk.py"))
        .env("EDGEWRITE_MODEL_ANSWERS", &answers)
        .env("EDGEWRITE_ENDPOINT", endpoint)
        .env("EDGEWRITE_PROJECT_ID", "test")
        .env("EDGEWRITE_API_KEY", key)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running tests/python/test_sdk.py")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    let summary = stdout.lines().rev().find_map(|l| l.strip_prefix("python SDK: "));
    let count = |word: &str| -> Option<u64> {
        summary?.split(", ").find_map(|part| part.strip_suffix(word)?.trim().parse().ok())
    };
    let (passed, failed) = match (count(" passed"), count(" failed")) {
        (Some(passed), Some(failed)) => (passed, failed),
        _ => bail!("tests/python/test_sdk.py ended without its summary ({})", out.status),
    };
    step("model check of the Python SDK's answers (tests/e2e/check-answers.mjs)");
    let checked = Command::new(&tools.test_node)
        .arg("e2e/check-answers.mjs")
        .arg(&answers)
        .arg("python")
        .current_dir(repo_root().join("tests"))
        .status()
        .context("running tests/e2e/check-answers.mjs")?;
    Ok(if checked.success() { (passed + 1, failed, 0) } else { (passed, failed + 1, 0) })
}

fn bench() -> Result<()> {
    let tools = tools::ensure(true)?;
    let mut artifacts = vec![build::worker(&tools)?];
    artifacts.extend(build::spin()?);
    let spin_host = build::spin_host_optimised()?;
    let mut results = serde_json::json!({});
    for runtime in [Runtime::Workerd, Runtime::SpinHost(&spin_host)] {
        results[runtime.name()] = bench_runtime(&tools, runtime)?;
    }
    // Spin host over workerd, scenario by scenario: what to compare across machines.
    let pairs: Vec<_> = results["workerd"]["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| {
            let s = results["spin"]["scenarios"].as_array()?.iter().find(|s| s["name"] == w["name"] && s["concurrency"] == w["concurrency"])?;
            let ratio = s["p50_ms"].as_f64()? / w["p50_ms"].as_f64()?;
            Some(serde_json::json!({"name": w["name"], "concurrency": w["concurrency"], "spin_p50_over_workerd_p50": (ratio * 100.0).round() / 100.0}))
        })
        .collect();
    results["spin_vs_workerd"] = pairs.into();
    results["artifacts"] = artifacts
        .iter()
        .map(|a| serde_json::json!({"name": a.name, "raw_bytes": a.raw, "gzip_bytes": a.gzip}))
        .collect();
    let dest = repo_root().join("bench/results.json");
    std::fs::create_dir_all(dest.parent().expect("bench/ has a parent"))?;
    // `bench --vs pocketbase` keeps its last results in the same file.
    if let Some(vs) = std::fs::read(&dest)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|previous| previous.get("vs_pocketbase").cloned())
    {
        results["vs_pocketbase"] = vs;
    }
    std::fs::write(&dest, serde_json::to_string_pretty(&results)?)?;

    println!(
        "{:<40} {:>5} {:>7} {:>9} {:>9} {:>10} {:>9}",
        "scenario", "conc", "reqs", "p50 ms", "p99 ms", "req/s", "runtime"
    );
    for runtime in ["workerd", "spin"] {
        for s in results[runtime]["scenarios"].as_array().into_iter().flatten() {
            println!(
                "{:<40} {:>5} {:>7} {:>9.2} {:>9.2} {:>10.0} {:>9}",
                s["name"].as_str().unwrap_or("?"),
                s["concurrency"],
                s["requests"],
                s["p50_ms"].as_f64().unwrap_or(0.0),
                s["p99_ms"].as_f64().unwrap_or(0.0),
                s["throughput_rps"].as_f64().unwrap_or(0.0),
                runtime
            );
        }
        if let Some(ms) = results[runtime]["argon2id_verify_estimate_ms"].as_f64() {
            println!("Argon2id verify on {runtime} ≈ {ms:.1} ms (login p50 − account.get p50, c=1)");
        }
        if let Some(kib) = results[runtime]["peak_rss_kib"].as_u64() {
            println!("{runtime} peak RSS (largest process of the server): {:.1} MiB", kib as f64 / 1024.0);
        }
    }
    build::print_sizes(&artifacts);
    println!("wrote {}", dest.display());
    Ok(())
}

fn bench_runtime(tools: &tools::Tools, runtime: Runtime<'_>) -> Result<serde_json::Value> {
    let run_dir = repo_root().join("target/bench").join(runtime.name());
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir)?;
    let key = generate_key()?;
    let port = server::free_port()?;
    // The messaging scenarios deliver to the providers' stand-ins (tests/e2e/providers.mjs).
    let providers_port = server::port_for_later()?.to_string();
    let providers_origin = format!("http://127.0.0.1:{providers_port}");
    let providers_urls = format!("twilio={providers_origin},vonage={providers_origin}");
    let server = runtime.start(
        tools,
        port,
        &run_dir.join("state"),
        &[
            ("EDGEWRITE_PROJECTS", "bench"),
            ("EDGEWRITE_API_KEY", &key),
            ("EDGEWRITE_MESSAGING_BASE_URLS", &providers_urls),
            ("EDGEWRITE_MESSAGING_ORIGIN", &providers_origin),
            // The fan-out scenario's subscribers each name their own address, as behind a proxy.
            ("EDGEWRITE_TRUSTED_CLIENT_IP_HEADER", "x-forwarded-for"),
        ],
        &run_dir.join("server.log"),
        false,
    )?;
    let examples = build::function_examples()?;
    step(&format!("load scenarios on {} (tests/bench/load.mjs)", runtime.name()));
    let out = Command::new(&tools.test_node)
        .env("EDGEWRITE_FUNCTION_EXAMPLES", &examples)
        .env("EDGEWRITE_TEST_PROVIDERS_PORT", &providers_port)
        .arg("bench/load.mjs")
        .current_dir(repo_root().join("tests"))
        .env("EDGEWRITE_ENDPOINT", server.endpoint())
        .env("EDGEWRITE_PROJECT_ID", "bench")
        .env("EDGEWRITE_API_KEY", &key)
        .env("EDGEWRITE_RUNTIME", runtime.name())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the load client")?;
    let peak_kib = server::peak_rss_kib(server.pid());
    drop(server);
    if !out.status.success() {
        bail!("the load client failed on {} ({})", runtime.name(), out.status);
    }
    let mut results: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("load client output is not JSON")?;
    results["peak_rss_kib"] = peak_kib.into();
    Ok(results)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dev_hands_every_edgewrite_setting_to_the_server_the_environment_winning() {
        let dev_vars = "# mail for local development\nEDGEWRITE_SMTP_HOST=127.0.0.1\nEDGEWRITE_MAIL_FROM=\"dev@acme.test\"\nOTHER=x\n";
        let env = [
            ("EDGEWRITE_SMTP_HOST".to_string(), "mail.local".to_string()),
            ("EDGEWRITE_ABUSE_LIMITS".to_string(), "off".to_string()),
            ("EDGEWRITE_PORT".to_string(), "9000".to_string()),
            ("EDGEWRITE_API_KEY".to_string(), "from-env".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let settings = super::dev_settings(dev_vars, &env, "dev", "the-key");
        let get = |name: &str| settings.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("EDGEWRITE_SMTP_HOST"), Some("mail.local"), "the environment wins over .dev.vars");
        assert_eq!(get("EDGEWRITE_MAIL_FROM"), Some("dev@acme.test"));
        assert_eq!(get("EDGEWRITE_ABUSE_LIMITS"), Some("off"));
        assert_eq!(get("EDGEWRITE_API_KEY"), Some("the-key"));
        assert_eq!(get("EDGEWRITE_PROJECTS"), Some("dev"));
        assert_eq!((get("EDGEWRITE_PORT"), get("OTHER"), get("PATH")), (None, None, None));

        let more = [("EDGEWRITE_PROJECTS".to_string(), "shop, blog".to_string())];
        let settings = super::dev_settings("", &more, "dev", "the-key");
        let served = settings.iter().find(|(n, _)| n == "EDGEWRITE_PROJECTS").map(|(_, v)| v.as_str());
        assert_eq!(served, Some("dev,shop, blog"), "the ready line's project is served too");
        let settings = super::dev_settings("", &more, "blog", "the-key");
        let served = settings.iter().find(|(n, _)| n == "EDGEWRITE_PROJECTS").map(|(_, v)| v.as_str());
        assert_eq!(served, Some("shop, blog"));
    }

    #[test]
    fn spin_variables_are_read_from_the_manifest() {
        let names =
            super::spin_variables(&std::fs::read_to_string(crate::repo_root().join("spin.toml")).unwrap());
        assert!(names.contains(&"edgewrite_api_key".to_string()));
        assert!(names.contains(&"edgewrite_smtp_host".to_string()));
        assert!(!names.iter().any(|n| n.contains(' ') || n.starts_with('[')), "{names:?}");
    }
    #[test]
    fn tap_summary_is_read() {
        let tap = "TAP version 13\nok 1 - a\n# tests 3\n# pass 2\n# fail 1\n# skipped 0\n";
        assert_eq!(super::tap_counts(tap), (2, 1, 0));
    }
}
