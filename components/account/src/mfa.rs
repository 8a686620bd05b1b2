//! Multi-factor authentication (`appwrite-api.md` §3, §4): the MFA switch, TOTP authenticators
//! (RFC 6238), email/phone/TOTP/recovery-code challenges that add a factor to the session, and
//! recovery codes. A user with MFA on and a verified factor must pass a challenge on each new
//! session before anything else (`user_more_factors_required`, enforced in `serve`).

use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use edgewrite_mail::Template;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::account::current_user;
use crate::messages;
use crate::store::{secret_hash, Session, User, SESSION_COLUMNS};
use crate::tokens::numeric_code;
use edgewrite_core::abuse::{self, url_key, Limit};

/// A challenge must be answered within this long.
const CHALLENGE_TTL_MS: i64 = 15 * 60 * 1000;
/// How recent a passed challenge must be for the sensitive MFA routes (Appwrite: 30 minutes).
const FRESH_MFA_MS: i64 = 30 * 60 * 1000;
/// TOTP: 30-second steps, 6 digits, one step of clock drift either way.
const TOTP_STEP_S: i64 = 30;
const RECOVERY_CODES: usize = 10;

/// Whether a session with `factors` still owes a second factor: MFA is on and the user has a
/// factor to give (verified TOTP, verified email or phone).
pub fn second_factor_pending(user: &User, totp_verified: bool, factors: &[String]) -> bool {
    let has_factor = totp_verified
        || (user.email.is_some() && user.email_verification)
        || (user.phone.is_some() && user.phone_verification);
    user.mfa && has_factor && factors.len() < 2
}

/// Authenticator secrets as authenticator apps read them: RFC 4648 base32, unpadded.
fn base32_encode(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// A secret back from base32, in any case and with or without padding.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let canonical: String = text.chars().filter(|c| *c != '=').map(|c| c.to_ascii_uppercase()).collect();
    data_encoding::BASE32_NOPAD.decode(canonical.as_bytes()).ok()
}

/// The 6-digit TOTP code of `secret` for time step `counter` (RFC 6238 over HMAC-SHA1).
fn totp_code(secret: &[u8], counter: u64) -> String {
    totp_lite::totp_custom::<totp_lite::Sha1>(
        TOTP_STEP_S as u64,
        6,
        secret,
        counter.saturating_mul(TOTP_STEP_S as u64),
    )
}

/// The time step whose code `otp` is, for `secret_b32` at `now_ms`, one step either way;
/// compared in constant time.
fn totp_step(secret_b32: &str, otp: &str, now_ms: i64) -> Option<i64> {
    let secret = base32_decode(secret_b32)?;
    let step = now_ms.div_euclid(1000) / TOTP_STEP_S;
    let mut found = None;
    for counter in [step - 1, step, step + 1] {
        let code = totp_code(&secret, counter as u64);
        if code.len() == otp.len() && bool::from(code.as_bytes().ct_eq(otp.as_bytes())) {
            found = Some(counter);
        }
    }
    found
}

/// Accepts a TOTP code at most once (RFC 6238 §5.2): records its time step, guarded so the same
/// or an older step never passes again, not even concurrently.
fn use_totp_step(user_id: &str, step: i64) -> Statement {
    Statement::new(
        "UPDATE mfa_authenticators SET last_counter = ?
         WHERE user_id = ? AND type = 'totp' AND (last_counter IS NULL OR last_counter < ?)",
        vec![Value::Integer(step), user_id.into(), Value::Integer(step)],
    )
    .expect_changes(1)
}

struct Authenticator {
    secret: String,
    verified: bool,
}

async fn authenticator(ctx: &Ctx<'_>, user_id: &str) -> Result<Option<Authenticator>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT secret, verified FROM mfa_authenticators WHERE user_id = ? AND type = 'totp'",
            vec![user_id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().map(|r| Authenticator {
        secret: r.first().and_then(Value::as_str).unwrap_or_default().to_string(),
        verified: r.get(1).and_then(Value::as_i64) == Some(1),
    }))
}

fn factors_json(user: &User, totp: bool) -> serde_json::Value {
    json!({
        "totp": totp,
        "phone": user.phone.is_some() && user.phone_verification,
        "email": user.email.is_some() && user.email_verification,
        "recoveryCode": !user.mfa_recovery_codes.is_empty(),
    })
}

/// `GET /account/mfa/factors`
pub async fn list_factors(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    let totp = authenticator(ctx, &user.id).await?.is_some_and(|a| a.verified);
    Ok(Response::json(200, &factors_json(&user, totp)))
}

/// `GET /users/{userId}/mfa/factors`
pub async fn list_user_factors(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    let totp = authenticator(ctx, &user.id).await?.is_some_and(|a| a.verified);
    Ok(Response::json(200, &factors_json(&user, totp)))
}

/// `PATCH /account/mfa`. Turning MFA on credits the current session with the factors the user
/// already has (as Appwrite does), so the session that turns it on is not locked out.
pub async fn update_mfa(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mfa = ctx.params.boolean("mfa")?.ok_or_else(|| AppwriteError::missing_param("mfa"))?;
    let (user, session) = caller_session(ctx).await?;
    let mut batch = vec![Statement::new(
        "UPDATE users SET mfa = ?, updated_at = ? WHERE id = ?",
        vec![
            Value::Integer(i64::from(mfa)),
            Value::Integer(ctx.ports.clock.now_ms()),
            user.id.clone().into(),
        ],
    )];
    if mfa {
        let totp = authenticator(ctx, &user.id).await?.is_some_and(|a| a.verified);
        let mut session = session;
        for (has, factor) in [
            (totp, "totp"),
            (user.email.is_some() && user.email_verification, "email"),
            (user.phone.is_some() && user.phone_verification, "phone"),
        ] {
            if has && !session.factors.iter().any(|f| f == factor) {
                session.factors.push(factor.to_string());
            }
        }
        batch.push(Statement::new(
            "UPDATE sessions SET factors = ? WHERE id = ?",
            vec![json!(session.factors).to_string().into(), session.id.clone().into()],
        ));
    }
    ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    let user = crate::users::load(ctx, &user.id).await?;
    Ok(Response::json(200, &crate::users::user_json(ctx, &user, false).await?))
}

fn only_totp(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    match ctx.params.required_text("type", 16)?.as_str() {
        "totp" => Ok(()),
        _ => Err(AppwriteError::invalid_param("type", "Value must be one of (totp)")),
    }
}

/// `POST /account/mfa/authenticators/totp`: a new secret and its `otpauth://` URI (what
/// authenticator apps scan as a QR code). Replaces an unverified one.
pub async fn create_authenticator(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    only_totp(ctx)?;
    let (user, _) = current_user(ctx).await?;
    if authenticator(ctx, &user.id).await?.is_some_and(|a| a.verified) {
        return Err(AppwriteError::new(
            ErrorType::UserAuthenticatorAlreadyVerified,
            "The authenticator is already verified.",
        ));
    }
    let mut raw = [0u8; 20];
    ctx.ports.random.fill(&mut raw);
    let secret = base32_encode(&raw);
    ctx.ports
        .sql
        .query(Statement::new(
            "INSERT OR REPLACE INTO mfa_authenticators (user_id, type, secret, verified, created_at)
             VALUES (?, 'totp', ?, 0, ?)",
            vec![user.id.clone().into(), secret.clone().into(), Value::Integer(ctx.ports.clock.now_ms())],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let issuer = messages::project_name(ctx);
    let account = user.email.clone().unwrap_or_else(|| user.id.clone());
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("secret", &secret).append_pair("issuer", &issuer);
    let label: String = form_urlencoded::byte_serialize(format!("{issuer}:{account}").as_bytes()).collect();
    let uri = format!("otpauth://totp/{}?{}", label.replace('+', "%20"), query.finish());
    Ok(Response::json(200, &json!({ "secret": secret, "uri": uri })))
}

/// Adds `factor` to the caller's session and marks the MFA as just passed.
fn pass_factor(ctx: &Ctx<'_>, session: &Session, factor: &str) -> (Statement, Session) {
    let now = ctx.ports.clock.now_ms();
    let mut session = session.clone();
    if !session.factors.iter().any(|f| f == factor) {
        session.factors.push(factor.to_string());
    }
    session.mfa_updated_at = Some(now);
    session.updated_at = now;
    let statement = Statement::new(
        "UPDATE sessions SET factors = ?, mfa_updated_at = ?, updated_at = ? WHERE id = ?",
        vec![
            json!(session.factors).to_string().into(),
            Value::Integer(now),
            Value::Integer(now),
            session.id.clone().into(),
        ],
    );
    (statement, session)
}

/// The caller's session (MFA routes need a real one, not a session-less JWT).
async fn caller_session(ctx: &Ctx<'_>) -> Result<(User, Session), AppwriteError> {
    let (user, caller) = current_user(ctx).await?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ? AND user_id = ?"),
            vec![caller.session_id.clone().into(), user.id.clone().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let session = rows.rows.first().and_then(|r| Session::from_row(r)).ok_or_else(|| {
        AppwriteError::new(ErrorType::UserSessionNotFound, "The current user session could not be found.")
    })?;
    Ok((user, session))
}

/// `PUT /account/mfa/authenticators/totp` {otp}: the first correct code verifies the
/// authenticator, and counts as a passed factor for this session.
pub async fn verify_authenticator(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    only_totp(ctx)?;
    let otp = ctx.params.required_text("otp", 16)?;
    let (user, session) = caller_session(ctx).await?;
    let found = authenticator(ctx, &user.id).await?.ok_or_else(authenticator_not_found)?;
    if found.verified {
        return Err(AppwriteError::new(
            ErrorType::UserAuthenticatorAlreadyVerified,
            "The authenticator is already verified.",
        ));
    }
    let step = totp_step(&found.secret, &otp, ctx.ports.clock.now_ms()).ok_or_else(invalid_otp)?;
    let (pass, _) = pass_factor(ctx, &session, "totp");
    ctx.ports
        .sql
        .batch(vec![
            use_totp_step(&user.id, step),
            Statement::new(
                "UPDATE mfa_authenticators SET verified = 1 WHERE user_id = ? AND type = 'totp'",
                vec![user.id.clone().into()],
            ),
            pass,
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, invalid_otp))?;
    Ok(Response::json(200, &crate::users::user_json(ctx, &user, false).await?))
}

fn authenticator_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::UserAuthenticatorNotFound, "The authenticator could not be found.")
}

fn invalid_otp() -> AppwriteError {
    crate::tokens::invalid_token()
}

/// 401 `user_challenge_required` unless this session passed a challenge in the last 30 minutes.
fn require_fresh(ctx: &Ctx<'_>, session: &Session) -> Result<(), AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    if session.mfa_updated_at.is_some_and(|at| now - at < FRESH_MFA_MS) {
        Ok(())
    } else {
        Err(AppwriteError::new(
            ErrorType::UserChallengeRequired,
            "A recently completed challenge is required to complete this action.",
        ))
    }
}

/// `DELETE /account/mfa/authenticators/totp` (after a recent challenge).
pub async fn delete_authenticator(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    only_totp(ctx)?;
    let (user, session) = caller_session(ctx).await?;
    authenticator(ctx, &user.id).await?.ok_or_else(authenticator_not_found)?;
    require_fresh(ctx, &session)?;
    delete_totp(ctx, &user.id).await
}

/// `DELETE /users/{userId}/mfa/authenticators/totp`
pub async fn delete_user_authenticator(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    only_totp(ctx)?;
    let user = crate::users::path_user(ctx).await?;
    delete_totp(ctx, &user.id).await
}

async fn delete_totp(ctx: &Ctx<'_>, user_id: &str) -> Result<Response, AppwriteError> {
    let deleted = ctx
        .ports
        .sql
        .query(Statement::new(
            "DELETE FROM mfa_authenticators WHERE user_id = ? AND type = 'totp'",
            vec![user_id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if deleted.changes == 0 {
        return Err(authenticator_not_found());
    }
    Ok(Response::no_content())
}

/// `POST /account/mfa/challenges` {factor}: for email and phone a code is sent; TOTP and
/// recovery codes are answered from what the user has.
pub async fn create_challenge(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let factor = ctx.params.required_text("factor", 16)?;
    let (user, _) = current_user(ctx).await?;
    abuse::check(
        ctx,
        &format!("{},userId:{}", url_key("/v1/account/mfa/challenges"), user.id),
        Limit { max: 10, window_secs: 3600 },
    )
    .await?;
    let now = ctx.ports.clock.now_ms();
    let id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    let expire = now + CHALLENGE_TTL_MS;
    let mut code = None;
    match factor.as_str() {
        "email" => {
            if user.email.is_none() {
                return Err(AppwriteError::new(ErrorType::UserEmailNotFound, "User has no email address."));
            }
            if !user.email_verification {
                return Err(AppwriteError::new(
                    ErrorType::UserEmailNotVerified,
                    "The email is not verified.",
                ));
            }
            code = Some(numeric_code(ctx.ports.random, 6));
        }
        "phone" => {
            if user.phone.is_none() {
                return Err(AppwriteError::new(ErrorType::UserPhoneNotFound, "User has no phone number."));
            }
            if !user.phone_verification {
                return Err(AppwriteError::new(
                    ErrorType::UserPhoneNotVerified,
                    "The phone is not verified.",
                ));
            }
            code = Some(numeric_code(ctx.ports.random, 6));
        }
        "totp" => {
            if !authenticator(ctx, &user.id).await?.is_some_and(|a| a.verified) {
                return Err(authenticator_not_found());
            }
        }
        "recoverycode" => {
            if user.mfa_recovery_codes.is_empty() {
                return Err(AppwriteError::new(
                    ErrorType::UserRecoveryCodesNotFound,
                    "Recovery codes have not been generated.",
                ));
            }
        }
        _ => {
            return Err(AppwriteError::invalid_param(
                "factor",
                "Value must be one of (email, phone, totp, recoverycode)",
            ))
        }
    }
    ctx.ports
        .sql
        .batch(vec![
            Statement::new(
                "DELETE FROM mfa_challenges WHERE user_id = ? AND expire <= ?",
                vec![user.id.clone().into(), Value::Integer(now)],
            ),
            Statement::new(
                "INSERT INTO mfa_challenges (id, user_id, type, code_hash, expire, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    id.clone().into(),
                    user.id.clone().into(),
                    factor.clone().into(),
                    code.as_deref().map_or(Value::Null, |c| Value::Blob(secret_hash(c))),
                    Value::Integer(expire),
                    Value::Integer(now),
                ],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    match (factor.as_str(), &code) {
        ("email", Some(code)) => {
            let settings = messages::mail_settings(ctx)?;
            let to = user.email.clone().unwrap_or_default();
            messages::send_email(ctx, &settings, &to, &user.name, Template::MfaChallenge { code }).await?;
        }
        ("phone", Some(code)) => {
            let settings = messages::sms_settings(ctx)?;
            messages::send_sms_code(ctx, &settings, user.phone.as_deref().unwrap_or_default(), code).await?;
        }
        _ => {}
    }
    Ok(Response::json(
        201,
        &json!({"$id": id, "$createdAt": iso_from_ms(now), "userId": user.id, "expire": iso_from_ms(expire)}),
    ))
}

/// `PUT /account/mfa/challenges` {challengeId, otp}: a correct answer adds the factor to the
/// session. Each challenge and each recovery code works once.
pub async fn complete_challenge(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let challenge_id = ctx.params.required_text("challengeId", 36)?;
    let otp = ctx.params.required_text("otp", 64)?;
    abuse::check(
        ctx,
        &format!("{},challengeId:{challenge_id}", url_key("/v1/account/mfa/challenges")),
        Limit { max: 10, window_secs: 3600 },
    )
    .await?;
    let (user, session) = caller_session(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT type, code_hash FROM mfa_challenges WHERE id = ? AND user_id = ? AND expire > ?",
            vec![challenge_id.clone().into(), user.id.clone().into(), Value::Integer(now)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let row = rows.rows.first().ok_or_else(invalid_otp)?;
    let kind = row.first().and_then(Value::as_str).unwrap_or_default().to_string();
    let use_up = Statement::new("DELETE FROM mfa_challenges WHERE id = ?", vec![challenge_id.clone().into()]);
    let mut batch = vec![use_up.clone().expect_changes(1)];
    let passed = match kind.as_str() {
        "email" | "phone" => match row.get(1) {
            Some(Value::Blob(stored)) => {
                let presented = secret_hash(&otp);
                stored.len() == presented.len() && bool::from(stored.ct_eq(&presented))
            }
            _ => false,
        },
        "totp" => match authenticator(ctx, &user.id).await?.filter(|a| a.verified) {
            Some(a) => match totp_step(&a.secret, &otp, now) {
                Some(step) => {
                    batch.push(use_totp_step(&user.id, step));
                    true
                }
                None => false,
            },
            None => false,
        },
        "recoverycode" => {
            let mut hit = None;
            for (i, code) in user.mfa_recovery_codes.iter().enumerate() {
                if code.len() == otp.len() && bool::from(code.as_bytes().ct_eq(otp.as_bytes())) {
                    hit = Some(i);
                }
            }
            match hit {
                Some(i) => {
                    let mut left = user.mfa_recovery_codes.clone();
                    left.remove(i);
                    // Compare-and-set: two concurrent uses of the same code cannot both pass.
                    batch.push(
                        Statement::new(
                            "UPDATE users SET mfa_recovery_codes = ? WHERE id = ? AND mfa_recovery_codes = ?",
                            vec![
                                json!(left).to_string().into(),
                                user.id.clone().into(),
                                json!(user.mfa_recovery_codes).to_string().into(),
                            ],
                        )
                        .expect_changes(1),
                    );
                    true
                }
                None => false,
            }
        }
        _ => false,
    };
    if !passed {
        // A wrong answer burns the challenge: each one allows a single guess.
        ctx.ports.sql.query(use_up).await.map_err(AppwriteError::internal)?;
        return Err(invalid_otp());
    }
    let (pass, session) = pass_factor(ctx, &session, &kind);
    batch.push(pass);
    ctx.ports.sql.batch(batch).await.map_err(|e| AppwriteError::from_store(e, invalid_otp))?;
    Ok(Response::json(200, &session.to_json(true, "")))
}

fn new_codes(ctx: &Ctx<'_>) -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| edgewrite_core::ids::random_hex(5, ctx.ports.random)).collect()
}

async fn store_codes(ctx: &Ctx<'_>, user_id: &str, codes: &[String]) -> Result<Response, AppwriteError> {
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE users SET mfa_recovery_codes = ?, updated_at = ? WHERE id = ?",
            vec![json!(codes).to_string().into(), Value::Integer(ctx.ports.clock.now_ms()), user_id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(200, &json!({ "recoveryCodes": codes })))
}

fn codes_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::UserRecoveryCodesNotFound, "Recovery codes have not been generated.")
}

/// `POST /account/mfa/recovery-codes`: once; afterwards regenerate.
pub async fn create_recovery_codes(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    create_codes_for(ctx, &user).await
}

async fn create_codes_for(ctx: &Ctx<'_>, user: &User) -> Result<Response, AppwriteError> {
    if !user.mfa_recovery_codes.is_empty() {
        return Err(AppwriteError::new(
            ErrorType::UserRecoveryCodesAlreadyExists,
            "Recovery codes have already been generated.",
        ));
    }
    let mut response = store_codes(ctx, &user.id, &new_codes(ctx)).await?;
    response.status = 201;
    Ok(response)
}

/// `GET /account/mfa/recovery-codes` (after a recent challenge).
pub async fn get_recovery_codes(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, session) = caller_session(ctx).await?;
    require_fresh(ctx, &session)?;
    if user.mfa_recovery_codes.is_empty() {
        return Err(codes_not_found());
    }
    Ok(Response::json(200, &json!({ "recoveryCodes": user.mfa_recovery_codes })))
}

/// `PATCH /account/mfa/recovery-codes`: a new set (after a recent challenge).
pub async fn regenerate_recovery_codes(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, session) = caller_session(ctx).await?;
    require_fresh(ctx, &session)?;
    if user.mfa_recovery_codes.is_empty() {
        return Err(codes_not_found());
    }
    store_codes(ctx, &user.id, &new_codes(ctx)).await
}

/// `GET /users/{userId}/mfa/recovery-codes`
pub async fn get_user_recovery_codes(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    if user.mfa_recovery_codes.is_empty() {
        return Err(codes_not_found());
    }
    Ok(Response::json(200, &json!({ "recoveryCodes": user.mfa_recovery_codes })))
}

/// `PATCH /users/{userId}/mfa/recovery-codes`: create.
pub async fn create_user_recovery_codes(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    create_codes_for(ctx, &user).await
}

/// `PUT /users/{userId}/mfa/recovery-codes`: regenerate.
pub async fn regenerate_user_recovery_codes(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    if user.mfa_recovery_codes.is_empty() {
        return Err(codes_not_found());
    }
    store_codes(ctx, &user.id, &new_codes(ctx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890"; the RFC shows 8 digits, these
        // are their last 6.
        let secret = b"12345678901234567890";
        for (t, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(totp_code(secret, (t / 30) as u64), code, "t={t}");
        }
        let b32 = base32_encode(secret);
        assert_eq!(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode(&b32).unwrap(), secret);
        assert_eq!(totp_step(&b32, "287082", 59_000), Some(1));
        assert_eq!(totp_step(&b32, "287082", 89_000), Some(1), "one step of drift");
        assert_eq!(totp_step(&b32, "287082", 200_000), None);
        assert_eq!(totp_step(&b32, "28708", 59_000), None);
    }

    #[test]
    fn secrets_round_trip_through_base32_in_any_case_and_padding() {
        for len in 0..=40u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37).wrapping_add(len)).collect();
            let b32 = base32_encode(&bytes);
            assert!(!b32.contains('='), "unpadded, as authenticator apps show it");
            assert_eq!(base32_decode(&b32).unwrap(), bytes);
            assert_eq!(base32_decode(&b32.to_lowercase()).unwrap(), bytes);
            let padded = format!("{b32}{}", "=".repeat((8 - b32.len() % 8) % 8));
            assert_eq!(base32_decode(&padded).unwrap(), bytes);
        }
        assert_eq!(base32_decode("not base32!"), None);
    }
}
