//! The Spin component for the identity domain (`edgewrite-account`: account, users, teams,
//! project keys). Routed in
//! `spin.toml`; all logic is in the capability crate and `edgewrite-spin-adapter`.

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    edgewrite_spin_adapter::serve_http(
        req,
        &[
            &edgewrite_account::Account,
            &edgewrite_account::Users,
            &edgewrite_account::Teams,
            &edgewrite_account::ProjectKeys,
        ],
        Some(&edgewrite_account::AccountAuthenticator),
    )
    .await
}
