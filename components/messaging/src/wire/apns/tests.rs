//! APNs against a recording fake: the provider token, headers, payload, and Apple's answers.

use serde_json::json;

use crate::wire::fake::{header, json, provider, send_push_at, FakeOutbound};
use crate::wire::jose::tests::{decode, p256_pem, verify_es256};
use crate::wire::{jose, Kind, ProviderConfig, PushMessage, SendError};

const NOW: i64 = 1_795_100_400_000;

fn apns(id: &str, sandbox: bool) -> ProviderConfig {
    provider(
        id,
        Kind::Apns,
        json!({ "authKey": p256_pem(), "authKeyId": "KEY123", "teamId": "TEAM456", "bundleId": "test.acme.app" }),
        json!({ "sandbox": sandbox }),
    )
}

fn push() -> PushMessage {
    PushMessage {
        to: "a1b2c3".into(),
        title: Some("Hello".into()),
        body: Some("World".into()),
        data: serde_json::from_value(json!({ "orderId": "42", "count": 3, "aps": "ignored" })).unwrap(),
        image: Some("https://acme.test/i.png".into()),
        tag: Some("orders".into()),
        sound: Some("chime".into()),
        badge: Some(1),
        critical: true,
        priority: "high".into(),
        ..PushMessage::default()
    }
}

#[test]
fn sends_a_signed_alert_with_its_headers_and_payload() {
    let fake = FakeOutbound::answering(200, "");
    send_push_at(&fake, &apns("apns-alert", false), &push(), NOW).unwrap();
    let request = fake.last();
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, "https://api.push.apple.com/3/device/a1b2c3");
    assert_eq!(header(&request, "apns-topic"), Some("test.acme.app"));
    assert_eq!(header(&request, "apns-push-type"), Some("alert"));
    assert_eq!(header(&request, "apns-priority"), Some("10"));
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    let jwt = header(&request, "authorization").unwrap().strip_prefix("bearer ").unwrap();
    let key = jose::p256_key(&p256_pem()).unwrap();
    let (jwt_header, claims) = decode(jwt, verify_es256(&key));
    assert_eq!(jwt_header, json!({ "alg": "ES256", "kid": "KEY123" }));
    assert_eq!(claims, json!({ "iss": "TEAM456", "iat": NOW / 1000 }));
    assert_eq!(
        json(&request),
        json!({
            "aps": {
                "alert": { "title": "Hello", "body": "World" },
                "badge": 1,
                "sound": { "critical": 1, "name": "chime", "volume": 1.0 },
                "thread-id": "orders",
                "mutable-content": 1,
            },
            "orderId": "42",
            "count": 3,
        })
    );
}

#[test]
fn a_silent_normal_push_is_background_priority_5_in_the_sandbox() {
    let fake = FakeOutbound::answering(200, "");
    let message = PushMessage {
        to: "ff00".into(),
        content_available: true,
        priority: "normal".into(),
        ..PushMessage::default()
    };
    send_push_at(&fake, &apns("apns-silent", true), &message, NOW).unwrap();
    let request = fake.last();
    assert_eq!(request.url, "https://api.sandbox.push.apple.com/3/device/ff00");
    assert_eq!(header(&request, "apns-push-type"), Some("background"));
    assert_eq!(header(&request, "apns-priority"), Some("5"));
    assert_eq!(json(&request), json!({ "aps": { "content-available": 1 } }));
}

#[test]
fn the_provider_token_is_reused_for_50_minutes() {
    let fake = FakeOutbound::answering(200, "");
    let provider = apns("apns-reuse", false);
    let token = |i: usize| header(&fake.request(i), "authorization").unwrap().to_string();
    send_push_at(&fake, &provider, &push(), NOW).unwrap();
    send_push_at(&fake, &provider, &push(), NOW + 49 * 60_000).unwrap();
    assert_eq!(token(0), token(1));
    send_push_at(&fake, &provider, &push(), NOW + 51 * 60_000).unwrap();
    assert_ne!(token(1), token(2));
}

#[test]
fn gone_devices_expire_the_target() {
    for (status, body) in
        [(410, r#"{"reason":"Unregistered","timestamp":1}"#), (400, r#"{"reason":"Unregistered"}"#)]
    {
        let fake = FakeOutbound::answering(status, body);
        let result = send_push_at(&fake, &apns("apns-gone", false), &push(), NOW);
        assert!(
            matches!(&result, Err(SendError::TargetExpired(m)) if m.contains("APNs answered")),
            "{result:?}"
        );
    }
    // A sandbox token sent to production (a wrong `sandbox` setting) is not a gone device.
    for reason in ["BadTopic", "BadDeviceToken"] {
        let fake = FakeOutbound::answering(400, &format!(r#"{{"reason":"{reason}"}}"#));
        assert!(matches!(
            send_push_at(&fake, &apns("apns-gone", false), &push(), NOW),
            Err(SendError::Permanent(_))
        ));
    }
    let fake = FakeOutbound::answering(503, r#"{"reason":"ServiceUnavailable"}"#);
    assert!(matches!(
        send_push_at(&fake, &apns("apns-gone", false), &push(), NOW),
        Err(SendError::Retryable(_))
    ));
}

#[test]
fn a_refused_token_is_not_reused() {
    let fake = FakeOutbound::answering(403, r#"{"reason":"ExpiredProviderToken"}"#);
    let provider = apns("apns-403", false);
    let result = send_push_at(&fake, &provider, &push(), NOW);
    assert!(matches!(result, Err(SendError::Permanent(_))), "{result:?}");
    fake.then(200, "");
    send_push_at(&fake, &provider, &push(), NOW + 1000).unwrap();
    let token = |i: usize| header(&fake.request(i), "authorization").unwrap().to_string();
    assert_ne!(token(0), token(1));
}

#[test]
fn a_key_that_is_not_p256_is_permanent_and_not_quoted() {
    let mut provider = apns("apns-badkey", false);
    provider.credentials.insert("authKey".into(), json!(crate::wire::fake::RSA_PEM));
    let fake = FakeOutbound::default();
    let result = send_push_at(&fake, &provider, &push(), NOW);
    let Err(SendError::Permanent(m)) = result else { panic!("{result:?}") };
    assert_eq!(m, "APNs setting authKey is invalid: it is not a P-256 private key in PKCS#8 PEM form");
    assert!(fake.requests.borrow().is_empty());
}
