//! `GET /avatars/image` and `GET /avatars/favicon`: images fetched from URLs the client names,
//! which makes them the API's server-side request forgery surface. Every hop goes through
//! [`edgewrite_core::public_url::check`] (public hosts only, or the operator's allowed private
//! origins); `image` follows no redirect (as Appwrite), `favicon` at most five, each checked; an
//! answer is read within a size cap and a deadline; decoding is bounded. Results are cached in
//! the project's cache, and each address may make [`FETCHES_PER_MINUTE`] uncached ones.

use edgewrite_core::abuse::{self, Limit};
use edgewrite_core::ports::{BoundedResponse, FetchBounds};
use edgewrite_core::public_url;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use image::{DynamicImage, ImageReader};
use sha2::{Digest, Sha256};
use url::Url;

use crate::image_out::{cover, png, respond, THIRTY_DAYS};

/// The largest remote image or icon read.
const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// The largest page read to find a favicon.
const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// How long one remote answer may take.
pub const FETCH_TIMEOUT_MS: u64 = 5_000;
/// Largest decoded image (pixels) and decoder allocation: a small file must not expand into a
/// huge canvas.
const MAX_PIXELS: u64 = 25_000_000;
const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;
/// Uncached remote fetches each address may make a minute.
const FETCHES_PER_MINUTE: u32 = 60;
const MAX_REDIRECTS: usize = 5;

fn remote_failed() -> AppwriteError {
    ErrorType::AvatarRemoteUrlFailed.into()
}

/// The `url` parameter: required, an `http`/`https` URL (Appwrite's `URL` validator).
fn url_param(ctx: &Ctx<'_>) -> Result<String, AppwriteError> {
    let url = ctx.params.required_text("url", 2048)?;
    match Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(url),
        _ => Err(AppwriteError::invalid_param(
            "url",
            "Value must be a valid URL with following schemes (http, https)",
        )),
    }
}

/// A checked destination, or `avatar_remote_url_failed` naming why not.
fn checked(ctx: &Ctx<'_>, url: &str) -> Result<Url, AppwriteError> {
    public_url::check(url, &ctx.config.outbound_private_origins).map_err(|refusal| {
        tracing::info!(url, reason = %refusal, "avatars: remote URL refused");
        AppwriteError::new(ErrorType::AvatarRemoteUrlFailed, format!("Invalid URL: {refusal}"))
    })
}

/// Fetches `url` (already checked), following up to `redirects` redirects, each checked.
async fn fetch(
    ctx: &Ctx<'_>,
    mut url: Url,
    redirects: usize,
    max_bytes: usize,
) -> Result<(Url, BoundedResponse), AppwriteError> {
    let bounds = FetchBounds { max_bytes, timeout_ms: FETCH_TIMEOUT_MS };
    for hop in 0..=redirects {
        let answer = ctx.ports.outbound.fetch_bounded(url.as_str(), bounds).await.map_err(|e| {
            tracing::info!(url = %url, error = %e, "avatars: remote fetch failed");
            remote_failed()
        })?;
        let location = answer.location.as_deref().filter(|_| (300..400).contains(&answer.status));
        match location {
            Some(location) if hop < redirects => {
                let next = url.join(location).map_err(|_| remote_failed())?;
                url = checked(ctx, next.as_str())?;
            }
            _ => return Ok((url, answer)),
        }
    }
    Err(remote_failed())
}

/// Decodes an image within the pixel and allocation bounds.
fn decode(bytes: &[u8]) -> Result<DynamicImage, AppwriteError> {
    let not_an_image = || {
        AppwriteError::new(
            ErrorType::AvatarImageNotFound,
            "The remote file is not an image that can be read.",
        )
    };
    // Reading the size consumes a reader: the header is read by one, the pixels by another.
    let reader = || {
        let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|_| not_an_image())?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_DECODE_ALLOC);
        reader.limits(limits);
        Ok::<_, AppwriteError>(reader)
    };
    let (w, h) = reader()?.into_dimensions().map_err(|_| not_an_image())?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(not_an_image());
    }
    reader()?.decode().map_err(|_| not_an_image())
}

/// The cached answer for `key`, or `make`'s (cached for 30 days) after the rate limit.
async fn cached<F>(ctx: &Ctx<'_>, key: String, make: F) -> Result<Response, AppwriteError>
where
    F: std::future::Future<Output = Result<(String, Vec<u8>), AppwriteError>>,
{
    let key = format!(
        "avatar:{}",
        Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    if let Ok(Some(stored)) = ctx.ports.kv.get(&key).await {
        if let Some(split) = stored.iter().position(|b| *b == 0) {
            let content_type = String::from_utf8_lossy(&stored[..split]).into_owned();
            let mut response = respond(&content_type, THIRTY_DAYS, stored[split + 1..].to_vec());
            response.headers.set("x-appwrite-cache", "hit");
            return Ok(response);
        }
    }
    abuse::check(
        ctx,
        &abuse::ip_key(ctx, "/v1/avatars/remote"),
        Limit { max: FETCHES_PER_MINUTE, window_secs: 60 },
    )
    .await?;
    let (content_type, body) = make.await?;
    let mut stored = content_type.clone().into_bytes();
    stored.push(0);
    stored.extend_from_slice(&body);
    if let Err(e) = ctx.ports.kv.put(&key, stored, Some(THIRTY_DAYS)).await {
        tracing::warn!(error = %e, "caching a remote avatar");
    }
    let mut response = respond(&content_type, THIRTY_DAYS, body);
    response.headers.set("x-appwrite-cache", "miss");
    Ok(response)
}

/// `GET /avatars/image`: `url`, `width` and `height` 0–2000 (400).
pub async fn image(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let url = url_param(ctx)?;
    let width = ctx.params.integer("width", 0, 2000)?.unwrap_or(400) as u32;
    let height = ctx.params.integer("height", 0, 2000)?.unwrap_or(400) as u32;
    let target = checked(ctx, &url)?;
    cached(ctx, format!("image\0{url}\0{width}\0{height}"), async {
        let (_, answer) = fetch(ctx, target, 0, MAX_IMAGE_BYTES).await?;
        if answer.status != 200 {
            return Err(ErrorType::AvatarImageNotFound.into());
        }
        Ok(("image/png".to_string(), png(&cover(decode(&answer.body)?, width, height))?))
    })
    .await
}

/// `GET /avatars/favicon`: `url` of a page; its best `<link rel="icon">` (else `/favicon.ico`)
/// as a 56×56 PNG, or an `.ico` as it is. SVG icons are passed over: served from the API's
/// origin they could carry script, and rasterising them is not offered here.
pub async fn favicon(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let url = url_param(ctx)?;
    let target = checked(ctx, &url)?;
    cached(ctx, format!("favicon\0{url}"), async {
        let (page_url, page) = fetch(ctx, target, MAX_REDIRECTS, MAX_PAGE_BYTES).await?;
        let html =
            if page.status == 200 { String::from_utf8_lossy(&page.body).into_owned() } else { String::new() };
        let icon_url = match best_icon(&html, &page_url) {
            Some(icon) => icon,
            None => page_url.join("/favicon.ico").map_err(|_| remote_failed())?,
        };
        let icon_url = checked(ctx, icon_url.as_str())?;
        let is_ico = icon_url.path().to_ascii_lowercase().ends_with(".ico");
        let (_, icon) = fetch(ctx, icon_url, MAX_REDIRECTS, MAX_IMAGE_BYTES).await?;
        if icon.status != 200 || icon.body.is_empty() {
            return Err(ErrorType::AvatarIconNotFound.into());
        }
        let start = String::from_utf8_lossy(&icon.body[..icon.body.len().min(16)]).to_ascii_lowercase();
        if start.trim_start().starts_with("<html") || start.trim_start().starts_with("<!doc") {
            return Err(ErrorType::AvatarIconNotFound.into());
        }
        if is_ico {
            return Ok(("image/x-icon".to_string(), icon.body));
        }
        let decoded = decode(&icon.body).map_err(|_| AppwriteError::from(ErrorType::AvatarIconNotFound))?;
        Ok(("image/png".to_string(), png(&cover(decoded, 56, 56))?))
    })
    .await
}

/// The icon Appwrite would pick from a page's `<link>` tags: `rel` `icon` or `shortcut icon`,
/// an `.ico`, `.png`, `.jpg` or `.jpeg`, the largest by `sizes` (the later on a tie).
pub fn best_icon(html: &str, base: &Url) -> Option<Url> {
    let mut best: Option<(u64, Url)> = None;
    for attributes in link_tags(html) {
        let get = |name: &str| attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let rel = get("rel").unwrap_or_default().to_ascii_lowercase();
        if rel != "icon" && rel != "shortcut icon" {
            continue;
        }
        let Some(href) = get("href").filter(|h| !h.is_empty()) else { continue };
        let Ok(absolute) = base.join(href) else { continue };
        let ext = absolute.path().rsplit('.').next().unwrap_or_default().to_ascii_lowercase();
        if !["ico", "png", "jpg", "jpeg"].contains(&ext.as_str()) {
            continue;
        }
        let sizes = get("sizes").unwrap_or_default().to_ascii_lowercase();
        let mut dims = sizes.split('x').map(|d| d.trim().parse::<u64>().unwrap_or(0));
        let space = dims.next().unwrap_or(0).saturating_mul(dims.next().unwrap_or(0));
        if best.as_ref().is_none_or(|(s, _)| space >= *s) {
            best = Some((space, absolute));
        }
    }
    best.map(|(_, url)| url)
}

/// The attributes (lower-case names, unescaped `&amp;`) of each `<link …>` tag.
fn link_tags(html: &str) -> Vec<Vec<(String, String)>> {
    let lower = html.to_ascii_lowercase();
    let mut tags = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<link") {
        let start = at + found + 5;
        let end = lower[start..].find('>').map_or(html.len(), |e| start + e);
        tags.push(attributes(&html[start..end]));
        at = end;
    }
    tags
}

fn attributes(mut rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(rest.len());
        if name_end == 0 {
            return out;
        }
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).map_or(after.len(), |i| i + 1);
                    (&after[1..close], after.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remaining;
            value.replace("&amp;", "&")
        } else {
            String::new()
        };
        out.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_raster_icon_is_picked_and_svg_passed_over() {
        let base = Url::parse("https://site.example.org/blog/post").unwrap();
        let html = r#"<html><head>
            <LINK rel="stylesheet" href="/a.css">
            <link rel='icon' href="/small.png" sizes="16x16">
            <link rel=icon href=/big.png sizes=192x192 />
            <link rel="icon" href="/vector.svg">
            <link rel="shortcut icon" href="fav.ico?v=1&amp;x=2">
            <link rel="apple-touch-icon" href="/apple.png" sizes="512x512">
        </head></html>"#;
        assert_eq!(best_icon(html, &base).unwrap().as_str(), "https://site.example.org/big.png");
        let only_ico = r#"<link rel="shortcut icon" href="fav.ico?v=1&amp;x=2">"#;
        assert_eq!(
            best_icon(only_ico, &base).unwrap().as_str(),
            "https://site.example.org/blog/fav.ico?v=1&x=2"
        );
        assert_eq!(best_icon("<link rel=icon href=/x.svg>", &base), None);
        assert_eq!(best_icon("no links <link", &base), None);
    }

    #[test]
    fn decoding_refuses_what_is_not_an_image_and_bombs() {
        assert_eq!(decode(b"<html>").unwrap_err().kind, ErrorType::AvatarImageNotFound);
        // A PNG header claiming 100,000 × 100,000 pixels is refused before any pixel.
        let mut bomb = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        bomb.extend_from_slice(b"IHDR");
        bomb.extend_from_slice(&100_000u32.to_be_bytes());
        bomb.extend_from_slice(&100_000u32.to_be_bytes());
        bomb.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode(&bomb).is_err());
    }
}
