//! The streaming export (seed 003): `GET /v1/export/pods` streams every
//! matching pod as the seed's `StoragePod`, one JSON object per line
//! (`{"result":{"pod":{...}}}`); `GET /v1/export/{resource}` streams the
//! stored documents of any resource the same way
//! (`{"result":{"object":{...}}}`). A failure or the `timeout` ends the
//! stream with one `{"error":{...}}` line. Memory stays bounded whatever
//! the count: documents stream from the store and are rendered one by one.
//!
//! `query` is the `Field:value+Field:value` search form: fields `Cluster`,
//! `Namespace`, `Pod` (or `Pod Name`, `Name`), `Node`, `Label`
//! (`key=value`, or `key` alone for "has the label") and, for pods,
//! `Deployment` (the workload that owns the pod, through its ReplicaSet or
//! Job). Field names ignore case. A field takes comma-separated values,
//! any of which may match; a value `r/PATTERN` is a regular expression
//! matching the whole value, `!value` (or `!r/PATTERN`) excludes. Terms
//! joined by `+` (or a space, which a literal `+` in a query string
//! decodes to) must all hold.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value, json};

use super::escape::escape_key;
use super::kube::discovery::namespace_of;
use super::kube::resources::{BUILTINS, kind_like};
use super::params::RawParams;
use super::{DomainError, Service, view};
use crate::model::{Filter, Pattern, Projection, Query};
use crate::store::{StoreError, TextMap};

/// One value of a query term.
#[derive(Debug, Clone, PartialEq)]
enum Match {
    Exact(String),
    Regex(Pattern),
}

/// One value with its sign.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    negate: bool,
    value: Match,
}

impl Term {
    fn parse(v: &str) -> Result<Term, String> {
        let (negate, v) = match v.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        let value = match v.strip_prefix("r/") {
            Some(p) => Match::Regex(
                Pattern::new(&format!("^(?:{p})$")).map_err(|e| format!("r/{p}: {e}"))?,
            ),
            None if v.is_empty() => return Err("an empty value".into()),
            None => Match::Exact(v.to_owned()),
        };
        Ok(Term { negate, value })
    }

    fn filter(&self, path: &str) -> Filter {
        match &self.value {
            Match::Exact(s) => Filter::Eq(path.to_owned(), Value::String(s.clone())),
            Match::Regex(p) => Filter::Regex(path.to_owned(), p.clone()),
        }
    }

    fn matches(&self, s: Option<&str>) -> bool {
        let m = match (&self.value, s) {
            (_, None) => false,
            (Match::Exact(x), Some(s)) => x == s,
            (Match::Regex(p), Some(s)) => p.is_match(s),
        };
        m != self.negate
    }
}

/// The values of one field: any positive one may match; no negative one
/// may.
fn combine(terms: &[Term], path: &str) -> Filter {
    let positive: Vec<Filter> = terms
        .iter()
        .filter(|t| !t.negate)
        .map(|t| t.filter(path))
        .collect();
    let mut parts = Vec::new();
    if !positive.is_empty() {
        parts.push(Filter::Or(positive));
    }
    for t in terms.iter().filter(|t| t.negate) {
        parts.push(Filter::Not(Box::new(t.filter(path))));
    }
    Filter::and(parts)
}

/// A parsed `query`: the store filter and, for pods, the conditions on the
/// owning workload (known only once the pod is read).
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub filter: Filter,
    deployment: Vec<Term>,
}

impl ExportQuery {
    /// Parses the search form; the error names the term at fault.
    pub fn parse(q: &str, pods: bool) -> Result<ExportQuery, String> {
        let mut parts = Vec::new();
        let mut deployment = Vec::new();
        for term in split_terms(q) {
            let (field, values) = term
                .split_once(':')
                .ok_or_else(|| format!("{term:?}: expected Field:value"))?;
            let field = field.trim().to_ascii_lowercase();
            let values: Vec<&str> = values.split(',').map(str::trim).collect();
            let path = match field.as_str() {
                "cluster" => "clusterId".to_owned(),
                "namespace" => "namespace".to_owned(),
                "pod" | "pod name" | "name" => "resourceName".to_owned(),
                "node" => "data.spec.nodeName".to_owned(),
                "label" => {
                    let mut alternatives = Vec::new();
                    for v in &values {
                        alternatives.push(label_filter(v).map_err(|e| format!("Label:{v}: {e}"))?);
                    }
                    parts.push(Filter::Or(alternatives));
                    continue;
                }
                "deployment" if pods => {
                    for v in &values {
                        deployment
                            .push(Term::parse(v).map_err(|e| format!("Deployment:{v}: {e}"))?);
                    }
                    continue;
                }
                _ => {
                    return Err(format!(
                        "unknown field {field:?}: the fields are Cluster, Namespace, Pod, Node, \
                         Label{}",
                        if pods { ", Deployment" } else { "" }
                    ));
                }
            };
            let terms = values
                .iter()
                .map(|v| Term::parse(v).map_err(|e| format!("{field}:{v}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            parts.push(combine(&terms, &path));
        }
        Ok(ExportQuery {
            filter: Filter::and(parts),
            deployment,
        })
    }
}

/// The terms of a query: split on `+` and on spaces, except the space of
/// the two-word field name `Pod Name`.
fn split_terms(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in q.split(['+', ' ']).filter(|t| !t.is_empty()) {
        match out.last_mut() {
            Some(last) if last.eq_ignore_ascii_case("pod") && piece.contains(':') => {
                last.push(' ');
                last.push_str(piece);
            }
            _ => out.push(piece.to_owned()),
        }
    }
    out
}

/// `key=value` (the value may be `r/..` or `!..`) or `key` (has the label).
fn label_filter(v: &str) -> Result<Filter, String> {
    match v.split_once('=') {
        Some((k, val)) if !k.is_empty() => {
            let path = format!("data.metadata.labels.{}", escape_key(k));
            Ok(combine(&[Term::parse(val)?], &path))
        }
        Some(_) => Err("a label key is required".into()),
        None if v.is_empty() => Err("a label key is required".into()),
        None => Ok(Filter::Exists(
            format!("data.metadata.labels.{}", escape_key(v)),
            true,
        )),
    }
}

/// What an export streams: the seed's pods, or any resource's documents.
#[derive(Debug, Clone, PartialEq)]
pub enum Export {
    Pods,
    /// The stored resource type (a dynamic collection).
    Documents(String),
}

impl Export {
    /// `pods`, a built-in plural (`deployments`) or a stored resource type
    /// (`Deployment`, `BcsLogConfig`).
    pub fn of(resource: &str) -> Option<Export> {
        if resource == "pods" {
            return Some(Export::Pods);
        }
        if let Some(b) = BUILTINS
            .iter()
            .find(|b| b.plural == resource && b.group != super::kube::metrics::GROUP)
        {
            return Some(Export::Documents(b.kind.to_owned()));
        }
        kind_like(resource).then(|| Export::Documents(resource.to_owned()))
    }
}

/// The request: what, which, for how long.
#[derive(Debug)]
pub struct ExportRequest {
    pub export: Export,
    pub query: ExportQuery,
    pub timeout: Option<Duration>,
}

impl ExportRequest {
    pub fn parse(resource: &str, raw: &RawParams) -> Result<ExportRequest, DomainError> {
        let export = Export::of(resource).ok_or(DomainError::NotFound)?;
        let query = match raw.single("query")? {
            Some(q) => ExportQuery::parse(q, export == Export::Pods)
                .map_err(|why| DomainError::param("query", why))?,
            None => ExportQuery {
                filter: Filter::all(),
                deployment: Vec::new(),
            },
        };
        let timeout = match raw.single("timeout")? {
            None => None,
            Some(t) => Some(parse_timeout(t).ok_or_else(|| {
                DomainError::param(
                    "timeout",
                    format!("{t:?} is not a number of seconds (or a duration such as 90s, 5m)"),
                )
            })?),
        };
        Ok(ExportRequest {
            export,
            query,
            timeout: timeout.filter(|d| !d.is_zero()),
        })
    }
}

/// Seconds (`30`, `1.5`) or a duration with one of Go's units (`500ms`,
/// `90s`, `5m`, `1h`, down to `ns`).
fn parse_timeout(t: &str) -> Option<Duration> {
    let t = t.trim();
    let (num, unit) = match t.find(|c: char| c.is_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// Why a stream ends early: (gRPC code, HTTP status, its reason phrase).
const DEADLINE_EXCEEDED: (i32, u16, &str) = (4, 504, "Gateway Timeout");
const UNAVAILABLE: (i32, u16, &str) = (14, 503, "Service Unavailable");
const INTERNAL: (i32, u16, &str) = (13, 500, "Internal Server Error");

/// The error line of a stream (grpc-gateway's `RuntimeStreamError`).
fn error_line((grpc, http, status): (i32, u16, &str), message: &str) -> Bytes {
    let line = json!({"error": {
        "grpcCode": grpc, "httpCode": http, "message": message,
        "httpStatus": status, "details": []}});
    Bytes::from(format!("{line}\n"))
}

/// Who owns pods: a ReplicaSet's or Job's uid → its owning workload (uid,
/// name), read for the clusters the query may touch.
type Owners = HashMap<String, (String, String)>;

async fn owners(svc: &Service, filter: &Filter) -> Result<Owners, StoreError> {
    // The scope of the pods' query that owners share: the cluster terms.
    let scope = cluster_scope(filter);
    let mut out = Owners::new();
    for kind in ["ReplicaSet", "Job"] {
        let q = Query {
            projection: Some(Projection::new([
                "data.metadata.uid",
                "data.metadata.ownerReferences",
            ])),
            ..Query::new(scope.clone())
        };
        let mut docs = svc.store.find(&namespace_of(kind), &q).await?;
        while let Some(d) = docs.try_next().await? {
            let meta = d.get("data").and_then(|x| x.get("metadata"));
            let Some(uid) = meta.and_then(|m| m.get("uid")).and_then(Value::as_str) else {
                continue;
            };
            if let Some((o_uid, o_name)) = meta.and_then(controller_of) {
                out.insert(uid.to_owned(), (o_uid, o_name));
            }
        }
    }
    Ok(out)
}

/// The cluster conditions of a filter (so owners are read for those
/// clusters only).
fn cluster_scope(f: &Filter) -> Filter {
    match f {
        Filter::And(parts) => Filter::and(parts.iter().map(cluster_scope)),
        Filter::Or(parts)
            if parts
                .iter()
                .all(|p| p.paths().iter().all(|x| *x == "clusterId")) =>
        {
            f.clone()
        }
        Filter::Eq(p, _) | Filter::In(p, _) | Filter::Regex(p, _) if p == "clusterId" => f.clone(),
        _ => Filter::all(),
    }
}

/// The (uid, name) of the controller among an object's owner references
/// (the first owner when none is marked).
fn controller_of(meta: &Value) -> Option<(String, String)> {
    let refs = meta.get("ownerReferences")?.as_array()?;
    let r = refs
        .iter()
        .find(|r| r.get("controller") == Some(&Value::Bool(true)))
        .or_else(|| refs.first())?;
    Some((
        r.get("uid")?.as_str()?.to_owned(),
        r.get("name")?.as_str()?.to_owned(),
    ))
}

/// The members of a stored pod a `StoragePod` is made of: read without
/// building the rest of the document (most of its cost).
#[derive(serde::Deserialize)]
struct SlimPod {
    #[serde(rename = "clusterId", default)]
    cluster: Value,
    #[serde(default)]
    namespace: Value,
    #[serde(rename = "resourceName", default)]
    name: Value,
    #[serde(default)]
    data: SlimData,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SlimData {
    metadata: SlimMeta,
    spec: SlimSpec,
    status: SlimStatus,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SlimMeta {
    uid: Value,
    #[serde(rename = "creationTimestamp")]
    created: Value,
    #[serde(rename = "ownerReferences")]
    owners: Value,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SlimSpec {
    #[serde(rename = "nodeName")]
    node: Value,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SlimStatus {
    #[serde(rename = "podIP")]
    pod_ip: Value,
    #[serde(rename = "podIPs")]
    pod_ips: Value,
    #[serde(rename = "containerStatuses")]
    containers: Value,
    #[serde(rename = "initContainerStatuses")]
    init_containers: Value,
}

impl SlimPod {
    /// As the document [`storage_pod`] reads (absent members null).
    fn into_value(self) -> Value {
        let d = self.data;
        json!({
            "clusterId": self.cluster, "namespace": self.namespace, "resourceName": self.name,
            "data": {
                "metadata": {"uid": d.metadata.uid, "creationTimestamp": d.metadata.created,
                             "ownerReferences": d.metadata.owners},
                "spec": {"nodeName": d.spec.node},
                "status": {"podIP": d.status.pod_ip, "podIPs": d.status.pod_ips,
                           "containerStatuses": d.status.containers,
                           "initContainerStatuses": d.status.init_containers},
            }
        })
    }
}

/// The seed's `StoragePod` of a stored pod, and its workload's name.
fn storage_pod(doc: &Value, owners: &Owners) -> (Value, Option<String>) {
    let data = &doc["data"];
    let meta = &data["metadata"];
    let status = &data["status"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let uid = text(&meta["uid"]).unwrap_or_default();
    // The workload: the pod's controller, or that controller's own.
    let workload = controller_of(meta).map(|(uid, name)| match owners.get(&uid) {
        Some((w_uid, w_name)) => (w_uid.clone(), w_name.clone()),
        None => (uid, name),
    });
    let node = text(&data["spec"]["nodeName"]);
    let ips: Vec<Value> = match status["podIPs"].as_array() {
        Some(a) if !a.is_empty() => a.iter().filter_map(|i| i.get("ip").cloned()).collect(),
        _ => status
            .get("podIP")
            .filter(|ip| ip.is_string())
            .into_iter()
            .cloned()
            .collect(),
    };
    let mut live = Vec::new();
    let mut terminated: Vec<(String, Vec<Value>)> = Vec::new();
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|k| status[*k].as_array())
        .flatten();
    for cs in statuses {
        let name = text(&cs["name"]).unwrap_or_default();
        let instance = |state: &Value, id: Option<String>| -> Option<Value> {
            let id = id?;
            let (runtime, short) = match id.split_once("://") {
                Some(("docker", rest)) => ("DOCKER_CONTAINER_RUNTIME", rest.to_owned()),
                Some(("cri-o", rest)) => ("CRIO_CONTAINER_RUNTIME", rest.to_owned()),
                Some((_, rest)) => ("UNKNOWN_CONTAINER_RUNTIME", rest.to_owned()),
                None => ("UNKNOWN_CONTAINER_RUNTIME", id.clone()),
            };
            let mut i = Map::new();
            let mut iid = json!({"containerRuntime": runtime, "id": short});
            if let Some(n) = &node {
                iid["node"] = json!(n);
            }
            i.insert("instanceId".into(), iid);
            i.insert("containingPodId".into(), json!(uid));
            i.insert("containerName".into(), json!(name));
            if !ips.is_empty() {
                i.insert("containerIps".into(), Value::Array(ips.clone()));
            }
            let started = state["running"]["startedAt"]
                .as_str()
                .or(state["terminated"]["startedAt"].as_str());
            if let Some(s) = started {
                i.insert("started".into(), json!(s));
            }
            if let Some(d) = cs["imageID"]
                .as_str()
                .and_then(|s| s.rsplit_once('@'))
                .map(|(_, d)| d)
            {
                i.insert("imageDigest".into(), json!(d));
            }
            if let Some(t) = state.get("terminated").filter(|t| t.is_object()) {
                if let Some(f) = t.get("finishedAt") {
                    i.insert("finished".into(), f.clone());
                }
                if let Some(c) = t.get("exitCode") {
                    i.insert("exitCode".into(), c.clone());
                }
                if let Some(r) = t.get("reason") {
                    i.insert("terminationReason".into(), r.clone());
                }
            }
            Some(Value::Object(i))
        };
        let state = &cs["state"];
        if state.get("terminated").is_some_and(Value::is_object) {
            if let Some(i) = instance(state, text(&cs["containerID"])) {
                push_bucket(&mut terminated, &name, i);
            }
        } else if let Some(i) = instance(state, text(&cs["containerID"])) {
            live.push(i);
        }
        let last = &cs["lastState"];
        if last.get("terminated").is_some_and(Value::is_object)
            && let Some(i) = instance(last, text(&last["terminated"]["containerID"]))
        {
            push_bucket(&mut terminated, &name, i);
        }
    }
    // Empty fields are left out, as grpc-gateway marshals them.
    let mut pod = Map::new();
    if !uid.is_empty() {
        pod.insert("id".into(), json!(uid));
    }
    pod.insert("name".into(), doc["resourceName"].clone());
    if let Some((w_uid, _)) = &workload {
        pod.insert("deploymentId".into(), json!(w_uid));
    }
    pod.insert("namespace".into(), doc["namespace"].clone());
    pod.insert("clusterId".into(), doc["clusterId"].clone());
    if !live.is_empty() {
        pod.insert("liveInstances".into(), Value::Array(live));
    }
    if !terminated.is_empty() {
        pod.insert(
            "terminatedInstances".into(),
            Value::Array(
                terminated
                    .into_iter()
                    .map(|(_, list)| json!({ "instances": list }))
                    .collect(),
            ),
        );
    }
    if let Some(t) = meta.get("creationTimestamp").filter(|t| t.is_string()) {
        pod.insert("started".into(), t.clone());
    }
    (Value::Object(pod), workload.map(|(_, name)| name))
}

fn push_bucket(buckets: &mut Vec<(String, Vec<Value>)>, name: &str, i: Value) {
    match buckets.iter_mut().find(|(n, _)| n == name) {
        Some((_, list)) => list.push(i),
        None => buckets.push((name.to_owned(), vec![i])),
    }
}

/// What each stored document becomes: a line, or nothing when a condition
/// only the read document can decide excludes it.
fn line_map(req: &ExportRequest, owners: Option<Arc<Owners>>) -> TextMap {
    match (&req.export, owners) {
        (Export::Pods, Some(owners)) => {
            let deployment = req.query.deployment.clone();
            Arc::new(move |text: &str| {
                // The fields a StoragePod takes are plain values of the
                // stored text (no escaped keys, no stored instants): no
                // rendering needed.
                let doc: SlimPod = serde_json::from_str(text).map_err(|e| {
                    StoreError::Internal(format!("stored document is not valid JSON: {e}"))
                })?;
                let (pod, workload) = storage_pod(&doc.into_value(), &owners);
                if !deployment.iter().all(|t| t.matches(workload.as_deref())) {
                    return Ok(String::new());
                }
                Ok(format!("{}\n", json!({"result": {"pod": pod}})))
            })
        }
        _ => Arc::new(|text: &str| {
            let doc = view::render_text(text).map_err(|e| {
                StoreError::Internal(format!("stored document is not valid JSON: {e}"))
            })?;
            Ok(format!("{{\"result\":{{\"object\":{doc}}}}}\n"))
        }),
    }
}

/// Opens the export: fails before any line for a bad request; then
/// streams lines, ending with an error line on failure or timeout.
pub async fn open(
    svc: &Service,
    req: ExportRequest,
) -> Result<BoxStream<'static, Bytes>, DomainError> {
    let collection = match &req.export {
        Export::Pods => "Pod".to_owned(),
        Export::Documents(kind) => kind.clone(),
    };
    super::dynamic::check_resource_type(&collection)?;
    let ns = namespace_of(&collection);
    let owners = match req.export {
        Export::Pods => Some(Arc::new(owners(svc, &req.query.filter).await?)),
        Export::Documents(_) => None,
    };
    // In natural key order: cluster, namespace, name.
    let q = Query::new(req.query.filter.clone());
    let lines = svc.store.find_text(&ns, &q, line_map(&req, owners)).await?;
    let deadline = req.timeout.map(|t| (t, tokio::time::Instant::now() + t));
    struct St {
        lines: crate::store::TextStream,
        deadline: Option<(Duration, tokio::time::Instant)>,
        done: bool,
    }
    let st = St {
        lines,
        deadline,
        done: false,
    };
    Ok(futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        // Lines are sent in chunks of up to 64 KiB.
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            let next = match st.deadline {
                Some((t, at)) => match tokio::time::timeout_at(at, st.lines.next()).await {
                    Ok(n) if tokio::time::Instant::now() < at => n,
                    _ => {
                        st.done = true;
                        buf.extend_from_slice(&error_line(
                            DEADLINE_EXCEEDED,
                            &format!("the export did not finish within its timeout of {t:?}"),
                        ));
                        return Some((Bytes::from(buf), st));
                    }
                },
                None => st.lines.next().await,
            };
            match next {
                Some(Ok(line)) => {
                    buf.extend_from_slice(line.as_bytes());
                    if buf.len() >= 64 * 1024 {
                        return Some((Bytes::from(buf), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    let code = match &e {
                        StoreError::Unavailable(_) => UNAVAILABLE,
                        _ => INTERNAL,
                    };
                    tracing::warn!(error = %e, "an export ends early");
                    buf.extend_from_slice(&error_line(code, &format!("the export failed: {e}")));
                    return Some((Bytes::from(buf), st));
                }
                None => {
                    st.done = true;
                    return (!buf.is_empty()).then(|| (Bytes::from(buf), st));
                }
            }
        }
    })
    .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_into_filters() {
        let q = ExportQuery::parse(
            "Cluster:c1,c2+Namespace:!kube-system+Pod Name:r/web-.*",
            true,
        )
        .unwrap();
        let doc = |c: &str, ns: &str, name: &str| json!({"clusterId": c, "namespace": ns, "resourceName": name});
        assert!(q.filter.matches(&doc("c1", "default", "web-1")));
        assert!(!q.filter.matches(&doc("c3", "default", "web-1")));
        assert!(!q.filter.matches(&doc("c2", "kube-system", "web-1")));
        assert!(
            !q.filter.matches(&doc("c2", "default", "xweb-1")),
            "regexes match whole values"
        );
        let q = ExportQuery::parse("label:app=web node:n1", true).unwrap();
        let pod =
            json!({"data": {"spec": {"nodeName": "n1"}, "metadata": {"labels": {"app": "web"}}}});
        assert!(q.filter.matches(&pod));
        let q = ExportQuery::parse("Label:app.kubernetes.io/name", true).unwrap();
        let pod = json!({"data": {"metadata": {"labels": {"app\u{ff0e}kubernetes\u{ff0e}io/name": "x"}}}});
        assert!(
            q.filter.matches(&pod),
            "label keys are matched in stored form"
        );
    }

    #[test]
    fn bad_queries_name_the_problem() {
        let err = |q: &str| ExportQuery::parse(q, true).unwrap_err();
        assert!(err("Image:nginx").contains("unknown field \"image\""));
        assert!(err("Namespace").contains("expected Field:value"));
        assert!(err("Namespace:r/(").contains("invalid regular expression"));
        assert!(err("Label:=x").contains("label key"));
        assert!(err("Namespace:").contains("empty value"));
        assert!(
            ExportQuery::parse("Deployment:web", false)
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn timeouts_read_as_seconds_or_durations() {
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("soon"), None);
        assert_eq!(parse_timeout("-1"), None);
    }

    #[test]
    fn a_pod_without_status_has_no_instances() {
        let text = r#"{"clusterId":"c","namespace":"n","resourceName":"p","data":{"metadata":{"name":"p"}}}"#;
        let slim: SlimPod = serde_json::from_str(text).unwrap();
        let (pod, workload) = storage_pod(&slim.into_value(), &Owners::new());
        assert_eq!(
            pod,
            json!({"name": "p", "namespace": "n", "clusterId": "c"})
        );
        assert_eq!(workload, None);
    }

    #[test]
    fn storage_pods_have_the_seed_fields() {
        let doc = json!({"clusterId": "c1", "namespace": "n", "resourceName": "web-1", "data": {
            "metadata": {"uid": "p-uid", "creationTimestamp": "2026-01-02T03:04:05Z",
                "ownerReferences": [{"uid": "rs-uid", "name": "web-5d8", "kind": "ReplicaSet", "controller": true}]},
            "spec": {"nodeName": "node-1"},
            "status": {"podIP": "10.0.0.9", "containerStatuses": [
                {"name": "app", "containerID": "docker://abc", "imageID": "docker.io/nginx@sha256:0d17",
                 "state": {"running": {"startedAt": "2026-01-02T03:04:09Z"}},
                 "lastState": {"terminated": {"containerID": "docker://old", "exitCode": 137, "reason": "OOMKilled",
                    "startedAt": "2026-01-02T03:04:06Z", "finishedAt": "2026-01-02T03:04:08Z"}}}]}}});
        let mut owners = Owners::new();
        owners.insert("rs-uid".into(), ("dep-uid".into(), "web".into()));
        // As the export reads it: only the members it needs.
        let slim: SlimPod = serde_json::from_str(&doc.to_string()).unwrap();
        assert_eq!(
            storage_pod(&slim.into_value(), &owners),
            storage_pod(&doc, &owners)
        );
        let (pod, workload) = storage_pod(&doc, &owners);
        assert_eq!(workload.as_deref(), Some("web"));
        assert_eq!(pod["id"], "p-uid");
        assert_eq!(pod["deploymentId"], "dep-uid");
        assert_eq!(pod["started"], "2026-01-02T03:04:05Z");
        let live = &pod["liveInstances"][0];
        assert_eq!(
            live["instanceId"],
            json!({"containerRuntime": "DOCKER_CONTAINER_RUNTIME", "id": "abc", "node": "node-1"})
        );
        assert_eq!(live["containerIps"], json!(["10.0.0.9"]));
        assert_eq!(live["imageDigest"], "sha256:0d17");
        assert_eq!(live["started"], "2026-01-02T03:04:09Z");
        let dead = &pod["terminatedInstances"][0]["instances"][0];
        assert_eq!(
            (
                dead["exitCode"].as_i64(),
                dead["terminationReason"].as_str()
            ),
            (Some(137), Some("OOMKilled"))
        );
        assert_eq!(dead["instanceId"]["id"], "old");
    }
}
