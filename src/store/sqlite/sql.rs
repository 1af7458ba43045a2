//! Translation of the filter AST into SQL over JSONB documents.
//!
//! Each leaf has a fast form on `json_extract`/`json_type`, exact whenever no
//! array lies on the path; rows that do have an array on the path are decided
//! by `bcs_match`, a SQL function that runs the reference evaluator. Leading
//! equalities on the natural key become a range on the `key` column, so they
//! use the primary key index.
//!
//! Paths with a secondary index on which no document of the namespace has
//! ever had an array ("scalar paths", tracked by the writer) get the fast
//! form alone: a plain comparison of the indexed expression, which the
//! planner can answer from the index.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::model::{Bound, Direction, Filter, Namespace, RangeOp, Sort};

/// Separator of natural key components in the `key` column.
pub const KEY_SEP: char = '\u{1}';

/// Parameters one statement may bind (SQLite allows 32766).
const MAX_PARAMS: usize = 30_000;

/// A SQL condition with its positional parameters.
#[derive(Debug, Default, Clone)]
pub struct SqlFilter {
    pub sql: String,
    pub params: Vec<SqlValue>,
    /// The whole natural key is fixed: at most one row is examined.
    pub point: bool,
    /// A top-level condition on an indexed path: the secondary index
    /// answers the query.
    pub indexed: bool,
    /// Indexed paths without arrays in this namespace.
    scalar: Arc<HashSet<String>>,
}

impl SqlFilter {
    fn param(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }
}

/// The `key` column value for a document.
pub fn key_of(ns: &Namespace, doc: &serde_json::Map<String, Value>) -> String {
    let mut key = String::new();
    for (i, f) in ns.key_fields.iter().enumerate() {
        if i > 0 {
            key.push(KEY_SEP);
        }
        match doc.get(*f) {
            Some(Value::String(s)) => key.push_str(s),
            Some(Value::Null) | None => {}
            Some(other) => key.push_str(&other.to_string()),
        }
    }
    key
}

/// Condition selecting live documents of `ns` matching `filter`; parameter
/// `?1` is the namespace name.
/// With `after` (the natural key values of [`crate::model::Query::after`]),
/// only documents whose key sorts after it: the `key` column orders as the
/// natural key does (the separator sorts before every character a key may
/// hold; null is empty), and the bound narrows the key range itself, so a
/// page is read from its start, not from the start of the range.
pub fn where_clause(
    ns: &Namespace,
    ns_name: &str,
    filter: &Filter,
    scalar: Arc<HashSet<String>>,
    after: Option<&[Value]>,
) -> SqlFilter {
    let mut out = SqlFilter {
        scalar,
        ..SqlFilter::default()
    };
    let p = out.param(SqlValue::Text(ns_name.to_owned()));
    let mut sql = format!("ns = {p}");
    let range = key_range(ns, filter);
    let range_fields = range.as_ref().map_or(0, |r| match r {
        KeyRange::Exact(_) => ns.key_fields.len(),
        KeyRange::Prefix(p) => p.matches(KEY_SEP).count() + 1,
    });
    // Conditions the key range already guarantees are not evaluated again.
    let residual = match (&range_fields, filter) {
        (0, _) => filter.clone(),
        (n, Filter::And(parts)) => Filter::And(
            parts
                .iter()
                .filter(|p| !covered_by_key(ns, *n, p))
                .cloned()
                .collect(),
        ),
        (n, other) if covered_by_key(ns, *n, other) => Filter::all(),
        (_, other) => other.clone(),
    };
    // With a condition a secondary index answers, the key range is checked
    // but not used to pick an index (`+key`): without statistics the planner
    // cannot tell which is narrower, and with a LIMIT it prefers the key
    // order of `docs_key`, which scans the whole cluster for a rare value.
    out.indexed = conjuncts(&residual)
        .iter()
        .any(|c| indexable(c, &out.scalar));
    let key_col = if out.indexed { "+key" } else { "key" };
    let after = after.map(|a| {
        let mut doc = serde_json::Map::new();
        for (f, v) in ns.key_fields.iter().zip(a) {
            doc.insert((*f).to_owned(), v.clone());
        }
        key_of(ns, &doc)
    });
    match (range, after) {
        (Some(KeyRange::Exact(k)), after) => {
            out.point = after.is_none();
            let p = out.param(SqlValue::Text(k.clone()));
            sql.push_str(&format!(" AND key = {p}"));
            if let Some(a) = after {
                // A point read after its own key reads nothing.
                let p = out.param(SqlValue::Text(a));
                sql.push_str(&format!(" AND key > {p}"));
            }
        }
        (Some(KeyRange::Prefix(prefix)), after) => {
            let lo = format!("{prefix}{KEY_SEP}");
            let hi = out.param(SqlValue::Text(format!("{prefix}\u{2}")));
            match after {
                Some(a) if a >= lo => {
                    let p = out.param(SqlValue::Text(a));
                    sql.push_str(&format!(" AND {key_col} > {p} AND {key_col} < {hi}"));
                }
                _ => {
                    let lo = out.param(SqlValue::Text(lo));
                    sql.push_str(&format!(" AND {key_col} >= {lo} AND {key_col} < {hi}"));
                }
            }
        }
        (None, Some(a)) => {
            let p = out.param(SqlValue::Text(a));
            sql.push_str(&format!(" AND {key_col} > {p}"));
        }
        (None, None) => {}
    }
    let before = out.params.len();
    let mut cond = translate(&residual, &mut out);
    if out.params.len() > MAX_PARAMS {
        // Too many values for SQLite's parameter limit: one parameter holding
        // the whole filter, decided by the evaluator.
        out.params.truncate(before);
        cond = evaluator(&residual, &mut out);
    }
    if cond != "1" {
        sql.push_str(" AND ");
        sql.push_str(&cond);
    }
    out.sql = sql;
    out
}

fn conjuncts(f: &Filter) -> &[Filter] {
    match f {
        Filter::And(parts) => parts,
        other => std::slice::from_ref(other),
    }
}

/// A comparison on a scalar indexed path: the secondary index should
/// answer it.
fn indexable(f: &Filter, scalar: &HashSet<String>) -> bool {
    match f {
        Filter::Eq(p, v) => !v.is_null() && scalar.contains(p),
        Filter::In(p, _) | Filter::Range(p, _, _) => scalar.contains(p),
        _ => false,
    }
}

/// The expression a secondary index on `path` holds, written exactly as
/// the conditions below write it (the planner matches expressions by text).
pub fn index_expr(path: &str, instant: bool) -> Option<String> {
    let p = json_path(path)?;
    let p = if instant { format!("{p}.\"$date\"") } else { p };
    Some(format!("json_extract(doc, '{}')", sql_str(&p)))
}

/// A stable index name for the expressions: readable, with a hash so that
/// paths differing only in punctuation do not collide.
pub fn index_name(exprs: &[String]) -> String {
    let joined = exprs.join(",");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in joined.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let readable: String = joined
        .trim_start_matches("json_extract(doc, '$.")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(48)
        .collect();
    format!("ix_{readable}_{:08x}", hash as u32)
}

/// Whether any prefix of `path` (the whole path included) is an array, as
/// SQL: the rows on which a condition on `path` needs the evaluator.
pub fn array_check(path: &str) -> String {
    array_on_path(path)
}

/// `fast` alone on a scalar path, else `fast` or, for rows with an array on
/// the path, the evaluator.
fn guarded(fast: String, leaf: &Filter, path: &str, out: &mut SqlFilter) -> String {
    if out.scalar.contains(path) {
        return fast;
    }
    let arr = array_on_path(path);
    let eval = evaluator(leaf, out);
    format!("({fast} OR ({arr} AND {eval}))")
}

/// `ORDER BY` clause for a sort.
pub fn order_by(sort: &Sort) -> String {
    match sort {
        Sort::NaturalKey => "ORDER BY key".to_owned(),
        Sort::Fields(fields) => {
            let mut parts = Vec::new();
            for (path, dir) in fields {
                let d = match dir {
                    Direction::Asc => "ASC",
                    Direction::Desc => "DESC",
                };
                match json_path(path) {
                    Some(p) => {
                        let date = format!("{p}.\"$date\"");
                        parts.push(format!("json_extract(doc, '{}') {d}", sql_str(&date)));
                        parts.push(format!("json_extract(doc, '{}') {d}", sql_str(&p)));
                    }
                    None => continue,
                }
            }
            parts.push("key".to_owned());
            format!("ORDER BY {}", parts.join(", "))
        }
    }
}

/// Whether `f` is a string equality on one of the first `n` key fields, which
/// the key range implies (the key is built from those fields).
fn covered_by_key(ns: &Namespace, n: usize, f: &Filter) -> bool {
    match f {
        Filter::Eq(p, Value::String(s)) => {
            ns.key_fields[..n].contains(&p.as_str()) && !s.is_empty() && !s.contains(KEY_SEP)
        }
        _ => false,
    }
}

enum KeyRange {
    Exact(String),
    Prefix(String),
}

fn key_range(ns: &Namespace, filter: &Filter) -> Option<KeyRange> {
    let conjuncts: &[Filter] = match filter {
        Filter::And(parts) => parts,
        other => std::slice::from_ref(other),
    };
    let mut comps = Vec::new();
    for field in ns.key_fields {
        let found = conjuncts.iter().find_map(|c| match c {
            Filter::Eq(p, Value::String(s)) if p == field => Some(s.clone()),
            Filter::Eq(p, Value::Null) if p == field => Some(String::new()),
            Filter::In(p, vs) if p == field && vs.len() == 1 => match &vs[0] {
                Value::String(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        });
        match found {
            Some(s) if !s.contains(KEY_SEP) && !s.contains('\u{2}') => comps.push(s),
            _ => break,
        }
    }
    if comps.is_empty() {
        None
    } else if comps.len() == ns.key_fields.len() {
        Some(KeyRange::Exact(comps.join(&KEY_SEP.to_string())))
    } else {
        Some(KeyRange::Prefix(comps.join(&KEY_SEP.to_string())))
    }
}

/// SQLite JSON path for a dotted path; `None` when a component cannot be
/// written in SQLite's path syntax (it contains a double quote).
fn json_path(path: &str) -> Option<String> {
    let mut out = String::from("$");
    for comp in path.split('.') {
        // SQLite's path syntax has no escapes: such keys go to the evaluator.
        if comp.contains(['"', '\\']) {
            return None;
        }
        let plain = !comp.is_empty()
            && comp
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if plain {
            out.push('.');
            out.push_str(comp);
        } else {
            out.push_str(".\"");
            out.push_str(comp);
            out.push('"');
        }
    }
    Some(out)
}

/// Escape for a single-quoted SQL literal.
fn sql_str(s: &str) -> String {
    s.replace('\'', "''")
}

/// `json_type(doc, prefix) IS 'array'` for every prefix of the path.
fn array_on_path(path: &str) -> String {
    let comps: Vec<&str> = path.split('.').collect();
    let mut checks = Vec::new();
    for n in 1..=comps.len() {
        if let Some(p) = json_path(&comps[..n].join(".")) {
            checks.push(format!("json_type(doc, '{}') IS 'array'", sql_str(&p)));
        }
    }
    format!("({})", checks.join(" OR "))
}

fn evaluator(leaf: &Filter, out: &mut SqlFilter) -> String {
    let json = serde_json::to_string(leaf).unwrap_or_default();
    let p = out.param(SqlValue::Text(json));
    format!("bcs_match(json(doc), {p})")
}

fn plain_string(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.starts_with('{') && !s.starts_with('[') => Some(s),
        _ => None,
    }
}

fn number_param(n: &serde_json::Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
    }
}

fn translate(f: &Filter, out: &mut SqlFilter) -> String {
    match f {
        Filter::And(parts) => {
            if parts.is_empty() {
                return "1".to_owned();
            }
            let sqls: Vec<String> = parts.iter().map(|p| translate(p, out)).collect();
            format!("({})", sqls.join(" AND "))
        }
        Filter::Or(parts) => {
            if parts.is_empty() {
                return "0".to_owned();
            }
            let sqls: Vec<String> = parts.iter().map(|p| translate(p, out)).collect();
            format!("({})", sqls.join(" OR "))
        }
        Filter::Not(inner) => format!("(NOT IFNULL({}, 0))", translate(inner, out)),
        Filter::Eq(path, v) => eq_sql(f, path, v, out),
        Filter::In(path, vs) => {
            let Some(p) = json_path(path) else {
                return evaluator(f, out);
            };
            if !vs.is_empty() && vs.iter().all(|v| plain_string(v).is_some()) {
                let params: Vec<String> = vs
                    .iter()
                    .map(|v| {
                        out.param(SqlValue::Text(
                            plain_string(v).unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect();
                let fast = format!(
                    "json_extract(doc, '{}') IN ({})",
                    sql_str(&p),
                    params.join(", ")
                );
                guarded(fast, f, path, out)
            } else {
                let alts: Vec<Filter> = vs
                    .iter()
                    .map(|v| Filter::Eq(path.clone(), v.clone()))
                    .collect();
                translate(&Filter::Or(alts), out)
            }
        }
        Filter::Range(path, op, bound) => {
            let Some(p) = json_path(path) else {
                return evaluator(f, out);
            };
            let sym = match op {
                RangeOp::Gt => ">",
                RangeOp::Gte => ">=",
                RangeOp::Lt => "<",
                RangeOp::Lte => "<=",
            };
            let fast = match bound {
                Bound::Number(n) => {
                    let v = out.param(number_param(n));
                    format!(
                        "(json_extract(doc, '{q}') {sym} {v} AND json_type(doc, '{q}') IN ('integer', 'real'))",
                        q = sql_str(&p)
                    )
                }
                Bound::String(s) => {
                    let v = out.param(SqlValue::Text(s.clone()));
                    format!(
                        "(json_extract(doc, '{q}') {sym} {v} AND json_type(doc, '{q}') = 'text')",
                        q = sql_str(&p)
                    )
                }
                Bound::Instant(ms) => {
                    let v = out.param(SqlValue::Integer(*ms));
                    let dp = format!("{p}.\"$date\"");
                    format!("json_extract(doc, '{}') {sym} {v}", sql_str(&dp))
                }
            };
            guarded(fast, f, path, out)
        }
        Filter::Exists(path, want) => {
            let Some(p) = json_path(path) else {
                return evaluator(f, out);
            };
            let exists = guarded(
                format!("json_type(doc, '{}') IS NOT NULL", sql_str(&p)),
                &Filter::Exists(path.clone(), true),
                path,
                out,
            );
            if *want {
                exists
            } else {
                format!("(NOT {exists})")
            }
        }
        Filter::Contains(path, needle) => {
            let Some(p) = json_path(path) else {
                return evaluator(f, out);
            };
            let n = out.param(SqlValue::Text(needle.clone()));
            let fast = format!(
                "(json_type(doc, '{q}') = 'text' AND instr(json_extract(doc, '{q}'), {n}) > 0)",
                q = sql_str(&p)
            );
            guarded(fast, f, path, out)
        }
        // Rare (the multi-cluster `type` operator): the evaluator decides.
        Filter::Type(..) => evaluator(f, out),
        // The export's `r/` values: the evaluator decides (SQLite has no
        // regular expressions of its own).
        Filter::Regex(..) => evaluator(f, out),
    }
}

fn eq_sql(leaf: &Filter, path: &str, v: &Value, out: &mut SqlFilter) -> String {
    let Some(p) = json_path(path) else {
        return evaluator(leaf, out);
    };
    let q = sql_str(&p);
    let fast = match v {
        Value::String(_) if plain_string(v).is_some() => {
            let s = out.param(SqlValue::Text(
                plain_string(v).unwrap_or_default().to_owned(),
            ));
            format!("json_extract(doc, '{q}') IS {s}")
        }
        Value::Number(n) => {
            let s = out.param(number_param(n));
            format!(
                "(json_extract(doc, '{q}') IS {s} AND json_type(doc, '{q}') IN ('integer', 'real'))"
            )
        }
        Value::Bool(b) => format!("json_type(doc, '{q}') IS '{b}'"),
        Value::Null if out.scalar.contains(path) => {
            return format!("(json_type(doc, '{q}') IS NULL OR json_type(doc, '{q}') = 'null')");
        }
        Value::Null => {
            let arr = array_on_path(path);
            let eval = evaluator(leaf, out);
            return format!(
                "(CASE WHEN {arr} THEN {eval} ELSE (json_type(doc, '{q}') IS NULL OR json_type(doc, '{q}') = 'null') END)"
            );
        }
        _ => return evaluator(leaf, out),
    };
    guarded(fast, leaf, path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_quote_what_is_not_an_identifier() {
        assert_eq!(
            json_path("data.metadata.name").as_deref(),
            Some("$.data.metadata.name")
        );
        assert_eq!(json_path("a.0.b").as_deref(), Some("$.a.\"0\".b"));
        assert_eq!(
            json_path("labels.app．kubernetes．io/name").as_deref(),
            Some("$.labels.\"app．kubernetes．io/name\"")
        );
        assert_eq!(json_path("a.x\"y"), None);
    }
}
