//! Appwrite's Databases (`/v1/databases`: collections, attributes, documents) and TablesDB
//! (`/v1/tablesdb`: tables, columns, rows) — two views of one engine over the project's SQL
//! (`appwrite-api.md` §6). Collections are real SQLite tables, attributes real columns, indexes
//! real indexes, and queries compile to parameterised SQL through `edgewrite_core::query`.

mod attributes;
mod documents;
mod events;
mod flavor;
mod meta;
mod operators;
mod relationships;
mod schema;
mod transactions;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

pub use flavor::Flavor;

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

/// The legacy Databases API.
pub struct Databases;
/// TablesDB.
pub struct TablesDb;

static LEGACY_ROUTES: &[Route] = &[
    // Before `{databaseId}`, which would match `transactions` too.
    route(Method::Get, "/v1/databases/transactions", "documents.read", "transactions.list"),
    route(Method::Post, "/v1/databases/transactions", "documents.write", "transactions.create"),
    route(Method::Get, "/v1/databases/transactions/{transactionId}", "documents.read", "transactions.get"),
    route(
        Method::Patch,
        "/v1/databases/transactions/{transactionId}",
        "documents.write",
        "transactions.update",
    ),
    route(
        Method::Delete,
        "/v1/databases/transactions/{transactionId}",
        "documents.write",
        "transactions.delete",
    ),
    route(
        Method::Post,
        "/v1/databases/transactions/{transactionId}/operations",
        "documents.write",
        "transactions.operations",
    ),
    route(Method::Get, "/v1/databases", "databases.read", "databases.list"),
    route(Method::Post, "/v1/databases", "databases.write", "databases.create"),
    route(Method::Get, "/v1/databases/{databaseId}", "databases.read", "databases.get"),
    route(Method::Put, "/v1/databases/{databaseId}", "databases.write", "databases.update"),
    route(Method::Delete, "/v1/databases/{databaseId}", "databases.write", "databases.delete"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/system-fields",
        "migrations.write",
        "databases.system_fields",
    ),
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/collections/{collectionId}/system-fields",
        "migrations.write",
        "collections.system_fields",
    ),
    route(Method::Get, "/v1/databases/{databaseId}/collections", "collections.read", "collections.list"),
    route(Method::Post, "/v1/databases/{databaseId}/collections", "collections.write", "collections.create"),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}",
        "collections.read",
        "collections.get",
    ),
    route(
        Method::Put,
        "/v1/databases/{databaseId}/collections/{collectionId}",
        "collections.write",
        "collections.update",
    ),
    route(
        Method::Delete,
        "/v1/databases/{databaseId}/collections/{collectionId}",
        "collections.write",
        "collections.delete",
    ),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}/attributes",
        "collections.read",
        "attributes.list",
    ),
    route(
        Method::Post,
        "/v1/databases/{databaseId}/collections/{collectionId}/attributes/{kind}",
        "collections.write",
        "attributes.create",
    ),
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/collections/{collectionId}/attributes/{kind}/{key}",
        "collections.write",
        "attributes.update",
    ),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}/attributes/{key}",
        "collections.read",
        "attributes.get",
    ),
    route(
        Method::Delete,
        "/v1/databases/{databaseId}/collections/{collectionId}/attributes/{key}",
        "collections.write",
        "attributes.delete",
    ),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}/indexes",
        "collections.read",
        "indexes.list",
    ),
    route(
        Method::Post,
        "/v1/databases/{databaseId}/collections/{collectionId}/indexes",
        "collections.write",
        "indexes.create",
    ),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}/indexes/{key}",
        "collections.read",
        "indexes.get",
    ),
    route(
        Method::Delete,
        "/v1/databases/{databaseId}/collections/{collectionId}/indexes/{key}",
        "collections.write",
        "indexes.delete",
    ),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents",
        "documents.read",
        "documents.list",
    ),
    route(
        Method::Post,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents",
        "documents.write",
        "documents.create",
    ),
    route(
        Method::Put,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents",
        "documents.write",
        "documents.upsert_many",
    ),
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents",
        "documents.write",
        "documents.update_many",
    ),
    route(
        Method::Delete,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents",
        "documents.write",
        "documents.delete_many",
    ),
    route(
        Method::Get,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents/{documentId}",
        "documents.read",
        "documents.get",
    ),
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents/{documentId}",
        "documents.write",
        "documents.update",
    ),
    route(
        Method::Put,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents/{documentId}",
        "documents.write",
        "documents.upsert",
    ),
    route(
        Method::Delete,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents/{documentId}",
        "documents.write",
        "documents.delete",
    ),
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents/{documentId}/{attribute}/increment",
        "documents.write",
        "documents.increment",
    ),
    route(
        Method::Patch,
        "/v1/databases/{databaseId}/collections/{collectionId}/documents/{documentId}/{attribute}/decrement",
        "documents.write",
        "documents.decrement",
    ),
];

static TABLES_ROUTES: &[Route] = &[
    route(Method::Get, "/v1/tablesdb/transactions", "rows.read", "transactions.list"),
    route(Method::Post, "/v1/tablesdb/transactions", "rows.write", "transactions.create"),
    route(Method::Get, "/v1/tablesdb/transactions/{transactionId}", "rows.read", "transactions.get"),
    route(Method::Patch, "/v1/tablesdb/transactions/{transactionId}", "rows.write", "transactions.update"),
    route(Method::Delete, "/v1/tablesdb/transactions/{transactionId}", "rows.write", "transactions.delete"),
    route(
        Method::Post,
        "/v1/tablesdb/transactions/{transactionId}/operations",
        "rows.write",
        "transactions.operations",
    ),
    route(Method::Get, "/v1/tablesdb", "databases.read", "databases.list"),
    route(Method::Post, "/v1/tablesdb", "databases.write", "databases.create"),
    route(Method::Get, "/v1/tablesdb/{databaseId}", "databases.read", "databases.get"),
    route(Method::Put, "/v1/tablesdb/{databaseId}", "databases.write", "databases.update"),
    route(Method::Delete, "/v1/tablesdb/{databaseId}", "databases.write", "databases.delete"),
    route(Method::Get, "/v1/tablesdb/{databaseId}/tables", "tables.read", "collections.list"),
    route(Method::Post, "/v1/tablesdb/{databaseId}/tables", "tables.write", "collections.create"),
    route(Method::Get, "/v1/tablesdb/{databaseId}/tables/{tableId}", "tables.read", "collections.get"),
    route(Method::Put, "/v1/tablesdb/{databaseId}/tables/{tableId}", "tables.write", "collections.update"),
    route(Method::Delete, "/v1/tablesdb/{databaseId}/tables/{tableId}", "tables.write", "collections.delete"),
    route(
        Method::Get,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/columns",
        "tables.read",
        "attributes.list",
    ),
    route(
        Method::Post,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/columns/{kind}",
        "tables.write",
        "attributes.create",
    ),
    route(
        Method::Patch,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/columns/{kind}/{key}",
        "tables.write",
        "attributes.update",
    ),
    route(
        Method::Get,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/columns/{key}",
        "tables.read",
        "attributes.get",
    ),
    route(
        Method::Delete,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/columns/{key}",
        "tables.write",
        "attributes.delete",
    ),
    route(Method::Get, "/v1/tablesdb/{databaseId}/tables/{tableId}/indexes", "tables.read", "indexes.list"),
    route(
        Method::Post,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/indexes",
        "tables.write",
        "indexes.create",
    ),
    route(
        Method::Get,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/indexes/{key}",
        "tables.read",
        "indexes.get",
    ),
    route(
        Method::Delete,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/indexes/{key}",
        "tables.write",
        "indexes.delete",
    ),
    route(Method::Get, "/v1/tablesdb/{databaseId}/tables/{tableId}/rows", "rows.read", "documents.list"),
    route(Method::Post, "/v1/tablesdb/{databaseId}/tables/{tableId}/rows", "rows.write", "documents.create"),
    route(
        Method::Put,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows",
        "rows.write",
        "documents.upsert_many",
    ),
    route(
        Method::Patch,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows",
        "rows.write",
        "documents.update_many",
    ),
    route(
        Method::Delete,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows",
        "rows.write",
        "documents.delete_many",
    ),
    route(
        Method::Get,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}",
        "rows.read",
        "documents.get",
    ),
    route(
        Method::Patch,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}",
        "rows.write",
        "documents.update",
    ),
    route(
        Method::Put,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}",
        "rows.write",
        "documents.upsert",
    ),
    route(
        Method::Delete,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}",
        "rows.write",
        "documents.delete",
    ),
    route(
        Method::Patch,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}/{column}/increment",
        "rows.write",
        "documents.increment",
    ),
    route(
        Method::Patch,
        "/v1/tablesdb/{databaseId}/tables/{tableId}/rows/{rowId}/{column}/decrement",
        "rows.write",
        "documents.decrement",
    ),
];

async fn dispatch(flavor: Flavor, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    // A write carrying `transactionId` is staged, not applied.
    let staged = ctx.params.raw("transactionId").is_some_and(|t| !t.is_null());
    if staged && route.name.starts_with("documents.") {
        let action = match route.name {
            "documents.create" if ctx.params.raw(flavor.documents_key()).is_some() => "bulkCreate",
            "documents.create" => "create",
            "documents.update" => "update",
            "documents.upsert" => "upsert",
            "documents.delete" => "delete",
            "documents.increment" => "increment",
            "documents.decrement" => "decrement",
            "documents.upsert_many" => "bulkUpsert",
            "documents.update_many" => "bulkUpdate",
            "documents.delete_many" => "bulkDelete",
            _ => {
                return Err(AppwriteError::new(
                    ErrorType::GeneralBadRequest,
                    "Reads cannot be part of a transaction.",
                ))
            }
        };
        return transactions::stage(ctx, flavor, action).await;
    }
    match route.name {
        "transactions.list" => transactions::list(ctx).await,
        "transactions.create" => transactions::create(ctx).await,
        "transactions.get" => transactions::get(ctx).await,
        "transactions.update" => transactions::update(ctx, flavor).await,
        "transactions.delete" => transactions::delete(ctx).await,
        "transactions.operations" => transactions::add_operations(ctx, flavor).await,
        "databases.list" => schema::list_databases(ctx).await,
        "databases.create" => schema::create_database(ctx, flavor).await,
        "databases.get" => schema::get_database(ctx).await,
        "databases.update" => schema::update_database(ctx).await,
        "databases.delete" => schema::delete_database(ctx).await,
        "databases.system_fields" => schema::restore_database(ctx).await,
        "collections.system_fields" => schema::restore_collection(ctx).await,
        "collections.list" => schema::list_collections(ctx, flavor).await,
        "collections.create" => schema::create_collection(ctx, flavor).await,
        "collections.get" => schema::get_collection(ctx, flavor).await,
        "collections.update" => schema::update_collection(ctx, flavor).await,
        "collections.delete" => schema::delete_collection(ctx, flavor).await,
        "attributes.list" => attributes::list(ctx, flavor).await,
        "attributes.create" => match ctx.params.required_text("kind", 16)?.as_str() {
            "relationship" => relationships::create(ctx, flavor).await,
            kind => attributes::create(ctx, flavor, kind).await,
        },
        "attributes.update" => {
            let kind = ctx.params.required_text("kind", 36)?;
            let key = ctx.params.required_text("key", 36)?;
            match (flavor, kind.as_str(), key.as_str()) {
                // Legacy `…/attributes/relationship/{key}`; TablesDB `…/columns/{key}/relationship`.
                (Flavor::Legacy, "relationship", _) => relationships::update(ctx, flavor, &key).await,
                (Flavor::Tables, _, "relationship") if !attributes::is_kind(&kind) => {
                    relationships::update(ctx, flavor, &kind).await
                }
                _ => attributes::update(ctx, flavor, &kind).await,
            }
        }
        "attributes.get" => attributes::get(ctx, flavor).await,
        "attributes.delete" => attributes::delete(ctx, flavor).await,
        "indexes.list" => attributes::list_indexes(ctx, flavor).await,
        "indexes.create" => attributes::create_index(ctx, flavor).await,
        "indexes.get" => attributes::get_index(ctx, flavor).await,
        "indexes.delete" => attributes::delete_index(ctx, flavor).await,
        "documents.list" => documents::list(ctx, flavor).await,
        "documents.create" => documents::create(ctx, flavor).await,
        "documents.get" => documents::get(ctx, flavor).await,
        "documents.update" => documents::update(ctx, flavor).await,
        "documents.upsert" => documents::upsert(ctx, flavor).await,
        "documents.upsert_many" => documents::upsert_many(ctx, flavor).await,
        "documents.update_many" => documents::update_many(ctx, flavor).await,
        "documents.delete_many" => documents::delete_many(ctx, flavor).await,
        "documents.delete" => documents::delete(ctx, flavor).await,
        "documents.increment" => documents::step(ctx, flavor, true).await,
        "documents.decrement" => documents::step(ctx, flavor, false).await,
        _ => Err(ErrorType::GeneralRouteNotFound.into()),
    }
}

#[async_trait(?Send)]
impl Capability for Databases {
    fn routes(&self) -> &'static [Route] {
        LEGACY_ROUTES
    }
    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        dispatch(Flavor::Legacy, route, ctx).await
    }
}

#[async_trait(?Send)]
impl Capability for TablesDb {
    fn routes(&self) -> &'static [Route] {
        TABLES_ROUTES
    }
    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        dispatch(Flavor::Tables, route, ctx).await
    }
}
