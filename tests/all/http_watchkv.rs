//! HTTP tests of the watch key/value routes (contract sections 7 and 11) on
//! every backend.

use serde_json::{Value, json};

use crate::common::{TestApp, V1, V4, backends};

fn url(prefix: &str, env: &str, ns: &str, rtype: &str, name: Option<&str>) -> String {
    let base = format!("{prefix}/{env}/watch/clusters/C1/namespaces/{ns}/{rtype}");
    match name {
        Some(n) => format!("{base}/{n}"),
        None => base,
    }
}

#[actix_web::test]
async fn objects_round_trip_exactly_and_list_by_name() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let s1 = json!({"a": 1, "k.e$y": {"v": "x.y$z"}, "l": [1, {"m": null}]});
        let s2 = json!({"b": "two"});
        for (name, data) in [("s2", &s2), ("s1", &s1)] {
            app.put_json(
                &url(V4, "k8s", "ns1", "exportservice", Some(name)),
                &json!({"data": data}),
            )
            .await
            .assert_ok();
        }
        let r = app
            .get(&url(V1, "k8s", "ns1", "exportservice", Some("s1")))
            .await;
        r.assert_ok();
        assert_eq!(r.data(), &s1, "{b:?}");
        let r = app.get(&url(V4, "k8s", "ns1", "exportservice", None)).await;
        r.assert_ok();
        assert_eq!(r.data(), &json!([s1, s2]), "{b:?}");
        // A second PUT replaces the object.
        app.put_json(
            &url(V4, "k8s", "ns1", "exportservice", Some("s1")),
            &json!({"data": {"c": 3}}),
        )
        .await
        .assert_ok();
        let r = app
            .get(&url(V4, "k8s", "ns1", "exportservice", Some("s1")))
            .await;
        assert_eq!(r.data(), &json!({"c": 3}), "{b:?}");
        // The k8s and mesos trees, namespaces and types are apart.
        for u in [
            url(V4, "mesos", "ns1", "exportservice", Some("s1")),
            url(V4, "k8s", "ns2", "exportservice", Some("s1")),
            url(V4, "k8s", "ns1", "other", Some("s1")),
        ] {
            app.get(&u).await.assert_err(404, 1_405_087, "not exist");
        }
        let r = app
            .get(&url(V4, "mesos", "ns1", "exportservice", None))
            .await;
        r.assert_ok();
        assert_eq!(r.data(), &json!([]), "{b:?}");
        // A k8s namespace named `mesos` holding a type named `watch` stays
        // in the k8s tree (its path contains `/mesos/watch/`).
        let tricky = url(V4, "k8s", "mesos", "watch", Some("w"));
        app.put_json(&tricky, &json!({"data": {"k8s": true}}))
            .await
            .assert_ok();
        assert_eq!(app.get(&tricky).await.data(), &json!({"k8s": true}));
        app.get(&url(V4, "mesos", "mesos", "watch", Some("w")))
            .await
            .assert_err(404, 1_405_087, "not exist");
        // DELETE is idempotent.
        for _ in 0..2 {
            app.delete(&url(V4, "k8s", "ns1", "exportservice", Some("s1")))
                .await
                .assert_ok();
        }
        let r = app.get(&url(V4, "k8s", "ns1", "exportservice", None)).await;
        assert_eq!(r.data(), &json!([s2]), "{b:?}");
    }
}

#[actix_web::test]
async fn bad_bodies_are_400s_and_change_nothing() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let u = url(V4, "k8s", "ns1", "exportservice", Some("s1"));
        app.put_json(&u, &json!({"data": {"keep": true}}))
            .await
            .assert_ok();
        for (body, needle) in [
            (&b"{"[..], "not valid JSON"),
            (b"[]", "object"),
            (br#"{"data": [1]}"#, "data must be a JSON object"),
            (br#"{"data": "x"}"#, "data must be a JSON object"),
            (br#"{"data": null}"#, "data must be a JSON object"),
            (br#"{"other": {}}"#, "no data"),
        ] {
            app.send("PUT", &u, Some(body))
                .await
                .assert_err(400, 1_405_080, needle);
        }
        let r = app.get(&u).await;
        assert_eq!(r.data(), &json!({"keep": true}), "{b:?}");
        app.send("POST", &u, Some(b"{}"))
            .await
            .assert_err(405, 1_405_094, "POST");
        app.send(
            "PUT",
            &url(V4, "k8s", "ns1", "exportservice", None),
            Some(b"{}"),
        )
        .await
        .assert_err(405, 1_405_094, "PUT");
        let list: Value = app
            .get(&url(V4, "k8s", "ns1", "exportservice", None))
            .await
            .data()
            .clone();
        assert_eq!(list, json!([{"keep": true}]), "{b:?}");
    }
}
