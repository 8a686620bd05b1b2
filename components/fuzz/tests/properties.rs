//! Property tests of the same parsers over structured inputs: what the byte-level targets
//! rarely hit by mutation (round trips of valid inputs, values chosen to break SQL, tampering
//! at every position of a token).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::http::{Method, Request};
use edgewrite_core::identity::{Credentials, SessionCredential};
use edgewrite_core::params::Params;
use edgewrite_core::permissions::{parse, render, Permission};
use edgewrite_core::query::{plan, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::upload::{part_of, Part, CHUNK_SIZE};
use edgewrite_core::{jwt, multipart, Limits};
use proptest::prelude::*;
use serde_json::{json, Value};

const ACTIONS: &[&str] = &["read", "create", "update", "delete", "write"];

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,36}"
}

fn role() -> impl Strategy<Value = String> {
    prop_oneof![
        prop_oneof![
            Just("any"),
            Just("guests"),
            Just("users"),
            Just("users/verified"),
            Just("users/unverified")
        ]
        .prop_map(str::to_string),
        (id(), prop_oneof![Just(""), Just("/verified"), Just("/unverified")])
            .prop_map(|(i, d)| format!("user:{i}{d}")),
        (id(), prop::option::of(id())).prop_map(|(i, d)| match d {
            Some(d) => format!("team:{i}/{d}"),
            None => format!("team:{i}"),
        }),
        id().prop_map(|i| format!("member:{i}")),
        id().prop_map(|i| format!("label:{i}")),
    ]
}

fn request() -> Request {
    Request::from_url(Method::Post, "http://h/v1/x").expect("a fixed URL")
}

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "_id", kind: FieldKind::Text },
    Field { attribute: "title", column: "\"title\"", kind: FieldKind::Text },
];
const SCHEMA: Schema<'static> =
    Schema { table: "docs", id_column: "_id", fields: FIELDS, search: None, fulltext: &[] };

/// The statement a single query on `title` plans to.
fn select_sql(method: &str, value: &str) -> Option<(String, usize)> {
    let query = json!({"method": method, "attribute": "title", "values": [value]}).to_string();
    let options = ListOptions { queries: vec![query], search: None, total: true };
    let statement = plan(&options, &SCHEMA, &Limits::default()).ok()?.select("_id", None);
    Some((statement.sql, statement.params.len()))
}

proptest! {
    #[test]
    fn valid_permissions_render_back_to_themselves(action in prop::sample::select(ACTIONS), role in role()) {
        let text = format!("{action}(\"{role}\")");
        let parsed = parse(std::slice::from_ref(&text), ACTIONS);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&vec![Permission { action: action.to_string(), role }]));
        prop_assert_eq!(render(&parsed.unwrap()), vec![text]);
    }

    #[test]
    fn query_values_are_bound_never_spliced(
        method in prop::sample::select(&["equal", "notEqual", "lessThan", "startsWith", "endsWith", "contains"][..]),
        value in ".{0,200}",
    ) {
        // The SQL text is the same whatever the value: the value travels as a parameter.
        let planned = select_sql(method, &value);
        prop_assert!(planned.is_some(), "{} {:?} was refused", method, value);
        prop_assert_eq!(planned, select_sql(method, "v"));
    }

    #[test]
    fn unknown_attributes_are_refused(attribute in ".{0,64}") {
        prop_assume!(attribute != "$id" && attribute != "title" && attribute != "$sequence");
        let query = json!({"method": "equal", "attribute": attribute, "values": ["x"]}).to_string();
        let options = ListOptions { queries: vec![query], search: None, total: true };
        prop_assert!(plan(&options, &SCHEMA, &Limits::default()).is_err());
    }

    #[test]
    fn indexed_query_arrays_come_back_in_index_order(
        values in prop::collection::vec(".{0,20}", 1..12),
        order in Just((0..12usize).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let pairs: Vec<String> = order
            .iter()
            .filter(|&&i| i < values.len())
            .map(|&i| format!("queries%5B{i}%5D={}", form_urlencoded::byte_serialize(values[i].as_bytes()).collect::<String>()))
            .collect();
        let mut req = request();
        req.query = pairs.join("&");
        let params = Params::from_request(&req, vec![], &Limits::default()).expect("a valid query string");
        prop_assert_eq!(params.string_array("queries", 4096, &Limits::default()).ok().flatten(), Some(values));
    }

    #[test]
    fn multipart_bodies_parse_back_to_their_parts(
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,40}",
        parts in prop::collection::vec(("[A-Za-z0-9_\\[\\]]{1,16}", prop::option::of("[A-Za-z0-9_. ;-]{1,24}"), prop::collection::vec(any::<u8>(), 0..200)), 1..6),
    ) {
        let delimiter = format!("\r\n--{boundary}");
        prop_assume!(parts.iter().all(|(_, _, data)| !data.windows(delimiter.len()).any(|w| w == delimiter.as_bytes())));
        let mut body = Vec::new();
        for (name, filename, data) in &parts {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
            if let Some(filename) = filename {
                body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
        prop_assert_eq!(multipart::boundary(&content_type), Some(boundary.clone()));
        let parsed = multipart::parse(&body, &boundary).expect("a well-formed body");
        let got: Vec<_> = parsed.into_iter().map(|p| (p.name, p.filename, p.data)).collect();
        prop_assert_eq!(got, parts);
    }

    #[test]
    fn a_session_reads_back_from_cookie_header_and_fallback(
        user in "\\PC{1,40}",
        secret in "\\PC{1,80}",
        others in prop::collection::vec(("[a-z]{1,8}", "[A-Za-z0-9%=]{0,10}"), 0..4),
        place in 0..3usize,
    ) {
        let credential = SessionCredential { id: user, secret };
        let encoded = credential.encode();
        prop_assert_eq!(SessionCredential::decode(&encoded), Some(credential.clone()));
        let mut req = request();
        match place {
            0 => {
                let mut pairs: Vec<String> = others.iter().map(|(k, v)| format!("{k}={v}")).collect();
                pairs.insert(pairs.len() / 2, format!("a_session_p={}", encoded.replace('=', "%3D")));
                req.headers.set("cookie", pairs.join("; "));
            }
            1 => req.headers.set("x-appwrite-session", encoded),
            _ => req.headers.set("x-fallback-cookies", json!({"a_session_p": encoded}).to_string()),
        }
        prop_assert_eq!(Credentials::from_request(&req, "p").session, Some(credential));
    }

    #[test]
    fn a_signed_token_verifies_and_any_change_to_it_does_not(
        claims in prop::collection::btree_map("[a-zA-Z]{1,8}", "\\PC{0,16}", 0..6),
        secret in prop::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_.=+/-]",
    ) {
        let claims = serde_json::to_value(&claims).expect("a map");
        let token = jwt::sign(&claims, &secret);
        prop_assert_eq!(jwt::verify::<Value>(&token, &secret), Some(claims));
        let i = at.index(token.len());
        let tampered = format!("{}{replacement}{}", &token[..i], &token[i + 1..]);
        if tampered != token {
            prop_assert_eq!(jwt::verify::<Value>(&tampered, &secret), None, "{}", tampered);
        }
        prop_assert_eq!(jwt::verify::<Value>(&token[..i], &secret), None, "truncated");
    }

    #[test]
    fn every_part_of_an_upload_is_accepted_with_its_exact_length_only(size in 1..4 * CHUNK_SIZE + 7, at in any::<prop::sample::Index>()) {
        let total = size.div_ceil(CHUNK_SIZE);
        let index = at.index(total as usize) as u64;
        let start = index * CHUNK_SIZE;
        let len = CHUNK_SIZE.min(size - start);
        let mut req = request();
        req.headers.set("content-range", format!("bytes {start}-{}/{size}", start + len - 1));
        let part = Part { size, index: index as i64, total: total as i64, chunked: true };
        prop_assert_eq!(part_of(&req, len), Some(part));
        prop_assert_eq!(part_of(&req, len - 1), None);
        prop_assert_eq!(part_of(&req, len + 1), None);
    }

}

proptest! {
    // Each case runs a connection through many frames: fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn realtime_frames_of_any_shape_keep_the_connection_sound(
        frames in prop::collection::vec(frame(), 1..36),
        user in prop::option::of(id()),
    ) {
        let mut input = match user {
            Some(id) => format!("user:{id}"),
            None => "guest".into(),
        };
        for frame in frames {
            input.push('\n');
            input.push_str(&frame.to_string());
        }
        let realtime = edgewrite_fuzz::target("realtime").expect("the realtime target");
        edgewrite_fuzz::driver::run_once(realtime, input.as_bytes()).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn queries_of_the_sdks_shape_plan_to_sql_that_runs(queries in prop::collection::vec(query(), 1..5)) {
        // The `query` target checks the compiled text and runs every statement on SQLite.
        let input: Vec<String> = queries.iter().map(Value::to_string).collect();
        let target = edgewrite_fuzz::target("query").expect("the query target");
        edgewrite_fuzz::driver::run_once(target, input.join("\n").as_bytes()).map_err(TestCaseError::fail)?;
    }
}

/// A JSON value of any scalar kind, edges included.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,24}".prop_map(Value::from),
        prop_oneof![Just("2024-01-01T00:00:00.000+00:00"), Just("2024-02-30"), Just("1970-01-01")]
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0)].prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// Queries as the SDKs' `Query.*` helpers write them, over the `query` target's schema.
fn query() -> impl Strategy<Value = Value> {
    const METHODS: &[&str] = &[
        "equal",
        "notEqual",
        "lessThan",
        "lessThanEqual",
        "greaterThan",
        "greaterThanEqual",
        "isNull",
        "isNotNull",
        "between",
        "notBetween",
        "startsWith",
        "endsWith",
        "notStartsWith",
        "notEndsWith",
        "contains",
        "containsAny",
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
    ];
    const ATTRIBUTES: &[&str] = &[
        "$id",
        "$createdAt",
        "$updatedAt",
        "$sequence",
        "title",
        "count",
        "price",
        "done",
        "due",
        "tags",
        "mixed",
        "body",
        "",
    ];
    let leaf = (
        prop::sample::select(METHODS),
        prop::sample::select(ATTRIBUTES),
        prop::collection::vec(scalar(), 0..4),
    )
        .prop_map(
            |(method, attribute, values)| json!({"method": method, "attribute": attribute, "values": values}),
        );
    leaf.prop_recursive(3, 12, 4, |inner| {
        (prop::sample::select(&["or", "and"][..]), prop::collection::vec(inner, 0..4))
            .prop_map(|(method, values)| json!({"method": method, "values": values}))
    })
}

/// Frames shaped like the SDKs' (and a few that are not).
fn frame() -> impl Strategy<Value = Value> {
    let channel = prop_oneof![Just("account".to_string()), Just("documents".to_string()), "\\PC{0,40}"];
    let query = prop_oneof![
        Just(r#"{"method":"equal","attribute":"n","values":[1]}"#.to_string()),
        Just(r#"{"method":"search","attribute":"n","values":["x"]}"#.to_string()),
        "\\PC{0,30}",
    ];
    let subscription = (
        "\\PC{0,70}",
        prop::collection::vec(channel, 0..110),
        prop::collection::vec(query, 0..3),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(id, channels, queries, slot)| json!({"subscriptionId": id, "channels": channels, "queries": queries, "slot": slot}));
    prop_oneof![
        Just(json!({"type": "ping"})),
        "\\PC{0,20}".prop_map(|s| json!({"type": "authentication", "data": {"session": s}})),
        prop::collection::vec(subscription, 0..8).prop_map(|data| json!({"type": "subscribe", "data": data})),
        prop::collection::vec("\\PC{0,10}", 0..4)
            .prop_map(|ids| json!({"type": "unsubscribe", "data": ids.iter().map(|i| json!({"subscriptionId": i})).collect::<Vec<_>>()})),
        any::<i64>().prop_map(|n| json!({"type": n})),
    ]
}

#[test]
fn session_credentials_decode_only_when_complete() {
    let encode = |v: Value| STANDARD.encode(v.to_string());
    assert!(SessionCredential::decode(&encode(json!({"id": "u", "secret": ""}))).is_none());
    assert!(SessionCredential::decode(&encode(json!({"id": "u"}))).is_none());
    assert!(SessionCredential::decode("%%%").is_none());
}
