//! One module per parser under test. Each reads its input as the format its corpus files use
//! (described in its module doc) and states the properties it checks.

pub mod content_range;
pub mod cookies;
pub mod jwt;
pub mod params;
pub mod permissions;
pub mod query;
pub mod realtime;
pub mod upload;

/// The input as lines of text (invalid UTF-8 replaced), the shape most corpora use.
fn lines(input: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(input)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect()
}
