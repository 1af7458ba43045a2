//! The change feed of the SQLite store. The writer announces the last
//! revision of every commit; one dispatcher thread reads the new rows of the
//! change log and broadcasts them, decoded once, to every watcher. A watcher
//! subscribes first, then replays the log after its resume point, then
//! follows the broadcast, skipping what the replay already gave: no gap, no
//! duplicate, commit order throughout.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::broadcast;

use super::writer::{CHANGE_ADD, CHANGE_DELETE};
use super::{Readers, internal};
use crate::store::{Change, ChangeFeed, ChangeKind, ChangeRecord, StoreError};

/// Rows read from the change log per statement.
const CHUNK: i64 = 256;
/// Least time between two progress items of a watcher whose collection
/// has no changes while others do.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What the dispatcher broadcasts.
#[derive(Clone)]
pub enum Logged {
    Change {
        rev: i64,
        ns: Arc<str>,
        record: Arc<ChangeRecord>,
    },
    /// The dispatcher found rows trimmed before it read them: every watcher
    /// has missed something and must end.
    Gap,
}

/// The last committed revision, set by the writer after each commit.
#[derive(Default)]
pub struct Committed {
    state: Mutex<(i64, bool)>,
    changed: Condvar,
}

impl Committed {
    pub fn new(rev: i64) -> Arc<Committed> {
        Arc::new(Committed {
            state: Mutex::new((rev, false)),
            changed: Condvar::new(),
        })
    }

    /// Called by the writer after a commit.
    pub fn set(&self, rev: i64) {
        if let Ok(mut s) = self.state.lock() {
            s.0 = rev;
        }
        self.changed.notify_all();
    }

    /// Called when the writer stops: the dispatcher ends.
    pub fn close(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.1 = true;
        }
        self.changed.notify_all();
    }

    pub fn get(&self) -> i64 {
        self.state.lock().map(|s| s.0).unwrap_or(0)
    }

    /// Waits until the revision passes `seen`; None once closed.
    fn wait_past(&self, seen: i64) -> Option<i64> {
        let mut s = self.state.lock().ok()?;
        loop {
            if s.1 {
                return None;
            }
            if s.0 != seen {
                return Some(s.0);
            }
            s = self.changed.wait(s).ok()?;
        }
    }
}

/// The oldest revision that may be missing from the log: changes with a
/// revision above it are all there.
pub fn log_floor(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT value FROM meta WHERE key = 'log_floor'", [], |r| {
        r.get(0)
    })
    .optional()
    .map(|v| v.unwrap_or(0))
}

fn kind_of(code: i64) -> ChangeKind {
    match code {
        CHANGE_ADD => ChangeKind::Add,
        CHANGE_DELETE => ChangeKind::Delete,
        _ => ChangeKind::Change,
    }
}

fn record(rev: i64, kind: i64, blob: &[u8]) -> Result<Arc<ChangeRecord>, StoreError> {
    // Only the text: watchers of the collection parse it, once, if needed.
    let text = super::jsonb::to_json(blob)
        .ok_or_else(|| StoreError::Internal("a logged document is not JSONB".into()))?;
    Ok(Arc::new(ChangeRecord::from_text(
        rev.to_string(),
        kind_of(kind),
        text,
    )))
}

/// Runs the dispatcher until the writer stops. Reads only while someone
/// listens; otherwise it just moves along.
pub fn dispatch(conn: Connection, committed: Arc<Committed>, tx: broadcast::Sender<Logged>) {
    let mut last = committed.get();
    while let Some(target) = committed.wait_past(last) {
        if tx.receiver_count() == 0 {
            last = target;
            continue;
        }
        while last < target {
            match read_after(&conn, None, last, target) {
                Ok((floor, rows)) => {
                    if floor > last {
                        let _ = tx.send(Logged::Gap);
                        last = floor;
                        continue;
                    }
                    if rows.is_empty() {
                        last = target;
                        break;
                    }
                    for (rev, ns, record) in rows {
                        last = rev;
                        let _ = tx.send(Logged::Change {
                            rev,
                            ns: ns.into(),
                            record,
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the change log failed; watchers end");
                    let _ = tx.send(Logged::Gap);
                    last = target;
                }
            }
        }
    }
}

type Rows = Vec<(i64, String, Arc<ChangeRecord>)>;

/// The log floor and up to [`CHUNK`] changes after `after` (of `ns` only when
/// given, up to `upto` when given), read in one snapshot.
fn read_after(
    conn: &Connection,
    ns: Option<&str>,
    after: i64,
    upto: i64,
) -> Result<(i64, Rows), StoreError> {
    conn.execute_batch("BEGIN").map_err(internal)?;
    let out = (|| {
        let floor = log_floor(conn).map_err(internal)?;
        let mut rows = Vec::new();
        let mut push = |r: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
            let rev: i64 = r.get(0)?;
            let ns: String = r.get(1)?;
            let kind: i64 = r.get(2)?;
            let blob: Vec<u8> = r.get(3)?;
            rows.push((rev, ns, kind, blob));
            Ok(())
        };
        match ns {
            Some(ns) => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rev, ns, kind, doc FROM changes \
                         WHERE ns = ?1 AND rev > ?2 AND rev <= ?3 ORDER BY rev LIMIT ?4",
                    )
                    .map_err(internal)?;
                let mut q = stmt
                    .query(params![ns, after, upto, CHUNK])
                    .map_err(internal)?;
                while let Some(r) = q.next().map_err(internal)? {
                    push(r).map_err(internal)?;
                }
            }
            None => {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rev, ns, kind, doc FROM changes \
                         WHERE rev > ?1 AND rev <= ?2 ORDER BY rev LIMIT ?3",
                    )
                    .map_err(internal)?;
                let mut q = stmt.query(params![after, upto, CHUNK]).map_err(internal)?;
                while let Some(r) = q.next().map_err(internal)? {
                    push(r).map_err(internal)?;
                }
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for (rev, ns, kind, blob) in rows {
            out.push((rev, ns, record(rev, kind, &blob)?));
        }
        Ok((floor, out))
    })();
    let _ = conn.execute_batch("COMMIT");
    out
}

/// Parses a revision this store handed out.
fn parse_since(since: &str) -> Result<i64, StoreError> {
    Some(since)
        .filter(|s| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            StoreError::InvalidFilter(format!(
                "resourceVersion {since:?} is not a revision of this store"
            ))
        })
}

enum Phase {
    Replay,
    Live,
    Done,
}

struct Watcher {
    ns: String,
    /// The last revision given to the watcher (or skipped for it).
    last: i64,
    /// Replay up to this revision before following the broadcast.
    replay_to: i64,
    rx: broadcast::Receiver<Logged>,
    readers: Arc<Readers>,
    phase: Phase,
    pending: std::collections::VecDeque<Result<Change, StoreError>>,
    progress_at: Instant,
}

/// The feed of `ns` after `since` (or from now).
pub async fn open(
    readers: Arc<Readers>,
    committed: Arc<Committed>,
    tx: &broadcast::Sender<Logged>,
    ns: String,
    since: Option<&str>,
) -> Result<ChangeFeed, StoreError> {
    // Subscribe before reading anything: whatever commits from here on is
    // in the broadcast, whatever committed before is in the log.
    let rx = tx.subscribe();
    let now = committed.get();
    let start = match since {
        None => now,
        Some(s) => {
            let since = parse_since(s)?;
            let floor = super::read_on(readers.clone(), |c| log_floor(c).map_err(internal)).await?;
            // Older than the log, or newer than this store (its data was
            // replaced): either way the client must list again.
            if since < floor || since > now {
                return Err(StoreError::Expired);
            }
            since
        }
    };
    let mut pending = std::collections::VecDeque::new();
    pending.push_back(Ok(Change::Progress(start.to_string())));
    let state = Watcher {
        ns,
        last: start,
        replay_to: now,
        rx,
        readers,
        phase: Phase::Replay,
        pending,
        progress_at: Instant::now(),
    };
    Ok(futures::stream::unfold(state, |mut w| async move {
        loop {
            if let Some(item) = w.pending.pop_front() {
                if item.is_err() {
                    w.phase = Phase::Done;
                }
                return Some((item, w));
            }
            match w.phase {
                Phase::Done => return None,
                Phase::Replay => w.replay().await,
                Phase::Live => w.follow().await,
            }
        }
    })
    .boxed())
}

impl Watcher {
    /// Reads the next chunk of the log; live once it is read up to where the
    /// broadcast takes over.
    async fn replay(&mut self) {
        if self.last >= self.replay_to {
            self.phase = Phase::Live;
            return;
        }
        let (ns, after, upto) = (self.ns.clone(), self.last, self.replay_to);
        let read = super::read_on(self.readers.clone(), move |c| {
            read_after(c, Some(&ns), after, upto)
        })
        .await;
        match read {
            Ok((floor, _)) if floor > after => self.pending.push_back(Err(StoreError::Expired)),
            Ok((_, rows)) if rows.is_empty() => {
                // Nothing of this collection up to there: what follows
                // comes from the broadcast.
                self.last = self.replay_to;
                self.phase = Phase::Live;
            }
            Ok((_, rows)) => {
                for (rev, _, record) in rows {
                    self.last = rev;
                    self.pending.push_back(Ok(Change::Event(record)));
                }
            }
            Err(e) => self.pending.push_back(Err(e)),
        }
    }

    async fn follow(&mut self) {
        match self.rx.recv().await {
            Ok(Logged::Change { rev, ns, record }) => {
                if rev <= self.last {
                    return;
                }
                self.last = rev;
                if *ns == *self.ns {
                    self.pending.push_back(Ok(Change::Event(record)));
                } else if self.progress_at.elapsed() >= PROGRESS_EVERY {
                    self.progress_at = Instant::now();
                    self.pending
                        .push_back(Ok(Change::Progress(rev.to_string())));
                }
            }
            Ok(Logged::Gap) => self.pending.push_back(Err(StoreError::Expired)),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::info!(
                    behind = n,
                    "a watcher fell too far behind and is ended (it may resume)"
                );
                self.pending.push_back(Err(StoreError::Expired));
            }
            Err(broadcast::error::RecvError::Closed) => self.phase = Phase::Done,
        }
    }
}
