//! The JSON Web Tokens push providers take as credentials (RFC 7519): RS256 for Google's OAuth
//! token endpoint, ES256 for APNs (RFC 7518 §3.3 and §3.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgewrite_core::ports::Random;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// A token cache key: the provider, and a hash of what the token is minted from, so new
/// credentials on the same provider never reuse an old token and no secret sits in the key.
pub(super) fn cache_key(provider_id: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("{provider_id}:{}", super::sigv4::hex(&hash.finalize()))
}

/// `base64url(header).base64url(claims)`, the part of a JWT its signature covers.
pub(super) fn signing_input(header: &Json, claims: &Json) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// A key as pasted into a form: `\n` typed as two characters, Windows line endings, stray
/// spaces around it all.
fn normalize_pem(pem: &str) -> String {
    let pem = pem.trim();
    let pem = if pem.contains('\n') { pem.to_string() } else { pem.replace("\\n", "\n") };
    pem.replace("\r\n", "\n")
}

/// An RSA private key from PKCS#8 PEM (`BEGIN PRIVATE KEY`, as in Google service accounts), or
/// the older PKCS#1 form (`BEGIN RSA PRIVATE KEY`).
pub(super) fn rsa_key(pem: &str) -> Result<rsa::RsaPrivateKey, &'static str> {
    let pem = normalize_pem(pem);
    rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(&pem))
        .map_err(|_| "it is not an RSA private key in PEM form")
}

/// A P-256 private key from PKCS#8 PEM (Apple's `.p8` files).
pub(super) fn p256_key(pem: &str) -> Result<p256::ecdsa::SigningKey, &'static str> {
    p256::ecdsa::SigningKey::from_pkcs8_pem(&normalize_pem(pem))
        .map_err(|_| "it is not a P-256 private key in PKCS#8 PEM form")
}

/// `input.signature` with an RSASSA-PKCS1-v1_5 SHA-256 signature. The signing is blinded with
/// randomness from the platform, which hides the key from timing measurements.
pub(super) fn rs256(key: &rsa::RsaPrivateKey, input: &str, random: &dyn Random) -> String {
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let signature = signer.sign_with_rng(&mut PortRng(random), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// `input.signature` with an ECDSA P-256 SHA-256 signature in its JOSE form: `r || s`, 32 bytes
/// each, not DER. The nonce is derived from the key and message (RFC 6979), so no randomness.
pub(super) fn es256(key: &p256::ecdsa::SigningKey, input: &str) -> String {
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// The platform's random source for the crypto crates, whose own default would be `getrandom`
/// (unavailable on `wasm32-unknown-unknown` without JavaScript glue).
struct PortRng<'a>(&'a dyn Random);

impl RngCore for PortRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.0.fill(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.0.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

/// The port promises a cryptographically secure source.
impl CryptoRng for PortRng<'_> {}

#[cfg(test)]
pub(super) mod tests {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::EncodePrivateKey as _;
    use serde_json::json;

    use super::*;
    use crate::wire::fake::{Predictable, RSA_PEM};

    /// A P-256 key with a fixed scalar, as Apple's `.p8` files hold it.
    pub(crate) fn p256_pem() -> String {
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        key.to_pkcs8_pem(Default::default()).unwrap().to_string()
    }

    /// The header and claims of `jwt`, after checking its signature with `verify`.
    pub(crate) fn decode(jwt: &str, verify: impl Fn(&[u8], &[u8])) -> (Json, Json) {
        let (input, signature) = jwt.rsplit_once('.').unwrap();
        verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap());
        let (header, claims) = input.split_once('.').unwrap();
        let part = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        (part(header), part(claims))
    }

    pub(crate) fn verify_rs256(key: &rsa::RsaPrivateKey) -> impl Fn(&[u8], &[u8]) {
        let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.to_public_key());
        move |input, signature| {
            let signature = rsa::pkcs1v15::Signature::try_from(signature).unwrap();
            verifier.verify(input, &signature).expect("a valid RS256 signature");
        }
    }

    pub(crate) fn verify_es256(key: &p256::ecdsa::SigningKey) -> impl Fn(&[u8], &[u8]) {
        let verifier = *key.verifying_key();
        move |input, signature| {
            assert_eq!(signature.len(), 64, "r || s, not DER");
            let signature = p256::ecdsa::Signature::from_slice(signature).unwrap();
            verifier.verify(input, &signature).expect("a valid ES256 signature");
        }
    }

    #[test]
    fn rs256_tokens_verify_with_the_public_key() {
        let key = rsa_key(RSA_PEM).unwrap();
        let input = signing_input(&json!({ "alg": "RS256" }), &json!({ "iss": "a" }));
        let jwt = rs256(&key, &input, &Predictable::default());
        let (header, claims) = decode(&jwt, verify_rs256(&key));
        assert_eq!((header, claims), (json!({ "alg": "RS256" }), json!({ "iss": "a" })));
    }

    #[test]
    fn es256_tokens_verify_with_the_public_key() {
        let key = p256_key(&p256_pem()).unwrap();
        let jwt = es256(&key, &signing_input(&json!({ "alg": "ES256" }), &json!({ "iat": 1 })));
        let (_, claims) = decode(&jwt, verify_es256(&key));
        assert_eq!(claims, json!({ "iat": 1 }));
    }

    #[test]
    fn keys_pasted_with_escaped_newlines_or_crlf_parse() {
        let escaped = RSA_PEM.trim().replace('\n', "\\n");
        assert!(rsa_key(&escaped).is_ok());
        let pkcs1 = rsa_key(RSA_PEM).unwrap();
        let reencoded = pkcs1.to_pkcs8_pem(Default::default()).unwrap().replace('\n', "\r\n");
        assert!(rsa_key(&reencoded).is_ok());
        assert!(p256_key(&format!("  {}  ", p256_pem().replace('\n', "\r\n"))).is_ok());
    }

    #[test]
    fn the_wrong_key_type_is_refused() {
        assert!(p256_key(RSA_PEM).is_err());
        assert!(rsa_key(&p256_pem()).is_err());
        assert!(rsa_key("not a key").is_err());
    }

    /// `jsonwebtoken`, verifying with the public key alone, reads back the claims we signed.
    #[test]
    fn tokens_verify_with_an_independent_jwt_library() {
        use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
        use rsa::traits::PublicKeyParts as _;

        let claims = json!({ "iss": "team-é", "iat": 1_795_100_400, "scope": "a b", "n": [1, 2.5, null] });
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.required_spec_claims.clear();
            v.validate_exp = false;
            v.validate_aud = false;
            v
        };

        let rsa = rsa_key(RSA_PEM).unwrap();
        let public = rsa.to_public_key();
        let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
        let input = signing_input(&json!({ "alg": "RS256", "typ": "JWT" }), &claims);
        let jwt = rs256(&rsa, &input, &Predictable::default());
        let read = decode::<Json>(
            &jwt,
            &DecodingKey::from_rsa_components(&n, &e).unwrap(),
            &validation(Algorithm::RS256),
        )
        .expect("an RS256 token jsonwebtoken accepts");
        assert_eq!(read.claims, claims);

        let p256 = p256_key(&p256_pem()).unwrap();
        let point = p256.verifying_key().to_encoded_point(false);
        let x = URL_SAFE_NO_PAD.encode(point.x().unwrap());
        let y = URL_SAFE_NO_PAD.encode(point.y().unwrap());
        let input = signing_input(&json!({ "alg": "ES256", "kid": "ABC123" }), &claims);
        let jwt = es256(&p256, &input);
        let read = decode::<Json>(
            &jwt,
            &DecodingKey::from_ec_components(&x, &y).unwrap(),
            &validation(Algorithm::ES256),
        )
        .expect("an ES256 token jsonwebtoken accepts");
        assert_eq!((read.header.kid.as_deref(), read.claims), (Some("ABC123"), claims));
    }
}
