//! What a migration carries of each resource: the API's models, reduced to what a server can
//! write back, through the Appwrite REST API or (the system fields: times, server-made ids)
//! edgewrite's `…/system-fields` routes. These records are also the lines of a dump, so two
//! dumps of projects with the same content and history are byte for byte the same (keys
//! sorted).

use serde_json::{json, Map, Value as Json};

fn pick(model: &Json, keys: &[&str]) -> Json {
    let mut out = Map::new();
    for key in keys {
        if let Some(value) = model.get(*key) {
            out.insert((*key).to_string(), value.clone());
        }
    }
    Json::Object(out)
}

pub fn user(model: &Json) -> Json {
    let mut record = pick(
        model,
        &[
            "$id",
            "$createdAt",
            "$updatedAt",
            "registration",
            "passwordUpdate",
            "name",
            "email",
            "phone",
            "emailVerification",
            "phoneVerification",
            "status",
            "labels",
            "prefs",
            "mfa",
            "password",
            "hash",
            "hashOptions",
        ],
    );
    // The email and phone targets follow the user's email and phone (their ids and times are
    // system fields); push targets are created as they are (without their messaging provider,
    // which does not move).
    let targets: Vec<Json> = model["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            pick(t, &["$id", "$createdAt", "$updatedAt", "providerType", "providerId", "identifier", "name"])
        })
        .collect();
    record["targets"] = Json::Array(targets);
    record
}

pub fn team(model: &Json) -> Json {
    pick(model, &["$id", "$createdAt", "$updatedAt", "name", "prefs"])
}

/// A membership by team and user; its id and times are system fields.
pub fn membership(model: &Json) -> Json {
    pick(
        model,
        &["$id", "$createdAt", "$updatedAt", "teamId", "userId", "roles", "confirm", "invited", "joined"],
    )
}

pub fn database(model: &Json) -> Json {
    pick(model, &["$id", "$createdAt", "$updatedAt", "name", "enabled"])
}

fn attribute(model: &Json) -> Json {
    pick(
        model,
        &[
            "key",
            "$createdAt",
            "$updatedAt",
            "type",
            "required",
            "array",
            "size",
            "default",
            "min",
            "max",
            "format",
            "elements",
            "relatedCollection",
            "relationType",
            "twoWay",
            "twoWayKey",
            "onDelete",
            "side",
        ],
    )
}

fn index(model: &Json) -> Json {
    pick(model, &["key", "$createdAt", "$updatedAt", "type", "attributes", "orders"])
}

pub fn collection(database_id: &str, model: &Json) -> Json {
    let mut record = pick(
        model,
        &["$id", "$createdAt", "$updatedAt", "name", "$permissions", "documentSecurity", "enabled"],
    );
    record["databaseId"] = json!(database_id);
    record["attributes"] =
        Json::Array(model["attributes"].as_array().into_iter().flatten().map(attribute).collect());
    record["indexes"] = Json::Array(model["indexes"].as_array().into_iter().flatten().map(index).collect());
    record
}

/// A document as a server writes it back: its attributes plus `$id`, `$permissions`,
/// `$createdAt` and `$updatedAt`.
pub fn document(model: &Json) -> Json {
    let mut out = Map::new();
    for (key, value) in model.as_object().into_iter().flatten() {
        let system = key.starts_with('$');
        if !system || matches!(key.as_str(), "$id" | "$permissions" | "$createdAt" | "$updatedAt") {
            out.insert(key.clone(), value.clone());
        }
    }
    Json::Object(out)
}

/// A bucket's settings, as the model names them.
pub const BUCKET_SETTINGS: &[&str] = &[
    "name",
    "$permissions",
    "fileSecurity",
    "enabled",
    "maximumFileSize",
    "allowedFileExtensions",
    "compression",
    "encryption",
    "antivirus",
    "transformations",
];

pub fn bucket(model: &Json) -> Json {
    let mut record = pick(model, BUCKET_SETTINGS);
    for key in ["$id", "$createdAt", "$updatedAt"] {
        if let Some(value) = model.get(key) {
            record[key] = value.clone();
        }
    }
    record
}

pub fn file(bucket_id: &str, model: &Json) -> Json {
    let mut record =
        pick(model, &["$id", "$createdAt", "$updatedAt", "name", "$permissions", "mimeType", "sizeOriginal"]);
    record["bucketId"] = json!(bucket_id);
    record
}

pub fn function(model: &Json) -> Json {
    pick(
        model,
        &[
            "$id",
            "$createdAt",
            "$updatedAt",
            "deploymentId",
            "name",
            "runtime",
            "execute",
            "events",
            "schedule",
            "timeout",
            "enabled",
            "logging",
            "entrypoint",
            "commands",
            "scopes",
            "specification",
        ],
    )
}

/// A messaging provider with what its model shows of its settings: secret credentials (API
/// keys, passwords, private keys) are never shown, so never carried.
pub fn provider(model: &Json) -> Json {
    pick(
        model,
        &["$id", "$createdAt", "$updatedAt", "name", "provider", "type", "enabled", "credentials", "options"],
    )
}

pub fn topic(model: &Json) -> Json {
    pick(model, &["$id", "$createdAt", "$updatedAt", "name", "subscribe"])
}

/// A subscriber: its topic and target (whose id the user's record keeps).
pub fn subscriber(model: &Json) -> Json {
    pick(model, &["$id", "$createdAt", "$updatedAt", "topicId", "targetId"])
}

/// An API key without its secret, which no one can read back once made.
pub fn key(model: &Json) -> Json {
    pick(model, &["$id", "$createdAt", "$updatedAt", "name", "scopes", "expire"])
}

pub fn variable(function_id: &str, model: &Json) -> Json {
    let mut record = pick(model, &["$id", "$createdAt", "$updatedAt", "key", "value", "secret"]);
    record["functionId"] = json!(function_id);
    record
}

/// A deployment: its code travels beside the record (the dump's `deployments/…`).
pub fn deployment(function_id: &str, model: &Json) -> Json {
    let mut record = pick(model, &["$id", "$createdAt", "$updatedAt", "entrypoint", "sourceSize", "status"]);
    record["functionId"] = json!(function_id);
    record
}

/// The kinds whose system fields a migration restores, after the resource and what changes it
/// (a team's memberships) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restorable {
    User,
    /// A team record with `"memberships"`: the team's membership records.
    Team,
    Database,
    Collection,
    Bucket,
    File,
    Provider,
    /// A topic record with `"subscribers"`: the topic's subscriber records.
    Topic,
    /// A function record with `"variables"`: its variable records.
    Function,
    Deployment,
    Key,
}

/// The edgewrite route and body that restore `record`'s system fields, and the names of the
/// fields the body carries; `None` when the record has none (a version 1 dump).
pub fn system_fields(kind: Restorable, record: &Json) -> Option<(String, Json, Vec<String>)> {
    const TIMES: &[&str] = &["$createdAt", "$updatedAt"];
    let id = record["$id"].as_str().unwrap_or_default();
    let (path, fields): (String, &[&str]) = match kind {
        Restorable::User => (format!("/users/{id}"), &["$createdAt", "$updatedAt", "passwordUpdate"]),
        Restorable::Team => (format!("/teams/{id}"), TIMES),
        Restorable::Database => (format!("/databases/{id}"), TIMES),
        Restorable::Collection => (
            format!("/databases/{}/collections/{id}", record["databaseId"].as_str().unwrap_or_default()),
            TIMES,
        ),
        Restorable::Bucket => (format!("/storage/buckets/{id}"), TIMES),
        Restorable::File => (
            format!("/storage/buckets/{}/files/{id}", record["bucketId"].as_str().unwrap_or_default()),
            TIMES,
        ),
        Restorable::Provider => (format!("/messaging/providers/{id}"), TIMES),
        Restorable::Topic => (format!("/messaging/topics/{id}"), TIMES),
        Restorable::Key => (format!("/project/keys/{id}"), TIMES),
        Restorable::Function => (format!("/functions/{id}"), TIMES),
        // The target named the deployment; the record's `$id` is what it becomes.
        Restorable::Deployment => (
            format!(
                "/functions/{}/deployments/{}",
                record["functionId"].as_str().unwrap_or_default(),
                record["targetId"].as_str().unwrap_or(id)
            ),
            &["$id", "$createdAt", "$updatedAt"],
        ),
    };
    let mut body = pick(record, fields);
    let mut names: Vec<String> = body.as_object().into_iter().flatten().map(|(k, _)| k.clone()).collect();
    let list = |key: &str, item_keys: &[&str]| -> Vec<Json> {
        record[key].as_array().into_iter().flatten().map(|item| pick(item, item_keys)).collect()
    };
    match kind {
        Restorable::User => {
            let targets = list("targets", &["$id", "$createdAt", "$updatedAt", "providerType", "identifier"]);
            if targets.iter().any(|t| t.get("$createdAt").is_some()) {
                names.push("email and phone targets' $id, every target's $createdAt, $updatedAt".into());
                body["targets"] = Json::Array(targets);
            }
        }
        Restorable::Collection => {
            for list_key in ["attributes", "indexes"] {
                let items = list(list_key, &["key", "$createdAt", "$updatedAt"]);
                if items.iter().any(|item| item.get("$createdAt").is_some()) {
                    names.push(format!("{list_key}' $createdAt, $updatedAt"));
                    body[list_key] = Json::Array(items);
                }
            }
        }
        Restorable::Function => {
            let variables = list("variables", &["key", "$id", "$createdAt", "$updatedAt"]);
            if variables.iter().any(|item| item.get("$createdAt").is_some()) {
                names.push("variables' $id, $createdAt, $updatedAt".into());
                body["variables"] = Json::Array(variables);
            }
        }
        Restorable::Topic => {
            let subscribers = list("subscribers", &["$id", "$createdAt", "$updatedAt"]);
            if subscribers.iter().any(|item| item.get("$createdAt").is_some()) {
                names.push("subscribers' $createdAt, $updatedAt".into());
                body["subscribers"] = Json::Array(subscribers);
            }
        }
        Restorable::Team => {
            let memberships =
                list("memberships", &["$id", "$createdAt", "$updatedAt", "userId", "invited", "joined"]);
            if memberships.iter().any(|m| m.get("$createdAt").is_some()) {
                names.push("memberships' $id, $createdAt, $updatedAt, invited, joined".into());
                body["memberships"] = Json::Array(memberships);
            }
        }
        _ => {}
    }
    let route = match kind {
        // Not `providers/{id}/system-fields`: a kind's update route would take it (see
        // components/messaging).
        Restorable::Provider => format!("/messaging/system-fields/providers/{id}"),
        _ => format!("{path}/system-fields"),
    };
    (!names.is_empty()).then_some((route, body, names))
}

/// The route and body that create `user` with its password hash, as Appwrite's import routes
/// take it (`POST /users/{hash}`); a user without a password is created without one.
pub fn user_create(user: &Json) -> Result<(String, Json), String> {
    let id = &user["$id"];
    let mut body = json!({"userId": id, "email": user["email"], "name": user["name"]});
    if user["email"].as_str().is_none_or(str::is_empty) {
        body.as_object_mut().map(|b| b.remove("email"));
    }
    let hash = user["password"].as_str().unwrap_or_default();
    if hash.is_empty() {
        if let Some(phone) = user["phone"].as_str().filter(|p| !p.is_empty()) {
            body["phone"] = json!(phone);
        }
        return Ok(("/users".into(), body));
    }
    body["password"] = json!(hash);
    let options = &user["hashOptions"];
    let route = match user["hash"].as_str().unwrap_or_default() {
        "argon2" => "argon2",
        "bcrypt" => "bcrypt",
        "md5" => "md5",
        "phpass" => "phpass",
        "sha" => {
            if let Some(version) = options["version"].as_str() {
                body["passwordVersion"] = json!(version);
            }
            "sha"
        }
        "scryptMod" | "scrypt-modified" => {
            body["passwordSalt"] = options["salt"].clone();
            body["passwordSaltSeparator"] = options["saltSeparator"].clone();
            body["passwordSignerKey"] = options["signerKey"].clone();
            "scrypt-modified"
        }
        "scrypt" => {
            let salt = options["salt"].as_str().ok_or("its scrypt salt is not readable through the API")?;
            body["passwordSalt"] = json!(salt);
            body["passwordCpu"] = options["costCpu"].clone();
            body["passwordMemory"] = options["costMemory"].clone();
            body["passwordParallel"] = options["costParallel"].clone();
            body["passwordLength"] = options["length"].clone();
            "scrypt"
        }
        other => return Err(format!("its password hash ({other}) has no import route")),
    };
    Ok((format!("/users/{route}"), body))
}

/// The route and body that create `attribute` in `collection_path`; `None` for a kind the
/// target creates itself (the child side of a two-way relationship).
pub fn attribute_create(collection_path: &str, a: &Json) -> Option<(String, Json)> {
    let mut body = json!({"key": a["key"], "required": a["required"]});
    let not_null = |k: &str| !a[k].is_null();
    if a["array"].as_bool() == Some(true) {
        body["array"] = json!(true);
    }
    if not_null("default") && a["required"].as_bool() != Some(true) {
        body["default"] = a["default"].clone();
    }
    let kind = match (a["type"].as_str().unwrap_or_default(), a["format"].as_str().unwrap_or_default()) {
        ("string", "email") => "email",
        ("string", "url") => "url",
        ("string", "ip") => "ip",
        ("string", "enum") => {
            body["elements"] = a["elements"].clone();
            "enum"
        }
        ("string", _) => {
            body["size"] = a["size"].clone();
            "string"
        }
        ("integer", _) | ("double", _) => {
            for k in ["min", "max"] {
                if not_null(k) {
                    body[k] = a[k].clone();
                }
            }
            if a["type"] == "integer" {
                "integer"
            } else {
                "float"
            }
        }
        ("boolean", _) => "boolean",
        ("datetime", _) => "datetime",
        ("relationship", _) => {
            if a["side"] == "child" {
                return None;
            }
            body = json!({
                "relatedCollectionId": a["relatedCollection"],
                "type": a["relationType"],
                "twoWay": a["twoWay"],
                "key": a["key"],
                "twoWayKey": a["twoWayKey"],
                "onDelete": a["onDelete"],
            });
            "relationship"
        }
        (other, _) => {
            body["size"] = json!(255);
            return Some((format!("{collection_path}/attributes/{other}"), body));
        }
    };
    Some((format!("{collection_path}/attributes/{kind}"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_created_through_their_hash_routes() {
        let user = json!({"$id": "u1", "email": "a@b.c", "name": "A", "password": "$2y$10$abc", "hash": "bcrypt", "hashOptions": {}});
        assert_eq!(user_create(&user).unwrap().0, "/users/bcrypt");
        let sha = json!({"$id": "u2", "email": "", "password": "ab", "hash": "sha", "hashOptions": {"version": "sha256"}});
        let (route, body) = user_create(&sha).unwrap();
        assert_eq!((route.as_str(), &body["passwordVersion"]), ("/users/sha", &json!("sha256")));
        assert!(body.get("email").is_none(), "an empty email is left out");
        let plain = json!({"$id": "u3", "email": "c@d.e", "password": "", "hash": "argon2"});
        assert_eq!(user_create(&plain).unwrap().0, "/users");
        let scrypt = json!({"$id": "u4", "password": "x", "hash": "scrypt", "hashOptions": {}});
        assert!(user_create(&scrypt).is_err());
    }

    #[test]
    fn documents_keep_their_ids_permissions_and_times_only() {
        let doc = json!({"$id": "d", "$sequence": 4, "$collectionId": "c", "$databaseId": "db", "$permissions": [], "$createdAt": "t", "$updatedAt": "u", "n": 1});
        assert_eq!(
            document(&doc),
            json!({"$id": "d", "$permissions": [], "$createdAt": "t", "$updatedAt": "u", "n": 1})
        );
    }

    #[test]
    fn system_fields_come_from_version_2_records_only() {
        let v1 = json!({"$id": "u1", "name": "A", "targets": [{"$id": "t", "providerType": "push", "identifier": "x"}]});
        assert_eq!(system_fields(Restorable::User, &v1), None);
        let model = json!({
            "$id": "u1", "$createdAt": "2024-01-01T00:00:00.000+00:00", "$updatedAt": "2024-02-01T00:00:00.000+00:00",
            "registration": "2024-01-01T00:00:00.000+00:00", "passwordUpdate": "", "accessedAt": "2024-03-01T00:00:00.000+00:00",
            "name": "A", "targets": [{"$id": "e1", "$createdAt": "t0", "$updatedAt": "t1", "providerType": "email", "identifier": "a@b.c", "userId": "u1", "expired": false}],
        });
        let (path, body, names) = system_fields(Restorable::User, &user(&model)).unwrap();
        assert_eq!(path, "/users/u1/system-fields");
        assert_eq!(
            body,
            json!({
                "$createdAt": "2024-01-01T00:00:00.000+00:00", "$updatedAt": "2024-02-01T00:00:00.000+00:00", "passwordUpdate": "",
                "targets": [{"$id": "e1", "$createdAt": "t0", "$updatedAt": "t1", "providerType": "email", "identifier": "a@b.c"}],
            })
        );
        assert_eq!(names.len(), 4, "{names:?}");
        let file = file("b1", &json!({"$id": "f1", "$createdAt": "t0", "$updatedAt": "t1", "name": "x"}));
        let (path, body, _) = system_fields(Restorable::File, &file).unwrap();
        assert_eq!(
            (path.as_str(), body),
            ("/storage/buckets/b1/files/f1/system-fields", json!({"$createdAt": "t0", "$updatedAt": "t1"}))
        );
        let mut team = team(&json!({"$id": "t1", "$createdAt": "t0", "$updatedAt": "t1", "name": "T"}));
        team["memberships"] = json!([membership(
            &json!({"$id": "m1", "$createdAt": "t0", "$updatedAt": "t1", "teamId": "t1", "userId": "u1", "invited": "t0", "joined": "t0", "roles": []})
        )]);
        let (_, body, _) = system_fields(Restorable::Team, &team).unwrap();
        assert_eq!(
            body["memberships"],
            json!([{"$id": "m1", "$createdAt": "t0", "$updatedAt": "t1", "userId": "u1", "invited": "t0", "joined": "t0"}])
        );
    }
}
