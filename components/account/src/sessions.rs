//! `/v1/account/sessions*` and `/v1/account/jwts` (`appwrite-api.md` §4): email-password and
//! anonymous sessions, listing, extending and ending them, and JWTs.

use edgewrite_core::abuse::{self, ip_key, url_key, Limit};
use edgewrite_core::identity::{Caller, SessionCredential};
use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::json;

use crate::account::{current_user, valid_email};
use crate::jwt;
use crate::password;
use crate::store::{secret_hash, Session, User, SESSION_COLUMNS, USER_COLUMNS};
use crate::transport;

fn already_signed_in(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    if matches!(ctx.caller, Caller::User(_)) {
        return Err(AppwriteError::new(
            ErrorType::UserSessionAlreadyExists,
            "Creation of a session is prohibited when a session is active.",
        ));
    }
    Ok(())
}

/// The `User-Agent` a session is named by: a server (API key) acting for a browser passes the
/// browser's in `X-Forwarded-User-Agent`, as node-appwrite's SSR does; anyone else's own.
fn user_agent<'a>(ctx: &'a Ctx<'_>) -> &'a str {
    let forwarded = matches!(ctx.caller, edgewrite_core::identity::Caller::App { .. })
        .then(|| ctx.request.header("x-forwarded-user-agent"))
        .flatten();
    forwarded.or(ctx.request.header("user-agent")).unwrap_or("")
}

/// A new session for `user_id`: the statements that store it (and trim the user's oldest
/// sessions beyond the limit), the session, and its encoded credential.
pub(crate) fn new_session(
    ctx: &Ctx<'_>,
    user_id: &str,
    provider: &str,
    provider_uid: &str,
    factors: &[&str],
) -> (Vec<Statement>, Session, String) {
    let now = ctx.ports.clock.now_ms();
    let secret = edgewrite_core::ids::random_hex(32, ctx.ports.random);
    let session = Session {
        id: edgewrite_core::ids::unique_id(now, ctx.ports.random),
        user_id: user_id.to_string(),
        provider: provider.to_string(),
        provider_uid: provider_uid.to_string(),
        factors: factors.iter().map(|f| f.to_string()).collect(),
        ip: ctx.request.client_ip.clone(),
        created_at: now,
        updated_at: now,
        expire: now + ctx.config.session_duration_secs * 1000,
        mfa_updated_at: None,
        provider_token_expiry: None,
        country_code: if ctx.request.country.is_empty() { "--".into() } else { ctx.request.country.clone() },
        user_agent: user_agent(ctx).chars().take(512).collect(),
    };
    let statements = vec![
        Statement::new(
            "INSERT INTO sessions (id, user_id, secret_hash, provider, provider_uid, factors, ip, user_agent, created_at, updated_at, expire, country_code)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                session.id.clone().into(),
                user_id.into(),
                Value::Blob(secret_hash(&secret)),
                provider.into(),
                provider_uid.into(),
                json!(session.factors).to_string().into(),
                session.ip.clone().into(),
                session.user_agent.clone().into(),
                Value::Integer(now),
                Value::Integer(now),
                Value::Integer(session.expire),
                session.country_code.clone().into(),
            ],
        ),
        Statement::new(
            "DELETE FROM sessions WHERE user_id = ? AND id NOT IN
               (SELECT id FROM sessions WHERE user_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)",
            vec![user_id.into(), user_id.into(), Value::Integer(i64::from(ctx.config.session_limit))],
        ),
        Statement::new("UPDATE users SET accessed_at = ? WHERE id = ?", vec![Value::Integer(now), user_id.into()]),
    ];
    let credential = SessionCredential { id: user_id.to_string(), secret }.encode();
    (statements, session, credential)
}

/// 201 with the session, the cookies and (for API-key callers) the secret.
fn created(ctx: &Ctx<'_>, session: &Session, credential: &str) -> Response {
    let shown = if matches!(ctx.caller, Caller::App { .. }) { credential } else { "" };
    let mut response = Response::json(201, &session.to_json(true, shown));
    if let Some(project) = ctx.project {
        transport::attach(&mut response, ctx.request, project, credential, session.expire);
    }
    response
}

/// `POST /account/sessions/email`
pub async fn create_email(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let email = valid_email("email", &ctx.params.required_text("email", 254)?)?;
    let plain = ctx.params.required_text("password", 256)?;
    password::validate("password", &plain)?;
    let limit_key = format!("{},email:{email}", url_key("/v1/account/sessions/email"));
    abuse::check(ctx, &limit_key, Limit { max: 10, window_secs: 3600 }).await?;
    already_signed_in(ctx)?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"),
            vec![email.clone().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let user = User::first(&rows);
    let verified = match &user {
        Some(u) if u.password_hash.is_some() => u.password_matches(ctx, &plain),
        _ => {
            // Spend the same time as a real check, so response times do not reveal which emails exist.
            password::hash_for(ctx, &plain)?;
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        return Err(AppwriteError::new(
            ErrorType::UserInvalidCredentials,
            "Invalid credentials. Please check the email and password.",
        ));
    };
    if !user.status {
        return Err(AppwriteError::new(ErrorType::UserBlocked, "The current user has been blocked."));
    }
    let (mut statements, session, credential) = new_session(ctx, &user.id, "email", &email, &["password"]);
    if user.needs_rehash(&ctx.config.password) {
        statements.push(Statement::new(
            "UPDATE users SET password_hash = ?, hash_options = ?, hash_algo = 'argon2' WHERE id = ?",
            vec![
                password::hash_for(ctx, &plain)?.into(),
                password::hash_options(&ctx.config.password).to_string().into(),
                user.id.clone().into(),
            ],
        ));
    }
    ctx.ports.sql.batch(statements).await.map_err(AppwriteError::internal)?;
    abuse::reset(ctx, &limit_key).await?;
    Ok(created(ctx, &session, &credential))
}

/// `POST /account/sessions/anonymous`: a new user without email or password, and its session.
pub async fn create_anonymous(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(
        ctx,
        &format!("anonymous,ip:{}", ctx.request.client_ip),
        Limit { max: 50, window_secs: 3600 },
    )
    .await?;
    already_signed_in(ctx)?;
    let now = ctx.ports.clock.now_ms();
    let user_id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    let (session_statements, session, credential) =
        new_session(ctx, &user_id, "anonymous", "", &["anonymous"]);
    let mut statements = vec![Statement::new(
        "INSERT INTO users (id, created_at, updated_at, accessed_at) VALUES (?, ?, ?, ?)",
        vec![user_id.into(), Value::Integer(now), Value::Integer(now), Value::Integer(now)],
    )];
    statements.extend(session_statements);
    ctx.ports.sql.batch(statements).await.map_err(AppwriteError::internal)?;
    Ok(created(ctx, &session, &credential))
}

/// The user's live sessions, or only the one with `id`.
pub(crate) async fn sessions_of(
    ctx: &Ctx<'_>,
    user_id: &str,
    id: Option<&str>,
) -> Result<Vec<Session>, AppwriteError> {
    let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND expire > ?");
    let mut params = vec![user_id.into(), Value::Integer(ctx.ports.clock.now_ms())];
    if let Some(id) = id {
        sql.push_str(" AND id = ?");
        params.push(id.into());
    }
    sql.push_str(" ORDER BY created_at, rowid");
    let rows = ctx.ports.sql.query(Statement::new(sql, params)).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| Session::from_row(r)).collect())
}

/// Copies the user's newest identity at the session's provider (its account id, sealed tokens
/// and their expiry) into a session made from an OAuth2 token.
async fn oauth2_session_statements(
    ctx: &Ctx<'_>,
    session: &mut Session,
    user_id: &str,
) -> Result<Vec<Statement>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT provider_uid, provider_tokens, access_token_expiry FROM identities
             WHERE user_id = ? AND provider = ? ORDER BY updated_at DESC LIMIT 1",
            vec![user_id.into(), session.provider.clone().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let Some(row) = rows.rows.first() else { return Err(crate::tokens::invalid_token()) };
    session.provider_uid = row.first().and_then(Value::as_str).unwrap_or_default().to_string();
    session.provider_token_expiry = row.get(2).and_then(Value::as_i64);
    Ok(vec![crate::store::session_provider_tokens(
        &session.id,
        &session.provider_uid,
        row.get(1).cloned().unwrap_or(Value::Null),
        session.provider_token_expiry,
    )])
}

/// `GET /account/sessions`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, caller) = current_user(ctx).await?;
    let sessions: Vec<_> = sessions_of(ctx, &user.id, None)
        .await?
        .iter()
        .map(|s| s.to_json(s.id == caller.session_id, ""))
        .collect();
    Ok(Response::json(200, &json!({"total": sessions.len(), "sessions": sessions})))
}

fn session_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::UserSessionNotFound, "The current user session could not be found.")
}

/// The session a `{sessionId}` path names (`current` = the caller's own).
async fn named_session(ctx: &Ctx<'_>) -> Result<(Session, bool), AppwriteError> {
    let (user, caller) = current_user(ctx).await?;
    let wanted = ctx.params.required_text("sessionId", 36)?;
    let wanted = if wanted == "current" { caller.session_id.clone() } else { wanted };
    let session = sessions_of(ctx, &user.id, Some(&wanted)).await?.pop().ok_or_else(session_not_found)?;
    let current = session.id == caller.session_id;
    Ok((session, current))
}

/// `GET /account/sessions/{sessionId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (session, current) = named_session(ctx).await?;
    Ok(Response::json(200, &session.to_json(current, "")))
}

/// `PATCH /account/sessions/{sessionId}`: extends the session to a full lifetime from now.
pub async fn extend(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(ctx, &ip_key(ctx, "/v1/account/sessions/{sessionId}"), Limit { max: 10, window_secs: 3600 })
        .await?;
    let (mut session, current) = named_session(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    session.expire = now + ctx.config.session_duration_secs * 1000;
    session.updated_at = now;
    let mut batch = vec![Statement::new(
        "UPDATE sessions SET expire = ?, updated_at = ? WHERE id = ?",
        vec![Value::Integer(session.expire), Value::Integer(now), session.id.clone().into()],
    )];
    // An OAuth2 session also gets new provider tokens.
    if let Some((statements, expiry)) =
        crate::oauth2::refresh_statements(ctx, &session.id, &session.provider, &session.provider_uid).await?
    {
        batch.extend(statements);
        session.provider_token_expiry = expiry;
    }
    ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    Ok(Response::json(200, &session.to_json(current, "")))
}

/// `DELETE /account/sessions/{sessionId}`
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(
        ctx,
        &ip_key(ctx, "/v1/account/sessions/{sessionId}"),
        Limit { max: 100, window_secs: 3600 },
    )
    .await?;
    let (session, current) = named_session(ctx).await?;
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM sessions WHERE id = ?", vec![session.id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    let mut response = Response::no_content();
    if let (true, Some(project)) = (current, ctx.project) {
        transport::clear(&mut response, ctx.request, project);
    }
    Ok(response)
}

/// `DELETE /account/sessions`
pub async fn delete_all(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(ctx, &ip_key(ctx, "/v1/account/sessions"), Limit { max: 100, window_secs: 3600 }).await?;
    let (user, _) = current_user(ctx).await?;
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM sessions WHERE user_id = ?", vec![user.id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    let mut response = Response::no_content();
    if let Some(project) = ctx.project {
        transport::clear(&mut response, ctx.request, project);
    }
    Ok(response)
}

/// `POST /account/jwts`: `duration` 0–3600 s, default 900.
pub async fn create_jwt(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let duration = ctx.params.integer("duration", 0, 3600)?.unwrap_or(900);
    let (user, caller) = current_user(ctx).await?;
    if caller.via_jwt {
        return Err(AppwriteError::new(
            ErrorType::UserJwtCreationDenied,
            "A JWT cannot be used to create another JWT.",
        ));
    }
    abuse::check(
        ctx,
        &format!("{},userId:{}", url_key("/v1/account/jwts"), user.id),
        Limit { max: 120, window_secs: 60 },
    )
    .await?;
    let jwt = sign_jwt(ctx, &user.id, &caller.session_id, duration).await?;
    Ok(Response::json(201, &json!({ "jwt": jwt })))
}

/// A JWT for `user_id` (and `session_id`, empty for none) valid for `duration` seconds.
pub(crate) async fn sign_jwt(
    ctx: &Ctx<'_>,
    user_id: &str,
    session_id: &str,
    duration: i64,
) -> Result<String, AppwriteError> {
    let out = ctx
        .ports
        .sql
        .batch(Vec::from(jwt::secret_statements(&ctx.ports)))
        .await
        .map_err(AppwriteError::internal)?;
    let secret = jwt::secret_from(out.get(1))?;
    let now_s = ctx.ports.clock.now_ms() / 1000;
    let claims = jwt::Claims {
        user_id: user_id.to_string(),
        session_id: session_id.to_string(),
        iat: now_s,
        exp: now_s + duration,
    };
    Ok(jwt::encode(&claims, &secret))
}

/// `POST /account/sessions/token`: exchanges a one-time token (`POST /users/{id}/tokens`, and
/// later magic URLs and OTPs) for a session. Unknown users and wrong or stale secrets get the
/// same answer.
pub async fn create_from_token(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user_id = ctx.params.required_text("userId", 36)?;
    let secret = ctx.params.required_text("secret", 256)?;
    let limit_key =
        format!("{},ip:{},userId:{user_id}", url_key("/v1/account/sessions/token"), ctx.request.client_ip);
    abuse::check(ctx, &limit_key, Limit { max: 10, window_secs: 3600 }).await?;
    // Guesses spread over many addresses still count against the user: 6-digit codes must not
    // be searchable from a botnet.
    let user_key = format!("{},userId:{user_id}", url_key("/v1/account/sessions/token"));
    abuse::check(ctx, &user_key, Limit { max: 30, window_secs: 3600 }).await?;
    already_signed_in(ctx)?;
    let now = ctx.ports.clock.now_ms();
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "SELECT id, kind, destination FROM tokens WHERE user_id = ? AND secret_hash = ? AND expire > ?
                   AND kind IN (SELECT value FROM json_each(?))",
                vec![
                    user_id.clone().into(),
                    Value::Blob(secret_hash(&secret)),
                    Value::Integer(now),
                    serde_json::json!(crate::tokens::SESSION_KINDS).to_string().into(),
                ],
            ),
            Statement::new(
                format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"),
                vec![user_id.clone().into()],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let token = out.first().and_then(|r| r.rows.first()).and_then(|row| {
        let text = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
        Some((text(0)?, text(1)?, text(2)))
    });
    let user = out.get(1).and_then(User::first);
    let (Some((token_id, kind, destination)), Some(user)) = (token, user) else {
        return Err(crate::tokens::invalid_token());
    };
    if !crate::tokens::still_addressed(&user, &kind, destination.as_deref()) {
        return Err(crate::tokens::invalid_token());
    }
    if !user.status {
        return Err(AppwriteError::new(ErrorType::UserBlocked, "The current user has been blocked."));
    }
    let factor = match kind.as_str() {
        "magic_url" | "email" | "oauth2" => "email",
        "phone" => "phone",
        _ => "token",
    };
    // Appwrite names the provider after the token: magic-URL and phone logins have their own;
    // email codes and server-made tokens are `token`.
    let provider = match kind.as_str() {
        "magic_url" => "magic-url",
        "phone" => "phone",
        _ => "token",
    };
    let (mut statements, mut session, credential) = if kind == "oauth2" {
        // The token of an OAuth2 sign-in (`createOAuth2Token`): the session is the provider's,
        // with the provider account's tokens, and counts as two factors, as in Appwrite.
        let provider = destination.clone().unwrap_or_default();
        new_session(ctx, &user.id, &provider, "", &[factor, "oauth2"])
    } else {
        new_session(ctx, &user.id, provider, "", &[factor])
    };
    if kind == "oauth2" {
        statements.extend(oauth2_session_statements(ctx, &mut session, &user.id).await?);
    }
    // The delete must hit exactly the token: a concurrent exchange of the same secret loses.
    statements.insert(
        0,
        Statement::new("DELETE FROM tokens WHERE id = ?", vec![token_id.into()]).expect_changes(1),
    );
    // A code or link that reached the user proves the address or number it went to; an
    // OAuth2 token went to no address of the user's.
    let verified = match kind.as_str() {
        "magic_url" | "email" => Some("email_verification"),
        "phone" => Some("phone_verification"),
        _ => None,
    };
    if let Some(column) = verified {
        statements.push(Statement::new(
            format!("UPDATE users SET {column} = 1 WHERE id = ?"),
            vec![user.id.clone().into()],
        ));
    }
    ctx.ports.sql.batch(statements).await.map_err(|e| match e {
        edgewrite_core::ports::StoreError::GuardFailed { .. } => crate::tokens::invalid_token(),
        other => AppwriteError::internal(other),
    })?;
    abuse::reset(ctx, &limit_key).await?;
    abuse::reset(ctx, &user_key).await?;
    Ok(created(ctx, &session, &credential))
}
