//! HTTP tests of the event routes (contract section 6, reference D.1-D.2)
//! on every backend.

use serde_json::{Value, json};

use crate::common::{TestApp, V1, V4, backends, cluster_base, extra, ns_base};

async fn put_event(app: &TestApp, body: Value) {
    app.send_json("PUT", &format!("{V4}/events"), &body)
        .await
        .assert_ok();
}

fn event(cluster: &str, id: &str, t: i64, kind: &str, level: &str, ns: &str, rv: &str) -> Value {
    json!({"id": id, "env": "k8s", "kind": kind, "level": level, "component": "kubelet",
           "type": "Started", "describe": format!("event {id} happened"), "clusterId": cluster,
           "eventTime": t, "extraInfo": {"namespace": ns, "name": format!("obj-{id}"), "kind": kind},
           "data": {"metadata": {"name": id, "namespace": ns, "resourceVersion": rv}, "reason": "Started"}})
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn seed(app: &TestApp) {
    for (c, id, t, kind, level, ns) in [
        ("C1", "e1", 1_700_000_001, "Pod", "Normal", "ns1"),
        ("C2", "e2", 1_700_000_002, "Pod", "Warning", "ns1"),
        ("C1", "e3", 1_700_000_003, "Node", "Warning", "ns2"),
        ("C2", "e4", 1_700_000_004, "Deployment", "Normal", "ns2"),
        ("C3", "e5", 1_700_000_005, "Pod", "Normal", "ns1"),
    ] {
        put_event(app, event(c, id, t, kind, level, ns, "1")).await;
    }
}

#[actix_web::test]
async fn events_are_stored_once_copied_and_listed_newest_first() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed(&app).await;
        // A duplicate (same name and resourceVersion in the cluster) is
        // accepted without a second copy; another resourceVersion is new.
        put_event(
            &app,
            event("C1", "e1", 1_700_000_001, "Pod", "Normal", "ns1", "1"),
        )
        .await;
        let r = app.get(&format!("{V1}/events?clusterId=C1")).await;
        r.assert_ok();
        assert_eq!(ids(r.data()), ["e3", "e1"], "{b:?}");
        assert_eq!(r.body["total"], 2);
        let e1 = &r.data()[1];
        assert_eq!(e1["eventTime"], "2023-11-14T22:13:21.000Z", "{b:?}");
        assert_eq!(
            e1["extraInfo"],
            json!({"namespace": "ns1", "name": "obj-e1", "kind": "Pod"})
        );
        assert_eq!(e1["data"]["reason"], "Started");
        // Events without name and resourceVersion are never collapsed.
        for _ in 0..2 {
            put_event(
                &app,
                json!({"clusterId": "C9", "eventTime": 5, "data": {"x": 1}}),
            )
            .await;
            put_event(
                &app,
                json!({"clusterId": "C9", "eventTime": 5, "data": "text"}),
            )
            .await;
        }
        let r = app.get(&format!("{V4}/events?clusterId=C9")).await;
        assert_eq!(r.body["total"], 4, "{b:?}");
        // The copy as dynamic resource Event: namespaced when the metadata
        // has a namespace, cluster-scoped otherwise.
        let r = app.get(&format!("{}/Event/e1", ns_base("C1", "ns1"))).await;
        r.assert_ok();
        assert_eq!(r.data()["data"]["reason"], "Started", "{b:?}");
        put_event(
            &app,
            json!({"clusterId": "C1", "eventTime": 9,
            "data": {"metadata": {"name": "node-ev", "resourceVersion": "7"}}}),
        )
        .await;
        app.get(&format!("{}/Event/node-ev", cluster_base("C1")))
            .await
            .assert_ok();
        // Across clusters: newest first, total of all.
        let r = app.get(&format!("{V4}/events?clusterId=C1,C2,C3")).await;
        assert_eq!(ids(r.data()), ["e5", "e4", "e3", "e2", "e1", ""], "{b:?}");
        assert_eq!(r.body["total"], 6);
    }
}

#[actix_web::test]
async fn every_filter_is_anded_with_extra_and_paging_spans_clusters() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed(&app).await;
        let all = "clusterId=C1,C2,C3";
        let x = |v: Value| extra(&v);
        for (q, want, total) in [
            (format!("{all}&kind=Pod"), vec!["e5", "e2", "e1"], 3),
            (format!("{all}&level=Warning"), vec!["e3", "e2"], 2),
            (format!("{all}&kind=Pod&level=Normal"), vec!["e5", "e1"], 2),
            (format!("{all}&id=e1,e4"), vec!["e4", "e1"], 2),
            (
                format!("{all}&env=k8s&component=kubelet&type=Started"),
                vec!["e5", "e4", "e3", "e2", "e1"],
                5,
            ),
            (
                format!("{all}&extraInfo.namespace=ns2"),
                vec!["e4", "e3"],
                2,
            ),
            (format!("{all}&extraInfo.name=obj-e2"), vec!["e2"], 1),
            (format!("{all}&extraInfo.kind=Node"), vec!["e3"], 1),
            ("clusterId=C2&kind=Pod".to_string(), vec!["e2"], 1),
            (
                format!("{all}&timeBegin=1700000002&timeEnd=1700000005"),
                vec!["e4", "e3"],
                2,
            ),
            (
                format!("{all}&timeBegin=1700000003&timeEnd=1700000003"),
                vec![],
                0,
            ),
            // extra and extra_contain AND with the other filters.
            (
                format!("{all}&kind=Pod&extra={}", x(json!({"level": "Normal"}))),
                vec!["e5", "e1"],
                2,
            ),
            (
                format!(
                    "{all}&extra={}",
                    x(json!({"extraInfo.namespace": ["ns1", "ns9"]}))
                ),
                vec!["e5", "e2", "e1"],
                3,
            ),
            (
                format!(
                    "{all}&level=Normal&extra_contain={}",
                    x(json!({"describe": "e4 hap"}))
                ),
                vec!["e4"],
                1,
            ),
            (
                format!("{all}&extra_contain={}", x(json!({"describe": "E4"}))),
                vec![],
                0,
            ),
            // Paging over the merged order; total counts every match.
            (format!("{all}&length=2"), vec!["e5", "e4"], 5),
            (format!("{all}&length=2&offset=2"), vec!["e3", "e2"], 5),
            (format!("{all}&length=2&offset=4"), vec!["e1"], 5),
            // One cluster is paged by the store: the same answers.
            ("clusterId=C1&length=1".into(), vec!["e3"], 2),
            ("clusterId=C1&length=1&offset=1".into(), vec!["e1"], 2),
            ("clusterId=C1&length=5&offset=2".into(), vec![], 2),
        ] {
            let r = app.get(&format!("{V4}/events?{q}")).await;
            r.assert_ok();
            assert_eq!(ids(r.data()), want, "{b:?} {q}");
            assert_eq!(r.body["total"], total, "{b:?} {q}");
        }
        // POST with a flat body is the same request.
        let body = json!({"clusterId": "C1,C2,C3", "kind": "Pod", "length": 2, "offset": "1"});
        let r = app.send_json("POST", &format!("{V4}/events"), &body).await;
        r.assert_ok();
        assert_eq!(ids(r.data()), ["e2", "e1"], "{b:?}");
        // field projects.
        let r = app
            .get(&format!("{V4}/events?clusterId=C1&field=id&length=1"))
            .await;
        let keys: Vec<&String> = r.data()[0]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["_id", "id"], "{b:?}");
        // One cluster and several render an event the same way.
        for field in ["", "&field=id,eventTime,extraInfo.name"] {
            let one = app
                .get(&format!("{V4}/events?clusterId=C1&length=1{field}"))
                .await;
            let many = app
                .get(&format!("{V4}/events?clusterId=C1,C9&length=1{field}"))
                .await;
            assert_eq!(one.data(), many.data(), "{b:?} {field}");
            assert_eq!(one.data()[0]["id"], "e3", "{b:?} {field}");
        }
    }
}

#[actix_web::test]
async fn bad_events_requests_are_400s() {
    for b in backends() {
        let app = TestApp::new(b).await;
        app.get(&format!("{V4}/events"))
            .await
            .assert_err(400, 1_405_085, "clusterId");
        app.send("POST", &format!("{V4}/events"), Some(b"{}"))
            .await
            .assert_err(400, 1_405_085, "clusterId");
        for (q, name) in [
            ("clusterId=C1&timeBegin=abc", "timeBegin"),
            ("clusterId=C1&timeEnd=soon", "timeEnd"),
            ("clusterId=C1&length=x", "length"),
            ("clusterId=C1&offset=-1", "offset"),
            ("clusterId=C1&extra=%%%", "extra"),
            ("clusterId=C1&extra_contain=%%%", "extra_contain"),
        ] {
            app.get(&format!("{V4}/events?{q}"))
                .await
                .assert_err(400, 1_405_090, name);
        }
        for (body, needle) in [
            (&b"{"[..], "not valid JSON"),
            (b"[1]", "object"),
            (br#"{"clusterId": "C1", "eventTime": "x"}"#, "eventTime"),
            (br#"{"clusterId": "C1", "kind": 1}"#, "kind"),
            (br#"{"clusterId": "C1", "extraInfo": [1]}"#, "extraInfo"),
        ] {
            app.send("PUT", &format!("{V4}/events"), Some(body))
                .await
                .assert_err(400, 1_405_080, needle);
        }
        app.send("PUT", &format!("{V4}/events"), Some(br#"{"eventTime": 1}"#))
            .await
            .assert_err(400, 1_405_090, "clusterId");
        let r = app.get(&format!("{V4}/events?clusterId=C1")).await;
        assert_eq!(r.body["total"], 0, "{b:?}");
    }
}

#[actix_web::test]
async fn identical_events_sent_at_once_are_stored_once() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let body = event("CR", "race", 1_700_000_100, "Pod", "Normal", "ns1", "42").to_string();
        let uri = format!("{V4}/events");
        let puts = (0..8).map(|_| app.send("PUT", &uri, Some(body.as_bytes())));
        for r in futures::future::join_all(puts).await {
            r.assert_ok();
        }
        let r = app.get(&format!("{V4}/events?clusterId=CR")).await;
        assert_eq!(r.body["total"], 1, "{b:?}");
        assert_eq!(ids(r.data()), ["race"], "{b:?}");
        app.get(&format!("{}/Event/race", ns_base("CR", "ns1")))
            .await
            .assert_ok();
    }
}

/// MongoDB only: on a database the Go service wrote, its unique index
/// `event_<clusterId>_idx` (not partial) would refuse every event without
/// metadata after the first (Go swallowed them). It is replaced on first
/// use, so they are stored as on a fresh database, and real duplicates are
/// still stored once.
#[actix_web::test]
async fn go_event_indexes_are_replaced_so_no_event_is_lost() {
    if !backends().contains(&crate::common::Backend::Mongo) {
        return;
    }
    let app = TestApp::new(crate::common::Backend::Mongo).await;
    let coll = app
        .store
        .mongo_collection(bcs_storage::model::Database::Event, "event_CG")
        .await;
    let model = mongodb::IndexModel::builder()
        .keys(bson::doc! {"data.metadata.name": 1, "data.metadata.resourceVersion": 1})
        .options(
            mongodb::options::IndexOptions::builder()
                .name("event_CG_idx".to_owned())
                .unique(true)
                .build(),
        )
        .build();
    coll.create_index(model).await.expect("go index");
    // An event the Go service stored, without metadata.
    coll.insert_one(
        bson::doc! {"clusterId": "CG", "eventTime": bson::DateTime::from_millis(4_000),
        "data": {"x": 0}, "_isBcsObjectDeleted": false},
    )
    .await
    .expect("go event");
    for _ in 0..2 {
        put_event(
            &app,
            json!({"clusterId": "CG", "eventTime": 5, "data": {"x": 1}}),
        )
        .await;
        put_event(&app, event("CG", "g1", 6, "Pod", "Normal", "ns1", "1")).await;
    }
    let r = app.get(&format!("{V4}/events?clusterId=CG")).await;
    r.assert_ok();
    assert_eq!(r.body["total"], 4, "{}", r.raw);
    // The Go event has no extraInfo at all.
    assert_eq!(ids(r.data()), ["g1", "", "", "?"]);
    let names: Vec<String> = coll
        .list_index_names()
        .await
        .expect("indexes")
        .into_iter()
        .filter(|n| n.contains("metadata"))
        .collect();
    assert_eq!(
        names,
        ["bcs_once_data.metadata.name_data.metadata.resourceVersion"],
        "the Go index is gone, the partial one took its place"
    );
}

/// MongoDB only: the Go service names its natural-key index `<type>_idx`
/// and makes it on the keys of the first PUT; when that was a cluster-scoped
/// one, its three keys would refuse namespaced documents that share a name.
/// It is replaced on first use by the four-key index.
#[actix_web::test]
async fn a_go_natural_key_index_on_three_keys_is_replaced() {
    if !backends().contains(&crate::common::Backend::Mongo) {
        return;
    }
    let app = TestApp::new(crate::common::Backend::Mongo).await;
    let coll = app
        .store
        .mongo_collection(bcs_storage::model::Database::Dynamic, "Lease")
        .await;
    let model = mongodb::IndexModel::builder()
        .keys(bson::doc! {"clusterId": 1, "resourceType": 1, "resourceName": 1})
        .options(
            mongodb::options::IndexOptions::builder()
                .name("Lease_idx".to_owned())
                .unique(true)
                .build(),
        )
        .build();
    coll.create_index(model).await.expect("go index");
    for ns in ["ns1", "ns2"] {
        app.put_json(
            &format!("{}/Lease/leader", ns_base("C1", ns)),
            &json!({"data": {"holder": ns}}),
        )
        .await
        .assert_ok();
    }
    let r = app
        .get(&format!("{V4}/k8s/dynamic/all_resources/clusters/C1/Lease"))
        .await;
    r.assert_ok();
    assert_eq!(r.data().as_array().map(Vec::len), Some(2), "{}", r.raw);
    let idx: Vec<bson::Document> = {
        use futures::TryStreamExt;
        coll.list_indexes()
            .await
            .expect("indexes")
            .try_collect::<Vec<_>>()
            .await
            .expect("indexes")
            .into_iter()
            .filter(|m| m.options.as_ref().and_then(|o| o.name.as_deref()) == Some("Lease_idx"))
            .map(|m| m.keys)
            .collect()
    };
    assert_eq!(
        idx,
        [bson::doc! {"clusterId": 1, "namespace": 1, "resourceType": 1, "resourceName": 1}]
    );
}

/// Pages over several clusters are slices of one list, newest first (ties:
/// the clusters in the order asked), however the clusters' chunks fall;
/// more clusters than `query.max_clusters` is a 400.
#[actix_web::test]
async fn multi_cluster_pages_slice_one_merged_list() {
    for b in backends() {
        let app = TestApp::with_settings(b, |s| s.query.max_clusters = 3).await;
        // 18 events; times interleave and tie across clusters, and MA holds
        // the newest ten (read in several chunks).
        let mut all: Vec<(i64, usize, String)> = Vec::new();
        for (ci, c, n) in [(0, "MA", 10), (1, "MB", 4), (2, "MC", 4)] {
            for i in 0..n {
                let t = if c == "MA" {
                    1_700_000_100 + i
                } else {
                    1_700_000_000 + i * 3 + (ci as i64 % 2)
                };
                let id = format!("{c}-{i}");
                put_event(&app, event(c, &id, t, "Pod", "Normal", "ns", "1")).await;
                all.push((t, ci, id));
            }
        }
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let ordered: Vec<String> = all.into_iter().map(|(_, _, id)| id).collect();
        for (offset, length) in [
            (0, 18),
            (0, 4),
            (0, 12),
            (4, 5),
            (9, 4),
            (11, 7),
            (16, 5),
            (18, 3),
        ] {
            let r = app
                .get(&format!(
                    "{V4}/events?clusterId=MA,MB,MC&offset={offset}&length={length}"
                ))
                .await;
            r.assert_ok();
            let want: Vec<String> = ordered.iter().skip(offset).take(length).cloned().collect();
            assert_eq!(ids(r.data()), want, "{b:?} offset {offset} length {length}");
            assert_eq!(r.body["total"], 18, "{b:?}");
        }
        app.get(&format!("{V4}/events?clusterId=MA,MB,MC,MD"))
            .await
            .assert_err(400, 1_405_090, "query.max_clusters");
    }
}
