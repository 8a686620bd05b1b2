//! Appwrite's Presences (`/v1/presences`): one row per user saying what they are doing
//! (`status`, free `metadata`), until `expiresAt` (15 minutes unless set, at most 30 days).
//! An expired presence is gone for reads and updates; it can still be deleted, and a new upsert
//! overwrites it. Each presence carries its own permissions (the owner's by default); API keys
//! see every one. Changes are announced on the `presences` and `presences.<id>` channels to the
//! roles that may read them.

use async_trait::async_trait;
use edgewrite_core::events::{channels, names, publish_all, read_roles};
use edgewrite_core::http::Method;
use edgewrite_core::identity::Caller;
use edgewrite_core::permissions::{self, Permission};
use edgewrite_core::ports::{Event, Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::{iso_from_ms, ms_from_iso};
use edgewrite_core::{ids, AppwriteError, Capability, Ctx, ErrorType, Response, Route};
use serde_json::{json, Map, Value as Json};

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

static ROUTES: &[Route] = &[
    route(Method::Get, "/v1/presences", "presences.read", "presences.list"),
    route(Method::Get, "/v1/presences/{presenceId}", "presences.read", "presences.get"),
    route(Method::Put, "/v1/presences/{presenceId}", "presences.write", "presences.upsert"),
    route(Method::Patch, "/v1/presences/{presenceId}", "presences.write", "presences.update"),
    route(Method::Delete, "/v1/presences/{presenceId}", "presences.write", "presences.delete"),
];

const COLUMNS: &str =
    "id, user_id, status, source, metadata, permissions, expires_at, created_at, updated_at";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "userId", column: "user_id", kind: FieldKind::Text },
    Field { attribute: "status", column: "status", kind: FieldKind::Text },
    Field { attribute: "source", column: "source", kind: FieldKind::Text },
    Field { attribute: "expiresAt", column: "expires_at", kind: FieldKind::Datetime },
];

/// A presence lives this long unless its upsert says otherwise (Appwrite's 15 minutes).
const DEFAULT_TTL_MS: i64 = 15 * 60 * 1000;
/// The furthest `expiresAt` may lie ahead.
const MAX_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// The largest `metadata`, as JSON text.
const MAX_METADATA_BYTES: usize = 65_535;
const ACTIONS: &[&str] = &["read", "update", "delete", "write"];
const WRITE_MEANS: &[&str] = &["update", "delete"];

/// Presences: the routes, and nothing else.
pub struct Presences;

#[async_trait(?Send)]
impl Capability for Presences {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        match route.name {
            "presences.list" => list(ctx).await,
            "presences.get" => get(ctx).await,
            "presences.upsert" => upsert(ctx).await,
            "presences.update" => update(ctx).await,
            "presences.delete" => delete(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}

#[derive(Debug, Clone)]
struct Presence {
    id: String,
    user_id: String,
    status: Option<String>,
    source: String,
    metadata: Json,
    permissions: Vec<String>,
    expires_at: i64,
    created_at: i64,
    updated_at: i64,
}

impl Presence {
    fn from_row(row: &[Value]) -> Option<Presence> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
        Some(Presence {
            id: row.first()?.as_str()?.to_string(),
            user_id: text(1),
            status: row.get(2).and_then(Value::as_str).map(str::to_string),
            source: text(3),
            metadata: serde_json::from_str(&text(4)).unwrap_or_else(|_| json!({})),
            permissions: serde_json::from_str(&text(5)).unwrap_or_default(),
            expires_at: int(6),
            created_at: int(7),
            updated_at: int(8),
        })
    }

    fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "$permissions": self.permissions,
            "userId": self.user_id,
            "status": self.status,
            "source": self.source,
            "expiresAt": iso_from_ms(self.expires_at),
            "metadata": self.metadata,
        })
    }

    fn allows(&self, ctx: &Ctx<'_>, action: &str) -> bool {
        matches!(ctx.caller, Caller::App { .. })
            || permissions::allows(&self.permissions, action, &ctx.caller.roles(), WRITE_MEANS)
    }

    fn event(&self, action: &str) -> Event {
        Event::new(
            names(&[("presences", &self.id)], action),
            channels(&["presences".to_string(), format!("presences.{}", self.id)], action),
            self.to_json(),
            read_roles(&self.permissions),
        )
    }
}

fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::PresenceNotFound, "Presence with the requested ID could not be found.")
}

fn unauthorized() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserUnauthorized,
        "The current user is not authorized to perform the requested action.",
    )
}

async fn load(ctx: &Ctx<'_>, column: &str, value: &str) -> Result<Option<Presence>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM presences WHERE {column} = ?"),
            vec![value.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Presence::from_row(r)))
}

/// The presence `id` as the caller may see it: absent, unreadable and expired alike are 404.
async fn visible(ctx: &Ctx<'_>, id: &str, live_only: bool) -> Result<Presence, AppwriteError> {
    let presence = load(ctx, "id", id).await?.ok_or_else(not_found)?;
    if !presence.allows(ctx, "read") || (live_only && presence.expires_at <= ctx.ports.clock.now_ms()) {
        return Err(not_found());
    }
    Ok(presence)
}

fn presence_id(ctx: &Ctx<'_>) -> Result<String, AppwriteError> {
    let id = ctx.params.required_text("presenceId", 36)?;
    if !ids::is_valid_custom_id(&id) {
        return Err(AppwriteError::invalid_param("presenceId", ids::CUSTOM_ID_RULE));
    }
    Ok(id)
}

/// Whose presence a write is: a session's or JWT's own (they may not name anyone), or the user
/// an API key names (`None` when the key names nobody).
async fn target_user(ctx: &Ctx<'_>) -> Result<Option<String>, AppwriteError> {
    let named = match ctx.params.raw("userId") {
        None | Some(Json::Null) => None,
        Some(_) => Some(ctx.params.required_text("userId", 36)?),
    };
    match (&ctx.caller, named) {
        (Caller::User(_), Some(_)) => Err(AppwriteError::new(
            ErrorType::GeneralUnauthorizedScope,
            "userId is not allowed for non-API key and non-privileged users",
        )),
        (Caller::User(user), None) => Ok(Some(user.user_id.clone())),
        (Caller::App { .. }, Some(user_id)) => {
            let rows = ctx
                .ports
                .sql
                .query(Statement::new("SELECT 1 FROM users WHERE id = ?", vec![user_id.clone().into()]))
                .await
                .map_err(AppwriteError::internal)?;
            if rows.rows.is_empty() {
                return Err(AppwriteError::new(
                    ErrorType::UserNotFound,
                    "User with the requested ID could not be found.",
                ));
            }
            Ok(Some(user_id))
        }
        (Caller::App { .. }, None) => Ok(None),
        (Caller::Guest, _) => {
            Err(AppwriteError::new(ErrorType::GeneralUnauthorizedScope, "Guests have no presence."))
        }
    }
}

fn owner_permissions(user_id: &str) -> Vec<String> {
    ["delete", "read", "update", "write"].iter().map(|a| format!("{a}(\"user:{user_id}\")")).collect()
}

/// The `permissions` param: `write` spelled out as update and delete, sorted; a session may
/// only name roles it holds.
fn permissions_param(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(given) = ctx.params.string_array("permissions", 255, &ctx.config.limits)? else {
        return Ok(None);
    };
    if given.len() > 100 {
        return Err(AppwriteError::invalid_param(
            "permissions",
            "Value must a valid array no longer than 100 items",
        ));
    }
    let parsed = permissions::parse(&given, ACTIONS)?;
    permissions::check_grantable(&ctx.caller, &parsed)?;
    let expanded: Vec<Permission> = permissions::expand(&parsed, WRITE_MEANS)
        .into_iter()
        .map(|(action, role)| Permission { action, role })
        .collect();
    let mut rendered = permissions::render(&expanded);
    rendered.sort();
    rendered.dedup();
    Ok(Some(rendered))
}

fn expires_param(ctx: &Ctx<'_>, now: i64) -> Result<Option<i64>, AppwriteError> {
    let Some(raw) = ctx.params.text("expiresAt", 64)? else { return Ok(None) };
    let latest = now + MAX_TTL_MS;
    match ms_from_iso(&raw) {
        Some(at) if at > now && at <= latest => Ok(Some(at)),
        _ => Err(AppwriteError::invalid_param(
            "expiresAt",
            &format!(
                "Value must be valid date in the future and between {} and {}.",
                iso_from_ms(now),
                iso_from_ms(latest)
            ),
        )),
    }
}

fn metadata_param(ctx: &Ctx<'_>) -> Result<Option<Json>, AppwriteError> {
    let value = match ctx.params.raw("metadata") {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::String(s)) => serde_json::from_str::<Json>(s)
            .map_err(|_| AppwriteError::invalid_param("metadata", "Value must be a valid JSON object"))?,
        Some(other) => other.clone(),
    };
    let value = match value {
        Json::Object(_) => value,
        // Appwrite's default, an empty array, reads as no metadata.
        Json::Array(a) if a.is_empty() => Json::Object(Map::new()),
        _ => return Err(AppwriteError::invalid_param("metadata", "Value must be a valid JSON object")),
    };
    if value.to_string().len() > MAX_METADATA_BYTES {
        return Err(AppwriteError::invalid_param(
            "metadata",
            &format!("Value must be a valid JSON object of at most {MAX_METADATA_BYTES} bytes"),
        ));
    }
    Ok(Some(value))
}

fn status_param(ctx: &Ctx<'_>, required: bool) -> Result<Option<String>, AppwriteError> {
    match ctx.params.raw("status") {
        None | Some(Json::Null) if required => Err(AppwriteError::missing_param("status")),
        None | Some(Json::Null) => Ok(None),
        Some(_) => match ctx.params.text("status", 255)? {
            Some(s) if !s.is_empty() => Ok(Some(s)),
            _ => Err(AppwriteError::invalid_param(
                "status",
                "Value must be a valid string and at least 1 chars and no longer than 255 chars",
            )),
        },
    }
}

fn source(ctx: &Ctx<'_>) -> &'static str {
    if ctx.request.header("x-appwrite-source").is_some_and(|s| s.eq_ignore_ascii_case("graphql")) {
        "graphql"
    } else {
        "rest"
    }
}

fn row_params(p: &Presence) -> Vec<Value> {
    vec![
        p.status.clone().into(),
        p.source.clone().into(),
        p.metadata.to_string().into(),
        json!(p.permissions).to_string().into(),
        Value::Integer(p.expires_at),
        Value::Integer(p.updated_at),
    ]
}

/// `PUT /presences/{presenceId}`: the user's one presence, created or overwritten (keeping the
/// id it already had).
async fn upsert(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = presence_id(ctx)?;
    let user_id = target_user(ctx).await?.ok_or_else(|| {
        AppwriteError::new(ErrorType::GeneralBadRequest, "userId is required for API key authentication")
    })?;
    let status = status_param(ctx, true)?;
    let now = ctx.ports.clock.now_ms();
    let expires_at = expires_param(ctx, now)?.unwrap_or(now + DEFAULT_TTL_MS);
    let metadata = metadata_param(ctx)?.unwrap_or_else(|| json!({}));
    let permissions = permissions_param(ctx)?.unwrap_or_else(|| owner_permissions(&user_id));
    let mut presence = Presence {
        id,
        user_id: user_id.clone(),
        status,
        source: source(ctx).to_string(),
        metadata,
        permissions,
        expires_at,
        created_at: now,
        updated_at: now,
    };
    // Two tries: an insert that loses a race with the same user's other upsert becomes an
    // overwrite.
    for _ in 0..2 {
        if let Some(existing) = load(ctx, "user_id", &user_id).await? {
            presence.id = existing.id;
            presence.created_at = existing.created_at;
            let mut params = row_params(&presence);
            params.push(user_id.clone().into());
            ctx.ports
                .sql
                .batch(vec![Statement::new(
                    "UPDATE presences SET status = ?, source = ?, metadata = ?, permissions = ?, expires_at = ?,
                         updated_at = ? WHERE user_id = ?",
                    params,
                )
                .expect_changes(1)])
                .await
                .map_err(AppwriteError::internal)?;
            return announce(ctx, presence, "upsert").await;
        }
        let mut params = vec![presence.id.clone().into(), user_id.clone().into(), Value::Integer(now)];
        params.extend(row_params(&presence));
        let inserted = ctx
            .ports
            .sql
            .query(Statement::new(
                "INSERT INTO presences (id, user_id, created_at, status, source, metadata, permissions, expires_at,
                     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            ))
            .await;
        match inserted {
            Ok(_) => return announce(ctx, presence, "upsert").await,
            Err(StoreError::Constraint(message)) if message.contains("presences.id") => {
                return Err(AppwriteError::new(
                    ErrorType::PresenceAlreadyExists,
                    format!(
                        "Presence with the requested ID '{}' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.",
                        presence.id
                    ),
                ));
            }
            Err(StoreError::Constraint(_)) => continue,
            Err(other) => return Err(AppwriteError::internal(other)),
        }
    }
    Err(AppwriteError::internal("a presence upsert kept losing races"))
}

async fn announce(ctx: &Ctx<'_>, presence: Presence, action: &str) -> Result<Response, AppwriteError> {
    publish_all(ctx, None, vec![presence.event(action)]).await;
    Ok(Response::json(200, &presence.to_json()))
}

/// `PATCH /presences/{presenceId}`: only what is given changes; a new `userId` (keys only) hands
/// the presence over with its new owner's permissions unless others are given.
async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = presence_id(ctx)?;
    let new_user = match ctx.params.raw("userId") {
        None | Some(Json::Null) => None,
        Some(_) => target_user(ctx).await?,
    };
    let status = status_param(ctx, false)?;
    let now = ctx.ports.clock.now_ms();
    let expires_at = expires_param(ctx, now)?;
    let metadata = metadata_param(ctx)?;
    let given_permissions = permissions_param(ctx)?;
    let mut presence = visible(ctx, &id, true).await?;
    let nothing = new_user.is_none()
        && status.is_none()
        && expires_at.is_none()
        && metadata.is_none()
        && given_permissions.is_none();
    if nothing {
        return Ok(Response::json(200, &presence.to_json()));
    }
    if !presence.allows(ctx, "update") {
        return Err(unauthorized());
    }
    if let Some(user_id) = new_user.filter(|u| *u != presence.user_id) {
        if given_permissions.is_none() {
            presence.permissions = owner_permissions(&user_id);
        }
        presence.user_id = user_id;
    }
    if status.is_some() {
        presence.status = status;
    }
    if let Some(at) = expires_at {
        presence.expires_at = at;
    }
    if let Some(m) = metadata {
        presence.metadata = m;
    }
    if let Some(p) = given_permissions {
        presence.permissions = p;
    }
    presence.updated_at = now;
    let mut params = row_params(&presence);
    params.push(presence.user_id.clone().into());
    params.push(presence.id.clone().into());
    ctx.ports
        .sql
        .batch(vec![Statement::new(
            // `source` is the stored one: it stays what the upsert set.
            "UPDATE presences SET status = ?, source = ?, metadata = ?, permissions = ?, expires_at = ?,
                 updated_at = ?, user_id = ? WHERE id = ?",
            params,
        )
        .expect_changes(1)])
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => {
                AppwriteError::new(ErrorType::PresenceAlreadyExists, "That user already has a presence.")
            }
            other => AppwriteError::from_store(other, not_found),
        })?;
    announce(ctx, presence, "update").await
}

/// `GET /presences/{presenceId}`
async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = presence_id(ctx)?;
    Ok(Response::json(200, &visible(ctx, &id, true).await?.to_json()))
}

/// `DELETE /presences/{presenceId}`: expired or not.
async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = presence_id(ctx)?;
    let presence = visible(ctx, &id, false).await?;
    if !presence.allows(ctx, "delete") {
        return Err(unauthorized());
    }
    ctx.ports
        .sql
        .batch(vec![Statement::new("DELETE FROM presences WHERE id = ?", vec![id.into()]).expect_changes(1)])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    publish_all(ctx, None, vec![presence.event("delete")]).await;
    Ok(Response::no_content())
}

/// `GET /presences`: live presences the caller may read. `ttl` (a cache in Appwrite) is
/// accepted and answered fresh every time (`X-Appwrite-Cache: miss`).
async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let ttl = ctx.params.integer("ttl", 0, 86_400)?.unwrap_or(0);
    let schema = Schema { table: "presences", id_column: "id", fields: FIELDS, search: None, fulltext: &[] };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let now = ctx.ports.clock.now_ms();
    let (key, readable) = match ctx.caller {
        Caller::App { .. } => (1, String::from("[]")),
        _ => {
            let wanted: Vec<String> = ctx.caller.roles().iter().map(|r| format!("read(\"{r}\")")).collect();
            (0, json!(wanted).to_string())
        }
    };
    let scope = (
        "expires_at > ? AND (? = 1 OR EXISTS (SELECT 1 FROM json_each(permissions) p
             WHERE p.value IN (SELECT value FROM json_each(?))))",
        vec![Value::Integer(now), Value::Integer(key), readable.into()],
    );
    let page = query::plan(&options, &schema, &ctx.config.limits)?
        .fetch(ctx.ports.sql, COLUMNS, Some(scope))
        .await?;
    let presences: Vec<Json> =
        page.rows.iter().filter_map(|r| Presence::from_row(r)).map(|p| p.to_json()).collect();
    let mut response = Response::json(200, &json!({"total": page.total, "presences": presences}));
    if ttl > 0 {
        response.headers.set("x-appwrite-cache", "miss");
    }
    Ok(response)
}
