//! Session verification for every capability: resolves the session credential or JWT a request
//! carries into a [`Caller`] (`appwrite-api.md` §1.3). One SQL round trip per request.

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgewrite_core::identity::{Authenticator, Caller, Credentials, Impersonation, UserCaller};
use edgewrite_core::ports::{CachedRead, Ports, Rows, Statement, Value};
use edgewrite_core::{AppwriteError, ErrorType};

use crate::jwt;
use crate::store::{secret_hash, Session, User, SESSION_COLUMNS, USER_COLUMNS};

/// The account capability's [`Authenticator`]: sessions, JWTs and stored API keys.
pub struct AccountAuthenticator;

/// `s.…` session columns then `u.…` user columns, built once (it is on every signed-in request).
fn joined_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let s = SESSION_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
        let u = USER_COLUMNS.split(", ").map(|c| format!("u.{}", c.trim())).collect::<Vec<_>>().join(", ");
        // Last: whether the user has a verified TOTP authenticator, for the MFA requirement.
        format!(
            "{s}, {u}, (SELECT count(*) FROM mfa_authenticators a WHERE a.user_id = u.id AND a.verified = 1)"
        )
    })
}

/// How many of a joined row's columns are the session's.
const SESSION_COLUMN_COUNT: usize = {
    let bytes = SESSION_COLUMNS.as_bytes();
    let (mut i, mut n) = (0, 1);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
};

/// The session, its user, and whether that user must pass a second factor on this session.
fn session_and_user(row: &[Value]) -> Option<(Session, User, bool)> {
    let (session, user) = row.split_at_checked(SESSION_COLUMN_COUNT)?;
    let (session, user) = (Session::from_row(session)?, User::from_row(user)?);
    let totp = row.last().and_then(Value::as_i64).unwrap_or(0) > 0;
    let mfa_pending = crate::mfa::second_factor_pending(&user, totp, &session.factors);
    Some((session, user, mfa_pending))
}

fn caller(
    session_id: &str,
    user: &User,
    (via_jwt, expires_ms): (bool, Option<i64>),
    mfa_pending: bool,
    memberships: Option<&Rows>,
) -> Result<Caller, AppwriteError> {
    if !user.status {
        return Err(AppwriteError::new(ErrorType::UserBlocked, "The current user has been blocked."));
    }
    Ok(Caller::User(UserCaller {
        user_id: user.id.clone(),
        session_id: session_id.to_string(),
        via_jwt,
        expires_ms,
        email: user.email.clone().unwrap_or_default(),
        name: user.name.clone(),
        email_verified: user.email_verification,
        labels: user.labels.clone(),
        memberships: memberships.map(crate::teams::caller_memberships).unwrap_or_default(),
        mfa_pending,
        impersonator: user.impersonator,
        impersonated_by: None,
    }))
}

/// The target of an impersonation as the caller, when `actor` may impersonate and asked to:
/// the target's roles and memberships, the impersonator's session, expiry and second-factor
/// state. An unknown target leaves the impersonator acting as itself (Appwrite's behaviour).
async fn impersonate(
    actor: Caller,
    wanted: Option<&Impersonation>,
    ports: &Ports<'_>,
) -> Result<Caller, AppwriteError> {
    let (Caller::User(me), Some(wanted)) = (&actor, wanted) else {
        return Ok(actor);
    };
    if !me.impersonator || me.mfa_pending {
        return Ok(actor);
    }
    let (column, value) = match wanted {
        Impersonation::UserId(id) => ("id", id.clone()),
        Impersonation::Email(email) => ("email", email.to_lowercase()),
        Impersonation::Phone(phone) => ("phone", phone.clone()),
    };
    let target_id = format!("(SELECT id FROM users WHERE {column} = ?)");
    let out = ports
        .sql
        .batch(vec![
            Statement::new(
                format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?"),
                vec![value.clone().into()],
            ),
            crate::teams::caller_memberships_statement(&target_id, vec![value.into()]),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let Some(target) = out.first().and_then(User::first) else {
        return Ok(actor);
    };
    if target.id == me.user_id {
        return Ok(actor);
    }
    let Caller::User(mut acting) =
        caller(&me.session_id, &target, (me.via_jwt, me.expires_ms), me.mfa_pending, out.get(1))?
    else {
        unreachable!("caller() builds users");
    };
    acting.impersonator = false;
    acting.impersonated_by = Some(me.user_id.clone());
    // The audit trail: who acted as whom (the platform's log keeps it).
    tracing::info!(impersonator = %me.user_id, target = %acting.user_id, "impersonation");
    Ok(Caller::User(acting))
}

fn jwt_invalid() -> AppwriteError {
    AppwriteError::new(ErrorType::UserJwtInvalid, "Failed to verify JWT. Invalid token: Expired")
}

/// The unverified `{userId, sessionId}` of a JWT, to fetch what verifying it needs in one trip.
fn peek_claims(token: &str) -> Option<jwt::Claims> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The caller a live connection stands for, read again by its session id (no secret): `None`
/// once the session ended or expired, or the user was deleted or blocked. Realtime connections
/// use it when a write changed who the user is. A session-less JWT (`session_id` empty) stands
/// for the user alone.
pub async fn reload_caller(
    ports: &Ports<'_>,
    user_id: &str,
    session_id: &str,
    via_jwt: bool,
) -> Option<Caller> {
    let now = ports.clock.now_ms();
    let user_statement = if session_id.is_empty() {
        Statement::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"), vec![user_id.into()])
    } else {
        Statement::new(
            format!(
                "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = ? AND s.user_id = ? AND s.expire > ?",
                joined_columns()
            ),
            vec![session_id.into(), user_id.into(), Value::Integer(now)],
        )
    };
    let memberships = crate::teams::caller_memberships_statement("?", vec![user_id.into()]);
    let out = ports.sql.batch(vec![user_statement, memberships]).await.ok()?;
    let row = out.first()?.rows.first()?;
    // The expiry of a JWT is not known here: the connection keeps the one it started with.
    let (user, pending, expires) = if session_id.is_empty() {
        (User::from_row(row)?, false, None)
    } else {
        session_and_user(row).map(|(s, u, pending)| (u, pending, Some(s.expire)))?
    };
    // A session still owing its second factor is nobody yet.
    caller(session_id, &user, (via_jwt, expires), pending, out.get(1))
        .ok()
        .filter(|c| !c.owes_second_factor())
}

#[async_trait(?Send)]
impl Authenticator for AccountAuthenticator {
    async fn session(
        &self,
        credentials: &Credentials,
        ports: &Ports<'_>,
    ) -> Result<Option<Caller>, AppwriteError> {
        match signed_in(credentials, ports).await? {
            Some(actor) => impersonate(actor, credentials.impersonate.as_ref(), ports).await.map(Some),
            None => Ok(None),
        }
    }

    async fn api_key(&self, key: &str, ports: &Ports<'_>) -> Result<Option<Caller>, AppwriteError> {
        crate::keys::authenticate(key, ports).await
    }
}

/// The user the session credential or JWT stands for.
async fn signed_in(credentials: &Credentials, ports: &Ports<'_>) -> Result<Option<Caller>, AppwriteError> {
    let now = ports.clock.now_ms();
    let columns = joined_columns();
    let mut found = None;
    if let Some(cred) = &credentials.session {
        let hash = Value::Blob(secret_hash(&cred.secret));
        // Every signed-in request asks this, so it may come from the object's identity cache:
        // the statements leave the clock out and the expiry is checked here.
        let out = ports
            .sql
            .batch(vec![
                Statement::new(
                    format!(
                        "SELECT {columns} FROM sessions s JOIN users u ON u.id = s.user_id
                         WHERE s.secret_hash = ?"
                    ),
                    vec![hash.clone()],
                )
                .cached(CachedRead::Identity),
                crate::teams::caller_memberships_statement(
                    "(SELECT user_id FROM sessions WHERE secret_hash = ?)",
                    vec![hash],
                )
                .cached(CachedRead::Identity),
            ])
            .await
            .map_err(AppwriteError::internal)?;
        found = out
            .first()
            .and_then(|r| r.rows.first())
            .and_then(|r| session_and_user(r))
            .filter(|(s, _, _)| s.user_id == cred.id && s.expire > now)
            .map(|(s, u, pending)| (s, u, pending, out.get(1).cloned()));
    }
    let Some(token) = &credentials.jwt else {
        return found
            .map(|(s, u, pending, m)| caller(&s.id, &u, (false, Some(s.expire)), pending, m.as_ref()))
            .transpose();
    };
    if found.is_some() {
        return Err(AppwriteError::new(
            ErrorType::UserJwtAndCookieSet,
            "Cannot use both a JWT and a session at the same time. Remove one of them.",
        ));
    }
    let claims = peek_claims(token).ok_or_else(jwt_invalid)?;
    let mut batch = vec![jwt::secret_read_statement()];
    // A JWT minted by `POST /users/{id}/jwts` without a session stands for the user alone.
    let user_statement = if claims.session_id.is_empty() {
        Statement::new(
            format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"),
            vec![claims.user_id.clone().into()],
        )
    } else {
        Statement::new(
            format!(
                "SELECT {columns} FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = ? AND s.user_id = ? AND s.expire > ?"
            ),
            vec![claims.session_id.clone().into(), claims.user_id.clone().into(), Value::Integer(now)],
        )
    };
    batch.push(user_statement);
    batch.push(crate::teams::caller_memberships_statement("?", vec![claims.user_id.clone().into()]));
    let out = ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    let secret = jwt::secret_from(out.first()).map_err(|_| jwt_invalid())?;
    if jwt::decode(token, &secret, now / 1000).is_none() {
        return Err(jwt_invalid());
    }
    let row = out.get(1).and_then(|r| r.rows.first()).ok_or_else(jwt_invalid)?;
    let jwt_expiry = claims.exp.saturating_mul(1000);
    let (user, pending, expires) = if claims.session_id.is_empty() {
        // A password change ends the JWTs minted before it (those of a session end with it).
        User::from_row(row)
            .filter(|u| u.password_updated_at.is_none_or(|at| claims.iat >= at.div_euclid(1000)))
            .map(|u| (u, false, jwt_expiry))
    } else {
        session_and_user(row).map(|(s, u, pending)| (u, pending, jwt_expiry.min(s.expire)))
    }
    .ok_or_else(jwt_invalid)?;
    caller(&claims.session_id, &user, (true, Some(expires)), pending, out.get(2)).map(Some)
}
