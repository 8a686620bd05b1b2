//! Appwrite list queries: the `queries[]` (and `search`) params of every list endpoint
//! (`appwrite-api.md` §2.2 "Queries"), parsed into [`Query`] values and planned into bound SQL
//! over a fixed [`Schema`].
//!
//! Each element of `queries[]` is the JSON the SDKs' `Query.*` helpers emit, e.g.
//! `{"method":"equal","attribute":"name","values":["a","b"]}`; `or`/`and` carry their sub-queries
//! as JSON objects (or JSON strings) in `values`. [`parse`] checks the shape only; [`plan`] checks
//! every query against the schema (attribute names, value types, arity) and builds SQL in which
//! column names come only from [`Field::column`] and every value is a bound parameter.
//!
//! Error messages follow Appwrite's validators, each wrapped by
//! [`AppwriteError::invalid_param`] as ``Invalid `queries` param: Invalid query: …``.
//!
//! ```
//! use edgewrite_core::query::{plan, Field, FieldKind, ListOptions, Schema};
//! const FIELDS: &[Field] = &[
//!     Field { attribute: "$id", column: "id", kind: FieldKind::Text },
//!     Field { attribute: "name", column: "name", kind: FieldKind::Text },
//! ];
//! let schema = Schema { table: "teams", id_column: "id", fields: FIELDS, search: Some("name"), fulltext: &[] };
//! let options = ListOptions {
//!     queries: vec![r#"{"method":"equal","attribute":"name","values":["Ops"]}"#.into()],
//!     search: None,
//!     total: true,
//! };
//! let plan = plan(&options, &schema, &Default::default()).unwrap();
//! let statement = plan.select("id, name", None);
//! assert!(!statement.sql.contains("Ops"));
//! ```

mod filter;
mod sql;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value as Json};

use crate::error::AppwriteError;

pub use sql::{plan, ListOptions, Page, Plan, COUNT_CAP, DEFAULT_LIMIT};

/// How a queryable attribute is stored, which decides the values a query may compare it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// TEXT; queried with JSON strings.
    Text,
    /// INTEGER; queried with JSON integers.
    Integer,
    /// REAL; queried with any JSON number.
    Float,
    /// INTEGER 0/1; queried with JSON booleans.
    Boolean,
    /// INTEGER unix milliseconds; queried with ISO-8601 strings ([`crate::time::ms_from_iso`]).
    Datetime,
    /// A JSON array of strings stored as TEXT; only `contains`, `containsAny`, `containsAll`,
    /// `notContains`, `isNull` and `isNotNull` apply (as for Appwrite's array attributes).
    TextArray,
    /// A JSON array of scalars stored as TEXT, queried like [`FieldKind::TextArray`] but with
    /// JSON strings, numbers or booleans (booleans as `0`/`1`, as SQLite's `json_each` reads
    /// `false`/`true`). An element matches a value of equal type and value: `1` matches `1` and
    /// `1.0`, not `"1"`.
    Array,
}

/// One queryable attribute: its API name and the SQL column holding it. Static schemas use
/// `Field<'static>`; schemas built at run time borrow their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The API name, e.g. `name`, `$createdAt`.
    pub attribute: &'a str,
    /// A column of [`Schema::table`], plain (`name`) or quoted (`"title"`); spliced into SQL
    /// after `edgewrite_t.`, so never unchecked user input.
    pub column: &'a str,
    pub kind: FieldKind,
}

/// What a list endpoint lets its queries touch.
///
/// `$sequence` (the table's `rowid`, i.e. insertion order) is always queryable and orderable
/// unless `fields` lists it, and `rowid` is every order's final tie-break. A table whose rowid
/// is aliased by an `INTEGER PRIMARY KEY` column works unchanged: `rowid` still names it (as
/// long as no column is itself called `rowid`).
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    /// A rowid table, or a parenthesised subquery exposing a `rowid` column (statements alias
    /// it `edgewrite_t`).
    pub table: &'a str,
    /// The column holding `$id`.
    pub id_column: &'a str,
    /// Every queryable attribute, including `$id`, `$createdAt` and `$updatedAt`.
    pub fields: &'a [Field<'a>],
    /// SQL expression the endpoint's `search` param matches; `None` = search not supported
    /// (neither the param nor `search`/`notSearch` queries), unless `fulltext` covers the attribute.
    pub search: Option<&'a str>,
    /// FTS5 tables by attribute, `(attribute, table)`: `search`/`notSearch` on such an
    /// attribute match the table (whose rowid is [`Schema::table`]'s rowid), anywhere in the
    /// query tree, `or`/`and` included.
    pub fulltext: &'a [(&'a str, &'a str)],
}

macro_rules! methods {
    ($($variant:ident = $name:literal,)*) => {
        /// Every method the SDKs can send. The SDK's `createdBefore/After/Between` and
        /// `updatedBefore/After/Between` are sugar for `lessThan`/`greaterThan`/`between` on
        /// `$createdAt`/`$updatedAt`; [`parse`] also accepts them as method names and desugars them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum QueryMethod {
            $($variant,)*
        }

        impl QueryMethod {
            /// The method name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(QueryMethod::$variant => $name,)*
                }
            }

            /// The method with this wire name.
            pub fn from_name(name: &str) -> Option<QueryMethod> {
                match name {
                    $($name => Some(QueryMethod::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

methods! {
    Equal = "equal",
    NotEqual = "notEqual",
    LessThan = "lessThan",
    LessThanEqual = "lessThanEqual",
    GreaterThan = "greaterThan",
    GreaterThanEqual = "greaterThanEqual",
    IsNull = "isNull",
    IsNotNull = "isNotNull",
    Between = "between",
    NotBetween = "notBetween",
    StartsWith = "startsWith",
    EndsWith = "endsWith",
    NotStartsWith = "notStartsWith",
    NotEndsWith = "notEndsWith",
    Contains = "contains",
    ContainsAny = "containsAny",
    ContainsAll = "containsAll",
    NotContains = "notContains",
    Search = "search",
    NotSearch = "notSearch",
    Regex = "regex",
    Exists = "exists",
    NotExists = "notExists",
    Select = "select",
    OrderAsc = "orderAsc",
    OrderDesc = "orderDesc",
    OrderRandom = "orderRandom",
    CursorAfter = "cursorAfter",
    CursorBefore = "cursorBefore",
    Limit = "limit",
    Offset = "offset",
    Or = "or",
    And = "and",
    ElemMatch = "elemMatch",
    DistanceEqual = "distanceEqual",
    DistanceNotEqual = "distanceNotEqual",
    DistanceGreaterThan = "distanceGreaterThan",
    DistanceLessThan = "distanceLessThan",
    Intersects = "intersects",
    NotIntersects = "notIntersects",
    Crosses = "crosses",
    NotCrosses = "notCrosses",
    Overlaps = "overlaps",
    NotOverlaps = "notOverlaps",
    Touches = "touches",
    NotTouches = "notTouches",
    VectorDot = "vectorDot",
    VectorCosine = "vectorCosine",
    VectorEuclidean = "vectorEuclidean",
}

impl QueryMethod {
    /// Filters narrow the rows; the rest (select, order, limit, offset, cursor) shape the page.
    pub fn is_filter(self) -> bool {
        !matches!(
            self,
            QueryMethod::Select
                | QueryMethod::OrderAsc
                | QueryMethod::OrderDesc
                | QueryMethod::OrderRandom
                | QueryMethod::CursorAfter
                | QueryMethod::CursorBefore
                | QueryMethod::Limit
                | QueryMethod::Offset
        )
    }

    /// Methods whose `values` are sub-queries.
    pub fn is_logical(self) -> bool {
        matches!(self, QueryMethod::Or | QueryMethod::And | QueryMethod::ElemMatch)
    }

    /// The name with its first letter upper-cased, as Appwrite's messages spell it (`NotEqual`).
    fn title(self) -> String {
        let name = self.as_str();
        let mut chars = name.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    }
}

/// One parsed query. For `or`/`and`/`elemMatch` the sub-queries are in `queries` and `values`
/// is empty; otherwise `queries` is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub method: QueryMethod,
    /// Empty when the SDK omits it (`limit`, `select`, `orderRandom`, …).
    pub attribute: String,
    pub values: Vec<Json>,
    pub queries: Vec<Query>,
}

/// Longest accepted query string, in characters (Appwrite: 4096).
pub const MAX_QUERY_CHARS: usize = 4096;
/// Deepest nesting of `or`/`and` accepted (Appwrite sets none; recursion needs one).
pub const MAX_DEPTH: usize = 5;

/// ``Invalid `queries` param: Invalid query: {description}``.
fn invalid(description: impl std::fmt::Display) -> AppwriteError {
    AppwriteError::invalid_param("queries", &format!("Invalid query: {description}"))
}

/// Parses one element of `queries[]`: checks the JSON shape and the method name, not the
/// schema (that is [`plan`]'s job).
///
/// ```
/// use edgewrite_core::query::{parse, QueryMethod};
/// let q = parse(r#"{"method":"limit","values":[25]}"#).unwrap();
/// assert_eq!(q.method, QueryMethod::Limit);
/// assert!(parse("limit(25)").is_err());
/// ```
pub fn parse(raw: &str) -> Result<Query, AppwriteError> {
    if raw.chars().count() > MAX_QUERY_CHARS {
        return Err(AppwriteError::invalid_param(
            "queries",
            &format!("Value must be a valid string and at most {MAX_QUERY_CHARS} chars"),
        ));
    }
    let json: Json = serde_json::from_str(raw).map_err(|_| invalid("Syntax error"))?;
    from_json(&json, 0)
}

/// `depth` counts the logical queries around this one.
fn from_json(json: &Json, depth: usize) -> Result<Query, AppwriteError> {
    let Json::Object(object) = json else {
        return Err(invalid(format!("Query must be a JSON object, got {}", json_type(json))));
    };
    let name = match object.get("method") {
        None | Some(Json::Null) => "",
        Some(Json::String(name)) => name,
        Some(other) => {
            return Err(invalid(format!("Invalid query method. Must be a string, got {}", json_type(other))))
        }
    };
    let mut attribute = match object.get("attribute") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(attribute)) => attribute.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "Invalid query attribute. Must be a string, got {}",
                json_type(other)
            )))
        }
    };
    let values = values_of(object)?;
    let method = match desugar(name) {
        Some((method, sugared)) => {
            attribute = sugared.to_string();
            method
        }
        None => QueryMethod::from_name(name)
            .ok_or_else(|| invalid(format!("Invalid query method: {}", truncate(name))))?,
    };
    if !method.is_logical() {
        return Ok(Query { method, attribute, values, queries: Vec::new() });
    }
    if depth + 1 > MAX_DEPTH {
        return Err(invalid(format!("Maximum depth of nested queries is {MAX_DEPTH}")));
    }
    let queries = values
        .iter()
        .map(|value| match value {
            // The SDK nests objects; older clients nest JSON strings.
            Json::String(raw) => {
                let nested: Json = serde_json::from_str(raw).map_err(|_| invalid("Syntax error"))?;
                from_json(&nested, depth + 1)
            }
            other => from_json(other, depth + 1),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Query { method, attribute, values: Vec::new(), queries })
}

fn values_of(object: &Map<String, Json>) -> Result<Vec<Json>, AppwriteError> {
    match object.get("values") {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(values)) => Ok(values.clone()),
        Some(other) => {
            Err(invalid(format!("Invalid query values. Must be an array, got {}", json_type(other))))
        }
    }
}

/// `createdBefore` … `updatedBetween` sent as method names.
fn desugar(name: &str) -> Option<(QueryMethod, &'static str)> {
    Some(match name {
        "createdBefore" => (QueryMethod::LessThan, "$createdAt"),
        "createdAfter" => (QueryMethod::GreaterThan, "$createdAt"),
        "createdBetween" => (QueryMethod::Between, "$createdAt"),
        "updatedBefore" => (QueryMethod::LessThan, "$updatedAt"),
        "updatedAfter" => (QueryMethod::GreaterThan, "$updatedAt"),
        "updatedBetween" => (QueryMethod::Between, "$updatedAt"),
        _ => return None,
    })
}

fn json_type(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Echoes at most 64 characters of client input back in a message.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
