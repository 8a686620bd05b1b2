//! Documents/rows (`appwrite-api.md` §6.1): create, get, list with queries, update, upsert,
//! delete, increment/decrement — each checked against the collection's permissions and, with
//! document security, the document's own. Lists filter by permission inside SQL, so pages are
//! full and `total` counts only what the caller may read.

use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Rows, Statement, StoreError, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::attributes::{stored_value, wire_value};
use crate::flavor::Flavor;
use crate::meta::{self, Collection, Database, Kind};
use crate::operators::{self, Op};
use crate::relationships::{self, Selection};
use edgewrite_core::permissions::{self, Permission};

/// What `write` means on a collection, and on a document (where `create` has no meaning).
const COLLECTION_WRITE: &[&str] = &["create", "update", "delete"];
const DOCUMENT_WRITE: &[&str] = &["update", "delete"];

pub(crate) fn unauthorized() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserUnauthorized,
        "The current user is not authorized to perform the requested action.",
    )
}

fn is_app(ctx: &Ctx<'_>) -> bool {
    matches!(ctx.caller, Caller::App { .. })
}

/// Whether the collection's own permissions give the caller `action`.
pub(crate) fn collection_allows(ctx: &Ctx<'_>, collection: &Collection, action: &str) -> bool {
    is_app(ctx) || permissions::allows(&collection.permissions, action, &ctx.caller.roles(), COLLECTION_WRITE)
}

const SYSTEM_COLUMNS: &str = "_seq, _id, _created_at, _updated_at, _permissions";

/// The attributes a read returns as columns, in order: the stored ones, then each to-one
/// relationship (the related id, from [`Collection::read_source`]).
fn read_attributes(collection: &Collection) -> impl Iterator<Item = &crate::meta::Attribute> {
    collection.stored().chain(collection.attributes.iter().filter(|a| a.to_one_relation().is_some()))
}

fn columns(collection: &Collection) -> String {
    let mut out = SYSTEM_COLUMNS.to_string();
    for a in read_attributes(collection) {
        out.push_str(", ");
        out.push_str(&a.column());
    }
    out
}

pub(crate) struct Document {
    pub(crate) id: String,
    pub(crate) permissions: Vec<String>,
    pub(crate) json: Json,
}

impl Document {
    /// Its stored permissions, parsed (what nested documents inherit).
    pub(crate) fn parsed_permissions(&self) -> Vec<Permission> {
        permissions::parse(&self.permissions, &["read", "update", "delete", "write"]).unwrap_or_default()
    }
}

fn document(flavor: Flavor, database: &Database, collection: &Collection, row: &[Value]) -> Option<Document> {
    let id = row.get(1)?.as_str()?.to_string();
    let permissions: Vec<String> =
        row.get(4).and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    let mut model = Map::new();
    model.insert("$id".into(), json!(id));
    model.insert("$sequence".into(), json!(row.first()?.as_i64()?.to_string()));
    model.insert(flavor.collection_ref().into(), json!(collection.id));
    model.insert("$databaseId".into(), json!(database.id));
    model.insert("$createdAt".into(), json!(iso_from_ms(row.get(2)?.as_i64()?)));
    model.insert("$updatedAt".into(), json!(iso_from_ms(row.get(3)?.as_i64()?)));
    model.insert("$permissions".into(), json!(permissions));
    for (i, a) in read_attributes(collection).enumerate() {
        model.insert(a.key.clone(), wire_value(a, row.get(5 + i).unwrap_or(&Value::Null)));
    }
    Some(Document { id, permissions, json: Json::Object(model) })
}

/// The SQL condition (on the document table, unaliased columns) that the caller may `action`
/// the document by its own permissions.
fn permitted(collection: &Collection, action: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} p WHERE p.doc_seq = _seq AND p.action = '{action}'
                 AND p.role IN (SELECT value FROM json_each(?)))",
        collection.perms_table()
    )
}

fn roles_param(ctx: &Ctx<'_>) -> Value {
    json!(ctx.caller.roles()).to_string().into()
}

pub(crate) async fn load_document(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    id: &str,
    read_filter: bool,
) -> Result<Option<Document>, AppwriteError> {
    let mut statement = document_statement(collection, id);
    if read_filter {
        statement.sql.push_str(" AND ");
        statement.sql.push_str(&permitted(collection, "read"));
        statement.params.push(roles_param(ctx));
    }
    let rows = ctx.ports.sql.query(statement).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| document(flavor, database, collection, r)))
}

/// Reads document `id` as [`document`] takes it.
fn document_statement(collection: &Collection, id: &str) -> Statement {
    let sql = format!("SELECT {} FROM {} WHERE _id = ?", columns(collection), collection.read_source());
    Statement::new(sql, vec![Value::from(id)])
}

/// Appwrite parses a document list's queries in the database layer, not as a checked parameter:
/// a bad one is 400 `general_query_invalid` with the query's own message (``Invalid query: …``),
/// not ``Invalid `queries` param: …``.
fn as_query_error(err: AppwriteError) -> AppwriteError {
    match err.message.strip_prefix("Invalid `queries` param: ") {
        Some(message)
            if err.kind == ErrorType::GeneralArgumentInvalid && message.starts_with("Invalid query") =>
        {
            AppwriteError::new(ErrorType::GeneralQueryInvalid, message.to_string())
        }
        _ => err,
    }
}

/// `GET …/documents/{documentId}`
pub async fn get(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    get_document(ctx, flavor).await.map_err(as_query_error)
}

async fn get_document(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.required_text(flavor.document_param(), 36)?;
    let all = collection_allows(ctx, &collection, "read");
    if !all && !collection.document_security {
        return Err(unauthorized());
    }
    let selection = Selection::parse(&collection, selected(ctx)?)?;
    let doc = load_document(ctx, flavor, &database, &collection, &id, !all)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    let mut docs = [doc.json];
    relationships::populate(ctx, flavor, &database, &collection, &mut docs, &selection, 1).await?;
    let [doc] = docs;
    Ok(Response::json(200, &selection.project(doc)))
}

/// `GET …/documents`
pub async fn list(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    list_documents(ctx, flavor).await.map_err(as_query_error)
}

async fn list_documents(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let all = collection_allows(ctx, &collection, "read");
    if !all && !collection.document_security {
        return Err(unauthorized());
    }
    let read = permitted(&collection, "read");
    let scope = (!all).then(|| (read.as_str(), vec![roles_param(ctx)]));
    let selection = Selection::parse(&collection, selected(ctx)?)?;
    let (total, rows) = select_page(ctx, &collection, scope).await?;
    let mut docs: Vec<Json> =
        rows.iter().filter_map(|r| document(flavor, &database, &collection, r)).map(|d| d.json).collect();
    relationships::populate(ctx, flavor, &database, &collection, &mut docs, &selection, 1).await?;
    let docs: Vec<Json> = docs.into_iter().map(|d| selection.project(d)).collect();
    Ok(Response::json(200, &json!({"total": total, flavor.documents_key(): docs})))
}

/// The documents among `ids` the caller may read; 401 when it may read none of the
/// collection's (no collection read permission, and no document security).
pub(crate) async fn load_readable(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    ids: &[String],
) -> Result<Vec<Document>, AppwriteError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let all = collection_allows(ctx, collection, "read");
    if !all && !collection.document_security {
        return Err(unauthorized());
    }
    let scope = (!all).then(|| (permitted(collection, "read"), roles_param(ctx)));
    documents_by_id(ctx, flavor, database, collection, ids, scope).await
}

/// The documents among `ids`, in insertion order, within `scope` (a condition with its one
/// parameter) when given.
async fn documents_by_id(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    ids: &[String],
    scope: Option<(String, Value)>,
) -> Result<Vec<Document>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(documents_statement_scoped(collection, ids, scope))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(read_documents(flavor, database, collection, &rows))
}

/// Reads documents `ids`, in creation order, as [`document`] takes them.
fn documents_statement(collection: &Collection, ids: &[String]) -> Statement {
    documents_statement_scoped(collection, ids, None)
}

fn documents_statement_scoped(
    collection: &Collection,
    ids: &[String],
    scope: Option<(String, Value)>,
) -> Statement {
    let mut sql = format!(
        "SELECT {} FROM {} WHERE _id IN (SELECT value FROM json_each(?))",
        columns(collection),
        collection.read_source()
    );
    let mut params = vec![Value::from(json!(ids).to_string())];
    if let Some((condition, param)) = scope {
        sql.push_str(" AND ");
        sql.push_str(&condition);
        params.push(param);
    }
    sql.push_str(" ORDER BY _seq");
    Statement::new(sql, params)
}

/// The values of the request's `select` queries (`None`: there are none). Elsewhere than in
/// lists, only `select` queries are allowed.
fn selected(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, AppwriteError> {
    use edgewrite_core::query::{parse, QueryMethod};
    let queries = ctx
        .params
        .string_array("queries", edgewrite_core::query::MAX_QUERY_CHARS, &ctx.config.limits)?
        .unwrap_or_default();
    let mut out: Option<Vec<String>> = None;
    for raw in &queries {
        let q = parse(raw)?;
        if q.method == QueryMethod::Select {
            let values = q.values.iter().filter_map(|v| v.as_str().map(str::to_string));
            out.get_or_insert_with(Vec::new).extend(values);
        }
    }
    Ok(out)
}

/// What a query [`Schema`] over a collection's documents borrows: the quoted columns of its
/// attributes and its fulltext tables.
struct QuerySource<'c> {
    collection: &'c Collection,
    table: String,
    columns: Vec<String>,
    fulltext: Vec<(String, String)>,
}

impl<'c> QuerySource<'c> {
    fn of(collection: &'c Collection) -> Self {
        QuerySource {
            collection,
            table: collection.read_source(),
            columns: read_attributes(collection).map(|a| a.column()).collect(),
            fulltext: collection
                .indexes
                .iter()
                .filter(|i| i.kind == "fulltext")
                .filter_map(|i| {
                    Some((i.attributes.first()?.clone(), crate::attributes::fts_table(collection, &i.key)))
                })
                .collect(),
        }
    }

    /// `$id`, `$createdAt`, `$updatedAt` and every attribute.
    fn fields(&self) -> Vec<Field<'_>> {
        let mut fields = vec![
            Field { attribute: "$id", column: "_id", kind: FieldKind::Text },
            Field { attribute: "$createdAt", column: "_created_at", kind: FieldKind::Datetime },
            Field { attribute: "$updatedAt", column: "_updated_at", kind: FieldKind::Datetime },
        ];
        fields.extend(read_attributes(self.collection).zip(&self.columns).map(|(a, column)| {
            let kind = if a.array {
                FieldKind::Array
            } else {
                match a.kind() {
                    Kind::String | Kind::Relationship => FieldKind::Text,
                    Kind::Integer => FieldKind::Integer,
                    Kind::Float => FieldKind::Float,
                    Kind::Boolean => FieldKind::Boolean,
                    Kind::Datetime => FieldKind::Datetime,
                }
            };
            Field { attribute: &a.key, column, kind }
        }));
        fields
    }

    fn fulltext(&self) -> Vec<(&str, &str)> {
        self.fulltext.iter().map(|(a, t)| (a.as_str(), t.as_str())).collect()
    }

    fn schema<'s>(&'s self, fields: &'s [Field<'s>], fulltext: &'s [(&'s str, &'s str)]) -> Schema<'s> {
        Schema { table: &self.table, id_column: "_id", fields, search: None, fulltext }
    }
}

/// The request's `queries` over the collection's documents, within `scope`.
async fn select_page(
    ctx: &Ctx<'_>,
    collection: &Collection,
    scope: Option<(&str, Vec<Value>)>,
) -> Result<(i64, Vec<Vec<Value>>), AppwriteError> {
    let source = QuerySource::of(collection);
    let (fields, fulltext) = (source.fields(), source.fulltext());
    let schema = source.schema(&fields, &fulltext);
    // `select` shapes documents after the page is read (relationship paths included): see
    // `Selection`.
    let queries: Vec<String> = crate::schema::queries_param(ctx)?
        .into_iter()
        .filter(|q| {
            edgewrite_core::query::parse(q)
                .map_or(true, |q| q.method != edgewrite_core::query::QueryMethod::Select)
        })
        .collect();
    crate::schema::page_with(ctx, &schema, &columns(collection), scope, queries).await
}

/// `$permissions` inside a document given as JSON (nested and staged documents): parsed and,
/// for clients, limited to roles they hold; `None` when absent or not a list.
pub(crate) fn embedded_permissions(
    ctx: &Ctx<'_>,
    value: Option<Json>,
) -> Result<Option<Vec<Permission>>, AppwriteError> {
    let Some(Json::Array(list)) = value else { return Ok(None) };
    let list: Vec<String> = list.iter().filter_map(|p| p.as_str().map(str::to_string)).collect();
    let parsed = permissions::parse(&list, &["read", "update", "delete", "write"])?;
    permissions::check_grantable(&ctx.caller, &parsed)?;
    Ok(Some(parsed))
}

/// The `permissions` parameter of a document: read, update, delete, write.
pub(crate) fn document_permissions(ctx: &Ctx<'_>) -> Result<Option<Vec<Permission>>, AppwriteError> {
    let Some(list) = ctx.params.string_array("permissions", 256, &ctx.config.limits)? else {
        return Ok(None);
    };
    let parsed = permissions::parse(&list, &["read", "update", "delete", "write"])?;
    permissions::check_grantable(&ctx.caller, &parsed)?;
    Ok(Some(parsed))
}

/// Validated stored values of `data` for the collection: for a create every attribute (with
/// defaults), for an update only those given.
pub(crate) fn values(
    flavor: Flavor,
    collection: &Collection,
    data: &Map<String, Json>,
    create: bool,
    now: i64,
) -> Result<Vec<(usize, Assign)>, AppwriteError> {
    for key in data.keys() {
        if !key.starts_with('$') && collection.attribute(key).is_none() {
            return Err(flavor.invalid_structure(&format!("Unknown attribute: \"{key}\"")));
        }
    }
    let mut out = Vec::new();
    // Relationship values are links, written apart (`relationships::link_statements`).
    for (i, a) in collection.attributes.iter().enumerate().filter(|(_, a)| a.stored()) {
        let value = match data.get(&a.key) {
            Some(v) => v.clone(),
            None if create => a.default.clone(),
            None => continue,
        };
        let op = operators::parse(a, &value, now).map_err(|detail| flavor.invalid_structure(&detail))?;
        let assign = match op {
            Some(_) if create => {
                return Err(flavor.invalid_structure(&format!(
                    "Operators change existing values; attribute \"{}\" of a new document takes a value",
                    a.key
                )))
            }
            Some(op) => Assign::Apply(op),
            None => Assign::Set(stored_value(a, &value).map_err(|detail| flavor.invalid_structure(&detail))?),
        };
        out.push((i, assign));
    }
    let bytes: usize = out
        .iter()
        .filter_map(|(_, v)| match v {
            Assign::Set(v) => Some(v.as_str().map_or_else(|| v.to_string().len(), str::len)),
            Assign::Apply(_) => None,
        })
        .sum();
    if bytes > MAX_DOCUMENT_BYTES {
        return Err(too_large(flavor));
    }
    Ok(out)
}

/// How a write sets one stored attribute: to a value, or by an update operator.
pub(crate) enum Assign {
    Set(Json),
    Apply(Op),
}

/// Most bytes a document's attribute values may take together. Durable Object SQLite refuses
/// rows and values over 2 MB; this leaves room for the system columns.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

fn too_large(flavor: Flavor) -> AppwriteError {
    flavor.invalid_structure(&format!(
        "Document is too large: its attribute values take more than {MAX_DOCUMENT_BYTES} bytes"
    ))
}

/// A statement failing the batch (a guard expecting no change) when a document matching
/// `condition` is, after the batch's writes before it, over [`MAX_DOCUMENT_BYTES`]: a partial
/// update can grow a document past the limit with values that are each small.
pub(crate) fn size_guard(collection: &Collection, condition: &str, params: Vec<Value>) -> Statement {
    let mut size = String::from("0");
    for a in collection.stored() {
        size.push_str(&format!(" + coalesce(length(CAST({} AS BLOB)), 0)", a.column()));
    }
    Statement::new(
        format!(
            "UPDATE {} SET _seq = _seq WHERE {condition} AND {size} > {MAX_DOCUMENT_BYTES}",
            collection.docs_table()
        ),
        params,
    )
    .expect_changes(0)
}

pub(crate) fn write_error(flavor: Flavor) -> impl Fn(StoreError) -> AppwriteError {
    move |e| match e {
        StoreError::Constraint(_) => flavor.document_exists(),
        // Only the size guard expects no change.
        StoreError::GuardFailed { expected: 0, .. } => too_large(flavor),
        StoreError::GuardFailed { .. } => flavor.document_not_found(),
        other => AppwriteError::internal(other),
    }
}

/// Statements replacing a document's permission rows.
fn permission_rows(collection: &Collection, id: &str, permissions: &[Permission]) -> Vec<Statement> {
    let pairs: Vec<(String, String)> = permissions::expand(permissions, DOCUMENT_WRITE);
    let perms = collection.perms_table();
    let docs = collection.docs_table();
    vec![
        Statement::new(
            format!("DELETE FROM {perms} WHERE doc_seq = (SELECT _seq FROM {docs} WHERE _id = ?)"),
            vec![id.into()],
        ),
        Statement::new(
            format!(
                "INSERT INTO {perms} (doc_seq, action, role)
                 SELECT d._seq, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]')
                 FROM {docs} d, json_each(?) p WHERE d._id = ?"
            ),
            vec![json!(pairs).to_string().into(), id.into()],
        ),
    ]
}

/// A new document's permissions: those given or, without them, read, update and delete for a
/// signed-in creator.
pub(crate) fn creation_permissions(ctx: &Ctx<'_>, permissions: Option<Vec<Permission>>) -> Vec<Permission> {
    permissions.unwrap_or_else(|| permissions::creator_defaults(&ctx.caller))
}

/// The statements inserting a document (after the create permission was checked).
/// The `$createdAt` and `$updatedAt` a server (API key) gives in `data`, as Appwrite allows so
/// that migrated documents keep their history; others' are ignored.
fn kept_times(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    data: &Map<String, Json>,
) -> Result<(Option<i64>, Option<i64>), AppwriteError> {
    if !matches!(ctx.caller, Caller::App { .. }) {
        return Ok((None, None));
    }
    let time = |key: &str| -> Result<Option<i64>, AppwriteError> {
        match data.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v.as_str().and_then(edgewrite_core::time::ms_from_iso).map(Some).ok_or_else(|| {
                flavor.invalid_structure(&format!("\"{key}\" must be an ISO 8601 date and time"))
            }),
        }
    };
    Ok((time("$createdAt")?, time("$updatedAt")?))
}

pub(crate) fn insert_statements(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    collection: &Collection,
    id: &str,
    data: &Map<String, Json>,
    permissions: Option<Vec<Permission>>,
) -> Result<Vec<Statement>, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let values = values(flavor, collection, data, true, now)?;
    let permissions = creation_permissions(ctx, permissions);
    let (created, updated) = kept_times(ctx, flavor, data)?;
    let (created, updated) = (created.unwrap_or(now), updated.or(created).unwrap_or(now));
    let mut cols = vec!["_id".to_string(), "_created_at".into(), "_updated_at".into(), "_permissions".into()];
    let mut row = vec![
        json!(id),
        json!(created),
        json!(updated),
        json!(json!(permissions::render(&permissions)).to_string()),
    ];
    for (i, v) in values {
        if let Assign::Set(v) = v {
            cols.push(collection.attributes[i].column());
            row.push(v);
        }
    }
    // One JSON parameter carries every value: Durable Object SQLite binds at most 100.
    let extracts: Vec<String> = (0..cols.len()).map(|i| format!("json_extract(j, '$[{i}]')")).collect();
    let mut batch = vec![Statement::new(
        format!(
            "WITH v(j) AS (SELECT ?) INSERT INTO {} ({}) SELECT {} FROM v",
            collection.docs_table(),
            cols.join(", "),
            extracts.join(", ")
        ),
        vec![Json::Array(row).to_string().into()],
    )];
    batch.extend(permission_rows(collection, id, &permissions));
    Ok(batch)
}

async fn create_document(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    id: String,
    data: &Map<String, Json>,
    permissions: Option<Vec<Permission>>,
) -> Result<Response, AppwriteError> {
    if !collection_allows(ctx, collection, "create") {
        return Err(unauthorized());
    }
    let permissions = creation_permissions(ctx, permissions);
    let mut batch = insert_statements(ctx, flavor, collection, &id, data, Some(permissions.clone()))?;
    batch.extend(
        relationships::link_statements(ctx, flavor, database, collection, &id, data, &permissions, 1).await?,
    );
    let read = document_statement(collection, &id);
    let (_, rows, seq) = commit(ctx, batch, Some(read)).await.map_err(write_error(flavor))?;
    let docs = read_documents(flavor, database, collection, &rows);
    announce(ctx, seq, database, collection, &docs, "create").await;
    let doc = docs.into_iter().next().ok_or_else(|| flavor.document_not_found())?;
    Ok(Response::json(201, &doc.json))
}

/// Runs a write's batch, then `read` (what the write's events carry, read inside the same
/// transaction so no later write shows through), then the commit sequence statement. Answers
/// the batch's rows, `read`'s rows and the number the write took for its realtime events (which
/// must then be announced).
async fn commit(
    ctx: &Ctx<'_>,
    mut batch: Vec<Statement>,
    read: Option<Statement>,
) -> Result<(Vec<Rows>, Rows, Option<i64>), StoreError> {
    let has_read = read.is_some();
    batch.extend(read);
    batch.push(edgewrite_core::events::sequence_statement());
    let mut out = ctx.ports.sql.batch(batch).await?;
    let seq = edgewrite_core::events::sequence_of(&out);
    out.pop();
    let read = if has_read { out.pop().unwrap_or_default() } else { Rows::default() };
    Ok((out, read, seq))
}

/// The documents a [`commit`]'s read found, in order.
fn read_documents(
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    rows: &Rows,
) -> Vec<Document> {
    rows.rows.iter().filter_map(|r| document(flavor, database, collection, r)).collect()
}

/// The realtime events of `action` on `docs`, written by the commit that took `seq`.
async fn announce<'d>(
    ctx: &Ctx<'_>,
    seq: Option<i64>,
    database: &Database,
    collection: &Collection,
    docs: impl IntoIterator<Item = &'d Document>,
    action: &str,
) {
    let events = docs
        .into_iter()
        .map(|doc| {
            crate::events::document_event(
                &database.id,
                collection,
                &doc.id,
                action,
                &doc.permissions,
                doc.json.clone(),
            )
        })
        .collect();
    edgewrite_core::events::publish_all(ctx, seq, events).await;
}

/// `POST …/documents`
pub async fn create(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    if ctx.params.raw(flavor.documents_key()).is_some() {
        return create_many(ctx, flavor).await;
    }
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.custom_id(flavor.document_param(), ctx.ports.clock.now_ms(), ctx.ports.random)?;
    let data = ctx.params.object("data")?.unwrap_or_default();
    if data.is_empty() {
        return Err(flavor.missing_data());
    }
    let permissions = document_permissions(ctx)?;
    create_document(ctx, flavor, &database, &collection, id, &data, permissions).await
}

/// 401 unless the caller may update every one of `ids` (those that exist) in `collection`.
pub(crate) async fn require_update(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    ids: &[String],
) -> Result<(), AppwriteError> {
    if ids.is_empty() || collection_allows(ctx, collection, "update") {
        return Ok(());
    }
    let docs = load_many(ctx, flavor, database, collection, ids).await?;
    if docs.iter().all(|doc| document_allows(ctx, collection, doc, "update")) {
        Ok(())
    } else {
        Err(unauthorized())
    }
}

/// Whether the caller may `action` this stored document.
pub(crate) fn document_allows(ctx: &Ctx<'_>, collection: &Collection, doc: &Document, action: &str) -> bool {
    collection_allows(ctx, collection, action)
        || (collection.document_security
            && permissions::allows(&doc.permissions, action, &ctx.caller.roles(), DOCUMENT_WRITE))
}

/// The `SET` list of an update and the JSON row its values come from (`v.j`, one parameter):
/// `_updated_at`, the permissions when given, then each attribute value.
fn set_clause(
    collection: &Collection,
    values: Vec<(usize, Assign)>,
    now: i64,
    permissions: Option<&[Permission]>,
) -> (String, String) {
    let mut sets = vec!["_updated_at = (SELECT json_extract(j, '$[0]') FROM v)".to_string()];
    let mut row = vec![json!(now)];
    if let Some(p) = permissions {
        sets.push(format!("_permissions = (SELECT json_extract(j, '$[{}]') FROM v)", row.len()));
        row.push(json!(json!(permissions::render(p)).to_string()));
    }
    for (i, v) in values {
        let column = collection.attributes[i].column();
        match v {
            Assign::Set(v) => {
                sets.push(format!("{column} = (SELECT json_extract(j, '$[{}]') FROM v)", row.len()));
                row.push(v);
            }
            Assign::Apply(op) => {
                let mut expr = op.expr.replace("{col}", &column);
                for (n, arg) in op.args.into_iter().enumerate() {
                    expr = expr.replace(
                        &format!("{{{n}}}"),
                        &format!("(SELECT json_extract(j, '$[{}]') FROM v)", row.len()),
                    );
                    row.push(arg);
                }
                sets.push(format!("{column} = {expr}"));
            }
        }
    }
    (sets.join(", "), Json::Array(row).to_string())
}

/// The statements applying `data` and `permissions` to document `id` (after the update
/// permission was checked).
pub(crate) fn update_statements(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    collection: &Collection,
    id: &str,
    data: &Map<String, Json>,
    permissions: Option<&[Permission]>,
) -> Result<Vec<Statement>, AppwriteError> {
    let (created, updated) = kept_times(ctx, flavor, data)?;
    let now = updated.unwrap_or_else(|| ctx.ports.clock.now_ms());
    let values = values(flavor, collection, data, false, now)?;
    let (sets, row) = set_clause(collection, values, now, permissions);
    let mut batch = vec![Statement::new(
        format!("WITH v(j) AS (SELECT ?) UPDATE {} SET {sets} WHERE _id = ?", collection.docs_table()),
        vec![row.into(), id.into()],
    )
    .expect_changes(1)];
    if let Some(created) = created {
        batch.push(Statement::new(
            format!("UPDATE {} SET _created_at = ? WHERE _id = ?", collection.docs_table()),
            vec![Value::Integer(created), id.into()],
        ));
    }
    if let Some(p) = permissions {
        batch.extend(permission_rows(collection, id, p));
    }
    batch.push(size_guard(collection, "_id = ?", vec![id.into()]));
    Ok(batch)
}

/// The statements deleting document `id` (after the delete permission was checked).
pub(crate) fn delete_statements(collection: &Collection, id: &str) -> Vec<Statement> {
    let docs = collection.docs_table();
    vec![
        Statement::new(
            format!(
                "DELETE FROM {} WHERE doc_seq = (SELECT _seq FROM {docs} WHERE _id = ?)",
                collection.perms_table()
            ),
            vec![id.into()],
        ),
        Statement::new(format!("DELETE FROM {docs} WHERE _id = ?"), vec![id.into()]).expect_changes(1),
    ]
}

/// Which documents a bulk statement touches: listed ids, or those a query selects when the
/// statement runs (so a transaction's bulk operation sees the operations before it).
pub(crate) enum Targets {
    /// A JSON list of ids.
    Ids(String),
    /// A `SELECT _id …` statement.
    Query(Statement),
}

impl Targets {
    /// The condition on `_id`, and its parameters.
    fn condition(&self) -> (String, Vec<Value>) {
        match self {
            Targets::Ids(list) => {
                ("_id IN (SELECT value FROM json_each(?))".into(), vec![list.clone().into()])
            }
            Targets::Query(select) => (format!("_id IN ({})", select.sql), select.params.clone()),
        }
    }
}

/// The statements applying the stored `values` to every target document.
pub(crate) fn bulk_update_statements(
    collection: &Collection,
    values: Vec<(usize, Assign)>,
    now: i64,
    targets: &Targets,
) -> Vec<Statement> {
    let (sets, row) = set_clause(collection, values, now, None);
    let (condition, params) = targets.condition();
    let mut all = vec![Value::from(row)];
    all.extend(params);
    vec![
        Statement::new(
            format!(
                "WITH v(j) AS (SELECT ?) UPDATE {} SET {sets} WHERE {condition}",
                collection.docs_table()
            ),
            all,
        ),
        // A query's matches may change with the update: then the documents it stamped.
        match targets {
            Targets::Ids(_) => size_guard(collection, &targets.condition().0, targets.condition().1),
            Targets::Query(_) => size_guard(collection, "_updated_at = ?", vec![Value::Integer(now)]),
        },
    ]
}

/// The statements deleting every target document and its permissions.
pub(crate) fn bulk_delete_statements(collection: &Collection, targets: &Targets) -> Vec<Statement> {
    let (condition, params) = targets.condition();
    let docs = collection.docs_table();
    vec![
        Statement::new(
            format!(
                "DELETE FROM {} WHERE doc_seq IN (SELECT _seq FROM {docs} WHERE {condition})",
                collection.perms_table()
            ),
            params.clone(),
        ),
        Statement::new(format!("DELETE FROM {docs} WHERE {condition}"), params),
    ]
}

async fn update_document(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    doc: Document,
    data: &Map<String, Json>,
    permissions: Option<Vec<Permission>>,
) -> Result<Response, AppwriteError> {
    if !document_allows(ctx, collection, &doc, "update") {
        return Err(unauthorized());
    }
    let mut batch = update_statements(ctx, flavor, collection, &doc.id, data, permissions.as_deref())?;
    let inherited = permissions.clone().unwrap_or_else(|| doc.parsed_permissions());
    batch.extend(
        relationships::link_statements(ctx, flavor, database, collection, &doc.id, data, &inherited, 1)
            .await?,
    );
    let read = document_statement(collection, &doc.id);
    let (_, rows, seq) = commit(ctx, batch, Some(read)).await.map_err(write_error(flavor))?;
    let docs = read_documents(flavor, database, collection, &rows);
    announce(ctx, seq, database, collection, &docs, "update").await;
    let doc = docs.into_iter().next().ok_or_else(|| flavor.document_not_found())?;
    Ok(Response::json(200, &doc.json))
}

/// `PATCH …/documents/{documentId}`: the attributes given, and/or new permissions.
pub async fn update(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.required_text(flavor.document_param(), 36)?;
    let data = ctx.params.object("data")?.unwrap_or_default();
    let permissions = document_permissions(ctx)?;
    if data.is_empty() && permissions.is_none() {
        return Err(flavor.missing_payload());
    }
    let doc = load_document(ctx, flavor, &database, &collection, &id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    update_document(ctx, flavor, &database, &collection, doc, &data, permissions).await
}

/// `PUT …/documents/{documentId}`: creates the document, or updates the one with that id.
pub async fn upsert(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.custom_id(flavor.document_param(), ctx.ports.clock.now_ms(), ctx.ports.random)?;
    let data = ctx.params.object("data")?.unwrap_or_default();
    let permissions = document_permissions(ctx)?;
    match load_document(ctx, flavor, &database, &collection, &id, false).await? {
        Some(_) if data.is_empty() && permissions.is_none() => Err(flavor.missing_payload()),
        None if data.is_empty() => Err(flavor.missing_data()),
        Some(doc) => {
            let mut response =
                update_document(ctx, flavor, &database, &collection, doc, &data, permissions).await?;
            response.status = 201;
            Ok(response)
        }
        None => create_document(ctx, flavor, &database, &collection, id, &data, permissions).await,
    }
}

/// `DELETE …/documents/{documentId}`
pub async fn delete(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.required_text(flavor.document_param(), 36)?;
    let doc = load_document(ctx, flavor, &database, &collection, &id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    if !document_allows(ctx, &collection, &doc, "delete") {
        return Err(unauthorized());
    }
    let ids = [id.clone()];
    let mut visited = std::collections::BTreeSet::new();
    let mut batch =
        relationships::delete_statements(ctx, flavor, &database, &collection, &ids, 1, &mut visited).await?;
    batch.extend(delete_statements(&collection, &id));
    let (_, _, seq) = commit(ctx, batch, None).await.map_err(|e| match e {
        // The restrict guards of `relationships::delete_statements`: a link made meanwhile.
        StoreError::GuardFailed { expected: 0, .. } => flavor.delete_restricted(),
        other => write_error(flavor)(other),
    })?;
    announce(ctx, seq, &database, &collection, [&doc], "delete").await;
    Ok(Response::no_content())
}

/// `PATCH …/documents/{documentId}/{attribute}/increment|decrement`: atomic in SQL, so
/// concurrent calls all count; a result past `max` (`min`), or past the attribute's own bounds,
/// is refused and nothing changes.
pub async fn step(ctx: &Ctx<'_>, flavor: Flavor, up: bool) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.required_text(flavor.document_param(), 36)?;
    let key = ctx.params.required_text(if flavor.legacy() { "attribute" } else { "column" }, 36)?;
    let by = ctx.params.raw("value");
    let requested = ctx.params.raw(if up { "max" } else { "min" });
    let now = ctx.ports.clock.now_ms();
    let (statement, bound) = step_statement(flavor, &collection, &id, &key, up, by, requested, now)?;
    let doc = load_document(ctx, flavor, &database, &collection, &id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    if !document_allows(ctx, &collection, &doc, "update") {
        return Err(unauthorized());
    }
    let read = document_statement(&collection, &id);
    let (out, rows, seq) = commit(ctx, vec![statement], Some(read)).await.map_err(AppwriteError::internal)?;
    let changed = out.first().map_or(0, |r| r.changes);
    // A refused step changed nothing: its (empty) announcement still goes, so later events
    // don't wait for its sequence number.
    let docs = if changed > 0 { read_documents(flavor, &database, &collection, &rows) } else { Vec::new() };
    announce(ctx, seq, &database, &collection, &docs, "update").await;
    if changed == 0 {
        return Err(flavor.limit_exceeded(&format!(
            "Attribute \"{key}\" would go past its {} of {bound}",
            if up { "maximum" } else { "minimum" }
        )));
    }
    let doc = docs.into_iter().next().ok_or_else(|| flavor.document_not_found())?;
    Ok(Response::json(200, &doc.json))
}

/// The statement adding `by` (default 1) to numeric attribute `key` of document `id` (or
/// subtracting it, `up` false), changing no row when the result would pass the tighter of
/// `requested` and the attribute's own bound; and that bound (`null`: none).
#[allow(clippy::too_many_arguments)]
pub(crate) fn step_statement(
    flavor: Flavor,
    collection: &Collection,
    id: &str,
    key: &str,
    up: bool,
    by: Option<&Json>,
    requested: Option<&Json>,
    now: i64,
) -> Result<(Statement, Json), AppwriteError> {
    let attr = collection.attribute(key).ok_or_else(|| flavor.attribute_unknown(key))?;
    if attr.array || !matches!(attr.kind(), Kind::Integer | Kind::Float) {
        return Err(flavor.type_invalid(&format!("Attribute \"{key}\" is not numeric")));
    }
    let integer = attr.kind() == Kind::Integer;
    let number = |name: &str, value: Option<&Json>| -> Result<Option<Json>, AppwriteError> {
        match value {
            None | Some(Json::Null) => Ok(None),
            Some(v) if integer && v.as_i64().is_some() => Ok(Some(v.clone())),
            Some(v) if !integer && v.as_f64().is_some() => Ok(Some(v.clone())),
            Some(_) => Err(AppwriteError::invalid_param(
                name,
                if integer { "Value must be a valid integer" } else { "Value must be a valid number" },
            )),
        }
    };
    let by = number("value", by)?.unwrap_or(json!(1));
    if by.as_f64().unwrap_or(0.0) <= 0.0 {
        return Err(AppwriteError::invalid_param("value", "Value must be a number greater than 0"));
    }
    // The tighter of the request's bound and the attribute's own.
    let own = attr.options.get(if up { "max" } else { "min" }).cloned().unwrap_or(Json::Null);
    let requested = number(if up { "max" } else { "min" }, requested)?;
    let bound = match (requested, own.is_null()) {
        (Some(r), true) => r,
        (Some(r), false) => {
            let (r_f, o_f) = (r.as_f64().unwrap_or(0.0), own.as_f64().unwrap_or(0.0));
            if (up && r_f <= o_f) || (!up && r_f >= o_f) {
                r
            } else {
                own
            }
        }
        (None, _) => own,
    };
    let column = attr.column();
    let (op, cmp, room) = if up { ("+", "<=", "-") } else { ("-", ">=", "+") };
    // `current <= bound - by` (or `>= bound + by`) keeps the arithmetic inside the bounds, so an
    // integer never overflows into a float.
    let mut sql = format!(
        "UPDATE {} SET {column} = coalesce({column}, 0) {op} json_extract(?, '$[0]'), _updated_at = ? WHERE _id = ?",
        collection.docs_table()
    );
    let mut params: Vec<Value> = vec![json!([by]).to_string().into(), Value::Integer(now), id.into()];
    if !bound.is_null() {
        sql.push_str(&format!(
            " AND coalesce({column}, 0) {cmp} json_extract(?, '$[0]') {room} json_extract(?, '$[0]')"
        ));
        params.push(json!([bound]).to_string().into());
        params.push(json!([by]).to_string().into());
    }
    Ok((Statement::new(sql, params), bound))
}

/// Most documents in one bulk request (Appwrite's limit).
const MAX_BULK: usize = 100;

/// Bulk routes are for API keys only.
pub(crate) fn require_app(ctx: &Ctx<'_>) -> Result<(), AppwriteError> {
    if is_app(ctx) {
        Ok(())
    } else {
        Err(AppwriteError::new(
            ErrorType::GeneralUnauthorizedScope,
            format!(
                "{} (role: {}) missing scopes ([\"documents.write\"])",
                "User",
                ctx.caller.role().as_str()
            ),
        ))
    }
}

/// The `documents`/`rows` array of a bulk request: objects carrying `$id` and `$permissions`.
/// One item of a bulk request: id, data, permissions.
pub(crate) type BulkItem = (String, Map<String, Json>, Option<Vec<Permission>>);

fn bulk_items(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Vec<BulkItem>, AppwriteError> {
    let key = flavor.documents_key();
    let Some(Json::Array(items)) = ctx.params.raw(key) else {
        return Err(AppwriteError::invalid_param(key, "Value must be an array of objects"));
    };
    parse_bulk_items(ctx, key, items)
}

/// The items of a bulk write (`key` names them in errors), with ids and permissions parsed.
pub(crate) fn parse_bulk_items(
    ctx: &Ctx<'_>,
    key: &str,
    items: &[Json],
) -> Result<Vec<BulkItem>, AppwriteError> {
    if items.len() > MAX_BULK {
        return Err(AppwriteError::invalid_param(
            key,
            &format!("Value must be an array of at most {MAX_BULK} objects"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Json::Object(data) = item else {
            return Err(AppwriteError::invalid_param(key, "Value must be an array of objects"));
        };
        let id = match data.get("$id").and_then(Json::as_str) {
            None | Some("unique()") => {
                edgewrite_core::ids::unique_id(ctx.ports.clock.now_ms(), ctx.ports.random)
            }
            Some(id) if edgewrite_core::ids::is_valid_custom_id(id) => id.to_string(),
            Some(_) => return Err(AppwriteError::invalid_param("$id", edgewrite_core::ids::CUSTOM_ID_RULE)),
        };
        let permissions = match data.get("$permissions") {
            None | Some(Json::Null) => None,
            Some(Json::Array(list)) => {
                let list: Vec<String> = list.iter().filter_map(|p| p.as_str().map(str::to_string)).collect();
                Some(permissions::parse(&list, &["read", "update", "delete", "write"])?)
            }
            Some(_) => {
                return Err(AppwriteError::invalid_param("$permissions", "Value must be an array of strings"))
            }
        };
        out.push((id, data.clone(), permissions));
    }
    Ok(out)
}

fn list_response(flavor: Flavor, status: u16, docs: &[Document]) -> Response {
    let items: Vec<&Json> = docs.iter().map(|d| &d.json).collect();
    Response::json(status, &json!({"total": items.len(), flavor.documents_key(): items}))
}

pub(crate) async fn load_many(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    ids: &[String],
) -> Result<Vec<Document>, AppwriteError> {
    documents_by_id(ctx, flavor, database, collection, ids, None).await
}

/// `POST …/documents` with `documents[]`: all created, or none.
pub async fn create_many(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    require_app(ctx)?;
    if ctx.params.raw(flavor.document_param()).is_some() || ctx.params.raw("permissions").is_some() {
        return Err(AppwriteError::new(
            ErrorType::GeneralBadRequest,
            "Bulk create takes $id and $permissions inside each item, not as parameters",
        ));
    }
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    relationships::refuse_bulk(&collection)?;
    let items = bulk_items(ctx, flavor)?;
    let mut batch = Vec::new();
    let mut ids = Vec::with_capacity(items.len());
    for (id, data, permissions) in &items {
        batch.extend(insert_statements(ctx, flavor, &collection, id, data, permissions.clone())?);
        ids.push(id.clone());
    }
    let read = documents_statement(&collection, &ids);
    let (_, rows, seq) = commit(ctx, batch, Some(read)).await.map_err(write_error(flavor))?;
    let docs = read_documents(flavor, &database, &collection, &rows);
    announce(ctx, seq, &database, &collection, &docs, "create").await;
    Ok(list_response(flavor, 201, &docs))
}

/// `PUT …/documents` with `documents[]`: each created or updated.
pub async fn upsert_many(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    require_app(ctx)?;
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    relationships::refuse_bulk(&collection)?;
    let items = bulk_items(ctx, flavor)?;
    let mut ids = Vec::with_capacity(items.len());
    for (id, data, permissions) in items {
        match load_document(ctx, flavor, &database, &collection, &id, false).await? {
            Some(doc) => {
                update_document(ctx, flavor, &database, &collection, doc, &data, permissions).await?;
            }
            None => {
                create_document(ctx, flavor, &database, &collection, id.clone(), &data, permissions).await?;
            }
        }
        ids.push(id);
    }
    let docs = load_many(ctx, flavor, &database, &collection, &ids).await?;
    Ok(list_response(flavor, 201, &docs))
}

/// The ids matching the request's `queries` (all of them, up to 5000, unless a `limit` says
/// otherwise).
async fn matching_ids(ctx: &Ctx<'_>, collection: &Collection) -> Result<Vec<String>, AppwriteError> {
    let queries = ctx
        .params
        .string_array("queries", edgewrite_core::query::MAX_QUERY_CHARS, &ctx.config.limits)?
        .unwrap_or_default();
    let select = matching_select(ctx, collection, queries)?;
    let rows = ctx.ports.sql.query(select).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.iter().filter_map(|r| r.first()?.as_str().map(str::to_string)).collect())
}

/// `SELECT _id` of the documents `queries` match (all of them, up to the page-size limit,
/// unless a `limit` says otherwise).
pub(crate) fn matching_select(
    ctx: &Ctx<'_>,
    collection: &Collection,
    mut queries: Vec<String>,
) -> Result<Statement, AppwriteError> {
    use edgewrite_core::query::{parse, QueryMethod};
    if !queries.iter().any(|q| parse(q).is_ok_and(|q| q.method == QueryMethod::Limit)) {
        queries.push(json!({"method": "limit", "values": [ctx.config.limits.max_page_size]}).to_string());
    }
    let source = QuerySource::of(collection);
    let (fields, fulltext) = (source.fields(), source.fulltext());
    let schema = source.schema(&fields, &fulltext);
    let options = edgewrite_core::query::ListOptions { queries, search: None, total: false };
    let plan = edgewrite_core::query::plan(&options, &schema, &ctx.config.limits)?;
    Ok(plan.select("_id", None))
}

/// `PATCH …/documents` {data, queries}: the same change to every matching document.
pub async fn update_many(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    require_app(ctx)?;
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    relationships::refuse_bulk(&collection)?;
    let data = ctx.params.object("data")?.unwrap_or_default();
    let values = values(flavor, &collection, &data, false, ctx.ports.clock.now_ms())?;
    let ids = matching_ids(ctx, &collection).await?;
    let docs = if !values.is_empty() && !ids.is_empty() {
        let targets = Targets::Ids(json!(ids).to_string());
        let batch = bulk_update_statements(&collection, values, ctx.ports.clock.now_ms(), &targets);
        let read = documents_statement(&collection, &ids);
        let (_, rows, seq) = commit(ctx, batch, Some(read)).await.map_err(write_error(flavor))?;
        let docs = read_documents(flavor, &database, &collection, &rows);
        announce(ctx, seq, &database, &collection, &docs, "update").await;
        docs
    } else {
        load_many(ctx, flavor, &database, &collection, &ids).await?
    };
    Ok(list_response(flavor, 200, &docs))
}

/// `DELETE …/documents` {queries}: every matching document.
pub async fn delete_many(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    require_app(ctx)?;
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    relationships::refuse_bulk(&collection)?;
    let ids = matching_ids(ctx, &collection).await?;
    let docs = load_many(ctx, flavor, &database, &collection, &ids).await?;
    if !docs.is_empty() {
        let batch = bulk_delete_statements(&collection, &Targets::Ids(json!(ids).to_string()));
        let (_, _, seq) = commit(ctx, batch, None).await.map_err(AppwriteError::internal)?;
        announce(ctx, seq, &database, &collection, &docs, "delete").await;
    }
    Ok(list_response(flavor, 200, &docs))
}
