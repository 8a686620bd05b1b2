//! Runs a list endpoint's `queries`, `search` and `total` parameters (`appwrite-api.md` §2.2)
//! against one table: the page and the count in one atomic batch.

use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::query::{self, ListOptions, Schema};
use edgewrite_core::{AppwriteError, Ctx, ErrorType};

/// One page of a list and how many rows match in all (0 when the caller passed `total=false`).
pub struct Page {
    pub total: i64,
    pub rows: Vec<Vec<Value>>,
}

/// The list parameters of the request.
pub fn options(ctx: &Ctx<'_>) -> Result<ListOptions, AppwriteError> {
    Ok(ListOptions {
        queries: ctx
            .params
            .string_array("queries", query::MAX_QUERY_CHARS, &ctx.config.limits)?
            .unwrap_or_default(),
        search: ctx.params.text("search", 256)?,
        total: ctx.params.boolean("total")?.unwrap_or(true),
    })
}

/// Selects `columns` from `schema.table` under the request's list parameters, restricted to
/// `scope` (an SQL condition with its parameters) when given.
pub async fn page(
    ctx: &Ctx<'_>,
    schema: &Schema<'_>,
    columns: &str,
    scope: Option<(&str, Vec<Value>)>,
) -> Result<Page, AppwriteError> {
    let plan = query::plan(&options(ctx)?, schema, &ctx.config.limits)?;
    let mut batch: Vec<Statement> = Vec::with_capacity(3);
    let cursor = plan.cursor_check(scope.clone());
    let has_cursor = cursor.is_some();
    batch.extend(cursor);
    batch.push(plan.select(columns, scope.clone()));
    let count = plan.count(scope);
    let has_count = count.is_some();
    batch.extend(count);
    let mut out = ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?.into_iter();
    if has_cursor && out.next().is_none_or(|r| r.rows.is_empty()) {
        return Err(AppwriteError::new(ErrorType::GeneralCursorNotFound, "Cursor not found"));
    }
    let rows = out.next().map(|r| r.rows).unwrap_or_default();
    let total =
        if has_count { out.next().and_then(|r| r.rows.first()?.first()?.as_i64()).unwrap_or(0) } else { 0 };
    Ok(Page { total, rows })
}

/// `items` without repeats, first occurrences kept in order.
pub fn dedup(items: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}
