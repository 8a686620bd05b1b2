//! The Spin component for Databases and TablesDB (`edgewrite-databases`). Routed in `spin.toml`;
//! the caller verification comes from `edgewrite-account`.

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    edgewrite_spin_adapter::serve_http(
        req,
        &[&edgewrite_databases::Databases, &edgewrite_databases::TablesDb, &edgewrite_webhooks::Webhooks],
        Some(&edgewrite_account::AccountAuthenticator),
    )
    .await
}
