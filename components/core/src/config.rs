//! Deployment settings, read once per request from the [`Secrets`] port. Every name here is
//! documented in the README ("Configuration").

use crate::limits::Limits;
use crate::ports::Secrets;

/// Every deployment variable edgewrite reads. Runtimes whose variables are async (Spin) load
/// these up front.
pub const VARIABLES: &[&str] = &[
    "EDGEWRITE_PROJECTS",
    "EDGEWRITE_UPSTREAM",
    "EDGEWRITE_UPSTREAM_ROUTES",
    "EDGEWRITE_UPSTREAM_SECRET",
    "EDGEWRITE_UPSTREAM_TIMEOUT_MS",
    "EDGEWRITE_API_KEY",
    "EDGEWRITE_ALLOWED_ORIGINS",
    "EDGEWRITE_MAX_BODY_BYTES",
    "EDGEWRITE_ENCRYPTION_KEY",
    "EDGEWRITE_TEST_ROUTES",
    "EDGEWRITE_LOG",
    "EDGEWRITE_ABUSE_LIMITS",
    "EDGEWRITE_TRUSTED_CLIENT_IP_HEADER",
    "EDGEWRITE_TRUSTED_COUNTRY_HEADER",
    "EDGEWRITE_OUTBOUND_PRIVATE_ORIGINS",
    "EDGEWRITE_WEBHOOKS_ALLOWED_HOSTS",
    "EDGEWRITE_WEBHOOKS_RETRY_SECONDS",
    "EDGEWRITE_SESSION_DURATION",
    "EDGEWRITE_SESSION_LIMIT",
    "EDGEWRITE_PASSWORD_HISTORY",
    "EDGEWRITE_PASSWORD_PERSONAL_DATA",
    "EDGEWRITE_PASSWORD_DICTIONARY",
    "EDGEWRITE_ARGON2",
    "EDGEWRITE_PROJECT_NAME",
    "EDGEWRITE_MAIL_FROM",
    "EDGEWRITE_MAIL_FROM_NAME",
    "EDGEWRITE_MAIL_REPLY_TO",
    "EDGEWRITE_SMTP_HOST",
    "EDGEWRITE_SMTP_PORT",
    "EDGEWRITE_SMTP_SECURE",
    "EDGEWRITE_SMTP_USERNAME",
    "EDGEWRITE_SMTP_PASSWORD",
    "EDGEWRITE_MAIL_API",
    "EDGEWRITE_MAIL_API_KEY",
    "EDGEWRITE_MAIL_API_URL",
    "EDGEWRITE_MAILGUN_DOMAIN",
    "EDGEWRITE_SMS_PROVIDER",
    "EDGEWRITE_SMS_FROM",
    "EDGEWRITE_SMS_ACCOUNT",
    "EDGEWRITE_SMS_TOKEN",
    "EDGEWRITE_SMS_API_URL",
    "EDGEWRITE_FUNCTIONS_MEMORY_MB",
    "EDGEWRITE_FUNCTIONS_FUEL_PER_SECOND",
    "EDGEWRITE_FUNCTIONS_MAX_CPU_SECONDS",
    "EDGEWRITE_FUNCTIONS_ALLOWED_HOSTS",
    "EDGEWRITE_PUBLIC_ENDPOINT",
    "EDGEWRITE_MESSAGING_BASE_URLS",
    "EDGEWRITE_OAUTH2_PROVIDERS",
    "EDGEWRITE_OAUTH2_BASE_URLS",
];

/// Password rules and hashing parameters (Appwrite's project `auths` settings, per deployment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Refuse the last N passwords of a user (`EDGEWRITE_PASSWORD_HISTORY`, 0–20, default 0).
    pub history: u32,
    /// Refuse passwords containing the user's id, name, email or phone
    /// (`EDGEWRITE_PASSWORD_PERSONAL_DATA=on`, default off, as in Appwrite).
    pub personal_data: bool,
    /// Refuse the 10,000 most common passwords (`EDGEWRITE_PASSWORD_DICTIONARY`, default on).
    pub dictionary: bool,
    /// Argon2id memory (KiB), time cost and parallelism for new hashes
    /// (`EDGEWRITE_ARGON2=m,t,p`, default `7168,5,1`, one of OWASP's equivalent sets).
    pub argon2: (u32, u32, u32),
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { history: 0, personal_data: false, dictionary: true, argon2: (7_168, 5, 1) }
    }
}

/// `name=url` pairs, comma-separated (the `…_BASE_URLS` variables), trimmed, without a trailing
/// slash on the URL; malformed and empty pairs are left out.
pub fn url_overrides(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_end_matches('/').to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

fn parse_argon2(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split(',').map(|p| p.trim().parse::<u32>().ok());
    let (m, t, p) = (it.next()??, it.next()??, it.next()??);
    // Below these Argon2 is not worth having; the crate refuses some of them anyway.
    // Above m=65536 KiB, t=10 a login would not fit a Worker (128 MB, CPU limits); stored hashes
    // beyond these never verify, so the policy may not produce them.
    let ok = m >= 8 * p && (4096..=65_536).contains(&m) && (1..=10).contains(&t) && (1..=16).contains(&p);
    (ok && it.next().is_none()).then_some((m, t, p))
}

/// Which browser origins may call the API with credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Echo any origin (local development, tests).
    Any,
    /// Exact origins (`https://app.example.com`) or bare host names (`app.example.com`, any
    /// scheme and port).
    List(Vec<String>),
}

impl AllowedOrigins {
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => {
                let host = crate::http::host_of(origin);
                list.iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(origin) || allowed.eq_ignore_ascii_case(host))
            }
        }
    }
}

/// The deployment configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Project ids this deployment serves (`EDGEWRITE_PROJECTS`, comma-separated).
    pub projects: Vec<String>,
    /// The bootstrap API key with every scope (`EDGEWRITE_API_KEY`, a secret).
    pub api_key: Option<String>,
    /// `EDGEWRITE_ALLOWED_ORIGINS`: `*` or a comma-separated list.
    pub allowed_origins: AllowedOrigins,
    pub limits: Limits,
    /// `EDGEWRITE_TEST_ROUTES=1` mounts the port conformance route (tests only).
    pub test_routes: bool,
    /// `EDGEWRITE_ABUSE_LIMITS=off` disables the abuse limiter.
    pub abuse_limits: bool,
    /// `EDGEWRITE_TRUSTED_CLIENT_IP_HEADER`: the header that carries the client's address, set by
    /// the edge or proxy in front (lower-case; empty: none, the connection's peer alone). `None`
    /// when unset: the runtime's default (Cloudflare's edge sets `cf-connecting-ip`; Spin has the
    /// peer).
    pub trusted_client_ip_header: Option<String>,
    /// `EDGEWRITE_TRUSTED_COUNTRY_HEADER`: the header a proxy in front sets to the client's
    /// country (lower-case; empty: none, the platform's own geodata alone).
    pub trusted_country_header: String,
    /// `EDGEWRITE_OUTBOUND_PRIVATE_ORIGINS`: origins (`scheme://host:port`, comma-separated) on a
    /// private network that edgewrite may fetch on a client's behalf (avatars' `image` and
    /// `favicon`); every other destination must be public (`public_url`).
    pub outbound_private_origins: Vec<String>,
    /// `EDGEWRITE_WEBHOOKS_ALLOWED_HOSTS`: hosts (`name` or `name:port`, comma-separated) a
    /// webhook may deliver to although they are not public (a receiver on a private network, a
    /// test's loopback receiver); every other webhook URL must name a public host.
    pub webhooks_allowed_hosts: Vec<String>,
    /// `EDGEWRITE_WEBHOOKS_RETRY_SECONDS`: the waits between the tries of one webhook delivery
    /// (comma-separated seconds; one try more than there are waits). Default `10,60`.
    pub webhooks_retry_secs: Vec<u32>,
    /// Session lifetime in seconds (`EDGEWRITE_SESSION_DURATION`, Appwrite's default one year).
    pub session_duration_secs: i64,
    /// Sessions kept per user; the oldest go first (`EDGEWRITE_SESSION_LIMIT`, default 10, max 100).
    pub session_limit: u32,
    pub password: PasswordPolicy,
    /// The legacy backend of a gradual migration (`EDGEWRITE_UPSTREAM…`), if any.
    pub upstream: Option<crate::upstream::Upstream>,
}

impl Config {
    pub fn from_secrets(secrets: &dyn Secrets) -> Config {
        let list = |name: &str| -> Vec<String> {
            secrets
                .get(name)
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        // Unset or empty means Appwrite's default platform, localhost (and its loopback
        // aliases); only an explicit `*` allows every origin.
        let origins = list("EDGEWRITE_ALLOWED_ORIGINS");
        let allowed_origins = if origins.iter().any(|o| o == "*") {
            AllowedOrigins::Any
        } else if origins.is_empty() {
            AllowedOrigins::List(vec!["localhost".into(), "127.0.0.1".into()])
        } else {
            AllowedOrigins::List(origins)
        };
        let mut limits = Limits::default();
        if let Some(n) = secrets.get("EDGEWRITE_MAX_BODY_BYTES").and_then(|v| v.trim().parse().ok()) {
            limits.max_body_bytes = n;
        }
        Config {
            projects: list("EDGEWRITE_PROJECTS"),
            api_key: secrets.get("EDGEWRITE_API_KEY").filter(|k| !k.is_empty()),
            allowed_origins,
            limits,
            test_routes: secrets.get("EDGEWRITE_TEST_ROUTES").is_some_and(|v| v == "1" || v == "true"),
            abuse_limits: !secrets.get("EDGEWRITE_ABUSE_LIMITS").is_some_and(|v| v == "off" || v == "0"),
            trusted_client_ip_header: secrets.get("EDGEWRITE_TRUSTED_CLIENT_IP_HEADER").map(|v| {
                let name = v.trim().to_ascii_lowercase();
                if name == "none" {
                    String::new()
                } else {
                    name
                }
            }),
            trusted_country_header: secrets
                .get("EDGEWRITE_TRUSTED_COUNTRY_HEADER")
                .map(|v| v.trim().to_ascii_lowercase())
                .unwrap_or_default(),
            outbound_private_origins: list("EDGEWRITE_OUTBOUND_PRIVATE_ORIGINS"),
            webhooks_allowed_hosts: list("EDGEWRITE_WEBHOOKS_ALLOWED_HOSTS")
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            webhooks_retry_secs: {
                let waits: Vec<u32> = list("EDGEWRITE_WEBHOOKS_RETRY_SECONDS")
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .map(|s: u32| s.min(3600))
                    .take(5)
                    .collect();
                if waits.is_empty() && secrets.get("EDGEWRITE_WEBHOOKS_RETRY_SECONDS").is_none() {
                    vec![10, 60]
                } else {
                    waits
                }
            },
            session_duration_secs: secrets
                .get("EDGEWRITE_SESSION_DURATION")
                .and_then(|v| v.trim().parse().ok())
                .filter(|d: &i64| *d > 0)
                .unwrap_or(31_536_000),
            session_limit: secrets
                .get("EDGEWRITE_SESSION_LIMIT")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(10u32)
                .clamp(1, 100),
            password: PasswordPolicy {
                history: secrets
                    .get("EDGEWRITE_PASSWORD_HISTORY")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0u32)
                    .min(20),
                personal_data: secrets
                    .get("EDGEWRITE_PASSWORD_PERSONAL_DATA")
                    .is_some_and(|v| v == "on" || v == "1" || v == "true"),
                dictionary: !secrets
                    .get("EDGEWRITE_PASSWORD_DICTIONARY")
                    .is_some_and(|v| v == "off" || v == "0" || v == "false"),
                argon2: secrets
                    .get("EDGEWRITE_ARGON2")
                    .and_then(|v| parse_argon2(&v))
                    .unwrap_or(PasswordPolicy::default().argon2),
            },
            upstream: crate::upstream::Upstream::from_secrets(secrets),
        }
    }

    pub fn serves_project(&self, project: &str) -> bool {
        self.projects.iter().any(|p| p == project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_origins_mean_localhost_only() {
        struct None_;
        impl Secrets for None_ {
            fn get(&self, _: &str) -> Option<String> {
                None
            }
        }
        let config = Config::from_secrets(&None_);
        assert!(config.allowed_origins.allows("http://localhost:5173"));
        assert!(config.allowed_origins.allows("http://127.0.0.1:3000"));
        assert!(!config.allowed_origins.allows("https://evil.example"));
    }

    #[test]
    fn argon2_parameters_parse_or_fall_back() {
        assert_eq!(parse_argon2("65536, 4, 3"), Some((65_536, 4, 3)));
        for bad in ["", "1,1,1", "19456,2", "19456,0,1", "19456,2,1,1", "x,2,1"] {
            assert_eq!(parse_argon2(bad), None, "{bad}");
        }
    }

    #[test]
    fn origin_lists_match_exact_origins_and_hosts() {
        let o = AllowedOrigins::List(vec!["https://a.example".into(), "b.example".into()]);
        assert!(o.allows("https://a.example"));
        assert!(!o.allows("http://a.example"));
        assert!(o.allows("http://b.example:5173"));
        assert!(o.allows("https://b.example"));
        assert!(!o.allows("https://evil.example"));
        assert!(!o.allows("https://b.example.evil.com"));
        assert!(AllowedOrigins::Any.allows("http://whatever"));
    }
}
