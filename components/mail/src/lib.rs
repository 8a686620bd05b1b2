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
mod message;
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
pub use message::{build_message, check_message, Attachment, Message};
pub use mime::check_address;
pub use providers::provider_mailbox;
pub use smtp::SmtpFailure;
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
            let to = [email.to.as_str()];
            let envelope =
                smtp::Envelope { from: &settings.from, to: &to, helo: mime::domain_of(&settings.from) };
            smtp::send(outbound, smtp, &envelope, &message).await.map_err(|failure| failure.error)
        }
        Transport::Api(api) => providers::send_email(outbound, settings, api, email).await,
    };
    if let Err(error) = &result {
        tracing::debug!(%error, "email not delivered");
    }
    result
}

/// Delivers a message built by [`build_message`] over SMTP to every address in `recipients`
/// (the envelope: To, Cc and Bcc alike), from `from`. A refused recipient fails the whole message.
pub async fn send_smtp(
    outbound: &dyn Outbound,
    smtp: &SmtpSettings,
    from: &str,
    recipients: &[&str],
    message: &str,
) -> Result<(), SmtpFailure> {
    let refuse = |error| SmtpFailure { error, transient: false };
    message::address("sender address", from).map_err(refuse)?;
    for to in recipients {
        message::address("recipient address", to).map_err(refuse)?;
    }
    if recipients.is_empty() {
        return Err(refuse(DeliveryError::Protocol("a message needs at least one recipient".into())));
    }
    let envelope = smtp::Envelope { from, to: recipients, helo: mime::domain_of(from) };
    let result = smtp::send(outbound, smtp, &envelope, message).await;
    if let Err(failure) = &result {
        tracing::debug!(error = %failure.error, "SMTP message not delivered");
    }
    result
}

/// The RFC 5322 form of a mailbox for a message header: `"Name" <address>`, with RFC 2047
/// encoded-words for a name quoting cannot carry, or the bare address for an empty name.
pub fn header_mailbox(name: &str, address: &str) -> String {
    mime::mailbox(name, address)
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
