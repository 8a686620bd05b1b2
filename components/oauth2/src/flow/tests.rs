//! Each provider's flow against recorded answers: the authorization URL, the token request, the
//! user information and how it maps.

use std::cell::RefCell;

use async_trait::async_trait;
use edgewrite_core::ports::{Connection, OutboundError, OutboundResponse, Tls};
use serde_json::json;

use super::*;

/// Answers each URL (without its query) from a table and records every request.
struct Recorded {
    answers: Vec<(&'static str, u16, Json)>,
    seen: RefCell<Vec<OutboundRequest>>,
}

#[async_trait(?Send)]
impl Outbound for Recorded {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let path = request.url.split('?').next().unwrap_or_default().to_string();
        self.seen.borrow_mut().push(request);
        let (_, status, body) = self
            .answers
            .iter()
            .find(|(url, _, _)| *url == path)
            .ok_or_else(|| OutboundError::Failed(path.clone()))?;
        Ok(OutboundResponse { status: *status, body: body.to_string().into_bytes() })
    }
    async fn connect(&self, host: &str, _port: u16, _tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        Err(OutboundError::Denied(host.into()))
    }
}

fn config(provider: Provider, secret: &str) -> ProviderConfig {
    ProviderConfig { provider, app_id: "app-1".into(), secret: secret.into() }
}

fn run(
    provider: Provider,
    secret: &str,
    answers: Vec<(&'static str, u16, Json)>,
) -> (Result<ProviderUser, OAuthError>, Vec<OutboundRequest>) {
    let outbound = Recorded { answers, seen: RefCell::new(vec![]) };
    let client = Client { outbound: &outbound, base_urls: BaseUrls::default(), now_secs: 1_800_000_000 };
    let exchange = Exchange {
        code: "code-1",
        redirect_uri: "https://api.test/cb",
        verifier: "v".repeat(43).leak(),
        nonce: "n-1",
        apple_user: None,
    };
    let result = futures_executor::block_on(super::exchange(&client, &config(provider, secret), &exchange))
        .map(|(_, u)| u);
    (result, outbound.seen.into_inner())
}

fn token(access: &str) -> Json {
    json!({"access_token": access, "token_type": "bearer", "expires_in": 3600, "refresh_token": "r-1"})
}

fn form(request: &OutboundRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

fn user(id: &str, email: Option<&str>, verified: bool, name: &str) -> ProviderUser {
    ProviderUser {
        id: id.into(),
        email: email.map(str::to_string),
        email_verified: verified,
        name: name.into(),
    }
}

#[test]
fn github_takes_the_primary_verified_email_not_the_public_profile_one() {
    let (user_, seen) = run(
        Provider::Github,
        "gh-secret",
        vec![
            ("https://github.com/login/oauth/access_token", 200, token("gho_1")),
            (
                "https://api.github.com/user",
                200,
                json!({"id": 583231, "login": "octocat", "name": null, "email": "public@example.com"}),
            ),
            (
                "https://api.github.com/user/emails",
                200,
                json!([
                    {"email": "old@example.com", "primary": false, "verified": true},
                    {"email": "Octo@Example.com", "primary": true, "verified": true},
                ]),
            ),
        ],
    );
    assert_eq!(user_.unwrap(), user("583231", Some("octo@example.com"), true, "octocat"));
    let fields = form(&seen[0]);
    for pair in [
        ("grant_type", "authorization_code"),
        ("code", "code-1"),
        ("client_id", "app-1"),
        ("client_secret", "gh-secret"),
    ] {
        assert!(fields.contains(&(pair.0.into(), pair.1.into())), "{pair:?}");
    }
    assert!(fields.iter().any(|(k, _)| k == "code_verifier"));
    assert!(seen[1].headers.contains(&("authorization".into(), "Bearer gho_1".into())));
}

#[test]
fn github_without_a_verified_primary_email_gives_none() {
    let (user_, _) = run(
        Provider::Github,
        "s",
        vec![
            ("https://github.com/login/oauth/access_token", 200, token("t")),
            ("https://api.github.com/user", 200, json!({"id": 1, "login": "x", "name": "X"})),
            (
                "https://api.github.com/user/emails",
                200,
                json!([{"email": "x@example.com", "primary": true, "verified": false}]),
            ),
        ],
    );
    assert_eq!(user_.unwrap(), user("1", None, false, "X"));
}

#[test]
fn a_used_code_is_a_refusal_and_a_failing_provider_a_provider_error() {
    let (refused, _) = run(
        Provider::Github,
        "s",
        vec![("https://github.com/login/oauth/access_token", 200, json!({"error": "bad_verification_code"}))],
    );
    assert!(matches!(refused, Err(OAuthError::Refused(e)) if e.contains("bad_verification_code")));
    let (failed, _) =
        run(Provider::Github, "s", vec![("https://github.com/login/oauth/access_token", 502, json!({}))]);
    assert!(matches!(failed, Err(OAuthError::Provider(_))));
    let (unreachable, _) = run(Provider::Github, "s", vec![]);
    assert!(matches!(unreachable, Err(OAuthError::Provider(_))));
}

#[test]
fn google_reads_openid_userinfo() {
    let (user_, _) = run(
        Provider::Google,
        "g",
        vec![
            ("https://oauth2.googleapis.com/token", 200, token("ya29")),
            (
                "https://openidconnect.googleapis.com/v1/userinfo",
                200,
                json!({"sub": "1098", "email": "ada@gmail.com", "email_verified": true, "name": "Ada L"}),
            ),
        ],
    );
    assert_eq!(user_.unwrap(), user("1098", Some("ada@gmail.com"), true, "Ada L"));
}

#[test]
fn microsoft_mail_is_never_taken_as_verified_and_the_tenant_is_in_the_url() {
    let (user_, seen) = run(
        Provider::Microsoft,
        r#"{"clientSecret": "ms-secret", "tenantID": "contoso"}"#,
        vec![
            ("https://login.microsoftonline.com/contoso/oauth2/v2.0/token", 200, token("eyJ")),
            (
                "https://graph.microsoft.com/v1.0/me",
                200,
                json!({"id": "abc", "displayName": "Grace", "mail": "grace@contoso.com"}),
            ),
        ],
    );
    assert_eq!(user_.unwrap(), user("abc", Some("grace@contoso.com"), false, "Grace"));
    assert!(form(&seen[0]).contains(&("client_secret".into(), "ms-secret".into())));
}

#[test]
fn discord_gitlab_twitch_say_whether_the_email_is_verified() {
    let (discord, _) = run(
        Provider::Discord,
        "d",
        vec![
            ("https://discord.com/api/oauth2/token", 200, token("d")),
            (
                "https://discord.com/api/users/@me",
                200,
                json!({"id": "80351110224678912", "username": "nelly", "global_name": "Nelly", "email": "nelly@discord.com", "verified": false}),
            ),
        ],
    );
    assert_eq!(discord.unwrap(), user("80351110224678912", Some("nelly@discord.com"), false, "Nelly"));
    let (gitlab, seen) = run(
        Provider::Gitlab,
        r#"{"clientSecret": "gl", "endpoint": "https://git.example.com/"}"#,
        vec![
            ("https://git.example.com/oauth/token", 200, token("gl")),
            (
                "https://git.example.com/api/v4/user",
                200,
                json!({"id": 7, "username": "jd", "name": "J D", "email": "jd@example.com", "confirmed_at": "2024-01-01T00:00:00Z"}),
            ),
        ],
    );
    assert_eq!(gitlab.unwrap(), user("7", Some("jd@example.com"), true, "J D"));
    assert_eq!(seen[0].url, "https://git.example.com/oauth/token");
    let (twitch, seen) = run(
        Provider::Twitch,
        "t",
        vec![
            ("https://id.twitch.tv/oauth2/token", 200, token("tw")),
            (
                "https://api.twitch.tv/helix/users",
                200,
                json!({"data": [{"id": "141981764", "login": "twitchdev", "display_name": "TwitchDev", "email": "dev@twitch.tv"}]}),
            ),
        ],
    );
    assert_eq!(twitch.unwrap(), user("141981764", Some("dev@twitch.tv"), true, "TwitchDev"));
    assert!(seen[1].headers.contains(&("client-id".into(), "app-1".into())));
}

#[test]
fn facebook_spotify_slack_linkedin_map_their_users() {
    let (facebook, _) = run(
        Provider::Facebook,
        "f",
        vec![
            ("https://graph.facebook.com/v19.0/oauth/access_token", 200, token("fb")),
            (
                "https://graph.facebook.com/v19.0/me",
                200,
                json!({"id": "10158", "name": "Mark", "email": "mark@fb.com"}),
            ),
        ],
    );
    assert_eq!(facebook.unwrap(), user("10158", Some("mark@fb.com"), false, "Mark"));
    let (spotify, _) = run(
        Provider::Spotify,
        "s",
        vec![
            ("https://accounts.spotify.com/api/token", 200, token("sp")),
            (
                "https://api.spotify.com/v1/me",
                200,
                json!({"id": "wizzler", "display_name": "Wiz", "email": "wiz@example.com"}),
            ),
        ],
    );
    assert_eq!(spotify.unwrap(), user("wizzler", Some("wiz@example.com"), false, "Wiz"));
    let (slack, _) = run(
        Provider::Slack,
        "s",
        vec![
            (
                "https://slack.com/api/openid.connect.token",
                200,
                json!({"ok": true, "access_token": "xoxp", "id_token": "unchecked"}),
            ),
            (
                "https://slack.com/api/openid.connect.userInfo",
                200,
                json!({"ok": true, "sub": "U0R7JM", "email": "k@slack.com", "email_verified": true, "name": "Krane"}),
            ),
        ],
    );
    assert_eq!(slack.unwrap(), user("U0R7JM", Some("k@slack.com"), true, "Krane"));
    let (slack_refused, _) = run(
        Provider::Slack,
        "s",
        vec![(
            "https://slack.com/api/openid.connect.token",
            200,
            json!({"ok": false, "error": "invalid_code"}),
        )],
    );
    assert!(matches!(slack_refused, Err(OAuthError::Refused(_))));
    let (linkedin, _) = run(
        Provider::Linkedin,
        "l",
        vec![
            ("https://www.linkedin.com/oauth/v2/accessToken", 200, token("li")),
            (
                "https://api.linkedin.com/v2/userinfo",
                200,
                json!({"sub": "782bbtaQ", "given_name": "John", "family_name": "Doe", "email": "doe@example.com", "email_verified": true}),
            ),
        ],
    );
    assert_eq!(linkedin.unwrap(), user("782bbtaQ", Some("doe@example.com"), true, "John Doe"));
}

#[test]
fn the_authorization_url_carries_state_pkce_nonce_and_the_scopes() {
    let outbound = Recorded { answers: vec![], seen: RefCell::new(vec![]) };
    let client = Client {
        outbound: &outbound,
        base_urls: BaseUrls::parse("github=http://127.0.0.1:9999/"),
        now_secs: 0,
    };
    let request = AuthorizeRequest {
        redirect_uri: "https://api.test/v1/account/sessions/oauth2/callback/github/p1",
        state: "st",
        code_challenge: "ch",
        nonce: "n",
        scopes: &["repo".to_string(), "user:email".to_string()],
    };
    let url =
        futures_executor::block_on(authorize_url(&client, &config(Provider::Github, "s"), &request)).unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "http://127.0.0.1:9999/login/oauth/authorize");
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    for pair in [
        ("client_id", "app-1"),
        ("redirect_uri", request.redirect_uri),
        ("response_type", "code"),
        ("scope", "read:user user:email repo"),
        ("state", "st"),
        ("code_challenge", "ch"),
        ("code_challenge_method", "S256"),
    ] {
        assert!(pairs.contains(&(pair.0.into(), pair.1.into())), "{pair:?} in {url}");
    }
    let apple = config(Provider::Apple, "{}");
    let url = futures_executor::block_on(authorize_url(&client, &apple, &request)).unwrap();
    assert!(url.starts_with("https://appleid.apple.com/auth/authorize?"));
    assert!(
        url.contains("response_mode=form_post") && url.contains("nonce=n") && !url.contains("code_challenge")
    );
}

#[test]
fn oidc_needs_its_endpoints_and_finds_them_by_discovery() {
    let outbound = Recorded {
        answers: vec![(
            "https://idp.test/.well-known/openid-configuration",
            200,
            json!({"issuer": "https://idp.test", "authorization_endpoint": "https://idp.test/auth", "token_endpoint": "https://idp.test/token", "jwks_uri": "https://idp.test/jwks"}),
        )],
        seen: RefCell::new(vec![]),
    };
    let client = Client { outbound: &outbound, base_urls: BaseUrls::default(), now_secs: 0 };
    let request =
        AuthorizeRequest { redirect_uri: "r", state: "s", code_challenge: "c", nonce: "n", scopes: &[] };
    let found = config(
        Provider::Oidc,
        r#"{"clientSecret": "x", "wellKnownEndpoint": "https://idp.test/.well-known/openid-configuration"}"#,
    );
    let url = futures_executor::block_on(authorize_url(&client, &found, &request)).unwrap();
    assert!(url.starts_with("https://idp.test/auth?") && url.contains("scope=openid+profile+email"));
    let none = config(Provider::Oidc, r#"{"clientSecret": "x"}"#);
    assert!(matches!(
        futures_executor::block_on(authorize_url(&client, &none, &request)),
        Err(OAuthError::Config(_))
    ));
}

#[test]
fn an_oidc_id_token_that_does_not_verify_stops_the_sign_in() {
    let fixture: Json = serde_json::from_str(include_str!("../jose/rs256-fixture.json")).unwrap();
    let discovery = json!({
        "issuer": "https://issuer.test", "authorization_endpoint": "https://issuer.test/auth",
        "token_endpoint": "https://issuer.test/token", "jwks_uri": "https://issuer.test/jwks",
    });
    let answers = |token_body: Json| {
        vec![
            ("https://issuer.test/.well-known/openid-configuration", 200, discovery.clone()),
            ("https://issuer.test/token", 200, token_body),
            ("https://issuer.test/jwks", 200, json!({"keys": [fixture["jwk"].clone()]})),
        ]
    };
    let secret = r#"{"clientSecret": "x", "wellKnownEndpoint": "https://issuer.test/.well-known/openid-configuration"}"#;
    let outbound = Recorded {
        answers: answers(json!({"access_token": "a", "id_token": fixture["token"]})),
        seen: RefCell::new(vec![]),
    };
    // The fixture's token is for client-1 with nonce n-1, alive at this time.
    let client = Client { outbound: &outbound, base_urls: BaseUrls::default(), now_secs: 1_800_000_000 };
    let oidc = ProviderConfig { provider: Provider::Oidc, app_id: "client-1".into(), secret: secret.into() };
    let good = Exchange { code: "c", redirect_uri: "r", verifier: "v", nonce: "n-1", apple_user: None };
    let (_, who) = futures_executor::block_on(super::exchange(&client, &oidc, &good)).unwrap();
    assert_eq!(who, user("user-42", Some("ada@example.com"), true, "Ada"));
    let replayed = Exchange { nonce: "n-2", ..good };
    assert!(futures_executor::block_on(super::exchange(&client, &oidc, &replayed)).is_err());
}

#[test]
fn prompts_and_max_age_come_from_the_settings() {
    let outbound = Recorded { answers: vec![], seen: RefCell::new(vec![]) };
    let client = Client { outbound: &outbound, base_urls: BaseUrls::default(), now_secs: 0 };
    let request =
        AuthorizeRequest { redirect_uri: "r", state: "s", code_challenge: "c", nonce: "n", scopes: &[] };
    let query = |config: &ProviderConfig| -> Vec<(String, String)> {
        let url = futures_executor::block_on(authorize_url(&client, config, &request)).unwrap();
        form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes()).into_owned().collect()
    };
    let has = |pairs: &[(String, String)], k: &str, v: &str| pairs.contains(&(k.into(), v.into()));
    // Google: `consent` unless the settings say otherwise; the secret may be plain or JSON.
    let plain = config(Provider::Google, "g-secret");
    assert!(has(&query(&plain), "prompt", "consent"));
    assert_eq!(plain.client_secret(0).unwrap(), "g-secret");
    let chosen = config(Provider::Google, r#"{"clientSecret": "g2", "prompt": ["select_account"]}"#);
    assert!(has(&query(&chosen), "prompt", "select_account"));
    assert_eq!(chosen.client_secret(0).unwrap(), "g2");
    // OpenID Connect: nothing unless set.
    let bare = r#"{"clientSecret": "x", "authorizationEndpoint": "https://idp.test/a", "tokenEndpoint": "https://idp.test/t"}"#;
    let pairs = query(&config(Provider::Oidc, bare));
    assert!(!pairs.iter().any(|(k, _)| k == "prompt" || k == "max_age"));
    let set =
        bare.replace("\"clientSecret\"", r#""prompt": ["login", "consent"], "maxAge": 600, "clientSecret""#);
    let pairs = query(&config(Provider::Oidc, &set));
    assert!(has(&pairs, "prompt", "login consent") && has(&pairs, "max_age", "600"));
}

#[test]
fn credentials_are_there_only_with_an_id_and_a_secret() {
    assert!(config(Provider::Github, "s").has_credentials());
    assert!(!config(Provider::Github, "").has_credentials());
    assert!(!ProviderConfig { provider: Provider::Github, app_id: " ".into(), secret: "s".into() }
        .has_credentials());
    assert!(!config(Provider::Google, r#"{"clientSecret": "", "prompt": ["consent"]}"#).has_credentials());
    assert!(config(Provider::Microsoft, r#"{"clientSecret": "m", "tenantID": ""}"#).has_credentials());
    assert!(!config(Provider::Apple, r#"{"p8": "k", "keyID": "", "teamID": "t"}"#).has_credentials());
    assert!(config(Provider::Apple, r#"{"p8": "k", "keyID": "i", "teamID": "t"}"#).has_credentials());
}

#[test]
fn verifying_github_credentials_asks_github_with_a_code_that_cannot_be_good() {
    let check = |answer: Json| {
        let outbound = Recorded {
            answers: vec![("https://github.com/login/oauth/access_token", 200, answer)],
            seen: RefCell::new(vec![]),
        };
        let client = Client { outbound: &outbound, base_urls: BaseUrls::default(), now_secs: 0 };
        let result = futures_executor::block_on(verify_credentials(&client, &config(Provider::Github, "s")));
        let seen = outbound.seen.into_inner();
        assert!(form(&seen[0]).contains(&("code".into(), "intentionally-invalid-code".into())));
        result
    };
    assert_eq!(check(json!({"error": "bad_verification_code"})), Ok(()));
    assert!(check(json!({"error": "incorrect_client_credentials"}))
        .unwrap_err()
        .contains("Client Secret is incorrect"));
    // Apple's key must sign; other providers are not asked.
    let outbound = Recorded { answers: vec![], seen: RefCell::new(vec![]) };
    let client = Client { outbound: &outbound, base_urls: BaseUrls::default(), now_secs: 0 };
    let apple = config(Provider::Apple, r#"{"p8": "not a key", "keyID": "i", "teamID": "t"}"#);
    assert!(futures_executor::block_on(verify_credentials(&client, &apple)).unwrap_err().contains("p8"));
    assert_eq!(
        futures_executor::block_on(verify_credentials(&client, &config(Provider::Discord, "d"))),
        Ok(())
    );
    assert!(outbound.seen.into_inner().is_empty());
}
