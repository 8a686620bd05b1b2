//! Appwrite's Messaging (`/v1/messaging`; `appwrite-api.md` §8.2): providers of email (SMTP,
//! Mailgun, SendGrid, Resend, Postmark, Amazon SES), SMS (Twilio, Vonage, Textmagic, Telesign,
//! MSG91) and push (FCM, APNs) with their secrets sealed at rest; topics and their subscribers;
//! messages delivered outside the request (a queued job, the cron tick for schedules), one
//! request per target in each provider's own wire protocol.

mod credentials;
mod delivery;
mod messages;
mod providers;
mod topics;
pub mod wire;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

macro_rules! provider_routes {
    ($($kind:literal),*) => {
        [$(
            route(Method::Post, concat!("/v1/messaging/providers/", $kind), "providers.write", concat!("providers.create.", $kind)),
            route(Method::Patch, concat!("/v1/messaging/providers/", $kind, "/{providerId}"), "providers.write", concat!("providers.update.", $kind)),
        )*]
    };
}

static PROVIDER_ROUTES: [Route; 26] = provider_routes!(
    "smtp",
    "mailgun",
    "sendgrid",
    "resend",
    "postmark",
    "ses",
    "twilio",
    "vonage",
    "textmagic",
    "telesign",
    "msg91",
    "fcm",
    "apns"
);

static ROUTES: &[Route] = &[
    route(Method::Get, "/v1/messaging/providers", "providers.read", "providers.list"),
    route(Method::Get, "/v1/messaging/providers/{providerId}", "providers.read", "providers.get"),
    route(Method::Delete, "/v1/messaging/providers/{providerId}", "providers.write", "providers.delete"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`). Not under
    // `providers/{providerId}/…`, which a kind's update route (`providers/smtp/{providerId}`)
    // would take for a provider whose id is a kind's name.
    route(
        Method::Patch,
        "/v1/messaging/system-fields/providers/{providerId}",
        "migrations.write",
        "providers.system_fields",
    ),
    route(Method::Get, "/v1/messaging/topics", "topics.read", "topics.list"),
    route(Method::Post, "/v1/messaging/topics", "topics.write", "topics.create"),
    route(Method::Get, "/v1/messaging/topics/{topicId}", "topics.read", "topics.get"),
    route(Method::Patch, "/v1/messaging/topics/{topicId}", "topics.write", "topics.update"),
    route(Method::Delete, "/v1/messaging/topics/{topicId}", "topics.write", "topics.delete"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(
        Method::Patch,
        "/v1/messaging/topics/{topicId}/system-fields",
        "migrations.write",
        "topics.system_fields",
    ),
    route(Method::Get, "/v1/messaging/topics/{topicId}/subscribers", "subscribers.read", "subscribers.list"),
    route(
        Method::Post,
        "/v1/messaging/topics/{topicId}/subscribers",
        "subscribers.write",
        "subscribers.create",
    ),
    route(
        Method::Get,
        "/v1/messaging/topics/{topicId}/subscribers/{subscriberId}",
        "subscribers.read",
        "subscribers.get",
    ),
    route(
        Method::Delete,
        "/v1/messaging/topics/{topicId}/subscribers/{subscriberId}",
        "subscribers.write",
        "subscribers.delete",
    ),
    route(Method::Get, "/v1/messaging/messages", "messages.read", "messages.list"),
    route(Method::Post, "/v1/messaging/messages/email", "messages.write", "messages.create.email"),
    route(Method::Post, "/v1/messaging/messages/sms", "messages.write", "messages.create.sms"),
    route(Method::Post, "/v1/messaging/messages/push", "messages.write", "messages.create.push"),
    route(
        Method::Patch,
        "/v1/messaging/messages/email/{messageId}",
        "messages.write",
        "messages.update.email",
    ),
    route(Method::Patch, "/v1/messaging/messages/sms/{messageId}", "messages.write", "messages.update.sms"),
    route(Method::Patch, "/v1/messaging/messages/push/{messageId}", "messages.write", "messages.update.push"),
    route(Method::Get, "/v1/messaging/messages/{messageId}", "messages.read", "messages.get"),
    route(Method::Delete, "/v1/messaging/messages/{messageId}", "messages.write", "messages.delete"),
    route(Method::Get, "/v1/messaging/messages/{messageId}/targets", "messages.read", "messages.targets"),
];

/// Every route: the shared ones, then one create and one update per provider kind.
static ALL_ROUTES: std::sync::LazyLock<Vec<Route>> = std::sync::LazyLock::new(|| {
    let mut all = ROUTES.to_vec();
    all.extend(PROVIDER_ROUTES.iter().cloned());
    all
});

/// Providers, topics, subscribers and messages.
pub struct Messaging;

#[async_trait(?Send)]
impl Capability for Messaging {
    fn routes(&self) -> &'static [Route] {
        ALL_ROUTES.as_slice()
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let name = route.name;
        // Without a cron tick (Spin) a scheduled message that is due goes out with the next
        // messaging request (one per request), as does a delivery whose run was lost.
        if !ctx.ports.jobs.queues() {
            if let Err(error) = delivery::tick(ctx).await {
                tracing::warn!(error = %error.message, "sending due messages");
            }
        }
        match name {
            "providers.list" => providers::list(ctx).await,
            "providers.get" => providers::get(ctx).await,
            "providers.delete" => providers::delete(ctx).await,
            "providers.system_fields" => providers::restore(ctx).await,
            _ if name.starts_with("providers.create.") => providers::save(ctx, name, true).await,
            _ if name.starts_with("providers.update.") => providers::save(ctx, name, false).await,
            "topics.list" => topics::list(ctx).await,
            "topics.create" => topics::create(ctx).await,
            "topics.get" => topics::get(ctx).await,
            "topics.update" => topics::update(ctx).await,
            "topics.system_fields" => topics::restore(ctx).await,
            "topics.delete" => topics::delete(ctx).await,
            "subscribers.list" => topics::list_subscribers(ctx).await,
            "subscribers.create" => topics::subscribe(ctx).await,
            "subscribers.get" => topics::get_subscriber(ctx).await,
            "subscribers.delete" => topics::unsubscribe(ctx).await,
            "messages.list" => messages::list(ctx).await,
            "messages.get" => messages::get(ctx).await,
            "messages.delete" => messages::delete(ctx).await,
            "messages.targets" => messages::targets(ctx).await,
            _ if name.starts_with("messages.create.") => {
                messages::create(ctx, name.trim_start_matches("messages.create.")).await
            }
            _ if name.starts_with("messages.update.") => {
                messages::update(ctx, name.trim_start_matches("messages.update.")).await
            }
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
}
