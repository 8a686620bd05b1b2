//! The webhooks of a project (`/v1/webhooks`, API keys only): create, list, get, replace,
//! delete and a new signing secret. The secret is shown only when it is made (create and
//! `PATCH …/secret`); every other answer carries `""`.

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::public_url::{self, Refusal};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::patterns;

pub(crate) const COLUMNS: &str =
    "id, name, url, events, tls, auth_username, auth_password, secret, enabled, logs, attempts, created_at, updated_at";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "url", column: "url", kind: FieldKind::Text },
    Field { attribute: "authUsername", column: "auth_username", kind: FieldKind::Text },
    Field { attribute: "tls", column: "tls", kind: FieldKind::Boolean },
    Field { attribute: "events", column: "events", kind: FieldKind::TextArray },
    Field { attribute: "enabled", column: "enabled", kind: FieldKind::Boolean },
    Field { attribute: "logs", column: "logs", kind: FieldKind::Text },
    Field { attribute: "attempts", column: "attempts", kind: FieldKind::Integer },
];

/// Webhooks the project may hold (Appwrite loads the first 1000 when it delivers).
const MAX_WEBHOOKS: i64 = 1000;
/// Patterns one webhook may subscribe to.
const MAX_EVENTS: usize = 100;

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub tls: bool,
    pub auth_username: String,
    pub auth_password: String,
    pub secret: String,
    pub enabled: bool,
    pub logs: String,
    pub attempts: i64,
    created_at: i64,
    updated_at: i64,
}

impl Webhook {
    pub(crate) fn from_row(row: &[Value]) -> Option<Webhook> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
        Some(Webhook {
            id: row.first()?.as_str()?.to_string(),
            name: text(1),
            url: text(2),
            events: serde_json::from_str(&text(3)).unwrap_or_default(),
            tls: int(4) == 1,
            auth_username: text(5),
            auth_password: text(6),
            secret: text(7),
            enabled: int(8) == 1,
            logs: text(9),
            attempts: int(10),
            created_at: int(11),
            updated_at: int(12),
        })
    }

    fn to_json(&self, show_secret: bool) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "tls": self.tls,
            "authUsername": self.auth_username,
            "authPassword": self.auth_password,
            "secret": if show_secret { self.secret.as_str() } else { "" },
            "enabled": self.enabled,
            "logs": self.logs,
            "attempts": self.attempts,
        })
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::WebhookNotFound, "Webhook with the requested ID could not be found.")
}

fn select(id: &str) -> Statement {
    Statement::new(format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?"), vec![id.into()])
}

pub(crate) async fn load(ctx: &Ctx<'_>, id: &str) -> Result<Option<Webhook>, AppwriteError> {
    let rows = ctx.ports.sql.query(select(id)).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Webhook::from_row(r)))
}

/// The webhook's URL: `http`/`https` to a public host or one the deployment allows. Checked when
/// it is set and again before each delivery (the allowed hosts may have changed since).
pub fn checked_url(url: &str, allowed_hosts: &[String]) -> Result<(), Refusal> {
    public_url::check_allowing_hosts(url, allowed_hosts).map(|_| ())
}

fn url_param(ctx: &Ctx<'_>) -> Result<String, AppwriteError> {
    let url = ctx.params.required_text("url", 255)?;
    checked_url(&url, &ctx.config.webhooks_allowed_hosts).map_err(|refusal| {
        AppwriteError::invalid_param(
            "url",
            &match refusal {
                Refusal::NotHttp => {
                    "Value must be a valid URL with following schemes (http, https)".to_string()
                }
                Refusal::NotPublic(host) => format!("Value must be a public domain; {host} is not."),
            },
        )
    })?;
    Ok(url)
}

fn events_param(ctx: &Ctx<'_>) -> Result<Vec<String>, AppwriteError> {
    let events = ctx.params.string_array("events", 256, &ctx.config.limits)?;
    let events = events.ok_or_else(|| AppwriteError::missing_param("events"))?;
    let invalid = |detail: String| AppwriteError::invalid_param("events", &detail);
    if events.len() > MAX_EVENTS {
        return Err(invalid(format!("Value must a valid array no longer than {MAX_EVENTS} items")));
    }
    if let Some(bad) = events.iter().find(|e| !patterns::valid(e)) {
        return Err(invalid(format!("Event \"{bad}\" is not valid.")));
    }
    let mut unique: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    Ok(unique)
}

/// A text of 1 to `max` characters when present (Appwrite's `Text` refuses `""`).
fn non_empty(ctx: &Ctx<'_>, name: &str, max: usize) -> Result<Option<String>, AppwriteError> {
    match ctx.params.raw(name) {
        None | Some(Json::Null) => Ok(None),
        Some(_) => match ctx.params.text(name, max)? {
            Some(s) if !s.is_empty() => Ok(Some(s)),
            _ => Err(AppwriteError::invalid_param(
                name,
                &format!("Value must be a valid string and at least 1 chars and no longer than {max} chars"),
            )),
        },
    }
}

fn required_name(ctx: &Ctx<'_>) -> Result<String, AppwriteError> {
    non_empty(ctx, "name", 128)?.ok_or_else(|| AppwriteError::missing_param("name"))
}

/// A given secret (8 to 256 characters), or 64 random bytes as lower-case hex.
fn secret_param(ctx: &Ctx<'_>) -> Result<String, AppwriteError> {
    if let Some(secret) = non_empty(ctx, "secret", 256)? {
        if secret.chars().count() < 8 {
            return Err(AppwriteError::invalid_param(
                "secret",
                "Value must be a valid string and at least 8 chars and no longer than 256 chars",
            ));
        }
        return Ok(secret);
    }
    let mut bytes = [0u8; 64];
    ctx.ports.random.fill(&mut bytes);
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn flag(ctx: &Ctx<'_>, name: &str, default: bool) -> Result<bool, AppwriteError> {
    match ctx.params.raw(name) {
        None | Some(Json::Null) => Ok(default),
        Some(_) => ctx.params.boolean(name).map(|b| b.unwrap_or(default)),
    }
}

/// What create and replace both set, each to its default when not given.
struct Settings {
    url: String,
    name: String,
    events: Vec<String>,
    enabled: bool,
    tls: bool,
    auth_username: String,
    auth_password: String,
}

impl Settings {
    fn from_params(ctx: &Ctx<'_>) -> Result<Settings, AppwriteError> {
        Ok(Settings {
            url: url_param(ctx)?,
            name: required_name(ctx)?,
            events: events_param(ctx)?,
            enabled: flag(ctx, "enabled", true)?,
            tls: flag(ctx, "tls", false)?,
            auth_username: non_empty(ctx, "authUsername", 256)?.unwrap_or_default(),
            auth_password: non_empty(ctx, "authPassword", 256)?.unwrap_or_default(),
        })
    }

    /// `name, url, events, tls, auth_username, auth_password, enabled`, in that order.
    fn values(self) -> Vec<Value> {
        vec![
            self.name.into(),
            self.url.into(),
            json!(self.events).to_string().into(),
            Value::Integer(self.tls.into()),
            self.auth_username.into(),
            self.auth_password.into(),
            Value::Integer(self.enabled.into()),
        ]
    }
}

fn saved(out: &[edgewrite_core::ports::Rows]) -> Result<Webhook, AppwriteError> {
    out.last().and_then(|r| r.rows.first()).and_then(|r| Webhook::from_row(r)).ok_or_else(not_found)
}

/// `POST /webhooks`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("webhookId", now, ctx.ports.random)?;
    let mut values = Settings::from_params(ctx)?.values();
    values.extend([secret_param(ctx)?.into(), id.clone().into(), Value::Integer(now), Value::Integer(now)]);
    values.push(Value::Integer(MAX_WEBHOOKS));
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT INTO webhooks (name, url, events, tls, auth_username, auth_password, enabled, secret, id,
                     created_at, updated_at)
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM webhooks) < ?",
                values,
            )
            .expect_changes(1),
            // What a deleted webhook of the same id left behind is not this one's.
            Statement::new("DELETE FROM webhook_deliveries WHERE webhook_id = ?", vec![id.clone().into()]),
            select(&id),
        ])
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => AppwriteError::new(
                ErrorType::WebhookAlreadyExists,
                "Webhook with the same ID already exists. Try again with a different ID.",
            ),
            StoreError::GuardFailed { .. } => AppwriteError::new(
                ErrorType::GeneralBadRequest,
                format!("A project holds at most {MAX_WEBHOOKS} webhooks."),
            ),
            other => AppwriteError::internal(other),
        })?;
    crate::delivery::forget_webhooks(ctx);
    Ok(Response::json(201, &saved(&out)?.to_json(true)))
}

/// `GET /webhooks`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema { table: "webhooks", id_column: "id", fields: FIELDS, search: None, fulltext: &[] };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, COLUMNS, None).await?;
    let webhooks: Vec<Json> =
        page.rows.iter().filter_map(|r| Webhook::from_row(r)).map(|w| w.to_json(false)).collect();
    Ok(Response::json(200, &json!({"total": page.total, "webhooks": webhooks})))
}

/// `GET /webhooks/{webhookId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("webhookId", 36)?;
    let webhook = load(ctx, &id).await?.ok_or_else(not_found)?;
    Ok(Response::json(200, &webhook.to_json(false)))
}

/// `PUT /webhooks/{webhookId}`: replaces everything but the secret. Enabling a webhook (the
/// default) clears its failure count.
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("webhookId", 36)?;
    let settings = Settings::from_params(ctx)?;
    let enabled = Value::Integer(settings.enabled.into());
    let mut values = settings.values();
    values.extend([enabled, Value::Integer(ctx.ports.clock.now_ms()), id.clone().into()]);
    let out = ctx
        .ports
        .sql
        .batch(vec![
            // Enabling (the default) clears the failure count.
            Statement::new(
                "UPDATE webhooks SET name = ?, url = ?, events = ?, tls = ?, auth_username = ?, auth_password = ?,
                     enabled = ?, attempts = CASE WHEN ? THEN 0 ELSE attempts END, updated_at = ?
                 WHERE id = ?",
                values,
            )
            .expect_changes(1),
            select(&id),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    crate::delivery::forget_webhooks(ctx);
    Ok(Response::json(200, &saved(&out)?.to_json(false)))
}

/// `PATCH /webhooks/{webhookId}/secret`: a new signing secret, shown this once.
pub async fn update_secret(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("webhookId", 36)?;
    let secret = secret_param(ctx)?;
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE webhooks SET secret = ?, updated_at = ? WHERE id = ?",
                vec![secret.into(), Value::Integer(ctx.ports.clock.now_ms()), id.clone().into()],
            )
            .expect_changes(1),
            select(&id),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    Ok(Response::json(200, &saved(&out)?.to_json(true)))
}

/// `DELETE /webhooks/{webhookId}`: its undelivered events go with it.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("webhookId", 36)?;
    ctx.ports
        .sql
        .batch(vec![
            Statement::new("DELETE FROM webhooks WHERE id = ?", vec![id.clone().into()]).expect_changes(1),
            Statement::new("DELETE FROM webhook_deliveries WHERE webhook_id = ?", vec![id.into()]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    crate::delivery::forget_webhooks(ctx);
    Ok(Response::no_content())
}
