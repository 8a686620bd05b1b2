//! The `Kv` port over a Spin key-value store (`spin:key-value@3.0.0`).
//!
//! Spin's store has no expiry, so every value carries its own: 8 bytes of big-endian
//! milliseconds since the epoch (0 = never) before the value. Expired values read as absent and
//! are deleted when read; one never read again stays until overwritten, which is acceptable for
//! a cache but means callers should keep their key space bounded (Fermyon Cloud caps a store at
//! 1,024 keys).

use std::cell::RefCell;
use std::rc::Rc;

use async_trait::async_trait;
use edgewrite_core::ports::{Clock, Kv, StoreError};
use spin_sdk::key_value::{self, Store};

use crate::SystemClock;

const HEADER: usize = 8;

fn kv_error(e: key_value::Error) -> StoreError {
    StoreError::Unavailable(format!("spin key-value: {e:?}"))
}

/// What a stored value decodes to.
#[derive(Debug, PartialEq)]
enum Stored {
    Live(Vec<u8>),
    Expired,
    /// Shorter than the header: not written by this adapter.
    Foreign,
}

fn encode(value: &[u8], expires_at_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + value.len());
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(mut raw: Vec<u8>, now_ms: u64) -> Stored {
    let Some(header) = raw.get(..HEADER).and_then(|h| <[u8; HEADER]>::try_from(h).ok()) else {
        return Stored::Foreign;
    };
    let expires_at = u64::from_be_bytes(header);
    if expires_at != 0 && expires_at <= now_ms {
        return Stored::Expired;
    }
    raw.drain(..HEADER);
    Stored::Live(raw)
}

fn now_ms() -> u64 {
    u64::try_from(SystemClock.now_ms()).unwrap_or(0)
}

/// One project's view of a Spin key-value store: keys are prefixed with `<project>:`, as on
/// Cloudflare, so projects sharing the app's store never read each other's cache.
pub struct SpinKv {
    label: String,
    prefix: String,
    /// Opened on first use: most requests never touch the cache, and a component without
    /// `key_value_stores` access then still serves everything else.
    store: RefCell<Option<Rc<Store>>>,
}

impl SpinKv {
    pub fn new(label: &str, project: &str) -> SpinKv {
        SpinKv { label: label.to_string(), prefix: format!("{project}:"), store: RefCell::new(None) }
    }

    async fn store(&self) -> Result<Rc<Store>, StoreError> {
        if let Some(store) = self.store.borrow().as_ref() {
            return Ok(store.clone());
        }
        let store = Rc::new(Store::open(&self.label).await.map_err(kv_error)?);
        // A concurrent first use may have opened one too; either handle works.
        *self.store.borrow_mut() = Some(store.clone());
        Ok(store)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait(?Send)]
impl Kv for SpinKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let store = self.store().await?;
        let key = self.key(key);
        let Some(raw) = store.get(&key).await.map_err(kv_error)? else {
            return Ok(None);
        };
        match decode(raw, now_ms()) {
            Stored::Live(value) => Ok(Some(value)),
            Stored::Expired => {
                // Best effort: the value is absent either way.
                if let Err(e) = store.delete(&key).await {
                    tracing::debug!(error = ?e, "deleting an expired cache entry");
                }
                Ok(None)
            }
            Stored::Foreign => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_secs: Option<u32>) -> Result<(), StoreError> {
        let expires_at = ttl_secs.map_or(0, |ttl| now_ms().saturating_add(u64::from(ttl) * 1000));
        let store = self.store().await?;
        store.set(self.key(key), encode(&value, expires_at)).await.map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store().await?.delete(self.key(key)).await.map_err(kv_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_their_expiry() {
        assert_eq!(decode(encode(b"v", 0), 5), Stored::Live(b"v".to_vec()));
        assert_eq!(decode(encode(b"", 0), 5), Stored::Live(Vec::new()));
        assert_eq!(decode(encode(b"v", 10), 9), Stored::Live(b"v".to_vec()));
        assert_eq!(decode(encode(b"v", 10), 10), Stored::Expired);
        assert_eq!(decode(encode(b"v", 10), 11), Stored::Expired);
        assert_eq!(decode(b"short".to_vec(), 0), Stored::Foreign);
    }
}
