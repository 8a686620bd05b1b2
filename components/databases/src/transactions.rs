//! Transactions (`/databases/transactions`, `/tablesdb/transactions`; `appwrite-api.md` §6.1):
//! document writes staged under a transaction id, then applied in one atomic batch on commit
//! (each checked against the committing caller's permissions), or dropped on rollback.

use std::collections::{HashMap, HashSet};

use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::documents;
use crate::flavor::Flavor;
use crate::meta::{self, Collection};
use crate::relationships;
use edgewrite_core::permissions::{self, Permission};

const DEFAULT_TTL_S: i64 = 300;
const MAX_OPERATIONS: usize = 100;
const ACTIONS: &[&str] = &[
    "create",
    "update",
    "upsert",
    "delete",
    "increment",
    "decrement",
    "bulkCreate",
    "bulkUpdate",
    "bulkUpsert",
    "bulkDelete",
];
/// Operations on many documents at once: for API keys only, as outside transactions.
const BULK_ACTIONS: &[&str] = &["bulkCreate", "bulkUpdate", "bulkUpsert", "bulkDelete"];

struct Transaction {
    id: String,
    status: String,
    operations: Vec<Json>,
    expires_at: i64,
    created_at: i64,
    updated_at: i64,
}

impl Transaction {
    fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "status": self.status,
            "operations": self.operations.len(),
            "expiresAt": iso_from_ms(self.expires_at),
        })
    }
}

/// Who may see and use a transaction: the key or the user. Guests have no identity to own
/// one by, so they cannot use transactions.
fn owner(ctx: &Ctx<'_>) -> Result<String, AppwriteError> {
    match &ctx.caller {
        Caller::App { key_id, .. } => Ok(format!("app:{key_id}")),
        Caller::User(u) => Ok(format!("user:{}", u.user_id)),
        Caller::Guest => Err(AppwriteError::new(
            ErrorType::UserUnauthorized,
            "Transactions need a signed-in user or an API key.",
        )),
    }
}

fn not_found() -> AppwriteError {
    AppwriteError::new(
        ErrorType::TransactionNotFound,
        "Transaction with the requested ID could not be found.",
    )
}

const COLUMNS: &str = "id, status, operations, expires_at, created_at, updated_at";

fn from_row(row: &[Value]) -> Option<Transaction> {
    Some(Transaction {
        id: row.first()?.as_str()?.to_string(),
        status: row.get(1)?.as_str()?.to_string(),
        operations: row.get(2)?.as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default(),
        expires_at: row.get(3)?.as_i64()?,
        created_at: row.get(4)?.as_i64()?,
        updated_at: row.get(5)?.as_i64()?,
    })
}

async fn load(ctx: &Ctx<'_>, id: &str) -> Result<Transaction, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM _db_transactions WHERE id = ? AND owner = ?"),
            vec![id.into(), owner(ctx)?.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| from_row(r)).ok_or_else(not_found)
}

/// A pending transaction that has not expired.
fn check_open(ctx: &Ctx<'_>, tx: &Transaction) -> Result<(), AppwriteError> {
    if tx.status != "pending" {
        return Err(AppwriteError::new(ErrorType::TransactionNotReady, "The transaction is not pending."));
    }
    if tx.expires_at <= ctx.ports.clock.now_ms() {
        return Err(AppwriteError::new(ErrorType::TransactionExpired, "The transaction has expired."));
    }
    Ok(())
}

/// `POST …/transactions` {ttl?}
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let ttl = ctx.params.integer("ttl", 60, 3600)?.unwrap_or(DEFAULT_TTL_S);
    let now = ctx.ports.clock.now_ms();
    let tx = Transaction {
        id: edgewrite_core::ids::unique_id(now, ctx.ports.random),
        status: "pending".into(),
        operations: Vec::new(),
        expires_at: now + ttl * 1000,
        created_at: now,
        updated_at: now,
    };
    ctx.ports
        .sql
        .batch(vec![
            // Expired transactions are never used again; clear them out on the way.
            Statement::new("DELETE FROM _db_transactions WHERE expires_at < ?", vec![Value::Integer(now - 86_400_000)]),
            Statement::new(
                "INSERT INTO _db_transactions (id, owner, status, operations, expires_at, created_at, updated_at)
                 VALUES (?, ?, 'pending', '[]', ?, ?, ?)",
                vec![
                    tx.id.clone().into(),
                    owner(ctx)?.into(),
                    Value::Integer(tx.expires_at),
                    Value::Integer(now),
                    Value::Integer(now),
                ],
            ),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(201, &tx.to_json()))
}

/// `GET …/transactions`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM _db_transactions WHERE owner = ? ORDER BY created_at LIMIT 100"),
            vec![owner(ctx)?.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let items: Vec<Json> = rows.rows.iter().filter_map(|r| from_row(r)).map(|t| t.to_json()).collect();
    Ok(Response::json(200, &json!({"total": items.len(), "transactions": items})))
}

/// `GET …/transactions/{transactionId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("transactionId", 36)?;
    Ok(Response::json(200, &load(ctx, &id).await?.to_json()))
}

/// `DELETE …/transactions/{transactionId}`
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("transactionId", 36)?;
    load(ctx, &id).await?;
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM _db_transactions WHERE id = ?", vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::no_content())
}

/// Appends `ops` to the transaction, guarded so concurrent appends cannot lose one another.
async fn append(ctx: &Ctx<'_>, id: &str, ops: Vec<Json>) -> Result<Transaction, AppwriteError> {
    let mut tx = load(ctx, id).await?;
    check_open(ctx, &tx)?;
    let before = Json::Array(tx.operations.clone()).to_string();
    tx.operations.extend(ops);
    if tx.operations.len() > MAX_OPERATIONS {
        return Err(AppwriteError::new(
            ErrorType::TransactionLimitExceeded,
            format!("A transaction holds at most {MAX_OPERATIONS} operations."),
        ));
    }
    tx.updated_at = ctx.ports.clock.now_ms();
    ctx.ports
        .sql
        .query(
            Statement::new(
                "UPDATE _db_transactions SET operations = ?, updated_at = ?
                 WHERE id = ? AND status = 'pending' AND operations = ?",
                vec![
                    Json::Array(tx.operations.clone()).to_string().into(),
                    Value::Integer(tx.updated_at),
                    id.into(),
                    before.into(),
                ],
            )
            .expect_changes(1),
        )
        .await
        .map_err(|e| match e {
            StoreError::GuardFailed { .. } => AppwriteError::new(
                ErrorType::TransactionConflict,
                "The transaction changed meanwhile; try again.",
            ),
            other => AppwriteError::internal(other),
        })?;
    Ok(tx)
}

/// One staged operation, in a stored form shared by both APIs. `data` is the document's data;
/// for increments `{attribute, value, max|min}`; for bulk writes the items, or
/// `{data?, queries}`.
fn operation(action: &str, database: &str, collection: &str, document: &str, data: Json) -> Json {
    json!({"action": action, "databaseId": database, "collectionId": collection, "documentId": document, "data": data})
}

/// Checks an operation's `data` has the shape its action needs.
fn check_operation_data(ctx: &Ctx<'_>, action: &str, data: &Json) -> Result<(), AppwriteError> {
    let bad = |what: &str| {
        AppwriteError::invalid_param("operations", &format!("A {action} operation needs {what}"))
    };
    if BULK_ACTIONS.contains(&action) {
        documents::require_app(ctx)?;
    }
    match action {
        "bulkCreate" | "bulkUpsert" if !data.as_array().is_some_and(|a| a.iter().all(Json::is_object)) => {
            Err(bad("data: an array of objects"))
        }
        "bulkUpdate" if !data.get("data").is_some_and(Json::is_object) => Err(bad("data.data: an object")),
        "bulkUpdate" | "bulkDelete"
            if !data
                .get("queries")
                .is_none_or(|q| q.as_array().is_some_and(|a| a.iter().all(Json::is_string))) =>
        {
            Err(bad("data.queries: an array of query strings"))
        }
        "increment" | "decrement"
            if !data.get("attribute").or(data.get("column")).is_some_and(Json::is_string) =>
        {
            Err(bad("data.attribute (or data.column): the attribute to change"))
        }
        "create" | "update" | "upsert" | "increment" | "decrement" if !data.is_object() => {
            Err(bad("data: an object"))
        }
        _ => Ok(()),
    }
}

/// `POST …/transactions/{transactionId}/operations` {operations}
pub async fn add_operations(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("transactionId", 36)?;
    let Some(Json::Array(items)) = ctx.params.raw("operations") else {
        return Err(AppwriteError::invalid_param("operations", "Value must be an array of operations"));
    };
    let mut ops = Vec::with_capacity(items.len());
    for item in items {
        let text = |key: &str| item.get(key).and_then(Json::as_str).unwrap_or_default().to_string();
        let action = text("action");
        if !ACTIONS.contains(&action.as_str()) {
            return Err(AppwriteError::invalid_param(
                "operations",
                &format!("Operation action must be one of ({})", ACTIONS.join(", ")),
            ));
        }
        let collection = text(flavor.collection_param());
        let document = text(flavor.document_param());
        let database = text("databaseId");
        let bulk = BULK_ACTIONS.contains(&action.as_str());
        let ids: &[&String] =
            if bulk { &[&database, &collection] } else { &[&database, &collection, &document] };
        if ids.iter().any(|v| !edgewrite_core::ids::is_valid_custom_id(v)) {
            return Err(AppwriteError::invalid_param(
                "operations",
                "Each operation needs valid databaseId, collection and (but for bulk operations) document ids",
            ));
        }
        let data = item.get("data").cloned().unwrap_or_else(|| json!({}));
        check_operation_data(ctx, &action, &data)?;
        ops.push(operation(&action, &database, &collection, &document, data));
    }
    let tx = append(ctx, &id, ops).await?;
    Ok(Response::json(201, &tx.to_json()))
}

/// A document write carrying `transactionId`: staged, not applied. Answers the document as it
/// will be written.
pub async fn stage(ctx: &Ctx<'_>, flavor: Flavor, action: &str) -> Result<Response, AppwriteError> {
    let tx_id = ctx.params.required_text("transactionId", 36)?;
    let database = ctx.params.required_text("databaseId", 36)?;
    let collection = ctx.params.required_text(flavor.collection_param(), 36)?;
    if BULK_ACTIONS.contains(&action) || matches!(action, "increment" | "decrement") {
        return stage_other(ctx, flavor, action, &tx_id, &database, &collection).await;
    }
    let document = if action == "create" {
        ctx.params.custom_id(flavor.document_param(), ctx.ports.clock.now_ms(), ctx.ports.random)?
    } else {
        ctx.params.required_text(flavor.document_param(), 36)?
    };
    let mut data = ctx.params.object("data")?.unwrap_or_default();
    if let Some(list) = ctx.params.string_array("permissions", 256, &ctx.config.limits)? {
        let parsed = permissions::parse(&list, &["read", "update", "delete", "write"])?;
        permissions::check_grantable(&ctx.caller, &parsed)?;
        data.insert("$permissions".into(), json!(permissions::render(&parsed)));
    }
    if action == "create" && data.is_empty() {
        return Err(flavor.missing_data());
    }
    append(
        ctx,
        &tx_id,
        vec![operation(action, &database, &collection, &document, Json::Object(data.clone()))],
    )
    .await?;
    if action == "delete" {
        return Ok(Response::no_content());
    }
    let mut model = data;
    model.insert("$id".into(), json!(document));
    model.insert("$databaseId".into(), json!(database));
    model.insert(flavor.collection_ref().into(), json!(collection));
    Ok(Response::json(if action == "update" { 200 } else { 201 }, &Json::Object(with_model_defaults(model))))
}

/// A staged write's answer is the document as far as it is known before the commit: Appwrite
/// fills the model's other fields with its defaults (no sequence or times yet).
fn with_model_defaults(mut model: Map<String, Json>) -> Map<String, Json> {
    for (field, default) in [
        ("$sequence", json!("")),
        ("$createdAt", json!("")),
        ("$updatedAt", json!("")),
        ("$permissions", json!([])),
    ] {
        model.entry(field).or_insert(default);
    }
    model
}

/// A bulk write or an increment carrying `transactionId`: staged. Bulk writes answer the
/// items staged (none for updates and deletes, whose matches are known only at commit).
async fn stage_other(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    action: &str,
    tx_id: &str,
    database: &str,
    collection: &str,
) -> Result<Response, AppwriteError> {
    let key = flavor.documents_key();
    let queries = || ctx.params.raw("queries").cloned().unwrap_or_else(|| json!([]));
    let (document, data) = match action {
        "bulkCreate" | "bulkUpsert" => {
            let items = ctx.params.raw(key).cloned().unwrap_or(Json::Null);
            // Ids are fixed now, so the answer names the documents the commit will write.
            let parsed = documents::parse_bulk_items(ctx, key, items.as_array().map_or(&[], Vec::as_slice))?;
            let items: Vec<Json> = parsed
                .into_iter()
                .map(|(id, mut data, _)| {
                    data.insert("$id".into(), json!(id));
                    Json::Object(data)
                })
                .collect();
            (String::new(), Json::Array(items))
        }
        "bulkUpdate" => {
            let data = ctx.params.object("data")?.unwrap_or_default();
            (String::new(), json!({"data": data, "queries": queries()}))
        }
        "bulkDelete" => (String::new(), json!({"queries": queries()})),
        _ => {
            let attribute = if flavor.legacy() { "attribute" } else { "column" };
            let bound = if action == "increment" { "max" } else { "min" };
            let data = json!({
                "attribute": ctx.params.required_text(attribute, 36)?,
                "value": ctx.params.raw("value").cloned().unwrap_or(json!(1)),
                bound: ctx.params.raw(bound).cloned().unwrap_or(Json::Null),
            });
            (ctx.params.required_text(flavor.document_param(), 36)?, data)
        }
    };
    check_operation_data(ctx, action, &data)?;
    append(ctx, tx_id, vec![operation(action, database, collection, &document, data.clone())]).await?;
    // Bulk writes answer how many documents they stage, none of them yet (as Appwrite does).
    let total = match (action, data) {
        ("bulkCreate" | "bulkUpsert", Json::Array(items)) => items.len(),
        ("bulkUpdate" | "bulkDelete", _) => 0,
        _ => {
            let mut model = Map::new();
            model.insert("$id".into(), json!(document));
            model.insert("$databaseId".into(), json!(database));
            model.insert(flavor.collection_ref().into(), json!(collection));
            return Ok(Response::json(200, &Json::Object(with_model_defaults(model))));
        }
    };
    let status = if action == "bulkCreate" { 201 } else { 200 };
    Ok(Response::json(status, &json!({"total": total, key: []})))
}

fn conflict(message: &str) -> AppwriteError {
    AppwriteError::new(ErrorType::TransactionConflict, message)
}

/// `PATCH …/transactions/{transactionId}` {commit} or {rollback}
pub async fn update(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("transactionId", 36)?;
    let commit = ctx.params.boolean("commit")?.unwrap_or(false);
    let rollback = ctx.params.boolean("rollback")?.unwrap_or(false);
    if commit == rollback {
        return Err(AppwriteError::new(
            ErrorType::GeneralBadRequest,
            "Give exactly one of commit or rollback.",
        ));
    }
    let mut tx = load(ctx, &id).await?;
    check_open(ctx, &tx)?;
    let now = ctx.ports.clock.now_ms();
    // The status changes only if nothing was added since the operations were read and the
    // transaction has not expired meanwhile.
    let staged = Json::Array(tx.operations.clone()).to_string();
    let finish = |status: &str| {
        Statement::new(
            "UPDATE _db_transactions SET status = ?, updated_at = ?
             WHERE id = ? AND status = 'pending' AND operations = ? AND expires_at > ?",
            vec![
                status.into(),
                Value::Integer(now),
                id.clone().into(),
                staged.clone().into(),
                Value::Integer(now),
            ],
        )
        .expect_changes(1)
    };
    if rollback {
        ctx.ports
            .sql
            .query(finish("rolled_back"))
            .await
            .map_err(|_| conflict("The transaction changed meanwhile."))?;
        tx.status = "rolled_back".into();
        tx.updated_at = now;
        return Ok(Response::json(200, &tx.to_json()));
    }
    let mut batch = vec![finish("committed")];
    let mut collections: HashMap<(String, String), Collection> = HashMap::new();
    let mut written: HashSet<(String, String, String)> = HashSet::new();
    for op in &tx.operations {
        let text = |key: &str| op.get(key).and_then(Json::as_str).unwrap_or_default().to_string();
        let (action, database, collection_id, document) =
            (text("action"), text("databaseId"), text("collectionId"), text("documentId"));
        let key = (database.clone(), collection_id.clone());
        if !collections.contains_key(&key) {
            let (_, loaded) = meta::load_collection_by(ctx, flavor, &database, &collection_id).await?;
            collections.insert(key.clone(), loaded);
        }
        let collection = &collections[&key];
        let raw = op.get("data").cloned().unwrap_or(Json::Null);
        if BULK_ACTIONS.contains(&action.as_str()) {
            documents::require_app(ctx)?;
            relationships::refuse_bulk(collection)?;
            let queries = || -> Vec<String> {
                raw.get("queries")
                    .and_then(Json::as_array)
                    .map(|q| q.iter().filter_map(|q| q.as_str().map(str::to_string)).collect())
                    .unwrap_or_default()
            };
            match action.as_str() {
                "bulkCreate" | "bulkUpsert" => {
                    let items = documents::parse_bulk_items(
                        ctx,
                        "operations",
                        raw.as_array().map_or(&[], Vec::as_slice),
                    )?;
                    for (id, data, perms) in items {
                        let doc_key = (database.clone(), collection_id.clone(), id.clone());
                        let exists = action == "bulkUpsert"
                            && (written.contains(&doc_key)
                                || documents::load_document(
                                    ctx,
                                    flavor,
                                    &meta::Database::placeholder(&database),
                                    collection,
                                    &id,
                                    false,
                                )
                                .await?
                                .is_some());
                        if exists {
                            batch.extend(documents::update_statements(
                                ctx,
                                flavor,
                                collection,
                                &id,
                                &data,
                                perms.as_deref(),
                            )?);
                        } else {
                            batch.extend(documents::insert_statements(
                                ctx, flavor, collection, &id, &data, perms,
                            )?);
                        }
                        written.insert(doc_key);
                    }
                }
                "bulkUpdate" => {
                    let data = raw.get("data").and_then(Json::as_object).cloned().unwrap_or_default();
                    let values = documents::values(flavor, collection, &data, false, now)?;
                    if !values.is_empty() {
                        let targets = documents::Targets::Query(documents::matching_select(
                            ctx,
                            collection,
                            queries(),
                        )?);
                        batch.extend(documents::bulk_update_statements(collection, values, now, &targets));
                    }
                }
                _ => {
                    let targets =
                        documents::Targets::Query(documents::matching_select(ctx, collection, queries())?);
                    batch.extend(documents::bulk_delete_statements(collection, &targets));
                }
            }
            continue;
        }
        let mut data = raw.as_object().cloned().unwrap_or_default();
        // Operations added with `createOperations` were not checked when staged.
        let perms: Option<Vec<Permission>> =
            documents::embedded_permissions(ctx, data.remove("$permissions"))?;
        let doc_key = (database.clone(), collection_id.clone(), document.clone());
        // A document written earlier in this transaction is the caller's own doing.
        let existing = if written.contains(&doc_key) {
            None
        } else {
            documents::load_document(
                ctx,
                flavor,
                &meta::Database::placeholder(&database),
                collection,
                &document,
                false,
            )
            .await?
        };
        let exists = existing.is_some() || written.contains(&doc_key);
        match (action.as_str(), exists) {
            ("create", _) | ("upsert", false) => {
                if !documents::collection_allows(ctx, collection, "create") {
                    return Err(documents::unauthorized());
                }
                let perms = documents::creation_permissions(ctx, perms);
                batch.extend(documents::insert_statements(
                    ctx,
                    flavor,
                    collection,
                    &document,
                    &data,
                    Some(perms.clone()),
                )?);
                let database = meta::Database::placeholder(&database);
                batch.extend(
                    relationships::link_statements(
                        ctx, flavor, &database, collection, &document, &data, &perms, 1,
                    )
                    .await?,
                );
            }
            ("update" | "upsert", true) => {
                if let Some(doc) = &existing {
                    if !documents::document_allows(ctx, collection, doc, "update") {
                        return Err(documents::unauthorized());
                    }
                }
                batch.extend(documents::update_statements(
                    ctx,
                    flavor,
                    collection,
                    &document,
                    &data,
                    perms.as_deref(),
                )?);
                let inherited = perms
                    .clone()
                    .unwrap_or_else(|| existing.as_ref().map_or_else(Vec::new, |d| d.parsed_permissions()));
                let database = meta::Database::placeholder(&database);
                batch.extend(
                    relationships::link_statements(
                        ctx, flavor, &database, collection, &document, &data, &inherited, 1,
                    )
                    .await?,
                );
            }
            ("increment" | "decrement", true) => {
                if let Some(doc) = &existing {
                    if !documents::document_allows(ctx, collection, doc, "update") {
                        return Err(documents::unauthorized());
                    }
                }
                let up = action == "increment";
                let attribute =
                    data.get("attribute").or(data.get("column")).and_then(Json::as_str).unwrap_or_default();
                let (statement, _) = documents::step_statement(
                    flavor,
                    collection,
                    &document,
                    attribute,
                    up,
                    data.get("value"),
                    data.get(if up { "max" } else { "min" }),
                    now,
                )?;
                // Past the bound, the whole commit fails.
                batch.push(statement.expect_changes(1));
            }
            ("delete", true) => {
                if let Some(doc) = &existing {
                    if !documents::document_allows(ctx, collection, doc, "delete") {
                        return Err(documents::unauthorized());
                    }
                }
                let database = meta::Database::placeholder(&database);
                let ids = [document.clone()];
                let mut visited = std::collections::BTreeSet::new();
                batch.extend(
                    relationships::delete_statements(
                        ctx,
                        flavor,
                        &database,
                        collection,
                        &ids,
                        1,
                        &mut visited,
                    )
                    .await?,
                );
                batch.extend(documents::delete_statements(collection, &document));
            }
            (_, false) => return Err(flavor.document_not_found()),
            _ => return Err(AppwriteError::invalid_param("operations", "Unknown operation")),
        }
        written.insert(doc_key);
    }
    if let Err(e) = ctx.ports.sql.batch(batch).await {
        let message = match e {
            StoreError::Constraint(_) | StoreError::GuardFailed { .. } => {
                "An operation conflicted with the data (a duplicate id or unique value, a document gone, a bound passed or a document grown too large)."
            }
            other => return Err(AppwriteError::internal(other)),
        };
        // Nothing was applied; the transaction is spent.
        let _ = ctx.ports.sql.query(finish("failed")).await;
        return Err(conflict(message));
    }
    tx.status = "committed".into();
    tx.updated_at = now;
    Ok(Response::json(200, &tx.to_json()))
}
