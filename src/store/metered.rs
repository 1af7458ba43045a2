//! A [`Store`] that counts and times every operation of the store it wraps
//! (`bkbcs_storage_driver_<backend>_total` and `..._latency_seconds`, by
//! `method` and `status`). A read is timed until its stream is handed out:
//! the query's start, not the reading of its documents.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus::{HistogramVec, IntCounterVec};

use super::IndexSpec;
use super::{ChangeFeed, DocStream, FieldGuard, Store, StoreError, TextMap, TextStream, Versions};
use crate::model::{Database, Document, Expect, Filter, Namespace, Query, WriteOutcome};

/// The wrapped store and its metric families.
pub struct Metered {
    inner: Arc<dyn Store>,
    ops: IntCounterVec,
    latency: HistogramVec,
}

impl Metered {
    pub fn new(inner: Arc<dyn Store>) -> Metered {
        let (ops, latency) = crate::metrics::global().store(inner.name());
        Metered {
            ops: ops.clone(),
            latency: latency.clone(),
            inner,
        }
    }

    async fn time<T>(
        &self,
        method: &str,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let r = op.await;
        // Answers the caller expects (absent, conflicting, expired) are not
        // failures of the store.
        let status = match &r {
            Ok(_) | Err(StoreError::NotFound | StoreError::Conflict(_) | StoreError::Expired) => {
                "SUCCESS"
            }
            Err(StoreError::InvalidFilter(_)) => "INVALID",
            Err(StoreError::Unavailable(_)) => "UNAVAILABLE",
            Err(StoreError::Internal(_)) => "FAILURE",
        };
        let labels = [method, status];
        self.ops.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(started.elapsed().as_secs_f64());
        r
    }
}

#[async_trait]
impl Store for Metered {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.time("ping", self.inner.ping()).await
    }

    async fn upsert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError> {
        self.time("upsert", self.inner.upsert(ns, doc)).await
    }

    async fn upsert_if(
        &self,
        ns: &Namespace,
        doc: Document,
        expect: Expect<'_>,
    ) -> Result<WriteOutcome, StoreError> {
        self.time("upsert_if", self.inner.upsert_if(ns, doc, expect))
            .await
    }

    async fn delete_if(
        &self,
        ns: &Namespace,
        key: &Document,
        version: &str,
    ) -> Result<(), StoreError> {
        self.time("delete_if", self.inner.delete_if(ns, key, version))
            .await
    }

    fn versions(&self) -> Versions {
        self.inner.versions()
    }

    async fn merge(
        &self,
        ns: &Namespace,
        doc: Document,
        set: &[&str],
    ) -> Result<WriteOutcome, StoreError> {
        self.time("merge", self.inner.merge(ns, doc, set)).await
    }

    async fn update_many(
        &self,
        ns: &Namespace,
        filter: &Filter,
        set: &Document,
    ) -> Result<u64, StoreError> {
        self.time("update_many", self.inner.update_many(ns, filter, set))
            .await
    }

    async fn insert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError> {
        self.time("insert", self.inner.insert(ns, doc)).await
    }

    async fn insert_once(
        &self,
        ns: &Namespace,
        fields: &[&str],
        doc: Document,
    ) -> Result<bool, StoreError> {
        self.time("insert_once", self.inner.insert_once(ns, fields, doc))
            .await
    }

    async fn upsert_on(
        &self,
        ns: &Namespace,
        fields: &[String],
        doc: Document,
    ) -> Result<WriteOutcome, StoreError> {
        self.time("upsert_on", self.inner.upsert_on(ns, fields, doc))
            .await
    }

    async fn create_unique_index(
        &self,
        ns: &Namespace,
        name: &str,
        fields: &[String],
    ) -> Result<bool, StoreError> {
        self.time(
            "create_unique_index",
            self.inner.create_unique_index(ns, name, fields),
        )
        .await
    }

    async fn drop_unique_index(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        self.time("drop_unique_index", self.inner.drop_unique_index(ns, name))
            .await
    }

    async fn unique_indexes(
        &self,
        ns: &Namespace,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        self.time("unique_indexes", self.inner.unique_indexes(ns))
            .await
    }

    async fn set_internal_field(
        &self,
        ns: &Namespace,
        doc: &Document,
        field: &str,
        value: serde_json::Value,
        guard: FieldGuard<'_>,
    ) -> Result<bool, StoreError> {
        self.time(
            "set_internal_field",
            self.inner.set_internal_field(ns, doc, field, value, guard),
        )
        .await
    }

    async fn find(&self, ns: &Namespace, query: &Query) -> Result<DocStream, StoreError> {
        self.time("find", self.inner.find(ns, query)).await
    }

    async fn find_text(
        &self,
        ns: &Namespace,
        query: &Query,
        map: TextMap,
    ) -> Result<TextStream, StoreError> {
        self.time("find", self.inner.find_text(ns, query, map))
            .await
    }

    async fn distinct(
        &self,
        ns: &Namespace,
        path: &str,
        filter: &Filter,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        self.time("distinct", self.inner.distinct(ns, path, filter))
            .await
    }

    async fn explain(&self, ns: &Namespace, query: &Query) -> Result<String, StoreError> {
        self.inner.explain(ns, query).await
    }

    async fn changes(&self, ns: &Namespace, since: Option<&str>) -> Result<ChangeFeed, StoreError> {
        self.time("watch", self.inner.changes(ns, since)).await
    }

    async fn revision(&self, ns: &Namespace) -> Result<String, StoreError> {
        self.time("revision", self.inner.revision(ns)).await
    }

    async fn ensure_index(&self, ns: &Namespace, spec: &IndexSpec) -> Result<(), StoreError> {
        self.time("ensure_index", self.inner.ensure_index(ns, spec))
            .await
    }

    async fn count(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        self.time("count", self.inner.count(ns, filter)).await
    }

    async fn delete_many(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        self.time("delete_many", self.inner.delete_many(ns, filter))
            .await
    }

    async fn list_collections(&self, database: Database) -> Result<Vec<String>, StoreError> {
        self.time("list_collections", self.inner.list_collections(database))
            .await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}
