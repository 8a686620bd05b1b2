//! Each email provider's request against a recording fake: method, URL, auth, body shape.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::{OutboundError, Tls};
use serde_json::json;

use crate::wire::fake::{
    block_on, form, header, json, multipart, provider, sender, FakeOutbound, Predictable,
};
use crate::wire::{send_email, Attachment, EmailMessage, Endpoints, Kind, ProviderConfig, SendError};

fn message() -> EmailMessage {
    EmailMessage {
        to: "jane@example.test".into(),
        to_name: "Jane Doe".into(),
        subject: "Your order".into(),
        content: "<p>Shipped</p>".into(),
        html: true,
        cc: vec!["cc1@example.test".into(), "cc2@example.test".into()],
        bcc: vec!["audit@acme.test".into()],
        attachments: Vec::new(),
    }
}

fn with_attachments() -> EmailMessage {
    EmailMessage {
        html: false,
        content: "See attached".into(),
        attachments: vec![Attachment {
            name: "invoice.pdf".into(),
            media_type: "application/pdf".into(),
            bytes: b"%PDF-1.4 \x00\xff".to_vec(),
        }],
        ..message()
    }
}

fn options() -> serde_json::Value {
    json!({ "fromName": "Acme", "fromEmail": "noreply@acme.test", "replyToName": "Help", "replyToEmail": "help@acme.test" })
}

fn send(fake: &FakeOutbound, provider: &ProviderConfig, message: &EmailMessage) -> Result<(), SendError> {
    send_with(fake, provider, message, &Endpoints::default())
}

fn send_with(
    fake: &FakeOutbound,
    provider: &ProviderConfig,
    message: &EmailMessage,
    endpoints: &Endpoints,
) -> Result<(), SendError> {
    let random = Predictable::default();
    block_on(send_email(sender(fake, &random, endpoints), provider, message))
}

fn mailgun(credentials: serde_json::Value) -> ProviderConfig {
    provider("mg", Kind::Mailgun, credentials, options())
}

#[test]
fn mailgun_gets_a_form_with_basic_auth() {
    let fake = FakeOutbound::answering(200, r#"{"message":"Queued"}"#);
    send(&fake, &mailgun(json!({ "apiKey": "key-123", "domain": "mg.acme.test" })), &message()).unwrap();
    let request = fake.last();
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.mailgun.net/v3/mg.acme.test/messages");
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Basic {}", STANDARD.encode("api:key-123")).as_str())
    );
    assert_eq!(header(&request, "content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(header(&request, "user-agent"), Some("edgewrite"));
    let pairs =
        |v: &[(&str, &str)]| v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(
        form(&request),
        pairs(&[
            ("from", "Acme <noreply@acme.test>"),
            ("to", "jane@example.test"),
            ("cc", "cc1@example.test,cc2@example.test"),
            ("bcc", "audit@acme.test"),
            ("subject", "Your order"),
            ("html", "<p>Shipped</p>"),
            ("h:Reply-To", "Help <help@acme.test>"),
        ])
    );
}

#[test]
fn mailgun_eu_region_and_an_override() {
    let fake = FakeOutbound::answering(200, "{}");
    let eu = mailgun(json!({ "apiKey": "key-123", "domain": "mg.acme.test", "isEuRegion": true }));
    send(&fake, &eu, &message()).unwrap();
    assert_eq!(fake.last().url, "https://api.eu.mailgun.net/v3/mg.acme.test/messages");
    let endpoints = Endpoints::from_secrets(&edgewrite_native::MapSecrets(
        [(
            "EDGEWRITE_MESSAGING_BASE_URLS".to_string(),
            "mailgun=http://127.0.0.1:9/,ses=http://x".to_string(),
        )]
        .into(),
    ));
    send_with(&fake, &eu, &message(), &endpoints).unwrap();
    assert_eq!(fake.last().url, "http://127.0.0.1:9/v3/mg.acme.test/messages");
}

#[test]
fn mailgun_attachments_make_a_multipart_form() {
    let fake = FakeOutbound::answering(200, "{}");
    send(&fake, &mailgun(json!({ "apiKey": "key-123", "domain": "mg.acme.test" })), &with_attachments())
        .unwrap();
    let parts = multipart(&fake.last());
    let field = |name: &str| {
        parts.iter().find(|p| p.name == name).map(|p| String::from_utf8(p.bytes.clone()).unwrap())
    };
    assert_eq!(field("to").as_deref(), Some("jane@example.test"));
    assert_eq!(field("text").as_deref(), Some("See attached"));
    assert_eq!(field("html"), None);
    let file = parts.iter().find(|p| p.name == "attachment").unwrap();
    assert_eq!(file.filename.as_deref(), Some("invoice.pdf"));
    assert_eq!(file.media_type.as_deref(), Some("application/pdf"));
    assert_eq!(file.bytes, b"%PDF-1.4 \x00\xff");
}

#[test]
fn sendgrid_gets_personalizations_with_cc_and_bcc() {
    let fake = FakeOutbound::answering(202, "");
    let p = provider("sg", Kind::Sendgrid, json!({ "apiKey": "SG.key" }), options());
    send(&fake, &p, &with_attachments()).unwrap();
    let request = fake.last();
    assert_eq!(request.url, "https://api.sendgrid.com/v3/mail/send");
    assert_eq!(header(&request, "authorization"), Some("Bearer SG.key"));
    assert_eq!(
        json(&request),
        json!({
            "personalizations": [{
                "to": [{ "email": "jane@example.test", "name": "Jane Doe" }],
                "cc": [{ "email": "cc1@example.test" }, { "email": "cc2@example.test" }],
                "bcc": [{ "email": "audit@acme.test" }],
            }],
            "from": { "email": "noreply@acme.test", "name": "Acme" },
            "reply_to": { "email": "help@acme.test", "name": "Help" },
            "subject": "Your order",
            "content": [{ "type": "text/plain", "value": "See attached" }],
            "attachments": [{
                "content": STANDARD.encode(b"%PDF-1.4 \x00\xff"),
                "filename": "invoice.pdf",
                "type": "application/pdf",
                "disposition": "attachment",
            }],
        })
    );
}

#[test]
fn resend_gets_json_with_a_bearer_key() {
    let fake = FakeOutbound::answering(200, r#"{"id":"1"}"#);
    let p = provider("re", Kind::Resend, json!({ "apiKey": "re_key" }), options());
    send(&fake, &p, &message()).unwrap();
    let request = fake.last();
    assert_eq!(request.url, "https://api.resend.com/emails");
    assert_eq!(header(&request, "authorization"), Some("Bearer re_key"));
    assert_eq!(
        json(&request),
        json!({
            "from": "Acme <noreply@acme.test>",
            "to": ["jane@example.test"],
            "cc": ["cc1@example.test", "cc2@example.test"],
            "bcc": ["audit@acme.test"],
            "reply_to": "Help <help@acme.test>",
            "subject": "Your order",
            "html": "<p>Shipped</p>",
        })
    );
    send(&fake, &p, &with_attachments()).unwrap();
    let body = json(&fake.last());
    assert_eq!(body["text"], "See attached");
    assert_eq!(
        body["attachments"],
        json!([{ "filename": "invoice.pdf", "content": STANDARD.encode(b"%PDF-1.4 \x00\xff") }])
    );
}

#[test]
fn postmark_gets_its_server_token_header() {
    let fake = FakeOutbound::answering(200, "{}");
    let p = provider("pm", Kind::Postmark, json!({ "apiKey": "pm-token" }), options());
    send(&fake, &p, &with_attachments()).unwrap();
    let request = fake.last();
    assert_eq!(request.url, "https://api.postmarkapp.com/email");
    assert_eq!(header(&request, "x-postmark-server-token"), Some("pm-token"));
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        json(&request),
        json!({
            "From": "Acme <noreply@acme.test>",
            "To": "jane@example.test",
            "Cc": "cc1@example.test,cc2@example.test",
            "Bcc": "audit@acme.test",
            "ReplyTo": "Help <help@acme.test>",
            "Subject": "Your order",
            "TextBody": "See attached",
            "MessageStream": "outbound",
            "Attachments": [{ "Name": "invoice.pdf", "Content": STANDARD.encode(b"%PDF-1.4 \x00\xff"), "ContentType": "application/pdf" }],
        })
    );
}

fn ses() -> ProviderConfig {
    let credentials =
        json!({ "accessKey": "AKIDEXAMPLE", "secretKey": "wJalrXUtnFEMI/K7MDENG", "region": "eu-west-1" });
    provider("ses", Kind::Ses, credentials, options())
}

#[test]
fn ses_gets_a_signed_simple_message() {
    let fake = FakeOutbound::answering(200, r#"{"MessageId":"1"}"#);
    send(&fake, &ses(), &message()).unwrap();
    let request = fake.last();
    assert_eq!(request.url, "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails");
    assert_eq!(header(&request, "x-amz-date"), Some("20261119T150000Z"));
    let authorization = header(&request, "authorization").unwrap();
    assert!(
        authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261119/eu-west-1/ses/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="
        ),
        "{authorization}"
    );
    assert_eq!(
        json(&request),
        json!({
            "FromEmailAddress": "Acme <noreply@acme.test>",
            "Destination": {
                "ToAddresses": ["jane@example.test"],
                "CcAddresses": ["cc1@example.test", "cc2@example.test"],
                "BccAddresses": ["audit@acme.test"],
            },
            "ReplyToAddresses": ["Help <help@acme.test>"],
            "Content": { "Simple": {
                "Subject": { "Data": "Your order", "Charset": "UTF-8" },
                "Body": { "Html": { "Data": "<p>Shipped</p>", "Charset": "UTF-8" } },
            }},
        })
    );
}

#[test]
fn ses_sends_attachments_as_a_raw_mime_message_without_bcc() {
    let fake = FakeOutbound::answering(200, "{}");
    send(&fake, &ses(), &with_attachments()).unwrap();
    let body = json(&fake.last());
    assert_eq!(body["Destination"]["BccAddresses"], json!(["audit@acme.test"]));
    let raw = String::from_utf8(STANDARD.decode(body["Content"]["Raw"]["Data"].as_str().unwrap()).unwrap())
        .unwrap();
    assert!(raw.contains("\r\nCc: cc1@example.test,\r\n cc2@example.test\r\n"), "{raw}");
    assert!(raw.contains("Content-Type: multipart/mixed; boundary="), "{raw}");
    assert!(raw.contains("Content-Disposition: attachment; filename=\"invoice.pdf\""), "{raw}");
    assert!(!raw.to_ascii_lowercase().contains("bcc") && !raw.contains("audit@acme.test"), "{raw}");
}

fn smtp(credentials: serde_json::Value, extra: serde_json::Value) -> ProviderConfig {
    let mut options = options();
    options.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    provider("smtp", Kind::Smtp, credentials, options)
}

#[test]
fn smtp_envelope_holds_every_recipient_but_the_message_no_bcc() {
    let fake = FakeOutbound::default();
    let p = smtp(
        json!({ "host": "mx.acme.test", "username": "mailer", "password": "s3cret" }),
        json!({ "mailer": "Acme Mailer", "autoTLS": false }),
    );
    send(&fake, &p, &message()).unwrap();
    let sessions = fake.smtp.borrow();
    let session = &sessions[0];
    assert_eq!((session.host.as_str(), session.port, session.tls), ("mx.acme.test", 587, Tls::None));
    let transcript = &session.transcript;
    let lines: Vec<&str> = transcript.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "EHLO acme.test",
            &format!("AUTH PLAIN {}", STANDARD.encode("\0mailer\0s3cret")),
            "MAIL FROM:<noreply@acme.test>",
            "RCPT TO:<jane@example.test>",
            "RCPT TO:<cc1@example.test>",
            "RCPT TO:<cc2@example.test>",
            "RCPT TO:<audit@acme.test>",
        ]
    );
    let data = &transcript[transcript.find("DATA\n").unwrap()..];
    assert!(data.contains("\nTo: \"Jane Doe\" <jane@example.test>\n"), "{data}");
    assert!(data.contains("\nCc: cc1@example.test,\n cc2@example.test\n"), "{data}");
    assert!(data.contains("\nX-Mailer: Acme Mailer\n"), "{data}");
    assert!(!data.to_ascii_lowercase().contains("bcc:"), "{data}");
}

#[test]
fn smtp_encryption_picks_the_connection_and_default_port() {
    for (encryption, auto_tls, port, tls) in [
        ("ssl", true, 465, Tls::Implicit),
        ("tls", false, 587, Tls::StartTls),
        ("none", true, 587, Tls::StartTls),
        ("", false, 587, Tls::None),
    ] {
        let fake = FakeOutbound::default();
        let p =
            smtp(json!({ "host": "mx.acme.test" }), json!({ "encryption": encryption, "autoTLS": auto_tls }));
        // STARTTLS is not offered by the fake server, so only "tls" fails (after connecting).
        let result = send(&fake, &p, &message());
        assert_eq!(result.is_ok(), encryption != "tls", "{encryption}: {result:?}");
        let sessions = fake.smtp.borrow();
        assert_eq!((sessions[0].port, sessions[0].tls), (port, tls), "{encryption}");
    }
    let fake = FakeOutbound::default();
    send(&fake, &smtp(json!({ "host": "mx.acme.test", "port": "2525" }), json!({})), &message()).unwrap();
    assert_eq!(fake.smtp.borrow()[0].port, 2525);
}

#[test]
fn smtp_refusals_are_retryable_only_when_transient() {
    for (reply, retryable) in [("450 4.2.1 mailbox busy", true), ("550 5.1.1 no such user", false)] {
        let fake = FakeOutbound::default();
        *fake.rcpt_reply.borrow_mut() = Some(reply);
        let result =
            send(&fake, &smtp(json!({ "host": "mx.acme.test" }), json!({ "autoTLS": false })), &message());
        match result {
            Err(SendError::Retryable(m)) if retryable => assert!(m.contains("450"), "{m}"),
            Err(SendError::Permanent(m)) if !retryable => assert!(m.contains("RCPT TO: 550"), "{m}"),
            other => panic!("{reply}: {other:?}"),
        }
    }
}

#[test]
fn header_injection_is_refused_before_any_request() {
    let cases: [fn(&mut EmailMessage); 4] = [
        |m| m.subject.push_str("\r\nBcc: victim@example.test"),
        |m| m.to = "jane@example.test\r\nRCPT TO:<victim@example.test>".into(),
        |m| m.cc.push("Victim <victim@example.test>".into()),
        |m| m.bcc.push("a@b.test,victim@example.test".into()),
    ];
    for mutate in cases {
        let fake = FakeOutbound::default();
        let mut m = message();
        mutate(&mut m);
        let p = provider("re", Kind::Resend, json!({ "apiKey": "re_key" }), options());
        assert!(matches!(send(&fake, &p, &m), Err(SendError::Permanent(_))), "{m:?}");
        assert!(fake.requests.borrow().is_empty());
    }
    let fake = FakeOutbound::default();
    let p = provider("re", Kind::Resend, json!({ "apiKey": "re_key" }), json!({ "fromEmail": "a@b\nc" }));
    assert!(matches!(send(&fake, &p, &message()), Err(SendError::Permanent(_))));
}

#[test]
fn answers_map_to_retryable_or_permanent_without_the_key() {
    let p = provider("re", Kind::Resend, json!({ "apiKey": "re_secret_key" }), options());
    let fake = FakeOutbound::answering(503, "busy");
    assert_eq!(send(&fake, &p, &message()), Err(SendError::Retryable("Resend answered 503: busy".into())));
    let fake = FakeOutbound::answering(401, "{\"message\":\"API key re_secret_key\\nis invalid\"}");
    let Err(SendError::Permanent(m)) = send(&fake, &p, &message()) else { panic!() };
    assert_eq!(m, "Resend answered 401: {\"message\":\"API key <redacted>\\nis invalid\"}");
    let fake = FakeOutbound::failing(OutboundError::Failed("reset".into()));
    assert_eq!(
        send(&fake, &p, &message()),
        Err(SendError::Retryable("Resend could not be reached: reset".into()))
    );
}

#[test]
fn missing_settings_and_wrong_kinds_are_permanent() {
    let fake = FakeOutbound::default();
    let p = provider("re", Kind::Resend, json!({ "apiKey": "k" }), json!({}));
    assert_eq!(
        send(&fake, &p, &message()),
        Err(SendError::Permanent("Resend setting fromEmail is missing".into()))
    );
    let p = provider("tw", Kind::Twilio, json!({}), options());
    assert_eq!(
        send(&fake, &p, &message()),
        Err(SendError::Permanent("Twilio sends sms messages, not email".into()))
    );
    assert!(fake.requests.borrow().is_empty());
}
