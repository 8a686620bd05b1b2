//! Generates, into `OUT_DIR`:
//! - `icons.rs`: the icon sets (`icons/index.tsv`, made by `tools/avatar-icons`) as one table of
//!   `(set, code, png bytes)`, so the Worker carries the images and nothing reads a file at run time;
//! - `glyphs.rs`: the outlines of `A`–`Z` and `0`–`9` from DejaVu Sans (the `dejavu` crate), the
//!   only characters initials are made of, so the font itself stays out of the binary.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    icons(Path::new(&manifest), Path::new(&out));
    glyphs(Path::new(&out));
}

fn icons(manifest: &Path, out: &Path) {
    let index = manifest.join("icons/index.tsv");
    println!("cargo:rerun-if-changed={}", index.display());
    let text = std::fs::read_to_string(&index).expect("icons/index.tsv");
    let mut code = String::from("pub static ICONS: &[(&str, &str, &[u8])] = &[\n");
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [set, key, file] = fields[..] else { panic!("icons/index.tsv: bad line {line:?}") };
        let path = manifest.join("icons").join(file);
        assert!(path.is_file(), "icons/index.tsv names a missing file: {file}");
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(code, "    ({set:?}, {key:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("icons.rs"), code).expect("write icons.rs");
}

/// Collects one glyph's outline as segments in font units.
struct Outline(String);

impl ttf_parser::OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        write!(self.0, "Seg::M({x:.1}, {y:.1}), ").unwrap();
    }
    fn line_to(&mut self, x: f32, y: f32) {
        write!(self.0, "Seg::L({x:.1}, {y:.1}), ").unwrap();
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        write!(self.0, "Seg::Q({x1:.1}, {y1:.1}, {x:.1}, {y:.1}), ").unwrap();
    }
    fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {
        panic!("DejaVu Sans is a TrueType font: its outlines are quadratic");
    }
    fn close(&mut self) {
        self.0.push_str("Seg::Z, ");
    }
}

fn glyphs(out: &Path) {
    let face = ttf_parser::Face::parse(dejavu::sans::regular(), 0).expect("DejaVu Sans parses");
    let mut code = format!("pub const UNITS_PER_EM: f32 = {}.0;\n", face.units_per_em());
    code.push_str("pub static GLYPHS: &[(u8, f32, &[Seg])] = &[\n");
    for c in ('A'..='Z').chain('0'..='9') {
        let id = face.glyph_index(c).unwrap_or_else(|| panic!("DejaVu Sans has no {c}"));
        let advance = face.glyph_hor_advance(id).expect("advance");
        let mut outline = Outline(String::new());
        face.outline_glyph(id, &mut outline);
        writeln!(code, "    ({}, {advance}.0, &[{}]),", c as u8, outline.0).unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("glyphs.rs"), code).expect("write glyphs.rs");
}
