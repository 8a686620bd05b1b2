//! Messaging providers (`/v1/messaging/providers`): one create and one update route per kind,
//! with that kind's credentials; list, get and delete for all. Secret credentials are sealed
//! at rest (`crate::credentials`) and never leave in a response; the rest is shown as Appwrite
//! shows it, split into `credentials` and `options`.

use edgewrite_core::events;
use edgewrite_core::ports::{Event, Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::wire::{self, Kind, ProviderConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Shown in `credentials`.
    Credential,
    /// Sealed, never shown.
    Secret,
    /// Shown in `options`.
    Option,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Text(usize),
    Email,
    Bool,
    Port,
    /// A JSON object or its text (FCM's service account), kept as text.
    Json,
    OneOf(&'static [&'static str]),
}

#[derive(Clone, Copy)]
struct Setting {
    name: &'static str,
    place: Place,
    kind: Type,
}

const fn s(name: &'static str, place: Place, kind: Type) -> Setting {
    Setting { name, place, kind }
}

const SECRET: usize = 4096;
const PLAIN: usize = 256;

const SENDER: [Setting; 4] = [
    s("fromName", Place::Option, Type::Text(PLAIN)),
    s("fromEmail", Place::Option, Type::Email),
    s("replyToName", Place::Option, Type::Text(PLAIN)),
    s("replyToEmail", Place::Option, Type::Email),
];

static SMTP: [Setting; 11] = [
    s("host", Place::Credential, Type::Text(PLAIN)),
    s("port", Place::Credential, Type::Port),
    s("username", Place::Credential, Type::Text(PLAIN)),
    s("password", Place::Secret, Type::Text(SECRET)),
    s("encryption", Place::Option, Type::OneOf(&["none", "ssl", "tls"])),
    s("autoTLS", Place::Option, Type::Bool),
    s("mailer", Place::Option, Type::Text(PLAIN)),
    SENDER[0],
    SENDER[1],
    SENDER[2],
    SENDER[3],
];
static MAILGUN: [Setting; 7] = [
    s("apiKey", Place::Secret, Type::Text(SECRET)),
    s("domain", Place::Credential, Type::Text(PLAIN)),
    s("isEuRegion", Place::Credential, Type::Bool),
    SENDER[0],
    SENDER[1],
    SENDER[2],
    SENDER[3],
];
static API_KEY_MAIL: [Setting; 5] =
    [s("apiKey", Place::Secret, Type::Text(SECRET)), SENDER[0], SENDER[1], SENDER[2], SENDER[3]];
static SES: [Setting; 7] = [
    s("accessKey", Place::Secret, Type::Text(PLAIN)),
    s("secretKey", Place::Secret, Type::Text(SECRET)),
    s("region", Place::Credential, Type::Text(64)),
    SENDER[0],
    SENDER[1],
    SENDER[2],
    SENDER[3],
];
static TWILIO: [Setting; 3] = [
    s("accountSid", Place::Credential, Type::Text(PLAIN)),
    s("authToken", Place::Secret, Type::Text(SECRET)),
    s("from", Place::Option, Type::Text(PLAIN)),
];
static VONAGE: [Setting; 3] = [
    s("apiKey", Place::Credential, Type::Text(PLAIN)),
    s("apiSecret", Place::Secret, Type::Text(SECRET)),
    s("from", Place::Option, Type::Text(PLAIN)),
];
static TEXTMAGIC: [Setting; 3] = [
    s("username", Place::Credential, Type::Text(PLAIN)),
    s("apiKey", Place::Secret, Type::Text(SECRET)),
    s("from", Place::Option, Type::Text(PLAIN)),
];
static TELESIGN: [Setting; 3] = [
    s("customerId", Place::Credential, Type::Text(PLAIN)),
    s("apiKey", Place::Secret, Type::Text(SECRET)),
    s("from", Place::Option, Type::Text(PLAIN)),
];
static MSG91: [Setting; 3] = [
    s("templateId", Place::Credential, Type::Text(PLAIN)),
    s("senderId", Place::Credential, Type::Text(PLAIN)),
    s("authKey", Place::Secret, Type::Text(SECRET)),
];
static FCM: [Setting; 1] = [s("serviceAccountJSON", Place::Secret, Type::Json)];
static APNS: [Setting; 5] = [
    s("authKey", Place::Secret, Type::Text(SECRET)),
    s("authKeyId", Place::Credential, Type::Text(PLAIN)),
    s("teamId", Place::Credential, Type::Text(PLAIN)),
    s("bundleId", Place::Credential, Type::Text(PLAIN)),
    s("sandbox", Place::Option, Type::Bool),
];

fn settings_of(kind: Kind) -> &'static [Setting] {
    match kind {
        Kind::Smtp => &SMTP,
        Kind::Mailgun => &MAILGUN,
        Kind::Sendgrid | Kind::Resend | Kind::Postmark => &API_KEY_MAIL,
        Kind::Ses => &SES,
        Kind::Twilio => &TWILIO,
        Kind::Vonage => &VONAGE,
        Kind::Textmagic => &TEXTMAGIC,
        Kind::Telesign => &TELESIGN,
        Kind::Msg91 => &MSG91,
        Kind::Fcm => &FCM,
        Kind::Apns => &APNS,
    }
}

/// A provider as stored: `shown` holds `credentials` (without secrets) and `options`.
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub enabled: bool,
    pub credentials: Map<String, Json>,
    pub options: Map<String, Json>,
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, provider, enabled, settings, secrets, created_at, updated_at";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "provider", column: "provider", kind: FieldKind::Text },
    Field { attribute: "type", column: "type", kind: FieldKind::Text },
    Field { attribute: "enabled", column: "enabled", kind: FieldKind::Boolean },
];

impl Provider {
    fn from_row(row: &[Value]) -> Option<Provider> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        let settings: Map<String, Json> = serde_json::from_str(&text(4)).unwrap_or_default();
        let part = |name: &str| settings.get(name).and_then(Json::as_object).cloned().unwrap_or_default();
        Some(Provider {
            id: text(0),
            name: text(1),
            kind: Kind::from_name(&text(2))?,
            enabled: row.get(3).and_then(Value::as_i64) == Some(1),
            credentials: part("credentials"),
            options: part("options"),
            sealed: row.get(5).and_then(Value::as_bytes).map(<[u8]>::to_vec).unwrap_or_default(),
            created_at: row.get(6).and_then(Value::as_i64).unwrap_or_default(),
            updated_at: row.get(7).and_then(Value::as_i64).unwrap_or_default(),
        })
    }

    pub fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "provider": self.kind.name(),
            "enabled": self.enabled,
            "type": self.kind.message_type(),
            "credentials": self.credentials,
            "options": self.options,
        })
    }

    /// Everything a delivery needs, secrets opened.
    pub async fn config(&self, ctx: &Ctx<'_>) -> Result<ProviderConfig, AppwriteError> {
        let mut credentials = self.credentials.clone();
        credentials.extend(crate::credentials::open(ctx, &self.id, &self.sealed).await?);
        Ok(ProviderConfig {
            id: self.id.clone(),
            kind: self.kind,
            credentials,
            options: self.options.clone(),
        })
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::ProviderNotFound, "Provider with the requested ID could not be found.")
}

pub async fn load_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Option<Provider>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(format!("SELECT {COLUMNS} FROM providers WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Provider::from_row(r)))
}

/// The enabled providers of `message_type`, oldest first: the first is the project's default.
pub async fn enabled_of_type(ctx: &Ctx<'_>, message_type: &str) -> Result<Vec<Provider>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!(
                "SELECT {COLUMNS} FROM providers WHERE type = ? AND enabled = 1 ORDER BY created_at, rowid"
            ),
            vec![message_type.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| Provider::from_row(r)).collect())
}

fn param(ctx: &Ctx<'_>, setting: &Setting) -> Result<Option<Json>, AppwriteError> {
    let name = setting.name;
    Ok(match setting.kind {
        Type::Text(max) => ctx.params.text(name, max)?.map(Json::from),
        Type::Email => match ctx.params.text(name, 254)? {
            Some(e) if e.is_empty() => Some(Json::from(e)),
            Some(e) => Some(Json::from(edgewrite_account::valid_email(name, &e)?)),
            None => None,
        },
        Type::Bool => ctx.params.boolean(name)?.map(Json::from),
        Type::Port => ctx.params.integer(name, 1, 65_535)?.map(Json::from),
        Type::Json => match ctx.params.raw(name) {
            None => None,
            Some(value @ (Json::String(_) | Json::Object(_))) => {
                let text = match value {
                    Json::String(text) => text.clone(),
                    other => other.to_string(),
                };
                if text.len() > 16_384 {
                    return Err(AppwriteError::invalid_param(name, "Value must be at most 16384 chars"));
                }
                Some(Json::from(text))
            }
            Some(_) => return Err(AppwriteError::invalid_param(name, "Value must be a valid JSON object")),
        },
        Type::OneOf(allowed) => match ctx.params.text(name, PLAIN)? {
            Some(v) if v.is_empty() || allowed.contains(&v.as_str()) => Some(Json::from(v)),
            Some(_) => {
                return Err(AppwriteError::invalid_param(
                    name,
                    &format!("Value must be one of ({})", allowed.join(", ")),
                ))
            }
            None => None,
        },
    })
}

/// The kind in the route (`/messaging/providers/{kind}`), known from the route's name.
fn route_kind(route_name: &str) -> Option<Kind> {
    Kind::from_name(route_name.rsplit('.').next()?)
}

fn event(provider: &Provider, action: &str) -> Event {
    // Messaging events reach functions and webhooks; no client channel carries them (as in
    // Appwrite, only the console sees messaging in realtime).
    Event::new(
        events::names(&[("providers", &provider.id)], action),
        Vec::new(),
        provider.to_json(),
        Vec::new(),
    )
}

/// `POST /messaging/providers/{kind}` and `PATCH /messaging/providers/{kind}/{providerId}`.
pub async fn save(ctx: &Ctx<'_>, route_name: &str, creating: bool) -> Result<Response, AppwriteError> {
    let kind = route_kind(route_name).ok_or_else(|| AppwriteError::from(ErrorType::GeneralRouteNotFound))?;
    let now = ctx.ports.clock.now_ms();
    let (mut provider, mut secrets) = if creating {
        let id = ctx.params.custom_id("providerId", now, ctx.ports.random)?;
        let name = ctx.params.required_text("name", 128)?;
        let provider = Provider {
            id,
            name,
            kind,
            enabled: false,
            credentials: Map::new(),
            options: Map::new(),
            sealed: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        (provider, Map::new())
    } else {
        let id = ctx.params.required_text("providerId", 36)?;
        let mut provider = load_by_id(ctx, &id).await?.ok_or_else(not_found)?;
        if provider.kind != kind {
            return Err(ErrorType::ProviderIncorrectType.into());
        }
        let secrets = crate::credentials::open(ctx, &provider.id, &provider.sealed).await?;
        if let Some(name) = ctx.params.text("name", 128)? {
            provider.name = name;
        }
        (provider, secrets)
    };
    for setting in settings_of(kind) {
        let Some(value) = param(ctx, setting)? else { continue };
        let target = match setting.place {
            Place::Credential => &mut provider.credentials,
            Place::Secret => &mut secrets,
            Place::Option => &mut provider.options,
        };
        target.insert(setting.name.to_string(), value);
    }
    let mut all = provider.credentials.clone();
    all.extend(secrets.clone());
    wire::check_settings(kind, &all, &provider.options)
        .map_err(|m| AppwriteError::new(ErrorType::GeneralArgumentInvalid, m))?;
    let complete = wire::missing_settings(kind, &all, &provider.options).is_empty();
    let wanted = ctx.params.boolean("enabled")?;
    provider.enabled = match (creating, wanted) {
        // Appwrite: a new provider without its credentials is created disabled.
        (true, wanted) => wanted.unwrap_or(true) && complete,
        (false, Some(true)) if !complete => return Err(ErrorType::ProviderMissingCredentials.into()),
        (false, Some(enabled)) => enabled,
        (false, None) => provider.enabled && complete,
    };
    provider.updated_at = now;
    if !secrets.is_empty() && ctx.ports.secrets.get("EDGEWRITE_ENCRYPTION_KEY").is_none_or(|k| k.is_empty()) {
        tracing::warn!(
            provider = %provider.id,
            "EDGEWRITE_ENCRYPTION_KEY is not set: provider secrets are sealed with a key kept in the same database"
        );
    }
    provider.sealed = crate::credentials::seal(ctx, &provider.id, &secrets).await?;
    let shown = json!({"credentials": provider.credentials, "options": provider.options}).to_string();
    let statement = if creating {
        Statement::new(
            "INSERT INTO providers (id, name, provider, type, enabled, settings, secrets, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                provider.id.clone().into(),
                provider.name.clone().into(),
                kind.name().into(),
                kind.message_type().into(),
                Value::Integer(i64::from(provider.enabled)),
                shown.into(),
                Value::Blob(provider.sealed.clone()),
                Value::Integer(now),
                Value::Integer(now),
            ],
        )
    } else {
        Statement::new(
            "UPDATE providers SET name = ?, enabled = ?, settings = ?, secrets = ?, updated_at = ? WHERE id = ?",
            vec![
                provider.name.clone().into(),
                Value::Integer(i64::from(provider.enabled)),
                shown.into(),
                Value::Blob(provider.sealed.clone()),
                Value::Integer(now),
                provider.id.clone().into(),
            ],
        )
        .expect_changes(1)
    };
    ctx.ports.sql.query(statement).await.map_err(|e| match e {
        StoreError::Constraint(_) => AppwriteError::new(
            ErrorType::ProviderAlreadyExists,
            "Provider with the requested ID already exists.",
        ),
        other => AppwriteError::from_store(other, not_found),
    })?;
    tracing::info!(provider = %provider.id, kind = kind.name(), enabled = provider.enabled, "provider saved");
    let action = if creating { "create" } else { "update" };
    events::publish_all(ctx, None, vec![event(&provider, action)]).await;
    Ok(Response::json(if creating { 201 } else { 200 }, &provider.to_json()))
}

/// `GET /messaging/providers`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema {
        table: "providers",
        id_column: "id",
        fields: FIELDS,
        search: Some("id || ' ' || name || ' ' || provider || ' ' || type"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, COLUMNS, None).await?;
    let providers: Vec<Json> =
        page.rows.iter().filter_map(|r| Provider::from_row(r)).map(|p| p.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "providers": providers})))
}

/// `GET /messaging/providers/{providerId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("providerId", 36)?;
    Ok(Response::json(200, &load_by_id(ctx, &id).await?.ok_or_else(not_found)?.to_json()))
}

/// `DELETE /messaging/providers/{providerId}`: targets that named it fall back to the default.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("providerId", 36)?;
    let provider = load_by_id(ctx, &id).await?.ok_or_else(not_found)?;
    ctx.ports
        .sql
        .batch(vec![
            Statement::new("DELETE FROM providers WHERE id = ?", vec![id.clone().into()]).expect_changes(1),
            Statement::new("UPDATE targets SET provider_id = NULL WHERE provider_id = ?", vec![id.into()]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    events::publish_all(ctx, None, vec![event(&provider, "delete")]).await;
    Ok(Response::no_content())
}

/// `PATCH /v1/messaging/system-fields/providers/{providerId}` (edgewrite only): a migrated
/// provider's times.
pub async fn restore(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    use edgewrite_core::system_fields::{restore_row, TIMES};
    let key = vec![ctx.params.required_text("providerId", 36)?.into()];
    restore_row(ctx, &TIMES, "providers", "id = ?", key, ErrorType::ProviderNotFound).await
}
