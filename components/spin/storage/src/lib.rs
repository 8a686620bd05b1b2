//! The Spin component for Storage (`edgewrite-storage`). Routed in `spin.toml`; the caller
//! verification comes from `edgewrite-account`. File chunks live in the component's SQLite
//! (the adapter's chunked blob store).

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    edgewrite_spin_adapter::serve_http(
        req,
        &[&edgewrite_storage::Storage, &edgewrite_webhooks::Webhooks],
        Some(&edgewrite_account::AccountAuthenticator),
    )
    .await
}
