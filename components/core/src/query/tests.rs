use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::ports::Value;
use crate::Limits;

const FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "age", column: "age", kind: FieldKind::Integer },
    Field { attribute: "score", column: "score", kind: FieldKind::Float },
    Field { attribute: "active", column: "active", kind: FieldKind::Boolean },
    Field { attribute: "labels", column: "labels", kind: FieldKind::TextArray },
    Field { attribute: "tags", column: "tags", kind: FieldKind::Array },
];

fn schema() -> Schema<'static> {
    Schema { table: "people", id_column: "id", fields: FIELDS, search: Some("name"), fulltext: &[] }
}

fn options(queries: &[&str]) -> ListOptions {
    ListOptions { queries: queries.iter().map(|q| q.to_string()).collect(), search: None, total: true }
}

fn plan_of(queries: &[&str]) -> Result<Plan, AppwriteError> {
    plan(&options(queries), &schema(), &Limits::default())
}

/// The description after ``Invalid `queries` param: ``.
fn error_of(queries: &[&str]) -> String {
    let err = plan_of(queries).expect_err("query should be refused");
    assert_eq!(err.kind, crate::ErrorType::GeneralArgumentInvalid);
    err.message.strip_prefix("Invalid `queries` param: ").expect("queries param message").to_string()
}

#[test]
fn parses_what_the_sdk_sends_for_every_method() {
    use QueryMethod as M;
    // Exactly as node-appwrite's `Query.*(…)` serialises them.
    let cases: &[(&str, QueryMethod, &str, usize)] = &[
        (r#"{"method":"equal","attribute":"name","values":["a","b"]}"#, M::Equal, "name", 2),
        (r#"{"method":"notEqual","attribute":"name","values":["a"]}"#, M::NotEqual, "name", 1),
        (r#"{"method":"regex","attribute":"name","values":["^a"]}"#, M::Regex, "name", 1),
        (r#"{"method":"lessThan","attribute":"age","values":[5]}"#, M::LessThan, "age", 1),
        (r#"{"method":"lessThanEqual","attribute":"age","values":[5]}"#, M::LessThanEqual, "age", 1),
        (r#"{"method":"greaterThan","attribute":"age","values":[5]}"#, M::GreaterThan, "age", 1),
        (r#"{"method":"greaterThanEqual","attribute":"age","values":[5]}"#, M::GreaterThanEqual, "age", 1),
        (r#"{"method":"isNull","attribute":"name"}"#, M::IsNull, "name", 0),
        (r#"{"method":"isNotNull","attribute":"name"}"#, M::IsNotNull, "name", 0),
        (r#"{"method":"exists","values":["a","b"]}"#, M::Exists, "", 2),
        (r#"{"method":"notExists","values":["a"]}"#, M::NotExists, "", 1),
        (r#"{"method":"between","attribute":"age","values":[1,9]}"#, M::Between, "age", 2),
        (r#"{"method":"notBetween","attribute":"age","values":[1,9]}"#, M::NotBetween, "age", 2),
        (r#"{"method":"startsWith","attribute":"name","values":["a"]}"#, M::StartsWith, "name", 1),
        (r#"{"method":"endsWith","attribute":"name","values":["a"]}"#, M::EndsWith, "name", 1),
        (r#"{"method":"notStartsWith","attribute":"name","values":["a"]}"#, M::NotStartsWith, "name", 1),
        (r#"{"method":"notEndsWith","attribute":"name","values":["a"]}"#, M::NotEndsWith, "name", 1),
        (r#"{"method":"select","values":["name","age"]}"#, M::Select, "", 2),
        (r#"{"method":"search","attribute":"name","values":["hi"]}"#, M::Search, "name", 1),
        (r#"{"method":"notSearch","attribute":"name","values":["hi"]}"#, M::NotSearch, "name", 1),
        (r#"{"method":"orderDesc","attribute":"age"}"#, M::OrderDesc, "age", 0),
        (r#"{"method":"orderAsc","attribute":"age"}"#, M::OrderAsc, "age", 0),
        (r#"{"method":"orderRandom"}"#, M::OrderRandom, "", 0),
        (r#"{"method":"cursorAfter","values":["p1"]}"#, M::CursorAfter, "", 1),
        (r#"{"method":"cursorBefore","values":["p1"]}"#, M::CursorBefore, "", 1),
        (r#"{"method":"limit","values":[10]}"#, M::Limit, "", 1),
        (r#"{"method":"offset","values":[10]}"#, M::Offset, "", 1),
        (r#"{"method":"contains","attribute":"labels","values":["x"]}"#, M::Contains, "labels", 1),
        (r#"{"method":"containsAny","attribute":"labels","values":["x","y"]}"#, M::ContainsAny, "labels", 2),
        (r#"{"method":"containsAll","attribute":"labels","values":["x","y"]}"#, M::ContainsAll, "labels", 2),
        (r#"{"method":"notContains","attribute":"labels","values":["x"]}"#, M::NotContains, "labels", 1),
        (
            r#"{"method":"distanceLessThan","attribute":"loc","values":[[[1,2],1000,true]]}"#,
            M::DistanceLessThan,
            "loc",
            1,
        ),
        (
            r#"{"method":"distanceEqual","attribute":"loc","values":[[[1,2],5,true]]}"#,
            M::DistanceEqual,
            "loc",
            1,
        ),
        (r#"{"method":"intersects","attribute":"loc","values":[[1,2]]}"#, M::Intersects, "loc", 1),
        (r#"{"method":"notTouches","attribute":"loc","values":[[1,2]]}"#, M::NotTouches, "loc", 1),
        (r#"{"method":"vectorCosine","attribute":"emb","values":[[0.1,0.2]]}"#, M::VectorCosine, "emb", 1),
    ];
    for (raw, method, attribute, values) in cases {
        let q = parse(raw).unwrap_or_else(|e| panic!("{raw}: {}", e.message));
        assert_eq!((q.method, q.attribute.as_str(), q.values.len()), (*method, *attribute, *values), "{raw}");
        assert_eq!(QueryMethod::from_name(method.as_str()), Some(*method));
    }
}

#[test]
fn parses_nested_logical_queries_as_objects_or_strings() {
    let q = parse(
        r#"{"method":"or","values":[{"method":"equal","attribute":"name","values":["a"]},"{\"method\":\"and\",\"values\":[{\"method\":\"isNull\",\"attribute\":\"age\"},{\"method\":\"isNotNull\",\"attribute\":\"name\"}]}"]}"#,
    )
    .unwrap();
    assert_eq!(q.method, QueryMethod::Or);
    assert!(q.values.is_empty());
    assert_eq!(q.queries.len(), 2);
    assert_eq!(q.queries[1].method, QueryMethod::And);
    assert_eq!(q.queries[1].queries[0].method, QueryMethod::IsNull);
    let elem = parse(r#"{"method":"elemMatch","attribute":"items","values":[{"method":"equal","attribute":"a","values":[1]}]}"#).unwrap();
    assert_eq!((elem.method, elem.queries.len()), (QueryMethod::ElemMatch, 1));
}

#[test]
fn created_and_updated_sugar_becomes_comparisons() {
    let q = parse(r#"{"method":"createdBefore","values":["2026-01-01"]}"#).unwrap();
    assert_eq!((q.method, q.attribute.as_str()), (QueryMethod::LessThan, "$createdAt"));
    let q = parse(r#"{"method":"updatedBetween","values":["2026-01-01","2026-02-01"]}"#).unwrap();
    assert_eq!((q.method, q.attribute.as_str()), (QueryMethod::Between, "$updatedAt"));
    // What the current SDK actually sends for createdAfter(...).
    assert!(plan_of(&[
        r#"{"method":"greaterThan","attribute":"$createdAt","values":["2026-01-01T00:00:00.000+00:00"]}"#
    ])
    .is_ok());
    assert!(
        plan_of(&[r#"{"method":"createdBetween","values":["2026-01-01","2026-01-02T00:00:00Z"]}"#]).is_ok()
    );
}

#[test]
fn refuses_malformed_queries_with_appwrite_messages() {
    let deep = (0..6).fold(r#"{"method":"isNull","attribute":"name"}"#.to_string(), |inner, _| {
        format!(r#"{{"method":"or","values":[{inner},{{"method":"isNull","attribute":"age"}}]}}"#)
    });
    let long = format!(r#"{{"method":"equal","attribute":"name","values":["{}"]}}"#, "x".repeat(4096));
    let cases: &[(&str, &str)] = &[
        ("limit(25)", "Invalid query: Syntax error"),
        ("", "Invalid query: Syntax error"),
        ("[]", "Invalid query: Query must be a JSON object, got array"),
        (r#"{"method":"foo"}"#, "Invalid query: Invalid query method: foo"),
        (r#"{"attribute":"name"}"#, "Invalid query: Invalid query method: "),
        (r#"{"method":1}"#, "Invalid query: Invalid query method. Must be a string, got number"),
        (
            r#"{"method":"isNull","attribute":[]}"#,
            "Invalid query: Invalid query attribute. Must be a string, got array",
        ),
        (
            r#"{"method":"equal","attribute":"name","values":"a"}"#,
            "Invalid query: Invalid query values. Must be an array, got string",
        ),
        (r#"{"method":"or","values":[1,2]}"#, "Invalid query: Query must be a JSON object, got number"),
        (r#"{"method":"or","values":["nope",{}]}"#, "Invalid query: Syntax error"),
        (&deep, "Invalid query: Maximum depth of nested queries is 5"),
        (&long, "Value must be a valid string and at most 4096 chars"),
    ];
    for (raw, message) in cases {
        let err = parse(raw).expect_err(raw);
        assert_eq!(err.message, format!("Invalid `queries` param: {message}"), "{raw}");
        assert_eq!(err.kind, crate::ErrorType::GeneralArgumentInvalid);
    }
    let five_deep = (0..5).fold(r#"{"method":"isNull","attribute":"name"}"#.to_string(), |inner, _| {
        format!(r#"{{"method":"and","values":[{inner},{{"method":"isNull","attribute":"age"}}]}}"#)
    });
    assert!(plan_of(&[&five_deep]).is_ok());
}

#[test]
fn refuses_queries_the_schema_does_not_allow() {
    let cases: &[(&str, &str)] = &[
        (r#"{"method":"equal","attribute":"password","values":["x"]}"#, "Invalid query: Attribute not found in schema: password"),
        (r#"{"method":"orderAsc","attribute":"nope"}"#, "Invalid query: Attribute not found in schema: nope"),
        (r#"{"method":"select","values":["name","nope"]}"#, "Invalid query: Attribute not found in schema: nope"),
        (r#"{"method":"select","values":[]}"#, "Invalid query: No attributes selected"),
        (r#"{"method":"select","values":[1]}"#, "Invalid query: Attribute selection must be a string, got number"),
        (r#"{"method":"select","values":["name","name"]}"#, "Invalid query: Duplicate attributes selected"),
        (r#"{"method":"equal","attribute":"name","values":[]}"#, "Invalid query: Equal queries require at least one value."),
        (r#"{"method":"notEqual","attribute":"name","values":["a","b"]}"#, "Invalid query: NotEqual queries require exactly one value."),
        (r#"{"method":"lessThan","attribute":"age","values":[]}"#, "Invalid query: LessThan queries require exactly one value."),
        (r#"{"method":"between","attribute":"age","values":[1]}"#, "Invalid query: Between queries require exactly two values."),
        (r#"{"method":"notBetween","attribute":"age","values":[1,2,3]}"#, "Invalid query: NotBetween queries require exactly two values."),
        (r#"{"method":"equal","attribute":"age","values":["5"]}"#, "Invalid query: Query value is invalid for attribute \"age\""),
        (r#"{"method":"equal","attribute":"age","values":[5.5]}"#, "Invalid query: Query value is invalid for attribute \"age\""),
        (r#"{"method":"equal","attribute":"name","values":[null]}"#, "Invalid query: Query value is invalid for attribute \"name\""),
        (r#"{"method":"equal","attribute":"score","values":[true]}"#, "Invalid query: Query value is invalid for attribute \"score\""),
        (r#"{"method":"equal","attribute":"active","values":[1]}"#, "Invalid query: Query value is invalid for attribute \"active\""),
        (r#"{"method":"lessThan","attribute":"$createdAt","values":["soon"]}"#, "Invalid query: Query value is invalid for attribute \"$createdAt\""),
        (r#"{"method":"equal","attribute":"labels","values":["x"]}"#, "Invalid query: Cannot query equal on attribute \"labels\" because it is an array."),
        (r#"{"method":"equal","attribute":"tags","values":[1]}"#, "Invalid query: Cannot query equal on attribute \"tags\" because it is an array."),
        (r#"{"method":"startsWith","attribute":"tags","values":["a"]}"#, "Invalid query: Cannot query startsWith on attribute \"tags\" because it is an array."),
        (r#"{"method":"contains","attribute":"tags","values":[null]}"#, "Invalid query: Query value is invalid for attribute \"tags\""),
        (r#"{"method":"contains","attribute":"tags","values":[[1]]}"#, "Invalid query: Query value is invalid for attribute \"tags\""),
        (r#"{"method":"contains","attribute":"labels","values":[1]}"#, "Invalid query: Query value is invalid for attribute \"labels\""),
        (r#"{"method":"contains","attribute":"age","values":[1]}"#, "Invalid query: Cannot query contains on attribute \"age\" because it is not an array, string, or object."),
        (r#"{"method":"notContains","attribute":"age","values":[1]}"#, "Invalid query: Cannot query notContains on attribute \"age\" because it is not an array, string, or object."),
        (r#"{"method":"startsWith","attribute":"age","values":[1]}"#, "Invalid query: Cannot query startsWith on attribute \"age\" because it is not a string."),
        (r#"{"method":"search","attribute":"age","values":["1"]}"#, "Invalid query: Searching by attribute \"age\" requires a fulltext index."),
        (r#"{"method":"limit","values":[0]}"#, "Invalid query: Invalid limit: Value must be a valid range between 1 and 5,000"),
        (r#"{"method":"limit","values":[5001]}"#, "Invalid query: Invalid limit: Value must be a valid range between 1 and 5,000"),
        (r#"{"method":"limit","values":[2.5]}"#, "Invalid query: Invalid limit: Value must be a valid range between 1 and 5,000"),
        (r#"{"method":"limit","values":["ten"]}"#, "Invalid query: Invalid limit: Value must be a valid number"),
        (r#"{"method":"limit"}"#, "Invalid query: Invalid limit: Value must be a valid number"),
        (r#"{"method":"offset","values":[-1]}"#, "Invalid query: Invalid offset: Value must be a valid range between 0 and 9,223,372,036,854,775,807"),
        (r#"{"method":"cursorAfter","values":[]}"#, "Invalid query: Invalid cursor: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char"),
        (r#"{"method":"cursorBefore","values":["_x"]}"#, "Invalid query: Invalid cursor: Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char"),
        (r#"{"method":"or","values":[{"method":"limit","values":[1]},{"method":"isNull","attribute":"name"}]}"#, "Invalid query: Or queries can only contain filter queries"),
        (r#"{"method":"and","values":[{"method":"isNull","attribute":"name"}]}"#, "Invalid query: And queries require at least two queries"),
        (r#"{"method":"or","values":[{"method":"isNull","attribute":"x"},{"method":"isNull","attribute":"name"}]}"#, "Invalid query: Attribute not found in schema: x"),
        (r#"{"method":"elemMatch","attribute":"labels","values":[{"method":"equal","attribute":"a","values":[1]}]}"#, "Invalid query: elemMatch is not supported by the database"),
        (r#"{"method":"regex","attribute":"name","values":["^a"]}"#, "Invalid query: Query method not supported: regex"),
        (r#"{"method":"exists","values":["name"]}"#, "Invalid query: Query method not supported: exists"),
        (r#"{"method":"intersects","attribute":"name","values":[[1,2]]}"#, "Invalid query: Spatial query \"intersects\" cannot be applied on non-spatial attribute: name"),
        (r#"{"method":"distanceLessThan","attribute":"loc","values":[[[1,2],1000,true]]}"#, "Invalid query: Attribute not found in schema: loc"),
        (r#"{"method":"vectorDot","attribute":"score","values":[[0.1]]}"#, "Invalid query: Vector queries can only be used on vector attributes"),
    ];
    for (raw, message) in cases {
        assert_eq!(error_of(&[raw]), *message, "{raw}");
    }
    let many: Vec<String> = (0..501).map(|i| format!("n{i}")).collect();
    let too_many = json!({"method": "equal", "attribute": "name", "values": many}).to_string();
    assert!(too_many.len() < 4096);
    assert_eq!(error_of(&[&too_many]), "Invalid query: Query on attribute has greater than 500 values: name");
    assert_eq!(
        error_of(&[r#"{"method":"orderRandom"}"#, r#"{"method":"cursorAfter","values":["p1"]}"#]),
        "Invalid query: Cursor queries cannot be used with orderRandom"
    );
    let hundred_and_one = vec![r#"{"method":"limit","values":[1]}"#; 101];
    assert_eq!(
        error_of(&hundred_and_one),
        "Value must a valid array no longer than 100 items and Value must be a valid string and at most 4096 chars"
    );
}

#[test]
fn search_needs_a_search_expression() {
    let no_search = Schema { search: None, ..schema() };
    let q = [r#"{"method":"search","attribute":"name","values":["a"]}"#];
    let err = plan(&options(&q), &no_search, &Limits::default()).unwrap_err();
    assert!(err.message.ends_with("Searching by attribute \"name\" requires a fulltext index."));
    let with_param = ListOptions { search: Some("bob".into()), ..options(&[]) };
    let err = plan(&with_param, &no_search, &Limits::default()).unwrap_err();
    assert_eq!(err.message, "Invalid `search` param: Search is not supported here");
    let blank = ListOptions { search: Some("  ".into()), ..options(&[]) };
    assert!(plan(&blank, &no_search, &Limits::default()).is_ok());
}

#[test]
fn values_are_always_bound_never_spliced() {
    let hostile = "x' OR 1=1 --";
    let h = serde_json::to_string(hostile).unwrap();
    let queries: Vec<String> = [
        "equal", "notEqual", "lessThan", "greaterThanEqual", "startsWith", "endsWith", "notStartsWith", "contains",
        "notContains", "search", "notSearch",
    ]
    .iter()
    .map(|m| format!(r#"{{"method":"{m}","attribute":"name","values":[{h}]}}"#))
    .chain([
        format!(r#"{{"method":"equal","attribute":"name","values":[{h},{h}]}}"#),
        format!(r#"{{"method":"containsAll","attribute":"name","values":[{h},"b"]}}"#),
        format!(r#"{{"method":"containsAny","attribute":"labels","values":[{h}]}}"#),
        format!(r#"{{"method":"containsAll","attribute":"labels","values":[{h}]}}"#),
        format!(r#"{{"method":"between","attribute":"name","values":[{h},{h}]}}"#),
        format!(r#"{{"method":"or","values":[{{"method":"equal","attribute":"$id","values":[{h}]}},{{"method":"isNull","attribute":"name"}}]}}"#),
        r#"{"method":"cursorBefore","values":["p1"]}"#.to_string(),
    ])
    .collect();
    let options = ListOptions { queries, search: Some(hostile.into()), total: true };
    let plan = plan(&options, &schema(), &Limits::default()).unwrap();
    let statements = [
        plan.select("id", Some(("team = ?", vec![Value::from("t")]))),
        plan.count(None).unwrap(),
        plan.cursor_check(None).unwrap(),
    ];
    for statement in statements {
        assert!(!statement.sql.contains("1=1"), "{}", statement.sql);
        assert!(!statement.sql.contains("x'"), "{}", statement.sql);
        assert_eq!(statement.sql.matches('?').count(), statement.params.len(), "{}", statement.sql);
    }
    let select = plan.select("id", None);
    assert!(select.params.iter().any(|p| p.as_str().is_some_and(|s| s.contains("1=1"))));
}

#[test]
fn plans_the_default_page() {
    let plan = plan_of(&[]).unwrap();
    let s = plan.select("id", None);
    assert_eq!(
        s.sql,
        "SELECT id FROM people AS edgewrite_t WHERE 1 ORDER BY edgewrite_t.rowid ASC LIMIT ? OFFSET ?"
    );
    assert_eq!(s.params, vec![Value::Integer(25), Value::Integer(0)]);
    let count = plan.count(Some(("team = ?", vec!["t1".into()]))).unwrap();
    assert_eq!(
        count.sql,
        "SELECT COUNT(*) AS total FROM (SELECT 1 FROM people AS edgewrite_t WHERE (team = ?) LIMIT 5000)"
    );
    assert_eq!(count.params, vec![Value::from("t1")]);
    assert!(plan.cursor_check(None).is_none());
    assert!(plan.selected().is_none());
    let no_total =
        super::plan(&ListOptions { total: false, ..options(&[]) }, &schema(), &Limits::default()).unwrap();
    assert!(no_total.count(None).is_none());
}

#[test]
fn first_limit_offset_and_cursor_win() {
    let plan = plan_of(&[
        r#"{"method":"limit","values":[5]}"#,
        r#"{"method":"limit","values":["7"]}"#,
        r#"{"method":"offset","values":[2]}"#,
        r#"{"method":"offset","values":[3]}"#,
        r#"{"method":"cursorAfter","values":["a"]}"#,
        r#"{"method":"cursorBefore","values":["b"]}"#,
    ])
    .unwrap();
    let s = plan.select("id", None);
    assert_eq!(s.params[s.params.len() - 2..], [Value::Integer(5), Value::Integer(2)]);
    assert_eq!(plan.cursor_check(None).unwrap().params, vec![Value::from("a")]);
}

#[test]
fn orders_with_appwrite_tie_break() {
    let order = |queries: &[&str]| {
        let sql = plan_of(queries).unwrap().select("id", None).sql;
        sql.split(" ORDER BY ").nth(1).unwrap().split(" LIMIT").next().unwrap().to_string()
    };
    assert_eq!(
        order(&[r#"{"method":"orderAsc","attribute":"name"}"#]),
        "edgewrite_t.name ASC, edgewrite_t.rowid ASC"
    );
    assert_eq!(
        order(&[r#"{"method":"orderDesc","attribute":"$createdAt"}"#]),
        "edgewrite_t.created_at DESC, edgewrite_t.rowid DESC"
    );
    assert_eq!(order(&[r#"{"method":"orderDesc"}"#]), "edgewrite_t.rowid DESC");
    assert_eq!(order(&[r#"{"method":"orderDesc","attribute":"$sequence"}"#]), "edgewrite_t.rowid DESC");
    assert_eq!(order(&[r#"{"method":"orderRandom"}"#]), "random() ASC, edgewrite_t.rowid ASC");
    assert_eq!(
        order(&[r#"{"method":"orderDesc","attribute":"age"}"#, r#"{"method":"orderAsc","attribute":"$id"}"#]),
        "edgewrite_t.age DESC, edgewrite_t.id ASC, edgewrite_t.rowid ASC"
    );
}

#[test]
fn array_contains_binds_mixed_scalars_as_one_json_parameter() {
    let plan =
        plan_of(&[r#"{"method":"containsAny","attribute":"tags","values":["a",2,2.5,true]}"#]).unwrap();
    let s = plan.select("id", None);
    assert!(s.sql.contains("json_each(edgewrite_t.tags) AS edgewrite_e"), "{}", s.sql);
    assert_eq!(s.params[0], Value::from(r#"["a",2,2.5,1]"#));
    assert_eq!(s.sql.matches('?').count(), s.params.len());
    for method in ["contains", "containsAll", "notContains"] {
        let raw = format!(r#"{{"method":"{method}","attribute":"tags","values":[1,"x"]}}"#);
        let s = plan_of(&[&raw]).unwrap().select("id", None);
        assert_eq!(s.params[0], Value::from(r#"[1,"x"]"#), "{method}");
    }
    for method in ["isNull", "isNotNull"] {
        assert!(plan_of(&[&format!(r#"{{"method":"{method}","attribute":"tags"}}"#)]).is_ok());
    }
}

/// Fields built at run time (as from stored attributes) borrow their names; the plan owns
/// everything it keeps, so it outlives the schema.
#[test]
fn schemas_built_at_run_time_plan_like_static_ones() {
    let stored: Vec<(String, String, FieldKind)> = vec![
        ("$id".into(), "_id".into(), FieldKind::Text),
        ("title".into(), "\"title\"".into(), FieldKind::Text),
        ("tags".into(), "\"tags\"".into(), FieldKind::Array),
    ];
    let table = String::from("\"c_books\"");
    let plan = {
        let fields: Vec<Field<'_>> =
            stored.iter().map(|(attribute, column, kind)| Field { attribute, column, kind: *kind }).collect();
        let schema = Schema { table: &table, id_column: "_id", fields: &fields, search: None, fulltext: &[] };
        let queries = [
            r#"{"method":"orderAsc","attribute":"title"}"#,
            r#"{"method":"contains","attribute":"tags","values":[7]}"#,
            r#"{"method":"cursorAfter","values":["b1"]}"#,
        ];
        plan(&options(&queries), &schema, &Limits::default()).unwrap()
    };
    let s = plan.select("_id", None);
    assert!(s.sql.contains("FROM \"c_books\" AS edgewrite_t"), "{}", s.sql);
    assert!(s.sql.contains("json_each(edgewrite_t.\"tags\")"), "{}", s.sql);
    assert!(s.sql.contains("ORDER BY edgewrite_t.\"title\" ASC, edgewrite_t.rowid ASC"), "{}", s.sql);
    assert_eq!(
        plan.cursor_check(None).unwrap().sql,
        "SELECT 1 FROM \"c_books\" AS edgewrite_t WHERE edgewrite_t._id = ? LIMIT 1"
    );
}

#[test]
fn select_queries_merge_and_star_means_all() {
    let plan = plan_of(&[
        r#"{"method":"select","values":["name"]}"#,
        r#"{"method":"select","values":["age","name"]}"#,
    ])
    .unwrap();
    assert_eq!(plan.selected(), Some(&["name".to_string(), "age".to_string()][..]));
    let plan = plan_of(&[r#"{"method":"select","values":["*"]}"#]).unwrap();
    assert!(plan.selected().is_none());
}

#[test]
fn title_case_and_thousands_follow_appwrite() {
    assert_eq!(QueryMethod::NotEqual.title(), "NotEqual");
    let err = error_of(&[r#"{"method":"limit","values":[0]}"#]);
    assert!(err.ends_with("1 and 5,000"));
    let limits = Limits { max_page_size: 100, ..Limits::default() };
    let err = plan(&options(&[r#"{"method":"limit","values":[101]}"#]), &schema(), &limits).unwrap_err();
    assert!(err.message.ends_with("between 1 and 100"), "{}", err.message);
}

proptest! {
    #[test]
    fn any_string_parses_or_errors_without_panicking(raw in any::<String>()) {
        let _ = parse(&raw);
        let _ = plan_of(&[&raw]);
    }

    #[test]
    fn any_query_shaped_json_plans_or_errors_without_panicking(
        method in "[a-zA-Z]{0,16}",
        attribute in prop_oneof![Just("name".to_string()), Just("labels".to_string()), Just("tags".to_string()), Just("$createdAt".to_string()), "[a-z$]{0,6}"],
        values in proptest::collection::vec(
            prop_oneof![
                any::<i64>().prop_map(|i| json!(i)),
                any::<f64>().prop_map(|f| json!(f)),
                any::<bool>().prop_map(|b| json!(b)),
                ".{0,12}".prop_map(|s| json!(s)),
                Just(json!(null)),
                Just(json!([1, "a"])),
                Just(json!({"method": "equal", "attribute": "name", "values": ["a"]})),
            ],
            0..4,
        ),
    ) {
        let raw = json!({"method": method, "attribute": attribute, "values": values}).to_string();
        if let Ok(plan) = plan_of(&[&raw]) {
            let s = plan.select("id", None);
            prop_assert_eq!(s.sql.matches('?').count(), s.params.len());
        }
    }
}
