//! `GET /v1/ping` and the `/v1/health*` group (`appwrite-api.md` §1.1, §11).

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
];

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
            _ => return Err(ErrorType::GeneralRouteNotFound.into()),
        })
    }
}
