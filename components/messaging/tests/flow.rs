//! Delivery in-process over the native adapter (no queue: runs happen in the request, as on
//! Spin), against a loopback stand-in for Twilio: one request per target, permanent refusals
//! not retried, passing ones retried and counted, tries of a run that died used up, and a
//! message held by another run left alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use edgewrite_core::ports::{Job, Statement, Value};
use edgewrite_core::{Capability, Method, Request, Runtime};
use edgewrite_native::{MapSecrets, NativeRuntime};
use serde_json::{json, Value as Json};

const KEY: &str = "standard_k";

/// A Twilio stand-in: answers each request with the next scripted status for its `To` (201
/// once the script for that number runs out) and records the numbers it was asked to send to.
#[derive(Clone, Default)]
struct Twilio {
    script: Arc<Mutex<Vec<(String, u16)>>>,
    received: Arc<Mutex<Vec<String>>>,
}

impl Twilio {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let to = form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "To")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                me.received.lock().unwrap().push(to.clone());
                let status = {
                    let mut script = me.script.lock().unwrap();
                    match script.iter().position(|(n, _)| *n == to) {
                        Some(i) => script.remove(i).1,
                        None => 201,
                    }
                };
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        port
    }

    fn sent_to(&self, number: &str) -> usize {
        self.received.lock().unwrap().iter().filter(|n| *n == number).count()
    }
}

fn runtime(name: &str, twilio_port: u16) -> NativeRuntime {
    let dir = std::env::temp_dir().join(format!("edgewrite-messaging-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let urls = format!("twilio=http://127.0.0.1:{twilio_port}");
    let secrets = MapSecrets(
        [
            ("EDGEWRITE_PROJECTS", "p"),
            ("EDGEWRITE_API_KEY", KEY),
            ("EDGEWRITE_MESSAGING_BASE_URLS", urls.as_str()),
            ("EDGEWRITE_ENCRYPTION_KEY", "flow-test-key"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect(),
    );
    NativeRuntime::new(dir, secrets)
}

const CAPABILITIES: [&dyn Capability; 2] = [&edgewrite_messaging::Messaging, &edgewrite_account::Users];

fn call(rt: &NativeRuntime, method: Method, path: &str, body: Option<Json>) -> (u16, Json) {
    let mut req = Request::from_url(method, &format!("http://127.0.0.1/v1{path}")).unwrap();
    req.headers.set("x-appwrite-project", "p");
    req.headers.set("x-appwrite-key", KEY);
    req.headers.set("content-type", "application/json");
    req.body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let config = edgewrite_core::Config::from_secrets(rt.secrets());
    let resp = futures_executor::block_on(edgewrite_core::serve(
        &req,
        &config,
        rt,
        &CAPABILITIES,
        Some(&edgewrite_account::AccountAuthenticator),
    ));
    (resp.status, serde_json::from_slice(&resp.body).unwrap_or(Json::Null))
}

fn tick(rt: &NativeRuntime) {
    let config = edgewrite_core::Config::from_secrets(rt.secrets());
    let job = Job { project: "p".into(), kind: "tick".into(), payload: json!({}) };
    futures_executor::block_on(edgewrite_core::serve::run_job(
        &job,
        "http://127.0.0.1/v1",
        &config,
        rt,
        &CAPABILITIES,
        Some(&edgewrite_account::AccountAuthenticator),
    ))
    .unwrap();
}

fn sql(rt: &NativeRuntime, statement: &str, params: Vec<Value>) -> Vec<Vec<Value>> {
    futures_executor::block_on(async {
        let stores = rt.open_project("p").await.unwrap();
        stores.sql.query(Statement::new(statement, params)).await.unwrap().rows
    })
}

/// A Twilio provider and one SMS target per number.
fn setup(rt: &NativeRuntime, numbers: &[&str]) -> Vec<String> {
    let provider = json!({"providerId": "tw", "name": "Twilio", "accountSid": "AC1", "authToken": "token-secret", "from": "+15550009999"});
    assert_eq!(call(rt, Method::Post, "/messaging/providers/twilio", Some(provider)).0, 201);
    assert_eq!(call(rt, Method::Post, "/users", Some(json!({"userId": "u", "name": "U"}))).0, 201);
    numbers
        .iter()
        .enumerate()
        .map(|(i, number)| {
            let target = json!({"targetId": format!("t{i}"), "providerType": "sms", "identifier": number});
            let (status, body) = call(rt, Method::Post, "/users/u/targets", Some(target));
            assert_eq!(status, 201, "{body}");
            format!("t{i}")
        })
        .collect()
}

#[test]
fn each_target_is_sent_once_refusals_stay_final_and_passing_failures_are_retried() {
    let twilio = Twilio::default();
    twilio.script.lock().unwrap().extend([
        ("+15550000002".to_string(), 400),
        ("+15550000003".to_string(), 503),
        ("+15550000003".to_string(), 429),
    ]);
    let rt = runtime("send", twilio.start());
    let targets = setup(&rt, &["+15550000001", "+15550000002", "+15550000003"]);
    let (status, message) = call(
        &rt,
        Method::Post,
        "/messaging/messages/sms",
        Some(json!({"messageId": "m1", "content": "hello", "targets": targets})),
    );
    assert_eq!(status, 201, "{message}");
    // No queue: delivered before the answer.
    assert_eq!(message["status"], "failed", "{message}");
    assert_eq!(message["deliveredTotal"], 2);
    let errors = message["deliveryErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].as_str().unwrap().contains("+15550000002"), "{errors:?}");
    assert!(!message.to_string().contains("token-secret"));
    assert_eq!(twilio.sent_to("+15550000001"), 1);
    assert_eq!(twilio.sent_to("+15550000002"), 1, "a refusal is not retried");
    assert_eq!(twilio.sent_to("+15550000003"), 3, "503 and 429 are retried");
    let attempts =
        sql(&rt, "SELECT target_id, attempts, state FROM message_targets ORDER BY target_id", vec![]);
    let attempts: Vec<(String, i64, String)> = attempts
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_i64().unwrap(), r[2].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        attempts,
        [("t0".into(), 1, "sent".into()), ("t1".into(), 1, "failed".into()), ("t2".into(), 3, "sent".into())]
    );
}

#[test]
fn a_run_that_died_uses_up_its_tries_and_a_held_message_is_left_alone() {
    let twilio = Twilio::default();
    let rt = runtime("lost", twilio.start());
    let targets = setup(&rt, &["+15550000011", "+15550000012"]);
    let draft = json!({"messageId": "m2", "content": "hi", "targets": targets, "draft": true});
    assert_eq!(call(&rt, Method::Post, "/messaging/messages/sms", Some(draft)).0, 201);
    // As a run that died while sending would leave it: processing, resolved, one target at its
    // last try, the lease long gone.
    let old = Value::Integer(0);
    sql(&rt, "UPDATE messages SET status = 'processing', resolved_at = 1, lease = ?, updated_at = ? WHERE id = 'm2'", vec![
        old.clone(),
        old.clone(),
    ]);
    for (target, attempts) in [("t0", 4), ("t1", 0)] {
        sql(
            &rt,
            "INSERT INTO message_targets (message_id, target_id, state, attempts, updated_at) VALUES ('m2', ?, 'pending', ?, 0)",
            vec![target.into(), Value::Integer(attempts)],
        );
    }
    // Another run holds it (its lease is fresh): the tick leaves it.
    let now = Value::Integer(
        i64::try_from(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
        )
        .unwrap(),
    );
    sql(&rt, "UPDATE messages SET lease = ? WHERE id = 'm2'", vec![now]);
    tick(&rt);
    assert_eq!(call(&rt, Method::Get, "/messaging/messages/m2", None).1["status"], "processing");
    assert!(twilio.received.lock().unwrap().is_empty());

    // Its lease ran out: the tick restarts it; the target whose tries ran out is failed unsent.
    sql(&rt, "UPDATE messages SET lease = ? WHERE id = 'm2'", vec![old]);
    tick(&rt);
    let (_, message) = call(&rt, Method::Get, "/messaging/messages/m2", None);
    assert_eq!(message["status"], "failed", "{message}");
    assert_eq!(message["deliveredTotal"], 1);
    assert!(message["deliveryErrors"][0].as_str().unwrap().contains("no answer after 4 tries"), "{message}");
    assert_eq!(twilio.sent_to("+15550000011"), 0);
    assert_eq!(twilio.sent_to("+15550000012"), 1);
}
