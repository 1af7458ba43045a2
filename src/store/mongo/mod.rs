//! The MongoDB store, data-compatible with a database written by the Go
//! bcs-storage: same database and collection names, same fields, soft deletes
//! through `_isBcsObjectDeleted` (purged in the background), the unique
//! natural-key index `<collection>_idx` created on first use.

mod convert;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bson::{Bson, Document as BsonDoc, doc};
use futures::{StreamExt, TryStreamExt};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{
    Acknowledgment, ClientOptions, FindOptions, IndexOptions, UpdateOptions, WriteConcern,
};
use mongodb::{Client, Collection, IndexModel};

use crate::config::MongoSettings;
use crate::model::{Database, Direction, Document, Filter, Namespace, Query, Sort, WriteOutcome};
use crate::store::{
    Change, ChangeKind, ChangeRecord, DocStream, FieldGuard, IndexSpec, Store, StoreError,
};

pub use convert::{filter_to_bson, from_bson_doc, to_bson_doc};

/// The soft-delete flag of the Go service.
pub const DELETED_FLAG: &str = "_isBcsObjectDeleted";

/// A keyed document's version (see `Query::with_revision`): a fresh stamp
/// set by every write of it, so a conditional write can tell whether the
/// document changed since it was read. Never shown to clients.
pub const VERSION_FIELD: &str = "_bcsVersion";

/// A new version stamp: unique (an ObjectId's bytes, in hex).
fn new_version() -> String {
    bson::oid::ObjectId::new().to_hex()
}

/// Removes the internal fields of a document read from MongoDB; with
/// `with_revision`, its version becomes the last member, `REVISION_FIELD`.
fn strip_internal(doc: &mut Document, with_revision: bool) -> Option<String> {
    doc.shift_remove(DELETED_FLAG);
    let version = match doc.shift_remove(VERSION_FIELD) {
        Some(serde_json::Value::String(v)) => Some(v),
        _ => None,
    };
    if with_revision {
        doc.insert(
            crate::model::REVISION_FIELD.into(),
            serde_json::Value::String(version.clone().unwrap_or_default()),
        );
    }
    version
}

/// The MongoDB store.
pub struct MongoStore {
    client: Client,
    /// Change streams wait in `getMore` for up to a second each: they get a
    /// pool of their own so that open watches never starve requests.
    watch_client: Client,
    settings: MongoSettings,
    ensured: Arc<Mutex<HashSet<(String, String)>>>,
    /// Secondary indexes per (database, collection), created with the
    /// collection's other indexes on its first write (creating them at
    /// start-up would create empty collections).
    secondary: Mutex<HashMap<(String, String), Vec<IndexSpec>>>,
    /// Secondary indexes `ensure_index` has seen through (made, or left to
    /// their collection's first write): asked of the database once.
    secondary_done: Mutex<HashSet<(String, String, IndexSpec)>>,
    purger: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The unique indexes of [`Store::insert_once`] per (database,
    /// collection, index name): whether the index could be made.
    once: Mutex<HashMap<(String, String, String), bool>>,
    /// Stamps deletions (`updateTime` of a soft delete) and times purges.
    clock: Arc<dyn crate::clock::Clock>,
}

/// The configured MongoDB database of a logical database.
pub fn database_name(names: &crate::config::MongoDatabases, db: Database) -> &str {
    match db {
        Database::Dynamic => &names.dynamic,
        Database::Event => &names.event,
        Database::Alarm => &names.alarm,
        Database::Metric => &names.metric,
        Database::Watch => &names.watch,
        Database::Host => &names.host,
        Database::ClusterConfig => &names.cluster_config,
    }
}

/// The value at a dotted path of a document.
fn bson_at(doc: &BsonDoc, path: &str) -> Option<Bson> {
    let mut comps = path.split('.');
    let mut v = doc.get(comps.next()?)?.clone();
    for c in comps {
        v = match v {
            Bson::Document(d) => d.get(c)?.clone(),
            _ => return None,
        };
    }
    Some(v)
}

/// The MongoDB index of a secondary index spec.
fn secondary_model(spec: &IndexSpec) -> IndexModel {
    let mut keys = BsonDoc::new();
    for f in &spec.fields {
        keys.insert(f.path.clone(), 1);
    }
    let name: Vec<&str> = spec.fields.iter().map(|f| f.path.as_str()).collect();
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(format!("bcs_query_{}", name.join("_")))
                .build(),
        )
        .build()
}

/// The `_data` of a resume token: the revision handed to watchers.
fn token_text(token: &mongodb::change_stream::event::ResumeToken) -> Option<String> {
    match bson::to_bson(token).ok()? {
        Bson::Document(d) => d.get_str("_data").ok().map(str::to_owned),
        _ => None,
    }
}

/// Why a change stream could not start: a resume point the server no longer
/// has is `Expired`, one it cannot read is invalid.
fn watch_error(e: mongodb::error::Error, since: Option<&str>) -> StoreError {
    let code = match &*e.kind {
        ErrorKind::Command(ce) => Some(ce.code),
        _ => None,
    };
    match code {
        // ChangeStreamHistoryLost, ChangeStreamFatalError (resume point gone).
        Some(286) | Some(280) => StoreError::Expired,
        // FailedToParse, BadValue, InvalidResumeToken.
        Some(9) | Some(2) | Some(260) if since.is_some() => StoreError::InvalidFilter(format!(
            "resourceVersion {:?} is not a revision of this store",
            since.unwrap_or_default()
        )),
        _ => classify(e),
    }
}

/// A change stream event as the feed reports it; None for what watchers do
/// not see (the purge of documents already reported deleted, and writes to
/// documents gone by the time they are looked up, whose delete follows).
fn change_of(
    ev: mongodb::change_stream::event::ChangeStreamEvent<BsonDoc>,
) -> Option<Result<Change, StoreError>> {
    use mongodb::change_stream::event::OperationType;
    let revision = token_text(&ev.id)?;
    // What the update set decides its kind: the document is looked up when
    // the event is read and may show a later state.
    let set = ev.update_description.as_ref().map(|u| &u.updated_fields);
    let kind = match ev.operation_type {
        OperationType::Insert => ChangeKind::Add,
        OperationType::Update if set.is_some_and(|f| f.get_bool(DELETED_FLAG) == Ok(true)) => {
            ChangeKind::Delete
        }
        // A soft-deleted key written again comes back with a new createTime.
        OperationType::Update if set.is_some_and(|f| f.contains_key("createTime")) => {
            ChangeKind::Add
        }
        OperationType::Update | OperationType::Replace => ChangeKind::Change,
        OperationType::Invalidate | OperationType::Drop | OperationType::DropDatabase => {
            return Some(Err(StoreError::Expired));
        }
        _ => return None,
    };
    let mut doc = match ev.full_document {
        Some(full) => from_bson_doc(&full),
        // Gone by the time the event is read (purged): a delete still
        // reports which document went; any other write to it is followed
        // by that delete.
        None if kind == ChangeKind::Delete => from_bson_doc(&ev.document_key?),
        None => return None,
    };
    let version = strip_internal(&mut doc, false);
    let mut record = ChangeRecord::from_doc(revision, kind, doc);
    record.version = version;
    Some(Ok(Change::Event(Arc::new(record))))
}

/// A keyed document as written: its fields without `_id` and `createTime`
/// (live, with a new version stamp), its `createTime`, its natural key, and
/// the filter of the live document with that key.
fn keyed_fields(doc: &Document, key_fields: &[String]) -> (BsonDoc, Bson, BsonDoc, BsonDoc) {
    let mut fields = to_bson_doc(doc);
    fields.remove("_id");
    let create_time = fields.remove("createTime").unwrap_or(Bson::Null);
    fields.insert(DELETED_FLAG, false);
    fields.insert(VERSION_FIELD, new_version());
    let mut key = BsonDoc::new();
    for f in key_fields {
        match bson_at(&fields, f) {
            Some(v) if v != Bson::Null => key.insert(f.clone(), v),
            // Not `null`: an upsert would copy it into a new document.
            _ => key.insert(f.clone(), doc! { "$exists": false }),
        };
    }
    let mut live_key = key.clone();
    live_key.insert(DELETED_FLAG, doc! { "$ne": true });
    (fields, create_time, key, live_key)
}

/// A new document as stored: `_id` an ObjectId when it is one in hex, the
/// deletion flag false.
fn new_document(doc: &Document) -> BsonDoc {
    let mut d = to_bson_doc(doc);
    if let Some(Bson::String(id)) = d.get("_id")
        && let Ok(oid) = bson::oid::ObjectId::parse_str(id)
    {
        d.insert("_id", oid);
    }
    d.insert(DELETED_FLAG, false);
    d
}

fn classify(e: mongodb::error::Error) -> StoreError {
    match *e.kind {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => StoreError::Unavailable(e.to_string()),
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.code == 11000,
        ErrorKind::Command(ce) => ce.code == 11000,
        _ => e.to_string().contains("E11000"),
    }
}

/// An equal index exists under another name, or one of this name with
/// other keys (codes 85, 86).
fn is_index_conflict(e: &mongodb::error::Error) -> bool {
    matches!(*e.kind, ErrorKind::Command(ref c) if c.code == 85 || c.code == 86)
}

/// Whether `<collection>_idx` with these keys is the Go service's and must
/// go: on a collection with a natural key, unless it is exactly that key
/// (then it is the same index as this service's); in an event collection,
/// always (`event_<clusterId>_idx` on the name and resourceVersion of the
/// event's object would refuse every event that lacks them after the
/// first; this service keeps its own partial index for that).
fn retires_go_index(ns: &Namespace, keys: &[&str]) -> bool {
    if ns.key_fields.is_empty() {
        ns.database == Database::Event
    } else {
        keys != ns.key_fields
    }
}

/// The server's own words for a duplicate key (they name the index and the
/// key), without the driver's wrapping.
fn duplicate_message(e: &mongodb::error::Error) -> String {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(we)) => we.message.clone(),
        ErrorKind::Command(ce) => ce.message.clone(),
        _ => "duplicate key".to_owned(),
    }
}

impl MongoStore {
    /// Connects (lazily: the driver connects on first use) and starts the purger.
    /// `_watch` has no MongoDB setting: each watcher reads its own change
    /// stream at its own pace.
    pub async fn open(
        settings: &MongoSettings,
        _watch: &crate::config::WatchSettings,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Result<MongoStore, StoreError> {
        let mut opts = ClientOptions::parse(&settings.uri)
            .await
            .map_err(|e| StoreError::Unavailable(format!("invalid storage.mongodb.uri: {e}")))?;
        opts.app_name = Some("bcs-storage".into());
        opts.max_pool_size = Some(settings.max_pool_size);
        opts.min_pool_size = Some(settings.min_pool_size);
        opts.connect_timeout = Some(Duration::from_millis(settings.connect_timeout_ms));
        opts.server_selection_timeout =
            Some(Duration::from_millis(settings.server_selection_timeout_ms));
        let w = match settings.write_concern.as_str() {
            "majority" => Acknowledgment::Majority,
            n => match n.parse::<u32>() {
                Ok(n) => Acknowledgment::Nodes(n),
                Err(_) => Acknowledgment::Custom(n.to_owned()),
            },
        };
        opts.write_concern = Some(
            WriteConcern::builder()
                .w(w)
                .journal(settings.journal)
                .build(),
        );
        let mut watch_opts = opts.clone();
        // Connections in use, for /metrics (change streams have their own
        // pool and are counted as open watches instead).
        opts.cmap_event_handler = Some(mongodb::event::EventHandler::callback(|ev| {
            use mongodb::event::cmap::CmapEvent;
            let in_use = &crate::metrics::global().mongo_pool_in_use;
            match ev {
                CmapEvent::ConnectionCheckedOut(_) => in_use.inc(),
                CmapEvent::ConnectionCheckedIn(_) => in_use.dec(),
                _ => {}
            }
        }));
        watch_opts.app_name = Some("bcs-storage-watch".into());
        watch_opts.min_pool_size = Some(0);
        let client = Client::with_options(opts).map_err(classify)?;
        let watch_client = Client::with_options(watch_opts).map_err(classify)?;
        let store = MongoStore {
            client,
            watch_client,
            settings: settings.clone(),
            ensured: Arc::new(Mutex::new(HashSet::new())),
            secondary: Mutex::new(HashMap::new()),
            secondary_done: Mutex::new(HashSet::new()),
            purger: Mutex::new(None),
            once: Mutex::new(HashMap::new()),
            clock,
        };
        store.start_purger();
        Ok(store)
    }

    /// The `updateTime` of a soft delete: the purge compares it with its
    /// own clock.
    fn deletion_stamp(&self) -> bson::DateTime {
        bson::DateTime::from_millis(self.clock.now().timestamp_millis())
    }

    fn db_name(&self, db: Database) -> &str {
        database_name(&self.settings.databases, db)
    }

    fn collection(&self, ns: &Namespace) -> Collection<BsonDoc> {
        self.client
            .database(self.db_name(ns.database))
            .collection(&ns.collection)
    }

    /// Makes a secondary index now if its collection exists; one that does
    /// not is given it by its first write (`ensure_indexes`), which reads
    /// the spec from `secondary`.
    async fn make_index(
        &self,
        ns: &Namespace,
        id: &(String, String),
        spec: &IndexSpec,
    ) -> Result<(), StoreError> {
        if let Ok(mut m) = self.secondary.lock() {
            let specs = m.entry(id.clone()).or_default();
            if !specs.contains(spec) {
                specs.push(spec.clone());
            }
        }
        let exists = self
            .client
            .database(&id.0)
            .list_collection_names()
            .filter(doc! { "name": &id.1 })
            .await
            .map_err(classify)?
            .contains(&id.1);
        if exists {
            match self
                .collection(ns)
                .create_index(secondary_model(spec))
                .await
            {
                Ok(_) => {}
                // The same keys under another name (another service's).
                Err(e) if is_index_conflict(&e) => {
                    tracing::debug!(collection = %ns.collection, error = %e, "an equal index exists");
                }
                Err(e) => return Err(classify(e)),
            }
        }
        Ok(())
    }

    /// Creates the natural-key unique index and the deletion-flag index once
    /// per collection and process (no-op when an index of that name exists).
    async fn ensure_indexes(&self, ns: &Namespace) -> Result<(), StoreError> {
        let id = (self.db_name(ns.database).to_owned(), ns.collection.clone());
        if self
            .ensured
            .lock()
            .map(|s| s.contains(&id))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let coll = self.collection(ns);
        // A collection that does not exist yet has no indexes.
        let specs: Vec<IndexModel> = match coll.list_indexes().await {
            Ok(cursor) => cursor.try_collect().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let mut existing: Vec<String> = specs
            .iter()
            .filter_map(|m| m.options.as_ref().and_then(|o| o.name.clone()))
            .collect();
        let key_index = format!("{}_idx", ns.collection);
        let wanted: Vec<&str> = ns.key_fields.to_vec();
        for m in &specs {
            let name = m.options.as_ref().and_then(|o| o.name.as_deref());
            let unique = m.options.as_ref().and_then(|o| o.unique).unwrap_or(false);
            let keys: Vec<&str> = m.keys.keys().map(String::as_str).collect();
            if !unique || name == Some("_id_") || name.is_some_and(|n| n.starts_with("bcs_once_")) {
                continue;
            }
            if name == Some(key_index.as_str()) && retires_go_index(ns, &keys) {
                self.retire_index(ns, &key_index, &keys).await?;
                existing.retain(|n| n != &key_index);
            } else if !wanted.is_empty() && !wanted.iter().all(|w| keys.contains(w)) {
                // Made by another tool (or on request through the custom
                // resource routes): documents distinct by natural key but
                // equal on these keys cannot both be stored.
                tracing::warn!(
                    database = self.db_name(ns.database),
                    collection = %ns.collection,
                    index = name.unwrap_or("?"),
                    keys = ?keys,
                    natural_key = ?wanted,
                    "a unique index does not cover the natural key"
                );
            }
        }
        let mut models = Vec::new();
        if !ns.key_fields.is_empty() && !existing.contains(&key_index) {
            let mut keys = BsonDoc::new();
            for f in ns.key_fields {
                keys.insert(*f, 1);
            }
            models.push(
                IndexModel::builder()
                    .keys(keys)
                    .options(IndexOptions::builder().name(key_index).unique(true).build())
                    .build(),
            );
        }
        let flag_index = "bcs_object_deletion_flag_idx".to_owned();
        if !existing.contains(&flag_index) {
            models.push(
                IndexModel::builder()
                    .keys(doc! { DELETED_FLAG: 1 })
                    .options(IndexOptions::builder().name(flag_index).build())
                    .build(),
            );
        }
        let secondary = self
            .secondary
            .lock()
            .map(|m| m.get(&id).cloned().unwrap_or_default())
            .unwrap_or_default();
        for spec in &secondary {
            let model = secondary_model(spec);
            let name = model.options.as_ref().and_then(|o| o.name.clone());
            if !name.is_some_and(|n| existing.contains(&n)) {
                models.push(model);
            }
        }
        // One at a time: an index that cannot be made (a database written
        // by another service may hold duplicates of a natural key, or an
        // equal index under another name) must not keep the others away,
        // nor refuse the write that asked for them.
        for model in models {
            let name = model
                .options
                .as_ref()
                .and_then(|o| o.name.clone())
                .unwrap_or_default();
            match coll.create_index(model).await {
                Ok(_) => {}
                Err(e) if is_duplicate_key(&e) || is_index_conflict(&e) => {
                    tracing::warn!(
                        database = self.db_name(ns.database),
                        collection = %ns.collection,
                        index = %name,
                        error = %e,
                        "index not created; the collection is served without it"
                    );
                }
                Err(e) => return Err(classify(e)),
            }
        }
        if let Ok(mut s) = self.ensured.lock() {
            s.insert(id);
        }
        Ok(())
    }

    /// Drops a unique index the Go service made under this service's index
    /// name (`<collection>_idx`) that refuses writes this service accepts,
    /// logging it once (the caller then makes its own).
    async fn retire_index(
        &self,
        ns: &Namespace,
        name: &str,
        keys: &[&str],
    ) -> Result<(), StoreError> {
        match self.collection(ns).drop_index(name).await {
            Ok(()) => {
                tracing::warn!(
                    database = self.db_name(ns.database),
                    collection = %ns.collection,
                    index = name,
                    keys = ?keys,
                    natural_key = ?ns.key_fields,
                    "dropped the unique index the Go service made: it refused writes this service accepts; \
                     replaced by this service's own"
                );
                Ok(())
            }
            // Another instance dropped it first.
            Err(e) if matches!(*e.kind, ErrorKind::Command(ref c) if c.code == 27) => Ok(()),
            Err(e) => {
                tracing::error!(
                    database = self.db_name(ns.database),
                    collection = %ns.collection,
                    index = name,
                    error = %e,
                    "cannot drop the unique index the Go service made; writes it refuses keep failing"
                );
                Err(classify(e))
            }
        }
    }

    /// An upsert (`merge` None) or a merge of these fields, by the natural key.
    async fn write_keyed(
        &self,
        ns: &Namespace,
        doc: Document,
        merge: Option<&[&str]>,
    ) -> Result<WriteOutcome, StoreError> {
        self.ensure_indexes(ns).await?;
        let fields: Vec<String> = ns.key_fields.iter().map(|f| (*f).to_owned()).collect();
        self.upsert_by(ns, &fields, doc, merge).await
    }

    /// Insert, or replace the live document equal on `fields` (keeping its
    /// `_id` and `createTime`); a soft-deleted one holding the key comes
    /// back as a new object.
    async fn upsert_by(
        &self,
        ns: &Namespace,
        key_fields: &[String],
        doc: Document,
        merge: Option<&[&str]>,
    ) -> Result<WriteOutcome, StoreError> {
        let coll = self.collection(ns);
        let (fields, create_time, key, live_key) = keyed_fields(&doc, key_fields);
        let version = fields.get_str(VERSION_FIELD).ok().map(str::to_owned);
        let update = match merge {
            None => {
                doc! { "$set": fields.clone(), "$setOnInsert": { "createTime": create_time.clone() } }
            }
            // A merge sets only these on a document that exists; the rest
            // of the new document is written only if it is inserted.
            Some(set) => {
                let mut on_insert = fields.clone();
                let mut changed = BsonDoc::new();
                for f in set.iter().copied().chain([DELETED_FLAG, VERSION_FIELD]) {
                    if let Some(v) = on_insert.remove(f) {
                        changed.insert(f, v);
                    }
                }
                for f in key_fields {
                    on_insert.remove(f);
                }
                on_insert.insert("createTime", create_time.clone());
                doc! { "$set": changed, "$setOnInsert": on_insert }
            }
        };
        let opts = UpdateOptions::builder().upsert(true).build();
        let mut last_duplicate = String::new();
        for _ in 0..3 {
            match coll
                .update_one(live_key.clone(), update.clone())
                .with_options(opts.clone())
                .await
            {
                Ok(r) => {
                    return Ok(WriteOutcome {
                        created: r.upserted_id.is_some(),
                        revision: None,
                        version,
                    });
                }
                Err(e) if is_duplicate_key(&e) => {
                    last_duplicate = duplicate_message(&e);
                    // A soft-deleted document holds the key: bring it back as
                    // a new object (fresh createTime).
                    let mut dead_key = key.clone();
                    dead_key.insert(DELETED_FLAG, true);
                    let mut revive = fields.clone();
                    revive.insert("createTime", create_time.clone());
                    let r = coll
                        .update_one(dead_key, doc! { "$set": revive })
                        .await
                        .map_err(classify)?;
                    if r.matched_count == 1 {
                        return Ok(WriteOutcome {
                            created: true,
                            revision: None,
                            version,
                        });
                    }
                    // Raced with a concurrent writer: try again.
                }
                Err(e) => return Err(classify(e)),
            }
        }
        // Either writers keep racing on this key, or a unique index other
        // than the natural key rejects the document: the server's message
        // names the index.
        Err(StoreError::Conflict(format!(
            "the document conflicts with a unique index of collection {}: {last_duplicate}",
            ns.collection
        )))
    }

    /// [`Store::upsert_if`]: a create that never replaces, or a replace of
    /// the live document that still has the expected version.
    async fn upsert_expecting(
        &self,
        ns: &Namespace,
        doc: Document,
        expect: crate::model::Expect<'_>,
    ) -> Result<WriteOutcome, StoreError> {
        use crate::model::Expect;
        self.ensure_indexes(ns).await?;
        let key_fields: Vec<String> = ns.key_fields.iter().map(|f| (*f).to_owned()).collect();
        let coll = self.collection(ns);
        let (mut fields, create_time, key, live_key) = keyed_fields(&doc, &key_fields);
        let version = fields.get_str(VERSION_FIELD).ok().map(str::to_owned);
        let written = |created| WriteOutcome {
            created,
            revision: None,
            version: version.clone(),
        };
        match expect {
            Expect::Absent => {
                fields.insert("createTime", create_time);
                let opts = UpdateOptions::builder().upsert(true).build();
                match coll
                    .update_one(live_key, doc! { "$setOnInsert": fields.clone() })
                    .with_options(opts)
                    .await
                {
                    Ok(r) if r.upserted_id.is_some() => Ok(written(true)),
                    Ok(_) => Err(StoreError::Conflict("the document exists already".into())),
                    Err(e) if is_duplicate_key(&e) => {
                        // A soft-deleted document holds the key: it comes
                        // back as the new object.
                        let mut dead_key = key;
                        dead_key.insert(DELETED_FLAG, true);
                        let r = coll
                            .update_one(dead_key, doc! { "$set": fields })
                            .await
                            .map_err(classify)?;
                        if r.matched_count == 1 {
                            Ok(written(true))
                        } else {
                            Err(StoreError::Conflict("the document exists already".into()))
                        }
                    }
                    Err(e) => Err(classify(e)),
                }
            }
            Expect::Version(v) => {
                let mut guarded = live_key.clone();
                if v.is_empty() {
                    // Written before versions were stamped.
                    guarded.insert(VERSION_FIELD, doc! { "$exists": false });
                } else {
                    guarded.insert(VERSION_FIELD, v);
                }
                let r = coll
                    .update_one(guarded, doc! { "$set": fields })
                    .await
                    .map_err(classify)?;
                if r.matched_count == 1 {
                    return Ok(written(false));
                }
                match coll.find_one(live_key).await.map_err(classify)? {
                    Some(_) => Err(StoreError::Conflict(
                        "the document has changed since that version".into(),
                    )),
                    None => Err(StoreError::NotFound),
                }
            }
        }
    }

    /// Makes the partial unique index that keeps [`Store::insert_once`]
    /// atomic: documents that are live and hold strings at every field.
    /// False when it cannot be made because the collection already holds
    /// duplicates (written before it existed); the caller then checks
    /// before inserting.
    async fn ensure_once_index(
        &self,
        ns: &Namespace,
        fields: &[&str],
    ) -> Result<(String, bool), StoreError> {
        let name = format!("bcs_once_{}", fields.join("_"));
        let id = (
            self.db_name(ns.database).to_owned(),
            ns.collection.clone(),
            name.clone(),
        );
        if let Some(made) = self.once.lock().ok().and_then(|m| m.get(&id).copied()) {
            return Ok((name, made));
        }
        let mut keys = BsonDoc::new();
        let mut partial = BsonDoc::new();
        for f in fields {
            keys.insert(*f, 1);
            partial.insert(*f, doc! { "$type": "string" });
        }
        partial.insert(DELETED_FLAG, false);
        let model = IndexModel::builder()
            .keys(keys)
            .options(
                IndexOptions::builder()
                    .name(name.clone())
                    .unique(true)
                    .partial_filter_expression(partial)
                    .build(),
            )
            .build();
        let made = match self.collection(ns).create_index(model).await {
            Ok(_) => true,
            Err(e) => {
                let e = if is_duplicate_key(&e) {
                    e
                } else {
                    match classify(e) {
                        StoreError::Unavailable(m) => return Err(StoreError::Unavailable(m)),
                        other => {
                            tracing::warn!(
                                collection = %ns.collection,
                                index = %name,
                                error = %other,
                                "cannot create the duplicate-detection index; checking before each insert instead"
                            );
                            return self.remember_once(id, name, false);
                        }
                    }
                };
                tracing::warn!(
                    collection = %ns.collection,
                    index = %name,
                    error = %duplicate_message(&e),
                    "the collection already holds duplicates; checking before each insert instead"
                );
                false
            }
        };
        self.remember_once(id, name, made)
    }

    fn remember_once(
        &self,
        id: (String, String, String),
        name: String,
        made: bool,
    ) -> Result<(String, bool), StoreError> {
        if let Ok(mut m) = self.once.lock() {
            m.insert(id, made);
        }
        Ok((name, made))
    }

    fn live(filter: &Filter) -> BsonDoc {
        let f = filter_to_bson(filter);
        let not_deleted = doc! { DELETED_FLAG: { "$ne": true } };
        if f.is_empty() {
            not_deleted
        } else {
            doc! { "$and": [f, not_deleted] }
        }
    }

    /// Runs the purge of soft-deleted documents once, as at `now`; returns
    /// how many were removed.
    pub async fn purge(&self, now: chrono::DateTime<chrono::Utc>) -> u64 {
        purge_once(&self.client, &self.settings, now).await
    }

    fn start_purger(&self) {
        let client = self.client.clone();
        let settings = self.settings.clone();
        let clock = self.clock.clone();
        let every = Duration::from_secs(settings.purge_interval_secs.max(1));
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                purge_once(&client, &settings, clock.now()).await;
            }
        });
        if let Ok(mut p) = self.purger.lock() {
            *p = Some(handle);
        }
    }
}

/// Removes soft-deleted documents, in every database of the service, whose
/// deletion is older than the setting (flagged documents without an
/// `updateTime`, which only other writers leave, go too). Returns how many.
async fn purge_once(
    client: &Client,
    settings: &MongoSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> u64 {
    let cutoff = bson::DateTime::from_millis(
        now.timestamp_millis() - (settings.purge_after_secs as i64) * 1000,
    );
    let mut total = 0;
    for db in Database::ALL {
        let db_name = database_name(&settings.databases, db);
        let db = client.database(db_name);
        let Ok(names) = db.list_collection_names().await else {
            continue;
        };
        let mut purged = 0u64;
        for name in names {
            let coll = db.collection::<BsonDoc>(&name);
            let filter = doc! {
                DELETED_FLAG: true,
                "$or": [
                    { "updateTime": { "$lt": cutoff } },
                    { "updateTime": { "$exists": false } },
                ],
            };
            match coll.delete_many(filter).await {
                Ok(r) => purged += r.deleted_count,
                Err(e) => {
                    tracing::warn!(database = %db_name, collection = %name, error = %e, "purge failed")
                }
            }
        }
        if purged > 0 {
            tracing::info!(database = %db_name, purged, "purged soft-deleted documents");
        }
        total += purged;
    }
    total
}

#[async_trait]
impl Store for MongoStore {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    async fn upsert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError> {
        self.write_keyed(ns, doc, None).await
    }

    async fn upsert_if(
        &self,
        ns: &Namespace,
        doc: Document,
        expect: crate::model::Expect<'_>,
    ) -> Result<WriteOutcome, StoreError> {
        self.upsert_expecting(ns, doc, expect).await
    }

    fn versions(&self) -> crate::store::Versions {
        crate::store::Versions::Stamps
    }

    async fn delete_if(
        &self,
        ns: &Namespace,
        key: &Document,
        version: &str,
    ) -> Result<(), StoreError> {
        let key_fields: Vec<String> = ns.key_fields.iter().map(|f| (*f).to_owned()).collect();
        let (_, _, _, live_key) = keyed_fields(key, &key_fields);
        let mut guarded = live_key.clone();
        if version.is_empty() {
            guarded.insert(VERSION_FIELD, doc! { "$exists": false });
        } else {
            guarded.insert(VERSION_FIELD, version);
        }
        let coll = self.collection(ns);
        let r = coll
            .update_one(
                guarded,
                doc! { "$set": { DELETED_FLAG: true, "updateTime": self.deletion_stamp() } },
            )
            .await
            .map_err(classify)?;
        if r.matched_count == 1 {
            return Ok(());
        }
        match coll.find_one(live_key).await.map_err(classify)? {
            Some(_) => Err(StoreError::Conflict(
                "the document has changed since that version".into(),
            )),
            None => Err(StoreError::NotFound),
        }
    }

    async fn merge(
        &self,
        ns: &Namespace,
        doc: Document,
        set: &[&str],
    ) -> Result<WriteOutcome, StoreError> {
        self.write_keyed(ns, doc, Some(set)).await
    }

    async fn update_many(
        &self,
        ns: &Namespace,
        filter: &Filter,
        set: &Document,
    ) -> Result<u64, StoreError> {
        if set.is_empty() {
            return Ok(0);
        }
        let r = self
            .collection(ns)
            .update_many(Self::live(filter), {
                let mut set = to_bson_doc(set);
                set.insert(VERSION_FIELD, new_version());
                doc! { "$set": set }
            })
            .await
            .map_err(classify)?;
        Ok(r.matched_count)
    }

    async fn insert(&self, ns: &Namespace, doc: Document) -> Result<WriteOutcome, StoreError> {
        self.ensure_indexes(ns).await?;
        self.collection(ns)
            .insert_one(new_document(&doc))
            .await
            .map_err(|e| {
                if is_duplicate_key(&e) {
                    StoreError::Conflict(format!(
                        "the document violates a unique index of collection {}: {}",
                        ns.collection,
                        duplicate_message(&e)
                    ))
                } else {
                    classify(e)
                }
            })?;
        Ok(WriteOutcome {
            created: true,
            revision: None,
            version: None,
        })
    }

    async fn insert_once(
        &self,
        ns: &Namespace,
        fields: &[&str],
        doc: Document,
    ) -> Result<bool, StoreError> {
        self.ensure_indexes(ns).await?;
        let (index, atomic) = self.ensure_once_index(ns, fields).await?;
        let d = new_document(&doc);
        if !atomic {
            let mut equal = BsonDoc::new();
            for f in fields {
                match bson_at(&d, f) {
                    Some(Bson::String(s)) => equal.insert(*f, s),
                    _ => {
                        equal.clear();
                        break;
                    }
                };
            }
            if !equal.is_empty() {
                equal.insert(DELETED_FLAG, doc! { "$ne": true });
                let found = self
                    .collection(ns)
                    .find_one(equal)
                    .await
                    .map_err(classify)?;
                if found.is_some() {
                    return Ok(false);
                }
            }
        }
        match self.collection(ns).insert_one(d).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) && duplicate_message(&e).contains(&index) => Ok(false),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict(format!(
                "the document violates a unique index of collection {}: {}",
                ns.collection,
                duplicate_message(&e)
            ))),
            Err(e) => Err(classify(e)),
        }
    }

    async fn upsert_on(
        &self,
        ns: &Namespace,
        fields: &[String],
        doc: Document,
    ) -> Result<WriteOutcome, StoreError> {
        self.ensure_indexes(ns).await?;
        let coll = self.collection(ns);
        let mut new = to_bson_doc(&doc);
        if let Some(Bson::String(id)) = new.get("_id")
            && let Ok(oid) = bson::oid::ObjectId::parse_str(id)
        {
            new.insert("_id", oid);
        }
        new.insert(DELETED_FLAG, false);
        // Equality on each field; null also matches a missing field, as the
        // unique index sees them.
        let mut key = BsonDoc::new();
        for f in fields {
            key.insert(f.clone(), bson_at(&new, f).unwrap_or(Bson::Null));
        }
        let mut last_duplicate = String::new();
        for _ in 0..3 {
            // The live holder of the key is replaced in place (its `_id` and
            // createTime kept); then a soft-deleted one comes back as a new
            // object; else the document is inserted.
            for live in [true, false] {
                let mut filter = key.clone();
                if live {
                    filter.insert(DELETED_FLAG, doc! { "$ne": true });
                } else {
                    filter.insert(DELETED_FLAG, true);
                }
                let old = coll.find_one(filter).await.map_err(classify)?;
                if let Some(old) = old {
                    let mut replacement = new.clone();
                    replacement.insert("_id", old.get("_id").cloned().unwrap_or(Bson::Null));
                    if live && let Some(created) = old.get("createTime") {
                        replacement.insert("createTime", created.clone());
                    }
                    let r = coll
                        .replace_one(
                            doc! { "_id": old.get("_id").cloned().unwrap_or(Bson::Null) },
                            replacement,
                        )
                        .await;
                    match r {
                        Ok(r) if r.matched_count == 1 => {
                            return Ok(WriteOutcome {
                                created: !live,
                                revision: None,
                                version: None,
                            });
                        }
                        // Gone meanwhile, or another unique index refuses
                        // it (the insert below then says which).
                        Ok(_) => {}
                        Err(e) if is_duplicate_key(&e) => {}
                        Err(e) => return Err(classify(e)),
                    }
                }
            }
            match coll.insert_one(new.clone()).await {
                Ok(_) => {
                    return Ok(WriteOutcome {
                        created: true,
                        revision: None,
                        version: None,
                    });
                }
                // Raced with another writer of the key: look again.
                Err(e) if is_duplicate_key(&e) => last_duplicate = duplicate_message(&e),
                Err(e) => return Err(classify(e)),
            }
        }
        Err(StoreError::Conflict(format!(
            "the document conflicts with a unique index of collection {}: {last_duplicate}",
            ns.collection
        )))
    }

    async fn set_internal_field(
        &self,
        ns: &Namespace,
        doc: &Document,
        field: &str,
        value: serde_json::Value,
        guard: FieldGuard<'_>,
    ) -> Result<bool, StoreError> {
        let id = match doc.get("_id") {
            Some(serde_json::Value::String(s)) => match bson::oid::ObjectId::parse_str(s) {
                Ok(oid) => Bson::ObjectId(oid),
                Err(_) => Bson::String(s.clone()),
            },
            _ => return Err(StoreError::Internal("the document has no _id".into())),
        };
        let value = to_bson_doc(&std::iter::once(("v".to_owned(), value)).collect())
            .remove("v")
            .unwrap_or(Bson::Null);
        let filter = match guard {
            FieldGuard::Absent(p) => doc! { "_id": id, p: { "$exists": false } },
            FieldGuard::Equals(p, v) => doc! { "_id": id, p: v },
        };
        let r = self
            .collection(ns)
            .update_one(filter, doc! { "$set": { field: value } })
            .await
            .map_err(classify)?;
        Ok(r.modified_count > 0)
    }

    async fn create_unique_index(
        &self,
        ns: &Namespace,
        name: &str,
        fields: &[String],
    ) -> Result<bool, StoreError> {
        self.ensure_indexes(ns).await?;
        let coll = self.collection(ns);
        let existing: Vec<IndexModel> = match coll.list_indexes().await {
            Ok(cursor) => cursor.try_collect().await.map_err(classify)?,
            Err(_) => Vec::new(),
        };
        if existing
            .iter()
            .any(|m| m.options.as_ref().and_then(|o| o.name.as_deref()) == Some(name))
        {
            return Ok(false);
        }
        let mut keys = BsonDoc::new();
        for f in fields {
            keys.insert(f.clone(), 1);
        }
        let model = IndexModel::builder()
            .keys(keys)
            .options(
                IndexOptions::builder()
                    .name(name.to_owned())
                    .unique(true)
                    .build(),
            )
            .build();
        let refused = |e: mongodb::error::Error| {
            if is_duplicate_key(&e) {
                StoreError::Conflict(format!(
                    "documents of the collection already have equal values for {fields:?}"
                ))
            } else {
                classify(e)
            }
        };
        match coll.create_index(model.clone()).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => {
                // Deleted documents (kept until the purger runs) must not
                // block the index: remove them now and try once more.
                coll.delete_many(doc! { DELETED_FLAG: true })
                    .await
                    .map_err(classify)?;
                coll.create_index(model).await.map_err(refused)?;
                Ok(true)
            }
            Err(e) => Err(refused(e)),
        }
    }

    async fn drop_unique_index(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        let known = self
            .unique_indexes(ns)
            .await?
            .into_iter()
            .any(|(n, _)| n == name);
        if !known {
            return Err(StoreError::NotFound);
        }
        self.collection(ns).drop_index(name).await.map_err(classify)
    }

    async fn unique_indexes(
        &self,
        ns: &Namespace,
    ) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let models: Vec<IndexModel> = match self.collection(ns).list_indexes().await {
            Ok(cursor) => cursor.try_collect().await.map_err(classify)?,
            Err(_) => return Ok(Vec::new()),
        };
        let natural = format!("{}_idx", ns.collection);
        Ok(models
            .into_iter()
            .filter_map(|m| {
                let o = m.options.as_ref()?;
                let name = o.name.clone()?;
                (o.unique == Some(true) && name != "_id_" && name != natural)
                    .then(|| (name, m.keys.keys().cloned().collect()))
            })
            .collect())
    }

    async fn find(&self, ns: &Namespace, query: &Query) -> Result<DocStream, StoreError> {
        let coll = self.collection(ns);
        let mut opts = FindOptions::default();
        let with_revision = query.with_revision;
        if let Some(p) = &query.projection {
            let mut proj = BsonDoc::new();
            for path in p.paths() {
                proj.insert(path.clone(), 1);
            }
            if with_revision {
                proj.insert(VERSION_FIELD, 1);
            }
            opts.projection = Some(proj);
        }
        let mut sort = BsonDoc::new();
        match &query.sort {
            Sort::NaturalKey => {}
            Sort::Fields(fields) => {
                for (path, dir) in fields {
                    sort.insert(path.clone(), if *dir == Direction::Asc { 1 } else { -1 });
                }
            }
        }
        for f in ns.key_fields {
            if !sort.contains_key(*f) {
                sort.insert(*f, 1);
            }
        }
        sort.insert("_id", 1);
        opts.sort = Some(sort);
        opts.skip = Some(query.skip.min(i64::MAX as u64));
        opts.limit = query.limit.map(|l| l.min(i64::MAX as u64) as i64);
        let filter = match &query.after {
            Some(after) => Filter::and([
                query.filter.clone(),
                crate::model::key_after(ns.key_fields, after),
            ]),
            None => query.filter.clone(),
        };
        let cursor = coll
            .find(Self::live(&filter))
            .with_options(opts)
            .await
            .map_err(classify)?;
        Ok(cursor
            .map_err(classify)
            .map(move |r| {
                r.map(|d| {
                    let mut out = from_bson_doc(&d);
                    strip_internal(&mut out, with_revision);
                    out
                })
            })
            .boxed())
    }

    async fn count(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        self.collection(ns)
            .count_documents(Self::live(filter))
            .await
            .map_err(classify)
    }

    async fn delete_many(&self, ns: &Namespace, filter: &Filter) -> Result<u64, StoreError> {
        let now = self.deletion_stamp();
        let r = self
            .collection(ns)
            .update_many(
                Self::live(filter),
                doc! { "$set": { DELETED_FLAG: true, "updateTime": now } },
            )
            .await
            .map_err(classify)?;
        Ok(r.modified_count)
    }

    async fn distinct(
        &self,
        ns: &Namespace,
        path: &str,
        filter: &Filter,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let values = self
            .collection(ns)
            .distinct(path, Self::live(filter))
            .await
            .map_err(classify)?;
        let doc: BsonDoc = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect();
        let json = from_bson_doc(&doc);
        Ok(json.into_iter().map(|(_, v)| v).collect())
    }

    async fn revision(&self, ns: &Namespace) -> Result<String, StoreError> {
        let coll = self
            .watch_client
            .database(self.db_name(ns.database))
            .collection::<BsonDoc>(&ns.collection);
        let stream = coll.watch().await.map_err(|e| watch_error(e, None))?;
        stream
            .resume_token()
            .and_then(|t| token_text(&t))
            .ok_or_else(|| StoreError::Internal("the change stream gave no resume token".into()))
    }

    async fn changes(
        &self,
        ns: &Namespace,
        since: Option<&str>,
    ) -> Result<crate::store::ChangeFeed, StoreError> {
        use mongodb::change_stream::event::ResumeToken;
        use mongodb::options::FullDocumentType;
        let coll = self
            .watch_client
            .database(self.db_name(ns.database))
            .collection::<BsonDoc>(&ns.collection);
        let mut watch = coll
            .watch()
            .full_document(FullDocumentType::UpdateLookup)
            .max_await_time(Duration::from_secs(1));
        if let Some(since) = since {
            let token: ResumeToken = bson::from_bson(Bson::Document(doc! { "_data": since }))
                .map_err(|e| StoreError::InvalidFilter(format!("resourceVersion: {e}")))?;
            watch = watch.resume_after(token);
        }
        let stream = watch.await.map_err(|e| watch_error(e, since))?;
        let start = stream.resume_token().and_then(|t| token_text(&t));
        let first = start.map(|t| Ok(Change::Progress(t)));
        let state = (stream, None::<String>);
        let events = futures::stream::unfold(state, |(mut stream, mut shown)| async move {
            loop {
                match stream.next_if_any().await {
                    Ok(Some(ev)) => {
                        if let Some(change) = change_of(ev) {
                            return Some((change, (stream, shown)));
                        }
                    }
                    Ok(None) => {
                        if !stream.is_alive() {
                            return None;
                        }
                        let at = stream.resume_token().and_then(|t| token_text(&t));
                        if at.is_some() && at != shown {
                            shown = at.clone();
                            let at = at.unwrap_or_default();
                            return Some((Ok(Change::Progress(at)), (stream, shown)));
                        }
                    }
                    Err(e) => return Some((Err(classify(e)), (stream, shown))),
                }
            }
        });
        Ok(futures::stream::iter(first)
            .chain(events)
            .scan(false, |failed, item| {
                // Nothing after an error.
                let out = if *failed { None } else { Some(item) };
                if matches!(out, Some(Err(_))) {
                    *failed = true;
                }
                futures::future::ready(out)
            })
            .boxed())
    }

    async fn ensure_index(&self, ns: &Namespace, spec: &IndexSpec) -> Result<(), StoreError> {
        let id = (self.db_name(ns.database).to_owned(), ns.collection.clone());
        // Asked of the database once per index and process (the event
        // routes call this on every request); a failure is tried again.
        let done = (id.0.clone(), id.1.clone(), spec.clone());
        if self.secondary_done.lock().is_ok_and(|d| d.contains(&done)) {
            return Ok(());
        }
        self.make_index(ns, &id, spec).await?;
        if let Ok(mut d) = self.secondary_done.lock() {
            d.insert(done);
        }
        Ok(())
    }

    async fn list_collections(&self, database: Database) -> Result<Vec<String>, StoreError> {
        let mut names = self
            .client
            .database(self.db_name(database))
            .list_collection_names()
            .await
            .map_err(classify)?;
        names.retain(|n| !n.starts_with("system."));
        names.sort();
        Ok(names)
    }

    async fn close(&self) {
        if let Some(h) = self.purger.lock().ok().and_then(|mut p| p.take()) {
            h.abort();
        }
    }
}
