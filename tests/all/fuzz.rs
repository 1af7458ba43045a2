//! Property-based fuzzing of every parser of client input, through the real
//! app on a store with data in it: `extra`/`extra_contain` (base64 JSON),
//! `field`, label and field selectors, `whereSQL`, the export's query form,
//! time parameters, continue tokens and resource versions, bodies with odd
//! keys. Whatever the input: never a 5xx, never a panic, and a refusal is a
//! 4xx that says something.

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

use crate::common::{Backend, TestApp, V4};

/// Text a client might send: mostly the characters the parsers care about.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "=",
        "!=",
        "==",
        ",",
        "(",
        ")",
        " in ",
        " notin ",
        "!",
        "'",
        "\"",
        "%",
        "_",
        ".",
        "$",
        "r/",
        "+",
        ":",
        "[",
        "]",
        "{",
        "}",
        "\\",
        "*",
        "-",
        "AND",
        "OR",
        "NOT",
        "LIKE",
        "IN",
        "IS NULL",
        "0",
        "-1",
        "99999999999999999999",
        "1e400",
        "2017-09-13 19:40:30",
        "\u{ff0e}",
        "\u{0}",
        "é",
        "a",
        "b",
        "app",
        "web",
        "metadata.name",
        "status.phase",
        "true",
    ]);
    prop::collection::vec(
        prop_oneof![special.prop_map(str::to_owned), "[ -~]{0,4}"],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A request that exercises one parser.
fn request() -> impl Strategy<Value = (String, String, Option<Vec<u8>>)> {
    let pods = format!("{V4}/k8s/dynamic/namespace_resources/clusters/FZ/namespaces/ns/Pod");
    prop_oneof![
        // extra / extra_contain: base64 of text, of JSON-ish text, or raw.
        (text(), any::<bool>(), any::<bool>()).prop_map({
            let pods = pods.clone();
            move |(t, encode, contain)| {
                let name = if contain { "extra_contain" } else { "extra" };
                let v = if encode {
                    base64::engine::general_purpose::STANDARD.encode(&t)
                } else {
                    t
                };
                ("GET".to_owned(), format!("{pods}?{name}={}", enc(&v)), None)
            }
        }),
        (text(), text()).prop_map(move |(k, v)| {
            let j = json!({ k: v }).to_string();
            (
                "GET".to_owned(),
                format!(
                    "{V4}/events?clusterId=FZ&extra={}",
                    enc(&base64::engine::general_purpose::STANDARD.encode(j))
                ),
                None,
            )
        }),
        text().prop_map({
            let pods = pods.clone();
            move |t| ("GET".to_owned(), format!("{pods}?field={}", enc(&t)), None)
        }),
        text().prop_map({
            let pods = pods.clone();
            move |t| {
                (
                    "GET".to_owned(),
                    format!("{pods}?labelSelector={}", enc(&t)),
                    None,
                )
            }
        }),
        (text(), any::<bool>()).prop_map(|(t, label)| {
            let p = if label {
                "labelSelector"
            } else {
                "fieldSelector"
            };
            (
                "GET".to_owned(),
                format!("/clusters/FZ/api/v1/pods?{p}={}", enc(&t)),
                None,
            )
        }),
        text().prop_map(|t| (
            "GET".to_owned(),
            format!(
                "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods?whereSQL={}",
                enc(&t)
            ),
            None
        )),
        text().prop_map(|t| (
            "GET".to_owned(),
            format!("/v1/export/pods?query={}", enc(&t)),
            None
        )),
        (
            text(),
            prop::sample::select(vec![
                "createTimeBegin",
                "createTimeEnd",
                "updateTimeBegin",
                "updateTimeEnd",
                "offset",
                "limit",
            ])
        )
            .prop_map({
                let pods = pods.clone();
                move |(t, p)| ("GET".to_owned(), format!("{pods}?{p}={}", enc(&t)), None)
            }),
        (
            text(),
            prop::sample::select(vec!["timeBegin", "timeEnd", "offset", "length"])
        )
            .prop_map(|(t, p)| (
                "GET".to_owned(),
                format!("{V4}/events?clusterId=FZ&{p}={}", enc(&t)),
                None
            )),
        (text(), any::<bool>()).prop_map(|(t, rv)| {
            let q = if rv {
                format!("resourceVersion={}", enc(&t))
            } else {
                format!("limit=1&continue={}", enc(&t))
            };
            (
                "GET".to_owned(),
                format!("/clusters/FZ/api/v1/pods?{q}"),
                None,
            )
        }),
        (text(), text()).prop_map(move |(k, v)| {
            let body = json!({"data": {"metadata": {"name": "odd"}, k: {v: [1]}}}).to_string();
            (
                "PUT".to_owned(),
                format!("{pods}/odd"),
                Some(body.into_bytes()),
            )
        }),
        text().prop_map(|t| (
            "POST".to_owned(),
            format!("{V4}/k8s/dynamic/multicluster_resources/Pod"),
            Some(t.into_bytes())
        )),
    ]
}

#[test]
fn no_client_input_gets_a_5xx() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(async {
        let app = TestApp::new(Backend::Sqlite).await;
        for (name, labels) in [
            ("web-1", json!({"app": "web"})),
            ("db-1", json!({"app": "db"})),
        ] {
            let body = json!({"data": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "ns", "labels": labels},
                "status": {"phase": "Running"}}});
            app.put_json(
                &format!(
                    "{V4}/k8s/dynamic/namespace_resources/clusters/FZ/namespaces/ns/Pod/{name}"
                ),
                &body,
            )
            .await
            .assert_ok();
        }
        app
    });
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    runner
        .run(&request(), |(method, uri, body)| {
            let r = rt.block_on(app.send(&method, &uri, body.as_deref()));
            *statuses.borrow_mut().entry(r.status).or_default() += 1;
            if r.status >= 500 {
                return Err(TestCaseError::fail(format!(
                    "{method} {uri}: {} {}",
                    r.status, r.raw
                )));
            }
            if r.status >= 400 && r.raw.trim().is_empty() {
                return Err(TestCaseError::fail(format!(
                    "{method} {uri}: {} with no message",
                    r.status
                )));
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let statuses = statuses.into_inner();
    eprintln!("fuzz: 1500 requests, statuses {statuses:?}");
    // The generator reaches both sides of the parsers.
    assert!(statuses.keys().any(|s| *s == 200), "{statuses:?}");
    assert!(
        statuses.keys().any(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
}
