//! Sizing and encoding shared by every avatar kind.

use edgewrite_core::{AppwriteError, Response};
use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat};

/// Appwrite's `crop(width, height)`: cover the box, keeping the aspect ratio, and cut out its
/// centre. A zero side follows the other side's scale; both zero keep the image's size.
pub fn cover(image: DynamicImage, width: u32, height: u32) -> DynamicImage {
    let (w, h) = image.dimensions();
    let (w, h) = (w.max(1), h.max(1));
    let (width, height) = match (width, height) {
        (0, 0) => return image,
        (width, 0) => (width, ((u64::from(h) * u64::from(width)) / u64::from(w)).max(1) as u32),
        (0, height) => (((u64::from(w) * u64::from(height)) / u64::from(h)).max(1) as u32, height),
        sides => sides,
    };
    let scale = f64::max(f64::from(width) / f64::from(w), f64::from(height) / f64::from(h));
    let sw = ((f64::from(w) * scale).ceil() as u32).max(width);
    let sh = ((f64::from(h) * scale).ceil() as u32).max(height);
    let scaled = image.resize_exact(sw, sh, FilterType::Triangle);
    scaled.crop_imm((sw - width) / 2, (sh - height) / 2, width, height)
}

pub fn png(image: &DynamicImage) -> Result<Vec<u8>, AppwriteError> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(AppwriteError::internal)?;
    Ok(out.into_inner())
}

/// An image answer with Appwrite's caching (`max_age` seconds, private).
pub fn respond(content_type: &str, max_age: u32, body: Vec<u8>) -> Response {
    let mut response = Response::new(200);
    response.headers.set("content-type", content_type);
    response.headers.set("cache-control", format!("private, max-age={max_age}"));
    response.body = body;
    response
}

/// 30 days, as Appwrite caches icons and remote images.
pub const THIRTY_DAYS: u32 = 2_592_000;
/// 45 days, as Appwrite caches initials and QR codes.
pub const FORTY_FIVE_DAYS: u32 = 3_888_000;

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbaImage;

    #[test]
    fn cover_fills_the_box_from_the_centre_and_zero_follows_the_aspect() {
        let wide = DynamicImage::ImageRgba8(RgbaImage::new(200, 100));
        assert_eq!(cover(wide.clone(), 50, 50).dimensions(), (50, 50));
        assert_eq!(cover(wide.clone(), 100, 0).dimensions(), (100, 50));
        assert_eq!(cover(wide.clone(), 0, 20).dimensions(), (40, 20));
        assert_eq!(cover(wide.clone(), 0, 0).dimensions(), (200, 100));
        assert_eq!(cover(wide, 1000, 1).dimensions(), (1000, 1));
    }
}
