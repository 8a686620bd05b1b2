//! Explicit request limits (documented in the README's "Limits" table).

/// Bounds every request is held to before any capability code runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted, in bytes (`EDGEWRITE_MAX_BODY_BYTES`). Uploads arrive in
    /// 5 MiB chunks plus form overhead, so the default leaves room for one chunk.
    pub max_body_bytes: usize,
    /// Most items in one array parameter (Appwrite: 100).
    pub max_array_items: usize,
    /// Largest page a list endpoint returns (`limit` query).
    pub max_page_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_body_bytes: 6 * 1024 * 1024, max_array_items: 100, max_page_size: 5000 }
    }
}
