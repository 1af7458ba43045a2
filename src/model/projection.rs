//! Inclusion projections (`field=a,b.c`) with MongoDB semantics: `_id` is always
//! kept, overlapping paths collapse to the wider one, and a path through an
//! array projects inside each object element (other elements are dropped).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A normalised set of included paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<String>,
}

#[derive(Default)]
struct Trie {
    leaf: bool,
    children: BTreeMap<String, Trie>,
}

impl Projection {
    /// Build from dotted paths; paths covered by a shorter one are dropped.
    pub fn new<I, S>(paths: I) -> Projection
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all: Vec<String> = paths.into_iter().map(Into::into).collect();
        all.sort();
        all.dedup();
        let covered = |p: &str, by: &str| {
            p.len() > by.len() && p.starts_with(by) && p.as_bytes()[by.len()] == b'.'
        };
        let kept: Vec<String> = all
            .iter()
            .filter(|p| !all.iter().any(|q| covered(p, q)))
            .cloned()
            .collect();
        Projection { paths: kept }
    }

    /// The normalised paths (no path is a prefix of another).
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Apply to a stored document.
    pub fn apply(&self, doc: &Map<String, Value>) -> Map<String, Value> {
        let mut trie = Trie::default();
        for p in &self.paths {
            let mut node = &mut trie;
            for c in p.split('.') {
                node = node.children.entry(c.to_owned()).or_default();
            }
            node.leaf = true;
        }
        let mut out = project_object(doc, &trie);
        if let Some(id) = doc.get("_id")
            && !out.contains_key("_id")
        {
            let mut with_id = Map::with_capacity(out.len() + 1);
            with_id.insert("_id".to_owned(), id.clone());
            with_id.append(&mut out);
            out = with_id;
        }
        out
    }
}

fn project_object(obj: &Map<String, Value>, trie: &Trie) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        if let Some(pv) = trie.children.get(k).and_then(|sub| project_value(v, sub)) {
            out.insert(k.clone(), pv);
        }
    }
    out
}

fn project_value(v: &Value, trie: &Trie) -> Option<Value> {
    if trie.leaf {
        return Some(v.clone());
    }
    match v {
        Value::Object(m) => Some(Value::Object(project_object(m, trie))),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|i| project_value(i, trie))
                .collect(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(p: &[&str], v: Value) -> Value {
        let Value::Object(m) = v else {
            return Value::Null;
        };
        Value::Object(Projection::new(p.iter().copied()).apply(&m))
    }

    #[test]
    fn keeps_id_and_listed_paths() {
        let d =
            json!({"_id": "x", "resourceName": "p", "data": {"metadata": {"name": "p", "uid": 1}}});
        assert_eq!(
            apply(&["resourceName"], d.clone()),
            json!({"_id": "x", "resourceName": "p"})
        );
        assert_eq!(
            apply(&["data.metadata.name", "resourceName"], d.clone()),
            json!({"_id": "x", "resourceName": "p", "data": {"metadata": {"name": "p"}}})
        );
        assert_eq!(
            apply(&["data", "data.metadata"], d.clone()),
            json!({"_id": "x", "data": d["data"]})
        );
        assert_eq!(apply(&["nope"], d), json!({"_id": "x"}));
    }

    #[test]
    fn projects_inside_array_elements() {
        let d = json!({"_id": "x", "a": [{"b": 1, "c": 2}, {"c": 3}, 5]});
        assert_eq!(apply(&["a.b"], d), json!({"_id": "x", "a": [{"b": 1}, {}]}));
    }
}
