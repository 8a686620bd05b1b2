//! `/v1/account`: sign-up, the signed-in user, name, email, password, preferences, status
//! (`appwrite-api.md` §4).

use edgewrite_core::abuse::{self, ip_key, Limit};
use edgewrite_core::identity::UserCaller;
use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::Value as Json;

use crate::password;
use crate::store::{select_user, user_write_error, User};
use crate::targets;
use crate::transport;

/// Appwrite's email rule, simplified: one `@`, non-empty local part and a dotted domain, no
/// spaces or control characters, at most 254 bytes.
pub fn valid_email(param: &str, email: &str) -> Result<String, AppwriteError> {
    let invalid = || AppwriteError::invalid_param(param, "Value must be a valid email address");
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        // What mail headers and SMTP envelopes cannot carry unquoted.
        && !email.contains(['<', '>', '(', ')', ',', ';', ':', '"', '\\', '[', ']']);
    if ok {
        Ok(email.to_lowercase())
    } else {
        Err(invalid())
    }
}

/// Loads the signed-in user (the route's `account` scope guarantees there is one).
pub async fn current_user<'c>(ctx: &'c Ctx<'_>) -> Result<(User, &'c UserCaller), AppwriteError> {
    let caller = ctx.caller.user().ok_or_else(|| AppwriteError::from(ErrorType::UserUnauthorized))?;
    Ok((reload(ctx, &caller.user_id).await?, caller))
}

async fn reload(ctx: &Ctx<'_>, id: &str) -> Result<User, AppwriteError> {
    let statement = select_user(id).cached(edgewrite_core::ports::CachedRead::Identity);
    let rows = ctx.ports.sql.query(statement).await.map_err(AppwriteError::internal)?;
    User::first(&rows).ok_or_else(|| AppwriteError::from(ErrorType::UserNotFound))
}

/// `POST /account`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(ctx, &ip_key(ctx, "/v1/account"), Limit { max: 10, window_secs: 3600 }).await?;
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("userId", now, ctx.ports.random)?;
    let email = valid_email("email", &ctx.params.required_text("email", 254)?)?;
    let plain = ctx.params.required_text("password", 256).map_err(|e| {
        if ctx.params.raw("password").is_some() {
            AppwriteError::invalid_param("password", password::PASSWORD_RULE)
        } else {
            e
        }
    })?;
    password::validate("password", &plain)?;
    password::check_dictionary("password", &plain, &ctx.config.password)?;
    let name = ctx.params.text("name", 128)?.unwrap_or_default();
    let personal = password::PersonalData { user_id: &id, name: &name, email: Some(&email), phone: None };
    password::check_personal_data(&plain, &personal, &ctx.config.password)?;
    let (_, mut values) = new_password(ctx, &plain, Vec::new())?;
    let mut params: Vec<Value> = vec![id.clone().into(), email.clone().into(), name.into()];
    params.append(&mut values);
    params.extend([Value::Integer(now), Value::Integer(now), Value::Integer(now)]);
    let mut batch = vec![Statement::new(
        "INSERT INTO users (id, email, name, password_hash, hash_options, password_updated_at, password_history,
                            created_at, updated_at, accessed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params,
    )];
    batch.extend(targets::sync(ctx, &id, "email", None, Some(&email)));
    ctx.ports.sql.batch(batch).await.map_err(user_write_error)?;
    respond(ctx, 201, &reload(ctx, &id).await?).await
}

/// The columns and values that set a new password: its hash, the hash options, the change time
/// and the history (kept only when the history policy is on).
pub(crate) fn new_password(
    ctx: &Ctx<'_>,
    plain: &str,
    history: Vec<String>,
) -> Result<(&'static str, Vec<Value>), AppwriteError> {
    let policy = &ctx.config.password;
    let hash = password::hash_for(ctx, plain)?;
    let history = password::push_history(history, &hash, policy);
    Ok((
        "password_hash = ?, hash_algo = 'argon2', hash_options = ?, password_updated_at = ?, password_history = ?",
        vec![
            hash.into(),
            password::hash_options(policy).to_string().into(),
            Value::Integer(ctx.ports.clock.now_ms()),
            serde_json::to_string(&history).unwrap_or_else(|_| "[]".into()).into(),
        ],
    ))
}

/// The Account model of `user`, with its targets.
/// While an impersonator acts as the user, the model names the impersonator.
async fn respond(ctx: &Ctx<'_>, status: u16, user: &User) -> Result<Response, AppwriteError> {
    let mut model = crate::users::user_json(ctx, user, false).await?;
    if let Some(by) =
        ctx.caller.user().filter(|u| u.user_id == user.id).and_then(|u| u.impersonated_by.as_ref())
    {
        model["impersonatorUserId"] = Json::from(by.as_str());
    }
    Ok(Response::json(status, &model))
}

/// `GET /account`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    respond(ctx, 200, &current_user(ctx).await?.0).await
}

/// `GET /account/prefs`
pub async fn get_prefs(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &Json::Object(current_user(ctx).await?.0.prefs)))
}

/// Applies `set` to the user, with `extra` statements in the same batch.
async fn update(
    ctx: &Ctx<'_>,
    user_id: &str,
    set: &str,
    mut params: Vec<Value>,
    extra: Vec<Statement>,
) -> Result<User, AppwriteError> {
    params.push(Value::Integer(ctx.ports.clock.now_ms()));
    params.push(user_id.into());
    let mut batch =
        vec![Statement::new(format!("UPDATE users SET {set}, updated_at = ? WHERE id = ?"), params)];
    batch.extend(extra);
    ctx.ports.sql.batch(batch).await.map_err(user_write_error)?;
    reload(ctx, user_id).await
}

/// Largest preferences object, serialised (Appwrite: 64 kB).
pub const MAX_PREFS_BYTES: usize = 65_535;

/// `PATCH /account/prefs` replaces the whole object and returns the user.
pub async fn update_prefs(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let prefs = ctx.params.object("prefs")?.ok_or_else(|| AppwriteError::missing_param("prefs"))?;
    let encoded = Json::Object(prefs).to_string();
    if encoded.len() > MAX_PREFS_BYTES {
        return Err(AppwriteError::invalid_param(
            "prefs",
            "Preferences must be a valid JSON object of at most 65535 bytes",
        ));
    }
    let (user, _) = current_user(ctx).await?;
    respond(ctx, 200, &update(ctx, &user.id, "prefs = ?", vec![encoded.into()], vec![]).await?).await
}

/// `PATCH /account/name`
pub async fn update_name(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let name = ctx.params.required_text("name", 128)?;
    let (user, _) = current_user(ctx).await?;
    respond(ctx, 200, &update(ctx, &user.id, "name = ?", vec![name.into()], vec![]).await?).await
}

fn invalid_credentials() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserInvalidCredentials,
        "Invalid credentials. Please check the email and password.",
    )
}

/// `PATCH /account/password`: the old password is required unless the user never had one.
pub async fn update_password(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(ctx, &ip_key(ctx, "/v1/account/password"), Limit { max: 10, window_secs: 3600 }).await?;
    let new = ctx.params.required_text("password", 256)?;
    password::validate("password", &new)?;
    password::check_dictionary("password", &new, &ctx.config.password)?;
    let old = ctx.params.text("oldPassword", 256)?.unwrap_or_default();
    let (user, _) = current_user(ctx).await?;
    if user.password_hash.is_some() && !user.password_matches(ctx, &old) {
        return Err(invalid_credentials());
    }
    password::check_history(ctx, &new, &user.password_history)?;
    password::check_personal_data(&new, &user.personal_data(), &ctx.config.password)?;
    let (set, params) = new_password(ctx, &new, user.password_history.clone())?;
    // Whoever else holds a session (or a JWT of one) loses it: Appwrite's `invalidateSessions`.
    let keep = ctx.caller.user().map(|u| u.session_id.as_str());
    let user = update(ctx, &user.id, set, params, vec![end_sessions(&user.id, keep)]).await?;
    respond(ctx, 200, &user).await
}

/// Ends `user`'s sessions but `keep` (the caller's own), and with them their JWTs; JWTs minted
/// without a session die by `password_updated_at` ([`crate::auth`]).
pub(crate) fn end_sessions(user: &str, keep: Option<&str>) -> Statement {
    Statement::new(
        "DELETE FROM sessions WHERE user_id = ? AND id <> ?",
        vec![user.into(), keep.unwrap_or_default().into()],
    )
}

/// Appwrite's phone rule: `+` and 1 to 15 digits (E.164).
pub fn valid_phone(param: &str, phone: &str) -> Result<String, AppwriteError> {
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(phone.to_string())
    } else {
        Err(AppwriteError::invalid_param(
            param,
            "Phone number must start with a '+' can have a maximum of fifteen digits.",
        ))
    }
}

/// `PATCH /account/email`
pub async fn update_email(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let email = valid_email("email", &ctx.params.required_text("email", 254)?)?;
    change_identifier(ctx, "email", email).await
}

/// `PATCH /account/phone`
pub async fn update_phone(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let phone = valid_phone("phone", &ctx.params.required_text("phone", 16)?)?;
    change_identifier(ctx, "phone", phone).await
}

/// Sets a login identifier (email or phone): the password proves the caller, or becomes the
/// password of a password-less (anonymous) user. A taken identifier is Appwrite's
/// `409 user_target_already_exists` (its messaging-target check fires first).
async fn change_identifier(ctx: &Ctx<'_>, column: &str, value: String) -> Result<Response, AppwriteError> {
    let plain = ctx.params.required_text("password", 256)?;
    let (user, _) = current_user(ctx).await?;
    let (mut set, old, target_type) = match column {
        "email" => ("email = ?, email_verification = 0".to_string(), user.email.clone(), "email"),
        _ => ("phone = ?, phone_verification = 0".to_string(), user.phone.clone(), "sms"),
    };
    let mut sync = targets::sync(ctx, &user.id, target_type, old.as_deref(), Some(&value));
    if old.as_deref() != Some(value.as_str()) {
        sync.extend(crate::tokens::revoke_sent_to(&user.id, column));
    }
    let mut params: Vec<Value> = vec![value.into()];
    match &user.password_hash {
        Some(_) if !user.password_matches(ctx, &plain) => return Err(invalid_credentials()),
        Some(_) => {}
        None => {
            password::validate("password", &plain)?;
            password::check_dictionary("password", &plain, &ctx.config.password)?;
            password::check_personal_data(&plain, &user.personal_data(), &ctx.config.password)?;
            let (password_set, mut password_params) = new_password(ctx, &plain, Vec::new())?;
            set.push_str(", ");
            set.push_str(password_set);
            params.append(&mut password_params);
        }
    }
    let user = update(ctx, &user.id, &set, params, sync).await.map_err(|e| {
        if e.kind == ErrorType::UserAlreadyExists {
            AppwriteError::new(
                ErrorType::UserTargetAlreadyExists,
                "A target with the same ID already exists.",
            )
        } else {
            e
        }
    })?;
    respond(ctx, 200, &user).await
}

/// `DELETE /account`: the caller deletes their own user, as `DELETE /users/{userId}` does (its
/// sessions end; its id is retired, its email and phone are free again); the cookies go.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    ctx.ports.sql.batch(crate::users::deletion(&user.id, now)).await.map_err(AppwriteError::internal)?;
    tracing::info!(user = %user.id, "user deleted their account");
    let mut response = Response::no_content();
    if let Some(project) = ctx.project {
        transport::clear(&mut response, ctx.request, project);
    }
    Ok(response)
}

/// `PATCH /account/status`: blocks the caller; every session ends and the cookies go.
pub async fn block(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    ctx.ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE users SET status = 0, updated_at = ? WHERE id = ?",
                vec![Value::Integer(now), user.id.clone().into()],
            ),
            Statement::new("DELETE FROM sessions WHERE user_id = ?", vec![user.id.clone().into()]),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let mut response = respond(ctx, 200, &reload(ctx, &user.id).await?).await?;
    if let Some(project) = ctx.project {
        transport::clear(&mut response, ctx.request, project);
    }
    Ok(response)
}
