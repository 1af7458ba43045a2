//! Failure drills on real processes: a shutdown under traffic, and a
//! database that stops answering and comes back. Each prints what it
//! measured (run with `--nocapture` to read it); the bounds asserted are
//! generous, to tell "answers" from "hangs" on a loaded machine.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Backend, backends};
use crate::crash::{free_port, request, start_with};

const POD: &str =
    "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/DRILL/namespaces/ns/Pod";

fn put(port: u16, name: &str) -> (u16, Value) {
    let body = format!(r#"{{"data":{{"metadata":{{"name":"{name}"}}}}}}"#);
    let (status, text) = request(port, "PUT", &format!("{POD}/{name}"), Some(&body)).expect("put");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success(), "kill {sig} {pid}");
}

#[test]
fn shutdown_turns_readyz_503_first_then_serves_until_it_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start_with(
        dir.path(),
        &[
            ("BCS_STORAGE__SERVER__SHUTDOWN_DRAIN_MS", "3000"),
            ("BCS_STORAGE__SERVER__SHUTDOWN_TIMEOUT_SECS", "10"),
        ],
    );
    let port = server.port;
    assert_eq!(
        request(port, "GET", "/readyz", None).expect("readyz").0,
        200
    );
    let stopping = Instant::now();
    signal(server.child.id(), "-TERM");
    // Not ready at once...
    loop {
        let (status, _) = request(port, "GET", "/readyz", None).expect("readyz");
        if status == 503 {
            break;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(2),
            "readyz stayed 200"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // ... but still serving while the load balancer notices.
    let (status, reply) = put(port, "during-drain");
    assert_eq!(
        (status, &reply["result"]),
        (200, &Value::Bool(true)),
        "{reply}"
    );
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(30),
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    eprintln!(
        "drill shutdown: readyz 503 at once, exit {:?} after SIGTERM (drain 3 s)",
        stopping.elapsed()
    );
    // What it acknowledged while draining is there after a restart.
    drop(server);
    let server = start_with(dir.path(), &[]);
    let (status, text) =
        request(server.port, "GET", &format!("{POD}/during-drain"), None).expect("get");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""result":true"#), "{text}");
}

/// A SecantusDB server of the test's own (so that it may stop it).
struct Database(Child, u16);

impl Drop for Database {
    fn drop(&mut self) {
        signal(self.0.id(), "-CONT");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_database() -> Database {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/secantus-venv/bin/secantusd-py");
    assert!(
        bin.exists(),
        "{} is missing: scripts/test.sh installs it",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--storage-path", ":memory:"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("secantusd starts");
    let db = Database(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the database did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    db
}

/// MongoDB stops answering (SIGSTOP: connections stay open, nothing comes
/// back, the worst case): requests answer 503 within the request timeout
/// instead of hanging, `/readyz` is 503; when it answers again the service
/// recovers by itself.
#[test]
fn a_stalled_database_answers_503_in_time_and_recovers_by_itself() {
    if !backends().contains(&Backend::Mongo) {
        return;
    }
    let db = start_database();
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = format!("mongodb://127.0.0.1:{}/?directConnection=true", db.1);
    let server = start_with(
        dir.path(),
        &[
            ("BCS_STORAGE__STORAGE__BACKEND", "mongodb"),
            ("BCS_STORAGE__STORAGE__MONGODB__URI", &uri),
            ("BCS_STORAGE__SERVER__REQUEST_TIMEOUT_SECS", "2"),
        ],
    );
    let port = server.port;
    assert_eq!(put(port, "before").1["result"], true);

    signal(db.0.id(), "-STOP");
    let mut waits = Vec::new();
    for i in 0..3 {
        let asked = Instant::now();
        let (status, reply) = put(port, &format!("stalled-{i}"));
        waits.push(asked.elapsed());
        assert_eq!(status, 503, "{reply}");
        assert_eq!(reply["code"], 1_405_092, "{reply}");
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains("request_timeout_secs")),
            "{reply}"
        );
    }
    let (status, body) = request(port, "GET", "/readyz", None).expect("readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        waits.iter().all(|w| *w < Duration::from_secs(20)),
        "{waits:?}"
    );

    signal(db.0.id(), "-CONT");
    let back = Instant::now();
    loop {
        let (_, reply) = put(port, "after");
        if reply["result"] == true {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "the service did not recover: {reply}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = back.elapsed();
    assert_eq!(
        request(port, "GET", "/readyz", None).expect("readyz").0,
        200
    );
    let (_, text) = request(port, "GET", &format!("{POD}/before"), None).expect("get");
    assert!(text.contains(r#""result":true"#), "{text}");
    eprintln!(
        "drill stalled database: 503 after {waits:?} (request timeout 2 s), recovered {recovered:?} after the database answered again"
    );
}
