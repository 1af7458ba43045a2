//! The API document: what `/openapi.json` serves is what `docs/openapi.json`
//! holds, and every operation it lists reaches a handler.

use std::path::Path;

use serde_json::Value;

use crate::common::{Backend, TestApp};

fn checked_in() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

/// `BCS_STORAGE_WRITE_OPENAPI=1 cargo test openapi` writes the file anew.
#[actix_web::test]
async fn the_served_document_is_the_checked_in_one() {
    let app = TestApp::new(Backend::Sqlite).await;
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    assert_eq!(r.body["openapi"], "3.1.0");
    if std::env::var_os("BCS_STORAGE_WRITE_OPENAPI").is_some() {
        std::fs::write(checked_in(), &r.raw).expect("write docs/openapi.json");
    }
    let file = std::fs::read_to_string(checked_in()).unwrap_or_default();
    assert!(
        file == r.raw,
        "docs/openapi.json differs from what /openapi.json serves: run \
         `BCS_STORAGE_WRITE_OPENAPI=1 cargo test openapi` and commit the file"
    );
}

/// A value for each path parameter that makes the request meaningful: a
/// cluster-scoped resource where the path has no namespace, a namespaced
/// one where it has.
fn fill(path: &str) -> String {
    let namespaced = path.contains("/namespaces/{namespace}/");
    let grouped = path.contains("/apis/{group}/{version}");
    let (group, resource) = match (grouped, namespaced) {
        (true, true) => ("apps", "deployments"),
        (true, false) => ("apiextensions.k8s.io", "customresourcedefinitions"),
        (false, true) => ("", "pods"),
        (false, false) => ("", "nodes"),
    };
    let mut out = String::new();
    for seg in path.split('/').skip(1) {
        out.push('/');
        out.push_str(match seg {
            "{clusterId}" | "{cluster}" => "OpenApiCluster",
            "{namespace}" => "ns1",
            "{resourceType}" => "Pod",
            "{resourceName}" | "{name}" => "p1",
            "{type}" => "cpu",
            "{ip}" => "10.0.0.9",
            "{service}" => "test",
            "{indexName}" => "by_name",
            "{resource}" if path.starts_with("/v1/export/") => "pods",
            "{resource}" => resource,
            "{group}" => {
                if group.is_empty() {
                    "apps"
                } else {
                    group
                }
            }
            "{version}" => "v1",
            "{subresource}" => "status",
            other => {
                assert!(!other.starts_with('{'), "no sample for {other} in {path}");
                other
            }
        });
    }
    out
}

/// Every operation of the document, sent with sample path values, is
/// answered by a handler: never the router's "no route" nor "method not
/// allowed" (bcs routes), never the Kubernetes views' "could not find the
/// requested resource" nor a 405 (refusals of the input itself are fine:
/// the request reached the code that reads it).
#[actix_web::test]
async fn every_documented_operation_reaches_a_handler() {
    let app = TestApp::new(Backend::Sqlite).await;
    let doc = app.get("/openapi.json").await.body;
    let paths = doc["paths"].as_object().expect("paths");
    let mut count = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let streaming = op["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "streaming"));
            let mut uri = fill(path);
            let body: Option<&[u8]> = match method.as_str() {
                "get" | "delete" => None,
                _ if streaming => Some(br#"{"timeout": 1}"#),
                _ => Some(b"{}"),
            };
            if streaming && method == "get" {
                uri.push_str("?timeoutSeconds=1&timeout=1ms");
            }
            let r = app.send(&method.to_uppercase(), &uri, body).await;
            count += 1;
            let what = format!(
                "{} {uri} (documented as {path}): {} {}",
                method.to_uppercase(),
                r.status,
                r.raw
            );
            assert_ne!(r.status, 405, "{what}");
            assert_ne!(r.body["code"], 1_405_093, "{what}");
            assert_ne!(
                r.body["message"], "the server could not find the requested resource",
                "{what}"
            );
            assert!(r.status < 500, "{what}");
        }
    }
    assert!(count > 100, "only {count} operations");
}

/// The metrics of the Kubernetes views are labelled by the documented path
/// a request matches (their routes are catch-alls): each documented
/// Kubernetes path, filled in, gives itself back.
#[test]
fn kubernetes_metric_labels_are_the_documented_paths() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(checked_in()).expect("docs/openapi.json"))
            .expect("json");
    let mut count = 0;
    for path in doc["paths"].as_object().expect("paths").keys() {
        if !bcs_storage::api::kube::is_kube_path(path) {
            continue;
        }
        count += 1;
        let filled = fill(path);
        assert_eq!(
            bcs_storage::domain::kube::path::pattern(&filled).as_deref(),
            Some(path.as_str()),
            "{filled}"
        );
    }
    assert!(count > 100, "only {count} Kubernetes paths");
}

/// The document describes what the tables say: every query kind and both
/// prefixes, and it names its own streaming operations.
#[actix_web::test]
async fn the_document_lists_every_query_kind_and_both_prefixes() {
    let app = TestApp::new(Backend::Sqlite).await;
    let doc = app.get("/openapi.json").await.body;
    let paths = doc["paths"].as_object().expect("paths");
    for prefix in bcs_storage::api::PREFIXES {
        for kind in bcs_storage::domain::query::KINDS {
            let p = format!(
                "{prefix}/query/{}/dynamic/clusters/{{clusterId}}/{}",
                kind.env.as_str(),
                kind.route
            );
            assert!(paths.contains_key(&p), "{p} is missing");
            let params: Vec<&str> = paths[&p]["get"]["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            for param in kind.params {
                assert!(
                    params.iter().any(|n| n.starts_with(param.name)),
                    "{p} lacks {}",
                    param.name
                );
            }
        }
    }
    let pod = "/clusters/{cluster}/api/v1/namespaces/{namespace}/{resource}/{name}";
    let mut methods: Vec<&String> = paths[pod].as_object().expect(pod).keys().collect();
    methods.sort();
    assert_eq!(methods, ["delete", "get", "patch", "put"], "{pod}");
    // The all-clusters view reads only.
    let all = "/api/v1/namespaces/{namespace}/{resource}/{name}";
    assert_eq!(
        paths[all]
            .as_object()
            .expect(all)
            .keys()
            .collect::<Vec<_>>(),
        ["get"]
    );
    let watch = &paths["/bcsapi/v4/storage/dynamic/watch/{clusterId}/{resourceType}"]["post"];
    assert!(
        watch["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&Value::from("streaming")))
    );
}

/// schemathesis (PyPI), driven by the document the server serves, against
/// a live server: a bounded number of generated requests per operation
/// (valid and invalid ones), none answered 5xx, none answered with a
/// status, content type or body the document does not describe. Streaming
/// operations are left out (the watch tests cover them).
#[test]
fn schemathesis_finds_no_server_error_and_no_reply_outside_the_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let st = root.join("target/schemathesis-venv/bin/st");
    assert!(
        st.exists(),
        "{} is missing: scripts/test.sh installs it",
        st.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = crate::crash::start_with(dir.path(), &[]);
    let started = std::time::Instant::now();
    let out = std::process::Command::new(st)
        .arg("run")
        .arg(format!("http://127.0.0.1:{}/openapi.json", server.port))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--exclude-tag",
            "streaming",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "8",
            "--seed",
            "20261204",
            // One worker: Python 3.11's parser is not safe across threads
            // (hypothesis parses lambdas while it generates).
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
            "--output-truncate",
            "false",
        ])
        // Its cache of failures goes in the temporary directory, not into
        // the checkout (a cached failure would be replayed by later runs).
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", root.join("tests/clients"))
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("operations") || l.contains("test cases") || l.contains("passed"))
        .collect();
    eprintln!(
        "schemathesis in {:?}: {}",
        started.elapsed(),
        summary.join(" | ")
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
