//! The account-flow messages: subject, plain text and HTML per kind, from a table of strings
//! per locale (`{name}` placeholders). Every value that users or project owners control is
//! HTML-escaped in the HTML part; the text part is plain.

mod en;

/// A message of one of Appwrite's account flows, with what it needs to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template<'a> {
    /// Email verification: `url` carries the user id and secret.
    Verification { url: &'a str },
    /// Password recovery.
    Recovery { url: &'a str },
    /// Magic-URL sign-in; `phrase` is the security phrase when the client asked for one.
    MagicUrl { url: &'a str, phrase: Option<&'a str> },
    /// Email OTP sign-in with a 6-digit `code`.
    EmailOtp { code: &'a str, phrase: Option<&'a str> },
    /// A team membership invitation from `inviter` (may be empty).
    Invitation { url: &'a str, team: &'a str, inviter: &'a str },
    /// An MFA email challenge.
    MfaChallenge { code: &'a str },
}

/// A rendered message, ready for [`crate::Email`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The strings of one locale.
struct Strings {
    /// The BCP 47 tag the table is for (the HTML `lang`).
    locale: &'static str,
    hello: &'static str,
    hello_without_name: &'static str,
    signature: &'static str,
    phrase: &'static str,
    verification: Kind,
    recovery: Kind,
    magic_url: Kind,
    email_otp: Kind,
    invitation: Kind,
    invitation_without_inviter: &'static str,
    mfa_challenge: Kind,
    sms_code: &'static str,
}

/// The sentences of one kind of message, around its link or code.
struct Kind {
    subject: &'static str,
    intro: &'static str,
    outro: &'static str,
}

/// Locale tables, by lower-case tag. A new language is one more module and one more row.
static LOCALES: &[(&str, &Strings)] = &[("en", &en::STRINGS)];

/// The table for `locale`: an exact match (`pt-br`), else its language (`en-US` → `en`), else
/// English.
fn strings(locale: &str) -> &'static Strings {
    let locale = locale.trim().to_ascii_lowercase().replace('_', "-");
    let language = locale.split('-').next().unwrap_or_default();
    let find = |tag: &str| LOCALES.iter().find(|(code, _)| *code == tag).map(|(_, strings)| *strings);
    find(&locale).or_else(|| find(language)).unwrap_or(&en::STRINGS)
}

/// Renders `template` for the project named `project`, to the user named `user` (may be
/// empty), in `locale` (unknown locales get English).
///
/// ```
/// use edgewrite_mail::{render, Template};
/// let mail = render(&Template::EmailOtp { code: "123456", phrase: None }, "Acme", "Jane", "en");
/// assert_eq!(mail.subject, "Your Acme login code: 123456");
/// assert!(mail.text.contains("123456") && mail.html.contains("123456"));
/// ```
pub fn render(template: &Template, project: &str, user: &str, locale: &str) -> Rendered {
    let strings = strings(locale);
    let (kind, action, phrase, team, inviter) = match *template {
        Template::Verification { url } => (&strings.verification, Action::Link(url), None, "", ""),
        Template::Recovery { url } => (&strings.recovery, Action::Link(url), None, "", ""),
        Template::MagicUrl { url, phrase } => (&strings.magic_url, Action::Link(url), phrase, "", ""),
        Template::EmailOtp { code, phrase } => (&strings.email_otp, Action::Code(code), phrase, "", ""),
        Template::Invitation { url, team, inviter } => {
            (&strings.invitation, Action::Link(url), None, team, inviter)
        }
        Template::MfaChallenge { code } => (&strings.mfa_challenge, Action::Code(code), None, "", ""),
    };
    let code = match action {
        Action::Code(code) => code,
        Action::Link(_) => "",
    };
    let vars = [
        ("project", project),
        ("user", user),
        ("team", team),
        ("inviter", inviter),
        ("code", code),
        ("phrase", phrase.unwrap_or_default()),
    ];
    let intro = match template {
        Template::Invitation { inviter: "", .. } => strings.invitation_without_inviter,
        _ => kind.intro,
    };
    let mut blocks = vec![
        Block::Text(if user.is_empty() { strings.hello_without_name } else { strings.hello }),
        Block::Text(intro),
        Block::Action(action),
    ];
    if phrase.is_some_and(|p| !p.is_empty()) {
        blocks.push(Block::Text(strings.phrase));
    }
    blocks.push(Block::Text(kind.outro));
    blocks.push(Block::Text(strings.signature));

    // A subject is one header line: whatever a name holds, it stays one.
    let subject: String =
        fill(kind.subject, &vars, false).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = blocks.iter().map(|block| block.text(&vars)).collect::<Vec<_>>().join("\n\n") + "\n";
    let html =
        page(strings.locale, &subject, &blocks.iter().map(|block| block.html(&vars)).collect::<String>());
    Rendered { subject, text, html }
}

/// The body of a text message with a one-time `code`: phone sign-in, phone verification, MFA.
///
/// ```
/// assert_eq!(edgewrite_mail::render_sms_code("123456", "Acme", "en"), "123456 is your Acme verification code.");
/// ```
pub fn render_sms_code(code: &str, project: &str, locale: &str) -> String {
    fill(strings(locale).sms_code, &[("code", code), ("project", project)], false)
}

#[derive(Debug, Clone, Copy)]
enum Action<'a> {
    Link(&'a str),
    Code(&'a str),
}

enum Block<'a> {
    /// A paragraph from the locale table; its line breaks are kept.
    Text(&'static str),
    Action(Action<'a>),
}

impl Block<'_> {
    fn text(&self, vars: &[(&str, &str)]) -> String {
        match self {
            Block::Text(template) => fill(template, vars, false),
            Block::Action(Action::Link(url)) => url.to_string(),
            Block::Action(Action::Code(code)) => code.to_string(),
        }
    }

    fn html(&self, vars: &[(&str, &str)]) -> String {
        match self {
            Block::Text(template) => {
                format!("<p>{}</p>\n", fill(template, vars, true).replace('\n', "<br>\n"))
            }
            Block::Action(Action::Link(url)) => {
                let url = escape(url);
                format!("<p><a href=\"{url}\" style=\"color:#2f54eb;word-break:break-all;\">{url}</a></p>\n")
            }
            Block::Action(Action::Code(code)) => format!(
                "<p style=\"font-size:28px;font-weight:bold;letter-spacing:6px;margin:24px 0;\">{}</p>\n",
                escape(code)
            ),
        }
    }
}

fn page(locale: &str, subject: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{locale}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n\
         </head>\n<body style=\"margin:0;padding:24px;background:#f4f4f7;color:#1f1f24;\
         font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;line-height:1.5;\">\n\
         <div style=\"max-width:560px;margin:0 auto;padding:32px;background:#ffffff;border-radius:8px;\">\n\
         {body}</div>\n</body>\n</html>\n",
        title = escape(subject),
    )
}

/// Replaces each `{name}` of `template` with its value in one pass, so a value that itself
/// looks like a placeholder stays as it is. With `html`, the text around the values and the
/// values themselves are escaped.
fn fill(template: &str, vars: &[(&str, &str)], html: bool) -> String {
    let push = |out: &mut String, s: &str| {
        if html {
            out.push_str(&escape(s));
        } else {
            out.push_str(s);
        }
    };
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        push(&mut out, &rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            vars.iter().find(|(name, _)| *name == &after[..close]).map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, value)) => {
                push(&mut out, value);
                rest = &after[close + 1..];
            }
            None => {
                push(&mut out, "{");
                rest = after;
            }
        }
    }
    push(&mut out, rest);
    out
}

/// Escapes text for HTML element content and double- or single-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
