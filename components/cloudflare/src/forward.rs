//! The Worker's side of serving in the project's object: which requests go there, sending one
//! across, and finishing what the object hands back (Argon2 tasks, file bytes from R2).

use std::cell::Cell;

use edgewrite_core::ports::{Task, TaskOutput};
use edgewrite_core::router::{self, Match};
use edgewrite_core::{Config, Method};
use js_sys::Uint8Array;
use worker::{Env, Headers, Request, RequestInit, Response};

use crate::wire::{Done, Reply, COUNTRY_HEADER, DONE_HEADER, INTERNAL_PREFIX, REPLY_HEADER, SERVE_HEADER};
use crate::CryptoRandom;

/// Routes the Worker serves itself although they touch the project's SQL: their CPU-heavy
/// part (a function run, a deployment's build, an image preview, drawing initials) must not
/// hold up the project's single-threaded object.
const WORKER_ROUTES: &[&str] = &[
    "executions.create",
    "deployments.create",
    "files.preview",
    "avatars.initials",
    "avatars.image",
    "avatars.favicon",
];

/// The project whose object serves `req`, or `None` when the Worker answers it alone: CORS
/// preflights, unknown routes and projects, routes that need no project state, and
/// [`WORKER_ROUTES`].
pub(crate) fn object_for(req: &edgewrite_core::Request, config: &Config) -> Option<String> {
    if req.method == Method::Options {
        return None;
    }
    let project = edgewrite_core::serve::project_of(req).filter(|p| config.serves_project(p))?;
    let Match::Found { route, .. } = router::find(crate::CAPABILITIES, req.method, &req.path) else {
        return None;
    };
    // A key is checked against the project's stored keys even on routes that need no project.
    let needs_state = route.needs_project || req.header("x-appwrite-key").is_some();
    (needs_state && !WORKER_ROUTES.contains(&route.name)).then_some(project)
}

/// Serves `req` in `project`'s object: one crossing, or two when the object leaves tasks to
/// the Worker (sign-up, login and password changes hash here, in parallel Workers, not in the
/// object every request of the project waits on).
pub(crate) async fn serve(
    req: &edgewrite_core::Request,
    headers: &Headers,
    url: &str,
    project: &str,
    env: &Env,
    config: &Config,
    crossings: &Cell<u32>,
) -> worker::Result<Response> {
    let stub = env.durable_object(crate::DATABASE_BINDING)?.get_by_name(project)?;
    let mut done: Option<Done> = None;
    loop {
        crossings.set(crossings.get() + 1);
        let mut resp = stub.fetch_with_request(forwarded(req, headers, url, project, done.as_ref())?).await?;
        if resp.status_code() == 101 || resp.headers().get(REPLY_HEADER)?.is_none() {
            return Ok(resp);
        }
        let reply: Reply = resp.json().await?;
        match reply {
            Reply::Tasks(tasks) if done.is_none() => done = Some(perform(tasks, config)?),
            Reply::Tasks(_) => {
                return Err(worker::Error::RustError("the object asked for tasks twice".into()))
            }
            Reply::Blobs { project, parts } => {
                let mut response = edgewrite_core::Response::new(resp.status_code());
                for (name, value) in resp.headers().entries() {
                    if !name.starts_with(INTERNAL_PREFIX) {
                        response.headers.append(&name, value);
                    }
                }
                let parts = parts
                    .into_iter()
                    .map(|(key, start, end)| (key, edgewrite_core::ports::ByteRange { start, end }))
                    .collect();
                response.blob_body = Some(edgewrite_core::http::BlobBody { project, parts });
                return crate::from_core_with(response, Some(env));
            }
        }
    }
}

/// The request as the object receives it: the client's, with its headers copied in one call
/// and any internal ones a client sent dropped, marked with its project, and with the tasks'
/// outputs when it comes again.
fn forwarded(
    req: &edgewrite_core::Request,
    client_headers: &Headers,
    url: &str,
    project: &str,
    done: Option<&Done>,
) -> worker::Result<Request> {
    let headers = Headers(web_sys::Headers::new_with_headers(&client_headers.0)?);
    for internal in [SERVE_HEADER, DONE_HEADER, REPLY_HEADER, COUNTRY_HEADER] {
        headers.delete(internal)?;
    }
    headers.set(SERVE_HEADER, project)?;
    if !req.country.is_empty() {
        headers.set(COUNTRY_HEADER, &req.country)?;
    }
    if let Some(done) = done {
        let done = serde_json::to_string(done).map_err(|e| worker::Error::RustError(e.to_string()))?;
        headers.set(DONE_HEADER, &done)?;
    }
    let mut init = RequestInit::new();
    // The object's own redirects (OAuth2) are the client's to follow, not the stub's.
    init.with_method(worker::Method::from(req.method.as_str().to_string()))
        .with_headers(headers)
        .with_redirect(worker::RequestRedirect::Manual);
    if !req.body.is_empty() {
        init.with_body(Some(Uint8Array::from(req.body.as_slice()).into()));
    }
    Request::new_with_init(url, &init)
}

/// Does the object's tasks here, in the Worker.
fn perform(tasks: Vec<Task>, config: &Config) -> worker::Result<Done> {
    tasks
        .into_iter()
        .map(|task| {
            let output: TaskOutput =
                edgewrite_account::password::perform(&task, &CryptoRandom, &config.password)
                    .map_err(|e| worker::Error::RustError(e.message.clone()))?;
            Ok((task, output))
        })
        .collect()
}
