//! Verification of password hashes imported from other systems, as Appwrite's import hashers
//! store them (`hash` + `hashOptions` of the User model): bcrypt, MD5, SHA-1/2/3, phpass,
//! scrypt and Firebase's modified scrypt. Such hashes only verify; a successful login replaces
//! them with Argon2id.

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::Value as Json;
use subtle::ConstantTimeEq;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn opt_str<'a>(options: &'a Json, key: &str) -> Option<&'a str> {
    options.get(key).and_then(Json::as_str)
}

fn opt_u32(options: &Json, key: &str) -> Option<u32> {
    let v = options.get(key)?;
    v.as_u64().map(|n| n as u32).or_else(|| v.as_str()?.parse().ok())
}

/// Whether `password` matches `stored` under the imported algorithm `algo` with its options.
/// Unknown algorithms and malformed options never verify.
pub fn verify(password: &str, algo: &str, stored: &str, options: &Json) -> bool {
    let pw = password.as_bytes();
    match algo {
        "bcrypt" => bcrypt_within_cap(stored) && bcrypt::verify(password, stored).unwrap_or(false),
        "md5" => same(hex(&Md5::digest(pw)).as_bytes(), stored.as_bytes()),
        "sha" => sha(opt_str(options, "version").unwrap_or("sha3-512"), pw)
            .is_some_and(|h| same(h.as_bytes(), stored.as_bytes())),
        "phpass" => phpass(password, stored),
        "scrypt" => scrypt_plain(pw, stored, options).unwrap_or(false),
        "scryptMod" => scrypt_modified(pw, stored, options).unwrap_or(false),
        _ => false,
    }
}

/// The SHA variants `POST /users/sha` accepts as `passwordVersion`.
pub const SHA_VERSIONS: &[&str] = &[
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512/224",
    "sha512/256",
    "sha512",
    "sha3-224",
    "sha3-256",
    "sha3-384",
    "sha3-512",
];

fn sha(version: &str, pw: &[u8]) -> Option<String> {
    Some(match version {
        "sha1" => hex(&sha1::Sha1::digest(pw)),
        "sha224" => hex(&sha2::Sha224::digest(pw)),
        "sha256" => hex(&sha2::Sha256::digest(pw)),
        "sha384" => hex(&sha2::Sha384::digest(pw)),
        "sha512" => hex(&sha2::Sha512::digest(pw)),
        "sha512/224" => hex(&sha2::Sha512_224::digest(pw)),
        "sha512/256" => hex(&sha2::Sha512_256::digest(pw)),
        "sha3-224" => hex(&sha3::Sha3_224::digest(pw)),
        "sha3-256" => hex(&sha3::Sha3_256::digest(pw)),
        "sha3-384" => hex(&sha3::Sha3_384::digest(pw)),
        "sha3-512" => hex(&sha3::Sha3_512::digest(pw)),
        _ => return None,
    })
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// phpass: portable `$P$`/`$H$` hashes (iterated MD5), else bcrypt.
fn phpass(password: &str, stored: &str) -> bool {
    let s = stored.as_bytes();
    if !(stored.starts_with("$P$") || stored.starts_with("$H$")) {
        return bcrypt_within_cap(stored) && bcrypt::verify(password, stored).unwrap_or(false);
    }
    if s.len() != 34 {
        return false;
    }
    let Some(log2) = ITOA64.iter().position(|c| *c == s[3]) else { return false };
    // phpass allows up to 2^30 rounds; real hashes use 2^8..2^13. Refusing more keeps one login
    // from burning seconds of CPU on a hostile import.
    if !(7..=16).contains(&log2) {
        return false;
    }
    let salt = &s[4..12];
    let mut hash = Md5::new().chain_update(salt).chain_update(password).finalize();
    for _ in 0..(1u64 << log2) {
        hash = Md5::new().chain_update(hash).chain_update(password).finalize();
    }
    let mut out = s[..12].to_vec();
    encode64(&hash, &mut out);
    same(&out, s)
}

/// phpass's little-endian base64 over `ITOA64`.
fn encode64(input: &[u8], out: &mut Vec<u8>) {
    for chunk in input.chunks(3) {
        let mut value = u32::from(chunk[0]);
        if let Some(b) = chunk.get(1) {
            value |= u32::from(*b) << 8;
        }
        if let Some(b) = chunk.get(2) {
            value |= u32::from(*b) << 16;
        }
        for i in 0..=chunk.len() {
            out.push(ITOA64[((value >> (6 * i)) & 0x3f) as usize]);
        }
    }
}

/// Highest bcrypt cost a stored hash may have: 2^14 rounds take about a second; real hashes
/// use 10–12.
const MAX_BCRYPT_COST: u32 = 14;

/// Whether `stored` is a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`) with a cost within the cap.
pub fn bcrypt_within_cap(stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    stored.len() == 60
        && parts.len() == 4
        && matches!(parts[1], "2a" | "2b" | "2x" | "2y")
        && parts[2].parse::<u32>().is_ok_and(|c| (4..=MAX_BCRYPT_COST).contains(&c))
}

/// Whether scrypt parameters are within the caps [`verify`] applies: N a power of two, memory
/// (128·N·r bytes) at most 64 MiB, parallelism 1–16, key length 1–64 bytes.
pub fn scrypt_params_within_caps(n: u64, r: u64, p: u64, len: u64) -> bool {
    n.is_power_of_two()
        && n >= 2
        && r >= 1
        && 128 * n * r <= 64 << 20
        && (1..=16).contains(&p)
        && (1..=64).contains(&len)
}

fn scrypt_key(pw: &[u8], salt: &[u8], n: u32, r: u32, p: u32, len: usize) -> Option<Vec<u8>> {
    // Capped so a hostile import cannot stall or exhaust a worker.
    if !scrypt_params_within_caps(u64::from(n), u64::from(r), u64::from(p), len as u64) {
        return None;
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, len).ok()?;
    let mut out = vec![0u8; len];
    scrypt::scrypt(pw, salt, &params, &mut out).ok()?;
    Some(out)
}

/// scrypt as Appwrite's importer stores it: hex of the derived key; options `salt` (raw),
/// `costCpu` (N), `costMemory` (r), `costParallel` (p), `length` (bytes).
fn scrypt_plain(pw: &[u8], stored: &str, options: &Json) -> Option<bool> {
    let salt = opt_str(options, "salt")?;
    let key = scrypt_key(
        pw,
        salt.as_bytes(),
        opt_u32(options, "costCpu")?,
        opt_u32(options, "costMemory")?,
        opt_u32(options, "costParallel")?,
        opt_u32(options, "length")? as usize,
    )?;
    Some(same(hex(&key).as_bytes(), stored.as_bytes()))
}

/// Firebase's modified scrypt: scrypt(password, salt ‖ separator, N=2^14, r=8, p=1, 64 bytes);
/// its first 32 bytes are the AES-256-CTR key (zero IV) that encrypts the signer key; the hash
/// is that ciphertext in base64. Options are base64 `salt`, `saltSeparator`, `signerKey`.
fn scrypt_modified(pw: &[u8], stored: &str, options: &Json) -> Option<bool> {
    let mut salt = STANDARD.decode(opt_str(options, "salt")?).ok()?;
    salt.extend(STANDARD.decode(opt_str(options, "saltSeparator")?).ok()?);
    let mut signer = STANDARD.decode(opt_str(options, "signerKey")?).ok()?;
    let key = scrypt_key(pw, &salt, 16_384, 8, 1, 64)?;
    let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(key[..32].into(), &[0u8; 16].into());
    cipher.apply_keystream(&mut signer);
    Some(same(STANDARD.encode(&signer).as_bytes(), stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Vectors made with Python's hashlib, the `bcrypt` and `passlib` packages and `cryptography`
    // (independent implementations), for the password "correct horse".
    const PW: &str = "correct horse";

    #[test]
    fn md5_and_every_sha_version() {
        assert!(verify(PW, "md5", "3cb4e732631f47e6eb961f34554b7cde", &json!({})));
        let shas = [
            ("sha1", "2f9e53523b62abc141a2b4d6019d23cba835dbd0"),
            ("sha224", "be678ecb0e1e13fd0c1440995f43225ca83aeb66717e8ea790b867f2"),
            ("sha256", "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"),
            ("sha384", "02b20a6f2ebb1360a9a60f4cf90857363ed419c022b121567ce5f91c6e39664fb78fd60234c4a58b5bfc7145ae983292"),
            ("sha512", "56b698defedb5a435b634afe3320bbaf3fdcd920b6c503a446fc7b7a776b298d479d1ba6a8b617808eb0bf579ce9a95d668347bcab7149085ac93cb27995197b"),
            ("sha3-224", "a86d6ad79b1ada74dc73eaee0b17a480bb79df9163137113e201c847"),
            ("sha3-256", "e2bb427c913c99e9663c5d0e97472bd8618656cabbca6274c2743b0ebf107ce3"),
            ("sha3-384", "086571cdbd4d47381eeed0504b77fd55d2adf870ae469676a32885ba33aaecd4927ebd17a8ce6b1bf11dfe84145e7936"),
            ("sha3-512", "c5d05432d6da5971ab7798edf48d294ac28ee4d78ecbf0e1d236df3d12d3e6408462702ea047d0fc46aec01c43d9d403c713df217619da353e0c42399afbc33f"),
        ];
        for (version, hash) in shas {
            assert!(verify(PW, "sha", hash, &json!({ "version": version })), "{version}");
            assert!(!verify("correct horsE", "sha", hash, &json!({ "version": version })), "{version}");
        }
        assert!(!verify(PW, "sha", shas[0].1, &json!({ "version": "sha0" })));
    }

    #[test]
    fn bcrypt_and_phpass() {
        let bcrypt = "$2b$05$70gSeWZ9qOMURvf07vj5luiYg6gwZdqhfSZrsL0Owm98xuAkoup6u";
        assert!(verify(PW, "bcrypt", bcrypt, &json!({})));
        assert!(!verify("wrong", "bcrypt", bcrypt, &json!({})));
        let portable = "$P$6abcdefghRJFCMvnAbZH2hCiFPRxpk.";
        assert!(verify(PW, "phpass", portable, &json!({})));
        assert!(!verify("wrong", "phpass", portable, &json!({})));
        assert!(verify(PW, "phpass", bcrypt, &json!({})), "phpass falls back to bcrypt");
    }

    #[test]
    fn scrypt_and_firebase_scrypt() {
        let options =
            json!({"salt": "appwrite-salt", "costCpu": 16, "costMemory": 8, "costParallel": 1, "length": 32});
        let hash = "b5b06c5ce060e6d48a775ec7be23e5dd7c7c0f5ae3cbd0bc99e4c4f8671d6059";
        assert!(verify(PW, "scrypt", hash, &options));
        assert!(!verify("wrong", "scrypt", hash, &options));
        // Costs past the caps (here 8 GiB of memory) are refused before any work.
        let huge = json!({"salt": "appwrite-salt", "costCpu": 1 << 20, "costMemory": 64, "costParallel": 1, "length": 32});
        assert!(!verify(PW, "scrypt", hash, &huge));
        assert!(!verify(
            PW,
            "scrypt",
            hash,
            &json!({"salt": "x", "costCpu": 15, "costMemory": 8, "costParallel": 1, "length": 32})
        ));
        let firebase = json!({
            "salt": "c2FsdC1zYWx0LXNhbHQ=",
            "saltSeparator": "Bw==",
            "signerKey": "c2lnbmVyLWtleS1zaWduZXIta2V5LXNpZ25lci1rZXktMTI=",
        });
        assert!(verify(PW, "scryptMod", "KqWvUdRk/krOKTQZKemKc1e4Sz0fsr4Ab9yWsT/WweyTgFU=", &firebase));
        assert!(!verify("wrong", "scryptMod", "KqWvUdRk/krOKTQZKemKc1e4Sz0fsr4Ab9yWsT/WweyTgFU=", &firebase));
    }

    /// 34 bytes like a portable hash, with byte 12 inside "é": must not panic on slicing.
    const MULTIBYTE: &str = "$P$6abcdefg\u{e9}RJFCMvnAbZH2hCiFPRxpk";

    #[test]
    fn unknown_algorithms_and_garbage_never_verify() {
        for (algo, stored) in [
            ("plaintext", PW),
            ("bcrypt", "$2b$xx"),
            ("phpass", "$P$"),
            ("phpass", MULTIBYTE),
            ("scryptMod", "x"),
            ("", ""),
        ] {
            assert!(!verify(PW, algo, stored, &json!({"salt": "%%"})), "{algo}");
        }
    }
}
