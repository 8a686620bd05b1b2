//! Realtime events for document/row writes (`appwrite-api.md` §9.2–9.3): every event name with
//! each combination of ids and `*` wildcards, the channels subscribers listen on, and the roles
//! allowed to see the payload. Published after the write committed; delivery is the realtime
//! capability's job.

use edgewrite_core::ports::Event;
use edgewrite_core::Ctx;
use serde_json::Value as Json;

use crate::meta::Collection;

/// `service.id.sub.id…` names for `segments`, every id also as `*`, for the full path with and
/// without `action` and for each shorter prefix (Appwrite's expansion).
fn expand(segments: &[(&str, &str)], action: &str, out: &mut Vec<String>) {
    for len in (1..=segments.len()).rev() {
        for mask in 0..(1u32 << len) {
            let name = segments[..len]
                .iter()
                .enumerate()
                .map(|(i, (noun, id))| format!("{noun}.{}", if mask & (1 << i) != 0 { "*" } else { id }))
                .collect::<Vec<_>>()
                .join(".");
            if len == segments.len() {
                out.push(format!("{name}.{action}"));
            }
            out.push(name);
        }
    }
}

/// The event of `action` (`create`, `update`, `upsert`, `delete`) on document `id`.
pub fn document_event(
    database_id: &str,
    collection: &Collection,
    id: &str,
    action: &str,
    document_permissions: &[String],
    payload: Json,
) -> Event {
    let c = collection.id.as_str();
    let mut names = Vec::new();
    expand(&[("databases", database_id), ("collections", c), ("documents", id)], action, &mut names);
    expand(&[("databases", database_id), ("tables", c), ("rows", id)], action, &mut names);
    expand(&[("tablesdb", database_id), ("tables", c), ("rows", id)], action, &mut names);
    let bases = [
        "documents".to_string(),
        format!("databases.{database_id}.collections.{c}.documents"),
        format!("databases.{database_id}.collections.{c}.documents.{id}"),
        "rows".to_string(),
        format!("databases.{database_id}.tables.{c}.rows"),
        format!("databases.{database_id}.tables.{c}.rows.{id}"),
        format!("tablesdb.{database_id}.tables.{c}.rows"),
        format!("tablesdb.{database_id}.tables.{c}.rows.{id}"),
    ];
    let mut channels = Vec::with_capacity(bases.len() * 2);
    for base in bases {
        channels.push(format!("{base}.{action}"));
        channels.push(base);
    }
    let mut roles = read_roles(&collection.permissions);
    if collection.document_security {
        for role in read_roles(document_permissions) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
    }
    Event { names, channels, payload, roles }
}

fn read_roles(permissions: &[String]) -> Vec<String> {
    edgewrite_core::permissions::parse(permissions, &["read", "create", "update", "delete", "write"])
        .map(|p| p.into_iter().filter(|p| p.action == "read").map(|p| p.role).collect())
        .unwrap_or_default()
}

/// Publishes, logging rather than failing: the write already happened.
pub async fn publish(ctx: &Ctx<'_>, event: Event) {
    if let Err(error) = ctx.ports.events.publish(event).await {
        tracing::warn!(%error, "publishing a realtime event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_wildcard_combination() {
        let mut names = Vec::new();
        expand(&[("databases", "D"), ("collections", "C"), ("documents", "X")], "create", &mut names);
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
}
