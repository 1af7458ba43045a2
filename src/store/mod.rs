//! The storage trait every backend implements, its error categories, and
//! `open`, which picks the backend named by the configuration.

pub mod metered;
pub mod mongo;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::config::{Backend, Settings};
use crate::model::{Document, Expect, Filter, Namespace, Query, WriteOutcome};

/// A stream of stored documents (projection applied, keys still escaped).
pub type DocStream = BoxStream<'static, Result<Document, StoreError>>;

/// A document as JSON text, for [`Store::find_text`].
pub fn doc_text(doc: &Document) -> Result<String, StoreError> {
    serde_json::to_string(doc).map_err(|e| StoreError::Internal(e.to_string()))
}

/// What [`Store::find_text`] makes of each document's JSON text.
pub type TextMap = Arc<dyn Fn(&str) -> Result<String, StoreError> + Send + Sync>;

/// The results of [`Store::find_text`].
pub type TextStream = BoxStream<'static, Result<String, StoreError>>;

/// What a change did to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Add,
    Change,
    Delete,
}

/// One committed write as the change feed reports it. Shared (behind an
/// `Arc`) by every watcher that receives it: the document is parsed at most
/// once, and only when a watcher of its collection needs it, and a consumer
/// can keep one rendering for all of them.
#[derive(Debug)]
pub struct ChangeRecord {
    /// Opaque resume point: watching again from it yields what came after.
    pub revision: String,
    pub kind: ChangeKind,
    /// The document after the write (for a delete, the deleted document),
    /// as stored JSON text and/or parsed; at least one is set.
    text: std::sync::OnceLock<String>,
    doc: std::sync::OnceLock<Document>,
    /// A slot for the consumer's rendering (set once, shared).
    pub rendered: std::sync::OnceLock<String>,
    /// The document's version after the write where versions are not
    /// revisions ([`Versions::Stamps`]); `None` otherwise.
    pub version: Option<String>,
}

impl ChangeRecord {
    /// A record of a document given as its stored JSON text.
    pub fn from_text(revision: String, kind: ChangeKind, text: String) -> ChangeRecord {
        ChangeRecord {
            revision,
            kind,
            text: std::sync::OnceLock::from(text),
            doc: std::sync::OnceLock::new(),
            rendered: std::sync::OnceLock::new(),
            version: None,
        }
    }

    /// A record of a parsed document.
    pub fn from_doc(revision: String, kind: ChangeKind, doc: Document) -> ChangeRecord {
        ChangeRecord {
            revision,
            kind,
            text: std::sync::OnceLock::new(),
            doc: std::sync::OnceLock::from(doc),
            rendered: std::sync::OnceLock::new(),
            version: None,
        }
    }

    /// The document (parsed on first use; text that is not a JSON object,
    /// which no store writes, reads as an empty document).
    pub fn doc(&self) -> &Document {
        self.doc.get_or_init(|| {
            let text = self.text.get().map(String::as_str).unwrap_or("{}");
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => Document::new(),
            }
        })
    }

    /// The document as JSON text (serialised on first use).
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| {
            serde_json::to_string(self.doc.get().unwrap_or(&Document::new()))
                .unwrap_or_else(|_| "{}".into())
        })
    }
}

/// An item of a change feed.
#[derive(Debug, Clone)]
pub enum Change {
    /// A committed write in the watched collection.
    Event(Arc<ChangeRecord>),
    /// The feed has seen everything up to this revision (nothing more for
    /// this collection): a point a watcher may resume from.
    Progress(String),
}

/// The changes of one collection in commit order; ends with an error when
/// the feed cannot go on (the watcher fell behind: [`StoreError::Expired`];
/// the backend failed), and ends quietly when the store closes.
pub type ChangeFeed = BoxStream<'static, Result<Change, StoreError>>;

/// The condition under which [`Store::set_internal_field`] writes: a path
/// of the stored document (dotted, stored form) is absent, or holds this
/// string.
#[derive(Debug, Clone, Copy)]
pub enum FieldGuard<'a> {
    Absent(&'a str),
    Equals(&'a str, &'a str),
}

/// A secondary (non-unique) index: field paths in stored form, in order.
/// Natural-key fields may come first (`clusterId`); the stores place them
/// where their layout keeps the natural key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexSpec {
    pub fields: Vec<IndexField>,
}

/// One field of an [`IndexSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexField {
    pub path: String,
    /// The field holds stored instants (`{"$date": ms}`) that range
    /// conditions compare.
    pub instant: bool,
}

/// Failure categories of a store. The API maps each to one status and code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("revision expired")]
    Expired,
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Internal(String),
}

/// How a store's document versions (see [`Query::with_revision`]) relate to
/// its revisions (the positions of its change feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// A document's version is the revision of its last write (the embedded
    /// store numbers its writes): one text is both.
    Revisions,
    /// Versions are stamps a document carries, unrelated to the feed's
    /// positions (MongoDB resume tokens).
    Stamps,
}

impl Versions {
    /// The one text that names both a point of the feed to watch from (`at`,
    /// where the document was read or changed) and the document's version
    /// (a Kubernetes object's `resourceVersion`).
    pub fn object_revision<'a>(
        self,
        at: &'a str,
        version: Option<&'a str>,
    ) -> std::borrow::Cow<'a, str> {
        match (self, version) {
            (Versions::Revisions, Some(v)) => v.into(),
            (Versions::Stamps, Some(v)) => format!("{at}.{v}").into(),
            (_, None) => at.into(),
        }
    }

    /// The parts of an [`Versions::object_revision`] text: the point to
    /// watch from, and the version when the text names one.
    pub fn split(self, rv: &str) -> (&str, Option<&str>) {
        match self {
            Versions::Revisions => (rv, Some(rv)),
            Versions::Stamps => match rv.rsplit_once('.') {
                Some((at, v)) => (at, Some(v)),
                None => (rv, None),
            },
        }
    }
}

/// A document store with MongoDB query semantics.
///
/// Documents hold their natural key fields (see [`Namespace::key_fields`]);
/// `upsert` replaces the document with the same key but keeps its `_id` and
/// `createTime`. Reads never return deleted documents.
#[async_trait]
pub trait Store: Send + Sync {
    /// Backend name for logs ("sqlite", "mongodb").
    fn name(&self) -> &'static str;

    /// Cheap round trip proving the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Insert or replace the document with the same natural key, atomically.
    /// The stored `createTime` and `_id` of an existing document are kept.
    async fn upsert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError>;

    /// [`Store::upsert`] when the live document with `doc`'s natural key is
    /// as `expect` says, atomically: [`StoreError::Conflict`] when there is
    /// one and none was expected or its version differs,
    /// [`StoreError::NotFound`] when a version was expected and there is none,
    /// [`StoreError::InvalidFilter`] for a version this store cannot have
    /// issued.
    async fn upsert_if(
        &self,
        ns: &Namespace,
        doc: Document,
        expect: Expect<'_>,
    ) -> Result<WriteOutcome, StoreError>;

    /// Deletes the live document with the natural key of `key` (a document
    /// holding at least the key fields) when its version is `version`,
    /// atomically: [`StoreError::Conflict`] when its version differs,
    /// [`StoreError::NotFound`] when there is none,
    /// [`StoreError::InvalidFilter`] for a version this store cannot have
    /// issued. A change in the feed, like [`Store::delete_many`].
    async fn delete_if(
        &self,
        ns: &Namespace,
        key: &Document,
        version: &str,
    ) -> Result<(), StoreError>;

    /// How this store's versions relate to its revisions.
    fn versions(&self) -> Versions {
        Versions::Revisions
    }

    /// Sets the top-level fields named in `set` (taking their values from
    /// `doc`) on the live document with `doc`'s natural key, keeping its
    /// other fields; without one, inserts `doc`. Atomic, like
    /// [`Store::upsert`]: a concurrent write of the document's other fields
    /// is never undone.
    async fn merge(
        &self,
        ns: &Namespace,
        doc: Document,
        set: &[&str],
    ) -> Result<WriteOutcome, StoreError>;

    /// Sets the top-level fields of `set` on every live document matching
    /// `filter`, keeping the others (each is a change in the feed); returns
    /// how many were updated.
    async fn update_many(
        &self,
        ns: &Namespace,
        filter: &Filter,
        set: &Document,
    ) -> Result<u64, StoreError>;

    /// Insert a document of a collection without natural key (its `_id`
    /// is the key).
    async fn insert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError>;

    /// Insert a document of a collection without natural key unless a live
    /// document holds the same strings at every path of `fields`; a document
    /// without a string at each of them is always inserted. Atomic: of equal
    /// documents written at the same time, one is stored. False when an
    /// equal document was there (nothing is written).
    async fn insert_once(
        &self,
        ns: &Namespace,
        fields: &[&str],
        doc: Document,
    ) -> Result<bool, StoreError>;

    /// Insert, or replace the live document whose values at `fields` equal
    /// the new document's (missing = null), keeping its `_id` and
    /// `createTime`. For collections with a unique index on `fields`.
    async fn upsert_on(
        &self,
        ns: &Namespace,
        fields: &[String],
        doc: Document,
    ) -> Result<WriteOutcome, StoreError>;

    /// Creates a unique index named `name` on `fields`; false when an index
    /// of that name exists already (nothing is changed). Documents that
    /// already violate it make it fail with [`StoreError::Conflict`].
    async fn create_unique_index(
        &self,
        ns: &Namespace,
        name: &str,
        fields: &[String],
    ) -> Result<bool, StoreError>;

    /// Drops the index created by [`Store::create_unique_index`];
    /// [`StoreError::NotFound`] when there is none of that name.
    async fn drop_unique_index(&self, ns: &Namespace, name: &str) -> Result<(), StoreError>;

    /// The unique indexes made by [`Store::create_unique_index`]: name and
    /// fields, oldest first.
    async fn unique_indexes(
        &self,
        ns: &Namespace,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError>;

    /// Sets the internal top-level `field` of the document `doc` (as read:
    /// its `_id` and natural key identify it) when `guard` still holds, so
    /// that a write made since the document was read is never undone. Not a
    /// write clients see: no revision, no change event, `updateTime` kept.
    /// True when the document was changed.
    async fn set_internal_field(
        &self,
        ns: &Namespace,
        doc: &Document,
        field: &str,
        value: serde_json::Value,
        guard: FieldGuard<'_>,
    ) -> Result<bool, StoreError>;

    /// Matching documents in query order.
    async fn find(&self, ns: &Namespace, query: &Query) -> Result<DocStream, StoreError>;

    /// [`Store::find`] with each document given to `map` as its JSON text
    /// and the results streamed. A backend that keeps documents as text hands
    /// them over without a parse and a serialisation (most of the cost of a
    /// read), and runs `map` where it reads, off the request's thread.
    async fn find_text(
        &self,
        ns: &Namespace,
        query: &Query,
        map: TextMap,
    ) -> Result<TextStream, StoreError> {
        use futures::StreamExt;
        let docs = self.find(ns, query).await?;
        Ok(docs
            .map(move |r| r.and_then(|d| map(&doc_text(&d)?)))
            .boxed())
    }

    /// The distinct values at `path` among matching documents (an array
    /// there contributes its elements), in no particular order.
    async fn distinct(
        &self,
        ns: &Namespace,
        path: &str,
        filter: &Filter,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let docs = self
            .find(
                ns,
                &Query {
                    projection: Some(crate::model::Projection::new(vec![path.to_owned()])),
                    ..Query::new(filter.clone())
                },
            )
            .await?;
        distinct_of(docs, path).await
    }

    /// How the backend would run `query`, for diagnostics and tests (the
    /// SQLite query plan); empty where the backend does not say.
    async fn explain(&self, _ns: &Namespace, _query: &Query) -> Result<String, StoreError> {
        Ok(String::new())
    }

    /// The changes of `ns` committed after `since` (a revision this store
    /// handed out), or from now on without one, in commit order; starts with
    /// a [`Change::Progress`] naming where it starts. A `since` older than the
    /// retained history is [`StoreError::Expired`]; one this store cannot
    /// have issued is [`StoreError::InvalidFilter`].
    async fn changes(&self, ns: &Namespace, since: Option<&str>) -> Result<ChangeFeed, StoreError>;

    /// A revision of `ns` no older than any write committed before the
    /// call: a read started after it sees those writes, and the feed from it
    /// (`changes(ns, Some(rev))`) reports every later one.
    async fn revision(&self, ns: &Namespace) -> Result<String, StoreError>;

    /// Makes sure the index exists (idempotent, and cheap when repeated:
    /// called at start-up and before the first writes of per-cluster
    /// collections).
    async fn ensure_index(&self, ns: &Namespace, spec: &IndexSpec) -> Result<(), StoreError>;

    /// Number of matching documents.
    async fn count(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError>;

    /// Delete every matching document; returns how many were deleted.
    async fn delete_many(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError>;

    /// Collections of a logical database that hold (or held) documents.
    async fn list_collections(
        &self,
        database: crate::model::Database,
    ) -> Result<Vec<String>, StoreError>;

    /// Flush and stop background work; called once at shutdown.
    async fn close(&self) {}
}

/// The distinct values at `path` in a stream of documents.
pub async fn distinct_of(
    mut docs: DocStream,
    path: &str,
) -> Result<Vec<serde_json::Value>, StoreError> {
    use futures::StreamExt;
    let mut out: Vec<serde_json::Value> = Vec::new();
    while let Some(doc) = docs.next().await {
        let doc = serde_json::Value::Object(doc?);
        if let Some(v) = value_at(&doc, path) {
            add_distinct(&mut out, v.clone());
        }
    }
    Ok(out)
}

/// The value at a dotted path of a document (no array traversal).
pub fn value_at<'a>(doc: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(doc, |v, comp| v.get(comp))
}

/// Adds `v` to a list of distinct values; an array adds its elements.
pub fn add_distinct(out: &mut Vec<serde_json::Value>, v: serde_json::Value) {
    let items = match v {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
}

/// Open the configured backend.
pub async fn open(
    settings: &Settings,
    clock: Arc<dyn crate::clock::Clock>,
) -> Result<Arc<dyn Store>, StoreError> {
    let inner: Arc<dyn Store> = match settings.storage.backend {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::open(
            &settings.storage.sqlite,
            &settings.watch,
        )?),
        Backend::Mongodb => Arc::new(
            mongo::MongoStore::open(&settings.storage.mongodb, &settings.watch, clock).await?,
        ),
    };
    Ok(Arc::new(metered::Metered::new(inner)))
}
