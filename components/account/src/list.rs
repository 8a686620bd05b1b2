//! Runs a list endpoint's `queries`, `search` and `total` parameters (`appwrite-api.md` §2.2)
//! against one table: the page and the count in one atomic batch.

use edgewrite_core::ports::Value;
use edgewrite_core::query::{self, ListOptions, Page, Schema};
use edgewrite_core::{AppwriteError, Ctx};

/// Selects `columns` from `schema.table` under the request's list parameters, restricted to
/// `scope` (an SQL condition with its parameters) when given.
pub async fn page(
    ctx: &Ctx<'_>,
    schema: &Schema<'_>,
    columns: &str,
    scope: Option<(&str, Vec<Value>)>,
) -> Result<Page, AppwriteError> {
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    query::plan(&options, schema, &ctx.config.limits)?.fetch(ctx.ports.sql, columns, scope).await
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
