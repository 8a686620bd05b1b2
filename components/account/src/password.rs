//! Password hashing and policy (`appwrite-api.md` §10). New hashes are Argon2id with OWASP's
//! parameters (m=19456 KiB, t=2, p=1) as PHC strings, so parameters can change later; any
//! Argon2 PHC string (Appwrite's own parameters included) verifies.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use edgewrite_core::ports::Random;
use edgewrite_core::AppwriteError;

/// OWASP's Argon2id recommendation.
pub const MEMORY_KIB: u32 = 19_456;
pub const TIME_COST: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Appwrite's wording for the password rule.
pub const PASSWORD_RULE: &str =
    "Password must be between 8 and 256 characters long, and should not be one of the commonly used password.";

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, TIME_COST, PARALLELISM, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the length rule: 8 to 256 bytes, as Appwrite counts them.
pub fn validate(param: &str, password: &str) -> Result<(), AppwriteError> {
    if (8..=256).contains(&password.len()) {
        Ok(())
    } else {
        Err(AppwriteError::invalid_param(param, PASSWORD_RULE))
    }
}

/// Hashes with Argon2id and a fresh 16-byte salt.
pub fn hash(password: &str, random: &dyn Random) -> Result<String, AppwriteError> {
    let mut salt = [0u8; 16];
    random.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(AppwriteError::internal)?;
    hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(AppwriteError::internal)
}

/// Verifies `password` against a stored PHC string. Unknown or malformed hashes never verify.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    // Verification uses the parameters in the PHC string, whatever they are.
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Whether a stored hash should be replaced by one with the current parameters.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return true };
    let current = |name: &str, want: u32| parsed.params.get_decimal(name) == Some(want);
    parsed.algorithm.as_str() != "argon2id"
        || !current("m", MEMORY_KIB)
        || !current("t", TIME_COST)
        || !current("p", PARALLELISM)
}

/// The `hashOptions` Appwrite reports for an Argon2 hash.
pub fn hash_options() -> serde_json::Value {
    serde_json::json!({"type": "argon2", "memoryCost": MEMORY_KIB, "timeCost": TIME_COST, "threads": PARALLELISM})
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::cell::Cell<u8>);
    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                self.0.set(self.0.get().wrapping_add(1));
                *b = self.0.get();
            }
        }
    }

    #[test]
    fn hashes_are_argon2id_phc_with_owasp_parameters() {
        let rng = Counter(std::cell::Cell::new(0));
        let h = hash("correct horse", &rng).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!needs_rehash(&h));
        assert_ne!(h, hash("correct horse", &rng).unwrap(), "salts differ");
    }

    #[test]
    fn appwrite_argon2_parameters_verify_and_ask_for_rehash() {
        // A hash with Appwrite's sign-up parameters (m=65536, t=4, p=3): password "password".
        let params = Params::new(65_536, 4, 3, None).unwrap();
        let appwrite = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let stored = appwrite.hash_password(b"password", &salt).unwrap().to_string();
        assert!(verify("password", &stored));
        assert!(needs_rehash(&stored));
    }

    #[test]
    fn garbage_hashes_never_verify() {
        for stored in ["", "plain", "$argon2id$v=19$m=1$zz", "$2y$10$abcdefghijklmnopqrstuv"] {
            assert!(!verify("password", stored), "{stored}");
        }
    }

    #[test]
    fn length_rule_counts_bytes() {
        assert!(validate("password", "1234567").is_err());
        assert!(validate("password", "12345678").is_ok());
        assert!(validate("password", &"x".repeat(256)).is_ok());
        assert!(validate("password", &"x".repeat(257)).is_err());
        assert_eq!(
            validate("password", "short").unwrap_err().message,
            format!("Invalid `password` param: {PASSWORD_RULE}")
        );
    }
}
