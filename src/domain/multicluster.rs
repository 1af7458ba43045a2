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
    Bound, Database, Direction, Filter, Namespace, Projection, Query, RangeOp, Sort,
};

/// The request body (Go field names, as the running service decodes them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default, rename = "clusteredNamespaces")]
    clustered_namespaces: Vec<ClusteredNamespaces>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default, rename = "labelSelector")]
    label_selector: Option<String>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusteredNamespaces {
    #[serde(default, rename = "clusterId")]
    cluster_id: String,
    #[serde(default)]
    namespaces: Vec<String>,
}

/// A condition tree node: `{"Op": ..., "Value": {path: value}, "Children": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    #[serde(rename = "Op", alias = "op")]
    op: String,
    #[serde(default, rename = "Value", alias = "value")]
    value: Option<Map<String, Value>>,
    #[serde(default, rename = "Children", alias = "children")]
    children: Vec<Condition>,
}

/// Deepest condition tree accepted.
const MAX_DEPTH: usize = 32;

fn bad(why: impl Into<String>) -> DomainError {
    DomainError::param("conditions", why)
}

impl Condition {
    fn to_filter(&self, depth: usize) -> Result<Filter, DomainError> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let op = self.op.to_ascii_lowercase();
        let children = || -> Result<Vec<Filter>, DomainError> {
            if self.value.as_ref().is_some_and(|v| !v.is_empty()) {
                return Err(bad(format!("{:?} takes Children, not a Value", self.op)));
            }
            self.children
                .iter()
                .map(|c| c.to_filter(depth + 1))
                .collect()
        };
        match op.as_str() {
            "and" => return Ok(Filter::And(children()?)),
            "or" => return Ok(Filter::Or(children()?)),
            "nor" => return Ok(Filter::Not(Box::new(Filter::Or(children()?)))),
            "not" => return Ok(Filter::Not(Box::new(Filter::And(children()?)))),
            _ => {}
        }
        if !self.children.is_empty() {
            return Err(bad(format!("{:?} takes a Value, not Children", self.op)));
        }
        let Some(value) = self.value.as_ref().filter(|v| !v.is_empty()) else {
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
        Ok(Filter::and(parts))
    }
}

fn leaf(op: &str, raw_op: &str, path: &str, v: &Value) -> Result<Filter, DomainError> {
    let p = path.to_owned();
    let range = |op: RangeOp| -> Result<Filter, DomainError> {
        let bound = match v {
            Value::Number(n) => Bound::Number(n.clone()),
            Value::String(s) => Bound::String(s.clone()),
            other => {
                return Err(bad(format!(
                    "{raw_op:?} on {path:?} needs a number or a string, not {other}"
                )));
            }
        };
        Ok(Filter::Range(p.clone(), op, bound))
    };
    let list = || -> Result<Vec<Value>, DomainError> {
        match v {
            Value::Array(items) => Ok(items.clone()),
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
        "exists" => match v {
            Value::Bool(b) => Filter::Exists(p, *b),
            other => {
                return Err(bad(format!(
                    "\"exists\" on {path:?} needs true or false, not {other}"
                )));
            }
        },
        _ => {
            return Err(bad(format!(
                "unknown operator {raw_op:?} (eq, ne, lt, lte, gt, gte, in, nin, con, exists, and, or, nor, not)"
            )));
        }
    })
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
    if body.clustered_namespaces.is_empty() {
        return Err(DomainError::param(
            "clusteredNamespaces",
            "names no cluster; give at least one {\"clusterId\": ...}",
        ));
    }
    let mut scopes = Vec::with_capacity(body.clustered_namespaces.len());
    for (i, entry) in body.clustered_namespaces.iter().enumerate() {
        if entry.cluster_id.trim().is_empty() {
            return Err(DomainError::param(
                "clusteredNamespaces",
                format!("entry {i} has no clusterId"),
            ));
        }
        check_segment("clusterId", &entry.cluster_id)?;
        let mut parts = vec![Filter::Eq(
            "clusterId".into(),
            Value::String(entry.cluster_id.clone()),
        )];
        if !entry.namespaces.is_empty() {
            parts.push(Filter::In(
                "namespace".into(),
                entry
                    .namespaces
                    .iter()
                    .map(|n| Value::String(n.clone()))
                    .collect(),
            ));
        }
        scopes.push(Filter::and(parts));
    }
    let mut filter = vec![Filter::Or(scopes)];
    for c in &body.conditions {
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
    query.sort = Sort::Fields(vec![("createTime".into(), Direction::Desc)]);
    query.skip = offset;
    query.limit = Some(limit);
    Ok(Request { query })
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
    fn bad_conditions_are_refused() {
        for v in [
            json!({"Op": "type", "Value": {"a": 2}}),
            json!({"Op": "eq"}),
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
