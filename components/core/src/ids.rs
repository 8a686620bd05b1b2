//! Appwrite ids (`appwrite-api.md` §2): client-chosen custom ids and server-generated unique ids.

use crate::ports::Random;

/// Appwrite's wording for the custom id rule, used in `general_argument_invalid` messages.
pub const CUSTOM_ID_RULE: &str = "Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char";

/// Whether `id` matches `[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}`.
pub fn is_valid_custom_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 36
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A 20-hex-char id shaped like the SDK's `ID.unique()`: 8 hex of unix seconds, 5 hex of
/// milliseconds (in units of 1/1000 s scaled to 20 bits, as uniqid does with microseconds),
/// then 7 random hex.
pub fn unique_id(now_ms: i64, random: &dyn Random) -> String {
    let secs = now_ms.div_euclid(1000) as u64;
    let micros = (now_ms.rem_euclid(1000) as u64) * 1000;
    let mut rnd = [0u8; 4];
    random.fill(&mut rnd);
    let tail = u32::from_le_bytes(rnd) & 0x0fff_ffff;
    format!("{:08x}{:05x}{:07x}", secs & 0xffff_ffff, micros & 0xfffff, tail)
}

/// A random secret of `bytes` bytes as lower-case hex.
pub fn random_hex(bytes: usize, random: &dyn Random) -> String {
    let mut buf = vec![0u8; bytes];
    random.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Random for Fixed {
        fn fill(&self, buf: &mut [u8]) {
            buf.fill(0xab);
        }
    }

    #[test]
    fn custom_id_rule_matches_appwrite() {
        for ok in ["a", "A1", "user.name-1_x", &"x".repeat(36)] {
            assert!(is_valid_custom_id(ok), "{ok}");
        }
        for bad in ["", ".a", "-a", "_a", "a b", "a/b", "é", &"x".repeat(37)] {
            assert!(!is_valid_custom_id(bad), "{bad}");
        }
    }

    #[test]
    fn unique_ids_are_20_hex_and_valid_custom_ids() {
        let id = unique_id(1_767_225_600_123, &Fixed);
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("6955b900"));
        assert!(is_valid_custom_id(&id));
        assert_eq!(random_hex(16, &Fixed).len(), 32);
    }
}
