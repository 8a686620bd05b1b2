//! Appwrite's Webhooks (`/v1/webhooks`, API keys only): a project's subscriptions to its own
//! events, each delivered by a signed HTTP POST from the job queue, never inside the request
//! that wrote. See `delivery` for order, retries and the failure count, and `patterns` for the
//! events one may subscribe to.

mod delivery;
mod patterns;
mod webhooks;

pub use delivery::{signature, MAX_FAILED_ATTEMPTS};
pub use patterns::valid as valid_pattern;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::ports::Event;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

static ROUTES: &[Route] = &[
    route(Method::Get, "/v1/webhooks", "webhooks.read", "webhooks.list"),
    route(Method::Post, "/v1/webhooks", "webhooks.write", "webhooks.create"),
    route(Method::Get, "/v1/webhooks/{webhookId}", "webhooks.read", "webhooks.get"),
    route(Method::Put, "/v1/webhooks/{webhookId}", "webhooks.write", "webhooks.update"),
    route(Method::Delete, "/v1/webhooks/{webhookId}", "webhooks.write", "webhooks.delete"),
    route(Method::Patch, "/v1/webhooks/{webhookId}/secret", "webhooks.write", "webhooks.secret"),
];

/// The webhooks routes, and delivery after every write with events.
pub struct Webhooks;

#[async_trait(?Send)]
impl Capability for Webhooks {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        delivery::run_due_without_queue(ctx).await;
        match route.name {
            "webhooks.list" => webhooks::list(ctx).await,
            "webhooks.create" => webhooks::create(ctx).await,
            "webhooks.get" => webhooks::get(ctx).await,
            "webhooks.update" => webhooks::update(ctx).await,
            "webhooks.delete" => webhooks::delete(ctx).await,
            "webhooks.secret" => webhooks::update_secret(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }

    async fn run_job(&self, kind: &str, ctx: &Ctx<'_>) -> Result<bool, AppwriteError> {
        match kind {
            delivery::DELIVER_JOB => delivery::run_queued(ctx).await.map(|()| true),
            "tick" => delivery::tick(ctx).await.map(|()| true),
            _ => Ok(false),
        }
    }

    async fn committed(&self, ctx: &Ctx<'_>, events: &[Event]) {
        delivery::committed(ctx, events).await;
    }
}
