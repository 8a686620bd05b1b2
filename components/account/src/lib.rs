//! Appwrite's Account service (`appwrite-api.md` §4) and the session verification every other
//! capability relies on ([`AccountSessions`]).

mod account;
mod auth;
mod imported;
mod jwt;
pub mod password;
mod sessions;
mod store;
mod transport;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

pub use auth::AccountSessions;

/// The account capability.
pub struct Account;

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

static ROUTES: &[Route] = &[
    route(Method::Post, "/v1/account", "sessions.write", "account.create"),
    route(Method::Get, "/v1/account", "account", "account.get"),
    route(Method::Patch, "/v1/account/name", "account", "account.name"),
    route(Method::Patch, "/v1/account/email", "account", "account.email"),
    route(Method::Patch, "/v1/account/phone", "account", "account.phone"),
    route(Method::Patch, "/v1/account/password", "account", "account.password"),
    route(Method::Get, "/v1/account/prefs", "account", "account.prefs.get"),
    route(Method::Patch, "/v1/account/prefs", "account", "account.prefs.update"),
    route(Method::Patch, "/v1/account/status", "account", "account.status"),
    route(Method::Post, "/v1/account/sessions/email", "sessions.write", "sessions.email"),
    route(Method::Post, "/v1/account/sessions/anonymous", "sessions.write", "sessions.anonymous"),
    route(Method::Get, "/v1/account/sessions", "account", "sessions.list"),
    route(Method::Delete, "/v1/account/sessions", "account", "sessions.delete_all"),
    route(Method::Get, "/v1/account/sessions/{sessionId}", "account", "sessions.get"),
    route(Method::Patch, "/v1/account/sessions/{sessionId}", "account", "sessions.extend"),
    route(Method::Delete, "/v1/account/sessions/{sessionId}", "account", "sessions.delete"),
    route(Method::Post, "/v1/account/jwts", "account", "jwts.create"),
    route(Method::Get, "/v1/account/identities", "account", "identities.list"),
    route(Method::Delete, "/v1/account/identities/{identityId}", "account", "identities.delete"),
];

#[async_trait(?Send)]
impl Capability for Account {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        match route.name {
            "account.create" => account::create(ctx).await,
            "account.get" => account::get(ctx).await,
            "account.name" => account::update_name(ctx).await,
            "account.email" => account::update_email(ctx).await,
            "account.phone" => account::update_phone(ctx).await,
            "account.password" => account::update_password(ctx).await,
            "account.prefs.get" => account::get_prefs(ctx).await,
            "account.prefs.update" => account::update_prefs(ctx).await,
            "account.status" => account::block(ctx).await,
            "sessions.email" => sessions::create_email(ctx).await,
            "sessions.anonymous" => sessions::create_anonymous(ctx).await,
            "sessions.list" => sessions::list(ctx).await,
            "sessions.delete_all" => sessions::delete_all(ctx).await,
            "sessions.get" => sessions::get(ctx).await,
            "sessions.extend" => sessions::extend(ctx).await,
            "sessions.delete" => sessions::delete(ctx).await,
            "jwts.create" => sessions::create_jwt(ctx).await,
            "identities.list" => account::list_identities(ctx).await,
            "identities.delete" => account::delete_identity(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}
