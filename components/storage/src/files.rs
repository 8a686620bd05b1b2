//! Files (`/v1/storage/buckets/{bucketId}/files`): the SDKs' chunked upload (`appwrite-api.md`
//! §1.4), list, get, update and delete. Each chunk is a blob of its own
//! (`files/<blobs>/<index>`): chunks may arrive in any order and any number of times, a
//! re-sent chunk replaces itself, and the request that brings the last missing one answers the
//! finished file.

use edgewrite_core::identity::Caller;
use edgewrite_core::permissions;
use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::query::{self, Field, FieldKind, ListOptions, Schema};
use edgewrite_core::system_fields::{restore_row, TIMES};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use md5::{Digest, Md5};
use serde_json::{json, Value as Json};
use sha2::Sha256;

use crate::buckets::{self, Bucket};
use crate::codec::{Codec, TRANSFORM_LIMIT};

/// The SDKs' chunk size.
pub use edgewrite_core::upload::CHUNK_SIZE;
/// What `write` means on a file.
const FILE_WRITE: &[&str] = &["update", "delete"];

pub fn chunk_key(blobs: &str, idx: i64) -> String {
    format!("files/{blobs}/{idx}")
}

const COLUMNS: &str =
    "seq, bucket_seq, id, name, permissions, mime_type, signature, size_original, size_actual,
    chunks_total, chunks_uploaded, compression, encrypted, blobs, created_at, updated_at, uploader";

#[derive(Debug, Clone)]
pub struct File {
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub mime_type: String,
    pub signature: String,
    pub size_original: i64,
    pub size_actual: i64,
    pub chunks_total: i64,
    pub chunks_uploaded: i64,
    pub compression: String,
    pub encrypted: bool,
    pub blobs: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub uploader: String,
}

impl File {
    fn from_row(row: &[Value]) -> Option<File> {
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or_default();
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(File {
            seq: row.first()?.as_i64()?,
            id: text(2),
            name: text(3),
            permissions: row
                .get(4)
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            mime_type: text(5),
            signature: text(6),
            size_original: int(7),
            size_actual: int(8),
            chunks_total: int(9),
            chunks_uploaded: int(10),
            compression: text(11),
            encrypted: int(12) == 1,
            blobs: text(13),
            created_at: int(14),
            updated_at: int(15),
            uploader: text(16),
        })
    }

    /// Every chunk stored.
    pub fn complete(&self) -> bool {
        self.chunks_uploaded >= self.chunks_total
    }

    /// Complete, and its media type and signature recorded: readable. A completion whose
    /// finishing step failed is finished by the next chunk sent.
    pub fn finished(&self) -> bool {
        self.complete() && !self.signature.is_empty()
    }

    pub fn to_json(&self, bucket: &Bucket) -> Json {
        json!({
            "$id": self.id,
            "bucketId": bucket.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "$permissions": self.permissions,
            "name": self.name,
            // Appwrite 1.9's folders: every file here sits at the bucket's root, where its key is
            // its name.
            "folder": "",
            "key": self.name,
            "signature": self.signature,
            "mimeType": self.mime_type,
            "sizeOriginal": self.size_original,
            "sizeActual": self.size_actual,
            "chunksTotal": self.chunks_total,
            "chunksUploaded": self.chunks_uploaded,
            "encryption": self.encrypted,
            "compression": self.compression,
        })
    }

    /// Whether the caller may `action` this file: by the bucket's permissions or, with file
    /// security, by the file's own.
    pub fn allows(&self, ctx: &Ctx<'_>, bucket: &Bucket, action: &str) -> bool {
        bucket.allows(ctx, action)
            || (bucket.file_security
                && permissions::allows(&self.permissions, action, &ctx.caller.roles(), FILE_WRITE))
    }
}

pub fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::StorageFileNotFound, "The requested file could not be found.")
}

pub fn unauthorized() -> AppwriteError {
    AppwriteError::new(
        ErrorType::UserUnauthorized,
        "The current user is not authorized to perform the requested action.",
    )
}

pub async fn load_file(ctx: &Ctx<'_>, bucket: &Bucket, id: &str) -> Result<Option<File>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM files WHERE bucket_seq = ? AND id = ?"),
            vec![Value::Integer(bucket.seq), id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| File::from_row(r)))
}

/// The file `file_id` of the bucket `bucket_id`, whoever may read it.
pub async fn load_by_ids(
    ctx: &Ctx<'_>,
    bucket_id: &str,
    file_id: &str,
) -> Result<Option<File>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM files WHERE bucket_seq = (SELECT seq FROM buckets WHERE id = ?) AND id = ?"),
            vec![bucket_id.into(), file_id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| File::from_row(r)))
}

/// The `{bucketId}` bucket and its readable `{fileId}` file (404 when unreadable, 401 when the
/// caller can read nothing of the bucket).
pub async fn load_readable(ctx: &Ctx<'_>) -> Result<(Bucket, File), AppwriteError> {
    let bucket = buckets::load(ctx).await?;
    let id = ctx.params.required_text("fileId", 36)?;
    let all = bucket.allows(ctx, "read");
    if !all && !bucket.file_security {
        return Err(unauthorized());
    }
    let file = load_file(ctx, &bucket, &id).await?.filter(|f| visible(ctx, f)).ok_or_else(not_found)?;
    if !file.allows(ctx, &bucket, "read") {
        return Err(not_found());
    }
    Ok((bucket, file))
}

/// The `{bucketId}` bucket and its `{fileId}` file for view, download and preview: readable by
/// the caller, or through a valid `token` for exactly this file.
pub async fn load_for_content(ctx: &Ctx<'_>) -> Result<(Bucket, File), AppwriteError> {
    let bucket = buckets::load(ctx).await?;
    let id = ctx.params.required_text("fileId", 36)?;
    let file = load_file(ctx, &bucket, &id).await?.filter(|f| visible(ctx, f)).ok_or_else(not_found)?;
    if crate::tokens::grants_read(ctx, &bucket, &file).await? {
        return Ok((bucket, file));
    }
    if !bucket.allows(ctx, "read") && !bucket.file_security {
        return Err(unauthorized());
    }
    if !file.allows(ctx, &bucket, "read") {
        return Err(not_found());
    }
    Ok((bucket, file))
}

/// A key for `purpose` derived from the project's storage key: as secret as that, and apart
/// from every other purpose's.
pub async fn derived_key(ctx: &Ctx<'_>, purpose: &str) -> Result<Vec<u8>, AppwriteError> {
    let mut hash = Sha256::new();
    hash.update(purpose.as_bytes());
    hash.update([0u8]);
    hash.update(encryption_key(ctx).await?);
    Ok(hash.finalize().to_vec())
}

/// The project's key for encrypted buckets: a random key kept in the project's SQL, mixed with
/// the deployment's `EDGEWRITE_ENCRYPTION_KEY` when set, so neither the blob store alone nor
/// (with the secret) the database and blob store together reveal a file.
pub async fn encryption_key(ctx: &Ctx<'_>) -> Result<[u8; 32], AppwriteError> {
    let read = || Statement::new("SELECT value FROM _edgewrite_settings WHERE key = 'storage_key'", vec![]);
    let first = |rows: Option<&edgewrite_core::ports::Rows>| {
        rows.and_then(|r| r.rows.first()).and_then(|r| r.first()).and_then(Value::as_str).map(str::to_string)
    };
    // Read first: only the project's first use writes.
    let existing = ctx.ports.sql.query(read()).await.map_err(AppwriteError::internal)?;
    let stored = match first(Some(&existing)) {
        Some(key) => key,
        None => {
            let fresh = edgewrite_core::ids::random_hex(32, ctx.ports.random);
            let out = ctx
                .ports
                .sql
                .batch(vec![
                    Statement::new(
                        "INSERT OR IGNORE INTO _edgewrite_settings (key, value, updated_at) VALUES ('storage_key', ?, ?)",
                        vec![fresh.into(), Value::Integer(ctx.ports.clock.now_ms())],
                    ),
                    read(),
                ])
                .await
                .map_err(AppwriteError::internal)?;
            first(out.get(1)).ok_or_else(|| AppwriteError::internal("the storage key is missing"))?
        }
    };
    let mut hash = Sha256::new();
    if let Some(secret) = ctx.ports.secrets.get("EDGEWRITE_ENCRYPTION_KEY").filter(|s| !s.is_empty()) {
        hash.update(secret.as_bytes());
        hash.update(b":");
    }
    hash.update(stored.as_bytes());
    Ok(hash.finalize().into())
}

/// Who an upload belongs to while it is in progress: only they may add chunks to it or see it.
/// Guests share no identity, so a guest is told apart as far as the platform can: by its
/// address and user agent (the SDKs' chunked protocol carries nothing else).
fn uploader(ctx: &Ctx<'_>) -> String {
    match &ctx.caller {
        Caller::User(user) => format!("user:{}", user.user_id),
        Caller::App { key_id, .. } => format!("app:{key_id}"),
        Caller::Guest => {
            let mut hash = Sha256::new();
            hash.update(ctx.request.client_ip.as_bytes());
            hash.update(b"\n");
            hash.update(ctx.request.header("user-agent").unwrap_or_default().as_bytes());
            format!("guest:{}", &hex(&hash.finalize())[..32])
        }
    }
}

/// Whether the caller may see `file` at all: a finished one, or its own upload in progress
/// (API keys see every upload).
fn visible(ctx: &Ctx<'_>, file: &File) -> bool {
    file.complete() || matches!(ctx.caller, Caller::App { .. }) || file.uploader == uploader(ctx)
}

fn already_exists() -> AppwriteError {
    AppwriteError::new(
        ErrorType::StorageFileAlreadyExists,
        "A storage file with the requested ID already exists.",
    )
}

fn invalid_range() -> AppwriteError {
    AppwriteError::new(ErrorType::StorageInvalidContentRange, "The content range is invalid.")
}

/// Sniffs the media type from the first bytes, then the name, then whether it reads as text.
pub fn media_type(head: &[u8], name: &str) -> String {
    let magic: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"\0asm", "application/wasm"),
        (b"ID3", "audio/mpeg"),
        (b"OggS", "audio/ogg"),
        (b"fLaC", "audio/flac"),
        (b"BM", "image/bmp"),
    ];
    if let Some((_, mime)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return mime.to_string();
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return "image/webp".into();
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return "audio/wav".into();
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return match &head[8..12] {
            b"avif" | b"avis" => "image/avif",
            b"heic" | b"heix" | b"mif1" => "image/heic",
            b"qt  " => "video/quicktime",
            _ => "video/mp4",
        }
        .into();
    }
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let by_name = match extension.as_str() {
        "json" => Some("application/json"),
        "svg" => Some("image/svg+xml"),
        "html" | "htm" => Some("text/html"),
        "css" => Some("text/css"),
        "js" | "mjs" => Some("text/javascript"),
        "csv" => Some("text/csv"),
        "md" => Some("text/markdown"),
        "xml" => Some("application/xml"),
        "webm" => Some("video/webm"),
        _ => None,
    };
    if let Some(mime) = by_name {
        return mime.into();
    }
    // A multi-byte character cut at the end of the sniffed bytes still counts as text.
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.valid_up_to() + 4 > head.len() && e.error_len().is_none(),
    };
    if text && !head.contains(&0) {
        "text/plain".into()
    } else {
        "application/octet-stream".into()
    }
}

/// `POST …/files` (multipart: fileId, file, permissions[]): a whole file, or one chunk of a
/// chunked upload (`Content-Range`, and `x-appwrite-id` after the first).
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let bucket = buckets::load(ctx).await?;
    if !bucket.allows(ctx, "create") {
        return Err(unauthorized());
    }
    let upload = ctx.params.file("file").ok_or_else(|| {
        AppwriteError::new(ErrorType::StorageFileEmpty, "Empty file passed to the endpoint.")
    })?;
    let name: String = upload.filename.chars().take(255).collect();
    if !bucket.allowed_file_extensions.is_empty() {
        let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        if !bucket.allowed_file_extensions.iter().any(|e| e == extension) {
            return Err(AppwriteError::new(
                ErrorType::StorageFileTypeUnsupported,
                "File extension not allowed",
            ));
        }
    }
    let data = &upload.data;
    let len = data.len() as u64;
    let now = ctx.ports.clock.now_ms();
    let part = edgewrite_core::upload::part_of(ctx.request, len).ok_or_else(invalid_range)?;
    let (size, idx, chunked) = (part.size, part.index, part.chunked);
    if size > bucket.maximum_file_size as u64 {
        return Err(AppwriteError::new(ErrorType::StorageInvalidFileSize, "File size not allowed"));
    }
    let id = match (chunked, ctx.request.header("x-appwrite-id")) {
        (true, Some(id)) => {
            if !edgewrite_core::ids::is_valid_custom_id(id) {
                return Err(AppwriteError::new(
                    ErrorType::StorageInvalidAppwriteId,
                    "The value for x-appwrite-id header is invalid.",
                ));
            }
            id.to_string()
        }
        _ => ctx.params.custom_id("fileId", now, ctx.ports.random)?,
    };
    let chunks_total = part.total;
    let file = match load_file(ctx, &bucket, &id).await? {
        // Appwrite's answer to a chunk of a finished upload: the file, unchanged (to those who
        // may read it).
        Some(file) if file.finished() => {
            return if chunked && file.allows(ctx, &bucket, "read") {
                Ok(Response::json(200, &file.to_json(&bucket)))
            } else {
                Err(already_exists())
            };
        }
        // Someone else's upload in progress, or a whole-file create meeting an existing id.
        Some(file) if !chunked || file.uploader != uploader(ctx) => return Err(already_exists()),
        Some(file) => {
            if file.size_original as u64 != size || file.chunks_total != chunks_total {
                return Err(invalid_range());
            }
            file
        }
        None if !chunked => return create_whole(ctx, &bucket, &id, &name, data).await,
        None => {
            let (file, created) = start_upload(ctx, &bucket, &id, &name, size, chunks_total).await?;
            // A concurrent request took the id first.
            if !created && file.uploader != uploader(ctx) {
                return Err(already_exists());
            }
            file
        }
    };
    store_chunk(ctx, &bucket, file, idx, data, now).await
}

/// Stores chunk `idx` of `file` (`data`), records it, and finishes the file when it was the
/// last: the answer to the chunk's request.
async fn store_chunk(
    ctx: &Ctx<'_>,
    bucket: &Bucket,
    file: File,
    idx: i64,
    data: &Vec<u8>,
    now: i64,
) -> Result<Response, AppwriteError> {
    let len = data.len() as u64;
    // The chunk's bytes first, then its row: a chunk counts only once it is stored.
    let codec_key;
    let codec = if file.encrypted {
        codec_key = encryption_key(ctx).await?;
        Codec { compression: &file.compression, key: Some(&codec_key) }
    } else {
        Codec { compression: &file.compression, key: None }
    };
    let stored = if codec.is_plain() {
        data.clone()
    } else {
        let mut nonce = [0u8; 12];
        ctx.ports.random.fill(&mut nonce);
        codec.encode(data, nonce, &chunk_key(&file.blobs, idx)).map_err(AppwriteError::internal)?
    };
    let stored_len = stored.len() as i64;
    ctx.ports.blobs.put(&chunk_key(&file.blobs, idx), stored).await.map_err(AppwriteError::internal)?;
    let md5 = hex(&Md5::digest(data));
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "INSERT OR REPLACE INTO file_chunks (file_seq, idx, size, stored_size, md5) VALUES (?, ?, ?, ?, ?)",
                vec![Value::Integer(file.seq), Value::Integer(idx), Value::Integer(len as i64), Value::Integer(stored_len), md5.clone().into()],
            ),
            Statement::new(
                "UPDATE files SET
                   chunks_uploaded = (SELECT count(*) FROM file_chunks WHERE file_seq = files.seq),
                   size_actual = (SELECT coalesce(sum(stored_size), 0) FROM file_chunks WHERE file_seq = files.seq),
                   updated_at = ?
                 WHERE seq = ? AND blobs = ?",
                vec![Value::Integer(now), Value::Integer(file.seq), file.blobs.clone().into()],
            )
            .expect_changes(1),
            Statement::new(format!("SELECT {COLUMNS} FROM files WHERE seq = ?"), vec![Value::Integer(file.seq)]),
        ])
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            // The chunk does not count: its blob goes too, unless it replaced a counted one.
            if !chunk_counted(ctx, &file, idx).await {
                let _ = ctx.ports.blobs.delete(&chunk_key(&file.blobs, idx)).await;
            }
            return Err(match e {
                // The file was deleted while this chunk was on its way.
                StoreError::GuardFailed { .. } => not_found(),
                other => AppwriteError::internal(other),
            });
        }
    };
    let mut file =
        out.get(2).and_then(|r| r.rows.first()).and_then(|r| File::from_row(r)).ok_or_else(not_found)?;
    if file.complete() && !file.finished() {
        let seq = finish(ctx, &mut file, &codec, if idx == 0 { Some(data) } else { None }).await?;
        announce(ctx, seq, bucket, &file, "create").await;
    }
    Ok(Response::json(201, &file.to_json(bucket)))
}

/// Whether chunk `idx` of the upload is recorded (a re-sent chunk whose SQL failed still is).
async fn chunk_counted(ctx: &Ctx<'_>, file: &File, idx: i64) -> bool {
    ctx.ports
        .sql
        .query(Statement::new(
            "SELECT 1 FROM file_chunks c JOIN files f ON f.seq = c.file_seq WHERE f.seq = ? AND f.blobs = ? AND c.idx = ?",
            vec![Value::Integer(file.seq), file.blobs.clone().into(), Value::Integer(idx)],
        ))
        .await
        .map_or(true, |rows| !rows.rows.is_empty())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new upload as its row starts: its permissions, how its bytes are stored, and the random
/// name its blobs go under.
struct NewUpload {
    permissions: String,
    pairs: String,
    compression: String,
    encrypted: bool,
    blobs: String,
}

fn new_upload(ctx: &Ctx<'_>, bucket: &Bucket, size: u64) -> Result<NewUpload, AppwriteError> {
    let permissions = match ctx.params.string_array("permissions", 256, &ctx.config.limits)? {
        Some(list) => {
            let parsed = permissions::parse(&list, &["read", "update", "delete", "write"])?;
            permissions::check_grantable(&ctx.caller, &parsed)?;
            parsed
        }
        None => permissions::creator_defaults(&ctx.caller),
    };
    // Files up to 20 MB take the bucket's compression and encryption; larger ones stream as
    // they are.
    let transform = size <= TRANSFORM_LIMIT;
    Ok(NewUpload {
        pairs: json!(permissions::expand(&permissions, FILE_WRITE)).to_string(),
        permissions: json!(permissions::render(&permissions)).to_string(),
        compression: if transform { bucket.compression.clone() } else { "none".into() },
        encrypted: transform && bucket.encryption,
        blobs: edgewrite_core::ids::random_hex(16, ctx.ports.random),
    })
}

/// A whole file's content as recorded with its row: the one chunk's stored size and MD5, and
/// the file's media type.
struct Whole {
    stored_size: i64,
    md5: String,
    mime_type: String,
}

/// The statements that insert an upload's row (unless the id is taken) and its permissions,
/// with its one chunk when `whole`, then read back the row under the id.
#[allow(clippy::too_many_arguments)]
fn insert_statements(
    ctx: &Ctx<'_>,
    bucket: &Bucket,
    id: &str,
    name: &str,
    size: u64,
    chunks_total: i64,
    upload: &NewUpload,
    whole: Option<&Whole>,
) -> Vec<Statement> {
    let now = ctx.ports.clock.now_ms();
    let (uploaded, stored, mime_type, signature) = match whole {
        Some(w) => (1, w.stored_size, w.mime_type.clone(), w.md5.clone()),
        None => (0, 0, String::new(), String::new()),
    };
    let mut statements = vec![
        Statement::new(
            "INSERT OR IGNORE INTO files (bucket_seq, id, name, permissions, size_original, chunks_total, compression,
                 encrypted, blobs, created_at, updated_at, uploader, chunks_uploaded, size_actual, mime_type, signature)
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM buckets WHERE seq = ?)",
            vec![
                Value::Integer(bucket.seq),
                id.into(),
                name.into(),
                upload.permissions.clone().into(),
                Value::Integer(size as i64),
                Value::Integer(chunks_total),
                upload.compression.clone().into(),
                Value::Integer(i64::from(upload.encrypted)),
                upload.blobs.clone().into(),
                Value::Integer(now),
                Value::Integer(now),
                uploader(ctx).into(),
                Value::Integer(uploaded),
                Value::Integer(stored),
                mime_type.into(),
                signature.into(),
                Value::Integer(bucket.seq),
            ],
        ),
        // Only the upload that created the row writes its permissions.
        Statement::new(
            "INSERT OR IGNORE INTO file_perms (file_seq, action, role)
             SELECT f.seq, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]')
             FROM files f, json_each(?) p WHERE f.bucket_seq = ? AND f.id = ? AND f.blobs = ?",
            vec![upload.pairs.clone().into(), Value::Integer(bucket.seq), id.into(), upload.blobs.clone().into()],
        ),
    ];
    if let Some(w) = whole {
        statements.push(Statement::new(
            "INSERT INTO file_chunks (file_seq, idx, size, stored_size, md5)
             SELECT seq, 0, ?, ?, ? FROM files WHERE bucket_seq = ? AND id = ? AND blobs = ?",
            vec![
                Value::Integer(size as i64),
                Value::Integer(w.stored_size),
                w.md5.clone().into(),
                Value::Integer(bucket.seq),
                id.into(),
                upload.blobs.clone().into(),
            ],
        ));
    }
    statements.push(Statement::new(
        format!("SELECT {COLUMNS} FROM files WHERE bucket_seq = ? AND id = ?"),
        vec![Value::Integer(bucket.seq), id.into()],
    ));
    statements
}

/// The row of a new upload (or of the one a concurrent chunk just started), and whether this
/// request made it.
async fn start_upload(
    ctx: &Ctx<'_>,
    bucket: &Bucket,
    id: &str,
    name: &str,
    size: u64,
    chunks_total: i64,
) -> Result<(File, bool), AppwriteError> {
    let upload = new_upload(ctx, bucket, size)?;
    let statements = insert_statements(ctx, bucket, id, name, size, chunks_total, &upload, None);
    let out = ctx.ports.sql.batch(statements).await.map_err(AppwriteError::internal)?;
    // No row: the bucket was deleted meanwhile.
    let file = out
        .last()
        .and_then(|r| r.rows.first())
        .and_then(|r| File::from_row(r))
        .ok_or_else(buckets::not_found)?;
    if file.size_original as u64 != size || file.chunks_total != chunks_total {
        return Err(invalid_range());
    }
    let created = file.blobs == upload.blobs;
    Ok((file, created))
}

/// A file sent whole (no `Content-Range`), made whole or not at all: its bytes are stored
/// first, then its row, permissions and chunk in one batch, finished. A failure or a crash
/// between the two leaves only bytes no row names, never a file without its bytes.
async fn create_whole(
    ctx: &Ctx<'_>,
    bucket: &Bucket,
    id: &str,
    name: &str,
    data: &[u8],
) -> Result<Response, AppwriteError> {
    let upload = new_upload(ctx, bucket, data.len() as u64)?;
    let key;
    let codec = Codec {
        compression: &upload.compression,
        key: if upload.encrypted {
            key = encryption_key(ctx).await?;
            Some(&key)
        } else {
            None
        },
    };
    let blob = chunk_key(&upload.blobs, 0);
    let stored = if codec.is_plain() {
        data.to_vec()
    } else {
        let mut nonce = [0u8; 12];
        ctx.ports.random.fill(&mut nonce);
        codec.encode(data, nonce, &blob).map_err(AppwriteError::internal)?
    };
    let whole = Whole {
        stored_size: stored.len() as i64,
        md5: hex(&Md5::digest(data)),
        mime_type: media_type(&data[..data.len().min(512)], name),
    };
    ctx.ports.blobs.put(&blob, stored).await.map_err(AppwriteError::internal)?;
    let mut statements =
        insert_statements(ctx, bucket, id, name, data.len() as u64, 1, &upload, Some(&whole));
    statements.push(edgewrite_core::events::sequence_statement());
    let out = match ctx.ports.sql.batch(statements).await {
        Ok(out) => out,
        Err(error) => {
            let _ = ctx.ports.blobs.delete(&blob).await;
            return Err(AppwriteError::internal(error));
        }
    };
    let file = out.get(out.len() - 2).and_then(|r| r.rows.first()).and_then(|r| File::from_row(r));
    let file = match file {
        Some(file) if file.blobs == upload.blobs => file,
        // The id was taken (or the bucket deleted) meanwhile: these bytes are no one's.
        taken => {
            let _ = ctx.ports.blobs.delete(&blob).await;
            return Err(if taken.is_some() { already_exists() } else { buckets::not_found() });
        }
    };
    announce(ctx, edgewrite_core::events::sequence_of(&out), bucket, &file, "create").await;
    Ok(Response::json(201, &file.to_json(bucket)))
}

/// Completes an upload whose chunks are all stored: its media type (sniffed from the first
/// bytes) and signature (the MD5 of the content for a file of one chunk, else the MD5 of its
/// chunks' MD5s, since chunks arrive in any order).
async fn finish(
    ctx: &Ctx<'_>,
    file: &mut File,
    codec: &Codec<'_>,
    first: Option<&Vec<u8>>,
) -> Result<Option<i64>, AppwriteError> {
    let head = match first {
        Some(data) => data[..data.len().min(512)].to_vec(),
        None => {
            let stored = ctx
                .ports
                .blobs
                .get(&chunk_key(&file.blobs, 0), None)
                .await
                .map_err(AppwriteError::internal)?
                .ok_or_else(|| AppwriteError::internal("the first chunk is missing"))?;
            let mut data =
                codec.decode(&stored, &chunk_key(&file.blobs, 0)).map_err(AppwriteError::internal)?;
            data.truncate(512);
            data
        }
    };
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT md5 FROM file_chunks WHERE file_seq = ? ORDER BY idx",
            vec![Value::Integer(file.seq)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let md5s: Vec<String> =
        rows.rows.iter().filter_map(|r| r.first()?.as_str().map(str::to_string)).collect();
    let signature =
        if md5s.len() == 1 { md5s[0].clone() } else { hex(&Md5::digest(md5s.concat().as_bytes())) };
    let mime_type = media_type(&head, &file.name);
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new(
                "UPDATE files SET mime_type = ?, signature = ? WHERE seq = ? AND blobs = ? AND signature = ''",
                vec![
                    mime_type.clone().into(),
                    signature.clone().into(),
                    Value::Integer(file.seq),
                    file.blobs.clone().into(),
                ],
            ),
            edgewrite_core::events::sequence_statement(),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    file.mime_type = mime_type;
    file.signature = signature;
    Ok(edgewrite_core::events::sequence_of(&out))
}

/// The realtime event of `action` on a finished file: seen by those who may read it.
async fn announce(ctx: &Ctx<'_>, seq: Option<i64>, bucket: &Bucket, file: &File, action: &str) {
    use edgewrite_core::events::{channels, container_read_roles, names, publish_all};
    let (b, f) = (bucket.id.as_str(), file.id.as_str());
    let bases = ["files".to_string(), format!("buckets.{b}.files"), format!("buckets.{b}.files.{f}")];
    let roles = container_read_roles(&bucket.permissions, bucket.file_security, &file.permissions);
    let event = edgewrite_core::ports::Event::new(
        names(&[("buckets", b), ("files", f)], action),
        channels(&bases, action),
        file.to_json(bucket),
        roles,
    );
    publish_all(ctx, seq, vec![event]).await;
}

/// `GET …/files/{fileId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (bucket, file) = load_readable(ctx).await?;
    Ok(Response::json(200, &file.to_json(&bucket)))
}

const FIELDS: &[Field<'static>] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "mimeType", column: "mime_type", kind: FieldKind::Text },
    Field { attribute: "signature", column: "signature", kind: FieldKind::Text },
    Field { attribute: "sizeOriginal", column: "size_original", kind: FieldKind::Integer },
    Field { attribute: "chunksTotal", column: "chunks_total", kind: FieldKind::Integer },
    Field { attribute: "chunksUploaded", column: "chunks_uploaded", kind: FieldKind::Integer },
];

/// `GET …/files`: the bucket's files the caller may read (filtered inside SQL).
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let bucket = buckets::load(ctx).await?;
    let all = bucket.allows(ctx, "read");
    if !all && !bucket.file_security {
        return Err(unauthorized());
    }
    // The bucket's seq is ours, not input: safe to splice.
    let table = format!("(SELECT rowid, * FROM files WHERE bucket_seq = {})", bucket.seq);
    let schema =
        Schema { table: &table, id_column: "id", fields: FIELDS, search: Some("name"), fulltext: &[] };
    let options = ListOptions::from_params(&ctx.params, &ctx.config.limits)?;
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    if !all {
        conditions.push(
            "EXISTS (SELECT 1 FROM file_perms p WHERE p.file_seq = edgewrite_t.seq AND p.action = 'read'
                     AND p.role IN (SELECT value FROM json_each(?)))",
        );
        params.push(Value::from(json!(ctx.caller.roles()).to_string()));
    }
    // Another client's upload in progress is nobody else's business.
    if !matches!(ctx.caller, Caller::App { .. }) {
        conditions
            .push("(edgewrite_t.chunks_uploaded >= edgewrite_t.chunks_total OR edgewrite_t.uploader = ?)");
        params.push(uploader(ctx).into());
    }
    let scope_sql = conditions.join(" AND ");
    let scope = (!conditions.is_empty()).then_some((scope_sql.as_str(), params));
    let page =
        query::plan(&options, &schema, &ctx.config.limits)?.fetch(ctx.ports.sql, COLUMNS, scope).await?;
    let files: Vec<Json> =
        page.rows.iter().filter_map(|r| File::from_row(r)).map(|f| f.to_json(&bucket)).collect();
    Ok(Response::json(200, &json!({"total": page.total, "files": files})))
}

/// `PUT …/files/{fileId}` {name?, permissions?}
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (bucket, mut file) = load_readable(ctx).await?;
    if !file.allows(ctx, &bucket, "update") {
        return Err(unauthorized());
    }
    if let Some(name) = ctx.params.text("name", 255)? {
        file.name = name;
    }
    let mut batch = Vec::new();
    if let Some(list) = ctx.params.string_array("permissions", 256, &ctx.config.limits)? {
        let parsed = permissions::parse(&list, &["read", "update", "delete", "write"])?;
        permissions::check_grantable(&ctx.caller, &parsed)?;
        file.permissions = permissions::render(&parsed);
        let pairs = permissions::expand(&parsed, FILE_WRITE);
        batch.push(Statement::new(
            "DELETE FROM file_perms WHERE file_seq = ?",
            vec![Value::Integer(file.seq)],
        ));
        batch.push(Statement::new(
            "INSERT INTO file_perms (file_seq, action, role)
             SELECT ?, json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]') FROM json_each(?) p",
            vec![Value::Integer(file.seq), json!(pairs).to_string().into()],
        ));
    }
    file.updated_at = ctx.ports.clock.now_ms();
    batch.insert(
        0,
        Statement::new(
            "UPDATE files SET name = ?, permissions = ?, updated_at = ? WHERE seq = ? AND blobs = ?",
            vec![
                file.name.clone().into(),
                json!(file.permissions).to_string().into(),
                Value::Integer(file.updated_at),
                Value::Integer(file.seq),
                file.blobs.clone().into(),
            ],
        )
        .expect_changes(1),
    );
    batch.push(edgewrite_core::events::sequence_statement());
    let out = ctx.ports.sql.batch(batch).await.map_err(|e| AppwriteError::from_store(e, not_found))?;
    announce(ctx, edgewrite_core::events::sequence_of(&out), &bucket, &file, "update").await;
    Ok(Response::json(200, &file.to_json(&bucket)))
}

/// `DELETE …/files/{fileId}`: the rows, then the bytes.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (bucket, file) = load_readable(ctx).await?;
    if !file.allows(ctx, &bucket, "delete") {
        return Err(unauthorized());
    }
    let seq = || vec![Value::Integer(file.seq)];
    let out = ctx
        .ports
        .sql
        .batch(vec![
            Statement::new("SELECT idx FROM file_chunks WHERE file_seq = ?", seq()),
            Statement::new("DELETE FROM file_chunks WHERE file_seq = ?", seq()),
            Statement::new("DELETE FROM file_perms WHERE file_seq = ?", seq()),
            crate::tokens::forget_file(file.seq),
            Statement::new(
                "DELETE FROM files WHERE seq = ? AND blobs = ?",
                vec![Value::Integer(file.seq), file.blobs.clone().into()],
            )
            .expect_changes(1),
            edgewrite_core::events::sequence_statement(),
        ])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    // Announced before the bytes go, so later writes' events need not wait for the cleanup.
    announce(ctx, edgewrite_core::events::sequence_of(&out), &bucket, &file, "delete").await;
    for idx in out
        .first()
        .map(|r| r.rows.iter().filter_map(|r| r.first()?.as_i64()).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Err(e) = ctx.ports.blobs.delete(&chunk_key(&file.blobs, idx)).await {
            tracing::warn!(error = %e, file = %file.id, "deleting a chunk of a deleted file");
        }
    }
    Ok(Response::no_content())
}

/// `PATCH /v1/storage/buckets/{bucketId}/files/{fileId}/system-fields` (edgewrite only): a
/// migrated file's times.
pub async fn restore(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let key = vec![
        ctx.params.required_text("bucketId", 36)?.into(),
        ctx.params.required_text("fileId", 36)?.into(),
    ];
    let row = "bucket_seq = (SELECT seq FROM buckets WHERE id = ?) AND id = ?";
    restore_row(ctx, &TIMES, "files", row, key, ErrorType::StorageFileNotFound).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_content_then_name() {
        assert_eq!(media_type(b"\x89PNG\r\n\x1a\nrest", "x.bin"), "image/png");
        assert_eq!(media_type(b"\xff\xd8\xff\xe0", "photo"), "image/jpeg");
        assert_eq!(media_type(b"hello world", "notes.txt"), "text/plain");
        assert_eq!(media_type(b"{\"a\":1}", "data.json"), "application/json");
        assert_eq!(media_type(&[0, 1, 2, 3, 255], "blob"), "application/octet-stream");
        assert_eq!(media_type("héllo".as_bytes(), "t"), "text/plain");
    }
}
