//! The providers: their names as Appwrite spells them, their public endpoints, scopes, whether
//! they take PKCE, and how their user information reads.

use serde_json::Value as Json;

use crate::{OAuthError, ProviderUser};

/// A sign-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Any OpenID Connect provider, found from its discovery document.
    Oidc,
    Google,
    Github,
    Apple,
    Microsoft,
    Discord,
    Gitlab,
    Facebook,
    Slack,
    Spotify,
    Linkedin,
    Twitch,
}

/// Every provider, in the order the README documents them.
pub static PROVIDERS: &[Provider] = &[
    Provider::Oidc,
    Provider::Google,
    Provider::Github,
    Provider::Apple,
    Provider::Microsoft,
    Provider::Discord,
    Provider::Gitlab,
    Provider::Facebook,
    Provider::Slack,
    Provider::Spotify,
    Provider::Linkedin,
    Provider::Twitch,
];

impl Provider {
    /// The name in Appwrite's routes (`/account/sessions/oauth2/{provider}`).
    pub fn name(self) -> &'static str {
        match self {
            Provider::Oidc => "oidc",
            Provider::Google => "google",
            Provider::Github => "github",
            Provider::Apple => "apple",
            Provider::Microsoft => "microsoft",
            Provider::Discord => "discord",
            Provider::Gitlab => "gitlab",
            Provider::Facebook => "facebook",
            Provider::Slack => "slack",
            Provider::Spotify => "spotify",
            Provider::Linkedin => "linkedin",
            Provider::Twitch => "twitch",
        }
    }

    /// The name as Appwrite's messages write it.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Oidc => "OpenID Connect",
            Provider::Google => "Google",
            Provider::Github => "GitHub",
            Provider::Apple => "Apple",
            Provider::Microsoft => "Microsoft",
            Provider::Discord => "Discord",
            Provider::Gitlab => "GitLab",
            Provider::Facebook => "Facebook",
            Provider::Slack => "Slack",
            Provider::Spotify => "Spotify",
            Provider::Linkedin => "LinkedIn",
            Provider::Twitch => "Twitch",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        PROVIDERS.iter().copied().find(|p| p.name() == name)
    }

    /// The scopes asked for besides the app's own.
    pub fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Provider::Oidc => &["openid", "profile", "email"],
            Provider::Google => &["openid", "email", "profile"],
            Provider::Github => &["read:user", "user:email"],
            Provider::Apple => &["name", "email"],
            Provider::Microsoft => &["openid", "offline_access", "User.Read"],
            Provider::Discord => &["identify", "email"],
            Provider::Gitlab => &["read_user"],
            Provider::Facebook => &["email", "public_profile"],
            Provider::Slack => &["openid", "email", "profile"],
            Provider::Spotify => &["user-read-email", "user-read-private"],
            Provider::Linkedin => &["openid", "profile", "email"],
            Provider::Twitch => &["user:read:email"],
        }
    }

    /// Whether the provider takes a PKCE challenge (S256) with the authorization request.
    pub fn pkce(self) -> bool {
        !matches!(self, Provider::Apple | Provider::Slack | Provider::Linkedin)
    }

    /// Whether the provider posts its answer to the callback (`response_mode=form_post`).
    pub fn form_post(self) -> bool {
        self == Provider::Apple
    }

    /// Whether the authorization request carries an OpenID Connect `nonce`.
    pub(crate) fn nonce(self) -> bool {
        matches!(
            self,
            Provider::Oidc | Provider::Apple | Provider::Google | Provider::Slack | Provider::Linkedin
        )
    }

    /// What Appwrite's project API (`/v1/project/oauth2/{provider}`) calls the client id and
    /// the client secret of this provider; Apple has no single secret (its key, key id and
    /// team id stand for it).
    pub fn credential_fields(self) -> (&'static str, Option<&'static str>) {
        match self {
            Provider::Apple => ("serviceId", None),
            Provider::Microsoft => ("applicationId", Some("applicationSecret")),
            Provider::Gitlab => ("applicationId", Some("secret")),
            Provider::Facebook => ("appId", Some("appSecret")),
            Provider::Linkedin => ("clientId", Some("primaryClientSecret")),
            _ => ("clientId", Some("clientSecret")),
        }
    }

    /// The origins the provider's endpoints live on (for Spin's `allowed_outbound_hosts`).
    pub fn origins(self) -> &'static [&'static str] {
        match self {
            Provider::Oidc => &[],
            Provider::Google => &[
                "https://accounts.google.com",
                "https://oauth2.googleapis.com",
                "https://openidconnect.googleapis.com",
            ],
            Provider::Github => &["https://github.com", "https://api.github.com"],
            Provider::Apple => &["https://appleid.apple.com"],
            Provider::Microsoft => &["https://login.microsoftonline.com", "https://graph.microsoft.com"],
            Provider::Discord => &["https://discord.com"],
            Provider::Gitlab => &["https://gitlab.com"],
            Provider::Facebook => &["https://www.facebook.com", "https://graph.facebook.com"],
            Provider::Slack => &["https://slack.com"],
            Provider::Spotify => &["https://accounts.spotify.com", "https://api.spotify.com"],
            Provider::Linkedin => &["https://www.linkedin.com", "https://api.linkedin.com"],
            Provider::Twitch => &["https://id.twitch.tv", "https://api.twitch.tv"],
        }
    }
}

/// Where each provider's endpoints really are, when not at their public origins:
/// `EDGEWRITE_OAUTH2_BASE_URLS`, `provider=scheme://host[:port]` pairs, comma-separated. Every
/// endpoint of a provider named there keeps its path and moves to that origin.
#[derive(Debug, Clone, Default)]
pub struct BaseUrls {
    overrides: Vec<(String, String)>,
}

impl BaseUrls {
    pub fn parse(raw: &str) -> BaseUrls {
        BaseUrls { overrides: edgewrite_core::config::url_overrides(raw) }
    }

    /// `url` (a provider's public endpoint) at the provider's overriding origin, if any.
    pub fn url(&self, provider: Provider, url: &str) -> String {
        let Some((_, base)) = self.overrides.iter().find(|(k, _)| k == provider.name()) else {
            return url.to_string();
        };
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let path = url[after_scheme..].find('/').map_or("", |i| &url[after_scheme + i..]);
        format!("{base}{path}")
    }

    /// Whether the deployment moved `provider`'s endpoints.
    pub fn overrides(&self, provider: Provider) -> bool {
        self.overrides.iter().any(|(k, _)| k == provider.name())
    }
}

/// A provider as a project configured it: Appwrite's `appId` and `secret`, where the secret is,
/// for some providers, a JSON object (Apple: `keyID`, `teamID`, `p8`; Microsoft:
/// `clientSecret`, `tenantID`; GitLab: `clientSecret`, `endpoint`; Google: `clientSecret`,
/// `prompt`; OpenID Connect: `clientSecret`, `wellKnownEndpoint` or the three endpoints,
/// `prompt`, `maxAge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub provider: Provider,
    pub app_id: String,
    pub secret: String,
}

impl ProviderConfig {
    fn secret_json(&self) -> Json {
        serde_json::from_str(&self.secret).unwrap_or(Json::Null)
    }

    /// A field of the JSON secret, trimmed; empty when absent.
    pub fn secret_field(&self, key: &str) -> String {
        self.secret_json()[key].as_str().unwrap_or_default().trim().to_string()
    }

    /// The client secret sent to the token endpoint (for Apple, a fresh signed JWT).
    pub(crate) fn client_secret(&self, now_secs: i64) -> Result<String, OAuthError> {
        match self.provider {
            Provider::Apple => crate::jose::apple_client_secret(
                &self.secret_field("teamID"),
                &self.secret_field("keyID"),
                &self.secret_field("p8"),
                &self.app_id,
                now_secs,
            ),
            Provider::Microsoft | Provider::Gitlab | Provider::Oidc | Provider::Google => {
                let value = self.secret_field("clientSecret");
                // A plain string is the secret itself (older settings).
                Ok(if value.is_empty() && !self.secret.trim_start().starts_with('{') {
                    self.secret.clone()
                } else {
                    value
                })
            }
            _ => Ok(self.secret.clone()),
        }
    }

    /// Whether the settings hold what the token endpoint needs: a client id, and a client
    /// secret (Apple: the key, its id and the team id).
    pub fn has_credentials(&self) -> bool {
        if self.app_id.trim().is_empty() {
            return false;
        }
        match self.provider {
            Provider::Apple => ["p8", "keyID", "teamID"].iter().all(|k| !self.secret_field(k).is_empty()),
            _ => self.client_secret(0).is_ok_and(|s| !s.trim().is_empty()),
        }
    }

    /// The `prompt` values the authorization request carries: Google's settings (`consent`
    /// unless set, so Google hands out a refresh token), OpenID Connect's (none unless set).
    pub fn prompt(&self) -> Vec<String> {
        let set: Vec<String> = self.secret_json()["prompt"]
            .as_array()
            .map(|values| values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        match self.provider {
            Provider::Google if set.is_empty() => vec!["consent".into()],
            Provider::Google | Provider::Oidc => set,
            _ => vec![],
        }
    }

    /// The user-information endpoint the settings name, in either spelling (`userinfoEndpoint`
    /// is the one of settings older than Appwrite 1.9); empty when they name none.
    pub fn user_info_endpoint(&self) -> String {
        match self.secret_field("userInfoEndpoint") {
            set if set.is_empty() => self.secret_field("userinfoEndpoint"),
            set => set,
        }
    }

    /// OpenID Connect's `max_age` (seconds since the user last authenticated), if set.
    pub fn max_age(&self) -> Option<i64> {
        match self.provider {
            Provider::Oidc => self.secret_json()["maxAge"].as_i64().filter(|n| *n >= 0),
            _ => None,
        }
    }

    /// Microsoft's tenant (`common` unless the secret names one).
    pub(crate) fn tenant(&self) -> String {
        let tenant = self.secret_field("tenantID");
        if tenant.is_empty() {
            "common".into()
        } else {
            tenant
        }
    }

    /// GitLab's origin: gitlab.com unless the secret names a self-managed instance.
    pub(crate) fn gitlab_origin(&self) -> String {
        let endpoint = self.secret_field("endpoint");
        if endpoint.is_empty() {
            "https://gitlab.com".into()
        } else {
            endpoint.trim_end_matches('/').to_string()
        }
    }
}

fn text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `true`, or the string `"true"` (Apple sends both).
fn truthy(value: &Json) -> bool {
    value.as_bool().unwrap_or(false) || value.as_str() == Some("true")
}

/// The user in `answers`: the provider's user-information responses in the order
/// [`user_endpoints`](crate::flow) asks them (GitHub: `/user`, then `/user/emails`), or the ID
/// token's claims for providers whose ID token is the user information (Apple, OpenID Connect
/// without a user-info endpoint). `apple_user` is the `user` form field Apple posts on a first
/// sign-in (the only place it gives the name).
pub(crate) fn map_user(
    provider: Provider,
    answers: &[Json],
    apple_user: Option<&str>,
) -> Result<ProviderUser, OAuthError> {
    let first = answers.first().cloned().unwrap_or(Json::Null);
    let missing = || OAuthError::Provider(format!("{}'s user information has no user id", provider.name()));
    let (id, email, verified, name) = match provider {
        Provider::Oidc | Provider::Google | Provider::Slack | Provider::Linkedin => {
            let name = text(&first["name"])
                .or_else(|| {
                    let full = [&first["given_name"], &first["family_name"]]
                        .iter()
                        .filter_map(|v| text(v))
                        .collect::<Vec<_>>()
                        .join(" ");
                    (!full.is_empty()).then_some(full)
                })
                .or_else(|| text(&first["preferred_username"]));
            (text(&first["sub"]), text(&first["email"]), truthy(&first["email_verified"]), name)
        }
        Provider::Apple => {
            let posted: Json = apple_user.and_then(|u| serde_json::from_str(u).ok()).unwrap_or(Json::Null);
            let name = [&posted["name"]["firstName"], &posted["name"]["lastName"]]
                .iter()
                .filter_map(|v| text(v))
                .collect::<Vec<_>>()
                .join(" ");
            (text(&first["sub"]), text(&first["email"]), truthy(&first["email_verified"]), Some(name))
        }
        Provider::Github => {
            let emails = answers.get(1).and_then(Json::as_array).cloned().unwrap_or_default();
            // The primary address when GitHub verified it; GitHub's profile `email` is whatever
            // the user typed as public and proves nothing.
            let primary = emails.iter().find(|e| truthy(&e["primary"]) && truthy(&e["verified"]));
            let email = primary.and_then(|e| text(&e["email"]));
            (
                text(&first["id"]),
                email.clone(),
                email.is_some(),
                text(&first["name"]).or_else(|| text(&first["login"])),
            )
        }
        Provider::Microsoft => {
            // Microsoft Graph's `mail` is an attribute tenants set freely; it is never a
            // verified address (the "nOAuth" account takeovers came from trusting it).
            let email = text(&first["mail"])
                .or_else(|| text(&first["userPrincipalName"]).filter(|u| u.contains('@')));
            (text(&first["id"]), email, false, text(&first["displayName"]))
        }
        Provider::Discord => (
            text(&first["id"]),
            text(&first["email"]),
            truthy(&first["verified"]),
            text(&first["global_name"]).or_else(|| text(&first["username"])),
        ),
        Provider::Gitlab => (
            text(&first["id"]),
            text(&first["email"]),
            text(&first["confirmed_at"]).is_some(),
            text(&first["name"]).or_else(|| text(&first["username"])),
        ),
        // Facebook and Spotify do not say whether they verified the address.
        Provider::Facebook => (text(&first["id"]), text(&first["email"]), false, text(&first["name"])),
        Provider::Spotify => (
            text(&first["id"]),
            text(&first["email"]),
            false,
            text(&first["display_name"]).or_else(|| text(&first["id"])),
        ),
        Provider::Twitch => {
            let user = &first["data"][0];
            // Helix returns only the verified address, and only with `user:read:email`.
            let email = text(&user["email"]);
            (
                text(&user["id"]),
                email.clone(),
                email.is_some(),
                text(&user["display_name"]).or_else(|| text(&user["login"])),
            )
        }
    };
    let id = id.ok_or_else(missing)?;
    Ok(ProviderUser {
        id,
        email: email.map(|e| e.to_lowercase()),
        email_verified: verified,
        name: name.unwrap_or_default().chars().take(128).collect(),
    })
}
