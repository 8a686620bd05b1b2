//! The Spin component for the identity domain (`edgewrite-account`: account, users, teams,
//! project keys) and messaging (`edgewrite-messaging`), which sends to users' targets and so
//! lives with them. Routed in `spin.toml`; all logic is in the capability crates and
//! `edgewrite-spin-adapter`.

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
            &edgewrite_account::ProjectOAuth2,
            &edgewrite_messaging::Messaging,
            &edgewrite_webhooks::Webhooks,
            &edgewrite_presences::Presences,
        ],
        Some(&edgewrite_account::AccountAuthenticator),
    )
    .await
}
