//! Store conformance: every backend behaves the same through the `Store`
//! trait. Runs on SQLite always and on MongoDB when `BCS_STORAGE_TEST_MONGODB_URI`
//! is set.

use futures::TryStreamExt;
use serde_json::{Value, json};

use bcs_storage::domain::dynamic::DYNAMIC_KEY;
use bcs_storage::model::{
    Bound, Database, Direction, Document, Filter, Namespace, Projection, Query, RangeOp, Sort,
    date_millis,
};
use bcs_storage::store::{Store, StoreError};

use crate::common::{TestStore, backends};

fn ns(collection: &str) -> Namespace {
    Namespace {
        database: Database::Dynamic,
        collection: collection.to_owned(),
        key_fields: DYNAMIC_KEY,
    }
}

fn doc(v: Value) -> Document {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A dynamic document as the domain writes it.
fn resource(cluster: &str, namespace: Option<&str>, name: &str, data: Value, t: i64) -> Document {
    let mut d = doc(json!({"_id": bson::oid::ObjectId::new().to_hex(), "clusterId": cluster}));
    if let Some(n) = namespace {
        d.insert("namespace".into(), json!(n));
    }
    d.insert("resourceType".into(), json!("Pod"));
    d.insert("resourceName".into(), json!(name));
    d.insert("data".into(), data);
    d.insert("createTime".into(), date_millis(t));
    d.insert("updateTime".into(), date_millis(t));
    d
}

async fn find(store: &dyn Store, ns: &Namespace, q: &Query) -> Vec<Document> {
    store
        .find(ns, q)
        .await
        .expect("find starts")
        .try_collect()
        .await
        .expect("find completes")
}

async fn names(store: &dyn Store, ns: &Namespace, filter: Filter) -> Vec<String> {
    find(store, ns, &Query::new(filter))
        .await
        .iter()
        .map(|d| d["resourceName"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[actix_web::test]
async fn upsert_keeps_create_time_and_id_and_replaces_data() {
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        let first = s
            .upsert(
                &pods,
                resource("c1", Some("n1"), "p1", json!({"a": 1, "old": true}), 1_000),
            )
            .await
            .expect("first upsert");
        assert!(first.created, "{b:?}");
        let before = find(s, &pods, &Query::new(Filter::all())).await;
        let second = s
            .upsert(
                &pods,
                resource("c1", Some("n1"), "p1", json!({"a": 2}), 5_000),
            )
            .await
            .expect("second upsert");
        assert!(!second.created, "{b:?}");
        let after = find(s, &pods, &Query::new(Filter::all())).await;
        assert_eq!(after.len(), 1, "{b:?}: one document per key");
        assert_eq!(after[0]["_id"], before[0]["_id"], "{b:?}: _id kept");
        assert_eq!(
            after[0]["createTime"],
            date_millis(1_000),
            "{b:?}: createTime kept"
        );
        assert_eq!(
            after[0]["updateTime"],
            date_millis(5_000),
            "{b:?}: updateTime bumped"
        );
        assert_eq!(
            after[0]["data"],
            json!({"a": 2}),
            "{b:?}: data replaced wholesale"
        );
        assert!(!after[0].contains_key("_isBcsObjectDeleted"), "{b:?}");
        if let (Some(r1), Some(r2)) = (first.revision, second.revision) {
            assert!(r2 > r1, "{b:?}: revisions increase");
        }
    }
}

#[actix_web::test]
async fn cluster_scoped_and_namespaced_documents_have_distinct_keys() {
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        s.upsert(&pods, resource("c1", None, "x", json!(1), 1))
            .await
            .expect("cluster doc");
        s.upsert(&pods, resource("c1", Some("n1"), "x", json!(2), 1))
            .await
            .expect("ns doc");
        s.upsert(&pods, resource("c1", None, "x", json!(3), 2))
            .await
            .expect("cluster doc again");
        let all = find(s, &pods, &Query::new(Filter::all())).await;
        assert_eq!(all.len(), 2, "{b:?}");
        // Natural order: the cluster-scoped document (no namespace) first.
        assert!(!all[0].contains_key("namespace"), "{b:?}: {all:?}");
        assert_eq!(all[0]["data"], json!(3), "{b:?}");
        assert_eq!(all[1]["data"], json!(2), "{b:?}");
        let only_cluster = Filter::and([
            Filter::Eq("clusterId".into(), json!("c1")),
            Filter::Eq("namespace".into(), Value::Null),
            Filter::Eq("resourceName".into(), json!("x")),
        ]);
        let found = find(s, &pods, &Query::new(only_cluster)).await;
        assert_eq!(found.len(), 1, "{b:?}");
        assert_eq!(found[0]["data"], json!(3), "{b:?}");
    }
}

/// A fixed data set for filter semantics.
async fn seed_filters(s: &dyn Store, pods: &Namespace) {
    let rows = [
        (
            "a",
            json!({"phase": "Running", "n": 3, "ok": true, "containers": [{"image": "nginx", "port": 80}, {"image": "redis"}], "tags": ["x", "y"], "t": "2017-10-16T07:34:52Z"}),
        ),
        (
            "b",
            json!({"phase": "Pending", "n": 3.0, "ok": false, "containers": [{"image": "mysql"}], "tags": [], "nested": {"v": [5, 6]}}),
        ),
        (
            "c",
            json!({"phase": "Running", "n": "3", "ok": 1, "containers": "none", "nested": {"v": 7}}),
        ),
        (
            "d",
            json!({"phase": null, "n": 10, "labels": {"app．kubernetes．io/name": "web"}}),
        ),
        (
            "e",
            json!({"n": -1.5, "arr": [[1, 2], 3], "containers": [{"image": "nginx"}]}),
        ),
    ];
    for (i, (name, data)) in rows.into_iter().enumerate() {
        s.upsert(
            pods,
            resource("c1", Some("n1"), name, data, 1_000 * (i as i64 + 1)),
        )
        .await
        .expect("seed");
    }
}

#[actix_web::test]
async fn every_filter_node_agrees_with_the_reference_evaluator() {
    let eq = |p: &str, v: Value| Filter::Eq(p.into(), v);
    let range = |p: &str, op, b| Filter::Range(p.into(), op, b);
    let cases: Vec<(Filter, Vec<&str>)> = vec![
        (eq("data.phase", json!("Running")), vec!["a", "c"]),
        (eq("data.n", json!(3)), vec!["a", "b"]),
        (eq("data.n", json!("3")), vec!["c"]),
        (eq("data.ok", json!(true)), vec!["a"]),
        (eq("data.ok", json!(1)), vec!["c"]),
        (eq("data.phase", Value::Null), vec!["d", "e"]),
        (eq("data.containers.image", json!("nginx")), vec!["a", "e"]),
        (eq("data.containers.0.image", json!("mysql")), vec!["b"]),
        (eq("data.tags", json!("y")), vec!["a"]),
        (eq("data.tags", json!(["x", "y"])), vec!["a"]),
        (eq("data.nested.v", json!(6)), vec!["b"]),
        (
            eq("data.labels.app．kubernetes．io/name", json!("web")),
            vec!["d"],
        ),
        (eq("data.arr", json!([1, 2])), vec!["e"]),
        (
            Filter::In("data.phase".into(), vec![json!("Pending"), json!("nope")]),
            vec!["b"],
        ),
        (
            Filter::In("data.n".into(), vec![json!(10), json!("3")]),
            vec!["c", "d"],
        ),
        (
            range("data.n", RangeOp::Gt, Bound::Number(3.into())),
            vec!["d"],
        ),
        (
            range("data.n", RangeOp::Gte, Bound::Number(3.into())),
            vec!["a", "b", "d"],
        ),
        (
            range("data.n", RangeOp::Lt, Bound::Number(0.into())),
            vec!["e"],
        ),
        (
            range("data.phase", RangeOp::Lt, Bound::String("Q".into())),
            vec!["b"],
        ),
        (
            range("data.nested.v", RangeOp::Gt, Bound::Number(5.into())),
            vec!["b", "c"],
        ),
        (
            range(
                "data.containers.port",
                RangeOp::Lte,
                Bound::Number(80.into()),
            ),
            vec!["a"],
        ),
        (
            range("updateTime", RangeOp::Gt, Bound::Instant(2_000)),
            vec!["c", "d", "e"],
        ),
        (
            range("updateTime", RangeOp::Lte, Bound::Instant(2_000)),
            vec!["a", "b"],
        ),
        (Filter::Exists("data.nested".into(), true), vec!["b", "c"]),
        (
            Filter::Exists("data.containers.image".into(), true),
            vec!["a", "b", "e"],
        ),
        (Filter::Exists("data.phase".into(), false), vec!["e"]),
        (
            Filter::Contains("data.phase".into(), "unn".into()),
            vec!["a", "c"],
        ),
        (
            Filter::Contains("data.containers.image".into(), "ngi".into()),
            vec!["a", "e"],
        ),
        (Filter::Contains("data.tags".into(), "x".into()), vec!["a"]),
        (
            Filter::Not(Box::new(eq("data.phase", json!("Running")))),
            vec!["b", "d", "e"],
        ),
        (
            Filter::Not(Box::new(Filter::In(
                "data.phase".into(),
                vec![json!("Running")],
            ))),
            vec!["b", "d", "e"],
        ),
        (
            Filter::Not(Box::new(range(
                "data.n",
                RangeOp::Gt,
                Bound::Number(0.into()),
            ))),
            vec!["c", "e"],
        ),
        (
            Filter::Or(vec![
                eq("resourceName", json!("a")),
                eq("data.n", json!(10)),
            ]),
            vec!["a", "d"],
        ),
        (Filter::Or(vec![]), vec![]),
        (Filter::all(), vec!["a", "b", "c", "d", "e"]),
        (
            Filter::and([
                eq("data.phase", json!("Running")),
                Filter::Not(Box::new(eq("data.n", json!("3")))),
            ]),
            vec!["a"],
        ),
    ];
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        seed_filters(s, &pods).await;
        let all = find(s, &pods, &Query::new(Filter::all())).await;
        for (filter, expected) in &cases {
            let got = names(s, &pods, filter.clone()).await;
            assert_eq!(&got, expected, "{b:?}: {filter:?}");
            // The reference evaluator agrees with the hand-written expectation.
            let oracle: Vec<&str> = all
                .iter()
                .filter(|d| filter.matches(&Value::Object((*d).clone())))
                .map(|d| d["resourceName"].as_str().unwrap_or("?"))
                .collect();
            assert_eq!(&oracle, expected, "evaluator: {filter:?}");
            let n = s.count(&pods, filter).await.expect("count");
            assert_eq!(n as usize, expected.len(), "{b:?}: count of {filter:?}");
        }
    }
}

#[actix_web::test]
async fn projection_paging_and_sort() {
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        for (i, name) in ["p3", "p1", "p5", "p2", "p4"].into_iter().enumerate() {
            let data =
                json!({"meta": {"name": name, "uid": i}, "c": [{"image": "i", "x": 1}, {"x": 2}]});
            s.upsert(&pods, resource("c1", Some("n1"), name, data, i as i64))
                .await
                .expect("put");
        }
        s.upsert(&pods, resource("c0", Some("n9"), "z", json!({}), 9))
            .await
            .expect("put");
        // Natural key order across clusters, then paging without gaps or repeats.
        let mut paged = Vec::new();
        for skip in [0u64, 2, 4] {
            let mut q = Query::new(Filter::all());
            q.skip = skip;
            q.limit = Some(2);
            paged.extend(
                find(s, &pods, &q)
                    .await
                    .into_iter()
                    .map(|d| d["resourceName"].clone()),
            );
        }
        assert_eq!(
            paged,
            vec![
                json!("z"),
                json!("p1"),
                json!("p2"),
                json!("p3"),
                json!("p4"),
                json!("p5")
            ],
            "{b:?}"
        );
        // Projection keeps _id, collapses overlaps and goes through arrays.
        let mut q = Query::new(Filter::Eq("resourceName".into(), json!("p1")));
        q.projection = Some(Projection::new([
            "data.meta.name",
            "data.c.image",
            "resourceName",
        ]));
        let got = find(s, &pods, &q).await;
        let mut d = got[0].clone();
        assert!(d.remove("_id").is_some(), "{b:?}");
        assert_eq!(
            Value::Object(d),
            json!({"resourceName": "p1", "data": {"meta": {"name": "p1"}, "c": [{"image": "i"}, {}]}}),
            "{b:?}"
        );
        let mut q = Query::new(Filter::Eq("resourceName".into(), json!("p1")));
        q.projection = Some(Projection::new(["data", "data.meta"]));
        let got = find(s, &pods, &q).await;
        assert_eq!(
            got[0]["data"]["c"][1],
            json!({"x": 2}),
            "{b:?}: the wider path wins"
        );
        // Sort by a field, descending, ties by natural key.
        let mut q = Query::new(Filter::Eq("clusterId".into(), json!("c1")));
        q.sort = Sort::Fields(vec![("updateTime".into(), Direction::Desc)]);
        let order: Vec<Value> = find(s, &pods, &q)
            .await
            .into_iter()
            .map(|d| d["resourceName"].clone())
            .collect();
        assert_eq!(
            order,
            vec![
                json!("p4"),
                json!("p2"),
                json!("p5"),
                json!("p1"),
                json!("p3")
            ],
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn batch_deletes_remove_exactly_the_matches() {
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        for i in 0..12 {
            let namespace = if i % 3 == 0 { "a" } else { "b" };
            s.upsert(
                &pods,
                resource(
                    "c1",
                    Some(namespace),
                    &format!("p{i:02}"),
                    json!({"i": i}),
                    i,
                ),
            )
            .await
            .expect("put");
        }
        let in_a = Filter::Eq("namespace".into(), json!("a"));
        assert_eq!(
            s.delete_many(&pods, &in_a).await.expect("delete"),
            4,
            "{b:?}"
        );
        assert_eq!(
            s.delete_many(&pods, &in_a).await.expect("delete again"),
            0,
            "{b:?}: idempotent"
        );
        assert_eq!(
            s.count(&pods, &Filter::all()).await.expect("count"),
            8,
            "{b:?}"
        );
        let window = Filter::and([
            Filter::Range("updateTime".into(), RangeOp::Gt, Bound::Instant(4)),
            Filter::Range("updateTime".into(), RangeOp::Lt, Bound::Instant(8)),
        ]);
        // p05, p07 (p06 was in namespace a).
        assert_eq!(
            s.delete_many(&pods, &window).await.expect("window"),
            2,
            "{b:?}"
        );
        let left = names(s, &pods, Filter::all()).await;
        assert_eq!(left, ["p01", "p02", "p04", "p08", "p10", "p11"], "{b:?}");
        // A deleted key can be written again as a new document.
        let again = s
            .upsert(
                &pods,
                resource("c1", Some("a"), "p00", json!({"back": true}), 100),
            )
            .await
            .expect("re-put");
        assert!(again.created, "{b:?}");
        let got = find(
            s,
            &pods,
            &Query::new(Filter::Eq("resourceName".into(), json!("p00"))),
        )
        .await;
        assert_eq!(got.len(), 1, "{b:?}");
        assert_eq!(
            got[0]["createTime"],
            date_millis(100),
            "{b:?}: fresh createTime"
        );
        // A large delete crosses the chunk size of the embedded store.
        let many = ns("Many");
        for i in 0..(if b == crate::common::Backend::Sqlite {
            1200
        } else {
            30
        }) {
            s.upsert(
                &many,
                resource("c9", Some("x"), &format!("m{i}"), json!(i), 1),
            )
            .await
            .expect("put");
        }
        let n = s.count(&many, &Filter::all()).await.expect("count");
        assert_eq!(
            s.delete_many(&many, &Filter::all())
                .await
                .expect("delete all"),
            n,
            "{b:?}"
        );
        assert_eq!(
            s.count(&many, &Filter::all()).await.expect("count"),
            0,
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn collections_are_listed_and_escaped_keys_round_trip() {
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        for c in ["Pod", "Deployment", "application"] {
            s.upsert(
                &ns(c),
                resource("c1", Some("n"), "x", json!({"k．e＄y": "v.a$l"}), 1),
            )
            .await
            .expect("put");
        }
        let mut cols = s.list_collections(Database::Dynamic).await.expect("list");
        cols.sort();
        assert_eq!(cols, ["Deployment", "Pod", "application"], "{b:?}");
        assert!(
            s.list_collections(Database::Metric)
                .await
                .expect("list")
                .is_empty(),
            "{b:?}"
        );
        let got = find(
            s,
            &ns("Pod"),
            &Query::new(Filter::Eq("data.k．e＄y".into(), json!("v.a$l"))),
        )
        .await;
        assert_eq!(got.len(), 1, "{b:?}");
        assert_eq!(got[0]["data"], json!({"k．e＄y": "v.a$l"}), "{b:?}");
        s.ping().await.expect("ping");
    }
}

/// Clients that stop reading long lists must not starve everybody else:
/// with more stalled streams than read connections, new reads still answer,
/// and the stalled streams later deliver every document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_list_streams_do_not_block_other_reads() {
    const DOCS: usize = 300;
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.clone();
        let pods = ns("Pod");
        let writes = (0..DOCS).map(|i| {
            let s = s.clone();
            let pods = pods.clone();
            async move {
                s.upsert(
                    &pods,
                    resource("c1", Some("n"), &format!("p{i:04}"), json!({"i": i}), 1),
                )
                .await
                .expect("put")
            }
        });
        futures::future::join_all(writes).await;
        let all = Query::new(Filter::Eq("clusterId".into(), json!("c1")));
        let reads = async {
            // More stalled streams than read connections (2 in tests).
            let mut stalled = Vec::new();
            for _ in 0..6 {
                let mut st = s.find(&pods, &all).await.expect("find starts");
                st.try_next().await.expect("first item").expect("has items");
                stalled.push(st);
            }
            let n = s.count(&pods, &all.filter).await.expect("count");
            let listed = find(s.as_ref(), &pods, &all).await.len();
            let one = Query::new(Filter::and(vec![
                Filter::Eq("clusterId".into(), json!("c1")),
                Filter::Eq("namespace".into(), json!("n")),
                Filter::Eq("resourceName".into(), json!("p0007")),
            ]));
            let got = find(s.as_ref(), &pods, &one).await.len();
            (stalled, n, listed, got)
        };
        // A guard against a hang, not a timing assertion.
        let (stalled, n, listed, got) =
            tokio::time::timeout(std::time::Duration::from_secs(60), reads)
                .await
                .unwrap_or_else(|_| panic!("{b:?}: reads starved by stalled streams"));
        assert_eq!((n, listed, got), (DOCS as u64, DOCS, 1), "{b:?}");
        for st in stalled {
            let rest: Vec<Document> = st.try_collect().await.expect("stream completes");
            assert_eq!(rest.len(), DOCS - 1, "{b:?}");
        }
    }
}

/// The query tables' indexes: a filter on an indexed path is answered from
/// the index (SQLite plan), and a document with an array on that path is
/// still matched, before and after the store is reopened.
#[tokio::test]
async fn indexed_paths_use_their_index_and_still_match_arrays() {
    use bcs_storage::domain::times::shadow_path;
    for b in backends() {
        let t = TestStore::new(b).await;
        let pods = ns("Pod");
        let pod = |name: &str, host: Value, start: i64| {
            let mut d = resource(
                "c1",
                Some("n1"),
                name,
                json!({"status": {"hostIP": host}}),
                1,
            );
            d.insert(
                "_bcsTimes".into(),
                json!({"data_status_startTime": date_millis(start)}),
            );
            d
        };
        let s = t.store.as_ref();
        for (name, host, start) in [
            ("p1", json!("10.0.0.1"), 1_000),
            ("p2", json!("10.0.0.2"), 2_000),
            ("p3", json!("10.0.0.1"), 3_000),
        ] {
            s.upsert(&pods, pod(name, host, start)).await.expect("put");
        }
        let by_host = |ip: &str| {
            Filter::and([
                Filter::Eq("clusterId".into(), json!("c1")),
                Filter::In("data.status.hostIP".into(), vec![json!(ip)]),
            ])
        };
        let started = Filter::and([
            Filter::Eq("clusterId".into(), json!("c1")),
            Filter::Range(
                shadow_path("data.status.startTime"),
                RangeOp::Gt,
                Bound::Instant(1_500),
            ),
            Filter::Range(
                shadow_path("data.status.startTime"),
                RangeOp::Lt,
                Bound::Instant(3_000),
            ),
        ]);
        assert_eq!(names(s, &pods, by_host("10.0.0.1")).await, ["p1", "p3"]);
        assert_eq!(names(s, &pods, started.clone()).await, ["p2"]);
        if b == crate::common::Backend::Sqlite {
            let mut q = Query::new(by_host("10.0.0.1"));
            q.limit = Some(100);
            let plan = s.explain(&pods, &q).await.expect("plan");
            assert!(plan.contains("ix_data_status_hostIP"), "{plan}");
            assert!(!plan.contains("SCAN docs"), "{plan}");
            let q = Query::new(started.clone());
            let plan = s.explain(&pods, &q).await.expect("plan");
            assert!(plan.contains("data_status_startTime"), "{plan}");
            assert!(!plan.contains("SCAN docs"), "{plan}");
            // With a namespace too (a key range the planner could prefer).
            let mut q = Query::new(Filter::and([
                Filter::Eq("clusterId".into(), json!("c1")),
                Filter::In("namespace".into(), vec![json!("n1")]),
                Filter::In("data.status.hostIP".into(), vec![json!("10.0.0.1")]),
            ]));
            q.limit = Some(100);
            let plan = s.explain(&pods, &q).await.expect("plan");
            assert!(plan.contains("ix_data_status_hostIP"), "{plan}");
            // A filter no index answers reads in key order from the key index.
            let q = Query::new(Filter::and([
                Filter::Eq("clusterId".into(), json!("c1")),
                Filter::Eq("data.other".into(), json!(1)),
            ]));
            let plan = s.explain(&pods, &q).await.expect("plan");
            assert!(plan.contains("docs_key"), "{plan}");
        }
        // An array on the indexed path: MongoDB semantics, any element.
        s.upsert(&pods, pod("p4", json!(["10.0.0.9", "10.0.0.1"]), 9_000))
            .await
            .expect("put");
        assert_eq!(
            names(s, &pods, by_host("10.0.0.1")).await,
            ["p1", "p3", "p4"]
        );
        assert_eq!(names(s, &pods, by_host("10.0.0.9")).await, ["p4"]);
        // Reopened, the store still knows about the array.
        s.close().await;
        let reopened = bcs_storage::store::open(
            &t.settings,
            std::sync::Arc::new(bcs_storage::clock::SystemClock),
        )
        .await
        .expect("reopen");
        bcs_storage::domain::prepare(reopened.as_ref())
            .await
            .expect("indexes");
        assert_eq!(
            names(reopened.as_ref(), &pods, by_host("10.0.0.9")).await,
            ["p4"],
            "{b:?}"
        );
        reopened.close().await;
    }
}

/// An index created over documents written before it existed still sees
/// their arrays.
#[tokio::test]
async fn an_index_added_later_sees_arrays_written_before() {
    use bcs_storage::store::{IndexField, IndexSpec};
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let c = ns("Custom");
        let d = resource("c1", Some("n1"), "a", json!({"ips": ["x", "y"]}), 1);
        s.upsert(&c, d).await.expect("put");
        let spec = IndexSpec {
            fields: vec![
                IndexField {
                    path: "clusterId".into(),
                    instant: false,
                },
                IndexField {
                    path: "data.ips".into(),
                    instant: false,
                },
            ],
        };
        s.ensure_index(&c, &spec).await.expect("index");
        s.ensure_index(&c, &spec).await.expect("idempotent");
        let f = Filter::In("data.ips".into(), vec![json!("y")]);
        assert_eq!(names(s, &c, f).await, ["a"], "{b:?}");
    }
}

/// Time ranges of the query routes (instants of time strings in any format,
/// kept in `_bcsTimes`) and typed comparisons agree on every backend and
/// with the reference evaluator.
#[tokio::test]
async fn time_ranges_and_typed_comparisons_agree_everywhere() {
    use bcs_storage::domain::times::{shadow_path, shadow_times};
    let utc = bcs_storage::config::TimeZone::default();
    // (name, startTime as the agent wrote it, replicas)
    let rows = [
        ("a", json!("2017-10-09T07:37:44Z"), json!(3)),
        ("b", json!("2017-10-09T15:37:45+08:00"), json!(3.0)),
        ("c", json!("2017-10-09T07:37:44.5Z"), json!("3")),
        ("d", json!("2017-10-09 07:37:46"), json!(4)),
        ("e", json!(1_507_534_667), json!([3, 4])),
        ("f", json!("not a time"), json!(null)),
        ("g", json!(null), json!(2)),
    ];
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        let mut all = Vec::new();
        for (name, start, replicas) in &rows {
            let mut d = resource(
                "c1",
                Some("n1"),
                name,
                json!({"status": {"startTime": start, "replicas": replicas}}),
                1,
            );
            let shadow = shadow_times(&d, ["data.status.startTime"], &utc);
            d.insert("_bcsTimes".into(), Value::Object(shadow));
            s.upsert(&pods, d.clone()).await.expect("put");
            all.push(d);
        }
        let start = shadow_path("data.status.startTime");
        let t0 = 1_507_534_664_000i64; // 2017-10-09T07:37:44Z
        let cases = [
            (
                Filter::Range(start.clone(), RangeOp::Gt, Bound::Instant(t0)),
                vec!["b", "c", "d", "e"],
            ),
            (
                Filter::and([
                    Filter::Range(start.clone(), RangeOp::Gt, Bound::Instant(t0 - 1)),
                    Filter::Range(start.clone(), RangeOp::Lt, Bound::Instant(t0 + 1_000)),
                ]),
                vec!["a", "c"],
            ),
            (
                Filter::Range(start.clone(), RangeOp::Lt, Bound::Instant(t0)),
                vec![],
            ),
            (
                Filter::In("data.status.replicas".into(), vec![json!(3)]),
                vec!["a", "b", "e"],
            ),
            (
                Filter::In("data.status.replicas".into(), vec![json!(4), json!(2)]),
                vec!["d", "e", "g"],
            ),
            (
                Filter::In("data.status.replicas".into(), vec![json!("3")]),
                vec!["c"],
            ),
        ];
        for (f, want) in cases {
            let got = names(s, &pods, f.clone()).await;
            assert_eq!(got, want, "{b:?} {f:?}");
            let reference: Vec<&str> = all
                .iter()
                .filter(|d| f.matches(&Value::Object((*d).clone())))
                .map(|d| d["resourceName"].as_str().unwrap_or("?"))
                .collect();
            assert_eq!(reference, want, "reference {f:?}");
        }
    }
}

/// Documents written without `_bcsTimes` (an older version, or the Go
/// service on the same MongoDB database) get their time instants from the
/// start-up backfill; documents that have them are left alone, and a second
/// run has nothing to do.
#[tokio::test]
async fn old_documents_get_their_time_instants_filled_in() {
    use bcs_storage::domain::timefill::{FillCounts, TimeFill, run};
    use bcs_storage::domain::times::shadow_path;
    let utc = bcs_storage::config::TimeZone::default();
    for b in backends() {
        let t = TestStore::new(b).await;
        let s = t.store.as_ref();
        let pods = ns("Pod");
        for (name, start) in [
            ("old1", "2017-10-09T15:37:45+08:00"),
            ("old2", "2017-10-09T07:00:00Z"),
        ] {
            let d = resource(
                "c1",
                Some("n1"),
                name,
                json!({"status": {"startTime": start}}),
                1,
            );
            s.upsert(&pods, d).await.expect("put");
        }
        // Cluster-scoped, and one that already has (deliberately different)
        // instants, recorded as derived without a naive time: kept.
        let d = resource(
            "c1",
            None,
            "old3",
            json!({"status": {"startTime": "2017-10-09T07:37:50Z"}}),
            1,
        );
        s.upsert(&pods, d).await.expect("put");
        let mut d = resource(
            "c1",
            Some("n1"),
            "new",
            json!({"status": {"startTime": "2017-10-09T07:37:46Z"}}),
            1,
        );
        d.insert(
            "_bcsTimes".into(),
            json!({"data_status_startTime": date_millis(1), "zone": null}),
        );
        s.upsert(&pods, d).await.expect("put");
        let after = Filter::Range(
            shadow_path("data.status.startTime"),
            RangeOp::Gt,
            Bound::Instant(1_507_534_664_000),
        );
        assert!(names(s, &pods, after.clone()).await.is_empty(), "{b:?}");
        let progress = TimeFill::new(&utc);
        let counts = run(s, &utc, &progress).await.expect("backfill");
        assert_eq!(
            counts,
            FillCounts {
                filled: 3,
                rederived: 0
            },
            "{b:?}"
        );
        assert!(!progress.running());
        assert_eq!(names(s, &pods, after).await, ["old3", "old1"], "{b:?}");
        let again = run(s, &utc, &progress).await.expect("again");
        assert_eq!(again, FillCounts::default(), "{b:?}");
        // The documents themselves are unchanged.
        let all = find(s, &pods, &Query::new(Filter::all())).await;
        assert_eq!(all.len(), 4);
        for d in &all {
            assert_eq!(d["updateTime"], date_millis(1), "{b:?}");
        }
    }
}

/// Naive times are read in the configured zone; when it changes, the
/// instants of exactly the documents that had naive times are derived
/// again, and time ranges then find them where the new zone puts them.
#[tokio::test]
async fn a_new_time_zone_derives_naive_instants_again() {
    use bcs_storage::domain::dynamic::{ResourcePath, upsert_data};
    use bcs_storage::domain::timefill::{FillCounts, TimeFill, run};
    use bcs_storage::domain::times::shadow_path;
    let zone = |z: &str| z.parse::<bcs_storage::config::TimeZone>().expect("zone");
    for b in backends() {
        let t = TestStore::with_settings(b, |s| s.query.time_zone = zone("Asia/Shanghai")).await;
        let svc = t.service();
        let s = t.store.as_ref();
        for (name, start) in [
            // 2021-07-15T04:00:00Z in Shanghai, 10:00:00Z in Berlin (summer).
            ("naive", "2021-07-15 12:00:00"),
            ("zoned", "2021-07-15T06:00:00Z"),
        ] {
            let path = ResourcePath {
                cluster_id: "c1".into(),
                namespace: Some("n1".into()),
                resource_type: "Pod".into(),
                resource_name: Some(name.into()),
            };
            upsert_data(&svc, &path, json!({"status": {"startTime": start}}))
                .await
                .expect("put");
        }
        let pods = ns("Pod");
        let between = |from: &str, to: &str| {
            Filter::and([
                Filter::Range(
                    shadow_path("data.status.startTime"),
                    RangeOp::Gt,
                    Bound::Instant(
                        chrono::DateTime::parse_from_rfc3339(from)
                            .expect("t")
                            .timestamp_millis(),
                    ),
                ),
                Filter::Range(
                    shadow_path("data.status.startTime"),
                    RangeOp::Lt,
                    Bound::Instant(
                        chrono::DateTime::parse_from_rfc3339(to)
                            .expect("t")
                            .timestamp_millis(),
                    ),
                ),
            ])
        };
        let early = between("2021-07-15T03:00:00Z", "2021-07-15T05:00:00Z");
        let late = between("2021-07-15T09:00:00Z", "2021-07-15T11:00:00Z");
        assert_eq!(names(s, &pods, early.clone()).await, ["naive"], "{b:?}");
        // Nothing to do in the zone the instants were derived in.
        let shanghai = zone("Asia/Shanghai");
        let counts = run(s, &shanghai, &TimeFill::new(&shanghai))
            .await
            .expect("run");
        assert_eq!(counts, FillCounts::default(), "{b:?}");
        // Berlin: only the naive document changes.
        let berlin = zone("Europe/Berlin");
        let progress = TimeFill::new(&berlin);
        let counts = run(s, &berlin, &progress).await.expect("run");
        assert_eq!(
            counts,
            FillCounts {
                filled: 0,
                rederived: 1
            },
            "{b:?}"
        );
        assert_eq!(progress.status()["rederived"], json!(1));
        assert!(names(s, &pods, early).await.is_empty(), "{b:?}");
        assert_eq!(names(s, &pods, late).await, ["naive"], "{b:?}");
        let zoned = between("2021-07-15T05:30:00Z", "2021-07-15T06:30:00Z");
        assert_eq!(names(s, &pods, zoned).await, ["zoned"], "{b:?}");
        assert_eq!(
            run(s, &berlin, &progress).await.expect("again"),
            FillCounts::default()
        );
        // A document whose marker is older than this version is derived
        // once (its zone is unknown), then left alone.
        let mut legacy = resource(
            "c1",
            Some("n1"),
            "legacy",
            json!({"status": {"startTime": "2021-07-15 12:00:00"}}),
            1,
        );
        legacy.insert(
            "_bcsTimes".into(),
            json!({"data_status_startTime": date_millis(1)}),
        );
        s.upsert(&pods, legacy).await.expect("put");
        let counts = run(s, &berlin, &progress).await.expect("run");
        assert_eq!(
            counts,
            FillCounts {
                filled: 0,
                rederived: 1
            },
            "{b:?}"
        );
        let late = between("2021-07-15T09:00:00Z", "2021-07-15T11:00:00Z");
        assert_eq!(names(s, &pods, late).await, ["legacy", "naive"], "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_once_stores_one_of_equal_documents_even_when_racing() {
    const ONCE: &[&str] = &["data.metadata.name", "data.metadata.resourceVersion"];
    let events = |c: &str| Namespace {
        database: Database::Event,
        collection: format!("event_{c}"),
        key_fields: &[],
    };
    let ev = |meta: Value, tag: i64| {
        doc(
            json!({"_id": bson::oid::ObjectId::new().to_hex(), "tag": tag,
            "data": {"metadata": meta}}),
        )
    };
    for b in backends() {
        let store = TestStore::new(b).await;
        let shared = store.store.clone();
        let s = shared.as_ref();
        let count = |ns: Namespace, f: Filter| {
            let shared = shared.clone();
            async move { shared.count(&ns, &f).await.expect("count") }
        };
        let c1 = events("once1");
        let meta = json!({"name": "a", "resourceVersion": "1"});
        assert!(
            s.insert_once(&c1, ONCE, ev(meta.clone(), 1))
                .await
                .expect("first")
        );
        assert!(
            !s.insert_once(&c1, ONCE, ev(meta.clone(), 2))
                .await
                .expect("dup")
        );
        // Another resourceVersion, another collection: stored.
        let rv2 = json!({"name": "a", "resourceVersion": "2"});
        assert!(s.insert_once(&c1, ONCE, ev(rv2, 3)).await.expect("rv2"));
        assert!(
            s.insert_once(&events("once2"), ONCE, ev(meta.clone(), 4))
                .await
                .expect("c2")
        );
        // Without a string at each field: never collapsed.
        for m in [
            json!({"name": "a"}),
            json!({"name": "a"}),
            json!({"name": "a", "resourceVersion": 1}),
            json!({"name": "a", "resourceVersion": 1}),
        ] {
            assert!(
                s.insert_once(&c1, ONCE, ev(m, 5)).await.expect("plain"),
                "{b:?}"
            );
        }
        assert_eq!(count(c1.clone(), Filter::all()).await, 6, "{b:?}");
        assert_eq!(
            count(c1.clone(), Filter::Eq("tag".into(), json!(2))).await,
            0,
            "{b:?}"
        );
        // Concurrent equal inserts: exactly one is stored and says so.
        let racing = json!({"name": "r", "resourceVersion": "9"});
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (c1, d) = (c1.clone(), ev(racing.clone(), 100 + i));
                let shared = shared.clone();
                tokio::spawn(async move { shared.insert_once(&c1, ONCE, d).await })
            })
            .collect();
        let mut stored = 0;
        for t in tasks {
            if t.await.expect("task").expect("insert") {
                stored += 1;
            }
        }
        assert_eq!(stored, 1, "{b:?}");
        let f = Filter::Eq("data.metadata.name".into(), json!("r"));
        assert_eq!(count(c1.clone(), f.clone()).await, 1, "{b:?}");
        // A deleted event no longer blocks its twin.
        assert_eq!(s.delete_many(&c1, &f).await.expect("delete"), 1);
        assert!(
            s.insert_once(&c1, ONCE, ev(racing.clone(), 200))
                .await
                .expect("again")
        );
        assert_eq!(count(c1.clone(), f).await, 1, "{b:?}");
    }
}

#[tokio::test]
async fn event_lists_read_the_event_time_index_newest_first() {
    use bcs_storage::domain::events::cluster_query;
    use bcs_storage::store::{IndexField, IndexSpec};
    for b in backends() {
        let store = TestStore::new(b).await;
        let s = store.store.as_ref();
        let (ns, _) = cluster_query("plan", &Filter::all(), 1);
        let spec = IndexSpec {
            fields: vec![IndexField {
                path: "eventTime".into(),
                instant: true,
            }],
        };
        s.ensure_index(&ns, &spec).await.expect("index");
        s.ensure_index(&ns, &spec).await.expect("index again");
        for (i, t) in [3_000, 1_000, 2_000, 2_000].into_iter().enumerate() {
            let d = doc(
                json!({"_id": bson::oid::ObjectId::new().to_hex(), "clusterId": "plan",
                "i": i, "eventTime": date_millis(t)}),
            );
            s.insert(&ns, d).await.expect("insert");
        }
        let by_kind = Filter::In("kind".into(), vec![json!("Pod")]);
        let (_, q) = cluster_query("plan", &Filter::all(), 3);
        let order: Vec<i64> = find(s, &ns, &q)
            .await
            .iter()
            .map(|d| d["i"].as_i64().unwrap_or(-1))
            .collect();
        // Newest first; equal times in insertion (_id) order.
        assert_eq!(order, [0, 2, 3], "{b:?}");
        if b == crate::common::Backend::Sqlite {
            for f in [Filter::all(), by_kind] {
                let (_, q) = cluster_query("plan", &f, 100);
                let plan = s.explain(&ns, &q).await.expect("plan");
                assert!(plan.contains("ix_eventTime"), "{plan}");
                // Sorted by the index; only ties are sorted apart.
                assert!(plan.contains("FOR LAST 2 TERMS OF ORDER BY"), "{plan}");
                assert!(!plan.contains("SCAN docs"), "{plan}");
            }
        }
    }
}

/// MongoDB only: soft-deleted documents of every database are purged once
/// their deletion is older than `purge_after_secs`, never live ones; the
/// deletion is stamped with the store's clock, the one the purge uses.
#[tokio::test]
async fn mongo_purge_removes_old_deletions_in_every_database() {
    use bcs_storage::store::mongo::MongoStore;
    if !backends().contains(&crate::common::Backend::Mongo) {
        return;
    }
    let store = TestStore::new(crate::common::Backend::Mongo).await;
    let m = &store.settings.storage.mongodb;
    // Deletions happen in 2020 by the store's clock: far from the wall clock.
    let t0 = chrono::DateTime::from_timestamp(1_600_000_000, 0).expect("instant");
    let clock = std::sync::Arc::new(crate::common::FixedClock(t0));
    let purger = MongoStore::open(m, &store.settings.watch, clock)
        .await
        .expect("open");
    let s = &purger;
    let spaces: Vec<Namespace> = Database::ALL
        .into_iter()
        .map(|database| Namespace {
            database,
            collection: "purged".into(),
            key_fields: &[],
        })
        .collect();
    for ns in &spaces {
        for (name, t) in [("gone", 1), ("kept", 2)] {
            let d = doc(
                json!({"_id": bson::oid::ObjectId::new().to_hex(), "name": name,
                "updateTime": date_millis(t)}),
            );
            s.insert(ns, d).await.expect("insert");
        }
        let gone = Filter::Eq("name".into(), json!("gone"));
        assert_eq!(s.delete_many(ns, &gone).await.expect("delete"), 1);
    }
    let client = mongodb::Client::with_uri_str(&m.uri).await.expect("client");
    let raw = |db: &str| {
        let coll = client.database(db).collection::<bson::Document>("purged");
        async move { coll.count_documents(bson::doc! {}).await }
    };
    let dbs = Database::ALL.map(|db| bcs_storage::store::mongo::database_name(&m.databases, db));
    // Deleted just now: too young to purge.
    assert_eq!(purger.purge(t0).await, 0);
    for db in dbs {
        assert_eq!(raw(db).await.expect("count"), 2, "{db}");
    }
    let later = t0 + chrono::Duration::seconds(m.purge_after_secs as i64 + 60);
    assert_eq!(purger.purge(later).await, 7);
    for (db, ns) in dbs.into_iter().zip(&spaces) {
        assert_eq!(raw(db).await.expect("count"), 1, "{db}");
        assert_eq!(s.count(ns, &Filter::all()).await.expect("live"), 1, "{db}");
    }
}

/// The next item of a change feed, waiting at most a few seconds (a missing
/// event fails the test instead of hanging it).
async fn next_change(feed: &mut bcs_storage::store::ChangeFeed) -> bcs_storage::store::Change {
    use futures::StreamExt;
    match tokio::time::timeout(std::time::Duration::from_secs(10), feed.next()).await {
        Ok(Some(Ok(c))) => c,
        Ok(Some(Err(e))) => panic!("feed failed: {e}"),
        Ok(None) => panic!("feed ended"),
        Err(_) => panic!("no change within 10 s"),
    }
}

/// The next event of a feed (progress items skipped): kind, resourceName,
/// data.v, revision.
async fn next_event(
    feed: &mut bcs_storage::store::ChangeFeed,
) -> (bcs_storage::store::ChangeKind, String, Value, String) {
    loop {
        if let bcs_storage::store::Change::Event(r) = next_change(feed).await {
            return (
                r.kind,
                r.doc()["resourceName"].as_str().unwrap_or("?").to_owned(),
                r.doc()["data"]["v"].clone(),
                r.revision.clone(),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feeds_follow_commits_and_resume_exactly() {
    use bcs_storage::store::{Change, ChangeKind};
    for b in backends() {
        let store = TestStore::new(b).await;
        let s = store.store.as_ref();
        let pods = ns("Pod");
        let mut feed = s.changes(&pods, None).await.expect("feed");
        let Change::Progress(start) = next_change(&mut feed).await else {
            panic!("a feed starts with its position");
        };
        assert!(!start.is_empty());
        let put = |name: &str, v: i64| resource("c1", Some("n1"), name, json!({"v": v}), v);
        s.upsert(&pods, put("p1", 1)).await.expect("put");
        // Another collection's writes never reach this feed.
        s.upsert(&ns("Node"), put("other", 0)).await.expect("put");
        s.upsert(&pods, put("p1", 2)).await.expect("put");
        let one = Filter::Eq("resourceName".into(), json!("p1"));
        assert_eq!(s.delete_many(&pods, &one).await.expect("delete"), 1);
        let (k, n, v, first) = next_event(&mut feed).await;
        assert_eq!(
            (k, n.as_str(), v),
            (ChangeKind::Add, "p1", json!(1)),
            "{b:?}"
        );
        let (k, _, v, _) = next_event(&mut feed).await;
        assert_eq!((k, v), (ChangeKind::Change, json!(2)), "{b:?}");
        // The delete carries the deleted document.
        let (k, n, v, last) = next_event(&mut feed).await;
        assert_eq!(
            (k, n.as_str(), v),
            (ChangeKind::Delete, "p1", json!(2)),
            "{b:?}"
        );
        drop(feed);
        // Writes while nobody watches, then a resume after the first event:
        // exactly the missed events, in order, then live ones.
        s.upsert(&pods, put("p2", 3)).await.expect("put");
        let mut resumed = s.changes(&pods, Some(&first)).await.expect("resume");
        let mut got = Vec::new();
        for _ in 0..3 {
            let (k, n, v, _) = next_event(&mut resumed).await;
            got.push((k, n, v));
        }
        assert_eq!(
            got,
            [
                (ChangeKind::Change, "p1".to_owned(), json!(2)),
                (ChangeKind::Delete, "p1".to_owned(), json!(2)),
                (ChangeKind::Add, "p2".to_owned(), json!(3)),
            ],
            "{b:?}"
        );
        s.upsert(&pods, put("p3", 4)).await.expect("put");
        let (k, n, _, _) = next_event(&mut resumed).await;
        assert_eq!((k, n.as_str()), (ChangeKind::Add, "p3"), "{b:?}");
        // From the last event of the first feed: only what came after it.
        let mut from_last = s.changes(&pods, Some(&last)).await.expect("resume");
        let (_, n, _, _) = next_event(&mut from_last).await;
        assert_eq!(n, "p2", "{b:?}");
        // A revision this store never handed out is refused.
        let bad = s.changes(&pods, Some("not-a-revision")).await.err();
        assert!(
            matches!(bad, Some(bcs_storage::store::StoreError::InvalidFilter(_))),
            "{b:?} {bad:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_older_than_the_log_has_expired() {
    let store = TestStore::with_settings(crate::common::Backend::Sqlite, |s| {
        s.storage.sqlite.change_log_retain = 5;
    })
    .await;
    let s = store.store.as_ref();
    let pods = ns("Pod");
    let mut feed = s.changes(&pods, None).await.expect("feed");
    let put = |name: &str, v: i64| resource("c1", Some("n1"), name, json!({"v": v}), v);
    s.upsert(&pods, put("p0", 0)).await.expect("put");
    let (_, _, _, first) = next_event(&mut feed).await;
    for i in 1..30 {
        s.upsert(&pods, put(&format!("p{i}"), i))
            .await
            .expect("put");
    }
    let old = s.changes(&pods, Some(&first)).await.err();
    assert!(
        matches!(old, Some(bcs_storage::store::StoreError::Expired)),
        "{old:?}"
    );
    // A revision still in the log resumes.
    let mut late = s.changes(&pods, Some("27")).await.expect("recent");
    let (_, n, _, rev) = next_event(&mut late).await;
    assert_eq!((n.as_str(), rev.as_str()), ("p27", "28"));
}

/// MongoDB: several service instances on one database each serve watches:
/// a write through one store reaches a feed of another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongo_feeds_see_writes_of_other_instances() {
    use bcs_storage::store::ChangeKind;
    if !backends().contains(&crate::common::Backend::Mongo) {
        return;
    }
    let one = TestStore::new(crate::common::Backend::Mongo).await;
    let other = bcs_storage::store::open(
        &one.settings,
        std::sync::Arc::new(bcs_storage::clock::SystemClock),
    )
    .await
    .expect("second instance");
    let pods = ns("Pod");
    let mut feed = other.changes(&pods, None).await.expect("feed");
    let put = |name: &str, v: i64| resource("c1", Some("n1"), name, json!({"v": v}), v);
    one.store.upsert(&pods, put("p1", 1)).await.expect("put");
    let (k, n, _, rev) = next_event(&mut feed).await;
    assert_eq!((k, n.as_str()), (ChangeKind::Add, "p1"));
    // A revision handed out by one instance resumes on the other.
    one.store.upsert(&pods, put("p2", 2)).await.expect("put");
    let mut resumed = one.store.changes(&pods, Some(&rev)).await.expect("resume");
    let (_, n, _, _) = next_event(&mut resumed).await;
    assert_eq!(n, "p2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_and_update_many_set_only_the_named_fields() {
    use bcs_storage::store::ChangeKind;
    for b in backends() {
        let store = TestStore::new(b).await;
        let s = store.store.as_ref();
        let hosts = Namespace {
            database: Database::Dynamic,
            collection: "MergeHost".into(),
            key_fields: &["ip"],
        };
        let host = |ip: &str, cluster: &str, data: Value, t: i64| {
            let mut d = doc(json!({"_id": bson::oid::ObjectId::new().to_hex(), "ip": ip,
                                   "clusterId": cluster, "data": data}));
            d.insert("createTime".into(), date_millis(t));
            d.insert("updateTime".into(), date_millis(t));
            d
        };
        s.upsert(&hosts, host("10.0.0.1", "", json!({"rack": "r1"}), 1_000))
            .await
            .expect("put");
        let mut feed = s.changes(&hosts, None).await.expect("feed");
        // An existing document keeps its other fields and its createTime.
        let out = s
            .merge(
                &hosts,
                host("10.0.0.1", "C1", Value::Null, 2_000),
                &["clusterId", "updateTime"],
            )
            .await
            .expect("merge existing");
        assert!(!out.created, "{b:?}");
        // A missing one is inserted whole.
        let out = s
            .merge(
                &hosts,
                host("10.0.0.2", "C1", Value::Null, 3_000),
                &["clusterId", "updateTime"],
            )
            .await
            .expect("merge new");
        assert!(out.created, "{b:?}");
        let all = find(s, &hosts, &Query::new(Filter::all())).await;
        let summary: Vec<Value> = all
            .iter()
            .map(|d| {
                json!([
                    d["ip"],
                    d["clusterId"],
                    d["data"],
                    d["createTime"],
                    d["updateTime"]
                ])
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                json!(["10.0.0.1", "C1", {"rack": "r1"}, {"$date": 1_000}, {"$date": 2_000}]),
                json!(["10.0.0.2", "C1", null, {"$date": 3_000}, {"$date": 3_000}]),
            ],
            "{b:?}"
        );
        // update_many: every live match, other fields kept, counted.
        let set = doc(json!({"clusterId": "", "updateTime": {"$date": 4_000}}));
        let in_c1 = Filter::Eq("clusterId".into(), json!("C1"));
        assert_eq!(
            s.update_many(&hosts, &in_c1, &set).await.expect("update"),
            2
        );
        assert_eq!(s.update_many(&hosts, &in_c1, &set).await.expect("again"), 0);
        let all = find(s, &hosts, &Query::new(Filter::all())).await;
        assert!(
            all.iter().all(|d| d["clusterId"] == json!("")),
            "{b:?} {all:?}"
        );
        assert_eq!(all[0]["data"], json!({"rack": "r1"}), "{b:?}");
        assert_eq!(all[0]["createTime"], json!({"$date": 1_000}), "{b:?}");
        // Each write is one change, in order.
        let mut kinds = Vec::new();
        while kinds.len() < 4 {
            if let bcs_storage::store::Change::Event(r) = next_change(&mut feed).await {
                kinds.push(r.kind);
            }
        }
        assert_eq!(
            kinds,
            [
                ChangeKind::Change,
                ChangeKind::Add,
                ChangeKind::Change,
                ChangeKind::Change
            ],
            "{b:?}"
        );
        // A deleted document is not updated, and a merge brings its key back
        // as a new document.
        let one = Filter::Eq("ip".into(), json!("10.0.0.2"));
        assert_eq!(s.delete_many(&hosts, &one).await.expect("delete"), 1);
        assert_eq!(s.update_many(&hosts, &one, &set).await.expect("update"), 0);
        let out = s
            .merge(
                &hosts,
                host("10.0.0.2", "C2", Value::Null, 5_000),
                &["clusterId", "updateTime"],
            )
            .await
            .expect("merge after delete");
        assert!(out.created, "{b:?}");
        let back = find(s, &hosts, &Query::new(one)).await;
        assert_eq!(back[0]["createTime"], json!({"$date": 5_000}), "{b:?}");
        assert_eq!(back[0]["clusterId"], json!("C2"), "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pages_neither_repeat_nor_skip_while_the_collection_changes() {
    use bcs_storage::model::{REVISION_FIELD, key_after};
    use bcs_storage::store::Change;
    for b in backends() {
        let store = TestStore::new(b).await;
        let s = store.store.as_ref();
        let pods = ns("Pod");
        // Two clusters, cluster-scoped (no namespace) and namespaced keys.
        let mut all = Vec::new();
        for c in ["c1", "c2"] {
            for (n, name) in [
                (None, "a"),
                (Some("n1"), "b"),
                (Some("n1"), "c"),
                (Some("n2"), "a"),
            ] {
                s.upsert(&pods, resource(c, n, name, json!({}), 1))
                    .await
                    .expect("put");
                all.push((c, n, name));
            }
        }
        let key = |d: &Document| -> Vec<Value> {
            DYNAMIC_KEY
                .iter()
                .map(|k| d.get(*k).cloned().unwrap_or(Value::Null))
                .collect()
        };
        let mut seen = Vec::new();
        let mut after: Option<Vec<Value>> = None;
        let mut page_no = 0;
        loop {
            let q = Query {
                limit: Some(3),
                after: after.clone(),
                ..Query::new(Filter::all())
            };
            let page = find(s, &pods, &q).await;
            if page.is_empty() {
                break;
            }
            for d in &page {
                seen.push(key(d));
            }
            after = page.last().map(key);
            if page_no == 0 {
                // Between pages: one seen document deleted, one new
                // document before the position and one after it.
                let first = Filter::and([
                    Filter::Eq("clusterId".into(), json!("c1")),
                    Filter::Eq("resourceName".into(), json!("a")),
                    Filter::Eq("namespace".into(), Value::Null),
                ]);
                assert_eq!(s.delete_many(&pods, &first).await.expect("delete"), 1);
                s.upsert(&pods, resource("c0", Some("n1"), "z", json!({}), 2))
                    .await
                    .expect("put");
                s.upsert(&pods, resource("c2", Some("n3"), "z", json!({}), 2))
                    .await
                    .expect("put");
            }
            page_no += 1;
        }
        let mut expected: Vec<Vec<Value>> = all
            .iter()
            .map(|(c, n, name)| {
                vec![
                    json!(c),
                    n.map_or(Value::Null, |n| json!(n)),
                    json!("Pod"),
                    json!(name),
                ]
            })
            .collect();
        expected.push(vec![json!("c2"), json!("n3"), json!("Pod"), json!("z")]);
        expected.sort_by(|a, b| {
            let k = |v: &Vec<Value>| {
                v.iter()
                    .map(|x| x.as_str().map(|s| format!("1{s}")).unwrap_or("0".into()))
                    .collect::<Vec<_>>()
            };
            k(a).cmp(&k(b))
        });
        assert_eq!(seen, expected, "{b:?}");
        // The same position as a filter (counts of what is left).
        let rest = key_after(DYNAMIC_KEY, &expected[4]);
        let left = s.count(&pods, &rest).await.expect("count");
        assert_eq!(left, 4, "{b:?}");

        // Revisions: a read after `revision()` sees the writes before it,
        // the feed from it reports the writes after it, and each document
        // carries its own write revision where the store numbers writes.
        let rev = s.revision(&pods).await.expect("revision");
        s.upsert(&pods, resource("c9", Some("n"), "late", json!({"v": 1}), 3))
            .await
            .expect("put");
        let mut feed = s.changes(&pods, Some(&rev)).await.expect("feed");
        let got = loop {
            if let Change::Event(r) = next_change(&mut feed).await {
                break r;
            }
        };
        assert_eq!(got.doc()["resourceName"], "late", "{b:?}");
        let q = Query {
            with_revision: true,
            ..Query::new(Filter::Eq("resourceName".into(), json!("late")))
        };
        let texts: Vec<String> = s
            .find_text(&pods, &q, std::sync::Arc::new(|t: &str| Ok(t.to_owned())))
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("read");
        let d: Value = serde_json::from_str(&texts[0]).expect("json");
        assert_eq!(d["resourceName"], "late");
        // The document's version is the one its change reports (where
        // versions are revisions, the change's revision).
        let version = got.version.clone().unwrap_or(got.revision.clone());
        assert_eq!(d[REVISION_FIELD].as_str(), Some(version.as_str()), "{b:?}");
    }
}

/// Reads the version (`Query::with_revision`) of the document named `name`.
async fn version_of(s: &dyn Store, ns: &Namespace, name: &str) -> Option<String> {
    let q = Query {
        with_revision: true,
        ..Query::new(Filter::Eq("resourceName".into(), json!(name)))
    };
    let texts: Vec<String> = s
        .find_text(ns, &q, std::sync::Arc::new(|t: &str| Ok(t.to_owned())))
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("read");
    let d: Value = serde_json::from_str(texts.first()?).expect("json");
    Some(d[bcs_storage::model::REVISION_FIELD].as_str()?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_see_every_other_write() {
    use bcs_storage::model::Expect;
    for b in backends() {
        let store = TestStore::new(b).await;
        let s = store.store.as_ref();
        let pods = ns("Pod");
        let doc = |v: i64| resource("c1", Some("n"), "p", json!({"v": v}), 1);
        // A create happens once.
        let out = s
            .upsert_if(&pods, doc(1), Expect::Absent)
            .await
            .expect("create");
        assert!(out.created, "{b:?}");
        let v1 = version_of(s, &pods, "p").await.expect("stored");
        assert_eq!(out.version.as_deref(), Some(v1.as_str()), "{b:?}");
        assert!(matches!(
            s.upsert_if(&pods, doc(2), Expect::Absent).await,
            Err(StoreError::Conflict(_))
        ));
        // A replace of the version read.
        let out = s
            .upsert_if(&pods, doc(2), Expect::Version(&v1))
            .await
            .expect("replace");
        assert!(!out.created);
        let v2 = version_of(s, &pods, "p").await.expect("stored");
        assert_ne!(v1, v2, "{b:?}");
        assert!(
            matches!(
                s.upsert_if(&pods, doc(3), Expect::Version(&v1)).await,
                Err(StoreError::Conflict(_))
            ),
            "a stale version, {b:?}"
        );
        // Every kind of write moves the version: an unconditional upsert,
        // a merge and an update_many.
        s.upsert(&pods, doc(4)).await.expect("upsert");
        let v3 = version_of(s, &pods, "p").await.expect("stored");
        assert_ne!(v2, v3, "{b:?}");
        s.update_many(&pods, &Filter::Eq("resourceName".into(), json!("p")), &{
            let mut m = bcs_storage::model::Document::new();
            m.insert("extra".into(), json!(1));
            m
        })
        .await
        .expect("update");
        let v4 = version_of(s, &pods, "p").await.expect("stored");
        assert_ne!(v3, v4, "{b:?}");
        assert!(matches!(
            s.upsert_if(&pods, doc(5), Expect::Version(&v3)).await,
            Err(StoreError::Conflict(_))
        ));
        let back = find(s, &pods, &Query::new(Filter::all())).await;
        assert_eq!(back[0]["data"]["v"], 4, "{b:?}");
        assert!(back[0].get(bcs_storage::model::REVISION_FIELD).is_none());
        assert!(
            back[0].keys().all(|k| k != "_bcsVersion"),
            "internal fields stay hidden: {b:?}"
        );
        // Gone: a version names nothing; a create comes back.
        s.delete_many(&pods, &Filter::all()).await.expect("delete");
        assert!(matches!(
            s.upsert_if(&pods, doc(6), Expect::Version(&v4)).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            s.upsert_if(&pods, doc(7), Expect::Absent)
                .await
                .expect("recreate")
                .created
        );
        if b == crate::common::Backend::Sqlite {
            assert!(matches!(
                s.upsert_if(&pods, doc(8), Expect::Version("x1")).await,
                Err(StoreError::InvalidFilter(_))
            ));
        }

        // A delete of the version read, and of no other.
        let v7 = version_of(s, &pods, "p").await.expect("stored");
        s.upsert(&pods, doc(9)).await.expect("upsert");
        let v9 = version_of(s, &pods, "p").await.expect("stored");
        let rev = s.revision(&pods).await.expect("revision");
        assert!(
            matches!(
                s.delete_if(&pods, &doc(0), &v7).await,
                Err(StoreError::Conflict(_))
            ),
            "a stale version, {b:?}"
        );
        assert_eq!(
            version_of(s, &pods, "p").await.as_deref(),
            Some(v9.as_str())
        );
        s.delete_if(&pods, &doc(0), &v9).await.expect("delete");
        assert_eq!(version_of(s, &pods, "p").await, None, "{b:?}");
        assert!(matches!(
            s.delete_if(&pods, &doc(0), &v9).await,
            Err(StoreError::NotFound)
        ));
        let mut feed = s.changes(&pods, Some(&rev)).await.expect("feed");
        let deleted = loop {
            if let bcs_storage::store::Change::Event(r) = next_change(&mut feed).await {
                break r;
            }
        };
        assert_eq!(
            deleted.kind,
            bcs_storage::store::ChangeKind::Delete,
            "{b:?}"
        );
        assert_eq!(deleted.doc()["resourceName"], "p");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regular_expressions_match_alike_on_every_store() {
    use bcs_storage::model::Pattern;
    for b in backends() {
        let store = TestStore::new(b).await;
        let s = store.store.as_ref();
        let pods = ns("Pod");
        for (name, node, tags) in [
            ("web-1", json!("node-a"), json!(["x", "front"])),
            ("web-22", json!("node-b"), json!(["back"])),
            ("db-1", json!(7), json!([])),
        ] {
            let data = json!({"spec": {"nodeName": node}, "tags": tags});
            s.upsert(&pods, resource("c1", Some("n"), name, data, 1))
                .await
                .expect("put");
        }
        let names = |f: Filter| async move {
            find(s, &ns("Pod"), &Query::new(f))
                .await
                .iter()
                .map(|d| d["resourceName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let re = |p: &str| Pattern::new(p).expect("pattern");
        assert_eq!(
            names(Filter::Regex("resourceName".into(), re("^web-\\d$"))).await,
            ["web-1"],
            "{b:?}"
        );
        assert_eq!(
            names(Filter::Regex("resourceName".into(), re("eb-"))).await,
            ["web-1", "web-22"],
            "unanchored, {b:?}"
        );
        assert_eq!(
            names(Filter::Regex("data.spec.nodeName".into(), re("^node"))).await,
            ["web-1", "web-22"],
            "numbers never match, {b:?}"
        );
        assert_eq!(
            names(Filter::Regex("data.tags".into(), re("^fr"))).await,
            ["web-1"],
            "array elements, {b:?}"
        );
        assert_eq!(
            names(Filter::Not(Box::new(Filter::Regex(
                "resourceName".into(),
                re("^web")
            ))))
            .await,
            ["db-1"],
            "{b:?}"
        );
        assert!(Pattern::new("(").is_err());
    }
}
