//! Sizing and encoding shared by every avatar kind.

use edgewrite_core::{AppwriteError, Response};
use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat};

/// The largest side an avatar is drawn at (the routes' own bound).
const MAX_SIDE: u64 = 2000;

/// Appwrite's `crop(width, height)`: cover the box, keeping the aspect ratio, and cut out its
/// centre. A zero side follows the other side's scale (at most 2000); both zero keep the image's
/// size. The cut is made in the source first, so only the box itself is ever resampled, however
/// thin the source.
pub fn cover(image: DynamicImage, width: u32, height: u32) -> DynamicImage {
    let (w, h) = image.dimensions();
    let (w, h) = (u64::from(w.max(1)), u64::from(h.max(1)));
    let side = |v: u64| v.clamp(1, MAX_SIDE) as u32;
    let (width, height) = match (width, height) {
        (0, 0) => return image,
        (width, 0) => (width, side(h * u64::from(width) / w)),
        (0, height) => (side(w * u64::from(height) / h), height),
        sides => sides,
    };
    // The largest centred region of the source with the box's aspect ratio.
    let (bw, bh) = (u64::from(width), u64::from(height));
    let (cw, ch) = if w * bh > h * bw { ((h * bw / bh).max(1), h) } else { (w, (w * bh / bw).max(1)) };
    let cropped = image.crop_imm(((w - cw) / 2) as u32, ((h - ch) / 2) as u32, cw as u32, ch as u32);
    cropped.resize_exact(width, height, FilterType::Triangle)
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
        // A source a pixel wide and very tall is cut before it is scaled: no 40-million-pixel
        // intermediate, and a derived side stays within the routes' bound.
        let thin = DynamicImage::ImageRgba8(RgbaImage::new(1, 20_000));
        assert_eq!(cover(thin.clone(), 2000, 2000).dimensions(), (2000, 2000));
        assert_eq!(cover(thin, 2000, 0).dimensions(), (2000, 2000));
    }
}
