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

/// One cluster's stored resources: how many documents of each type.
#[derive(Debug, serde::Serialize, PartialEq)]
pub struct Summary {
    #[serde(rename = "clusterId")]
    pub cluster_id: String,
    /// Documents per resource type (collection), by name.
    pub resources: std::collections::BTreeMap<String, u64>,
    /// Their sum.
    pub total: u64,
}

/// Every cluster with documents in the dynamic database, with a count per
/// resource type, ordered by cluster id (what the console's first page
/// shows). One `distinct` and one count per cluster and collection.
pub async fn summaries(svc: &Service) -> Result<Vec<Summary>, DomainError> {
    let mut by_cluster: std::collections::BTreeMap<String, Summary> = Default::default();
    for collection in svc.store.list_collections(Database::Dynamic).await? {
        let ns = Namespace {
            database: Database::Dynamic,
            collection: collection.clone(),
            key_fields: &[],
        };
        let ids = svc.store.distinct(&ns, "clusterId", &Filter::all()).await?;
        for id in ids.into_iter().filter_map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        }) {
            let eq = Filter::Eq("clusterId".into(), Value::String(id.clone()));
            let n = svc.store.count(&ns, &eq).await?;
            if n == 0 {
                continue;
            }
            let s = by_cluster.entry(id.clone()).or_insert_with(|| Summary {
                cluster_id: id,
                resources: Default::default(),
                total: 0,
            });
            s.resources.insert(collection.clone(), n);
            s.total += n;
        }
    }
    Ok(by_cluster.into_values().collect())
}
