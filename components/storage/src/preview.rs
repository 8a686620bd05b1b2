//! `…/preview`: an image file resized, cropped by gravity, rotated, faded, bordered and
//! rounded, then encoded as jpg, png, webp or gif, in the stateless Worker with the pure-Rust
//! `image` crate. Results are cached in the project's KV, keyed by the file's signature and
//! the parameters, so a repeated preview skips decoding.

use std::io::Cursor;

use edgewrite_core::abuse::{self, Limit};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat, Rgba, RgbaImage};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::codec::TRANSFORM_LIMIT;
use crate::content;
use crate::files;

/// Larger images (in pixels) are refused rather than decoded in a 128 MB isolate (12 MP of RGBA
/// is 48 MB; the work on it needs a copy or two more).
const MAX_PIXELS: u64 = 12_000_000;
/// The largest canvas a preview's steps may make (scaling to cover, borders, rotation).
const MAX_CANVAS: u64 = 16_000_000;
/// The most one decoder may allocate.
const MAX_DECODE_ALLOC: u64 = 64 * 1024 * 1024;
const GRAVITIES: &[&str] =
    &["center", "top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right"];
const PREVIEWABLE: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"];
/// How long a cached preview lives in KV.
const CACHE_SECS: u32 = 30 * 24 * 3600;

#[derive(Clone)]
struct Params {
    width: u32,
    height: u32,
    gravity: String,
    quality: i64,
    border_width: u32,
    border_color: Rgba<u8>,
    border_radius: u32,
    opacity: f64,
    rotation: i64,
    background: Option<Rgba<u8>>,
    output: String,
}

fn hex_color(name: &str, value: Option<String>) -> Result<Option<Rgba<u8>>, AppwriteError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    let v = v.trim_start_matches('#');
    let bad = || AppwriteError::invalid_param(name, "Value must be a valid hex color code");
    if v.len() != 6 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&v[i..i + 2], 16).map_err(|_| bad());
    Ok(Some(Rgba([byte(0)?, byte(2)?, byte(4)?, 255])))
}

fn params(ctx: &Ctx<'_>) -> Result<Params, AppwriteError> {
    let p = &ctx.params;
    let gravity = p.text("gravity", 16)?.filter(|g| !g.is_empty()).unwrap_or_else(|| "center".into());
    if !GRAVITIES.contains(&gravity.as_str()) {
        return Err(AppwriteError::invalid_param(
            "gravity",
            &format!("Value must be one of ({})", GRAVITIES.join(", ")),
        ));
    }
    let opacity = match p.raw("opacity") {
        None | Some(Json::Null) => 1.0,
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|o| (0.0..=1.0).contains(o))
            .ok_or_else(|| {
                AppwriteError::invalid_param("opacity", "Value must be a number between 0 and 1")
            })?,
    };
    let output = p.text("output", 8)?.unwrap_or_default().to_ascii_lowercase();
    if !["", "jpg", "jpeg", "png", "webp", "gif", "avif", "heic"].contains(&output.as_str()) {
        return Err(AppwriteError::invalid_param(
            "output",
            "Value must be one of (jpg, jpeg, png, webp, heic, avif, gif)",
        ));
    }
    if matches!(output.as_str(), "avif" | "heic") {
        return Err(AppwriteError::invalid_param(
            "output",
            "avif and heic previews are not available here: no pure-Rust encoder is built in; use webp, png or jpg",
        ));
    }
    let int = |name: &str, min: i64, max: i64| -> Result<i64, AppwriteError> {
        Ok(p.integer(name, min, max)?.unwrap_or(0))
    };
    Ok(Params {
        width: int("width", 0, 4000)? as u32,
        height: int("height", 0, 4000)? as u32,
        gravity,
        quality: p.integer("quality", -1, 100)?.unwrap_or(-1),
        border_width: int("borderWidth", 0, 100)? as u32,
        border_color: hex_color("borderColor", p.text("borderColor", 7)?)?.unwrap_or(Rgba([0, 0, 0, 255])),
        border_radius: int("borderRadius", 0, 4000)? as u32,
        opacity,
        rotation: int("rotation", -360, 360)?,
        background: hex_color("background", p.text("background", 7)?)?,
        output,
    })
}

/// `GET …/preview`
pub async fn serve(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (bucket, file) = files::load_for_content(ctx).await?;
    if !file.finished() {
        return Err(files::not_found());
    }
    let is_app = matches!(ctx.caller, edgewrite_core::identity::Caller::App { .. });
    if !bucket.transformations && !is_app {
        return Err(AppwriteError::new(
            ErrorType::StorageBucketTransformationsDisabled,
            "Image transformations are disabled for the requested bucket.",
        ));
    }
    let params = params(ctx)?;
    let output = match params.output.as_str() {
        "" => match file.mime_type.as_str() {
            "image/png" => "png",
            "image/webp" => "webp",
            "image/gif" => "gif",
            _ => "jpg",
        },
        "jpeg" => "jpg",
        other => other,
    }
    .to_string();
    let params = normalised(params, &output);
    let cache =
        if content::public(&bucket, &file) { "public, max-age=2592000" } else { "private, max-age=2592000" };
    // Keyed by what shapes the result, normalised, so neither extra query parameters nor
    // spellings of the same preview (opacity=0.50001, rotation=-270) miss the cache.
    let cache_key = {
        let mut h = Sha256::new();
        let p = &params;
        h.update(
            format!(
                "preview\0{}\0{}\0{}\0{}\0{}x{}\0{}\0{}\0{}\0{:?}\0{}\0{}\0{}\0{:?}\0{output}",
                bucket.id,
                file.id,
                file.signature,
                file.blobs,
                p.width,
                p.height,
                p.gravity,
                p.quality,
                p.border_width,
                p.border_color.0,
                p.border_radius,
                p.opacity,
                p.rotation,
                p.background.map(|b| b.0),
            )
            .as_bytes(),
        );
        format!("preview:{}", h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    let respond = |bytes: Vec<u8>, hit: bool| {
        let mut response = Response::new(200);
        response.headers.set("content-type", mime(&output));
        response.headers.set("cache-control", cache);
        response.headers.set("x-appwrite-cache", if hit { "hit" } else { "miss" });
        response.body = bytes;
        response
    };
    if let Ok(Some(bytes)) = ctx.ports.kv.get(&cache_key).await {
        return match bytes.strip_prefix(FAILED) {
            Some(refusal) => Err(refused(refusal)),
            None => Ok(respond(bytes, true)),
        };
    }
    let previewable =
        PREVIEWABLE.contains(&file.mime_type.as_str()) && file.size_original as u64 <= TRANSFORM_LIMIT;
    // Nothing to change: the image as stored, with no pixel decoded.
    if previewable && is_identity(&params) && mime(&output) == file.mime_type {
        return Ok(respond(content::read_all(ctx, &file).await?, false));
    }
    // Only a render costs: each address gets a budget of them (cache hits are free).
    abuse::check(
        ctx,
        &abuse::ip_key(ctx, "/v1/storage/buckets/{bucketId}/files/{fileId}/preview"),
        Limit { max: RENDERS_PER_MINUTE, window_secs: 60 },
    )
    .await?;
    let encoded = if previewable {
        let bytes = content::read_all(ctx, &file).await?;
        let rendered = decode(&bytes, &params).and_then(|image| render(image, &params, &output));
        match rendered {
            Ok(encoded) => encoded,
            // A refused render is remembered, so asking again costs a cache read, not a decode.
            Err(e) => {
                let mut remembered = FAILED.to_vec();
                remembered.extend_from_slice(&e.body());
                if let Err(e) = ctx.ports.kv.put(&cache_key, remembered, Some(CACHE_SECS)).await {
                    tracing::warn!(error = %e, "caching a refused preview");
                }
                return Err(e);
            }
        }
    } else {
        // Not an image (or too big to decode here): a small placeholder in Appwrite's grey, of
        // the size asked for up to 512 pixels a side.
        let side = |v: u32| if v > 0 { v.min(512) } else { 150 };
        let (w, h) = (side(params.width), side(params.height));
        let placeholder =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(w, h, Rgba([0xec, 0xef, 0xf1, 255])));
        render(placeholder, &Params { width: 0, height: 0, ..params.clone() }, &output)?
    };
    if let Err(e) = ctx.ports.kv.put(&cache_key, encoded.clone(), Some(CACHE_SECS)).await {
        tracing::warn!(error = %e, "caching a preview");
    }
    Ok(respond(encoded, false))
}

fn mime(output: &str) -> &'static str {
    match output {
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => "image/jpeg",
    }
}

/// The parameters with what does not change the image dropped and the rest rounded: opacity
/// to hundredths, rotation to one turn, the border colour without a border, the quality of
/// lossless outputs.
fn normalised(mut p: Params, output: &str) -> Params {
    p.opacity = (p.opacity * 100.0).round() / 100.0;
    p.rotation = (p.rotation % 360 + 360) % 360;
    if p.border_width == 0 {
        p.border_color = Rgba([0, 0, 0, 255]);
    }
    if !matches!(output, "jpg" | "webp") {
        p.quality = -1;
    }
    p
}

/// Whether `p` (normalised) asks for the image as it is.
fn is_identity(p: &Params) -> bool {
    p.width == 0
        && p.height == 0
        && p.border_width == 0
        && p.border_radius == 0
        && p.opacity >= 1.0
        && p.rotation == 0
        && p.background.is_none()
        && p.quality < 0
}

/// What a preview may cost, in pixels touched: the decoded image once, the output a few times
/// (scaling, the effects, encoding). About a second of CPU on a Worker.
const WORK_BUDGET: u64 = 24_000_000;
/// Renders (cache misses) one client address may ask for per minute.
const RENDERS_PER_MINUTE: u32 = 60;
/// A cached refusal starts with this, which no image format does.
const FAILED: &[u8] = b"\0edgewrite:refused\0";

/// The error a cached refusal stood for (its Appwrite error body).
fn refused(body: &[u8]) -> AppwriteError {
    let json: Json = serde_json::from_slice(body).unwrap_or_default();
    let message = json.get("message").and_then(Json::as_str).unwrap_or_default().to_string();
    match json.get("type").and_then(Json::as_str) {
        Some("storage_image_resolution_exceeded") => {
            AppwriteError::new(ErrorType::StorageImageResolutionExceeded, message)
        }
        _ => AppwriteError::new(ErrorType::StorageFileTypeUnsupported, message),
    }
}

/// Refuses, before any pixel is decoded, a preview whose work passes [`WORK_BUDGET`].
fn within_budget(w: u32, h: u32, p: &Params) -> Result<(), AppwriteError> {
    let (w, h) = (u64::from(w), u64::from(h));
    let (pw, ph) = (u64::from(p.width), u64::from(p.height));
    let (ow, oh) = match (pw, ph) {
        (0, 0) => (w, h),
        (pw, 0) => (pw, h * pw / w.max(1)),
        (0, ph) => (w * ph / h.max(1), ph),
        box_size => box_size,
    };
    let framed = (ow + 2 * u64::from(p.border_width)) * (oh + 2 * u64::from(p.border_width));
    if w * h + 3 * framed > WORK_BUDGET {
        return Err(AppwriteError::new(
            ErrorType::StorageImageResolutionExceeded,
            format!("This preview would take more than this server's budget of {WORK_BUDGET} pixels of work (the image's pixels plus three times the preview's); ask for a smaller one."),
        ));
    }
    Ok(())
}

fn decode(bytes: &[u8], params: &Params) -> Result<DynamicImage, AppwriteError> {
    let unsupported =
        || AppwriteError::new(ErrorType::StorageFileTypeUnsupported, "The image could not be decoded.");
    let reader =
        || image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| unsupported());
    let (w, h) = reader()?.into_dimensions().map_err(|_| unsupported())?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(too_large());
    }
    within_budget(w, h, params)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = reader()?;
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(),
        _ => unsupported(),
    })
}

fn too_large() -> AppwriteError {
    AppwriteError::new(
        ErrorType::StorageImageResolutionExceeded,
        format!("Images of more than {MAX_PIXELS} pixels, or previews of more than {MAX_CANVAS}, cannot be made here."),
    )
}

/// Refuses a canvas past [`MAX_CANVAS`] before it is allocated.
fn canvas(w: u32, h: u32) -> Result<(u32, u32), AppwriteError> {
    if u64::from(w) * u64::from(h) > MAX_CANVAS {
        return Err(too_large());
    }
    Ok((w, h))
}

/// Applies the parameters, in Appwrite's order: crop, border, radius, background, opacity,
/// rotation; then encodes.
fn render(decoded: DynamicImage, p: &Params, output: &str) -> Result<Vec<u8>, AppwriteError> {
    let (w, h) = decoded.dimensions();
    // The decoded image is dropped as soon as the first copy exists.
    let mut img = {
        let image = decoded;
        match (p.width, p.height) {
            (0, 0) => image,
            (width, 0) => image.resize_exact(
                width,
                ((u64::from(h) * u64::from(width)) / u64::from(w).max(1)).max(1) as u32,
                FilterType::Triangle,
            ),
            (0, height) => image.resize_exact(
                ((u64::from(w) * u64::from(height)) / u64::from(h).max(1)).max(1) as u32,
                height,
                FilterType::Triangle,
            ),
            (width, height) => {
                // Cover the box, then cut it out at the gravity.
                let scale = f64::max(f64::from(width) / f64::from(w), f64::from(height) / f64::from(h));
                let (sw, sh) = canvas(
                    ((f64::from(w) * scale).ceil() as u32).max(width),
                    ((f64::from(h) * scale).ceil() as u32).max(height),
                )?;
                let scaled = image.resize_exact(sw, sh, FilterType::Triangle);
                let (dx, dy) = (sw - width, sh - height);
                let x = match p.gravity.as_str() {
                    "top-left" | "left" | "bottom-left" => 0,
                    "top-right" | "right" | "bottom-right" => dx,
                    _ => dx / 2,
                };
                let y = match p.gravity.as_str() {
                    "top-left" | "top" | "top-right" => 0,
                    "bottom-left" | "bottom" | "bottom-right" => dy,
                    _ => dy / 2,
                };
                scaled.crop_imm(x, y, width, height)
            }
        }
        .to_rgba8()
    };
    if p.border_width > 0 {
        let b = p.border_width;
        canvas(img.width() + 2 * b, img.height() + 2 * b)?;
        let mut framed = RgbaImage::from_pixel(img.width() + 2 * b, img.height() + 2 * b, p.border_color);
        image::imageops::overlay(&mut framed, &img, i64::from(b), i64::from(b));
        img = framed;
    }
    if p.border_radius > 0 {
        round_corners(&mut img, p.border_radius);
    }
    if let Some(background) = p.background {
        let mut under = RgbaImage::from_pixel(img.width(), img.height(), background);
        image::imageops::overlay(&mut under, &img, 0, 0);
        img = under;
    }
    if p.opacity < 1.0 {
        for px in img.pixels_mut() {
            px.0[3] = (f64::from(px.0[3]) * p.opacity).round() as u8;
        }
    }
    let rotation = (p.rotation % 360 + 360) % 360;
    if rotation != 0 {
        let (sin, cos) = (rotation as f64).to_radians().sin_cos();
        let (w, h) = (f64::from(img.width()), f64::from(img.height()));
        canvas((w * cos.abs() + h * sin.abs()).ceil() as u32, (w * sin.abs() + h * cos.abs()).ceil() as u32)?;
        img = rotate(&img, rotation as f64, p.background.unwrap_or(Rgba([0, 0, 0, 0])));
    }
    encode(DynamicImage::ImageRgba8(img), output, p.quality)
}

/// Makes the pixels outside rounded corners of `radius` transparent.
fn round_corners(img: &mut RgbaImage, radius: u32) {
    let (w, h) = img.dimensions();
    let r = radius.min(w / 2).min(h / 2);
    if r == 0 {
        return;
    }
    let rf = f64::from(r);
    for y in 0..h {
        for x in 0..w {
            let cx = if x < r {
                r
            } else if x >= w - r {
                w - r - 1
            } else {
                continue;
            };
            let cy = if y < r {
                r
            } else if y >= h - r {
                h - r - 1
            } else {
                continue;
            };
            let (dx, dy) = (f64::from(x) - f64::from(cx), f64::from(y) - f64::from(cy));
            if dx * dx + dy * dy > rf * rf {
                img.get_pixel_mut(x, y).0[3] = 0;
            }
        }
    }
}

/// Rotates clockwise by `degrees`, growing the canvas to hold the result; uncovered pixels take
/// `fill`. Quarter turns are exact.
fn rotate(img: &RgbaImage, degrees: f64, fill: Rgba<u8>) -> RgbaImage {
    match degrees as i64 {
        90 => return image::imageops::rotate90(img),
        180 => return image::imageops::rotate180(img),
        270 => return image::imageops::rotate270(img),
        _ => {}
    }
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (nw, nh) = ((w * cos.abs() + h * sin.abs()).ceil(), (w * sin.abs() + h * cos.abs()).ceil());
    let mut out = RgbaImage::from_pixel(nw as u32, nh as u32, fill);
    let (cx, cy, ncx, ncy) = (w / 2.0, h / 2.0, nw / 2.0, nh / 2.0);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (dx, dy) = (f64::from(x) + 0.5 - ncx, f64::from(y) + 0.5 - ncy);
        // The source pixel that lands here (inverse rotation).
        let (sx, sy) = (dx * cos + dy * sin + cx, -dx * sin + dy * cos + cy);
        if sx >= 0.0 && sy >= 0.0 && sx < w && sy < h {
            *px = *img.get_pixel(sx as u32, sy as u32);
        }
    }
    out
}

fn encode(img: DynamicImage, output: &str, quality: i64) -> Result<Vec<u8>, AppwriteError> {
    let mut out = Cursor::new(Vec::new());
    let failed = |e: image::ImageError| AppwriteError::internal(format!("encoding a preview: {e}"));
    match output {
        "png" => img.write_to(&mut out, ImageFormat::Png).map_err(failed)?,
        "webp" => img.write_to(&mut out, ImageFormat::WebP).map_err(failed)?,
        "gif" => img.write_to(&mut out, ImageFormat::Gif).map_err(failed)?,
        _ => {
            // JPEG has no alpha: transparent pixels come out over white.
            let rgba = img.to_rgba8();
            let mut flat = RgbaImage::from_pixel(rgba.width(), rgba.height(), Rgba([255, 255, 255, 255]));
            image::imageops::overlay(&mut flat, &rgba, 0, 0);
            let rgb = DynamicImage::ImageRgba8(flat).to_rgb8();
            let quality = if quality < 0 { 90 } else { quality.clamp(1, 100) as u8 };
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            rgb.write_with_encoder(encoder).map_err(failed)?;
        }
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            width: 0,
            height: 0,
            gravity: "center".into(),
            quality: -1,
            border_width: 0,
            border_color: Rgba([0, 0, 0, 255]),
            border_radius: 0,
            opacity: 1.0,
            rotation: 0,
            background: None,
            output: String::new(),
        }
    }

    fn sample() -> DynamicImage {
        DynamicImage::ImageRgba8(RgbaImage::from_fn(400, 200, |x, _| Rgba([(x % 256) as u8, 0, 0, 255])))
    }

    #[test]
    fn crops_resize_and_encode_every_format() {
        for output in ["jpg", "png", "webp", "gif"] {
            let p = Params { width: 100, height: 100, ..params() };
            let bytes = render(sample(), &p, output).unwrap();
            let back = image::load_from_memory(&bytes).unwrap();
            assert_eq!(back.dimensions(), (100, 100), "{output}");
        }
        let wide = render(sample(), &Params { width: 200, ..params() }, "png").unwrap();
        assert_eq!(image::load_from_memory(&wide).unwrap().dimensions(), (200, 100), "aspect kept");
        let framed = render(sample(), &Params { border_width: 5, rotation: 90, ..params() }, "png").unwrap();
        assert_eq!(image::load_from_memory(&framed).unwrap().dimensions(), (210, 410));
        let round = render(sample(), &Params { border_radius: 50, opacity: 0.5, ..params() }, "png").unwrap();
        let round = image::load_from_memory(&round).unwrap().to_rgba8();
        assert_eq!(round.get_pixel(0, 0).0[3], 0, "corners cut");
        assert_eq!(round.get_pixel(200, 100).0[3], 128, "half opacity");
        let tilted = render(sample(), &Params { rotation: 45, ..params() }, "png").unwrap();
        assert!(image::load_from_memory(&tilted).unwrap().width() > 400);
    }

    #[test]
    fn spellings_of_one_preview_share_a_cache_entry() {
        let a = normalised(Params { opacity: 0.500_01, rotation: -270, ..params() }, "png");
        let b = normalised(Params { opacity: 0.5, rotation: 90, quality: 77, ..params() }, "png");
        assert_eq!((a.opacity, a.rotation, a.quality), (b.opacity, b.rotation, b.quality));
        let colored = normalised(Params { border_color: Rgba([1, 2, 3, 255]), ..params() }, "jpg");
        assert_eq!(colored.border_color, params().border_color, "no border, no colour");
    }

    #[test]
    fn a_preview_past_the_work_budget_is_refused_before_decoding() {
        let big = Params { width: 3400, height: 3400, ..params() };
        let err = within_budget(3400, 3400, &big).unwrap_err();
        assert_eq!(err.kind, ErrorType::StorageImageResolutionExceeded);
        assert!(within_budget(3400, 3400, &Params { width: 400, height: 300, ..params() }).is_ok());
        assert!(within_budget(4000, 3000, &Params { width: 0, height: 0, ..params() }).is_err());
        assert!(within_budget(2000, 1500, &Params { width: 0, height: 0, ..params() }).is_ok());
    }
}
