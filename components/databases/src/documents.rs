//! Documents/rows (`appwrite-api.md` §6.1): create, get, list with queries, update, upsert,
//! delete, increment/decrement — each checked against the collection's permissions and, with
//! document security, the document's own. Lists filter by permission inside SQL, so pages are
//! full and `total` counts only what the caller may read.

use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::attributes::{stored_value, wire_value};
use crate::flavor::Flavor;
use crate::meta::{self, Collection, Database, Kind};
use crate::permissions::{self, Permission};

/// What `write` means on a collection, and on a document (where `create` has no meaning).
const COLLECTION_WRITE: &[&str] = &["create", "update", "delete"];
const DOCUMENT_WRITE: &[&str] = &["update", "delete"];

fn unauthorized() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserUnauthorized,
        "The current user is not authorized to perform the requested action.",
    )
}

fn is_app(ctx: &Ctx<'_>) -> bool {
    matches!(ctx.caller, Caller::App { .. })
}

/// Whether the collection's own permissions give the caller `action`.
fn collection_allows(ctx: &Ctx<'_>, collection: &Collection, action: &str) -> bool {
    is_app(ctx) || permissions::allows(&collection.permissions, action, &ctx.caller.roles(), COLLECTION_WRITE)
}

const SYSTEM_COLUMNS: &str = "_seq, _id, _created_at, _updated_at, _permissions";

fn columns(collection: &Collection) -> String {
    let mut out = SYSTEM_COLUMNS.to_string();
    for a in &collection.attributes {
        out.push_str(", ");
        out.push_str(&a.column());
    }
    out
}

struct Document {
    id: String,
    permissions: Vec<String>,
    json: Json,
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
    for (i, a) in collection.attributes.iter().enumerate() {
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

async fn load_document(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    database: &Database,
    collection: &Collection,
    id: &str,
    read_filter: bool,
) -> Result<Option<Document>, AppwriteError> {
    let mut sql = format!("SELECT {} FROM {} WHERE _id = ?", columns(collection), collection.docs_table());
    let mut params = vec![Value::from(id)];
    if read_filter {
        sql.push_str(" AND ");
        sql.push_str(&permitted(collection, "read"));
        params.push(roles_param(ctx));
    }
    let rows = ctx.ports.sql.query(Statement::new(sql, params)).await.map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| document(flavor, database, collection, r)))
}

/// `GET …/documents/{documentId}`
pub async fn get(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.required_text(flavor.document_param(), 36)?;
    let all = collection_allows(ctx, &collection, "read");
    if !all && !collection.document_security {
        return Err(unauthorized());
    }
    let doc = load_document(ctx, flavor, &database, &collection, &id, !all)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    Ok(Response::json(200, &doc.json))
}

/// `GET …/documents`
pub async fn list(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let all = collection_allows(ctx, &collection, "read");
    if !all && !collection.document_security {
        return Err(unauthorized());
    }
    let mut fields = vec![
        Field { attribute: "$id", column: "_id", kind: FieldKind::Text },
        Field { attribute: "$createdAt", column: "_created_at", kind: FieldKind::Datetime },
        Field { attribute: "$updatedAt", column: "_updated_at", kind: FieldKind::Datetime },
    ];
    let attribute_columns: Vec<String> = collection.attributes.iter().map(|a| a.column()).collect();
    for (a, column) in collection.attributes.iter().zip(&attribute_columns) {
        let kind = if a.array {
            FieldKind::Array
        } else {
            match a.kind() {
                Kind::String => FieldKind::Text,
                Kind::Integer => FieldKind::Integer,
                Kind::Float => FieldKind::Float,
                Kind::Boolean => FieldKind::Boolean,
                Kind::Datetime => FieldKind::Datetime,
            }
        };
        fields.push(Field { attribute: &a.key, column, kind });
    }
    let table = collection.docs_table();
    let schema = Schema { table: &table, id_column: "_id", fields: &fields, search: None };
    let read = permitted(&collection, "read");
    let scope = (!all).then(|| (read.as_str(), vec![roles_param(ctx)]));
    let (total, rows) = crate::schema::page(ctx, &schema, &columns(&collection), scope).await?;
    let docs: Vec<Json> =
        rows.iter().filter_map(|r| document(flavor, &database, &collection, r)).map(|d| d.json).collect();
    Ok(Response::json(200, &json!({"total": total, flavor.documents_key(): docs})))
}

/// The `permissions` parameter of a document: read, update, delete, write.
fn document_permissions(ctx: &Ctx<'_>) -> Result<Option<Vec<Permission>>, AppwriteError> {
    let Some(list) = ctx.params.string_array("permissions", 256, &ctx.config.limits)? else {
        return Ok(None);
    };
    let parsed = permissions::parse(&list, &["read", "update", "delete", "write"])?;
    permissions::check_grantable(&ctx.caller, &parsed)?;
    Ok(Some(parsed))
}

/// Validated stored values of `data` for the collection: for a create every attribute (with
/// defaults), for an update only those given.
fn values(
    flavor: Flavor,
    collection: &Collection,
    data: &Map<String, Json>,
    create: bool,
) -> Result<Vec<(usize, Json)>, AppwriteError> {
    for key in data.keys() {
        if !key.starts_with('$') && collection.attribute(key).is_none() {
            return Err(flavor.invalid_structure(&format!("Unknown attribute: \"{key}\"")));
        }
    }
    let mut out = Vec::new();
    for (i, a) in collection.attributes.iter().enumerate() {
        let value = match data.get(&a.key) {
            Some(v) => v.clone(),
            None if create => a.default.clone(),
            None => continue,
        };
        out.push((i, stored_value(a, &value).map_err(|detail| flavor.invalid_structure(&detail))?));
    }
    Ok(out)
}

fn write_error(flavor: Flavor) -> impl Fn(StoreError) -> AppwriteError {
    move |e| match e {
        StoreError::Constraint(_) => flavor.document_exists(),
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
    let values = values(flavor, collection, data, true)?;
    // Without explicit permissions a signed-in creator may read, update and delete its document.
    let permissions = match (permissions, ctx.caller.user()) {
        (Some(p), _) => p,
        (None, Some(user)) => ["read", "update", "delete"]
            .iter()
            .map(|a| Permission { action: a.to_string(), role: format!("user:{}", user.user_id) })
            .collect(),
        (None, None) => Vec::new(),
    };
    let now = ctx.ports.clock.now_ms();
    let mut cols = vec!["_id".to_string(), "_created_at".into(), "_updated_at".into(), "_permissions".into()];
    let mut row =
        vec![json!(id), json!(now), json!(now), json!(json!(permissions::render(&permissions)).to_string())];
    for (i, v) in values {
        cols.push(collection.attributes[i].column());
        row.push(v);
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
    batch.extend(permission_rows(collection, &id, &permissions));
    ctx.ports.sql.batch(batch).await.map_err(write_error(flavor))?;
    let doc = load_document(ctx, flavor, database, collection, &id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    Ok(Response::json(201, &doc.json))
}

/// `POST …/documents`
pub async fn create(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.custom_id(flavor.document_param(), ctx.ports.clock.now_ms(), ctx.ports.random)?;
    let data = ctx.params.object("data")?.unwrap_or_default();
    if data.is_empty() {
        return Err(flavor.missing_data());
    }
    let permissions = document_permissions(ctx)?;
    create_document(ctx, flavor, &database, &collection, id, &data, permissions).await
}

/// Whether the caller may `action` this stored document.
fn document_allows(ctx: &Ctx<'_>, collection: &Collection, doc: &Document, action: &str) -> bool {
    collection_allows(ctx, collection, action)
        || (collection.document_security
            && permissions::allows(&doc.permissions, action, &ctx.caller.roles(), DOCUMENT_WRITE))
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
    let values = values(flavor, collection, data, false)?;
    let now = ctx.ports.clock.now_ms();
    let mut sets = vec!["_updated_at = (SELECT json_extract(j, '$[0]') FROM v)".to_string()];
    let mut row = vec![json!(now)];
    if let Some(p) = &permissions {
        sets.push(format!("_permissions = (SELECT json_extract(j, '$[{}]') FROM v)", row.len()));
        row.push(json!(json!(permissions::render(p)).to_string()));
    }
    for (i, v) in values {
        sets.push(format!(
            "{} = (SELECT json_extract(j, '$[{}]') FROM v)",
            collection.attributes[i].column(),
            row.len()
        ));
        row.push(v);
    }
    let mut batch = vec![Statement::new(
        format!(
            "WITH v(j) AS (SELECT ?) UPDATE {} SET {} WHERE _id = ?",
            collection.docs_table(),
            sets.join(", ")
        ),
        vec![Json::Array(row).to_string().into(), doc.id.clone().into()],
    )
    .expect_changes(1)];
    if let Some(p) = &permissions {
        batch.extend(permission_rows(collection, &doc.id, p));
    }
    ctx.ports.sql.batch(batch).await.map_err(write_error(flavor))?;
    let doc = load_document(ctx, flavor, database, collection, &doc.id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
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
    let docs = collection.docs_table();
    ctx.ports
        .sql
        .batch(vec![
            Statement::new(
                format!(
                    "DELETE FROM {} WHERE doc_seq = (SELECT _seq FROM {docs} WHERE _id = ?)",
                    collection.perms_table()
                ),
                vec![id.clone().into()],
            ),
            Statement::new(format!("DELETE FROM {docs} WHERE _id = ?"), vec![id.into()]).expect_changes(1),
        ])
        .await
        .map_err(write_error(flavor))?;
    Ok(Response::no_content())
}

/// `PATCH …/documents/{documentId}/{attribute}/increment|decrement`: atomic in SQL, so
/// concurrent calls all count; a result past `max` (`min`) is refused.
pub async fn step(ctx: &Ctx<'_>, flavor: Flavor, up: bool) -> Result<Response, AppwriteError> {
    let (database, collection) = meta::load_collection(ctx, flavor).await?;
    let id = ctx.params.required_text(flavor.document_param(), 36)?;
    let key = ctx.params.required_text(if flavor.legacy() { "attribute" } else { "column" }, 36)?;
    let attr = collection.attribute(&key).ok_or_else(|| flavor.attribute_unknown(&key))?;
    if attr.array || !matches!(attr.kind(), Kind::Integer | Kind::Float) {
        return Err(flavor.type_invalid(&format!("Attribute \"{key}\" is not numeric")));
    }
    let number = |name: &str| -> Result<Option<f64>, AppwriteError> {
        match ctx.params.raw(name) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| AppwriteError::invalid_param(name, "Value must be a valid number")),
        }
    };
    let by = number("value")?.unwrap_or(1.0);
    if by <= 0.0 {
        return Err(AppwriteError::invalid_param("value", "Value must be a number greater than 0"));
    }
    let bound = if up { number("max")? } else { number("min")? };
    let doc = load_document(ctx, flavor, &database, &collection, &id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    if !document_allows(ctx, &collection, &doc, "update") {
        return Err(unauthorized());
    }
    let column = attr.column();
    let delta = if up { by } else { -by };
    let delta = if attr.kind() == Kind::Integer { json!(delta as i64) } else { json!(delta) };
    let (sign, cmp) = if up { ("+", "<=") } else { ("+", ">=") };
    let mut sql = format!(
        "UPDATE {} SET {column} = coalesce({column}, 0) {sign} json_extract(?, '$[0]'), _updated_at = ? WHERE _id = ?",
        collection.docs_table()
    );
    let mut params: Vec<Value> =
        vec![json!([delta]).to_string().into(), Value::Integer(ctx.ports.clock.now_ms()), id.clone().into()];
    if let Some(bound) = bound {
        sql.push_str(&format!(
            " AND coalesce({column}, 0) {sign} json_extract(?, '$[0]') {cmp} json_extract(?, '$[0]')"
        ));
        params.push(json!([delta]).to_string().into());
        params.push(json!([bound]).to_string().into());
    }
    let changed = ctx.ports.sql.query(Statement::new(sql, params)).await.map_err(AppwriteError::internal)?;
    if changed.changes == 0 {
        return Err(flavor.limit_exceeded(&format!(
            "Attribute \"{key}\" would exceed its {} of {}",
            if up { "maximum" } else { "minimum" },
            bound.unwrap_or_default()
        )));
    }
    let doc = load_document(ctx, flavor, &database, &collection, &id, false)
        .await?
        .ok_or_else(|| flavor.document_not_found())?;
    Ok(Response::json(200, &doc.json))
}
