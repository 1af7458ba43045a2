//! A stored document as the Kubernetes object it holds: `data` with its
//! keys restored, `kind`/`apiVersion` of the served resource, the store
//! revision as `metadata.resourceVersion` (the agent's own value kept in an
//! annotation) and the cluster as an annotation.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::resources::Resource;
use super::{CLUSTER_ANNOTATION, SOURCE_RV_ANNOTATION};
use crate::domain::view;
use crate::model::{Document, REVISION_FIELD};
use crate::store::{StoreError, Versions};

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

/// Where stored documents were read: the store revision of the read (or of
/// the change that carries them), and how the store combines it with a
/// document's version (`Query::with_revision`) into the object's
/// `resourceVersion`.
#[derive(Debug, Clone, Copy)]
pub struct ReadAt<'a> {
    pub revision: &'a str,
    pub versions: Versions,
}

impl<'a> ReadAt<'a> {
    pub fn new(revision: &'a str, versions: Versions) -> ReadAt<'a> {
        ReadAt { revision, versions }
    }

    /// The `resourceVersion` of a document with this version.
    pub fn resource_version(self, version: Option<&'a str>) -> Cow<'a, str> {
        self.versions.object_revision(self.revision, version)
    }
}

/// The object of a stored document read at `at`.
pub fn object_of(mut doc: Document, res: &Resource, at: ReadAt<'_>) -> Stored {
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
        &at.resource_version(own_rev.as_deref()),
    );
    obj.insert("metadata".into(), Value::Object(metadata));
    Stored {
        key,
        cluster,
        object: obj,
    }
}

/// Name, namespace, revision and annotations of a served object.
pub(crate) fn fix_metadata(
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

/// The stored fields the fast path reads; the rest of the document is
/// skipped without being built, and `data` is split into its members in the
/// same pass.
#[derive(serde::Deserialize)]
struct StoredRef<'a> {
    #[serde(rename = "_bcsRevision", default, borrow)]
    revision: Option<&'a str>,
    #[serde(rename = "clusterId", borrow)]
    cluster: &'a str,
    #[serde(default, borrow)]
    namespace: Option<&'a str>,
    #[serde(rename = "resourceType", default, borrow)]
    resource_type: Option<&'a str>,
    #[serde(rename = "resourceName", borrow)]
    name: &'a str,
    #[serde(default, borrow)]
    data: Option<Fields<'a>>,
}

type Raw = serde_json::value::RawValue;

/// The members of a JSON object, in order, unparsed.
struct Fields<'a>(Vec<(&'a str, &'a Raw)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Fields<'a>, M::Error> {
                let mut out = Vec::with_capacity(8);
                while let Some((k, v)) = m.next_entry::<&'de str, &'de Raw>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// A member name as read from stored JSON text (never holding a JSON
/// escape: such keys take the general path), its stored escapes restored.
fn push_key(out: &mut String, k: &str) {
    out.push('"');
    let b = k.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    while let Some(p) = memchr::memchr(0xEF, &b[at..]).map(|p| p + at) {
        let with = if k[p..].starts_with('\u{FF0E}') {
            Some('.')
        } else if k[p..].starts_with('\u{FF04}') {
            Some('$')
        } else {
            None
        };
        match with {
            Some(c) => {
                out.push_str(&k[copied..p]);
                out.push(c);
                copied = p + 3;
                at = p + 3;
            }
            None => at = p + 1,
        }
    }
    out.push_str(&k[copied..]);
    out.push('"');
}

/// Whether stored key `k` (dots possibly escaped) is `plain`, without
/// building the restored key.
fn same_key(k: &str, plain: &str) -> bool {
    k.chars()
        .map(|c| if c == '\u{FF0E}' { '.' } else { c })
        .eq(plain.chars())
}

/// Writes `metadata` as served (see [`fix_metadata`]) from its stored
/// members: only `resourceVersion` and `annotations` are looked at, the
/// rest is copied with keys restored.
fn write_metadata(
    out: &mut String,
    fields: &[(&str, &str)],
    name: &str,
    namespace: Option<&str>,
    cluster: &str,
    revision: &str,
) -> Option<()> {
    let mut source: Option<String> = None;
    let mut annotations: Option<&str> = None;
    let (mut has_name, mut has_ns) = (false, false);
    out.push('{');
    let mut sep = "";
    for (k, v) in fields {
        match *k {
            "resourceVersion" => {
                source = serde_json::from_str::<String>(v).ok();
                continue;
            }
            "annotations" => {
                annotations = Some(v);
                continue;
            }
            "name" => has_name = v.starts_with('"'),
            "namespace" => has_ns = v.starts_with('"'),
            _ => {}
        }
        out.push_str(sep);
        sep = ",";
        push_key(out, k);
        out.push(':');
        crate::domain::view::rewrite_data(v, out)?;
    }
    if !has_name {
        out.push_str(sep);
        sep = ",";
        out.push_str("\"name\":");
        push_json_str(out, name);
    }
    if let (false, Some(ns)) = (has_ns, namespace) {
        out.push_str(sep);
        sep = ",";
        out.push_str("\"namespace\":");
        push_json_str(out, ns);
    }
    out.push_str(sep);
    out.push_str("\"resourceVersion\":");
    push_json_str(out, revision);
    out.push_str(",\"annotations\":{");
    push_json_str(out, super::CLUSTER_ANNOTATION);
    out.push(':');
    push_json_str(out, cluster);
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        out.push(',');
        push_json_str(out, super::SOURCE_RV_ANNOTATION);
        out.push(':');
        push_json_str(out, &src);
    }
    if let Some(a) = annotations {
        let own = if a.starts_with('{') {
            Some(members(a)?)
        } else {
            None
        };
        for (k, v) in own.unwrap_or_default() {
            if same_key(k, super::CLUSTER_ANNOTATION) || same_key(k, super::SOURCE_RV_ANNOTATION) {
                continue;
            }
            out.push(',');
            push_key(out, k);
            out.push(':');
            crate::domain::view::rewrite_data(v, out)?;
        }
    }
    out.push_str("}}");
    Some(())
}

/// Where the JSON value starting at `pos` ends (exclusive); `None` on
/// malformed text.
fn value_end(t: &str, pos: usize) -> Option<usize> {
    let b = t.as_bytes();
    match *b.get(pos)? {
        b'"' => {
            let mut i = pos + 1;
            loop {
                i += memchr::memchr2(b'"', b'\\', &b[i..])?;
                if b[i] == b'\\' {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
        }
        b'{' | b'[' => {
            // Depth counting; strings skipped whole (structural bytes
            // inside them do not count).
            let mut depth = 0usize;
            let mut i = pos;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = value_end(t, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => Some(pos + memchr::memchr3(b',', b'}', b']', &b[pos..])?),
    }
}

/// The members of a stored JSON object (`{...}`), as (key, value text);
/// `None` when it is not an object or a key holds a JSON escape.
fn members(obj: &str) -> Option<Vec<(&str, &str)>> {
    members_at(obj, 0).map(|(m, _)| m)
}

/// [`members`] of the object starting at `start` in `text`, and where it
/// ends (exclusive).
fn members_at(text: &str, start: usize) -> Option<(Vec<(&str, &str)>, usize)> {
    let obj = text;
    let b = obj.as_bytes();
    if b.get(start) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::with_capacity(8);
    let mut pos = start + 1;
    if b.get(pos) == Some(&b'}') {
        return Some((out, pos + 1));
    }
    loop {
        if b.get(pos) != Some(&b'"') {
            return None;
        }
        let key_end = value_end(obj, pos)?;
        let key = &obj[pos + 1..key_end - 1];
        if b.get(key_end) != Some(&b':') || key.contains('\\') {
            return None;
        }
        let v_end = value_end(obj, key_end + 1)?;
        out.push((key, &obj[key_end + 1..v_end]));
        match *b.get(v_end)? {
            b',' => pos = v_end + 1,
            b'}' => return Some((out, v_end + 1)),
            _ => return None,
        }
    }
}

/// The common case, a canonical stored document (see `view::canonical`)
/// whose `data` starts with `kind`, `apiVersion` and `metadata` in any
/// order, as Go clients marshal objects: only those are read, the rest of
/// `data` is copied in one piece with escaped keys restored.
fn write_canonical(
    text: &str,
    res: &Resource,
    at: ReadAt<'_>,
    metadata_only: bool,
    out: &mut String,
) -> Option<String> {
    let c = crate::domain::view::canonical(text)?;
    let [_, Some(cluster), namespace, resource_type, Some(name)] = c.fields else {
        return None;
    };
    let data = c.data;
    let b = data.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let (mut kind, mut api_version) = (false, false);
    let mut meta_fields: Vec<(&str, &str)> = Vec::new();
    let mut pos = 1;
    let rest_start = loop {
        match *b.get(pos)? {
            b'}' => break pos,
            b'"' => {}
            _ => return None,
        }
        let key_end = value_end(data, pos)?;
        let key = &data[pos + 1..key_end - 1];
        if b.get(key_end) != Some(&b':') || key.contains('\\') {
            return None;
        }
        let v_end = match key {
            "kind" | "apiVersion" => {
                kind |= key == "kind";
                api_version |= key == "apiVersion";
                value_end(data, key_end + 1)?
            }
            "metadata" if b.get(key_end + 1) == Some(&b'{') => {
                let (m, end) = members_at(data, key_end + 1)?;
                meta_fields = m;
                end
            }
            "metadata" => value_end(data, key_end + 1)?,
            _ => break pos,
        };
        pos = match *b.get(v_end)? {
            b',' => v_end + 1,
            b'}' => v_end,
            _ => return None,
        };
    };
    if !(kind && api_version) {
        // A later `kind` would be copied twice.
        return None;
    }
    let rev = at.resource_version(c.revision);
    if metadata_only {
        out.push_str(
            "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
        );
    } else {
        out.push_str("{\"kind\":");
        push_json_str(out, &res.kind);
        out.push_str(",\"apiVersion\":");
        push_json_str(out, &res.api_version());
        out.push_str(",\"metadata\":");
    }
    write_metadata(out, &meta_fields, name, namespace, cluster, &rev)?;
    let rest = &data[rest_start..data.len() - 1];
    if !metadata_only && !rest.is_empty() {
        out.push(',');
        crate::domain::view::rewrite_data(rest, out)?;
    }
    out.push('}');
    Some(key_json(cluster, namespace, resource_type, name))
}

/// The natural key as the JSON array a continue token holds.
fn key_json(
    cluster: &str,
    namespace: Option<&str>,
    resource_type: Option<&str>,
    name: &str,
) -> String {
    let mut k = String::with_capacity(cluster.len() + name.len() + 48);
    k.push('[');
    push_json_str(&mut k, cluster);
    for part in [namespace, resource_type] {
        k.push(',');
        match part {
            Some(p) => push_json_str(&mut k, p),
            None => k.push_str("null"),
        }
    }
    k.push(',');
    push_json_str(&mut k, name);
    k.push(']');
    k
}

/// [`object_of`] on a document's stored text, writing the object's JSON
/// text (or its `PartialObjectMetadata` with `metadata_only`) to `out`
/// without building the document: members are copied as stored, with
/// escaped keys restored; only `metadata` is rewritten. Returns the natural
/// key (as JSON text); `None` for text only the general path handles
/// (`data` that is not an object, members that are not valid JSON).
pub fn write_object_text(
    text: &str,
    res: &Resource,
    at: ReadAt<'_>,
    metadata_only: bool,
    out: &mut String,
) -> Option<String> {
    let mark = out.len();
    if let Some(key) = write_canonical(text, res, at, metadata_only, out) {
        return Some(key);
    }
    out.truncate(mark);
    let doc: StoredRef = serde_json::from_str(text).ok()?;
    let fields = doc.data.map(|f| f.0).unwrap_or_default();
    let meta_fields: Vec<(&str, &str)> = match fields.iter().find(|(k, _)| *k == "metadata") {
        Some((_, raw)) if raw.get().starts_with('{') => serde_json::from_str::<Fields>(raw.get())
            .ok()?
            .0
            .into_iter()
            .map(|(k, v)| (k, v.get()))
            .collect(),
        _ => Vec::new(),
    };
    let rev = at.resource_version(doc.revision);
    let meta = |out: &mut String| {
        write_metadata(
            out,
            &meta_fields,
            doc.name,
            doc.namespace,
            doc.cluster,
            &rev,
        )
    };
    if metadata_only {
        out.push_str(
            "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
        );
        meta(out)?;
        out.push('}');
    } else {
        out.push_str("{\"kind\":");
        push_json_str(out, &res.kind);
        out.push_str(",\"apiVersion\":");
        push_json_str(out, &res.api_version());
        let mut wrote_meta = false;
        for (k, v) in &fields {
            match *k {
                "kind" | "apiVersion" => continue,
                "metadata" => {
                    out.push_str(",\"metadata\":");
                    meta(out)?;
                    wrote_meta = true;
                }
                _ => {
                    out.push(',');
                    push_key(out, k);
                    out.push(':');
                    crate::domain::view::rewrite_data(v.get(), out)?;
                }
            }
        }
        if !wrote_meta {
            out.push_str(",\"metadata\":");
            meta(out)?;
        }
        out.push('}');
    }
    Some(key_json(
        doc.cluster,
        doc.namespace,
        doc.resource_type,
        doc.name,
    ))
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

    /// Read at `rev` on a store whose versions are revisions.
    fn at(rev: &str) -> ReadAt<'_> {
        ReadAt::new(rev, Versions::Revisions)
    }
    use crate::domain::kube::resources::{Resource, builtin_by_kind};
    use serde_json::json;

    #[test]
    fn the_fast_path_writes_what_the_general_path_builds() {
        let res = Resource::of_builtin(builtin_by_kind("Pod").unwrap());
        let texts = [
            json!({"_bcsRevision": "17", "_id": "x", "clusterId": "C", "namespace": "d",
                "resourceType": "Pod", "resourceName": "p",
                "data": {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "resourceVersion": "9", "labels": {"a．b/c": "x"},
                                 "annotations": {"k": "v", "prometheus．io/port": "9090",
                                     "shadow．clusterpedia．io/cluster-name": "stale"}},
                    "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "\"q\""}]}]},
                    "status": {"phase": "Running"}},
                "createTime": {"$date": 5}}),
            // No metadata, no revision, cluster-scoped.
            json!({"_id": "y", "clusterId": "C", "resourceType": "Pod", "resourceName": "n",
                "data": {"spec": {}}}),
        ];
        for t in texts {
            let text = t.to_string();
            let mut fast = String::new();
            let key =
                write_object_text(&text, &res, at("99"), false, &mut fast).expect("fast path");
            let Value::Object(doc) = t else {
                unreachable!()
            };
            let slow = object_of(doc, &res, at("99"));
            assert_eq!(
                serde_json::from_str::<Value>(&fast).unwrap(),
                Value::Object(slow.object.clone())
            );
            assert_eq!(serde_json::from_str::<Vec<Value>>(&key).unwrap(), slow.key);
            let mut meta = String::new();
            write_object_text(&text, &res, at("99"), true, &mut meta).expect("fast path");
            assert_eq!(
                serde_json::from_str::<Value>(&meta).unwrap(),
                Value::Object(metadata_only(&slow.object))
            );
        }
        // Escaped keys are restored everywhere, values are kept.
        let t = json!({"clusterId": "C", "resourceName": "p",
            "data": {"spec": {"nodeSelector": {"kubernetes．io/os": "a．b"}}, "x．y": [{"＄ref": 1}]}});
        let mut fast = String::new();
        write_object_text(&t.to_string(), &res, at("1"), false, &mut fast).expect("fast path");
        let Value::Object(doc) = t else {
            unreachable!()
        };
        assert_eq!(
            serde_json::from_str::<Value>(&fast).unwrap(),
            Value::Object(object_of(doc, &res, at("1")).object)
        );
        assert!(fast.contains("\"kubernetes.io/os\":\"a．b\""), "{fast}");
    }

    #[test]
    fn canonical_text_with_a_trailing_revision() {
        let res = Resource::of_builtin(builtin_by_kind("Pod").unwrap());
        let data = r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","labels":{"a．b":"c"},"resourceVersion":"5"},"spec":{"nodeSelector":{"kubernetes．io/os":"linux"}},"status":{}}"#;
        for (ns, rev) in [(r#","namespace":"d""#, r#","_bcsRevision":"17""#), ("", "")] {
            let text = format!(
                r#"{{"_id":"x","clusterId":"C"{ns},"resourceType":"Pod","resourceName":"p","data":{data},"createTime":{{"$date":5}},"updateTime":{{"$date":6}}{rev}}}"#
            );
            assert!(crate::domain::view::canonical(&text).is_some(), "{text}");
            let mut fast = String::new();
            let key =
                write_canonical(&text, &res, at("99"), false, &mut fast).expect("canonical path");
            let Value::Object(doc) = serde_json::from_str::<Value>(&text).unwrap() else {
                unreachable!()
            };
            let slow = object_of(doc, &res, at("99"));
            assert_eq!(
                serde_json::from_str::<Value>(&fast).unwrap(),
                Value::Object(slow.object),
                "{fast}"
            );
            assert_eq!(serde_json::from_str::<Vec<Value>>(&key).unwrap(), slow.key);
        }
    }

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
        let s = object_of(doc, &res, at("99"));
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
