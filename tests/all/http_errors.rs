//! HTTP tests of bad input on the dynamic routes (contract section 10 and the
//! error rows of sections 1, 3, 11): every refusal is a 4xx envelope naming the
//! problem, the service keeps serving, and nothing stored changes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::{Backend, Reply, TestApp, V1, V4, backends, cluster_base, extra, ns_base};

const BAD_REQUEST_DATA: i64 = 1_405_080;
const NOT_EXIST: i64 = 1_405_087;
const INVALID_PARAMETER: i64 = 1_405_090;
const PAYLOAD_TOO_LARGE: i64 = 1_405_091;
const ROUTE_NOT_FOUND: i64 = 1_405_093;
const METHOD_NOT_ALLOWED: i64 = 1_405_094;

fn all_base(cluster: &str) -> String {
    format!("{V4}/k8s/dynamic/all_resources/clusters/{cluster}")
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Base64 of raw text, percent-encoded.
fn b64(text: &str) -> String {
    enc(&STANDARD.encode(text))
}

/// The single resource every test stores first.
fn p1() -> String {
    format!("{}/Pod/p1", ns_base("c1", "ns1"))
}

/// Every list path of c1 that covers Pod documents.
fn pod_lists() -> [String; 3] {
    [
        format!("{}/Pod", ns_base("c1", "ns1")),
        format!("{}/Pod", cluster_base("c1")),
        format!("{}/Pod", all_base("c1")),
    ]
}

/// An app with a few stored documents and their snapshot.
struct Fixture {
    app: TestApp,
    /// (single GET path, its `data` reply)
    docs: Vec<(String, Value)>,
    /// (list path, its `data` reply)
    lists: Vec<(String, Value)>,
}

async fn fixture(b: Backend) -> Fixture {
    fixture_with(b, |_| {}).await
}

async fn fixture_with(b: Backend, f: impl FnOnce(&mut bcs_storage::config::Settings)) -> Fixture {
    let app = TestApp::with_settings(b, f).await;
    let puts = [
        (
            p1(),
            json!({"metadata": {"name": "p1", "labels": {"app": "nginx", "app.kubernetes.io/name": "web"}},
                   "spec": {"replicas": 3, "containers": [{"image": "nginx"}]}, "$ref": "x"}),
        ),
        (
            format!("{}/Pod/p2", ns_base("c1", "ns1")),
            json!({"metadata": {"name": "p2", "labels": {"app": "redis"}}}),
        ),
        (
            format!("{}/Pod/p3", ns_base("c1", "ns2")),
            json!({"metadata": {"name": "p3"}}),
        ),
        (
            format!("{}/Pod/n1", cluster_base("c1")),
            json!({"cluster": true}),
        ),
        (
            format!("{}/Deployment/d1", ns_base("c1", "ns1")),
            json!({"spec": {"replicas": 1}}),
        ),
    ];
    let mut docs = Vec::new();
    for (uri, data) in puts {
        app.put_json(&uri, &json!({ "data": data }))
            .await
            .assert_ok();
        let r = app.get(&uri).await;
        r.assert_ok();
        docs.push((uri, r.data().clone()));
    }
    let mut lists = Vec::new();
    for uri in [
        format!("{}/Pod", all_base("c1")),
        format!("{}/Deployment", all_base("c1")),
    ] {
        let r = app.get(&uri).await;
        r.assert_ok();
        lists.push((uri, r.data().clone()));
    }
    assert_eq!(lists[0].1.as_array().map(Vec::len), Some(4));
    Fixture { app, docs, lists }
}

impl Fixture {
    /// Every stored document reads back exactly as before, and no other
    /// document appeared.
    async fn assert_unchanged(&self, ctx: &str) {
        for (uri, want) in &self.docs {
            let r = self.app.get(uri).await;
            assert_eq!(r.status, 200, "{ctx}: GET {uri} after the error: {}", r.raw);
            assert_eq!(r.data(), want, "{ctx}: {uri} changed");
        }
        for (uri, want) in &self.lists {
            let r = self.app.get(uri).await;
            assert_eq!(r.status, 200, "{ctx}: GET {uri} after the error: {}", r.raw);
            assert_eq!(r.data(), want, "{ctx}: {uri} changed");
        }
    }

    async fn pod_count(&self) -> usize {
        let r = self.app.get(&format!("{}/Pod", all_base("c1"))).await;
        r.assert_ok();
        r.data().as_array().map_or(0, Vec::len)
    }
}

/// A PUT body `{"data":"xxx..."}` of exactly `n` bytes.
fn body_of_size(n: usize) -> Vec<u8> {
    let head = br#"{"data":""#;
    let tail = br#""}"#;
    let mut v = Vec::with_capacity(n);
    v.extend_from_slice(head);
    v.resize(n - tail.len(), b'x');
    v.extend_from_slice(tail);
    assert_eq!(v.len(), n);
    v
}

/// A PUT body whose JSON nesting (the body object included) is `levels` deep:
/// `{"data": [[...[1]...]]}` or, with `objects`, `{"data": {"a": {...}}}`.
fn nested_body(levels: usize, objects: bool) -> Vec<u8> {
    let inner = levels - 1;
    let (open, close) = if objects {
        (r#"{"a":"#, "}")
    } else {
        ("[", "]")
    };
    let mut s = String::from(r#"{"data":"#);
    s.push_str(&open.repeat(inner));
    s.push('1');
    s.push_str(&close.repeat(inner));
    s.push('}');
    s.into_bytes()
}

#[actix_web::test]
async fn malformed_json_on_put_is_a_400_naming_json() {
    for b in backends() {
        let fx = fixture(b).await;
        let new = format!("{}/Pod/new", ns_base("c1", "ns1"));
        let bodies: [&[u8]; 8] = [
            b"{\"data\": ",
            b"{data: 1}",
            b"{\"data\": 1,}",
            b"not json",
            b"{\"data\": \"\xff\xfe\"}",
            b"{\"data\": 1} trailing",
            b"{\"data\": NaN}",
            b"{'data': 1}",
        ];
        for body in bodies {
            for uri in [p1(), new.clone(), new.replacen(V4, V1, 1)] {
                let r = fx.app.send("PUT", &uri, Some(body)).await;
                r.assert_err(400, BAD_REQUEST_DATA, "JSON");
                assert_eq!(r.data(), &Value::Null, "{}", r.raw);
            }
            fx.assert_unchanged(&format!("{b:?} {:?}", String::from_utf8_lossy(body)))
                .await;
        }
        fx.app
            .get(&new)
            .await
            .assert_err(404, NOT_EXIST, "does not exist");
    }
}

#[actix_web::test]
async fn put_bodies_that_are_not_objects_or_empty_are_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        let new = format!("{}/Node/new", cluster_base("c1"));
        let cases: [(&[u8], &str); 8] = [
            (b"[{\"data\": 1}]", "object"),
            (b"\"data\"", "object"),
            (b"42", "object"),
            (b"null", "object"),
            (b"true", "object"),
            (b"", "empty"),
            (b"   \n\t ", "empty"),
            (b"{\"data\": {\"a\\u0000b\": 1}}", "NUL"),
        ];
        for (body, needle) in cases {
            for uri in [p1(), new.clone()] {
                fx.app.send("PUT", &uri, Some(body)).await.assert_err(
                    400,
                    BAD_REQUEST_DATA,
                    needle,
                );
            }
            fx.assert_unchanged(&format!("{b:?} {:?}", String::from_utf8_lossy(body)))
                .await;
        }
        // A PUT without any payload at all.
        fx.app
            .send("PUT", &p1(), None)
            .await
            .assert_err(400, BAD_REQUEST_DATA, "empty");
        fx.app
            .get(&new)
            .await
            .assert_err(404, NOT_EXIST, "does not exist");
        fx.assert_unchanged(&format!("{b:?} no body")).await;
    }
}

#[actix_web::test]
async fn bodies_over_the_limit_are_413_and_at_the_limit_accepted() {
    for b in backends() {
        // The shipped 3 MiB default.
        let fx = fixture(b).await;
        let limit = fx.app.store.settings.server.max_body_bytes;
        assert_eq!(limit, 3 * 1024 * 1024);
        let at = format!("{}/Pod/big", ns_base("c1", "ns9"));
        let r = fx.app.send("PUT", &at, Some(&body_of_size(limit))).await;
        r.assert_ok();
        let r = fx.app.get(&at).await;
        r.assert_ok();
        assert_eq!(r.data()["data"].as_str().map(str::len), Some(limit - 11));
        let over = body_of_size(limit + 1);
        for uri in [p1(), format!("{}/Pod/big2", ns_base("c1", "ns9"))] {
            let r = fx.app.send("PUT", &uri, Some(&over)).await;
            r.assert_err(413, PAYLOAD_TOO_LARGE, "larger than");
            assert!(r.message().contains(&limit.to_string()), "{}", r.raw);
        }
        fx.app
            .get(&format!("{}/Pod/big2", ns_base("c1", "ns9")))
            .await
            .assert_err(404, NOT_EXIST, "does not exist");
        // A batch delete with an oversized body deletes nothing.
        let r = fx
            .app
            .send(
                "DELETE",
                &format!("{}/Pod", ns_base("c1", "ns1")),
                Some(&over),
            )
            .await;
        r.assert_err(413, PAYLOAD_TOO_LARGE, "larger than");
        fx.app.delete(&at).await.assert_ok();
        fx.assert_unchanged(&format!("{b:?} 3 MiB")).await;

        // A configured limit.
        let fx = fixture_with(b, |s| s.server.max_body_bytes = 2048).await;
        let at = format!("{}/Pod/p1", ns_base("c1", "ns9"));
        fx.app
            .send("PUT", &at, Some(&body_of_size(2048)))
            .await
            .assert_ok();
        fx.app.delete(&at).await.assert_ok();
        for n in [2049, 10 * 1024 * 1024] {
            fx.app
                .send("PUT", &p1(), Some(&body_of_size(n)))
                .await
                .assert_err(413, PAYLOAD_TOO_LARGE, "2048");
        }
        fx.assert_unchanged(&format!("{b:?} 2048")).await;
    }
}

#[actix_web::test]
async fn bodies_nested_deeper_than_100_levels_are_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        let ok = format!("{}/Pod/deep", ns_base("c1", "ns9"));
        for objects in [false, true] {
            for levels in [99, 100] {
                let r = fx
                    .app
                    .send("PUT", &ok, Some(&nested_body(levels, objects)))
                    .await;
                r.assert_ok();
                fx.app.get(&ok).await.assert_ok();
                fx.app.delete(&ok).await.assert_ok();
            }
            for levels in [101, 120] {
                fx.app
                    .send("PUT", &p1(), Some(&nested_body(levels, objects)))
                    .await
                    .assert_err(400, BAD_REQUEST_DATA, "nested");
            }
            // Far deeper than the JSON parser's own recursion limit.
            for levels in [129, 5000] {
                fx.app
                    .send("PUT", &p1(), Some(&nested_body(levels, objects)))
                    .await
                    .assert_err(400, BAD_REQUEST_DATA, "");
            }
            fx.assert_unchanged(&format!("{b:?} objects={objects}"))
                .await;
        }
    }
}

/// Every malformed `extra`, with a label for messages.
fn bad_extras() -> Vec<(&'static str, String)> {
    vec![
        ("not base64", enc("%%%")),
        ("not base64 either", "a*b!".to_owned()),
        ("truncated base64", "eyJh".to_owned()),
        ("base64 of non-JSON", b64("nope")),
        ("base64 of truncated JSON", b64("{\"a\":")),
        ("base64 of an array", b64("[1,2]")),
        ("base64 of a string", b64("\"resourceName\"")),
        ("base64 of a number", b64("42")),
        ("base64 of null", b64("null")),
        ("$where key", extra(&json!({"$where": "1"}))),
        ("$ key below", extra(&json!({"data.$gt": 1}))),
        ("$ne value", extra(&json!({"resourceName": {"$ne": 1}}))),
        (
            "$gt in a list",
            extra(&json!({"resourceName": [{"$gt": ""}]})),
        ),
        (
            "$ deeper",
            extra(&json!({"data": {"spec": {"$exists": true}}})),
        ),
        ("empty key", extra(&json!({"": 1}))),
        ("empty component", extra(&json!({"data..a": 1}))),
    ]
}

#[actix_web::test]
async fn invalid_extra_is_a_400_on_every_dynamic_route() {
    for b in backends() {
        let fx = fixture(b).await;
        let before = fx.pod_count().await;
        for (label, e) in bad_extras() {
            let ctx = format!("{b:?} {label}");
            let mut uris: Vec<(&str, String)> = vec![("GET", p1()), ("DELETE", p1())];
            uris.push(("GET", format!("{}/Pod/n1", cluster_base("c1"))));
            uris.push(("DELETE", format!("{}/Pod/n1", cluster_base("c1"))));
            for l in pod_lists() {
                uris.push(("GET", l.clone()));
                uris.push(("DELETE", l));
            }
            for (method, uri) in uris {
                let r = fx.app.send(method, &format!("{uri}?extra={e}"), None).await;
                r.assert_err(400, INVALID_PARAMETER, "extra");
                assert!(
                    r.body.get("total").is_none() || r.body["total"] == json!(0),
                    "{ctx}: {}",
                    r.raw
                );
            }
            assert_eq!(
                fx.pod_count().await,
                before,
                "{ctx}: a document was deleted"
            );
            fx.assert_unchanged(&ctx).await;
        }
        // Given twice.
        let e = extra(&json!({"resourceName": "p1"}));
        fx.app
            .get(&format!("{}?extra={e}&extra={e}", pod_lists()[0]))
            .await
            .assert_err(400, INVALID_PARAMETER, "extra");
    }
}

#[actix_web::test]
async fn a_batch_delete_with_an_invalid_extra_deletes_nothing() {
    for b in backends() {
        let fx = fixture(b).await;
        let before = fx.pod_count().await;
        assert_eq!(before, 4);
        let now = chrono::Utc::now().timestamp();
        let window = json!({"updateTimeBegin": now - 3600, "updateTimeEnd": now + 3600});
        for (label, e) in bad_extras() {
            for l in pod_lists() {
                // Alone, with a valid filter, with a window that covers everything.
                for (q, body) in [
                    (format!("extra={e}"), None),
                    (format!("namespace=ns1&extra={e}"), None),
                    (format!("extra={e}"), Some(window.to_string())),
                    (
                        format!(
                            "extra={e}&updateTimeBegin={}&updateTimeEnd={}",
                            now - 3600,
                            now + 3600
                        ),
                        None,
                    ),
                ] {
                    let r = fx
                        .app
                        .send(
                            "DELETE",
                            &format!("{l}?{q}"),
                            body.as_deref().map(str::as_bytes),
                        )
                        .await;
                    r.assert_err(400, INVALID_PARAMETER, "extra");
                    assert_eq!(
                        fx.pod_count().await,
                        before,
                        "{b:?} {label} DELETE {l}?{q} deleted documents: {}",
                        r.raw
                    );
                }
            }
        }
        fx.assert_unchanged(&format!("{b:?}")).await;
        // Control: the same window with a valid extra does delete.
        let r = fx
            .app
            .send(
                "DELETE",
                &format!(
                    "{}?extra={}",
                    pod_lists()[1],
                    extra(&json!({"resourceName": "p2"}))
                ),
                Some(window.to_string().as_bytes()),
            )
            .await;
        r.assert_ok();
        assert_eq!(r.body["total"], json!(1), "{}", r.raw);
        assert_eq!(fx.pod_count().await, before - 1);
    }
}

/// Sends `query` on the single GET, single DELETE, list GET and batch DELETE
/// paths and expects 400 / 1405090 naming `needle` each time, then checks the
/// store is unchanged.
async fn refused_everywhere(fx: &Fixture, query: &str, needle: &str) {
    let mut uris: Vec<(&str, String)> = vec![("GET", p1()), ("DELETE", p1())];
    for l in pod_lists() {
        uris.push(("GET", l.clone()));
        uris.push(("DELETE", l));
    }
    for (method, uri) in uris {
        let r: Reply = fx.app.send(method, &format!("{uri}?{query}"), None).await;
        assert_eq!(
            r.status, 400,
            "{method} {uri}?{query} should be refused: {}",
            r.raw
        );
        r.assert_err(400, INVALID_PARAMETER, needle);
    }
    fx.assert_unchanged(query).await;
}

/// Sends `query` (with an empty value named `needle`) on the single GET and
/// the list GETs, which answer as if the parameter were absent (as Go
/// clients mean unset fields), and on the single and batch DELETEs, which
/// refuse it: leaving a condition out would delete more than was named.
async fn absent_on_reads_refused_on_deletes(fx: &Fixture, query: &str, needle: &str) {
    let without: String = query
        .split('&')
        .filter(|kv| !kv.ends_with('='))
        .collect::<Vec<_>>()
        .join("&");
    let mut uris = vec![p1()];
    uris.extend(pod_lists());
    for uri in &uris {
        let r = fx.app.get(&format!("{uri}?{query}")).await;
        let expected = fx.app.get(&format!("{uri}?{without}")).await;
        assert_eq!(
            (r.status, &r.body),
            (expected.status, &expected.body),
            "GET {uri}?{query}"
        );
        fx.app
            .delete(&format!("{uri}?{query}"))
            .await
            .assert_err(400, INVALID_PARAMETER, needle);
    }
    fx.assert_unchanged(query).await;
}

#[actix_web::test]
async fn empty_values_are_absent_on_reads_and_refused_on_deletes() {
    for b in backends() {
        let fx = fixture(b).await;
        for (q, needle) in [
            ("hostIp=", "hostIp"),
            ("resourceName=p1&hostIp=", "hostIp"),
            ("data.metadata.name=", "data.metadata.name"),
            ("limit=", "limit"),
            ("offset=", "offset"),
            ("field=", "field"),
            ("extra=", "extra"),
            ("labelSelector=", "labelSelector"),
            ("updateTimeBefore=", "updateTimeBefore"),
            ("resourceName=p2&limit=&offset=&field=", "limit"),
        ] {
            absent_on_reads_refused_on_deletes(&fx, q, needle).await;
        }
    }
}

#[actix_web::test]
async fn bad_paging_parameters_are_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        for (q, needle) in [
            ("limit=abc", "limit"),
            ("limit=-1", "limit"),
            ("limit=1.5", "limit"),
            ("limit=99999999999999999999999", "limit"),
            ("limit=50001", "limit"),
            ("limit=1&limit=2", "limit"),
            ("offset=x", "offset"),
            ("offset=-1", "offset"),
            ("offset=1&offset=1", "offset"),
        ] {
            refused_everywhere(&fx, q, needle).await;
        }
    }
}

#[actix_web::test]
async fn bad_label_selectors_are_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        for sel in [
            "app in (a",
            "app in a",
            "app)",
            "app>3",
            "app<3",
            "=x",
            ",",
            "app=nginx,",
            "a b c",
            "-bad=x",
            "app=in valid",
            "app=$x",
        ] {
            refused_everywhere(&fx, &format!("labelSelector={}", enc(sel)), "labelSelector").await;
        }
    }
}

#[actix_web::test]
async fn bad_update_time_before_is_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        for t in [
            "garbage",
            "2017-10-16",
            "1e9",
            "99999999999999999999",
            "9223372036854775807",
        ] {
            refused_everywhere(
                &fx,
                &format!("updateTimeBefore={}", enc(t)),
                "updateTimeBefore",
            )
            .await;
        }
    }
}

#[actix_web::test]
async fn bad_field_projections_are_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        for f in [
            "a..b",
            ".a",
            "a.",
            "data,",
            ",data",
            "$where",
            "data.$gt",
            "data.a\u{0}b",
        ] {
            refused_everywhere(&fx, &format!("field={}", enc(f)), "field").await;
        }
    }
}

#[actix_web::test]
async fn free_form_keys_with_operators_or_empty_components_are_refused() {
    for b in backends() {
        let fx = fixture(b).await;
        for (key, needle) in [
            ("$where", "$where"),
            ("$or", "$or"),
            ("data.$gt", "data.$gt"),
            ("a..b", "a..b"),
            (".a", ".a"),
            ("a.", "a."),
        ] {
            refused_everywhere(&fx, &format!("{}=1", enc(key)), needle).await;
        }
    }
}

#[actix_web::test]
async fn batch_delete_windows_must_be_integers() {
    for b in backends() {
        let fx = fixture(b).await;
        let before = fx.pod_count().await;
        let lists = pod_lists();
        for (body, needle) in [
            (
                json!({"updateTimeBegin": "soon"}).to_string(),
                "updateTimeBegin",
            ),
            (
                json!({"updateTimeBegin": true}).to_string(),
                "updateTimeBegin",
            ),
            (
                json!({"updateTimeBegin": [1]}).to_string(),
                "updateTimeBegin",
            ),
            (
                json!({"updateTimeBegin": {"$gt": 1}}).to_string(),
                "updateTimeBegin",
            ),
            (json!({"updateTimeEnd": 1.5}).to_string(), "updateTimeEnd"),
            // A misspelt bound is not left out (that would delete everything).
            (
                json!({"updateTimeBegn": 1, "updateTimeEnd": 2}).to_string(),
                "updateTimeBegn",
            ),
            (
                json!({"updateTimeBegin": 1, "updateTimeEnd": "x"}).to_string(),
                "updateTimeEnd",
            ),
            ("{\"updateTimeBegin\": ".to_owned(), "JSON"),
            ("not json".to_owned(), "JSON"),
            ("[1, 2]".to_owned(), "object"),
            ("\"updateTimeBegin\"".to_owned(), "object"),
        ] {
            for l in &lists {
                fx.app
                    .send("DELETE", l, Some(body.as_bytes()))
                    .await
                    .assert_err(400, BAD_REQUEST_DATA, needle);
            }
            assert_eq!(fx.pod_count().await, before, "{b:?} {body}");
        }
        for (q, needle) in [
            ("updateTimeBegin=soon", "updateTimeBegin"),
            ("updateTimeEnd=1.5", "updateTimeEnd"),
            ("updateTimeBegin=", "updateTimeBegin"),
            ("updateTimeBegin=1&updateTimeBegin=2", "updateTimeBegin"),
        ] {
            for l in &lists {
                fx.app
                    .delete(&format!("{l}?{q}"))
                    .await
                    .assert_err(400, INVALID_PARAMETER, needle);
            }
            assert_eq!(fx.pod_count().await, before, "{b:?} {q}");
        }
        // The same bound in the query and the body with different values.
        let body = json!({"updateTimeBegin": 1});
        for l in &lists {
            fx.app
                .send(
                    "DELETE",
                    &format!("{l}?updateTimeBegin=2"),
                    Some(body.to_string().as_bytes()),
                )
                .await
                .assert_err(400, INVALID_PARAMETER, "updateTimeBegin");
        }
        fx.assert_unchanged(&format!("{b:?}")).await;
    }
}

#[actix_web::test]
async fn bad_path_segments_are_refused_naming_the_segment() {
    for b in backends() {
        let fx = fixture(b).await;
        let long = "x".repeat(513);
        let cases: Vec<(String, &str)> = vec![
            (format!("{}/Pod/p1", ns_base("%2E%2E", "ns1")), "clusterId"),
            (format!("{}/Pod/p1", ns_base("..", "ns1")), "clusterId"),
            (format!("{}/Pod/p1", ns_base("%2E", "ns1")), "clusterId"),
            (format!("{}/Pod/p1", ns_base("c%01x", "ns1")), "clusterId"),
            (format!("{}/Pod/p1", ns_base("c%00", "ns1")), "clusterId"),
            (format!("{}/Pod/p1", ns_base("c1", "%2E%2E")), "namespace"),
            (format!("{}/Pod/p1", ns_base("c1", "n%7Fs")), "namespace"),
            (
                format!("{}/Pod/%2E%2E", ns_base("c1", "ns1")),
                "resourceName",
            ),
            (format!("{}/Pod/p%01", ns_base("c1", "ns1")), "resourceName"),
            (
                format!("{}/Pod/p%0A1", ns_base("c1", "ns1")),
                "resourceName",
            ),
            (
                format!("{}/Pod/{long}", ns_base("c1", "ns1")),
                "resourceName",
            ),
            (
                format!("{}/%2E%2E/p1", ns_base("c1", "ns1")),
                "resourceType",
            ),
            (
                format!("{}/P%01od/p1", ns_base("c1", "ns1")),
                "resourceType",
            ),
            (
                format!("{}/%24cmd/p1", ns_base("c1", "ns1")),
                "resourceType",
            ),
            (
                format!("{}/system.users/p1", ns_base("c1", "ns1")),
                "resourceType",
            ),
            (format!("{}/Pod/p1", cluster_base("%2E%2E")), "clusterId"),
            (format!("{}/Pod/n%01", cluster_base("c1")), "resourceName"),
            (format!("{}/Pod/%2E%2E", cluster_base("c1")), "resourceName"),
        ];
        for (uri, needle) in &cases {
            for method in ["GET", "DELETE"] {
                fx.app
                    .send(method, uri, None)
                    .await
                    .assert_err(400, INVALID_PARAMETER, needle);
            }
            fx.app
                .put_json(uri, &json!({"data": {"x": 1}}))
                .await
                .assert_err(400, INVALID_PARAMETER, needle);
            // The list and batch delete under the same bad prefix.
            if *needle != "resourceName" {
                let l = &uri[..uri.rfind('/').unwrap_or(0)];
                for method in ["GET", "DELETE"] {
                    fx.app
                        .send(method, l, None)
                        .await
                        .assert_err(400, INVALID_PARAMETER, needle);
                }
            }
            fx.assert_unchanged(&format!("{b:?} {uri}")).await;
        }
        // Empty segments match no route: a 404 envelope.
        for uri in [
            format!("{}/Pod/p1", ns_base("", "ns1")),
            format!("{}/Pod/p1", ns_base("c1", "")),
            format!("{}//p1", ns_base("c1", "ns1")),
        ] {
            fx.app
                .put_json(&uri, &json!({"data": {"x": 1}}))
                .await
                .assert_err(404, ROUTE_NOT_FOUND, "no route");
        }
        // One trailing slash is dropped, as in Go: this is the list path,
        // which takes no PUT.
        fx.app
            .put_json(
                &format!("{}/Pod/", cluster_base("c1")),
                &json!({"data": {"x": 1}}),
            )
            .await
            .assert_err(405, METHOD_NOT_ALLOWED, "PUT");
        fx.assert_unchanged(&format!("{b:?} empty segments")).await;
    }
}

#[actix_web::test]
async fn unknown_routes_answer_a_404_envelope() {
    for b in backends() {
        let fx = fixture(b).await;
        // (`GET /` leads a browser to the console.)
        for (method, uri) in [
            ("GET", "/nope".to_owned()),
            ("DELETE", "/nope".to_owned()),
            (
                "PUT",
                format!("{V4}/k8s/dynamic/namespace_resources/clusters/c1"),
            ),
            (
                "GET",
                format!("{V4}/windows/dynamic/cluster_resources/clusters/c1/Pod"),
            ),
            (
                "GET",
                format!("{V4}/k8s/dynamic/other_resources/clusters/c1/Pod"),
            ),
            (
                "GET",
                "/bcsapi/v3/storage/k8s/dynamic/cluster_resources/clusters/c1/Pod".to_owned(),
            ),
            (
                "PUT",
                format!("{}/Pod/p1/extra/segment", ns_base("c1", "ns1")),
            ),
            (
                "GET",
                format!("{V1}/k8s/dynamic/all_resources/clusters/c1/Pod/p1"),
            ),
        ] {
            let r = fx.app.send(method, &uri, Some(b"{\"data\":{}}")).await;
            r.assert_err(404, ROUTE_NOT_FOUND, "no route");
            let path = uri.split('?').next().unwrap_or("");
            assert!(r.message().contains(path), "{}", r.raw);
        }
        fx.assert_unchanged(&format!("{b:?}")).await;
    }
}

#[actix_web::test]
async fn wrong_methods_answer_a_405_envelope() {
    for b in backends() {
        let fx = fixture(b).await;
        let new = format!("{}/Pod/posted", ns_base("c1", "ns1"));
        let mut cases = vec![
            ("POST", p1()),
            ("POST", new.clone()),
            ("PATCH", p1()),
            ("POST", format!("{}/Pod/n1", cluster_base("c1"))),
            ("PUT", format!("{}/Pod", ns_base("c1", "ns1"))),
            ("POST", "/healthz".to_owned()),
            ("DELETE", "/readyz".to_owned()),
            ("DELETE", "/".to_owned()),
            ("POST", "/ui/app.js".to_owned()),
        ];
        for l in pod_lists() {
            cases.push(("POST", l.clone()));
            cases.push(("PATCH", l));
        }
        for (method, uri) in cases {
            let r = fx
                .app
                .send(
                    method,
                    &uri,
                    Some(json!({"data": {"x": 1}}).to_string().as_bytes()),
                )
                .await;
            r.assert_err(405, METHOD_NOT_ALLOWED, method);
        }
        fx.app
            .get(&new)
            .await
            .assert_err(404, NOT_EXIST, "does not exist");
        fx.assert_unchanged(&format!("{b:?}")).await;
    }
}

/// (method, uri, body, expected code, message needle)
type Case = (&'static str, String, Option<Vec<u8>>, i64, &'static str);

#[actix_web::test]
async fn always_http_200_keeps_result_false_and_the_code() {
    for b in backends() {
        let fx = fixture_with(b, |s| {
            s.server.always_http_200 = true;
            s.server.max_body_bytes = 4096;
        })
        .await;
        let l = pod_lists()[0].clone();
        let missing = format!("{}/Pod/missing", ns_base("c1", "ns1"));
        let cases: Vec<Case> = vec![
            (
                "PUT",
                p1(),
                Some(b"{\"data\": ".to_vec()),
                BAD_REQUEST_DATA,
                "JSON",
            ),
            (
                "PUT",
                p1(),
                Some(b"[1]".to_vec()),
                BAD_REQUEST_DATA,
                "object",
            ),
            (
                "PUT",
                p1(),
                Some(body_of_size(4097)),
                PAYLOAD_TOO_LARGE,
                "larger than",
            ),
            (
                "PUT",
                p1(),
                Some(nested_body(101, false)),
                BAD_REQUEST_DATA,
                "nested",
            ),
            ("GET", missing.clone(), None, NOT_EXIST, "does not exist"),
            (
                "GET",
                format!("{l}?extra={}", b64("nope")),
                None,
                INVALID_PARAMETER,
                "extra",
            ),
            (
                "DELETE",
                format!("{l}?extra={}", b64("[1]")),
                None,
                INVALID_PARAMETER,
                "extra",
            ),
            (
                "DELETE",
                format!("{l}?hostIp="),
                None,
                INVALID_PARAMETER,
                "hostIp",
            ),
            (
                "GET",
                format!("{l}?limit=abc"),
                None,
                INVALID_PARAMETER,
                "limit",
            ),
            (
                "GET",
                format!("{l}?labelSelector={}", enc("app in (a")),
                None,
                INVALID_PARAMETER,
                "labelSelector",
            ),
            (
                "GET",
                format!("{}/Pod/p1", ns_base("%2E%2E", "ns1")),
                None,
                INVALID_PARAMETER,
                "clusterId",
            ),
            (
                "DELETE",
                l.clone(),
                Some(b"{\"updateTimeBegin\":\"x\"}".to_vec()),
                BAD_REQUEST_DATA,
                "updateTimeBegin",
            ),
            ("GET", "/nope".to_owned(), None, ROUTE_NOT_FOUND, "no route"),
            (
                "POST",
                p1(),
                Some(b"{}".to_vec()),
                METHOD_NOT_ALLOWED,
                "POST",
            ),
        ];
        for (method, uri, body, code, needle) in cases {
            fx.app
                .send(method, &uri, body.as_deref())
                .await
                .assert_err(200, code, needle);
        }
        // Successes are unchanged, and the probes keep their real status.
        fx.app.get(&p1()).await.assert_ok();
        fx.app.get("/healthz").await.assert_ok();
        fx.app.get("/readyz").await.assert_ok();
        fx.assert_unchanged(&format!("{b:?}")).await;
    }
}

#[actix_web::test]
async fn odd_query_strings_never_answer_5xx() {
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("q{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut deep = String::from("1");
    for _ in 0..120 {
        deep = format!("[{deep}]");
    }
    for b in backends() {
        let fx = fixture(b).await;
        let queries = [
            "=x".to_owned(),
            "%ZZ=1".to_owned(),
            "a=%ZZ".to_owned(),
            "+=1".to_owned(),
            "a%00b=1".to_owned(),
            format!("{}=1", vec!["k"; 200].join(".")),
            format!("resourceName={}", many(5000)),
            format!("resourceName={}", ",".repeat(3000)),
            format!("labelSelector=app%20in%20(x{})", ",x".repeat(3000)),
            format!(
                "extra={}",
                extra(&json!({"resourceName": many(3000).split(',').collect::<Vec<_>>()}))
            ),
            format!("extra={}", b64(&format!("{{\"data.x\": {deep}}}"))),
        ];
        for q in &queries {
            for l in pod_lists() {
                for method in ["GET", "DELETE"] {
                    let r = fx.app.send(method, &format!("{l}?{q}"), None).await;
                    let short = &q[..q.len().min(60)];
                    assert!(
                        r.status == 200 || r.status == 400,
                        "{b:?} {method} {l}?{short}: {} {}",
                        r.status,
                        r.raw
                    );
                    assert!(r.content_type.starts_with("application/json"), "{}", r.raw);
                    if r.status == 400 {
                        assert!(!r.result() && r.code() == INVALID_PARAMETER, "{}", r.raw);
                    } else if method == "DELETE" {
                        assert_eq!(r.body["total"], json!(0), "{b:?} {short}: {}", r.raw);
                    } else {
                        assert_eq!(r.data(), &json!([]), "{b:?} {short}: {}", r.raw);
                    }
                }
            }
            fx.assert_unchanged(&format!("{b:?} {}", &q[..q.len().min(60)]))
                .await;
        }
        // Queries without any condition list everything (a bare key is an
        // empty value: absent on a read).
        for q in [
            "&&&",
            "&",
            "field=resourceName&field=resourceName",
            "a",
            "extra",
        ] {
            let r = fx.app.get(&format!("{}?{q}", pod_lists()[2])).await;
            r.assert_ok();
            assert_eq!(r.data().as_array().map(Vec::len), Some(4), "{b:?} {q}");
        }
    }
}

#[actix_web::test]
async fn a_filter_key_ending_in_a_backslash_is_not_a_server_error() {
    for b in backends() {
        let fx = fixture(b).await;
        for q in [
            "%5C=1".to_owned(),
            "data.a%5C=1".to_owned(),
            format!("extra={}", extra(&json!({"data.a\\": 1}))),
        ] {
            for l in pod_lists() {
                for method in ["GET", "DELETE"] {
                    let r = fx.app.send(method, &format!("{l}?{q}"), None).await;
                    assert!(
                        r.status == 200 || r.status == 400,
                        "{b:?} {method} {l}?{q}: {} {}",
                        r.status,
                        r.raw
                    );
                }
            }
            fx.assert_unchanged(&format!("{b:?} {q}")).await;
        }
    }
}

#[actix_web::test]
async fn value_lists_longer_than_sqlite_parameters_are_not_server_errors() {
    for b in backends() {
        let fx = fixture(b).await;
        for q in [
            format!("resourceName={}", ",".repeat(40000)),
            format!("labelSelector=app%20in%20({})", ",".repeat(40000)),
        ] {
            for l in pod_lists() {
                for method in ["GET", "DELETE"] {
                    let r = fx.app.send(method, &format!("{l}?{q}"), None).await;
                    assert!(
                        r.status == 200 || r.status == 400,
                        "{b:?} {method} {l}?{}: {} {}",
                        &q[..40],
                        r.status,
                        r.raw
                    );
                }
            }
            fx.assert_unchanged(&format!("{b:?} {}", &q[..40])).await;
        }
    }
}

/// A MongoDB collection with a unique index another tool made on fewer keys
/// than the natural key (under a name of its own: the Go service's
/// `<collection>_idx` is replaced instead): a PUT it rejects gets a 409
/// naming the index, and the stored document is untouched.
#[actix_web::test]
async fn a_foreign_unique_index_conflict_is_reported_as_such() {
    for b in backends() {
        if b != Backend::Mongo {
            continue;
        }
        let app = TestApp::new(b).await;
        let m = &app.store.settings.storage.mongodb;
        let client = mongodb::Client::with_uri_str(&m.uri).await.expect("client");
        let coll = client
            .database(&m.databases.dynamic)
            .collection::<bson::Document>("Pod");
        coll.create_index(
            mongodb::IndexModel::builder()
                .keys(bson::doc! {"clusterId": 1, "resourceType": 1, "resourceName": 1})
                .options(
                    mongodb::options::IndexOptions::builder()
                        .name("name_per_cluster".to_owned())
                        .unique(true)
                        .build(),
                )
                .build(),
        )
        .await
        .expect("index");
        let first = format!("{}/Pod/p1", ns_base("c1", "ns1"));
        app.put_json(&first, &json!({"data": {"v": 1}}))
            .await
            .assert_ok();
        let r = app
            .put_json(
                &format!("{}/Pod/p1", ns_base("c1", "ns2")),
                &json!({"data": {"v": 2}}),
            )
            .await;
        r.assert_err(409, 1_405_095, "name_per_cluster");
        let kept = app.get(&first).await;
        kept.assert_ok();
        assert_eq!(kept.data()["data"], json!({"v": 1}));
    }
}
