//! The dump format (version 2; version 1 still imports): a directory holding `manifest.json`, one JSON Lines file per
//! resource kind, each line one record (`records.rs`, keys sorted), and the files' bytes:
//!
//! ```text
//! manifest.json                  {"format":"edgewrite-dump","version":2,"counts":{…}}
//! users.jsonl teams.jsonl memberships.jsonl databases.jsonl collections.jsonl
//! documents/<databaseId>/<collectionId>.jsonl
//! buckets.jsonl files.jsonl      (each file record with its "sha256")
//! blobs/<bucketId>/<fileId>      the file's bytes
//! functions.jsonl variables.jsonl
//! deployments.jsonl                (each with its code's "sha256")
//! deployments/<functionId>/<deploymentId>   the deployment's code, as uploaded
//! providers.jsonl                 (without their secret credentials)
//! topics.jsonl subscribers.jsonl keys.jsonl (keys without their secrets)
//! ```
//!
//! Records are written in the source's order (creation order), and an import creates them in
//! that order, so exporting the imported project gives the same bytes again. Version 2 records
//! carry their system fields (`$createdAt`, `$updatedAt`, a user's `passwordUpdate`, every
//! target and membership with its id and times); version 1 records lack them.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use crate::migrate::{Outcome, Restorable, Restored, Sink, Source, Summary, KINDS};
use crate::remote::{chunks, hex};

pub const FORMAT: &str = "edgewrite-dump";
pub const VERSION: u64 = 2;
/// Version 1 dumps (records without system fields) still import.
const READS: [u64; 2] = [1, 2];

/// Ids become file names: refuse any that could leave the dump's directory.
fn safe(id: &str) -> Result<&str> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !id.starts_with('.');
    ok.then_some(id).ok_or_else(|| anyhow!("id {id:?} cannot name a file in a dump"))
}

/// A dump as a migration's source.
pub struct DumpSource {
    dir: PathBuf,
    /// The manifest's count of each kind: an import that reads fewer found a damaged dump.
    pub counts: Json,
}

impl DumpSource {
    pub fn open(dir: &Path) -> Result<DumpSource> {
        let manifest: Json = serde_json::from_slice(
            &fs::read(dir.join("manifest.json"))
                .with_context(|| format!("reading {}/manifest.json", dir.display()))?,
        )
        .context("manifest.json is not JSON")?;
        if manifest["format"] != FORMAT {
            return Err(anyhow!("{} is not an edgewrite dump", dir.display()));
        }
        if !manifest["version"].as_u64().is_some_and(|v| READS.contains(&v)) {
            return Err(anyhow!(
                "dump version {} is not supported (this edgewrite reads versions 1 and {VERSION})",
                manifest["version"]
            ));
        }
        Ok(DumpSource { dir: dir.to_path_buf(), counts: manifest["counts"].clone() })
    }

    /// The records of `file` that `keep` keeps, a page at a time.
    fn lines(
        &self,
        file: &Path,
        keep: &dyn Fn(&Json) -> bool,
        each: &mut dyn FnMut(Vec<Json>) -> Result<()>,
    ) -> Result<()> {
        let path = self.dir.join(file);
        let Ok(handle) = File::open(&path) else { return Ok(()) };
        let mut page = Vec::new();
        for (n, line) in BufReader::new(handle).lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            let record: Json = serde_json::from_str(&line)
                .with_context(|| format!("{} line {} is not JSON", path.display(), n + 1))?;
            if keep(&record) {
                page.push(record);
            }
            if page.len() == crate::api::PAGE {
                each(std::mem::take(&mut page))?;
            }
        }
        if !page.is_empty() {
            each(page)?;
        }
        Ok(())
    }
}

fn all(_: &Json) -> bool {
    true
}

impl Source for DumpSource {
    fn describe(&self) -> String {
        format!("dump {}", self.dir.display())
    }
    fn users(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("users.jsonl"), &all, each)
    }
    fn teams(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("teams.jsonl"), &all, each)
    }
    fn memberships(&self, team: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("memberships.jsonl"), &|m| m["teamId"] == team, each)
    }
    fn databases(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("databases.jsonl"), &all, each)
    }
    fn collections(&self, database: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("collections.jsonl"), &|c| c["databaseId"] == database, each)
    }
    fn documents(
        &self,
        database: &str,
        collection: &str,
        each: &mut dyn FnMut(Vec<Json>) -> Result<()>,
    ) -> Result<()> {
        let file = Path::new("documents").join(safe(database)?).join(format!("{}.jsonl", safe(collection)?));
        self.lines(&file, &all, each)
    }
    fn buckets(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("buckets.jsonl"), &all, each)
    }
    fn files(&self, bucket: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("files.jsonl"), &|f| f["bucketId"] == bucket, each)
    }
    fn file_range(&self, bucket: &str, file: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        let path = self.dir.join("blobs").join(safe(bucket)?).join(safe(file)?);
        let mut handle = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        handle.seek(SeekFrom::Start(start))?;
        let mut bytes = vec![0; (end - start) as usize];
        handle.read_exact(&mut bytes).with_context(|| format!("reading {}", path.display()))?;
        Ok(bytes)
    }
    fn deployments(&self, function: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("deployments.jsonl"), &|d| d["functionId"] == function, each)
    }
    fn deployment_code(&self, function: &str, deployment: &str) -> Result<Vec<u8>> {
        let path = self.dir.join("deployments").join(safe(function)?).join(safe(deployment)?);
        fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }
    fn providers(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("providers.jsonl"), &all, each)
    }
    fn topics(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("topics.jsonl"), &all, each)
    }
    fn subscribers(&self, topic: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("subscribers.jsonl"), &|s| s["topicId"] == topic, each)
    }
    fn keys(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("keys.jsonl"), &all, each)
    }
    fn functions(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("functions.jsonl"), &all, each)
    }
    fn variables(&self, function: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()> {
        self.lines(Path::new("variables.jsonl"), &|v| v["functionId"] == function, each)
    }
}

/// A dump holds password hashes and file bytes: readable by its owner only.
fn private(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn create_private(path: &Path) -> Result<File> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    private(path, 0o600)?;
    Ok(file)
}

/// Creates `dir` (under the dump's `root`) and the directories between, owner-only.
fn create_private_dirs(root: &Path, dir: &Path) -> Result<()> {
    let mut at = root.to_path_buf();
    for part in dir.strip_prefix(root).unwrap_or(dir).components() {
        at.push(part);
        if !at.exists() {
            fs::create_dir(&at).with_context(|| format!("creating {}", at.display()))?;
            private(&at, 0o700)?;
        }
    }
    Ok(())
}

/// A dump being written. With `dry_run` it only counts.
pub struct DumpSink {
    dir: PathBuf,
    dry_run: bool,
    open: std::collections::BTreeMap<PathBuf, BufWriter<File>>,
}

impl DumpSink {
    /// A dump in `dir`, which must be empty or absent.
    pub fn create(dir: &Path, dry_run: bool) -> Result<DumpSink> {
        if !dry_run {
            if dir.exists() && fs::read_dir(dir)?.next().is_some() {
                return Err(anyhow!("{} is not empty: a dump goes into an empty directory", dir.display()));
            }
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            private(dir, 0o700)?;
        }
        Ok(DumpSink { dir: dir.to_path_buf(), dry_run, open: Default::default() })
    }

    fn append(&mut self, file: PathBuf, record: &Json) -> Result<Outcome> {
        if self.dry_run {
            return Ok(Outcome::Written);
        }
        if !self.open.contains_key(&file) {
            let path = self.dir.join(&file);
            if let Some(parent) = path.parent() {
                create_private_dirs(&self.dir, parent)?;
            }
            self.open.insert(file.clone(), BufWriter::new(create_private(&path)?));
        }
        let writer = self.open.get_mut(&file).expect("opened above");
        serde_json::to_writer(&mut *writer, record)?;
        writer.write_all(b"\n")?;
        Ok(Outcome::Written)
    }
}

impl Sink for DumpSink {
    fn user(&mut self, user: &Json) -> Result<Outcome> {
        self.append("users.jsonl".into(), user)
    }
    fn team(&mut self, team: &Json) -> Result<Outcome> {
        self.append("teams.jsonl".into(), team)
    }
    fn membership(&mut self, membership: &Json) -> Result<Outcome> {
        self.append("memberships.jsonl".into(), membership)
    }
    fn database(&mut self, database: &Json) -> Result<Outcome> {
        self.append("databases.jsonl".into(), database)
    }
    fn collection(&mut self, collection: &Json) -> Result<Outcome> {
        self.append("collections.jsonl".into(), collection)
    }
    fn relationships(&mut self, _collection: &Json) -> Result<()> {
        Ok(())
    }
    fn documents(&mut self, database: &str, collection: &str, documents: &[Json]) -> Result<usize> {
        let file = Path::new("documents").join(safe(database)?).join(format!("{}.jsonl", safe(collection)?));
        for document in documents {
            self.append(file.clone(), document)?;
        }
        Ok(documents.len())
    }
    fn bucket(&mut self, bucket: &Json) -> Result<Outcome> {
        self.append("buckets.jsonl".into(), bucket)
    }
    fn file(&mut self, file: &Json, source: &dyn Source) -> Result<Outcome> {
        let bucket = file["bucketId"].as_str().unwrap_or_default();
        let id = file["$id"].as_str().unwrap_or_default();
        let size = file["sizeOriginal"].as_u64().unwrap_or_default();
        if self.dry_run {
            return Ok(Outcome::Written);
        }
        let path = self.dir.join("blobs").join(safe(bucket)?).join(safe(id)?);
        create_private_dirs(&self.dir, path.parent().expect("a blob has a directory"))?;
        let mut out = BufWriter::new(create_private(&path)?);
        let mut hasher = Sha256::new();
        for (start, end) in chunks(size) {
            let chunk = source.file_range(bucket, id, start, end)?;
            hasher.update(&chunk);
            out.write_all(&chunk)?;
        }
        out.flush()?;
        let mut record = file.clone();
        record["sha256"] = json!(hex(&hasher.finalize()));
        self.append("files.jsonl".into(), &record)
    }
    fn function(&mut self, function: &Json, variables: &[Json]) -> Result<Outcome> {
        for variable in variables {
            self.append("variables.jsonl".into(), variable)?;
        }
        self.append("functions.jsonl".into(), function)
    }
    fn deployment(
        &mut self,
        deployment: &Json,
        _activate: bool,
        source: &dyn Source,
    ) -> Result<(Outcome, Option<String>)> {
        let (function, id) = (
            deployment["functionId"].as_str().unwrap_or_default(),
            deployment["$id"].as_str().unwrap_or_default(),
        );
        if self.dry_run {
            return Ok((Outcome::Written, None));
        }
        let code = source.deployment_code(function, id)?;
        let path = self.dir.join("deployments").join(safe(function)?).join(safe(id)?);
        create_private_dirs(&self.dir, path.parent().expect("code has a directory"))?;
        let mut out = create_private(&path)?;
        out.write_all(&code)?;
        let mut record = deployment.clone();
        record["sha256"] = json!(hex(&Sha256::digest(&code)));
        Ok((self.append("deployments.jsonl".into(), &record)?, None))
    }
    fn provider(&mut self, provider: &Json) -> Result<Outcome> {
        self.append("providers.jsonl".into(), provider)
    }
    fn topic(&mut self, topic: &Json) -> Result<Outcome> {
        self.append("topics.jsonl".into(), topic)
    }
    fn subscriber(&mut self, subscriber: &Json) -> Result<Outcome> {
        self.append("subscribers.jsonl".into(), subscriber)
    }
    fn key(&mut self, key: &Json) -> Result<Outcome> {
        self.append("keys.jsonl".into(), key)
    }
    /// The records written already hold their system fields.
    fn restore(&mut self, _kind: Restorable, _record: &Json) -> Result<Restored> {
        Ok(Restored::Done)
    }

    fn finish(&mut self, summary: &Summary) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        for writer in self.open.values_mut() {
            writer.flush()?;
        }
        let counts: serde_json::Map<String, Json> = KINDS
            .iter()
            .map(|k| (k.to_string(), json!(summary.kinds.get(k).map_or(0, |t| t.written))))
            .collect();
        let manifest = json!({"format": FORMAT, "version": VERSION, "counts": counts});
        let mut out = create_private(&self.dir.join("manifest.json"))?;
        out.write_all(format!("{}\n", serde_json::to_string_pretty(&manifest)?).as_bytes())?;
        Ok(())
    }
}
