//! A file's bytes: `…/download` (attachment) and `…/view` (inline), whole or one `Range`.
//! Plain files stream from the blob store chunk by chunk (a [`BlobBody`]), whatever their
//! size; compressed or encrypted ones (at most 20 MB) are decoded in memory.

use edgewrite_core::http::BlobBody;
use edgewrite_core::ports::{ByteRange, Statement, Value};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};

use crate::codec::Codec;
use crate::files::{self, chunk_key, File};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Attachment,
    Inline,
}

/// Media types a browser may show inline from us; anything else is served as `text/plain`,
/// so an uploaded page or script never runs on the API's origin.
const INLINE_SAFE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/bmp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
    "audio/mpeg",
    "audio/ogg",
    "audio/flac",
    "audio/wav",
    "video/mp4",
    "video/webm",
    "video/quicktime",
];

fn invalid_range() -> AppwriteError {
    AppwriteError::new(ErrorType::StorageInvalidRange, "The requested range is not satisfiable.")
}

/// `inline`/`attachment` with the file name: printable ASCII in `filename` (others become `_`),
/// and the exact name percent-encoded in `filename*` (RFC 6266), so no name can break the header.
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `Range: bytes=<start>-[<end>]` over a file of `size` bytes: the inclusive span, or 416.
fn requested_range(header: &str, size: u64) -> Result<(u64, u64), AppwriteError> {
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(invalid_range)?;
    let (start, end) = spec.split_once('-').ok_or_else(invalid_range)?;
    let number = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u64>().ok()).flatten();
    let start = number(start).ok_or_else(invalid_range)?;
    let end = if end.is_empty() {
        size.checked_sub(1).ok_or_else(invalid_range)?
    } else {
        number(end).ok_or_else(invalid_range)?
    };
    if start > end || end >= size {
        return Err(invalid_range());
    }
    Ok((start, end))
}

/// The stored chunks of a file, `(index, size)` in order.
async fn chunks(ctx: &Ctx<'_>, file: &File) -> Result<Vec<(i64, u64)>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT idx, size FROM file_chunks WHERE file_seq = ? ORDER BY idx",
            vec![Value::Integer(file.seq)],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|r| Some((r.first()?.as_i64()?, u64::try_from(r.get(1)?.as_i64()?).ok()?)))
        .collect())
}

/// `GET …/download` and `…/view`.
pub async fn serve(ctx: &Ctx<'_>, disposition: Disposition) -> Result<Response, AppwriteError> {
    let found = files::load_for_content(ctx).await?;
    respond(ctx, disposition, found).await
}

/// The file of the path's bucket and file ids, with the project's authority: for a caller whose
/// right to it was proven otherwise (a push image's signed URL).
pub async fn serve_granted(ctx: &Ctx<'_>, disposition: Disposition) -> Result<Response, AppwriteError> {
    let bucket = crate::buckets::load(ctx).await?;
    let file = ctx.params.path("fileId").unwrap_or_default();
    let found = files::load_by_ids(ctx, &bucket.id, file).await?.ok_or_else(files::not_found)?;
    respond(ctx, disposition, (bucket, found)).await
}

async fn respond(
    ctx: &Ctx<'_>,
    disposition: Disposition,
    (bucket, file): (crate::buckets::Bucket, files::File),
) -> Result<Response, AppwriteError> {
    if !file.finished() {
        return Err(files::not_found());
    }
    // The upload's random blob prefix too: a file deleted and uploaded again under the same id
    // never matches an old validator.
    let etag = format!("\"{}-{}\"", file.signature, &file.blobs[..file.blobs.len().min(8)]);
    let mut response = Response::new(200);
    let headers = &mut response.headers;
    // A file anyone may read can sit in shared caches; any other stays with its reader.
    let public = public(&bucket, &file);
    // Shared caches may keep a public file briefly and must revalidate (its permissions may
    // change); anything else stays with its reader.
    headers.set(
        "cache-control",
        if public { "public, max-age=300, must-revalidate" } else { "private, max-age=3888000" },
    );
    headers.set("etag", &etag);
    headers.set("accept-ranges", "bytes");
    let kind = match disposition {
        Disposition::Attachment => {
            headers.set("content-type", &file.mime_type);
            "attachment"
        }
        Disposition::Inline => {
            let inline = if INLINE_SAFE.contains(&file.mime_type.as_str()) {
                file.mime_type.as_str()
            } else {
                "text/plain"
            };
            headers.set("content-type", inline);
            "inline"
        }
    };
    headers.set("content-disposition", content_disposition(kind, &file.name));
    headers.set("x-content-type-options", "nosniff");
    headers.set("content-security-policy", "script-src 'none'; object-src 'none'");
    if ctx.request.header("if-none-match").is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        response.status = 304;
        return Ok(response);
    }
    let size = file.size_original as u64;
    let (start, end) = match ctx.request.header("range") {
        Some(header) => {
            let (start, end) = requested_range(header, size)?;
            response.status = 206;
            response.headers.set("content-range", format!("bytes {start}-{end}/{size}"));
            (start, end + 1)
        }
        None => (0, size),
    };
    let chunks = chunks(ctx, &file).await?;
    if file.compression == "none" && !file.encrypted {
        let mut parts = Vec::new();
        let mut offset = 0u64;
        for (idx, len) in chunks {
            let (from, to) = (start.max(offset), end.min(offset + len));
            if from < to {
                parts.push((
                    chunk_key(&file.blobs, idx),
                    ByteRange { start: from - offset, end: to - offset },
                ));
            }
            offset += len;
        }
        let project = ctx.project.unwrap_or_default().to_string();
        response.blob_body = Some(BlobBody { project, parts });
        return Ok(response);
    }
    response.body = decoded(ctx, &file, &chunks, start, end).await?;
    Ok(response)
}

/// Bytes `start..end` of a compressed or encrypted file, decoded chunk by chunk (such files
/// are at most 20 MB).
async fn decoded(
    ctx: &Ctx<'_>,
    file: &File,
    chunks: &[(i64, u64)],
    start: u64,
    end: u64,
) -> Result<Vec<u8>, AppwriteError> {
    let key = if file.encrypted { Some(files::encryption_key(ctx).await?) } else { None };
    let codec = Codec { compression: &file.compression, key: key.as_ref() };
    let mut body = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
    let mut offset = 0u64;
    for &(idx, len) in chunks {
        let (from, to) = (start.max(offset), end.min(offset + len));
        if from < to {
            let blob = chunk_key(&file.blobs, idx);
            let stored = ctx
                .ports
                .blobs
                .get(&blob, None)
                .await
                .map_err(AppwriteError::internal)?
                .ok_or_else(|| AppwriteError::internal("a chunk of the file is missing"))?;
            let chunk = codec.decode(&stored, &blob).map_err(AppwriteError::internal)?;
            let slice = chunk
                .get((from - offset) as usize..(to - offset) as usize)
                .ok_or_else(|| AppwriteError::internal("a chunk is shorter than recorded"))?;
            body.extend_from_slice(slice);
        }
        offset += len;
    }
    Ok(body)
}

/// A whole file, decoded (previews: files up to 20 MB).
pub async fn read_all(ctx: &Ctx<'_>, file: &File) -> Result<Vec<u8>, AppwriteError> {
    let chunks = chunks(ctx, file).await?;
    decoded(ctx, file, &chunks, 0, file.size_original as u64).await
}

/// Whether anyone may read the file: then caches may share it.
pub fn public(bucket: &crate::buckets::Bucket, file: &File) -> bool {
    edgewrite_core::permissions::allows(&bucket.permissions, "read", &["any".into()], &[])
        || (bucket.file_security
            && edgewrite_core::permissions::allows(&file.permissions, "read", &["any".into()], &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_carry_any_name_safely() {
        assert_eq!(
            content_disposition("inline", "numbers.txt"),
            "inline; filename=\"numbers.txt\"; filename*=UTF-8''numbers.txt"
        );
        let odd = content_disposition("attachment", "résumé \"final\"\r\n.pdf");
        assert!(odd.is_ascii() && !odd.contains('\r') && !odd.contains('\n'));
        assert!(odd.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%0D%0A.pdf"));
    }

    #[test]
    fn ranges_follow_appwrite() {
        assert_eq!(requested_range("bytes=0-99", 1000).unwrap(), (0, 99));
        assert_eq!(requested_range("bytes=900-", 1000).unwrap(), (900, 999));
        assert_eq!(requested_range("bytes=5-5", 1000).unwrap(), (5, 5));
        for bad in ["bytes=0-1000", "bytes=10-5", "bytes=-5", "items=0-5", "bytes=a-b", "bytes=0-5,7-9"] {
            assert_eq!(requested_range(bad, 1000).unwrap_err().kind, ErrorType::StorageInvalidRange, "{bad}");
        }
    }
}
