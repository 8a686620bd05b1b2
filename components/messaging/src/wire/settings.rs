//! Reading one provider's settings, and keeping its credentials out of error messages.

use serde_json::{Map, Value as Json};

use super::{Kind, ProviderConfig, SendError};

/// The most of a provider's answer an error message quotes.
const QUOTE: usize = 300;

/// Shorter credential values are not scrubbed: replacing every `25` or `us` would garble the
/// quote while protecting nothing worth guessing.
const MIN_SECRET: usize = 3;

/// A provider's settings by Appwrite parameter name, looked up in `credentials` and then in
/// `options` (so a value the store keeps on either side is found).
pub(super) struct Settings<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub label: &'static str,
    pub credentials: &'a Map<String, Json>,
    pub options: &'a Map<String, Json>,
}

impl<'a> Settings<'a> {
    pub fn of(provider: &'a ProviderConfig) -> Settings<'a> {
        Settings::new(&provider.id, provider.kind, &provider.credentials, &provider.options)
    }

    pub fn new(
        id: &'a str,
        kind: Kind,
        credentials: &'a Map<String, Json>,
        options: &'a Map<String, Json>,
    ) -> Settings<'a> {
        Settings { id, kind, label: kind.label(), credentials, options }
    }

    pub fn value(&self, key: &str) -> Option<&'a Json> {
        self.credentials.get(key).or_else(|| self.options.get(key)).filter(|v| !v.is_null())
    }

    /// A string or number setting as text; `None` when absent or blank.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.value(key)? {
            Json::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Like [`Settings::text`], but its absence fails the message for good.
    pub fn required(&self, key: &str) -> Result<String, SendError> {
        self.text(key).ok_or_else(|| SendError::Permanent(format!("{} setting {key} is missing", self.label)))
    }

    /// `true`, `"true"`, `1` and `"1"` are true; anything else, or nothing, is `default`.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        match self.value(key) {
            None => default,
            Some(Json::Bool(b)) => *b,
            Some(Json::Number(n)) => n.as_i64() == Some(1),
            Some(Json::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1"),
            Some(_) => false,
        }
    }

    /// A scrubber that knows every credential value.
    pub fn scrubber(&self) -> Scrubber {
        let mut scrubber = Scrubber::default();
        for value in self.credentials.values() {
            scrubber.add_json(value);
        }
        scrubber
    }

    /// A failure for a setting that is present but unusable; `what` must not quote its value.
    pub fn invalid(&self, key: &str, what: &str) -> SendError {
        SendError::Permanent(format!("{} setting {key} is invalid: {what}", self.label))
    }
}

/// The answer to asking a provider of one message type to send another.
pub(super) fn wrong_type(kind: Kind, wanted: &str) -> SendError {
    SendError::Permanent(format!("{} sends {} messages, not {wanted}", kind.label(), kind.message_type()))
}

/// Replaces known secrets in text that came from outside (a provider's answer, a connection
/// error) and makes it a short printable quote.
#[derive(Debug, Default, Clone)]
pub(super) struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// Adds `secret` and the forms a provider may echo it in (JSON-escaped, form-encoded).
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_SECRET {
            return;
        }
        let json = Json::String(secret.to_string()).to_string();
        let json = json[1..json.len() - 1].to_string();
        let forms = [
            secret.to_string(),
            json.replace('/', "\\/"),
            json,
            form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        ];
        for form in forms {
            if !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        // Longest first, so that a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Adds every string in `value`, and in JSON that a string holds (a service account).
    pub fn add_json(&mut self, value: &Json) {
        match value {
            Json::String(s) => {
                self.add(s);
                if let Ok(inner @ (Json::Object(_) | Json::Array(_))) = serde_json::from_str::<Json>(s) {
                    self.add_json(&inner);
                }
            }
            Json::Array(items) => items.iter().for_each(|v| self.add_json(v)),
            Json::Object(map) => map.values().for_each(|v| self.add_json(v)),
            _ => {}
        }
    }

    /// `text` with secrets replaced by `<redacted>`, control characters removed, whitespace runs
    /// collapsed and at most 300 characters kept.
    pub fn quote(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let words: Vec<&str> = cleaned.split_whitespace().collect();
        let joined = words.join(" ");
        let mut quote: String = joined.chars().take(QUOTE).collect();
        if joined.chars().nth(QUOTE).is_some() {
            quote.push('…');
        }
        quote
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_come_from_credentials_then_options() {
        let credentials = json!({ "apiKey": "k", "port": 2525, "blank": " ", "isEuRegion": "true" });
        let options = json!({ "fromEmail": "a@b.test", "apiKey": "shadowed", "flag": 1 });
        let (Json::Object(c), Json::Object(o)) = (credentials, options) else { unreachable!() };
        let s = Settings::new("p1", Kind::Mailgun, &c, &o);
        assert_eq!(s.text("apiKey").as_deref(), Some("k"));
        assert_eq!(s.text("port").as_deref(), Some("2525"));
        assert_eq!(s.text("fromEmail").as_deref(), Some("a@b.test"));
        assert_eq!(s.text("blank"), None);
        assert!(s.flag("isEuRegion", false) && s.flag("flag", false) && s.flag("absent", true));
        let Err(SendError::Permanent(message)) = s.required("domain") else { panic!() };
        assert_eq!(message, "Mailgun setting domain is missing");
    }

    #[test]
    fn quotes_are_scrubbed_printable_and_bounded() {
        let mut scrubber = Scrubber::default();
        scrubber.add_json(&json!({
            "secretKey": "wJalr/K7MDENG+bP",
            "serviceAccountJSON": "{\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n\"}",
            "port": "25",
        }));
        let quote = scrubber
            .quote("bad key wJalr/K7MDENG+bP or wJalr\\/K7MDENG+bP or wJalr%2FK7MDENG%2BbP\r\n\tat 25");
        assert_eq!(quote, "bad key <redacted> or <redacted> or <redacted> at 25");
        let quote = scrubber.quote("{\"echo\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n\"}");
        assert!(!quote.contains("MIIE"), "{quote}");
        let long = scrubber.quote(&"é".repeat(1000));
        assert_eq!(long.chars().count(), 301);
    }
}
