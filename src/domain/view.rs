//! Stored documents as clients see them: keys restored, instants rendered as
//! RFC 3339 UTC with milliseconds, the internal soft-delete flag removed.

use serde_json::{Map, Value};

use super::escape::{DOLLAR, DOT, unescape_map};
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
    doc.shift_remove("_isBcsObjectDeleted");
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
        if let Some((k, v)) = doc.shift_remove_entry(*key) {
            out.insert(k, v);
        }
    }
    out.append(&mut doc);
    out
}

/// [`render`] on a document's JSON text, giving the wire form's JSON text.
///
/// The text is rewritten in one pass without building a tree: escaped key
/// characters are restored, `{"$date":ms}` objects become RFC 3339 strings,
/// everything else is copied as it is. The top-level object is split once to
/// put its fields in the canonical order. Text the pass does not expect
/// (top-level keys written with JSON escapes) takes the general path.
pub fn render_text(text: &str) -> Result<String, serde_json::Error> {
    if let Some(out) = render_text_fast(text) {
        return Ok(out);
    }
    match serde_json::from_str::<Value>(text)? {
        Value::Object(doc) => serde_json::to_string(&render(doc)),
        other => serde_json::to_string(&other),
    }
}

/// `None` when the text is not what the pass expects: the caller then takes
/// the general path.
fn render_text_fast(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let fields = transcode(text, &mut out)?;
    let canonical = fields
        .iter()
        .map(|f| &out[f.key.clone()])
        .zip(ORDER)
        .all(|(k, o)| k == *o);
    if canonical
        && fields
            .iter()
            .all(|f| &out[f.key.clone()] != "_isBcsObjectDeleted")
    {
        return Some(out);
    }
    let mut sorted = String::with_capacity(out.len());
    sorted.push('{');
    let mut emit = |f: &Field| {
        if sorted.len() > 1 {
            sorted.push(',');
        }
        sorted.push_str(&out[f.whole.clone()]);
    };
    for key in ORDER {
        if let Some(f) = fields.iter().find(|f| &out[f.key.clone()] == *key) {
            emit(f);
        }
    }
    for f in &fields {
        let k = &out[f.key.clone()];
        if !ORDER.contains(&k) && k != "_isBcsObjectDeleted" {
            emit(f);
        }
    }
    sorted.push('}');
    Some(sorted)
}

/// A top-level field of the rendered text: its key (without quotes) and the
/// whole `"key":value` member, as ranges of the output.
struct Field {
    key: std::ops::Range<usize>,
    whole: std::ops::Range<usize>,
}

/// Rewrites a document (compact JSON text, as stored) into `out` in one pass:
/// keys with `．`/`＄` restored, `{"$date":ms}` objects rendered, the rest
/// copied as it is. Returns the top-level fields in stored order.
fn transcode(raw: &str, out: &mut String) -> Option<Vec<Field>> {
    let b = raw.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut fields: Vec<Field> = Vec::with_capacity(12);
    // Containers open at this point: true for an object.
    let mut stack: Vec<bool> = Vec::with_capacity(16);
    let mut expect_key = false;
    // Start of the member being read at the top level, as an output offset.
    let mut member_start = 0;
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = string_end(b, i)?;
                if expect_key {
                    let top = stack.len() == 1;
                    if top {
                        out.push_str(&raw[copied..i]);
                        copied = i;
                        member_start = out.len();
                    }
                    if top || memchr::memchr(0xEF, &b[i..end]).is_some() {
                        out.push_str(&raw[copied..i]);
                        out.push('"');
                        let key_start = out.len();
                        push_key(out, &raw[i + 1..end - 1]);
                        let key_end = out.len();
                        out.push('"');
                        copied = end;
                        if top {
                            // A key written with JSON escapes: the general path.
                            if memchr::memchr(b'\\', &b[i..end]).is_some() {
                                return None;
                            }
                            fields.push(Field {
                                key: key_start..key_end,
                                whole: member_start..0,
                            });
                        }
                    }
                }
                expect_key = false;
                i = end;
            }
            b'{' => {
                if let Some((ms, len)) = instant_at(&raw[i..]) {
                    out.push_str(&raw[copied..i]);
                    out.push('"');
                    out.push_str(&render_instant(ms));
                    out.push('"');
                    i += len;
                    copied = i;
                    continue;
                }
                stack.push(true);
                expect_key = true;
                i += 1;
            }
            b'[' => {
                stack.push(false);
                i += 1;
            }
            c @ (b'}' | b']' | b',') => {
                if stack.len() == 1 && (c == b',' || c == b'}') {
                    out.push_str(&raw[copied..i]);
                    copied = i;
                    if let Some(f) = fields.last_mut()
                        && f.whole.end == 0
                    {
                        f.whole.end = out.len();
                    }
                }
                if c == b',' {
                    expect_key = *stack.last()?;
                } else {
                    stack.pop()?;
                    if stack.is_empty() && i + 1 != b.len() {
                        return None;
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if !stack.is_empty() {
        return None;
    }
    out.push_str(&raw[copied..]);
    Some(fields)
}

/// Appends a key's text with `．` and `＄` restored.
fn push_key(out: &mut String, k: &str) {
    if k.as_bytes().contains(&0xEF) {
        out.push_str(&k.replace(DOT, ".").replace(DOLLAR, "$"));
    } else {
        out.push_str(k);
    }
}

/// Index just past the string starting at `start` (an opening quote).
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
        if i > b.len() {
            return None;
        }
    }
}

/// A stored instant `{"$date":<i64>}` at the start of `s`: its milliseconds
/// and its length in bytes.
fn instant_at(s: &str) -> Option<(i64, usize)> {
    let rest = s.strip_prefix("{\"$date\":")?;
    let digits = rest
        .bytes()
        .enumerate()
        .take_while(|&(i, c)| c.is_ascii_digit() || (i == 0 && c == b'-'))
        .count();
    if rest.as_bytes().get(digits) != Some(&b'}') {
        return None;
    }
    let ms = rest[..digits].parse::<i64>().ok()?;
    Some((ms, s.len() - rest.len() + digits + 1))
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

    /// The text path gives exactly what the document path gives.
    #[test]
    fn text_rendering_agrees_with_document_rendering() {
        let docs = [
            json!({"data": 1, "resourceName": "r", "_id": "x", "extraField": 2}),
            json!({"_id": "x", "data": {"a．b": 1, "v": "a.b$c ．"}, "createTime": {"$date": 1_508_139_292_123i64},
                   "_isBcsObjectDeleted": false, "updateTime": {"$date": 0}}),
            json!({"clusterId": "c", "data": {"l": [{"＄ref": {"$date": 5}}], "s": "\u{1}\"q"}}),
            json!({"a．b": 1, "data": null}),
            json!({"k\"q": 1, "data": [1, 2, {"x": "é"}]}),
            json!({}),
            json!({"data": {"t": {"$date": -5}, "big": {"$date": 1e3}, "o": {"$date": 1, "x": 2},
                   "s": "{\"$date\":1}", "k．": {"ann．x": ["．", {"＄": "＄"}]}, "e": [], "n": [[{}]]},
                   "_isBcsObjectDeleted": true, "updateTime": {"$date": 9_999_999_999_999_999i64}}),
        ];
        for d in docs {
            let text = serde_json::to_string(&d).unwrap();
            let Value::Object(m) = d else { unreachable!() };
            let expected = serde_json::to_string(&render(m)).unwrap();
            assert_eq!(render_text(&text).unwrap(), expected, "for {text}");
        }
    }

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

    mod prop {
        use super::super::*;
        use proptest::prelude::*;
        use serde_json::json;

        const KEYS: &[&str] = &["a", "a．b", "＄x", "$date", "k\"q", "é", "x\\y", ""];

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                // Exact binary fractions: a float that does not survive a
                // parse unchanged is copied as stored on the text path.
                (-1000i64..1000).prop_map(|i| json!(i as f64 / 4.0)),
                "[a．＄$\"\\\\é{}\\[\\],: \u{1}]{0,6}".prop_map(Value::String),
                (-10_000_000_000_000i64..10_000_000_000_000).prop_map(crate::model::date_millis),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(
                        |kv| Value::Object(
                            kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                        )
                    ),
                ]
            })
        }

        fn top_key() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "_id",
                "clusterId",
                "namespace",
                "resourceType",
                "resourceName",
                "data",
                "createTime",
                "updateTime",
                "_isBcsObjectDeleted",
                "extra",
                "a．b",
                "k\"q",
            ])
        }

        proptest! {
            /// The one-pass text rendering equals the tree rendering.
            #[test]
            fn text_rendering_equals_tree_rendering(
                fields in prop::collection::vec((top_key(), value()), 0..8)
            ) {
                let doc: Document = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                let text = serde_json::to_string(&doc).unwrap();
                let expected = serde_json::to_string(&render(doc)).unwrap();
                prop_assert_eq!(render_text(&text).unwrap(), expected);
            }
        }
    }
}
