use super::*;

/// A test-only P-256 key (PKCS#8 PEM), as Apple hands out `.p8` files.
const P8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0K6YNaPCj4oeO6XG
SkFlPGjFYWaeh08SlqdmLAGTQ/ahRANCAARoTcFT8CvJAKcMYjk6JlxyScF8TTA9
IP+LOxBIGw0pQ4CqvKZC2qFhjDdYBhKj28d6KwbLRmr++A2/9a7hXxTj
-----END PRIVATE KEY-----";

/// An RS256 ID token signed by Node's crypto, and the public key that verifies it.
fn rs256_fixture() -> (String, Json) {
    let fixture: Json = serde_json::from_str(include_str!("rs256-fixture.json")).unwrap();
    (fixture["token"].as_str().unwrap().to_string(), json!({"keys": [fixture["jwk"].clone()]}))
}

fn expect(nonce: Option<&str>) -> Expect<'_> {
    Expect { issuer: "https://issuer.test", audience: "client-1", nonce, now_secs: 1_800_000_000 }
}

#[test]
fn an_rs256_id_token_from_the_issuer_verifies() {
    let (token, jwks) = rs256_fixture();
    let claims = verify(&token, &jwks, &expect(Some("n-1"))).unwrap();
    assert_eq!(claims["sub"], "user-42");
}

#[test]
fn a_tampered_id_token_is_refused() {
    let (token, jwks) = rs256_fixture();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims: Json = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert!(matches!(verify(&parts.join("."), &jwks, &expect(None)), Err(OAuthError::Provider(_))));
}

#[test]
fn claims_must_name_this_issuer_client_nonce_and_a_live_token() {
    let (token, jwks) = rs256_fixture();
    let cases = [
        Expect { issuer: "https://other.test", ..expect(None) },
        Expect { audience: "client-2", ..expect(None) },
        expect(Some("another-nonce")),
        Expect { now_secs: 2_000_000_000 + 301, ..expect(None) },
        Expect { now_secs: 1_700_000_000 - 301, ..expect(None) },
    ];
    for case in cases {
        assert!(verify(&token, &jwks, &case).is_err());
    }
}

#[test]
fn a_key_of_another_kind_or_id_does_not_verify() {
    let (token, jwks) = rs256_fixture();
    let mut other = jwks.clone();
    other["keys"][0]["kid"] = json!("k2");
    assert!(verify(&token, &other, &expect(None)).is_err());
    assert!(verify(&token, &json!({"keys": []}), &expect(None)).is_err());
    assert!(verify("not.a.jwt.at-all", &jwks, &expect(None)).is_err());
    assert!(verify("", &jwks, &expect(None)).is_err());
}

fn p256_jwk() -> Json {
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(P8).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "APPLEKEY1",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }]})
}

#[test]
fn apples_client_secret_is_an_es256_jwt_from_the_team_to_the_services_id() {
    let secret =
        apple_client_secret("TEAM123456", "APPLEKEY1", P8, "com.example.web", 1_800_000_000).unwrap();
    let (header, claims, _, _) = decode(&secret).unwrap();
    assert_eq!(header, json!({"alg": "ES256", "kid": "APPLEKEY1", "typ": "JWT"}));
    assert_eq!(claims["iss"], "TEAM123456");
    assert_eq!(claims["sub"], "com.example.web");
    assert_eq!(claims["aud"], "https://appleid.apple.com");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    let check = Expect {
        issuer: "TEAM123456",
        audience: "https://appleid.apple.com",
        nonce: None,
        now_secs: 1_800_000_000,
    };
    verify(&secret, &p256_jwk(), &check).unwrap();
}

#[test]
fn a_p8_pasted_on_one_line_still_signs_and_garbage_is_a_settings_error() {
    let one_line = P8.replace('\n', "\\n");
    assert!(apple_client_secret("T", "K", &one_line, "s", 0).is_ok());
    assert!(matches!(apple_client_secret("T", "K", "not a key", "s", 0), Err(OAuthError::Config(_))));
}
