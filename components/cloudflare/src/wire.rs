//! The wire format between the stateless Worker and a project's Durable Object: a batch of
//! statements in, rows or a store error out. Both ends are this crate, so 64-bit integers and
//! blobs survive the trip intact (blobs as base64).

use base64::Engine;
use edgewrite_core::ports::{Rows, Statement, StoreError, Value};
use serde::{Deserialize, Serialize};

/// A SQLite value, tagged so JSON keeps its type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireValue {
    #[serde(rename = "n")]
    Null,
    #[serde(rename = "i")]
    Integer(i64),
    #[serde(rename = "r")]
    Real(f64),
    #[serde(rename = "s")]
    Text(String),
    #[serde(rename = "b")]
    Blob(String),
}

impl From<&Value> for WireValue {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => WireValue::Null,
            Value::Integer(i) => WireValue::Integer(*i),
            Value::Real(f) => WireValue::Real(*f),
            Value::Text(s) => WireValue::Text(s.clone()),
            Value::Blob(b) => WireValue::Blob(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }
}

impl WireValue {
    pub fn into_value(self) -> Result<Value, StoreError> {
        Ok(match self {
            WireValue::Null => Value::Null,
            WireValue::Integer(i) => Value::Integer(i),
            WireValue::Real(f) => Value::Real(f),
            WireValue::Text(s) => Value::Text(s),
            WireValue::Blob(b) => Value::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| StoreError::Unavailable(format!("bad blob encoding: {e}")))?,
            ),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WireStatement {
    pub sql: String,
    pub params: Vec<WireValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_changes: Option<u64>,
}

impl From<&Statement> for WireStatement {
    fn from(s: &Statement) -> Self {
        WireStatement {
            sql: s.sql.clone(),
            params: s.params.iter().map(WireValue::from).collect(),
            expect_changes: s.expect_changes,
        }
    }
}

impl WireStatement {
    pub fn into_statement(self) -> Result<Statement, StoreError> {
        Ok(Statement {
            sql: self.sql,
            params: self.params.into_iter().map(WireValue::into_value).collect::<Result<_, _>>()?,
            expect_changes: self.expect_changes,
            cached: None,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WireRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<WireValue>>,
    pub changes: u64,
}

impl From<&Rows> for WireRows {
    fn from(r: &Rows) -> Self {
        WireRows {
            columns: r.columns.clone(),
            rows: r.rows.iter().map(|row| row.iter().map(WireValue::from).collect()).collect(),
            changes: r.changes,
        }
    }
}

impl WireRows {
    pub fn into_rows(self) -> Result<Rows, StoreError> {
        Ok(Rows {
            columns: self.columns,
            rows: self
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(WireValue::into_value).collect())
                .collect::<Result<_, _>>()?,
            changes: self.changes,
        })
    }
}

/// A [`StoreError`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireError {
    Constraint { message: String },
    GuardFailed { statement: usize, expected: u64, actual: u64 },
    Invalid { message: String },
    Unavailable { message: String },
    Busy { message: String },
    Deferred,
}

impl From<StoreError> for WireError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Constraint(message) => WireError::Constraint { message },
            StoreError::GuardFailed { statement, expected, actual } => {
                WireError::GuardFailed { statement, expected, actual }
            }
            StoreError::Invalid(message) => WireError::Invalid { message },
            StoreError::Unavailable(message) => WireError::Unavailable { message },
            StoreError::Busy(message) => WireError::Busy { message },
            StoreError::Deferred => WireError::Deferred,
        }
    }
}

impl From<WireError> for StoreError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Constraint { message } => StoreError::Constraint(message),
            WireError::GuardFailed { statement, expected, actual } => {
                StoreError::GuardFailed { statement, expected, actual }
            }
            WireError::Invalid { message } => StoreError::Invalid(message),
            WireError::Unavailable { message } => StoreError::Unavailable(message),
            WireError::Busy { message } => StoreError::Busy(message),
            WireError::Deferred => StoreError::Deferred,
        }
    }
}

/// What the Durable Object answers to a batch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchReply {
    Ok(Vec<WireRows>),
    Err(WireError),
}

/// The events of one committed write, on their way from the Worker to the project's object.
#[derive(Serialize, Deserialize)]
pub struct Announcement {
    pub seq: Option<i64>,
    pub events: Vec<edgewrite_core::ports::Event>,
}

/// Headers of a request the Worker forwards to the project's object, and of the object's
/// answer. The Worker removes every request header with this prefix before forwarding, so a
/// client cannot forge them.
pub const INTERNAL_PREFIX: &str = "x-edgewrite-internal-";
/// On a forwarded request: the project it is for (and the mark of a forwarded request).
/// The client's country as the Worker's `request.cf` gave it, for the object (whose own
/// `request.cf` is the Worker's).
pub const COUNTRY_HEADER: &str = "x-edgewrite-internal-country";
pub const SERVE_HEADER: &str = "x-edgewrite-internal-serve";
/// On a forwarded request served again: the tasks the Worker did, with their outputs (JSON).
pub const DONE_HEADER: &str = "x-edgewrite-internal-done";
/// On the object's answer: its body is not the response but [`Reply`] (JSON).
pub const REPLY_HEADER: &str = "x-edgewrite-internal-reply";

/// What the object asks of the Worker instead of a finished response.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Do these tasks and forward the request again with their outputs.
    Tasks(Vec<edgewrite_core::ports::Task>),
    /// The response's body is these parts of the project's blobs, streamed from R2 by the
    /// Worker (its status and headers are the reply's).
    Blobs { project: String, parts: Vec<(String, u64, u64)> },
}

/// Tasks done by the Worker, as [`DONE_HEADER`] carries them.
pub type Done = Vec<(edgewrite_core::ports::Task, edgewrite_core::ports::TaskOutput)>;
