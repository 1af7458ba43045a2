//! bcs-storage semantics, transport-neutral: resource addressing, key
//! escaping, createTime/updateTime, query parameter meaning, the views
//! returned to clients.

pub mod alarms;
pub mod cluster;
pub mod cluster_config;
pub mod custom;
pub mod dynamic;
pub mod escape;
pub mod events;
pub mod export;
pub mod host;
pub mod kube;
pub mod labels;
pub mod metric;
pub mod multicluster;
pub mod params;
pub mod query;
pub mod retention;
pub mod timefill;
pub mod times;
pub mod view;
pub mod watch;
pub mod watchkv;

use std::sync::Arc;

use crate::config::QuerySettings;
use crate::store::{Store, StoreError};

/// A page of a list whose reply also says `total`, `pageSize`, `offset`.
pub struct Page<S> {
    /// Documents as wire JSON text, streamed.
    pub items: S,
    /// Every match, not only this page.
    pub total: u64,
    /// The limit used.
    pub page_size: u64,
    pub offset: u64,
}

/// Creates the indexes the query tables rely on (idempotent). Called at
/// start-up, before any request is served.
pub async fn prepare(store: &dyn Store) -> Result<(), StoreError> {
    for (ns, spec) in query::index_specs() {
        store.ensure_index(&ns, &spec).await?;
    }
    Ok(())
}

/// A new stored document: only its fresh `_id` (an ObjectId in hex).
pub(crate) fn new_document() -> crate::model::Document {
    let mut doc = crate::model::Document::new();
    doc.insert(
        "_id".into(),
        serde_json::Value::String(bson::oid::ObjectId::new().to_hex()),
    );
    doc
}

pub use crate::clock::{Clock, SystemClock};

/// Everything a request needs: the store, the clock, the query limits.
#[derive(Clone)]
pub struct Service {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub limits: QuerySettings,
    /// Open watch streams and their shutdown.
    pub watch: Arc<watch::WatchHub>,
    /// The background run that keeps time instants right (for `/readyz`).
    pub times: Arc<timefill::TimeFill>,
}

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A query or path parameter is malformed; `0` names it.
    #[error("invalid parameter {0}: {1}")]
    InvalidParameter(String, String),
    /// The request body is malformed.
    #[error("{0}")]
    InvalidBody(String),
    /// The addressed document does not exist.
    #[error("resource does not exist")]
    NotFound,
    /// A list request lacks what it must have (answered with the list
    /// failure code, as the running service does, but as a 400).
    #[error("invalid parameter {0}: {1}")]
    ListParameter(String, String),
    /// Something else the request names does not exist; says what.
    #[error("{0}")]
    Missing(String),
    /// The service is at a limit it was configured with; retry later.
    #[error("{0}")]
    Overloaded(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError {
    /// Shorthand for an invalid parameter.
    pub fn param(name: &str, why: impl Into<String>) -> DomainError {
        DomainError::InvalidParameter(name.to_owned(), why.into())
    }
}
