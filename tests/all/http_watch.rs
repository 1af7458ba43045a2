//! HTTP tests of the streaming watch routes (contract section 8, reference
//! E.2) on every backend.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, V1, V4, Watch, backends, ns_base};

/// PUTs pod `name` of cluster `c` with `data.v = v`.
async fn put_pod(app: &TestApp, c: &str, name: &str, v: i64) {
    app.put_json(
        &format!("{}/Pod/{name}", ns_base(c, "ns1")),
        &json!({"data": {"metadata": {"name": name}, "v": v}}),
    )
    .await
    .assert_ok();
}

/// (type, resourceName, data.v) of an event frame.
fn summary(frame: &Value) -> (i64, String, Value) {
    (
        frame["type"].as_i64().unwrap_or(0),
        frame["value"]["resourceName"]
            .as_str()
            .unwrap_or("?")
            .to_owned(),
        frame["value"]["data"]["v"].clone(),
    )
}

/// The next frame that is not a bookmark.
async fn next_event(w: &mut Watch) -> Value {
    loop {
        let f = w.next().await.expect("stream open");
        if f["type"] != 5 {
            return f;
        }
    }
}

#[actix_web::test]
async fn add_change_delete_arrive_in_order_with_revisions() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut w = app.watch(&format!("{V4}/dynamic/watch/C1/Pod"), "{}").await;
        assert_eq!(w.status, 200);
        put_pod(&app, "C1", "p1", 1).await;
        put_pod(&app, "C2", "p1", 9).await; // another cluster: not seen
        put_pod(&app, "C1", "p1", 2).await;
        app.delete(&format!("{}/Pod/p1", ns_base("C1", "ns1")))
            .await
            .assert_ok();
        let frames = [
            next_event(&mut w).await,
            next_event(&mut w).await,
            next_event(&mut w).await,
        ];
        let got: Vec<_> = frames.iter().map(summary).collect();
        assert_eq!(
            got,
            [
                (1, "p1".to_owned(), json!(1)),
                (3, "p1".to_owned(), json!(2)),
                (2, "p1".to_owned(), json!(2)),
            ],
            "{b:?}"
        );
        // Values look like GET results: times as RFC 3339, no internals.
        let v = &frames[0]["value"];
        assert!(v["createTime"].is_string(), "{b:?} {v}");
        assert!(v.get("_isBcsObjectDeleted").is_none(), "{b:?}");
        assert!(v.get("_bcsTimes").is_none(), "{b:?}");
        for f in &frames {
            assert!(f["resourceVersion"].is_string(), "{b:?} {f}");
        }
        assert_eq!(app.store.hub.active(), 1);
        drop(w);
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
        // The v1 prefix serves the same route.
        let mut w1 = app
            .watch(&format!("{V1}/dynamic/watch/C1/Pod"), r#"{"maxEvents": 1}"#)
            .await;
        put_pod(&app, "C1", "p2", 3).await;
        assert_eq!(summary(&next_event(&mut w1).await).1, "p2", "{b:?}");
        assert_eq!(w1.rest().await, [json!({"type": -1, "value": null})]);
    }
}

/// The break frame that ends every stream.
fn brk() -> Value {
    json!({"type": -1, "value": null})
}

/// `/bcsapi/v4/storage/dynamic/watch/{c}/Pod`
fn pod_watch(c: &str) -> String {
    format!("{V4}/dynamic/watch/{c}/Pod")
}

/// URL of pod `name` of cluster `c` in namespace ns1.
fn pod_url(c: &str, name: &str) -> String {
    format!("{}/Pod/{name}", ns_base(c, "ns1"))
}

/// The top-level resourceVersion of a frame.
fn rev_of(frame: &Value) -> String {
    frame["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion in {frame}"))
        .to_owned()
}

/// The next bookmark frame, skipping nothing else: fails on an event.
async fn next_bookmark(w: &mut Watch) -> Value {
    let f = w.next().await.expect("stream open");
    assert_eq!(f["type"], 5, "expected a bookmark: {f}");
    f
}

/// The summaries of `n` events read from `w` (bookmarks skipped).
async fn events(w: &mut Watch, n: usize) -> Vec<(i64, String, Value)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(summary(&next_event(w).await));
    }
    out
}

fn ev(t: i64, name: &str, v: i64) -> (i64, String, Value) {
    (t, name.to_owned(), json!(v))
}

#[actix_web::test]
async fn resume_after_disconnect_replays_exactly_the_missed_events() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut w = app.watch(&pod_watch("C1"), "{}").await;
        assert_eq!(w.status, 200, "{b:?}");
        put_pod(&app, "C1", "p1", 1).await;
        let first = next_event(&mut w).await;
        assert_eq!(summary(&first), ev(1, "p1", 1), "{b:?}");
        let rev = rev_of(&first);
        drop(w);
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
        // Written while nobody watches.
        put_pod(&app, "C1", "p2", 1).await;
        put_pod(&app, "C1", "p3", 1).await;
        put_pod(&app, "C2", "p9", 9).await; // another cluster
        put_pod(&app, "C1", "p3", 2).await;
        app.delete(&pod_url("C1", "p1")).await.assert_ok();
        let body = json!({ "resourceVersion": rev }).to_string();
        let mut w = app.watch(&pod_watch("C1"), &body).await;
        assert_eq!(w.status, 200, "{b:?}");
        let missed = events(&mut w, 4).await;
        assert_eq!(
            missed,
            [
                ev(1, "p2", 1),
                ev(1, "p3", 1),
                ev(3, "p3", 2),
                ev(2, "p1", 1)
            ],
            "{b:?}"
        );
        // Nothing else was missed: the next frame is a live write (a PUT
        // after the DELETE makes the object again: an add).
        put_pod(&app, "C1", "p1", 5).await;
        assert_eq!(summary(&next_event(&mut w).await), ev(1, "p1", 5), "{b:?}");
        put_pod(&app, "C1", "p4", 6).await;
        assert_eq!(summary(&next_event(&mut w).await), ev(1, "p4", 6), "{b:?}");
    }
}

#[actix_web::test]
async fn resume_revisions_are_strictly_after() {
    // Every frame's revision resumes right after that frame.
    for b in backends() {
        let app = TestApp::new(b).await;
        let names = ["a", "b", "c", "d"];
        let mut w = app.watch(&pod_watch("C1"), "{}").await;
        for (i, name) in names.iter().enumerate() {
            put_pod(&app, "C1", name, i as i64).await;
        }
        let frames = [
            next_event(&mut w).await,
            next_event(&mut w).await,
            next_event(&mut w).await,
            next_event(&mut w).await,
        ];
        drop(w);
        // A last write, so that every resume has something to end on.
        put_pod(&app, "C1", "z", 9).await;
        for (i, f) in frames.iter().enumerate() {
            let mut want: Vec<&str> = names[i + 1..].to_vec();
            want.push("z");
            let body = json!({"resourceVersion": rev_of(f), "maxEvents": want.len()}).to_string();
            let mut r = app.watch(&pod_watch("C1"), &body).await;
            assert_eq!(r.status, 200, "{b:?}");
            let got = r.rest().await;
            assert_eq!(got.last(), Some(&brk()), "{b:?}");
            let got: Vec<String> = got[..got.len() - 1].iter().map(|f| summary(f).1).collect();
            assert_eq!(got, want, "{b:?} resumed from frame {i}");
        }
    }
}

#[actix_web::test]
async fn a_resource_version_past_the_retained_history_is_410() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        s.storage.sqlite.change_log_retain = 5;
    })
    .await;
    let mut w = app.watch(&pod_watch("C1"), "{}").await;
    put_pod(&app, "C1", "p0", 0).await;
    let rev = rev_of(&next_event(&mut w).await);
    drop(w);
    for i in 1..=30 {
        put_pod(&app, "C1", &format!("p{i}"), i).await;
    }
    let body = json!({ "resourceVersion": rev }).to_string();
    let w = app.watch(&pod_watch("C1"), &body).await;
    assert_eq!(w.status, 410);
    let env = w.envelope().await;
    assert_eq!(env["code"], 1_405_096, "{env}");
    assert_eq!(env["result"], false, "{env}");
    assert!(env["message"].is_string(), "{env}");
    assert_eq!(app.store.hub.active(), 0);
    // A recent revision still resumes.
    let mut w = app.watch(&pod_watch("C1"), "{}").await;
    put_pod(&app, "C1", "q1", 1).await;
    let rev = rev_of(&next_event(&mut w).await);
    drop(w);
    put_pod(&app, "C1", "q2", 2).await;
    let body = json!({ "resourceVersion": rev, "maxEvents": 1 }).to_string();
    let mut w = app.watch(&pod_watch("C1"), &body).await;
    assert_eq!(w.status, 200);
    assert_eq!(summary(&next_event(&mut w).await), ev(1, "q2", 2));
    assert_eq!(w.rest().await, [brk()]);
}

#[actix_web::test]
async fn an_unparseable_resource_version_is_400() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for uri in [
            pod_watch("C1"),
            format!("{V1}/dynamic/watch/containers/C1"),
            format!("{V4}/events/watch?clusterId=C1"),
            format!("{V4}/metric/watch/C1/cpu"),
        ] {
            let w = app.watch(&uri, r#"{"resourceVersion": "abc"}"#).await;
            assert_eq!(w.status, 400, "{b:?} {uri}");
            let env = w.envelope().await;
            assert_eq!(env["code"], 1_405_090, "{b:?} {uri} {env}");
            assert_eq!(env["result"], false, "{b:?} {uri} {env}");
            assert!(
                env["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("resourceVersion")),
                "{b:?} {uri} {env}"
            );
        }
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
    }
}

#[actix_web::test]
async fn max_events_and_timeout_end_the_stream() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut w = app.watch(&pod_watch("C1"), r#"{"maxEvents": 2}"#).await;
        assert_eq!(w.status, 200, "{b:?}");
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            put_pod(&app, "C1", name, i as i64).await;
        }
        let got = w.rest().await;
        assert_eq!(got.len(), 3, "{b:?} {got:?}");
        let names: Vec<_> = got[..2].iter().map(summary).collect();
        assert_eq!(names, [ev(1, "a", 0), ev(1, "b", 1)], "{b:?}");
        assert_eq!(got[2], brk(), "{b:?}");
        assert_eq!(w.next().await, None, "{b:?}");
        assert_eq!(app.store.hub.active(), 0, "{b:?}");

        // Events of other clusters do not count.
        let mut w = app.watch(&pod_watch("C1"), r#"{"maxEvents": 1}"#).await;
        put_pod(&app, "C2", "x", 1).await;
        put_pod(&app, "C1", "y", 2).await;
        let got = w.rest().await;
        assert_eq!(got.len(), 2, "{b:?} {got:?}");
        assert_eq!(summary(&got[0]), ev(1, "y", 2), "{b:?}");
        assert_eq!(got[1], brk(), "{b:?}");

        let mut w = app
            .watch(&pod_watch("C1"), r#"{"timeout": 300000000}"#)
            .await;
        assert_eq!(w.status, 200, "{b:?}");
        assert_eq!(w.rest().await, [brk()], "{b:?}");
        assert_eq!(w.next().await, None, "{b:?}");
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
    }
}

#[actix_web::test]
async fn dropped_watches_are_no_longer_counted() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let hub = &app.store.hub;
        assert_eq!(hub.active(), 0, "{b:?}");
        let w1 = app.watch(&pod_watch("C1"), "{}").await;
        let w2 = app
            .watch(&format!("{V1}/events/watch?clusterId=C1"), "{}")
            .await;
        let w3 = app.watch(&format!("{V4}/metric/watch/C1/cpu"), "{}").await;
        assert_eq!((w1.status, w2.status, w3.status), (200, 200, 200), "{b:?}");
        assert_eq!(hub.active(), 3, "{b:?}");
        // Break-only replies (invalid bodies) are not open watches.
        let mut w4 = app.watch(&pod_watch("C1"), "nope").await;
        assert_eq!(hub.active(), 3, "{b:?}");
        assert_eq!(w4.rest().await, [brk()], "{b:?}");
        drop(w2);
        assert_eq!(hub.active(), 2, "{b:?}");
        drop(w1);
        drop(w3);
        assert_eq!(hub.active(), 0, "{b:?}");
    }
}

#[actix_web::test]
async fn a_slow_watcher_is_ended_and_a_fast_one_gets_everything() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        s.watch.buffer_changes = 8;
    })
    .await;
    let mut fast = app.watch(&pod_watch("C1"), "{}").await;
    let mut slow = app.watch(&pod_watch("C1"), "{}").await;
    assert_eq!(app.store.hub.active(), 2);
    let mut got = Vec::new();
    for i in 0..40 {
        put_pod(&app, "C1", &format!("p{i}"), i).await;
        got.push(summary(&next_event(&mut fast).await));
    }
    let want: Vec<_> = (0..40).map(|i| ev(1, &format!("p{i}"), i)).collect();
    assert_eq!(got, want);
    let frames = slow.rest().await;
    assert_eq!(frames.last(), Some(&brk()), "{frames:?}");
    let prefix: Vec<_> = frames[..frames.len() - 1].iter().map(summary).collect();
    assert!(prefix.len() < 40, "{prefix:?}");
    assert_eq!(prefix, want[..prefix.len()]);
    assert_eq!(slow.next().await, None);
    drop(slow);
    assert_eq!(app.store.hub.active(), 1);
    // The fast one is still live.
    put_pod(&app, "C1", "late", 99).await;
    assert_eq!(summary(&next_event(&mut fast).await), ev(1, "late", 99));
    drop(fast);
    assert_eq!(app.store.hub.active(), 0);
}

#[actix_web::test]
async fn shutdown_ends_open_watches_and_refuses_new_ones() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut w = app
            .watch(&pod_watch("C1"), r#"{"allowBookmarks": true}"#)
            .await;
        let mut e = app
            .watch(&format!("{V4}/events/watch?clusterId=C1"), "{}")
            .await;
        put_pod(&app, "C1", "p1", 1).await;
        assert_eq!(summary(&next_event(&mut w).await), ev(1, "p1", 1), "{b:?}");
        app.store.hub.shut_down();
        assert_eq!(w.rest().await, [brk()], "{b:?}");
        assert_eq!(e.rest().await, [brk()], "{b:?}");
        let mut later = app.watch(&pod_watch("C1"), "{}").await;
        assert_eq!(later.status, 200, "{b:?}");
        assert_eq!(later.rest().await, [brk()], "{b:?}");
        drop((w, e, later));
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
        // Writes still work; only watching is over.
        put_pod(&app, "C1", "p2", 2).await;
    }
}

#[actix_web::test]
async fn invalid_bodies_get_only_the_break_frame() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for body in [
            "",
            "nope",
            r#"{"maxEvents":"x"}"#,
            "[1]",
            r#"{"maxEvents": -1}"#,
            r#"{"timeout": "1s"}"#,
            r#"{"resourceVersion": 5}"#,
            r#"{"allowBookmarks": "yes"}"#,
            r#"{"selfOnly": 1}"#,
            "null",
        ] {
            for uri in [
                pod_watch("C1"),
                format!("{V1}/dynamic/watch/containers/C1"),
                format!("{V4}/events/watch?clusterId=C1"),
                format!("{V1}/metric/watch/C1/cpu"),
            ] {
                let mut w = app.watch(&uri, body).await;
                assert_eq!(w.status, 200, "{b:?} {uri} {body:?}");
                assert_eq!(w.rest().await, [brk()], "{b:?} {uri} {body:?}");
            }
        }
        // Accepted bodies: unknown keys, nulls and the inert options.
        let mut w = app
            .watch(
                &pod_watch("C1"),
                r#"{"maxEvents": 1, "selfOnly": true, "mustDiff": "data", "other": [1], "timeout": null}"#,
            )
            .await;
        put_pod(&app, "C1", "p1", 1).await;
        let got = w.rest().await;
        assert_eq!(got.len(), 2, "{b:?} {got:?}");
        assert_eq!(summary(&got[0]), ev(1, "p1", 1), "{b:?}");
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
    }
}

#[actix_web::test]
async fn events_watch_follows_one_cluster() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut w = app
            .watch(&format!("{V4}/events/watch?clusterId=C1"), "{}")
            .await;
        assert_eq!(w.status, 200, "{b:?}");
        for (c, id) in [("C2", "e2"), ("C1", "e1")] {
            let body = json!({"id": id, "clusterId": c, "kind": "Pod", "eventTime": 5,
                "data": {"metadata": {"name": id, "resourceVersion": "1"}}});
            app.put_json(&format!("{V4}/events"), &body)
                .await
                .assert_ok();
        }
        let f = next_event(&mut w).await;
        assert_eq!(f["type"], 1, "{b:?} {f}");
        assert_eq!(f["value"]["clusterId"], "C1", "{b:?} {f}");
        assert_eq!(f["value"]["id"], "e1", "{b:?} {f}");
        assert_eq!(f["value"]["data"]["metadata"]["name"], "e1", "{b:?} {f}");
        assert!(f["resourceVersion"].is_string(), "{b:?} {f}");
        // Nothing else arrived (the C2 event, or the Event resource copy),
        // and a duplicate (same name and resourceVersion) stores nothing.
        let dup = json!({"id": "e1", "clusterId": "C1", "kind": "Pod", "eventTime": 5,
            "data": {"metadata": {"name": "e1", "resourceVersion": "1"}}});
        app.put_json(&format!("{V4}/events"), &dup)
            .await
            .assert_ok();
        let body = json!({"id": "e3", "clusterId": "C1", "kind": "Pod", "eventTime": 6,
            "data": {"metadata": {"name": "e3", "resourceVersion": "1"}}});
        app.put_json(&format!("{V4}/events"), &body)
            .await
            .assert_ok();
        let f = next_event(&mut w).await;
        assert_eq!(f["value"]["id"], "e3", "{b:?} {f}");
        drop(w);
        for uri in [
            format!("{V4}/events/watch"),
            format!("{V1}/events/watch?clusterId="),
            format!("{V4}/events/watch?kind=Pod"),
        ] {
            let w = app.watch(&uri, "{}").await;
            assert_eq!(w.status, 400, "{b:?} {uri}");
            let env = w.envelope().await;
            assert_eq!(env["code"], 1_405_090, "{b:?} {uri} {env}");
            assert_eq!(env["result"], false, "{b:?} {uri} {env}");
        }
        assert_eq!(app.store.hub.active(), 0, "{b:?}");
    }
}

#[actix_web::test]
async fn metric_watch_follows_one_type() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let one =
            |c: &str, t: &str, n: &str| format!("{V4}/metric/clusters/{c}/namespaces/ns1/{t}/{n}");
        let mut w = app.watch(&format!("{V1}/metric/watch/C1/cpu"), "{}").await;
        assert_eq!(w.status, 200, "{b:?}");
        app.put_json(&one("C1", "cpu", "m1"), &json!({"data": {"v": 1}}))
            .await
            .assert_ok();
        app.put_json(&one("C2", "cpu", "m1"), &json!({"data": {"v": 7}}))
            .await
            .assert_ok();
        app.put_json(&one("C1", "cpu", "m1"), &json!({"data": {"v": 2}}))
            .await
            .assert_ok();
        app.put_json(&one("C1", "mem", "m2"), &json!({"data": {"v": 3}}))
            .await
            .assert_ok();
        app.delete(&one("C1", "cpu", "m1")).await.assert_ok();
        let frames = [
            next_event(&mut w).await,
            next_event(&mut w).await,
            next_event(&mut w).await,
        ];
        let got: Vec<_> = frames
            .iter()
            .map(|f| {
                (
                    f["type"].as_i64().unwrap_or(0),
                    f["value"]["name"].as_str().unwrap_or("?").to_owned(),
                    f["value"]["type"].as_str().unwrap_or("?").to_owned(),
                    f["value"]["clusterId"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        let m1 = |t: i64| (t, "m1".to_owned(), "cpu".to_owned(), "C1".to_owned());
        assert_eq!(got, [m1(1), m1(3), m1(2)], "{b:?} {frames:?}");
        assert_eq!(frames[0]["value"]["data"], json!({"v": 1}), "{b:?}");
        assert_eq!(frames[0]["value"]["namespace"], "ns1", "{b:?}");
        assert_eq!(frames[2]["value"]["data"], json!({"v": 2}), "{b:?}");
        // The mem metric was not sent: the next frame is the next cpu write.
        app.put_json(&one("C1", "cpu", "m3"), &json!({"data": {"v": 4}}))
            .await
            .assert_ok();
        let f = next_event(&mut w).await;
        assert_eq!(
            (&f["type"], &f["value"]["name"]),
            (&json!(1), &json!("m3")),
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn containers_watch_sees_container_info_only() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut w = app
            .watch(&format!("{V1}/dynamic/watch/containers/C1"), "{}")
            .await;
        assert_eq!(w.status, 200, "{b:?}");
        let put = |url: String, v: i64| {
            let app = &app;
            async move {
                app.put_json(&url, &json!({"data": {"v": v}}))
                    .await
                    .assert_ok();
            }
        };
        put(format!("{}/Pod/c0", ns_base("C1", "ns1")), 0).await;
        put(format!("{}/ContainerInfo/c9", ns_base("C2", "ns1")), 9).await;
        put(format!("{}/ContainerInfo/c1", ns_base("C1", "ns1")), 1).await;
        put(
            format!(
                "{V1}/mesos/dynamic/namespace_resources/clusters/C1/namespaces/ns2/ContainerInfo/c2"
            ),
            2,
        )
        .await;
        let got = events(&mut w, 2).await;
        assert_eq!(got, [ev(1, "c1", 1), ev(1, "c2", 2)], "{b:?}");
        // The generic route on ContainerInfo is the same stream.
        let mut g = app
            .watch(
                &format!("{V4}/dynamic/watch/C1/ContainerInfo"),
                r#"{"maxEvents": 1}"#,
            )
            .await;
        put(format!("{}/ContainerInfo/c1", ns_base("C1", "ns1")), 5).await;
        assert_eq!(events(&mut w, 1).await, [ev(3, "c1", 5)], "{b:?}");
        let rest = g.rest().await;
        assert_eq!(rest.len(), 2, "{b:?} {rest:?}");
        assert_eq!(summary(&rest[0]), ev(3, "c1", 5), "{b:?}");
    }
}

#[actix_web::test]
async fn process_and_application_watches_are_apart() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut procs = app
            .watch(&format!("{V4}/dynamic/watch/C1/process"), "{}")
            .await;
        let mut apps = app
            .watch(&format!("{V1}/dynamic/watch/C1/application"), "{}")
            .await;
        assert_eq!((procs.status, apps.status), (200, 200), "{b:?}");
        let base = format!("{V4}/mesos/dynamic/namespace_resources/clusters/C1/namespaces/ns1");
        for (t, name, v) in [
            ("application", "a1", 1),
            ("process", "p1", 2),
            ("application", "x", 3),
            ("process", "x", 4),
        ] {
            app.put_json(&format!("{base}/{t}/{name}"), &json!({"data": {"v": v}}))
                .await
                .assert_ok();
        }
        app.delete(&format!("{base}/process/x")).await.assert_ok();
        let got = events(&mut procs, 3).await;
        assert_eq!(got, [ev(1, "p1", 2), ev(1, "x", 4), ev(2, "x", 4)], "{b:?}");
        let got = events(&mut apps, 2).await;
        assert_eq!(got, [ev(1, "a1", 1), ev(1, "x", 3)], "{b:?}");
        // The application watch did not see the process delete: its next
        // frame is the next application write, and the other way round.
        app.put_json(
            &format!("{base}/application/a2"),
            &json!({"data": {"v": 5}}),
        )
        .await
        .assert_ok();
        app.put_json(&format!("{base}/process/p2"), &json!({"data": {"v": 6}}))
            .await
            .assert_ok();
        let f = next_event(&mut apps).await;
        assert_eq!(summary(&f), ev(1, "a2", 5), "{b:?}");
        assert_eq!(f["value"]["resourceType"], "application", "{b:?}");
        let f = next_event(&mut procs).await;
        assert_eq!(summary(&f), ev(1, "p2", 6), "{b:?}");
        assert_eq!(f["value"]["resourceType"], "process", "{b:?}");
    }
}

#[actix_web::test]
async fn bookmarks_name_resumable_revisions() {
    for b in backends() {
        let app = TestApp::with_settings(b, |s| s.watch.bookmark_interval_ms = 50).await;
        let mut w = app
            .watch(&pod_watch("C1"), r#"{"allowBookmarks": true}"#)
            .await;
        assert_eq!(w.status, 200, "{b:?}");
        // No writes: a bookmark arrives anyway.
        let b0 = next_bookmark(&mut w).await;
        let r0 = rev_of(&b0);
        assert!(!r0.is_empty(), "{b:?} {b0}");
        assert_eq!(b0["value"], json!({"resourceVersion": r0}), "{b:?} {b0}");
        put_pod(&app, "C1", "p1", 1).await;
        let e1 = next_event(&mut w).await;
        assert_eq!(summary(&e1), ev(1, "p1", 1), "{b:?}");
        // The first bookmark after the event is at (or past) it.
        let b1 = next_bookmark(&mut w).await;
        let r1 = rev_of(&b1);
        assert!(!r1.is_empty(), "{b:?} {b1}");
        assert_eq!(b1["value"], json!({"resourceVersion": r1}), "{b:?} {b1}");
        if b == Backend::Sqlite {
            // Nothing else was written: the bookmark names p1's revision.
            assert_eq!(r1, rev_of(&e1));
        }
        put_pod(&app, "C1", "p2", 2).await;
        assert_eq!(summary(&next_event(&mut w).await), ev(1, "p2", 2), "{b:?}");
        drop(w);
        // From the bookmark after p1: p2 only.
        let body = json!({"resourceVersion": r1, "maxEvents": 1}).to_string();
        let mut r = app.watch(&pod_watch("C1"), &body).await;
        assert_eq!(r.status, 200, "{b:?}");
        let got = r.rest().await;
        assert_eq!(got.len(), 2, "{b:?} {got:?}");
        assert_eq!(summary(&got[0]), ev(1, "p2", 2), "{b:?}");
        // From the bookmark before any write: both.
        let body = json!({"resourceVersion": r0, "maxEvents": 2}).to_string();
        let mut r = app.watch(&pod_watch("C1"), &body).await;
        assert_eq!(r.status, 200, "{b:?}");
        let got = r.rest().await;
        assert_eq!(got.len(), 3, "{b:?} {got:?}");
        let names: Vec<_> = got[..2].iter().map(summary).collect();
        assert_eq!(names, [ev(1, "p1", 1), ev(1, "p2", 2)], "{b:?}");
        // Without allowBookmarks nothing arrives while nothing is written.
        let mut quiet = app.watch(&pod_watch("C1"), "{}").await;
        assert!(
            quiet.next_within(Duration::from_millis(300)).await.is_err(),
            "{b:?}"
        );
        let mut off = app
            .watch(&pod_watch("C1"), r#"{"allowBookmarks": false}"#)
            .await;
        assert!(
            off.next_within(Duration::from_millis(300)).await.is_err(),
            "{b:?}"
        );
    }
}

// Frames as of their own change: exact on SQLite. On MongoDB a frame's
// value is looked up when the event is read (docs/compatibility.md), so
// these run on SQLite only.

/// "A delete carries the deleted document", even when the key is written
/// again before the watcher reads the delete.
#[actix_web::test]
async fn a_delete_frame_carries_the_deleted_document() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mut w = app.watch(&pod_watch("C1"), "{}").await;
    put_pod(&app, "C1", "p1", 1).await;
    assert_eq!(events(&mut w, 1).await, [ev(1, "p1", 1)]);
    app.delete(&pod_url("C1", "p1")).await.assert_ok();
    put_pod(&app, "C1", "p1", 9).await;
    let got = events(&mut w, 2).await;
    assert_eq!(got, [ev(2, "p1", 1), ev(1, "p1", 9)]);
}

/// Each change frame is the document as that change left it.
#[actix_web::test]
async fn each_change_frame_shows_its_own_state() {
    let app = TestApp::new(Backend::Sqlite).await;
    let mut w = app.watch(&pod_watch("C1"), "{}").await;
    put_pod(&app, "C1", "p1", 1).await;
    put_pod(&app, "C1", "p1", 2).await;
    put_pod(&app, "C1", "p1", 3).await;
    let got = events(&mut w, 3).await;
    assert_eq!(got, [ev(1, "p1", 1), ev(3, "p1", 2), ev(3, "p1", 3)]);
}

/// MongoDB: a delete whose soft-deleted document the purger removed before
/// the watcher read the event still arrives (carrying only `_id`), live and
/// after a resume: nothing is missed.
#[actix_web::test]
async fn a_delete_is_seen_even_after_the_purge() {
    use bcs_storage::store::mongo::MongoStore;
    if !backends().contains(&Backend::Mongo) {
        return;
    }
    let app = TestApp::new(Backend::Mongo).await;
    let s = &app.store.settings;
    let purger = MongoStore::open(
        &s.storage.mongodb,
        &s.watch,
        std::sync::Arc::new(bcs_storage::clock::SystemClock),
    )
    .await
    .expect("open");
    let mut live = app.watch(&pod_watch("C1"), "{}").await;
    put_pod(&app, "C1", "p1", 1).await;
    let added = next_event(&mut live).await;
    let rev = rev_of(&added);
    let id = added["value"]["_id"].clone();
    app.delete(&pod_url("C1", "p1")).await.assert_ok();
    let later = chrono::Utc::now()
        + chrono::Duration::seconds(s.storage.mongodb.purge_after_secs as i64 + 60);
    assert_eq!(purger.purge(later).await, 1);
    put_pod(&app, "C1", "p2", 2).await;
    let body = json!({ "resourceVersion": rev }).to_string();
    let mut resumed = app.watch(&pod_watch("C1"), &body).await;
    for w in [&mut live, &mut resumed] {
        let deleted = next_event(w).await;
        assert_eq!(deleted["type"], 2);
        assert_eq!(deleted["value"], json!({ "_id": id }));
        assert_eq!(events(w, 1).await, [ev(1, "p2", 2)]);
    }
}

/// SQLite: a revision newer than the store's newest (its data was replaced)
/// is 410 like a too-old one: the client must list again.
#[actix_web::test]
async fn a_resource_version_from_the_future_is_gone() {
    let app = TestApp::new(Backend::Sqlite).await;
    put_pod(&app, "C1", "p1", 1).await;
    let w = app
        .watch(&pod_watch("C1"), r#"{"resourceVersion": "999999"}"#)
        .await;
    assert_eq!(w.status, 410);
    assert_eq!(w.envelope().await["code"], 1_405_096);
    // "+1" is not how this store writes revisions.
    let w = app
        .watch(&pod_watch("C1"), r#"{"resourceVersion": "+1"}"#)
        .await;
    assert_eq!(w.status, 400);
}

/// With bookmarks asked for, the first frame names where the stream starts
/// (long before the first periodic bookmark): a watcher ended before its
/// first event resumes from there without a gap.
#[actix_web::test]
async fn the_first_frame_of_a_bookmarked_watch_names_its_start() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "before", 0).await;
        let mut w = app
            .watch(&pod_watch("C1"), r#"{"allowBookmarks": true}"#)
            .await;
        let start = next_bookmark(&mut w).await;
        drop(w);
        put_pod(&app, "C1", "after", 1).await;
        let body = json!({"resourceVersion": rev_of(&start), "maxEvents": 1}).to_string();
        let got = app.watch(&pod_watch("C1"), &body).await.rest().await;
        assert_eq!(summary(&got[0]), ev(1, "after", 1), "{b:?}");
    }
}
