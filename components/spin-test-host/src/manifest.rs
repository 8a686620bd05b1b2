//! The parts of `spin.toml` (manifest version 2) the test host honours: application variables,
//! HTTP triggers, and per component its source, SQLite databases, key-value stores, variable
//! templates and `allowed_outbound_hosts`. Anything else in a component is refused by name.

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
    /// Where the component may send HTTP requests: `scheme://host[:port]` entries, possibly with
    /// `{{ variable }}` templates (see [`allowed_hosts`]).
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
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

/// One `allowed_outbound_hosts` entry, parsed as Spin does: `scheme://host[:port]`, where the
/// scheme may be `*`, the host `*` (any) or `*.domain` (any subdomain of `domain`, not `domain`
/// itself), and the port `*`; without a port, `http` means 80 and `https` 443.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// `None`: any scheme.
    scheme: Option<String>,
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// The suffix, with its leading dot: `.example.com`.
    Subdomain(String),
}

/// The port a URL scheme implies when none is given.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let bad = |why: &str| format!("allowed_outbound_hosts entry {entry:?}: {why}");
        let (scheme, rest) =
            entry.trim().split_once("://").ok_or_else(|| bad("needs a scheme (scheme://host)"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty()
            || (scheme != "*" && !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
        {
            return Err(bad("invalid scheme"));
        }
        // A trailing slash is tolerated; a path is not.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(bad("must not have a path"));
        }
        let (host, port) = if rest.starts_with('[') {
            // An IPv6 literal: `[::1]` or `[::1]:8080`.
            let end = rest.find(']').ok_or_else(|| bad("unterminated IPv6 address"))?;
            let port = match &rest[end + 1..] {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("invalid port"))?),
            };
            (&rest[..=end], port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let port = match port {
            Some("*") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad("invalid port (a number or *)"))?),
            None => Some(default_port(&scheme).ok_or_else(|| bad("needs a port for this scheme"))?),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if domain.is_empty() || domain.contains('*') {
                return Err(bad("invalid wildcard host"));
            }
            HostPattern::Subdomain(format!(".{domain}"))
        } else if host.is_empty() || host.contains('*') {
            return Err(bad("invalid host (a name, *, or *.domain)"));
        } else {
            HostPattern::Exact(host)
        };
        Ok(AllowedHost { scheme: (scheme != "*").then_some(scheme), host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(scheme))
            && self.port.is_none_or(|p| p == port)
            && match &self.host {
                HostPattern::Any => true,
                HostPattern::Exact(h) => *h == host,
                HostPattern::Subdomain(suffix) => {
                    host.len() > suffix.len() && host.ends_with(suffix.as_str())
                }
            }
    }
}

/// A component's `allowed_outbound_hosts`, templates expanded from the application variables
/// (as its `variables` templates are) and parsed.
pub fn allowed_hosts(
    entries: &[String],
    values: &BTreeMap<String, String>,
) -> Result<Vec<AllowedHost>, String> {
    entries
        .iter()
        .map(|entry| {
            let expanded = resolve_template(entry, values)
                .map_err(|e| format!("allowed_outbound_hosts entry {entry:?}: {e}"))?;
            AllowedHost::parse(&expanded)
        })
        .collect()
}

/// Whether any of `allowed` lets a request go to `scheme://host[:port]` (the scheme's default
/// port when `port` is `None`).
pub fn outbound_allowed(allowed: &[AllowedHost], scheme: &str, host: &str, port: Option<u16>) -> bool {
    let Some(port) = port.or_else(|| default_port(scheme)) else {
        return false;
    };
    allowed.iter().any(|a| a.allows(scheme, host, port))
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

    fn allowed(entries: &[&str]) -> Vec<AllowedHost> {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        allowed_hosts(&entries, &BTreeMap::new()).unwrap()
    }

    #[test]
    fn outbound_exact_host_and_default_ports() {
        let a = allowed(&["https://api.resend.com", "http://127.0.0.1:8080/"]);
        assert!(outbound_allowed(&a, "https", "api.resend.com", None));
        assert!(outbound_allowed(&a, "https", "API.Resend.com", Some(443)));
        assert!(!outbound_allowed(&a, "https", "api.resend.com", Some(8443)));
        assert!(!outbound_allowed(&a, "https", "evil.resend.com", None));
        assert!(!outbound_allowed(&a, "https", "api.resend.com.evil.com", None));
        assert!(outbound_allowed(&a, "http", "127.0.0.1", Some(8080)));
        assert!(!outbound_allowed(&a, "http", "127.0.0.1", None));
        assert!(!outbound_allowed(&a, "http", "127.0.0.1", Some(8081)));
        let a = allowed(&["http://localhost"]);
        assert!(outbound_allowed(&a, "http", "localhost", Some(80)));
        assert!(!outbound_allowed(&a, "http", "localhost", Some(8080)));
    }

    #[test]
    fn outbound_scheme_mismatch_is_denied() {
        let a = allowed(&["https://api.twilio.com"]);
        assert!(!outbound_allowed(&a, "http", "api.twilio.com", Some(443)));
        assert!(!outbound_allowed(&a, "http", "api.twilio.com", None));
        let a = allowed(&["http://127.0.0.1:9000"]);
        assert!(!outbound_allowed(&a, "https", "127.0.0.1", Some(9000)));
        // `*://` takes any scheme, with an explicit port.
        let a = allowed(&["*://127.0.0.1:9000"]);
        assert!(outbound_allowed(&a, "https", "127.0.0.1", Some(9000)));
        assert!(outbound_allowed(&a, "http", "127.0.0.1", Some(9000)));
    }

    #[test]
    fn outbound_wildcard_subdomains_and_ports() {
        let a = allowed(&["https://*.example.com"]);
        assert!(outbound_allowed(&a, "https", "api.example.com", None));
        assert!(outbound_allowed(&a, "https", "a.b.example.com", None));
        assert!(!outbound_allowed(&a, "https", "example.com", None));
        assert!(!outbound_allowed(&a, "https", "badexample.com", None));
        assert!(!outbound_allowed(&a, "https", "api.example.com", Some(8443)));
        let a = allowed(&["http://127.0.0.1:*", "https://*:*"]);
        assert!(outbound_allowed(&a, "http", "127.0.0.1", Some(1)));
        assert!(outbound_allowed(&a, "http", "127.0.0.1", None));
        assert!(!outbound_allowed(&a, "http", "127.0.0.2", Some(80)));
        assert!(outbound_allowed(&a, "https", "anything.test", Some(9999)));
        assert!(outbound_allowed(&allowed(&["http://[::1]:8080"]), "http", "[::1]", Some(8080)));
        assert!(!outbound_allowed(&[], "https", "api.resend.com", None));
    }

    #[test]
    fn outbound_templates_are_expanded() {
        let values = BTreeMap::from([
            ("mail".to_string(), "https://api.resend.com".to_string()),
            ("port".to_string(), "8080".to_string()),
        ]);
        let entries = ["{{ mail }}".to_string(), "http://127.0.0.1:{{port}}".to_string()];
        let a = allowed_hosts(&entries, &values).unwrap();
        assert!(outbound_allowed(&a, "https", "api.resend.com", None));
        assert!(outbound_allowed(&a, "http", "127.0.0.1", Some(8080)));
        assert!(!outbound_allowed(&a, "http", "api.resend.com", None));
        assert!(allowed_hosts(&["{{ missing }}".to_string()], &values).is_err());
    }

    #[test]
    fn outbound_bad_entries_are_refused() {
        for bad in [
            "api.resend.com",
            "https://api.resend.com/v1",
            "https://api.resend.com:http",
            "ftp://files.example.com",
            "https://api.*.com",
            "https://",
            "",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn manifest_accepts_allowed_outbound_hosts() {
        let m: Manifest = toml::from_str(
            r#"
            spin_manifest_version = 2
            [[trigger.http]]
            route = "/..."
            component = "a"
            [component.a]
            source = "a.wasm"
            allowed_outbound_hosts = ["{{ origin }}", "https://*.example.com"]
            "#,
        )
        .unwrap();
        assert_eq!(m.component["a"].allowed_outbound_hosts, ["{{ origin }}", "https://*.example.com"]);
    }

    #[test]
    fn the_apps_spin_toml_loads_and_its_outbound_hosts_expand() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
        let m = Manifest::load(&path).unwrap();
        let mut values: BTreeMap<String, String> =
            m.variables.iter().filter_map(|(k, v)| Some((k.clone(), v.default.clone()?))).collect();
        for (id, c) in &m.component {
            allowed_hosts(&c.allowed_outbound_hosts, &values).unwrap_or_else(|e| panic!("{id}: {e}"));
            for template in c.variables.values() {
                let name = template.trim_matches(|c| c == '{' || c == '}' || c == ' ');
                assert!(m.variables.contains_key(name), "{id}: {template} names no application variable");
            }
        }
        let account = &m.component["account"].allowed_outbound_hosts;
        let a = allowed_hosts(account, &values).unwrap();
        assert!(outbound_allowed(&a, "https", "api.resend.com", None));
        assert!(outbound_allowed(&a, "https", "api.twilio.com", None));
        assert!(!outbound_allowed(&a, "https", "example.com", None));
        // A deployment pointing the mail API at a local mock.
        values.insert("edgewrite_mail_api_origin".into(), "http://127.0.0.1:8025".into());
        let a = allowed_hosts(account, &values).unwrap();
        assert!(outbound_allowed(&a, "http", "127.0.0.1", Some(8025)));
        assert!(!outbound_allowed(&a, "http", "127.0.0.1", Some(8026)));
        // Messaging providers' public APIs stay reachable, and only those.
        assert!(outbound_allowed(&a, "https", "email.eu-west-1.amazonaws.com", None));
        assert!(outbound_allowed(&a, "https", "fcm.googleapis.com", None));
        assert!(!outbound_allowed(&a, "https", "evil.googleapis.com", None));
        // Webhook receivers only once the deployment names them.
        values.insert("edgewrite_webhooks_outbound".into(), "https://*:443".into());
        for id in ["account", "databases", "storage", "functions"] {
            let hosts = allowed_hosts(&m.component[id].allowed_outbound_hosts, &values).unwrap();
            assert!(outbound_allowed(&hosts, "https", "example.com", None), "{id}");
            assert!(!outbound_allowed(&hosts, "http", "example.com", None), "{id}");
        }
    }
}
