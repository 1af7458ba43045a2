//! HTTP tests of the dynamic resource routes (contract sections 1, 2, 3, 11):
//! every route under both prefixes, both environments and both scopes, the
//! stored document shape, upsert rules, key escaping, projections, filters,
//! paging and batch deletes, on every backend of `common::backends()`.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::common::{Reply, TestApp, V1, V4, backends, cluster_base, extra, ns_base};

const PREFIXES: [&str; 2] = [V1, V4];
const ENVS: [&str; 2] = ["k8s", "mesos"];

fn ns_url(prefix: &str, env: &str, cluster: &str, ns: &str) -> String {
    format!("{prefix}/{env}/dynamic/namespace_resources/clusters/{cluster}/namespaces/{ns}")
}

fn cl_url(prefix: &str, env: &str, cluster: &str) -> String {
    format!("{prefix}/{env}/dynamic/cluster_resources/clusters/{cluster}")
}

fn all_url(prefix: &str, env: &str, cluster: &str) -> String {
    format!("{prefix}/{env}/dynamic/all_resources/clusters/{cluster}")
}

/// `/bcsapi/v4/storage/k8s/dynamic/all_resources/clusters/{c}`
fn all_base(cluster: &str) -> String {
    all_url(V4, "k8s", cluster)
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`
fn is_rfc3339_millis_utc(s: &str) -> bool {
    const PATTERN: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    s.len() == PATTERN.len()
        && s.bytes().zip(PATTERN).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == *p,
        })
}

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Unix milliseconds of a rendered instant.
fn millis(v: &Value) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a time string: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .timestamp_millis()
}

async fn put_ok(app: &TestApp, uri: &str, data: Value) {
    let r = app.put_json(uri, &json!({ "data": data })).await;
    r.assert_ok();
    assert_eq!(r.data(), &Value::Null, "{}", r.raw);
}

async fn get_doc(app: &TestApp, uri: &str) -> Map<String, Value> {
    let r = app.get(uri).await;
    r.assert_ok();
    r.data()
        .as_object()
        .unwrap_or_else(|| panic!("GET {uri}: data is not an object: {}", r.raw))
        .clone()
}

async fn list(app: &TestApp, uri: &str) -> Vec<Value> {
    let r = app.get(uri).await;
    r.assert_ok();
    r.data()
        .as_array()
        .unwrap_or_else(|| panic!("GET {uri}: data is not an array: {}", r.raw))
        .clone()
}

/// `resourceName` of every item, in reply order.
fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|d| d["resourceName"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// `resourceName` of every item of a list reply, sorted.
async fn names_of(app: &TestApp, uri: &str) -> Vec<String> {
    let mut n = names(&list(app, uri).await);
    n.sort();
    n
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// A batch delete answers `data: null` and `total`; returns the total.
#[track_caller]
fn deleted(r: &Reply) -> u64 {
    r.assert_ok();
    assert_eq!(r.data(), &Value::Null, "{}", r.raw);
    r.body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total: {}", r.raw))
}

/// Checks the wire shape of one stored document (contract section 2).
#[track_caller]
fn assert_shape(
    doc: &Map<String, Value>,
    cluster: &str,
    namespace: Option<&str>,
    rtype: &str,
    name: &str,
    data: &Value,
) {
    let keys: BTreeSet<&str> = doc.keys().map(String::as_str).collect();
    let mut want: BTreeSet<&str> = [
        "_id",
        "clusterId",
        "resourceType",
        "resourceName",
        "data",
        "createTime",
        "updateTime",
    ]
    .into();
    if namespace.is_some() {
        want.insert("namespace");
    }
    assert_eq!(keys, want, "{doc:?}");
    assert!(!doc.contains_key("_isBcsObjectDeleted"), "{doc:?}");
    let id = doc["_id"].as_str().unwrap_or("");
    assert!(
        is_object_id(id),
        "_id {:?} is not 24 hex digits",
        doc["_id"]
    );
    assert_eq!(doc["clusterId"], json!(cluster));
    if let Some(ns) = namespace {
        assert_eq!(doc["namespace"], json!(ns));
    }
    assert_eq!(doc["resourceType"], json!(rtype));
    assert_eq!(doc["resourceName"], json!(name));
    assert_eq!(&doc["data"], data);
    for t in ["createTime", "updateTime"] {
        let s = doc[t].as_str().unwrap_or("");
        assert!(
            is_rfc3339_millis_utc(s),
            "{t} {:?} is not RFC 3339 millis UTC",
            doc[t]
        );
    }
}

/// Sleeps until the wall clock is past the second after `after_ms`.
async fn sleep_past_second_of(after_ms: i64) {
    let target = (after_ms.div_euclid(1000) + 1) * 1000 + 30;
    let now = chrono::Utc::now().timestamp_millis();
    if target > now {
        tokio::time::sleep(Duration::from_millis((target - now) as u64)).await;
    }
}

#[actix_web::test]
async fn single_routes_round_trip_under_every_prefix_env_and_scope() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for prefix in PREFIXES {
            let other_prefix = if prefix == V1 { V4 } else { V1 };
            for env in ENVS {
                let cluster = "BCS-K8S-15091";
                let cases = [
                    (
                        format!("{}/Deployment/web", ns_url(prefix, env, cluster, "default")),
                        Some("default"),
                        "Deployment",
                        "web",
                    ),
                    (
                        format!("{}/Node/node-1", cl_url(prefix, env, cluster)),
                        None,
                        "Node",
                        "node-1",
                    ),
                ];
                for (one, ns, rtype, name) in cases {
                    let ctx = format!("{b:?} {one}");
                    let data = json!({"metadata": {"name": name}, "env": env, "prefix": prefix, "n": [1, 2.5, null, true]});
                    put_ok(&app, &one, data.clone()).await;
                    let doc = get_doc(&app, &one).await;
                    assert_shape(&doc, cluster, ns, rtype, name, &data);
                    assert_eq!(doc["createTime"], doc["updateTime"], "{ctx}");
                    // The same handlers answer under the other prefix.
                    let other = one.replacen(prefix, other_prefix, 1);
                    assert_eq!(get_doc(&app, &other).await, doc, "{ctx}");
                    let r = app.delete(&one).await;
                    r.assert_ok();
                    assert_eq!(r.data(), &Value::Null, "{ctx}");
                    app.get(&one)
                        .await
                        .assert_err(404, 1_405_087, "does not exist");
                    app.get(&other)
                        .await
                        .assert_err(404, 1_405_087, "does not exist");
                    // Idempotent.
                    app.delete(&one).await.assert_ok();
                }
            }
        }
    }
}

#[actix_web::test]
async fn a_second_put_keeps_create_time_and_id_and_replaces_data() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for (one, rtype) in [
            (format!("{}/Pod/p1", ns_base("c1", "ns1")), "Pod"),
            (format!("{}/Node/n1", cluster_base("c1")), "Node"),
        ] {
            put_ok(&app, &one, json!({"a": 1, "keep": {"x": [1, 2]}, "s": "v"})).await;
            let first = get_doc(&app, &one).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            put_ok(&app, &one, json!({"b": {"c": 2}})).await;
            let second = get_doc(&app, &one).await;
            assert_eq!(second["_id"], first["_id"], "{b:?} {one}");
            assert_eq!(second["createTime"], first["createTime"], "{b:?} {one}");
            assert!(
                millis(&second["updateTime"]) > millis(&first["updateTime"]),
                "{b:?} {one}: {first:?} then {second:?}"
            );
            // Replaced wholesale, not merged.
            assert_eq!(second["data"], json!({"b": {"c": 2}}), "{b:?} {one}");
            // Any JSON is stored as data, including scalars.
            put_ok(&app, &one, json!("just a string")).await;
            assert_eq!(get_doc(&app, &one).await["data"], json!("just a string"));
            // Still exactly one document under that key.
            let all = list(&app, &format!("{}/{rtype}", all_base("c1"))).await;
            assert_eq!(all.len(), 1, "{b:?}: {all:?}");
        }
    }
}

#[actix_web::test]
async fn a_put_after_a_delete_creates_a_new_object() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for one in [
            format!("{}/Pod/p1", ns_base("c1", "ns1")),
            format!("{}/Node/n1", cluster_base("c1")),
        ] {
            put_ok(&app, &one, json!({"v": 1})).await;
            let first = get_doc(&app, &one).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            app.delete(&one).await.assert_ok();
            app.get(&one)
                .await
                .assert_err(404, 1_405_087, "does not exist");
            put_ok(&app, &one, json!({"v": 2})).await;
            let again = get_doc(&app, &one).await;
            assert!(
                millis(&again["createTime"]) > millis(&first["createTime"]),
                "{b:?} {one}: createTime not renewed: {first:?} then {again:?}"
            );
            assert_eq!(again["createTime"], again["updateTime"], "{b:?} {one}");
            assert_eq!(again["data"], json!({"v": 2}));
        }
    }
}

#[actix_web::test]
async fn deleting_a_missing_resource_succeeds() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for prefix in PREFIXES {
            for one in [
                format!("{}/Pod/never", ns_url(prefix, "k8s", "c1", "ns1")),
                format!("{}/Node/never", cl_url(prefix, "mesos", "nocluster")),
                format!("{}/NoSuchType/x", ns_url(prefix, "mesos", "c9", "nsx")),
            ] {
                let r = app.delete(&one).await;
                r.assert_ok();
                assert_eq!(r.data(), &Value::Null, "{b:?} {one}");
                assert!(r.content_type.starts_with("application/json"));
            }
        }
    }
}

#[actix_web::test]
async fn cluster_single_routes_address_the_document_without_namespace() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let namespaced = format!("{}/Pod/p1", ns_base("c1", "ns1"));
        let clustered = format!("{}/Pod/p1", cluster_base("c1"));
        put_ok(&app, &namespaced, json!({"scope": "namespace"})).await;
        // The namespaced document of the same name is not the cluster one.
        app.get(&clustered)
            .await
            .assert_err(404, 1_405_087, "does not exist");
        put_ok(&app, &clustered, json!({"scope": "cluster"})).await;
        let doc = get_doc(&app, &clustered).await;
        assert_shape(&doc, "c1", None, "Pod", "p1", &json!({"scope": "cluster"}));
        let ns_doc = get_doc(&app, &namespaced).await;
        assert_shape(
            &ns_doc,
            "c1",
            Some("ns1"),
            "Pod",
            "p1",
            &json!({"scope": "namespace"}),
        );
        assert_ne!(doc["_id"], ns_doc["_id"]);
        // Deleting the cluster document leaves the namespaced one.
        app.delete(&clustered).await.assert_ok();
        app.get(&clustered)
            .await
            .assert_err(404, 1_405_087, "does not exist");
        assert_eq!(get_doc(&app, &namespaced).await, ns_doc, "{b:?}");
    }
}

#[actix_web::test]
async fn cluster_and_all_resources_lists_cover_namespaced_and_cluster_documents() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_ok(&app, &format!("{}/Pod/a", ns_base("c1", "ns1")), json!({})).await;
        put_ok(&app, &format!("{}/Pod/b", ns_base("c1", "ns2")), json!({})).await;
        put_ok(&app, &format!("{}/Pod/c", cluster_base("c1")), json!({})).await;
        // Noise: other type, other cluster.
        put_ok(
            &app,
            &format!("{}/Service/s", ns_base("c1", "ns1")),
            json!({}),
        )
        .await;
        put_ok(&app, &format!("{}/Pod/z", ns_base("c2", "ns1")), json!({})).await;
        put_ok(&app, &format!("{}/Pod/y", cluster_base("c2")), json!({})).await;
        for prefix in PREFIXES {
            for env in ENVS {
                let want = strings(&["a", "b", "c"]);
                let cl = format!("{}/Pod", cl_url(prefix, env, "c1"));
                assert_eq!(names_of(&app, &cl).await, want, "{b:?} {cl}");
                let all = format!("{}/Pod", all_url(prefix, env, "c1"));
                assert_eq!(names_of(&app, &all).await, want, "{b:?} {all}");
                let ns = format!("{}/Pod", ns_url(prefix, env, "c1", "ns1"));
                assert_eq!(names_of(&app, &ns).await, strings(&["a"]), "{b:?} {ns}");
            }
        }
        // Every listed item has the full shape; cluster documents have no namespace.
        for item in list(&app, &format!("{}/Pod", cluster_base("c1"))).await {
            let doc = item.as_object().expect("object");
            let name = doc["resourceName"].as_str().unwrap_or("?");
            let ns = match name {
                "a" => Some("ns1"),
                "b" => Some("ns2"),
                _ => None,
            };
            assert_shape(doc, "c1", ns, "Pod", name, &json!({}));
        }
    }
}

#[actix_web::test]
async fn process_round_trips_and_is_not_listed_as_application() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for env in ENVS {
            let base = ns_url(V4, env, "c1", "ns1");
            let process = format!("{base}/process/x");
            let application = format!("{base}/application/x");
            put_ok(&app, &process, json!({"kind": "process", "v": env})).await;
            let doc = get_doc(&app, &process).await;
            assert_shape(
                &doc,
                "c1",
                Some("ns1"),
                "process",
                "x",
                &json!({"kind": "process", "v": env}),
            );
            assert!(
                list(&app, &format!("{base}/application")).await.is_empty(),
                "{b:?} {env}: process listed as application"
            );
            app.get(&application)
                .await
                .assert_err(404, 1_405_087, "does not exist");
            // An application of the same name is a different document.
            put_ok(&app, &application, json!({"kind": "application"})).await;
            let apps = list(&app, &format!("{base}/application")).await;
            assert_eq!(names(&apps), strings(&["x"]), "{b:?}");
            assert_eq!(apps[0]["resourceType"], json!("application"));
            let procs = list(&app, &format!("{base}/process")).await;
            assert_eq!(names(&procs), strings(&["x"]), "{b:?}");
            assert_eq!(procs[0]["resourceType"], json!("process"));
            assert_eq!(get_doc(&app, &process).await, doc, "{b:?}");
            // Deleting one leaves the other.
            app.delete(&application).await.assert_ok();
            assert_eq!(get_doc(&app, &process).await, doc, "{b:?}");
            let r = app.send("DELETE", &format!("{base}/process"), None).await;
            assert_eq!(deleted(&r), 1, "{b:?}");
            app.get(&process)
                .await
                .assert_err(404, 1_405_087, "does not exist");
        }
    }
}

#[actix_web::test]
async fn keys_with_dots_and_dollars_round_trip_and_values_are_untouched() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let data = json!({
            "metadata": {
                "name": "web",
                "labels": {"app.kubernetes.io/name": "web", "plain": "a.b$c"},
                "annotations": {"$ref": "#/x", "a.b.c": {"$d.e": [{"k.$": 1}]}}
            },
            "$ref": "top",
            "value": "full．width＄value and a.b$c",
            "list": ["x.y", "$z", {"in.array": "．"}]
        });
        for one in [
            format!("{}/Deployment/web", ns_base("c1", "ns1")),
            format!("{}/ClusterRole/web", cluster_base("c1")),
        ] {
            put_ok(&app, &one, data.clone()).await;
            let doc = get_doc(&app, &one).await;
            assert_eq!(doc["data"], data, "{b:?} {one}");
        }
        for items in [
            list(&app, &format!("{}/Deployment", ns_base("c1", "ns1"))).await,
            list(&app, &format!("{}/ClusterRole", all_base("c1"))).await,
        ] {
            assert_eq!(items.len(), 1, "{b:?}");
            assert_eq!(items[0]["data"], data, "{b:?}");
        }
        // A literal dot inside a key is written U+FF0E in a free-form filter path.
        let q = format!(
            "{}/Deployment?{}=web",
            ns_base("c1", "ns1"),
            enc("data.metadata.labels.app．kubernetes．io/name")
        );
        assert_eq!(names_of(&app, &q).await, strings(&["web"]), "{b:?}");
        let q = format!(
            "{}/Deployment?{}=other",
            ns_base("c1", "ns1"),
            enc("data.metadata.labels.app．kubernetes．io/name")
        );
        assert!(names_of(&app, &q).await.is_empty(), "{b:?}");
        // ... and in extra.
        let q = format!(
            "{}/Deployment?extra={}",
            ns_base("c1", "ns1"),
            extra(&json!({"data.metadata.annotations.＄ref": "#/x"}))
        );
        assert_eq!(names_of(&app, &q).await, strings(&["web"]), "{b:?}");
        // Values are compared as given: a value with U+FF0E is not a value with '.'.
        let q = format!(
            "{}/Deployment?extra={}",
            ns_base("c1", "ns1"),
            extra(&json!({"data.value": "full．width＄value and a.b$c"}))
        );
        assert_eq!(names_of(&app, &q).await, strings(&["web"]), "{b:?}");
        let q = format!(
            "{}/Deployment?extra={}",
            ns_base("c1", "ns1"),
            extra(&json!({"data.value": "full.width$value and a.b$c"}))
        );
        assert!(names_of(&app, &q).await.is_empty(), "{b:?}");
    }
}

#[actix_web::test]
async fn field_projects_documents() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let data = json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "tier": "fe"}},
            "spec": {"containers": [
                {"name": "a", "image": "nginx:1", "ports": [80]},
                {"name": "b", "image": "envoy:2"},
                {"name": "c"}
            ]}
        });
        let base = ns_base("c1", "ns1");
        put_ok(&app, &format!("{base}/Pod/web"), data.clone()).await;
        let full = get_doc(&app, &format!("{base}/Pod/web")).await;
        let id = full["_id"].clone();
        let cases: Vec<(String, Value)> = vec![
            (
                "resourceName".into(),
                json!({"_id": id, "resourceName": "web"}),
            ),
            // Repeated field keys add up.
            (
                "resourceName&field=namespace".into(),
                json!({"_id": id, "namespace": "ns1", "resourceName": "web"}),
            ),
            (
                "data,data.metadata".into(),
                json!({"_id": id, "data": data}),
            ),
            (
                "data.metadata,data".into(),
                json!({"_id": id, "data": data}),
            ),
            (
                "_id,createTime".into(),
                json!({"_id": id, "createTime": full["createTime"]}),
            ),
            (
                "data.metadata.name,resourceType".into(),
                json!({"_id": id, "resourceType": "Pod", "data": {"metadata": {"name": "web"}}}),
            ),
            (
                "data.spec.containers.image".into(),
                json!({"_id": id, "data": {"spec": {"containers": [
                    {"image": "nginx:1"}, {"image": "envoy:2"}, {}
                ]}}}),
            ),
            (
                enc("data.metadata.labels.app．kubernetes．io/name"),
                json!({"_id": id, "data": {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}}}),
            ),
            ("nothing.here".into(), json!({"_id": id})),
        ];
        for (field, want) in cases {
            let one = get_doc(&app, &format!("{base}/Pod/web?field={field}")).await;
            assert_eq!(Value::Object(one), want, "{b:?} GET one field={field}");
            for l in [
                format!("{base}/Pod?field={field}"),
                format!("{}/Pod?field={field}", cluster_base("c1")),
                format!("{}/Pod?field={field}", all_base("c1")),
            ] {
                let items = list(&app, &l).await;
                assert_eq!(items, vec![want.clone()], "{b:?} {l}");
            }
        }
        // A projection combines with filters.
        let items = list(
            &app,
            &format!("{base}/Pod?field=resourceName&resourceName=web&labelSelector=tier%3Dfe"),
        )
        .await;
        assert_eq!(
            items,
            vec![json!({"_id": id, "resourceName": "web"})],
            "{b:?}"
        );
    }
}

/// Documents p1..p4 in c1/ns1 (and noise) for filter tests.
async fn filter_fixture(app: &TestApp) {
    let base = ns_base("c1", "ns1");
    let docs = [
        (
            "p1",
            json!({"metadata": {"name": "p1", "labels": {"app": "nginx", "tier": "web", "app.kubernetes.io/name": "frontend"},
                   "annotations": {"note": "nginx?>"}},
                   "spec": {"replicas": 3, "ports": [80, 443]}}),
        ),
        (
            "p2",
            json!({"metadata": {"name": "p2", "labels": {"app": "redis", "tier": "db", "app.kubernetes.io/name": "cache"}},
                   "spec": {"replicas": "3", "ports": [6379]}}),
        ),
        (
            "p3",
            json!({"metadata": {"name": "p3", "labels": {"app": "nginx"}}, "spec": {"replicas": 5}}),
        ),
        ("p4", json!({"metadata": {"name": "p4"}, "spec": {}})),
    ];
    for (name, data) in docs {
        put_ok(app, &format!("{base}/Pod/{name}"), data).await;
    }
    put_ok(
        app,
        &format!("{}/Pod/p9", ns_base("c1", "ns2")),
        json!({"metadata": {"name": "p9", "labels": {"app": "nginx"}}}),
    )
    .await;
    put_ok(
        app,
        &format!("{}/Pod/p1", ns_base("c2", "ns1")),
        json!({"metadata": {"name": "p1", "labels": {"app": "nginx"}}}),
    )
    .await;
}

#[actix_web::test]
async fn extra_is_an_equality_filter_in_every_base64_flavour() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    for b in backends() {
        let app = TestApp::new(b).await;
        filter_fixture(&app).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        let cases = [
            (json!({"resourceName": "p2"}), vec!["p2"]),
            (
                json!({"data.metadata.labels.app": "nginx"}),
                vec!["p1", "p3"],
            ),
            (
                json!({"data.metadata.labels.app": "nginx", "resourceName": "p3"}),
                vec!["p3"],
            ),
            // Numbers equal numbers, not strings.
            (json!({"data.spec.replicas": 3}), vec!["p1"]),
            (json!({"data.spec.replicas": "3"}), vec!["p2"]),
            // Through arrays, as MongoDB.
            (json!({"data.spec.ports": 443}), vec!["p1"]),
            (json!({"data.metadata.labels.app": "none"}), vec![]),
            (json!({}), vec!["p1", "p2", "p3", "p4"]),
        ];
        for (cond, want) in cases {
            let uri = format!("{base}?extra={}", extra(&cond));
            assert_eq!(
                names_of(&app, &uri).await,
                strings(&want),
                "{b:?} extra={cond}"
            );
        }
        // Standard padded base64 with '+' and the URL-safe unpadded form agree.
        let cond = json!({"data.metadata.annotations.note": "nginx?>"}).to_string();
        let std = STANDARD.encode(&cond);
        let url = URL_SAFE_NO_PAD.encode(&cond);
        assert!(std.contains(['+', '/']) && std.ends_with('='), "{std}");
        assert_ne!(std.trim_end_matches('='), url);
        for e in [enc(&std), url.clone()] {
            let uri = format!("{base}?extra={e}");
            assert_eq!(
                names_of(&app, &uri).await,
                strings(&["p1"]),
                "{b:?} extra={e}"
            );
        }
        // extra on the cluster and all_resources lists and on a single GET.
        let e = extra(&json!({"data.metadata.labels.app": "nginx"}));
        for l in [
            format!("{}/Pod?extra={e}", cluster_base("c1")),
            format!("{}/Pod?extra={e}", all_base("c1")),
        ] {
            assert_eq!(
                names_of(&app, &l).await,
                strings(&["p1", "p3", "p9"]),
                "{b:?} {l}"
            );
        }
        get_doc(&app, &format!("{base}/p1?extra={e}")).await;
        app.get(&format!("{base}/p2?extra={e}"))
            .await
            .assert_err(404, 1_405_087, "does not exist");
    }
}

#[actix_web::test]
async fn free_form_parameters_filter_by_string_membership() {
    for b in backends() {
        let app = TestApp::new(b).await;
        filter_fixture(&app).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        let cases: [(&str, Vec<&str>); 9] = [
            ("resourceName=p1,p2", vec!["p1", "p2"]),
            ("resourceName=p1&resourceName=p2", vec![]),
            ("resourceName=p1,p2&resourceName=p2,p3", vec!["p2"]),
            ("data.metadata.labels.app=nginx", vec!["p1", "p3"]),
            (
                "data.metadata.labels.app=nginx,redis&data.metadata.labels.tier=db",
                vec!["p2"],
            ),
            // A number is not matched by its string form.
            ("data.spec.replicas=3", vec!["p2"]),
            ("data.spec.replicas=5", vec![]),
            ("data.metadata.name=p4", vec!["p4"]),
            ("data.nothing=x", vec![]),
        ];
        for (q, want) in cases {
            let uri = format!("{base}?{q}");
            assert_eq!(names_of(&app, &uri).await, strings(&want), "{b:?} {q}");
        }
        // Free-form namespace on the cluster and all_resources lists.
        for l in [
            format!("{}/Pod?namespace=ns2", cluster_base("c1")),
            format!("{}/Pod?namespace=ns2", all_base("c1")),
        ] {
            assert_eq!(names_of(&app, &l).await, strings(&["p9"]), "{b:?} {l}");
        }
        // On a single GET.
        get_doc(&app, &format!("{base}/p1?data.metadata.labels.app=nginx")).await;
        app.get(&format!("{base}/p2?data.metadata.labels.app=nginx"))
            .await
            .assert_err(404, 1_405_087, "does not exist");
    }
}

#[actix_web::test]
async fn label_selectors_follow_kubernetes_syntax() {
    for b in backends() {
        let app = TestApp::new(b).await;
        filter_fixture(&app).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        let cases: [(&str, Vec<&str>); 13] = [
            ("app=nginx", vec!["p1", "p3"]),
            ("app==nginx", vec!["p1", "p3"]),
            ("app!=nginx", vec!["p2", "p4"]),
            ("app in (nginx,redis)", vec!["p1", "p2", "p3"]),
            ("app in (redis, none)", vec!["p2"]),
            ("app notin (nginx)", vec!["p2", "p4"]),
            ("tier", vec!["p1", "p2"]),
            ("!tier", vec!["p3", "p4"]),
            ("app.kubernetes.io/name=frontend", vec!["p1"]),
            (
                "app.kubernetes.io/name in (frontend, cache)",
                vec!["p1", "p2"],
            ),
            ("app.kubernetes.io/name", vec!["p1", "p2"]),
            ("app=nginx,tier=web", vec!["p1"]),
            ("app=nginx,!tier", vec!["p3"]),
        ];
        for (sel, want) in cases {
            let uri = format!("{base}?labelSelector={}", enc(sel));
            assert_eq!(names_of(&app, &uri).await, strings(&want), "{b:?} {sel}");
        }
        let uri = format!("{}/Pod?labelSelector={}", all_base("c1"), enc("app=nginx"));
        assert_eq!(
            names_of(&app, &uri).await,
            strings(&["p1", "p3", "p9"]),
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn update_time_before_takes_unix_seconds_or_rfc3339() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        put_ok(&app, &format!("{base}/a"), json!({})).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        put_ok(&app, &format!("{base}/b"), json!({})).await;
        let a = get_doc(&app, &format!("{base}/a")).await;
        let bdoc = get_doc(&app, &format!("{base}/b")).await;
        let a_ms = millis(&a["updateTime"]);
        let b_ms = millis(&bdoc["updateTime"]);
        assert!(a_ms < b_ms);
        let q = |t: &str| format!("{base}?updateTimeBefore={}", enc(t));
        // RFC 3339: b's own updateTime is not before itself.
        let b_rfc = bdoc["updateTime"].as_str().unwrap_or("");
        assert_eq!(names_of(&app, &q(b_rfc)).await, strings(&["a"]), "{b:?}");
        let a_rfc = a["updateTime"].as_str().unwrap_or("");
        assert!(names_of(&app, &q(a_rfc)).await.is_empty(), "{b:?}");
        // RFC 3339 with an offset.
        let later = chrono::DateTime::from_timestamp_millis(b_ms + 3_600_000)
            .expect("time")
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
            .to_rfc3339();
        assert_eq!(
            names_of(&app, &q(&later)).await,
            strings(&["a", "b"]),
            "{b:?} {later}"
        );
        // Unix seconds.
        let a_sec = a_ms.div_euclid(1000);
        let b_sec = b_ms.div_euclid(1000);
        assert!(
            names_of(&app, &q(&a_sec.to_string())).await.is_empty(),
            "{b:?}"
        );
        assert_eq!(
            names_of(&app, &q(&(b_sec + 1).to_string())).await,
            strings(&["a", "b"]),
            "{b:?}"
        );
        assert!(names_of(&app, &q("1500000000")).await.is_empty(), "{b:?}");
    }
}

#[actix_web::test]
async fn limit_and_offset_page_in_ascending_name_order() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        for name in ["p3", "p0", "p6", "p1", "p5", "p2", "p4"] {
            put_ok(&app, &format!("{base}/{name}"), json!({"n": name})).await;
        }
        let mut seen = Vec::new();
        for (offset, want) in [(0, 3), (3, 3), (6, 1), (7, 0)] {
            let page = names(&list(&app, &format!("{base}?limit=3&offset={offset}")).await);
            assert_eq!(page.len(), want, "{b:?} offset {offset}: {page:?}");
            seen.extend(page);
        }
        assert_eq!(
            seen,
            strings(&["p0", "p1", "p2", "p3", "p4", "p5", "p6"]),
            "{b:?}"
        );
        // Without limit: everything, in the same order; the Go SDK's 200-per-page loop.
        assert_eq!(names(&list(&app, &base).await), seen, "{b:?}");
        let page = names(&list(&app, &format!("{base}?limit=200&offset=0")).await);
        assert_eq!(page, seen, "{b:?}");
        // Paging the cluster and all_resources lists too.
        for l in [
            format!("{}/Pod", cluster_base("c1")),
            format!("{}/Pod", all_base("c1")),
        ] {
            let page = names(&list(&app, &format!("{l}?offset=2&limit=2")).await);
            assert_eq!(page, strings(&["p2", "p3"]), "{b:?} {l}");
        }
        // Paging parameters are accepted (and harmless) on a single GET.
        get_doc(&app, &format!("{base}/p1?limit=1&offset=3")).await;
    }
}

#[actix_web::test]
async fn default_limit_is_configurable() {
    for b in backends() {
        let app = TestApp::with_settings(b, |s| s.query.default_limit = 5).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        for i in (0..7).rev() {
            put_ok(&app, &format!("{base}/p{i}"), json!({})).await;
        }
        let first5 = strings(&["p0", "p1", "p2", "p3", "p4"]);
        assert_eq!(names(&list(&app, &base).await), first5, "{b:?}");
        assert_eq!(
            names(&list(&app, &format!("{base}?limit=0")).await),
            first5,
            "{b:?}"
        );
        assert_eq!(
            names(&list(&app, &format!("{base}?offset=5")).await),
            strings(&["p5", "p6"]),
            "{b:?}"
        );
        // An explicit limit may exceed the default.
        assert_eq!(
            list(&app, &format!("{base}?limit=7")).await.len(),
            7,
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn limit_above_max_limit_is_refused() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        put_ok(&app, &format!("{base}/p1"), json!({})).await;
        // Above the 3000 default up to max_limit (50000) is fine.
        assert_eq!(list(&app, &format!("{base}?limit=50000")).await.len(), 1);
        assert_eq!(list(&app, &format!("{base}?limit=3001")).await.len(), 1);
        let r = app.get(&format!("{base}?limit=50001")).await;
        r.assert_err(400, 1_405_090, "limit");
        assert_eq!(r.data(), &json!([]), "{}", r.raw);
        let app = TestApp::with_settings(b, |s| {
            s.query.default_limit = 5;
            s.query.max_limit = 10;
        })
        .await;
        assert!(list(&app, &format!("{base}?limit=10")).await.is_empty());
        app.get(&format!("{base}?limit=11"))
            .await
            .assert_err(400, 1_405_090, "limit");
    }
}

#[actix_web::test]
async fn batch_delete_honours_the_time_window_from_body_or_query() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let (ns1, ns2) = (
            format!("{}/Pod", ns_base("c1", "ns1")),
            format!("{}/Pod", ns_base("c1", "ns2")),
        );
        for base in [&ns1, &ns2] {
            put_ok(&app, &format!("{base}/a"), json!({})).await;
            put_ok(&app, &format!("{base}/b"), json!({})).await;
        }
        let mut old_ms = Vec::new();
        for base in [&ns1, &ns2] {
            for n in ["a", "b"] {
                old_ms.push(millis(
                    &get_doc(&app, &format!("{base}/{n}")).await["updateTime"],
                ));
            }
        }
        let oldest = old_ms.iter().copied().min().unwrap_or(0);
        let newest = old_ms.iter().copied().max().unwrap_or(0);
        sleep_past_second_of(newest).await;
        for base in [&ns1, &ns2] {
            put_ok(&app, &format!("{base}/c"), json!({})).await;
        }
        let c_sec =
            millis(&get_doc(&app, &format!("{ns1}/c")).await["updateTime"]).div_euclid(1000);
        assert!(c_sec > newest.div_euclid(1000));
        let begin = oldest.div_euclid(1000) - 1;

        // A window after everything deletes nothing.
        let body = json!({"updateTimeBegin": c_sec + 10, "updateTimeEnd": c_sec + 20});
        let r = app
            .send("DELETE", &ns1, Some(body.to_string().as_bytes()))
            .await;
        assert_eq!(deleted(&r), 0, "{b:?} {}", r.raw);
        // Exclusive end at c's second: a and b go, c stays.
        let body = json!({"updateTimeBegin": begin, "updateTimeEnd": c_sec});
        let r = app
            .send("DELETE", &ns1, Some(body.to_string().as_bytes()))
            .await;
        assert_eq!(deleted(&r), 2, "{b:?} {}", r.raw);
        assert!(r.raw.contains("\"total\":2"), "{}", r.raw);
        assert_eq!(names_of(&app, &ns1).await, strings(&["c"]), "{b:?}");
        // The same window as query parameters (V0.9.0 document).
        let r = app
            .delete(&format!(
                "{ns2}?updateTimeBegin={begin}&updateTimeEnd={c_sec}"
            ))
            .await;
        assert_eq!(deleted(&r), 2, "{b:?} {}", r.raw);
        assert_eq!(names_of(&app, &ns2).await, strings(&["c"]), "{b:?}");
        // Only a begin: everything after it (the c documents), as strings in the body too.
        let body = json!({"updateTimeBegin": (c_sec - 1).to_string()});
        let r = app
            .send("DELETE", &ns1, Some(body.to_string().as_bytes()))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        // Zero means unset: this empties ns2.
        let body = json!({"updateTimeBegin": 0, "updateTimeEnd": 0});
        let r = app
            .send("DELETE", &ns2, Some(body.to_string().as_bytes()))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        assert!(list(&app, &ns1).await.is_empty());
        assert!(list(&app, &ns2).await.is_empty());
    }
}

#[actix_web::test]
async fn batch_delete_on_the_cluster_route_filters_by_query_parameters() {
    for b in backends() {
        let app = TestApp::new(b).await;
        put_ok(
            &app,
            &format!("{}/Pod/a", ns_base("c1", "ns1")),
            json!({"k": 1}),
        )
        .await;
        put_ok(
            &app,
            &format!("{}/Pod/a2", ns_base("c1", "ns1")),
            json!({"k": 2}),
        )
        .await;
        put_ok(
            &app,
            &format!("{}/Pod/b", ns_base("c1", "ns2")),
            json!({"k": 1}),
        )
        .await;
        put_ok(
            &app,
            &format!("{}/Pod/c", cluster_base("c1")),
            json!({"k": 1}),
        )
        .await;
        put_ok(&app, &format!("{}/Pod/z", ns_base("c2", "ns1")), json!({})).await;
        put_ok(
            &app,
            &format!("{}/Service/s", ns_base("c1", "ns1")),
            json!({}),
        )
        .await;
        let cl = format!("{}/Pod", cluster_base("c1"));
        let r = app.delete(&format!("{cl}?namespace=ns1")).await;
        assert_eq!(deleted(&r), 2, "{b:?} {}", r.raw);
        assert_eq!(names_of(&app, &cl).await, strings(&["b", "c"]), "{b:?}");
        // extra and labelSelector filter a batch delete too.
        let r = app
            .delete(&format!(
                "{cl}?extra={}",
                extra(&json!({"resourceName": "c"}))
            ))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        assert_eq!(names_of(&app, &cl).await, strings(&["b"]), "{b:?}");
        // No filter: every document of that type in the cluster, namespaced or not.
        put_ok(&app, &format!("{}/Pod/c", cluster_base("c1")), json!({})).await;
        let r = app.delete(&cl).await;
        assert_eq!(deleted(&r), 2, "{b:?} {}", r.raw);
        assert!(list(&app, &cl).await.is_empty());
        // Other cluster and other type untouched.
        assert_eq!(
            names_of(&app, &format!("{}/Pod", all_base("c2"))).await,
            strings(&["z"])
        );
        assert_eq!(
            names_of(&app, &format!("{}/Service", all_base("c1"))).await,
            strings(&["s"])
        );
        // all_resources batch delete under the V1 prefix.
        let r = app
            .delete(&format!(
                "{}/Pod?labelSelector={}",
                all_url(V1, "mesos", "c2"),
                enc("!x")
            ))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        assert!(
            list(&app, &format!("{}/Pod", all_base("c2")))
                .await
                .is_empty()
        );
    }
}

#[actix_web::test]
async fn batch_delete_without_a_body_empties_the_namespace() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let ns1 = format!("{}/Pod", ns_base("c1", "ns1"));
        for n in ["a", "b", "c"] {
            put_ok(&app, &format!("{ns1}/{n}"), json!({})).await;
        }
        put_ok(&app, &format!("{}/Pod/d", ns_base("c1", "ns2")), json!({})).await;
        put_ok(&app, &format!("{}/Pod/e", cluster_base("c1")), json!({})).await;
        put_ok(
            &app,
            &format!("{}/Service/a", ns_base("c1", "ns1")),
            json!({}),
        )
        .await;
        put_ok(&app, &format!("{}/Pod/a", ns_base("c2", "ns1")), json!({})).await;
        for (uri, body) in [
            (ns1.clone(), None),
            (ns1.replacen(V4, V1, 1), Some(&b"  "[..])),
        ] {
            let r = app.send("DELETE", &uri, body).await;
            let want = if body.is_none() { 3 } else { 0 };
            assert_eq!(deleted(&r), want, "{b:?} {}", r.raw);
            assert!(r.raw.contains(&format!("\"total\":{want}")), "{}", r.raw);
            assert!(r.content_type.starts_with("application/json"));
        }
        let body = json!({});
        put_ok(&app, &format!("{ns1}/x"), json!({})).await;
        let r = app
            .send("DELETE", &ns1, Some(body.to_string().as_bytes()))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        assert!(list(&app, &ns1).await.is_empty());
        assert_eq!(
            names_of(&app, &format!("{}/Pod", all_base("c1"))).await,
            strings(&["d", "e"]),
            "{b:?}"
        );
        assert_eq!(
            names_of(&app, &format!("{}/Service", all_base("c1"))).await,
            strings(&["a"])
        );
        assert_eq!(
            names_of(&app, &format!("{}/Pod", all_base("c2"))).await,
            strings(&["a"])
        );
    }
}

#[actix_web::test]
async fn an_empty_list_is_an_empty_array() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for uri in [
            format!("{}/Pod", ns_base("c1", "ns1")),
            format!("{}/Pod", cluster_base("c1")),
            format!("{}/Pod", all_url(V1, "mesos", "c1")),
            format!("{}/Pod?resourceName=none", ns_base("c1", "ns1")),
        ] {
            let r = app.get(&uri).await;
            r.assert_ok();
            assert_eq!(r.data(), &json!([]), "{b:?} {uri}");
            assert!(r.raw.replace(' ', "").contains("\"data\":[]"), "{}", r.raw);
            assert!(
                r.content_type.starts_with("application/json"),
                "{}",
                r.content_type
            );
        }
    }
}

#[actix_web::test]
async fn every_reply_is_json() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let one = format!("{}/Pod/p1", ns_base("c1", "ns1"));
        let l = format!("{}/Pod", ns_base("c1", "ns1"));
        let replies = vec![
            app.put_json(&one, &json!({"data": {"a": 1}})).await,
            app.get(&one).await,
            app.get(&l).await,
            app.get(&format!("{}/Pod", cluster_base("c1"))).await,
            app.get(&format!("{}/Pod", all_base("c1"))).await,
            app.delete(&one).await,
            app.get(&one).await,
            app.delete(&l).await,
            app.get(&format!("{l}?limit=abc")).await,
            app.put_json(&one, &json!([1])).await,
            app.send("POST", &one, Some(b"{}")).await,
            app.get("/no/such/route").await,
            app.get("/healthz").await,
            app.get("/readyz").await,
        ];
        for r in replies {
            assert!(
                r.content_type.starts_with("application/json"),
                "{b:?}: {} {}",
                r.content_type,
                r.raw
            );
            let obj = r
                .body
                .as_object()
                .unwrap_or_else(|| panic!("not an envelope: {}", r.raw));
            for k in ["result", "code", "message", "data"] {
                assert!(obj.contains_key(k), "{b:?}: no {k} in {}", r.raw);
            }
        }
    }
}

#[actix_web::test]
async fn health_probes_answer_200() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for p in ["/healthz", "/readyz"] {
            let r = app.get(p).await;
            r.assert_ok();
            assert!(r.content_type.starts_with("application/json"));
        }
        // Readiness says which zone naive times are read in, and whether
        // stored instants are being derived again.
        let r = app.get("/readyz").await;
        assert_eq!(
            r.data()["timeZone"],
            json!({"zone": "UTC", "rederiving": false, "filled": 0, "rederived": 0}),
            "{}",
            r.raw
        );
        // Probes live at the root only.
        app.get(&format!("{V4}/healthz"))
            .await
            .assert_err(404, 1_405_093, "healthz");
    }
}

#[actix_web::test]
async fn user_data_shaped_like_a_stored_instant_round_trips() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let one = format!("{}/ConfigMap/dates", ns_base("c1", "ns1"));
        let data = json!({"t": {"$date": 1_500_000_000_000i64}, "l": [{"$date": 5}]});
        put_ok(&app, &one, data.clone()).await;
        let doc = get_doc(&app, &one).await;
        assert_eq!(doc["data"], data, "{b:?}: user data rewritten on read");
        let items = list(&app, &format!("{}/ConfigMap", ns_base("c1", "ns1"))).await;
        assert_eq!(
            items[0]["data"], data,
            "{b:?}: user data rewritten in a list"
        );
        // A whole data value of that shape too.
        put_ok(&app, &one, json!({"$date": 7})).await;
        assert_eq!(
            get_doc(&app, &one).await["data"],
            json!({"$date": 7}),
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn paging_over_cluster_and_namespaced_documents_is_stable() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let puts = [
            format!("{}/Pod/m", ns_base("c1", "ns2")),
            format!("{}/Pod/z", cluster_base("c1")),
            format!("{}/Pod/b", ns_base("c1", "ns1")),
            format!("{}/Pod/a", cluster_base("c1")),
            format!("{}/Pod/a", ns_base("c1", "ns2")),
            format!("{}/Pod/c", ns_base("c1", "ns1")),
            format!("{}/Pod/a", ns_base("c1", "ns1")),
        ];
        for p in &puts {
            put_ok(&app, p, json!({})).await;
        }
        // Ascending natural key: cluster documents (no namespace) first.
        let key = |d: &Value| {
            format!(
                "{}/{}",
                d["namespace"].as_str().unwrap_or("-"),
                d["resourceName"].as_str().unwrap_or("?")
            )
        };
        let want = ["-/a", "-/z", "ns1/a", "ns1/b", "ns1/c", "ns2/a", "ns2/m"];
        for l in [
            format!("{}/Pod", cluster_base("c1")),
            format!("{}/Pod", all_base("c1")),
        ] {
            let full: Vec<String> = list(&app, &l).await.iter().map(key).collect();
            assert_eq!(full, strings(&want), "{b:?} {l}");
            let mut paged = Vec::new();
            for offset in (0..8).step_by(2) {
                let page = list(&app, &format!("{l}?limit=2&offset={offset}")).await;
                assert!(page.len() <= 2);
                paged.extend(page.iter().map(key));
            }
            assert_eq!(paged, full, "{b:?} {l}");
        }
        // An offset past the end, however large, is an empty page (or a 400), never a 5xx.
        for offset in ["100", "9223372036854775807", "18446744073709551615"] {
            let r = app
                .get(&format!("{}/Pod?offset={offset}", all_base("c1")))
                .await;
            if r.status == 200 {
                r.assert_ok();
                assert_eq!(r.data(), &json!([]), "{b:?} offset {offset}");
            } else {
                r.assert_err(400, 1_405_090, "offset");
            }
        }
    }
}

#[actix_web::test]
async fn filtered_deletes_only_delete_matches() {
    for b in backends() {
        let app = TestApp::new(b).await;
        filter_fixture(&app).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        // A single DELETE whose filter does not match deletes nothing (and succeeds).
        app.delete(&format!("{base}/p2?data.metadata.labels.app=nginx"))
            .await
            .assert_ok();
        get_doc(&app, &format!("{base}/p2")).await;
        app.delete(&format!("{base}/p1?data.metadata.labels.app=nginx"))
            .await
            .assert_ok();
        app.get(&format!("{base}/p1"))
            .await
            .assert_err(404, 1_405_087, "does not exist");
        // Batch delete with a label selector.
        let r = app
            .delete(&format!("{base}?labelSelector={}", enc("app in (redis)")))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        assert_eq!(names_of(&app, &base).await, strings(&["p3", "p4"]), "{b:?}");
        // Batch delete with updateTimeBefore: p4 is rewritten a few
        // milliseconds after p3 so their update times differ.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        put_ok(
            &app,
            &format!("{base}/p4"),
            json!({"metadata": {"name": "p4"}, "spec": {}}),
        )
        .await;
        let p4 = get_doc(&app, &format!("{base}/p4")).await;
        let r = app
            .delete(&format!(
                "{base}?updateTimeBefore={}",
                enc(p4["updateTime"].as_str().unwrap_or(""))
            ))
            .await;
        assert_eq!(deleted(&r), 1, "{b:?} {}", r.raw);
        assert_eq!(names_of(&app, &base).await, strings(&["p4"]), "{b:?}");
        // Nothing outside the path was touched.
        assert_eq!(
            names_of(&app, &format!("{}/Pod", all_base("c1"))).await,
            strings(&["p4", "p9"]),
            "{b:?}"
        );
        assert_eq!(
            names_of(&app, &format!("{}/Pod", all_base("c2"))).await,
            strings(&["p1"])
        );
    }
}

/// Stores one document whose `data` has a key for each of `keys`, then checks
/// that a free-form filter, an `extra` filter and a `field` projection on each
/// key find exactly that document; returns what went wrong.
async fn odd_key_failures(app: &TestApp, keys: &[&str]) -> Vec<String> {
    let base = format!("{}/Pod", ns_base("c1", "ns1"));
    let mut data = Map::new();
    for (i, k) in keys.iter().enumerate() {
        data.insert((*k).to_owned(), json!(format!("v{i}")));
    }
    let data = Value::Object(data);
    put_ok(app, &format!("{base}/odd"), data.clone()).await;
    put_ok(app, &format!("{base}/plain"), json!({"x": 1})).await;
    let doc = get_doc(app, &format!("{base}/odd")).await;
    let mut failures = Vec::new();
    if doc["data"] != data {
        failures.push(format!("stored data came back as {}", doc["data"]));
    }
    for (i, k) in keys.iter().enumerate() {
        // In filter paths a literal '.' or '$' in a key is written in its stored form.
        let path = format!("data.{}", k.replace('.', "．").replace('$', "＄"));
        let v = format!("v{i}");
        let checks = [
            (
                "free-form filter",
                format!("{base}?{}={}", enc(&path), enc(&v)),
                json!(["odd"]),
            ),
            (
                "free-form filter (wrong value)",
                format!("{base}?{}=nope", enc(&path)),
                json!([]),
            ),
            (
                "extra",
                format!("{base}?extra={}", extra(&json!({ path.clone(): v }))),
                json!(["odd"]),
            ),
        ];
        for (what, uri, want) in checks {
            let r = app.get(&uri).await;
            let got = r.data().as_array().map(|a| json!(names(a)));
            if r.status != 200 || got.as_ref() != Some(&want) {
                failures.push(format!("{what} on key {k:?}: {} {}", r.status, r.raw));
            }
        }
        // `field` lists are comma-separated, so a key with ',' cannot be named.
        if !k.contains(',') {
            let r = app.get(&format!("{base}/odd?field={}", enc(&path))).await;
            if r.status != 200 || r.data() != &json!({"_id": doc["_id"], "data": { (*k): v }}) {
                failures.push(format!("field on key {k:?}: {} {}", r.status, r.raw));
            }
        }
    }
    failures
}

#[actix_web::test]
async fn odd_keys_filter_and_project_exactly() {
    let keys = [
        "a'b",
        "a\"b",
        "a[0]",
        "a b",
        "*",
        "a]b",
        "0",
        "ü",
        "a/b",
        "a-b",
        "a:b",
        "#",
        "%",
        "a,b",
        "'",
        "\"",
        "a=b",
        "a&b",
        "a+b",
        "$",
        "a.b",
        "a$b",
        "a\tb",
        "a\nb",
        "a\u{1}b",
        "a\u{7f}b",
        "a/\"b\\",
        "'); DROP TABLE docs; --",
    ];
    for b in backends() {
        let app = TestApp::new(b).await;
        let failures = odd_key_failures(&app, &keys).await;
        assert!(failures.is_empty(), "{b:?}: {failures:#?}");
    }
}

#[actix_web::test]
async fn keys_with_backslashes_filter_exactly() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let failures = odd_key_failures(&app, &["a\\b", "\\", "C:\\dir\\"]).await;
        assert!(failures.is_empty(), "{b:?}: {failures:#?}");
    }
}

#[actix_web::test]
async fn odd_values_filter_exactly() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        let data = json!({
            "s1": "{not json", "s2": "[1]", "s3": "it's", "s4": "C:\\dir\\n",
            "s5": "tab\there \"quoted\" \u{1}", "arr": [1], "num": 3, "t": true, "n": null
        });
        put_ok(&app, &format!("{base}/odd"), data.clone()).await;
        put_ok(&app, &format!("{base}/plain"), json!({"x": 1})).await;
        let cases: [(Value, Vec<&str>); 13] = [
            (json!({"data.s1": "{not json"}), vec!["odd"]),
            (json!({"data.s2": "[1]"}), vec!["odd"]),
            (json!({"data.arr": "[1]"}), vec![]),
            (json!({"data.arr": [1]}), vec!["odd"]),
            (json!({"data.arr": 1}), vec!["odd"]),
            (json!({"data.s3": "it's"}), vec!["odd"]),
            (json!({"data.s4": "C:\\dir\\n"}), vec!["odd"]),
            (
                json!({"data.s5": "tab\there \"quoted\" \u{1}"}),
                vec!["odd"],
            ),
            (json!({"data.t": true}), vec!["odd"]),
            (json!({"data.t": 1}), vec![]),
            (json!({"data.num": 3.0}), vec!["odd"]),
            (json!({"data.num": true}), vec![]),
            // null matches null and missing, as MongoDB.
            (json!({"data.n": null}), vec!["odd", "plain"]),
        ];
        for (cond, want) in cases {
            let uri = format!("{base}?extra={}", extra(&cond));
            assert_eq!(
                names_of(&app, &uri).await,
                strings(&want),
                "{b:?} extra {cond}"
            );
        }
        for (q, want) in [
            ("data.s1=%7Bnot%20json", vec!["odd"]),
            ("data.s2=%5B1%5D", vec!["odd"]),
            ("data.arr=%5B1%5D", vec![]),
            ("data.arr=1", vec![]),
            ("data.t=true", vec![]),
            ("data.n=null", vec![]),
            ("data.s3=it%27s", vec!["odd"]),
            ("data.s4=C%3A%5Cdir%5Cn", vec!["odd"]),
        ] {
            let uri = format!("{base}?{q}");
            assert_eq!(names_of(&app, &uri).await, strings(&want), "{b:?} {q}");
        }
    }
}

#[actix_web::test]
async fn numbers_and_unicode_round_trip() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let one = format!("{}/ConfigMap/nums", ns_base("c1", "ns1"));
        let data = json!({
            "i64max": i64::MAX, "i64min": i64::MIN, "zero": 0,
            "f": 0.1, "big": 1e300, "small": -2.5e-300, "whole": 1.0, "neg": -7,
            "s": "日本語 🚀 \u{7f} \u{1} ＄．", "empty": "", "eo": {}, "ea": [], "nul": null
        });
        put_ok(&app, &one, data.clone()).await;
        let doc = get_doc(&app, &one).await;
        for (k, v) in data.as_object().expect("object") {
            let got = &doc["data"][k];
            let same = match (v.as_f64(), got.as_f64()) {
                (Some(x), Some(y)) if !v.is_u64() && !v.is_i64() => x == y,
                _ => got == v,
            };
            assert!(same, "{b:?} {k}: sent {v}, got {got}");
        }
        assert_eq!(doc["data"]["i64max"], json!(i64::MAX), "{b:?}");
        // Big integers compare exactly in filters.
        let uri = format!(
            "{}/ConfigMap?extra={}",
            ns_base("c1", "ns1"),
            extra(&json!({"data.i64max": i64::MAX}))
        );
        assert_eq!(names_of(&app, &uri).await, strings(&["nums"]), "{b:?}");
        let uri = format!(
            "{}/ConfigMap?extra={}",
            ns_base("c1", "ns1"),
            extra(&json!({"data.i64max": i64::MAX - 1}))
        );
        assert!(names_of(&app, &uri).await.is_empty(), "{b:?}");
    }
}

#[actix_web::test]
async fn concurrent_puts_of_one_key_leave_one_document() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let base = format!("{}/Pod", ns_base("c1", "ns1"));
        let one = format!("{base}/race");
        let app = &app;
        let one = &one;
        let replies = futures::future::join_all(
            (0..20).map(|i| async move { app.put_json(one, &json!({"data": {"i": i}})).await }),
        )
        .await;
        for r in &replies {
            if r.status != 200 {
                // A lost race may only be reported as a conflict to retry.
                r.assert_err(409, 1_405_095, "retry");
            }
        }
        assert!(replies.iter().any(|r| r.status == 200), "{b:?}");
        let items = list(app, &base).await;
        assert_eq!(names(&items), strings(&["race"]), "{b:?}: {items:?}");
        let i = items[0]["data"]["i"].as_i64().unwrap_or(-1);
        assert!((0..20).contains(&i), "{b:?}: {items:?}");
        // Distinct keys written at once all land.
        let base_ref = &base;
        let replies = futures::future::join_all((0..30).map(|i| async move {
            let uri = format!("{base_ref}/k{i:02}");
            app.put_json(&uri, &json!({"data": {"i": i}})).await
        }))
        .await;
        for r in &replies {
            r.assert_ok();
        }
        assert_eq!(list(app, &base).await.len(), 31, "{b:?}");
    }
}

/// The multi-cluster list bounds the stored instants with time strings
/// (the console's "updated within"): a string compares as the instant it
/// names, where MongoDB alone would compare a string with a date and match
/// nothing.
#[actix_web::test]
async fn multicluster_lists_bound_update_times_with_time_strings() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for name in ["p1", "p2"] {
            app.put_json(
                &format!("{}/Pod/{name}", ns_base("C1", "ns1")),
                &json!({"data": {}}),
            )
            .await
            .assert_ok();
        }
        let hour = chrono::Duration::hours(1);
        let at = |d: chrono::Duration| (chrono::Utc::now() + d).to_rfc3339();
        let url = format!("{V4}/k8s/dynamic/multicluster_resources/Pod");
        let list = |op: &str, time: String| {
            json!({"clusteredNamespaces": [{"clusterId": "C1", "namespaces": null}],
                   "conditions": [{"Op": op, "Value": {"updateTime": time}}]})
        };
        for (op, time, want) in [
            ("gte", at(-hour), 2),
            ("gte", at(hour), 0),
            ("lt", at(hour), 2),
            ("lt", "2000-01-01T00:00:00Z".to_owned(), 0),
            ("gt", "946684800".to_owned(), 2),
        ] {
            let r = app.send_json("POST", &url, &list(op, time.clone())).await;
            r.assert_ok();
            assert_eq!(r.body["total"], want, "{b:?} {op} {time}: {}", r.raw);
        }
        app.send_json("POST", &url, &list("gte", "an hour ago".into()))
            .await
            .assert_err(400, 1_405_090, "needs a time");
    }
}
