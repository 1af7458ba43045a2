//! Alarms (reference D.3): `POST /alarms` stores a BcsStorageAlarmIf,
//! `GET /alarms` lists them with filters, newest `receivedTime` first, with
//! `total` = every match (the running service counts only the page).

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::dynamic::renderer;
use super::escape::escape_value;
use super::params::{
    RawParams, body_instant, body_text, page_size, parse_field, parse_offset, time_window,
};
use super::{DomainError, Page, Service};
use crate::model::{Database, Direction, Filter, Namespace, Query, Sort, date_value};

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
    let mut doc = super::new_document();
    for f in TEXT_FIELDS {
        doc.insert((*f).to_owned(), Value::String(body_text(&mut m, f)?));
    }
    let received = body_instant(&mut m, "receivedTime", &svc.limits.time_zone)?;
    doc.insert("receivedTime".into(), received);
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
    parts.extend(time_window(raw, "receivedTime", &svc.limits.time_zone)?);
    Ok(Filter::and(parts))
}

/// GET: alarms matching the filters, newest first, with the full count.
pub async fn list(
    svc: &Service,
    raw: &RawParams,
) -> Result<Page<impl Stream<Item = Result<String, DomainError>> + Send + 'static>, DomainError> {
    let filter = filter(raw, svc)?;
    let limit = page_size(raw, "length", &svc.limits)?;
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
