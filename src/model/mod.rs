//! Backend-neutral types: stored documents, the filter AST with its reference
//! evaluator, projections, sorts and queries. Both stores translate these; the
//! evaluator is the test oracle and the matcher for live change events.

mod filter;
mod projection;
mod value;

pub use filter::{Bound, Filter, Pattern, RangeOp, ValueType};
pub use projection::Projection;
pub use value::{
    Document, compare_values, date_millis, date_value, instant_of, is_date, render_instant,
    values_equal,
};

/// A storage namespace: one logical database and one collection in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// Logical database (dynamic, event, alarm, metric, watch ...).
    pub database: Database,
    /// Collection name inside the database (resourceType for dynamic data).
    pub collection: String,
    /// Top-level fields that form the natural key, in sort order. Empty for
    /// collections whose documents have no natural key (plain inserts).
    pub key_fields: &'static [&'static str],
}

/// The logical databases of bcs-storage. Each maps to a configured database
/// name in MongoDB and to a namespace prefix in the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Database {
    Dynamic,
    Event,
    Alarm,
    Metric,
    Watch,
    /// Hosts and their cluster (collection `host`).
    Host,
    /// Mesos-era cluster configuration: `services`, `clusters`,
    /// `stableVersion`, `clusterTemplate`.
    ClusterConfig,
}

impl Database {
    /// Every logical database.
    pub const ALL: [Database; 7] = [
        Database::Dynamic,
        Database::Event,
        Database::Alarm,
        Database::Metric,
        Database::Watch,
        Database::Host,
        Database::ClusterConfig,
    ];

    /// Stable lower-case name, used in logs and in the embedded layout.
    pub fn as_str(self) -> &'static str {
        match self {
            Database::Dynamic => "dynamic",
            Database::Event => "event",
            Database::Alarm => "alarm",
            Database::Metric => "metric",
            Database::Watch => "watch",
            Database::Host => "host",
            Database::ClusterConfig => "clusterConfig",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// Result order of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Sort {
    /// Ascending natural key of the namespace (the default, stable for paging).
    NaturalKey,
    /// By the given field paths, ties broken by natural key (then id).
    Fields(Vec<(String, Direction)>),
}

/// A read: filter, projection, order and page.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Filter,
    pub projection: Option<Projection>,
    pub sort: Sort,
    pub skip: u64,
    /// `None` = no limit (internal use only; API routes always set one).
    pub limit: Option<u64>,
    /// Keyset position (with [`Sort::NaturalKey`] only): the natural key
    /// values of the last document of the previous page; only documents
    /// after it are read. Each page is then an index range, and paging
    /// through a collection that changes meanwhile neither repeats nor skips
    /// a document that exists throughout.
    pub after: Option<Vec<serde_json::Value>>,
    /// Give each document's JSON text, in [`crate::store::Store::find_text`],
    /// its version as the last top-level member, the string field
    /// [`REVISION_FIELD`]: a text that changes with every write of the
    /// document (the revision of its last write where the store numbers its
    /// writes; see [`crate::store::Versions`]).
    pub with_revision: bool,
    /// The projection only names what the reader needs: a backend that
    /// reads whole documents anyway (the embedded store, whose rendering of
    /// whole documents is cheaper than projecting them) may return them
    /// whole; one that can leave the rest on the server does.
    pub projection_optional: bool,
}

/// See [`Query::with_revision`].
pub const REVISION_FIELD: &str = "_bcsRevision";

impl Query {
    /// A query with the given filter, natural order, no projection, no limit.
    pub fn new(filter: Filter) -> Self {
        Query {
            filter,
            projection: None,
            sort: Sort::NaturalKey,
            skip: 0,
            limit: None,
            after: None,
            with_revision: false,
            projection_optional: false,
        }
    }
}

/// [`Query::after`] as a filter: documents whose natural key (the values of
/// `key_fields`, missing = null, which sorts before strings) comes after
/// `after`. For backends without a native key order, and for counts.
pub fn key_after(key_fields: &[&str], after: &[serde_json::Value]) -> Filter {
    use serde_json::Value;
    let mut alternatives = Vec::new();
    for i in 0..key_fields.len().min(after.len()) {
        let mut parts: Vec<Filter> = key_fields[..i]
            .iter()
            .zip(after)
            .map(|(f, v)| Filter::Eq((*f).to_owned(), v.clone()))
            .collect();
        let field = key_fields[i].to_owned();
        parts.push(match &after[i] {
            // Every string sorts after null (a missing field).
            Value::Null => Filter::Type(field, vec![ValueType::String]),
            Value::String(s) => Filter::Range(field, RangeOp::Gt, Bound::String(s.clone())),
            other => Filter::Range(field, RangeOp::Gt, Bound::String(other.to_string())),
        });
        alternatives.push(Filter::and(parts));
    }
    Filter::Or(alternatives)
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// True when the write created the document (insert, or upsert of a new key).
    pub created: bool,
    /// Store revision of this write where the store numbers its writes
    /// (the embedded store); `None` where the change feed carries its own
    /// positions (MongoDB resume tokens).
    pub revision: Option<u64>,
    /// The written document's new version, as [`Query::with_revision`]
    /// reports it and [`Expect::Version`] expects it (keyed writes only).
    pub version: Option<String>,
}

/// The state a conditional write (`Store::upsert_if`) expects the live
/// document with the new document's natural key to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// There is none: the write creates it.
    Absent,
    /// There is one, and its version is this (as [`Query::with_revision`]
    /// reported it).
    Version(&'a str),
}
