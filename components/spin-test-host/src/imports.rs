//! The Spin host interfaces the components import (`wit/deps/spin-*`), with Spin's semantics:
//! `spin:sqlite` over rusqlite (one connection per `open`, statements run off the async
//! threads, statement errors reported through the completion future), `spin:key-value` in a
//! SQLite file, `spin:variables` from the component's templates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

wasmtime::component::bindgen!({
    path: ["../../wit/deps/spin-sqlite", "../../wit/deps/spin-key-value", "../../wit/deps/spin-variables"],
    inline: "
        package edgewrite:spin-test-host;
        world spin-imports {
            import spin:sqlite/sqlite@3.1.0;
            import spin:key-value/key-value@3.0.0;
            import spin:variables/variables@3.0.0;
        }
    ",
    world: "spin-imports",
    with: {
        "spin:sqlite/sqlite.connection": Connection,
        "spin:key-value/key-value.store": KvStore,
    },
});

use spin::key_value::key_value as kv;
use spin::sqlite::sqlite;
use spin::variables::variables;

/// What every component of the app shares: where state lives, and the variable values.
pub struct App {
    pub state_dir: PathBuf,
    pub variables: BTreeMap<String, String>,
    /// The key-value stores, one SQLite file, as Spin's local backend does.
    pub kv: Mutex<rusqlite::Connection>,
}

/// One component's grants.
pub struct Grants {
    pub sqlite_databases: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub variables: BTreeMap<String, String>,
}

/// The Spin part of a store's data.
pub struct SpinCtx {
    pub app: Arc<App>,
    pub grants: Arc<Grants>,
}

/// A guest's SQLite connection.
pub struct Connection(Arc<Mutex<rusqlite::Connection>>);

/// A guest's key-value store handle.
pub struct KvStore {
    label: String,
}

/// The store data the Spin interfaces need: the resource table and the context.
pub trait SpinView: Send {
    fn spin(&mut self) -> (&mut ResourceTable, &SpinCtx);
}

/// Marker for `bindgen!`'s store-aware (async) host functions.
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = SpinData<'a>;
}

pub struct SpinData<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a SpinCtx,
}

pub fn add_to_linker<T: SpinView + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    SpinImports::add_to_linker::<T, Spin>(linker, |t| {
        let (table, ctx) = t.spin();
        SpinData { table, ctx }
    })
}

fn io(e: impl std::fmt::Display) -> sqlite::Error {
    sqlite::Error::Io(e.to_string())
}

impl sqlite::Host for SpinData<'_> {}

impl sqlite::HostConnection for SpinData<'_> {
    fn drop(&mut self, rep: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// One statement's outcome: column names, the rows it produced, and how it ended.
struct Executed {
    columns: Vec<String>,
    rows: Vec<sqlite::RowResult>,
    result: Result<(), sqlite::Error>,
}

fn to_sql(v: sqlite::Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        sqlite::Value::Integer(i) => V::Integer(i),
        sqlite::Value::Real(f) => V::Real(f),
        sqlite::Value::Text(s) => V::Text(s),
        sqlite::Value::Blob(b) => V::Blob(b),
        sqlite::Value::Null => V::Null,
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> sqlite::Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => sqlite::Value::Null,
        V::Integer(i) => sqlite::Value::Integer(i),
        V::Real(f) => sqlite::Value::Real(f),
        V::Text(t) => sqlite::Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => sqlite::Value::Blob(b.to_vec()),
    }
}

/// SQLite's own busy timeout sleeps up to 100 ms between tries, so under load a waiting writer
/// sleeps on while the lock is free and others take it: seconds-long tails. Here a waiter tries
/// again after 1 ms at first and every 5 ms after that, for about the same 5 s in all.
fn wait_for_lock(attempts: i32) -> bool {
    let ms = if attempts < 10 { 1 } else { 5 };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    attempts < 1000
}

/// Runs one statement. As in Spin, a prepare or step error does not fail the call: it ends
/// the row stream and arrives through the completion result.
fn execute(conn: &rusqlite::Connection, sql: &str, params: Vec<sqlite::Value>) -> Executed {
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        Err(e) => return Executed { columns: vec![], rows: vec![], result: Err(io(e)) },
    };
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = Vec::new();
    let params: Vec<rusqlite::types::Value> = params.into_iter().map(to_sql).collect();
    let mut cursor = match stmt.query(rusqlite::params_from_iter(params)) {
        Ok(c) => c,
        Err(e) => return Executed { columns, rows, result: Err(io(e)) },
    };
    loop {
        match cursor.next() {
            Ok(Some(row)) => {
                let values =
                    (0..columns.len()).map(|i| row.get_ref(i).map(from_sql).unwrap_or(sqlite::Value::Null));
                rows.push(sqlite::RowResult { values: values.collect() });
            }
            Ok(None) => break,
            Err(e) => return Executed { columns, rows, result: Err(io(e)) },
        }
    }
    Executed { columns, rows, result: Ok(()) }
}

impl<T: Send> sqlite::HostConnectionWithStore<T> for Spin {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> Result<Resource<Connection>, sqlite::Error> {
        let (allowed, path) = accessor.with(|mut a| {
            let data = a.get();
            (
                data.ctx.grants.sqlite_databases.contains(&database),
                data.ctx.app.state_dir.join("sqlite_db.db"),
            )
        });
        if !allowed {
            return Err(sqlite::Error::AccessDenied);
        }
        if database != "default" {
            return Err(sqlite::Error::NoSuchDatabase);
        }
        let conn = tokio::task::spawn_blocking(move || -> Result<rusqlite::Connection, sqlite::Error> {
            let conn = rusqlite::Connection::open(path).map_err(io)?;
            conn.busy_handler(Some(wait_for_lock)).map_err(io)?;
            Ok(conn)
        })
        .await
        .map_err(io)??;
        accessor.with(|mut a| a.get().table.push(Connection(Arc::new(Mutex::new(conn)))).map_err(io))
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        connection: Resource<Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<
        (Vec<String>, StreamReader<sqlite::RowResult>, FutureReader<Result<(), sqlite::Error>>),
        sqlite::Error,
    > {
        let conn = accessor
            .with(|mut a| a.get().table.get(&connection).map(|c| c.0.clone()))
            .map_err(|_| sqlite::Error::InvalidConnection)?;
        let out = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            execute(&conn, &statement, parameters)
        })
        .await
        .map_err(io)?;
        accessor.with(|mut a| {
            let rows = StreamReader::new(&mut a, out.rows).map_err(io)?;
            let done = FutureReader::new(&mut a, std::future::ready(Ok::<_, wasmtime::Error>(out.result)))
                .map_err(io)?;
            Ok((out.columns, rows, done))
        })
    }

    /// As in Spin: answered on the spot from the connection, not from a blocking thread, so the
    /// guest asks without giving up its turn.
    async fn changes_async(accessor: &Accessor<T, Self>, connection: Resource<Connection>) -> u64 {
        let Ok(conn) = accessor.with(|mut a| a.get().table.get(&connection).map(|c| c.0.clone())) else {
            return 0;
        };
        let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.changes()
    }
}

impl kv::Host for SpinData<'_> {}

impl kv::HostStore for SpinData<'_> {
    fn drop(&mut self, rep: Resource<KvStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

fn kv_other(e: impl std::fmt::Display) -> kv::Error {
    kv::Error::Other(e.to_string())
}

/// Runs `f` on the shared key-value database, off the async threads.
async fn with_kv<T: Send + 'static, R: Send + 'static>(
    accessor: &Accessor<T, Spin>,
    store: &Resource<KvStore>,
    f: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R> + Send + 'static,
) -> Result<R, kv::Error> {
    let (app, label) = accessor.with(|mut a| {
        let data = a.get();
        data.table.get(store).map(|s| (data.ctx.app.clone(), s.label.clone())).map_err(kv_other)
    })?;
    tokio::task::spawn_blocking(move || {
        let conn = app.kv.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&conn, &label).map_err(kv_other)
    })
    .await
    .map_err(kv_other)?
}

impl<T: Send + 'static> kv::HostStoreWithStore<T> for Spin {
    async fn open(accessor: &Accessor<T, Self>, label: String) -> Result<Resource<KvStore>, kv::Error> {
        accessor.with(|mut a| {
            let data = a.get();
            if !data.ctx.grants.key_value_stores.contains(&label) {
                return Err(kv::Error::AccessDenied);
            }
            if label != "default" {
                return Err(kv::Error::NoSuchStore);
            }
            data.table.push(KvStore { label }).map_err(kv_other)
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        store: Resource<KvStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, kv::Error> {
        with_kv(accessor, &store, move |c, label| {
            use rusqlite::OptionalExtension;
            c.query_row("SELECT value FROM spin_key_value WHERE store = ? AND key = ?", (label, &key), |r| {
                r.get(0)
            })
            .optional()
        })
        .await
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), kv::Error> {
        with_kv(accessor, &store, move |c, label| {
            c.execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                (label, &key, &value),
            )
            .map(|_| ())
        })
        .await
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        store: Resource<KvStore>,
        key: String,
    ) -> Result<(), kv::Error> {
        with_kv(accessor, &store, move |c, label| {
            c.execute("DELETE FROM spin_key_value WHERE store = ? AND key = ?", (label, &key)).map(|_| ())
        })
        .await
    }
}

/// Spin's rule for variable names: lower-case ASCII letters, digits and single underscores,
/// starting with a letter.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        && !name.contains("__")
        && !name.ends_with('_')
}

impl variables::Host for SpinData<'_> {}

impl<T> variables::HostWithStore<T> for Spin {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, variables::Error> {
        if !valid_name(&name) {
            return Err(variables::Error::InvalidName(name));
        }
        accessor.with(|mut a| {
            let data = a.get();
            let template = data
                .ctx
                .grants
                .variables
                .get(&name)
                .ok_or_else(|| variables::Error::Undefined(format!("no variable for {name}")))?;
            crate::manifest::resolve_template(template, &data.ctx.app.variables)
                .map_err(variables::Error::Undefined)
        })
    }
}

/// Opens the shared key-value database.
pub fn open_kv(state_dir: &std::path::Path) -> wasmtime::Result<rusqlite::Connection> {
    let conn =
        rusqlite::Connection::open(state_dir.join("sqlite_key_value.db")).map_err(wasmtime::Error::new)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS spin_key_value (
            store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
    )
    .map_err(wasmtime::Error::new)?;
    Ok(conn)
}
