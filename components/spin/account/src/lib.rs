//! The Spin component for Appwrite's Account service (`edgewrite-account`). Routed in
//! `spin.toml`; all logic is in the capability crate and `edgewrite-spin-adapter`.

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    edgewrite_spin_adapter::serve_http(
        req,
        &[&edgewrite_account::Account],
        Some(&edgewrite_account::AccountSessions),
    )
    .await
}
