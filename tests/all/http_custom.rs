//! HTTP tests of the multi-cluster list and the custom-resource routes
//! (contract sections 1, 5, 10, 11; reference B.1 #13-18, C.6 and H items
//! 39-44):
//!
//! - `POST {prefix}/k8s/dynamic/multicluster_resources/{resourceType}`
//! - `GET|PUT|DELETE {prefix}/dynamic/customresources/{resourceType}`
//! - `PUT|DELETE {prefix}/dynamic/customresources/{resourceType}/index/{indexName}`
//!
//! Where creation times matter, documents are written through an app whose
//! clock is fixed ([`send_at`]), over the same store as the app under test, so
//! that orders and rendered instants are exact and no test depends on timing.

use std::sync::Arc;

use actix_web::test;
use bcs_storage::api::{HttpSettings, create_app};
use bcs_storage::domain::Service;
use chrono::DateTime;
use serde_json::{Value, json};

use crate::common::{FixedClock, Reply, TestApp, V1, V4, backends, cluster_base, extra, ns_base};

const PREFIXES: [&str; 2] = [V1, V4];

/// 2023-11-14T22:13:20.000Z: the base instant of the fixed clocks.
const T0: i64 = 1_700_000_000_000;

const BAD_BODY: i64 = 1_405_080;
const NOT_EXIST: i64 = 1_405_087;
const ROUTE_NOT_FOUND: i64 = 1_405_093;
const BAD_PARAM: i64 = 1_405_090;
const METHOD_NOT_ALLOWED: i64 = 1_405_094;
const CONFLICT: i64 = 1_405_095;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn mc_url(prefix: &str, rtype: &str) -> String {
    format!("{prefix}/k8s/dynamic/multicluster_resources/{rtype}")
}

fn cr_url(prefix: &str, rtype: &str) -> String {
    format!("{prefix}/dynamic/customresources/{rtype}")
}

fn idx_url(prefix: &str, rtype: &str, name: &str) -> String {
    format!("{prefix}/dynamic/customresources/{rtype}/index/{name}")
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// How an instant in unix milliseconds is rendered.
fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .expect("valid instant")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn is_object_id(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 24 && s.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// Sends a request through an app over `app`'s store whose clock reads
/// `at_ms` (unix milliseconds).
async fn send_at(app: &TestApp, at_ms: i64, method: &str, uri: &str, body: &[u8]) -> Reply {
    let svc = Service {
        store: app.store.store.clone(),
        clock: Arc::new(FixedClock(
            DateTime::from_timestamp_millis(at_ms).expect("valid instant"),
        )),
        limits: app.store.settings.query.clone(),
        watch: app.store.hub.clone(),
        times: app.store.service().times,
    };
    let http = HttpSettings {
        max_body_bytes: app.store.settings.server.max_body_bytes,
        always_http_200: false,
        tokens: None,
        request_timeout: std::time::Duration::from_secs(60),
    };
    let srv = test::init_service(create_app(svc, http)).await;
    let req = test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri)
        .set_payload(body.to_vec())
        .to_request();
    let res = test::call_service(&srv, req).await;
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = test::read_body(res).await;
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        raw,
        content_type,
    }
}

/// Asserts a success envelope with `data: null`.
#[track_caller]
fn assert_ok_null(r: &Reply, ctx: &str) {
    assert_eq!(r.status, 200, "{ctx}: {}", r.raw);
    r.assert_ok();
    assert_eq!(r.data(), &Value::Null, "{ctx}: {}", r.raw);
}

/// Dynamic PUT of `{"data": data}` at a fixed instant; `ns: None` is a
/// cluster-scoped resource.
async fn dyn_put_at(
    app: &TestApp,
    at_ms: i64,
    cluster: &str,
    ns: Option<&str>,
    rtype: &str,
    name: &str,
    data: Value,
) {
    let uri = match ns {
        Some(ns) => format!("{}/{rtype}/{name}", ns_base(cluster, ns)),
        None => format!("{}/{rtype}/{name}", cluster_base(cluster)),
    };
    let body = json!({ "data": data }).to_string();
    let r = send_at(app, at_ms, "PUT", &uri, body.as_bytes()).await;
    assert_ok_null(&r, &format!("PUT {uri}"));
}

/// A page of a list reply: items, `total`, `pageSize`, `offset`.
#[derive(Debug)]
struct Page {
    items: Vec<Value>,
    total: u64,
    page_size: u64,
    offset: u64,
}

/// The page of a successful list reply (array data plus the three keys).
#[track_caller]
fn page_of(r: &Reply, ctx: &str) -> Page {
    assert_eq!(r.status, 200, "{ctx}: {}", r.raw);
    assert!(r.result(), "{ctx}: {}", r.raw);
    assert_eq!(r.code(), 0, "{ctx}: {}", r.raw);
    assert_eq!(r.message(), "success", "{ctx}: {}", r.raw);
    assert!(
        r.content_type.starts_with("application/json"),
        "{ctx}: {}",
        r.content_type
    );
    for f in ["_bcsTimes", "_isBcsObjectDeleted"] {
        assert!(!r.raw.contains(f), "{ctx}: reply leaks {f}: {}", r.raw);
    }
    let num = |k: &str| {
        r.body[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{ctx}: no numeric {k}: {}", r.raw))
    };
    Page {
        items: r
            .data()
            .as_array()
            .unwrap_or_else(|| panic!("{ctx}: data is not an array: {}", r.raw))
            .clone(),
        total: num("total"),
        page_size: num("pageSize"),
        offset: num("offset"),
    }
}

/// `field` of every item, in reply order.
fn values_of(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|d| d[field].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

// --- multicluster -----------------------------------------------------------

async fn mc_post(app: &TestApp, prefix: &str, rtype: &str, body: &[u8]) -> Reply {
    app.send("POST", &mc_url(prefix, rtype), Some(body)).await
}

/// POSTs `body` and returns the page.
async fn mc_page(app: &TestApp, prefix: &str, rtype: &str, body: &Value) -> Page {
    let r = mc_post(app, prefix, rtype, body.to_string().as_bytes()).await;
    page_of(&r, &format!("POST {} {body}", mc_url(prefix, rtype)))
}

/// Resource names of a multicluster POST (both prefixes agree).
async fn mc_names(app: &TestApp, body: &Value) -> Vec<String> {
    let mut seen = Vec::new();
    for prefix in PREFIXES {
        let page = mc_page(app, prefix, "Pod", body).await;
        assert_eq!(
            page.total as usize,
            page.items.len(),
            "total of an unpaged list, {body}"
        );
        seen.push(values_of(&page.items, "resourceName"));
    }
    assert_eq!(seen[0], seen[1], "the prefixes disagree for {body}");
    seen.swap_remove(0)
}

/// The scope most multicluster tests use: all of C1, and C2's ns1.
fn scope() -> Value {
    json!([{"clusterId": "C1"}, {"clusterId": "C2", "namespaces": ["ns1"]}])
}

/// `{"clusteredNamespaces": scope(), "conditions": conds}`
fn with_conditions(conds: Value) -> Value {
    json!({"clusteredNamespaces": scope(), "conditions": conds})
}

/// Pods (and one Deployment) with known creation instants. Insertion order
/// (a b c d e k), creation order (d b k a c e) and natural-key order
/// (k a b c d e) all differ. In `scope()`, newest first: c a k b.
async fn seed_pods(app: &TestApp) {
    let pod = |name: &str, labels: Value, n: i64, s: &str| json!({"metadata": {"name": name, "labels": labels}, "n": n, "s": s});
    dyn_put_at(
        app,
        T0 + 40,
        "C1",
        Some("ns1"),
        "Pod",
        "a",
        pod(
            "a",
            json!({"app": "web", "tier": "fe", "app.kubernetes.io/name": "shop"}),
            1,
            "alpha",
        ),
    )
    .await;
    dyn_put_at(
        app,
        T0 + 20,
        "C1",
        Some("ns2"),
        "Pod",
        "b",
        pod("b", json!({"app": "db"}), 2, "beta"),
    )
    .await;
    let mut c = pod("c", json!({"app": "web"}), 3, "gamma");
    c["opt"] = json!(true);
    dyn_put_at(app, T0 + 50, "C2", Some("ns1"), "Pod", "c", c).await;
    dyn_put_at(
        app,
        T0 + 10,
        "C2",
        Some("ns3"),
        "Pod",
        "d",
        pod("d", json!({"app": "web"}), 4, "delta"),
    )
    .await;
    dyn_put_at(
        app,
        T0 + 60,
        "C3",
        Some("ns1"),
        "Pod",
        "e",
        pod("e", json!({"app": "web"}), 5, "epsilon"),
    )
    .await;
    dyn_put_at(
        app,
        T0 + 30,
        "C1",
        None,
        "Pod",
        "k",
        json!({"metadata": {"name": "k"}, "n": 6, "s": "kappa"}),
    )
    .await;
    // Another type: never in a Pod list.
    dyn_put_at(
        app,
        T0 + 70,
        "C1",
        Some("ns1"),
        "Deployment",
        "a",
        json!({"n": 1}),
    )
    .await;
}

// --- custom resources --------------------------------------------------------

async fn cr_put(app: &TestApp, prefix: &str, rtype: &str, doc: &Value) -> Reply {
    app.put_json(&cr_url(prefix, rtype), doc).await
}

async fn cr_put_ok(app: &TestApp, prefix: &str, rtype: &str, doc: &Value) {
    let r = cr_put(app, prefix, rtype, doc).await;
    assert_ok_null(&r, &format!("PUT {} {doc}", cr_url(prefix, rtype)));
}

async fn cr_put_at(app: &TestApp, at_ms: i64, rtype: &str, doc: &Value) -> Reply {
    send_at(
        app,
        at_ms,
        "PUT",
        &cr_url(V1, rtype),
        doc.to_string().as_bytes(),
    )
    .await
}

async fn cr_put_at_ok(app: &TestApp, at_ms: i64, rtype: &str, doc: &Value) {
    let r = cr_put_at(app, at_ms, rtype, doc).await;
    assert_ok_null(&r, &format!("PUT {rtype} {doc} at {at_ms}"));
}

/// GET `{prefix}/dynamic/customresources/{rtype}?{q}`.
async fn cr_get(app: &TestApp, prefix: &str, rtype: &str, q: &str) -> Reply {
    let uri = if q.is_empty() {
        cr_url(prefix, rtype)
    } else {
        format!("{}?{q}", cr_url(prefix, rtype))
    };
    app.get(&uri).await
}

async fn cr_page(app: &TestApp, prefix: &str, rtype: &str, q: &str) -> Page {
    let r = cr_get(app, prefix, rtype, q).await;
    page_of(&r, &format!("GET {}?{q}", cr_url(prefix, rtype)))
}

/// Every live document of a custom collection, in `_id` order.
async fn cr_all(app: &TestApp, rtype: &str) -> Vec<Value> {
    let page = cr_page(app, V4, rtype, "").await;
    assert_eq!(page.total as usize, page.items.len());
    page.items
}

/// The `name` of every item of GET `?{q}`, the same on both prefixes.
async fn cr_names(app: &TestApp, rtype: &str, q: &str) -> Vec<String> {
    let a = values_of(&cr_page(app, V1, rtype, q).await.items, "name");
    let b = values_of(&cr_page(app, V4, rtype, q).await.items, "name");
    assert_eq!(a, b, "the prefixes disagree for {rtype}?{q}");
    a
}

async fn cr_delete(app: &TestApp, prefix: &str, rtype: &str, q: &str) -> Reply {
    let uri = if q.is_empty() {
        cr_url(prefix, rtype)
    } else {
        format!("{}?{q}", cr_url(prefix, rtype))
    };
    app.delete(&uri).await
}

/// DELETE with a query; asserts success and returns the deleted count.
async fn cr_delete_ok(app: &TestApp, prefix: &str, rtype: &str, q: &str) -> u64 {
    let r = cr_delete(app, prefix, rtype, q).await;
    assert_ok_null(&r, &format!("DELETE {rtype}?{q}"));
    r.body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("DELETE {rtype}?{q}: no total: {}", r.raw))
}

async fn index_put(app: &TestApp, prefix: &str, rtype: &str, name: &str, keys: &[u8]) -> Reply {
    app.send("PUT", &idx_url(prefix, rtype, name), Some(keys))
        .await
}

async fn index_put_ok(app: &TestApp, prefix: &str, rtype: &str, name: &str, keys: &Value) {
    let r = index_put(app, prefix, rtype, name, keys.to_string().as_bytes()).await;
    assert_ok_null(&r, &format!("PUT index {rtype}/{name} {keys}"));
}

async fn index_delete(app: &TestApp, prefix: &str, rtype: &str, name: &str) -> Reply {
    app.delete(&idx_url(prefix, rtype, name)).await
}

/// A document without its `_id`.
fn without_id(doc: &Value) -> Value {
    let mut d = doc.clone();
    if let Some(m) = d.as_object_mut() {
        m.shift_remove("_id");
    }
    d
}

// ===========================================================================
// Multi-cluster lists
// ===========================================================================

#[actix_web::test]
async fn multicluster_lists_the_union_of_the_scopes_newest_first() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        for prefix in PREFIXES {
            let body = json!({ "clusteredNamespaces": scope() });
            let page = mc_page(&app, prefix, "Pod", &body).await;
            assert_eq!(
                values_of(&page.items, "resourceName"),
                strings(&["c", "a", "k", "b"]),
                "{b:?} {prefix}"
            );
            assert_eq!(
                (page.total, page.page_size, page.offset),
                (4, 3000, 0),
                "{b:?}"
            );
            // Items are the stored documents, as a dynamic GET shows them.
            let c = &page.items[0];
            assert!(is_object_id(&c["_id"]), "{b:?} {c}");
            assert_eq!(
                without_id(c),
                json!({
                    "clusterId": "C2", "namespace": "ns1", "resourceType": "Pod",
                    "resourceName": "c",
                    "data": {"metadata": {"name": "c", "labels": {"app": "web"}},
                             "n": 3, "s": "gamma", "opt": true},
                    "createTime": iso(T0 + 50), "updateTime": iso(T0 + 50)
                }),
                "{b:?}"
            );
            let single = app.get(&format!("{}/Pod/c", ns_base("C2", "ns1"))).await;
            single.assert_ok();
            assert_eq!(single.data(), c, "{b:?}: multicluster item == dynamic GET");
            // The cluster-scoped document has no namespace; label keys are restored.
            assert_eq!(page.items[2]["namespace"], Value::Null, "{b:?}");
            assert!(page.items[2].get("namespace").is_none(), "{b:?}");
            assert_eq!(
                page.items[1]["data"]["metadata"]["labels"]["app.kubernetes.io/name"],
                json!("shop"),
                "{b:?}"
            );
        }

        // Namespaces restrict only their own entry; an empty list is "all".
        let names = |v: Value| {
            let app = &app;
            async move { mc_names(app, &json!({ "clusteredNamespaces": v })).await }
        };
        assert_eq!(
            names(json!([{"clusterId": "C2"}])).await,
            strings(&["c", "d"])
        );
        assert_eq!(
            names(json!([{"clusterId": "C2", "namespaces": []}])).await,
            strings(&["c", "d"])
        );
        assert_eq!(
            names(json!([{"clusterId": "C1", "namespaces": ["ns1", "ns2"]}])).await,
            strings(&["a", "b"]),
            "{b:?}: a namespace list leaves the cluster-scoped k out"
        );
        assert_eq!(
            names(json!([{"clusterId": "C3"}, {"clusterId": "C1", "namespaces": ["ns2"]}])).await,
            strings(&["e", "b"])
        );
        assert_eq!(
            names(json!([{"clusterId": "C1", "namespaces": ["ns1"]}, {"clusterId": "C1", "namespaces": ["ns1"]}])).await,
            strings(&["a"]),
            "{b:?}: a repeated entry lists a document once"
        );
        assert_eq!(
            names(json!([{"clusterId": "C9"}])).await,
            Vec::<String>::new()
        );
        // The namespace list of one cluster does not apply to another.
        assert_eq!(
            names(json!([{"clusterId": "C2", "namespaces": ["ns3"]}, {"clusterId": "C3", "namespaces": ["ns3"]}])).await,
            strings(&["d"])
        );
        // Another resource type is another collection.
        let dep = mc_page(
            &app,
            V4,
            "Deployment",
            &json!({"clusteredNamespaces": [{"clusterId": "C1"}]}),
        )
        .await;
        assert_eq!(
            values_of(&dep.items, "resourceType"),
            strings(&["Deployment"])
        );
        assert_eq!(dep.total, 1);
        let none = mc_page(
            &app,
            V1,
            "Service",
            &json!({"clusteredNamespaces": [{"clusterId": "C1"}]}),
        )
        .await;
        assert_eq!((none.items.len(), none.total), (0, 0), "{b:?}");
        assert_eq!(none.page_size, 3000);
    }
}

/// `(offset, limit, names, pageSize, offset echoed)` of one paging request.
type PageCase = (Option<i64>, Option<i64>, &'static [&'static str], u64, u64);

#[actix_web::test]
async fn multicluster_sort_map_orders_and_pages_stably() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        // Scope: c (n=3, gamma), a (1, alpha), k (6, kappa), b (2, beta).
        let sorted = |sort: Value| json!({"clusteredNamespaces": scope(), "sort": sort});
        for (sort, want) in [
            (json!({"data.n": 1}), vec!["a", "b", "c", "k"]),
            (json!({"data.n": -1}), vec!["k", "c", "b", "a"]),
            (json!({"data.s": 1}), vec!["a", "b", "c", "k"]),
            (json!({"resourceName": -1}), vec!["k", "c", "b", "a"]),
            // Keys in a Go map's (sorted) order; the first decides.
            (
                json!({"clusterId": 1, "data.n": -1}),
                vec!["k", "b", "a", "c"],
            ),
            (json!({"createTime": 1}), vec!["b", "k", "a", "c"]),
            // Nil or empty: newest first, as without a sort.
            (Value::Null, vec!["c", "a", "k", "b"]),
            (json!({}), vec!["c", "a", "k", "b"]),
        ] {
            assert_eq!(
                mc_names(&app, &sorted(sort.clone())).await,
                want,
                "{b:?} {sort}"
            );
        }
        // Equal sort keys: ties are broken by _id, so pages of one never
        // repeat or skip a document.
        let mut seen = Vec::new();
        for offset in 0..4 {
            let body = json!({"clusteredNamespaces": scope(), "sort": {"resourceType": 1},
                              "offset": offset, "limit": 1});
            let page = mc_page(&app, V4, "Pod", &body).await;
            assert_eq!(page.total, 4, "{b:?}");
            seen.extend(values_of(&page.items, "resourceName"));
        }
        seen.sort();
        assert_eq!(seen, ["a", "b", "c", "k"], "{b:?}");
        for bad in [
            json!({"data.n": 0}),
            json!({"data.n": "asc"}),
            json!({"a..b": 1}),
            json!([1]),
        ] {
            let r = mc_post(&app, V4, "Pod", sorted(bad.clone()).to_string().as_bytes()).await;
            assert_eq!(r.status, 400, "{b:?} {bad}: {}", r.raw);
            assert!(!r.result(), "{}", r.raw);
        }
    }
}

#[actix_web::test]
async fn multicluster_pages_with_total_page_size_and_offset() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        let page = |offset: Option<i64>, limit: Option<i64>| {
            let mut body = json!({ "clusteredNamespaces": scope() });
            if let Some(o) = offset {
                body["offset"] = json!(o);
            }
            if let Some(l) = limit {
                body["limit"] = json!(l);
            }
            body
        };
        let cases: &[PageCase] = &[
            (None, Some(2), &["c", "a"], 2, 0),
            (Some(1), Some(2), &["a", "k"], 2, 1),
            (Some(2), Some(2), &["k", "b"], 2, 2),
            (Some(3), None, &["b"], 3000, 3),
            (Some(4), Some(1), &[], 1, 4),
            (Some(100), Some(10), &[], 10, 100),
            (Some(0), Some(0), &["c", "a", "k", "b"], 3000, 0),
            (None, Some(1), &["c"], 1, 0),
            (None, Some(50000), &["c", "a", "k", "b"], 50000, 0),
        ];
        for prefix in PREFIXES {
            for (offset, limit, want, size, off) in cases {
                let body = page(*offset, *limit);
                let p = mc_page(&app, prefix, "Pod", &body).await;
                assert_eq!(
                    values_of(&p.items, "resourceName"),
                    strings(want),
                    "{b:?} {body}"
                );
                assert_eq!(
                    (p.total, p.page_size, p.offset),
                    (4, *size, *off),
                    "{b:?} {body}"
                );
            }
        }
        // Paging with filters: total counts every match, not the page.
        let body = json!({"clusteredNamespaces": scope(), "limit": 1, "offset": 1,
                          "conditions": [{"Op": "gte", "Value": {"data.n": 2}}]});
        let p = mc_page(&app, V1, "Pod", &body).await;
        assert_eq!(values_of(&p.items, "resourceName"), strings(&["k"]));
        assert_eq!((p.total, p.page_size, p.offset), (3, 1, 1), "{b:?}");
    }
}

#[actix_web::test]
async fn multicluster_ties_in_create_time_follow_the_natural_key() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // Written in an order unlike the natural key; t1 < t2.
        let t1 = T0 + 1;
        let t2 = T0 + 2;
        for (at, cluster, ns, name) in [
            (t1, "C2", Some("a"), "p1"),
            (t2, "C1", Some("b"), "z"),
            (t1, "C1", Some("b"), "p2"),
            (t1, "C1", None, "p9"),
            (t1, "C1", Some("a"), "p3"),
            (t2, "C1", Some("a"), "y"),
            (t1, "C1", Some("b"), "p1"),
            (t1, "C10", Some("a"), "p0"),
        ] {
            dyn_put_at(&app, at, cluster, ns, "Pod", name, json!({})).await;
        }
        // Newest first; equal instants by (clusterId, namespace, resourceType,
        // resourceName) ascending, the cluster-scoped document (no namespace)
        // before the namespaced ones of its cluster, as MongoDB sorts a
        // missing field.
        let body = json!({"clusteredNamespaces": [{"clusterId": "C1"}, {"clusterId": "C2"}, {"clusterId": "C10"}]});
        let p = mc_page(&app, V4, "Pod", &body).await;
        let got: Vec<String> = p
            .items
            .iter()
            .map(|d| {
                format!(
                    "{}/{}/{}",
                    d["clusterId"].as_str().unwrap_or("?"),
                    d["namespace"].as_str().unwrap_or("-"),
                    d["resourceName"].as_str().unwrap_or("?")
                )
            })
            .collect();
        assert_eq!(
            got,
            strings(&[
                "C1/a/y", "C1/b/z", "C1/-/p9", "C1/a/p3", "C1/b/p1", "C1/b/p2", "C10/a/p0",
                "C2/a/p1",
            ]),
            "{b:?}"
        );
        // Paging through ties neither skips nor repeats.
        let mut paged = Vec::new();
        for offset in (0..8).step_by(3) {
            let mut body = body.clone();
            body["offset"] = json!(offset);
            body["limit"] = json!(3);
            let p = mc_page(&app, V1, "Pod", &body).await;
            assert_eq!(p.total, 8);
            paged.extend(p.items.iter().map(|d| d["_id"].clone()));
        }
        let all: Vec<Value> = mc_page(&app, V1, "Pod", &body)
            .await
            .items
            .iter()
            .map(|d| d["_id"].clone())
            .collect();
        assert_eq!(paged, all, "{b:?}");
    }
}

#[actix_web::test]
async fn multicluster_order_with_the_real_clock() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // PUT in sequence with the wall clock, newest having the lowest key:
        // whether or not two PUTs share a millisecond, the order is r1 r2 r3.
        for name in ["r3", "r2", "r1"] {
            let uri = format!("{}/Pod/{name}", ns_base("C1", "ns1"));
            let r = app.put_json(&uri, &json!({"data": {"name": name}})).await;
            assert_ok_null(&r, &uri);
        }
        let body = json!({"clusteredNamespaces": [{"clusterId": "C1"}]});
        assert_eq!(mc_names(&app, &body).await, strings(&["r1", "r2", "r3"]));
        // A later PUT of r3 keeps its createTime, so it keeps its place.
        let uri = format!("{}/Pod/r3", ns_base("C1", "ns1"));
        let r = app.put_json(&uri, &json!({"data": {"v": 2}})).await;
        assert_ok_null(&r, &uri);
        let p = mc_page(&app, V1, "Pod", &body).await;
        assert_eq!(
            values_of(&p.items, "resourceName"),
            strings(&["r1", "r2", "r3"]),
            "{b:?}"
        );
        assert_eq!(p.items[2]["data"], json!({"v": 2}));
        // Whatever the instants, the reply is sorted by (createTime desc, name).
        let times: Vec<(String, String)> = p
            .items
            .iter()
            .map(|d| {
                (
                    d["createTime"].as_str().unwrap_or("").to_owned(),
                    d["resourceName"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        assert_eq!(times, sorted, "{b:?}");
    }
}

#[actix_web::test]
async fn multicluster_leaf_operators() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        // scope(), newest first: c(n3 gamma opt) a(n1 alpha) k(n6 kappa, no ns) b(n2 beta)
        let cases: Vec<(Value, &[&str])> = vec![
            (json!({"Op": "eq", "Value": {"data.n": 2}}), &["b"]),
            (json!({"Op": "eq", "Value": {"data.n": "2"}}), &[]),
            (
                json!({"Op": "eq", "Value": {"data.metadata.name": "k"}}),
                &["k"],
            ),
            (json!({"Op": "eq", "Value": {"namespace": "ns2"}}), &["b"]),
            (
                json!({"Op": "eq", "Value": {"data.metadata.labels": {"app": "db"}}}),
                &["b"],
            ),
            (
                json!({"Op": "ne", "Value": {"data.n": 2}}),
                &["c", "a", "k"],
            ),
            (
                json!({"Op": "ne", "Value": {"data.opt": true}}),
                &["a", "k", "b"],
            ),
            (json!({"Op": "lt", "Value": {"data.n": 3}}), &["a", "b"]),
            (
                json!({"Op": "lte", "Value": {"data.n": 3}}),
                &["c", "a", "b"],
            ),
            (json!({"Op": "gt", "Value": {"data.n": 2}}), &["c", "k"]),
            (
                json!({"Op": "gte", "Value": {"data.n": 2}}),
                &["c", "k", "b"],
            ),
            (json!({"Op": "gte", "Value": {"data.n": 2.5}}), &["c", "k"]),
            (json!({"Op": "lt", "Value": {"data.s": "c"}}), &["a", "b"]),
            (
                json!({"Op": "gte", "Value": {"data.s": "gamma"}}),
                &["c", "k"],
            ),
            (
                json!({"Op": "in", "Value": {"data.s": ["alpha", "gamma", "zeta"]}}),
                &["c", "a"],
            ),
            (
                json!({"Op": "in", "Value": {"data.n": [1, 6]}}),
                &["a", "k"],
            ),
            (json!({"Op": "in", "Value": {"data.n": []}}), &[]),
            (
                json!({"Op": "nin", "Value": {"data.s": ["alpha", "gamma"]}}),
                &["k", "b"],
            ),
            (
                json!({"Op": "nin", "Value": {"namespace": ["ns1", "ns2"]}}),
                &["k"],
            ),
            (json!({"Op": "con", "Value": {"data.s": "amm"}}), &["c"]),
            (
                json!({"Op": "con", "Value": {"data.s": "a"}}),
                &["c", "a", "k", "b"],
            ),
            // A substring, never a regular expression.
            (json!({"Op": "con", "Value": {"data.s": "a.p"}}), &[]),
            (json!({"Op": "con", "Value": {"data.s": "^al"}}), &[]),
            (json!({"Op": "con", "Value": {"data.s": "gam("}}), &[]),
            (json!({"Op": "con", "Value": {"data.s": "GAMMA"}}), &[]),
            (json!({"Op": "exists", "Value": {"data.opt": true}}), &["c"]),
            (
                json!({"Op": "exists", "Value": {"data.opt": false}}),
                &["a", "k", "b"],
            ),
            (
                json!({"Op": "exists", "Value": {"namespace": false}}),
                &["k"],
            ),
            // Several paths in one Value: all must hold.
            (
                json!({"Op": "eq", "Value": {"clusterId": "C1", "data.n": 2}}),
                &["b"],
            ),
            (
                json!({"Op": "eq", "Value": {"clusterId": "C1", "data.n": 3}}),
                &[],
            ),
        ];
        for (cond, want) in cases {
            let body = with_conditions(json!([cond]));
            assert_eq!(mc_names(&app, &body).await, strings(want), "{b:?}: {cond}");
        }
    }
}

#[actix_web::test]
async fn multicluster_condition_trees_and_spellings() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        let eq = |k: &str, v: Value| json!({"Op": "eq", "Value": {k: v}});
        let gte2 = json!({"Op": "gte", "Value": {"data.n": 2}});
        let lte3 = json!({"Op": "lte", "Value": {"data.n": 3}});
        let cases: Vec<(Value, &[&str])> = vec![
            (
                json!([{"Op": "and", "Children": [gte2, lte3]}]),
                &["c", "b"],
            ),
            (
                json!([{"Op": "or", "Children": [eq("data.n", json!(1)), eq("data.s", json!("kappa"))]}]),
                &["a", "k"],
            ),
            (
                json!([{"Op": "nor", "Children": [eq("data.n", json!(1)), eq("data.n", json!(3))]}]),
                &["k", "b"],
            ),
            (json!([{"Op": "not", "Children": [gte2]}]), &["a"]),
            // `not` of several children negates their conjunction.
            (
                json!([{"Op": "not", "Children": [gte2, lte3]}]),
                &["a", "k"],
            ),
            // Nested trees.
            (
                json!([{"Op": "or", "Children": [
                    {"Op": "and", "Children": [eq("clusterId", json!("C1")), {"Op": "gt", "Value": {"data.n": 1}}]},
                    eq("data.s", json!("gamma"))
                ]}]),
                &["c", "k", "b"],
            ),
            (
                json!([{"Op": "not", "Children": [{"Op": "or", "Children": [eq("data.n", json!(1)), {"Op": "not", "Children": [eq("namespace", json!("ns2"))]}]}]}]),
                &["b"],
            ),
            // Several conditions: all must hold.
            (
                json!([gte2, {"Op": "nin", "Value": {"data.s": ["kappa"]}}]),
                &["c", "b"],
            ),
            (json!([gte2, eq("data.n", json!(1))]), &[]),
            (json!([]), &["c", "a", "k", "b"]),
            // Empty groups: and/nor of nothing holds, or/not of nothing does not.
            (json!([{"Op": "and"}]), &["c", "a", "k", "b"]),
            (
                json!([{"Op": "and", "Children": []}]),
                &["c", "a", "k", "b"],
            ),
            (
                json!([{"Op": "nor", "Children": []}]),
                &["c", "a", "k", "b"],
            ),
            (json!([{"Op": "or", "Children": []}]), &[]),
            // As Go's encoding/json writes them: nil Children and Values,
            // operator.EmptyCondition (`tr`), an empty Value map (`{}`).
            (
                json!([{"Op": "tr", "Value": {}, "Children": null}, null]),
                &["c", "a", "k", "b"],
            ),
            (
                json!([{"Op": "eq", "Value": {}, "Children": null}]),
                &["c", "a", "k", "b"],
            ),
            (
                json!([{"Op": "and", "Value": null, "Children": [
                    {"Op": "gte", "Value": {"data.n": 2}, "Children": null},
                    {"Op": "in", "Value": {"data.s": null}, "Children": null}
                ]}]),
                &[],
            ),
            (
                json!([{"Op": "nin", "Value": {"data.s": null}, "Children": null}]),
                &["c", "a", "k", "b"],
            ),
            // `type`, with aliases, numbers and lists.
            (
                json!([{"Op": "type", "Value": {"data.n": "int"}}]),
                &["c", "a", "k", "b"],
            ),
            (
                json!([{"Op": "type", "Value": {"data.s": 2}}]),
                &["c", "a", "k", "b"],
            ),
            (
                json!([{"Op": "type", "Value": {"data.opt": ["bool", "null"]}}]),
                &["c"],
            ),
            (json!([{"Op": "type", "Value": {"data.n": "string"}}]), &[]),
            // The console's label conditions: not-equal as a `not` leaf,
            // exists with "", does-not-exist as eq null.
            (
                json!([{"Op": "not", "Value": {"data.s": "alpha"}, "Children": null}]),
                &["c", "k", "b"],
            ),
            (
                json!([{"Op": "exists", "Value": {"data.opt": ""}, "Children": null}]),
                &["c"],
            ),
            (
                json!([{"Op": "eq", "Value": {"data.opt": null}, "Children": null}]),
                &["a", "k", "b"],
            ),
            // Operators in any case; lower-case keys.
            (json!([{"Op": "EQ", "Value": {"data.n": 2}}]), &["b"]),
            (json!([{"Op": "Gte", "Value": {"data.n": 6}}]), &["k"]),
            (json!([{"Op": "iN", "Value": {"data.s": ["beta"]}}]), &["b"]),
            (json!([{"Op": "CON", "Value": {"data.s": "lph"}}]), &["a"]),
            (
                json!([{"Op": "Exists", "Value": {"data.opt": true}}]),
                &["c"],
            ),
            (
                json!([{"Op": "OR", "Children": [eq("data.n", json!(1)), eq("data.n", json!(2))]}]),
                &["a", "b"],
            ),
            (json!([{"op": "gte", "value": {"data.n": 3}}]), &["c", "k"]),
            (
                json!([{"op": "Not", "children": [{"op": "ne", "value": {"data.n": 6}}]}]),
                &["k"],
            ),
        ];
        for (conds, want) in cases {
            let body = with_conditions(conds.clone());
            assert_eq!(mc_names(&app, &body).await, strings(want), "{b:?}: {conds}");
        }
        // A tree 32 levels deep is fine.
        let mut deep = eq("data.n", json!(2));
        for _ in 0..31 {
            deep = json!({"Op": "and", "Children": [deep]});
        }
        assert_eq!(
            mc_names(&app, &with_conditions(json!([deep]))).await,
            strings(&["b"]),
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn multicluster_label_selector_and_field() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        // scope(): c(app=web) a(app=web, tier=fe, app.kubernetes.io/name=shop) k(no labels) b(app=db)
        let cases: &[(&str, &[&str])] = &[
            ("app=web", &["c", "a"]),
            ("app==db", &["b"]),
            ("app!=web", &["k", "b"]),
            ("app in (web,db),tier", &["a"]),
            ("app notin (web)", &["k", "b"]),
            ("tier", &["a"]),
            ("!tier", &["c", "k", "b"]),
            ("app.kubernetes.io/name=shop", &["a"]),
            ("app=web,!tier", &["c"]),
            ("app=nothing", &[]),
            ("", &["c", "a", "k", "b"]),
        ];
        for (sel, want) in cases {
            let body = json!({"clusteredNamespaces": scope(), "labelSelector": sel});
            assert_eq!(mc_names(&app, &body).await, strings(want), "{b:?}: {sel:?}");
        }
        // Selector AND conditions AND scope.
        let body = json!({"clusteredNamespaces": scope(), "labelSelector": "app=web",
                          "conditions": [{"Op": "gte", "Value": {"data.n": 3}}]});
        assert_eq!(mc_names(&app, &body).await, strings(&["c"]), "{b:?}");
        let body = json!({"clusteredNamespaces": [{"clusterId": "C2"}, {"clusterId": "C3"}],
                          "labelSelector": "app=web"});
        assert_eq!(
            mc_names(&app, &body).await,
            strings(&["e", "c", "d"]),
            "{b:?}"
        );

        // field: a projection (plus _id); the order does not depend on it.
        for prefix in PREFIXES {
            let body = json!({"clusteredNamespaces": scope(), "field": "resourceName,data.n"});
            let p = mc_page(&app, prefix, "Pod", &body).await;
            assert_eq!(p.total, 4);
            let got: Vec<Value> = p.items.iter().map(without_id).collect();
            assert_eq!(
                got,
                vec![
                    json!({"resourceName": "c", "data": {"n": 3}}),
                    json!({"resourceName": "a", "data": {"n": 1}}),
                    json!({"resourceName": "k", "data": {"n": 6}}),
                    json!({"resourceName": "b", "data": {"n": 2}}),
                ],
                "{b:?} {prefix}"
            );
            assert!(p.items.iter().all(|d| is_object_id(&d["_id"])), "{b:?}");
            let body = json!({"clusteredNamespaces": [{"clusterId": "C1", "namespaces": ["ns1"]}],
                              "field": "data.metadata.labels.app．kubernetes．io/name"});
            let p = mc_page(&app, prefix, "Pod", &body).await;
            assert_eq!(
                without_id(&p.items[0]),
                json!({"data": {"metadata": {"labels": {"app.kubernetes.io/name": "shop"}}}}),
                "{b:?}: ． in a field path is a literal dot"
            );
        }
    }
}

#[actix_web::test]
async fn multicluster_skips_deleted_documents() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        let uri = format!("{}/Pod/a", ns_base("C1", "ns1"));
        app.delete(&uri).await.assert_ok();
        let r = app
            .send("DELETE", &format!("{}/Pod", cluster_base("C1")), None)
            .await;
        r.assert_ok();
        // Deleted: a (single), then b and k (batch over the whole cluster).
        assert_eq!(r.body["total"], json!(2), "{b:?} {}", r.raw);
        let body = json!({ "clusteredNamespaces": scope() });
        let p = mc_page(&app, V1, "Pod", &body).await;
        assert_eq!(values_of(&p.items, "resourceName"), strings(&["c"]));
        assert_eq!(p.total, 1, "{b:?}");
        // PUT after DELETE: a new object, with a new createTime.
        dyn_put_at(&app, T0 + 5, "C1", Some("ns1"), "Pod", "a", json!({"v": 1})).await;
        let p = mc_page(&app, V4, "Pod", &body).await;
        assert_eq!(values_of(&p.items, "resourceName"), strings(&["c", "a"]));
        assert_eq!(p.items[1]["createTime"], json!(iso(T0 + 5)), "{b:?}");
    }
}

#[actix_web::test]
async fn multicluster_process_and_application_stay_apart() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for (at, rtype, name) in [
            (T0 + 1, "application", "app1"),
            (T0 + 2, "process", "proc1"),
        ] {
            let uri = format!(
                "{V1}/k8s/dynamic/namespace_resources/clusters/C1/namespaces/ns1/{rtype}/{name}"
            );
            let r = send_at(&app, at, "PUT", &uri, br#"{"data": {"kind": "x"}}"#).await;
            assert_ok_null(&r, &uri);
        }
        let body = json!({"clusteredNamespaces": [{"clusterId": "C1"}]});
        // As the dynamic list of each type shows them.
        for (rtype, want) in [("application", "app1"), ("process", "proc1")] {
            let list = app.get(&format!("{}/{rtype}", ns_base("C1", "ns1"))).await;
            list.assert_ok();
            assert_eq!(
                values_of(list.data().as_array().expect("array"), "resourceName"),
                strings(&[want]),
                "{b:?} dynamic list of {rtype}"
            );
            let p = mc_page(&app, V1, rtype, &body).await;
            assert_eq!(
                values_of(&p.items, "resourceName"),
                strings(&[want]),
                "{b:?}: multicluster list of {rtype}: {:?}",
                p.items
            );
            assert_eq!(values_of(&p.items, "resourceType"), strings(&[rtype]));
            assert_eq!(p.total, 1, "{b:?} {rtype}");
        }
    }
}

#[actix_web::test]
async fn multicluster_refuses_bad_requests_and_changes_nothing() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        let cond = |c: Value| {
            json!({"clusteredNamespaces": [{"clusterId": "C1"}], "conditions": [c]}).to_string()
        };
        let base = |k: &str, v: Value| {
            let mut body = json!({"clusteredNamespaces": [{"clusterId": "C1"}]});
            body[k] = v;
            body.to_string()
        };
        let mut deep = json!({"Op": "eq", "Value": {"data.n": 1}});
        for _ in 0..40 {
            deep = json!({"Op": "and", "Children": [deep]});
        }
        let cases: Vec<(String, i64, &str)> = vec![
            // Bodies that are not valid.
            (String::new(), BAD_BODY, "empty"),
            ("  \n".into(), BAD_BODY, "empty"),
            ("{not json".into(), BAD_BODY, ""),
            // Not an object: a JSON array is not read as the fields in order.
            ("[1]".into(), BAD_BODY, ""),
            (
                json!([0, 2, [{"clusterId": "C1"}]]).to_string(),
                BAD_BODY,
                "",
            ),
            ("null".into(), BAD_BODY, ""),
            (base("foo", json!(1)), BAD_BODY, "foo"),
            (base("offset", json!("1")), BAD_BODY, ""),
            (base("limit", json!(1.5)), BAD_BODY, ""),
            (base("conditions", json!({"Op": "eq"})), BAD_BODY, ""),
            (
                json!({"clusteredNamespaces": [{"clusterId": "C1", "cluster": "C2"}]}).to_string(),
                BAD_BODY,
                "cluster",
            ),
            (
                json!({"clusteredNamespaces": [{"clusterId": "C1", "namespaces": "ns1"}]})
                    .to_string(),
                BAD_BODY,
                "",
            ),
            (
                cond(json!({"Op": "eq", "Value": {"data.n": 1}, "Extra": 1})),
                BAD_BODY,
                "Extra",
            ),
            (cond(json!({"Op": "eq", "Value": 5})), BAD_BODY, ""),
            (cond(json!({"Value": {"data.n": 1}})), BAD_BODY, "Op"),
            // clusteredNamespaces.
            ("{}".into(), BAD_PARAM, "clusteredNamespaces"),
            (
                json!({"clusteredNamespaces": []}).to_string(),
                BAD_PARAM,
                "clusteredNamespaces",
            ),
            (
                json!({"limit": 2, "conditions": []}).to_string(),
                BAD_PARAM,
                "clusteredNamespaces",
            ),
            (
                json!({"clusteredNamespaces": [{"namespaces": ["ns1"]}]}).to_string(),
                BAD_PARAM,
                "clusteredNamespaces",
            ),
            (
                json!({"clusteredNamespaces": [{"clusterId": "C1"}, {"clusterId": ""}]})
                    .to_string(),
                BAD_PARAM,
                "clusteredNamespaces",
            ),
            (
                json!({"clusteredNamespaces": [{"clusterId": "  "}]}).to_string(),
                BAD_PARAM,
                "clusteredNamespaces",
            ),
            // conditions.
            (
                cond(json!({"Op": "type", "Value": {"data.n": {"$type": 2}}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "regex", "Value": {"data.s": "a"}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "eq", "Value": {"data.n": {"$gt": 1}}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "in", "Value": {"data.n": [{"$ne": 1}]}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "eq", "Value": {"data": {"a": {"$ne": 1}}}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "eq", "Value": {"$where": "1"}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "eq", "Value": {"data.$n": 1}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "eq", "Value": {"data..n": 1}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "in", "Value": {"data.n": 1}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "nin", "Value": {"data.s": "alpha"}})),
                BAD_PARAM,
                "conditions",
            ),
            (cond(json!({"Op": "eq"})), BAD_PARAM, "conditions"),
            (
                cond(json!({"Op": "eq", "Value": null, "Children": null})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "not", "Children": []})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "and", "Value": {"data.n": 1}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(
                    json!({"Op": "eq", "Value": {"data.n": 1}, "Children": [{"Op": "eq", "Value": {"data.n": 1}}]}),
                ),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "lt", "Value": {"data.n": true}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "gte", "Value": {"data.n": [1]}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "type", "Value": {"data.n": "text"}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "con", "Value": {"data.s": 1}})),
                BAD_PARAM,
                "conditions",
            ),
            (
                cond(json!({"Op": "or", "Children": [{"Op": "regex", "Value": {"data.n": 2}}]})),
                BAD_PARAM,
                "conditions",
            ),
            (cond(deep), BAD_PARAM, "conditions"),
            // Paging.
            (base("offset", json!(-1)), BAD_PARAM, "offset"),
            (base("limit", json!(-1)), BAD_PARAM, "limit"),
            (base("limit", json!(50001)), BAD_PARAM, "limit"),
            // Selector and projection.
            (
                base("labelSelector", json!("app in (web")),
                BAD_PARAM,
                "labelSelector",
            ),
            (
                base("labelSelector", json!("app=web,,tier")),
                BAD_PARAM,
                "labelSelector",
            ),
            (base("field", json!("data..n")), BAD_PARAM, "field"),
            (
                base("field", json!("resourceName,$where")),
                BAD_PARAM,
                "field",
            ),
        ];
        for prefix in PREFIXES {
            // Every case is tried; the mismatches are reported together.
            let mut wrong = Vec::new();
            for (body, code, needle) in &cases {
                let r = mc_post(&app, prefix, "Pod", body.as_bytes()).await;
                if (r.status, r.code()) != (400, *code) || !r.message().contains(needle) {
                    wrong.push(format!("{body} -> {}", r.raw));
                    continue;
                }
                r.assert_err(400, *code, needle);
                assert_eq!(r.data(), &json!([]), "{b:?} {body}: {}", r.raw);
            }
            assert!(wrong.is_empty(), "{b:?} {prefix}:\n{}", wrong.join("\n"));
        }
        // An invalid resource type.
        let r = mc_post(
            &app,
            V1,
            "a$b",
            json!({"clusteredNamespaces": [{"clusterId": "C1"}]})
                .to_string()
                .as_bytes(),
        )
        .await;
        r.assert_err(400, BAD_PARAM, "resourceType");
        // Nothing changed.
        let p = mc_page(&app, V4, "Pod", &json!({ "clusteredNamespaces": scope() })).await;
        assert_eq!(
            values_of(&p.items, "resourceName"),
            strings(&["c", "a", "k", "b"]),
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn multicluster_route_is_k8s_post_only() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        let body = json!({"clusteredNamespaces": [{"clusterId": "C2"}]}).to_string();
        for prefix in PREFIXES {
            let uri = format!("{prefix}/mesos/dynamic/multicluster_resources/Pod");
            let r = app.send("POST", &uri, Some(body.as_bytes())).await;
            r.assert_err(404, ROUTE_NOT_FOUND, "");
            for method in ["GET", "PUT", "DELETE", "PATCH"] {
                let r = app
                    .send(method, &mc_url(prefix, "Pod"), Some(body.as_bytes()))
                    .await;
                r.assert_err(405, METHOD_NOT_ALLOWED, method);
            }
            let p = mc_page(
                &app,
                prefix,
                "Pod",
                &serde_json::from_str(&body).expect("json"),
            )
            .await;
            assert_eq!(values_of(&p.items, "resourceName"), strings(&["c", "d"]));
        }
    }
}

/// Reference H.43 and H.44.
#[actix_web::test]
async fn h43_h44_multicluster_scenarios() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_pods(&app).await;
        // H.43: C1/ns1 (a) plus all of C2 (c, d); newest first, two of three.
        let body = json!({"clusteredNamespaces": [{"clusterId": "C1", "namespaces": ["ns1"]},
                                                  {"clusterId": "C2"}], "limit": 2});
        let p = mc_page(&app, V1, "Pod", &body).await;
        assert_eq!(values_of(&p.items, "resourceName"), strings(&["c", "a"]));
        assert_eq!((p.total, p.page_size, p.offset), (3, 2, 0), "{b:?}");
        // H.44: an empty scope is an error (a 400 here, 1405085 in Go).
        let r = mc_post(
            &app,
            V1,
            "Pod",
            json!({"clusteredNamespaces": [], "limit": 2})
                .to_string()
                .as_bytes(),
        )
        .await;
        r.assert_err(400, BAD_PARAM, "clusteredNamespaces");
        assert_eq!(r.data(), &json!([]));
    }
}

// ===========================================================================
// Custom resources
// ===========================================================================

/// Reference H.39: without a unique index every PUT inserts.
#[actix_web::test]
async fn custom_put_without_index_inserts_every_time() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let doc = json!({"clusterId": "C1", "name": "a"});
        cr_put_at_ok(&app, T0 + 1, "Foo", &doc).await;
        // Same document through the other prefix.
        let r = send_at(
            &app,
            T0 + 2,
            "PUT",
            &cr_url(V4, "Foo"),
            doc.to_string().as_bytes(),
        )
        .await;
        assert_ok_null(&r, "second PUT");
        let all = cr_all(&app, "Foo").await;
        assert_eq!(all.len(), 2, "{b:?}: {all:?}");
        assert_ne!(all[0]["_id"], all[1]["_id"]);
        for (d, at) in all.iter().zip([T0 + 1, T0 + 2]) {
            assert!(is_object_id(&d["_id"]), "{b:?} {d}");
            assert_eq!(
                without_id(d),
                json!({"clusterId": "C1", "name": "a", "createTime": iso(at)}),
                "{b:?}: createTime set, no updateTime"
            );
        }
    }
}

#[actix_web::test]
async fn custom_put_ignores_internal_fields_of_the_client() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let doc = json!({
            "_id": "0123456789abcdef01234567",
            "name": "x",
            "_isBcsObjectDeleted": true,
            "_bcsTimes": {"createTime": 1},
            "createTime": "2000-01-01T00:00:00.000Z"
        });
        cr_put_at_ok(&app, T0 + 7, "Foo", &doc).await;
        cr_put_at_ok(&app, T0 + 8, "Foo", &doc).await;
        let all = cr_all(&app, "Foo").await;
        assert_eq!(all.len(), 2, "{b:?}: a client _id never makes an upsert");
        for (d, at) in all.iter().zip([T0 + 7, T0 + 8]) {
            assert_ne!(d["_id"], json!("0123456789abcdef01234567"), "{b:?}");
            assert!(is_object_id(&d["_id"]), "{b:?} {d}");
            assert_eq!(
                without_id(d),
                json!({"name": "x", "createTime": iso(at)}),
                "{b:?}"
            );
        }
    }
}

#[actix_web::test]
async fn custom_put_round_trips_keys_and_values() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let doc = json!({
            "name": "e",
            "a.b": {"$c": "x.y$z", "d": [{"e.f": 1}, "g.h", [{"$i": null}]]},
            "when": {"$date": 5},
            "s": "．＄ stays",
            "nested": {"createTime": {"$date": 6}},
            "n": 1.5,
            "t": true,
            "z": null,
            "empty": {},
            "list": []
        });
        cr_put_at_ok(&app, T0, "Esc", &doc).await;
        let all = cr_all(&app, "Esc").await;
        assert_eq!(all.len(), 1, "{b:?}");
        let mut want = doc.clone();
        want["createTime"] = json!(iso(T0));
        assert_eq!(without_id(&all[0]), want, "{b:?}");
        // Filters address escaped keys with ． and ＄.
        let e = extra(&json!({"a．b.＄c": "x.y$z"}));
        assert_eq!(
            cr_names(&app, "Esc", &format!("extra={e}")).await,
            strings(&["e"]),
            "{b:?}"
        );
        let q = format!("{}={}", enc("a．b.＄c"), enc("x.y$z"));
        assert_eq!(cr_names(&app, "Esc", &q).await, strings(&["e"]), "{b:?}");
        let q = format!("field={}", enc("a．b.d,name"));
        let p = cr_page(&app, V1, "Esc", &q).await;
        assert_eq!(
            without_id(&p.items[0]),
            json!({"name": "e", "a.b": {"d": [{"e.f": 1}, "g.h", [{"$i": null}]]}}),
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn custom_put_nesting_limit_counts_the_document_itself() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // A document `levels` deep, the top-level object included.
        let nested = |levels: usize| {
            let mut s = String::from(r#"{"name":"deep","v":"#);
            s.push_str(&"[".repeat(levels - 1));
            s.push('1');
            s.push_str(&"]".repeat(levels - 1));
            s.push('}');
            s
        };
        for levels in [99, 100] {
            let r = app
                .send("PUT", &cr_url(V1, "Deep"), Some(nested(levels).as_bytes()))
                .await;
            assert_ok_null(&r, &format!("{b:?}: a document {levels} levels deep"));
        }
        for levels in [101, 200] {
            let r = app
                .send("PUT", &cr_url(V1, "Deep"), Some(nested(levels).as_bytes()))
                .await;
            r.assert_err(400, BAD_BODY, "");
        }
        assert_eq!(cr_all(&app, "Deep").await.len(), 2, "{b:?}");
    }
}

#[actix_web::test]
async fn custom_put_refuses_bodies_that_are_not_objects() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for prefix in PREFIXES {
            for body in [
                "",
                " ",
                "not json",
                "{\"a\": 1",
                "[{\"a\": 1}]",
                "\"text\"",
                "5",
                "null",
                "true",
                "{\"a\": 1} {\"b\": 2}",
            ] {
                let r = app
                    .send("PUT", &cr_url(prefix, "Foo"), Some(body.as_bytes()))
                    .await;
                assert_eq!(r.status, 400, "{b:?} {body:?}: {}", r.raw);
                r.assert_err(400, BAD_BODY, "");
                assert_eq!(r.data(), &Value::Null, "{b:?} {body:?}");
            }
        }
        let p = cr_page(&app, V1, "Foo", "").await;
        assert_eq!((p.items.len(), p.total), (0, 0), "{b:?}");
        // Unlike dynamic PUTs, `{}` is a document like any other.
        cr_put_at_ok(&app, T0, "Foo", &json!({})).await;
        assert_eq!(
            cr_all(&app, "Foo")
                .await
                .iter()
                .map(without_id)
                .collect::<Vec<_>>(),
            vec![json!({"createTime": iso(T0)})],
            "{b:?}"
        );
    }
}

/// Seeds `Foo` with four documents, inserted in the order a b c d.
async fn seed_foo(app: &TestApp) {
    let docs = [
        json!({"clusterId": "C1", "namespace": "ns1", "name": "a", "n": "1",
               "data": {"metadata": {"labels": {"app": "web"}}}}),
        json!({"clusterId": "C1", "namespace": "ns2", "name": "b", "n": "2",
               "data": {"metadata": {"labels": {"app": "db"}}}}),
        json!({"clusterId": "C2", "namespace": "ns1", "name": "c", "n": 3,
               "data": {"metadata": {"labels": {"app": "web", "tier": "fe"}}}}),
        json!({"clusterId": "C2", "namespace": "ns2", "name": "d", "n": "4"}),
    ];
    for (i, d) in docs.iter().enumerate() {
        cr_put_at_ok(app, T0 + 100 - i as i64, "Foo", d).await;
    }
}

#[actix_web::test]
async fn custom_get_filters_like_dynamic_lists() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_foo(&app).await;
        let cases: Vec<(String, &[&str])> = vec![
            (String::new(), &["a", "b", "c", "d"]),
            ("clusterId=C1".into(), &["a", "b"]),
            ("clusterId=C1,C2&namespace=ns1".into(), &["a", "c"]),
            ("clusterId=C3".into(), &[]),
            ("name=a&name=b".into(), &[]),
            ("name=a,b&name=b,c".into(), &["b"]),
            ("name=d,c,a".into(), &["a", "c", "d"]),
            // Query values are strings: "3" never matches the number 3.
            ("n=3".into(), &[]),
            ("n=1,4".into(), &["a", "d"]),
            (format!("extra={}", extra(&json!({"n": 3}))), &["c"]),
            (
                format!(
                    "extra={}",
                    extra(&json!({"clusterId": "C2", "namespace": "ns2"}))
                ),
                &["d"],
            ),
            (
                format!("extra={}&clusterId=C1", extra(&json!({"n": "2"}))),
                &["b"],
            ),
            ("data.metadata.labels.app=web".into(), &["a", "c"]),
            (format!("labelSelector={}", enc("app=web")), &["a", "c"]),
            (format!("labelSelector={}", enc("tier")), &["c"]),
            (format!("labelSelector={}", enc("app!=web")), &["b", "d"]),
            (
                format!("labelSelector={}&clusterId=C1", enc("app in (web,db)")),
                &["a", "b"],
            ),
            ("nothere=x".into(), &[]),
        ];
        for (q, want) in &cases {
            assert_eq!(cr_names(&app, "Foo", q).await, strings(want), "{b:?}: ?{q}");
            let p = cr_page(&app, V1, "Foo", q).await;
            assert_eq!(
                (p.total as usize, p.page_size, p.offset),
                (want.len(), 3000, 0),
                "{b:?}: ?{q}"
            );
        }
        // Projection: _id plus the fields asked for; as in MongoDB, the
        // embedded documents on an existing path stay (empty).
        let p = cr_page(&app, V4, "Foo", "field=name,data.metadata.labels.tier").await;
        let got: Vec<Value> = p.items.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                json!({"name": "a", "data": {"metadata": {"labels": {}}}}),
                json!({"name": "b", "data": {"metadata": {"labels": {}}}}),
                json!({"name": "c", "data": {"metadata": {"labels": {"tier": "fe"}}}}),
                json!({"name": "d"}),
            ],
            "{b:?}"
        );
        assert!(p.items.iter().all(|d| is_object_id(&d["_id"])), "{b:?}");
        let p = cr_page(&app, V4, "Foo", "field=createTime&clusterId=C2").await;
        let got: Vec<Value> = p.items.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                json!({"createTime": iso(T0 + 98)}),
                json!({"createTime": iso(T0 + 97)})
            ],
            "{b:?}"
        );
    }
}

/// Reference H.41 and paging.
#[actix_web::test]
async fn custom_get_pages_with_total_page_size_and_offset() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_foo(&app).await;
        let cases: &[(&str, &[&str], u64, u64, u64)] = &[
            ("clusterId=C1&limit=10", &["a", "b"], 2, 10, 0),
            ("limit=2", &["a", "b"], 4, 2, 0),
            ("offset=1&limit=2", &["b", "c"], 4, 2, 1),
            ("offset=2", &["c", "d"], 4, 3000, 2),
            ("offset=3&limit=5", &["d"], 4, 5, 3),
            ("offset=9", &[], 4, 3000, 9),
            ("limit=0", &["a", "b", "c", "d"], 4, 3000, 0),
            ("limit=50000", &["a", "b", "c", "d"], 4, 50000, 0),
            ("clusterId=C2&offset=1&limit=1", &["d"], 2, 1, 1),
        ];
        for prefix in PREFIXES {
            for (q, want, total, size, offset) in cases {
                let p = cr_page(&app, prefix, "Foo", q).await;
                assert_eq!(values_of(&p.items, "name"), strings(want), "{b:?} ?{q}");
                assert_eq!(
                    (p.total, p.page_size, p.offset),
                    (*total, *size, *offset),
                    "{b:?} ?{q}"
                );
            }
        }
        // A collection never written to is an empty list.
        let p = cr_page(&app, V1, "Nothing", "limit=7").await;
        assert_eq!(
            (p.items.len(), p.total, p.page_size, p.offset),
            (0, 0, 7, 0)
        );
    }
}

#[actix_web::test]
async fn custom_get_refuses_bad_parameters() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_foo(&app).await;
        let cases: Vec<(String, &str)> = vec![
            ("limit=-1".into(), "limit"),
            ("limit=abc".into(), "limit"),
            ("limit=50001".into(), "limit"),
            ("limit=1&limit=2".into(), "limit"),
            ("offset=-1".into(), "offset"),
            ("offset=x".into(), "offset"),
            ("field=a..b".into(), "field"),
            (
                format!("labelSelector={}", enc("app in (web")),
                "labelSelector",
            ),
            ("extra=%%%".into(), "extra"),
            (format!("extra={}", extra(&json!([1]))), "extra"),
            (format!("extra={}", extra(&json!({"$where": "1"}))), "extra"),
            (
                format!("extra={}", extra(&json!({"n": {"$gt": 1}}))),
                "extra",
            ),
            (format!("{}=1", enc("$where")), "$where"),
            ("updateTimeBefore=garbage".into(), "updateTimeBefore"),
        ];
        for prefix in PREFIXES {
            for (q, needle) in &cases {
                let r = cr_get(&app, prefix, "Foo", q).await;
                r.assert_err(400, BAD_PARAM, needle);
                assert_eq!(r.data(), &json!([]), "{b:?} ?{q}: {}", r.raw);
            }
        }
        let r = cr_get(&app, V1, "a$b", "").await;
        r.assert_err(400, BAD_PARAM, "resourceType");
    }
}

#[actix_web::test]
async fn custom_get_reads_collections_written_by_dynamic_routes() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // The Go SDK lists e.g. Namespace objects this way.
        for (cluster, name) in [("C1", "n2"), ("C2", "n1"), ("C1", "n3"), ("C1", "n1")] {
            dyn_put_at(
                &app,
                T0,
                cluster,
                None,
                "Namespace",
                name,
                json!({"metadata": {"name": name}}),
            )
            .await;
        }
        app.delete(&format!("{}/Namespace/n3", cluster_base("C1")))
            .await
            .assert_ok();
        let p = cr_page(&app, V1, "Namespace", "clusterId=C1").await;
        assert_eq!(p.total, 2, "{b:?}");
        // Oldest _id first: the order of the first PUTs.
        assert_eq!(
            values_of(&p.items, "resourceName"),
            strings(&["n2", "n1"]),
            "{b:?}"
        );
        assert_eq!(
            without_id(&p.items[0]),
            json!({"clusterId": "C1", "resourceType": "Namespace", "resourceName": "n2",
                   "data": {"metadata": {"name": "n2"}},
                   "createTime": iso(T0), "updateTime": iso(T0)}),
            "{b:?}"
        );
        let p = cr_page(&app, V4, "Namespace", "data.metadata.name=n1").await;
        assert_eq!(values_of(&p.items, "clusterId"), strings(&["C2", "C1"]));
    }
}

#[actix_web::test]
async fn custom_delete_removes_what_the_filters_match() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_foo(&app).await;
        assert_eq!(cr_delete_ok(&app, V1, "Foo", "clusterId=C9").await, 0);
        assert_eq!(
            cr_delete_ok(&app, V4, "Foo", "clusterId=C1&namespace=ns2").await,
            1,
            "{b:?}"
        );
        assert_eq!(cr_names(&app, "Foo", "").await, strings(&["a", "c", "d"]));
        let e = extra(&json!({"n": 3}));
        assert_eq!(
            cr_delete_ok(&app, V1, "Foo", &format!("extra={e}")).await,
            1
        );
        assert_eq!(cr_names(&app, "Foo", "").await, strings(&["a", "d"]));
        // deleteAll=false with a filter is an ordinary filtered delete.
        assert_eq!(
            cr_delete_ok(&app, V1, "Foo", "deleteAll=false&name=d").await,
            1
        );
        assert_eq!(cr_names(&app, "Foo", "").await, strings(&["a"]));
        // A second delete finds nothing.
        assert_eq!(cr_delete_ok(&app, V1, "Foo", "name=d").await, 0, "{b:?}");
        // Bad filters are refused, never widened to "everything".
        for (q, needle) in [
            ("name=".to_owned(), "name"),
            ("extra=%%%".to_owned(), "extra"),
            (
                format!("labelSelector={}", enc("app in (")),
                "labelSelector",
            ),
        ] {
            cr_delete(&app, V1, "Foo", &q)
                .await
                .assert_err(400, BAD_PARAM, needle);
        }
        assert_eq!(cr_names(&app, "Foo", "").await, strings(&["a"]), "{b:?}");
    }
}

/// Reference H.42, with this service's guard against deleting a whole
/// collection by accident.
#[actix_web::test]
async fn custom_delete_without_filter_needs_delete_all() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_foo(&app).await;
        for prefix in PREFIXES {
            for q in [
                "",
                "deleteAll=false",
                "deleteAll=0",
                "limit=1",
                "offset=0&limit=10",
                "field=name",
            ] {
                let r = cr_delete(&app, prefix, "Foo", q).await;
                r.assert_err(400, BAD_PARAM, "deleteAll");
                assert_eq!(r.data(), &Value::Null, "{b:?} ?{q}");
            }
            for q in [
                "deleteAll=maybe",
                "deleteAll=",
                "deleteAll=true&deleteAll=true",
            ] {
                cr_delete(&app, prefix, "Foo", q)
                    .await
                    .assert_err(400, BAD_PARAM, "deleteAll");
            }
        }
        assert_eq!(cr_all(&app, "Foo").await.len(), 4, "{b:?}: nothing deleted");
        assert_eq!(
            cr_delete_ok(&app, V1, "Foo", "deleteAll=true").await,
            4,
            "{b:?}"
        );
        assert_eq!(cr_page(&app, V1, "Foo", "").await.total, 0);
        // Again, on an empty collection; other spellings of true.
        assert_eq!(cr_delete_ok(&app, V4, "Foo", "deleteAll=TRUE").await, 0);
        cr_put_ok(&app, V1, "Foo", &json!({"name": "x"})).await;
        assert_eq!(
            cr_delete_ok(&app, V4, "Foo", "deleteAll=1").await,
            1,
            "{b:?}"
        );
        // deleteAll=true with a filter still filters.
        seed_foo(&app).await;
        assert_eq!(
            cr_delete_ok(&app, V1, "Foo", "deleteAll=true&clusterId=C2").await,
            2
        );
        assert_eq!(
            cr_names(&app, "Foo", "").await,
            strings(&["a", "b"]),
            "{b:?}"
        );
    }
}

/// Reference H.40: a unique index turns PUTs into upserts on its fields.
#[actix_web::test]
async fn custom_unique_index_makes_puts_upserts() {
    for b in backends() {
        let app = TestApp::new(b).await;
        index_put_ok(
            &app,
            V1,
            "Bar",
            "uniq",
            &json!({"clusterId": {"$numberInt": "1"}, "name": {"$numberInt": "1"}}),
        )
        .await;
        cr_put_at_ok(
            &app,
            T0 + 1,
            "Bar",
            &json!({"clusterId": "C1", "name": "a", "v": 1}),
        )
        .await;
        let first_id = cr_all(&app, "Bar").await[0]["_id"].clone();
        cr_put_at_ok(
            &app,
            T0 + 2,
            "Bar",
            &json!({"clusterId": "C1", "name": "b", "v": 1}),
        )
        .await;
        cr_put_at_ok(
            &app,
            T0 + 3,
            "Bar",
            &json!({"_id": "0123456789abcdef01234567", "clusterId": "C1", "name": "a", "v": 2}),
        )
        .await;
        cr_put_at_ok(
            &app,
            T0 + 4,
            "Bar",
            &json!({"clusterId": "C2", "name": "a", "v": 1}),
        )
        .await;
        let all = cr_all(&app, "Bar").await;
        let got: Vec<Value> = all.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                // Upserted: createTime kept, updateTime set, v replaced.
                json!({"clusterId": "C1", "name": "a", "v": 2,
                       "createTime": iso(T0 + 1), "updateTime": iso(T0 + 3)}),
                json!({"clusterId": "C1", "name": "b", "v": 1,
                       "createTime": iso(T0 + 2), "updateTime": iso(T0 + 2)}),
                json!({"clusterId": "C2", "name": "a", "v": 1,
                       "createTime": iso(T0 + 4), "updateTime": iso(T0 + 4)}),
            ],
            "{b:?}"
        );
        assert_eq!(all[0]["_id"], first_id, "{b:?}: an upsert keeps the _id");
        // Values are compared by type: the number 1 is not the string "1".
        cr_put_at_ok(&app, T0 + 5, "Bar", &json!({"clusterId": 1, "name": "a"})).await;
        cr_put_at_ok(&app, T0 + 6, "Bar", &json!({"clusterId": "1", "name": "a"})).await;
        assert_eq!(cr_all(&app, "Bar").await.len(), 5, "{b:?}");
    }
}

/// An upsert stores the new document: fields the new document lacks are
/// gone (the brief: "other fields replaced").
#[actix_web::test]
async fn custom_upsert_replaces_the_whole_document() {
    for b in backends() {
        let app = TestApp::new(b).await;
        index_put_ok(&app, V1, "Bar", "uniq", &json!({"name": 1})).await;
        cr_put_at_ok(
            &app,
            T0 + 1,
            "Bar",
            &json!({"name": "a", "v": 1, "old": true, "deep": {"x": 1, "y": 1}}),
        )
        .await;
        cr_put_at_ok(
            &app,
            T0 + 2,
            "Bar",
            &json!({"name": "a", "v": 2, "deep": {"x": 2}}),
        )
        .await;
        let got: Vec<Value> = cr_all(&app, "Bar").await.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![json!({"name": "a", "v": 2, "deep": {"x": 2},
                        "createTime": iso(T0 + 1), "updateTime": iso(T0 + 2)})],
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn custom_unique_index_on_a_nested_field() {
    for b in backends() {
        let app = TestApp::new(b).await;
        index_put_ok(&app, V4, "Nest", "by_name", &json!({"metadata.name": -1})).await;
        cr_put_at_ok(
            &app,
            T0 + 1,
            "Nest",
            &json!({"metadata": {"name": "x", "v": 1}}),
        )
        .await;
        cr_put_at_ok(
            &app,
            T0 + 2,
            "Nest",
            &json!({"metadata": {"name": "y", "v": 1}}),
        )
        .await;
        cr_put_at_ok(
            &app,
            T0 + 3,
            "Nest",
            &json!({"metadata": {"name": "x", "v": 2}}),
        )
        .await;
        let got: Vec<Value> = cr_all(&app, "Nest").await.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                json!({"metadata": {"name": "x", "v": 2},
                       "createTime": iso(T0 + 1), "updateTime": iso(T0 + 3)}),
                json!({"metadata": {"name": "y", "v": 1},
                       "createTime": iso(T0 + 2), "updateTime": iso(T0 + 2)}),
            ],
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn custom_index_creation_is_idempotent_and_refuses_duplicates() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // H.39 then H.40's second half: duplicates block the index.
        let doc = json!({"clusterId": "C1", "name": "a"});
        cr_put_at_ok(&app, T0 + 1, "Foo", &doc).await;
        cr_put_at_ok(&app, T0 + 2, "Foo", &doc).await;
        cr_put_at_ok(
            &app,
            T0 + 3,
            "Foo",
            &json!({"clusterId": "C1", "name": "b"}),
        )
        .await;
        for prefix in PREFIXES {
            let r = index_put(
                &app,
                prefix,
                "Foo",
                "uniq",
                br#"{"clusterId": {"$numberInt": "1"}, "name": {"$numberInt": "1"}}"#,
            )
            .await;
            r.assert_err(409, CONFLICT, "");
            assert_eq!(r.data(), &Value::Null);
        }
        // Nothing changed: no index (PUTs still insert), no document lost.
        cr_put_at_ok(&app, T0 + 4, "Foo", &doc).await;
        assert_eq!(
            values_of(&cr_all(&app, "Foo").await, "name"),
            strings(&["a", "a", "b", "a"]),
            "{b:?}"
        );
        index_delete(&app, V1, "Foo", "uniq")
            .await
            .assert_err(404, NOT_EXIST, "uniq");
        // A unique index on fields without duplicates is created; creating it
        // again (even with other keys) is a success that changes nothing.
        index_put_ok(&app, V1, "Foo", "by_time", &json!({"createTime": 1})).await;
        index_put_ok(&app, V4, "Foo", "by_time", &json!({"createTime": 1})).await;
        index_put_ok(&app, V1, "Foo", "by_time", &json!({"name": 1})).await;
        // The index is on createTime (distinct per PUT here): every PUT
        // inserts; an index on name would have refused or merged them.
        cr_put_at_ok(&app, T0 + 5, "Foo", &doc).await;
        // (Sorted: the order is the subject of `custom_list_order_is_insertion_order`.)
        let mut names = values_of(&cr_all(&app, "Foo").await, "name");
        names.sort();
        assert_eq!(names, strings(&["a", "a", "a", "a", "b"]), "{b:?}");
    }
}

#[actix_web::test]
async fn custom_index_refuses_invalid_key_documents() {
    for b in backends() {
        let app = TestApp::new(b).await;
        cr_put_at_ok(&app, T0, "Foo", &json!({"name": "a"})).await;
        for prefix in PREFIXES {
            for body in [
                "",
                "not json",
                "[1]",
                "1",
                "{}",
                r#"{"name": 2}"#,
                r#"{"name": 0}"#,
                r#"{"name": "1"}"#,
                r#"{"name": "text"}"#,
                r#"{"name": true}"#,
                r#"{"name": {"$numberInt": "x"}}"#,
                r#"{"name": {"$numberInt": "2"}}"#,
                r#"{"name": {"a": 1}}"#,
                r#"{"name": 1, "other": 5}"#,
            ] {
                let r = index_put(&app, prefix, "Foo", "bad", body.as_bytes()).await;
                assert_eq!(r.status, 400, "{b:?} {body:?}: {}", r.raw);
                r.assert_err(400, BAD_BODY, "");
            }
            // Key paths are checked as field paths.
            for body in [r#"{"$where": 1}"#, r#"{"a..b": 1}"#, r#"{"a.$b": 1}"#] {
                let r = index_put(&app, prefix, "Foo", "bad", body.as_bytes()).await;
                r.assert_err(400, BAD_PARAM, "index");
            }
            // Index names.
            let r = index_put(&app, prefix, "Foo", "_id_", br#"{"name": 1}"#).await;
            r.assert_err(400, BAD_PARAM, "indexName");
            let r = index_put(&app, prefix, "Foo", "a$b", br#"{"name": 1}"#).await;
            r.assert_err(400, BAD_PARAM, "indexName");
        }
        // No index was made: PUTs still insert.
        cr_put_at_ok(&app, T0 + 1, "Foo", &json!({"name": "a"})).await;
        assert_eq!(cr_all(&app, "Foo").await.len(), 2, "{b:?}");
        index_delete(&app, V1, "Foo", "bad")
            .await
            .assert_err(404, NOT_EXIST, "bad");
        // Extended JSON and plain numbers, ascending or descending.
        for (name, keys) in [
            ("i1", json!({"a": 1})),
            ("i2", json!({"b": -1})),
            ("i3", json!({"c": {"$numberInt": "-1"}})),
            ("i4", json!({"d": {"$numberLong": "1"}})),
            ("i5", json!({"e": {"$numberDouble": "1.0"}})),
            ("i6", json!({"f": 1.0})),
        ] {
            index_put_ok(&app, V1, "Keys", name, &keys).await;
        }
    }
}

#[actix_web::test]
async fn custom_index_drop_restores_inserts() {
    for b in backends() {
        let app = TestApp::new(b).await;
        index_put_ok(&app, V1, "Foo", "uniq", &json!({"name": 1})).await;
        let doc = json!({"name": "a"});
        cr_put_at_ok(&app, T0 + 1, "Foo", &doc).await;
        cr_put_at_ok(&app, T0 + 2, "Foo", &doc).await;
        assert_eq!(cr_all(&app, "Foo").await.len(), 1, "{b:?}");
        let r = index_delete(&app, V4, "Foo", "uniq").await;
        assert_ok_null(&r, "drop uniq");
        cr_put_at_ok(&app, T0 + 3, "Foo", &doc).await;
        let mut got: Vec<Value> = cr_all(&app, "Foo").await.iter().map(without_id).collect();
        // (The order is the subject of `custom_list_order_is_insertion_order`.)
        got.sort_by_key(|d| d["createTime"].as_str().unwrap_or("").to_owned());
        assert_eq!(
            got,
            vec![
                json!({"name": "a", "createTime": iso(T0 + 1), "updateTime": iso(T0 + 2)}),
                json!({"name": "a", "createTime": iso(T0 + 3)}),
            ],
            "{b:?}"
        );
        // Dropping it again, or an index never made, is "does not exist".
        for prefix in PREFIXES {
            let r = index_delete(&app, prefix, "Foo", "uniq").await;
            r.assert_err(404, NOT_EXIST, "uniq");
            assert_eq!(r.data(), &Value::Null);
            index_delete(&app, prefix, "Nothing", "idx9")
                .await
                .assert_err(404, NOT_EXIST, "idx9");
        }
        // The store's own indexes are not the client's to drop.
        index_delete(&app, V1, "Foo", "_id_")
            .await
            .assert_err(400, BAD_PARAM, "indexName");
        // With the index back (no duplicates of name left? there are: 409).
        index_put(&app, V1, "Foo", "uniq", br#"{"name": 1}"#)
            .await
            .assert_err(409, CONFLICT, "");
    }
}

/// GET lists by `_id` ascending, which is insertion order, whether a
/// document was inserted with or without a unique index on the collection.
#[actix_web::test]
async fn custom_list_order_is_insertion_order() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // seq 1 with an index (upsert), 2 without (insert), 3 with again.
        index_put_ok(&app, V1, "Ord", "by_seq", &json!({"seq": 1})).await;
        cr_put_at_ok(&app, T0 + 1, "Ord", &json!({"seq": 1})).await;
        assert_ok_null(&index_delete(&app, V1, "Ord", "by_seq").await, "drop");
        cr_put_at_ok(&app, T0 + 2, "Ord", &json!({"seq": 2})).await;
        index_put_ok(&app, V1, "Ord", "by_seq", &json!({"seq": 1})).await;
        cr_put_at_ok(&app, T0 + 3, "Ord", &json!({"seq": 3})).await;
        let seqs: Vec<Value> = cr_all(&app, "Ord")
            .await
            .iter()
            .map(|d| d["seq"].clone())
            .collect();
        assert_eq!(seqs, vec![json!(1), json!(2), json!(3)], "{b:?}");
    }
}

/// A unique index treats a missing field as null (as MongoDB does).
#[actix_web::test]
async fn custom_unique_index_on_a_missing_field() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // Two documents without `k`: both have k = null, so an index on k
        // cannot be created.
        cr_put_at_ok(&app, T0 + 1, "Miss", &json!({"name": "a"})).await;
        cr_put_at_ok(&app, T0 + 2, "Miss", &json!({"name": "b"})).await;
        index_put(&app, V1, "Miss", "by_k", br#"{"k": 1}"#)
            .await
            .assert_err(409, CONFLICT, "");
        // Nothing changed.
        assert_eq!(
            values_of(&cr_all(&app, "Miss").await, "name"),
            strings(&["a", "b"])
        );
        // One document without k and one with it: fine.
        cr_put_at_ok(&app, T0 + 1, "Miss2", &json!({"name": "a"})).await;
        cr_put_at_ok(&app, T0 + 3, "Miss2", &json!({"name": "c", "k": "x"})).await;
        index_put_ok(&app, V1, "Miss2", "by_k", &json!({"k": 1})).await;
        // With the index, a PUT without k replaces the document without k.
        cr_put_at_ok(&app, T0 + 4, "Miss2", &json!({"name": "d"})).await;
        let got: Vec<Value> = cr_all(&app, "Miss2").await.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                json!({"name": "d", "createTime": iso(T0 + 1), "updateTime": iso(T0 + 4)}),
                json!({"name": "c", "k": "x", "createTime": iso(T0 + 3)}),
            ],
            "{b:?}"
        );
        cr_put_at_ok(&app, T0 + 5, "Miss2", &json!({"name": "e", "k": "x"})).await;
        cr_put_at_ok(&app, T0 + 6, "Miss2", &json!({"name": "f", "k": "y"})).await;
        // (Sorted: the order is the subject of `custom_list_order_is_insertion_order`.)
        let mut names = values_of(&cr_all(&app, "Miss2").await, "name");
        names.sort();
        assert_eq!(names, strings(&["d", "e", "f"]), "{b:?}");
    }
}

/// An explicit null and a missing field are one key of a unique index.
#[actix_web::test]
async fn custom_unique_index_explicit_null_is_missing() {
    for b in backends() {
        let app = TestApp::new(b).await;
        index_put_ok(&app, V1, "Nul", "by_k", &json!({"k": 1})).await;
        cr_put_at_ok(&app, T0 + 1, "Nul", &json!({"name": "a", "k": null})).await;
        let r = cr_put_at(&app, T0 + 2, "Nul", &json!({"name": "b", "k": null})).await;
        assert_ok_null(&r, &format!("{b:?}: a second PUT with k: null"));
        let r = cr_put_at(&app, T0 + 3, "Nul", &json!({"name": "c"})).await;
        assert_ok_null(&r, &format!("{b:?}: a PUT without k after k: null"));
        let got: Vec<Value> = cr_all(&app, "Nul").await.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![json!({"name": "c", "createTime": iso(T0 + 1), "updateTime": iso(T0 + 3)})],
            "{b:?}"
        );
    }
}

/// Deleted documents are gone for good: they do not block a unique index.
#[actix_web::test]
async fn custom_deleted_duplicates_do_not_block_an_index() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let doc = json!({"name": "a"});
        cr_put_at_ok(&app, T0 + 1, "Foo", &doc).await;
        cr_put_at_ok(&app, T0 + 2, "Foo", &doc).await;
        assert_eq!(cr_delete_ok(&app, V1, "Foo", "name=a").await, 2);
        assert_eq!(cr_page(&app, V1, "Foo", "").await.total, 0);
        // The duplicates are deleted: the index can be made.
        let r = index_put(&app, V1, "Foo", "uniq", br#"{"name": 1}"#).await;
        assert_ok_null(&r, &format!("{b:?}: index after deleting the duplicates"));
    }
}

/// With a unique index, a PUT after a DELETE makes a new object.
#[actix_web::test]
async fn custom_put_after_delete_with_an_index_is_a_new_object() {
    for b in backends() {
        let app = TestApp::new(b).await;
        index_put_ok(&app, V1, "Foo", "uniq", &json!({"name": 1})).await;
        cr_put_at_ok(&app, T0 + 3, "Foo", &json!({"name": "a", "v": 1})).await;
        assert_eq!(cr_delete_ok(&app, V4, "Foo", "deleteAll=true").await, 1);
        assert_eq!(cr_page(&app, V1, "Foo", "").await.total, 0);
        cr_put_at_ok(&app, T0 + 4, "Foo", &json!({"name": "a", "v": 2})).await;
        let got: Vec<Value> = cr_all(&app, "Foo").await.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                json!({"name": "a", "v": 2, "createTime": iso(T0 + 4), "updateTime": iso(T0 + 4)})
            ],
            "{b:?}"
        );
        // And it is still unique.
        cr_put_at_ok(&app, T0 + 5, "Foo", &json!({"name": "a", "v": 3})).await;
        let got: Vec<Value> = cr_all(&app, "Foo").await.iter().map(without_id).collect();
        assert_eq!(
            got,
            vec![
                json!({"name": "a", "v": 3, "createTime": iso(T0 + 4), "updateTime": iso(T0 + 5)})
            ],
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn custom_routes_answer_405_for_other_methods() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for prefix in PREFIXES {
            for method in ["POST", "PATCH"] {
                app.send(method, &cr_url(prefix, "Foo"), Some(b"{}"))
                    .await
                    .assert_err(405, METHOD_NOT_ALLOWED, method);
            }
            for method in ["GET", "POST", "PATCH"] {
                app.send(method, &idx_url(prefix, "Foo", "uniq"), Some(b"{\"a\": 1}"))
                    .await
                    .assert_err(405, METHOD_NOT_ALLOWED, method);
            }
            // Unknown paths below the route are 404.
            app.get(&format!("{}/index", cr_url(prefix, "Foo")))
                .await
                .assert_err(404, ROUTE_NOT_FOUND, "");
            app.get(&format!("{prefix}/dynamic/customresources"))
                .await
                .assert_err(404, ROUTE_NOT_FOUND, "");
        }
        // Nothing was written.
        assert_eq!(cr_page(&app, V1, "Foo", "").await.total, 0, "{b:?}");
    }
}

/// A summary of the reference's H.39-H.42 in sequence, through both
/// prefixes and the wall clock.
#[actix_web::test]
async fn h39_to_h42_custom_resource_scenarios() {
    for b in backends() {
        let app = TestApp::new(b).await;
        // H.39
        let doc = json!({"clusterId": "C1", "name": "a"});
        cr_put_ok(&app, V1, "Foo", &doc).await;
        cr_put_ok(&app, V4, "Foo", &doc).await;
        let all = cr_all(&app, "Foo").await;
        assert_eq!(all.len(), 2, "{b:?}");
        for d in &all {
            assert_eq!(
                keys_of(d),
                strings(&["_id", "clusterId", "createTime", "name"])
            );
            let t = d["createTime"].as_str().expect("createTime");
            assert!(
                DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z') && t.len() == 24,
                "{b:?} {t}"
            );
        }
        // H.40
        index_put_ok(
            &app,
            V1,
            "Bar",
            "uniq",
            &json!({"clusterId": {"$numberInt": "1"}, "name": {"$numberInt": "1"}}),
        )
        .await;
        for n in 1..=2 {
            cr_put_ok(
                &app,
                V1,
                "Bar",
                &json!({"clusterId": "C1", "name": "a", "v": n}),
            )
            .await;
        }
        let bar = cr_all(&app, "Bar").await;
        assert_eq!(bar.len(), 1, "{b:?}");
        assert_eq!(bar[0]["v"], json!(2));
        let created = bar[0]["createTime"].as_str().expect("createTime");
        let updated = bar[0]["updateTime"].as_str().expect("updateTime");
        assert!(created <= updated, "{b:?} {created} {updated}");
        index_put(
            &app,
            V1,
            "Foo",
            "uniq",
            br#"{"clusterId": {"$numberInt": "1"}, "name": {"$numberInt": "1"}}"#,
        )
        .await
        .assert_err(409, CONFLICT, "");
        // H.41
        let p = cr_page(&app, V1, "Foo", "clusterId=C1&limit=10").await;
        assert_eq!(
            (p.items.len(), p.total, p.page_size, p.offset),
            (2, 2, 10, 0)
        );
        // H.42: no parameters is refused here; deleteAll=true deletes all.
        cr_delete(&app, V1, "Foo", "")
            .await
            .assert_err(400, BAD_PARAM, "deleteAll");
        assert_eq!(cr_delete_ok(&app, V1, "Foo", "deleteAll=true").await, 2);
        assert_eq!(cr_page(&app, V4, "Foo", "").await.total, 0, "{b:?}");
    }
}
