//! One-time secrets sent by email or SMS (`appwrite-api.md` §4): email OTP and magic-URL login
//! tokens, phone OTP, password recovery, email and phone verification. Only a SHA-256 of each
//! secret is stored; each is single-use and expires.

use edgewrite_core::abuse::{self, url_key, Limit};
use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Random, Statement, StoreError, Value};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use edgewrite_mail::Template;
use serde_json::{json, Value as Json};

use crate::account::{current_user, valid_email, valid_phone};
use crate::messages;
use crate::password;
use crate::store::{secret_hash, User, USER_COLUMNS};

/// Lifetimes, as Appwrite's: one-time codes 15 minutes, links 1 hour.
const OTP_TTL_MS: i64 = 15 * 60 * 1000;
pub const LINK_TTL_MS: i64 = 3600 * 1000;

/// Token kinds that `POST /account/sessions/token` may exchange for a session. Recovery and
/// verification secrets never log anyone in.
pub const SESSION_KINDS: &[&str] = &["generic", "email", "magic_url", "phone", "oauth2"];

/// A token just issued.
pub(crate) struct Issued {
    pub id: String,
    pub user_id: String,
    pub secret: String,
    pub created_at: i64,
    pub expire: i64,
    phrase: String,
    /// The address or number the secret goes to.
    destination: String,
}

impl Issued {
    pub fn new(ctx: &Ctx<'_>, user_id: &str, secret: String, ttl_ms: i64, destination: &str) -> Issued {
        let now = ctx.ports.clock.now_ms();
        Issued {
            id: edgewrite_core::ids::unique_id(now, ctx.ports.random),
            user_id: user_id.to_string(),
            secret,
            created_at: now,
            expire: now + ttl_ms,
            phrase: String::new(),
            destination: destination.to_string(),
        }
    }

    /// The statements that store the token, after clearing the user's expired ones and any
    /// earlier secret of the same kind (only the newest code or link works).
    fn insert(&self, kind: &str) -> Vec<Statement> {
        vec![
            purge_expired(&self.user_id, self.created_at),
            Statement::new(
                "DELETE FROM tokens WHERE user_id = ? AND kind = ?",
                vec![self.user_id.clone().into(), kind.into()],
            ),
            self.row(kind),
        ]
    }

    /// The statement that stores the token (only its secret's hash) as a `kind` token.
    pub fn row(&self, kind: &str) -> Statement {
        Statement::new(
            "INSERT INTO tokens (id, user_id, kind, secret_hash, expire, created_at, destination)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                self.id.clone().into(),
                self.user_id.clone().into(),
                kind.into(),
                Value::Blob(secret_hash(&self.secret)),
                Value::Integer(self.expire),
                Value::Integer(self.created_at),
                self.destination.clone().into(),
            ],
        )
    }

    /// The Token model; the secret only for API-key callers (it travels by email or SMS).
    pub fn to_json(&self, ctx: &Ctx<'_>) -> Json {
        let shown = matches!(ctx.caller, Caller::App { .. });
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "userId": self.user_id,
            "secret": if shown { self.secret.as_str() } else { "" },
            "expire": iso_from_ms(self.expire),
            "phrase": self.phrase,
        })
    }
}

/// Deletes the user's expired tokens (they are never used, only kept from piling up).
pub fn purge_expired(user_id: &str, now: i64) -> Statement {
    Statement::new(
        "DELETE FROM tokens WHERE user_id = ? AND expire <= ?",
        vec![user_id.into(), Value::Integer(now)],
    )
}

/// A uniformly random code of `digits` decimal digits.
pub fn numeric_code(random: &dyn Random, digits: u32) -> String {
    let modulus = 10u32.pow(digits);
    // Rejection sampling: values past the last whole multiple of `modulus` would bias the code.
    let zone = u32::MAX - u32::MAX % modulus;
    loop {
        let mut bytes = [0u8; 4];
        random.fill(&mut bytes);
        let n = u32::from_le_bytes(bytes);
        if n < zone {
            return format!("{:0width$}", n % modulus, width = digits as usize);
        }
    }
}

/// A 256-bit secret for links.
fn link_secret(random: &dyn Random) -> String {
    edgewrite_core::ids::random_hex(32, random)
}

const ADJECTIVES: &[&str] = &[
    "Amber", "Bold", "Brave", "Bright", "Calm", "Clever", "Cosmic", "Crisp", "Daring", "Eager", "Gentle",
    "Golden", "Happy", "Jolly", "Kind", "Lively", "Lucky", "Mellow", "Nimble", "Noble", "Proud", "Quick",
    "Quiet", "Rapid", "Silver", "Smart", "Sunny", "Swift", "Tidy", "Vivid", "Warm", "Witty",
];
const NOUNS: &[&str] = &[
    "Badger", "Comet", "Dolphin", "Eagle", "Falcon", "Forest", "Fox", "Garden", "Harbor", "Heron", "Island",
    "Kitten", "Lantern", "Maple", "Meadow", "Otter", "Panda", "Pebble", "Pine", "Planet", "Rabbit", "River",
    "Robin", "Sparrow", "Star", "Summit", "Tiger", "Tulip", "Valley", "Violet", "Whale", "Willow",
];

/// A two-word phrase shown in the app and in the email, so the user can tell the login attempt
/// is theirs.
fn phrase(random: &dyn Random) -> String {
    let mut b = [0u8; 2];
    random.fill(&mut b);
    format!("{} {}", ADJECTIVES[b[0] as usize % ADJECTIVES.len()], NOUNS[b[1] as usize % NOUNS.len()])
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (end > 0).then(|| &url[..scheme.len() + 3 + end])
}

/// A redirect URL the project allows (`EDGEWRITE_ALLOWED_ORIGINS`): no open redirects.
pub fn redirect_param(ctx: &Ctx<'_>, name: &str) -> Result<String, AppwriteError> {
    let url = ctx.params.required_text(name, 2048)?;
    if origin_of(&url).is_some_and(|o| ctx.config.allowed_origins.allows(o)) && !url.contains(['\r', '\n']) {
        Ok(url)
    } else {
        Err(AppwriteError::invalid_param(name, "URL host must be one of the project's allowed origins"))
    }
}

/// `url` with `pairs` appended to its query string.
pub fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{}", query.finish());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Limits a sending route twice, as Appwrite does: per destination and per client address.
async fn limit_sending(ctx: &Ctx<'_>, path: &str, destination: &str, max: u32) -> Result<(), AppwriteError> {
    abuse::check(ctx, &format!("{},to:{destination}", url_key(path)), Limit { max, window_secs: 3600 })
        .await?;
    abuse::check(
        ctx,
        &format!("{},ip:{}", url_key(path), ctx.request.client_ip),
        Limit { max, window_secs: 3600 },
    )
    .await
}

/// Secrets of these kinds go to the user's email, or to its phone; changing the address
/// revokes them.
pub const EMAIL_KINDS: &[&str] = &["email", "magic_url", "recovery", "verification"];
pub const PHONE_KINDS: &[&str] = &["phone", "phone_verification"];

/// Revokes the user's outstanding secrets and MFA challenges sent to its email (`column` =
/// `email`) or phone.
pub fn revoke_sent_to(user_id: &str, column: &str) -> Vec<Statement> {
    let (kinds, challenge) = if column == "email" { (EMAIL_KINDS, "email") } else { (PHONE_KINDS, "phone") };
    vec![
        Statement::new(
            "DELETE FROM tokens WHERE user_id = ? AND kind IN (SELECT value FROM json_each(?))",
            vec![user_id.into(), json!(kinds).to_string().into()],
        ),
        Statement::new(
            "DELETE FROM mfa_challenges WHERE user_id = ? AND type = ?",
            vec![user_id.into(), challenge.into()],
        ),
    ]
}

/// Whether a secret sent to `destination` still speaks for this user: its address (email for
/// email kinds, phone for phone kinds) is still that destination.
pub fn still_addressed(user: &User, kind: &str, destination: Option<&str>) -> bool {
    let current = if PHONE_KINDS.contains(&kind) {
        user.phone.as_deref()
    } else if EMAIL_KINDS.contains(&kind) {
        user.email.as_deref()
    } else {
        return true;
    };
    current.is_some() && current == destination
}

fn blocked() -> AppwriteError {
    AppwriteError::new(ErrorType::UserBlocked, "The current user has been blocked.")
}

/// The user with this email or phone; a new one (with `userId`) when there is none yet, as
/// Appwrite's token logins sign users up on first use.
async fn user_for_login(
    ctx: &Ctx<'_>,
    column: &str,
    value: &str,
    batch: &mut Vec<Statement>,
) -> Result<(String, String), AppwriteError> {
    if let Some(user) = crate::store::user_by(ctx, column, value).await? {
        if !user.status {
            return Err(blocked());
        }
        return Ok((user.id, user.name));
    }
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("userId", now, ctx.ports.random)?;
    batch.push(Statement::new(
        format!(
            "INSERT INTO users (id, {column}, created_at, updated_at, accessed_at) VALUES (?, ?, ?, ?, ?)"
        ),
        vec![id.clone().into(), value.into(), Value::Integer(now), Value::Integer(now), Value::Integer(now)],
    ));
    let target_type = if column == "email" { "email" } else { "sms" };
    batch.extend(crate::targets::sync(ctx, &id, target_type, None, Some(value)));
    Ok((id, String::new()))
}

fn store_error(e: StoreError) -> AppwriteError {
    crate::store::user_write_error(e)
}

/// `POST /account/tokens/email` (6-digit code) and `POST /account/tokens/magic-url` (link).
pub async fn create_email_token(ctx: &Ctx<'_>, magic: bool) -> Result<Response, AppwriteError> {
    let email = valid_email("email", &ctx.params.required_text("email", 254)?)?;
    let url = if magic { Some(redirect_param(ctx, "url")?) } else { None };
    let with_phrase = ctx.params.boolean("phrase")?.unwrap_or(false);
    let path = if magic { "/v1/account/tokens/magic-url" } else { "/v1/account/tokens/email" };
    limit_sending(ctx, path, &email, if magic { 60 } else { 10 }).await?;
    let settings = messages::mail_settings(ctx)?;
    let mut batch = Vec::new();
    let (user_id, name) = user_for_login(ctx, "email", &email, &mut batch).await?;
    let (secret, ttl, kind) = if magic {
        (link_secret(ctx.ports.random), LINK_TTL_MS, "magic_url")
    } else {
        (numeric_code(ctx.ports.random, 6), OTP_TTL_MS, "email")
    };
    let mut token = Issued::new(ctx, &user_id, secret, ttl, &email);
    if with_phrase {
        token.phrase = phrase(ctx.ports.random);
    }
    batch.extend(token.insert(kind));
    ctx.ports.sql.batch(batch).await.map_err(store_error)?;
    let phrase = with_phrase.then_some(token.phrase.as_str());
    let link;
    let template = match &url {
        Some(url) => {
            let expire = iso_from_ms(token.expire);
            link = with_query(
                url,
                &[
                    ("userId", &user_id),
                    ("secret", &token.secret),
                    ("expire", &expire),
                    ("project", ctx.project.unwrap_or_default()),
                ],
            );
            Template::MagicUrl { url: &link, phrase }
        }
        None => Template::EmailOtp { code: &token.secret, phrase },
    };
    messages::send_email(ctx, &settings, &email, &name, template).await?;
    Ok(Response::json(201, &token.to_json(ctx)))
}

/// `POST /account/tokens/phone`: a 6-digit code by SMS.
pub async fn create_phone_token(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let phone = valid_phone("phone", &ctx.params.required_text("phone", 16)?)?;
    limit_sending(ctx, "/v1/account/tokens/phone", &phone, 10).await?;
    let settings = messages::sms_settings(ctx)?;
    let mut batch = Vec::new();
    let (user_id, _) = user_for_login(ctx, "phone", &phone, &mut batch).await?;
    let token = Issued::new(ctx, &user_id, numeric_code(ctx.ports.random, 6), OTP_TTL_MS, &phone);
    batch.extend(token.insert("phone"));
    ctx.ports.sql.batch(batch).await.map_err(store_error)?;
    messages::send_sms_code(ctx, &settings, &phone, &token.secret).await?;
    Ok(Response::json(201, &token.to_json(ctx)))
}

pub(crate) fn invalid_token() -> AppwriteError {
    AppwriteError::new(ErrorType::UserInvalidToken, "Invalid token passed in the request.")
}

/// Finds the live token of `kind` for `user_id` with `secret`, and the statement that uses it
/// up (guarded, so two concurrent uses cannot both succeed).
async fn live_token(
    ctx: &Ctx<'_>,
    user_id: &str,
    secret: &str,
    kind: &str,
) -> Result<(Statement, User, i64, i64, String), AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "SELECT id, created_at, expire, destination FROM tokens
                 WHERE user_id = ? AND secret_hash = ? AND kind = ? AND expire > ?",
                vec![user_id.into(), Value::Blob(secret_hash(secret)), kind.into(), Value::Integer(now)],
            ),
            Statement::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"), vec![user_id.into()]),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let row = out.first().and_then(|r| r.rows.first()).ok_or_else(invalid_token)?;
    let id = row.first().and_then(Value::as_str).ok_or_else(invalid_token)?.to_string();
    let created = row.get(1).and_then(Value::as_i64).unwrap_or(now);
    let expire = row.get(2).and_then(Value::as_i64).unwrap_or(now);
    let user = out.get(1).and_then(User::first).ok_or_else(invalid_token)?;
    if !still_addressed(&user, kind, row.get(3).and_then(Value::as_str)) {
        return Err(invalid_token());
    }
    let use_up = Statement::new("DELETE FROM tokens WHERE id = ?", vec![id.clone().into()]).expect_changes(1);
    Ok((use_up, user, created, expire, id))
}

/// A used token's model (secret never shown again).
fn used_json(id: &str, user_id: &str, created: i64, expire: i64) -> Json {
    json!({
        "$id": id,
        "$createdAt": iso_from_ms(created),
        "userId": user_id,
        "secret": "",
        "expire": iso_from_ms(expire),
        "phrase": "",
    })
}

fn guard_error(e: StoreError) -> AppwriteError {
    match e {
        StoreError::GuardFailed { .. } => invalid_token(),
        other => AppwriteError::internal(other),
    }
}

/// `POST /account/recovery`: a reset link by email. An unknown email gets the same answer as a
/// known one (and no email), so the endpoint does not reveal who has an account.
pub async fn create_recovery(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let email = valid_email("email", &ctx.params.required_text("email", 254)?)?;
    let url = redirect_param(ctx, "url")?;
    limit_sending(ctx, "/v1/account/recovery", &email, 10).await?;
    let settings = messages::mail_settings(ctx)?;
    let user = crate::store::user_by(ctx, "email", &email).await?;
    let user_id = user.as_ref().map_or_else(
        || edgewrite_core::ids::unique_id(ctx.ports.clock.now_ms(), ctx.ports.random),
        |u| u.id.clone(),
    );
    let token = Issued::new(ctx, &user_id, link_secret(ctx.ports.random), LINK_TTL_MS, &email);
    let Some(user) = user else {
        tracing::info!("recovery requested for an unknown email");
        return Ok(Response::json(201, &token.to_json(ctx)));
    };
    if !user.status {
        return Err(blocked());
    }
    ctx.ports.sql.batch(token.insert("recovery")).await.map_err(AppwriteError::internal)?;
    let expire = iso_from_ms(token.expire);
    let link = with_query(&url, &[("userId", &user.id), ("secret", &token.secret), ("expire", &expire)]);
    messages::send_email(ctx, &settings, &email, &user.name, Template::Recovery { url: &link }).await?;
    Ok(Response::json(201, &token.to_json(ctx)))
}

/// `PUT /account/recovery`: the secret from the link sets a new password. Reaching the inbox
/// proves the address, so the email counts as verified.
pub async fn update_recovery(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user_id = ctx.params.required_text("userId", 36)?;
    let secret = ctx.params.required_text("secret", 256)?;
    let plain = ctx.params.required_text("password", 256)?;
    abuse::check(
        ctx,
        &format!("{},userId:{user_id}", url_key("/v1/account/recovery")),
        Limit { max: 10, window_secs: 3600 },
    )
    .await?;
    password::validate("password", &plain)?;
    password::check_dictionary("password", &plain, &ctx.config.password)?;
    let (use_up, user, created, expire, id) = live_token(ctx, &user_id, &secret, "recovery").await?;
    if !user.status {
        return Err(blocked());
    }
    password::check_history(ctx, &plain, &user.password_history)?;
    password::check_personal_data(&plain, &user.personal_data(), &ctx.config.password)?;
    let (set, mut params) = crate::account::new_password(ctx, &plain, user.password_history.clone())?;
    params.push(Value::Integer(ctx.ports.clock.now_ms()));
    params.push(user.id.clone().into());
    ctx.ports
        .sql
        .batch(vec![
            use_up,
            Statement::new(
                format!("UPDATE users SET {set}, email_verification = 1, updated_at = ? WHERE id = ?"),
                params,
            ),
            // Every other outstanding reset link dies with this one, and every session with the
            // password that opened it.
            Statement::new(
                "DELETE FROM tokens WHERE user_id = ? AND kind = 'recovery'",
                vec![user.id.clone().into()],
            ),
            crate::account::end_sessions(&user.id, None),
        ])
        .await
        .map_err(guard_error)?;
    Ok(Response::json(200, &used_json(&id, &user.id, created, expire)))
}

/// `POST /account/verifications/email`: a verification link to the signed-in user's email.
pub async fn create_email_verification(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let url = redirect_param(ctx, "url")?;
    let (user, _) = current_user(ctx).await?;
    abuse::check(
        ctx,
        &format!("{},userId:{}", url_key("/v1/account/verifications/email"), user.id),
        Limit { max: 10, window_secs: 3600 },
    )
    .await?;
    let email = user
        .email
        .clone()
        .ok_or_else(|| AppwriteError::new(ErrorType::UserEmailNotFound, "User has no email address."))?;
    if user.email_verification {
        return Err(AppwriteError::new(
            ErrorType::UserEmailAlreadyVerified,
            "The email is already verified.",
        ));
    }
    let settings = messages::mail_settings(ctx)?;
    let token = Issued::new(ctx, &user.id, link_secret(ctx.ports.random), LINK_TTL_MS, &email);
    ctx.ports.sql.batch(token.insert("verification")).await.map_err(AppwriteError::internal)?;
    let expire = iso_from_ms(token.expire);
    let link = with_query(&url, &[("userId", &user.id), ("secret", &token.secret), ("expire", &expire)]);
    messages::send_email(ctx, &settings, &email, &user.name, Template::Verification { url: &link }).await?;
    Ok(Response::json(201, &token.to_json(ctx)))
}

/// `POST /account/verifications/phone`: a 6-digit code to the signed-in user's phone.
pub async fn create_phone_verification(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    limit_sending(ctx, "/v1/account/verifications/phone", &user.id, 10).await?;
    let phone = user
        .phone
        .clone()
        .ok_or_else(|| AppwriteError::new(ErrorType::UserPhoneNotFound, "User has no phone number."))?;
    if user.phone_verification {
        return Err(AppwriteError::new(
            ErrorType::UserPhoneAlreadyVerified,
            "The phone is already verified.",
        ));
    }
    let settings = messages::sms_settings(ctx)?;
    let token = Issued::new(ctx, &user.id, numeric_code(ctx.ports.random, 6), OTP_TTL_MS, &phone);
    ctx.ports.sql.batch(token.insert("phone_verification")).await.map_err(AppwriteError::internal)?;
    messages::send_sms_code(ctx, &settings, &phone, &token.secret).await?;
    Ok(Response::json(201, &token.to_json(ctx)))
}

/// `PUT /account/verifications/email|phone`: anyone holding the secret may confirm (the link is
/// usually opened without a session).
pub async fn complete_verification(ctx: &Ctx<'_>, phone: bool) -> Result<Response, AppwriteError> {
    let user_id = ctx.params.required_text("userId", 36)?;
    let secret = ctx.params.required_text("secret", 256)?;
    let path = if phone { "/v1/account/verifications/phone" } else { "/v1/account/verifications/email" };
    abuse::check(ctx, &format!("{},userId:{user_id}", url_key(path)), Limit { max: 10, window_secs: 3600 })
        .await?;
    let kind = if phone { "phone_verification" } else { "verification" };
    let (use_up, user, created, expire, id) = live_token(ctx, &user_id, &secret, kind).await?;
    let column = if phone { "phone_verification" } else { "email_verification" };
    ctx.ports
        .sql
        .batch(vec![
            use_up,
            Statement::new(
                format!("UPDATE users SET {column} = 1, updated_at = ? WHERE id = ?"),
                vec![Value::Integer(ctx.ports.clock.now_ms()), user.id.clone().into()],
            ),
        ])
        .await
        .map_err(guard_error)?;
    Ok(Response::json(200, &used_json(&id, &user.id, created, expire)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::cell::Cell<u8>);
    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.get();
                self.0.set(self.0.get().wrapping_add(37));
            }
        }
    }

    #[test]
    fn codes_have_six_digits_and_links_keep_their_query() {
        let r = Counter(std::cell::Cell::new(1));
        for _ in 0..50 {
            let code = numeric_code(&r, 6);
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(with_query("http://a/b?x=1#f", &[("s", "a b&")]), "http://a/b?x=1&s=a+b%26#f");
        assert_eq!(with_query("http://a", &[("k", "v")]), "http://a?k=v");
        assert_eq!(origin_of("https://app.example.com:8443/x?y"), Some("https://app.example.com:8443"));
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https:///x"), None);
    }
}
