//! Target `content_range`: the `Content-Range` of a chunked upload's part
//! (`edgewrite_core::upload::part_of`).
//!
//! Input: the header's value on the first line (a first line of `-` sends none), and on the
//! second the number of bytes the request carries; without a second line, the number the
//! range names (so that well-formed ranges are mostly consistent ones).
//!
//! Properties: never panics; a part is accepted exactly when the header is
//! `bytes <start>-<end>/<size>` (decimal `u64`s) naming the bytes sent, on a chunk boundary, a
//! whole chunk unless it is the last; the accepted part's index and count follow from the range.

use edgewrite_core::http::{Method, Request};
use edgewrite_core::upload::{part_of, Part, CHUNK_SIZE};

use crate::Target;

pub const TARGET: Target = Target {
    name: "content_range",
    run,
    dictionary: &["bytes ", "-", "/", "*", "bytes=", " ", "\t"],
    max_len: 512,
};

fn run(input: &[u8]) {
    let lines = super::lines(input);
    let header = lines.first().map(String::as_str).unwrap_or_default();
    let range = reference(header);
    let len = match lines.get(1) {
        Some(line) => line.trim().parse::<u64>().unwrap_or(0),
        None => range.map_or(0, |(start, end, _)| end.wrapping_sub(start).wrapping_add(1)),
    };
    let Ok(mut req) = Request::from_url(Method::Post, "http://h/v1/storage/buckets/b/files") else { return };
    if header != "-" {
        req.headers.set("content-range", header);
    }
    let part = part_of(&req, len);
    if header == "-" {
        assert_eq!(part, Some(Part { size: len, index: 0, total: 1, chunked: false }));
        return;
    }
    let expected = range.and_then(|(start, end, size)| {
        let sent = end.checked_sub(start)?.checked_add(1)?;
        let whole_chunk = CHUNK_SIZE.min(size - start.min(size));
        (start < size && start % CHUNK_SIZE == 0 && sent == len && len == whole_chunk).then(|| Part {
            size,
            index: (start / CHUNK_SIZE) as i64,
            total: size.div_ceil(CHUNK_SIZE) as i64,
            chunked: true,
        })
    });
    assert_eq!(part, expected, "Content-Range {header:?} with {len} bytes");
    if let Some(part) = part {
        assert!(part.index < part.total && part.total >= 1);
    }
}

/// `bytes <start>-<end>/<size>`, read independently of the parser under test.
pub(crate) fn reference(header: &str) -> Option<(u64, u64, u64)> {
    let rest = header.trim().strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()
    };
    Some((number(start)?, number(end)?, number(size)?))
}
