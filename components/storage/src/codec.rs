//! How a bucket stores a chunk: compressed (gzip or zstd) and/or encrypted (AES-256-GCM), as
//! Appwrite does for files up to 20 MB; larger files are stored as they came, so they can be
//! streamed and served in ranges without decoding.

use std::io::{Read, Write};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

/// Files up to this size are compressed and encrypted when their bucket asks for it.
pub const TRANSFORM_LIMIT: u64 = 20_000_000;
const NONCE_LEN: usize = 12;

/// What was done to a stored chunk, to be undone on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec<'k> {
    /// `none`, `gzip` or `zstd`.
    pub compression: &'k str,
    /// The AES-256 key, when encrypted.
    pub key: Option<&'k [u8; 32]>,
}

impl Codec<'_> {
    pub fn is_plain(&self) -> bool {
        self.compression == "none" && self.key.is_none()
    }

    /// The stored form of `chunk`; `nonce` is 12 fresh random bytes; `aad` names where it is
    /// stored (its blob key), so a chunk moved elsewhere fails authentication.
    pub fn encode(&self, chunk: &[u8], nonce: [u8; NONCE_LEN], aad: &str) -> Result<Vec<u8>, String> {
        let compressed = match self.compression {
            "gzip" => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(chunk).map_err(|e| e.to_string())?;
                encoder.finish().map_err(|e| e.to_string())?
            }
            "zstd" => ruzstd::encoding::compress_to_vec(chunk, ruzstd::encoding::CompressionLevel::Fastest),
            _ => chunk.to_vec(),
        };
        let Some(key) = self.key else { return Ok(compressed) };
        let cipher = Aes256Gcm::new(key.into());
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: compressed.as_slice(), aad: aad.as_bytes() })
            .map_err(|_| "encryption failed".to_string())?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The original bytes of a stored chunk; `Err` when it was tampered with, moved or is
    /// corrupt.
    pub fn decode(&self, stored: &[u8], aad: &str) -> Result<Vec<u8>, String> {
        let opened = match self.key {
            Some(key) => {
                if stored.len() < NONCE_LEN {
                    return Err("stored chunk too short".into());
                }
                let (nonce, sealed) = stored.split_at(NONCE_LEN);
                Aes256Gcm::new(key.into())
                    .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
                    .map_err(|_| "stored chunk failed authentication".to_string())?
            }
            None => stored.to_vec(),
        };
        match self.compression {
            "gzip" => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(opened.as_slice())
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                Ok(out)
            }
            "zstd" => {
                let mut out = Vec::new();
                ruzstd::decoding::StreamingDecoder::new(opened.as_slice())
                    .map_err(|e| e.to_string())?
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                Ok(out)
            }
            _ => Ok(opened),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_and_encryption_hides_the_bytes() {
        let key = [7u8; 32];
        let data: Vec<u8> = b"edgewrite stores files ".iter().cycle().take(100_000).copied().collect();
        for compression in ["none", "gzip", "zstd"] {
            for key in [None, Some(&key)] {
                let codec = Codec { compression, key };
                let stored = codec.encode(&data, [1; 12], "files/a/0").unwrap();
                assert_eq!(
                    codec.decode(&stored, "files/a/0").unwrap(),
                    data,
                    "{compression} {}",
                    key.is_some()
                );
                if compression != "none" {
                    assert!(stored.len() < data.len() / 10, "{compression} compresses");
                }
                if key.is_some() {
                    assert!(!stored.windows(9).any(|w| w == b"edgewrite"), "no plaintext at rest");
                    let mut tampered = stored.clone();
                    let last = tampered.len() - 1;
                    tampered[last] ^= 1;
                    assert!(codec.decode(&tampered, "files/a/0").is_err(), "tampering is detected");
                    assert!(codec.decode(&stored, "files/b/0").is_err(), "a moved chunk is detected");
                }
            }
        }
    }
}
