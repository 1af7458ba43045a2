//! Clusterpedia's search parameters (seed 002): `clusters`, `namespaces`,
//! `names`, `orderby`, `since`/`before`, the owner parameters, and
//! `whereSQL` — parsed into the filter tree, never handed to a database.

use futures::TryStreamExt;
use serde_json::Value;

use super::Status;
use super::discovery::namespace_of;
use crate::domain::Service;
use crate::domain::params::RawParams;
use crate::model::{Bound, Direction, Filter, Projection, Query, RangeOp};

const CREATED: &str = "data.metadata.creationTimestamp";
const OWNER_UIDS: &str = "data.metadata.ownerReferences.uid";

/// The owner a list is narrowed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub uid: Option<String>,
    pub name: Option<String>,
    /// `deployments.apps`: the owner's resource.
    pub gr: Option<String>,
    /// 0: direct children; 1: grandchildren (pods of a Deployment)...
    pub seniority: u32,
}

/// The parsed search parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    pub clusters: Option<Vec<String>>,
    pub namespaces: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    pub since: Option<String>,
    pub before: Option<String>,
    pub owner: Option<Owner>,
    pub where_sql: Option<Filter>,
    pub order: Vec<(String, Direction)>,
}

fn list_param(raw: &RawParams, name: &str) -> Option<Vec<String>> {
    let vals: Vec<String> = raw
        .0
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    (!vals.is_empty()).then_some(vals)
}

/// A creation-time bound: RFC 3339, a date, or Unix seconds; as the
/// RFC 3339 UTC text stored objects carry.
fn time_bound(name: &str, v: &str) -> Result<String, Status> {
    use chrono::{DateTime, NaiveDate, Utc};
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
    } else if let Some(t) = v
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
    {
        t
    } else {
        return Err(Status::bad_request(format!(
            "{name}: {v:?} is not a time (RFC 3339, YYYY-MM-DD or Unix seconds)"
        )));
    };
    Ok(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn column_path(c: &str) -> Option<&'static str> {
    match c.to_ascii_lowercase().as_str() {
        "cluster" => Some("clusterId"),
        "namespace" => Some("namespace"),
        "name" => Some("resourceName"),
        "created_at" => Some(CREATED),
        "resource_version" => Some("data.metadata.resourceVersion"),
        _ => None,
    }
}

impl Search {
    pub fn parse(raw: &RawParams) -> Result<Search, Status> {
        let single = |n: &str| raw.single(n).map_err(Status::from);
        let mut s = Search {
            clusters: list_param(raw, "clusters"),
            namespaces: list_param(raw, "namespaces"),
            names: list_param(raw, "names"),
            ..Search::default()
        };
        s.since = single("since")?
            .map(|v| time_bound("since", v))
            .transpose()?;
        s.before = single("before")?
            .map(|v| time_bound("before", v))
            .transpose()?;
        let uid = single("ownerUID")?.map(str::to_owned);
        let name = single("ownerName")?.map(str::to_owned);
        if uid.is_some() || name.is_some() {
            let seniority = match single("ownerSeniority")? {
                None => 0,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n <= 5).ok_or_else(|| {
                    Status::bad_request(format!(
                        "ownerSeniority: {v:?} is not an integer from 0 to 5"
                    ))
                })?,
            };
            s.owner = Some(Owner {
                uid,
                name,
                gr: single("ownerGR")?.map(str::to_owned),
                seniority,
            });
        }
        if let Some(w) = single("whereSQL")? {
            s.where_sql = Some(
                parse_where(w).map_err(|why| Status::bad_request(format!("whereSQL: {why}")))?,
            );
        }
        for o in list_param(raw, "orderby").unwrap_or_default() {
            let mut words = o.split_whitespace();
            let col = words.next().unwrap_or_default();
            let dir = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => Direction::Asc,
                Some("desc") => Direction::Desc,
                Some(other) => {
                    return Err(Status::bad_request(format!(
                        "orderby: unknown direction {other:?}"
                    )));
                }
            };
            let path = column_path(col).ok_or_else(|| {
                Status::bad_request(format!(
                    "orderby: unknown field {col:?} (name, namespace, cluster, created_at, resource_version)"
                ))
            })?;
            s.order.push((path.to_owned(), dir));
        }
        Ok(s)
    }

    /// Every condition but the owner's (which needs the store).
    pub fn filter(&self) -> Filter {
        let mut parts = Vec::new();
        let strings = |v: &Vec<String>| v.iter().map(|s| Value::String(s.clone())).collect();
        if let Some(ns) = &self.namespaces {
            parts.push(Filter::In("namespace".into(), strings(ns)));
        }
        if let Some(n) = &self.names {
            parts.push(Filter::In("resourceName".into(), strings(n)));
        }
        if let Some(t) = &self.since {
            parts.push(Filter::Range(
                CREATED.into(),
                RangeOp::Gte,
                Bound::String(t.clone()),
            ));
        }
        if let Some(t) = &self.before {
            parts.push(Filter::Range(
                CREATED.into(),
                RangeOp::Lt,
                Bound::String(t.clone()),
            ));
        }
        if let Some(w) = &self.where_sql {
            parts.push(w.clone());
        }
        Filter::and(parts)
    }

    /// The owner condition: the objects whose owner references name the
    /// owner (seniority 0), or an owned object of it (1: the pods of a
    /// Deployment's ReplicaSets...). Intermediate owners are looked up
    /// among the stored ReplicaSets and Jobs.
    pub async fn owner_filter(&self, svc: &Service) -> Result<Filter, Status> {
        let Some(o) = &self.owner else {
            return Ok(Filter::all());
        };
        let owner_kind = o.gr.as_deref().map(gr_kind).transpose()?;
        let mut uids: Vec<Value> = match (&o.uid, &o.name) {
            (Some(uid), _) => vec![Value::String(uid.clone())],
            (None, Some(name)) if o.seniority == 0 => {
                let mut parts = vec![Filter::Eq(
                    "data.metadata.ownerReferences.name".into(),
                    Value::String(name.clone()),
                )];
                if let Some(k) = owner_kind {
                    parts.push(Filter::Eq(
                        "data.metadata.ownerReferences.kind".into(),
                        Value::String(k.into()),
                    ));
                }
                return Ok(Filter::and(parts));
            }
            (None, Some(name)) => {
                let kinds: Vec<&str> = match owner_kind {
                    Some(k) => vec![k],
                    None => vec![
                        "Deployment",
                        "StatefulSet",
                        "DaemonSet",
                        "CronJob",
                        "ReplicaSet",
                        "Job",
                    ],
                };
                let mut uids = Vec::new();
                for k in kinds {
                    let f = Filter::and([
                        self.scope_of_owner(),
                        Filter::Eq("resourceName".into(), Value::String(name.clone())),
                    ]);
                    uids.extend(uids_of(svc, k, f).await?);
                }
                uids
            }
            (None, None) => return Ok(Filter::all()),
        };
        for _ in 0..o.seniority {
            let mut next = Vec::new();
            for k in ["ReplicaSet", "Job"] {
                if uids.is_empty() {
                    break;
                }
                let f = Filter::and([
                    self.scope_of_owner(),
                    Filter::In(OWNER_UIDS.into(), uids.clone()),
                ]);
                next.extend(uids_of(svc, k, f).await?);
            }
            uids = next;
        }
        Ok(Filter::In(OWNER_UIDS.into(), uids))
    }

    fn scope_of_owner(&self) -> Filter {
        let mut parts = Vec::new();
        if let Some(cs) = &self.clusters {
            parts.push(Filter::In(
                "clusterId".into(),
                cs.iter().map(|c| Value::String(c.clone())).collect(),
            ));
        }
        if let Some(ns) = &self.namespaces {
            parts.push(Filter::In(
                "namespace".into(),
                ns.iter().map(|c| Value::String(c.clone())).collect(),
            ));
        }
        Filter::and(parts)
    }
}

/// `deployments.apps` → Deployment (built-in kinds).
fn gr_kind(gr: &str) -> Result<&'static str, Status> {
    let (res, group) = gr.split_once('.').unwrap_or((gr, ""));
    super::resources::BUILTINS
        .iter()
        .find(|b| b.plural == res && b.group == group)
        .map(|b| b.kind)
        .ok_or_else(|| Status::bad_request(format!("ownerGR: {gr:?} is not a served resource")))
}

async fn uids_of(svc: &Service, kind: &str, filter: Filter) -> Result<Vec<Value>, Status> {
    let q = Query {
        projection: Some(Projection::new(["data.metadata.uid"])),
        ..Query::new(filter)
    };
    let docs: Vec<_> = svc
        .store
        .find(&namespace_of(kind), &q)
        .await?
        .try_collect()
        .await?;
    Ok(docs
        .iter()
        .filter_map(|d| d.get("data")?.get("metadata")?.get("uid").cloned())
        .filter(Value::is_string)
        .collect())
}

// ---- whereSQL -------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(String),
    Word(String),
    Str(String),
    Num(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\'') if cs.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            '=' => {
                out.push(Tok::Op("=".into()));
                i += 1;
            }
            '!' | '<' | '>' => {
                let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
                if matches!(two.as_str(), "!=" | "<>" | "<=" | ">=") {
                    out.push(Tok::Op(two));
                    i += 2;
                } else if c != '!' {
                    out.push(Tok::Op(c.to_string()));
                    i += 1;
                } else {
                    return Err("unexpected '!'".into());
                }
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.' || cs[i] == '-') {
                    i += 1;
                }
                out.push(Tok::Num(cs[start..i].iter().collect()));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Word(cs[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expr(&mut self, depth: usize) -> Result<Filter, String> {
        if depth > 32 {
            return Err("nested too deeply".into());
        }
        let mut alts = vec![self.term(depth)?];
        while self.keyword("OR") {
            alts.push(self.term(depth)?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Filter::Or(alts)
        })
    }
    fn term(&mut self, depth: usize) -> Result<Filter, String> {
        let mut parts = vec![self.factor(depth)?];
        while self.keyword("AND") {
            parts.push(self.factor(depth)?);
        }
        Ok(Filter::and(parts))
    }
    fn factor(&mut self, depth: usize) -> Result<Filter, String> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.expr(depth + 1)?;
            if self.next() != Some(Tok::RParen) {
                return Err("expected ')'".into());
            }
            return Ok(e);
        }
        if self.keyword("NOT") {
            return Ok(Filter::Not(Box::new(self.factor(depth + 1)?)));
        }
        let col = match self.next() {
            Some(Tok::Word(w)) => w,
            other => return Err(format!("expected a column, found {}", show(other.as_ref()))),
        };
        let path = column_path(&col).ok_or_else(|| {
            format!(
                "unknown column {col:?} (cluster, namespace, name, created_at, resource_version)"
            )
        })?;
        if self.keyword("NOT") {
            if self.keyword("IN") {
                return Ok(Filter::Not(Box::new(Filter::In(
                    path.into(),
                    self.values()?,
                ))));
            }
            if self.keyword("LIKE") {
                return Ok(Filter::Not(Box::new(like(path, &self.string()?)?)));
            }
            return Err("expected IN or LIKE after NOT".into());
        }
        if self.keyword("IN") {
            return Ok(Filter::In(path.into(), self.values()?));
        }
        if self.keyword("LIKE") {
            return like(path, &self.string()?);
        }
        let op = match self.next() {
            Some(Tok::Op(o)) => o,
            other => {
                return Err(format!(
                    "expected an operator after {col}, found {}",
                    show(other.as_ref())
                ));
            }
        };
        let v = self.value()?;
        let eq = Filter::Eq(path.into(), v.clone());
        let bound = || match &v {
            Value::String(s) => Ok(Bound::String(s.clone())),
            Value::Number(n) => Ok(Bound::Number(n.clone())),
            _ => Err("a comparison needs a string or a number".to_owned()),
        };
        Ok(match op.as_str() {
            "=" => eq,
            "!=" | "<>" => Filter::Not(Box::new(eq)),
            "<" => Filter::Range(path.into(), RangeOp::Lt, bound()?),
            "<=" => Filter::Range(path.into(), RangeOp::Lte, bound()?),
            ">" => Filter::Range(path.into(), RangeOp::Gt, bound()?),
            ">=" => Filter::Range(path.into(), RangeOp::Gte, bound()?),
            other => return Err(format!("unsupported operator {other}")),
        })
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Num(n)) => serde_json::from_str::<serde_json::Number>(&n)
                .map(Value::Number)
                .map_err(|_| format!("{n:?} is not a number")),
            other => Err(format!("expected a value, found {}", show(other.as_ref()))),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            other => Err(format!(
                "expected a quoted pattern, found {}",
                show(other.as_ref())
            )),
        }
    }
    fn values(&mut self) -> Result<Vec<Value>, String> {
        if self.next() != Some(Tok::LParen) {
            return Err("expected '(' after IN".into());
        }
        let mut out = vec![self.value()?];
        loop {
            match self.next() {
                Some(Tok::Comma) => out.push(self.value()?),
                Some(Tok::RParen) => return Ok(out),
                other => {
                    return Err(format!(
                        "expected ',' or ')', found {}",
                        show(other.as_ref())
                    ));
                }
            }
        }
    }
}

fn show(t: Option<&Tok>) -> String {
    match t {
        None => "the end".into(),
        Some(Tok::Word(w)) => format!("{w:?}"),
        Some(Tok::Str(s)) => format!("'{s}'"),
        Some(Tok::Num(n)) => n.clone(),
        Some(Tok::Op(o)) => o.clone(),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
        Some(Tok::Comma) => "','".into(),
    }
}

/// `LIKE`: an exact value, `%x%` (contains) or `x%` (prefix).
fn like(path: &str, pattern: &str) -> Result<Filter, String> {
    let unsupported =
        || format!("LIKE pattern {pattern:?}: only 'x', 'x%' and '%x%' are supported");
    if pattern.contains('_') && pattern.contains('%') {
        return Err(unsupported());
    }
    let inner = pattern.trim_start_matches('%').trim_end_matches('%');
    if inner.contains('%') {
        return Err(unsupported());
    }
    let lead = pattern.starts_with('%');
    let trail = pattern.ends_with('%') && pattern.len() > 1;
    Ok(match (lead, trail) {
        (false, false) => Filter::Eq(path.into(), Value::String(pattern.to_owned())),
        (true, true) => Filter::Contains(path.into(), inner.to_owned()),
        (false, true) => {
            let mut hi = inner.to_owned();
            hi.push(char::MAX);
            Filter::and([
                Filter::Range(path.into(), RangeOp::Gte, Bound::String(inner.to_owned())),
                Filter::Range(path.into(), RangeOp::Lt, Bound::String(hi)),
            ])
        }
        (true, false) => return Err(unsupported()),
    })
}

/// Parses the `whereSQL` subset into a filter.
pub fn parse_where(s: &str) -> Result<Filter, String> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err("empty".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let f = p.expr(0)?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {}", show(p.peek())));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_where_sql() {
        let f =
            parse_where("(cluster='global') OR (namespace IN ('kube-system','default'))").unwrap();
        assert!(f.matches(&json!({"clusterId": "global", "namespace": "x"})));
        assert!(f.matches(&json!({"clusterId": "c", "namespace": "default"})));
        assert!(!f.matches(&json!({"clusterId": "c", "namespace": "x"})));
        let f = parse_where("name LIKE 'web-%' AND namespace != 'kube-system'").unwrap();
        assert!(f.matches(&json!({"resourceName": "web-1", "namespace": "d"})));
        assert!(!f.matches(&json!({"resourceName": "db-1", "namespace": "d"})));
        for bad in [
            "1=1",
            "cluster = 'a'; DROP TABLE x",
            "name LIKE '%a'",
            "foo='x'",
            "cluster=",
            "(cluster='a'",
        ] {
            assert!(parse_where(bad).is_err(), "{bad}");
        }
    }
}
