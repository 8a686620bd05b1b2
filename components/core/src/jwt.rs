//! HS256 JSON Web Tokens, the one implementation every signed token here uses: account JWTs,
//! dynamic function keys, file tokens, push-image URLs. Kept over `jsonwebtoken`, whose pure-Rust
//! backend links every algorithm (Ed25519, P-384, RSA) and reads the system clock, which a
//! Worker does not have (ARCHITECTURE.md, "Chosen dependencies").

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// `claims` as an HS256 JWT signed with `secret`.
pub fn sign<T: Serialize>(claims: &T, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

/// The claims of an HS256 JWT whose signature `secret` made, checked in constant time. Only
/// HS256: a token never chooses its algorithm. Expiry is the caller's check.
pub fn verify<T: DeserializeOwned>(token: &str, secret: &[u8]) -> Option<T> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let mut m = mac(secret);
    m.update(&token.as_bytes()[..token.rfind('.')?]);
    m.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn round_trips_and_refuses_tampering_other_keys_and_other_algorithms() {
        let claims = json!({"sub": "u1", "exp": 100});
        let token = sign(&claims, b"secret");
        assert_eq!(verify::<Value>(&token, b"secret"), Some(claims));
        assert_eq!(verify::<Value>(&token, b"other"), None);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(json!({"sub": "u2", "exp": 100}).to_string());
        assert_eq!(verify::<Value>(&format!("{}.{forged}.{}", parts[0], parts[2]), b"secret"), None);
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(verify::<Value>(&format!("{none}.{}.", parts[1]), b"secret"), None);
        for bad in ["", "a.b", "a.b.c.d", "...", "eyJ.eyJ.sig"] {
            assert_eq!(verify::<Value>(bad, b"secret"), None, "{bad}");
        }
    }
}
