//! `--peer etcd`: the store Kubernetes itself uses, measured in the same run
//! with the same client, connections and duration, through its JSON
//! gateway (`/v3/kv/put`, `/v3/kv/range`; keys and values base64, as the
//! gateway wants them). etcd runs from Debian's `etcd-server` (installed
//! when missing) on a fresh data directory with its default durability
//! (an fsync per commit, commits batched).
//!
//! What differs from the service: etcd stores opaque bytes under a key
//! (no document, no label filter: its list is "the first 100 keys under a
//! namespace's prefix", ours "100 pods of a namespace with a label"); every
//! value crosses the gateway base64-encoded inside JSON (a third larger);
//! the gateway takes requests up to 1.5 MiB. The service's SQLite store
//! runs `synchronous=full`.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::{
    BenchError, Connection, Phase, Request, RequestCtx, Result, free_port, namespace_of, pod_body,
};

/// A running etcd, stopped (and its data directory removed) on drop.
pub struct Etcd {
    child: Child,
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Etcd {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Installs Debian's etcd-server when `etcd` is not on the PATH.
fn install() -> Result<()> {
    if Command::new("etcd").arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("peer: installing etcd (Debian package etcd-server)");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
    };
    let ok = apt(&["update", "-qq"]).is_ok_and(|s| s.success())
        && apt(&["install", "-y", "-qq", "etcd-server"]).is_ok_and(|s| s.success());
    if !ok {
        return Err(BenchError(
            "etcd is not installed and apt-get install etcd-server failed".into(),
        ));
    }
    Ok(())
}

/// Starts etcd on free loopback ports and waits until it answers.
pub async fn start() -> Result<Etcd> {
    install()?;
    let data = tempfile::Builder::new()
        .prefix("bcs-storage-bench-etcd-")
        .tempdir()
        .map_err(|e| BenchError(format!("etcd data directory: {e}")))?;
    let (client, peer) = (free_port()?, free_port()?);
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new("etcd")
        .args(["--name", "bench", "--data-dir"])
        .arg(data.path())
        .args(["--listen-client-urls", &client_url])
        .args(["--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("bench={peer_url}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError(format!("start etcd: {e}")))?;
    let etcd = Etcd {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], client)),
        _data: data,
    };
    let mut conn = Connection::new(etcd.addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let probe = range(&key_of(0), None, 1);
        if let Ok(resp) = conn.send(&probe).await
            && resp.is_success()
        {
            return Ok(etcd);
        }
        if Instant::now() > deadline {
            return Err(BenchError(format!(
                "etcd did not answer on {} within 30 s",
                etcd.addr
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn post(path: &str, body: serde_json::Value) -> Request {
    Request {
        method: "POST",
        path: path.to_owned(),
        body: Some(body.to_string().into_bytes()),
        accept: None,
        content_type: "application/json",
    }
}

/// The key of preloaded pod `i`: `/pods/<namespace>/pod-<i>`.
fn key_of(i: u64) -> String {
    format!("/pods/{}/pod-{i}", namespace_of(i))
}

fn put(key: &str, value: &[u8]) -> Request {
    post(
        "/v3/kv/put",
        serde_json::json!({"key": B64.encode(key), "value": B64.encode(value)}),
    )
}

fn range(key: &str, end: Option<&str>, limit: u64) -> Request {
    let mut body = serde_json::json!({"key": B64.encode(key), "limit": limit});
    if let Some(end) = end {
        body["range_end"] = B64.encode(end).into();
    }
    post("/v3/kv/range", body)
}

/// The same 2 KB pod documents the service is preloaded with.
fn pod_value(i: u64) -> Vec<u8> {
    pod_body(&format!("pod-{i}"), &namespace_of(i), i)
}

/// The put of preloaded pod `i`, as the service's preload writes it.
pub fn preload_request(i: u64) -> Request {
    put(&key_of(i), &pod_value(i))
}

/// etcd's equivalent of each of the service's phases that has one.
pub fn phases(preload: u64) -> Vec<(&'static str, Phase)> {
    vec![
        (
            "put",
            Phase::new(
                "put",
                "etcd: put a new 2 KB pod",
                move |ctx: &mut RequestCtx| {
                    let i = preload + (ctx.conn as u64) * 1_000_000 + ctx.seq;
                    put(
                        &format!("/bench-put/{}/{}", ctx.conn, ctx.seq),
                        &pod_value(i),
                    )
                },
            ),
        ),
        (
            "get",
            Phase::new("get", "etcd: range of one preloaded key", move |ctx| {
                let i = ctx.rng.below(preload.max(1));
                range(&key_of(i), None, 0)
            }),
        ),
        (
            "list",
            Phase::new(
                "list",
                "etcd: the first 100 keys under a namespace's prefix",
                move |ctx| {
                    let ns = namespace_of(ctx.rng.below(preload.max(1)));
                    let prefix = format!("/pods/{ns}/");
                    // The prefix's range ends where the next byte would.
                    let end = format!("/pods/{ns}0");
                    range(&prefix, Some(&end), 100)
                },
            ),
        ),
    ]
}

/// Whether the first item of an etcd range reply decodes to a pod.
pub fn check_range(body: &[u8]) -> Result<String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| BenchError(format!("etcd reply is not JSON: {e}")))?;
    let kvs = v["kvs"].as_array().cloned().unwrap_or_default();
    let Some(first) = kvs.first() else {
        return Err(BenchError(format!("etcd range found nothing: {v}")));
    };
    let value = B64
        .decode(first["value"].as_str().unwrap_or(""))
        .map_err(|e| BenchError(format!("etcd value is not base64: {e}")))?;
    if !value.starts_with(b"{") {
        return Err(BenchError("etcd value is not a pod document".into()));
    }
    Ok(format!("{} keys, {} B value", kvs.len(), value.len()))
}
