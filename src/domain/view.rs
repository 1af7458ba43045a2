//! Stored documents as clients see them: keys restored, instants rendered as
//! RFC 3339 UTC with milliseconds, the internal soft-delete flag removed.

use serde_json::{Map, Value};

use super::escape::unescape_map;
use crate::model::{Document, instant_of, render_instant};

/// Turns a stored document into its wire form.
pub fn render(mut doc: Document) -> Map<String, Value> {
    doc.remove("_isBcsObjectDeleted");
    unescape_map(&mut doc);
    for v in doc.values_mut() {
        render_instants(v);
    }
    doc
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
