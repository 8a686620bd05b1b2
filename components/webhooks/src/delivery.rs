//! Delivery: after a write commits, each enabled webhook whose patterns name one of its events
//! gets a row in the outbox (`webhook_deliveries`), in commit order, and a `webhooks.deliver`
//! job. A run holds the webhook's lease and sends its due rows oldest first, so one webhook's
//! deliveries arrive in the order their writes committed. A failed try (no answer, or a status
//! of 400 or more) counts against the webhook and is tried again after the deployment's waits
//! (`EDGEWRITE_WEBHOOKS_RETRY_SECONDS`), holding back the rows behind it; at
//! [`MAX_FAILED_ATTEMPTS`] failures in a row the webhook is disabled and its outbox emptied.
//!
//! Without a queue (Spin) the run happens at the end of the request that wrote, and a try
//! waiting for its retry is picked up by a later request.

use base64::Engine as _;
use edgewrite_core::events::{replays_migration, subscriptions, SubscriptionCache};
use edgewrite_core::ports::{
    Event, FetchBounds, Job, OutboundError, OutboundRequest, Statement, StoreError, Value,
};
use edgewrite_core::{AppwriteError, Ctx};
use hmac::{Hmac, Mac};
use serde_json::json;

use crate::webhooks::{self, Webhook};

pub const DELIVER_JOB: &str = "webhooks.deliver";
/// Appwrite's `_APP_WEBHOOK_MAX_FAILED_ATTEMPTS`: failed tries in a row that disable a webhook.
pub const MAX_FAILED_ATTEMPTS: i64 = 10;
/// How long a receiver has to answer (Appwrite's 15 s).
const TIMEOUT_MS: u64 = 15_000;
/// The largest answer read from a receiver (Appwrite's 5 MB).
const MAX_ANSWER_BYTES: usize = 5 * 1024 * 1024;
/// Of a failed answer's body, what `logs` keeps.
const LOGGED_BODY_BYTES: usize = 10_000;
/// A run shows it is alive after every delivery; one silent this long is taken for lost.
const LEASE_MS: i64 = 2 * 60 * 1000;
/// Deliveries per run; the rest continue in a fresh job (Workers limit one invocation's
/// subrequests).
const PER_RUN: usize = 40;
/// Writes without a queue pick up this many webhooks with retries due.
const DUE_PER_REQUEST: i64 = 5;

thread_local! {
    /// The project's enabled webhooks, trusted for 2 s.
    static SUBSCRIPTIONS: SubscriptionCache = SubscriptionCache::new(2_000);
}

/// Forgets this isolate's list of the project's webhooks (one changed).
pub fn forget_webhooks(ctx: &Ctx<'_>) {
    SUBSCRIPTIONS.with(|s| s.forget(ctx.project.unwrap_or_default()));
}

/// After a write: queues its events for every webhook that subscribed to one of them.
pub async fn committed(ctx: &Ctx<'_>, events: &[Event]) {
    if replays_migration(ctx) {
        return;
    }
    run_due_without_queue(ctx).await;
    let select = "SELECT id, events FROM webhooks WHERE enabled = 1 ORDER BY seq";
    let list = match subscriptions(&SUBSCRIPTIONS, ctx, select).await {
        Ok(list) => list,
        Err(error) => {
            tracing::warn!(%error, "reading the project's webhooks");
            return;
        }
    };
    if list.is_empty() {
        return;
    }
    let now = ctx.ports.clock.now_ms();
    let user = ctx.caller.user().map(|u| u.user_id.clone()).unwrap_or_default();
    let mut rows = Vec::new();
    let mut targets: Vec<&str> = Vec::new();
    for event in events {
        for (id, patterns) in list.iter() {
            if patterns.iter().any(|p| event.names.contains(p)) {
                // Guarded: another isolate may still list a webhook deleted or disabled since.
                rows.push(Statement::new(
                    "INSERT INTO webhook_deliveries (webhook_id, events, payload, user_id, next_at, created_at)
                     SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ? AND enabled = 1)",
                    vec![
                        id.clone().into(),
                        event.names.join(",").into(),
                        event.payload.to_string().into(),
                        user.clone().into(),
                        Value::Integer(now),
                        Value::Integer(now),
                        id.clone().into(),
                    ],
                ));
                if !targets.contains(&id.as_str()) {
                    targets.push(id);
                }
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    if let Err(error) = ctx.ports.sql.batch(rows).await {
        tracing::warn!(%error, "queueing webhook deliveries");
        return;
    }
    for id in targets {
        start(ctx, id, 0).await;
    }
}

/// Queues a run for webhook `id` after `delay_secs`, or runs it now without a queue.
async fn start(ctx: &Ctx<'_>, id: &str, delay_secs: u32) {
    if !enqueue(ctx, id, delay_secs).await {
        if let Err(error) = run(ctx, id).await {
            tracing::warn!(webhook = %id, error = %error.message, "delivering webhook events");
        }
    }
}

/// Queues a run for webhook `id` after `delay_secs`. `false`: there is no queue.
async fn enqueue(ctx: &Ctx<'_>, id: &str, delay_secs: u32) -> bool {
    let project = ctx.project.unwrap_or_default().to_string();
    let job = Job { project, kind: DELIVER_JOB.into(), payload: json!({ "webhookId": id }) };
    match ctx.ports.jobs.enqueue(job, delay_secs).await {
        Ok(queued) => queued,
        // The tick starts a webhook whose due deliveries have no run.
        Err(error) => {
            tracing::warn!(webhook = %id, %error, "queueing a webhook run");
            true
        }
    }
}

/// The `webhooks.deliver` job.
pub async fn run_queued(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    let id = ctx.params.required_text("webhookId", 64)?;
    run(ctx, &id).await
}

/// The per-minute tick (and, without a queue, each write): starts the webhooks with due
/// deliveries that no run holds.
pub async fn tick(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    for id in due_webhooks(ctx, 100).await? {
        start(ctx, &id, 0).await;
    }
    Ok(())
}

async fn run_due(ctx: &Ctx<'_>) {
    match due_webhooks(ctx, DUE_PER_REQUEST).await {
        Ok(ids) => {
            for id in ids {
                if let Err(error) = run(ctx, &id).await {
                    tracing::warn!(webhook = %id, error = %error.message, "delivering webhook events");
                }
            }
        }
        Err(error) => tracing::warn!(error = %error.message, "finding due webhook deliveries"),
    }
}

/// Without a queue, a request to the webhooks routes also sends what is due.
pub async fn run_due_without_queue(ctx: &Ctx<'_>) {
    if !ctx.ports.jobs.queues() {
        run_due(ctx).await;
    }
}

async fn due_webhooks(ctx: &Ctx<'_>, limit: i64) -> Result<Vec<String>, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT id FROM (SELECT w.id, (SELECT d.next_at FROM webhook_deliveries d WHERE d.webhook_id = w.id
                     ORDER BY d.seq LIMIT 1) AS head FROM webhooks w WHERE w.lease_until < ?)
             WHERE head <= ? ORDER BY head LIMIT ?",
            vec![Value::Integer(now), Value::Integer(now), Value::Integer(limit)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| Some(r.first()?.as_str()?.to_string())).collect())
}

/// One delivery waiting in the outbox.
struct Delivery {
    seq: i64,
    events: String,
    payload: String,
    user_id: String,
    tries: i64,
    next_at: i64,
}

/// How a run ended.
enum Stop {
    /// The outbox is empty.
    Empty,
    /// The oldest delivery waits for its retry until this time.
    WaitUntil(i64),
    /// This run sent its share; more are due.
    Full,
    /// The webhook is gone or disabled.
    Gone,
}

/// Runs webhook `id`'s due deliveries, unless another run holds it.
async fn run(ctx: &Ctx<'_>, id: &str) -> Result<(), AppwriteError> {
    // A few rounds at most: a write may queue a delivery as a run lets go of the webhook.
    for _ in 0..4 {
        let Some(mut lease) = claim(ctx, id).await? else { return Ok(()) };
        let stop = deliver_due(ctx, id, &mut lease).await;
        release(ctx, id, lease).await;
        match stop? {
            Stop::Gone => return Ok(()),
            Stop::WaitUntil(at) => {
                if ctx.ports.jobs.queues() {
                    let wait = (at - ctx.ports.clock.now_ms()).max(0) as u64;
                    enqueue(ctx, id, wait.div_ceil(1000).max(1) as u32).await;
                }
                return Ok(());
            }
            Stop::Full => {
                if enqueue(ctx, id, 0).await {
                    return Ok(());
                }
            }
            Stop::Empty => {
                if next_delivery(ctx, id).await?.is_none() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// A lease's end, which is also its owner's token: each renewal and the release name it, so a
/// run that outlived its lease cannot touch the next run's.
fn lease_end(ctx: &Ctx<'_>) -> i64 {
    let mut jitter = [0u8; 2];
    ctx.ports.random.fill(&mut jitter);
    ctx.ports.clock.now_ms() + LEASE_MS + i64::from(u16::from_le_bytes(jitter) % 1000)
}

async fn claim(ctx: &Ctx<'_>, id: &str) -> Result<Option<i64>, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let lease = lease_end(ctx);
    let claimed = ctx
        .ports
        .sql
        .batch(vec![Statement::new(
            "UPDATE webhooks SET lease_until = ? WHERE id = ? AND lease_until < ?",
            vec![Value::Integer(lease), id.into(), Value::Integer(now)],
        )
        .expect_changes(1)])
        .await;
    match claimed {
        Ok(_) => Ok(Some(lease)),
        Err(StoreError::GuardFailed { .. }) => Ok(None),
        Err(other) => Err(AppwriteError::internal(other)),
    }
}

async fn release(ctx: &Ctx<'_>, id: &str, lease: i64) {
    let done = ctx
        .ports
        .sql
        .query(Statement::new(
            "UPDATE webhooks SET lease_until = 0 WHERE id = ? AND lease_until = ?",
            vec![id.into(), Value::Integer(lease)],
        ))
        .await;
    if let Err(error) = done {
        // The lease runs out on its own.
        tracing::warn!(webhook = %id, %error, "releasing a webhook run");
    }
}

async fn next_delivery(ctx: &Ctx<'_>, id: &str) -> Result<Option<Delivery>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT seq, events, payload, user_id, tries, next_at FROM webhook_deliveries
             WHERE webhook_id = ? ORDER BY seq LIMIT 1",
            vec![id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| {
        let text = |i: usize| r.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Delivery {
            seq: r.first()?.as_i64()?,
            events: text(1),
            payload: text(2),
            user_id: text(3),
            tries: r.get(4)?.as_i64()?,
            next_at: r.get(5)?.as_i64()?,
        })
    }))
}

async fn deliver_due(ctx: &Ctx<'_>, id: &str, lease: &mut i64) -> Result<Stop, AppwriteError> {
    for _ in 0..PER_RUN {
        let Some(webhook) = webhooks::load(ctx, id).await? else { return Ok(Stop::Gone) };
        if !webhook.enabled {
            drop_outbox(ctx, id).await?;
            return Ok(Stop::Gone);
        }
        let Some(delivery) = next_delivery(ctx, id).await? else { return Ok(Stop::Empty) };
        if delivery.next_at > ctx.ports.clock.now_ms() {
            return Ok(Stop::WaitUntil(delivery.next_at));
        }
        let outcome = send(ctx, &webhook, &delivery).await;
        let now = ctx.ports.clock.now_ms();
        let next_lease = lease_end(ctx);
        // Fails the batch (nothing recorded, the row sent again by the run that holds the
        // webhook now) when this run's lease ran out meanwhile.
        let renew = Statement::new(
            "UPDATE webhooks SET lease_until = ? WHERE id = ? AND lease_until = ?",
            vec![Value::Integer(next_lease), id.into(), Value::Integer(*lease)],
        )
        .expect_changes(1);
        let forget = Statement::new(
            "DELETE FROM webhook_deliveries WHERE seq = ?",
            vec![Value::Integer(delivery.seq)],
        );
        match outcome {
            Ok(()) => {
                ctx.ports
                    .sql
                    .batch(vec![
                        forget,
                        Statement::new("UPDATE webhooks SET attempts = 0 WHERE id = ?", vec![id.into()]),
                        renew,
                    ])
                    .await
                    .map_err(lease_lost)?;
                *lease = next_lease;
            }
            Err(failure) => {
                let attempts = webhook.attempts + 1;
                let disable = attempts >= MAX_FAILED_ATTEMPTS;
                let waits = &ctx.config.webhooks_retry_secs;
                let tries = delivery.tries + 1;
                let retry = failure.retry && !disable && (tries as usize) <= waits.len();
                let mut batch = vec![Statement::new(
                    "UPDATE webhooks SET attempts = attempts + 1, logs = ?, enabled = CASE WHEN ? THEN 0 ELSE enabled END
                     WHERE id = ?",
                    vec![failure.log.into(), Value::Integer(disable.into()), id.into()],
                )];
                if retry {
                    let wait = i64::from(waits[tries as usize - 1]) * 1000;
                    batch.push(Statement::new(
                        "UPDATE webhook_deliveries SET tries = ?, next_at = ? WHERE seq = ?",
                        vec![Value::Integer(tries), Value::Integer(now + wait), Value::Integer(delivery.seq)],
                    ));
                } else {
                    batch.push(forget);
                }
                batch.push(renew);
                ctx.ports.sql.batch(batch).await.map_err(lease_lost)?;
                *lease = next_lease;
                if disable {
                    tracing::warn!(webhook = %id, attempts, "webhook disabled after failed deliveries");
                    forget_webhooks(ctx);
                    drop_outbox(ctx, id).await?;
                    return Ok(Stop::Gone);
                }
            }
        }
    }
    Ok(Stop::Full)
}

fn lease_lost(error: StoreError) -> AppwriteError {
    match error {
        StoreError::GuardFailed { .. } => AppwriteError::internal("a webhook run outlived its lease"),
        other => AppwriteError::internal(other),
    }
}

/// A header value as Workers and Spin accept it: visible ASCII as is, anything else
/// percent-encoded (UTF-8).
fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn drop_outbox(ctx: &Ctx<'_>, id: &str) -> Result<(), AppwriteError> {
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM webhook_deliveries WHERE webhook_id = ?", vec![id.into()]))
        .await
        .map(|_| ())
        .map_err(AppwriteError::internal)
}

/// A failed try: what `logs` says of it, and whether trying again may help.
struct Failure {
    log: String,
    retry: bool,
}

/// `base64(HMAC-SHA1(secret, url + body))`, Appwrite's `X-Appwrite-Webhook-Signature`.
pub fn signature(secret: &str, url: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// One try of `delivery` to `webhook`.
async fn send(ctx: &Ctx<'_>, webhook: &Webhook, delivery: &Delivery) -> Result<(), Failure> {
    let head = format!("URL: {}\nMethod: POST\n", webhook.url);
    if let Err(refusal) = webhooks::checked_url(&webhook.url, &ctx.config.webhooks_allowed_hosts) {
        return Err(Failure {
            log: format!("{head}Error: destination refused, not a public address: {refusal}\n"),
            retry: false,
        });
    }
    let body = delivery.payload.as_bytes().to_vec();
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), format!("Edgewrite-Server v{}", env!("CARGO_PKG_VERSION"))),
        ("x-appwrite-webhook-id".to_string(), webhook.id.clone()),
        ("x-appwrite-webhook-events".to_string(), delivery.events.clone()),
        ("x-appwrite-webhook-name".to_string(), header_safe(&webhook.name)),
        ("x-appwrite-webhook-user-id".to_string(), delivery.user_id.clone()),
        ("x-appwrite-webhook-project-id".to_string(), ctx.project.unwrap_or_default().to_string()),
        ("x-appwrite-webhook-signature".to_string(), signature(&webhook.secret, &webhook.url, &body)),
    ];
    if !webhook.auth_username.is_empty() && !webhook.auth_password.is_empty() {
        let pair = format!("{}:{}", webhook.auth_username, webhook.auth_password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        headers.push(("authorization".to_string(), format!("Basic {encoded}")));
    }
    let request = OutboundRequest { method: "POST".into(), url: webhook.url.clone(), headers, body };
    let bounds = FetchBounds { max_bytes: MAX_ANSWER_BYTES, timeout_ms: TIMEOUT_MS };
    match ctx.ports.outbound.send_bounded(request, bounds).await {
        Ok(answer) if answer.status < 400 => Ok(()),
        Ok(answer) => {
            let shown = &answer.body[..answer.body.len().min(LOGGED_BODY_BYTES)];
            Err(Failure {
                log: format!(
                    "{head}Status code: {}\nBody: \n{}\n",
                    answer.status,
                    String::from_utf8_lossy(shown)
                ),
                retry: true,
            })
        }
        Err(OutboundError::Denied(detail)) => Err(Failure {
            log: format!("{head}Error: destination refused, not a public address or not allowed: {detail}\n"),
            retry: false,
        }),
        Err(OutboundError::Failed(detail)) => Err(Failure {
            log: format!("{head}Error: {detail}\nEvents: {}\n", delivery.events.replace(',', ", ")),
            retry: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_is_hmac_sha1_of_url_and_body_in_base64() {
        // HMAC-SHA1(key "secret", "https://example.com/hook{}"), computed with Python's hmac.
        let got = signature("secret", "https://example.com/hook", b"{}");
        assert_eq!(got, "zRHCEqlqhN3/Z2wY2Td3pf1wMxs=");
        assert_ne!(got, signature("secret2", "https://example.com/hook", b"{}"));
        assert_ne!(got, signature("secret", "https://example.com/hook2", b"{}"));
    }
}
