//! Holds the Spin components to `wit/edgewrite.wit`: every interface a component imports must be
//! declared there (or be one the Rust standard library pulls in), and everything declared must
//! be what the component really imports and exports, except imports the world marks optional
//! (a `// Optional:` comment line just above them): those only some components use, so a
//! component may leave them out. Read with `wasm-tools component wit`.

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
    /// The imports (also in `imports`) whose comment block starts a line with `// Optional:`.
    pub optional_imports: Vec<String>,
}

/// `import a:b/c@1.0.0;` / `export …;` lines of a WIT text (only interface items).
pub fn parse_world(wit: &str) -> World {
    let mut world = World::default();
    // Whether the run of comment lines just above the current line marks an optional import.
    let mut optional = false;
    for line in wit.lines().map(str::trim) {
        if let Some(comment) = line.strip_prefix("//") {
            optional |= comment.trim_start().starts_with("Optional:");
            continue;
        }
        let item = |prefix: &str| {
            let rest = line.strip_prefix(prefix)?.trim_end_matches(';').trim();
            (rest.contains(':') && !rest.contains(' ')).then(|| rest.to_string())
        };
        if let Some(i) = item("import ") {
            if optional {
                world.optional_imports.push(i.clone());
            }
            world.imports.push(i);
        } else if let Some(e) = item("export ") {
            world.exports.push(e);
        }
        optional = false;
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
    compare(&declared, &actual).map_err(|e| anyhow::anyhow!("{} {e}", component.display()))?;
    Ok(actual)
}

/// A component's world against the declared one: no undeclared imports, every declared import
/// that is not optional imported, and exactly the declared exports.
fn compare(declared: &World, actual: &World) -> Result<()> {
    let undeclared: Vec<_> = actual
        .imports
        .iter()
        .filter(|i| !declared.imports.contains(i) && !STD_WASI.iter().any(|p| i.starts_with(p)))
        .collect();
    let unused: Vec<_> = declared
        .imports
        .iter()
        .filter(|i| !actual.imports.contains(i) && !declared.optional_imports.contains(i))
        .collect();
    let missing_exports: Vec<_> = declared.exports.iter().filter(|e| !actual.exports.contains(e)).collect();
    if !undeclared.is_empty()
        || !unused.is_empty()
        || !missing_exports.is_empty()
        || actual.exports != declared.exports
    {
        bail!(
            "does not match wit/edgewrite.wit: undeclared imports {undeclared:?}, declared but not imported {unused:?}, exports {:?} (declared {:?})",
            actual.exports,
            declared.exports
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interface_items_only() {
        let w = parse_world("world x {\n  import spin:sqlite/sqlite@3.1.0;\n  import foo: func();\n  export wasi:http/handler@0.3.0;\n}");
        assert_eq!(w.imports, ["spin:sqlite/sqlite@3.1.0"]);
        assert_eq!(w.exports, ["wasi:http/handler@0.3.0"]);
        assert!(w.optional_imports.is_empty());
    }

    const DECLARED: &str = "world x {
  // The database.
  import spin:sqlite/sqlite@3.1.0;
  // Optional: outbound HTTP, only for the components that
  // send mail.
  import wasi:http/client@0.3.0;
  // Not optional: this one is required.
  import wasi:http/types@0.3.0;
  export wasi:http/handler@0.3.0;
}";

    fn component(imports: &[&str]) -> World {
        World {
            imports: imports.iter().map(|i| i.to_string()).collect(),
            exports: vec!["wasi:http/handler@0.3.0".into()],
            optional_imports: vec![],
        }
    }

    #[test]
    fn optional_imports_may_be_left_out_but_nothing_undeclared_may_be_added() {
        let declared = parse_world(DECLARED);
        assert_eq!(declared.optional_imports, ["wasi:http/client@0.3.0"]);
        let (db, client, types) =
            ("spin:sqlite/sqlite@3.1.0", "wasi:http/client@0.3.0", "wasi:http/types@0.3.0");
        // With or without the optional import.
        compare(&declared, &component(&[db, client, types, "wasi:cli/environment@0.2.6"])).unwrap();
        compare(&declared, &component(&[db, types])).unwrap();
        // A required import missing, or an undeclared one present.
        let err = compare(&declared, &component(&[db, client])).unwrap_err().to_string();
        assert!(err.contains("declared but not imported [\"wasi:http/types@0.3.0\"]"), "{err}");
        let err =
            compare(&declared, &component(&[db, types, "spin:mqtt/mqtt@3.0.0"])).unwrap_err().to_string();
        assert!(err.contains("undeclared imports [\"spin:mqtt/mqtt@3.0.0\"]"), "{err}");
        // Exports must still match exactly.
        let mut other = component(&[db, types]);
        other.exports.push("wasi:cli/run@0.2.6".into());
        assert!(compare(&declared, &other).is_err());
    }
}
