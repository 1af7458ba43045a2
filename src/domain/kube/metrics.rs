//! `metrics.k8s.io/v1beta1` (seed 000): `PodMetrics` and `NodeMetrics`
//! served from the metric store, the way metrics-server serves them, so
//! that `kubectl top pod` and `kubectl top node` work against the service.
//!
//! A sample is the metric document of type `PodMetrics` (key: cluster,
//! pod namespace, `PodMetrics`, pod name) or `NodeMetrics` (the namespace
//! segment is not used; `-` by convention) whose `data` holds the object
//! in metrics-server's shape: `timestamp`, `window`, and `containers`
//! (pods) or `usage` (nodes). Labels come from the sample's own
//! `metadata.labels`, else from the stored pod or node of the same name.

use std::collections::HashMap;

use futures::TryStreamExt;
use serde_json::{Map, Value, json};

use super::path::View;
use super::resources::Resource;
use super::search::Search;
use super::selectors::{field_filter, label_filter};
use super::table::{IncludeObject, Layout};
use super::{CLUSTER_ANNOTATION, Status};
use crate::domain::Service;
use crate::domain::escape::escape_value;
use crate::domain::metric::{MetricPath, namespace_of};
use crate::domain::params::RawParams;
use crate::domain::view;
use crate::model::{Database, Document, Filter, Projection, Query};

/// The group the metrics resources are served under.
pub const GROUP: &str = "metrics.k8s.io";

/// Whether a resource is one of the metrics resources.
pub fn is_metrics(res: &Resource) -> bool {
    res.group == GROUP
}

/// The clusters a request reads: the view's one, or every cluster with
/// metrics (narrowed by `clusters`).
async fn clusters(svc: &Service, view: &View, search: &Search) -> Result<Vec<String>, Status> {
    match view {
        View::One(c) => Ok(vec![c.clone()]),
        View::All => {
            let mut all = svc.store.list_collections(Database::Metric).await?;
            all.sort();
            if let Some(only) = &search.clusters {
                all.retain(|c| only.contains(c));
            }
            Ok(all)
        }
    }
}

/// A stored sample and where it is.
struct Sample {
    cluster: String,
    doc: Document,
}

/// The samples of `res` in these clusters (optionally one namespace, one
/// name), in key order.
async fn samples(
    svc: &Service,
    clusters: &[String],
    res: &Resource,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<Sample>, Status> {
    let mut out = Vec::new();
    for cluster in clusters {
        let Ok(ns) = namespace_of(cluster) else {
            continue;
        };
        let s = |v: &str| Value::String(v.to_owned());
        let mut parts = vec![
            Filter::Eq("clusterId".into(), s(cluster)),
            Filter::Eq("type".into(), s(&res.kind)),
        ];
        if let Some(n) = namespace.filter(|_| res.namespaced) {
            parts.push(Filter::Eq("namespace".into(), s(n)));
        }
        if let Some(n) = name {
            parts.push(Filter::Eq("name".into(), s(n)));
        }
        let docs: Vec<Document> = svc
            .store
            .find(&ns, &Query::new(Filter::and(parts)))
            .await?
            .try_collect()
            .await?;
        out.extend(docs.into_iter().map(|doc| Sample {
            cluster: cluster.clone(),
            doc,
        }));
    }
    Ok(out)
}

/// The stored labels (keys escaped) of the pods or nodes the samples are
/// of, by (cluster, namespace, name).
async fn object_labels(
    svc: &Service,
    res: &Resource,
    samples: &[Sample],
) -> Result<HashMap<(String, String, String), Value>, Status> {
    let mut out = HashMap::new();
    let wanted: Vec<&Sample> = samples
        .iter()
        .filter(|s| stored_labels(&s.doc).is_none())
        .collect();
    if wanted.is_empty() {
        return Ok(out);
    }
    let kind = if res.namespaced { "Pod" } else { "Node" };
    let mut by_cluster: HashMap<&str, Vec<Value>> = HashMap::new();
    for s in &wanted {
        if let Some(n) = s.doc.get("name") {
            by_cluster.entry(&s.cluster).or_default().push(n.clone());
        }
    }
    for (cluster, names) in by_cluster {
        let q = Query {
            projection: Some(Projection::new([
                "namespace",
                "resourceName",
                "data.metadata.labels",
            ])),
            ..Query::new(Filter::and([
                Filter::Eq("clusterId".into(), Value::String(cluster.to_owned())),
                Filter::In("resourceName".into(), names),
            ]))
        };
        let docs: Vec<Document> = svc
            .store
            .find(&super::discovery::namespace_of(kind), &q)
            .await?
            .try_collect()
            .await?;
        for d in docs {
            let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default();
            if let Some(l) = d
                .get("data")
                .and_then(|x| x.get("metadata"))
                .and_then(|m| m.get("labels"))
            {
                out.insert(
                    (
                        cluster.to_owned(),
                        if res.namespaced {
                            text("namespace").to_owned()
                        } else {
                            String::new()
                        },
                        text("resourceName").to_owned(),
                    ),
                    l.clone(),
                );
            }
        }
    }
    Ok(out)
}

fn stored_labels(doc: &Document) -> Option<&Value> {
    doc.get("data")?
        .get("metadata")?
        .get("labels")
        .filter(|l| l.is_object())
}

/// The sample's key as its object's (cluster, namespace, name).
fn key_of(s: &Sample, res: &Resource) -> (String, String, String) {
    let text = |k: &str| {
        s.doc
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let ns = if res.namespaced {
        text("namespace")
    } else {
        String::new()
    };
    (s.cluster.clone(), ns, text("name"))
}

/// The document a selector is matched against: stored paths (`namespace`,
/// `resourceName`, `data.metadata.labels`) as on dynamic documents.
fn selectable(key: &(String, String, String), labels: Option<&Value>) -> Value {
    let mut d = json!({"resourceName": key.2, "data": {"metadata": {}}});
    if !key.1.is_empty() {
        d["namespace"] = json!(key.1);
    }
    if let Some(l) = labels {
        d["data"]["metadata"]["labels"] = l.clone();
    }
    d
}

/// The served object of a sample: metrics-server's shape.
fn object_of(
    s: Sample,
    res: &Resource,
    labels: Option<Value>,
    now: &str,
) -> (String, Map<String, Value>) {
    let (cluster, namespace, name) = key_of(&s, res);
    let updated = s.doc.get("updateTime").cloned();
    let mut wire = view::render(s.doc);
    let mut data = match wire.shift_remove("data") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut meta = match data.shift_remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut fixed = Map::new();
    fixed.insert("name".into(), json!(name));
    let self_link = if res.namespaced {
        fixed.insert("namespace".into(), json!(namespace));
        format!("/apis/{GROUP}/v1beta1/namespaces/{namespace}/pods/{name}")
    } else {
        format!("/apis/{GROUP}/v1beta1/nodes/{name}")
    };
    fixed.insert(
        "creationTimestamp".into(),
        meta.shift_remove("creationTimestamp")
            .unwrap_or_else(|| json!(now)),
    );
    fixed.insert("selfLink".into(), json!(self_link));
    if let Some(mut l) = labels.or_else(|| meta.shift_remove("labels")) {
        crate::domain::escape::unescape_value(&mut l);
        fixed.insert("labels".into(), l);
    }
    let mut annotations = match meta.shift_remove("annotations") {
        Some(Value::Object(a)) => a,
        _ => Map::new(),
    };
    annotations.insert(CLUSTER_ANNOTATION.into(), json!(cluster));
    fixed.insert("annotations".into(), Value::Object(annotations));
    let mut obj = Map::new();
    obj.insert("kind".into(), json!(res.kind));
    obj.insert("apiVersion".into(), json!(res.api_version()));
    obj.insert("metadata".into(), Value::Object(fixed));
    // The sample's time: its own, else when it was stored.
    let timestamp = data.shift_remove("timestamp").unwrap_or_else(|| {
        updated
            .map(|u| {
                let rendered = view::render(Map::from_iter([("t".to_owned(), u)]));
                rendered.get("t").cloned().unwrap_or(json!(now))
            })
            .unwrap_or_else(|| json!(now))
    });
    obj.insert("timestamp".into(), timestamp);
    obj.insert(
        "window".into(),
        data.shift_remove("window").unwrap_or_else(|| json!("30s")),
    );
    let usage_field = if res.namespaced {
        "containers"
    } else {
        "usage"
    };
    let default = if res.namespaced { json!([]) } else { json!({}) };
    obj.insert(
        usage_field.into(),
        data.shift_remove(usage_field).unwrap_or(default),
    );
    for (k, v) in data {
        if !matches!(k.as_str(), "kind" | "apiVersion") {
            obj.entry(k).or_insert(v);
        }
    }
    (cluster, obj)
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reads the served objects of the samples that match the selectors.
async fn read(
    svc: &Service,
    view: &View,
    res: &Resource,
    namespace: Option<&str>,
    name: Option<&str>,
    raw: &RawParams,
) -> Result<Vec<(String, Map<String, Value>)>, Status> {
    let single = |n: &str| raw.single(n).map_err(Status::from);
    let mut selector = Vec::new();
    if let Some(l) = single("labelSelector")? {
        selector.push(label_filter(l)?);
    }
    if let Some(f) = single("fieldSelector")? {
        selector.push(field_filter(f, res)?);
    }
    let selector = Filter::and(selector);
    let search = Search::parse(raw)?;
    let clusters = clusters(svc, view, &search).await?;
    let samples = samples(svc, &clusters, res, namespace, name).await?;
    let mut labels = object_labels(svc, res, &samples).await?;
    let now = now_text();
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let key = key_of(&s, res);
        let l = stored_labels(&s.doc)
            .cloned()
            .or_else(|| labels.remove(&key));
        if !selector.matches(&selectable(&key, l.as_ref())) {
            continue;
        }
        out.push(object_of(s, res, l, &now));
    }
    Ok(out)
}

/// `GET` of one pod's or node's metrics. In the all-clusters view a name
/// stored in two clusters is a 409 naming them (`clusters=` picks one).
pub async fn get(
    svc: &Service,
    view: &View,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    raw: &RawParams,
) -> Result<String, Status> {
    let mut found = read(svc, view, res, namespace, Some(name), raw).await?;
    match found.len() {
        0 => Err(Status::not_found(
            GROUP,
            &res.kind.to_ascii_lowercase(),
            name,
        )),
        1 => Ok(Value::Object(found.remove(0).1).to_string()),
        _ => {
            let clusters: Vec<&str> = found.iter().map(|(c, _)| c.as_str()).collect();
            Err(Status {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "{} {name:?} is stored for more than one cluster ({}): name one with \
                     clusters= or read it in a one-cluster view",
                    res.kind,
                    clusters.join(", ")
                ),
                details: None,
            })
        }
    }
}

/// `GET` of a list (`PodMetricsList`, `NodeMetricsList`), or its Table.
pub async fn list(
    svc: &Service,
    view: &View,
    res: &Resource,
    namespace: Option<&str>,
    raw: &RawParams,
    table: Option<IncludeObject>,
) -> Result<String, Status> {
    let items = read(svc, view, res, namespace, None, raw).await?;
    if let Some(include) = table {
        let layout = Layout::new(res, *view == View::All);
        let now = chrono::Utc::now();
        let rows: Vec<Value> = items
            .into_iter()
            .map(|(c, o)| layout.row(o, &c, include, now))
            .collect();
        return Ok(json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {},
            "columnDefinitions": layout.definitions(),
            "rows": rows,
        })
        .to_string());
    }
    let items: Vec<Value> = items.into_iter().map(|(_, o)| Value::Object(o)).collect();
    Ok(json!({
        "kind": format!("{}List", res.kind),
        "apiVersion": res.api_version(),
        "metadata": {},
        "items": items,
    })
    .to_string())
}

/// A `PodMetrics`/`NodeMetrics` object written through the Kubernetes API
/// (`POST`, `PUT`): stored as the metric document the bcs metric routes
/// write, with what the read path adds taken off. Answers the object as
/// served.
pub async fn put(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    name: Option<&str>,
    body: &[u8],
) -> Result<(bool, String), Status> {
    let mut obj = super::write::parse_object(body, res)?;
    for (field, want) in [
        ("kind", res.kind.clone()),
        ("apiVersion", res.api_version()),
    ] {
        match obj.get(field).and_then(Value::as_str) {
            None => {}
            Some(got) if got == want => {}
            Some(got) => {
                return Err(Status::bad_request(format!(
                    "{field}: {got:?} does not match the path's, {want:?}"
                )));
            }
        }
    }
    let meta = obj.get("metadata").and_then(Value::as_object);
    let obj_name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = match name {
        Some(n) if obj_name.is_empty() || obj_name == n => n.to_owned(),
        Some(n) => {
            return Err(Status::bad_request(format!(
                "metadata.name: {obj_name:?} does not match the name of the path, {n:?}"
            )));
        }
        None if obj_name.is_empty() => {
            return Err(Status::bad_request("metadata.name: required"));
        }
        None => obj_name,
    };
    if let (Some(ns), Some(got)) = (
        namespace,
        meta.and_then(|m| m.get("namespace"))
            .and_then(Value::as_str),
    ) && got != ns
    {
        return Err(Status::bad_request(format!(
            "metadata.namespace: {got:?} does not match the namespace of the path, {ns:?}"
        )));
    }
    // What the read path adds.
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        for k in ["selfLink", "resourceVersion", "creationTimestamp"] {
            m.shift_remove(k);
        }
        if let Some(Value::Object(a)) = m.get_mut("annotations") {
            a.shift_remove(CLUSTER_ANNOTATION);
        }
    }
    let mut data = Value::Object(obj);
    escape_value(&mut data).map_err(Status::from)?;
    let path = MetricPath {
        cluster_id: cluster.to_owned(),
        namespace: namespace.unwrap_or("-").to_owned(),
        metric_type: res.kind.clone(),
        name: name.clone(),
    };
    let created = crate::domain::metric::upsert_data(svc, &path, data)
        .await
        .map_err(Status::from)?;
    let view = View::One(cluster.to_owned());
    let body = get(svc, &view, res, namespace, &name, &RawParams::default()).await?;
    Ok((created, body))
}

/// `DELETE` of one sample: answers it as it was.
pub async fn delete(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
) -> Result<String, Status> {
    let view = View::One(cluster.to_owned());
    let body = get(svc, &view, res, namespace, name, &RawParams::default()).await?;
    // A node's sample may sit under any namespace segment.
    let stored = samples(svc, &[cluster.to_owned()], res, namespace, Some(name)).await?;
    let Some(sample) = stored.first() else {
        return Err(Status::not_found(
            GROUP,
            &res.kind.to_ascii_lowercase(),
            name,
        ));
    };
    let path = MetricPath {
        cluster_id: cluster.to_owned(),
        namespace: sample
            .doc
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned(),
        metric_type: res.kind.clone(),
        name: name.to_owned(),
    };
    crate::domain::metric::delete(svc, &path)
        .await
        .map_err(Status::from)?;
    Ok(body)
}
