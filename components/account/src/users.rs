//! `/v1/users` (`appwrite-api.md` §8.3): what a server with an API key does to users — create
//! (with a password or an imported hash), list and search, read, change, block, delete, and
//! manage their sessions, tokens, JWTs, targets and MFA switch.

use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::account::{new_password, valid_email, valid_phone, MAX_PREFS_BYTES};
use crate::list;
use crate::password;
use crate::sessions;
use crate::store::{secret_hash, select_user, User, USER_COLUMNS};
use crate::targets;

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "email", column: "email", kind: FieldKind::Text },
    Field { attribute: "phone", column: "phone", kind: FieldKind::Text },
    Field { attribute: "status", column: "status", kind: FieldKind::Boolean },
    Field { attribute: "passwordUpdate", column: "password_updated_at", kind: FieldKind::Datetime },
    Field { attribute: "registration", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "emailVerification", column: "email_verification", kind: FieldKind::Boolean },
    Field { attribute: "phoneVerification", column: "phone_verification", kind: FieldKind::Boolean },
    Field { attribute: "labels", column: "labels", kind: FieldKind::TextArray },
];

/// `search` matches the id, email, phone and name, as Appwrite's users search index does.
const SCHEMA: Schema<'static> = Schema {
    table: "users",
    id_column: "id",
    fields: FIELDS,
    search: Some("id || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || name"),
    fulltext: &[],
};

/// Most labels a user can carry, and the longest label (Appwrite's limits).
const MAX_LABELS: usize = 1000;
const MAX_LABEL_CHARS: usize = 36;

fn user_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::UserNotFound, "User with the requested ID could not be found.")
}

/// The user the `{userId}` path slot names.
pub async fn path_user(ctx: &Ctx<'_>) -> Result<User, AppwriteError> {
    let id = ctx.params.required_text("userId", 36)?;
    load(ctx, &id).await
}

pub(crate) async fn load(ctx: &Ctx<'_>, id: &str) -> Result<User, AppwriteError> {
    let rows = ctx.ports.sql.query(select_user(id)).await.map_err(AppwriteError::internal)?;
    User::first(&rows).ok_or_else(user_not_found)
}

/// The User model with its targets; `server` adds the hash fields, which only API keys see
/// (not an impersonator browsing users).
pub async fn user_json(ctx: &Ctx<'_>, user: &User, server: bool) -> Result<Json, AppwriteError> {
    let mut targets = targets::of_users(ctx.ports.sql, &[&user.id]).await?;
    Ok(user.to_json_with(&targets.remove(&user.id).unwrap_or_default(), server && is_app(ctx)))
}

fn is_app(ctx: &Ctx<'_>) -> bool {
    matches!(ctx.caller, edgewrite_core::identity::Caller::App { .. })
}

async fn respond(ctx: &Ctx<'_>, status: u16, user_id: &str) -> Result<Response, AppwriteError> {
    let user = load(ctx, user_id).await?;
    Ok(Response::json(status, &user_json(ctx, &user, true).await?))
}

/// `GET /users`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let page = list::page(ctx, &SCHEMA, USER_COLUMNS, None).await?;
    let users: Vec<User> = page.rows.iter().filter_map(|r| User::from_row(r)).collect();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let mut targets = targets::of_users(ctx.ports.sql, &ids).await?;
    let users: Vec<Json> = users
        .iter()
        .map(|u| u.to_json_with(&targets.remove(&u.id).unwrap_or_default(), is_app(ctx)))
        .collect();
    Ok(Response::json(200, &json!({"total": page.total, "users": users})))
}

/// How a new user's password arrives.
enum NewPassword {
    None,
    Plain(String),
    /// A hash made elsewhere: algorithm (as the User model names it), hash, options.
    Imported(&'static str, String, Json),
}

/// Inserts a user with its email and phone targets. Taken ids, emails and phones are told
/// apart as Appwrite does; a race past that check still ends in `user_already_exists`.
async fn insert(
    ctx: &Ctx<'_>,
    id: &str,
    email: Option<String>,
    phone: Option<String>,
    name: String,
    password: NewPassword,
) -> Result<Response, AppwriteError> {
    let taken = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT id, email, phone FROM users WHERE id = ? OR email = ? OR phone = ? LIMIT 1",
            vec![
                id.into(),
                email.clone().map_or(Value::Null, Value::from),
                phone.clone().map_or(Value::Null, Value::from),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if let Some(row) = taken.rows.first() {
        let same =
            |i: usize, v: &Option<String>| v.is_some() && row.get(i).and_then(Value::as_str) == v.as_deref();
        return Err(if row.first().and_then(Value::as_str) == Some(id) {
            AppwriteError::new(
                ErrorType::UserAlreadyExists,
                "A user with the same id already exists in this project.",
            )
        } else if same(1, &email) {
            AppwriteError::new(
                ErrorType::UserEmailAlreadyExists,
                "A user with the same email already exists in the current project.",
            )
        } else if same(2, &phone) {
            AppwriteError::new(
                ErrorType::UserPhoneAlreadyExists,
                "A user with the same phone number already exists in the current project.",
            )
        } else {
            ErrorType::UserAlreadyExists.into()
        });
    }
    let now = ctx.ports.clock.now_ms();
    let (hash, algo, options, updated) = match password {
        NewPassword::None => {
            (Value::Null, "argon2", password::hash_options(&ctx.config.password), Value::Null)
        }
        NewPassword::Plain(plain) => (
            password::hash_for(ctx, &plain)?.into(),
            "argon2",
            password::hash_options(&ctx.config.password),
            Value::Integer(now),
        ),
        NewPassword::Imported(algo, hash, options) => (hash.into(), algo, options, Value::Integer(now)),
    };
    let mut batch = vec![Statement::new(
        "INSERT INTO users (id, email, phone, name, password_hash, hash_algo, hash_options, password_updated_at,
                            created_at, updated_at, accessed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            id.into(),
            email.clone().map_or(Value::Null, Value::from),
            phone.clone().map_or(Value::Null, Value::from),
            name.into(),
            hash,
            algo.into(),
            options.to_string().into(),
            updated,
            Value::Integer(now),
            Value::Integer(now),
            Value::Integer(now),
        ],
    )];
    batch.extend(targets::sync(ctx, id, "email", None, email.as_deref()));
    batch.extend(targets::sync(ctx, id, "sms", None, phone.as_deref()));
    ctx.ports.sql.batch(batch).await.map_err(crate::store::user_write_error)?;
    tracing::info!(user = %id, algo, "user created");
    respond(ctx, 201, id).await
}

/// `email`, optional: empty means none.
fn optional_email(ctx: &Ctx<'_>) -> Result<Option<String>, AppwriteError> {
    match ctx.params.text("email", 254)?.filter(|e| !e.is_empty()) {
        Some(e) => valid_email("email", &e).map(Some),
        None => Ok(None),
    }
}

/// `POST /users`: email, phone and password are each optional.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("userId", now, ctx.ports.random)?;
    let email = optional_email(ctx)?;
    let phone = match ctx.params.text("phone", 16)?.filter(|p| !p.is_empty()) {
        Some(p) => Some(valid_phone("phone", &p)?),
        None => None,
    };
    let name = ctx.params.text("name", 128)?.unwrap_or_default();
    let password = match ctx.params.text("password", 256)?.filter(|p| !p.is_empty()) {
        Some(plain) => {
            password::validate("password", &plain)?;
            password::check_dictionary("password", &plain, &ctx.config.password)?;
            let personal = password::PersonalData {
                user_id: &id,
                name: &name,
                email: email.as_deref(),
                phone: phone.as_deref(),
            };
            password::check_personal_data(&plain, &personal, &ctx.config.password)?;
            NewPassword::Plain(plain)
        }
        None => NewPassword::None,
    };
    insert(ctx, &id, email, phone, name, password).await
}

fn invalid_hash(param: &str) -> AppwriteError {
    AppwriteError::invalid_param(param, "Value must be a valid password hash for this algorithm")
}

/// `POST /users/{argon2|bcrypt|md5|sha|phpass|scrypt|scrypt-modified}`: a user whose password
/// is a hash made by another system. It verifies on login and is then replaced by Argon2id.
pub async fn create_imported(ctx: &Ctx<'_>, kind: &str) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("userId", now, ctx.ports.random)?;
    let email = valid_email("email", &ctx.params.required_text("email", 254)?)?;
    let hash = ctx.params.required_text("password", 1024)?;
    let name = ctx.params.text("name", 128)?.unwrap_or_default();
    let text = |name: &str| ctx.params.required_text(name, 1024);
    let int = |name: &str| -> Result<i64, AppwriteError> {
        ctx.params.integer(name, 1, i64::from(u32::MAX))?.ok_or_else(|| AppwriteError::missing_param(name))
    };
    let imported = match kind {
        "argon2" => {
            if !password::importable_argon2(&hash) {
                return Err(invalid_hash("password"));
            }
            let options = password::argon2_options(&hash);
            NewPassword::Imported("argon2", hash, options)
        }
        "bcrypt" if crate::imported::bcrypt_within_cap(&hash) => {
            NewPassword::Imported("bcrypt", hash, json!({"type": "bcrypt"}))
        }
        "md5" if hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            NewPassword::Imported("md5", hash.to_lowercase(), json!({"type": "md5"}))
        }
        "sha" => {
            let version = ctx.params.text("passwordVersion", 16)?.filter(|v| !v.is_empty());
            let version = version.unwrap_or_else(|| "sha3-512".into());
            if !crate::imported::SHA_VERSIONS.contains(&version.as_str()) {
                return Err(AppwriteError::invalid_param(
                    "passwordVersion",
                    &format!("Value must be one of ({})", crate::imported::SHA_VERSIONS.join(", ")),
                ));
            }
            if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid_hash("password"));
            }
            NewPassword::Imported("sha", hash.to_lowercase(), json!({"type": "sha", "version": version}))
        }
        "phpass"
            if hash.starts_with("$P$")
                || hash.starts_with("$H$")
                || crate::imported::bcrypt_within_cap(&hash) =>
        {
            NewPassword::Imported("phpass", hash, json!({"type": "phpass"}))
        }
        "scrypt" => {
            let options = json!({
                "type": "scrypt",
                "salt": text("passwordSalt")?,
                "costCpu": int("passwordCpu")?,
                "costMemory": int("passwordMemory")?,
                "costParallel": int("passwordParallel")?,
                "length": int("passwordLength")?,
            });
            let within = crate::imported::scrypt_params_within_caps(
                int("passwordCpu")? as u64,
                int("passwordMemory")? as u64,
                int("passwordParallel")? as u64,
                int("passwordLength")? as u64,
            );
            if !within {
                return Err(AppwriteError::invalid_param(
                    "passwordCpu",
                    "scrypt costs must be a power-of-two CPU cost, at most 64 MiB of memory (128·cpu·memory bytes), parallelism 1-16 and length 1-64",
                ));
            }
            if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid_hash("password"));
            }
            NewPassword::Imported("scrypt", hash.to_lowercase(), options)
        }
        "scrypt-modified" => {
            let options = json!({
                "type": "scryptMod",
                "salt": text("passwordSalt")?,
                "saltSeparator": text("passwordSaltSeparator")?,
                "signerKey": text("passwordSignerKey")?,
            });
            NewPassword::Imported("scryptMod", hash, options)
        }
        _ => return Err(invalid_hash("password")),
    };
    insert(ctx, &id, Some(email), None, name, imported).await
}

/// `GET /users/{userId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = path_user(ctx).await?;
    Ok(Response::json(200, &user_json(ctx, &user, true).await?))
}

/// Everything that belongs to a user goes with it, in one batch.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = path_user(ctx).await?;
    ctx.ports
        .sql
        .batch(deletion(&user.id, ctx.ports.clock.now_ms()))
        .await
        .map_err(AppwriteError::internal)?;
    tracing::info!(user = %user.id, "user deleted");
    Ok(Response::no_content())
}

/// Everything a user's deletion writes, in one batch: the user leaves its teams, and its
/// sessions, tokens, identities, targets and MFA records go with it.
pub(crate) fn deletion(user_id: &str, now_ms: i64) -> Vec<Statement> {
    let id = Value::from(user_id);
    let mut batch = crate::teams::leave_all_statements(user_id, now_ms);
    batch.extend([
        Statement::new("DELETE FROM sessions WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM presences WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM tokens WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM identities WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM targets WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM mfa_authenticators WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM mfa_challenges WHERE user_id = ?", vec![id.clone()]),
        Statement::new("DELETE FROM users WHERE id = ?", vec![id]),
        // Grants to `user:ID` stay where they are; nobody may sign up as ID to inherit them.
        crate::store::retire_id("user", user_id, now_ms),
    ]);
    batch
}

/// Applies `set` to the path's user, plus `extra` statements in the same batch, and answers
/// the updated user.
async fn update(
    ctx: &Ctx<'_>,
    user: &User,
    set: &str,
    mut params: Vec<Value>,
    extra: Vec<Statement>,
) -> Result<Response, AppwriteError> {
    params.push(Value::Integer(ctx.ports.clock.now_ms()));
    params.push(user.id.clone().into());
    let mut batch =
        vec![Statement::new(format!("UPDATE users SET {set}, updated_at = ? WHERE id = ?"), params)];
    batch.extend(extra);
    ctx.ports.sql.batch(batch).await.map_err(crate::store::user_write_error)?;
    respond(ctx, 200, &user.id).await
}

/// `PATCH /users/{userId}/name`
pub async fn update_name(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let name = ctx.params.text("name", 128)?.ok_or_else(|| AppwriteError::missing_param("name"))?;
    let user = path_user(ctx).await?;
    update(ctx, &user, "name = ?", vec![name.into()], vec![]).await
}

/// The 409 when another user already has this email or phone.
async fn check_free(ctx: &Ctx<'_>, user: &User, column: &str, value: &str) -> Result<(), AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT 1 FROM users WHERE {column} = ? AND id != ?"),
            vec![value.into(), user.id.clone().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if rows.rows.is_empty() {
        return Ok(());
    }
    Err(if column == "email" {
        AppwriteError::new(
            ErrorType::UserEmailAlreadyExists,
            "A user with the same email already exists in the current project.",
        )
    } else {
        AppwriteError::new(
            ErrorType::UserPhoneAlreadyExists,
            "A user with the same phone number already exists in the current project.",
        )
    })
}

/// `PATCH /users/{userId}/email`: an empty email removes it. A change unverifies it.
pub async fn update_email(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let email = optional_email(ctx)?;
    if ctx.params.raw("email").is_none() {
        return Err(AppwriteError::missing_param("email"));
    }
    let user = path_user(ctx).await?;
    if let Some(email) = &email {
        check_free(ctx, &user, "email", email).await?;
    }
    let mut sync = targets::sync(ctx, &user.id, "email", user.email.as_deref(), email.as_deref());
    let changed = email != user.email;
    if changed {
        sync.extend(crate::tokens::revoke_sent_to(&user.id, "email"));
    }
    let set = if changed { "email = ?, email_verification = 0" } else { "email = ?" };
    update(ctx, &user, set, vec![email.map_or(Value::Null, Value::from)], sync).await
}

/// `PATCH /users/{userId}/phone` (`number`): an empty number removes it.
pub async fn update_phone(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let number = ctx.params.text("number", 16)?.ok_or_else(|| AppwriteError::missing_param("number"))?;
    let phone = if number.is_empty() { None } else { Some(valid_phone("number", &number)?) };
    let user = path_user(ctx).await?;
    if let Some(phone) = &phone {
        check_free(ctx, &user, "phone", phone).await?;
    }
    let mut sync = targets::sync(ctx, &user.id, "sms", user.phone.as_deref(), phone.as_deref());
    let changed = phone != user.phone;
    if changed {
        sync.extend(crate::tokens::revoke_sent_to(&user.id, "phone"));
    }
    let set = if changed { "phone = ?, phone_verification = 0" } else { "phone = ?" };
    update(ctx, &user, set, vec![phone.map_or(Value::Null, Value::from)], sync).await
}

/// `PATCH /users/{userId}/password`: no old password needed; the project's policies apply.
pub async fn update_password(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let plain = ctx.params.required_text("password", 256)?;
    password::validate("password", &plain)?;
    password::check_dictionary("password", &plain, &ctx.config.password)?;
    let user = path_user(ctx).await?;
    password::check_history(ctx, &plain, &user.password_history)?;
    password::check_personal_data(&plain, &user.personal_data(), &ctx.config.password)?;
    let (set, params) = new_password(ctx, &plain, user.password_history.clone())?;
    update(ctx, &user, set, params, vec![crate::account::end_sessions(&user.id, None)]).await
}

fn required_bool(ctx: &Ctx<'_>, name: &str) -> Result<bool, AppwriteError> {
    ctx.params.boolean(name)?.ok_or_else(|| AppwriteError::missing_param(name))
}

/// `PATCH /users/{userId}/status`: blocking ends every session of the user.
pub async fn update_status(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let status = required_bool(ctx, "status")?;
    let user = path_user(ctx).await?;
    let end_sessions = if status {
        vec![]
    } else {
        vec![Statement::new("DELETE FROM sessions WHERE user_id = ?", vec![user.id.clone().into()])]
    };
    update(ctx, &user, "status = ?", vec![Value::Integer(i64::from(status))], end_sessions).await
}

/// `PUT /users/{userId}/labels`: alphanumeric, at most 36 chars each, duplicates dropped.
pub async fn update_labels(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let invalid = || {
        AppwriteError::invalid_param(
            "labels",
            &format!("Value must a valid array no longer than {MAX_LABELS} items and Value must be a valid string and at least 1 chars and no longer than {MAX_LABEL_CHARS} chars and only alphanumeric chars"),
        )
    };
    let Some(raw) = ctx.params.raw("labels") else { return Err(AppwriteError::missing_param("labels")) };
    let Json::Array(items) = raw else { return Err(invalid()) };
    if items.len() > MAX_LABELS {
        return Err(invalid());
    }
    let mut labels: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Json::String(label) = item else { return Err(invalid()) };
        let ok = !label.is_empty()
            && label.len() <= MAX_LABEL_CHARS
            && label.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(invalid());
        }
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    let user = path_user(ctx).await?;
    update(ctx, &user, "labels = ?", vec![json!(labels).to_string().into()], vec![]).await
}

/// `PATCH /users/{userId}/verification`
pub async fn update_email_verification(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let verified = required_bool(ctx, "emailVerification")?;
    let user = path_user(ctx).await?;
    update(ctx, &user, "email_verification = ?", vec![Value::Integer(i64::from(verified))], vec![]).await
}

/// `PATCH /users/{userId}/verification/phone`
pub async fn update_phone_verification(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let verified = required_bool(ctx, "phoneVerification")?;
    let user = path_user(ctx).await?;
    update(ctx, &user, "phone_verification = ?", vec![Value::Integer(i64::from(verified))], vec![]).await
}

/// `PATCH /users/{userId}/mfa`
pub async fn update_mfa(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mfa = required_bool(ctx, "mfa")?;
    let user = path_user(ctx).await?;
    update(ctx, &user, "mfa = ?", vec![Value::Integer(i64::from(mfa))], vec![]).await
}

/// `PATCH /users/{userId}/impersonator`: whether the user may act as other users.
pub async fn update_impersonator(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let impersonator = required_bool(ctx, "impersonator")?;
    let user = path_user(ctx).await?;
    update(ctx, &user, "impersonator = ?", vec![Value::Integer(i64::from(impersonator))], vec![]).await
}

/// `GET /users/{userId}/prefs`
pub async fn get_prefs(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &Json::Object(path_user(ctx).await?.prefs)))
}

/// The `prefs` object parameter, within the size limit.
pub fn prefs_param(ctx: &Ctx<'_>) -> Result<Map<String, Json>, AppwriteError> {
    let prefs = ctx.params.object("prefs")?.ok_or_else(|| AppwriteError::missing_param("prefs"))?;
    if Json::Object(prefs.clone()).to_string().len() > MAX_PREFS_BYTES {
        return Err(AppwriteError::invalid_param(
            "prefs",
            "Preferences must be a valid JSON object of at most 65535 bytes",
        ));
    }
    Ok(prefs)
}

/// `PATCH /users/{userId}/prefs` replaces the object and answers it.
pub async fn update_prefs(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let prefs = prefs_param(ctx)?;
    let user = path_user(ctx).await?;
    let encoded = Json::Object(prefs.clone()).to_string();
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE users SET prefs = ?, updated_at = ? WHERE id = ?",
            vec![encoded.into(), Value::Integer(ctx.ports.clock.now_ms()), user.id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(200, &Json::Object(prefs)))
}

/// `GET /users/{userId}/sessions`
pub async fn list_sessions(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = path_user(ctx).await?;
    let sessions: Vec<Json> =
        sessions::sessions_of(ctx, &user.id, None).await?.iter().map(|s| s.to_json(false, "")).collect();
    Ok(Response::json(200, &json!({"total": sessions.len(), "sessions": sessions})))
}

/// `POST /users/{userId}/sessions`: a session with its secret, for server-side rendering.
pub async fn create_session(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = path_user(ctx).await?;
    let (statements, session, credential) = sessions::new_session(ctx, &user.id, "server", "", &["server"]);
    ctx.ports.sql.batch(statements).await.map_err(AppwriteError::internal)?;
    Ok(Response::json(201, &session.to_json(false, &credential)))
}

/// `DELETE /users/{userId}/sessions`
pub async fn delete_sessions(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = path_user(ctx).await?;
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM sessions WHERE user_id = ?", vec![user.id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::no_content())
}

/// `DELETE /users/{userId}/sessions/{sessionId}`
pub async fn delete_session(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = path_user(ctx).await?;
    let id = ctx.params.required_text("sessionId", 36)?;
    let deleted = ctx
        .ports
        .sql
        .query(Statement::new(
            "DELETE FROM sessions WHERE id = ? AND user_id = ?",
            vec![id.into(), user.id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if deleted.changes == 0 {
        return Err(AppwriteError::new(
            ErrorType::UserSessionNotFound,
            "The user session could not be found.",
        ));
    }
    Ok(Response::no_content())
}

/// `POST /users/{userId}/tokens`: a one-time secret (`length` hex chars, default 6) that
/// `POST /account/sessions/token` exchanges for a session within `expire` seconds.
pub async fn create_token(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let length = ctx.params.integer("length", 4, 128)?.unwrap_or(6) as usize;
    let expire_secs = ctx.params.integer("expire", 60, 31_536_000)?.unwrap_or(900);
    let user = path_user(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    let id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    let mut secret = edgewrite_core::ids::random_hex(length.div_ceil(2), ctx.ports.random);
    secret.truncate(length);
    let expire = now + expire_secs * 1000;
    ctx.ports
        .sql
        .batch(vec![
            crate::tokens::purge_expired(&user.id, now),
            Statement::new(
            "INSERT INTO tokens (id, user_id, kind, secret_hash, expire, created_at) VALUES (?, ?, 'generic', ?, ?, ?)",
            vec![
                id.clone().into(),
                user.id.clone().into(),
                Value::Blob(secret_hash(&secret)),
                Value::Integer(expire),
                Value::Integer(now),
            ],
        )])
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(
        201,
        &json!({
            "$id": id,
            "$createdAt": iso_from_ms(now),
            "userId": user.id,
            "secret": secret,
            "expire": iso_from_ms(expire),
            "phrase": "",
        }),
    ))
}

/// `POST /users/{userId}/jwts`: for one of the user's sessions (`recent` = the newest), or
/// for the user alone when `sessionId` is empty.
pub async fn create_jwt(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let wanted = ctx.params.text("sessionId", 36)?.unwrap_or_default();
    let duration = ctx.params.integer("duration", 0, 3600)?.unwrap_or(900);
    let user = path_user(ctx).await?;
    let session_id = if wanted.is_empty() {
        String::new()
    } else {
        let sessions =
            sessions::sessions_of(ctx, &user.id, (wanted != "recent").then_some(wanted.as_str())).await?;
        sessions.last().map(|s| s.id.clone()).ok_or_else(|| {
            AppwriteError::new(ErrorType::UserSessionNotFound, "The user session could not be found.")
        })?
    };
    let jwt = sessions::sign_jwt(ctx, &user.id, &session_id, duration).await?;
    Ok(Response::json(201, &json!({ "jwt": jwt })))
}
