//! The embedded default store: one SQLite file in WAL mode, documents as
//! JSONB in append order with a unique (namespace, natural key) index, one group-commit
//! writer thread and a pool of read connections used off the async workers.

mod feed;
mod jsonb;
mod sql;
mod writer;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, params_from_iter};
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::config::{SqliteSettings, Synchronous};
use crate::model::{Database, Document, Filter, Namespace, Projection, Query, WriteOutcome};
use crate::store::{
    DocStream, FieldGuard, IndexSpec, Store, StoreError, TextMap, TextStream, doc_text,
};

pub use sql::KEY_SEP;
use writer::{CustomOp, CustomOutcome, WriteOp, WriterConfig};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "bcs-storage.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    rev INTEGER NOT NULL,
    created_rev INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS docs_key ON docs (ns, key);
CREATE TABLE IF NOT EXISTS changes (
    rev INTEGER PRIMARY KEY,
    ns TEXT NOT NULL,
    kind INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS collections (ns TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indexed_paths (ns TEXT, path TEXT, PRIMARY KEY (ns, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS custom_indexes (ns TEXT, name TEXT, fields TEXT NOT NULL, sql_name TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (ns, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS array_paths (ns TEXT, path TEXT, PRIMARY KEY (ns, path)) WITHOUT ROWID;
";

/// Paths with a secondary index, per namespace, and those on which some
/// document ever had an array (there a condition also needs the evaluator).
/// Loaded at open, kept by the writer (flags are set before the write that
/// needs them commits).
#[derive(Debug, Default)]
pub(crate) struct IndexState {
    indexed: HashMap<String, HashSet<String>>,
    arrays: HashSet<(String, String)>,
    /// Per namespace: indexed paths that never held an array (derived from
    /// the two sets above, shared with every query without a copy).
    scalar: HashMap<String, Arc<HashSet<String>>>,
}

impl IndexState {
    fn load(conn: &Connection) -> rusqlite::Result<IndexState> {
        let mut state = IndexState::default();
        let mut stmt = conn.prepare("SELECT ns, path FROM indexed_paths")?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (ns, path) = r?;
            state.indexed.entry(ns).or_default().insert(path);
        }
        let mut stmt = conn.prepare("SELECT ns, path FROM array_paths")?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            state.arrays.insert(r?);
        }
        let names: Vec<String> = state.indexed.keys().cloned().collect();
        for ns in names {
            state.refresh(&ns);
        }
        Ok(state)
    }

    fn refresh(&mut self, ns: &str) {
        let set: HashSet<String> = self
            .indexed
            .get(ns)
            .map(|paths| {
                paths
                    .iter()
                    .filter(|p| !self.arrays.contains(&(ns.to_owned(), (*p).clone())))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.scalar.insert(ns.to_owned(), Arc::new(set));
    }

    /// A path of `ns` now has an index.
    pub(crate) fn add_indexed(&mut self, ns: &str, path: &str) {
        self.indexed
            .entry(ns.to_owned())
            .or_default()
            .insert(path.to_owned());
        self.refresh(ns);
    }

    /// A document of `ns` has an array on `path`.
    pub(crate) fn flag_array(&mut self, ns: &str, path: &str) {
        self.arrays.insert((ns.to_owned(), path.to_owned()));
        self.refresh(ns);
    }

    /// Indexed paths of `ns` that never held an array.
    fn scalar(&self, ns: &str) -> Arc<HashSet<String>> {
        self.scalar.get(ns).cloned().unwrap_or_default()
    }

    /// Indexed paths of `ns` on which `doc` has an array and that are not
    /// flagged yet.
    fn new_arrays(&self, ns: &str, doc: &Document) -> Vec<String> {
        match self.scalar.get(ns) {
            None => Vec::new(),
            Some(paths) => paths
                .iter()
                .filter(|p| array_on_path(doc, p))
                .cloned()
                .collect(),
        }
    }
}

/// Whether some value along `path` (the last one included) is an array.
fn array_on_path(doc: &Document, path: &str) -> bool {
    let mut comps = path.split('.');
    let mut v = match comps.next().and_then(|c| doc.get(c)) {
        Some(v) => v,
        None => return false,
    };
    loop {
        match v {
            Value::Array(_) => return true,
            Value::Object(m) => match comps.next() {
                Some(c) => match m.get(c) {
                    Some(x) => v = x,
                    None => return false,
                },
                None => return false,
            },
            _ => return false,
        }
    }
}

/// The embedded store.
pub struct SqliteStore {
    writes: Mutex<Option<mpsc::Sender<WriteOp>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Readers>,
    indexes: Arc<RwLock<IndexState>>,
    /// The last committed revision, and the broadcast of the change feed.
    committed: Arc<feed::Committed>,
    changes: tokio::sync::broadcast::Sender<feed::Logged>,
    /// Secondary indexes known to exist (namespace and statement), so that
    /// repeated [`Store::ensure_index`] calls cost no write.
    ensured: Mutex<HashSet<(String, String)>>,
}

/// How long a list stream waits for a client that stopped reading before it
/// gives up (the response is then cut, never silently truncated).
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Rows handed from the reading thread to the response per message.
const ROWS_PER_CHUNK: usize = 128;

/// Read connections. Statements that may scan run on the blocking pool, at
/// most `permits` at a time; a stream whose client stops reading gives its
/// permit back while it waits, so slow clients never starve other readers
/// (connections are opened on demand and at most `max_idle` are kept).
/// Point reads by natural key run on the calling thread with a connection of
/// that thread: at most one row is examined, and the hand-off to the blocking
/// pool would cost more than the read.
struct Readers {
    id: u64,
    file: PathBuf,
    settings: SqliteSettings,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    permits: Arc<Semaphore>,
    /// Dropped at close: thread-local connections of a closed store are
    /// released the next time their thread reads.
    alive: Mutex<Option<Arc<()>>>,
}

thread_local! {
    static LOCAL_READERS: RefCell<Vec<(u64, Weak<()>, Connection)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

impl Readers {
    fn open(&self) -> Result<Connection, StoreError> {
        open_connection(&self.file, &self.settings, true).map_err(internal)
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let cached = self.idle.lock().ok().and_then(|mut v| v.pop());
        match cached {
            Some(c) => Ok(c),
            None => self.open(),
        }
    }

    fn give(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
    }

    /// Runs `f` on this thread's connection to the store.
    fn on_this_thread<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let alive = self
            .alive
            .lock()
            .ok()
            .and_then(|a| a.as_ref().map(Arc::downgrade))
            .ok_or_else(|| StoreError::Unavailable("store is shutting down".into()))?;
        LOCAL_READERS.with(|cell| {
            let mut conns = cell.borrow_mut();
            conns.retain(|(_, store, _)| store.strong_count() > 0);
            let idx = match conns.iter().position(|(id, _, _)| *id == self.id) {
                Some(i) => i,
                None => {
                    conns.push((self.id, alive, self.open()?));
                    conns.len() - 1
                }
            };
            f(&conns[idx].2)
        })
    }
}

fn internal(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::ReadOnly
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// Registers `bcs_match(doc_text, filter_json)`: the reference evaluator as a
/// SQL function, for rows whose path crosses an array.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "bcs_match",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let filter: Arc<Filter> = ctx.get_or_create_aux(1, |v| {
                let text = v
                    .as_str()
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
                serde_json::from_str::<Filter>(text)
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
            })?;
            let doc_text: String = ctx.get(0)?;
            let doc: Value = serde_json::from_str(&doc_text)
                .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
            Ok(filter.matches(&doc))
        },
    )
}

fn open_connection(
    path: &Path,
    settings: &SqliteSettings,
    read_only: bool,
) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if !read_only {
        // Order matters: the page size only takes effect on a new file,
        // before WAL is enabled and before the first table exists.
        conn.execute_batch("PRAGMA page_size = 16384")?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        let sync = match settings.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous = {sync}"))?;
        conn.execute_batch(SCHEMA)?;
    }
    conn.query_row(
        &format!("PRAGMA mmap_size = {}", settings.mmap_size),
        [],
        |_| Ok(()),
    )
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(()),
        other => Err(other),
    })?;
    // Statement journals (one per upsert, the writer's transactions hold
    // many) and the sorts of the query routes stay in memory.
    conn.execute_batch("PRAGMA temp_store = MEMORY")?;
    conn.set_prepared_statement_cache_capacity(256);
    register_functions(&conn)?;
    Ok(conn)
}

/// Runs `f` on a read connection of `readers` on the blocking thread pool.
async fn read_on<T, F>(readers: Arc<Readers>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let permit = readers
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| StoreError::Unavailable("store closed".into()))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let conn = readers.take()?;
        let out = f(&conn);
        readers.give(conn);
        out
    })
    .await
    .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `settings.path`.
    pub fn open(
        settings: &SqliteSettings,
        watch: &crate::config::WatchSettings,
    ) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(&settings.path).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                settings.path.display()
            ))
        })?;
        let file = settings.path.join(DB_FILE);
        let writer_conn = open_connection(&file, settings, false)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", file.display())))?;
        let indexes = Arc::new(RwLock::new(
            IndexState::load(&writer_conn).map_err(internal)?,
        ));
        let mut idle = Vec::with_capacity(settings.read_connections);
        for _ in 0..settings.read_connections {
            idle.push(open_connection(&file, settings, true).map_err(internal)?);
        }
        let readers = Arc::new(Readers {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            file: file.clone(),
            settings: settings.clone(),
            idle: Mutex::new(idle),
            max_idle: settings.read_connections,
            permits: Arc::new(Semaphore::new(settings.read_connections)),
            alive: Mutex::new(Some(Arc::new(()))),
        });
        let committed =
            feed::Committed::new(writer::current_revision(&writer_conn).map_err(internal)?);
        let (changes, _) = tokio::sync::broadcast::channel(watch.buffer_changes.max(1));
        {
            let conn = open_connection(&file, settings, true).map_err(internal)?;
            let (committed, changes) = (committed.clone(), changes.clone());
            std::thread::Builder::new()
                .name("sqlite-feed".into())
                .spawn(move || feed::dispatch(conn, committed, changes))
                .map_err(|e| {
                    StoreError::Internal(format!("cannot start the change feed thread: {e}"))
                })?;
        }
        let (tx, rx) = mpsc::channel(settings.max_batch * 4);
        let cfg = WriterConfig {
            max_batch: settings.max_batch,
            change_log_retain: settings.change_log_retain,
            indexes: indexes.clone(),
            committed: committed.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::run(writer_conn, rx, cfg))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            writes: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(handle)),
            readers,
            indexes,
            committed,
            changes,
            ensured: Mutex::new(HashSet::new()),
        })
    }

    fn ns_name(ns: &Namespace) -> String {
        format!("{}/{}", ns.database.as_str(), ns.collection)
    }

    /// Queues a write and waits for its answer (sent after the commit).
    async fn request<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(op(reply)).await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    /// Runs a write of a collection without natural key.
    /// An upsert (`merge` None) or a merge of these JSON paths, by the
    /// document's natural key.
    async fn write_keyed(
        &self,
        ns: &Namespace,
        doc: Document,
        merge: Option<Vec<String>>,
        expect: Option<writer::Precondition>,
    ) -> Result<WriteOutcome, StoreError> {
        if ns.key_fields.is_empty() {
            return Err(StoreError::Internal(format!(
                "{} has no natural key",
                ns.collection
            )));
        }
        let key = sql::key_of(ns, &doc);
        let doc_json = doc_text(&doc)?;
        let name = Self::ns_name(ns);
        let array_paths = self
            .indexes
            .read()
            .map(|s| s.new_arrays(&name, &doc))
            .unwrap_or_default();
        self.request(|reply| WriteOp::Upsert {
            ns: name,
            key,
            doc_json,
            array_paths,
            merge,
            expect,
            reply,
        })
        .await
    }

    async fn custom(&self, ns: &Namespace, op: CustomOp) -> Result<CustomOutcome, StoreError> {
        self.request(|reply| WriteOp::Custom {
            ns: Self::ns_name(ns),
            op,
            reply,
        })
        .await
    }

    /// The SQL condition for `filter` on `ns`.
    fn condition(&self, ns: &Namespace, filter: &Filter) -> sql::SqlFilter {
        self.condition_after(ns, filter, None)
    }

    /// [`Self::condition`] with a keyset position.
    fn condition_after(
        &self,
        ns: &Namespace,
        filter: &Filter,
        after: Option<&[Value]>,
    ) -> sql::SqlFilter {
        let name = Self::ns_name(ns);
        let scalar = self
            .indexes
            .read()
            .map(|s| s.scalar(&name))
            .unwrap_or_default();
        sql::where_clause(ns, &name, filter, scalar, after)
    }

    async fn submit(&self, op: WriteOp) -> Result<(), StoreError> {
        let tx = self
            .writes
            .lock()
            .map_err(|_| StoreError::Internal("writer lock poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Unavailable("store is shutting down".into()))?;
        tx.send(op)
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))
    }

    /// A turn to run a statement on the blocking pool.
    async fn read_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreError> {
        self.readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))
    }

    /// Runs `f` on a read connection on the blocking thread pool.
    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        read_on(self.readers.clone(), f).await
    }
    /// The statement of a query and its condition.
    fn select(&self, ns: &Namespace, query: &Query) -> (String, sql::SqlFilter) {
        let cond = self.condition_after(ns, &query.filter, query.after.as_deref());
        let limit = query
            .limit
            .map(|l| l.min(i64::MAX as u64) as i64)
            .unwrap_or(-1);
        let order = sql::order_by(&query.sort);
        let page = format!(
            "{order} LIMIT {limit} OFFSET {}",
            query.skip.min(i64::MAX as u64)
        );
        // With a secondary index the matches are sorted by key from the
        // index alone and the page cut before any document is read (a sort
        // of whole rows would convert every match); other reads come in key
        // order and read each row once.
        let sql = if !cond.indexed {
            format!("SELECT doc, rev FROM docs WHERE {} {page}", cond.sql)
        } else {
            format!(
                "SELECT doc, rev FROM docs WHERE id IN (SELECT id FROM docs WHERE {} {page}) {order}",
                cond.sql
            )
        };
        (sql, cond)
    }

    /// Runs a query; `map` turns each row (with the query's projection) into
    /// an item. Point reads run on this thread, others on the blocking pool.
    async fn find_rows<T, M>(
        &self,
        ns: &Namespace,
        query: &Query,
        map: M,
    ) -> Result<BoxStream<'static, Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        M: Fn(&rusqlite::Row<'_>, Option<&Projection>) -> Result<T, StoreError> + Send + 'static,
    {
        let (sql, cond) = self.select(ns, query);
        let projection = query.projection.clone();
        if cond.point {
            let items = self.readers.on_this_thread(|conn| {
                let mut out = Vec::new();
                let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
                let mut rows = stmt
                    .query(params_from_iter(cond.params.iter()))
                    .map_err(internal)?;
                while let Some(row) = rows.next().map_err(internal)? {
                    out.push(Ok(map(row, projection.as_ref())?));
                }
                Ok(out)
            })?;
            return Ok(futures::stream::iter(items).boxed());
        }
        let permit = self.read_permit().await?;
        let readers = self.readers.clone();
        let (tx, rx) = mpsc::channel::<Vec<Result<T, StoreError>>>(4);
        let aborted = Arc::new(AtomicBool::new(false));
        let abort_flag = aborted.clone();
        // The first message tells whether the statement could run at all, so
        // a bad query fails the request before any byte is sent.
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), StoreError>>();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let conn = match readers.take() {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut sink = ChunkSink {
                tx,
                permit: Some(permit),
                permits: readers.permits.clone(),
                runtime,
                aborted: abort_flag,
            };
            stream_rows(
                &conn,
                &sql,
                &cond.params,
                |row| map(row, projection.as_ref()),
                ready_tx,
                &mut sink,
            );
            drop(sink);
            readers.give(conn);
        });
        ready_rx
            .await
            .map_err(|_| StoreError::Internal("read task failed".into()))??;
        Ok(chunked_stream(rx, aborted).boxed())
    }
}

/// The `key` of a document of a collection without natural key: its `_id`.
/// The JSON path of a top-level field set by a merge or an update.
/// A document version as this store issues them: a revision number.
fn parse_version(v: &str) -> Result<i64, StoreError> {
    v.parse().map_err(|_| {
        StoreError::InvalidFilter(format!(
            "version {v:?} is not one this store issued (a revision number)"
        ))
    })
}

fn top_level_path(field: &str) -> Result<String, StoreError> {
    if field.is_empty() || field.contains(['"', '\\', '.', '\'']) {
        return Err(StoreError::Internal(format!(
            "{field:?} cannot be set as a top-level field"
        )));
    }
    Ok(format!("$.\"{field}\""))
}

fn id_key(doc: &Document) -> Result<String, StoreError> {
    match doc.get("_id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(StoreError::Internal("the document has no _id".into())),
    }
}

fn parse_doc(text: &str) -> Result<Document, StoreError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::Internal(
            "stored document is not an object".into(),
        )),
        Err(e) => Err(StoreError::Internal(format!(
            "stored document is not JSON: {e}"
        ))),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.writes.lock().map(|w| w.is_none()).unwrap_or(true) {
            return Err(StoreError::Unavailable("store is shutting down".into()));
        }
        self.with_reader(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(internal))
            .await
    }

    async fn upsert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError> {
        self.write_keyed(ns, doc, None, None).await
    }

    async fn upsert_if(
        &self,
        ns: &Namespace,
        doc: Document,
        expect: crate::model::Expect<'_>,
    ) -> Result<WriteOutcome, StoreError> {
        let pre = match expect {
            crate::model::Expect::Absent => writer::Precondition::Absent,
            crate::model::Expect::Version(v) => writer::Precondition::Revision(parse_version(v)?),
        };
        self.write_keyed(ns, doc, None, Some(pre)).await
    }

    async fn merge(
        &self,
        ns: &Namespace,
        doc: Document,
        set: &[&str],
    ) -> Result<WriteOutcome, StoreError> {
        let paths = set
            .iter()
            .map(|f| top_level_path(f))
            .collect::<Result<Vec<_>, _>>()?;
        self.write_keyed(ns, doc, Some(paths), None).await
    }

    async fn update_many(
        &self,
        ns: &Namespace,
        filter: &Filter,
        set: &Document,
    ) -> Result<u64, StoreError> {
        let mut fields = Vec::with_capacity(set.len());
        for (k, v) in set {
            fields.push((
                top_level_path(k)?,
                serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))?,
            ));
        }
        if fields.is_empty() {
            return Ok(0);
        }
        let cond = self.condition(ns, filter);
        let name = Self::ns_name(ns);
        let array_paths = self
            .indexes
            .read()
            .map(|s| s.new_arrays(&name, set))
            .unwrap_or_default();
        self.request(|reply| WriteOp::UpdateMany {
            filter: cond,
            set: fields,
            array_paths,
            reply,
        })
        .await
    }

    async fn insert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError> {
        let key = id_key(&doc)?;
        let doc_json = doc_text(&doc)?;
        match self.custom(ns, CustomOp::Insert { key, doc_json }).await? {
            CustomOutcome::Written(w) => Ok(w),
            _ => Err(StoreError::Internal("mismatched result".into())),
        }
    }

    async fn insert_once(
        &self,
        ns: &Namespace,
        fields: &[&str],
        doc: Document,
    ) -> Result<bool, StoreError> {
        let key = id_key(&doc)?;
        let value = Value::Object(doc);
        let mut equal = Vec::with_capacity(fields.len());
        for f in fields {
            match crate::store::value_at(&value, f) {
                Some(Value::String(s)) => equal.push(((*f).to_owned(), s.clone())),
                _ => {
                    equal.clear();
                    break;
                }
            }
        }
        if !equal.is_empty() {
            // The writer's lookup of an equal document reads this index.
            let spec = IndexSpec {
                fields: fields
                    .iter()
                    .map(|f| crate::store::IndexField {
                        path: (*f).to_owned(),
                        instant: false,
                    })
                    .collect(),
            };
            self.ensure_index(ns, &spec).await?;
        }
        let doc_json =
            serde_json::to_string(&value).map_err(|e| StoreError::Internal(e.to_string()))?;
        let op = CustomOp::InsertOnce {
            key,
            doc_json,
            equal,
        };
        match self.custom(ns, op).await? {
            CustomOutcome::Written(w) => Ok(w.created),
            _ => Err(StoreError::Internal("mismatched result".into())),
        }
    }

    async fn upsert_on(
        &self,
        ns: &Namespace,
        fields: &[String],
        doc: Document,
    ) -> Result<WriteOutcome, StoreError> {
        let key = id_key(&doc)?;
        let value = Value::Object(doc);
        let mut values = Vec::with_capacity(fields.len());
        for f in fields {
            values.push(
                crate::store::value_at(&value, f)
                    .unwrap_or(&Value::Null)
                    .to_string(),
            );
        }
        let doc_json =
            serde_json::to_string(&value).map_err(|e| StoreError::Internal(e.to_string()))?;
        let op = CustomOp::UpsertOn {
            key,
            doc_json,
            fields: fields.to_vec(),
            values,
        };
        match self.custom(ns, op).await? {
            CustomOutcome::Written(w) => Ok(w),
            _ => Err(StoreError::Internal("mismatched result".into())),
        }
    }

    async fn create_unique_index(
        &self,
        ns: &Namespace,
        name: &str,
        fields: &[String],
    ) -> Result<bool, StoreError> {
        let op = CustomOp::CreateIndex {
            name: name.to_owned(),
            fields: fields.to_vec(),
        };
        match self.custom(ns, op).await? {
            CustomOutcome::Index(created) => Ok(created),
            _ => Err(StoreError::Internal("mismatched result".into())),
        }
    }

    async fn drop_unique_index(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        let op = CustomOp::DropIndex {
            name: name.to_owned(),
        };
        self.custom(ns, op).await.map(|_| ())
    }

    async fn unique_indexes(
        &self,
        ns: &Namespace,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let name = Self::ns_name(ns);
        self.with_reader(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT name, fields FROM custom_indexes WHERE ns = ?1 ORDER BY seq",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map([&name], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(internal)?;
            let mut out = Vec::new();
            for r in rows {
                let (n, f) = r.map_err(internal)?;
                let fields: Vec<String> =
                    serde_json::from_str(&f).map_err(|e| StoreError::Internal(e.to_string()))?;
                out.push((n, fields));
            }
            Ok(out)
        })
        .await
    }

    async fn set_internal_field(
        &self,
        ns: &Namespace,
        doc: &Document,
        field: &str,
        value: Value,
        guard: FieldGuard<'_>,
    ) -> Result<bool, StoreError> {
        let key = if ns.key_fields.is_empty() {
            id_key(doc)?
        } else {
            sql::key_of(ns, doc)
        };
        let id = id_key(doc)?;
        let path_of = |p: &str| {
            sql::index_expr(p, false)
                .and_then(|e| {
                    e.strip_prefix("json_extract(doc, '")
                        .and_then(|p| p.strip_suffix("')"))
                        .map(str::to_owned)
                })
                .ok_or_else(|| StoreError::InvalidFilter(format!("bad field {p:?}")))
        };
        let path = path_of(field)?;
        let (guard_path, expect) = match guard {
            FieldGuard::Absent(p) => (path_of(p)?, None),
            FieldGuard::Equals(p, v) => (path_of(p)?, Some(v.to_owned())),
        };
        let value_json =
            serde_json::to_string(&value).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.request(|reply| WriteOp::SetField {
            ns: Self::ns_name(ns),
            key,
            id,
            path,
            value_json,
            guard_path,
            expect,
            reply,
        })
        .await
    }

    async fn find(&self, ns: &Namespace, query: &Query) -> Result<DocStream, StoreError> {
        self.find_rows(ns, query, row_doc).await
    }

    async fn find_text(
        &self,
        ns: &Namespace,
        query: &Query,
        map: TextMap,
    ) -> Result<TextStream, StoreError> {
        if query.projection.is_some() && !query.projection_optional {
            return self
                .find_rows(ns, query, move |row, projection| {
                    map(&doc_text(&row_doc(row, projection)?)?)
                })
                .await;
        }
        if query.with_revision {
            return self
                .find_rows(ns, query, move |row, _| {
                    let rev: i64 = row.get(1).map_err(internal)?;
                    map(&with_revision(row_text(row)?, rev))
                })
                .await;
        }
        self.find_rows(ns, query, move |row, _| map(&row_text(row)?))
            .await
    }

    async fn revision(&self, _ns: &Namespace) -> Result<String, StoreError> {
        Ok(self.committed.get().to_string())
    }

    async fn count(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        let cond = self.condition(ns, filter);
        self.with_reader(move |c| {
            let sql = format!("SELECT count(*) FROM docs WHERE {}", cond.sql);
            c.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_row(params_from_iter(cond.params.iter()), |r| r.get::<_, i64>(0))
                })
                .map(|n| n as u64)
                .map_err(internal)
        })
        .await
    }

    async fn delete_if(
        &self,
        ns: &Namespace,
        key: &Document,
        version: &str,
    ) -> Result<(), StoreError> {
        let rev = parse_version(version)?;
        self.request(|reply| WriteOp::DeleteIf {
            ns: Self::ns_name(ns),
            key: sql::key_of(ns, key),
            rev,
            reply,
        })
        .await
        .map(|_| ())
    }

    async fn delete_many(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        let cond = self.condition(ns, filter);
        self.request(|reply| WriteOp::DeleteMany {
            filter: cond,
            reply,
        })
        .await
    }

    async fn distinct(
        &self,
        ns: &Namespace,
        path: &str,
        filter: &Filter,
    ) -> Result<Vec<Value>, StoreError> {
        // Top-level fields never hold documents with arrays in between;
        // deeper paths take the general way.
        let Some(expr) = sql::index_expr(path, false).filter(|_| !path.contains('.')) else {
            let docs = self
                .find(
                    ns,
                    &Query {
                        projection: Some(Projection::new(vec![path.to_owned()])),
                        ..Query::new(filter.clone())
                    },
                )
                .await?;
            return crate::store::distinct_of(docs, path).await;
        };
        let cond = self.condition(ns, filter);
        let json = expr.replacen("json_extract(doc, ", "(doc -> ", 1);
        let sql = format!(
            "SELECT DISTINCT {json} FROM docs WHERE {} AND {expr} IS NOT NULL",
            cond.sql
        );
        let texts: Vec<String> = self
            .with_reader(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(internal)?;
                let rows = stmt
                    .query_map(params_from_iter(cond.params.iter()), |r| {
                        r.get::<_, String>(0)
                    })
                    .map_err(internal)?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(internal)
            })
            .await?;
        let mut out: Vec<Value> = Vec::new();
        for t in texts {
            let v: Value = serde_json::from_str(&t)
                .map_err(|e| StoreError::Internal(format!("stored value is not JSON: {e}")))?;
            crate::store::add_distinct(&mut out, v);
        }
        Ok(out)
    }

    async fn explain(&self, ns: &Namespace, query: &Query) -> Result<String, StoreError> {
        let (sql, cond) = self.select(ns, query);
        self.with_reader(move |c| {
            let mut stmt = c
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .map_err(internal)?;
            let rows = stmt
                .query_map(params_from_iter(cond.params.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .map_err(internal)?;
            let lines = rows
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(internal)?;
            Ok(lines.join("\n"))
        })
        .await
    }

    async fn changes(
        &self,
        ns: &Namespace,
        since: Option<&str>,
    ) -> Result<crate::store::ChangeFeed, StoreError> {
        feed::open(
            self.readers.clone(),
            self.committed.clone(),
            &self.changes,
            Self::ns_name(ns),
            since,
        )
        .await
    }

    async fn ensure_index(&self, ns: &Namespace, spec: &IndexSpec) -> Result<(), StoreError> {
        let name = Self::ns_name(ns);
        let mut exprs = Vec::new();
        let mut paths = Vec::new();
        for f in &spec.fields {
            // The natural key is the `key` column, last in every index.
            if ns.key_fields.contains(&f.path.as_str()) {
                continue;
            }
            let expr = sql::index_expr(&f.path, f.instant).ok_or_else(|| {
                StoreError::InvalidFilter(format!("cannot index the path {:?}", f.path))
            })?;
            exprs.push(expr);
            paths.push(f.path.clone());
        }
        let Some(first) = exprs.first().cloned() else {
            return Ok(());
        };
        let index_name = sql::index_name(&exprs);
        let create = format!(
            "CREATE INDEX IF NOT EXISTS {index_name} ON docs (ns, {}, key) WHERE {first} IS NOT NULL",
            exprs.join(", ")
        );
        let id = (name.clone(), create.clone());
        if self.ensured.lock().is_ok_and(|e| e.contains(&id)) {
            return Ok(());
        }
        self.request(|reply| WriteOp::EnsureIndex {
            ns: name,
            create,
            paths,
            reply,
        })
        .await?;
        if let Ok(mut e) = self.ensured.lock() {
            e.insert(id);
        }
        Ok(())
    }

    async fn list_collections(&self, database: Database) -> Result<Vec<String>, StoreError> {
        let prefix = format!("{}/", database.as_str());
        self.with_reader(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT ns FROM collections WHERE ns > ?1 AND ns < ?2 ORDER BY ns")
                .map_err(internal)?;
            let upper = format!("{}0", database.as_str());
            let rows = stmt
                .query_map([&prefix, &upper], |r| r.get::<_, String>(0))
                .map_err(internal)?;
            let mut out = Vec::new();
            for r in rows {
                let ns = r.map_err(internal)?;
                out.push(ns[prefix.len()..].to_owned());
            }
            Ok(out)
        })
        .await
    }

    async fn close(&self) {
        if let Ok(mut alive) = self.readers.alive.lock() {
            alive.take();
        }
        if let Ok(mut idle) = self.readers.idle.lock() {
            idle.clear();
        }
        let tx = self.writes.lock().ok().and_then(|mut w| w.take());
        drop(tx);
        let handle = self.writer_thread.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

/// The reading thread's end of a list stream.
struct ChunkSink<T> {
    tx: mpsc::Sender<Vec<Result<T, StoreError>>>,
    /// Held while the statement runs, given back while the client is slow.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    permits: Arc<Semaphore>,
    runtime: tokio::runtime::Handle,
    aborted: Arc<AtomicBool>,
}

impl<T> ChunkSink<T> {
    /// Hands over a chunk; false when the stream must stop (the receiver is
    /// gone or stalled past [`STALL_TIMEOUT`]).
    fn send(&mut self, chunk: Vec<Result<T, StoreError>>) -> bool {
        let chunk = match self.tx.try_send(chunk) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(chunk)) => chunk,
        };
        self.permit = None;
        let sent = self
            .runtime
            .block_on(self.tx.send_timeout(chunk, STALL_TIMEOUT));
        match sent {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                tracing::warn!(
                    "a list stream was abandoned: its client read nothing for {}s",
                    STALL_TIMEOUT.as_secs()
                );
                self.aborted.store(true, Ordering::Release);
                return false;
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => return false,
        }
        match self.runtime.block_on(self.permits.clone().acquire_owned()) {
            Ok(p) => {
                self.permit = Some(p);
                true
            }
            Err(_) => false,
        }
    }
}

/// The row's document (a JSONB blob) as JSON text, converted here rather
/// than by `json(doc)` in SQL (see `jsonb.rs`).
fn row_text(row: &rusqlite::Row<'_>) -> Result<String, StoreError> {
    let blob = row
        .get_ref(0)
        .map_err(internal)?
        .as_blob()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    // Documents written by this service never hold the JSON5 forms.
    jsonb::to_json(blob).ok_or_else(|| {
        StoreError::Internal("a stored document is not JSONB this service wrote".into())
    })
}

/// A document's text with its revision as the last top-level field
/// (appended in place: no copy of the document).
fn with_revision(mut text: String, rev: i64) -> String {
    if text.ends_with('}') {
        text.pop();
        if !text.trim_end().ends_with('{') {
            text.push(',');
        }
        text.push('"');
        text.push_str(crate::model::REVISION_FIELD);
        text.push_str("\":\"");
        text.push_str(&rev.to_string());
        text.push_str("\"}");
    }
    text
}

fn row_doc(
    row: &rusqlite::Row<'_>,
    projection: Option<&Projection>,
) -> Result<Document, StoreError> {
    let doc = parse_doc(&row_text(row)?)?;
    Ok(match projection {
        Some(p) => p.apply(&doc),
        None => doc,
    })
}

fn stream_rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
    map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ready: oneshot::Sender<Result<(), StoreError>>,
    sink: &mut ChunkSink<T>,
) {
    let mut stmt = match conn.prepare_cached(sql) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(internal(e)));
            return;
        }
    };
    let mut rows = match stmt.query(params_from_iter(params.iter())) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(internal(e)));
            return;
        }
    };
    let mut ready = Some(ready);
    let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
    loop {
        let item = match rows.next() {
            Ok(Some(row)) => map(row),
            Ok(None) => break,
            Err(e) => Err(internal(e)),
        };
        if let Some(r) = ready.take() {
            if let Err(e) = item {
                let _ = r.send(Err(e));
                return;
            }
            let _ = r.send(Ok(()));
        }
        let failed = item.is_err();
        chunk.push(item);
        if (failed || chunk.len() == ROWS_PER_CHUNK)
            && !sink.send(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(ROWS_PER_CHUNK),
            ))
        {
            return;
        }
        if failed {
            return;
        }
    }
    if let Some(r) = ready.take() {
        let _ = r.send(Ok(()));
    }
    if !chunk.is_empty() {
        sink.send(chunk);
    }
}

/// The response's end of a list stream: chunks flattened into documents; an
/// abandoned stream ends with an error so the response is cut, not truncated.
fn chunked_stream<T: Send + 'static>(
    mut rx: mpsc::Receiver<Vec<Result<T, StoreError>>>,
    aborted: Arc<AtomicBool>,
) -> impl futures::Stream<Item = Result<T, StoreError>> + Send + 'static {
    let mut current = Vec::new().into_iter();
    let mut done = false;
    futures::stream::poll_fn(move |cx| {
        loop {
            if let Some(item) = current.next() {
                return std::task::Poll::Ready(Some(item));
            }
            if done {
                return std::task::Poll::Ready(None);
            }
            match rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(chunk)) => current = chunk.into_iter(),
                std::task::Poll::Ready(None) => {
                    done = true;
                    if aborted.load(Ordering::Acquire) {
                        return std::task::Poll::Ready(Some(Err(StoreError::Unavailable(
                            "the list stream was abandoned".into(),
                        ))));
                    }
                }
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    })
}
