//! The authorization-code flow against one provider: where to send the browser, the code
//! exchange, the user information, and refreshing the access token.

use edgewrite_core::ports::{Outbound, OutboundRequest};
use serde_json::Value as Json;

use crate::jose::{self, Expect};
use crate::providers::map_user;
use crate::{BaseUrls, Grant, OAuthError, Provider, ProviderConfig, ProviderUser};

/// What the flow needs from the platform, and where the providers' endpoints are.
pub struct Client<'a> {
    pub outbound: &'a dyn Outbound,
    pub base_urls: BaseUrls,
    pub now_secs: i64,
}

/// The largest answer read from a provider.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

impl Client<'_> {
    async fn send(&self, request: OutboundRequest) -> Result<(u16, Json), OAuthError> {
        let url = request.url.split('?').next().unwrap_or_default().to_string();
        let response =
            self.outbound.fetch(request).await.map_err(|e| OAuthError::Provider(format!("{url}: {e}")))?;
        if response.body.len() > MAX_ANSWER_BYTES {
            return Err(OAuthError::Provider(format!("{url} answered more than {MAX_ANSWER_BYTES} bytes")));
        }
        let body: Json = serde_json::from_slice(&response.body).unwrap_or_else(|_| {
            // Some token endpoints still answer form-encoded.
            let pairs: serde_json::Map<String, Json> = form_urlencoded::parse(&response.body)
                .map(|(k, v)| (k.into_owned(), Json::String(v.into_owned())))
                .collect();
            Json::Object(pairs)
        });
        if response.status >= 500 {
            return Err(OAuthError::Provider(format!("{url} answered {}", response.status)));
        }
        Ok((response.status, body))
    }

    async fn get_json(&self, url: &str, headers: Vec<(String, String)>) -> Result<Json, OAuthError> {
        let (status, body) = self
            .send(OutboundRequest { method: "GET".into(), url: url.into(), headers, body: vec![] })
            .await?;
        if !(200..300).contains(&status) {
            return Err(OAuthError::Provider(format!(
                "{} answered {status}",
                url.split('?').next().unwrap_or_default()
            )));
        }
        Ok(body)
    }
}

/// A provider's endpoints, resolved (OpenID Connect: from its discovery document).
struct Endpoints {
    authorize: String,
    token: String,
    /// User information, asked in order with the access token.
    user: Vec<String>,
    /// Where the issuer's keys are, for providers whose ID token is checked.
    jwks: Option<String>,
    issuer: Option<String>,
}

async fn endpoints(client: &Client<'_>, config: &ProviderConfig) -> Result<Endpoints, OAuthError> {
    let at = |url: &str| client.base_urls.url(config.provider, url);
    let fixed = |authorize: &str, token: &str, user: &[&str]| Endpoints {
        authorize: at(authorize),
        token: at(token),
        user: user.iter().map(|u| at(u)).collect(),
        jwks: None,
        issuer: None,
    };
    Ok(match config.provider {
        Provider::Oidc => return oidc_endpoints(client, config).await,
        Provider::Google => fixed(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            &["https://openidconnect.googleapis.com/v1/userinfo"],
        ),
        Provider::Github => fixed(
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            &["https://api.github.com/user", "https://api.github.com/user/emails"],
        ),
        Provider::Apple => Endpoints {
            jwks: Some(at("https://appleid.apple.com/auth/keys")),
            issuer: Some(at("https://appleid.apple.com")),
            ..fixed("https://appleid.apple.com/auth/authorize", "https://appleid.apple.com/auth/token", &[])
        },
        Provider::Microsoft => {
            let tenant = config.tenant();
            fixed(
                &format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"),
                &format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
                &["https://graph.microsoft.com/v1.0/me"],
            )
        }
        Provider::Discord => fixed(
            "https://discord.com/oauth2/authorize",
            "https://discord.com/api/oauth2/token",
            &["https://discord.com/api/users/@me"],
        ),
        Provider::Gitlab => {
            let origin = config.gitlab_origin();
            fixed(
                &format!("{origin}/oauth/authorize"),
                &format!("{origin}/oauth/token"),
                &[&format!("{origin}/api/v4/user")],
            )
        }
        Provider::Facebook => fixed(
            "https://www.facebook.com/v19.0/dialog/oauth",
            "https://graph.facebook.com/v19.0/oauth/access_token",
            &["https://graph.facebook.com/v19.0/me?fields=id,name,email"],
        ),
        Provider::Slack => fixed(
            "https://slack.com/openid/connect/authorize",
            "https://slack.com/api/openid.connect.token",
            &["https://slack.com/api/openid.connect.userInfo"],
        ),
        Provider::Spotify => fixed(
            "https://accounts.spotify.com/authorize",
            "https://accounts.spotify.com/api/token",
            &["https://api.spotify.com/v1/me"],
        ),
        Provider::Linkedin => fixed(
            "https://www.linkedin.com/oauth/v2/authorization",
            "https://www.linkedin.com/oauth/v2/accessToken",
            &["https://api.linkedin.com/v2/userinfo"],
        ),
        Provider::Twitch => fixed(
            "https://id.twitch.tv/oauth2/authorize",
            "https://id.twitch.tv/oauth2/token",
            &["https://api.twitch.tv/helix/users"],
        ),
    })
}

/// An OpenID Connect provider's endpoints: its discovery document's, unless the settings name
/// them one by one.
async fn oidc_endpoints(client: &Client<'_>, config: &ProviderConfig) -> Result<Endpoints, OAuthError> {
    let well_known = config.secret_field("wellKnownEndpoint");
    let discovered =
        if well_known.is_empty() { Json::Null } else { client.get_json(&well_known, vec![]).await? };
    let pick = |setting: &str, claim: &str| {
        let set = config.secret_field(setting);
        if set.is_empty() {
            discovered[claim].as_str().unwrap_or_default().to_string()
        } else {
            set
        }
    };
    let authorize = pick("authorizationEndpoint", "authorization_endpoint");
    let token = pick("tokenEndpoint", "token_endpoint");
    // A set endpoint, in either spelling, wins over discovery.
    let userinfo = match config.user_info_endpoint() {
        set if set.is_empty() => discovered["userinfo_endpoint"].as_str().unwrap_or_default().to_string(),
        set => set,
    };
    if authorize.is_empty() || token.is_empty() {
        return Err(OAuthError::Config(
            "the OpenID Connect provider needs wellKnownEndpoint, or authorizationEndpoint and tokenEndpoint"
                .into(),
        ));
    }
    Ok(Endpoints {
        authorize,
        token,
        user: if userinfo.is_empty() { vec![] } else { vec![userinfo] },
        jwks: discovered["jwks_uri"].as_str().map(str::to_string),
        issuer: discovered["issuer"].as_str().map(str::to_string),
    })
}

/// What the browser is sent to the provider with.
pub struct AuthorizeRequest<'a> {
    /// The callback the provider returns the browser to.
    pub redirect_uri: &'a str,
    pub state: &'a str,
    /// `BASE64URL(SHA256(verifier))`, for providers that take PKCE.
    pub code_challenge: &'a str,
    pub nonce: &'a str,
    /// Scopes the app asks for besides the provider's defaults.
    pub scopes: &'a [String],
}

/// The provider's authorization URL for `request`.
pub async fn authorize_url(
    client: &Client<'_>,
    config: &ProviderConfig,
    request: &AuthorizeRequest<'_>,
) -> Result<String, OAuthError> {
    let provider = config.provider;
    let endpoints = endpoints(client, config).await?;
    let mut scopes: Vec<String> = provider.default_scopes().iter().map(|s| s.to_string()).collect();
    for scope in request.scopes {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &config.app_id)
        .append_pair("redirect_uri", request.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", request.state);
    if provider.pkce() {
        query
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256");
    }
    if provider.nonce() {
        query.append_pair("nonce", request.nonce);
    }
    match provider {
        Provider::Apple => {
            query.append_pair("response_mode", "form_post");
        }
        // A refresh token, so the session can be refreshed later.
        Provider::Google => {
            query.append_pair("access_type", "offline");
        }
        Provider::Discord => {
            query.append_pair("prompt", "none");
        }
        _ => {}
    }
    let prompt = config.prompt();
    if !prompt.is_empty() {
        query.append_pair("prompt", &prompt.join(" "));
    }
    if let Some(max_age) = config.max_age() {
        query.append_pair("max_age", &max_age.to_string());
    }
    let separator = if endpoints.authorize.contains('?') { '&' } else { '?' };
    Ok(format!("{}{separator}{}", endpoints.authorize, query.finish()))
}

/// What came back to the callback.
pub struct Exchange<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub verifier: &'a str,
    pub nonce: &'a str,
    /// Apple's `user` form field.
    pub apple_user: Option<&'a str>,
}

fn token_error(status: u16, body: &Json) -> Option<OAuthError> {
    let error = body["error"].as_str().map(str::to_string).or_else(|| {
        // Slack says `ok: false`; Facebook nests its error.
        if body["ok"] == Json::Bool(false) {
            return Some("not ok".to_string());
        }
        body["error"]["message"].as_str().map(str::to_string)
    });
    match error {
        Some(error) if error == "access_denied" => Some(OAuthError::Denied(error)),
        Some(error) => {
            let detail = body["error_description"].as_str().unwrap_or_default();
            Some(OAuthError::Refused(format!("{error} {detail}").trim().to_string()))
        }
        None if !(200..300).contains(&status) => {
            Some(OAuthError::Refused(format!("the token endpoint answered {status}")))
        }
        None => None,
    }
}

fn grant_from(body: &Json) -> Result<Grant, OAuthError> {
    let access_token = body["access_token"].as_str().unwrap_or_default().to_string();
    if access_token.is_empty() {
        return Err(OAuthError::Provider("the token endpoint gave no access token".into()));
    }
    Ok(Grant {
        access_token,
        refresh_token: body["refresh_token"].as_str().unwrap_or_default().to_string(),
        expires_in: body["expires_in"].as_i64().or_else(|| body["expires_in"].as_str()?.parse().ok()),
        id_token: body["id_token"].as_str().map(str::to_string),
    })
}

async fn token_request(
    client: &Client<'_>,
    config: &ProviderConfig,
    endpoint: &str,
    fields: &[(&str, &str)],
) -> Result<Grant, OAuthError> {
    let secret = config.client_secret(client.now_secs)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        form.append_pair(k, v);
    }
    form.append_pair("client_id", &config.app_id).append_pair("client_secret", &secret);
    let headers = vec![
        ("accept".to_string(), "application/json".to_string()),
        ("content-type".to_string(), "application/x-www-form-urlencoded".to_string()),
    ];
    let (status, body) = client
        .send(OutboundRequest {
            method: "POST".into(),
            url: endpoint.into(),
            headers,
            body: form.finish().into_bytes(),
        })
        .await?;
    if let Some(error) = token_error(status, &body) {
        return Err(error);
    }
    grant_from(&body)
}

/// Trades the authorization code for tokens and reads who the user is.
pub async fn exchange(
    client: &Client<'_>,
    config: &ProviderConfig,
    exchange: &Exchange<'_>,
) -> Result<(Grant, ProviderUser), OAuthError> {
    let provider = config.provider;
    let endpoints = endpoints(client, config).await?;
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", exchange.code),
        ("redirect_uri", exchange.redirect_uri),
    ];
    if provider.pkce() {
        fields.push(("code_verifier", exchange.verifier));
    }
    let grant = token_request(client, config, &endpoints.token, &fields).await?;
    // An ID token from the token endpoint is checked whenever the issuer's keys are known.
    let claims = match (&grant.id_token, &endpoints.jwks, &endpoints.issuer) {
        (Some(token), Some(jwks), Some(issuer)) => {
            let keys = client.get_json(jwks, vec![]).await?;
            let expect = Expect {
                issuer,
                audience: &config.app_id,
                nonce: provider.nonce().then_some(exchange.nonce),
                now_secs: client.now_secs,
            };
            Some(jose::verify(token, &keys, &expect)?)
        }
        (None, Some(_), _) if endpoints.user.is_empty() => {
            return Err(OAuthError::Provider(format!("{} gave no ID token", provider.name())));
        }
        _ => None,
    };
    let mut answers = Vec::new();
    for url in &endpoints.user {
        let mut headers = vec![
            ("authorization".to_string(), format!("Bearer {}", grant.access_token)),
            ("accept".to_string(), "application/json".to_string()),
            // GitHub refuses requests without one.
            ("user-agent".to_string(), "edgewrite".to_string()),
        ];
        if provider == Provider::Twitch {
            headers.push(("client-id".to_string(), config.app_id.clone()));
        }
        answers.push(client.get_json(url, headers).await?);
    }
    if let Some(claims) = claims {
        if answers.is_empty() {
            answers.push(claims);
        } else if answers[0]["sub"].as_str().is_some_and(|sub| claims["sub"].as_str() != Some(sub)) {
            // OpenID Connect Core §5.3.2: the user information must be the ID token's subject.
            return Err(OAuthError::Provider(
                "the user information names another subject than the ID token".into(),
            ));
        } else if let Some(object) = answers[0].as_object_mut() {
            for key in ["email", "email_verified", "name"] {
                if !object.contains_key(key) && !claims[key].is_null() {
                    object.insert(key.into(), claims[key].clone());
                }
            }
        }
    }
    let user = map_user(provider, &answers, exchange.apple_user)?;
    Ok((grant, user))
}

/// A new access token from `refresh_token`.
pub async fn refresh(
    client: &Client<'_>,
    config: &ProviderConfig,
    refresh_token: &str,
) -> Result<Grant, OAuthError> {
    let endpoints = endpoints(client, config).await?;
    let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let mut grant = token_request(client, config, &endpoints.token, &fields).await?;
    if grant.refresh_token.is_empty() {
        // Most providers keep the refresh token when they do not rotate it.
        grant.refresh_token = refresh_token.to_string();
    }
    Ok(grant)
}

/// The check Appwrite makes before it enables a provider through the project API, so a typo in
/// the settings shows there and not at a user's first sign-in: Apple's key must sign,
/// Microsoft needs a tenant, and GitHub is asked, with a code that cannot be good, whether it
/// knows the client and its secret.
pub async fn verify_credentials(client: &Client<'_>, config: &ProviderConfig) -> Result<(), String> {
    match config.provider {
        Provider::Microsoft if config.secret_field("tenantID").is_empty() => {
            Err("Microsoft tenant is required.".into())
        }
        Provider::Apple => config.client_secret(client.now_secs).map(drop).map_err(|e| match e {
            OAuthError::Config(detail) => detail,
            other => other.to_string(),
        }),
        Provider::Github => {
            let endpoints = endpoints(client, config).await.map_err(|e| e.to_string())?;
            let fields =
                [("code", "intentionally-invalid-code"), ("redirect_uri", "intentionally-invalid-redirect")];
            match token_request(client, config, &endpoints.token, &fields).await {
                Err(OAuthError::Refused(detail)) if detail.starts_with("incorrect_client_credentials") => Err(
                    "GitHub application with provided Client ID is valid, but the provided Client Secret is incorrect."
                        .into(),
                ),
                Err(OAuthError::Refused(detail)) if detail.starts_with("Not Found") => {
                    Err("GitHub application with provided Client ID does not exist.".into())
                }
                Err(OAuthError::Provider(detail)) => Err(detail),
                // A refused code (bad_verification_code, redirect_uri_mismatch) means GitHub
                // knew the client.
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
