//! Messaging targets (`/v1/users/{userId}/targets`, `appwrite-api.md` §8.3): where a user can be
//! reached. A user's email and phone are kept as targets automatically, as Appwrite does.

use std::collections::HashMap;

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::account::{valid_email, valid_phone};
use crate::list;

const COLUMNS: &str =
    "id, user_id, provider_type, identifier, provider_id, name, expired, created_at, updated_at";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "userId", column: "user_id", kind: FieldKind::Text },
    Field { attribute: "providerId", column: "provider_id", kind: FieldKind::Text },
    Field { attribute: "providerType", column: "provider_type", kind: FieldKind::Text },
    Field { attribute: "identifier", column: "identifier", kind: FieldKind::Text },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
];

const SCHEMA: Schema<'static> =
    Schema { table: "targets", id_column: "id", fields: FIELDS, search: None, fulltext: &[] };

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: String,
    pub user_id: String,
    pub provider_type: String,
    pub identifier: String,
    pub provider_id: Option<String>,
    pub name: String,
    pub expired: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Target {
    fn from_row(row: &[Value]) -> Option<Target> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
        Some(Target {
            id: text(0)?,
            user_id: text(1)?,
            provider_type: text(2)?,
            identifier: text(3)?,
            provider_id: text(4),
            name: text(5).unwrap_or_default(),
            expired: row.get(6).and_then(Value::as_i64) == Some(1),
            created_at: row.get(7)?.as_i64()?,
            updated_at: row.get(8)?.as_i64()?,
        })
    }

    pub fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "userId": self.user_id,
            "providerId": self.provider_id,
            "providerType": self.provider_type,
            "identifier": self.identifier,
            "expired": self.expired,
        })
    }
}

/// The targets of each of `user_ids`, oldest first.
pub async fn of_users(
    sql: &dyn edgewrite_core::ports::Sql,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<Target>>, AppwriteError> {
    let mut by_user: HashMap<String, Vec<Target>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(by_user);
    }
    // One JSON parameter, not one per id: Durable Object SQLite binds at most 100 parameters.
    let rows = sql
        .query(Statement::new(
            format!(
                "SELECT {COLUMNS} FROM targets WHERE user_id IN (SELECT value FROM json_each(?))
                 ORDER BY created_at, rowid"
            ),
            vec![json!(user_ids).to_string().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    for target in rows.rows.iter().filter_map(|r| Target::from_row(r)) {
        by_user.entry(target.user_id.clone()).or_default().push(target);
    }
    Ok(by_user)
}

/// Keeps the automatic target of a user's email (`email`) or phone (`sms`) in step with a
/// change from `old` to `new`: renamed in place, created, or removed.
pub fn sync(
    ctx: &Ctx<'_>,
    user_id: &str,
    provider_type: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Vec<Statement> {
    let now = ctx.ports.clock.now_ms();
    let mut statements = Vec::new();
    match (old, new) {
        (Some(old), Some(new)) if old == new => {}
        (Some(old), None) => statements.push(Statement::new(
            "DELETE FROM targets WHERE user_id = ? AND provider_type = ? AND identifier = ?",
            vec![user_id.into(), provider_type.into(), old.into()],
        )),
        (old, Some(new)) => {
            if let Some(old) = old {
                statements.push(Statement::new(
                    "UPDATE targets SET identifier = ?, updated_at = ?
                     WHERE user_id = ? AND provider_type = ? AND identifier = ?",
                    vec![new.into(), Value::Integer(now), user_id.into(), provider_type.into(), old.into()],
                ));
            }
            statements.push(Statement::new(
                "INSERT INTO targets (id, user_id, provider_type, identifier, created_at, updated_at)
                 SELECT ?, ?, ?, ?, ?, ?
                 WHERE NOT EXISTS (SELECT 1 FROM targets WHERE user_id = ? AND identifier = ?)",
                vec![
                    edgewrite_core::ids::unique_id(now, ctx.ports.random).into(),
                    user_id.into(),
                    provider_type.into(),
                    new.into(),
                    Value::Integer(now),
                    Value::Integer(now),
                    user_id.into(),
                    new.into(),
                ],
            ));
        }
        (None, None) => {}
    }
    statements
}

fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::UserTargetNotFound, "The target could not be found.")
}

fn write_error(e: StoreError) -> AppwriteError {
    match e {
        StoreError::Constraint(_) => AppwriteError::new(
            ErrorType::UserTargetAlreadyExists,
            "A target with the same ID already exists.",
        ),
        other => AppwriteError::internal(other),
    }
}

/// The identifier a target of `provider_type` may have.
fn valid_identifier(provider_type: &str, identifier: &str) -> Result<String, AppwriteError> {
    match provider_type {
        "email" => valid_email("identifier", identifier),
        "sms" => valid_phone("identifier", identifier),
        _ if identifier.is_empty() => Err(AppwriteError::missing_param("identifier")),
        _ => Ok(identifier.to_string()),
    }
}

/// The `providerId` parameter: empty or absent for the project's default provider, else an
/// existing provider of the target's type.
async fn check_provider(ctx: &Ctx<'_>, provider_type: &str) -> Result<Option<String>, AppwriteError> {
    let Some(id) = ctx.params.text("providerId", 36)?.filter(|p| !p.is_empty()) else { return Ok(None) };
    let rows = ctx
        .ports
        .sql
        .query(Statement::new("SELECT type FROM providers WHERE id = ?", vec![id.clone().into()]))
        .await
        .map_err(AppwriteError::internal)?;
    match rows.rows.first().and_then(|r| r.first()).and_then(Value::as_str) {
        None => Err(AppwriteError::new(
            ErrorType::ProviderNotFound,
            "Provider with the requested ID could not be found.",
        )),
        Some(kind) if kind != provider_type => Err(ErrorType::ProviderIncorrectType.into()),
        Some(_) => Ok(Some(id)),
    }
}

/// The target `id`, whoever's it is.
pub async fn by_id(sql: &dyn edgewrite_core::ports::Sql, id: &str) -> Result<Option<Target>, AppwriteError> {
    let rows = sql
        .query(Statement::new(format!("SELECT {COLUMNS} FROM targets WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Target::from_row(r)))
}

/// The targets with these ids (unknown ids are left out).
pub async fn by_ids(
    sql: &dyn edgewrite_core::ports::Sql,
    ids: &[String],
) -> Result<Vec<Target>, AppwriteError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM targets WHERE id IN (SELECT value FROM json_each(?)) ORDER BY created_at, rowid"),
            vec![json!(ids).to_string().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| Target::from_row(r)).collect())
}

async fn load(ctx: &Ctx<'_>, user_id: &str, id: &str) -> Result<Target, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM targets WHERE id = ? AND user_id = ?"),
            vec![id.into(), user_id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Target::from_row(r)).ok_or_else(not_found)
}

/// `GET /users/{userId}/targets`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    let page = list::page(ctx, &SCHEMA, COLUMNS, Some(("user_id = ?", vec![user.id.into()]))).await?;
    let targets: Vec<Json> =
        page.rows.iter().filter_map(|r| Target::from_row(r)).map(|t| t.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "targets": targets})))
}

/// `POST /users/{userId}/targets`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let provider_type = ctx.params.required_text("providerType", 16)?;
    if !matches!(provider_type.as_str(), "email" | "sms" | "push") {
        return Err(AppwriteError::invalid_param("providerType", "Value must be one of (email, sms, push)"));
    }
    let user = crate::users::path_user(ctx).await?;
    insert(ctx, &user.id, &provider_type).await
}

/// `POST /account/targets/push`: a device of the signed-in user.
pub async fn create_push(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = crate::account::current_user(ctx).await?;
    insert(ctx, &user.id, "push").await
}

async fn insert(ctx: &Ctx<'_>, user_id: &str, provider_type: &str) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("targetId", now, ctx.ports.random)?;
    let identifier = valid_identifier(provider_type, &ctx.params.required_text("identifier", 512)?)?;
    let provider_id = check_provider(ctx, provider_type).await?;
    let name = ctx.params.text("name", 128)?.unwrap_or_default();
    ctx.ports
        .sql
        .query(Statement::new(
            format!("INSERT INTO targets ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)"),
            vec![
                id.clone().into(),
                user_id.into(),
                provider_type.into(),
                identifier.into(),
                provider_id.map_or(Value::Null, Value::from),
                name.into(),
                Value::Integer(now),
                Value::Integer(now),
            ],
        ))
        .await
        .map_err(write_error)?;
    Ok(Response::json(201, &load(ctx, user_id, &id).await?.to_json()))
}

/// `GET /users/{userId}/targets/{targetId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    let id = ctx.params.required_text("targetId", 36)?;
    Ok(Response::json(200, &load(ctx, &user.id, &id).await?.to_json()))
}

/// `PATCH /users/{userId}/targets/{targetId}`: identifier, provider and name, each optional.
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    change(ctx, &user.id, None).await
}

/// `PUT /account/targets/{targetId}/push`: a device's new token.
pub async fn update_push(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = crate::account::current_user(ctx).await?;
    ctx.params.required_text("identifier", 512)?;
    change(ctx, &user.id, Some("push")).await
}

async fn change(ctx: &Ctx<'_>, user_id: &str, only_type: Option<&str>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("targetId", 36)?;
    let mut target = load(ctx, user_id, &id).await?;
    if only_type.is_some_and(|t| t != target.provider_type) {
        return Err(not_found());
    }
    if let Some(identifier) = ctx.params.text("identifier", 512)?.filter(|i| !i.is_empty()) {
        target.identifier = valid_identifier(&target.provider_type, &identifier)?;
    }
    if ctx.params.raw("providerId").is_some() {
        target.provider_id = check_provider(ctx, &target.provider_type).await?;
    }
    if let Some(name) = ctx.params.text("name", 128)? {
        target.name = name;
    }
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE targets SET identifier = ?, provider_id = ?, name = ?, expired = 0, updated_at = ? WHERE id = ?",
            vec![
                target.identifier.clone().into(),
                target.provider_id.clone().map_or(Value::Null, Value::from),
                target.name.clone().into(),
                Value::Integer(ctx.ports.clock.now_ms()),
                id.clone().into(),
            ],
        ))
        .await
        .map_err(write_error)?;
    Ok(Response::json(200, &load(ctx, user_id, &id).await?.to_json()))
}

/// `DELETE /users/{userId}/targets/{targetId}`
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    remove(ctx, &user.id, None).await
}

/// `DELETE /account/targets/{targetId}/push`
pub async fn delete_push(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = crate::account::current_user(ctx).await?;
    remove(ctx, &user.id, Some("push")).await
}

async fn remove(ctx: &Ctx<'_>, user_id: &str, only_type: Option<&str>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("targetId", 36)?;
    let deleted = ctx
        .ports
        .sql
        .query(Statement::new(
            "DELETE FROM targets WHERE id = ? AND user_id = ? AND (? IS NULL OR provider_type = ?)",
            vec![id.into(), user_id.into(), only_type.into(), only_type.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if deleted.changes == 0 {
        return Err(not_found());
    }
    Ok(Response::no_content())
}
