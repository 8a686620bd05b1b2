//! What the OAuth2 routes share: the providers' settings, the redirect URLs they may send the
//! browser to, the signed state, and the sealing of provider tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgewrite_core::http::Response;
use edgewrite_core::{AppwriteError, Ctx, ErrorType};
use edgewrite_oauth2::{BaseUrls, Client, OAuthError, Provider, ProviderConfig};
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;

/// `EDGEWRITE_OAUTH2_PROVIDERS`: a JSON object of providers by name, each
/// `{"enabled": bool, "appId": "...", "secret": "..." or {...}}` (README "OAuth2 sign-in"); the
/// project API's settings win over it (`settings`).
pub const PROVIDERS_VARIABLE: &str = "EDGEWRITE_OAUTH2_PROVIDERS";

/// The `{provider}` path slot, one of the providers edgewrite speaks; Appwrite's others are
/// `project_provider_unsupported`.
pub fn provider_param(ctx: &Ctx<'_>) -> Result<Provider, AppwriteError> {
    let name = ctx.params.path("provider").unwrap_or_default();
    Provider::from_name(name).ok_or_else(|| {
        if super::settings::APPWRITE_PROVIDERS.contains(&name) {
            return AppwriteError::from(ErrorType::ProjectProviderUnsupported);
        }
        let names: Vec<&str> = edgewrite_oauth2::PROVIDERS.iter().map(|p| p.name()).collect();
        AppwriteError::invalid_param("provider", &format!("Value must be one of ({})", names.join(", ")))
    })
}

/// The project's settings for `provider` (`settings::effective`), when it is enabled and
/// configured.
pub async fn provider_config(ctx: &Ctx<'_>, provider: Provider) -> Result<ProviderConfig, AppwriteError> {
    let setting = super::settings::effective(ctx, provider).await?;
    let Some(setting) = setting.filter(|s| s.enabled) else {
        return Err(AppwriteError::new(
            ErrorType::ProjectProviderDisabled,
            "This provider is disabled. Please enable the provider from your Appwrite console to continue.",
        ));
    };
    let config = ProviderConfig { provider, app_id: setting.app_id, secret: setting.secret };
    if !config.has_credentials() {
        return Err(AppwriteError::new(
            ErrorType::ProjectProviderDisabled,
            "This provider is disabled. Please configure the provider app ID and app secret key from your Appwrite console to continue.",
        ));
    }
    Ok(config)
}

/// A flow client over the request's ports, with the deployment's `EDGEWRITE_OAUTH2_BASE_URLS`.
pub fn client<'a>(ctx: &'a Ctx<'_>) -> Client<'a> {
    Client {
        outbound: ctx.ports.outbound,
        base_urls: BaseUrls::parse(&ctx.ports.secrets.get("EDGEWRITE_OAUTH2_BASE_URLS").unwrap_or_default()),
        now_secs: ctx.ports.clock.now_ms() / 1000,
    }
}

/// The Appwrite error a failed provider call becomes.
pub fn provider_error(provider: Provider, error: &OAuthError) -> AppwriteError {
    let name = provider.display_name();
    match error {
        OAuthError::Refused(detail) => AppwriteError::new(
            ErrorType::UserOauth2BadRequest,
            format!("{name} couldn't complete sign-in ({detail}). Please try again."),
        ),
        OAuthError::Denied(detail) => AppwriteError::new(
            ErrorType::UserOauth2Unauthorized,
            format!("{name} couldn't complete sign-in ({detail}). Please try again."),
        ),
        OAuthError::Provider(detail) | OAuthError::Config(detail) => {
            tracing::warn!(provider = provider.name(), detail = %detail, "oauth2 provider failed");
            AppwriteError::new(
                ErrorType::UserOauth2ProviderError,
                format!("{name} couldn't complete sign-in. Please try again."),
            )
        }
    }
}

/// Whether the browser may be sent to `url` at the end of a sign-in: an http(s) URL on one of
/// `EDGEWRITE_ALLOWED_ORIGINS`, or an app's own `appwrite-callback-<project>` scheme (or
/// another scheme the allowed origins name). Never another site: that would be an open
/// redirect carrying the user's credentials.
pub fn allowed_redirect(ctx: &Ctx<'_>, url: &str) -> bool {
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return false;
    }
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    if let Some(project) = ctx.project {
        if scheme == format!("appwrite-callback-{project}").to_ascii_lowercase() {
            return true;
        }
    }
    if authority.is_empty() {
        return false;
    }
    ctx.config.allowed_origins.allows(&format!("{scheme}://{authority}"))
}

/// `base` with `pairs` added to its query, ending in `#` (as Appwrite's redirects do).
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let (before_fragment, fragment) = base.split_once('#').unwrap_or((base, ""));
    let (path, query) = before_fragment.split_once('?').unwrap_or((before_fragment, ""));
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if !pairs.iter().any(|(name, _)| *name == k) {
            serializer.append_pair(&k, &v);
        }
    }
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    let query = serializer.finish();
    let path = if path.split_once("://").is_some_and(|(_, rest)| !rest.contains('/')) {
        format!("{path}/")
    } else {
        path.to_string()
    };
    if query.is_empty() {
        format!("{path}#{fragment}")
    } else {
        format!("{path}?{query}#{fragment}")
    }
}

/// A 301 to `location` that nothing caches.
pub fn redirect(location: &str) -> Response {
    let mut response = Response::new(301);
    response.headers.set("location", location);
    response.headers.set("cache-control", "no-store, no-cache, must-revalidate, max-age=0");
    response.headers.set("pragma", "no-cache");
    response
}

/// The failure URL with Appwrite's `error` parameter (`{message, type, code}`).
pub fn failure_redirect(failure: &str, error: &AppwriteError) -> Response {
    let detail = json!({"message": error.message, "type": error.kind.as_str(), "code": error.kind.status()});
    redirect(&with_query(failure, &[("error", &detail.to_string())]))
}

/// `BASE64URL(bytes)`.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn state_mac(secret: &[u8], project: &str, provider: Provider, id: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("edgewrite oauth2 state\0{project}\0{}\0{id}", provider.name()).as_bytes());
    mac
}

/// The `state` sent to the provider: the flow's id and a tag over it, the project and the
/// provider, under the project's secret.
pub fn sign_state(secret: &[u8], project: &str, provider: Provider, id: &str) -> String {
    let tag = state_mac(secret, project, provider, id).finalize().into_bytes();
    format!("{id}.{}", b64(&tag[..16]))
}

/// The flow id of a `state` [`sign_state`] made for this project and provider.
pub fn verify_state(secret: &[u8], project: &str, provider: Provider, state: &str) -> Option<String> {
    let (id, tag) = state.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok().filter(|t| t.len() == 16)?;
    state_mac(secret, project, provider, id).verify_truncated_left(&tag).ok()?;
    Some(id.to_string())
}

/// The purpose label of the provider tokens' key; stored tokens depend on it.
const TOKENS_PURPOSE: &str = "edgewrite oauth2 provider tokens";

/// The provider account a sealed blob belongs to: a blob copied to another account's row
/// does not open.
pub fn token_aad(provider: &str, provider_uid: &str) -> Vec<u8> {
    format!("oauth2:{provider}:{provider_uid}").into_bytes()
}

/// The provider's access and refresh tokens, sealed (`edgewrite_storage::sealed`).
pub async fn seal_tokens(
    ctx: &Ctx<'_>,
    aad: &[u8],
    access: &str,
    refresh: &str,
) -> Result<Vec<u8>, AppwriteError> {
    let plain = json!({"access": access, "refresh": refresh}).to_string();
    edgewrite_storage::sealed::seal(ctx, TOKENS_PURPOSE, aad, plain.as_bytes()).await
}

/// The access and refresh tokens [`seal_tokens`] sealed.
pub async fn open_tokens(
    ctx: &Ctx<'_>,
    aad: &[u8],
    sealed: &[u8],
) -> Result<(String, String), AppwriteError> {
    let plain = edgewrite_storage::sealed::open(ctx, TOKENS_PURPOSE, aad, sealed)
        .await?
        .ok_or_else(|| AppwriteError::internal("sealed provider tokens do not open"))?;
    let tokens: Json = serde_json::from_slice(&plain).map_err(AppwriteError::internal)?;
    let field = |k: &str| tokens[k].as_str().unwrap_or_default().to_string();
    Ok((field("access"), field("refresh")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_query_add_ours_and_end_in_a_hash() {
        assert_eq!(with_query("https://app.test", &[("a", "1")]), "https://app.test/?a=1#");
        assert_eq!(
            with_query("https://app.test/cb?x=y&a=old#frag", &[("a", "1"), ("secret", "s/+")]),
            "https://app.test/cb?x=y&a=1&secret=s%2F%2B#frag"
        );
    }

    #[test]
    fn a_state_verifies_only_for_its_project_provider_and_secret() {
        let state = sign_state(b"k", "p", Provider::Github, "abc");
        assert_eq!(verify_state(b"k", "p", Provider::Github, &state).as_deref(), Some("abc"));
        assert_eq!(verify_state(b"k", "q", Provider::Github, &state), None);
        assert_eq!(verify_state(b"k", "p", Provider::Google, &state), None);
        assert_eq!(verify_state(b"other", "p", Provider::Github, &state), None);
        let forged = state.replace("abc", "abd");
        assert_eq!(verify_state(b"k", "p", Provider::Github, &forged), None);
        assert_eq!(verify_state(b"k", "p", Provider::Github, "abc"), None);
    }
}
