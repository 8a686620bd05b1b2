//! The request pipeline every adapter calls: limits → CORS → route → project → parameters →
//! caller → scope → capability, with every failure rendered as an Appwrite error.

use async_trait::async_trait;

use crate::config::Config;
use crate::cors;
use crate::error::{AppwriteError, ErrorType};
use crate::faults;
use crate::http::{Method, Request, Response};
use crate::identity::{verify_bootstrap_key, Authenticator, Caller, Credentials};
use crate::params::Params;
use crate::ports::{
    Blobs, Clock, Event, Events, Inline, Job, Jobs, Kv, NoJobs, Offload, Outbound, Ports, Random, Secrets,
    Sql, StoreError,
};
use crate::router::{self, Capability, Ctx, LocalApi, Match};

/// A project's stores, opened by the runtime adapter (they may borrow from it).
pub struct ProjectStores<'a> {
    pub sql: Box<dyn Sql + 'a>,
    pub blobs: Box<dyn Blobs + 'a>,
    pub kv: Box<dyn Kv + 'a>,
    pub events: Box<dyn Events + 'a>,
}

/// What an adapter provides: the platform-wide ports and a way to open one project's stores.
#[async_trait(?Send)]
pub trait Runtime {
    fn secrets(&self) -> &dyn Secrets;
    fn clock(&self) -> &dyn Clock;
    fn random(&self) -> &dyn Random;
    fn outbound(&self) -> &dyn Outbound;
    /// The job queue; without one, work meant for later runs at once.
    fn jobs(&self) -> &dyn Jobs {
        &NoJobs
    }
    /// Where CPU-heavy tasks run; by default where the request is served.
    fn offload(&self) -> &dyn Offload {
        &Inline
    }
    /// Opens the stores of `project` (a project the configuration serves), with the system
    /// tables migrated.
    async fn open_project<'s>(&'s self, project: &str) -> Result<ProjectStores<'s>, StoreError>;
}

/// Routes a session still waiting for its second factor may call (Appwrite's list): end the
/// session, see the factors, and create and answer a challenge.
const MFA_EXEMPT_ROUTES: &[&str] =
    &["sessions.delete", "mfa.factors", "mfa.challenge.create", "mfa.challenge.update"];

/// Stand-in stores for routes that need no project (and for work that needs only some stores,
/// such as a realtime session check inside the project's object): every call is refused.
pub struct NoProject;

fn no_project() -> StoreError {
    StoreError::Unavailable("this store is not available here".into())
}

#[async_trait(?Send)]
impl Sql for NoProject {
    async fn batch(&self, _: Vec<crate::ports::Statement>) -> Result<Vec<crate::ports::Rows>, StoreError> {
        Err(no_project())
    }
}
#[async_trait(?Send)]
impl Blobs for NoProject {
    async fn put(&self, _: &str, _: Vec<u8>) -> Result<(), StoreError> {
        Err(no_project())
    }
    async fn get(&self, _: &str, _: Option<crate::ports::ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        Err(no_project())
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Err(no_project())
    }
}
#[async_trait(?Send)]
impl Kv for NoProject {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(no_project())
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: Option<u32>) -> Result<(), StoreError> {
        Err(no_project())
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Err(no_project())
    }
}
#[async_trait(?Send)]
impl Events for NoProject {
    async fn publish(&self, _: Option<i64>, _: Vec<crate::ports::Event>) -> Result<(), StoreError> {
        Err(no_project())
    }
}

/// The error for a body over [`crate::Limits::max_body_bytes`]; adapters answer it before reading
/// an oversized body at all.
pub fn body_too_large(limit: usize) -> AppwriteError {
    AppwriteError::new(
        ErrorType::GeneralPayloadTooLarge,
        format!("Request body is larger than the {limit} bytes this server accepts."),
    )
}

/// The checks every adapter runs before reading a request body: a method edgewrite serves (else
/// the JSON 404) and a declared `Content-Length` within the limit (else 413), so an oversized
/// body is refused before a byte of it is read. `Ok(Some(limit))`: read the body, stopping past
/// `limit` bytes (then answer [`too_large`]); `Ok(None)`: the method carries no body.
pub fn body_limit(req: &Request, method_known: bool, config: &Config) -> Result<Option<usize>, Response> {
    if !method_known {
        return Err(reject(req, config, &ErrorType::GeneralRouteNotFound.into()));
    }
    let limit = config.limits.max_body_bytes;
    if declared_length(req).is_some_and(|n| n > limit as u64) {
        return Err(too_large(req, config));
    }
    Ok((!matches!(req.method, Method::Get | Method::Head | Method::Options)).then_some(limit))
}

/// The body length the client declared (`Content-Length`), when it is a number.
pub fn declared_length(req: &Request) -> Option<u64> {
    req.header("content-length").and_then(|v| v.trim().parse::<u64>().ok())
}

/// The answer to a body past the limit.
pub fn too_large(req: &Request, config: &Config) -> Response {
    reject(req, config, &body_too_large(config.limits.max_body_bytes))
}

/// The answer to a body the platform failed to deliver.
pub fn unreadable_body(req: &Request, config: &Config) -> Response {
    reject(
        req,
        config,
        &AppwriteError::new(ErrorType::GeneralBadRequest, "The request body could not be read."),
    )
}

/// Answers an error with CORS headers, for adapters that refuse a request before [`serve`].
pub fn reject(req: &Request, config: &Config, err: &AppwriteError) -> Response {
    let mut response = Response::error(err);
    finish(req, config, &mut response);
    response
}

/// The project id a request names: `X-Appwrite-Project`, else the `project` query parameter
/// (URL builders and the realtime socket put it there).
pub fn project_of(req: &Request) -> Option<String> {
    if let Some(p) = req.header("x-appwrite-project").map(str::trim).filter(|p| !p.is_empty()) {
        return Some(p.to_string());
    }
    form_urlencoded::parse(req.query.as_bytes())
        .find(|(k, _)| k == "project")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Serves one request. `config` is `Config::from_secrets(runtime.secrets())`, which the adapter
/// has already read for the body limit.
/// For adapters that do not stream: reads a response's [`crate::http::BlobBody`] into its
/// `body`.
pub async fn collect_blob_body(mut response: Response, runtime: &dyn Runtime) -> Response {
    let Some(blob_body) = response.blob_body.take() else { return response };
    let read = async {
        let stores = runtime.open_project(&blob_body.project).await?;
        let mut body = Vec::with_capacity(usize::try_from(blob_body.len()).unwrap_or(0));
        for (key, range) in &blob_body.parts {
            let bytes = stores
                .blobs
                .get(key, Some(*range))
                .await?
                .ok_or_else(|| StoreError::Unavailable(format!("blob {key} is missing")))?;
            body.extend_from_slice(&bytes);
        }
        Ok::<_, StoreError>(body)
    };
    match read.await {
        Ok(body) => {
            response.body = body;
            response
        }
        Err(e) => Response::error(&AppwriteError::internal(e)),
    }
}

pub async fn serve(
    req: &Request,
    config: &Config,
    runtime: &dyn Runtime,
    capabilities: &[&dyn Capability],
    auth: Option<&dyn Authenticator>,
) -> Response {
    serve_at(req, &Loopback { config, runtime, capabilities, auth, depth: 0 }).await
}

/// The pipeline as a [`LocalApi`]: what a request's handlers call to reach the deployment's
/// own routes without the network.
pub struct Loopback<'a> {
    pub config: &'a Config,
    pub runtime: &'a dyn Runtime,
    pub capabilities: &'a [&'a dyn Capability],
    pub auth: Option<&'a dyn Authenticator>,
    /// How many calls deep the request this serves is.
    pub depth: u8,
}

#[async_trait(?Send)]
impl LocalApi for Loopback<'_> {
    async fn call(&self, request: Request) -> Response {
        let inner = Loopback { depth: self.depth.saturating_add(1), ..*self };
        collect_blob_body(serve_at(&request, &inner).await, self.runtime).await
    }

    async fn committed(&self, ctx: &Ctx<'_>, events: &[Event]) {
        for capability in self.capabilities {
            capability.committed(ctx, events).await;
        }
    }

    fn depth(&self) -> u8 {
        self.depth
    }
}

async fn serve_at(req: &Request, api: &Loopback<'_>) -> Response {
    let Loopback { config, runtime, .. } = *api;
    let started = runtime.clock().now_ms();
    let mut response = match dispatch(req, api).await {
        Ok(response) => response,
        Err(err) => Response::error(&err),
    };
    if req.method == Method::Head {
        response.body.clear();
        response.blob_body = None;
    }
    finish(req, config, &mut response);
    // At `debug`: the platform keeps its own request log, and a console line per request costs
    // as much as serving a read.
    tracing::debug!(
        method = req.method.as_str(),
        path = %req.path,
        status = response.status,
        ms = runtime.clock().now_ms() - started,
        "request"
    );
    response
}

fn finish(req: &Request, config: &Config, response: &mut Response) {
    if req.method == Method::Options {
        return;
    }
    cors::apply(req, &config.allowed_origins, response);
    let h = &mut response.headers;
    h.set("x-content-type-options", "nosniff");
    if response.status >= 400 {
        h.set("cache-control", "no-cache, no-store, must-revalidate");
        h.set("expires", "0");
        h.set("pragma", "no-cache");
    }
    if req.scheme == "https" {
        h.set("strict-transport-security", "max-age=10886400");
    }
}

async fn dispatch(req: &Request, api: &Loopback<'_>) -> Result<Response, AppwriteError> {
    let Loopback { config, runtime, capabilities, auth, .. } = *api;
    if req.method == Method::Options {
        return Ok(cors::preflight(req));
    }
    if req.body.len() > config.limits.max_body_bytes {
        return Err(body_too_large(config.limits.max_body_bytes));
    }
    // Appwrite skips the origin check for server-side callers with an API key. Only a key that
    // verifies counts (checked once the caller is known): a made-up key must not let another
    // site ride a browser's session cookie.
    let foreign_origin = req.header("origin").filter(|o| !config.allowed_origins.allows(o));
    let unknown_origin = |origin: &str| {
        AppwriteError::new(
            ErrorType::GeneralUnknownOrigin,
            format!("Invalid Origin. Register your new client ({origin}) as a new Web platform on your project console dashboard"),
        )
    };
    if let (Some(origin), None) = (foreign_origin, req.header("x-appwrite-key")) {
        return Err(unknown_origin(origin));
    }
    // A wrong method on an existing path is a 404 too: Appwrite's catch-all route ignores methods.
    let Match::Found { capability, route, params: path_params } =
        router::find(capabilities, req.method, &req.path)
    else {
        return Err(ErrorType::GeneralRouteNotFound.into());
    };

    // `console` is the project every Appwrite server has (its own): naming it is naming none, as
    // appwrite-cli does when it checks a server with `GET /v1/health/version`.
    let project = project_of(req).filter(|p| p != "console" || config.serves_project(p));
    if let Some(p) = &project {
        if !config.serves_project(p) {
            return Err(ErrorType::ProjectNotFound.into());
        }
    }
    // A key is checked against the project's stored keys even on routes that need no project.
    let project =
        project.as_deref().filter(|_| route.needs_project || req.header("x-appwrite-key").is_some());
    let stores = match project {
        Some(p) => Some(runtime.open_project(p).await.map_err(AppwriteError::internal)?),
        None => None,
    };
    let mut params = Params::from_request(req, path_params, &config.limits)?;
    // An SDK built for an older server sends parameters as that server read them.
    let format = crate::format::ResponseFormat::of(req);
    if let Some(format) = &format {
        format.rewrite_params(route.name, &mut params)?;
    }

    let ports = ports_of(stores.as_ref(), runtime);
    let faulty = config
        .test_routes
        .then(|| req.header(faults::FAULT_HEADER).and_then(faults::requested))
        .flatten()
        .map(|requested| faults::Faulty::new(ports, requested));
    let ports = faulty.as_ref().map_or(ports, faults::Faulty::ports);

    let caller = resolve_caller(req, config, project, &ports, auth).await;
    if let (Some(origin), false) = (foreign_origin, matches!(caller, Ok(Caller::App { .. }))) {
        return Err(unknown_origin(origin));
    }
    let caller = caller?;
    if caller.owes_second_factor() && !MFA_EXEMPT_ROUTES.contains(&route.name) {
        return Err(AppwriteError::new(
            ErrorType::UserMoreFactorsRequired,
            "More factors are required to complete the sign in process.",
        ));
    }
    if let Some(scope) = route.scope {
        caller.require_scope(scope, project.unwrap_or(""), &req.host)?;
    }
    // Without a project header Appwrite runs as the console project, which serves no app routes.
    if route.needs_project && project.is_none() {
        return Err(ErrorType::ProjectNotFound.into());
    }
    let ctx = Ctx { request: req, params, caller, config, project, ports, api };
    let mut response = capability.handle(route, &ctx).await?;
    if let Some(format) = &format {
        format.shape(route.name, &mut response);
    }
    Ok(response)
}

/// The ports over a project's stores (or none), and the runtime's own.
fn ports_of<'a>(stores: Option<&'a ProjectStores<'a>>, runtime: &'a dyn Runtime) -> Ports<'a> {
    static NONE: NoProject = NoProject;
    Ports {
        sql: stores.map_or(&NONE as &dyn Sql, |s| s.sql.as_ref()),
        blobs: stores.map_or(&NONE as &dyn Blobs, |s| s.blobs.as_ref()),
        kv: stores.map_or(&NONE as &dyn Kv, |s| s.kv.as_ref()),
        events: stores.map_or(&NONE as &dyn Events, |s| s.events.as_ref()),
        clock: runtime.clock(),
        random: runtime.random(),
        secrets: runtime.secrets(),
        outbound: runtime.outbound(),
        jobs: runtime.jobs(),
        offload: runtime.offload(),
    }
}

/// Who a request forwarded to the upstream comes from, verified as on a served route: its
/// project (one this deployment serves) and caller. Credentials that fail verification, or a
/// session still owing a second factor, make a guest: the upstream is told only what edgewrite
/// could prove.
pub async fn identify(
    req: &Request,
    config: &Config,
    runtime: &dyn Runtime,
    auth: Option<&dyn Authenticator>,
) -> (Option<String>, Caller) {
    let Some(project) = project_of(req).filter(|p| config.serves_project(p)) else {
        return (None, Caller::Guest);
    };
    let stores = match runtime.open_project(&project).await {
        Ok(stores) => stores,
        Err(error) => {
            tracing::warn!(%error, "opening the project to identify a forwarded request");
            return (Some(project), Caller::Guest);
        }
    };
    let ports = ports_of(Some(&stores), runtime);
    let caller = match resolve_caller(req, config, Some(&project), &ports, auth).await {
        Ok(caller) if !caller.owes_second_factor() => caller,
        _ => Caller::Guest,
    };
    (Some(project), caller)
}

async fn resolve_caller(
    req: &Request,
    config: &Config,
    project: Option<&str>,
    ports: &Ports<'_>,
    auth: Option<&dyn Authenticator>,
) -> Result<Caller, AppwriteError> {
    let credentials = Credentials::from_request(req, project.unwrap_or(""));
    if let Some(key) = &credentials.api_key {
        if let Some(app) = verify_bootstrap_key(key, config.api_key.as_deref()) {
            return Ok(app);
        }
        // `standard_…` keys, the `dynamic_…` keys functions are given, and keys without a type
        // prefix must be valid; keys of other types (ephemeral, account …) that edgewrite does
        // not issue leave the caller a guest.
        let standard = key.starts_with("standard_") || key.starts_with("dynamic_") || !key.contains('_');
        let stored = match (auth, project, standard) {
            (Some(auth), Some(_), true) => auth.api_key(key, ports).await?,
            _ => None,
        };
        return match stored {
            Some(app) => Ok(app),
            None if standard => Err(ErrorType::UserUnauthorized.into()),
            // Never fall back to the request's session: a key header means a server-side
            // caller, and a browser page could otherwise add one to borrow the user's cookie.
            None => Ok(Caller::Guest),
        };
    }
    match (auth, project) {
        (Some(auth), Some(_)) => Ok(auth.session(&credentials, ports).await?.unwrap_or(Caller::Guest)),
        _ => Ok(Caller::Guest),
    }
}

/// The caller jobs run as: the deployment itself, with every key scope.
fn job_caller() -> Caller {
    Caller::App {
        key_id: "jobs".into(),
        scopes: crate::identity::API_KEY_SCOPES.iter().map(|s| s.to_string()).collect(),
        expire: None,
    }
}

/// Runs `job` in its project: every capability is offered it (`Capability::run_job`), and an
/// error is what the adapter logs (and may retry on). `endpoint` is the API's public URL
/// (`https://host/v1`), for work that needs one.
pub async fn run_job(
    job: &Job,
    endpoint: &str,
    config: &Config,
    runtime: &dyn Runtime,
    capabilities: &[&dyn Capability],
    auth: Option<&dyn Authenticator>,
) -> Result<(), AppwriteError> {
    if !config.serves_project(&job.project) {
        return Err(ErrorType::ProjectNotFound.into());
    }
    let stores = runtime.open_project(&job.project).await.map_err(AppwriteError::internal)?;
    let mut request = Request::from_url(Method::Post, endpoint)?;
    request.headers.set("x-appwrite-project", job.project.clone());
    let params = match &job.payload {
        serde_json::Value::Object(map) => Params::from_json(map.clone()),
        _ => Params::from_json(serde_json::Map::new()),
    };
    // A job started from inside a function's call keeps its depth, so queued work cannot
    // reset the limit on how deep functions start functions.
    let depth = job
        .payload
        .get("depth")
        .and_then(serde_json::Value::as_u64)
        .map_or(0, |d| d.min(u64::from(u8::MAX)) as u8);
    let api = Loopback { config, runtime, capabilities, auth, depth };
    let ports = ports_of(Some(&stores), runtime);
    let faulty = config
        .test_routes
        .then(|| job.payload.get(faults::JOB_FAULT_KEY)?.as_str().and_then(faults::Fault::parse))
        .flatten()
        .map(|fault| faults::Faulty::new(ports, faults::Requested::Here(fault)));
    let ports = faulty.as_ref().map_or(ports, faults::Faulty::ports);
    let ctx = Ctx {
        request: &request,
        params,
        caller: job_caller(),
        config,
        project: Some(&job.project),
        ports,
        api: &api,
    };
    let mut handled = false;
    for capability in capabilities {
        handled |= capability.run_job(&job.kind, &ctx).await?;
    }
    if !handled {
        tracing::warn!(kind = %job.kind, "no capability runs this job");
    }
    Ok(())
}
