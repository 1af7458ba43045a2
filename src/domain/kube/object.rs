//! A stored document as the Kubernetes object it holds: `data` with its
//! keys restored, `kind`/`apiVersion` of the served resource, the store
//! revision as `metadata.resourceVersion` (the agent's own value kept in an
//! annotation) and the cluster as an annotation.

use serde_json::{Map, Value};

use super::resources::Resource;
use super::{CLUSTER_ANNOTATION, SOURCE_RV_ANNOTATION};
use crate::domain::view;
use crate::model::{Document, REVISION_FIELD};
use crate::store::StoreError;

/// What a stored document is, besides its object.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The natural key values (clusterId, namespace, resourceType,
    /// resourceName): the keyset position of the document.
    pub key: Vec<Value>,
    pub cluster: String,
    pub object: Map<String, Value>,
}

/// Parses a stored document's text (as `find_text` gives it).
pub fn parse_stored(text: &str) -> Result<Document, StoreError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(StoreError::Internal(
            "stored document is not a JSON object".into(),
        )),
    }
}

/// The object of a stored document; `revision` is the store revision to
/// show where the document does not carry its own.
pub fn object_of(mut doc: Document, res: &Resource, revision: &str) -> Stored {
    let own_rev = match doc.shift_remove(REVISION_FIELD) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let key: Vec<Value> = crate::domain::dynamic::DYNAMIC_KEY
        .iter()
        .map(|k| doc.get(*k).cloned().unwrap_or(Value::Null))
        .collect();
    let cluster = key[0].as_str().unwrap_or_default().to_owned();
    let namespace = key[1].as_str().map(str::to_owned);
    let name = key[3].as_str().unwrap_or_default().to_owned();
    let mut wire = view::render(doc);
    let data = match wire.shift_remove("data") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut obj = Map::with_capacity(data.len() + 2);
    obj.insert("kind".into(), Value::String(res.kind.clone()));
    obj.insert("apiVersion".into(), Value::String(res.api_version()));
    let mut metadata = Map::new();
    for (k, v) in data {
        match k.as_str() {
            "kind" | "apiVersion" => {}
            "metadata" => {
                if let Value::Object(m) = v {
                    metadata = m;
                }
                obj.insert("metadata".into(), Value::Null);
            }
            _ => {
                obj.insert(k, v);
            }
        }
    }
    fix_metadata(
        &mut metadata,
        &name,
        namespace.as_deref(),
        &cluster,
        own_rev.as_deref().unwrap_or(revision),
    );
    obj.insert("metadata".into(), Value::Object(metadata));
    Stored {
        key,
        cluster,
        object: obj,
    }
}

/// Name, namespace, revision and annotations of a served object.
fn fix_metadata(
    m: &mut Map<String, Value>,
    name: &str,
    namespace: Option<&str>,
    cluster: &str,
    revision: &str,
) {
    if !m.get("name").is_some_and(Value::is_string) {
        m.insert("name".into(), Value::String(name.to_owned()));
    }
    if let Some(ns) = namespace
        && !m.get("namespace").is_some_and(Value::is_string)
    {
        m.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    let source = m.insert("resourceVersion".into(), Value::String(revision.to_owned()));
    let annotations = m
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Value::Object(a) = annotations {
        a.insert(CLUSTER_ANNOTATION.into(), Value::String(cluster.to_owned()));
        if let Some(Value::String(s)) = source
            && !s.is_empty()
        {
            a.insert(SOURCE_RV_ANNOTATION.into(), Value::String(s));
        }
    }
}

/// `PartialObjectMetadata` of an object.
pub fn metadata_only(obj: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("kind".into(), Value::String("PartialObjectMetadata".into()));
    out.insert("apiVersion".into(), Value::String("meta.k8s.io/v1".into()));
    out.insert(
        "metadata".into(),
        obj.get("metadata")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kube::resources::{Resource, builtin_by_kind};
    use serde_json::json;

    #[test]
    fn stored_pod_becomes_an_object() {
        let doc = json!({
            "_id": "x", "clusterId": "BCS-K8S-1", "namespace": "default",
            "resourceType": "Pod", "resourceName": "p1",
            "data": {"metadata": {"name": "p1", "resourceVersion": "991",
                     "labels": {"app．kubernetes．io/name": "web"}}, "spec": {}},
            "createTime": {"$date": 0}, REVISION_FIELD: "17"
        });
        let Value::Object(doc) = doc else {
            unreachable!()
        };
        let res = Resource::of_builtin(builtin_by_kind("Pod").unwrap());
        let s = object_of(doc, &res, "99");
        let o = Value::Object(s.object);
        assert_eq!(o["kind"], "Pod");
        assert_eq!(o["apiVersion"], "v1");
        assert_eq!(o["metadata"]["resourceVersion"], "17");
        assert_eq!(o["metadata"]["namespace"], "default");
        assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/name"], "web");
        assert_eq!(o["metadata"]["annotations"][SOURCE_RV_ANNOTATION], "991");
        assert_eq!(
            o["metadata"]["annotations"][CLUSTER_ANNOTATION],
            "BCS-K8S-1"
        );
        assert_eq!(
            s.key,
            vec![
                json!("BCS-K8S-1"),
                json!("default"),
                json!("Pod"),
                json!("p1")
            ]
        );
    }
}
