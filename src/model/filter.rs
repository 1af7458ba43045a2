//! The filter AST and its reference evaluator with MongoDB semantics: dotted
//! paths descend into objects, and through arrays element by element (any
//! element may match); a numeric component also indexes an array.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::value::{compare_values, instant_of, values_equal};

/// A condition on documents. Paths are dotted top-level-to-leaf field names
/// in stored form (keys escaped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Filter {
    /// All children hold; an empty list matches every document.
    And(Vec<Filter>),
    /// At least one child holds; an empty list matches nothing.
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// The value at the path equals the value (or an array there contains it).
    /// `Null` also matches a missing field.
    Eq(String, Value),
    /// Equality with any of the values.
    In(String, Vec<Value>),
    /// Ordered comparison within one type bracket (numbers, strings, instants).
    Range(String, RangeOp, Bound),
    /// The path exists (or not).
    Exists(String, bool),
    /// The string at the path contains the substring (case-sensitive).
    Contains(String, String),
    /// The value at the path (or an element of an array there) has one of
    /// the types (MongoDB's `$type`); an empty list matches nothing.
    Type(String, Vec<ValueType>),
    /// The string at the path (or a string element of an array there)
    /// matches the regular expression (MongoDB's `$regex`, unanchored: a
    /// pattern anchors itself with `^`/`$`). Patterns use the syntax both
    /// stores share (RE2-like: no look-around, no back-references).
    Regex(String, Pattern),
}

/// A regular expression of a [`Filter::Regex`]: its text, compiled once on
/// first use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Pattern {
    text: String,
    #[serde(skip)]
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl Pattern {
    /// A pattern; an error names what is wrong with it.
    pub fn new(text: &str) -> Result<Pattern, String> {
        let re = regex::Regex::new(text).map_err(|e| format!("invalid regular expression: {e}"))?;
        Ok(Pattern {
            text: text.to_owned(),
            compiled: std::sync::OnceLock::from(Some(re)),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches (somewhere in) `s`.
    pub fn is_match(&self, s: &str) -> bool {
        self.compiled
            .get_or_init(|| regex::Regex::new(&self.text).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(s))
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
    }
}

impl From<String> for Pattern {
    fn from(text: String) -> Pattern {
        Pattern {
            text,
            compiled: std::sync::OnceLock::new(),
        }
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.text
    }
}

/// The type of a stored value, as MongoDB's `$type` names it. Only the
/// types a stored JSON document can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    /// A number with a fraction (or beyond 64-bit integers).
    Double,
    String,
    Object,
    Array,
    /// The `_id` of a document (24 hex digits).
    ObjectId,
    Bool,
    /// A stored instant.
    Date,
    Null,
    /// An integer within 32 bits.
    Int,
    /// An integer beyond 32 bits.
    Long,
}

impl ValueType {
    /// The `$type` alias.
    pub fn alias(self) -> &'static str {
        match self {
            ValueType::Double => "double",
            ValueType::String => "string",
            ValueType::Object => "object",
            ValueType::Array => "array",
            ValueType::ObjectId => "objectId",
            ValueType::Bool => "bool",
            ValueType::Date => "date",
            ValueType::Null => "null",
            ValueType::Int => "int",
            ValueType::Long => "long",
        }
    }

    /// The type of `v`, found at `path` (`_id` holds ObjectIds).
    pub fn of(path: &str, v: &Value) -> ValueType {
        match v {
            Value::Null => ValueType::Null,
            Value::Bool(_) => ValueType::Bool,
            Value::Number(n) => match n.as_i64() {
                Some(i) if i32::try_from(i).is_ok() => ValueType::Int,
                Some(_) => ValueType::Long,
                None => ValueType::Double,
            },
            Value::String(s)
                if path == "_id" && s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                ValueType::ObjectId
            }
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::Object(_) if super::value::is_date(v) => ValueType::Date,
            Value::Object(_) => ValueType::Object,
        }
    }
}

/// Range operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// Range bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Bound {
    Number(Number),
    String(String),
    /// Unix milliseconds; compares only against stored instants.
    Instant(i64),
}

impl Bound {
    /// The bound as a stored JSON value.
    pub fn to_value(&self) -> Value {
        match self {
            Bound::Number(n) => Value::Number(n.clone()),
            Bound::String(s) => Value::String(s.clone()),
            Bound::Instant(ms) => super::value::date_millis(*ms),
        }
    }
}

impl Filter {
    /// Matches every document.
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Conjunction that flattens nested `And`s.
    pub fn and(parts: impl IntoIterator<Item = Filter>) -> Filter {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Filter::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or_else(Filter::all)
        } else {
            Filter::And(out)
        }
    }

    /// The reference evaluator: does `doc` (a stored document) match?
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|f| f.matches(doc)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(doc)),
            Filter::Not(inner) => !inner.matches(doc),
            Filter::Eq(path, v) => any_candidate(doc, path, |c| eq_candidate(c, v)),
            Filter::In(path, vs) => {
                any_candidate(doc, path, |c| vs.iter().any(|v| eq_candidate(c, v)))
            }
            Filter::Range(path, op, bound) => {
                let b = bound.to_value();
                any_candidate(doc, path, |c| match c {
                    Some(Value::Array(items)) => {
                        range_holds(c, *op, &b)
                            || items.iter().any(|i| range_holds(Some(i), *op, &b))
                    }
                    _ => range_holds(c, *op, &b),
                })
            }
            Filter::Exists(path, want) => any_candidate(doc, path, |c| c.is_some()) == *want,
            Filter::Contains(path, needle) => any_candidate(doc, path, |c| match c {
                Some(Value::String(s)) => s.contains(needle.as_str()),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| matches!(i, Value::String(s) if s.contains(needle.as_str()))),
                _ => false,
            }),
            Filter::Regex(path, re) => any_candidate(doc, path, |c| match c {
                Some(Value::String(s)) => re.is_match(s),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| matches!(i, Value::String(s) if re.is_match(s))),
                _ => false,
            }),
            Filter::Type(path, types) => any_candidate(doc, path, |c| match c {
                Some(Value::Array(items)) => {
                    types.contains(&ValueType::Array)
                        || items
                            .iter()
                            .any(|i| types.contains(&ValueType::of(path, i)))
                }
                Some(v) => types.contains(&ValueType::of(path, v)),
                None => false,
            }),
        }
    }

    /// Every path this filter reads, in order of appearance.
    pub fn paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_paths(&mut out);
        out
    }

    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().for_each(|p| p.collect_paths(out))
            }
            Filter::Not(inner) => inner.collect_paths(out),
            Filter::Eq(p, _)
            | Filter::In(p, _)
            | Filter::Range(p, _, _)
            | Filter::Exists(p, _)
            | Filter::Contains(p, _)
            | Filter::Regex(p, _)
            | Filter::Type(p, _) => out.push(p),
        }
    }
}

fn eq_candidate(c: Option<&Value>, v: &Value) -> bool {
    match (c, v) {
        (None, Value::Null) => true,
        (None, _) => false,
        (Some(whole @ Value::Array(items)), _) => {
            values_equal(whole, v) || items.iter().any(|i| values_equal(i, v))
        }
        (Some(x), _) => values_equal(x, v),
    }
}

fn range_holds(c: Option<&Value>, op: RangeOp, bound: &Value) -> bool {
    let Some(x) = c else { return false };
    // Instants compare only with instants; plain objects never compare.
    if x.is_object() && instant_of(x).is_none() {
        return false;
    }
    match compare_values(x, bound) {
        Some(ord) => match op {
            RangeOp::Gt => ord.is_gt(),
            RangeOp::Gte => ord.is_ge(),
            RangeOp::Lt => ord.is_lt(),
            RangeOp::Lte => ord.is_le(),
        },
        None => false,
    }
}

/// Whether any value reached by `path` satisfies `pred`; a branch of the path
/// that does not exist offers `None` (which `Eq(null)` accepts).
fn any_candidate(doc: &Value, path: &str, pred: impl Fn(Option<&Value>) -> bool) -> bool {
    let comps: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    collect(doc, &comps, &mut out);
    out.into_iter().any(pred)
}

fn collect<'a>(v: &'a Value, comps: &[&str], out: &mut Vec<Option<&'a Value>>) {
    let Some((first, rest)) = comps.split_first() else {
        out.push(Some(v));
        return;
    };
    match v {
        Value::Object(m) => match m.get(*first) {
            Some(x) => collect(x, rest, out),
            None => out.push(None),
        },
        Value::Array(items) => {
            let before = out.len();
            if let Some(x) = array_index(first).and_then(|i| items.get(i)) {
                collect(x, rest, out);
            }
            for item in items {
                if item.is_object() {
                    collect(item, comps, out);
                }
            }
            if out.len() == before {
                out.push(None);
            }
        }
        _ => out.push(None),
    }
}

fn array_index(comp: &str) -> Option<usize> {
    if comp.is_empty() || !comp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if comp.len() > 1 && comp.starts_with('0') {
        return None;
    }
    comp.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(p: &str, v: Value) -> Filter {
        Filter::Eq(p.into(), v)
    }

    #[test]
    fn dotted_paths_go_through_arrays() {
        let d = json!({"a": [{"b": 1}, {"b": 2}], "n": [1, 2, 3], "o": {"b": [5, 6]}});
        assert!(eq("a.b", json!(2)).matches(&d));
        assert!(!eq("a.b", json!(3)).matches(&d));
        assert!(eq("n", json!(2)).matches(&d));
        assert!(eq("n", json!([1, 2, 3])).matches(&d));
        assert!(eq("a.0.b", json!(1)).matches(&d));
        assert!(!eq("a.1.b", json!(1)).matches(&d));
        let gt5 = Filter::Range("o.b".into(), RangeOp::Gt, Bound::Number(5.into()));
        assert!(gt5.matches(&d));
        let gt6 = Filter::Range("o.b".into(), RangeOp::Gt, Bound::Number(6.into()));
        assert!(!gt6.matches(&d));
    }

    #[test]
    fn null_matches_missing_and_exists_does_not() {
        let d = json!({"a": {"b": null}});
        assert!(eq("x", Value::Null).matches(&d));
        assert!(eq("a.b", Value::Null).matches(&d));
        assert!(Filter::Exists("a.b".into(), true).matches(&d));
        assert!(Filter::Exists("a.c".into(), false).matches(&d));
        assert!(!eq("a", Value::Null).matches(&d));
    }

    #[test]
    fn ranges_stay_within_type_brackets() {
        let d = json!({"s": "b", "n": 3, "t": {"$date": 1000}, "flag": true});
        let lt = |p: &str, b: Bound| Filter::Range(p.into(), RangeOp::Lt, b);
        assert!(lt("s", Bound::String("c".into())).matches(&d));
        assert!(!lt("s", Bound::Number(10.into())).matches(&d));
        assert!(!lt("n", Bound::String("z".into())).matches(&d));
        assert!(lt("t", Bound::Instant(1001)).matches(&d));
        assert!(!lt("t", Bound::Instant(1000)).matches(&d));
        assert!(!lt("flag", Bound::Number(5.into())).matches(&d));
    }

    #[test]
    fn types_as_mongodb_names_them() {
        let d = json!({"_id": "0123456789abcdef01234567", "i": 3, "l": 5_000_000_000i64,
                       "f": 1.5, "s": "x", "t": {"$date": 5}, "o": {"a": 1}, "n": null,
                       "b": true, "arr": ["x", 2]});
        let ty = |p: &str, ts: &[ValueType]| Filter::Type(p.into(), ts.to_vec()).matches(&d);
        assert!(ty("_id", &[ValueType::ObjectId]));
        assert!(!ty("_id", &[ValueType::String]));
        assert!(ty("i", &[ValueType::Int]) && !ty("i", &[ValueType::Long]));
        assert!(ty("l", &[ValueType::Long]) && ty("f", &[ValueType::Double]));
        assert!(ty("s", &[ValueType::String]) && ty("t", &[ValueType::Date]));
        assert!(ty("o", &[ValueType::Object]) && !ty("t", &[ValueType::Object]));
        assert!(ty("n", &[ValueType::Null]) && !ty("missing", &[ValueType::Null]));
        assert!(ty("b", &[ValueType::Bool]));
        // An array matches as an array and through its elements.
        assert!(ty("arr", &[ValueType::Array]));
        assert!(ty("arr", &[ValueType::Int]) && ty("arr", &[ValueType::String]));
        assert!(!ty("arr", &[ValueType::Bool]));
        assert!(!ty("s", &[]));
    }

    #[test]
    fn combinators() {
        let d = json!({"a": "x", "l": ["p", "q"]});
        assert!(Filter::all().matches(&d));
        assert!(!Filter::Or(vec![]).matches(&d));
        assert!(Filter::Not(Box::new(eq("a", json!("y")))).matches(&d));
        assert!(Filter::In("l".into(), vec![json!("q"), json!("z")]).matches(&d));
        assert!(Filter::Contains("l".into(), "q".into()).matches(&d));
        assert!(!Filter::Contains("a".into(), "X".into()).matches(&d));
        let f = Filter::and([eq("a", json!("x")), Filter::and([eq("l", json!("p"))])]);
        assert_eq!(f.paths(), vec!["a", "l"]);
    }
}
