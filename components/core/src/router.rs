//! Routing by method and path template (`/v1/databases/{databaseId}/collections`).

use async_trait::async_trait;

use crate::config::Config;
use crate::error::AppwriteError;
use crate::http::{percent_decode, Method, Request, Response};
use crate::identity::Caller;
use crate::params::Params;
use crate::ports::{Event, Ports};

/// One endpoint of a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// Template with `{name}` slots, starting at `/v1`.
    pub path: &'static str,
    /// Scope the caller must hold; `None` for routes open to anyone.
    pub scope: Option<&'static str>,
    /// Whether the route needs a project (`X-Appwrite-Project`).
    pub needs_project: bool,
    /// Stable name the capability dispatches on (`health.get`).
    pub name: &'static str,
}

/// What a handler gets: the request, its typed parameters, the caller and the project's ports.
pub struct Ctx<'a> {
    pub request: &'a Request,
    pub params: Params,
    pub caller: Caller,
    pub config: &'a Config,
    /// The project id, when the route needs one.
    pub project: Option<&'a str>,
    pub ports: Ports<'a>,
    /// The deployment's own API, for work that calls it from inside a request (a function's
    /// `fetch` to its project).
    pub api: &'a dyn LocalApi,
}

/// The deployment's pipeline, called without the network: the same routing, limits and
/// authentication as a request from outside.
#[async_trait(?Send)]
pub trait LocalApi {
    /// Serves `request` as if it had arrived from outside.
    async fn call(&self, request: Request) -> Response;
    /// How many calls deep this request is (0 for one from outside): lets a capability refuse
    /// to recurse without end.
    fn depth(&self) -> u8;
    /// Tells every capability that a write committed with `events`.
    async fn committed(&self, ctx: &Ctx<'_>, events: &[Event]);
}

/// No API to call: for contexts built outside the pipeline.
pub struct NoLocalApi;

#[async_trait(?Send)]
impl LocalApi for NoLocalApi {
    async fn call(&self, _request: Request) -> Response {
        Response::error(&AppwriteError::new(
            crate::error::ErrorType::GeneralServiceDisabled,
            "The API cannot be called from here.",
        ))
    }
    fn depth(&self) -> u8 {
        u8::MAX
    }
    async fn committed(&self, _ctx: &Ctx<'_>, _events: &[Event]) {}
}

/// An Appwrite endpoint group (account, databases, health …).
#[async_trait(?Send)]
pub trait Capability {
    fn routes(&self) -> &'static [Route];
    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError>;

    /// Runs a queued job of `kind` (its payload is `ctx.params`); `Ok(false)` when the job is
    /// not this capability's.
    async fn run_job(&self, _kind: &str, _ctx: &Ctx<'_>) -> Result<bool, AppwriteError> {
        Ok(false)
    }

    /// Called after a write committed and published `events` (a function's `events` trigger).
    async fn committed(&self, _ctx: &Ctx<'_>, _events: &[Event]) {}
}

/// Outcome of matching a path against every route.
pub enum Match<'c> {
    Found {
        capability: &'c dyn Capability,
        route: &'static Route,
        params: Vec<(String, String)>,
    },
    /// The path exists, but not for this method.
    WrongMethod,
    NotFound,
}

/// Finds the route for `method` and `path`.
pub fn find<'c>(capabilities: &[&'c dyn Capability], method: Method, path: &str) -> Match<'c> {
    let mut path_exists = false;
    for capability in capabilities {
        for route in capability.routes() {
            let Some(params) = match_template(route.path, path) else { continue };
            // HEAD is served by the GET route (adapters drop the body).
            if route.method == method || (method == Method::Head && route.method == Method::Get) {
                return Match::Found { capability: *capability, route, params };
            }
            path_exists = true;
        }
    }
    if path_exists {
        Match::WrongMethod
    } else {
        Match::NotFound
    }
}

/// Matches `/v1/x/{id}` against `/v1/x/abc`; slots get the percent-decoded segment.
pub fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    // Every request tries hundreds of templates: refuse most by their literal start and their
    // number of segments before splitting anything.
    let literal = &template[..template.find('{').unwrap_or(template.len())];
    let slashes = |s: &str| s.bytes().filter(|b| *b == b'/').count();
    if !path.starts_with(literal) || slashes(template) != slashes(path) {
        return None;
    }
    let mut t = template.split('/');
    let mut p = path.split('/');
    let mut params = Vec::new();
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.push((name.to_string(), percent_decode(ps)?));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_capture_decoded_slots() {
        let got = match_template(
            "/v1/databases/{databaseId}/collections/{collectionId}",
            "/v1/databases/db%201/collections/c",
        )
        .unwrap();
        assert_eq!(got, vec![("databaseId".into(), "db 1".into()), ("collectionId".into(), "c".into())]);
        assert!(match_template("/v1/health", "/v1/health/").is_some());
        assert!(match_template("/v1/health", "/v1/healthz").is_none());
        assert!(match_template("/v1/x/{id}", "/v1/x/").is_none());
        assert!(match_template("/v1/x/{id}", "/v1/x/%zz").is_none());
        assert!(match_template("/v1/x/{id}", "/v1/x/a/b").is_none());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_path_matches_or_not_without_panicking(path in ".{0,120}") {
            let _ = super::match_template("/v1/databases/{databaseId}/collections/{collectionId}", &path);
        }
    }
}
