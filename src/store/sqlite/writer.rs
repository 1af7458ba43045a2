//! The single writer: one thread owns the write connection, drains whatever
//! writes are queued into one transaction (group commit), and acknowledges
//! each request only after that transaction has committed. Every write gets
//! the next store revision and an entry in the change log, in the same
//! transaction.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use rusqlite::{Connection, params, params_from_iter};
use tokio::sync::{mpsc, oneshot};

use super::IndexState;
use super::sql::{SqlFilter, array_check};
use crate::model::WriteOutcome;
use crate::store::StoreError;

/// Kinds recorded in the change log.
pub const CHANGE_ADD: i64 = 1;
pub const CHANGE_DELETE: i64 = 2;
pub const CHANGE_UPDATE: i64 = 3;

/// Rows deleted per statement by a batch delete.
const DELETE_CHUNK: i64 = 500;

/// A queued write.
pub enum WriteOp {
    Upsert {
        ns: String,
        key: String,
        doc_json: String,
        /// Indexed paths on which this document has an array (to flag).
        array_paths: Vec<String>,
        /// A merge: on an existing document only these top-level fields
        /// are set (JSON paths `$."name"`); `None` replaces it.
        merge: Option<Vec<String>>,
        /// The state the document must be in for the write to happen.
        expect: Option<Precondition>,
        reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
    },
    /// Sets top-level fields of every matching document.
    UpdateMany {
        filter: SqlFilter,
        /// (JSON path `$."name"`, JSON value text).
        set: Vec<(String, String)>,
        array_paths: Vec<String>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// A write to a collection without natural key (custom resources).
    Custom {
        ns: String,
        op: CustomOp,
        reply: oneshot::Sender<Result<CustomOutcome, StoreError>>,
    },
    /// Sets an internal field of one document if the guard path is absent
    /// (`expect` None) or holds `expect`.
    SetField {
        ns: String,
        key: String,
        id: String,
        path: String,
        value_json: String,
        guard_path: String,
        expect: Option<String>,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Creates a secondary index; paths not seen before are checked for
    /// documents with arrays on them.
    EnsureIndex {
        ns: String,
        create: String,
        paths: Vec<String>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    DeleteMany {
        filter: SqlFilter,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Deletes one document if it was last written at `rev`.
    DeleteIf {
        ns: String,
        key: String,
        rev: i64,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
}

/// What a conditional upsert expects of the document with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Absent,
    /// Present, last written at this revision.
    Revision(i64),
}

/// Whether the document `key` of `ns` is as `expect` says; the error to
/// answer when it is not.
fn check_precondition(
    conn: &Connection,
    ns: &str,
    key: &str,
    expect: Precondition,
) -> rusqlite::Result<Result<(), StoreError>> {
    use rusqlite::OptionalExtension;
    let current: Option<i64> = conn
        .prepare_cached("SELECT rev FROM docs WHERE ns = ?1 AND key = ?2")?
        .query_row(params![ns, key], |r| r.get(0))
        .optional()?;
    Ok(match (expect, current) {
        (Precondition::Absent, None) => Ok(()),
        (Precondition::Absent, Some(_)) => {
            Err(StoreError::Conflict("the document exists already".into()))
        }
        (Precondition::Revision(_), None) => Err(StoreError::NotFound),
        (Precondition::Revision(want), Some(have)) if want == have => Ok(()),
        (Precondition::Revision(want), Some(have)) => Err(StoreError::Conflict(format!(
            "the document has changed: its version is {have}, not {want}"
        ))),
    })
}

/// The writes of collections without natural key.
pub enum CustomOp {
    /// Insert with `key` (the document's `_id`).
    Insert {
        key: String,
        doc_json: String,
    },
    /// Insert with `key` unless a document holds these strings at these
    /// paths (no check when `equal` is empty).
    InsertOnce {
        key: String,
        doc_json: String,
        equal: Vec<(String, String)>,
    },
    /// Replace the document whose values at `fields` equal these (JSON
    /// texts), or insert with `key`.
    UpsertOn {
        key: String,
        doc_json: String,
        fields: Vec<String>,
        values: Vec<String>,
    },
    CreateIndex {
        name: String,
        fields: Vec<String>,
    },
    DropIndex {
        name: String,
    },
}

/// What a [`CustomOp`] did.
pub enum CustomOutcome {
    Written(WriteOutcome),
    /// Index created (true) or already there (false).
    Index(bool),
    Dropped,
}

/// Writer configuration.
pub struct WriterConfig {
    pub max_batch: usize,
    pub change_log_retain: u64,
    pub indexes: Arc<RwLock<IndexState>>,
    /// Told the last revision of every commit (the change feed follows it).
    pub committed: Arc<super::feed::Committed>,
}

/// Runs until every sender is dropped, then returns.
pub fn run(mut conn: Connection, mut rx: mpsc::Receiver<WriteOp>, cfg: WriterConfig) {
    let mut rev: i64 = current_revision(&conn).unwrap_or(0);
    let mut known_ns: HashSet<String> = HashSet::new();
    let mut since_trim: u64 = 0;
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < cfg.max_batch {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let metrics = crate::metrics::global();
        metrics.sqlite_queue.set(rx.len() as i64);
        metrics.sqlite_batch.observe(batch.len() as f64);
        let rev_before = rev;
        let known_before = known_ns.clone();
        let outcome = commit_batch(&mut conn, &mut batch, &mut rev, &mut known_ns, &cfg.indexes);
        match outcome {
            Ok(results) => {
                if rev != rev_before {
                    cfg.committed.set(rev);
                }
                since_trim += batch.len() as u64;
                for (op, res) in batch.into_iter().zip(results) {
                    reply(op, res);
                }
                if since_trim >= cfg.change_log_retain.min(1000) {
                    since_trim = 0;
                    let floor = rev - cfg.change_log_retain as i64;
                    if floor > 0
                        && let Err(e) = trim_log(&conn, floor)
                    {
                        if !conn.is_autocommit() {
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                        tracing::warn!(error = %e, "trimming the change log failed");
                    }
                }
            }
            Err(e) => {
                rev = rev_before;
                known_ns = known_before;
                tracing::error!(error = %e, writes = batch.len(), "group commit failed");
                for op in batch {
                    reply(
                        op,
                        Err(StoreError::Unavailable(format!("commit failed: {e}"))),
                    );
                }
            }
        }
    }
    cfg.committed.close();
}

/// Per-op result, erased to be sent back to its own reply channel.
enum OpResult {
    Upsert(Result<WriteOutcome, StoreError>),
    Delete(Result<u64, StoreError>),
    Index(Result<(), StoreError>),
    Custom(Result<CustomOutcome, StoreError>),
    Field(Result<bool, StoreError>),
}

fn reply(op: WriteOp, res: Result<OpResult, StoreError>) {
    match op {
        WriteOp::Upsert { reply, .. } => {
            let r = match res {
                Ok(OpResult::Upsert(r)) => r,
                Ok(_) => Err(StoreError::Internal("mismatched result".into())),
                Err(e) => Err(e),
            };
            let _ = reply.send(r);
        }
        WriteOp::DeleteMany { reply, .. }
        | WriteOp::UpdateMany { reply, .. }
        | WriteOp::DeleteIf { reply, .. } => {
            let r = match res {
                Ok(OpResult::Delete(r)) => r,
                Ok(_) => Err(StoreError::Internal("mismatched result".into())),
                Err(e) => Err(e),
            };
            let _ = reply.send(r);
        }
        WriteOp::Custom { reply, .. } => {
            let r = match res {
                Ok(OpResult::Custom(r)) => r,
                Ok(_) => Err(StoreError::Internal("mismatched result".into())),
                Err(e) => Err(e),
            };
            let _ = reply.send(r);
        }
        WriteOp::SetField { reply, .. } => {
            let r = match res {
                Ok(OpResult::Field(r)) => r,
                Ok(_) => Err(StoreError::Internal("mismatched result".into())),
                Err(e) => Err(e),
            };
            let _ = reply.send(r);
        }
        WriteOp::EnsureIndex { reply, .. } => {
            let r = match res {
                Ok(OpResult::Index(r)) => r,
                Ok(_) => Err(StoreError::Internal("mismatched result".into())),
                Err(e) => Err(e),
            };
            let _ = reply.send(r);
        }
    }
}

/// Drops the changes up to `floor` and records that the log starts after it
/// (a watcher resuming from before gets `Expired`).
fn trim_log(conn: &Connection, floor: i64) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    conn.execute("DELETE FROM changes WHERE rev <= ?1", [floor])?;
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('log_floor', ?1) \
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        [floor],
    )?;
    conn.execute_batch("COMMIT")
}

pub fn current_revision(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT max(coalesce((SELECT max(rev) FROM changes), 0), coalesce((SELECT max(rev) FROM docs), 0))",
        [],
        |r| r.get(0),
    )
}

/// Executes the batch in one transaction. An error of one write fails only
/// that write; an error that dooms the transaction (commit, I/O) fails all,
/// and the transaction is rolled back so the next batch starts clean.
fn commit_batch(
    conn: &mut Connection,
    batch: &mut [WriteOp],
    rev: &mut i64,
    known_ns: &mut HashSet<String>,
    indexes: &RwLock<IndexState>,
) -> rusqlite::Result<Vec<Result<OpResult, StoreError>>> {
    let result = run_batch(conn, batch, rev, known_ns, indexes);
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

fn run_batch(
    conn: &mut Connection,
    batch: &mut [WriteOp],
    rev: &mut i64,
    known_ns: &mut HashSet<String>,
    indexes: &RwLock<IndexState>,
) -> rusqlite::Result<Vec<Result<OpResult, StoreError>>> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let mut results = Vec::with_capacity(batch.len());
    for op in batch.iter() {
        let r = match op {
            WriteOp::Upsert {
                ns,
                key,
                doc_json,
                array_paths,
                merge,
                expect,
                ..
            } => {
                if let Some(expect) = expect
                    && let Err(e) = check_precondition(conn, ns, key, *expect)?
                {
                    results.push(Ok(OpResult::Upsert(Err(e))));
                    continue;
                }
                if !known_ns.contains(ns) {
                    conn.execute("INSERT OR IGNORE INTO collections(ns) VALUES (?1)", [ns])?;
                    known_ns.insert(ns.clone());
                }
                for path in array_paths {
                    flag_array(conn, indexes, ns, path)?;
                }
                match upsert(conn, ns, key, doc_json, merge.as_deref(), *rev + 1) {
                    Ok(outcome) => {
                        *rev += 1;
                        Ok(OpResult::Upsert(Ok(outcome)))
                    }
                    Err(Doomed(e)) => return Err(e),
                }
            }
            WriteOp::Custom { ns, op, .. } => {
                if !known_ns.contains(ns) {
                    conn.execute("INSERT OR IGNORE INTO collections(ns) VALUES (?1)", [ns])?;
                    known_ns.insert(ns.clone());
                }
                conn.execute_batch("SAVEPOINT custom")?;
                let before = *rev;
                match custom(conn, ns, op, rev) {
                    Ok(out) => {
                        conn.execute_batch("RELEASE custom")?;
                        Ok(OpResult::Custom(Ok(out)))
                    }
                    Err(e) => {
                        *rev = before;
                        conn.execute_batch("ROLLBACK TO custom; RELEASE custom")?;
                        Ok(OpResult::Custom(Err(e)))
                    }
                }
            }
            WriteOp::SetField {
                ns,
                key,
                id,
                path,
                value_json,
                guard_path,
                expect,
                ..
            } => {
                let guard = match expect {
                    None => format!(
                        "json_type(doc, '{g}') IS NULL",
                        g = guard_path.replace('\'', "''")
                    ),
                    Some(_) => format!(
                        "json_type(doc, '{g}') = 'text' AND json_extract(doc, '{g}') = ?5",
                        g = guard_path.replace('\'', "''")
                    ),
                };
                let sql = format!(
                    "UPDATE docs SET doc = jsonb_set(doc, '{p}', jsonb(?1)) \
                     WHERE ns = ?2 AND key = ?3 AND json_extract(doc, '$._id') = ?4 AND {guard}",
                    p = path.replace('\'', "''")
                );
                let r = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| match expect {
                        None => s.execute(params![value_json, ns, key, id]),
                        Some(e) => s.execute(params![value_json, ns, key, id, e]),
                    })
                    .map(|n| n > 0)
                    .map_err(|e| StoreError::Internal(e.to_string()));
                Ok(OpResult::Field(r))
            }
            WriteOp::EnsureIndex {
                ns, create, paths, ..
            } => {
                conn.execute_batch("SAVEPOINT idx")?;
                match ensure_index(conn, indexes, ns, create, paths) {
                    Ok(()) => {
                        conn.execute_batch("RELEASE idx")?;
                        Ok(OpResult::Index(Ok(())))
                    }
                    Err(e) => {
                        conn.execute_batch("ROLLBACK TO idx; RELEASE idx")?;
                        Ok(OpResult::Index(Err(StoreError::Internal(format!(
                            "cannot create an index: {e}"
                        )))))
                    }
                }
            }
            WriteOp::UpdateMany {
                filter,
                set,
                array_paths,
                ..
            } => {
                let ns = match filter.params.first() {
                    Some(rusqlite::types::Value::Text(s)) => s.clone(),
                    _ => String::new(),
                };
                for path in array_paths {
                    flag_array(conn, indexes, &ns, path)?;
                }
                conn.execute_batch("SAVEPOINT upd")?;
                match update_many(conn, &ns, filter, set, rev) {
                    Ok(n) => {
                        conn.execute_batch("RELEASE upd")?;
                        Ok(OpResult::Delete(Ok(n)))
                    }
                    Err((e, rev_at_start)) => {
                        *rev = rev_at_start;
                        conn.execute_batch("ROLLBACK TO upd; RELEASE upd")?;
                        Ok(OpResult::Delete(Err(StoreError::Internal(e.to_string()))))
                    }
                }
            }
            WriteOp::DeleteIf {
                ns, key, rev: want, ..
            } => match check_precondition(conn, ns, key, Precondition::Revision(*want))? {
                Err(e) => Ok(OpResult::Delete(Err(e))),
                Ok(()) => {
                    let doc: Vec<u8> = conn
                        .prepare_cached(
                            "DELETE FROM docs WHERE ns = ?1 AND key = ?2 RETURNING doc",
                        )?
                        .query_row(params![ns, key], |r| r.get(0))?;
                    *rev += 1;
                    conn.prepare_cached(
                        "INSERT INTO changes(rev, ns, kind, doc) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![*rev, ns, CHANGE_DELETE, doc])?;
                    Ok(OpResult::Delete(Ok(1)))
                }
            },
            WriteOp::DeleteMany { filter, .. } => {
                conn.execute_batch("SAVEPOINT del")?;
                match delete_many(conn, filter, rev) {
                    Ok(n) => {
                        conn.execute_batch("RELEASE del")?;
                        Ok(OpResult::Delete(Ok(n)))
                    }
                    Err((e, rev_at_start)) => {
                        *rev = rev_at_start;
                        conn.execute_batch("ROLLBACK TO del; RELEASE del")?;
                        Ok(OpResult::Delete(Err(StoreError::Internal(e.to_string()))))
                    }
                }
            }
        };
        results.push(r);
    }
    conn.execute_batch("COMMIT")?;
    Ok(results)
}

/// Records that a document of `ns` has an array on the indexed `path`. The
/// in-memory flag is set before the write commits, so no reader can see the
/// document while still taking the path for scalar.
fn flag_array(
    conn: &Connection,
    indexes: &RwLock<IndexState>,
    ns: &str,
    path: &str,
) -> rusqlite::Result<()> {
    if let Ok(mut s) = indexes.write() {
        s.flag_array(ns, path);
    }
    conn.prepare_cached("INSERT OR IGNORE INTO array_paths(ns, path) VALUES (?1, ?2)")?
        .execute(params![ns, path])?;
    Ok(())
}

fn ensure_index(
    conn: &Connection,
    indexes: &RwLock<IndexState>,
    ns: &str,
    create: &str,
    paths: &[String],
) -> rusqlite::Result<()> {
    conn.execute_batch(create)?;
    for path in paths {
        let known: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM indexed_paths WHERE ns = ?1 AND path = ?2)",
            params![ns, path],
            |r| r.get(0),
        )?;
        if !known {
            // Documents written before the path had an index.
            let sql = format!(
                "SELECT EXISTS(SELECT 1 FROM docs WHERE ns = ?1 AND {})",
                array_check(path)
            );
            let arrays: bool = conn.query_row(&sql, [ns], |r| r.get(0))?;
            if arrays {
                flag_array(conn, indexes, ns, path)?;
            }
            conn.execute(
                "INSERT INTO indexed_paths(ns, path) VALUES (?1, ?2)",
                params![ns, path],
            )?;
        }
        if let Ok(mut s) = indexes.write() {
            s.add_indexed(ns, path);
        }
    }
    Ok(())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn custom_err(e: rusqlite::Error, what: &str) -> StoreError {
    if is_constraint(&e) {
        StoreError::Conflict(format!("{what} violates a unique index: {e}"))
    } else {
        StoreError::Internal(e.to_string())
    }
}

/// The SQLite name of a custom unique index.
fn custom_index_sql_name(ns: &str, name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ns.bytes().chain([0]).chain(name.bytes()) {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("cu_{hash:016x}")
}

/// `json_extract(doc, path)` with null and missing as one value (as in a
/// MongoDB unique index) that no JSON value equals.
fn unique_expr(path: &str) -> Result<String, StoreError> {
    let e = super::sql::index_expr(path, false)
        .ok_or_else(|| StoreError::InvalidFilter(format!("cannot index the path {path:?}")))?;
    Ok(format!("coalesce({e}, x'00')"))
}

fn custom(
    conn: &Connection,
    ns: &str,
    op: &CustomOp,
    rev: &mut i64,
) -> Result<CustomOutcome, StoreError> {
    let insert = |key: &str, doc_json: &str, rev: &mut i64| -> Result<CustomOutcome, StoreError> {
        *rev += 1;
        let doc: Vec<u8> = conn
            .prepare_cached(
                "INSERT INTO docs(ns, key, rev, created_rev, doc) VALUES (?1, ?2, ?3, ?3, jsonb(?4)) RETURNING doc",
            )
            .and_then(|mut s| s.query_row(params![ns, key, *rev, doc_json], |r| r.get(0)))
            .map_err(|e| custom_err(e, "the document"))?;
        conn.prepare_cached("INSERT INTO changes(rev, ns, kind, doc) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![*rev, ns, CHANGE_ADD, doc]))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(CustomOutcome::Written(WriteOutcome {
            created: true,
            revision: Some(*rev as u64),
            version: None,
        }))
    };
    match op {
        CustomOp::Insert { key, doc_json } => insert(key, doc_json, rev),
        CustomOp::InsertOnce {
            key,
            doc_json,
            equal,
        } => {
            if !equal.is_empty() {
                // A text parameter equals only string values.
                let mut sql = "SELECT EXISTS(SELECT 1 FROM docs WHERE ns = ?1".to_owned();
                let mut params: Vec<&str> = vec![ns];
                for (path, value) in equal {
                    let expr = super::sql::index_expr(path, false)
                        .ok_or_else(|| StoreError::InvalidFilter(format!("bad field {path:?}")))?;
                    params.push(value);
                    sql.push_str(&format!(" AND {expr} = ?{}", params.len()));
                }
                sql.push(')');
                let found: bool = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query_row(params_from_iter(params.iter()), |r| r.get(0)))
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                if found {
                    return Ok(CustomOutcome::Written(WriteOutcome {
                        created: false,
                        revision: None,
                        version: None,
                    }));
                }
            }
            insert(key, doc_json, rev)
        }
        CustomOp::UpsertOn {
            key,
            doc_json,
            fields,
            values,
        } => {
            // The namespace as a literal: the unique index is partial on it.
            let mut sql = format!(
                "SELECT id FROM docs WHERE ns = '{}'",
                ns.replace('\'', "''")
            );
            let mut params: Vec<rusqlite::types::Value> = Vec::new();
            for (f, v) in fields.iter().zip(values) {
                params.push(v.clone().into());
                sql.push_str(&format!(
                    " AND {} IS coalesce(json_extract(?{}, '$'), x'00')",
                    unique_expr(f)?,
                    params.len()
                ));
            }
            sql.push_str(" LIMIT 1");
            let found: Option<i64> = conn
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    let mut rows = s.query(params_from_iter(params.iter()))?;
                    rows.next()?.map(|r| r.get(0)).transpose()
                })
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let Some(id) = found else {
                return insert(key, doc_json, rev);
            };
            *rev += 1;
            let doc: Vec<u8> = conn
                .prepare_cached(
                    "UPDATE docs SET rev = ?1,                        doc = jsonb_set(jsonb(?2), '$._id', doc -> '$._id', '$.createTime', doc -> '$.createTime')                      WHERE id = ?3 RETURNING doc",
                )
                .and_then(|mut s| s.query_row(params![*rev, doc_json, id], |r| r.get(0)))
                .map_err(|e| custom_err(e, "the document"))?;
            conn.prepare_cached("INSERT INTO changes(rev, ns, kind, doc) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![*rev, ns, CHANGE_UPDATE, doc]))
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(CustomOutcome::Written(WriteOutcome {
                created: false,
                revision: Some(*rev as u64),
                version: None,
            }))
        }
        CustomOp::CreateIndex { name, fields } => {
            let exists: bool = conn
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM custom_indexes WHERE ns = ?1 AND name = ?2)",
                    params![ns, name],
                    |r| r.get(0),
                )
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            if exists {
                return Ok(CustomOutcome::Index(false));
            }
            let exprs = fields
                .iter()
                .map(|f| unique_expr(f))
                .collect::<Result<Vec<_>, _>>()?;
            let sql_name = custom_index_sql_name(ns, name);
            let create = format!(
                "CREATE UNIQUE INDEX {sql_name} ON docs ({}) WHERE ns = '{}'",
                exprs.join(", "),
                ns.replace('\'', "''")
            );
            conn.execute_batch(&create).map_err(|e| {
                if is_constraint(&e) {
                    StoreError::Conflict(format!(
                        "documents of the collection already have equal values for {fields:?}"
                    ))
                } else {
                    StoreError::Internal(e.to_string())
                }
            })?;
            let fields_json =
                serde_json::to_string(fields).map_err(|e| StoreError::Internal(e.to_string()))?;
            conn.execute(
                "INSERT INTO custom_indexes(ns, name, fields, sql_name, seq) \
                 VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM custom_indexes))",
                params![ns, name, fields_json, sql_name],
            )
            .map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(CustomOutcome::Index(true))
        }
        CustomOp::DropIndex { name } => {
            let sql_name: Option<String> = conn
                .query_row(
                    "SELECT sql_name FROM custom_indexes WHERE ns = ?1 AND name = ?2",
                    params![ns, name],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    other => Err(other),
                })
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            let Some(sql_name) = sql_name else {
                return Err(StoreError::NotFound);
            };
            conn.execute_batch(&format!("DROP INDEX IF EXISTS {sql_name}"))
                .and_then(|_| {
                    conn.execute(
                        "DELETE FROM custom_indexes WHERE ns = ?1 AND name = ?2",
                        params![ns, name],
                    )
                })
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            Ok(CustomOutcome::Dropped)
        }
    }
}

/// An upsert failure that leaves the transaction unusable.
struct Doomed(rusqlite::Error);

fn upsert(
    conn: &Connection,
    ns: &str,
    key: &str,
    doc_json: &str,
    merge: Option<&[String]>,
    rev: i64,
) -> Result<WriteOutcome, Doomed> {
    const REPLACE: &str = "INSERT INTO docs(ns, key, rev, created_rev, doc) VALUES (?1, ?2, ?3, ?3, jsonb(?4)) \
         ON CONFLICT(ns, key) DO UPDATE SET rev = excluded.rev, \
           doc = jsonb_set(excluded.doc, '$._id', docs.doc -> '$._id', '$.createTime', docs.doc -> '$.createTime') \
         RETURNING created_rev, doc";
    let merge_sql;
    let sql = match merge {
        None => REPLACE,
        Some(paths) => {
            let sets: Vec<String> = paths
                .iter()
                .map(|p| {
                    let p = p.replace('\'', "''");
                    format!("'{p}', excluded.doc -> '{p}'")
                })
                .collect();
            merge_sql = format!(
                "INSERT INTO docs(ns, key, rev, created_rev, doc) VALUES (?1, ?2, ?3, ?3, jsonb(?4)) \
                 ON CONFLICT(ns, key) DO UPDATE SET rev = excluded.rev, \
                   doc = jsonb_set(docs.doc, {}) \
                 RETURNING created_rev, doc",
                sets.join(", ")
            );
            &merge_sql
        }
    };
    let mut stmt = conn.prepare_cached(sql).map_err(Doomed)?;
    let (created_rev, doc): (i64, Vec<u8>) = stmt
        .query_row(params![ns, key, rev, doc_json], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(Doomed)?;
    let created = created_rev == rev;
    let kind = if created { CHANGE_ADD } else { CHANGE_UPDATE };
    conn.prepare_cached("INSERT INTO changes(rev, ns, kind, doc) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![rev, ns, kind, doc]))
        .map_err(Doomed)?;
    Ok(WriteOutcome {
        created,
        revision: Some(rev as u64),
        version: Some(rev.to_string()),
    })
}

/// Sets fields of the matching documents, in chunks of rows (by row id, so
/// a document that still matches once updated is not visited twice); each
/// updated document goes to the change log. On error, returns the revision
/// to restore.
fn update_many(
    conn: &Connection,
    ns: &str,
    filter: &SqlFilter,
    set: &[(String, String)],
    rev: &mut i64,
) -> Result<u64, (rusqlite::Error, i64)> {
    let start = *rev;
    let after = filter.params.len() + 1;
    let select = format!(
        "SELECT id FROM docs WHERE {} AND id > ?{after} ORDER BY id LIMIT {DELETE_CHUNK}",
        filter.sql
    );
    let mut assignments = Vec::with_capacity(set.len());
    for (i, (path, _)) in set.iter().enumerate() {
        assignments.push(format!("'{}', jsonb(?{})", path.replace('\'', "''"), i + 3));
    }
    let update = format!(
        "UPDATE docs SET rev = ?1, doc = jsonb_set(doc, {}) WHERE id = ?2 RETURNING doc",
        assignments.join(", ")
    );
    let mut last_id: i64 = i64::MIN;
    let mut total = 0u64;
    loop {
        let mut args: Vec<rusqlite::types::Value> = filter.params.clone();
        args.push(rusqlite::types::Value::Integer(last_id));
        let ids: Vec<i64> = conn
            .prepare_cached(&select)
            .and_then(|mut s| {
                s.query_map(params_from_iter(args.iter()), |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(|e| (e, start))?;
        for id in &ids {
            *rev += 1;
            let mut args: Vec<rusqlite::types::Value> = vec![
                rusqlite::types::Value::Integer(*rev),
                rusqlite::types::Value::Integer(*id),
            ];
            args.extend(
                set.iter()
                    .map(|(_, v)| rusqlite::types::Value::Text(v.clone())),
            );
            let doc: Vec<u8> = conn
                .prepare_cached(&update)
                .and_then(|mut s| s.query_row(params_from_iter(args.iter()), |r| r.get(0)))
                .map_err(|e| (e, start))?;
            conn.prepare_cached("INSERT INTO changes(rev, ns, kind, doc) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![*rev, ns, CHANGE_UPDATE, doc]))
                .map_err(|e| (e, start))?;
        }
        total += ids.len() as u64;
        match ids.last() {
            Some(id) if (ids.len() as i64) == DELETE_CHUNK => last_id = *id,
            _ => return Ok(total),
        }
    }
}

/// Deletes in chunks so memory stays bounded; every deleted document goes
/// to the change log. On error, returns the revision to restore.
fn delete_many(
    conn: &Connection,
    filter: &SqlFilter,
    rev: &mut i64,
) -> Result<u64, (rusqlite::Error, i64)> {
    let start = *rev;
    let sql = format!(
        "DELETE FROM docs WHERE id IN (SELECT id FROM docs WHERE {} LIMIT {DELETE_CHUNK}) RETURNING doc",
        filter.sql
    );
    let mut total = 0u64;
    loop {
        let deleted: Vec<Vec<u8>> = conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_map(params_from_iter(filter.params.iter()), |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<Vec<u8>>>>()
            })
            .map_err(|e| (e, start))?;
        let n = deleted.len();
        let ns = match filter.params.first() {
            Some(rusqlite::types::Value::Text(s)) => s.clone(),
            _ => String::new(),
        };
        for doc in deleted {
            *rev += 1;
            conn.prepare_cached("INSERT INTO changes(rev, ns, kind, doc) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![*rev, ns, CHANGE_DELETE, doc]))
                .map_err(|e| (e, start))?;
        }
        total += n as u64;
        if (n as i64) < DELETE_CHUNK {
            return Ok(total);
        }
    }
}
