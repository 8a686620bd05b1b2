//! `X-Appwrite-Response-Format`: SDKs name the server version they were built for, and Appwrite
//! shapes its answers (and reads their parameters) the way that version did, through a chain of
//! version filters. This module compares versions exactly as Appwrite does (PHP's
//! `version_compare`, so odd values pick the same filters) and applies the filters' changes to
//! the models edgewrite serves: renamed, removed and retyped fields of users, sessions, tokens,
//! memberships, documents, functions, deployments, executions and variables, and the old
//! parameter forms (string queries, `data` for an execution's body, a variable without an id).
//! Realtime payloads are never shaped: they are always the current format, as in Appwrite.

use std::cmp::Ordering;

use serde_json::{Map, Value as Json};

use crate::error::{AppwriteError, ErrorType};
use crate::http::{Request, Response};
use crate::params::Params;

/// The version edgewrite's answers are in.
pub const SERVED: &str = "1.9.6";

/// The format a request asked for: `None` for the current one (no header, an empty value or
/// `0`, as PHP's falsy strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFormat(String);

impl ResponseFormat {
    pub fn of(req: &Request) -> Option<ResponseFormat> {
        let value = req.header("x-appwrite-response-format")?;
        (!value.is_empty() && value != "0").then(|| ResponseFormat(value.to_string()))
    }

    /// Whether the format is older than `version` (the filter for `version` applies).
    pub fn below(&self, version: &str) -> bool {
        version_compare(&self.0, version) == Ordering::Less
    }

    /// Whether an SDK built for a newer server asked (Appwrite answers in its own format and
    /// warns).
    pub fn newer_than_served(&self) -> bool {
        version_compare(&self.0, SERVED) == Ordering::Greater
    }

    /// The request's parameters as the route reads them today (the request filters).
    pub fn rewrite_params(&self, route: &str, params: &mut Params) -> Result<(), AppwriteError> {
        if self.below("1.4.0") && route == "executions.create" {
            params.rename("data", "body");
        }
        if self.below("1.5.0") && STRING_QUERY_ROUTES.contains(&route) {
            if let Some(Json::Array(queries)) = params.raw_mut("queries") {
                for query in queries.iter_mut() {
                    if let Json::String(text) = query {
                        *text = legacy_query(text)?;
                    }
                }
            }
        }
        if self.below("1.7.0") && matches!(route, "variables.create" | "variables.update") {
            params.set("secret", Json::Bool(false));
        }
        if self.below("1.9.4") && route == "variables.create" && params.raw("variableId").is_none() {
            params.set("variableId", Json::String("unique()".into()));
        }
        Ok(())
    }

    /// Shapes a JSON answer of `route` to the format (the response filters, newest first).
    pub fn shape(&self, route: &str, response: &mut Response) {
        if self.newer_than_served() {
            response.headers.set(
                "x-appwrite-warning",
                format!(
                    "The current SDK is built for Appwrite {}. However, the current Appwrite server version is {SERVED}. Please downgrade your SDK to match the Appwrite version: https://appwrite.io/docs/sdks",
                    self.0
                ),
            );
            return;
        }
        if !self.below("1.9.2") || !(200..300).contains(&response.status) {
            return;
        }
        // Only the models some filter changes are parsed at all.
        let Some(model) = model_of(route) else { return };
        let Ok(mut body) = serde_json::from_slice::<Json>(&response.body) else { return };
        let items = |body: &mut Json, key: &str, apply: &dyn Fn(&mut Map<String, Json>)| {
            if let Some(Json::Array(list)) = body.get_mut(key) {
                list.iter_mut().filter_map(Json::as_object_mut).for_each(apply);
            }
        };
        let each = |body: &mut Json, apply: &dyn Fn(&mut Map<String, Json>)| {
            if let Some(list_key) = model.list_key {
                items(body, list_key, apply);
            } else if let Some(object) = body.as_object_mut() {
                apply(object);
            }
        };
        let single = model.list_key.is_none();
        match model.kind {
            Kind::User => {
                if self.below("1.9.0") {
                    each(&mut body, &|m| remove(m, &["impersonator", "impersonatorUserId"]));
                }
                if self.below("1.5.0") {
                    each(&mut body, &|m| remove(m, &["targets", "mfa"]));
                }
            }
            Kind::Account => {
                // Appwrite's 1.5 filter matches users, not accounts: an old client's own account
                // keeps `mfa` and `targets`.
                if self.below("1.9.0") {
                    each(&mut body, &|m| remove(m, &["impersonator", "impersonatorUserId"]));
                }
            }
            Kind::Membership => {
                each(&mut body, &|m| remove(m, &["userPhone"]));
                if self.below("1.5.0") {
                    each(&mut body, &|m| remove(m, &["mfa"]));
                }
            }
            Kind::Session => {
                if self.below("1.5.0") {
                    each(&mut body, &|m| remove(m, &["factors", "secret"]));
                }
            }
            Kind::Token => {
                if self.below("1.5.0") && single {
                    each(&mut body, &|m| remove(m, &["phrase"]));
                }
            }
            Kind::Document => {
                if self.below("1.9.0") {
                    integer_sequences(&mut body);
                }
            }
            Kind::Function => {
                if self.below("1.9.0") {
                    each(&mut body, &|m| {
                        let spec = m.remove("buildSpecification").filter(|s| !s.is_null());
                        m.remove("runtimeSpecification");
                        let spec = spec.or_else(|| m.get("specification").cloned()).unwrap_or(Json::Null);
                        m.insert("specification".into(), spec);
                    });
                }
                if self.below("1.7.0") {
                    each(&mut body, &|m| {
                        let deployment =
                            m.remove("deploymentId").unwrap_or_else(|| Json::String(String::new()));
                        m.insert("deployment".into(), deployment);
                        remove(
                            m,
                            &[
                                "deploymentCreatedAt",
                                "latestDeploymentId",
                                "latestDeploymentCreatedAt",
                                "latestDeploymentStatus",
                            ],
                        );
                    });
                }
                if self.below("1.6.0") && single {
                    each(&mut body, &|m| remove(m, &["scopes", "specification"]));
                }
                if self.below("1.4.0") {
                    each(&mut body, &|m| {
                        // Schedules run on the platform's cron, whose times are not known here.
                        m.insert("schedulePrevious".into(), Json::String(String::new()));
                        m.insert("scheduleNext".into(), Json::String(String::new()));
                    });
                }
            }
            Kind::Deployment => {
                if self.below("1.7.0") {
                    each(&mut body, &|m| {
                        let size = m.remove("sourceSize").unwrap_or_else(|| Json::String(String::new()));
                        let time = m.remove("buildDuration").unwrap_or_else(|| Json::String(String::new()));
                        m.insert("size".into(), size);
                        m.insert("buildTime".into(), time);
                        remove(m, &["totalSize", "screenshotLight", "screenshotDark"]);
                    });
                }
                if self.below("1.4.0") {
                    each(&mut body, &|m| {
                        if let Some(logs) = m.remove("buildLogs") {
                            m.insert("buildStdout".into(), logs);
                            m.insert("buildStderr".into(), Json::String(String::new()));
                        }
                        if let Some(build) = m.remove("buildSize") {
                            let size = m.get("size").and_then(Json::as_i64).unwrap_or(0);
                            m.insert("size".into(), Json::from(size + build.as_i64().unwrap_or(0)));
                        }
                    });
                }
            }
            Kind::Execution => {
                if self.below("1.6.0") && single {
                    each(&mut body, &|m| remove(m, &["scheduledAt"]));
                }
                if self.below("1.4.0") {
                    each(&mut body, &|m| {
                        for (new, old) in [
                            ("responseStatusCode", "statusCode"),
                            ("responseBody", "response"),
                            ("logs", "stdout"),
                            ("errors", "stderr"),
                        ] {
                            if let Some(value) = m.remove(new).filter(|v| !v.is_null()) {
                                m.insert(old.into(), value);
                            }
                        }
                    });
                }
            }
            Kind::Variable => {
                if self.below("1.7.0") {
                    each(&mut body, &|m| remove(m, &["secret"]));
                }
                if self.below("1.4.0") {
                    each(&mut body, &|m| {
                        if let Some(id) = m.remove("resourceId") {
                            m.insert("functionId".into(), id);
                        }
                    });
                }
            }
        }
        response.body = serde_json::to_vec(&body).unwrap_or_default();
    }
}

fn remove(m: &mut Map<String, Json>, keys: &[&str]) {
    for key in keys {
        m.shift_remove(*key);
    }
}

/// 1.8's documents numbered `$sequence` as an integer, related documents too.
fn integer_sequences(value: &mut Json) {
    match value {
        Json::Object(m) => {
            if m.get("$id").is_some_and(|id| !id.is_null()) {
                if let Some(seq) = m.get_mut("$sequence").filter(|s| !s.is_null()) {
                    let n = seq
                        .as_str()
                        .and_then(|s| s.parse::<i64>().ok())
                        .or_else(|| seq.as_i64())
                        .unwrap_or(0);
                    *seq = Json::from(n);
                }
            }
            m.values_mut().for_each(integer_sequences);
        }
        Json::Array(items) => items.iter_mut().for_each(integer_sequences),
        _ => {}
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    User,
    Account,
    Membership,
    Session,
    Token,
    Document,
    Function,
    Deployment,
    Execution,
    Variable,
}

struct Model {
    kind: Kind,
    /// The items' key of a list answer; `None` for a single model.
    list_key: Option<&'static str>,
}

/// The model a route answers, among those some filter changes.
fn model_of(route: &str) -> Option<Model> {
    let one = |kind| Some(Model { kind, list_key: None });
    let list = |kind, key| Some(Model { kind, list_key: Some(key) });
    match route {
        "users.list" => list(Kind::User, "users"),
        // `users.create` and its imported-hash forms (`users.create.bcrypt`, …).
        r if r == "users.create" || r.starts_with("users.create.") => one(Kind::User),
        "users.get"
        | "users.name"
        | "users.email"
        | "users.phone"
        | "users.password"
        | "users.status"
        | "users.labels"
        | "users.verification"
        | "users.verification.phone"
        | "users.mfa" => one(Kind::User),
        "account.create"
        | "account.get"
        | "account.name"
        | "account.email"
        | "account.phone"
        | "account.password"
        | "account.prefs.update"
        | "account.status"
        | "mfa.update" => one(Kind::Account),
        "memberships.list" | "users.memberships" => list(Kind::Membership, "memberships"),
        "memberships.create" | "memberships.get" | "memberships.update" | "memberships.status" => {
            one(Kind::Membership)
        }
        "sessions.list" | "users.sessions.list" => list(Kind::Session, "sessions"),
        "sessions.email"
        | "sessions.anonymous"
        | "sessions.token"
        | "sessions.get"
        | "sessions.extend"
        | "users.sessions.create"
        | "mfa.challenge.update" => one(Kind::Session),
        "tokens.email"
        | "tokens.magic_url"
        | "tokens.phone"
        | "users.tokens.create"
        | "recovery.create"
        | "recovery.update"
        | "verification.email.create"
        | "verification.email.update"
        | "verification.phone.create"
        | "verification.phone.update" => one(Kind::Token),
        r if r.starts_with("documents.") => one(Kind::Document),
        "functions.list" => list(Kind::Function, "functions"),
        "functions.create" | "functions.get" | "functions.update" | "functions.activate" => {
            one(Kind::Function)
        }
        "deployments.list" => list(Kind::Deployment, "deployments"),
        r if r.starts_with("deployments.") && !r.ends_with("download") => one(Kind::Deployment),
        "executions.list" => list(Kind::Execution, "executions"),
        "executions.create" | "executions.get" => one(Kind::Execution),
        "variables.list" => list(Kind::Variable, "variables"),
        r if r.starts_with("variables.") => one(Kind::Variable),
        _ => None,
    }
}

/// The routes whose `queries` a pre-1.5 SDK sends in the old string form (`equal("a", [1])`),
/// as Appwrite's 1.5 request filter lists them (by the routes edgewrite names them).
const STRING_QUERY_ROUTES: &[&str] = &[
    "identities.list",
    "databases.list",
    "collections.list",
    "attributes.list",
    "indexes.list",
    "documents.list",
    "documents.get",
    "functions.list",
    "deployments.list",
    "executions.list",
    "buckets.list",
    "files.list",
    "teams.list",
    "memberships.list",
    "users.list",
];

/// One query in the pre-1.5 string form, as the JSON form today's parser reads.
fn legacy_query(text: &str) -> Result<String, AppwriteError> {
    let invalid = || AppwriteError::new(ErrorType::GeneralQueryInvalid, format!("Invalid query: {text}"));
    let open = text.find('(').ok_or_else(invalid)?;
    let method = text[..open].trim();
    if method.is_empty() || method.contains('.') || !text.trim_end().ends_with(')') {
        return Err(invalid());
    }
    let inner = &text[open + 1..text.trim_end().len() - 1];
    let args = legacy_arguments(inner).ok_or_else(invalid)?;
    let mut query = Map::new();
    query.insert("method".into(), Json::String(method.to_string()));
    let list = |v: Option<&Json>| match v {
        Some(Json::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    };
    let (attribute, values): (Option<Json>, Vec<Json>) = match method {
        "equal" | "notEqual" | "lessThan" | "lessThanEqual" | "greaterThan" | "greaterThanEqual"
        | "contains" | "search" | "isNull" | "isNotNull" | "startsWith" | "endsWith" => {
            (args.first().cloned(), list(args.get(1)))
        }
        "between" => (args.first().cloned(), args.iter().skip(1).take(2).cloned().collect()),
        "select" => (None, list(args.first())),
        "orderAsc" | "orderDesc" => (args.first().cloned(), Vec::new()),
        "limit" | "offset" | "cursorAfter" | "cursorBefore" => {
            (None, args.first().cloned().into_iter().collect())
        }
        _ => (None, Vec::new()),
    };
    if let Some(attribute) = attribute.filter(|a| a.as_str().is_some_and(|s| !s.is_empty())) {
        query.insert("attribute".into(), attribute);
    }
    if !values.is_empty() {
        query.insert("values".into(), Json::Array(values));
    }
    Ok(Json::Object(query).to_string())
}

/// The comma-separated arguments of an old string query: strings in `"` or `'` with backslash
/// escapes, numbers, `true`/`false`/`null`, and `[…]` lists of those.
fn legacy_arguments(text: &str) -> Option<Vec<Json>> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut out = Vec::new();
    let skip = |at: &mut usize| {
        while *at < chars.len() && chars[*at].is_whitespace() {
            *at += 1;
        }
    };
    fn scalar(chars: &[char], at: &mut usize) -> Option<Json> {
        match chars.get(*at)? {
            quote @ ('"' | '\'') => {
                let quote = *quote;
                *at += 1;
                let mut s = String::new();
                loop {
                    let c = *chars.get(*at)?;
                    *at += 1;
                    match c {
                        '\\' => {
                            s.push(*chars.get(*at)?);
                            *at += 1;
                        }
                        c if c == quote => return Some(Json::String(s)),
                        c => s.push(c),
                    }
                }
            }
            _ => {
                let start = *at;
                while *at < chars.len() && !matches!(chars[*at], ',' | ']' | ' ' | '\t' | '\n') {
                    *at += 1;
                }
                let word: String = chars[start..*at].iter().collect();
                match word.as_str() {
                    "true" => Some(Json::Bool(true)),
                    "false" => Some(Json::Bool(false)),
                    "null" => Some(Json::Null),
                    w => w
                        .parse::<i64>()
                        .map(Json::from)
                        .ok()
                        .or_else(|| w.parse::<f64>().ok().map(Json::from)),
                }
            }
        }
    }
    skip(&mut at);
    while at < chars.len() {
        let value = if chars[at] == '[' {
            at += 1;
            let mut items = Vec::new();
            loop {
                skip(&mut at);
                if chars.get(at) == Some(&']') {
                    at += 1;
                    break;
                }
                items.push(scalar(&chars, &mut at)?);
                skip(&mut at);
                match chars.get(at)? {
                    ',' => at += 1,
                    ']' => {
                        at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
            Json::Array(items)
        } else {
            scalar(&chars, &mut at)?
        };
        out.push(value);
        skip(&mut at);
        match chars.get(at) {
            None => break,
            Some(',') => {
                at += 1;
                skip(&mut at);
            }
            Some(_) => return None,
        }
    }
    Some(out)
}

/// PHP's `version_compare`, which Appwrite picks its filters with: odd values (`1.9`, `abc`,
/// `1.9.5-rc.1`) must pick the same filters here.
pub fn version_compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (canonical(a), canonical(b));
    let (mut pa, mut pb) = (a.split('.').peekable(), b.split('.').peekable());
    loop {
        match (pa.next(), pb.next()) {
            (Some(x), Some(y)) => {
                let order = compare_parts(x, y);
                if order != Ordering::Equal {
                    return order;
                }
            }
            (Some(x), None) => {
                return if is_number(x) { Ordering::Greater } else { compare_parts(x, "#") };
            }
            (None, Some(y)) => {
                return if is_number(y) { Ordering::Less } else { compare_parts("#", y) };
            }
            (None, None) => return Ordering::Equal,
        }
    }
}

fn is_number(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

fn compare_parts(x: &str, y: &str) -> Ordering {
    match (is_number(x), is_number(y)) {
        (true, true) => {
            let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (true, false) => special_rank("#").cmp(&special_rank(y)),
        (false, true) => special_rank(x).cmp(&special_rank("#")),
        (false, false) => special_rank(x).cmp(&special_rank(y)),
    }
}

/// PHP's order of special forms, matched by prefix: unknown words below all.
fn special_rank(form: &str) -> i32 {
    const FORMS: &[(&str, i32)] = &[
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS.iter().find(|(name, _)| form.starts_with(name)).map_or(-6, |(_, rank)| *rank)
}

/// PHP's canonical form: `-`, `_`, `+` as `.`, a `.` between a digit and a non-digit, and
/// no repeated dots.
fn canonical(version: &str) -> String {
    let mut out = String::new();
    let mut last: Option<char> = None;
    for c in version.chars() {
        let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
        if let Some(prev) = last {
            let boundary = prev != '.' && c != '.' && (prev.is_ascii_digit() != c.is_ascii_digit());
            if boundary {
                out.push('.');
            }
            if c == '.' && prev == '.' {
                continue;
            }
        }
        out.push(c);
        last = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of Appwrite's filters a value picks: the oldest threshold it is below.
    fn oldest_filter(value: &str) -> &'static str {
        let format = ResponseFormat(value.to_string());
        let thresholds = [
            ("1.4.0", "V16"),
            ("1.5.0", "V17"),
            ("1.6.0", "V18"),
            ("1.7.0", "V19"),
            ("1.8.0", "V20"),
            ("1.9.0", "V21"),
            ("1.9.1", "V22"),
            ("1.9.2", "V23"),
            ("1.9.3", "V24"),
            ("1.9.4", "V25"),
            ("1.9.5", "V26"),
        ];
        thresholds.iter().find(|(t, _)| format.below(t)).map_or("none", |(_, name)| name)
    }

    #[test]
    fn odd_values_pick_the_filters_php_would() {
        for value in [
            "1.0.0", "0.15.0", "abc", "latest", "v1.9.5", "x", "dev", "1,9,5", "-1", ".1.9.5", "1e3",
            " 1.9.5",
        ] {
            assert_eq!(oldest_filter(value), "V16", "{value:?}");
        }
        for (value, filter) in [
            ("1.4.0", "V17"),
            ("1.5.0", "V18"),
            ("1.6.0", "V19"),
            ("1.8", "V20"),
            ("1.8.0", "V21"),
            ("1.9", "V21"),
            ("1.9.x", "V21"),
            ("1.9.0", "V22"),
            ("1.9.1", "V23"),
        ] {
            assert_eq!(oldest_filter(value), filter, "{value:?}");
        }
        for value in [
            "1.9.4.1",
            "1.9.5-rc.1",
            "1.9.5-RC1",
            "1.9.5-dev",
            "1.9.5a",
            "1.9.5+build",
            "1.9.5.",
            "1.9.5x",
            "1.9.5 ",
        ] {
            assert_eq!(oldest_filter(value), "V26", "{value:?}");
        }
        for value in ["1.9.5", "1.9.6", "1.9.5.0", "1.9.5pl1", "1.9.5p", "1.09.5", "01.9.5", "1..9.5"] {
            assert_eq!(oldest_filter(value), "none", "{value:?}");
        }
        for value in ["2.0.0", "2.3.0", "1.10.0", "pl"] {
            assert!(ResponseFormat(value.into()).newer_than_served(), "{value:?}");
        }
        assert!(!ResponseFormat("1.9.6".into()).newer_than_served());
    }

    #[test]
    fn old_string_queries_become_json() {
        let cases = [
            (
                r#"equal("name", ["Ada", "Alan"])"#,
                r#"{"method":"equal","attribute":"name","values":["Ada","Alan"]}"#,
            ),
            ("equal('n', 5)", r#"{"method":"equal","attribute":"n","values":[5]}"#),
            ("limit(25)", r#"{"method":"limit","values":[25]}"#),
            ("orderDesc(\"$createdAt\")", r#"{"method":"orderDesc","attribute":"$createdAt"}"#),
            ("between(\"age\", 1, 9.5)", r#"{"method":"between","attribute":"age","values":[1,9.5]}"#),
            ("select([\"a\", \"b\"])", r#"{"method":"select","values":["a","b"]}"#),
            (r#"search("text", "it\"s")"#, r#"{"method":"search","attribute":"text","values":["it\"s"]}"#),
            ("isNull(\"x\")", r#"{"method":"isNull","attribute":"x"}"#),
            (
                "equal(\"flag\", [true, null])",
                r#"{"method":"equal","attribute":"flag","values":[true,null]}"#,
            ),
        ];
        for (old, new) in cases {
            assert_eq!(legacy_query(old).unwrap(), new, "{old}");
        }
        for bad in ["equal", "a.b(\"x\")", "equal(\"x\", [1,)", "(1)"] {
            assert_eq!(legacy_query(bad).unwrap_err().kind, ErrorType::GeneralQueryInvalid, "{bad}");
        }
    }

    fn shaped(format: &str, route: &str, body: Json) -> Json {
        let mut response = Response::json(200, &body);
        ResponseFormat(format.into()).shape(route, &mut response);
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn old_formats_see_old_models() {
        let user = serde_json::json!({"$id": "u", "targets": [], "mfa": false, "name": "n"});
        assert_eq!(shaped("1.4.0", "users.get", user.clone()), serde_json::json!({"$id": "u", "name": "n"}));
        assert_eq!(shaped("1.4.0", "account.get", user.clone()), user, "the account keeps them");
        assert_eq!(shaped("1.9.5", "users.get", user.clone()), user);
        let docs = serde_json::json!({"total": 1, "documents": [{"$id": "d", "$sequence": "7", "rel": {"$id": "r", "$sequence": "9"}}]});
        let old = shaped("1.8.0", "documents.list", docs.clone());
        assert_eq!(old["documents"][0]["$sequence"], 7);
        assert_eq!(old["documents"][0]["rel"]["$sequence"], 9);
        assert_eq!(shaped("1.9.0", "documents.list", docs.clone()), docs);
        let execution = serde_json::json!({"$id": "e", "responseStatusCode": 200, "responseBody": "b", "logs": "", "errors": "", "scheduledAt": null});
        let old = shaped("1.0.0", "executions.get", execution);
        assert_eq!(
            old,
            serde_json::json!({"$id": "e", "statusCode": 200, "response": "b", "stdout": "", "stderr": ""})
        );
    }

    #[test]
    fn a_newer_sdk_is_warned_and_answered_as_today() {
        let mut response = Response::json(200, &serde_json::json!({"$id": "u", "mfa": true}));
        let before = response.body.clone();
        ResponseFormat("2.0.0".into()).shape("users.get", &mut response);
        assert_eq!(response.body, before);
        assert!(response.headers.get("x-appwrite-warning").unwrap().contains("built for Appwrite 2.0.0"));
    }
}
