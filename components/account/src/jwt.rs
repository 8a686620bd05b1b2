//! Account JWTs (`POST /account/jwts`, `X-Appwrite-JWT`): HS256 over `{userId, sessionId, exp}`
//! with a per-project secret kept in the project's settings table.

use edgewrite_core::ports::{Ports, Rows, Statement, Value};
use edgewrite_core::AppwriteError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "sessionId")]
    pub session_id: String,
    pub iat: i64,
    pub exp: i64,
}

/// An account JWT signed with the project's `secret`.
pub fn encode(claims: &Claims, secret: &[u8]) -> String {
    sign(claims, secret)
}

/// The claims of a token signed with `secret` and not expired at `now_s`.
pub fn decode(token: &str, secret: &[u8], now_s: i64) -> Option<Claims> {
    let claims: Claims = verify(token, secret)?;
    (claims.exp > now_s).then_some(claims)
}

pub use edgewrite_core::jwt::{sign, verify};

/// The two statements that read the project's JWT secret, creating it on first use; put them in
/// a batch and read the result with [`secret_from`].
pub fn secret_statements(ports: &Ports<'_>) -> [Statement; 2] {
    let fresh = edgewrite_core::ids::random_hex(32, ports.random);
    [
        Statement::new(
            "INSERT OR IGNORE INTO _edgewrite_settings (key, value, updated_at) VALUES ('jwt_secret', ?, ?)",
            vec![fresh.into(), Value::Integer(ports.clock.now_ms())],
        ),
        Statement::new("SELECT value FROM _edgewrite_settings WHERE key = 'jwt_secret'", vec![]),
    ]
}

/// The statement reading the project's JWT secret without creating it: verifying a token
/// needs no write (a project without a secret has minted no token).
pub fn secret_read_statement() -> Statement {
    Statement::new("SELECT value FROM _edgewrite_settings WHERE key = 'jwt_secret'", vec![])
}

/// The secret from the result of the second of [`secret_statements`] (or of
/// [`secret_read_statement`]).
pub fn secret_from(rows: Option<&Rows>) -> Result<Vec<u8>, AppwriteError> {
    rows.and_then(|r| r.get(0, "value"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| AppwriteError::internal("jwt secret missing after insert"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn claims(exp: i64) -> Claims {
        Claims { user_id: "u1".into(), session_id: "s1".into(), iat: 0, exp }
    }

    #[test]
    fn round_trips_and_rejects_tampering() {
        let token = encode(&claims(100), b"secret");
        assert_eq!(decode(&token, b"secret", 50), Some(claims(100)));
        assert_eq!(decode(&token, b"other", 50), None);
        assert_eq!(decode(&token, b"secret", 100), None, "expired");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(10_000)).unwrap());
        parts[1] = &forged;
        assert_eq!(decode(&parts.join("."), b"secret", 50), None);
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(100)).unwrap());
        assert_eq!(decode(&format!("{none_header}.{payload}."), b"secret", 50), None);
        for bad in ["", "a.b", "a.b.c.d", "...", "eyJ.eyJ.sig"] {
            assert_eq!(decode(bad, b"secret", 0), None, "{bad}");
        }
    }
}
