//! Deployments (`/v1/functions/{functionId}/deployments`): code uploaded with the SDKs'
//! chunked upload, one blob per 5 MiB part (`<blobs>/<index>`). When the last part lands the
//! upload is "built": the module is taken out of it (a bare `.wasm`, or the one in a `.tar.gz`),
//! checked by the interpreter, and stored as `<blobs>/module`. A bad module fails the
//! deployment with a build log saying why; it never reaches an execution.

use std::io::Read;

use edgewrite_core::identity::Caller;
use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::upload::part_of;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::functions::{self, Function};
use crate::runner;

/// Largest upload (Appwrite's default is 30 MB; a Worker isolate has 128 MB for everything,
/// and a build holds the upload, its unpacked archive and the module at once).
pub const MAX_DEPLOYMENT_BYTES: u64 = 10_000_000;
/// Largest archive once unpacked, and largest module.
const MAX_UNPACKED_BYTES: u64 = 32 * 1024 * 1024;
const MAX_MODULE_BYTES: usize = 16 * 1024 * 1024;

/// The columns of [`Deployment::from_row`], for the deployments table aliased `t`.
fn columns(t: &str) -> String {
    format!(
        "{t}.seq, {t}.id, {t}.entrypoint, {t}.commands, {t}.activate, {t}.status, {t}.build_logs, {t}.source_size,
         {t}.build_size, {t}.build_duration, {t}.chunks_total, {t}.uploader, {t}.blobs, {t}.created_at, {t}.updated_at,
         (SELECT count(*) FROM deployment_chunks c WHERE c.deployment_seq = {t}.seq)"
    )
}

/// Status of a deployment whose upload is still arriving.
const UPLOADING: &str = "waiting";

#[derive(Debug, Clone)]
pub struct Deployment {
    pub seq: i64,
    pub id: String,
    pub entrypoint: String,
    pub commands: String,
    pub activate: bool,
    pub status: String,
    pub build_logs: String,
    pub source_size: i64,
    pub build_size: i64,
    pub build_duration: f64,
    pub chunks_total: i64,
    pub uploader: String,
    pub blobs: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub chunks_uploaded: i64,
}

impl Deployment {
    pub fn from_row(row: &[Value]) -> Option<Deployment> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Deployment {
            seq: row.first()?.as_i64()?,
            id: text(1),
            entrypoint: text(2),
            commands: text(3),
            activate: int(4) == 1,
            status: text(5),
            build_logs: text(6),
            source_size: int(7),
            build_size: int(8),
            build_duration: row.get(9).and_then(Value::as_f64).unwrap_or_default(),
            chunks_total: int(10),
            uploader: text(11),
            blobs: text(12),
            created_at: int(13),
            updated_at: int(14),
            chunks_uploaded: int(15),
        })
    }

    pub fn module_key(&self) -> String {
        format!("{}/module", self.blobs)
    }

    pub fn to_json(&self, f: &Function) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "type": "manual",
            "resourceId": f.id,
            "resourceType": "functions",
            "entrypoint": self.entrypoint,
            "sourceSize": self.source_size,
            "buildSize": self.build_size,
            "totalSize": self.source_size + self.build_size,
            "buildId": self.id,
            "activate": self.activate,
            "screenshotLight": "",
            "screenshotDark": "",
            "status": self.status,
            "buildLogs": self.build_logs,
            // Whole seconds, as the model's integer.
            "buildDuration": self.build_duration.round() as i64,
            "providerRepositoryName": "",
            "providerRepositoryOwner": "",
            "providerRepositoryUrl": "",
            "providerCommitHash": "",
            "providerCommitAuthorUrl": "",
            "providerCommitAuthor": "",
            "providerCommitMessage": "",
            "providerCommitUrl": "",
            "providerBranch": "",
            "providerBranchUrl": "",
        })
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::DeploymentNotFound, "Deployment with the requested ID could not be found.")
}

fn invalid_range() -> AppwriteError {
    AppwriteError::new(ErrorType::StorageInvalidContentRange, "The content range is invalid.")
}

fn chunk_key(blobs: &str, idx: i64) -> String {
    format!("{blobs}/{idx}")
}

/// Deletes a deployment's blobs: parts `0..=last` and the module.
pub async fn delete_blobs(ctx: &Ctx<'_>, blobs: &str, last: i64) {
    for key in (0..=last).map(|i| chunk_key(blobs, i)).chain([format!("{blobs}/module")]) {
        if let Err(error) = ctx.ports.blobs.delete(&key).await {
            tracing::warn!(%error, %key, "deleting a deployment blob");
        }
    }
}

/// The statement reading the active deployment of the function `function_id`.
pub fn active_statement(function_id: &str) -> Statement {
    Statement::new(
        format!(
            "SELECT {} FROM deployments d JOIN functions f ON f.seq = d.function_seq AND f.deployment_id = d.id WHERE f.id = ?",
            columns("d")
        ),
        vec![function_id.into()],
    )
}

pub async fn load_by_id(ctx: &Ctx<'_>, f: &Function, id: &str) -> Result<Option<Deployment>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {} FROM deployments d WHERE d.function_seq = ? AND d.id = ?", columns("d")),
            vec![Value::Integer(f.seq), id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Deployment::from_row(r)))
}

async fn load(ctx: &Ctx<'_>, f: &Function) -> Result<Deployment, AppwriteError> {
    let id = ctx.params.required_text("deploymentId", 36)?;
    load_by_id(ctx, f, &id).await?.ok_or_else(not_found)
}

/// The row of a new deployment of `f` (`settings`: entrypoint, commands, activate; `size`:
/// bytes and parts), written only while the function exists.
#[allow(clippy::too_many_arguments)]
fn insert_statement(
    f: &Function,
    id: &str,
    settings: (&str, &str, bool),
    status: &str,
    size: (u64, i64),
    uploader: &str,
    blobs: &str,
    now: i64,
) -> Statement {
    let (entrypoint, commands, activate) = settings;
    Statement::new(
        "INSERT INTO deployments (function_seq, id, entrypoint, commands, activate, status, build_logs,
             source_size, build_size, build_duration, chunks_total, uploader, blobs, created_at, updated_at)
         SELECT ?, ?, ?, ?, ?, ?, '', ?, 0, 0, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM functions WHERE seq = ?)",
        vec![
            Value::Integer(f.seq),
            id.into(),
            entrypoint.into(),
            commands.into(),
            Value::Integer(i64::from(activate)),
            status.into(),
            Value::Integer(size.0 as i64),
            Value::Integer(size.1),
            uploader.into(),
            blobs.into(),
            Value::Integer(now),
            Value::Integer(now),
            Value::Integer(f.seq),
        ],
    )
}

fn uploader(ctx: &Ctx<'_>) -> String {
    match &ctx.caller {
        Caller::App { key_id, .. } => format!("app:{key_id}"),
        Caller::User(user) => format!("user:{}", user.user_id),
        Caller::Guest => String::new(),
    }
}

/// `POST /functions/{functionId}/deployments` (multipart: code, activate, entrypoint?,
/// commands?): the whole upload, or one part of it.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let upload = ctx.params.file("code").ok_or_else(|| {
        AppwriteError::new(ErrorType::StorageFileEmpty, "Empty file passed to the endpoint.")
    })?;
    let activate = ctx.params.boolean("activate")?.unwrap_or(false);
    let entrypoint = ctx.params.text("entrypoint", 256)?.unwrap_or_else(|| f.entrypoint.clone());
    let commands = ctx.params.text("commands", 8192)?.unwrap_or_else(|| f.commands.clone());
    let data = &upload.data;
    let part = part_of(ctx.request, data.len() as u64).ok_or_else(invalid_range)?;
    if part.size > MAX_DEPLOYMENT_BYTES {
        return Err(AppwriteError::new(
            ErrorType::StorageInvalidFileSize,
            format!("File size not allowed: a deployment may hold at most {MAX_DEPLOYMENT_BYTES} bytes."),
        ));
    }
    let now = ctx.ports.clock.now_ms();
    let existing = match (part.chunked, ctx.request.header("x-appwrite-id")) {
        (true, Some(id)) => load_by_id(ctx, &f, id).await?,
        _ => None,
    };
    let deployment = match existing {
        Some(d) if d.status != UPLOADING => return Ok(Response::json(200, &d.to_json(&f))),
        Some(d)
            if d.uploader != uploader(ctx)
                || d.source_size as u64 != part.size
                || d.chunks_total != part.total =>
        {
            return Err(invalid_range())
        }
        Some(d) => d,
        None => {
            let id = match migrated_id(ctx)? {
                Some(id) => id,
                None => edgewrite_core::ids::unique_id(now, ctx.ports.random),
            };
            let blobs = format!("deployments/{}", edgewrite_core::ids::random_hex(16, ctx.ports.random));
            let out = ctx
                .ports
                .sql
                .batch(vec![
                    insert_statement(
                        &f,
                        &id,
                        (&entrypoint, &commands, activate),
                        UPLOADING,
                        (part.size, part.total),
                        &uploader(ctx),
                        &blobs,
                        now,
                    )
                    .expect_changes(1),
                    Statement::new(
                        format!("SELECT {} FROM deployments d WHERE d.id = ?", columns("d")),
                        vec![id.into()],
                    ),
                ])
                .await
                .map_err(|e| AppwriteError::from_store(e, functions::not_found))?;
            out.get(1)
                .and_then(|r| r.rows.first())
                .and_then(|r| Deployment::from_row(r))
                .ok_or_else(not_found)?
        }
    };
    ctx.ports
        .blobs
        .put(&chunk_key(&deployment.blobs, part.index), data.clone())
        .await
        .map_err(AppwriteError::internal)?;
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT OR REPLACE INTO deployment_chunks (deployment_seq, idx, size)
                 SELECT seq, ?, ? FROM deployments WHERE seq = ?",
                vec![
                    Value::Integer(part.index),
                    Value::Integer(data.len() as i64),
                    Value::Integer(deployment.seq),
                ],
            )
            .expect_changes(1),
            Statement::new(
                "UPDATE deployments SET updated_at = ? WHERE seq = ?",
                vec![Value::Integer(now), Value::Integer(deployment.seq)],
            ),
            Statement::new(
                format!("SELECT {} FROM deployments d WHERE d.seq = ?", columns("d")),
                vec![Value::Integer(deployment.seq)],
            ),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    let deployment = out
        .get(2)
        .and_then(|r| r.rows.first())
        .and_then(|r| Deployment::from_row(r))
        .ok_or_else(not_found)?;
    if deployment.chunks_uploaded < deployment.chunks_total || deployment.status != UPLOADING {
        return Ok(Response::json(202, &deployment.to_json(&f)));
    }
    // Two last parts arriving together: one builds, the other answers the state.
    let claimed = ctx
        .ports
        .sql
        .batch(vec![Statement::new(
            "UPDATE deployments SET status = 'processing' WHERE seq = ? AND status = ?",
            vec![Value::Integer(deployment.seq), UPLOADING.into()],
        )
        .expect_changes(1)])
        .await;
    match claimed {
        Ok(_) => {}
        Err(StoreError::GuardFailed { .. }) => {
            let current = load_by_id(ctx, &f, &deployment.id).await?.ok_or_else(not_found)?;
            return Ok(Response::json(202, &current.to_json(&f)));
        }
        Err(other) => return Err(AppwriteError::internal(other)),
    }
    let built = build(ctx, &f, deployment, (part.index == 0 && part.total == 1).then_some(data)).await?;
    Ok(Response::json(202, &built.to_json(&f)))
}

/// The id a migration (a key with `migrations.write`; edgewrite only) gives a deployment it
/// carries, so that a re-run finds it rather than uploading it again.
fn migrated_id(ctx: &Ctx<'_>) -> Result<Option<String>, AppwriteError> {
    let Some(id) = ctx.params.text("deploymentId", 36)?.filter(|id| !id.is_empty()) else { return Ok(None) };
    if !ctx.caller.has_scope("migrations.write") {
        return Ok(None);
    }
    if edgewrite_core::ids::is_valid_custom_id(&id) {
        Ok(Some(id))
    } else {
        Err(AppwriteError::invalid_param("deploymentId", edgewrite_core::ids::CUSTOM_ID_RULE))
    }
}

/// The upload's bytes, part by part.
async fn source(ctx: &Ctx<'_>, d: &Deployment) -> Result<Vec<u8>, AppwriteError> {
    let mut bytes = Vec::with_capacity(d.source_size as usize);
    for idx in 0..d.chunks_total {
        let part = ctx
            .ports
            .blobs
            .get(&chunk_key(&d.blobs, idx), None)
            .await
            .map_err(AppwriteError::internal)?
            .ok_or_else(|| {
                AppwriteError::internal(format!("part {idx} of deployment {} is missing", d.id))
            })?;
        bytes.extend_from_slice(&part);
    }
    Ok(bytes)
}

/// Takes the module out of the upload and checks it; records `ready` (and activates it when
/// asked) or `failed` with the reason in the build log. Only the first request to finish the
/// upload builds.
async fn build(
    ctx: &Ctx<'_>,
    f: &Function,
    d: Deployment,
    whole: Option<&Vec<u8>>,
) -> Result<Deployment, AppwriteError> {
    let started = ctx.ports.clock.now_ms();
    let bytes = match whole {
        Some(b) => b.clone(),
        None => source(ctx, &d).await?,
    };
    let result = module_from_upload(&bytes, &d.entrypoint)
        .and_then(|module| {
            if module.len() > MAX_MODULE_BYTES {
                Err(format!(
                    "the module holds {} bytes; a module may hold at most {MAX_MODULE_BYTES}",
                    module.len()
                ))
            } else {
                Ok(module)
            }
        })
        .and_then(|module| runner::check(&module).map(|()| module).map_err(|e| e.0));
    let (status, logs, build_size) = match result {
        Ok(module) => {
            let size = module.len() as i64;
            ctx.ports.blobs.put(&d.module_key(), module).await.map_err(AppwriteError::internal)?;
            ("ready", format!("Checked a WebAssembly module of {size} bytes: ready to run.\n"), size)
        }
        Err(reason) => ("failed", format!("Build failed: {reason}\n"), 0),
    };
    let now = ctx.ports.clock.now_ms();
    let duration = (now - started).max(0) as f64 / 1000.0;
    let activate = status == "ready" && d.activate;
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE deployments SET status = ?, build_logs = ?, build_size = ?, build_duration = ?, updated_at = ?
                 WHERE seq = ? AND status = 'processing'",
                vec![
                    status.into(),
                    logs.into(),
                    Value::Integer(build_size),
                    Value::Real(duration),
                    Value::Integer(now),
                    Value::Integer(d.seq),
                ],
            ),
            Statement::new(
                "UPDATE functions SET deployment_id = ?, updated_at = ? WHERE seq = ? AND ?
                   AND EXISTS (SELECT 1 FROM deployments WHERE seq = ? AND status = 'ready')",
                vec![
                    d.id.clone().into(),
                    Value::Integer(now),
                    Value::Integer(f.seq),
                    Value::Integer(i64::from(activate)),
                    Value::Integer(d.seq),
                ],
            ),
            Statement::new(format!("SELECT {} FROM deployments d WHERE d.seq = ?", columns("d")), vec![Value::Integer(d.seq)]),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    tracing::info!(function = %f.id, deployment = %d.id, status, "deployment built");
    out.get(2).and_then(|r| r.rows.first()).and_then(|r| Deployment::from_row(r)).ok_or_else(not_found)
}

/// The module in an upload: the upload itself when it is one, else the `.wasm` file in a
/// `.tar.gz` (the `entrypoint`, or the only one).
pub fn module_from_upload(bytes: &[u8], entrypoint: &str) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes.to_vec());
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err("the code is neither a WebAssembly module (\\0asm) nor a .tar.gz archive".into());
    }
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_UNPACKED_BYTES + 1)
        .read_to_end(&mut tar)
        .map_err(|e| format!("the .tar.gz archive cannot be read: {e}"))?;
    if tar.len() as u64 > MAX_UNPACKED_BYTES {
        return Err(format!("the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes"));
    }
    let files = tar_files(&tar)?;
    let wanted = entrypoint.trim_start_matches("./");
    let candidates: Vec<&(String, &[u8])> = if wanted.is_empty() {
        files.iter().filter(|(name, _)| name.ends_with(".wasm")).collect()
    } else {
        files.iter().filter(|(name, _)| name == wanted).collect()
    };
    match candidates.as_slice() {
        [(_, data)] => Ok(data.to_vec()),
        [] if wanted.is_empty() => Err("the archive holds no .wasm file".into()),
        [] => Err(format!("the entrypoint {wanted} is not in the archive")),
        many => Err(format!(
            "the archive holds {} .wasm files ({}); set the function's entrypoint to one",
            many.len(),
            many.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The regular files of a ustar/GNU tar archive, by path without a leading `./`.
fn tar_files(tar: &[u8]) -> Result<Vec<(String, &[u8])>, String> {
    let mut files = Vec::new();
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let field = |from: usize, to: usize| {
            let raw = &header[from..to];
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let size_text = field(124, 136);
        let size = u64::from_str_radix(size_text.trim(), 8)
            .map_err(|_| "the tar archive is malformed".to_string())?;
        let size = usize::try_from(size).map_err(|_| "the tar archive is malformed".to_string())?;
        let start = at + 512;
        let end =
            start.checked_add(size).filter(|e| *e <= tar.len()).ok_or("the tar archive is truncated")?;
        let kind = header[156];
        let mut name = field(0, 100);
        if &header[257..262] == b"ustar" {
            let prefix = field(345, 500);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(long) = long_name.take() {
            name = long;
        }
        match kind {
            b'L' => {
                long_name = Some(String::from_utf8_lossy(&tar[start..end]).trim_end_matches('\0').to_string())
            }
            b'0' | 0 => files.push((name.trim_start_matches("./").to_string(), &tar[start..end])),
            _ => {}
        }
        at = start + size.div_ceil(512) * 512;
    }
    Ok(files)
}

/// `GET /functions/{functionId}/deployments/{deploymentId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    Ok(Response::json(200, &load(ctx, &f).await?.to_json(&f)))
}

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "status", column: "status", kind: FieldKind::Text },
    Field { attribute: "sourceSize", column: "source_size", kind: FieldKind::Integer },
    Field { attribute: "buildSize", column: "build_size", kind: FieldKind::Integer },
    Field { attribute: "activate", column: "activate", kind: FieldKind::Boolean },
    Field { attribute: "entrypoint", column: "entrypoint", kind: FieldKind::Text },
];

/// `GET /functions/{functionId}/deployments`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let schema = Schema {
        table: "deployments",
        id_column: "id",
        fields: FIELDS,
        search: Some("id || ' ' || status"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let page = query::plan(&options, &schema, &ctx.config.limits)?
        .fetch(
            ctx.ports.sql,
            &columns("edgewrite_t"),
            Some(("edgewrite_t.function_seq = ?", vec![Value::Integer(f.seq)])),
        )
        .await?;
    let deployments: Vec<Json> =
        page.rows.iter().filter_map(|r| Deployment::from_row(r)).map(|d| d.to_json(&f)).collect();
    Ok(Response::json(200, &json!({"total": page.total, "deployments": deployments})))
}

/// `PATCH /functions/{functionId}/deployment` (deploymentId): makes a ready deployment the
/// one executions run.
pub async fn activate(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let d = load(ctx, &f).await?;
    if d.status != "ready" {
        return Err(AppwriteError::new(ErrorType::BuildNotReady, "Build not ready"));
    }
    let now = ctx.ports.clock.now_ms();
    ctx.ports
        .sql
        .batch(vec![Statement::new(
            "UPDATE functions SET deployment_id = ?, updated_at = ? WHERE seq = ?
               AND EXISTS (SELECT 1 FROM deployments WHERE seq = ? AND status = 'ready')",
            vec![d.id.clone().into(), Value::Integer(now), Value::Integer(f.seq), Value::Integer(d.seq)],
        )
        .expect_changes(1)])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    let f = functions::load_by_id(ctx, &f.id).await?;
    Ok(Response::json(200, &f.to_json()))
}

/// `DELETE /functions/{functionId}/deployments/{deploymentId}`: the active one too (the
/// function then has none).
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let d = load(ctx, &f).await?;
    ctx.ports
        .sql
        .batch(vec![
            Statement::new(
                "DELETE FROM deployment_chunks WHERE deployment_seq = ?",
                vec![Value::Integer(d.seq)],
            ),
            Statement::new("DELETE FROM deployments WHERE seq = ?", vec![Value::Integer(d.seq)])
                .expect_changes(1),
            Statement::new(
                "UPDATE functions SET deployment_id = '' WHERE seq = ? AND deployment_id = ?",
                vec![Value::Integer(f.seq), d.id.clone().into()],
            ),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    delete_blobs(ctx, &d.blobs, d.chunks_total - 1).await;
    Ok(Response::no_content())
}

/// `GET …/deployments/{deploymentId}/download` (`type`: `source`, the default, or `output`,
/// the checked module).
pub async fn download(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let d = load(ctx, &f).await?;
    let (bytes, name) = match ctx.params.text("type", 16)?.as_deref() {
        None | Some("source") => (source(ctx, &d).await?, format!("{}.code", d.id)),
        Some("output") => (
            ctx.ports.blobs.get(&d.module_key(), None).await.map_err(AppwriteError::internal)?.ok_or_else(
                || AppwriteError::new(ErrorType::BuildNotReady, "The deployment has no built module."),
            )?,
            format!("{}.wasm", d.id),
        ),
        Some(_) => return Err(AppwriteError::invalid_param("type", "Value must be one of (source, output)")),
    };
    let media = if bytes.starts_with(b"\0asm") { "application/wasm" } else { "application/gzip" };
    let mut response = Response::new(200);
    response.headers.set("content-type", media);
    response.body = bytes;
    response.headers.set("content-disposition", format!("attachment; filename=\"{name}\""));
    Ok(response)
}

/// `PATCH …/deployments/{deploymentId}/status`: cancels an upload still in progress.
pub async fn cancel(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let d = load(ctx, &f).await?;
    if d.status == UPLOADING {
        ctx.ports
            .sql
            .query(Statement::new(
                "UPDATE deployments SET status = 'canceled', updated_at = ? WHERE seq = ? AND status = ?",
                vec![Value::Integer(ctx.ports.clock.now_ms()), Value::Integer(d.seq), UPLOADING.into()],
            ))
            .await
            .map_err(AppwriteError::internal)?;
    }
    Ok(Response::json(200, &load(ctx, &f).await?.to_json(&f)))
}

/// `POST …/deployments/duplicate` (deploymentId): a new deployment of the same code, built
/// again.
pub async fn duplicate(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let f = functions::load(ctx).await?;
    let original = load(ctx, &f).await?;
    let bytes = source(ctx, &original).await?;
    let now = ctx.ports.clock.now_ms();
    let id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    let blobs = format!("deployments/{}", edgewrite_core::ids::random_hex(16, ctx.ports.random));
    ctx.ports.blobs.put(&chunk_key(&blobs, 0), bytes.clone()).await.map_err(AppwriteError::internal)?;
    let out = ctx
        .ports
        .sql
        .batch(vec![
            insert_statement(
                &f,
                &id,
                (&original.entrypoint, &original.commands, false),
                "processing",
                (bytes.len() as u64, 1),
                &uploader(ctx),
                &blobs,
                now,
            )
            .expect_changes(1),
            Statement::new(
                "INSERT INTO deployment_chunks (deployment_seq, idx, size) SELECT seq, 0, ? FROM deployments WHERE id = ?",
                vec![Value::Integer(bytes.len() as i64), id.clone().into()],
            ),
            Statement::new(format!("SELECT {} FROM deployments d WHERE d.id = ?", columns("d")), vec![id.into()]),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, functions::not_found))?;
    let d = out
        .get(2)
        .and_then(|r| r.rows.first())
        .and_then(|r| Deployment::from_row(r))
        .ok_or_else(not_found)?;
    let built = build(ctx, &f, d, Some(&bytes)).await?;
    Ok(Response::json(202, &built.to_json(&f)))
}

/// `PATCH /v1/functions/{functionId}/deployments/{deploymentId}/system-fields` (edgewrite
/// only): a migrated deployment's id (`$id`; the function's active deployment and its
/// executions follow it) and times.
pub async fn restore(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    use edgewrite_core::system_fields::{assignments, update, TIMES};
    let mut set = assignments(&ctx.params, &TIMES, &["$id"], ctx.ports.clock.now_ms())?;
    let f = functions::load(ctx).await?;
    let d = load(ctx, &f).await?;
    let mut batch = Vec::new();
    if let Some(id) = ctx.params.text("$id", 36)?.filter(|id| *id != d.id) {
        if !edgewrite_core::ids::is_valid_custom_id(&id) {
            return Err(AppwriteError::invalid_param("$id", edgewrite_core::ids::CUSTOM_ID_RULE));
        }
        set.push(("id", id.clone().into()));
        batch.push(Statement::new(
            "UPDATE functions SET deployment_id = ? WHERE seq = ? AND deployment_id = ?",
            vec![id.clone().into(), Value::Integer(f.seq), d.id.clone().into()],
        ));
        batch.push(Statement::new(
            "UPDATE executions SET deployment_id = ? WHERE function_seq = ? AND deployment_id = ?",
            vec![id.into(), Value::Integer(f.seq), d.id.clone().into()],
        ));
    }
    let row = vec![Value::Integer(d.seq)];
    batch.insert(0, update("deployments", set, "seq = ?", row).expect_changes(1));
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::GuardFailed { .. } => not_found(),
        StoreError::Constraint(_) => {
            AppwriteError::new(ErrorType::GeneralArgumentInvalid, "Another deployment already has this ID.")
        }
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_entry(name: &str, data: &[u8]) -> Vec<u8> {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{:011o}\0", data.len());
        header[124..136].copy_from_slice(size.as_bytes());
        header[156] = b'0';
        header[257..262].copy_from_slice(b"ustar");
        let mut out = header.to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn a_bare_module_is_the_module() {
        assert_eq!(module_from_upload(b"\0asm\x01\0\0\0", ""), Ok(b"\0asm\x01\0\0\0".to_vec()));
    }

    #[test]
    fn archives_give_their_only_or_named_wasm() {
        let mut tar = tar_entry("./README.md", b"hello");
        tar.extend(tar_entry("./main.wasm", b"\0asm\x01\0\0\0"));
        tar.extend([0u8; 1024]);
        assert_eq!(module_from_upload(&gzip(&tar), ""), Ok(b"\0asm\x01\0\0\0".to_vec()));
        assert_eq!(module_from_upload(&gzip(&tar), "main.wasm"), Ok(b"\0asm\x01\0\0\0".to_vec()));
        assert!(module_from_upload(&gzip(&tar), "other.wasm").unwrap_err().contains("not in the archive"));
        let mut two = tar.clone();
        two.truncate(two.len() - 1024);
        two.extend(tar_entry("b.wasm", b"\0asm"));
        assert!(module_from_upload(&gzip(&two), "").unwrap_err().contains("2 .wasm files"));
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(module_from_upload(b"#!/bin/sh", "").unwrap_err().contains("neither"));
        assert!(module_from_upload(&[0x1f, 0x8b, 1, 2, 3], "").is_err());
        let truncated = tar_entry("x.wasm", &[0; 600]);
        assert!(module_from_upload(&gzip(&truncated[..700]), "").unwrap_err().contains("truncated"));
    }
}
