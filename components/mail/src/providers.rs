//! Mail through a provider's HTTP API (Resend, Mailgun, SendGrid) and text messages through
//! Twilio, all over [`Outbound::fetch`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::{Outbound, OutboundRequest};
use serde_json::json;

use crate::{ApiSettings, DeliveryError, Email, MailApi, MailSettings, SmsProvider, SmsSettings};

/// The most of a provider's error body an error message quotes.
const SNIPPET: usize = 300;

pub(crate) async fn send_email(
    outbound: &dyn Outbound,
    settings: &MailSettings,
    api: &ApiSettings,
    email: &Email,
) -> Result<(), DeliveryError> {
    let (provider, request) = match &api.api {
        MailApi::Resend => ("Resend", resend(settings, api, email)),
        MailApi::Mailgun { domain } => ("Mailgun", mailgun(settings, api, domain, email)),
        MailApi::SendGrid => ("SendGrid", sendgrid(settings, api, email)),
    };
    post(outbound, provider, request, &api.key).await
}

fn resend(settings: &MailSettings, api: &ApiSettings, email: &Email) -> OutboundRequest {
    let mut body = json!({
        "from": provider_mailbox(&settings.from_name, &settings.from),
        "to": [provider_mailbox(&email.to_name, &email.to)],
        "subject": email.subject,
        "text": email.text,
        "html": email.html,
    });
    if let Some(reply_to) = &settings.reply_to {
        body["reply_to"] = json!(reply_to);
    }
    json_request(format!("{}/emails", api.base_url), &api.key, &body)
}

fn mailgun(settings: &MailSettings, api: &ApiSettings, domain: &str, email: &Email) -> OutboundRequest {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("from", &provider_mailbox(&settings.from_name, &settings.from))
        .append_pair("to", &provider_mailbox(&email.to_name, &email.to))
        .append_pair("subject", &email.subject)
        .append_pair("text", &email.text)
        .append_pair("html", &email.html);
    if let Some(reply_to) = &settings.reply_to {
        form.append_pair("h:Reply-To", reply_to);
    }
    form_request(format!("{}/v3/{domain}/messages", api.base_url), &basic("api", &api.key), form.finish())
}

fn sendgrid(settings: &MailSettings, api: &ApiSettings, email: &Email) -> OutboundRequest {
    let address = |address: &str, name: &str| {
        // SendGrid refuses an empty name; leave it out instead.
        if name.is_empty() {
            json!({ "email": address })
        } else {
            json!({ "email": address, "name": name })
        }
    };
    let mut body = json!({
        "personalizations": [{ "to": [address(&email.to, &email.to_name)] }],
        "from": address(&settings.from, &settings.from_name),
        "subject": email.subject,
        "content": [
            { "type": "text/plain", "value": email.text },
            { "type": "text/html", "value": email.html },
        ],
    });
    if let Some(reply_to) = &settings.reply_to {
        body["reply_to"] = json!({ "email": reply_to });
    }
    json_request(format!("{}/v3/mail/send", api.base_url), &api.key, &body)
}

/// Sends a text message. `to` is the recipient's number in E.164 form (`+15550100`).
pub(crate) async fn send_sms(
    outbound: &dyn Outbound,
    settings: &SmsSettings,
    to: &str,
    body: &str,
) -> Result<(), DeliveryError> {
    if to.is_empty() || to.contains(|c: char| c.is_control() || c.is_whitespace()) {
        return Err(DeliveryError::Protocol(
            "refusing the recipient number: it is empty or has spaces".into(),
        ));
    }
    match &settings.provider {
        SmsProvider::Twilio { account, token } => {
            let url = format!("{}/2010-04-01/Accounts/{account}/Messages.json", settings.base_url);
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("To", to)
                .append_pair("From", &settings.from)
                .append_pair("Body", body)
                .finish();
            post(outbound, "Twilio", form_request(url, &basic(account, token), form), token).await
        }
    }
}

/// `Name <address>` as mail providers' HTTP APIs take it (the name quoted when it has specials),
/// or the bare address for an empty name.
///
/// ```
/// assert_eq!(edgewrite_mail::provider_mailbox("Acme", "a@b.test"), "Acme <a@b.test>");
/// ```
pub fn provider_mailbox(name: &str, address: &str) -> String {
    if name.is_empty() {
        return address.to_string();
    }
    if name.contains(|c: char| "()<>[]:;@\\,.\"".contains(c)) {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{address}>")
    } else {
        format!("{name} <{address}>")
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn json_request(url: String, key: &str, body: &serde_json::Value) -> OutboundRequest {
    request(url, format!("Bearer {key}"), "application/json", body.to_string())
}

fn form_request(url: String, authorization: &str, body: String) -> OutboundRequest {
    request(url, authorization.to_string(), "application/x-www-form-urlencoded", body)
}

fn request(url: String, authorization: String, content_type: &str, body: String) -> OutboundRequest {
    OutboundRequest {
        method: "POST".into(),
        url,
        headers: vec![
            ("authorization".into(), authorization),
            ("content-type".into(), content_type.into()),
            ("user-agent".into(), "edgewrite".into()),
        ],
        body: body.into_bytes(),
    }
}

/// Sends `request`; any 2xx is success. `secret` is scrubbed from whatever the provider says.
async fn post(
    outbound: &dyn Outbound,
    provider: &str,
    request: OutboundRequest,
    secret: &str,
) -> Result<(), DeliveryError> {
    let response =
        outbound.fetch(request).await.map_err(|e| DeliveryError::Connection(format!("{provider}: {e}")))?;
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let mut body = String::from_utf8_lossy(&response.body).into_owned();
    if !secret.is_empty() {
        body = body.replace(secret, "<redacted>");
    }
    let mut snippet: String =
        body.chars().map(|c| if c.is_control() { ' ' } else { c }).take(SNIPPET).collect();
    if body.chars().nth(SNIPPET).is_some() {
        snippet.push('…');
    }
    Err(DeliveryError::Rejected(format!("{provider} answered {}: {}", response.status, snippet.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_mailboxes_quote_specials() {
        assert_eq!(provider_mailbox("", "a@b.test"), "a@b.test");
        assert_eq!(provider_mailbox("Acme Support", "a@b.test"), "Acme Support <a@b.test>");
        assert_eq!(provider_mailbox("Acmé", "a@b.test"), "Acmé <a@b.test>");
        assert_eq!(provider_mailbox("Doe, Jane \"JD\"", "a@b.test"), "\"Doe, Jane \\\"JD\\\"\" <a@b.test>");
    }
}
