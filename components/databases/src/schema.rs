//! Databases and collections/tables (`appwrite-api.md` §6.2, §6.3): create, list, get, update,
//! delete. A collection's create makes its document and permission tables in the same batch;
//! a delete drops them.

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::system_fields::{restore_row, TIMES};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::flavor::Flavor;
use crate::meta::{self, Database, COLLECTION_COLUMNS, DATABASE_COLUMNS};
use edgewrite_core::permissions;

static DATABASE_FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
];

static COLLECTION_FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "enabled", column: "enabled", kind: FieldKind::Boolean },
    Field { attribute: "documentSecurity", column: "document_security", kind: FieldKind::Boolean },
    Field { attribute: "rowSecurity", column: "document_security", kind: FieldKind::Boolean },
];

/// Runs a list of a metadata table.
pub(crate) async fn page(
    ctx: &Ctx<'_>,
    schema: &Schema<'_>,
    columns: &str,
    scope: Option<(&str, Vec<Value>)>,
) -> Result<(i64, Vec<Vec<Value>>), AppwriteError> {
    page_with(ctx, schema, columns, scope, queries_param(ctx)?).await
}

/// The request's `queries`.
pub(crate) fn queries_param(ctx: &Ctx<'_>) -> Result<Vec<String>, AppwriteError> {
    Ok(ctx.params.string_array("queries", query::MAX_QUERY_CHARS, &ctx.config.limits)?.unwrap_or_default())
}

/// [`page`] with the queries given.
pub(crate) async fn page_with(
    ctx: &Ctx<'_>,
    schema: &Schema<'_>,
    columns: &str,
    scope: Option<(&str, Vec<Value>)>,
    queries: Vec<String>,
) -> Result<(i64, Vec<Vec<Value>>), AppwriteError> {
    let options = ListOptions { queries, ..ListOptions::from_params(&ctx.params, &ctx.config.limits)? };
    let page =
        query::plan(&options, schema, &ctx.config.limits)?.fetch(ctx.ports.sql, columns, scope).await?;
    Ok((page.total, page.rows))
}

/// `GET /databases` (also `/tablesdb`).
pub async fn list_databases(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema {
        table: "databases",
        id_column: "id",
        fields: DATABASE_FIELDS,
        search: Some("id || ' ' || name"),
        fulltext: &[],
    };
    let (total, rows) = page(ctx, &schema, DATABASE_COLUMNS, None).await?;
    let databases: Vec<Json> =
        rows.iter().filter_map(|r| Database::from_row(r)).map(|d| d.to_json()).collect();
    Ok(Response::json(200, &json!({"total": total, "databases": databases})))
}

/// `POST /databases`
pub async fn create_database(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("databaseId", now, ctx.ports.random)?;
    let name = ctx.params.required_text("name", 128)?;
    let enabled = ctx.params.boolean("enabled")?.unwrap_or(true);
    ctx.ports
        .sql
        .query(Statement::new(
            "INSERT INTO databases (seq, id, name, enabled, type, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                // Random, never reused: a later database must not inherit anything of a deleted one.
                Value::Integer(new_seq(ctx)),
                id.clone().into(),
                name.into(),
                Value::Integer(i64::from(enabled)),
                flavor.database_type().into(),
                Value::Integer(now),
                Value::Integer(now),
            ],
        ))
        .await
        .map_err(|e| match e {
            StoreError::Constraint(_) => {
                AppwriteError::new(ErrorType::DatabaseAlreadyExists, "Database already exists")
            }
            other => AppwriteError::internal(other),
        })?;
    let database = meta::database_by_id(ctx, &id).await?;
    Ok(Response::json(201, &database.to_json()))
}

/// `GET /databases/{databaseId}`
pub async fn get_database(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &meta::load_database(ctx).await?.to_json()))
}

/// `PUT /databases/{databaseId}`
pub async fn update_database(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mut database = meta::load_database(ctx).await?;
    if let Some(name) = ctx.params.text("name", 128)? {
        database.name = name;
    }
    if let Some(enabled) = ctx.params.boolean("enabled")? {
        database.enabled = enabled;
    }
    database.updated_at = ctx.ports.clock.now_ms();
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE databases SET name = ?, enabled = ?, updated_at = ? WHERE seq = ?",
            vec![
                database.name.clone().into(),
                Value::Integer(i64::from(database.enabled)),
                Value::Integer(database.updated_at),
                Value::Integer(database.seq),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(200, &database.to_json()))
}

/// The statements that drop a collection and everything in it.
fn drop_collection(seq: i64, fulltext_keys: &[String]) -> Vec<Statement> {
    let mut out: Vec<Statement> = fulltext_keys
        .iter()
        .map(|key| Statement::new(format!("DROP TABLE IF EXISTS \"_db_fts_{seq}_{key}\""), vec![]))
        .collect();
    out.extend([
        Statement::new(format!("DROP TABLE IF EXISTS {}", meta::docs_table(seq)), vec![]),
        Statement::new(format!("DROP TABLE IF EXISTS {}", meta::perms_table(seq)), vec![]),
        Statement::new("DELETE FROM attributes WHERE collection_seq = ?", vec![Value::Integer(seq)]),
        Statement::new("DELETE FROM indexes WHERE collection_seq = ?", vec![Value::Integer(seq)]),
        Statement::new("DELETE FROM collections WHERE seq = ?", vec![Value::Integer(seq)]),
    ]);
    out
}

/// `DELETE /databases/{databaseId}`: its collections and their documents go too.
pub async fn delete_database(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let database = meta::load_database(ctx).await?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT c.seq, (SELECT json_group_array(i.key) FROM indexes i WHERE i.collection_seq = c.seq AND i.type = 'fulltext'),
                    (SELECT json_group_array(json_extract(a.options, '$.junction')) FROM attributes a
                     WHERE a.collection_seq = c.seq AND a.type = 'relationship')
             FROM collections c WHERE c.database_seq = ?",
            vec![Value::Integer(database.seq)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let mut batch: Vec<Statement> = Vec::new();
    for row in &rows.rows {
        let Some(seq) = row.first().and_then(Value::as_i64) else { continue };
        let keys: Vec<String> =
            row.get(1).and_then(Value::as_str).and_then(|k| serde_json::from_str(k).ok()).unwrap_or_default();
        batch.extend(drop_collection(seq, &keys));
        // Relationships link collections of one database: their junction tables go with it.
        let junctions: Vec<i64> =
            row.get(2).and_then(Value::as_str).and_then(|k| serde_json::from_str(k).ok()).unwrap_or_default();
        for junction in junctions {
            batch.push(Statement::new(
                format!("DROP TABLE IF EXISTS {}", meta::junction_table(junction)),
                vec![],
            ));
        }
    }
    // Collections created meanwhile lose their metadata in the same transaction.
    for table in ["attributes", "indexes"] {
        batch.push(Statement::new(
            format!("DELETE FROM {table} WHERE collection_seq IN (SELECT seq FROM collections WHERE database_seq = ?)"),
            vec![Value::Integer(database.seq)],
        ));
    }
    batch.push(Statement::new(
        "DELETE FROM collections WHERE database_seq = ?",
        vec![Value::Integer(database.seq)],
    ));
    batch.push(Statement::new("DELETE FROM databases WHERE seq = ?", vec![Value::Integer(database.seq)]));
    ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    tracing::info!(database = %database.id, "database deleted");
    Ok(Response::no_content())
}

/// `permissions` of a collection: read, create, update, delete, write.
fn collection_permissions(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(list) = ctx.params.string_array("permissions", 256, &ctx.config.limits)? else {
        return Ok(None);
    };
    let parsed = permissions::parse(&list, &["read", "create", "update", "delete", "write"])?;
    Ok(Some(permissions::render(&parsed)))
}

/// A random positive 48-bit number naming the collection's tables: ids never reach SQL text,
/// and concurrent creates cannot pick the same one.
fn new_seq(ctx: &Ctx<'_>) -> i64 {
    let mut b = [0u8; 8];
    ctx.ports.random.fill(&mut b[..6]);
    (i64::from_le_bytes(b) & 0xffff_ffff_ffff).max(1)
}

/// `POST /databases/{databaseId}/collections` (`/tablesdb/{databaseId}/tables`).
pub async fn create_collection(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let database = meta::load_database(ctx).await?;
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id(flavor.collection_param(), now, ctx.ports.random)?;
    let name = ctx.params.required_text("name", 128)?;
    let permissions = collection_permissions(ctx)?.unwrap_or_default();
    let security = ctx.params.boolean(flavor.security_key())?.unwrap_or(false);
    let enabled = ctx.params.boolean("enabled")?.unwrap_or(true);
    let seq = new_seq(ctx);
    let docs = meta::docs_table(seq);
    let perms = meta::perms_table(seq);
    let mut batch = vec![
            Statement::new(
                format!("INSERT INTO collections ({COLLECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                vec![
                    Value::Integer(seq),
                    Value::Integer(database.seq),
                    id.clone().into(),
                    name.into(),
                    json!(permissions).to_string().into(),
                    Value::Integer(i64::from(security)),
                    Value::Integer(i64::from(enabled)),
                    Value::Integer(now),
                    Value::Integer(now),
                ],
            ),
            Statement::new(
                format!(
                    "CREATE TABLE {docs} (_seq INTEGER PRIMARY KEY, _id TEXT NOT NULL UNIQUE,
                     _created_at INTEGER NOT NULL, _updated_at INTEGER NOT NULL, _permissions TEXT NOT NULL DEFAULT '[]')"
                ),
                vec![],
            ),
            Statement::new(
                format!(
                    "CREATE TABLE {perms} (doc_seq INTEGER NOT NULL, action TEXT NOT NULL, role TEXT NOT NULL,
                     PRIMARY KEY (doc_seq, action, role))"
                ),
                vec![],
            ),
            Statement::new(format!("CREATE INDEX {perms}_by_role ON {perms} (action, role, doc_seq)"), vec![]),
        ];
    batch.extend(inline_schema(ctx, flavor, seq, &database.id, &id)?);
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(_) => flavor.collection_exists(),
        other => AppwriteError::internal(other),
    })?;
    respond_collection(ctx, flavor, 201, &database.id, &id).await
}

/// The statements for the `attributes`/`columns` and `indexes` given inline when creating a
/// collection, each object shaped like the body of its own create route (`type` names the
/// attribute kind). Part of the collection's create batch: all or nothing.
fn inline_schema(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    seq: i64,
    database_id: &str,
    id: &str,
) -> Result<Vec<Statement>, AppwriteError> {
    let objects = |name: &str| -> Result<Vec<serde_json::Map<String, Json>>, AppwriteError> {
        match ctx.params.raw(name) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_object().cloned().ok_or_else(|| {
                        AppwriteError::invalid_param(name, "Value must be an array of objects")
                    })
                })
                .collect(),
            Some(_) => Err(AppwriteError::invalid_param(name, "Value must be an array of objects")),
        }
    };
    let attributes = objects(flavor.attributes_key())?;
    let indexes = objects("indexes")?;
    let mut collection = meta::Collection {
        seq,
        database_id: database_id.to_string(),
        id: id.to_string(),
        name: String::new(),
        permissions: Vec::new(),
        document_security: false,
        enabled: true,
        created_at: 0,
        updated_at: 0,
        attributes: Vec::new(),
        indexes: Vec::new(),
    };
    let mut batch = Vec::new();
    for object in attributes {
        let kind = object.get("type").and_then(Json::as_str).unwrap_or_default().to_string();
        let format = object.get("format").and_then(Json::as_str).unwrap_or_default().to_string();
        let kind = match (kind.as_str(), format.as_str()) {
            ("string", "email" | "ip" | "url" | "enum") => format,
            ("double", _) => "float".to_string(),
            _ => kind,
        };
        let sub = Ctx {
            params: edgewrite_core::params::Params::from_json(object),
            caller: ctx.caller.clone(),
            ..*ctx
        };
        let (attribute, statements) = crate::attributes::plan_attribute(&sub, flavor, &collection, &kind)
            .map_err(|e| {
                if e.kind == ErrorType::GeneralRouteNotFound {
                    AppwriteError::invalid_param(
                        flavor.attributes_key(),
                        &format!("Unknown attribute type \"{kind}\""),
                    )
                } else {
                    e
                }
            })?;
        batch.extend(statements);
        collection.attributes.push(attribute);
    }
    for object in indexes {
        let sub = Ctx {
            params: edgewrite_core::params::Params::from_json(object),
            caller: ctx.caller.clone(),
            ..*ctx
        };
        let (index, statements) = crate::attributes::plan_index(&sub, flavor, &collection)?;
        batch.extend(statements);
        collection.indexes.push(index);
    }
    Ok(batch)
}

async fn respond_collection(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    status: u16,
    database_id: &str,
    id: &str,
) -> Result<Response, AppwriteError> {
    let (_, collection) = crate::meta::load_collection_by(ctx, flavor, database_id, id).await?;
    Ok(Response::json(status, &collection.to_json(flavor)))
}

/// `GET /databases/{databaseId}/collections`
pub async fn list_collections(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let database = meta::load_database(ctx).await?;
    let schema = Schema {
        table: "collections",
        id_column: "id",
        fields: COLLECTION_FIELDS,
        search: Some("id || ' ' || name"),
        fulltext: &[],
    };
    // Collections' seqs are random (they name tables): creation order, as in Appwrite, is
    // their creation time, unless the caller orders them.
    let mut queries = queries_param(ctx)?;
    let ordered =
        queries.iter().any(|q| query::parse(q).is_ok_and(|q| q.method.as_str().starts_with("order")));
    if !ordered {
        queries.push(json!({"method": "orderAsc", "attribute": "$createdAt"}).to_string());
    }
    let (total, rows) = page_with(
        ctx,
        &schema,
        COLLECTION_COLUMNS,
        Some(("database_seq = ?", vec![Value::Integer(database.seq)])),
        queries,
    )
    .await?;
    let mut page: Vec<meta::Collection> =
        rows.iter().filter_map(|r| meta::Collection::from_row(r, &database.id)).collect();
    // The page's attributes and indexes in one more round trip, not one per collection.
    let seqs = json!(page.iter().map(|c| c.seq).collect::<Vec<_>>()).to_string();
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                format!(
                    "SELECT collection_seq, {} FROM attributes WHERE collection_seq IN (SELECT value FROM json_each(?)) ORDER BY rowid",
                    meta::ATTRIBUTE_COLUMNS
                ),
                vec![seqs.clone().into()],
            ),
            Statement::new(
                format!(
                    "SELECT collection_seq, {} FROM indexes WHERE collection_seq IN (SELECT value FROM json_each(?)) ORDER BY rowid",
                    meta::INDEX_COLUMNS
                ),
                vec![seqs.into()],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    for collection in &mut page {
        let mine = |i: usize| {
            out.get(i)
                .map(|r| {
                    r.rows
                        .iter()
                        .filter(|row| row.first().and_then(Value::as_i64) == Some(collection.seq))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        collection.attributes = mine(0).iter().filter_map(|r| meta::Attribute::from_row(&r[1..])).collect();
        collection.indexes = mine(1).iter().filter_map(|r| meta::Index::from_row(&r[1..])).collect();
    }
    let collections: Vec<Json> = page.iter().map(|c| c.to_json(flavor)).collect();
    Ok(Response::json(200, &json!({"total": total, flavor.collections_key(): collections})))
}

/// `GET /databases/{databaseId}/collections/{collectionId}`
pub async fn get_collection(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    Ok(Response::json(200, &collection.to_json(flavor)))
}

/// `PUT /databases/{databaseId}/collections/{collectionId}`
pub async fn update_collection(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (database, mut collection) = meta::load_collection(ctx, flavor).await?;
    if let Some(name) = ctx.params.text("name", 128)? {
        collection.name = name;
    }
    if let Some(permissions) = collection_permissions(ctx)? {
        collection.permissions = permissions;
    }
    if let Some(security) = ctx.params.boolean(flavor.security_key())? {
        collection.document_security = security;
    }
    if let Some(enabled) = ctx.params.boolean("enabled")? {
        collection.enabled = enabled;
    }
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE collections SET name = ?, permissions = ?, document_security = ?, enabled = ?, updated_at = ? WHERE seq = ?",
            vec![
                collection.name.clone().into(),
                json!(collection.permissions).to_string().into(),
                Value::Integer(i64::from(collection.document_security)),
                Value::Integer(i64::from(collection.enabled)),
                Value::Integer(ctx.ports.clock.now_ms()),
                Value::Integer(collection.seq),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    respond_collection(ctx, flavor, 200, &database.id, &collection.id).await
}

/// `DELETE /databases/{databaseId}/collections/{collectionId}`
pub async fn delete_collection(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let fulltext: Vec<String> =
        collection.indexes.iter().filter(|i| i.kind == "fulltext").map(|i| i.key.clone()).collect();
    // Its relationships go too, on both sides.
    let mut batch: Vec<Statement> = collection
        .attributes
        .iter()
        .filter_map(meta::Attribute::relation)
        .flat_map(|r| crate::relationships::drop_statements(&r))
        .collect();
    batch.extend(drop_collection(collection.seq, &fulltext));
    ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    Ok(Response::no_content())
}

/// `PATCH /v1/databases/{databaseId}/system-fields` (edgewrite only): a migrated database's times.
pub async fn restore_database(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("databaseId", 36)?;
    let key = vec![id.into()];
    restore_row(ctx, &TIMES, "databases", "id = ?", key, ErrorType::DatabaseNotFound).await
}

/// `PATCH /v1/databases/{databaseId}/collections/{collectionId}/system-fields` (edgewrite only):
/// a migrated collection's times, and its `attributes`' and `indexes`' (`[{key, $createdAt,
/// $updatedAt}]`).
pub async fn restore_collection(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    use edgewrite_core::system_fields::{assignments, item_assignments, item_text, items, update};
    let now = ctx.ports.clock.now_ms();
    let set = assignments(&ctx.params, &TIMES, &["attributes", "indexes"], now)?;
    let database = ctx.params.required_text("databaseId", 36)?;
    let collection = ctx.params.required_text("collectionId", 36)?;
    let ids = || vec![Value::from(database.clone()), Value::from(collection.clone())];
    // Each statement with the error its matching no row means; the collection's first, so a
    // missing collection is named as such.
    let row = "database_seq = (SELECT seq FROM databases WHERE id = ?) AND id = ?";
    let mut batch =
        vec![(update("collections", set, row, ids()).expect_changes(1), ErrorType::CollectionNotFound)];
    let owner = "(SELECT c.seq FROM collections c JOIN databases d ON c.database_seq = d.seq WHERE d.id = ? AND c.id = ?)";
    for (list, table, missing) in [
        ("attributes", "attributes", ErrorType::AttributeNotFound),
        ("indexes", "indexes", ErrorType::IndexNotFound),
    ] {
        for item in items(&ctx.params, list)? {
            let key = item_text(&item, list, "key")?;
            let set = item_assignments(&item, &TIMES, &["key"], now)?;
            let mut values = ids();
            values.push(key.into());
            let key = format!("collection_seq = {owner} AND key = ?");
            batch.push((update(table, set, &key, values).expect_changes(1), missing));
        }
    }
    let (statements, errors): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    ctx.ports.sql.batch(statements).await.map_err(|e| match e {
        StoreError::GuardFailed { statement, .. } => AppwriteError::from(errors[statement]),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}
