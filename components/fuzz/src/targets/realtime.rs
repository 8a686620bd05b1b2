//! Target `realtime`: the frames a realtime client sends (`edgewrite_realtime::Connection::handle`):
//! `{"type":"ping"}`, `authentication`, `subscribe` and `unsubscribe`.
//!
//! Input: the first line is who connects (`guest`, or `user:<id>`, the id cut to a valid one);
//! every further line is one frame, the n-th sent at n seconds (so the 33rd of a minute meets
//! the rate limit).
//!
//! Properties: never panics; every frame answered is a JSON object with a `type`; a refused
//! frame changes no subscription; the state stays within its limits (subscriptions, channels,
//! ids, [`edgewrite_realtime::MAX_STATE_BYTES`] as a JavaScript engine counts them) and
//! survives the attachment round trip; delivering an event to the state never panics.

use edgewrite_core::identity::{Caller, UserCaller};
use edgewrite_core::ports::Event;
use edgewrite_realtime::{Action, Connection, MAX_CHANNELS, MAX_STATE_BYTES, MAX_SUBSCRIPTIONS};
use serde_json::{json, Value};

use crate::Target;

pub const TARGET: Target = Target {
    name: "realtime",
    run,
    dictionary: &[
        "{\"type\":\"ping\"}",
        "{\"type\":\"subscribe\",\"data\":[",
        "{\"type\":\"unsubscribe\",\"data\":[",
        "{\"type\":\"authentication\",\"data\":{\"session\":\"",
        "\"subscriptionId\":",
        "\"channels\":",
        "\"queries\":",
        "\"slot\":",
        "account",
        "documents",
        "files",
        "databases.db.collections.c.documents",
        "{\\\"method\\\":\\\"equal\\\",\\\"attribute\\\":\\\"n\\\",\\\"values\\\":[1]}",
        "guest",
        "user:u1",
    ],
    max_len: 256 * 1024,
};

fn user(id: &str) -> Caller {
    Caller::User(UserCaller {
        user_id: id.to_string(),
        session_id: "s1".into(),
        via_jwt: false,
        expires_ms: None,
        email: String::new(),
        name: String::new(),
        email_verified: false,
        labels: Vec::new(),
        memberships: Vec::new(),
        mfa_pending: false,
        impersonator: false,
        impersonated_by: None,
    })
}

fn run(input: &[u8]) {
    let lines = super::lines(input);
    let caller = match lines.first().and_then(|l| l.strip_prefix("user:")) {
        // Ids are custom ids by then: at most 36 of `[A-Za-z0-9._-]`.
        Some(id) => user(
            &id.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .take(36)
                .collect::<String>(),
        ),
        None => Caller::Guest,
    };
    let mut connection = Connection::for_caller("p", &caller);
    let events = [
        Event::new(
            vec!["x".into()],
            vec!["documents".into()],
            json!({"n": 1, "title": "a"}),
            vec!["any".into()],
        ),
        Event::new(vec!["y".into()], vec!["account.u1".into()], json!({"$id": "u1"}), vec!["user:u1".into()]),
    ];
    for (n, frame) in lines.iter().enumerate().skip(1) {
        let before = connection.subscriptions.clone();
        match connection.handle(frame, n as i64 * 1000) {
            Action::Send(frames) => {
                for answer in &frames {
                    let answer = typed_frame(answer);
                    if answer["type"] == "error" {
                        assert_eq!(
                            connection.subscriptions, before,
                            "a refused frame changed the subscriptions"
                        );
                    }
                }
            }
            Action::Authenticate(session) => {
                assert!(!session.is_empty());
                let _ = typed_frame(&connection.authenticated(&user("u1"), None));
            }
            Action::Close(frame, code) => {
                assert_eq!(code, 1013);
                let _ = typed_frame(&frame);
            }
        }
        check_state(&connection);
        for event in &events {
            if let Some(frame) = connection.deliver(event, "2024-01-01T00:00:00.000+00:00") {
                assert_eq!(typed_frame(&frame)["type"], "event");
            }
        }
    }
}

/// The frame as JSON; panics unless it is an object with a string `type`.
fn typed_frame(frame: &str) -> Value {
    let value: Value =
        serde_json::from_str(frame).unwrap_or_else(|e| panic!("frame {frame:?} is not JSON: {e}"));
    assert!(value.get("type").is_some_and(Value::is_string), "frame {frame:?} has no type");
    value
}

fn check_state(connection: &Connection) {
    let subscriptions = &connection.subscriptions;
    assert!(subscriptions.len() <= MAX_SUBSCRIPTIONS, "{} subscriptions", subscriptions.len());
    for (i, s) in subscriptions.iter().enumerate() {
        assert!(!s.id.is_empty() && s.id.len() <= 64, "subscription id {:?}", s.id);
        assert!(s.channels.len() <= MAX_CHANNELS, "{} channels", s.channels.len());
        assert!(subscriptions[..i].iter().all(|t| t.id != s.id), "two subscriptions {:?}", s.id);
    }
    let attachment = connection.to_attachment();
    assert!(js_size(&attachment) <= MAX_STATE_BYTES, "state of {} bytes", js_size(&attachment));
    assert_eq!(Connection::from_attachment(&attachment).as_ref(), Some(connection), "attachment round trip");
}

/// The bytes a JavaScript engine stores `s` in: one per character when all are Latin-1, else
/// two per UTF-16 unit.
fn js_size(s: &str) -> usize {
    if s.chars().all(|c| u32::from(c) <= 0xff) {
        s.chars().count()
    } else {
        s.encode_utf16().count() * 2
    }
}
