//! `GET /avatars/qr`: a QR code from the `qrcode` crate, rendered to PNG.

use edgewrite_core::{AppwriteError, Ctx, Response};
use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode};

use crate::image_out::{respond, FORTY_FIVE_DAYS};

/// `GET /avatars/qr`: `text` (at most 512 characters), `size` 1–1000 (400), `margin` 0–10
/// modules of quiet zone (1), `download` for an attachment.
pub fn serve(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let text = ctx.params.required_text("text", 512)?;
    if text.is_empty() {
        return Err(AppwriteError::invalid_param(
            "text",
            "Value must be a valid string and at least 1 chars and no longer than 512 chars",
        ));
    }
    let size = ctx.params.integer("size", 1, 1000)?.unwrap_or(400) as u32;
    let margin = ctx.params.integer("margin", 0, 10)?.unwrap_or(1) as u32;
    let download = ctx.params.boolean("download")?.unwrap_or(false);
    let png = qr_png(&text, size, margin)?;
    let mut response = respond("image/png", FORTY_FIVE_DAYS, png);
    if download {
        response.headers.set("content-disposition", "attachment; filename=\"qr.png\"");
    }
    Ok(response)
}

/// The QR code of `text` as a `size`×`size` black-on-white PNG with `margin` modules of quiet
/// zone, each module scaled to the nearest pixels.
fn qr_png(text: &str, size: u32, margin: u32) -> Result<Vec<u8>, AppwriteError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| AppwriteError::invalid_param("text", &format!("Value cannot be a QR code: {e}")))?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let total = modules + 2 * margin;
    let image = GrayImage::from_fn(size, size, |x, y| {
        let (mx, my) = (x * total / size, y * total / size);
        let dark = mx >= margin
            && my >= margin
            && mx < margin + modules
            && my < margin + modules
            && colors[((my - margin) * modules + (mx - margin)) as usize] == Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(AppwriteError::internal)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_is_a_png_of_the_asked_size_with_its_quiet_zone() {
        let png = qr_png("https://edgewrite.test", 200, 2).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(image.dimensions(), (200, 200));
        assert_eq!(image.get_pixel(0, 0).0, [255], "the quiet zone is white");
        // The finder pattern's corner starts right after the quiet zone.
        let modules = QrCode::with_error_correction_level(b"https://edgewrite.test", EcLevel::M)
            .unwrap()
            .width() as u32;
        let edge = 2 * 200 / (modules + 4) + 1;
        assert_eq!(image.get_pixel(edge, edge).0, [0]);
        assert_ne!(png, qr_png("https://other.test", 200, 2).unwrap());
    }
}
