//! Restoring what a migrated resource had that the Appwrite API lets no one set: its
//! `$createdAt` and `$updatedAt`, a user's `passwordUpdate`, a membership's `invited` and
//! `joined`, and ids the server otherwise makes. edgewrite-only routes, `PATCH
//! {resource}/system-fields` with the `migrations.write` scope, which the migration CLI calls
//! after writing each resource through the ordinary routes (README "Migrating to edgewrite").
//!
//! A parameter that is not one of the resource's system fields is refused, so a client that
//! asks for more than this server restores learns it, rather than the field being dropped.

use crate::error::AppwriteError;
use crate::params::Params;
use crate::ports::Value;
use crate::time::ms_from_iso;
use serde_json::Value as Json;

/// One restorable field: the model's name for it and the column that holds it.
#[derive(Debug, Clone, Copy)]
pub struct SystemField {
    pub param: &'static str,
    pub column: &'static str,
    /// An empty string stores NULL (a user who never set a password).
    pub nullable: bool,
}

impl SystemField {
    pub const fn time(param: &'static str, column: &'static str) -> SystemField {
        SystemField { param, column, nullable: false }
    }

    pub const fn optional_time(param: &'static str, column: &'static str) -> SystemField {
        SystemField { param, column, nullable: true }
    }
}

/// Every resource's two times.
pub const TIMES: [SystemField; 2] =
    [SystemField::time("$createdAt", "created_at"), SystemField::time("$updatedAt", "updated_at")];

/// How far ahead of the server's clock a restored time may be: a source with a clock a little
/// fast still moves, but no one dates an invitation or a password change into the future.
const FUTURE_SLACK_MS: i64 = 5 * 60 * 1000;

/// `column = ?` assignments with their values, for the fields of `fields` that `params` holds.
/// Any other parameter, apart from the route's path slots and the names in `also`, is refused,
/// as is a time after `now_ms`.
pub fn assignments(
    params: &Params,
    fields: &[SystemField],
    also: &[&str],
    now_ms: i64,
) -> Result<Vec<(&'static str, Value)>, AppwriteError> {
    for name in params.names() {
        let known = fields.iter().any(|f| f.param == name) || also.contains(&name);
        if !known && params.path(name).is_none() {
            return Err(AppwriteError::invalid_param(
                name,
                "Value is not a system field this server restores",
            ));
        }
    }
    let mut out = Vec::new();
    for field in fields {
        let Some(raw) = params.raw(field.param) else { continue };
        let invalid =
            || AppwriteError::invalid_param(field.param, "Value must be valid date in ISO 8601 format");
        let value = match raw {
            Json::String(text) if text.is_empty() && field.nullable => Value::Null,
            Json::String(text) => {
                let ms = ms_from_iso(text).ok_or_else(invalid)?;
                if ms > now_ms + FUTURE_SLACK_MS {
                    return Err(AppwriteError::invalid_param(field.param, "Value must not be in the future"));
                }
                Value::Integer(ms)
            }
            _ => return Err(invalid()),
        };
        out.push((field.column, value));
    }
    Ok(out)
}

/// The objects of the array parameter `name` (each restored on its own), empty when absent.
pub fn items(params: &Params, name: &str) -> Result<Vec<serde_json::Map<String, Json>>, AppwriteError> {
    let invalid = || AppwriteError::invalid_param(name, "Value must be an array of objects");
    match params.raw(name) {
        None => Ok(Vec::new()),
        Some(Json::Array(items)) => {
            items.iter().map(|item| item.as_object().cloned().ok_or_else(invalid)).collect()
        }
        Some(_) => Err(invalid()),
    }
}

/// The non-empty text member `key` of an item of the array parameter `name`.
pub fn item_text<'a>(
    item: &'a serde_json::Map<String, Json>,
    name: &str,
    key: &str,
) -> Result<&'a str, AppwriteError> {
    item.get(key)
        .and_then(Json::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AppwriteError::invalid_param(name, &format!("Each item needs \"{key}\"")))
}

/// [`assignments`] for one item of an array parameter, whose other members are `keys`.
pub fn item_assignments(
    item: &serde_json::Map<String, Json>,
    fields: &[SystemField],
    keys: &[&str],
    now_ms: i64,
) -> Result<Vec<(&'static str, Value)>, AppwriteError> {
    assignments(&Params::from_json(item.clone()), fields, keys, now_ms)
}

/// `UPDATE {table} SET … WHERE {key}` for `assignments`. With nothing to set it changes
/// nothing but still matches the row, so `expect_changes(1)` says whether the row exists.
pub fn update(
    table: &str,
    assignments: Vec<(&'static str, Value)>,
    key: &str,
    key_values: Vec<Value>,
) -> crate::ports::Statement {
    let set: Vec<String> = if assignments.is_empty() {
        vec!["created_at = created_at".into()]
    } else {
        assignments.iter().map(|(column, _)| format!("{column} = ?")).collect()
    };
    let mut values: Vec<Value> = assignments.into_iter().map(|(_, v)| v).collect();
    values.extend(key_values);
    crate::ports::Statement::new(format!("UPDATE {table} SET {} WHERE {key}", set.join(", ")), values)
}

/// Restores `fields` on the one row of `table` that `key` matches: 204, or `missing` when
/// there is no such row. Only API keys reach the routes (their scope is `migrations.write`).
pub async fn restore_row(
    ctx: &crate::Ctx<'_>,
    fields: &[SystemField],
    table: &str,
    key: &str,
    key_values: Vec<Value>,
    missing: crate::ErrorType,
) -> Result<crate::Response, AppwriteError> {
    let set = assignments(&ctx.params, fields, &[], ctx.ports.clock.now_ms())?;
    let statement = update(table, set, key, key_values);
    ctx.ports.sql.batch(vec![statement.expect_changes(1)]).await.map_err(|e| match e {
        crate::ports::StoreError::GuardFailed { .. } => AppwriteError::from(missing),
        other => AppwriteError::internal(other),
    })?;
    Ok(crate::Response::no_content())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn params(body: serde_json::Value) -> Params {
        Params::from_json(body.as_object().unwrap().clone())
    }

    #[test]
    fn times_become_milliseconds_and_unknown_fields_are_refused() {
        let set =
            assignments(&params(json!({ "$createdAt": "2024-01-02T03:04:05.678+00:00" })), &TIMES, &[], NOW)
                .unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set[0].0, "created_at");
        assert!(matches!(set[0].1, Value::Integer(1_704_164_645_678)));
        assert!(assignments(&params(json!({ "$createdAt": "yesterday" })), &TIMES, &[], NOW).is_err());
        assert!(assignments(&params(json!({ "$createdAt": 5 })), &TIMES, &[], NOW).is_err());
        let err =
            assignments(&params(json!({ "accessedAt": "2024-01-02T03:04:05.678+00:00" })), &TIMES, &[], NOW)
                .unwrap_err();
        assert!(err.to_string().contains("accessedAt"), "{err}");
        assert!(assignments(&params(json!({ "targets": [] })), &TIMES, &["targets"], NOW).is_ok());
        let future = json!({ "$createdAt": crate::time::iso_from_ms(NOW + 3_600_000) });
        assert!(assignments(&params(future), &TIMES, &[], NOW).is_err(), "an hour ahead");
    }

    #[test]
    fn an_optional_time_may_be_cleared() {
        let fields = [SystemField::optional_time("passwordUpdate", "password_updated_at")];
        let set = assignments(&params(json!({ "passwordUpdate": "" })), &fields, &[], NOW).unwrap();
        assert!(matches!(set[..], [("password_updated_at", Value::Null)]));
        assert!(assignments(&params(json!({ "passwordUpdate": null })), &fields, &[], NOW)
            .unwrap()
            .is_empty());
        assert!(assignments(&params(json!({ "$createdAt": "" })), &TIMES, &[], NOW).is_err());
    }

    #[test]
    fn nothing_to_set_still_matches_the_row() {
        let statement = update("users", Vec::new(), "id = ?", vec!["u".into()]);
        assert_eq!(statement.sql, "UPDATE users SET created_at = created_at WHERE id = ?");
        let statement = update("users", vec![("created_at", Value::Integer(1))], "id = ?", vec!["u".into()]);
        assert_eq!(statement.sql, "UPDATE users SET created_at = ? WHERE id = ?");
        assert_eq!(statement.params.len(), 2);
    }
}
