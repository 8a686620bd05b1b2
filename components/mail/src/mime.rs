//! The message as SMTP carries it (RFC 5322 headers, a MIME `multipart/alternative` body).
//!
//! Everything is 7-bit: non-ASCII header text becomes RFC 2047 encoded-words and both bodies are
//! base64, so no relay needs `8BITMIME`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::Random;

use crate::message::{address, line};
use crate::{DeliveryError, Email, MailSettings};

/// Why an address is refused: only the plain `local@domain` form passes.
///
/// ```
/// assert!(edgewrite_mail::check_address("jane@example.test").is_ok());
/// assert!(edgewrite_mail::check_address("Jane <jane@example.test>").is_err());
/// ```
pub fn check_address(address: &str) -> Result<(), &'static str> {
    if address.len() > 254 {
        return Err("an address is at most 254 bytes");
    }
    // Only the plain `local@domain` form: no display names, comments, quoting or lists, which is
    // also what keeps an address from smuggling a header or SMTP command.
    if address.contains(|c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\\')
    }) {
        return Err("an address may not contain spaces, control characters or <>(),;\"\\");
    }
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err("an address has the form name@domain"),
    }
}

/// The part after the `@` of an address that passed [`check_address`].
pub(crate) fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, domain)| domain)
}

/// Refuses what would let a value break out of its header or command line.
pub(crate) fn check_email(settings: &MailSettings, email: &Email) -> Result<(), DeliveryError> {
    address("sender address", &settings.from)?;
    line("sender name", &settings.from_name)?;
    if let Some(reply_to) = &settings.reply_to {
        address("reply-to address", reply_to)?;
    }
    address("recipient address", &email.to)?;
    line("recipient name", &email.to_name)?;
    line("subject", &email.subject)
}

/// Builds the whole message, CRLF line endings throughout. Call [`check_email`] first.
pub(crate) fn build(settings: &MailSettings, email: &Email, now_ms: i64, random: &dyn Random) -> String {
    let boundary = format!("edgewrite-{}", random_hex(random, 12));
    let mut m = String::with_capacity(email.text.len() * 2 + email.html.len() * 2 + 1024);
    header(&mut m, "From", &mailbox(&settings.from_name, &settings.from));
    header(&mut m, "To", &mailbox(&email.to_name, &email.to));
    if let Some(reply_to) = &settings.reply_to {
        header(&mut m, "Reply-To", reply_to);
    }
    header(&mut m, "Subject", &unstructured(&email.subject));
    header(&mut m, "Date", &rfc5322_date(now_ms));
    let message_id = format!("<{}@{}>", random_hex(random, 16), domain_of(&settings.from));
    header(&mut m, "Message-ID", &message_id);
    // RFC 3834: tells vacation responders not to answer.
    header(&mut m, "Auto-Submitted", "auto-generated");
    header(&mut m, "MIME-Version", "1.0");
    header(&mut m, "Content-Type", &format!("multipart/alternative; boundary=\"{boundary}\""));
    m.push_str("\r\n");
    for (subtype, body) in [("plain", &email.text), ("html", &email.html)] {
        m.push_str(&format!("--{boundary}\r\n"));
        header(&mut m, "Content-Type", &format!("text/{subtype}; charset=utf-8"));
        header(&mut m, "Content-Transfer-Encoding", "base64");
        m.push_str("\r\n");
        m.push_str(&base64_lines(crlf(body).as_bytes()));
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    m
}

pub(crate) fn header(m: &mut String, name: &str, value: &str) {
    m.push_str(name);
    m.push_str(": ");
    m.push_str(value);
    m.push_str("\r\n");
}

/// `"Name" <addr>`, an encoded-word name when quoting cannot carry it, or the bare address.
pub(crate) fn mailbox(name: &str, address: &str) -> String {
    if name.is_empty() {
        return address.to_string();
    }
    let plain = name.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    if plain && !name.contains("=?") {
        format!("\"{name}\" <{address}>")
    } else {
        // RFC 2047 §5: encoded-words may stand for a phrase but never sit inside quotes.
        format!("{} <{address}>", encoded_words(name))
    }
}

/// Header text as is when it is printable ASCII that cannot be mistaken for an encoded-word and
/// fits a line, else as encoded-words.
pub(crate) fn unstructured(text: &str) -> String {
    let plain = text.bytes().all(|b| (b' '..=b'~').contains(&b));
    if plain && !text.contains("=?") && text.len() <= 900 {
        text.to_string()
    } else {
        encoded_words(text)
    }
}

/// RFC 2047 `B` encoded-words, each under the 75-character limit, folded onto continuation
/// lines and never splitting a UTF-8 character.
pub(crate) fn encoded_words(text: &str) -> String {
    // 45 bytes are 60 base64 characters, 72 with `=?UTF-8?B?` and `?=`.
    const CHUNK: usize = 45;
    let mut out = String::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + CHUNK).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if !out.is_empty() {
            out.push_str("\r\n ");
        }
        out.push_str("=?UTF-8?B?");
        out.push_str(&STANDARD.encode(&text.as_bytes()[start..end]));
        out.push_str("?=");
        start = end;
    }
    out
}

/// `Wed, 25 Nov 2026 15:00:00 +0000`.
pub(crate) fn rfc5322_date(now_ms: i64) -> String {
    let http = edgewrite_core::time::http_date_from_ms(now_ms);
    match http.strip_suffix("GMT") {
        Some(stem) => format!("{stem}+0000"),
        None => http,
    }
}

pub(crate) fn random_hex(random: &dyn Random, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    random.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Text with every line break (`\n`, `\r\n` or a lone `\r`) as CRLF: the canonical form of
/// text before a transfer encoding (RFC 2045 §6.4) and on the SMTP wire.
pub(crate) fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\r\n");
            }
            '\n' => out.push_str("\r\n"),
            c => out.push(c),
        }
    }
    out
}

/// Base64 in lines of 76 characters, each ending in CRLF.
pub(crate) fn base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for line in encoded.as_bytes().chunks(76) {
        // Base64 output is ASCII, so every chunk boundary is a character boundary.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    use proptest::prelude::*;

    use super::*;
    use crate::{SmtpSecurity, SmtpSettings, Transport};

    /// A predictable "random" source: 0, 1, 2, … across calls.
    pub(crate) struct Counter(pub Cell<u8>);

    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.get();
                self.0.set(self.0.get().wrapping_add(1));
            }
        }
    }

    pub(crate) fn settings() -> MailSettings {
        MailSettings {
            from: "noreply@acme.test".into(),
            from_name: "Acme".into(),
            reply_to: Some("help@acme.test".into()),
            transport: Transport::Smtp(SmtpSettings {
                host: "127.0.0.1".into(),
                port: 25,
                security: SmtpSecurity::None,
                username: None,
                password: String::new(),
            }),
        }
    }

    pub(crate) fn email() -> Email {
        Email {
            to: "jane@example.test".into(),
            to_name: "Jane Doe".into(),
            subject: "Verify your email for Acme".into(),
            text: "Hello Jane,\n\n.a line with a dot\nhttps://acme.test/verify?a=1&b=2\n".into(),
            html: "<p>Hello Jane,</p>\n<p><a href=\"https://acme.test/\">go</a></p>".into(),
        }
    }

    /// A parsed message: headers in order, then each part's headers and decoded body.
    pub(crate) struct Parsed {
        pub headers: Vec<(String, String)>,
        pub parts: Vec<(Vec<(String, String)>, String)>,
    }

    impl Parsed {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
    }

    fn parse_headers(block: &str) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in block.split("\r\n") {
            if let Some(continued) = line.strip_prefix(' ') {
                let last = headers.last_mut().expect("a continuation follows a header");
                last.1.push(' ');
                last.1.push_str(continued);
            } else {
                let (name, value) = line.split_once(": ").expect("a header line");
                headers.push((name.to_string(), value.to_string()));
            }
        }
        headers
    }

    /// Reads back what [`build`] writes (and nothing more general).
    pub(crate) fn parse(message: &str) -> Parsed {
        assert!(!message.replace("\r\n", "").contains(['\r', '\n']), "bare CR or LF in {message:?}");
        assert!(message.is_ascii(), "the message is 7-bit");
        let (head, body) = message.split_once("\r\n\r\n").expect("a blank line after the headers");
        let headers = parse_headers(head);
        let content_type = headers.iter().find(|(n, _)| n == "Content-Type").expect("Content-Type").1.clone();
        let boundary = content_type.split("boundary=\"").nth(1).unwrap().trim_end_matches('"').to_string();
        let closing = format!("--{boundary}--\r\n");
        assert!(body.ends_with(&closing));
        let parts = body[..body.len() - closing.len()]
            .split(&format!("--{boundary}\r\n"))
            .skip(1)
            .map(|part| {
                let (head, body) = part.split_once("\r\n\r\n").unwrap();
                assert!(body.lines().all(|l| l.len() <= 76));
                let decoded = STANDARD.decode(body.replace("\r\n", "")).expect("base64 body");
                (parse_headers(head), String::from_utf8(decoded).unwrap())
            })
            .collect();
        Parsed { headers, parts }
    }

    pub(crate) fn decode_words(value: &str) -> String {
        value
            .split(' ')
            .map(|word| {
                let b64 = word.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
                String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn message_decodes_back_to_its_inputs() {
        let email = email();
        let message = build(&settings(), &email, 1_795_100_400_000, &Counter(Cell::new(0)));
        let parsed = parse(&message);
        assert_eq!(parsed.header("From"), Some("\"Acme\" <noreply@acme.test>"));
        assert_eq!(parsed.header("To"), Some("\"Jane Doe\" <jane@example.test>"));
        assert_eq!(parsed.header("Reply-To"), Some("help@acme.test"));
        assert_eq!(parsed.header("Subject"), Some("Verify your email for Acme"));
        assert_eq!(parsed.header("Date"), Some("Thu, 19 Nov 2026 15:00:00 +0000"));
        assert_eq!(
            parsed.header("Message-ID"),
            Some("<0c0d0e0f101112131415161718191a1b@acme.test>"),
            "the boundary took the first 12 random bytes"
        );
        assert_eq!(parsed.header("MIME-Version"), Some("1.0"));
        assert_eq!(
            parsed.header("Content-Type"),
            Some("multipart/alternative; boundary=\"edgewrite-000102030405060708090a0b\"")
        );
        let [(text_head, text), (html_head, html)] = &parsed.parts[..] else { panic!("two parts") };
        assert_eq!(text_head[0].1, "text/plain; charset=utf-8");
        assert_eq!(html_head[0].1, "text/html; charset=utf-8");
        assert_eq!(text_head[1], ("Content-Transfer-Encoding".into(), "base64".into()));
        assert_eq!(*text, crlf(&email.text));
        assert_eq!(*html, crlf(&email.html));
    }

    #[test]
    fn non_ascii_and_special_header_text_is_encoded() {
        let mut settings = settings();
        settings.from_name = "Acmé \"Support\"".into();
        let mut email = email();
        email.to_name = String::new();
        email.subject =
            "Vérifiez votre adresse pour Acmé — un sujet assez long pour deux mots encodés".into();
        email.text = "Ünïcödé ✓".repeat(40);
        let parsed = parse(&build(&settings, &email, 0, &Counter(Cell::new(0))));
        let from = parsed.header("From").unwrap();
        let (name, address) = from.rsplit_once(' ').unwrap();
        assert_eq!((decode_words(name).as_str(), address), ("Acmé \"Support\"", "<noreply@acme.test>"));
        assert_eq!(parsed.header("To"), Some("jane@example.test"));
        let subject = parsed.header("Subject").unwrap();
        assert!(subject.split(' ').count() > 1, "folded into several words: {subject}");
        assert_eq!(decode_words(subject), email.subject);
        assert_eq!(parsed.parts[0].1, email.text);
        assert_eq!(parsed.header("Date"), Some("Thu, 01 Jan 1970 00:00:00 +0000"));
    }

    #[test]
    fn header_injection_is_refused() {
        let settings = settings();
        let cases: [fn(&mut Email); 4] = [
            |e| e.subject = "Hi\r\nBcc: victim@example.test".into(),
            |e| e.to_name = "Jane\nBcc: victim@example.test".into(),
            |e| e.to = "jane@example.test\r\nRCPT TO:<victim@example.test>".into(),
            |e| e.to = "Jane <jane@example.test>".into(),
        ];
        for mutate in cases {
            let mut email = email();
            mutate(&mut email);
            assert!(matches!(check_email(&settings, &email), Err(DeliveryError::Protocol(_))), "{email:?}");
        }
        let mut bad_settings = settings.clone();
        bad_settings.reply_to = Some("a@b.test\nX: y".into());
        assert!(check_email(&bad_settings, &email()).is_err());
        assert_eq!(check_email(&settings, &email()), Ok(()));
    }

    #[test]
    fn addresses() {
        for good in ["a@b", "first.last+tag@sub.example.test", "x@[192.0.2.1]"] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in ["", "nobody", "@b.test", "a@", "a b@c.test", "<a@b.test>", "a@b.test,c@d.test", "\"q\"@b"]
        {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn encoded_words_round_trip_and_stay_short(text in "\\PC{0,200}") {
            let encoded = encoded_words(&text);
            for word in encoded.split("\r\n ") {
                prop_assert!(word.len() <= 75);
            }
            let decoded = if text.is_empty() { String::new() } else { decode_words(&encoded.replace("\r\n ", " ")) };
            prop_assert_eq!(decoded, text);
        }

        #[test]
        fn crlf_leaves_no_bare_line_break(text in "[a\r\n.]{0,40}") {
            let out = crlf(&text);
            prop_assert!(!out.replace("\r\n", "").contains(['\r', '\n']));
            prop_assert_eq!(out.replace("\r\n", "\n"), text.replace("\r\n", "\n").replace('\r', "\n"));
        }
    }

    /// What an independent, well-kept parser (`mail-parser`) reads from [`build`]'s output:
    /// the inputs, whatever characters they hold.
    mod independent_reading {
        use mail_parser::MessageParser;

        use super::*;
        use crate::{Attachment, Message};

        /// Text a header may carry: anything but control characters ([`check_email`] refuses
        /// those), without the surrounding spaces a reader trims.
        const HEADER_TEXT: &str = "([^\\p{Cc}\\s][^\\p{Cc}]{0,80}[^\\p{Cc}\\s])?";
        const BODY_TEXT: &str = "[^\\p{Cc}]{0,200}(\r\n|\n|\r)?[^\\p{Cc}]{0,200}";

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            #[test]
            fn build_reads_back_as_its_inputs(
                from_name in HEADER_TEXT,
                to_name in HEADER_TEXT,
                subject in HEADER_TEXT,
                text in BODY_TEXT,
                html in BODY_TEXT,
                now_s in 0i64..253_402_300_799,
            ) {
                let mut settings = settings();
                settings.from_name = from_name.clone();
                let email = Email { to_name: to_name.clone(), subject: subject.clone(), text, html, ..email() };
                prop_assume!(check_email(&settings, &email).is_ok());
                let built = build(&settings, &email, now_s * 1000, &Counter(Cell::new(0)));
                let message = MessageParser::default().parse(built.as_bytes()).expect("a message");
                let from = message.from().and_then(|a| a.first()).expect("From");
                prop_assert_eq!(from.address(), Some("noreply@acme.test"));
                prop_assert_eq!(from.name().unwrap_or_default(), from_name.as_str());
                let to = message.to().and_then(|a| a.first()).expect("To");
                prop_assert_eq!(to.address(), Some("jane@example.test"));
                prop_assert_eq!(to.name().unwrap_or_default(), to_name.as_str());
                prop_assert_eq!(message.subject().unwrap_or_default(), subject.as_str());
                prop_assert_eq!(message.date().map(|d| d.to_timestamp()), Some(now_s));
                prop_assert_eq!(message.body_text(0).map(|b| b.into_owned()), Some(crlf(&email.text)));
                prop_assert_eq!(message.body_html(0).map(|b| b.into_owned()), Some(crlf(&email.html)));
            }

            #[test]
            fn build_message_reads_back_as_its_inputs(
                name in HEADER_TEXT,
                subject in HEADER_TEXT,
                body in BODY_TEXT,
                attachment_name in "[^\\p{Cc}/\\\\]{1,80}",
                bytes in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let cc = ["cc1@example.test", "cc2@example.test"];
                let attachments = [Attachment { name: &attachment_name, media_type: "application/pdf", bytes: &bytes }];
                let m = Message {
                    from: "noreply@acme.test",
                    from_name: &name,
                    reply_to: Some("help@acme.test"),
                    reply_to_name: &name,
                    to: "jane@example.test",
                    to_name: &name,
                    cc: cc.to_vec(),
                    subject: &subject,
                    body: &body,
                    html: false,
                    attachments: attachments.to_vec(),
                    mailer: &name,
                };
                prop_assume!(crate::check_message(&m).is_ok());
                let built = crate::build_message(&m, 0, &Counter(Cell::new(0)));
                let message = MessageParser::default().parse(built.as_bytes()).expect("a message");
                let names = |a: Option<&mail_parser::Address>| -> Vec<(String, String)> {
                    a.map(|a| a.iter().map(|a| (
                        a.name().unwrap_or_default().to_string(),
                        a.address().unwrap_or_default().to_string(),
                    )).collect()).unwrap_or_default()
                };
                prop_assert_eq!(names(message.to()), [(name.clone(), "jane@example.test".to_string())]);
                prop_assert_eq!(names(message.reply_to()), [(name.clone(), "help@acme.test".to_string())]);
                prop_assert_eq!(
                    names(message.cc()),
                    cc.map(|address| (String::new(), address.to_string()))
                );
                prop_assert_eq!(message.subject().unwrap_or_default(), subject.as_str());
                prop_assert_eq!(message.body_text(0).map(|b| b.into_owned()), Some(crlf(&body)));
                let attachment = message.attachment(0).expect("the attachment");
                prop_assert_eq!(
                    mail_parser::MimeHeaders::attachment_name(attachment),
                    Some(attachment_name.as_str())
                );
                prop_assert_eq!(attachment.contents(), bytes.as_slice());
            }
        }
    }
}
