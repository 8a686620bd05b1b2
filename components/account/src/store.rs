//! Users and sessions in the project's SQL (tables from `edgewrite-sql` migration 3), and their
//! Appwrite models (`appwrite-api.md` §12: User, Session).

use edgewrite_core::ports::{Rows, Statement, StoreError, Value};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType};
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

/// Columns read for a user, in this order.
pub const USER_COLUMNS: &str = "id, email, phone, name, password_hash, password_updated_at, status, labels, \
     email_verification, phone_verification, mfa, prefs, created_at, updated_at, accessed_at, password_history, hash_algo, hash_options, \
     mfa_recovery_codes, impersonator";

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: String,
    pub password_hash: Option<String>,
    pub password_updated_at: Option<i64>,
    pub status: bool,
    pub labels: Vec<String>,
    pub email_verification: bool,
    pub phone_verification: bool,
    pub mfa: bool,
    pub prefs: Map<String, Json>,
    pub created_at: i64,
    pub updated_at: i64,
    pub accessed_at: i64,
    /// Recent password hashes, newest last (only kept when the history policy is on).
    pub password_history: Vec<String>,
    /// `argon2`, or the algorithm of an imported hash (`bcrypt`, `scrypt`, …).
    pub hash_algo: String,
    pub hash_options: Json,
    /// Unused MFA recovery codes.
    pub mfa_recovery_codes: Vec<String>,
    /// May act as other users (Appwrite's `impersonator`).
    pub impersonator: bool,
}

fn text(row: &[Value], i: usize) -> Option<String> {
    row.get(i).and_then(Value::as_str).map(str::to_string)
}

fn int(row: &[Value], i: usize) -> Option<i64> {
    row.get(i).and_then(Value::as_i64)
}

impl User {
    /// A user from a row selected with [`USER_COLUMNS`].
    pub fn from_row(row: &[Value]) -> Option<User> {
        Some(User {
            id: text(row, 0)?,
            email: text(row, 1),
            phone: text(row, 2),
            name: text(row, 3).unwrap_or_default(),
            password_hash: text(row, 4),
            password_updated_at: int(row, 5),
            status: int(row, 6) != Some(0),
            labels: text(row, 7).and_then(|l| serde_json::from_str(&l).ok()).unwrap_or_default(),
            email_verification: int(row, 8) == Some(1),
            phone_verification: int(row, 9) == Some(1),
            mfa: int(row, 10) == Some(1),
            prefs: text(row, 11).and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default(),
            created_at: int(row, 12)?,
            updated_at: int(row, 13)?,
            accessed_at: int(row, 14).unwrap_or_default(),
            password_history: text(row, 15).and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
            hash_algo: text(row, 16).unwrap_or_else(|| "argon2".into()),
            hash_options: text(row, 17).and_then(|o| serde_json::from_str(&o).ok()).unwrap_or(Json::Null),
            mfa_recovery_codes: text(row, 18).and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
            impersonator: int(row, 19) == Some(1),
        })
    }

    pub fn first(rows: &Rows) -> Option<User> {
        rows.rows.first().and_then(|r| User::from_row(r))
    }

    /// Whether `plain` is this user's password (false for password-less users).
    pub fn password_matches(&self, ctx: &edgewrite_core::Ctx<'_>, plain: &str) -> bool {
        match &self.password_hash {
            Some(stored) => {
                crate::password::verify_for(ctx, plain, stored, &self.hash_algo, &self.hash_options, true)
            }
            None => false,
        }
    }

    /// Whether a successful login should replace the stored hash (imported, or older parameters).
    pub fn needs_rehash(&self, policy: &edgewrite_core::config::PasswordPolicy) -> bool {
        self.hash_algo != "argon2"
            || self.password_hash.as_deref().is_some_and(|h| crate::password::needs_rehash(h, policy))
    }

    /// What the personal-data password rule looks for.
    pub fn personal_data(&self) -> crate::password::PersonalData<'_> {
        crate::password::PersonalData {
            user_id: &self.id,
            name: &self.name,
            email: self.email.as_deref(),
            phone: self.phone.as_deref(),
        }
    }

    /// The User model with `targets`. `server` (API-key callers of `/users`) adds `password`,
    /// `hash` and `hashOptions`; the Account model omits them.
    pub fn to_json_with(&self, targets: &[crate::targets::Target], server: bool) -> Json {
        let mut model = json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "registration": iso_from_ms(self.created_at),
            "status": self.status,
            "labels": self.labels,
            "passwordUpdate": self.password_updated_at.map(iso_from_ms).unwrap_or_default(),
            "email": self.email.clone().unwrap_or_default(),
            "phone": self.phone.clone().unwrap_or_default(),
            "emailVerification": self.email_verification,
            "phoneVerification": self.phone_verification,
            "mfa": self.mfa,
            "prefs": Json::Object(self.prefs.clone()),
            "targets": targets.iter().map(crate::targets::Target::to_json).collect::<Vec<_>>(),
            "accessedAt": iso_from_ms(self.accessed_at),
            "impersonator": self.impersonator,
            // Set by `GET /account` when an impersonator is acting as this user.
            "impersonatorUserId": Json::Null,
        });
        if server {
            let mut options = self.hash_options.clone();
            if let Json::Object(map) = &mut options {
                map.entry("type").or_insert_with(|| json!(self.hash_algo));
                // The AlgoScrypt model has no salt; only scrypt-modified reports its inputs.
                if self.hash_algo == "scrypt" {
                    map.remove("salt");
                }
                // The AlgoSha model is its type alone; the SHA variant stays for verifying.
                if self.hash_algo == "sha" {
                    map.remove("version");
                }
                // A user without a password has no hash to describe: Appwrite reports its
                // default Argon2 options, which the AlgoArgon2 model requires.
                if self.hash_algo == "argon2" && !map.contains_key("memoryCost") {
                    map.insert("memoryCost".into(), json!(7168));
                    map.insert("timeCost".into(), json!(5));
                    map.insert("threads".into(), json!(1));
                }
            }
            model["password"] = json!(self.password_hash.clone().unwrap_or_default());
            model["hash"] = json!(self.hash_algo);
            model["hashOptions"] = options;
        }
        model
    }
}

/// SELECT one user by id.
pub fn select_user(id: &str) -> Statement {
    Statement::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"), vec![id.into()])
}

/// SHA-256 of a session secret: what is stored and looked up.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Columns read for a session, in this order.
pub const SESSION_COLUMNS: &str =
    "id, user_id, provider, provider_uid, factors, ip, created_at, updated_at, expire, mfa_updated_at, provider_access_token_expiry, country_code, user_agent";

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub provider_uid: String,
    pub factors: Vec<String>,
    pub ip: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub expire: i64,
    pub mfa_updated_at: Option<i64>,
    /// When an OAuth2 session's provider access token expires (the tokens stay sealed).
    pub provider_token_expiry: Option<i64>,
    /// The country the session was created from (`Request::country`), `--` when unknown.
    pub country_code: String,
    /// The `User-Agent` it was created with: the model's client, OS and device come from it.
    pub user_agent: String,
}

impl Session {
    pub fn from_row(row: &[Value]) -> Option<Session> {
        Some(Session {
            id: text(row, 0)?,
            user_id: text(row, 1)?,
            provider: text(row, 2).unwrap_or_default(),
            provider_uid: text(row, 3).unwrap_or_default(),
            factors: text(row, 4).and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
            ip: text(row, 5).unwrap_or_default(),
            created_at: int(row, 6)?,
            updated_at: int(row, 7)?,
            expire: int(row, 8)?,
            mfa_updated_at: int(row, 9),
            provider_token_expiry: int(row, 10),
            country_code: text(row, 11).filter(|c| !c.is_empty()).unwrap_or_else(|| "--".into()),
            user_agent: text(row, 12).unwrap_or_default(),
        })
    }

    /// The Session model; `secret` is the encoded credential, shown only to API-key callers and
    /// only when the session is created.
    pub fn to_json(&self, current: bool, secret: &str) -> Json {
        let agent = edgewrite_useragent::UserAgent::parse(&self.user_agent);
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "userId": self.user_id,
            "expire": iso_from_ms(self.expire),
            "provider": self.provider,
            "providerUid": self.provider_uid,
            "providerAccessToken": "",
            "providerAccessTokenExpiry": self.provider_token_expiry.map(iso_from_ms).unwrap_or_default(),
            "providerRefreshToken": "",
            "ip": self.ip,
            "osCode": agent.os.code,
            "osName": agent.os.name,
            "osVersion": agent.os.version,
            "clientType": agent.client.kind,
            "clientCode": agent.client.code,
            "clientName": agent.client.name,
            "clientVersion": agent.client.version,
            "clientEngine": agent.client.engine,
            "clientEngineVersion": agent.client.engine_version,
            "deviceName": agent.device.kind,
            "deviceBrand": agent.device.brand,
            "deviceModel": agent.device.model,
            "countryCode": self.country_code,
            // Appwrite names it in the request's locale; here in English.
            "countryName": edgewrite_locale::english_country_name(&self.country_code).unwrap_or("Unknown"),
            "current": current,
            "factors": self.factors,
            "secret": secret,
            "mfaUpdatedAt": self.mfa_updated_at.map(iso_from_ms).unwrap_or_default(),
        })
    }
}

/// Maps a failed user write: UNIQUE violations are `409 user_already_exists`.
/// Retires a deleted principal's id (`kind`: `user` or `team`) for good, in the delete's batch:
/// grants to it outlive it, and the schema (`retired_ids`, migration 14) refuses its reuse.
pub fn retire_id(kind: &str, id: &str, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT OR IGNORE INTO retired_ids (kind, id, retired_at) VALUES (?, ?, ?)",
        vec![kind.into(), id.into(), Value::Integer(now_ms)],
    )
}

/// The user whose `column` (a column name, never input) is `value`, if any.
pub async fn user_by(ctx: &Ctx<'_>, column: &str, value: &str) -> Result<Option<User>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?"),
            vec![value.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(User::first(&rows))
}

/// Stores an OAuth2 session's provider account, its sealed tokens and their expiry.
pub fn session_provider_tokens(
    session_id: &str,
    provider_uid: &str,
    sealed: Value,
    expiry: Option<i64>,
) -> Statement {
    Statement::new(
        "UPDATE sessions SET provider_uid = ?, provider_tokens = ?, provider_access_token_expiry = ? WHERE id = ?",
        vec![provider_uid.into(), sealed, expiry.map_or(Value::Null, Value::Integer), session_id.into()],
    )
}

pub fn user_write_error(e: StoreError) -> AppwriteError {
    match e {
        StoreError::Constraint(_) => AppwriteError::new(
            ErrorType::UserAlreadyExists,
            "A user with the same id, email, or phone already exists in this project.",
        ),
        other => AppwriteError::internal(other),
    }
}
