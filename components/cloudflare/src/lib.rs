//! The Cloudflare Worker: converts workerd requests to edgewrite's, runs the core pipeline with
//! every capability linked in, and provides the ports over Durable Objects (SQL), R2 (blobs) and
//! KV (cache). This is the only crate that uses `worker`.

mod forward;
mod object_runtime;
mod outbound;
mod project_object;
#[cfg(test)]
mod route_table;
mod stores;
mod upstream;
mod wire;

use std::cell::Cell;
use std::rc::Rc;

use async_trait::async_trait;
use edgewrite_core::ports::{Clock, Random, Secrets, StoreError};
use edgewrite_core::{Capability, Config, Method, ProjectStores, Runtime};
use futures_util::StreamExt;
use worker::{event, Context, Env, Headers, MessageExt, Range, Request, Response};

pub use project_object::ProjectDatabase;

/// Binding names, as declared in `wrangler.toml`.
pub(crate) const DATABASE_BINDING: &str = "PROJECT_DATABASE";
pub(crate) const BLOBS_BINDING: &str = "BLOBS";
pub(crate) const CACHE_BINDING: &str = "CACHE";
const JOBS_BINDING: &str = "JOBS";

pub(crate) struct EnvSecrets<'a>(pub(crate) &'a Env);

impl Secrets for EnvSecrets<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0.var(name).map(|v| v.to_string()).or_else(|_| self.0.secret(name).map(|v| v.to_string())).ok()
    }
}

pub(crate) struct WorkerClock;

impl Clock for WorkerClock {
    fn now_ms(&self) -> i64 {
        worker::Date::now().as_millis() as i64
    }
}

pub(crate) struct CryptoRandom;

impl Random for CryptoRandom {
    fn fill(&self, buf: &mut [u8]) {
        // crypto.getRandomValues never fails for buffers this small.
        getrandom::fill(buf).expect("crypto.getRandomValues is available in workerd");
    }
}

/// The Worker's runtime, for what it serves itself: its SQL is the project's object across
/// the network, one crossing per batch (counted for the test header).
struct CloudflareRuntime<'a> {
    env: &'a Env,
    secrets: EnvSecrets<'a>,
    jobs: QueueJobs<'a>,
    crossings: Cell<u32>,
}

impl<'a> CloudflareRuntime<'a> {
    fn new(env: &'a Env) -> Self {
        CloudflareRuntime { env, secrets: EnvSecrets(env), jobs: QueueJobs(env), crossings: Cell::new(0) }
    }
}

/// Jobs go to the Cloudflare Queue bound as `JOBS`, whose consumer is this Worker's `queue`
/// handler. Without the binding, work runs at once.
pub(crate) struct QueueJobs<'a>(pub(crate) &'a Env);

/// Cloudflare Queues delay a message by at most 12 hours.
const MAX_QUEUE_DELAY_SECS: u32 = 12 * 3600;

#[async_trait(?Send)]
impl edgewrite_core::ports::Jobs for QueueJobs<'_> {
    async fn enqueue(&self, job: edgewrite_core::ports::Job, delay_secs: u32) -> Result<bool, StoreError> {
        let Ok(queue) = self.0.queue(JOBS_BINDING) else { return Ok(false) };
        // As JSON text: serde-wasm-bindgen would turn the payload's objects into JS Maps.
        let text = serde_json::to_string(&job).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let message =
            worker::MessageBuilder::new(text).delay_seconds(delay_secs.min(MAX_QUEUE_DELAY_SECS)).build();
        queue.send(message).await.map_err(binding_error(JOBS_BINDING))?;
        Ok(true)
    }

    fn queues(&self) -> bool {
        self.0.queue(JOBS_BINDING).is_ok()
    }
}

pub(crate) fn binding_error(binding: &str) -> impl Fn(worker::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("binding {binding}: {e}"))
}

#[async_trait(?Send)]
impl Runtime for CloudflareRuntime<'_> {
    fn secrets(&self) -> &dyn Secrets {
        &self.secrets
    }
    fn clock(&self) -> &dyn Clock {
        &WorkerClock
    }
    fn random(&self) -> &dyn Random {
        &CryptoRandom
    }
    fn outbound(&self) -> &dyn edgewrite_core::ports::Outbound {
        &outbound::WorkerOutbound
    }
    fn jobs(&self) -> &dyn edgewrite_core::ports::Jobs {
        &self.jobs
    }

    async fn open_project<'s>(&'s self, project: &str) -> Result<ProjectStores<'s>, StoreError> {
        let stub = || {
            self.env
                .durable_object(DATABASE_BINDING)
                .and_then(|ns| ns.get_by_name(project))
                .map_err(binding_error(DATABASE_BINDING))
        };
        let bucket = self.env.bucket(BLOBS_BINDING).map_err(binding_error(BLOBS_BINDING))?;
        let kv = self.env.kv(CACHE_BINDING).map_err(binding_error(CACHE_BINDING))?;
        Ok(ProjectStores {
            sql: Box::new(stores::DurableSql { stub: stub()?, crossings: &self.crossings }),
            blobs: Box::new(stores::R2Blobs { bucket, prefix: format!("{project}/") }),
            kv: Box::new(stores::KvCache { store: kv, prefix: format!("{project}:") }),
            events: Box::new(stores::ProjectEvents { stub: stub()?, crossings: &self.crossings }),
        })
    }
}

pub(crate) const CAPABILITIES: &[&dyn Capability] = &[
    &edgewrite_health::Health,
    &edgewrite_locale::Locale,
    &edgewrite_avatars::Avatars,
    // First of those with a `committed` hook: a write's webhook deliveries queue before
    // anything that waits (function triggers), so they keep the writes' order.
    &edgewrite_webhooks::Webhooks,
    &edgewrite_presences::Presences,
    &edgewrite_account::Account,
    &edgewrite_account::Users,
    &edgewrite_account::Teams,
    &edgewrite_account::ProjectKeys,
    &edgewrite_account::ProjectOAuth2,
    &edgewrite_databases::Databases,
    &edgewrite_databases::TablesDb,
    &edgewrite_storage::Storage,
    &edgewrite_functions::Functions,
    &edgewrite_messaging::Messaging,
    &edgewrite_realtime::Realtime,
    &edgewrite_conformance::TestRoutes,
];

/// The request without its body, and whether its method is one edgewrite knows.
fn head_of(
    req: &Request,
    config: &Config,
    platform_country: Option<&str>,
) -> Result<(edgewrite_core::Request, bool), edgewrite_core::Response> {
    // Parsed once, by edgewrite's own request type.
    let url = req.inner().url();
    // The raw method: `worker::Method` maps unknown methods to GET.
    let method = Method::parse(&req.inner().method());
    let mut core = edgewrite_core::Request::from_url(method.unwrap_or(Method::Get), &url)
        .map_err(|e| edgewrite_core::Response::error(&e))?;
    // Internal headers only ever come from the Worker itself (`wire::INTERNAL_PREFIX`).
    core.headers =
        req.headers().entries().filter(|(name, _)| !name.starts_with(wire::INTERNAL_PREFIX)).collect();
    // A Worker sees no peer address: only a header the deployment trusts can name the client
    // (Cloudflare's edge overwrites `CF-Connecting-IP`; under wrangler dev or workerd alone a
    // client writes it itself, so local runs trust none unless told).
    let trusted = config.trusted_client_ip_header.as_deref().unwrap_or("cf-connecting-ip");
    core.client_ip = edgewrite_core::http::client_address(&core.headers, trusted, None);
    core.country =
        edgewrite_core::http::client_country(&core.headers, &config.trusted_country_header, platform_country);
    Ok((core, method.is_some()))
}

/// `platform_country`: Cloudflare's `request.cf.country` in the Worker; in the object, what the
/// Worker forwarded ([`wire::COUNTRY_HEADER`]).
pub(crate) async fn to_core(
    mut req: Request,
    config: &Config,
    platform_country: Option<&str>,
) -> Result<edgewrite_core::Request, edgewrite_core::Response> {
    let (mut core, method_known) = head_of(&req, config, platform_country)?;
    let Some(limit) = edgewrite_core::serve::body_limit(&core, method_known, config)? else {
        return Ok(core);
    };
    match read_body(&mut req, limit).await {
        Ok(Some(body)) => core.body = body,
        Ok(None) => return Err(edgewrite_core::serve::too_large(&core, config)),
        Err(e) => {
            tracing::warn!(error = %e, "reading the request body");
            return Err(edgewrite_core::serve::unreadable_body(&core, config));
        }
    }
    Ok(core)
}

/// The body, read chunk by chunk and abandoned past `limit` bytes (`None`), so a body without
/// a `Content-Length` cannot fill the isolate's memory either.
async fn read_body(req: &mut Request, limit: usize) -> worker::Result<Option<Vec<u8>>> {
    if req.inner().body().is_none() {
        return Ok(Some(Vec::new()));
    }
    let mut stream = req.stream()?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

pub(crate) fn from_core(resp: edgewrite_core::Response) -> worker::Result<Response> {
    from_core_with(resp, None)
}

/// The worker response; a blob body streams from R2 one part at a time (each part at most a
/// stored chunk), so memory holds one part whatever the file's size.
pub(crate) fn from_core_with(resp: edgewrite_core::Response, env: Option<&Env>) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in resp.headers.iter() {
        headers.append(name, value)?;
    }
    let builder = worker::ResponseBuilder::new().with_status(resp.status).with_headers(headers);
    if let (Some(blob_body), Some(env)) = (resp.blob_body, env) {
        let bucket = env.bucket(BLOBS_BINDING)?;
        let length = blob_body.len();
        let prefix = format!("{}/", blob_body.project);
        let parts = futures_util::stream::iter(blob_body.parts);
        let stream = parts.then(move |(key, range)| {
            let bucket = bucket.clone();
            let key = format!("{prefix}{key}");
            async move {
                let object = bucket
                    .get(key.clone())
                    .range(Range::OffsetWithLength { offset: range.start, length: range.end - range.start })
                    .execute()
                    .await?
                    .ok_or_else(|| worker::Error::RustError(format!("blob {key} is missing")))?;
                match object.body() {
                    Some(body) => body.bytes().await,
                    None => Ok(Vec::new()),
                }
            }
        });
        // A fixed-length stream: the response carries its Content-Length.
        let fixed: worker::worker_sys::FixedLengthStream =
            worker::FixedLengthStream::wrap(stream, length).into();
        return Ok(builder.stream(fixed.readable()));
    }
    Ok(if resp.body.is_empty() { builder.empty() } else { builder.fixed(resp.body) })
}

/// Log lines go to the Workers console, where `wrangler dev` and Workers Logs collect them.
fn console_sink(level: tracing::Level, line: &str) {
    if level <= tracing::Level::WARN {
        worker::console_error!("{line}");
    } else {
        worker::console_log!("{line}");
    }
}

thread_local! {
    /// The deployment's variables, read once per isolate (the Worker's and the objects' code share
    /// it): they do not change while it lives.
    static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
}

pub(crate) fn config_of(env: &Env) -> Rc<Config> {
    CONFIG.with(|c| c.get_or_init(|| Rc::new(Config::from_secrets(&EnvSecrets(env)))).clone())
}

/// Test header (`EDGEWRITE_TEST_ROUTES=1`): how many times serving the request crossed from
/// the Worker to the project's object.
const CROSSINGS_HEADER: &str = "x-edgewrite-crossings";

thread_local! {
    static LOGGING: Cell<bool> = const { Cell::new(false) };
}

/// Installs the log subscriber once per isolate.
pub(crate) fn init_logging(env: &Env) {
    if !LOGGING.with(|done| done.replace(true)) {
        edgewrite_core::log::init(EnvSecrets(env).get("EDGEWRITE_LOG").as_deref(), console_sink);
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    init_logging(&env);
    let runtime = CloudflareRuntime::new(&env);
    let config = config_of(&env);
    if config.test_routes && req.path() == project_object::INSTANCE_HOOK {
        return project_object::instance(&req, &env).await;
    }
    if let Some(upstream) = &config.upstream {
        if let Ok((head, true)) = head_of(&req, &config, None) {
            if upstream.forwards(CAPABILITIES, head.method, &head.path) {
                return upstream::forward(req, head, &runtime, &config, upstream).await;
            }
        }
    }
    let url = req.inner().url();
    let headers = req.headers().clone();
    let country = req.cf().and_then(|cf| cf.country());
    let core = match to_core(req, &config, country.as_deref()).await {
        Ok(core) => core,
        Err(rejected) => return from_core(rejected),
    };
    let response = match forward::object_for(&core, &config) {
        Some(project) => {
            forward::serve(&core, &headers, &url, &project, &env, &config, &runtime.crossings).await?
        }
        None => {
            let response = edgewrite_core::serve(
                &core,
                &config,
                &runtime,
                CAPABILITIES,
                Some(&edgewrite_account::AccountAuthenticator),
            )
            .await;
            from_core_with(response, Some(&env))?
        }
    };
    if !config.test_routes || response.status_code() == 101 {
        return Ok(response);
    }
    // The object's answer has immutable headers: copy them to add the count.
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    headers.set(CROSSINGS_HEADER, &runtime.crossings.get().to_string())?;
    let status = response.status_code();
    Ok(Response::from_body(response.body().clone())?.with_status(status).with_headers(headers))
}

/// The API's public URL, for work that runs without a request (schedules): the
/// `EDGEWRITE_PUBLIC_ENDPOINT` variable, else a placeholder only the deployment itself answers.
fn public_endpoint(secrets: &EnvSecrets<'_>) -> String {
    secrets
        .get("EDGEWRITE_PUBLIC_ENDPOINT")
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://edgewrite.invalid/v1".into())
}

/// Runs `job` with every capability, as a request would be served.
async fn run_job(
    job: &edgewrite_core::ports::Job,
    endpoint: &str,
    config: &Config,
    runtime: &CloudflareRuntime<'_>,
) -> Result<(), edgewrite_core::AppwriteError> {
    let auth = Some(&edgewrite_account::AccountAuthenticator as &dyn edgewrite_core::identity::Authenticator);
    edgewrite_core::serve::run_job(job, endpoint, config, runtime, CAPABILITIES, auth).await
}

/// Tries a queued job gets: the first and two retries.
const JOB_ATTEMPTS: u64 = 3;

/// Seconds before retry number `attempt` (1-based) of a job that failed: 10, 30.
fn job_retry_delay(attempt: u64) -> u32 {
    10 * 3u32.pow(attempt.clamp(1, 4) as u32 - 1)
}

/// The queue's consumer: each message is one job, started here and run under `waitUntil`, so
/// the handler answers at once and the queue hands over the next message while this one
/// runs. With the `queue_consumer_no_wait_for_wait_until` flag (wrangler.toml) the queue does
/// not wait for that work either: a slow delivery or a long execution never holds up the jobs
/// queued after it (wrangler dev's queue otherwise delivers one batch at a time, and waits).
/// The queue therefore takes each job as done once started: a job that fails is queued again
/// by `run_queued_job` with its own backoff, and one whose run is lost is the cron tick's to
/// find (messages leased `processing`, executions `waiting` or `processing`).
#[event(queue)]
async fn queue(batch: worker::MessageBatch<String>, env: Env, ctx: Context) -> worker::Result<()> {
    init_logging(&env);
    for message in batch.messages()? {
        let body = message.body().clone();
        message.ack();
        ctx.wait_until(run_queued_job(body, env.clone()));
    }
    Ok(())
}

/// Runs one queued job (JSON text) to its end; a failure worth retrying is queued again.
async fn run_queued_job(body: String, env: Env) {
    let Ok(mut job) = serde_json::from_str::<edgewrite_core::ports::Job>(&body) else {
        tracing::warn!("a queued job is not a job; dropped");
        return;
    };
    let runtime = CloudflareRuntime::new(&env);
    let config = config_of(&env);
    let endpoint = job
        .payload
        .get("endpoint")
        .and_then(|e| e.as_str())
        .map_or_else(|| public_endpoint(&runtime.secrets), str::to_string);
    let error = match run_job(&job, &endpoint, &config, &runtime).await {
        Ok(()) => return,
        Err(error) => error,
    };
    let attempt = job.payload.get(JOB_ATTEMPT_KEY).and_then(serde_json::Value::as_u64).unwrap_or(1);
    if error.status() < 500 || attempt >= JOB_ATTEMPTS {
        tracing::warn!(kind = %job.kind, project = %job.project, attempt, error = %error.message, "job dropped");
        return;
    }
    tracing::warn!(kind = %job.kind, project = %job.project, attempt, error = %error.message, "job failed; queued again");
    if let serde_json::Value::Object(payload) = &mut job.payload {
        payload.insert(JOB_ATTEMPT_KEY.into(), (attempt + 1).into());
        // An injected fault fails the first run only: the retry shows what a redelivery does.
        payload.remove(edgewrite_core::faults::JOB_FAULT_KEY);
    }
    let delay = job_retry_delay(attempt);
    let (kind, project) = (job.kind.clone(), job.project.clone());
    if let Err(error) = edgewrite_core::ports::Jobs::enqueue(&runtime.jobs, job, delay).await {
        tracing::warn!(%kind, %project, %error, "queueing a job's retry");
    }
}

/// The payload key that counts a job's tries (absent on the first).
const JOB_ATTEMPT_KEY: &str = "jobAttempt";

/// The Cron Trigger (every minute): a `tick` job for every project, which starts the functions
/// whose `schedule` fires this minute and executions whose `scheduledAt` has come.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    init_logging(&env);
    let runtime = CloudflareRuntime::new(&env);
    let config = config_of(&env);
    let endpoint = public_endpoint(&runtime.secrets);
    for project in &config.projects {
        let job = edgewrite_core::ports::Job {
            project: project.clone(),
            kind: "tick".into(),
            payload: serde_json::json!({}),
        };
        if let Err(error) = run_job(&job, &endpoint, &config, &runtime).await {
            tracing::warn!(%project, error = %error.message, "schedule tick failed");
        }
    }
}
