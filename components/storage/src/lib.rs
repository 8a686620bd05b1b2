//! Appwrite's Storage (`/v1/storage`, `/v1/tokens`; `appwrite-api.md` §1.4 and §7): buckets,
//! file tokens, files with the
//! SDKs' chunked resumable upload, downloads and views with ranges. Metadata lives in the
//! project's SQL; each 5 MiB chunk of a file is one blob in the project's blob store (R2 on
//! Cloudflare, SQLite chunks on Spin), so uploads never assemble a file and downloads stream
//! it chunk by chunk.

mod buckets;
mod codec;
mod content;
mod files;
mod preview;
mod push;
pub mod sealed;
mod tokens;

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

pub use codec::TRANSFORM_LIMIT;

/// A stored file's name, media type and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContents {
    pub name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// The file `file_id` of bucket `bucket_id`, decoded, with the project's authority (no
/// permission check: callers act for an API key, as messaging attachments do). `None` when
/// either does not exist or the file is still uploading; files over `max_bytes` are refused
/// before any chunk is read.
pub async fn file_contents(
    ctx: &Ctx<'_>,
    bucket_id: &str,
    file_id: &str,
    max_bytes: u64,
) -> Result<Option<FileContents>, AppwriteError> {
    let Some(file) = files::load_by_ids(ctx, bucket_id, file_id).await? else { return Ok(None) };
    if file.chunks_uploaded < file.chunks_total {
        return Ok(None);
    }
    if file.size_original as u64 > max_bytes {
        return Err(AppwriteError::new(
            ErrorType::StorageInvalidFileSize,
            format!("File {bucket_id}:{file_id} is larger than {max_bytes} bytes."),
        ));
    }
    let bytes = content::read_all(ctx, &file).await?;
    Ok(Some(FileContents { name: file.name, media_type: file.mime_type, bytes }))
}

/// The media type of file `file_id` of bucket `bucket_id` (`None`: no such bucket or file, or
/// still uploading), with the project's authority.
pub async fn file_media_type(
    ctx: &Ctx<'_>,
    bucket_id: &str,
    file_id: &str,
) -> Result<Option<String>, AppwriteError> {
    let file = files::load_by_ids(ctx, bucket_id, file_id).await?;
    Ok(file.filter(files::File::complete).map(|f| f.mime_type))
}

pub use push::url as push_image_url;

const fn route(method: Method, path: &'static str, scope: &'static str, name: &'static str) -> Route {
    Route { method, path, scope: Some(scope), needs_project: true, name }
}

/// Buckets and files.
pub struct Storage;

static ROUTES: &[Route] = &[
    route(Method::Get, "/v1/storage/buckets", "buckets.read", "buckets.list"),
    route(Method::Post, "/v1/storage/buckets", "buckets.write", "buckets.create"),
    route(Method::Get, "/v1/storage/buckets/{bucketId}", "buckets.read", "buckets.get"),
    route(Method::Put, "/v1/storage/buckets/{bucketId}", "buckets.write", "buckets.update"),
    route(Method::Delete, "/v1/storage/buckets/{bucketId}", "buckets.write", "buckets.delete"),
    // edgewrite only: what a migration restores (`edgewrite_core::system_fields`).
    route(
        Method::Patch,
        "/v1/storage/buckets/{bucketId}/system-fields",
        "migrations.write",
        "buckets.system_fields",
    ),
    route(
        Method::Patch,
        "/v1/storage/buckets/{bucketId}/files/{fileId}/system-fields",
        "migrations.write",
        "files.system_fields",
    ),
    route(Method::Get, "/v1/storage/buckets/{bucketId}/files", "files.read", "files.list"),
    route(Method::Post, "/v1/storage/buckets/{bucketId}/files", "files.write", "files.create"),
    route(Method::Get, "/v1/storage/buckets/{bucketId}/files/{fileId}", "files.read", "files.get"),
    route(Method::Put, "/v1/storage/buckets/{bucketId}/files/{fileId}", "files.write", "files.update"),
    route(Method::Delete, "/v1/storage/buckets/{bucketId}/files/{fileId}", "files.write", "files.delete"),
    route(
        Method::Get,
        "/v1/storage/buckets/{bucketId}/files/{fileId}/download",
        "files.read",
        "files.download",
    ),
    route(Method::Get, "/v1/storage/buckets/{bucketId}/files/{fileId}/view", "files.read", "files.view"),
    // For push services: the signed `jwt` is the credential.
    route(Method::Get, "/v1/storage/buckets/{bucketId}/files/{fileId}/push", "public", "files.push"),
    route(
        Method::Get,
        "/v1/storage/buckets/{bucketId}/files/{fileId}/preview",
        "files.read",
        "files.preview",
    ),
    route(Method::Get, "/v1/tokens/buckets/{bucketId}/files/{fileId}", "tokens.read", "tokens.list"),
    route(Method::Post, "/v1/tokens/buckets/{bucketId}/files/{fileId}", "tokens.write", "tokens.create"),
    route(Method::Get, "/v1/tokens/{tokenId}", "tokens.read", "tokens.get"),
    route(Method::Patch, "/v1/tokens/{tokenId}", "tokens.write", "tokens.update"),
    route(Method::Delete, "/v1/tokens/{tokenId}", "tokens.write", "tokens.delete"),
];

#[async_trait(?Send)]
impl Capability for Storage {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        match route.name {
            "buckets.list" => buckets::list(ctx).await,
            "buckets.create" => buckets::create(ctx).await,
            "buckets.get" => buckets::get(ctx).await,
            "buckets.update" => buckets::update(ctx).await,
            "buckets.delete" => buckets::delete(ctx).await,
            "buckets.system_fields" => buckets::restore(ctx).await,
            "files.system_fields" => files::restore(ctx).await,
            "files.list" => files::list(ctx).await,
            "files.create" => files::create(ctx).await,
            "files.get" => files::get(ctx).await,
            "files.update" => files::update(ctx).await,
            "files.delete" => files::delete(ctx).await,
            "files.download" => content::serve(ctx, content::Disposition::Attachment).await,
            "files.view" => content::serve(ctx, content::Disposition::Inline).await,
            "files.push" => push::serve(ctx).await,
            "files.preview" => preview::serve(ctx).await,
            "tokens.list" => tokens::list(ctx).await,
            "tokens.create" => tokens::create(ctx).await,
            "tokens.get" => tokens::get(ctx).await,
            "tokens.update" => tokens::update(ctx).await,
            "tokens.delete" => tokens::delete(ctx).await,
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}
