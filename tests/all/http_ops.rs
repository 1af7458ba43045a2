//! What an operator relies on: `/metrics` (the Go service's names, route
//! patterns as labels) and the cap on open watches.

use serde_json::Value;

use crate::common::{Backend, TestApp, V4, backends};

/// The value of the sample of `name` whose labels include all of `labels`
/// (summed over the samples that match).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (set, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once("} ") {
                Some((set, value)) => (set, value),
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(value) => ("", value),
                None => continue,
            },
        };
        if labels
            .iter()
            .all(|(k, v)| set.contains(&format!("{k}=\"{v}\"")))
        {
            let v: f64 = value.trim().parse().expect("sample value");
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

const ONE_POD: &str = "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{clusterId}/namespaces/{namespace}/{resourceType}/{resourceName}";

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_never_by_path() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let cluster = format!("MetricsCluster{}x{}", std::process::id(), b as u8);
        let pod = |name: &str| {
            format!(
                "{V4}/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces/ns/Pod/{name}"
            )
        };
        let body = serde_json::json!({"data": {"metadata": {"name": "p1"}}});
        for _ in 0..2 {
            app.put_json(&pod("p1"), &body).await.assert_ok();
        }
        app.get(&pod("p1")).await.assert_ok();
        assert_eq!(app.get(&pod("missing")).await.status, 404);
        assert_eq!(app.get(&format!("/no/such/{cluster}")).await.status, 404);
        let kube = app
            .get(&format!("/clusters/{cluster}/api/v1/namespaces/ns/pods/p1"))
            .await;
        assert_eq!(kube.status, 200, "{}", kube.raw);

        let r = app.get("/metrics").await;
        assert_eq!(r.status, 200);
        assert!(
            r.content_type.starts_with("text/plain"),
            "{}",
            r.content_type
        );
        let text = &r.raw;
        assert!(
            !text.contains(&cluster),
            "a raw path became a label:\n{text}"
        );
        let count = |method: &str, status: &str| {
            sample(
                text,
                "bkbcs_storage_api_request_total_num",
                &[("handler", ONE_POD), ("method", method), ("status", status)],
            )
            .unwrap_or(0.0)
        };
        assert!(count("PUT", "2xx") >= 2.0, "{text}");
        assert!(
            count("GET", "2xx") >= 1.0 && count("GET", "4xx") >= 1.0,
            "{text}"
        );
        assert!(
            sample(
                text,
                "bkbcs_storage_api_request_total_num",
                &[("handler", "unmatched")]
            )
            .is_some(),
            "{text}"
        );
        // The Kubernetes views by the path's shape, as /openapi.json names it.
        let kube_pod = "/clusters/{cluster}/api/v1/namespaces/{namespace}/{resource}/{name}";
        assert!(
            sample(
                text,
                "bkbcs_storage_api_request_total_num",
                &[("handler", kube_pod), ("method", "GET"), ("status", "2xx")]
            )
            .is_some_and(|n| n >= 1.0),
            "{text}"
        );
        // The histograms of the Go service, with its buckets.
        let labels = [("handler", ONE_POD), ("method", "PUT"), ("status", "2xx")];
        for (name, le) in [
            ("bkbcs_storage_api_request_duration_time_bucket", "0.005"),
            ("bkbcs_storage_api_response_size_bytes_bucket", "100"),
        ] {
            let mut with_le = labels.to_vec();
            with_le.push(("le", le));
            assert!(sample(text, name, &with_le).is_some(), "{name}:\n{text}");
        }
        // The store operations of the backend under the request.
        let driver = match b {
            Backend::Sqlite => "bkbcs_storage_driver_sqlite_total",
            Backend::Mongo => "bkbcs_storage_driver_mongdb_total",
        };
        let upserts = sample(text, driver, &[("method", "upsert"), ("status", "SUCCESS")]);
        assert!(upserts.is_some_and(|n| n >= 2.0), "{driver}:\n{text}");
        if b == Backend::Sqlite {
            assert!(
                sample(text, "bkbcs_storage_sqlite_commit_batch_size_count", &[])
                    .is_some_and(|n| n >= 2.0),
                "{text}"
            );
        }
        assert!(
            sample(text, "process_resident_memory_bytes", &[]).is_some(),
            "{text}"
        );
    }
}

#[actix_web::test]
async fn watches_past_the_cap_are_refused_with_503_until_one_ends() {
    for b in backends() {
        let app = TestApp::with_settings(b, |s| s.watch.max_open = 1).await;
        let url = format!("{V4}/dynamic/watch/CapCluster/Pod");
        let first = app.watch(&url, "{}").await;
        assert_eq!(first.status, 200);
        let text = app.get("/metrics").await.raw;
        let open = sample(
            &text,
            "bkbcs_storage_watch_request_total_num",
            &[
                ("handler", "/dynamic/watch/{clusterId}/{resourceType}"),
                ("table", "Pod"),
            ],
        );
        assert!(open.is_some_and(|n| n >= 1.0), "{text}");

        let r = app.send("POST", &url, Some(b"{}")).await;
        assert_eq!(r.status, 503, "{}", r.raw);
        assert_eq!(r.body["code"], 1_405_099, "{}", r.raw);
        assert!(
            r.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("watch.max_open")),
            "{}",
            r.raw
        );
        let r = app.get("/clusters/CapCluster/api/v1/pods?watch=true").await;
        assert_eq!(r.status, 503, "{}", r.raw);
        assert_eq!(
            r.body["reason"],
            Value::from("ServiceUnavailable"),
            "{}",
            r.raw
        );

        // The cap counts open streams: one that ends makes room.
        drop(first);
        let again = app.watch(&url, "{}").await;
        assert_eq!(again.status, 200, "{b:?}");
    }
}
