//! A running Appwrite or edgewrite as a migration's source (read through its REST API with a
//! server key) or sink (written through it, bringing existing resources level).

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use crate::api::{is_conflict, is_not_found, Api, ApiError};
use crate::migrate::{Outcome, Restorable, Restored, Sink, Source, Summary};
use crate::records;

/// Files move in the SDKs' 5 MiB chunks: never held whole.
pub const CHUNK: u64 = 5 * 1024 * 1024;

/// The `start..end` ranges of a file of `size` bytes, [`CHUNK`] at a time (one empty range for
/// an empty file, which is still uploaded once).
pub fn chunks(size: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..size.div_ceil(CHUNK).max(1)).map(move |i| (i * CHUNK, ((i + 1) * CHUNK).min(size)))
}

pub struct Remote {
    pub api: Api,
}

impl Remote {
    /// A list whose route the server may not have (edgewrite without Functions): empty.
    fn each_optional(
        &self,
        path: &str,
        field: &str,
        map: &dyn Fn(&Json) -> Json,
        each: &mut dyn FnMut(Vec<Json>) -> Result<()>,
    ) -> Result<()> {
        match self.api.each(path, field, &mut |page| each(page.iter().map(map).collect())) {
            Err(e) if is_not_found(&e) => Ok(()),
            other => other,
        }
    }
}

impl Source for Remote {
    fn describe(&self) -> String {
        self.api.describe()
    }

    fn users(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api.each("/users", "users", &mut |page| {
            let mut users = Vec::with_capacity(page.len());
            for model in &page {
                let mut user = records::user(model);
                // An authenticator app's secret is not readable: the record says there was one.
                if model["mfa"] == true {
                    let factors = self
                        .api
                        .get(&format!("/users/{}/mfa/factors", user["$id"].as_str().unwrap_or_default()))?;
                    user["totp"] = factors["totp"].clone();
                }
                users.push(user);
            }
            each(users)
        })
    }

    fn teams(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api.each("/teams", "teams", &mut |page| each(page.iter().map(records::team).collect()))
    }

    fn memberships(&self, team: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api.each(&format!("/teams/{team}/memberships"), "memberships", &mut |page| {
            each(page.iter().map(records::membership).collect())
        })
    }

    fn databases(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api
            .each("/databases", "databases", &mut |page| each(page.iter().map(records::database).collect()))
    }

    fn collections(&self, database: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api.each(&format!("/databases/{database}/collections"), "collections", &mut |page| {
            each(page.iter().map(|c| records::collection(database, c)).collect())
        })
    }

    fn documents(
        &self,
        database: &str,
        collection: &str,
        each: &mut dyn FnMut(Vec<Json>) -> Result<()>,
    ) -> Result<()> {
        self.api.each(
            &format!("/databases/{database}/collections/{collection}/documents"),
            "documents",
            &mut |page| each(page.iter().map(records::document).collect()),
        )
    }

    fn buckets(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api
            .each("/storage/buckets", "buckets", &mut |page| each(page.iter().map(records::bucket).collect()))
    }

    fn files(&self, bucket: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.api.each(&format!("/storage/buckets/{bucket}/files"), "files", &mut |page| {
            each(
                page.iter()
                    .map(|f| {
                        let mut record = records::file(bucket, f);
                        // An upload still in progress at the source is not a file yet.
                        if f["chunksUploaded"] != f["chunksTotal"] {
                            record["incomplete"] = json!(true);
                        }
                        record
                    })
                    .collect(),
            )
        })
    }

    fn file_range(&self, bucket: &str, file: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        self.api.file_range(bucket, file, start, end)
    }

    fn functions(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.each_optional("/functions", "functions", &records::function, each)
    }

    fn variables(&self, function: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        let map = |v: &Json| records::variable(function, v);
        // Variables are listed without pages.
        match self.api.get(&format!("/functions/{function}/variables")) {
            Ok(list) => each(list["variables"].as_array().into_iter().flatten().map(map).collect()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn deployments(&self, function: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        let map = |d: &Json| records::deployment(function, d);
        self.each_optional(&format!("/functions/{function}/deployments"), "deployments", &map, each)
    }

    fn deployment_code(&self, function: &str, deployment: &str) -> Result<Vec<u8>> {
        self.api.get_bytes(&format!("/functions/{function}/deployments/{deployment}/download"))
    }

    fn providers(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.each_optional("/messaging/providers", "providers", &records::provider, each)
    }

    fn topics(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.each_optional("/messaging/topics", "topics", &records::topic, each)
    }

    fn subscribers(&self, topic: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.each_optional(
            &format!("/messaging/topics/{topic}/subscribers"),
            "subscribers",
            &records::subscriber,
            each,
        )
    }

    fn keys(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.each_optional("/project/keys", "keys", &records::key, each)
    }
}

/// A running edgewrite (or Appwrite) as the sink. With `dry_run` it reads the target and
/// reports what it would write, but writes nothing.
pub struct RemoteSink {
    pub api: Api,
    pub dry_run: bool,
    /// The target's memberships of each team seen so far (by user id: membership id, roles).
    memberships: HashMap<String, HashMap<String, (String, Json)>>,
    /// The target answered that it has no system-fields routes: it is not edgewrite.
    without_system_fields: bool,
}

impl RemoteSink {
    pub fn new(api: Api, dry_run: bool) -> RemoteSink {
        RemoteSink { api, dry_run, memberships: HashMap::new(), without_system_fields: false }
    }

    /// The resource at `path`, or `None` when the target has none.
    fn existing(&self, path: &str) -> Result<Option<Json>> {
        match self.api.get(path) {
            Ok(found) => Ok(Some(found)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends a write unless this is a dry run.
    fn write(&self, method: &str, path: &str, body: &Json) -> Result<Json> {
        if self.dry_run {
            return Ok(Json::Null);
        }
        self.api.call(method, path, Some(body))
    }

    /// Creates at `path` with `body`, or (already there) answers `false`.
    fn create(&self, path: &str, body: &Json) -> Result<bool> {
        match self.write("POST", path, body) {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Brings the resource `record` describes level at `{collection}/{id}`: left as it is when
    /// its `settings` match, else updated with `update`, or created with its id as `id_param`.
    fn level(
        &self,
        collection: &str,
        id_param: &str,
        update: &str,
        record: &Json,
        settings: &[&str],
    ) -> Result<Outcome> {
        let id = record["$id"].as_str().unwrap_or_default();
        let path = format!("{collection}/{id}");
        let mut body: serde_json::Map<String, Json> =
            settings.iter().map(|k| (k.to_string(), record[*k].clone())).collect();
        match self.existing(&path)? {
            Some(target) if !settings.iter().any(|k| differs(&target, record, k)) => Ok(Outcome::Skipped),
            Some(_) => {
                self.write(update, &path, &Json::Object(body))?;
                Ok(Outcome::Written)
            }
            None => {
                body.insert(id_param.to_string(), json!(id));
                self.create(collection, &Json::Object(body))?;
                Ok(Outcome::Written)
            }
        }
    }

    /// Waits (Appwrite builds attributes and indexes in the background) until the collection's
    /// attributes and indexes are available.
    fn wait_available(&self, path: &str) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        for _ in 0..120 {
            let collection = self.api.get(path)?;
            let pending = ["attributes", "indexes"]
                .iter()
                .any(|k| collection[*k].as_array().into_iter().flatten().any(|a| a["status"] != "available"));
            if !pending {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        Err(anyhow!("{path}: attributes or indexes still not available after 60 s"))
    }

    /// The SHA-256 of the target's copy of a file, read back chunk by chunk.
    fn stored_sha256(&self, bucket: &str, file: &str, size: u64) -> Result<String> {
        let mut hasher = Sha256::new();
        for (start, end) in chunks(size) {
            hasher.update(self.api.file_range(bucket, file, start, end)?);
        }
        Ok(hex(&hasher.finalize()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn differs(target: &Json, record: &Json, key: &str) -> bool {
    record.get(key).is_some_and(|v| target.get(key) != Some(v))
}

impl Sink for RemoteSink {
    fn user(&mut self, user: &Json) -> Result<Outcome> {
        let id = user["$id"].as_str().unwrap_or_default();
        let path = format!("/users/{id}");
        let mut written = false;
        let target = match self.existing(&path)? {
            Some(target) => target,
            None => {
                let (route, body) = match records::user_create(user) {
                    Ok(create) => create,
                    Err(reason) => return Ok(Outcome::Unsupported(reason)),
                };
                written = self.create(&route, &body)?;
                if self.dry_run {
                    return Ok(Outcome::Written);
                }
                self.api.get(&path)?
            }
        };
        let updates: [(&str, &str, &str, &str); 9] = [
            ("name", "PATCH", "name", "name"),
            ("email", "PATCH", "email", "email"),
            ("phone", "PATCH", "phone", "number"),
            ("prefs", "PATCH", "prefs", "prefs"),
            ("labels", "PUT", "labels", "labels"),
            ("status", "PATCH", "status", "status"),
            ("emailVerification", "PATCH", "verification", "emailVerification"),
            ("phoneVerification", "PATCH", "verification/phone", "phoneVerification"),
            ("mfa", "PATCH", "mfa", "mfa"),
        ];
        for (field, method, route, param) in updates {
            let empty_contact =
                matches!(field, "email" | "phone") && user[field].as_str().is_none_or(str::is_empty);
            if differs(&target, user, field) && !empty_contact {
                self.write(method, &format!("{path}/{route}"), &json!({ param: user[field] }))?;
                written = true;
            }
        }
        // The targets of the user's own email and phone come with them; any other is created.
        let own = |t: &Json| {
            (t["providerType"] == "email" && t["identifier"] == user["email"])
                || (t["providerType"] == "sms" && t["identifier"] == user["phone"])
        };
        for t in user["targets"].as_array().into_iter().flatten().filter(|t| !own(t)) {
            let known = target["targets"].as_array().into_iter().flatten().any(|k| k["$id"] == t["$id"]);
            if !known {
                let mut body = json!({"targetId": t["$id"], "providerType": t["providerType"], "identifier": t["identifier"], "name": t["name"]});
                if let Some(provider) = t["providerId"].as_str().filter(|p| !p.is_empty()) {
                    body["providerId"] = json!(provider);
                }
                written |= match self.create(&format!("{path}/targets"), &body) {
                    // Its provider did not arrive (or is of another kind there): the project's
                    // default serves it, and the provider's own line says why.
                    Err(e)
                        if e.downcast_ref::<ApiError>().is_some_and(|a| {
                            a.kind == "provider_not_found" || a.kind == "provider_incorrect_type"
                        }) =>
                    {
                        body.as_object_mut().map(|b| b.remove("providerId"));
                        self.create(&format!("{path}/targets"), &body)?
                    }
                    other => other?,
                };
            }
        }
        Ok(if written { Outcome::Written } else { Outcome::Skipped })
    }

    fn team(&mut self, team: &Json) -> Result<Outcome> {
        let id = team["$id"].as_str().unwrap_or_default();
        let path = format!("/teams/{id}");
        let mut written = false;
        let target = match self.existing(&path)? {
            Some(target) => target,
            None => {
                written = self.create("/teams", &json!({"teamId": id, "name": team["name"]}))?;
                json!({"name": team["name"], "prefs": {}})
            }
        };
        if differs(&target, team, "name") {
            self.write("PUT", &path, &json!({"name": team["name"]}))?;
            written = true;
        }
        let prefs = if target.get("prefs").is_some() {
            target["prefs"].clone()
        } else {
            self.api.get(&format!("{path}/prefs"))?
        };
        if team
            .get("prefs")
            .is_some_and(|p| *p != prefs && !(p.as_object().is_some_and(|o| o.is_empty()) && prefs.is_null()))
        {
            self.write("PUT", &format!("{path}/prefs"), &json!({"prefs": team["prefs"]}))?;
            written = true;
        }
        Ok(if written { Outcome::Written } else { Outcome::Skipped })
    }

    fn membership(&mut self, membership: &Json) -> Result<Outcome> {
        // A server adds members confirmed: a pending invitation would become an accepted one.
        if membership["confirm"] == false {
            return Ok(Outcome::Unsupported("a pending invitation: invite the user again".into()));
        }
        let team = membership["teamId"].as_str().unwrap_or_default().to_string();
        let user = membership["userId"].as_str().unwrap_or_default().to_string();
        if !self.memberships.contains_key(&team) {
            let mut known = HashMap::new();
            let listed = self.api.each(&format!("/teams/{team}/memberships"), "memberships", &mut |page| {
                for m in page {
                    let (u, id) =
                        (m["userId"].as_str().unwrap_or_default(), m["$id"].as_str().unwrap_or_default());
                    if m["confirm"] == false {
                        // An invitation waiting on the target keeps the id its link names.
                        known.insert(u.to_string(), (String::new(), Json::Null));
                    } else {
                        known.insert(u.to_string(), (id.to_string(), m["roles"].clone()));
                    }
                }
                Ok(())
            });
            match listed {
                Err(e) if !(self.dry_run && is_not_found(&e)) => return Err(e),
                _ => {}
            }
            self.memberships.insert(team.clone(), known);
        }
        let roles = membership["roles"].clone();
        match self.memberships[&team].get(&user).cloned() {
            Some((id, _)) if id.is_empty() => Ok(Outcome::Unsupported(
                "an invitation to this user waits on the target: it is left as it is".into(),
            )),
            Some((_, existing)) if existing == roles => Ok(Outcome::Skipped),
            Some((id, _)) => {
                self.write("PATCH", &format!("/teams/{team}/memberships/{id}"), &json!({"roles": roles}))?;
                Ok(Outcome::Written)
            }
            None => {
                let created = self.write(
                    "POST",
                    &format!("/teams/{team}/memberships"),
                    &json!({"userId": user, "roles": roles}),
                )?;
                let id = created["$id"].as_str().unwrap_or_default().to_string();
                self.memberships.entry(team).or_default().insert(user, (id, roles));
                Ok(Outcome::Written)
            }
        }
    }

    fn database(&mut self, database: &Json) -> Result<Outcome> {
        let id = database["$id"].as_str().unwrap_or_default();
        if let Some(target) = self.existing(&format!("/databases/{id}"))? {
            if differs(&target, database, "name") || differs(&target, database, "enabled") {
                let body = json!({"name": database["name"], "enabled": database["enabled"]});
                self.write("PUT", &format!("/databases/{id}"), &body)?;
                return Ok(Outcome::Written);
            }
            return Ok(Outcome::Skipped);
        }
        let body = json!({"databaseId": id, "name": database["name"], "enabled": database["enabled"]});
        Ok(if self.create("/databases", &body)? { Outcome::Written } else { Outcome::Skipped })
    }

    fn collection(&mut self, collection: &Json) -> Result<Outcome> {
        let (db, id) = (
            collection["databaseId"].as_str().unwrap_or_default(),
            collection["$id"].as_str().unwrap_or_default(),
        );
        let path = format!("/databases/{db}/collections/{id}");
        let settings = json!({
            "name": collection["name"],
            "permissions": collection["$permissions"],
            "documentSecurity": collection["documentSecurity"],
            "enabled": collection["enabled"],
        });
        let mut written = false;
        let target = match self.existing(&path)? {
            Some(target) => {
                if ["name", "$permissions", "documentSecurity", "enabled"]
                    .iter()
                    .any(|k| differs(&target, collection, k))
                {
                    self.write("PUT", &path, &settings)?;
                    written = true;
                }
                target
            }
            None => {
                let mut body = settings.clone();
                body["collectionId"] = json!(id);
                written = self.create(&format!("/databases/{db}/collections"), &body)?;
                json!({"attributes": [], "indexes": []})
            }
        };
        let has =
            |list: &str, key: &Json| target[list].as_array().into_iter().flatten().any(|a| a["key"] == *key);
        for attribute in collection["attributes"].as_array().into_iter().flatten() {
            if attribute["type"] == "relationship" || has("attributes", &attribute["key"]) {
                continue;
            }
            if let Some((route, body)) = records::attribute_create(&path, attribute) {
                written |= self.create(&route, &body)?;
            }
        }
        self.wait_available(&path)?;
        for index in collection["indexes"].as_array().into_iter().flatten() {
            if !has("indexes", &index["key"]) {
                let body = json!({"key": index["key"], "type": index["type"], "attributes": index["attributes"], "orders": index["orders"]});
                written |= self.create(&format!("{path}/indexes"), &body)?;
            }
        }
        self.wait_available(&path)?;
        Ok(if written { Outcome::Written } else { Outcome::Skipped })
    }

    fn relationships(&mut self, collection: &Json) -> Result<()> {
        let (db, id) = (
            collection["databaseId"].as_str().unwrap_or_default(),
            collection["$id"].as_str().unwrap_or_default(),
        );
        let path = format!("/databases/{db}/collections/{id}");
        let relationships: Vec<&Json> = collection["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["type"] == "relationship")
            .collect();
        if relationships.is_empty() || self.dry_run {
            return Ok(());
        }
        let target = self.api.get(&path)?;
        for attribute in relationships {
            let exists =
                target["attributes"].as_array().into_iter().flatten().any(|a| a["key"] == attribute["key"]);
            if let (false, Some((route, body))) = (exists, records::attribute_create(&path, attribute)) {
                self.create(&route, &body)?;
            }
        }
        self.wait_available(&path)
    }

    fn documents(&mut self, database: &str, collection: &str, documents: &[Json]) -> Result<usize> {
        if self.dry_run {
            return Ok(documents.len());
        }
        // Upserts: a re-run writes the same documents again, never twice.
        let path = format!("/databases/{database}/collections/{collection}/documents");
        match self.api.call("PUT", &path, Some(&json!({"documents": documents}))) {
            Ok(_) => Ok(documents.len()),
            // A collection with relationships takes no bulk writes: one at a time.
            Err(e)
                if e.downcast_ref::<crate::api::ApiError>()
                    .is_some_and(|e| e.status == 400 || e.status == 404) =>
            {
                for document in documents {
                    let mut data = document.clone();
                    let id = data["$id"].as_str().unwrap_or_default().to_string();
                    let permissions = data.as_object_mut().and_then(|d| d.remove("$permissions"));
                    data.as_object_mut().map(|d| d.remove("$id"));
                    self.api.call(
                        "PUT",
                        &format!("{path}/{id}"),
                        Some(&json!({"data": data, "permissions": permissions})),
                    )?;
                }
                Ok(documents.len())
            }
            Err(e) => Err(e),
        }
    }

    fn bucket(&mut self, bucket: &Json) -> Result<Outcome> {
        let id = bucket["$id"].as_str().unwrap_or_default();
        let path = format!("/storage/buckets/{id}");
        let mut body = bucket.clone();
        if let Some(map) = body.as_object_mut() {
            // The system fields come back through `restore`, not the bucket's own routes.
            for system in ["$id", "$createdAt", "$updatedAt"] {
                map.remove(system);
            }
            if let Some(p) = map.remove("$permissions") {
                map.insert("permissions".into(), p);
            }
        }
        match self.existing(&path)? {
            Some(target) => {
                if records::BUCKET_SETTINGS.iter().any(|k| differs(&target, bucket, k)) {
                    self.write("PUT", &path, &body)?;
                    return Ok(Outcome::Written);
                }
                Ok(Outcome::Skipped)
            }
            None => {
                body["bucketId"] = json!(id);
                Ok(if self.create("/storage/buckets", &body)? { Outcome::Written } else { Outcome::Skipped })
            }
        }
    }

    fn file(&mut self, file: &Json, source: &dyn Source) -> Result<Outcome> {
        let bucket = file["bucketId"].as_str().unwrap_or_default();
        let id = file["$id"].as_str().unwrap_or_default();
        let size = file["sizeOriginal"].as_u64().unwrap_or_default();
        let path = format!("/storage/buckets/{bucket}/files/{id}");
        if let Some(target) = self.existing(&path)? {
            let finished = target["chunksUploaded"] == target["chunksTotal"];
            if finished && target["sizeOriginal"].as_u64() == Some(size) {
                if differs(&target, file, "name") || differs(&target, file, "$permissions") {
                    let body = json!({"name": file["name"], "permissions": file["$permissions"]});
                    self.write("PUT", &path, &body)?;
                    return Ok(Outcome::Written);
                }
                return Ok(Outcome::Skipped);
            }
            if finished {
                return Err(anyhow!(
                    "the target holds a different file with this id ({} bytes)",
                    target["sizeOriginal"]
                ));
            }
        }
        if self.dry_run {
            return Ok(Outcome::Written);
        }
        // Streamed chunk by chunk, hashed on the way; then read back from the target and
        // compared, so a file is only counted when its bytes arrived intact.
        let mut hasher = Sha256::new();
        for (start, end) in chunks(size) {
            let chunk = source.file_range(bucket, id, start, end)?;
            hasher.update(&chunk);
            self.api.upload_chunk(bucket, file, &chunk, start, size)?;
        }
        let sent = hex(&hasher.finalize());
        let stored = self.stored_sha256(bucket, id, size)?;
        if let Some(expected) = file["sha256"].as_str().filter(|e| *e != sent) {
            return Err(anyhow!("the source's bytes do not match its recorded SHA-256 {expected}"));
        }
        if stored != sent {
            return Err(anyhow!("the target's copy differs (SHA-256 {stored}, sent {sent})"));
        }
        Ok(Outcome::Written)
    }

    fn function(&mut self, function: &Json, variables: &[Json]) -> Result<Outcome> {
        let id = function["$id"].as_str().unwrap_or_default();
        let mut body = function.clone();
        if let Some(map) = body.as_object_mut() {
            // System fields come back through `restore`; the active deployment with it.
            for system in ["$id", "$createdAt", "$updatedAt", "deploymentId"] {
                map.remove(system);
            }
        }
        body["functionId"] = json!(id);
        let created = match self.create("/functions", &body) {
            Err(e)
                if e.downcast_ref::<ApiError>().is_some_and(|a| a.kind == "function_runtime_unsupported") =>
            {
                return Ok(Outcome::Unsupported(format!(
                    "the target does not run the {} runtime (edgewrite runs wasm-wasip1 modules)",
                    function["runtime"].as_str().unwrap_or("?")
                )));
            }
            Err(e) if is_not_found(&e) => {
                return Ok(Outcome::Unsupported("the target has no Functions API".into()));
            }
            other => other?,
        };
        let mut secret_lost = false;
        for variable in variables {
            secret_lost |= variable["secret"] == true && variable["value"].as_str().is_none_or(str::is_empty);
            let mut body =
                json!({"key": variable["key"], "value": variable["value"], "secret": variable["secret"]});
            if let Some(variable_id) = variable["$id"].as_str() {
                body["variableId"] = json!(variable_id);
            }
            self.create(&format!("/functions/{id}/variables"), &body)?;
        }
        if secret_lost {
            let reason = "secret variables' values are not readable through the API".to_string();
            return Ok(Outcome::WithLoss { written: created, reason });
        }
        Ok(if created { Outcome::Written } else { Outcome::Skipped })
    }

    fn deployment(
        &mut self,
        deployment: &Json,
        activate: bool,
        source: &dyn Source,
    ) -> Result<(Outcome, Option<String>)> {
        let (function, id) = (
            deployment["functionId"].as_str().unwrap_or_default(),
            deployment["$id"].as_str().unwrap_or_default(),
        );
        let path = format!("/functions/{function}/deployments/{id}");
        match self.existing(&path)? {
            // There already, under its own id: an earlier run carried it.
            Some(found) if found["status"] == "ready" => {
                if activate && !self.dry_run {
                    let f = self.api.get(&format!("/functions/{function}"))?;
                    if f["deploymentId"] != id {
                        self.write(
                            "PATCH",
                            &format!("/functions/{function}/deployment"),
                            &json!({"deploymentId": id}),
                        )?;
                        return Ok((Outcome::Written, Some(id.to_string())));
                    }
                }
                return Ok((Outcome::Skipped, Some(id.to_string())));
            }
            // An upload an interrupted run left: start again.
            Some(_) => {
                self.write("DELETE", &path, &Json::Null)?;
            }
            None => {}
        }
        if self.dry_run {
            return Ok((Outcome::Written, None));
        }
        let code = source.deployment_code(function, id)?;
        if let Some(expected) = deployment["sha256"].as_str() {
            let actual = hex(&Sha256::digest(&code));
            if actual != expected {
                return Err(anyhow!("its code's SHA-256 is {actual}, the dump says {expected}"));
            }
        }
        let entrypoint = deployment["entrypoint"].as_str().unwrap_or_default();
        let built = self.api.upload_deployment(function, id, &code, entrypoint, activate)?;
        if built["status"] != "ready" {
            return Err(anyhow!(
                "the target's build of it is {}: {}",
                built["status"],
                built["buildLogs"].as_str().unwrap_or_default()
            ));
        }
        Ok((Outcome::Written, built["$id"].as_str().map(str::to_string)))
    }

    fn provider(&mut self, provider: &Json) -> Result<Outcome> {
        let id = provider["$id"].as_str().unwrap_or_default();
        // Its secrets cannot be compared, so one already there is left as it is.
        if self.existing(&format!("/messaging/providers/{id}"))?.is_some() {
            return Ok(Outcome::Skipped);
        }
        let mut body = json!({"providerId": id, "name": provider["name"], "enabled": provider["enabled"]});
        for part in ["credentials", "options"] {
            for (key, value) in provider[part].as_object().into_iter().flatten() {
                body[key] = value.clone();
            }
        }
        let kind = provider["provider"].as_str().unwrap_or_default();
        let created = match self.write("POST", &format!("/messaging/providers/{kind}"), &body) {
            Ok(created) => created,
            Err(e) if is_conflict(&e) => return Ok(Outcome::Skipped),
            Err(e) if is_not_found(&e) => {
                return Ok(Outcome::Unsupported(format!("the target has no {kind} providers")));
            }
            Err(e) => return Err(e),
        };
        if provider["enabled"] == true && created["enabled"] == false {
            let reason =
                "it arrived disabled: its secret credentials stayed behind; set them, then enable it";
            return Ok(Outcome::WithLoss { written: true, reason: reason.into() });
        }
        Ok(Outcome::Written)
    }

    fn topic(&mut self, topic: &Json) -> Result<Outcome> {
        self.level("/messaging/topics", "topicId", "PATCH", topic, &["name", "subscribe"])
    }

    fn subscriber(&mut self, subscriber: &Json) -> Result<Outcome> {
        let topic = subscriber["topicId"].as_str().unwrap_or_default();
        let id = subscriber["$id"].as_str().unwrap_or_default();
        let body = json!({"subscriberId": id, "targetId": subscriber["targetId"]});
        if self.create(&format!("/messaging/topics/{topic}/subscribers"), &body)? {
            return Ok(Outcome::Written);
        }
        // A conflict: this subscriber, or another one of the same target.
        if self.dry_run || self.existing(&format!("/messaging/topics/{topic}/subscribers/{id}"))?.is_some() {
            return Ok(Outcome::Skipped);
        }
        Ok(Outcome::Unsupported("another subscriber of its target is on the topic already".into()))
    }

    fn key(&mut self, key: &Json) -> Result<Outcome> {
        self.level("/project/keys", "keyId", "PUT", key, &["name", "scopes", "expire"])
    }

    fn restore(&mut self, kind: Restorable, record: &Json) -> Result<Restored> {
        let Some((path, body, fields)) = records::system_fields(kind, record) else {
            return Ok(Restored::Done);
        };
        if self.without_system_fields {
            return Ok(not_carried(fields));
        }
        if self.dry_run {
            return Ok(Restored::Done);
        }
        match self.api.call("PATCH", &path, Some(&body)) {
            Ok(_) => Ok(Restored::Done),
            Err(e) if e.downcast_ref::<ApiError>().is_some_and(|e| e.kind == "general_route_not_found") => {
                self.without_system_fields = true;
                Ok(not_carried(fields))
            }
            Err(e) => Err(e),
        }
    }

    fn finish(&mut self, _summary: &Summary) -> Result<()> {
        Ok(())
    }
}

/// The answer for a target without edgewrite's system-fields routes (Appwrite).
fn not_carried(fields: Vec<String>) -> Restored {
    let reason = "the target has no way to set them (it is not edgewrite); they take the time of the import";
    Restored::NotCarried { fields, reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_a_file_once_and_an_empty_one_with_one_range() {
        assert_eq!(chunks(0).collect::<Vec<_>>(), vec![(0, 0)]);
        assert_eq!(chunks(CHUNK).collect::<Vec<_>>(), vec![(0, CHUNK)]);
        assert_eq!(chunks(CHUNK + 1).collect::<Vec<_>>(), vec![(0, CHUNK), (CHUNK, CHUNK + 1)]);
    }
}
