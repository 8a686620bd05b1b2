//! Appwrite's realtime protocol (`appwrite-api.md` §9), runtime-free: a connection's state
//! (who it is, its subscriptions), the client frames it answers, and which events it receives.
//!
//! `GET /v1/realtime` runs through the usual pipeline (project, origin, credentials) and
//! answers a *handshake*: a response marked with [`HANDSHAKE_HEADER`] whose body is the new
//! [`Connection`]. An adapter that holds WebSockets (Cloudflare: the project's Durable Object,
//! with the hibernation API) turns it into the upgrade and keeps the connection as the socket's
//! attachment; one that cannot (Spin) answers [`unsupported`].

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::identity::Caller;
use edgewrite_core::ports::Event;
use edgewrite_core::query::{self, Query, QueryMethod};
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// Marks a handshake response: the adapter upgrades the request instead of sending it.
pub const HANDSHAKE_HEADER: &str = "x-edgewrite-realtime-handshake";
/// Most subscriptions one connection holds.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Most channels one subscription lists.
pub const MAX_CHANNELS: usize = 100;
/// Most frames a connection may send per minute (Appwrite's limit); past it, error 1013.
pub const MAX_FRAMES_PER_MINUTE: u32 = 32;
/// Most connection attempts per client IP per minute (Appwrite's limit); past it, 429.
pub const MAX_CONNECTIONS_PER_MINUTE: u32 = 128;
/// Most bytes a connection's state (its roles and subscriptions, as JSON) may take: it lives in
/// the socket's attachment, which Cloudflare caps at 16 KiB. A subscribe frame that would pass
/// it is refused with error 1003 and changes nothing.
pub const MAX_STATE_BYTES: usize = 12 * 1024;

/// Puts announced writes back in commit order: each write's events carry the commit sequence
/// number its batch took (`edgewrite_core::events::sequence_statement`), and go out after
/// those of every earlier number. A number whose announcement has not come [`GAP_WAIT_MS`]
/// after a later one arrived (its Worker failed after committing) is given up on by
/// [`Sequencer::expire`]; events without a number, or whose number was given up on, go out as
/// they come.
#[derive(Debug, Default)]
pub struct Sequencer {
    /// The last number delivered (or known to need nothing); `None` until [`Sequencer::start`].
    delivered: Option<i64>,
    /// Announcements waiting for earlier numbers, with the time (unix ms) each arrived.
    held: std::collections::BTreeMap<i64, (i64, Vec<Event>)>,
}

/// How long announcements wait for an earlier number before it is given up on.
pub const GAP_WAIT_MS: i64 = 1_000;

impl Sequencer {
    pub fn started(&self) -> bool {
        self.delivered.is_some()
    }

    /// Numbers up to `current` (the sequence as committed now) need nothing.
    pub fn start(&mut self, current: i64) {
        self.delivered.get_or_insert(current);
    }

    /// Takes the events of the write that took `seq`, arriving at `now_ms`; answers the events
    /// now due, in order.
    pub fn offer(&mut self, seq: Option<i64>, events: Vec<Event>, now_ms: i64) -> Vec<Event> {
        match (seq, self.delivered) {
            (Some(seq), Some(last)) if seq > last => {
                self.held.insert(seq, (now_ms, events));
                self.due()
            }
            // A sequencer that never saw the sequence starts from the first number it sees.
            (Some(seq), None) => {
                self.delivered = Some(seq);
                events
            }
            _ => events,
        }
    }

    /// When [`Sequencer::expire`] next has something to do (unix ms), if anything waits.
    pub fn deadline(&self) -> Option<i64> {
        self.held.values().map(|(arrived, _)| arrived + GAP_WAIT_MS).min()
    }

    /// Gives up on the numbers missing before announcements that waited [`GAP_WAIT_MS`] by
    /// `now_ms`; answers what is then due.
    pub fn expire(&mut self, now_ms: i64) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some((&first, &(arrived, _))) = self.held.iter().next() {
            if arrived + GAP_WAIT_MS > now_ms {
                break;
            }
            self.delivered = Some(first - 1);
            out.extend(self.due());
        }
        out
    }

    fn due(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(last) = self.delivered {
            let Some((_, events)) = self.held.remove(&(last + 1)) else { break };
            self.delivered = Some(last + 1);
            out.extend(events);
        }
        out
    }
}

/// `GET /v1/realtime`.
pub struct Realtime;

static ROUTES: &[Route] = &[Route {
    method: Method::Get,
    path: "/v1/realtime",
    scope: None,
    needs_project: true,
    name: "realtime.connect",
}];

#[async_trait(?Send)]
impl Capability for Realtime {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, _route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let upgrade = ctx.request.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        if !upgrade {
            return Err(AppwriteError::new(
                ErrorType::GeneralArgumentInvalid,
                "Realtime needs a WebSocket upgrade (Upgrade: websocket).",
            ));
        }
        // An API key never holds a realtime connection, as in Appwrite.
        if matches!(ctx.caller, Caller::App { .. }) {
            return Err(AppwriteError::new(
                ErrorType::GeneralUnauthorizedScope,
                "Realtime connections are for users and guests, not API keys.",
            ));
        }
        let attempts = edgewrite_core::abuse::Limit { max: MAX_CONNECTIONS_PER_MINUTE, window_secs: 60 };
        edgewrite_core::abuse::check(ctx, &edgewrite_core::abuse::ip_key(ctx, "/v1/realtime"), attempts)
            .await?;
        let mut connection = Connection::for_caller(ctx.project.unwrap_or_default(), &ctx.caller);
        // Web SDKs up to 24.x name their channels in the URL instead of sending subscribe
        // frames; Appwrite 1.9 still subscribes them.
        let subscriptions = url_subscriptions(&ctx.request.query);
        if !subscriptions.is_empty() {
            connection
                .subscribe(&Json::Array(subscriptions))
                .map_err(|message| AppwriteError::invalid_param("channels", &message))?;
        }
        let mut response = Response::json(200, &connection);
        response.headers.set(HANDSHAKE_HEADER, "1");
        Ok(response)
    }
}

/// The id of the subscription a connection's URL channels make when the URL names no slots.
pub const URL_SUBSCRIPTION: &str = "url";

/// The subscriptions a handshake URL asks for, as subscribe-frame items. Web SDKs up to 21.x
/// send `channels[]=…` alone (one subscription); 24.x adds each of its subscriptions' queries as
/// `<channel>[<slot>][]=<query>`, and routes events by the ids the `connected` frame maps its
/// slots to.
fn url_subscriptions(query: &str) -> Vec<Json> {
    let mut channels: Vec<String> = Vec::new();
    let mut slots: std::collections::BTreeMap<u32, (Vec<String>, Vec<String>)> = Default::default();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| edgewrite_core::http::percent_decode(&s.replace('+', " "));
        let (Some(key), Some(value)) = (decode(key), decode(value)) else { continue };
        if key == "channels" || (key.starts_with("channels[") && key.ends_with(']')) {
            if !channels.contains(&value) {
                channels.push(value);
            }
        } else if let Some((channel, slot)) =
            key.strip_suffix("[]").and_then(|k| k.strip_suffix(']')).and_then(|k| k.rsplit_once('['))
        {
            let Ok(slot) = slot.parse::<u32>() else { continue };
            let (slot_channels, queries) = slots.entry(slot).or_default();
            if !slot_channels.iter().any(|c| c == channel) {
                slot_channels.push(channel.to_string());
            }
            if !queries.contains(&value) {
                queries.push(value);
            }
        }
    }
    if slots.is_empty() {
        if channels.is_empty() {
            return Vec::new();
        }
        return vec![json!({"subscriptionId": URL_SUBSCRIPTION, "channels": channels})];
    }
    slots
        .into_iter()
        .map(|(slot, (channels, queries))| {
            json!({"subscriptionId": format!("slot{slot}"), "slot": slot, "channels": channels, "queries": queries})
        })
        .collect()
}

/// The answer of a runtime without inbound WebSockets.
pub fn unsupported() -> AppwriteError {
    AppwriteError::new(
        ErrorType::GeneralNotImplemented,
        "Realtime needs inbound WebSockets, which this runtime (Spin) does not accept: connect to a Cloudflare deployment for realtime.",
    )
}

/// One subscription: client-chosen id, channels (`account` already made `account.<userId>`)
/// and the queries its events' payloads must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub channels: Vec<String>,
    pub queries: Vec<String>,
    /// The URL slot a web SDK 24.x gave the subscription (its `connected` frame maps slots to
    /// ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
}

/// A connection's state: kept as the socket's attachment, so it survives hibernation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub project: String,
    pub user_id: Option<String>,
    /// The session the user is connected with (empty for a session-less JWT), so a write that
    /// ends it or changes the user's roles can re-check the connection.
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub via_jwt: bool,
    /// When the credential the connection acts on ends (unix ms): past it, the connection is
    /// closed rather than go on with the user's roles.
    #[serde(default)]
    pub expires_ms: Option<i64>,
    pub roles: Vec<String>,
    pub subscriptions: Vec<Subscription>,
    /// The minute (unix ms / 60000) `frames` counts for.
    pub minute: i64,
    pub frames: u32,
}

/// What the adapter does after a client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send these frames.
    Send(Vec<String>),
    /// Verify this session (the cookie's base64 value), then call
    /// [`Connection::authenticated`] or send [`invalid_session`].
    Authenticate(String),
    /// Send this error frame, then close with the code.
    Close(String, u16),
}

fn error_frame(code: u16, message: &str) -> String {
    json!({"type": "error", "data": {"code": code, "message": message}}).to_string()
}

/// The error frame sent before closing a connection whose credential expired.
pub fn expired_frame() -> String {
    error_frame(EXPIRED_CLOSE_CODE, "Your session or JWT expired. Reconnect with a new one.")
}

/// The close code that goes with [`expired_frame`] (policy violation).
pub const EXPIRED_CLOSE_CODE: u16 = 1008;

/// The error frame for a session that did not verify.
pub fn invalid_session() -> String {
    error_frame(1003, "Session is not valid.")
}

/// Realtime accepts these query methods (Appwrite's list).
fn allowed(method: QueryMethod) -> bool {
    use QueryMethod as M;
    matches!(
        method,
        M::Equal
            | M::NotEqual
            | M::LessThan
            | M::LessThanEqual
            | M::GreaterThan
            | M::GreaterThanEqual
            | M::IsNull
            | M::IsNotNull
            | M::And
            | M::Or
            | M::Select
    )
}

fn check_query(q: &Query) -> bool {
    allowed(q.method) && q.queries.iter().all(check_query)
}

/// Orders two JSON scalars of the same kind (numbers, strings, booleans).
fn compare(a: &Json, b: &Json) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        (Json::Bool(x), Json::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Whether `payload` satisfies a (checked) query.
fn matches(q: &Query, payload: &Json) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    use QueryMethod as M;
    let value = payload.get(&q.attribute).unwrap_or(&Json::Null);
    let any =
        |ok: &dyn Fn(Option<std::cmp::Ordering>) -> bool| q.values.iter().any(|v| ok(compare(value, v)));
    match q.method {
        M::Equal => q.values.iter().any(|v| v == value),
        M::NotEqual => q.values.iter().all(|v| v != value),
        M::LessThan => any(&|o| o == Some(Less)),
        M::LessThanEqual => any(&|o| matches!(o, Some(Less | Equal))),
        M::GreaterThan => any(&|o| o == Some(Greater)),
        M::GreaterThanEqual => any(&|o| matches!(o, Some(Greater | Equal))),
        M::IsNull => value.is_null(),
        M::IsNotNull => !value.is_null(),
        M::And => q.queries.iter().all(|q| matches(q, payload)),
        M::Or => q.queries.iter().any(|q| matches(q, payload)),
        // `select` shapes nothing here: every subscriber gets the whole payload.
        _ => true,
    }
}

/// The bytes a JavaScript engine takes for `s`: one per character when every character fits
/// in Latin-1, else two per UTF-16 unit.
fn stored_size(s: &str) -> usize {
    if s.chars().all(|c| u32::from(c) <= 0xff) {
        s.chars().count()
    } else {
        s.encode_utf16().count() * 2
    }
}

impl Connection {
    /// A new connection of `caller` in `project`.
    pub fn for_caller(project: &str, caller: &Caller) -> Connection {
        let mut connection = Connection { project: project.to_string(), ..Connection::default() };
        connection.act_for(caller);
        connection
    }

    fn act_for(&mut self, caller: &Caller) {
        let user = caller.user();
        self.user_id = user.map(|u| u.user_id.clone());
        self.session_id = user.map(|u| u.session_id.clone());
        self.via_jwt = user.is_some_and(|u| u.via_jwt);
        self.expires_ms = user.and_then(|u| u.expires_ms);
        self.roles = caller.roles();
    }

    /// Whether the credential the connection acts on has ended ([`expired_frame`], then close).
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_ms.is_some_and(|at| now_ms >= at)
    }

    /// The state as the socket's attachment (a JSON string, within [`MAX_STATE_BYTES`] once
    /// subscribe frames have been checked).
    pub fn to_attachment(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_attachment(attachment: &str) -> Option<Connection> {
        serde_json::from_str(attachment).ok()
    }

    /// A write changed who this connection's user is: `caller` is the user as they are now, or
    /// `None` when the session ended or the user was deleted or blocked, and the connection
    /// goes on as a guest.
    pub fn refresh(&mut self, caller: Option<&Caller>) {
        let started = self.expires_ms;
        self.act_for(caller.unwrap_or(&Caller::Guest));
        // A reload knows the session's expiry, not the JWT's the connection opened with.
        if self.user_id.is_some() {
            self.expires_ms = match (started, self.expires_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// The user as the frames show it: its Account model when the adapter could load it.
    fn user_json(&self, account: Option<&Json>) -> Json {
        match (&self.user_id, account) {
            (Some(_), Some(account)) => account.clone(),
            (Some(id), None) => json!({"$id": id}),
            (None, _) => Json::Null,
        }
    }

    /// The first frame: who the connection is, with the user's Account model (the web SDK
    /// sends its session when `user` is null).
    pub fn connected_frame(&self, account: Option<&Json>) -> String {
        let channels: Vec<&str> =
            self.subscriptions.iter().flat_map(|s| s.channels.iter().map(String::as_str)).collect();
        // Slot → id for subscriptions a URL's slots made; the ids otherwise.
        let subscriptions = if self.subscriptions.iter().any(|s| s.slot.is_some()) {
            Json::Object(
                self.subscriptions
                    .iter()
                    .filter_map(|s| Some((s.slot?.to_string(), Json::String(s.id.clone()))))
                    .collect(),
            )
        } else {
            json!(self.subscriptions.iter().map(|s| s.id.as_str()).collect::<Vec<_>>())
        };
        json!({"type": "connected", "data": {"channels": channels, "subscriptions": subscriptions, "user": self.user_json(account)}})
            .to_string()
    }

    /// The channel as this connection means it: `account` is the user's own account channel.
    fn own_channel(&self, channel: &str) -> Option<String> {
        match (channel, &self.user_id) {
            ("account", Some(id)) => Some(format!("account.{id}")),
            ("account", None) => None,
            (other, _) => Some(other.to_string()),
        }
    }

    /// Answers one client frame at `now_ms`.
    pub fn handle(&mut self, text: &str, now_ms: i64) -> Action {
        let minute = now_ms / 60_000;
        if minute != self.minute {
            self.minute = minute;
            self.frames = 0;
        }
        self.frames += 1;
        if self.frames > MAX_FRAMES_PER_MINUTE {
            return Action::Close(error_frame(1013, "Too many messages."), 1013);
        }
        let invalid = |message: &str| Action::Send(vec![error_frame(1003, message)]);
        let Ok(frame) = serde_json::from_str::<Json>(text) else {
            return invalid("Message format is not valid.");
        };
        let data = frame.get("data").cloned().unwrap_or(Json::Null);
        match frame.get("type").and_then(Json::as_str) {
            Some("ping") => Action::Send(vec![json!({"type": "pong"}).to_string()]),
            Some("authentication") => match data.get("session").and_then(Json::as_str) {
                Some(session) if !session.is_empty() => Action::Authenticate(session.to_string()),
                _ => invalid("Payload is not valid."),
            },
            Some("subscribe") => match self.subscribe(&data) {
                Ok(frame) => Action::Send(vec![frame]),
                Err(message) => invalid(&message),
            },
            Some("unsubscribe") => {
                let Some(items) = data.as_array() else { return invalid("Payload is not valid.") };
                let mut answers = Vec::new();
                for item in items {
                    let id = item.get("subscriptionId").and_then(Json::as_str).unwrap_or_default();
                    let before = self.subscriptions.len();
                    self.subscriptions.retain(|s| s.id != id);
                    answers.push(json!({"subscriptionId": id, "removed": self.subscriptions.len() < before}));
                }
                Action::Send(vec![json!({"type": "response", "data": {"to": "unsubscribe", "success": true, "subscriptions": answers}})
                    .to_string()])
            }
            _ => invalid("Message type is not valid."),
        }
    }

    fn subscribe(&mut self, data: &Json) -> Result<String, String> {
        let before = self.subscriptions.clone();
        let answer = self.add_subscriptions(data);
        if answer.is_ok() && stored_size(&self.to_attachment()) > MAX_STATE_BYTES {
            self.subscriptions = before;
            return Err(format!(
                "A connection's subscriptions may take at most {} KiB; unsubscribe first.",
                MAX_STATE_BYTES / 1024
            ));
        }
        if answer.is_err() {
            self.subscriptions = before;
        }
        answer
    }

    fn add_subscriptions(&mut self, data: &Json) -> Result<String, String> {
        let items = data.as_array().ok_or("Payload is not valid.")?;
        let mut added = Vec::new();
        for item in items {
            let id =
                item.get("subscriptionId").and_then(Json::as_str).filter(|i| !i.is_empty() && i.len() <= 64);
            let id = id.ok_or("Each subscription needs a subscriptionId.")?.to_string();
            let channels: Vec<String> = item
                .get("channels")
                .and_then(Json::as_array)
                .ok_or("Each subscription needs channels.")?
                .iter()
                .filter_map(Json::as_str)
                .take(MAX_CHANNELS)
                .filter_map(|c| self.own_channel(c))
                .collect();
            let queries: Vec<String> = item
                .get("queries")
                .and_then(Json::as_array)
                .map(|q| q.iter().filter_map(|q| q.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            for raw in &queries {
                let parsed = query::parse(raw).map_err(|e| format!("Invalid query: {}", e.message))?;
                if !check_query(&parsed) {
                    return Err(format!(
                        "Query method \"{}\" is not supported in realtime.",
                        parsed.method.as_str()
                    ));
                }
            }
            // The same id again replaces that subscription.
            self.subscriptions.retain(|s| s.id != id);
            if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
                return Err(format!("A connection holds at most {MAX_SUBSCRIPTIONS} subscriptions."));
            }
            let slot = item.get("slot").and_then(Json::as_u64).and_then(|s| u32::try_from(s).ok());
            let subscription = Subscription { id, channels, queries, slot };
            added.push(json!({"subscriptionId": subscription.id, "channels": subscription.channels, "queries": subscription.queries}));
            self.subscriptions.push(subscription);
        }
        Ok(json!({"type": "response", "data": {"to": "subscribe", "success": true, "subscriptions": added}})
            .to_string())
    }

    /// The connection now acts for `caller` (a verified session), whose Account model is
    /// `account`: its roles change, and an `account` subscription made as a guest stays empty.
    /// Returns the response frame.
    pub fn authenticated(&mut self, caller: &Caller, account: Option<&Json>) -> String {
        self.act_for(caller);
        json!({"type": "response", "data": {"to": "authentication", "success": true, "user": self.user_json(account)}})
            .to_string()
    }

    /// The event frame for this connection, if any of its subscriptions takes `event` and it
    /// may read it.
    pub fn deliver(&self, event: &Event, timestamp: &str) -> Option<String> {
        if !event.roles.iter().any(|r| self.roles.contains(r)) {
            return None;
        }
        let ids: Vec<&str> = self
            .subscriptions
            .iter()
            .filter(|s| s.channels.iter().any(|c| event.channels.contains(c)))
            .filter(|s| {
                s.queries.iter().all(|raw| query::parse(raw).is_ok_and(|q| matches(&q, &event.payload)))
            })
            .map(|s| s.id.as_str())
            .collect();
        if ids.is_empty() {
            return None;
        }
        Some(
            json!({"type": "event", "data": {
                "events": event.names,
                "channels": event.channels,
                "timestamp": timestamp,
                "payload": event.payload,
                "subscriptions": ids,
            }})
            .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(channels: &[&str], roles: &[&str], payload: Json) -> Event {
        Event::new(
            vec!["databases.db.collections.c.documents.d.create".into()],
            channels.iter().map(|c| c.to_string()).collect(),
            payload,
            roles.iter().map(|r| r.to_string()).collect(),
        )
    }

    fn guest() -> Connection {
        Connection::for_caller("p", &Caller::Guest)
    }

    fn subscribe(c: &mut Connection, id: &str, channels: &[&str], queries: &[&str]) -> Action {
        let frame = json!({"type": "subscribe", "data": [{"subscriptionId": id, "channels": channels, "queries": queries}]});
        c.handle(&frame.to_string(), 0)
    }

    #[test]
    fn delivers_by_channel_role_and_query() {
        let mut c = guest();
        assert!(matches!(subscribe(&mut c, "s1", &["documents"], &[]), Action::Send(_)));
        let eq = r#"{"method":"greaterThan","attribute":"n","values":[5]}"#;
        assert!(matches!(
            subscribe(&mut c, "s2", &["databases.db.collections.c.documents"], &[eq]),
            Action::Send(_)
        ));
        let small = event(&["documents", "databases.db.collections.c.documents"], &["any"], json!({"n": 1}));
        let frame: Json = serde_json::from_str(&c.deliver(&small, "t").unwrap()).unwrap();
        assert_eq!(frame["data"]["subscriptions"], json!(["s1"]));
        let big = event(&["documents", "databases.db.collections.c.documents"], &["any"], json!({"n": 9}));
        let frame: Json = serde_json::from_str(&c.deliver(&big, "t").unwrap()).unwrap();
        assert_eq!(frame["data"]["subscriptions"], json!(["s1", "s2"]));
        let private = event(&["documents"], &["user:u1"], json!({}));
        assert_eq!(c.deliver(&private, "t"), None, "a guest never sees what it may not read");
    }

    #[test]
    fn bad_frames_get_errors_and_the_connection_goes_on() {
        let mut c = guest();
        for bad in ["not json", r#"{"type":"teleport"}"#, r#"{"type":"subscribe","data":{}}"#] {
            let Action::Send(frames) = c.handle(bad, 0) else { panic!("{bad}") };
            assert!(frames[0].contains("\"code\":1003"), "{bad}");
        }
        let search = r#"{"method":"search","attribute":"n","values":["x"]}"#;
        let Action::Send(frames) = subscribe(&mut c, "s", &["documents"], &[search]) else { panic!() };
        assert!(frames[0].contains("1003"));
        assert_eq!(c.handle(r#"{"type":"ping"}"#, 0), Action::Send(vec![r#"{"type":"pong"}"#.into()]));
    }

    #[test]
    fn frames_past_the_limit_close_the_connection() {
        let mut c = guest();
        for _ in 0..MAX_FRAMES_PER_MINUTE {
            assert!(matches!(c.handle(r#"{"type":"ping"}"#, 1000), Action::Send(_)));
        }
        assert!(matches!(c.handle(r#"{"type":"ping"}"#, 1000), Action::Close(_, 1013)));
        assert!(matches!(c.handle(r#"{"type":"ping"}"#, 61_000), Action::Send(_)), "a new minute");
    }

    #[test]
    fn subscriptions_stay_within_the_state_budget_and_a_refused_frame_changes_nothing() {
        let mut c = guest();
        let channels: Vec<String> =
            (0..100).map(|i| format!("databases.db.collections.c.documents.doc{i:04}")).collect();
        let channels: Vec<&str> = channels.iter().map(String::as_str).collect();
        let mut accepted = 0;
        for i in 0..10 {
            let Action::Send(frames) = subscribe(&mut c, &format!("s{i}"), &channels, &[]) else { panic!() };
            if frames[0].contains("\"error\"") {
                assert!(frames[0].contains("1003") && frames[0].contains("KiB"), "{}", frames[0]);
                break;
            }
            accepted += 1;
        }
        assert!((1..10).contains(&accepted));
        assert_eq!(c.subscriptions.len(), accepted);
        assert!(stored_size(&c.to_attachment()) <= MAX_STATE_BYTES);
        assert_eq!(stored_size("é"), 1, "Latin-1 takes a byte per character");
        assert_eq!(stored_size("é😀"), 6, "beyond it, two per UTF-16 unit");
        let many: Vec<Json> =
            (0..1000).map(|i| json!({"subscriptionId": format!("m{i}"), "channels": ["files"]})).collect();
        let Action::Send(frames) = c.handle(&json!({"type": "subscribe", "data": many}).to_string(), 0)
        else {
            panic!()
        };
        assert!(frames[0].contains("1003"));
        assert_eq!(c.subscriptions.len(), accepted, "a refused frame adds nothing");
    }

    fn named(name: &str) -> Event {
        Event::new(vec![name.into()], vec![], Json::Null, vec![])
    }

    fn names_of(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.names[0].as_str()).collect()
    }

    #[test]
    fn the_sequencer_delivers_in_commit_order_and_gives_up_on_gaps() {
        let mut s = Sequencer::default();
        s.start(10);
        assert!(s.offer(Some(12), vec![named("b")], 0).is_empty(), "11 is not out yet");
        assert_eq!(s.deadline(), Some(GAP_WAIT_MS));
        assert_eq!(names_of(&s.offer(Some(11), vec![named("a1"), named("a2")], 5)), ["a1", "a2", "b"]);
        assert_eq!(s.deadline(), None);
        assert_eq!(names_of(&s.offer(Some(13), vec![], 6)), Vec::<&str>::new(), "an empty write counts");
        assert_eq!(names_of(&s.offer(Some(14), vec![named("c")], 7)), ["c"]);
        // 15 never comes.
        assert!(s.offer(Some(16), vec![named("e")], 100).is_empty());
        assert!(s.expire(100 + GAP_WAIT_MS - 1).is_empty(), "not yet");
        assert_eq!(names_of(&s.expire(100 + GAP_WAIT_MS)), ["e"]);
        assert_eq!(names_of(&s.offer(Some(15), vec![named("late")], 2000)), ["late"], "late, but not lost");
        assert_eq!(names_of(&s.offer(None, vec![named("unnumbered")], 2000)), ["unnumbered"]);
    }

    #[test]
    fn a_refreshed_connection_without_a_caller_is_a_guest() {
        let mut c = guest();
        c.user_id = Some("u1".into());
        c.roles = vec!["any".into(), "user:u1".into()];
        subscribe(&mut c, "a", &["account"], &[]);
        c.refresh(None);
        assert_eq!(c.user_id, None);
        assert_eq!(c.roles, vec!["any".to_string(), "guests".to_string()]);
        let own = event(&["account.u1"], &["user:u1"], json!({}));
        assert_eq!(c.deliver(&own, "t"), None);
    }

    #[test]
    fn a_connection_ends_with_its_credential_even_when_reloaded_by_its_session() {
        let user = |expires_ms| {
            Caller::User(edgewrite_core::identity::UserCaller {
                user_id: "u1".into(),
                session_id: "s1".into(),
                via_jwt: true,
                expires_ms,
                email: String::new(),
                name: String::new(),
                email_verified: false,
                labels: vec![],
                memberships: vec![],
                mfa_pending: false,
                impersonator: false,
                impersonated_by: None,
            })
        };
        let mut c = Connection::for_caller("p", &user(Some(1_000)));
        assert!(!c.expired(999));
        assert!(c.expired(1_000));
        // The session lives on for a year; the JWT still ends at 1,000.
        c.refresh(Some(&user(Some(9_999_999))));
        assert!(c.expired(1_000));
        c.refresh(None);
        assert!(!c.expired(i64::MAX), "a guest has no credential to expire");
    }

    #[test]
    fn the_account_channel_is_the_users_own() {
        let mut c = guest();
        subscribe(&mut c, "a", &["account"], &[]);
        assert_eq!(c.subscriptions[0].channels, Vec::<String>::new());
        c.user_id = Some("u1".into());
        subscribe(&mut c, "a", &["account"], &[]);
        assert_eq!(c.subscriptions[0].channels, vec!["account.u1".to_string()]);
        assert_eq!(c.subscriptions.len(), 1, "the same id replaces the subscription");
    }

    #[test]
    fn url_channels_and_slots_become_subscriptions() {
        // Web SDK 21: channels alone.
        let legacy = url_subscriptions("project=p&channels%5B%5D=files&channels%5B%5D=account");
        assert_eq!(
            legacy,
            vec![json!({"subscriptionId": URL_SUBSCRIPTION, "channels": ["files", "account"]})]
        );
        // Web SDK 24: each slot's queries per channel.
        let select = r#"{"method":"select","values":["*"]}"#;
        let q = |s: &str| s.replace('"', "%22").replace('{', "%7B").replace('}', "%7D");
        let url = format!(
            "project=p&channels[]=files&channels[]=documents&files[0][]={}&documents[1][]={}&documents[1][]={}",
            q(select),
            q(select),
            q(r#"{"method":"equal","attribute":"n","values":[1]}"#)
        );
        let subs = url_subscriptions(&url);
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0]["subscriptionId"], "slot0");
        assert_eq!(subs[0]["channels"], json!(["files"]));
        assert_eq!(subs[1]["channels"], json!(["documents"]));
        assert_eq!(subs[1]["queries"].as_array().unwrap().len(), 2);
        let mut c = guest();
        assert!(c.subscribe(&Json::Array(subs)).is_ok());
        let connected: Json = serde_json::from_str(&c.connected_frame(None)).unwrap();
        assert_eq!(connected["data"]["subscriptions"], json!({"0": "slot0", "1": "slot1"}));
        assert!(url_subscriptions("project=p").is_empty());
    }
}
