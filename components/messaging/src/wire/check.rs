//! Checking a provider's settings when it is created or updated, so that a typo shows then and
//! not as a failed message later.

use serde_json::{Map, Value as Json};

use super::settings::Settings;
use super::{email, fcm, jose, Kind, SendError};

/// What each kind cannot send without (Appwrite parameter names).
fn required(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Smtp => &["host", "fromEmail"],
        Kind::Mailgun => &["apiKey", "domain", "fromEmail"],
        Kind::Sendgrid | Kind::Resend | Kind::Postmark => &["apiKey", "fromEmail"],
        Kind::Ses => &["accessKey", "secretKey", "region", "fromEmail"],
        Kind::Twilio => &["accountSid", "authToken", "from"],
        Kind::Vonage => &["apiKey", "apiSecret", "from"],
        Kind::Textmagic => &["username", "apiKey"],
        Kind::Telesign => &["customerId", "apiKey"],
        Kind::Msg91 => &["templateId", "senderId", "authKey"],
        Kind::Fcm => &["serviceAccountJSON"],
        Kind::Apns => &["authKey", "authKeyId", "teamId", "bundleId"],
    }
}

/// The settings `kind` needs that are absent or blank: a provider missing any cannot send
/// (Appwrite keeps such a provider disabled).
///
/// ```
/// use edgewrite_messaging::wire::{missing_settings, Kind};
/// let credentials = serde_json::from_str(r#"{"apiKey":"key"}"#).unwrap();
/// assert_eq!(missing_settings(Kind::Mailgun, &credentials, &Default::default()), ["domain", "fromEmail"]);
/// ```
pub fn missing_settings(
    kind: Kind,
    credentials: &Map<String, Json>,
    options: &Map<String, Json>,
) -> Vec<&'static str> {
    let settings = Settings::new("", kind, credentials, options);
    required(kind).iter().copied().filter(|key| settings.value(key).is_none_or(blank)).collect()
}

fn blank(value: &Json) -> bool {
    match value {
        Json::String(s) => s.trim().is_empty(),
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Checks the settings that are present: `Err` names the first bad one and why (the FCM
/// service account does not parse or has no private key, the APNs key is not a P-256 PKCS#8
/// PEM, the SMTP port is out of range …), never quoting a value. Absent settings are not
/// errors here: [`missing_settings`] lists those.
pub fn check_settings(
    kind: Kind,
    credentials: &Map<String, Json>,
    options: &Map<String, Json>,
) -> Result<(), String> {
    let settings = Settings::new("", kind, credentials, options);
    let invalid = |key: &str, what: &str| format!("{} setting {key} is invalid: {what}", kind.label());
    for (key, value) in credentials.iter().chain(options) {
        let scalar = matches!(value, Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_));
        let service_account = kind == Kind::Fcm && key == "serviceAccountJSON";
        if !(scalar || service_account) {
            return Err(invalid(key, "it is not a string, number or boolean"));
        }
        // Values end up in headers, form fields and SMTP lines; only keys may span lines.
        let multiline =
            matches!((kind, key.as_str()), (Kind::Apns, "authKey") | (Kind::Fcm, "serviceAccountJSON"));
        if !multiline && value.as_str().is_some_and(|s| s.contains(|c: char| c.is_control())) {
            return Err(invalid(key, "it contains control characters"));
        }
    }
    for key in ["fromEmail", "replyToEmail"] {
        if let Some(address) = settings.text(key) {
            if let Err(reason) = edgewrite_mail::check_address(address.trim()) {
                return Err(invalid(key, reason));
            }
        }
    }
    match kind {
        Kind::Smtp => {
            let text = |e: SendError| e.to_string();
            let security = email::smtp_security(&settings).map_err(text)?;
            email::smtp_port(&settings, security).map_err(text)?;
            if settings.text("host").is_some() {
                email::smtp_settings(&settings).map_err(text)?;
            }
        }
        Kind::Mailgun if settings.text("domain").is_some_and(|d| d.trim().contains(['/', ' ', '?', '#'])) => {
            return Err(invalid("domain", "it is not a domain name"));
        }
        Kind::Ses => {
            let region = settings.text("region").unwrap_or_default();
            if !region.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid("region", "it is not an AWS region name"));
            }
        }
        Kind::Fcm => {
            if let Some(value) = settings.value("serviceAccountJSON").filter(|v| !blank(v)) {
                let account =
                    fcm::service_account(value).map_err(|what| invalid("serviceAccountJSON", &what))?;
                if let Err(what) = jose::rsa_key(&account.private_key) {
                    return Err(invalid("serviceAccountJSON", &format!("its private_key: {what}")));
                }
            }
        }
        Kind::Apns => {
            if let Some(key) = settings.text("authKey") {
                if let Err(what) = jose::p256_key(&key) {
                    return Err(invalid("authKey", what));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::fake::RSA_PEM;
    use crate::wire::jose::tests::p256_pem;

    fn check(kind: Kind, credentials: Json, options: Json) -> Result<(), String> {
        check_settings(kind, credentials.as_object().unwrap(), options.as_object().unwrap())
    }

    #[test]
    fn good_settings_pass() {
        let account = json!({ "project_id": "p", "client_email": "e@p.test", "private_key": RSA_PEM });
        assert_eq!(check(Kind::Fcm, json!({ "serviceAccountJSON": account.to_string() }), json!({})), Ok(()));
        assert_eq!(check(Kind::Fcm, json!({ "serviceAccountJSON": account }), json!({})), Ok(()));
        assert_eq!(
            check(Kind::Apns, json!({ "authKey": p256_pem(), "teamId": "T" }), json!({ "sandbox": true })),
            Ok(())
        );
        let smtp = json!({ "host": "smtp.acme.test", "port": 2525, "password": "p" });
        assert_eq!(
            check(Kind::Smtp, smtp, json!({ "encryption": "tls", "fromEmail": "a@acme.test" })),
            Ok(())
        );
        assert_eq!(check(Kind::Mailgun, json!({ "apiKey": "k" }), json!({})), Ok(()), "absent is not bad");
    }

    #[test]
    fn bad_settings_are_named_without_their_values() {
        let cases = [
            (
                Kind::Fcm,
                json!({ "serviceAccountJSON": "{not json" }),
                json!({}),
                "serviceAccountJSON is invalid: it is not valid JSON",
            ),
            (
                Kind::Fcm,
                json!({ "serviceAccountJSON": "{\"project_id\":\"p\",\"client_email\":\"e\"}" }),
                json!({}),
                "it has no private_key",
            ),
            (
                Kind::Fcm,
                json!({ "serviceAccountJSON": json!({ "project_id": "p", "client_email": "e", "private_key": "SECRETKEY" }) }),
                json!({}),
                "its private_key: it is not an RSA private key",
            ),
            (
                Kind::Apns,
                json!({ "authKey": RSA_PEM }),
                json!({}),
                "authKey is invalid: it is not a P-256 private key",
            ),
            (Kind::Smtp, json!({ "host": "mx.test", "port": 70000 }), json!({}), "port is invalid"),
            (Kind::Smtp, json!({ "port": "0" }), json!({}), "port is invalid"),
            (
                Kind::Smtp,
                json!({ "host": "mx.test" }),
                json!({ "encryption": "starttls" }),
                "encryption is invalid",
            ),
            (Kind::Smtp, json!({ "host": "mx test" }), json!({}), "host is invalid"),
            (
                Kind::Resend,
                json!({ "apiKey": "SECRETKEY\r\nX: y" }),
                json!({}),
                "apiKey is invalid: it contains control",
            ),
            (Kind::Resend, json!({}), json!({ "fromEmail": "Acme <a@b.test>" }), "fromEmail is invalid"),
            (Kind::Ses, json!({ "region": "us-east-1/x" }), json!({}), "region is invalid"),
            (Kind::Mailgun, json!({ "domain": "mg.acme.test/x" }), json!({}), "domain is invalid"),
        ];
        for (kind, credentials, options, expected) in cases {
            let result = check(kind, credentials, options);
            assert!(
                matches!(&result, Err(m) if m.contains(expected) && !m.contains("SECRETKEY")),
                "{kind:?}: {result:?}"
            );
        }
    }

    #[test]
    fn missing_settings_are_listed() {
        let missing = |kind, credentials: Json, options: Json| {
            missing_settings(kind, credentials.as_object().unwrap(), options.as_object().unwrap())
        };
        assert_eq!(
            missing(Kind::Twilio, json!({ "accountSid": "AC", "authToken": " " }), json!({})),
            ["authToken", "from"]
        );
        assert_eq!(
            missing(Kind::Smtp, json!({ "host": "mx" }), json!({ "fromEmail": "a@b.test" })),
            Vec::<&str>::new()
        );
        assert_eq!(
            missing(Kind::Fcm, json!({ "serviceAccountJSON": {} }), json!({})),
            ["serviceAccountJSON"]
        );
    }
}
