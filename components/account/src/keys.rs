//! API keys (`/v1/project/keys`, the node SDK's `Project` service): created with chosen scopes
//! and an optional expiry, stored as a SHA-256 of the value, which is shown once. Also the
//! lookup that turns a presented key into an application caller.

use edgewrite_core::identity::{Caller, API_KEY_SCOPES};
use edgewrite_core::ports::{Ports, Rows, Statement, StoreError, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::{iso_from_ms, ms_from_iso};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::list;
use crate::store::secret_hash;

const COLUMNS: &str = "id, name, scopes, expire, sdks, accessed_at, created_at, updated_at";

/// How long a key's `accessedAt` stands before a use refreshes it (Appwrite: 24 hours).
const ACCESS_REFRESH_MS: i64 = 24 * 3600 * 1000;

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "expire", column: "expire", kind: FieldKind::Datetime },
    Field { attribute: "accessedAt", column: "accessed_at", kind: FieldKind::Datetime },
];

const SCHEMA: Schema<'static> =
    Schema { table: "api_keys", id_column: "id", fields: FIELDS, search: Some("name"), fulltext: &[] };

struct ApiKey {
    id: String,
    name: String,
    scopes: Vec<String>,
    expire: Option<i64>,
    sdks: Vec<String>,
    accessed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl ApiKey {
    fn from_row(row: &[Value]) -> Option<ApiKey> {
        let json_list = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
        };
        Some(ApiKey {
            id: row.first()?.as_str()?.to_string(),
            name: row.get(1)?.as_str().unwrap_or_default().to_string(),
            scopes: json_list(row.get(2)),
            expire: row.get(3).and_then(Value::as_i64),
            sdks: json_list(row.get(4)),
            accessed_at: row.get(5).and_then(Value::as_i64),
            created_at: row.get(6)?.as_i64()?,
            updated_at: row.get(7)?.as_i64()?,
        })
    }

    /// The Key model. `secret` is the key value right after creation, and empty ever after:
    /// only its hash is kept.
    fn to_json(&self, secret: &str) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "expire": self.expire.map(iso_from_ms).unwrap_or_default(),
            "scopes": self.scopes,
            "secret": secret,
            "accessedAt": self.accessed_at.map(iso_from_ms).unwrap_or_default(),
            "sdks": self.sdks,
        })
    }
}

/// The application a stored key stands for; `None` for an unknown key.
/// What a function execution's `dynamic_…` key carries: Appwrite hands each execution a
/// short-lived key with the function's scopes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct DynamicClaims {
    /// Always [`DYNAMIC_TYPE`]: tells these tokens from account JWTs signed with the same secret.
    typ: String,
    #[serde(rename = "functionId")]
    function_id: String,
    #[serde(rename = "executionId")]
    execution_id: String,
    scopes: Vec<String>,
    exp: i64,
}

const DYNAMIC_PREFIX: &str = "dynamic_";
const DYNAMIC_TYPE: &str = "function-key";

/// The two statements a batch needs for [`dynamic_key`]: the project's signing secret (created
/// on first use). Put them last in the batch.
pub fn dynamic_key_statements(ports: &Ports<'_>) -> [Statement; 2] {
    crate::jwt::secret_statements(ports)
}

/// A `dynamic_…` key for one execution of `function_id`, holding `scopes` until `expire_ms`:
/// a JWT signed with the project's secret (`secret_rows`, the answer to the second of
/// [`dynamic_key_statements`]), so nothing is stored and it cannot outlive its expiry.
pub fn dynamic_key(
    secret_rows: Option<&Rows>,
    function_id: &str,
    execution_id: &str,
    scopes: &[String],
    expire_ms: i64,
) -> Result<String, AppwriteError> {
    let secret = crate::jwt::secret_from(secret_rows)?;
    let claims = DynamicClaims {
        typ: DYNAMIC_TYPE.into(),
        function_id: function_id.into(),
        execution_id: execution_id.into(),
        scopes: scopes.to_vec(),
        exp: expire_ms.div_euclid(1000),
    };
    Ok(format!("{DYNAMIC_PREFIX}{}", crate::jwt::sign(&claims, &secret)))
}

async fn authenticate_dynamic(token: &str, ports: &Ports<'_>) -> Result<Option<Caller>, AppwriteError> {
    let rows = ports.sql.query(crate::jwt::secret_read_statement()).await.map_err(AppwriteError::internal)?;
    let Ok(secret) = crate::jwt::secret_from(Some(&rows)) else { return Ok(None) };
    let Some(claims) = crate::jwt::verify::<DynamicClaims>(token, &secret).filter(|c| c.typ == DYNAMIC_TYPE)
    else {
        return Ok(None);
    };
    let now = ports.clock.now_ms();
    if claims.exp * 1000 <= now {
        return Err(ErrorType::ProjectKeyExpired.into());
    }
    // Only scopes a key may hold, whatever the token says.
    let scopes = claims.scopes.into_iter().filter(|s| API_KEY_SCOPES.contains(&s.as_str())).collect();
    Ok(Some(Caller::App {
        key_id: format!("dynamic:{}", claims.function_id),
        scopes,
        expire: Some(claims.exp * 1000),
    }))
}

pub async fn authenticate(key: &str, ports: &Ports<'_>) -> Result<Option<Caller>, AppwriteError> {
    if let Some(token) = key.strip_prefix(DYNAMIC_PREFIX) {
        return authenticate_dynamic(token, ports).await;
    }
    let rows = ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM api_keys WHERE secret_hash = ?"),
            vec![Value::Blob(secret_hash(key))],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let Some(found) = rows.rows.first().and_then(|r| ApiKey::from_row(r)) else { return Ok(None) };
    let now = ports.clock.now_ms();
    if found.expire.is_some_and(|e| e <= now) {
        return Err(ErrorType::ProjectKeyExpired.into());
    }
    if found.accessed_at.is_none_or(|at| now - at > ACCESS_REFRESH_MS) {
        // Bookkeeping only: a failure here must not fail the request.
        let refreshed = ports
            .sql
            .query(Statement::new(
                "UPDATE api_keys SET accessed_at = ? WHERE id = ?",
                vec![Value::Integer(now), found.id.clone().into()],
            ))
            .await;
        if let Err(error) = refreshed {
            tracing::warn!(%error, key = %found.id, "refreshing a key's accessedAt");
        }
    }
    Ok(Some(Caller::App { key_id: found.id, scopes: found.scopes, expire: found.expire }))
}

fn not_found() -> AppwriteError {
    ErrorType::KeyNotFound.into()
}

async fn load(ctx: &Ctx<'_>, id: &str) -> Result<ApiKey, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| ApiKey::from_row(r)).ok_or_else(not_found)
}

/// `scopes`: required, each one Appwrite knows.
fn scopes_param(ctx: &Ctx<'_>) -> Result<Vec<String>, AppwriteError> {
    let scopes = ctx
        .params
        .string_array("scopes", 64, &ctx.config.limits)?
        .ok_or_else(|| AppwriteError::missing_param("scopes"))?;
    if let Some(unknown) = scopes.iter().find(|s| !API_KEY_SCOPES.contains(&s.as_str())) {
        return Err(AppwriteError::invalid_param(
            "scopes",
            &format!("Value must be one of ({}); \"{unknown}\" is not", API_KEY_SCOPES.join(", ")),
        ));
    }
    Ok(crate::list::dedup(scopes))
}

/// `expire`: absent or null for a key that never expires, else an ISO-8601 datetime.
fn expire_param(ctx: &Ctx<'_>) -> Result<Option<i64>, AppwriteError> {
    match ctx.params.raw("expire") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => ms_from_iso(s).map(Some).ok_or_else(|| {
            AppwriteError::invalid_param("expire", "Value must be valid date in ISO 8601 format.")
        }),
        Some(_) => {
            Err(AppwriteError::invalid_param("expire", "Value must be valid date in ISO 8601 format."))
        }
    }
}

/// A key may only mint keys weaker than itself: no scope it lacks, no later expiry.
fn within_caller(ctx: &Ctx<'_>, scopes: &[String], expire: Option<i64>) -> Result<(), AppwriteError> {
    let Caller::App { scopes: own, expire: own_expire, .. } = &ctx.caller else { return Ok(()) };
    let invalid = |message: &str| AppwriteError::new(ErrorType::GeneralArgumentInvalid, message);
    if scopes.iter().any(|s| !own.contains(s)) {
        return Err(invalid("New API key cannot exceed scopes of currently authenticated API key."));
    }
    match (expire, own_expire) {
        (None, Some(_)) => Err(invalid(
            "New API key must have expiry set, because currently authenticated API key has an expiry.",
        )),
        (Some(e), Some(own)) if e > *own => {
            Err(invalid("New API key expiry must be sooner than currently authenticated API key expiry."))
        }
        _ => Ok(()),
    }
}

/// `GET /project/keys`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let page = list::page(ctx, &SCHEMA, COLUMNS, None).await?;
    let keys: Vec<Json> =
        page.rows.iter().filter_map(|r| ApiKey::from_row(r)).map(|k| k.to_json("")).collect();
    Ok(Response::json(200, &json!({"total": page.total, "keys": keys})))
}

/// `POST /project/keys`: the response is the only time the value is shown.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("keyId", now, ctx.ports.random)?;
    let name = ctx.params.required_text("name", 128)?;
    let scopes = scopes_param(ctx)?;
    let expire = expire_param(ctx)?;
    within_caller(ctx, &scopes, expire)?;
    let secret = format!("standard_{}", edgewrite_core::ids::random_hex(128, ctx.ports.random));
    ctx.ports
        .sql
        .query(Statement::new(
            "INSERT INTO api_keys (id, name, scopes, secret_hash, expire, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.clone().into(),
                name.into(),
                json!(scopes).to_string().into(),
                Value::Blob(secret_hash(&secret)),
                expire.map_or(Value::Null, Value::Integer),
                Value::Integer(now),
                Value::Integer(now),
            ],
        ))
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => ErrorType::KeyAlreadyExists.into(),
            other => AppwriteError::internal(other),
        })?;
    tracing::info!(key = %id, "api key created");
    Ok(Response::json(201, &load(ctx, &id).await?.to_json(&secret)))
}

/// `GET /project/keys/{keyId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("keyId", 36)?;
    Ok(Response::json(200, &load(ctx, &id).await?.to_json("")))
}

/// `PUT /project/keys/{keyId}`: name, scopes and expiry; the value stays.
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("keyId", 36)?;
    let name = ctx.params.required_text("name", 128)?;
    let scopes = scopes_param(ctx)?;
    let expire = expire_param(ctx)?;
    within_caller(ctx, &scopes, expire)?;
    let changed = ctx
        .ports
        .sql
        .query(Statement::new(
            "UPDATE api_keys SET name = ?, scopes = ?, expire = ?, updated_at = ? WHERE id = ?",
            vec![
                name.into(),
                json!(scopes).to_string().into(),
                expire.map_or(Value::Null, Value::Integer),
                Value::Integer(ctx.ports.clock.now_ms()),
                id.clone().into(),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if changed.changes == 0 {
        return Err(not_found());
    }
    Ok(Response::json(200, &load(ctx, &id).await?.to_json("")))
}

/// `DELETE /project/keys/{keyId}`
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("keyId", 36)?;
    let deleted = ctx
        .ports
        .sql
        .query(Statement::new("DELETE FROM api_keys WHERE id = ?", vec![id.clone().into()]))
        .await
        .map_err(AppwriteError::internal)?;
    if deleted.changes == 0 {
        return Err(not_found());
    }
    tracing::info!(key = %id, "api key deleted");
    Ok(Response::no_content())
}
