//! What the HTTP providers share: building a request, sending it, and what an answer means
//! (2xx delivered; 429 and 5xx worth retrying; other 4xx final).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edgewrite_core::ports::{OutboundError, OutboundRequest, OutboundResponse, Random};

use super::settings::Scrubber;
use super::{SendError, Sender};

pub(super) const FORM: &str = "application/x-www-form-urlencoded";
pub(super) const JSON: &str = "application/json";

/// A POST with the content type, `user-agent: edgewrite`, then `headers`.
pub(super) fn post(
    url: String,
    content_type: &str,
    headers: Vec<(&str, String)>,
    body: Vec<u8>,
) -> OutboundRequest {
    let mut all = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("user-agent".into(), "edgewrite".into()),
    ];
    all.extend(headers.into_iter().map(|(k, v)| (k.to_string(), v)));
    OutboundRequest { method: "POST".into(), url, headers: all, body }
}

pub(super) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// `value` percent-encoded for one URL path segment: only RFC 3986 unreserved bytes stay.
pub(super) fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends `request` and hands back the answer whatever its status; only a failed connection is
/// an error here (retryable, unless the runtime forbids the destination outright).
pub(super) async fn exchange(
    sender: Sender<'_>,
    label: &str,
    request: OutboundRequest,
    scrubber: &Scrubber,
) -> Result<OutboundResponse, SendError> {
    sender.outbound.fetch(request).await.map_err(|error| match error {
        OutboundError::Denied(reason) => {
            SendError::Permanent(format!("{label} may not be reached from here: {}", scrubber.quote(&reason)))
        }
        OutboundError::Failed(reason) => {
            SendError::Retryable(format!("{label} could not be reached: {}", scrubber.quote(&reason)))
        }
    })
}

/// Sends `request`; a 2xx answer is returned, anything else is [`refusal`].
pub(super) async fn send(
    sender: Sender<'_>,
    label: &str,
    request: OutboundRequest,
    scrubber: &Scrubber,
) -> Result<OutboundResponse, SendError> {
    let response = exchange(sender, label, request, scrubber).await?;
    if is_success(response.status) {
        Ok(response)
    } else {
        Err(refusal(label, &response, scrubber))
    }
}

pub(super) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// `<label> answered <status>: <quote>`, retryable for 429 and 5xx, else permanent.
pub(super) fn refusal(label: &str, response: &OutboundResponse, scrubber: &Scrubber) -> SendError {
    let message = answered(label, response, scrubber);
    if response.status == 429 || response.status >= 500 {
        SendError::Retryable(message)
    } else {
        SendError::Permanent(message)
    }
}

pub(super) fn answered(label: &str, response: &OutboundResponse, scrubber: &Scrubber) -> String {
    let quote = scrubber.quote(&String::from_utf8_lossy(&response.body));
    if quote.is_empty() {
        format!("{label} answered {}", response.status)
    } else {
        format!("{label} answered {}: {quote}", response.status)
    }
}

/// The answer's body as JSON, or `Null`.
pub(super) fn json_body(response: &OutboundResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_default()
}

/// A `multipart/form-data` body (RFC 7578).
pub(super) struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    pub fn new(random: &dyn Random) -> Multipart {
        let mut bytes = [0u8; 16];
        random.fill(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Multipart { boundary: format!("edgewrite-{hex}"), body: Vec::new() }
    }

    pub fn text(&mut self, name: &str, value: &str) {
        self.head(name, None, None);
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
    }

    pub fn file(&mut self, name: &str, filename: &str, media_type: &str, bytes: &[u8]) {
        self.head(name, Some(filename), Some(media_type));
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
    }

    fn head(&mut self, name: &str, filename: Option<&str>, media_type: Option<&str>) {
        let mut head =
            format!("--{}\r\nContent-Disposition: form-data; name=\"{}\"", self.boundary, quoted(name));
        if let Some(filename) = filename {
            head.push_str(&format!("; filename=\"{}\"", quoted(filename)));
        }
        head.push_str("\r\n");
        if let Some(media_type) = media_type {
            head.push_str(&format!("Content-Type: {}\r\n", quoted(media_type)));
        }
        head.push_str("\r\n");
        self.body.extend_from_slice(head.as_bytes());
    }

    /// The content type (with the boundary) and the body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (format!("multipart/form-data; boundary={}", self.boundary), self.body)
    }
}

/// A value for a quoted header parameter, escaped the way browsers do (WHATWG HTML, "multipart/
/// form-data encoding"): no quote or line break can end it early.
fn quoted(value: &str) -> String {
    value.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("mg.acme.test"), "mg.acme.test");
        assert_eq!(segment("a/b?c d#é"), "a%2Fb%3Fc%20d%23%C3%A9");
    }

    #[test]
    fn refusals_are_retryable_only_for_429_and_5xx() {
        let scrubber = Scrubber::default();
        for (status, retryable) in
            [(400, false), (401, false), (404, false), (429, true), (500, true), (503, true)]
        {
            let response = OutboundResponse { status, body: b"nope".to_vec() };
            let error = refusal("Resend", &response, &scrubber);
            assert_eq!(matches!(error, SendError::Retryable(_)), retryable, "{status}");
            assert_eq!(error.to_string(), format!("Resend answered {status}: nope"));
        }
    }
}
