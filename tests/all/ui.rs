//! The web console in a real browser: a server process preloaded with the
//! pods, nodes, deployments, events and alarms of two clusters, and
//! Debian's chromium driven headless by playwright-core
//! (`tests/ui/console.mjs`): clusters, the dashboard, a filtered and paged
//! list, a document as JSON and YAML with its events, a PUT shown live
//! within 2 s without moving anything, alarms, phone width, the dark theme
//! and the token prompt. Screenshots go to `target/ui-screenshots/`.
//!
//! `scripts/test.sh` installs chromium and playwright-core (under
//! `target/ui-node`) and sets `BCS_STORAGE_TEST_UI=required`; without it
//! the tests say what is missing and pass only when the browser or Node.js
//! is absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::auth::add_token;
use crate::crash::{Server, request, request_with, start_with};

const V4: &str = "/bcsapi/v4/storage";
const C1: &str = "BCS-K8S-40001";
const C2: &str = "BCS-K8S-40002";

/// Node.js, the browser and playwright-core, or why the test cannot run.
struct Browser {
    modules: PathBuf,
    chromium: String,
}

fn browser() -> Option<Browser> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = std::env::var_os("BCS_UI_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/ui-node/node_modules"));
    let chromium = std::env::var("BCS_UI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = Command::new("node").arg("--version").output().is_ok();
    let missing = [
        (!node, "node"),
        (!Path::new(&chromium).exists(), "chromium"),
        (
            !modules.join("playwright-core").exists(),
            "playwright-core (scripts/test.sh installs it)",
        ),
    ]
    .into_iter()
    .filter_map(|(gone, what)| gone.then_some(what))
    .collect::<Vec<_>>();
    if missing.is_empty() {
        return Some(Browser { modules, chromium });
    }
    let why = format!("the console test needs {}", missing.join(", "));
    if std::env::var("BCS_STORAGE_TEST_UI").as_deref() == Ok("required") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    None
}

fn put(port: u16, path: &str, body: &Value, token: Option<&str>) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let (status, reply) = request_with(
        port,
        "PUT",
        &format!("{V4}{path}"),
        &headers,
        Some(&body.to_string()),
    )
    .expect("request");
    assert_eq!(status, 200, "{path}: {reply}");
    assert!(reply.contains("\"result\":true"), "{path}: {reply}");
}

fn pod_path(cluster: &str, ns: &str, name: &str) -> String {
    format!("/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces/{ns}/Pod/{name}")
}

/// C1: pods web-0..59 (web-0..19 in `shop`, the rest in `default`; phases
/// 45 Running, 5 Pending, 5 Succeeded, 3 Failed, 2 without one; web-7
/// restarted 14 times, web-2 3 times; `tier=db` on web-0, 2, 10, 12), 4
/// deployments, 2 nodes, warnings and a normal event (copied into the
/// dynamic `Event` kind: 69 documents);
/// C2: 8 pods. Three alarms, one of them C2's.
fn preload(port: u16) {
    let token = None;
    for i in 0..60 {
        let name = format!("web-{i}");
        let ns = if i < 20 { "shop" } else { "default" };
        let phase = match i {
            0..45 => json!("Running"),
            45..50 => json!("Pending"),
            50..55 => json!("Succeeded"),
            55..58 => json!("Failed"),
            _ => Value::Null,
        };
        let restarts = match i {
            7 => [10, 4],
            2 => [3, 0],
            _ => [0, 0],
        };
        let mut labels = json!({"app": "web"});
        if i < 20 && (i % 10 == 0 || i % 10 == 2) {
            labels["tier"] = json!("db");
        }
        let mut status = json!({"containerStatuses": [
            {"name": "app", "restartCount": restarts[0]},
            {"name": "sidecar", "restartCount": restarts[1]},
        ]});
        if !phase.is_null() {
            status["phase"] = phase;
        }
        let data = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "creationTimestamp": "2026-12-01T08:00:00Z"},
            "spec": {"nodeName": if i % 2 == 0 { "node-a" } else { "node-b" },
                     "containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": status,
        });
        put(
            port,
            &pod_path(C1, ns, &name),
            &json!({"data": data}),
            token,
        );
    }
    for i in 0..4 {
        let name = format!("deploy-{i}");
        let data =
            json!({"metadata": {"name": name, "namespace": "shop"}, "spec": {"replicas": 2}});
        put(
            port,
            &format!(
                "/k8s/dynamic/namespace_resources/clusters/{C1}/namespaces/shop/Deployment/{name}"
            ),
            &json!({"data": data}),
            token,
        );
    }
    for name in ["node-a", "node-b"] {
        put(
            port,
            &format!("/k8s/dynamic/cluster_resources/clusters/{C1}/Node/{name}"),
            &json!({"data": {"metadata": {"name": name}}}),
            token,
        );
    }
    for i in 0..8 {
        let name = format!("api-{i}");
        let data = json!({"metadata": {"name": name, "namespace": "default"},
                          "status": {"phase": "Running"}});
        put(
            port,
            &pod_path(C2, "default", &name),
            &json!({"data": data}),
            token,
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let events = [
        ("e1", "web-7", "Normal", "Started container app", now - 600),
        (
            "e2",
            "web-7",
            "Warning",
            "Back-off restarting failed container",
            now - 30,
        ),
        (
            "e3",
            "web-2",
            "Warning",
            "Liveness probe failed: HTTP 500",
            now - 300,
        ),
    ];
    for (id, object, level, message, at) in events {
        let event = json!({"id": id, "env": "k8s", "kind": "Pod", "level": level,
            "component": "kubelet", "type": "Pod", "describe": message, "clusterId": C1,
            "eventTime": at, "extraInfo": {"namespace": "shop", "name": object, "kind": "Pod"},
            "data": {"metadata": {"name": id, "namespace": "shop", "resourceVersion": "1"}}});
        put(port, "/events", &event, token);
    }
    for (cluster, message, at) in [
        (C1, "node-b disk pressure", now - 120),
        (C1, "pod web-7 crash looping", now - 60),
        (C2, "api latency above 2 s", now - 30),
    ] {
        let alarm = json!({"clusterId": cluster, "namespace": "shop", "message": message,
            "source": "monitor", "module": "kubelet", "type": "resource", "receivedTime": at});
        let (status, reply) = request(
            port,
            "POST",
            &format!("{V4}/alarms"),
            Some(&alarm.to_string()),
        )
        .expect("request");
        assert!(
            status == 200 && reply.contains("\"result\":true"),
            "{reply}"
        );
    }
}

fn drive(b: &Browser, scenario: &str, server: &Server, env: &[(&str, &str)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg(root.join("tests/ui/console.mjs"))
        .arg(scenario)
        .arg(format!("http://127.0.0.1:{}", server.port))
        .arg(root.join("target/ui-screenshots"))
        .env("BCS_UI_NODE_MODULES", &b.modules)
        .env("BCS_UI_CHROMIUM", &b.chromium)
        .envs(env.iter().copied())
        .output()
        .expect("node runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{said}");
    assert!(out.status.success(), "the console {scenario}:\n{said}");
}

#[test]
fn the_console_shows_filters_and_follows_what_is_stored() {
    let Some(b) = browser() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    preload(server.port);
    drive(&b, "tour", &server, &[]);
}

#[test]
fn the_console_asks_for_a_token_and_keeps_it_in_the_tab() {
    let Some(b) = browser() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tokens.toml");
    let token = add_token(&file, "console", "read");
    let writer = add_token(&file, "loader", "write");
    let server = start_with(
        &dir.path().join("data"),
        &[(
            "BCS_STORAGE__AUTH__TOKENS_FILE",
            file.to_str().expect("path"),
        )],
    );
    put(
        server.port,
        &pod_path(C1, "default", "p1"),
        &json!({"data": {"metadata": {"name": "p1"}}}),
        Some(&writer),
    );
    drive(&b, "auth", &server, &[("BCS_UI_TOKEN", &token)]);
}
