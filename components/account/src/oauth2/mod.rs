//! OAuth2 sign-in (`appwrite-api.md` §4): `GET /account/sessions/oauth2/{provider}` and
//! `/account/tokens/oauth2/{provider}` send the browser to the provider; the provider returns
//! it to `…/oauth2/callback/{provider}/{projectId}` (GET, or POST for `form_post`), which hands
//! it to `…/oauth2/{provider}/redirect`, where the code is exchanged, the user found, linked or
//! created, and the browser sent on to the app with a session (cookies) or a token
//! (`userId` and `secret` for `createSession`).
//!
//! What makes the flow safe: the `state` names a flow stored here (its success and failure
//! URLs, PKCE verifier and nonce) and carries a tag under the project's secret; it is used once
//! (deleted as it is read) and within ten minutes; a flow a browser started finishes only in
//! that browser (a cookie whose hash the flow holds); success and failure URLs must be on the
//! allowed origins; a provider account joins an existing user only when that user started the
//! flow signed in or the provider vouches for the same email; every write of a sign-in is one
//! batch, after every check and every call to the provider.

pub mod settings;
mod support;

use edgewrite_core::abuse::{self, ip_key, Limit};
use edgewrite_core::events::{account_event, publish};
use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use edgewrite_oauth2::{AuthorizeRequest, Exchange, Provider, ProviderUser};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::identities::{self, Identity};
use crate::jwt;
use crate::sessions::new_session;
use crate::store::{secret_hash, session_provider_tokens, user_by, user_write_error};
use crate::targets;
use crate::tokens::Issued;
use crate::transport;
pub(crate) use support::{open_tokens, seal_tokens, token_aad};

/// How long a started sign-in may take.
const FLOW_TTL_MS: i64 = 10 * 60 * 1000;
/// How long the token of the token flow lives: the app exchanges it at once.
const TOKEN_TTL_MS: i64 = 5 * 60 * 1000;

fn browser_cookie_name(project: &str) -> String {
    format!("a_oauth2_{project}")
}

/// The public origin the provider returns the browser to: `EDGEWRITE_PUBLIC_ENDPOINT`'s, or
/// the one the request came to.
fn public_origin(ctx: &Ctx<'_>) -> String {
    if let Some(endpoint) = ctx.ports.secrets.get("EDGEWRITE_PUBLIC_ENDPOINT").filter(|e| !e.is_empty()) {
        let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", &endpoint));
        return format!("{scheme}://{}", rest.split('/').next().unwrap_or_default());
    }
    format!("{}://{}", ctx.request.scheme, ctx.request.authority())
}

fn callback_url(ctx: &Ctx<'_>, provider: Provider, project: &str) -> String {
    format!("{}/v1/account/sessions/oauth2/callback/{}/{project}", public_origin(ctx), provider.name())
}

fn redirect_param(ctx: &Ctx<'_>, name: &str) -> Result<String, AppwriteError> {
    let url = ctx.params.text(name, 2048)?.unwrap_or_default();
    if url.is_empty() {
        // Appwrite falls back to its console's pages; edgewrite has none to land on.
        return Err(AppwriteError::invalid_param(name, "URL is required: the page the browser returns to"));
    }
    if !support::allowed_redirect(ctx, &url) {
        return Err(AppwriteError::invalid_param(
            name,
            "URL must be on one of the deployment's allowed origins (EDGEWRITE_ALLOWED_ORIGINS) or use the app's appwrite-callback-<project> scheme",
        ));
    }
    Ok(url)
}

/// `GET /account/sessions/oauth2/{provider}` and `/account/tokens/oauth2/{provider}`: a 301 to
/// the provider's authorization page.
pub async fn start(ctx: &Ctx<'_>, token_flow: bool) -> Result<Response, AppwriteError> {
    let provider = support::provider_param(ctx)?;
    let kind = if token_flow { "tokens" } else { "sessions" };
    let path = format!("/v1/account/{kind}/oauth2/{}", provider.name());
    abuse::check(ctx, &ip_key(ctx, &path), Limit { max: 50, window_secs: 3600 }).await?;
    let project = ctx.project.ok_or_else(|| AppwriteError::from(ErrorType::ProjectNotFound))?;
    let success = redirect_param(ctx, "success")?;
    let failure = redirect_param(ctx, "failure")?;
    let scopes = ctx.params.string_array("scopes", 4096, &ctx.config.limits)?.unwrap_or_default();
    let config = support::provider_config(ctx, provider).await?;
    let random = |n: usize| {
        let mut bytes = vec![0u8; n];
        ctx.ports.random.fill(&mut bytes);
        support::b64(&bytes)
    };
    let id = random(32);
    let verifier = random(32);
    let nonce = random(16);
    // A browser keeps its binding across flows (two tabs may sign in at once); a server that
    // starts the flow with its key (server-side rendering) hands the URL to its user and is
    // bound to nothing.
    let bind = !matches!(ctx.caller, Caller::App { .. });
    let cookie_name = browser_cookie_name(project);
    let browser =
        ctx.request.cookie(&cookie_name).filter(|v| v.len() == 43).map_or_else(|| random(32), str::to_string);
    let browser_hash = if bind { secret_hash(&browser) } else { Vec::new() };
    let signed_in = ctx.caller.user().map(|u| u.user_id.clone());
    let now = ctx.ports.clock.now_ms();
    let [make_secret, read_secret] = jwt::secret_statements(&ctx.ports);
    let out = ctx
        .ports
        .sql
        .batch(vec![
            make_secret,
            read_secret,
            Statement::new("DELETE FROM oauth2_states WHERE expire <= ?", vec![Value::Integer(now)]),
            Statement::new(
                "INSERT INTO oauth2_states (id_hash, provider, token_flow, success, failure, verifier, nonce, browser_hash, user_id, expire)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    Value::Blob(secret_hash(&id)),
                    provider.name().into(),
                    Value::Integer(i64::from(token_flow)),
                    success.into(),
                    failure.into(),
                    verifier.clone().into(),
                    nonce.clone().into(),
                    Value::Blob(browser_hash),
                    signed_in.map_or(Value::Null, Value::from),
                    Value::Integer(now + FLOW_TTL_MS),
                ],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let secret = jwt::secret_from(out.get(1))?;
    let state = support::sign_state(&secret, project, provider, &id);
    let request = AuthorizeRequest {
        redirect_uri: &callback_url(ctx, provider, project),
        state: &state,
        code_challenge: &support::b64(&secret_hash(&verifier)),
        nonce: &nonce,
        scopes: &scopes,
    };
    let url = edgewrite_oauth2::authorize_url(&support::client(ctx), &config, &request)
        .await
        .map_err(|e| support::provider_error(provider, &e))?;
    let mut response = support::redirect(&url);
    if bind {
        let secure = if ctx.request.scheme == "https" { "; Secure" } else { "" };
        response.headers.append(
            "set-cookie",
            format!(
                "{cookie_name}={browser}; Max-Age={}; Path=/v1/account; HttpOnly; SameSite=Lax{secure}",
                FLOW_TTL_MS / 1000
            ),
        );
    }
    Ok(response)
}

/// `GET` and `POST /account/sessions/oauth2/callback/{provider}/{projectId}`: the provider's
/// answer, handed to the project's `redirect` route (the callback URL names the project in
/// its path, where no SDK header can).
pub async fn callback(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let provider = support::provider_param(ctx)?;
    let project = ctx.params.path("projectId").unwrap_or_default();
    if !edgewrite_core::ids::is_valid_custom_id(project) {
        return Err(AppwriteError::invalid_param("projectId", edgewrite_core::ids::CUSTOM_ID_RULE));
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, max) in
        [("code", 2048), ("state", 2048), ("error", 2048), ("error_description", 2048), ("user", 4096)]
    {
        if let Some(value) = ctx.params.text(name, max)? {
            query.append_pair(name, &value);
        }
    }
    query.append_pair("project", project);
    let location = format!("/v1/account/sessions/oauth2/{}/redirect?{}", provider.name(), query.finish());
    let mut response = support::redirect(&location);
    if ctx.request.method == edgewrite_core::http::Method::Post {
        // A form post (Apple) continues as a GET.
        response.status = 303;
    }
    Ok(response)
}

/// A flow read (and used up) from its `state`.
struct Flow {
    token_flow: bool,
    success: String,
    failure: String,
    verifier: String,
    nonce: String,
    browser_hash: Vec<u8>,
    user_id: Option<String>,
}

fn bad_state() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserOauth2BadRequest,
        "The OAuth2 state is invalid, expired or already used. Start the sign-in again.",
    )
}

/// The flow `state` names, deleted as it is read: a state is good once.
async fn take_flow(ctx: &Ctx<'_>, provider: Provider, project: &str) -> Result<Flow, AppwriteError> {
    let state = ctx.params.text("state", 2048)?.unwrap_or_default();
    let rows = ctx.ports.sql.query(jwt::secret_read_statement()).await.map_err(AppwriteError::internal)?;
    let secret = jwt::secret_from(Some(&rows)).map_err(|_| bad_state())?;
    let id = support::verify_state(&secret, project, provider, &state).ok_or_else(bad_state)?;
    let out = ctx
        .ports
        .sql
        .batch(vec![Statement::new(
            "DELETE FROM oauth2_states WHERE id_hash = ? AND provider = ?
             RETURNING token_flow, success, failure, verifier, nonce, browser_hash, user_id, expire",
            vec![Value::Blob(secret_hash(&id)), provider.name().into()],
        )])
        .await
        .map_err(AppwriteError::internal)?;
    let row = out.first().and_then(|r| r.rows.first()).ok_or_else(bad_state)?;
    let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
    if row.get(7).and_then(Value::as_i64).unwrap_or(0) <= ctx.ports.clock.now_ms() {
        return Err(bad_state());
    }
    Ok(Flow {
        token_flow: row.first().and_then(Value::as_i64) == Some(1),
        success: text(1),
        failure: text(2),
        verifier: text(3),
        nonce: text(4),
        browser_hash: match row.get(5) {
            Some(Value::Blob(b)) => b.clone(),
            _ => Vec::new(),
        },
        user_id: row.get(6).and_then(Value::as_str).map(str::to_string),
    })
}

/// `GET /account/sessions/oauth2/{provider}/redirect`: finishes the sign-in and sends the
/// browser to the success URL, or to the failure URL with Appwrite's `error` parameter.
pub async fn finish(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let provider = support::provider_param(ctx)?;
    let path = format!("/v1/account/sessions/oauth2/{}/redirect", provider.name());
    abuse::check(ctx, &ip_key(ctx, &path), Limit { max: 50, window_secs: 3600 }).await?;
    let project = ctx.project.ok_or_else(|| AppwriteError::from(ErrorType::ProjectNotFound))?;
    let flow = take_flow(ctx, provider, project).await?;
    match sign_in(ctx, provider, project, &flow).await {
        Ok(response) => Ok(response),
        Err(error) => {
            tracing::info!(provider = provider.name(), error = %error.kind.as_str(), "oauth2 sign-in failed");
            Ok(support::failure_redirect(&flow.failure, &error))
        }
    }
}

async fn sign_in(
    ctx: &Ctx<'_>,
    provider: Provider,
    project: &str,
    flow: &Flow,
) -> Result<Response, AppwriteError> {
    if !flow.browser_hash.is_empty() {
        let cookie = ctx.request.cookie(&browser_cookie_name(project)).unwrap_or_default();
        if !bool::from(secret_hash(cookie).ct_eq(&flow.browser_hash)) {
            return Err(AppwriteError::new(
                ErrorType::UserOauth2BadRequest,
                "This sign-in was started in another browser. Start it again here.",
            ));
        }
    }
    let config = support::provider_config(ctx, provider).await?;
    let name = provider.display_name();
    if let Some(error) = ctx.params.text("error", 2048)?.filter(|e| !e.is_empty()) {
        let description = ctx.params.text("error_description", 2048)?.unwrap_or_default();
        let detail = if description.is_empty() { error } else { format!("{error}: {description}") };
        return Err(AppwriteError::new(
            ErrorType::UserOauth2ProviderError,
            format!("The {name} OAuth2 provider returned an error: {detail}"),
        ));
    }
    let code = ctx.params.text("code", 2048)?.unwrap_or_default();
    if code.is_empty() {
        return Err(AppwriteError::new(ErrorType::UserOauth2ProviderError, "Missing OAuth2 code."));
    }
    let apple_user = ctx.params.text("user", 4096)?;
    let exchange = Exchange {
        code: &code,
        redirect_uri: &callback_url(ctx, provider, project),
        verifier: &flow.verifier,
        nonce: &flow.nonce,
        apple_user: apple_user.as_deref(),
    };
    let (grant, who) = edgewrite_oauth2::exchange(&support::client(ctx), &config, &exchange)
        .await
        .map_err(|e| support::provider_error(provider, &e))?;
    let now = ctx.ports.clock.now_ms();
    let (user_id, status, mut batch) = find_or_create_user(ctx, provider, flow, &who).await?;
    if !status {
        return Err(AppwriteError::new(ErrorType::UserBlocked, "The current user has been blocked."));
    }
    let aad = token_aad(provider.name(), &who.id);
    let sealed = seal_tokens(ctx, &aad, &grant.access_token, &grant.refresh_token).await?;
    let expiry = grant.expires_at_ms(now);
    let identity_id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    // The guard holds only if no other user took this provider account meanwhile.
    batch.push(
        Statement::new(
            "INSERT INTO identities (id, user_id, provider, provider_uid, provider_email, provider_tokens, access_token_expiry, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (provider, provider_uid) DO UPDATE SET
               provider_email = excluded.provider_email, provider_tokens = excluded.provider_tokens,
               access_token_expiry = excluded.access_token_expiry, updated_at = excluded.updated_at
             WHERE identities.user_id = excluded.user_id",
            vec![
                identity_id.into(),
                user_id.clone().into(),
                provider.name().into(),
                who.id.clone().into(),
                who.email.clone().unwrap_or_default().into(),
                Value::Blob(sealed.clone()),
                expiry.map_or(Value::Null, Value::Integer),
                Value::Integer(now),
                Value::Integer(now),
            ],
        )
        .expect_changes(1),
    );
    if flow.token_flow {
        let secret = edgewrite_core::ids::random_hex(32, ctx.ports.random);
        let token = Issued::new(ctx, &user_id, secret, TOKEN_TTL_MS, provider.name());
        batch.push(token.row("oauth2"));
        ctx.ports.sql.batch(batch).await.map_err(conflict)?;
        let mut model = token.to_json(ctx);
        model["secret"] = json!("");
        publish(ctx, account_event(&user_id, Some(("tokens", &token.id)), "create", model)).await;
        return Ok(support::redirect(&support::with_query(
            &flow.success,
            &[("userId", &user_id), ("secret", &token.secret)],
        )));
    }
    let (session_statements, mut session, credential) =
        new_session(ctx, &user_id, provider.name(), &who.id, &["email", "oauth2"]);
    batch.extend(session_statements);
    session.provider_token_expiry = expiry;
    batch.push(session_provider_tokens(&session.id, &who.id, Value::Blob(sealed), expiry));
    ctx.ports.sql.batch(batch).await.map_err(conflict)?;
    let event =
        account_event(&user_id, Some(("sessions", &session.id)), "create", session.to_json(false, ""));
    publish(ctx, event.refreshing(format!("user:{user_id}"))).await;
    let mut response = support::redirect(&support::with_query(&flow.success, &[]));
    transport::attach(&mut response, ctx.request, project, &credential, session.expire);
    Ok(response)
}

fn conflict(error: edgewrite_core::ports::StoreError) -> AppwriteError {
    match error {
        edgewrite_core::ports::StoreError::GuardFailed { .. } => already_linked(),
        other => user_write_error(other),
    }
}

fn already_linked() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserAlreadyExists,
        "This provider account is already linked to another user.",
    )
}

/// Whether a user other than `user_id` has `email`.
async fn email_taken_by_other(
    ctx: &Ctx<'_>,
    email: Option<&str>,
    user_id: &str,
) -> Result<bool, AppwriteError> {
    let Some(email) = email else { return Ok(false) };
    Ok(user_by(ctx, "email", email).await?.is_some_and(|u| u.id != user_id))
}

/// Whom the provider account signs in (the user's id and status), and the statements that
/// create that user: the user who started the flow signed in; else the user already holding
/// this provider account; else the user with the same email, only when the provider verified
/// it; else a new user (with the email only when verified).
async fn find_or_create_user(
    ctx: &Ctx<'_>,
    provider: Provider,
    flow: &Flow,
    who: &ProviderUser,
) -> Result<(String, bool, Vec<Statement>), AppwriteError> {
    let linked: Option<Identity> = identities::by_provider_uid(ctx, provider.name(), &who.id).await?;
    let verified_email = who.email.clone().filter(|_| who.email_verified);
    if let Some(owner) = &flow.user_id {
        let user = user_by(ctx, "id", owner).await?.ok_or_else(|| {
            AppwriteError::new(ErrorType::UserNotFound, "The user who started this sign-in is gone.")
        })?;
        if linked.as_ref().is_some_and(|i| i.user_id != user.id)
            || email_taken_by_other(ctx, verified_email.as_deref(), &user.id).await?
        {
            return Err(already_linked());
        }
        return Ok((user.id, user.status, Vec::new()));
    }
    if let Some(identity) = linked {
        let user = user_by(ctx, "id", &identity.user_id)
            .await?
            .ok_or_else(|| AppwriteError::internal("an identity without its user"))?;
        return Ok((user.id, user.status, Vec::new()));
    }
    let Some(email) = who.email.clone() else {
        return Err(AppwriteError::new(
            ErrorType::UserUnauthorized,
            "OAuth provider failed to return email.",
        ));
    };
    if let Some(existing) = user_by(ctx, "email", &email).await? {
        if !who.email_verified {
            return Err(AppwriteError::new(
                ErrorType::GeneralBadRequest,
                format!(
                    "{} did not verify this email address; sign in another way, then link the provider.",
                    provider.display_name()
                ),
            ));
        }
        return Ok((existing.id, existing.status, Vec::new()));
    }
    let now = ctx.ports.clock.now_ms();
    let id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    let mut batch = vec![Statement::new(
        "INSERT INTO users (id, email, name, email_verification, created_at, updated_at, accessed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        vec![
            id.clone().into(),
            verified_email.clone().map_or(Value::Null, Value::from),
            who.name.clone().into(),
            Value::Integer(i64::from(verified_email.is_some())),
            Value::Integer(now),
            Value::Integer(now),
            Value::Integer(now),
        ],
    )];
    batch.extend(targets::sync(ctx, &id, "email", None, verified_email.as_deref()));
    Ok((id, true, batch))
}

/// Refreshes an OAuth2 session's provider tokens (`PATCH /account/sessions/{id}`): the
/// statements that store the new ones, and their expiry.
pub(crate) async fn refresh_statements(
    ctx: &Ctx<'_>,
    session_id: &str,
    provider_name: &str,
    provider_uid: &str,
) -> Result<Option<(Vec<Statement>, Option<i64>)>, AppwriteError> {
    let Some(provider) = Provider::from_name(provider_name) else { return Ok(None) };
    let rows = ctx
        .ports
        .sql
        .query(Statement::new("SELECT provider_tokens FROM sessions WHERE id = ?", vec![session_id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    let Some(Value::Blob(sealed)) = rows.rows.first().and_then(|r| r.first()).cloned() else {
        return Ok(None);
    };
    let aad = token_aad(provider.name(), provider_uid);
    let (_, refresh) = open_tokens(ctx, &aad, &sealed).await?;
    if refresh.is_empty() {
        return Ok(None);
    }
    let config = support::provider_config(ctx, provider).await?;
    let grant = edgewrite_oauth2::refresh(&support::client(ctx), &config, &refresh)
        .await
        .map_err(|e| support::provider_error(provider, &e))?;
    let now = ctx.ports.clock.now_ms();
    let expiry = grant.expires_at_ms(now);
    let sealed = seal_tokens(ctx, &aad, &grant.access_token, &grant.refresh_token).await?;
    let statements = vec![
        session_provider_tokens(session_id, provider_uid, Value::Blob(sealed.clone()), expiry),
        Statement::new(
            "UPDATE identities SET provider_tokens = ?, access_token_expiry = ?, updated_at = ? WHERE provider = ? AND provider_uid = ?",
            vec![
                Value::Blob(sealed),
                expiry.map_or(Value::Null, Value::Integer),
                Value::Integer(now),
                provider.name().into(),
                provider_uid.into(),
            ],
        ),
    ];
    Ok(Some((statements, expiry)))
}
