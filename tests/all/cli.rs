//! The client commands (`bcs-storage get|list|put|delete`), run as the real
//! binary against a real server, as an ops script runs them: what they
//! print, and the exit codes scripts rely on (0 ok, 1 refused, 2 usage,
//! 3 not found, 4 unreachable).

use assert_cmd::Command;
use serde_json::{Value, json};

use crate::crash::{Server, free_port, start_with};

fn cli(server: &Server) -> Command {
    let mut c = Command::cargo_bin("bcs-storage").expect("the binary");
    c.env(
        "BCS_STORAGE_SERVER",
        format!("http://127.0.0.1:{}", server.port),
    )
    .env_remove("BCS_STORAGE_TOKEN");
    c
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn pod(name: &str, app: &str) -> String {
    json!({"metadata": {"name": name, "labels": {"app": app}}, "status": {"phase": "Running"}})
        .to_string()
}

#[test]
fn put_get_list_and_delete_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    // From a file and from standard input.
    let file = dir.path().join("web-0.json");
    std::fs::write(&file, pod("web-0", "web")).expect("write");
    let out = cli(&server)
        .args([
            "put", "-c", "C1", "-n", "default", "-t", "Pod", "--name", "web-0", "-f",
        ])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Pod default/web-0 in C1 stored\n");
    for (ns, name, app) in [("default", "web-1", "web"), ("kube-system", "dns", "dns")] {
        cli(&server)
            .args([
                "put", "-c", "C1", "-n", ns, "-t", "Pod", "--name", name, "-f", "-",
            ])
            .write_stdin(pod(name, app))
            .assert()
            .success();
    }

    // One document, as JSON (the stored form) and as YAML.
    let out = cli(&server)
        .args([
            "get", "-c", "C1", "-n", "default", "-t", "Pod", "--name", "web-0", "-o", "json",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(doc["resourceName"], "web-0");
    assert_eq!(doc["data"]["status"]["phase"], "Running");
    let out = cli(&server)
        .args([
            "-o", "yaml", "get", "-c", "C1", "-n", "default", "-t", "Pod", "--name", "web-0",
        ])
        .output()
        .expect("runs");
    let yaml: Value = serde_norway::from_str(&stdout(&out)).expect("yaml");
    assert_eq!(yaml, doc);

    // A table across namespaces, kubectl-like.
    let out = cli(&server)
        .args(["list", "-c", "C1", "-t", "Pod"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAMESPACE", "NAME", "AGE"], "{text}");
    let names: Vec<(&str, &str)> = rows[1..].iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        names,
        [
            ("default", "web-0"),
            ("default", "web-1"),
            ("kube-system", "dns")
        ],
        "{text}"
    );
    assert!(rows[1][2].ends_with('s'), "an age in seconds: {text}");
    // Filters: a label selector, a field condition, the wide table.
    let out = cli(&server)
        .args([
            "list", "-c", "C1", "-t", "Pod", "-l", "app=web", "-o", "wide",
        ])
        .args(["--where", "data.metadata.name=web-1,web-9"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("CLUSTER") && lines[0].ends_with("LABELS"),
        "{text}"
    );
    assert!(
        lines[1].contains("web-1") && lines[1].ends_with("app=web"),
        "{text}"
    );

    // Deleted: then not found (exit 3), naming what.
    cli(&server)
        .args([
            "delete", "-c", "C1", "-n", "default", "-t", "Pod", "--name", "web-0",
        ])
        .assert()
        .success()
        .stdout("Pod default/web-0 in C1 deleted\n");
    let out = cli(&server)
        .args([
            "get", "-c", "C1", "-n", "default", "-t", "Pod", "--name", "web-0",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Pod default/web-0 in C1"),
        "{}",
        stderr(&out)
    );
}

/// `--all` follows the pages to the end; without it, `--limit` is one page.
#[test]
fn list_all_follows_every_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    for i in 0..25 {
        cli(&server)
            .args([
                "put",
                "-c",
                "C2",
                "-t",
                "Node",
                "--name",
                &format!("node-{i:02}"),
                "-f",
                "-",
            ])
            .write_stdin(json!({"metadata": {"name": format!("node-{i:02}")}}).to_string())
            .assert()
            .success();
    }
    let names = |args: &[&str]| -> Vec<String> {
        let out = cli(&server)
            .args([
                "list",
                "-c",
                "C2",
                "-t",
                "Node",
                "-o",
                "json",
                "--field",
                "resourceName",
            ])
            .args(args)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        let docs: Vec<Value> = serde_json::from_str(&stdout(&out)).expect("json");
        docs.iter()
            .map(|d| d["resourceName"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(names(&["--limit", "7"]).len(), 7);
    let all = names(&["--all", "--limit", "7"]);
    let want: Vec<String> = (0..25).map(|i| format!("node-{i:02}")).collect();
    assert_eq!(all, want);
    // Cluster-scoped documents: no namespace column.
    let out = cli(&server)
        .args(["list", "-c", "C2", "-t", "Node", "--limit", "1"])
        .output()
        .expect("runs");
    assert!(stdout(&out).starts_with("NAME "), "{}", stdout(&out));
}

/// The exit codes, and messages on standard error.
#[test]
fn exit_codes_scripts_can_rely_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    // 1: the server refused, with its message.
    let out = cli(&server)
        .args(["list", "-c", "C1", "-t", "Pod", "-l", "app in ("])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("labelSelector"), "{}", stderr(&out));
    // 2: a file that is not JSON is refused before asking the server.
    let out = cli(&server)
        .args(["put", "-c", "C1", "-t", "Pod", "--name", "x", "-f", "-"])
        .write_stdin("not json")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not JSON"), "{}", stderr(&out));
    // 2: usage.
    for args in [
        &["list", "-t", "Pod"][..],
        &["list", "-c", "C1", "-t", "Pod", "--where", "nokey"],
        &["list", "-c", "C1", "-t", "Pod", "-o", "xml"],
        &["frobnicate"],
    ] {
        let out = cli(&server).args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // 3: not found.
    cli(&server)
        .args(["get", "-c", "C1", "-t", "Node", "--name", "nope"])
        .assert()
        .code(3);
    // 4: nothing listens there; the flag wins over the environment and
    // works after the verb too.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = cli(&server)
        .args(["list", "-c", "C1", "-t", "Pod", "--server", &closed])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    // Help with examples on every verb.
    for verb in [
        "get",
        "list",
        "put",
        "delete",
        "batch-delete",
        "clean-cluster",
        "watch",
        "query",
        "events",
        "alarms",
        "export",
    ] {
        let out = cli(&server).args([verb, "--help"]).output().expect("runs");
        assert!(out.status.success());
        // The examples, not the usage line (which every help has).
        let help = stdout(&out);
        assert!(
            help.contains("Example") && help.contains(&format!("bcs-storage {verb} ")),
            "{verb}: {help}"
        );
    }
}

/// With authentication on, the token comes from `--token` or
/// `BCS_STORAGE_TOKEN`; without one the command fails with the server's
/// reason.
#[test]
fn tokens_from_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tokens.toml");
    let token = crate::auth::add_token(&file, "ops", "write");
    let server = start_with(
        &dir.path().join("data"),
        &[(
            "BCS_STORAGE__AUTH__TOKENS_FILE",
            file.to_str().expect("utf-8"),
        )],
    );
    let out = cli(&server)
        .args(["list", "-c", "C1", "-t", "Pod"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).to_lowercase().contains("token"),
        "{}",
        stderr(&out)
    );
    cli(&server)
        .args([
            "--token", &token, "put", "-c", "C1", "-t", "Node", "--name", "n1", "-f", "-",
        ])
        .write_stdin("{}")
        .assert()
        .success();
    cli(&server)
        .env("BCS_STORAGE_TOKEN", &token)
        .args([
            "get", "-c", "C1", "-t", "Node", "--name", "n1", "-o", "json",
        ])
        .assert()
        .success();
}

fn names_in(server: &Server, cluster: &str) -> Vec<String> {
    let out = cli(server)
        .args([
            "list",
            "-c",
            cluster,
            "-t",
            "Pod",
            "-o",
            "json",
            "--field",
            "resourceName",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let docs: Vec<Value> = serde_json::from_str(&stdout(&out)).expect("json");
    docs.iter()
        .map(|d| d["resourceName"].as_str().expect("name").to_owned())
        .collect()
}

/// A batch delete says how many documents match and asks first: `n` (or
/// no answer at all) deletes nothing, `y` deletes them, `--dry-run` only
/// counts, `--yes` does not ask.
#[test]
fn batch_delete_counts_and_asks_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    for (name, app) in [
        ("old-1", "old"),
        ("old-2", "old"),
        ("old-3", "old"),
        ("keep", "new"),
    ] {
        cli(&server)
            .args([
                "put", "-c", "C3", "-n", "default", "-t", "Pod", "--name", name, "-f", "-",
            ])
            .write_stdin(pod(name, app))
            .assert()
            .success();
    }
    let batch = [
        "batch-delete",
        "-c",
        "C3",
        "-n",
        "default",
        "-t",
        "Pod",
        "-l",
        "app=old",
    ];
    cli(&server)
        .args(batch)
        .arg("--dry-run")
        .assert()
        .success()
        .stdout("3 documents of Pod in namespace default of C3 match\n");
    for answer in ["n\n", "", "yes please\n"] {
        let out = cli(&server)
            .args(batch)
            .write_stdin(answer)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{answer:?}");
        assert!(
            stderr(&out).contains("Delete 3 documents? [y/N]"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("nothing deleted"), "{}", stderr(&out));
    }
    assert_eq!(names_in(&server, "C3").len(), 4);
    cli(&server)
        .args(batch)
        .write_stdin("y\n")
        .assert()
        .success()
        .stdout("3 documents of Pod in namespace default of C3 match\n3 documents deleted\n");
    assert_eq!(names_in(&server, "C3"), ["keep"]);
    // --yes: no question; nothing matching: nothing asked either.
    cli(&server)
        .args(["batch-delete", "-c", "C3", "-t", "Pod", "--yes"])
        .assert()
        .success()
        .stdout("1 document of Pod in C3 matches\n1 document deleted\n");
    cli(&server)
        .args(["batch-delete", "-c", "C3", "-t", "Pod"])
        .assert()
        .success()
        .stdout("0 documents of Pod in C3 match\n");
}

/// Cleaning a cluster asks for its id to be typed again; other clusters
/// keep their documents.
#[test]
fn clean_cluster_wants_the_cluster_id_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    for cluster in ["C4", "C5"] {
        cli(&server)
            .args([
                "put", "-c", cluster, "-n", "ns", "-t", "Pod", "--name", "p", "-f", "-",
            ])
            .write_stdin(pod("p", "web"))
            .assert()
            .success();
    }
    cli(&server)
        .args(["clean-cluster", "-c", "C4"])
        .write_stdin("y\n")
        .assert()
        .code(1);
    assert_eq!(names_in(&server, "C4"), ["p"]);
    cli(&server)
        .args(["clean-cluster", "-c", "C4"])
        .write_stdin("C4\n")
        .assert()
        .success()
        .stdout("cluster C4 cleaned: 1 document and 0 events deleted\n");
    assert!(names_in(&server, "C4").is_empty());
    assert_eq!(names_in(&server, "C5"), ["p"]);
}

/// Completion scripts for the shells, naming the verbs; bash accepts it.
#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::cargo_bin("bcs-storage")
            .expect("the binary")
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success());
        let script = stdout(&out);
        assert!(
            script.contains("batch-delete") && script.contains("clean-cluster"),
            "{shell}"
        );
        if shell == "bash" {
            let checked = std::process::Command::new("bash")
                .args(["-n", "-c", &script])
                .status()
                .expect("bash runs");
            assert!(checked.success(), "bash -n refuses the script");
        }
    }
}

/// `watch` prints each change as it comes and, when the server is killed
/// and started again on the same data, watches again from the last
/// revision it printed: nothing missed, nothing twice.
#[test]
fn watch_resumes_by_itself_after_the_server_restarts() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [("BCS_STORAGE__SERVER__LISTEN", listen.as_str())];
    let server = start_with(dir.path(), &env);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_bcs-storage"))
        .args([
            "watch",
            "-c",
            "C6",
            "-t",
            "Pod",
            "-o",
            "json",
            "--max-events",
            "3",
        ])
        .env("BCS_STORAGE_SERVER", format!("http://{listen}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watch starts");
    // Killed if the test fails half way.
    struct Watch(std::process::Child);
    impl Drop for Watch {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut watch = Watch(child);
    let stdout = watch.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || -> (i64, String) {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a frame within 30 s");
        let f: Value = serde_json::from_str(&line).expect("a JSON frame");
        let name = f["value"]["resourceName"].as_str().expect("name");
        (f["type"].as_i64().expect("type"), name.to_owned())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while crate::crash::open_watches(server.port) != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the watch never opened"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let put = |server: &Server, name: &str| {
        cli(server)
            .args([
                "put", "-c", "C6", "-n", "ns", "-t", "Pod", "--name", name, "-f", "-",
            ])
            .write_stdin(pod(name, "web"))
            .assert()
            .success();
    };
    put(&server, "one");
    assert_eq!(next(), (1, "one".to_owned()));
    drop(server); // SIGKILL
    let server = start_with(dir.path(), &env);
    put(&server, "two");
    cli(&server)
        .args([
            "delete", "-c", "C6", "-n", "ns", "-t", "Pod", "--name", "one",
        ])
        .assert()
        .success();
    assert_eq!(next(), (1, "two".to_owned()));
    assert_eq!(next(), (2, "one".to_owned()));
    let status = watch.0.wait().expect("watch ends");
    assert!(status.success(), "{status:?}");
}

/// `query` takes the kind's own filters as kebab-case flags (and refuses
/// others, naming the kind's); `events` and `alarms` print their tables.
#[test]
fn query_events_and_alarms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    for (name, host) in [("web-0", "10.0.0.1"), ("web-1", "10.0.0.2")] {
        cli(&server)
            .args([
                "put", "-c", "C7", "-n", "default", "-t", "Pod", "--name", name, "-f", "-",
            ])
            .write_stdin(
                json!({"metadata": {"name": name, "namespace": "default"},
                       "status": {"hostIP": host, "phase": "Running"}})
                .to_string(),
            )
            .assert()
            .success();
    }
    let out = cli(&server)
        .args([
            "-o",
            "json",
            "query",
            "pod",
            "-c",
            "C7",
            "--host-ip",
            "10.0.0.1",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let docs: Vec<Value> = serde_json::from_str(&stdout(&out)).expect("json");
    let names: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["resourceName"].as_str())
        .collect();
    assert_eq!(names, ["web-0"]);
    let out = cli(&server)
        .args(["query", "pod", "-c", "C7", "--host", "10.0.0.1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--host-ip"), "{}", stderr(&out));
    cli(&server)
        .args(["query", "pods", "-c", "C7"])
        .assert()
        .code(2);

    let (status, body) = crate::crash::request(
        server.port,
        "PUT",
        "/bcsapi/v4/storage/events",
        Some(
            &json!({"clusterId": "C7", "kind": "Pod", "level": "Warning", "component": "kubelet",
                    "describe": "Back-off restarting failed container", "eventTime": 1_700_000_000,
                    "extraInfo": {"namespace": "default", "name": "web-0", "kind": "Pod"}})
            .to_string(),
        ),
    )
    .expect("put event");
    assert_eq!(status, 200, "{body}");
    let out = cli(&server)
        .args(["events", "-c", "C7", "--level", "Warning"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "{text}");
    let header: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["AGE", "LEVEL", "NAMESPACE", "KIND", "OBJECT", "MESSAGE"]
    );
    assert!(rows[1].contains("web-0") && rows[1].ends_with("Back-off restarting failed container"));
    cli(&server)
        .args(["events", "-c", "C7", "--level", "Normal"])
        .assert()
        .success()
        .stdout("")
        .stderr("No records found.\n");

    let (status, body) = crate::crash::request(
        server.port,
        "POST",
        "/bcsapi/v4/storage/alarms",
        Some(r#"{"clusterId":"C7","namespace":"default","message":"disk full","source":"10.0.0.4","module":"bcs-health","type":"sms","receivedTime":1700000000}"#),
    )
    .expect("post alarm");
    assert_eq!(status, 200, "{body}");
    let out = cli(&server)
        .args(["alarms", "-c", "C7", "-o", "wide"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(text.starts_with("AGE"), "{text}");
    assert!(
        text.contains("bcs-health") && text.contains("disk full"),
        "{text}"
    );
}

/// `export` writes one document per line (the export's pod form for
/// pods), to standard output or a file; a bad search is refused.
#[test]
fn export_writes_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[]);
    for i in 0..3 {
        let name = format!("p{i}");
        cli(&server)
            .args([
                "put", "-c", "C8", "-n", "default", "-t", "Pod", "--name", &name, "-f", "-",
            ])
            .write_stdin(
                json!({"metadata": {"name": name, "namespace": "default", "uid": format!("u{i}")}})
                    .to_string(),
            )
            .assert()
            .success();
    }
    let out = cli(&server)
        .args(["export", "pods", "-c", "C8"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let pods: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ids: Vec<&str> = pods.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, ["u0", "u1", "u2"]);
    let file = dir.path().join("pods.ndjson");
    cli(&server)
        .args(["export", "Pod", "-c", "C8", "--query", "Pod:p1", "--file"])
        .arg(&file)
        .assert()
        .success()
        .stderr("1 document exported\n");
    let text = std::fs::read_to_string(&file).expect("the file");
    let doc: Value = serde_json::from_str(text.trim()).expect("one document");
    assert_eq!(doc["resourceName"], "p1");
    let out = cli(&server)
        .args(["export", "pods", "--query", "Bogus:1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bogus"), "{}", stderr(&out));
}
