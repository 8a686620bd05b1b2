//! The account capability in-process over the native adapter: the same pipeline as the edge,
//! without a runtime, for fast feedback. The e2e suite covers the SDKs and the wire.

use edgewrite_core::{Capability, Method, Request, Response};
use edgewrite_native::{MapSecrets, NativeRuntime};
use serde_json::{json, Value};

const KEY: &str = "standard_k";

struct Server {
    runtime: NativeRuntime,
}

impl Server {
    fn new(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("edgewrite-account-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let secrets = MapSecrets(
            [("EDGEWRITE_PROJECTS", "p"), ("EDGEWRITE_API_KEY", KEY)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        Server { runtime: NativeRuntime::new(dir, secrets) }
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value, Response) {
        let mut req = Request::from_url(method, &format!("http://127.0.0.1/v1{path}")).unwrap();
        req.headers.set("x-appwrite-project", "p");
        req.headers.set("content-type", "application/json");
        for (k, v) in headers {
            req.headers.set(k, *v);
        }
        req.body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let caps: [&dyn Capability; 5] = [
            &edgewrite_account::Account,
            &edgewrite_account::Users,
            &edgewrite_account::Teams,
            &edgewrite_account::ProjectKeys,
            &edgewrite_account::ProjectOAuth2,
        ];
        let config = edgewrite_core::Config::from_secrets(edgewrite_core::Runtime::secrets(&self.runtime));
        let resp = futures_executor::block_on(edgewrite_core::serve(
            &req,
            &config,
            &self.runtime,
            &caps,
            Some(&edgewrite_account::AccountAuthenticator),
        ));
        let value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        (resp.status, value, resp)
    }
}

#[test]
fn signup_then_login_then_get_with_the_session_header() {
    let s = Server::new("flow");
    let body = json!({"userId": "u1", "email": "A@Example.com", "password": "password-123"});
    let (status, user, _) = s.call(Method::Post, "/account", &[], Some(body.clone()));
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "a@example.com");
    assert_eq!(s.call(Method::Post, "/account", &[], Some(body)).1["type"], "user_already_exists");

    let login = json!({"email": "a@example.com", "password": "password-123"});
    let (status, session, resp) =
        s.call(Method::Post, "/account/sessions/email", &[("x-appwrite-key", KEY)], Some(login.clone()));
    assert_eq!(status, 201, "{session}");
    let secret = session["secret"].as_str().unwrap().to_string();
    assert!(!secret.is_empty());
    assert!(resp.headers.get("x-fallback-cookies").is_some());

    let (status, me, _) = s.call(Method::Get, "/account", &[("x-appwrite-session", &secret)], None);
    assert_eq!((status, me["$id"].as_str()), (200, Some("u1")));

    let (status, err, _) =
        s.call(Method::Post, "/account/sessions/email", &[("x-appwrite-session", &secret)], Some(login));
    assert_eq!((status, err["type"].as_str()), (401, Some("user_session_already_exists")));

    let (_, jwt, _) =
        s.call(Method::Post, "/account/jwts", &[("x-appwrite-session", &secret)], Some(json!({})));
    let token = jwt["jwt"].as_str().unwrap().to_string();
    let (status, me, _) = s.call(Method::Get, "/account", &[("x-appwrite-jwt", &token)], None);
    assert_eq!((status, me["$id"].as_str()), (200, Some("u1")));

    assert_eq!(
        s.call(Method::Delete, "/account/sessions/current", &[("x-appwrite-session", &secret)], None).0,
        204
    );
    let (status, err, _) = s.call(Method::Get, "/account", &[("x-appwrite-session", &secret)], None);
    assert_eq!((status, err["type"].as_str()), (401, Some("general_unauthorized_scope")));
    // The JWT dies with its session.
    assert_eq!(
        s.call(Method::Get, "/account", &[("x-appwrite-jwt", &token)], None).1["type"],
        "user_jwt_invalid"
    );
}

#[test]
fn a_forged_session_credential_is_a_guest() {
    let s = Server::new("forged");
    let forged =
        edgewrite_core::identity::SessionCredential { id: "u1".into(), secret: "0".repeat(64) }.encode();
    let (status, err, _) = s.call(Method::Get, "/account", &[("x-appwrite-session", &forged)], None);
    assert_eq!((status, err["type"].as_str()), (401, Some("general_unauthorized_scope")));
}

#[test]
fn imported_hashes_log_in_and_are_upgraded_to_argon2id() {
    use edgewrite_core::ports::{Statement, Value};
    use edgewrite_core::Runtime;
    let s = Server::new("imported");
    // Make sure the schema exists, then plant users as an importer would.
    s.call(Method::Get, "/account", &[], None);
    let stores = futures_executor::block_on(s.runtime.open_project("p")).unwrap();
    let users = [
        (
            "bcrypt1",
            "bcrypt",
            "$2b$05$70gSeWZ9qOMURvf07vj5luiYg6gwZdqhfSZrsL0Owm98xuAkoup6u",
            json!({"type": "bcrypt"}),
        ),
        ("md5user", "md5", "3cb4e732631f47e6eb961f34554b7cde", json!({"type": "md5"})),
        (
            "scrypt1",
            "scrypt",
            "b5b06c5ce060e6d48a775ec7be23e5dd7c7c0f5ae3cbd0bc99e4c4f8671d6059",
            json!({"type": "scrypt", "salt": "appwrite-salt", "costCpu": 16, "costMemory": 8, "costParallel": 1, "length": 32}),
        ),
    ];
    for (id, algo, hash, options) in &users {
        futures_executor::block_on(stores.sql.query(Statement::new(
            "INSERT INTO users (id, email, password_hash, hash_algo, hash_options, created_at, updated_at, accessed_at)
             VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
            vec![
                Value::from(*id),
                Value::from(format!("{id}@example.com")),
                Value::from(*hash),
                Value::from(*algo),
                Value::from(options.to_string()),
            ],
        )))
        .unwrap();
    }
    for (id, ..) in &users {
        let login = json!({"email": format!("{id}@example.com"), "password": "correct horse"});
        let wrong = json!({"email": format!("{id}@example.com"), "password": "wrong horse"});
        assert_eq!(
            s.call(Method::Post, "/account/sessions/email", &[("x-appwrite-key", KEY)], Some(wrong)).0,
            401
        );
        let (status, body, _) =
            s.call(Method::Post, "/account/sessions/email", &[("x-appwrite-key", KEY)], Some(login));
        assert_eq!(status, 201, "{id}: {body}");
        let rows = futures_executor::block_on(stores.sql.query(Statement::new(
            "SELECT hash_algo, password_hash FROM users WHERE id = ?",
            vec![Value::from(*id)],
        )))
        .unwrap();
        assert_eq!(rows.get(0, "hash_algo").and_then(Value::as_str), Some("argon2"), "{id}");
        assert!(rows.get(0, "password_hash").and_then(Value::as_str).unwrap().starts_with("$argon2id$"));
    }
}

/// Signs up `id` and returns its session credential.
fn signed_in(s: &Server, id: &str) -> String {
    let email = format!("{id}@example.com");
    let body = json!({"userId": id, "email": email, "password": "password-123"});
    assert_eq!(s.call(Method::Post, "/account", &[], Some(body)).0, 201);
    let login = json!({"email": email, "password": "password-123"});
    let (_, session, _) =
        s.call(Method::Post, "/account/sessions/email", &[("x-appwrite-key", KEY)], Some(login));
    session["secret"].as_str().unwrap().to_string()
}

#[test]
fn stored_keys_carry_their_scopes_and_expire() {
    let s = Server::new("keys");
    let admin = [("x-appwrite-key", KEY)];
    let body = json!({"keyId": "reader", "name": "Reader", "scopes": ["users.read"]});
    let (status, key, _) = s.call(Method::Post, "/project/keys", &admin, Some(body));
    assert_eq!(status, 201, "{key}");
    let secret = key["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("standard_") && secret.len() == 9 + 256);

    let with_key = [("x-appwrite-key", secret.as_str())];
    assert_eq!(s.call(Method::Get, "/users", &with_key, None).0, 200);
    let (status, err, _) = s.call(Method::Post, "/users", &with_key, Some(json!({"userId": "x"})));
    assert_eq!((status, err["type"].as_str()), (401, Some("general_unauthorized_scope")));
    assert_eq!(s.call(Method::Get, "/project/keys/reader", &admin, None).1["secret"], "");

    let past = json!({"name": "Reader", "scopes": ["users.read"], "expire": "2001-01-01T00:00:00.000+00:00"});
    assert_eq!(s.call(Method::Put, "/project/keys/reader", &admin, Some(past)).0, 200);
    let (status, err, _) = s.call(Method::Get, "/users", &with_key, None);
    assert_eq!((status, err["type"].as_str()), (401, Some("project_key_expired")));

    assert_eq!(s.call(Method::Delete, "/project/keys/reader", &admin, None).0, 204);
    let (status, err, _) = s.call(Method::Get, "/users", &with_key, None);
    assert_eq!((status, err["type"].as_str()), (401, Some("user_unauthorized")));
}

#[test]
fn an_invitation_is_accepted_with_its_secret_only() {
    use edgewrite_core::ports::{Statement, Value};
    use edgewrite_core::Runtime;
    use sha2::Digest;
    let s = Server::new("invite");
    let owner = signed_in(&s, "owner");
    let (status, team, _) = s.call(
        Method::Post,
        "/teams",
        &[("x-appwrite-session", &owner)],
        Some(json!({"teamId": "t1", "name": "Team"})),
    );
    assert_eq!(status, 201, "{team}");
    signed_in(&s, "invitee");
    // Plant the pending membership an emailed invitation leaves behind.
    let stores = futures_executor::block_on(s.runtime.open_project("p")).unwrap();
    futures_executor::block_on(stores.sql.query(Statement::new(
        "INSERT INTO memberships (id, team_id, user_id, roles, invited, confirm, secret_hash, invited_email,
                                  created_at, updated_at)
         VALUES ('m1', 't1', 'invitee', '[\"member\"]', ?, 0, ?, 'invitee@example.com', 0, 0)",
        vec![
            Value::Integer(edgewrite_core::ports::Clock::now_ms(&edgewrite_native::SystemClock)),
            Value::Blob(sha2::Sha256::digest(b"invite-secret").to_vec()),
        ],
    )))
    .unwrap();

    let accept = |user: &str, secret: &str, headers: &[(&str, &str)]| {
        s.call(
            Method::Patch,
            "/teams/t1/memberships/m1/status",
            headers,
            Some(json!({"userId": user, "secret": secret})),
        )
    };
    assert_eq!(accept("invitee", "wrong", &[]).1["type"], "team_invalid_secret");
    assert_eq!(accept("owner", "invite-secret", &[]).1["type"], "team_invite_mismatch");
    assert_eq!(
        accept("invitee", "invite-secret", &[("x-appwrite-session", &owner)]).1["type"],
        "team_invite_mismatch"
    );
    let (status, membership, resp) = accept("invitee", "invite-secret", &[]);
    assert_eq!(status, 200, "{membership}");
    assert_eq!(membership["confirm"], true);
    let credential = resp.headers.get("x-fallback-cookies").expect("the invitee is signed in");
    let credential: serde_json::Value = serde_json::from_str(credential).unwrap();
    let session = credential["a_session_p"].as_str().unwrap().to_string();
    assert_eq!(accept("invitee", "invite-secret", &[]).1["type"], "membership_already_confirmed");

    // The new member reads the team; the count includes it.
    let (status, team, _) = s.call(Method::Get, "/teams/t1", &[("x-appwrite-session", &session)], None);
    assert_eq!((status, team["total"].as_i64()), (200, Some(2)), "{team}");
    let (_, me, _) = s.call(Method::Get, "/account", &[("x-appwrite-session", &session)], None);
    assert_eq!(me["emailVerification"], true);
}

#[test]
fn expired_and_non_login_tokens_never_become_sessions() {
    use edgewrite_core::ports::{Statement, Value};
    use edgewrite_core::Runtime;
    use sha2::Digest;
    let s = Server::new("tokens");
    signed_in(&s, "holder");
    let stores = futures_executor::block_on(s.runtime.open_project("p")).unwrap();
    let plant = |id: &str, kind: &str, secret: &str, expire: i64| {
        futures_executor::block_on(stores.sql.query(Statement::new(
            "INSERT INTO tokens (id, user_id, kind, secret_hash, expire, created_at) VALUES (?, 'holder', ?, ?, ?, 0)",
            vec![
                Value::from(id),
                Value::from(kind),
                Value::Blob(sha2::Sha256::digest(secret.as_bytes()).to_vec()),
                Value::Integer(expire),
            ],
        )))
        .unwrap();
    };
    let far = i64::MAX / 2;
    plant("expired", "generic", "expired-secret", 1);
    plant("reset", "recovery", "recovery-secret", far);
    plant("verify", "verification", "verification-secret", far);
    plant("live", "generic", "live-secret", far);
    let exchange = |secret: &str| {
        let body = json!({"userId": "holder", "secret": secret});
        s.call(Method::Post, "/account/sessions/token", &[("x-appwrite-key", KEY)], Some(body))
    };
    for secret in ["expired-secret", "recovery-secret", "verification-secret", "tampered"] {
        let (status, err, _) = exchange(secret);
        assert_eq!((status, err["type"].as_str()), (401, Some("user_invalid_token")), "{secret}");
    }
    assert_eq!(exchange("live-secret").0, 201);
    assert_eq!(exchange("live-secret").1["type"], "user_invalid_token", "single use");
}

#[test]
fn without_mail_or_sms_settings_the_flows_answer_503() {
    let s = Server::new("nomail");
    let email = json!({"userId": "unique()", "email": "someone@example.com"});
    let (status, err, _) = s.call(Method::Post, "/account/tokens/email", &[], Some(email));
    assert_eq!((status, err["type"].as_str()), (503, Some("general_smtp_disabled")));
    let recovery = json!({"email": "someone@example.com", "url": "http://localhost/reset"});
    assert_eq!(
        s.call(Method::Post, "/account/recovery", &[], Some(recovery)).1["type"],
        "general_smtp_disabled"
    );
    let phone = json!({"userId": "unique()", "phone": "+15550002222"});
    let (status, err, _) = s.call(Method::Post, "/account/tokens/phone", &[], Some(phone));
    assert_eq!((status, err["type"].as_str()), (503, Some("general_phone_disabled")));
    // Nothing was created on the way: the address is still free.
    let signup = json!({"userId": "unique()", "email": "someone@example.com", "password": "password-123"});
    assert_eq!(s.call(Method::Post, "/account", &[], Some(signup)).0, 201);
}
