//! Email providers: SMTP through `edgewrite-mail`, and the HTTP APIs of Mailgun, SendGrid,
//! Resend, Postmark and Amazon SES (v2 `SendEmail`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::OutboundRequest;
use edgewrite_mail::{provider_mailbox, DeliveryError, Message, SmtpSecurity, SmtpSettings};
use serde_json::{json, Map, Value as Json};

use super::http::{self, FORM, JSON};
use super::settings::{wrong_type, Scrubber, Settings};
use super::sigv4::AwsSigner;
use super::{EmailMessage, Kind, ProviderConfig, SendError, Sender};

pub(super) async fn send(
    sender: Sender<'_>,
    provider: &ProviderConfig,
    message: &EmailMessage,
) -> Result<(), SendError> {
    let settings = Settings::of(provider);
    if provider.kind.message_type() != "email" {
        return Err(wrong_type(provider.kind, "email"));
    }
    let from = Origin::of(&settings)?;
    let scrubber = settings.scrubber();
    check(&settings, &from, message)?;
    if provider.kind == Kind::Smtp {
        return smtp(sender, &settings, &from, message, &scrubber).await;
    }
    let request = request(sender, &settings, &from, message)?;
    http::send(sender, settings.label, request, &scrubber).await.map(drop)
}

/// The HTTP request for an API provider.
fn request(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
) -> Result<OutboundRequest, SendError> {
    match settings.kind {
        Kind::Mailgun => mailgun(sender, settings, from, message),
        Kind::Sendgrid => sendgrid(sender, settings, from, message),
        Kind::Resend => resend(sender, settings, from, message),
        Kind::Postmark => postmark(sender, settings, from, message),
        Kind::Ses => ses(sender, settings, from, message),
        kind => Err(wrong_type(kind, "email")),
    }
}

/// Who a message is from, and where replies go, from the provider's options.
pub(super) struct Origin {
    email: String,
    name: String,
    reply_to: Option<(String, String)>,
}

impl Origin {
    fn of(settings: &Settings<'_>) -> Result<Origin, SendError> {
        let reply_to = settings
            .text("replyToEmail")
            .map(|email| (email.trim().to_string(), settings.text("replyToName").unwrap_or_default()));
        Ok(Origin {
            email: settings.required("fromEmail")?.trim().to_string(),
            name: settings.text("fromName").unwrap_or_default(),
            reply_to,
        })
    }

    fn mailbox(&self) -> String {
        provider_mailbox(&self.name, &self.email)
    }

    fn reply_to_mailbox(&self) -> Option<String> {
        self.reply_to.as_ref().map(|(email, name)| provider_mailbox(name, email))
    }
}

/// The message as `edgewrite-mail` builds it for SMTP (and SES's raw form): no Bcc header.
fn mime<'a>(from: &'a Origin, message: &'a EmailMessage) -> Message<'a> {
    Message {
        from: &from.email,
        from_name: &from.name,
        reply_to: from.reply_to.as_ref().map(|(email, _)| email.as_str()),
        reply_to_name: from.reply_to.as_ref().map_or("", |(_, name)| name.as_str()),
        to: &message.to,
        to_name: &message.to_name,
        cc: message.cc.iter().map(String::as_str).collect(),
        subject: &message.subject,
        body: &message.content,
        html: message.html,
        attachments: message
            .attachments
            .iter()
            .map(|a| edgewrite_mail::Attachment { name: &a.name, media_type: &a.media_type, bytes: &a.bytes })
            .collect(),
        mailer: "",
    }
}

/// The mail crate's header-injection checks, for every provider: an address with a line break
/// or a second address in it is refused before anything leaves.
fn check(settings: &Settings<'_>, from: &Origin, message: &EmailMessage) -> Result<(), SendError> {
    edgewrite_mail::check_message(&mime(from, message))
        .map_err(|error| SendError::Permanent(format!("{}: {}", settings.label, reason(&error))))?;
    for bcc in &message.bcc {
        edgewrite_mail::check_address(bcc).map_err(|reason| {
            SendError::Permanent(format!("{}: refusing the bcc address: {reason}", settings.label))
        })?;
    }
    Ok(())
}

async fn smtp(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
    scrubber: &Scrubber,
) -> Result<(), SendError> {
    let smtp = smtp_settings(settings)?;
    let mailer = settings.text("mailer").unwrap_or_default();
    let mut mime = mime(from, message);
    mime.mailer = &mailer;
    edgewrite_mail::check_message(&mime)
        .map_err(|_| settings.invalid("mailer", "it contains control characters"))?;
    let built = edgewrite_mail::build_message(&mime, sender.now_ms, sender.random);
    let recipients: Vec<&str> =
        std::iter::once(&message.to).chain(&message.cc).chain(&message.bcc).map(String::as_str).collect();
    let result = edgewrite_mail::send_smtp(sender.outbound, &smtp, &from.email, &recipients, &built).await;
    result.map_err(|failure| {
        let text = match &failure.error {
            DeliveryError::Connection(r) => format!("SMTP connection failed: {}", scrubber.quote(r)),
            // Already "SMTP <step>: <reply>".
            DeliveryError::Rejected(r) => scrubber.quote(r),
            DeliveryError::Protocol(r) => format!("SMTP: {}", scrubber.quote(r)),
        };
        if failure.transient {
            SendError::Retryable(text)
        } else {
            SendError::Permanent(text)
        }
    })
}

fn reason(error: &DeliveryError) -> &str {
    match error {
        DeliveryError::Connection(r) | DeliveryError::Rejected(r) | DeliveryError::Protocol(r) => r,
    }
}

/// The SMTP connection settings.
pub(super) fn smtp_settings(settings: &Settings<'_>) -> Result<SmtpSettings, SendError> {
    let host = settings.required("host")?.trim().to_string();
    if host.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/') {
        return Err(settings.invalid("host", "it is not a host name"));
    }
    let security = smtp_security(settings)?;
    let port = smtp_port(settings, security)?;
    let username = settings.text("username");
    let password = settings.text("password").unwrap_or_default();
    Ok(SmtpSettings { host, port, security, username, password })
}

/// `encryption` `ssl` is TLS from the first byte, `tls` is STARTTLS; `autoTLS` (Appwrite's
/// default) upgrades an unencrypted connection when the server offers STARTTLS.
pub(super) fn smtp_security(settings: &Settings<'_>) -> Result<SmtpSecurity, SendError> {
    let encryption = settings.text("encryption").unwrap_or_default().trim().to_ascii_lowercase();
    match encryption.as_str() {
        "ssl" => Ok(SmtpSecurity::Tls),
        "tls" => Ok(SmtpSecurity::StartTls),
        "" | "none" if settings.flag("autoTLS", true) => Ok(SmtpSecurity::StartTlsIfOffered),
        "" | "none" => Ok(SmtpSecurity::None),
        _ => Err(settings.invalid("encryption", "it is not none, ssl or tls")),
    }
}

pub(super) fn smtp_port(settings: &Settings<'_>, security: SmtpSecurity) -> Result<u16, SendError> {
    match settings.text("port") {
        None => Ok(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            // Appwrite's default; Cloudflare refuses port 25 anyway.
            SmtpSecurity::None | SmtpSecurity::StartTlsIfOffered => 587,
        }),
        Some(port) => match port.trim().parse::<u16>() {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(settings.invalid("port", "it is not a TCP port (1-65535)")),
        },
    }
}

fn mailgun(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
) -> Result<OutboundRequest, SendError> {
    let api_key = settings.required("apiKey")?;
    let domain = settings.required("domain")?;
    let default = if settings.flag("isEuRegion", false) {
        "https://api.eu.mailgun.net"
    } else {
        "https://api.mailgun.net"
    };
    let url =
        format!("{}/v3/{}/messages", sender.endpoints.base("mailgun", default), http::segment(domain.trim()));
    let mut fields = vec![("from", from.mailbox()), ("to", message.to.clone())];
    if !message.cc.is_empty() {
        fields.push(("cc", message.cc.join(",")));
    }
    if !message.bcc.is_empty() {
        fields.push(("bcc", message.bcc.join(",")));
    }
    fields.push(("subject", message.subject.clone()));
    fields.push((if message.html { "html" } else { "text" }, message.content.clone()));
    if let Some(reply_to) = from.reply_to_mailbox() {
        fields.push(("h:Reply-To", reply_to));
    }
    let auth = vec![("authorization", http::basic("api", &api_key))];
    if message.attachments.is_empty() {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &fields {
            form.append_pair(name, value);
        }
        return Ok(http::post(url, FORM, auth, form.finish().into_bytes()));
    }
    let mut form = http::Multipart::new(sender.random);
    for (name, value) in &fields {
        form.text(name, value);
    }
    for attachment in &message.attachments {
        form.file("attachment", &attachment.name, &attachment.media_type, &attachment.bytes);
    }
    let (content_type, body) = form.finish();
    Ok(http::post(url, &content_type, auth, body))
}

fn sendgrid(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
) -> Result<OutboundRequest, SendError> {
    let api_key = settings.required("apiKey")?;
    // SendGrid refuses an empty name; leave it out instead.
    let address = |email: &str, name: &str| {
        if name.is_empty() {
            json!({ "email": email })
        } else {
            json!({ "email": email, "name": name })
        }
    };
    let list = |emails: &[String]| Json::Array(emails.iter().map(|e| json!({ "email": e })).collect());
    let mut personalization = Map::new();
    personalization.insert("to".into(), json!([address(&message.to, &message.to_name)]));
    if !message.cc.is_empty() {
        personalization.insert("cc".into(), list(&message.cc));
    }
    if !message.bcc.is_empty() {
        personalization.insert("bcc".into(), list(&message.bcc));
    }
    let content_type = if message.html { "text/html" } else { "text/plain" };
    let mut body = json!({
        "personalizations": [personalization],
        "from": address(&from.email, &from.name),
        "subject": message.subject,
        "content": [{ "type": content_type, "value": message.content }],
    });
    if let Some((email, name)) = &from.reply_to {
        body["reply_to"] = address(email, name);
    }
    if !message.attachments.is_empty() {
        body["attachments"] = message
            .attachments
            .iter()
            .map(|a| {
                json!({
                    "content": STANDARD.encode(&a.bytes),
                    "filename": a.name,
                    "type": a.media_type,
                    "disposition": "attachment",
                })
            })
            .collect();
    }
    let url = format!("{}/v3/mail/send", sender.endpoints.base("sendgrid", "https://api.sendgrid.com"));
    Ok(http::post(
        url,
        JSON,
        vec![("authorization", format!("Bearer {api_key}"))],
        body.to_string().into_bytes(),
    ))
}

fn resend(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
) -> Result<OutboundRequest, SendError> {
    let api_key = settings.required("apiKey")?;
    let mut body = json!({ "from": from.mailbox(), "to": [message.to], "subject": message.subject });
    if !message.cc.is_empty() {
        body["cc"] = json!(message.cc);
    }
    if !message.bcc.is_empty() {
        body["bcc"] = json!(message.bcc);
    }
    if let Some(reply_to) = from.reply_to_mailbox() {
        body["reply_to"] = json!(reply_to);
    }
    body[if message.html { "html" } else { "text" }] = json!(message.content);
    if !message.attachments.is_empty() {
        body["attachments"] = message
            .attachments
            .iter()
            .map(|a| json!({ "filename": a.name, "content": STANDARD.encode(&a.bytes) }))
            .collect();
    }
    let url = format!("{}/emails", sender.endpoints.base("resend", "https://api.resend.com"));
    Ok(http::post(
        url,
        JSON,
        vec![("authorization", format!("Bearer {api_key}"))],
        body.to_string().into_bytes(),
    ))
}

fn postmark(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
) -> Result<OutboundRequest, SendError> {
    let token = settings.required("apiKey")?;
    let mut body = json!({
        "From": from.mailbox(),
        "To": message.to,
        "Subject": message.subject,
        "MessageStream": "outbound",
    });
    if !message.cc.is_empty() {
        body["Cc"] = json!(message.cc.join(","));
    }
    if !message.bcc.is_empty() {
        body["Bcc"] = json!(message.bcc.join(","));
    }
    if let Some(reply_to) = from.reply_to_mailbox() {
        body["ReplyTo"] = json!(reply_to);
    }
    body[if message.html { "HtmlBody" } else { "TextBody" }] = json!(message.content);
    if !message.attachments.is_empty() {
        body["Attachments"] = message
            .attachments
            .iter()
            .map(|a| json!({ "Name": a.name, "Content": STANDARD.encode(&a.bytes), "ContentType": a.media_type }))
            .collect();
    }
    let url = format!("{}/email", sender.endpoints.base("postmark", "https://api.postmarkapp.com"));
    let headers = vec![("accept", JSON.to_string()), ("x-postmark-server-token", token)];
    Ok(http::post(url, JSON, headers, body.to_string().into_bytes()))
}

fn ses(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    from: &Origin,
    message: &EmailMessage,
) -> Result<OutboundRequest, SendError> {
    let access_key = settings.required("accessKey")?;
    let secret_key = settings.required("secretKey")?;
    let region = settings.required("region")?.trim().to_ascii_lowercase();
    if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(settings.invalid("region", "it is not an AWS region name"));
    }
    let mut destination = json!({ "ToAddresses": [message.to] });
    if !message.cc.is_empty() {
        destination["CcAddresses"] = json!(message.cc);
    }
    if !message.bcc.is_empty() {
        destination["BccAddresses"] = json!(message.bcc);
    }
    // SES parses the sender as an RFC 5322 mailbox, where a non-ASCII name must be encoded.
    let from_address = if from.name.is_ascii() {
        from.mailbox()
    } else {
        edgewrite_mail::header_mailbox(&from.name, &from.email)
    };
    let mut body = json!({ "FromEmailAddress": from_address, "Destination": destination });
    if let Some(reply_to) = from.reply_to_mailbox() {
        body["ReplyToAddresses"] = json!([reply_to]);
    }
    body["Content"] = if message.attachments.is_empty() {
        let kind = if message.html { "Html" } else { "Text" };
        json!({ "Simple": {
            "Subject": { "Data": message.subject, "Charset": "UTF-8" },
            "Body": { kind: { "Data": message.content, "Charset": "UTF-8" } },
        }})
    } else {
        let raw = edgewrite_mail::build_message(&mime(from, message), sender.now_ms, sender.random);
        json!({ "Raw": { "Data": STANDARD.encode(raw) } })
    };
    let default = format!("https://email.{region}.amazonaws.com");
    let url = format!("{}/v2/email/outbound-emails", sender.endpoints.base("ses", &default));
    let mut request = http::post(url, JSON, Vec::new(), body.to_string().into_bytes());
    let signer =
        AwsSigner { access_key: &access_key, secret_key: &secret_key, region: &region, service: "ses" };
    signer.sign(&mut request, sender.now_ms);
    Ok(request)
}

#[cfg(test)]
mod tests;
