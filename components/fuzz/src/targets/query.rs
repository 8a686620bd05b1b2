//! Target `query`: list queries (`edgewrite_core::query`), parsed and planned over a schema
//! shaped like a collection's (bare system columns, quoted attribute columns, an FTS5 table).
//!
//! Input: one `queries[]` element per line; a line `search:<text>` is the `search` param
//! instead, and a line `total:false` turns the count off.
//!
//! Properties: `parse` and `plan` never panic; every statement a plan renders binds exactly as
//! many values as it has `?`, and its text is made only of SQL the compiler writes itself
//! (keywords, the schema's names, `?`, punctuation): no input text, values included, reaches
//! it; and every statement runs on SQLite, answering rows or "cursor not found", never an error.

use std::cell::RefCell;

use edgewrite_core::ports::{Sql, Statement, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::{ErrorType, Limits};
use edgewrite_native::NativeSql;

use crate::Target;

pub const TARGET: Target = Target {
    name: "query",
    run,
    dictionary: &[
        "\"method\":",
        "\"attribute\":",
        "\"values\":",
        "equal",
        "notEqual",
        "lessThan",
        "greaterThanEqual",
        "between",
        "isNull",
        "startsWith",
        "endsWith",
        "contains",
        "containsAll",
        "notContains",
        "search",
        "notSearch",
        "select",
        "orderAsc",
        "orderDesc",
        "orderRandom",
        "cursorAfter",
        "cursorBefore",
        "limit",
        "offset",
        "or",
        "and",
        "elemMatch",
        "createdBetween",
        "$id",
        "$createdAt",
        "$sequence",
        "title",
        "count",
        "price",
        "done",
        "tags",
        "mixed",
        "body",
        "2024-01-01T00:00:00.000+00:00",
        "search:",
        "total:false",
        "%",
        "_",
        "\\\\",
        "'",
        "\"); DROP TABLE docs; --",
    ],
    max_len: 16 * 1024,
};

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "_id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "_created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "_updated_at", kind: FieldKind::Datetime },
    Field { attribute: "title", column: "\"title\"", kind: FieldKind::Text },
    Field { attribute: "count", column: "\"count\"", kind: FieldKind::Integer },
    Field { attribute: "price", column: "\"price\"", kind: FieldKind::Float },
    Field { attribute: "done", column: "\"done\"", kind: FieldKind::Boolean },
    Field { attribute: "due", column: "\"due\"", kind: FieldKind::Datetime },
    Field { attribute: "tags", column: "\"tags\"", kind: FieldKind::TextArray },
    Field { attribute: "mixed", column: "\"mixed\"", kind: FieldKind::Array },
    Field { attribute: "body", column: "\"body\"", kind: FieldKind::Text },
];

const FTS_TABLE: &str = "\"_db_fts_1_body\"";

const SCHEMA: Schema<'static> = Schema {
    table: "docs",
    id_column: "_id",
    fields: FIELDS,
    search: Some("_id || ' ' || \"title\""),
    fulltext: &[("body", FTS_TABLE)],
};

/// Words the compiler writes: SQL, the aliases it names, and the schema's bare names.
const WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "AS",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "EXISTS",
    "LIKE",
    "ESCAPE",
    "BETWEEN",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "LIMIT",
    "OFFSET",
    "WITH",
    "COUNT",
    "MATCH",
    "json_each",
    "value",
    "random",
    "rowid",
    "total",
    "edgewrite_t",
    "edgewrite_v",
    "edgewrite_e",
    "edgewrite_cursor",
    "docs",
    "_id",
    "_created_at",
    "_updated_at",
];

/// Literals the compiler writes: the `LIKE … ESCAPE '\'` character, the search expression's
/// separator, `1` (true, `SELECT 1`) and the count cap.
const LITERALS: &[&str] = &["'\\'", "' '", "1", "5000"];

const SCOPE: &str = "_id != ?";

fn run(input: &[u8]) {
    let mut options = ListOptions { queries: Vec::new(), search: None, total: true };
    for line in super::lines(input) {
        if let Some(text) = line.strip_prefix("search:") {
            options.search = Some(text.to_string());
        } else if line == "total:false" {
            options.total = false;
        } else if !line.is_empty() {
            options.queries.push(line);
        }
    }
    // Each query alone too: one bad query fails the whole list, and most mutations make one.
    for raw in &options.queries {
        check(&ListOptions { queries: vec![raw.clone()], ..options.clone() });
    }
    check(&options);
}

fn check(options: &ListOptions) {
    let limits = Limits { max_array_items: 100, ..Limits::default() };
    let Ok(plan) = query::plan(options, &SCHEMA, &limits) else { return };
    let scope = || Some((SCOPE, vec![Value::Text("zz".into())]));
    let statements = [
        Some(plan.select("_id, \"title\"", None)),
        Some(plan.select("_id", scope())),
        plan.count(None),
        plan.count(scope()),
        plan.cursor_check(None),
        plan.cursor_check(scope()),
    ];
    for statement in statements.iter().flatten() {
        check_text(statement);
    }
    DB.with(|db| {
        let db = db.borrow();
        for scope in [None, scope()] {
            match futures_executor::block_on(plan.fetch(&*db, "_id", scope)) {
                Ok(_) => {}
                Err(e) if e.kind == ErrorType::GeneralCursorNotFound => {}
                Err(e) => panic!("a planned statement failed on SQLite: {}\n{:?}", e.message, statements),
            }
        }
    });
}

/// Panics unless `statement` is made only of the compiler's own text, with one bound value per
/// `?`.
fn check_text(statement: &Statement) {
    let sql = &statement.sql;
    let quoted: Vec<&str> =
        FIELDS.iter().map(|f| f.column).filter(|c| c.starts_with('"')).chain([FTS_TABLE]).collect();
    let bytes = sql.as_bytes();
    let mut placeholders = 0;
    let mut i = 0;
    let fail = |what: &str, at: usize| -> ! {
        panic!("{what} at byte {at} of compiled SQL: {sql}\nparams: {:?}", statement.params)
    };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' => i += 1,
            b'?' => {
                placeholders += 1;
                i += 1;
            }
            b'(' | b')' | b',' | b'.' | b'=' | b'<' | b'>' | b'!' | b'*' | b'|' => i += 1,
            b'\'' | b'"' => {
                let close = sql[i + 1..].find(c as char).unwrap_or_else(|| fail("an unclosed quote", i));
                i += close + 2;
                let token = &sql[start..i];
                let known = if c == b'"' { quoted.contains(&token) } else { LITERALS.contains(&token) };
                if !known {
                    fail(&format!("unknown quoted text {token}"), start);
                }
            }
            b'0'..=b'9' => {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if !LITERALS.contains(&&sql[start..i]) {
                    fail(&format!("unknown number {}", &sql[start..i]), start);
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &sql[start..i];
                // The cursor's order values are columns k0, k1, … of its CTE.
                let cursor_key = word.strip_prefix('k').is_some_and(|n| n.parse::<u8>().is_ok());
                if !WORDS.contains(&word) && !cursor_key {
                    fail(&format!("unknown word {word}"), start);
                }
            }
            _ => fail("an unexpected character", start),
        }
    }
    assert_eq!(placeholders, statement.params.len(), "placeholders and bound values differ: {sql}");
}

thread_local! {
    /// The schema's table with a few rows (and its FTS5 index), in memory.
    static DB: RefCell<NativeSql> = RefCell::new(database());
}

fn database() -> NativeSql {
    let sql = NativeSql::in_memory();
    let setup = [
        "CREATE TABLE docs (_id TEXT UNIQUE NOT NULL, _created_at INTEGER, _updated_at INTEGER, \"title\" TEXT, \
         \"count\" INTEGER, \"price\" REAL, \"done\" INTEGER, \"due\" INTEGER, \"tags\" TEXT, \"mixed\" TEXT, \"body\" TEXT)",
        "CREATE VIRTUAL TABLE \"_db_fts_1_body\" USING fts5(body)",
        "INSERT INTO docs VALUES ('a', 1700000000000, 1700000000000, 'Alpha_%', 1, 1.5, 1, 1700000000000, \
         '[\"x\",\"y\"]', '[1,\"1\",true,2.5]', 'the quick brown fox')",
        "INSERT INTO docs VALUES ('b', 1700000001000, 1700000002000, 'beta', -5, NULL, 0, NULL, '[]', '[]', 'lazy dogs')",
        "INSERT INTO docs (_id) VALUES ('c')",
        "INSERT INTO \"_db_fts_1_body\" (rowid, body) SELECT rowid, body FROM docs",
    ];
    let statements = setup.iter().map(|s| Statement::new(*s, vec![])).collect();
    futures_executor::block_on(sql.batch(statements)).expect("the query target's table");
    sql
}
