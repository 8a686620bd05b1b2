//! AWS Signature Version 4, header form, for Amazon SES: the canonical request, the string to
//! sign, the derived key, and the `authorization` header.

use edgewrite_core::ports::OutboundRequest;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Who signs, and for which region and service.
pub(super) struct AwsSigner<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl AwsSigner<'_> {
    /// Adds `x-amz-date`, `x-amz-content-sha256` and `authorization` to `request`, signing its
    /// host (taken from the URL, as the runtime's fetch will send it), its `content-type` and
    /// its `x-amz-*` headers. Other headers (`user-agent`) stay unsigned: a proxy may rewrite them.
    pub fn sign(&self, request: &mut OutboundRequest, now_ms: i64) {
        let amz_date = amz_date(now_ms);
        let payload_hash = hex(&Sha256::digest(&request.body));
        request.headers.push(("x-amz-date".into(), amz_date.clone()));
        request.headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
        let url = Url::parse(&request.url);
        let mut signed: Vec<(String, String)> = vec![("host".into(), url.host())];
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            if name == "content-type" || name.starts_with("x-amz-") {
                signed.push((name, value.clone()));
            }
        }
        let canonical = canonical_request(&request.method, url.path, url.query, &signed, &payload_hash);
        let authorization = self.authorization(&amz_date, &canonical, &signed);
        request.headers.push(("authorization".into(), authorization));
    }

    /// The `authorization` header value for a canonical request whose headers were `signed`.
    pub fn authorization(
        &self,
        amz_date: &str,
        canonical_request: &str,
        signed: &[(String, String)],
    ) -> String {
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{}", self.secret_key).as_bytes(), date.as_bytes());
        for part in [self.region, self.service, "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            self.access_key,
            signed_header_names(signed)
        )
    }
}

/// The canonical request of SigV4 ("Create a canonical request"): `path` as sent (already
/// percent-encoded), query parameters sorted, headers lower-cased, trimmed and sorted.
pub(super) fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
) -> String {
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        if path.is_empty() { "/" } else { path },
        params.join("&"),
        signed_header_names(&headers)
    )
}

fn signed_header_names(headers: &[(String, String)]) -> String {
    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names.join(";")
}

/// `20261126T150000Z`.
pub(super) fn amz_date(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let (year, month, day) = edgewrite_core::time::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parts of an absolute URL that signing needs.
struct Url<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Url<'a> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Url { scheme, authority, path, query }
    }

    /// The `host` header a client sends: no user info, no default port.
    fn host(&self) -> String {
        let host = self.authority.rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
        let default_port = if self.scheme.eq_ignore_ascii_case("http") { ":80" } else { ":443" };
        host.strip_suffix(default_port).map(str::to_string).unwrap_or(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example credentials of AWS's SigV4 documentation and test suite.
    const SIGNER: AwsSigner = AwsSigner {
        access_key: "AKIDEXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "service",
    };

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn get_vanilla_from_the_aws_test_suite() {
        let signed = headers(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]);
        let canonical = canonical_request("GET", "/", "", &signed, EMPTY_SHA256);
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            SIGNER.authorization("20150830T123600Z", &canonical, &signed),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn iam_list_users_from_the_aws_documentation() {
        let signer = AwsSigner { service: "iam", ..SIGNER };
        let signed = headers(&[
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let canonical =
            canonical_request("GET", "/", "Version=2010-05-08&Action=ListUsers", &signed, EMPTY_SHA256);
        assert!(canonical.starts_with("GET\n/\nAction=ListUsers&Version=2010-05-08\n"), "{canonical}");
        assert!(signer
            .authorization("20150830T123600Z", &canonical, &signed)
            .ends_with("Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"));
    }

    #[test]
    fn signing_a_request_adds_the_headers_and_signs_host_from_the_url() {
        let signer = AwsSigner { service: "ses", ..SIGNER };
        let mut request = OutboundRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:8787/v2/email/outbound-emails".into(),
            headers: headers(&[("content-type", "application/json"), ("user-agent", "edgewrite")]),
            body: b"{}".to_vec(),
        };
        signer.sign(&mut request, 1_795_100_400_000);
        let get =
            |name: &str| request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get("x-amz-date"), "20261119T150000Z");
        assert_eq!(get("x-amz-content-sha256"), hex(&Sha256::digest(b"{}")));
        let signed = headers(&[
            ("content-type", "application/json"),
            ("host", "127.0.0.1:8787"),
            ("x-amz-content-sha256", &get("x-amz-content-sha256")),
            ("x-amz-date", "20261119T150000Z"),
        ]);
        let canonical =
            canonical_request("POST", "/v2/email/outbound-emails", "", &signed, &get("x-amz-content-sha256"));
        let authorization = get("authorization");
        assert_eq!(authorization, signer.authorization("20261119T150000Z", &canonical, &signed));
        assert!(authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261119/us-east-1/ses/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="
        ));
    }

    #[test]
    fn hosts_drop_default_ports_and_user_info() {
        assert_eq!(
            Url::parse("https://email.us-east-1.amazonaws.com:443/v2").host(),
            "email.us-east-1.amazonaws.com"
        );
        assert_eq!(Url::parse("http://u@LOCALHOST:80").host(), "localhost");
        assert_eq!(Url::parse("http://127.0.0.1:8080/x?a=1").host(), "127.0.0.1:8080");
        assert_eq!(Url::parse("http://127.0.0.1:8080/x?a=1").query, "a=1");
    }
}
