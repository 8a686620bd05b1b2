//! Small secrets at rest for other capabilities (messaging providers' credentials, OAuth2
//! provider tokens): AES-256-GCM under a key derived from the project's storage key for one
//! purpose, bound to what the caller names as associated data (a sealed value moved to another
//! row does not open). The storage key lives in the project's database; only with the
//! deployment's `EDGEWRITE_ENCRYPTION_KEY` mixed in does a copy of the database alone give
//! nothing up. Sealed form: the 12-byte nonce, then ciphertext and tag.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use edgewrite_core::{AppwriteError, Ctx};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

/// The key for `purpose` (a label of its own per kind of secret: file encryption and each
/// kind of sealed secret never share a key).
pub async fn purpose_key(ctx: &Ctx<'_>, purpose: &str) -> Result<[u8; 32], AppwriteError> {
    let storage_key = crate::files::encryption_key(ctx).await?;
    let mut hash = Sha256::new();
    hash.update(purpose.as_bytes());
    hash.update([0]);
    hash.update(storage_key);
    Ok(hash.finalize().into())
}

/// `plain` sealed under `key` with `nonce`, bound to `aad`.
pub fn seal_with(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, AppwriteError> {
    let sealed = Aes256Gcm::new(key.into())
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| AppwriteError::internal("sealing a secret failed"))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// What [`seal_with`] sealed under `key` for `aad`; `None` when it does not open (another key,
/// another `aad`, tampered or truncated).
pub fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into()).decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad }).ok()
}

/// `plain` sealed for `purpose` and `aad` under the project's key, with a fresh nonce.
pub async fn seal(ctx: &Ctx<'_>, purpose: &str, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, AppwriteError> {
    let key = purpose_key(ctx, purpose).await?;
    let mut nonce = [0u8; NONCE_LEN];
    ctx.ports.random.fill(&mut nonce);
    seal_with(&key, nonce, aad, plain)
}

/// What [`seal`] sealed for `purpose` and `aad`; `None` when it does not open.
pub async fn open(
    ctx: &Ctx<'_>,
    purpose: &str,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Option<Vec<u8>>, AppwriteError> {
    let key = purpose_key(ctx, purpose).await?;
    Ok(open_with(&key, aad, sealed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_associated_data() {
        let key = [1u8; 32];
        let sealed = seal_with(&key, [7u8; NONCE_LEN], b"row:1", b"key-very-secret").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("very-secret"));
        assert_eq!(open_with(&key, b"row:1", &sealed).as_deref(), Some(&b"key-very-secret"[..]));
        assert_eq!(open_with(&key, b"row:2", &sealed), None);
        assert_eq!(open_with(&[2u8; 32], b"row:1", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open_with(&key, b"row:1", &tampered), None);
        assert_eq!(open_with(&key, b"row:1", &sealed[..5]), None);
    }
}
