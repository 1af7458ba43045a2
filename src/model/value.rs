//! Stored documents are JSON objects. Instants are held as `{"$date": <unix ms>}`
//! (MongoDB extended JSON); user keys never start with `$` once stored (they are
//! escaped), so the marker is unambiguous.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// A stored document: top-level fields in insertion order.
pub type Document = Map<String, Value>;

const DATE_KEY: &str = "$date";

/// The stored form of an instant.
pub fn date_value(t: DateTime<Utc>) -> Value {
    date_millis(t.timestamp_millis())
}

/// The stored form of an instant given in unix milliseconds.
pub fn date_millis(ms: i64) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(DATE_KEY.to_owned(), Value::from(ms));
    Value::Object(m)
}

/// Whether `v` is a stored instant.
pub fn is_date(v: &Value) -> bool {
    instant_of(v).is_some()
}

/// Milliseconds since the epoch of a stored instant.
pub fn instant_of(v: &Value) -> Option<i64> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(DATE_KEY).and_then(Value::as_i64),
        _ => None,
    }
}

/// RFC 3339 in UTC with milliseconds: `2017-10-16T07:34:52.123Z`.
pub fn render_instant(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// MongoDB equality: numbers compare by value whatever their representation,
/// objects compare field by field in order, arrays element by element.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_cmp(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && values_equal(va, vb))
        }
        _ => a == b,
    }
}

/// Order within one MongoDB type bracket (numbers, strings, instants);
/// `None` when the two values are not comparable by range operators.
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_cmp(x, y),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => match (instant_of(a), instant_of(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
    }
}

fn numbers_cmp(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_across_representations() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert!(!values_equal(&json!(1), &json!("1")));
        assert_eq!(
            compare_values(&json!(2), &json!(1.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_values(&json!("a"), &json!(1)), None);
    }

    #[test]
    fn object_equality_is_order_sensitive_like_mongodb() {
        assert!(values_equal(&json!({"a":1,"b":2}), &json!({"a":1,"b":2})));
        assert!(!values_equal(&json!({"a":1,"b":2}), &json!({"b":2,"a":1})));
    }

    #[test]
    fn instants_render_rfc3339_millis_utc() {
        assert_eq!(
            render_instant(1_508_139_292_123),
            "2017-10-16T07:34:52.123Z"
        );
        let d = date_value(DateTime::from_timestamp_millis(5).unwrap_or_default());
        assert_eq!(instant_of(&d), Some(5));
        assert!(is_date(&d));
        assert!(!is_date(&json!({"$date": 1, "x": 2})));
    }
}
