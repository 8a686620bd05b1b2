//! An SMTP client (RFC 5321) over the [`Outbound`] port's TCP: `EHLO`, `STARTTLS` (RFC 3207),
//! `AUTH PLAIN`/`LOGIN` (RFC 4954), one message to one or more recipients, `QUIT`.
//!
//! The client never pipelines, so at most one reply is outstanding; replies are still read
//! through a buffer, since a server may split one across segments or send bytes early.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::{Connection, Outbound, OutboundError, Tls};

use crate::{DeliveryError, SmtpSecurity, SmtpSettings};

/// The most a reply (all its lines) may take: a hostile server cannot make us buffer more.
const MAX_REPLY: usize = 64 * 1024;

/// Who the message is from and to, and the name we greet the server with.
pub(crate) struct Envelope<'a> {
    pub from: &'a str,
    pub to: &'a [&'a str],
    pub helo: &'a str,
}

/// Why [`crate::send_smtp`] failed, and whether trying again later may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct SmtpFailure {
    pub error: DeliveryError,
    /// The connection failed or broke, or the server answered with a transient (4xx) reply.
    pub transient: bool,
}

/// Delivers `message` (headers and body, any line endings) to every `envelope.to`.
pub(crate) async fn send(
    outbound: &dyn Outbound,
    smtp: &SmtpSettings,
    envelope: &Envelope<'_>,
    message: &str,
) -> Result<(), SmtpFailure> {
    let tls = match smtp.security {
        SmtpSecurity::StartTls | SmtpSecurity::StartTlsIfOffered => Tls::StartTls,
        SmtpSecurity::Tls => Tls::Implicit,
        SmtpSecurity::None => Tls::None,
    };
    let conn = outbound
        .connect(&smtp.host, smtp.port, tls)
        .await
        .map_err(|e| SmtpFailure { error: connection(e), transient: true })?;
    let mut session = Session::new(conn);
    let result = converse(&mut session, smtp, envelope, message).await;
    // Whether delivered or refused, say goodbye when the dialogue is still in step; the outcome
    // is already decided, so the answer to QUIT does not matter.
    let last_code = session.last_code;
    if !session.in_step {
        let _ = session.command("QUIT", "QUIT", &[221]).await;
    }
    if let Some(conn) = session.conn.take() {
        conn.close().await;
    }
    result.map_err(|error| {
        let transient = match &error {
            DeliveryError::Connection(_) => true,
            DeliveryError::Rejected(_) => last_code.is_some_and(|code| (400..500).contains(&code)),
            DeliveryError::Protocol(_) => false,
        };
        SmtpFailure { error, transient }
    })
}

async fn converse(
    session: &mut Session,
    smtp: &SmtpSettings,
    envelope: &Envelope<'_>,
    message: &str,
) -> Result<(), DeliveryError> {
    session.expect("greeting", &[220]).await?;
    let ehlo = format!("EHLO {}", envelope.helo);
    let mut extensions = Extensions::of(&session.command(&ehlo, "EHLO", &[250]).await?);
    let upgrade = match smtp.security {
        SmtpSecurity::StartTls if !extensions.starttls => {
            return Err(DeliveryError::Protocol(
                "the SMTP server does not offer STARTTLS; refusing to send in the clear".into(),
            ));
        }
        SmtpSecurity::StartTls => true,
        SmtpSecurity::StartTlsIfOffered => extensions.starttls,
        SmtpSecurity::Tls | SmtpSecurity::None => false,
    };
    if upgrade {
        session.command("STARTTLS", "STARTTLS", &[220]).await?;
        // Bytes that arrived before the handshake were not protected by it (CVE-2011-0411).
        if !session.buf.is_empty() {
            return Err(DeliveryError::Protocol(
                "the SMTP server sent data ahead of the TLS handshake".into(),
            ));
        }
        session.start_tls().await?;
        extensions = Extensions::of(&session.command(&ehlo, "EHLO", &[250]).await?);
    }
    if let Some(username) = &smtp.username {
        // An attacker on the path can strip an optional STARTTLS offer; the password then goes
        // in the clear only where the settings asked for no encryption at all.
        if smtp.security == SmtpSecurity::StartTlsIfOffered && !upgrade {
            return Err(DeliveryError::Protocol(
                "the SMTP server offered no STARTTLS; refusing to send the password unencrypted \
                 (choose encryption none without autoTLS for a trusted local relay)"
                    .into(),
            ));
        }
        authenticate(session, &extensions, username, &smtp.password).await?;
    }
    let mut mail_from = format!("MAIL FROM:<{}>", envelope.from);
    if !envelope.from.is_ascii() || !envelope.to.iter().all(|to| to.is_ascii()) {
        if !extensions.smtputf8 {
            return Err(DeliveryError::Protocol(
                "the address is not ASCII and the SMTP server does not offer SMTPUTF8".into(),
            ));
        }
        mail_from.push_str(" SMTPUTF8");
    }
    session.command(&mail_from, "MAIL FROM", &[250]).await?;
    // One refused recipient fails the whole message: a partial delivery could not be retried
    // without sending the others a second copy.
    for to in envelope.to {
        session.command(&format!("RCPT TO:<{to}>"), "RCPT TO", &[250, 251]).await?;
    }
    session.command("DATA", "DATA", &[354]).await?;
    session.write(dot_stuff(message).as_bytes()).await?;
    session.expect("message", &[250]).await?;
    Ok(())
}

async fn authenticate(
    session: &mut Session,
    extensions: &Extensions,
    username: &str,
    password: &str,
) -> Result<(), DeliveryError> {
    // The commands below carry credentials: errors name the step, never the line.
    if extensions.offers_auth("PLAIN") {
        let token = STANDARD.encode(format!("\0{username}\0{password}"));
        session.command(&format!("AUTH PLAIN {token}"), "AUTH PLAIN", &[235]).await?;
    } else if extensions.offers_auth("LOGIN") {
        session.command("AUTH LOGIN", "AUTH LOGIN", &[334]).await?;
        session.command(&STANDARD.encode(username), "AUTH LOGIN username", &[334]).await?;
        session.command(&STANDARD.encode(password), "AUTH LOGIN password", &[235]).await?;
    } else {
        return Err(DeliveryError::Protocol(format!(
            "the SMTP server offers no AUTH mechanism edgewrite supports (PLAIN, LOGIN); it offers [{}]",
            extensions.auth.join(" ")
        )));
    }
    Ok(())
}

/// The message as `DATA` carries it: CRLF line endings, a leading `.` doubled (RFC 5321
/// §4.5.2), and the terminating `.` line.
pub(crate) fn dot_stuff(message: &str) -> String {
    let message = crate::mime::crlf(message);
    let mut out = String::with_capacity(message.len() + 64);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// One reply: its code and the text of each line.
#[derive(Debug, PartialEq)]
pub(crate) struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// The reply for an error message: printable, and bounded.
    fn summary(&self) -> String {
        let text: String =
            self.lines.join(" ").chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let mut summary = format!("{} {}", self.code, text.trim());
        if summary.len() > 512 {
            let mut end = 512;
            while !summary.is_char_boundary(end) {
                end -= 1;
            }
            summary.truncate(end);
            summary.push('…');
        }
        summary
    }
}

/// What the server said it supports in its EHLO reply.
#[derive(Debug, Default)]
struct Extensions {
    starttls: bool,
    smtputf8: bool,
    /// SASL mechanisms, upper case.
    auth: Vec<String>,
}

impl Extensions {
    fn of(ehlo: &Reply) -> Extensions {
        let mut extensions = Extensions::default();
        // The first line is the server's greeting; each further line is `KEYWORD params`.
        for line in ehlo.lines.iter().skip(1) {
            // Some servers still also advertise the pre-standard `AUTH=LOGIN` form.
            let mut words = line.split([' ', '=']).filter(|w| !w.is_empty());
            match words.next().map(str::to_ascii_uppercase).as_deref() {
                Some("STARTTLS") => extensions.starttls = true,
                Some("SMTPUTF8") => extensions.smtputf8 = true,
                Some("AUTH") => extensions.auth.extend(words.map(str::to_ascii_uppercase)),
                _ => {}
            }
        }
        extensions
    }

    fn offers_auth(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m == mechanism)
    }
}

pub(crate) struct Session {
    /// `None` only after a failed TLS upgrade consumed the connection.
    conn: Option<Box<dyn Connection>>,
    /// Bytes read but not yet parsed.
    buf: Vec<u8>,
    /// A command or message is written and its reply not yet read (or was unreadable).
    in_step: bool,
    /// The code of the last reply read.
    last_code: Option<u16>,
}

fn connection(e: OutboundError) -> DeliveryError {
    DeliveryError::Connection(e.to_string())
}

impl Session {
    pub(crate) fn new(conn: Box<dyn Connection>) -> Session {
        Session { conn: Some(conn), buf: Vec::new(), in_step: false, last_code: None }
    }

    fn conn(&mut self) -> Result<&mut Box<dyn Connection>, DeliveryError> {
        self.conn.as_mut().ok_or_else(|| DeliveryError::Connection("the connection is closed".into()))
    }

    async fn start_tls(&mut self) -> Result<(), DeliveryError> {
        let conn =
            self.conn.take().ok_or_else(|| DeliveryError::Connection("the connection is closed".into()))?;
        self.conn = Some(conn.start_tls().await.map_err(connection)?);
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), DeliveryError> {
        self.in_step = true;
        self.conn()?.write_all(bytes).await.map_err(connection)
    }

    /// Sends `line` and reads the reply, which must have one of the `expected` codes. `what`
    /// names the step in errors (the line itself may hold credentials).
    async fn command(&mut self, line: &str, what: &str, expected: &[u16]) -> Result<Reply, DeliveryError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.expect(what, expected).await
    }

    async fn expect(&mut self, what: &str, expected: &[u16]) -> Result<Reply, DeliveryError> {
        let reply = self.read_reply().await?;
        if expected.contains(&reply.code) {
            Ok(reply)
        } else {
            Err(DeliveryError::Rejected(format!("SMTP {what}: {}", reply.summary())))
        }
    }

    /// Reads one whole reply: `250-…` lines continue it, a `250 …` (or bare `250`) line ends it.
    pub(crate) async fn read_reply(&mut self) -> Result<Reply, DeliveryError> {
        let mut code = None;
        let mut lines = Vec::new();
        let mut size = 0;
        loop {
            let line = self.read_line().await?;
            size += line.len() + 2;
            if size > MAX_REPLY {
                return Err(DeliveryError::Protocol("SMTP reply longer than 64 KiB".into()));
            }
            let malformed = || {
                let shown: String = String::from_utf8_lossy(&line).chars().take(80).collect();
                DeliveryError::Protocol(format!("malformed SMTP reply line {shown:?}"))
            };
            let line_code = match line.get(..3) {
                Some(digits) if digits.iter().all(u8::is_ascii_digit) => {
                    digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
                }
                _ => return Err(malformed()),
            };
            if *code.get_or_insert(line_code) != line_code {
                return Err(malformed());
            }
            let last = match line.get(3) {
                None | Some(b' ') => true,
                Some(b'-') => false,
                Some(_) => return Err(malformed()),
            };
            lines.push(String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned());
            if last {
                self.in_step = false;
                self.last_code = Some(line_code);
                return Ok(Reply { code: line_code, lines });
            }
        }
    }

    /// One line without its line ending (servers should send CRLF; a bare LF is tolerated).
    async fn read_line(&mut self) -> Result<Vec<u8>, DeliveryError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_REPLY {
                return Err(DeliveryError::Protocol("SMTP reply longer than 64 KiB".into()));
            }
            let mut chunk = [0u8; 4096];
            let n = self.conn()?.read(&mut chunk).await.map_err(connection)?;
            if n == 0 {
                return Err(DeliveryError::Connection("the SMTP server closed the connection".into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests;
