//! The providers' wire protocols: each provider kind's request, built from the provider's
//! decrypted settings and one message to one target, and what its answer means. Nothing here
//! reads the store; delivery (`crate::delivery`) decides what to send and records the outcome.
//!
//! Every request leaves through [`Outbound`]; base URLs come from [`Endpoints`] so tests can
//! point each provider at a loopback stand-in. Secrets never appear in a [`SendError`].

mod apns;
mod check;
mod email;
#[cfg(test)]
mod fake;
mod fcm;
mod http;
mod jose;
mod settings;
mod sigv4;
mod sms;

use edgewrite_core::ports::{Outbound, Random, Secrets};
use serde_json::{Map, Value as Json};

pub use check::{check_settings, missing_settings};

/// A provider kind, as Appwrite names it in `/messaging/providers/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Smtp,
    Mailgun,
    Sendgrid,
    Resend,
    Postmark,
    Ses,
    Twilio,
    Vonage,
    Textmagic,
    Telesign,
    Msg91,
    Fcm,
    Apns,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Smtp,
        Kind::Mailgun,
        Kind::Sendgrid,
        Kind::Resend,
        Kind::Postmark,
        Kind::Ses,
        Kind::Twilio,
        Kind::Vonage,
        Kind::Textmagic,
        Kind::Telesign,
        Kind::Msg91,
        Kind::Fcm,
        Kind::Apns,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Smtp => "smtp",
            Kind::Mailgun => "mailgun",
            Kind::Sendgrid => "sendgrid",
            Kind::Resend => "resend",
            Kind::Postmark => "postmark",
            Kind::Ses => "ses",
            Kind::Twilio => "twilio",
            Kind::Vonage => "vonage",
            Kind::Textmagic => "textmagic",
            Kind::Telesign => "telesign",
            Kind::Msg91 => "msg91",
            Kind::Fcm => "fcm",
            Kind::Apns => "apns",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// How error messages name it: `Mailgun`, `Amazon SES`, `APNs` …
    pub fn label(self) -> &'static str {
        match self {
            Kind::Smtp => "SMTP",
            Kind::Mailgun => "Mailgun",
            Kind::Sendgrid => "SendGrid",
            Kind::Resend => "Resend",
            Kind::Postmark => "Postmark",
            Kind::Ses => "Amazon SES",
            Kind::Twilio => "Twilio",
            Kind::Vonage => "Vonage",
            Kind::Textmagic => "Textmagic",
            Kind::Telesign => "Telesign",
            Kind::Msg91 => "MSG91",
            Kind::Fcm => "FCM",
            Kind::Apns => "APNs",
        }
    }

    /// The message type it delivers: `email`, `sms` or `push`.
    pub fn message_type(self) -> &'static str {
        match self {
            Kind::Smtp | Kind::Mailgun | Kind::Sendgrid | Kind::Resend | Kind::Postmark | Kind::Ses => {
                "email"
            }
            Kind::Twilio | Kind::Vonage | Kind::Textmagic | Kind::Telesign | Kind::Msg91 => "sms",
            Kind::Fcm | Kind::Apns => "push",
        }
    }
}

/// One provider's settings, decrypted: `credentials` and `options` keyed by the parameter names
/// of Appwrite's create-provider call (`apiKey`, `domain`, `fromEmail`, `serviceAccountJSON` …).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The provider's `$id` (caches are keyed by it).
    pub id: String,
    pub kind: Kind,
    pub credentials: Map<String, Json>,
    pub options: Map<String, Json>,
}

/// A file attached to an email (from storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// One email to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub to: String,
    /// The target's user's name; empty for none.
    pub to_name: String,
    pub subject: String,
    pub content: String,
    /// `content` is HTML (else plain text).
    pub html: bool,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub attachments: Vec<Attachment>,
}

/// One text message to one phone number (E.164, `+15550100`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    pub to: String,
    pub content: String,
}

/// One push notification to one device token.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushMessage {
    pub to: String,
    pub title: Option<String>,
    pub body: Option<String>,
    /// String values only reach FCM; other JSON values are sent as their JSON text.
    pub data: Map<String, Json>,
    pub action: Option<String>,
    pub image: Option<String>,
    pub icon: Option<String>,
    pub sound: Option<String>,
    pub color: Option<String>,
    pub tag: Option<String>,
    pub badge: Option<i64>,
    pub content_available: bool,
    pub critical: bool,
    /// `high` (default) or `normal`.
    pub priority: String,
}

/// Why one target's message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the provider answered 429 or 5xx, or could not be reached.
    #[error("{0}")]
    Retryable(String),
    /// Trying again will not help: the provider refused the message or its settings.
    #[error("{0}")]
    Permanent(String),
    /// The provider says the target no longer exists (an unregistered device token).
    #[error("{0}")]
    TargetExpired(String),
}

/// Base URLs of the providers' APIs: their public ones, or what `EDGEWRITE_MESSAGING_BASE_URLS`
/// (`kind=url,kind=url`) puts in their place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    overrides: Vec<(String, String)>,
}

impl Endpoints {
    pub fn from_secrets(secrets: &dyn Secrets) -> Endpoints {
        let raw = secrets.get("EDGEWRITE_MESSAGING_BASE_URLS").unwrap_or_default();
        Endpoints { overrides: edgewrite_core::config::url_overrides(&raw) }
    }

    /// The base URL for `key` (a kind's name, or `fcm-token`), without a trailing slash, or
    /// `default` when not overridden.
    pub fn base(&self, key: &str, default: &str) -> String {
        self.overrides
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| default.trim_end_matches('/').to_string(), |(_, v)| v.clone())
    }
}

/// What sending needs from the platform.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub outbound: &'a dyn Outbound,
    pub random: &'a dyn Random,
    pub now_ms: i64,
    pub endpoints: &'a Endpoints,
}

/// Sends one email through an email provider (`smtp`, `mailgun`, `sendgrid`, `resend`,
/// `postmark`, `ses`); any other kind is [`SendError::Permanent`].
pub async fn send_email(
    sender: Sender<'_>,
    provider: &ProviderConfig,
    message: &EmailMessage,
) -> Result<(), SendError> {
    let result = email::send(sender, provider, message).await;
    log_failure(provider, &result);
    result
}

/// Sends one text message through an SMS provider (`twilio`, `vonage`, `textmagic`,
/// `telesign`, `msg91`); any other kind is [`SendError::Permanent`].
pub async fn send_sms(
    sender: Sender<'_>,
    provider: &ProviderConfig,
    message: &SmsMessage,
) -> Result<(), SendError> {
    let result = sms::send(sender, provider, message).await;
    log_failure(provider, &result);
    result
}

/// Sends one push notification through `fcm` or `apns`; any other kind is
/// [`SendError::Permanent`].
pub async fn send_push(
    sender: Sender<'_>,
    provider: &ProviderConfig,
    message: &PushMessage,
) -> Result<(), SendError> {
    let settings = settings::Settings::of(provider);
    let result = match provider.kind {
        Kind::Fcm => fcm::send(sender, &settings, message).await,
        Kind::Apns => apns::send(sender, &settings, message).await,
        kind => Err(settings::wrong_type(kind, "push")),
    };
    log_failure(provider, &result);
    result
}

fn log_failure(provider: &ProviderConfig, result: &Result<(), SendError>) {
    // Error texts are already scrubbed of credentials, so they may be logged.
    if let Err(error) = result {
        tracing::debug!(provider = %provider.id, kind = provider.kind.name(), %error, "message not delivered");
    }
}
