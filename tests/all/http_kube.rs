//! The Kubernetes views over HTTP (issue 11), on every backend: discovery,
//! lists and objects of one cluster or all, selectors, keyset paging,
//! Tables and metadata-only lists, watch events, `Status` errors and
//! Clusterpedia's search parameters and extra resources.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, V4, Watch, backends, cluster_base, ns_base};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

fn pod(name: &str, ns: &str, labels: Value, node: &str, phase: &str) -> Value {
    json!({"data": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
                     "resourceVersion": "4711", "labels": labels,
                     "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.25"}]},
        "status": {"phase": phase, "podIP": "10.1.0.1",
                   "containerStatuses": [{"name": "app", "ready": true, "restartCount": 3,
                                          "state": {"running": {}}}]}
    }})
}

async fn put_pod(app: &TestApp, c: &str, ns: &str, name: &str, labels: Value) {
    app.put_json(
        &format!("{}/Pod/{name}", ns_base(c, ns)),
        &pod(name, ns, labels, "node-1", "Running"),
    )
    .await
    .assert_ok();
}

async fn put(app: &TestApp, c: &str, ns: Option<&str>, kind: &str, name: &str, data: Value) {
    let url = match ns {
        Some(ns) => format!("{}/{kind}/{name}", ns_base(c, ns)),
        None => format!("{}/{kind}/{name}", cluster_base(c)),
    };
    app.put_json(&url, &json!({ "data": data }))
        .await
        .assert_ok();
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {list}"))
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            let c = m["annotations"]["shadow.clusterpedia.io/cluster-name"]
                .as_str()
                .unwrap_or("?");
            match m["namespace"].as_str() {
                Some(ns) => format!("{c}/{ns}/{}", m["name"].as_str().unwrap_or("?")),
                None => format!("{c}/{}", m["name"].as_str().unwrap_or("?")),
            }
        })
        .collect()
}

#[track_caller]
fn assert_status(r: &crate::common::Reply, code: u16, reason: &str, needle: &str) {
    assert_eq!(r.status, code, "{}", r.raw);
    assert_eq!(r.body["kind"], "Status", "{}", r.raw);
    assert_eq!(r.body["apiVersion"], "v1", "{}", r.raw);
    assert_eq!(r.body["status"], "Failure", "{}", r.raw);
    assert_eq!(r.body["code"], code, "{}", r.raw);
    assert_eq!(r.body["reason"], reason, "{}", r.raw);
    let msg = r.body["message"].as_str().unwrap_or("");
    assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
}

#[actix_web::test]
async fn discovery_serves_builtins_and_every_stored_kind() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put(&app, "C1", Some("default"), "BcsLogConfig", "lc", json!({
            "apiVersion": "bkbcs.tencent.com/v1", "kind": "BcsLogConfig", "metadata": {"name": "lc"}}))
        .await;
        put(&app, "C1", None, "ClusterNetwork", "cn", json!({
            "apiVersion": "net.example.io/v1alpha1", "kind": "ClusterNetwork", "metadata": {"name": "cn"}}))
        .await;
        // A mesos type is no Kubernetes kind.
        put(
            &app,
            "C1",
            Some("default"),
            "application",
            "app",
            json!({"apiVersion": "v4", "kind": "application"}),
        )
        .await;

        for root in [
            "",
            "/clusters/C1",
            "/apis/clusterpedia.io/v1beta1/resources",
            "/apis/clusterpedia.io/v1beta1/resources/clusters/C1",
        ] {
            let r = app.get(&format!("{root}/api")).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            assert_eq!(r.body["kind"], "APIVersions");
            assert_eq!(r.body["versions"], json!(["v1"]));
            let r = app.get(&format!("{root}/api/v1")).await;
            let pods = r.body["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == "pods")
                .cloned()
                .unwrap();
            assert_eq!(pods["kind"], "Pod");
            assert_eq!(pods["namespaced"], true);
            assert_eq!(pods["shortNames"], json!(["po"]));
            assert_eq!(
                pods["verbs"],
                json!([
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch"
                ])
            );
            let subs: Vec<&str> = r.body["resources"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x["name"].as_str())
                .filter(|n| n.starts_with("pods/"))
                .collect();
            assert_eq!(
                subs,
                ["pods/status", "pods/ephemeralcontainers", "pods/log"]
            );
            let r = app.get(&format!("{root}/apis")).await;
            let groups: Vec<&str> = r.body["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap())
                .collect();
            for g in ["apps", "batch", "bkbcs.tencent.com", "net.example.io"] {
                assert!(groups.contains(&g), "{b:?} {groups:?}");
            }
            assert!(!groups.contains(&""), "{groups:?}");
            let r = app.get(&format!("{root}/apis/bkbcs.tencent.com/v1")).await;
            assert_eq!(r.body["groupVersion"], "bkbcs.tencent.com/v1");
            assert_eq!(r.body["resources"][0]["name"], "bcslogconfigs");
            assert_eq!(r.body["resources"][0]["namespaced"], true);
            let r = app
                .get(&format!("{root}/apis/net.example.io/v1alpha1"))
                .await;
            assert_eq!(r.body["resources"][0]["name"], "clusternetworks");
            assert_eq!(r.body["resources"][0]["namespaced"], false);
            let r = app.get(&format!("{root}/apis/apps")).await;
            assert_eq!(r.body["kind"], "APIGroup");
            assert_eq!(r.body["preferredVersion"]["groupVersion"], "apps/v1");
            // Aggregated discovery, as kubectl 1.32 asks first.
            let r = app
                .get_with(&format!("{root}/apis"), &[("Accept", AGGREGATED)])
                .await;
            assert_eq!(
                r.content_type,
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            );
            assert_eq!(r.body["kind"], "APIGroupDiscoveryList");
            assert_eq!(r.body["apiVersion"], "apidiscovery.k8s.io/v2");
            let apps = r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["metadata"]["name"] == "apps")
                .cloned()
                .unwrap();
            let deploy = apps["versions"][0]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["resource"] == "deployments")
                .cloned()
                .unwrap();
            assert_eq!(
                deploy["responseKind"],
                json!({"group": "apps", "version": "v1", "kind": "Deployment"})
            );
            assert_eq!(deploy["scope"], "Namespaced");
            let r = app
                .get_with(&format!("{root}/api"), &[("Accept", AGGREGATED)])
                .await;
            assert_eq!(r.body["items"][0]["metadata"]["name"], "");
            assert!(
                r.body["items"][0]["versions"][0]["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["resource"] == "nodes" && x["scope"] == "Cluster")
            );
        }
        let names: Vec<String> = {
            let r = app.get("/apis").await;
            r.body["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| {
                    g["versions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v["groupVersion"].as_str().unwrap().to_owned())
                })
                .collect()
        };
        assert!(names.contains(&"batch/v1".to_owned()), "{names:?}");
        let r = app.get("/api/v2").await;
        assert_status(&r, 404, "NotFound", "could not find the requested resource");
        let r = app.get("/apis/apps/v1beta1").await;
        assert_status(&r, 404, "NotFound", "");
        let r = app.get("/version").await;
        assert_eq!(r.body["major"], "1", "{}", r.raw);
    }
}

#[actix_web::test]
async fn lists_and_objects_in_one_cluster_and_across_clusters() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "default", "web-1", json!({"app": "web"})).await;
        put_pod(&app, "C1", "kube-system", "dns", json!({"app": "dns"})).await;
        put_pod(&app, "C2", "default", "web-1", json!({"app": "web"})).await;
        put(
            &app,
            "C1",
            None,
            "Node",
            "node-1",
            json!({"metadata": {"name": "node-1"}}),
        )
        .await;
        put(
            &app,
            "C1",
            Some("default"),
            "Job",
            "j1",
            json!({"metadata": {"name": "j1"}}),
        )
        .await;

        let r = app.get("/clusters/C1/api/v1/pods").await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["kind"], "PodList");
        assert_eq!(r.body["apiVersion"], "v1");
        let list_rv = r.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!list_rv.is_empty());
        assert_eq!(
            names(&r.body),
            ["C1/default/web-1", "C1/kube-system/dns"],
            "{b:?}"
        );
        let item = &r.body["items"][0];
        assert_eq!(item["kind"], "Pod");
        assert_eq!(item["apiVersion"], "v1");
        // The store's revision, the agent's own kept aside.
        let rv = item["metadata"]["resourceVersion"].as_str().unwrap();
        assert_ne!(rv, "4711");
        assert_eq!(
            item["metadata"]["annotations"]["storage.bkbcs.tencent.com/source-resource-version"],
            "4711"
        );
        assert_eq!(item["spec"]["nodeName"], "node-1");

        let r = app.get("/clusters/C1/api/v1/namespaces/default/pods").await;
        assert_eq!(names(&r.body), ["C1/default/web-1"]);
        for all in [
            "/api/v1/pods",
            "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods",
        ] {
            let r = app.get(all).await;
            assert_eq!(
                names(&r.body),
                ["C1/default/web-1", "C1/kube-system/dns", "C2/default/web-1"],
                "{b:?}"
            );
        }
        let r = app.get("/api/v1/pods?clusters=C2").await;
        assert_eq!(names(&r.body), ["C2/default/web-1"]);
        let r = app.get("/apis/clusterpedia.io/v1beta1/resources/clusters/C2/api/v1/namespaces/default/pods/web-1").await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(
            r.body["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
            "C2"
        );
        assert_eq!(r.body["kind"], "Pod");

        let r = app
            .get("/clusters/C1/api/v1/namespaces/default/pods/nope")
            .await;
        assert_status(&r, 404, "NotFound", "pods \"nope\" not found");
        assert_eq!(r.body["details"], json!({"name": "nope", "kind": "pods"}));
        let r = app
            .get("/clusters/C1/apis/apps/v1/namespaces/default/deployments/nope")
            .await;
        assert_eq!(r.body["details"]["group"], "apps");

        // Cluster-scoped kinds.
        let r = app.get("/clusters/C1/api/v1/nodes").await;
        assert_eq!(r.body["kind"], "NodeList");
        assert_eq!(names(&r.body), ["C1/node-1"]);
        let r = app.get("/clusters/C1/api/v1/nodes/node-1").await;
        assert_eq!(r.body["metadata"]["name"], "node-1");
        assert!(r.body["metadata"].get("namespace").is_none());
        let r = app
            .get("/clusters/C1/api/v1/namespaces/default/nodes")
            .await;
        assert_status(&r, 404, "NotFound", "");
        // Seed 002's batch path and the real one.
        for p in [
            "/clusters/C1/apis/apps/batch/v1/namespaces/default/jobs",
            "/clusters/C1/apis/batch/v1/namespaces/default/jobs",
        ] {
            let r = app.get(p).await;
            assert_eq!(r.body["kind"], "JobList", "{}", r.raw);
            assert_eq!(r.body["apiVersion"], "batch/v1");
            assert_eq!(names(&r.body), ["C1/default/j1"]);
        }
        // The status subresource reads the object; others are not served.
        let r = app
            .get("/clusters/C1/api/v1/namespaces/default/pods/web-1/status")
            .await;
        assert_eq!(r.body["metadata"]["name"], "web-1");
        let r = app
            .get("/clusters/C1/api/v1/namespaces/default/pods/web-1/log")
            .await;
        assert_status(&r, 404, "NotFound", "");
        // An unknown cluster is an empty view.
        let r = app.get("/clusters/NOPE/api/v1/pods").await;
        assert_eq!(r.body["items"], json!([]));
        // pretty=true indents.
        let r = app
            .get("/clusters/C1/api/v1/namespaces/default/pods?pretty=true")
            .await;
        assert!(r.raw.contains("\n  \"kind\": \"PodList\""), "{}", r.raw);
    }
}

#[actix_web::test]
async fn label_and_field_selectors() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(
            &app,
            "C1",
            "default",
            "a",
            json!({"app": "web", "tier": "fe"}),
        )
        .await;
        put_pod(&app, "C1", "default", "b", json!({"app": "web"})).await;
        put_pod(
            &app,
            "C1",
            "default",
            "c",
            json!({"app": "db", "app.kubernetes.io/name": "pg"}),
        )
        .await;
        app.put_json(
            &format!("{}/Pod/d", ns_base("C1", "default")),
            &pod("d", "default", json!({}), "", "Pending"),
        )
        .await
        .assert_ok();
        let base = "/clusters/C1/api/v1/namespaces/default/pods";
        for (q, want) in [
            ("labelSelector=app%3Dweb", vec!["a", "b"]),
            (
                "labelSelector=app%20in%20(db,x),app.kubernetes.io/name%3Dpg",
                vec!["c"],
            ),
            ("labelSelector=!tier,app", vec!["b", "c"]),
            ("labelSelector=app!%3Dweb", vec!["c", "d"]),
            ("fieldSelector=metadata.name%3Da", vec!["a"]),
            (
                "fieldSelector=metadata.name!%3Da,metadata.namespace%3D%3Ddefault",
                vec!["b", "c", "d"],
            ),
            ("fieldSelector=status.phase%3DPending", vec!["d"]),
            ("fieldSelector=spec.nodeName%3D", vec!["d"]),
            (
                "fieldSelector=spec.nodeName%3Dnode-1&labelSelector=app%3Dweb",
                vec!["a", "b"],
            ),
        ] {
            let r = app.get(&format!("{base}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.raw);
            let got: Vec<String> = r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, want, "{b:?} {q}");
        }
        let r = app.get(&format!("{base}?fieldSelector=spec.foo%3Dx")).await;
        assert_status(&r, 400, "BadRequest", "field label not supported: spec.foo");
        let r = app
            .get(&format!("{base}?labelSelector=app%20in%20(a"))
            .await;
        assert_status(&r, 400, "BadRequest", "unable to parse requirement");
        let r = app
            .get("/clusters/C1/api/v1/nodes?fieldSelector=status.phase%3Dx")
            .await;
        assert_status(
            &r,
            400,
            "BadRequest",
            "field label not supported: status.phase",
        );
        let r = app.get(&format!("{base}?limit=abc")).await;
        assert_status(&r, 400, "BadRequest", "limit");
        // Unknown parameters are ignored, as the API server does.
        let r = app.get(&format!("{base}?timeout=32s&whatever=1")).await;
        assert_eq!(r.status, 200);
    }
}

#[actix_web::test]
async fn keyset_paging_never_repeats_or_skips_while_the_list_changes() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for i in 0..7 {
            put_pod(&app, "C1", "default", &format!("p{i}"), json!({})).await;
        }
        let base = "/clusters/C1/api/v1/namespaces/default/pods";
        let r = app
            .get(&format!("{base}?limit=3&withRemainingCount=true"))
            .await;
        let first_rv = r.body["metadata"]["resourceVersion"].clone();
        assert_eq!(r.body["metadata"]["remainingItemCount"], 4, "{}", r.raw);
        let mut seen = names(&r.body);
        let mut token = r.body["metadata"]["continue"].as_str().unwrap().to_owned();
        assert!(
            !token.chars().all(|c| c.is_ascii_digit()),
            "opaque, not an offset"
        );
        // Meanwhile: a listed pod goes, one appears before the position,
        // one after it.
        app.delete(&format!("{}/Pod/p0", ns_base("C1", "default")))
            .await
            .assert_ok();
        put_pod(&app, "C1", "default", "a-new", json!({})).await;
        put_pod(&app, "C1", "default", "z-new", json!({})).await;
        loop {
            let r = app.get(&format!("{base}?limit=3&continue={token}")).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            assert_eq!(
                r.body["metadata"]["resourceVersion"], first_rv,
                "pages keep the list's revision"
            );
            seen.extend(names(&r.body));
            match r.body["metadata"]["continue"].as_str() {
                Some(t) => token = t.to_owned(),
                None => break,
            }
        }
        let want: Vec<String> = (0..7)
            .map(|i| format!("C1/default/p{i}"))
            .chain(["C1/default/z-new".to_owned()])
            .collect();
        assert_eq!(seen, want, "{b:?}");
        // Clusterpedia's numeric continue is an offset.
        let r = app.get(&format!("{base}?limit=2&continue=5")).await;
        assert_eq!(names(&r.body), ["C1/default/p5", "C1/default/p6"]);
        let r = app.get(&format!("{base}?limit=2&withContinue=false")).await;
        assert!(r.body["metadata"].get("continue").is_none(), "{}", r.raw);
        let r = app
            .get(&format!("{base}?limit=2&continue=bm90LWEtdG9rZW4"))
            .await;
        assert_status(&r, 400, "BadRequest", "continue");
        // No limit: everything, no continue.
        let r = app.get(base).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 8);
        assert!(r.body["metadata"].get("continue").is_none());
    }
}

#[actix_web::test]
async fn tables_and_metadata_only_lists() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "default", "web-1", json!({"app": "web"})).await;
        put(&app, "C1", Some("default"), "Deployment", "web", json!({
            "metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}})).await;
        put(
            &app,
            "C1",
            Some("default"),
            "BcsLogConfig",
            "lc",
            json!({
            "apiVersion": "bkbcs.tencent.com/v1", "metadata": {"name": "lc"}}),
        )
        .await;

        let r = app
            .get_with(
                "/clusters/C1/api/v1/namespaces/default/pods",
                &[("Accept", TABLE)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["kind"], "Table");
        assert_eq!(r.body["apiVersion"], "meta.k8s.io/v1");
        let cols: Vec<(String, i64)> = r.body["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["priority"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            cols,
            [
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1)
            ]
            .map(|(n, p)| (n.to_owned(), p))
        );
        let cells = &r.body["rows"][0]["cells"];
        assert_eq!(cells[0], "web-1");
        assert_eq!(cells[1], "1/1");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "3");
        assert_eq!(cells[5], "10.1.0.1");
        assert_eq!(cells[6], "node-1");
        // includeObject defaults to metadata.
        assert_eq!(r.body["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(r.body["rows"][0]["object"].get("spec").is_none());
        let r = app
            .get_with(
                "/clusters/C1/api/v1/namespaces/default/pods?includeObject=Object",
                &[("Accept", TABLE)],
            )
            .await;
        assert_eq!(r.body["rows"][0]["object"]["spec"]["nodeName"], "node-1");
        let r = app
            .get_with(
                "/clusters/C1/api/v1/namespaces/default/pods?includeObject=None",
                &[("Accept", TABLE)],
            )
            .await;
        assert!(r.body["rows"][0].get("object").is_none());
        // The all-clusters view leads with the cluster.
        let r = app.get_with("/api/v1/pods", &[("Accept", TABLE)]).await;
        assert_eq!(r.body["columnDefinitions"][0]["name"], "Cluster");
        assert_eq!(r.body["rows"][0]["cells"][0], "C1");
        let r = app
            .get_with(
                "/clusters/C1/apis/apps/v1/namespaces/default/deployments",
                &[("Accept", TABLE)],
            )
            .await;
        let cols: Vec<&str> = r.body["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            cols,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            r.body["rows"][0]["cells"],
            json!([
                "web",
                "2/3",
                3,
                2,
                r.body["rows"][0]["cells"][4],
                "app",
                "nginx:1.25",
                "app=web"
            ])
        );
        // Other kinds: Name and Age.
        let r = app
            .get_with(
                "/clusters/C1/apis/bkbcs.tencent.com/v1/namespaces/default/bcslogconfigs",
                &[("Accept", TABLE)],
            )
            .await;
        let cols: Vec<&str> = r.body["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(cols, ["Name", "Age"]);
        assert_eq!(r.body["rows"][0]["cells"], json!(["lc", "<unknown>"]));
        // One object as a table.
        let r = app
            .get_with(
                "/clusters/C1/api/v1/namespaces/default/pods/web-1",
                &[("Accept", TABLE)],
            )
            .await;
        assert_eq!(r.body["kind"], "Table");
        assert_eq!(r.body["rows"].as_array().unwrap().len(), 1);
        // Metadata only, by Accept and by Clusterpedia's parameter.
        let r = app.get_with("/clusters/C1/api/v1/pods", &[("Accept", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json")]).await;
        assert_eq!(r.body["kind"], "PartialObjectMetadataList");
        assert_eq!(r.body["items"][0]["kind"], "PartialObjectMetadata");
        assert_eq!(r.body["items"][0]["metadata"]["name"], "web-1");
        assert!(r.body["items"][0].get("spec").is_none());
        let r = app.get("/clusters/C1/api/v1/pods?onlyMetadata=true").await;
        assert_eq!(r.body["kind"], "PartialObjectMetadataList");
        let r = app
            .get_with(
                "/clusters/C1/api/v1/pods",
                &[("Accept", "application/vnd.kubernetes.protobuf")],
            )
            .await;
        assert_status(&r, 406, "NotAcceptable", "application/json");
        let r = app
            .get_with(
                "/clusters/C1/api/v1/pods?includeObject=All",
                &[("Accept", TABLE)],
            )
            .await;
        assert_status(&r, 400, "BadRequest", "includeObject");
    }
}

/// The next watch event that is not a bookmark: (type, name, resourceVersion).
async fn next_event(w: &mut Watch) -> (String, String, String) {
    loop {
        let e = w.next().await.expect("stream open");
        if e["type"] != "BOOKMARK" {
            return (
                e["type"].as_str().unwrap().to_owned(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
                e["object"]["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
            );
        }
    }
}

fn kinds(events: &[(String, String, String)]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|(t, n, _)| (t.clone(), n.clone()))
        .collect()
}

fn tn(t: &str, n: &str) -> (String, String) {
    (t.to_owned(), n.to_owned())
}

#[actix_web::test]
async fn watch_from_a_list_sees_every_change_once_and_resumes_exactly() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "default", "old", json!({"app": "web"})).await;
        let r = app.get("/clusters/C1/api/v1/namespaces/default/pods").await;
        let rv = r.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut w = app.watch_get(&format!("/clusters/C1/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}&labelSelector=app%3Dweb")).await;
        assert_eq!(w.status, 200);
        put_pod(&app, "C1", "default", "p1", json!({"app": "web"})).await;
        put_pod(&app, "C2", "default", "p1", json!({"app": "web"})).await; // other cluster
        put_pod(&app, "C1", "other", "p1", json!({"app": "web"})).await; // other namespace
        put_pod(&app, "C1", "default", "db", json!({"app": "db"})).await; // not selected
        put_pod(&app, "C1", "default", "p1", json!({"app": "web", "v": "2"})).await;
        app.delete(&format!("{}/Pod/p1", ns_base("C1", "default")))
            .await
            .assert_ok();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next_event(&mut w).await);
        }
        assert_eq!(
            kinds(&got),
            [tn("ADDED", "p1"), tn("MODIFIED", "p1"), tn("DELETED", "p1")],
            "{b:?}"
        );
        drop(w);
        // Each event's object carries the revision to resume from: exactly
        // what came after it.
        let mut w = app.watch_get(&format!("/clusters/C1/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb&resourceVersion={}", got[0].2)).await;
        let again = [next_event(&mut w).await, next_event(&mut w).await];
        assert_eq!(
            kinds(&again),
            [tn("MODIFIED", "p1"), tn("DELETED", "p1")],
            "{b:?}"
        );
        assert_eq!(again[1].2, got[2].2);
        drop(w);
        // Without a revision: the current state first, then changes; the
        // deprecated /watch/ path is the same watch.
        let mut w = app
            .watch_get("/clusters/C1/api/v1/watch/namespaces/default/pods?labelSelector=app%3Dweb")
            .await;
        assert_eq!(
            kinds(&[next_event(&mut w).await]),
            [tn("ADDED", "old")],
            "{b:?}"
        );
        put_pod(&app, "C1", "default", "new", json!({"app": "web"})).await;
        assert_eq!(
            kinds(&[next_event(&mut w).await]),
            [tn("ADDED", "new")],
            "{b:?}"
        );
        drop(w);
        // One object by name; bookmarks; timeoutSeconds ends the stream.
        let mut w = app.watch_get("/api/v1/watch/namespaces/default/pods/new?clusters=C1&allowWatchBookmarks=true&timeoutSeconds=2").await;
        assert_eq!(kinds(&[next_event(&mut w).await]), [tn("ADDED", "new")]);
        let rest = tokio::time::timeout(Duration::from_secs(15), w.rest())
            .await
            .expect("the watch ends after timeoutSeconds");
        for e in &rest {
            assert_eq!(e["type"], "BOOKMARK", "{e}");
            assert_eq!(e["object"]["kind"], "Pod");
            assert!(e["object"]["metadata"]["resourceVersion"].is_string());
        }
        assert_eq!(app.store.hub.active(), 0);
        // sendInitialEvents marks the end of the initial state.
        let mut w = app.watch_get("/clusters/C1/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&labelSelector=app%3Dweb").await;
        let mut initial = Vec::new();
        loop {
            let e = w.next().await.unwrap();
            if e["type"] == "BOOKMARK" {
                assert_eq!(
                    e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
                    "true"
                );
                break;
            }
            initial.push(e["object"]["metadata"]["name"].as_str().unwrap().to_owned());
        }
        assert_eq!(initial, ["new", "old"]);
    }
}

#[actix_web::test]
async fn objects_entering_and_leaving_a_selection_are_added_and_deleted() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "default", "a", json!({"tier": "web"})).await;
        put_pod(&app, "C1", "default", "b", json!({"tier": "db"})).await;
        let r = app
            .get("/clusters/C1/api/v1/namespaces/default/pods?labelSelector=tier%3Dweb")
            .await;
        assert_eq!(names(&r.body), ["C1/default/a"]);
        let rv = r.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        for from in [format!("&resourceVersion={rv}"), String::new()] {
            let mut w = app.watch_get(&format!("/clusters/C1/api/v1/namespaces/default/pods?watch=true&labelSelector=tier%3Dweb{from}")).await;
            if from.is_empty() {
                assert_eq!(
                    kinds(&[next_event(&mut w).await]),
                    [tn("ADDED", "a")],
                    "{b:?}"
                );
            }
            put_pod(&app, "C1", "default", "a", json!({"tier": "db"})).await; // leaves
            put_pod(&app, "C1", "default", "b", json!({"tier": "web"})).await; // enters
            put_pod(&app, "C1", "default", "b", json!({"tier": "web", "v": "2"})).await; // stays
            put_pod(&app, "C1", "default", "a", json!({"tier": "db", "v": "2"})).await; // stays out
            app.delete(&format!("{}/Pod/b", ns_base("C1", "default")))
                .await
                .assert_ok();
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(next_event(&mut w).await);
            }
            // Resumed from a revision, an object entering the selection is
            // MODIFIED (its state at that revision is not known); from the
            // initial state, ADDED.
            let entered = if from.is_empty() { "ADDED" } else { "MODIFIED" };
            assert_eq!(
                kinds(&got),
                [
                    tn("DELETED", "a"),
                    tn(entered, "b"),
                    tn("MODIFIED", "b"),
                    tn("DELETED", "b")
                ],
                "{b:?} {from}"
            );
            drop(w);
            // Back to the start for the second round.
            put_pod(&app, "C1", "default", "a", json!({"tier": "web"})).await;
            put_pod(&app, "C1", "default", "b", json!({"tier": "db"})).await;
        }
    }
}

#[actix_web::test]
async fn a_watch_from_a_revision_no_longer_kept_gets_a_410_error_event() {
    let app = TestApp::with_settings(Backend::Sqlite, |s| {
        s.storage.sqlite.change_log_retain = 5;
    })
    .await;
    put_pod(&app, "C1", "default", "p0", json!({})).await;
    let r = app.get("/clusters/C1/api/v1/pods").await;
    let old = r.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 1..=30 {
        put_pod(&app, "C1", "default", &format!("p{i}"), json!({})).await;
    }
    let mut w = app
        .watch_get(&format!(
            "/clusters/C1/api/v1/pods?watch=true&resourceVersion={old}"
        ))
        .await;
    assert_eq!(w.status, 200);
    let e = w.next().await.expect("an event");
    assert_eq!(e["type"], "ERROR", "{e}");
    assert_eq!(e["object"]["kind"], "Status");
    assert_eq!(e["object"]["code"], 410);
    assert_eq!(e["object"]["reason"], "Expired");
    assert_eq!(w.rest().await, Vec::<Value>::new());
    let r = app
        .get("/clusters/C1/api/v1/pods?watch=true&resourceVersion=not-a-revision")
        .await;
    assert_status(&r, 400, "BadRequest", "resourceVersion");
}

#[actix_web::test]
async fn errors_are_status_objects_with_real_http_statuses() {
    // Even where the bcs routes answer 200 for everything.
    let app = TestApp::with_settings(Backend::Sqlite, |s| s.server.always_http_200 = true).await;
    put_pod(&app, "C1", "default", "p", json!({})).await;
    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = app
            .send(
                m,
                "/apis/clusterpedia.io/v1beta1/resources/api/v1/namespaces/default/pods/p",
                Some(b"{}"),
            )
            .await;
        assert_status(
            &r,
            405,
            "MethodNotAllowed",
            "/clusters/{cluster}/api/v1/namespaces/default/pods/p",
        );
        let r = app.send(m, "/clusters/C1/api/v1", Some(b"{}")).await;
        assert_status(&r, 405, "MethodNotAllowed", m);
    }
    let r = app
        .send(
            "POST",
            "/clusters/C1/api/v1/namespaces/default/pods/p",
            Some(b"{}"),
        )
        .await;
    assert_status(&r, 405, "MethodNotAllowed", "POST");
    let r = app
        .get("/clusters/C1/api/v1/namespaces/default/widgets")
        .await;
    assert_status(&r, 404, "NotFound", "could not find the requested resource");
    let r = app
        .get("/clusters/C1/api/v1/namespaces/default/pods/p/x/y")
        .await;
    assert_status(&r, 404, "NotFound", "");
    let r = app
        .get("/apis/clusterpedia.io/v1beta1/resources/clusters/")
        .await;
    assert_status(&r, 404, "NotFound", "");
    let r = app.get("/clusters/C1/api/v1/pods?limit=1&limit=2").await;
    assert_status(&r, 400, "BadRequest", "limit");
    // The bcs routes keep their policy.
    let r = app.get("/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/C1/namespaces/default/Pod/none").await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn clusterpedia_search_parameters() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for (c, ns, name, created) in [
            ("global", "apps", "api", "2026-01-01T00:00:00Z"),
            ("c2", "kube-system", "dns", "2026-02-01T00:00:00Z"),
            ("c2", "default", "web", "2026-03-01T00:00:00Z"),
            ("c2", "apps", "worker", "2026-04-01T00:00:00Z"),
        ] {
            put(&app, c, Some(ns), "Deployment", name, json!({
                "metadata": {"name": name, "namespace": ns, "uid": format!("d-{c}-{name}"), "creationTimestamp": created}})).await;
        }
        let base = "/apis/clusterpedia.io/v1beta1/resources/apis/apps/v1/deployments";
        let get = |q: String| {
            let app = &app;
            async move {
                let r = app.get(&format!("{base}?{q}")).await;
                assert_eq!(r.status, 200, "{q}: {}", r.raw);
                names(&r.body)
            }
        };
        let q = form_urlencoded::byte_serialize(
            b"(cluster='global') OR (namespace IN ('kube-system','default'))",
        )
        .collect::<String>();
        assert_eq!(
            get(format!("whereSQL={q}")).await,
            ["c2/default/web", "c2/kube-system/dns", "global/apps/api"]
        );
        let q = form_urlencoded::byte_serialize(b"name LIKE 'w%' AND NOT cluster = 'global'")
            .collect::<String>();
        assert_eq!(
            get(format!("whereSQL={q}")).await,
            ["c2/apps/worker", "c2/default/web"]
        );
        assert_eq!(
            get("namespaces=apps,default&clusters=c2".into()).await,
            ["c2/apps/worker", "c2/default/web"]
        );
        assert_eq!(
            get("names=dns,api".into()).await,
            ["c2/kube-system/dns", "global/apps/api"]
        );
        assert_eq!(
            get("since=2026-02-01&before=2026-04-01T00:00:00Z".into()).await,
            ["c2/default/web", "c2/kube-system/dns"]
        );
        assert_eq!(
            get("orderby=name%20desc".into()).await,
            [
                "c2/apps/worker",
                "c2/default/web",
                "c2/kube-system/dns",
                "global/apps/api"
            ]
        );
        assert_eq!(
            get("orderby=created_at%20desc&limit=2&continue=1".into()).await,
            ["c2/default/web", "c2/kube-system/dns"]
        );
        for bad in [
            "whereSQL=1%3D1",
            "whereSQL=name%3D'x'%3B%20DROP%20TABLE%20t",
            "whereSQL=labels%3D'x'",
            "orderby=size",
            "since=yesterday",
            "ownerSeniority=9&ownerUID=x",
        ] {
            let r = app.get(&format!("{base}?{bad}")).await;
            assert_status(&r, 400, "BadRequest", "");
        }

        // Owners: a Deployment's ReplicaSet owns the pods.
        put(&app, "c2", Some("default"), "ReplicaSet", "web-5d", json!({
            "metadata": {"name": "web-5d", "uid": "rs-1", "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d-c2-web"}]}})).await;
        for p in ["web-5d-a", "web-5d-b"] {
            put(&app, "c2", Some("default"), "Pod", p, json!({
                "metadata": {"name": p, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d", "uid": "rs-1"}]}})).await;
        }
        put(
            &app,
            "c2",
            Some("default"),
            "Pod",
            "lone",
            json!({"metadata": {"name": "lone"}}),
        )
        .await;
        let pods =
            "/apis/clusterpedia.io/v1beta1/resources/clusters/c2/api/v1/namespaces/default/pods";
        for q in [
            "ownerUID=d-c2-web&ownerSeniority=1",
            "ownerName=web&ownerSeniority=1",
            "ownerName=web&ownerGR=deployments.apps&ownerSeniority=1",
            "ownerUID=rs-1",
            "ownerName=web-5d",
        ] {
            let r = app.get(&format!("{pods}?{q}")).await;
            assert_eq!(
                names(&r.body),
                ["c2/default/web-5d-a", "c2/default/web-5d-b"],
                "{b:?} {q}"
            );
        }
        let r = app.get(&format!("{pods}?ownerUID=d-c2-web")).await;
        assert_eq!(names(&r.body), Vec::<String>::new());
    }
}

#[actix_web::test]
async fn containers_and_the_workloads_collection() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put(&app, "C1", Some("default"), "Pod", "web-1", json!({
            "metadata": {"name": "web-1"},
            "spec": {"initContainers": [{"name": "init", "image": "busybox"}],
                     "containers": [{"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "envoy:1"}]},
            "status": {"containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}},
                {"name": "sidecar", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}})).await;
        let base = "/apis/clusterpedia.io/v1beta1/resources/clusters/C1/api/v1/namespaces/default/containers";
        let r = app.get(base).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let items = r.body["items"].as_array().unwrap();
        let summary: Vec<(String, String, bool, i64)> = items
            .iter()
            .map(|i| {
                (
                    i["name"].as_str().unwrap().to_owned(),
                    i["image"].as_str().unwrap().to_owned(),
                    i["ready"].as_bool().unwrap(),
                    i["restartCount"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("app".into(), "nginx:1.25".into(), true, 2),
                ("sidecar".into(), "envoy:1".into(), false, 0),
                ("init".into(), "busybox".into(), false, 0)
            ]
        );
        assert_eq!(items[0]["pod"], "web-1");
        assert_eq!(items[1]["state"]["waiting"]["reason"], "ImagePullBackOff");
        let r = app.get(&format!("{base}/sidecar")).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        let r = app.get(&format!("{base}/nope")).await;
        assert_status(&r, 404, "NotFound", "containers \"nope\" not found");

        put(
            &app,
            "C1",
            Some("default"),
            "Deployment",
            "d1",
            json!({"metadata": {"name": "d1"}}),
        )
        .await;
        put(
            &app,
            "C1",
            Some("default"),
            "DaemonSet",
            "ds1",
            json!({"metadata": {"name": "ds1"}}),
        )
        .await;
        put(
            &app,
            "C2",
            Some("default"),
            "StatefulSet",
            "s1",
            json!({"metadata": {"name": "s1"}}),
        )
        .await;
        let wl = "/apis/clusterpedia.io/v1beta1/collectionresources/workloads";
        let r = app.get(wl).await;
        assert_eq!(r.body["kind"], "CollectionResource", "{}", r.raw);
        let kinds: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["Deployment", "DaemonSet", "StatefulSet"]);
        let r = app.get(&format!("{wl}?onlyMetadata=true&limit=1")).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["items"][0]["kind"], "PartialObjectMetadata");
        let token = r.body["metadata"]["continue"]
            .as_str()
            .expect("cut")
            .to_owned();
        let r = app.get(&format!("{wl}?limit=5&continue={token}")).await;
        let kinds: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["DaemonSet", "StatefulSet"]);
        let r = app.get(&format!("{wl}?clusters=C2")).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    }
}

const PODS: &str = "/clusters/C1/api/v1/namespaces/default/pods";

/// Sends a Kubernetes write with a content type.
async fn kube_write(
    app: &TestApp,
    method: &str,
    uri: &str,
    ct: &str,
    body: &str,
) -> crate::common::Reply {
    app.send_with(method, uri, &[("content-type", ct)], Some(body.as_bytes()))
        .await
}

/// Every stored pod document of cluster C1 (bcs route), to prove that
/// refused writes change nothing.
async fn stored_pods(app: &TestApp) -> Value {
    let r = app.get(&format!("{}/Pod", ns_base("C1", "default"))).await;
    r.assert_ok();
    r.body["data"].clone()
}

#[actix_web::test]
async fn kubernetes_writes_refuse_bad_input_and_change_nothing() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "default", "p", json!({"app": "web"})).await;
        let before = stored_pods(&app).await;
        // A resourceVersion of the right form that is not the object's.
        let stale = match b {
            Backend::Sqlite => r#"{"metadata":{"name":"p","resourceVersion":"987654"}}"#,
            Backend::Mongo => {
                r#"{"metadata":{"name":"p","resourceVersion":"00.000000000000000000000000"}}"#
            }
        };
        let json_ct = "application/json";
        let merge = "application/merge-patch+json";
        let cases: Vec<(&str, String, &str, &str, u16, &str, &str)> = vec![
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"kind":"Service","metadata":{"name":"x"}}"#,
                400,
                "BadRequest",
                "kind:",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"apiVersion":"apps/v1","metadata":{"name":"x"}}"#,
                400,
                "BadRequest",
                "apiVersion:",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"metadata":{"name":"x","namespace":"other"}}"#,
                400,
                "BadRequest",
                "metadata.namespace:",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"metadata":{}}"#,
                400,
                "BadRequest",
                "metadata.name: required",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"metadata":{"name":"a/b"}}"#,
                400,
                "BadRequest",
                "metadata.name:",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"metadata":{"name":"x","resourceVersion":"5"}}"#,
                400,
                "BadRequest",
                "must not be set",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                "{not json",
                400,
                "BadRequest",
                "not valid JSON",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                "[1]",
                400,
                "BadRequest",
                "must be a Pod object",
            ),
            ("POST", PODS.into(), json_ct, "", 400, "BadRequest", "empty"),
            (
                "POST",
                PODS.into(),
                "application/yaml",
                "metadata: {name: x}",
                415,
                "UnsupportedMediaType",
                "application/json",
            ),
            (
                "POST",
                PODS.into(),
                json_ct,
                r#"{"metadata":{"name":"p"}}"#,
                409,
                "AlreadyExists",
                "pods \"p\" already exists",
            ),
            (
                "POST",
                format!("{PODS}?dryRun=Some"),
                json_ct,
                r#"{"metadata":{"name":"x"}}"#,
                400,
                "BadRequest",
                "dryRun",
            ),
            (
                "POST",
                format!("{PODS}?fieldValidation=Loose"),
                json_ct,
                r#"{"metadata":{"name":"x"}}"#,
                400,
                "BadRequest",
                "fieldValidation",
            ),
            (
                "PUT",
                format!("{PODS}/p"),
                json_ct,
                r#"{"metadata":{"name":"q"}}"#,
                400,
                "BadRequest",
                "metadata.name: \"q\" does not match",
            ),
            (
                "PUT",
                format!("{PODS}/p"),
                json_ct,
                r#"{"metadata":{"name":"p","resourceVersion":"abc"}}"#,
                400,
                "BadRequest",
                "resourceVersion",
            ),
            (
                "PUT",
                format!("{PODS}/p"),
                json_ct,
                stale,
                409,
                "Conflict",
                "the object has been modified",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                "text/plain",
                "{}",
                415,
                "UnsupportedMediaType",
                "application/merge-patch+json",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                "application/apply-patch+yaml",
                "{}",
                415,
                "UnsupportedMediaType",
                "server-side apply",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                merge,
                "[1]",
                400,
                "BadRequest",
                "must be a JSON object",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                merge,
                r#"{"kind":"Node"}"#,
                400,
                "BadRequest",
                "kind:",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                merge,
                r#"{"metadata":{"name":"other"}}"#,
                400,
                "BadRequest",
                "metadata.name",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                "application/json-patch+json",
                r#"{"op":"add"}"#,
                400,
                "BadRequest",
                "list of operations",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                "application/json-patch+json",
                r#"[{"op":"test","path":"/spec/nodeName","value":"elsewhere"}]"#,
                422,
                "Invalid",
                "cannot be applied",
            ),
            (
                "PATCH",
                format!("{PODS}/p"),
                "application/strategic-merge-patch+json",
                r#"{"spec":{"$patch":"explode"}}"#,
                400,
                "BadRequest",
                "strategic merge patch",
            ),
            (
                "PATCH",
                format!("{PODS}/nope"),
                merge,
                "{}",
                404,
                "NotFound",
                "pods \"nope\" not found",
            ),
            (
                "DELETE",
                format!("{PODS}/nope"),
                json_ct,
                "",
                404,
                "NotFound",
                "pods \"nope\" not found",
            ),
            (
                "DELETE",
                format!("{PODS}/p?propagationPolicy=Sideways"),
                json_ct,
                "",
                400,
                "BadRequest",
                "propagationPolicy",
            ),
            (
                "DELETE",
                format!("{PODS}/p"),
                json_ct,
                r#"{"kind":"DeleteOptions","preconditions":{"uid":"not-its-uid"}}"#,
                409,
                "Conflict",
                "Precondition failed: UID",
            ),
            (
                "DELETE",
                format!("{PODS}/p"),
                json_ct,
                r#"{"kind":"Pod"}"#,
                400,
                "BadRequest",
                "DeleteOptions",
            ),
            (
                "DELETE",
                format!("{PODS}/p"),
                json_ct,
                r#"{"gracePeriodSeconds":-3}"#,
                400,
                "BadRequest",
                "gracePeriodSeconds",
            ),
            (
                "PUT",
                format!("{PODS}/p/log"),
                json_ct,
                "{}",
                404,
                "NotFound",
                "keeps no container logs",
            ),
            (
                "PUT",
                "/clusters/C1/apis/apps/v1/namespaces/default/deployments/d/ephemeralcontainers"
                    .into(),
                json_ct,
                "{}",
                404,
                "NotFound",
                "",
            ),
            (
                "DELETE",
                format!("{PODS}/p/status"),
                json_ct,
                "",
                405,
                "MethodNotAllowed",
                "DELETE",
            ),
            (
                "PUT",
                "/clusters/C1/api/v1/nodes/n1".into(),
                json_ct,
                r#"{"metadata":{"name":"n1","namespace":"default"}}"#,
                400,
                "BadRequest",
                "has no namespace",
            ),
        ];
        for (m, uri, ct, body, code, reason, needle) in cases {
            let r = kube_write(&app, m, &uri, ct, body).await;
            assert_eq!(r.status, code, "{b:?} {m} {uri} {body}: {}", r.raw);
            assert_status(&r, code, reason, needle);
        }
        let r = app.get(&format!("{PODS}/p/log")).await;
        assert_status(&r, 404, "NotFound", "keeps no container logs");
        // Bodies are bounded as on the bcs routes (3 MiB), not below.
        let big = json!({"metadata": {"name": "big"}, "spec": {"x": "y".repeat(4 << 20)}});
        let r = kube_write(&app, "POST", PODS, json_ct, &big.to_string()).await;
        assert_status(&r, 413, "RequestEntityTooLarge", "larger than");
        let copies: Vec<Value> = (0..30)
            .map(|i| json!({"op": "copy", "from": "", "path": format!("/b{i}")}))
            .collect();
        let r = kube_write(
            &app,
            "PATCH",
            &format!("{PODS}/p"),
            "application/json-patch+json",
            &Value::Array(copies).to_string(),
        )
        .await;
        assert_status(&r, 422, "Invalid", "copy more than");
        assert_eq!(
            stored_pods(&app).await,
            before,
            "{b:?}: a refused write changed nothing"
        );
        assert!(stored_pods(&app).await.as_array().unwrap().len() == 1);
    }
}

#[actix_web::test]
async fn kubernetes_writes_are_the_bcs_documents_and_reach_both_watches() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let mut bcs_watch = app.watch(&format!("{V4}/dynamic/watch/C1/Pod"), "{}").await;
        assert_eq!(bcs_watch.status, 200);
        let mut kube_watch = app
            .watch_get(&format!("{PODS}?watch=true&resourceVersion=0"))
            .await;
        assert_eq!(kube_watch.status, 200);

        // Created here: 201, server-set fields, then the same document on
        // the bcs route and an event on both watches.
        let body = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "web-", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
            "status": {"phase": "Running"}});
        let r = kube_write(&app, "POST", PODS, "application/json", &body.to_string()).await;
        assert_eq!(r.status, 201, "{b:?} {}", r.raw);
        let name = r.body["metadata"]["name"].as_str().unwrap().to_owned();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert_eq!(r.body["metadata"]["generation"], 1);
        assert_eq!(
            r.body["status"],
            json!({"phase": "Pending"}),
            "a create starts the status"
        );
        assert_eq!(
            r.body["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
            "C1"
        );
        let rv = r.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        // The reply's resourceVersion is the object's: a precondition that
        // holds, once.
        for (label, code) in [("1", 200), ("2", 409)] {
            let patch = json!({"metadata": {"resourceVersion": rv, "labels": {"seen": label}}});
            let r = kube_write(
                &app,
                "PATCH",
                &format!("{PODS}/{name}"),
                "application/merge-patch+json",
                &patch.to_string(),
            )
            .await;
            assert_eq!(r.status, code, "{b:?} {}", r.raw);
        }
        let bcs = app
            .get(&format!("{}/Pod/{name}", ns_base("C1", "default")))
            .await;
        bcs.assert_ok();
        assert_eq!(
            bcs.data()["data"]["spec"]["containers"][0]["image"],
            "nginx:1"
        );
        assert_eq!(bcs.data()["resourceType"], "Pod");
        let ev = loop {
            let f = bcs_watch.next().await.expect("bcs watch");
            if f["type"] != 5 {
                break f;
            }
        };
        assert_eq!(ev["value"]["resourceName"], name.as_str(), "{b:?}");
        let ev = kube_watch.next().await.expect("kube watch");
        assert_eq!(
            (
                ev["type"].as_str(),
                ev["object"]["metadata"]["name"].as_str()
            ),
            (Some("ADDED"), Some(name.as_str()))
        );

        // A bcs PUT is read here.
        put_pod(&app, "C1", "default", "agent", json!({"app": "agent"})).await;
        let g = app.get(&format!("{PODS}/agent")).await;
        assert_eq!(g.status, 200);

        // The main resource leaves status alone; /status takes only it;
        // /ephemeralcontainers only spec.ephemeralContainers.
        let merge = "application/merge-patch+json";
        let r = kube_write(
            &app,
            "PATCH",
            &format!("{PODS}/{name}"),
            merge,
            r#"{"status":{"phase":"Failed"},"metadata":{"labels":{"x":"1"}}}"#,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["status"]["phase"], "Pending");
        assert_eq!(r.body["metadata"]["labels"]["x"], "1");
        assert_eq!(r.body["metadata"]["generation"], 1, "no spec change");
        let r = kube_write(
            &app,
            "PATCH",
            &format!("{PODS}/{name}/status"),
            merge,
            r#"{"status":{"phase":"Running","podIP":"10.2.0.1"},"spec":{"nodeName":"ignored"}}"#,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["status"]["phase"], "Running");
        assert!(r.body["spec"].get("nodeName").is_none(), "{}", r.raw);
        let mut whole = r.body.clone();
        whole["status"]["phase"] = json!("Succeeded");
        whole["spec"]["containers"][0]["image"] = json!("ignored:too");
        let r = kube_write(
            &app,
            "PUT",
            &format!("{PODS}/{name}/status"),
            "application/json",
            &whole.to_string(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(
            (
                r.body["status"]["phase"].as_str(),
                r.body["spec"]["containers"][0]["image"].as_str()
            ),
            (Some("Succeeded"), Some("nginx:1"))
        );
        let r = kube_write(&app, "PATCH", &format!("{PODS}/{name}/ephemeralcontainers"), "application/strategic-merge-patch+json",
            r#"{"spec":{"ephemeralContainers":[{"name":"debug","image":"busybox"}],"nodeName":"ignored"}}"#).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["spec"]["ephemeralContainers"][0]["name"], "debug");
        assert!(r.body["spec"].get("nodeName").is_none());
        let g = app.get(&format!("{PODS}/{name}/ephemeralcontainers")).await;
        assert_eq!(g.body["spec"]["ephemeralContainers"][0]["image"], "busybox");

        // A dry run answers the change and stores nothing.
        let r = kube_write(
            &app,
            "PATCH",
            &format!("{PODS}/{name}?dryRun=All"),
            merge,
            r#"{"metadata":{"labels":{"dry":"1"}}}"#,
        )
        .await;
        assert_eq!(r.body["metadata"]["labels"]["dry"], "1", "{}", r.raw);
        let g = app.get(&format!("{PODS}/{name}")).await;
        assert!(g.body["metadata"]["labels"].get("dry").is_none());

        // A 1 MiB object is accepted.
        let cm = json!({"metadata": {"name": "big"}, "data": {"blob": "z".repeat(1 << 20)}});
        let r = kube_write(
            &app,
            "POST",
            "/clusters/C1/api/v1/namespaces/default/configmaps",
            "application/json",
            &cm.to_string(),
        )
        .await;
        assert_eq!(r.status, 201, "{b:?}");

        // PUT creates (201) and replaces (200).
        let node = json!({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n1", "labels": {"a": "1"}}});
        let r = kube_write(
            &app,
            "PUT",
            "/clusters/C1/api/v1/nodes/n1",
            "application/json",
            &node.to_string(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.raw);
        let r = kube_write(
            &app,
            "PUT",
            "/clusters/C1/api/v1/nodes/n1",
            "application/json",
            &node.to_string(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let bcs = app
            .get(&format!("{}/Node/n1", crate::common::cluster_base("C1")))
            .await;
        assert_eq!(bcs.data()["data"]["metadata"]["labels"]["a"], "1", "{b:?}");

        // DELETE answers the object; the watches see it go. Its
        // resourceVersion precondition holds only for the current version.
        let precondition = |rv: &str| {
            json!({"kind": "DeleteOptions", "preconditions": {"resourceVersion": rv}}).to_string()
        };
        let r = kube_write(
            &app,
            "DELETE",
            &format!("{PODS}/{name}"),
            "application/json",
            &precondition(&rv),
        )
        .await;
        assert_status(&r, 409, "Conflict", "Precondition failed: ResourceVersion");
        let current = app.get(&format!("{PODS}/{name}")).await;
        let now = current.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = kube_write(
            &app,
            "DELETE",
            &format!("{PODS}/{name}"),
            "application/json",
            &precondition(&now),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["metadata"]["name"], name.as_str());
        let deleted = loop {
            let f = kube_watch.next().await.expect("kube watch");
            if f["type"] == "DELETED" {
                break f;
            }
        };
        assert_eq!(deleted["object"]["metadata"]["name"], name.as_str());
    }
}

#[actix_web::test]
async fn deleting_an_owner_deletes_what_it_owns_unless_orphaned() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let owned = |name: &str, kind: &str, uid: &str, owner_uid: Option<&str>| {
            let mut m = json!({"name": name, "namespace": "default", "uid": uid});
            if let Some(o) = owner_uid {
                m["ownerReferences"] =
                    json!([{"uid": o, "kind": "x", "name": "x", "apiVersion": "v1"}]);
            }
            json!({"kind": kind, "metadata": m})
        };
        for (set, orphan) in [("a", false), ("b", true)] {
            put(
                &app,
                "C1",
                Some("default"),
                "Deployment",
                &format!("d{set}"),
                owned(&format!("d{set}"), "Deployment", &format!("D{set}"), None),
            )
            .await;
            put(
                &app,
                "C1",
                Some("default"),
                "ReplicaSet",
                &format!("rs{set}"),
                owned(
                    &format!("rs{set}"),
                    "ReplicaSet",
                    &format!("R{set}"),
                    Some(&format!("D{set}")),
                ),
            )
            .await;
            put(
                &app,
                "C1",
                Some("default"),
                "Pod",
                &format!("p{set}"),
                owned(
                    &format!("p{set}"),
                    "Pod",
                    &format!("P{set}"),
                    Some(&format!("R{set}")),
                ),
            )
            .await;
            // The same uid in another cluster is another object.
            put(
                &app,
                "C2",
                Some("default"),
                "ReplicaSet",
                &format!("rs{set}"),
                owned(
                    &format!("rs{set}"),
                    "ReplicaSet",
                    &format!("R{set}"),
                    Some(&format!("D{set}")),
                ),
            )
            .await;
            let q = if orphan {
                "?propagationPolicy=Orphan"
            } else {
                ""
            };
            let r = app
                .delete(&format!(
                    "/clusters/C1/apis/apps/v1/namespaces/default/deployments/d{set}{q}"
                ))
                .await;
            assert_eq!(r.status, 200, "{}", r.raw);
        }
        let names = |r: crate::common::Reply| -> Vec<String> {
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let rs = names(app.get("/clusters/C1/apis/apps/v1/replicasets").await);
        assert_eq!(rs, ["rsb"], "{b:?}");
        let pods = names(app.get("/clusters/C1/api/v1/pods").await);
        assert_eq!(pods, ["pb"], "{b:?}");
        let rs2 = names(app.get("/clusters/C2/apis/apps/v1/replicasets").await);
        assert_eq!(rs2, ["rsa", "rsb"], "{b:?}");
        // delete-collection answers the list it deleted.
        let r = app.delete("/clusters/C1/api/v1/pods").await;
        assert_eq!(r.status, 405, "{}", r.raw);
        let r = app
            .delete("/clusters/C1/api/v1/namespaces/default/pods?labelSelector=none%3D1")
            .await;
        assert_eq!(
            (
                r.status,
                r.body["kind"].as_str(),
                r.body["items"].as_array().map(Vec::len)
            ),
            (200, Some("PodList"), Some(0)),
            "{}",
            r.raw
        );
        let r = app
            .delete("/clusters/C1/api/v1/namespaces/default/pods")
            .await;
        assert_eq!(r.body["items"][0]["metadata"]["name"], "pb", "{}", r.raw);
        assert!(names(app.get("/clusters/C1/api/v1/pods").await).is_empty());
    }
}

#[actix_web::test]
async fn pod_metrics_have_the_seed_shape() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_pod(&app, "C1", "ns-1", "p1", json!({"app": "web"})).await;
        let sample = json!({"data": {"timestamp": "2023-03-28T11:28:02Z", "window": "30s",
            "containers": [{"name": "container-0", "usage": {"cpu": "353450n",
                "cpu_accumulated": "127810375798n", "memory": "1560Ki"}}]}});
        app.put_json(
            "/bcsapi/v4/storage/metric/clusters/C1/namespaces/ns-1/PodMetrics/p1",
            &sample,
        )
        .await
        .assert_ok();
        let r = app
            .get("/clusters/C1/apis/metrics.k8s.io/v1beta1/namespaces/ns-1/pods/p1?pretty=true")
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(
            r.raw.contains("\n  \"kind\": \"PodMetrics\""),
            "pretty: {}",
            r.raw
        );
        let keys: Vec<&str> = r
            .body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "kind",
                "apiVersion",
                "metadata",
                "timestamp",
                "window",
                "containers"
            ]
        );
        assert_eq!(
            r.body["metadata"]["selfLink"],
            "/apis/metrics.k8s.io/v1beta1/namespaces/ns-1/pods/p1"
        );
        assert_eq!(r.body["metadata"]["namespace"], "ns-1");
        assert_eq!(
            r.body["metadata"]["labels"],
            json!({"app": "web"}),
            "labels of the pod, {b:?}"
        );
        assert!(
            r.body["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        assert_eq!(
            r.body["containers"][0]["usage"]["cpu_accumulated"],
            "127810375798n"
        );
        assert_eq!(r.body["timestamp"], "2023-03-28T11:28:02Z");
        let r = app
            .get("/clusters/C1/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dother")
            .await;
        assert_eq!(r.body["kind"], "PodMetricsList");
        assert_eq!(r.body["items"], json!([]), "{b:?}");
        let r = app
            .get("/clusters/C1/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dweb")
            .await;
        assert_eq!(r.body["items"][0]["metadata"]["name"], "p1");
        let r = app
            .get("/clusters/C1/apis/metrics.k8s.io/v1beta1/namespaces/ns-1/pods/nope")
            .await;
        assert_status(
            &r,
            404,
            "NotFound",
            "podmetrics.metrics.k8s.io \"nope\" not found",
        );
        let r = app
            .get("/clusters/C1/apis/metrics.k8s.io/v1beta1/pods?watch=true")
            .await;
        assert_status(&r, 405, "MethodNotAllowed", "");
        let r = app
            .get("/clusters/C1/apis/metrics.k8s.io/v1beta1/pods?labelSelector=a%20in")
            .await;
        assert_status(&r, 400, "BadRequest", "unable to parse requirement");
        let r = app.get("/apis/metrics.k8s.io/v1beta1").await;
        let names: Vec<&str> = r.body["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["pods", "nodes"], "{b:?}");
    }
}
