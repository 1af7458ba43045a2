//! Stored documents as clients see them: keys restored, instants rendered as
//! RFC 3339 UTC with milliseconds, the internal soft-delete flag removed.

use serde_json::{Map, Value};

use super::escape::unescape_map;
use crate::model::{Document, instant_of, render_instant};

/// Top-level fields in the order clients see them; others follow as stored.
const ORDER: &[&str] = &[
    "_id",
    "clusterId",
    "namespace",
    "resourceType",
    "resourceName",
    "data",
    "createTime",
    "updateTime",
];

/// Turns a stored document into its wire form.
pub fn render(mut doc: Document) -> Map<String, Value> {
    doc.remove("_isBcsObjectDeleted");
    // Instants first: a client's own `$date` key is stored as `＄date` and
    // only becomes `$date` again when keys are restored below.
    for v in doc.values_mut() {
        render_instants(v);
    }
    unescape_map(&mut doc);
    let in_order = doc.keys().zip(ORDER).all(|(k, o)| k == o);
    if in_order {
        return doc;
    }
    let mut out = Map::with_capacity(doc.len());
    for key in ORDER {
        if let Some((k, v)) = doc.remove_entry(*key) {
            out.insert(k, v);
        }
    }
    out.append(&mut doc);
    out
}

fn render_instants(v: &mut Value) {
    if let Some(ms) = instant_of(v) {
        *v = Value::String(render_instant(ms));
        return;
    }
    match v {
        Value::Array(items) => items.iter_mut().for_each(render_instants),
        Value::Object(m) => m.values_mut().for_each(render_instants),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn top_level_fields_come_in_canonical_order() {
        let Value::Object(d) = json!({"data": 1, "resourceName": "r", "_id": "x", "extraField": 2})
        else {
            unreachable!()
        };
        let keys: Vec<String> = render(d).keys().cloned().collect();
        assert_eq!(keys, ["_id", "resourceName", "data", "extraField"]);
    }

    #[test]
    fn renders_times_restores_keys_and_hides_the_flag() {
        let Value::Object(d) = json!({
            "_id": "x", "data": {"a．b": 1}, "createTime": {"$date": 1_508_139_292_123i64},
            "_isBcsObjectDeleted": false
        }) else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(render(d)),
            json!({"_id": "x", "data": {"a.b": 1}, "createTime": "2017-10-16T07:34:52.123Z"})
        );
    }
}
