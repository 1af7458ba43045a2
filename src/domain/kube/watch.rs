//! Kubernetes watch: the change feed of the bcs watch routes framed as
//! `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}` lines,
//! selectors applied to each event, from the revision given (unset or `0`:
//! the current state first, as synthetic `ADDED` events).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use serde_json::{Value, json};

use super::Status;
use super::discovery::namespace_of;
use super::object::{ReadAt, object_of, parse_stored};
use super::resources::Resource;
use crate::domain::Service;
use crate::domain::dynamic::DYNAMIC_KEY;
use crate::domain::watch::Active;
use crate::model::REVISION_FIELD;
use crate::model::{Filter, Projection, Query};
use crate::store::{Change, ChangeFeed, ChangeKind, StoreError, TextStream};

/// What a watch asks for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// What the view and path select (clusters, namespace, name).
    pub scope: Filter,
    /// What the selectors (label, field, search parameters) select within
    /// it; `Filter::all()` when none is given.
    pub selector: Filter,
    pub resource_version: Option<String>,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    /// `sendInitialEvents=true`: the current state first, then a bookmark
    /// marking its end.
    pub send_initial: bool,
}

/// Default lifetime of a watch without `timeoutSeconds` (the API server's
/// `--min-request-timeout`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Opens the stream of watch events; fails before any event when the
/// revision is malformed. A revision that is gone gives a stream of one
/// `ERROR` event with a 410 `Status`, as the API server answers.
pub async fn open(
    svc: &Service,
    res: Resource,
    req: WatchRequest,
) -> Result<BoxStream<'static, Bytes>, Status> {
    let ns = namespace_of(&res.kind);
    let hub = svc.watch.clone();
    let active = Active::open(&hub, "kubernetes watch", &ns.collection)?;
    let res = Arc::new(res);
    let versions = svc.store.versions();
    // An object's resourceVersion names the point to watch from.
    let from = req
        .resource_version
        .as_deref()
        .map(|rv| versions.split(rv).0.to_owned())
        .filter(|rv| !rv.is_empty() && rv != "0");
    let initial = from.is_none() || req.send_initial;
    let filter = Filter::and([req.scope.clone(), req.selector.clone()]);
    // With a selector, the objects it selects are followed, so that one
    // that stops matching is reported DELETED and one that starts matching
    // ADDED, as the API server does.
    let selected = (req.selector != Filter::all()).then(|| Arc::new(Mutex::new(HashSet::new())));
    let (initial_items, since) = if initial {
        let rv = match &from {
            Some(rv) => rv.clone(),
            None => svc.store.revision(&ns).await?,
        };
        let mut q = Query::new(filter.clone());
        q.with_revision = true;
        let res2 = res.clone();
        let rv2 = rv.clone();
        let seen = selected.clone();
        let items = svc
            .store
            .find_text(
                &ns,
                &q,
                Arc::new(move |text: &str| {
                    let stored = object_of(parse_stored(text)?, &res2, ReadAt::new(&rv2, versions));
                    if let Some(s) = &seen
                        && let Ok(mut s) = s.lock()
                    {
                        s.insert(key_text(&stored.key));
                    }
                    Ok(frame("ADDED", &Value::Object(stored.object)))
                }),
            )
            .await?;
        (Some(items), rv)
    } else {
        if let Some(s) = &selected {
            // What the selector selects now: the client listed it.
            let q = Query {
                projection: Some(Projection::new(DYNAMIC_KEY.iter().copied())),
                ..Query::new(filter.clone())
            };
            let docs: Vec<_> = svc.store.find(&ns, &q).await?.try_collect().await?;
            if let Ok(mut s) = s.lock() {
                for d in docs {
                    s.insert(key_text(&doc_key(&d)));
                }
            }
        }
        (None, from.unwrap_or_default())
    };
    let feed = match svc.store.changes(&ns, Some(&since)).await {
        Ok(f) => f,
        Err(StoreError::Expired) => {
            let status = Status::expired(format!(
                "too old resource version: {since}: the changes after it are no longer kept"
            ));
            return Ok(futures::stream::once(async move {
                Bytes::from(frame("ERROR", &status.to_json()))
            })
            .boxed());
        }
        Err(StoreError::InvalidFilter(why)) => {
            return Err(Status::bad_request(format!("resourceVersion: {why}")));
        }
        Err(e) => return Err(e.into()),
    };
    let every = Duration::from_millis(hub.settings.bookmark_interval_ms);
    let st = State {
        versions,
        initial: initial_items,
        initial_end: req.send_initial && req.bookmarks,
        feed,
        res,
        scope: req.scope,
        selector: req.selector,
        selected,
        exact: initial,
        at: since,
        bookmarks: req
            .bookmarks
            .then(|| tokio::time::interval_at(tokio::time::Instant::now() + every, every)),
        deadline: Box::pin(tokio::time::sleep(req.timeout.unwrap_or(DEFAULT_TIMEOUT))),
        shutdown: hub.shutdown_signal(),
        done: false,
        _active: active,
    };
    Ok(events(st).boxed())
}

struct State {
    initial: Option<TextStream>,
    initial_end: bool,
    feed: ChangeFeed,
    res: Arc<Resource>,
    scope: Filter,
    selector: Filter,
    /// Keys of the objects the selector selects (with a selector only).
    selected: Option<Arc<Mutex<HashSet<String>>>>,
    /// `selected` was read with the initial state (not at a later time
    /// than the revision the watch resumes from).
    exact: bool,
    /// The newest revision seen.
    at: String,
    versions: crate::store::Versions,
    bookmarks: Option<tokio::time::Interval>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    done: bool,
    _active: Active,
}

/// The natural key of a document (missing = null).
fn doc_key(doc: &crate::model::Document) -> Vec<Value> {
    DYNAMIC_KEY
        .iter()
        .map(|k| doc.get(*k).cloned().unwrap_or(Value::Null))
        .collect()
}

fn key_text(key: &[Value]) -> String {
    Value::Array(key.to_vec()).to_string()
}

fn frame(kind: &str, object: &Value) -> String {
    format!("{{\"type\":\"{kind}\",\"object\":{object}}}\n")
}

fn bookmark(res: &Resource, rv: &str, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta});
    Bytes::from(frame("BOOKMARK", &obj))
}

fn events(st: State) -> impl Stream<Item = Bytes> + Send + 'static {
    futures::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(items) = st.initial.as_mut() {
            match items.next().await {
                Some(Ok(line)) => return Some((Bytes::from(line), st)),
                Some(Err(e)) => {
                    st.done = true;
                    let status = Status::from(e);
                    return Some((Bytes::from(frame("ERROR", &status.to_json())), st));
                }
                None => {
                    st.initial = None;
                    if std::mem::take(&mut st.initial_end) {
                        let b = bookmark(&st.res, &st.at, true);
                        return Some((b, st));
                    }
                }
            }
        }
        loop {
            let tick = async {
                match st.bookmarks.as_mut() {
                    Some(b) => {
                        b.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = st.shutdown.changed() => return None,
                () = &mut st.deadline => return None,
                item = st.feed.next() => match item {
                    None => return None,
                    Some(Err(StoreError::Expired)) => {
                        st.done = true;
                        let status = Status::expired("too old resource version: the watch fell behind the kept history");
                        return Some((Bytes::from(frame("ERROR", &status.to_json())), st));
                    }
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "a kubernetes watch ends");
                        return None;
                    }
                    Some(Ok(Change::Progress(rev))) => st.at = rev,
                    Some(Ok(Change::Event(record))) => {
                        st.at = record.revision.clone();
                        let doc = record.doc();
                        let value = Value::Object(doc.clone());
                        if !st.scope.matches(&value) {
                            continue;
                        }
                        let matches = st.selector.matches(&value);
                        let kind = match (&st.selected, record.kind) {
                            (None, ChangeKind::Add) => "ADDED",
                            (None, ChangeKind::Change) => "MODIFIED",
                            (None, ChangeKind::Delete) => "DELETED",
                            (Some(sel), kind) => {
                                let key = key_text(&doc_key(doc));
                                let Ok(mut sel) = sel.lock() else { continue };
                                let was = if kind == ChangeKind::Delete || !matches {
                                    sel.remove(&key)
                                } else {
                                    !sel.insert(key)
                                };
                                match (kind, was, matches) {
                                    (ChangeKind::Delete, true, _) | (ChangeKind::Delete, _, true) => {
                                        "DELETED"
                                    }
                                    (ChangeKind::Delete, false, false) => continue,
                                    (ChangeKind::Add, _, true) => "ADDED",
                                    (_, true, true) => "MODIFIED",
                                    // Entered the selection; resumed from a
                                    // revision, the selection then is not
                                    // known (informers take an unknown
                                    // object's MODIFIED as an add).
                                    (_, false, true) if st.exact => "ADDED",
                                    (_, false, true) => "MODIFIED",
                                    // Left the selection.
                                    (_, true, false) => "DELETED",
                                    (_, false, false) => continue,
                                }
                            }
                        };
                        let mut doc = doc.clone();
                        if let Some(v) = &record.version {
                            doc.insert(REVISION_FIELD.into(), Value::String(v.clone()));
                        }
                        let at = ReadAt::new(&record.revision, st.versions);
                        let obj = object_of(doc, &st.res, at).object;
                        return Some((Bytes::from(frame(kind, &Value::Object(obj))), st));
                    }
                },
                () = tick => {
                    let b = bookmark(&st.res, &st.at, false);
                    return Some((b, st));
                }
            }
        }
    })
}
