//! `ProjectDatabase`: one Durable Object per project, used as that project's SQL server. The
//! stateless Worker sends it batches; it runs each batch in one `transactionSync` (all or
//! nothing) against its SQLite storage, after applying the system migrations once per instance.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_trait::async_trait;
use edgewrite_core::ports::{Rows, Sql, Statement, StoreError, Value};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State};

use crate::wire::{BatchReply, WireRows, WireStatement};

#[durable_object]
pub struct ProjectDatabase {
    state: State,
    migrated: Cell<bool>,
}

impl DurableObject for ProjectDatabase {
    fn new(state: State, _env: Env) -> Self {
        Self { state, migrated: Cell::new(false) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let local = LocalSql { state: &self.state };
        if !self.migrated.get() {
            if let Err(e) = edgewrite_sql::migrate(&local, worker::Date::now().as_millis() as i64).await {
                tracing::error!(error = %e, "migration failed");
                return Response::from_json(&BatchReply::Err(e.into()));
            }
            self.migrated.set(true);
        }
        let wire: Vec<WireStatement> = req.json().await?;
        let reply = match wire.into_iter().map(WireStatement::into_statement).collect::<Result<Vec<_>, _>>() {
            Ok(statements) => match local.batch(statements).await {
                Ok(rows) => BatchReply::Ok(rows.iter().map(WireRows::from).collect()),
                Err(e) => BatchReply::Err(e.into()),
            },
            Err(e) => BatchReply::Err(e.into()),
        };
        Response::from_json(&reply)
    }
}

/// The object's own SQLite, behind the `Sql` port (used for migrations and batches).
struct LocalSql<'a> {
    state: &'a State,
}

fn js_error(e: worker::Error) -> StoreError {
    StoreError::from_sqlite_message(e.to_string())
}

fn bind(v: &Value) -> Result<SqlStorageValue, StoreError> {
    Ok(match v {
        Value::Null => SqlStorageValue::Null,
        // JavaScript numbers hold integers exactly only up to 2^53; refuse rather than round.
        Value::Integer(i) => SqlStorageValue::try_from_i64(*i)
            .map_err(|_| StoreError::Invalid(format!("integer {i} is outside ±2^53")))?,
        Value::Real(f) => SqlStorageValue::Float(*f),
        Value::Text(s) => SqlStorageValue::String(s.clone()),
        Value::Blob(b) => SqlStorageValue::Blob(b.clone()),
    })
}

fn unbind(v: SqlStorageValue) -> Value {
    match v {
        SqlStorageValue::Null => Value::Null,
        SqlStorageValue::Boolean(b) => Value::Integer(i64::from(b)),
        SqlStorageValue::Integer(i) => Value::Integer(i),
        SqlStorageValue::Float(f) => Value::Real(f),
        SqlStorageValue::String(s) => Value::Text(s),
        SqlStorageValue::Blob(b) => Value::Blob(b),
    }
}

fn run(sql: &SqlStorage, statement: &Statement) -> Result<Rows, StoreError> {
    let bindings = statement.params.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
    let cursor = sql.exec(&statement.sql, bindings).map_err(js_error)?;
    let columns = cursor.column_names();
    let mut rows = Vec::new();
    for row in cursor.raw() {
        rows.push(row.map_err(js_error)?.into_iter().map(unbind).collect());
    }
    let changes = if columns.is_empty() {
        let c = sql.exec("SELECT changes()", None).map_err(js_error)?;
        c.raw()
            .next()
            .and_then(|r| r.ok())
            .and_then(|r| r.into_iter().next())
            .map(unbind)
            .and_then(|v| v.as_i64())
            .unwrap_or(0) as u64
    } else {
        0
    };
    Ok(Rows { columns, rows, changes })
}

fn run_all(sql: &SqlStorage, statements: &[Statement]) -> Result<Vec<Rows>, StoreError> {
    let mut out = Vec::with_capacity(statements.len());
    for (i, statement) in statements.iter().enumerate() {
        let rows = run(sql, statement)?;
        if let Some(expected) = statement.expect_changes {
            if rows.changes != expected {
                return Err(StoreError::GuardFailed { statement: i, expected, actual: rows.changes });
            }
        }
        out.push(rows);
    }
    Ok(out)
}

#[async_trait(?Send)]
impl Sql for LocalSql<'_> {
    /// SQL `BEGIN` is not allowed in a Durable Object; `storage.transactionSync(fn)` is the
    /// platform's atomic unit: it commits when `fn` returns and rolls back when it throws.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        let storage = self.state.storage();
        let sql = storage.sql();
        let raw: &JsValue = storage.as_raw().as_ref();
        let transaction_sync = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| StoreError::Unavailable("storage.transactionSync is missing".into()))?;
        let outcome: Rc<RefCell<Option<Result<Vec<Rows>, StoreError>>>> = Rc::default();
        let slot = outcome.clone();
        let body = Closure::once(move || -> Result<(), JsValue> {
            let result = run_all(&sql, &statements);
            let failed = result.is_err();
            *slot.borrow_mut() = Some(result);
            if failed {
                Err(JsValue::from_str("edgewrite: batch rolled back"))
            } else {
                Ok(())
            }
        });
        let call = transaction_sync.call1(raw, body.as_ref().unchecked_ref());
        let result = outcome.borrow_mut().take();
        match (result, call) {
            (Some(Ok(rows)), Ok(_)) => Ok(rows),
            (Some(Err(e)), _) => Err(e),
            (_, Err(js)) => Err(StoreError::Unavailable(format!("transaction failed: {js:?}"))),
            (None, Ok(_)) => Err(StoreError::Unavailable("transaction body did not run".into())),
        }
    }
}
