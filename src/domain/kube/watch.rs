//! Kubernetes watch: the change feed of the bcs watch routes framed as
//! `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}` lines,
//! selectors applied to each event, from the revision given (unset or `0`:
//! the current state first, as synthetic `ADDED` events).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use super::Status;
use super::discovery::namespace_of;
use super::object::{object_of, parse_stored};
use super::resources::Resource;
use crate::domain::Service;
use crate::domain::watch::Active;
use crate::model::{Filter, Query};
use crate::store::{Change, ChangeFeed, ChangeKind, StoreError, TextStream};

/// What a watch asks for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// Everything an event's document must match (view, path, selectors).
    pub filter: Filter,
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
    let active = Active::new(&hub);
    let res = Arc::new(res);
    let from = req
        .resource_version
        .clone()
        .filter(|rv| !rv.is_empty() && rv != "0");
    let initial = from.is_none() || req.send_initial;
    let (initial_items, since) = if initial {
        let rv = match &from {
            Some(rv) => rv.clone(),
            None => svc.store.revision(&ns).await?,
        };
        let mut q = Query::new(req.filter.clone());
        q.with_revision = true;
        let res2 = res.clone();
        let rv2 = rv.clone();
        let items = svc
            .store
            .find_text(
                &ns,
                &q,
                Arc::new(move |text: &str| {
                    let obj = object_of(parse_stored(text)?, &res2, &rv2).object;
                    Ok(frame("ADDED", &Value::Object(obj)))
                }),
            )
            .await?;
        (Some(items), rv)
    } else {
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
        initial: initial_items,
        initial_end: req.send_initial && req.bookmarks,
        feed,
        res,
        filter: req.filter,
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
    filter: Filter,
    /// The newest revision seen.
    at: String,
    bookmarks: Option<tokio::time::Interval>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    done: bool,
    _active: Active,
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
                        if !st.filter.matches(&Value::Object(doc.clone())) {
                            continue;
                        }
                        let kind = match record.kind {
                            ChangeKind::Add => "ADDED",
                            ChangeKind::Change => "MODIFIED",
                            ChangeKind::Delete => "DELETED",
                        };
                        let obj = object_of(doc.clone(), &st.res, &record.revision).object;
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
