//! Discovery: which resources the views serve (every built-in kind, and
//! every other stored Kubernetes kind), as the legacy documents and as the
//! aggregated `apidiscovery.k8s.io/v2` form kubectl 1.32 asks for first.

use futures::StreamExt;
use serde_json::{Value, json};

use super::Status;
use super::path::ResourceRef;
use super::resources::{BUILTINS, Resource, builtin_by_kind, builtin_by_path, kind_like};
use crate::domain::Service;
use crate::domain::dynamic::DYNAMIC_KEY;
use crate::model::{Database, Filter, Namespace, Projection, Query};

/// Verbs of every served resource (writes in the one-cluster views; the
/// all-clusters view answers them 405).
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// What the metrics resources answer: reads, and the writes of samples.
const METRICS_VERBS: &[&str] = &["create", "delete", "get", "list", "update"];

fn verbs(r: &Resource) -> &'static [&'static str] {
    if super::metrics::is_metrics(r) {
        METRICS_VERBS
    } else {
        VERBS
    }
}

/// The subresources of a resource and their verbs: `status` for every
/// kind; a pod's `ephemeralcontainers` and `log` (which answers that no
/// logs are kept).
fn subresources(r: &Resource) -> Vec<(&'static str, &'static [&'static str])> {
    const WRITABLE: &[&str] = &["get", "patch", "update"];
    if super::metrics::is_metrics(r) {
        return Vec::new();
    }
    let mut subs = vec![("status", WRITABLE)];
    if r.kind == "Pod" && r.group.is_empty() {
        subs.push(("ephemeralcontainers", WRITABLE));
        subs.push(("log", &["get"]));
    }
    subs
}

/// The storage namespace of a kind.
pub fn namespace_of(kind: &str) -> Namespace {
    Namespace {
        database: Database::Dynamic,
        collection: kind.to_owned(),
        key_fields: DYNAMIC_KEY,
    }
}

/// Every served resource: the built-in kinds, then the other stored kinds
/// (their group/version from a stored `apiVersion`, scope from whether the
/// stored documents have a namespace).
pub async fn resources(svc: &Service) -> Result<Vec<Resource>, Status> {
    let mut out: Vec<Resource> = BUILTINS.iter().map(Resource::of_builtin).collect();
    let mut names = svc.store.list_collections(Database::Dynamic).await?;
    names.sort();
    for name in names {
        if !kind_like(&name) || builtin_by_kind(&name).is_some() {
            continue;
        }
        let q = Query {
            projection: Some(Projection::new(["data.apiVersion", "namespace"])),
            limit: Some(1),
            ..Query::new(Filter::Eq(
                "resourceType".into(),
                Value::String(name.clone()),
            ))
        };
        let mut docs = svc.store.find(&namespace_of(&name), &q).await?;
        let Some(doc) = docs.next().await.transpose()? else {
            continue;
        };
        let api_version = doc
            .get("data")
            .and_then(|d| d.get("apiVersion"))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        let Some(api_version) = api_version else {
            continue;
        };
        let namespaced = doc.get("namespace").is_some_and(Value::is_string);
        let res = Resource::of_stored(&name, api_version, namespaced);
        if out
            .iter()
            .any(|r| r.group == res.group && r.plural == res.plural)
        {
            continue;
        }
        out.push(res);
    }
    Ok(out)
}

/// The resource a path names; NotFound when none is served there.
pub async fn resolve(svc: &Service, r: &ResourceRef) -> Result<Resource, Status> {
    if let Some(b) = builtin_by_path(&r.group, &r.version, &r.plural) {
        return Ok(Resource::of_builtin(b));
    }
    if BUILTINS
        .iter()
        .any(|b| b.group == r.group && b.plural == r.plural)
    {
        // A built-in resource at a version not served.
        return Err(Status::no_resource());
    }
    resources(svc)
        .await?
        .into_iter()
        .find(|x| x.group == r.group && x.version == r.version && x.plural == r.plural)
        .ok_or_else(Status::no_resource)
}

/// Groups in the order served (core first), each with its versions.
fn groups(all: &[Resource]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in all {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) => {
                if !vs.contains(&r.version) {
                    vs.push(r.version.clone());
                }
            }
            None => out.push((r.group.clone(), vec![r.version.clone()])),
        }
    }
    out
}

fn gv(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0+bcs-storage-", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// `/api` (legacy).
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    })
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": gv(group, v), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis` (legacy).
pub fn group_list(all: &[Resource]) -> Value {
    let groups: Vec<Value> = groups(all)
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_json(&g, &vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}` (legacy); None when no resource is in the group.
pub fn group(all: &[Resource], name: &str) -> Option<Value> {
    let (g, vs) = groups(all)
        .into_iter()
        .find(|(g, _)| g == name && !g.is_empty())?;
    let mut v = group_json(&g, &vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// `/api/v1`, `/apis/{group}/{version}` (legacy); None when nothing is
/// served there.
pub fn resource_list(all: &[Resource], group: &str, version: &str) -> Option<Value> {
    let items: Vec<Value> = all
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .flat_map(|r| {
            let mut v = json!({
                "name": r.plural,
                "singularName": r.singular(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": verbs(r),
            });
            if !r.short_names.is_empty() {
                v["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                v["categories"] = json!(r.categories);
            }
            let subs = subresources(r).into_iter().map(|(sub, verbs)| {
                json!({
                    "name": format!("{}/{sub}", r.plural),
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": verbs,
                })
            });
            std::iter::once(v).chain(subs)
        })
        .collect();
    if items.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv(group, version),
        "resources": items,
    }))
}

/// The aggregated discovery document of `/api` (core) or `/apis` (the
/// other groups): `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`.
pub fn aggregated(all: &[Resource], core: bool, api_version: &str) -> Value {
    let items: Vec<Value> = groups(all)
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = all
                        .iter()
                        .filter(|r| r.group == g && &r.version == v)
                        .map(|r| {
                            let mut x = json!({
                                "resource": r.plural,
                                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": r.singular(),
                                "verbs": verbs(r),
                                "subresources": subresources(r).into_iter().map(|(sub, verbs)| json!({
                                    "subresource": sub,
                                    "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                    "verbs": verbs,
                                })).collect::<Vec<_>>(),
                            });
                            if !r.short_names.is_empty() {
                                x["shortNames"] = json!(r.short_names);
                            }
                            if !r.categories.is_empty() {
                                x["categories"] = json!(r.categories);
                            }
                            x
                        })
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": api_version,
        "metadata": {},
        "items": items,
    })
}

/// `/openapi/v3`: where the document of each group/version is. The
/// documents only describe what clients look up in them: which PATCH
/// operations accept `fieldValidation` (so `kubectl` leaves validation to
/// the server instead of downloading schemas to validate with).
pub fn openapi_index(all: &[Resource]) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, vs) in groups(all) {
        for v in vs {
            let key = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            let hash = fnv_hex(
                &openapi_document(all, &g, &v)
                    .unwrap_or_default()
                    .to_string(),
            );
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
            );
        }
    }
    json!({ "paths": paths })
}

/// A stable short hash of a document (the index's cache key).
fn fnv_hex(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// The OpenAPI v3 document of a group/version (see [`openapi_index`]):
/// each resource's object path with its operations, the PATCH one naming
/// its kind and the `fieldValidation` parameter. `None` when nothing is
/// served there.
pub fn openapi_document(all: &[Resource], group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
    for r in all
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let root = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let object_path = if r.namespaced {
            format!("{root}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{root}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let ok = json!({"200": {"description": "OK"}});
        paths.insert(
            object_path,
            json!({
                "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk,
                        "parameters": [param("pretty")], "responses": ok},
                "put": {"x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk,
                        "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation")],
                        "responses": ok},
                "patch": {"x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
                          "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
                          "responses": ok},
                "delete": {"x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk,
                           "parameters": [param("dryRun"), param("gracePeriodSeconds"), param("propagationPolicy")],
                           "responses": ok},
            }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "bcs-storage Kubernetes view", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_list_the_builtins() {
        let all: Vec<Resource> = BUILTINS.iter().map(Resource::of_builtin).collect();
        let core = resource_list(&all, "", "v1").unwrap();
        let pods = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods")
            .unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["namespaced"], true);
        let groups = group_list(&all);
        assert!(
            groups["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == "apps")
        );
        let agg = aggregated(&all, false, "apidiscovery.k8s.io/v2");
        assert!(
            agg["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["metadata"]["name"] != "")
        );
        assert!(resource_list(&all, "apps", "v1beta1").is_none());
    }
}
