//! The ports inside a project's object, where it serves the project's requests: SQL is the
//! object's own SQLite (synchronous calls inside `transactionSync`), events go straight to its
//! sockets, blobs to R2 and jobs to the queue as in the Worker. While a serving waits on work
//! left to the Worker (Argon2, see [`ObjectOffload`]) its side effects are refused, so the
//! serving can be thrown away and the request served again with that work done.

use std::cell::RefCell;

use async_trait::async_trait;
use edgewrite_core::ports::{
    Blobs, ByteRange, Clock, Event, Events, Job, Jobs, Offload, Outbound, Random, Rows, Secrets, Sql,
    Statement, StoreError, Task, TaskOutput,
};
use edgewrite_core::{ProjectStores, Runtime};

use crate::project_object::{LocalSql, ProjectDatabase};
use crate::wire::{Announcement, Done};

/// Offloading as the object does it: a task the Worker already did is answered from its
/// output; a new one is recorded and answered with the handler's expectation, and the serving
/// becomes *deferred* — its answer is thrown away and the Worker is asked for the tasks. A
/// serving that repeats one (the Worker's outputs came with it) does any task still missing
/// itself, so a request crosses at most twice.
pub(crate) struct ObjectOffload {
    done: Done,
    repeat: bool,
    pending: RefCell<Vec<Task>>,
}

impl ObjectOffload {
    pub(crate) fn new(done: Option<Done>) -> Self {
        ObjectOffload { repeat: done.is_some(), done: done.unwrap_or_default(), pending: RefCell::default() }
    }

    /// Whether this serving waits on tasks, and must have no side effects.
    pub(crate) fn deferring(&self) -> bool {
        !self.pending.borrow().is_empty()
    }

    pub(crate) fn take_pending(&self) -> Vec<Task> {
        std::mem::take(&mut self.pending.borrow_mut())
    }

    fn refuse_effects(&self) -> Result<(), StoreError> {
        if self.deferring() {
            Err(StoreError::Deferred)
        } else {
            Ok(())
        }
    }
}

impl Offload for ObjectOffload {
    fn output(&self, task: &Task, speculate: TaskOutput) -> Option<TaskOutput> {
        if let Some((_, output)) = self.done.iter().find(|(done, _)| done == task) {
            return Some(output.clone());
        }
        if self.repeat {
            return None;
        }
        let mut pending = self.pending.borrow_mut();
        if !pending.contains(task) {
            pending.push(task.clone());
        }
        Some(speculate)
    }

    fn repeat(&self) -> bool {
        self.repeat
    }
}

/// The runtime a request served by the object sees.
pub(crate) struct ObjectRuntime<'a> {
    pub(crate) object: &'a ProjectDatabase,
    /// The project this object is; it opens no other.
    pub(crate) project: String,
    pub(crate) offload: ObjectOffload,
    pub(crate) secrets: crate::EnvSecrets<'a>,
    pub(crate) jobs: crate::QueueJobs<'a>,
}

#[async_trait(?Send)]
impl Runtime for ObjectRuntime<'_> {
    fn secrets(&self) -> &dyn Secrets {
        &self.secrets
    }
    fn clock(&self) -> &dyn Clock {
        &crate::WorkerClock
    }
    fn random(&self) -> &dyn Random {
        &crate::CryptoRandom
    }
    fn outbound(&self) -> &dyn Outbound {
        &crate::outbound::WorkerOutbound
    }
    fn jobs(&self) -> &dyn Jobs {
        self
    }
    fn offload(&self) -> &dyn Offload {
        &self.offload
    }

    async fn open_project<'s>(&'s self, project: &str) -> Result<ProjectStores<'s>, StoreError> {
        if project != self.project {
            return Err(StoreError::Unavailable(format!("project {project} is served by another object")));
        }
        let env = self.object.env();
        let bucket = env.bucket(crate::BLOBS_BINDING).map_err(crate::binding_error(crate::BLOBS_BINDING))?;
        let kv = env.kv(crate::CACHE_BINDING).map_err(crate::binding_error(crate::CACHE_BINDING))?;
        let guard = &self.offload;
        Ok(ProjectStores {
            sql: Box::new(Guarded { inner: self.object.sql(), guard }),
            blobs: Box::new(Guarded {
                inner: crate::stores::R2Blobs { bucket, prefix: format!("{project}/") },
                guard,
            }),
            kv: Box::new(crate::stores::KvCache { store: kv, prefix: format!("{project}:") }),
            events: Box::new(Guarded { inner: self.object, guard }),
        })
    }
}

/// Jobs are side effects too.
#[async_trait(?Send)]
impl Jobs for ObjectRuntime<'_> {
    async fn enqueue(&self, job: Job, delay_secs: u32) -> Result<bool, StoreError> {
        self.offload.refuse_effects()?;
        self.jobs.enqueue(job, delay_secs).await
    }

    fn queues(&self) -> bool {
        self.jobs.queues()
    }
}

/// A store whose writes are refused while the serving is deferred.
struct Guarded<'a, T> {
    inner: T,
    guard: &'a ObjectOffload,
}

/// Whether a statement only reads (anything else counts as a write).
pub(crate) fn reads_only(statement: &Statement) -> bool {
    statement.sql.trim_start().get(..6).is_some_and(|head| head.eq_ignore_ascii_case("select"))
}

#[async_trait(?Send)]
impl Sql for Guarded<'_, LocalSql<'_>> {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        if !statements.iter().all(reads_only) {
            self.guard.refuse_effects()?;
        }
        self.inner.batch(statements).await
    }
}

#[async_trait(?Send)]
impl Blobs for Guarded<'_, crate::stores::R2Blobs> {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.guard.refuse_effects()?;
        self.inner.put(key, bytes).await
    }
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key, range).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.guard.refuse_effects()?;
        self.inner.delete(key).await
    }
}

/// A write's events go to this object's own sockets, in commit order.
#[async_trait(?Send)]
impl Events for Guarded<'_, &ProjectDatabase> {
    async fn publish(&self, seq: Option<i64>, events: Vec<Event>) -> Result<(), StoreError> {
        self.guard.refuse_effects()?;
        self.inner.announce(Announcement { seq, events }).await;
        Ok(())
    }
}
