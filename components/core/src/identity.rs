//! Who is calling (`appwrite-api.md` §1.3, §3): credentials as the SDKs send them, and the caller
//! they resolve to, with that caller's role and scopes.
//!
//! Resolution order is Appwrite's: session cookie (`a_session_<project>` or its `_legacy` twin) →
//! `X-Appwrite-Session` → `X-Fallback-Cookies` → `X-Appwrite-JWT`; `X-Appwrite-Key` makes the caller
//! an application. Verifying sessions and JWTs against stored state is the account capability's job
//! (through [`Authenticator`]); this module only extracts and classifies.

use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::{AppwriteError, ErrorType};
use crate::http::{percent_decode, Request};
use crate::ports::Ports;

/// Scopes every guest holds (Appwrite's `roles.php`, role `guests`).
pub const GUEST_SCOPES: &[&str] = &[
    "global",
    "public",
    "home",
    "console",
    "graphql",
    "sessions.write",
    "documents.read",
    "documents.write",
    "rows.read",
    "rows.write",
    "files.read",
    "files.write",
    "locale.read",
    "avatars.read",
    "execution.write",
    "executions.write",
    "embeddings.write",
];

/// Scopes a signed-in user holds on top of the guest ones (role `users`).
pub const USER_SCOPES: &[&str] = &[
    "account",
    "teams.read",
    "teams.write",
    "presences.read",
    "presences.write",
    "execution.read",
    "executions.read",
    "targets.read",
    "targets.write",
    "subscribers.read",
    "subscribers.write",
    "assistant.read",
    "projects.read",
];

/// Every scope an API key can hold: the scopes node-appwrite's `ProjectKeyScopes` offers (so any
/// key the SDK can describe can be created, whether or not edgewrite serves those routes yet), plus
/// the ones every caller has. The bootstrap key holds them all.
pub const API_KEY_SCOPES: &[&str] = &[
    "project.read",
    "project.write",
    "keys.read",
    "keys.write",
    "platforms.read",
    "platforms.write",
    "mocks.read",
    "mocks.write",
    "policies.read",
    "policies.write",
    "project.policies.read",
    "project.policies.write",
    "project.oauth2.read",
    "project.oauth2.write",
    "templates.read",
    "templates.write",
    "stages.read",
    "stages.write",
    "users.read",
    "users.write",
    "sessions.read",
    "sessions.write",
    "teams.read",
    "teams.write",
    "databases.read",
    "databases.write",
    "tables.read",
    "tables.write",
    "columns.read",
    "columns.write",
    "indexes.read",
    "indexes.write",
    "rows.read",
    "rows.write",
    "collections.read",
    "collections.write",
    "attributes.read",
    "attributes.write",
    "documents.read",
    "documents.write",
    "buckets.read",
    "buckets.write",
    "files.read",
    "files.write",
    "tokens.read",
    "tokens.write",
    "functions.read",
    "functions.write",
    "executions.read",
    "executions.write",
    "execution.read",
    "execution.write",
    "sites.read",
    "sites.write",
    "log.read",
    "log.write",
    "providers.read",
    "providers.write",
    "topics.read",
    "topics.write",
    "subscribers.read",
    "subscribers.write",
    "targets.read",
    "targets.write",
    "messages.read",
    "messages.write",
    "rules.read",
    "rules.write",
    "webhooks.read",
    "webhooks.write",
    "locale.read",
    "avatars.read",
    "health.read",
    "assistant.read",
    "migrations.read",
    "migrations.write",
    "schedules.read",
    "schedules.write",
    "vcs.read",
    "vcs.write",
    "insights.read",
    "insights.write",
    "reports.read",
    "reports.write",
    "presences.read",
    "presences.write",
    "backups.policies.read",
    "backups.policies.write",
    "archives.read",
    "archives.write",
    "restorations.read",
    "restorations.write",
    "domains.read",
    "domains.write",
    "events.read",
    "apps.read",
    "apps.write",
    "usage.read",
    "graphql",
    "public",
    "global",
];

/// `{"id": userId, "secret": sessionSecret}`, base64-encoded on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SessionCredential {
    pub id: String,
    pub secret: String,
}

impl SessionCredential {
    /// Decodes the cookie / header form. Garbage yields `None` (the caller stays a guest).
    pub fn decode(encoded: &str) -> Option<SessionCredential> {
        let encoded = encoded.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
            .ok()?;
        let cred: SessionCredential = serde_json::from_slice(&bytes).ok()?;
        (!cred.id.is_empty() && !cred.secret.is_empty()).then_some(cred)
    }

    pub fn encode(&self) -> String {
        let json = serde_json::json!({"id": self.id, "secret": self.secret});
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }
}

/// What the request carries, before anything is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub session: Option<SessionCredential>,
    pub jwt: Option<String>,
    pub api_key: Option<String>,
    /// Whom the caller asks to act as (`X-Appwrite-Impersonate-User-*`): honoured only for a
    /// signed-in user flagged as an impersonator.
    pub impersonate: Option<Impersonation>,
}

/// The user an impersonator picks, by id, email or phone (Appwrite's order of precedence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Impersonation {
    UserId(String),
    Email(String),
    Phone(String),
}

impl Impersonation {
    /// From `X-Appwrite-Impersonate-User-{Id,Email,Phone}`, each falling back to its query
    /// parameter (`impersonateuserid` or `impersonateUserId`, …) so that image and file URLs,
    /// which cannot carry headers, impersonate too.
    fn from_request(req: &Request) -> Option<Impersonation> {
        let pick = |suffix: &str, lower: &str, camel: &str| {
            req.header(&format!("x-appwrite-impersonate-user-{suffix}"))
                .map(str::to_string)
                .or_else(|| query_param(&req.query, lower).filter(|v| !v.is_empty()))
                .or_else(|| query_param(&req.query, camel))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        // Realtime connections outlive the request and are re-read by their session alone.
        if req.path == "/v1/realtime" {
            return None;
        }
        pick("id", "impersonateuserid", "impersonateUserId")
            .map(Impersonation::UserId)
            .or_else(|| pick("email", "impersonateemail", "impersonateEmail").map(Impersonation::Email))
            .or_else(|| pick("phone", "impersonatephone", "impersonatePhone").map(Impersonation::Phone))
    }
}

/// The cookie name holding a project's session.
pub fn session_cookie_name(project: &str) -> String {
    format!("a_session_{project}")
}

/// One decoded query parameter (read as `serve::project_of` reads `project`).
fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Credentials {
    pub fn from_request(req: &Request, project: &str) -> Credentials {
        let cookie_name = session_cookie_name(project);
        let legacy_name = format!("{cookie_name}_legacy");
        let from_cookie = req.cookie(&cookie_name).or_else(|| req.cookie(&legacy_name));
        let from_fallback = || {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(req.header("x-fallback-cookies")?).ok()?;
            map.get(&cookie_name)?.as_str().map(str::to_string)
        };
        let session = from_cookie
            .and_then(|v| SessionCredential::decode(&percent_decode(v)?))
            .or_else(|| req.header("x-appwrite-session").and_then(SessionCredential::decode))
            .or_else(|| from_fallback().and_then(|v| SessionCredential::decode(&v)));
        let non_empty = |h: &str| req.header(h).map(str::trim).filter(|v| !v.is_empty());
        // Browsers can't set headers on a WebSocket handshake: the web SDK passes its JWT as
        // `?jwt=` on the realtime URL. Blank is none, as for the header.
        let realtime_jwt = || {
            (req.path == "/v1/realtime")
                .then(|| query_param(&req.query, "jwt"))
                .flatten()
                .map(|j| j.trim().to_string())
                .filter(|j| !j.is_empty())
        };
        Credentials {
            session,
            jwt: non_empty("x-appwrite-jwt").map(str::to_string).or_else(realtime_jwt),
            api_key: non_empty("x-appwrite-key").map(str::to_string),
            impersonate: Impersonation::from_request(req),
        }
    }
}

/// The Appwrite role a caller acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Guests,
    Users,
    Applications,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guests => "guests",
            Role::Users => "users",
            Role::Applications => "applications",
        }
    }
}

/// A user authenticated by a session (cookie, header, fallback) or a JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCaller {
    pub user_id: String,
    pub session_id: String,
    /// Authenticated by `X-Appwrite-JWT` rather than the session secret.
    pub via_jwt: bool,
    /// When the credential stops being valid (unix ms): the session's expiry, or the JWT's if
    /// sooner. What outlives one request (a realtime connection) ends with it.
    pub expires_ms: Option<i64>,
    pub email: String,
    /// The user's name (initials are drawn from it).
    pub name: String,
    pub email_verified: bool,
    pub labels: Vec<String>,
    /// Confirmed team memberships, for the `team:` and `member:` roles.
    pub memberships: Vec<TeamMembership>,
    /// The user has MFA on and this session has not passed a second factor yet: every route
    /// but the few that complete the challenge answers `401 user_more_factors_required`.
    pub mfa_pending: bool,
    /// The user may impersonate others (`PATCH /users/{id}/impersonator`): it may list and read
    /// users to pick whom.
    pub impersonator: bool,
    /// Set when this caller is the target of an impersonation: the impersonator's user id. The
    /// request runs as the target, but the session and the audit trail stay the impersonator's.
    pub impersonated_by: Option<String>,
}

/// A confirmed membership of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMembership {
    pub membership_id: String,
    pub team_id: String,
    pub roles: Vec<String>,
}

/// The verified caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Guest,
    User(UserCaller),
    /// An API key with its scopes and expiry (unix ms; `None` never expires).
    App {
        key_id: String,
        scopes: Vec<String>,
        expire: Option<i64>,
    },
}

impl Caller {
    pub fn role(&self) -> Role {
        match self {
            Caller::Guest => Role::Guests,
            Caller::User(_) => Role::Users,
            Caller::App { .. } => Role::Applications,
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        match self {
            Caller::Guest => GUEST_SCOPES.contains(&scope),
            Caller::User(u) => {
                GUEST_SCOPES.contains(&scope)
                    || USER_SCOPES.contains(&scope)
                    // Appwrite's rule: an impersonator can browse users to choose a target, and
                    // keeps that while impersonating.
                    || (scope == "users.read" && (u.impersonator || u.impersonated_by.is_some()))
            }
            Caller::App { scopes, .. } => scopes.iter().any(|s| s == scope),
        }
    }

    /// The permission roles the caller holds (`appwrite-api.md` §2.1): `any`, `guests` or
    /// `users`, `users/verified|unverified`, `user:ID`, `user:ID/verified|unverified`, `label:X`,
    /// and for each confirmed membership `team:T`, `team:T/ROLE` and `member:M`.
    pub fn roles(&self) -> Vec<String> {
        let mut roles = vec!["any".to_string()];
        match self {
            Caller::Guest => roles.push("guests".into()),
            Caller::User(u) => {
                let status = if u.email_verified { "verified" } else { "unverified" };
                roles.push("users".into());
                roles.push(format!("users/{status}"));
                roles.push(format!("user:{}", u.user_id));
                roles.push(format!("user:{}/{status}", u.user_id));
                roles.extend(u.labels.iter().map(|l| format!("label:{l}")));
                for m in &u.memberships {
                    roles.push(format!("team:{}", m.team_id));
                    roles.extend(m.roles.iter().map(|r| format!("team:{}/{r}", m.team_id)));
                    roles.push(format!("member:{}", m.membership_id));
                }
            }
            Caller::App { .. } => {}
        }
        roles
    }

    /// A user whose session still owes its second factor: nobody yet, but for the routes that
    /// complete the challenge.
    pub fn owes_second_factor(&self) -> bool {
        self.user().is_some_and(|u| u.mfa_pending)
    }

    pub fn user(&self) -> Option<&UserCaller> {
        match self {
            Caller::User(u) => Some(u),
            _ => None,
        }
    }

    /// Callers exempt from abuse limits (Appwrite: API keys).
    pub fn skips_abuse_limits(&self) -> bool {
        matches!(self, Caller::App { .. })
    }

    /// `401 general_unauthorized_scope` unless the caller holds `scope`.
    /// `project` and `host` name an application caller the way Appwrite does.
    pub fn require_scope(&self, scope: &str, project: &str, host: &str) -> Result<(), AppwriteError> {
        if self.has_scope(scope) {
            return Ok(());
        }
        let who = match self {
            Caller::App { .. } => format!("app.{project}@service.{host}"),
            Caller::User(u) if !u.email.is_empty() => u.email.clone(),
            _ => "User".to_string(),
        };
        Err(AppwriteError::new(
            ErrorType::GeneralUnauthorizedScope,
            format!("{who} (role: {}) missing scopes ([\"{scope}\"])", self.role().as_str()),
        ))
    }
}

/// Verifies sessions, JWTs and stored API keys against the project's state; the account
/// capability implements it. Without one, requests with a session stay guests and only the
/// bootstrap key is known.
#[async_trait(?Send)]
pub trait Authenticator {
    /// The user a session credential or JWT belongs to; `None` when there is none or it is stale.
    async fn session(
        &self,
        credentials: &Credentials,
        ports: &Ports<'_>,
    ) -> Result<Option<Caller>, AppwriteError>;

    /// The application a stored API key belongs to; `None` for an unknown key. An expired key is
    /// an error (`project_key_expired`).
    async fn api_key(&self, key: &str, ports: &Ports<'_>) -> Result<Option<Caller>, AppwriteError>;
}

/// The deployment's bootstrap key (`EDGEWRITE_API_KEY`): checks a presented key in constant time.
pub fn verify_bootstrap_key(presented: &str, configured: Option<&str>) -> Option<Caller> {
    let configured = configured.filter(|k| !k.is_empty())?;
    // Compare digests so the comparison time does not depend on where the strings differ nor on
    // the configured key's length.
    use sha2::{Digest, Sha256};
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(configured.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Some(Caller::App {
            key_id: "bootstrap".to_string(),
            scopes: API_KEY_SCOPES.iter().map(|s| s.to_string()).collect(),
            expire: None,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut r = Request::from_url(Method::Get, "http://127.0.0.1/v1/account").unwrap();
        for (k, v) in headers {
            r.headers.append(k, *v);
        }
        r
    }

    #[test]
    fn session_is_read_from_cookie_then_header_then_fallback() {
        let cred = SessionCredential { id: "u1".into(), secret: "s3cret".into() };
        let enc = cred.encode();
        let cookie = format!("other=1; a_session_p1_legacy={enc}");
        assert_eq!(Credentials::from_request(&req(&[("cookie", &cookie)]), "p1").session, Some(cred.clone()));
        assert_eq!(
            Credentials::from_request(&req(&[("x-appwrite-session", &enc)]), "p1").session,
            Some(cred.clone())
        );
        let fallback = format!("{{\"a_session_p1\":\"{enc}\"}}");
        assert_eq!(
            Credentials::from_request(&req(&[("x-fallback-cookies", &fallback)]), "p1").session,
            Some(cred)
        );
        // Another project's cookie does not count.
        assert_eq!(Credentials::from_request(&req(&[("cookie", &cookie)]), "p2").session, None);
    }

    #[test]
    fn garbage_credentials_are_ignored() {
        for bad in ["", "!!!", "e30=", "bnVsbA==", "eyJpZCI6MX0="] {
            assert_eq!(SessionCredential::decode(bad), None, "{bad}");
        }
        let c = Credentials::from_request(
            &req(&[("x-fallback-cookies", "[]"), ("cookie", "a_session_p=%%%")]),
            "p",
        );
        assert_eq!(c.session, None);
        // Found by the fuzzer (`components/fuzz/corpus/cookies/crash-e8c4677c0cf22bc3`).
        let mut realtime = req(&[("x-appwrite-jwt", " ")]);
        (realtime.path, realtime.query) = ("/v1/realtime".into(), "jwt=%20".into());
        assert_eq!(Credentials::from_request(&realtime, "p").jwt, None, "a blank JWT is none");
    }

    #[test]
    fn scope_errors_name_the_role() {
        let err = Caller::Guest.require_scope("account", "p", "h").unwrap_err();
        assert_eq!(err.kind, ErrorType::GeneralUnauthorizedScope);
        assert_eq!(err.message, "User (role: guests) missing scopes ([\"account\"])");
        assert!(Caller::Guest.require_scope("locale.read", "p", "h").is_ok());
    }

    #[test]
    fn users_hold_their_roles() {
        let user = Caller::User(UserCaller {
            user_id: "u1".into(),
            session_id: "s1".into(),
            via_jwt: false,
            expires_ms: None,
            email: "a@b.c".into(),
            name: "A".into(),
            email_verified: true,
            labels: vec!["vip".into()],
            memberships: vec![TeamMembership {
                membership_id: "m1".into(),
                team_id: "t1".into(),
                roles: vec!["owner".into()],
            }],
            mfa_pending: false,
            impersonator: false,
            impersonated_by: None,
        });
        assert_eq!(
            user.roles(),
            [
                "any",
                "users",
                "users/verified",
                "user:u1",
                "user:u1/verified",
                "label:vip",
                "team:t1",
                "team:t1/owner",
                "member:m1"
            ]
        );
        assert_eq!(Caller::Guest.roles(), ["any", "guests"]);
        assert_eq!(
            user.require_scope("health.read", "p", "h").unwrap_err().message,
            "a@b.c (role: users) missing scopes ([\"health.read\"])"
        );
        assert!(!user.has_scope("users.read"));
        let Caller::User(mut u) = user else { unreachable!() };
        u.impersonator = true;
        assert!(Caller::User(u.clone()).has_scope("users.read"));
        assert!(!Caller::User(u.clone()).has_scope("users.write"));
        u.impersonator = false;
        u.impersonated_by = Some("boss".into());
        assert!(Caller::User(u).has_scope("users.read"));
    }

    #[test]
    fn impersonation_is_read_from_headers_then_query_by_id_email_phone() {
        let target = |headers: &[(&str, &str)], query: &str| {
            let mut r = req(headers);
            r.query = query.to_string();
            Credentials::from_request(&r, "p").impersonate
        };
        assert_eq!(target(&[], ""), None);
        assert_eq!(target(&[("x-appwrite-impersonate-user-id", " ")], "impersonateuserid="), None);
        assert_eq!(
            target(
                &[("x-appwrite-impersonate-user-email", "b@x.io"), ("x-appwrite-impersonate-user-id", "u2")],
                ""
            ),
            Some(Impersonation::UserId("u2".into()))
        );
        assert_eq!(target(&[], "impersonateEmail=b%40x.io"), Some(Impersonation::Email("b@x.io".into())));
        assert_eq!(target(&[], "impersonatephone=%2B1555"), Some(Impersonation::Phone("+1555".into())));
        let mut realtime = req(&[("x-appwrite-impersonate-user-id", "u2")]);
        realtime.path = "/v1/realtime".into();
        assert_eq!(Credentials::from_request(&realtime, "p").impersonate, None);
    }

    #[test]
    fn bootstrap_key_must_match_exactly() {
        assert!(verify_bootstrap_key("k", Some("k")).is_some());
        assert!(verify_bootstrap_key("k ", Some("k")).is_none());
        assert!(verify_bootstrap_key("", Some("")).is_none());
        assert!(verify_bootstrap_key("k", None).is_none());
    }
}
