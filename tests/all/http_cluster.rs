//! HTTP tests of the cluster clean (contract section 9, reference B.9) on
//! every backend.

use serde_json::json;

use crate::common::{TestApp, V1, V4, backends, cluster_base, ns_base};

#[actix_web::test]
async fn cleaning_a_cluster_deletes_only_its_documents_and_can_be_repeated() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for c in ["C1", "C2"] {
            app.put_json(
                &format!("{}/Pod/p1", ns_base(c, "ns1")),
                &json!({"data": {}}),
            )
            .await
            .assert_ok();
            app.put_json(
                &format!("{}/Pod/p2", ns_base(c, "ns2")),
                &json!({"data": {}}),
            )
            .await
            .assert_ok();
            app.put_json(
                &format!("{}/Node/n1", cluster_base(c)),
                &json!({"data": {}}),
            )
            .await
            .assert_ok();
            let body = json!({"clusterId": c, "name": "x"});
            app.send_json("PUT", &format!("{V4}/dynamic/customresources/Foo"), &body)
                .await
                .assert_ok();
        }
        let r = app
            .send("DELETE", &format!("{V4}/clusters/C1/data"), None)
            .await;
        r.assert_ok();
        assert_eq!(
            r.data(),
            &json!([{"clusterId": "C1", "deletedCounts": {"dynamic": 4, "event": 0}}]),
            "{b:?}"
        );
        // C1 is empty, C2 untouched.
        let r = app.get(&format!("{}/Pod", cluster_base("C1"))).await;
        assert_eq!(r.data(), &json!([]), "{b:?}");
        let r = app.get(&format!("{}/Pod", cluster_base("C2"))).await;
        assert_eq!(r.data().as_array().map(Vec::len), Some(2), "{b:?}");
        let r = app.get(&format!("{V4}/dynamic/customresources/Foo")).await;
        assert_eq!(r.body["total"], 1, "{b:?}");
        assert_eq!(r.data()[0]["clusterId"], "C2");
        // Repeating it deletes nothing more.
        let r = app
            .send("DELETE", &format!("{V4}/clusters/C1/data"), None)
            .await;
        r.assert_ok();
        assert_eq!(
            r.data(),
            &json!([{"clusterId": "C1", "deletedCounts": {"dynamic": 0, "event": 0}}]),
            "{b:?}"
        );
        app.get(&format!("{V4}/clusters/C1/data"))
            .await
            .assert_err(405, 1_405_094, "GET");
    }
}

/// The console's first page: every cluster with its count per kind; a
/// deleted document no longer counts, a cleaned cluster is gone.
#[actix_web::test]
async fn clusters_are_listed_with_their_counts_per_kind() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let r = app.get(&format!("{V4}/dynamic/clusters")).await;
        r.assert_ok();
        assert_eq!(r.data(), &json!([]), "{b:?}");
        for (c, pods) in [("C2", 1), ("C1", 3)] {
            for i in 0..pods {
                app.put_json(
                    &format!("{}/Pod/p{i}", ns_base(c, "ns1")),
                    &json!({"data": {}}),
                )
                .await
                .assert_ok();
            }
        }
        app.put_json(
            &format!("{}/Node/n1", cluster_base("C1")),
            &json!({"data": {}}),
        )
        .await
        .assert_ok();
        app.delete(&format!("{}/Pod/p2", ns_base("C1", "ns1")))
            .await
            .assert_ok();
        let r = app.get(&format!("{V4}/dynamic/clusters")).await;
        assert_eq!(
            r.data(),
            &json!([
                {"clusterId": "C1", "resources": {"Node": 1, "Pod": 2}, "total": 3},
                {"clusterId": "C2", "resources": {"Pod": 1}, "total": 1},
            ]),
            "{b:?}"
        );
        app.send("DELETE", &format!("{V4}/clusters/C2/data"), None)
            .await
            .assert_ok();
        let r = app.get(&format!("{V1}/dynamic/clusters")).await;
        assert_eq!(r.data()[0]["clusterId"], "C1", "{b:?}");
        assert_eq!(r.data().as_array().map(Vec::len), Some(1), "{b:?}");
    }
}
