//! Stored documents as clients see them: keys restored, instants rendered as
//! RFC 3339 UTC with milliseconds, the internal soft-delete flag removed.

use serde_json::{Map, Value};

use super::escape::{DOLLAR, DOT, unescape_map};
use super::times::{SHADOW_FIELD, ZONE_KEY};
use crate::model::{Document, instant_of, render_instant};

/// Internal top-level fields never shown to clients: the soft-delete flag
/// and the instants of time fields that queries compare.
const HIDDEN: &[&str] = &["_isBcsObjectDeleted", SHADOW_FIELD];

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
    for k in HIDDEN {
        doc.shift_remove(*k);
    }
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
    if let Some(out) = render_canonical(text) {
        return Ok(out);
    }
    if let Some(out) = render_text_fast(text) {
        return Ok(out);
    }
    match serde_json::from_str::<Value>(text)? {
        Value::Object(doc) => serde_json::to_string(&render(doc)),
        other => serde_json::to_string(&other),
    }
}

/// The common case, a dynamic document stored in canonical field order:
/// `{"_id":…,"clusterId":…[,"namespace":…],"resourceType":…,"resourceName":…,
/// "data":…,"createTime":{"$date":…},"updateTime":{"$date":…}}` with plain
/// strings before `data`. Then only `data` can need rewriting, and only where
/// a `．`/`＄` byte or a `{"$date":` occurs, so those are searched for instead
/// of walking every byte. `None` when the text has another shape.
fn render_canonical(text: &str) -> Option<String> {
    let c = canonical(text).filter(|c| c.revision.is_none())?;
    let mut out = String::with_capacity(text.len() + 32);
    out.push_str(&text[..c.data_start]);
    rewrite_data(c.data, &mut out)?;
    out.push_str(",\"createTime\":\"");
    out.push_str(&render_instant(c.created));
    out.push_str("\",\"updateTime\":\"");
    out.push_str(&render_instant(c.updated));
    out.push_str("\"}");
    Some(out)
}

/// A dynamic document in canonical field order, split without parsing.
pub(crate) struct Canonical<'a> {
    /// A leading `_bcsRevision` member (see `Query::with_revision`).
    pub revision: Option<&'a str>,
    /// The plain-string fields before `data`, without quotes: `_id`,
    /// `clusterId`, `namespace` (absent on cluster resources),
    /// `resourceType`, `resourceName`.
    pub fields: [Option<&'a str>; 5],
    /// Where `data`'s value starts in the text.
    pub data_start: usize,
    /// `data`'s value, as stored.
    pub data: &'a str,
    pub created: i64,
    pub updated: i64,
}

/// Splits a document stored in canonical field order (see
/// [`render_canonical`]); `None` for any other shape.
pub(crate) fn canonical(text: &str) -> Option<Canonical<'_>> {
    let b = text.as_bytes();
    // Prefix: the plain-string fields up to `"data":`.
    let mut i = 0;
    let expect = |i: &mut usize, lit: &str| -> bool {
        if b[*i..].starts_with(lit.as_bytes()) {
            *i += lit.len();
            true
        } else {
            false
        }
    };
    let plain_string = |i: &mut usize| -> Option<&str> {
        if b.get(*i) != Some(&b'"') {
            return None;
        }
        let end = *i + 1 + memchr::memchr2(b'"', b'\\', &b[*i + 1..])?;
        if b[end] != b'"' {
            return None;
        }
        let s = &text[*i + 1..end];
        *i = end + 1;
        Some(s)
    };
    let mut fields = [None; 5];
    // A trailing revision member (see `Query::with_revision`):
    // `...,"_bcsRevision":"<digits or hex>"}`; `inner_end` is where the
    // document's own members end.
    let (inner_end, revision) = match text.strip_suffix("\"}").map(|t| {
        let digits = t.len() - t.bytes().rev().take_while(u8::is_ascii_hexdigit).count();
        (&t[..digits], &t[digits..])
    }) {
        Some((head, rev)) if !rev.is_empty() && head.ends_with(",\"_bcsRevision\":\"") => {
            (head.len() - ",\"_bcsRevision\":\"".len(), Some(rev))
        }
        _ => (text.strip_suffix('}')?.len(), None),
    };
    // The fields before `data`; `namespace` is absent on cluster resources.
    for (n, (field, optional)) in [
        ("{\"_id\":", false),
        (",\"clusterId\":", false),
        (",\"namespace\":", true),
        (",\"resourceType\":", false),
        (",\"resourceName\":", false),
    ]
    .into_iter()
    .enumerate()
    {
        if expect(&mut i, field) {
            fields[n] = Some(plain_string(&mut i)?);
        } else if !optional {
            return None;
        }
    }
    if !expect(&mut i, ",\"data\":") {
        return None;
    }
    let data_start = i;
    // Suffix, anchored at the end: the two instants are top-level members.
    let rest = &text[..inner_end];
    let rest = without_shadow(rest)?;
    let (rest, updated) = instant_suffix(rest)?;
    let rest = rest.strip_suffix(",\"updateTime\":")?;
    let (rest, created) = instant_suffix(rest)?;
    let rest = rest.strip_suffix(",\"createTime\":")?;
    if rest.len() <= data_start {
        return None;
    }
    Some(Canonical {
        revision,
        fields,
        data_start,
        data: &text[data_start..rest.len()],
        created,
        updated,
    })
}

/// `s` without a trailing `,"_bcsTimes":{"<key>":{"$date":<i64>},...}` member
/// (checked exactly; its `"zone"` member is null or a plain string); `s`
/// itself when it has none.
fn without_shadow(s: &str) -> Option<&str> {
    const MEMBER: &str = ",\"_bcsTimes\":";
    if !s.ends_with('}') {
        return Some(s);
    }
    let Some(at) = s.rfind(MEMBER) else {
        return Some(s);
    };
    let obj = &s.as_bytes()[at + MEMBER.len()..];
    let mut i = 1;
    if obj.first() != Some(&b'{') {
        return Some(s);
    }
    if obj.get(1) == Some(&b'}') {
        return (obj.len() == 2).then_some(&s[..at]);
    }
    loop {
        // "key":{"$date":-?digits}
        if obj.get(i) != Some(&b'"') {
            return None;
        }
        let key_len = obj[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let key = &obj[i + 1..i + 1 + key_len];
        i += 1 + key_len;
        if key == ZONE_KEY.as_bytes() {
            // "zone":null or "zone":"<name>"
            if obj[i..].starts_with(b"\":null") {
                i += 6;
            } else if obj[i..].starts_with(b"\":\"") {
                i += 3;
                let len = obj[i..]
                    .iter()
                    .take_while(|c| **c != b'"' && **c != b'\\')
                    .count();
                if obj.get(i + len) != Some(&b'"') {
                    return None;
                }
                i += len + 1;
            } else {
                return None;
            }
        } else {
            let lead = b"\":{\"$date\":";
            if key_len == 0 || !obj[i..].starts_with(lead) {
                return None;
            }
            i += lead.len();
            if obj.get(i) == Some(&b'-') {
                i += 1;
            }
            let digits = obj[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || obj.get(i + digits) != Some(&b'}') {
                return None;
            }
            i += digits + 1;
        }
        match obj.get(i) {
            Some(b',') => i += 1,
            Some(b'}') if i + 1 == obj.len() => return Some(&s[..at]),
            _ => return None,
        }
    }
}

/// `s` ends with a stored instant `{"$date":<i64>}`: the text before it and
/// its milliseconds.
fn instant_suffix(s: &str) -> Option<(&str, i64)> {
    let s = s.strip_suffix('}')?;
    let digits = s.bytes().rev().take_while(u8::is_ascii_digit).count();
    let mut start = s.len() - digits;
    if digits == 0 {
        return None;
    }
    if s[..start].ends_with('-') {
        start -= 1;
    }
    let ms = s[start..].parse::<i64>().ok()?;
    Some((s[..start].strip_suffix("{\"$date\":")?, ms))
}

/// Copies a stored value (valid compact JSON) to `out`, restoring keys that
/// hold `．`/`＄` and rendering `{"$date":ms}` objects. A 0xEF byte only
/// occurs inside strings (it is not ASCII), and `{"` cannot occur inside a
/// string (the quote would be escaped), so each hit is classified locally.
pub(crate) fn rewrite_data(data: &str, out: &mut String) -> Option<()> {
    let b = data.as_bytes();
    let mut copied = 0;
    let mut next_ef = memchr::memchr(0xEF, b);
    static DATES: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"{\"$date\":"));
    let dates = &*DATES;
    let mut next_date = dates.find(b);
    loop {
        let ef_first = match (next_ef, next_date) {
            (None, None) => break,
            (Some(p), Some(d)) => p < d,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if ef_first {
            let p = next_ef?;
            let start = string_start(b, p)?;
            let end = string_end(b, start)?;
            if b.get(end) == Some(&b':') {
                out.push_str(&data[copied..start]);
                out.push('"');
                push_key(out, &data[start + 1..end - 1]);
                out.push('"');
                copied = end;
            }
            next_ef = memchr::memchr(0xEF, &b[end..]).map(|q| q + end);
        } else {
            let d = next_date?;
            if let Some((ms, len)) = instant_at(&data[d..]) {
                out.push_str(&data[copied..d]);
                out.push('"');
                out.push_str(&render_instant(ms));
                out.push('"');
                copied = d + len;
            }
            next_date = dates.find(&b[d + 1..]).map(|q| q + d + 1);
        }
    }
    out.push_str(&data[copied..]);
    Some(())
}

/// Index of the opening quote of the string that contains byte `p`.
fn string_start(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p;
    loop {
        let q = memchr::memrchr(b'"', &b[..i])?;
        let backslashes = b[..q].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 0 {
            return Some(q);
        }
        i = q;
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
            .all(|f| !HIDDEN.contains(&&out[f.key.clone()]))
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
        if !ORDER.contains(&k) && !HIDDEN.contains(&k) {
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
    fn the_time_shadow_is_hidden_and_checked_exactly() {
        let base = r#"{"_id":"x","clusterId":"c","resourceType":"Pod","resourceName":"p","data":{"a":1},"createTime":{"$date":0},"updateTime":{"$date":0}"#;
        let expected = r#"{"_id":"x","clusterId":"c","resourceType":"Pod","resourceName":"p","data":{"a":1},"createTime":"1970-01-01T00:00:00.000Z","updateTime":"1970-01-01T00:00:00.000Z"}"#;
        for shadow in [
            r#"{}"#,
            r#"{"data_status_startTime":{"$date":-5}}"#,
            r#"{"a":{"$date":1},"b_2":{"$date":2}}"#,
            // As every PUT writes it now: the zone of naive times.
            r#"{"zone":null}"#,
            r#"{"data_status_startTime":{"$date":-5},"zone":"Asia/Shanghai"}"#,
            r#"{"zone":"+08:00","b":{"$date":2}}"#,
        ] {
            let text = format!("{base},\"_bcsTimes\":{shadow}}}");
            assert_eq!(render_canonical(&text).as_deref(), Some(expected), "{text}");
            assert_eq!(render_text(&text).unwrap(), expected);
        }
        // Not the shadow's exact shape: the general path decides.
        for odd in [
            r#"{"a":1}"#,
            r#"{"zone":1}"#,
            r#"{"zone":"a"b"}"#,
            r#"{"zone":"x}"#,
        ] {
            let text = format!("{base},\"_bcsTimes\":{odd}}}");
            assert_eq!(render_canonical(&text), None, "{text}");
            if serde_json::from_str::<Value>(&text).is_ok() {
                assert_eq!(render_text(&text).unwrap(), expected);
            }
        }
    }

    /// A document in the stored shape takes the search-based path.
    #[test]
    fn canonical_documents_take_the_short_path() {
        let text = r#"{"_id":"x","clusterId":"c","namespace":"n","resourceType":"Pod","resourceName":"p","data":{"metadata":{"labels":{"app．kubernetes．io/name":"a．b"},"s":"{\"$date\":1}","t":{"$date":0}}},"createTime":{"$date":1508139292123},"updateTime":{"$date":-1}}"#;
        let expected = r#"{"_id":"x","clusterId":"c","namespace":"n","resourceType":"Pod","resourceName":"p","data":{"metadata":{"labels":{"app.kubernetes.io/name":"a．b"},"s":"{\"$date\":1}","t":"1970-01-01T00:00:00.000Z"}},"createTime":"2017-10-16T07:34:52.123Z","updateTime":"1969-12-31T23:59:59.999Z"}"#;
        assert_eq!(render_canonical(text).as_deref(), Some(expected));
        assert_eq!(render_text(text).unwrap(), expected);
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

        const KEYS: &[&str] = &[
            "a",
            "a．b",
            "＄x",
            "$date",
            "k\"q",
            "é",
            "x\\y",
            "",
            "_bcsTimes",
        ];

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
                "_bcsTimes",
                "extra",
                "a．b",
                "k\"q",
            ])
        }

        fn plain() -> impl Strategy<Value = String> {
            "[a-z0-9．é\"-]{0,5}"
        }

        /// Documents in the stored canonical shape (the common case).
        fn canonical() -> impl Strategy<Value = Document> {
            (
                plain(),
                plain(),
                prop::option::of(plain()),
                plain(),
                plain(),
                value(),
                value(),
                -10_000_000_000_000i64..10_000_000_000_000,
                prop::option::of(prop::collection::vec(
                    (
                        "[a-zA-Z_0-9]{1,6}",
                        -10_000_000_000_000i64..10_000_000_000_000,
                    ),
                    0..3,
                )),
            )
                .prop_map(|(id, c, ns, t, n, data, updated, created, shadow)| {
                    let mut d = Document::new();
                    d.insert("_id".into(), json!(id));
                    d.insert("clusterId".into(), json!(c));
                    if let Some(ns) = ns {
                        d.insert("namespace".into(), json!(ns));
                    }
                    d.insert("resourceType".into(), json!(t));
                    d.insert("resourceName".into(), json!(n));
                    d.insert("data".into(), data);
                    d.insert("createTime".into(), crate::model::date_millis(created));
                    // Usually an instant, sometimes anything else.
                    let updated = match updated {
                        Value::Number(n) if n.is_i64() => {
                            crate::model::date_millis(n.as_i64().unwrap_or(0))
                        }
                        other => other,
                    };
                    d.insert("updateTime".into(), updated);
                    if let Some(times) = shadow {
                        let m = times
                            .into_iter()
                            .map(|(k, ms)| (k, crate::model::date_millis(ms)))
                            .collect();
                        d.insert(SHADOW_FIELD.into(), Value::Object(m));
                    }
                    d
                })
        }

        proptest! {
            /// The canonical-shape path equals the tree rendering.
            #[test]
            fn canonical_rendering_equals_tree_rendering(doc in canonical()) {
                let text = serde_json::to_string(&doc).unwrap();
                let expected = serde_json::to_string(&render(doc)).unwrap();
                prop_assert_eq!(render_text(&text).unwrap(), expected);
            }

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
