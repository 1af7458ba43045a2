//! Streaming watch (contract section 8, reference E.2): the changes of one
//! collection as a stream of `{"type":T,"value":{...},"resourceVersion":R}`
//! frames, resumable from any revision the store still has.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde_json::Value;

use super::dynamic::{ResourcePath, collection_of};
use super::{DomainError, Service, view};
use crate::config::WatchSettings;
use crate::model::Namespace;
use crate::store::{Change, ChangeFeed, ChangeKind, ChangeRecord, StoreError};

/// The frame that ends every stream.
pub const BREAK: &str = "{\"type\":-1,\"value\":null}\n";

/// Event type codes of the wire format.
const ADD: i32 = 1;
const DELETE: i32 = 2;
const CHANGE: i32 = 3;
const BOOKMARK: i32 = 5;

/// What a watcher asks for (the body of the watch request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchOptions {
    /// End after this many events (0: no limit).
    pub max_events: u64,
    /// End after this long (none: no limit).
    pub timeout: Option<Duration>,
    /// Resume after this revision.
    pub resource_version: Option<String>,
    /// Send bookmarks.
    pub allow_bookmarks: bool,
}

impl WatchOptions {
    /// The options of a request body; None when the body is empty or not
    /// the expected JSON object (the running service then answers only the
    /// break event). `selfOnly` and `mustDiff` are accepted and have no
    /// effect.
    pub fn parse(body: &[u8]) -> Option<WatchOptions> {
        let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let mut o = WatchOptions::default();
        for (k, v) in &m {
            let understood = match (k.as_str(), v) {
                (_, Value::Null) => true,
                ("maxEvents", Value::Number(n)) => n.as_u64().map(|x| o.max_events = x).is_some(),
                ("timeout", Value::Number(n)) => n
                    .as_i64()
                    .map(|ns| o.timeout = (ns > 0).then(|| Duration::from_nanos(ns as u64)))
                    .is_some(),
                ("resourceVersion", Value::String(s)) => {
                    o.resource_version = (!s.is_empty()).then(|| s.clone());
                    true
                }
                ("allowBookmarks", Value::Bool(b)) => {
                    o.allow_bookmarks = *b;
                    true
                }
                ("selfOnly", Value::Bool(_)) | ("mustDiff", Value::String(_)) => true,
                ("maxEvents" | "timeout" | "resourceVersion" | "allowBookmarks", _) => false,
                ("selfOnly" | "mustDiff", _) => false,
                _ => true,
            };
            if !understood {
                return None;
            }
        }
        Some(o)
    }
}

/// What a watch route follows: one collection, and the top-level fields its
/// documents must have.
#[derive(Debug, Clone)]
pub struct Target {
    ns: Namespace,
    equal: Vec<(&'static str, String)>,
    /// The route followed (the metrics' `handler` label).
    handler: &'static str,
}

impl Target {
    /// `/dynamic/watch/{clusterId}/{resourceType}`; `process` and
    /// `application` share a collection and are told apart.
    pub fn dynamic(cluster_id: &str, resource_type: &str) -> Result<Target, DomainError> {
        let path = ResourcePath {
            cluster_id: cluster_id.to_owned(),
            namespace: None,
            resource_type: resource_type.to_owned(),
            resource_name: None,
        };
        path.validate()?;
        let mut equal = vec![("clusterId", cluster_id.to_owned())];
        if collection_of(resource_type) != resource_type || resource_type == "application" {
            equal.push(("resourceType", resource_type.to_owned()));
        }
        Ok(Target {
            ns: path.namespace(),
            equal,
            handler: "/dynamic/watch/{clusterId}/{resourceType}",
        })
    }

    /// `/dynamic/watch/containers/{clusterId}`: collection `ContainerInfo`.
    pub fn containers(cluster_id: &str) -> Result<Target, DomainError> {
        let mut t = Self::dynamic(cluster_id, "ContainerInfo")?;
        t.handler = "/dynamic/watch/containers/{clusterId}";
        Ok(t)
    }

    /// `/events/watch?clusterId=`: the cluster's event collection.
    pub fn events(cluster_id: Option<&str>) -> Result<Target, DomainError> {
        let cluster_id = cluster_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| DomainError::param("clusterId", "is required"))?;
        super::dynamic::check_segment("clusterId", cluster_id)?;
        Ok(Target {
            ns: super::events::namespace_of(cluster_id),
            equal: Vec::new(),
            handler: "/events/watch",
        })
    }

    /// `/metric/watch/{clusterId}/{type}`: the cluster's metrics of a type.
    pub fn metric(cluster_id: &str, metric_type: &str) -> Result<Target, DomainError> {
        super::dynamic::check_segment("type", metric_type)?;
        Ok(Target {
            ns: super::metric::namespace_of(cluster_id)?,
            equal: vec![("type", metric_type.to_owned())],
            handler: "/metric/watch/{clusterId}/{type}",
        })
    }

    fn wants(&self, record: &ChangeRecord) -> bool {
        // A delete whose document was purged before it was read (MongoDB)
        // carries only `_id`: it cannot be told apart, so it is sent.
        if record.kind == ChangeKind::Delete
            && self
                .equal
                .iter()
                .all(|(k, _)| !record.doc().contains_key(*k))
        {
            return true;
        }
        self.equal
            .iter()
            .all(|(k, v)| record.doc().get(*k).and_then(Value::as_str) == Some(v.as_str()))
    }

    /// The collection followed.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }
}

/// Open watches, shutdown, settings: shared by every request.
pub struct WatchHub {
    active: AtomicUsize,
    /// The service is shutting down: not ready for new traffic.
    draining: std::sync::atomic::AtomicBool,
    shutdown: tokio::sync::watch::Sender<bool>,
    pub settings: WatchSettings,
}

impl WatchHub {
    pub fn new(settings: WatchSettings) -> Arc<WatchHub> {
        Arc::new(WatchHub {
            active: AtomicUsize::new(0),
            draining: std::sync::atomic::AtomicBool::new(false),
            shutdown: tokio::sync::watch::Sender::new(false),
            settings,
        })
    }

    /// Streams open now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Turns true when the service shuts down.
    pub(crate) fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        let mut rx = self.shutdown.subscribe();
        rx.mark_unchanged();
        rx
    }

    /// Marks the service as shutting down (`/readyz` answers 503); requests
    /// are still served.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether the service is shutting down.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Ends every open stream (with the break event) and every later one.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }
}

/// Counts a stream as open while it lives (in the hub, and in
/// `bkbcs_storage_watch_request_total_num{handler,table}`).
pub(crate) struct Active(Arc<WatchHub>, prometheus::IntGauge);

impl Active {
    /// A new open stream of `handler` (the kind of watch) on `table`, unless
    /// `watch.max_open` streams are open already.
    pub(crate) fn open(
        hub: &Arc<WatchHub>,
        handler: &str,
        table: &str,
    ) -> Result<Active, DomainError> {
        let max = hub.settings.max_open;
        if hub.active.fetch_add(1, Ordering::SeqCst) >= max {
            hub.active.fetch_sub(1, Ordering::SeqCst);
            return Err(DomainError::Overloaded(format!(
                "{max} watch streams are open, as many as watch.max_open allows; retry later"
            )));
        }
        let gauge = crate::metrics::global()
            .watches
            .with_label_values(&[handler, table]);
        gauge.inc();
        Ok(Active(hub.clone(), gauge))
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.1.dec();
    }
}

/// Why a watch cannot start.
pub fn start_error(e: StoreError) -> DomainError {
    match e {
        StoreError::InvalidFilter(why) => DomainError::param("resourceVersion", why),
        other => DomainError::Store(other),
    }
}

/// Opens the stream of frames. Fails before any frame when the resume point
/// is gone ([`StoreError::Expired`]) or invalid.
pub async fn open(
    svc: &Service,
    target: Target,
    opts: WatchOptions,
) -> Result<BoxStream<'static, Bytes>, DomainError> {
    let hub = svc.watch.clone();
    let active = Active::open(&hub, target.handler, &target.ns.collection)?;
    let feed = svc
        .store
        .changes(&target.ns, opts.resource_version.as_deref())
        .await
        .map_err(start_error)?;
    let mut shutdown = hub.shutdown.subscribe();
    let deadline: Option<Pin<Box<tokio::time::Sleep>>> =
        opts.timeout.map(|t| Box::pin(tokio::time::sleep(t)));
    let bookmarks = opts.allow_bookmarks.then(|| {
        let every = Duration::from_millis(hub.settings.bookmark_interval_ms);
        tokio::time::interval_at(tokio::time::Instant::now() + every, every)
    });
    shutdown.mark_unchanged();
    let every = Duration::from_millis(hub.settings.heartbeat_ms);
    let heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let state = State {
        heartbeat,
        feed,
        target,
        deadline,
        bookmarks,
        shutdown,
        max_events: opts.max_events,
        sent: 0,
        at: None,
        first_bookmark: opts.allow_bookmarks,
        ending: false,
        done: false,
        _active: active,
    };
    Ok(frames(state).boxed())
}

struct State {
    /// Ticks on a silent stream (reset by every frame).
    heartbeat: tokio::time::Interval,
    feed: ChangeFeed,
    target: Target,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    bookmarks: Option<tokio::time::Interval>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    max_events: u64,
    sent: u64,
    /// The newest revision seen (a bookmark names it).
    at: Option<String>,
    /// Bookmarks were asked for: the first frame names where the stream
    /// starts, so the client can resume even if nothing else comes.
    first_bookmark: bool,
    /// The next frame is the break.
    ending: bool,
    done: bool,
    _active: Active,
}

/// The break-only reply of an invalid request body.
pub fn break_only() -> impl Stream<Item = Bytes> + Send + 'static {
    futures::stream::once(async { Bytes::from_static(BREAK.as_bytes()) })
}

fn frames(state: State) -> impl Stream<Item = Bytes> + Send + 'static {
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            if st.ending || *st.shutdown.borrow() {
                st.done = true;
                return Some((Bytes::from_static(BREAK.as_bytes()), st));
            }
            let deadline = async {
                match st.deadline.as_mut() {
                    Some(d) => d.await,
                    None => std::future::pending().await,
                }
            };
            let bookmark = async {
                match st.bookmarks.as_mut() {
                    Some(b) => {
                        b.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = st.shutdown.changed() => {
                    st.ending = true;
                }
                () = deadline => {
                    st.ending = true;
                }
                item = st.feed.next() => match item {
                    None => st.ending = true,
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "a watch ends with a break");
                        st.ending = true;
                    }
                    Some(Ok(Change::Progress(rev))) => {
                        if std::mem::take(&mut st.first_bookmark) {
                            let frame = bookmark_frame(&rev);
                            st.at = Some(rev);
                            return Some((frame, st));
                        }
                        st.at = Some(rev);
                    }
                    Some(Ok(Change::Event(record))) => {
                        st.at = Some(record.revision.clone());
                        if !st.target.wants(&record) {
                            continue;
                        }
                        let frame = event_frame(&record);
                        st.heartbeat.reset();
                        st.sent += 1;
                        if st.max_events > 0 && st.sent >= st.max_events {
                            st.ending = true;
                        }
                        return Some((frame, st));
                    }
                },
                () = bookmark => {
                    if let Some(rev) = &st.at {
                        let frame = bookmark_frame(rev);
                        st.heartbeat.reset();
                        return Some((frame, st));
                    }
                }
                _ = st.heartbeat.tick() => {
                    return Some((Bytes::from_static(b"\n"), st));
                }
            }
        }
    })
}

fn event_frame(record: &ChangeRecord) -> Bytes {
    let code = match record.kind {
        ChangeKind::Add => ADD,
        ChangeKind::Delete => DELETE,
        ChangeKind::Change => CHANGE,
    };
    let value = record
        .rendered
        .get_or_init(|| view::render_text(record.text()).unwrap_or_else(|_| "null".into()));
    let rev = Value::String(record.revision.clone());
    Bytes::from(format!(
        "{{\"type\":{code},\"value\":{value},\"resourceVersion\":{rev}}}\n"
    ))
}

fn bookmark_frame(rev: &str) -> Bytes {
    let rev = Value::String(rev.to_owned());
    Bytes::from(format!(
        "{{\"type\":{BOOKMARK},\"value\":{{\"resourceVersion\":{rev}}},\"resourceVersion\":{rev}}}\n"
    ))
}
