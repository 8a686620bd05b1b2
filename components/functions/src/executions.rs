//! Executions (`/v1/functions/{functionId}/executions`): a function run with a request,
//! synchronously inside this request (201, with the response body) or later as a job (202,
//! `waiting` → `processing` → `completed|failed`). Only the synchronous caller ever sees the
//! response body: it is not stored. `logs` and `errors` are shown to API keys only.

use edgewrite_core::http::{Method, Request};
use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{OutboundRequest, Statement, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::{iso_from_ms, ms_from_iso};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::abi::{parse_response, FunctionRequest};
use crate::deployments::{self, Deployment};
use crate::functions::{self, Function};
use crate::runner::{self, Input, Outcome, Run, Step};

/// Default memory cap of one execution (`EDGEWRITE_FUNCTIONS_MEMORY_MB`).
const DEFAULT_MEMORY_MB: usize = 32;
/// Fuel (roughly, WebAssembly instructions) per second of `timeout`
/// (`EDGEWRITE_FUNCTIONS_FUEL_PER_SECOND`): `cargo xtask bench` measures what the interpreter
/// runs per second on workerd.
const DEFAULT_FUEL_PER_SECOND: u64 = 100_000_000;
/// Most seconds of fuel one execution gets, whatever its timeout
/// (`EDGEWRITE_FUNCTIONS_MAX_CPU_SECONDS`; a Worker invocation may use 30 s of CPU by default).
const DEFAULT_MAX_CPU_SECONDS: u64 = 30;
/// Appwrite keeps the last 4,000 characters of logs and errors.
const MAX_LOG_CHARS: usize = 4000;
/// How deep functions may call the API that runs functions.
const MAX_DEPTH: u8 = 2;
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];

/// What one execution may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub fuel: u64,
    pub memory_bytes: usize,
}

impl Budget {
    pub fn from_ctx(ctx: &Ctx<'_>, timeout_secs: i64) -> Budget {
        let number = |name: &str| {
            ctx.ports.secrets.get(name).and_then(|v| v.trim().parse::<u64>().ok()).filter(|v| *v > 0)
        };
        let memory_mb =
            number("EDGEWRITE_FUNCTIONS_MEMORY_MB").map_or(DEFAULT_MEMORY_MB, |v| v.min(1024) as usize);
        let per_second = number("EDGEWRITE_FUNCTIONS_FUEL_PER_SECOND").unwrap_or(DEFAULT_FUEL_PER_SECOND);
        // The platform stops a run long before Appwrite's 900 s: the budget never exceeds the
        // CPU time a Worker invocation may use.
        let max_cpu = number("EDGEWRITE_FUNCTIONS_MAX_CPU_SECONDS").unwrap_or(DEFAULT_MAX_CPU_SECONDS);
        Budget {
            fuel: per_second.saturating_mul((timeout_secs.max(1) as u64).min(max_cpu)),
            memory_bytes: memory_mb * 1024 * 1024,
        }
    }
}

pub const COLUMNS: &str = "seq, id, function_id, deployment_id, trigger, status, request_method, request_path,
    request_headers, response_status, response_headers, logs, errors, duration, scheduled_at, owner, created_at, updated_at";

#[derive(Debug, Clone, Default)]
pub struct Execution {
    pub seq: i64,
    pub id: String,
    pub function_id: String,
    pub deployment_id: String,
    pub trigger: String,
    pub status: String,
    pub request_method: String,
    pub request_path: String,
    pub request_headers: Vec<(String, String)>,
    pub response_status: i64,
    pub response_headers: Vec<(String, String)>,
    pub logs: String,
    pub errors: String,
    pub duration: f64,
    pub scheduled_at: Option<i64>,
    pub owner: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Only for the synchronous caller.
    pub response_body: String,
}

fn pairs_to_json(pairs: &[(String, String)]) -> Json {
    Json::Array(pairs.iter().map(|(n, v)| json!({"name": n, "value": v})).collect())
}

fn pairs_from_text(text: &str) -> Vec<(String, String)> {
    serde_json::from_str::<Vec<(String, String)>>(text).unwrap_or_default()
}

impl Execution {
    pub fn from_row(row: &[Value]) -> Option<Execution> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Execution {
            seq: row.first()?.as_i64()?,
            id: text(1),
            function_id: text(2),
            deployment_id: text(3),
            trigger: text(4),
            status: text(5),
            request_method: text(6),
            request_path: text(7),
            request_headers: pairs_from_text(&text(8)),
            response_status: int(9).unwrap_or_default(),
            response_headers: pairs_from_text(&text(10)),
            logs: text(11),
            errors: text(12),
            duration: row.get(13).and_then(Value::as_f64).unwrap_or_default(),
            scheduled_at: int(14),
            owner: text(15),
            created_at: int(16).unwrap_or_default(),
            updated_at: int(17).unwrap_or_default(),
            response_body: String::new(),
        })
    }

    /// The Execution model; `logs` and `errors` only when `sensitive` (API keys).
    pub fn to_json(&self, sensitive: bool) -> Json {
        let permissions: Vec<String> =
            if self.owner.is_empty() { Vec::new() } else { vec![format!("read(\"{}\")", self.owner)] };
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "$permissions": permissions,
            "functionId": self.function_id,
            "deploymentId": self.deployment_id,
            "trigger": self.trigger,
            "status": self.status,
            "requestMethod": self.request_method,
            "requestPath": self.request_path,
            "requestHeaders": pairs_to_json(&self.request_headers),
            "responseStatusCode": self.response_status,
            "responseBody": self.response_body,
            "responseHeaders": pairs_to_json(&self.response_headers),
            "logs": if sensitive { self.logs.as_str() } else { "" },
            "errors": if sensitive { self.errors.as_str() } else { "" },
            "duration": self.duration,
            "scheduledAt": self.scheduled_at.map(iso_from_ms),
        })
    }
}

fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::ExecutionNotFound, "Execution with the requested ID could not be found.")
}

fn is_key(ctx: &Ctx<'_>) -> bool {
    matches!(ctx.caller, Caller::App { .. })
}

/// The function, if the caller may run it: enabled (for all but keys) and in its `execute`
/// roles (keys always are).
async fn executable(ctx: &Ctx<'_>) -> Result<Function, AppwriteError> {
    let f = functions::load(ctx).await?;
    may_execute(ctx, &f)?;
    Ok(f)
}

/// The function and its active deployment, read together, if the caller may run it.
async fn runnable(ctx: &Ctx<'_>) -> Result<(Function, Deployment), AppwriteError> {
    let id = ctx.params.required_text("functionId", 36)?;
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                format!("SELECT {} FROM functions WHERE id = ?", functions::COLUMNS),
                vec![id.clone().into()],
            ),
            deployments::active_statement(&id),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    let f = out
        .first()
        .and_then(|r| r.rows.first())
        .and_then(|r| Function::from_row(r))
        .ok_or_else(functions::not_found)?;
    may_execute(ctx, &f)?;
    if f.deployment_id.is_empty() {
        return Err(AppwriteError::new(
            ErrorType::DeploymentNotFound,
            "Deployment not found. Create a deployment before trying to execute a function",
        ));
    }
    let d = out
        .get(1)
        .and_then(|r| r.rows.first())
        .and_then(|r| Deployment::from_row(r))
        .ok_or_else(deployments::not_found)?;
    if d.status != "ready" {
        return Err(AppwriteError::new(ErrorType::BuildNotReady, "Build not ready"));
    }
    Ok((f, d))
}

fn may_execute(ctx: &Ctx<'_>, f: &Function) -> Result<(), AppwriteError> {
    if !f.enabled && !is_key(ctx) {
        return Err(functions::not_found());
    }
    if !is_key(ctx) {
        let roles = ctx.caller.roles();
        if !f.execute.iter().any(|r| r == "any" || roles.contains(r)) {
            return Err(AppwriteError::new(
                ErrorType::UserUnauthorized,
                "To execute function using client SDK, you need to set \"execute\" permissions for the caller.",
            ));
        }
    }
    Ok(())
}

/// The request's headers for the function: what the caller sent, lower-cased, without any
/// `x-appwrite-*` (those are edgewrite's to set).
fn headers_param(ctx: &Ctx<'_>) -> Result<Vec<(String, String)>, AppwriteError> {
    let Some(map) = ctx.params.object("headers")? else { return Ok(Vec::new()) };
    if map.len() > 100 {
        return Err(AppwriteError::invalid_param(
            "headers",
            "Value must be an object of at most 100 headers",
        ));
    }
    let mut out = Vec::new();
    for (name, value) in map {
        let name = name.to_ascii_lowercase();
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) || name.is_empty() {
            return Err(AppwriteError::invalid_param(
                "headers",
                "Header names and values may not hold line breaks",
            ));
        }
        if !name.starts_with("x-appwrite-") {
            out.push((name, value));
        }
    }
    Ok(out)
}

/// `POST /functions/{functionId}/executions`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (f, d) = runnable(ctx).await?;
    if ctx.api.depth() >= MAX_DEPTH {
        return Err(AppwriteError::new(
            ErrorType::GeneralRateLimitExceeded,
            format!("Functions may start executions at most {MAX_DEPTH} calls deep."),
        ));
    }
    let body = ctx.params.text("body", usize::MAX)?.unwrap_or_default();
    let is_async = ctx.params.boolean("async")?.unwrap_or(false);
    let path = ctx.params.text("path", 2048)?.unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return Err(AppwriteError::invalid_param("path", "Value must be a path starting with /"));
    }
    let method = ctx.params.text("method", 16)?.unwrap_or_else(|| "POST".into());
    if !METHODS.contains(&method.as_str()) {
        return Err(AppwriteError::invalid_param(
            "method",
            &format!("Value must be one of ({})", METHODS.join(", ")),
        ));
    }
    let headers = headers_param(ctx)?;
    let now = ctx.ports.clock.now_ms();
    let scheduled_at = match ctx.params.text("scheduledAt", 64)? {
        None => None,
        Some(text) => {
            let at = ms_from_iso(&text)
                .ok_or_else(|| AppwriteError::invalid_param("scheduledAt", "Value must be a valid date"))?;
            if !is_async {
                return Err(AppwriteError::invalid_param(
                    "scheduledAt",
                    "Scheduled executions must be asynchronous",
                ));
            }
            if at < now + 60_000 {
                return Err(AppwriteError::invalid_param(
                    "scheduledAt",
                    "Value must be at least one minute in the future",
                ));
            }
            Some(at)
        }
    };
    let owner = match &ctx.caller {
        Caller::User(user) => format!("user:{}", user.user_id),
        _ => String::new(),
    };
    let execution = Execution {
        id: edgewrite_core::ids::unique_id(now, ctx.ports.random),
        function_id: f.id.clone(),
        deployment_id: d.id.clone(),
        trigger: "http".into(),
        status: if scheduled_at.is_some() {
            "scheduled"
        } else if is_async {
            "waiting"
        } else {
            "processing"
        }
        .into(),
        request_method: method,
        request_path: path,
        request_headers: headers,
        owner,
        scheduled_at,
        created_at: now,
        updated_at: now,
        ..Execution::default()
    };
    let request = FunctionRequest {
        method: execution.request_method.clone(),
        path: execution.request_path.clone(),
        headers: execution.request_headers.clone(),
        body,
        scheme: ctx.request.scheme.clone(),
        authority: ctx.request.authority(),
    };
    let user = match &ctx.caller {
        Caller::User(user) => Some(user.user_id.clone()),
        _ => None,
    };
    if is_async {
        let queued = crate::triggers::start_later(ctx, &execution, &request, user.as_deref()).await?;
        return Ok(Response::json(202, &queued.to_json(is_key(ctx))));
    }
    // Recorded (in the run's first batch) before it runs: a run the platform stops still leaves
    // its execution, which the schedule tick then marks failed.
    let record = insert_statement(&execution);
    let done = run(ctx, &f, &d, execution, request, user.as_deref(), Some(record)).await?;
    save(ctx, &done).await?;
    crate::triggers::announce(ctx, &done, "create").await;
    Ok(Response::json(201, &done.to_json(is_key(ctx))))
}

fn tail(text: &str) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(MAX_LOG_CHARS)).collect()
}

/// Runs `execution` of `f`'s deployment `d` to its end; the result has its final status.
pub async fn run(
    ctx: &Ctx<'_>,
    f: &Function,
    d: &Deployment,
    mut execution: Execution,
    request: FunctionRequest,
    user: Option<&str>,
    record: Option<Statement>,
) -> Result<Execution, AppwriteError> {
    let started = ctx.ports.clock.now_ms();
    let budget = Budget::from_ctx(ctx, f.timeout);
    // One round trip: the new execution's row (when asked), the variables, the signing secret.
    let mut batch: Vec<Statement> = record.into_iter().collect();
    let recorded = batch.len();
    batch.push(crate::variables::environment_statement(f));
    batch.extend(edgewrite_account::function_key_statements(&ctx.ports));
    let out =
        ctx.ports.sql.batch(batch).await.map_err(|e| AppwriteError::from_store(e, functions::not_found))?;
    let key = edgewrite_account::function_key(
        out.get(recorded + 2),
        &f.id,
        &execution.id,
        &f.scopes,
        started + (f.timeout + 60) * 1000,
    )?;
    let endpoint = format!("{}://{}/v1", request.scheme, request.authority);
    // Variables may not shadow what edgewrite sets.
    let mut env: Vec<(String, String)> = crate::variables::environment_from(out.get(recorded))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("APPWRITE_"))
        .collect();
    env.extend([
        ("APPWRITE_FUNCTION_ID".to_string(), f.id.clone()),
        ("APPWRITE_FUNCTION_NAME".to_string(), f.name.clone()),
        ("APPWRITE_FUNCTION_DEPLOYMENT".to_string(), d.id.clone()),
        ("APPWRITE_FUNCTION_PROJECT_ID".to_string(), ctx.project.unwrap_or_default().to_string()),
        ("APPWRITE_FUNCTION_API_ENDPOINT".to_string(), endpoint.clone()),
        ("APPWRITE_FUNCTION_RUNTIME_NAME".to_string(), "WebAssembly".to_string()),
        ("APPWRITE_FUNCTION_RUNTIME_VERSION".to_string(), "wasip1".to_string()),
        ("APPWRITE_FUNCTION_CPUS".to_string(), "1".to_string()),
        ("APPWRITE_FUNCTION_MEMORY".to_string(), (budget.memory_bytes / (1024 * 1024)).to_string()),
        ("APPWRITE_VERSION".to_string(), "1.8.0".to_string()),
    ]);
    let mut request = request;
    request.headers.push(("x-appwrite-trigger".into(), execution.trigger.clone()));
    request.headers.push(("x-appwrite-execution-id".into(), execution.id.clone()));
    if let Some(user) = user {
        request.headers.push(("x-appwrite-user-id".into(), user.to_string()));
    }
    request.headers.push(("x-appwrite-key".into(), key));
    let module = load_module(ctx, d).await?;
    let mut seed = [0u8; 32];
    ctx.ports.random.fill(&mut seed);
    let input = Input {
        stdin: request.to_stdin(),
        env,
        fuel: budget.fuel,
        memory_bytes: budget.memory_bytes,
        seed,
        now_ms: started,
    };
    let (outcome, output) = match Run::new(&module, input) {
        Err(finished) => finished,
        Ok(mut run) => loop {
            match run.step() {
                Step::Finished(outcome, output) => break (outcome, output),
                Step::Fetch(pending) => {
                    let answer = fetch(ctx, &endpoint, &pending.0).await;
                    run.answer(answer);
                }
            }
        },
    };
    let mut errors = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut fail = |message: String| {
        if !errors.is_empty() && !errors.ends_with('\n') {
            errors.push('\n');
        }
        errors.push_str(&message);
    };
    let response = match &outcome {
        Outcome::Exited(0) => match parse_response(&output.stdout) {
            Ok(r) => Some(r),
            Err(message) => {
                fail(message);
                None
            }
        },
        Outcome::Exited(code) => {
            fail(format!("The function exited with code {code}."));
            None
        }
        Outcome::OutOfFuel => {
            fail(format!(
                "Operation timed out after {} seconds: the execution used its whole CPU budget ({} fuel).",
                f.timeout, budget.fuel
            ));
            None
        }
        Outcome::OutOfMemory => {
            fail(format!(
                "The execution ran out of memory: functions may use at most {} MiB.",
                budget.memory_bytes / (1024 * 1024)
            ));
            None
        }
        Outcome::Trapped(message) => {
            fail(format!("The function trapped: {message}"));
            None
        }
    };
    let finished = ctx.ports.clock.now_ms();
    execution.duration = (finished - started).max(0) as f64 / 1000.0;
    execution.updated_at = finished;
    let (logs, errors) =
        if f.logging { (tail(&output.logs), tail(&errors)) } else { (String::new(), String::new()) };
    execution.logs = logs;
    execution.errors = errors;
    match response {
        Some(r) => {
            execution.status = "completed".into();
            execution.response_status = i64::from(r.status);
            execution.response_headers = r.headers;
            execution.response_body = r.body;
        }
        None => {
            execution.status = "failed".into();
            execution.response_status = 500;
        }
    }
    tracing::info!(
        function = %f.id,
        execution = %execution.id,
        status = %execution.status,
        fuel = output.fuel_used,
        "execution finished"
    );
    Ok(execution)
}

async fn load_module(ctx: &Ctx<'_>, d: &Deployment) -> Result<wasmi::Module, AppwriteError> {
    let key = format!("{}:{}", ctx.project.unwrap_or_default(), d.module_key());
    if let Some(module) = runner::cached(&key) {
        return Ok(module);
    }
    let bytes =
        ctx.ports.blobs.get(&d.module_key(), None).await.map_err(AppwriteError::internal)?.ok_or_else(
            || AppwriteError::internal(format!("the module of deployment {} is missing", d.id)),
        )?;
    runner::compile(&key, &bytes).map_err(|e| AppwriteError::internal(e.0))
}

/// A guest's `fetch`: to the project's own API through the pipeline (no network), to a host in
/// `EDGEWRITE_FUNCTIONS_ALLOWED_HOSTS` through the outbound port, and nowhere else.
async fn fetch(ctx: &Ctx<'_>, endpoint: &str, request: &[u8]) -> Result<Vec<u8>, String> {
    #[derive(serde::Deserialize)]
    struct FetchRequest {
        url: String,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        headers: Map<String, Json>,
        #[serde(default)]
        body: String,
    }
    let request: FetchRequest = serde_json::from_slice(request)
        .map_err(|e| format!("the fetch request is not a JSON request: {e}"))?;
    let url = request.url;
    let method = request.method.unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let body = request.body.into_bytes();
    let public = ctx.ports.secrets.get("EDGEWRITE_PUBLIC_ENDPOINT").filter(|e| !e.is_empty());
    let is_api = |base: &str| {
        let base = base.trim_end_matches('/');
        url == base || url.starts_with(&format!("{base}/")) || url.starts_with(&format!("{base}?"))
    };
    if is_api(endpoint) || public.as_deref().is_some_and(is_api) {
        let method = Method::parse(&method).ok_or_else(|| format!("unknown method {method}"))?;
        let mut req = Request::from_url(method, &url).map_err(|e| e.message.clone())?;
        for (k, v) in &headers {
            req.headers.set(k, v.clone());
        }
        req.body = body;
        req.client_ip = ctx.request.client_ip.clone();
        let response = ctx.api.call(req).await;
        let headers: Map<String, Json> =
            response.headers.iter().map(|(k, v)| (k.to_string(), Json::from(v.to_string()))).collect();
        return answer(response.status, headers, response.body);
    }
    let host = edgewrite_core::http::host_of(&url).to_ascii_lowercase();
    let own = |base: &str| edgewrite_core::http::host_of(base).eq_ignore_ascii_case(&host);
    let refused = || {
        format!(
            "fetch to {host} is not allowed: a function may call its project's API ({endpoint}) and the hosts in EDGEWRITE_FUNCTIONS_ALLOWED_HOSTS"
        )
    };
    // The deployment's own host is reached through the pipeline only, never over the network
    // (which would come back in as a new top-level request).
    if own(endpoint) || public.as_deref().is_some_and(own) {
        return Err(refused());
    }
    let origin = origin_of(&url);
    let allowed = ctx.ports.secrets.get("EDGEWRITE_FUNCTIONS_ALLOWED_HOSTS").is_some_and(|list| {
        list.split(',').map(str::trim).filter(|h| !h.is_empty()).any(|entry| {
            if entry.contains("://") {
                origin.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(entry.trim_end_matches('/')))
            } else {
                // A bare host name: HTTPS on the default port only.
                origin.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(&format!("https://{entry}")))
            }
        })
    });
    if !allowed {
        return Err(refused());
    }
    let reply = ctx
        .ports
        .outbound
        .fetch(OutboundRequest { method, url, headers, body })
        .await
        .map_err(|e| e.to_string())?;
    answer(reply.status, Map::new(), reply.body)
}

/// Largest answer a guest's `fetch` gets.
const MAX_FETCH_ANSWER_BYTES: usize = 5 * 1024 * 1024;

/// The answer the guest reads: `body` as text, and `bodyBase64` too when it is not UTF-8.
fn answer(status: u16, headers: Map<String, Json>, body: Vec<u8>) -> Result<Vec<u8>, String> {
    if body.len() > MAX_FETCH_ANSWER_BYTES {
        return Err(format!("the answer holds more than {MAX_FETCH_ANSWER_BYTES} bytes"));
    }
    let mut reply = json!({"status": status, "headers": headers});
    match String::from_utf8(body) {
        Ok(text) => reply["body"] = Json::from(text),
        Err(e) => {
            use base64::Engine;
            let bytes = e.into_bytes();
            reply["bodyBase64"] = Json::from(base64::engine::general_purpose::STANDARD.encode(&bytes));
            reply["body"] = Json::from(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(reply.to_string().into_bytes())
}

/// `scheme://host[:port]` of an `http(s)` URL, lower-cased; `None` for anything else.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return None;
    }
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

/// Writes an execution's outcome.
pub async fn save(ctx: &Ctx<'_>, e: &Execution) -> Result<(), AppwriteError> {
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE executions SET status = ?, response_status = ?, response_headers = ?, logs = ?, errors = ?,
                 duration = ?, updated_at = ?
             WHERE id = ?",
            vec![
                e.status.clone().into(),
                Value::Integer(e.response_status),
                json!(e.response_headers).to_string().into(),
                e.logs.clone().into(),
                e.errors.clone().into(),
                Value::Real(e.duration),
                Value::Integer(e.updated_at),
                e.id.clone().into(),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(())
}

/// Writes a new execution's row.
pub async fn store(ctx: &Ctx<'_>, e: &Execution) -> Result<(), AppwriteError> {
    ctx.ports
        .sql
        .batch(vec![insert_statement(e)])
        .await
        .map_err(|e| AppwriteError::from_store(e, functions::not_found))?;
    Ok(())
}

/// The statement writing a new execution's row; it changes nothing once its function is gone.
fn insert_statement(e: &Execution) -> Statement {
    Statement::new(
            "INSERT INTO executions (id, function_seq, function_id, deployment_id, trigger, status, request_method,
                 request_path, request_headers, response_status, response_headers, logs, errors, duration, scheduled_at,
                 owner, created_at, updated_at)
             SELECT ?, seq, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM functions WHERE id = ?",
            vec![
                e.id.clone().into(),
                e.deployment_id.clone().into(),
                e.trigger.clone().into(),
                e.status.clone().into(),
                e.request_method.clone().into(),
                e.request_path.clone().into(),
                json!(e.request_headers).to_string().into(),
                Value::Integer(e.response_status),
                json!(e.response_headers).to_string().into(),
                e.logs.clone().into(),
                e.errors.clone().into(),
                Value::Real(e.duration),
                e.scheduled_at.into(),
                e.owner.clone().into(),
                Value::Integer(e.created_at),
                Value::Integer(e.updated_at),
                e.function_id.clone().into(),
            ],
        )
        .expect_changes(1)
}

/// The execution, if the caller may read it: keys all, users their own.
async fn load(ctx: &Ctx<'_>, f: &Function) -> Result<Execution, AppwriteError> {
    let id = ctx.params.required_text("executionId", 36)?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM executions WHERE function_seq = ? AND id = ?"),
            vec![Value::Integer(f.seq), id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let e = rows.rows.first().and_then(|r| Execution::from_row(r)).ok_or_else(not_found)?;
    if !is_key(ctx) && (e.owner.is_empty() || !ctx.caller.roles().contains(&e.owner)) {
        return Err(not_found());
    }
    Ok(e)
}

/// A function whose executions the caller may list: keys any, others those they may run.
async fn readable_function(ctx: &Ctx<'_>) -> Result<Function, AppwriteError> {
    if is_key(ctx) {
        functions::load(ctx).await
    } else {
        executable(ctx).await
    }
}

/// `GET /functions/{functionId}/executions/{executionId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = readable_function(ctx).await?;
    Ok(Response::json(200, &load(ctx, &f).await?.to_json(is_key(ctx))))
}

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "trigger", column: "trigger", kind: FieldKind::Text },
    Field { attribute: "status", column: "status", kind: FieldKind::Text },
    Field { attribute: "responseStatusCode", column: "response_status", kind: FieldKind::Integer },
    Field { attribute: "duration", column: "duration", kind: FieldKind::Float },
    Field { attribute: "requestMethod", column: "request_method", kind: FieldKind::Text },
    Field { attribute: "requestPath", column: "request_path", kind: FieldKind::Text },
    Field { attribute: "deploymentId", column: "deployment_id", kind: FieldKind::Text },
];

/// `GET /functions/{functionId}/executions`: keys see all, users their own.
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = readable_function(ctx).await?;
    let schema = Schema { table: "executions", id_column: "id", fields: FIELDS, search: None, fulltext: &[] };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let scope = if is_key(ctx) {
        ("edgewrite_t.function_seq = ?".to_string(), vec![Value::Integer(f.seq)])
    } else {
        (
            "edgewrite_t.function_seq = ? AND edgewrite_t.owner IN (SELECT value FROM json_each(?))"
                .to_string(),
            vec![Value::Integer(f.seq), json!(ctx.caller.roles()).to_string().into()],
        )
    };
    let page = query::plan(&options, &schema, &ctx.config.limits)?
        .fetch(ctx.ports.sql, COLUMNS, Some((scope.0.as_str(), scope.1)))
        .await?;
    let executions: Vec<Json> =
        page.rows.iter().filter_map(|r| Execution::from_row(r)).map(|e| e.to_json(is_key(ctx))).collect();
    Ok(Response::json(200, &json!({"total": page.total, "executions": executions})))
}

/// `DELETE /functions/{functionId}/executions/{executionId}` (API keys).
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    if !is_key(ctx) {
        return Err(AppwriteError::new(ErrorType::UserUnauthorized, "Only API keys may delete executions."));
    }
    let f = functions::load(ctx).await?;
    let e = load(ctx, &f).await?;
    if matches!(e.status.as_str(), "waiting" | "processing") {
        return Err(AppwriteError::new(
            ErrorType::ExecutionInProgress,
            "Can't delete ongoing execution. Please wait for execution to finish before deleting it.",
        ));
    }
    ctx.ports
        .sql
        .batch(vec![Statement::new("DELETE FROM executions WHERE seq = ?", vec![Value::Integer(e.seq)])
            .expect_changes(1)])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    let _ = ctx.ports.blobs.delete(&crate::triggers::request_key(&e.id)).await;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_refuse_tricks() {
        assert_eq!(origin_of("https://API.example.com/v1/x?y"), Some("https://api.example.com".into()));
        assert_eq!(origin_of("http://127.0.0.1:8787"), Some("http://127.0.0.1:8787".into()));
        for bad in
            ["ftp://example.com/", "https://user@evil.com/", "https://a\\b/", "https:///x", "example.com"]
        {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn answers_carry_binary_bodies_as_base64() {
        let text: Json = serde_json::from_slice(&answer(200, Map::new(), b"hi".to_vec()).unwrap()).unwrap();
        assert_eq!(text["body"], "hi");
        assert!(text.get("bodyBase64").is_none());
        let binary: Json =
            serde_json::from_slice(&answer(200, Map::new(), vec![0xff, 0x00]).unwrap()).unwrap();
        assert_eq!(binary["bodyBase64"], "/wA=");
        assert!(answer(200, Map::new(), vec![b'a'; MAX_FETCH_ANSWER_BYTES + 1]).is_err());
    }
}
