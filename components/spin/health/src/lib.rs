//! The Spin component for Appwrite's ping and health endpoints (`edgewrite-health`), plus the
//! port conformance route (answers only when `edgewrite_test_routes` is `1`). Routed in
//! `spin.toml`; all logic is in the capability crates and `edgewrite-spin-adapter`.

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    edgewrite_spin_adapter::serve_http(
        req,
        &[
            &edgewrite_health::Health,
            &edgewrite_locale::Locale,
            &edgewrite_avatars::Avatars,
            &edgewrite_conformance::TestRoutes,
            &edgewrite_realtime::Realtime,
        ],
        Some(&edgewrite_account::AccountAuthenticator),
    )
    .await
}
