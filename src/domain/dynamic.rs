//! Dynamic resources (reference B.1 #1-12): namespaced and cluster-scoped
//! documents keyed by (clusterId, namespace, resourceType, resourceName),
//! upserted by agents and listed by consoles.

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::escape::escape_value;
use super::params::{ListParams, ListUse, RawParams};
use super::times::SHADOW_FIELD;
use super::{DomainError, Service, view};
use crate::model::{Bound, Database, Filter, Namespace, Query, RangeOp, date_value};
use crate::store::{StoreError, TextMap};
use std::sync::{Arc, LazyLock};

/// Natural key of dynamic documents, in sort order.
pub const DYNAMIC_KEY: &[&str] = &["clusterId", "namespace", "resourceType", "resourceName"];

/// Where a dynamic route points.
#[derive(Debug, Clone)]
pub struct ResourcePath {
    pub cluster_id: String,
    /// `Some` on namespace_resources routes.
    pub namespace: Option<String>,
    pub resource_type: String,
    /// `Some` on single-resource routes.
    pub resource_name: Option<String>,
}

/// Validates one path segment given by a client.
pub fn check_segment(name: &str, value: &str) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::param(name, "must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(DomainError::param(
            name,
            format!("{value:?} is not a valid name"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::param(name, "contains control characters"));
    }
    if value.len() > 512 {
        return Err(DomainError::param(name, "is longer than 512 bytes"));
    }
    Ok(())
}

/// Collection for a resource type (`process` lives in `application`).
pub fn collection_of(resource_type: &str) -> &str {
    if resource_type == "process" {
        "application"
    } else {
        resource_type
    }
}

/// Checks a resource type given alone (it names a collection).
pub fn check_resource_type(resource_type: &str) -> Result<(), DomainError> {
    ResourcePath {
        cluster_id: "-".into(),
        namespace: None,
        resource_type: resource_type.to_owned(),
        resource_name: None,
    }
    .validate()
}

impl ResourcePath {
    /// Checks every segment; the resource type must also be a usable
    /// collection name.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_segment("clusterId", &self.cluster_id)?;
        if let Some(ns) = &self.namespace {
            check_segment("namespace", ns)?;
        }
        check_segment("resourceType", &self.resource_type)?;
        if self.resource_type.contains('$') || self.resource_type.starts_with("system.") {
            return Err(DomainError::param(
                "resourceType",
                "is not a valid collection name",
            ));
        }
        if let Some(n) = &self.resource_name {
            check_segment("resourceName", n)?;
        }
        Ok(())
    }

    /// The storage namespace.
    pub fn namespace(&self) -> Namespace {
        Namespace {
            database: Database::Dynamic,
            collection: collection_of(&self.resource_type).to_owned(),
            key_fields: DYNAMIC_KEY,
        }
    }

    /// Conditions the path itself imposes.
    pub(crate) fn base_filter(&self) -> Vec<Filter> {
        let s = |v: &str| Value::String(v.to_owned());
        let mut f = vec![Filter::Eq("clusterId".into(), s(&self.cluster_id))];
        match (&self.namespace, &self.resource_name) {
            (Some(ns), _) => f.push(Filter::Eq("namespace".into(), s(ns))),
            // A single cluster-scoped resource is the document without namespace.
            (None, Some(_)) => f.push(Filter::Eq("namespace".into(), Value::Null)),
            (None, None) => {}
        }
        f.push(Filter::Eq("resourceType".into(), s(&self.resource_type)));
        if let Some(name) = &self.resource_name {
            f.push(Filter::Eq("resourceName".into(), s(name)));
        }
        f
    }
}

/// Parses a PUT body `{"data": <any>}`; a missing `data` stores null.
pub fn parse_put_body(body: &[u8]) -> Result<Value, DomainError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DomainError::InvalidBody(
            "request body is empty; expected {\"data\": ...}".into(),
        ));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(mut m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object with a data field".into(),
        ));
    };
    let mut data = m.remove("data").unwrap_or(Value::Null);
    escape_value(&mut data)?;
    Ok(data)
}

/// PUT: upsert one resource.
pub async fn put(svc: &Service, path: &ResourcePath, body: &[u8]) -> Result<(), DomainError> {
    path.validate()?;
    let data = parse_put_body(body)?;
    upsert_data(svc, path, data).await
}

/// Upserts one resource whose `data` (keys escaped) is given.
pub async fn upsert_data(
    svc: &Service,
    path: &ResourcePath,
    data: Value,
) -> Result<(), DomainError> {
    let doc = document(svc, path, data)?;
    svc.store.upsert(&path.namespace(), doc).await?;
    Ok(())
}

/// The stored document of one resource whose `data` (keys escaped) is
/// given, written now.
pub fn document(
    svc: &Service,
    path: &ResourcePath,
    data: Value,
) -> Result<crate::model::Document, DomainError> {
    path.validate()?;
    let Some(name) = &path.resource_name else {
        return Err(DomainError::param("resourceName", "missing"));
    };
    let now = date_value(svc.clock.now());
    let mut doc = super::new_document();
    doc.insert("clusterId".into(), Value::String(path.cluster_id.clone()));
    if let Some(ns) = &path.namespace {
        doc.insert("namespace".into(), Value::String(ns.clone()));
    }
    doc.insert(
        "resourceType".into(),
        Value::String(path.resource_type.clone()),
    );
    doc.insert("resourceName".into(), Value::String(name.clone()));
    doc.insert("data".into(), data);
    doc.insert("createTime".into(), now.clone());
    doc.insert("updateTime".into(), now);
    let times = super::query::shadow_times_of(&doc, svc);
    doc.insert(SHADOW_FIELD.into(), Value::Object(times));
    Ok(doc)
}

fn read_query(path: &ResourcePath, p: ListParams) -> Query {
    let mut q = Query::new(Filter::and(path.base_filter().into_iter().chain(p.filter)));
    q.projection = p.projection;
    q.skip = p.skip;
    q.limit = Some(p.limit);
    q
}

/// GET one resource, as an object.
pub async fn get_one(
    svc: &Service,
    path: &ResourcePath,
    raw: &RawParams,
) -> Result<String, DomainError> {
    path.validate()?;
    let p = ListParams::parse(raw, &svc.limits, ListUse::Read)?;
    let mut q = read_query(path, p);
    q.skip = 0;
    q.limit = Some(1);
    let mut stream = svc
        .store
        .find_text(&path.namespace(), &q, renderer())
        .await?;
    match stream.next().await {
        Some(text) => Ok(text?),
        None => Err(DomainError::NotFound),
    }
}

/// GET a list; items (JSON text in wire form) are rendered as they stream
/// from the store.
pub async fn list(
    svc: &Service,
    path: &ResourcePath,
    raw: &RawParams,
) -> Result<impl Stream<Item = Result<String, DomainError>> + Send + 'static, DomainError> {
    path.validate()?;
    let p = ListParams::parse(raw, &svc.limits, ListUse::Read)?;
    let q = read_query(path, p);
    let stream = svc
        .store
        .find_text(&path.namespace(), &q, renderer())
        .await?;
    Ok(stream.map(|r| r.map_err(DomainError::from)))
}

/// Stored JSON text to wire JSON text, run by the store as it reads.
pub(crate) fn renderer() -> TextMap {
    static RENDER: LazyLock<TextMap> = LazyLock::new(|| {
        Arc::new(|text: &str| {
            view::render_text(text).map_err(|e| {
                StoreError::Internal(format!("stored document is not valid JSON: {e}"))
            })
        })
    });
    RENDER.clone()
}

/// DELETE one resource (idempotent); returns how many were deleted.
pub async fn delete_one(
    svc: &Service,
    path: &ResourcePath,
    raw: &RawParams,
) -> Result<u64, DomainError> {
    path.validate()?;
    let p = ListParams::parse(raw, &svc.limits, ListUse::Delete)?;
    let filter = Filter::and(path.base_filter().into_iter().chain(p.filter));
    Ok(svc.store.delete_many(&path.namespace(), &filter).await?)
}

/// Time window of a batch delete given in its JSON body.
fn body_window(body: &[u8]) -> Result<(Option<i64>, Option<i64>), DomainError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object".into(),
        ));
    };
    // BcsStorageDynamicBatchDeleteIf has these two fields only: a misspelt
    // bound would otherwise widen the delete to the whole path.
    if let Some(k) = m
        .keys()
        .find(|k| !["updateTimeBegin", "updateTimeEnd"].contains(&k.as_str()))
    {
        return Err(DomainError::InvalidBody(format!(
            "unknown field {k:?} in the batch delete body (fields: updateTimeBegin, updateTimeEnd)"
        )));
    }
    let read = |name: &str| -> Result<Option<i64>, DomainError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                DomainError::InvalidBody(format!("{name} must be an integer (unix seconds)"))
            }),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                DomainError::InvalidBody(format!("{name} must be an integer (unix seconds)"))
            }),
            Some(_) => Err(DomainError::InvalidBody(format!(
                "{name} must be an integer (unix seconds)"
            ))),
        }
    };
    Ok((read("updateTimeBegin")?, read("updateTimeEnd")?))
}

/// DELETE a list: the path, query filters and an optional updateTime window
/// (exclusive, unix seconds; from the body or the query string; 0 = unset).
pub async fn delete_batch(
    svc: &Service,
    path: &ResourcePath,
    raw: &RawParams,
    body: &[u8],
) -> Result<u64, DomainError> {
    path.validate()?;
    let p = ListParams::parse(raw, &svc.limits, ListUse::BatchDelete)?;
    let (body_begin, body_end) = body_window(body)?;
    let pick = |name: &str, q: Option<i64>, b: Option<i64>| match (q, b) {
        (Some(x), Some(y)) if x != y => Err(DomainError::param(
            name,
            "given in both the query string and the body with different values",
        )),
        (q, b) => Ok(q.or(b).filter(|t| *t > 0)),
    };
    let begin = pick("updateTimeBegin", p.window_begin, body_begin)?;
    let end = pick("updateTimeEnd", p.window_end, body_end)?;
    let mut parts = path.base_filter();
    parts.extend(p.filter);
    if let Some(b) = begin {
        parts.push(Filter::Range(
            "updateTime".into(),
            RangeOp::Gt,
            Bound::Instant(b.saturating_mul(1000)),
        ));
    }
    if let Some(e) = end {
        parts.push(Filter::Range(
            "updateTime".into(),
            RangeOp::Lt,
            Bound::Instant(e.saturating_mul(1000)),
        ));
    }
    Ok(svc
        .store
        .delete_many(&path.namespace(), &Filter::and(parts))
        .await?)
}
