//! Injected faults, for the suite only (`EDGEWRITE_TEST_ROUTES=1`): one port operation fails
//! once, at a chosen point, so a test can check that a write caught in the middle leaves
//! nothing half-done and that its retry succeeds.
//!
//! A request names the operation in `X-Edgewrite-Fault: <op>:<n>`: the `n`th operation of
//! that kind in the serving fails (`sql:3` is its third SQL batch or query). Operations: `sql`,
//! `blob.put`, `blob.get`, `blob.delete`, `kv.get`, `kv.put`, `kv.delete`, `jobs` (queueing a
//! job), `outbound` (an HTTP fetch or a TCP connect). `jobs.twice:<n>` fails nothing: the n-th
//! job is queued twice, as a queue that delivers a message again would. `job:<op>:<n>` fails
//! nothing in the request: it rides along in every job the request queues (its `testFault`), and
//! fails that operation in the job's run; a job queued again runs without it.

use std::cell::Cell;
use std::fmt;

use async_trait::async_trait;

use crate::ports::{
    Blobs, BoundedResponse, ByteRange, Connection, FetchBounds, Job, Jobs, Kv, Outbound, OutboundError,
    OutboundRequest, OutboundResponse, Ports, Rows, Sql, Statement, StoreError, Tls,
};

/// The request header that asks for a fault.
pub const FAULT_HEADER: &str = "x-edgewrite-fault";
/// The job payload key that carries a fault into a job's run.
pub const JOB_FAULT_KEY: &str = "testFault";
const JOB_PREFIX: &str = "job:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Sql,
    BlobPut,
    BlobGet,
    BlobDelete,
    KvGet,
    KvPut,
    KvDelete,
    Jobs,
    JobsTwice,
    Outbound,
}

impl Op {
    const ALL: [(Op, &'static str); 10] = [
        (Op::Sql, "sql"),
        (Op::BlobPut, "blob.put"),
        (Op::BlobGet, "blob.get"),
        (Op::BlobDelete, "blob.delete"),
        (Op::KvGet, "kv.get"),
        (Op::KvPut, "kv.put"),
        (Op::KvDelete, "kv.delete"),
        (Op::Jobs, "jobs"),
        (Op::JobsTwice, "jobs.twice"),
        (Op::Outbound, "outbound"),
    ];

    fn name(self) -> &'static str {
        Op::ALL.iter().find(|(op, _)| *op == self).map_or("?", |(_, name)| name)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation to fail once: the `at`th of kind `op`.
#[derive(Debug)]
pub struct Fault {
    op: Op,
    at: u32,
    seen: Cell<u32>,
}

impl Fault {
    /// `<op>:<n>` with `n` ≥ 1.
    pub fn parse(text: &str) -> Option<Fault> {
        let (name, at) = text.trim().rsplit_once(':')?;
        let op = Op::ALL.iter().find(|(_, n)| *n == name)?.0;
        let at = at.parse().ok().filter(|n| *n >= 1)?;
        Some(Fault { op, at, seen: Cell::new(0) })
    }

    /// Counts an operation of kind `op`: whether it is the chosen one.
    fn hit(&self, op: Op) -> bool {
        if op != self.op {
            return false;
        }
        let n = self.seen.get().saturating_add(1);
        self.seen.set(n);
        n == self.at
    }

    /// Counts an operation of kind `op`; the chosen one fails.
    fn check(&self, op: Op) -> Result<(), StoreError> {
        if !self.hit(op) {
            return Ok(());
        }
        tracing::warn!(%op, n = self.at, "injected fault");
        Err(StoreError::Unavailable(format!("injected fault: {op} #{}", self.at)))
    }

    fn check_outbound(&self) -> Result<(), OutboundError> {
        self.check(Op::Outbound).map_err(|e| OutboundError::Failed(e.to_string()))
    }

    /// Whether this job is the one to queue twice.
    fn twice(&self) -> bool {
        self.hit(Op::JobsTwice)
    }
}

/// What a request's fault header asks for: a fault in this serving, or one for the jobs it
/// queues (the text to hand them).
pub enum Requested {
    Here(Fault),
    InJobs(String),
}

/// The fault `header` asks for, if it names one.
pub fn requested(header: &str) -> Option<Requested> {
    match header.trim().strip_prefix(JOB_PREFIX) {
        Some(rest) => Fault::parse(rest).map(|_| Requested::InJobs(rest.trim().to_string())),
        None => Fault::parse(header).map(Requested::Here),
    }
}

/// The ports of one serving with a fault injected: each wrapped operation counts against
/// `fault`; `job_fault` is handed to every job queued.
pub struct Faulty<'a> {
    inner: Ports<'a>,
    fault: Option<Fault>,
    job_fault: Option<String>,
}

impl<'a> Faulty<'a> {
    pub fn new(inner: Ports<'a>, requested: Requested) -> Self {
        match requested {
            Requested::Here(fault) => Faulty { inner, fault: Some(fault), job_fault: None },
            Requested::InJobs(text) => Faulty { inner, fault: None, job_fault: Some(text) },
        }
    }

    /// The ports to serve with: these wrappers over the ones given.
    pub fn ports(&self) -> Ports<'_> {
        Ports { sql: self, blobs: self, kv: self, jobs: self, outbound: self, ..self.inner }
    }

    fn check(&self, op: Op) -> Result<(), StoreError> {
        self.fault.as_ref().map_or(Ok(()), |f| f.check(op))
    }

    fn check_outbound(&self) -> Result<(), OutboundError> {
        self.fault.as_ref().map_or(Ok(()), Fault::check_outbound)
    }
}

#[async_trait(?Send)]
impl Sql for Faulty<'_> {
    async fn query(&self, statement: Statement) -> Result<Rows, StoreError> {
        self.check(Op::Sql)?;
        self.inner.sql.query(statement).await
    }

    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        self.check(Op::Sql)?;
        self.inner.sql.batch(statements).await
    }
}

#[async_trait(?Send)]
impl Blobs for Faulty<'_> {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.check(Op::BlobPut)?;
        self.inner.blobs.put(key, bytes).await
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(Op::BlobGet)?;
        self.inner.blobs.get(key, range).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(Op::BlobDelete)?;
        self.inner.blobs.delete(key).await
    }
}

#[async_trait(?Send)]
impl Kv for Faulty<'_> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(Op::KvGet)?;
        self.inner.kv.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_secs: Option<u32>) -> Result<(), StoreError> {
        self.check(Op::KvPut)?;
        self.inner.kv.put(key, value, ttl_secs).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(Op::KvDelete)?;
        self.inner.kv.delete(key).await
    }
}

#[async_trait(?Send)]
impl Jobs for Faulty<'_> {
    async fn enqueue(&self, mut job: Job, delay_secs: u32) -> Result<bool, StoreError> {
        self.check(Op::Jobs)?;
        if let (Some(text), serde_json::Value::Object(payload)) = (&self.job_fault, &mut job.payload) {
            payload.insert(JOB_FAULT_KEY.into(), text.clone().into());
        }
        if self.fault.as_ref().is_some_and(Fault::twice)
            && !self.inner.jobs.enqueue(job.clone(), delay_secs).await?
        {
            return Ok(false);
        }
        self.inner.jobs.enqueue(job, delay_secs).await
    }

    fn queues(&self) -> bool {
        self.inner.jobs.queues()
    }
}

#[async_trait(?Send)]
impl Outbound for Faulty<'_> {
    async fn fetch(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        self.check_outbound()?;
        self.inner.outbound.fetch(request).await
    }

    async fn send_bounded(
        &self,
        request: OutboundRequest,
        bounds: FetchBounds,
    ) -> Result<BoundedResponse, OutboundError> {
        self.check_outbound()?;
        self.inner.outbound.send_bounded(request, bounds).await
    }

    async fn connect(&self, host: &str, port: u16, tls: Tls) -> Result<Box<dyn Connection>, OutboundError> {
        self.check_outbound()?;
        self.inner.outbound.connect(host, port, tls).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_names_an_operation_and_its_place() {
        let f = Fault::parse("sql:3").unwrap();
        assert_eq!((f.op, f.at), (Op::Sql, 3));
        assert_eq!(Fault::parse(" blob.put:1 ").map(|f| f.op), Some(Op::BlobPut));
        for bad in ["sql", "sql:0", "sql:-1", "disk:1", "sql:x", ""] {
            assert!(Fault::parse(bad).is_none(), "{bad}");
        }
        assert!(matches!(requested("job:outbound:1"), Some(Requested::InJobs(t)) if t == "outbound:1"));
        assert!(matches!(requested("kv.get:2"), Some(Requested::Here(_))));
        assert!(requested("job:nothing:1").is_none());
    }

    #[test]
    fn only_the_chosen_operation_fails_and_only_once() {
        let f = Fault::parse("sql:2").unwrap();
        assert!(f.check(Op::BlobPut).is_ok());
        assert!(f.check(Op::Sql).is_ok());
        assert!(matches!(f.check(Op::Sql), Err(StoreError::Unavailable(m)) if m.contains("sql #2")));
        assert!(f.check(Op::Sql).is_ok(), "a retry within the serving goes through");
        let twice = Fault::parse("jobs.twice:1").unwrap();
        assert!(twice.check(Op::Jobs).is_ok(), "queueing itself does not fail");
        assert!(twice.twice());
        assert!(!twice.twice(), "one job only");
    }
}
