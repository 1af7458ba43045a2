//! Custom resources (reference B.1 #14-18): any collection of the dynamic
//! database, read and written as raw documents, with unique indexes made
//! on request. Unlike the running service, a DELETE without any filter is
//! refused unless the caller adds `deleteAll=true`.

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::dynamic::{check_resource_type, check_segment, renderer};
use super::escape::escape_document;
use super::params::{ListParams, ListUse, RawParams, check_path, parse_bool};
use super::{DomainError, Page, Service};
use crate::model::{Database, Direction, Filter, Namespace, Query, Sort, date_value};

/// The parameter that allows a DELETE to remove a whole collection.
pub const DELETE_ALL: &str = "deleteAll";

/// Internal top-level fields a client's document may not set.
const INTERNAL: &[&str] = &["_id", "_isBcsObjectDeleted", "_bcsTimes"];

fn namespace_of(resource_type: &str) -> Result<Namespace, DomainError> {
    check_resource_type(resource_type)?;
    Ok(Namespace {
        database: Database::Dynamic,
        collection: resource_type.to_owned(),
        key_fields: &[],
    })
}

/// GET: documents matching the query parameters (as on dynamic lists),
/// oldest `_id` first, with the full count.
pub async fn list(
    svc: &Service,
    resource_type: &str,
    raw: &RawParams,
) -> Result<Page<impl Stream<Item = Result<String, DomainError>> + Send + 'static>, DomainError> {
    let ns = namespace_of(resource_type)?;
    let p = ListParams::parse(raw, &svc.limits, ListUse::Read)?;
    let filter = Filter::and(p.filter);
    let total = svc.store.count(&ns, &filter).await?;
    let mut q = Query::new(filter);
    q.projection = p.projection;
    q.sort = Sort::Fields(vec![("_id".into(), Direction::Asc)]);
    q.skip = p.skip;
    q.limit = Some(p.limit);
    let items = svc.store.find_text(&ns, &q, renderer()).await?;
    Ok(Page {
        items: items.map(|r| r.map_err(DomainError::from)),
        total,
        page_size: p.limit,
        offset: p.skip,
    })
}

/// PUT: the body is the document. With a unique index on the collection it
/// replaces the document equal on the index's fields (createTime kept,
/// updateTime set); without one it is inserted (createTime set).
pub async fn put(svc: &Service, resource_type: &str, body: &[u8]) -> Result<(), DomainError> {
    let ns = namespace_of(resource_type)?;
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(fields) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object (the document)".into(),
        ));
    };
    let mut data = Value::Object(fields);
    escape_document(&mut data)?;
    let Value::Object(mut fields) = data else {
        return Err(DomainError::InvalidBody(
            "request body must be an object".into(),
        ));
    };
    for k in INTERNAL {
        fields.shift_remove(*k);
    }
    let now = date_value(svc.clock.now());
    let mut doc = super::new_document();
    doc.append(&mut fields);
    doc.insert("createTime".into(), now.clone());
    let unique = svc.store.unique_indexes(&ns).await?;
    match unique.into_iter().next() {
        Some((_, index_fields)) => {
            doc.insert("updateTime".into(), now);
            svc.store.upsert_on(&ns, &index_fields, doc).await?;
        }
        None => {
            svc.store.insert(&ns, doc).await?;
        }
    }
    Ok(())
}

/// DELETE: every document matching the query parameters; returns the
/// count. No filter at all is refused unless `deleteAll=true`.
pub async fn delete(
    svc: &Service,
    resource_type: &str,
    raw: &RawParams,
) -> Result<u64, DomainError> {
    let ns = namespace_of(resource_type)?;
    raw.refuse_empty()?;
    let delete_all = match raw.single(DELETE_ALL)? {
        None => false,
        Some(v) => parse_bool(DELETE_ALL, v)?,
    };
    let rest = RawParams(
        raw.0
            .iter()
            .filter(|(k, _)| k != DELETE_ALL)
            .cloned()
            .collect(),
    );
    let p = ListParams::parse(&rest, &svc.limits, ListUse::Delete)?;
    if p.filter.is_empty() && !delete_all {
        return Err(DomainError::param(
            DELETE_ALL,
            format!(
                "no filter given: this would delete every document of {resource_type}; \
                 add {DELETE_ALL}=true to mean it"
            ),
        ));
    }
    Ok(svc.store.delete_many(&ns, &Filter::and(p.filter)).await?)
}

/// Parses index keys: a key document `{"field": 1, ...}` (numbers or
/// canonical Extended JSON `{"$numberInt": "1"}`, ascending or descending),
/// or the list the Go storage SDK sends, `json.Marshal` of a `bson.D`:
/// `[{"Key": "field", "Value": 1}, ...]`.
fn index_fields(body: &[u8]) -> Result<Vec<String>, DomainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let keys: Vec<(String, Value)> = match v {
        Value::Object(keys) => keys.into_iter().collect(),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(mut e) if e.len() == 2 => {
                    match (e.remove("Key"), e.remove("Value")) {
                        (Some(Value::String(k)), Some(v)) => Ok((k, v)),
                        _ => Err(()),
                    }
                }
                _ => Err(()),
            })
            .collect::<Result<_, ()>>()
            .map_err(|()| {
                DomainError::InvalidBody(
                    "a list of index keys must hold {\"Key\": field, \"Value\": 1 or -1} objects"
                        .into(),
                )
            })?,
        _ => {
            return Err(DomainError::InvalidBody(
                "request body must be the index keys, such as {\"clusterId\": 1, \"name\": 1}"
                    .into(),
            ));
        }
    };
    if keys.is_empty() {
        return Err(DomainError::InvalidBody("the index has no keys".into()));
    }
    let mut fields = Vec::with_capacity(keys.len());
    for (k, v) in keys {
        check_path("index", &k)?;
        let n = match &v {
            Value::Number(n) => n.as_f64(),
            Value::Object(m) if m.len() == 1 => m
                .get("$numberInt")
                .or_else(|| m.get("$numberLong"))
                .or_else(|| m.get("$numberDouble"))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<f64>().ok()),
            _ => None,
        };
        if !matches!(n, Some(x) if x == 1.0 || x == -1.0) {
            return Err(DomainError::InvalidBody(format!(
                "index key {k:?} must be 1 or -1, not {v}"
            )));
        }
        if fields.contains(&k) {
            return Err(DomainError::InvalidBody(format!(
                "index key {k:?} is given twice"
            )));
        }
        fields.push(k);
    }
    Ok(fields)
}

fn check_index_name(name: &str) -> Result<(), DomainError> {
    check_segment("indexName", name)?;
    if name.contains('$') || name == "_id_" {
        return Err(DomainError::param("indexName", "is not a valid index name"));
    }
    Ok(())
}

/// PUT index: creates the unique index (nothing happens when one of that
/// name exists); returns whether it was created.
pub async fn create_index(
    svc: &Service,
    resource_type: &str,
    name: &str,
    body: &[u8],
) -> Result<bool, DomainError> {
    let ns = namespace_of(resource_type)?;
    check_index_name(name)?;
    let fields = index_fields(body)?;
    Ok(svc.store.create_unique_index(&ns, name, &fields).await?)
}

/// DELETE index: drops it; a missing one is "does not exist".
pub async fn drop_index(svc: &Service, resource_type: &str, name: &str) -> Result<(), DomainError> {
    let ns = namespace_of(resource_type)?;
    check_index_name(name)?;
    match svc.store.drop_unique_index(&ns, name).await {
        Err(crate::store::StoreError::NotFound) => Err(DomainError::Missing(format!(
            "collection {resource_type} has no index {name:?}"
        ))),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_accept_numbers_and_extended_json() {
        assert_eq!(
            index_fields(br#"{"clusterId": 1, "name": {"$numberInt": "-1"}}"#).ok(),
            Some(vec!["clusterId".to_owned(), "name".to_owned()])
        );
        // The storage SDK's bson.D, as encoding/json writes it.
        assert_eq!(
            index_fields(
                br#"[{"Key":"data.metadata.name","Value":1},{"Key":"clusterId","Value":-1}]"#
            )
            .ok(),
            Some(vec![
                "data.metadata.name".to_owned(),
                "clusterId".to_owned()
            ])
        );
        for bad in [
            &br#"{}"#[..],
            br#"null"#,
            br#"[]"#,
            br#"[{"Key":"a"}]"#,
            br#"[{"Key":"a","Value":1},{"Key":"a","Value":1}]"#,
            br#"[{"key":"a","value":1}]"#,
            br#"[1]"#,
            br#"{"a": 2}"#,
            br#"{"a": "1"}"#,
            br#"{"$a": 1}"#,
            br#"{"a..b": 1}"#,
            br#"{"a": {"$numberInt": "x"}}"#,
        ] {
            assert!(
                index_fields(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
