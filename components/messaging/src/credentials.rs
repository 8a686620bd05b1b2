//! Providers' secret credentials at rest: sealed with AES-256-GCM under a key derived from the
//! project's storage key, bound to the provider's id (a row moved to another provider does not
//! open). The storage key lives in the project's database; only with the deployment's
//! `EDGEWRITE_ENCRYPTION_KEY` mixed in does a copy of the database alone give nothing up.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use edgewrite_core::{AppwriteError, Ctx};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

async fn key(ctx: &Ctx<'_>) -> Result<[u8; 32], AppwriteError> {
    let storage_key = edgewrite_storage::project_key(ctx).await?;
    let mut hash = Sha256::new();
    // A separate key per purpose: file encryption and provider secrets never share one.
    hash.update(b"edgewrite messaging provider credentials\0");
    hash.update(storage_key);
    Ok(hash.finalize().into())
}

fn aad(provider_id: &str) -> Vec<u8> {
    format!("provider:{provider_id}").into_bytes()
}

/// `secrets` sealed for the provider `provider_id`: nonce, then ciphertext and tag.
pub async fn seal(
    ctx: &Ctx<'_>,
    provider_id: &str,
    secrets: &Map<String, Json>,
) -> Result<Vec<u8>, AppwriteError> {
    let key = key(ctx).await?;
    let mut nonce = [0u8; NONCE_LEN];
    ctx.ports.random.fill(&mut nonce);
    let plain = Json::Object(secrets.clone()).to_string();
    let sealed = Aes256Gcm::new(&key.into())
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: &aad(provider_id) })
        .map_err(|_| AppwriteError::internal("sealing provider credentials failed"))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(out)
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
    let key = key(ctx).await?;
    open_with(&key, provider_id, sealed)
}

fn open_with(key: &[u8; 32], provider_id: &str, sealed: &[u8]) -> Result<Map<String, Json>, AppwriteError> {
    let fail = || {
        AppwriteError::internal(format!(
            "the credentials of provider {provider_id} do not decrypt (was EDGEWRITE_ENCRYPTION_KEY changed?)"
        ))
    };
    if sealed.len() < NONCE_LEN {
        return Err(fail());
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let plain = Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: &aad(provider_id) })
        .map_err(|_| fail())?;
    serde_json::from_slice(&plain).map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seal_with(key: &[u8; 32], id: &str, secrets: &Map<String, Json>) -> Vec<u8> {
        let nonce = [7u8; NONCE_LEN];
        let plain = Json::Object(secrets.clone()).to_string();
        let mut out = nonce.to_vec();
        out.extend(
            Aes256Gcm::new(key.into())
                .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: &aad(id) })
                .unwrap(),
        );
        out
    }

    #[test]
    fn sealed_credentials_hide_the_secret_and_stay_with_their_provider() {
        let key = [1u8; 32];
        let secrets = json!({"apiKey": "key-very-secret"}).as_object().unwrap().clone();
        let sealed = seal_with(&key, "mailgun1", &secrets);
        assert!(!String::from_utf8_lossy(&sealed).contains("very-secret"));
        assert_eq!(open_with(&key, "mailgun1", &sealed).unwrap(), secrets);
        // Moved to another provider's row, or read with another key: refused.
        assert!(open_with(&key, "other", &sealed).is_err());
        assert!(open_with(&[2u8; 32], "mailgun1", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open_with(&key, "mailgun1", &tampered).is_err());
    }
}
