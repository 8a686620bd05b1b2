//! File tokens (`/v1/tokens`, `appwrite-api.md` §7): a token lets whoever holds its `secret`
//! read one file (`?token=` on view, download and preview) until it expires, without a session.
//! The secret is an HS256 JWT naming the token, signed with a key derived from the project's
//! storage key; it is derived again whenever shown, and checked against the stored token on
//! every use, so deleting the token or changing its expiry takes effect at once.

use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::time::{iso_from_ms, ms_from_iso};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::buckets::Bucket;
use crate::files::{self, File};

const COLUMNS: &str = "id, resource_id, expire, accessed_at, created_at, updated_at, bucket_seq, file_seq";

struct Token {
    id: String,
    resource_id: String,
    expire: Option<i64>,
    accessed_at: Option<i64>,
    created_at: i64,
    bucket_seq: i64,
    file_seq: i64,
}

impl Token {
    fn from_row(row: &[Value]) -> Option<Token> {
        Some(Token {
            id: row.first()?.as_str()?.to_string(),
            resource_id: row.get(1)?.as_str()?.to_string(),
            expire: row.get(2).and_then(Value::as_i64),
            accessed_at: row.get(3).and_then(Value::as_i64),
            created_at: row.get(4)?.as_i64()?,
            bucket_seq: row.get(6)?.as_i64()?,
            file_seq: row.get(7)?.as_i64()?,
        })
    }

    fn to_json(&self, key: &[u8]) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "resourceId": self.resource_id,
            "resourceType": "files",
            "expire": self.expire.map(iso_from_ms).unwrap_or_default(),
            "secret": self.secret(key),
            "accessedAt": self.accessed_at.map(iso_from_ms).unwrap_or_default(),
        })
    }

    fn secret(&self, key: &[u8]) -> String {
        let mut claims = json!({
            "tokenId": self.id,
            "resourceId": self.resource_id,
            "resourceType": "files",
            "iat": self.created_at / 1000,
        });
        if let Some(expire) = self.expire {
            claims["exp"] = json!(expire / 1000);
        }
        edgewrite_core::jwt::sign(&claims, key)
    }
}

/// The signing key: derived from the project's storage key, so it is as secret as that.
async fn signing_key(ctx: &Ctx<'_>) -> Result<Vec<u8>, AppwriteError> {
    files::derived_key(ctx, "edgewrite file tokens").await
}

/// The token id a secret names, when its signature holds (in constant time).
fn verified_token_id(key: &[u8], secret: &str) -> Option<String> {
    let claims: Json = edgewrite_core::jwt::verify(secret, key)?;
    Some(claims.get("tokenId")?.as_str()?.to_string())
}

fn not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::TokenNotFound, "The requested token could not be found.")
}

/// The `expire` parameter: a future ISO 8601 time, or none (never expires).
fn expire_param(ctx: &Ctx<'_>) -> Result<Option<i64>, AppwriteError> {
    match ctx.params.raw("expire") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) => match ms_from_iso(s) {
            Some(ms) if ms > ctx.ports.clock.now_ms() => Ok(Some(ms)),
            _ => Err(AppwriteError::invalid_param("expire", "Value must be a valid date in the future")),
        },
        Some(_) => Err(AppwriteError::invalid_param("expire", "Value must be a valid date in the future")),
    }
}

/// The `{bucketId}`/`{fileId}` file, which the caller may read and update.
async fn managed_file(ctx: &Ctx<'_>) -> Result<(Bucket, File), AppwriteError> {
    let (bucket, file) = files::load_readable(ctx).await?;
    if !file.allows(ctx, &bucket, "update") {
        return Err(files::unauthorized());
    }
    Ok((bucket, file))
}

/// `POST /tokens/buckets/{bucketId}/files/{fileId}` {expire?}
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (bucket, file) = managed_file(ctx).await?;
    let expire = expire_param(ctx)?;
    let now = ctx.ports.clock.now_ms();
    let token = Token {
        id: edgewrite_core::ids::unique_id(now, ctx.ports.random),
        resource_id: format!("{}:{}", bucket.id, file.id),
        expire,
        accessed_at: None,
        created_at: now,
        bucket_seq: bucket.seq,
        file_seq: file.seq,
    };
    // Only while the file is still the one loaded (its upload's random `blobs` names it).
    ctx.ports
        .sql
        .batch(vec![Statement::new(
            "INSERT INTO file_tokens (id, bucket_seq, file_seq, resource_id, expire, created_at, updated_at)
             SELECT ?, ?, ?, ?, ?, ?, ? FROM files WHERE seq = ? AND blobs = ?",
            vec![
                token.id.clone().into(),
                Value::Integer(bucket.seq),
                Value::Integer(file.seq),
                token.resource_id.clone().into(),
                expire.map_or(Value::Null, Value::Integer),
                Value::Integer(now),
                Value::Integer(now),
                Value::Integer(file.seq),
                file.blobs.clone().into(),
            ],
        )
        .expect_changes(1)])
        .await
        .map_err(|e| AppwriteError::from_store(e, files::not_found))?;
    Ok(Response::json(201, &token.to_json(&signing_key(ctx).await?)))
}

/// `GET /tokens/buckets/{bucketId}/files/{fileId}`
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (_, file) = managed_file(ctx).await?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {COLUMNS} FROM file_tokens WHERE file_seq = ? ORDER BY created_at LIMIT 5000"),
            vec![Value::Integer(file.seq)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let key = signing_key(ctx).await?;
    let tokens: Vec<Json> =
        rows.rows.iter().filter_map(|r| Token::from_row(r)).map(|t| t.to_json(&key)).collect();
    Ok(Response::json(200, &json!({"total": tokens.len(), "tokens": tokens})))
}

async fn token_by_id(ctx: &Ctx<'_>, id: String) -> Result<Option<Token>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(format!("SELECT {COLUMNS} FROM file_tokens WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Token::from_row(r)))
}

/// The `{tokenId}` token.
async fn load(ctx: &Ctx<'_>) -> Result<Token, AppwriteError> {
    token_by_id(ctx, ctx.params.required_text("tokenId", 36)?).await?.ok_or_else(not_found)
}

/// `GET /tokens/{tokenId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let token = load(ctx).await?;
    Ok(Response::json(200, &token.to_json(&signing_key(ctx).await?)))
}

/// `PATCH /tokens/{tokenId}` {expire?}
pub async fn update(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mut token = load(ctx).await?;
    token.expire = expire_param(ctx)?;
    ctx.ports
        .sql
        .batch(vec![Statement::new(
            "UPDATE file_tokens SET expire = ?, updated_at = ? WHERE id = ?",
            vec![
                token.expire.map_or(Value::Null, Value::Integer),
                Value::Integer(ctx.ports.clock.now_ms()),
                token.id.clone().into(),
            ],
        )
        .expect_changes(1)])
        .await
        .map_err(|e| AppwriteError::from_store(e, not_found))?;
    Ok(Response::json(200, &token.to_json(&signing_key(ctx).await?)))
}

/// `DELETE /tokens/{tokenId}`
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let token = load(ctx).await?;
    ctx.ports
        .sql
        .query(Statement::new("DELETE FROM file_tokens WHERE id = ?", vec![token.id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::no_content())
}

/// Whether the request's `token` parameter grants reading `file`: a valid, unexpired token for
/// exactly this file. Anything else grants nothing (the caller's own permissions still apply).
pub async fn grants_read(ctx: &Ctx<'_>, bucket: &Bucket, file: &File) -> Result<bool, AppwriteError> {
    let Some(secret) = ctx.params.text("token", 4096)?.filter(|t| !t.is_empty()) else { return Ok(false) };
    let Some(id) = verified_token_id(&signing_key(ctx).await?, &secret) else { return Ok(false) };
    let Some(token) = token_by_id(ctx, id).await? else { return Ok(false) };
    let now = ctx.ports.clock.now_ms();
    let named = format!("{}:{}", bucket.id, file.id);
    if token.bucket_seq != bucket.seq
        || token.file_seq != file.seq
        || token.resource_id != named
        || token.expire.is_some_and(|e| e <= now)
    {
        return Ok(false);
    }
    // `accessedAt`, refreshed at most once a day, as Appwrite does.
    if token.accessed_at.is_none_or(|a| now - a > 86_400_000) {
        let _ = ctx
            .ports
            .sql
            .query(Statement::new(
                "UPDATE file_tokens SET accessed_at = ? WHERE id = ?",
                vec![Value::Integer(now), token.id.into()],
            ))
            .await;
    }
    Ok(true)
}

/// The statement removing a file's tokens (with the file).
pub fn forget_file(file_seq: i64) -> Statement {
    Statement::new("DELETE FROM file_tokens WHERE file_seq = ?", vec![Value::Integer(file_seq)])
}

/// The statement removing a bucket's tokens (with the bucket).
pub fn forget_bucket(bucket: &Bucket) -> Statement {
    Statement::new("DELETE FROM file_tokens WHERE bucket_seq = ?", vec![Value::Integer(bucket.seq)])
}
