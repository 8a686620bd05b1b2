//! Holds the Spin components to `wit/edgewrite.wit`: every interface a component imports must be
//! declared there (or be one the Rust standard library pulls in), and everything declared must
//! be what the component really imports and exports. Read with `wasm-tools component wit`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::repo_root;
use crate::tools::Tools;

/// WASI interfaces the Rust standard library itself imports on wasm32-wasip2.
const STD_WASI: &[&str] = &["wasi:cli/", "wasi:io/", "wasi:random/", "wasi:clocks/", "wasi:filesystem/"];

#[derive(Debug, Default, PartialEq)]
pub struct World {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// `import a:b/c@1.0.0;` / `export …;` lines of a WIT text (only interface items).
pub fn parse_world(wit: &str) -> World {
    let mut world = World::default();
    for line in wit.lines().map(str::trim) {
        let item = |prefix: &str| {
            let rest = line.strip_prefix(prefix)?.trim_end_matches(';').trim();
            (rest.contains(':') && !rest.contains(' ')).then(|| rest.to_string())
        };
        if let Some(i) = item("import ") {
            world.imports.push(i);
        } else if let Some(e) = item("export ") {
            world.exports.push(e);
        }
    }
    world
}

pub fn check(tools: &Tools, component: &Path) -> Result<World> {
    let declared = parse_world(&std::fs::read_to_string(repo_root().join("wit/edgewrite.wit"))?);
    let out = Command::new(tools.bin.join("wasm-tools"))
        .args(["component", "wit"])
        .arg(component)
        .output()
        .context("running wasm-tools component wit")?;
    if !out.status.success() {
        bail!("wasm-tools failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let actual = parse_world(&String::from_utf8_lossy(&out.stdout));
    let undeclared: Vec<_> = actual
        .imports
        .iter()
        .filter(|i| !declared.imports.contains(i) && !STD_WASI.iter().any(|p| i.starts_with(p)))
        .collect();
    let unused: Vec<_> = declared.imports.iter().filter(|i| !actual.imports.contains(i)).collect();
    let missing_exports: Vec<_> = declared.exports.iter().filter(|e| !actual.exports.contains(e)).collect();
    if !undeclared.is_empty()
        || !unused.is_empty()
        || !missing_exports.is_empty()
        || actual.exports != declared.exports
    {
        bail!(
            "{} does not match wit/edgewrite.wit: undeclared imports {undeclared:?}, declared but not imported {unused:?}, exports {:?} (declared {:?})",
            component.display(),
            actual.exports,
            declared.exports
        );
    }
    Ok(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interface_items_only() {
        let w = parse_world("world x {\n  import spin:sqlite/sqlite@3.1.0;\n  import foo: func();\n  export wasi:http/handler@0.3.0;\n}");
        assert_eq!(w.imports, ["spin:sqlite/sqlite@3.1.0"]);
        assert_eq!(w.exports, ["wasi:http/handler@0.3.0"]);
    }
}
