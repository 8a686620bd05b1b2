//! Update operators (`appwrite-api.md` §2.3): an attribute value in an update's `data` that is
//! the JSON text of `{"method": …, "values": […]}` (the SDKs' `Operator.*` helpers) changes the
//! stored value in SQL, atomically, instead of replacing it: `increment`, `arrayAppend`,
//! `stringConcat`, `toggle`, `dateAddDays` and the rest.
//!
//! A result the attribute could not hold (past its `min`/`max` or the operator's own bound,
//! or a string past its `size`) leaves the value unchanged, as Appwrite's bounded operators do.

use serde_json::{json, Value as Json};

use crate::attributes::check_value;
use crate::meta::{Attribute, Kind};

/// One operator, as SQL: `expr` computes the new value from `{col}` (the column) and `{0}`,
/// `{1}`, … (the `args`, bound as one JSON parameter by the caller).
#[derive(Debug, Clone)]
pub struct Op {
    pub expr: String,
    pub args: Vec<Json>,
}

const METHODS: &[&str] = &[
    "increment",
    "decrement",
    "multiply",
    "divide",
    "modulo",
    "power",
    "arrayAppend",
    "arrayPrepend",
    "arrayInsert",
    "arrayRemove",
    "arrayUnique",
    "arrayIntersect",
    "arrayDiff",
    "arrayFilter",
    "stringConcat",
    "stringReplace",
    "toggle",
    "dateAddDays",
    "dateSubDays",
    "dateSetNow",
];

/// The operator `value` stands for, if it is one: `Ok(None)` for a plain value, `Err` with the
/// structure error's detail for an operator this attribute cannot take.
pub fn parse(attr: &Attribute, value: &Json, now: i64) -> Result<Option<Op>, String> {
    let Some(text) = value.as_str().filter(|t| t.starts_with('{')) else { return Ok(None) };
    let Ok(Json::Object(object)) = serde_json::from_str::<Json>(text) else { return Ok(None) };
    let Some(method) = object.get("method").and_then(Json::as_str).filter(|m| METHODS.contains(m)) else {
        return Ok(None);
    };
    let values = object.get("values").and_then(Json::as_array).cloned().unwrap_or_default();
    let key = &attr.key;
    let unfit = || format!("Operator \"{method}\" cannot be applied to attribute \"{key}\"");
    let number = |i: usize| -> Result<Option<Json>, String> {
        match values.get(i) {
            None | Some(Json::Null) => Ok(None),
            Some(v) if v.is_number() => Ok(Some(v.clone())),
            Some(_) => Err(format!("Operator \"{method}\" takes numbers")),
        }
    };
    // Array elements are checked (and stored) as the attribute's values are.
    let element = |v: &Json| -> Result<Json, String> {
        let checked = check_value(attr, v)?;
        Ok(if v.is_boolean() { v.clone() } else { checked })
    };
    let kind = attr.kind();
    let numeric = !attr.array && matches!(kind, Kind::Integer | Kind::Float);
    let op = |expr: String, args: Vec<Json>| Ok(Some(Op { expr, args }));
    match method {
        "increment" | "decrement" | "multiply" | "divide" | "modulo" if numeric => {
            let by = number(0)?.unwrap_or(json!(1));
            if matches!(method, "divide" | "modulo") && by.as_f64() == Some(0.0) {
                return Err(format!("Operator \"{method}\" cannot divide by zero"));
            }
            let bound = if method == "modulo" { None } else { number(1)? };
            let n = "coalesce({col}, 0)";
            let result = match method {
                "increment" => format!("{n} + {{0}}"),
                "decrement" => format!("{n} - {{0}}"),
                "multiply" => format!("{n} * {{0}}"),
                "divide" => format!("{n} / {{0}}"),
                _ => format!("{n} % {{0}}"),
            };
            // The operator's bound caps in its direction; the attribute's own bounds always hold.
            let (op_bound, cmp) =
                if matches!(method, "decrement" | "divide") { ("{1}", ">=") } else { ("{1}", "<=") };
            let mut checks = vec![format!("r IS NOT NULL")];
            if bound.is_some() {
                checks.push(format!("r {cmp} {op_bound}"));
            }
            let min = attr.options.get("min").cloned().unwrap_or(Json::Null);
            let max = attr.options.get("max").cloned().unwrap_or(Json::Null);
            if !min.is_null() {
                checks.push("r >= {2}".into());
            }
            if !max.is_null() {
                checks.push("r <= {3}".into());
            }
            let cast = if kind == Kind::Integer { "CAST(r AS INTEGER)" } else { "r" };
            op(
                format!(
                    "(SELECT CASE WHEN {} THEN {cast} ELSE {{col}} END FROM (SELECT {result} AS r))",
                    checks.join(" AND ")
                ),
                vec![by, bound.unwrap_or(Json::Null), min, max],
            )
        }
        "power" => Err(format!("Operator \"power\" is not supported; attribute \"{key}\" is unchanged")),
        "stringConcat" | "stringReplace" if !attr.array && kind == Kind::String => {
            let text = |i: usize| values.get(i).and_then(Json::as_str).map(|s| json!(s)).ok_or_else(unfit);
            let result = if method == "stringConcat" {
                "coalesce({col}, '') || {0}"
            } else {
                "replace(coalesce({col}, ''), {0}, {1})"
            };
            let args = if method == "stringConcat" { vec![text(0)?] } else { vec![text(0)?, text(1)?] };
            let size = if attr.format.is_empty() { attr.size } else { i64::MAX };
            op(
                format!("(SELECT CASE WHEN length(r) <= {size} THEN r ELSE {{col}} END FROM (SELECT {result} AS r))"),
                args,
            )
        }
        "toggle" if !attr.array && kind == Kind::Boolean => {
            op("CASE WHEN coalesce({col}, 0) = 0 THEN 1 ELSE 0 END".into(), vec![])
        }
        "dateAddDays" | "dateSubDays" if !attr.array && kind == Kind::Datetime => {
            let days = number(0)?.and_then(|d| d.as_i64()).ok_or_else(unfit)?;
            let sign = if method == "dateAddDays" { 1 } else { -1 };
            op("{col} + {0}".into(), vec![json!(sign * days * 86_400_000)])
        }
        "dateSetNow" if !attr.array && kind == Kind::Datetime => op("{0}".into(), vec![json!(now)]),
        m if m.starts_with("array") && attr.array => array(method, &values, &element).map(Some),
        _ => Err(unfit()),
    }
}

/// A `json_each` row aliased `e`, as the columns `rebuild` reads: its JSON type and value.
const ELEMENT: &str = "e.type AS t, e.value AS val";

fn array(
    method: &str,
    values: &[Json],
    element: &dyn Fn(&Json) -> Result<Json, String>,
) -> Result<Op, String> {
    let list = |items: &[Json]| -> Result<Json, String> {
        Ok(Json::Array(items.iter().map(element).collect::<Result<Vec<_>, _>>()?))
    };
    let current = "json_each(coalesce({col}, '[]')) e";
    // Rebuilds the array from `rows` (selecting `t`, `val` and the order `o`); JSON is made in
    // the aggregate itself, so booleans stay booleans.
    let rebuild = |rows: String| {
        format!(
            "(SELECT json_group_array(CASE t WHEN 'true' THEN json('true') WHEN 'false' THEN json('false') ELSE val END ORDER BY o) FROM ({rows}))"
        )
    };
    let (expr, args) = match method {
        "arrayAppend" | "arrayPrepend" => {
            let (mine, theirs) = if method == "arrayAppend" { (0, 1) } else { (1, 0) };
            (
                rebuild(format!(
                    "SELECT {ELEMENT}, {mine} * 1000000 + e.key AS o FROM {current}
                     UNION ALL SELECT {ELEMENT}, {theirs} * 1000000 + e.key AS o FROM json_each({{0}}) e"
                )),
                vec![list(values)?],
            )
        }
        "arrayInsert" => {
            let index = values
                .first()
                .and_then(Json::as_i64)
                .filter(|i| *i >= 0)
                .ok_or("arrayInsert takes an index")?;
            let value = element(values.get(1).unwrap_or(&Json::Null))?;
            (
                rebuild(format!(
                    "SELECT {ELEMENT}, CASE WHEN e.key < {{0}} THEN e.key * 2 ELSE e.key * 2 + 2 END AS o FROM {current}
                     UNION ALL SELECT {ELEMENT}, {{0}} * 2 + 1 AS o FROM json_each({{1}}) e"
                )),
                vec![json!(index), json!([value])],
            )
        }
        "arrayRemove" => {
            let value = element(values.first().unwrap_or(&Json::Null))?;
            (
                rebuild(format!("SELECT {ELEMENT}, e.key AS o FROM {current} WHERE e.value IS NOT {{0}}")),
                vec![value],
            )
        }
        "arrayUnique" => (
            rebuild(format!("SELECT {ELEMENT}, min(e.key) AS o FROM {current} GROUP BY e.type, e.value")),
            vec![],
        ),
        "arrayIntersect" | "arrayDiff" => {
            let not = if method == "arrayDiff" { "NOT " } else { "" };
            (
                rebuild(format!(
                    "SELECT {ELEMENT}, e.key AS o FROM {current} WHERE e.value {not}IN (SELECT value FROM json_each({{0}}))"
                )),
                vec![list(values)?],
            )
        }
        "arrayFilter" => {
            let condition = values.first().and_then(Json::as_str).unwrap_or_default();
            let test = match condition {
                "isNull" => "e.value IS NULL",
                "isNotNull" => "e.value IS NOT NULL",
                "equal" => "e.value = {0}",
                "notEqual" => "e.value != {0}",
                "greaterThan" => "e.value > {0}",
                "greaterThanEqual" => "e.value >= {0}",
                "lessThan" => "e.value < {0}",
                "lessThanEqual" => "e.value <= {0}",
                "contains" => "instr(e.value, {0}) > 0",
                _ => return Err(format!("arrayFilter condition \"{condition}\" is not one of Appwrite's")),
            };
            let value = match values.get(1) {
                Some(Json::Bool(b)) => json!(i64::from(*b)),
                Some(v) => v.clone(),
                None => Json::Null,
            };
            (rebuild(format!("SELECT {ELEMENT}, e.key AS o FROM {current} WHERE {test}")), vec![value])
        }
        _ => return Err(format!("Unknown array operator \"{method}\"")),
    };
    Ok(Op { expr, args })
}
