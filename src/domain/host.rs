//! Hosts (reference B.7): one document per IP in the host database
//! (collection `host`, `{ip, clusterId, data, createTime, updateTime}`, as
//! the Go service meant to write them), and which cluster each belongs to.
//! A cluster's hosts are set whole (`PUT /host/clusters/{clusterId}`) or
//! added to (`POST`); a host moves to the cluster that names it last.

use futures::{Stream, StreamExt};
use serde_json::{Map, Value};

use super::dynamic::{check_segment, renderer};
use super::escape::escape_value;
use super::params::{RawParams, parse_field, parse_limit, parse_offset};
use super::{DomainError, Service};
use crate::model::{Database, Filter, Namespace, Query, date_value};

/// Natural key of host documents.
pub const HOST_KEY: &[&str] = &["ip"];

/// The one collection of the host database.
pub fn namespace() -> Namespace {
    Namespace {
        database: Database::Host,
        collection: "host".to_owned(),
        key_fields: HOST_KEY,
    }
}

fn by_ip(ip: &str) -> Filter {
    Filter::Eq("ip".into(), Value::String(ip.to_owned()))
}

fn by_cluster(cluster_id: &str) -> Filter {
    Filter::Eq("clusterId".into(), Value::String(cluster_id.to_owned()))
}

/// A JSON object body; `what` names its Go type for messages. Only the
/// fields the Go type has are taken.
fn object_body(
    body: &[u8],
    what: &str,
    fields: &[&str],
) -> Result<Map<String, Value>, DomainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(DomainError::InvalidBody(format!(
            "request body must be a JSON object ({what})"
        )));
    };
    if let Some(k) = m.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(DomainError::InvalidBody(format!(
            "unknown field {k:?} in {what} (fields: {})",
            fields.join(", ")
        )));
    }
    Ok(m)
}

/// A string field of a body: absent or null is "".
fn text_field(m: &Map<String, Value>, f: &str) -> Result<String, DomainError> {
    match m.get(f) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(DomainError::InvalidBody(format!(
            "{f} must be a string, not {other}"
        ))),
    }
}

/// GET `/host/{ip}`: the host, in a one-element array (as the Go type
/// answers a list); 404 when there is none.
pub async fn get(svc: &Service, ip: &str) -> Result<String, DomainError> {
    check_segment("ip", ip)?;
    let mut q = Query::new(by_ip(ip));
    q.limit = Some(1);
    let mut items = svc.store.find_text(&namespace(), &q, renderer()).await?;
    match items.next().await {
        Some(text) => Ok(format!("[{}]", text?)),
        None => Err(DomainError::NotFound),
    }
}

/// PUT `/host/{ip}`: body BcsStorageHostIf `{ip, clusterId, data}`; the
/// host is created or replaced (createTime kept). A body `ip` other than the
/// path's is refused.
pub async fn put(svc: &Service, ip: &str, body: &[u8]) -> Result<(), DomainError> {
    check_segment("ip", ip)?;
    let mut m = object_body(body, "BcsStorageHostIf", &["ip", "clusterId", "data"])?;
    let body_ip = text_field(&m, "ip")?;
    if !body_ip.is_empty() && body_ip != ip {
        return Err(DomainError::InvalidBody(format!(
            "ip {body_ip:?} in the body differs from {ip:?} in the path"
        )));
    }
    let cluster_id = text_field(&m, "clusterId")?;
    let mut data = m.remove("data").unwrap_or(Value::Null);
    escape_value(&mut data)?;
    let now = date_value(svc.clock.now());
    let mut doc = super::new_document();
    doc.insert("ip".into(), Value::String(ip.to_owned()));
    doc.insert("clusterId".into(), Value::String(cluster_id));
    doc.insert("data".into(), data);
    doc.insert("createTime".into(), now.clone());
    doc.insert("updateTime".into(), now);
    svc.store.upsert(&namespace(), doc).await?;
    Ok(())
}

/// DELETE `/host/{ip}` (idempotent).
pub async fn delete(svc: &Service, ip: &str) -> Result<u64, DomainError> {
    check_segment("ip", ip)?;
    Ok(svc.store.delete_many(&namespace(), &by_ip(ip)).await?)
}

/// GET `/host/clusters/{clusterId}`: the cluster's hosts by IP, with
/// `field`, `offset` and `limit`.
pub async fn list(
    svc: &Service,
    cluster_id: &str,
    raw: &RawParams,
) -> Result<impl Stream<Item = Result<String, DomainError>> + Send + 'static, DomainError> {
    check_segment("clusterId", cluster_id)?;
    let mut q = Query::new(by_cluster(cluster_id));
    q.projection = parse_field(raw)?;
    q.skip = parse_offset(raw)?;
    q.limit = Some(parse_limit(raw, &svc.limits)?);
    let items = svc.store.find_text(&namespace(), &q, renderer()).await?;
    Ok(items.map(|r| r.map_err(DomainError::from)))
}

/// How a relation request changes a cluster's hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// PUT: the cluster holds exactly these hosts afterwards.
    Exactly,
    /// POST: these hosts are added to the cluster.
    Add,
}

/// PUT / POST `/host/clusters/{clusterId}`: body
/// BcsStorageClusterRelationIf `{"ips": [...]}` (null is none). Hosts not
/// stored yet are created (without data); each named host is moved to the
/// cluster; with [`Relation::Exactly`], the cluster's other hosts are left
/// in no cluster (`clusterId: ""`). Every host is changed by one atomic
/// write, so a concurrent PUT of a host's data is never undone.
pub async fn relate(
    svc: &Service,
    cluster_id: &str,
    body: &[u8],
    how: Relation,
) -> Result<(), DomainError> {
    check_segment("clusterId", cluster_id)?;
    let m = object_body(body, "BcsStorageClusterRelationIf", &["ips"])?;
    let ips: Vec<String> = match m.get("ips") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut ips = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(ip) = item else {
                    return Err(DomainError::InvalidBody(format!(
                        "ips must be a list of strings, not one holding {item}"
                    )));
                };
                check_segment("ips", ip)?;
                if !ips.contains(ip) {
                    ips.push(ip.clone());
                }
            }
            ips
        }
        Some(other) => {
            return Err(DomainError::InvalidBody(format!(
                "ips must be a list of strings, not {other}"
            )));
        }
    };
    let ns = namespace();
    let now = date_value(svc.clock.now());
    for ip in &ips {
        let mut doc = super::new_document();
        doc.insert("ip".into(), Value::String(ip.clone()));
        doc.insert("clusterId".into(), Value::String(cluster_id.to_owned()));
        doc.insert("createTime".into(), now.clone());
        doc.insert("updateTime".into(), now.clone());
        svc.store
            .merge(&ns, doc, &["clusterId", "updateTime"])
            .await?;
    }
    if how == Relation::Exactly {
        let others = Filter::and([
            by_cluster(cluster_id),
            Filter::Not(Box::new(Filter::In(
                "ip".into(),
                ips.iter().map(|ip| Value::String(ip.clone())).collect(),
            ))),
        ]);
        let mut set = Map::new();
        set.insert("clusterId".into(), Value::String(String::new()));
        set.insert("updateTime".into(), now);
        svc.store.update_many(&ns, &others, &set).await?;
    }
    Ok(())
}
