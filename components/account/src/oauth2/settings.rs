//! A project's OAuth2 provider settings, and the project API that keeps them
//! (`/v1/project/oauth2…`, node-appwrite's `project.listOAuth2Providers`, `getOAuth2Provider`,
//! `updateOAuth2<Provider>`, for keys holding `project.oauth2.read|write`).
//!
//! A provider's settings are the deployment's (`EDGEWRITE_OAUTH2_PROVIDERS`) until the project
//! API writes its own: from then on the project's row wins, whole. Settings keep Appwrite's
//! form (an `appId`, a `secret` that is a JSON object for some providers, an enabled flag), so
//! a migrated project's settings read the same; the secret is stored sealed. Secrets are
//! write-only: every answer gives them empty.

use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::query::{self, QueryMethod};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use edgewrite_oauth2::{Provider, ProviderConfig, PROVIDERS};
use serde_json::{json, Map, Value as Json};

use super::support;

/// The providers Appwrite 1.9.6's project API has an update route for. Those edgewrite does
/// not speak answer `project_provider_unsupported`.
pub const APPWRITE_PROVIDERS: &[&str] = &[
    "amazon",
    "apple",
    "appwrite",
    "auth0",
    "authentik",
    "autodesk",
    "bitbucket",
    "bitly",
    "box",
    "dailymotion",
    "discord",
    "disqus",
    "dropbox",
    "etsy",
    "facebook",
    "figma",
    "fusionauth",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "kick",
    "linkedin",
    "microsoft",
    "notion",
    "oidc",
    "okta",
    "paypal",
    "paypalSandbox",
    "podio",
    "salesforce",
    "slack",
    "spotify",
    "stripe",
    "tradeshift",
    "tradeshiftBox",
    "twitch",
    "wordpress",
    "x",
    "yahoo",
    "yandex",
    "zoho",
    "zoom",
];

/// Seals the client secrets (`edgewrite_storage::sealed`); a key of its own.
const SECRET_PURPOSE: &str = "edgewrite oauth2 provider settings";

/// A provider's settings as Appwrite keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setting {
    pub enabled: bool,
    pub app_id: String,
    /// The client secret, or for Apple, Google, Microsoft, GitLab and OpenID Connect a JSON
    /// object holding it with the provider's other settings.
    pub secret: String,
}

impl Setting {
    fn config(&self, provider: Provider) -> ProviderConfig {
        ProviderConfig { provider, app_id: self.app_id.clone(), secret: self.secret.clone() }
    }
}

fn secret_aad(provider: Provider) -> Vec<u8> {
    format!("oauth2-settings:{}", provider.name()).into_bytes()
}

/// The deployment's settings, all providers (`EDGEWRITE_OAUTH2_PROVIDERS`).
fn deployment(ctx: &Ctx<'_>) -> Json {
    serde_json::from_str(&ctx.ports.secrets.get(support::PROVIDERS_VARIABLE).unwrap_or_default())
        .unwrap_or(Json::Null)
}

/// `provider`'s entry in the deployment's settings: enabled unless `"enabled": false`.
fn deployed(deployment: &Json, provider: Provider) -> Option<Setting> {
    let entry = deployment.get(provider.name()).filter(|e| e.is_object())?;
    Some(Setting {
        enabled: entry["enabled"] != Json::Bool(false),
        app_id: entry["appId"].as_str().unwrap_or_default().trim().to_string(),
        secret: match &entry["secret"] {
            Json::String(s) => s.clone(),
            Json::Null => String::new(),
            other => other.to_string(),
        },
    })
}

/// The settings the project API stored: `only` that provider's, or every provider's, in one
/// query and with the sealing key derived once.
async fn stored(ctx: &Ctx<'_>, only: Option<Provider>) -> Result<Vec<(Provider, Setting)>, AppwriteError> {
    let statement = match only {
        Some(provider) => Statement::new(
            "SELECT provider, enabled, app_id, secret FROM oauth2_providers WHERE provider = ?",
            vec![provider.name().into()],
        ),
        None => Statement::new("SELECT provider, enabled, app_id, secret FROM oauth2_providers", vec![]),
    };
    let rows = ctx.ports.sql.query(statement).await.map_err(AppwriteError::internal)?;
    let mut key = None;
    let mut out = Vec::new();
    for row in &rows.rows {
        let Some(provider) = row.first().and_then(Value::as_str).and_then(Provider::from_name) else {
            continue;
        };
        let secret = match row.get(3) {
            Some(Value::Blob(sealed)) if !sealed.is_empty() => {
                let key = match key {
                    Some(key) => key,
                    None => *key.insert(edgewrite_storage::sealed::purpose_key(ctx, SECRET_PURPOSE).await?),
                };
                match edgewrite_storage::sealed::open_with(&key, &secret_aad(provider), sealed) {
                    Some(plain) => String::from_utf8(plain).unwrap_or_default(),
                    // The keys changed (a restored database, a new EDGEWRITE_ENCRYPTION_KEY):
                    // the provider reads as having no secret until an admin enters it again.
                    None => {
                        tracing::warn!(
                            provider = provider.name(),
                            "the stored OAuth2 client secret does not open"
                        );
                        String::new()
                    }
                }
            }
            _ => String::new(),
        };
        out.push((
            provider,
            Setting {
                enabled: row.get(1).and_then(Value::as_i64) == Some(1),
                app_id: row.get(2).and_then(Value::as_str).unwrap_or_default().to_string(),
                secret,
            },
        ));
    }
    Ok(out)
}

/// The settings `provider` signs in with: the project's own, else the deployment's.
pub async fn effective(ctx: &Ctx<'_>, provider: Provider) -> Result<Option<Setting>, AppwriteError> {
    Ok(match stored(ctx, Some(provider)).await?.pop() {
        Some((_, setting)) => Some(setting),
        None => deployed(&deployment(ctx), provider),
    })
}

/// What a project's first change starts from: the deployment's settings without their secret.
/// The deployment's client secret serves every project of the deployment; were it copied, one
/// project's admin could point the token endpoint (GitLab's `endpoint`, OpenID Connect's URLs)
/// at their own server and receive it. A project's settings hold only what its admins entered.
fn without_secret(setting: Setting) -> Setting {
    let secret = match serde_json::from_str::<Json>(&setting.secret) {
        Ok(Json::Object(mut object)) => {
            for key in ["clientSecret", "p8"] {
                object.shift_remove(key);
            }
            Json::Object(object).to_string()
        }
        // A plain secret is the client secret itself.
        _ => String::new(),
    };
    Setting { secret, ..setting }
}

async fn save(ctx: &Ctx<'_>, provider: Provider, setting: &Setting) -> Result<(), AppwriteError> {
    let sealed = if setting.secret.is_empty() {
        Vec::new()
    } else {
        edgewrite_storage::sealed::seal(ctx, SECRET_PURPOSE, &secret_aad(provider), setting.secret.as_bytes())
            .await?
    };
    ctx.ports
        .sql
        .query(Statement::new(
            "INSERT INTO oauth2_providers (provider, enabled, app_id, secret, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (provider) DO UPDATE SET enabled = excluded.enabled, app_id = excluded.app_id,
             secret = excluded.secret, updated_at = excluded.updated_at",
            vec![
                provider.name().into(),
                Value::Integer(i64::from(setting.enabled)),
                setting.app_id.clone().into(),
                Value::Blob(sealed),
                Value::Integer(ctx.ports.clock.now_ms()),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(())
}

/// Appwrite's read model of a provider (`oAuth2Github` …): the client id, and every secret
/// field empty.
fn read_model(provider: Provider, setting: &Setting) -> Json {
    let config = setting.config(provider);
    let field = |key: &str| config.secret_field(key);
    let (id_field, secret_field) = provider.credential_fields();
    let mut model = Map::new();
    model.insert("$id".into(), provider.name().into());
    model.insert("enabled".into(), setting.enabled.into());
    model.insert(id_field.into(), setting.app_id.clone().into());
    if let Some(secret_field) = secret_field {
        model.insert(secret_field.into(), "".into());
    }
    match provider {
        Provider::Google => {
            model.insert("prompt".into(), json!(config.prompt()));
        }
        Provider::Oidc => {
            model.insert("wellKnownURL".into(), field("wellKnownEndpoint").into());
            model.insert("authorizationURL".into(), field("authorizationEndpoint").into());
            model.insert("tokenURL".into(), field("tokenEndpoint").into());
            model.insert("userInfoURL".into(), config.user_info_endpoint().into());
            model.insert("prompt".into(), json!(config.prompt()));
            model.insert("maxAge".into(), json!(config.max_age()));
        }
        Provider::Microsoft => {
            model.insert("tenant".into(), field("tenantID").into());
        }
        Provider::Gitlab => {
            model.insert("endpoint".into(), field("endpoint").into());
        }
        Provider::Apple => {
            model.insert("keyId".into(), field("keyID").into());
            model.insert("teamId".into(), field("teamID").into());
            model.insert("p8File".into(), "".into());
        }
        _ => {}
    }
    Json::Object(model)
}

/// `GET /project/oauth2`: every provider edgewrite speaks, with the project's settings;
/// `limit` and `offset` are the only queries.
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let queries =
        ctx.params.string_array("queries", query::MAX_QUERY_CHARS, &ctx.config.limits)?.unwrap_or_default();
    let (mut limit, mut offset) = (usize::MAX, 0usize);
    for raw in &queries {
        let q = query::parse(raw)?;
        let number = || {
            q.values.first().and_then(Json::as_u64).map(|n| n as usize).ok_or_else(|| {
                AppwriteError::invalid_param(
                    "queries",
                    &format!("Invalid query: {} queries require an integer", q.method.as_str()),
                )
            })
        };
        match q.method {
            QueryMethod::Limit => limit = number()?,
            QueryMethod::Offset => offset = number()?,
            other => {
                return Err(AppwriteError::new(
                    ErrorType::GeneralQueryInvalid,
                    format!("Invalid query method: {}. Only limit and offset are supported", other.as_str()),
                ))
            }
        }
    }
    let stored = stored(ctx, None).await?;
    let deployment = deployment(ctx);
    let providers: Vec<Json> = sorted_providers()
        .into_iter()
        .map(|provider| {
            let own = stored.iter().find(|(p, _)| *p == provider).map(|(_, s)| s.clone());
            let setting = own.or_else(|| deployed(&deployment, provider)).unwrap_or_default();
            read_model(provider, &setting)
        })
        .collect();
    let total = if ctx.params.boolean("total")?.unwrap_or(true) { providers.len() } else { 0 };
    let page: Vec<Json> = providers.into_iter().skip(offset).take(limit).collect();
    Ok(Response::json(200, &json!({"total": total, "providers": page})))
}

/// The providers in the order Appwrite lists them (its configuration's, alphabetical).
fn sorted_providers() -> Vec<Provider> {
    let mut all = PROVIDERS.to_vec();
    all.sort_by_key(|p| p.name());
    all
}

/// The `{provider}` of a project API route: one edgewrite speaks, or Appwrite's
/// `project_provider_unsupported` for the others Appwrite has. Other names: Appwrite has no
/// update route for them (404), and its get route checks a list (400).
fn provider_of(ctx: &Ctx<'_>) -> Result<Provider, AppwriteError> {
    let name = ctx.params.path("provider").unwrap_or_default();
    if let Some(provider) = Provider::from_name(name) {
        return Ok(provider);
    }
    if APPWRITE_PROVIDERS.contains(&name) {
        return Err(ErrorType::ProjectProviderUnsupported.into());
    }
    if ctx.request.method == edgewrite_core::http::Method::Patch {
        return Err(ErrorType::GeneralRouteNotFound.into());
    }
    Err(AppwriteError::invalid_param(
        "providerId",
        &format!("Value must be one of ({})", APPWRITE_PROVIDERS.join(", ")),
    ))
}

/// `GET /project/oauth2/{provider}`.
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let provider = provider_of(ctx)?;
    let setting = effective(ctx, provider).await?.unwrap_or_default();
    Ok(Response::json(200, &read_model(provider, &setting)))
}

/// An optional URL param (`""` clears it): `https`, or `http` to a loopback host (a provider on
/// the same machine); the client secret is sent there, so never in clear over a network and
/// never with credentials of the URL's own.
fn url_param(ctx: &Ctx<'_>, name: &str) -> Result<Option<String>, AppwriteError> {
    let Some(value) = ctx.params.text(name, 2048)? else { return Ok(None) };
    if value.is_empty() {
        return Ok(Some(value));
    }
    let lower = value.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").unwrap_or(("", ""));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = edgewrite_core::http::host_of(authority);
    let loopback = host == "localhost"
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let valid = !host.is_empty()
        && !authority.contains('@')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && (scheme == "https" || (scheme == "http" && loopback));
    if valid {
        Ok(Some(value))
    } else {
        Err(AppwriteError::invalid_param(
            name,
            "Value must be a valid URL: https, or http to a loopback host, without user information",
        ))
    }
}

/// An optional array of `prompt` values out of `allowed`; `none` must stand alone.
fn prompt_param(ctx: &Ctx<'_>, allowed: &[&str]) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(values) = ctx.params.string_array("prompt", 32, &ctx.config.limits)? else { return Ok(None) };
    if values.len() > allowed.len() || values.iter().any(|v| !allowed.contains(&v.as_str())) {
        return Err(AppwriteError::invalid_param(
            "prompt",
            &format!(
                "Value must a valid array no longer than {} items and Value must be one of ({})",
                allowed.len(),
                allowed.join(", ")
            ),
        ));
    }
    if values.len() > 1 && values.iter().any(|v| v == "none") {
        return Err(AppwriteError::new(
            ErrorType::GeneralArgumentInvalid,
            "When \"none\" is used as a prompt value, it must be the only element in the array.",
        ));
    }
    Ok(Some(values))
}

fn argument_invalid(message: impl Into<String>) -> AppwriteError {
    AppwriteError::new(ErrorType::GeneralArgumentInvalid, message)
}

/// The stored secret as a JSON object: a plain string (older settings) is the client secret.
fn secret_object(secret: &str) -> Map<String, Json> {
    match serde_json::from_str::<Json>(secret) {
        Ok(Json::Object(map)) => map,
        _ if secret.is_empty() => Map::new(),
        _ => Map::from_iter([("clientSecret".to_string(), Json::String(secret.to_string()))]),
    }
}

/// The new secret of `provider` from the request and the current one: each field the request
/// leaves out keeps its value.
fn merged_secret(ctx: &Ctx<'_>, provider: Provider, current: &str) -> Result<String, AppwriteError> {
    let text = |name: &str, max: usize| ctx.params.text(name, max);
    let mut object = secret_object(current);
    let mut set = |key: &str, value: Option<Json>| {
        if let Some(value) = value {
            object.insert(key.to_string(), value);
        }
    };
    let secret_field = provider.credential_fields().1;
    let client_secret = match secret_field {
        Some(field) => text(field, 512)?,
        None => None,
    };
    match provider {
        Provider::Apple => {
            set("keyID", text("keyId", 256)?.map(Json::from));
            set("teamID", text("teamId", 256)?.map(Json::from));
            set("p8", text("p8File", 4096)?.map(Json::from));
        }
        Provider::Google => {
            let prompt = prompt_param(ctx, &["none", "consent", "select_account"])?;
            if prompt.as_ref().is_some_and(Vec::is_empty) {
                return Err(argument_invalid("Prompt array cannot be empty."));
            }
            set("clientSecret", client_secret.map(Json::from));
            set("prompt", prompt.map(|p| json!(p)));
        }
        Provider::Oidc => {
            set("clientSecret", client_secret.map(Json::from));
            set("wellKnownEndpoint", url_param(ctx, "wellKnownURL")?.map(Json::from));
            set("authorizationEndpoint", url_param(ctx, "authorizationURL")?.map(Json::from));
            let token = match url_param(ctx, "tokenURL")? {
                None => url_param(ctx, "tokenUrl")?,
                found => found,
            };
            set("tokenEndpoint", token.map(Json::from));
            let user_info = match url_param(ctx, "userInfoURL")? {
                None => url_param(ctx, "userInfoUrl")?,
                found => found,
            };
            // Set, it replaces the spelling of settings older than Appwrite 1.9.
            set("userinfoEndpoint", user_info.as_ref().map(|_| Json::from("")));
            set("userInfoEndpoint", user_info.map(Json::from));
            set(
                "prompt",
                prompt_param(ctx, &["none", "login", "consent", "select_account"])?.map(|p| json!(p)),
            );
            set("maxAge", ctx.params.integer("maxAge", 0, i64::MAX)?.map(Json::from));
        }
        Provider::Microsoft => {
            set("clientSecret", client_secret.map(Json::from));
            let tenant = text("tenant", 256)?;
            if tenant
                .as_ref()
                .is_some_and(|t| !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            {
                return Err(AppwriteError::invalid_param(
                    "tenant",
                    "Value must be a Microsoft Entra tenant: common, organizations, consumers, a tenant id or a domain",
                ));
            }
            set("tenantID", tenant.map(Json::from));
        }
        Provider::Gitlab => {
            set("clientSecret", client_secret.map(Json::from));
            set("endpoint", url_param(ctx, "endpoint")?.map(Json::from));
        }
        // The secret is the client secret itself.
        _ => return Ok(client_secret.unwrap_or_else(|| current.to_string())),
    }
    Ok(if object.is_empty() { String::new() } else { Json::Object(object).to_string() })
}

/// `PATCH /project/oauth2/{provider}`: Appwrite's semantics — a param left out keeps its
/// value; unless `enabled` is `false`, the settings are checked (an id and a secret, and what
/// [`edgewrite_oauth2::verify_credentials`] asks), and settings that pass are enabled; with
/// `enabled: true`, settings that fail are refused and nothing is stored.
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let provider = provider_of(ctx)?;
    let (id_field, _) = provider.credential_fields();
    let app_id = ctx.params.text(id_field, 256)?;
    let enabled = ctx.params.boolean("enabled")?;
    let current = match stored(ctx, Some(provider)).await?.pop() {
        Some((_, setting)) => setting,
        None => deployed(&deployment(ctx), provider).map(without_secret).unwrap_or_default(),
    };
    let mut next = Setting {
        enabled: enabled.unwrap_or(current.enabled),
        app_id: app_id.unwrap_or(current.app_id.clone()),
        secret: merged_secret(ctx, provider, &current.secret)?,
    };
    let config = next.config(provider);
    if provider == Provider::Oidc && enabled == Some(true) {
        let has = |key: &str| !config.secret_field(key).is_empty();
        let discovered = has("wellKnownEndpoint");
        let listed =
            has("authorizationEndpoint") && has("tokenEndpoint") && !config.user_info_endpoint().is_empty();
        if !discovered && !listed {
            return Err(argument_invalid(
                "Enabling OpenID Connect requires either wellKnownURL, or all of authorizationURL, tokenURL, and userInfoURL.",
            ));
        }
    }
    if enabled != Some(false) {
        let check = if config.has_credentials() {
            edgewrite_oauth2::verify_credentials(&support::client(ctx), &config).await
        } else {
            Err("Client ID and Client Secret are required when enabling OAuth2 provider.".to_string())
        };
        match check {
            Ok(()) => next.enabled = true,
            Err(reason) if enabled == Some(true) => {
                return Err(argument_invalid(format!("Could not enable OAuth2 provider: {reason}")));
            }
            Err(reason) => {
                tracing::info!(provider = provider.name(), %reason, "oauth2 settings saved, provider not enabled");
            }
        }
    }
    save(ctx, provider, &next).await?;
    tracing::info!(provider = provider.name(), enabled = next.enabled, "oauth2 provider settings updated");
    Ok(Response::json(200, &read_model(provider, &next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_models_name_the_fields_as_appwrite_and_never_show_a_secret() {
        let github = read_model(
            Provider::Github,
            &Setting { enabled: true, app_id: "id-1".into(), secret: "s3cret".into() },
        );
        assert_eq!(github, json!({"$id": "github", "enabled": true, "clientId": "id-1", "clientSecret": ""}));
        let apple = read_model(
            Provider::Apple,
            &Setting {
                enabled: false,
                app_id: "svc".into(),
                secret: r#"{"p8":"KEY","keyID":"K","teamID":"T"}"#.into(),
            },
        );
        assert_eq!(
            apple,
            json!({"$id": "apple", "enabled": false, "serviceId": "svc", "keyId": "K", "teamId": "T", "p8File": ""})
        );
        let oidc = read_model(
            Provider::Oidc,
            &Setting {
                enabled: true,
                app_id: "o".into(),
                secret: r#"{"clientSecret":"x","wellKnownEndpoint":"https://idp.test/wk","userinfoEndpoint":"https://idp.test/u","maxAge":60}"#.into(),
            },
        );
        assert_eq!(oidc["userInfoURL"], "https://idp.test/u");
        assert_eq!(oidc["maxAge"], 60);
        assert_eq!(oidc["prompt"], json!([]));
        assert_eq!(oidc["clientSecret"], "");
        let google = read_model(Provider::Google, &Setting::default());
        assert_eq!(google["prompt"], json!(["consent"]));
        let microsoft = read_model(Provider::Microsoft, &Setting::default());
        assert_eq!(microsoft["applicationSecret"], "");
        assert_eq!(microsoft["tenant"], "");
    }

    #[test]
    fn a_projects_first_change_starts_without_the_deployments_secret() {
        let plain = Setting { enabled: true, app_id: "id".into(), secret: "shared".into() };
        assert_eq!(without_secret(plain).secret, "");
        let gitlab = Setting {
            enabled: true,
            app_id: "id".into(),
            secret: r#"{"clientSecret":"shared","endpoint":"https://git.example"}"#.into(),
        };
        assert_eq!(without_secret(gitlab).secret, r#"{"endpoint":"https://git.example"}"#);
        let apple = Setting {
            enabled: true,
            app_id: "svc".into(),
            secret: r#"{"p8":"KEY","keyID":"K","teamID":"T"}"#.into(),
        };
        assert_eq!(without_secret(apple).secret, r#"{"keyID":"K","teamID":"T"}"#);
    }

    #[test]
    fn a_plain_secret_becomes_the_client_secret_of_a_json_one() {
        assert_eq!(secret_object("plain")["clientSecret"], "plain");
        assert!(secret_object("").is_empty());
        assert_eq!(secret_object(r#"{"clientSecret":"c","endpoint":"e"}"#)["endpoint"], "e");
    }

    #[test]
    fn every_provider_edgewrite_speaks_has_an_appwrite_update_route() {
        for provider in PROVIDERS {
            assert!(APPWRITE_PROVIDERS.contains(&provider.name()), "{}", provider.name());
        }
    }
}
