//! Planning: parsed queries checked against a [`Schema`] and turned into a page of bound SQL.

use serde_json::Value as Json;

use super::filter::{search, Planner, Sql, ALIAS, SEQUENCE};
use super::{invalid, parse, Query, QueryMethod, Schema, MAX_QUERY_CHARS};
use crate::error::{AppwriteError, ErrorType};
use crate::ports::{Sql as SqlPort, Statement, Value};
use crate::{ids, Limits};

/// Page size when no `limit` query is given (`APP_LIMIT_LIST_DEFAULT`).
pub const DEFAULT_LIMIT: i64 = 25;
/// Most rows `total` counts (`APP_LIMIT_COUNT`).
pub const COUNT_CAP: i64 = 5000;
/// Most values the filters of one list may bind (the platform's limit is 100 per statement).
pub const MAX_FILTER_PARAMS: usize = 80;
/// Most distinct order terms (each adds to every keyset comparison).
pub const MAX_ORDER_TERMS: usize = 8;
/// Name of the CTE holding the cursor row's order values.
const CURSOR_CTE: &str = "edgewrite_cursor";

/// What a list endpoint received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// The raw `queries[]` strings.
    pub queries: Vec<String>,
    /// The endpoint's `search` param; empty or blank = no filter.
    pub search: Option<String>,
    /// The `total` param: whether [`Plan::count`] is wanted.
    pub total: bool,
}

impl ListOptions {
    /// A list request's `queries`, `search` and `total` parameters.
    pub fn from_params(
        params: &crate::params::Params,
        limits: &crate::limits::Limits,
    ) -> Result<ListOptions, AppwriteError> {
        Ok(ListOptions {
            queries: params.string_array("queries", super::MAX_QUERY_CHARS, limits)?.unwrap_or_default(),
            search: params.text("search", 256)?,
            total: params.boolean("total")?.unwrap_or(true),
        })
    }
}

/// A validated list request, ready to render as SQL for a caller-chosen column list and scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    table: String,
    id_column: String,
    /// Every filter and the `search` param, AND-ed; empty = none.
    filter: Sql,
    /// Never empty: ends with the rowid tie-break (unless already ordered by `$sequence`).
    order: Vec<Order>,
    limit: i64,
    offset: i64,
    cursor: Option<Cursor>,
    selected: Option<Vec<String>>,
    total: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Order {
    attribute: String,
    /// A qualified column, `rowid`, or `random()`.
    expr: String,
    desc: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    id: String,
    before: bool,
}

/// Validates `options` against `schema` and plans the page.
///
/// Like Appwrite, the first `limit`, `offset` and cursor query wins; later ones are validated
/// and ignored.
pub fn plan(options: &ListOptions, schema: &Schema, limits: &Limits) -> Result<Plan, AppwriteError> {
    if options.queries.len() > limits.max_array_items
        || options.queries.iter().any(|q| q.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(AppwriteError::invalid_param(
            "queries",
            &format!(
                "Value must a valid array no longer than {} items and Value must be a valid string and at most {MAX_QUERY_CHARS} chars",
                limits.max_array_items
            ),
        ));
    }
    let planner = Planner { schema };
    let max_limit = i64::try_from(limits.max_page_size).unwrap_or(i64::MAX);
    let mut filters = Vec::new();
    let mut order = Vec::new();
    let (mut limit, mut offset, mut cursor) = (None, None, None);
    let mut selected: Option<Vec<String>> = None;
    for raw in &options.queries {
        let query = parse(raw)?;
        match query.method {
            QueryMethod::Select => {
                let all = selected.get_or_insert_with(Vec::new);
                for attribute in planner.select(&query)? {
                    if !all.contains(&attribute) {
                        all.push(attribute);
                    }
                }
            }
            QueryMethod::OrderAsc | QueryMethod::OrderDesc => {
                let field = planner.order_field(&query.attribute)?;
                let desc = query.method == QueryMethod::OrderDesc;
                order.push(Order { attribute: field.attribute.into(), expr: planner.column(&field), desc });
            }
            QueryMethod::OrderRandom => {
                order.push(Order { attribute: String::new(), expr: "random()".into(), desc: false })
            }
            QueryMethod::Limit => {
                let n = integer(&query, "limit", 1, max_limit)?;
                limit.get_or_insert(n);
            }
            QueryMethod::Offset => {
                let n = integer(&query, "offset", 0, i64::MAX)?;
                offset.get_or_insert(n);
            }
            QueryMethod::CursorAfter | QueryMethod::CursorBefore => {
                let id = match query.values.first() {
                    Some(Json::String(id)) if ids::is_valid_custom_id(id) => id.clone(),
                    _ => return Err(invalid(format!("Invalid cursor: {}", ids::CUSTOM_ID_RULE))),
                };
                cursor.get_or_insert(Cursor { id, before: query.method == QueryMethod::CursorBefore });
            }
            _ => filters.push(planner.filter(&query)?),
        }
    }
    if let Some(text) = options.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let expr = schema
            .search
            .ok_or_else(|| AppwriteError::invalid_param("search", "Search is not supported here"))?;
        filters.push(search(expr, text));
    }
    if cursor.is_some() && order.iter().any(|o| o.expr == "random()") {
        return Err(invalid("Cursor queries cannot be used with orderRandom"));
    }
    let rowid = planner.column(&SEQUENCE);
    if !order.iter().any(|o| o.expr == rowid) {
        // Appwrite's tie-break: `$sequence`, descending only behind a descending `$createdAt` or
        // `$updatedAt` so "newest first" stays newest first.
        let desc = order
            .first()
            .is_some_and(|o| o.desc && matches!(o.attribute.as_str(), "$createdAt" | "$updatedAt"));
        order.push(Order { attribute: SEQUENCE.attribute.into(), expr: rowid, desc });
    }
    let mut filter = Sql::default();
    for (i, part) in filters.iter().enumerate() {
        if i > 0 {
            filter.push(" AND ");
        }
        filter.push("(").append(part).push(")");
    }
    // Durable Object SQLite binds at most 100 parameters per statement; leave room for the
    // scope, the cursor and the page. Deduplicate order terms so the keyset stays small.
    if filter.params.len() > MAX_FILTER_PARAMS {
        return Err(invalid(format!(
            "Queries bind more than {MAX_FILTER_PARAMS} values; use fewer queries or list values"
        )));
    }
    let mut seen = Vec::new();
    order.retain(|o| {
        let new = !seen.contains(&o.expr);
        seen.push(o.expr.clone());
        new
    });
    if order.len() > MAX_ORDER_TERMS {
        return Err(invalid(format!("At most {MAX_ORDER_TERMS} order queries are allowed")));
    }
    // `*` anywhere selects everything.
    let selected = selected.filter(|s| !s.iter().any(|a| a == "*"));
    Ok(Plan {
        table: schema.table.to_string(),
        id_column: schema.id_column.to_string(),
        filter,
        order,
        limit: limit.unwrap_or(DEFAULT_LIMIT),
        offset: offset.unwrap_or(0),
        cursor,
        selected,
        total: options.total,
    })
}

/// One page of a list and how many rows match in all (0 when the caller passed `total=false`).
pub struct Page {
    pub total: i64,
    pub rows: Vec<Vec<Value>>,
}

impl Plan {
    /// Runs the page, its cursor check and its count as one atomic batch on `sql`: a cursor
    /// that is not (or no longer) in `scope` is 400 `general_cursor_not_found`.
    pub async fn fetch(
        &self,
        sql: &dyn SqlPort,
        columns: &str,
        scope: Option<(&str, Vec<Value>)>,
    ) -> Result<Page, AppwriteError> {
        let mut batch: Vec<Statement> = Vec::with_capacity(3);
        let cursor = self.cursor_check(scope.clone());
        let has_cursor = cursor.is_some();
        batch.extend(cursor);
        batch.push(self.select(columns, scope.clone()));
        let count = self.count(scope);
        let has_count = count.is_some();
        batch.extend(count);
        let mut out = sql.batch(batch).await.map_err(AppwriteError::internal)?.into_iter();
        if has_cursor && out.next().is_none_or(|r| r.rows.is_empty()) {
            return Err(AppwriteError::new(ErrorType::GeneralCursorNotFound, "Cursor not found"));
        }
        let rows = out.next().map(|r| r.rows).unwrap_or_default();
        let total = if has_count {
            out.next().and_then(|r| r.rows.first()?.first()?.as_i64()).unwrap_or(0)
        } else {
            0
        };
        Ok(Page { total, rows })
    }

    /// `SELECT {columns} FROM {table} WHERE ({scope}) AND (filters) AND (cursor condition)
    /// ORDER BY … LIMIT ? OFFSET ?`. `scope` is an extra SQL condition with its own params, e.g.
    /// `("team_id = ?", vec!["t1".into()])`. With `cursorBefore` the rows still come back in the
    /// requested order: the page is chosen in reverse order and re-sorted.
    ///
    /// The table is aliased `edgewrite_t`: `columns` and `scope` should use bare column names.
    pub fn select(&self, columns: &str, scope: Option<(&str, Vec<Value>)>) -> Statement {
        let t = &self.table;
        let mut q = Sql::default();
        let Some(cursor) = &self.cursor else {
            q.push(&format!("SELECT {columns} FROM {t} AS {ALIAS} WHERE "));
            self.conditions(&scope, &mut q);
            q.push(&format!(" ORDER BY {}", self.order_by(false)));
            self.page(&mut q);
            return Statement::new(q.text, q.params);
        };
        self.cursor_cte(cursor, &scope, &mut q);
        if cursor.before {
            // The inner alias shadows the outer one inside the subquery.
            q.push(&format!(
                "SELECT {columns} FROM {t} AS {ALIAS} WHERE {ALIAS}.rowid IN \
                 (SELECT {ALIAS}.rowid FROM {t} AS {ALIAS} WHERE "
            ));
        } else {
            q.push(&format!("SELECT {columns} FROM {t} AS {ALIAS} WHERE "));
        }
        self.conditions(&scope, &mut q);
        q.push(" AND ");
        self.keyset(cursor.before, &mut q);
        q.push(&format!(" ORDER BY {}", self.order_by(cursor.before)));
        self.page(&mut q);
        if cursor.before {
            q.push(&format!(") ORDER BY {}", self.order_by(false)));
        }
        Statement::new(q.text, q.params)
    }

    /// `SELECT COUNT(*) AS total FROM (SELECT 1 FROM {table} WHERE … LIMIT 5000)`: rows matching
    /// scope and filters (not cursor, limit or offset), capped like Appwrite's `APP_LIMIT_COUNT`.
    /// `None` when the request said `total=false`.
    pub fn count(&self, scope: Option<(&str, Vec<Value>)>) -> Option<Statement> {
        if !self.total {
            return None;
        }
        let mut q = Sql::default();
        q.push(&format!("SELECT COUNT(*) AS total FROM (SELECT 1 FROM {} AS {ALIAS} WHERE ", self.table));
        self.conditions(&scope, &mut q);
        q.push(&format!(" LIMIT {COUNT_CAP})"));
        Some(Statement::new(q.text, q.params))
    }

    /// With a cursor: a statement returning one row iff the cursor id exists within `scope`;
    /// no row → answer 400 `general_cursor_not_found`. `None` without a cursor.
    pub fn cursor_check(&self, scope: Option<(&str, Vec<Value>)>) -> Option<Statement> {
        let cursor = self.cursor.as_ref()?;
        let mut q = Sql::default();
        q.push(&format!("SELECT 1 FROM {} AS {ALIAS} WHERE ", self.table));
        self.scoped_id(cursor, &scope, &mut q);
        q.push(" LIMIT 1");
        Some(Statement::new(q.text, q.params))
    }

    /// Attributes named by `select` queries, in order; `None` = all (no `select`, or `*`).
    pub fn selected(&self) -> Option<&[String]> {
        self.selected.as_deref()
    }

    /// `(scope) AND (filters)`, or `1`.
    fn conditions(&self, scope: &Option<(&str, Vec<Value>)>, q: &mut Sql) {
        if let Some((condition, params)) = scope {
            q.push("(").push(condition).push(")");
            q.params.extend(params.iter().cloned());
            if !self.filter.text.is_empty() {
                q.push(" AND ");
            }
        } else if self.filter.text.is_empty() {
            q.push("1");
        }
        if !self.filter.text.is_empty() {
            q.push("(").append(&self.filter).push(")");
        }
    }

    /// `(scope) AND {table}.{id} = ?`.
    fn scoped_id(&self, cursor: &Cursor, scope: &Option<(&str, Vec<Value>)>, q: &mut Sql) {
        if let Some((condition, params)) = scope {
            q.push("(").push(condition).push(") AND ");
            q.params.extend(params.iter().cloned());
        }
        q.push(&format!("{ALIAS}.{} = ", self.id_column)).bind(Value::Text(cursor.id.clone()));
    }

    /// `WITH edgewrite_cursor AS (SELECT <order values> AS k0, k1, … FROM t WHERE <cursor row>)`.
    fn cursor_cte(&self, cursor: &Cursor, scope: &Option<(&str, Vec<Value>)>, q: &mut Sql) {
        let keys: Vec<String> =
            self.order.iter().enumerate().map(|(i, o)| format!("{} AS k{i}", o.expr)).collect();
        q.push(&format!(
            "WITH {CURSOR_CTE} AS (SELECT {} FROM {} AS {ALIAS} WHERE ",
            keys.join(", "),
            self.table
        ));
        self.scoped_id(cursor, scope, q);
        q.push(" LIMIT 1) ");
    }

    /// Rows strictly after the cursor row in the order (reversed: strictly before), NULL-safe
    /// with NULL the smallest value as SQLite sorts it. A missing cursor row matches nothing.
    fn keyset(&self, reversed: bool, q: &mut Sql) {
        let key = |i: usize| format!("(SELECT k{i} FROM {CURSOR_CTE})");
        let mut alternatives = Vec::with_capacity(self.order.len());
        for (i, term) in self.order.iter().enumerate() {
            let mut parts: Vec<String> = self.order[..i]
                .iter()
                .enumerate()
                .map(|(j, o)| format!("{} IS {}", o.expr, key(j)))
                .collect();
            let (e, k) = (&term.expr, key(i));
            parts.push(if term.desc != reversed {
                format!("(({e} IS NULL AND {k} IS NOT NULL) OR {e} < {k})")
            } else {
                format!("(({k} IS NULL AND {e} IS NOT NULL) OR {e} > {k})")
            });
            alternatives.push(format!("({})", parts.join(" AND ")));
        }
        q.push(&format!("EXISTS (SELECT 1 FROM {CURSOR_CTE}) AND ({})", alternatives.join(" OR ")));
    }

    fn order_by(&self, reversed: bool) -> String {
        let terms: Vec<String> = self
            .order
            .iter()
            .map(|o| format!("{} {}", o.expr, if o.desc != reversed { "DESC" } else { "ASC" }))
            .collect();
        terms.join(", ")
    }

    fn page(&self, q: &mut Sql) {
        q.push(" LIMIT ").bind(Value::Integer(self.limit));
        q.push(" OFFSET ").bind(Value::Integer(self.offset));
    }
}

/// The `limit`/`offset` value: a JSON integer or an integer string, in `min..=max`.
fn integer(query: &Query, name: &str, min: i64, max: i64) -> Result<i64, AppwriteError> {
    let not_number = || invalid(format!("Invalid {name}: Value must be a valid number"));
    let out_of_range = || {
        invalid(format!(
            "Invalid {name}: Value must be a valid range between {} and {}",
            thousands(min),
            thousands(max)
        ))
    };
    let n = match query.values.first() {
        Some(Json::Number(n)) => n.as_i64().ok_or_else(out_of_range)?,
        Some(Json::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => return Err(out_of_range()),
            Err(_) => return Err(not_number()),
        },
        _ => return Err(not_number()),
    };
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(out_of_range())
    }
}

/// `5000` → `5,000`, as PHP's `number_format` in Appwrite's messages.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let groups: Vec<&str> =
        digits.as_bytes().rchunks(3).rev().map(|g| std::str::from_utf8(g).unwrap_or_default()).collect();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", groups.join(","))
}
