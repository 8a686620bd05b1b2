//! The JSON Web Tokens sign-in needs (RFC 7515, 7517, 7518, 7519): checking an OpenID Connect
//! ID token against its issuer's key set (RS256, ES256), and signing Apple's client secret
//! (ES256).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::{json, Value as Json};
use sha2::Sha256;

use crate::OAuthError;

fn decode_part(part: &str) -> Result<Vec<u8>, OAuthError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| OAuthError::Provider("the ID token is not base64url".into()))
}

/// An ID token's header and claims, unchecked: only for reading what [`verify`] then checks.
pub fn decode(token: &str) -> Result<(Json, Json, Vec<u8>, String), OAuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OAuthError::Provider("the ID token is not a signed JWT".into()));
    };
    let parse = |part: &str| -> Result<Json, OAuthError> {
        serde_json::from_slice(&decode_part(part)?)
            .map_err(|_| OAuthError::Provider("the ID token is not JSON".into()))
    };
    Ok((parse(header)?, parse(claims)?, decode_part(signature)?, format!("{header}.{claims}")))
}

/// What an ID token must say besides being signed by one of the issuer's keys.
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// The nonce the authorization request carried, when it carried one.
    pub nonce: Option<&'a str>,
    pub now_secs: i64,
}

/// Allowed clock difference with the issuer.
const LEEWAY_SECS: i64 = 300;

/// The claims of `token` once its signature verifies with a key of `jwks` (a JWK Set) and its
/// issuer, audience, lifetime and nonce are what `expect` says.
pub fn verify(token: &str, jwks: &Json, expect: &Expect<'_>) -> Result<Json, OAuthError> {
    let (header, claims, signature, signed) = decode(token)?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let kid = header["kid"].as_str();
    let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
    let candidates: Vec<&Json> = keys
        .iter()
        .filter(|k| kid.is_none() || k["kid"].as_str() == kid)
        .filter(|k| k["use"].as_str().is_none_or(|u| u == "sig"))
        .collect();
    if candidates.is_empty() {
        return Err(OAuthError::Provider("no key of the issuer signed the ID token".into()));
    }
    let verified = candidates.iter().any(|key| match alg {
        "RS256" => verify_rs256(key, signed.as_bytes(), &signature),
        "ES256" => verify_es256(key, signed.as_bytes(), &signature),
        _ => false,
    });
    if !verified {
        return Err(OAuthError::Provider(format!("the ID token's signature ({alg}) does not verify")));
    }
    if claims["iss"].as_str() != Some(expect.issuer) {
        return Err(OAuthError::Provider("the ID token names another issuer".into()));
    }
    let audience_ok = match &claims["aud"] {
        Json::String(aud) => aud == expect.audience,
        Json::Array(auds) => auds.iter().any(|a| a.as_str() == Some(expect.audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(OAuthError::Provider("the ID token was issued to another client".into()));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp + LEEWAY_SECS < expect.now_secs {
        return Err(OAuthError::Provider("the ID token has expired".into()));
    }
    if claims["iat"].as_i64().is_some_and(|iat| iat > expect.now_secs + LEEWAY_SECS) {
        return Err(OAuthError::Provider("the ID token is issued in the future".into()));
    }
    if let Some(nonce) = expect.nonce {
        if claims["nonce"].as_str() != Some(nonce) {
            return Err(OAuthError::Provider("the ID token's nonce is not this sign-in's".into()));
        }
    }
    Ok(claims)
}

fn verify_rs256(jwk: &Json, message: &[u8], signature: &[u8]) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    if jwk["kty"].as_str() != Some("RSA") {
        return false;
    }
    let (Some(n), Some(e)) = (jwk["n"].as_str(), jwk["e"].as_str()) else { return false };
    let (Ok(n), Ok(e)) = (decode_part(n), decode_part(e)) else { return false };
    let Ok(key) = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(&n), rsa::BigUint::from_bytes_be(&e))
    else {
        return false;
    };
    let Ok(signature) = Signature::try_from(signature) else { return false };
    VerifyingKey::<Sha256>::new(key).verify(message, &signature).is_ok()
}

fn verify_es256(jwk: &Json, message: &[u8], signature: &[u8]) -> bool {
    if jwk["kty"].as_str() != Some("EC") || jwk["crv"].as_str() != Some("P-256") {
        return false;
    }
    let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) else { return false };
    let (Ok(x), Ok(y)) = (decode_part(x), decode_part(y)) else { return false };
    if x.len() != 32 || y.len() != 32 {
        return false;
    }
    let point = p256::EncodedPoint::from_affine_coordinates(
        p256::FieldBytes::from_slice(&x),
        p256::FieldBytes::from_slice(&y),
        false,
    );
    let Ok(key) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else { return false };
    let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else { return false };
    key.verify(message, &signature).is_ok()
}

/// A PEM key as pasted into a form or a variable: `\n` typed as two characters, Windows line
/// endings, stray spaces.
fn normalize_pem(pem: &str) -> String {
    let pem = pem.trim();
    let pem = if pem.contains('\n') { pem.to_string() } else { pem.replace("\\n", "\n") };
    pem.replace("\r\n", "\n")
}

/// Apple's client secret: an ES256 JWT from the team's Sign in with Apple key (`p8`, PKCS#8
/// PEM), issued by the team to the services id, for Apple's token endpoint.
pub fn apple_client_secret(
    team_id: &str,
    key_id: &str,
    p8: &str,
    services_id: &str,
    now_secs: i64,
) -> Result<String, OAuthError> {
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&normalize_pem(p8))
        .map_err(|_| OAuthError::Config("the Apple key (p8) is not a PKCS#8 P-256 private key".into()))?;
    let header = json!({"alg": "ES256", "kid": key_id, "typ": "JWT"});
    // Apple accepts at most six months; a few minutes is all one exchange needs.
    let claims = json!({
        "iss": team_id,
        "iat": now_secs,
        "exp": now_secs + 600,
        "aud": "https://appleid.apple.com",
        "sub": services_id,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

#[cfg(test)]
mod tests;
