//! Authentication on a real server process: tokens made with the
//! `bcs-storage token add` command, refused requests in each route's
//! dialect, scopes, a token added while the server runs, and no token in the
//! log.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::crash::{request_with, start_logged};

/// `bcs-storage token add NAME --scope S --file F`: the token it prints.
pub(crate) fn add_token(file: &Path, name: &str, scope: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bcs-storage"))
        .args(["token", "add", name, "--scope", scope, "--file"])
        .arg(file)
        .output()
        .expect("token add runs");
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).expect("utf-8");
    token.trim().to_owned()
}

const POD: &str =
    "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/C1/namespaces/ns/Pod/p1";
const BODY: &str = r#"{"data":{"metadata":{"name":"p1","namespace":"ns"}}}"#;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Whether a GET found the resource (the shipped default answers the bcs
/// routes with HTTP 200 and puts the outcome in the envelope).
fn stored((status, body): &(u16, String)) -> bool {
    *status == 200 && json(body)["result"] == true
}

#[test]
fn tokens_guard_every_route_by_scope_and_reload_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tokens.toml");
    let writer = add_token(&file, "data-watch", "write");
    let reader = add_token(&file, "console", "read");
    assert!(
        !std::fs::read_to_string(&file)
            .expect("file")
            .contains(&writer),
        "the file keeps hashes only"
    );
    let log = dir.path().join("server.log");
    let data = dir.path().join("data");
    let server = start_logged(
        &data,
        &[(
            "BCS_STORAGE__AUTH__TOKENS_FILE",
            file.to_str().expect("path"),
        )],
        Some(&log),
    );
    let port = server.port;
    let bearer = |t: &str| format!("Bearer {t}");
    let send = |method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>| {
        request_with(port, method, path, headers, body).expect("request")
    };

    // Probes and the scrape need nothing.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(send("GET", path, &[], None).0, 200, "{path}");
    }

    // No token, a wrong one, a malformed header: 401 in each dialect, and
    // nothing is stored.
    for headers in [
        vec![],
        vec![("Authorization", "Bearer nope")],
        vec![("X-Auth-Token", "nope")],
        vec![("Authorization", "Basic dXNlcjpwYXNz")],
    ] {
        let (status, body) = send("PUT", POD, &headers, Some(BODY));
        assert_eq!(status, 401, "{headers:?}: {body}");
        let v = json(&body);
        assert_eq!(v["result"], false, "{body}");
        assert_eq!(v["code"], 1_405_097, "{body}");
    }
    let (status, body) = send("GET", "/clusters/C1/api/v1/pods", &[], None);
    assert_eq!(status, 401, "{body}");
    let v = json(&body);
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["code"].as_u64()),
        (Some("Status"), Some("Unauthorized"), Some(401)),
        "{body}"
    );
    let (status, body) = send("GET", "/v1/export/pods", &[], None);
    assert_eq!(
        (status, json(&body)["code"].as_i64()),
        (401, Some(16)),
        "{body}"
    );
    // Unknown routes do not tell an anonymous caller whether they exist.
    assert_eq!(send("GET", "/no/such/route", &[], None).0, 401);

    // read: reads pass, writes are 403 naming the scope; nothing stored.
    let read = bearer(&reader);
    let (status, body) = send("PUT", POD, &[("Authorization", &read)], Some(BODY));
    assert_eq!(status, 403, "{body}");
    let v = json(&body);
    assert_eq!(v["code"], 1_405_098, "{body}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("console") && m.contains("write")),
        "{body}"
    );
    assert!(!stored(&send(
        "GET",
        POD,
        &[("Authorization", &read)],
        None
    )));

    // write: PUT and DELETE of resources; both header forms.
    let (status, body) = send("PUT", POD, &[("X-Auth-Token", &writer)], Some(BODY));
    assert_eq!(status, 200, "{body}");
    let (status, body) = send("GET", POD, &[("Authorization", &read)], None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json(&body)["data"]["data"]["metadata"]["name"],
        "p1",
        "{body}"
    );
    let (status, body) = send(
        "PATCH",
        "/clusters/C1/api/v1/namespaces/ns/pods/p1",
        &[
            ("Authorization", &read),
            ("Content-Type", "application/merge-patch+json"),
        ],
        Some(r#"{"metadata":{"labels":{"a":"b"}}}"#),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(json(&body)["reason"], "Forbidden", "{body}");

    // admin: cleaning a cluster is refused to write...
    let clean = "/bcsapi/v4/storage/clusters/C1/data";
    let (status, body) = send(
        "DELETE",
        clean,
        &[("Authorization", &bearer(&writer))],
        None,
    );
    assert_eq!(status, 403, "{body}");
    assert!(stored(&send("GET", POD, &[("Authorization", &read)], None)));

    // ... and allowed to an admin token added while the server runs.
    let admin = add_token(&file, "ops", "admin");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = send("DELETE", clean, &[("Authorization", &bearer(&admin))], None);
        if status == 200 {
            break;
        }
        assert_eq!(status, 401, "{body}");
        assert!(
            Instant::now() < deadline,
            "the new token was never accepted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!stored(&send(
        "GET",
        POD,
        &[("Authorization", &read)],
        None
    )));

    // No token, valid or not, reaches the log; refusals name the owner.
    drop(server);
    let text = std::fs::read_to_string(&log).expect("log");
    for secret in [&writer, &reader, &admin, "nope"] {
        assert!(!text.contains(secret), "a token is in the log:\n{text}");
    }
    assert!(text.contains("console"), "{text}");
}
