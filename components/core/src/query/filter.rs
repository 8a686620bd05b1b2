//! Filters: one query checked against its attribute and rendered as a bound SQL condition.
//!
//! Multi-value lists (`equal` with several values, `contains` on arrays …) are bound as ONE
//! JSON-array parameter read back with `json_each(?)`, so a statement's parameter count stays
//! small whatever the value count: Durable Object SQLite binds at most 100 parameters.

use serde_json::Value as Json;

use super::{invalid, Field, FieldKind, Query, QueryMethod, Schema};
use crate::error::AppwriteError;
use crate::ports::Value;
use crate::time;

/// Most values one query may carry (`APP_DATABASE_QUERY_MAX_VALUES`).
const MAX_VALUES: usize = 500;
/// Terms of a search beyond this many are ignored.
const MAX_SEARCH_TERMS: usize = 20;
/// Alias of [`Schema::table`] in every statement, so the table may also be a parenthesised
/// subquery (which must expose a `rowid` column) and filters can qualify their columns.
pub(super) const ALIAS: &str = "edgewrite_t";
/// `$sequence`: the rowid, i.e. insertion order.
pub(super) const SEQUENCE: Field<'static> =
    Field { attribute: "$sequence", column: "rowid", kind: FieldKind::Integer };

/// SQL text with its positional parameters, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) params: Vec<Value>,
}

impl Sql {
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub(super) fn bind(&mut self, value: Value) -> &mut Self {
        self.text.push('?');
        self.params.push(value);
        self
    }

    pub(super) fn append(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params.iter().cloned());
        self
    }
}

/// Checks queries against one schema.
pub(super) struct Planner<'s, 'a> {
    pub(super) schema: &'s Schema<'a>,
}

impl<'a> Planner<'_, 'a> {
    pub(super) fn field(&self, attribute: &str) -> Result<Field<'a>, AppwriteError> {
        self.schema
            .fields
            .iter()
            .find(|f| f.attribute == attribute)
            .copied()
            .or_else(|| (attribute == SEQUENCE.attribute).then_some(SEQUENCE))
            .ok_or_else(|| invalid(format!("Attribute not found in schema: {}", super::truncate(attribute))))
    }

    /// An empty attribute (`orderDesc()`) orders by `$sequence`.
    pub(super) fn order_field(&self, attribute: &str) -> Result<Field<'a>, AppwriteError> {
        if attribute.is_empty() {
            Ok(SEQUENCE)
        } else {
            self.field(attribute)
        }
    }

    pub(super) fn column(&self, field: &Field) -> String {
        format!("{ALIAS}.{}", field.column)
    }

    pub(super) fn select(&self, query: &Query) -> Result<Vec<String>, AppwriteError> {
        if query.values.is_empty() {
            return Err(invalid("No attributes selected"));
        }
        let mut out: Vec<String> = Vec::with_capacity(query.values.len());
        for value in &query.values {
            let Json::String(attribute) = value else {
                return Err(invalid(format!(
                    "Attribute selection must be a string, got {}",
                    super::json_type(value)
                )));
            };
            if out.contains(attribute) {
                return Err(invalid("Duplicate attributes selected"));
            }
            if attribute != "*" {
                self.field(attribute)?;
            }
            out.push(attribute.clone());
        }
        Ok(out)
    }

    pub(super) fn filter(&self, query: &Query) -> Result<Sql, AppwriteError> {
        use QueryMethod as M;
        let method = query.method;
        match method {
            M::Or | M::And => {
                if query.queries.iter().any(|q| !q.method.is_filter()) {
                    return Err(invalid(format!(
                        "{} queries can only contain filter queries",
                        method.title()
                    )));
                }
                if query.queries.len() < 2 {
                    return Err(invalid(format!("{} queries require at least two queries", method.title())));
                }
                let joiner = if method == M::Or { " OR " } else { " AND " };
                let mut sql = Sql::default();
                sql.push("(");
                for (i, sub) in query.queries.iter().enumerate() {
                    if i > 0 {
                        sql.push(joiner);
                    }
                    sql.push("(").append(&self.filter(sub)?).push(")");
                }
                sql.push(")");
                Ok(sql)
            }
            M::ElemMatch => {
                self.field(&query.attribute)?;
                Err(invalid("elemMatch is not supported by the database"))
            }
            M::Regex | M::Exists | M::NotExists => {
                Err(invalid(format!("Query method not supported: {}", method.as_str())))
            }
            M::VectorDot | M::VectorCosine | M::VectorEuclidean => {
                self.field(&query.attribute)?;
                Err(invalid("Vector queries can only be used on vector attributes"))
            }
            M::DistanceEqual
            | M::DistanceNotEqual
            | M::DistanceGreaterThan
            | M::DistanceLessThan
            | M::Intersects
            | M::NotIntersects
            | M::Crosses
            | M::NotCrosses
            | M::Overlaps
            | M::NotOverlaps
            | M::Touches
            | M::NotTouches => {
                let field = self.field(&query.attribute)?;
                Err(invalid(format!(
                    "Spatial query \"{}\" cannot be applied on non-spatial attribute: {}",
                    method.as_str(),
                    field.attribute
                )))
            }
            _ => self.comparison(query),
        }
    }

    /// Every filter on one attribute.
    fn comparison(&self, query: &Query) -> Result<Sql, AppwriteError> {
        use QueryMethod as M;
        let method = query.method;
        let n = query.values.len();
        match method {
            M::Equal | M::Contains | M::ContainsAny | M::ContainsAll | M::NotContains if n == 0 => {
                return Err(invalid(format!("{} queries require at least one value.", method.title())));
            }
            M::Between | M::NotBetween if n != 2 => {
                return Err(invalid(format!("{} queries require exactly two values.", method.title())));
            }
            M::NotEqual
            | M::LessThan
            | M::LessThanEqual
            | M::GreaterThan
            | M::GreaterThanEqual
            | M::Search
            | M::NotSearch
            | M::StartsWith
            | M::NotStartsWith
            | M::EndsWith
            | M::NotEndsWith
                if n != 1 =>
            {
                return Err(invalid(format!("{} queries require exactly one value.", method.title())));
            }
            _ => {}
        }
        let field = self.field(&query.attribute)?;
        let attribute = field.attribute;
        if n > MAX_VALUES {
            return Err(invalid(format!(
                "Query on attribute has greater than {MAX_VALUES} values: {attribute}"
            )));
        }
        let contains = matches!(method, M::Contains | M::ContainsAny | M::ContainsAll | M::NotContains);
        let array = matches!(field.kind, FieldKind::TextArray | FieldKind::Array);
        if array && !contains && !matches!(method, M::IsNull | M::IsNotNull) {
            return Err(invalid(format!(
                "Cannot query {} on attribute \"{attribute}\" because it is an array.",
                method.as_str()
            )));
        }
        if contains && !array && field.kind != FieldKind::Text {
            let name = if method == M::NotContains { "notContains" } else { "contains" };
            return Err(invalid(format!(
                "Cannot query {name} on attribute \"{attribute}\" because it is not an array, string, or object."
            )));
        }
        let like = matches!(method, M::StartsWith | M::NotStartsWith | M::EndsWith | M::NotEndsWith);
        if like && field.kind != FieldKind::Text {
            return Err(invalid(format!(
                "Cannot query {} on attribute \"{attribute}\" because it is not a string.",
                method.as_str()
            )));
        }
        let fulltext = self.schema.fulltext.iter().find(|(a, _)| *a == attribute).map(|(_, table)| *table);
        if matches!(method, M::Search | M::NotSearch)
            && fulltext.is_none()
            && (self.schema.search.is_none() || field.kind != FieldKind::Text)
        {
            return Err(invalid(format!(
                "Searching by attribute \"{attribute}\" requires a fulltext index."
            )));
        }
        let values = if matches!(method, M::IsNull | M::IsNotNull) {
            Vec::new()
        } else {
            query
                .values
                .iter()
                .map(|v| convert(field.kind, v))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("Query value is invalid for attribute \"{attribute}\"")))?
        };
        let col = self.column(&field);
        let mut sql = Sql::default();
        let mut one = |op: &str| {
            sql.push(&format!("{col} {op} ")).bind(values[0].clone());
        };
        match method {
            M::Equal if n == 1 => one("="),
            M::Equal => {
                sql.push(&format!("{col} IN (SELECT value FROM json_each("))
                    .bind(json_array(&values))
                    .push("))");
            }
            M::NotEqual => one("!="),
            M::LessThan => one("<"),
            M::LessThanEqual => one("<="),
            M::GreaterThan => one(">"),
            M::GreaterThanEqual => one(">="),
            M::Between | M::NotBetween => {
                let not = if method == M::NotBetween { "NOT " } else { "" };
                sql.push(&format!("{col} {not}BETWEEN ")).bind(values[0].clone());
                sql.push(" AND ").bind(values[1].clone());
            }
            M::IsNull => {
                sql.push(&format!("{col} IS NULL"));
            }
            M::IsNotNull => {
                sql.push(&format!("{col} IS NOT NULL"));
            }
            M::StartsWith | M::NotStartsWith | M::EndsWith | M::NotEndsWith => {
                let text = escape_like(values[0].as_str().unwrap_or_default());
                let pattern = if matches!(method, M::StartsWith | M::NotStartsWith) {
                    format!("{text}%")
                } else {
                    format!("%{text}")
                };
                let not = if matches!(method, M::NotStartsWith | M::NotEndsWith) { "NOT " } else { "" };
                sql.push(&format!("{col} {not}LIKE ")).bind(Value::Text(pattern)).push(" ESCAPE '\\'");
            }
            M::Search | M::NotSearch => {
                let text = values[0].as_str().unwrap_or_default();
                let inner = match fulltext {
                    Some(table) => fts_search(table, text),
                    None => search(&col, text),
                };
                if method == M::NotSearch {
                    sql.push("NOT (").append(&inner).push(")");
                } else {
                    sql.append(&inner);
                }
            }
            _ if array => array_contains(method, &col, &values, &mut sql),
            _ => text_contains(method, &col, &values, &mut sql),
        }
        Ok(sql)
    }
}

/// `contains` & co. on a Text column: substring matches (`LIKE`, so ASCII case-insensitive like
/// Appwrite's MariaDB collation). Several values: any (`contains`, `containsAny`), all
/// (`containsAll`), none (`notContains`); NULL never matches, as in SQL.
fn text_contains(method: QueryMethod, col: &str, values: &[Value], sql: &mut Sql) {
    let patterns: Vec<Value> = values
        .iter()
        .map(|v| Value::Text(format!("%{}%", escape_like(v.as_str().unwrap_or_default()))))
        .collect();
    let not = method == QueryMethod::NotContains;
    if let [pattern] = patterns.as_slice() {
        let op = if not { "NOT LIKE" } else { "LIKE" };
        sql.push(&format!("{col} {op} ")).bind(pattern.clone()).push(" ESCAPE '\\'");
        return;
    }
    let (prefix, op) = match method {
        QueryMethod::ContainsAll => (format!("{col} IS NOT NULL AND NOT EXISTS"), "NOT LIKE"),
        QueryMethod::NotContains => (format!("{col} IS NOT NULL AND NOT EXISTS"), "LIKE"),
        _ => ("EXISTS".to_string(), "LIKE"),
    };
    sql.push(&format!("({prefix} (SELECT 1 FROM json_each("))
        .bind(json_array(&patterns))
        .push(&format!(") AS edgewrite_v WHERE {col} {op} edgewrite_v.value ESCAPE '\\'))"));
}

/// `contains` & co. on a JSON-array column ([`FieldKind::TextArray`], [`FieldKind::Array`]):
/// element equality against the values bound as one JSON array, so types must agree.
fn array_contains(method: QueryMethod, col: &str, values: &[Value], sql: &mut Sql) {
    let element_in = |sql: &mut Sql| {
        sql.push(&format!(
            "EXISTS (SELECT 1 FROM json_each({col}) AS edgewrite_e WHERE edgewrite_e.value IN (SELECT value FROM json_each("
        ))
        .bind(json_array(values))
        .push(")))");
    };
    match method {
        QueryMethod::NotContains => {
            sql.push(&format!("({col} IS NOT NULL AND NOT "));
            element_in(sql);
            sql.push(")");
        }
        QueryMethod::ContainsAll => {
            sql.push(&format!("({col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each("))
                .bind(json_array(values))
                .push(&format!(
                    ") AS edgewrite_v WHERE NOT EXISTS (SELECT 1 FROM json_each({col}) AS edgewrite_e WHERE edgewrite_e.value = edgewrite_v.value)))"
                ));
        }
        _ => element_in(sql),
    }
}

/// Every whitespace-separated term (at most 20) must occur in `expr`, ASCII case-insensitively.
/// No terms match everything.
pub(super) fn search(expr: &str, text: &str) -> Sql {
    let mut sql = Sql::default();
    let terms: Vec<&str> = text.split_whitespace().take(MAX_SEARCH_TERMS).collect();
    if terms.is_empty() {
        sql.push("1");
        return sql;
    }
    sql.push("(");
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            sql.push(" AND ");
        }
        sql.push(&format!("({expr}) LIKE "))
            .bind(Value::Text(format!("%{}%", escape_like(term))))
            .push(" ESCAPE '\\'");
    }
    sql.push(")");
    sql
}

/// `rowid` is among the rows of the FTS5 `table` matching any word of `text` as a prefix. Each
/// word (a run of letters and digits, as the FTS tokenizer sees it) is quoted, so nothing of
/// the input reaches the MATCH expression as syntax. No words match everything.
fn fts_search(table: &str, text: &str) -> Sql {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_SEARCH_TERMS)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    let mut sql = Sql::default();
    if words.is_empty() {
        sql.push("1");
    } else {
        sql.push(&format!("{ALIAS}.rowid IN (SELECT rowid FROM {table} WHERE {table} MATCH "))
            .bind(Value::Text(words.join(" OR ")))
            .push(")");
    }
    sql
}

/// A JSON value checked against a field kind and converted to how it is stored.
fn convert(kind: FieldKind, value: &Json) -> Option<Value> {
    match (kind, value) {
        (FieldKind::Text | FieldKind::TextArray, Json::String(s)) => Some(Value::Text(s.clone())),
        (FieldKind::Integer, Json::Number(n)) => n.as_i64().map(Value::Integer),
        (FieldKind::Float, Json::Number(n)) => n.as_i64().map(Value::Integer).or(n.as_f64().map(Value::Real)),
        (FieldKind::Boolean, Json::Bool(b)) => Some(Value::Integer(i64::from(*b))),
        (FieldKind::Datetime, Json::String(s)) => time::ms_from_iso(s).map(Value::Integer),
        (FieldKind::Array, Json::String(s)) => Some(Value::Text(s.clone())),
        (FieldKind::Array, Json::Number(n)) => n.as_i64().map(Value::Integer).or(n.as_f64().map(Value::Real)),
        (FieldKind::Array, Json::Bool(b)) => Some(Value::Integer(i64::from(*b))),
        _ => None,
    }
}

/// Several values as one JSON-array parameter, for `json_each(?)`.
fn json_array(values: &[Value]) -> Value {
    let items: Vec<Json> = values
        .iter()
        .map(|v| match v {
            Value::Integer(i) => Json::from(*i),
            Value::Real(f) => Json::from(*f),
            Value::Text(s) => Json::from(s.as_str()),
            Value::Null | Value::Blob(_) => Json::Null,
        })
        .collect();
    Value::Text(Json::Array(items).to_string())
}

/// Makes `%`, `_` and `\` literal in a `LIKE … ESCAPE '\'` pattern.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
