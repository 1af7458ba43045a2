//! Clusterpedia's resources beyond the Kubernetes API (seed 002): the
//! containers of a namespace's pods, and the `workloads` collection
//! resource (deployments, daemonsets and statefulsets in one list).

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value, json};

use super::Status;
use super::discovery::namespace_of;
use super::list::{Body, Continue, Shape, scope_filter};
use super::object::{ReadAt, metadata_only, object_of, parse_stored};
use super::path::View;
use super::resources::{Resource, builtin_by_kind};
use super::search::Search;
use super::selectors::label_filter;
use crate::domain::Service;
use crate::domain::params::RawParams;
use crate::model::{Filter, Query};

/// One item per container of the namespace's pods (and their init
/// containers), with its pod, image, readiness, restarts and state;
/// `name` keeps the containers of that name.
pub async fn containers(
    svc: &Service,
    view: &View,
    namespace: &str,
    name: Option<&str>,
    raw: &RawParams,
) -> Result<String, Status> {
    crate::domain::dynamic::check_segment("namespace", namespace).map_err(Status::from)?;
    let search = Search::parse(raw)?;
    let pod = Resource::of_builtin(builtin_by_kind("Pod").ok_or_else(Status::no_resource)?);
    let ns = namespace_of("Pod");
    let mut parts = vec![
        scope_filter(view, &search, Some(namespace)),
        search.filter(),
    ];
    if let Some(l) = raw.single("labelSelector").map_err(Status::from)? {
        parts.push(label_filter(l)?);
    }
    let rv = svc.store.revision(&ns).await?;
    let mut q = Query::new(Filter::and(parts));
    q.with_revision = true;
    let mut docs = svc.store.find(&ns, &q).await?;
    let mut items = Vec::new();
    while let Some(doc) = docs.try_next().await? {
        let stored = object_of(doc, &pod, ReadAt::new(&rv, svc.store.versions()));
        let o = Value::Object(stored.object);
        let pod_name = o["metadata"]["name"].clone();
        for (list, statuses, init) in [
            ("containers", "containerStatuses", false),
            ("initContainers", "initContainerStatuses", true),
        ] {
            let specs = o["spec"][list].as_array().cloned().unwrap_or_default();
            let sts = o["status"][statuses]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for c in specs {
                let cname = c["name"].as_str().unwrap_or_default().to_owned();
                if name.is_some_and(|n| n != cname) {
                    continue;
                }
                let st = sts
                    .iter()
                    .find(|s| s["name"] == c["name"])
                    .cloned()
                    .unwrap_or(Value::Null);
                items.push(json!({
                    "name": cname,
                    "cluster": stored.cluster,
                    "namespace": namespace,
                    "pod": pod_name,
                    "init": init,
                    "image": c["image"],
                    "imageID": st.get("imageID").cloned().unwrap_or(Value::Null),
                    "containerID": st.get("containerID").cloned().unwrap_or(Value::Null),
                    "ready": st.get("ready").cloned().unwrap_or(Value::Bool(false)),
                    "started": st.get("started").cloned().unwrap_or(Value::Null),
                    "restartCount": st.get("restartCount").cloned().unwrap_or(json!(0)),
                    "state": st.get("state").cloned().unwrap_or(json!({})),
                    "lastState": st.get("lastState").cloned().unwrap_or(json!({})),
                    "ports": c.get("ports").cloned().unwrap_or(Value::Null),
                    "resources": c.get("resources").cloned().unwrap_or(json!({})),
                }));
            }
        }
    }
    if let Some(n) = name
        && items.is_empty()
    {
        return Err(Status::not_found("", "containers", n));
    }
    Ok(json!({
        "kind": "ContainerList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
        "items": items,
    })
    .to_string())
}

const WORKLOAD_KINDS: [&str; 3] = ["Deployment", "DaemonSet", "StatefulSet"];

/// `collectionresources/workloads`: the three kinds in one list, paged by
/// `limit` with offset `continue` tokens (Clusterpedia's own form).
pub async fn workloads(svc: &Service, raw: &RawParams, shape: Shape) -> Result<Body, Status> {
    let search = Search::parse(raw)?;
    let single = |n: &str| raw.single(n).map_err(Status::from);
    let mut parts = vec![scope_filter(&View::All, &search, None), search.filter()];
    if let Some(l) = single("labelSelector")? {
        parts.push(label_filter(l)?);
    }
    let filter = Filter::and(parts);
    let limit = match single("limit")? {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| Status::bad_request(format!("limit: {v:?} is not an integer")))?,
        )
        .filter(|n| *n > 0),
    };
    let mut skip = match single("continue")?.map(Continue::decode).transpose()? {
        Some(Continue::Offset { offset, .. }) => offset,
        Some(Continue::After { .. }) => {
            return Err(Status::bad_request(
                "continue key is not valid: list again without it",
            ));
        }
        None => 0,
    };
    let start = skip;
    let mut items: Vec<String> = Vec::new();
    let mut more = false;
    let mut revisions = Map::new();
    for kind in WORKLOAD_KINDS {
        let res = Arc::new(Resource::of_builtin(
            builtin_by_kind(kind).ok_or_else(Status::no_resource)?,
        ));
        let ns = namespace_of(kind);
        let rv = svc.store.revision(&ns).await?;
        revisions.insert(kind.to_owned(), Value::String(rv.clone()));
        let total = svc.store.count(&ns, &filter).await?;
        if skip >= total {
            skip -= total;
            continue;
        }
        let mut q = Query::new(filter.clone());
        q.skip = skip;
        skip = 0;
        q.with_revision = true;
        if let Some(l) = limit {
            let room = l.saturating_sub(items.len() as u64);
            if room == 0 {
                more = true;
                break;
            }
            q.limit = Some(room + 1);
        }
        let res2 = res.clone();
        let versions = svc.store.versions();
        let mut texts = svc
            .store
            .find_text(
                &ns,
                &q,
                Arc::new(move |t: &str| {
                    let obj = object_of(parse_stored(t)?, &res2, ReadAt::new(&rv, versions)).object;
                    let v = match shape {
                        Shape::Metadata => Value::Object(metadata_only(&obj)),
                        _ => Value::Object(obj),
                    };
                    Ok(v.to_string())
                }),
            )
            .await?;
        while let Some(t) = texts.try_next().await? {
            if limit.is_some_and(|l| items.len() as u64 >= l) {
                more = true;
                break;
            }
            items.push(t);
        }
        if more {
            break;
        }
    }
    let mut meta = Map::new();
    // The list spans three collections: their revisions, joined.
    meta.insert(
        "resourceVersion".into(),
        Value::String(
            WORKLOAD_KINDS
                .iter()
                .filter_map(|k| revisions.get(*k).and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(","),
        ),
    );
    if more {
        meta.insert(
            "continue".into(),
            Value::String(
                Continue::Offset {
                    rv: None,
                    offset: start + items.len() as u64,
                }
                .encode(),
            ),
        );
    }
    let types: Vec<Value> = WORKLOAD_KINDS
        .iter()
        .map(|k| json!({"group": "apps", "version": "v1", "resource": format!("{}s", k.to_lowercase()), "kind": k}))
        .collect();
    let text = format!(
        "{{\"kind\":\"CollectionResource\",\"apiVersion\":\"clusterpedia.io/v1beta1\",\"metadata\":{},\"resourceTypes\":{},\"items\":[{}]}}",
        Value::Object(meta),
        Value::Array(types),
        items.join(",")
    );
    Ok(futures::stream::once(async move { Ok(Bytes::from(text)) }).boxed())
}

/// `/apis/clusterpedia.io/v1beta1`.
pub fn clusterpedia_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "clusterpedia.io/v1beta1",
        "resources": [
            {"name": "resources", "singularName": "", "namespaced": false, "kind": "Resources", "verbs": ["get", "list"]},
            {"name": "collectionresources", "singularName": "collectionresource", "namespaced": false, "kind": "CollectionResource", "verbs": ["get", "list"]},
        ],
    })
}

/// `/apis/clusterpedia.io/v1beta1/collectionresources`.
pub fn collection_resources() -> Value {
    json!({
        "kind": "CollectionResourceList",
        "apiVersion": "clusterpedia.io/v1beta1",
        "metadata": {},
        "items": [{
            "metadata": {"name": "workloads"},
            "resourceTypes": WORKLOAD_KINDS
                .iter()
                .map(|k| json!({"group": "apps", "version": "v1", "resource": format!("{}s", k.to_lowercase()), "kind": k}))
                .collect::<Vec<_>>(),
        }],
    })
}
