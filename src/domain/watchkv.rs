//! Watch key/value data (contract section 7, reference B.6): small JSON
//! objects agents publish per cluster, namespace, type and name, kept in the
//! watch database instead of ZooKeeper. GET answers the stored object as it
//! was PUT; the list answers the objects of a namespace and type.

use futures::TryStreamExt;
use serde_json::Value;

use super::dynamic::{ResourcePath, check_segment};
use super::escape::escape_value;
use super::params::{RawParams, parse_limit, parse_offset};
use super::view;
use super::{DomainError, Service};
use crate::model::{Database, Document, Filter, Namespace, Query, date_value};

/// Natural key of watch documents, in sort order.
pub const WATCH_KEY: &[&str] = &["env", "clusterId", "namespace", "resourceName"];

/// Where a watch route points.
#[derive(Debug, Clone)]
pub struct WatchPath {
    /// `k8s` or `mesos`: the two trees are apart, as in ZooKeeper.
    pub env: String,
    pub cluster_id: String,
    pub namespace: String,
    pub resource_type: String,
    /// `Some` on single-object routes.
    pub resource_name: Option<String>,
}

impl WatchPath {
    fn validate(&self) -> Result<(), DomainError> {
        ResourcePath {
            cluster_id: self.cluster_id.clone(),
            namespace: Some(self.namespace.clone()),
            resource_type: self.resource_type.clone(),
            resource_name: self.resource_name.clone(),
        }
        .validate()?;
        check_segment("env", &self.env)
    }

    fn namespace(&self) -> Namespace {
        Namespace {
            database: Database::Watch,
            collection: self.resource_type.clone(),
            key_fields: WATCH_KEY,
        }
    }

    fn filter(&self) -> Filter {
        let s = |v: &str| Value::String(v.to_owned());
        let mut parts = vec![
            Filter::Eq("env".into(), s(&self.env)),
            Filter::Eq("clusterId".into(), s(&self.cluster_id)),
            Filter::Eq("namespace".into(), s(&self.namespace)),
        ];
        if let Some(n) = &self.resource_name {
            parts.push(Filter::Eq("resourceName".into(), s(n)));
        }
        Filter::and(parts)
    }
}

/// PUT: stores `{"data": <object>}`; anything but an object is a 400.
pub async fn put(svc: &Service, path: &WatchPath, body: &[u8]) -> Result<(), DomainError> {
    path.validate()?;
    let Some(name) = &path.resource_name else {
        return Err(DomainError::param("resourceName", "missing"));
    };
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(mut m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object with a data object".into(),
        ));
    };
    let mut data = match m.remove("data") {
        Some(d @ Value::Object(_)) => d,
        Some(other) => {
            return Err(DomainError::InvalidBody(format!(
                "data must be a JSON object, not {other}"
            )));
        }
        None => {
            return Err(DomainError::InvalidBody(
                "request body has no data object".into(),
            ));
        }
    };
    escape_value(&mut data)?;
    let now = date_value(svc.clock.now());
    let mut doc = super::new_document();
    doc.insert("env".into(), Value::String(path.env.clone()));
    doc.insert("clusterId".into(), Value::String(path.cluster_id.clone()));
    doc.insert("namespace".into(), Value::String(path.namespace.clone()));
    doc.insert(
        "resourceType".into(),
        Value::String(path.resource_type.clone()),
    );
    doc.insert("resourceName".into(), Value::String(name.clone()));
    doc.insert("data".into(), data);
    doc.insert("createTime".into(), now.clone());
    doc.insert("updateTime".into(), now);
    svc.store.upsert(&path.namespace(), doc).await?;
    Ok(())
}

/// The `data` objects of the matching documents, keys restored.
async fn data_of(svc: &Service, path: &WatchPath, q: Query) -> Result<Vec<Value>, DomainError> {
    let docs: Vec<Document> = svc
        .store
        .find(&path.namespace(), &q)
        .await?
        .try_collect()
        .await?;
    Ok(docs
        .into_iter()
        .map(|d| {
            let mut shown = view::render(d);
            shown.remove("data").unwrap_or(Value::Null)
        })
        .collect())
}

/// GET one: the stored data object; 404 when absent.
pub async fn get(svc: &Service, path: &WatchPath) -> Result<Value, DomainError> {
    path.validate()?;
    let mut q = Query::new(path.filter());
    q.limit = Some(1);
    data_of(svc, path, q)
        .await?
        .into_iter()
        .next()
        .ok_or(DomainError::NotFound)
}

/// GET list: the data objects of a namespace and type, by name.
pub async fn list(
    svc: &Service,
    path: &WatchPath,
    raw: &RawParams,
) -> Result<Vec<Value>, DomainError> {
    path.validate()?;
    let mut q = Query::new(path.filter());
    q.skip = parse_offset(raw)?;
    q.limit = Some(parse_limit(raw, &svc.limits)?);
    data_of(svc, path, q).await
}

/// DELETE one (idempotent).
pub async fn delete(svc: &Service, path: &WatchPath) -> Result<(), DomainError> {
    path.validate()?;
    svc.store
        .delete_many(&path.namespace(), &path.filter())
        .await?;
    Ok(())
}
