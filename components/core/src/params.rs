//! Request parameters as the SDKs send them (`appwrite-api.md` §1.2): path slots, query strings
//! with indexed arrays (`queries[0]=…`, `queries[]=…`), JSON bodies and multipart forms, merged
//! into one map and read through typed accessors that fail with Appwrite's
//! `general_argument_invalid` messages.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{AppwriteError, ErrorType};
use crate::http::Request;
use crate::ids;
use crate::limits::Limits;
use crate::multipart;

/// A file part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    pub param: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// All parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: Map<String, Value>,
    files: Vec<UploadedFile>,
    /// The route's path slots alone: what a request is *about* (its subject) is read from here,
    /// never from the merged map, where a body or query value can stand in for a slot the route
    /// does not have.
    path: Vec<(String, String)>,
}

impl Params {
    /// Merges query string, body and path parameters (path slots win, as in Appwrite).
    pub fn from_request(
        req: &Request,
        path_params: Vec<(String, String)>,
        limits: &Limits,
    ) -> Result<Params, AppwriteError> {
        let mut params = Params::default();
        params.merge_query(&req.query, limits)?;
        params.merge_body(req, limits)?;
        for (k, v) in &path_params {
            params.values.insert(k.clone(), Value::String(v.clone()));
        }
        params.path = path_params;
        Ok(params)
    }

    /// For tests and internal callers.
    pub fn from_json(values: Map<String, Value>) -> Params {
        Params { values, ..Params::default() }
    }

    /// The names of every parameter, path slots included.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// The value of the route's path slot `name`; `None` when the route has no such slot, whatever
    /// the body or query string say.
    pub fn path(&self, name: &str) -> Option<&str> {
        self.path.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn merge_query(&mut self, query: &str, limits: &Limits) -> Result<(), AppwriteError> {
        let mut arrays: BTreeMap<String, Vec<(Option<u64>, String)>> = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match split_array_key(&key) {
                Some((name, index)) => {
                    arrays.entry(name.to_string()).or_default().push((index, value.into_owned()))
                }
                None => {
                    self.values.insert(key.into_owned(), Value::String(value.into_owned()));
                }
            }
        }
        for (name, mut items) in arrays {
            if items.len() > limits.max_array_items {
                return Err(too_many_items(&name, limits));
            }
            // Indexed items in index order; `name[]` items keep arrival order after them.
            items.sort_by_key(|(i, _)| i.unwrap_or(u64::MAX));
            let list = items.into_iter().map(|(_, v)| Value::String(v)).collect();
            self.values.insert(name, Value::Array(list));
        }
        Ok(())
    }

    fn merge_body(&mut self, req: &Request, limits: &Limits) -> Result<(), AppwriteError> {
        if req.body.is_empty() {
            return Ok(());
        }
        let content_type = req.header("content-type").unwrap_or("").to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let boundary =
                multipart::boundary(req.header("content-type").unwrap_or("")).ok_or_else(|| {
                    AppwriteError::new(
                        ErrorType::GeneralArgumentInvalid,
                        "Invalid multipart body: missing boundary.",
                    )
                })?;
            for part in multipart::parse(&req.body, &boundary)? {
                self.merge_part(part, limits)?;
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let query = String::from_utf8_lossy(&req.body).into_owned();
            self.merge_query(&query, limits)?;
        } else if content_type.is_empty() || content_type.starts_with("application/json") {
            // JSON is the SDKs' default; bodies without a content type are read as JSON too.
            let value: Value = serde_json::from_slice(&req.body).map_err(|e| {
                AppwriteError::new(ErrorType::GeneralArgumentInvalid, format!("Invalid JSON body: {e}."))
            })?;
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        self.values.insert(k, v);
                    }
                }
                // DELETE calls may send `null`/`{}`; anything else is not a parameter object.
                Value::Null => {}
                _ => {
                    return Err(AppwriteError::new(
                        ErrorType::GeneralArgumentInvalid,
                        "Invalid JSON body: expected an object of parameters.",
                    ))
                }
            }
        }
        // Other content types carry no parameters (Appwrite ignores them too).
        Ok(())
    }

    fn merge_part(&mut self, part: multipart::Part, limits: &Limits) -> Result<(), AppwriteError> {
        if let Some(filename) = part.filename {
            self.files.push(UploadedFile {
                param: part.name,
                filename,
                content_type: part.content_type,
                data: part.data,
            });
            return Ok(());
        }
        let text = String::from_utf8(part.data)
            .map_err(|_| AppwriteError::invalid_param(&part.name, "Value must be valid UTF-8."))?;
        match split_array_key(&part.name) {
            Some((name, _)) => {
                let entry = self.values.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new()));
                match entry {
                    Value::Array(items) if items.len() < limits.max_array_items => {
                        items.push(Value::String(text))
                    }
                    Value::Array(_) => return Err(too_many_items(name, limits)),
                    other => *other = Value::Array(vec![Value::String(text)]),
                }
            }
            None => {
                self.values.insert(part.name, Value::String(text));
            }
        }
        Ok(())
    }

    /// Renames a parameter an older SDK sends under its old name (a new one already given wins).
    pub fn rename(&mut self, old: &str, new: &str) {
        if let Some(value) = self.values.shift_remove(old) {
            self.values.entry(new.to_string()).or_insert(value);
        }
    }

    /// Sets a parameter (an older format's fixed value or default).
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }

    pub fn raw_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.values.get_mut(name).filter(|v| !v.is_null())
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files.iter().find(|f| f.param == name)
    }

    /// An optional string of at most `max_chars` characters.
    pub fn text(&self, name: &str, max_chars: usize) -> Result<Option<String>, AppwriteError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(Some(s.clone())),
            Some(_) => Err(AppwriteError::invalid_param(
                name,
                &format!("Value must be a valid string and at most {max_chars} chars"),
            )),
        }
    }

    pub fn required_text(&self, name: &str, max_chars: usize) -> Result<String, AppwriteError> {
        self.text(name, max_chars)?.ok_or_else(|| AppwriteError::missing_param(name))
    }

    /// An optional boolean; accepts JSON booleans and the strings the SDKs put in query strings.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, AppwriteError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(_) => Err(AppwriteError::invalid_param(name, "Value must be a valid boolean")),
        }
    }

    /// An optional integer in `min..=max`; numeric strings (query strings) are accepted.
    pub fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, AppwriteError> {
        let invalid = || {
            AppwriteError::invalid_param(
                name,
                &format!("Value must be a valid range between {min} and {max}"),
            )
        };
        let n = match self.raw(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_i64().ok_or_else(invalid)?,
            Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| invalid())?,
            Some(_) => return Err(invalid()),
        };
        if (min..=max).contains(&n) {
            Ok(Some(n))
        } else {
            Err(invalid())
        }
    }

    /// An optional array of strings, each at most `max_chars` long.
    pub fn string_array(
        &self,
        name: &str,
        max_chars: usize,
        limits: &Limits,
    ) -> Result<Option<Vec<String>>, AppwriteError> {
        let invalid = || {
            AppwriteError::invalid_param(
                name,
                &format!(
                    "Value must a valid array no longer than {} items and Value must be a valid string and at most {max_chars} chars",
                    limits.max_array_items
                ),
            )
        };
        let Some(value) = self.raw(name) else { return Ok(None) };
        let Value::Array(items) = value else { return Err(invalid()) };
        if items.len() > limits.max_array_items {
            return Err(invalid());
        }
        items
            .iter()
            .map(|v| match v {
                Value::String(s) if s.chars().count() <= max_chars => Ok(s.clone()),
                _ => Err(invalid()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An optional JSON object.
    pub fn object(&self, name: &str) -> Result<Option<Map<String, Value>>, AppwriteError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            // Form bodies carry objects as JSON text.
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(map)) => Ok(Some(map)),
                _ => Err(AppwriteError::invalid_param(name, "Value must be a valid JSON object")),
            },
            Some(_) => Err(AppwriteError::invalid_param(name, "Value must be a valid JSON object")),
        }
    }

    /// A required custom id; the literal `unique()` becomes a fresh server id from `random`.
    pub fn custom_id(
        &self,
        name: &str,
        now_ms: i64,
        random: &dyn crate::ports::Random,
    ) -> Result<String, AppwriteError> {
        let value = self.required_text(name, usize::MAX).map_err(|e| {
            if self.raw(name).is_some() {
                AppwriteError::invalid_param(name, ids::CUSTOM_ID_RULE)
            } else {
                e
            }
        })?;
        if value == "unique()" {
            return Ok(ids::unique_id(now_ms, random));
        }
        if ids::is_valid_custom_id(&value) {
            Ok(value)
        } else {
            Err(AppwriteError::invalid_param(name, ids::CUSTOM_ID_RULE))
        }
    }
}

fn too_many_items(name: &str, limits: &Limits) -> AppwriteError {
    AppwriteError::invalid_param(
        name,
        &format!("Value must a valid array no longer than {} items", limits.max_array_items),
    )
}

/// `queries[3]` → `("queries", Some(3))`, `queries[]` → `("queries", None)`.
fn split_array_key(key: &str) -> Option<(&str, Option<u64>)> {
    let open = key.find('[')?;
    let inner = key[open + 1..].strip_suffix(']')?;
    let name = &key[..open];
    if name.is_empty() {
        return None;
    }
    if inner.is_empty() {
        return Some((name, None));
    }
    inner.parse::<u64>().ok().map(|i| (name, Some(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Method, Request};

    fn request(query: &str, content_type: &str, body: &[u8]) -> Request {
        let mut req = Request::from_url(Method::Post, "http://h/v1/x").unwrap();
        req.query = query.to_string();
        if !content_type.is_empty() {
            req.headers.set("content-type", content_type);
        }
        req.body = body.to_vec();
        req
    }

    fn params(req: &Request) -> Result<Params, AppwriteError> {
        Params::from_request(req, vec![], &Limits::default())
    }

    #[test]
    fn indexed_query_arrays_keep_their_order() {
        let q = "queries%5B1%5D=b&queries%5B0%5D=a&total=false&scopes[]=x&scopes[]=y";
        let p = params(&request(q, "", b"")).unwrap();
        let limits = Limits::default();
        assert_eq!(p.string_array("queries", 4096, &limits).unwrap().unwrap(), vec!["a", "b"]);
        assert_eq!(p.string_array("scopes", 10, &limits).unwrap().unwrap(), vec!["x", "y"]);
        assert_eq!(p.boolean("total").unwrap(), Some(false));
    }

    #[test]
    fn json_body_and_path_params_merge_with_path_winning() {
        let req = request("", "application/json", br#"{"name":"n","userId":"body"}"#);
        let p =
            Params::from_request(&req, vec![("userId".into(), "path".into())], &Limits::default()).unwrap();
        assert_eq!(p.required_text("name", 10).unwrap(), "n");
        assert_eq!(p.required_text("userId", 36).unwrap(), "path");
        assert_eq!(p.path("userId"), Some("path"));
    }

    #[test]
    fn a_body_or_query_value_is_never_a_path_slot() {
        let req = request("userId=query&teamId=q", "application/json", br#"{"userId":"body"}"#);
        let p = Params::from_request(&req, Vec::new(), &Limits::default()).unwrap();
        assert_eq!(p.path("userId"), None);
        assert_eq!(p.path("teamId"), None);
        assert_eq!(p.required_text("userId", 36).unwrap(), "body");
    }

    #[test]
    fn bad_json_is_an_argument_error() {
        for body in [&b"{\"a\":"[..], b"[1,2]", b"\"str\"", b"{\"a\":1}}"] {
            let err = params(&request("", "application/json", body)).unwrap_err();
            assert_eq!(err.kind, ErrorType::GeneralArgumentInvalid, "{body:?}");
        }
        // Deeply nested input is refused by the parser's recursion limit, not by a stack overflow.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(params(&request("", "application/json", deep.as_bytes())).is_err());
    }

    #[test]
    fn other_content_types_carry_no_parameters() {
        let p = params(&request("", "text/plain", b"{not json")).unwrap();
        assert!(p.raw("a").is_none());
    }

    #[test]
    fn typed_accessors_report_appwrite_messages() {
        let p = params(&request("", "application/json", br#"{"n":"x","b":"maybe","s":5}"#)).unwrap();
        assert_eq!(
            p.integer("n", 0, 10).unwrap_err().message,
            "Invalid `n` param: Value must be a valid range between 0 and 10"
        );
        assert_eq!(p.boolean("b").unwrap_err().message, "Invalid `b` param: Value must be a valid boolean");
        assert!(p.text("s", 10).is_err());
        assert_eq!(p.required_text("missing", 10).unwrap_err().message, "Param \"missing\" is not optional.");
    }

    #[test]
    fn too_many_array_items_are_refused() {
        let q: Vec<String> = (0..101).map(|i| format!("queries[{i}]=x")).collect();
        assert!(params(&request(&q.join("&"), "", b"")).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::http::{Method, Request};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_query_string_and_json_body_never_panics(query in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut req = Request::from_url(Method::Post, "http://h/v1/x").unwrap();
            req.query = query;
            req.headers.set("content-type", "application/json");
            req.body = body;
            let _ = Params::from_request(&req, vec![], &Limits::default());
        }
    }
}
