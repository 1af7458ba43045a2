//! The Go clients, byte for byte: every request below is what a Go client of
//! bcs-storage puts on the wire (target as it arrives, body as its JSON
//! library marshals it: `null` for nil slices, maps and pointers, Go field
//! names, zero values present), and every check is what that client does with
//! the answer before it accepts it. Sources (bk-bcs):
//!
//! - data-watch agent: `bcs-services/bcs-k8s-watch/app/output/http/client.go`
//!   (gorequest: the query re-encoded with sorted keys, bodies re-marshalled
//!   with sorted keys; only `result` is read) and its synchronizer, plus the
//!   older client whose event sync sent `extra={"namespace":"NS"}` raw;
//!   `bcs-mesos-watch` (historical) for the mesos PUTs and dirty cleanup.
//! - storage SDK: `bcs-common/pkg/bcsapi/storage.go` (every request carries
//!   the body `{}`, GETs too; query strings written into the path; paging by
//!   200 until a short page; `result` is read, `data` decoded into typed
//!   lists whose `_id` is a string and times are RFC 3339).
//! - console backend: `bcs-services/cluster-resources/pkg/storage/storage.go`
//!   (multi-cluster lists, `limit` 1000 until a short page, conditions with
//!   Go field names; HTTP 200 and an integer `code` required) and its events
//!   proxy for the web console (`bcs-ui` event-query-table).
//! - `bcs-unified-apiserver` (custom resource list with `namespace=`),
//!   `bcs-project-manager` (dotted filter), `bcs-data-manager` (start-up
//!   probes), `bcs-client`, and the historical metricservice, watch SDK,
//!   bcs-scheduler events and bcs-health alarms.
//!
//! The service runs with its shipped default `server.always_http_200 =
//! true`, as these clients need. Every backend runs every case; failures are
//! collected and reported together.

use serde_json::{Value, json};

use crate::common::{Backend, Reply, TestApp, backends};

const CLUSTER: &str = "BCS-K8S-40000";

/// A test run over one app: sends requests, checks them as the Go client
/// would, collects every failure.
struct Go<'a> {
    app: &'a TestApp,
    failures: Vec<String>,
}

impl<'a> Go<'a> {
    async fn new(b: Backend, app: &'a TestApp) -> Go<'a> {
        let _ = b;
        Go {
            app,
            failures: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, target: &str, body: Option<&str>) -> Reply {
        self.app.send(method, target, body.map(str::as_bytes)).await
    }

    fn check(&mut self, who: &str, ok: bool, what: impl std::fmt::Display) {
        if !ok {
            self.failures.push(format!("{who}: {what}"));
        }
    }

    /// The envelope every Go client decodes: HTTP 200 (several clients
    /// refuse anything else), `code` a JSON integer, `result` a bool,
    /// `message` a string. Returns whether it is a success.
    fn envelope(&mut self, who: &str, r: &Reply) -> bool {
        let b = &r.body;
        let shape = r.status == 200
            && b["code"].is_i64()
            && b["result"].is_boolean()
            && b["message"].is_string()
            && b.get("data").is_some();
        self.check(
            who,
            shape,
            format!("not a Go envelope with HTTP 200: {} {}", r.status, r.raw),
        );
        shape && b["result"] == json!(true) && b["code"] == json!(0)
    }

    /// A success; false (recorded) otherwise.
    fn ok(&mut self, who: &str, r: &Reply) -> bool {
        let ok = self.envelope(who, r);
        self.check(who, ok, format!("refused: {}", r.raw));
        ok
    }

    /// A refusal the Go client reads as an error: HTTP 200, `result` false
    /// and `code`.
    fn refused(&mut self, who: &str, r: &Reply, code: i64) {
        let success = self.envelope(who, r);
        self.check(
            who,
            !success && r.code() == code,
            format!("expected code {code}: {}", r.raw),
        );
    }

    /// `data` as a Go slice: an array (`null` decodes to an empty one; an
    /// object breaks every typed client).
    fn list(&mut self, who: &str, r: &Reply) -> Vec<Value> {
        if !self.ok(who, r) {
            return Vec::new();
        }
        match r.data() {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => {
                self.check(who, false, format!("data is not a list: {other}"));
                Vec::new()
            }
        }
    }

    /// An item decoded into the SDK's `CommonDataHeader` and a non-nil
    /// `Data`: `_id` a string, times RFC 3339 strings, `data` present.
    fn header(&mut self, who: &str, item: &Value) {
        let id = item["_id"].as_str().is_some_and(|s| s.len() == 24);
        self.check(who, id, format!("_id is not a 24-hex string: {item}"));
        for t in ["createTime", "updateTime"] {
            let v = &item[t];
            let rfc = v.is_null()
                || v.as_str()
                    .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok());
            self.check(who, rfc, format!("{t} is not RFC 3339: {v}"));
        }
        for s in ["clusterId", "namespace", "resourceType", "resourceName"] {
            let v = &item[s];
            self.check(
                who,
                v.is_null() || v.is_string(),
                format!("{s} is not a string: {v}"),
            );
        }
        self.check(who, item.get("data").is_some(), format!("no data: {item}"));
        self.check(
            who,
            item.get("_isBcsObjectDeleted").is_none() && item.get("_bcsTimes").is_none(),
            format!("internal fields shown: {item}"),
        );
    }

    fn names(items: &[Value], path: &[&str]) -> Vec<String> {
        items
            .iter()
            .map(|i| {
                path.iter()
                    .fold(i, |v, k| &v[*k])
                    .as_str()
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect()
    }

    fn done(self, b: Backend) {
        assert!(
            self.failures.is_empty(),
            "{b:?}: {} Go client expectation(s) failed:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// Stores many dynamic documents fast, as a Go-era database holds them: on
/// MongoDB one bulk insert of the Go service's document shape (the test
/// server is slow per write), elsewhere through the store.
async fn seed_many(app: &TestApp, docs: Vec<(&str, &str, &str, String, Value)>) {
    let now = chrono::Utc::now().timestamp_millis();
    match app.store.backend {
        Backend::Mongo => {
            let mut by_type: std::collections::BTreeMap<&str, Vec<bson::Document>> =
                Default::default();
            for (i, (cluster, ns, rtype, name, data)) in docs.into_iter().enumerate() {
                let t = bson::DateTime::from_millis(now + i as i64);
                by_type.entry(rtype).or_default().push(bson::doc! {
                    "clusterId": cluster, "namespace": ns, "resourceType": rtype,
                    "resourceName": name, "data": bson::to_bson(&data).expect("bson"),
                    "createTime": t, "updateTime": t, "_isBcsObjectDeleted": false,
                });
            }
            for (rtype, docs) in by_type {
                app.store
                    .mongo_collection(bcs_storage::model::Database::Dynamic, rtype)
                    .await
                    .insert_many(docs)
                    .await
                    .expect("insert");
            }
        }
        Backend::Sqlite => {
            for (i, (cluster, ns, rtype, name, data)) in docs.into_iter().enumerate() {
                let t = bcs_storage::model::date_millis(now + i as i64);
                let d = json!({"_id": bson::oid::ObjectId::new().to_hex(), "clusterId": cluster,
                               "namespace": ns, "resourceType": rtype, "resourceName": name,
                               "data": data, "createTime": t, "updateTime": t});
                let ns = bcs_storage::model::Namespace {
                    database: bcs_storage::model::Database::Dynamic,
                    collection: rtype.to_owned(),
                    key_fields: bcs_storage::domain::dynamic::DYNAMIC_KEY,
                };
                let Value::Object(d) = d else { unreachable!() };
                app.store.store.upsert(&ns, d).await.expect("seed");
            }
        }
    }
}

/// The app as deployed: shipped defaults (HTTP 200 for every envelope).
async fn go_app(b: Backend) -> TestApp {
    TestApp::with_settings(b, |s| s.server.always_http_200 = true).await
}

// ---------------------------------------------------------------------------
// The data-watch agent (bcs-k8s-watch), as it arrives through gorequest.

/// A Pod as the agent PUTs it (keys sorted at every level, nulls kept).
const AGENT_POD: &str = r#"{"data":{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{"workload.bkbcs.tencent.com/kind":"Deployment","workload.bkbcs.tencent.com/name":"nginx"},"creationTimestamp":"2024-06-25T08:00:00Z","generateName":"nginx-7c5ddbdf54-","labels":{"app":"nginx","pod-template-hash":"7c5ddbdf54"},"name":"nginx-7c5ddbdf54-x2x7k","namespace":"default","ownerReferences":[{"apiVersion":"apps/v1","blockOwnerDeletion":true,"controller":true,"kind":"ReplicaSet","name":"nginx-7c5ddbdf54","uid":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}],"resourceVersion":"123456","uid":"0b0d6b4e-9e5f-4b8f-8c39-1f2a3b4c5d6e"},"spec":{"containers":[{"image":"nginx:1.25","imagePullPolicy":"IfNotPresent","name":"nginx","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","nodeName":"node-1","priority":0,"restartPolicy":"Always","schedulerName":"default-scheduler","serviceAccountName":"default","terminationGracePeriodSeconds":30},"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2024-06-25T08:00:05Z","status":"True","type":"Ready"}],"hostIP":"10.0.0.11","phase":"Running","podIP":"172.16.0.5","qosClass":"BestEffort","startTime":"2024-06-25T08:00:00Z"}}}"#;

/// A k8s Event as the agent PUTs it: BcsStorageEventIf, every field
/// present, keys sorted; `level`, `kind`, `component` the raw k8s strings.
fn agent_event(name: &str, namespace: &str, rv: &str, event_time: i64) -> String {
    format!(
        r#"{{"clusterId":"{CLUSTER}","component":"kubelet","data":{{"apiVersion":"v1","count":1,"eventTime":null,"firstTimestamp":"2024-06-25T08:00:01Z","involvedObject":{{"apiVersion":"v1","fieldPath":"spec.containers{{nginx}}","kind":"Pod","name":"nginx-7c5ddbdf54-x2x7k","namespace":"{namespace}","resourceVersion":"123450","uid":"0b0d6b4e-9e5f-4b8f-8c39-1f2a3b4c5d6e"}},"kind":"Event","lastTimestamp":"2024-06-25T08:00:01Z","message":"Container image \"nginx:1.25\" already present on machine","metadata":{{"creationTimestamp":"2024-06-25T08:00:01Z","name":"{name}","namespace":"{namespace}","resourceVersion":"{rv}","uid":"11111111-2222-3333-4444-555555555555"}},"reason":"Pulled","reportingComponent":"kubelet","reportingInstance":"node-1","source":{{"component":"kubelet","host":"node-1"}},"type":"Normal"}},"describe":"Container image \"nginx:1.25\" already present on machine","env":"k8s","eventTime":{event_time},"extraInfo":{{"kind":"Pod","name":"nginx-7c5ddbdf54-x2x7k","namespace":"{namespace}"}},"id":"","kind":"Pod","level":"Normal","type":"Pulled"}}"#
    )
}

#[actix_web::test]
async fn the_data_watch_agent_writes_syncs_and_deletes() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        let ns_url = format!(
            "/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/{CLUSTER}/namespaces/default"
        );
        // Watch add/update: the Pod PUT, byte for byte.
        let pod = format!("{ns_url}/Pod/nginx-7c5ddbdf54-x2x7k");
        let r = go.send("PUT", &pod, Some(AGENT_POD)).await;
        go.ok("agent PUT Pod", &r);
        for i in 0..3 {
            let body = format!(
                r#"{{"data":{{"apiVersion":"v1","kind":"Pod","metadata":{{"labels":{{"app":"{}"}},"name":"p{i}","namespace":"default"}},"spec":{{"nodeName":"node-1"}}}}}}"#,
                if i == 0 { "web" } else { "nginx" }
            );
            let r = go
                .send("PUT", &format!("{ns_url}/Pod/p{i}"), Some(&body))
                .await;
            go.ok("agent PUT Pod", &r);
        }
        // A cluster-scoped object, and one whose data is nil.
        let nodes = format!("/bcsstorage/v1/k8s/dynamic/cluster_resources/clusters/{CLUSTER}/Node");
        let r = go
            .send("PUT", &format!("{nodes}/node-1"), Some(r#"{"data":{"apiVersion":"v1","kind":"Node","metadata":{"labels":{"kubernetes.io/hostname":"node-1"},"name":"node-1"}}}"#))
            .await;
        go.ok("agent PUT Node", &r);
        let r = go
            .send("PUT", &format!("{nodes}/node-2"), Some(r#"{"data":null}"#))
            .await;
        go.ok("agent PUT Node with nil data", &r);
        // Start-up sync of a namespaced kind: names by page of 500, the
        // query sorted by gorequest; every item holds only strings.
        let r = go
            .send(
                "GET",
                &format!("{ns_url}/Pod?field=resourceName&limit=500&offset=0"),
                None,
            )
            .await;
        let items = go.list("agent sync list", &r);
        let mut names = Go::names(&items, &["resourceName"]);
        names.sort();
        go.check(
            "agent sync list",
            names == ["nginx-7c5ddbdf54-x2x7k", "p0", "p1", "p2"],
            format!("{names:?}"),
        );
        for item in &items {
            let strings = item
                .as_object()
                .is_some_and(|o| o.values().all(Value::is_string));
            go.check(
                "agent sync list",
                strings,
                format!("not map[string]string: {item}"),
            );
        }
        // With the watcher's label selector as data.metadata.labels.<k>=<v>.
        let r = go
            .send(
                "GET",
                &format!("{ns_url}/Pod?data.metadata.labels.app=nginx&field=resourceName&limit=500&offset=0"),
                None,
            )
            .await;
        let mut names = Go::names(&go.list("agent sync list by label", &r), &["resourceName"]);
        names.sort();
        go.check(
            "agent sync list by label",
            names == ["nginx-7c5ddbdf54-x2x7k", "p1", "p2"],
            format!("{names:?}"),
        );
        // A cluster-scoped kind: one unpaged list.
        let r = go
            .send("GET", &format!("{nodes}?field=resourceName"), None)
            .await;
        let names = Go::names(&go.list("agent cluster sync list", &r), &["resourceName"]);
        go.check(
            "agent cluster sync list",
            names == ["node-1", "node-2"],
            format!("{names:?}"),
        );
        // Informer delete: no body.
        let r = go.send("DELETE", &format!("{ns_url}/Pod/p0"), None).await;
        go.ok("agent DELETE Pod", &r);
        let r = go.send("DELETE", &format!("{ns_url}/Pod/p0"), None).await;
        go.ok("agent DELETE Pod again", &r);
        // ExportService goes to the watch key/value route.
        let r = go
            .send(
                "PUT",
                &format!("/bcsstorage/v1/k8s/watch/clusters/{CLUSTER}/namespaces/default/exportservice/web"),
                Some(r#"{"data":{"apiVersion":"v1","kind":"ExportService","metadata":{"name":"web","namespace":"default"},"spec":{"ports":null}}}"#),
            )
            .await;
        go.ok("agent PUT ExportService", &r);
        go.done(b);
    }
}

#[actix_web::test]
async fn the_agent_event_sync_sees_exactly_its_namespace_in_both_versions() {
    let now = chrono::Utc::now().timestamp();
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        // Events of two namespaces, and one seen twice (the informer's add
        // and the sync's re-PUT): stored once.
        for (name, ns, rv) in [
            ("e1", "default", "1"),
            ("e2", "default", "2"),
            ("e3", "kube-public", "3"),
            ("e1", "default", "1"),
        ] {
            let r = go
                .send(
                    "PUT",
                    "/bcsstorage/v1/events",
                    Some(&agent_event(name, ns, rv, now - 60)),
                )
                .await;
            go.ok("agent PUT event", &r);
        }
        // An event whose timestamps are all zero: eventTime is year 1.
        let zero = r#"{"clusterId":"BCS-K8S-40000","component":"","data":{},"describe":"","env":"k8s","eventTime":-62135596800,"extraInfo":{"kind":"","name":"","namespace":""},"id":"","kind":"","level":"","type":""}"#;
        let r = go.send("PUT", "/bcsstorage/v1/events", Some(zero)).await;
        go.ok("agent PUT all-zero event", &r);
        let (t1, t2) = (now - 3600, now + 1);
        // Today's agent: extraInfo.namespace, pages of 500 by length/offset.
        let today = format!(
            "/bcsstorage/v1/events?clusterId={CLUSTER}&extraInfo.namespace=default&field=data.metadata.name&length=500&offset=0&timeBegin={t1}&timeEnd={t2}"
        );
        // The agent of 2022: raw JSON extra, re-encoded by gorequest, no paging.
        let old = format!(
            "/bcsstorage/v1/events?clusterId={CLUSTER}&extra=%7B%22namespace%22%3A%22default%22%7D&field=data.metadata.name&timeBegin={t1}&timeEnd={t2}"
        );
        for (who, target) in [("event sync", today), ("event sync (2022 agent)", old)] {
            let r = go.send("GET", &target, None).await;
            let items = go.list(who, &r);
            // The agent keys them queried-namespace/data.metadata.name, and
            // panics on an item without data.metadata.
            let mut names = Go::names(&items, &["data", "metadata", "name"]);
            names.sort();
            go.check(
                who,
                names == ["e1", "e2"],
                format!("{names:?} in {}", r.raw),
            );
            for item in &items {
                let only = item
                    .as_object()
                    .is_some_and(|o| o.iter().all(|(k, v)| k == "data" || v.is_string()));
                go.check(who, only, format!("other keys must be strings: {item}"));
            }
        }
        // An extra that is neither base64 nor JSON is still refused, and on
        // a delete only base64 is taken.
        let r = go
            .send(
                "GET",
                &format!("/bcsstorage/v1/events?clusterId={CLUSTER}&extra=%7Bnot"),
                None,
            )
            .await;
        go.refused("garbled extra", &r, 1_405_090);
        let r = go
            .send(
                "DELETE",
                &format!("/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/{CLUSTER}/namespaces/default/Event?extra=%7B%22resourceName%22%3A%22e1%22%7D"),
                None,
            )
            .await;
        go.refused("raw JSON extra on a delete", &r, 1_405_090);
        go.done(b);
    }
}

#[actix_web::test]
async fn the_mesos_watch_writes_and_cleans_up_by_time() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        let base = "/bcsstorage/v1/mesos/dynamic/namespace_resources/clusters/BCS-MESOS-10001/namespaces/default";
        // encoding/json in struct order (not sorted), as mesos-watch sent it.
        let app_body = r#"{"data":{"kind":"application","name":"app-1","namespace":"default","status":"Running","instance":1,"createTime":"2020-01-02T03:04:05+08:00","lastUpdateTime":"2020-01-02T03:04:05+08:00","pods":null}}"#;
        let r = go
            .send("PUT", &format!("{base}/application/app-1"), Some(app_body))
            .await;
        go.ok("mesos-watch PUT application", &r);
        // The dirty cleanup (every 300 s): a DELETE with a JSON body.
        let before = chrono::Utc::now().timestamp() - 600;
        let r = go
            .send(
                "DELETE",
                "/bcsstorage/v1/mesos/dynamic/all_resources/clusters/BCS-MESOS-10001/application",
                Some(&format!(
                    r#"{{"updateTimeBegin":0,"updateTimeEnd":{before}}}"#
                )),
            )
            .await;
        go.ok("mesos-watch dirty cleanup", &r);
        // Written just now: not dirty.
        let r = go
            .send("GET", &format!("{base}/application/app-1"), None)
            .await;
        go.ok("mesos-watch application kept", &r);
        go.done(b);
    }
}

// ---------------------------------------------------------------------------
// The storage SDK (bcs-common/pkg/bcsapi), used by helm-manager,
// data-manager, bkcmdb-synchronizer: body `{}` on every request.

#[actix_web::test]
async fn the_storage_sdk_pages_by_200_until_a_short_page() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        let ns_url = format!(
            "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{CLUSTER}/namespaces/default"
        );
        let n = 410;
        let pods = (0..n)
            .map(|i| {
                let name = format!("pod-{i:03}");
                let data = json!({"metadata": {"name": name, "namespace": "default",
                                               "creationTimestamp": "2024-01-01T00:00:00Z"}});
                (CLUSTER, "default", "Pod", name, data)
            })
            .collect();
        seed_many(&app, pods).await;
        // QueryK8SPod: `?offset=N&limit=200` (Sprintf order), body `{}`.
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let r = go
                .send(
                    "GET",
                    &format!("{ns_url}/Pod?offset={offset}&limit=200"),
                    Some("{}"),
                )
                .await;
            let page = go.list("SDK QueryK8SPod", &r);
            for item in &page {
                go.header("SDK QueryK8SPod", item);
            }
            seen.extend(Go::names(&page, &["resourceName"]));
            if page.len() < 200 {
                break;
            }
            offset += 200;
        }
        let mut distinct = seen.clone();
        distinct.sort();
        distinct.dedup();
        go.check(
            "SDK QueryK8SPod paging",
            seen.len() == n && distinct.len() == n,
            format!("{} items, {} distinct, of {n}", seen.len(), distinct.len()),
        );
        // Get by name (with a stray limit): one object.
        let r = go
            .send(
                "GET",
                &format!("{ns_url}/Pod/pod-007?limit=200"),
                Some("{}"),
            )
            .await;
        if go.ok("SDK QueryK8SPod by name", &r) {
            go.check(
                "SDK QueryK8SPod by name",
                r.data().is_object(),
                r.raw.clone(),
            );
            go.header("SDK QueryK8SPod by name", r.data());
        }
        // QueryK8sReplicaSet with a name first in the query.
        let r = go
            .send(
                "GET",
                &format!("{ns_url}/ReplicaSet?resourceName=rs-1&offset=0&limit=200"),
                Some("{}"),
            )
            .await;
        let none = go.list("SDK QueryK8sReplicaSet", &r);
        go.check("SDK QueryK8sReplicaSet", none.is_empty(), r.raw.clone());
        // data-manager's start-up probes: both must answer result true.
        for probe in [
            "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/test/namespaces/test/Deployment?offset=0&limit=200",
            "/bcsapi/v4/storage/query/mesos/dynamic/clusters/test/deployment?offset=0&limit=200",
        ] {
            let r = go.send("GET", probe, Some("{}")).await;
            go.list("data-manager start-up probe", &r);
        }
        // QueryMesosNamespace: no paging, strings.
        let r = go
            .send(
                "GET",
                "/bcsapi/v4/storage/query/mesos/dynamic/clusters/BCS-MESOS-1/namespace",
                Some("{}"),
            )
            .await;
        let names = go.list("SDK QueryMesosNamespace", &r);
        go.check(
            "SDK QueryMesosNamespace",
            names.iter().all(Value::is_string),
            r.raw.clone(),
        );
        go.done(b);
    }
}

#[actix_web::test]
async fn the_storage_sdk_custom_resources_and_indexes() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        let cr = "/bcsstorage/v1/dynamic/customresources/MyCR";
        // CreateCustomResourceIndex: json.Marshal of a bson.D.
        let r = go
            .send(
                "PUT",
                &format!("{cr}/index/idx1"),
                Some(r#"[{"Key":"data.metadata.name","Value":1},{"Key":"clusterId","Value":1}]"#),
            )
            .await;
        go.ok("SDK CreateCustomResourceIndex", &r);
        // A nil index key (`null`) names no keys.
        let r = go
            .send("PUT", &format!("{cr}/index/idx2"), Some("null"))
            .await;
        go.refused("SDK CreateCustomResourceIndex with nil keys", &r, 1_405_080);
        // PutCustomResource of a map (sorted keys), twice: one document.
        let doc = r#"{"clusterId":"BCS-K8S-40000","data":{"metadata":{"name":"a"}},"namespace":"default"}"#;
        for _ in 0..2 {
            let r = go.send("PUT", cr, Some(doc)).await;
            go.ok("SDK PutCustomResource", &r);
        }
        let r = go
            .send("PUT", cr, Some(r#"{"clusterId":"BCS-K8S-40001","data":{"metadata":{"name":"a"}},"namespace":"other"}"#))
            .await;
        go.ok("SDK PutCustomResource", &r);
        // ListCustomResource: `?clusterId=C[&namespace=NS]`, or `?clusterId=`
        // when the caller gave none (every document then).
        for (target, want) in [
            (format!("{cr}?clusterId={CLUSTER}&namespace=default"), 1),
            (format!("{cr}?clusterId={CLUSTER}"), 1),
            (format!("{cr}?clusterId="), 2),
            (
                format!(
                    "/bcsapi/v4/storage/dynamic/customresources/MyCR?clusterId={CLUSTER}%2CBCS-K8S-40001"
                ),
                2,
            ),
        ] {
            let r = go.send("GET", &target, Some("{}")).await;
            let items = go.list("SDK ListCustomResource", &r);
            go.check(
                "SDK ListCustomResource",
                items.len() == want,
                format!("{target}: {}", r.raw),
            );
        }
        // DeleteCustomResource sends no filter (the SDK drops it): refused
        // instead of emptying the collection.
        let r = go.send("DELETE", cr, Some("{}")).await;
        go.refused("SDK DeleteCustomResource without a filter", &r, 1_405_090);
        let r = go
            .send("GET", &format!("{cr}?clusterId="), Some("{}"))
            .await;
        let left = go.list("SDK ListCustomResource", &r);
        go.check("nothing deleted", left.len() == 2, r.raw.clone());
        let r = go
            .send("DELETE", &format!("{cr}/index/idx1"), Some("{}"))
            .await;
        go.ok("SDK DeleteCustomResourceIndex", &r);
        go.done(b);
    }
}

// ---------------------------------------------------------------------------
// The console backend (cluster-resources) and the web console.

/// Seeds pods of two clusters for the multi-cluster lists.
async fn seed_console(go: &mut Go<'_>, n_default: usize) {
    let pods = (0..n_default)
        .map(|i| {
            let name = format!("web-{i:04}");
            let data = json!({"metadata": {"name": name, "namespace": "default",
                                           "labels": {"app": "web"}}});
            (CLUSTER, "default", "Pod", name, data)
        })
        .collect();
    seed_many(go.app, pods).await;
    for (cluster, ns, name, labels) in [
        (
            CLUSTER,
            "kube-system",
            "dns",
            r#"{"app.kubernetes.io/name":"dns","tier":"db"}"#,
        ),
        (
            "BCS-K8S-40001",
            "default",
            "api",
            r#"{"app":"api","env":"prod"}"#,
        ),
        ("BCS-K8S-40001", "ns2", "job", r#"{"app":"batch"}"#),
    ] {
        let body = format!(
            r#"{{"data":{{"metadata":{{"name":"{name}","namespace":"{ns}","labels":{labels},"annotations":{{"io.tencent.paas.creator":"admin"}}}}}}}}"#
        );
        let url = format!(
            "/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces/{ns}/Pod/{name}"
        );
        let r = go.send("PUT", &url, Some(&body)).await;
        go.ok("seed", &r);
    }
}

/// What ListMultiClusterResources accepts: HTTP 200, code an integer 0,
/// data []{clusterId, resourceType, data}, total an integer.
fn console_page(go: &mut Go<'_>, who: &str, r: &Reply) -> Vec<Value> {
    let items = go.list(who, r);
    go.check(
        who,
        r.body["total"].is_u64(),
        format!("total is not an integer: {}", r.raw),
    );
    for item in &items {
        let ok = item["clusterId"].is_string()
            && item["resourceType"].is_string()
            && item["data"].is_object();
        go.check(who, ok, format!("not a Resource: {item}"));
    }
    items
}

#[actix_web::test]
async fn the_console_lists_many_clusters_as_go_marshals_its_request() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        seed_console(&mut go, 1001).await;
        let url = "/bcsapi/v4/storage/k8s/dynamic/multicluster_resources/Pod";
        // ListAllMultiClusterResources: limit 1000, offset += 1000 until a
        // short page; nil namespaces; no saved view (conditions []).
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let body = format!(
                r#"{{"offset":{offset},"limit":1000,"clusteredNamespaces":[{{"clusterId":"BCS-K8S-40000","namespaces":["default","kube-system"]}},{{"clusterId":"BCS-K8S-40001","namespaces":null}}],"field":"","conditions":[]}}"#
            );
            let r = go.send("POST", url, Some(&body)).await;
            let page = console_page(&mut go, "console multicluster list", &r);
            go.check(
                "console multicluster total",
                r.body["total"] == json!(1004),
                r.body["total"].to_string(),
            );
            all.extend(Go::names(&page, &["data", "metadata", "name"]));
            if page.len() < 1000 || offset > 5000 {
                break;
            }
            offset += 1000;
        }
        let mut distinct = all.clone();
        distinct.sort();
        distinct.dedup();
        go.check(
            "console multicluster paging",
            all.len() == 1004 && distinct.len() == 1004,
            format!("{} items, {} distinct", all.len(), distinct.len()),
        );
        go.done(b);
    }
}

#[actix_web::test]
async fn the_console_saved_views_and_suggestions() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        seed_console(&mut go, 8).await;
        let url = "/bcsapi/v4/storage/k8s/dynamic/multicluster_resources/Pod";
        // A saved view: every condition kind the view filter makes, label
        // keys with the full-width dot, leaves with "Children":null.
        let cases: [(&str, &[&str]); 6] = [
            (
                r#"[{"Op":"in","Value":{"data.metadata.annotations.io．tencent．paas．creator":["admin","bob"]},"Children":null},{"Op":"eq","Value":{"data.metadata.labels.app．kubernetes．io/name":"dns"},"Children":null}]"#,
                &["dns"],
            ),
            (
                r#"[{"Op":"con","Value":{"data.metadata.name":"ap"},"Children":null},{"Op":"not","Value":{"data.metadata.labels.env":"dev"},"Children":null},{"Op":"nin","Value":{"data.metadata.labels.app":["web"]},"Children":null}]"#,
                &["api"],
            ),
            (
                r#"[{"Op":"exists","Value":{"data.metadata.labels.tier":""},"Children":null}]"#,
                &["dns"],
            ),
            (
                r#"[{"Op":"eq","Value":{"data.metadata.labels.app":null},"Children":null}]"#,
                &["dns"],
            ),
            (
                r#"[{"Op":"eq","Value":{"data.metadata.annotations.io．tencent．paas．creator":null},"Children":null},{"Op":"eq","Value":{"data.metadata.labels.app":"web"},"Children":null},{"Op":"con","Value":{"data.metadata.name":"web-0007"},"Children":null}]"#,
                &["web-0007"],
            ),
            (
                r#"[{"Op":"tr","Value":{},"Children":null},{"Op":"eq","Value":{"data.metadata.labels.app":"batch"},"Children":null}]"#,
                &["job"],
            ),
        ];
        for (conditions, want) in cases {
            let body = format!(
                r#"{{"offset":0,"limit":1000,"clusteredNamespaces":[{{"clusterId":"BCS-K8S-40000","namespaces":null}},{{"clusterId":"BCS-K8S-40001","namespaces":null}}],"field":"","conditions":{conditions}}}"#
            );
            let r = go.send("POST", url, Some(&body)).await;
            let mut names = Go::names(
                &console_page(&mut go, "console saved view", &r),
                &["data", "metadata", "name"],
            );
            names.sort();
            go.check(
                "console saved view",
                names == want,
                format!("{conditions}: {names:?}"),
            );
        }
        // View suggestions: nil conditions, one page.
        let r = go
            .send("POST", url, Some(r#"{"offset":0,"limit":1000,"clusteredNamespaces":[{"clusterId":"BCS-K8S-40001","namespaces":null}],"field":"","conditions":null}"#))
            .await;
        let names = Go::names(
            &console_page(&mut go, "console view suggestions", &r),
            &["data", "metadata", "name"],
        );
        go.check(
            "console view suggestions",
            names.len() == 2,
            format!("{names:?}"),
        );
        // ... and with no cluster at all: an error the client swallows.
        let r = go
            .send("POST", url, Some(r#"{"offset":0,"limit":1000,"clusteredNamespaces":[],"field":"","conditions":null}"#))
            .await;
        go.refused("console view suggestions without clusters", &r, 1_405_090);
        // HTML characters as encoding/json escapes them.
        let r = go
            .send("POST", url, Some(r#"{"offset":0,"limit":1000,"clusteredNamespaces":[{"clusterId":"BCS-K8S-40000","namespaces":["a\u003cb\u003e\u0026"]}],"field":"","conditions":[]}"#))
            .await;
        let none = console_page(&mut go, "console escaped namespace", &r);
        go.check("console escaped namespace", none.is_empty(), r.raw.clone());
        // The sort map of the server's request type.
        let r = go
            .send("POST", url, Some(r#"{"offset":0,"limit":2,"clusteredNamespaces":[{"clusterId":"BCS-K8S-40001","namespaces":null}],"field":"","labelSelector":"","conditions":null,"sort":{"resourceName":1}}"#))
            .await;
        let names = Go::names(
            &console_page(&mut go, "multicluster sort", &r),
            &["resourceName"],
        );
        go.check(
            "multicluster sort",
            names == ["api", "job"],
            format!("{names:?}"),
        );
        go.done(b);
    }
}

#[actix_web::test]
async fn the_web_console_event_page_posts_empty_strings_for_unset_filters() {
    let now = chrono::Utc::now().timestamp();
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        for (name, ns, rv, t) in [
            ("e1", "default", "1", now - 60),
            ("e2", "kube-public", "2", now - 30),
        ] {
            let r = go
                .send(
                    "PUT",
                    "/bcsstorage/v1/events",
                    Some(&agent_event(name, ns, rv, t)),
                )
                .await;
            go.ok("seed", &r);
        }
        let target = format!("/bcsstorage/v1/events?clusterId={CLUSTER}");
        // The project event page with no filters (its default view).
        let r = go
            .send("POST", &target, Some(r#"{"clusterId":"BCS-K8S-40000","offset":0,"length":10,"env":"k8s","kind":"","extraInfo.namespace":"","extraInfo.name":"","timeBegin":"","timeEnd":"","level":"","component":""}"#))
            .await;
        let items = go.list("console events (no filter)", &r);
        go.check(
            "console events (no filter)",
            items.len() == 2 && r.body["total"] == json!(2),
            r.raw.clone(),
        );
        for item in &items {
            let t = item["eventTime"]
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok());
            go.check("console events eventTime", t, item["eventTime"].to_string());
        }
        // A Service tab, date range picked: numbers and strings mixed.
        let body = format!(
            r#"{{"clusterId":"BCS-K8S-40000","offset":0,"length":10,"env":"k8s","kind":"Pod","extraInfo.namespace":"default","extraInfo.name":"nginx-7c5ddbdf54-x2x7k","timeBegin":{},"timeEnd":{},"level":"Normal","component":"kubelet"}}"#,
            now - 3600,
            now + 60
        );
        let r = go.send("POST", &target, Some(&body)).await;
        let items = go.list("console events (filtered)", &r);
        go.check(
            "console events (filtered)",
            items.len() == 1 && r.body["total"] == json!(1),
            r.raw.clone(),
        );
        // The GET variant (2025), empty values sorted in by the proxy.
        let r = go
            .send("GET", &format!("/bcsstorage/v1/events?clusterId={CLUSTER}&component=&env=k8s&extraInfo.name=&extraInfo.namespace=&kind=&length=10&level=&offset=0&timeBegin=&timeEnd="), None)
            .await;
        let items = go.list("console events (GET)", &r);
        go.check("console events (GET)", items.len() == 2, r.raw.clone());
        // A trailing slash reaches the same route.
        let r = go
            .send(
                "GET",
                &format!("/bcsstorage/v1/events/?clusterId={CLUSTER}&length=1"),
                None,
            )
            .await;
        let items = go.list("events with a trailing slash", &r);
        go.check(
            "events with a trailing slash",
            items.len() == 1,
            r.raw.clone(),
        );
        go.done(b);
    }
}

// ---------------------------------------------------------------------------
// Other services.

#[actix_web::test]
async fn the_federated_apiserver_and_the_project_manager_read_what_they_need() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        for (cluster, ns, name) in [
            (CLUSTER, "default", "a"),
            (CLUSTER, "ns2", "b"),
            ("BCS-K8S-40001", "default", "c"),
        ] {
            let url = format!(
                "/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces/{ns}/Pod/{name}"
            );
            let body = format!(
                r#"{{"data":{{"apiVersion":"v1","kind":"Pod","metadata":{{"creationTimestamp":"2024-01-01T00:00:00Z","name":"{name}","namespace":"{ns}"}}}}}}"#
            );
            let r = go.send("PUT", &url, Some(&body)).await;
            go.ok("seed", &r);
        }
        // unified-apiserver `kubectl get pods -A`: resty, sorted, `namespace=`.
        let mut pages = Vec::new();
        for offset in [0, 2] {
            let r = go
                .send("GET", &format!("/bcsapi/v4/storage/dynamic/customresources/Pod?clusterId=BCS-K8S-40000%2CBCS-K8S-40001&limit=2&namespace=&offset={offset}"), None)
                .await;
            let items = go.list("unified-apiserver list pods", &r);
            // The continue token is built from these: they must echo.
            let paging = r.body["total"] == json!(3)
                && r.body["pageSize"] == json!(2)
                && r.body["offset"] == json!(offset);
            go.check("unified-apiserver paging keys", paging, r.raw.clone());
            for item in &items {
                let ok = item["data"].is_object()
                    && [
                        "updateTime",
                        "createTime",
                        "_id",
                        "clusterId",
                        "namespace",
                        "resourceName",
                        "resourceType",
                    ]
                    .iter()
                    .all(|k| item[*k].is_string());
                go.check("unified-apiserver ResourceData", ok, item.to_string());
            }
            pages.extend(Go::names(&items, &["resourceName"]));
        }
        pages.sort();
        go.check(
            "unified-apiserver pages",
            pages == ["a", "b", "c"],
            format!("{pages:?}"),
        );
        let r = go
            .send("GET", "/bcsapi/v4/storage/dynamic/customresources/Pod?clusterId=BCS-K8S-40000&limit=500&namespace=default&offset=0", None)
            .await;
        let items = go.list("unified-apiserver list pods of a namespace", &r);
        go.check(
            "unified-apiserver namespace",
            Go::names(&items, &["resourceName"]) == ["a"],
            r.raw.clone(),
        );
        // project-manager: a dotted filter on a cluster list.
        let url = format!(
            "/bcsapi/v4/storage/k8s/dynamic/cluster_resources/clusters/{CLUSTER}/MultiClusterResourceQuota"
        );
        let quota = r#"{"data":{"apiVersion":"federation.bkbcs.tencent.com/v1","kind":"MultiClusterResourceQuota","metadata":{"creationTimestamp":null,"name":"quota 1"},"status":{"total_quota":{"used":{"cpu":"2"}}}}}"#;
        let r = go
            .send("PUT", &format!("{url}/quota%201"), Some(quota))
            .await;
        go.ok("seed", &r);
        let r = go
            .send("GET", &format!("{url}?data.metadata.name=quota+1"), None)
            .await;
        let items = go.list("project-manager quota", &r);
        let used = items
            .first()
            .map(|i| i["data"]["status"]["total_quota"]["used"]["cpu"].clone());
        go.check(
            "project-manager quota",
            used == Some(json!("2")),
            r.raw.clone(),
        );
        go.done(b);
    }
}

#[actix_web::test]
async fn metricservice_deletes_a_missing_metric_as_go_expects() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        let base = "/bcsstorage/v1/metric/clusters/BCS-K8S-40000/namespaces/default";
        // SaveMetric: ugorji in struct order, nil slices and maps as null.
        let metric = r#"{"data":{"version":"v1","name":"m1","namespace":"default","tlsConfig":{"isTLS":false,"ca":"","clientCert":"","clientKey":"","clientKeyPwd":""},"networkMode":null,"networkType":"","hostNetwork":false,"dnsPolicy":"","imagePullSecrets":null,"clusterID":"BCS-K8S-40000","clusterType":"k8s","dataID":0,"port":8080,"uri":"/metrics","method":"GET","head":null,"parameters":null,"selector":null,"frequency":60,"timeout":0,"imageBase":"","metricType":"","constLabels":null}}"#;
        let r = go
            .send("PUT", &format!("{base}/metric/m1"), Some(metric))
            .await;
        go.ok("metricservice SaveMetric", &r);
        // The application type's data is a JSON string, and reads back as one.
        let app_body = r#"{"data":"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}"}"#;
        let r = go
            .send(
                "PUT",
                &format!("{base}/application/bcs-collector-default"),
                Some(app_body),
            )
            .await;
        go.ok("metricservice SaveMetric application", &r);
        let r = go
            .send("GET", "/bcsstorage/v1/metric/clusters/BCS-K8S-40000?name=bcs-collector-default&namespace=default&type=application", None)
            .await;
        let items = go.list("metricservice QueryMetric application", &r);
        go.check(
            "metricservice QueryMetric application",
            items.first().map(|i| i["data"].clone())
                == Some(json!(
                    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}"
                )),
            r.raw.clone(),
        );
        let r = go
            .send(
                "GET",
                "/bcsstorage/v1/metric/clusters/BCS-K8S-40000?name=m1&type=metric",
                None,
            )
            .await;
        let items = go.list("metricservice QueryMetric", &r);
        go.check(
            "metricservice QueryMetric",
            items.len() == 1 && items[0]["_id"].is_string(),
            r.raw.clone(),
        );
        // GetClusters: an array, never null.
        let r = go.send("GET", "/bcsstorage/v1/metric/clusters", None).await;
        go.check(
            "metricservice GetClusters",
            r.data() == &json!(["BCS-K8S-40000"]),
            r.raw.clone(),
        );
        // DeleteMetric: HTTP 200 required; code 0, or 1405087 when missing.
        let r = go.send("DELETE", &format!("{base}/metric/m1"), None).await;
        go.ok("metricservice DeleteMetric", &r);
        let r = go.send("DELETE", &format!("{base}/metric/m1"), None).await;
        go.refused(
            "metricservice DeleteMetric of a missing metric",
            &r,
            1_405_087,
        );
        go.check(
            "metricservice DeleteMetric of a missing metric",
            r.message().contains("resource does not exist"),
            r.raw.clone(),
        );
        // GetDynamicNs: base64 extra with `=` as %3D, field with %2C.
        let rs = r#"{"data":{"metadata":{"name":"rs-1","namespace":"default","ownerReferences":[{"name":"bcs-collector-default"}]}}}"#;
        let r = go
            .send("PUT", "/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/BCS-K8S-40000/namespaces/default/ReplicaSet/rs-1", Some(rs))
            .await;
        go.ok("seed", &r);
        let r = go
            .send("GET", "/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/BCS-K8S-40000/namespaces/default/ReplicaSet?extra=eyJkYXRhLm1ldGFkYXRhLm93bmVyUmVmZXJlbmNlcy5uYW1lIjoiYmNzLWNvbGxlY3Rvci1kZWZhdWx0In0%3D&field=resourceName%2Cnamespace", None)
            .await;
        let items = go.list("metricservice GetDynamicNs", &r);
        go.check(
            "metricservice GetDynamicNs",
            items.len() == 1
                && items[0]["resourceName"] == json!("rs-1")
                && items[0]["namespace"] == json!("default"),
            r.raw.clone(),
        );
        go.done(b);
    }
}

#[actix_web::test]
async fn the_watch_sdk_and_old_writers_are_served() {
    for b in backends() {
        let app = go_app(b).await;
        let mut go = Go::new(b, &app).await;
        // The watch SDK's body (ugorji, no Content-Type); HTTP 200 required.
        let mut w = app
            .watch(
                "/bcsstorage/v1/metric/watch/BCS-K8S-40000/metric",
                r#"{"selfOnly":false,"maxEvents":0,"timeout":0,"mustDiff":"data.version"}"#,
            )
            .await;
        go.check("watch SDK", w.status == 200, format!("HTTP {}", w.status));
        let r = go
            .send(
                "PUT",
                "/bcsstorage/v1/metric/clusters/BCS-K8S-40000/namespaces/default/metric/m1",
                Some(r#"{"data":{"version":"v1","name":"m1"}}"#),
            )
            .await;
        go.ok("seed", &r);
        let frame = w.next().await;
        let added = frame
            .as_ref()
            .is_some_and(|f| f["type"] == json!(1) && f["value"]["name"] == json!("m1"));
        go.check("watch SDK event", added, format!("{frame:?}"));
        drop(w);
        // bkcmdb-synchronizer's watch: the body `{}`.
        let mut w = app
            .watch("/bcsstorage/v1/dynamic/watch/BCS-K8S-40000/Pod", "{}")
            .await;
        go.check(
            "bkcmdb watch",
            w.status == 200,
            format!("HTTP {}", w.status),
        );
        let r = go
            .send("PUT", "/bcsstorage/v1/k8s/dynamic/namespace_resources/clusters/BCS-K8S-40000/namespaces/default/Pod/p1", Some(r#"{"data":{"metadata":{"name":"p1"}}}"#))
            .await;
        go.ok("seed", &r);
        let frame = w.next().await;
        go.check(
            "bkcmdb watch event",
            frame.as_ref().is_some_and(|f| f["type"] == json!(1)),
            format!("{frame:?}"),
        );
        drop(w);
        // bcs-scheduler's mesos task event: encoding/json in struct order.
        let event = r#"{"id":"task-1","env":"mesos","kind":"task","level":"warning","component":"scheduler","type":"TASK_FAILED","describe":"task failed","clusterId":"BCS-MESOS-10001","eventTime":1700000000,"extraInfo":{"namespace":"default","name":"app-1","kind":"application"},"data":{"metadata":{"name":"task-1","namespace":"default","creationTimestamp":null},"involvedObject":{"kind":"application","namespace":"default","name":"app-1"},"reason":"","message":"task failed","source":{},"firstTimestamp":null,"lastTimestamp":null,"eventTime":null,"reportingComponent":"","reportingInstance":""}}"#;
        let r = go.send("PUT", "/bcsstorage/v1/events", Some(event)).await;
        go.ok("bcs-scheduler event", &r);
        // bcs-health's alarm: ugorji, no Content-Type, message "".
        let alarm = r#"{"clusterId":"BCS-MESOS-10001","namespace":"default","message":"","source":"bcs-health","module":"scheduler","type":"alarm","receivedTime":1700000000,"data":{"meta":{"api_version":"v0.0.1"},"spec":{"module_name":"scheduler","cluster_id":"BCS-MESOS-10001","namespace":"default","ip":"10.0.0.1","version":"v1"},"event":{"affiliation":"","app_alarm_level":"","reason":"","messages":"down","uuid":"u1","at_time":1700000000,"resource_type":"","resource_name":""},"extensions":{"labels":null,"context":""}}}"#;
        let r = go.send("POST", "/bcsstorage/v1/alarms", Some(alarm)).await;
        go.ok("bcs-health alarm", &r);
        // bcs-client: a POST query with a flat body, a GET with `{}`, an
        // inspect; HTTP 200 and a numeric code required.
        let body = r#"{"data":{"kind":"application","name":"app-1","namespace":"default","status":"Running","instance":1}}"#;
        let r = go
            .send("PUT", "/bcsapi/v4/storage/mesos/dynamic/namespace_resources/clusters/BCS-MESOS-10001/namespaces/default/application/app-1", Some(body))
            .await;
        go.ok("seed", &r);
        let r = go
            .send(
                "POST",
                "/bcsapi/v4/storage/query/mesos/dynamic/clusters/BCS-MESOS-10001/application",
                Some(r#"{"namespace":"default"}"#),
            )
            .await;
        let items = go.list("bcs-client ListApplication", &r);
        go.check(
            "bcs-client ListApplication",
            items.len() == 1 && items[0]["data"].is_object(),
            r.raw.clone(),
        );
        let r = go
            .send(
                "GET",
                "/bcsapi/v4/storage/query/mesos/dynamic/clusters/BCS-MESOS-10001/namespace",
                Some("{}"),
            )
            .await;
        let names = go.list("bcs-client ListNamespace", &r);
        go.check(
            "bcs-client ListNamespace",
            names == [json!("default")],
            r.raw.clone(),
        );
        let r = go
            .send(
                "POST",
                "/bcsapi/v4/storage/query/mesos/dynamic/clusters/BCS-MESOS-10001/ippoolstatic",
                Some("{}"),
            )
            .await;
        go.list("bcs-client ListIPPoolStatic", &r);
        let r = go
            .send("GET", "/bcsapi/v4/storage/mesos/dynamic/namespace_resources/clusters/BCS-MESOS-10001/namespaces/default/application/app-1", None)
            .await;
        if go.ok("bcs-client InspectApplication", &r) {
            go.check(
                "bcs-client InspectApplication",
                r.data()["data"]["name"] == json!("app-1"),
                r.raw.clone(),
            );
        }
        go.done(b);
    }
}
