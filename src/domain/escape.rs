//! Key escaping (contract section 2): object keys containing `.` or `$` are
//! stored with U+FF0E / U+FF04 instead, at any depth; reads restore them.
//! Values are never rewritten.

use serde_json::{Map, Value};

use super::DomainError;

/// MongoDB's nesting limit; deeper bodies are refused.
pub const MAX_DEPTH: usize = 100;

pub(crate) const DOT: char = '．';
pub(crate) const DOLLAR: char = '＄';

/// Escapes every key of `v` in place; refuses NUL in keys and nesting deeper
/// than [`MAX_DEPTH`].
pub fn escape_value(v: &mut Value) -> Result<(), DomainError> {
    // The value sits one level below the body (or stored document) root.
    escape_at(v, 2)
}

/// [`escape_value`] for a whole document (the root is level 1), as the
/// custom resource routes store their bodies.
pub fn escape_document(v: &mut Value) -> Result<(), DomainError> {
    escape_at(v, 1)
}

/// Refuses a value nested deeper than [`MAX_DEPTH`] (MongoDB's own limit).
pub fn check_depth(v: &Value, what: &str) -> Result<(), DomainError> {
    fn depth(v: &Value, d: usize) -> bool {
        if d > MAX_DEPTH {
            return false;
        }
        match v {
            Value::Array(items) => items.iter().all(|i| depth(i, d + 1)),
            Value::Object(m) => m.values().all(|x| depth(x, d + 1)),
            _ => true,
        }
    }
    if depth(v, 1) {
        Ok(())
    } else {
        Err(DomainError::param(
            what,
            format!("nested deeper than {MAX_DEPTH} levels"),
        ))
    }
}

fn escape_at(v: &mut Value, depth: usize) -> Result<(), DomainError> {
    // Only objects and arrays count as nesting levels, as in MongoDB.
    if depth > MAX_DEPTH && (v.is_object() || v.is_array()) {
        return Err(DomainError::InvalidBody(format!(
            "request body is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    match v {
        Value::Array(items) => items.iter_mut().try_for_each(|i| escape_at(i, depth + 1)),
        Value::Object(m) => {
            if m.keys().any(|k| k.contains(['.', '$'])) {
                let old = std::mem::take(m);
                for (k, val) in old {
                    m.insert(escape_key(&k), val);
                }
            }
            for (k, val) in m.iter_mut() {
                if k.contains('\0') {
                    return Err(DomainError::InvalidBody(
                        "an object key in the request body contains a NUL character".into(),
                    ));
                }
                escape_at(val, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One key in stored form.
pub fn escape_key(k: &str) -> String {
    k.replace('.', "．").replace('$', "＄")
}

/// Restores every key of `v` in place.
pub fn unescape_value(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(unescape_value),
        Value::Object(m) => unescape_map(m),
        _ => {}
    }
}

/// Restores every key of a map (and below) in place.
pub fn unescape_map(m: &mut Map<String, Value>) {
    if m.keys().any(|k| k.contains([DOT, DOLLAR])) {
        let old = std::mem::take(m);
        for (k, val) in old {
            m.insert(k.replace(DOT, ".").replace(DOLLAR, "$"), val);
        }
    }
    m.values_mut().for_each(unescape_value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_escaped_at_any_depth_and_values_are_untouched() {
        let mut v = json!({"labels": {"app.kubernetes.io/name": "a.b$c"}, "l": [{"$ref": "x"}]});
        escape_value(&mut v).expect("valid");
        assert_eq!(
            v,
            json!({"labels": {"app．kubernetes．io/name": "a.b$c"}, "l": [{"＄ref": "x"}]})
        );
        unescape_value(&mut v);
        assert_eq!(
            v,
            json!({"labels": {"app.kubernetes.io/name": "a.b$c"}, "l": [{"$ref": "x"}]})
        );
        let mut s = json!({"k": "value with ． stays"});
        unescape_value(&mut s);
        assert_eq!(s, json!({"k": "value with ． stays"}));
    }

    #[test]
    fn deep_nesting_and_nul_keys_are_refused() {
        // 99 nested arrays under `data` make a 100-level body: the most allowed.
        let nest = |levels: usize| (0..levels).fold(json!(1), |v, _| json!([v]));
        assert!(escape_value(&mut nest(99)).is_ok());
        assert!(escape_value(&mut nest(100)).is_err());
        assert!(escape_value(&mut json!({"a\u{0}b": 1})).is_err());
    }
}
