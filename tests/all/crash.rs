//! Real server processes. Durability: a server under a stream of PUTs is
//! killed with SIGKILL; restarted on the same SQLite directory, it has every
//! write it acknowledged. Watches over real TCP: a client that leaves is
//! unsubscribed, and SIGTERM ends open watches with the break frame.
//! HTTP/1.0 clients get streamed replies they can read (not chunked).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start(dir: &std::path::Path) -> Server {
    start_with(dir, &[])
}

pub(crate) fn start_with(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    start_logged(dir, env, None)
}

/// As [`start_with`], logging at `info` into `log` when given.
pub(crate) fn start_logged(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    log: Option<&std::path::Path>,
) -> Server {
    // A listen address among `env` fixes the port (a restart on the same one).
    let port = env
        .iter()
        .find(|(k, _)| *k == "BCS_STORAGE__SERVER__LISTEN")
        .and_then(|(_, v)| v.rsplit(':').next()?.parse().ok())
        .unwrap_or_else(free_port);
    let (out, level) = match log {
        Some(path) => (
            Stdio::from(std::fs::File::create(path).expect("log file")),
            "info",
        ),
        None => (Stdio::null(), "error"),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_bcs-storage"))
        .arg("serve")
        .envs(env.iter().copied())
        .env("BCS_STORAGE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("BCS_STORAGE__STORAGE__SQLITE__PATH", dir)
        .env("BCS_STORAGE__STORAGE__SQLITE__SYNCHRONOUS", "full")
        .env("RUST_LOG", level)
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let server = Server { child, port };
    // A server that speaks TLS is up once it accepts connections.
    let https = env
        .iter()
        .any(|(k, v)| *k == "BCS_STORAGE__SERVER__TLS__CERT" && !v.is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let up = if https {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        } else {
            request(port, "GET", "/healthz", None).is_ok_and(|(s, _)| s == 200)
        };
        if up {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not become healthy");
}

/// One request on its own connection; returns (status, body).
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    request_with(port, method, path, &[], body)
}

/// [`request`] with extra request headers.
pub(crate) fn request_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if line.to_ascii_lowercase().starts_with("transfer-encoding:") && line.contains("chunked") {
            chunked = true;
        }
    }
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw)?;
    let bytes = if chunked { dechunk(&raw) } else { raw };
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..pos]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        let end = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        raw = raw.get(end + 2..).unwrap_or(&[]);
    }
    out
}

const BASE: &str =
    "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/CRASH/namespaces/ns";

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let port = server.port;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{w}-{i:06}");
                let body = format!(r#"{{"data":{{"metadata":{{"name":"{name}"}},"seq":{i}}}}}"#);
                match request(port, "PUT", &format!("{BASE}/Pod/{name}"), Some(&body)) {
                    Ok((200, reply)) if reply.contains(r#""result":true"#) => {
                        acked.lock().expect("lock").insert(name);
                    }
                    // The server died mid-request: that write was never acknowledged.
                    _ => {}
                }
                i += 1;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().expect("lock").len() < 300 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server); // SIGKILL while the writers are still sending
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer thread");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 300,
        "too few writes acknowledged before the kill: {}",
        acked.len()
    );

    let server = start(dir.path());
    let (status, body) = request(
        server.port,
        "GET",
        &format!("{BASE}/Pod?field=resourceName&limit=50000"),
        None,
    )
    .expect("list after restart");
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).expect("list reply is JSON");
    let stored: BTreeSet<String> = reply["data"]
        .as_array()
        .expect("data array")
        .iter()
        .filter_map(|d| d["resourceName"].as_str().map(str::to_owned))
        .collect();
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    );
}

/// Opens a watch on the pods of cluster W over its own connection; returns
/// the stream positioned after the reply head.
pub(crate) fn open_watch(port: u16) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let body = "{}";
    write!(
        s,
        "POST /bcsapi/v4/storage/dynamic/watch/W/Pod HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status");
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        reader.read_line(&mut line).expect("head");
        if line == "\r\n" {
            return reader;
        }
    }
}

/// The open watch count the readiness probe reports.
pub(crate) fn open_watches(port: u16) -> i64 {
    let (status, body) = request(port, "GET", "/readyz", None).expect("readyz");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["data"]["watches"].as_i64().expect("watches")
}

/// Waits (bounded) until the probe reports `want` open watches.
fn wait_for_watches(port: u16, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while open_watches(port) != want {
        assert!(
            Instant::now() < deadline,
            "open watches never became {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_watch_client_that_leaves_is_unsubscribed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &[("BCS_STORAGE__WATCH__HEARTBEAT_MS", "100")]);
    let watch = open_watch(server.port);
    wait_for_watches(server.port, 1);
    // Gone without a word and with nothing written to it: the idle
    // stream's heartbeat finds out.
    drop(watch);
    wait_for_watches(server.port, 0);
}

/// Stores pod `p1` in namespace `ns` of `cluster`.
fn put_p1(port: u16, cluster: &str) {
    let (status, body) = request(
        port,
        "PUT",
        &format!("/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces/ns/Pod/p1"),
        Some(r#"{"data":{"metadata":{"name":"p1"}}}"#),
    )
    .expect("put");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn sigterm_ends_open_watches_with_the_break_frame() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path());
    let mut watch = open_watch(server.port);
    wait_for_watches(server.port, 1);
    put_p1(server.port, "W");
    // The change has reached the stream before the signal (on a loaded
    // machine the dispatcher may otherwise still hold it at shutdown).
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&dechunk(&raw))
        .lines()
        .any(|l| !l.trim().is_empty())
    {
        let n = watch.read(&mut buf).expect("the first frame arrives");
        assert!(n > 0, "the stream ended before its first frame");
        raw.extend_from_slice(&buf[..n]);
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    watch.read_to_end(&mut raw).expect("the stream ends");
    let frames: Vec<serde_json::Value> = String::from_utf8_lossy(&dechunk(&raw))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("frame"))
        .collect();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["type"], 1);
    assert_eq!(frames[1], serde_json::json!({"type": -1, "value": null}));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The whole reply to `GET path` sent as HTTP/1.0, read until the server
/// closes the connection.
fn get_http10(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw)
        .expect("the server closes the connection");
    raw
}

/// HTTP/1.0 has no chunked encoding: a streamed list or watch reaches such
/// a client as plain bytes ended by closing the connection.
#[test]
fn streamed_replies_to_http_1_0_clients_are_not_chunked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    put_p1(server.port, "H");
    for path in [
        "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/H/namespaces/ns/Pod",
        "/clusters/H/api/v1/namespaces/ns/pods",
        "/clusters/H/api/v1/namespaces/ns/pods?watch=true&timeoutSeconds=1",
    ] {
        let raw = get_http10(server.port, path);
        let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.0 200"), "{path}: {head}");
        assert!(
            !head.to_ascii_lowercase().contains("transfer-encoding"),
            "{path}: {head}"
        );
        let first = body.lines().next().unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_str(if path.contains("watch") { first } else { body })
                .unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        assert!(v.to_string().contains("p1"), "{path}: {body}");
    }
}
