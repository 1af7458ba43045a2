//! Mesos-era cluster configuration (reference B.8), in the `clusterConfig`
//! database the Go service used: `services` (`{service, data: ConfigSet}`),
//! `clusters` (`{clusterId, data: ConfigSet, createTime, updateTime}`),
//! `stableVersion` (`{service, data: "<version>"}`) and `clusterTemplate`
//! (`{service, version, data: "<template>"}`). Service configurations and
//! templates are provisioned by operators; the routes read them, render a
//! cluster's configuration from its service's newest template, and keep
//! the stable version.
//!
//! Replies are the Go `DeployConfig`: `{service, serviceConfig, clusters:
//! [{clusterId, clusterConfig}], stableVersion}`, where a ConfigSet is
//! `{common, conf}`.

use futures::TryStreamExt;
use serde_json::{Map, Value, json};

use super::dynamic::check_segment;
use super::escape::escape_value;
use super::params::RawParams;
use super::{DomainError, Service, view};
use crate::model::{Database, Direction, Document, Filter, Namespace, Query, Sort, date_value};

/// The service when a request names none, as in the Go service.
pub const DEFAULT_SERVICE: &str = "test";

fn ns(collection: &str, key_fields: &'static [&'static str]) -> Namespace {
    Namespace {
        database: Database::ClusterConfig,
        collection: collection.to_owned(),
        key_fields,
    }
}

/// Service configurations, one per service.
pub fn services() -> Namespace {
    ns("services", &["service"])
}

/// Rendered cluster configurations, one per cluster.
pub fn clusters() -> Namespace {
    ns("clusters", &["clusterId"])
}

/// The stable version of each service.
pub fn stable_versions() -> Namespace {
    ns("stableVersion", &["service"])
}

/// Cluster templates, per service and version.
pub fn templates() -> Namespace {
    ns("clusterTemplate", &["service", "version"])
}

fn eq(path: &str, v: &str) -> Filter {
    Filter::Eq(path.into(), Value::String(v.to_owned()))
}

async fn find(svc: &Service, ns: &Namespace, q: Query) -> Result<Vec<Document>, DomainError> {
    let docs: Vec<Document> = svc.store.find(ns, &q).await?.try_collect().await?;
    Ok(docs.into_iter().map(view::render).collect())
}

async fn find_one(
    svc: &Service,
    ns: &Namespace,
    filter: Filter,
) -> Result<Option<Document>, DomainError> {
    let mut q = Query::new(filter);
    q.limit = Some(1);
    Ok(find(svc, ns, q).await?.into_iter().next())
}

/// A ConfigSet (`{common, conf}`) of a stored `data`; what is not there is
/// null, as the Go type marshals nil maps.
fn config_set(data: Option<&Value>) -> Value {
    let part = |k: &str| {
        data.and_then(|d| d.get(k))
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({"common": part("common"), "conf": part("conf")})
}

/// The service a request names: the `service` query parameter, else
/// [`DEFAULT_SERVICE`].
fn service_of(raw: &RawParams) -> Result<String, DomainError> {
    let service = raw.single("service")?.unwrap_or(DEFAULT_SERVICE).to_owned();
    check_segment("service", &service)?;
    Ok(service)
}

/// The stable version of a service; "" when none is set (the Go service
/// crashed on that).
async fn stable_version(svc: &Service, service: &str) -> Result<Option<String>, DomainError> {
    let doc = find_one(svc, &stable_versions(), eq("service", service)).await?;
    Ok(doc.and_then(|d| d.get("data").and_then(Value::as_str).map(str::to_owned)))
}

/// The DeployConfig of `service` with the cluster configurations matching
/// `cluster_filter`.
async fn deploy_config(
    svc: &Service,
    service: &str,
    cluster_filter: Filter,
) -> Result<Value, DomainError> {
    let Some(service_doc) = find_one(svc, &services(), eq("service", service)).await? else {
        return Err(DomainError::Missing(format!(
            "service {service:?} has no configuration"
        )));
    };
    let mut q = Query::new(cluster_filter);
    q.limit = Some(svc.limits.max_limit);
    let clusters: Vec<Value> = find(svc, &clusters(), q)
        .await?
        .iter()
        .map(|d| {
            json!({
                "clusterId": d.get("clusterId").cloned().unwrap_or(Value::String(String::new())),
                "clusterConfig": config_set(d.get("data")),
            })
        })
        .collect();
    Ok(json!({
        "service": service,
        "serviceConfig": config_set(service_doc.get("data")),
        "clusters": clusters,
        "stableVersion": stable_version(svc, service).await?.unwrap_or_default(),
    }))
}

/// The cluster a cluster route names: the path's; a `clusterId` query
/// parameter (which the Go service read instead) must agree.
fn cluster_of(path_cluster: &str, raw: &RawParams) -> Result<String, DomainError> {
    check_segment("clusterId", path_cluster)?;
    if let Some(q) = raw.single("clusterId")?
        && q != path_cluster
    {
        return Err(DomainError::param(
            "clusterId",
            format!("{q:?} in the query differs from {path_cluster:?} in the path"),
        ));
    }
    Ok(path_cluster.to_owned())
}

/// GET `/cluster_config/clusters/{clusterId}`: the service's DeployConfig
/// with this cluster's configuration (none yet: an empty list).
pub async fn get_cluster(
    svc: &Service,
    cluster_id: &str,
    raw: &RawParams,
) -> Result<Value, DomainError> {
    let cluster_id = cluster_of(cluster_id, raw)?;
    let service = service_of(raw)?;
    deploy_config(svc, &service, eq("clusterId", &cluster_id)).await
}

/// GET `/cluster_config/services/{service}`: the DeployConfig with the
/// configurations of the clusters in `clusterId` (a comma list), or of all
/// but those in `clusterIdNot` (which wins, as in Go), or of all.
pub async fn get_service(
    svc: &Service,
    service: &str,
    raw: &RawParams,
) -> Result<Value, DomainError> {
    check_segment("service", service)?;
    let list = |v: &str| v.split(',').map(|c| Value::String(c.to_owned())).collect();
    let filter = match (raw.single("clusterIdNot")?, raw.single("clusterId")?) {
        (Some(not), _) => Filter::Not(Box::new(Filter::In("clusterId".into(), list(not)))),
        (None, Some(only)) => Filter::In("clusterId".into(), list(only)),
        (None, None) => Filter::all(),
    };
    deploy_config(svc, service, filter).await
}

/// The values a cluster template's `${name}` placeholders stand for (Go's
/// RenderConfig).
fn render_values(cluster_id: &str, body: &ClusterBody) -> Vec<(&'static str, String)> {
    let wrap = |ips: &[String], port: &str| -> Vec<String> {
        ips.iter()
            .map(|ip| {
                if ip.contains(':') {
                    ip.clone()
                } else {
                    format!("{ip}:{port}")
                }
            })
            .collect()
    };
    let zk = wrap(&body.zk_ip, "2181");
    let dns = wrap(&body.dns_ip, "53");
    let raw_zk: Vec<&str> = zk
        .iter()
        .map(|a| a.split(':').next().unwrap_or(a))
        .collect();
    vec![
        ("mesosZkHost", zk.join(",")),
        ("mesosZkHostSpace", zk.join(" ")),
        ("mesosZkHostSemicolon", zk.join(";")),
        ("mesosZkRaw", raw_zk.join(",")),
        ("mesosMaster", body.master_ip.join(",")),
        ("mesosQuorum", body.master_ip.len().div_ceil(2).to_string()),
        ("dnsUpStream", dns.join(" ")),
        ("clusterId", cluster_id.to_owned()),
        (
            "clusterIdNumber",
            cluster_id.rsplit('-').next().unwrap_or_default().to_owned(),
        ),
        ("city", body.city.clone()),
        ("jfrogUrl", body.jfrog_url.clone()),
        ("needNat", body.need_nat.to_string()),
    ]
}

/// Replaces every `${name}` of `values` in one pass (a value is never
/// scanned again).
fn render_template(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let hit = after.find('}').and_then(|end| {
            let name = &after[..end];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, end))
        });
        match hit {
            Some((v, end)) => {
                out.push_str(v);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// BcsStorageClusterIf.
#[derive(Debug, Default)]
struct ClusterBody {
    service: String,
    zk_ip: Vec<String>,
    master_ip: Vec<String>,
    dns_ip: Vec<String>,
    city: String,
    jfrog_url: String,
    need_nat: bool,
}

fn parse_cluster_body(body: &[u8]) -> Result<ClusterBody, DomainError> {
    const FIELDS: &[&str] = &[
        "service", "zkIp", "masterIp", "dnsIp", "city", "jfrogUrl", "needNat",
    ];
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object (BcsStorageClusterIf)".into(),
        ));
    };
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(DomainError::InvalidBody(format!(
            "unknown field {k:?} in BcsStorageClusterIf (fields: {})",
            FIELDS.join(", ")
        )));
    }
    let text = |f: &str| match m.get(f) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(DomainError::InvalidBody(format!(
            "{f} must be a string, not {other}"
        ))),
    };
    let list = |f: &str| match m.get(f) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(DomainError::InvalidBody(format!(
                    "{f} must be a list of strings, not one holding {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(DomainError::InvalidBody(format!(
            "{f} must be a list of strings, not {other}"
        ))),
    };
    // The Go handler decodes into a value whose needNat starts true.
    let need_nat = match m.get("needNat") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(DomainError::InvalidBody(format!(
                "needNat must be true or false, not {other}"
            )));
        }
    };
    Ok(ClusterBody {
        service: text("service")?,
        zk_ip: list("zkIp")?,
        master_ip: list("masterIp")?,
        dns_ip: list("dnsIp")?,
        city: text("city")?,
        jfrog_url: text("jfrogUrl")?,
        need_nat,
    })
}

/// PUT `/cluster_config/clusters/{clusterId}`: body BcsStorageClusterIf.
/// The service (query `service`, else the body's, else
/// [`DEFAULT_SERVICE`]) names the template: its newest version is rendered
/// with the body's addresses and stored as the cluster's configuration.
/// Answers the DeployConfig, as GET does.
pub async fn put_cluster(
    svc: &Service,
    cluster_id: &str,
    raw: &RawParams,
    body: &[u8],
) -> Result<Value, DomainError> {
    let cluster_id = cluster_of(cluster_id, raw)?;
    let req = parse_cluster_body(body)?;
    let service = match (raw.single("service")?, req.service.as_str()) {
        (Some(q), b) if !b.is_empty() && b != q => {
            return Err(DomainError::param(
                "service",
                format!("{q:?} in the query differs from {b:?} in the body"),
            ));
        }
        (Some(q), _) => q.to_owned(),
        (None, "") => DEFAULT_SERVICE.to_owned(),
        (None, b) => b.to_owned(),
    };
    check_segment("service", &service)?;
    let mut q = Query::new(eq("service", &service));
    q.sort = Sort::Fields(vec![("version".into(), Direction::Desc)]);
    q.limit = Some(1);
    let template = find(svc, &templates(), q)
        .await?
        .into_iter()
        .next()
        .and_then(|d| d.get("data").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| {
            DomainError::Missing(format!("service {service:?} has no cluster template"))
        })?;
    let rendered = render_template(&template, &render_values(&cluster_id, &req));
    let mut data: Value = match serde_json::from_str::<Value>(&rendered) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(DomainError::param(
                "service",
                format!("the cluster template of {service:?} does not render to a JSON object"),
            ));
        }
    };
    escape_value(&mut data)?;
    let now = date_value(svc.clock.now());
    let mut doc = super::new_document();
    doc.insert("clusterId".into(), Value::String(cluster_id.clone()));
    doc.insert("data".into(), data);
    doc.insert("createTime".into(), now.clone());
    doc.insert("updateTime".into(), now);
    svc.store.upsert(&clusters(), doc).await?;
    deploy_config(svc, &service, eq("clusterId", &cluster_id)).await
}

/// GET `/cluster_config/versions/{service}`: the stable version; 404 when
/// none is set.
pub async fn get_version(svc: &Service, service: &str) -> Result<String, DomainError> {
    check_segment("service", service)?;
    stable_version(svc, service)
        .await?
        .ok_or_else(|| DomainError::Missing(format!("service {service:?} has no stable version")))
}

/// PUT `/cluster_config/versions/{service}`: body
/// BcsStorageStableVersionIf `{"version": "x"}`.
pub async fn put_version(svc: &Service, service: &str, body: &[u8]) -> Result<(), DomainError> {
    check_segment("service", service)?;
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let version = match &v {
        Value::Object(m) if m.keys().all(|k| k == "version") => match m.get("version") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(DomainError::InvalidBody(
                    "version must be a non-empty string".into(),
                ));
            }
        },
        _ => {
            return Err(DomainError::InvalidBody(
                "request body must be {\"version\": \"...\"} (BcsStorageStableVersionIf)".into(),
            ));
        }
    };
    let mut doc: Map<String, Value> = super::new_document();
    doc.insert("service".into(), Value::String(service.to_owned()));
    doc.insert("data".into(), Value::String(version));
    svc.store.upsert(&stable_versions(), doc).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_every_placeholder_once() {
        let body = ClusterBody {
            zk_ip: vec!["10.0.0.1".into(), "10.0.0.2:2182".into()],
            master_ip: vec!["10.0.1.1".into(), "10.0.1.2".into(), "10.0.1.3".into()],
            dns_ip: vec!["10.0.2.1".into()],
            city: "sz".into(),
            need_nat: true,
            ..ClusterBody::default()
        };
        let values = render_values("BCS-MESOS-10001", &body);
        let t = r#"{"zk":"${mesosZkHost}","sp":"${mesosZkHostSpace}","semi":"${mesosZkHostSemicolon}","raw":"${mesosZkRaw}","m":"${mesosMaster}","q":${mesosQuorum},"dns":"${dnsUpStream}","id":"${clusterId}","n":"${clusterIdNumber}","city":"${city}","nat":${needNat},"keep":"${unknown}","j":"${jfrogUrl}"}"#;
        let v: Value = serde_json::from_str(&render_template(t, &values)).expect("JSON");
        assert_eq!(
            v,
            json!({"zk": "10.0.0.1:2181,10.0.0.2:2182", "sp": "10.0.0.1:2181 10.0.0.2:2182",
                   "semi": "10.0.0.1:2181;10.0.0.2:2182", "raw": "10.0.0.1,10.0.0.2",
                   "m": "10.0.1.1,10.0.1.2,10.0.1.3", "q": 2, "dns": "10.0.2.1:53",
                   "id": "BCS-MESOS-10001", "n": "10001", "city": "sz", "nat": true,
                   "keep": "${unknown}", "j": ""})
        );
        // A value holding a placeholder is not rendered again.
        let odd = ClusterBody {
            city: "${clusterId}".into(),
            ..ClusterBody::default()
        };
        assert_eq!(
            render_template("${city}", &render_values("C", &odd)),
            "${clusterId}"
        );
    }
}
