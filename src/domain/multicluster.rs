//! Lists across clusters (reference B.1 #13, C.6):
//! `POST /k8s/dynamic/multicluster_resources/{resourceType}` with a body
//! naming clusters (and their namespaces), `conditions` trees and a label
//! selector. Newest first (createTime descending, ties by natural key),
//! with `total`, `pageSize` and `offset`.

use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::dynamic::{DYNAMIC_KEY, check_resource_type, check_segment, collection_of, renderer};
use super::labels::parse_selector;
use super::params::check_path;
use super::{DomainError, Page, Service};
use crate::model::{
    Bound, Database, Direction, Filter, Namespace, Projection, Query, RangeOp, Sort, ValueType,
};

/// The request body, as Go's `encoding/json` writes the Go request type
/// (`MulticlusterListReqParams`): Go field names, zero values present, and
/// `null` for a nil slice, map or pointer, which means absent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default, rename = "clusteredNamespaces")]
    clustered_namespaces: Option<Vec<Option<ClusteredNamespaces>>>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default, rename = "labelSelector")]
    label_selector: Option<String>,
    #[serde(default)]
    conditions: Option<Vec<Option<Condition>>>,
    /// `{path: 1 | -1}`, applied in the order given (a Go map writes its
    /// keys sorted).
    #[serde(default)]
    sort: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusteredNamespaces {
    #[serde(default, rename = "clusterId")]
    cluster_id: Option<String>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
}

/// A condition tree node of `bcs-common/pkg/odm/operator`, whose Go type has
/// no json tags: `{"Op": ..., "Value": {path: value}, "Children": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    #[serde(rename = "Op", alias = "op")]
    op: String,
    #[serde(default, rename = "Value", alias = "value")]
    value: Option<Map<String, Value>>,
    #[serde(default, rename = "Children", alias = "children")]
    children: Option<Vec<Option<Condition>>>,
}

/// Deepest condition tree accepted.
const MAX_DEPTH: usize = 32;

/// Every operator of `bcs-common/pkg/odm/operator`.
const OPERATORS: &str =
    "tr, eq, ne, lt, lte, gt, gte, in, nin, con, exists, type, and, or, nor, not, match";

fn bad(why: impl Into<String>) -> DomainError {
    DomainError::param("conditions", why)
}

impl Condition {
    fn to_filter(&self, depth: usize) -> Result<Filter, DomainError> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let op = self.op.to_ascii_lowercase();
        let children: Vec<&Condition> = self.children.iter().flatten().flatten().collect();
        let branch = || -> Result<Vec<Filter>, DomainError> {
            if self.value.as_ref().is_some_and(|v| !v.is_empty()) {
                return Err(bad(format!("{:?} takes Children, not a Value", self.op)));
            }
            children.iter().map(|c| c.to_filter(depth + 1)).collect()
        };
        match op.as_str() {
            "and" | "match" => return Ok(Filter::And(branch()?)),
            "or" => return Ok(Filter::Or(branch()?)),
            "nor" => return Ok(Filter::Not(Box::new(Filter::Or(branch()?)))),
            // The console writes "label k is not v" as a `not` leaf with a
            // Value (which the Go service could not run): not equal.
            "not" if children.is_empty() && self.value.as_ref().is_some_and(|v| !v.is_empty()) => {
                let eq = Condition {
                    op: "eq".into(),
                    value: self.value.clone(),
                    children: None,
                };
                return Ok(Filter::Not(Box::new(eq.to_filter(depth)?)));
            }
            "not" if children.is_empty() => {
                return Err(bad(format!("{:?} needs Children or a Value", self.op)));
            }
            "not" => return Ok(Filter::Not(Box::new(Filter::And(branch()?)))),
            _ => {}
        }
        if !children.is_empty() {
            return Err(bad(format!("{:?} takes a Value, not Children", self.op)));
        }
        // `tr` (operator.EmptyCondition) matches every document.
        if op == "tr" {
            return Ok(Filter::all());
        }
        if !is_leaf_operator(&op) {
            return Err(bad(format!(
                "unknown operator {:?} (one of {OPERATORS})",
                self.op
            )));
        }
        // Go cannot send a leaf without a Value map: it panics on one.
        let Some(value) = self.value.as_ref() else {
            return Err(bad(format!("{:?} needs a Value object", self.op)));
        };
        let mut parts = Vec::with_capacity(value.len());
        for (path, v) in value {
            check_path("conditions", path)?;
            if has_operator(v) {
                return Err(bad(format!("the value of {path:?} contains a $-operator")));
            }
            parts.push(leaf(&op, &self.op, path, v)?);
        }
        // An empty Value map is `{}`: every document, as in Go.
        Ok(Filter::and(parts))
    }
}

fn is_leaf_operator(op: &str) -> bool {
    matches!(
        op,
        "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "in" | "nin" | "con" | "exists" | "type"
    )
}

/// The top-level instants every dynamic document carries.
fn is_instant_field(path: &str) -> bool {
    matches!(path, "createTime" | "updateTime")
}

fn leaf(op: &str, raw_op: &str, path: &str, v: &Value) -> Result<Filter, DomainError> {
    let p = path.to_owned();
    let range = |op: RangeOp| -> Result<Filter, DomainError> {
        let bound = match v {
            Value::Number(n) => Bound::Number(n.clone()),
            // The store's own instants compare with a time string as the
            // instant it names (naive times in UTC): in MongoDB a string
            // never matches a date, so such a condition could only ever
            // match nothing. The console's "updated within" sends these.
            Value::String(s) if is_instant_field(path) => {
                match super::times::parse_time(s, &crate::config::TimeZone::default()) {
                    Some(ms) => Bound::Instant(ms),
                    None => {
                        return Err(bad(format!(
                            "{raw_op:?} on {path:?} needs a time (RFC 3339 or unix seconds), not {s:?}"
                        )));
                    }
                }
            }
            Value::String(s) => Bound::String(s.clone()),
            other => {
                return Err(bad(format!(
                    "{raw_op:?} on {path:?} needs a number or a string, not {other}"
                )));
            }
        };
        Ok(Filter::Range(p.clone(), op, bound))
    };
    // A nil Go slice is `null`: an empty list.
    let list = || -> Result<Vec<Value>, DomainError> {
        match v {
            Value::Array(items) => Ok(items.clone()),
            Value::Null => Ok(Vec::new()),
            other => Err(bad(format!(
                "{raw_op:?} on {path:?} needs an array, not {other}"
            ))),
        }
    };
    Ok(match op {
        "eq" => Filter::Eq(p, v.clone()),
        "ne" => Filter::Not(Box::new(Filter::Eq(p, v.clone()))),
        "lt" => range(RangeOp::Lt)?,
        "lte" => range(RangeOp::Lte)?,
        "gt" => range(RangeOp::Gt)?,
        "gte" => range(RangeOp::Gte)?,
        "in" => Filter::In(p, list()?),
        "nin" => Filter::Not(Box::new(Filter::In(p, list()?))),
        "con" => match v {
            Value::String(s) => Filter::Contains(p, s.clone()),
            other => {
                return Err(bad(format!(
                    "\"con\" on {path:?} needs a string, not {other}"
                )));
            }
        },
        // MongoDB reads `$exists` as a truth value: false, 0 and null are
        // false, anything else (the console sends "") true.
        "exists" => Filter::Exists(
            p,
            match v {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::Null => false,
                _ => true,
            },
        ),
        "type" => Filter::Type(p, value_types(raw_op, path, v)?),
        _ => {
            return Err(bad(format!(
                "unknown operator {raw_op:?} (one of {OPERATORS})"
            )));
        }
    })
}

/// The types a `type` condition names: `$type` aliases or numbers, one or
/// a list. Types no stored JSON value can have (binData, regex, decimal
/// ...) are valid and match nothing; `number` is every numeric type.
fn value_types(raw_op: &str, path: &str, v: &Value) -> Result<Vec<ValueType>, DomainError> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut out = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => s.clone(),
            Value::Number(n) => match n.as_i64() {
                Some(code) => code.to_string(),
                None => String::new(),
            },
            _ => String::new(),
        };
        let types: &[ValueType] = match name.as_str() {
            "double" | "1" => &[ValueType::Double],
            "string" | "2" => &[ValueType::String],
            "object" | "3" => &[ValueType::Object],
            "array" | "4" => &[ValueType::Array],
            "objectId" | "7" => &[ValueType::ObjectId],
            "bool" | "8" => &[ValueType::Bool],
            "date" | "9" => &[ValueType::Date],
            "null" | "10" => &[ValueType::Null],
            "int" | "16" => &[ValueType::Int],
            "long" | "18" => &[ValueType::Long],
            "number" => &[ValueType::Double, ValueType::Int, ValueType::Long],
            "binData"
            | "5"
            | "undefined"
            | "6"
            | "regex"
            | "11"
            | "dbPointer"
            | "12"
            | "javascript"
            | "13"
            | "symbol"
            | "14"
            | "javascriptWithScope"
            | "15"
            | "timestamp"
            | "17"
            | "decimal"
            | "19"
            | "minKey"
            | "-1"
            | "maxKey"
            | "127" => &[],
            _ => {
                return Err(bad(format!(
                    "{raw_op:?} on {path:?} needs a BSON type name or number, not {item}"
                )));
            }
        };
        out.extend_from_slice(types);
    }
    Ok(out)
}

fn has_operator(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, x)| k.starts_with('$') || has_operator(x)),
        Value::Array(items) => items.iter().any(has_operator),
        _ => false,
    }
}

/// A parsed multi-cluster request.
struct Request {
    query: Query,
}

fn parse(body: &[u8], svc: &Service) -> Result<Request, DomainError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(DomainError::InvalidBody(
            "request body is empty; expected {\"clusteredNamespaces\": [...]}".into(),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object with clusteredNamespaces".into(),
        ));
    }
    super::escape::check_depth(&value, "body")?;
    let body: Body = serde_json::from_value(value)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid: {e}")))?;
    // A nil pointer in the list is no entry.
    let entries: Vec<&ClusteredNamespaces> = body
        .clustered_namespaces
        .iter()
        .flatten()
        .flatten()
        .collect();
    if entries.is_empty() {
        return Err(DomainError::param(
            "clusteredNamespaces",
            "names no cluster; give at least one {\"clusterId\": ...}",
        ));
    }
    let mut scopes = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let cluster_id = entry.cluster_id.as_deref().unwrap_or_default();
        if cluster_id.trim().is_empty() {
            return Err(DomainError::param(
                "clusteredNamespaces",
                format!("entry {i} has no clusterId"),
            ));
        }
        check_segment("clusterId", cluster_id)?;
        let mut parts = vec![Filter::Eq(
            "clusterId".into(),
            Value::String(cluster_id.to_owned()),
        )];
        // Nil or empty: every namespace of the cluster (and its
        // cluster-scoped documents).
        if let Some(namespaces) = entry.namespaces.as_ref().filter(|n| !n.is_empty()) {
            parts.push(Filter::In(
                "namespace".into(),
                namespaces
                    .iter()
                    .map(|n| Value::String(n.clone()))
                    .collect(),
            ));
        }
        scopes.push(Filter::and(parts));
    }
    let mut filter = vec![Filter::Or(scopes)];
    for c in body.conditions.iter().flatten().flatten() {
        filter.push(c.to_filter(1)?);
    }
    if let Some(sel) = body
        .label_selector
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        filter.push(parse_selector(sel).map_err(|why| DomainError::param("labelSelector", why))?);
    }
    let offset = match body.offset {
        None => 0,
        Some(n) if n >= 0 => n as u64,
        Some(n) => return Err(DomainError::param("offset", format!("{n} is negative"))),
    };
    let limit = match body.limit {
        None | Some(0) => svc.limits.default_limit,
        Some(n) if n < 0 => return Err(DomainError::param("limit", format!("{n} is negative"))),
        Some(n) if n as u64 > svc.limits.max_limit => {
            return Err(DomainError::param(
                "limit",
                format!("must not exceed {}", svc.limits.max_limit),
            ));
        }
        Some(n) => n as u64,
    };
    let projection = match body.field.as_deref().filter(|f| !f.is_empty()) {
        None => None,
        Some(f) => {
            let mut paths = Vec::new();
            for p in f.split(',') {
                check_path("field", p)?;
                paths.push(p.to_owned());
            }
            Some(Projection::new(paths))
        }
    };
    let mut query = Query::new(Filter::and(filter));
    query.projection = projection;
    query.sort = sort_of(body.sort.as_ref())?;
    query.skip = offset;
    query.limit = Some(limit);
    Ok(Request { query })
}

/// The order of a list: the body's `sort` map (`{path: 1 | -1}`) with ties
/// broken by `_id` so that paging is stable; without one, newest first.
fn sort_of(sort: Option<&Map<String, Value>>) -> Result<Sort, DomainError> {
    let Some(map) = sort.filter(|m| !m.is_empty()) else {
        return Ok(Sort::Fields(vec![("createTime".into(), Direction::Desc)]));
    };
    let mut fields = Vec::with_capacity(map.len() + 1);
    for (path, dir) in map {
        check_path("sort", path)?;
        let dir = match dir.as_i64() {
            Some(1) => Direction::Asc,
            Some(-1) => Direction::Desc,
            _ => {
                return Err(DomainError::param(
                    "sort",
                    format!("the order of {path:?} must be 1 or -1, not {dir}"),
                ));
            }
        };
        fields.push((path.clone(), dir));
    }
    if !map.contains_key("_id") {
        fields.push(("_id".into(), Direction::Asc));
    }
    Ok(Sort::Fields(fields))
}

/// Runs a multi-cluster list of `resource_type`.
pub async fn list(
    svc: &Service,
    resource_type: &str,
    body: &[u8],
) -> Result<Page<impl Stream<Item = Result<String, DomainError>> + Send + 'static>, DomainError> {
    // The type must be a usable collection name, as on the dynamic routes.
    check_resource_type(resource_type)?;
    let mut req = parse(body, svc)?;
    // `process` documents share the `application` collection.
    req.query.filter = Filter::and([
        Filter::Eq(
            "resourceType".into(),
            Value::String(resource_type.to_owned()),
        ),
        req.query.filter,
    ]);
    let ns = Namespace {
        database: Database::Dynamic,
        collection: collection_of(resource_type).to_owned(),
        key_fields: DYNAMIC_KEY,
    };
    let total = svc.store.count(&ns, &req.query.filter).await?;
    let items = svc.store.find_text(&ns, &req.query, renderer()).await?;
    Ok(Page {
        items: items.map(|r| r.map_err(DomainError::from)),
        total,
        page_size: req.query.limit.unwrap_or(0),
        offset: req.query.skip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(v: Value) -> Result<Filter, DomainError> {
        let c: Condition = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        c.to_filter(1)
    }

    #[test]
    fn condition_trees_become_filters() {
        assert_eq!(
            cond(json!({"Op": "eq", "Value": {"data.a": 1, "b": "x"}})).ok(),
            Some(Filter::And(vec![
                Filter::Eq("data.a".into(), json!(1)),
                Filter::Eq("b".into(), json!("x")),
            ]))
        );
        assert_eq!(
            cond(json!({"Op": "OR", "Children": [
                {"Op": "gte", "Value": {"n": 2}},
                {"Op": "nin", "Value": {"s": ["a"]}},
                {"Op": "con", "Value": {"s": "b.c"}},
                {"Op": "exists", "Value": {"e": false}}
            ]}))
            .ok(),
            Some(Filter::Or(vec![
                Filter::Range("n".into(), RangeOp::Gte, Bound::Number(2.into())),
                Filter::Not(Box::new(Filter::In("s".into(), vec![json!("a")]))),
                Filter::Contains("s".into(), "b.c".into()),
                Filter::Exists("e".into(), false),
            ]))
        );
    }

    #[test]
    fn time_strings_bound_the_stored_instants() {
        assert_eq!(
            cond(json!({"Op": "gte", "Value": {"updateTime": "2024-05-01T10:00:00Z"}})).ok(),
            Some(Filter::Range(
                "updateTime".into(),
                RangeOp::Gte,
                Bound::Instant(1_714_557_600_000)
            ))
        );
        // Any other field compares strings with strings.
        assert_eq!(
            cond(json!({"Op": "lt", "Value": {"data.x": "2024-05-01"}})).ok(),
            Some(Filter::Range(
                "data.x".into(),
                RangeOp::Lt,
                Bound::String("2024-05-01".into())
            ))
        );
        let e = cond(json!({"Op": "gt", "Value": {"createTime": "yesterday"}})).unwrap_err();
        assert!(e.to_string().contains("needs a time"), "{e}");
    }

    #[test]
    fn go_marshalled_conditions_are_read() {
        // operator.EmptyCondition and a leaf as encoding/json writes them.
        assert_eq!(
            cond(json!({"Op": "tr", "Value": {}, "Children": null})).ok(),
            Some(Filter::all())
        );
        assert_eq!(
            cond(json!({"Op": "eq", "Value": {"a": 1}, "Children": null})).ok(),
            Some(Filter::Eq("a".into(), json!(1)))
        );
        assert_eq!(
            cond(json!({"Op": "and", "Value": null, "Children": [
                {"Op": "in", "Value": {"n": null}, "Children": null},
                null,
                {"Op": "type", "Value": {"t": ["number", 2, "regex"]}, "Children": null},
                {"Op": "exists", "Value": {"e": 1}, "Children": null}
            ]}))
            .ok(),
            Some(Filter::And(vec![
                Filter::In("n".into(), vec![]),
                Filter::Type(
                    "t".into(),
                    vec![
                        ValueType::Double,
                        ValueType::Int,
                        ValueType::Long,
                        ValueType::String
                    ]
                ),
                Filter::Exists("e".into(), true),
            ]))
        );
        // The console's label conditions (cluster-resources ToConditions).
        assert_eq!(
            cond(
                json!({"Op": "not", "Value": {"data.metadata.labels.app": "web"}, "Children": null})
            )
            .ok(),
            Some(Filter::Not(Box::new(Filter::Eq(
                "data.metadata.labels.app".into(),
                json!("web")
            ))))
        );
        assert_eq!(
            cond(
                json!({"Op": "exists", "Value": {"data.metadata.labels.app": ""}, "Children": null})
            )
            .ok(),
            Some(Filter::Exists("data.metadata.labels.app".into(), true))
        );
        assert_eq!(
            cond(
                json!({"Op": "eq", "Value": {"data.metadata.labels.app": null}, "Children": null})
            )
            .ok(),
            Some(Filter::Eq("data.metadata.labels.app".into(), Value::Null))
        );
        // An empty Value map is Go's `{}`: every document.
        assert_eq!(
            cond(json!({"Op": "eq", "Value": {}, "Children": null})).ok(),
            Some(Filter::all())
        );
    }

    #[test]
    fn sort_maps_become_orders_with_id_last() {
        let m = |v: Value| v.as_object().cloned();
        assert_eq!(
            sort_of(None).ok(),
            Some(Sort::Fields(vec![("createTime".into(), Direction::Desc)]))
        );
        assert_eq!(
            sort_of(m(json!({"data.metadata.name": 1, "createTime": -1})).as_ref()).ok(),
            Some(Sort::Fields(vec![
                ("data.metadata.name".into(), Direction::Asc),
                ("createTime".into(), Direction::Desc),
                ("_id".into(), Direction::Asc),
            ]))
        );
        for bad in [json!({"a": 0}), json!({"a": "asc"}), json!({"a..b": 1})] {
            assert!(sort_of(m(bad.clone()).as_ref()).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_conditions_are_refused() {
        for v in [
            json!({"Op": "type", "Value": {"a": "text"}}),
            json!({"Op": "type", "Value": {"a": true}}),
            json!({"Op": "regex", "Value": {"a": "x"}}),
            json!({"Op": "tr", "Children": [{"Op": "eq", "Value": {"b": 1}}]}),
            json!({"Op": "eq"}),
            json!({"Op": "eq", "Value": null, "Children": null}),
            json!({"Op": "not", "Children": null}),
            json!({"Op": "eq", "Value": {"a": {"$ne": 1}}}),
            json!({"Op": "eq", "Value": {"$where": 1}}),
            json!({"Op": "in", "Value": {"a": 1}}),
            json!({"Op": "lt", "Value": {"a": true}}),
            json!({"Op": "and", "Value": {"a": 1}}),
            json!({"Op": "eq", "Value": {"a": 1}, "Children": [{"Op": "eq", "Value": {"b": 1}}]}),
            json!({"Op": "eq", "Value": {"a..b": 1}}),
        ] {
            assert!(cond(v.clone()).is_err(), "{v}");
        }
        let mut deep = json!({"Op": "eq", "Value": {"a": 1}});
        for _ in 0..40 {
            deep = json!({"Op": "and", "Children": [deep]});
        }
        assert!(cond(deep).is_err());
    }
}
