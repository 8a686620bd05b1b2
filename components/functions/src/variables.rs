//! A function's variables (`/v1/functions/{functionId}/variables`): environment variables of
//! its executions. A secret variable's value is never returned, only given to executions.

use edgewrite_core::ports::{Rows, Statement, StoreError, Value};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::functions::{self, Function};

const COLUMNS: &str = "id, key, value, secret, created_at, updated_at";
/// Appwrite's limits on a variable.
const MAX_KEY: usize = 255;
const MAX_VALUE: usize = 8192;

/// The Variable model; `value` is `""` for a secret.
pub fn model(
    id: &str,
    function_id: &str,
    key: &str,
    value: &str,
    secret: bool,
    created: i64,
    updated: i64,
) -> Json {
    json!({
        "$id": id,
        "$createdAt": iso_from_ms(created),
        "$updatedAt": iso_from_ms(updated),
        "key": key,
        "value": if secret { "" } else { value },
        "secret": secret,
        "resourceType": "function",
        "resourceId": function_id,
    })
}

fn from_row(f: &Function, row: &[Value]) -> Option<Json> {
    let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default();
    let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
    Some(model(row.first()?.as_str()?, &f.id, text(1), text(2), int(3) == 1, int(4), int(5)))
}

fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::VariableNotFound, "Variable with the requested ID could not be found.")
}

fn already_exists() -> AppwriteError {
    AppwriteError::new(ErrorType::VariableAlreadyExists, "Variable with the same ID or key already exists.")
}

/// Every variable of the function with its value, secret ones included: an execution's
/// environment.
pub fn environment_statement(f: &Function) -> Statement {
    Statement::new(
        "SELECT key, value FROM function_variables WHERE function_seq = ? ORDER BY seq",
        vec![Value::Integer(f.seq)],
    )
}

/// The `(key, value)` pairs [`environment_statement`] read.
pub fn environment_from(rows: Option<&Rows>) -> Vec<(String, String)> {
    rows.map(|r| r.rows.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| Some((r.first()?.as_str()?.to_string(), r.get(1)?.as_str()?.to_string())))
        .collect()
}

fn key_param(ctx: &Ctx<'_>, required: bool) -> Result<Option<String>, AppwriteError> {
    let key = if required {
        Some(ctx.params.required_text("key", MAX_KEY)?)
    } else {
        ctx.params.text("key", MAX_KEY)?
    };
    if let Some(k) = &key {
        // An environment variable name: no `=` or NUL, and not empty.
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(AppwriteError::invalid_param(
                "key",
                "Value must be a valid environment variable name",
            ));
        }
    }
    Ok(key)
}

fn value_param(ctx: &Ctx<'_>, required: bool) -> Result<Option<String>, AppwriteError> {
    let value = if required {
        Some(ctx.params.required_text("value", MAX_VALUE)?)
    } else {
        ctx.params.text("value", MAX_VALUE)?
    };
    // An environment entry ends at its NUL.
    if value.as_deref().is_some_and(|v| v.contains('\0')) {
        return Err(AppwriteError::invalid_param("value", "Value may not contain NUL characters"));
    }
    Ok(value)
}

async fn load(ctx: &Ctx<'_>, f: &Function) -> Result<Json, AppwriteError> {
    let id = ctx.params.required_text("variableId", 36)?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM function_variables WHERE function_seq = ? AND id = ?"),
            vec![Value::Integer(f.seq), id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| from_row(f, r)).ok_or_else(not_found)
}

/// `POST /functions/{functionId}/variables`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    let id = match ctx.params.raw("variableId") {
        Some(_) => ctx.params.custom_id("variableId", now, ctx.ports.random)?,
        None => edgewrite_core::ids::unique_id(now, ctx.ports.random),
    };
    let key = key_param(ctx, true)?.unwrap_or_default();
    let value = value_param(ctx, true)?.unwrap_or_default();
    let secret = ctx.params.boolean("secret")?.unwrap_or(false);
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT INTO function_variables (function_seq, id, key, value, secret, created_at, updated_at)
                 SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM functions WHERE seq = ?)",
                vec![
                    Value::Integer(f.seq),
                    id.clone().into(),
                    key.into(),
                    value.into(),
                    Value::Integer(i64::from(secret)),
                    Value::Integer(now),
                    Value::Integer(now),
                    Value::Integer(f.seq),
                ],
            )
            .expect_changes(1),
            Statement::new(
                format!("SELECT {COLUMNS} FROM function_variables WHERE function_seq = ? AND id = ?"),
                vec![Value::Integer(f.seq), id.into()],
            ),
        ])
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => already_exists(),
            StoreError::GuardFailed { .. } => functions::not_found(),
            other => AppwriteError::internal(other),
        })?;
    let model =
        out.get(1).and_then(|r| r.rows.first()).and_then(|r| from_row(&f, r)).ok_or_else(not_found)?;
    Ok(Response::json(201, &model))
}

/// `GET /functions/{functionId}/variables/{variableId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    Ok(Response::json(200, &load(ctx, &f).await?))
}

/// `GET /functions/{functionId}/variables`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM function_variables WHERE function_seq = ? ORDER BY seq"),
            vec![Value::Integer(f.seq)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let variables: Vec<Json> = rows.rows.iter().filter_map(|r| from_row(&f, r)).collect();
    Ok(Response::json(200, &json!({"total": variables.len(), "variables": variables})))
}

/// `PUT /functions/{functionId}/variables/{variableId}`: a secret variable stays secret.
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let current = load(ctx, &f).await?;
    let id = current["$id"].as_str().unwrap_or_default().to_string();
    let key = key_param(ctx, false)?;
    let value = value_param(ctx, false)?;
    let secret = ctx.params.boolean("secret")?;
    if secret == Some(false) && current["secret"] == json!(true) {
        return Err(AppwriteError::invalid_param("secret", "A secret variable cannot become non-secret."));
    }
    let now = ctx.ports.clock.now_ms();
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE function_variables SET key = coalesce(?, key), value = coalesce(?, value),
                     secret = max(secret, coalesce(?, secret)), updated_at = ?
                 WHERE function_seq = ? AND id = ?",
                vec![
                    key.into(),
                    value.into(),
                    secret.map(i64::from).into(),
                    Value::Integer(now),
                    Value::Integer(f.seq),
                    id.clone().into(),
                ],
            )
            .expect_changes(1),
            Statement::new(
                format!("SELECT {COLUMNS} FROM function_variables WHERE function_seq = ? AND id = ?"),
                vec![Value::Integer(f.seq), id.into()],
            ),
        ])
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => already_exists(),
            StoreError::GuardFailed { .. } => not_found(),
            other => AppwriteError::internal(other),
        })?;
    let model =
        out.get(1).and_then(|r| r.rows.first()).and_then(|r| from_row(&f, r)).ok_or_else(not_found)?;
    Ok(Response::json(200, &model))
}

/// `DELETE /functions/{functionId}/variables/{variableId}`
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let id = ctx.params.required_text("variableId", 36)?;
    ctx.ports
        .sql
        .batch(vec![Statement::new(
            "DELETE FROM function_variables WHERE function_seq = ? AND id = ?",
            vec![Value::Integer(f.seq), id.into()],
        )
        .expect_changes(1)])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    Ok(Response::no_content())
}
