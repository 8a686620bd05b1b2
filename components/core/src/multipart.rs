//! `multipart/form-data` bodies as the SDKs send them for uploads (`appwrite-api.md` §1.2):
//! text fields, repeated `key[]` array fields, and file parts.

use crate::error::AppwriteError;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Present for file parts.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Extracts the boundary from a `multipart/form-data; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            (!v.is_empty() && v.len() <= 70).then(|| v.to_string())
        } else {
            None
        }
    })
}

fn malformed(detail: &str) -> AppwriteError {
    AppwriteError::new(crate::ErrorType::GeneralArgumentInvalid, format!("Invalid multipart body: {detail}."))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// Parses a whole multipart body. Errors name what is wrong; nothing here panics on any input.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, AppwriteError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut pos = find(body, delimiter, 0).ok_or_else(|| malformed("boundary not found"))?;
    let mut parts = Vec::new();
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(malformed("expected a line break after the boundary"));
        }
        pos += 2;
        let header_end =
            find(body, b"\r\n\r\n", pos).ok_or_else(|| malformed("unterminated part headers"))?;
        let headers = std::str::from_utf8(&body[pos..header_end])
            .map_err(|_| malformed("part headers are not UTF-8"))?;
        let data_start = header_end + 4;
        let mut closing = Vec::with_capacity(delimiter.len() + 2);
        closing.extend_from_slice(b"\r\n");
        closing.extend_from_slice(delimiter);
        let data_end =
            find(body, &closing, data_start).ok_or_else(|| malformed("missing closing boundary"))?;
        parts.push(part_from(headers, body[data_start..data_end].to_vec())?);
        pos = data_end + 2;
    }
}

fn part_from(headers: &str, data: Vec<u8>) -> Result<Part, AppwriteError> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let Some((key, value)) = line.split_once(':') else { continue };
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            for attr in split_attributes(value).into_iter().skip(1) {
                if let Some((k, v)) = attr.split_once('=') {
                    let v = unquote(v.trim());
                    match k.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let name = name.ok_or_else(|| malformed("a part has no name"))?;
    Ok(Part { name, filename, content_type, data })
}

/// Splits `form-data; name="a;b"; filename="x"` on semicolons outside quotes.
fn split_attributes(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, filename, data) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            match filename {
                Some(f) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn parses_fields_arrays_and_files() {
        let raw = body(&[
            ("fileId", None, b"abc"),
            ("file", Some("a;b.bin"), b"\x00\r\n--Xy\x01"),
            ("permissions[]", None, b"read(\"any\")"),
        ]);
        assert_eq!(boundary("multipart/form-data; boundary=XyZ").as_deref(), Some("XyZ"));
        let parts = parse(&raw, "XyZ").unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].data, b"abc");
        assert_eq!(parts[1].filename.as_deref(), Some("a;b.bin"));
        assert_eq!(parts[1].data, b"\x00\r\n--Xy\x01");
        assert_eq!(parts[2].name, "permissions[]");
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics() {
        let raw = body(&[("file", Some("x"), b"0123456789")]);
        for cut in 0..raw.len() - 9 {
            let _ = parse(&raw[..cut], "XyZ");
        }
        assert!(parse(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc", "XyZ").is_err());
        assert!(parse(b"nothing here", "XyZ").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_body_parses_or_errors_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512), boundary in "[a-zA-Z0-9]{1,12}") {
            let _ = super::parse(&body, &boundary);
        }

        #[test]
        fn bodies_made_of_boundary_fragments_never_panic(pieces in proptest::collection::vec(prop_oneof![Just(&b"--b"[..]), Just(&b"\r\n"[..]), Just(&b"\r\n\r\n"[..]), Just(&b"Content-Disposition: form-data; name=\"a\""[..]), Just(&b"x"[..]), Just(&b"--"[..])], 0..24)) {
            let body: Vec<u8> = pieces.concat();
            let _ = super::parse(&body, "b");
        }
    }
}
