//! HTTP tests of the query routes (contract sections 4 and 11, reference B.2
//! and C.5): `GET`/`POST {prefix}/query/{k8s|mesos}/dynamic/clusters/{c}/{kind}`.
//!
//! The per-kind parameter tables below are written from the reference
//! (C.5.1, C.5.2) and the V0.9.0 document, not copied from `src/`; one test
//! checks that they cover exactly the kinds and parameters the service serves.

use std::collections::{BTreeMap, BTreeSet};

use bcs_storage::domain::query::{Common as KCommon, Env as KEnv, KINDS, Scope as KScope};
use serde_json::{Map, Value, json};

use crate::common::{Backend, Reply, TestApp, V1, V4, backends, extra};

const PREFIXES: [&str; 2] = [V1, V4];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn query_url(prefix: &str, env: &str, cluster: &str, kind: &str) -> String {
    format!("{prefix}/query/{env}/dynamic/clusters/{cluster}/{kind}")
}

/// The dynamic PUT address of one resource (namespaced when `ns` is given).
fn put_url(env: &str, cluster: &str, ns: Option<&str>, rtype: &str, name: &str) -> String {
    match ns {
        Some(ns) => format!(
            "{V4}/{env}/dynamic/namespace_resources/clusters/{cluster}/namespaces/{ns}/{rtype}/{name}"
        ),
        None => format!("{V4}/{env}/dynamic/cluster_resources/clusters/{cluster}/{rtype}/{name}"),
    }
}

async fn put(
    app: &TestApp,
    env: &str,
    cluster: &str,
    ns: Option<&str>,
    rtype: &str,
    name: &str,
    data: &Value,
) {
    let uri = put_url(env, cluster, ns, rtype, name);
    let r = app.put_json(&uri, &json!({ "data": data })).await;
    assert!(r.status == 200 && r.result(), "PUT {uri} failed: {}", r.raw);
}

/// Shorthand for a namespaced k8s PUT.
async fn put_k8s(app: &TestApp, cluster: &str, ns: &str, rtype: &str, name: &str, data: Value) {
    put(app, "k8s", cluster, Some(ns), rtype, name, &data).await;
}

/// Shorthand for a namespaced mesos PUT.
async fn put_mesos(app: &TestApp, cluster: &str, ns: &str, rtype: &str, name: &str, data: Value) {
    put(app, "mesos", cluster, Some(ns), rtype, name, &data).await;
}

async fn post(app: &TestApp, uri: &str, body: &[u8]) -> Reply {
    app.send("POST", uri, Some(body)).await
}

/// The internal fields never appear in a reply.
#[track_caller]
fn assert_no_internal_fields(r: &Reply, ctx: &str) {
    for f in ["_bcsTimes", "_isBcsObjectDeleted"] {
        assert!(!r.raw.contains(f), "{ctx}: reply leaks {f}: {}", r.raw);
    }
}

/// The items of a successful query reply.
#[track_caller]
fn items_of(r: &Reply, ctx: &str) -> Vec<Value> {
    assert_eq!(r.status, 200, "{ctx}: {}", r.raw);
    assert!(r.result(), "{ctx}: {}", r.raw);
    assert_eq!(r.code(), 0, "{ctx}: {}", r.raw);
    assert_eq!(r.message(), "success", "{ctx}: {}", r.raw);
    assert!(
        r.content_type.starts_with("application/json"),
        "{ctx}: {}",
        r.content_type
    );
    assert_no_internal_fields(r, ctx);
    r.data()
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: data is not an array: {}", r.raw))
        .clone()
}

async fn get_items(app: &TestApp, uri: &str, ctx: &str) -> Vec<Value> {
    items_of(&app.get(uri).await, &format!("{ctx} GET {uri}"))
}

async fn post_items(app: &TestApp, uri: &str, body: &Value, ctx: &str) -> Vec<Value> {
    let r = post(app, uri, body.to_string().as_bytes()).await;
    items_of(&r, &format!("{ctx} POST {uri} {body}"))
}

/// `resourceName` of every item, in reply order.
fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|d| d["resourceName"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Names returned by GET `{url}?{q}` and by POST `{url}` with `q` as a flat
/// JSON body; asserts both agree and returns them.
async fn names_both(app: &TestApp, url: &str, q: &str, ctx: &str) -> Vec<String> {
    let get_uri = if q.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?{q}")
    };
    let by_get = names(&get_items(app, &get_uri, ctx).await);
    let by_post = names(&post_items(app, url, &body_of(q), ctx).await);
    assert_eq!(by_get, by_post, "{ctx}: GET and POST disagree for {q:?}");
    by_get
}

/// A URL query string as the flat JSON body a POST carries: integers as JSON
/// numbers, everything else as strings.
fn body_of(query: &str) -> Value {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let value = match v.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(v),
        };
        m.insert(k.into_owned(), value);
    }
    Value::Object(m)
}

/// Sets `path` (dotted) inside `v`, creating objects on the way.
fn set_path(v: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, parents) = parts.split_last().expect("non-empty path");
    let mut cur = v;
    for p in parents {
        cur = cur
            .as_object_mut()
            .expect("object on the path")
            .entry(*p)
            .or_insert_with(|| json!({}));
    }
    cur.as_object_mut()
        .expect("object on the path")
        .insert((*last).to_owned(), value);
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

fn b64_raw(s: &str) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(s);
    form_urlencoded::byte_serialize(b.as_bytes()).collect()
}

// ---------------------------------------------------------------------------
// Per-kind parameter tables
// ---------------------------------------------------------------------------

/// The three documents every kind case stores, in natural key order
/// (namespace, resourceName) when namespaced.
const DOCS: [&str; 3] = ["a", "b", "c"];
const NAMESPACES: [&str; 3] = ["ns-a", "ns-a", "ns-b"];

/// Which shared parameters a kind takes (reference C.5.1 "all").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commons {
    /// `name` and `namespace`; documents are namespaced.
    NameNamespace,
    /// `name` only; documents are cluster-scoped (k8s Namespace, Node).
    Name,
    /// Neither (IP pool statistics); documents are cluster-scoped.
    Neither,
}

/// One parameter of a kind's table: the stored path (inside `data`) the
/// documents get a value at, and the checks `(query string, names)`.
struct Field {
    param: &'static str,
    path: &'static str,
    /// A time parameter (`<param>Begin` / `<param>End`).
    time: bool,
    values: [Option<Value>; 3],
    checks: Vec<(String, Vec<&'static str>)>,
}

/// A document stored next to the three that no check may return: a copy of
/// document `b` with `path` set to `value`, PUT as `rtype/name`.
struct Stray {
    rtype: &'static str,
    name: &'static str,
    path: &'static str,
    value: Value,
}

struct KindSpec {
    env: &'static str,
    kind: &'static str,
    /// resourceType of the PUTs.
    rtype: &'static str,
    /// Collection the reference names for the kind.
    collection: &'static str,
    commons: Commons,
    fields: Vec<Field>,
    strays: Vec<Stray>,
}

fn spec(
    env: &'static str,
    kind: &'static str,
    rtype: &'static str,
    commons: Commons,
    fields: Vec<Field>,
) -> KindSpec {
    KindSpec {
        env,
        kind,
        rtype,
        collection: rtype,
        commons,
        fields,
        strays: Vec::new(),
    }
}

fn pick(docs: &[usize]) -> Vec<&'static str> {
    docs.iter().map(|&d| DOCS[d]).collect()
}

/// A string parameter: comma lists, any may match, case-sensitive.
fn s(param: &'static str, path: &'static str) -> Field {
    let v = |d: &str| format!("{param}-{d}");
    Field {
        param,
        path,
        time: false,
        values: [
            Some(json!(v("a"))),
            Some(json!(v("b"))),
            Some(json!(v("c"))),
        ],
        checks: vec![
            (format!("{param}={}", v("b")), pick(&[1])),
            (
                format!("{param}={},{},{}", v("a"), v("c"), v("z")),
                pick(&[0, 2]),
            ),
            (format!("{param}={}", v("B")), pick(&[])),
        ],
    }
}

/// An integer parameter: numeric equality (a stored string never matches);
/// `k` makes the values differ between the parameters of one kind.
fn i(param: &'static str, path: &'static str, k: i64) -> Field {
    let (x, y) = (10 * k + 1, 10 * k + 3);
    Field {
        param,
        path,
        time: false,
        values: [Some(json!(x)), Some(json!(y)), Some(json!(y.to_string()))],
        checks: vec![
            (format!("{param}={y}"), pick(&[1])),
            (format!("{param}={x},{y}"), pick(&[0, 1])),
            (format!("{param}={}", 10 * k + 2), pick(&[])),
        ],
    }
}

/// A bool parameter: `true`/`1` in any case is true, anything else false;
/// document c has no value.
fn b(param: &'static str, path: &'static str) -> Field {
    Field {
        param,
        path,
        time: false,
        values: [Some(json!(true)), Some(json!(false)), None],
        checks: vec![
            (format!("{param}=true"), pick(&[0])),
            (format!("{param}=TRUE"), pick(&[0])),
            (format!("{param}=1"), pick(&[0])),
            (format!("{param}=false"), pick(&[1])),
            (format!("{param}=0"), pick(&[1])),
            (format!("{param}=F"), pick(&[1])),
            (format!("{param}=True"), pick(&[0])),
        ],
    }
}

/// Stored time strings: 07:37:44Z (written +08:00), 08:30:00Z, 09:00:00.250Z.
const TIMES: [&str; 3] = [
    "2017-10-09T15:37:44+08:00",
    "2017-10-09T08:30:00Z",
    "2017-10-09T09:00:00.250Z",
];

/// A time parameter over time strings; `rot` rotates which document gets
/// which time so that the time parameters of one kind give different sets.
fn t(param: &'static str, path: &'static str, rot: usize) -> Field {
    time_field(param, path, rot, |slot| json!(TIMES[slot]))
}

/// A time parameter over stored unix seconds (mesos `last_rolling_time`).
fn t_secs(param: &'static str, path: &'static str, rot: usize) -> Field {
    time_field(param, path, rot, |slot| match slot {
        0 => json!(1_507_534_664),
        1 => json!(1_507_537_800),
        _ => json!(1_507_539_600.25),
    })
}

fn time_field(
    param: &'static str,
    path: &'static str,
    rot: usize,
    value: impl Fn(usize) -> Value,
) -> Field {
    let slot = |d: usize| (d + rot) % 3;
    let with = |slots: &[usize]| -> Vec<&'static str> {
        (0..3)
            .filter(|d| slots.contains(&slot(*d)))
            .map(|d| DOCS[d])
            .collect()
    };
    Field {
        param,
        path,
        time: true,
        values: [
            Some(value(slot(0))),
            Some(value(slot(1))),
            Some(value(slot(2))),
        ],
        checks: vec![
            // RFC 3339; as strings "2017-10-09T15:37:44+08:00" would be after it.
            (format!("{param}Begin=2017-10-09T08:00:00Z"), with(&[1, 2])),
            // Unix seconds of 08:30:00Z: exclusive.
            (format!("{param}End=1507537800"), with(&[0])),
            // Naive (UTC) and RFC 3339 with a fraction, both exactly on a value.
            (
                format!("{param}Begin=2017-10-09%2007:37:44&{param}End=2017-10-09T09:00:00.250Z"),
                with(&[1]),
            ),
        ],
    }
}

fn application_fields(kind: Field) -> Vec<Field> {
    vec![
        i("instance", "instance", 1),
        i("buildedInstance", "buildedInstance", 2),
        i("runningInstance", "runningInstance", 3),
        s("status", "status"),
        s("lastStatus", "lastStatus"),
        s("podIp", "podIP"),
        t("createTime", "createTime", 0),
        t("lastUpdateTime", "lastUpdateTime", 1),
        kind,
    ]
}

fn mesos_specs() -> Vec<KindSpec> {
    use Commons::{NameNamespace, Neither};
    let api = || vec![s("apiVersion", "apiVersion")];
    let mut application = spec(
        "mesos",
        "application",
        "application",
        NameNamespace,
        application_fields(Field {
            param: "kind",
            path: "kind",
            time: false,
            values: [Some(json!("application")), None, Some(json!(""))],
            checks: vec![
                ("kind=application".into(), pick(&[0])),
                ("kind=application,other".into(), pick(&[0])),
                ("kind=process".into(), pick(&[])),
            ],
        }),
    );
    application.strays = vec![
        Stray {
            rtype: "process",
            name: "b-process",
            path: "kind",
            value: json!("process"),
        },
        Stray {
            rtype: "application",
            name: "b-app-as-process",
            path: "kind",
            value: json!("process"),
        },
    ];
    let mut process = spec(
        "mesos",
        "process",
        "process",
        NameNamespace,
        application_fields(Field {
            param: "kind",
            path: "kind",
            time: false,
            values: [
                Some(json!("process")),
                Some(json!("process")),
                Some(json!("process")),
            ],
            checks: vec![
                ("kind=process".into(), pick(&[0, 1, 2])),
                ("kind=application".into(), pick(&[])),
            ],
        }),
    );
    process.collection = "application";
    process.strays = vec![
        Stray {
            rtype: "application",
            name: "b-application",
            path: "kind",
            value: json!("application"),
        },
        Stray {
            rtype: "process",
            name: "b-kind-null",
            path: "kind",
            value: Value::Null,
        },
    ];
    let mut endpoints = spec("mesos", "endpoints", "endpoint", NameNamespace, api());
    // A document in the plural collection is not an endpoint.
    endpoints.strays = vec![Stray {
        rtype: "endpoints",
        name: "b-plural",
        path: "apiVersion",
        value: json!("apiVersion-b"),
    }];
    vec![
        spec(
            "mesos",
            "taskgroup",
            "taskgroup",
            NameNamespace,
            vec![
                s("rcName", "rcname"),
                s("status", "status"),
                s("lastStatus", "lastStatus"),
                s("hostIp", "hostIP"),
                s("hostName", "hostName"),
                s("podIp", "podIP"),
                t("createTime", "metadata.creationTimestamp", 0),
                t("startTime", "startTime", 1),
                t("lastUpdateTime", "lastUpdateTime", 2),
            ],
        ),
        application,
        process,
        spec(
            "mesos",
            "deployment",
            "deployment",
            NameNamespace,
            vec![
                i("checkTime", "check_time", 1),
                s("status", "status"),
                s("applicationName", "application.name"),
                s("applicationExtName", "application_ext.name"),
                s("currRollingOperation", "curr_rolling_operation"),
                b("isInRolling", "is_in_rolling"),
                t_secs("lastRollingTime", "last_rolling_time", 1),
            ],
        ),
        spec("mesos", "service", "service", NameNamespace, api()),
        spec("mesos", "configmap", "configmap", NameNamespace, api()),
        spec("mesos", "secret", "secret", NameNamespace, api()),
        endpoints,
        spec(
            "mesos",
            "exportservice",
            "exportservice",
            NameNamespace,
            vec![
                s("serviceName", "serviceName"),
                b("sslCert", "sslcert"),
                s("balance", "balance"),
            ],
        ),
        spec("mesos", "ippoolstatic", "IPPoolStatic", Neither, vec![]),
        spec(
            "mesos",
            "ippoolstaticdetail",
            "IPPoolStaticDetail",
            Neither,
            vec![],
        ),
    ]
}

fn create() -> Field {
    t("createTime", "metadata.creationTimestamp", 0)
}

fn k8s_workload_specs() -> Vec<KindSpec> {
    use Commons::NameNamespace;
    vec![
        spec(
            "k8s",
            "pod",
            "Pod",
            NameNamespace,
            vec![
                s("hostIp", "status.hostIP"),
                s("podIp", "status.podIP"),
                s("status", "status.phase"),
                t("startTime", "status.startTime", 1),
                create(),
            ],
        ),
        spec(
            "k8s",
            "replicaset",
            "ReplicaSet",
            NameNamespace,
            vec![
                i("replicas", "status.replicas", 1),
                i("availableReplicas", "status.availableReplicas", 2),
                i("readyReplicas", "status.readyReplicas", 3),
                create(),
            ],
        ),
        spec(
            "k8s",
            "deployment",
            "Deployment",
            NameNamespace,
            vec![
                i("replicas", "status.replicas", 1),
                i("availableReplicas", "status.availableReplicas", 2),
                i("updatedReplicas", "status.updatedReplicas", 3),
                s("strategyType", "spec.strategy.type"),
                s("dnsPolicy", "spec.template.spec.dnsPolicy"),
                s("restartPolicy", "spec.template.spec.restartPolicy"),
                create(),
            ],
        ),
        spec(
            "k8s",
            "daemonset",
            "DaemonSet",
            NameNamespace,
            vec![
                s("resourceVersion", "metadata.resourceVersion"),
                s("uid", "metadata.uid"),
                i("generation", "metadata.generation", 1),
                i("templateGeneration", "spec.templateGeneration", 2),
                s("updateStrategyType", "spec.updateStrategy.type"),
                create(),
            ],
        ),
        spec(
            "k8s",
            "job",
            "Job",
            NameNamespace,
            vec![
                s("resourceVersion", "metadata.resourceVersion"),
                s("uid", "metadata.uid"),
                create(),
            ],
        ),
        spec(
            "k8s",
            "statefulset",
            "StatefulSet",
            NameNamespace,
            vec![
                s("resourceVersion", "metadata.resourceVersion"),
                s("uid", "metadata.uid"),
                i("generation", "metadata.generation", 1),
                s("podManagementPolicy", "spec.podManagementPolicy"),
                s("updateStrategyType", "spec.updateStrategy.type"),
                s("serviceName", "spec.serviceName"),
                create(),
            ],
        ),
    ]
}

fn k8s_other_specs() -> Vec<KindSpec> {
    use Commons::{Name, NameNamespace, Neither};
    let mut endpoints = spec(
        "k8s",
        "endpoints",
        "Endpoints",
        NameNamespace,
        vec![create()],
    );
    // The mesos collection name is not the k8s one.
    endpoints.strays = vec![Stray {
        rtype: "endpoint",
        name: "b-singular",
        path: "metadata.uid",
        value: json!("x"),
    }];
    vec![
        spec(
            "k8s",
            "service",
            "Service",
            NameNamespace,
            vec![
                s("clusterIp", "spec.clusterIP"),
                s("type", "spec.type"),
                create(),
            ],
        ),
        spec(
            "k8s",
            "configmap",
            "ConfigMap",
            NameNamespace,
            vec![create()],
        ),
        spec("k8s", "secret", "Secret", NameNamespace, vec![create()]),
        endpoints,
        spec("k8s", "ingress", "Ingress", NameNamespace, vec![create()]),
        spec(
            "k8s",
            "namespace",
            "Namespace",
            Name,
            vec![s("status", "status.phase"), create()],
        ),
        spec(
            "k8s",
            "node",
            "Node",
            Name,
            vec![s("externalID", "spec.externalID"), create()],
        ),
        spec("k8s", "ippoolstatic", "IPPoolStatic", Neither, vec![]),
        spec(
            "k8s",
            "ippoolstaticdetail",
            "IPPoolStaticDetail",
            Neither,
            vec![],
        ),
    ]
}

/// Checks every kind answers whatever its table: no parameters, the shared
/// ones, unknown ones, the path's clusterId over a parameter, empty values.
fn shared_checks(spec: &KindSpec, other_cluster: &str) -> Vec<(String, Vec<&'static str>)> {
    let all = pick(&[0, 1, 2]);
    let mut c: Vec<(String, Vec<&'static str>)> = vec![
        (String::new(), all.clone()),
        ("unknownParam=a".into(), all.clone()),
        (format!("clusterId={other_cluster}"), all.clone()),
    ];
    match spec.commons {
        Commons::NameNamespace => c.extend([
            ("name=b".into(), pick(&[1])),
            ("name=a,c,zz".into(), pick(&[0, 2])),
            ("name=A".into(), pick(&[])),
            ("namespace=ns-b".into(), pick(&[2])),
            ("namespace=ns-a,ns-z".into(), pick(&[0, 1])),
            ("name=a&namespace=ns-b".into(), pick(&[])),
            ("name=&namespace=".into(), all.clone()),
        ]),
        Commons::Name => c.extend([
            ("name=b".into(), pick(&[1])),
            ("name=a,c,zz".into(), pick(&[0, 2])),
            // No namespace parameter on cluster-scoped kinds.
            ("namespace=ns-z".into(), all.clone()),
            ("name=".into(), all.clone()),
        ]),
        Commons::Neither => c.extend([
            ("name=zz".into(), all.clone()),
            ("namespace=ns-z".into(), all.clone()),
        ]),
    }
    for f in &spec.fields {
        // An empty value sets no condition.
        let q = if f.time {
            format!("{p}Begin=&{p}End=", p = f.param)
        } else {
            format!("{}=", f.param)
        };
        c.push((q, all.clone()));
    }
    c
}

fn doc_data(spec: &KindSpec, d: usize) -> Value {
    let mut data = json!({"metadata": {"name": DOCS[d]}, "doc": DOCS[d]});
    for f in &spec.fields {
        if let Some(v) = &f.values[d] {
            set_path(&mut data, f.path, v.clone());
        }
    }
    data
}

/// Stores the documents of `spec` in a cluster of its own and runs every
/// check by GET and POST, alternating prefixes.
async fn run_spec(app: &TestApp, backend: Backend, spec: &KindSpec) {
    let cluster = format!("BCS-{}-{}", spec.env.to_uppercase(), spec.kind);
    let other = format!("{cluster}-other");
    let namespaced = spec.commons == Commons::NameNamespace;
    let ns_of = |d: usize| namespaced.then_some(NAMESPACES[d]);
    let mut stored = BTreeMap::new();
    for (d, name) in DOCS.into_iter().enumerate() {
        let data = doc_data(spec, d);
        put(app, spec.env, &cluster, ns_of(d), spec.rtype, name, &data).await;
        stored.insert(name, data);
    }
    // The same document in another cluster: never returned.
    put(
        app,
        spec.env,
        &other,
        ns_of(0),
        spec.rtype,
        "a",
        &stored["a"],
    )
    .await;
    for stray in &spec.strays {
        let mut data = stored["b"].clone();
        set_path(&mut data, stray.path, stray.value.clone());
        put(
            app,
            spec.env,
            &cluster,
            ns_of(1),
            stray.rtype,
            stray.name,
            &data,
        )
        .await;
    }
    let checks = shared_checks(spec, &other)
        .into_iter()
        .chain(spec.fields.iter().flat_map(|f| f.checks.iter().cloned()));
    for (n, (q, want)) in checks.enumerate() {
        let url = query_url(PREFIXES[n % 2], spec.env, &cluster, spec.kind);
        let ctx = format!("{backend:?} {}/{} ?{q}", spec.env, spec.kind);
        let get_uri = if q.is_empty() {
            url.clone()
        } else {
            format!("{url}?{q}")
        };
        let post_url = query_url(PREFIXES[(n + 1) % 2], spec.env, &cluster, spec.kind);
        let replies = [
            ("GET", get_items(app, &get_uri, &ctx).await),
            ("POST", post_items(app, &post_url, &body_of(&q), &ctx).await),
        ];
        for (method, items) in replies {
            assert_eq!(names(&items), want, "{ctx} ({method})");
            for item in &items {
                let name = item["resourceName"].as_str().unwrap_or("?");
                assert_eq!(item["clusterId"], json!(cluster), "{ctx} ({method})");
                assert_eq!(item["resourceType"], json!(spec.rtype), "{ctx} ({method})");
                assert_eq!(&item["data"], &stored[name], "{ctx} ({method})");
                let d = DOCS.iter().position(|x| *x == name).unwrap_or(0);
                match ns_of(d) {
                    Some(ns) => assert_eq!(item["namespace"], json!(ns), "{ctx}"),
                    None => assert!(item.get("namespace").is_none(), "{ctx}: {item}"),
                }
                assert!(item["_id"].is_string(), "{ctx}: {item}");
            }
        }
    }
}

async fn run_specs(specs: &[KindSpec]) {
    for b in backends() {
        let app = TestApp::new(b).await;
        for spec in specs {
            run_spec(&app, b, spec).await;
        }
    }
}

#[test]
fn the_tables_here_cover_every_kind_and_parameter_the_service_serves() {
    let mut specs: Vec<KindSpec> = mesos_specs();
    specs.extend(k8s_workload_specs());
    specs.extend(k8s_other_specs());
    let mut seen = BTreeSet::new();
    for k in KINDS {
        let env = match k.env {
            KEnv::K8s => "k8s",
            KEnv::Mesos => "mesos",
        };
        if k.scope == KScope::Namespaces {
            // Tested by namespace_routes_aggregate_namespaces_of_one_cluster.
            assert_eq!((env, k.route), ("mesos", "namespace"));
            continue;
        }
        let spec = specs
            .iter()
            .find(|s| s.env == env && s.kind == k.route)
            .unwrap_or_else(|| panic!("{env}/{}: no test table here", k.route));
        seen.insert((env, k.route));
        assert_eq!(k.collection, spec.collection, "{env}/{}", k.route);
        let commons = match k.common {
            KCommon::NameNamespace => Commons::NameNamespace,
            KCommon::Name => Commons::Name,
            KCommon::None => Commons::Neither,
        };
        assert_eq!(commons, spec.commons, "{env}/{}", k.route);
        let served: BTreeSet<&str> = k.params.iter().map(|p| p.name).collect();
        let tested: BTreeSet<&str> = spec.fields.iter().map(|f| f.param).collect();
        assert_eq!(
            served, tested,
            "{env}/{}: parameters served vs tested here",
            k.route
        );
    }
    assert_eq!(seen.len(), specs.len(), "a table here has no served kind");
}

#[actix_web::test]
async fn every_mesos_kind_filters_on_every_parameter_of_its_table() {
    run_specs(&mesos_specs()).await;
}

#[actix_web::test]
async fn every_k8s_workload_kind_filters_on_every_parameter_of_its_table() {
    run_specs(&k8s_workload_specs()).await;
}

#[actix_web::test]
async fn every_other_k8s_kind_filters_on_every_parameter_of_its_table() {
    run_specs(&k8s_other_specs()).await;
}

// ---------------------------------------------------------------------------
// Time ranges
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn time_ranges_compare_instants_whatever_the_stored_format() {
    // Instants of the stored values (UTC).
    let stored: [(&str, Option<Value>); 10] = [
        ("p01", Some(json!("2017-10-09T15:37:44+08:00"))), // 07:37:44
        ("p02", Some(json!("2017-10-09T07:59:59.999Z"))),  // 07:59:59.999
        ("p03", Some(json!("2017-10-09T08:00:00Z"))),      // 08:00:00
        ("p04", Some(json!("2017-10-09T03:00:01-05:00"))), // 08:00:01
        ("p05", Some(json!("2017-10-09 08:30:00"))),       // 08:30:00 (naive, UTC)
        ("p06", Some(json!("2017-10-09T16:10:00.123456789+0800"))), // 08:10:00.123
        ("p07", Some(json!("not a time"))),
        ("p08", Some(json!(true))),
        ("p09", None),
        ("p10", Some(json!(""))),
    ];
    let timed = ["p01", "p02", "p03", "p04", "p05", "p06"];
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-K8S-TIME";
        for (name, start) in &stored {
            let mut data = json!({"metadata": {"name": name}, "status": {"phase": "Running"}});
            if let Some(v) = start {
                set_path(&mut data, "status.startTime", v.clone());
            }
            put_k8s(&app, c, "ns1", "Pod", name, data).await;
        }
        let url = query_url(V4, "k8s", c, "pod");
        let ctx = format!("{b:?} time");
        // 2017-10-09T08:00:00Z in every parameter format.
        for bound in [
            "1507536000",
            "2017-10-09T08:00:00Z",
            "2017-10-09%2008:00:00",
            "2017-10-09T16:00:00%2B08:00",
            "2017-10-09T08:00:00.000Z",
        ] {
            assert_eq!(
                names_both(&app, &url, &format!("startTimeBegin={bound}"), &ctx).await,
                strings(&["p04", "p05", "p06"]),
                "{ctx}: startTimeBegin={bound}"
            );
            assert_eq!(
                names_both(&app, &url, &format!("startTimeEnd={bound}"), &ctx).await,
                strings(&["p01", "p02"]),
                "{ctx}: startTimeEnd={bound}"
            );
            assert_eq!(
                names_both(
                    &app,
                    &url,
                    &format!("startTimeBegin={bound}&startTimeEnd={bound}"),
                    &ctx
                )
                .await,
                strings(&[]),
                "{ctx}: empty window at {bound}"
            );
        }
        for (q, want) in [
            // Both ends exclusive: p01 and p04 lie exactly on them.
            (
                "startTimeBegin=2017-10-09T07:37:44Z&startTimeEnd=2017-10-09T08:00:01Z",
                vec!["p02", "p03"],
            ),
            // Milliseconds count.
            ("startTimeEnd=2017-10-09T07:59:59.999Z", vec!["p01"]),
            (
                "startTimeBegin=2017-10-09T07:59:59.999Z&startTimeEnd=2017-10-09T08:00:00.001Z",
                vec!["p03"],
            ),
            // Values that are not times never match, not even open ranges.
            ("startTimeBegin=0", timed.to_vec()),
            ("startTimeEnd=4102444800", timed.to_vec()),
            ("startTimeBegin=0&startTimeEnd=4102444800", timed.to_vec()),
            // The naive stored value is read in UTC.
            (
                "startTimeBegin=2017-10-09%2008:29:59&startTimeEnd=2017-10-09%2008:30:01",
                vec!["p05"],
            ),
        ] {
            assert_eq!(
                names_both(&app, &url, q, &ctx).await,
                strings(&want),
                "{ctx}: {q}"
            );
        }
        // A later PUT moves the instant with the value.
        let moved = json!({"status": {"startTime": "2017-10-09T18:00:00+08:00"}}); // 10:00Z
        put_k8s(&app, c, "ns1", "Pod", "p02", moved).await;
        let garbage = json!({"status": {"startTime": "later"}});
        put_k8s(&app, c, "ns1", "Pod", "p04", garbage).await;
        assert_eq!(
            names_both(&app, &url, "startTimeBegin=1507536000", &ctx).await,
            strings(&["p02", "p05", "p06"]),
            "{ctx}: after re-PUT"
        );
        assert_eq!(
            names_both(&app, &url, "startTimeEnd=1507536000", &ctx).await,
            strings(&["p01"]),
            "{ctx}: after re-PUT"
        );
    }
}

#[actix_web::test]
async fn naive_times_are_read_in_the_configured_zone() {
    for b in backends() {
        let app = TestApp::with_settings(b, |s| {
            s.query.time_zone = "+08:00".parse().expect("zone");
        })
        .await;
        let c = "BCS-K8S-ZONE";
        for (name, start) in [
            ("p1", "2017-10-09T15:37:44+08:00"), // 07:37:44Z
            ("p3", "2017-10-09T08:00:00Z"),      // 08:00:00Z
            ("p4", "2017-10-09T03:00:01-05:00"), // 08:00:01Z
            ("p5", "2017-10-09 08:30:00"),       // naive, +08:00: 00:30:00Z
        ] {
            let data = json!({"status": {"startTime": start}});
            put_k8s(&app, c, "ns1", "Pod", name, data).await;
        }
        let url = query_url(V1, "k8s", c, "pod");
        let ctx = format!("{b:?} +08:00");
        for (q, want) in [
            ("startTimeBegin=2017-10-09%2016:00:00", vec!["p4"]),
            ("startTimeEnd=2017-10-09%2016:00:00", vec!["p1", "p5"]),
            // Unix seconds and explicit offsets do not depend on the zone.
            ("startTimeBegin=1507536000", vec!["p4"]),
            ("startTimeBegin=2017-10-09T08:00:00Z", vec!["p4"]),
            // 2017-10-09 08:00:00 +08:00 is 00:00:00Z.
            (
                "startTimeBegin=2017-10-09%2008:00:00",
                vec!["p1", "p3", "p4", "p5"],
            ),
            (
                "startTimeBegin=2017-10-09%2008:29:59&startTimeEnd=2017-10-09%2008:30:01",
                vec!["p5"],
            ),
        ] {
            assert_eq!(
                names_both(&app, &url, q, &ctx).await,
                strings(&want),
                "{ctx}: {q}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The V0.9.0 document's examples
// ---------------------------------------------------------------------------

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

/// One example: the sample stored where it says, decoys next to it, the
/// document's request, and the sample as the only reply.
struct Example {
    env: &'static str,
    cluster: &'static str,
    ns: &'static str,
    rtype: &'static str,
    name: &'static str,
    sample: Value,
    /// `(name, path inside data, value)`: copies of the sample that must not match.
    decoys: Vec<(&'static str, &'static str, Value)>,
    /// Namespace of the decoys when not the sample's.
    decoy_ns: Option<&'static str>,
    request: &'static str,
}

async fn run_example(app: &TestApp, backend: Backend, ex: &Example) {
    put(
        app,
        ex.env,
        ex.cluster,
        Some(ex.ns),
        ex.rtype,
        ex.name,
        &ex.sample,
    )
    .await;
    for (name, path, value) in &ex.decoys {
        let mut data = ex.sample.clone();
        set_path(&mut data, path, value.clone());
        let ns = ex.decoy_ns.unwrap_or(ex.ns);
        put(app, ex.env, ex.cluster, Some(ns), ex.rtype, name, &data).await;
    }
    for prefix in PREFIXES {
        let uri = format!("{prefix}{}", ex.request);
        let ctx = format!("{backend:?} {uri}");
        let items = get_items(app, &uri, &ctx).await;
        assert_eq!(names(&items), strings(&[ex.name]), "{ctx}");
        let doc = items[0].as_object().expect("object");
        let keys: BTreeSet<&str> = doc.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = [
            "_id",
            "clusterId",
            "namespace",
            "resourceType",
            "resourceName",
            "data",
            "createTime",
            "updateTime",
        ]
        .into();
        assert_eq!(keys, want, "{ctx}");
        assert_eq!(doc["clusterId"], json!(ex.cluster), "{ctx}");
        assert_eq!(doc["namespace"], json!(ex.ns), "{ctx}");
        assert_eq!(doc["resourceType"], json!(ex.rtype), "{ctx}");
        assert_eq!(doc["data"], ex.sample, "{ctx}");
    }
}

#[actix_web::test]
async fn the_documents_mesos_examples_return_its_samples() {
    let examples = || {
        vec![
            Example {
                env: "mesos",
                cluster: "BCS-100001",
                ns: "defaultgroup",
                rtype: "taskgroup",
                // The sample's resourceName is empty; a name of our choice.
                name: "app-test-0",
                sample: fixture(include_str!("../fixtures/seed/mesos_taskgroup.json")),
                decoys: vec![("app-test-1", "hostIP", json!("127.0.0.9"))],
                decoy_ns: None,
                request: "/query/mesos/dynamic/clusters/BCS-100001/taskgroup?namespace=defaultgroup&hostIp=127.0.0.3,127.0.0.4",
            },
            // The same host in another namespace does not match either.
            Example {
                env: "mesos",
                cluster: "BCS-100002",
                ns: "defaultgroup",
                rtype: "taskgroup",
                name: "app-test-0",
                sample: fixture(include_str!("../fixtures/seed/mesos_taskgroup.json")),
                decoys: vec![("app-test-2", "hostIP", json!("127.0.0.4"))],
                decoy_ns: Some("othergroup"),
                request: "/query/mesos/dynamic/clusters/BCS-100002/taskgroup?namespace=defaultgroup&hostIp=127.0.0.3,127.0.0.4",
            },
            Example {
                env: "mesos",
                cluster: "BCS-TEST-10000",
                ns: "developer",
                rtype: "application",
                // The sample's resourceName is empty; its metadata.name instead.
                name: "test-developer-container",
                sample: fixture(include_str!("../fixtures/seed/mesos_application.json")),
                // Both bounds are exclusive; the example is in +08:00.
                decoys: vec![
                    (
                        "on-the-end",
                        "createTime",
                        json!("2017-09-13T19:40:40+08:00"),
                    ),
                    ("on-the-begin", "createTime", json!("2017-09-13T11:40:30Z")),
                    ("utc-reading", "createTime", json!("2017-09-13T19:40:36Z")),
                ],
                decoy_ns: None,
                request: "/query/mesos/dynamic/clusters/BCS-TEST-10000/application?createTimeBegin=2017-09-13%2019:40:30&createTimeEnd=2017-09-13%2019:40:40",
            },
            Example {
                env: "mesos",
                cluster: "BCS-TEST-10000",
                ns: "defaultGroup",
                rtype: "deployment",
                name: "test-deployment",
                sample: fixture(include_str!("../fixtures/seed/mesos_deployment.json")),
                decoys: vec![
                    ("rolling-deployment", "is_in_rolling", json!(true)),
                    ("deleting-deployment", "status", json!("Deleting")),
                ],
                decoy_ns: None,
                request: "/query/mesos/dynamic/clusters/BCS-TEST-10000/deployment?isInRolling=false&status=Running,Staging",
            },
            Example {
                env: "mesos",
                cluster: "BCS-TEST-10000",
                ns: "defaultGroup",
                rtype: "service",
                name: "service-test",
                sample: fixture(include_str!("../fixtures/seed/mesos_service.json")),
                decoys: vec![("service-v2", "apiVersion", json!("v2"))],
                decoy_ns: None,
                request: "/query/mesos/dynamic/clusters/BCS-TEST-10000/service?apiVersion=v1",
            },
            Example {
                env: "mesos",
                cluster: "BCS-TEST-10000",
                ns: "defaultGroup",
                rtype: "configmap",
                name: "test-configmap",
                sample: fixture(include_str!("../fixtures/seed/mesos_configmap.json")),
                decoys: vec![("configmap-v2", "apiVersion", json!("v2"))],
                decoy_ns: None,
                request: "/query/mesos/dynamic/clusters/BCS-TEST-10000/configmap?apiVersion=v1",
            },
            Example {
                env: "mesos",
                cluster: "BCS-TEST-10000",
                ns: "defaultGroup",
                rtype: "secret",
                name: "template-secret",
                sample: fixture(include_str!("../fixtures/seed/mesos_secret.json")),
                decoys: vec![("secret-v2", "apiVersion", json!("v2"))],
                decoy_ns: None,
                request: "/query/mesos/dynamic/clusters/BCS-TEST-10000/secret?apiVersion=v1",
            },
        ]
    };
    for b in backends() {
        // The document's naive times were written in +08:00.
        let app = TestApp::with_settings(b, |s| {
            s.query.time_zone = "+08:00".parse().expect("zone");
        })
        .await;
        for ex in examples() {
            run_example(&app, b, &ex).await;
        }
    }
}

#[actix_web::test]
async fn the_documents_k8s_pod_example_returns_its_sample() {
    for b in backends() {
        // The pod example's bounds are UTC (the default zone).
        let app = TestApp::new(b).await;
        let ex = Example {
            env: "k8s",
            // The document requests cluster 12121 although its sample says
            // BCS-TEST-10000; the sample is stored where the request looks.
            cluster: "12121",
            ns: "default",
            rtype: "Pod",
            // The sample's resourceName is empty; a name of our choice.
            name: "pod-sample",
            sample: fixture(include_str!("../fixtures/seed/k8s_pod.json")),
            decoys: vec![
                (
                    "pod-on-the-end",
                    "metadata.creationTimestamp",
                    json!("2017-10-16T07:55:54Z"),
                ),
                (
                    "pod-plus8",
                    "metadata.creationTimestamp",
                    json!("2017-10-16T07:40:00+08:00"),
                ),
            ],
            decoy_ns: None,
            request: "/query/k8s/dynamic/clusters/12121/pod?createTimeBegin=2017-10-16%2007:34:50&createTimeEnd=2017-10-16%2007:55:54",
        };
        run_example(&app, b, &ex).await;
    }
}

// ---------------------------------------------------------------------------
// Application / process, namespaces, endpoints
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn application_and_process_split_the_application_collection() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-MESOS-SPLIT";
        let app_put = |rtype: &'static str, name: &'static str, data: Value| {
            let app = &app;
            async move { put_mesos(app, c, "ns1", rtype, name, data).await }
        };
        app_put("application", "app-plain", json!({"status": "Running"})).await;
        app_put("application", "app-kind", json!({"kind": "application"})).await;
        app_put("application", "app-empty-kind", json!({"kind": ""})).await;
        app_put(
            "application",
            "app-marked-process",
            json!({"kind": "process"}),
        )
        .await;
        app_put("process", "proc-1", json!({"kind": "process"})).await;
        // Another cluster.
        put_mesos(
            &app,
            "BCS-MESOS-OTHER",
            "ns1",
            "process",
            "proc-x",
            json!({"kind": "process"}),
        )
        .await;
        let ctx = format!("{b:?} split");
        let apps = query_url(V1, "mesos", c, "application");
        let procs = query_url(V4, "mesos", c, "process");
        assert_eq!(
            names_both(&app, &apps, "", &ctx).await,
            strings(&["app-empty-kind", "app-kind", "app-plain"]),
            "{ctx}: application"
        );
        let items = get_items(&app, &procs, &ctx).await;
        assert_eq!(
            names(&items),
            strings(&["app-marked-process", "proc-1"]),
            "{ctx}: process"
        );
        // Each keeps the resourceType it was stored with.
        assert_eq!(items[0]["resourceType"], json!("application"), "{ctx}");
        assert_eq!(items[1]["resourceType"], json!("process"), "{ctx}");
        // The scope holds whatever the kind parameter says.
        assert_eq!(
            names_both(&app, &apps, "kind=process", &ctx).await,
            strings(&[]),
            "{ctx}"
        );
        assert_eq!(
            names_both(&app, &procs, "kind=application,process", &ctx).await,
            strings(&["app-marked-process", "proc-1"]),
            "{ctx}"
        );
        assert_eq!(
            names_both(&app, &procs, "name=proc-1,app-plain", &ctx).await,
            strings(&["proc-1"]),
            "{ctx}"
        );
        // Deleted documents leave both.
        app.delete(&put_url("mesos", c, Some("ns1"), "process", "proc-1"))
            .await
            .assert_ok();
        app.delete(&put_url("mesos", c, Some("ns1"), "application", "app-kind"))
            .await
            .assert_ok();
        assert_eq!(
            names_both(&app, &procs, "", &ctx).await,
            strings(&["app-marked-process"]),
            "{ctx}: after delete"
        );
        assert_eq!(
            names_both(&app, &apps, "", &ctx).await,
            strings(&["app-empty-kind", "app-plain"]),
            "{ctx}: after delete"
        );
    }
}

#[actix_web::test]
async fn endpoints_read_their_own_collection_per_env() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-EP";
        put_mesos(
            &app,
            c,
            "ns1",
            "endpoint",
            "mesos-ep",
            json!({"apiVersion": "v4"}),
        )
        .await;
        put_mesos(
            &app,
            c,
            "ns1",
            "endpoints",
            "plural-ep",
            json!({"apiVersion": "v4"}),
        )
        .await;
        put_k8s(
            &app,
            c,
            "ns1",
            "Endpoints",
            "k8s-ep",
            json!({"apiVersion": "v4"}),
        )
        .await;
        let ctx = format!("{b:?} endpoints");
        for prefix in PREFIXES {
            let mesos = query_url(prefix, "mesos", c, "endpoints");
            assert_eq!(
                names_both(&app, &mesos, "apiVersion=v4", &ctx).await,
                strings(&["mesos-ep"]),
                "{ctx}"
            );
            let k8s = query_url(prefix, "k8s", c, "endpoints");
            assert_eq!(
                names_both(&app, &k8s, "", &ctx).await,
                strings(&["k8s-ep"]),
                "{ctx}"
            );
        }
    }
}

#[actix_web::test]
async fn namespace_routes_aggregate_namespaces_of_one_cluster() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let ctx = format!("{b:?} namespaces");
        // mesos: application (and processes in it), deployment, service,
        // configmap, secret; not taskgroup or endpoint; not other clusters.
        let m = "BCS-MESOS-NS";
        for (rtype, ns) in [
            ("application", "b-app"),
            ("application", "a-shared"),
            ("process", "p-proc"),
            ("deployment", "a-shared"),
            ("deployment", "d-dep"),
            ("service", "s-svc"),
            ("configmap", "c-cm"),
            ("secret", "z-secret"),
            ("taskgroup", "t-taskgroup"),
            ("endpoint", "e-endpoint"),
        ] {
            let data = json!({"kind": if rtype == "process" { "process" } else { "" }});
            put_mesos(&app, m, ns, rtype, &format!("{rtype}-x"), data).await;
        }
        put_mesos(
            &app,
            "BCS-MESOS-NS2",
            "other-cluster",
            "application",
            "x",
            json!({}),
        )
        .await;
        // Deleted documents and cluster-scoped ones add no namespace.
        put_mesos(&app, m, "gone", "deployment", "gone-x", json!({})).await;
        app.delete(&put_url("mesos", m, Some("gone"), "deployment", "gone-x"))
            .await
            .assert_ok();
        put(&app, "mesos", m, None, "application", "cl", &json!({})).await;
        let want_mesos = strings(&[
            "a-shared", "b-app", "c-cm", "d-dep", "p-proc", "s-svc", "z-secret",
        ]);
        for prefix in PREFIXES {
            let url = query_url(prefix, "mesos", m, "namespace");
            for q in ["", "used=1", "name=zz&namespace=zz"] {
                let uri = if q.is_empty() {
                    url.clone()
                } else {
                    format!("{url}?{q}")
                };
                let r = app.get(&uri).await;
                r.assert_ok();
                assert_eq!(r.data(), &json!(want_mesos), "{ctx}: {uri}");
                let r = post(&app, &url, body_of(q).to_string().as_bytes()).await;
                r.assert_ok();
                assert_eq!(r.data(), &json!(want_mesos), "{ctx}: POST {url} {q}");
            }
            let r = app.get(&format!("{url}?offset=1&limit=2")).await;
            r.assert_ok();
            assert_eq!(r.data(), &json!(["b-app", "c-cm"]), "{ctx}: paged");
            // No data: an empty array.
            let r = app
                .get(&query_url(prefix, "mesos", "BCS-EMPTY", "namespace"))
                .await;
            r.assert_ok();
            assert_eq!(r.data(), &json!([]), "{ctx}: empty");
            assert_eq!(
                r.raw,
                r#"{"result":true,"code":0,"message":"success","data":[]}"#
            );
        }

        // k8s: with used=1 the nine workload tables; without, Namespace docs.
        let k = "BCS-K8S-NS";
        for (rtype, ns) in [
            ("ReplicaSet", "rs"),
            ("Deployment", "deploy"),
            ("Deployment", "shared"),
            ("Service", "shared"),
            ("ConfigMap", "cm"),
            ("Secret", "secret"),
            ("Ingress", "ing"),
            ("DaemonSet", "ds"),
            ("Job", "job"),
            ("StatefulSet", "sts"),
            ("Pod", "pod-only"),
            ("Endpoints", "ep-only"),
        ] {
            put_k8s(&app, k, ns, rtype, &format!("{rtype}-x"), json!({})).await;
        }
        put_k8s(
            &app,
            "BCS-K8S-NS2",
            "other-cluster",
            "Deployment",
            "x",
            json!({}),
        )
        .await;
        put_k8s(&app, k, "gone", "Secret", "gone-x", json!({})).await;
        app.delete(&put_url("k8s", k, Some("gone"), "Secret", "gone-x"))
            .await
            .assert_ok();
        put(&app, "k8s", k, None, "Deployment", "cl", &json!({})).await;
        for (name, phase) in [
            ("kube-system", "Active"),
            ("default", "Active"),
            ("old", "Terminating"),
        ] {
            let data = json!({"metadata": {"name": name}, "status": {"phase": phase}});
            put(&app, "k8s", k, None, "Namespace", name, &data).await;
        }
        let want_k8s = strings(&[
            "cm", "deploy", "ds", "ing", "job", "rs", "secret", "shared", "sts",
        ]);
        for prefix in PREFIXES {
            let url = query_url(prefix, "k8s", k, "namespace");
            for q in ["used=1", "used=true", "used=TRUE"] {
                let r = app.get(&format!("{url}?{q}")).await;
                r.assert_ok();
                assert_eq!(r.data(), &json!(want_k8s), "{ctx}: {url}?{q}");
                let r = post(&app, &url, body_of(q).to_string().as_bytes()).await;
                r.assert_ok();
                assert_eq!(r.data(), &json!(want_k8s), "{ctx}: POST {url} {q}");
            }
            let r = app.get(&format!("{url}?used=1&offset=7")).await;
            r.assert_ok();
            assert_eq!(r.data(), &json!(["shared", "sts"]), "{ctx}: paged");
            let r = app
                .get(&format!(
                    "{}?used=1",
                    query_url(prefix, "k8s", "BCS-EMPTY", "namespace")
                ))
                .await;
            r.assert_ok();
            assert_eq!(r.data(), &json!([]), "{ctx}: empty");
            // Without used (or used=0): the Namespace documents.
            for q in ["", "used=0", "used=false", "used="] {
                assert_eq!(
                    names_both(&app, &url, q, &ctx).await,
                    strings(&["default", "kube-system", "old"]),
                    "{ctx}: {url}?{q}"
                );
            }
            assert_eq!(
                names_both(&app, &url, "status=Terminating", &ctx).await,
                strings(&["old"]),
                "{ctx}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Projection, extra, paging, internal fields
// ---------------------------------------------------------------------------

/// Five pods in three namespaces, stored out of order.
async fn put_paging_pods(app: &TestApp, c: &str) {
    for (ns, name, phase, host, app_label) in [
        ("ns-b", "p1", "Running", "10.0.0.1", "web"),
        ("ns-a", "p3", "Pending", "10.0.0.2", "db"),
        ("ns-c", "p0", "Failed", "10.0.0.3", "web"),
        ("ns-a", "p2", "Running", "10.0.0.1", "web"),
        ("ns-a", "p10", "Running", "10.0.0.2", "db"),
    ] {
        let data = json!({
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app.kubernetes.io/name": app_label},
                "creationTimestamp": "2017-10-16T07:34:52Z",
            },
            "status": {"phase": phase, "hostIP": host, "startTime": "2017-10-16T07:34:52Z"},
        });
        put_k8s(app, c, ns, "Pod", name, data).await;
    }
}

#[actix_web::test]
async fn results_come_in_natural_key_order_and_page_with_offset_and_limit() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-PAGE";
        put_paging_pods(&app, c).await;
        let ctx = format!("{b:?} paging");
        let all = ["p10", "p2", "p3", "p1", "p0"];
        for prefix in PREFIXES {
            let url = query_url(prefix, "k8s", c, "pod");
            for (q, want) in [
                ("", all.to_vec()),
                ("limit=0", all.to_vec()),
                ("offset=0&limit=1", vec!["p10"]),
                ("offset=1&limit=2", vec!["p2", "p3"]),
                ("offset=4&limit=2", vec!["p0"]),
                ("offset=5", vec![]),
                ("offset=100&limit=1", vec![]),
                ("status=Running&offset=1", vec!["p2", "p1"]),
                ("limit=50000", all.to_vec()),
            ] {
                assert_eq!(
                    names_both(&app, &url, q, &ctx).await,
                    strings(&want),
                    "{ctx}: {url}?{q}"
                );
            }
            // Paging by two until a short page visits everything once.
            let mut seen = Vec::new();
            for offset in (0..).step_by(2) {
                let page =
                    names(&get_items(&app, &format!("{url}?offset={offset}&limit=2"), &ctx).await);
                let short = page.len() < 2;
                seen.extend(page);
                if short {
                    break;
                }
            }
            assert_eq!(seen, strings(&all), "{ctx}");
        }
    }
}

#[actix_web::test]
async fn field_projects_and_extra_adds_in_conditions() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-PROJ";
        put_paging_pods(&app, c).await;
        let ctx = format!("{b:?} projection");
        let url = query_url(V1, "k8s", c, "pod");

        // Projection: _id always, nothing else but what was asked.
        {
            let q = "field=resourceName,data.metadata.name";
            let body = body_of(q);
            let by_get = get_items(&app, &format!("{url}?{q}"), &ctx).await;
            let by_post = post_items(&app, &url, &body, &ctx).await;
            for items in [by_get, by_post] {
                assert_eq!(
                    names(&items),
                    strings(&["p10", "p2", "p3", "p1", "p0"]),
                    "{ctx}"
                );
                for item in &items {
                    let keys: BTreeSet<&str> = item
                        .as_object()
                        .expect("object")
                        .keys()
                        .map(String::as_str)
                        .collect();
                    assert_eq!(
                        keys,
                        BTreeSet::from(["_id", "resourceName", "data"]),
                        "{ctx}: {item}"
                    );
                    assert_eq!(
                        item["data"],
                        json!({"metadata": {"name": item["resourceName"]}}),
                        "{ctx}"
                    );
                    assert!(item["_id"].is_string(), "{ctx}: {item}");
                }
            }
        }
        let items = get_items(&app, &format!("{url}?field=namespace&name=p0"), &ctx).await;
        assert_eq!(items.len(), 1, "{ctx}");
        let keys: BTreeSet<&str> = items[0]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["_id", "namespace"]), "{ctx}");
        assert_eq!(items[0]["namespace"], json!("ns-c"), "{ctx}");

        // extra: each key an $in (a scalar is a one-element list), AND-ed with
        // the table's parameters.
        for (filter, more, want) in [
            (
                json!({"data.status.phase": ["Running", "Pending"]}),
                "",
                vec!["p10", "p2", "p3", "p1"],
            ),
            (
                json!({"data.status.phase": ["Running", "Pending"]}),
                "&hostIp=10.0.0.2",
                vec!["p10", "p3"],
            ),
            (
                json!({"data.status.hostIP": "10.0.0.1"}),
                "",
                vec!["p2", "p1"],
            ),
            // A dot inside a stored key is written U+FF0E.
            (
                json!({"data.metadata.labels.app．kubernetes．io/name": "db"}),
                "",
                vec!["p10", "p3"],
            ),
            (
                json!({"namespace": ["ns-b", "ns-c"], "data.status.phase": "Failed"}),
                "",
                vec!["p0"],
            ),
            (
                json!({"resourceName": ["p0", "p1"]}),
                "&status=Running",
                vec!["p1"],
            ),
            (json!({}), "", vec!["p10", "p2", "p3", "p1", "p0"]),
        ] {
            let q = format!("extra={}{more}", extra(&filter));
            assert_eq!(
                names_both(&app, &url, &q, &ctx).await,
                strings(&want),
                "{ctx}: extra {filter} {more}"
            );
            // POST carries extra as a plain base64 string.
            let mut body = body_of(&more.replacen('&', "", 1));
            body.as_object_mut()
                .expect("object")
                .insert("extra".into(), json!(b64(&filter)));
            assert_eq!(
                names(&post_items(&app, &url, &body, &ctx).await),
                strings(&want),
                "{ctx}: POST extra {filter} {more}"
            );
        }
    }
}

#[actix_web::test]
async fn post_bodies_take_numbers_strings_and_nulls() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-POST";
        for (name, replicas) in [("d1", 3), ("d2", 1), ("d3", 3)] {
            let data = json!({"status": {"replicas": replicas}});
            put_k8s(&app, c, "ns1", "Deployment", name, data).await;
        }
        put_mesos(
            &app,
            c,
            "ns1",
            "deployment",
            "m1",
            json!({"is_in_rolling": true, "check_time": 5}),
        )
        .await;
        put_mesos(
            &app,
            c,
            "ns1",
            "deployment",
            "m2",
            json!({"is_in_rolling": false, "check_time": 6}),
        )
        .await;
        let ctx = format!("{b:?} POST");
        for prefix in PREFIXES {
            let url = query_url(prefix, "k8s", c, "deployment");
            for (body, want) in [
                (r#"{"replicas": 3}"#, vec!["d1", "d3"]),
                (r#"{"replicas": "3"}"#, vec!["d1", "d3"]),
                (r#"{"replicas": "1,3"}"#, vec!["d1", "d2", "d3"]),
                (r#"{"limit": 1}"#, vec!["d1"]),
                (r#"{"replicas": 3, "limit": 1}"#, vec!["d1"]),
                (r#"{"replicas": 3, "offset": 1, "limit": "1"}"#, vec!["d3"]),
                (r#"{"offset": "2"}"#, vec!["d3"]),
                (r#"{"replicas": null}"#, vec!["d1", "d2", "d3"]),
                (r#"{"replicas": ""}"#, vec!["d1", "d2", "d3"]),
                (r#"{}"#, vec!["d1", "d2", "d3"]),
                ("", vec!["d1", "d2", "d3"]),
                ("  \n", vec!["d1", "d2", "d3"]),
                // The path's cluster wins over a clusterId in the body.
                (r#"{"clusterId": "BCS-NONE", "name": "d2"}"#, vec!["d2"]),
                (r#"{"unknown": 1, "name": "d1,d2"}"#, vec!["d1", "d2"]),
            ] {
                let r = post(&app, &url, body.as_bytes()).await;
                let items = items_of(&r, &format!("{ctx} {url} {body}"));
                assert_eq!(names(&items), strings(&want), "{ctx}: {url} {body}");
            }
            let r = post(&app, &url, br#"{"replicas": 1, "field": "resourceName"}"#).await;
            let items = items_of(&r, &ctx);
            assert_eq!(items.len(), 1, "{ctx}");
            let keys: BTreeSet<&str> = items[0]
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, BTreeSet::from(["_id", "resourceName"]), "{ctx}");

            let url = query_url(prefix, "mesos", c, "deployment");
            for (body, want) in [
                (r#"{"isInRolling": true}"#, vec!["m1"]),
                (r#"{"isInRolling": 1}"#, vec!["m1"]),
                (r#"{"isInRolling": "false"}"#, vec!["m2"]),
                (r#"{"checkTime": 6}"#, vec!["m2"]),
            ] {
                let r = post(&app, &url, body.as_bytes()).await;
                let items = items_of(&r, &format!("{ctx} {url} {body}"));
                assert_eq!(names(&items), strings(&want), "{ctx}: {url} {body}");
            }
        }
    }
}

#[actix_web::test]
async fn internal_fields_never_appear_in_replies() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-INTERNAL";
        put_paging_pods(&app, c).await;
        let ctx = format!("{b:?} internal");
        let url = query_url(V4, "k8s", c, "pod");
        // Normal replies (every items_of call checks the raw text).
        let items = get_items(&app, &url, &ctx).await;
        assert_eq!(items.len(), 5, "{ctx}");
        for item in &items {
            let keys: BTreeSet<&str> = item
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from([
                    "_id",
                    "clusterId",
                    "namespace",
                    "resourceType",
                    "resourceName",
                    "data",
                    "createTime",
                    "updateTime"
                ]),
                "{ctx}"
            );
            for t in ["createTime", "updateTime"] {
                let s = item[t].as_str().unwrap_or("");
                assert!(
                    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.',
                    "{ctx}: {t} {s:?} is not RFC 3339 millis UTC"
                );
            }
        }
        get_items(
            &app,
            &format!("{url}?startTimeBegin=0&createTimeEnd=4102444800"),
            &ctx,
        )
        .await;
        get_items(&app, &format!("{url}?field=data,resourceName"), &ctx).await;
        // A deleted document is gone, and its flag is never shown.
        app.delete(&put_url("k8s", c, Some("ns-a"), "Pod", "p2"))
            .await
            .assert_ok();
        let items = get_items(&app, &url, &ctx).await;
        assert_eq!(names(&items), strings(&["p10", "p3", "p1", "p0"]), "{ctx}");
        // A client asking for the internal fields by name: whatever the
        // answer, it must be a well-formed reply that does not show them.
        for f in [
            "_bcsTimes",
            "_isBcsObjectDeleted",
            "_bcsTimes.data_status_startTime",
        ] {
            let r = app.get(&format!("{url}?field={f}")).await;
            assert!(
                r.status == 200 || r.status == 400,
                "{ctx}: field={f}: {}",
                r.raw
            );
            assert_no_internal_fields(&r, &format!("{ctx}: field={f}"));
        }
    }
}

// ---------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------

#[actix_web::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-BAD";
        put_k8s(
            &app,
            c,
            "ns1",
            "Deployment",
            "d1",
            json!({"status": {"replicas": 1}}),
        )
        .await;
        let bad_extras = [
            "%%%".to_owned(),
            b64_raw("[1]"),
            b64_raw("{"),
            b64_raw("\"text\""),
            extra(&json!({"$where": "1"})),
            extra(&json!({"data.x": {"$gt": 1}})),
            extra(&json!({"data..x": 1})),
        ];
        let mut cases: Vec<(&str, &str, String, &str)> = vec![
            ("k8s", "deployment", "replicas=x".into(), "replicas"),
            ("k8s", "deployment", "replicas=1,x".into(), "replicas"),
            ("k8s", "deployment", "replicas=1.5".into(), "replicas"),
            (
                "k8s",
                "deployment",
                "availableReplicas=2,".into(),
                "availableReplicas",
            ),
            ("k8s", "daemonset", "generation=abc".into(), "generation"),
            ("k8s", "statefulset", "generation=1e3".into(), "generation"),
            ("mesos", "deployment", "checkTime=soon".into(), "checkTime"),
            ("mesos", "application", "instance=one".into(), "instance"),
            (
                "mesos",
                "process",
                "runningInstance=-".into(),
                "runningInstance",
            ),
            (
                "k8s",
                "pod",
                "createTimeBegin=abc".into(),
                "createTimeBegin",
            ),
            (
                "k8s",
                "pod",
                "startTimeEnd=2017-13-01T00:00:00Z".into(),
                "startTimeEnd",
            ),
            (
                "k8s",
                "endpoints",
                "createTimeEnd=10/09/2017".into(),
                "createTimeEnd",
            ),
            (
                "mesos",
                "taskgroup",
                "lastUpdateTimeBegin=yesterday".into(),
                "lastUpdateTimeBegin",
            ),
            (
                "mesos",
                "deployment",
                "lastRollingTimeEnd=2017-10-09T25:00:00Z".into(),
                "lastRollingTimeEnd",
            ),
            ("k8s", "pod", "offset=abc".into(), "offset"),
            ("k8s", "pod", "offset=-1".into(), "offset"),
            ("k8s", "pod", "offset=1&offset=2".into(), "offset"),
            ("k8s", "pod", "limit=x".into(), "limit"),
            ("k8s", "pod", "limit=-1".into(), "limit"),
            ("k8s", "pod", "limit=50001".into(), "limit"),
            ("mesos", "namespace", "limit=x".into(), "limit"),
            ("k8s", "namespace", "used=1&offset=-5".into(), "offset"),
            // Booleans in Go's strconv.ParseBool forms only: a typo is not
            // silently false.
            ("k8s", "namespace", "used=no".into(), "used"),
            (
                "mesos",
                "deployment",
                "isInRolling=yes".into(),
                "isInRolling",
            ),
            ("mesos", "exportservice", "sslCert=tRuE".into(), "sslCert"),
        ];
        for e in &bad_extras {
            cases.push(("k8s", "pod", format!("extra={e}"), "extra"));
            cases.push(("mesos", "taskgroup", format!("extra={e}"), "extra"));
        }
        for (n, (env, kind, q, param)) in cases.iter().enumerate() {
            let uri = format!("{}?{q}", query_url(PREFIXES[n % 2], env, c, kind));
            let r = app.get(&uri).await;
            assert_eq!(r.status, 400, "{b:?} GET {uri}: {}", r.raw);
            r.assert_err(400, 1_405_090, param);
            assert_no_internal_fields(&r, &uri);
        }
        // The same by POST, values as JSON strings or numbers.
        let bodies: Vec<(&str, &str, String, &str)> = vec![
            (
                "k8s",
                "deployment",
                r#"{"replicas": "x"}"#.into(),
                "replicas",
            ),
            (
                "k8s",
                "deployment",
                r#"{"replicas": 1.5}"#.into(),
                "replicas",
            ),
            (
                "k8s",
                "pod",
                r#"{"createTimeBegin": "abc"}"#.into(),
                "createTimeBegin",
            ),
            (
                "k8s",
                "pod",
                r#"{"startTimeEnd": true}"#.into(),
                "startTimeEnd",
            ),
            ("k8s", "pod", r#"{"offset": -1}"#.into(), "offset"),
            (
                "mesos",
                "deployment",
                r#"{"isInRolling": "yes"}"#.into(),
                "isInRolling",
            ),
            ("k8s", "pod", r#"{"limit": "x"}"#.into(), "limit"),
            ("k8s", "pod", r#"{"limit": 50001}"#.into(), "limit"),
            (
                "k8s",
                "pod",
                format!(r#"{{"extra": "{}"}}"#, b64(&json!([1]))),
                "extra",
            ),
            // Arrays and objects are not parameter values.
            (
                "k8s",
                "pod",
                r#"{"namespace": ["a", "b"]}"#.into(),
                "namespace",
            ),
            ("k8s", "pod", r#"{"field": {"data": 1}}"#.into(), "field"),
            (
                "mesos",
                "application",
                r#"{"name": "x", "instance": [1]}"#.into(),
                "instance",
            ),
        ];
        for (n, (env, kind, body, param)) in bodies.iter().enumerate() {
            let uri = query_url(PREFIXES[n % 2], env, c, kind);
            let r = post(&app, &uri, body.as_bytes()).await;
            assert_eq!(r.status, 400, "{b:?} POST {uri} {body}: {}", r.raw);
            r.assert_err(400, 1_405_090, param);
        }
        // Bodies that are not a JSON object of parameters.
        for body in [
            "{",
            "[1]",
            r#""replicas=3""#,
            "3",
            "null",
            "{\"a\":1}}",
            "\u{0}",
        ] {
            for prefix in PREFIXES {
                let uri = query_url(prefix, "k8s", c, "deployment");
                let r = post(&app, &uri, body.as_bytes()).await;
                assert_eq!(r.status, 400, "{b:?} POST {uri} {body:?}: {}", r.raw);
                r.assert_err(400, 1_405_080, "JSON");
            }
        }
        // Nothing changed.
        let url = query_url(V4, "k8s", c, "deployment");
        assert_eq!(
            names(&get_items(&app, &url, "after").await),
            strings(&["d1"])
        );
    }
}

#[actix_web::test]
async fn unknown_kinds_are_404_and_other_methods_405() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for prefix in PREFIXES {
            for (env, kind) in [
                ("k8s", "nosuchkind"),
                ("k8s", "taskgroup"),
                ("k8s", "process"),
                ("k8s", "exportservice"),
                ("mesos", "pod"),
                ("mesos", "node"),
                ("mesos", "Pod"),
                ("k8s", "Pod"),
            ] {
                let uri = query_url(prefix, env, "c1", kind);
                app.get(&uri).await.assert_err(404, 1_405_093, kind);
                post(&app, &uri, b"{}")
                    .await
                    .assert_err(404, 1_405_093, kind);
            }
            let uri = query_url(prefix, "docker", "c1", "pod");
            let r = app.get(&uri).await;
            assert_eq!(r.status, 404, "{}", r.raw);
            assert!(!r.result(), "{}", r.raw);
            assert_eq!(r.code(), 1_405_093, "{}", r.raw);
            for method in ["PUT", "DELETE", "PATCH"] {
                for kind in ["pod", "namespace"] {
                    let uri = query_url(prefix, "k8s", "c1", kind);
                    let r = app.send(method, &uri, Some(b"{}")).await;
                    r.assert_err(405, 1_405_094, method);
                }
                let uri = query_url(prefix, "mesos", "c1", "taskgroup");
                app.send(method, &uri, None)
                    .await
                    .assert_err(405, 1_405_094, method);
            }
        }
    }
}

/// Not a calendar concern of the contract, but section 10: a time far
/// outside years 1..9999 (typically milliseconds sent where seconds are
/// expected) is answered, never with a 5xx.
#[actix_web::test]
async fn time_values_beyond_the_calendar_never_answer_5xx() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-K8S-FAR";
        let data = json!({"status": {"startTime": "2017-10-09T08:00:00Z"}});
        put_k8s(&app, c, "ns1", "Pod", "p1", data).await;
        let url = query_url(V4, "k8s", c, "pod");
        let mut failures = Vec::new();
        for q in [
            "startTimeBegin=1507536000000",
            "startTimeEnd=1507536000000",
            "startTimeEnd=9999999999999",
            "startTimeBegin=-99999999999",
            "createTimeBegin=0000-01-01T00:00:00Z",
        ] {
            let r = app.get(&format!("{url}?{q}")).await;
            match r.status {
                200 => assert_no_internal_fields(&r, q),
                400 => {
                    r.assert_err(400, 1_405_090, q.split('=').next().unwrap_or(""));
                }
                _ => failures.push(format!("GET {url}?{q}: {} {}", r.status, r.raw)),
            }
        }
        // A stored time field holding milliseconds (read as seconds it lies
        // beyond year 9999, so it is not a time): the PUT succeeds, the
        // document is listed, and no time range matches it.
        let uri = put_url("k8s", c, Some("ns1"), "Pod", "p-ms");
        let body = json!({"data": {"status": {"startTime": "1507536000000"}}});
        let r = app.put_json(&uri, &body).await;
        if r.status == 200 && r.result() {
            let q = format!("{url}?startTimeBegin=1507536001");
            let got = names(&get_items(&app, &q, &format!("{b:?}")).await);
            assert!(got.is_empty(), "{b:?}: {got:?}");
            let q = format!("{url}?name=p-ms");
            let got = names(&get_items(&app, &q, &format!("{b:?}")).await);
            assert_eq!(got, strings(&["p-ms"]), "{b:?}");
        } else {
            failures.push(format!("PUT {uri} {body}: {} {}", r.status, r.raw));
        }
        assert!(failures.is_empty(), "{b:?}:\n{}", failures.join("\n"));
    }
}

#[actix_web::test]
async fn typed_values_compare_by_json_type_as_mongodb_does() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-TYPES";
        for (name, v, phase) in [
            ("r-arr", json!([1, 3]), json!(["Running", "x"])),
            ("r-big", json!(9_007_199_254_740_993i64), json!("é")),
            ("r-false", json!(false), json!("a%")),
            ("r-float", json!(3.0), json!("abc")),
            ("r-int", json!(3), json!("a_c")),
            ("r-null", json!(null), json!(null)),
            ("r-one", json!(1), json!("ABC")),
            ("r-str", json!("1"), json!("a\"b")),
            ("r-true", json!(true), json!(1)),
            ("r-zero", json!(0), json!("it's")),
        ] {
            let data = json!({"status": {"replicas": v, "phase": phase}});
            put_k8s(&app, c, "ns1", "Deployment", name, data.clone()).await;
            put_k8s(&app, c, "ns1", "Pod", name, data).await;
            let data = json!({"is_in_rolling": v, "status": phase});
            put_mesos(&app, c, "ns1", "deployment", name, data).await;
        }
        let dep = query_url(V4, "k8s", c, "deployment");
        let pod = query_url(V1, "k8s", c, "pod");
        let mdep = query_url(V4, "mesos", c, "deployment");
        let ex = |v: Value| format!("extra={}", extra(&v));
        let cases: Vec<(&String, String, Vec<&str>)> = vec![
            // Integers: numeric equality, any number type, array elements;
            // never strings or bools.
            (&dep, "replicas=3".into(), vec!["r-arr", "r-float", "r-int"]),
            (&dep, "replicas=1".into(), vec!["r-arr", "r-one"]),
            (&dep, "replicas=0".into(), vec!["r-zero"]),
            // Exact for integers beyond 2^53.
            (&dep, "replicas=9007199254740993".into(), vec!["r-big"]),
            (&dep, "replicas=9007199254740992".into(), vec![]),
            // Booleans: never the numbers 1 and 0, nor null.
            (&mdep, "isInRolling=true".into(), vec!["r-true"]),
            (&mdep, "isInRolling=false".into(), vec!["r-false"]),
            // Strings: literal (no LIKE wildcards), case-sensitive, never
            // numbers; array elements match.
            (&pod, "status=a_c".into(), vec!["r-int"]),
            (&pod, "status=a%25".into(), vec!["r-false"]),
            (&pod, "status=abc".into(), vec!["r-float"]),
            (&pod, "status=1".into(), vec![]),
            (&mdep, "status=1".into(), vec![]),
            (&pod, "status=it's".into(), vec!["r-zero"]),
            (&pod, "status=a%22b".into(), vec!["r-str"]),
            (&pod, "status=%C3%A9".into(), vec!["r-big"]),
            (&pod, "status=Running".into(), vec!["r-arr"]),
            // extra values keep their JSON type.
            (&pod, ex(json!({"data.status.phase": []})), vec![]),
            (&pod, ex(json!({"data.status.phase": null})), vec!["r-null"]),
            (
                &pod,
                ex(json!({"data.status.replicas": 3})),
                vec!["r-arr", "r-float", "r-int"],
            ),
            (
                &pod,
                ex(json!({"data.status.replicas": true})),
                vec!["r-true"],
            ),
            (
                &pod,
                ex(json!({"data.status.replicas": "1"})),
                vec!["r-str"],
            ),
            (
                &pod,
                ex(json!({"data.status.replicas": [[1, 3]]})),
                vec!["r-arr"],
            ),
            (
                &pod,
                ex(json!({"data.status": {"replicas": 3, "phase": "a_c"}})),
                vec!["r-int"],
            ),
        ];
        for (url, q, want) in cases {
            let ctx = format!("{b:?} types");
            assert_eq!(
                names_both(&app, url, &q, &ctx).await,
                strings(&want),
                "{ctx}: {url}?{q}"
            );
        }
    }
}

#[actix_web::test]
async fn documents_of_any_shape_are_served_and_only_times_match_time_ranges() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let c = "BCS-SHAPES";
        for (name, data) in [
            (
                "d-array",
                json!([1, {"status": {"startTime": "2017-10-09T08:00:00Z"}}]),
            ),
            (
                "d-dotted",
                json!({"status": {"startTime": "2017-10-09T08:00:00Z"},
                                "metadata": {"labels": {"a.b": "1", "$x": "2"}}}),
            ),
            ("d-number", json!(5)),
            ("d-string", json!("just a string")),
            (
                "t-array",
                json!({"status": {"startTime": ["2017-10-09T08:00:00Z"]}}),
            ),
            ("t-object", json!({"status": {"startTime": {"$date": 1}}})),
            ("t-seconds", json!({"status": {"startTime": 1_507_536_000}})),
            (
                "t-year1",
                json!({"status": {"startTime": "0001-01-01T00:00:00Z"}}),
            ),
        ] {
            put_k8s(&app, c, "ns1", "Pod", name, data).await;
        }
        // A cluster-scoped pod sorts before the namespaced ones, uppercase
        // before lowercase (byte order).
        put(&app, "k8s", c, None, "Pod", "z-cluster", &json!({})).await;
        put_k8s(&app, c, "ns1", "Pod", "Zed", json!({})).await;
        let url = query_url(V4, "k8s", c, "pod");
        let ctx = format!("{b:?} shapes");
        let items = get_items(&app, &url, &ctx).await;
        assert_eq!(
            names(&items),
            strings(&[
                "z-cluster",
                "Zed",
                "d-array",
                "d-dotted",
                "d-number",
                "d-string",
                "t-array",
                "t-object",
                "t-seconds",
                "t-year1"
            ]),
            "{ctx}"
        );
        assert_eq!(
            items[2]["data"],
            json!([1, {"status": {"startTime": "2017-10-09T08:00:00Z"}}])
        );
        assert_eq!(items[5]["data"], json!("just a string"));
        assert_eq!(
            items[7]["data"],
            json!({"status": {"startTime": {"$date": 1}}})
        );
        for (q, want) in [
            ("startTimeBegin=0", vec!["d-dotted", "t-seconds"]),
            (
                "startTimeEnd=4102444800",
                vec!["d-dotted", "t-seconds", "t-year1"],
            ),
            ("startTimeEnd=0", vec!["t-year1"]),
        ] {
            assert_eq!(
                names_both(&app, &url, q, &ctx).await,
                strings(&want),
                "{ctx}: {q}"
            );
        }
        // Keys with dots and dollars come back as stored, also projected.
        for (q, want) in [
            (
                "field=data.metadata.labels&name=d-dotted",
                json!({"metadata": {"labels": {"a.b": "1", "$x": "2"}}}),
            ),
            (
                "field=data.metadata.labels.a%EF%BC%8Eb&name=d-dotted",
                json!({"metadata": {"labels": {"a.b": "1"}}}),
            ),
            (
                "field=data,data.status&name=d-dotted",
                json!({"status": {"startTime": "2017-10-09T08:00:00Z"},
                                                          "metadata": {"labels": {"a.b": "1", "$x": "2"}}}),
            ),
        ] {
            let items = get_items(&app, &format!("{url}?{q}"), &ctx).await;
            assert_eq!(items.len(), 1, "{ctx}: {q}");
            assert_eq!(items[0]["data"], want, "{ctx}: {q}");
        }
    }
}
