//! Delivery, outside the request that asked for it: a `messaging.deliver` job (Cloudflare
//! Queues) resolves a message's recipients once, sends to each through its provider, records
//! each outcome as it happens, retries what failed for a passing reason with backoff, and
//! settles the message as Appwrite does: `sent`, or `failed` when any target failed. The cron `tick` starts
//! scheduled messages that are due and restarts deliveries whose run was lost.
//!
//! Without a queue (Spin) the same run happens in the request, retrying at once.

use edgewrite_core::events;
use edgewrite_core::ports::{Job, Statement, StoreError, Value};
use edgewrite_core::{AppwriteError, Ctx};
use serde_json::{json, Value as Json};

use crate::messages::{self, Message};
use crate::providers::{self, Provider};
use crate::wire::{self, Endpoints, ProviderConfig, SendError, Sender};

pub const DELIVER_JOB: &str = "messaging.deliver";
/// Tries per target: the first and three retries.
const MAX_ATTEMPTS: i64 = 4;
/// A run shows it is alive after every target; one silent this long is taken for lost, and the
/// tick starts the message again.
const LEASE_MS: i64 = 15 * 60 * 1000;
/// A message `processing` without a run for this long lost its job (a failed enqueue, a run
/// that died): the tick starts it again. Longer than the longest backoff.
const LOST_AFTER_MS: i64 = 60_000;
/// Targets sent to per run; a bigger message continues in a fresh job (Workers limit the
/// subrequests of one invocation). Fewer when every email carries attachments.
const TARGETS_PER_RUN: usize = 200;
const TARGETS_PER_RUN_WITH_ATTACHMENTS: usize = 20;
/// `deliveryErrors` lines kept; the rest are counted in one more line.
const MAX_ERROR_LINES: i64 = 100;

/// Seconds before retry number `attempt` (1-based): 2, 8, 32.
fn backoff_secs(attempt: i64) -> u32 {
    2u32.saturating_mul(4u32.saturating_pow(attempt.clamp(1, 6) as u32 - 1))
}

/// Hands message `id` (status `processing`) to delivery: queued, or run here. `true`: it ran
/// here (no queue), so the message changed.
pub async fn start(ctx: &Ctx<'_>, id: &str) -> Result<bool, AppwriteError> {
    enqueue(ctx, id, 0).await
}

async fn enqueue(ctx: &Ctx<'_>, id: &str, delay_secs: u32) -> Result<bool, AppwriteError> {
    let project = ctx.project.unwrap_or_default().to_string();
    let job = Job { project, kind: DELIVER_JOB.into(), payload: json!({ "messageId": id }) };
    match ctx.ports.jobs.enqueue(job, delay_secs).await {
        Ok(true) => Ok(false),
        Ok(false) => {
            // No queue: deliver now, every target and every retry, without waiting between
            // (each target's tries are counted, so this ends).
            while run(ctx, id, true).await? == Outcome::Continue {}
            Ok(true)
        }
        Err(error) => {
            // The tick restarts a message left `processing` without a run.
            tracing::warn!(message = %id, %error, "queueing a message delivery");
            Ok(false)
        }
    }
}

/// The `messaging.deliver` job.
pub async fn run_queued(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    let id = ctx.params.required_text("messageId", 36)?;
    let delay_secs = match run(ctx, &id, false).await? {
        Outcome::RetryLater { delay_secs } => delay_secs,
        Outcome::Continue => 0,
        Outcome::Done => return Ok(()),
    };
    enqueue(ctx, &id, delay_secs).await.map(drop)
}

/// The cron tick: due scheduled messages start; deliveries whose run was lost start again.
/// One message's trouble never stops the others (or other capabilities' ticks).
pub async fn tick(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    // Without a queue the tick runs inside someone's request: one message at a time.
    let limit = if ctx.ports.jobs.queues() { 100 } else { 1 };
    let now = ctx.ports.clock.now_ms();
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT id, status FROM messages
             WHERE (status = 'scheduled' AND scheduled_at <= ?)
                OR (status = 'processing' AND (lease IS NULL OR lease < ?) AND updated_at < ?)
             LIMIT ?",
            vec![
                Value::Integer(now),
                Value::Integer(now - LEASE_MS),
                Value::Integer(now - LOST_AFTER_MS),
                Value::Integer(limit),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    for row in &rows.rows {
        let (Some(id), Some(status)) =
            (row.first().and_then(Value::as_str), row.get(1).and_then(Value::as_str))
        else {
            continue;
        };
        if let Err(error) = restart(ctx, id, status, now).await {
            tracing::warn!(message = %id, error = %error.message, "starting a message from the tick");
        }
    }
    Ok(())
}

async fn restart(ctx: &Ctx<'_>, id: &str, status: &str, now: i64) -> Result<(), AppwriteError> {
    // Claimed under the same conditions it was found by, so a schedule moved later meanwhile
    // waits, and one lost delivery is restarted once per minute, not once per tick that sees it.
    let claim = if status == "scheduled" {
        Statement::new(
            "UPDATE messages SET status = 'processing', updated_at = ?
             WHERE id = ? AND status = 'scheduled' AND scheduled_at <= ?",
            vec![Value::Integer(now), id.into(), Value::Integer(now)],
        )
    } else {
        Statement::new(
            "UPDATE messages SET updated_at = ?
             WHERE id = ? AND status = 'processing' AND (lease IS NULL OR lease < ?) AND updated_at < ?",
            vec![
                Value::Integer(now),
                id.into(),
                Value::Integer(now - LEASE_MS),
                Value::Integer(now - LOST_AFTER_MS),
            ],
        )
    };
    match ctx.ports.sql.query(claim.expect_changes(1)).await {
        Ok(_) => {}
        Err(StoreError::GuardFailed { .. }) => return Ok(()),
        Err(e) => return Err(AppwriteError::internal(e)),
    }
    if status == "scheduled" {
        if let Some(m) = messages::load_by_id(ctx, id).await? {
            events::publish_all(ctx, None, vec![messages::event(&m, "update")]).await;
        }
    } else {
        tracing::warn!(message = %id, "restarting a delivery whose run was lost");
    }
    start(ctx, id).await.map(drop)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Settled, gone, or held by another run: nothing more for this one to do.
    Done,
    /// Targets failed for a passing reason; the next is due in `delay_secs`.
    RetryLater { delay_secs: u32 },
    /// More targets are due than one run sends.
    Continue,
}

/// How one run ended, seen from inside it.
enum Stop {
    /// Every due target was tried.
    Finished,
    /// The message was deleted or changed meanwhile, or another run took it over (this one was
    /// taken for lost): whatever this run would write no longer applies.
    Lost,
}

struct Recipient {
    target_id: String,
    attempts: i64,
    identifier: Option<String>,
    provider_id: Option<String>,
    user_name: String,
}

/// The lease a run holds on its message: renewed after every target, given back only by its
/// holder.
struct Lease<'a> {
    ctx: &'a Ctx<'a>,
    id: &'a str,
    at: std::cell::Cell<i64>,
}

impl Lease<'_> {
    /// Renews the lease; guarded, so a batch holding it commits only while this run holds it.
    fn renewal(&self, now: i64) -> Statement {
        Statement::new(
            "UPDATE messages SET lease = ? WHERE id = ? AND lease = ?",
            vec![Value::Integer(now), self.id.into(), Value::Integer(self.at.get())],
        )
        .expect_changes(1)
    }

    /// Runs `statements` after a renewal of the lease, all or nothing: `Ok(false)` when this
    /// run no longer holds it (nothing was written).
    async fn write(&self, statements: Vec<Statement>) -> Result<bool, AppwriteError> {
        let now = self.ctx.ports.clock.now_ms().max(self.at.get() + 1);
        let mut batch = vec![self.renewal(now)];
        batch.extend(statements);
        match self.ctx.ports.sql.batch(batch).await {
            Ok(_) => {
                self.at.set(now);
                Ok(true)
            }
            Err(StoreError::GuardFailed { .. }) => Ok(false),
            Err(e) => Err(AppwriteError::internal(e)),
        }
    }

    /// Gives the message back (to the next job or the tick), or settles it; `Ok(false)` when
    /// this run no longer held it.
    async fn release(&self, settle: bool) -> Result<bool, AppwriteError> {
        let now = self.ctx.ports.clock.now_ms();
        let statement = if settle {
            settle_statement(self.id, now, self.at.get())
        } else {
            Statement::new(
                "UPDATE messages SET lease = NULL, updated_at = ? WHERE id = ? AND lease = ?",
                vec![Value::Integer(now), self.id.into(), Value::Integer(self.at.get())],
            )
        };
        let out = self.ctx.ports.sql.query(statement).await.map_err(AppwriteError::internal)?;
        Ok(out.changes == 1)
    }
}

/// One run over message `id`'s due targets; `inline` runs (no queue) do not wait for backoff.
async fn run(ctx: &Ctx<'_>, id: &str, inline: bool) -> Result<Outcome, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
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
    match claimed {
        Ok(_) => {}
        // Settled, gone, or another run holds it.
        Err(StoreError::GuardFailed { .. }) => return Ok(Outcome::Done),
        Err(e) => return Err(AppwriteError::internal(e)),
    }
    let lease = Lease { ctx, id, at: std::cell::Cell::new(now) };
    match held(ctx, id, &lease, inline).await {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            // Handed back at once, so the queue's retry of this job (or the tick) goes on.
            if let Err(e) = lease.release(false).await {
                tracing::warn!(message = %id, error = %e.message, "handing back a message after an error");
            }
            Err(error)
        }
    }
}

/// The part of a run that holds the lease.
async fn held(ctx: &Ctx<'_>, id: &str, lease: &Lease<'_>, inline: bool) -> Result<Outcome, AppwriteError> {
    let Some(message) = messages::load_by_id(ctx, id).await? else { return Ok(Outcome::Done) };
    if let Stop::Lost = send_due(ctx, &message, lease, inline).await? {
        return Ok(Outcome::Done);
    }
    let outcome = next_step(ctx, id, inline).await?;
    if !lease.release(outcome == Outcome::Done).await? {
        return Ok(Outcome::Done);
    }
    if outcome == Outcome::Done {
        if let Some(m) = messages::load_by_id(ctx, id).await? {
            tracing::info!(message = %id, status = %m.status, delivered = m.delivered_total, "message settled");
            events::publish_all(ctx, None, vec![messages::event(&m, "update")]).await;
        }
    }
    Ok(outcome)
}

/// What is left of message `id` after a run: nothing, due targets, or targets waiting for
/// their next try.
async fn next_step(ctx: &Ctx<'_>, id: &str, inline: bool) -> Result<Outcome, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT count(*), min(next_at) FROM message_targets WHERE message_id = ? AND state = 'pending'",
            vec![id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let row = rows.rows.first();
    let waiting = row.and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0);
    let next_at = row.and_then(|r| r.get(1)).and_then(Value::as_i64).unwrap_or(now);
    Ok(if waiting == 0 {
        Outcome::Done
    } else if inline || next_at <= now {
        Outcome::Continue
    } else {
        Outcome::RetryLater { delay_secs: ((next_at - now + 999) / 1000).clamp(1, 3600) as u32 }
    })
}

/// The message's outcome from its targets' rows, as Appwrite settles it: `sent` when no target
/// failed, else `failed` (with what was delivered counted either way).
fn settle_statement(id: &str, now: i64, lease: i64) -> Statement {
    let failed = "message_id = ?2 AND state IN ('failed', 'expired')";
    Statement::new(
        format!(
            "UPDATE messages SET lease = NULL, updated_at = ?1, delivered_at = ?1,
                 delivered_total = (SELECT count(*) FROM message_targets WHERE message_id = ?2 AND state = 'sent'),
                 delivery_errors = CASE
                     WHEN NOT EXISTS (SELECT 1 FROM message_targets WHERE message_id = ?2)
                         THEN json_array('No valid recipients found.')
                     ELSE (SELECT CASE WHEN n > ?4 THEN json_insert(lines, '$[#]', printf('…and %d more targets failed.', n - ?4))
                                  ELSE lines END
                           FROM (SELECT (SELECT json_group_array(error) FROM
                                            (SELECT error FROM message_targets WHERE {failed} ORDER BY rowid LIMIT ?4)) AS lines,
                                        (SELECT count(*) FROM message_targets WHERE {failed}) AS n))
                 END,
                 status = CASE
                     WHEN EXISTS (SELECT 1 FROM message_targets WHERE {failed})
                         OR NOT EXISTS (SELECT 1 FROM message_targets WHERE message_id = ?2)
                     THEN 'failed' ELSE 'sent' END
             WHERE id = ?2 AND lease = ?3"
        ),
        vec![Value::Integer(now), id.into(), Value::Integer(lease), Value::Integer(MAX_ERROR_LINES)],
    )
}

/// Lists the message's recipients once: its targets, its users' targets and its topics'
/// subscribers, of its type and not expired.
fn resolve_statements(m: &Message, now: i64) -> Vec<Statement> {
    let list = |l: &Vec<String>| Value::from(json!(l).to_string());
    vec![
        Statement::new(
            "UPDATE messages SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
            vec![Value::Integer(now), m.id.clone().into()],
        )
        .expect_changes(1),
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
    ]
}

struct Due {
    recipients: Vec<Recipient>,
    /// The message's first recipient: cc and bcc ride along with its email only.
    first: Option<String>,
}

/// The message's targets due now (all pending ones when `inline`), its recipients listed first
/// if this is its first run; `None` when the message went or this run lost its lease.
async fn due(
    ctx: &Ctx<'_>,
    m: &Message,
    lease: &Lease<'_>,
    limit: usize,
    inline: bool,
) -> Result<Option<Due>, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    if !m.resolved && !lease.write(resolve_statements(m, now)).await? {
        return Ok(None);
    }
    let batch = vec![
        Statement::new(
            "SELECT mt.target_id, mt.attempts, t.identifier, t.provider_id,
                (SELECT u.name FROM users u WHERE u.id = t.user_id)
             FROM message_targets mt LEFT JOIN targets t ON t.id = mt.target_id
             WHERE mt.message_id = ? AND mt.state = 'pending' AND (mt.next_at <= ? OR ?)
             ORDER BY mt.rowid LIMIT ?",
            vec![
                m.id.clone().into(),
                Value::Integer(now),
                Value::Integer(i64::from(inline)),
                Value::Integer(limit as i64),
            ],
        ),
        Statement::new(
            "SELECT target_id FROM message_targets WHERE message_id = ? ORDER BY rowid LIMIT 1",
            vec![m.id.clone().into()],
        ),
    ];
    let out = ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    let recipients = out
        .first()
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
                        // A display name only: control characters would make the mail
                        // header refuse the whole message.
                        user_name: text(4).unwrap_or_default().chars().filter(|c| !c.is_control()).collect(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let first = out.get(1).and_then(|r| r.rows.first()).and_then(|r| r.first()).and_then(Value::as_str);
    Ok(Some(Due { recipients, first: first.map(str::to_string) }))
}

/// What every send of one message shares: its providers (opened once) and its content.
struct Prepared {
    providers: Vec<(Provider, Option<ProviderConfig>)>,
    email: Option<wire::EmailMessage>,
    /// The email's cc and bcc addresses, given to the first target's email only.
    copies: (Vec<String>, Vec<String>),
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
    let mut prepared =
        Prepared { providers, email: None, copies: Default::default(), sms: None, push: None, broken: None };
    match m.provider_type.as_str() {
        "email" => {
            let addresses = |targets: &[edgewrite_account::Target], wanted: &[String]| -> Vec<String> {
                wanted
                    .iter()
                    .filter_map(|id| targets.iter().find(|t| &t.id == id && t.provider_type == "email"))
                    .map(|t| t.identifier.clone())
                    .collect()
            };
            let (cc, bcc) = (messages::ids(&m.data, "cc"), messages::ids(&m.data, "bcc"));
            let both: Vec<String> = cc.iter().chain(&bcc).cloned().collect();
            let copies = edgewrite_account::targets_by_ids(ctx.ports.sql, &both).await?;
            let mut attachments = Vec::new();
            // Checked at create, but a file may have been replaced since: the total is held
            // again here, before anything is read.
            let mut total = 0u64;
            for (bucket, id) in messages::attachments(&m.data) {
                let left = messages::MAX_ATTACHMENT_BYTES.saturating_sub(total);
                match edgewrite_storage::file_contents(ctx, &bucket, &id, left).await {
                    Ok(Some(contents)) => {
                        total += contents.bytes.len() as u64;
                        attachments.push(wire::Attachment {
                            name: contents.name,
                            media_type: contents.media_type,
                            bytes: contents.bytes,
                        });
                    }
                    Ok(None) => {
                        prepared.broken = Some(format!("Attachment {bucket}:{id} could not be found."))
                    }
                    Err(error) => {
                        prepared.broken = Some(format!("Attachment {bucket}:{id}: {}", error.message))
                    }
                }
            }
            prepared.copies = (addresses(&copies, &cc), addresses(&copies, &bcc));
            prepared.email = Some(wire::EmailMessage {
                to: String::new(),
                to_name: String::new(),
                subject: text("subject").unwrap_or_default(),
                content: text("content").unwrap_or_default(),
                html: m.data.get("html").and_then(Json::as_bool).unwrap_or(false),
                cc: Vec::new(),
                bcc: Vec::new(),
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
                // `{bucketId, fileId, url}` (messages::push_image); a plain URL from before.
                image: m
                    .data
                    .get("image")
                    .and_then(|i| i.get("url").or(Some(i)))
                    .and_then(Json::as_str)
                    .map(str::to_string),
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

/// Sends to the message's due targets, recording each outcome (and renewing the lease) right
/// after its send, so a run that dies resends at most the target it was at.
async fn send_due(
    ctx: &Ctx<'_>,
    m: &Message,
    lease: &Lease<'_>,
    inline: bool,
) -> Result<Stop, AppwriteError> {
    let has_attachments = !messages::attachments(&m.data).is_empty();
    let limit = if has_attachments { TARGETS_PER_RUN_WITH_ATTACHMENTS } else { TARGETS_PER_RUN };
    let Some(due) = due(ctx, m, lease, limit, inline).await? else { return Ok(Stop::Lost) };
    if due.recipients.is_empty() {
        return Ok(Stop::Finished);
    }
    let mut prepared = prepare(ctx, m).await?;
    let endpoints = Endpoints::from_secrets(ctx.ports.secrets);
    for recipient in &due.recipients {
        let attempts = recipient.attempts + 1;
        let target = recipient.identifier.as_deref().unwrap_or(&recipient.target_id);
        let row = |sql: &str, mut values: Vec<Value>| {
            values.extend([m.id.clone().into(), recipient.target_id.clone().into()]);
            // Guarded: deleting or changing the message removes its rows.
            Statement::new(format!("{sql} WHERE message_id = ? AND target_id = ?"), values).expect_changes(1)
        };
        let now = ctx.ports.clock.now_ms();
        if recipient.attempts >= MAX_ATTEMPTS {
            // Its runs died while sending to it, every time: it counts as failed.
            let error =
                format!("Failed sending to target {target} with error: no answer after {MAX_ATTEMPTS} tries");
            let done = row(
                "UPDATE message_targets SET state = 'failed', error = ?, updated_at = ?",
                vec![error.into(), Value::Integer(now)],
            );
            if !lease.write(vec![done]).await? {
                return Ok(Stop::Lost);
            }
            continue;
        }
        // The try is counted before it is made: a run that dies in it (a platform limit, a
        // provider that never answers) still uses it up, and the target waits its backoff.
        let counted = row(
            "UPDATE message_targets SET attempts = ?, next_at = ?, updated_at = ?",
            vec![
                Value::Integer(attempts),
                Value::Integer(now + i64::from(backoff_secs(attempts)) * 1000),
                Value::Integer(now),
            ],
        );
        if !lease.write(vec![counted]).await? {
            return Ok(Stop::Lost);
        }
        let sender = Sender {
            outbound: ctx.ports.outbound,
            random: ctx.ports.random,
            now_ms: now,
            endpoints: &endpoints,
        };
        let first = due.first.as_deref() == Some(recipient.target_id.as_str());
        let result = send_one(sender, &mut prepared, recipient, first).await;
        let (state, error) = match &result {
            Ok(()) => ("sent", String::new()),
            Err(SendError::Retryable(e)) if attempts < MAX_ATTEMPTS => {
                tracing::info!(message = %m.id, target = %recipient.target_id, attempts, error = %e, "delivery to retry");
                ("pending", String::new())
            }
            Err(e) => {
                tracing::info!(message = %m.id, target = %recipient.target_id, attempts, error = %e, "delivery failed");
                let state = if matches!(e, SendError::TargetExpired(_)) { "expired" } else { "failed" };
                (state, format!("Failed sending to target {target} with error: {e}"))
            }
        };
        let done = ctx.ports.clock.now_ms();
        let mut batch = vec![row(
            "UPDATE message_targets SET state = ?, error = ?, updated_at = ?",
            vec![state.into(), error.into(), Value::Integer(done)],
        )];
        if state == "expired" {
            batch.push(Statement::new(
                "UPDATE targets SET expired = 1, updated_at = ? WHERE id = ?",
                vec![Value::Integer(done), recipient.target_id.clone().into()],
            ));
        }
        if !lease.write(batch).await? {
            return Ok(Stop::Lost);
        }
    }
    Ok(Stop::Finished)
}

async fn send_one(
    sender: Sender<'_>,
    prepared: &mut Prepared,
    recipient: &Recipient,
    first: bool,
) -> Result<(), SendError> {
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
        return Err(SendError::Permanent("No enabled provider found.".into()));
    };
    let Some(config) = config else {
        return Err(SendError::Permanent(format!(
            "the credentials of provider {} cannot be read",
            provider.id
        )));
    };
    // The content is shared by every send; only the recipient changes (no copy of attachments).
    if let Some(email) = &mut prepared.email {
        email.to.clone_from(to);
        email.to_name.clone_from(&recipient.user_name);
        // cc and bcc get one copy of the message, with its first target's.
        (email.cc, email.bcc) = if first { prepared.copies.clone() } else { Default::default() };
        wire::send_email(sender, config, email).await
    } else if let Some(sms) = &mut prepared.sms {
        sms.to.clone_from(to);
        wire::send_sms(sender, config, sms).await
    } else if let Some(push) = &mut prepared.push {
        push.to.clone_from(to);
        wire::send_push(sender, config, push).await
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
