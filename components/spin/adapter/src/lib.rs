//! The Spin runtime adapter: edgewrite's ports over Spin (`spin-sdk` 7, `wasm32-wasip2`,
//! `wasi:http@0.3.0`), and [`serve_http`], which every Spin component (one per capability,
//! `components/spin/<capability>`) calls from its `#[http_service]` handler.
//!
//! | port | Spin |
//! |---|---|
//! | `Sql` | SQLite database `default` ([`SpinSql`]): batches are `BEGIN IMMEDIATE … COMMIT` |
//! | `Blobs` | chunks in that database ([`SqlBlobs`], table `_edgewrite_blob_chunks`) |
//! | `Kv` | key-value store `default` with TTLs kept in the value ([`SpinKv`]) |
//! | `Events` | none: Spin has no inbound WebSockets, so there is no realtime to publish to |
//! | `Secrets` | Spin variables, loaded up front ([`SpinSecrets`]) |
//!
//! **One project per app.** A Spin app has one `default` database, shared by its components, and
//! its tables are not partitioned by project; so a Spin app serves only the first project of
//! `EDGEWRITE_PROJECTS` (and logs a warning if more are listed). Run one app per project.
//!
//! Needs a Spin release that speaks `wasi:http/handler@0.3.0` final (newer than 4.0.2). Local
//! `spin up` keeps the database in `.spin/sqlite_db.db`; with a remote libSQL database configured
//! instead, check that it keeps a transaction open across statements before relying on batches.

mod blobs;
mod http;
mod kv;
mod outbound;
mod sql;
mod upstream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use edgewrite_core::identity::Authenticator;
use edgewrite_core::ports::{Clock, Random, Secrets, StoreError};
use edgewrite_core::{Capability, Config, ProjectStores, Runtime};
use spin_sdk::variables;

pub use blobs::{SqlBlobs, CHUNK_BYTES};
pub use http::SpinResponse;
pub use kv::SpinKv;
pub use sql::SpinSql;

/// The SQLite database and key-value store labels the components are granted in `spin.toml`.
pub const DATABASE: &str = "default";
pub const KV_STORE: &str = "default";

pub use edgewrite_core::ports::std_ports::{OsRandom, SystemClock};

/// Spin variables, read once per request. Spin's variables are async and lower-case only, while
/// the `Secrets` port is sync and uses the upper-case names of
/// [`edgewrite_core::config::VARIABLES`], so every one is loaded up front.
#[derive(Debug, Default, Clone)]
pub struct SpinSecrets(HashMap<String, String>);

impl SpinSecrets {
    /// Loads every variable edgewrite reads. Returns the failures (other than "undefined") to log
    /// once logging is set up, since the log level is one of these variables.
    pub async fn load() -> (SpinSecrets, Vec<String>) {
        let mut values = HashMap::new();
        let mut failures = Vec::new();
        for name in edgewrite_core::config::VARIABLES {
            match variables::get(name.to_ascii_lowercase()).await {
                Ok(value) => {
                    values.insert(name.to_string(), value);
                }
                Err(variables::Error::Undefined(_)) => {}
                Err(e) => failures.push(format!("variable {}: {e:?}", name.to_ascii_lowercase())),
            }
        }
        // One Spin app has one SQLite database, and users, sessions and JWT secrets are not
        // partitioned by project in it: serving two projects would let a login in one count in
        // the other. So a Spin app serves the first listed project only.
        if let Some(projects) = values.get("EDGEWRITE_PROJECTS") {
            let mut ids = projects.split(',').map(str::trim).filter(|p| !p.is_empty());
            if let (Some(first), Some(_)) = (ids.next(), ids.next()) {
                failures.push(format!("edgewrite_projects lists several projects; a Spin app serves one, so only {first} is served"));
                let first = first.to_string();
                values.insert("EDGEWRITE_PROJECTS".to_string(), first);
            }
        }
        (SpinSecrets(values), failures)
    }
}

impl Secrets for SpinSecrets {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(&name.to_ascii_uppercase()).cloned()
    }
}

/// Set once this instance has brought the database schema up to date, so later requests it
/// serves skip the ledger query. Per instance, not per request: the schema only moves forward.
static MIGRATED: AtomicBool = AtomicBool::new(false);

/// The Spin runtime, as one request sees it.
pub struct SpinRuntime {
    secrets: SpinSecrets,
}

impl SpinRuntime {
    pub fn new(secrets: SpinSecrets) -> SpinRuntime {
        SpinRuntime { secrets }
    }
}

#[async_trait(?Send)]
impl Runtime for SpinRuntime {
    fn secrets(&self) -> &dyn Secrets {
        &self.secrets
    }
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }
    fn random(&self) -> &dyn Random {
        &OsRandom
    }
    fn outbound(&self) -> &dyn edgewrite_core::ports::Outbound {
        &outbound::SpinOutbound
    }

    /// Every project opens the app's one database (see the crate docs).
    async fn open_project<'s>(&'s self, project: &str) -> Result<ProjectStores<'s>, StoreError> {
        let sql = SpinSql::open(DATABASE).await?;
        sql.use_write_ahead_log().await;
        if !MIGRATED.load(Ordering::Acquire) {
            edgewrite_sql::migrate(&sql, SystemClock.now_ms()).await?;
            MIGRATED.store(true, Ordering::Release);
        }
        Ok(ProjectStores {
            sql: Box::new(sql.clone()),
            blobs: Box::new(SqlBlobs::new(sql)),
            kv: Box::new(SpinKv::new(KV_STORE, project)),
            events: Box::new(edgewrite_core::ports::NoSubscribers),
        })
    }
}

/// Serves one Spin request with `capabilities`: loads the variables, converts the request
/// (refusing bodies over `EDGEWRITE_MAX_BODY_BYTES` before reading them whole), runs the core
/// pipeline and converts the response back.
/// Spin collects a component's stderr into its log (`.spin/logs/<component>_stderr.txt` under
/// `spin up`). One write per line keeps lines whole when requests share an instance.
fn stderr_sink(_level: tracing::Level, line: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

pub async fn serve_http(
    req: spin_sdk::http::Request,
    capabilities: &[&dyn Capability],
    auth: Option<&dyn Authenticator>,
) -> SpinResponse {
    let (secrets, failures) = SpinSecrets::load().await;
    edgewrite_core::log::init(secrets.get("EDGEWRITE_LOG").as_deref(), stderr_sink);
    for failure in failures {
        tracing::warn!(error = %failure, "reading a Spin variable");
    }
    let runtime = SpinRuntime::new(secrets);
    let config = Config::from_secrets(runtime.secrets());
    let head = req.method() == spin_sdk::http::Method::HEAD;
    let core = match http::to_core(req, &config).await {
        Ok(core) => core,
        Err(rejected) => return http::from_core(rejected, head),
    };
    if let Some(upstream) = &config.upstream {
        if upstream.forwards(capabilities, core.method, &core.path) {
            return http::from_core(upstream::forward(&core, &config, &runtime, auth, upstream).await, head);
        }
    }
    let mut response = edgewrite_core::serve(&core, &config, &runtime, capabilities, auth).await;
    // Spin takes no inbound WebSockets (nor passes `Upgrade` on): realtime is a clear error.
    if core.path == "/v1/realtime" || response.headers.get(edgewrite_realtime::HANDSHAKE_HEADER).is_some() {
        response = edgewrite_core::Response::error(&edgewrite_realtime::unsupported());
    }
    http::from_core(edgewrite_core::serve::collect_blob_body(response, &runtime).await, head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewrite_core::ports::Ports;
    use edgewrite_native::{MemoryKv, NativeSql, RecordedEvents};
    use futures_executor::block_on;

    #[test]
    fn secrets_answer_to_the_upper_case_names() {
        let secrets = SpinSecrets(HashMap::from([("EDGEWRITE_PROJECTS".to_string(), "dev".to_string())]));
        assert_eq!(secrets.get("EDGEWRITE_PROJECTS").as_deref(), Some("dev"));
        assert_eq!(secrets.get("edgewrite_projects").as_deref(), Some("dev"));
        assert_eq!(secrets.get("EDGEWRITE_API_KEY"), None);
    }

    /// The blob case of the port suite, on the chunked store with chunks small enough that its
    /// ranges cross them (SQL and KV are Spin host calls: only the conformance route inside
    /// Spin exercises those).
    #[test]
    fn chunked_blobs_pass_the_conformance_suite() {
        let sql = NativeSql::in_memory();
        block_on(edgewrite_sql::migrate(&sql, 0)).expect("migrations apply");
        let blobs = SqlBlobs::with_chunk_size(sql, 1000);
        let other = NativeSql::in_memory();
        let (kv, events, secrets) = (MemoryKv::default(), RecordedEvents::default(), SpinSecrets::default());
        let ports = Ports {
            sql: &other,
            blobs: &blobs,
            kv: &kv,
            clock: &SystemClock,
            random: &OsRandom,
            events: &events,
            secrets: &secrets,
            outbound: &edgewrite_core::ports::NoOutbound,
            jobs: &edgewrite_core::ports::NoJobs,
            offload: &edgewrite_core::ports::Inline,
        };
        let results = block_on(edgewrite_conformance::run(&ports));
        let case = results.iter().find(|r| r.name == "blobs_round_trip").expect("the suite has a blob case");
        assert_eq!(case.error, None);
    }
}
