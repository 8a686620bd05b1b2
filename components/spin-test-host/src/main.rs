//! `edgewrite-spin-test-host`: a small stand-in for `spin up`, for tests only. It loads the app
//! described by `spin.toml`, implements exactly the host interfaces edgewrite's Spin components
//! import (WASI 0.2 CLI basics, `wasi:http@0.3.0`, `spin:sqlite@3.1.0`, `spin:key-value@3.0.0`,
//! `spin:variables@3.0.0`) with Spin's semantics, and serves HTTP on loopback. A component that
//! imports anything else is refused at start, naming the import. Outbound HTTP (`wasi:http/client`)
//! goes out only to the component's `allowed_outbound_hosts`, as in Spin; other requests fail with
//! `HTTP-request-denied` and are logged. It is not Spin: no other triggers, one instance per
//! request.
//!
//! ```text
//! edgewrite-spin-test-host --manifest spin.toml --listen 127.0.0.1:3000 --state DIR [--var name=value]…
//! ```
//! Variables also come from `SPIN_VARIABLE_<NAME>` environment variables, as in Spin.
//!
//! `--block-networks CIDR,…` refuses outbound connections to those addresses at connect time,
//! after name resolution, as Spin's runtime configuration `block_networks` does. `--resolve
//! NAME=IP` answers a name without DNS (tests: a public-looking name that resolves to a blocked
//! address, as a DNS rebinding attack would).

mod imports;
mod manifest;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{bail, Result};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::p3::Request as WasiRequest;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::imports::{App, Grants, SpinCtx};
use crate::manifest::{AllowedHost, Manifest};

/// A store's data: WASI, WASI HTTP and the Spin interfaces over one resource table.
struct Host {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outbound,
    spin: SpinCtx,
}

/// Outbound HTTP for one component: sent with wasmtime's default client when the destination's
/// scheme, host and port are in the component's `allowed_outbound_hosts`, else denied.
#[derive(Clone)]
struct Outbound {
    component: Arc<str>,
    allowed: Arc<[AllowedHost]>,
    network: Arc<NetworkPolicy>,
}

/// What `--block-networks` and `--resolve` set.
#[derive(Default)]
struct NetworkPolicy {
    blocked: Vec<(std::net::IpAddr, u8)>,
    resolve: BTreeMap<String, std::net::IpAddr>,
}

impl NetworkPolicy {
    fn blocks(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        self.blocked.iter().any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if *bits == 0 { 0 } else { u32::MAX << (32 - u32::from(*bits)) };
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if *bits == 0 { 0 } else { u128::MAX << (128 - u32::from(*bits)) };
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// The addresses `host` stands for: an address itself, a `--resolve` answer, or DNS.
    async fn addresses(&self, host: &str, port: u16) -> Vec<std::net::IpAddr> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse() {
            return vec![ip];
        }
        if let Some(ip) = self.resolve.get(&bare.to_ascii_lowercase()) {
            return vec![*ip];
        }
        tokio::net::lookup_host((bare, port)).await.map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default()
    }
}

fn parse_cidr(text: &str) -> Result<(std::net::IpAddr, u8)> {
    let (ip, bits) = text.split_once('/').unwrap_or((text, ""));
    let ip: std::net::IpAddr =
        ip.parse().map_err(|_| wasmtime::format_err!("--block-networks: {text} is not a CIDR"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = if bits.is_empty() {
        max
    } else {
        bits.parse().map_err(|_| wasmtime::format_err!("--block-networks: {text}"))?
    };
    if bits > max {
        bail!("--block-networks: {text} has too many prefix bits");
    }
    Ok((ip, bits))
}

type OutboundIo = Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl wasmtime_wasi_http::WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: OutboundIo,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (http::Response<wasmtime_wasi_http::WasiBody>, OutboundIo),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("");
        let host = uri.host().unwrap_or("");
        if !manifest::outbound_allowed(&self.allowed, scheme, host, uri.port_u16()) {
            let port = uri.port_u16().or_else(|| manifest::default_port(scheme));
            let destination = match port {
                Some(port) => format!("{scheme}://{host}:{port}"),
                None => format!("{scheme}://{host}"),
            };
            eprintln!(
                "spin-test-host: component {} denied an outbound request to {destination} (not in its allowed_outbound_hosts)",
                self.component
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let network = self.network.clone();
        let component = self.component.clone();
        let (host, port) =
            (host.to_string(), uri.port_u16().or_else(|| manifest::default_port(scheme)).unwrap_or(80));
        let pinned = network.resolve.get(&host.to_ascii_lowercase()).copied();
        Box::new(async move {
            if !network.blocked.is_empty() {
                let addresses = network.addresses(&host, port).await;
                if let Some(ip) = addresses.iter().find(|ip| network.blocks(**ip)) {
                    eprintln!("spin-test-host: component {component} refused a connection to {host} ({ip}): a blocked network");
                    return Err(wasmtime_wasi_http::Error::DestinationIpProhibited);
                }
            }
            // A `--resolve` name is connected to at its given address, Host header unchanged.
            let request = match pinned {
                Some(ip) => {
                    let (mut parts, body) = request.into_parts();
                    let mut uri = parts.uri.clone().into_parts();
                    let authority = match ip {
                        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
                        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                    };
                    uri.authority = authority.parse().ok();
                    if let Ok(rewritten) = http::Uri::from_parts(uri) {
                        if !parts.headers.contains_key(http::header::HOST) {
                            if let Ok(value) = http::HeaderValue::from_str(&host) {
                                parts.headers.insert(http::header::HOST, value);
                            }
                        }
                        parts.uri = rewritten;
                    }
                    http::Request::from_parts(parts, body)
                }
                None => request,
            };
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as OutboundIo))
        })
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl imports::SpinView for Host {
    fn spin(&mut self) -> (&mut ResourceTable, &SpinCtx) {
        (&mut self.table, &self.spin)
    }
}

struct LoadedComponent {
    pre: ServicePre<Host>,
    grants: Arc<Grants>,
    outbound: Outbound,
}

struct Server {
    engine: Engine,
    app: Arc<App>,
    manifest: Manifest,
    components: BTreeMap<String, LoadedComponent>,
}

struct Args {
    manifest: PathBuf,
    listen: SocketAddr,
    state: PathBuf,
    vars: Vec<(String, String)>,
    network: Arc<NetworkPolicy>,
}

fn parse_args() -> Result<Args> {
    let mut manifest = PathBuf::from("spin.toml");
    let mut listen: SocketAddr = "127.0.0.1:3000".parse()?;
    let mut state = PathBuf::from(".spin");
    let mut vars = Vec::new();
    let mut network = NetworkPolicy::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--manifest" => manifest = value()?.into(),
            "--listen" => {
                listen = value()?
                    .parse::<SocketAddr>()
                    .map_err(|_| wasmtime::format_err!("--listen takes ADDR:PORT"))?
            }
            "--state" => state = value()?.into(),
            "--var" => {
                let v = value()?;
                let (k, v) = v.split_once('=').context("--var takes name=value")?;
                vars.push((k.to_string(), v.to_string()));
            }
            "--block-networks" => {
                for cidr in value()?.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    network.blocked.push(parse_cidr(cidr)?);
                }
            }
            "--resolve" => {
                let v = value()?;
                let (name, ip) = v.split_once('=').context("--resolve takes NAME=IP")?;
                let ip =
                    ip.parse().map_err(|_| wasmtime::format_err!("--resolve: {ip} is not an address"))?;
                network.resolve.insert(name.to_ascii_lowercase(), ip);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if !listen.ip().is_loopback() {
        bail!("the test host listens on loopback only");
    }
    Ok(Args { manifest, listen, state, vars, network: Arc::new(network) })
}

/// Application variable values: `--var`, then `SPIN_VARIABLE_<NAME>`, then the default.
fn variable_values(manifest: &Manifest, cli: &[(String, String)]) -> Result<BTreeMap<String, String>> {
    for (name, _) in cli.iter().filter(|(name, _)| !manifest.variables.contains_key(name)) {
        eprintln!("spin-test-host: --var {name} is not an application variable in the manifest; ignored");
    }
    let mut values = BTreeMap::new();
    for (name, var) in &manifest.variables {
        let env = std::env::var(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())).ok();
        let cli = cli.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match cli.or(env).or_else(|| var.default.clone()) {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None if var.required => bail!("variable {name} is required and has no value"),
            None => {}
        }
    }
    Ok(values)
}

fn engine() -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model_async(true);
    Engine::new(&config)
}

/// Everything the host implements, and nothing else.
fn linker(engine: &Engine) -> Result<Linker<Host>> {
    let mut linker: Linker<Host> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).context("linking wasi:cli@0.2")?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker).context("linking wasi:http@0.3")?;
    imports::add_to_linker(&mut linker).context("linking the Spin interfaces")?;
    Ok(linker)
}

fn load(args: &Args) -> Result<Server> {
    let manifest = Manifest::load(&args.manifest)?;
    let root = args.manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&args.state)?;
    let app = Arc::new(App {
        state_dir: args.state.clone(),
        variables: variable_values(&manifest, &args.vars)?,
        kv: Mutex::new(imports::open_kv(&args.state)?),
    });
    let engine = engine()?;
    let linker = linker(&engine)?;
    let mut components = BTreeMap::new();
    let network = args.network.clone();
    for (id, c) in &manifest.component {
        let path = root.join(&c.source);
        let component = Component::from_file(&engine, &path)
            .with_context(|| format!("loading component {id} from {}", path.display()))?;
        // Refuses, naming it, any import this host does not implement.
        let pre = linker
            .instantiate_pre(&component)
            .with_context(|| format!("component {id} imports something this host does not implement"))?;
        let grants = Grants {
            sqlite_databases: c.sqlite_databases.clone(),
            key_value_stores: c.key_value_stores.clone(),
            variables: c.variables.clone(),
        };
        // Expanded once, at start, from the application variables, as Spin does.
        let allowed = manifest::allowed_hosts(&c.allowed_outbound_hosts, &app.variables)
            .map_err(|e| wasmtime::format_err!("component {id}: {e}"))?;
        let outbound =
            Outbound { component: id.as_str().into(), allowed: allowed.into(), network: network.clone() };
        components.insert(
            id.clone(),
            LoadedComponent { pre: ServicePre::new(pre)?, grants: Arc::new(grants), outbound },
        );
    }
    Ok(Server { engine, app, manifest, components })
}

fn text(status: u16, body: &str) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

async fn handle(
    server: Arc<Server>,
    req: hyper::Request<hyper::body::Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    match serve(&server, req, peer).await {
        Ok(resp) => resp,
        Err(e) => {
            eprintln!("spin-test-host: request failed: {e:#}");
            text(500, "Internal Server Error")
        }
    }
}

async fn serve(
    server: &Server,
    req: hyper::Request<hyper::body::Incoming>,
    peer: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>> {
    let path = req.uri().path().to_string();
    let Some((trigger, path_info)) = manifest::route(&server.manifest.trigger.http, &path) else {
        return Ok(text(404, "Not Found"));
    };
    let component = &server.components[&trigger.component];
    let (mut parts, body) = req.into_parts();
    let body = body.collect().await.context("reading the request body")?.to_bytes();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let path_and_query =
        parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| path.clone());
    let full_url = format!("http://{host}{path_and_query}");
    parts.uri = full_url.parse::<http::Uri>().context("building the request URL")?;
    // The headers Spin adds; the adapter reads spin-full-url and spin-client-addr.
    let h = &mut parts.headers;
    for (name, value) in [
        ("spin-full-url", full_url.clone()),
        ("spin-path-info", path_info),
        ("spin-matched-route", trigger.route.clone()),
        ("spin-raw-component-route", trigger.route.clone()),
        ("spin-component-route", trigger.route.trim_end_matches("/...").to_string()),
        ("spin-base-path", "/".to_string()),
        ("spin-client-addr", peer.to_string()),
    ] {
        h.insert(name, http::HeaderValue::from_str(&value)?);
    }
    let request = http::Request::from_parts(parts, Full::new(body));

    let mut store = Store::new(
        &server.engine,
        Host {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            hooks: component.outbound.clone(),
            spin: SpinCtx { app: server.app.clone(), grants: component.grants.clone() },
        },
    );
    let service = component.pre.instantiate_async(&mut store).await?;
    let (wasi_request, io) = WasiRequest::from_http(&mut component.outbound.clone(), request);
    let response: Result<http::Response<Bytes>, _> = store
        .run_concurrent(async |store| -> wasmtime::Result<_> {
            let (response, ()) = tokio::try_join!(
                async {
                    let response = match service.handle(store, wasi_request).await? {
                        Ok(r) => r,
                        Err(code) => return Ok(Err(code)),
                    };
                    let response = store.with(|s| response.into_http(s, async { Ok(()) }))?;
                    let (parts, body) = response.into_parts();
                    let body = body.collect().await.context("collecting the response body")?.to_bytes();
                    wasmtime::Result::Ok(Ok(http::Response::from_parts(parts, body)))
                },
                async { io.await.context("consuming the request body") }
            )?;
            Ok(response)
        })
        .await??;
    match response {
        Ok(r) => Ok(r.map(Full::new)),
        Err(code) => Ok(text(500, &format!("component error: {code:?}"))),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let server = Arc::new(load(&args)?);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!(
        "spin-test-host: serving {} component(s) from {} on http://{}",
        server.components.len(),
        args.manifest.display(),
        args.listen
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        let server = server.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(server, req, peer).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                eprintln!("spin-test-host: connection error: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_importing_something_else_is_refused_by_name() {
        let engine = engine().unwrap();
        let linker = linker(&engine).unwrap();
        let component = Component::new(
            &engine,
            r#"(component (import "spin:mqtt/mqtt@3.0.0" (instance (export "publish" (func)))))"#,
        )
        .unwrap();
        let err = linker.instantiate_pre(&component).err().expect("an unknown import is refused");
        assert!(format!("{err:#}").contains("spin:mqtt/mqtt@3.0.0"), "{err:#}");
    }

    fn outbound(entries: &[&str]) -> Outbound {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        let allowed = manifest::allowed_hosts(&entries, &BTreeMap::new()).unwrap();
        Outbound { component: "test".into(), allowed: allowed.into(), network: Default::default() }
    }

    async fn send(hooks: &mut Outbound, url: &str) -> Result<u16, wasmtime_wasi_http::Error> {
        use wasmtime_wasi_http::WasiHttpHooks as _;
        let body = http_body_util::Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
        let request = http::Request::get(url).body(body).unwrap();
        let fut = hooks.send_request(request, None, Box::new(async { Ok(()) }));
        let (response, _io) = Box::into_pin(fut).await?;
        Ok(response.status().as_u16())
    }

    #[tokio::test]
    async fn outbound_requests_are_denied_unless_allowed_and_forwarded_if_allowed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service_fn(|_req| async {
                let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                *r.status_mut() = hyper::StatusCode::IM_A_TEAPOT;
                Ok::<_, std::convert::Infallible>(r)
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
        let url = format!("http://127.0.0.1:{port}/x");
        for denied in [outbound(&[]), outbound(&["https://127.0.0.1:*"]), outbound(&["http://localhost:*"])] {
            let err = send(&mut denied.clone(), &url).await.expect_err("denied");
            assert!(matches!(err, wasmtime_wasi_http::Error::HttpRequestDenied), "{err:?}");
        }
        let mut allowed = outbound(&[&format!("http://127.0.0.1:{port}")]);
        assert_eq!(send(&mut allowed, &url).await.unwrap(), 418);
    }
}
