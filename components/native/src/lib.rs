//! The native runtime adapter: the ports over rusqlite (the same SQLite dialect as the edge),
//! files in a directory and in-memory maps. It exists for `cargo test`; nothing ships it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use async_trait::async_trait;
pub use edgewrite_core::ports::std_ports::{OsRandom, SystemClock};
use edgewrite_core::ports::{
    Blobs, ByteRange, Clock, Connection, Event, Events, Kv, Outbound, OutboundError, OutboundRequest,
    OutboundResponse, Random, Rows, Secrets, Sql, Statement, StoreError, Tls, Value,
};
use edgewrite_core::{ProjectStores, Runtime};

/// A project's database on a rusqlite connection.
pub struct NativeSql {
    conn: Rc<RefCell<rusqlite::Connection>>,
}

impl NativeSql {
    pub fn open(path: &Path) -> Result<NativeSql, StoreError> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite_error)?;
        Ok(NativeSql { conn: Rc::new(RefCell::new(conn)) })
    }

    pub fn in_memory() -> NativeSql {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite always opens");
        NativeSql { conn: Rc::new(RefCell::new(conn)) }
    }
}

fn sqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::from_sqlite_message(e.to_string())
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Integer(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Integer(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn run(conn: &rusqlite::Connection, statement: &Statement) -> Result<Rows, StoreError> {
    let mut stmt = conn.prepare(&statement.sql).map_err(sqlite_error)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let params: Vec<rusqlite::types::Value> = statement.params.iter().map(to_sql).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(sqlite_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        out.push(
            (0..columns.len())
                .map(|i| row.get_ref(i).map(from_sql))
                .collect::<Result<_, _>>()
                .map_err(sqlite_error)?,
        );
    }
    drop(rows);
    let changes = if columns.is_empty() { conn.changes() } else { 0 };
    Ok(Rows { columns, rows: out, changes })
}

#[async_trait(?Send)]
impl Sql for NativeSql {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        let mut conn = self.conn.borrow_mut();
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sqlite_error)?;
        let mut out = Vec::with_capacity(statements.len());
        for (i, statement) in statements.iter().enumerate() {
            let rows = run(&tx, statement)?;
            if let Some(expected) = statement.expect_changes {
                if rows.changes != expected {
                    return Err(StoreError::GuardFailed { statement: i, expected, actual: rows.changes });
                }
            }
            out.push(rows);
        }
        tx.commit().map_err(sqlite_error)?;
        Ok(out)
    }
}

/// Blobs as files in a directory; keys are hex-encoded into file names.
pub struct DirBlobs {
    dir: PathBuf,
}

impl DirBlobs {
    pub fn new(dir: PathBuf) -> DirBlobs {
        DirBlobs { dir }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key.bytes().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait(?Send)]
impl Blobs for DirBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(io_error)?;
        // Write then rename, so a reader never sees half a blob.
        let tmp = self.path(key).with_extension("tmp");
        std::fs::write(&tmp, bytes).map_err(io_error)?;
        std::fs::rename(&tmp, self.path(key)).map_err(io_error)
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        let bytes = match std::fs::read(self.path(key)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(e)),
        };
        Ok(Some(match range {
            None => bytes,
            Some(r) => {
                let end = (r.end as usize).min(bytes.len());
                let start = (r.start as usize).min(end);
                bytes[start..end].to_vec()
            }
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(e)),
            _ => Ok(()),
        }
    }
}

/// A cached value and when it expires (unix ms), if ever.
type Entry = (Vec<u8>, Option<i64>);

/// An in-memory cache with expiry.
#[derive(Default)]
pub struct MemoryKv {
    values: RefCell<HashMap<String, Entry>>,
}

#[async_trait(?Send)]
impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = SystemClock.now_ms();
        let mut values = self.values.borrow_mut();
        match values.get(key) {
            Some((_, Some(expires))) if *expires <= now => {
                values.remove(key);
                Ok(None)
            }
            Some((v, _)) => Ok(Some(v.clone())),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_secs: Option<u32>) -> Result<(), StoreError> {
        let expires = ttl_secs.map(|t| SystemClock.now_ms() + i64::from(t) * 1000);
        self.values.borrow_mut().insert(key.to_string(), (value, expires));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.values.borrow_mut().remove(key);
        Ok(())
    }
}

/// Events kept in memory, for tests to inspect.
#[derive(Default, Clone)]
pub struct RecordedEvents(pub Rc<RefCell<Vec<Event>>>);

#[async_trait(?Send)]
impl Events for RecordedEvents {
    async fn publish(&self, _seq: Option<i64>, events: Vec<Event>) -> Result<(), StoreError> {
        self.0.borrow_mut().extend(events);
        Ok(())
    }
}

/// Settings from a map (tests) — the native stand-in for wrangler vars and Spin variables.
#[derive(Default, Clone)]
pub struct MapSecrets(pub HashMap<String, String>);

impl Secrets for MapSecrets {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// The native runtime: one SQLite file and one blob directory per project under `root`.
pub struct NativeRuntime {
    root: PathBuf,
    secrets: MapSecrets,
    kv: Rc<MemoryKv>,
    pub events: RecordedEvents,
}

impl NativeRuntime {
    pub fn new(root: PathBuf, secrets: MapSecrets) -> NativeRuntime {
        NativeRuntime { root, secrets, kv: Rc::default(), events: RecordedEvents::default() }
    }
}

struct SharedKv(Rc<MemoryKv>);

#[async_trait(?Send)]
impl Kv for SharedKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Option<u32>) -> Result<(), StoreError> {
        self.0.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
}

/// Plain TCP with blocking std sockets (the tests' servers are on loopback), and HTTP/1.1 over
/// it for `http://` URLs. No TLS: nothing native talks to a real provider.
pub struct NativeOutbound;

struct NativeConnection(std::net::TcpStream);

fn failed(e: impl std::fmt::Display) -> OutboundError {
    OutboundError::Failed(e.to_string())
}

#[async_trait(?Send)]
impl Connection for NativeConnection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, OutboundError> {
        std::io::Read::read(&mut self.0, buf).map_err(failed)
    }
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutboundError> {
        std::io::Write::write_all(&mut self.0, bytes).map_err(failed)
    }
    async fn start_tls(self: Box<Self>) -> Result<Box<dyn Connection>, OutboundError> {
        Err(OutboundError::Denied("TLS is not available natively".into()))
    }
}

#[async_trait(?Send)]
impl Outbound for NativeOutbound {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let rest =
            request.url.strip_prefix("http://").ok_or_else(|| OutboundError::Denied(request.url.clone()))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(failed)?),
            None => (authority, 80),
        };
        let mut conn = self.connect(host, port, Tls::None).await?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
            request.method,
            if path.is_empty() { "/" } else { path },
            request.body.len()
        );
        for (k, v) in &request.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes()).await?;
        conn.write_all(&request.body).await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| failed("no HTTP head"))?;
        let status_line =
            String::from_utf8_lossy(&raw[..split]).lines().next().unwrap_or_default().to_string();
        let status =
            status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| failed(&status_line))?;
        Ok(OutboundResponse { status, body: raw[split + 4..].to_vec() })
    }

    async fn connect(&self, host: &str, port: u16, tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        if tls == Tls::Implicit {
            return Err(OutboundError::Denied("TLS is not available natively".into()));
        }
        let stream = std::net::TcpStream::connect((host, port)).map_err(failed)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).map_err(failed)?;
        Ok(Box::new(NativeConnection(stream)))
    }
}

#[async_trait(?Send)]
impl Runtime for NativeRuntime {
    fn secrets(&self) -> &dyn Secrets {
        &self.secrets
    }
    fn outbound(&self) -> &dyn Outbound {
        &NativeOutbound
    }
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }
    fn random(&self) -> &dyn Random {
        &OsRandom
    }

    async fn open_project<'s>(&'s self, project: &str) -> Result<ProjectStores<'s>, StoreError> {
        let dir = self.root.join(project);
        std::fs::create_dir_all(&dir).map_err(io_error)?;
        let sql = NativeSql::open(&dir.join("project.sqlite"))?;
        edgewrite_sql::migrate(&sql, SystemClock.now_ms()).await?;
        Ok(ProjectStores {
            sql: Box::new(sql),
            blobs: Box::new(DirBlobs::new(dir.join("blobs"))),
            kv: Box::new(SharedKv(self.kv.clone())),
            events: Box::new(self.events.clone()),
        })
    }
}
