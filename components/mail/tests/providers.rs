//! The HTTP providers against a one-request HTTP server on loopback, reached through
//! `edgewrite_native::NativeOutbound`: request shapes, auth headers, refusals.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::Random;
use edgewrite_mail::{send_email, send_sms, DeliveryError, Email, MailSettings, SmsSettings};
use edgewrite_native::{MapSecrets, NativeOutbound};
use futures_executor::block_on;
use serde_json::{json, Value};

/// What the server received.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    /// Lower-case names.
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }
}

/// Answers one request with `status` and `body`; the handle yields the request.
fn serve(status: u16, body: &'static str) -> (String, JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let Some((name, value)) = line.trim_end().split_once(": ") else { break };
            headers.insert(name.to_ascii_lowercase(), value.to_string());
        }
        let length = headers.get("content-length").map_or(0, |l| l.parse().unwrap());
        let mut request_body = vec![0; length];
        reader.read_exact(&mut request_body).unwrap();
        let response = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        stream.write_all(response.as_bytes()).unwrap();
        Received { method, path, headers, body: String::from_utf8(request_body).unwrap() }
    });
    (base, handle)
}

fn secrets(vars: &[(&str, &str)]) -> MapSecrets {
    MapSecrets(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn mail_settings(base: &str, vars: &[(&str, &str)]) -> MailSettings {
    let mut all = vec![
        ("EDGEWRITE_MAIL_FROM", "noreply@acme.test"),
        ("EDGEWRITE_MAIL_FROM_NAME", "Acme"),
        ("EDGEWRITE_MAIL_REPLY_TO", "help@acme.test"),
        ("EDGEWRITE_MAIL_API_URL", base),
    ];
    all.extend_from_slice(vars);
    MailSettings::from_secrets(&secrets(&all)).unwrap().unwrap()
}

struct Zeros;

impl Random for Zeros {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

fn email() -> Email {
    Email {
        to: "jane@example.test".into(),
        to_name: "Jane Doe".into(),
        subject: "Your Acme login code: 123456".into(),
        text: "Your code: 123456\n".into(),
        html: "<p>Your code: <b>123456</b></p>".into(),
    }
}

fn send(settings: &MailSettings) -> Result<(), DeliveryError> {
    block_on(send_email(&NativeOutbound, settings, &email(), 0, &Zeros))
}

#[test]
fn resend_gets_json_with_a_bearer_key() {
    let (base, server) = serve(200, r#"{"id":"49a3999c"}"#);
    let settings =
        mail_settings(&base, &[("EDGEWRITE_MAIL_API", "resend"), ("EDGEWRITE_MAIL_API_KEY", "re_key")]);
    send(&settings).unwrap();
    let received = server.join().unwrap();
    assert_eq!((received.method.as_str(), received.path.as_str()), ("POST", "/emails"));
    assert_eq!(received.headers["authorization"], "Bearer re_key");
    assert_eq!(received.headers["content-type"], "application/json");
    assert_eq!(
        received.json(),
        json!({
            "from": "Acme <noreply@acme.test>",
            "to": ["Jane Doe <jane@example.test>"],
            "subject": "Your Acme login code: 123456",
            "text": "Your code: 123456\n",
            "html": "<p>Your code: <b>123456</b></p>",
            "reply_to": "help@acme.test",
        })
    );
}

#[test]
fn sendgrid_gets_personalizations_and_both_contents() {
    let (base, server) = serve(202, "");
    let settings =
        mail_settings(&base, &[("EDGEWRITE_MAIL_API", "sendgrid"), ("EDGEWRITE_MAIL_API_KEY", "SG.key")]);
    send(&settings).unwrap();
    let received = server.join().unwrap();
    assert_eq!(received.path, "/v3/mail/send");
    assert_eq!(received.headers["authorization"], "Bearer SG.key");
    assert_eq!(
        received.json(),
        json!({
            "personalizations": [{ "to": [{ "email": "jane@example.test", "name": "Jane Doe" }] }],
            "from": { "email": "noreply@acme.test", "name": "Acme" },
            "reply_to": { "email": "help@acme.test" },
            "subject": "Your Acme login code: 123456",
            "content": [
                { "type": "text/plain", "value": "Your code: 123456\n" },
                { "type": "text/html", "value": "<p>Your code: <b>123456</b></p>" },
            ],
        })
    );
}

#[test]
fn mailgun_gets_a_form_with_basic_auth() {
    let (base, server) = serve(200, r#"{"message":"Queued. Thank you."}"#);
    let settings = mail_settings(
        &base,
        &[
            ("EDGEWRITE_MAIL_API", "mailgun"),
            ("EDGEWRITE_MAIL_API_KEY", "key-123"),
            ("EDGEWRITE_MAILGUN_DOMAIN", "mg.acme.test"),
        ],
    );
    send(&settings).unwrap();
    let received = server.join().unwrap();
    assert_eq!(received.path, "/v3/mg.acme.test/messages");
    assert_eq!(received.headers["authorization"], format!("Basic {}", STANDARD.encode("api:key-123")));
    assert_eq!(received.headers["content-type"], "application/x-www-form-urlencoded");
    let form = received.form();
    assert_eq!(form["from"], "Acme <noreply@acme.test>");
    assert_eq!(form["to"], "Jane Doe <jane@example.test>");
    assert_eq!(form["subject"], "Your Acme login code: 123456");
    assert_eq!(form["text"], "Your code: 123456\n");
    assert_eq!(form["html"], "<p>Your code: <b>123456</b></p>");
    assert_eq!(form["h:Reply-To"], "help@acme.test");
}

#[test]
fn a_provider_refusal_quotes_a_bounded_body_without_the_key() {
    let (base, server) = serve(401, "{\"message\":\"API key re_key is invalid\"}");
    let settings =
        mail_settings(&base, &[("EDGEWRITE_MAIL_API", "resend"), ("EDGEWRITE_MAIL_API_KEY", "re_key")]);
    let Err(DeliveryError::Rejected(message)) = send(&settings) else { panic!("expected Rejected") };
    assert!(message.contains("401") && message.contains("is invalid"), "{message}");
    assert!(!message.contains("re_key"), "{message}");
    server.join().unwrap();

    let long: &'static str = Box::leak("x".repeat(10_000).into_boxed_str());
    let (base, server) = serve(500, long);
    let settings =
        mail_settings(&base, &[("EDGEWRITE_MAIL_API", "sendgrid"), ("EDGEWRITE_MAIL_API_KEY", "SG.key")]);
    let Err(DeliveryError::Rejected(message)) = send(&settings) else { panic!("expected Rejected") };
    assert!(message.contains("500") && message.len() < 400, "{message}");
    server.join().unwrap();
}

#[test]
fn header_injection_is_refused_before_any_request() {
    // No server: a request would fail with Connection, not Protocol.
    let settings = mail_settings(
        "http://127.0.0.1:9",
        &[("EDGEWRITE_MAIL_API", "resend"), ("EDGEWRITE_MAIL_API_KEY", "re_key")],
    );
    let mut email = email();
    email.subject.push_str("\r\nBcc: victim@example.test");
    let result = block_on(send_email(&NativeOutbound, &settings, &email, 0, &Zeros));
    assert!(matches!(result, Err(DeliveryError::Protocol(_))), "{result:?}");
}

fn twilio(base: &str) -> SmsSettings {
    SmsSettings::from_secrets(&secrets(&[
        ("EDGEWRITE_SMS_PROVIDER", "twilio"),
        ("EDGEWRITE_SMS_FROM", "+15550100"),
        ("EDGEWRITE_SMS_ACCOUNT", "AC0123"),
        ("EDGEWRITE_SMS_TOKEN", "tw-token"),
        ("EDGEWRITE_SMS_API_URL", base),
    ]))
    .unwrap()
    .unwrap()
}

#[test]
fn twilio_gets_a_form_with_basic_auth() {
    let (base, server) = serve(201, r#"{"sid":"SM1","status":"queued"}"#);
    let body = edgewrite_mail::render_sms_code("123456", "Acme", "en");
    block_on(send_sms(&NativeOutbound, &twilio(&base), "+15550199", &body)).unwrap();
    let received = server.join().unwrap();
    assert_eq!(received.method, "POST");
    assert_eq!(received.path, "/2010-04-01/Accounts/AC0123/Messages.json");
    assert_eq!(received.headers["authorization"], format!("Basic {}", STANDARD.encode("AC0123:tw-token")));
    assert_eq!(received.headers["content-type"], "application/x-www-form-urlencoded");
    let form = received.form();
    assert_eq!(form["To"], "+15550199");
    assert_eq!(form["From"], "+15550100");
    assert_eq!(form["Body"], "123456 is your Acme verification code.");
}

#[test]
fn twilio_refusal_is_rejected() {
    let (base, server) = serve(400, r#"{"code":21211,"message":"The 'To' number is not valid."}"#);
    let result = block_on(send_sms(&NativeOutbound, &twilio(&base), "+1555", "hi"));
    let Err(DeliveryError::Rejected(message)) = result else { panic!("{result:?}") };
    assert!(message.contains("400") && message.contains("not valid"), "{message}");
    server.join().unwrap();
    let result = block_on(send_sms(&NativeOutbound, &twilio(&base), "+1 555\n", "hi"));
    assert!(matches!(result, Err(DeliveryError::Protocol(_))), "{result:?}");
}
