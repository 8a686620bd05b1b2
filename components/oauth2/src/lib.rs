//! Signing in with another service's account (OAuth 2.0, RFC 6749, with PKCE, RFC 7636, and
//! OpenID Connect Core 1.0): each provider's authorization URL, the code exchange at its token
//! endpoint, the checks of an ID token, and the mapping of its user information to the one
//! shape sign-in needs ([`ProviderUser`]). Only the `Outbound` port reaches the network; what
//! the flow stores and whom it signs in is `edgewrite-account`'s business.
//!
//! ```
//! use edgewrite_oauth2::Provider;
//! assert_eq!(Provider::from_name("github").map(|p| p.name()), Some("github"));
//! ```

mod flow;
pub mod jose;
mod providers;

pub use flow::{authorize_url, exchange, refresh, verify_credentials, AuthorizeRequest, Client, Exchange};
pub use providers::{BaseUrls, Provider, ProviderConfig, PROVIDERS};

/// What a sign-in learned about the provider's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUser {
    /// The provider's stable id of the user (never an email, which users change).
    pub id: String,
    /// The user's email, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider asserts the email belongs to the user (verified by it).
    pub email_verified: bool,
    pub name: String,
}

/// The provider's tokens from a code exchange or a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives, if the provider said.
    pub expires_in: Option<i64>,
    pub id_token: Option<String>,
}

impl Grant {
    /// When the access token expires (Unix ms), given the time it was granted; a provider's
    /// lifetime is held to 0–10 years.
    pub fn expires_at_ms(&self, now_ms: i64) -> Option<i64> {
        self.expires_in.map(|s| now_ms + s.clamp(0, 10 * 365 * 86_400) * 1000)
    }
}

/// Why a sign-in with a provider failed; each maps to one of Appwrite's `user_oauth2_*` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused the request (a bad or used code, a wrong redirect): 400
    /// `user_oauth2_bad_request`.
    #[error("the provider refused the request: {0}")]
    Refused(String),
    /// The user or the provider denied access (consent refused): 401 `user_oauth2_unauthorized`.
    #[error("the provider denied access: {0}")]
    Denied(String),
    /// The provider could not be reached, timed out or answered something unusable: 424
    /// `user_oauth2_provider_error`.
    #[error("the provider failed: {0}")]
    Provider(String),
    /// The deployment's settings for the provider are unusable (a malformed key or secret).
    #[error("the provider's settings are invalid: {0}")]
    Config(String),
}
