//! Apple Push Notification service, token-based: an ES256 provider token, reused per isolate,
//! and one `POST /3/device/{token}` per device.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{json, Map, Value as Json};

use super::fcm::{fields, sound};
use super::http::{self, JSON};
use super::jose;
use super::settings::Settings;
use super::{PushMessage, SendError, Sender};

/// How long a provider token is reused. Apple accepts one for an hour and refuses new ones
/// minted more often than every 20 minutes (`TooManyProviderTokenUpdates`).
const TOKEN_REUSE_MS: i64 = 50 * 60 * 1000;

thread_local! {
    /// Provider tokens by provider and key, with when they were minted (unix ms).
    static TOKENS: RefCell<HashMap<String, (String, i64)>> = RefCell::new(HashMap::new());
}

pub(super) async fn send(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    message: &PushMessage,
) -> Result<(), SendError> {
    let auth_key = settings.required("authKey")?;
    let key_id = settings.required("authKeyId")?.trim().to_string();
    let team_id = settings.required("teamId")?.trim().to_string();
    let bundle_id = settings.required("bundleId")?.trim().to_string();
    if message.to.trim().is_empty() {
        return Err(SendError::Permanent("APNs: the target has no device token".into()));
    }
    let cache_key = jose::cache_key(settings.id, &[&auth_key, &key_id, &team_id]);
    let jwt = provider_token(sender, settings, &auth_key, &key_id, &team_id, &cache_key)?;
    let mut scrubber = settings.scrubber();
    scrubber.add(&jwt);

    let default = if settings.flag("sandbox", false) {
        "https://api.sandbox.push.apple.com"
    } else {
        "https://api.push.apple.com"
    };
    let url =
        format!("{}/3/device/{}", sender.endpoints.base("apns", default), http::segment(message.to.trim()));
    let alert = message.title.is_some() || message.body.is_some();
    let push_type = if message.content_available && !alert { "background" } else { "alert" };
    let priority = if message.priority.eq_ignore_ascii_case("normal") { "5" } else { "10" };
    let headers = vec![
        ("authorization", format!("bearer {jwt}")),
        ("apns-topic", bundle_id),
        ("apns-push-type", push_type.to_string()),
        ("apns-priority", priority.to_string()),
    ];
    let request = http::post(url, JSON, headers, payload(message).to_string().into_bytes());
    let response = http::exchange(sender, "APNs", request, &scrubber).await?;
    if http::is_success(response.status) {
        return Ok(());
    }
    let reason = http::json_body(&response)["reason"].as_str().unwrap_or_default().to_string();
    // `BadDeviceToken` is also Apple's answer to a sandbox token sent to production (a wrong
    // `sandbox` setting): only 410 says the device is gone.
    if response.status == 410 || reason == "Unregistered" {
        return Err(SendError::TargetExpired(http::answered("APNs", &response, &scrubber)));
    }
    if response.status == 403 {
        // A refused provider token is minted afresh next time rather than reused for an hour.
        TOKENS.with(|tokens| tokens.borrow_mut().remove(&cache_key));
    }
    Err(http::refusal("APNs", &response, &scrubber))
}

fn provider_token(
    sender: Sender<'_>,
    settings: &Settings<'_>,
    auth_key: &str,
    key_id: &str,
    team_id: &str,
    cache_key: &str,
) -> Result<String, SendError> {
    let cached = TOKENS.with(|tokens| tokens.borrow().get(cache_key).cloned());
    if let Some((token, minted)) = cached {
        if (minted..minted + TOKEN_REUSE_MS).contains(&sender.now_ms) {
            return Ok(token);
        }
    }
    let key = jose::p256_key(auth_key).map_err(|what| settings.invalid("authKey", what))?;
    let header = json!({ "alg": "ES256", "kid": key_id });
    let claims = json!({ "iss": team_id, "iat": sender.now_ms.div_euclid(1000) });
    let token = jose::es256(&key, &jose::signing_input(&header, &claims));
    TOKENS.with(|tokens| tokens.borrow_mut().insert(cache_key.to_string(), (token.clone(), sender.now_ms)));
    Ok(token)
}

/// The notification's JSON: `aps`, then the data fields beside it.
fn payload(message: &PushMessage) -> Json {
    let mut aps = Map::new();
    let alert = fields(&[("title", &message.title), ("body", &message.body)]);
    if !alert.is_empty() {
        aps.insert("alert".into(), Json::Object(alert));
    }
    if let Some(badge) = message.badge {
        aps.insert("badge".into(), json!(badge));
    }
    if let Some(sound) = sound(message) {
        aps.insert("sound".into(), sound);
    }
    if message.content_available {
        aps.insert("content-available".into(), json!(1));
    }
    if let Some(tag) = &message.tag {
        aps.insert("thread-id".into(), json!(tag));
    }
    if message.image.is_some() {
        // Lets a notification service extension fetch the image before the alert shows.
        aps.insert("mutable-content".into(), json!(1));
    }
    let mut payload: Map<String, Json> = message
        .data
        .iter()
        .filter(|(k, _)| k.as_str() != "aps")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    payload.insert("aps".into(), Json::Object(aps));
    Json::Object(payload)
}

#[cfg(test)]
mod tests;
