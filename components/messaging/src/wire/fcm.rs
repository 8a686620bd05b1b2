//! Firebase Cloud Messaging, HTTP v1: an OAuth access token minted from the service account
//! (the JWT bearer grant, RFC 7523), cached per isolate, then one `messages:send` per device.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{json, Map, Value as Json};

use super::http::{self, FORM, JSON};
use super::jose;
use super::settings::{Scrubber, Settings};
use super::{PushMessage, SendError, Sender};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// Tokens are dropped this long before Google says they expire, so none expires in flight.
const EXPIRY_MARGIN_MS: i64 = 60_000;

thread_local! {
    /// Access tokens by provider and service account, with when to stop using them (unix ms).
    /// Workers and Spin run one request at a time per isolate, so a thread-local is the isolate.
    static TOKENS: RefCell<HashMap<String, (String, i64)>> = RefCell::new(HashMap::new());
}

/// What FCM needs of a Google service account.
pub(super) struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: String,
    pub private_key_id: Option<String>,
}

/// The service account from `serviceAccountJSON`, a JSON string or an object. The error says
/// what is wrong without quoting the value.
pub(super) fn service_account(value: &Json) -> Result<ServiceAccount, String> {
    let parsed;
    let object = match value {
        Json::Object(map) => map,
        Json::String(text) => {
            parsed = serde_json::from_str::<Json>(text).map_err(|_| "it is not valid JSON".to_string())?;
            parsed.as_object().ok_or("it is not a JSON object")?
        }
        _ => return Err("it is not a JSON object".into()),
    };
    let field = |name: &str| {
        object.get(name).and_then(Json::as_str).map(str::to_string).filter(|s| !s.trim().is_empty())
    };
    let required = |name: &str| field(name).ok_or_else(|| format!("it has no {name}"));
    Ok(ServiceAccount {
        project_id: required("project_id")?,
        client_email: required("client_email")?,
        private_key: required("private_key")?,
        private_key_id: field("private_key_id"),
    })
}

pub(super) async fn send(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    message: &PushMessage,
) -> Result<(), SendError> {
    let value = settings
        .value("serviceAccountJSON")
        .ok_or_else(|| SendError::Permanent("FCM setting serviceAccountJSON is missing".into()))?;
    let account = service_account(value).map_err(|what| settings.invalid("serviceAccountJSON", &what))?;
    let mut scrubber = settings.scrubber();
    let token_url = format!("{}/token", sender.endpoints.base("fcm-token", "https://oauth2.googleapis.com"));
    let cache_key = jose::cache_key(settings.id, &[&account.client_email, &account.private_key, &token_url]);
    let token = access_token(sender, settings, &account, &token_url, &cache_key, &scrubber).await?;
    scrubber.add(&token);

    let base = sender.endpoints.base("fcm", "https://fcm.googleapis.com");
    let url = format!("{base}/v1/projects/{}/messages:send", http::segment(&account.project_id));
    let body = json!({ "message": message_body(message) }).to_string().into_bytes();
    let request = http::post(url, JSON, vec![("authorization", format!("Bearer {token}"))], body);
    let response = http::exchange(sender, "FCM", request, &scrubber).await?;
    if http::is_success(response.status) {
        return Ok(());
    }
    let answer = http::json_body(&response);
    let error_code = answer["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|detail| detail["errorCode"].as_str());
    // Only FCM's own word that the token is gone: a 404 from a wrong project or base URL must
    // not expire every push target.
    if error_code == Some("UNREGISTERED") {
        return Err(SendError::TargetExpired(http::answered("FCM", &response, &scrubber)));
    }
    if response.status == 401 {
        // The token was revoked or its key rotated: the next attempt mints a fresh one.
        TOKENS.with(|tokens| tokens.borrow_mut().remove(&cache_key));
    }
    Err(http::refusal("FCM", &response, &scrubber))
}

async fn access_token(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    account: &ServiceAccount,
    token_url: &str,
    cache_key: &str,
    scrubber: &Scrubber,
) -> Result<String, SendError> {
    let cached = TOKENS.with(|tokens| tokens.borrow().get(cache_key).cloned());
    if let Some((token, until)) = cached {
        if sender.now_ms < until {
            return Ok(token);
        }
    }
    let key = jose::rsa_key(&account.private_key)
        .map_err(|what| settings.invalid("serviceAccountJSON", &format!("its private_key: {what}")))?;
    let iat = sender.now_ms.div_euclid(1000);
    let mut header = json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = &account.private_key_id {
        header["kid"] = json!(kid);
    }
    let claims = json!({ "iss": account.client_email, "scope": SCOPE, "aud": token_url, "iat": iat, "exp": iat + 3600 });
    let assertion = jose::rs256(&key, &jose::signing_input(&header, &claims), sender.random);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion)
        .finish();
    let request = http::post(token_url.to_string(), FORM, Vec::new(), body.into_bytes());
    let mut scrubber = scrubber.clone();
    scrubber.add(&assertion);
    let response = http::send(sender, "FCM's token endpoint", request, &scrubber).await?;
    let answer = http::json_body(&response);
    let Some(token) = answer["access_token"].as_str().filter(|t| !t.is_empty()) else {
        return Err(SendError::Permanent("FCM's token endpoint answered without an access_token".into()));
    };
    let expires_in = answer["expires_in"].as_i64().unwrap_or(3600);
    let until = sender.now_ms + expires_in * 1000 - EXPIRY_MARGIN_MS;
    if until > sender.now_ms {
        TOKENS.with(|tokens| tokens.borrow_mut().insert(cache_key.to_string(), (token.to_string(), until)));
    }
    Ok(token.to_string())
}

/// The `message` object of `messages:send`, without its `token`'s neighbours left empty.
fn message_body(message: &PushMessage) -> Json {
    let mut body = Map::new();
    body.insert("token".into(), json!(message.to));
    let notification =
        fields(&[("title", &message.title), ("body", &message.body), ("image", &message.image)]);
    if !notification.is_empty() {
        body.insert("notification".into(), Json::Object(notification));
    }
    if !message.data.is_empty() {
        // FCM data values are strings only.
        let data: Map<String, Json> = message
            .data
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.as_str().map_or_else(|| v.to_string(), str::to_string))))
            .collect();
        body.insert("data".into(), Json::Object(data));
    }
    let normal = message.priority.eq_ignore_ascii_case("normal");
    let mut android = Map::new();
    android.insert("priority".into(), json!(if normal { "NORMAL" } else { "HIGH" }));
    let android_notification = fields(&[
        ("icon", &message.icon),
        ("color", &message.color),
        ("tag", &message.tag),
        ("sound", &message.sound),
        ("click_action", &message.action),
    ]);
    if !android_notification.is_empty() {
        android.insert("notification".into(), Json::Object(android_notification));
    }
    body.insert("android".into(), Json::Object(android));
    let mut aps = Map::new();
    if let Some(badge) = message.badge {
        aps.insert("badge".into(), json!(badge));
    }
    if let Some(sound) = sound(message) {
        aps.insert("sound".into(), sound);
    }
    if message.content_available {
        aps.insert("content-available".into(), json!(1));
    }
    body.insert(
        "apns".into(),
        json!({ "headers": { "apns-priority": if normal { "5" } else { "10" } }, "payload": { "aps": aps } }),
    );
    Json::Object(body)
}

/// The present ones of `pairs`, as a JSON object.
pub(super) fn fields(pairs: &[(&str, &Option<String>)]) -> Map<String, Json> {
    pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), json!(v)))).collect()
}

/// The `aps.sound` value: a name, or for a critical alert the dictionary that marks it critical.
pub(super) fn sound(message: &PushMessage) -> Option<Json> {
    if message.critical {
        let name = message.sound.as_deref().unwrap_or("default");
        return Some(json!({ "critical": 1, "name": name, "volume": 1.0 }));
    }
    message.sound.as_ref().map(|s| json!(s))
}

#[cfg(test)]
mod tests;
