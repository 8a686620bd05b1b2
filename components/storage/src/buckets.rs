//! Buckets (`/v1/storage/buckets`): API keys manage them; their permissions, `fileSecurity`,
//! size and extension limits, compression and encryption govern the files inside.

use edgewrite_core::identity::Caller;
use edgewrite_core::permissions;
use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::system_fields::{restore_row, TIMES};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

/// A new bucket's `maximumFileSize` (Appwrite's `_APP_STORAGE_LIMIT` default).
pub const DEFAULT_MAXIMUM_FILE_SIZE: i64 = 30_000_000;
/// The largest `maximumFileSize` a bucket may set: 1000 chunks of 5 MiB.
pub const MAX_FILE_SIZE: i64 = 1000 * crate::files::CHUNK_SIZE as i64;
const COMPRESSIONS: &[&str] = &["none", "gzip", "zstd"];
/// What `write` means on a bucket.
pub const BUCKET_WRITE: &[&str] = &["create", "update", "delete"];

const COLUMNS: &str =
    "seq, id, name, permissions, file_security, enabled, maximum_file_size, allowed_file_extensions,
    compression, encryption, antivirus, transformations, created_at, updated_at,
    (SELECT coalesce(sum(f.size_original), 0) FROM files f WHERE f.bucket_seq = buckets.seq)";

#[derive(Debug, Clone)]
pub struct Bucket {
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub file_security: bool,
    pub enabled: bool,
    pub maximum_file_size: i64,
    pub allowed_file_extensions: Vec<String>,
    pub compression: String,
    pub encryption: bool,
    pub antivirus: bool,
    pub transformations: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub total_size: i64,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

impl Bucket {
    fn from_row(row: &[Value]) -> Option<Bucket> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Bucket {
            seq: row.first()?.as_i64()?,
            id: text(1),
            name: text(2),
            permissions: strings(row.get(3)),
            file_security: int(4) == 1,
            enabled: int(5) == 1,
            maximum_file_size: int(6),
            allowed_file_extensions: strings(row.get(7)),
            compression: text(8),
            encryption: int(9) == 1,
            antivirus: int(10) == 1,
            transformations: int(11) == 1,
            created_at: int(12),
            updated_at: int(13),
            total_size: int(14),
        })
    }

    pub fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "$permissions": self.permissions,
            "fileSecurity": self.file_security,
            "name": self.name,
            "enabled": self.enabled,
            "maximumFileSize": self.maximum_file_size,
            "allowedFileExtensions": self.allowed_file_extensions,
            "compression": self.compression,
            "encryption": self.encryption,
            "antivirus": self.antivirus,
            "transformations": self.transformations,
            "totalSize": self.total_size,
        })
    }

    /// Whether the bucket's own permissions give the caller `action` (API keys: always).
    pub fn allows(&self, ctx: &Ctx<'_>, action: &str) -> bool {
        matches!(ctx.caller, Caller::App { .. })
            || permissions::allows(&self.permissions, action, &ctx.caller.roles(), BUCKET_WRITE)
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(
        ErrorType::StorageBucketNotFound,
        "Storage bucket with the requested ID could not be found.",
    )
}

/// The `{bucketId}` bucket; a disabled bucket exists only for API keys.
pub async fn load(ctx: &Ctx<'_>) -> Result<Bucket, AppwriteError> {
    let id = ctx.params.required_text("bucketId", 36)?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(format!("SELECT {COLUMNS} FROM buckets WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    let bucket = rows.rows.first().and_then(|r| Bucket::from_row(r)).ok_or_else(not_found)?;
    if !bucket.enabled && !matches!(ctx.caller, Caller::App { .. }) {
        return Err(not_found());
    }
    Ok(bucket)
}

/// The bucket settings in the request, over `bucket`'s (create: the defaults).
fn apply_params(ctx: &Ctx<'_>, bucket: &mut Bucket) -> Result<(), AppwriteError> {
    if let Some(list) = ctx.params.string_array("permissions", 256, &ctx.config.limits)? {
        let parsed = permissions::parse(&list, &["read", "create", "update", "delete", "write"])?;
        bucket.permissions = permissions::render(&parsed);
    }
    if let Some(v) = ctx.params.boolean("fileSecurity")? {
        bucket.file_security = v;
    }
    if let Some(v) = ctx.params.boolean("enabled")? {
        bucket.enabled = v;
    }
    if let Some(v) = ctx.params.integer("maximumFileSize", 1, MAX_FILE_SIZE)? {
        bucket.maximum_file_size = v;
    }
    if let Some(list) = ctx.params.string_array("allowedFileExtensions", 64, &ctx.config.limits)? {
        bucket.allowed_file_extensions = list;
    }
    if let Some(v) = ctx.params.text("compression", 8)? {
        if !COMPRESSIONS.contains(&v.as_str()) {
            return Err(AppwriteError::invalid_param(
                "compression",
                &format!("Value must be one of ({})", COMPRESSIONS.join(", ")),
            ));
        }
        bucket.compression = v;
    }
    if let Some(v) = ctx.params.boolean("encryption")? {
        bucket.encryption = v;
    }
    if let Some(v) = ctx.params.boolean("antivirus")? {
        bucket.antivirus = v;
    }
    if let Some(v) = ctx.params.boolean("transformations")? {
        bucket.transformations = v;
    }
    Ok(())
}

fn write_statement(sql: &str, b: &Bucket) -> Statement {
    Statement::new(
        sql,
        vec![
            b.name.clone().into(),
            json!(b.permissions).to_string().into(),
            Value::Integer(i64::from(b.file_security)),
            Value::Integer(i64::from(b.enabled)),
            Value::Integer(b.maximum_file_size),
            json!(b.allowed_file_extensions).to_string().into(),
            b.compression.clone().into(),
            Value::Integer(i64::from(b.encryption)),
            Value::Integer(i64::from(b.antivirus)),
            Value::Integer(i64::from(b.transformations)),
            Value::Integer(b.updated_at),
            b.id.clone().into(),
        ],
    )
}

/// `POST /storage/buckets`
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let mut bucket = Bucket {
        seq: 0,
        id: ctx.params.custom_id("bucketId", now, ctx.ports.random)?,
        name: ctx.params.required_text("name", 128)?,
        permissions: Vec::new(),
        file_security: false,
        enabled: true,
        maximum_file_size: DEFAULT_MAXIMUM_FILE_SIZE,
        allowed_file_extensions: Vec::new(),
        compression: "none".into(),
        encryption: true,
        antivirus: true,
        transformations: true,
        created_at: now,
        updated_at: now,
        total_size: 0,
    };
    apply_params(ctx, &mut bucket)?;
    let mut insert = write_statement(
        "INSERT INTO buckets (name, permissions, file_security, enabled, maximum_file_size, allowed_file_extensions,
             compression, encryption, antivirus, transformations, updated_at, id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &bucket,
    );
    insert.params.push(Value::Integer(now));
    ctx.ports.sql.query(insert).await.map_err(|e| match e {
        StoreError::Constraint(_) => AppwriteError::new(
            ErrorType::StorageBucketAlreadyExists,
            "A storage bucket with the requested ID already exists.",
        ),
        other => AppwriteError::internal(other),
    })?;
    announce(ctx, &bucket.id, "create", bucket.to_json()).await;
    Ok(Response::json(201, &bucket.to_json()))
}

/// A bucket's event: no realtime channel has it (Appwrite's console only), but webhooks and
/// function triggers do.
async fn announce(ctx: &Ctx<'_>, id: &str, action: &str, payload: Json) {
    let names = edgewrite_core::events::names(&[("buckets", id)], action);
    edgewrite_core::events::publish(
        ctx,
        edgewrite_core::ports::Event::new(names, Vec::new(), payload, Vec::new()),
    )
    .await;
}

/// `GET /storage/buckets/{bucketId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &load(ctx).await?.to_json()))
}

/// `PUT /storage/buckets/{bucketId}`
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mut bucket = load(ctx).await?;
    bucket.name = ctx.params.required_text("name", 128)?;
    apply_params(ctx, &mut bucket)?;
    bucket.updated_at = ctx.ports.clock.now_ms();
    let statement = write_statement(
        "UPDATE buckets SET name = ?, permissions = ?, file_security = ?, enabled = ?, maximum_file_size = ?,
             allowed_file_extensions = ?, compression = ?, encryption = ?, antivirus = ?, transformations = ?,
             updated_at = ?
         WHERE id = ?",
        &bucket,
    )
    .expect_changes(1);
    ctx.ports.sql.batch(vec![statement]).await.map_err(|e| AppwriteError::from_store(e, not_found))?;
    announce(ctx, &bucket.id, "update", bucket.to_json()).await;
    Ok(Response::json(200, &bucket.to_json()))
}

/// `DELETE /storage/buckets/{bucketId}`: its files and their bytes go too.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let bucket = load(ctx).await?;
    let chunks = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT f.blobs, c.idx FROM files f JOIN file_chunks c ON c.file_seq = f.seq WHERE f.bucket_seq = ?",
            vec![Value::Integer(bucket.seq)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let seq = || vec![Value::Integer(bucket.seq)];
    ctx.ports
        .sql
        .batch(vec![
            Statement::new(
                "DELETE FROM file_perms WHERE file_seq IN (SELECT seq FROM files WHERE bucket_seq = ?)",
                seq(),
            ),
            Statement::new(
                "DELETE FROM file_chunks WHERE file_seq IN (SELECT seq FROM files WHERE bucket_seq = ?)",
                seq(),
            ),
            crate::tokens::forget_bucket(&bucket),
            Statement::new("DELETE FROM files WHERE bucket_seq = ?", seq()),
            Statement::new("DELETE FROM buckets WHERE seq = ?", seq()),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    // The rows are gone first: a blob left by a failure here is unreachable, never half a file.
    for row in &chunks.rows {
        let (Some(blobs), Some(idx)) =
            (row.first().and_then(Value::as_str), row.get(1).and_then(Value::as_i64))
        else {
            continue;
        };
        if let Err(e) = ctx.ports.blobs.delete(&crate::files::chunk_key(blobs, idx)).await {
            tracing::warn!(error = %e, bucket = %bucket.id, "deleting a chunk of a deleted bucket");
        }
    }
    tracing::info!(bucket = %bucket.id, "bucket deleted");
    announce(ctx, &bucket.id, "delete", bucket.to_json()).await;
    Ok(Response::no_content())
}

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "enabled", column: "enabled", kind: FieldKind::Boolean },
    Field { attribute: "fileSecurity", column: "file_security", kind: FieldKind::Boolean },
    Field { attribute: "maximumFileSize", column: "maximum_file_size", kind: FieldKind::Integer },
    Field { attribute: "compression", column: "compression", kind: FieldKind::Text },
    Field { attribute: "encryption", column: "encryption", kind: FieldKind::Boolean },
    Field { attribute: "antivirus", column: "antivirus", kind: FieldKind::Boolean },
    Field { attribute: "transformations", column: "transformations", kind: FieldKind::Boolean },
];

/// `GET /storage/buckets`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let schema = Schema {
        table: "buckets",
        id_column: "id",
        fields: FIELDS,
        search: Some("id || ' ' || name"),
        fulltext: &[],
    };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let columns = COLUMNS.replace("buckets.seq", "edgewrite_t.seq");
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, &columns, None).await?;
    let buckets: Vec<Json> =
        page.rows.iter().filter_map(|r| Bucket::from_row(r)).map(|b| b.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "buckets": buckets})))
}

/// `PATCH /v1/storage/buckets/{bucketId}/system-fields` (edgewrite only): a migrated bucket's times.
pub async fn restore(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let key = vec![ctx.params.required_text("bucketId", 36)?.into()];
    restore_row(ctx, &TIMES, "buckets", "id = ?", key, ErrorType::StorageBucketNotFound).await
}
