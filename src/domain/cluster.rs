//! Cluster clean (contract section 9, reference B.9): every document of one
//! cluster in the dynamic and event databases is deleted, with a count per
//! database. Other clusters are untouched; repeating it deletes nothing more.

use serde_json::{Value, json};

use super::dynamic::check_segment;
use super::{DomainError, Service};
use crate::model::{Database, Filter, Namespace};

/// Deletes the cluster's documents; answers
/// `[{"clusterId": ..., "deletedCounts": {"dynamic": n, "event": m}}]`.
pub async fn clean(svc: &Service, cluster_id: &str) -> Result<Value, DomainError> {
    check_segment("clusterId", cluster_id)?;
    let filter = Filter::Eq("clusterId".into(), Value::String(cluster_id.to_owned()));
    let mut counts = serde_json::Map::new();
    for database in [Database::Dynamic, Database::Event] {
        let mut deleted = 0u64;
        for collection in svc.store.list_collections(database).await? {
            // No natural key: custom collections of the dynamic database are
            // keyed by `_id`, so only the field itself decides.
            let ns = Namespace {
                database,
                collection,
                key_fields: &[],
            };
            deleted += svc.store.delete_many(&ns, &filter).await?;
        }
        counts.insert(database.as_str().to_owned(), Value::from(deleted));
    }
    let shown = Value::Object(counts.clone()).to_string();
    tracing::info!(cluster = cluster_id, counts = %shown, "cluster data deleted");
    Ok(json!([{"clusterId": cluster_id, "deletedCounts": counts}]))
}
