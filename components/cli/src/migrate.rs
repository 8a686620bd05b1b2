//! A migration: every resource kind read from a [`Source`] (a running Appwrite or edgewrite, or
//! a dump) and written to a [`Sink`] (a running edgewrite or Appwrite, or a dump), in an order
//! that creates what others refer to first. Writes are idempotent (existing resources are
//! compared and brought level; documents are upserted), so a re-run after an interruption
//! continues where the last one stopped and never duplicates.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value as Json;

pub use crate::records::Restorable;

/// What a migration reads.
pub trait Source {
    fn describe(&self) -> String;
    fn users(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn teams(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn memberships(&self, team: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn databases(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn collections(&self, database: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn documents(
        &self,
        database: &str,
        collection: &str,
        each: &mut dyn FnMut(Vec<Json>) -> Result<()>,
    ) -> Result<()>;
    fn buckets(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn files(&self, bucket: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    /// Bytes `start..end` of a file.
    fn file_range(&self, bucket: &str, file: &str, start: u64, end: u64) -> Result<Vec<u8>>;
    fn functions(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn variables(&self, function: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn deployments(&self, function: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    /// A deployment's code, as it was uploaded.
    fn deployment_code(&self, function: &str, deployment: &str) -> Result<Vec<u8>>;
    fn providers(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn topics(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn subscribers(&self, topic: &str, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
    fn keys(&self, each: &mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>;
}

/// What became of one resource at the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Written,
    /// Already there, as it is at the source.
    Skipped,
    /// The sink cannot hold it (the reason): a loss.
    Unsupported(String),
    /// At the target (`written` this run, or already there), but part of it could not be
    /// carried (the reason): a loss too.
    WithLoss {
        written: bool,
        reason: String,
    },
}

/// What a migration writes.
pub trait Sink {
    fn user(&mut self, user: &Json) -> Result<Outcome>;
    fn team(&mut self, team: &Json) -> Result<Outcome>;
    fn membership(&mut self, membership: &Json) -> Result<Outcome>;
    fn database(&mut self, database: &Json) -> Result<Outcome>;
    /// A collection with its attributes and indexes, relationships apart.
    fn collection(&mut self, collection: &Json) -> Result<Outcome>;
    /// A collection's relationship attributes, once every collection exists.
    fn relationships(&mut self, collection: &Json) -> Result<()>;
    /// One page of a collection's documents; answers how many were written.
    fn documents(&mut self, database: &str, collection: &str, documents: &[Json]) -> Result<usize>;
    fn bucket(&mut self, bucket: &Json) -> Result<Outcome>;
    /// A file, its bytes read from `source` in chunks.
    fn file(&mut self, file: &Json, source: &dyn Source) -> Result<Outcome>;
    fn function(&mut self, function: &Json, variables: &[Json]) -> Result<Outcome>;
    /// Uploads a ready deployment's code (activated when `activate`); with the outcome, the
    /// target's id of it, when it is there.
    fn deployment(
        &mut self,
        deployment: &Json,
        activate: bool,
        source: &dyn Source,
    ) -> Result<(Outcome, Option<String>)>;
    /// Creates the provider with the settings its record shows (its secrets are not there).
    fn provider(&mut self, provider: &Json) -> Result<Outcome>;
    fn topic(&mut self, topic: &Json) -> Result<Outcome>;
    fn subscriber(&mut self, subscriber: &Json) -> Result<Outcome>;
    /// Creates the key with a new secret (a key's secret cannot be read back).
    fn key(&mut self, key: &Json) -> Result<Outcome>;
    /// Restores what `record` has that the resource's own routes cannot set (its times,
    /// server-made ids), once the resource and what changes it are written.
    fn restore(&mut self, kind: Restorable, record: &Json) -> Result<Restored>;
    fn finish(&mut self, summary: &Summary) -> Result<()>;
}

/// What became of a record's system fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// Restored (or already in the record, for a dump), or the record has none.
    Done,
    /// The target cannot set these fields, for this reason.
    NotCarried { fields: Vec<String>, reason: String },
}

/// The kinds, in the order a migration moves them.
pub const KINDS: &[&str] = &[
    "providers",
    "users",
    "teams",
    "memberships",
    "databases",
    "collections",
    "documents",
    "buckets",
    "files",
    "functions",
    "deployments",
    "topics",
    "subscribers",
    "keys",
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub failed: u64,
    pub unsupported: u64,
}

/// Counts per kind, and what went wrong.
#[derive(Debug, Default)]
pub struct Summary {
    pub kinds: BTreeMap<&'static str, Tally>,
    pub problems: Vec<String>,
    /// By kind and reason: the fields the target could not take. Reported, not counted as
    /// lost: the resources themselves arrived.
    pub not_carried: BTreeMap<(&'static str, String), BTreeSet<String>>,
}

impl Summary {
    /// Whether anything was lost (failed, or not supported by the sink).
    pub fn lost(&self) -> u64 {
        self.kinds.values().map(|t| t.failed + t.unsupported).sum()
    }

    pub fn print(&self) {
        eprintln!(
            "{:<12} {:>8} {:>8} {:>8} {:>8} {:>12}",
            "kind", "read", "written", "skipped", "failed", "unsupported"
        );
        for kind in KINDS {
            let t = self.kinds.get(kind).copied().unwrap_or_default();
            eprintln!(
                "{kind:<12} {:>8} {:>8} {:>8} {:>8} {:>12}",
                t.read, t.written, t.skipped, t.failed, t.unsupported
            );
        }
        for problem in self.problems.iter().take(50) {
            eprintln!("  ! {problem}");
        }
        if self.problems.len() > 50 {
            eprintln!("  … and {} more", self.problems.len() - 50);
        }
        for ((kind, reason), fields) in &self.not_carried {
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            eprintln!("  not carried: {kind}: {} ({reason})", fields.join("; "));
        }
    }
}

/// The run's counters and progress bars.
struct Run {
    summary: Summary,
    progress: MultiProgress,
    bars: BTreeMap<&'static str, ProgressBar>,
    /// Testing aid: stop (exit 3) after this many writes, as an interruption would.
    stop_after: Option<u64>,
    writes: u64,
}

impl Run {
    fn bar(&mut self, kind: &'static str) -> &ProgressBar {
        let progress = &self.progress;
        self.bars.entry(kind).or_insert_with(|| {
            let bar = progress.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<12} {msg}").expect("a valid template"),
            );
            bar.set_prefix(kind);
            bar
        })
    }

    /// A kind the source could not list (a key without its read scope): a problem, not the
    /// end of the run, so everything else is still moved and the summary (and a dump's
    /// manifest) still written.
    fn not_listed<T>(&mut self, kind: &'static str, listed: Result<T>) -> Option<T> {
        match listed {
            Ok(value) => Some(value),
            Err(e) => {
                self.summary.kinds.entry(kind).or_default().failed += 1;
                self.summary.problems.push(format!("{kind}: not read from the source: {e:#}"));
                None
            }
        }
    }

    /// Restores `record`'s system fields, once its resource is written.
    fn restore(&mut self, sink: &mut dyn Sink, kind: &'static str, restorable: Restorable, record: &Json) {
        match sink.restore(restorable, record) {
            Ok(Restored::Done) => {}
            Ok(Restored::NotCarried { fields, reason }) => {
                self.summary.not_carried.entry((kind, reason)).or_default().extend(fields);
            }
            Err(e) => {
                self.summary.kinds.entry(kind).or_default().failed += 1;
                self.summary.problems.push(format!("{kind} {}: system fields: {e:#}", id(record)));
            }
        }
    }

    /// Counts the outcome; `true` when the resource is at the target (written or already there).
    fn count(&mut self, kind: &'static str, what: &str, result: Result<Outcome>, n: u64) -> bool {
        let arrived = matches!(result, Ok(Outcome::Written | Outcome::Skipped | Outcome::WithLoss { .. }));
        let tally = self.summary.kinds.entry(kind).or_default();
        tally.read += n;
        match result {
            Ok(Outcome::Written) => {
                tally.written += n;
                self.writes += n;
            }
            Ok(Outcome::Skipped) => tally.skipped += n,
            Ok(Outcome::WithLoss { written, reason }) => {
                // Counted where it stands, and as a loss beside.
                if written {
                    tally.written += n;
                    self.writes += n;
                } else {
                    tally.skipped += n;
                }
                tally.unsupported += n;
                self.summary.problems.push(format!("{kind} {what}: not carried: {reason}"));
            }
            Ok(Outcome::Unsupported(reason)) => {
                tally.unsupported += n;
                self.summary.problems.push(format!("{kind} {what}: not carried: {reason}"));
            }
            Err(e) => {
                tally.failed += n;
                self.summary.problems.push(format!("{kind} {what}: {e:#}"));
            }
        }
        let t = *tally;
        self.bar(kind).set_message(format!(
            "{} read, {} written, {} skipped, {} failed, {} unsupported",
            t.read, t.written, t.skipped, t.failed, t.unsupported
        ));
        if self.stop_after.is_some_and(|limit| self.writes >= limit) {
            eprintln!("edgewrite: stopping after {} writes (EDGEWRITE_MIGRATE_STOP_AFTER)", self.writes);
            std::process::exit(3);
        }
        arrived
    }
}

fn id(record: &Json) -> String {
    record["$id"].as_str().unwrap_or_default().to_string()
}

fn collect(list: impl FnOnce(&mut dyn FnMut(Vec<Json>) -> Result<()>) -> Result<()>) -> Result<Vec<Json>> {
    let mut all = Vec::new();
    list(&mut |page| {
        all.extend(page);
        Ok(())
    })?;
    Ok(all)
}

/// Moves everything from `source` to `sink`.
pub fn run(source: &dyn Source, sink: &mut dyn Sink) -> Result<Summary> {
    let stop_after = std::env::var("EDGEWRITE_MIGRATE_STOP_AFTER").ok().and_then(|v| v.parse().ok());
    let mut run = Run {
        summary: Summary::default(),
        progress: MultiProgress::new(),
        bars: BTreeMap::new(),
        stop_after,
        writes: 0,
    };

    // First: the users' push targets name them.
    let listed = source.providers(&mut |page| {
        for provider in page {
            if run.count("providers", &id(&provider), sink.provider(&provider), 1) {
                run.restore(sink, "providers", Restorable::Provider, &provider);
                let reason = "no one can read a provider's secret credentials back: set them on the target, then enable it";
                run.summary.not_carried.entry(("providers", reason.into())).or_default().insert("secret credentials".into());
            }
        }
        Ok(())
    });
    run.not_listed("providers", listed);

    source.users(&mut |page| {
        for user in page {
            let result = sink.user(&user);
            if run.count("users", &id(&user), result, 1) {
                run.restore(sink, "users", Restorable::User, &user);
                if user["totp"] == true {
                    let reason =
                        "no one can read an authenticator app's secret back: the user adds the app again";
                    run.summary
                        .not_carried
                        .entry(("users", reason.into()))
                        .or_default()
                        .insert("TOTP authenticators".into());
                }
            }
        }
        Ok(())
    })?;

    for team in collect(|each| source.teams(each))? {
        let result = sink.team(&team);
        let team_arrived = run.count("teams", &id(&team), result, 1);
        let mut memberships = Vec::new();
        source.memberships(&id(&team), &mut |page| {
            for membership in page {
                let what = format!("{} in {}", membership["userId"].as_str().unwrap_or_default(), id(&team));
                let result = sink.membership(&membership);
                // A pending invitation is not carried (invite again); a re-invitation waiting on
                // the target keeps its own id and times.
                if run.count("memberships", &what, result, 1) {
                    memberships.push(membership);
                }
            }
            Ok(())
        })?;
        // Memberships change the team's `$updatedAt`: its times come back after them.
        if team_arrived {
            let mut team = team;
            team["memberships"] = Json::Array(memberships);
            run.restore(sink, "teams", Restorable::Team, &team);
        }
    }

    for database in collect(|each| source.databases(each))? {
        let db = id(&database);
        let result = sink.database(&database);
        let database_arrived = run.count("databases", &db, result, 1);
        let collections = collect(|each| source.collections(&db, each))?;
        let mut arrived = Vec::with_capacity(collections.len());
        for collection in &collections {
            let result = sink.collection(collection);
            arrived.push(run.count("collections", &format!("{db}/{}", id(collection)), result, 1));
        }
        for collection in &collections {
            if let Err(e) = sink.relationships(collection) {
                run.summary
                    .problems
                    .push(format!("collections {db}/{}: relationships: {e:#}", id(collection)));
                run.summary.kinds.entry("collections").or_default().failed += 1;
            }
        }
        // After every attribute, relationships' included, so that none changes them again.
        for (collection, _) in collections.iter().zip(&arrived).filter(|(_, arrived)| **arrived) {
            run.restore(sink, "collections", Restorable::Collection, collection);
        }
        if database_arrived {
            run.restore(sink, "databases", Restorable::Database, &database);
        }
        for collection in &collections {
            let c = id(collection);
            source.documents(&db, &c, &mut |page| {
                let n = page.len() as u64;
                let result = sink.documents(&db, &c, &page).map(|written| {
                    if written == page.len() {
                        Outcome::Written
                    } else {
                        Outcome::Skipped
                    }
                });
                run.count("documents", &format!("{db}/{c} ({n} from {})", id(&page[0])), result, n);
                Ok(())
            })?;
        }
    }

    for bucket in collect(|each| source.buckets(each))? {
        let b = id(&bucket);
        let result = sink.bucket(&bucket);
        let bucket_arrived = run.count("buckets", &b, result, 1);
        source.files(&b, &mut |page| {
            for file in page {
                let result = if file["incomplete"] == true {
                    Ok(Outcome::Unsupported("its upload is still in progress at the source".into()))
                } else {
                    sink.file(&file, source)
                };
                if run.count("files", &format!("{b}/{}", id(&file)), result, 1) {
                    run.restore(sink, "files", Restorable::File, &file);
                }
            }
            Ok(())
        })?;
        if bucket_arrived {
            run.restore(sink, "buckets", Restorable::Bucket, &bucket);
        }
    }

    for function in collect(|each| source.functions(each))? {
        let f = id(&function);
        let variables = collect(|each| source.variables(&f, each))?;
        let result = sink.function(&function, &variables);
        let function_arrived = run.count("functions", &f, result, 1);
        let active = function["deploymentId"].as_str().unwrap_or_default().to_string();
        source.deployments(&f, &mut |page| {
            for deployment in page {
                let activate = !active.is_empty() && id(&deployment) == active;
                let status = deployment["status"].as_str().unwrap_or_default();
                let (result, target_id) = if !function_arrived {
                    (Ok(Outcome::Unsupported("its function did not arrive".into())), None)
                } else if status != "ready" {
                    let reason = format!("its build is {status} at the source: deploy it again");
                    (Ok(Outcome::Unsupported(reason)), None)
                } else {
                    match sink.deployment(&deployment, activate, source) {
                        Ok((outcome, target_id)) => (Ok(outcome), target_id),
                        Err(e) => (Err(e), None),
                    }
                };
                if run.count("deployments", &format!("{f}/{}", id(&deployment)), result, 1) {
                    if let Some(target_id) = target_id {
                        let mut deployment = deployment;
                        deployment["targetId"] = Json::String(target_id);
                        run.restore(sink, "deployments", Restorable::Deployment, &deployment);
                    }
                }
            }
            Ok(())
        })?;
        // Activating a deployment changes the function: its times come back after.
        if function_arrived {
            let mut function = function;
            function["variables"] = Json::Array(variables);
            run.restore(sink, "functions", Restorable::Function, &function);
        }
    }

    let topics = run.not_listed("topics", collect(|each| source.topics(each))).unwrap_or_default();
    for topic in topics {
        let topic_arrived = run.count("topics", &id(&topic), sink.topic(&topic), 1);
        let mut subscribers = Vec::new();
        source.subscribers(&id(&topic), &mut |page| {
            for subscriber in page {
                let what = format!("{} in {}", id(&subscriber), id(&topic));
                let result = if topic_arrived {
                    sink.subscriber(&subscriber)
                } else {
                    Ok(Outcome::Unsupported("its topic did not arrive".into()))
                };
                if run.count("subscribers", &what, result, 1) {
                    subscribers.push(subscriber);
                }
            }
            Ok(())
        })?;
        // Subscribers change the topic: its times come back after them.
        if topic_arrived {
            let mut topic = topic;
            topic["subscribers"] = Json::Array(subscribers);
            run.restore(sink, "topics", Restorable::Topic, &topic);
        }
    }

    let listed = source.keys(&mut |page| {
        for key in page {
            if run.count("keys", &id(&key), sink.key(&key), 1) {
                run.restore(sink, "keys", Restorable::Key, &key);
                let reason =
                    "no one can read a key's secret back: the target's key has a new one, shown there";
                run.summary.not_carried.entry(("keys", reason.into())).or_default().insert("secret".into());
            }
        }
        Ok(())
    });
    run.not_listed("keys", listed);

    for bar in run.bars.values() {
        bar.finish();
    }
    sink.finish(&run.summary)?;
    Ok(run.summary)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Two users and a team with one member; nothing else.
    struct Project;

    type Each<'a> = &'a mut dyn FnMut(Vec<Json>) -> Result<()>;

    impl Source for Project {
        fn describe(&self) -> String {
            "test project".into()
        }
        fn users(&self, each: Each) -> Result<()> {
            each(vec![
                json!({"$id": "u1", "$createdAt": "t0", "$updatedAt": "t1", "passwordUpdate": ""}),
                json!({"$id": "u2", "$createdAt": "t0", "$updatedAt": "t1", "passwordUpdate": "t1", "mfa": true, "totp": true}),
            ])
        }
        fn teams(&self, each: Each) -> Result<()> {
            each(vec![json!({"$id": "t", "$createdAt": "t0", "$updatedAt": "t1"})])
        }
        fn memberships(&self, _: &str, each: Each) -> Result<()> {
            each(vec![json!({"$id": "m", "$createdAt": "t0", "teamId": "t", "userId": "u1"})])
        }
        fn databases(&self, _: Each) -> Result<()> {
            Ok(())
        }
        fn collections(&self, _: &str, _: Each) -> Result<()> {
            Ok(())
        }
        fn documents(&self, _: &str, _: &str, _: Each) -> Result<()> {
            Ok(())
        }
        fn buckets(&self, _: Each) -> Result<()> {
            Ok(())
        }
        fn files(&self, _: &str, _: Each) -> Result<()> {
            Ok(())
        }
        fn file_range(&self, _: &str, _: &str, _: u64, _: u64) -> Result<Vec<u8>> {
            Ok(Vec::new())
        }
        fn functions(&self, _: Each) -> Result<()> {
            Ok(())
        }
        fn variables(&self, _: &str, _: Each) -> Result<()> {
            Ok(())
        }
        fn deployments(&self, _: &str, _: Each) -> Result<()> {
            Ok(())
        }
        fn deployment_code(&self, _: &str, _: &str) -> Result<Vec<u8>> {
            Ok(Vec::new())
        }
        fn providers(&self, _: Each) -> Result<()> {
            Ok(())
        }
        fn topics(&self, _: Each) -> Result<()> {
            Ok(())
        }
        fn subscribers(&self, _: &str, _: Each) -> Result<()> {
            Ok(())
        }
        fn keys(&self, _: Each) -> Result<()> {
            Ok(())
        }
    }

    /// A target that takes every resource but none of their system fields (as Appwrite), and
    /// records what it was asked to restore, in order.
    #[derive(Default)]
    struct WithoutSystemFields {
        writes: Vec<String>,
    }

    impl Sink for WithoutSystemFields {
        fn user(&mut self, user: &Json) -> Result<Outcome> {
            self.writes.push(format!("user {}", user["$id"]));
            Ok(Outcome::Written)
        }
        fn team(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn membership(&mut self, m: &Json) -> Result<Outcome> {
            self.writes.push(format!("membership {}", m["$id"]));
            Ok(Outcome::Written)
        }
        fn database(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn collection(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn relationships(&mut self, _: &Json) -> Result<()> {
            Ok(())
        }
        fn documents(&mut self, _: &str, _: &str, documents: &[Json]) -> Result<usize> {
            Ok(documents.len())
        }
        fn bucket(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn file(&mut self, _: &Json, _: &dyn Source) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn function(&mut self, _: &Json, _: &[Json]) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn deployment(&mut self, _: &Json, _: bool, _: &dyn Source) -> Result<(Outcome, Option<String>)> {
            Ok((Outcome::Written, None))
        }
        fn provider(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn topic(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn subscriber(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn key(&mut self, _: &Json) -> Result<Outcome> {
            Ok(Outcome::Written)
        }
        fn restore(&mut self, kind: Restorable, record: &Json) -> Result<Restored> {
            self.writes.push(format!("restore {kind:?} {}", record["$id"]));
            let (_, _, fields) = crate::records::system_fields(kind, record).expect("version 2 records");
            Ok(Restored::NotCarried { fields, reason: "not edgewrite".into() })
        }
        fn finish(&mut self, _: &Summary) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_a_target_cannot_take_are_reported_per_kind_and_not_counted_lost() {
        let mut sink = WithoutSystemFields::default();
        let summary = run(&Project, &mut sink).unwrap();
        assert_eq!(summary.lost(), 0, "the resources themselves arrived");
        let users = &summary.not_carried[&("users", "not edgewrite".to_string())];
        assert_eq!(*users, ["$createdAt", "$updatedAt", "passwordUpdate"].map(String::from).into());
        let totp = summary
            .not_carried
            .iter()
            .find(|((kind, reason), _)| *kind == "users" && reason.contains("authenticator"));
        assert_eq!(totp.map(|(_, fields)| fields.len()), Some(1), "a user's authenticator app is reported");
        let teams = &summary.not_carried[&("teams", "not edgewrite".to_string())];
        assert!(teams.iter().any(|f| f.starts_with("memberships'")));
        // A team's times are restored after its memberships, which change them.
        assert_eq!(
            sink.writes,
            [
                "user \"u1\"",
                "restore User \"u1\"",
                "user \"u2\"",
                "restore User \"u2\"",
                "membership \"m\"",
                "restore Team \"t\"",
            ]
        );
    }
}
