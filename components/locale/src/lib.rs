//! Appwrite's Locale API (`/v1/locale…`): the caller's country, continent, EU membership and
//! currency, and the lists a sign-up form needs (countries, EU countries, calling codes,
//! continents, currencies, languages, locale codes). Country names come in the
//! `X-Appwrite-Locale` language when the data has it, else in English. The data is built from
//! data packages at build time (`build.rs`); these routes read no project state, so the Worker
//! answers them without a crossing.
//!
//! ```
//! assert_eq!(edgewrite_locale::country("DE").map(|c| c.continent), Some("EU"));
//! assert_eq!(edgewrite_locale::country_name("de", "DE"), Some("Deutschland"));
//! ```

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};
use serde_json::{json, Value as Json};

mod data {
    include!(concat!(env!("OUT_DIR"), "/locale_data.rs"));
}

/// What the data says of a country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    /// Appwrite's continent code (`AF`, `AN`, `AS`, `EU`, `NA`, `OC`, `SA`).
    pub continent: &'static str,
    /// The calling code without `+` (the area code too for NANP members, as Appwrite lists them).
    pub phone: &'static str,
    pub currency: &'static str,
    pub eu: bool,
}

fn countries() -> impl Iterator<Item = Country> {
    data::COUNTRIES.iter().map(|&(code, continent, phone, currency, eu)| Country {
        code,
        continent,
        phone,
        currency,
        eu,
    })
}

/// Where the country with this ISO 3166-1 alpha-2 code (any case) stands in the data.
fn index_of(code: &str) -> Option<usize> {
    let code = code.to_ascii_uppercase();
    data::COUNTRIES.binary_search_by(|c| c.0.cmp(code.as_str())).ok()
}

/// The country with this ISO 3166-1 alpha-2 code (any case).
pub fn country(code: &str) -> Option<Country> {
    countries().nth(index_of(code)?)
}

/// Country names in one language.
struct Names {
    english: Vec<&'static str>,
    /// Empty entries: the English name serves.
    translated: Vec<&'static str>,
}

impl Names {
    /// The names for `locale` (`X-Appwrite-Locale`: `de`, `pt-BR`, `sr_Latn` …): that locale's,
    /// else its language's, else English.
    fn of(locale: &str) -> Names {
        let english = data::ENGLISH_NAMES.split('\n').collect();
        let translated = language_names(locale).map(|names| names.split('\n').collect()).unwrap_or_default();
        Names { english, translated }
    }

    fn get(&self, index: usize) -> &'static str {
        match self.translated.get(index) {
            Some(name) if !name.is_empty() => name,
            _ => self.english.get(index).copied().unwrap_or_default(),
        }
    }
}

fn language_names(locale: &str) -> Option<&'static str> {
    let wanted = locale.trim().to_ascii_lowercase().replace('_', "-");
    let find = |code: &str| data::TRANSLATED_NAMES.iter().find(|(c, _)| *c == code).map(|(_, names)| *names);
    find(&wanted).or_else(|| find(wanted.split('-').next().unwrap_or_default()))
}

/// `code`'s name in `locale` (English when the data has no name in that language).
pub fn country_name(locale: &str, code: &str) -> Option<&'static str> {
    let index = index_of(code)?;
    let translated = language_names(locale).and_then(|names| names.split('\n').nth(index));
    translated.filter(|name| !name.is_empty()).or_else(|| data::ENGLISH_NAMES.split('\n').nth(index))
}

/// `code`'s English name, reading only the English names (a binary that never asks for another
/// language carries no other).
pub fn english_country_name(code: &str) -> Option<&'static str> {
    data::ENGLISH_NAMES.split('\n').nth(index_of(code)?)
}

/// The locale a request asks for (`X-Appwrite-Locale`, else the `locale` query parameter).
fn locale_of(ctx: &Ctx<'_>) -> String {
    ctx.request
        .header("x-appwrite-locale")
        .map(str::to_string)
        .or_else(|| ctx.params.text("locale", 16).ok().flatten())
        .unwrap_or_else(|| "en".to_string())
}

/// The Locale capability.
pub struct Locale;

const fn route(path: &'static str, name: &'static str) -> Route {
    Route { method: Method::Get, path, scope: Some("locale.read"), needs_project: false, name }
}

static ROUTES: &[Route] = &[
    route("/v1/locale", "locale.get"),
    route("/v1/locale/codes", "locale.codes"),
    route("/v1/locale/continents", "locale.continents"),
    route("/v1/locale/countries", "locale.countries"),
    route("/v1/locale/countries/eu", "locale.countries.eu"),
    route("/v1/locale/countries/phones", "locale.countries.phones"),
    route("/v1/locale/currencies", "locale.currencies"),
    route("/v1/locale/languages", "locale.languages"),
    // The data set's counts, for the end-to-end tests (`EDGEWRITE_TEST_ROUTES=1` only).
    Route {
        method: Method::Get,
        path: "/v1/__edgewrite/locale-counts",
        scope: None,
        needs_project: false,
        name: "locale.counts",
    },
];

#[async_trait(?Send)]
impl Capability for Locale {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        let locale = locale_of(ctx);
        let body = match route.name {
            "locale.get" => get(ctx, &locale),
            "locale.codes" => list("localeCodes", codes()),
            "locale.continents" => list("continents", continents()),
            "locale.countries" => list("countries", country_list(&locale, |_| true)),
            "locale.countries.eu" => list("countries", country_list(&locale, |c| c.eu)),
            "locale.countries.phones" => list("phones", phones(&locale)),
            "locale.currencies" => list("currencies", currencies()),
            "locale.languages" => list("languages", languages()),
            "locale.counts" if ctx.config.test_routes => json!({
                "countries": data::COUNTRIES.len(),
                "phones": phones("en").len(),
                "currencies": data::CURRENCIES.len(),
                "languages": data::LANGUAGES.len(),
                "codes": codes().len(),
            }),
            _ => return Err(ErrorType::GeneralRouteNotFound.into()),
        };
        Ok(Response::json(200, &body))
    }
}

fn list(key: &str, items: Vec<Json>) -> Json {
    json!({"total": items.len(), key: items})
}

/// `GET /locale`: Appwrite's answer for an address it cannot place is `--` and "Unknown".
fn get(ctx: &Ctx<'_>, locale: &str) -> Json {
    let found = country(&ctx.request.country);
    let continent = found.and_then(|c| data::CONTINENTS.iter().find(|(code, _)| *code == c.continent));
    json!({
        "ip": ctx.request.client_ip,
        "countryCode": found.map_or("--", |c| c.code),
        "country": found.and_then(|c| country_name(locale, c.code)).unwrap_or("Unknown"),
        "continentCode": continent.map_or("--", |c| c.0),
        "continent": continent.map_or("Unknown", |c| c.1),
        "eu": found.is_some_and(|c| c.eu),
        "currency": found.map_or("", |c| c.currency),
    })
}

/// Sorted by name as Appwrite sorts them (byte order).
fn country_list(locale: &str, keep: impl Fn(&Country) -> bool) -> Vec<Json> {
    let names = Names::of(locale);
    let mut out: Vec<(&str, &str)> =
        countries().enumerate().filter(|(_, c)| keep(c)).map(|(i, c)| (names.get(i), c.code)).collect();
    out.sort();
    out.into_iter().map(|(name, code)| json!({"name": name, "code": code})).collect()
}

/// By calling code, as numbers (Appwrite's `asort`), then by country.
fn phones(locale: &str) -> Vec<Json> {
    let names = Names::of(locale);
    let mut out: Vec<(u64, &str, &str, &str)> = countries()
        .enumerate()
        .filter(|(_, c)| !c.phone.is_empty() && c.phone != "0")
        .map(|(i, c)| (c.phone.parse().unwrap_or(u64::MAX), c.phone, c.code, names.get(i)))
        .collect();
    out.sort();
    out.into_iter()
        .map(|(_, phone, code, name)| json!({"code": format!("+{phone}"), "countryCode": code, "countryName": name}))
        .collect()
}

fn continents() -> Vec<Json> {
    let mut out: Vec<(&str, &str)> = data::CONTINENTS.iter().map(|(code, name)| (*name, *code)).collect();
    out.sort();
    out.into_iter().map(|(name, code)| json!({"name": name, "code": code})).collect()
}

/// ISO 4217's names are singular; its data has one symbol per currency, which serves as the
/// native one too, and no cash rounding.
fn currencies() -> Vec<Json> {
    data::CURRENCIES
        .iter()
        .map(|(code, name, symbol, digits)| {
            json!({
                "symbol": symbol,
                "name": name,
                "symbolNative": symbol,
                "decimalDigits": digits,
                "rounding": 0.0,
                "code": code,
                "namePlural": name,
            })
        })
        .collect()
}

fn languages() -> Vec<Json> {
    data::LANGUAGES
        .iter()
        .map(|(code, name, native)| json!({"name": name, "code": code, "nativeName": native}))
        .collect()
}

/// The locales country names come in: English and every language of the data, named in English
/// (`sr-latn`: "Serbian (Latin)").
fn codes() -> Vec<Json> {
    let language = |code: &str| data::LANGUAGES.iter().find(|(c, _, _)| *c == code).map(|(_, name, _)| *name);
    let mut out = vec![json!({"code": "en", "name": "English"})];
    for (code, _) in data::TRANSLATED_NAMES {
        let (base, qualifier) = code.split_once('-').unwrap_or((code, ""));
        let Some(base_name) = language(base) else { continue };
        let name = match qualifier {
            "" => base_name.to_string(),
            "latn" => format!("{base_name} (Latin)"),
            "hans" => format!("{base_name} (Simplified)"),
            "hant" => format!("{base_name} (Traditional)"),
            region => match country(region).and_then(|c| country_name("en", c.code)) {
                Some(place) => format!("{base_name} ({place})"),
                None => format!("{base_name} ({})", region.to_ascii_uppercase()),
            },
        };
        out.push(json!({"code": code, "name": name}));
    }
    out.sort_by(|a, b| a["code"].as_str().cmp(&b["code"].as_str()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_covers_the_world() {
        assert!(data::COUNTRIES.len() >= 240, "{}", data::COUNTRIES.len());
        assert!(data::COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0), "sorted by code");
        assert_eq!(countries().filter(|c| c.eu).count(), 27);
        assert_eq!(data::CONTINENTS.len(), 7);
        assert!(data::CURRENCIES.len() >= 150 && data::CURRENCIES.iter().any(|c| c.0 == "EUR"));
        assert!(data::LANGUAGES.len() >= 180);
        assert!(data::TRANSLATED_NAMES.len() >= 50, "{}", data::TRANSLATED_NAMES.len());
    }

    #[test]
    fn a_country_knows_its_continent_code_currency_and_union() {
        let us = country("us").unwrap();
        assert_eq!((us.continent, us.phone, us.currency, us.eu), ("NA", "1", "USD", false));
        let fr = country("FR").unwrap();
        assert_eq!((fr.continent, fr.phone, fr.currency, fr.eu), ("EU", "33", "EUR", true));
        assert_eq!(country("AG").unwrap().phone, "1268", "NANP members have their area code");
        assert_eq!(country("AU").unwrap().continent, "OC");
        assert_eq!(country("ZZ"), None);
    }

    #[test]
    fn names_come_in_the_locale_its_language_or_english() {
        assert_eq!(country_name("en", "DE"), Some("Germany"));
        assert_eq!(country_name("fr", "DE"), Some("Allemagne"));
        assert_eq!(country_name("fr-CA", "DE"), Some("Allemagne"));
        assert_eq!(country_name("xx", "DE"), Some("Germany"));
        assert_eq!(country_name("de", "ZZ"), None);
        assert_eq!(english_country_name("fr"), Some("France"));
        assert_eq!(english_country_name("--"), None);
    }

    #[test]
    fn lists_are_sorted_as_appwrite_sorts_them() {
        let names: Vec<String> =
            country_list("en", |_| true).iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let phones = phones("en");
        assert_eq!(phones[0]["code"], "+1");
        let codes: Vec<u64> =
            phones.iter().map(|p| p["code"].as_str().unwrap()[1..].parse().unwrap()).collect();
        assert!(codes.windows(2).all(|w| w[0] <= w[1]));
        assert!(codes_list_has("en") && codes_list_has("de"));
    }

    fn codes_list_has(code: &str) -> bool {
        codes().iter().any(|c| c["code"] == code)
    }
}
