//! Alarms (reference D.3): `POST /alarms` stores a BcsStorageAlarmIf,
//! `GET /alarms` lists them with filters, newest `receivedTime` first, with
//! `total` = every match (the running service counts only the page).

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::dynamic::renderer;
use super::escape::escape_value;
use super::params::{RawParams, parse_field, parse_offset};
use super::times::parse_time;
use super::{DomainError, Page, Service};
use crate::model::{
    Bound, Database, Direction, Document, Filter, Namespace, Query, RangeOp, Sort, date_millis,
    date_value,
};

/// The one collection of the alarm database.
pub fn namespace() -> Namespace {
    Namespace {
        database: Database::Alarm,
        collection: "alarm".to_owned(),
        key_fields: &[],
    }
}

/// String fields of BcsStorageAlarmIf, stored as given ("" when absent).
const TEXT_FIELDS: &[&str] = &[
    "clusterId",
    "namespace",
    "message",
    "source",
    "module",
    "type",
];

/// POST: stores one alarm; every POST inserts.
pub async fn post(svc: &Service, body: &[u8]) -> Result<(), DomainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(mut m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object (BcsStorageAlarmIf)".into(),
        ));
    };
    let mut doc = Document::new();
    doc.insert(
        "_id".into(),
        Value::String(bson::oid::ObjectId::new().to_hex()),
    );
    for f in TEXT_FIELDS {
        let text = match m.remove(*f) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(DomainError::InvalidBody(format!(
                    "{f} must be a string, not {other}"
                )));
            }
        };
        doc.insert((*f).to_owned(), Value::String(text));
    }
    let received = match m.remove("receivedTime") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            DomainError::InvalidBody("receivedTime must be an integer (unix seconds)".into())
        })?,
        Some(other) => {
            return Err(DomainError::InvalidBody(format!(
                "receivedTime must be an integer (unix seconds), not {other}"
            )));
        }
    };
    let received_ms = parse_time(&received.to_string(), svc.limits.time_zone.0)
        .ok_or_else(|| DomainError::InvalidBody("receivedTime is out of range".into()))?;
    doc.insert("receivedTime".into(), date_millis(received_ms));
    let mut data = m.remove("data").unwrap_or(Value::Null);
    escape_value(&mut data)?;
    doc.insert("data".into(), data);
    doc.insert("createTime".into(), date_value(svc.clock.now()));
    svc.store.insert(&namespace(), doc).await?;
    Ok(())
}

/// Parameters of GET that are not filters.
const RESERVED: &[&str] = &["timeBegin", "timeEnd", "offset", "length", "field"];

/// The filter of a list request.
fn filter(raw: &RawParams, svc: &Service) -> Result<Filter, DomainError> {
    let mut parts = Vec::new();
    for (k, v) in &raw.0 {
        if RESERVED.contains(&k.as_str()) || v.is_empty() {
            continue;
        }
        let values = v.split(',');
        match k.as_str() {
            "clusterId" | "namespace" | "source" | "module" => parts.push(Filter::In(
                k.clone(),
                values.map(|s| Value::String(s.to_owned())).collect(),
            )),
            // A substring of the type, any of the list.
            "type" => parts.push(Filter::Or(
                values
                    .map(|s| Filter::Contains("type".into(), s.to_owned()))
                    .collect(),
            )),
            _ => {}
        }
    }
    for (name, op) in [("timeBegin", RangeOp::Gt), ("timeEnd", RangeOp::Lt)] {
        if let Some(t) = raw.single(name)? {
            let ms = parse_time(t, svc.limits.time_zone.0).ok_or_else(|| {
                DomainError::param(name, format!("{t:?} is not a time (unix seconds)"))
            })?;
            parts.push(Filter::Range("receivedTime".into(), op, Bound::Instant(ms)));
        }
    }
    Ok(Filter::and(parts))
}

/// GET: alarms matching the filters, newest first, with the full count.
pub async fn list(
    svc: &Service,
    raw: &RawParams,
) -> Result<Page<impl Stream<Item = Result<String, DomainError>> + Send + 'static>, DomainError> {
    let filter = filter(raw, svc)?;
    let length = match raw.single("length")? {
        None => 0,
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            DomainError::param("length", format!("{v:?} is not a non-negative integer"))
        })?,
    };
    let limit = match length {
        0 => svc.limits.default_limit,
        n if n > svc.limits.max_limit => {
            return Err(DomainError::param(
                "length",
                format!("must not exceed {}", svc.limits.max_limit),
            ));
        }
        n => n,
    };
    let ns = namespace();
    let total = svc.store.count(&ns, &filter).await?;
    let mut q = Query::new(filter);
    q.projection = parse_field(raw)?;
    q.sort = Sort::Fields(vec![("receivedTime".into(), Direction::Desc)]);
    q.skip = parse_offset(raw)?;
    q.limit = Some(limit);
    let skip = q.skip;
    let items = svc.store.find_text(&ns, &q, renderer()).await?;
    Ok(Page {
        items: items.map(|r| r.map_err(DomainError::from)),
        total,
        page_size: limit,
        offset: skip,
    })
}
