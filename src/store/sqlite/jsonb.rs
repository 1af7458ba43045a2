//! SQLite's JSONB (https://sqlite.org/jsonb.html) to JSON text, in Rust.
//!
//! Reads hand stored documents to the renderer as JSON text. Converting in
//! Rust from the row's blob, instead of selecting `json(doc)`, saves SQLite's
//! own conversion and a copy of its result (together a fifth of the CPU of a
//! list of 100 documents). The output is byte for byte what `json(doc)`
//! gives (a property test checks it against SQLite).

/// Element types (low four bits of the header byte).
const NULL: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const INT: u8 = 3;
const INT5: u8 = 4;
const FLOAT: u8 = 5;
const FLOAT5: u8 = 6;
const TEXT: u8 = 7;
const TEXTJ: u8 = 8;
const TEXT5: u8 = 9;
const TEXTRAW: u8 = 10;
const ARRAY: u8 = 11;
const OBJECT: u8 = 12;

/// JSON text of a JSONB blob; `None` when the blob is not well formed or
/// uses the JSON5 forms, which documents written by this service never hold
/// (the caller then asks SQLite).
pub fn to_json(blob: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(blob.len() + blob.len() / 8 + 16);
    let end = element(blob, 0, &mut out)?;
    if end != blob.len() {
        return None;
    }
    String::from_utf8(out).ok()
}

/// Header at `i`: (type, payload start, payload length).
fn header(b: &[u8], i: usize) -> Option<(u8, usize, usize)> {
    let h = *b.get(i)?;
    let kind = h & 0x0F;
    let (start, len) = match h >> 4 {
        n @ 0..=11 => (i + 1, usize::from(n)),
        12 => (i + 2, usize::from(*b.get(i + 1)?)),
        13 => {
            let s = b.get(i + 1..i + 3)?;
            (i + 3, usize::from(u16::from_be_bytes([s[0], s[1]])))
        }
        14 => {
            let s = b.get(i + 1..i + 5)?;
            (i + 5, u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
        }
        _ => {
            let s = b.get(i + 1..i + 9)?;
            let n = u64::from_be_bytes(s.try_into().ok()?);
            (i + 9, usize::try_from(n).ok()?)
        }
    };
    if start.checked_add(len)? > b.len() {
        return None;
    }
    Some((kind, start, len))
}

/// Writes the element at `i`; returns the index just past it.
fn element(b: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let (kind, start, len) = header(b, i)?;
    let payload = &b[start..start + len];
    match kind {
        NULL => out.extend_from_slice(b"null"),
        TRUE => out.extend_from_slice(b"true"),
        FALSE => out.extend_from_slice(b"false"),
        INT | FLOAT => out.extend_from_slice(payload),
        TEXT | TEXTJ => {
            out.push(b'"');
            out.extend_from_slice(payload);
            out.push(b'"');
        }
        TEXTRAW => {
            out.push(b'"');
            escape_raw(payload, out);
            out.push(b'"');
        }
        ARRAY => {
            out.push(b'[');
            let mut j = start;
            let mut first = true;
            while j < start + len {
                if !first {
                    out.push(b',');
                }
                first = false;
                j = element(b, j, out)?;
            }
            if j != start + len {
                return None;
            }
            out.push(b']');
        }
        OBJECT => {
            out.push(b'{');
            let mut j = start;
            let mut first = true;
            while j < start + len {
                if !first {
                    out.push(b',');
                }
                first = false;
                // Keys are text elements.
                let (key_kind, _, _) = header(b, j)?;
                if !matches!(key_kind, TEXT | TEXTJ | TEXTRAW) {
                    return None;
                }
                j = element(b, j, out)?;
                out.push(b':');
                if j >= start + len {
                    return None;
                }
                j = element(b, j, out)?;
            }
            if j != start + len {
                return None;
            }
            out.push(b'}');
        }
        INT5 | FLOAT5 | TEXT5 => return None,
        _ => return None,
    }
    Some(start + len)
}

/// JSON string escapes for raw text, as SQLite writes them.
fn escape_raw(s: &[u8], out: &mut Vec<u8>) {
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            c if c < 0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rusqlite::Connection;
    use serde_json::{Value, json};

    fn sqlite() -> Connection {
        Connection::open_in_memory().unwrap_or_else(|e| panic!("sqlite: {e}"))
    }

    /// (JSONB of `text`, SQLite's `json()` of it).
    fn both(conn: &Connection, text: &str) -> (Vec<u8>, String) {
        conn.query_row("SELECT jsonb(?1), json(jsonb(?1))", [text], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn agrees_with_sqlite_on_examples() {
        let conn = sqlite();
        for v in [
            json!(null),
            json!({"a": [1, -2.5e-3, true, false, null, "x\"y\\z\u{1}é"], "": {}, "b": []}),
            json!({"k．e＄y": {"$date": 1_508_139_292_123i64}, "big": 18_446_744_073_709_551_615u64}),
            json!("s".repeat(70_000)),
            json!((0..300).collect::<Vec<_>>()),
        ] {
            let text = v.to_string();
            let (blob, expected) = both(&conn, &text);
            assert_eq!(to_json(&blob).as_deref(), Some(expected.as_str()), "{text}");
        }
        // Raw text set from SQL (not JSON) is escaped as SQLite does.
        let (blob, expected): (Vec<u8>, String) = conn
            .query_row(
                "SELECT jsonb_set('{}', '$.a', ?1), json(jsonb_set('{}', '$.a', ?1))",
                ["q\"\n\t\u{7}/"],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(to_json(&blob).as_deref(), Some(expected.as_str()));
        // JSON5 forms are left to SQLite.
        let (blob, _) = both(&conn, "{a: 0x1F, b: .5}");
        assert_eq!(to_json(&blob), None);
        assert_eq!(to_json(&[0x0C, 0x00]), None);
        assert_eq!(to_json(&[]), None);
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a．＄$\"\\\\é\u{1}\u{7f} {}\\[\\],:]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(("[a-z．\"é]{0,4}", inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_sqlite(v in value()) {
            let conn = sqlite();
            let text = v.to_string();
            let (blob, expected) = both(&conn, &text);
            prop_assert_eq!(to_json(&blob), Some(expected));
        }
    }
}
