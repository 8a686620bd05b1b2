//! The `Blobs` port as chunks in SQLite (`_edgewrite_blob_chunks`, migration 2 of
//! `edgewrite-sql`): Spin has no blob store. Written over the `Sql` port only, so the native
//! tests exercise exactly this code on rusqlite.
//!
//! A blob is rows `(key, idx, data)`, `idx` from 0, every chunk but the last exactly
//! [`CHUNK_BYTES`] long. A present blob always has chunk 0 (possibly empty), which is how
//! "empty" differs from "absent".

use async_trait::async_trait;
use edgewrite_core::ports::{Blobs, ByteRange, Sql, Statement, StoreError, Value};

/// Chunk size: small enough that a range read of a large file fetches little more than it
/// returns, large enough that a file is few rows.
pub const CHUNK_BYTES: usize = 512 * 1024;

const SELECT_CHUNKS: &str = "SELECT idx, CASE WHEN idx BETWEEN ?2 AND ?3 THEN data END AS data \
     FROM _edgewrite_blob_chunks WHERE key = ?1 AND (idx BETWEEN ?2 AND ?3 OR idx = 0) ORDER BY idx";

/// Blobs stored in chunks through a [`Sql`] port.
pub struct SqlBlobs<S> {
    sql: S,
    chunk: usize,
}

impl<S: Sql> SqlBlobs<S> {
    pub fn new(sql: S) -> Self {
        Self::with_chunk_size(sql, CHUNK_BYTES)
    }

    /// A store with another chunk size (tests use tiny chunks to cross boundaries). Blobs must
    /// be read with the chunk size they were written with.
    pub fn with_chunk_size(sql: S, chunk: usize) -> Self {
        Self { sql, chunk: chunk.max(1) }
    }
}

/// The chunk indices `first..=last` that hold `range` (an empty span when none does).
fn chunk_span(range: Option<ByteRange>, chunk: u64) -> (u64, u64) {
    match range {
        None => (0, u64::MAX),
        Some(r) if r.end > r.start => (r.start / chunk, (r.end - 1) / chunk),
        // Nothing to read: only whether the blob exists matters.
        Some(_) => (1, 0),
    }
}

fn to_param(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn corrupt(key: &str, what: &str) -> StoreError {
    StoreError::Unavailable(format!("blob {key:?} is corrupt: {what}"))
}

#[async_trait(?Send)]
impl<S: Sql> Blobs for SqlBlobs<S> {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        // Old chunks go in the same transaction: a shorter new blob must not keep a stale tail,
        // and a failed put leaves the old blob whole.
        let mut batch =
            vec![Statement::new("DELETE FROM _edgewrite_blob_chunks WHERE key = ?", vec![key.into()])];
        let empty: &[u8] = &[];
        let chunks: Vec<&[u8]> =
            if bytes.is_empty() { vec![empty] } else { bytes.chunks(self.chunk).collect() };
        for (idx, data) in chunks.into_iter().enumerate() {
            batch.push(Statement::new(
                "INSERT INTO _edgewrite_blob_chunks (key, idx, data) VALUES (?, ?, ?)",
                vec![key.into(), to_param(idx as u64), Value::Blob(data.to_vec())],
            ));
        }
        self.sql.batch(batch).await.map(drop)
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        let chunk = self.chunk as u64;
        let (first, last) = chunk_span(range, chunk);
        // One statement, so presence and data come from one snapshot: the chunks in the span,
        // plus chunk 0 without its data as the presence marker when the span misses it.
        let rows = self
            .sql
            .query(Statement::new(SELECT_CHUNKS, vec![key.into(), to_param(first), to_param(last)]))
            .await?;
        if rows.rows.is_empty() {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        let mut next = first;
        for row in &rows.rows {
            match (row.first().and_then(Value::as_i64), row.get(1)) {
                (Some(_), Some(Value::Null)) => {}
                (Some(idx), Some(Value::Blob(data))) if u64::try_from(idx).ok() == Some(next) => {
                    bytes.extend_from_slice(data);
                    next += 1;
                }
                (Some(idx), Some(Value::Blob(_))) => {
                    return Err(corrupt(key, &format!("chunk {next} missing before {idx}")))
                }
                _ => return Err(corrupt(key, "unexpected row shape")),
            }
        }
        let Some(range) = range else {
            return Ok(Some(bytes));
        };
        // `bytes` starts at the first chunk of the span; clamp the range to what exists.
        let base = first.saturating_mul(chunk);
        let len = bytes.len();
        let end = usize::try_from(range.end.saturating_sub(base)).unwrap_or(usize::MAX).min(len);
        let start = usize::try_from(range.start.saturating_sub(base)).unwrap_or(usize::MAX).min(end);
        bytes.truncate(end);
        bytes.drain(..start);
        Ok(Some(bytes))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.sql
            .query(Statement::new("DELETE FROM _edgewrite_blob_chunks WHERE key = ?", vec![key.into()]))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewrite_native::NativeSql;
    use futures_executor::block_on;

    fn store(chunk: usize) -> SqlBlobs<NativeSql> {
        let sql = NativeSql::in_memory();
        block_on(edgewrite_sql::migrate(&sql, 0)).expect("migrations apply");
        SqlBlobs::with_chunk_size(sql, chunk)
    }

    fn range(start: u64, end: u64) -> Option<ByteRange> {
        Some(ByteRange { start, end })
    }

    #[test]
    fn ranges_across_chunks_read_and_clamp() {
        let blobs = store(7);
        let data: Vec<u8> = (0..50u8).collect();
        block_on(blobs.put("k", data.clone())).unwrap();
        let get = |r| block_on(blobs.get("k", r)).unwrap();
        assert_eq!(get(None).as_deref(), Some(&data[..]));
        for (s, e) in [(0, 50), (3, 4), (6, 8), (7, 14), (13, 29), (0, 1), (49, 50), (20, 1000)] {
            let want = &data[(s as usize).min(50)..(e as usize).min(50)];
            assert_eq!(get(range(s, e)).as_deref(), Some(want), "range {s}..{e}");
        }
        assert_eq!(get(range(50, 60)).as_deref(), Some(&[][..]), "past the end");
        assert_eq!(get(range(500, 600)).as_deref(), Some(&[][..]), "far past the end");
        assert_eq!(get(range(9, 9)).as_deref(), Some(&[][..]), "empty range");
        assert_eq!(get(range(9, 3)).as_deref(), Some(&[][..]), "reversed range");
    }

    #[test]
    fn empty_blobs_exist_and_overwrites_drop_the_old_tail() {
        let blobs = store(4);
        assert_eq!(block_on(blobs.get("k", None)).unwrap(), None);
        assert_eq!(block_on(blobs.get("k", range(0, 1))).unwrap(), None);
        block_on(blobs.put("k", Vec::new())).unwrap();
        assert_eq!(block_on(blobs.get("k", None)).unwrap(), Some(Vec::new()));
        assert_eq!(block_on(blobs.get("k", range(0, 10))).unwrap(), Some(Vec::new()));
        block_on(blobs.put("k", vec![1; 30])).unwrap();
        block_on(blobs.put("k", vec![2; 5])).unwrap();
        assert_eq!(block_on(blobs.get("k", None)).unwrap(), Some(vec![2; 5]));
        block_on(blobs.delete("k")).unwrap();
        block_on(blobs.delete("k")).unwrap();
        assert_eq!(block_on(blobs.get("k", None)).unwrap(), None);
    }

    #[test]
    fn keys_do_not_leak_into_each_other() {
        let blobs = store(4);
        block_on(blobs.put("a", vec![1; 9])).unwrap();
        block_on(blobs.put("a/b", vec![2; 3])).unwrap();
        block_on(blobs.delete("a/b")).unwrap();
        assert_eq!(block_on(blobs.get("a", None)).unwrap(), Some(vec![1; 9]));
    }

    #[test]
    fn ranges_span_full_size_chunks() {
        let blobs = store(CHUNK_BYTES);
        let data: Vec<u8> = (0..(CHUNK_BYTES * 2 + 10)).map(|i| (i % 251) as u8).collect();
        block_on(blobs.put("big", data.clone())).unwrap();
        let s = CHUNK_BYTES as u64 - 3;
        let got = block_on(blobs.get("big", range(s, s + CHUNK_BYTES as u64 + 6))).unwrap();
        assert_eq!(got.as_deref(), Some(&data[s as usize..s as usize + CHUNK_BYTES + 6]));
    }
}
