//! `GET /avatars/initials`: up to two initials, punched out of a coloured square (transparent
//! letters, as Appwrite draws them), in DejaVu Sans.

use ab_glyph_rasterizer::{point, Point, Rasterizer};
use edgewrite_core::{AppwriteError, Ctx, Response};
use image::{DynamicImage, Rgba, RgbaImage};

use crate::image_out::{png, respond, FORTY_FIVE_DAYS};

/// A glyph outline segment, in font units (y up); TrueType outlines have no cubics.
enum Seg {
    M(f32, f32),
    L(f32, f32),
    Q(f32, f32, f32, f32),
    Z,
}

mod font {
    use super::Seg;
    include!(concat!(env!("OUT_DIR"), "/glyphs.rs"));
}

/// Appwrite's palette; a name keeps its colour.
const THEMES: [[u8; 3]; 5] =
    [[0xFD, 0x36, 0x6E], [0xFE, 0x95, 0x67], [0x7C, 0x67, 0xFE], [0x68, 0xA3, 0xFE], [0x85, 0xDB, 0xD8]];

/// The initials of `name` and the index of its colour, by Appwrite's rule: upper-case, split on
/// spaces (or on `_` when there is no space), take each word's first character when it is an
/// ASCII letter or digit, and stop once the second word gave one.
pub fn initials(name: &str) -> (String, usize) {
    let upper = name.to_ascii_uppercase();
    let mut words: Vec<&str> = upper.split(' ').collect();
    if words.len() == 1 {
        words = upper.split('_').collect();
    }
    let (mut out, mut code) = (String::new(), 0u32);
    for (index, word) in words.iter().enumerate() {
        if let Some(&first) = word.as_bytes().first().filter(|b| b.is_ascii_alphanumeric()) {
            out.push(char::from(first));
            code += u32::from(first);
            if index == 1 {
                break;
            }
        }
    }
    let last_digit = (code % 10) as usize;
    (out, last_digit % THEMES.len())
}

/// `#RGB` or `#RRGGBB` without the `#`, as Appwrite's `HexColor` accepts it.
fn hex_color(value: &str) -> Option<[u8; 3]> {
    let digits: Vec<u8> = value.chars().map(|c| c.to_digit(16).map(|d| d as u8)).collect::<Option<_>>()?;
    match digits[..] {
        [r, g, b] => Some([r * 17, g * 17, b * 17]),
        [r1, r2, g1, g2, b1, b2] => Some([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2]),
        _ => None,
    }
}

/// The square: `background` everywhere but the letters, which are transparent. The text is
/// half the smaller side high, centred, its baseline a third of the size below the middle.
pub fn render(text: &str, width: u32, height: u32, background: [u8; 3]) -> RgbaImage {
    let size = width.min(height) as f32 / 2.0;
    let scale = size / font::UNITS_PER_EM;
    let glyphs: Vec<&(u8, f32, &[Seg])> =
        text.bytes().filter_map(|b| font::GLYPHS.iter().find(|(c, _, _)| *c == b)).collect();
    let advance: f32 = glyphs.iter().map(|(_, a, _)| a * scale).sum();
    let mut pen_x = width as f32 / 1.97 - advance / 2.0;
    let baseline = height as f32 / 2.0 + size / 3.0;
    let mut raster = Rasterizer::new(width as usize, height as usize);
    for (_, glyph_advance, outline) in glyphs {
        let at = |x: f32, y: f32| point(pen_x + x * scale, baseline - y * scale);
        let (mut start, mut last): (Point, Point) = (point(0.0, 0.0), point(0.0, 0.0));
        for seg in *outline {
            match *seg {
                Seg::M(x, y) => {
                    start = at(x, y);
                    last = start;
                }
                Seg::L(x, y) => {
                    let p = at(x, y);
                    raster.draw_line(last, p);
                    last = p;
                }
                Seg::Q(x1, y1, x, y) => {
                    let p = at(x, y);
                    raster.draw_quad(last, at(x1, y1), p);
                    last = p;
                }
                Seg::Z => {
                    if last != start {
                        raster.draw_line(last, start);
                    }
                    last = start;
                }
            }
        }
        pen_x += glyph_advance * scale;
    }
    let [r, g, b] = background;
    let mut image = RgbaImage::from_pixel(width, height, Rgba([r, g, b, 255]));
    raster.for_each_pixel_2d(|x, y, coverage| {
        let alpha = (255.0 * (1.0 - coverage.clamp(0.0, 1.0))).round() as u8;
        image.put_pixel(x, y, Rgba([r, g, b, alpha]));
    });
    image
}

/// `name` (at most 128 characters; when empty, the signed-in user's name, else its email),
/// `width` and `height` 1–2000 (500; Appwrite's 0 draws nothing, here it means the default),
/// `background` as hex without `#` (else the name's colour).
pub fn serve(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let mut name = ctx.params.text("name", 128)?.unwrap_or_default();
    let side = |key: &str| -> Result<u32, AppwriteError> {
        Ok(ctx.params.integer(key, 0, 2000)?.filter(|v| *v > 0).unwrap_or(500) as u32)
    };
    let (width, height) = (side("width")?, side("height")?);
    let background = match ctx.params.text("background", 7)?.filter(|b| !b.is_empty()) {
        Some(hex) => Some(hex_color(hex.trim_start_matches('#')).ok_or_else(|| {
            AppwriteError::invalid_param("background", "Value must be a valid hex color code")
        })?),
        None => None,
    };
    if let (true, Some(user)) = (name.is_empty(), ctx.caller.user()) {
        name = if user.name.is_empty() { user.email.clone() } else { user.name.clone() };
    }
    let (text, theme) = initials(&name);
    let image = render(&text, width, height, background.unwrap_or(THEMES[theme]));
    Ok(respond("image/png", FORTY_FIVE_DAYS, png(&DynamicImage::ImageRgba8(image))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_follow_appwrites_rule() {
        assert_eq!(initials("Ada Lovelace").0, "AL");
        assert_eq!(initials("grace brewster hopper").0, "GB");
        assert_eq!(initials("snake_case_name").0, "SC");
        assert_eq!(initials("solo").0, "S");
        // A word that starts with no letter is skipped, and the count only stops at word two.
        assert_eq!(initials("ada !lovelace byron king").0, "ABK");
        assert_eq!(initials("").0, "");
        assert_eq!(initials("Émile Zola").0, "Z");
        // The colour is the last digit of the initials' code points, wrapped to the palette.
        assert_eq!(initials("Ada Lovelace").1, 1, "65 + 76 = 141");
        assert_eq!(initials("Zoe Yu").1, (90 + 89) % 10 % 5);
    }

    #[test]
    fn the_letters_are_punched_out_of_the_background() {
        let image = render("W", 100, 100, [10, 20, 30]);
        assert_eq!(image.dimensions(), (100, 100));
        assert_eq!(image.get_pixel(2, 2).0, [10, 20, 30, 255], "the corner is background");
        let transparent = image.pixels().filter(|p| p.0[3] == 0).count();
        assert!(transparent > 200, "a W at 50 px leaves a hole: {transparent}");
        let blank = render("", 40, 30, [1, 2, 3]);
        assert!(blank.pixels().all(|p| p.0 == [1, 2, 3, 255]));
    }

    #[test]
    fn colours_are_appwrites_hex() {
        assert_eq!(hex_color("fff"), Some([255, 255, 255]));
        assert_eq!(hex_color("FD366E"), Some([0xFD, 0x36, 0x6E]));
        assert_eq!(hex_color("ggg"), None);
        assert_eq!(hex_color("12345"), None);
    }
}
