//! JSON <-> BSON for stored documents and the filter AST -> BSON query.

use bson::{Bson, Document as BsonDoc, doc};
use serde_json::{Map, Number, Value};

use crate::model::{Bound, Document, Filter, RangeOp, instant_of};

/// Stored JSON document -> BSON (instants become BSON dates).
pub fn to_bson_doc(doc: &Document) -> BsonDoc {
    let mut out = BsonDoc::new();
    for (k, v) in doc {
        out.insert(k.clone(), to_bson(v));
    }
    out
}

fn to_bson(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => number_to_bson(n),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Value::Object(m) => match instant_of(v) {
            Some(ms) => Bson::DateTime(bson::DateTime::from_millis(ms)),
            None => {
                let mut d = BsonDoc::new();
                for (k, x) in m {
                    d.insert(k.clone(), to_bson(x));
                }
                Bson::Document(d)
            }
        },
    }
}

fn number_to_bson(n: &Number) -> Bson {
    if let Some(i) = n.as_i64() {
        match i32::try_from(i) {
            Ok(small) => Bson::Int32(small),
            Err(_) => Bson::Int64(i),
        }
    } else {
        Bson::Double(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// BSON document -> stored JSON (dates become `{"$date": ms}`, ObjectIds hex).
pub fn from_bson_doc(doc: &BsonDoc) -> Document {
    let mut out = Map::with_capacity(doc.len());
    for (k, v) in doc {
        out.insert(k.clone(), from_bson(v));
    }
    out
}

fn from_bson(v: &Bson) -> Value {
    match v {
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(f) => Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(from_bson).collect()),
        Bson::Document(d) => Value::Object(from_bson_doc(d)),
        Bson::ObjectId(oid) => Value::String(oid.to_hex()),
        Bson::DateTime(dt) => crate::model::date_millis(dt.timestamp_millis()),
        Bson::Timestamp(ts) => crate::model::date_millis(i64::from(ts.time) * 1000),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        Bson::RegularExpression(r) => Value::String(r.pattern.clone()),
        Bson::Binary(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(&b.bytes))
        }
        other => Value::String(other.to_string()),
    }
}

/// The filter AST as a MongoDB query document.
pub fn filter_to_bson(f: &Filter) -> BsonDoc {
    match f {
        Filter::And(parts) if parts.is_empty() => BsonDoc::new(),
        Filter::And(parts) => {
            doc! { "$and": parts.iter().map(|p| Bson::Document(filter_to_bson(p))).collect::<Vec<_>>() }
        }
        Filter::Or(parts) if parts.is_empty() => doc! { "_id": { "$in": [] } },
        Filter::Or(parts) => {
            doc! { "$or": parts.iter().map(|p| Bson::Document(filter_to_bson(p))).collect::<Vec<_>>() }
        }
        Filter::Not(inner) => doc! { "$nor": [filter_to_bson(inner)] },
        Filter::Eq(path, v) => doc! { path.clone(): { "$eq": value_at(path, v) } },
        Filter::In(path, vs) => {
            doc! { path.clone(): { "$in": vs.iter().map(|v| value_at(path, v)).collect::<Vec<_>>() } }
        }
        Filter::Range(path, op, bound) => {
            let op = match op {
                RangeOp::Gt => "$gt",
                RangeOp::Gte => "$gte",
                RangeOp::Lt => "$lt",
                RangeOp::Lte => "$lte",
            };
            let b = match bound {
                Bound::Number(n) => number_to_bson(n),
                Bound::String(s) => Bson::String(s.clone()),
                Bound::Instant(ms) => Bson::DateTime(bson::DateTime::from_millis(*ms)),
            };
            doc! { path.clone(): { op: b } }
        }
        Filter::Exists(path, want) => doc! { path.clone(): { "$exists": *want } },
        Filter::Contains(path, needle) => doc! { path.clone(): { "$regex": regex_escape(needle) } },
        Filter::Regex(path, re) => doc! { path.clone(): { "$regex": re.as_str() } },
        Filter::Type(_, types) if types.is_empty() => doc! { "_id": { "$in": [] } },
        Filter::Type(path, types) => {
            doc! { path.clone(): { "$type": types.iter().map(|t| t.alias()).collect::<Vec<_>>() } }
        }
    }
}

/// A filter value for `path`: `_id` strings of 24 hex digits are the
/// ObjectIds they render (reads answer `_id` as that string).
fn value_at(path: &str, v: &Value) -> Bson {
    if path == "_id"
        && let Value::String(s) = v
        && let Ok(oid) = bson::oid::ObjectId::parse_str(s)
    {
        return Bson::ObjectId(oid);
    }
    to_bson(v)
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_and_numbers_round_trip() {
        let Value::Object(d) = json!({"t": {"$date": 1500}, "i": 3, "big": 5_000_000_000i64, "f": 1.5, "o": {"a": [1, "x"]}})
        else {
            unreachable!()
        };
        let b = to_bson_doc(&d);
        assert!(matches!(b.get("t"), Some(Bson::DateTime(_))));
        assert!(matches!(b.get("i"), Some(Bson::Int32(3))));
        assert!(matches!(b.get("big"), Some(Bson::Int64(_))));
        assert_eq!(from_bson_doc(&b), d);
    }

    #[test]
    fn contains_is_a_literal_regex() {
        let f = filter_to_bson(&Filter::Contains("a".into(), "x.y(".into()));
        assert_eq!(f, doc! { "a": { "$regex": "x\\.y\\(" } });
    }
}
