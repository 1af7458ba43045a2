//! Real Kubernetes clients against a real server process, on both stores:
//! `kubectl` (get with tables, -o json/wide, selectors, -A, --chunk-size,
//! get --raw, api-resources, get --watch; create, apply, patch, label,
//! annotate, replace, delete; top pod and top node) on the one-cluster and
//! the all-clusters views, with the kubeconfig docs/kubernetes-api.md
//! shows; and the Python `kubernetes` client (lists with selectors and
//! paging, watch.Watch().stream, relisting after a 410; creates, patches,
//! status replaces, conflicts, delete-collection). The Python client lives
//! in target/kube-venv, installed by scripts/test.sh from
//! tests/clients/requirements.txt.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Backend, MONGO_ENV, TestStore, backends};
use crate::crash::{Server, request, start_with};

const BCS: &str = "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters";

/// A server of `backend` on a fresh store (its own MongoDB databases).
fn server(backend: Backend, dir: &Path, extra: &[(&str, &str)]) -> Server {
    let unique = format!(
        "kc{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    );
    let mut env: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if backend == Backend::Mongo {
        env.push(("BCS_STORAGE__STORAGE__BACKEND".into(), "mongodb".into()));
        env.push((
            "BCS_STORAGE__STORAGE__MONGODB__URI".into(),
            std::env::var(MONGO_ENV).expect("mongo uri"),
        ));
        for db in [
            "dynamic",
            "event",
            "alarm",
            "metric",
            "watch",
            "host",
            "cluster_config",
        ] {
            env.push((
                format!(
                    "BCS_STORAGE__STORAGE__MONGODB__DATABASES__{}",
                    db.to_uppercase()
                ),
                format!("{unique}_{db}"),
            ));
        }
    }
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_with(dir, &refs)
}

fn put_pod(port: u16, cluster: &str, ns: &str, name: &str, labels: Value, phase: &str) {
    let body = json!({"data": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "resourceVersion": "77",
                     "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1.25"}]},
        "status": {"phase": phase, "podIP": "10.0.0.9",
                   "containerStatuses": [{"name": "c", "image": "nginx:1.25", "imageID": "docker.io/library/nginx@sha256:0d17", "ready": true, "restartCount": 1, "state": {"running": {}}}]}
    }});
    let path = format!("{BCS}/{cluster}/namespaces/{ns}/Pod/{name}");
    let (status, reply) = request(port, "PUT", &path, Some(&body.to_string())).expect("put");
    assert_eq!(status, 200, "{reply}");
}

fn put_node(port: u16, cluster: &str, name: &str) {
    let body = json!({"data": {"metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {
            "architecture": "amd64", "bootID": "b", "containerRuntimeVersion": "containerd://1.7.2",
            "kernelVersion": "5.15.0", "kubeProxyVersion": "v1.30.2", "kubeletVersion": "v1.30.2",
            "machineID": "m", "operatingSystem": "linux", "osImage": "Ubuntu 22.04", "systemUUID": "u"}}}});
    let path =
        format!("/bcsapi/v4/storage/k8s/dynamic/cluster_resources/clusters/{cluster}/Node/{name}");
    let (status, reply) = request(port, "PUT", &path, Some(&body.to_string())).expect("put");
    assert_eq!(status, 200, "{reply}");
}

/// kubectl with a kubeconfig of its own (the example of the docs: one
/// context per view) and a private discovery cache.
struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn new(dir: &Path, port: u16) -> Kubectl {
        let kubeconfig = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: bcs-k8s-1
  cluster:
    server: http://127.0.0.1:{port}/clusters/BCS-K8S-1
- name: bcs-all
  cluster:
    server: http://127.0.0.1:{port}
contexts:
- name: bcs-k8s-1
  context:
    cluster: bcs-k8s-1
    user: bcs
- name: bcs-all
  context:
    cluster: bcs-all
    user: bcs
users:
- name: bcs
  user: {{}}
current-context: bcs-k8s-1
"
        );
        std::fs::write(&kubeconfig, text).expect("kubeconfig");
        Kubectl {
            kubeconfig,
            cache: dir.join("kube-cache"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.cache.parent().unwrap_or(Path::new("/tmp")))
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        c
    }

    /// Runs kubectl; (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .command(args)
            .output()
            .expect("kubectl runs (scripts/test.sh installs it when missing)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        out
    }
}

/// Rows of kubectl's table output, split on runs of 2+ spaces.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn kubectl_reads_both_views() {
    for b in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = server(b, &dir.path().join("data"), &[]);
        let port = srv.port;
        put_pod(
            port,
            "BCS-K8S-1",
            "default",
            "web-1",
            json!({"app": "web"}),
            "Running",
        );
        put_pod(
            port,
            "BCS-K8S-1",
            "default",
            "web-2",
            json!({"app": "web"}),
            "Running",
        );
        put_pod(
            port,
            "BCS-K8S-1",
            "kube-system",
            "dns",
            json!({"app": "dns"}),
            "Pending",
        );
        put_pod(
            port,
            "BCS-K8S-2",
            "default",
            "web-1",
            json!({"app": "web"}),
            "Running",
        );
        put_node(port, "BCS-K8S-1", "node-1");
        let k = Kubectl::new(dir.path(), port);

        let out = k.ok(&["get", "pods"]);
        let r = rows(&out);
        assert_eq!(
            r[0],
            ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            "{b:?}\n{out}"
        );
        assert_eq!(r[1][..4], ["web-1", "1/1", "Running", "1"]);
        assert_eq!(r.len(), 3, "{out}");
        let out = k.ok(&["get", "pods", "-A", "-o", "wide"]);
        let r = rows(&out);
        assert_eq!(
            r[0],
            [
                "NAMESPACE",
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED NODE",
                "READINESS GATES"
            ],
            "{out}"
        );
        assert_eq!(r.len(), 4, "{out}");
        assert_eq!(r[3][..2], ["kube-system", "dns"]);
        assert_eq!(r[3][6..8], ["10.0.0.9", "node-1"]);
        let out = k.ok(&[
            "get",
            "pods",
            "-A",
            "-l",
            "app=web",
            "--field-selector",
            "status.phase=Running",
            "-o",
            "name",
        ]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["pod/web-1", "pod/web-2"],
            "{b:?}"
        );
        let out = k.ok(&["get", "pods", "-n", "default", "-o", "json"]);
        let v: Value = serde_json::from_str(&out).expect("json");
        let names: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["web-1", "web-2"]);
        assert_eq!(
            v["items"][0]["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
            "BCS-K8S-1"
        );
        let out = k.ok(&["get", "nodes"]);
        assert_eq!(rows(&out)[1][..3], ["node-1", "Ready", "<none>"], "{out}");
        // Paging: every pod, whatever the chunk size.
        let out = k.ok(&["get", "pods", "-A", "--chunk-size", "1", "-o", "name"]);
        assert_eq!(out.lines().count(), 3, "{out}");
        let out = k.ok(&["get", "--raw", "/api/v1/namespaces/default/pods/web-2"]);
        let v: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["metadata"]["name"], "web-2");
        let out = k.ok(&["api-resources", "--no-headers"]);
        for want in ["pods", "deployments", "nodes", "events"] {
            assert!(
                out.lines().any(|l| l.starts_with(&format!("{want} "))),
                "{want}: {out}"
            );
        }
        let (ok, _, err) = k.run(&["get", "pod", "nope"]);
        assert!(!ok);
        assert!(
            err.contains("Error from server (NotFound): pods \"nope\" not found"),
            "{err}"
        );
        let (ok, _, err) = k.run(&["get", "pods", "--field-selector", "spec.bogus=1"]);
        assert!(!ok);
        assert!(
            err.contains("field label not supported: spec.bogus"),
            "{err}"
        );
        let (ok, _, err) = k.run(&["--context", "bcs-all", "delete", "pod", "web-1"]);
        assert!(!ok, "the all-clusters view is read-only");
        assert!(
            err.contains("write to one cluster, under /clusters/{cluster}/api/v1/namespaces/default/pods/web-1"),
            "{err}"
        );

        // All clusters: the Cluster column, both clusters' pods.
        let out = k.ok(&["--context", "bcs-all", "get", "pods", "-A"]);
        let r = rows(&out);
        assert_eq!(r[0][..3], ["NAMESPACE", "CLUSTER", "NAME"], "{out}");
        let got: Vec<String> = r[1..]
            .iter()
            .map(|x| format!("{}/{}", x[1], x[2]))
            .collect();
        assert_eq!(
            got,
            [
                "BCS-K8S-1/web-1",
                "BCS-K8S-1/web-2",
                "BCS-K8S-1/dns",
                "BCS-K8S-2/web-1"
            ],
            "{b:?}"
        );
        let out = k.ok(&[
            "--server",
            &format!("http://127.0.0.1:{port}/apis/clusterpedia.io/v1beta1/resources"),
            "get",
            "pods",
            "-A",
            "-o",
            "name",
        ]);
        assert_eq!(out.lines().count(), 4, "{out}");

        // get --watch (bounded): the current state, then a new pod.
        let mut child = k
            .command(&[
                "get",
                "pods",
                "--watch",
                "-o",
                "name",
                "--request-timeout",
                "60s",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        let mut wrote = false;
        while !lines.iter().any(|l: &String| l == "pod/web-3") {
            assert!(Instant::now() < deadline, "kubectl --watch saw {lines:?}");
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                lines.push(l);
            }
            if !wrote && lines.len() >= 2 {
                put_pod(
                    port,
                    "BCS-K8S-1",
                    "default",
                    "web-3",
                    json!({"app": "web"}),
                    "Running",
                );
                wrote = true;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(lines[..2], ["pod/web-1", "pod/web-2"], "{b:?}");
    }
}

/// A manifest file of the test.
fn manifest(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).expect("json")).expect("manifest");
    p.display().to_string()
}

fn web_pod(image: &str, tier: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "x", "tier": tier}},
        "spec": {"containers": [{"name": "app", "image": image,
            "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}]}})
}

#[test]
fn kubectl_writes_objects() {
    for b in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = server(b, &dir.path().join("data"), &[]);
        let port = srv.port;
        let k = Kubectl::new(dir.path(), port);
        let get =
            |jsonpath: &str| k.ok(&["get", "pod", "web", "-o", &format!("jsonpath={jsonpath}")]);

        // create, then the same document on the bcs route.
        let f = manifest(dir.path(), "web.json", &web_pod("nginx:1.25", "a"));
        assert_eq!(
            k.ok(&["create", "-f", &f]).trim(),
            "pod/web created",
            "{b:?}"
        );
        let (status, reply) = request(
            port,
            "GET",
            &format!("{BCS}/BCS-K8S-1/namespaces/default/Pod/web"),
            None,
        )
        .expect("get");
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&reply).expect("json");
        assert_eq!(
            v["data"]["data"]["spec"]["containers"][0]["image"], "nginx:1.25",
            "{reply}"
        );
        assert!(v["data"]["data"]["metadata"]["uid"].is_string(), "{reply}");
        assert!(
            v["data"]["metadata"].get("resourceVersion").is_none(),
            "{reply}"
        );
        let (ok, _, err) = k.run(&["create", "-f", &f]);
        assert!(!ok);
        assert!(
            err.contains("(AlreadyExists)") && err.contains("pods \"web\" already exists"),
            "{err}"
        );
        assert_eq!(get("{.status.phase}"), "Pending");

        // apply twice: an object apply did not create gets the annotation,
        // then the change of an image and a label is a strategic merge
        // patch that keeps what it does not mention.
        k.ok(&["apply", "-f", &f]);
        let f2 = manifest(dir.path(), "web2.json", &web_pod("nginx:1.27", "b"));
        assert_eq!(k.ok(&["apply", "-f", &f2]).trim(), "pod/web configured");
        assert_eq!(
            get(
                "{.spec.containers[0].image} {.metadata.labels.tier} {.spec.containers[0].ports[0].containerPort} {.spec.containers[0].env[0].name}"
            ),
            "nginx:1.27 b 80 A"
        );
        assert_eq!(k.ok(&["apply", "-f", &f2]).trim(), "pod/web unchanged");
        // An object apply creates, then changes.
        let mut api = web_pod("api:1", "a");
        api["metadata"]["name"] = json!("api");
        let fa = manifest(dir.path(), "api.json", &api);
        assert_eq!(k.ok(&["apply", "-f", &fa]).trim(), "pod/api created");
        api["spec"]["containers"][0]["image"] = json!("api:2");
        api["metadata"]["labels"]["tier"] = json!("c");
        let fa = manifest(dir.path(), "api.json", &api);
        assert_eq!(k.ok(&["apply", "-f", &fa]).trim(), "pod/api configured");
        let out = k.ok(&["get", "pod", "api", "-o", "jsonpath={.spec.containers[0].image} {.metadata.labels.tier} {.spec.containers[0].env[0].value}"]);
        assert_eq!(out, "api:2 c 1", "{b:?}");
        k.ok(&["delete", "-f", &fa]);

        // patch in the three formats, label, annotate.
        k.ok(&[
            "patch",
            "pod",
            "web",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"labels":{"m":"1"}}}"#,
        ]);
        k.ok(&[
            "patch",
            "pod",
            "web",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.28"}]"#,
        ]);
        k.ok(&[
            "patch",
            "pod",
            "web",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"2"}]}]}}"#,
        ]);
        k.ok(&["label", "pod", "web", "l=v"]);
        k.ok(&["annotate", "pod", "web", "note=hi"]);
        let v: Value =
            serde_json::from_str(&k.ok(&["get", "pod", "web", "-o", "json"])).expect("json");
        assert_eq!(
            v["metadata"]["labels"],
            json!({"app": "x", "tier": "b", "m": "1", "l": "v"}),
            "{b:?}"
        );
        assert_eq!(v["metadata"]["annotations"]["note"], "hi");
        assert_eq!(v["spec"]["containers"][0]["image"], "nginx:1.28");
        let env: Vec<&str> = v["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(env.len(), 2, "{env:?}");
        assert!(env.contains(&"A") && env.contains(&"B"), "{env:?}");
        // Two spec changes since the create (apply's image, the JSON
        // patch's image, the strategic patch's env): generation 4.
        assert_eq!(v["metadata"]["generation"], 4);
        let (ok, _, err) = k.run(&[
            "patch",
            "pod",
            "web",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/metadata/name","value":"other"}]"#,
        ]);
        assert!(!ok, "a failed test operation is refused");
        assert!(err.contains("cannot be applied"), "{err}");

        // replace; replaying the old file is a conflict.
        let mut edited = v.clone();
        edited["spec"]["containers"][0]["image"] = json!("nginx:1.29");
        let f3 = manifest(dir.path(), "web3.json", &edited);
        assert_eq!(k.ok(&["replace", "-f", &f3]).trim(), "pod/web replaced");
        assert_eq!(get("{.spec.containers[0].image}"), "nginx:1.29");
        let (ok, _, err) = k.run(&["replace", "-f", &f3]);
        assert!(!ok, "a stale resourceVersion is refused");
        assert!(
            err.contains("(Conflict)") && err.contains("the object has been modified"),
            "{err}"
        );

        // A bcs PUT is seen here; server-side dry runs write nothing.
        put_pod(
            port,
            "BCS-K8S-1",
            "default",
            "agent-1",
            json!({"app": "x"}),
            "Running",
        );
        put_pod(
            port,
            "BCS-K8S-1",
            "default",
            "other",
            json!({"app": "y"}),
            "Running",
        );
        let mut dry = web_pod("nginx:1", "a");
        dry["metadata"]["name"] = json!("dry");
        let f4 = manifest(dir.path(), "dry.json", &dry);
        k.ok(&["create", "--dry-run=server", "-f", &f4]);
        let (ok, _, _) = k.run(&["get", "pod", "dry"]);
        assert!(!ok, "a dry run stores nothing");

        // delete one, delete by label.
        assert_eq!(
            k.ok(&["delete", "pod", "web"]).trim(),
            "pod \"web\" deleted"
        );
        let out = k.ok(&["delete", "pods", "-l", "app=x"]);
        assert_eq!(out.trim(), "pod \"agent-1\" deleted", "{b:?}");
        assert_eq!(k.ok(&["get", "pods", "-o", "name"]).trim(), "pod/other");
        let (status, reply) = request(
            port,
            "GET",
            &format!("{BCS}/BCS-K8S-1/namespaces/default/Pod/web"),
            None,
        )
        .expect("get");
        assert_eq!(status, 200);
        assert!(reply.contains("resource does not exist"), "{reply}");
    }
}

/// A metrics sample as an agent PUTs it on the bcs metric route.
fn put_metric(port: u16, cluster: &str, ns: &str, ty: &str, name: &str, data: Value) {
    let path = format!("/bcsapi/v4/storage/metric/clusters/{cluster}/namespaces/{ns}/{ty}/{name}");
    let (status, reply) = request(
        port,
        "PUT",
        &path,
        Some(&json!({ "data": data }).to_string()),
    )
    .expect("put");
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn kubectl_top_reads_the_metric_store() {
    for b in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = server(b, &dir.path().join("data"), &[]);
        let port = srv.port;
        put_pod(
            port,
            "BCS-K8S-1",
            "default",
            "web-1",
            json!({"app": "web"}),
            "Running",
        );
        put_pod(
            port,
            "BCS-K8S-1",
            "default",
            "db",
            json!({"app": "db"}),
            "Running",
        );
        put_pod(
            port,
            "BCS-K8S-2",
            "default",
            "web-1",
            json!({"app": "web"}),
            "Running",
        );
        let node = json!({"data": {"metadata": {"name": "node-1"},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}, "capacity": {"cpu": "4", "memory": "8Gi"}}}});
        let (status, _) = request(
            port,
            "PUT",
            "/bcsapi/v4/storage/k8s/dynamic/cluster_resources/clusters/BCS-K8S-1/Node/node-1",
            Some(&node.to_string()),
        )
        .expect("put");
        assert_eq!(status, 200);
        let sample = |cpu: &str, mem: &str| {
            json!({"timestamp": "2026-12-03T10:00:00Z", "window": "30s",
            "containers": [{"name": "c", "usage": {"cpu": cpu, "memory": mem}}]})
        };
        put_metric(
            port,
            "BCS-K8S-1",
            "default",
            "PodMetrics",
            "web-1",
            sample("250m", "64Mi"),
        );
        put_metric(
            port,
            "BCS-K8S-1",
            "default",
            "PodMetrics",
            "db",
            sample("1500m", "1Gi"),
        );
        put_metric(
            port,
            "BCS-K8S-2",
            "default",
            "PodMetrics",
            "web-1",
            sample("5m", "8Mi"),
        );
        put_metric(
            port,
            "BCS-K8S-1",
            "-",
            "NodeMetrics",
            "node-1",
            json!({"timestamp": "2026-12-03T10:00:00Z", "window": "20s", "usage": {"cpu": "2", "memory": "2Gi"}}),
        );
        let k = Kubectl::new(dir.path(), port);

        let out = k.ok(&["top", "pod", "-n", "default"]);
        let r = rows(&out);
        assert_eq!(
            r[0],
            ["NAME", "CPU(cores)", "MEMORY(bytes)"],
            "{b:?}\n{out}"
        );
        assert_eq!(
            r[1..],
            [vec!["db", "1500m", "1024Mi"], vec!["web-1", "250m", "64Mi"]],
            "{out}"
        );
        let out = k.ok(&[
            "top",
            "pod",
            "-n",
            "default",
            "-l",
            "app=web",
            "--containers",
        ]);
        assert_eq!(
            rows(&out)[1..],
            [vec!["web-1", "c", "250m", "64Mi"]],
            "{out}"
        );
        let out = k.ok(&["top", "node"]);
        assert_eq!(
            rows(&out)[1],
            ["node-1", "2000m", "50%", "2048Mi", "25%"],
            "{out}"
        );

        // A sample written through the Kubernetes API is the same document.
        let pm = json!({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": "web-2", "namespace": "default", "labels": {"app": "web"}},
            "timestamp": "2026-12-03T10:00:00Z", "window": "30s",
            "containers": [{"name": "c", "usage": {"cpu": "10m", "memory": "16Mi"}}]});
        let f = manifest(dir.path(), "pm.json", &pm);
        k.ok(&["create", "-f", &f]);
        let out = k.ok(&["top", "pod", "-n", "default", "-l", "app=web"]);
        let names: Vec<String> = rows(&out)[1..].iter().map(|r| r[0].clone()).collect();
        assert_eq!(names, ["web-1", "web-2"], "{b:?}\n{out}");
        let (status, reply) = request(
            port,
            "GET",
            "/bcsapi/v4/storage/metric/clusters/BCS-K8S-1/namespaces/default/PodMetrics/web-2",
            None,
        )
        .expect("get");
        assert_eq!(status, 200);
        assert!(reply.contains("\"16Mi\""), "{reply}");

        // All clusters: both pods named web-1 are listed; reading one by
        // name is ambiguous.
        let out = k.ok(&[
            "--context",
            "bcs-all",
            "get",
            "--raw",
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb",
        ]);
        let v: Value = serde_json::from_str(&out).expect("json");
        let got: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                        .as_str()
                        .unwrap(),
                    i["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            got,
            ["BCS-K8S-1/web-1", "BCS-K8S-1/web-2", "BCS-K8S-2/web-1"],
            "{b:?}"
        );
        let (ok, _, err) = k.run(&[
            "--context",
            "bcs-all",
            "get",
            "--raw",
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-1",
        ]);
        assert!(!ok);
        assert!(err.contains("BCS-K8S-1, BCS-K8S-2"), "{err}");
    }
}

#[test]
fn kubectl_lists_ten_thousand_pods_completely() {
    // Loaded in-process (fast), then served by a real server on the same
    // files; kubectl pages by 500.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = TestStore::with_settings(Backend::Sqlite, |s| s.storage.sqlite.path = data.clone()).await;
        let svc = store.service();
        let mut tasks = Vec::new();
        for i in 0..10_000 {
            let svc = svc.clone();
            tasks.push(tokio::spawn(async move {
                let path = bcs_storage::domain::dynamic::ResourcePath {
                    cluster_id: "BIG".into(),
                    namespace: Some(format!("ns{}", i % 10)),
                    resource_type: "Pod".into(),
                    resource_name: Some(format!("pod-{i:05}")),
                };
                let data = json!({"metadata": {"name": format!("pod-{i:05}")}, "status": {"phase": "Running"}});
                bcs_storage::domain::dynamic::upsert_data(&svc, &path, data).await.expect("upsert");
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        store.store.close().await;
    });
    drop(rt);
    let srv = server(Backend::Sqlite, &data, &[]);
    let k = Kubectl::new(dir.path(), srv.port);
    let out = k.ok(&[
        "--server",
        &format!("http://127.0.0.1:{}/clusters/BIG", srv.port),
        "get",
        "pods",
        "-A",
        "--no-headers",
    ]);
    let names: std::collections::BTreeSet<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(out.lines().count(), 10_000);
    assert_eq!(names.len(), 10_000);
}

/// The venv python with the `kubernetes` client.
fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kube-venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: scripts/test.sh installs tests/clients/requirements.txt there",
        p.display()
    );
    p
}

fn py(server: &str, bcs_base: &str, scenario: &str, arg: Option<&str>) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/kube_client.py");
    let mut c = Command::new(python());
    c.arg(script).args([server, bcs_base, scenario]);
    if let Some(a) = arg {
        c.arg(a);
    }
    let out = c.output().expect("python runs");
    assert!(
        out.status.success(),
        "python {scenario} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python {scenario} printed {:?}: {e}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn the_python_client_writes() {
    for b in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = server(b, &dir.path().join("data"), &[]);
        let port = srv.port;
        put_pod(
            port,
            "C1",
            "default",
            "agent",
            json!({"app": "agent"}),
            "Running",
        );
        let server = format!("http://127.0.0.1:{port}/clusters/C1");
        let bcs = format!("http://127.0.0.1:{port}{BCS}/C1");
        let v = py(&server, &bcs, "write", None);
        assert_eq!(v["created"], json!(["py-1", "Pending", 36]), "{b:?}");
        assert_eq!(v["again"], json!([409, "AlreadyExists"]));
        assert_eq!(
            v["patched"],
            json!([{"app": "py", "tier": "t"}, "busybox:1.37"])
        );
        assert_eq!(v["status"], json!(["Running", "10.1.1.1", "busybox:1.37"]));
        assert_eq!(v["stale"], json!([409, "Conflict"]));
        assert_eq!(v["phase"], "Running");
        assert_eq!(v["left"], json!(["default/agent"]));
        assert_eq!(v["delete_again"], 404);
    }
}

#[test]
fn the_python_client_lists_pages_and_watches() {
    for b in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let srv = server(b, &dir.path().join("data"), &[]);
        let port = srv.port;
        put_pod(
            port,
            "C1",
            "default",
            "web-1",
            json!({"app": "web"}),
            "Running",
        );
        put_pod(
            port,
            "C1",
            "default",
            "web-2",
            json!({"app": "web"}),
            "Running",
        );
        put_pod(port, "C1", "default", "db", json!({"app": "db"}), "Pending");
        put_pod(port, "C1", "kube-system", "dns", json!({}), "Running");
        put_pod(port, "C1", "kube-system", "proxy", json!({}), "Running");
        put_pod(
            port,
            "C2",
            "default",
            "web-1",
            json!({"app": "web"}),
            "Running",
        );
        put_node(port, "C1", "node-1");
        let server = format!("http://127.0.0.1:{port}/clusters/C1");
        let bcs = format!("http://127.0.0.1:{port}{BCS}/C1");
        let v = py(&server, &bcs, "list", None);
        assert_eq!(v["web"], json!(["default/web-1", "default/web-2"]), "{b:?}");
        assert_eq!(
            v["not_web"],
            json!(["default/db", "kube-system/dns", "kube-system/proxy"])
        );
        assert_eq!(v["pending"], json!(["default/db"]));
        assert_eq!(
            v["paged"],
            json!([
                "default/db",
                "default/web-1",
                "default/web-2",
                "kube-system/dns",
                "kube-system/proxy"
            ])
        );
        assert_eq!(v["pages"], 3);
        assert_eq!(
            v["read"],
            json!({"name": "web-1", "cluster": "C1", "created": "2026-01-02T03:04:05+00:00", "rv_is_store_revision": true, "phase": "Running"})
        );
        assert_eq!(v["missing"]["status"], 404);
        assert_eq!(v["missing"]["reason"], "NotFound");
        assert_eq!(v["bad_field"]["status"], 400);
        assert_eq!(v["nodes"], json!(["node-1"]));

        let v = py(&server, &bcs, "watch", None);
        assert_eq!(v["initial"], json!([]));
        assert_eq!(
            v["events"],
            json!([
                ["ADDED", "w1", "Running"],
                ["MODIFIED", "w1", "Succeeded"],
                ["DELETED", "w1", "Succeeded"]
            ]),
            "{b:?}"
        );
    }
}

#[test]
fn the_python_client_relists_after_a_410() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = server(
        Backend::Sqlite,
        &dir.path().join("data"),
        &[("BCS_STORAGE__STORAGE__SQLITE__CHANGE_LOG_RETAIN", "5")],
    );
    let port = srv.port;
    put_pod(port, "C1", "default", "first", json!({}), "Running");
    let (_, list) = request(
        port,
        "GET",
        "/clusters/C1/api/v1/namespaces/default/pods",
        None,
    )
    .expect("list");
    let v: Value = serde_json::from_str(&list).expect("json");
    let stale = v["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned();
    for i in 0..30 {
        put_pod(
            port,
            "C1",
            "default",
            &format!("p{i}"),
            json!({}),
            "Running",
        );
    }
    let server = format!("http://127.0.0.1:{port}/clusters/C1");
    let bcs = format!("http://127.0.0.1:{port}{BCS}/C1");
    let v = py(&server, &bcs, "expired", Some(&stale));
    assert_eq!(v["error"], 410, "{v}");
    assert_eq!(v["relisted"], 31);
    assert_eq!(v["events"], json!([["ADDED", "after-410"]]));
}

/// The Python client's bearer token (`api_key`) is checked against the
/// tokens file: anonymous and unknown callers get 401 `Unauthorized`, a
/// read token lists but gets 403 `Forbidden` on a patch, a write token
/// patches. (kubectl sends no token over plain HTTP, so it is not used here.)
#[test]
fn the_python_client_sends_its_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tokens.toml");
    let token = |name: &str, scope: &str| crate::auth::add_token(&file, name, scope);
    let (reader, writer) = (token("console", "read"), token("agent", "write"));
    let srv = server(
        Backend::Sqlite,
        &dir.path().join("data"),
        &[(
            "BCS_STORAGE__AUTH__TOKENS_FILE",
            file.to_str().expect("path"),
        )],
    );
    let body = json!({"data": {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default"}, "status": {"phase": "Running"}}});
    let (status, reply) = crate::crash::request_with(
        srv.port,
        "PUT",
        &format!("{BCS}/C1/namespaces/default/Pod/web-1"),
        &[("Authorization", &format!("Bearer {writer}"))],
        Some(&body.to_string()),
    )
    .expect("put");
    assert_eq!(status, 200, "{reply}");
    let view = format!("http://127.0.0.1:{}/clusters/C1", srv.port);
    let out = py(
        &view,
        "",
        "auth",
        Some(&format!("{view} {reader} {writer}")),
    );
    let refused = |code: u16, reason: &str| json!([code, reason]);
    assert_eq!(
        out,
        json!({
            "anonymous": {"list": refused(401, "Unauthorized"), "patch": refused(401, "Unauthorized")},
            "wrong": {"list": refused(401, "Unauthorized"), "patch": refused(401, "Unauthorized")},
            "reader": {"list": ["default/web-1"], "patch": refused(403, "Forbidden")},
            "writer": {"list": ["default/web-1"], "patch": "ok"},
        })
    );
}

/// Certificates made for one test: a CA, a server certificate for
/// 127.0.0.1 and a client certificate, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    /// The CAs the server accepts client certificates from (at first the
    /// same CA).
    client_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

/// A new self-signed CA named `name`: its PEM and what signs with it.
fn new_ca(name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().expect("key");
    let pem = ca.self_signed(&key).expect("ca").pem();
    (pem, Issuer::new(ca, key))
}

/// A client certificate `issuer` signed, written as PEM to `cert` and `key`.
fn issue_client(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>, cert: &Path, key: &Path) {
    let client_key = rcgen::KeyPair::generate().expect("key");
    let signed = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .signed_by(&client_key, issuer)
        .expect("client");
    std::fs::write(cert, signed.pem()).expect("write");
    std::fs::write(key, client_key.serialize_pem()).expect("write");
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let (ca_pem, issuer) = new_ca("bcs-storage test CA");
        let pki = Pki {
            ca: dir.join("ca.pem"),
            client_ca: dir.join("clients-ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
            issuer,
        };
        std::fs::write(&pki.ca, &ca_pem).expect("write");
        std::fs::write(&pki.client_ca, &ca_pem).expect("write");
        pki.issue_server("server one");
        issue_client(&pki.issuer, &pki.client_cert, &pki.client_key);
        pki
    }

    /// Replaces the client CAs with a new CA; writes a client certificate
    /// it signed as `new-client.pem` and `new-client-key.pem` in `dir`.
    fn rotate_client_ca(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (ca_pem, issuer) = new_ca("bcs-storage clients CA two");
        let (cert, key) = (dir.join("new-client.pem"), dir.join("new-client-key.pem"));
        issue_client(&issuer, &cert, &key);
        std::fs::write(&self.client_ca, ca_pem).expect("write");
        (cert, key)
    }

    /// Writes a new server certificate (key first, then certificate);
    /// returns its DER.
    fn issue_server(&self, name: &str) -> Vec<u8> {
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("server");
        std::fs::write(&self.key, key.serialize_pem()).expect("write");
        std::fs::write(&self.cert, cert.pem()).expect("write");
        cert.der().to_vec()
    }
}

/// kubectl over HTTPS with a client certificate (mTLS) and a bearer token:
/// the token's scope decides, a client without a certificate is turned
/// away in the handshake, and a renewed server certificate is served
/// without a restart.
#[test]
fn kubectl_over_mutual_tls_with_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(dir.path());
    let file = dir.path().join("tokens.toml");
    let token = |name: &str, scope: &str| crate::auth::add_token(&file, name, scope);
    let (reader, writer) = (token("console", "read"), token("agent", "write"));
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let srv = server(
        Backend::Sqlite,
        &dir.path().join("data"),
        &[
            ("BCS_STORAGE__AUTH__TOKENS_FILE", &path(&file)),
            ("BCS_STORAGE__SERVER__TLS__CERT", &path(&pki.cert)),
            ("BCS_STORAGE__SERVER__TLS__KEY", &path(&pki.key)),
            ("BCS_STORAGE__SERVER__TLS__CLIENT_CA", &path(&pki.client_ca)),
        ],
    );
    let kubeconfig = |with_cert: bool| {
        let user = if with_cert {
            format!(
                "client-certificate: {}\n    client-key: {}",
                path(&pki.client_cert),
                path(&pki.client_key)
            )
        } else {
            "{}".to_owned()
        };
        let user = if with_cert {
            format!("\n    {user}")
        } else {
            format!(" {user}")
        };
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{}/clusters/C1\n    certificate-authority: {}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:{user}\ncurrent-context: c\n",
            srv.port,
            path(&pki.ca)
        );
        let p = dir.path().join(format!("kubeconfig-{with_cert}"));
        std::fs::write(&p, text).expect("kubeconfig");
        p
    };
    let run = |config: &Path, args: &[&str]| {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", config)
            .env("HOME", dir.path())
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(args)
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mtls = kubeconfig(true);
    let manifest = manifest(dir.path(), "web-1", &web_pod("nginx:1.25", "front"));
    let (ok, _, err) = run(&mtls, &["--token", &writer, "create", "-f", &manifest]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&mtls, &["--token", &reader, "get", "pods", "-o", "name"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "pod/web");
    let (ok, _, err) = run(&mtls, &["get", "pods"]);
    assert!(!ok && err.contains("must be logged in"), "{err}");
    let (ok, _, err) = run(&mtls, &["--token", &reader, "label", "pod", "web", "x=y"]);
    assert!(!ok && err.to_lowercase().contains("forbidden"), "{err}");
    let (ok, _, err) = run(&mtls, &["--token", &writer, "label", "pod", "web", "x=y"]);
    assert!(ok, "{err}");
    // No client certificate: no connection at all.
    let (ok, _, err) = run(&kubeconfig(false), &["--token", &reader, "get", "pods"]);
    assert!(!ok, "a client without a certificate got in");
    assert!(
        !err.contains("forbidden") && !err.contains("NotFound"),
        "{err}"
    );

    // A renewed certificate is served without a restart.
    let renewed = pki.issue_server("server two");
    let script = "import ssl, socket, sys\nctx = ssl.create_default_context(cafile=sys.argv[2])\nctx.load_cert_chain(sys.argv[3], sys.argv[4])\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='127.0.0.1')\nsys.stdout.write(s.getpeercert(binary_form=True).hex())\n";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = Command::new("python3")
            .args(["-c", script, &srv.port.to_string()])
            .args([path(&pki.ca), path(&pki.client_cert), path(&pki.client_key)])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if String::from_utf8_lossy(&out.stdout) == hex_of(&renewed) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (ok, _, err) = run(&mtls, &["--token", &reader, "get", "pods"]);
    assert!(ok, "{err}");

    // New client CAs take effect without a restart: certificates of the
    // old CA are turned away, those of the new one get in.
    let (new_cert, new_key) = pki.rotate_client_ca(dir.path());
    let script = "import ssl, socket, sys\nctx = ssl.create_default_context(cafile=sys.argv[2])\nctx.load_cert_chain(sys.argv[3], sys.argv[4])\ns = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='127.0.0.1')\ns.sendall(b'GET /healthz HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n')\nsys.stdout.write(s.recv(12).decode())\n";
    let healthz = |cert: &Path, key: &Path| {
        let out = Command::new("python3")
            .args(["-c", script, &srv.port.to_string()])
            .args([path(&pki.ca), path(cert), path(key)])
            .output()
            .expect("python3 runs");
        out.status.success() && String::from_utf8_lossy(&out.stdout) == "HTTP/1.1 200"
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !healthz(&new_cert, &new_key) {
        assert!(
            std::time::Instant::now() < deadline,
            "a certificate of the new client CA was never accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        !healthz(&pki.client_cert, &pki.client_key),
        "a certificate of the replaced client CA still got in"
    );
    let (ok, _, _) = run(&mtls, &["--token", &reader, "get", "pods"]);
    assert!(
        !ok,
        "kubectl with the replaced CA's certificate still got in"
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
