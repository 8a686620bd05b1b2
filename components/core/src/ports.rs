//! The ports: what capability code may ask of the platform (`DESIGN.md` "Layers"). Each runtime
//! adapter implements them; `edgewrite-conformance` holds every adapter to the same behaviour.
//!
//! Traits are async and `?Send`: Workers and Spin are single-threaded.

use async_trait::async_trait;
use thiserror::Error;

/// A SQLite value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            // Cloudflare's SQL API hands back whole REAL values as integers and vice versa.
            Value::Real(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Real(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One SQL statement with positional `?` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
    /// When set, a batch fails with [`StoreError::GuardFailed`] (and rolls back) unless this
    /// statement changed exactly this many rows: the `WHERE version = ?` guard of DESIGN.md.
    pub expect_changes: Option<u64>,
    /// A read whose rows change only when the tables of its [`CachedRead`] do: a runtime
    /// whose every write passes through it may answer the read from a cache that each write
    /// naming one of those tables clears.
    pub cached: Option<CachedRead>,
}

/// The kinds of cacheable reads, each with the tables whose writes may change its rows. The
/// read must not depend on anything else, the clock included: a session's expiry is checked on
/// the rows, not in the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CachedRead {
    /// Databases, collections, their attributes and indexes.
    Schema,
    /// Who a session is: its user, the user's teams and second factors.
    Identity,
}

impl CachedRead {
    pub const ALL: [CachedRead; 2] = [CachedRead::Schema, CachedRead::Identity];

    pub fn tables(self) -> &'static [&'static str] {
        match self {
            CachedRead::Schema => &["databases", "collections", "attributes", "indexes"],
            CachedRead::Identity => &["sessions", "users", "memberships", "teams", "mfa_authenticators"],
        }
    }

    /// Whether `statement` (a write) may change what reads of this kind return. By name, so a
    /// table that merely contains one (a collection called `users`) clears the cache too.
    pub fn changed_by(self, statement: &Statement) -> bool {
        self.tables().iter().any(|t| statement.sql.contains(t))
    }
}

impl Statement {
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self { sql: sql.into(), params, expect_changes: None, cached: None }
    }

    /// Marks a read a runtime may cache (see [`Statement::cached`]).
    pub fn cached(mut self, kind: CachedRead) -> Self {
        self.cached = Some(kind);
        self
    }

    /// Requires the statement to change exactly `n` rows for its batch to commit.
    pub fn expect_changes(mut self, n: u64) -> Self {
        self.expect_changes = Some(n);
        self
    }
}

/// Result rows of one statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows changed by an INSERT/UPDATE/DELETE (SQLite's `changes()`); 0 for queries.
    pub changes: u64,
}

impl Rows {
    /// The value of `column` in row `row`, if both exist.
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        let col = self.columns.iter().position(|c| c == column)?;
        self.rows.get(row)?.get(col)
    }
}

/// Failures of a store port. Adapters map their platform errors onto these.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StoreError {
    /// A UNIQUE / PRIMARY KEY / CHECK / NOT NULL constraint refused the write.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// A statement's `expect_changes` guard did not hold; nothing in the batch was written.
    #[error("guard of statement {statement} failed: expected {expected} changed rows, got {actual}")]
    GuardFailed { statement: usize, expected: u64, actual: u64 },
    /// The SQL itself is wrong (a bug in edgewrite).
    #[error("invalid statement: {0}")]
    Invalid(String),
    /// The store could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Another writer held the database past the busy timeout; retrying may succeed.
    #[error("store busy: {0}")]
    Busy(String),
    /// A side effect was refused because this serving of the request waits on work done
    /// elsewhere ([`Offload`]); the request is served again once that work is done.
    #[error("store deferred: the request is served again once offloaded work is done")]
    Deferred,
}

impl StoreError {
    /// Classifies a SQLite error message the same way on every runtime.
    pub fn from_sqlite_message(message: impl Into<String>) -> StoreError {
        let message = message.into();
        if message.contains("constraint failed") || message.contains("SQLITE_CONSTRAINT") {
            StoreError::Constraint(message)
        } else if message.contains("database is locked") || message.contains("SQLITE_BUSY") {
            StoreError::Busy(message)
        } else if message.contains("syntax error")
            || message.contains("no such table")
            || message.contains("no such column")
        {
            StoreError::Invalid(message)
        } else {
            StoreError::Unavailable(message)
        }
    }
}

/// The system of record: one SQLite database per project.
#[async_trait(?Send)]
pub trait Sql {
    /// Runs one statement outside any batch.
    async fn query(&self, statement: Statement) -> Result<Rows, StoreError> {
        let mut out = self.batch(vec![statement]).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Runs the statements in order as one transaction: all commit, or none do.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError>;
}

/// An inclusive-exclusive byte range `start..end` of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// File bytes.
#[async_trait(?Send)]
pub trait Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError>;
    /// The whole blob, or the part of it in `range` (clamped to its size); `None` if absent.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deleting an absent blob is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Small hot values with a time to live: a cache, never the only home of anything.
#[async_trait(?Send)]
pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value`; with `ttl_secs` it disappears after at least that long. Platforms round
    /// short TTLs up (Workers KV: 60 s minimum).
    async fn put(&self, key: &str, value: Vec<u8>, ttl_secs: Option<u32>) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Wall-clock time.
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// A cryptographically secure random source.
pub trait Random {
    fn fill(&self, buf: &mut [u8]);
}

/// A realtime event, published after the write that caused it committed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub names: Vec<String>,
    pub channels: Vec<String>,
    pub payload: serde_json::Value,
    /// Roles allowed to see the event.
    pub roles: Vec<String>,
    /// Roles (`user:U`, `team:T`, `member:M`) whose holders this write may have changed (a
    /// session ended, a user blocked, a membership gone): connections holding any of them
    /// re-check who they are before the event is delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refresh_roles: Vec<String>,
}

/// Where realtime events go.
#[async_trait(?Send)]
pub trait Events {
    /// The events of one committed write, in order. `seq` is the commit sequence number the
    /// write took ([`crate::events::sequence_statement`]): writes' events are delivered in
    /// that order, and a write that took one publishes even when it has no events.
    async fn publish(&self, seq: Option<i64>, events: Vec<Event>) -> Result<(), StoreError>;
}

/// Events with nowhere to go: no subscriber can exist (Spin has no inbound WebSockets; on
/// Cloudflare until the realtime capability holds sockets in the project's object). Publishing
/// is a logged no-op.
pub struct NoSubscribers;

#[async_trait(?Send)]
impl Events for NoSubscribers {
    async fn publish(&self, _seq: Option<i64>, events: Vec<Event>) -> Result<(), StoreError> {
        tracing::debug!(events = events.len(), "events dropped: no realtime subscribers");
        Ok(())
    }
}

/// A failed outbound call (mail, SMS and push providers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The runtime does not allow this destination (or any).
    #[error("outbound connection not allowed: {0}")]
    Denied(String),
    /// Connecting, reading or writing failed.
    #[error("outbound connection failed: {0}")]
    Failed(String),
}

/// An HTTP request to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// How a TCP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP (local relays and test servers only).
    None,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// Plain at first, upgraded with [`Connection::start_tls`] (SMTP `STARTTLS`, port 587).
    StartTls,
}

/// An open TCP connection.
#[async_trait(?Send)]
pub trait Connection {
    /// Reads what is available into `buf`; 0 means the peer closed the connection.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, OutboundError>;
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutboundError>;
    /// Upgrades a connection opened with [`Tls::StartTls`] to TLS.
    async fn start_tls(self: Box<Self>) -> Result<Box<dyn Connection>, OutboundError>;
    /// Closes the connection. A runtime whose sockets do not close when dropped (a Worker's)
    /// must close them here, or the peer waits on a half-closed connection.
    async fn close(self: Box<Self>) {}
}

/// The bounds of a fetch made on a client's behalf (a remote image): its answer is read up to
/// `max_bytes` (more fails), it fails after `timeout_ms`, and redirects come back as they are,
/// so that the caller checks each hop's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchBounds {
    pub max_bytes: usize,
    pub timeout_ms: u64,
}

/// The answer to a bounded fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoundedResponse {
    pub status: u16,
    /// A redirect's `Location`, as sent.
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// Calls to the outside world: HTTP to providers, and TCP for SMTP.
#[async_trait(?Send)]
pub trait Outbound {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
    /// A `GET` within `bounds`, redirects not followed: a [`Outbound::send_bounded`].
    async fn fetch_bounded(&self, url: &str, bounds: FetchBounds) -> Result<BoundedResponse, OutboundError> {
        let request =
            OutboundRequest { method: "GET".into(), url: url.into(), headers: Vec::new(), body: Vec::new() };
        self.send_bounded(request, bounds).await
    }
    /// `request` sent once within `bounds` (a webhook delivery): its answer read up to
    /// `max_bytes` (more fails), redirects not followed. Where the runtime resolves names it
    /// must refuse a destination whose address its policy blocks, at connect time. Runtimes that
    /// cannot bound a request deny it.
    async fn send_bounded(
        &self,
        request: OutboundRequest,
        bounds: FetchBounds,
    ) -> Result<BoundedResponse, OutboundError> {
        let _ = bounds;
        Err(OutboundError::Denied(request.url))
    }
    async fn connect(&self, host: &str, port: u16, tls: Tls) -> Result<Box<dyn Connection>, OutboundError>;
}

/// A runtime without outbound networking.
pub struct NoOutbound;

#[async_trait(?Send)]
impl Outbound for NoOutbound {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        Err(OutboundError::Denied(request.url))
    }
    async fn connect(&self, host: &str, port: u16, _tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        Err(OutboundError::Denied(format!("{host}:{port}")))
    }
}

/// Work to do outside the request that asked for it: an asynchronous function execution, a
/// schedule's tick.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    pub project: String,
    /// Which capability's work it is (`functions.execution` …), see `Capability::run_job`.
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Where jobs wait to run (Cloudflare Queues).
#[async_trait(?Send)]
pub trait Jobs {
    /// Queues `job` to run after `delay_secs`. `Ok(false)`: this runtime has no queue, and the
    /// caller must do the work itself, now.
    async fn enqueue(&self, job: Job, delay_secs: u32) -> Result<bool, StoreError>;

    /// Whether this runtime has a queue (and a cron tick): without one, time-driven work must
    /// be picked up by whatever request comes next.
    fn queues(&self) -> bool {
        true
    }
}

/// A runtime without a queue: every job runs where it was asked for.
pub struct NoJobs;

#[async_trait(?Send)]
impl Jobs for NoJobs {
    async fn enqueue(&self, _job: Job, _delay_secs: u32) -> Result<bool, StoreError> {
        Ok(false)
    }

    fn queues(&self) -> bool {
        false
    }
}

/// CPU-heavy work that a runtime may do in another place than the one serving the request: on
/// Cloudflare the project's object serves requests but leaves Argon2 to the stateless Worker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Task {
    /// A new hash of `password` with the deployment's Argon2id parameters.
    HashPassword { password: String },
    /// Whether `password` matches `stored`, hashed with `algo` (`argon2`, `bcrypt` …) and
    /// `options`.
    VerifyPassword { password: String, stored: String, algo: String, options: serde_json::Value },
}

/// What a [`Task`] gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutput {
    Hash(String),
    Verified(bool),
}

/// Where [`Task`]s run. Handlers ask [`Offload::output`] first and do the task themselves on
/// `None`.
pub trait Offload {
    /// The task's output when it was done elsewhere for this request. `speculate` is the
    /// output the handler expects (the one that lets it go on): a runtime that defers the task
    /// records it and answers `speculate`, so the handler reaches every task it needs in one
    /// serving; the runtime then refuses the serving's side effects
    /// ([`StoreError::Deferred`]), throws its answer away, has the tasks done and serves the
    /// request again with their outputs. `None`: do the task here.
    fn output(&self, task: &Task, speculate: TaskOutput) -> Option<TaskOutput>;

    /// Whether this serving repeats one whose tasks were deferred: effects that must happen
    /// once per request (abuse counters) already happened.
    fn repeat(&self) -> bool {
        false
    }
}

/// Every task runs where the request is served.
pub struct Inline;

impl Offload for Inline {
    fn output(&self, _task: &Task, _speculate: TaskOutput) -> Option<TaskOutput> {
        None
    }
}

/// Deployment configuration and secrets (wrangler vars/secrets, Spin variables, env).
pub trait Secrets {
    fn get(&self, name: &str) -> Option<String>;
}

/// The platform, as one project sees it.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub sql: &'a dyn Sql,
    pub blobs: &'a dyn Blobs,
    pub kv: &'a dyn Kv,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub events: &'a dyn Events,
    pub secrets: &'a dyn Secrets,
    pub outbound: &'a dyn Outbound,
    pub jobs: &'a dyn Jobs,
    pub offload: &'a dyn Offload,
}

/// [`Clock`] and [`Random`] for runtimes whose std has a wall clock and an OS random source.
#[cfg(feature = "std-ports")]
pub mod std_ports {
    use std::time::{SystemTime, UNIX_EPOCH};

    /// The wall clock from `std::time`.
    pub struct SystemClock;

    impl super::Clock for SystemClock {
        fn now_ms(&self) -> i64 {
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
        }
    }

    /// The OS CSPRNG (`getrandom`; `wasi:random` on wasip2).
    pub struct OsRandom;

    impl super::Random for OsRandom {
        fn fill(&self, buf: &mut [u8]) {
            // Without a random source there is no safe way to mint ids or secrets.
            getrandom::fill(buf).expect("the OS random source is available");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CachedRead, Statement};

    #[test]
    fn a_cached_read_kind_is_cleared_by_writes_naming_its_tables_only() {
        let write = |sql: &str| Statement::new(sql, vec![]);
        for sql in [
            "DELETE FROM sessions WHERE user_id = ?",
            "UPDATE users SET status = ? WHERE id = ?",
            "INSERT INTO memberships (id) VALUES (?)",
            "DELETE FROM teams WHERE id = ?",
            "UPDATE mfa_authenticators SET verified = 1",
        ] {
            assert!(CachedRead::Identity.changed_by(&write(sql)), "{sql}");
            assert!(!CachedRead::Schema.changed_by(&write(sql)), "{sql}");
        }
        let schema = write("ALTER TABLE collections ADD COLUMN x");
        assert!(CachedRead::Schema.changed_by(&schema) && !CachedRead::Identity.changed_by(&schema));
        // A document write leaves both alone, unless its table's name contains one of theirs.
        assert!(!CachedRead::ALL.iter().any(|k| k.changed_by(&write("INSERT INTO c_items (id) VALUES (?)"))));
        assert!(CachedRead::Identity.changed_by(&write("INSERT INTO c_users_archive (id) VALUES (?)")));
    }
}
