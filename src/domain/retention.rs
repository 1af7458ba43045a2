//! Retention (contract section 6, reference G.5): events older than
//! `event_max_day` and alarms older than `alarm_max_day` are removed, and
//! only the newest `alarm_max_cap` alarms are kept. One run is a function of
//! the store and "now", so tests drive it with any clock; the server runs it
//! in the background every `interval_secs`.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;

use crate::config::RetentionSettings;
use crate::model::{
    Bound, Database, Direction, Filter, Namespace, Projection, Query, RangeOp, Sort,
};
use crate::store::{Store, StoreError};

/// What one run removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub events: u64,
    pub expired_alarms: u64,
    pub capped_alarms: u64,
}

const DAY_MS: i64 = 86_400_000;

/// Ids deleted per statement when capping.
const CAP_CHUNK: u64 = 500;

/// One run of the cleaner at `now`.
pub async fn run_once(
    store: &dyn Store,
    settings: &RetentionSettings,
    now: DateTime<Utc>,
) -> Result<Removed, StoreError> {
    let mut removed = Removed::default();
    let cutoff = |days: u64| {
        now.timestamp_millis()
            .saturating_sub((days.min(i64::MAX as u64 / DAY_MS as u64) as i64) * DAY_MS)
    };
    let events_before = Filter::Range(
        "eventTime".into(),
        RangeOp::Lt,
        Bound::Instant(cutoff(settings.event_max_day)),
    );
    for collection in store.list_collections(Database::Event).await? {
        let ns = Namespace {
            database: Database::Event,
            collection,
            key_fields: &[],
        };
        removed.events += store.delete_many(&ns, &events_before).await?;
    }
    let alarms = super::alarms::namespace();
    removed.expired_alarms = store
        .delete_many(
            &alarms,
            &Filter::Range(
                "receivedTime".into(),
                RangeOp::Lt,
                Bound::Instant(cutoff(settings.alarm_max_day)),
            ),
        )
        .await?;
    // Beyond the cap: everything after the newest `alarm_max_cap`, in the
    // order the list shows (receivedTime descending, then `_id`).
    loop {
        let mut q = Query::new(Filter::all());
        q.sort = Sort::Fields(vec![("receivedTime".into(), Direction::Desc)]);
        q.projection = Some(Projection::new(vec!["_id".to_owned()]));
        q.skip = settings.alarm_max_cap;
        q.limit = Some(CAP_CHUNK);
        let ids: Vec<Value> = store
            .find(&alarms, &q)
            .await?
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter_map(|d| d.get("_id").cloned())
            .collect();
        if ids.is_empty() {
            break;
        }
        let n = store
            .delete_many(&alarms, &Filter::In("_id".into(), ids))
            .await?;
        removed.capped_alarms += n;
        if n == 0 {
            break;
        }
    }
    Ok(removed)
}
