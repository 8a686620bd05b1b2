//! Test doubles for the providers' wire: an [`Outbound`] that records requests and answers
//! from a script, an SMTP server in memory, a predictable random source.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use async_trait::async_trait;
use edgewrite_core::ports::{
    Connection, Outbound, OutboundError, OutboundRequest, OutboundResponse, Random, Tls,
};
use serde_json::{Map, Value as Json};

use super::{Endpoints, Kind, ProviderConfig, Sender};

/// A 2048-bit RSA key made once for these tests with `openssl genpkey` (generating one in an
/// unoptimised test build takes seconds).
pub(crate) const RSA_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC6MNESS8fOWOKa
/XTzCq3Vrcaeghzqnc09+eB6wRVssLX4DIeaT6c7jvpH+v3dwnPaKWv3UirnNU3d
WNcm2cEOUWlMWthkPBJy68nQlYLSydnmUFuhE3D4mT/oPD3+0pBI2pCixQWjWxXU
DvxOHpJjmEz0Hs8pr2duyd2sAwnq7FcTYR5ttTFBiK4Wf/xwIWP0gNdx7J5mWMQy
Tdk0MyR6RUtY5qkHLXKky3moEnaRD5dfb5Q6lQTjNZlmwVehO2A+cCANpD3bSf6A
pauDWFbDg9OtQCkiK0j1/6bUN/t4BUqticKe2dyA/JnuHq1m/MZYdLyim38/ZEDz
WWgqQIzTAgMBAAECggEADS5vw4nuGAU1Hozk25OWqylPOO4nah+Icr1Lr6Hj+7Rm
kl+GUB3lThmfgKFCMytuwUCsEWMI54jfpAgdZaif4TAeGMo+38wpVpp4lXxB06ne
DWid/A4HMiP2h5RdCgfR/PgAQ/Qko72xX2ujxn7Y+66ofNXoWHnZaqX+7z96oCqp
TnDz7+gP60p3jFHZgO3tY2AENnEfkJAb7X4isxaQpfdJKCb65RjJFcKPJH3lKFbu
U6KIo+F9P/hrfNrsnoyPHqhMfGsnY8iKg5tNJZJV4Jr4Y6zsIsnTrdW24J/yEB8w
ClQELeKqL+im21eyrmv6PbWmTZYN25nUOgk2pOUu8QKBgQDc7Hsjc5elW7EFDRln
F7GhCtTnUAhSC+IXmT7CPLFZW3Z2dFNL9mkOdB4sc4zj6LJL6zPltoPpYuNRt4hd
jgrzbLrEarklHnX/+CZtBQOT0qZddMA2PjP/5Arro/NYKnUVWPIKelBxlMZtJmBy
F8qEbT0+zwSGikPO0Pc2Dce8cQKBgQDXwJlMSV1d+6NAgxdqZGFl6d1PZssneXlS
u5AA2HB6KhhV9sVIvtZhNrG4lfoeTmDpHwyS5kXe2qKXSclQKA7TGn7dH1fvshbS
1MhSXo5lRwOk1LJj2gfjwhP821nb+HOaBpZVf77q9cQVfDnpr7qdrsWhMT4GgQZY
mGRJu0iPgwKBgQCPHkPHe6LJ5NSQySOjvZ29Dh9OmnJJdJlLYGNfwaHCmZXstv8f
PspgKqlBcrnbC2w18nD0Z4CdOQq6bYNR2CsP92gmxlyax1j6Me/ywETJBrXv5Sp/
+VwGcd0BOnzyqM6gvbZPQ13Jtu+01h+0yeTQVVRP1BzCa9/xoz4DLnougQKBgQC/
4NU1aGX2CK7G2A+CGmYYyiV90VDJ+Zmxv4exiMx3iWp9QWtxZ++nI4ppPFDmlRRR
H8ECAHORX+aMIB4/AHE2w/Ch3ZdKYJs1w/God9myLrcJ5/QDI8wyfc9i6P4AyPSe
vk8DGQqFUi+iYAntT9DrHZ0731xnUmZ/coB2pm5A2wKBgAcJ+8c4RNXQl3ThRI+n
lztZpyjX/TxQ7+nwHxqEt4SvNJPzrRV7/KimXtncXXfLPO20HrLxaGiiqGNlx2H6
hLmp6B3AYC8wLp3CaRffn6NPcF7DvYf/5dl6J32nxuhwT+l3uL5DXieYDAkiOp8B
mAE1CfDLHF8LsMP67MpnKzGd
-----END PRIVATE KEY-----
";

/// The same bytes every run (SplitMix64), so boundaries and signatures repeat. A plain counter
/// will not do: RSA blinding draws numbers below the modulus until one fits, and a counter that
/// repeats every 256 bytes draws the same too-large number forever.
#[derive(Default)]
pub(crate) struct Predictable(Cell<u64>);

impl Random for Predictable {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let state = self.0.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            self.0.set(state);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Records every request and answers each with the next scripted answer (the last one given
/// again while the script is empty; 200 with no body before any).
#[derive(Default)]
pub(crate) struct FakeOutbound {
    pub requests: RefCell<Vec<OutboundRequest>>,
    answers: RefCell<VecDeque<Result<OutboundResponse, OutboundError>>>,
    last_answer: RefCell<Option<Result<OutboundResponse, OutboundError>>>,
    /// What the SMTP server heard, per connection.
    pub smtp: Rc<RefCell<Vec<SmtpSession>>>,
    /// The SMTP server's answer to `RCPT TO`.
    pub rcpt_reply: RefCell<Option<&'static str>>,
}

impl FakeOutbound {
    pub fn answering(status: u16, body: &str) -> FakeOutbound {
        let fake = FakeOutbound::default();
        fake.then(status, body);
        fake
    }

    pub fn failing(error: OutboundError) -> FakeOutbound {
        let fake = FakeOutbound::default();
        fake.answers.borrow_mut().push_back(Err(error));
        fake
    }

    pub fn then(&self, status: u16, body: &str) -> &FakeOutbound {
        self.answers.borrow_mut().push_back(Ok(OutboundResponse { status, body: body.as_bytes().to_vec() }));
        self
    }

    pub fn request(&self, index: usize) -> OutboundRequest {
        self.requests.borrow()[index].clone()
    }

    pub fn last(&self) -> OutboundRequest {
        self.requests.borrow().last().cloned().expect("a request was sent")
    }
}

#[async_trait(?Send)]
impl Outbound for FakeOutbound {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        self.requests.borrow_mut().push(request);
        if let Some(answer) = self.answers.borrow_mut().pop_front() {
            *self.last_answer.borrow_mut() = Some(answer);
        }
        self.last_answer
            .borrow()
            .clone()
            .unwrap_or_else(|| Ok(OutboundResponse { status: 200, body: Vec::new() }))
    }

    async fn connect(&self, host: &str, port: u16, tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        let index = self.smtp.borrow().len();
        self.smtp.borrow_mut().push(SmtpSession {
            host: host.to_string(),
            port,
            tls,
            transcript: String::new(),
        });
        let rcpt = self.rcpt_reply.borrow().unwrap_or("250 ok");
        let mut server = SmtpServer {
            log: Rc::clone(&self.smtp),
            index,
            pending: VecDeque::new(),
            data: false,
            rcpt,
            line: Vec::new(),
        };
        server.reply("220 mx.test ESMTP");
        Ok(Box::new(server))
    }
}

/// One SMTP connection: where to, and every line the client sent (LF-separated).
pub(crate) struct SmtpSession {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub transcript: String,
}

/// Just enough of an SMTP server: answers each command line, swallows the message after DATA.
struct SmtpServer {
    log: Rc<RefCell<Vec<SmtpSession>>>,
    index: usize,
    pending: VecDeque<u8>,
    data: bool,
    rcpt: &'static str,
    line: Vec<u8>,
}

impl SmtpServer {
    fn reply(&mut self, text: &str) {
        self.pending.extend(format!("{text}\r\n").bytes());
    }

    fn heard(&mut self, line: &str) {
        let mut log = self.log.borrow_mut();
        log[self.index].transcript.push_str(line);
        log[self.index].transcript.push('\n');
        drop(log);
        if self.data {
            if line == "." {
                self.data = false;
                self.reply("250 queued");
            }
            return;
        }
        let command = line.to_ascii_uppercase();
        if command.starts_with("EHLO") {
            self.reply("250-mx.test\r\n250-AUTH PLAIN\r\n250 8BITMIME");
        } else if command.starts_with("AUTH PLAIN") {
            self.reply("235 ok");
        } else if command.starts_with("MAIL FROM") {
            self.reply("250 ok");
        } else if command.starts_with("RCPT TO") {
            let rcpt = self.rcpt;
            self.reply(rcpt);
        } else if command == "DATA" {
            self.data = true;
            self.reply("354 go ahead");
        } else if command == "QUIT" {
            self.reply("221 bye");
        } else {
            self.reply("502 unknown");
        }
    }
}

#[async_trait(?Send)]
impl Connection for SmtpServer {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, OutboundError> {
        let n = buf.len().min(self.pending.len());
        for (slot, byte) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutboundError> {
        for &b in bytes {
            self.line.push(b);
            if self.line.ends_with(b"\r\n") {
                let line = String::from_utf8_lossy(&self.line[..self.line.len() - 2]).into_owned();
                self.line.clear();
                self.heard(&line);
            }
        }
        Ok(())
    }

    async fn start_tls(self: Box<Self>) -> Result<Box<dyn Connection>, OutboundError> {
        Err(OutboundError::Failed("no TLS in the fake".into()))
    }
}

pub(crate) fn sender<'a>(
    outbound: &'a FakeOutbound,
    random: &'a Predictable,
    endpoints: &'a Endpoints,
) -> Sender<'a> {
    Sender { outbound, random, now_ms: 1_795_100_400_000, endpoints }
}

/// A provider of `kind` with the given settings (JSON objects).
pub(crate) fn provider(id: &str, kind: Kind, credentials: Json, options: Json) -> ProviderConfig {
    let object = |v: Json| match v {
        Json::Object(map) => map,
        _ => Map::new(),
    };
    ProviderConfig { id: id.into(), kind, credentials: object(credentials), options: object(options) }
}

/// The form fields of a urlencoded body.
pub(crate) fn form(request: &OutboundRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

pub(crate) fn json(request: &OutboundRequest) -> Json {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

pub(crate) fn header<'r>(request: &'r OutboundRequest, name: &str) -> Option<&'r str> {
    request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// One part of a `multipart/form-data` body.
pub(crate) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The parts of a `multipart/form-data` body.
pub(crate) fn multipart(request: &OutboundRequest) -> Vec<Part> {
    let content_type = header(request, "content-type").unwrap();
    let boundary = content_type.split("boundary=").nth(1).expect("a boundary");
    let delimiter = format!("--{boundary}");
    let body = &request.body;
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&body[i..], delimiter.as_bytes()) {
        starts.push(i + at);
        i += at + delimiter.len();
    }
    assert!(body.ends_with(format!("{delimiter}--\r\n").as_bytes()));
    starts
        .windows(2)
        .map(|w| {
            let part = &body[w[0] + delimiter.len() + 2..w[1] - 2];
            let split = find(part, b"\r\n\r\n").expect("part headers");
            let head = String::from_utf8(part[..split].to_vec()).unwrap();
            let disposition = head.lines().find(|l| l.starts_with("Content-Disposition")).unwrap();
            let param = |key: &str| {
                disposition
                    .split(&format!("; {key}=\""))
                    .nth(1)
                    .map(|rest| rest.split('"').next().unwrap().to_string())
            };
            let media_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).map(str::to_string);
            Part {
                name: param("name").unwrap(),
                filename: param("filename"),
                media_type,
                bytes: part[split + 4..].to_vec(),
            }
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `message` through `provider` as if the clock said `now_ms`.
pub(crate) fn send_push_at(
    fake: &FakeOutbound,
    provider: &ProviderConfig,
    message: &super::PushMessage,
    now_ms: i64,
) -> Result<(), super::SendError> {
    let (random, endpoints) = (Predictable::default(), Endpoints::default());
    let mut sender = sender(fake, &random, &endpoints);
    sender.now_ms = now_ms;
    block_on(super::send_push(sender, provider, message))
}

pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}
