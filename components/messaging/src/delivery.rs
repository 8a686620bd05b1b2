//! Delivery, outside the request that asked for it: a `messaging.deliver` job (Cloudflare
//! Queues) resolves a message's recipients once, sends to each through its provider, records
//! each outcome as it happens, retries what failed for a passing reason with backoff, and
//! settles the message as `sent` (something was delivered) or `failed`. The cron `tick` starts
//! scheduled messages that are due and restarts deliveries whose run was lost.
//!
//! Without a queue (Spin) the same run happens in the request, retrying at once.

use edgewrite_core::events;
use edgewrite_core::params::Params;
use edgewrite_core::ports::{Job, Statement, Value};
use edgewrite_core::{AppwriteError, Ctx};
use serde_json::{json, Map, Value as Json};

use crate::messages::{self, Message};
use crate::providers::{self, Provider};
use crate::wire::{self, Endpoints, ProviderConfig, SendError, Sender};

pub const DELIVER_JOB: &str = "messaging.deliver";
/// Tries per target: the first and three retries.
const MAX_ATTEMPTS: i64 = 4;
/// A run holds its message this long; a run lost longer than this is started again by the tick.
const LEASE_MS: i64 = 15 * 60 * 1000;
/// Targets sent to per run; a bigger message continues in a fresh job (Workers limit the
/// subrequests of one invocation).
const TARGETS_PER_RUN: usize = 200;

/// Seconds before retry number `attempt` (1-based): 2, 8, 32.
fn backoff_secs(attempt: i64) -> u32 {
    2u32.saturating_mul(4u32.saturating_pow(attempt.clamp(1, 6) as u32 - 1))
}

/// Hands message `id` (status `processing`) to delivery: queued, or run here.
pub async fn start(ctx: &Ctx<'_>, id: &str) -> Result<(), AppwriteError> {
    enqueue(ctx, id, 0).await
}

async fn enqueue(ctx: &Ctx<'_>, id: &str, delay_secs: u32) -> Result<(), AppwriteError> {
    let project = ctx.project.unwrap_or_default().to_string();
    let job = Job { project, kind: DELIVER_JOB.into(), payload: json!({ "messageId": id }) };
    match ctx.ports.jobs.enqueue(job, delay_secs).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            // No queue: deliver now, retries included.
            let mut map = Map::new();
            map.insert("messageId".into(), json!(id));
            let inline = Ctx { params: Params::from_json(map), caller: ctx.caller.clone(), ..*ctx };
            for _ in 0..MAX_ATTEMPTS {
                if run(&inline, id).await? != Outcome::RetryLater {
                    break;
                }
            }
            Ok(())
        }
        Err(error) => {
            // The tick restarts a message left `processing` without a run.
            tracing::warn!(message = %id, %error, "queueing a message delivery");
            Ok(())
        }
    }
}

/// The `messaging.deliver` job.
pub async fn run_queued(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    let id = ctx.params.required_text("messageId", 64)?;
    match run(ctx, &id).await? {
        Outcome::RetryLater => {
            let attempt = max_attempt(ctx, &id).await?;
            enqueue(ctx, &id, backoff_secs(attempt)).await
        }
        Outcome::Continue => enqueue(ctx, &id, 0).await,
        Outcome::Done => Ok(()),
    }
}

/// The cron tick: due scheduled messages start; deliveries whose run was lost start again.
pub async fn tick(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT id, status FROM messages
             WHERE (status = 'scheduled' AND scheduled_at <= ?)
                OR (status = 'processing' AND (lease IS NULL OR lease < ?) AND updated_at < ?)
             LIMIT 100",
            vec![Value::Integer(now), Value::Integer(now - LEASE_MS), Value::Integer(now - 60_000)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    for row in &rows.rows {
        let (Some(id), Some(status)) =
            (row.first().and_then(Value::as_str), row.get(1).and_then(Value::as_str))
        else {
            continue;
        };
        if status == "scheduled" {
            let claimed = ctx
                .ports
                .sql
                .query(
                    Statement::new(
                        "UPDATE messages SET status = 'processing', updated_at = ? WHERE id = ? AND status = 'scheduled'",
                        vec![Value::Integer(now), id.into()],
                    )
                    .expect_changes(1),
                )
                .await;
            if claimed.is_err() {
                continue;
            }
            if let Some(m) = messages::load_by_id(ctx, id).await? {
                events::publish_all(ctx, None, vec![messages::event(&m, "update")]).await;
            }
        } else {
            tracing::warn!(message = %id, "restarting a delivery whose run was lost");
        }
        start(ctx, id).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Settled, or nothing to do.
    Done,
    /// Targets failed for a passing reason and wait for their next try.
    RetryLater,
    /// More targets than one run sends.
    Continue,
}

async fn max_attempt(ctx: &Ctx<'_>, id: &str) -> Result<i64, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT coalesce(max(attempts), 1) FROM message_targets WHERE message_id = ? AND state = 'pending'",
            vec![id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(1))
}

struct Recipient {
    target_id: String,
    attempts: i64,
    identifier: Option<String>,
    provider_id: Option<String>,
    user_name: String,
}

/// One run over message `id`'s pending targets.
async fn run(ctx: &Ctx<'_>, id: &str) -> Result<Outcome, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    // The lease: one run at a time per message, however often the job is delivered.
    let claimed = ctx
        .ports
        .sql
        .query(
            Statement::new(
                "UPDATE messages SET lease = ? WHERE id = ? AND status = 'processing' AND (lease IS NULL OR lease < ?)",
                vec![Value::Integer(now), id.into(), Value::Integer(now - LEASE_MS)],
            )
            .expect_changes(1),
        )
        .await;
    if claimed.is_err() {
        return Ok(Outcome::Done);
    }
    let Some(message) = messages::load_by_id(ctx, id).await? else { return Ok(Outcome::Done) };
    let result = send_pending(ctx, &message).await;
    let release = |outcome: Outcome| async move {
        let sql = if outcome == Outcome::Done {
            settle_statement(id, ctx.ports.clock.now_ms())
        } else {
            Statement::new(
                "UPDATE messages SET lease = NULL, updated_at = ? WHERE id = ?",
                vec![Value::Integer(ctx.ports.clock.now_ms()), id.into()],
            )
        };
        ctx.ports.sql.query(sql).await.map_err(AppwriteError::internal)
    };
    match result {
        Ok(outcome) => {
            release(outcome).await?;
            if outcome == Outcome::Done {
                if let Some(m) = messages::load_by_id(ctx, id).await? {
                    tracing::info!(message = %id, status = %m.status, delivered = m.delivered_total, "message settled");
                    events::publish_all(ctx, None, vec![messages::event(&m, "update")]).await;
                }
            }
            Ok(outcome)
        }
        Err(error) => {
            // Let the next job or tick take it up again.
            release(Outcome::RetryLater).await?;
            Err(error)
        }
    }
}

/// The message's outcome from its targets' rows: `sent` if any was delivered.
fn settle_statement(id: &str, now: i64) -> Statement {
    Statement::new(
        "UPDATE messages SET lease = NULL, updated_at = ?1, delivered_at = ?1,
             delivered_total = (SELECT count(*) FROM message_targets WHERE message_id = ?2 AND state = 'sent'),
             delivery_errors = (SELECT json_group_array(error) FROM message_targets
                 WHERE message_id = ?2 AND state IN ('failed', 'expired') AND error != ''),
             status = CASE WHEN EXISTS (SELECT 1 FROM message_targets WHERE message_id = ?2 AND state = 'sent')
                 THEN 'sent' ELSE 'failed' END
         WHERE id = ?2",
        vec![Value::Integer(now), id.into()],
    )
}

async fn resolve(ctx: &Ctx<'_>, m: &Message) -> Result<(), AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let list = |l: &Vec<String>| Value::from(json!(l).to_string());
    ctx.ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT OR IGNORE INTO message_targets (message_id, target_id, state, updated_at)
                 SELECT ?, t.id, 'pending', ? FROM targets t
                 WHERE t.provider_type = ? AND t.expired = 0 AND (
                     t.id IN (SELECT value FROM json_each(?))
                     OR t.user_id IN (SELECT value FROM json_each(?))
                     OR t.id IN (SELECT s.target_id FROM subscribers s WHERE s.topic_id IN (SELECT value FROM json_each(?))))",
                vec![
                    m.id.clone().into(),
                    Value::Integer(now),
                    m.provider_type.clone().into(),
                    list(&m.targets),
                    list(&m.users),
                    list(&m.topics),
                ],
            ),
            // Marks the message resolved even when it reached no one.
            Statement::new(
                "INSERT OR IGNORE INTO message_targets (message_id, target_id, state, error, updated_at)
                 SELECT ?, '', 'resolved', '', ?",
                vec![m.id.clone().into(), Value::Integer(now)],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    Ok(())
}

async fn pending(ctx: &Ctx<'_>, m: &Message) -> Result<(bool, Vec<Recipient>), AppwriteError> {
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "SELECT 1 FROM message_targets WHERE message_id = ? AND target_id = ''",
                vec![m.id.clone().into()],
            ),
            Statement::new(
                format!(
                    "SELECT mt.target_id, mt.attempts, t.identifier, t.provider_id,
                        (SELECT u.name FROM users u WHERE u.id = t.user_id)
                     FROM message_targets mt LEFT JOIN targets t ON t.id = mt.target_id
                     WHERE mt.message_id = ? AND mt.state = 'pending' ORDER BY mt.rowid LIMIT {}",
                    TARGETS_PER_RUN + 1
                ),
                vec![m.id.clone().into()],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let resolved = out.first().is_some_and(|r| !r.rows.is_empty());
    let recipients = out
        .get(1)
        .map(|r| {
            r.rows
                .iter()
                .filter_map(|row| {
                    let text = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
                    Some(Recipient {
                        target_id: text(0)?,
                        attempts: row.get(1).and_then(Value::as_i64).unwrap_or_default(),
                        identifier: text(2),
                        provider_id: text(3),
                        user_name: text(4).unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((resolved, recipients))
}

/// What every send of one message shares: its providers (opened once) and its content.
struct Prepared {
    providers: Vec<(Provider, Option<ProviderConfig>)>,
    email: Option<wire::EmailMessage>,
    sms: Option<wire::SmsMessage>,
    push: Option<wire::PushMessage>,
    /// Why nothing can be sent at all (attachments gone), if so.
    broken: Option<String>,
}

async fn prepare(ctx: &Ctx<'_>, m: &Message) -> Result<Prepared, AppwriteError> {
    let mut providers = Vec::new();
    for provider in providers::enabled_of_type(ctx, &m.provider_type).await? {
        let config = match provider.config(ctx).await {
            Ok(config) => Some(config),
            Err(error) => {
                tracing::warn!(provider = %provider.id, error = %error.message, "provider credentials unreadable");
                None
            }
        };
        providers.push((provider, config));
    }
    let text = |name: &str| m.data.get(name).and_then(Json::as_str).map(str::to_string);
    let mut prepared = Prepared { providers, email: None, sms: None, push: None, broken: None };
    match m.provider_type.as_str() {
        "email" => {
            let ids = |name: &str| -> Vec<String> {
                m.data
                    .get(name)
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            };
            let addresses = |targets: &[edgewrite_account::Target], wanted: &[String]| -> Vec<String> {
                wanted
                    .iter()
                    .filter_map(|id| targets.iter().find(|t| &t.id == id && t.provider_type == "email"))
                    .map(|t| t.identifier.clone())
                    .collect()
            };
            let (cc, bcc) = (ids("cc"), ids("bcc"));
            let both: Vec<String> = cc.iter().chain(&bcc).cloned().collect();
            let copies = edgewrite_account::targets_by_ids(ctx.ports.sql, &both).await?;
            let mut attachments = Vec::new();
            for file in ids("attachments") {
                let (bucket, id) = file.split_once(':').unwrap_or_default();
                match edgewrite_storage::file_contents(ctx, bucket, id, messages::MAX_ATTACHMENT_BYTES).await
                {
                    Ok(Some(contents)) => attachments.push(wire::Attachment {
                        name: contents.name,
                        media_type: contents.media_type,
                        bytes: contents.bytes,
                    }),
                    Ok(None) => prepared.broken = Some(format!("Attachment {file} could not be found.")),
                    Err(error) => prepared.broken = Some(format!("Attachment {file}: {}", error.message)),
                }
            }
            prepared.email = Some(wire::EmailMessage {
                to: String::new(),
                to_name: String::new(),
                subject: text("subject").unwrap_or_default(),
                content: text("content").unwrap_or_default(),
                html: m.data.get("html").and_then(Json::as_bool).unwrap_or(false),
                cc: addresses(&copies, &cc),
                bcc: addresses(&copies, &bcc),
                attachments,
            });
        }
        "sms" => {
            prepared.sms =
                Some(wire::SmsMessage { to: String::new(), content: text("content").unwrap_or_default() })
        }
        _ => {
            let flag = |name: &str| m.data.get(name).and_then(Json::as_bool).unwrap_or(false);
            prepared.push = Some(wire::PushMessage {
                to: String::new(),
                title: text("title"),
                body: text("body"),
                data: m.data.get("data").and_then(Json::as_object).cloned().unwrap_or_default(),
                action: text("action"),
                image: text("image"),
                icon: text("icon"),
                sound: text("sound"),
                color: text("color"),
                tag: text("tag"),
                badge: m.data.get("badge").and_then(Json::as_i64),
                content_available: flag("contentAvailable"),
                critical: flag("critical"),
                priority: text("priority").unwrap_or_else(|| "high".into()),
            });
        }
    }
    Ok(prepared)
}

async fn send_pending(ctx: &Ctx<'_>, m: &Message) -> Result<Outcome, AppwriteError> {
    let (resolved, mut recipients) = pending(ctx, m).await?;
    if !resolved {
        resolve(ctx, m).await?;
        recipients = pending(ctx, m).await?.1;
    }
    if recipients.is_empty() {
        return Ok(Outcome::Done);
    }
    let more = recipients.len() > TARGETS_PER_RUN;
    recipients.truncate(TARGETS_PER_RUN);
    let prepared = prepare(ctx, m).await?;
    let endpoints = Endpoints::from_secrets(ctx.ports.secrets);
    let mut retry_later = false;
    for recipient in &recipients {
        // A message deleted meanwhile stops here.
        if recipient.attempts > 0 && messages::load_by_id(ctx, &m.id).await?.is_none() {
            return Ok(Outcome::Done);
        }
        let sender = Sender {
            outbound: ctx.ports.outbound,
            random: ctx.ports.random,
            now_ms: ctx.ports.clock.now_ms(),
            endpoints: &endpoints,
        };
        let result = send_one(sender, &prepared, recipient).await;
        let attempts = recipient.attempts + 1;
        let (state, error) = match &result {
            Ok(()) => ("sent", String::new()),
            Err(SendError::Retryable(_)) if attempts < MAX_ATTEMPTS => {
                retry_later = true;
                ("pending", String::new())
            }
            Err(SendError::TargetExpired(_)) => ("expired", String::new()),
            Err(_) => ("failed", String::new()),
        };
        let error = match &result {
            Err(e) if state != "pending" => format!(
                "Failed sending to target {} with error: {e}",
                recipient.identifier.as_deref().unwrap_or(&recipient.target_id)
            ),
            _ => error,
        };
        if let Err(e) = &result {
            tracing::info!(message = %m.id, target = %recipient.target_id, attempts, state, error = %e, "delivery failed");
        }
        let mut batch = vec![Statement::new(
            "UPDATE message_targets SET state = ?, attempts = ?, error = ?, updated_at = ? WHERE message_id = ? AND target_id = ?",
            vec![
                state.into(),
                Value::Integer(attempts),
                error.into(),
                Value::Integer(ctx.ports.clock.now_ms()),
                m.id.clone().into(),
                recipient.target_id.clone().into(),
            ],
        )];
        if state == "expired" {
            batch.push(Statement::new(
                "UPDATE targets SET expired = 1, updated_at = ? WHERE id = ?",
                vec![Value::Integer(ctx.ports.clock.now_ms()), recipient.target_id.clone().into()],
            ));
        }
        ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    }
    Ok(if more {
        Outcome::Continue
    } else if retry_later {
        Outcome::RetryLater
    } else {
        Outcome::Done
    })
}

async fn send_one(sender: Sender<'_>, prepared: &Prepared, recipient: &Recipient) -> Result<(), SendError> {
    let Some(to) = &recipient.identifier else {
        return Err(SendError::Permanent("the target was deleted".into()));
    };
    if let Some(broken) = &prepared.broken {
        return Err(SendError::Permanent(broken.clone()));
    }
    // The target's own provider when it names an enabled one, else the project's default.
    let chosen = recipient
        .provider_id
        .as_ref()
        .and_then(|id| prepared.providers.iter().find(|(p, _)| &p.id == id))
        .or_else(|| prepared.providers.first());
    let Some((provider, config)) = chosen else {
        return Err(SendError::Permanent("no enabled provider delivers messages of this type".into()));
    };
    let Some(config) = config else {
        return Err(SendError::Permanent(format!(
            "the credentials of provider {} cannot be read",
            provider.id
        )));
    };
    if let Some(email) = &prepared.email {
        let message =
            wire::EmailMessage { to: to.clone(), to_name: recipient.user_name.clone(), ..email.clone() };
        wire::send_email(sender, config, &message).await
    } else if let Some(sms) = &prepared.sms {
        wire::send_sms(sender, config, &wire::SmsMessage { to: to.clone(), ..sms.clone() }).await
    } else if let Some(push) = &prepared.push {
        wire::send_push(sender, config, &wire::PushMessage { to: to.clone(), ..push.clone() }).await
    } else {
        Err(SendError::Permanent("unknown message type".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off() {
        assert_eq!([1, 2, 3].map(backoff_secs), [2, 8, 32]);
        assert!(backoff_secs(100) >= 32);
    }
}
