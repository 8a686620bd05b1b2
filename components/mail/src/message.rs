//! A message as Appwrite Messaging sends it over SMTP: one body (HTML or plain text), Cc
//! recipients, attachments. Blind copies are envelope recipients only, so no header names them.
//!
//! Like [`crate::mime`], everything is 7-bit: encoded-words for header text, base64 bodies.

use edgewrite_core::ports::Random;

use crate::mime::{
    base64_lines, check_address, crlf, domain_of, header, mailbox, random_hex, rfc5322_date, unstructured,
};
use crate::DeliveryError;

/// A file carried by a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment<'a> {
    pub name: &'a str,
    /// `type/subtype`; anything else is sent as `application/octet-stream`.
    pub media_type: &'a str,
    pub bytes: &'a [u8],
}

/// One email for [`build_message`]; names are empty for none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message<'a> {
    pub from: &'a str,
    pub from_name: &'a str,
    pub reply_to: Option<&'a str>,
    pub reply_to_name: &'a str,
    pub to: &'a str,
    pub to_name: &'a str,
    pub cc: Vec<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    /// `body` is HTML (else plain text).
    pub html: bool,
    pub attachments: Vec<Attachment<'a>>,
    /// The `X-Mailer` header; empty for none.
    pub mailer: &'a str,
}

/// Refuses what would let a value break out of its header: a malformed address, a line break.
///
/// ```
/// use edgewrite_mail::{check_message, Message};
/// let message = Message { from: "noreply@acme.test", to: "jane@example.test", subject: "Hi\r\nBcc: x@y.test", ..Message::default() };
/// assert!(check_message(&message).is_err());
/// ```
pub fn check_message(message: &Message<'_>) -> Result<(), DeliveryError> {
    address("sender address", message.from)?;
    line("sender name", message.from_name)?;
    if let Some(reply_to) = message.reply_to {
        address("reply-to address", reply_to)?;
    }
    line("reply-to name", message.reply_to_name)?;
    address("recipient address", message.to)?;
    line("recipient name", message.to_name)?;
    for cc in &message.cc {
        address("cc address", cc)?;
    }
    line("subject", message.subject)?;
    line("mailer", message.mailer)?;
    for attachment in &message.attachments {
        line("attachment name", attachment.name)?;
        line("attachment type", attachment.media_type)?;
    }
    Ok(())
}

/// [`crate::mime::check_address`] as a [`DeliveryError`] naming `what`.
pub(crate) fn address(what: &str, value: &str) -> Result<(), DeliveryError> {
    check_address(value).map_err(|reason| DeliveryError::Protocol(format!("refusing the {what}: {reason}")))
}

/// Refuses control characters (line breaks above all) in a value bound for one header line.
pub(crate) fn line(what: &str, value: &str) -> Result<(), DeliveryError> {
    if value.contains(|c: char| c.is_control()) {
        return Err(DeliveryError::Protocol(format!("refusing the {what}: it contains control characters")));
    }
    Ok(())
}

/// The whole message, CRLF line endings throughout: a single body part, or `multipart/mixed`
/// with the body first when there are attachments. Call [`check_message`] first.
pub fn build_message(message: &Message<'_>, now_ms: i64, random: &dyn Random) -> String {
    let size: usize = message.attachments.iter().map(|a| a.bytes.len()).sum::<usize>() + message.body.len();
    let mut m = String::with_capacity(size * 4 / 3 + size / 38 + 1024);
    header(&mut m, "From", &mailbox(message.from_name, message.from));
    header(&mut m, "To", &mailbox(message.to_name, message.to));
    if !message.cc.is_empty() {
        // One address per line keeps a long list under the 998-character line limit.
        header(&mut m, "Cc", &message.cc.join(",\r\n "));
    }
    if let Some(reply_to) = message.reply_to {
        header(&mut m, "Reply-To", &mailbox(message.reply_to_name, reply_to));
    }
    header(&mut m, "Subject", &unstructured(message.subject));
    header(&mut m, "Date", &rfc5322_date(now_ms));
    header(&mut m, "Message-ID", &format!("<{}@{}>", random_hex(random, 16), domain_of(message.from)));
    if !message.mailer.is_empty() {
        header(&mut m, "X-Mailer", &unstructured(message.mailer));
    }
    header(&mut m, "MIME-Version", "1.0");
    let subtype = if message.html { "html" } else { "plain" };
    let body_type = format!("text/{subtype}; charset=utf-8");
    if message.attachments.is_empty() {
        part(&mut m, &body_type, None, crlf(message.body).as_bytes());
        return m;
    }
    let boundary = format!("edgewrite-{}", random_hex(random, 12));
    header(&mut m, "Content-Type", &format!("multipart/mixed; boundary=\"{boundary}\""));
    m.push_str("\r\n");
    m.push_str(&format!("--{boundary}\r\n"));
    part(&mut m, &body_type, None, crlf(message.body).as_bytes());
    for attachment in &message.attachments {
        m.push_str(&format!("--{boundary}\r\n"));
        let media_type = media_type(attachment.media_type);
        let content_type = format!("{media_type}; {}", parameter("name", attachment.name));
        let disposition = format!("attachment; {}", parameter("filename", attachment.name));
        part(&mut m, &content_type, Some(&disposition), attachment.bytes);
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    m
}

/// A part's headers, the blank line, and its bytes as base64.
fn part(m: &mut String, content_type: &str, disposition: Option<&str>, bytes: &[u8]) {
    header(m, "Content-Type", content_type);
    if let Some(disposition) = disposition {
        header(m, "Content-Disposition", disposition);
    }
    header(m, "Content-Transfer-Encoding", "base64");
    m.push_str("\r\n");
    m.push_str(&base64_lines(bytes));
}

/// `type/subtype` when that is what `value` is (parameters dropped), else the generic type.
fn media_type(value: &str) -> &str {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    match essence.split_once('/') {
        Some((kind, subtype)) if token(kind) && token(subtype) => essence,
        _ => "application/octet-stream",
    }
}

/// `name="value"` for plain ASCII values, else the RFC 2231 form `name*=UTF-8''%XX…`.
fn parameter(name: &str, value: &str) -> String {
    let plain = value.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    if plain && value.len() <= 60 {
        return format!("{name}=\"{value}\"");
    }
    let mut encoded = format!("{name}*=UTF-8''");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    use super::*;
    use crate::mime::tests::{parse, Counter};

    fn message<'a>() -> Message<'a> {
        Message {
            from: "noreply@acme.test",
            from_name: "Acme",
            reply_to: Some("help@acme.test"),
            reply_to_name: "Acme Help",
            to: "jane@example.test",
            to_name: "Jane Doe",
            cc: vec!["a@example.test", "b@example.test"],
            subject: "Your order",
            body: "<p>Shipped.</p>\n",
            html: true,
            attachments: Vec::new(),
            mailer: "Acme Mailer",
        }
    }

    #[test]
    fn a_single_body_message_has_cc_but_no_bcc_and_one_part() {
        let built = build_message(&message(), 0, &Counter(Cell::new(0)));
        let (head, body) = built.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("\r\nCc: a@example.test,\r\n b@example.test\r\n"), "{head}");
        assert!(head.contains("\r\nReply-To: \"Acme Help\" <help@acme.test>\r\n"), "{head}");
        assert!(head.contains("\r\nX-Mailer: Acme Mailer\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("bcc"), "{head}");
        assert_eq!(STANDARD.decode(body.replace("\r\n", "")).unwrap(), b"<p>Shipped.</p>\r\n");
    }

    #[test]
    fn attachments_make_a_mixed_message_with_the_body_first() {
        let mut m = message();
        m.html = false;
        m.body = "See attached.";
        m.attachments = vec![
            Attachment { name: "report.csv", media_type: "text/csv", bytes: b"a,b\n1,2\n" },
            Attachment { name: "résumé \"final\".txt", media_type: "not a type\r\nX: y", bytes: b"cv" },
        ];
        let parsed = parse(&build_message(&m, 0, &Counter(Cell::new(0))));
        assert_eq!(
            parsed.header("Content-Type"),
            Some("multipart/mixed; boundary=\"edgewrite-101112131415161718191a1b\""),
            "the Message-ID took the first 16 random bytes"
        );
        let [(body_head, body), (csv_head, csv), (cv_head, cv)] = &parsed.parts[..] else {
            panic!("three parts")
        };
        assert_eq!(body_head[0].1, "text/plain; charset=utf-8");
        assert_eq!(body, "See attached.");
        assert_eq!(csv_head[0].1, "text/csv; name=\"report.csv\"");
        assert_eq!(csv_head[1], ("Content-Disposition".into(), "attachment; filename=\"report.csv\"".into()));
        assert_eq!(csv, "a,b\n1,2\n", "attachments keep their bytes");
        assert_eq!(cv_head[0].1, "application/octet-stream; name*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt");
        assert_eq!(cv, "cv");
    }

    #[test]
    fn header_injection_is_refused() {
        let cases: [fn(&mut Message); 6] = [
            |m| m.subject = "Hi\r\nBcc: victim@example.test",
            |m| m.cc = vec!["a@example.test\r\nBcc: victim@example.test"],
            |m| m.cc = vec!["Jane <jane@example.test>"],
            |m| m.reply_to_name = "x\ny",
            |m| m.mailer = "x\r\n",
            |m| m.attachments = vec![Attachment { name: "a\r\n.txt", media_type: "text/plain", bytes: b"" }],
        ];
        for mutate in cases {
            let mut m = message();
            mutate(&mut m);
            assert!(matches!(check_message(&m), Err(DeliveryError::Protocol(_))), "{m:?}");
        }
        assert_eq!(check_message(&message()), Ok(()));
    }
}
