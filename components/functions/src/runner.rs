//! The embedded interpreter: a deployment's WASI preview-1 module run by `wasmi`, metered by
//! fuel and capped in memory, with standard input, output and error, environment variables,
//! clocks and randomness provided here, and two edgewrite imports (`log`, `fetch`).
//!
//! Nothing here does I/O: a `fetch` from the guest suspends the call (a resumable host trap),
//! [`Run::step`] hands the request to the caller, and the answer resumes the guest. So the
//! same code runs inside the Worker, a Spin component and `cargo test`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use sha2::{Digest, Sha256};
use wasmi::{
    CompilationMode, Config, Engine, Error, Extern, ExternType, FuncType, Linker, Memory, Module,
    ResourceLimiter, ResumableCall, ResumableCallHostTrap, Store, Val, ValType,
};
use wasmi_core::LimiterError;

/// WASI's errno values the shim answers with.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_NOSYS: i32 = 52;

/// The import module of edgewrite's own host functions.
pub const HOST_MODULE: &str = "edgewrite";
const WASI_MODULE: &str = "wasi_snapshot_preview1";
/// Largest standard output (the response) a run may write; more is dropped.
pub const MAX_STDOUT_BYTES: usize = 5 * 1024 * 1024;
/// Largest standard error kept (Appwrite keeps the last 4,000 characters of `errors`).
const MAX_STDERR_BYTES: usize = 64 * 1024;
/// Largest text kept of `logs`.
const MAX_LOG_BYTES: usize = 64 * 1024;
/// Most `fetch` calls one run may make, and the largest request one may send.
pub const MAX_FETCHES: u32 = 50;
pub const MAX_FETCH_REQUEST_BYTES: usize = 1024 * 1024;
/// Most buffers one `fd_read`/`fd_write` may name.
const MAX_IOVECS: usize = 1024;
/// Most bytes one `random_get` may ask for.
const MAX_RANDOM_BYTES: usize = 64 * 1024;
/// Host functions pay one unit of fuel per this many bytes they move.
const BYTES_PER_FUEL: u64 = 8;

/// Why a module cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

/// A module checked for deployment: valid WebAssembly, importing only what edgewrite
/// provides, exporting `_start` and a memory.
pub fn check(bytes: &[u8]) -> Result<(), BuildError> {
    let module =
        Module::new(&engine(), bytes).map_err(|e| BuildError(format!("invalid WebAssembly module: {e}")))?;
    for import in module.imports() {
        let known = match import.module() {
            WASI_MODULE => true,
            HOST_MODULE => HOST_FUNCTIONS.contains(&import.name()),
            _ => false,
        };
        if !known || !matches!(import.ty(), ExternType::Func(_)) {
            return Err(BuildError(format!(
                "unsupported import {}::{}: a function may import WASI preview 1 ({WASI_MODULE}) and {HOST_MODULE}::{{{}}}",
                import.module(),
                import.name(),
                HOST_FUNCTIONS.join(", ")
            )));
        }
    }
    let exports: Vec<_> = module.exports().map(|e| (e.name().to_string(), e.ty().clone())).collect();
    if !exports.iter().any(|(n, t)| {
        n == "_start" && matches!(t, ExternType::Func(f) if f.params().is_empty() && f.results().is_empty())
    }) {
        return Err(BuildError("the module exports no `_start` function (build a WASI command, e.g. a Rust binary for wasm32-wasip1)".into()));
    }
    if !exports.iter().any(|(n, t)| n == "memory" && matches!(t, ExternType::Memory(_))) {
        return Err(BuildError("the module exports no `memory`".into()));
    }
    Ok(())
}

const HOST_FUNCTIONS: &[&str] = &["log", "fetch", "fetch_read"];

thread_local! {
    static ENGINE: Engine = {
        let mut config = Config::default();
        config.consume_fuel(true);
        // Validate everything up front, translate each function on its first call: a cold
        // start pays only for the code a request runs.
        config.compilation_mode(CompilationMode::LazyTranslation);
        Engine::new(&config)
    };
    /// Compiled modules by blob key, with their size: a warm isolate skips fetching and
    /// validating them.
    static MODULES: RefCell<VecDeque<(String, Module, usize)>> = const { RefCell::new(VecDeque::new()) };
}

/// Modules kept compiled per isolate, and their most bytes together.
const CACHED_MODULES: usize = 8;
const CACHED_BYTES: usize = 32 * 1024 * 1024;

fn engine() -> Engine {
    ENGINE.with(Engine::clone)
}

/// The compiled module cached under `key`, if any.
pub fn cached(key: &str) -> Option<Module> {
    MODULES.with(|m| m.borrow().iter().find(|(k, _, _)| k == key).map(|(_, m, _)| m.clone()))
}

/// Compiles `bytes` and keeps the module under `key`.
pub fn compile(key: &str, bytes: &[u8]) -> Result<Module, BuildError> {
    let module = Module::new(&engine(), bytes).map_err(|e| BuildError(e.to_string()))?;
    MODULES.with(|m| {
        let mut m = m.borrow_mut();
        m.retain(|(k, _, _)| k != key);
        while m.len() >= CACHED_MODULES
            || (!m.is_empty() && m.iter().map(|e| e.2).sum::<usize>() + bytes.len() > CACHED_BYTES)
        {
            m.pop_front();
        }
        m.push_back((key.to_string(), module.clone(), bytes.len()));
    });
    Ok(module)
}

/// What one run is given.
pub struct Input {
    pub stdin: Vec<u8>,
    /// `KEY=value` pairs.
    pub env: Vec<(String, String)>,
    pub fuel: u64,
    pub memory_bytes: usize,
    /// Seeds the guest's `random_get`.
    pub seed: [u8; 32],
    pub now_ms: i64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `_start` returned, or the guest called `proc_exit` with this code.
    Exited(i32),
    /// The fuel ran out: the timeout's CPU budget.
    OutOfFuel,
    /// The guest asked for more memory than the cap.
    OutOfMemory,
    /// A trap or a host refusal, as text.
    Trapped(String),
}

/// What a run left behind.
#[derive(Debug, Default, Clone)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub logs: String,
    pub fuel_used: u64,
}

/// A `fetch` the guest is waiting on: its request as the guest wrote it (JSON).
pub struct PendingFetch(pub Vec<u8>);

/// The state a module's host functions reach through the store.
struct Host {
    stdin: Vec<u8>,
    stdin_pos: usize,
    output: Output,
    env: Vec<u8>,
    env_count: usize,
    limiter: Limiter,
    seed: [u8; 32],
    counter: u64,
    now_ns: u64,
    pending: Option<Vec<u8>>,
    fetch_answer: Vec<u8>,
    /// Whether `fetch_answer` is a refusal (the guest sees a negative length).
    fetch_refused: bool,
    fetches: u32,
    exit: Option<i32>,
}

struct Limiter {
    memory_bytes: usize,
    refused: Rc<RefCell<bool>>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        if desired > self.memory_bytes || maximum.is_some_and(|m| desired > m) {
            *self.refused.borrow_mut() = true;
            return Ok(false);
        }
        Ok(true)
    }
    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        Ok(desired <= 100_000 && maximum.is_none_or(|m| desired <= m))
    }
    fn instances(&self) -> usize {
        1
    }
    fn tables(&self) -> usize {
        4
    }
    fn memories(&self) -> usize {
        1
    }
}

/// The host error that suspends the guest at a `fetch`.
#[derive(Debug)]
struct FetchSuspend;

impl std::fmt::Display for FetchSuspend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fetch pending")
    }
}
impl wasmi::errors::HostError for FetchSuspend {}

/// One run in progress.
pub struct Run {
    store: Store<Host>,
    state: State,
    memory_refused: Rc<RefCell<bool>>,
    fuel: u64,
}

enum State {
    Start(wasmi::Func),
    Suspended(ResumableCallHostTrap),
    Done,
}

/// What [`Run::step`] needs next.
pub enum Step {
    /// The guest waits on this `fetch`; answer with [`Run::answer`].
    Fetch(PendingFetch),
    Finished(Outcome, Output),
}

impl Run {
    /// Instantiates `module` with `input`; a module that fails to start is a finished run.
    pub fn new(module: &Module, input: Input) -> Result<Run, (Outcome, Output)> {
        let refused = Rc::new(RefCell::new(false));
        let mut env = Vec::new();
        for (k, v) in &input.env {
            env.extend_from_slice(k.as_bytes());
            env.push(b'=');
            env.extend_from_slice(v.as_bytes());
            env.push(0);
        }
        let host = Host {
            stdin: input.stdin,
            stdin_pos: 0,
            output: Output::default(),
            env_count: input.env.len(),
            env,
            limiter: Limiter { memory_bytes: input.memory_bytes, refused: refused.clone() },
            seed: input.seed,
            counter: 0,
            now_ns: u64::try_from(input.now_ms).unwrap_or(0).saturating_mul(1_000_000),
            pending: None,
            fetch_answer: Vec::new(),
            fetch_refused: false,
            fetches: 0,
            exit: None,
        };
        let mut store = Store::new(module.engine(), host);
        store.limiter(|host| &mut host.limiter);
        let fail = |store: Store<Host>, outcome: Outcome| (outcome, store.into_data().output);
        if store.set_fuel(input.fuel).is_err() {
            return Err(fail(store, Outcome::Trapped("fuel metering is off".into())));
        }
        let linker = match linker(module) {
            Ok(l) => l,
            Err(e) => return Err(fail(store, Outcome::Trapped(e))),
        };
        let instance = match linker.instantiate_and_start(&mut store, module) {
            Ok(i) => i,
            Err(e) => {
                let outcome = classify(&e, *refused.borrow(), &store);
                return Err(fail(store, outcome));
            }
        };
        let Some(start) = instance.get_func(&store, "_start") else {
            return Err(fail(store, Outcome::Trapped("the module exports no `_start`".into())));
        };
        Ok(Run { store, state: State::Start(start), memory_refused: refused, fuel: input.fuel })
    }

    /// Runs the guest until it finishes or waits on a `fetch`.
    pub fn step(&mut self) -> Step {
        let result = match std::mem::replace(&mut self.state, State::Done) {
            State::Start(f) => f.call_resumable(&mut self.store, &[], &mut []).map(|call| match call {
                ResumableCall::Finished => None,
                ResumableCall::HostTrap(t) => Some(Ok(t)),
                ResumableCall::OutOfFuel(_) => Some(Err(Outcome::OutOfFuel)),
            }),
            State::Suspended(trap) => {
                let host = self.store.data();
                let answer = i32::try_from(host.fetch_answer.len()).unwrap_or(i32::MAX);
                let code = if host.fetch_refused { -answer } else { answer };
                trap.resume(&mut self.store, &[Val::I32(code)], &mut []).map(|call| match call {
                    ResumableCall::Finished => None,
                    ResumableCall::HostTrap(t) => Some(Ok(t)),
                    ResumableCall::OutOfFuel(_) => Some(Err(Outcome::OutOfFuel)),
                })
            }
            State::Done => return self.finish(Outcome::Trapped("the run already ended".into())),
        };
        match result {
            Ok(None) => {
                let code = self.store.data().exit.unwrap_or(0);
                self.finish(Outcome::Exited(code))
            }
            Ok(Some(Err(outcome))) => self.finish(outcome),
            Ok(Some(Ok(trap))) if trap.host_error().downcast_ref::<FetchSuspend>().is_some() => {
                let request = self.store.data_mut().pending.take().unwrap_or_default();
                self.state = State::Suspended(trap);
                Step::Fetch(PendingFetch(request))
            }
            Ok(Some(Ok(trap))) => {
                let error = trap.into_host_error();
                let outcome = classify(&error, *self.memory_refused.borrow(), &self.store);
                self.finish(outcome)
            }
            Err(error) => {
                let outcome = classify(&error, *self.memory_refused.borrow(), &self.store);
                self.finish(outcome)
            }
        }
    }

    /// Answers the pending `fetch`: `Ok` with the response JSON, `Err` with a refusal.
    pub fn answer(&mut self, answer: Result<Vec<u8>, String>) {
        let host = self.store.data_mut();
        match answer {
            Ok(bytes) => {
                host.fetch_answer = bytes;
                host.fetch_refused = false;
            }
            Err(reason) => {
                host.fetch_answer = reason.into_bytes();
                host.fetch_refused = true;
            }
        }
    }

    fn finish(&mut self, outcome: Outcome) -> Step {
        let left = self.store.get_fuel().unwrap_or(0);
        let host = self.store.data_mut();
        let mut output = std::mem::take(&mut host.output);
        output.fuel_used = self.fuel.saturating_sub(left);
        Step::Finished(outcome, output)
    }
}

fn classify(error: &Error, memory_refused: bool, store: &Store<Host>) -> Outcome {
    if let Some(code) = error.i32_exit_status() {
        return Outcome::Exited(code);
    }
    if let Some(code) = store.data().exit {
        return Outcome::Exited(code);
    }
    if matches!(error.as_trap_code(), Some(wasmi::TrapCode::OutOfFuel)) {
        return Outcome::OutOfFuel;
    }
    // A guest whose allocation was refused usually aborts (`unreachable`) right after.
    if memory_refused {
        return Outcome::OutOfMemory;
    }
    Outcome::Trapped(error.to_string())
}

fn memory_of(caller: &wasmi::Caller<'_, Host>) -> Option<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

fn read_bytes(caller: &wasmi::Caller<'_, Host>, ptr: i32, len: usize) -> Option<Vec<u8>> {
    let memory = memory_of(caller)?;
    let data = memory.data(caller);
    let start = ptr as u32 as usize;
    data.get(start..start.checked_add(len)?).map(<[u8]>::to_vec)
}

fn write_bytes(caller: &mut wasmi::Caller<'_, Host>, ptr: i32, bytes: &[u8]) -> bool {
    let Some(memory) = memory_of(caller) else { return false };
    memory.write(caller, ptr as u32 as usize, bytes).is_ok()
}

fn write_u32(caller: &mut wasmi::Caller<'_, Host>, ptr: i32, v: u32) -> bool {
    write_bytes(caller, ptr, &v.to_le_bytes())
}

fn write_u64(caller: &mut wasmi::Caller<'_, Host>, ptr: i32, v: u64) -> bool {
    write_bytes(caller, ptr, &v.to_le_bytes())
}

/// Charges the guest fuel for `bytes` a host function moves, so copying is metered like the
/// guest's own instructions; a run that cannot pay traps out of fuel.
fn charge(caller: &mut wasmi::Caller<'_, Host>, bytes: usize) -> Result<(), Error> {
    let cost = (bytes as u64).div_ceil(BYTES_PER_FUEL);
    let left = caller.get_fuel().unwrap_or(0);
    if cost > left {
        let _ = caller.set_fuel(0);
        return Err(Error::from(wasmi::TrapCode::OutOfFuel));
    }
    caller.set_fuel(left - cost).map_err(|e| Error::new(e.to_string()))
}

/// The `(ptr, len)` pairs of an iovec array of at most [`MAX_IOVECS`] entries.
fn iovecs(caller: &wasmi::Caller<'_, Host>, ptr: i32, count: i32) -> Option<Vec<(i32, usize)>> {
    let count = usize::try_from(count).ok().filter(|c| *c <= MAX_IOVECS)?;
    let raw = read_bytes(caller, ptr, count * 8)?;
    Some(
        raw.chunks_exact(8)
            .map(|c| {
                let p = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i32;
                let l = u32::from_le_bytes([c[4], c[5], c[6], c[7]]) as usize;
                (p, l)
            })
            .collect(),
    )
}

type HostCaller<'a> = wasmi::Caller<'a, Host>;

fn fd_write(mut caller: HostCaller<'_>, fd: i32, iovs: i32, count: i32, written: i32) -> Result<i32, Error> {
    let cap = match fd {
        1 => MAX_STDOUT_BYTES,
        2 => MAX_STDERR_BYTES,
        _ => return Ok(ERRNO_BADF),
    };
    let Some(list) = iovecs(&caller, iovs, count) else { return Ok(ERRNO_FAULT) };
    let mut total = 0u32;
    for (p, len) in list {
        charge(&mut caller, len)?;
        // Past the cap, writes succeed and are dropped without being copied.
        let output = &caller.data().output;
        let held = if fd == 1 { output.stdout.len() } else { output.stderr.len() };
        let keep = len.min(cap.saturating_sub(held));
        if keep > 0 {
            let Some(bytes) = read_bytes(&caller, p, keep) else { return Ok(ERRNO_FAULT) };
            let output = &mut caller.data_mut().output;
            let target = if fd == 1 { &mut output.stdout } else { &mut output.stderr };
            target.extend_from_slice(&bytes);
        }
        total = total.saturating_add(u32::try_from(len).unwrap_or(u32::MAX));
    }
    Ok(if write_u32(&mut caller, written, total) { ERRNO_SUCCESS } else { ERRNO_FAULT })
}

fn fd_read(mut caller: HostCaller<'_>, fd: i32, iovs: i32, count: i32, read: i32) -> Result<i32, Error> {
    if fd != 0 {
        return Ok(ERRNO_BADF);
    }
    let Some(list) = iovecs(&caller, iovs, count) else { return Ok(ERRNO_FAULT) };
    let mut total = 0usize;
    for (p, len) in list {
        let host = caller.data();
        let rest = host.stdin.len().saturating_sub(host.stdin_pos);
        let n = rest.min(len);
        if n == 0 {
            break;
        }
        charge(&mut caller, n)?;
        let host = caller.data();
        let chunk = host.stdin[host.stdin_pos..host.stdin_pos + n].to_vec();
        if !write_bytes(&mut caller, p, &chunk) {
            return Ok(ERRNO_FAULT);
        }
        caller.data_mut().stdin_pos += n;
        total += n;
        if n < len {
            break;
        }
    }
    Ok(if write_u32(&mut caller, read, total as u32) { ERRNO_SUCCESS } else { ERRNO_FAULT })
}

fn environ_get(mut caller: HostCaller<'_>, environ: i32, buf: i32) -> Result<i32, Error> {
    let env = std::mem::take(&mut caller.data_mut().env);
    charge(&mut caller, env.len())?;
    let mut ok = write_bytes(&mut caller, buf, &env);
    let mut offset = 0usize;
    let mut slot = environ;
    for entry in env.split_inclusive(|b| *b == 0) {
        ok = ok && write_u32(&mut caller, slot, (buf as u32).wrapping_add(offset as u32));
        offset += entry.len();
        slot = slot.wrapping_add(4);
    }
    caller.data_mut().env = env;
    Ok(if ok { ERRNO_SUCCESS } else { ERRNO_FAULT })
}

fn random_get(mut caller: HostCaller<'_>, buf: i32, len: i32) -> Result<i32, Error> {
    let len = len as u32 as usize;
    if len > MAX_RANDOM_BYTES {
        return Ok(ERRNO_INVAL);
    }
    charge(&mut caller, len * 8)?;
    let mut bytes = Vec::with_capacity(len + 32);
    while bytes.len() < len {
        let host = caller.data_mut();
        host.counter += 1;
        let block = Sha256::new().chain_update(host.seed).chain_update(host.counter.to_le_bytes()).finalize();
        bytes.extend_from_slice(&block);
    }
    bytes.truncate(len);
    Ok(if write_bytes(&mut caller, buf, &bytes) { ERRNO_SUCCESS } else { ERRNO_FAULT })
}

fn fd_fdstat_get(mut caller: HostCaller<'_>, fd: i32, out: i32) -> i32 {
    if !(0..=2).contains(&fd) {
        return ERRNO_BADF;
    }
    // A character device with no flags and every right on it.
    let mut stat = [0u8; 24];
    stat[0] = 2;
    stat[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    stat[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    if write_bytes(&mut caller, out, &stat) {
        ERRNO_SUCCESS
    } else {
        ERRNO_FAULT
    }
}

/// `edgewrite::log(ptr, len)`: a line of `logs`, kept up to [`MAX_LOG_BYTES`].
fn log(mut caller: HostCaller<'_>, ptr: i32, len: i32) -> Result<(), Error> {
    let len = len as u32 as usize;
    charge(&mut caller, len)?;
    let room = MAX_LOG_BYTES.saturating_sub(caller.data().output.logs.len());
    if room == 0 {
        return Ok(());
    }
    if let Some(bytes) = read_bytes(&caller, ptr, len.min(room)) {
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        let logs = &mut caller.data_mut().output.logs;
        logs.push_str(&text);
        logs.push('\n');
    }
    Ok(())
}

/// `edgewrite::fetch(ptr, len) -> i32`: suspends the guest with its request; the answer's
/// length comes back (negative for a refusal), to be read with `fetch_read`.
fn fetch(mut caller: HostCaller<'_>, ptr: i32, len: i32) -> Result<i32, Error> {
    let len = len as u32 as usize;
    let refusal = if caller.data().fetches >= MAX_FETCHES {
        Some(format!("a run may fetch at most {MAX_FETCHES} times"))
    } else if len > MAX_FETCH_REQUEST_BYTES {
        Some(format!("a fetch request may hold at most {MAX_FETCH_REQUEST_BYTES} bytes"))
    } else {
        None
    };
    if let Some(reason) = refusal {
        let host = caller.data_mut();
        host.fetch_answer = reason.into_bytes();
        return Ok(-(host.fetch_answer.len() as i32));
    }
    charge(&mut caller, len)?;
    let Some(request) = read_bytes(&caller, ptr, len) else { return Ok(-1) };
    let host = caller.data_mut();
    host.fetches += 1;
    host.pending = Some(request);
    Err(Error::host(FetchSuspend))
}

/// `edgewrite::fetch_read(ptr, len) -> i32`: copies (and forgets) the last answer.
fn fetch_read(mut caller: HostCaller<'_>, ptr: i32, len: i32) -> Result<i32, Error> {
    let answer = std::mem::take(&mut caller.data_mut().fetch_answer);
    let n = answer.len().min(len as u32 as usize);
    charge(&mut caller, n)?;
    Ok(if write_bytes(&mut caller, ptr, &answer[..n]) { n as i32 } else { -1 })
}

/// A linker with the WASI shim and edgewrite's imports; WASI functions the shim does not
/// provide answer `ENOSYS`.
fn linker(module: &Module) -> Result<Linker<Host>, String> {
    let mut linker = Linker::<Host>::new(module.engine());
    let e = |e: wasmi::errors::LinkerError| e.to_string();
    linker.func_wrap(WASI_MODULE, "fd_write", fd_write).map_err(e)?;
    linker.func_wrap(WASI_MODULE, "fd_read", fd_read).map_err(e)?;
    linker.func_wrap(WASI_MODULE, "environ_get", environ_get).map_err(e)?;
    linker
        .func_wrap(
            WASI_MODULE,
            "environ_sizes_get",
            |mut caller: HostCaller<'_>, count: i32, size: i32| -> i32 {
                let (n, s) = (caller.data().env_count as u32, caller.data().env.len() as u32);
                if write_u32(&mut caller, count, n) && write_u32(&mut caller, size, s) {
                    ERRNO_SUCCESS
                } else {
                    ERRNO_FAULT
                }
            },
        )
        .map_err(e)?;
    linker
        .func_wrap(
            WASI_MODULE,
            "args_sizes_get",
            |mut caller: HostCaller<'_>, count: i32, size: i32| -> i32 {
                if write_u32(&mut caller, count, 0) && write_u32(&mut caller, size, 0) {
                    ERRNO_SUCCESS
                } else {
                    ERRNO_FAULT
                }
            },
        )
        .map_err(e)?;
    linker
        .func_wrap(WASI_MODULE, "args_get", |_: HostCaller<'_>, _argv: i32, _buf: i32| -> i32 {
            ERRNO_SUCCESS
        })
        .map_err(e)?;
    linker
        .func_wrap(
            WASI_MODULE,
            "clock_time_get",
            |mut caller: HostCaller<'_>, _id: i32, _precision: i64, out: i32| -> i32 {
                let now = caller.data().now_ns;
                if write_u64(&mut caller, out, now) {
                    ERRNO_SUCCESS
                } else {
                    ERRNO_FAULT
                }
            },
        )
        .map_err(e)?;
    linker
        .func_wrap(WASI_MODULE, "clock_res_get", |mut caller: HostCaller<'_>, _id: i32, out: i32| -> i32 {
            if write_u64(&mut caller, out, 1_000_000) {
                ERRNO_SUCCESS
            } else {
                ERRNO_FAULT
            }
        })
        .map_err(e)?;
    linker.func_wrap(WASI_MODULE, "random_get", random_get).map_err(e)?;
    linker
        .func_wrap(WASI_MODULE, "proc_exit", |mut caller: HostCaller<'_>, code: i32| -> Result<(), Error> {
            caller.data_mut().exit = Some(code);
            Err(Error::i32_exit(code))
        })
        .map_err(e)?;
    linker.func_wrap(WASI_MODULE, "sched_yield", |_: HostCaller<'_>| -> i32 { ERRNO_SUCCESS }).map_err(e)?;
    linker.func_wrap(WASI_MODULE, "fd_fdstat_get", fd_fdstat_get).map_err(e)?;
    linker.func_wrap(HOST_MODULE, "log", log).map_err(e)?;
    linker.func_wrap(HOST_MODULE, "fetch", fetch).map_err(e)?;
    linker.func_wrap(HOST_MODULE, "fetch_read", fetch_read).map_err(e)?;
    // Everything else in WASI preview 1 (files, sockets, polling) is not available.
    for import in module.imports() {
        if import.module() != WASI_MODULE || PROVIDED.contains(&import.name()) {
            continue;
        }
        let ExternType::Func(ty) = import.ty() else { continue };
        let returns_errno = ty.results() == [ValType::I32];
        let ty = FuncType::new(ty.params().to_vec(), ty.results().to_vec());
        let name = import.name().to_string();
        linker
            .func_new(WASI_MODULE, import.name(), ty, move |_, _, results| {
                if returns_errno {
                    results[0] = Val::I32(ERRNO_NOSYS);
                    Ok(())
                } else {
                    Err(Error::new(format!("WASI function {name} is not available")))
                }
            })
            .map_err(e)?;
    }
    Ok(linker)
}

/// The WASI functions [`linker`] defines itself.
const PROVIDED: &[&str] = &[
    "fd_write",
    "fd_read",
    "environ_sizes_get",
    "environ_get",
    "args_sizes_get",
    "args_get",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "proc_exit",
    "sched_yield",
    "fd_fdstat_get",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn module(wat: &str) -> Module {
        compile(wat, &wat::parse_str(wat).unwrap()).unwrap()
    }

    fn input(stdin: &[u8]) -> Input {
        Input {
            stdin: stdin.to_vec(),
            env: vec![("A".into(), "1".into())],
            fuel: 10_000_000,
            memory_bytes: 2 * 65536,
            seed: [7; 32],
            now_ms: 0,
        }
    }

    fn run_to_end(m: &Module, input: Input) -> (Outcome, Output) {
        let mut run = match Run::new(m, input) {
            Ok(run) => run,
            Err(done) => return done,
        };
        match run.step() {
            Step::Finished(outcome, output) => (outcome, output),
            Step::Fetch(_) => panic!("unexpected fetch"),
        }
    }

    const WASI: &str = r#"
        (import "edgewrite" "fetch" (func $fetch (param i32 i32) (result i32)))
        (import "edgewrite" "fetch_read" (func $fetch_read (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)"#;

    #[test]
    fn standard_input_comes_back_on_standard_output() {
        let m = module(&format!(
            r#"(module {WASI}
                (func (export "_start")
                  ;; iovec at 0: buffer 64, 100 bytes; read count at 8
                  (i32.store (i32.const 0) (i32.const 64))
                  (i32.store (i32.const 4) (i32.const 100))
                  (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                  (i32.store (i32.const 4) (i32.load (i32.const 8)))
                  (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 12)))))"#
        ));
        let (outcome, output) = run_to_end(&m, input(b"{\"hello\":1}"));
        assert_eq!(outcome, Outcome::Exited(0));
        assert_eq!(output.stdout, b"{\"hello\":1}");
        assert!(output.fuel_used > 0);
    }

    #[test]
    fn an_endless_loop_runs_out_of_fuel() {
        let m = module(&format!(r#"(module {WASI} (func (export "_start") (loop $l (br $l))))"#));
        assert_eq!(run_to_end(&m, input(b"")).0, Outcome::OutOfFuel);
    }

    #[test]
    fn growing_past_the_cap_is_out_of_memory() {
        let m = module(&format!(
            r#"(module {WASI} (func (export "_start")
                 (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable))))"#
        ));
        assert_eq!(run_to_end(&m, input(b"")).0, Outcome::OutOfMemory);
        // A module whose initial memory is already over the cap does not start.
        let big = module(r#"(module (memory (export "memory") 64) (func (export "_start")))"#);
        assert_eq!(run_to_end(&big, input(b"")).0, Outcome::OutOfMemory);
    }

    #[test]
    fn host_copies_are_metered_so_huge_writes_run_out_of_fuel() {
        // fd_write of 1 GiB, again and again: the host must refuse to pay for it, not copy it.
        let m = module(&format!(
            r#"(module {WASI} (func (export "_start")
                 (i32.store (i32.const 0) (i32.const 0))
                 (i32.store (i32.const 4) (i32.const 0x40000000))
                 (loop $l (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))))"#
        ));
        let (outcome, output) = run_to_end(&m, input(b""));
        assert_eq!(outcome, Outcome::OutOfFuel);
        assert!(output.stdout.is_empty());
        // Too many buffers in one call is a fault, not a copy.
        let many = module(&format!(
            r#"(module {WASI} (func (export "_start")
                 (if (i32.ne (call $write (i32.const 1) (i32.const 0) (i32.const 100000) (i32.const 8)) (i32.const 21))
                   (then unreachable))))"#
        ));
        assert_eq!(run_to_end(&many, input(b"")).0, Outcome::Exited(0));
    }

    #[test]
    fn proc_exit_ends_the_run_with_its_code() {
        let m = module(&format!(
            r#"(module {WASI} (func (export "_start") (call $exit (i32.const 3)) unreachable))"#
        ));
        assert_eq!(run_to_end(&m, input(b"")).0, Outcome::Exited(3));
    }

    #[test]
    fn a_fetch_suspends_the_guest_until_answered() {
        let m = module(&format!(
            r#"(module {WASI}
                (data (i32.const 100) "ping")
                (func (export "_start") (local $n i32)
                  (local.set $n (call $fetch (i32.const 100) (i32.const 4)))
                  (drop (call $fetch_read (i32.const 200) (local.get $n)))
                  (i32.store (i32.const 0) (i32.const 200))
                  (i32.store (i32.const 4) (local.get $n))
                  (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#
        ));
        let mut run = Run::new(&m, input(b"")).unwrap_or_else(|_| panic!("starts"));
        let Step::Fetch(PendingFetch(request)) = run.step() else { panic!("expected a fetch") };
        assert_eq!(request, b"ping");
        run.answer(Ok(b"pong!".to_vec()));
        let Step::Finished(outcome, output) = run.step() else { panic!("expected the end") };
        assert_eq!(outcome, Outcome::Exited(0));
        assert_eq!(output.stdout, b"pong!");
    }

    #[test]
    fn deployments_are_checked_for_imports_and_exports() {
        let ok = wat::parse_str(format!(r#"(module {WASI} (func (export "_start")))"#)).unwrap();
        assert_eq!(check(&ok), Ok(()));
        let foreign = wat::parse_str(
            r#"(module (import "env" "socket" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
        )
        .unwrap();
        assert!(check(&foreign).unwrap_err().0.contains("unsupported import env::socket"));
        let no_start = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
        assert!(check(&no_start).unwrap_err().0.contains("_start"));
        assert!(check(b"\0asm\x01\0\0\0garbage").unwrap_err().0.contains("invalid WebAssembly"));
        // Unknown WASI functions link, and answer ENOSYS.
        let files = wat::parse_str(
            r#"(module (import "wasi_snapshot_preview1" "path_open" (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
               (memory (export "memory") 1) (func (export "_start")))"#,
        )
        .unwrap();
        assert_eq!(check(&files), Ok(()));
        let m = compile("files", &files).unwrap();
        assert_eq!(run_to_end(&m, input(b"")).0, Outcome::Exited(0));
    }
}
