//! Appwrite's Functions (`/v1/functions`; `appwrite-api.md` §8.1): functions and their
//! variables, deployments uploaded through the SDKs' chunked upload, and executions run by an
//! embedded WebAssembly interpreter inside the request (or a queued job), never in a container.
//!
//! A deployment is a WASI preview-1 module (or a `.tar.gz` holding one). The function ABI
//! (README, "Functions"): the request arrives on standard input as JSON, the response leaves on
//! standard output as JSON, `edgewrite::log` and standard error become `logs` and `errors`, and
//! `edgewrite::fetch` reaches the project's own API with the execution's short-lived key.

mod abi;
mod deployments;
mod executions;
mod functions;
mod runner;
mod schedule;
mod triggers;
mod variables;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::ports::Event;
use edgewrite_core::{AppwriteError, Capability, Ctx, Response, Route};

pub use runner::{check as check_module, BuildError};

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

/// Functions, variables, deployments and executions.
pub struct Functions;

static ROUTES: &[Route] = &[
    route(Method::Get, "/v1/functions", "functions.read", "functions.list"),
    route(Method::Post, "/v1/functions", "functions.write", "functions.create"),
    route(Method::Get, "/v1/functions/runtimes", "functions.read", "functions.runtimes"),
    route(Method::Get, "/v1/functions/specifications", "functions.read", "functions.specifications"),
    // Appwrite's starter templates (from its GitHub repositories): edgewrite's catalogue is
    // empty, documented in the README.
    route(Method::Get, "/v1/functions/templates", "public", "functions.templates.list"),
    route(Method::Get, "/v1/functions/templates/{templateId}", "public", "functions.templates.get"),
    route(Method::Get, "/v1/functions/{functionId}", "functions.read", "functions.get"),
    route(Method::Put, "/v1/functions/{functionId}", "functions.write", "functions.update"),
    route(Method::Delete, "/v1/functions/{functionId}", "functions.write", "functions.delete"),
    route(Method::Patch, "/v1/functions/{functionId}/deployment", "functions.write", "functions.activate"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(
        Method::Patch,
        "/v1/functions/{functionId}/system-fields",
        "migrations.write",
        "functions.system_fields",
    ),
    route(
        Method::Patch,
        "/v1/functions/{functionId}/deployments/{deploymentId}/system-fields",
        "migrations.write",
        "deployments.system_fields",
    ),
    route(Method::Get, "/v1/functions/{functionId}/deployments", "functions.read", "deployments.list"),
    route(Method::Post, "/v1/functions/{functionId}/deployments", "functions.write", "deployments.create"),
    route(
        Method::Post,
        "/v1/functions/{functionId}/deployments/duplicate",
        "functions.write",
        "deployments.duplicate",
    ),
    route(
        Method::Get,
        "/v1/functions/{functionId}/deployments/{deploymentId}",
        "functions.read",
        "deployments.get",
    ),
    route(
        Method::Delete,
        "/v1/functions/{functionId}/deployments/{deploymentId}",
        "functions.write",
        "deployments.delete",
    ),
    route(
        Method::Get,
        "/v1/functions/{functionId}/deployments/{deploymentId}/download",
        "functions.read",
        "deployments.download",
    ),
    route(
        Method::Patch,
        "/v1/functions/{functionId}/deployments/{deploymentId}/status",
        "functions.write",
        "deployments.status",
    ),
    route(Method::Get, "/v1/functions/{functionId}/executions", "execution.read", "executions.list"),
    route(Method::Post, "/v1/functions/{functionId}/executions", "execution.write", "executions.create"),
    route(
        Method::Get,
        "/v1/functions/{functionId}/executions/{executionId}",
        "execution.read",
        "executions.get",
    ),
    route(
        Method::Delete,
        "/v1/functions/{functionId}/executions/{executionId}",
        "execution.write",
        "executions.delete",
    ),
    route(Method::Get, "/v1/functions/{functionId}/variables", "functions.read", "variables.list"),
    route(Method::Post, "/v1/functions/{functionId}/variables", "functions.write", "variables.create"),
    route(
        Method::Get,
        "/v1/functions/{functionId}/variables/{variableId}",
        "functions.read",
        "variables.get",
    ),
    route(
        Method::Put,
        "/v1/functions/{functionId}/variables/{variableId}",
        "functions.write",
        "variables.update",
    ),
    route(
        Method::Delete,
        "/v1/functions/{functionId}/variables/{variableId}",
        "functions.write",
        "variables.delete",
    ),
];

#[async_trait(?Send)]
impl Capability for Functions {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let result = match route.name {
            "functions.list" => functions::list(ctx).await,
            "functions.create" => functions::create(ctx).await,
            "functions.runtimes" => Ok(functions::runtimes()),
            "functions.templates.list" => {
                Ok(Response::json(200, &serde_json::json!({"total": 0, "templates": []})))
            }
            "functions.templates.get" => Err(edgewrite_core::ErrorType::FunctionTemplateNotFound.into()),
            "functions.specifications" => Ok(functions::specifications(ctx)),
            "functions.get" => functions::get(ctx).await,
            "functions.update" => functions::update(ctx).await,
            "functions.delete" => functions::delete(ctx).await,
            "functions.activate" => deployments::activate(ctx).await,
            "functions.system_fields" => functions::restore(ctx).await,
            "deployments.system_fields" => deployments::restore(ctx).await,
            "deployments.list" => deployments::list(ctx).await,
            "deployments.create" => deployments::create(ctx).await,
            "deployments.duplicate" => deployments::duplicate(ctx).await,
            "deployments.get" => deployments::get(ctx).await,
            "deployments.delete" => deployments::delete(ctx).await,
            "deployments.download" => deployments::download(ctx).await,
            "deployments.status" => deployments::cancel(ctx).await,
            "executions.list" => executions::list(ctx).await,
            "executions.create" => executions::create(ctx).await,
            "executions.get" => executions::get(ctx).await,
            "executions.delete" => executions::delete(ctx).await,
            "variables.list" => variables::list(ctx).await,
            "variables.create" => variables::create(ctx).await,
            "variables.get" => variables::get(ctx).await,
            "variables.update" => variables::update(ctx).await,
            "variables.delete" => variables::delete(ctx).await,
            _ => Err(edgewrite_core::ErrorType::GeneralRouteNotFound.into()),
        };
        // A change to a function or its deployments may change which events start it.
        if route.method != Method::Get && !route.name.starts_with("executions.") {
            triggers::forget_triggers(ctx);
        }
        result
    }

    async fn run_job(&self, kind: &str, ctx: &Ctx<'_>) -> Result<bool, AppwriteError> {
        match kind {
            triggers::EXECUTION_JOB => triggers::run_queued(ctx).await.map(|()| true),
            triggers::TICK_JOB => triggers::tick(ctx).await.map(|()| true),
            _ => Ok(false),
        }
    }

    async fn committed(&self, ctx: &Ctx<'_>, events: &[Event]) {
        triggers::committed(ctx, events).await;
    }
}
