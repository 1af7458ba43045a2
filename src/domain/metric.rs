//! Metric (contract section 7, reference F): documents keyed by cluster,
//! namespace, type and name in the metric database, one collection per
//! cluster. Unlike dynamic resources, deleting a missing metric is a 404.

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::dynamic::{check_resource_type, check_segment, parse_put_body, renderer};
use super::params::{
    ExtraMode, ExtraText, RawParams, parse_extra, parse_field, parse_limit, parse_offset,
};
use super::{DomainError, Service};
use crate::model::{Database, Filter, Namespace, Query, date_value};

/// Natural key of metric documents, in sort order.
pub const METRIC_KEY: &[&str] = &["clusterId", "namespace", "type", "name"];

/// Where a metric route points.
#[derive(Debug, Clone)]
pub struct MetricPath {
    pub cluster_id: String,
    pub namespace: String,
    pub metric_type: String,
    pub name: String,
}

pub(crate) fn namespace_of(cluster_id: &str) -> Result<Namespace, DomainError> {
    check_segment("clusterId", cluster_id)?;
    // The cluster names the collection.
    check_resource_type(cluster_id)
        .map_err(|_| DomainError::param("clusterId", "is not a valid collection name"))?;
    Ok(Namespace {
        database: Database::Metric,
        collection: cluster_id.to_owned(),
        key_fields: METRIC_KEY,
    })
}

impl MetricPath {
    fn validate(&self) -> Result<Namespace, DomainError> {
        check_segment("namespace", &self.namespace)?;
        check_segment("type", &self.metric_type)?;
        check_segment("name", &self.name)?;
        namespace_of(&self.cluster_id)
    }

    fn filter(&self) -> Filter {
        let s = |v: &str| Value::String(v.to_owned());
        Filter::and([
            Filter::Eq("clusterId".into(), s(&self.cluster_id)),
            Filter::Eq("namespace".into(), s(&self.namespace)),
            Filter::Eq("type".into(), s(&self.metric_type)),
            Filter::Eq("name".into(), s(&self.name)),
        ])
    }
}

/// PUT: upsert `{"data": <any>}`.
pub async fn put(svc: &Service, path: &MetricPath, body: &[u8]) -> Result<(), DomainError> {
    let data = parse_put_body(body)?;
    upsert_data(svc, path, data).await?;
    Ok(())
}

/// Upserts one metric whose `data` (keys escaped) is given; true when it
/// was created.
pub async fn upsert_data(
    svc: &Service,
    path: &MetricPath,
    data: Value,
) -> Result<bool, DomainError> {
    let ns = path.validate()?;
    let now = date_value(svc.clock.now());
    let mut doc = super::new_document();
    doc.insert("clusterId".into(), Value::String(path.cluster_id.clone()));
    doc.insert("namespace".into(), Value::String(path.namespace.clone()));
    doc.insert("type".into(), Value::String(path.metric_type.clone()));
    doc.insert("name".into(), Value::String(path.name.clone()));
    doc.insert("data".into(), data);
    doc.insert("createTime".into(), now.clone());
    doc.insert("updateTime".into(), now);
    Ok(svc.store.upsert(&ns, doc).await?.created)
}

/// GET one: the document; 404 when absent.
pub async fn get(svc: &Service, path: &MetricPath) -> Result<String, DomainError> {
    let ns = path.validate()?;
    let mut q = Query::new(path.filter());
    q.limit = Some(1);
    let mut items = svc.store.find_text(&ns, &q, renderer()).await?;
    match items.next().await {
        Some(text) => Ok(text?),
        None => Err(DomainError::NotFound),
    }
}

/// DELETE one: a missing metric is a 404, as in the running service.
pub async fn delete(svc: &Service, path: &MetricPath) -> Result<(), DomainError> {
    let ns = path.validate()?;
    match svc.store.delete_many(&ns, &path.filter()).await? {
        0 => Err(DomainError::NotFound),
        _ => Ok(()),
    }
}

/// GET `/metric/clusters/{clusterId}`: `namespace`, `type`, `name` comma
/// lists, `extra` equality, `field`, paging.
pub async fn list(
    svc: &Service,
    cluster_id: &str,
    raw: &RawParams,
) -> Result<impl Stream<Item = Result<String, DomainError>> + Send + 'static, DomainError> {
    let ns = namespace_of(cluster_id)?;
    let mut parts = vec![Filter::Eq(
        "clusterId".into(),
        Value::String(cluster_id.to_owned()),
    )];
    for name in ["namespace", "type", "name"] {
        for (_, v) in raw.0.iter().filter(|(k, v)| k == name && !v.is_empty()) {
            parts.push(Filter::In(
                name.to_owned(),
                v.split(',').map(|s| Value::String(s.to_owned())).collect(),
            ));
        }
    }
    if let Some(e) = raw.single("extra")? {
        parts.extend(parse_extra(e, ExtraMode::Equal, ExtraText::Base64OrJson)?);
    }
    let mut q = Query::new(Filter::and(parts));
    q.projection = parse_field(raw)?;
    q.skip = parse_offset(raw)?;
    q.limit = Some(parse_limit(raw, &svc.limits)?);
    let items = svc.store.find_text(&ns, &q, renderer()).await?;
    Ok(items.map(|r| r.map_err(DomainError::from)))
}

/// GET `/metric/clusters`: the clusters that have (or had) metrics.
pub async fn clusters(svc: &Service) -> Result<Vec<String>, DomainError> {
    Ok(svc.store.list_collections(Database::Metric).await?)
}
