//! The SMTP client against scripted connections (reply framing, STARTTLS) and against a small
//! SMTP server on loopback, reached through `edgewrite_native::NativeOutbound`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use async_trait::async_trait;
use edgewrite_native::NativeOutbound;
use futures_executor::block_on;
use proptest::prelude::*;

use super::*;
use crate::mime::tests::{email, parse, settings, Counter};
use crate::{send_email, Transport};

/// A connection that hands out canned reads and records what is written.
struct Scripted {
    reads: VecDeque<Vec<u8>>,
    written: Rc<RefCell<Vec<u8>>>,
    upgraded: Rc<Cell<bool>>,
}

#[async_trait(?Send)]
impl Connection for Scripted {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, OutboundError> {
        let Some(mut chunk) = self.reads.pop_front() else { return Ok(0) };
        if chunk.len() > buf.len() {
            self.reads.push_front(chunk.split_off(buf.len()));
        }
        buf[..chunk.len()].copy_from_slice(&chunk);
        Ok(chunk.len())
    }
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutboundError> {
        self.written.borrow_mut().extend_from_slice(bytes);
        Ok(())
    }
    async fn start_tls(self: Box<Self>) -> Result<Box<dyn Connection>, OutboundError> {
        self.upgraded.set(true);
        Ok(self)
    }
}

struct Script {
    session: Session,
    written: Rc<RefCell<Vec<u8>>>,
    upgraded: Rc<Cell<bool>>,
}

fn scripted(reads: &[&[u8]]) -> Script {
    let written = Rc::default();
    let upgraded = Rc::default();
    let conn = Scripted {
        reads: reads.iter().map(|r| r.to_vec()).collect(),
        written: Rc::clone(&written),
        upgraded: Rc::clone(&upgraded),
    };
    Script { session: Session::new(Box::new(conn)), written, upgraded }
}

fn reply(code: u16, lines: &[&str]) -> Reply {
    Reply { code, lines: lines.iter().map(|l| l.to_string()).collect() }
}

#[test]
fn replies_split_across_reads_or_sharing_one_are_framed() {
    let mut s = scripted(&[b"2", b"20 hi\r\n250-a\r", b"\n250-AUTH PLAIN\r\n250 b\r\n354 go\r\n250\n"]);
    block_on(async {
        assert_eq!(s.session.read_reply().await, Ok(reply(220, &["hi"])));
        assert_eq!(s.session.read_reply().await, Ok(reply(250, &["a", "AUTH PLAIN", "b"])));
        assert_eq!(s.session.read_reply().await, Ok(reply(354, &["go"])));
        assert_eq!(s.session.read_reply().await, Ok(reply(250, &[""])));
        assert!(matches!(s.session.read_reply().await, Err(DeliveryError::Connection(_))));
    });
}

#[test]
fn malformed_or_oversized_replies_are_protocol_errors() {
    let endless_lines = b"250-padding padding padding\r\n".repeat(3000);
    let endless_line = vec![b'x'; 100_000];
    let cases: [&[u8]; 5] = [b"hello\r\n", b"25\r\n", b"250-a\r\n251 b\r\n", b"250_x\r\n", &endless_lines];
    for case in cases.into_iter().chain([&endless_line[..]]) {
        let mut s = scripted(&[case]);
        let result = block_on(s.session.read_reply());
        assert!(matches!(result, Err(DeliveryError::Protocol(_))), "{result:?}");
    }
}

fn smtp(security: SmtpSecurity, port: u16, username: Option<&str>) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security,
        username: username.map(Into::into),
        password: "s3cret pass".into(),
    }
}

const ENVELOPE: Envelope =
    Envelope { from: "noreply@acme.test", to: &["jane@example.test"], helo: "acme.test" };

#[test]
fn starttls_upgrades_then_greets_again() {
    let mut s = scripted(&[
        b"220 mx ready\r\n",
        b"250-mx\r\n250 STARTTLS\r\n",
        b"220 go ahead\r\n",
        b"250-mx\r\n250 AUTH LOGIN\r\n",
        b"250 ok\r\n250 ok\r\n",
        b"354 send\r\n",
        b"250 queued\r\n",
    ]);
    let settings = smtp(SmtpSecurity::StartTls, 587, None);
    block_on(converse(&mut s.session, &settings, &ENVELOPE, "Subject: x\r\n\r\nhi\r\n")).unwrap();
    assert!(s.upgraded.get());
    let written = String::from_utf8(s.written.borrow().clone()).unwrap();
    assert!(written.starts_with("EHLO acme.test\r\nSTARTTLS\r\nEHLO acme.test\r\nMAIL FROM:"), "{written}");
}

#[test]
fn bytes_ahead_of_the_tls_handshake_are_refused() {
    let mut s =
        scripted(&[b"220 mx\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"220 go ahead\r\n250 injected\r\n"]);
    let settings = smtp(SmtpSecurity::StartTls, 587, None);
    let result = block_on(converse(&mut s.session, &settings, &ENVELOPE, "x"));
    assert!(matches!(result, Err(DeliveryError::Protocol(_))), "{result:?}");
    assert!(!s.upgraded.get());
}

#[test]
fn no_common_auth_mechanism_is_an_error_before_mail_from() {
    let mut s = scripted(&[b"220 mx\r\n", b"250-mx\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n"]);
    let settings = smtp(SmtpSecurity::None, 25, Some("mailer"));
    let result = block_on(converse(&mut s.session, &settings, &ENVELOPE, "x"));
    let Err(DeliveryError::Protocol(message)) = result else { panic!("{result:?}") };
    assert!(message.contains("CRAM-MD5"), "{message}");
    assert!(!String::from_utf8_lossy(&s.written.borrow()).contains("MAIL FROM"));
}

#[test]
fn dot_stuffing() {
    for (message, wire) in [
        ("", ".\r\n"),
        ("a", "a\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
        ("a\n.b\n..c\r\nd.\r\n", "a\r\n..b\r\n...c\r\nd.\r\n.\r\n"),
        (".\r\n", "..\r\n.\r\n"),
    ] {
        assert_eq!(dot_stuff(message), wire, "{message:?}");
    }
}

proptest! {
    #[test]
    fn dot_stuffed_data_ends_only_at_its_terminator(message in "[a.\r\n]{0,40}") {
        let wire = dot_stuff(&message);
        let body = wire.strip_suffix(".\r\n").unwrap();
        let lines: Vec<&str> = body.split_inclusive("\r\n").collect();
        prop_assert!(lines.iter().all(|l| l.ends_with("\r\n") && *l != ".\r\n"));
        let unstuffed: String = lines.iter().map(|l| l.strip_prefix('.').unwrap_or(l)).collect();
        let mut expected = crate::mime::crlf(&message);
        if !expected.is_empty() && !expected.ends_with("\r\n") {
            expected.push_str("\r\n");
        }
        prop_assert_eq!(unstuffed, expected);
    }
}

/// How the loopback server behaves.
struct Server {
    /// The EHLO reply, written in these pieces with pauses between them.
    ehlo: &'static [&'static str],
    auth: &'static str,
    rcpt: &'static str,
}

const EHLO_PLAIN: &[&str] = &[
    "250-mx.test greets acme.test\r\n250-SIZE 1000",
    "0000\r\n250-AU",
    "TH LOGIN PLAIN\r\n250 8BITMIME\r\n",
];

impl Default for Server {
    fn default() -> Server {
        Server { ehlo: EHLO_PLAIN, auth: "235 2.7.0 accepted\r\n", rcpt: "250 2.1.5 ok\r\n" }
    }
}

impl Server {
    /// Serves one connection; the handle yields every line the client sent, without CRLF.
    fn start(self) -> (u16, JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut out = stream;
            let mut received = Vec::new();
            let mut next_line = |received: &mut Vec<String>| {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.strip_suffix("\r\n").map(str::to_string);
                received.extend(line.clone());
                line
            };
            out.write_all(b"220 mx.test ESMTP\r\n").unwrap();
            while let Some(line) = next_line(&mut received) {
                let command = line.to_ascii_uppercase();
                let answer = if command.starts_with("EHLO ") {
                    for piece in self.ehlo {
                        out.write_all(piece.as_bytes()).unwrap();
                        out.flush().unwrap();
                        thread::sleep(Duration::from_millis(20));
                    }
                    ""
                } else if command.starts_with("AUTH PLAIN ") {
                    self.auth
                } else if command == "AUTH LOGIN" {
                    out.write_all(b"334 VXNlcm5hbWU6\r\n").unwrap();
                    next_line(&mut received);
                    out.write_all(b"334 UGFzc3dvcmQ6\r\n").unwrap();
                    next_line(&mut received);
                    self.auth
                } else if command.starts_with("MAIL FROM:") {
                    "250 2.1.0 ok\r\n"
                } else if command.starts_with("RCPT TO:") {
                    self.rcpt
                } else if command == "DATA" {
                    out.write_all(b"354 end with <CRLF>.<CRLF>\r\n").unwrap();
                    while next_line(&mut received).is_some_and(|l| l != ".") {}
                    "250 2.0.0 queued as 1\r\n"
                } else if command == "STARTTLS" {
                    "220 2.0.0 ready\r\n"
                } else if command == "QUIT" {
                    out.write_all(b"221 2.0.0 bye\r\n").unwrap();
                    break;
                } else {
                    "502 5.5.2 unknown\r\n"
                };
                out.write_all(answer.as_bytes()).unwrap();
            }
            received
        });
        (port, handle)
    }
}

fn smtp_settings(port: u16, security: SmtpSecurity, username: Option<&str>) -> crate::MailSettings {
    let mut settings = settings();
    settings.transport = Transport::Smtp(smtp(security, port, username));
    settings
}

fn send_to(settings: &crate::MailSettings) -> Result<(), DeliveryError> {
    block_on(send_email(&NativeOutbound, settings, &email(), 1_795_100_400_000, &Counter(Cell::new(7))))
}

#[test]
fn delivers_with_auth_plain_and_the_message_decodes() {
    let (port, server) = Server::default().start();
    send_to(&smtp_settings(port, SmtpSecurity::None, Some("mailer"))).unwrap();
    let received = server.join().unwrap();
    let token = STANDARD.encode("\0mailer\0s3cret pass");
    let data = received.iter().position(|l| l == "DATA").unwrap();
    assert_eq!(
        received[..data + 1],
        [
            "EHLO acme.test".to_string(),
            format!("AUTH PLAIN {token}"),
            "MAIL FROM:<noreply@acme.test>".into(),
            "RCPT TO:<jane@example.test>".into(),
            "DATA".into()
        ]
    );
    assert_eq!(received[received.len() - 2..], [".", "QUIT"]);
    let lines = &received[data + 1..received.len() - 2];
    let message: String = lines.iter().map(|l| format!("{}\r\n", l.strip_prefix('.').unwrap_or(l))).collect();
    let parsed = parse(&message);
    assert_eq!(parsed.header("Subject"), Some("Verify your email for Acme"));
    assert_eq!(parsed.parts[0].1, crate::mime::crlf(&email().text));
    assert_eq!(parsed.parts[1].1, crate::mime::crlf(&email().html));
}

#[test]
fn delivers_with_auth_login_when_plain_is_not_offered() {
    let server =
        Server { ehlo: &["250-mx.test\r\n250-AUTH=LOGIN\r\n", "250 AUTH LOGIN\r\n"], ..Server::default() };
    let (port, server) = server.start();
    send_to(&smtp_settings(port, SmtpSecurity::None, Some("mailer"))).unwrap();
    let received = server.join().unwrap();
    let expected =
        ["EHLO acme.test", "AUTH LOGIN", &STANDARD.encode("mailer"), &STANDARD.encode("s3cret pass")];
    assert_eq!(received[..4], expected);
    assert_eq!(received[4], "MAIL FROM:<noreply@acme.test>");
}

#[test]
fn lines_starting_with_a_dot_are_stuffed_on_the_wire() {
    let (port, server) = Server::default().start();
    let message = "Subject: dots\r\n\r\n.leading\n..double\nplain\n.";
    block_on(send(&NativeOutbound, &smtp(SmtpSecurity::None, port, None), &ENVELOPE, message)).unwrap();
    let received = server.join().unwrap();
    let data = received.iter().position(|l| l == "DATA").unwrap();
    assert_eq!(
        received[data + 1..],
        ["Subject: dots", "", "..leading", "...double", "plain", "..", ".", "QUIT"]
    );
}

#[test]
fn a_server_without_starttls_gets_no_mail_in_the_clear() {
    let (port, server) = Server::default().start();
    let result = send_to(&smtp_settings(port, SmtpSecurity::StartTls, Some("mailer")));
    assert!(matches!(result, Err(DeliveryError::Protocol(ref m)) if m.contains("STARTTLS")), "{result:?}");
    let received = server.join().unwrap();
    assert_eq!(received, ["EHLO acme.test", "QUIT"]);
}

#[test]
fn a_failed_tls_upgrade_sends_nothing_more() {
    let server = Server { ehlo: &["250-mx.test\r\n250 STARTTLS\r\n"], ..Server::default() };
    let (port, server) = server.start();
    // NativeOutbound has no TLS, so the upgrade itself fails.
    let result = send_to(&smtp_settings(port, SmtpSecurity::StartTls, Some("mailer")));
    assert!(matches!(result, Err(DeliveryError::Connection(_))), "{result:?}");
    drop(result);
    let received = server.join().unwrap();
    assert_eq!(received, ["EHLO acme.test", "STARTTLS"]);
}

#[test]
fn a_refused_recipient_is_rejected_with_the_reply() {
    let server = Server { rcpt: "550 5.1.1 <jane@example.test>: no such user\r\n", ..Server::default() };
    let (port, server) = server.start();
    let result = send_to(&smtp_settings(port, SmtpSecurity::None, None));
    let Err(DeliveryError::Rejected(message)) = result else { panic!("{result:?}") };
    assert!(message.contains("550") && message.contains("no such user"), "{message}");
    let received = server.join().unwrap();
    assert!(!received.iter().any(|l| l == "DATA"));
    assert_eq!(received.last().map(String::as_str), Some("QUIT"));
}

#[test]
fn refused_credentials_are_rejected_without_echoing_them() {
    let server = Server { auth: "535 5.7.8 authentication failed\r\n", ..Server::default() };
    let (port, server) = server.start();
    let result = send_to(&smtp_settings(port, SmtpSecurity::None, Some("mailer")));
    let Err(DeliveryError::Rejected(message)) = result else { panic!("{result:?}") };
    assert!(message.contains("535") && message.contains("AUTH PLAIN"), "{message}");
    assert!(!message.contains(&STANDARD.encode("\0mailer\0s3cret pass")) && !message.contains("s3cret"));
    server.join().unwrap();
}

#[test]
fn an_unreachable_server_is_a_connection_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let result = send_to(&smtp_settings(port, SmtpSecurity::None, None));
    assert!(matches!(result, Err(DeliveryError::Connection(_))), "{result:?}");
}

#[test]
fn opportunistic_starttls_upgrades_only_when_offered() {
    let offered = [&b"220 mx\r\n"[..], b"250-mx\r\n250 STARTTLS\r\n", b"220 go ahead\r\n", b"250 mx\r\n"];
    let rest: [&[u8]; 4] = [b"250 ok\r\n", b"250 ok\r\n", b"354 send\r\n", b"250 queued\r\n"];
    let mut s = scripted(&[&offered[..], &rest[..]].concat());
    let settings = smtp(SmtpSecurity::StartTlsIfOffered, 25, None);
    block_on(converse(&mut s.session, &settings, &ENVELOPE, "x")).unwrap();
    assert!(s.upgraded.get());

    let mut s = scripted(&[&[&b"220 mx\r\n"[..], b"250 mx\r\n"][..], &rest[..]].concat());
    block_on(converse(&mut s.session, &settings, &ENVELOPE, "x")).unwrap();
    assert!(!s.upgraded.get());
    let written = String::from_utf8(s.written.borrow().clone()).unwrap();
    assert!(written.starts_with("EHLO acme.test\r\nMAIL FROM:"), "{written}");
}

#[test]
fn a_stripped_starttls_offer_never_gets_the_password() {
    let mut s = scripted(&[&b"220 mx\r\n"[..], b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"]);
    let settings = smtp(SmtpSecurity::StartTlsIfOffered, 587, Some("mailer"));
    let result = block_on(converse(&mut s.session, &settings, &ENVELOPE, "x"));
    assert!(matches!(result, Err(DeliveryError::Protocol(_))), "{result:?}");
    let written = String::from_utf8(s.written.borrow().clone()).unwrap();
    assert!(!written.contains("AUTH"), "{written}");
}

#[test]
fn send_smtp_gives_every_recipient_a_rcpt_to() {
    let (port, server) = Server::default().start();
    let recipients = ["jane@example.test", "cc@example.test", "bcc@example.test"];
    let settings = smtp(SmtpSecurity::None, port, None);
    block_on(crate::send_smtp(
        &NativeOutbound,
        &settings,
        "noreply@acme.test",
        &recipients,
        "Subject: x\r\n\r\nhi",
    ))
    .unwrap();
    let received = server.join().unwrap();
    let rcpt: Vec<&String> = received.iter().filter(|l| l.starts_with("RCPT TO:")).collect();
    assert_eq!(
        rcpt,
        ["RCPT TO:<jane@example.test>", "RCPT TO:<cc@example.test>", "RCPT TO:<bcc@example.test>"]
    );
}

#[test]
fn send_smtp_says_which_failures_are_transient() {
    for (rcpt, transient) in [("450 4.2.1 try later\r\n", true), ("550 5.1.1 no such user\r\n", false)] {
        let (port, server) = Server { rcpt, ..Server::default() }.start();
        let settings = smtp(SmtpSecurity::None, port, None);
        let result =
            block_on(crate::send_smtp(&NativeOutbound, &settings, "noreply@acme.test", &["a@b.test"], "x"));
        let Err(failure) = result else { panic!("{rcpt}") };
        assert!(matches!(failure.error, DeliveryError::Rejected(_)), "{failure:?}");
        assert_eq!(failure.transient, transient, "{rcpt}");
        server.join().unwrap();
    }
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = smtp(SmtpSecurity::None, port, None);
    let result =
        block_on(crate::send_smtp(&NativeOutbound, &settings, "noreply@acme.test", &["a@b.test"], "x"));
    assert!(matches!(result, Err(SmtpFailure { error: DeliveryError::Connection(_), transient: true })));
    let result =
        block_on(crate::send_smtp(&NativeOutbound, &settings, "noreply@acme.test", &["a@b.test\r\n"], "x"));
    assert!(matches!(result, Err(SmtpFailure { error: DeliveryError::Protocol(_), transient: false })));
}
