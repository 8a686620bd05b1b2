//! Messages (`/v1/messaging/messages`): email, SMS and push, to topics, users and targets; a
//! draft, scheduled for later, or handed to delivery (`crate::delivery`) at once. Only API keys
//! reach these routes.

use edgewrite_core::events;
use edgewrite_core::ports::{Event, Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::{iso_from_ms, ms_from_iso};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

/// The most of every kind of recipient list a message may name (Appwrite's limit).
const MAX_RECIPIENTS: usize = 100;
/// Attachments of one email, together (they are read into memory for each run).
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

pub const COLUMNS: &str =
    "id, provider_type, topics, users, targets, data, status, scheduled_at, delivered_at,
    delivery_errors, delivered_total, created_at, updated_at, resolved_at";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "providerType", column: "provider_type", kind: FieldKind::Text },
    Field { attribute: "status", column: "status", kind: FieldKind::Text },
    Field { attribute: "scheduledAt", column: "scheduled_at", kind: FieldKind::Datetime },
    Field { attribute: "deliveredAt", column: "delivered_at", kind: FieldKind::Datetime },
    Field { attribute: "deliveredTotal", column: "delivered_total", kind: FieldKind::Integer },
    Field { attribute: "topics", column: "topics", kind: FieldKind::TextArray },
    Field { attribute: "users", column: "users", kind: FieldKind::TextArray },
    Field { attribute: "targets", column: "targets", kind: FieldKind::TextArray },
];

#[derive(Debug, Clone, Default)]
pub struct Message {
    pub id: String,
    pub provider_type: String,
    pub topics: Vec<String>,
    pub users: Vec<String>,
    pub targets: Vec<String>,
    pub data: Map<String, Json>,
    pub status: String,
    pub scheduled_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub delivery_errors: Vec<String>,
    pub delivered_total: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Its recipients are listed in `message_targets` (its first delivery run did that).
    pub resolved: bool,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

impl Message {
    pub fn from_row(row: &[Value]) -> Option<Message> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Message {
            id: row.first()?.as_str()?.to_string(),
            provider_type: text(1),
            topics: strings(row.get(2)),
            users: strings(row.get(3)),
            targets: strings(row.get(4)),
            data: serde_json::from_str(&text(5)).unwrap_or_default(),
            status: text(6),
            scheduled_at: int(7),
            delivered_at: int(8),
            delivery_errors: strings(row.get(9)),
            delivered_total: int(10).unwrap_or_default(),
            created_at: int(11).unwrap_or_default(),
            updated_at: int(12).unwrap_or_default(),
            resolved: int(13).is_some(),
        })
    }

    pub fn to_json(&self) -> Json {
        let mut out = json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "providerType": self.provider_type,
            "topics": self.topics,
            "users": self.users,
            "targets": self.targets,
            "deliveryErrors": self.delivery_errors,
            "deliveredTotal": self.delivered_total,
            "data": self.data,
            "status": self.status,
        });
        if let Some(at) = self.scheduled_at {
            out["scheduledAt"] = json!(iso_from_ms(at));
        }
        if let Some(at) = self.delivered_at {
            out["deliveredAt"] = json!(iso_from_ms(at));
        }
        out
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::MessageNotFound, "Message with the requested ID could not be found.")
}

pub fn select(id: &str) -> Statement {
    Statement::new(format!("SELECT {COLUMNS} FROM messages WHERE id = ?"), vec![id.into()])
}

pub async fn load_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Option<Message>, AppwriteError> {
    let rows = ctx.ports.sql.query(select(id)).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Message::from_row(r)))
}

pub fn event(message: &Message, action: &str) -> Event {
    Event::new(events::names(&[("messages", &message.id)], action), Vec::new(), message.to_json(), Vec::new())
}

/// The message's fields of its type, from the request, over `data`.
fn apply_content(ctx: &Ctx<'_>, kind: &str, data: &mut Map<String, Json>) -> Result<(), AppwriteError> {
    let limits = &ctx.config.limits;
    let mut text = |name: &str, max: usize| -> Result<(), AppwriteError> {
        if let Some(v) = ctx.params.text(name, max)? {
            data.insert(name.to_string(), Json::from(v));
        }
        Ok(())
    };
    match kind {
        "email" => {
            text("subject", 998)?;
            text("content", 64 * 1024)?;
            for name in ["cc", "bcc"] {
                if let Some(ids) = ctx.params.string_array(name, 36, limits)? {
                    data.insert(name.to_string(), json!(ids));
                }
            }
            if let Some(files) = ctx.params.string_array("attachments", 73, limits)? {
                // Kept as Appwrite keeps them: `{bucketId, fileId}`.
                let mut parsed = Vec::with_capacity(files.len());
                for file in &files {
                    match file.split_once(':') {
                        Some((bucket, id)) if !bucket.is_empty() && !id.is_empty() => {
                            parsed.push(json!({"bucketId": bucket, "fileId": id}));
                        }
                        _ => {
                            return Err(AppwriteError::invalid_param(
                                "attachments",
                                "Value must be a valid array of bucketId:fileId strings",
                            ))
                        }
                    }
                }
                data.insert("attachments".into(), Json::Array(parsed));
            }
            if let Some(html) = ctx.params.boolean("html")? {
                data.insert("html".into(), json!(html));
            }
        }
        "sms" => text("content", 1600)?,
        _ => {
            text("title", 256)?;
            text("body", 4096)?;
            for name in ["action", "image", "icon", "sound", "color", "tag"] {
                text(name, 256)?;
            }
            if let Some(object) = ctx.params.object("data")? {
                if Json::Object(object.clone()).to_string().len() > 4096 {
                    return Err(AppwriteError::invalid_param(
                        "data",
                        "Value must be at most 4096 bytes of JSON",
                    ));
                }
                data.insert("data".into(), Json::Object(object));
            }
            if let Some(badge) = ctx.params.integer("badge", 0, i64::from(i32::MAX))? {
                data.insert("badge".into(), json!(badge));
            }
            for name in ["contentAvailable", "critical"] {
                if let Some(flag) = ctx.params.boolean(name)? {
                    data.insert(name.to_string(), json!(flag));
                }
            }
            if let Some(priority) = ctx.params.text("priority", 16)? {
                if priority != "normal" && priority != "high" {
                    return Err(AppwriteError::invalid_param(
                        "priority",
                        "Value must be one of (normal, high)",
                    ));
                }
                data.insert("priority".into(), json!(priority));
            }
        }
    }
    Ok(())
}

/// An id list kept in a message's `data` (an email's `cc`, `bcc`).
pub fn ids(data: &Map<String, Json>, name: &str) -> Vec<String> {
    data.get(name)
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// An email's attachments as `(bucketId, fileId)`.
pub fn attachments(data: &Map<String, Json>) -> Vec<(String, String)> {
    data.get("attachments")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((a.get("bucketId")?.as_str()?.to_string(), a.get("fileId")?.as_str()?.to_string()))
        })
        .collect()
}

fn recipients(ctx: &Ctx<'_>, name: &str) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(list) = ctx.params.string_array(name, 36, &ctx.config.limits)? else { return Ok(None) };
    if list.len() > MAX_RECIPIENTS {
        return Err(AppwriteError::invalid_param(
            name,
            &format!("Value must be a valid array no longer than {MAX_RECIPIENTS} items"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(list.len());
    for id in list {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    Ok(Some(unique))
}

/// Checks what a message that will be sent names: targets of its type, known topics, files
/// that exist, and someone to send to.
async fn check_sendable(ctx: &Ctx<'_>, m: &Message) -> Result<(), AppwriteError> {
    let wrong_type = match m.provider_type.as_str() {
        "email" => ErrorType::MessageTargetNotEmail,
        "sms" => ErrorType::MessageTargetNotSms,
        _ => ErrorType::MessageTargetNotPush,
    };
    let mut target_ids = m.targets.clone();
    target_ids.extend(ids(&m.data, "cc"));
    target_ids.extend(ids(&m.data, "bcc"));
    let found = edgewrite_account::targets_by_ids(ctx.ports.sql, &target_ids).await?;
    for id in &target_ids {
        match found.iter().find(|t| &t.id == id) {
            None => {
                return Err(AppwriteError::new(
                    ErrorType::UserTargetNotFound,
                    format!("Target {id} could not be found."),
                ))
            }
            Some(t) if t.provider_type != m.provider_type => return Err(wrong_type.into()),
            Some(_) => {}
        }
    }
    for topic in &m.topics {
        crate::topics::load_by_id(ctx, topic).await?;
    }
    if m.topics.is_empty() && m.users.is_empty() && m.targets.is_empty() {
        return Err(ErrorType::MessageMissingTarget.into());
    }
    let required: &[&str] = match m.provider_type.as_str() {
        "email" => &["subject", "content"],
        "sms" => &["content"],
        _ => &[],
    };
    for name in required {
        if m.data.get(*name).and_then(Json::as_str).is_none_or(str::is_empty) {
            return Err(AppwriteError::missing_param(name));
        }
    }
    if m.provider_type == "push"
        && ["title", "body"].iter().all(|n| m.data.get(*n).and_then(Json::as_str).is_none_or(str::is_empty))
        && m.data.get("contentAvailable").and_then(Json::as_bool) != Some(true)
    {
        return Err(AppwriteError::invalid_param(
            "body",
            "A push message needs a title, a body or contentAvailable",
        ));
    }
    let mut total = 0u64;
    for (bucket, id) in attachments(&m.data) {
        let file = format!("{bucket}:{id}");
        let exists = ctx
            .ports
            .sql
            .query(Statement::new(
                "SELECT f.size_original FROM files f JOIN buckets b ON b.seq = f.bucket_seq WHERE b.id = ? AND f.id = ?",
                vec![bucket.into(), id.into()],
            ))
            .await
            .map_err(AppwriteError::internal)?;
        let size = exists.rows.first().and_then(|r| r.first()).and_then(Value::as_i64).ok_or_else(|| {
            AppwriteError::new(
                ErrorType::StorageFileNotFound,
                format!("Attachment {file} could not be found."),
            )
        })?;
        total += size.max(0) as u64;
    }
    if total > MAX_ATTACHMENT_BYTES {
        return Err(AppwriteError::invalid_param(
            "attachments",
            &format!("Attachments may total at most {MAX_ATTACHMENT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The status a message starts in: a draft, waiting for its `scheduledAt`, or sent now.
fn initial_status(ctx: &Ctx<'_>, m: &Message, draft: bool) -> &'static str {
    if draft {
        "draft"
    } else if m.scheduled_at.is_some_and(|at| at > ctx.ports.clock.now_ms()) {
        "scheduled"
    } else {
        "processing"
    }
}

fn scheduled_param(ctx: &Ctx<'_>) -> Result<Option<Option<i64>>, AppwriteError> {
    match ctx.params.raw("scheduledAt") {
        None => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(Json::String(s)) => {
            let at = ms_from_iso(s).ok_or_else(|| {
                AppwriteError::invalid_param("scheduledAt", "Value must be valid date in ISO 8601 format.")
            })?;
            if at <= ctx.ports.clock.now_ms() {
                return Err(AppwriteError::invalid_param(
                    "scheduledAt",
                    "Value must be a date in the future.",
                ));
            }
            Ok(Some(Some(at)))
        }
        Some(_) => {
            Err(AppwriteError::invalid_param("scheduledAt", "Value must be valid date in ISO 8601 format."))
        }
    }
}

fn write_values(m: &Message) -> Vec<Value> {
    vec![
        json!(m.topics).to_string().into(),
        json!(m.users).to_string().into(),
        json!(m.targets).to_string().into(),
        Json::Object(m.data.clone()).to_string().into(),
        m.status.clone().into(),
        m.scheduled_at.map_or(Value::Null, Value::Integer),
        Value::Integer(m.updated_at),
    ]
}

/// Hands a stored, announced message that is `processing` to delivery, and gives it back as
/// the caller should see it: as stored when queued, as delivered when it ran here (no queue).
/// A delivery that fails to start is the tick's to retry, not the caller's: a retried create
/// would send twice.
async fn hand_over(ctx: &Ctx<'_>, m: Message) -> Result<Message, AppwriteError> {
    if m.status != "processing" {
        return Ok(m);
    }
    match crate::delivery::start(ctx, &m.id).await {
        Ok(false) => Ok(m),
        Ok(true) => Ok(load_by_id(ctx, &m.id).await?.unwrap_or(m)),
        Err(error) => {
            tracing::warn!(message = %m.id, error = %error.message, "starting a delivery");
            Ok(m)
        }
    }
}

/// `POST /messaging/messages/{email|sms|push}`
pub async fn create(ctx: &Ctx<'_>, kind: &str) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("messageId", now, ctx.ports.random)?;
    let mut m =
        Message { id, provider_type: kind.into(), created_at: now, updated_at: now, ..Message::default() };
    if kind == "email" {
        ctx.params.required_text("subject", 998)?;
        ctx.params.required_text("content", 64 * 1024)?;
    } else if kind == "sms" {
        ctx.params.required_text("content", 1600)?;
    }
    apply_content(ctx, kind, &mut m.data)?;
    m.topics = recipients(ctx, "topics")?.unwrap_or_default();
    m.users = recipients(ctx, "users")?.unwrap_or_default();
    m.targets = recipients(ctx, "targets")?.unwrap_or_default();
    m.scheduled_at = scheduled_param(ctx)?.flatten();
    push_image(ctx, &mut m).await?;
    let draft = ctx.params.boolean("draft")?.unwrap_or(false);
    m.status = initial_status(ctx, &m, draft).into();
    if !draft {
        check_sendable(ctx, &m).await?;
    }
    let mut values = vec![Value::from(m.id.clone()), m.provider_type.clone().into()];
    values.extend(write_values(&m));
    values.push(Value::Integer(now));
    ctx.ports
        .sql
        .query(Statement::new(
            "INSERT INTO messages (id, provider_type, topics, users, targets, data, status, scheduled_at, updated_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        ))
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => AppwriteError::new(
                ErrorType::MessageAlreadyExists,
                "Message with the requested ID already exists.",
            ),
            other => AppwriteError::internal(other),
        })?;
    tracing::info!(message = %m.id, kind, status = %m.status, "message created");
    events::publish_all(ctx, None, vec![event(&m, "create")]).await;
    Ok(Response::json(201, &hand_over(ctx, m).await?.to_json()))
}

/// A push's `image` as given (`bucketId:fileId`), checked and replaced by what a push service
/// needs, as Appwrite keeps it: `{bucketId, fileId, url}`, the URL signed until 15 days after
/// the message is due (`GET /storage/buckets/{b}/files/{f}/push`).
async fn push_image(ctx: &Ctx<'_>, m: &mut Message) -> Result<(), AppwriteError> {
    let given = match m.data.get("image") {
        Some(Json::String(given)) => given.clone(),
        // Kept from before: signed again, so a rescheduled message's URL lives as long.
        Some(Json::Object(kept)) => match (kept.get("bucketId"), kept.get("fileId")) {
            (Some(Json::String(b)), Some(Json::String(f))) => format!("{b}:{f}"),
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    if given.is_empty() {
        m.data.remove("image");
        return Ok(());
    }
    let (bucket, file) =
        given.split_once(':').filter(|(b, f)| !b.is_empty() && !f.is_empty()).ok_or_else(|| {
            AppwriteError::invalid_param("image", "Value must be a valid compound ID (bucketId:fileId)")
        })?;
    match edgewrite_storage::file_media_type(ctx, bucket, file).await?.as_deref() {
        None => {
            return Err(AppwriteError::new(
                ErrorType::StorageFileNotFound,
                "The requested file could not be found.",
            ))
        }
        Some("image/png" | "image/jpeg") => {}
        Some(_) => {
            return Err(AppwriteError::new(
                ErrorType::StorageFileTypeUnsupported,
                "A push image must be a PNG or JPEG file.",
            ))
        }
    }
    let due = m.scheduled_at.unwrap_or(ctx.ports.clock.now_ms()) / 1000;
    let endpoint = match ctx.ports.secrets.get("EDGEWRITE_PUBLIC_ENDPOINT").filter(|e| !e.is_empty()) {
        Some(endpoint) => endpoint,
        None => format!("{}://{}/v1", ctx.request.scheme, ctx.request.authority()),
    };
    let url = edgewrite_storage::push_image_url(ctx, &endpoint, bucket, file, due + 15 * 24 * 3600).await?;
    m.data.insert("image".into(), json!({"bucketId": bucket, "fileId": file, "url": url}));
    Ok(())
}

/// `PATCH /messaging/messages/{email|sms|push}/{messageId}`
pub async fn update(ctx: &Ctx<'_>, kind: &str) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("messageId", 36)?;
    let mut m = load_by_id(ctx, &id).await?.ok_or_else(not_found)?;
    if m.provider_type != kind {
        return Err(not_found());
    }
    match m.status.as_str() {
        "sent" => return Err(ErrorType::MessageAlreadySent.into()),
        "processing" => return Err(ErrorType::MessageAlreadyProcessing.into()),
        _ => {}
    }
    let was = m.status.clone();
    apply_content(ctx, kind, &mut m.data)?;
    for (name, list) in [("topics", &mut m.topics), ("users", &mut m.users), ("targets", &mut m.targets)] {
        if let Some(given) = recipients(ctx, name)? {
            *list = given;
        }
    }
    if let Some(at) = scheduled_param(ctx)? {
        m.scheduled_at = at;
    }
    push_image(ctx, &mut m).await?;
    let draft = ctx.params.boolean("draft")?.unwrap_or(was == "draft");
    m.status = initial_status(ctx, &m, draft).into();
    if !draft {
        check_sendable(ctx, &m).await?;
    }
    m.updated_at = ctx.ports.clock.now_ms();
    let mut values = write_values(&m);
    values.push(m.id.clone().into());
    values.push(was.clone().into());
    ctx.ports
        .sql
        .batch(vec![
            // Only from the status it was read in: a tick that started the scheduled message
            // meanwhile wins.
            Statement::new(
                "UPDATE messages SET topics = ?, users = ?, targets = ?, data = ?, status = ?, scheduled_at = ?,
                     updated_at = ?, delivery_errors = '[]', delivered_total = 0, delivered_at = NULL,
                     resolved_at = NULL, lease = NULL
                 WHERE id = ? AND status = ?",
                values,
            )
            .expect_changes(1),
            Statement::new("DELETE FROM message_targets WHERE message_id = ?", vec![m.id.clone().into()]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, || ErrorType::MessageAlreadyProcessing.into()))?;
    m.delivery_errors.clear();
    m.delivered_total = 0;
    m.delivered_at = None;
    events::publish_all(ctx, None, vec![event(&m, "update")]).await;
    Ok(Response::json(200, &hand_over(ctx, m).await?.to_json()))
}

/// `GET /messaging/messages`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema {
        table: "messages",
        id_column: "id",
        fields: FIELDS,
        search: Some("id || ' ' || provider_type || ' ' || status || ' ' || data"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, COLUMNS, None).await?;
    let messages: Vec<Json> =
        page.rows.iter().filter_map(|r| Message::from_row(r)).map(|m| m.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "messages": messages})))
}

/// `GET /messaging/messages/{messageId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("messageId", 36)?;
    Ok(Response::json(200, &load_by_id(ctx, &id).await?.ok_or_else(not_found)?.to_json()))
}

/// `GET /messaging/messages/{messageId}/targets`: the targets the message names.
pub async fn targets(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("messageId", 36)?;
    let m = load_by_id(ctx, &id).await?.ok_or_else(not_found)?;
    let found = edgewrite_account::targets_by_ids(ctx.ports.sql, &m.targets).await?;
    let targets: Vec<Json> = found.iter().map(edgewrite_account::Target::to_json).collect();
    Ok(Response::json(200, &json!({"total": targets.len(), "targets": targets})))
}

/// `DELETE /messaging/messages/{messageId}`: a delivery under way stops at its next target.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("messageId", 36)?;
    let m = load_by_id(ctx, &id).await?.ok_or_else(not_found)?;
    ctx.ports
        .sql
        .batch(vec![
            Statement::new("DELETE FROM messages WHERE id = ?", vec![id.clone().into()]).expect_changes(1),
            Statement::new("DELETE FROM message_targets WHERE message_id = ?", vec![id.into()]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    events::publish_all(ctx, None, vec![event(&m, "delete")]).await;
    Ok(Response::no_content())
}
