//! The Spin component for Functions (`edgewrite-functions`). Routed in `spin.toml` for
//! `/v1/functions`; it also links the account, databases and storage capabilities, because a
//! function's `fetch` to its project's API is served by this component's own pipeline (no
//! network), and that API must be all there. Spin has no queue: asynchronous executions run
//! before the 202 answer.

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    edgewrite_spin_adapter::serve_http(
        req,
        &[
            &edgewrite_webhooks::Webhooks,
            &edgewrite_functions::Functions,
            &edgewrite_account::Account,
            &edgewrite_account::Users,
            &edgewrite_account::Teams,
            &edgewrite_account::ProjectKeys,
            &edgewrite_databases::Databases,
            &edgewrite_databases::TablesDb,
            &edgewrite_storage::Storage,
        ],
        Some(&edgewrite_account::AccountAuthenticator),
    )
    .await
}
