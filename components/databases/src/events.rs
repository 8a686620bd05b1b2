//! Realtime events for document/row writes (`appwrite-api.md` §9.2–9.3): every legacy
//! `databases…documents` name is also announced as `databases…tables…rows` and
//! `tablesdb…rows`, on the channels of all three.

use edgewrite_core::events::{channels, container_read_roles, names};
use edgewrite_core::ports::Event;
use serde_json::Value as Json;

use crate::meta::Collection;

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
    let mut all = names(&[("databases", database_id), ("collections", c), ("documents", id)], action);
    all.extend(names(&[("databases", database_id), ("tables", c), ("rows", id)], action));
    all.extend(names(&[("tablesdb", database_id), ("tables", c), ("rows", id)], action));
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
    let roles =
        container_read_roles(&collection.permissions, collection.document_security, document_permissions);
    Event::new(all, channels(&bases, action), payload, roles)
}
