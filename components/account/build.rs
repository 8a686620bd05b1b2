//! Builds the common-password dictionary from the zxcvbn crate (MIT; the Rust port of Dropbox's
//! zxcvbn), a build-dependency used only for its ranked password list: the 10,000 most common
//! entries go into `$OUT_DIR/common_passwords.txt`, lower-cased, one per line, and
//! `password.rs` embeds that file. Nothing of the list lives in this repository.

use std::path::PathBuf;
use std::process::Command;

const TOP: usize = 10_000;
/// Must match the pinned build-dependency.
const ZXCVBN: &str = "3.1.1";

/// The zxcvbn source directory: in cargo's registry cache (the usual case, no subprocess), else
/// wherever `cargo metadata` says (vendored or patched builds).
fn zxcvbn_dir() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(registry) = cargo_home.map(|h| h.join("registry/src")) {
        for index in std::fs::read_dir(registry).into_iter().flatten().flatten() {
            let dir = index.path().join(format!("zxcvbn-{ZXCVBN}"));
            if dir.join("src/frequency_lists.rs").exists() {
                return dir;
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--manifest-path"]).arg(manifest.join("Cargo.toml"));
    if let Ok(host) = std::env::var("HOST") {
        cmd.args(["--filter-platform", &host]);
    }
    let out = cmd.output().expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "zxcvbn")
        .and_then(|p| p["manifest_path"].as_str())
        .and_then(|m| PathBuf::from(m).parent().map(PathBuf::from))
        .expect("zxcvbn is a build-dependency")
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let source = zxcvbn_dir().join("src/frequency_lists.rs");
    let text = std::fs::read_to_string(&source).expect("zxcvbn ships src/frequency_lists.rs");
    let start = text.find("const PASSWORDS: &str = \"").expect("zxcvbn's password list") + 25;
    let end = start + text[start..].find('"').expect("the list is one string literal");
    let mut words: Vec<String> = text[start..end].split(',').take(TOP).map(str::to_lowercase).collect();
    assert_eq!(words.len(), TOP, "zxcvbn's list is shorter than expected");
    words.sort();
    words.dedup();
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("common_passwords.txt");
    std::fs::write(dest, words.join("\n")).expect("OUT_DIR is writable");
}
