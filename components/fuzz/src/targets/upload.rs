//! Target `upload`: the chunked-upload assembler (`POST /v1/storage/buckets/{id}/files`,
//! `edgewrite_storage`), driven through `edgewrite_core::serve` over the native adapter, one
//! fresh bucket per input.
//!
//! Input: a script, one request per line (`#` starts a comment; unknown lines are skipped):
//!
//! ```text
//! bucket gzip                      plain (default), gzip, zstd or encrypted; the first wins
//! size 5242890                     the file size later `chunk` lines assume (default 10)
//! chunk i=1 fill=7 len=-1 id=f2    part i of `size` with its Content-Range; len adds to the
//!                                  right length; noid leaves out x-appwrite-id, hid=ID sets it
//! range len=10 fill=2 : bytes 0-9/10   a part with this exact Content-Range
//! whole len=10 fill=1              a whole file, no Content-Range
//! ```
//!
//! Every part's bytes are a pattern of `fill` and its index, so re-sent parts can differ.
//!
//! Properties: no request panics or fails with a 5xx; the API's answers agree with a model of
//! the upload (a 201 records the part, its size and count match the file's, a 200 answers only
//! a finished upload, no refused request creates a file); and a finished file downloads as
//! exactly the parts accepted last for each index, in order.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use edgewrite_core::http::{Method, Request, Response};
use edgewrite_core::upload::CHUNK_SIZE;
use edgewrite_core::{Capability, Config, Runtime};
use edgewrite_native::{MapSecrets, NativeRuntime};
use serde_json::{json, Value};

use crate::Target;

pub const TARGET: Target = Target {
    name: "upload",
    run,
    dictionary: &[
        "bucket ",
        "plain",
        "gzip",
        "zstd",
        "encrypted",
        "size ",
        "chunk ",
        "range ",
        "whole ",
        "i=",
        "fill=",
        "len=",
        "id=",
        "hid=",
        "noid",
        " : bytes ",
        "10485761",
        "15728640",
    ],
    max_len: 4096,
};

const KEY: &str = "fuzz-key";
const BOUNDARY: &str = "----edgewrite-fuzz-7c1e9a";
/// No part is larger: the body limit is a chunk and a little.
const MAX_PART: u64 = CHUNK_SIZE + 1024;
/// Most requests one script sends.
const MAX_REQUESTS: usize = 24;
/// A fresh runtime (and an empty directory) after this many inputs, so long runs stay small.
const INPUTS_PER_RUNTIME: u32 = 64;

fn run(input: &[u8]) {
    let script = Script::parse(&super::lines(input));
    HARNESS.with(|harness| {
        let mut harness = harness.borrow_mut();
        let harness = harness.get_or_insert_with(Harness::new);
        harness.run(&script);
    });
}

#[derive(Debug, Default)]
struct Script {
    bucket: Option<String>,
    requests: Vec<Part>,
}

/// One request of a script.
#[derive(Debug)]
struct Part {
    /// The form's `fileId`.
    id: String,
    /// `x-appwrite-id`.
    header_id: Option<String>,
    content_range: Option<String>,
    len: u64,
    fill: u64,
    index: u64,
}

impl Script {
    fn parse(lines: &[String]) -> Script {
        let mut script = Script::default();
        let mut size: u64 = 10;
        for line in lines {
            let (words, header) = match line.split_once(" : ") {
                Some((words, header)) => (words, Some(header.to_string())),
                None => (line.as_str(), None),
            };
            let mut words = words.split_whitespace();
            let op = words.next().unwrap_or_default();
            let mut options: BTreeMap<&str, &str> = BTreeMap::new();
            let mut flags = Vec::new();
            for word in words {
                match word.split_once('=') {
                    Some((k, v)) => {
                        options.entry(k).or_insert(v);
                    }
                    None => flags.push(word),
                }
            }
            let number = |k: &str| options.get(k).and_then(|v| v.parse::<i64>().ok());
            let id = options.get("id").unwrap_or(&"f1").to_string();
            let fill = number("fill").unwrap_or(1) as u64;
            let part = match op {
                "bucket" if script.bucket.is_none() => {
                    script.bucket = flags.first().map(|f| f.to_string());
                    continue;
                }
                "size" => {
                    size = flags.first().and_then(|s| s.parse().ok()).unwrap_or(size);
                    continue;
                }
                "chunk" => {
                    let index = number("i").unwrap_or(0).max(0) as u64;
                    let size = number("size").map_or(size, |s| s as u64);
                    let start = index.saturating_mul(CHUNK_SIZE);
                    let right = CHUNK_SIZE.min(size.saturating_sub(start));
                    let len = right.saturating_add_signed(number("len").unwrap_or(0));
                    let end = start.saturating_add(right).saturating_sub(1);
                    let header_id = if flags.contains(&"noid") {
                        None
                    } else {
                        Some(options.get("hid").map_or(id.clone(), |h| h.to_string()))
                    };
                    Part {
                        id,
                        header_id,
                        content_range: Some(format!("bytes {start}-{end}/{size}")),
                        len,
                        fill,
                        index,
                    }
                }
                "range" => Part {
                    id,
                    header_id: options.get("hid").map(|h| h.to_string()),
                    content_range: header,
                    len: number("len").unwrap_or(0).max(0) as u64,
                    fill,
                    index: 0,
                },
                "whole" => Part {
                    id,
                    header_id: None,
                    content_range: None,
                    len: number("len").unwrap_or(10).max(0) as u64,
                    fill,
                    index: 0,
                },
                _ => continue,
            };
            script.requests.push(Part { len: part.len.min(MAX_PART), ..part });
            if script.requests.len() == MAX_REQUESTS {
                break;
            }
        }
        script
    }
}

/// The bytes of a part: a cheap pattern of `fill` and `index`.
fn pattern(fill: u64, index: u64, len: u64) -> Vec<u8> {
    let seed = fill.wrapping_mul(0x9e37_79b9).wrapping_add(index.wrapping_mul(131));
    (0..len).map(|j| (j.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 11) as u8).collect()
}

/// What the API must say about one file id.
#[derive(Debug)]
enum Model {
    Uploading { size: u64, total: u64, parts: BTreeMap<u64, Vec<u8>> },
    Finished(Vec<u8>),
}

struct Harness {
    runtime: NativeRuntime,
    dir: PathBuf,
    config: Config,
    inputs: u32,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

impl Harness {
    fn new() -> Harness {
        static RUNTIMES: AtomicU32 = AtomicU32::new(0);
        let n = RUNTIMES.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("edgewrite-fuzz-upload-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let secrets = [
            ("EDGEWRITE_PROJECTS", "p"),
            ("EDGEWRITE_API_KEY", KEY),
            ("EDGEWRITE_ABUSE_LIMITS", "off"),
            ("EDGEWRITE_ENCRYPTION_KEY", "fuzz-encryption-key"),
        ];
        let runtime = NativeRuntime::new(
            dir.clone(),
            MapSecrets(secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        );
        let config = Config::from_secrets(runtime.secrets());
        Harness { runtime, dir, config, inputs: 0 }
    }

    fn call(&self, method: Method, path: &str, build: impl FnOnce(&mut Request)) -> Response {
        let mut req = Request::from_url(method, &format!("http://127.0.0.1/v1{path}")).expect("a fixed URL");
        req.headers.set("x-appwrite-project", "p");
        req.headers.set("x-appwrite-key", KEY);
        build(&mut req);
        let capabilities: [&dyn Capability; 1] = [&edgewrite_storage::Storage];
        let response = futures_executor::block_on(edgewrite_core::serve(
            &req,
            &self.config,
            &self.runtime,
            &capabilities,
            None,
        ));
        assert!(
            response.status < 500,
            "{method:?} {path} answered {}: {}",
            response.status,
            body_text(&response)
        );
        response
    }

    fn run(&mut self, script: &Script) {
        self.inputs += 1;
        if self.inputs > INPUTS_PER_RUNTIME {
            *self = Harness::new();
            self.inputs = 1;
        }
        let bucket = format!("b{}", self.inputs);
        let (compression, encryption) = match script.bucket.as_deref() {
            Some("gzip") => ("gzip", false),
            Some("zstd") => ("zstd", false),
            Some("encrypted") => ("none", true),
            _ => ("none", false),
        };
        let settings =
            json!({"bucketId": bucket, "name": "fuzz", "compression": compression, "encryption": encryption});
        let created = self.call(Method::Post, "/storage/buckets", |req| json_body(req, &settings));
        assert_eq!(created.status, 201, "bucket: {}", body_text(&created));

        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        for part in &script.requests {
            self.send(&bucket, part, &mut models);
        }
        self.check_files(&bucket, &models);
    }

    fn send(&self, bucket: &str, part: &Part, models: &mut BTreeMap<String, Model>) {
        let data = pattern(part.fill, part.index, part.len);
        let response = self.call(Method::Post, &format!("/storage/buckets/{bucket}/files"), |req| {
            let mut body = format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"fileId\"\r\n\r\n{}\r\n--{BOUNDARY}\r\n\
                 Content-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                part.id
            )
            .into_bytes();
            body.extend_from_slice(&data);
            body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
            req.headers.set("content-type", format!("multipart/form-data; boundary={BOUNDARY}"));
            if let Some(range) = &part.content_range {
                req.headers.set("content-range", range.as_str());
            }
            if let Some(id) = &part.header_id {
                req.headers.set("x-appwrite-id", id.as_str());
            }
            req.body = body;
        });
        let file: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        // The id the server files the part under: a chunk names its upload with x-appwrite-id.
        let id = match (&part.content_range, &part.header_id) {
            (Some(_), Some(header)) => header.clone(),
            _ => part.id.clone(),
        };
        let what = format!("{part:?} answered {}: {file}", response.status);
        match response.status {
            201 => {
                let (index, size, total) = match &part.content_range {
                    None => (0, part.len, 1),
                    Some(header) => {
                        let (start, _, size) = super::content_range::reference(header)
                            .unwrap_or_else(|| panic!("accepted an invalid Content-Range: {what}"));
                        (start / CHUNK_SIZE, size, size.div_ceil(CHUNK_SIZE).max(1))
                    }
                };
                // `unique()` asks the server for an id.
                let id = match file["$id"].as_str() {
                    Some(given) if id == "unique()" => given.to_string(),
                    _ => id,
                };
                assert_eq!(file["$id"], json!(id), "{what}");
                let model = models.entry(id).or_insert_with(|| Model::Uploading {
                    size,
                    total,
                    parts: BTreeMap::new(),
                });
                let Model::Uploading { size: model_size, total: model_total, parts } = model else {
                    panic!("a part of a finished upload was accepted: {what}");
                };
                assert_eq!(
                    (size, total),
                    (*model_size, *model_total),
                    "a part of another size was accepted: {what}"
                );
                parts.insert(index, data);
                assert_eq!(file["chunksUploaded"], json!(parts.len()), "{what}");
                assert_eq!(file["chunksTotal"], json!(total), "{what}");
                assert_eq!(file["sizeOriginal"], json!(size), "{what}");
                if parts.len() as u64 == total {
                    let bytes: Vec<u8> = parts.values().flatten().copied().collect();
                    assert_eq!(
                        bytes.len() as u64,
                        size,
                        "the parts accepted do not add up to the size: {what}"
                    );
                    *model = Model::Finished(bytes);
                }
            }
            200 => {
                let finished = matches!(models.get(&id), Some(Model::Finished(_)));
                assert!(finished, "200 for an upload that is not finished: {what}");
            }
            _ => {}
        }
    }

    fn check_files(&self, bucket: &str, models: &BTreeMap<String, Model>) {
        let list = self.call(Method::Get, &format!("/storage/buckets/{bucket}/files"), |_| {});
        let list: Value = serde_json::from_slice(&list.body).unwrap_or(Value::Null);
        for file in list["files"].as_array().into_iter().flatten() {
            let id = file["$id"].as_str().unwrap_or_default();
            assert!(
                models.contains_key(id),
                "file {id} exists though no request for it was accepted: {file}"
            );
        }
        for (id, model) in models {
            let download =
                self.call(Method::Get, &format!("/storage/buckets/{bucket}/files/{id}/download"), |_| {});
            match model {
                Model::Finished(bytes) => {
                    assert_eq!(download.status, 200, "download of {id}: {}", body_text(&download));
                    let got = self.body(&download);
                    assert!(
                        got == *bytes,
                        "file {id} downloads as {} bytes that differ from the {} accepted",
                        got.len(),
                        bytes.len()
                    );
                }
                Model::Uploading { parts, .. } => {
                    assert_eq!(download.status, 404, "an unfinished upload downloads: {id}");
                    let got =
                        self.call(Method::Get, &format!("/storage/buckets/{bucket}/files/{id}"), |_| {});
                    let file: Value = serde_json::from_slice(&got.body).unwrap_or(Value::Null);
                    assert_eq!(file["chunksUploaded"], json!(parts.len()), "file {id}: {file}");
                }
            }
        }
    }

    /// A response's bytes, reading a streamed body from the project's blobs.
    fn body(&self, response: &Response) -> Vec<u8> {
        let Some(blobs) = &response.blob_body else { return response.body.clone() };
        let stores =
            futures_executor::block_on(self.runtime.open_project(&blobs.project)).expect("the project");
        let mut out = Vec::new();
        for (key, range) in &blobs.parts {
            let part = futures_executor::block_on(stores.blobs.get(key, Some(*range))).expect("a blob");
            out.extend(part.unwrap_or_else(|| panic!("blob {key} is missing")));
        }
        out
    }
}

fn json_body(req: &mut Request, value: &Value) {
    req.headers.set("content-type", "application/json");
    req.body = value.to_string().into_bytes();
}

fn body_text(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).chars().take(500).collect()
}
