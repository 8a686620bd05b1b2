//! `GET /v1/ping` and the `/v1/health*` group (`appwrite-api.md` §1.1, §11): each service probes
//! the store that stands for it here (the project's SQL, blobs, cache and realtime events), and
//! each queue answers from the work edgewrite keeps waiting in the project: asynchronous
//! function executions and message deliveries. Appwrite's other queues (audits, builds,
//! certificates, …) have no counterpart, so they are always empty.

use async_trait::async_trait;
use edgewrite_core::error::APPWRITE_VERSION;
use edgewrite_core::http::Method;
use edgewrite_core::ports::Statement;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};
use serde_json::json;

/// The health capability.
pub struct Health;

const fn route(path: &'static str, scope: &'static str, needs_project: bool, name: &'static str) -> Route {
    Route { method: Method::Get, path, scope: Some(scope), needs_project, name }
}

static ROUTES: &[Route] = &[
    route("/v1/ping", "global", true, "ping"),
    route("/v1/health", "health.read", false, "health.get"),
    route("/v1/health/version", "public", false, "health.version"),
    route("/v1/health/db", "health.read", true, "health.db"),
    route("/v1/health/storage", "health.read", true, "health.storage"),
    route("/v1/health/storage/local", "health.read", true, "health.storage"),
    route("/v1/health/time", "health.read", false, "health.time"),
    route("/v1/health/cache", "health.read", true, "health.cache"),
    route("/v1/health/pubsub", "health.read", true, "health.pubsub"),
    route("/v1/health/geo", "health.read", false, "health.geo"),
    route("/v1/health/anti-virus", "health.read", false, "health.antivirus"),
    route("/v1/health/certificate", "health.read", false, "health.certificate"),
    route("/v1/health/queue/failed/{name}", "health.read", true, "health.queue.failed"),
    route("/v1/health/queue/{queue}", "health.read", true, "health.queue"),
];

/// Appwrite's queues (`/v1/health/queue/{queue}`) and the names `failed/{name}` takes.
const QUEUES: &[(&str, &str)] = &[
    ("audits", "v1-audits"),
    ("builds", "v1-builds"),
    ("certificates", "v1-certificates"),
    ("databases", "v1-database"),
    ("deletes", "v1-deletes"),
    ("functions", "v1-functions"),
    ("mails", "v1-mails"),
    ("messaging", "v1-messaging"),
    ("migrations", "v1-migrations"),
    ("notifications", "v1-notifications"),
    ("stats-resources", "v1-stats-resources"),
    ("stats-usage", "v1-stats-usage"),
    ("webhooks", "v1-webhooks"),
    ("screenshots", "v1-screenshots"),
];

/// What waits in `queue` (its route name), or has failed there, in the project.
fn queue_count(queue: &str, failed: bool) -> Option<&'static str> {
    match (queue, failed) {
        ("functions", false) => Some("SELECT COUNT(*) FROM executions WHERE status = 'waiting'"),
        ("messaging", false) => Some("SELECT COUNT(*) FROM message_targets WHERE state = 'pending'"),
        ("messaging", true) => {
            Some("SELECT COUNT(*) FROM message_targets WHERE state IN ('failed', 'expired')")
        }
        _ => None,
    }
}

/// `GET /health/queue/{queue}` and `/health/queue/failed/{name}`: `{size}`, or 503
/// `health_queue_size_exceeded` from `threshold` (default 5,000) on.
async fn queue(ctx: &Ctx<'_>, failed: bool) -> Result<Response, AppwriteError> {
    let threshold = ctx.params.integer("threshold", i64::MIN, i64::MAX)?.unwrap_or(5000);
    let queue = if failed {
        let name = ctx.params.path("name").unwrap_or_default();
        QUEUES.iter().find(|(_, n)| *n == name).map(|(q, _)| *q).ok_or_else(|| {
            let names: Vec<&str> = QUEUES.iter().map(|(_, n)| *n).collect();
            AppwriteError::invalid_param("name", &format!("Value must be one of ({})", names.join(", ")))
        })?
    } else {
        let queue = ctx.params.path("queue").unwrap_or_default();
        QUEUES
            .iter()
            .find(|(q, _)| *q == queue && *q != "screenshots")
            .map(|(q, _)| *q)
            .ok_or(ErrorType::GeneralRouteNotFound)?
    };
    let size = match queue_count(queue, failed) {
        Some(sql) => {
            let rows =
                ctx.ports.sql.query(Statement::new(sql, vec![])).await.map_err(|e| failure("Queue", e))?;
            rows.rows.first().and_then(|r| r.first()).and_then(|v| v.as_i64()).unwrap_or(0)
        }
        None => 0,
    };
    if size >= threshold {
        let what = if failed { "failed jobs" } else { "jobs" };
        return Err(AppwriteError::new(
            ErrorType::HealthQueueSizeExceeded,
            format!("Queue {what} threshold hit. Current value is {size} and threshold is {threshold}."),
        ));
    }
    Ok(Response::json(200, &json!({ "size": size })))
}

fn failure(what: &str, err: impl std::fmt::Display) -> AppwriteError {
    // The detail goes to the log; the client sees Appwrite's generic server error.
    let _ = AppwriteError::internal(format!("{what}: {err}"));
    AppwriteError::new(ErrorType::GeneralServerError, format!("{what} failure"))
}

#[async_trait(?Send)]
impl Capability for Health {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let clock = ctx.ports.clock;
        let status = |name: &str, started: i64| json!({"name": name, "ping": clock.now_ms() - started, "status": "pass"});
        Ok(match route.name {
            "ping" => Response::text(200, "Pong!"),
            "health.get" => Response::json(200, &json!({"name": "http", "ping": 0, "status": "pass"})),
            "health.version" => Response::json(200, &json!({"version": APPWRITE_VERSION})),
            "health.db" => {
                let started = clock.now_ms();
                ctx.ports
                    .sql
                    .query(Statement::new("SELECT 1", vec![]))
                    .await
                    .map_err(|e| failure("DB", e))?;
                let db = status("Projects.DB", started);
                Response::json(200, &json!({"total": 1, "statuses": [db]}))
            }
            "health.storage" => {
                let started = clock.now_ms();
                let key = format!("_health/{}", edgewrite_core::ids::random_hex(8, ctx.ports.random));
                let probe = b"edgewrite health probe".to_vec();
                let blobs = ctx.ports.blobs;
                blobs.put(&key, probe.clone()).await.map_err(|e| failure("Storage", e))?;
                let read = blobs.get(&key, None).await.map_err(|e| failure("Storage", e))?;
                blobs.delete(&key).await.map_err(|e| failure("Storage", e))?;
                if read.as_deref() != Some(probe.as_slice()) {
                    return Err(failure("Storage", "probe read back differs"));
                }
                Response::json(200, &status("", started))
            }
            // The edge platforms keep their clocks synchronised and offer no NTP (UDP) from
            // inside a request, so the platform clock is both sides of the comparison.
            "health.time" => {
                let now = clock.now_ms() / 1000;
                Response::json(200, &json!({"remoteTime": now, "localTime": now, "diff": 0}))
            }
            // The project's cache (Workers KV; Spin's key-value store).
            "health.cache" => {
                let started = clock.now_ms();
                let key = format!("_health/{}", edgewrite_core::ids::random_hex(8, ctx.ports.random));
                let kv = ctx.ports.kv;
                kv.put(&key, b"probe".to_vec(), Some(60)).await.map_err(|e| failure("Cache", e))?;
                let read = kv.get(&key).await.map_err(|e| failure("Cache", e))?;
                kv.delete(&key).await.map_err(|e| failure("Cache", e))?;
                if read.as_deref() != Some(b"probe".as_slice()) {
                    return Err(failure("Cache", "probe read back differs"));
                }
                Response::json(200, &json!({"total": 1, "statuses": [status("Cache", started)]}))
            }
            // Realtime's events: the project's object on Cloudflare (nowhere to go on Spin).
            "health.pubsub" => {
                let started = clock.now_ms();
                ctx.ports.events.publish(None, vec![]).await.map_err(|e| failure("Pubsub", e))?;
                Response::json(200, &json!({"total": 1, "statuses": [status("PubSub (realtime)", started)]}))
            }
            // Geodata is the platform's (request.cf) and the locale data is built in.
            "health.geo" => Response::json(200, &status("geo", clock.now_ms())),
            // Files are not scanned: Appwrite's answer when its antivirus is off.
            "health.antivirus" => Response::json(200, &json!({"version": "", "status": "disabled"})),
            // Neither a Worker nor a Spin component can see a server's certificate.
            "health.certificate" => {
                return Err(AppwriteError::new(
                    ErrorType::GeneralNotImplemented,
                    "edgewrite cannot read a server's TLS certificate from a Worker or a Spin component.",
                ))
            }
            "health.queue" => return queue(ctx, false).await,
            "health.queue.failed" => return queue(ctx, true).await,
            _ => return Err(ErrorType::GeneralRouteNotFound.into()),
        })
    }
}
