//! Release artifacts: the Worker (worker-build → `components/cloudflare/build/`) and the Spin
//! components (`build/spin/*.wasm`), with their sizes.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::tools::Tools;
use crate::{repo_root, run, step};

/// The Spin components, one per capability (crate name → artifact stem).
pub const SPIN_COMPONENTS: &[&str] = &[
    "edgewrite_spin_health",
    "edgewrite_spin_account",
    "edgewrite_spin_databases",
    "edgewrite_spin_storage",
    "edgewrite_spin_functions",
];

pub struct Artifact {
    pub name: String,
    pub path: PathBuf,
    pub raw: u64,
    pub gzip: u64,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

fn artifact(name: &str, path: PathBuf) -> Result<Artifact> {
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes)?;
    let gzip = gz.finish()?.len() as u64;
    Ok(Artifact { name: name.to_string(), path, raw: bytes.len() as u64, gzip })
}

/// What identifies a built file: its size and modification time.
fn stamp_of(path: &std::path::Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", meta.len(), modified.as_nanos()))
}

pub fn worker(tools: &Tools) -> Result<Artifact> {
    step("building the Worker (release, wasm32-unknown-unknown)");
    let root = repo_root();
    let output = root.join("components/cloudflare/build/index_bg.wasm");
    // worker-build runs wasm-bindgen and a minute of wasm-opt even when cargo had nothing to
    // do: build first, and skip it when the library is the one it last processed.
    run(Command::new("cargo").args([
        "build",
        "--quiet",
        "--lib",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "edgewrite-cloudflare",
    ]))?;
    let library = stamp_of(&target_dir().join("wasm32-unknown-unknown/release/edgewrite_cloudflare.wasm"));
    let stamp_file = root.join("components/cloudflare/build/.library-stamp");
    if library.is_some() && output.exists() && std::fs::read_to_string(&stamp_file).ok() == library {
        eprintln!("the Worker is up to date");
        return artifact("worker (index_bg.wasm)", output);
    }
    let node_modules = root.join("tests/node_modules");
    let path = format!("{}:{}", tools.bin.display(), std::env::var("PATH").unwrap_or_default());
    run(Command::new(tools.bin.join("worker-build"))
        .arg("--release")
        .current_dir(root.join("components/cloudflare"))
        .env("PATH", path)
        // worker-build would download these from GitHub; hand it the local ones.
        .env("WASM_BINDGEN_BIN", tools.bin.join("wasm-bindgen"))
        .env("WASM_OPT_BIN", node_modules.join(".bin/wasm-opt"))
        .env("ESBUILD_BIN", node_modules.join("@esbuild/linux-x64/bin/esbuild")))?;
    if let Some(library) = library {
        std::fs::write(&stamp_file, library)?;
    }
    artifact("worker (index_bg.wasm)", output)
}

pub fn spin() -> Result<Vec<Artifact>> {
    step("building the Spin components (release, wasm32-wasip2)");
    let mut cmd = Command::new("cargo");
    cmd.args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"]);
    for c in SPIN_COMPONENTS {
        cmd.args(["-p", &c.replace('_', "-")]);
    }
    run(&mut cmd)?;
    let out = repo_root().join("build/spin");
    std::fs::create_dir_all(&out)?;
    SPIN_COMPONENTS
        .iter()
        .map(|c| {
            let built = target_dir().join(format!("wasm32-wasip2/release/{c}.wasm"));
            let dest = out.join(format!("{c}.wasm"));
            std::fs::copy(&built, &dest).with_context(|| format!("copying {}", built.display()))?;
            artifact(c, dest)
        })
        .collect()
}

/// Prints each artifact's size and its change since the last build that printed it (kept in
/// `build/sizes.json`, which is not committed), so a change's cost in bytes is seen at once.
pub fn print_sizes(artifacts: &[Artifact]) {
    let record = repo_root().join("build/sizes.json");
    let mut last: serde_json::Map<String, serde_json::Value> =
        std::fs::read(&record).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    for a in artifacts {
        let change = last
            .get(&a.name)
            .and_then(|v| Some((v.get("raw")?.as_i64()?, v.get("gzip")?.as_i64()?)))
            .map(|(raw, gzip)| (a.raw as i64 - raw, a.gzip as i64 - gzip))
            .filter(|change| *change != (0, 0))
            .map(|(raw, gzip)| format!("  ({raw:+} raw, {gzip:+} gzip since the last build)"))
            .unwrap_or_default();
        println!("  {:<32} {:>9} bytes raw  {:>9} bytes gzip{change}", a.name, a.raw, a.gzip);
        last.insert(a.name.clone(), serde_json::json!({"raw": a.raw, "gzip": a.gzip}));
    }
    let written = std::fs::create_dir_all(repo_root().join("build"))
        .and_then(|_| std::fs::write(&record, serde_json::Value::Object(last).to_string()));
    if let Err(e) = written {
        eprintln!("xtask: could not record the sizes in {}: {e}", record.display());
    }
}

/// Builds the Spin test host (debug: it only serves tests) and returns the binary's path.
pub fn spin_host() -> Result<PathBuf> {
    step("building the Spin test host (components/spin-test-host)");
    run(Command::new("cargo").args(["build", "--quiet", "-p", "edgewrite-spin-test-host"]))?;
    Ok(target_dir().join("debug/edgewrite-spin-test-host"))
}

/// Builds the Spin test host optimised (profile `host-release`) for the benchmark: the debug
/// host runs wasmtime's runtime and SQLite unoptimised, which doubled the CPU of every request
/// and would be measured as edgewrite's.
pub fn spin_host_optimised() -> Result<PathBuf> {
    step("building the Spin test host, optimised (components/spin-test-host, profile host-release)");
    run(Command::new("cargo").args([
        "build",
        "--quiet",
        "--profile",
        "host-release",
        "-p",
        "edgewrite-spin-test-host",
    ]))?;
    Ok(target_dir().join("host-release/edgewrite-spin-test-host"))
}

/// Builds the `edgewrite` migration CLI (debug) and returns the binary's path.
pub fn cli() -> Result<PathBuf> {
    step("building the edgewrite CLI (components/cli)");
    run(Command::new("cargo").args(["build", "--quiet", "-p", "edgewrite-cli"]))?;
    Ok(target_dir().join("debug/edgewrite"))
}

/// Builds the example functions (`examples/functions`, release, wasm32-wasip1) and returns the
/// directory holding their `.wasm` files.
pub fn function_examples() -> Result<PathBuf> {
    step("building the example functions (examples/functions, release, wasm32-wasip1)");
    run(Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(repo_root().join("examples/functions/Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir()))?;
    Ok(target_dir().join("wasm32-wasip1/release"))
}
