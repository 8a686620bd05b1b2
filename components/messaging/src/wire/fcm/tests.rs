//! FCM against a recording fake: the token request and its JWT, the cache, the send request,
//! and what FCM's answers mean.

use serde_json::json;

use crate::wire::fake::{
    block_on, form, header, json, provider, send_push_at, sender, FakeOutbound, Predictable, RSA_PEM,
};
use crate::wire::jose::tests::{decode, verify_rs256};
use crate::wire::{jose, send_push, Endpoints, Kind, ProviderConfig, PushMessage, SendError};

const TOKEN_ANSWER: &str = r#"{"access_token":"ya29.token","expires_in":3599,"token_type":"Bearer"}"#;

fn fcm(id: &str) -> ProviderConfig {
    let account = json!({
        "type": "service_account",
        "project_id": "acme-app",
        "private_key_id": "kid-1",
        "private_key": RSA_PEM,
        "client_email": "fcm@acme-app.iam.gserviceaccount.com",
        "token_uri": "https://ignored.example/token",
    });
    provider(id, Kind::Fcm, json!({ "serviceAccountJSON": account.to_string() }), json!({}))
}

fn push() -> PushMessage {
    PushMessage {
        to: "device-token-1".into(),
        title: Some("Hello".into()),
        body: Some("World".into()),
        data: serde_json::from_value(json!({ "orderId": "42", "count": 3, "nested": { "a": true } }))
            .unwrap(),
        action: Some("OPEN_ORDER".into()),
        image: Some("https://acme.test/i.png".into()),
        icon: Some("ic_stat".into()),
        color: Some("#ff0000".into()),
        tag: Some("orders".into()),
        sound: Some("chime".into()),
        badge: Some(2),
        content_available: true,
        critical: false,
        priority: "high".into(),
    }
}

const NOW: i64 = 1_795_100_400_000;

#[test]
fn mints_a_signed_token_then_sends_with_it() {
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(200, r#"{"name":"projects/acme-app/messages/1"}"#);
    send_push_at(&fake, &fcm("fcm-mint"), &push(), NOW).unwrap();

    let token_request = fake.request(0);
    assert_eq!(token_request.method, "POST");
    assert_eq!(token_request.url, "https://oauth2.googleapis.com/token");
    assert_eq!(header(&token_request, "content-type"), Some("application/x-www-form-urlencoded"));
    let fields = form(&token_request);
    assert_eq!(fields[0], ("grant_type".into(), "urn:ietf:params:oauth:grant-type:jwt-bearer".into()));
    assert_eq!(fields[1].0, "assertion");
    let key = jose::rsa_key(RSA_PEM).unwrap();
    let (jwt_header, claims) = decode(&fields[1].1, verify_rs256(&key));
    assert_eq!(jwt_header, json!({ "alg": "RS256", "typ": "JWT", "kid": "kid-1" }));
    let iat = NOW / 1000;
    assert_eq!(
        claims,
        json!({
            "iss": "fcm@acme-app.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/firebase.messaging",
            "aud": "https://oauth2.googleapis.com/token",
            "iat": iat,
            "exp": iat + 3600,
        })
    );

    let send = fake.request(1);
    assert_eq!(send.url, "https://fcm.googleapis.com/v1/projects/acme-app/messages:send");
    assert_eq!(header(&send, "authorization"), Some("Bearer ya29.token"));
    assert_eq!(header(&send, "content-type"), Some("application/json"));
    assert_eq!(
        json(&send),
        json!({ "message": {
            "token": "device-token-1",
            "notification": { "title": "Hello", "body": "World", "image": "https://acme.test/i.png" },
            "data": { "orderId": "42", "count": "3", "nested": "{\"a\":true}" },
            "android": {
                "priority": "HIGH",
                "notification": {
                    "icon": "ic_stat", "color": "#ff0000", "tag": "orders", "sound": "chime", "click_action": "OPEN_ORDER",
                },
            },
            "apns": {
                "headers": { "apns-priority": "10" },
                "payload": { "aps": { "badge": 2, "sound": "chime", "content-available": 1 } },
            },
        }})
    );
}

#[test]
fn the_token_is_cached_until_a_minute_before_it_expires() {
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(200, "{}");
    let provider = fcm("fcm-cache");
    send_push_at(&fake, &provider, &push(), NOW).unwrap();
    send_push_at(&fake, &provider, &push(), NOW + 3_500_000).unwrap();
    let urls: Vec<String> = fake.requests.borrow().iter().map(|r| r.url.clone()).collect();
    assert_eq!(urls.iter().filter(|u| u.ends_with("/token")).count(), 1, "{urls:?}");
    // 3599 s minus the 60 s margin have passed: a new token is minted.
    fake.then(200, TOKEN_ANSWER).then(200, "{}");
    send_push_at(&fake, &provider, &push(), NOW + 3_539_000).unwrap();
    let tokens = fake.requests.borrow().iter().filter(|r| r.url.ends_with("/token")).count();
    assert_eq!(tokens, 2);
    // Another provider with the same account has a cache entry of its own.
    fake.then(200, TOKEN_ANSWER).then(200, "{}");
    send_push_at(&fake, &fcm("fcm-cache-2"), &push(), NOW).unwrap();
    assert_eq!(fake.requests.borrow().iter().filter(|r| r.url.ends_with("/token")).count(), 3);
}

#[test]
fn a_minimal_normal_priority_message_leaves_empty_parts_out() {
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(200, "{}");
    let message =
        PushMessage { to: "t".into(), priority: "normal".into(), critical: true, ..PushMessage::default() };
    send_push_at(&fake, &fcm("fcm-minimal"), &message, NOW).unwrap();
    assert_eq!(
        json(&fake.last()),
        json!({ "message": {
            "token": "t",
            "android": { "priority": "NORMAL" },
            "apns": {
                "headers": { "apns-priority": "5" },
                "payload": { "aps": { "sound": { "critical": 1, "name": "default", "volume": 1.0 } } },
            },
        }})
    );
}

#[test]
fn unregistered_tokens_expire_the_target() {
    let unregistered = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
        "details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(404, unregistered);
    let result = send_push_at(&fake, &fcm("fcm-gone"), &push(), NOW);
    assert!(matches!(result, Err(SendError::TargetExpired(m)) if m.starts_with("FCM answered 404: ")));
    let invalid =
        r#"{"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"errorCode":"INVALID_ARGUMENT"}]}}"#;
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(400, invalid);
    assert!(matches!(send_push_at(&fake, &fcm("fcm-bad"), &push(), NOW), Err(SendError::Permanent(_))));
    // A 404 without FCM's word that the token is gone (a wrong project, a wrong base URL).
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(404, r#"{"error":{"code":404,"status":"NOT_FOUND"}}"#);
    assert!(matches!(send_push_at(&fake, &fcm("fcm-404"), &push(), NOW), Err(SendError::Permanent(_))));
}

#[test]
fn unavailable_is_retryable_and_401_forgets_the_token() {
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(503, r#"{"error":{"status":"UNAVAILABLE"}}"#);
    let provider = fcm("fcm-503");
    assert!(matches!(send_push_at(&fake, &provider, &push(), NOW), Err(SendError::Retryable(_))));
    fake.then(401, r#"{"error":{"message":"bad token ya29.token"}}"#);
    let result = send_push_at(&fake, &provider, &push(), NOW);
    assert!(
        matches!(&result, Err(SendError::Permanent(m)) if m.contains("<redacted>") && !m.contains("ya29")),
        "{result:?}"
    );
    fake.then(200, TOKEN_ANSWER);
    let _ = send_push_at(&fake, &provider, &push(), NOW);
    assert_eq!(fake.requests.borrow().iter().filter(|r| r.url.ends_with("/token")).count(), 2);
}

#[test]
fn token_endpoint_failures_are_retryable_only_for_5xx_and_429() {
    for (status, retryable) in [(500, true), (429, true), (400, false), (401, false)] {
        let fake = FakeOutbound::answering(status, r#"{"error":"invalid_grant"}"#);
        let result = send_push_at(&fake, &fcm(&format!("fcm-token-{status}")), &push(), NOW);
        match result {
            Err(SendError::Retryable(m)) if retryable => {
                assert!(m.starts_with("FCM's token endpoint answered"))
            }
            Err(SendError::Permanent(m)) if !retryable => assert!(m.contains("invalid_grant"), "{m}"),
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(fake.requests.borrow().len(), 1, "no send without a token");
    }
}

#[test]
fn token_endpoint_override_is_also_the_audience() {
    let endpoints = Endpoints::from_secrets(&edgewrite_native::MapSecrets(
        [(
            "EDGEWRITE_MESSAGING_BASE_URLS".to_string(),
            "fcm-token=http://127.0.0.1:9/g,fcm=http://127.0.0.1:9".to_string(),
        )]
        .into(),
    ));
    let fake = FakeOutbound::answering(200, TOKEN_ANSWER);
    fake.then(200, "{}");
    let random = Predictable::default();
    block_on(send_push(sender(&fake, &random, &endpoints), &fcm("fcm-override"), &push())).unwrap();
    assert_eq!(fake.request(0).url, "http://127.0.0.1:9/g/token");
    let assertion = form(&fake.request(0))[1].1.clone();
    let (_, claims) = decode(&assertion, verify_rs256(&jose::rsa_key(RSA_PEM).unwrap()));
    assert_eq!(claims["aud"], "http://127.0.0.1:9/g/token");
    assert_eq!(fake.request(1).url, "http://127.0.0.1:9/v1/projects/acme-app/messages:send");
}

#[test]
fn a_broken_service_account_is_permanent_and_names_no_secret() {
    let cases = [
        (json!("not json"), "it is not valid JSON"),
        (json!({ "project_id": "p", "client_email": "e" }), "it has no private_key"),
        (json!({ "project_id": "p", "client_email": "e", "private_key": "MIIsecret" }), "its private_key"),
    ];
    for (account, expected) in cases {
        let p = provider("fcm-broken", Kind::Fcm, json!({ "serviceAccountJSON": account }), json!({}));
        let fake = FakeOutbound::default();
        let result = send_push_at(&fake, &p, &push(), NOW);
        assert!(
            matches!(&result, Err(SendError::Permanent(m)) if m.contains(expected) && !m.contains("MIIsecret")),
            "{result:?}"
        );
        assert!(fake.requests.borrow().is_empty());
    }
}
