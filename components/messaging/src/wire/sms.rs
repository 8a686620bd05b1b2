//! SMS providers: Twilio, Vonage (Nexmo's SMS API), Textmagic, Telesign and MSG91.

use edgewrite_core::ports::OutboundRequest;
use serde_json::json;

use super::http::{self, FORM, JSON};
use super::settings::{wrong_type, Scrubber, Settings};
use super::{Kind, ProviderConfig, SendError, Sender, SmsMessage};

pub(super) async fn send(
    sender: Sender<'_>,
    provider: &ProviderConfig,
    message: &SmsMessage,
) -> Result<(), SendError> {
    let settings = Settings::of(provider);
    if provider.kind.message_type() != "sms" {
        return Err(wrong_type(provider.kind, "sms"));
    }
    let digits = digits(&settings, &message.to)?;
    let scrubber = settings.scrubber();
    let request = match provider.kind {
        Kind::Twilio => twilio(sender, &settings, &digits, message)?,
        Kind::Vonage => vonage(sender, &settings, &digits, message)?,
        Kind::Textmagic => textmagic(sender, &settings, &digits, message)?,
        Kind::Telesign => telesign(sender, &settings, &digits, message)?,
        Kind::Msg91 => msg91(sender, &settings, &digits, message)?,
        kind => return Err(wrong_type(kind, "sms")),
    };
    let response = http::send(sender, settings.label, request, &scrubber).await?;
    if provider.kind == Kind::Vonage {
        return vonage_status(&response.body, &scrubber);
    }
    Ok(())
}

/// The number without its `+`, after checking it is one: 1 to 15 digits (E.164).
fn digits(settings: &Settings<'_>, to: &str) -> Result<String, SendError> {
    let digits = to.strip_prefix('+').unwrap_or(to);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SendError::Permanent(format!(
            "{}: the target is not a phone number in E.164 form",
            settings.label
        )));
    }
    Ok(digits.to_string())
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    form.finish().into_bytes()
}

fn twilio(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    digits: &str,
    message: &SmsMessage,
) -> Result<OutboundRequest, SendError> {
    let account = settings.required("accountSid")?;
    let token = settings.required("authToken")?;
    let from = settings.required("from")?;
    let base = sender.endpoints.base("twilio", "https://api.twilio.com");
    let url = format!("{base}/2010-04-01/Accounts/{}/Messages.json", http::segment(account.trim()));
    let body = form(&[("To", &format!("+{digits}")), ("From", &from), ("Body", &message.content)]);
    Ok(http::post(url, FORM, vec![("authorization", http::basic(account.trim(), &token))], body))
}

fn vonage(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    digits: &str,
    message: &SmsMessage,
) -> Result<OutboundRequest, SendError> {
    let key = settings.required("apiKey")?;
    let secret = settings.required("apiSecret")?;
    let from = settings.required("from")?;
    let body = form(&[
        ("api_key", &key),
        ("api_secret", &secret),
        ("from", &from),
        ("to", digits),
        ("text", &message.content),
    ]);
    let url = format!("{}/sms/json", sender.endpoints.base("vonage", "https://rest.nexmo.com"));
    Ok(http::post(url, FORM, Vec::new(), body))
}

/// Vonage answers 200 even when it refuses: each message carries its own status, `"0"` for
/// accepted and `"1"` for throttled.
fn vonage_status(body: &[u8], scrubber: &Scrubber) -> Result<(), SendError> {
    let answer: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(messages) = answer["messages"].as_array().filter(|m| !m.is_empty()) else {
        return Err(SendError::Permanent(format!(
            "Vonage answered without a message status: {}",
            scrubber.quote(&String::from_utf8_lossy(body))
        )));
    };
    for message in messages {
        let status = match &message["status"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if status == "0" {
            continue;
        }
        let text = scrubber.quote(message["error-text"].as_str().unwrap_or_default());
        let error = format!("Vonage refused the message (status {}): {text}", scrubber.quote(&status));
        return Err(if status == "1" { SendError::Retryable(error) } else { SendError::Permanent(error) });
    }
    Ok(())
}

fn textmagic(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    digits: &str,
    message: &SmsMessage,
) -> Result<OutboundRequest, SendError> {
    let username = settings.required("username")?;
    let key = settings.required("apiKey")?;
    let from = settings.text("from");
    let mut pairs = vec![("text", message.content.as_str()), ("phones", digits)];
    if let Some(from) = &from {
        pairs.push(("from", from));
    }
    let url = format!("{}/api/v2/messages", sender.endpoints.base("textmagic", "https://rest.textmagic.com"));
    Ok(http::post(url, FORM, vec![("x-tm-username", username), ("x-tm-key", key)], form(&pairs)))
}

fn telesign(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    digits: &str,
    message: &SmsMessage,
) -> Result<OutboundRequest, SendError> {
    let customer = settings.required("customerId")?;
    let key = settings.required("apiKey")?;
    let from = settings.text("from");
    let mut pairs =
        vec![("phone_number", digits), ("message", message.content.as_str()), ("message_type", "ARN")];
    if let Some(from) = &from {
        pairs.push(("sender_id", from));
    }
    let url = format!("{}/v1/messaging", sender.endpoints.base("telesign", "https://rest-api.telesign.com"));
    Ok(http::post(url, FORM, vec![("authorization", http::basic(customer.trim(), &key))], form(&pairs)))
}

fn msg91(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    digits: &str,
    message: &SmsMessage,
) -> Result<OutboundRequest, SendError> {
    let template = settings.required("templateId")?;
    let sender_id = settings.required("senderId")?;
    let key = settings.required("authKey")?;
    let body = json!({
        "template_id": template,
        "sender": sender_id,
        "short_url": "0",
        "recipients": [{ "mobiles": digits, "content": message.content }],
    });
    let url = format!("{}/api/v5/flow", sender.endpoints.base("msg91", "https://control.msg91.com"));
    Ok(http::post(url, JSON, vec![("authkey", key)], body.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde_json::json;

    use super::*;
    use crate::wire::fake::{block_on, form, header, json, provider, sender, FakeOutbound, Predictable};
    use crate::wire::{send_sms, Endpoints};

    fn sms() -> SmsMessage {
        SmsMessage { to: "+15550199".into(), content: "Your code is 123456".into() }
    }

    fn send(fake: &FakeOutbound, provider: &ProviderConfig) -> Result<(), SendError> {
        let (random, endpoints) = (Predictable::default(), Endpoints::default());
        block_on(send_sms(sender(fake, &random, &endpoints), provider, &sms()))
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn twilio_gets_a_form_with_basic_auth() {
        let fake = FakeOutbound::answering(201, r#"{"sid":"SM1"}"#);
        let p = provider(
            "tw",
            Kind::Twilio,
            json!({ "accountSid": "AC01", "authToken": "tok", "from": "+15550100" }),
            json!({}),
        );
        send(&fake, &p).unwrap();
        let request = fake.last();
        assert_eq!(request.url, "https://api.twilio.com/2010-04-01/Accounts/AC01/Messages.json");
        assert_eq!(
            header(&request, "authorization"),
            Some(format!("Basic {}", STANDARD.encode("AC01:tok")).as_str())
        );
        assert_eq!(header(&request, "content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            form(&request),
            pairs(&[("To", "+15550199"), ("From", "+15550100"), ("Body", "Your code is 123456")])
        );
    }

    fn vonage() -> ProviderConfig {
        provider(
            "vo",
            Kind::Vonage,
            json!({ "apiKey": "vkey", "apiSecret": "vsecret" }),
            json!({ "from": "Acme" }),
        )
    }

    #[test]
    fn vonage_gets_its_keys_in_the_form_and_digits_only() {
        let fake = FakeOutbound::answering(200, r#"{"message-count":"1","messages":[{"status":"0"}]}"#);
        send(&fake, &vonage()).unwrap();
        let request = fake.last();
        assert_eq!(request.url, "https://rest.nexmo.com/sms/json");
        assert_eq!(header(&request, "authorization"), None);
        assert_eq!(
            form(&request),
            pairs(&[
                ("api_key", "vkey"),
                ("api_secret", "vsecret"),
                ("from", "Acme"),
                ("to", "15550199"),
                ("text", "Your code is 123456"),
            ])
        );
    }

    #[test]
    fn vonage_non_zero_status_is_an_error_despite_200() {
        let fake = FakeOutbound::answering(
            200,
            r#"{"messages":[{"status":"4","error-text":"Bad Credentials vsecret"}]}"#,
        );
        assert_eq!(
            send(&fake, &vonage()),
            Err(SendError::Permanent(
                "Vonage refused the message (status 4): Bad Credentials <redacted>".into()
            ))
        );
        let fake = FakeOutbound::answering(200, r#"{"messages":[{"status":"1","error-text":"Throttled"}]}"#);
        assert!(matches!(send(&fake, &vonage()), Err(SendError::Retryable(m)) if m.contains("Throttled")));
        let fake = FakeOutbound::answering(200, "<html>");
        assert!(matches!(send(&fake, &vonage()), Err(SendError::Permanent(_))));
    }

    #[test]
    fn textmagic_gets_its_key_headers() {
        let fake = FakeOutbound::answering(201, "{}");
        let p = provider("tm", Kind::Textmagic, json!({ "username": "acme", "apiKey": "tmkey" }), json!({}));
        send(&fake, &p).unwrap();
        let request = fake.last();
        assert_eq!(request.url, "https://rest.textmagic.com/api/v2/messages");
        assert_eq!(
            (header(&request, "x-tm-username"), header(&request, "x-tm-key")),
            (Some("acme"), Some("tmkey"))
        );
        assert_eq!(form(&request), pairs(&[("text", "Your code is 123456"), ("phones", "15550199")]));
    }

    #[test]
    fn telesign_gets_basic_auth_and_an_arn_message() {
        let fake = FakeOutbound::answering(200, "{}");
        let p = provider(
            "ts",
            Kind::Telesign,
            json!({ "customerId": "cust", "apiKey": "tskey" }),
            json!({ "from": "Acme" }),
        );
        send(&fake, &p).unwrap();
        let request = fake.last();
        assert_eq!(request.url, "https://rest-api.telesign.com/v1/messaging");
        assert_eq!(
            header(&request, "authorization"),
            Some(format!("Basic {}", STANDARD.encode("cust:tskey")).as_str())
        );
        assert_eq!(
            form(&request),
            pairs(&[
                ("phone_number", "15550199"),
                ("message", "Your code is 123456"),
                ("message_type", "ARN"),
                ("sender_id", "Acme"),
            ])
        );
    }

    #[test]
    fn msg91_gets_a_flow_request() {
        let fake = FakeOutbound::answering(200, r#"{"type":"success"}"#);
        let credentials = json!({ "templateId": "tpl", "senderId": "ACME", "authKey": "m91key" });
        send(&fake, &provider("m9", Kind::Msg91, credentials, json!({}))).unwrap();
        let request = fake.last();
        assert_eq!(request.url, "https://control.msg91.com/api/v5/flow");
        assert_eq!(header(&request, "authkey"), Some("m91key"));
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(
            json(&request),
            json!({
                "template_id": "tpl",
                "sender": "ACME",
                "short_url": "0",
                "recipients": [{ "mobiles": "15550199", "content": "Your code is 123456" }],
            })
        );
    }

    #[test]
    fn refusals_and_bad_numbers() {
        let fake = FakeOutbound::answering(503, "");
        assert_eq!(send(&fake, &vonage()), Err(SendError::Retryable("Vonage answered 503".into())));
        let fake = FakeOutbound::answering(400, "{\"message\":\"The 'To' number is not valid.\"}");
        let p = provider(
            "tw",
            Kind::Twilio,
            json!({ "accountSid": "AC01", "authToken": "tok", "from": "+1" }),
            json!({}),
        );
        assert!(
            matches!(send(&fake, &p), Err(SendError::Permanent(m)) if m.starts_with("Twilio answered 400: "))
        );
        let fake = FakeOutbound::default();
        let (random, endpoints) = (Predictable::default(), Endpoints::default());
        for to in ["", "+", "+1 555 0100", "+1555\n", "+1234567890123456"] {
            let message = SmsMessage { to: to.into(), content: "x".into() };
            let result = block_on(send_sms(sender(&fake, &random, &endpoints), &p, &message));
            assert!(matches!(result, Err(SendError::Permanent(_))), "{to:?}");
        }
        assert_eq!(fake.requests.borrow().len(), 0);
    }
}
