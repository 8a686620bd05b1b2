//! Appwrite's Account service (`appwrite-api.md` §4) and the session verification every other
//! capability relies on ([`AccountAuthenticator`]).

mod account;
mod auth;
mod events;
mod identities;
mod imported;
mod jwt;
mod keys;
mod list;
mod messages;
mod mfa;
mod oauth2;
pub mod password;
mod sessions;
mod store;
mod system_fields;
mod targets;
mod teams;
mod tokens;
mod transport;
mod users;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

pub use account::valid_email;
pub use auth::{reload_caller, AccountAuthenticator};
pub use keys::{dynamic_key as function_key, dynamic_key_statements as function_key_statements};
pub use targets::{by_id as target, by_ids as targets_by_ids, Target};

/// The Account model of `user_id` (as `GET /account` answers it), for the realtime frames that
/// name the connection's user; `None` if there is no such user.
pub async fn account_model(
    ports: &edgewrite_core::ports::Ports<'_>,
    user_id: &str,
) -> Option<serde_json::Value> {
    let rows = ports.sql.query(store::select_user(user_id)).await.ok()?;
    let user = store::User::first(&rows)?;
    let mut targets = targets::of_users(ports.sql, &[&user.id]).await.ok()?;
    Some(user.to_json_with(&targets.remove(&user.id).unwrap_or_default(), false))
}

/// The account capability.
pub struct Account;

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

static ROUTES: &[Route] = &[
    route(Method::Post, "/v1/account", "sessions.write", "account.create"),
    route(Method::Get, "/v1/account", "account", "account.get"),
    route(Method::Delete, "/v1/account", "account", "account.delete"),
    route(Method::Patch, "/v1/account/name", "account", "account.name"),
    route(Method::Patch, "/v1/account/email", "account", "account.email"),
    route(Method::Patch, "/v1/account/phone", "account", "account.phone"),
    route(Method::Patch, "/v1/account/password", "account", "account.password"),
    route(Method::Get, "/v1/account/prefs", "account", "account.prefs.get"),
    route(Method::Patch, "/v1/account/prefs", "account", "account.prefs.update"),
    route(Method::Patch, "/v1/account/status", "account", "account.status"),
    route(Method::Post, "/v1/account/targets/push", "targets.write", "account.targets.push.create"),
    route(Method::Put, "/v1/account/targets/{targetId}/push", "targets.write", "account.targets.push.update"),
    route(
        Method::Delete,
        "/v1/account/targets/{targetId}/push",
        "targets.write",
        "account.targets.push.delete",
    ),
    // The provider's callback names the project in its path: it needs none from the request.
    Route {
        method: Method::Get,
        path: "/v1/account/sessions/oauth2/callback/{provider}/{projectId}",
        scope: Some("public"),
        needs_project: false,
        name: "oauth2.callback",
    },
    Route {
        method: Method::Post,
        path: "/v1/account/sessions/oauth2/callback/{provider}/{projectId}",
        scope: Some("public"),
        needs_project: false,
        name: "oauth2.callback",
    },
    route(Method::Get, "/v1/account/sessions/oauth2/{provider}/redirect", "public", "oauth2.redirect"),
    route(Method::Get, "/v1/account/sessions/oauth2/{provider}", "sessions.write", "oauth2.session"),
    route(Method::Get, "/v1/account/tokens/oauth2/{provider}", "sessions.write", "oauth2.token"),
    route(Method::Post, "/v1/account/sessions/email", "sessions.write", "sessions.email"),
    route(Method::Post, "/v1/account/sessions/anonymous", "sessions.write", "sessions.anonymous"),
    route(Method::Post, "/v1/account/sessions/token", "sessions.write", "sessions.token"),
    // Deprecated aliases of `POST /account/sessions/token`.
    route(Method::Put, "/v1/account/sessions/magic-url", "sessions.write", "sessions.token"),
    route(Method::Put, "/v1/account/sessions/phone", "sessions.write", "sessions.token"),
    route(Method::Post, "/v1/account/tokens/email", "sessions.write", "tokens.email"),
    route(Method::Post, "/v1/account/tokens/magic-url", "sessions.write", "tokens.magic_url"),
    route(Method::Post, "/v1/account/tokens/phone", "sessions.write", "tokens.phone"),
    route(Method::Post, "/v1/account/recovery", "sessions.write", "recovery.create"),
    route(Method::Put, "/v1/account/recovery", "sessions.write", "recovery.update"),
    route(Method::Post, "/v1/account/verifications/email", "account", "verification.email.create"),
    route(Method::Post, "/v1/account/verification", "account", "verification.email.create"),
    route(Method::Put, "/v1/account/verifications/email", "public", "verification.email.update"),
    route(Method::Put, "/v1/account/verification", "public", "verification.email.update"),
    route(Method::Post, "/v1/account/verifications/phone", "account", "verification.phone.create"),
    route(Method::Post, "/v1/account/verification/phone", "account", "verification.phone.create"),
    route(Method::Put, "/v1/account/verifications/phone", "public", "verification.phone.update"),
    route(Method::Put, "/v1/account/verification/phone", "public", "verification.phone.update"),
    route(Method::Get, "/v1/account/sessions", "account", "sessions.list"),
    route(Method::Delete, "/v1/account/sessions", "account", "sessions.delete_all"),
    route(Method::Get, "/v1/account/sessions/{sessionId}", "account", "sessions.get"),
    route(Method::Patch, "/v1/account/sessions/{sessionId}", "account", "sessions.extend"),
    route(Method::Delete, "/v1/account/sessions/{sessionId}", "account", "sessions.delete"),
    route(Method::Post, "/v1/account/jwts", "account", "jwts.create"),
    route(Method::Patch, "/v1/account/mfa", "account", "mfa.update"),
    route(Method::Get, "/v1/account/mfa/factors", "account", "mfa.factors"),
    route(Method::Post, "/v1/account/mfa/authenticators/{type}", "account", "mfa.authenticator.create"),
    route(Method::Put, "/v1/account/mfa/authenticators/{type}", "account", "mfa.authenticator.verify"),
    route(Method::Delete, "/v1/account/mfa/authenticators/{type}", "account", "mfa.authenticator.delete"),
    route(Method::Post, "/v1/account/mfa/challenges", "account", "mfa.challenge.create"),
    route(Method::Put, "/v1/account/mfa/challenges", "account", "mfa.challenge.update"),
    route(Method::Post, "/v1/account/mfa/challenge", "account", "mfa.challenge.create"),
    route(Method::Put, "/v1/account/mfa/challenge", "account", "mfa.challenge.update"),
    route(Method::Post, "/v1/account/mfa/recovery-codes", "account", "mfa.recovery.create"),
    route(Method::Get, "/v1/account/mfa/recovery-codes", "account", "mfa.recovery.get"),
    route(Method::Patch, "/v1/account/mfa/recovery-codes", "account", "mfa.recovery.regenerate"),
    route(Method::Get, "/v1/account/identities", "account", "identities.list"),
    route(Method::Delete, "/v1/account/identities/{identityId}", "account", "identities.delete"),
];

/// Routes an impersonator may not use as the target: they would let it keep the account
/// (credentials, second factors, tokens that outlive the impersonation) or act on sessions,
/// which stay the impersonator's own.
fn takes_over(route: &str) -> bool {
    matches!(
        route,
        "account.email"
            | "account.phone"
            | "account.password"
            | "account.status"
            | "jwts.create"
            | "sessions.delete_all"
            | "sessions.delete"
            | "sessions.extend"
            | "identities.delete"
    ) || route.starts_with("mfa.")
}

#[async_trait(?Send)]
impl Capability for Account {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        if ctx.caller.user().is_some_and(|u| u.impersonated_by.is_some()) && takes_over(route.name) {
            return Err(AppwriteError::new(
                ErrorType::UserUnauthorized,
                "An impersonated request cannot change how the user signs in.",
            ));
        }
        let response = match route.name {
            "account.create" => account::create(ctx).await,
            "account.get" => account::get(ctx).await,
            "account.delete" => account::delete(ctx).await,
            "account.name" => account::update_name(ctx).await,
            "account.email" => account::update_email(ctx).await,
            "account.phone" => account::update_phone(ctx).await,
            "account.password" => account::update_password(ctx).await,
            "account.prefs.get" => account::get_prefs(ctx).await,
            "account.prefs.update" => account::update_prefs(ctx).await,
            "account.status" => account::block(ctx).await,
            "account.targets.push.create" => targets::create_push(ctx).await,
            "account.targets.push.update" => targets::update_push(ctx).await,
            "account.targets.push.delete" => targets::delete_push(ctx).await,
            "sessions.email" => sessions::create_email(ctx).await,
            "sessions.anonymous" => sessions::create_anonymous(ctx).await,
            "sessions.token" => sessions::create_from_token(ctx).await,
            "tokens.email" => tokens::create_email_token(ctx, false).await,
            "tokens.magic_url" => tokens::create_email_token(ctx, true).await,
            "tokens.phone" => tokens::create_phone_token(ctx).await,
            "recovery.create" => tokens::create_recovery(ctx).await,
            "recovery.update" => tokens::update_recovery(ctx).await,
            "verification.email.create" => tokens::create_email_verification(ctx).await,
            "verification.email.update" => tokens::complete_verification(ctx, false).await,
            "verification.phone.create" => tokens::create_phone_verification(ctx).await,
            "verification.phone.update" => tokens::complete_verification(ctx, true).await,
            "sessions.list" => sessions::list(ctx).await,
            "sessions.delete_all" => sessions::delete_all(ctx).await,
            "sessions.get" => sessions::get(ctx).await,
            "sessions.extend" => sessions::extend(ctx).await,
            "sessions.delete" => sessions::delete(ctx).await,
            "jwts.create" => sessions::create_jwt(ctx).await,
            "mfa.update" => mfa::update_mfa(ctx).await,
            "mfa.factors" => mfa::list_factors(ctx).await,
            "mfa.authenticator.create" => mfa::create_authenticator(ctx).await,
            "mfa.authenticator.verify" => mfa::verify_authenticator(ctx).await,
            "mfa.authenticator.delete" => mfa::delete_authenticator(ctx).await,
            "mfa.challenge.create" => mfa::create_challenge(ctx).await,
            "mfa.challenge.update" => mfa::complete_challenge(ctx).await,
            "mfa.recovery.create" => mfa::create_recovery_codes(ctx).await,
            "mfa.recovery.get" => mfa::get_recovery_codes(ctx).await,
            "mfa.recovery.regenerate" => mfa::regenerate_recovery_codes(ctx).await,
            "identities.list" => identities::list_own(ctx).await,
            "identities.delete" => identities::delete_own(ctx).await,
            "oauth2.session" => oauth2::start(ctx, false).await,
            "oauth2.token" => oauth2::start(ctx, true).await,
            "oauth2.callback" => oauth2::callback(ctx).await,
            "oauth2.redirect" => oauth2::finish(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        };
        if let Ok(response) = &response {
            events::announce(route, ctx, response).await;
        }
        response
    }
}

/// Users, for servers with an API key (`/v1/users`).
pub struct Users;

static USER_ROUTES: &[Route] = &[
    // Fixed paths before `{userId}`, which would match them too.
    route(Method::Get, "/v1/users/identities", "users.read", "identities.list"),
    route(Method::Delete, "/v1/users/identities/{identityId}", "users.write", "identities.delete"),
    route(Method::Get, "/v1/users", "users.read", "users.list"),
    route(Method::Post, "/v1/users", "users.write", "users.create"),
    route(Method::Post, "/v1/users/argon2", "users.write", "users.create.argon2"),
    route(Method::Post, "/v1/users/bcrypt", "users.write", "users.create.bcrypt"),
    route(Method::Post, "/v1/users/md5", "users.write", "users.create.md5"),
    route(Method::Post, "/v1/users/sha", "users.write", "users.create.sha"),
    route(Method::Post, "/v1/users/phpass", "users.write", "users.create.phpass"),
    route(Method::Post, "/v1/users/scrypt", "users.write", "users.create.scrypt"),
    route(Method::Post, "/v1/users/scrypt-modified", "users.write", "users.create.scrypt-modified"),
    route(Method::Get, "/v1/users/{userId}", "users.read", "users.get"),
    route(Method::Delete, "/v1/users/{userId}", "users.write", "users.delete"),
    route(Method::Patch, "/v1/users/{userId}/name", "users.write", "users.name"),
    route(Method::Patch, "/v1/users/{userId}/email", "users.write", "users.email"),
    route(Method::Patch, "/v1/users/{userId}/phone", "users.write", "users.phone"),
    route(Method::Patch, "/v1/users/{userId}/password", "users.write", "users.password"),
    route(Method::Patch, "/v1/users/{userId}/status", "users.write", "users.status"),
    route(Method::Put, "/v1/users/{userId}/labels", "users.write", "users.labels"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(Method::Patch, "/v1/users/{userId}/system-fields", "migrations.write", "users.system_fields"),
    route(Method::Patch, "/v1/users/{userId}/verification", "users.write", "users.verification"),
    route(Method::Patch, "/v1/users/{userId}/verification/phone", "users.write", "users.verification.phone"),
    route(Method::Patch, "/v1/users/{userId}/mfa", "users.write", "users.mfa"),
    route(Method::Patch, "/v1/users/{userId}/impersonator", "users.write", "users.impersonator"),
    route(Method::Get, "/v1/users/{userId}/mfa/factors", "users.read", "users.mfa.factors"),
    route(
        Method::Delete,
        "/v1/users/{userId}/mfa/authenticators/{type}",
        "users.write",
        "users.mfa.authenticator.delete",
    ),
    route(Method::Get, "/v1/users/{userId}/mfa/recovery-codes", "users.read", "users.mfa.recovery.get"),
    route(Method::Patch, "/v1/users/{userId}/mfa/recovery-codes", "users.write", "users.mfa.recovery.create"),
    route(
        Method::Put,
        "/v1/users/{userId}/mfa/recovery-codes",
        "users.write",
        "users.mfa.recovery.regenerate",
    ),
    route(Method::Get, "/v1/users/{userId}/prefs", "users.read", "users.prefs.get"),
    route(Method::Patch, "/v1/users/{userId}/prefs", "users.write", "users.prefs.update"),
    route(Method::Get, "/v1/users/{userId}/sessions", "users.read", "users.sessions.list"),
    route(Method::Post, "/v1/users/{userId}/sessions", "users.write", "users.sessions.create"),
    route(Method::Delete, "/v1/users/{userId}/sessions", "users.write", "users.sessions.delete_all"),
    route(Method::Delete, "/v1/users/{userId}/sessions/{sessionId}", "users.write", "users.sessions.delete"),
    route(Method::Post, "/v1/users/{userId}/tokens", "users.write", "users.tokens.create"),
    route(Method::Post, "/v1/users/{userId}/jwts", "users.write", "users.jwts.create"),
    route(Method::Get, "/v1/users/{userId}/memberships", "users.read", "users.memberships"),
    route(Method::Get, "/v1/users/{userId}/targets", "targets.read", "targets.list"),
    route(Method::Post, "/v1/users/{userId}/targets", "targets.write", "targets.create"),
    route(Method::Get, "/v1/users/{userId}/targets/{targetId}", "targets.read", "targets.get"),
    route(Method::Patch, "/v1/users/{userId}/targets/{targetId}", "targets.write", "targets.update"),
    route(Method::Delete, "/v1/users/{userId}/targets/{targetId}", "targets.write", "targets.delete"),
];

#[async_trait(?Send)]
impl Capability for Users {
    fn routes(&self) -> &'static [Route] {
        USER_ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        // `targets.*` is also a user scope; these routes are the server's.
        if !matches!(ctx.caller, edgewrite_core::identity::Caller::App { .. }) {
            // A signed-in user reaches these only as an impersonator choosing a target
            // (`users.read`), and then only the user itself, its preferences and memberships:
            // never recovery codes, sessions, factors or identities of others.
            let browsing =
                matches!(route.name, "users.list" | "users.get" | "users.prefs.get" | "users.memberships");
            let scope = if browsing { "users.read" } else { "users.write" };
            ctx.caller.require_scope(scope, ctx.project.unwrap_or(""), &ctx.request.host)?;
        }
        let response = match route.name {
            "identities.list" => identities::list_all(ctx).await,
            "identities.delete" => identities::delete_any(ctx).await,
            "users.list" => users::list(ctx).await,
            "users.create" => users::create(ctx).await,
            "users.create.argon2" => users::create_imported(ctx, "argon2").await,
            "users.create.bcrypt" => users::create_imported(ctx, "bcrypt").await,
            "users.create.md5" => users::create_imported(ctx, "md5").await,
            "users.create.sha" => users::create_imported(ctx, "sha").await,
            "users.create.phpass" => users::create_imported(ctx, "phpass").await,
            "users.create.scrypt" => users::create_imported(ctx, "scrypt").await,
            "users.create.scrypt-modified" => users::create_imported(ctx, "scrypt-modified").await,
            "users.get" => users::get(ctx).await,
            "users.delete" => users::delete(ctx).await,
            "users.name" => users::update_name(ctx).await,
            "users.email" => users::update_email(ctx).await,
            "users.phone" => users::update_phone(ctx).await,
            "users.password" => users::update_password(ctx).await,
            "users.status" => users::update_status(ctx).await,
            "users.labels" => users::update_labels(ctx).await,
            "users.system_fields" => system_fields::restore_user(ctx).await,
            "users.verification" => users::update_email_verification(ctx).await,
            "users.verification.phone" => users::update_phone_verification(ctx).await,
            "users.mfa" => users::update_mfa(ctx).await,
            "users.impersonator" => users::update_impersonator(ctx).await,
            "users.mfa.factors" => mfa::list_user_factors(ctx).await,
            "users.mfa.authenticator.delete" => mfa::delete_user_authenticator(ctx).await,
            "users.mfa.recovery.get" => mfa::get_user_recovery_codes(ctx).await,
            "users.mfa.recovery.create" => mfa::create_user_recovery_codes(ctx).await,
            "users.mfa.recovery.regenerate" => mfa::regenerate_user_recovery_codes(ctx).await,
            "users.prefs.get" => users::get_prefs(ctx).await,
            "users.prefs.update" => users::update_prefs(ctx).await,
            "users.sessions.list" => users::list_sessions(ctx).await,
            "users.sessions.create" => users::create_session(ctx).await,
            "users.sessions.delete_all" => users::delete_sessions(ctx).await,
            "users.sessions.delete" => users::delete_session(ctx).await,
            "users.tokens.create" => users::create_token(ctx).await,
            "users.jwts.create" => users::create_jwt(ctx).await,
            "users.memberships" => teams::list_user_memberships(ctx).await,
            "targets.list" => targets::list(ctx).await,
            "targets.create" => targets::create(ctx).await,
            "targets.get" => targets::get(ctx).await,
            "targets.update" => targets::update(ctx).await,
            "targets.delete" => targets::delete(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        };
        if let Ok(response) = &response {
            events::announce(route, ctx, response).await;
        }
        response
    }
}

/// Teams and memberships (`/v1/teams`), for signed-in users and API keys.
pub struct Teams;

static TEAM_ROUTES: &[Route] = &[
    route(Method::Get, "/v1/teams", "teams.read", "teams.list"),
    route(Method::Post, "/v1/teams", "teams.write", "teams.create"),
    route(Method::Get, "/v1/teams/{teamId}", "teams.read", "teams.get"),
    route(Method::Put, "/v1/teams/{teamId}", "teams.write", "teams.update"),
    route(Method::Delete, "/v1/teams/{teamId}", "teams.write", "teams.delete"),
    route(Method::Get, "/v1/teams/{teamId}/prefs", "teams.read", "teams.prefs.get"),
    route(Method::Put, "/v1/teams/{teamId}/prefs", "teams.write", "teams.prefs.update"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(Method::Patch, "/v1/teams/{teamId}/system-fields", "migrations.write", "teams.system_fields"),
    route(Method::Get, "/v1/teams/{teamId}/memberships", "teams.read", "memberships.list"),
    route(Method::Post, "/v1/teams/{teamId}/memberships", "teams.write", "memberships.create"),
    route(Method::Get, "/v1/teams/{teamId}/memberships/{membershipId}", "teams.read", "memberships.get"),
    route(
        Method::Patch,
        "/v1/teams/{teamId}/memberships/{membershipId}",
        "teams.write",
        "memberships.update",
    ),
    route(
        Method::Delete,
        "/v1/teams/{teamId}/memberships/{membershipId}",
        "teams.write",
        "memberships.delete",
    ),
    // The invitee is usually not signed in yet: `public`, as in Appwrite.
    route(
        Method::Patch,
        "/v1/teams/{teamId}/memberships/{membershipId}/status",
        "public",
        "memberships.status",
    ),
];

#[async_trait(?Send)]
impl Capability for Teams {
    fn routes(&self) -> &'static [Route] {
        TEAM_ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let response = match route.name {
            "teams.list" => teams::list(ctx).await,
            "teams.create" => teams::create(ctx).await,
            "teams.get" => teams::get(ctx).await,
            "teams.update" => teams::update_name(ctx).await,
            "teams.delete" => teams::delete(ctx).await,
            "teams.prefs.get" => teams::get_prefs(ctx).await,
            "teams.prefs.update" => teams::update_prefs(ctx).await,
            "teams.system_fields" => system_fields::restore_team(ctx).await,
            "memberships.list" => teams::list_memberships(ctx).await,
            "memberships.create" => teams::create_membership(ctx).await,
            "memberships.get" => teams::get_membership(ctx).await,
            "memberships.update" => teams::update_membership(ctx).await,
            "memberships.delete" => teams::delete_membership(ctx).await,
            "memberships.status" => teams::update_membership_status(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        };
        if let Ok(response) = &response {
            events::announce(route, ctx, response).await;
        }
        response
    }
}

/// The project's OAuth2 provider settings (`/v1/project/oauth2…`, `oauth2::settings`).
pub struct ProjectOAuth2;

static OAUTH2_SETTINGS_ROUTES: &[Route] = &[
    route(Method::Get, "/v1/project/oauth2", "project.oauth2.read", "oauth2.settings.list"),
    route(Method::Get, "/v1/project/oauth2/{provider}", "project.oauth2.read", "oauth2.settings.get"),
    route(Method::Patch, "/v1/project/oauth2/{provider}", "project.oauth2.write", "oauth2.settings.update"),
];

#[async_trait(?Send)]
impl Capability for ProjectOAuth2 {
    fn routes(&self) -> &'static [Route] {
        OAUTH2_SETTINGS_ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        match route.name {
            "oauth2.settings.list" => oauth2::settings::list(ctx).await,
            "oauth2.settings.get" => oauth2::settings::get(ctx).await,
            "oauth2.settings.update" => oauth2::settings::update(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}

/// The project's API keys (`/v1/project/keys`, the node SDK's `Project` service).
pub struct ProjectKeys;

/// Key management takes `keys.read|write` (node-appwrite's scope names) or the older
/// `project.read|write`; the handler checks, since a route names one scope.
const fn key_route(method: Method, path: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: None, needs_project: true, name }
}

static KEY_ROUTES: &[Route] = &[
    key_route(Method::Get, "/v1/project/keys", "keys.list"),
    key_route(Method::Post, "/v1/project/keys", "keys.create"),
    key_route(Method::Get, "/v1/project/keys/{keyId}", "keys.get"),
    key_route(Method::Put, "/v1/project/keys/{keyId}", "keys.update"),
    key_route(Method::Delete, "/v1/project/keys/{keyId}", "keys.delete"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(Method::Patch, "/v1/project/keys/{keyId}/system-fields", "migrations.write", "keys.system_fields"),
];

#[async_trait(?Send)]
impl Capability for ProjectKeys {
    fn routes(&self) -> &'static [Route] {
        KEY_ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let (keys, project) = if route.method == Method::Get {
            ("keys.read", "project.read")
        } else {
            ("keys.write", "project.write")
        };
        if !ctx.caller.has_scope(project) {
            ctx.caller.require_scope(keys, ctx.project.unwrap_or(""), &ctx.request.host)?;
        }
        match route.name {
            "keys.list" => keys::list(ctx).await,
            "keys.create" => keys::create(ctx).await,
            "keys.get" => keys::get(ctx).await,
            "keys.update" => keys::update(ctx).await,
            "keys.delete" => keys::delete(ctx).await,
            "keys.system_fields" => system_fields::restore_key(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}
