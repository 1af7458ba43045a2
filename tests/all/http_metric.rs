//! HTTP tests of the metric routes (contract section 7, reference F) on
//! every backend.

use serde_json::{Value, json};

use crate::common::{TestApp, V1, V4, backends, extra};

fn one(prefix: &str, c: &str, ns: &str, t: &str, n: &str) -> String {
    format!("{prefix}/metric/clusters/{c}/namespaces/{ns}/{t}/{n}")
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|d| d["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[actix_web::test]
async fn metrics_round_trip_list_and_delete() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for (c, ns, t, n, v) in [
            ("C1", "ns1", "cpu", "m1", 1),
            ("C1", "ns1", "mem", "m2", 2),
            ("C1", "ns2", "cpu", "m3", 3),
            ("C2", "ns1", "cpu", "m4", 4),
        ] {
            app.put_json(
                &one(V4, c, ns, t, n),
                &json!({"data": {"v": v, "k.e$y": 1}}),
            )
            .await
            .assert_ok();
        }
        let r = app.get(&one(V1, "C1", "ns1", "cpu", "m1")).await;
        r.assert_ok();
        let d = r.data();
        assert_eq!(
            (&d["clusterId"], &d["namespace"], &d["type"], &d["name"]),
            (&json!("C1"), &json!("ns1"), &json!("cpu"), &json!("m1")),
            "{b:?}"
        );
        assert_eq!(d["data"], json!({"v": 1, "k.e$y": 1}), "{b:?}");
        let created = d["createTime"].clone();
        // A second PUT keeps createTime and replaces data.
        app.put_json(
            &one(V4, "C1", "ns1", "cpu", "m1"),
            &json!({"data": {"v": 9}}),
        )
        .await
        .assert_ok();
        let d = app
            .get(&one(V4, "C1", "ns1", "cpu", "m1"))
            .await
            .data()
            .clone();
        assert_eq!(
            (d["data"].clone(), d["createTime"].clone()),
            (json!({"v": 9}), created)
        );
        for (q, want) in [
            ("", vec!["m1", "m2", "m3"]),
            ("?type=cpu", vec!["m1", "m3"]),
            ("?namespace=ns1&type=cpu,mem", vec!["m1", "m2"]),
            ("?name=m3,m4", vec!["m3"]),
            ("?limit=1&offset=1", vec!["m2"]),
        ] {
            let r = app.get(&format!("{V4}/metric/clusters/C1{q}")).await;
            r.assert_ok();
            assert_eq!(names(r.data()), want, "{b:?} {q}");
        }
        let q = format!("?extra={}", extra(&json!({"data.v": 2})));
        let r = app.get(&format!("{V4}/metric/clusters/C1{q}")).await;
        assert_eq!(names(r.data()), ["m2"], "{b:?}");
        // field is honoured.
        let r = app
            .get(&format!("{V4}/metric/clusters/C1?field=name&limit=1"))
            .await;
        let keys: Vec<&String> = r.data()[0]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["_id", "name"], "{b:?}");
        let r = app.get(&format!("{V4}/metric/clusters")).await;
        r.assert_ok();
        assert_eq!(r.data(), &json!(["C1", "C2"]), "{b:?}");
        // Delete: a missing metric is a 404.
        app.delete(&one(V4, "C1", "ns1", "mem", "m2"))
            .await
            .assert_ok();
        app.delete(&one(V4, "C1", "ns1", "mem", "m2"))
            .await
            .assert_err(404, 1_405_087, "not exist");
        app.get(&one(V4, "C1", "ns1", "mem", "m2"))
            .await
            .assert_err(404, 1_405_087, "not exist");
        let r = app.get(&format!("{V4}/metric/clusters/C9")).await;
        assert_eq!(r.data(), &json!([]), "{b:?}");
    }
}

#[actix_web::test]
async fn bad_metric_requests_are_400s() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let u = one(V4, "C1", "ns1", "cpu", "m1");
        for (body, needle) in [(&b"{"[..], "not valid JSON"), (b"[1]", "JSON object")] {
            app.send("PUT", &u, Some(body))
                .await
                .assert_err(400, 1_405_080, needle);
        }
        for (q, name) in [
            ("limit=x", "limit"),
            ("extra=%%%", "extra"),
            ("field=a..b", "field"),
        ] {
            app.get(&format!("{V4}/metric/clusters/C1?{q}"))
                .await
                .assert_err(400, 1_405_090, name);
        }
        app.put_json(
            &one(V4, "system.x", "ns1", "cpu", "m1"),
            &json!({"data": 1}),
        )
        .await
        .assert_err(400, 1_405_090, "clusterId");
        app.send("POST", &u, Some(b"{}"))
            .await
            .assert_err(405, 1_405_094, "POST");
        let r = app.get(&format!("{V4}/metric/clusters")).await;
        assert_eq!(r.data(), &json!([]), "{b:?}");
    }
}

/// MongoDB only: the Go service made no unique index on metrics, so its
/// database can hold two documents of one key. This service's natural-key
/// index then cannot be made; writes are still accepted.
#[actix_web::test]
async fn duplicates_left_by_the_go_service_never_refuse_a_write() {
    if !backends().contains(&crate::common::Backend::Mongo) {
        return;
    }
    let app = TestApp::new(crate::common::Backend::Mongo).await;
    let coll = app
        .store
        .mongo_collection(bcs_storage::model::Database::Metric, "CD")
        .await;
    let t = bson::DateTime::from_millis(1_000);
    for v in [1, 2] {
        coll.insert_one(
            bson::doc! {"clusterId": "CD", "namespace": "ns1", "type": "cpu",
            "name": "dup", "data": {"v": v}, "createTime": t,
            "updateTime": t, "_isBcsObjectDeleted": false},
        )
        .await
        .expect("go metric");
    }
    app.put_json(
        &one(V4, "CD", "ns1", "cpu", "new"),
        &json!({"data": {"v": 3}}),
    )
    .await
    .assert_ok();
    app.put_json(
        &one(V1, "CD", "ns1", "cpu", "dup"),
        &json!({"data": {"v": 4}}),
    )
    .await
    .assert_ok();
    let r = app.get(&one(V4, "CD", "ns1", "cpu", "new")).await;
    r.assert_ok();
    assert_eq!(r.data()["data"], json!({"v": 3}));
    let r = app.get(&format!("{V4}/metric/clusters/CD?name=dup")).await;
    r.assert_ok();
    let values: Vec<&Value> = r
        .data()
        .as_array()
        .expect("list")
        .iter()
        .map(|d| &d["data"]["v"])
        .collect();
    assert!(values.contains(&&json!(4)), "{}", r.raw);
}
