//! The Appwrite REST API as a migration reads and writes it: an endpoint, a project and an API
//! key; JSON in and out; errors with Appwrite's `type`; lists walked with cursors.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value as Json};
use sha2::Digest;

/// One Appwrite (or edgewrite) project, reached with a server API key.
pub struct Api {
    endpoint: String,
    project: String,
    key: String,
    agent: ureq::Agent,
}

/// An answer that was not a success: the status and Appwrite's error `type`.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub kind: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Whether `error` is the API answering 404 (a resource, or a whole route, that is not there).
pub fn is_not_found(error: &anyhow::Error) -> bool {
    error.downcast_ref::<ApiError>().is_some_and(|e| e.status == 404)
}

/// Whether `error` is the API answering 409 (it exists already).
pub fn is_conflict(error: &anyhow::Error) -> bool {
    error.downcast_ref::<ApiError>().is_some_and(|e| e.status == 409)
}

/// A page of a list.
pub const PAGE: usize = 100;

impl Api {
    pub fn new(endpoint: &str, project: &str, key: &str) -> Api {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(120))
            .build();
        Api {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            project: project.to_string(),
            key: key.to_string(),
            agent,
        }
    }

    pub fn describe(&self) -> String {
        format!("{} (project {})", self.endpoint, self.project)
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent
            .request(method, &format!("{}{path}", self.endpoint))
            .set("x-appwrite-project", &self.project)
            .set("x-appwrite-key", &self.key)
            .set("x-appwrite-response-format", "1.8.0")
            // edgewrite starts no function for what a migration writes (Appwrite ignores it).
            .set("x-edgewrite-migration", "1")
    }

    fn answer(result: Result<ureq::Response, ureq::Error>, what: &str) -> Result<ureq::Response> {
        match result {
            Ok(response) => Ok(response),
            Err(ureq::Error::Status(status, response)) => {
                let body: Json = response.into_json().unwrap_or(Json::Null);
                Err(ApiError {
                    status,
                    kind: body["type"].as_str().unwrap_or_default().to_string(),
                    message: body["message"].as_str().unwrap_or_default().to_string(),
                }
                .into())
            }
            Err(e) => Err(anyhow!("{what}: {e}")),
        }
    }

    /// `method path` with a JSON body (`None`: no body); the JSON answer (`null` for 204).
    pub fn call(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json> {
        let what = format!("{method} {path}");
        let request = self.request(method, path);
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        let response = Self::answer(result, &what)?;
        if response.status() == 204 {
            return Ok(Json::Null);
        }
        let text = response.into_string().with_context(|| format!("reading the answer of {what}"))?;
        if text.is_empty() {
            return Ok(Json::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("the answer of {what} is not JSON"))
    }

    pub fn get(&self, path: &str) -> Result<Json> {
        self.call("GET", path, None)
    }

    /// Every item of the list at `path` (its array is `field`), one page at a time, in the
    /// API's order (creation order), handed to `each`.
    pub fn each(&self, path: &str, field: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let mut queries = vec![json!({"method": "limit", "values": [PAGE]}).to_string()];
            if let Some(id) = &after {
                queries.push(json!({"method": "cursorAfter", "values": [id]}).to_string());
            }
            let query: Vec<String> = queries.iter().map(|q| format!("queries%5B%5D={}", encode(q))).collect();
            let page = self.get(&format!("{path}?{}&total=false", query.join("&")))?;
            let items = page[field].as_array().cloned().unwrap_or_default();
            let full = items.len() == PAGE;
            after = items.last().and_then(|i| i["$id"].as_str()).map(str::to_string);
            if !items.is_empty() {
                each(items)?;
            }
            if !full || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Bytes `start..end` of a file.
    pub fn file_range(&self, bucket: &str, file: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let path = format!("/storage/buckets/{bucket}/files/{file}/download");
        let response = Self::answer(
            self.request("GET", &path).set("range", &format!("bytes={start}-{}", end - 1)).call(),
            &path,
        )?;
        let mut bytes = Vec::with_capacity((end - start) as usize);
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
            .with_context(|| format!("reading {path}"))?;
        if bytes.len() as u64 != end - start {
            return Err(anyhow!("{path}: asked for {} bytes, got {}", end - start, bytes.len()));
        }
        Ok(bytes)
    }

    /// The whole body of `GET path`, as bytes.
    pub fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let response = Self::answer(self.request("GET", path).call(), path)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
            .with_context(|| format!("reading {path}"))?;
        Ok(bytes)
    }

    /// Sends one chunk of a file as the SDKs do (`Content-Range`, and `X-Appwrite-Id` after the
    /// first), with the file's name and permissions.
    pub fn upload_chunk(
        &self,
        bucket: &str,
        file: &Json,
        chunk: &[u8],
        start: u64,
        total: u64,
    ) -> Result<Json> {
        let id = file["$id"].as_str().unwrap_or_default();
        let name = file["name"].as_str().unwrap_or("file");
        let mut fields = vec![("fileId", id.to_string())];
        for permission in file["$permissions"].as_array().into_iter().flatten() {
            fields.push(("permissions[]", permission.as_str().unwrap_or_default().to_string()));
        }
        let part = Part { field: "file", name, chunk, start, total, upload_id: (start > 0).then_some(id) };
        self.multipart(&format!("/storage/buckets/{bucket}/files"), &fields, part)
    }

    /// Uploads a deployment's code in chunks of [`crate::remote::CHUNK`], as the SDKs do, asking
    /// for the id `id`; the answer to the last chunk (the deployment, built).
    pub fn upload_deployment(
        &self,
        function: &str,
        id: &str,
        code: &[u8],
        entrypoint: &str,
        activate: bool,
    ) -> Result<Json> {
        let path = format!("/functions/{function}/deployments");
        // `deploymentId` is edgewrite's (for `migrations.write` keys); Appwrite makes its own.
        let fields = [
            ("deploymentId", id.to_string()),
            ("entrypoint", entrypoint.to_string()),
            ("activate", activate.to_string()),
        ];
        let total = code.len() as u64;
        let mut answer = Json::Null;
        let mut upload_id: Option<String> = None;
        for (start, end) in crate::remote::chunks(total) {
            let chunk = &code[start as usize..end as usize];
            let part = Part {
                field: "code",
                name: "code.tar.gz",
                chunk,
                start,
                total,
                upload_id: upload_id.as_deref(),
            };
            answer = self.multipart(&path, &fields, part)?;
            upload_id = answer["$id"].as_str().map(str::to_string);
        }
        Ok(answer)
    }

    /// One multipart request: the text `fields`, then the file part.
    fn multipart(&self, path: &str, fields: &[(&str, String)], part: Part<'_>) -> Result<Json> {
        // A boundary the chunk cannot contain by chance.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = sha2::Sha256::digest(format!("{path}:{}:{nanos}", part.start).as_bytes());
        let boundary =
            format!("edgewrite-{}", seed.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
        let mut body = Vec::with_capacity(part.chunk.len() + 1024);
        for (name, value) in fields {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                part.field,
                part.name.replace(['"', '\r', '\n'], "_")
            )
            .as_bytes(),
        );
        body.extend_from_slice(part.chunk);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut request = self
            .request("POST", path)
            .set("content-type", &format!("multipart/form-data; boundary={boundary}"));
        if part.total > 0 {
            let last = part.start + part.chunk.len() as u64 - 1;
            request = request.set("content-range", &format!("bytes {}-{last}/{}", part.start, part.total));
        }
        if let Some(id) = part.upload_id {
            request = request.set("x-appwrite-id", id);
        }
        let response = Self::answer(request.send_bytes(&body), path)?;
        response.into_json().with_context(|| format!("the answer of POST {path}"))
    }
}

/// The file part of a multipart upload: one chunk of `total` bytes starting at `start`.
struct Part<'a> {
    field: &'a str,
    name: &'a str,
    chunk: &'a [u8],
    start: u64,
    total: u64,
    /// The upload's id, for every chunk after the first.
    upload_id: Option<&'a str>,
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
