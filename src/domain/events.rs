//! Events (contract section 6, reference D.1-D.2): `PUT /events` stores a
//! BcsStorageEventIf per cluster (collection `event_<clusterId>`), once per
//! (data.metadata.name, data.metadata.resourceVersion), with a copy as the
//! dynamic resource `Event`; `GET`/`POST /events` list them newest first
//! across the requested clusters, every filter AND-ed.

use futures::TryStreamExt;
use serde_json::{Map, Value};

use super::dynamic::{ResourcePath, check_segment, upsert_data};
use super::escape::escape_value;
use super::params::{
    ExtraMode, ExtraText, RawParams, body_instant, body_text, check_path, decode_extra, page_size,
    parse_extra, parse_field, parse_offset, time_window,
};
use super::{DomainError, Service, view};
use crate::model::{
    Bound, Database, Direction, Document, Filter, Namespace, Query, RangeOp, Sort, date_value,
    instant_of,
};
use crate::store::{IndexField, IndexSpec, StoreError};

/// The event collection of a cluster.
pub fn namespace_of(cluster_id: &str) -> Namespace {
    Namespace {
        database: Database::Event,
        collection: format!("event_{cluster_id}"),
        key_fields: &[],
    }
}

const TEXT_FIELDS: &[&str] = &[
    "id",
    "env",
    "kind",
    "level",
    "component",
    "type",
    "describe",
];
const EXTRA_INFO: &[&str] = &["namespace", "name", "kind"];

/// An event is stored once per (name, resourceVersion) of its object.
const DEDUP_FIELDS: &[&str] = &["data.metadata.name", "data.metadata.resourceVersion"];

/// The indexes of an event collection: newest first and time windows (the
/// cleaner's too), and the events of one object. Cheap after the first call
/// for a collection.
async fn ensure_indexes(svc: &Service, ns: &Namespace) -> Result<(), DomainError> {
    let time = IndexField {
        path: "eventTime".into(),
        instant: true,
    };
    let specs = [
        IndexSpec {
            fields: vec![time.clone()],
        },
        // The events of one object (the console's usual question).
        IndexSpec {
            fields: vec![
                IndexField {
                    path: "extraInfo.name".into(),
                    instant: false,
                },
                time,
            ],
        },
    ];
    for spec in &specs {
        svc.store.ensure_index(ns, spec).await?;
    }
    Ok(())
}

fn metadata_str<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get("metadata")?.get(key)?.as_str()
}

/// PUT: stores the event unless the cluster has it already.
pub async fn put(svc: &Service, body: &[u8]) -> Result<(), DomainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(mut m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object (BcsStorageEventIf)".into(),
        ));
    };
    let cluster_id = body_text(&mut m, "clusterId")?;
    check_segment("clusterId", &cluster_id)?;
    let mut doc = super::new_document();
    for f in TEXT_FIELDS {
        doc.insert((*f).to_owned(), Value::String(body_text(&mut m, f)?));
    }
    doc.insert("clusterId".into(), Value::String(cluster_id.clone()));
    let mut info = match m.remove("extraInfo") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(DomainError::InvalidBody(format!(
                "extraInfo must be an object, not {other}"
            )));
        }
    };
    let mut extra_info = Map::new();
    for f in EXTRA_INFO {
        extra_info.insert((*f).to_owned(), Value::String(body_text(&mut info, f)?));
    }
    doc.insert("extraInfo".into(), Value::Object(extra_info));
    let event_time = body_instant(&mut m, "eventTime", &svc.limits.time_zone)?;
    doc.insert("eventTime".into(), event_time);
    let raw_data = m.remove("data").unwrap_or(Value::Null);
    let mut data = raw_data.clone();
    escape_value(&mut data)?;
    doc.insert("data".into(), data.clone());
    doc.insert("createTime".into(), date_value(svc.clock.now()));
    let ns = namespace_of(&cluster_id);
    ensure_indexes(svc, &ns).await?;
    // Once per object name and resourceVersion in this cluster.
    match svc.store.insert_once(&ns, DEDUP_FIELDS, doc).await {
        Ok(true) => {}
        Ok(false) => return Ok(()),
        // A unique index made by the Go service on the same database
        // (`event_<clusterId>_idx`, not partial) calls it a duplicate too:
        // success without a copy, as there.
        Err(StoreError::Conflict(why)) => {
            tracing::debug!(cluster = %cluster_id, %why, "event refused as a duplicate");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    // The copy as dynamic resource `Event`, keyed by its metadata.
    if let Some(name) = metadata_str(&raw_data, "name") {
        let path = ResourcePath {
            cluster_id: cluster_id.clone(),
            namespace: metadata_str(&raw_data, "namespace")
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            resource_type: "Event".into(),
            resource_name: Some(name.to_owned()),
        };
        if path.validate().is_ok() {
            upsert_data(svc, &path, data).await?;
        }
    }
    Ok(())
}

/// Parameters that are filters on a stored path.
pub(crate) const FILTERS: &[(&str, &str)] = &[
    ("id", "id"),
    ("env", "env"),
    ("kind", "kind"),
    ("level", "level"),
    ("component", "component"),
    ("type", "type"),
    ("clusterId", "clusterId"),
    ("extraInfo.name", "extraInfo.name"),
    ("extraInfo.namespace", "extraInfo.namespace"),
    ("extraInfo.kind", "extraInfo.kind"),
];

/// The stored path an `extra` key names. Events have no top-level
/// `namespace`: the data-watch agent's event sync asks for
/// `extra={"namespace":"NS"}` meaning the namespace of the event's object.
fn event_path(key: String) -> String {
    if key == "namespace" {
        "extraInfo.namespace".to_owned()
    } else {
        key
    }
}

/// A page of events.
pub struct EventPage {
    pub items: Vec<String>,
    pub total: u64,
    pub page_size: u64,
    pub offset: u64,
}

/// The query of one cluster's newest `limit` events matching `filter` (the
/// collection holds that cluster's events only). Every stored event has an
/// eventTime date; saying so lets the store read its eventTime index newest
/// first instead of sorting the collection, and count from the index alone.
pub fn cluster_query(cluster_id: &str, filter: &Filter, limit: u64) -> (Namespace, Query) {
    let scoped = Filter::and([
        Filter::Range(
            "eventTime".into(),
            RangeOp::Gte,
            Bound::Instant(super::times::MIN_MS),
        ),
        filter.clone(),
    ]);
    let mut q = Query::new(scoped);
    q.sort = Sort::Fields(vec![("eventTime".into(), Direction::Desc)]);
    q.limit = Some(limit);
    (namespace_of(cluster_id), q)
}

/// One cluster's events being merged: the next chunk is read when the
/// buffer runs out.
struct Cursor {
    ns: Namespace,
    q: Query,
    buf: std::collections::VecDeque<Document>,
    done: bool,
}

/// The most events read from one cluster at a time.
const MAX_CHUNK: u64 = 512;

impl Cursor {
    async fn refill(&mut self, svc: &Service) -> Result<(), DomainError> {
        let chunk = self.q.limit.unwrap_or(MAX_CHUNK);
        let docs: Vec<Document> = svc
            .store
            .find(&self.ns, &self.q)
            .await?
            .try_collect()
            .await?;
        self.done = (docs.len() as u64) < chunk;
        self.q.skip += docs.len() as u64;
        self.q.limit = Some(chunk.saturating_mul(2).min(MAX_CHUNK));
        self.buf.extend(docs);
        Ok(())
    }
}

/// GET / POST: events of the requested clusters, newest first.
pub async fn list(svc: &Service, raw: &RawParams) -> Result<EventPage, DomainError> {
    let clusters: Vec<String> = match raw.single("clusterId")? {
        Some(v) if !v.trim().is_empty() => v.split(',').map(str::to_owned).collect(),
        _ => {
            return Err(DomainError::ListParameter(
                "clusterId".into(),
                "is required (a comma list of clusters)".into(),
            ));
        }
    };
    for c in &clusters {
        check_segment("clusterId", c)?;
    }
    let mut parts = Vec::new();
    for (param, path) in FILTERS {
        if *param == "clusterId" {
            continue;
        }
        for (_, v) in raw.0.iter().filter(|(k, _)| k == param) {
            if v.is_empty() {
                continue;
            }
            parts.push(Filter::In(
                (*path).to_owned(),
                v.split(',').map(|s| Value::String(s.to_owned())).collect(),
            ));
        }
    }
    parts.extend(time_window(raw, "eventTime", &svc.limits.time_zone)?);
    if let Some(e) = raw.single("extra")? {
        parts.extend(
            parse_extra(e, ExtraMode::In, ExtraText::Base64OrJson)?
                .into_iter()
                .map(|f| match f {
                    Filter::In(path, values) => Filter::In(event_path(path), values),
                    other => other,
                }),
        );
    }
    if let Some(e) = raw.single("extra_contain")? {
        for (k, v) in decode_extra("extra_contain", e, ExtraText::Base64OrJson)? {
            check_path("extra_contain", &k)?;
            let k = event_path(k);
            let Value::String(needle) = v else {
                return Err(DomainError::param(
                    "extra_contain",
                    format!("the value of {k:?} must be a string"),
                ));
            };
            parts.push(Filter::Contains(k, needle));
        }
    }
    let filter = Filter::and(parts);
    let limit = page_size(raw, "length", &svc.limits)?;
    let offset = parse_offset(raw)?;
    let projection = parse_field(raw)?;
    if let [c] = clusters.as_slice() {
        // One cluster: paged, projected and rendered by the store as it reads.
        let (ns, mut q) = cluster_query(c, &filter, limit);
        q.skip = offset;
        q.projection = projection;
        ensure_indexes(svc, &ns).await?;
        let total = svc.store.count(&ns, &q.filter).await?;
        let items: Vec<String> = svc
            .store
            .find_text(&ns, &q, super::dynamic::renderer())
            .await?
            .try_collect()
            .await?;
        return Ok(EventPage {
            items,
            total,
            page_size: limit,
            offset,
        });
    }
    // Several clusters: merged newest first (ties: the clusters in the
    // order asked, then `_id`), reading each cluster in chunks so that memory
    // holds at most a chunk per cluster, whatever `offset` is.
    if clusters.len() > svc.limits.max_clusters {
        return Err(DomainError::param(
            "clusterId",
            format!(
                "names {} clusters; at most {} (query.max_clusters) at once",
                clusters.len(),
                svc.limits.max_clusters
            ),
        ));
    }
    // A cluster's share of a balanced merge first; a cluster read again
    // (it holds more of the newest) reads twice as much each time.
    let first_chunk = offset
        .saturating_add(limit)
        .div_ceil(clusters.len() as u64)
        .saturating_add(1)
        .min(MAX_CHUNK);
    let mut total = 0;
    let mut cursors = Vec::with_capacity(clusters.len());
    for c in &clusters {
        let (ns, mut q) = cluster_query(c, &filter, first_chunk);
        q.sort = Sort::Fields(vec![
            ("eventTime".into(), Direction::Desc),
            ("_id".into(), Direction::Asc),
        ]);
        ensure_indexes(svc, &ns).await?;
        total += svc.store.count(&ns, &q.filter).await?;
        cursors.push(Cursor {
            ns,
            q,
            buf: std::collections::VecDeque::new(),
            done: false,
        });
    }
    let mut picked = Vec::new();
    let mut skipped = 0u64;
    while (picked.len() as u64) < limit {
        // The newest head of every cluster (the first cluster wins ties).
        let mut best: Option<(i64, usize)> = None;
        for (ci, cur) in cursors.iter_mut().enumerate() {
            if cur.buf.is_empty() && !cur.done {
                cur.refill(svc).await?;
            }
            if let Some(d) = cur.buf.front() {
                let t = d.get("eventTime").and_then(instant_of).unwrap_or(i64::MIN);
                if best.is_none_or(|(bt, _)| t > bt) {
                    best = Some((t, ci));
                }
            }
        }
        let Some((_, ci)) = best else { break };
        let Some(d) = cursors[ci].buf.pop_front() else {
            break;
        };
        if skipped < offset {
            skipped += 1;
        } else {
            picked.push(d);
        }
    }
    let mut items = Vec::new();
    for d in picked {
        let shown = match &projection {
            Some(p) => p.apply(&d),
            None => d,
        };
        items.push(
            serde_json::to_string(&view::render(shown))
                .map_err(|e| DomainError::InvalidBody(e.to_string()))?,
        );
    }
    Ok(EventPage {
        items,
        total,
        page_size: limit,
        offset,
    })
}
