//! Realtime events (`appwrite-api.md` §9.2–9.3), shared by every capability that writes:
//! event names with each combination of ids and `*` wildcards, the channels subscribers listen
//! on, and the roles allowed to see the payload. An event is published after its write
//! committed; delivery is the realtime capability's job.

use serde_json::Value as Json;

use crate::ports::{Event, Rows, Statement};
use crate::Ctx;

/// `service.id.sub.id…` names for `segments`, every id also as `*`, for the full path with and
/// without `action` and for each shorter prefix (Appwrite's expansion). `action` may carry an
/// attribute (`update.prefs`).
pub fn names(segments: &[(&str, &str)], action: &str) -> Vec<String> {
    let mut out = Vec::new();
    for len in (1..=segments.len()).rev() {
        for mask in 0..(1u32 << len) {
            let name = segments[..len]
                .iter()
                .enumerate()
                .map(|(i, (noun, id))| format!("{noun}.{}", if mask & (1 << i) != 0 { "*" } else { id }))
                .collect::<Vec<_>>()
                .join(".");
            // An id that is itself `*` (every session) gives some names twice.
            if len == segments.len() {
                let full = format!("{name}.{action}");
                if !out.contains(&full) {
                    out.push(full);
                }
                // An attribute's event (`update.email`) is also its verb's (`update`).
                if let Some((verb, _)) = action.split_once('.') {
                    let plain = format!("{name}.{verb}");
                    if !out.contains(&plain) {
                        out.push(plain);
                    }
                }
            }
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Each channel in `bases`, followed by it with the `.action` suffix (`files`, `files.create`);
/// an action with an attribute suffixes its verb (`update.prefs` → `teams.update`).
pub fn channels<S: AsRef<str>>(bases: &[S], action: &str) -> Vec<String> {
    let action = action.split('.').next().unwrap_or(action);
    let mut out = Vec::with_capacity(bases.len() * 2);
    for base in bases {
        out.push(format!("{}.{action}", base.as_ref()));
        out.push(base.as_ref().to_string());
    }
    out
}

/// The roles `permissions` grants `read` to.
pub fn read_roles(permissions: &[String]) -> Vec<String> {
    crate::permissions::parse(permissions, &["read", "create", "update", "delete", "write"])
        .map(|p| p.into_iter().filter(|p| p.action == "read").map(|p| p.role).collect())
        .unwrap_or_default()
}

/// `container`'s read roles, plus `item`'s when the container grants item-level security
/// (documents in a collection with `documentSecurity`, files in a bucket with `fileSecurity`).
pub fn container_read_roles(container: &[String], item_security: bool, item: &[String]) -> Vec<String> {
    let mut roles = read_roles(container);
    if item_security {
        for role in read_roles(item) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
    }
    roles
}

impl Event {
    pub fn new(names: Vec<String>, channels: Vec<String>, payload: Json, roles: Vec<String>) -> Event {
        Event { names, channels, payload, roles, refresh_roles: Vec::new() }
    }

    /// Marks the event as changing who the holders of `role` are (a session ended, a user
    /// blocked, a membership changed): their realtime connections re-check before delivery.
    pub fn refreshing(mut self, role: impl Into<String>) -> Event {
        self.refresh_roles.push(role.into());
        self
    }
}

/// An account event of `user_id` (`users.U.update.prefs`, `users.U.sessions.S.delete`), on
/// the `account` channels, seen by that user only. Top-level user actions (`create`, `update`,
/// `delete`) also get the action-suffixed channels, as in Appwrite.
pub fn account_event(user_id: &str, sub: Option<(&str, &str)>, action: &str, payload: Json) -> Event {
    let mut segments = vec![("users", user_id)];
    segments.extend(sub);
    let account = format!("account.{user_id}");
    let top_level = sub.is_none() && matches!(action, "create" | "update" | "delete");
    let channels = if top_level {
        self::channels(&["account".to_string(), account], action)
    } else {
        vec!["account".to_string(), account]
    };
    Event::new(names(&segments, action), channels, payload, vec![format!("user:{user_id}")])
}

/// Appended last to a write's batch when the write will announce events: bumps the project's
/// commit sequence inside the same transaction and answers the new number ([`sequence_of`]).
/// Only a write that then publishes may take a number: the realtime hub waits (briefly) for
/// every number in turn.
pub fn sequence_statement() -> Statement {
    Statement::new("UPDATE commit_seq SET n = n + 1 WHERE id = 1 RETURNING n", vec![])
}

/// The commit sequence number a batch ending in [`sequence_statement`] took.
pub fn sequence_of(out: &[Rows]) -> Option<i64> {
    out.last()?.rows.first()?.first()?.as_i64()
}

/// Publishes one event of a write that took no sequence number, logging rather than failing:
/// the write already happened.
pub async fn publish(ctx: &Ctx<'_>, event: Event) {
    publish_all(ctx, None, vec![event]).await;
}

/// Publishes the events of one write, with the sequence number it took (if any).
pub async fn publish_all(ctx: &Ctx<'_>, seq: Option<i64>, events: Vec<Event>) {
    if events.is_empty() && seq.is_none() {
        return;
    }
    if !events.is_empty() {
        ctx.api.committed(ctx, &events).await;
    }
    if let Err(error) = ctx.ports.events.publish(seq, events).await {
        tracing::warn!(%error, "publishing realtime events");
    }
}

/// Whether this write replays what already happened elsewhere: a migration (`edgewrite
/// import`) says so, with a key that may restore history. Such writes start no work of their own
/// (no function runs, no webhook fires).
pub fn replays_migration(ctx: &Ctx<'_>) -> bool {
    ctx.request.header("x-edgewrite-migration").is_some() && ctx.caller.has_scope("migrations.write")
}

/// Who subscribed to a project's events, as `(id, patterns)`: its webhooks, its event-triggered
/// functions.
pub type Subscriptions = std::rc::Rc<Vec<(String, Vec<String>)>>;

/// An isolate's copy of each project's [`Subscriptions`] of one kind. Every write with events
/// needs them, and reading them each time would add a read to every write: the copy is trusted
/// for `fresh_ms`. Changes made in this isolate [`SubscriptionCache::forget`] it at once; other
/// isolates see them within that time.
pub struct SubscriptionCache {
    fresh_ms: i64,
    lists: std::cell::RefCell<std::collections::HashMap<String, (i64, Subscriptions)>>,
}

impl SubscriptionCache {
    pub fn new(fresh_ms: i64) -> SubscriptionCache {
        SubscriptionCache { fresh_ms, lists: Default::default() }
    }

    /// Forgets the project's copy (a subscriber changed).
    pub fn forget(&self, project: &str) {
        self.lists.borrow_mut().remove(project);
    }
}

/// The project's subscriptions in `cache`, read with `select` (rows of an id and a JSON array of
/// patterns) when the copy is missing or stale.
pub async fn subscriptions(
    cache: &'static std::thread::LocalKey<SubscriptionCache>,
    ctx: &Ctx<'_>,
    select: &'static str,
) -> Result<Subscriptions, crate::ports::StoreError> {
    let project = ctx.project.unwrap_or_default().to_string();
    let now = ctx.ports.clock.now_ms();
    let cached = cache.with(|c| {
        c.lists.borrow().get(&project).filter(|(at, _)| now - at < c.fresh_ms).map(|(_, list)| list.clone())
    });
    if let Some(list) = cached {
        return Ok(list);
    }
    let rows = ctx.ports.sql.query(Statement::new(select, vec![])).await?;
    let list: Subscriptions = std::rc::Rc::new(
        rows.rows
            .iter()
            .filter_map(|r| {
                let patterns = serde_json::from_str(r.get(1)?.as_str()?).unwrap_or_default();
                Some((r.first()?.as_str()?.to_string(), patterns))
            })
            .collect(),
    );
    cache.with(|c| c.lists.borrow_mut().insert(project, (now, list.clone())));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_wildcard_combination() {
        let names = names(&[("databases", "D"), ("collections", "C"), ("documents", "X")], "create");
        for expected in [
            "databases.D.collections.C.documents.X.create",
            "databases.D.collections.C.documents.X",
            "databases.*.collections.*.documents.*.create",
            "databases.D.collections.*.documents.X",
            "databases.D.collections.C",
            "databases.*.collections.*",
            "databases.D",
            "databases.*",
        ] {
            assert!(names.contains(&expected.to_string()), "{expected}");
        }
        assert_eq!(names.len(), 16 + 4 + 2);
    }

    #[test]
    fn account_events_are_the_users_own() {
        let e = account_event("u1", None, "update.prefs", Json::Null);
        assert_eq!(e.channels, vec!["account", "account.u1"]);
        assert_eq!(e.roles, vec!["user:u1"]);
        assert!(e.names.contains(&"users.*.update.prefs".to_string()));
        let e = account_event("u1", Some(("sessions", "s1")), "delete", Json::Null);
        assert!(e.names.contains(&"users.u1.sessions.*.delete".to_string()));
        let e = account_event("u1", None, "update", Json::Null);
        assert!(e.channels.contains(&"account.u1.update".to_string()));
        let e = account_event("u1", Some(("sessions", "*")), "delete", Json::Null);
        let mut unique = e.names.clone();
        unique.dedup();
        assert_eq!(unique.len(), e.names.len());
    }
}
