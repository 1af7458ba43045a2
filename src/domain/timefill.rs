//! Keeps the time instants of dynamic documents (`_bcsTimes`, see
//! [`super::times`]) right, in the background after start-up:
//!
//! 1. documents without them (written by the Go service on the same MongoDB
//!    database) get them;
//! 2. documents whose instants were derived from naive times in another
//!    zone than the configured one (`query.time_zone` changed), or by a
//!    version that did not record the zone, get them derived again.
//!
//! Time-range queries are right for every document once a run ends;
//! `/readyz` reports while one runs. Each write is guarded by what was read
//! (the instants absent, or the same zone recorded), so a PUT racing with
//! the run always wins.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use futures::TryStreamExt;
use serde_json::{Value, json};

use super::dynamic::DYNAMIC_KEY;
use super::query::{TIME_PATHS, time_collections};
use super::times::{SHADOW_FIELD, ZONE_KEY, ZONE_PATH, shadow_times};
use crate::config::TimeZone;
use crate::model::{Database, Document, Filter, Namespace, Projection, Query};
use crate::store::{FieldGuard, Store, StoreError};

/// Documents read per step.
const BATCH: u64 = 500;

/// Progress of the background run, for `/readyz`.
#[derive(Debug)]
pub struct TimeFill {
    zone: String,
    running: AtomicBool,
    filled: AtomicU64,
    rederived: AtomicU64,
}

impl TimeFill {
    /// A run for `zone`, not started.
    pub fn new(zone: &TimeZone) -> TimeFill {
        TimeFill {
            zone: zone.name(),
            running: AtomicBool::new(false),
            filled: AtomicU64::new(0),
            rederived: AtomicU64::new(0),
        }
    }

    /// Whether the run is still going.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// What `/readyz` shows.
    pub fn status(&self) -> Value {
        json!({
            "zone": self.zone,
            "rederiving": self.running(),
            "filled": self.filled.load(Ordering::Relaxed),
            "rederived": self.rederived.load(Ordering::Relaxed),
        })
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FillCounts {
    /// Documents that had no instants.
    pub filled: u64,
    /// Documents whose instants were derived again.
    pub rederived: u64,
}

/// Runs both steps over every collection the query tables read.
pub async fn run(
    store: &dyn Store,
    zone: &TimeZone,
    progress: &TimeFill,
) -> Result<FillCounts, StoreError> {
    progress.running.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let result = run_steps(store, zone, progress).await;
    progress.running.store(false, Ordering::Relaxed);
    if let Ok(c) = &result
        && (c.filled > 0 || c.rederived > 0)
    {
        tracing::info!(
            filled = c.filled,
            rederived = c.rederived,
            zone = %zone.name(),
            ms = started.elapsed().as_millis() as u64,
            "time instants of dynamic documents brought up to date"
        );
    }
    result
}

async fn run_steps(
    store: &dyn Store,
    zone: &TimeZone,
    progress: &TimeFill,
) -> Result<FillCounts, StoreError> {
    let mut counts = FillCounts::default();
    let current = Value::String(zone.name());
    let zone_at = ZONE_PATH;
    // Without instants at all.
    let missing = Filter::Exists(SHADOW_FIELD.into(), false);
    // Derived in another zone, or by a version that did not record it.
    let stale = Filter::and([
        Filter::Exists(SHADOW_FIELD.into(), true),
        Filter::Or(vec![
            Filter::Exists(zone_at.into(), false),
            Filter::and([
                Filter::Not(Box::new(Filter::Eq(zone_at.into(), Value::Null))),
                Filter::Not(Box::new(Filter::Eq(zone_at.into(), current))),
            ]),
        ]),
    ]);
    let collections: BTreeSet<&str> = time_collections().collect();
    for collection in collections {
        let ns = Namespace {
            database: Database::Dynamic,
            collection: collection.to_owned(),
            key_fields: DYNAMIC_KEY,
        };
        let n = fill(store, &ns, &missing, zone, |_| {
            FieldGuard::Absent(SHADOW_FIELD)
        })
        .await?;
        counts.filled += n;
        progress.filled.fetch_add(n, Ordering::Relaxed);
        let n = fill(store, &ns, &stale, zone, |d| {
            match d.get(SHADOW_FIELD).and_then(|t| t.get(ZONE_KEY)) {
                Some(Value::String(old)) => FieldGuard::Equals(zone_at, old),
                _ => FieldGuard::Absent(zone_at),
            }
        })
        .await?;
        counts.rederived += n;
        progress.rederived.fetch_add(n, Ordering::Relaxed);
    }
    Ok(counts)
}

/// Gives every document of `ns` matching `which` its instants derived in
/// `zone`, each write guarded by `guard` of the document as read.
async fn fill(
    store: &dyn Store,
    ns: &Namespace,
    which: &Filter,
    zone: &TimeZone,
    guard: impl for<'d> Fn(&'d Document) -> FieldGuard<'d>,
) -> Result<u64, StoreError> {
    let mut fields: Vec<String> = DYNAMIC_KEY.iter().map(|f| (*f).to_owned()).collect();
    fields.extend(TIME_PATHS.iter().map(|p| (*p).to_owned()));
    fields.push(ZONE_PATH.to_owned());
    let mut total = 0;
    loop {
        let mut q = Query::new(which.clone());
        q.projection = Some(Projection::new(fields.clone()));
        q.limit = Some(BATCH);
        let docs: Vec<Document> = store.find(ns, &q).await?.try_collect().await?;
        if docs.is_empty() {
            return Ok(total);
        }
        let mut changed = 0;
        for chunk in docs.chunks(64) {
            let writes = chunk.iter().map(|d| {
                let times = shadow_times(d, TIME_PATHS.iter().copied(), zone);
                store.set_internal_field(ns, d, SHADOW_FIELD, Value::Object(times), guard(d))
            });
            for r in futures::future::join_all(writes).await {
                if r? {
                    changed += 1;
                }
            }
        }
        total += changed;
        if changed == 0 {
            tracing::warn!(
                collection = %ns.collection,
                left = docs.len(),
                "time instants could not be brought up to date for some documents"
            );
            return Ok(total);
        }
    }
}
