//! Attributes/columns and indexes (`appwrite-api.md` §6.1–6.3). Each attribute is a real
//! column of the collection's document table, each index a real SQLite index, so queries use
//! them. Changes are synchronous and transactional: they answer `202` with `status: available`.

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::time::ms_from_iso;
use edgewrite_core::{AppwriteError, Ctx, Response};
use serde_json::{json, Value as Json};

use crate::flavor::Flavor;
use crate::meta::{self, Attribute, Collection, Index, Kind, ATTRIBUTE_COLUMNS};

/// Most attributes per collection (SQLite allows 2000 columns; rows stay readable well below).
pub(crate) const MAX_ATTRIBUTES: usize = 400;
/// Longest string attribute (Appwrite's `longtext`: 1 GiB; here what one SQLite row holds well).
const MAX_STRING_SIZE: i64 = 1_073_741_824;

/// Appwrite's key rule for attributes and indexes: `[A-Za-z0-9][A-Za-z0-9._-]{0,35}`.
pub fn valid_key(param: &str, key: &str) -> Result<String, AppwriteError> {
    // SQLite's names for the rowid would hide it, and paging relies on it.
    let reserved = ["rowid", "oid", "_rowid_"].iter().any(|r| key.eq_ignore_ascii_case(r));
    if edgewrite_core::ids::is_valid_custom_id(key) && !reserved {
        Ok(key.to_string())
    } else {
        Err(AppwriteError::invalid_param(param, edgewrite_core::ids::CUSTOM_ID_RULE))
    }
}

/// Checks one value against an attribute; `Err` carries the structure error's detail.
pub fn check_value(attr: &Attribute, value: &Json) -> Result<Json, String> {
    let bad = |what: &str| format!("Attribute \"{}\" has invalid type. Value must be {what}", attr.key);
    match attr.kind() {
        Kind::String => {
            let Json::String(s) = value else { return Err(bad("a valid string")) };
            if attr.format.is_empty() && s.chars().count() as i64 > attr.size {
                return Err(format!(
                    "Attribute \"{}\" has invalid format. Value must be a valid string and no longer than {} chars",
                    attr.key, attr.size
                ));
            }
            let ok = match attr.format.as_str() {
                "email" => s.contains('@') && !s.contains(char::is_whitespace),
                "url" => s.starts_with("http://") || s.starts_with("https://"),
                "ip" => s.parse::<std::net::IpAddr>().is_ok(),
                "enum" => attr
                    .options
                    .get("elements")
                    .and_then(Json::as_array)
                    .is_some_and(|e| e.iter().any(|x| x.as_str() == Some(s))),
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "Attribute \"{}\" has invalid format. Value must be a valid {}",
                    attr.key, attr.format
                ));
            }
            Ok(value.clone())
        }
        Kind::Integer => {
            let n = value.as_i64().ok_or_else(|| bad("a valid integer"))?;
            let min = attr.options.get("min").and_then(Json::as_i64).unwrap_or(i64::MIN);
            let max = attr.options.get("max").and_then(Json::as_i64).unwrap_or(i64::MAX);
            if n < min || n > max {
                return Err(format!("Attribute \"{}\" has invalid format. Value must be a valid range between {min} and {max}", attr.key));
            }
            Ok(json!(n))
        }
        Kind::Float => {
            let n = value.as_f64().ok_or_else(|| bad("a valid float"))?;
            let min = attr.options.get("min").and_then(Json::as_f64).unwrap_or(f64::MIN);
            let max = attr.options.get("max").and_then(Json::as_f64).unwrap_or(f64::MAX);
            if n < min || n > max {
                return Err(format!("Attribute \"{}\" has invalid format. Value must be a valid range between {min} and {max}", attr.key));
            }
            Ok(json!(n))
        }
        Kind::Boolean => value.as_bool().map(|b| json!(i64::from(b))).ok_or_else(|| bad("a valid boolean")),
        Kind::Datetime => value
            .as_str()
            .and_then(ms_from_iso)
            .map(|ms| json!(ms))
            .ok_or_else(|| bad("a valid date in ISO 8601 format")),
        // Relationship values are links, written by the relationships module.
        Kind::Relationship => Err(bad("a relationship")),
    }
}

/// The stored form of a value for an attribute (arrays as JSON text), or the error detail.
pub fn stored_value(attr: &Attribute, value: &Json) -> Result<Json, String> {
    if value.is_null() {
        return if attr.required {
            Err(format!("Missing required attribute \"{}\"", attr.key))
        } else {
            Ok(Json::Null)
        };
    }
    if attr.array {
        let Json::Array(items) = value else {
            return Err(format!("Attribute \"{}\" must be an array", attr.key));
        };
        let checked: Result<Vec<Json>, String> = items.iter().map(|v| check_value(attr, v)).collect();
        // Booleans in arrays stay JSON booleans, like the input.
        let checked: Vec<Json> = checked?
            .into_iter()
            .zip(items)
            .map(|(c, orig)| if orig.is_boolean() { orig.clone() } else { c })
            .collect();
        return Ok(Json::String(Json::Array(checked).to_string()));
    }
    check_value(attr, value)
}

/// The wire form of a stored column value.
pub fn wire_value(attr: &Attribute, stored: &Value) -> Json {
    if attr.array {
        return stored.as_str().and_then(|s| serde_json::from_str::<Json>(s).ok()).map_or(Json::Null, |v| {
            match (attr.kind(), v) {
                (Kind::Datetime, Json::Array(items)) => Json::Array(
                    items
                        .into_iter()
                        .map(|i| {
                            i.as_i64().map_or(Json::Null, |ms| json!(edgewrite_core::time::iso_from_ms(ms)))
                        })
                        .collect(),
                ),
                (_, v) => v,
            }
        });
    }
    match (attr.kind(), stored) {
        (_, Value::Null) => Json::Null,
        (Kind::Boolean, v) => json!(v.as_i64() == Some(1)),
        (Kind::Datetime, v) => {
            v.as_i64().map_or(Json::Null, |ms| json!(edgewrite_core::time::iso_from_ms(ms)))
        }
        (Kind::Integer, v) => v.as_i64().map_or(Json::Null, |n| json!(n)),
        (Kind::Float, Value::Real(f)) => json!(f),
        (Kind::Float, v) => v.as_i64().map_or(Json::Null, |n| json!(n as f64)),
        (Kind::String | Kind::Relationship, v) => v.as_str().map_or(Json::Null, |s| json!(s)),
    }
}

/// The SQL column type for an attribute.
fn column_type(attr: &Attribute) -> &'static str {
    if attr.array {
        return "TEXT";
    }
    match attr.kind() {
        Kind::String => "TEXT",
        Kind::Integer | Kind::Boolean | Kind::Datetime => "INTEGER",
        Kind::Float => "REAL",
        Kind::Relationship => "TEXT",
    }
}

/// Whether `kind` names an attribute kind (a path segment of the attribute routes).
pub fn is_kind(kind: &str) -> bool {
    KINDS.contains(&kind)
}

const KINDS: &[&str] = &[
    "string",
    "varchar",
    "text",
    "mediumtext",
    "longtext",
    "email",
    "ip",
    "url",
    "enum",
    "integer",
    "bigint",
    "float",
    "boolean",
    "datetime",
    "relationship",
];

/// Builds an attribute of path kind `kind` from the request (create, or update of `existing`).
fn attribute_from_params(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    kind: &str,
    existing: Option<&Attribute>,
) -> Result<Attribute, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let key = match existing {
        Some(a) => a.key.clone(),
        None => valid_key("key", &ctx.params.required_text("key", 36)?)?,
    };
    let (type_name, format, default_size) = match kind {
        "string" | "varchar" => (kind, "", 0),
        "text" => ("text", "", 65_535),
        "mediumtext" => ("mediumtext", "", 16_777_215),
        "longtext" => ("longtext", "", MAX_STRING_SIZE),
        "email" | "ip" | "url" | "enum" => ("string", kind, 0),
        "integer" | "bigint" => (kind, "", 0),
        "float" => ("double", "", 0),
        "boolean" => ("boolean", "", 0),
        "datetime" => ("datetime", "datetime", 0),
        _ => return Err(edgewrite_core::ErrorType::GeneralRouteNotFound.into()),
    };
    let required = ctx.params.boolean("required")?.ok_or_else(|| AppwriteError::missing_param("required"))?;
    let array = existing.map_or(Ok(Some(false)), |a| Ok::<_, AppwriteError>(Some(a.array)))?.unwrap_or(false);
    let array = if existing.is_none() { ctx.params.boolean("array")?.unwrap_or(array) } else { array };
    let size = match kind {
        "string" | "varchar" => match ctx.params.integer("size", 1, MAX_STRING_SIZE)? {
            Some(s) => s,
            None => existing.map(|a| a.size).ok_or_else(|| AppwriteError::missing_param("size"))?,
        },
        _ => default_size,
    };
    let mut options = existing.map_or(json!({}), |a| a.options.clone());
    match kind {
        "integer" | "bigint" => {
            let min = ctx.params.integer("min", i64::MIN, i64::MAX)?;
            let max = ctx.params.integer("max", i64::MIN, i64::MAX)?;
            if let Some(min) = min {
                options["min"] = json!(min);
            }
            if let Some(max) = max {
                options["max"] = json!(max);
            }
            options.as_object_mut().map(|o| o.entry("min").or_insert(json!(i64::MIN)).clone());
            options.as_object_mut().map(|o| o.entry("max").or_insert(json!(i64::MAX)).clone());
        }
        "float" => {
            let num = |name: &str| -> Result<Option<f64>, AppwriteError> {
                match ctx.params.raw(name) {
                    None | Some(Json::Null) => Ok(None),
                    Some(v) => v
                        .as_f64()
                        .map(Some)
                        .ok_or_else(|| AppwriteError::invalid_param(name, "Value must be a valid float")),
                }
            };
            if let Some(min) = num("min")? {
                options["min"] = json!(min);
            }
            if let Some(max) = num("max")? {
                options["max"] = json!(max);
            }
            options.as_object_mut().map(|o| o.entry("min").or_insert(json!(-f64::MAX)).clone());
            options.as_object_mut().map(|o| o.entry("max").or_insert(json!(f64::MAX)).clone());
        }
        "enum" => {
            if let Some(elements) = ctx.params.string_array("elements", 255, &ctx.config.limits)? {
                if elements.is_empty() {
                    return Err(AppwriteError::invalid_param(
                        "elements",
                        "Value must be a non-empty array of strings",
                    ));
                }
                options["elements"] = json!(elements);
            } else if existing.is_none() {
                return Err(AppwriteError::missing_param("elements"));
            }
        }
        _ => {}
    }
    if let (Some(min), Some(max)) =
        (options.get("min").and_then(Json::as_f64), options.get("max").and_then(Json::as_f64))
    {
        if min > max {
            return Err(AppwriteError::invalid_param(
                "min",
                "Minimum value must be lesser than maximum value",
            ));
        }
    }
    let mut attribute = Attribute {
        key,
        type_name: type_name.to_string(),
        format: format.to_string(),
        size,
        required,
        array,
        default: Json::Null,
        options,
        status: "available".into(),
        created_at: existing.map_or(now, |a| a.created_at),
        updated_at: now,
    };
    let default = ctx.params.raw("default").cloned().unwrap_or(Json::Null);
    if !default.is_null() {
        if required {
            return Err(flavor.default_unsupported());
        }
        if array {
            return Err(AppwriteError::invalid_param(
                "default",
                "Cannot set default value for array attributes",
            ));
        }
        check_value(&attribute, &default)
            .map_err(|detail| AppwriteError::invalid_param("default", &detail))?;
        attribute.default = default;
    }
    Ok(attribute)
}

fn attribute_row(collection: &Collection, a: &Attribute) -> Statement {
    Statement::new(
        format!("INSERT INTO attributes (collection_seq, {ATTRIBUTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        vec![
            Value::Integer(collection.seq),
            a.key.clone().into(),
            a.type_name.clone().into(),
            a.format.clone().into(),
            Value::Integer(a.size),
            Value::Integer(i64::from(a.required)),
            Value::Integer(i64::from(a.array)),
            if a.default.is_null() { Value::Null } else { a.default.to_string().into() },
            a.options.to_string().into(),
            a.status.clone().into(),
            Value::Integer(a.created_at),
            Value::Integer(a.updated_at),
        ],
    )
}

/// `POST …/attributes/{kind}` (`…/columns/{kind}`): 202 with the attribute, already available.
pub async fn create(ctx: &Ctx<'_>, flavor: Flavor, kind: &str) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let (attribute, batch) = plan_attribute(ctx, flavor, &collection, kind)?;
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(_) => flavor.attribute_exists(),
        // A concurrent create of the same column.
        e if e.to_string().contains("duplicate column") => flavor.attribute_exists(),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::json(202, &attribute.to_json(flavor)))
}

/// The attribute the request (`ctx.params`) describes, and the statements that add it to the
/// collection.
pub fn plan_attribute(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    collection: &Collection,
    kind: &str,
) -> Result<(Attribute, Vec<Statement>), AppwriteError> {
    let attribute = attribute_from_params(ctx, flavor, kind, None)?;
    // SQLite column names are case-insensitive: `Title` and `title` cannot both exist.
    if collection.attributes.iter().any(|a| a.key.eq_ignore_ascii_case(&attribute.key)) {
        return Err(flavor.attribute_exists());
    }
    if collection.attributes.len() >= MAX_ATTRIBUTES {
        return Err(flavor.limit_exceeded(&format!(
            "The maximum number of attributes ({MAX_ATTRIBUTES}) has been reached."
        )));
    }
    let table = collection.docs_table();
    let mut batch = vec![
        attribute_row(collection, &attribute),
        Statement::new(
            format!("ALTER TABLE {table} ADD COLUMN {} {}", attribute.column(), column_type(&attribute)),
            vec![],
        ),
    ];
    // Existing documents take the default, as if they had been created with it.
    if !attribute.default.is_null() {
        let stored = check_value(&attribute, &attribute.default).unwrap_or(Json::Null);
        batch.push(Statement::new(
            format!("UPDATE {table} SET {} = json_extract(?, '$[0]')", attribute.column()),
            vec![json!([stored]).to_string().into()],
        ));
    }
    Ok((attribute, batch))
}

/// `PATCH …/attributes/{kind}/{key}`: required, default and the kind's limits.
pub async fn update(ctx: &Ctx<'_>, flavor: Flavor, kind: &str) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let key = ctx.params.required_text("key", 36)?;
    let existing = collection.attribute(&key).ok_or_else(|| flavor.attribute_not_found())?;
    let new_key = match ctx.params.text("newKey", 36)?.filter(|k| !k.is_empty() && *k != key) {
        Some(k) => {
            let k = valid_key("newKey", &k)?;
            if collection.attributes.iter().any(|a| a.key.eq_ignore_ascii_case(&k) && a.key != key) {
                return Err(flavor.attribute_exists());
            }
            Some(k)
        }
        None => None,
    };
    if kind == "relationship" || !existing.stored() {
        return Err(flavor.type_invalid("The attribute kind in the path does not match the attribute"));
    }
    let mut attribute = attribute_from_params(ctx, flavor, kind, Some(existing))?;
    if attribute.type_name != existing.type_name || attribute.format != existing.format {
        return Err(flavor.type_invalid("The attribute kind in the path does not match the attribute"));
    }
    // Guarded: an attribute deleted meanwhile is not brought back without its column.
    let mut batch = vec![Statement::new(
        "UPDATE attributes SET required = ?, size = ?, default_value = ?, options = ?, updated_at = ?
         WHERE collection_seq = ? AND key = ?",
        vec![
            Value::Integer(i64::from(attribute.required)),
            Value::Integer(attribute.size),
            if attribute.default.is_null() { Value::Null } else { attribute.default.to_string().into() },
            attribute.options.to_string().into(),
            Value::Integer(attribute.updated_at),
            Value::Integer(collection.seq),
            attribute.key.clone().into(),
        ],
    )
    .expect_changes(1)];
    if let Some(new_key) = &new_key {
        // SQLite rewrites the indexes over the column; the index metadata follows here.
        batch.push(Statement::new(
            format!(
                "ALTER TABLE {} RENAME COLUMN {} TO \"{new_key}\"",
                collection.docs_table(),
                attribute.column()
            ),
            vec![],
        ));
        batch.push(Statement::new(
            "UPDATE attributes SET key = ? WHERE collection_seq = ? AND key = ?",
            vec![new_key.clone().into(), Value::Integer(collection.seq), key.clone().into()],
        ));
        for index in collection.indexes.iter().filter(|i| i.attributes.contains(&key)) {
            let renamed: Vec<&str> = index
                .attributes
                .iter()
                .map(|a| if *a == key { new_key.as_str() } else { a.as_str() })
                .collect();
            batch.push(Statement::new(
                "UPDATE indexes SET attributes = ? WHERE collection_seq = ? AND key = ?",
                vec![
                    json!(renamed).to_string().into(),
                    Value::Integer(collection.seq),
                    index.key.clone().into(),
                ],
            ));
        }
        attribute.key = new_key.clone();
    }
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::GuardFailed { .. } => flavor.attribute_not_found(),
        e if e.to_string().contains("duplicate column") => flavor.attribute_exists(),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::json(200, &attribute.to_json(flavor)))
}

/// `GET …/attributes`
pub async fn list(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let items: Vec<Json> =
        collection.attributes.iter().filter(|a| a.visible()).map(|a| a.to_json(flavor)).collect();
    Ok(Response::json(200, &json!({"total": items.len(), flavor.attributes_key(): items})))
}

/// `GET …/attributes/{key}`
pub async fn get(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let key = ctx.params.required_text("key", 36)?;
    let attribute = collection.attribute(&key).ok_or_else(|| flavor.attribute_not_found())?;
    Ok(Response::json(200, &attribute.to_json(flavor)))
}

fn index_name(collection: &Collection, key: &str) -> String {
    format!("\"_db_idx_{}_{key}\"", collection.seq)
}

/// The FTS5 table behind a fulltext index (rowid = the document's `_seq`).
pub fn fts_table(collection: &Collection, key: &str) -> String {
    format!("\"_db_fts_{}_{key}\"", collection.seq)
}

/// The triggers keeping a fulltext index's FTS5 table current: every write path (single,
/// bulk, transactions) is covered without each having to remember it.
const FTS_TRIGGERS: [&str; 3] = ["ai", "au", "ad"];

fn fts_trigger(collection: &Collection, key: &str, which: &str) -> String {
    format!("\"_db_fts_{}_{key}_{which}\"", collection.seq)
}

/// Statements creating the FTS5 table of fulltext index `key` over `column`, filling it from
/// the existing documents, and the triggers that keep it current.
fn create_fts(collection: &Collection, key: &str, column: &str) -> Vec<Statement> {
    let fts = fts_table(collection, key);
    let docs = collection.docs_table();
    let [ai, au, ad] = FTS_TRIGGERS.map(|w| fts_trigger(collection, key, w));
    [
        format!("CREATE VIRTUAL TABLE {fts} USING fts5(body)"),
        format!(
            "INSERT INTO {fts} (rowid, body) SELECT _seq, {column} FROM {docs} WHERE {column} IS NOT NULL"
        ),
        format!(
            "CREATE TRIGGER {ai} AFTER INSERT ON {docs} WHEN new.{column} IS NOT NULL
             BEGIN INSERT INTO {fts} (rowid, body) VALUES (new._seq, new.{column}); END"
        ),
        format!(
            "CREATE TRIGGER {au} AFTER UPDATE OF {column} ON {docs}
             BEGIN
               DELETE FROM {fts} WHERE rowid = old._seq;
               INSERT INTO {fts} (rowid, body) SELECT new._seq, new.{column} WHERE new.{column} IS NOT NULL;
             END"
        ),
        format!(
            "CREATE TRIGGER {ad} AFTER DELETE ON {docs} BEGIN DELETE FROM {fts} WHERE rowid = old._seq; END"
        ),
    ]
    .into_iter()
    .map(|sql| Statement::new(sql, vec![]))
    .collect()
}

/// Statements dropping the SQL objects behind an index.
fn drop_index(collection: &Collection, index: &Index) -> Vec<Statement> {
    if index.kind == "fulltext" {
        let mut out: Vec<Statement> = FTS_TRIGGERS
            .iter()
            .map(|w| {
                Statement::new(
                    format!("DROP TRIGGER IF EXISTS {}", fts_trigger(collection, &index.key, w)),
                    vec![],
                )
            })
            .collect();
        out.push(Statement::new(
            format!("DROP TABLE IF EXISTS {}", fts_table(collection, &index.key)),
            vec![],
        ));
        out
    } else {
        vec![Statement::new(format!("DROP INDEX IF EXISTS {}", index_name(collection, &index.key)), vec![])]
    }
}

/// `DELETE …/attributes/{key}`: the indexes that use it go too; the data is dropped.
pub async fn delete(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let key = ctx.params.required_text("key", 36)?;
    let attribute = collection.attribute(&key).ok_or_else(|| flavor.attribute_not_found())?;
    if let Some(relation) = attribute.relation() {
        let batch = crate::relationships::drop_statements(&relation);
        ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
        return Ok(Response::no_content());
    }
    let mut batch = Vec::new();
    for index in collection.indexes.iter().filter(|i| i.attributes.iter().any(|a| a == &key)) {
        batch.extend(drop_index(&collection, index));
        batch.push(Statement::new(
            "DELETE FROM indexes WHERE collection_seq = ? AND key = ?",
            vec![Value::Integer(collection.seq), index.key.clone().into()],
        ));
    }
    batch.push(Statement::new(
        format!("ALTER TABLE {} DROP COLUMN {}", collection.docs_table(), attribute.column()),
        vec![],
    ));
    batch.push(Statement::new(
        "DELETE FROM attributes WHERE collection_seq = ? AND key = ?",
        vec![Value::Integer(collection.seq), key.into()],
    ));
    ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    Ok(Response::no_content())
}

/// `POST …/indexes` {key, type, attributes|columns, orders?, lengths?}: `key` and `unique`.
pub async fn create_index(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let (index, batch) = plan_index(ctx, flavor, &collection)?;
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(m) if m.contains("indexes.") => flavor.index_exists(),
        e if e.to_string().contains("already exists") => flavor.index_exists(),
        StoreError::Constraint(_) => {
            flavor.index_invalid("Existing documents hold duplicate values for this unique index")
        }
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::json(202, &index.to_json(flavor)))
}

/// The index the request (`ctx.params`) describes, and the statements that build it.
pub fn plan_index(
    ctx: &Ctx<'_>,
    flavor: Flavor,
    collection: &Collection,
) -> Result<(Index, Vec<Statement>), AppwriteError> {
    let key = valid_key("key", &ctx.params.required_text("key", 36)?)?;
    let kind = ctx.params.required_text("type", 16)?;
    let attributes = ctx
        .params
        .string_array(flavor.attributes_key(), 36, &ctx.config.limits)?
        .ok_or_else(|| AppwriteError::missing_param(flavor.attributes_key()))?;
    let orders = ctx.params.string_array("orders", 4, &ctx.config.limits)?.unwrap_or_default();
    let lengths = match ctx.params.raw("lengths") {
        None | Some(Json::Null) => json!([]),
        Some(Json::Array(items)) if items.iter().all(|i| i.is_u64() || i.is_null()) => json!(items),
        Some(_) => return Err(AppwriteError::invalid_param("lengths", "Value must be an array of integers")),
    };
    if !matches!(kind.as_str(), "key" | "unique" | "fulltext") {
        return Err(flavor.index_invalid(&format!(
            "Index type \"{kind}\" is not supported yet: use key, unique or fulltext"
        )));
    }
    if attributes.is_empty() {
        return Err(flavor.index_invalid("An index needs at least one attribute"));
    }
    if collection.indexes.iter().any(|i| i.key.eq_ignore_ascii_case(&key)) {
        return Err(flavor.index_exists());
    }
    let mut columns = Vec::new();
    for (i, name) in attributes.iter().enumerate() {
        let column = match name.as_str() {
            "$id" => "_id".to_string(),
            "$createdAt" => "_created_at".to_string(),
            "$updatedAt" => "_updated_at".to_string(),
            _ => {
                let attr = collection.attribute(name).ok_or_else(|| flavor.attribute_unknown(name))?;
                if !attr.stored() {
                    return Err(flavor.index_invalid(&format!(
                        "Relationship attribute \"{name}\" cannot be indexed: its links are indexed already"
                    )));
                }
                if attr.array {
                    return Err(
                        flavor.index_invalid(&format!("Array attribute \"{name}\" cannot be indexed"))
                    );
                }
                attr.column()
            }
        };
        let order = match orders.get(i).map(|o| o.to_ascii_uppercase()).as_deref() {
            None | Some("ASC") => "ASC",
            Some("DESC") => "DESC",
            Some(other) => {
                return Err(AppwriteError::invalid_param("orders", &format!("Invalid order \"{other}\"")))
            }
        };
        columns.push(format!("{column} {order}"));
    }
    let now = ctx.ports.clock.now_ms();
    let index = Index {
        key: key.clone(),
        kind: kind.clone(),
        attributes: attributes.clone(),
        orders: orders.iter().map(|o| json!(o.to_ascii_uppercase())).collect(),
        lengths: lengths.as_array().cloned().unwrap_or_default(),
        status: "available".into(),
        created_at: now,
        updated_at: now,
    };
    let unique = if kind == "unique" { "UNIQUE " } else { "" };
    let build = if kind == "fulltext" {
        let attr = match attributes.as_slice() {
            [one] => collection.attribute(one).filter(|a| a.kind() == Kind::String && !a.array),
            _ => None,
        }
        .ok_or_else(|| flavor.index_invalid("A fulltext index covers exactly one string attribute"))?;
        create_fts(collection, &key, &attr.column())
    } else {
        vec![Statement::new(
            format!(
                "CREATE {unique}INDEX {} ON {} ({})",
                index_name(collection, &key),
                collection.docs_table(),
                columns.join(", ")
            ),
            vec![],
        )]
    };
    let mut batch = vec![
            Statement::new(
                "INSERT INTO indexes (collection_seq, key, type, attributes, orders, lengths, status, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, 'available', ?, ?)",
                vec![
                    Value::Integer(collection.seq),
                    key.clone().into(),
                    kind.into(),
                    json!(attributes).to_string().into(),
                    json!(index.orders).to_string().into(),
                    lengths.to_string().into(),
                    Value::Integer(now),
                    Value::Integer(now),
                ],
            ),
    ];
    batch.extend(build);
    Ok((index, batch))
}

/// `GET …/indexes`
pub async fn list_indexes(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let items: Vec<Json> = collection.indexes.iter().map(|i| i.to_json(flavor)).collect();
    Ok(Response::json(200, &json!({"total": items.len(), "indexes": items})))
}

/// `GET …/indexes/{key}`
pub async fn get_index(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let key = ctx.params.required_text("key", 36)?;
    let index = collection.indexes.iter().find(|i| i.key == key).ok_or_else(|| flavor.index_not_found())?;
    Ok(Response::json(200, &index.to_json(flavor)))
}

/// `DELETE …/indexes/{key}`
pub async fn delete_index(ctx: &Ctx<'_>, flavor: Flavor) -> Result<Response, AppwriteError> {
    let (_, collection) = meta::load_collection(ctx, flavor).await?;
    let key = ctx.params.required_text("key", 36)?;
    let index = collection.indexes.iter().find(|i| i.key == key).ok_or_else(|| flavor.index_not_found())?;
    let mut batch = drop_index(&collection, index);
    batch.push(Statement::new(
        "DELETE FROM indexes WHERE collection_seq = ? AND key = ?",
        vec![Value::Integer(collection.seq), key.into()],
    ));
    ctx.ports.sql.batch(batch).await.map_err(AppwriteError::internal)?;
    Ok(Response::no_content())
}
