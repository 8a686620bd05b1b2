//! `edgewrite_core::query` plans executed on real SQLite (the native adapter): every SDK query
//! method, `or`/`and` nesting, ordering, cursor pages in both directions, counts and `search`.

use edgewrite_core::ports::{Rows, Sql, Statement, Value};
use edgewrite_core::query::{plan, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::ms_from_iso;
use edgewrite_core::Limits;
use edgewrite_native::NativeSql;
use serde_json::{json, Value as Json};

const FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "age", column: "age", kind: FieldKind::Integer },
    Field { attribute: "score", column: "score", kind: FieldKind::Float },
    Field { attribute: "active", column: "active", kind: FieldKind::Boolean },
    Field { attribute: "labels", column: "labels", kind: FieldKind::TextArray },
];

const SCHEMA: Schema<'static> =
    Schema { table: "people", id_column: "id", fields: FIELDS, search: Some("name"), fulltext: &[] };

/// (id, name, age, score, active, day of January 2026 at 10:00 UTC, labels, team), inserted in
/// this order so rowid = `$sequence` follows the ids. p05 and p06 share a creation time.
#[allow(clippy::type_complexity)]
const ROWS: &[(&str, Option<&str>, Option<i64>, Option<f64>, Option<i64>, u32, Option<&str>, &str)] = &[
    ("p01", Some("Alice Smith"), Some(30), Some(1.5), Some(1), 1, Some(r#"["admin","dev"]"#), "t1"),
    ("p02", Some("bob"), Some(25), Some(2.0), Some(0), 2, Some(r#"["dev"]"#), "t1"),
    ("p03", Some("Carol_99"), Some(35), None, Some(1), 3, Some("[]"), "t1"),
    ("p04", Some("dave 100%"), None, Some(3.25), Some(0), 4, Some(r#"["ops"]"#), "t2"),
    ("p05", None, Some(40), Some(0.5), Some(1), 5, None, "t1"),
    ("p06", Some("Eve"), Some(25), Some(2.0), Some(1), 5, Some(r#"["admin"]"#), "t2"),
    ("p07", Some("frank\\path"), Some(50), Some(9.75), Some(0), 7, Some(r#"["dev","ops"]"#), "t1"),
    ("p08", Some("Grace Hopper"), Some(30), Some(4.0), Some(1), 8, Some(r#"["admin","ops"]"#), "t1"),
    ("p09", Some("heidi"), Some(18), None, None, 9, Some(r#"["guest"]"#), "t2"),
    ("p10", Some("Ivan Smith"), Some(61), Some(7.5), Some(1), 10, Some(r#"["dev"]"#), "t1"),
    ("p11", Some("judy"), Some(30), Some(1.0), Some(0), 11, None, "t1"),
    ("p12", Some("Mallory O'Neil"), Some(25), Some(5.5), Some(1), 12, Some(r#"["admin","dev","ops"]"#), "t2"),
];

struct Db(NativeSql);

impl Db {
    fn new() -> Db {
        let db = Db(NativeSql::in_memory());
        db.run(Statement::new(
            "CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT, age INTEGER, score REAL, active INTEGER, \
             created_at INTEGER, labels TEXT, team TEXT)",
            vec![],
        ));
        for (id, name, age, score, active, day, labels, team) in ROWS {
            let created = ms_from_iso(&format!("2026-01-{day:02}T10:00:00.000+00:00")).unwrap();
            db.run(Statement::new(
                "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    (*id).into(),
                    (*name).into(),
                    (*age).into(),
                    (*score).into(),
                    (*active).into(),
                    created.into(),
                    (*labels).into(),
                    (*team).into(),
                ],
            ));
        }
        db
    }

    fn run(&self, statement: Statement) -> Rows {
        let sql = statement.sql.clone();
        futures_executor::block_on(self.0.query(statement)).unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    fn ids_with(
        &self,
        queries: &[String],
        search: Option<&str>,
        scope: Option<(&str, Vec<Value>)>,
    ) -> Vec<String> {
        let options = ListOptions { queries: queries.to_vec(), search: search.map(Into::into), total: true };
        let plan =
            plan(&options, &SCHEMA, &Limits::default()).unwrap_or_else(|e| panic!("{queries:?}: {e:?}"));
        let rows = self.run(plan.select("id", scope));
        rows.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect()
    }

    fn ids(&self, queries: &[String]) -> Vec<String> {
        self.ids_with(queries, None, None)
    }

    fn count(&self, queries: &[String], scope: Option<(&str, Vec<Value>)>) -> i64 {
        let options = ListOptions { queries: queries.to_vec(), search: None, total: true };
        let plan = plan(&options, &SCHEMA, &Limits::default()).unwrap();
        self.run(plan.count(scope).unwrap()).get(0, "total").and_then(Value::as_i64).unwrap()
    }
}

/// A query string shaped exactly as the SDK serialises it (keys in SDK order, omitted if unset).
fn q(method: &str, attribute: &str, values: Json) -> String {
    let mut s = format!(r#"{{"method":"{method}""#);
    if !attribute.is_empty() {
        s += &format!(r#","attribute":{}"#, Json::from(attribute));
    }
    if !values.is_null() {
        s += &format!(r#","values":{values}"#);
    }
    s + "}"
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_filter_method_selects_the_expected_rows() {
    let db = Db::new();
    let all: Vec<String> = ROWS.iter().map(|r| r.0.to_string()).collect();
    let obj = |s: String| serde_json::from_str::<Json>(&s).unwrap();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec![q("equal", "name", json!(["bob"]))], vec!["p02"]),
        (vec![q("equal", "name", json!(["bob", "Eve"]))], vec!["p02", "p06"]),
        (vec![q("equal", "name", json!(["BOB"]))], vec![]),
        (vec![q("equal", "$id", json!(["p07", "p03"]))], vec!["p03", "p07"]),
        (
            vec![q("notEqual", "name", json!(["bob"]))],
            vec!["p01", "p03", "p04", "p06", "p07", "p08", "p09", "p10", "p11", "p12"],
        ),
        (vec![q("lessThan", "age", json!([30]))], vec!["p02", "p06", "p09", "p12"]),
        (vec![q("lessThanEqual", "age", json!([30]))], vec!["p01", "p02", "p06", "p08", "p09", "p11", "p12"]),
        (vec![q("greaterThan", "age", json!([40]))], vec!["p07", "p10"]),
        (vec![q("greaterThanEqual", "age", json!([40]))], vec!["p05", "p07", "p10"]),
        (vec![q("between", "age", json!([25, 30]))], vec!["p01", "p02", "p06", "p08", "p11", "p12"]),
        (vec![q("notBetween", "age", json!([25, 30]))], vec!["p03", "p05", "p07", "p09", "p10"]),
        (vec![q("isNull", "age", Json::Null)], vec!["p04"]),
        (
            vec![q("isNotNull", "score", Json::Null)],
            vec!["p01", "p02", "p04", "p05", "p06", "p07", "p08", "p10", "p11", "p12"],
        ),
        (vec![q("greaterThan", "score", json!([2]))], vec!["p04", "p07", "p08", "p10", "p12"]),
        (vec![q("lessThan", "score", json!([1.5]))], vec!["p05", "p11"]),
        (vec![q("equal", "score", json!([2]))], vec!["p02", "p06"]),
        (vec![q("equal", "score", json!([2.0, 9.75]))], vec!["p02", "p06", "p07"]),
        (vec![q("equal", "active", json!([true]))], vec!["p01", "p03", "p05", "p06", "p08", "p10", "p12"]),
        (vec![q("equal", "active", json!([false]))], vec!["p02", "p04", "p07", "p11"]),
        (
            vec![q("equal", "active", json!([true, false]))],
            vec!["p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p10", "p11", "p12"],
        ),
        (vec![q("startsWith", "name", json!(["Ca"]))], vec!["p03"]),
        // LIKE folds ASCII case, as Appwrite's case-insensitive MariaDB collation does.
        (vec![q("startsWith", "name", json!(["a"]))], vec!["p01"]),
        (vec![q("endsWith", "name", json!(["Smith"]))], vec!["p01", "p10"]),
        (
            vec![q("notStartsWith", "name", json!(["b"]))],
            vec!["p01", "p03", "p04", "p06", "p07", "p08", "p09", "p10", "p11", "p12"],
        ),
        (
            vec![q("notEndsWith", "name", json!(["smith"]))],
            vec!["p02", "p03", "p04", "p06", "p07", "p08", "p09", "p11", "p12"],
        ),
        // Wildcards and the escape character are literal.
        (vec![q("contains", "name", json!(["_"]))], vec!["p03"]),
        (vec![q("contains", "name", json!(["%"]))], vec!["p04"]),
        (vec![q("contains", "name", json!(["\\"]))], vec!["p07"]),
        (vec![q("contains", "name", json!(["'"]))], vec!["p12"]),
        (vec![q("endsWith", "name", json!(["0%"]))], vec!["p04"]),
        (vec![q("contains", "name", json!(["smith", "eve"]))], vec!["p01", "p06", "p10"]),
        (vec![q("containsAny", "name", json!(["smith", "eve"]))], vec!["p01", "p06", "p10"]),
        (vec![q("containsAll", "name", json!(["a", "i"]))], vec!["p01", "p10", "p12"]),
        (vec![q("notContains", "name", json!(["o", "e"]))], vec!["p07", "p10", "p11"]),
        (vec![q("notContains", "name", json!(["i"]))], vec!["p02", "p03", "p04", "p06", "p07", "p08", "p11"]),
        (vec![q("contains", "labels", json!(["admin"]))], vec!["p01", "p06", "p08", "p12"]),
        (
            vec![q("contains", "labels", json!(["dev", "admin"]))],
            vec!["p01", "p02", "p06", "p07", "p08", "p10", "p12"],
        ),
        (vec![q("containsAny", "labels", json!(["guest", "ops"]))], vec!["p04", "p07", "p08", "p09", "p12"]),
        (vec![q("containsAll", "labels", json!(["dev", "ops"]))], vec!["p07", "p12"]),
        (vec![q("containsAll", "labels", json!(["ops"]))], vec!["p04", "p07", "p08", "p12"]),
        (vec![q("notContains", "labels", json!(["dev"]))], vec!["p03", "p04", "p06", "p08", "p09"]),
        (vec![q("isNull", "labels", Json::Null)], vec!["p05", "p11"]),
        (vec![q("search", "name", json!(["smith"]))], vec!["p01", "p10"]),
        (vec![q("search", "name", json!(["SMITH  alice"]))], vec!["p01"]),
        (
            vec![q("notSearch", "name", json!(["smith"]))],
            vec!["p02", "p03", "p04", "p06", "p07", "p08", "p09", "p11", "p12"],
        ),
        // Dates: ISO strings with any offset, date-only, and the createdX sugar both ways.
        (vec![q("greaterThan", "$createdAt", json!(["2026-01-10T10:00:00.000+00:00"]))], vec!["p11", "p12"]),
        (vec![q("lessThan", "$createdAt", json!(["2026-01-02T11:00:00+01:00"]))], vec!["p01"]),
        (vec![q("lessThan", "$createdAt", json!(["2026-01-03"]))], vec!["p01", "p02"]),
        (vec![q("createdBefore", "", json!(["2026-01-03"]))], vec!["p01", "p02"]),
        (vec![q("createdAfter", "", json!(["2026-01-11T10:00:00Z"]))], vec!["p12"]),
        (
            vec![q("between", "$createdAt", json!(["2026-01-04T10:00:00.000+00:00", "2026-01-06"]))],
            vec!["p04", "p05", "p06"],
        ),
        (
            vec![q("createdBetween", "", json!(["2026-01-04T10:00:00.000+00:00", "2026-01-06"]))],
            vec!["p04", "p05", "p06"],
        ),
        (vec![q("equal", "$createdAt", json!(["2026-01-05T11:00:00.000+01:00"]))], vec!["p05", "p06"]),
        (vec![q("greaterThan", "$sequence", json!([10]))], vec!["p11", "p12"]),
        // Several queries are AND-ed.
        (vec![q("equal", "active", json!([true])), q("lessThan", "age", json!([30]))], vec!["p06", "p12"]),
        (
            vec![q(
                "or",
                "",
                json!([obj(q("equal", "name", json!(["bob"]))), obj(q("lessThan", "age", json!([20])))]),
            )],
            vec!["p02", "p09"],
        ),
        (
            vec![q(
                "and",
                "",
                json!([
                    obj(q("greaterThanEqual", "age", json!([30]))),
                    obj(q("equal", "active", json!([true])))
                ]),
            )],
            vec!["p01", "p03", "p05", "p08", "p10"],
        ),
        (
            vec![q(
                "or",
                "",
                json!([
                    obj(q(
                        "and",
                        "",
                        json!([
                            obj(q("equal", "active", json!([false]))),
                            obj(q("greaterThan", "age", json!([40])))
                        ])
                    )),
                    obj(q("contains", "labels", json!(["guest"]))),
                ]),
            )],
            vec!["p07", "p09"],
        ),
        // Older clients nest JSON strings.
        (
            vec![q("or", "", json!([q("equal", "$id", json!(["p01"])), q("equal", "$id", json!(["p12"]))]))],
            vec!["p01", "p12"],
        ),
        (vec![q("limit", "", json!([3]))], vec!["p01", "p02", "p03"]),
        (vec![q("limit", "", json!([3])), q("offset", "", json!([10]))], vec!["p11", "p12"]),
        (vec![q("offset", "", json!([12]))], vec![]),
        (vec![q("orderDesc", "", Json::Null), q("limit", "", json!([2]))], vec!["p12", "p11"]),
        (
            vec![q("orderAsc", "name", Json::Null)],
            // NULL first, then SQLite's binary collation: upper case before lower case.
            vec!["p05", "p01", "p03", "p06", "p08", "p10", "p12", "p02", "p04", "p07", "p09", "p11"],
        ),
        (
            vec![q("orderDesc", "age", Json::Null), q("orderAsc", "name", Json::Null)],
            vec!["p10", "p07", "p05", "p03", "p01", "p08", "p11", "p06", "p12", "p02", "p09", "p04"],
        ),
        (
            vec![q("orderDesc", "$createdAt", Json::Null)],
            vec!["p12", "p11", "p10", "p09", "p08", "p07", "p06", "p05", "p04", "p03", "p02", "p01"],
        ),
        (vec![q("select", "", json!(["name"]))], all.iter().map(String::as_str).collect()),
    ];
    for (queries, expected) in &cases {
        assert_eq!(db.ids(queries), ids(expected), "{queries:?}");
    }
}

#[test]
fn order_random_returns_every_row_once() {
    let db = Db::new();
    let mut got = db.ids(&[q("orderRandom", "", Json::Null)]);
    got.sort();
    assert_eq!(got, ROWS.iter().map(|r| r.0.to_string()).collect::<Vec<_>>());
}

#[test]
fn search_param_and_scope_narrow_the_list() {
    let db = Db::new();
    assert_eq!(db.ids_with(&[], Some("smith"), None), ids(&["p01", "p10"]));
    assert_eq!(db.ids_with(&[], Some("sMiTh ivan"), None), ids(&["p10"]));
    assert_eq!(db.ids_with(&[], Some("100%"), None), ids(&["p04"]));
    assert_eq!(db.ids_with(&[], Some("   "), None).len(), 12);
    let t2 = || Some(("team = ?", vec![Value::from("t2")]));
    assert_eq!(db.ids_with(&[], None, t2()), ids(&["p04", "p06", "p09", "p12"]));
    assert_eq!(db.ids_with(&[q("equal", "active", json!([true]))], None, t2()), ids(&["p06", "p12"]));
    assert_eq!(db.ids_with(&[], Some("o"), t2()), ids(&["p12"]));
}

#[test]
fn cursor_pages_join_up_to_the_full_order_both_ways() {
    let db = Db::new();
    let orders: Vec<Vec<String>> = vec![
        vec![],
        vec![q("orderAsc", "name", Json::Null)],
        vec![q("orderDesc", "name", Json::Null)],
        vec![q("orderDesc", "age", Json::Null), q("orderAsc", "name", Json::Null)],
        vec![q("orderDesc", "$createdAt", Json::Null)],
        vec![q("orderAsc", "score", Json::Null)],
        vec![q("orderDesc", "score", Json::Null), q("orderDesc", "active", Json::Null)],
        vec![q("orderAsc", "labels", Json::Null)],
        vec![q("orderAsc", "age", Json::Null), q("equal", "active", json!([true]))],
        vec![q("orderDesc", "", Json::Null)],
    ];
    for order in &orders {
        let full = db.ids(&[order.clone(), vec![q("limit", "", json!([100]))]].concat());
        for size in [1, 3, 5] {
            let limit = q("limit", "", json!([size]));
            // Forward: the first page, then cursorAfter the last id until a short page.
            let mut forward = db.ids(&[order.clone(), vec![limit.clone()]].concat());
            loop {
                let last = forward.last().unwrap().clone();
                let page = db
                    .ids(&[order.clone(), vec![limit.clone(), q("cursorAfter", "", json!([last]))]].concat());
                assert!(page.len() <= size);
                forward.extend(page.iter().cloned());
                if page.is_empty() {
                    break;
                }
            }
            assert_eq!(forward, full, "forward {order:?} by {size}");
            // Backward: cursorBefore the first id of the pages seen, from the end.
            let mut backward = vec![full.last().unwrap().clone()];
            loop {
                let first = backward[0].clone();
                let page = db.ids(
                    &[order.clone(), vec![limit.clone(), q("cursorBefore", "", json!([first]))]].concat(),
                );
                assert!(page.len() <= size);
                if page.is_empty() {
                    break;
                }
                backward.splice(0..0, page.iter().cloned());
            }
            assert_eq!(backward, full, "backward {order:?} by {size}");
        }
        // Offset applies after the cursor.
        if full.len() >= 6 {
            let page = db.ids(
                &[
                    order.clone(),
                    vec![
                        q("cursorAfter", "", json!([full[1]])),
                        q("offset", "", json!([1])),
                        q("limit", "", json!([2])),
                    ],
                ]
                .concat(),
            );
            assert_eq!(page, full[3..5].to_vec(), "{order:?}");
            let page = db.ids(
                &[
                    order.clone(),
                    vec![
                        q("cursorBefore", "", json!([full[5]])),
                        q("offset", "", json!([1])),
                        q("limit", "", json!([2])),
                    ],
                ]
                .concat(),
            );
            assert_eq!(page, full[2..4].to_vec(), "{order:?}");
        }
    }
}

#[test]
fn cursor_check_finds_the_cursor_only_within_scope() {
    let db = Db::new();
    let check = |id: &str, scope: Option<(&str, Vec<Value>)>| {
        let options = ListOptions { queries: vec![q("cursorAfter", "", json!([id]))], ..Default::default() };
        let plan = plan(&options, &SCHEMA, &Limits::default()).unwrap();
        db.run(plan.cursor_check(scope).unwrap()).rows.len()
    };
    assert_eq!(check("p01", None), 1);
    assert_eq!(check("nope", None), 0);
    assert_eq!(check("p01", Some(("team = ?", vec!["t2".into()]))), 0);
    assert_eq!(check("p04", Some(("team = ?", vec!["t2".into()]))), 1);
    // An unknown cursor selects nothing rather than everything.
    assert!(db.ids(&[q("cursorAfter", "", json!(["nope"]))]).is_empty());
    assert!(db.ids(&[q("cursorBefore", "", json!(["nope"]))]).is_empty());
}

#[test]
fn count_ignores_paging_and_is_capped_at_5000() {
    let db = Db::new();
    assert_eq!(db.count(&[], None), 12);
    let paged = [
        q("equal", "active", json!([true])),
        q("limit", "", json!([2])),
        q("cursorAfter", "", json!(["p05"])),
    ];
    assert_eq!(db.count(&paged, None), 7);
    assert_eq!(db.count(&[q("equal", "active", json!([true]))], Some(("team = ?", vec!["t2".into()]))), 2);
    db.run(Statement::new(
        "INSERT INTO people (id, name) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5100) \
         SELECT 'bulk' || x, 'bulk' FROM n",
        vec![],
    ));
    assert_eq!(db.count(&[], None), 5000);
    assert_eq!(db.count(&[q("equal", "name", json!(["bulk"]))], None), 5000);
    assert_eq!(db.count(&[q("notEqual", "name", json!(["bulk"]))], None), 11);
    let options = ListOptions { total: false, ..Default::default() };
    assert!(plan(&options, &SCHEMA, &Limits::default()).unwrap().count(None).is_none());
}

#[test]
fn unknown_attributes_are_refused_before_any_sql() {
    let options =
        ListOptions { queries: vec![q("updatedBefore", "", json!(["2026-01-01"]))], ..Default::default() };
    let err = plan(&options, &SCHEMA, &Limits::default()).unwrap_err();
    assert_eq!(
        err.message,
        "Invalid `queries` param: Invalid query: Attribute not found in schema: $updatedAt"
    );
    let options =
        ListOptions { queries: vec![q("select", "", json!(["name", "age"]))], ..Default::default() };
    let plan = plan(&options, &SCHEMA, &Limits::default()).unwrap();
    assert_eq!(plan.selected(), Some(&["name".to_string(), "age".to_string()][..]));
}

#[test]
fn a_subquery_can_stand_in_for_the_table() {
    let db = Db::new();
    db.run(Statement::new("CREATE TABLE teams (id TEXT PRIMARY KEY, title TEXT)", vec![]));
    db.run(Statement::new("INSERT INTO teams VALUES ('t1', 'Ops'), ('t2', 'Dev')", vec![]));
    const JOINED: &[Field] = &[
        Field { attribute: "$id", column: "id", kind: FieldKind::Text },
        Field { attribute: "name", column: "name", kind: FieldKind::Text },
        Field { attribute: "labels", column: "labels", kind: FieldKind::TextArray },
        Field { attribute: "teamTitle", column: "title", kind: FieldKind::Text },
    ];
    let schema = Schema {
        table: "(SELECT p.rowid AS rowid, p.id AS id, p.name AS name, p.labels AS labels, p.team AS team, \
                t.title AS title FROM people p JOIN teams t ON t.id = p.team)",
        id_column: "id",
        fields: JOINED,
        search: Some("id || ' ' || coalesce(name, '') || ' ' || title"),
        fulltext: &[],
    };
    let run = |queries: Vec<String>, search: Option<&str>| {
        let options = ListOptions { queries, search: search.map(Into::into), total: true };
        let plan = plan(&options, &schema, &Limits::default()).unwrap();
        let scope = || Some(("team = ?", vec![Value::from("t1")]));
        if let Some(check) = plan.cursor_check(scope()) {
            assert_eq!(db.run(check).rows.len(), 1);
        }
        let rows = db.run(plan.select("id, title", scope()));
        let count = db.run(plan.count(scope()).unwrap()).get(0, "total").and_then(Value::as_i64).unwrap();
        (rows.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect::<Vec<_>>(), count)
    };
    let (all, total) = run(vec![q("orderDesc", "name", Json::Null)], None);
    assert_eq!(all, ids(&["p11", "p07", "p02", "p10", "p08", "p03", "p01", "p05"]));
    assert_eq!(total, 8);
    let limit = q("limit", "", json!([3]));
    let order = q("orderDesc", "name", Json::Null);
    assert_eq!(
        run(vec![order.clone(), limit.clone(), q("cursorAfter", "", json!(["p02"]))], None).0,
        all[3..6]
    );
    assert_eq!(run(vec![order.clone(), limit, q("cursorBefore", "", json!(["p10"]))], None).0, all[0..3]);
    assert_eq!(
        run(vec![q("contains", "labels", json!(["ops", "admin"]))], None).0,
        ids(&["p01", "p07", "p08"])
    );
    assert_eq!(run(vec![q("equal", "teamTitle", json!(["Ops"]))], Some("smith")), (ids(&["p01", "p10"]), 2));
    assert_eq!(run(vec![], Some("ops p05")).0, ids(&["p05"]));
}

/// A collection-style table as the databases capability builds it: `_seq` aliases the rowid,
/// quoted attribute columns, and a schema whose fields are built at run time.
#[test]
fn rowid_aliased_by_an_integer_primary_key_and_quoted_columns() {
    let db = Db(NativeSql::in_memory());
    db.run(Statement::new(
        r#"CREATE TABLE "c_books" (_seq INTEGER PRIMARY KEY, _id TEXT UNIQUE, "title" TEXT, "tags" TEXT)"#,
        vec![],
    ));
    // Inserted out of `_seq` order: `$sequence` follows `_seq`, not insertion order.
    let books: &[(i64, &str, Option<&str>, Option<&str>)] = &[
        (30, "b1", Some("Dune"), Some(r#"["scifi",1965,true]"#)),
        (10, "b2", Some("Emma"), Some(r#"["classic",1815]"#)),
        (20, "b3", Some("Ubik"), Some(r#"["scifi",1969,2.5]"#)),
        (40, "b4", Some("Beloved"), None),
        (25, "b5", Some("Dune"), Some(r#"["1965"]"#)),
        (5, "b6", None, Some("[]")),
    ];
    for (seq, id, title, tags) in books {
        db.run(Statement::new(
            r#"INSERT INTO "c_books" (_seq, _id, "title", "tags") VALUES (?, ?, ?, ?)"#,
            vec![(*seq).into(), (*id).into(), (*title).into(), (*tags).into()],
        ));
    }
    let stored: Vec<(String, String, FieldKind)> = vec![
        ("$id".into(), "_id".into(), FieldKind::Text),
        ("title".into(), r#""title""#.into(), FieldKind::Text),
        ("tags".into(), r#""tags""#.into(), FieldKind::Array),
    ];
    let fields: Vec<Field<'_>> =
        stored.iter().map(|(attribute, column, kind)| Field { attribute, column, kind: *kind }).collect();
    let schema = Schema {
        table: r#""c_books""#,
        id_column: "_id",
        fields: &fields,
        search: Some(r#""title""#),
        fulltext: &[],
    };
    let run = |queries: Vec<String>| {
        let options = ListOptions { queries, search: None, total: true };
        let plan = plan(&options, &schema, &Limits::default()).unwrap_or_else(|e| panic!("{e:?}"));
        if let Some(check) = plan.cursor_check(None) {
            assert_eq!(db.run(check).rows.len(), 1);
        }
        let rows = db.run(plan.select("_id, _seq, rowid", None));
        for row in &rows.rows {
            assert_eq!(row[1], row[2], "rowid is _seq");
        }
        let count = db.run(plan.count(None).unwrap()).get(0, "total").and_then(Value::as_i64).unwrap();
        (rows.rows.iter().map(|r| r[0].as_str().unwrap().to_string()).collect::<Vec<_>>(), count)
    };
    let page = |queries: Vec<String>| run(queries).0;
    assert_eq!(run(vec![]), (ids(&["b6", "b2", "b3", "b5", "b1", "b4"]), 6));
    assert_eq!(
        page(vec![q("orderDesc", "$sequence", Json::Null)]),
        ids(&["b4", "b1", "b5", "b3", "b2", "b6"])
    );
    assert_eq!(page(vec![q("greaterThan", "$sequence", json!([20]))]), ids(&["b5", "b1", "b4"]));
    // Equal titles fall back to `$sequence` (= `_seq`).
    let by_title = q("orderAsc", "title", Json::Null);
    assert_eq!(page(vec![by_title.clone()]), ids(&["b6", "b4", "b5", "b1", "b2", "b3"]));
    let limit = q("limit", "", json!([2]));
    assert_eq!(
        run(vec![by_title.clone(), limit.clone(), q("cursorAfter", "", json!(["b5"]))]),
        (ids(&["b1", "b2"]), 6)
    );
    assert_eq!(
        page(vec![by_title.clone(), limit.clone(), q("cursorBefore", "", json!(["b1"]))]),
        ids(&["b4", "b5"])
    );
    assert_eq!(page(vec![limit.clone(), q("cursorAfter", "", json!(["b3"]))]), ids(&["b5", "b1"]));
    // Array elements compare by JSON type and value: 1965 is not "1965".
    let contains = |method: &str, values: Json| page(vec![q(method, "tags", values)]);
    assert_eq!(contains("contains", json!(["scifi"])), ids(&["b3", "b1"]));
    assert_eq!(contains("contains", json!([1965])), ids(&["b1"]));
    assert_eq!(contains("contains", json!(["1965"])), ids(&["b5"]));
    assert_eq!(contains("contains", json!([2.5])), ids(&["b3"]));
    assert_eq!(contains("contains", json!([true])), ids(&["b1"]));
    assert_eq!(contains("containsAny", json!([1815, "1965"])), ids(&["b2", "b5"]));
    assert_eq!(contains("containsAll", json!(["scifi", 1969])), ids(&["b3"]));
    assert_eq!(contains("containsAll", json!(["scifi", 1965, 1969])), ids(&[]));
    assert_eq!(contains("notContains", json!(["scifi"])), ids(&["b6", "b2", "b5"]));
    assert_eq!(page(vec![q("isNull", "tags", Json::Null)]), ids(&["b4"]));
    assert_eq!(page(vec![q("isNotNull", "tags", Json::Null)]), ids(&["b6", "b2", "b3", "b5", "b1"]));
    // A cursor page over an array filter.
    assert_eq!(
        run(vec![
            q("contains", "tags", json!(["scifi", "classic"])),
            q("orderDesc", "title", Json::Null),
            q("limit", "", json!([1])),
            q("cursorAfter", "", json!(["b3"])),
        ]),
        (ids(&["b2"]), 3)
    );
    assert_eq!(
        page(vec![
            q("contains", "tags", json!(["scifi", "classic"])),
            q("orderDesc", "title", Json::Null),
            q("cursorBefore", "", json!(["b1"])),
        ]),
        ids(&["b3", "b2"])
    );
}
