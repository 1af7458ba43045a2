//! The embedded default store: one SQLite file in WAL mode, documents as
//! JSONB in append order with a unique (namespace, natural key) index, one group-commit
//! writer thread and a pool of read connections used off the async workers.

mod sql;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, params_from_iter};
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::config::{SqliteSettings, Synchronous};
use crate::model::{Database, Document, Filter, Namespace, Query, WriteOutcome};
use crate::store::{DocStream, Store, StoreError};

pub use sql::KEY_SEP;
use writer::{WriteOp, WriterConfig};

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
CREATE TABLE IF NOT EXISTS collections (ns TEXT PRIMARY KEY) WITHOUT ROWID;
";

/// The embedded store.
pub struct SqliteStore {
    writes: Mutex<Option<mpsc::Sender<WriteOp>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_permits: Arc<Semaphore>,
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
    conn.set_prepared_statement_cache_capacity(256);
    register_functions(&conn)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `settings.path`.
    pub fn open(settings: &SqliteSettings) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(&settings.path).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                settings.path.display()
            ))
        })?;
        let file = settings.path.join(DB_FILE);
        let writer_conn = open_connection(&file, settings, false)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", file.display())))?;
        let mut readers = Vec::with_capacity(settings.read_connections);
        for _ in 0..settings.read_connections {
            readers.push(open_connection(&file, settings, true).map_err(internal)?);
        }
        let (tx, rx) = mpsc::channel(settings.max_batch * 4);
        let cfg = WriterConfig {
            max_batch: settings.max_batch,
            change_log_retain: settings.change_log_retain,
        };
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::run(writer_conn, rx, cfg))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            writes: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(handle)),
            readers: Arc::new(Mutex::new(readers)),
            read_permits: Arc::new(Semaphore::new(settings.read_connections)),
        })
    }

    fn ns_name(ns: &Namespace) -> String {
        format!("{}/{}", ns.database.as_str(), ns.collection)
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

    /// Runs `f` on a pooled read connection on the blocking thread pool.
    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = readers
                .lock()
                .map_err(|_| StoreError::Internal("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Internal("reader pool empty".into()))?;
            let out = f(&conn);
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
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
        if ns.key_fields.is_empty() {
            return Err(StoreError::Internal(format!(
                "{} has no natural key",
                ns.collection
            )));
        }
        let key = sql::key_of(ns, &doc);
        let doc_json =
            serde_json::to_string(&doc).map_err(|e| StoreError::Internal(e.to_string()))?;
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Upsert {
            ns: Self::ns_name(ns),
            key,
            doc_json,
            reply,
        })
        .await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }

    async fn find(&self, ns: &Namespace, query: &Query) -> Result<DocStream, StoreError> {
        let cond = sql::where_clause(ns, &Self::ns_name(ns), &query.filter);
        let limit = query
            .limit
            .map(|l| l.min(i64::MAX as u64) as i64)
            .unwrap_or(-1);
        let sql = format!(
            "SELECT json(doc) FROM docs WHERE {} {} LIMIT {limit} OFFSET {}",
            cond.sql,
            sql::order_by(&query.sort),
            query.skip.min(i64::MAX as u64)
        );
        let projection = query.projection.clone();
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))?;
        let readers = self.readers.clone();
        let (tx, rx) = mpsc::channel::<Result<Document, StoreError>>(64);
        // The first message tells whether the statement could run at all, so
        // a bad query fails the request before any byte is sent.
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), StoreError>>();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let Some(conn) = readers.lock().ok().and_then(|mut p| p.pop()) else {
                let _ = ready_tx.send(Err(StoreError::Internal("reader pool empty".into())));
                return;
            };
            stream_rows(
                &conn,
                &sql,
                &cond.params,
                projection.as_ref(),
                ready_tx,
                &tx,
            );
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
        });
        ready_rx
            .await
            .map_err(|_| StoreError::Internal("read task failed".into()))??;
        Ok(tokio_stream_from(rx).boxed())
    }

    async fn count(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        let cond = sql::where_clause(ns, &Self::ns_name(ns), filter);
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

    async fn delete_many(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        let cond = sql::where_clause(ns, &Self::ns_name(ns), filter);
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::DeleteMany {
            filter: cond,
            reply,
        })
        .await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
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
        let tx = self.writes.lock().ok().and_then(|mut w| w.take());
        drop(tx);
        let handle = self.writer_thread.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

fn stream_rows(
    conn: &Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
    projection: Option<&crate::model::Projection>,
    ready: oneshot::Sender<Result<(), StoreError>>,
    tx: &mpsc::Sender<Result<Document, StoreError>>,
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
    loop {
        let item = match rows.next() {
            Ok(Some(row)) => row
                .get_ref(0)
                .map_err(internal)
                .and_then(|v| v.as_str().map_err(|e| StoreError::Internal(e.to_string())))
                .and_then(parse_doc)
                .map(|d| match projection {
                    Some(p) => p.apply(&d),
                    None => d,
                }),
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
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
    if let Some(r) = ready.take() {
        let _ = r.send(Ok(()));
    }
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Document, StoreError>>,
) -> impl futures::Stream<Item = Result<Document, StoreError>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
