//! Relationship attributes/columns (`appwrite-api.md` §6.2): one-to-one, one-to-many,
//! many-to-one and many-to-many links between documents of two collections of one database,
//! one-way or two-way, with `onDelete` restrict, cascade or setNull.
//!
//! Each relationship keeps its links as `(parent, child)` id pairs in a junction table whose
//! UNIQUE constraints are the relation type, and both sides read that one table; each side
//! is an attribute row naming the junction (a one-way relationship's child side is hidden).
//! To-one sides read like a column holding the related id (see `Collection::read_source`),
//! so they show in documents and filter like strings; related documents themselves load
//! only when a `select` asks for them (`author.*`, `author.name`), as in Appwrite 1.8.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::attributes::valid_key;
use crate::documents;
use crate::flavor::Flavor;
use crate::meta::{self, junction_table, Attribute, Collection, Database, Relation};
use edgewrite_core::permissions::Permission;

/// How deep related documents load and nested writes reach: the document and two levels.
pub const MAX_DEPTH: usize = 3;
/// Most documents one relationship value may link in one write.
pub const MAX_LINKS: usize = 100;
/// Most related documents loaded per relationship and level of a read.
const MAX_LOADED: usize = 5000;
const TYPES: &[&str] = &["oneToOne", "oneToMany", "manyToOne", "manyToMany"];
const ON_DELETE: &[&str] = &["restrict", "cascade", "setNull"];

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, AppwriteError>> + 'a>>;

fn relationship_options(
    related: &str,
    relation_type: &str,
    two_way: bool,
    two_way_key: &str,
    on_delete: &str,
    parent: bool,
    junction: i64,
) -> Json {
    json!({
        "relatedCollection": related,
        "relationType": relation_type,
        "twoWay": two_way,
        "twoWayKey": two_way_key,
        "onDelete": on_delete,
        "side": if parent { "parent" } else { "child" },
        "junction": junction,
    })
}

fn attribute_row(collection_seq: i64, key: &str, options: &Json, now: i64) -> Statement {
    Statement::new(
        format!(
            "INSERT INTO attributes (collection_seq, {}) VALUES (?, ?, 'relationship', '', 0, 0, 0, NULL, ?, 'available', ?, ?)",
            meta::ATTRIBUTE_COLUMNS
        ),
        vec![
            Value::Integer(collection_seq),
            key.into(),
            options.to_string().into(),
            Value::Integer(now),
            Value::Integer(now),
        ],
    )
}

/// `POST …/attributes/relationship` (`…/columns/relationship`) {relatedCollectionId, type,
/// twoWay?, key?, twoWayKey?, onDelete?}: both sides at once, 202.
pub async fn create(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let related_id = ctx.params.required_text(flavor.related_param(), 36)?;
    let relation_type = ctx.params.required_text("type", 16)?;
    if !TYPES.contains(&relation_type.as_str()) {
        return Err(AppwriteError::invalid_param(
            "type",
            &format!("Value must be one of ({})", TYPES.join(", ")),
        ));
    }
    let two_way = ctx.params.boolean("twoWay")?.unwrap_or(false);
    let key = valid_key(
        "key",
        &ctx.params.text("key", 36)?.filter(|k| !k.is_empty()).unwrap_or(related_id.clone()),
    )?;
    let two_way_key = valid_key(
        "twoWayKey",
        &ctx.params.text("twoWayKey", 36)?.filter(|k| !k.is_empty()).unwrap_or(collection.id.clone()),
    )?;
    let on_delete = ctx.params.text("onDelete", 16)?.unwrap_or_else(|| "restrict".into());
    if !ON_DELETE.contains(&on_delete.as_str()) {
        return Err(AppwriteError::invalid_param(
            "onDelete",
            &format!("Value must be one of ({})", ON_DELETE.join(", ")),
        ));
    }
    let related = if related_id == collection.id {
        collection.clone()
    } else {
        meta::load_collection_by(ctx, flavor, &database.id, &related_id).await?.1
    };
    if collection.attributes.len() >= crate::attributes::MAX_ATTRIBUTES
        || related.attributes.len() >= crate::attributes::MAX_ATTRIBUTES
    {
        return Err(flavor.limit_exceeded(&format!(
            "The maximum number of attributes ({}) has been reached.",
            crate::attributes::MAX_ATTRIBUTES
        )));
    }
    let taken = |c: &Collection, k: &str| c.attributes.iter().any(|a| a.key.eq_ignore_ascii_case(k));
    if taken(&collection, &key)
        || taken(&related, &two_way_key)
        || (related.seq == collection.seq && key.eq_ignore_ascii_case(&two_way_key))
    {
        return Err(flavor.attribute_exists());
    }
    let mut junction = [0u8; 8];
    ctx.ports.random.fill(&mut junction[..6]);
    let junction = (i64::from_le_bytes(junction) & 0xffff_ffff_ffff).max(1);
    let table = junction_table(junction);
    // The relation type, as constraints: a side that links to one document has its ids unique.
    let (parent_unique, child_unique) = match relation_type.as_str() {
        "oneToOne" => (true, true),
        "oneToMany" => (false, true),
        "manyToOne" => (true, false),
        _ => (false, false),
    };
    let now = ctx.ports.clock.now_ms();
    let parent_options =
        relationship_options(&related.id, &relation_type, two_way, &two_way_key, &on_delete, true, junction);
    let child_options =
        relationship_options(&collection.id, &relation_type, two_way, &key, &on_delete, false, junction);
    let unique = |yes: bool| if yes { " UNIQUE" } else { "" };
    let batch = vec![
        Statement::new(
            format!(
                "CREATE TABLE {table} (parent TEXT NOT NULL{}, child TEXT NOT NULL{}, UNIQUE (parent, child))",
                unique(parent_unique),
                unique(child_unique)
            ),
            vec![],
        ),
        Statement::new(format!("CREATE INDEX {table}_by_child ON {table} (child)"), vec![]),
        attribute_row(collection.seq, &key, &parent_options, now),
        attribute_row(related.seq, &two_way_key, &child_options, now),
    ];
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(_) => flavor.attribute_exists(),
        other => AppwriteError::internal(other),
    })?;
    let attribute = Attribute {
        key,
        type_name: "relationship".into(),
        format: String::new(),
        size: 0,
        required: false,
        array: false,
        default: Json::Null,
        options: parent_options,
        status: "available".into(),
        created_at: now,
        updated_at: now,
    };
    Ok(Response::json(202, &attribute.to_json(flavor)))
}

/// The collection on the other side of `relation` (the same one, for a self-relationship).
async fn related_collection(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    relation: &Relation,
) -> Result<Collection, AppwriteError> {
    if relation.related == collection.id {
        return Ok(collection.clone());
    }
    Ok(meta::load_collection_by(ctx, flavor, &database.id, &relation.related).await?.1)
}

/// The attribute on the other side of `relation`.
async fn other_side(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    relation: &Relation,
) -> Result<(Collection, String), AppwriteError> {
    let (_, related) = meta::load_collection_by(ctx, flavor, &database.id, &relation.related).await?;
    let key = related
        .attributes
        .iter()
        .find(|a| {
            a.relation().is_some_and(|r| r.junction == relation.junction && r.parent != relation.parent)
        })
        .map(|a| a.key.clone())
        .unwrap_or_default();
    Ok((related, key))
}

/// `PATCH …/attributes/relationship/{key}` (`…/columns/{key}/relationship`) {onDelete?,
/// newKey?}: both sides follow.
pub async fn update(ctx: &Ctx<'_>, flavor: Flavor, key: &str) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let attribute = collection.attribute(key).ok_or_else(|| flavor.attribute_not_found())?;
    let relation = attribute.relation().ok_or_else(|| flavor.attribute_not_found())?;
    let (related, other_key) = other_side(ctx, flavor, &database, &relation).await?;
    let on_delete = ctx.params.text("onDelete", 16)?.unwrap_or(relation.on_delete.clone());
    if !ON_DELETE.contains(&on_delete.as_str()) {
        return Err(AppwriteError::invalid_param(
            "onDelete",
            &format!("Value must be one of ({})", ON_DELETE.join(", ")),
        ));
    }
    let new_key = match ctx.params.text("newKey", 36)?.filter(|k| !k.is_empty() && k != key) {
        Some(k) => {
            let k = valid_key("newKey", &k)?;
            if collection.attributes.iter().any(|a| a.key.eq_ignore_ascii_case(&k)) {
                return Err(flavor.attribute_exists());
            }
            k
        }
        None => key.to_string(),
    };
    let now = ctx.ports.clock.now_ms();
    let set = |seq: i64, at: &str, to_key: &str, two_way_key: &str| {
        Statement::new(
            "UPDATE attributes SET key = ?, options = json_set(options, '$.onDelete', ?, '$.twoWayKey', ?), updated_at = ?
             WHERE collection_seq = ? AND key = ?",
            vec![
                to_key.into(),
                on_delete.clone().into(),
                two_way_key.into(),
                Value::Integer(now),
                Value::Integer(seq),
                at.into(),
            ],
        )
        .expect_changes(1)
    };
    ctx.ports
        .sql
        .batch(vec![
            set(collection.seq, key, &new_key, &relation.two_way_key),
            set(related.seq, &other_key, &other_key, &new_key),
        ])
        .await
        .map_err(|e| match e {
            StoreError::GuardFailed { .. } => flavor.attribute_not_found(),
            StoreError::Constraint(_) => flavor.attribute_exists(),
            other => AppwriteError::internal(other),
        })?;
    let mut updated = attribute.clone();
    updated.key = new_key;
    updated.options["onDelete"] = json!(on_delete);
    updated.updated_at = now;
    Ok(Response::json(200, &updated.to_json(flavor)))
}

/// The statements deleting a relationship: both sides and the links.
pub fn drop_statements(relation: &Relation) -> Vec<Statement> {
    vec![
        Statement::new(
            "DELETE FROM attributes WHERE type = 'relationship' AND json_extract(options, '$.junction') = ?",
            vec![Value::Integer(relation.junction)],
        ),
        Statement::new(format!("DROP TABLE IF EXISTS {}", relation.junction_table()), vec![]),
    ]
}

/// A relationship value's items: related ids, or objects to create or update.
enum Item {
    Id(String),
    Object(Map<String, Json>),
}

fn items(key: &str, relation: &Relation, value: &Json) -> Result<Option<Vec<Item>>, AppwriteError> {
    let invalid = || {
        AppwriteError::new(
            ErrorType::RelationshipValueInvalid,
            format!(
                "Invalid relationship value for \"{key}\". Must be either {}.",
                if relation.to_many() {
                    "an array of document IDs or an array of documents"
                } else {
                    "a document ID or a document"
                }
            ),
        )
    };
    let item = |v: &Json| match v {
        Json::String(id) if edgewrite_core::ids::is_valid_custom_id(id) => Ok(Item::Id(id.clone())),
        Json::Object(o) => Ok(Item::Object(o.clone())),
        _ => Err(invalid()),
    };
    match (value, relation.to_many()) {
        (Json::Null, _) => Ok(None),
        (Json::Array(list), true) => list.iter().map(item).collect::<Result<Vec<_>, _>>().map(Some),
        (Json::Array(_), false) | (_, true) => Err(invalid()),
        (v, false) => item(v).map(|i| Some(vec![i])),
    }
}

/// The statements writing the relationship values in `data` for document `id` (created or
/// updated by statements before them in the same batch): related documents given as objects
/// are created (they inherit `permissions` unless they carry `$permissions`) or updated, each
/// checked against the caller's permissions, then the links are replaced.
#[allow(clippy::too_many_arguments)]
pub fn link_statements<'a>(
    ctx: &'a Ctx<'a>,
    flavor: Flavor,
    database: &'a Database,
    collection: &'a Collection,
    id: &'a str,
    data: &'a Map<String, Json>,
    permissions: &'a [Permission],
    depth: usize,
) -> Boxed<'a, Vec<Statement>> {
    Box::pin(async move {
        let mut batch = Vec::new();
        for attribute in collection.attributes.iter().filter(|a| a.visible()) {
            let (Some(relation), Some(value)) = (attribute.relation(), data.get(&attribute.key)) else {
                continue;
            };
            // Below the deepest level Appwrite writes, values are ignored, links included.
            if depth >= MAX_DEPTH {
                continue;
            }
            let (mine, theirs) = relation.columns();
            let table = relation.junction_table();
            // The links before the write matter only where they decide whose update it takes.
            let before = if relation.two_way || relation.steals() {
                partners(ctx, &relation, id).await?
            } else {
                Vec::new()
            };
            batch.push(Statement::new(format!("DELETE FROM {table} WHERE {mine} = ?"), vec![id.into()]));
            let Some(items) = items(&attribute.key, &relation, value)? else { continue };
            if items.len() > MAX_LINKS {
                return Err(AppwriteError::new(
                    ErrorType::RelationshipValueInvalid,
                    format!(
                        "Invalid relationship value for \"{}\": at most {MAX_LINKS} documents per write.",
                        attribute.key
                    ),
                ));
            }
            let related = related_collection(ctx, flavor, database, collection, &relation).await?;
            let mut ids = Vec::with_capacity(items.len());
            let mut by_id = Vec::new();
            for item in items {
                match item {
                    Item::Id(related_id) => by_id.push(related_id),
                    // `{$id}` alone is a link, like the bare id.
                    Item::Object(object)
                        if object.keys().all(|k| k == "$id")
                            && object.get("$id").is_some_and(Json::is_string) =>
                    {
                        by_id.extend(object.get("$id").and_then(Json::as_str).map(str::to_string));
                    }
                    Item::Object(object) => batch.extend(
                        nested_write(
                            ctx,
                            flavor,
                            database,
                            &related,
                            object,
                            permissions,
                            depth + 1,
                            &mut ids,
                        )
                        .await?,
                    ),
                }
            }
            // Linking by id reaches only documents the caller can read; taking a document from
            // another's links (where it can have just one) takes update permission on it.
            let mut newly_linked = Vec::new();
            for doc in documents::load_readable(ctx, flavor, database, &related, &by_id).await? {
                if relation.steals() && !documents::document_allows(ctx, &related, &doc, "update") {
                    return Err(documents::unauthorized());
                }
                if !before.contains(&doc.id) {
                    newly_linked.push(doc.id.clone());
                }
                ids.push(doc.id);
            }
            // Every document whose attributes the links change takes update permission: on a
            // two-way relationship the partners linked or let go (their side shows the link),
            // and, where a document holds one link on this side, the one it is taken from.
            let mut changed: Vec<String> = Vec::new();
            if relation.two_way {
                changed.extend(newly_linked.iter().cloned());
                changed.extend(before.iter().filter(|b| !ids.contains(b)).cloned());
            }
            documents::require_update(ctx, flavor, database, &related, &changed).await?;
            if relation.steals() {
                let holders = previous_holders(ctx, &relation, id, &newly_linked).await?;
                documents::require_update(ctx, flavor, database, collection, &holders).await?;
            }
            if relation.to_many() {
                // Only documents that exist are linked; a document already linked on a side that
                // takes one link moves here (`OR REPLACE`).
                batch.push(Statement::new(
                    format!(
                        "INSERT OR REPLACE INTO {table} ({mine}, {theirs})
                         SELECT ?, value FROM json_each(?) WHERE value IN (SELECT _id FROM {})",
                        related.docs_table()
                    ),
                    vec![id.into(), json!(ids).to_string().into()],
                ));
            } else if let Some(related_id) = ids.first() {
                // A one-to-one partner already linked elsewhere is a conflict (409).
                batch.push(Statement::new(
                    format!("INSERT INTO {table} ({mine}, {theirs}) VALUES (?, ?)"),
                    vec![id.into(), related_id.clone().into()],
                ));
            }
        }
        Ok(batch)
    })
}

/// The documents `id` links to through `relation` now, before a write replaces them.
async fn partners(ctx: &Ctx<'_>, relation: &Relation, id: &str) -> Result<Vec<String>, AppwriteError> {
    let (mine, theirs) = relation.columns();
    let sql = format!("SELECT {theirs} FROM {} WHERE {mine} = ?", relation.junction_table());
    ids_of(ctx, Statement::new(sql, vec![id.into()])).await
}

/// The documents on this side other than `id` that hold any of `taken` now, and lose it.
async fn previous_holders(
    ctx: &Ctx<'_>,
    relation: &Relation,
    id: &str,
    taken: &[String],
) -> Result<Vec<String>, AppwriteError> {
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let (mine, theirs) = relation.columns();
    let sql = format!(
        "SELECT DISTINCT {mine} FROM {} WHERE {theirs} IN (SELECT value FROM json_each(?)) AND {mine} <> ?",
        relation.junction_table()
    );
    let params = vec![json!(taken).to_string().into(), id.into()];
    ids_of(ctx, Statement::new(sql, params)).await
}

/// The first column of `statement`'s rows, as ids.
async fn ids_of(ctx: &Ctx<'_>, statement: Statement) -> Result<Vec<String>, AppwriteError> {
    let rows = ctx.ports.sql.query(statement).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| r.first().and_then(Value::as_str).map(str::to_string)).collect())
}

/// A related document given as an object: created, or updated when its `$id` exists.
#[allow(clippy::too_many_arguments)]
async fn nested_write(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    related: &Collection,
    mut object: Map<String, Json>,
    inherited: &[Permission],
    depth: usize,
    ids: &mut Vec<String>,
) -> Result<Vec<Statement>, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let related_id = match object.get("$id").and_then(Json::as_str) {
        None | Some("unique()") => edgewrite_core::ids::unique_id(now, ctx.ports.random),
        Some(id) if edgewrite_core::ids::is_valid_custom_id(id) => id.to_string(),
        Some(_) => return Err(AppwriteError::invalid_param("$id", edgewrite_core::ids::CUSTOM_ID_RULE)),
    };
    let own_permissions = documents::embedded_permissions(ctx, object.remove("$permissions"))?;
    object.retain(|k, _| !k.starts_with('$'));
    ids.push(related_id.clone());
    let existing = documents::load_document(ctx, flavor, database, related, &related_id, false).await?;
    let mut batch = Vec::new();
    let permissions = match existing {
        Some(doc) => {
            if object.is_empty() && own_permissions.is_none() {
                return Ok(batch);
            }
            if !documents::document_allows(ctx, related, &doc, "update") {
                return Err(documents::unauthorized());
            }
            batch.extend(documents::update_statements(
                ctx,
                flavor,
                related,
                &related_id,
                &object,
                own_permissions.as_deref(),
            )?);
            own_permissions.unwrap_or_else(|| doc.parsed_permissions())
        }
        None => {
            if !documents::collection_allows(ctx, related, "create") {
                return Err(documents::unauthorized());
            }
            let permissions = own_permissions.unwrap_or_else(|| inherited.to_vec());
            batch.extend(documents::insert_statements(
                ctx,
                flavor,
                related,
                &related_id,
                &object,
                Some(permissions.clone()),
            )?);
            permissions
        }
    };
    batch.extend(
        link_statements(ctx, flavor, database, related, &related_id, &object, &permissions, depth).await?,
    );
    Ok(batch)
}

/// The statements a delete of `ids` in `collection` needs first: each relationship's
/// `onDelete` applied to what they link to (restrict refuses, cascade deletes the related
/// documents too, each checked against the caller's delete permission; setNull only
/// unlinks), and their links removed. `visited` holds every document already being deleted,
/// so cycles end.
pub fn delete_statements<'a>(
    ctx: &'a Ctx<'a>,
    flavor: Flavor,
    database: &'a Database,
    collection: &'a Collection,
    ids: &'a [String],
    depth: usize,
    visited: &'a mut BTreeSet<(i64, String)>,
) -> Boxed<'a, Vec<Statement>> {
    Box::pin(async move {
        for id in ids {
            visited.insert((collection.seq, id.clone()));
        }
        let mut batch = Vec::new();
        for relation in collection.attributes.iter().filter_map(Attribute::relation) {
            let (mine, theirs) = relation.columns();
            let table = relation.junction_table();
            let list = json!(ids).to_string();
            if relation.governs_delete() && relation.on_delete != "setNull" {
                let linked = ctx
                    .ports
                    .sql
                    .query(Statement::new(
                        format!(
                            "SELECT DISTINCT {theirs} FROM {table} WHERE {mine} IN (SELECT value FROM json_each(?)) LIMIT {MAX_LOADED}"
                        ),
                        vec![list.clone().into()],
                    ))
                    .await
                    .map_err(AppwriteError::internal)?;
                let linked: Vec<String> =
                    linked.rows.iter().filter_map(|r| r.first()?.as_str().map(str::to_string)).collect();
                if relation.on_delete == "restrict" {
                    if !linked.is_empty() {
                        return Err(flavor.delete_restricted());
                    }
                    // Checked again inside the delete's batch: a link made since fails it (a
                    // guard expecting no change; delete batches have no other such guard).
                    batch.push(
                        Statement::new(
                            format!(
                                "UPDATE {table} SET {mine} = {mine} WHERE {mine} IN (SELECT value FROM json_each(?))"
                            ),
                            vec![list.clone().into()],
                        )
                        .expect_changes(0),
                    );
                }
                if !linked.is_empty() && depth < MAX_DEPTH {
                    let related = related_collection(ctx, flavor, database, collection, &relation).await?;
                    let fresh: Vec<String> =
                        linked.into_iter().filter(|l| !visited.contains(&(related.seq, l.clone()))).collect();
                    let docs = documents::load_many(ctx, flavor, database, &related, &fresh).await?;
                    if docs.iter().any(|d| !documents::document_allows(ctx, &related, d, "delete")) {
                        return Err(documents::unauthorized());
                    }
                    let doomed: Vec<String> = docs.into_iter().map(|d| d.id).collect();
                    if !doomed.is_empty() {
                        batch.extend(
                            delete_statements(ctx, flavor, database, &related, &doomed, depth + 1, visited)
                                .await?,
                        );
                        for related_id in &doomed {
                            batch.extend(documents::delete_statements(&related, related_id));
                        }
                    }
                }
            }
            batch.push(Statement::new(
                format!("DELETE FROM {table} WHERE {mine} IN (SELECT value FROM json_each(?))"),
                vec![list.into()],
            ));
        }
        Ok(batch)
    })
}

/// What a `select` asks of a document: its own attributes (all, or those named) and, per
/// relationship key, what to select of the related documents.
#[derive(Debug, Default)]
pub struct Selection {
    pub all: bool,
    pub fields: Vec<String>,
    pub related: BTreeMap<String, Vec<String>>,
}

impl Selection {
    /// `None` values: no `select` at all (every own attribute, no related documents).
    pub fn parse(collection: &Collection, values: Option<Vec<String>>) -> Result<Selection, AppwriteError> {
        let Some(values) = values else { return Ok(Selection { all: true, ..Selection::default() }) };
        let mut out = Selection::default();
        let invalid =
            |message: String| AppwriteError::invalid_param("queries", &format!("Invalid query: {message}"));
        for value in values {
            if value == "*" {
                out.all = true;
                continue;
            }
            if let Some((head, rest)) = value.split_once('.') {
                let relation = collection.attribute(head).and_then(Attribute::relation);
                if relation.is_none() {
                    return Err(invalid(format!("Attribute not found in schema: {head}")));
                }
                out.related.entry(head.to_string()).or_default().push(rest.to_string());
                continue;
            }
            match collection.attribute(&value) {
                Some(a) if a.relation().is_some() => {
                    return Err(invalid(format!("Cannot select attributes: {value}")));
                }
                Some(_) => out.fields.push(value),
                None if value.starts_with('$') => out.fields.push(value),
                None => return Err(invalid(format!("Attribute not found in schema: {value}"))),
            }
        }
        Ok(out)
    }

    /// A document with only the system attributes and the selected ones.
    pub fn project(&self, doc: Json) -> Json {
        if self.all {
            return doc;
        }
        let Json::Object(map) = doc else { return doc };
        Json::Object(
            map.into_iter()
                .filter(|(k, _)| {
                    k.starts_with('$') || self.fields.contains(k) || self.related.contains_key(k)
                })
                .collect(),
        )
    }
}

/// Loads the related documents `selection` asks for into `docs` (of `collection`), as far as
/// [`MAX_DEPTH`]: an object (or `null`) for a to-one side, an array for a to-many side; only
/// documents the caller may read.
pub fn populate<'a>(
    ctx: &'a Ctx<'a>,
    flavor: Flavor,
    database: &'a Database,
    collection: &'a Collection,
    docs: &'a mut [Json],
    selection: &'a Selection,
    depth: usize,
) -> Boxed<'a, ()> {
    Box::pin(async move {
        if docs.is_empty() || depth >= MAX_DEPTH {
            return Ok(());
        }
        let ids: Vec<String> =
            docs.iter().filter_map(|d| d.get("$id")?.as_str().map(str::to_string)).collect();
        for (key, sub) in &selection.related {
            let Some(relation) = collection.attribute(key).and_then(Attribute::relation) else { continue };
            let (mine, theirs) = relation.columns();
            let pairs = ctx
                .ports
                .sql
                .query(Statement::new(
                    format!(
                        "SELECT {mine}, {theirs} FROM {} WHERE {mine} IN (SELECT value FROM json_each(?)) ORDER BY rowid LIMIT {MAX_LOADED}",
                        relation.junction_table()
                    ),
                    vec![json!(ids).to_string().into()],
                ))
                .await
                .map_err(AppwriteError::internal)?;
            let pairs: Vec<(String, String)> = pairs
                .rows
                .iter()
                .filter_map(|r| Some((r.first()?.as_str()?.to_string(), r.get(1)?.as_str()?.to_string())))
                .collect();
            let related = related_collection(ctx, flavor, database, collection, &relation).await?;
            let wanted: Vec<String> = pairs.iter().map(|(_, t)| t.clone()).collect();
            let found = documents::load_readable(ctx, flavor, database, &related, &wanted).await?;
            let selection = Selection::parse(&related, Some(sub.clone()))?;
            let mut loaded: Vec<Json> = found.into_iter().map(|d| d.json).collect();
            populate(ctx, flavor, database, &related, &mut loaded, &selection, depth + 1).await?;
            // The related documents do not repeat the link back.
            let back = relation.two_way.then_some(relation.two_way_key.as_str());
            let by_id: BTreeMap<String, Json> = loaded
                .into_iter()
                .filter_map(|mut d| {
                    if let (Some(back), Json::Object(m)) = (back, &mut d) {
                        m.remove(back);
                    }
                    let id = d.get("$id")?.as_str()?.to_string();
                    Some((id, selection.project(d)))
                })
                .collect();
            for doc in docs.iter_mut() {
                let id = doc.get("$id").and_then(Json::as_str).unwrap_or_default().to_string();
                let linked: Vec<Json> = pairs
                    .iter()
                    .filter(|(m, _)| *m == id)
                    .filter_map(|(_, t)| by_id.get(t).cloned())
                    .collect();
                let value = if relation.to_many() {
                    Json::Array(linked)
                } else {
                    linked.into_iter().next().unwrap_or(Json::Null)
                };
                if let Json::Object(m) = doc {
                    m.insert(key.clone(), value);
                }
            }
        }
        Ok(())
    })
}

/// Whether the collection has relationships: bulk writes refuse those, as Appwrite does.
pub fn refuse_bulk(collection: &Collection) -> Result<(), AppwriteError> {
    if collection.attributes.iter().any(|a| a.relation().is_some()) {
        return Err(AppwriteError::new(
            ErrorType::GeneralBadRequest,
            "Bulk operations are not supported on collections with relationship attributes.",
        ));
    }
    Ok(())
}
