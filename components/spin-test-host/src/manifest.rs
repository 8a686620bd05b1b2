//! The parts of `spin.toml` (manifest version 2) the test host honours: application variables,
//! HTTP triggers, and per component its source, SQLite databases, key-value stores and
//! variable templates. Anything else in a component is refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wasmtime::error::Context as _;
use wasmtime::{bail, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    /// Name, version, description: nothing the host needs.
    #[serde(default, rename = "application")]
    _application: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    pub trigger: Triggers,
    pub component: BTreeMap<String, Component>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Only affects how Spin shows the value; the test host never shows values.
    #[serde(default, rename = "secret")]
    _secret: bool,
}

#[derive(Debug, Deserialize)]
pub struct Triggers {
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub source: PathBuf,
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Read by `spin build`; the test host ignores it.
    #[serde(default, rename = "build")]
    _build: Option<serde::de::IgnoredAny>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if manifest.spin_manifest_version != 2 {
            bail!("only spin_manifest_version = 2 is supported");
        }
        for trigger in &manifest.trigger.http {
            if !manifest.component.contains_key(&trigger.component) {
                bail!("route {} names unknown component {}", trigger.route, trigger.component);
            }
        }
        Ok(manifest)
    }
}

/// Spin's route matching: an exact route, or `/prefix/...` matching the prefix and everything
/// under it; exact routes beat wildcards and the longest prefix wins.
pub fn route<'m>(triggers: &'m [HttpTrigger], path: &str) -> Option<(&'m HttpTrigger, String)> {
    let mut best: Option<(&HttpTrigger, usize, bool)> = None;
    for t in triggers {
        let (matched, len, exact) = match t.route.strip_suffix("/...") {
            Some(prefix) => {
                let hit = path == prefix || path.starts_with(&format!("{prefix}/"));
                (hit, prefix.len(), false)
            }
            None => (path == t.route || path == format!("{}/", t.route), t.route.len(), true),
        };
        if !matched {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, best_len, best_exact)) => {
                (exact && !best_exact) || (exact == best_exact && len > best_len)
            }
        };
        if better {
            best = Some((t, len, exact));
        }
    }
    best.map(|(t, len, _)| (t, path[len.min(path.len())..].to_string()))
}

/// Resolves a variable template (`"{{ name }}"`, possibly with literal text around it).
pub fn resolve_template(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or_else(|| format!("unterminated template {template:?}"))?;
        let name = rest[start + 2..start + end].trim();
        out.push_str(values.get(name).ok_or_else(|| format!("no value for variable {name}"))?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(route: &str, component: &str) -> HttpTrigger {
        HttpTrigger { route: route.into(), component: component.into() }
    }

    #[test]
    fn routes_match_like_spin() {
        let triggers =
            [t("/v1/health", "a"), t("/v1/health/...", "b"), t("/v1/account/...", "c"), t("/...", "d")];
        assert_eq!(route(&triggers, "/v1/health").unwrap().0.component, "a");
        assert_eq!(route(&triggers, "/v1/health/db").unwrap().0.component, "b");
        assert_eq!(route(&triggers, "/v1/account").unwrap().0.component, "c");
        assert_eq!(route(&triggers, "/v1/accounts").unwrap().0.component, "d");
        assert!(route(&triggers[..3], "/v1/other").is_none());
    }

    #[test]
    fn templates_resolve() {
        let values = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert_eq!(resolve_template("{{ a }}", &values).unwrap(), "1");
        assert_eq!(resolve_template("x{{a}}y", &values).unwrap(), "x1y");
        assert!(resolve_template("{{ b }}", &values).is_err());
    }
}
