//! The messages of Appwrite's account flows (`appwrite-api.md` §4: verification, recovery, magic
//! URL, email and phone OTP, team invitations, MFA challenges): their templates, and their
//! delivery by SMTP, a mail provider's HTTP API, or Twilio.
//!
//! Architecture invariant: this crate knows nothing of Workers or Spin. Every byte leaves through
//! [`edgewrite_core::ports::Outbound`]; settings come from [`edgewrite_core::ports::Secrets`].
//! Passwords, API keys and tokens never appear in an error message or a log.
//!
//! ```no_run
//! # async fn example(ports: edgewrite_core::ports::Ports<'_>) -> Result<(), Box<dyn std::error::Error>> {
//! use edgewrite_mail::{render, send_email, Email, MailSettings, Template};
//!
//! let Some(settings) = MailSettings::from_secrets(ports.secrets)? else {
//!     return Ok(()); // Appwrite answers 503 general_smtp_disabled here
//! };
//! let rendered = render(&Template::Verification { url: "https://acme.test/verify?secret=…" }, "Acme", "Jane", "en");
//! let email = Email {
//!     to: "jane@example.com".into(),
//!     to_name: "Jane".into(),
//!     subject: rendered.subject,
//!     text: rendered.text,
//!     html: rendered.html,
//! };
//! send_email(ports.outbound, &settings, &email, ports.clock.now_ms(), ports.random).await?;
//! # Ok(()) }
//! ```

mod config;
mod mime;
mod providers;
mod smtp;
mod templates;

use edgewrite_core::ports::{Outbound, Random};
use thiserror::Error;

pub use config::{
    ApiSettings, ConfigError, MailApi, MailSettings, SmsProvider, SmsSettings, SmtpSecurity, SmtpSettings,
    Transport,
};
pub use templates::{render, render_sms_code, Rendered, Template};

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliveryError {
    /// The server or provider could not be reached, or the connection broke.
    #[error("mail/SMS connection failed: {0}")]
    Connection(String),
    /// The server or provider refused; the message quotes its (bounded) reply.
    #[error("mail/SMS delivery refused: {0}")]
    Rejected(String),
    /// Nothing was sent because it would have been unsafe or malformed (a line break in a
    /// header, no STARTTLS on offer), or the server spoke something other than SMTP.
    #[error("mail/SMS protocol error: {0}")]
    Protocol(String),
}

/// One email to one recipient; `subject`, `text` and `html` usually come from [`render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    /// The recipient's display name; empty for none.
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Delivers `email` the way `settings` say. `now_ms` dates the message; `random` makes its
/// `Message-ID` and MIME boundary.
pub async fn send_email(
    outbound: &dyn Outbound,
    settings: &MailSettings,
    email: &Email,
    now_ms: i64,
    random: &dyn Random,
) -> Result<(), DeliveryError> {
    mime::check_email(settings, email)?;
    let result = match &settings.transport {
        Transport::Smtp(smtp) => {
            let message = mime::build(settings, email, now_ms, random);
            let envelope =
                smtp::Envelope { from: &settings.from, to: &email.to, helo: mime::domain_of(&settings.from) };
            smtp::send(outbound, smtp, &envelope, &message).await
        }
        Transport::Api(api) => providers::send_email(outbound, settings, api, email).await,
    };
    if let Err(error) = &result {
        tracing::debug!(%error, "email not delivered");
    }
    result
}

/// Sends the text message `body` to the number `to` (E.164, `+15550100`).
pub async fn send_sms(
    outbound: &dyn Outbound,
    settings: &SmsSettings,
    to: &str,
    body: &str,
) -> Result<(), DeliveryError> {
    let result = providers::send_sms(outbound, settings, to, body).await;
    if let Err(error) = &result {
        tracing::debug!(%error, "text message not delivered");
    }
    result
}
