//! Executions that run outside the request that started them: asynchronous ones (a queued
//! job), those of a function's `schedule` (the per-minute tick), those scheduled for later
//! (`scheduledAt`, picked up by the tick), and those of a function's `events` (started after a
//! write commits). Their request waits in a blob (`executions/<id>/request`): it may be large,
//! and a queue message is small.
//!
//! A job may be delivered more than once; each execution runs once, claimed by moving it from
//! `waiting` to `processing` under a guard.

use edgewrite_core::events::{
    channels, names, publish_all, replays_migration, subscriptions, SubscriptionCache,
};
use edgewrite_core::params::Params;
use edgewrite_core::ports::{Event, Job, Rows, Statement, StoreError, Value};
use edgewrite_core::{AppwriteError, Ctx};
use serde_json::{json, Value as Json};

use crate::abi::FunctionRequest;
use crate::executions::{self, Execution};
use crate::functions::{self, Function};
use crate::schedule::Cron;

/// The job kind of one execution to run.
pub const EXECUTION_JOB: &str = "functions.execution";
/// The job kind of the per-minute tick.
pub const TICK_JOB: &str = "tick";

/// What waits for an execution run later.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    request: FunctionRequest,
    user: Option<String>,
}

pub fn request_key(id: &str) -> String {
    format!("executions/{id}/request")
}

/// The realtime event of `action` on an execution, seen by whoever it belongs to.
pub async fn announce(ctx: &Ctx<'_>, e: &Execution, action: &str) {
    if e.owner.is_empty() {
        return;
    }
    let event = Event::new(
        names(&[("functions", &e.function_id), ("executions", &e.id)], action),
        channels(
            &[
                "executions".to_string(),
                format!("executions.{}", e.id),
                format!("functions.{}", e.function_id),
            ],
            action,
        ),
        e.to_json(false),
        vec![e.owner.clone()],
    );
    publish_all(ctx, None, vec![event]).await;
}

async fn load_execution(ctx: &Ctx<'_>, id: &str) -> Result<Option<Execution>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {} FROM executions WHERE id = ?", executions::COLUMNS),
            vec![id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Execution::from_row(r)))
}

/// Records `execution` (`waiting`, or `scheduled` for later) with its request and queues it;
/// where the runtime has no queue it runs now. Answers the execution as it stands.
pub async fn start_later(
    ctx: &Ctx<'_>,
    execution: &Execution,
    request: &FunctionRequest,
    user: Option<&str>,
) -> Result<Execution, AppwriteError> {
    let pending = Pending { request: request.clone(), user: user.map(str::to_string) };
    let bytes = serde_json::to_vec(&pending).map_err(AppwriteError::internal)?;
    ctx.ports.blobs.put(&request_key(&execution.id), bytes).await.map_err(AppwriteError::internal)?;
    executions::store(ctx, execution).await?;
    announce(ctx, execution, "create").await;
    // Queued, it is still as recorded; run here (or failed to queue), it is read back.
    if execution.status == "waiting" && !dispatch(ctx, &execution.id).await {
        return Ok(load_execution(ctx, &execution.id).await?.unwrap_or_else(|| execution.clone()));
    }
    Ok(execution.clone())
}

/// Queues the waiting execution `id`, or runs it now without a queue. A queue that refuses
/// fails the execution rather than leaving it waiting for ever. `true`: it was queued, so its
/// row is unchanged.
async fn dispatch(ctx: &Ctx<'_>, id: &str) -> bool {
    let endpoint = format!("{}://{}/v1", ctx.request.scheme, ctx.request.authority());
    let payload = json!({"executionId": id, "endpoint": endpoint, "depth": ctx.api.depth()});
    let job = Job {
        project: ctx.project.unwrap_or_default().to_string(),
        kind: EXECUTION_JOB.into(),
        payload: payload.clone(),
    };
    match ctx.ports.jobs.enqueue(job, 0).await {
        Ok(true) => true,
        Ok(false) => {
            let Json::Object(map) = payload else { return false };
            let inline = Ctx { params: Params::from_json(map), caller: ctx.caller.clone(), ..*ctx };
            if let Err(error) = run_queued(&inline).await {
                tracing::warn!(execution = %id, error = %error.message, "running an execution in place");
            }
            false
        }
        Err(error) => {
            tracing::warn!(execution = %id, %error, "queueing an execution");
            if let Ok(Some(e)) = load_execution(ctx, id).await {
                finish(ctx, e, "failed", "The execution could not be queued.").await;
            }
            false
        }
    }
}

/// Ends an execution without running it.
async fn finish(ctx: &Ctx<'_>, mut e: Execution, status: &str, error: &str) {
    e.status = status.into();
    e.errors = error.into();
    e.response_status = 500;
    e.updated_at = ctx.ports.clock.now_ms();
    if let Err(error) = executions::save(ctx, &e).await {
        tracing::warn!(execution = %e.id, error = %error.message, "ending an execution");
    }
    let _ = ctx.ports.blobs.delete(&request_key(&e.id)).await;
    announce(ctx, &e, "update").await;
}

/// The `functions.execution` job: runs the waiting execution `executionId` once.
pub async fn run_queued(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    let id = ctx.params.required_text("executionId", 64)?;
    let Some(mut e) = load_execution(ctx, &id).await? else { return Ok(()) };
    if e.status != "waiting" {
        return Ok(());
    }
    let now = ctx.ports.clock.now_ms();
    let claimed = ctx
        .ports
        .sql
        .batch(vec![Statement::new(
            "UPDATE executions SET status = 'processing', updated_at = ? WHERE id = ? AND status = 'waiting'",
            vec![Value::Integer(now), id.clone().into()],
        )
        .expect_changes(1)])
        .await;
    match claimed {
        Ok(_) => {}
        Err(StoreError::GuardFailed { .. }) => return Ok(()),
        Err(other) => return Err(AppwriteError::internal(other)),
    }
    e.status = "processing".into();
    e.updated_at = now;
    announce(ctx, &e, "update").await;
    let f = match functions::load_by_id(ctx, &e.function_id).await {
        Ok(f) if f.enabled => f,
        Ok(_) => {
            finish(ctx, e, "failed", "The function is disabled.").await;
            return Ok(());
        }
        Err(error) if error.kind == edgewrite_core::ErrorType::FunctionNotFound => {
            finish(ctx, e, "failed", "The function was deleted.").await;
            return Ok(());
        }
        Err(error) => {
            finish(ctx, e, "failed", "The function could not be read.").await;
            return Err(error);
        }
    };
    let d = match crate::deployments::load_by_id(ctx, &f, &e.deployment_id).await? {
        Some(d) if d.status == "ready" => d,
        _ => {
            finish(ctx, e, "failed", "The deployment was deleted.").await;
            return Ok(());
        }
    };
    let pending = ctx.ports.blobs.get(&request_key(&e.id), None).await.map_err(AppwriteError::internal)?;
    let Some(pending) = pending.and_then(|b| serde_json::from_slice::<Pending>(&b).ok()) else {
        finish(ctx, e, "failed", "The execution's request was lost.").await;
        return Ok(());
    };
    let done =
        match executions::run(ctx, &f, &d, e.clone(), pending.request, pending.user.as_deref(), None).await {
            Ok(done) => done,
            Err(error) => {
                tracing::warn!(execution = %e.id, error = %error.message, "running an execution");
                finish(ctx, e, "failed", "The execution could not run.").await;
                return Ok(());
            }
        };
    executions::save(ctx, &done).await?;
    let _ = ctx.ports.blobs.delete(&request_key(&done.id)).await;
    announce(ctx, &done, "update").await;
    Ok(())
}

/// A new execution of `f`'s active deployment, not yet run.
fn new_execution(
    ctx: &Ctx<'_>,
    f: &Function,
    deployment_id: &str,
    trigger: &str,
    request: &FunctionRequest,
) -> Execution {
    let now = ctx.ports.clock.now_ms();
    Execution {
        id: edgewrite_core::ids::unique_id(now, ctx.ports.random),
        function_id: f.id.clone(),
        deployment_id: deployment_id.to_string(),
        trigger: trigger.into(),
        status: "waiting".into(),
        request_method: request.method.clone(),
        request_path: request.path.clone(),
        request_headers: request.headers.clone(),
        created_at: now,
        updated_at: now,
        ..Execution::default()
    }
}

fn trigger_request(ctx: &Ctx<'_>, headers: Vec<(String, String)>, body: String) -> FunctionRequest {
    FunctionRequest {
        method: "POST".into(),
        path: "/".into(),
        headers,
        body,
        scheme: ctx.request.scheme.clone(),
        authority: ctx.request.authority(),
    }
}

async fn functions_where(ctx: &Ctx<'_>, condition: &str) -> Result<Vec<Function>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!(
                "SELECT {} FROM functions WHERE enabled = 1 AND deployment_id != '' AND {condition}",
                functions::COLUMNS
            ),
            vec![],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| Function::from_row(r)).collect())
}

/// How long an execution may stay `processing` before the tick calls it lost: the platform
/// stopped its run (CPU or memory limit) before it could record an outcome.
const LOST_AFTER_MS: i64 = 16 * 60_000;

/// How long an execution may stay `waiting` before the tick queues it again: its job was taken
/// from the queue by a run that was lost before it claimed the execution.
const WAITING_LOST_AFTER_MS: i64 = 60_000;

/// The `tick` job (every minute): starts each function whose `schedule` fires this minute
/// (once, however many ticks arrive), queues executions whose `scheduledAt` has come, queues
/// again those whose job was lost, and fails executions whose run was lost.
pub async fn tick(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE executions SET status = 'failed', response_status = 500, updated_at = ?,
                 errors = 'The execution was stopped before it finished: its run exceeded the platform''s CPU or memory limit.'
             WHERE status = 'processing' AND updated_at < ?",
            vec![Value::Integer(now), Value::Integer(now - LOST_AFTER_MS)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let minute = now - now.rem_euclid(60_000);
    for f in functions_where(ctx, "schedule != ''").await? {
        if !Cron::parse(&f.schedule).is_ok_and(|c| c.fires_at(now)) {
            continue;
        }
        let claimed = ctx
            .ports
            .sql
            .batch(vec![Statement::new(
                "UPDATE functions SET schedule_last = ? WHERE seq = ? AND coalesce(schedule_last, -1) < ?",
                vec![Value::Integer(minute), Value::Integer(f.seq), Value::Integer(minute)],
            )
            .expect_changes(1)])
            .await;
        if claimed.is_err() {
            continue;
        }
        let request = trigger_request(ctx, Vec::new(), String::new());
        let execution = new_execution(ctx, &f, &f.deployment_id, "schedule", &request);
        if let Err(error) = start_later(ctx, &execution, &request, None).await {
            tracing::warn!(function = %f.id, error = %error.message, "starting a scheduled execution");
        }
    }
    let due = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT id FROM executions WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at LIMIT 100",
            vec![Value::Integer(now)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let released = |id: &str| {
        Statement::new(
            "UPDATE executions SET status = 'waiting', updated_at = ? WHERE id = ? AND status = 'scheduled'",
            vec![Value::Integer(now), id.into()],
        )
    };
    dispatch_claimed(ctx, &due, released).await;
    // Queued executions whose job never ran (the run that took it from the queue was lost):
    // queued again, each claimed first so one tick queues it once.
    let stale = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT id FROM executions WHERE status = 'waiting' AND updated_at < ? ORDER BY updated_at LIMIT 100",
            vec![Value::Integer(now - WAITING_LOST_AFTER_MS)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let reclaimed = |id: &str| {
        Statement::new(
            "UPDATE executions SET updated_at = ? WHERE id = ? AND status = 'waiting' AND updated_at < ?",
            vec![Value::Integer(now), id.into(), Value::Integer(now - WAITING_LOST_AFTER_MS)],
        )
    };
    dispatch_claimed(ctx, &stale, reclaimed).await;
    Ok(())
}

/// Queues each execution whose id `found` lists, once `claim` (an update guarded by the
/// condition it was found by) changed its row: ticks that find it together queue it once.
async fn dispatch_claimed(ctx: &Ctx<'_>, found: &Rows, claim: impl Fn(&str) -> Statement) {
    for id in found.rows.iter().filter_map(|r| r.first()?.as_str()) {
        if ctx.ports.sql.batch(vec![claim(id).expect_changes(1)]).await.is_ok() {
            dispatch(ctx, id).await;
        }
    }
}

thread_local! {
    /// The project's enabled, deployed functions with `events`, trusted for 2 s.
    static TRIGGERS: SubscriptionCache = SubscriptionCache::new(2_000);
}

/// Forgets this isolate's list of the project's event triggers (a function changed).
pub fn forget_triggers(ctx: &Ctx<'_>) {
    TRIGGERS.with(|t| t.forget(ctx.project.unwrap_or_default()));
}

/// After a write: starts the functions whose `events` name one of its events. Writes a
/// function made through its key (calls below the top level) and the functions service's own
/// events never start functions, so no function can set off itself or another in a loop.
pub async fn committed(ctx: &Ctx<'_>, events: &[Event]) {
    if ctx.api.depth() > 0 || events.iter().all(|e| e.names.iter().all(|n| n.starts_with("functions."))) {
        return;
    }
    if replays_migration(ctx) {
        return;
    }
    let select =
        "SELECT id, events FROM functions WHERE enabled = 1 AND deployment_id != '' AND events != '[]'";
    let listed = match subscriptions(&TRIGGERS, ctx, select).await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(%error, "reading function triggers");
            return;
        }
    };
    for (id, wanted) in listed.iter() {
        let matching: Vec<&Event> = events
            .iter()
            .filter(|event| wanted.iter().any(|n| !n.starts_with("functions.") && event.names.contains(n)))
            .collect();
        if matching.is_empty() {
            continue;
        }
        let f = match functions::load_by_id(ctx, id).await {
            Ok(f) => f,
            Err(error) => {
                tracing::warn!(function = %id, error = %error.message, "loading a triggered function");
                continue;
            }
        };
        for event in matching {
            let headers = vec![
                ("x-appwrite-event".to_string(), event.names.first().cloned().unwrap_or_default()),
                ("content-type".to_string(), "application/json".to_string()),
            ];
            let request = trigger_request(ctx, headers, event.payload.to_string());
            let execution = new_execution(ctx, &f, &f.deployment_id, "event", &request);
            if let Err(error) = start_later(ctx, &execution, &request, None).await {
                tracing::warn!(function = %f.id, error = %error.message, "starting an event execution");
            }
        }
    }
}
