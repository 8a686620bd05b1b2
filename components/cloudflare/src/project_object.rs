//! `ProjectDatabase`: one Durable Object per project, which serves that project's requests.
//! The Worker forwards a request once; the object runs the whole pipeline (`serve`) against its
//! own SQLite — each write batch in one `transactionSync`, all or nothing — after applying the
//! system migrations once per instance. Work the Worker keeps (Argon2) comes back as a
//! [`Reply::Tasks`]; file bytes are streamed by the Worker from a [`Reply::Blobs`]. The object
//! also answers the batches of the few routes the Worker serves itself (function runs, image
//! previews, queued jobs), holds the project's realtime WebSockets with the hibernation API
//! (each connection's state is the socket's attachment, so it survives eviction) and delivers
//! every write's events to them in commit order.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use async_trait::async_trait;
use edgewrite_core::identity::{Authenticator, Credentials, SessionCredential};
use edgewrite_core::ports::{CachedRead, Rows, Sql, Statement, StoreError, Value};
use edgewrite_core::ports::{Event, Ports};
use edgewrite_realtime::{Action, Connection, Sequencer};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{
    durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use crate::object_runtime::{ObjectOffload, ObjectRuntime};
use crate::wire::{
    Announcement, BatchReply, Done, Reply, WireRows, WireStatement, COUNTRY_HEADER, DONE_HEADER,
    REPLY_HEADER, SERVE_HEADER,
};

#[durable_object]
pub struct ProjectDatabase {
    state: State,
    env: Env,
    migrated: Cell<bool>,
    /// Random per instance: the test hook tells tests whether the object was evicted.
    instance: String,
    sequencer: RefCell<Sequencer>,
    read_cache: RefCell<ReadCache>,
}

/// Test hook (mounted with `EDGEWRITE_TEST_ROUTES=1`): `GET …?project=P` answers the project
/// object's instance id and socket count, so a test can tell that the object was evicted
/// (hibernated) while its sockets stayed connected.
pub(crate) const INSTANCE_HOOK: &str = "/v1/__edgewrite/realtime-object";

pub(crate) async fn instance(req: &Request, env: &Env) -> worker::Result<Response> {
    let url = req.url()?;
    let Some((_, project)) = url.query_pairs().find(|(k, _)| k == "project") else {
        return Response::error("project is required", 400);
    };
    let stub = env.durable_object(crate::DATABASE_BINDING)?.get_by_name(&project)?;
    stub.fetch_with_str("https://project-database/instance").await
}

impl DurableObject for ProjectDatabase {
    fn new(state: State, env: Env) -> Self {
        let instance = edgewrite_core::ids::random_hex(8, &crate::CryptoRandom);
        Self {
            state,
            env,
            migrated: Cell::new(false),
            instance,
            sequencer: RefCell::default(),
            read_cache: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if let Some(project) = req.headers().get(SERVE_HEADER)? {
            return self.serve(req, project).await;
        }
        match req.path().as_str() {
            "/publish" => {
                let announcement: Announcement = req.json().await?;
                self.announce(announcement).await;
                return Response::empty();
            }
            "/instance" => {
                return Response::from_json(&serde_json::json!({
                    "instance": self.instance,
                    "sockets": self.state.get_websockets().len(),
                }));
            }
            _ => {}
        }
        if let Err(e) = self.ready().await {
            return Response::from_json(&BatchReply::Err(e.into()));
        }
        let local = self.sql();
        let wire: Vec<WireStatement> = req.json().await?;
        let reply = match wire.into_iter().map(WireStatement::into_statement).collect::<Result<Vec<_>, _>>() {
            Ok(statements) => match local.batch(statements).await {
                Ok(rows) => BatchReply::Ok(rows.iter().map(WireRows::from).collect()),
                Err(e) => BatchReply::Err(e.into()),
            },
            Err(e) => BatchReply::Err(e.into()),
        };
        Response::from_json(&reply)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let Some(mut connection) = attachment(&ws) else { return Ok(()) };
        if connection.expired(worker::Date::now().as_millis() as i64) {
            return close_expired(&ws);
        }
        let WebSocketIncomingMessage::String(text) = message else {
            ws.send_with_str(
                r#"{"type":"error","data":{"code":1003,"message":"Message format is not valid."}}"#,
            )?;
            return Ok(());
        };
        let (frames, close) = match connection.handle(&text, worker::Date::now().as_millis() as i64) {
            Action::Send(frames) => (frames, None),
            Action::Authenticate(session) => match self.verify_session(&session).await {
                Some(caller) => {
                    let user = caller.user().map(|u| u.user_id.clone()).unwrap_or_default();
                    let account = edgewrite_account::account_model(&self.stores().ports(), &user).await;
                    (vec![connection.authenticated(&caller, account.as_ref())], None)
                }
                None => (vec![edgewrite_realtime::invalid_session()], None),
            },
            Action::Close(frame, code) => (vec![frame], Some(code)),
        };
        // The state is kept before anything is confirmed: a state the platform refuses to keep
        // (past its size limit) must not be answered as a success.
        if let Err(e) = ws.serialize_attachment(connection.to_attachment()) {
            tracing::warn!(error = %e, "closing a realtime connection whose state could not be kept");
            ws.close(Some(1011), Some("state too large"))?;
            return Ok(());
        }
        for frame in frames {
            ws.send_with_str(frame)?;
        }
        if let Some(code) = close {
            ws.close(Some(code), Some("policy"))?;
        }
        Ok(())
    }

    /// Earlier writes never announced (their Worker failed after committing): deliver past them.
    async fn alarm(&self) -> worker::Result<Response> {
        let due = self.sequencer.borrow_mut().expire(worker::Date::now().as_millis() as i64);
        if !due.is_empty() {
            tracing::warn!(
                events = due.len(),
                "realtime: earlier writes never announced; delivering past them"
            );
        }
        self.deliver(due).await;
        self.schedule_gap_alarm().await;
        Response::empty()
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _clean: bool,
    ) -> worker::Result<()> {
        // Answer the close; the runtime forgets the socket and its attachment.
        let code =
            u16::try_from(code).ok().filter(|c| *c == 1000 || (3000..5000).contains(c)).unwrap_or(1000);
        let _ = ws.close(Some(code), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, error: worker::Error) -> worker::Result<()> {
        tracing::debug!(error = %error, "a realtime socket failed");
        let _ = ws.close(Some(1011), Some("error"));
        Ok(())
    }
}

impl ProjectDatabase {
    pub(crate) fn env(&self) -> &Env {
        &self.env
    }

    pub(crate) fn sql(&self) -> LocalSql<'_> {
        LocalSql { state: &self.state, read_cache: &self.read_cache }
    }

    /// Applies the system migrations once per instance, and starts the realtime sequencer
    /// where the commits are.
    async fn ready(&self) -> Result<(), StoreError> {
        if self.migrated.get() {
            return Ok(());
        }
        let local = self.sql();
        if let Err(e) = edgewrite_sql::migrate(&local, worker::Date::now().as_millis() as i64).await {
            tracing::error!(error = %e, "migration failed");
            return Err(e);
        }
        self.migrated.set(true);
        if !self.sequencer.borrow().started() {
            let current = local
                .query(Statement::new("SELECT n FROM commit_seq WHERE id = 1", vec![]))
                .await
                .ok()
                .and_then(|r| r.rows.first()?.first()?.as_i64());
            if let Some(current) = current {
                self.sequencer.borrow_mut().start(current);
            }
        }
        Ok(())
    }

    /// Serves a request the Worker forwarded: the whole pipeline, here.
    async fn serve(&self, req: Request, project: String) -> worker::Result<Response> {
        let config = crate::config_of(&self.env);
        let config = config.as_ref();
        let done: Option<Done> = match req.headers().get(DONE_HEADER)? {
            Some(header) => {
                Some(serde_json::from_str(&header).map_err(|e| worker::Error::RustError(e.to_string()))?)
            }
            None => None,
        };
        let country = req.headers().get(COUNTRY_HEADER)?;
        let core = match crate::to_core(req, config, country.as_deref()).await {
            Ok(core) => core,
            Err(rejected) => return crate::from_core(rejected),
        };
        if let Err(e) = self.ready().await {
            return crate::from_core(edgewrite_core::serve::reject(
                &core,
                config,
                &edgewrite_core::AppwriteError::internal(e),
            ));
        }
        let runtime = ObjectRuntime {
            object: self,
            project,
            offload: ObjectOffload::new(done),
            secrets: crate::EnvSecrets(&self.env),
            jobs: crate::QueueJobs(&self.env),
        };
        let response = edgewrite_core::serve(
            &core,
            config,
            &runtime,
            crate::CAPABILITIES,
            Some(&edgewrite_account::AccountAuthenticator),
        )
        .await;
        if runtime.offload.deferring() {
            return reply(
                200,
                edgewrite_core::http::Headers::new(),
                &Reply::Tasks(runtime.offload.take_pending()),
            );
        }
        // A realtime handshake: this object takes the socket.
        if response.status == 200 && response.headers.get(edgewrite_realtime::HANDSHAKE_HEADER).is_some() {
            let connection: Connection = serde_json::from_slice(&response.body)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
            return self.accept(connection).await;
        }
        match response.blob_body {
            Some(blob_body) => {
                let parts = blob_body.parts.into_iter().map(|(key, r)| (key, r.start, r.end)).collect();
                reply(response.status, response.headers, &Reply::Blobs { project: blob_body.project, parts })
            }
            None => crate::from_core(response),
        }
    }

    /// A new realtime connection: accepted for hibernation, greeted with `connected`.
    async fn accept(&self, connection: Connection) -> worker::Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(connection.to_attachment())?;
        let account = match &connection.user_id {
            Some(user) => edgewrite_account::account_model(&self.stores().ports(), user).await,
            None => None,
        };
        pair.server.send_with_str(connection.connected_frame(account.as_ref()))?;
        Response::from_websocket(pair.client)
    }

    /// Delivers a write's events once those of every write committed before it are out. The
    /// Worker is answered at once; announcements held for an earlier one are given up on by
    /// the alarm ([`edgewrite_realtime::GAP_WAIT_MS`]).
    pub(crate) async fn announce(&self, announcement: Announcement) {
        let Announcement { seq, events } = announcement;
        let now = worker::Date::now().as_millis() as i64;
        let due = self.sequencer.borrow_mut().offer(seq, events, now);
        self.deliver(due).await;
        self.schedule_gap_alarm().await;
    }

    async fn schedule_gap_alarm(&self) {
        let Some(deadline) = self.sequencer.borrow().deadline() else { return };
        let offset = (deadline - worker::Date::now().as_millis() as i64).max(1);
        if let Err(e) = self.state.storage().set_alarm(offset).await {
            tracing::warn!(error = %e, "setting the realtime gap alarm");
        }
    }

    async fn deliver(&self, events: Vec<Event>) {
        for event in events {
            self.refresh(&event.refresh_roles).await;
            self.fan_out(&event);
        }
    }

    /// Sends `event` to every connection that subscribed to one of its channels and may read it.
    fn fan_out(&self, event: &Event) {
        let now = worker::Date::now().as_millis() as i64;
        let timestamp = edgewrite_core::time::iso_from_ms(now);
        for socket in self.state.get_websockets() {
            let Some(connection) = attachment(&socket) else { continue };
            if connection.expired(now) {
                let _ = close_expired(&socket);
                continue;
            }
            if let Some(frame) = connection.deliver(event, &timestamp) {
                if let Err(e) = socket.send_with_str(frame) {
                    tracing::debug!(error = %e, "a realtime socket refused an event");
                }
            }
        }
    }

    /// Re-checks the connections holding any of `roles`, whose sessions or memberships a write
    /// changed: each goes on as its user is now, or as a guest once its session is gone.
    async fn refresh(&self, roles: &[String]) {
        if roles.is_empty() {
            return;
        }
        for socket in self.state.get_websockets() {
            let Some(mut connection) = attachment(&socket) else { continue };
            if !connection.roles.iter().any(|r| roles.contains(r)) {
                continue;
            }
            let Some(user_id) = connection.user_id.clone() else { continue };
            let session_id = connection.session_id.clone().unwrap_or_default();
            let stores = self.stores();
            let caller =
                edgewrite_account::reload_caller(&stores.ports(), &user_id, &session_id, connection.via_jwt)
                    .await;
            connection.refresh(caller.as_ref());
            if let Err(e) = socket.serialize_attachment(connection.to_attachment()) {
                // A connection whose new state can't be kept must not keep its old roles.
                tracing::warn!(error = %e, "closing a realtime connection whose state could not be kept");
                let _ = socket.close(Some(1011), Some("state"));
            }
        }
    }

    /// The user a session (the cookie's base64 value) belongs to, checked against the project's
    /// sessions in this object's own database.
    async fn verify_session(&self, session: &str) -> Option<edgewrite_core::identity::Caller> {
        let credential = SessionCredential::decode(session)?;
        let credentials = Credentials { session: Some(credential), ..Credentials::default() };
        let stores = self.stores();
        let caller = edgewrite_account::AccountAuthenticator.session(&credentials, &stores.ports()).await;
        // A session still owing its second factor is nobody yet.
        caller.ok().flatten().filter(|c| !c.owes_second_factor())
    }

    fn stores(&self) -> ObjectStores<'_> {
        ObjectStores { sql: self.sql(), secrets: crate::EnvSecrets(&self.env) }
    }
}

/// What the object's own code (session checks) reads: its database and the secrets; no blobs,
/// KV or events here.
struct ObjectStores<'a> {
    sql: LocalSql<'a>,
    secrets: crate::EnvSecrets<'a>,
}

impl ObjectStores<'_> {
    fn ports(&self) -> Ports<'_> {
        Ports {
            sql: &self.sql,
            blobs: &edgewrite_core::serve::NoProject,
            kv: &edgewrite_core::serve::NoProject,
            clock: &crate::WorkerClock,
            random: &crate::CryptoRandom,
            events: &edgewrite_core::ports::NoSubscribers,
            secrets: &self.secrets,
            outbound: &edgewrite_core::ports::NoOutbound,
            jobs: &edgewrite_core::ports::NoJobs,
            offload: &edgewrite_core::ports::Inline,
        }
    }
}

/// Ends a connection whose session or JWT has expired: it said who it was with a credential
/// that no longer holds, so it gets nothing more, not even a guest's events.
fn close_expired(socket: &WebSocket) -> worker::Result<()> {
    socket.send_with_str(edgewrite_realtime::expired_frame())?;
    socket.close(Some(edgewrite_realtime::EXPIRED_CLOSE_CODE), Some("credential expired"))
}

/// The connection a socket's attachment holds.
fn attachment(socket: &WebSocket) -> Option<Connection> {
    socket.deserialize_attachment::<String>().ok().flatten().and_then(|a| Connection::from_attachment(&a))
}

/// An answer for the Worker to finish: `status` and `headers` are the response's.
fn reply(status: u16, headers: edgewrite_core::http::Headers, reply: &Reply) -> worker::Result<Response> {
    let mut response = edgewrite_core::Response::new(status);
    response.headers = headers;
    response.headers.set(REPLY_HEADER, "1");
    response.body = serde_json::to_vec(reply).map_err(|e| worker::Error::RustError(e.to_string()))?;
    crate::from_core(response)
}

/// The object's own SQLite, behind the `Sql` port.
pub(crate) struct LocalSql<'a> {
    state: &'a State,
    read_cache: &'a RefCell<ReadCache>,
}

/// The rows of [`Statement::cached`] reads, by kind, statement and parameters. Every write of
/// the project goes through this object, so clearing a kind on each write that names one of its
/// tables keeps it exact.
#[derive(Default)]
pub(crate) struct ReadCache(std::collections::HashMap<CachedRead, CachedRows>);

#[derive(Default)]
pub(crate) struct CachedRows {
    rows: std::collections::HashMap<String, Rows>,
    /// The keys' and values' bytes, roughly.
    bytes: usize,
}

/// What one kind may hold, in bytes of keys and values: identities are one per session in use
/// and a user's row may carry 64 kB of preferences, so a count alone would not bound the
/// isolate's memory (128 MB). Past it, that kind starts over.
const READ_CACHE_BYTES: usize = 2 << 20;

fn cache_key(statement: &Statement) -> String {
    format!("{}\u{0}{:?}", statement.sql, statement.params)
}

fn size_of(rows: &Rows) -> usize {
    let value = |v: &Value| match v {
        Value::Text(s) => s.len() + 24,
        Value::Blob(b) => b.len() + 24,
        _ => 16,
    };
    rows.rows.iter().flatten().map(value).sum::<usize>()
        + rows.columns.iter().map(|c| c.len() + 24).sum::<usize>()
}

impl ReadCache {
    fn read(
        &mut self,
        kind: CachedRead,
        statement: &Statement,
        sql: &SqlStorage,
    ) -> Result<Rows, StoreError> {
        let cached = self.0.entry(kind).or_default();
        let key = cache_key(statement);
        if let Some(rows) = cached.rows.get(&key) {
            return Ok(rows.clone());
        }
        let rows = run(sql, statement)?;
        let bytes = key.len() + size_of(&rows);
        if cached.bytes + bytes > READ_CACHE_BYTES {
            *cached = CachedRows::default();
        }
        if bytes <= READ_CACHE_BYTES {
            cached.bytes += bytes;
            cached.rows.insert(key, rows.clone());
        }
        Ok(rows)
    }

    /// Forgets every kind a statement of the write `batch` may change.
    fn clear_for(&mut self, batch: &[Statement]) {
        for kind in CachedRead::ALL {
            if batch.iter().any(|s| kind.changed_by(s)) {
                self.0.remove(&kind);
            }
        }
    }
}

fn js_error(e: worker::Error) -> StoreError {
    StoreError::from_sqlite_message(e.to_string())
}

fn bind(v: &Value) -> Result<SqlStorageValue, StoreError> {
    Ok(match v {
        Value::Null => SqlStorageValue::Null,
        // JavaScript numbers hold integers exactly only up to 2^53; refuse rather than round.
        Value::Integer(i) => SqlStorageValue::try_from_i64(*i)
            .map_err(|_| StoreError::Invalid(format!("integer {i} is outside ±2^53")))?,
        Value::Real(f) => SqlStorageValue::Float(*f),
        Value::Text(s) => SqlStorageValue::String(s.clone()),
        Value::Blob(b) => SqlStorageValue::Blob(b.clone()),
    })
}

fn unbind(v: SqlStorageValue) -> Value {
    match v {
        SqlStorageValue::Null => Value::Null,
        SqlStorageValue::Boolean(b) => Value::Integer(i64::from(b)),
        SqlStorageValue::Integer(i) => Value::Integer(i),
        SqlStorageValue::Float(f) => Value::Real(f),
        SqlStorageValue::String(s) => Value::Text(s),
        SqlStorageValue::Blob(b) => Value::Blob(b),
    }
}

fn run(sql: &SqlStorage, statement: &Statement) -> Result<Rows, StoreError> {
    let bindings = statement.params.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
    let cursor = sql.exec(&statement.sql, bindings).map_err(js_error)?;
    let columns = cursor.column_names();
    let mut rows = Vec::new();
    for row in cursor.raw() {
        rows.push(row.map_err(js_error)?.into_iter().map(unbind).collect());
    }
    let changes = if columns.is_empty() {
        let c = sql.exec("SELECT changes()", None).map_err(js_error)?;
        c.raw()
            .next()
            .and_then(|r| r.ok())
            .and_then(|r| r.into_iter().next())
            .map(unbind)
            .and_then(|v| v.as_i64())
            .unwrap_or(0) as u64
    } else {
        0
    };
    Ok(Rows { columns, rows, changes })
}

fn run_all(sql: &SqlStorage, statements: &[Statement]) -> Result<Vec<Rows>, StoreError> {
    let mut out = Vec::with_capacity(statements.len());
    for (i, statement) in statements.iter().enumerate() {
        let rows = run(sql, statement)?;
        if let Some(expected) = statement.expect_changes {
            if rows.changes != expected {
                return Err(StoreError::GuardFailed { statement: i, expected, actual: rows.changes });
            }
        }
        out.push(rows);
    }
    Ok(out)
}

#[async_trait(?Send)]
impl Sql for LocalSql<'_> {
    /// SQL `BEGIN` is not allowed in a Durable Object; `storage.transactionSync(fn)` is the
    /// platform's atomic unit: it commits when `fn` returns and rolls back when it throws.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        let storage = self.state.storage();
        let sql = storage.sql();
        // Reads need no transaction: the statements run back to back in one synchronous turn
        // of a single-threaded object, so no write can come between them.
        if statements.iter().all(|s| s.expect_changes.is_none() && crate::object_runtime::reads_only(s)) {
            let mut cache = self.read_cache.borrow_mut();
            return statements
                .iter()
                .map(|statement| match statement.cached {
                    Some(kind) => cache.read(kind, statement, &sql),
                    None => run(&sql, statement),
                })
                .collect();
        }
        self.read_cache.borrow_mut().clear_for(&statements);
        let raw: &JsValue = storage.as_raw().as_ref();
        let transaction_sync = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .ok_or_else(|| StoreError::Unavailable("storage.transactionSync is missing".into()))?;
        let outcome: Rc<RefCell<Option<Result<Vec<Rows>, StoreError>>>> = Rc::default();
        let slot = outcome.clone();
        let body = Closure::once(move || -> Result<(), JsValue> {
            let result = run_all(&sql, &statements);
            let failed = result.is_err();
            *slot.borrow_mut() = Some(result);
            if failed {
                Err(JsValue::from_str("edgewrite: batch rolled back"))
            } else {
                Ok(())
            }
        });
        let call = transaction_sync.call1(raw, body.as_ref().unchecked_ref());
        let result = outcome.borrow_mut().take();
        match (result, call) {
            (Some(Ok(rows)), Ok(_)) => Ok(rows),
            (Some(Err(e)), _) => Err(e),
            (_, Err(js)) => Err(StoreError::Unavailable(format!("transaction failed: {js:?}"))),
            (None, Ok(_)) => Err(StoreError::Unavailable("transaction body did not run".into())),
        }
    }
}
