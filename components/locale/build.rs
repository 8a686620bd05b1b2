//! Builds the locale data from well-kept packages, none of it typed here: countries, their
//! names in every language the `keshvar` crate (BSD-3-Clause; the data of Ruby's `countries`
//! gem, CLDR names) translates them to, their continent, calling code, currency and EU
//! membership; currencies from `iso_currency` (MIT; ISO 4217); languages with their own names
//! from `isolang` (Apache-2.0; ISO 639). The result, `$OUT_DIR/locale_data.rs`, holds plain
//! static tables; the crates themselves stay out of the binary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use keshvar::{Continent, CountryIterator};

/// Appwrite's continent codes (`continents.php`) for `keshvar`'s continents, with the English
/// names Appwrite's `en` translation gives them.
fn continent(c: Continent) -> (&'static str, &'static str) {
    match c {
        Continent::Africa => ("AF", "Africa"),
        Continent::Antarctica => ("AN", "Antarctica"),
        Continent::Asia => ("AS", "Asia"),
        Continent::Australia => ("OC", "Oceania"),
        Continent::Europe => ("EU", "Europe"),
        Continent::NorthAmerica => ("NA", "North America"),
        Continent::SouthAmerica => ("SA", "South America"),
    }
}

/// The locales Appwrite 1.9.6 ships translations for (`app/config/locale/translations`): country
/// names are kept for the languages among them, so the Worker carries no more than an Appwrite
/// app can ask for.
const APPWRITE_LOCALES: &[&str] = &[
    "af", "ar-ma", "ar", "as", "az", "be", "bg", "bh", "bn", "bs", "ca", "cs", "da", "de", "el", "en", "eo",
    "es", "fa", "fi", "fo", "fr", "ga", "gu", "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja", "jv",
    "km", "kn", "ko", "la", "lb", "lt", "lv", "ml", "mr", "ms", "nb", "ne", "nl", "nn", "or", "pa", "pl",
    "pt-br", "pt-pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "sq", "sv", "ta", "te", "th", "tl",
    "tr", "uk", "ur", "vi", "zh-cn", "zh-tw",
];

/// A Rust string literal.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut countries: Vec<keshvar::Country> = CountryIterator::new().collect();
    countries.sort_by_key(|c| c.alpha2().to_string());
    let mut out = String::new();

    // Countries: code, continent, calling code (the NANP area code where there is one, as
    // Appwrite lists it), currency, EU membership.
    out.push_str("/// (code, continent code, calling code, currency code, EU member), by code.\n");
    out.push_str("pub static COUNTRIES: &[(&str, &str, &str, &str, bool)] = &[\n");
    for c in &countries {
        let phone =
            c.maybe_nanp_prefix().map(|p| p.replace(' ', "")).unwrap_or_else(|| c.country_code().to_string());
        writeln!(
            out,
            "    ({}, {}, {}, {}, {}),",
            lit(&c.alpha2().to_string()),
            lit(continent(c.continent()).0),
            lit(&phone),
            lit(&c.currency_code().to_string()),
            // The member states (keshvar also marks their outermost regions, such as Réunion).
            c.eu_member() && c.un_member()
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    // Names per language: one string per language, the countries' names in COUNTRIES' order
    // joined by '\n'; a language's name that is the English one is left empty.
    let mut languages: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in &countries {
        for lang in c.translations().keys() {
            if APPWRITE_LOCALES.iter().any(|l| l.split('-').next() == Some(*lang)) {
                languages.entry(lang).or_default();
            }
        }
    }
    let english: Vec<&str> =
        countries.iter().map(|c| c.translations().get("en").copied().unwrap_or(c.iso_short_name())).collect();
    out.push_str("/// English names, in COUNTRIES' order, joined by '\\n'.\n");
    writeln!(out, "pub static ENGLISH_NAMES: &str = {};\n", lit(&english.join("\n"))).unwrap();
    out.push_str(
        "/// (language, names in COUNTRIES' order joined by '\\n'; empty where the English one serves).\n",
    );
    out.push_str("pub static TRANSLATED_NAMES: &[(&str, &str)] = &[\n");
    for lang in languages.keys().filter(|l| **l != "en") {
        let names: Vec<&str> = countries
            .iter()
            .zip(&english)
            .map(|(c, en)| c.translations().get(lang).copied().filter(|n| n != en).unwrap_or(""))
            .collect();
        writeln!(
            out,
            "    ({}, {}),",
            lit(&lang.to_ascii_lowercase().replace('_', "-")),
            lit(&names.join("\n"))
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    // Continents, by code.
    let mut continents: Vec<(&str, &str)> = countries.iter().map(|c| continent(c.continent())).collect();
    continents.sort();
    continents.dedup();
    out.push_str("/// (code, English name), by code.\n");
    out.push_str("pub static CONTINENTS: &[(&str, &str)] = &[\n");
    for (code, name) in continents {
        writeln!(out, "    ({}, {}),", lit(code), lit(name)).unwrap();
    }
    out.push_str("];\n\n");

    // Currencies (ISO 4217 with a symbol and its minor unit's digits), by code.
    out.push_str("/// (code, name, symbol, decimal digits), by code.\n");
    out.push_str("pub static CURRENCIES: &[(&str, &str, &str, u8)] = &[\n");
    // Money people pay with: no funds, no special units (gold, SDR), none superseded.
    let mut currencies: Vec<iso_currency::Currency> =
        <iso_currency::Currency as iso_currency::IntoEnumIterator>::iter()
            .filter(|c| c.flags().is_empty() && c.exponent().is_some())
            .collect();
    currencies.sort_by_key(|c| c.code());
    for c in currencies {
        let symbol = c.symbol().symbol;
        writeln!(
            out,
            "    ({}, {}, {}, {}),",
            lit(c.code()),
            lit(c.name()),
            lit(&symbol),
            c.exponent().unwrap_or(0)
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    // Languages with an ISO 639-1 code: English name and the language's own.
    let mut langs: Vec<(String, String, String)> = isolang::languages()
        .filter_map(|l| {
            let code = l.to_639_1()?;
            Some((
                code.to_string(),
                l.to_name().to_string(),
                l.to_autonym().unwrap_or(l.to_name()).to_string(),
            ))
        })
        .collect();
    langs.sort();
    out.push_str("/// (ISO 639-1 code, English name, own name), by code.\n");
    out.push_str("pub static LANGUAGES: &[(&str, &str, &str)] = &[\n");
    for (code, name, native) in langs {
        writeln!(out, "    ({}, {}, {}),", lit(&code), lit(&name), lit(&native)).unwrap();
    }
    out.push_str("];\n");

    let path =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("locale_data.rs");
    std::fs::write(path, out).expect("writing locale_data.rs");
}
