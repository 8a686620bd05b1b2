//! Topics (`/v1/messaging/topics`) and their subscribers: a topic groups targets of any type; its
//! `subscribe` roles say which signed-in users may subscribe their own targets to it.

use edgewrite_core::events;
use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Event, Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

const COLUMNS: &str = "id, name, subscribe, created_at, updated_at,
    (SELECT count(*) FROM subscribers s WHERE s.topic_id = topics.id AND s.provider_type = 'email'),
    (SELECT count(*) FROM subscribers s WHERE s.topic_id = topics.id AND s.provider_type = 'sms'),
    (SELECT count(*) FROM subscribers s WHERE s.topic_id = topics.id AND s.provider_type = 'push')";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
];

#[derive(Debug, Clone)]
pub struct Topic {
    pub id: String,
    pub name: String,
    pub subscribe: Vec<String>,
    created_at: i64,
    updated_at: i64,
    totals: [i64; 3],
}

impl Topic {
    fn from_row(row: &[Value]) -> Option<Topic> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
        Some(Topic {
            id: row.first()?.as_str()?.to_string(),
            name: row.get(1)?.as_str()?.to_string(),
            subscribe: serde_json::from_str(row.get(2)?.as_str()?).unwrap_or_default(),
            created_at: int(3),
            updated_at: int(4),
            totals: [int(5), int(6), int(7)],
        })
    }

    fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "emailTotal": self.totals[0],
            "smsTotal": self.totals[1],
            "pushTotal": self.totals[2],
            "subscribe": self.subscribe,
        })
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::TopicNotFound, "Topic with the request ID could not be found.")
}

fn select(id: &str) -> Statement {
    Statement::new(format!("SELECT {COLUMNS} FROM topics WHERE id = ?"), vec![id.into()])
}

pub async fn load_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Topic, AppwriteError> {
    let rows = ctx.ports.sql.query(select(id)).await.map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Topic::from_row(r)).ok_or_else(not_found)
}

fn event(topic: &Topic, action: &str) -> Event {
    Event::new(events::names(&[("topics", &topic.id)], action), Vec::new(), topic.to_json(), Vec::new())
}

/// `POST /messaging/topics`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("topicId", now, ctx.ports.random)?;
    let name = ctx.params.required_text("name", 128)?;
    let subscribe = edgewrite_core::permissions::roles_param(ctx, "subscribe")?
        .unwrap_or_else(|| vec!["users".to_string()]);
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT INTO topics (id, name, subscribe, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                vec![
                    id.clone().into(),
                    name.into(),
                    json!(subscribe).to_string().into(),
                    Value::Integer(now),
                    Value::Integer(now),
                ],
            ),
            select(&id),
        ])
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => {
                AppwriteError::new(ErrorType::TopicAlreadyExists, "Topic with the request ID already exists.")
            }
            other => AppwriteError::internal(other),
        })?;
    let topic =
        out.get(1).and_then(|r| r.rows.first()).and_then(|r| Topic::from_row(r)).ok_or_else(not_found)?;
    events::publish_all(ctx, None, vec![event(&topic, "create")]).await;
    Ok(Response::json(201, &topic.to_json()))
}

/// `GET /messaging/topics`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema {
        table: "topics",
        id_column: "id",
        fields: FIELDS,
        search: Some("id || ' ' || name"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let columns = COLUMNS.replace("topics.", "edgewrite_t.");
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, &columns, None).await?;
    let topics: Vec<Json> =
        page.rows.iter().filter_map(|r| Topic::from_row(r)).map(|t| t.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "topics": topics})))
}

/// `GET /messaging/topics/{topicId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("topicId", 36)?;
    Ok(Response::json(200, &load_by_id(ctx, &id).await?.to_json()))
}

/// `PATCH /messaging/topics/{topicId}`
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("topicId", 36)?;
    let mut topic = load_by_id(ctx, &id).await?;
    if let Some(name) = ctx.params.text("name", 128)? {
        topic.name = name;
    }
    if let Some(subscribe) = edgewrite_core::permissions::roles_param(ctx, "subscribe")? {
        topic.subscribe = subscribe;
    }
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE topics SET name = ?, subscribe = ?, updated_at = ? WHERE id = ?",
                vec![
                    topic.name.clone().into(),
                    json!(topic.subscribe).to_string().into(),
                    Value::Integer(ctx.ports.clock.now_ms()),
                    id.clone().into(),
                ],
            )
            .expect_changes(1),
            select(&id),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    let topic =
        out.get(1).and_then(|r| r.rows.first()).and_then(|r| Topic::from_row(r)).ok_or_else(not_found)?;
    events::publish_all(ctx, None, vec![event(&topic, "update")]).await;
    Ok(Response::json(200, &topic.to_json()))
}

/// `DELETE /messaging/topics/{topicId}`: its subscribers go with it.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("topicId", 36)?;
    let topic = load_by_id(ctx, &id).await?;
    ctx.ports
        .sql
        .batch(vec![
            Statement::new("DELETE FROM topics WHERE id = ?", vec![id.clone().into()]).expect_changes(1),
            Statement::new("DELETE FROM subscribers WHERE topic_id = ?", vec![id.into()]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    events::publish_all(ctx, None, vec![event(&topic, "delete")]).await;
    Ok(Response::no_content())
}

// Subscribers.

const SUBSCRIBER_COLUMNS: &str = "id, topic_id, target_id, user_id, provider_type, created_at, updated_at,
    (SELECT u.name FROM users u WHERE u.id = subscribers.user_id)";

static SUBSCRIBER_FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "targetId", column: "target_id", kind: FieldKind::Text },
    Field { attribute: "userId", column: "user_id", kind: FieldKind::Text },
    Field { attribute: "topicId", column: "topic_id", kind: FieldKind::Text },
    Field { attribute: "providerType", column: "provider_type", kind: FieldKind::Text },
];

struct Subscriber {
    id: String,
    topic_id: String,
    target_id: String,
    user_id: String,
    provider_type: String,
    created_at: i64,
    updated_at: i64,
    user_name: String,
}

impl Subscriber {
    fn from_row(row: &[Value]) -> Option<Subscriber> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Subscriber {
            id: row.first()?.as_str()?.to_string(),
            topic_id: text(1),
            target_id: text(2),
            user_id: text(3),
            provider_type: text(4),
            created_at: row.get(5)?.as_i64()?,
            updated_at: row.get(6)?.as_i64()?,
            user_name: text(7),
        })
    }

    fn to_json(&self, target: Option<&edgewrite_account::Target>) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "targetId": self.target_id,
            "target": target.map_or(json!({}), edgewrite_account::Target::to_json),
            "userId": self.user_id,
            "userName": self.user_name,
            "topicId": self.topic_id,
            "providerType": self.provider_type,
        })
    }
}

/// Whether the caller may see and remove `subscriber`: keys any, a user their own.
fn own(ctx: &Ctx<'_>, subscriber: &Subscriber) -> bool {
    match &ctx.caller {
        Caller::App { .. } => true,
        Caller::User(user) => user.user_id == subscriber.user_id,
        Caller::Guest => false,
    }
}

fn subscriber_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::SubscriberNotFound, "Subscriber with the request ID could not be found.")
}

fn subscriber_event(s: &Subscriber, body: Json, action: &str) -> Event {
    Event::new(
        events::names(&[("topics", &s.topic_id), ("subscribers", &s.id)], action),
        Vec::new(),
        body,
        Vec::new(),
    )
}

async fn load_subscriber(ctx: &Ctx<'_>, topic_id: &str, id: &str) -> Result<Subscriber, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE topic_id = ? AND id = ?"),
            vec![topic_id.into(), id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Subscriber::from_row(r)).ok_or_else(subscriber_not_found)
}

/// `POST /messaging/topics/{topicId}/subscribers`: a key subscribes any target; a signed-in
/// user subscribes one of their own targets, if the topic's `subscribe` roles let them.
pub async fn subscribe(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("subscriberId", now, ctx.ports.random)?;
    let target_id = ctx.params.required_text("targetId", 36)?;
    let topic_id = ctx.params.required_text("topicId", 36)?;
    let topic = load_by_id(ctx, &topic_id).await?;
    let target_missing =
        || AppwriteError::new(ErrorType::UserTargetNotFound, "The target could not be found.");
    let target = edgewrite_account::target(ctx.ports.sql, &target_id).await?.ok_or_else(target_missing)?;
    match &ctx.caller {
        Caller::App { .. } => {}
        Caller::User(user) => {
            let roles = ctx.caller.roles();
            if !topic.subscribe.iter().any(|r| roles.contains(r)) {
                return Err(AppwriteError::new(
                    ErrorType::UserUnauthorized,
                    "The current user is not authorized to perform the requested action.",
                ));
            }
            // Someone else's target is as good as absent.
            if target.user_id != user.user_id {
                return Err(target_missing());
            }
        }
        Caller::Guest => return Err(ErrorType::UserUnauthorized.into()),
    }
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT INTO subscribers (id, topic_id, target_id, user_id, provider_type, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                vec![
                    id.clone().into(),
                    topic_id.clone().into(),
                    target.id.clone().into(),
                    target.user_id.clone().into(),
                    target.provider_type.clone().into(),
                    Value::Integer(now),
                    Value::Integer(now),
                ],
            ),
            Statement::new(
                format!("SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = ?"),
                vec![id.clone().into()],
            ),
        ])
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => AppwriteError::new(
                ErrorType::SubscriberAlreadyExists,
                "Subscriber with the request ID already exists, or the target is already subscribed to the topic.",
            ),
            other => AppwriteError::internal(other),
        })?;
    let subscriber = out
        .get(1)
        .and_then(|r| r.rows.first())
        .and_then(|r| Subscriber::from_row(r))
        .ok_or_else(subscriber_not_found)?;
    let body = subscriber.to_json(Some(&target));
    events::publish_all(ctx, None, vec![subscriber_event(&subscriber, body.clone(), "create")]).await;
    Ok(Response::json(201, &body))
}

/// `GET /messaging/topics/{topicId}/subscribers`
pub async fn list_subscribers(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let topic_id = ctx.params.required_text("topicId", 36)?;
    load_by_id(ctx, &topic_id).await?;
    let schema = Schema {
        table: "subscribers",
        id_column: "id",
        fields: SUBSCRIBER_FIELDS,
        search: Some("id || ' ' || target_id || ' ' || user_id || ' ' || provider_type"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let columns = SUBSCRIBER_COLUMNS.replace("subscribers.", "edgewrite_t.");
    // A signed-in user sees only their own subscriptions (other users' addresses and device
    // tokens are theirs).
    let scope = match &ctx.caller {
        Caller::User(user) => {
            ("topic_id = ? AND user_id = ?", vec![topic_id.into(), user.user_id.clone().into()])
        }
        _ => ("topic_id = ?", vec![topic_id.into()]),
    };
    let page = query::plan(&options, &schema, &ctx.config.limits)?
        .fetch(ctx.ports.sql, &columns, Some(scope))
        .await?;
    let subscribers: Vec<Subscriber> = page.rows.iter().filter_map(|r| Subscriber::from_row(r)).collect();
    let ids: Vec<String> = subscribers.iter().map(|s| s.target_id.clone()).collect();
    let targets = edgewrite_account::targets_by_ids(ctx.ports.sql, &ids).await?;
    let out: Vec<Json> =
        subscribers.iter().map(|s| s.to_json(targets.iter().find(|t| t.id == s.target_id))).collect();
    Ok(Response::json(200, &json!({"total": page.total, "subscribers": out})))
}

/// `GET /messaging/topics/{topicId}/subscribers/{subscriberId}`
pub async fn get_subscriber(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let topic_id = ctx.params.required_text("topicId", 36)?;
    load_by_id(ctx, &topic_id).await?;
    let id = ctx.params.required_text("subscriberId", 36)?;
    let subscriber = load_subscriber(ctx, &topic_id, &id).await?;
    if !own(ctx, &subscriber) {
        return Err(subscriber_not_found());
    }
    let target = edgewrite_account::target(ctx.ports.sql, &subscriber.target_id).await?;
    Ok(Response::json(200, &subscriber.to_json(target.as_ref())))
}

/// `DELETE /messaging/topics/{topicId}/subscribers/{subscriberId}`: a user only their own.
pub async fn unsubscribe(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let topic_id = ctx.params.required_text("topicId", 36)?;
    load_by_id(ctx, &topic_id).await?;
    let id = ctx.params.required_text("subscriberId", 36)?;
    let subscriber = load_subscriber(ctx, &topic_id, &id).await?;
    if !own(ctx, &subscriber) {
        return Err(subscriber_not_found());
    }
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM subscribers WHERE id = ?", vec![id.into()]).expect_changes(1))
        .await
        .map_err(|e| AppwriteError::from_store(e, subscriber_not_found))?;
    let body = subscriber.to_json(None);
    events::publish_all(ctx, None, vec![subscriber_event(&subscriber, body, "delete")]).await;
    Ok(Response::no_content())
}

/// `PATCH /v1/messaging/topics/{topicId}/system-fields` (edgewrite only): a migrated topic's
/// times, and its `subscribers`' (`[{$id, $createdAt, $updatedAt}]`). The CLI calls it after
/// the subscribers, which change the topic.
pub async fn restore(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    use edgewrite_core::system_fields::{assignments, item_assignments, item_text, items, update, TIMES};
    let now = ctx.ports.clock.now_ms();
    let set = assignments(&ctx.params, &TIMES, &["subscribers"], now)?;
    let topic = ctx.params.required_text("topicId", 36)?;
    // The topic's first, so a missing topic is named as such; subscribers' after.
    let mut batch =
        vec![(update("topics", set, "id = ?", vec![topic.clone().into()]), ErrorType::TopicNotFound)];
    for subscriber in items(&ctx.params, "subscribers")? {
        let id = item_text(&subscriber, "subscribers", "$id")?;
        let times = item_assignments(&subscriber, &TIMES, &["$id"], now)?;
        let key = vec![topic.clone().into(), id.into()];
        batch.push((
            update("subscribers", times, "topic_id = ? AND id = ?", key),
            ErrorType::SubscriberNotFound,
        ));
    }
    let (statements, errors): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|(s, e)| (s.expect_changes(1), e)).unzip();
    ctx.ports.sql.batch(statements).await.map_err(|e| match e {
        edgewrite_core::ports::StoreError::GuardFailed { statement, .. } => {
            AppwriteError::from(errors[statement])
        }
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}
