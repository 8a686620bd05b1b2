//! The ports over Cloudflare bindings: SQL through the project's Durable Object, blobs in R2,
//! the cache in Workers KV.

use std::cell::Cell;

use async_trait::async_trait;
use edgewrite_core::ports::{Blobs, ByteRange, Kv, Rows, Sql, Statement, StoreError};
use worker::{Bucket, Headers, KvStore, Method, Range, Request, RequestInit, Stub};

use crate::wire::{BatchReply, WireStatement};

fn unavailable(what: &str) -> impl Fn(worker::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("{what}: {e}"))
}

/// SQL statements sent to the project's `ProjectDatabase` object (by the few routes the Worker
/// serves itself), each batch one crossing.
pub struct DurableSql<'a> {
    pub stub: Stub,
    pub crossings: &'a Cell<u32>,
}

#[async_trait(?Send)]
impl Sql for DurableSql<'_> {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Rows>, StoreError> {
        self.crossings.set(self.crossings.get() + 1);
        let wire: Vec<WireStatement> = statements.iter().map(WireStatement::from).collect();
        let body = serde_json::to_string(&wire).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let headers = Headers::new();
        headers.set("content-type", "application/json").map_err(unavailable("headers"))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let req = Request::new_with_init("https://project-database/batch", &init)
            .map_err(unavailable("request"))?;
        let mut resp = self.stub.fetch_with_request(req).await.map_err(unavailable("durable object"))?;
        match resp.json::<BatchReply>().await.map_err(unavailable("durable object reply"))? {
            BatchReply::Ok(rows) => rows.into_iter().map(|r| r.into_rows()).collect(),
            BatchReply::Err(e) => Err(e.into()),
        }
    }
}

/// Blobs in R2 under `<project>/`.
pub struct R2Blobs {
    pub bucket: Bucket,
    pub prefix: String,
}

#[async_trait(?Send)]
impl Blobs for R2Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.bucket
            .put(format!("{}{key}", self.prefix), bytes)
            .execute()
            .await
            .map_err(unavailable("r2 put"))?;
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<Vec<u8>>, StoreError> {
        let key = format!("{}{key}", self.prefix);
        let Some(range) = range else {
            let Some(object) = self.bucket.get(key).execute().await.map_err(unavailable("r2 get"))? else {
                return Ok(None);
            };
            return match object.body() {
                Some(body) => body.bytes().await.map(Some).map_err(unavailable("r2 body")),
                None => Ok(Some(Vec::new())),
            };
        };
        // R2 rejects ranges past the end; clamp them to the object's size first.
        let Some(head) = self.bucket.head(key.clone()).await.map_err(unavailable("r2 head"))? else {
            return Ok(None);
        };
        let end = range.end.min(head.size());
        let start = range.start.min(end);
        if start == end {
            return Ok(Some(Vec::new()));
        }
        let object = self
            .bucket
            .get(key)
            .range(Range::OffsetWithLength { offset: start, length: end - start })
            .execute()
            .await
            .map_err(unavailable("r2 get range"))?;
        let Some(object) = object else { return Ok(None) };
        match object.body() {
            Some(body) => body.bytes().await.map(Some).map_err(unavailable("r2 body")),
            None => Ok(Some(Vec::new())),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.bucket.delete(format!("{}{key}", self.prefix)).await.map_err(unavailable("r2 delete"))
    }
}

/// The Workers KV cache under `<project>:`.
pub struct KvCache {
    pub store: KvStore,
    pub prefix: String,
}

fn kv_error(e: worker::kv::KvError) -> StoreError {
    StoreError::Unavailable(format!("kv: {e}"))
}

#[async_trait(?Send)]
impl Kv for KvCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(&format!("{}{key}", self.prefix)).bytes().await.map_err(kv_error)
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_secs: Option<u32>) -> Result<(), StoreError> {
        let mut put = self.store.put_bytes(&format!("{}{key}", self.prefix), &value).map_err(kv_error)?;
        if let Some(ttl) = ttl_secs {
            // Workers KV refuses TTLs under 60 s.
            put = put.expiration_ttl(u64::from(ttl.max(60)));
        }
        put.execute().await.map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(&format!("{}{key}", self.prefix)).await.map_err(kv_error)
    }
}

/// Realtime events go to the project's object, which holds the project's sockets and fans each
/// event out to the connections that may read it.
pub struct ProjectEvents<'a> {
    pub stub: Stub,
    pub crossings: &'a Cell<u32>,
}

#[async_trait(?Send)]
impl edgewrite_core::ports::Events for ProjectEvents<'_> {
    async fn publish(
        &self,
        seq: Option<i64>,
        events: Vec<edgewrite_core::ports::Event>,
    ) -> Result<(), StoreError> {
        self.crossings.set(self.crossings.get() + 1);
        let body = serde_json::to_string(&crate::wire::Announcement { seq, events })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req = Request::new_with_init("https://project-database/publish", &init)
            .map_err(unavailable("request"))?;
        self.stub.fetch_with_request(req).await.map_err(unavailable("durable object"))?;
        Ok(())
    }
}
