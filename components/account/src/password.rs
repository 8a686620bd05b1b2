//! Password hashing and policy (`appwrite-api.md` §10). New hashes are Argon2id, by default with
//! one of OWASP's equivalent parameter sets (m=7168 KiB, t=5, p=1: the least CPU in wasm and
//! the least memory of the five), as PHC strings so parameters can change; any
//! Argon2 PHC string (Appwrite's own parameters included) verifies.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use edgewrite_core::config::PasswordPolicy;
use edgewrite_core::ports::{Random, Task, TaskOutput};
use edgewrite_core::{AppwriteError, Ctx, ErrorType};

/// Appwrite's wording for the password rule.
pub const PASSWORD_RULE: &str =
    "Password must be between 8 and 256 characters long, and should not be one of the commonly used password.";

fn hasher(policy: &PasswordPolicy) -> Result<Argon2<'static>, AppwriteError> {
    let (m, t, p) = policy.argon2;
    let params = Params::new(m, t, p, None).map_err(AppwriteError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The 10,000 most common passwords, lower-cased and sorted (see `build.rs`).
const COMMON_PASSWORDS: &str = include_str!(concat!(env!("OUT_DIR"), "/common_passwords.txt"));

/// `400 general_argument_invalid` when the dictionary policy is on and the password, in any
/// case, is one of the most common ones.
pub fn check_dictionary(param: &str, password: &str, policy: &PasswordPolicy) -> Result<(), AppwriteError> {
    if !policy.dictionary {
        return Ok(());
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.split('\n').any(|p| p == lower) {
        return Err(AppwriteError::invalid_param(param, PASSWORD_RULE));
    }
    Ok(())
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
pub fn hash(password: &str, random: &dyn Random, policy: &PasswordPolicy) -> Result<String, AppwriteError> {
    let mut salt = [0u8; 16];
    random.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(AppwriteError::internal)?;
    hasher(policy)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AppwriteError::internal)
}

/// A new hash of `plain` for a handler: done where the runtime runs CPU-heavy work
/// (`ports::Offload`), else here.
pub fn hash_for(ctx: &Ctx<'_>, plain: &str) -> Result<String, AppwriteError> {
    let task = Task::HashPassword { password: plain.to_string() };
    match ctx.ports.offload.output(&task, TaskOutput::Hash(String::new())) {
        Some(TaskOutput::Hash(hash)) => Ok(hash),
        _ => hash(plain, ctx.ports.random, &ctx.config.password),
    }
}

/// Whether `plain` matches `stored` (hashed with `algo` and `options`), checked where the
/// runtime runs CPU-heavy work, else here. `expect` is the answer that lets the handler go on
/// (see `Offload::output`).
pub fn verify_for(
    ctx: &Ctx<'_>,
    plain: &str,
    stored: &str,
    algo: &str,
    options: &serde_json::Value,
    expect: bool,
) -> bool {
    let task = Task::VerifyPassword {
        password: plain.to_string(),
        stored: stored.to_string(),
        algo: algo.to_string(),
        options: options.clone(),
    };
    match ctx.ports.offload.output(&task, TaskOutput::Verified(expect)) {
        Some(TaskOutput::Verified(verified)) => verified,
        _ => verify_any(plain, stored, algo, options),
    }
}

fn verify_any(plain: &str, stored: &str, algo: &str, options: &serde_json::Value) -> bool {
    if algo == "argon2" {
        verify(plain, stored)
    } else {
        crate::imported::verify(plain, algo, stored, options)
    }
}

/// Does `task` here: what the Worker runs for the project's object.
pub fn perform(
    task: &Task,
    random: &dyn Random,
    policy: &PasswordPolicy,
) -> Result<TaskOutput, AppwriteError> {
    Ok(match task {
        Task::HashPassword { password } => TaskOutput::Hash(hash(password, random, policy)?),
        Task::VerifyPassword { password, stored, algo, options } => {
            TaskOutput::Verified(verify_any(password, stored, algo, options))
        }
    })
}

/// Largest Argon2 costs a stored hash may ask for: an imported hash must not make one login
/// take the Worker's whole memory (128 MB) or seconds of CPU.
const MAX_ARGON2_MEMORY_KIB: u32 = 65_536;
const MAX_ARGON2_TIME: u32 = 10;
const MAX_ARGON2_LANES: u32 = 16;

/// Whether `stored` is an Argon2 PHC string (argon2i, argon2d or argon2id) within the cost caps.
pub fn importable_argon2(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let within = |name: &str, max: u32| parsed.params.get_decimal(name).is_some_and(|v| v >= 1 && v <= max);
    matches!(parsed.algorithm.as_str(), "argon2i" | "argon2d" | "argon2id")
        && parsed.hash.is_some()
        && parsed.salt.is_some()
        && within("m", MAX_ARGON2_MEMORY_KIB)
        && within("t", MAX_ARGON2_TIME)
        && within("p", MAX_ARGON2_LANES)
}

/// The `hashOptions` of an Argon2 PHC string: its own parameters.
pub fn argon2_options(stored: &str) -> serde_json::Value {
    let parsed = PasswordHash::new(stored).ok();
    let param = |name: &str| parsed.as_ref().and_then(|p| p.params.get_decimal(name)).unwrap_or(0);
    serde_json::json!({"type": "argon2", "memoryCost": param("m"), "timeCost": param("t"), "threads": param("p")})
}

/// Verifies `password` against a stored PHC string. Unknown or malformed hashes, and hashes
/// past the cost caps, never verify.
pub fn verify(password: &str, stored: &str) -> bool {
    if !importable_argon2(stored) {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    // Verification uses the parameters in the PHC string, whatever they are.
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Whether a stored hash should be replaced by one with the current parameters.
pub fn needs_rehash(stored: &str, policy: &PasswordPolicy) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return true };
    let (m, t, p) = policy.argon2;
    let current = |name: &str, want: u32| parsed.params.get_decimal(name) == Some(want);
    parsed.algorithm.as_str() != "argon2id" || !current("m", m) || !current("t", t) || !current("p", p)
}

/// The `hashOptions` Appwrite reports for an Argon2 hash.
pub fn hash_options(policy: &PasswordPolicy) -> serde_json::Value {
    let (m, t, p) = policy.argon2;
    serde_json::json!({"type": "argon2", "memoryCost": m, "timeCost": t, "threads": p})
}

/// What a password must not contain under the personal-data rule.
pub struct PersonalData<'a> {
    pub user_id: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// `400 password_personal_data` when the policy is on and the password contains the user's id,
/// name, email (or its local part) or phone number, case-insensitively.
pub fn check_personal_data(
    password: &str,
    data: &PersonalData<'_>,
    policy: &PasswordPolicy,
) -> Result<(), AppwriteError> {
    if !policy.personal_data {
        return Ok(());
    }
    let lower = password.to_lowercase();
    let email = data.email.unwrap_or_default();
    let local = email.split('@').next().unwrap_or_default();
    let phone = data.phone.unwrap_or_default().trim_start_matches('+');
    let found = [data.user_id, data.name, email, local, phone]
        .iter()
        .filter(|v| v.chars().count() >= 3)
        .any(|v| lower.contains(&v.to_lowercase()));
    if found {
        return Err(AppwriteError::new(
            ErrorType::PasswordPersonalData,
            "The password you are trying to use contains references to your name, email, phone or userID. For your security, please choose a different password and try again.",
        ));
    }
    Ok(())
}

/// `400 password_recently_used` when the password matches one of the remembered hashes.
pub fn check_history(ctx: &Ctx<'_>, password: &str, history: &[String]) -> Result<(), AppwriteError> {
    // Every remembered hash is checked (no short cut), so one serving asks for all of them.
    let used = history
        .iter()
        .map(|h| verify_for(ctx, password, h, "argon2", &serde_json::Value::Null, false))
        .fold(false, |any, v| any | v);
    if used {
        return Err(AppwriteError::new(
            ErrorType::PasswordRecentlyUsed,
            "The password you are trying to use is similar to your previous password. For your security, please choose a different password and try again.",
        ));
    }
    Ok(())
}

/// The history after setting `new_hash`: the newest `policy.history` hashes (none when off).
pub fn push_history(mut history: Vec<String>, new_hash: &str, policy: &PasswordPolicy) -> Vec<String> {
    history.push(new_hash.to_string());
    let keep = policy.history as usize;
    history.split_off(history.len().saturating_sub(keep))
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
        let policy = PasswordPolicy::default();
        let h = hash("correct horse", &rng, &policy).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!needs_rehash(&h, &policy));
        assert_ne!(h, hash("correct horse", &rng, &policy).unwrap(), "salts differ");
        let stronger = PasswordPolicy { argon2: (65_536, 3, 1), ..policy };
        assert!(needs_rehash(&h, &stronger));
    }

    #[test]
    fn appwrite_argon2_parameters_verify_and_ask_for_rehash() {
        // A hash with Appwrite's sign-up parameters (m=65536, t=4, p=3): password "password".
        let params = Params::new(65_536, 4, 3, None).unwrap();
        let appwrite = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let stored = appwrite.hash_password(b"password", &salt).unwrap().to_string();
        assert!(verify("password", &stored));
        assert!(needs_rehash(&stored, &PasswordPolicy::default()));
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        let on = PasswordPolicy::default();
        assert!(on.dictionary, "the dictionary is on by default");
        for common in ["password", "PassWord", "12345678", "qwertyuiop", "iloveyou"] {
            assert_eq!(
                check_dictionary("password", common, &on).unwrap_err().kind,
                ErrorType::GeneralArgumentInvalid,
                "{common}"
            );
        }
        assert!(check_dictionary("password", "correct-horse-9", &on).is_ok());
        let off = PasswordPolicy { dictionary: false, ..on };
        assert!(check_dictionary("password", "password", &off).is_ok());
        assert_eq!(COMMON_PASSWORDS.lines().count(), COMMON_PASSWORDS.split('\n').count());
        assert!(COMMON_PASSWORDS.split('\n').count() > 9_000);
    }

    #[test]
    fn personal_data_rule_only_when_on() {
        let data = PersonalData {
            user_id: "user1",
            name: "Ada Lovelace",
            email: Some("ada@example.com"),
            phone: Some("+15551234"),
        };
        let on = PasswordPolicy { personal_data: true, ..PasswordPolicy::default() };
        for bad in ["my-USER1-pass", "ADA@example.com!", "xxadaxx-long", "p15551234q", "ada lovelace 1"] {
            assert_eq!(
                check_personal_data(bad, &data, &on).unwrap_err().kind,
                ErrorType::PasswordPersonalData,
                "{bad}"
            );
        }
        assert!(check_personal_data("unrelated-secret", &data, &on).is_ok());
        assert!(check_personal_data("user1user1", &data, &PasswordPolicy::default()).is_ok());
    }

    #[test]
    fn history_keeps_the_newest_hashes() {
        let p = PasswordPolicy { history: 2, ..PasswordPolicy::default() };
        let h = push_history(vec!["a".into(), "b".into()], "c", &p);
        assert_eq!(h, ["b", "c"]);
        assert!(push_history(vec![], "c", &PasswordPolicy::default()).is_empty());
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
