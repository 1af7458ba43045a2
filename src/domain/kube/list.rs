//! Lists and single objects in the Kubernetes shapes: `<Kind>List`,
//! `PartialObjectMetadataList`, `Table`; keyset `continue` tokens; the list
//! revision; streamed with bounded memory.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value, json};

use super::Status;
use super::discovery::namespace_of;
use super::object::{ReadAt, Stored, metadata_only, object_of, parse_stored, write_object_text};
use super::path::View;
use super::resources::Resource;
use super::search::Search;
use super::selectors::{field_filter, label_filter};
use super::table::{IncludeObject, Layout};
use crate::domain::Service;
use crate::domain::dynamic::DYNAMIC_KEY;
use crate::domain::params::RawParams;
use crate::model::{Filter, Query, Sort, key_after};
use crate::store::TextMap;
use crate::store::Versions;

/// The shape of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    Metadata,
    Table(IncludeObject),
}

/// Where a paged list goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Continue {
    /// After this natural key, reading at this revision.
    After { rv: String, key: Vec<Value> },
    /// Clusterpedia's numeric `continue=5`, and paging of a custom order.
    Offset { rv: Option<String>, offset: u64 },
}

impl Continue {
    pub fn encode(&self) -> String {
        let v = match self {
            Continue::After { rv, key } => json!({"v": 1, "rv": rv, "after": key}),
            Continue::Offset { rv, offset } => json!({"v": 1, "rv": rv, "offset": offset}),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    pub fn decode(token: &str) -> Result<Continue, Status> {
        if let Ok(n) = token.parse::<u64>() {
            return Ok(Continue::Offset {
                rv: None,
                offset: n,
            });
        }
        let bad = || Status::bad_request("continue key is not valid: list again without it");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let rv = v.get("rv").and_then(Value::as_str).map(str::to_owned);
        if let Some(key) = v.get("after").and_then(Value::as_array) {
            let ok =
                key.len() == DYNAMIC_KEY.len() && key.iter().all(|k| k.is_string() || k.is_null());
            return match (rv, ok) {
                (Some(rv), true) => Ok(Continue::After {
                    rv,
                    key: key.clone(),
                }),
                _ => Err(bad()),
            };
        }
        match v.get("offset").and_then(Value::as_u64) {
            Some(offset) => Ok(Continue::Offset { rv, offset }),
            None => Err(bad()),
        }
    }
}

/// The list parameters of a request.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub filter: Filter,
    pub limit: Option<u64>,
    pub cont: Option<Continue>,
    pub with_remaining: bool,
    pub with_continue: bool,
    pub search: Search,
}

fn flag(raw: &RawParams, name: &str) -> Result<Option<bool>, Status> {
    // `withRemainingCount` alone (seed 002) means true.
    if raw.0.iter().any(|(k, v)| k == name && v.is_empty()) {
        return Ok(Some(true));
    }
    match raw.single(name).map_err(Status::from)? {
        None => Ok(None),
        Some(v) => crate::domain::params::parse_bool(name, v)
            .map(Some)
            .map_err(Status::from),
    }
}

impl ListOptions {
    pub fn parse(raw: &RawParams, res: &Resource) -> Result<ListOptions, Status> {
        let single = |n: &str| raw.single(n).map_err(Status::from);
        let mut parts = Vec::new();
        if let Some(l) = single("labelSelector")? {
            parts.push(label_filter(l)?);
        }
        if let Some(f) = single("fieldSelector")? {
            parts.push(field_filter(f, res)?);
        }
        let limit = match single("limit")? {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as u64),
                Ok(_) => None,
                Err(_) => {
                    return Err(Status::bad_request(format!(
                        "limit: {v:?} is not an integer"
                    )));
                }
            },
        };
        let cont = single("continue")?.map(Continue::decode).transpose()?;
        let search = Search::parse(raw)?;
        parts.push(search.filter());
        Ok(ListOptions {
            filter: Filter::and(parts),
            limit,
            cont,
            with_remaining: flag(raw, "withRemainingCount")?.unwrap_or(false),
            with_continue: flag(raw, "withContinue")?.unwrap_or(true),
            search,
        })
    }
}

/// The conditions of the view and path.
pub fn scope_filter(view: &View, search: &Search, namespace: Option<&str>) -> Filter {
    let mut parts = Vec::new();
    match view {
        View::One(c) => parts.push(Filter::Eq("clusterId".into(), Value::String(c.clone()))),
        View::All => {}
    }
    if let Some(cs) = &search.clusters {
        parts.push(Filter::In(
            "clusterId".into(),
            cs.iter().map(|c| Value::String(c.clone())).collect(),
        ));
    }
    if let Some(ns) = namespace {
        parts.push(Filter::Eq("namespace".into(), Value::String(ns.to_owned())));
    }
    Filter::and(parts)
}

/// What each stored document becomes in a list: the item's JSON text,
/// a newline and its key (JSON). Objects and metadata are
/// written from the stored text without building the document (see
/// [`write_object_text`]); table rows need the object's fields.
fn item_map(
    res: Arc<Resource>,
    rv: String,
    versions: Versions,
    shape: Shape,
    layout: Option<Arc<Layout>>,
) -> TextMap {
    let now = chrono::Utc::now();
    Arc::new(move |text: &str| {
        if !matches!(shape, Shape::Table(_)) {
            let mut item = String::with_capacity(text.len() + 512);
            if let Some(key) = write_object_text(
                text,
                &res,
                ReadAt::new(&rv, versions),
                shape == Shape::Metadata,
                &mut item,
            ) {
                item.push('\n');
                item.push_str(&key);
                return Ok(item);
            }
        }
        let doc = parse_stored(text)?;
        let Stored {
            key,
            cluster,
            object,
        } = object_of(doc, &res, ReadAt::new(&rv, versions));
        let item = match (shape, &layout) {
            (Shape::Table(include), Some(l)) => l.row(object, &cluster, include, now),
            (Shape::Metadata, _) => Value::Object(metadata_only(&object)),
            _ => Value::Object(object),
        };
        Ok(format!("{item}\n{}", Value::Array(key)))
    })
}

/// Bytes of items sent in one chunk at most (one item more may follow).
const CHUNK: usize = 64 * 1024;

/// An item of [`item_map`]: its key and its JSON text (compact JSON holds
/// no raw newline, so the last one separates them).
fn split_item(s: &str) -> (&str, &str) {
    match s.rsplit_once('\n') {
        Some((item, k)) => (k, item),
        None => ("[]", s),
    }
}

/// The start of a Table, up to its rows.
fn table_head(l: &Layout) -> String {
    format!(
        "{{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"columnDefinitions\":{},\"rows\":[",
        l.definitions()
    )
}

/// Runs the read of a list or GET: each item as [`item_map`] writes it,
/// and the table layout when the shape is a table.
async fn read_items(
    svc: &Service,
    view: &View,
    ns: &crate::model::Namespace,
    query: &Query,
    res: &Arc<Resource>,
    rv: &str,
    shape: Shape,
) -> Result<(crate::store::TextStream, Option<Arc<Layout>>), Status> {
    let layout = match shape {
        Shape::Table(_) => Some(Arc::new(Layout::new(res, *view == View::All))),
        _ => None,
    };
    let items = svc
        .store
        .find_text(
            ns,
            query,
            item_map(
                res.clone(),
                rv.to_owned(),
                svc.store.versions(),
                shape,
                layout.clone(),
            ),
        )
        .await?;
    Ok((items, layout))
}

/// A list answer: JSON text chunks.
pub type Body = BoxStream<'static, Result<Bytes, Status>>;

/// Lists `res` in the view.
pub async fn list(
    svc: &Service,
    view: &View,
    res: Resource,
    namespace: Option<&str>,
    opts: ListOptions,
    shape: Shape,
) -> Result<Body, Status> {
    let ns = namespace_of(&res.kind);
    let owner = opts.search.owner_filter(svc).await?;
    let filter = Filter::and([
        scope_filter(view, &opts.search, namespace),
        opts.filter.clone(),
        owner,
    ]);
    let rv = match &opts.cont {
        Some(Continue::After { rv, .. }) | Some(Continue::Offset { rv: Some(rv), .. }) => {
            rv.clone()
        }
        _ => svc.store.revision(&ns).await?,
    };
    let mut query = Query::new(filter.clone());
    query.with_revision = true;
    let custom_order = !opts.search.order.is_empty();
    if custom_order {
        query.sort = Sort::Fields(opts.search.order.clone());
    }
    match &opts.cont {
        Some(Continue::After { key, .. }) if !custom_order => query.after = Some(key.clone()),
        Some(Continue::After { .. }) => {
            return Err(Status::bad_request(
                "continue key is not valid for this orderby: list again without it",
            ));
        }
        Some(Continue::Offset { offset, .. }) => query.skip = *offset,
        None => {}
    }
    query.limit = opts.limit.map(|l| l + 1);
    if shape == Shape::Metadata {
        // Where the backend can, the rest of each document stays unread.
        query.projection = Some(crate::model::Projection::new([
            "_id",
            "clusterId",
            "namespace",
            "resourceType",
            "resourceName",
            "data.metadata",
        ]));
        query.projection_optional = true;
    }
    let res = Arc::new(res);
    let (items, layout) = read_items(svc, view, &ns, &query, &res, &rv, shape).await?;
    let head = match (&shape, &layout) {
        (Shape::Table(_), Some(l)) => table_head(l),
        (Shape::Metadata, _) => {
            "{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\",\"items\":["
                .to_owned()
        }
        _ => format!(
            "{{\"kind\":{},\"apiVersion\":{},\"items\":[",
            Value::String(format!("{}List", res.kind)),
            Value::String(res.api_version()),
        ),
    };
    let tail = Tail {
        svc: svc.clone(),
        ns,
        filter,
        rv,
        limit: opts.limit,
        with_remaining: opts.with_remaining && !custom_order,
        with_continue: opts.with_continue,
        offset: match &opts.cont {
            Some(Continue::Offset { offset, .. }) => Some(*offset),
            _ if custom_order => Some(0),
            _ => None,
        },
    };
    Ok(framed(head, items, tail).boxed())
}

struct Tail {
    svc: Service,
    ns: crate::model::Namespace,
    filter: Filter,
    rv: String,
    limit: Option<u64>,
    with_remaining: bool,
    with_continue: bool,
    /// Offset paging: where this page started.
    offset: Option<u64>,
}

impl Tail {
    async fn metadata(&self, sent: u64, more: Option<Vec<Value>>) -> Result<String, Status> {
        let mut m = Map::new();
        m.insert("resourceVersion".into(), Value::String(self.rv.clone()));
        if let Some(last) = more {
            if self.with_continue {
                let c = match self.offset {
                    Some(o) => Continue::Offset {
                        rv: Some(self.rv.clone()),
                        offset: o + sent,
                    },
                    None => Continue::After {
                        rv: self.rv.clone(),
                        key: last.clone(),
                    },
                };
                m.insert("continue".into(), Value::String(c.encode()));
            }
            if self.with_remaining {
                let rest = Filter::and([self.filter.clone(), key_after(DYNAMIC_KEY, &last)]);
                let n = self.svc.store.count(&self.ns, &rest).await?;
                m.insert("remainingItemCount".into(), json!(n));
            }
        }
        Ok(Value::Object(m).to_string())
    }
}

/// `head`, the items comma-separated, `],"metadata":{...}}`. The page is
/// read one item past the limit to know whether it was cut.
fn framed(
    head: String,
    items: crate::store::TextStream,
    tail: Tail,
) -> impl Stream<Item = Result<Bytes, Status>> + Send + 'static {
    struct St {
        head: Option<String>,
        items: Option<crate::store::TextStream>,
        tail: Tail,
        sent: u64,
        /// The key (JSON text) of the last item sent.
        last: Option<String>,
        more: bool,
        done: bool,
    }
    let st = St {
        head: Some(head),
        items: Some(items),
        tail,
        sent: 0,
        last: None,
        more: false,
        done: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        // Batch what is ready into one chunk (sized for it: growing a
        // string of 64 KiB by doubling copies it again and again), the
        // head with the first items and the tail with the last: each chunk
        // is a write, and a small one costs as much as a large one.
        let mut out = String::with_capacity(CHUNK + 16 * 1024);
        if let Some(h) = st.head.take() {
            out.push_str(&h);
        }
        let mut wrote = false;
        if let Some(items) = st.items.as_mut() {
            loop {
                let next = if !wrote {
                    items.next().await
                } else {
                    match futures::FutureExt::now_or_never(items.next()) {
                        Some(x) => x,
                        None => break,
                    }
                };
                match next {
                    None => {
                        st.items = None;
                        break;
                    }
                    Some(Err(e)) => {
                        st.done = true;
                        return Some((Err(Status::from(e)), st));
                    }
                    Some(Ok(text)) => {
                        if st.tail.limit.is_some_and(|l| st.sent >= l) {
                            st.more = true;
                            st.items = None;
                            break;
                        }
                        let (key, item) = split_item(&text);
                        match &mut st.last {
                            Some(l) => {
                                l.clear();
                                l.push_str(key);
                            }
                            None => st.last = Some(key.to_owned()),
                        }
                        if st.sent > 0 {
                            out.push(',');
                        }
                        out.push_str(item);
                        st.sent += 1;
                        wrote = true;
                        if out.len() > CHUNK {
                            break;
                        }
                    }
                }
            }
            if st.items.is_some() {
                return Some((Ok(Bytes::from(out)), st));
            }
        }
        st.done = true;
        let more = match (&st.more, &st.last) {
            (true, Some(k)) => serde_json::from_str(k).ok(),
            _ => None,
        };
        match st.tail.metadata(st.sent, more).await {
            Ok(meta) => {
                out.push_str("],\"metadata\":");
                out.push_str(&meta);
                out.push('}');
            }
            Err(e) => return Some((Err(e), st)),
        }
        Some((Ok(Bytes::from(out)), st))
    })
}

/// One object (`GET .../{name}`); in the all-clusters view the first
/// cluster's (in cluster order) unless `clusters` names one.
pub async fn get(
    svc: &Service,
    view: &View,
    res: Resource,
    namespace: Option<&str>,
    name: &str,
    raw: &RawParams,
    shape: Shape,
) -> Result<String, Status> {
    let search = Search::parse(raw)?;
    let ns = namespace_of(&res.kind);
    let mut parts = vec![scope_filter(view, &search, namespace)];
    if namespace.is_none() && res.namespaced {
        return Err(Status::no_resource());
    }
    if !res.namespaced {
        parts.push(Filter::Eq("namespace".into(), Value::Null));
    }
    parts.push(Filter::Eq(
        "resourceName".into(),
        Value::String(name.to_owned()),
    ));
    let rv = svc.store.revision(&ns).await?;
    let mut query = Query::new(Filter::and(parts));
    query.limit = Some(1);
    query.with_revision = true;
    let res = Arc::new(res);
    let (mut items, layout) = read_items(svc, view, &ns, &query, &res, &rv, shape).await?;
    let Some(text) = items.next().await.transpose()? else {
        return Err(Status::not_found(&res.group, &res.plural, name));
    };
    let (_, item) = split_item(&text);
    Ok(match (shape, layout) {
        (Shape::Table(_), Some(l)) => format!(
            "{}{item}],\"metadata\":{{\"resourceVersion\":{}}}}}",
            table_head(&l),
            Value::String(rv)
        ),
        _ => item.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let c = Continue::After {
            rv: "42".into(),
            key: vec![json!("c"), Value::Null, json!("Node"), json!("n1")],
        };
        assert_eq!(Continue::decode(&c.encode()).unwrap(), c);
        assert_eq!(
            Continue::decode("5").unwrap(),
            Continue::Offset {
                rv: None,
                offset: 5
            }
        );
        assert!(Continue::decode("!!").is_err());
        assert!(
            Continue::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("{\"after\":[1]}")
            )
            .is_err()
        );
    }
}
