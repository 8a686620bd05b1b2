//! The SDKs' chunked upload (`appwrite-api.md`, "chunked upload"): files and deployments over
//! 5 MiB arrive as 5 MiB parts, each with `Content-Range`, and every part after the first
//! names the upload with `x-appwrite-id`.

use crate::http::Request;

/// The size of every part but the last.
pub const CHUNK_SIZE: u64 = 5 * 1024 * 1024;

/// Where one request's bytes sit in the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The whole upload's size.
    pub size: u64,
    /// This part's index.
    pub index: i64,
    /// How many parts the upload has.
    pub total: i64,
    /// Whether the request came with `Content-Range` (a whole-file request did not).
    pub chunked: bool,
}

/// The part `req` carries, holding `len` bytes; `None` when its `Content-Range` is malformed or
/// names bytes other than the ones sent.
pub fn part_of(req: &Request, len: u64) -> Option<Part> {
    let Some(header) = req.header("content-range") else {
        return Some(Part { size: len, index: 0, total: 1, chunked: false });
    };
    let (start, end, size) = content_range(header)?;
    // Every part but the last is exactly CHUNK_SIZE, at a multiple of it, and the part holds
    // exactly the bytes the range names.
    let expected = CHUNK_SIZE.min(size.saturating_sub(start));
    // `end - start` cannot underflow once `end >= start`; `+ 1` can overflow (`end` = u64::MAX).
    if start >= size
        || end < start
        || (end - start).checked_add(1) != Some(len)
        || start % CHUNK_SIZE != 0
        || len != expected
    {
        return None;
    }
    Some(Part {
        size,
        index: (start / CHUNK_SIZE) as i64,
        total: size.div_ceil(CHUNK_SIZE).max(1) as i64,
        chunked: true,
    })
}

/// `Content-Range: bytes <start>-<end>/<size>` (end inclusive).
fn content_range(header: &str) -> Option<(u64, u64, u64)> {
    let rest = header.trim().strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let digits = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten()
    };
    Some((digits(start)?, digits(end)?, digits(size)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    #[test]
    fn content_ranges_parse_strictly() {
        assert_eq!(content_range("bytes 0-5242879/6291456"), Some((0, 5242879, 6291456)));
        assert_eq!(content_range("bytes 5242880-6291455/6291456"), Some((5242880, 6291455, 6291456)));
        for bad in ["bytes 0-/10", "bytes -1-5/10", "bytes 0-5", "items 0-5/10", "bytes 0-5/1e3", ""] {
            assert_eq!(content_range(bad), None, "{bad}");
        }
    }

    fn with_range(range: &str) -> Request {
        let mut req = Request::from_url(Method::Post, "http://h/v1/x").unwrap();
        req.headers.set("content-range", range);
        req
    }

    #[test]
    fn parts_must_sit_on_chunk_boundaries() {
        let whole = Request::from_url(Method::Post, "http://h/v1/x").unwrap();
        assert_eq!(part_of(&whole, 10), Some(Part { size: 10, index: 0, total: 1, chunked: false }));
        let second = with_range("bytes 5242880-6291455/6291456");
        assert_eq!(
            part_of(&second, 1048576),
            Some(Part { size: 6291456, index: 1, total: 2, chunked: true })
        );
        assert_eq!(part_of(&second, 10), None, "length differs from the range");
        assert_eq!(part_of(&with_range("bytes 10-19/30"), 10), None, "not on a boundary");
        // Found by the fuzzer (`components/fuzz/corpus/content_range/crash-5a06ef3e4c2ff53a`).
        assert_eq!(part_of(&with_range("bytes 0-18446744073709551615/10"), 10), None, "no overflow");
    }
}
