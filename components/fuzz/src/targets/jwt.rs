//! Target `jwt`: HS256 tokens (`edgewrite_core::jwt`), the check behind `X-Appwrite-JWT`
//! (account JWTs), dynamic function keys, file tokens and push-image URLs.
//!
//! Input, one per line: the secret; a token to verify as it is; claims (JSON, else taken as a
//! string) to sign; a header (JSON) to sign the claims under instead of the standard one; and
//! tamper bytes, each pair an offset and an XOR into the signed token.
//!
//! Properties: never panics, whatever the token (malformed, truncated, huge); a token it
//! accepts has the HS256 header and its signature is the HMAC of its first two segments; a
//! token it signed verifies to its claims; any change to that token, or another secret, is
//! refused; a correctly signed token under any header but `"alg":"HS256"` is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgewrite_core::jwt::{sign, verify};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::Target;

pub const TARGET: Target = Target {
    name: "jwt",
    run,
    dictionary: &[
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "eyJhbGciOiJub25lIn0",
        ".",
        "..",
        "=",
        "+",
        "/",
        "{\"alg\":\"HS256\"}",
        "{\"alg\":\"none\"}",
        "{\"alg\":\"HS512\"}",
        "\"userId\"",
        "\"sessionId\"",
        "\"exp\"",
    ],
    max_len: 256 * 1024,
};

/// The account JWT's claims (`edgewrite-account`'s `jwt::Claims`), as verify reads them.
#[derive(Debug, Serialize, Deserialize)]
struct AccountClaims {
    #[serde(rename = "userId")]
    user_id: String,
    #[serde(rename = "sessionId")]
    session_id: String,
    iat: i64,
    exp: i64,
}

fn run(input: &[u8]) {
    let lines = super::lines(input);
    let line = |i: usize| lines.get(i).map(String::as_str).unwrap_or_default();
    let secret = line(0).as_bytes();

    // A token as sent.
    let token = line(1);
    for verified in
        [verify::<Value>(token, secret).is_some(), verify::<AccountClaims>(token, secret).is_some()]
    {
        if verified {
            assert!(properly_signed(token, secret), "accepted a token not signed with the secret: {token}");
        }
    }

    // Claims signed here, then tampered with.
    let claims: Value = serde_json::from_str(line(2)).unwrap_or_else(|_| Value::String(line(2).into()));
    let signed = sign(&claims, secret);
    let expected: Value =
        serde_json::from_slice(&serde_json::to_vec(&claims).unwrap_or_default()).unwrap_or(Value::Null);
    assert_eq!(verify::<Value>(&signed, secret), Some(expected), "a signed token verifies to its claims");
    let other_secret = [secret, b"x"].concat();
    assert_eq!(verify::<Value>(&signed, &other_secret), None, "another secret");
    let tamper = line(4).as_bytes();
    if !tamper.is_empty() {
        let mut forged = signed.clone().into_bytes();
        for pair in tamper.chunks(2) {
            let at = usize::from(pair[0]) * 7 % forged.len();
            forged[at] ^= pair.get(1).copied().unwrap_or(1);
        }
        if let Ok(forged) = String::from_utf8(forged) {
            if forged != signed {
                assert_eq!(verify::<Value>(&forged, secret), None, "accepted a tampered token: {forged}");
            }
        }
    }

    // The same claims under a header of the input's choosing, correctly signed.
    let header = line(3);
    if !header.is_empty() {
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header), signed.split('.').nth(1).unwrap_or(""));
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac(secret, &signing_input)));
        let hs256 = serde_json::from_str::<Value>(header)
            .ok()
            .and_then(|h| h.get("alg")?.as_str().map(|a| a == "HS256"))
            .unwrap_or(false);
        assert_eq!(verify::<Value>(&token, secret).is_some(), hs256, "header {header}");
    }
}

fn mac(secret: &[u8], signing_input: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(signing_input.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Three segments, a header whose `alg` is `HS256`, and a signature that is the HMAC of the
/// first two: checked here without the code under test.
fn properly_signed(token: &str, secret: &[u8]) -> bool {
    let segments: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = segments.as_slice() else { return false };
    let alg = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg")?.as_str().map(str::to_string));
    alg.as_deref() == Some("HS256")
        && URL_SAFE_NO_PAD.decode(signature).ok() == Some(mac(secret, &format!("{header}.{payload}")))
}
