//! The `Sql` port over a Spin SQLite database (`spin:sqlite@3.1.0`).
//!
//! Spin's SQLite API runs one statement per call and has no batch or transaction call, so a batch
//! is `BEGIN IMMEDIATE` (`BEGIN DEFERRED` when every statement is a `SELECT`), the statements,
//! then `COMMIT` — or `ROLLBACK` on the first error — all on
//! one connection. Every guest `open` gets its own host connection (`spin-sqlite-inproc` opens a
//! rusqlite connection per handle), so the transaction is this request's alone; concurrent
//! requests wait on SQLite's lock (rusqlite's 5 s busy timeout) rather than interleave.

use std::rc::Rc;

use async_trait::async_trait;
use edgewrite_core::ports::{Rows, Sql, Statement, StoreError, Value};
use futures::lock::Mutex;
use spin_sdk::sqlite::{self, Connection};

/// A connection to a Spin SQLite database. Clones share the connection (the blob store uses the
/// same one as the SQL port).
#[derive(Clone)]
pub struct SpinSql {
    inner: Rc<Inner>,
}

struct Inner {
    conn: Connection,
    /// Set once the database answered that it is a local file in WAL mode: only then is Spin's
    /// `changes` the statement's own count (a remote libSQL client keeps it only for some calls)
    /// and `synchronous = NORMAL` safe.
    local_wal: std::cell::Cell<bool>,
    /// Transaction state lives on the host connection: two batches interleaving on it (a
    /// capability joining two futures) would run inside each other's transaction, and a
    /// rollback of one would undo the other. Batches on one connection therefore take turns.
    turn: Mutex<()>,
}

/// Maps a Spin SQLite error onto the port's errors.
pub(crate) fn sqlite_error(e: sqlite::Error) -> StoreError {
    match e {
        // The in-process host passes rusqlite's message through (`UNIQUE constraint failed: t.id`,
        // `near "SELEC": syntax error in SELEC nonsense at offset 0`, `no such table: x …`), and
        // libSQL's messages carry the same SQLite wording, so the shared classifier applies.
        sqlite::Error::Io(message) => StoreError::from_sqlite_message(message),
        other => StoreError::Unavailable(format!("spin sqlite: {other:?}")),
    }
}

fn to_spin(v: &Value) -> sqlite::Value {
    match v {
        Value::Null => sqlite::Value::Null,
        Value::Integer(i) => sqlite::Value::Integer(*i),
        Value::Real(f) => sqlite::Value::Real(*f),
        Value::Text(s) => sqlite::Value::Text(s.clone()),
        Value::Blob(b) => sqlite::Value::Blob(b.clone()),
    }
}

fn from_spin(v: sqlite::Value) -> Value {
    match v {
        sqlite::Value::Null => Value::Null,
        sqlite::Value::Integer(i) => Value::Integer(i),
        sqlite::Value::Real(f) => Value::Real(f),
        sqlite::Value::Text(s) => Value::Text(s),
        sqlite::Value::Blob(b) => Value::Blob(b),
    }
}

impl SpinSql {
    /// Opens the database with this label (it must be listed in the component's
    /// `sqlite_databases`).
    pub async fn open(database: &str) -> Result<SpinSql, StoreError> {
        let conn = Connection::open(database).await.map_err(sqlite_error)?;
        Ok(SpinSql {
            inner: Rc::new(Inner { conn, local_wal: std::cell::Cell::new(false), turn: Mutex::new(()) }),
        })
    }

    /// Puts a local database in write-ahead-log mode (it stays so: the mode is kept in the file)
    /// and tunes this connection for it. With the default rollback journal every reader holds
    /// off the writer's commit and every writer the readers, so under concurrent load writers
    /// wait out SQLite's busy timeout; in WAL mode readers and the one writer go on together.
    ///
    /// Then it commits without waiting for the disk, as PocketBase does and SQLite advises for
    /// WAL mode: with `synchronous = NORMAL` a WAL database syncs at checkpoints only, so a commit
    /// no longer holds the write lock through an fsync (7–15 ms on these machines, and every
    /// other writer waits behind it). A committed write survives the process stopping; only a
    /// power loss can take back the last commits, and in WAL mode it cannot corrupt the file.
    /// The setting belongs to the connection, so every connection asks again. A store that
    /// refuses the pragma or answers another mode (a remote libSQL) keeps its own settings.
    pub async fn use_write_ahead_log(&self) {
        let wal = match self.exec("PRAGMA journal_mode = WAL", Vec::new()).await {
            Ok((_, rows)) => rows
                .first()
                .and_then(|r| r.values.first())
                .is_some_and(|v| matches!(v, sqlite::Value::Text(mode) if mode.eq_ignore_ascii_case("wal"))),
            Err(e) => {
                tracing::debug!(error = %e, "the database keeps its journal mode");
                false
            }
        };
        if !wal {
            return;
        }
        self.inner.local_wal.set(true);
        if let Err(e) = self.exec("PRAGMA synchronous = NORMAL", Vec::new()).await {
            tracing::debug!(error = %e, "the database keeps its synchronous setting");
        }
    }

    /// Runs one statement to completion. The completion future must be awaited even when the
    /// row stream ended: errors after the first row (constraint failures, busy) arrive there.
    async fn exec(
        &self,
        sql: &str,
        params: Vec<sqlite::Value>,
    ) -> Result<(Vec<String>, Vec<sqlite::RowResult>), StoreError> {
        let result = self.inner.conn.execute(sql, params).await.map_err(sqlite_error)?;
        let columns = result.columns().to_vec();
        let rows = result.collect().await.map_err(sqlite_error)?;
        Ok((columns, rows))
    }

    async fn run(&self, statement: &Statement) -> Result<Rows, StoreError> {
        let params = statement.params.iter().map(to_spin).collect();
        let (columns, rows) = self.exec(&statement.sql, params).await?;
        let rows = rows.into_iter().map(|r| r.values.into_iter().map(from_spin).collect()).collect();
        // Like the other adapters: `changes()` only for statements without result columns
        // (INSERT/UPDATE/DELETE); for queries it would report an earlier statement's count.
        let changes = if columns.is_empty() { self.changes().await? } else { 0 };
        Ok(Rows { columns, rows, changes })
    }

    /// On a local file Spin answers `changes` from the connection at once, where every
    /// `execute` is a trip to a blocking thread: inside a write transaction each trip is time
    /// the lock is held. Elsewhere the database itself is asked.
    async fn changes(&self) -> Result<u64, StoreError> {
        if self.inner.local_wal.get() {
            return Ok(self.inner.conn.changes().await);
        }
        let (_, rows) = self.exec("SELECT changes()", Vec::new()).await?;
        Ok(match rows.first().and_then(|r| r.values.first()) {
            Some(sqlite::Value::Integer(n)) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        })
    }

    async fn run_all(&self, statements: &[Statement]) -> Result<Vec<Rows>, StoreError> {
        let mut out = Vec::with_capacity(statements.len());
        for (i, statement) in statements.iter().enumerate() {
            let rows = self.run(statement).await?;
            if let Some(expected) = statement.expect_changes {
                if rows.changes != expected {
                    return Err(StoreError::GuardFailed { statement: i, expected, actual: rows.changes });
                }
            }
            out.push(rows);
        }
        Ok(out)
    }

    async fn rollback(&self) {
        // SQLite already rolled back after some errors (SQLITE_FULL, an interrupted COMMIT);
        // "no transaction is active" then is expected and harmless.
        if let Err(e) = self.exec("ROLLBACK", Vec::new()).await {
            tracing::debug!(error = %e, "rollback after a failed batch");
        }
    }
}

#[async_trait(?Send)]
impl Sql for SpinSql {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        let _turn = self.inner.turn.lock().await;
        match statements.as_slice() {
            [] => return Ok(Vec::new()),
            // One unguarded statement is atomic under autocommit: skip two round trips. A
            // guarded one needs the transaction so that a failed guard can undo its write.
            [only] if only.expect_changes.is_none() => return Ok(vec![self.run(only).await?]),
            _ => {}
        }
        // A batch that only reads needs a consistent snapshot, not the write lock: a deferred
        // transaction lets concurrent readers (every signed-in request verifies its session this
        // way) run side by side. Anything that writes takes the write lock up front (IMMEDIATE),
        // so a read-then-write batch cannot fail half-way with SQLITE_BUSY when another
        // connection wrote in between.
        let read_only = statements
            .iter()
            .all(|s| s.sql.trim_start().get(..6).is_some_and(|w| w.eq_ignore_ascii_case("SELECT")));
        self.exec(if read_only { "BEGIN DEFERRED" } else { "BEGIN IMMEDIATE" }, Vec::new()).await?;
        let result = match self.run_all(&statements).await {
            Ok(rows) => self.exec("COMMIT", Vec::new()).await.map(|_| rows),
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.rollback().await;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `spin-sqlite-inproc` reports failures as `Io(rusqlite_error.to_string())`; those texts
    /// must classify like everywhere else.
    #[test]
    fn host_error_messages_classify() {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite opens");
        conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)", []).expect("create");
        conn.execute("INSERT INTO t VALUES ('a')", []).expect("insert");
        let host = |sql: &str| {
            let message = conn.execute(sql, []).expect_err("the statement fails").to_string();
            sqlite_error(sqlite::Error::Io(message))
        };
        assert!(matches!(host("INSERT INTO t VALUES ('a')"), StoreError::Constraint(_)));
        assert!(matches!(host("SELEC nonsense"), StoreError::Invalid(_)));
        assert!(matches!(host("SELECT * FROM missing"), StoreError::Invalid(_)));
        assert!(matches!(host("SELECT nope FROM t"), StoreError::Invalid(_)));
        assert!(matches!(sqlite_error(sqlite::Error::AccessDenied), StoreError::Unavailable(_)));
    }
}
