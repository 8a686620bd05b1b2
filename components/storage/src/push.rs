//! `GET /v1/storage/buckets/{bucketId}/files/{fileId}/push?jwt=…`: a file fetched by a push
//! service (FCM, APNs) for a notification's image. The URL carries a short-lived HS256 JWT
//! naming the project, bucket and file, which messaging mints when it sends a push whose image
//! is `bucketId:fileId` ([`url`]); the route reads the file with the project's authority.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    let storage_key = files::encryption_key(ctx).await?;
    let mut hash = Sha256::new();
    hash.update(b"edgewrite push images\0");
    hash.update(storage_key);
    Ok(hash.finalize().to_vec())
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length")
}

fn sign(claims: &Claims, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{header}.{payload}");
    let mut m = mac(key);
    m.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

/// The claims of a token `key` signed (the signature checked in constant time), HS256 only.
fn verify(token: &str, key: &[u8]) -> Option<Claims> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let mut m = mac(key);
    m.update(&token.as_bytes()[..token.rfind('.')?]);
    m.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
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
    let jwt = sign(&claims, &signing_key(ctx).await?);
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
    let claims = verify(&token, &signing_key(ctx).await?).ok_or_else(unauthorized)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_key_and_unaltered() {
        let claims = Claims { project_id: "p".into(), bucket_id: "b".into(), file_id: "f".into(), exp: 100 };
        let token = sign(&claims, b"key");
        assert_eq!(verify(&token, b"key"), Some(claims));
        assert_eq!(verify(&token, b"other"), None);
        let forged = token.replacen(".", ".x", 1);
        assert_eq!(verify(&forged, b"key"), None);
        let none =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), token.split('.').nth(1).unwrap());
        assert_eq!(verify(&none, b"key"), None);
        assert_eq!(verify("", b"key"), None);
    }
}
