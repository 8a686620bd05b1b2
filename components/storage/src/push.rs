//! `GET /v1/storage/buckets/{bucketId}/files/{fileId}/push?jwt=…`: a file fetched by a push
//! service (FCM, APNs) for a notification's image. The URL carries a short-lived HS256 JWT
//! naming the project, bucket and file, which messaging mints when it sends a push whose image
//! is `bucketId:fileId` ([`url`]); the route reads the file with the project's authority.

use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde::{Deserialize, Serialize};

use crate::{content, files};

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Claims {
    #[serde(rename = "projectId")]
    project_id: String,
    #[serde(rename = "bucketId")]
    bucket_id: String,
    #[serde(rename = "fileId")]
    file_id: String,
    exp: i64,
}

/// The signing key: derived from the project's storage key, apart from file tokens' key.
async fn signing_key(ctx: &Ctx<'_>) -> Result<Vec<u8>, AppwriteError> {
    files::derived_key(ctx, "edgewrite push images").await
}

/// The URL a push service fetches the image `bucket_id:file_id` from until `expires_s` (unix
/// seconds), under `endpoint` (the deployment's public `/v1`).
pub async fn url(
    ctx: &Ctx<'_>,
    endpoint: &str,
    bucket_id: &str,
    file_id: &str,
    expires_s: i64,
) -> Result<String, AppwriteError> {
    let project = ctx.project.unwrap_or_default().to_string();
    let claims = Claims {
        project_id: project.clone(),
        bucket_id: bucket_id.to_string(),
        file_id: file_id.to_string(),
        exp: expires_s,
    };
    let jwt = edgewrite_core::jwt::sign(&claims, &signing_key(ctx).await?);
    Ok(format!(
        "{}/storage/buckets/{bucket_id}/files/{file_id}/push?project={project}&jwt={jwt}",
        endpoint.trim_end_matches('/')
    ))
}

/// `GET …/push`: the file inline, when `jwt` names this project, bucket and file and has not
/// expired; `401 user_unauthorized` otherwise.
pub async fn serve(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let unauthorized = || AppwriteError::from(ErrorType::UserUnauthorized);
    let token = ctx.params.text("jwt", 2048)?.unwrap_or_default();
    let claims: Claims =
        edgewrite_core::jwt::verify(&token, &signing_key(ctx).await?).ok_or_else(unauthorized)?;
    let now = ctx.ports.clock.now_ms() / 1000;
    let names = |key: &str| ctx.params.path(key).unwrap_or_default();
    if claims.exp <= now
        || claims.project_id != ctx.project.unwrap_or_default()
        || claims.bucket_id != names("bucketId")
        || claims.file_id != names("fileId")
    {
        return Err(unauthorized());
    }
    content::serve_granted(ctx, content::Disposition::Inline).await
}
