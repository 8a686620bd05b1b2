//! Providers' secret credentials at rest: sealed (`edgewrite_storage::sealed`, AES-256-GCM under
//! a key of their own derived from the project's storage key), bound to the provider's id (a
//! row moved to another provider does not open).

use edgewrite_core::{AppwriteError, Ctx};
use serde_json::{Map, Value as Json};

/// The key's purpose label; existing sealed credentials depend on it.
const PURPOSE: &str = "edgewrite messaging provider credentials";

fn aad(provider_id: &str) -> Vec<u8> {
    format!("provider:{provider_id}").into_bytes()
}

/// `secrets` sealed for the provider `provider_id`.
pub async fn seal(
    ctx: &Ctx<'_>,
    provider_id: &str,
    secrets: &Map<String, Json>,
) -> Result<Vec<u8>, AppwriteError> {
    let plain = Json::Object(secrets.clone()).to_string();
    edgewrite_storage::sealed::seal(ctx, PURPOSE, &aad(provider_id), plain.as_bytes()).await
}

/// The secrets [`seal`] sealed for `provider_id`.
pub async fn open(
    ctx: &Ctx<'_>,
    provider_id: &str,
    sealed: &[u8],
) -> Result<Map<String, Json>, AppwriteError> {
    if sealed.is_empty() {
        return Ok(Map::new());
    }
    let plain = edgewrite_storage::sealed::open(ctx, PURPOSE, &aad(provider_id), sealed).await?;
    decode(provider_id, plain)
}

fn decode(provider_id: &str, plain: Option<Vec<u8>>) -> Result<Map<String, Json>, AppwriteError> {
    plain.and_then(|p| serde_json::from_slice(&p).ok()).ok_or_else(|| {
        AppwriteError::internal(format!(
            "the credentials of provider {provider_id} do not decrypt (was EDGEWRITE_ENCRYPTION_KEY changed?)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewrite_storage::sealed::{open_with, seal_with};
    use serde_json::json;

    #[test]
    fn sealed_credentials_hide_the_secret_and_stay_with_their_provider() {
        let key = [1u8; 32];
        let secrets = json!({"apiKey": "key-very-secret"}).as_object().unwrap().clone();
        let plain = Json::Object(secrets.clone()).to_string();
        let sealed = seal_with(&key, [7u8; 12], &aad("mailgun1"), plain.as_bytes()).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("very-secret"));
        assert_eq!(decode("mailgun1", open_with(&key, &aad("mailgun1"), &sealed)).unwrap(), secrets);
        // Moved to another provider's row, or read with another key: refused.
        assert!(decode("other", open_with(&key, &aad("other"), &sealed)).is_err());
        assert!(decode("mailgun1", open_with(&[2u8; 32], &aad("mailgun1"), &sealed)).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(decode("mailgun1", open_with(&key, &aad("mailgun1"), &tampered)).is_err());
    }
}
