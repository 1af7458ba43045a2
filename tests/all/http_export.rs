//! The streaming export (seed 003) over HTTP, on every backend: the
//! `StoragePod` stream with its owner chain, the search form of `query`,
//! the export of any resource, the timeout's error line, and the refusals.

use serde_json::{Value, json};

use crate::common::{TestApp, backends, ns_base};

/// The lines of an export reply.
fn lines(raw: &str) -> Vec<Value> {
    raw.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn pod_names(raw: &str) -> Vec<String> {
    lines(raw)
        .iter()
        .map(|l| {
            format!(
                "{}/{}",
                l["result"]["pod"]["clusterId"].as_str().unwrap_or("?"),
                l["result"]["pod"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

async fn put(app: &TestApp, c: &str, kind: &str, name: &str, data: Value) {
    app.put_json(
        &format!("{}/{kind}/{name}", ns_base(c, "default")),
        &json!({ "data": data }),
    )
    .await
    .assert_ok();
}

fn pod(name: &str, uid: &str, owner: Option<&str>, labels: Value, node: &str) -> Value {
    let mut meta = json!({"name": name, "uid": uid, "labels": labels,
        "creationTimestamp": "2026-01-02T03:04:05Z"});
    if let Some(o) = owner {
        meta["ownerReferences"] =
            json!([{"uid": o, "name": "owner", "kind": "ReplicaSet", "controller": true}]);
    }
    json!({"metadata": meta, "spec": {"nodeName": node},
        "status": {"podIP": "10.0.0.9", "containerStatuses": [{"name": "app",
            "containerID": "containerd://c0ffee", "imageID": "docker.io/library/nginx@sha256:0d17",
            "state": {"running": {"startedAt": "2026-01-02T03:04:09Z"}}}]}})
}

async fn seeded(b: crate::common::Backend) -> TestApp {
    let app = TestApp::new(b).await;
    put(&app, "C1", "ReplicaSet", "web-5d8", json!({"metadata": {"name": "web-5d8", "uid": "rs-1",
        "ownerReferences": [{"uid": "dep-1", "name": "web", "kind": "Deployment", "controller": true}]}})).await;
    put(
        &app,
        "C1",
        "Pod",
        "web-5d8-a",
        pod(
            "web-5d8-a",
            "p-1",
            Some("rs-1"),
            json!({"app": "web"}),
            "node-1",
        ),
    )
    .await;
    put(
        &app,
        "C1",
        "Pod",
        "web-5d8-b",
        pod(
            "web-5d8-b",
            "p-2",
            Some("rs-1"),
            json!({"app": "web"}),
            "node-2",
        ),
    )
    .await;
    put(
        &app,
        "C1",
        "Pod",
        "db-0",
        pod("db-0", "p-3", None, json!({"app": "db"}), "node-1"),
    )
    .await;
    put(
        &app,
        "C2",
        "Pod",
        "web-x",
        pod("web-x", "p-4", None, json!({"app": "web"}), "node-1"),
    )
    .await;
    app
}

#[actix_web::test]
async fn pods_export_as_the_seed_stream() {
    for b in backends() {
        let app = seeded(b).await;
        let r = app.get("/v1/export/pods").await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(
            pod_names(&r.raw),
            ["C1/db-0", "C1/web-5d8-a", "C1/web-5d8-b", "C2/web-x"],
            "{b:?}"
        );
        let all = lines(&r.raw);
        let web = &all[1]["result"]["pod"];
        assert_eq!(web["id"], "p-1");
        assert_eq!(
            web["deploymentId"], "dep-1",
            "through the ReplicaSet, {b:?}"
        );
        assert_eq!(web["namespace"], "default");
        assert_eq!(web["started"], "2026-01-02T03:04:05Z");
        assert_eq!(
            web["liveInstances"],
            json!([{"instanceId": {"containerRuntime": "UNKNOWN_CONTAINER_RUNTIME", "id": "c0ffee", "node": "node-1"},
                "containingPodId": "p-1", "containerName": "app", "containerIps": ["10.0.0.9"],
                "started": "2026-01-02T03:04:09Z", "imageDigest": "sha256:0d17"}])
        );
        assert!(
            all[0]["result"]["pod"].get("deploymentId").is_none(),
            "no owner, {b:?}"
        );

        let q = |query: &str| {
            let app = &app;
            let uri = format!("/v1/export/pods?query={}", percent(query));
            async move { pod_names(&app.get(&uri).await.raw) }
        };
        assert_eq!(
            q("Cluster:C1+Label:app=web").await,
            ["C1/web-5d8-a", "C1/web-5d8-b"]
        );
        assert_eq!(
            q("Deployment:web").await,
            ["C1/web-5d8-a", "C1/web-5d8-b"],
            "{b:?}"
        );
        assert_eq!(q("Deployment:!web").await, ["C1/db-0", "C2/web-x"], "{b:?}");
        assert_eq!(
            q("Pod Name:r/web-.*+Node:node-1").await,
            ["C1/web-5d8-a", "C2/web-x"],
            "{b:?}"
        );
        assert_eq!(
            q("Namespace:default Cluster:!C1").await,
            ["C2/web-x"],
            "a space joins terms too"
        );
        assert_eq!(q("pod:db-0,web-x").await, ["C1/db-0", "C2/web-x"]);
        assert_eq!(
            q("Label:app=r/w.*+Pod:r/web").await,
            Vec::<String>::new(),
            "regexes match whole values"
        );
        assert_eq!(q("Label:app").await.len(), 4);
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[actix_web::test]
async fn any_resource_exports_and_bad_requests_are_refused() {
    for b in backends() {
        let app = seeded(b).await;
        for path in ["/v1/export/replicasets", "/v1/export/ReplicaSet"] {
            let r = app.get(path).await;
            let all = lines(&r.raw);
            assert_eq!(all.len(), 1, "{b:?} {}", r.raw);
            assert_eq!(all[0]["result"]["object"]["resourceName"], "web-5d8");
            assert_eq!(
                all[0]["result"]["object"]["data"]["metadata"]["uid"],
                "rs-1"
            );
        }
        // Past its timeout the stream ends with an error line.
        let r = app.get("/v1/export/pods?timeout=1ns").await;
        assert_eq!(r.status, 200);
        let all = lines(&r.raw);
        let last = all.last().expect("a line");
        assert_eq!(last["error"]["grpcCode"], 4, "{}", r.raw);
        assert_eq!(last["error"]["httpCode"], 504);
        assert_eq!(last["error"]["httpStatus"], "Gateway Timeout");
        assert_eq!(last["error"]["details"], json!([]));
        assert!(
            last["error"]["message"]
                .as_str()
                .unwrap()
                .contains("timeout")
        );
        for (uri, status, needle) in [
            (
                "/v1/export/pods?query=Image:nginx",
                400,
                "unknown field \"image\"",
            ),
            (
                "/v1/export/pods?query=Pod:r/(",
                400,
                "invalid regular expression",
            ),
            (
                "/v1/export/pods?query=Namespace",
                400,
                "expected Field:value",
            ),
            ("/v1/export/pods?timeout=soon", 400, "timeout"),
            (
                "/v1/export/replicasets?query=Deployment:web",
                400,
                "unknown field",
            ),
            ("/v1/export/widgets", 404, "no resource \"widgets\""),
        ] {
            let r = app.get(uri).await;
            assert_eq!(r.status, status, "{uri}: {}", r.raw);
            assert!(
                r.body["message"].as_str().unwrap_or("").contains(needle),
                "{uri}: {}",
                r.raw
            );
            assert_eq!(
                r.body["code"].as_i64(),
                Some(if status == 400 { 3 } else { 5 })
            );
        }
        let r = app.send("DELETE", "/v1/export/pods", None).await;
        assert_eq!(r.status, 405);
    }
}
