//! Sending the account flows' messages: the deployment's mail and SMS settings, the project's
//! name and the caller's locale, and Appwrite's answers when delivery is not configured.

use edgewrite_core::{AppwriteError, Ctx, ErrorType};
use edgewrite_mail::{Email, MailSettings, SmsSettings, Template};

/// The mail settings, or `503 general_smtp_disabled` when the deployment has none.
pub fn mail_settings(ctx: &Ctx<'_>) -> Result<MailSettings, AppwriteError> {
    match MailSettings::from_secrets(ctx.ports.secrets) {
        Ok(Some(settings)) => Ok(settings),
        Ok(None) => Err(AppwriteError::new(ErrorType::GeneralSmtpDisabled, "SMTP is disabled")),
        Err(e) => {
            tracing::error!(error = %e, "mail configuration");
            Err(AppwriteError::new(ErrorType::GeneralSmtpDisabled, "SMTP is misconfigured"))
        }
    }
}

/// The SMS settings, or `503 general_phone_disabled` when the deployment has none.
pub fn sms_settings(ctx: &Ctx<'_>) -> Result<SmsSettings, AppwriteError> {
    match SmsSettings::from_secrets(ctx.ports.secrets) {
        Ok(Some(settings)) => Ok(settings),
        Ok(None) => Err(AppwriteError::new(ErrorType::GeneralPhoneDisabled, "Phone provider not configured")),
        Err(e) => {
            tracing::error!(error = %e, "SMS configuration");
            Err(AppwriteError::new(ErrorType::GeneralPhoneDisabled, "Phone provider is misconfigured"))
        }
    }
}

/// The project's display name in messages (`EDGEWRITE_PROJECT_NAME`, else its id).
pub fn project_name(ctx: &Ctx<'_>) -> String {
    ctx.ports
        .secrets
        .get("EDGEWRITE_PROJECT_NAME")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| ctx.project.unwrap_or_default().to_string())
}

/// The caller's locale (`X-Appwrite-Locale`, as the SDKs send it).
fn locale(ctx: &Ctx<'_>) -> String {
    ctx.request.header("x-appwrite-locale").unwrap_or("en").to_string()
}

fn not_delivered(e: impl std::fmt::Display, what: &str) -> AppwriteError {
    tracing::error!(error = %e, "{what} delivery failed");
    AppwriteError::new(
        ErrorType::GeneralServerError,
        format!("The {what} could not be sent. Try again later."),
    )
}

/// Renders `template` for `to` and sends it.
pub async fn send_email(
    ctx: &Ctx<'_>,
    settings: &MailSettings,
    to: &str,
    to_name: &str,
    template: Template<'_>,
) -> Result<(), AppwriteError> {
    let rendered = edgewrite_mail::render(&template, &project_name(ctx), to_name, &locale(ctx));
    let email = Email {
        to: to.to_string(),
        to_name: to_name.to_string(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    };
    edgewrite_mail::send_email(
        ctx.ports.outbound,
        settings,
        &email,
        ctx.ports.clock.now_ms(),
        ctx.ports.random,
    )
    .await
    .map_err(|e| not_delivered(e, "email"))
}

/// Sends a one-time code by SMS.
pub async fn send_sms_code(
    ctx: &Ctx<'_>,
    settings: &SmsSettings,
    to: &str,
    code: &str,
) -> Result<(), AppwriteError> {
    let body = edgewrite_mail::render_sms_code(code, &project_name(ctx), &locale(ctx));
    edgewrite_mail::send_sms(ctx.ports.outbound, settings, to, &body)
        .await
        .map_err(|e| not_delivered(e, "SMS"))
}
