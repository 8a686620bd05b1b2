//! `flags/{code}`, `browsers/{code}`, `credit-cards/{code}`: icons from permissively licensed
//! packages (`icons/NOTICE.md`), sized like Appwrite's (`crop`) and answered as PNG.

use edgewrite_core::{AppwriteError, Ctx, Response};

use crate::image_out::{cover, png, respond, THIRTY_DAYS};

mod table {
    include!(concat!(env!("OUT_DIR"), "/icons.rs"));
}

/// The icon sets, as their routes name them.
#[derive(Clone, Copy)]
pub enum Set {
    Flags,
    Browsers,
    CreditCards,
}

impl Set {
    fn name(self) -> &'static str {
        match self {
            Set::Flags => "flags",
            Set::Browsers => "browsers",
            Set::CreditCards => "credit-cards",
        }
    }
}

/// The codes of a set, in the table's order.
pub fn codes(set: Set) -> impl Iterator<Item = &'static str> {
    table::ICONS.iter().filter(move |(s, _, _)| *s == set.name()).map(|(_, code, _)| *code)
}

/// The PNG of a code, if the set has it (codes are lower-case, as Appwrite lower-cases them).
pub fn icon(set: Set, code: &str) -> Option<&'static [u8]> {
    let code = code.to_ascii_lowercase();
    table::ICONS.iter().find(|(s, c, _)| *s == set.name() && *c == code).map(|(_, _, png)| *png)
}

/// `GET /avatars/{set}/{code}`: `width` and `height` 0–2000 (100), `quality` -1–100 (PNG keeps
/// every pixel, so it only bounds the parameter, as in Appwrite).
pub fn serve(ctx: &Ctx<'_>, set: Set) -> Result<Response, AppwriteError> {
    let code = ctx.params.path("code").unwrap_or_default();
    let Some(source) = icon(set, code) else {
        let allowed = codes(set).collect::<Vec<_>>().join(", ");
        return Err(AppwriteError::invalid_param("code", &format!("Value must be one of ({allowed})")));
    };
    let width = ctx.params.integer("width", 0, 2000)?.unwrap_or(100) as u32;
    let height = ctx.params.integer("height", 0, 2000)?.unwrap_or(100) as u32;
    ctx.params.integer("quality", -1, 100)?;
    let decoded = image::load_from_memory_with_format(source, image::ImageFormat::Png)
        .map_err(AppwriteError::internal)?;
    Ok(respond("image/png", THIRTY_DAYS, png(&cover(decoded, width, height))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_has_appwrites_codes_and_each_icon_decodes() {
        assert_eq!(codes(Set::Flags).count(), 195);
        assert_eq!(codes(Set::Browsers).count(), 14);
        assert_eq!(codes(Set::CreditCards).count(), 17);
        for (set, code) in [(Set::Flags, "US"), (Set::Browsers, "ch"), (Set::CreditCards, "targeta-shopping")]
        {
            let png = icon(set, code).unwrap();
            assert!(image::load_from_memory(png).is_ok(), "{code}");
        }
        assert!(icon(Set::Flags, "xx").is_none());
        assert!(icon(Set::Flags, "../flags/us").is_none());
    }
}
