//! Functions themselves (`/v1/functions`): create, list, get, update, delete, and the
//! runtimes and specifications this server offers. API keys only (`functions.read|write`).

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

/// The runtimes this server runs: WebAssembly modules for WASI preview 1.
pub const RUNTIMES: &[&str] = &["wasm-wasip1"];
/// Appwrite's `timeout` bounds, in seconds.
const DEFAULT_TIMEOUT: i64 = 15;
const MAX_TIMEOUT: i64 = 900;
/// The specification every function runs with: one interpreter, the memory cap.
const SPECIFICATION: &str = "edge-wasm";

pub const COLUMNS: &str = "seq, id, name, runtime, execute, events, schedule, timeout, enabled, logging,
    entrypoint, commands, scopes, settings, deployment_id, created_at, updated_at,
    (SELECT d.created_at FROM deployments d WHERE d.id = functions.deployment_id),
    (SELECT d.id FROM deployments d WHERE d.function_seq = functions.seq ORDER BY d.seq DESC LIMIT 1),
    (SELECT d.created_at FROM deployments d WHERE d.function_seq = functions.seq ORDER BY d.seq DESC LIMIT 1),
    (SELECT d.status FROM deployments d WHERE d.function_seq = functions.seq ORDER BY d.seq DESC LIMIT 1),
    (SELECT json_group_array(json_array(v.id, v.key, CASE WHEN v.secret THEN '' ELSE v.value END, v.secret,
        v.created_at, v.updated_at)) FROM function_variables v WHERE v.function_seq = functions.seq)";

/// Settings stored as given but not acted on (VCS and specification fields).
const STORED_SETTINGS: &[&str] = &[
    "installationId",
    "providerRepositoryId",
    "providerBranch",
    "providerSilentMode",
    "providerRootDirectory",
    "providerBranches",
    "providerPaths",
    "buildSpecification",
    "runtimeSpecification",
    "deploymentRetention",
];

#[derive(Debug, Clone, Default)]
pub struct Function {
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub runtime: String,
    pub execute: Vec<String>,
    pub events: Vec<String>,
    pub schedule: String,
    pub timeout: i64,
    pub enabled: bool,
    pub logging: bool,
    pub entrypoint: String,
    pub commands: String,
    pub scopes: Vec<String>,
    pub settings: Map<String, Json>,
    pub deployment_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    deployment_created_at: Option<i64>,
    latest: Option<(String, i64, String)>,
    variables: Vec<Json>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

impl Function {
    pub(crate) fn from_row(row: &[Value]) -> Option<Function> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        let latest = match (row.get(18).and_then(Value::as_str), int(19)) {
            (Some(id), Some(at)) => Some((id.to_string(), at, text(20))),
            _ => None,
        };
        let variables: Vec<Json> = serde_json::from_str(&text(21)).unwrap_or_default();
        Some(Function {
            seq: row.first()?.as_i64()?,
            id: text(1),
            name: text(2),
            runtime: text(3),
            execute: strings(row.get(4)),
            events: strings(row.get(5)),
            schedule: text(6),
            timeout: int(7).unwrap_or(DEFAULT_TIMEOUT),
            enabled: int(8) == Some(1),
            logging: int(9) == Some(1),
            entrypoint: text(10),
            commands: text(11),
            scopes: strings(row.get(12)),
            settings: serde_json::from_str(&text(13)).unwrap_or_default(),
            deployment_id: text(14),
            created_at: int(15).unwrap_or_default(),
            updated_at: int(16).unwrap_or_default(),
            deployment_created_at: int(17),
            latest,
            variables,
        })
    }

    /// Appwrite's defaults for every setting a request may leave out (create, and PUT).
    fn reset_settings(&mut self) {
        self.execute.clear();
        self.events.clear();
        self.schedule.clear();
        self.timeout = DEFAULT_TIMEOUT;
        self.enabled = true;
        self.logging = true;
        self.entrypoint.clear();
        self.commands.clear();
        self.scopes.clear();
        self.settings.clear();
    }

    pub fn to_json(&self) -> Json {
        let vars: Vec<Json> = self
            .variables
            .iter()
            .filter_map(|v| {
                let v = v.as_array()?;
                Some(crate::variables::model(
                    v.first()?.as_str()?,
                    &self.id,
                    v.get(1)?.as_str()?,
                    v.get(2)?.as_str()?,
                    v.get(3)?.as_i64()? == 1,
                    v.get(4)?.as_i64()?,
                    v.get(5)?.as_i64()?,
                ))
            })
            .collect();
        let text_setting = |name: &str, default: &str| {
            self.settings.get(name).and_then(Json::as_str).unwrap_or(default).to_string()
        };
        let list_setting = |name: &str| self.settings.get(name).cloned().unwrap_or_else(|| json!([]));
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "execute": self.execute,
            "name": self.name,
            "enabled": self.enabled,
            "live": true,
            "logging": self.logging,
            "runtime": self.runtime,
            "deploymentRetention": self.settings.get("deploymentRetention").and_then(Json::as_i64).unwrap_or(0),
            "deploymentId": self.deployment_id,
            "deploymentCreatedAt": self.deployment_created_at.map(iso_from_ms).unwrap_or_default(),
            "latestDeploymentId": self.latest.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
            "latestDeploymentCreatedAt": self.latest.as_ref().map(|l| iso_from_ms(l.1)).unwrap_or_default(),
            "latestDeploymentStatus": self.latest.as_ref().map(|l| l.2.clone()).unwrap_or_default(),
            "scopes": self.scopes,
            "vars": vars,
            "events": self.events,
            "schedule": self.schedule,
            "timeout": self.timeout,
            "entrypoint": self.entrypoint,
            "commands": self.commands,
            "version": "v5",
            "installationId": text_setting("installationId", ""),
            "providerRepositoryId": text_setting("providerRepositoryId", ""),
            "providerBranch": text_setting("providerBranch", ""),
            "providerRootDirectory": text_setting("providerRootDirectory", ""),
            "providerSilentMode": self.settings.get("providerSilentMode").and_then(Json::as_bool).unwrap_or(false),
            "providerBranches": list_setting("providerBranches"),
            "providerPaths": list_setting("providerPaths"),
            "buildSpecification": text_setting("buildSpecification", SPECIFICATION),
            "runtimeSpecification": text_setting("runtimeSpecification", SPECIFICATION),
        })
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::FunctionNotFound, "Function with the requested ID could not be found.")
}

/// The function `id`.
pub async fn load_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Function, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(format!("SELECT {COLUMNS} FROM functions WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Function::from_row(r)).ok_or_else(not_found)
}

/// The `{functionId}` function.
pub async fn load(ctx: &Ctx<'_>) -> Result<Function, AppwriteError> {
    let id = ctx.params.required_text("functionId", 36)?;
    load_by_id(ctx, &id).await
}

fn scopes_param(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(scopes) = ctx.params.string_array("scopes", 128, &ctx.config.limits)? else { return Ok(None) };
    if let Some(unknown) =
        scopes.iter().find(|s| !edgewrite_core::identity::API_KEY_SCOPES.contains(&s.as_str()))
    {
        return Err(AppwriteError::invalid_param(
            "scopes",
            &format!("Scope \"{unknown}\" is not a key scope."),
        ));
    }
    Ok(Some(scopes))
}

/// The settings in the request, over `f`'s (create: the defaults).
fn apply_params(ctx: &Ctx<'_>, f: &mut Function) -> Result<(), AppwriteError> {
    if let Some(name) = ctx.params.text("name", 128)? {
        f.name = name;
    }
    if let Some(runtime) = ctx.params.text("runtime", 128)? {
        if !RUNTIMES.contains(&runtime.as_str()) {
            return Err(AppwriteError::new(
                ErrorType::FunctionRuntimeUnsupported,
                format!(
                    "Runtime \"{runtime}\" is not supported. Supported runtimes: {}.",
                    RUNTIMES.join(", ")
                ),
            ));
        }
        f.runtime = runtime;
    }
    if let Some(execute) = edgewrite_core::permissions::roles_param(ctx, "execute")? {
        f.execute = execute;
    }
    if let Some(events) = ctx.params.string_array("events", 256, &ctx.config.limits)? {
        f.events = events;
    }
    if let Some(schedule) = ctx.params.text("schedule", 256)? {
        if !schedule.is_empty() {
            crate::schedule::Cron::parse(&schedule).map_err(|e| {
                AppwriteError::invalid_param(
                    "schedule",
                    &format!("Value must be a valid cron expression: {e}"),
                )
            })?;
        }
        f.schedule = schedule;
    }
    if let Some(timeout) = ctx.params.integer("timeout", 1, MAX_TIMEOUT)? {
        f.timeout = timeout;
    }
    if let Some(enabled) = ctx.params.boolean("enabled")? {
        f.enabled = enabled;
    }
    if let Some(logging) = ctx.params.boolean("logging")? {
        f.logging = logging;
    }
    if let Some(entrypoint) = ctx.params.text("entrypoint", 256)? {
        f.entrypoint = entrypoint;
    }
    if let Some(commands) = ctx.params.text("commands", 8192)? {
        f.commands = commands;
    }
    if let Some(scopes) = scopes_param(ctx)? {
        f.scopes = scopes;
    }
    for name in STORED_SETTINGS {
        if let Some(value) = ctx.params.raw(name) {
            f.settings.insert(name.to_string(), value.clone());
        }
    }
    Ok(())
}

fn write_values(f: &Function) -> Vec<Value> {
    vec![
        f.name.clone().into(),
        f.runtime.clone().into(),
        json!(f.execute).to_string().into(),
        json!(f.events).to_string().into(),
        f.schedule.clone().into(),
        Value::Integer(f.timeout),
        Value::Integer(i64::from(f.enabled)),
        Value::Integer(i64::from(f.logging)),
        f.entrypoint.clone().into(),
        f.commands.clone().into(),
        json!(f.scopes).to_string().into(),
        Json::Object(f.settings.clone()).to_string().into(),
        Value::Integer(f.updated_at),
    ]
}

/// `POST /functions`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("functionId", now, ctx.ports.random)?;
    ctx.params.required_text("name", 128)?;
    ctx.params.required_text("runtime", 128)?;
    let mut f = Function { id: id.clone(), created_at: now, updated_at: now, ..Function::default() };
    f.reset_settings();
    apply_params(ctx, &mut f)?;
    let mut values = vec![Value::from(id.clone())];
    values.extend(write_values(&f));
    values.push(Value::Integer(now));
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT INTO functions (id, name, runtime, execute, events, schedule, timeout, enabled, logging,
                     entrypoint, commands, scopes, settings, updated_at, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            ),
            Statement::new(format!("SELECT {COLUMNS} FROM functions WHERE id = ?"), vec![id.into()]),
        ])
        .await;
    let out = match out {
        Ok(out) => out,
        Err(StoreError::Constraint(_)) => {
            return Err(AppwriteError::new(
                ErrorType::FunctionAlreadyExists,
                "Function with the requested ID already exists.",
            ))
        }
        Err(e) => return Err(AppwriteError::internal(e)),
    };
    let f =
        out.get(1).and_then(|r| r.rows.first()).and_then(|r| Function::from_row(r)).ok_or_else(not_found)?;
    tracing::info!(function = %f.id, "function created");
    Ok(Response::json(201, &f.to_json()))
}

/// `GET /functions/{functionId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &load(ctx).await?.to_json()))
}

/// `PUT /functions/{functionId}`: `name` is required, as in Appwrite.
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mut f = load(ctx).await?;
    // Appwrite's PUT: settings the request leaves out return to their defaults.
    f.reset_settings();
    ctx.params.required_text("name", 128)?;
    apply_params(ctx, &mut f)?;
    f.updated_at = ctx.ports.clock.now_ms();
    let mut values = write_values(&f);
    values.push(Value::Integer(f.seq));
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE functions SET name = ?, runtime = ?, execute = ?, events = ?, schedule = ?, timeout = ?,
                     enabled = ?, logging = ?, entrypoint = ?, commands = ?, scopes = ?, settings = ?, updated_at = ?
                 WHERE seq = ?",
                values,
            )
            .expect_changes(1),
            Statement::new(format!("SELECT {COLUMNS} FROM functions WHERE seq = ?"), vec![Value::Integer(f.seq)]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    let f =
        out.get(1).and_then(|r| r.rows.first()).and_then(|r| Function::from_row(r)).ok_or_else(not_found)?;
    Ok(Response::json(200, &f.to_json()))
}

/// `DELETE /functions/{functionId}`: the function with its variables, deployments (and their
/// blobs) and executions.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = load(ctx).await?;
    let seq = Value::Integer(f.seq);
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "SELECT d.blobs, (SELECT coalesce(max(c.idx), -1) FROM deployment_chunks c WHERE c.deployment_seq = d.seq)
                 FROM deployments d WHERE d.function_seq = ?",
                vec![seq.clone()],
            ),
            Statement::new(
                "SELECT id FROM executions WHERE function_seq = ? AND status IN ('waiting', 'scheduled', 'processing')",
                vec![seq.clone()],
            ),
            Statement::new(
                "DELETE FROM deployment_chunks WHERE deployment_seq IN (SELECT seq FROM deployments WHERE function_seq = ?)",
                vec![seq.clone()],
            ),
            Statement::new("DELETE FROM deployments WHERE function_seq = ?", vec![seq.clone()]),
            Statement::new("DELETE FROM function_variables WHERE function_seq = ?", vec![seq.clone()]),
            Statement::new("DELETE FROM executions WHERE function_seq = ?", vec![seq.clone()]),
            Statement::new("DELETE FROM functions WHERE seq = ?", vec![seq]).expect_changes(1),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    for row in out.first().map(|r| r.rows.as_slice()).unwrap_or_default() {
        let blobs = row.first().and_then(Value::as_str).unwrap_or_default();
        let last = row.get(1).and_then(Value::as_i64).unwrap_or(-1);
        crate::deployments::delete_blobs(ctx, blobs, last).await;
    }
    for row in out.get(1).map(|r| r.rows.as_slice()).unwrap_or_default() {
        if let Some(id) = row.first().and_then(Value::as_str) {
            let _ = ctx.ports.blobs.delete(&crate::triggers::request_key(id)).await;
        }
    }
    tracing::info!(function = %f.id, "function deleted");
    Ok(Response::no_content())
}

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "enabled", column: "enabled", kind: FieldKind::Boolean },
    Field { attribute: "runtime", column: "runtime", kind: FieldKind::Text },
    Field { attribute: "deploymentId", column: "deployment_id", kind: FieldKind::Text },
    Field { attribute: "schedule", column: "schedule", kind: FieldKind::Text },
    Field { attribute: "timeout", column: "timeout", kind: FieldKind::Integer },
];

/// `GET /functions`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema {
        table: "functions",
        id_column: "id",
        fields: FIELDS,
        search: Some("id || ' ' || name || ' ' || runtime"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let columns = COLUMNS.replace("functions.", "edgewrite_t.");
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, &columns, None).await?;
    let functions: Vec<Json> =
        page.rows.iter().filter_map(|r| Function::from_row(r)).map(|f| f.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "functions": functions})))
}

/// `GET /functions/runtimes`
pub fn runtimes() -> Response {
    let runtimes = [json!({
        "$id": "wasm-wasip1",
        "key": "wasm",
        "name": "WebAssembly (WASI preview 1)",
        "version": "wasip1",
        "base": "",
        "image": "",
        "logo": "wasm.png",
        "supports": ["wasm32"],
    })];
    Response::json(200, &json!({"total": runtimes.len(), "runtimes": runtimes}))
}

/// `GET /functions/specifications`: the one this server runs everything with.
pub fn specifications(ctx: &Ctx<'_>) -> Response {
    let limits = crate::executions::Budget::from_ctx(ctx, DEFAULT_TIMEOUT);
    let specifications = [json!({
        "memory": limits.memory_bytes / (1024 * 1024),
        "cpus": 1,
        "enabled": true,
        "slug": SPECIFICATION,
    })];
    Response::json(200, &json!({"total": specifications.len(), "specifications": specifications}))
}

/// `PATCH /v1/functions/{functionId}/system-fields` (edgewrite only): a migrated function's
/// times, and its `variables`' ids and times (`[{key, $id, $createdAt, $updatedAt}]`). The CLI
/// calls it after the deployments, whose activation changes the function.
pub async fn restore(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    use edgewrite_core::system_fields::{assignments, item_assignments, item_text, items, update, TIMES};
    let now = ctx.ports.clock.now_ms();
    let set = assignments(&ctx.params, &TIMES, &["variables"], now)?;
    let f = load(ctx).await?;
    let row = vec![Value::Integer(f.seq)];
    let mut batch = vec![update("functions", set, "seq = ?", row)];
    for variable in items(&ctx.params, "variables")? {
        let key = item_text(&variable, "variables", "key")?;
        let mut fields = item_assignments(&variable, &TIMES, &["key", "$id"], now)?;
        if let Some(id) = variable.get("$id").and_then(serde_json::Value::as_str) {
            if !edgewrite_core::ids::is_valid_custom_id(id) {
                return Err(AppwriteError::invalid_param("variables", "Each \"$id\" must be a valid ID"));
            }
            fields.push(("id", id.into()));
        }
        let key_values = vec![Value::Integer(f.seq), key.into()];
        batch.push(update("function_variables", fields, "function_seq = ? AND key = ?", key_values));
    }
    let statements: Vec<Statement> = batch.into_iter().map(|s| s.expect_changes(1)).collect();
    ctx.ports.sql.batch(statements).await.map_err(|e| match e {
        StoreError::GuardFailed { .. } => AppwriteError::from(ErrorType::VariableNotFound),
        StoreError::Constraint(_) => AppwriteError::from(ErrorType::VariableAlreadyExists),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}
