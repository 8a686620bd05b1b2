//! Mail and SMS settings from deployment variables (wrangler vars/secrets, Spin variables).
//!
//! Blank values count as unset: deployment tools often define a variable with an empty value
//! rather than leaving it out. Values are trimmed, except passwords, keys and tokens.

use std::fmt;

use edgewrite_core::ports::Secrets;
use thiserror::Error;

/// A deployment variable is missing or malformed. The message names the variable, never a
/// secret's value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("deployment variable {0} is required")]
    Missing(&'static str),
    #[error("deployment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

const MAIL_FROM: &str = "EDGEWRITE_MAIL_FROM";
const MAIL_FROM_NAME: &str = "EDGEWRITE_MAIL_FROM_NAME";
const MAIL_REPLY_TO: &str = "EDGEWRITE_MAIL_REPLY_TO";
const SMTP_HOST: &str = "EDGEWRITE_SMTP_HOST";
const SMTP_PORT: &str = "EDGEWRITE_SMTP_PORT";
const SMTP_SECURE: &str = "EDGEWRITE_SMTP_SECURE";
const SMTP_USERNAME: &str = "EDGEWRITE_SMTP_USERNAME";
const SMTP_PASSWORD: &str = "EDGEWRITE_SMTP_PASSWORD";
const MAIL_API: &str = "EDGEWRITE_MAIL_API";
const MAIL_API_KEY: &str = "EDGEWRITE_MAIL_API_KEY";
const MAIL_API_URL: &str = "EDGEWRITE_MAIL_API_URL";
const MAILGUN_DOMAIN: &str = "EDGEWRITE_MAILGUN_DOMAIN";
const SMS_PROVIDER: &str = "EDGEWRITE_SMS_PROVIDER";
const SMS_FROM: &str = "EDGEWRITE_SMS_FROM";
const SMS_ACCOUNT: &str = "EDGEWRITE_SMS_ACCOUNT";
const SMS_TOKEN: &str = "EDGEWRITE_SMS_TOKEN";
const SMS_API_URL: &str = "EDGEWRITE_SMS_API_URL";

/// Where mail goes and who it is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The sender address (`EDGEWRITE_MAIL_FROM`), also the SMTP envelope sender.
    pub from: String,
    /// The sender's display name; empty for none.
    pub from_name: String,
    pub reply_to: Option<String>,
    pub transport: Transport,
}

/// How mail leaves: an SMTP relay or a provider's HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Smtp(SmtpSettings),
    Api(ApiSettings),
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain at first, then `STARTTLS`, which the server must offer.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No TLS at all: local relays and tests only.
    None,
    /// `STARTTLS` when the server offers it, else plain (Appwrite's `autoTLS` over an
    /// unencrypted connection). An attacker on the path can strip the offer.
    StartTlsIfOffered,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// `AUTH` happens only when a username is set.
    pub username: Option<String>,
    pub password: String,
}

// Hand-written so that a logged settings value never shows the password.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The mail provider behind [`ApiSettings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailApi {
    Resend,
    Mailgun { domain: String },
    SendGrid,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub api: MailApi,
    pub key: String,
    /// Scheme and host (and optional path prefix) without a trailing slash.
    pub base_url: String,
}

impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSettings")
            .field("api", &self.api)
            .field("key", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl MailSettings {
    /// Reads the mail variables; `Ok(None)` when neither `EDGEWRITE_SMTP_HOST` nor
    /// `EDGEWRITE_MAIL_API` is set (mail is not configured, Appwrite's `general_smtp_disabled`).
    ///
    /// ```
    /// # use edgewrite_core::ports::Secrets;
    /// struct NoVars;
    /// impl Secrets for NoVars { fn get(&self, _: &str) -> Option<String> { None } }
    /// assert_eq!(edgewrite_mail::MailSettings::from_secrets(&NoVars), Ok(None));
    /// ```
    pub fn from_secrets(secrets: &dyn Secrets) -> Result<Option<MailSettings>, ConfigError> {
        let vars = Vars(secrets);
        let transport = match (vars.get(SMTP_HOST), vars.get(MAIL_API)) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(
                    MAIL_API,
                    format!("set either {SMTP_HOST} or {MAIL_API}, not both"),
                ))
            }
            (Some(host), None) => Transport::Smtp(smtp_settings(&vars, host)?),
            (None, Some(api)) => Transport::Api(api_settings(&vars, &api)?),
        };
        let from = vars.require(MAIL_FROM)?;
        check_address(MAIL_FROM, &from)?;
        let from_name = vars.get(MAIL_FROM_NAME).unwrap_or_default();
        check_line(MAIL_FROM_NAME, &from_name)?;
        let reply_to = vars.get(MAIL_REPLY_TO);
        if let Some(reply_to) = &reply_to {
            check_address(MAIL_REPLY_TO, reply_to)?;
        }
        Ok(Some(MailSettings { from, from_name, reply_to, transport }))
    }
}

fn smtp_settings(vars: &Vars, host: String) -> Result<SmtpSettings, ConfigError> {
    if host.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/') {
        return Err(ConfigError::Invalid(SMTP_HOST, format!("{host:?} is not a host name")));
    }
    let security = match vars.get(SMTP_SECURE).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("starttls") => SmtpSecurity::StartTls,
        Some("tls") => SmtpSecurity::Tls,
        Some("none") => SmtpSecurity::None,
        Some(other) => {
            return Err(ConfigError::Invalid(SMTP_SECURE, format!("{other:?} is not starttls, tls or none")))
        }
    };
    let port = match vars.get(SMTP_PORT) {
        None => match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None | SmtpSecurity::StartTlsIfOffered => 25,
        },
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(ConfigError::Invalid(SMTP_PORT, format!("{port:?} is not a TCP port"))),
        },
    };
    let username = vars.get(SMTP_USERNAME);
    let password = vars.secret(SMTP_PASSWORD).unwrap_or_default();
    Ok(SmtpSettings { host, port, security, username, password })
}

fn api_settings(vars: &Vars, api: &str) -> Result<ApiSettings, ConfigError> {
    let (api, default_url) = match api.to_ascii_lowercase().as_str() {
        "resend" => (MailApi::Resend, "https://api.resend.com"),
        "sendgrid" => (MailApi::SendGrid, "https://api.sendgrid.com"),
        "mailgun" => {
            let domain = vars.require(MAILGUN_DOMAIN)?;
            if !domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
                return Err(ConfigError::Invalid(MAILGUN_DOMAIN, format!("{domain:?} is not a domain")));
            }
            (MailApi::Mailgun { domain }, "https://api.mailgun.net")
        }
        other => {
            return Err(ConfigError::Invalid(
                MAIL_API,
                format!("{other:?} is not resend, mailgun or sendgrid"),
            ))
        }
    };
    let key = vars.require_secret(MAIL_API_KEY)?;
    let base_url = base_url(vars, MAIL_API_URL, default_url)?;
    Ok(ApiSettings { api, key, base_url })
}

/// Text-message settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSettings {
    /// The sender number (or messaging service id) messages come from.
    pub from: String,
    pub provider: SmsProvider,
    /// Scheme and host without a trailing slash.
    pub base_url: String,
}

#[derive(Clone, PartialEq, Eq)]
pub enum SmsProvider {
    /// Twilio's Messages API: `account` is the account SID, `token` its auth token.
    Twilio { account: String, token: String },
}

impl fmt::Debug for SmsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsProvider::Twilio { account, .. } => {
                f.debug_struct("Twilio").field("account", account).field("token", &"<redacted>").finish()
            }
        }
    }
}

impl SmsSettings {
    /// Reads the SMS variables; `Ok(None)` when `EDGEWRITE_SMS_PROVIDER` is not set (Appwrite's
    /// `general_phone_disabled`).
    pub fn from_secrets(secrets: &dyn Secrets) -> Result<Option<SmsSettings>, ConfigError> {
        let vars = Vars(secrets);
        let Some(provider) = vars.get(SMS_PROVIDER) else { return Ok(None) };
        if !provider.eq_ignore_ascii_case("twilio") {
            return Err(ConfigError::Invalid(SMS_PROVIDER, format!("{provider:?} is not twilio")));
        }
        let from = vars.require(SMS_FROM)?;
        check_line(SMS_FROM, &from)?;
        let account = vars.require(SMS_ACCOUNT)?;
        // The SID goes into the request path.
        if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::Invalid(SMS_ACCOUNT, "an account SID is letters and digits".into()));
        }
        let token = vars.require_secret(SMS_TOKEN)?;
        let base_url = base_url(&vars, SMS_API_URL, "https://api.twilio.com")?;
        Ok(Some(SmsSettings { from, provider: SmsProvider::Twilio { account, token }, base_url }))
    }
}

/// The variables, with empty values read as unset.
struct Vars<'a>(&'a dyn Secrets);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let value = self.0.get(name)?;
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    fn require(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A password, key or token: used exactly as given (only a blank value counts as unset).
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|value| !value.trim().is_empty())
    }

    fn require_secret(&self, name: &'static str) -> Result<String, ConfigError> {
        self.secret(name).ok_or(ConfigError::Missing(name))
    }
}

fn base_url(vars: &Vars, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let Some(url) = vars.get(name) else { return Ok(default.to_string()) };
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(|c: char| c.is_whitespace() || c.is_control()) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError::Invalid(name, format!("{url:?} is not an http(s) URL"))),
    }
}

fn check_line(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.contains(|c: char| c.is_control()) {
        return Err(ConfigError::Invalid(name, "control characters are not allowed".into()));
    }
    Ok(())
}

fn check_address(name: &'static str, value: &str) -> Result<(), ConfigError> {
    crate::mime::check_address(value).map_err(|reason| ConfigError::Invalid(name, reason.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Map(HashMap<&'static str, &'static str>);

    impl Secrets for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn mail(vars: &[(&'static str, &'static str)]) -> Result<Option<MailSettings>, ConfigError> {
        MailSettings::from_secrets(&Map(vars.iter().copied().collect()))
    }

    fn sms(vars: &[(&'static str, &'static str)]) -> Result<Option<SmsSettings>, ConfigError> {
        SmsSettings::from_secrets(&Map(vars.iter().copied().collect()))
    }

    const FROM: (&str, &str) = (MAIL_FROM, "noreply@acme.test");

    #[test]
    fn nothing_set_means_mail_is_disabled() {
        assert_eq!(mail(&[]), Ok(None));
        assert_eq!(mail(&[FROM, (SMTP_HOST, "  ")]), Ok(None));
    }

    #[test]
    fn smtp_defaults_to_starttls_on_587() {
        let settings = mail(&[FROM, (SMTP_HOST, "smtp.acme.test")]).unwrap().unwrap();
        assert_eq!(settings.from, "noreply@acme.test");
        assert_eq!(settings.from_name, "");
        assert_eq!(settings.reply_to, None);
        let Transport::Smtp(smtp) = settings.transport else { panic!("expected SMTP") };
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.security),
            ("smtp.acme.test", 587, SmtpSecurity::StartTls)
        );
        assert_eq!(smtp.username, None);
    }

    #[test]
    fn smtp_port_follows_security_unless_given() {
        for (secure, port, expected) in [
            ("tls", None, 465),
            ("TLS", None, 465),
            ("none", None, 25),
            ("starttls", None, 587),
            ("none", Some("2525"), 2525),
        ] {
            let mut vars = vec![FROM, (SMTP_HOST, "smtp.acme.test"), (SMTP_SECURE, secure)];
            vars.extend(port.map(|p| (SMTP_PORT, p)));
            let Transport::Smtp(smtp) = mail(&vars).unwrap().unwrap().transport else { panic!() };
            assert_eq!(smtp.port, expected, "{secure} {port:?}");
        }
    }

    #[test]
    fn smtp_credentials_and_sender_details() {
        let settings = mail(&[
            FROM,
            (MAIL_FROM_NAME, "Acme Support"),
            (MAIL_REPLY_TO, "help@acme.test"),
            (SMTP_HOST, "smtp.acme.test"),
            (SMTP_USERNAME, "mailer"),
            (SMTP_PASSWORD, "hunter2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.from_name, "Acme Support");
        assert_eq!(settings.reply_to.as_deref(), Some("help@acme.test"));
        let Transport::Smtp(smtp) = &settings.transport else { panic!() };
        assert_eq!(smtp.username.as_deref(), Some("mailer"));
        assert_eq!(smtp.password, "hunter2");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn each_mail_api_with_its_default_url() {
        let resend = mail(&[FROM, (MAIL_API, "resend"), (MAIL_API_KEY, "re_123")]).unwrap().unwrap();
        assert_eq!(
            resend.transport,
            Transport::Api(ApiSettings {
                api: MailApi::Resend,
                key: "re_123".into(),
                base_url: "https://api.resend.com".into()
            })
        );
        assert!(!format!("{resend:?}").contains("re_123"));
        let sendgrid = mail(&[FROM, (MAIL_API, "sendgrid"), (MAIL_API_KEY, "SG.x")]).unwrap().unwrap();
        let Transport::Api(api) = sendgrid.transport else { panic!() };
        assert_eq!((api.api, api.base_url.as_str()), (MailApi::SendGrid, "https://api.sendgrid.com"));
        let mailgun = mail(&[
            FROM,
            (MAIL_API, "mailgun"),
            (MAIL_API_KEY, "key-1"),
            (MAILGUN_DOMAIN, "mg.acme.test"),
            (MAIL_API_URL, "http://127.0.0.1:8025/"),
        ])
        .unwrap()
        .unwrap();
        let Transport::Api(api) = mailgun.transport else { panic!() };
        assert_eq!(api.api, MailApi::Mailgun { domain: "mg.acme.test".into() });
        assert_eq!(api.base_url, "http://127.0.0.1:8025");
    }

    #[test]
    fn mail_errors_name_the_variable() {
        let cases: &[(&[(&'static str, &'static str)], ConfigError)] = &[
            (&[(SMTP_HOST, "smtp.acme.test")], ConfigError::Missing(MAIL_FROM)),
            (&[FROM, (MAIL_API, "resend")], ConfigError::Missing(MAIL_API_KEY)),
            (&[FROM, (MAIL_API, "mailgun"), (MAIL_API_KEY, "k")], ConfigError::Missing(MAILGUN_DOMAIN)),
        ];
        for (vars, expected) in cases {
            assert_eq!(mail(vars).unwrap_err(), *expected);
        }
        let invalid: &[(&[(&'static str, &'static str)], &str)] = &[
            (&[FROM, (SMTP_HOST, "smtp.acme.test"), (MAIL_API, "resend")], MAIL_API),
            (&[FROM, (MAIL_API, "postmark"), (MAIL_API_KEY, "k")], MAIL_API),
            (&[FROM, (SMTP_HOST, "smtp.acme.test"), (SMTP_SECURE, "ssl")], SMTP_SECURE),
            (&[FROM, (SMTP_HOST, "smtp.acme.test"), (SMTP_PORT, "0")], SMTP_PORT),
            (&[FROM, (SMTP_HOST, "smtp.acme.test"), (SMTP_PORT, "70000")], SMTP_PORT),
            (&[FROM, (SMTP_HOST, "smtp acme")], SMTP_HOST),
            (&[(MAIL_FROM, "not-an-address"), (SMTP_HOST, "smtp.acme.test")], MAIL_FROM),
            (&[(MAIL_FROM, "a@b.test\r\nBcc: x@y.test"), (SMTP_HOST, "h")], MAIL_FROM),
            (&[FROM, (MAIL_FROM_NAME, "A\nB"), (SMTP_HOST, "h")], MAIL_FROM_NAME),
            (&[FROM, (MAIL_REPLY_TO, "nobody"), (SMTP_HOST, "h")], MAIL_REPLY_TO),
            (&[FROM, (MAIL_API, "resend"), (MAIL_API_KEY, "k"), (MAIL_API_URL, "ftp://x")], MAIL_API_URL),
            (&[FROM, (MAIL_API, "mailgun"), (MAIL_API_KEY, "k"), (MAILGUN_DOMAIN, "a/b")], MAILGUN_DOMAIN),
        ];
        for (vars, name) in invalid {
            match mail(vars) {
                Err(err @ ConfigError::Invalid(n, _)) => {
                    assert_eq!(n, *name);
                    assert!(err.to_string().contains(name), "{err}");
                }
                other => panic!("{vars:?}: expected Invalid({name}), got {other:?}"),
            }
        }
    }

    #[test]
    fn twilio_settings() {
        assert_eq!(sms(&[]), Ok(None));
        let settings = sms(&[
            (SMS_PROVIDER, "twilio"),
            (SMS_FROM, "+15550100"),
            (SMS_ACCOUNT, "AC123"),
            (SMS_TOKEN, "secret-token"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.from, "+15550100");
        assert_eq!(settings.base_url, "https://api.twilio.com");
        assert_eq!(
            settings.provider,
            SmsProvider::Twilio { account: "AC123".into(), token: "secret-token".into() }
        );
        assert!(!format!("{settings:?}").contains("secret-token"));
    }

    #[test]
    fn sms_errors_name_the_variable() {
        let full =
            [(SMS_PROVIDER, "twilio"), (SMS_FROM, "+15550100"), (SMS_ACCOUNT, "AC1"), (SMS_TOKEN, "t")];
        for missing in [SMS_FROM, SMS_ACCOUNT, SMS_TOKEN] {
            let vars: Vec<_> = full.iter().copied().filter(|(n, _)| *n != missing).collect();
            assert_eq!(sms(&vars), Err(ConfigError::Missing(missing)));
        }
        assert!(matches!(sms(&[(SMS_PROVIDER, "vonage")]), Err(ConfigError::Invalid(SMS_PROVIDER, _))));
        let mut bad_sid = full.to_vec();
        bad_sid[2] = (SMS_ACCOUNT, "../AC1");
        assert!(matches!(sms(&bad_sid), Err(ConfigError::Invalid(SMS_ACCOUNT, _))));
        let mut bad_url = full.to_vec();
        bad_url.push((SMS_API_URL, "api.twilio.com"));
        assert!(matches!(sms(&bad_url), Err(ConfigError::Invalid(SMS_API_URL, _))));
    }
}
