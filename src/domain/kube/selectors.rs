//! `labelSelector` and `fieldSelector` as filters on stored documents.

use serde_json::Value;

use super::Status;
use super::resources::{FieldType, Resource};
use crate::domain::escape::escape_key;
use crate::domain::labels::parse_selector;
use crate::model::Filter;

/// A label selector (full Kubernetes syntax) on `data.metadata.labels`.
pub fn label_filter(selector: &str) -> Result<Filter, Status> {
    if selector.trim().is_empty() {
        return Ok(Filter::all());
    }
    parse_selector(selector)
        .map_err(|why| Status::bad_request(format!("unable to parse requirement: {why}")))
}

/// A field selector: `label=value`, `label==value`, `label!=value`,
/// comma-separated, on the labels the resource supports (and
/// `metadata.name`, `metadata.namespace` on every kind). As in the API
/// server, a missing field reads as the empty string.
pub fn field_filter(selector: &str, res: &Resource) -> Result<Filter, Status> {
    let mut parts = Vec::new();
    for term in split_unescaped(selector, ',') {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let (label, negate, value) = split_term(term)
            .ok_or_else(|| Status::bad_request(format!("invalid selector: {term:?}")))?;
        let value = unescape(value);
        let (path, ty) = match label {
            "metadata.name" => ("resourceName".to_owned(), FieldType::Str),
            "metadata.namespace" => ("namespace".to_owned(), FieldType::Str),
            other => match res.field_labels().iter().find(|(l, _, _)| *l == other) {
                Some((_, p, ty)) => (data_path(p), *ty),
                None => {
                    return Err(Status::bad_request(format!(
                        "field label not supported: {other}"
                    )));
                }
            },
        };
        let eq = equal(&path, ty, &value).ok_or_else(|| {
            Status::bad_request(format!(
                "invalid field selector value {value:?} for {label}"
            ))
        })?;
        parts.push(if negate {
            Filter::Not(Box::new(eq))
        } else {
            eq
        });
    }
    Ok(Filter::and(parts))
}

fn data_path(p: &str) -> String {
    let comps: Vec<String> = p.split('.').map(escape_key).collect();
    format!("data.{}", comps.join("."))
}

/// The field equals the value; an empty value also matches a missing field.
fn equal(path: &str, ty: FieldType, value: &str) -> Option<Filter> {
    let v = match ty {
        FieldType::Str => Value::String(value.to_owned()),
        FieldType::Bool => match value {
            "true" => Value::Bool(true),
            "false" | "" => {
                return Some(Filter::Or(vec![
                    Filter::Eq(path.to_owned(), Value::Bool(false)),
                    Filter::Eq(path.to_owned(), Value::Null),
                ]));
            }
            _ => return None,
        },
        FieldType::Int => match value.parse::<i64>() {
            Ok(0) => {
                return Some(Filter::Or(vec![
                    Filter::Eq(path.to_owned(), Value::from(0)),
                    Filter::Eq(path.to_owned(), Value::Null),
                ]));
            }
            Ok(n) => Value::from(n),
            Err(_) => return None,
        },
    };
    if value.is_empty() {
        return Some(Filter::Or(vec![
            Filter::Eq(path.to_owned(), v),
            Filter::Eq(path.to_owned(), Value::Null),
        ]));
    }
    Some(Filter::Eq(path.to_owned(), v))
}

fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (op, negate) in [("!=", true), ("==", false), ("=", false)] {
        if let Some(i) = find_unescaped(term, op) {
            let label = term[..i].trim();
            if label.is_empty() {
                return None;
            }
            return Some((label, negate, term[i + op.len()..].trim()));
        }
    }
    None
}

/// The byte index of the first `pat` (ASCII) not after a backslash. Bytes
/// are compared, not `str` slices: an escape may precede a multi-byte
/// character, and an index inside one is no place to slice.
fn find_unescaped(s: &str, pat: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i..].starts_with(pat.as_bytes()) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if let Some(l) = out.last_mut() {
                l.push('\\');
                l.push(c);
            }
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(String::new());
        } else if let Some(l) = out.last_mut() {
            l.push(c);
        }
    }
    out
}

/// `\,` `\=` `\\` in a field selector value.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kube::resources::builtin_by_kind;
    use serde_json::json;

    fn pod() -> Resource {
        Resource::of_builtin(builtin_by_kind("Pod").unwrap())
    }

    #[test]
    fn pod_field_selectors() {
        let f = field_filter("spec.nodeName=n1,status.phase!=Running", &pod()).unwrap();
        let doc = json!({"data": {"spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}}});
        assert!(f.matches(&doc));
        let f = field_filter("spec.nodeName=", &pod()).unwrap();
        assert!(f.matches(&json!({"data": {"spec": {}}})));
        let f = field_filter("metadata.name==p1", &pod()).unwrap();
        assert!(f.matches(&json!({"resourceName": "p1"})));
        let e = field_filter("spec.foo=x", &pod()).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.foo");
        assert!(field_filter("spec.hostNetwork=maybe", &pod()).is_err());
        assert!(field_filter("novalue", &pod()).is_err());
    }

    #[test]
    fn values_and_labels_beyond_ascii() {
        let f = field_filter("metadata.name=café", &pod()).unwrap();
        assert!(f.matches(&json!({"resourceName": "café"})));
        let f = field_filter(r"metadata.name=\é=x", &pod()).unwrap();
        assert!(!f.matches(&json!({"resourceName": "café"})));
        assert!(field_filter("é．x", &pod()).is_err());
    }

    #[test]
    fn escaped_values() {
        let f = field_filter(r"metadata.name=a\,b", &pod()).unwrap();
        assert!(f.matches(&json!({"resourceName": "a,b"})));
    }
}
