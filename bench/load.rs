//! Load benchmark for the `bcs-storage` HTTP service.
//!
//! What it measures, in one run:
//!
//! 1. starts `bcs-storage serve` as a child process on a free loopback port,
//!    with the embedded SQLite backend in a fresh temporary directory, and waits
//!    for `GET /healthz` to answer 200;
//! 2. preloads `--preload` distinct, realistic (~2 KB) Kubernetes Pods through
//!    the dynamic namespace-resources PUT route and reports the write throughput;
//! 3. runs a series of timed phases (`floor`, `put`, `get`, `list` by default),
//!    each with `--connections` keep-alive connections issuing requests
//!    back-to-back for `--seconds`, recording the latency of every request and
//!    counting non-2xx or `"result":false` replies as errors;
//! 4. prints a table of requests, errors, req/s, p50/p99 latency and the ratio
//!    of each phase's throughput to the `floor` phase (`GET /healthz`, i.e. what
//!    this machine and this client can do at best), compared with `--targets`,
//!    plus the server's peak VmRSS and RssAnon sampled from `/proc` every 100 ms.
//!
//! Run it with:
//!
//! ```text
//! cargo build --release
//! cargo run --release --example bench -- [--preload 100000] [--seconds 10] \
//!     [--connections 64] [--phases floor,put,get,list] \
//!     [--targets put=0.07,get=0.25,list=0.012] [--max-rss-anon-mib 250]
//! ```
//!
//! The exit code is 0 when the run completed, even when a target is missed
//! (this is a measurement, not a test); 1 when a phase had errors; 2 when the
//! server could not be started or the preload failed.
//!
//! Adding a phase takes a few lines in [`build_phases`]: a name, a closure that
//! produces the next request of a connection, and optionally a probe that checks
//! the first reply makes sense (e.g. that a query returns items).

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod peer;
mod watch;

use clap::Parser;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Cluster id used for every resource.
const CLUSTER: &str = "BCS-K8S-00001";
/// Number of namespaces pods are spread over (`ns-<i % NAMESPACES>`).
const NAMESPACES: u64 = 100;
/// Number of distinct `app` labels (`app-<i % APPS>`); divides `NAMESPACES`.
const APPS: u64 = 50;
/// Number of distinct host IPs (`status.hostIP`).
const HOSTS: u64 = 500;
/// 2024-05-01T10:00:00Z, the base of all generated timestamps.
const BASE_UNIX_SECS: i64 = 1_714_557_600;
/// Page size of the list phase.
const LIST_LIMIT: u32 = 100;
/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the server's memory is sampled.
const RSS_SAMPLE_PERIOD: Duration = Duration::from_millis(100);
/// How many distinct error messages a phase prints.
const MAX_ERROR_SAMPLES: usize = 8;

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/// Load benchmark for bcs-storage: starts the server, preloads pods and
/// measures throughput and latency per phase.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Server binary to start as `<bin> serve`.
    #[arg(long, default_value = "target/release/bcs-storage")]
    server_bin: PathBuf,

    /// Number of distinct pods written before the timed phases.
    #[arg(long, default_value_t = 100_000)]
    preload: u64,

    /// Concurrent connections used by the preload.
    #[arg(long, default_value_t = 64)]
    preload_connections: usize,

    /// Duration of each timed phase, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,

    /// Concurrent keep-alive connections of each timed phase.
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Phases to run, in order (available: floor, put, get, list,
    /// query-host, query-time, query-time-day, event-put, event-list,
    /// event-object, kube-list, kube-table, kube-patch, kube-paged, export,
    /// watch, one-connection; the event reads need event-put before them;
    /// kube-paged, export, watch and one-connection run last, in that
    /// order, see `--watchers`). `one-connection` is what one console user
    /// feels: GET by key and the `list` of 100 on a single keep-alive
    /// connection, and watch delivery with one watcher and one writer.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "floor,put,get,list,query-host,query-time,event-put,event-list,event-object,kube-list,kube-table,kube-patch,kube-paged,export,watch,one-connection"
    )]
    phases: Vec<String>,

    /// Minimum throughput ratio to `floor` per phase, as name=ratio pairs.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = parse_target,
        default_value = "put=0.07,get=0.25,list=0.012,query-host=0.012,query-time=0.012,event-put=0.035,event-list=0.009,event-object=0.05"
    )]
    targets: Vec<Target>,

    /// Target for the server's peak anonymous RSS (RssAnon), in MiB.
    #[arg(long, default_value_t = 250.0)]
    max_rss_anon_mib: f64,

    /// Concurrent watchers of the `watch` phase.
    #[arg(long, default_value_t = 200)]
    watchers: usize,

    /// Worker threads of the benchmark client's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,

    /// Seconds to wait for the server to answer /healthz.
    #[arg(long, default_value_t = 30)]
    startup_timeout: u64,

    /// Let the server write to this terminal instead of /dev/null.
    #[arg(long)]
    show_server_output: bool,

    /// Measure a peer too, with the same client, connections and duration:
    /// `etcd` (started from Debian's etcd-server, installed when missing)
    /// for put, get and list; each phase is then printed for both, with the
    /// ratio ours/etcd.
    #[arg(long)]
    peer: Option<String>,

    /// The server's `RUST_LOG` (`info`, the shipped default, writes an
    /// access-log line per request; `warn` writes none).
    #[arg(long, default_value = "info")]
    server_log: String,
}

/// A throughput target: `phase` must reach `min_ratio` × floor req/s.
#[derive(Debug, Clone)]
struct Target {
    phase: String,
    min_ratio: f64,
}

fn parse_target(text: &str) -> std::result::Result<Target, String> {
    let (phase, ratio) = text
        .split_once('=')
        .ok_or_else(|| format!("expected phase=ratio, got {text:?}"))?;
    let min_ratio = ratio
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("bad ratio in {text:?}: {e}"))?;
    Ok(Target {
        phase: phase.trim().to_string(),
        min_ratio,
    })
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Error of this harness: a message with its context chain.
#[derive(Debug)]
struct BenchError(String);

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

type Result<T, E = BenchError> = std::result::Result<T, E>;

macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(BenchError(format!($($arg)*)))
    };
}

/// Adds what was being done to an error.
trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| BenchError(format!("{}: {e}", what())))
    }
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 keep-alive client
// ---------------------------------------------------------------------------

/// One request to send.
#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    /// An `Accept` header (the Kubernetes views negotiate tables by it).
    accept: Option<&'static str>,
    /// The body's `Content-Type`.
    content_type: &'static str,
}

impl Request {
    fn get(path: impl Into<String>) -> Self {
        Request {
            method: "GET",
            path: path.into(),
            body: None,
            accept: None,
            content_type: "application/json",
        }
    }

    fn put_json(path: impl Into<String>, body: Vec<u8>) -> Self {
        Request {
            method: "PUT",
            path: path.into(),
            body: Some(body),
            accept: None,
            content_type: "application/json",
        }
    }

    fn patch(path: impl Into<String>, body: Vec<u8>, content_type: &'static str) -> Self {
        Request {
            method: "PATCH",
            path: path.into(),
            body: Some(body),
            accept: None,
            content_type,
        }
    }

    fn accepting(mut self, accept: &'static str) -> Self {
        self.accept = Some(accept);
        self
    }
}

/// A complete reply (body de-chunked).
#[derive(Debug)]
struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Value of the top-level `"result"` flag of a bcs-storage envelope, if any.
    fn result_flag(&self) -> Option<bool> {
        result_flag(&self.body)
    }

    /// Start of the body, for error messages.
    fn snippet(&self) -> String {
        let end = self.body.len().min(200);
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }

    fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).context(|| "reply is not JSON".to_string())
    }
}

/// Finds `"result"` followed by `:` and `true`/`false`, allowing whitespace.
fn result_flag(body: &[u8]) -> Option<bool> {
    const KEY: &[u8] = b"\"result\"";
    let at = body.windows(KEY.len()).position(|w| w == KEY)?;
    let rest = &body[at + KEY.len()..];
    let rest = trim_ascii_start(rest).strip_prefix(b":")?;
    let rest = trim_ascii_start(rest);
    if rest.starts_with(b"true") {
        Some(true)
    } else if rest.starts_with(b"false") {
        Some(false)
    } else {
        None
    }
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[skip..]
}

/// Why an exchange failed; a keep-alive connection the server closed while it
/// was idle fails with `ClosedBeforeReply` and is retried once on a new one.
enum ExchangeError {
    ClosedBeforeReply,
    Other(BenchError),
}

impl ExchangeError {
    /// The error, naming the request it happened to.
    fn describe(self, req: &Request) -> BenchError {
        match self {
            ExchangeError::ClosedBeforeReply => BenchError(format!(
                "{} {}: connection closed before a reply",
                req.method, req.path
            )),
            ExchangeError::Other(e) => BenchError(format!("{} {}: {e}", req.method, req.path)),
        }
    }
}

impl From<BenchError> for ExchangeError {
    fn from(e: BenchError) -> Self {
        ExchangeError::Other(e)
    }
}

/// Framing of a reply body, from its headers.
#[derive(Debug, Default)]
struct ReplyHead {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

/// A lazily (re)connected keep-alive HTTP/1.1 connection.
struct Connection {
    addr: SocketAddr,
    host: String,
    stream: Option<BufReader<TcpStream>>,
    /// Whether the current stream already carried a request.
    reused: bool,
    out: Vec<u8>,
    line: Vec<u8>,
}

impl Connection {
    fn new(addr: SocketAddr) -> Self {
        Connection {
            addr,
            host: addr.to_string(),
            stream: None,
            reused: false,
            out: Vec::with_capacity(4096),
            line: Vec::with_capacity(256),
        }
    }

    /// Sends `req` and reads the whole reply, within [`REQUEST_TIMEOUT`].
    async fn send(&mut self, req: &Request) -> Result<Response> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.send_with_retry(req)).await {
            Ok(result) => result,
            Err(_) => {
                self.stream = None;
                bail!(
                    "{} {}: no reply within {REQUEST_TIMEOUT:?}",
                    req.method,
                    req.path
                )
            }
        }
    }

    async fn send_with_retry(&mut self, req: &Request) -> Result<Response> {
        let was_reused = self.stream.is_some() && self.reused;
        match self.exchange(req).await {
            Ok(resp) => Ok(resp),
            Err(ExchangeError::ClosedBeforeReply) if was_reused => match self.exchange(req).await {
                Ok(resp) => Ok(resp),
                Err(e) => Err(e.describe(req)),
            },
            Err(e) => Err(e.describe(req)),
        }
    }

    /// One request/reply on the current (or a new) stream; drops the stream
    /// on any failure or when the server asks to close.
    async fn exchange(&mut self, req: &Request) -> Result<Response, ExchangeError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .context(|| format!("connect to {}", self.addr))?;
            stream
                .set_nodelay(true)
                .context(|| "set TCP_NODELAY".to_string())?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, stream));
            self.reused = false;
        }
        encode_request(&mut self.out, &self.host, req);
        let Some(stream) = self.stream.as_mut() else {
            unreachable!("stream was just connected")
        };
        let result = round_trip(stream, &self.out, &mut self.line, req.method == "HEAD").await;
        match result {
            Ok((resp, close)) => {
                if close {
                    self.stream = None;
                } else {
                    self.reused = true;
                }
                Ok(resp)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// Serialises a request head and body into `out`.
fn encode_request(out: &mut Vec<u8>, host: &str, req: &Request) {
    out.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{} {} HTTP/1.1\r\nHost: {host}\r\n",
        req.method, req.path
    );
    if let Some(accept) = req.accept {
        let _ = write!(out, "Accept: {accept}\r\n");
    }
    match &req.body {
        Some(body) => {
            let _ = write!(
                out,
                "Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
                req.content_type,
                body.len()
            );
            out.extend_from_slice(body);
        }
        None if matches!(req.method, "PUT" | "POST" | "PATCH") => {
            out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        }
        None => out.extend_from_slice(b"\r\n"),
    }
}

/// Writes the encoded request and reads one complete reply. Returns the reply
/// and whether the connection must be closed afterwards.
async fn round_trip(
    stream: &mut BufReader<TcpStream>,
    request: &[u8],
    line: &mut Vec<u8>,
    head_request: bool,
) -> Result<(Response, bool), ExchangeError> {
    stream
        .get_mut()
        .write_all(request)
        .await
        .map_err(|_| ExchangeError::ClosedBeforeReply)?;
    let head = loop {
        let head = read_head(stream, line).await?;
        // 1xx replies (100 Continue) precede the real one.
        if !(100..200).contains(&head.status) {
            break head;
        }
    };
    let no_body = head_request || head.status == 204 || head.status == 304;
    let mut close = head.close;
    let body = if no_body {
        Vec::new()
    } else if head.chunked {
        read_chunked_body(stream, line).await?
    } else if let Some(len) = head.content_length {
        let mut body = vec![0; len];
        stream
            .read_exact(&mut body)
            .await
            .context(|| format!("read {len}-byte body"))?;
        body
    } else {
        // No framing: the body runs to the end of the connection.
        close = true;
        let mut body = Vec::new();
        stream
            .read_to_end(&mut body)
            .await
            .context(|| "read body to EOF".to_string())?;
        body
    };
    Ok((
        Response {
            status: head.status,
            body,
        },
        close,
    ))
}

/// Reads one CRLF-terminated line into `line` (without the line ending).
/// Returns false at end of stream before any byte.
async fn read_line(stream: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> Result<bool> {
    line.clear();
    let n = stream
        .read_until(b'\n', line)
        .await
        .context(|| "read line".to_string())?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        bail!("connection closed mid-line");
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(true)
}

/// Reads the status line and headers of a reply.
async fn read_head(
    stream: &mut BufReader<TcpStream>,
    line: &mut Vec<u8>,
) -> Result<ReplyHead, ExchangeError> {
    match read_line(stream, line).await {
        Ok(true) => {}
        Ok(false) | Err(_) => return Err(ExchangeError::ClosedBeforeReply),
    }
    let mut head = parse_status_line(line)?;
    loop {
        if !read_line(stream, line).await? {
            return Err(BenchError("connection closed inside headers".into()).into());
        }
        if line.is_empty() {
            return Ok(head);
        }
        apply_header(&mut head, line)?;
    }
}

/// Parses `HTTP/1.1 200 OK`.
fn parse_status_line(line: &[u8]) -> Result<ReplyHead> {
    let text = std::str::from_utf8(line).context(|| "status line is not UTF-8".to_string())?;
    let mut parts = text.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("bad status line {text:?}");
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| BenchError(format!("bad status line {text:?}")))?;
    Ok(ReplyHead {
        status,
        // HTTP/1.0 closes unless told otherwise; good enough for this client.
        close: version == "HTTP/1.0",
        ..ReplyHead::default()
    })
}

/// Records the framing-relevant headers.
fn apply_header(head: &mut ReplyHead, line: &[u8]) -> Result<()> {
    let text = std::str::from_utf8(line).context(|| "header is not UTF-8".to_string())?;
    let Some((name, value)) = text.split_once(':') else {
        bail!("bad header line {text:?}");
    };
    let name = name.trim();
    let value = value.trim();
    if name.eq_ignore_ascii_case("content-length") {
        let len = value
            .parse::<usize>()
            .context(|| format!("bad Content-Length {value:?}"))?;
        head.content_length = Some(len);
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        head.chunked = value
            .split(',')
            .any(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
    } else if name.eq_ignore_ascii_case("connection") {
        let has = |token: &str| {
            value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if has("close") {
            head.close = true;
        } else if has("keep-alive") {
            head.close = false;
        }
    }
    Ok(())
}

/// Reads a `Transfer-Encoding: chunked` body, including the trailer section.
async fn read_chunked_body(
    stream: &mut BufReader<TcpStream>,
    line: &mut Vec<u8>,
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        if !read_line(stream, line).await? {
            bail!("connection closed before chunk size");
        }
        let size = parse_chunk_size(line)?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream
            .read_exact(&mut body[start..])
            .await
            .context(|| format!("read {size}-byte chunk"))?;
        if !read_line(stream, line).await? || !line.is_empty() {
            bail!("chunk not followed by CRLF");
        }
    }
    // Trailer fields, then the final empty line.
    loop {
        if !read_line(stream, line).await? {
            bail!("connection closed inside chunked trailer");
        }
        if line.is_empty() {
            return Ok(body);
        }
    }
}

/// Parses a chunk-size line (hex, optional `;extensions`).
fn parse_chunk_size(line: &[u8]) -> Result<usize> {
    let text = std::str::from_utf8(line).context(|| "chunk size is not UTF-8".to_string())?;
    let hex = text.split(';').next().unwrap_or_default().trim();
    usize::from_str_radix(hex, 16).context(|| format!("bad chunk size {text:?}"))
}

/// Accepts a 2xx reply whose `result` flag, if present, is not false.
fn check_reply(resp: &Response) -> Result<()> {
    if !resp.is_success() {
        bail!("HTTP {}: {}", resp.status, resp.snippet());
    }
    if resp.result_flag() == Some(false) {
        bail!("\"result\":false: {}", resp.snippet());
    }
    Ok(())
}

/// Accepts only HTTP 200 with `"result":true` (the preload's check).
fn check_write_reply(resp: &Response) -> Result<()> {
    if resp.status != 200 {
        bail!("HTTP {}: {}", resp.status, resp.snippet());
    }
    if resp.result_flag() != Some(true) {
        bail!("no \"result\":true: {}", resp.snippet());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------

/// SplitMix64: small, fast, deterministic; good enough to pick keys.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough value in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (proleptic Gregorian, UTC).
fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day); H. Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn namespace_of(i: u64) -> String {
    format!("ns-{}", i % NAMESPACES)
}

fn pod_path(namespace: &str, name: &str) -> String {
    format!(
        "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{CLUSTER}/namespaces/{namespace}/Pod/{name}"
    )
}

/// `status.hostIP` of pod `i`: 500 distinct hosts.
fn host_ip(i: u64) -> String {
    let host = i % HOSTS;
    format!("10.0.{}.{}", host / 250, host % 250)
}

/// The PUT body `{"data": <pod>}` of a realistic ~2 KB Pod; `i` drives every
/// varying field. Written from a template: building a `serde_json::Value`
/// costs ~8x more client CPU (~80 µs against ~10 µs per body), CPU the client
/// would take from the server on a small machine. Every interpolated value is
/// plain ASCII without quotes or backslashes, so no escaping is needed.
fn pod_body(name: &str, namespace: &str, i: u64) -> Vec<u8> {
    let app = format!("app-{}", i % APPS);
    // Seven seconds apart, wrapping after ~1.1 years.
    let created = BASE_UNIX_SECS + i64::try_from(i % 5_000_000).unwrap_or(0) * 7;
    let uid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        i & 0xffff_ffff,
        (i >> 8) & 0xffff,
        i & 0xfff,
        (i >> 4) & 0xfff,
        i.wrapping_mul(0x9E37_79B9) & 0xffff_ffff_ffff
    );
    format!(
        concat!(
            r#"{{"data":{{"apiVersion":"v1","kind":"Pod","metadata":{{"#,
            r#""name":"{name}","namespace":"{namespace}","uid":"{uid}","#,
            r#""resourceVersion":"{rv}","creationTimestamp":"{created}","#,
            r#""generateName":"{app}-7d9f8c6b5-","labels":{{"app":"{app}","#,
            r#""app.kubernetes.io/name":"{app}","app.kubernetes.io/part-of":"bench-suite","#,
            r#""tier":"{tier}","pod-template-hash":"7d9f8c6b5"}},"#,
            r#""annotations":{{"kubectl.kubernetes.io/restartedAt":"{restarted}","#,
            r#""prometheus.io/scrape":"true","prometheus.io/port":"9090"}},"#,
            r#""ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","#,
            r#""name":"{app}-7d9f8c6b5","uid":"rs-{rs:032x}","controller":true,"#,
            r#""blockOwnerDeletion":true}}]}},"#,
            r#""spec":{{"nodeName":"node-{host:03}","restartPolicy":"Always","#,
            r#""serviceAccountName":"default","dnsPolicy":"ClusterFirst","#,
            r#""containers":[{{"name":"{app}","#,
            r#""image":"registry.example.com/bench/{app}:1.{minor}.{patch}","#,
            r#""imagePullPolicy":"IfNotPresent","ports":["#,
            r#"{{"name":"http","containerPort":8080,"protocol":"TCP"}},"#,
            r#"{{"name":"metrics","containerPort":9090,"protocol":"TCP"}}],"#,
            r#""resources":{{"requests":{{"cpu":"100m","memory":"128Mi"}},"#,
            r#""limits":{{"cpu":"500m","memory":"512Mi"}}}},"env":["#,
            r#"{{"name":"APP_NAME","value":"{app}"}},"#,
            r#"{{"name":"APP_ENV","value":"production"}},"#,
            r#"{{"name":"LOG_LEVEL","value":"info"}},"#,
            r#"{{"name":"DATABASE_URL","value":"postgres://db-{shard}.internal:5432/app"}},"#,
            r#"{{"name":"CACHE_URL","value":"redis://cache-{shard}.internal:6379/0"}},"#,
            r#"{{"name":"FEATURE_FLAGS","value":"search,recommendations,new-checkout"}},"#,
            r#"{{"name":"POD_NAME","valueFrom":{{"fieldRef":{{"fieldPath":"metadata.name"}}}}}},"#,
            r#"{{"name":"POD_IP","valueFrom":{{"fieldRef":{{"fieldPath":"status.podIP"}}}}}}],"#,
            r#""volumeMounts":[{{"name":"kube-api-access","#,
            r#""mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}}]}}],"#,
            r#""volumes":[{{"name":"kube-api-access","projected":{{"defaultMode":420}}}}]}},"#,
            r#""status":{{"phase":"{phase}","hostIP":"{host_ip}","podIP":"172.16.{pod_net}.{pod_host}","#,
            r#""startTime":"{started}","qosClass":"Burstable","conditions":["#,
            r#"{{"type":"Ready","status":"True","lastTransitionTime":"{ready}"}},"#,
            r#"{{"type":"PodScheduled","status":"True","lastTransitionTime":"{scheduled}"}}]}}}}}}"#,
        ),
        name = name,
        namespace = namespace,
        uid = uid,
        rv = 1_000_000 + i,
        created = rfc3339(created),
        app = app,
        tier = ["frontend", "backend", "cache"][(i % 3) as usize],
        restarted = rfc3339(created - 3600),
        rs = i % APPS,
        host = i % HOSTS,
        minor = i % 7,
        patch = i % 13,
        shard = i % 10,
        phase = ["Running", "Pending", "Succeeded"][(i % 3) as usize],
        host_ip = host_ip(i),
        pod_net = (i / 250) % 250,
        pod_host = i % 250 + 1,
        started = rfc3339(created + 5),
        ready = rfc3339(created + 12),
        scheduled = rfc3339(created + 1),
    )
    .into_bytes()
}

/// The PUT of preloaded pod `i` (`pod-<i>` in `ns-<i % 100>`).
fn preload_request(i: u64) -> Request {
    let namespace = namespace_of(i);
    let name = format!("pod-{i}");
    let body = pod_body(&name, &namespace, i);
    Request::put_json(pod_path(&namespace, &name), body)
}

// ---------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------

/// Per-connection state handed to a request generator.
struct RequestCtx {
    /// Connection index within the phase.
    conn: usize,
    /// Requests this connection has generated so far.
    seq: u64,
    rng: Rng,
}

type NextRequest = Arc<dyn Fn(&mut RequestCtx) -> Request + Send + Sync>;
type Probe = Arc<dyn Fn(&Response) -> Result<String> + Send + Sync>;

/// A timed phase: every connection sends `next_request(ctx)` back-to-back.
#[derive(Clone)]
struct Phase {
    name: &'static str,
    about: &'static str,
    next_request: NextRequest,
    /// Checks the reply to one request sent before the phase starts and
    /// describes it (e.g. "100 items"); an error aborts the phase.
    probe: Option<Probe>,
}

impl Phase {
    fn new(
        name: &'static str,
        about: &'static str,
        next_request: impl Fn(&mut RequestCtx) -> Request + Send + Sync + 'static,
    ) -> Self {
        Phase {
            name,
            about,
            next_request: Arc::new(next_request),
            probe: None,
        }
    }

    fn with_probe(
        mut self,
        probe: impl Fn(&Response) -> Result<String> + Send + Sync + 'static,
    ) -> Self {
        self.probe = Some(Arc::new(probe));
        self
    }
}

/// Every phase this harness knows, in the default order.
fn build_phases(preload: u64) -> Vec<Phase> {
    vec![
        Phase::new("floor", "GET /healthz", |_| Request::get("/healthz")),
        Phase::new("put", "PUT a new pod", move |ctx| {
            let name = format!("bench-put-{}-{}", ctx.conn, ctx.seq);
            // Vary the shape like the preload, beyond the preloaded indices.
            let i = preload + (ctx.conn as u64) * 1_000_000 + ctx.seq;
            let namespace = namespace_of(i);
            let body = pod_body(&name, &namespace, i);
            Request::put_json(pod_path(&namespace, &name), body)
        }),
        Phase::new("get", "GET a preloaded pod by key", move |ctx| {
            let i = ctx.rng.below(preload.max(1));
            Request::get(pod_path(&namespace_of(i), &format!("pod-{i}")))
        })
        .with_probe(expect_data),
        Phase::new(
            "list",
            "GET pods of a namespace by app label, limit 100",
            move |ctx| {
                let (namespace, app) =
                    matching_list_pair(ctx.rng.below(preload.clamp(1, NAMESPACES)));
                Request::get(list_path(namespace, app))
            },
        )
        .with_probe(expect_non_empty_list),
        Phase::new(
            "query-host",
            "query pods by hostIp (1 of 500 hosts), limit 100",
            move |ctx| {
                let i = ctx.rng.below(preload.clamp(1, HOSTS));
                Request::get(format!(
                    "{QUERY_PODS}?hostIp={}&limit={LIST_LIMIT}",
                    host_ip(i)
                ))
            },
        )
        .with_probe(expect_non_empty_list),
        Phase::new(
            "query-time",
            "query pods by startTimeBegin/End (a 1-hour window, ~510 pods), limit 100",
            move |ctx| time_window_query(ctx, preload, 3_600),
        )
        .with_probe(expect_non_empty_list),
        Phase::new("event-put", "PUT a new event (8 clusters)", |ctx| {
            let i = (ctx.conn as u64) * 1_000_000 + ctx.seq;
            Request::put_json("/bcsapi/v4/storage/events", event_body(i))
        }),
        Phase::new(
            "event-list",
            "GET the newest 100 events of a cluster (after event-put)",
            |ctx| {
                let c = ctx.rng.below(EVENT_CLUSTERS);
                Request::get(format!(
                    "/bcsapi/v4/storage/events?clusterId=BCS-K8S-EV{c}&length={LIST_LIMIT}"
                ))
            },
        )
        .with_probe(expect_non_empty_list),
        Phase::new(
            "event-object",
            "GET the newest 100 events of one object (1 of 1000; after event-put)",
            |ctx| {
                let c = ctx.rng.below(EVENT_CLUSTERS);
                let o = ctx.rng.below(EVENT_OBJECTS);
                Request::get(format!(
                    "/bcsapi/v4/storage/events?clusterId=BCS-K8S-EV{c}&extraInfo.name=web-{o}&length={LIST_LIMIT}"
                ))
            },
        ),
        Phase::new(
            "kube-list",
            "kubectl-style list: the same 100 pods as `list`, as a Kubernetes PodList",
            move |ctx| {
                let (namespace, app) =
                    matching_list_pair(ctx.rng.below(preload.clamp(1, NAMESPACES)));
                Request::get(format!(
                    "/clusters/{CLUSTER}/api/v1/namespaces/ns-{namespace}/pods?labelSelector=app%3Dapp-{app}&limit={LIST_LIMIT}"
                ))
                .accepting("application/json")
            },
        )
        .with_probe(expect_kube_items),
        Phase::new(
            "kube-table",
            "kubectl get pods: a Table of 500 pods of a namespace",
            move |ctx| {
                let namespace = ctx.rng.below(preload.clamp(1, NAMESPACES));
                Request::get(format!(
                    "/clusters/{CLUSTER}/api/v1/namespaces/ns-{namespace}/pods?limit=500"
                ))
                .accepting(TABLE_ACCEPT)
            },
        )
        .with_probe(expect_kube_items),
        Phase::new(
            "kube-patch",
            "kubectl patch: a strategic merge patch of a preloaded pod's image and a label",
            move |ctx| {
                let i = ctx.rng.below(preload.max(1));
                let app = format!("app-{}", i % APPS);
                let body = format!(
                    r#"{{"metadata":{{"labels":{{"bench-seq":"{seq}"}}}},"spec":{{"containers":[{{"name":"{app}","image":"registry.example.com/bench/{app}:2.{seq}"}}]}}}}"#,
                    seq = ctx.seq
                );
                Request::patch(
                    format!(
                        "/clusters/{CLUSTER}/api/v1/namespaces/{}/pods/pod-{i}",
                        namespace_of(i)
                    ),
                    body.into_bytes(),
                    "application/strategic-merge-patch+json",
                )
            },
        ),
        Phase::new(
            "query-time-day",
            "query pods by startTimeBegin/End (a 1-day window, ~12k pods), limit 100",
            move |ctx| time_window_query(ctx, preload, 86_400),
        )
        .with_probe(expect_non_empty_list),
    ]
}

/// What kubectl sends for `get`.
const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// Probe: a Kubernetes list or Table with items (or rows).
fn expect_kube_items(resp: &Response) -> Result<String> {
    check_reply(resp)?;
    let v = resp.json()?;
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    match v.get("items").or_else(|| v.get("rows")) {
        Some(Value::Array(items)) if !items.is_empty() => Ok(format!("{kind} of {}", items.len())),
        other => bail!("expected a non-empty {kind}, got {}", short(other)),
    }
}

/// Clusters and objects the event phases spread over.
const EVENT_CLUSTERS: u64 = 8;
const EVENT_OBJECTS: u64 = 1_000;

/// A Kubernetes event as data-watch agents send it (about 1 KB), distinct
/// for every `i`.
fn event_body(i: u64) -> Vec<u8> {
    let cluster = i % EVENT_CLUSTERS;
    let object = (i / EVENT_CLUSTERS) % EVENT_OBJECTS;
    let t = BASE_UNIX_SECS + i64::try_from(i % 10_000_000).unwrap_or(0);
    serde_json::json!({
        "id": format!("ev-{i}"), "env": "k8s", "kind": "Pod", "level": "Normal",
        "component": "kubelet", "type": "Pulled",
        "describe": "Container image already present on machine",
        "clusterId": format!("BCS-K8S-EV{cluster}"), "eventTime": t,
        "extraInfo": {"namespace": "default", "name": format!("web-{object}"), "kind": "Pod"},
        "data": {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("web-{object}.{i:x}"), "namespace": "default",
                "uid": format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                "resourceVersion": format!("{}", 1_000_000 + i),
                "creationTimestamp": "2024-05-01T10:00:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": format!("web-{object}"),
                "uid": format!("{:032x}", object), "apiVersion": "v1",
                "resourceVersion": "123456", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled",
            "message": "Container image \"registry.example.com/bench/web:1.2.3\" already present on machine",
            "source": {"component": "kubelet", "host": format!("node-{:03}", i % 500)},
            "firstTimestamp": "2024-05-01T10:00:00Z", "lastTimestamp": "2024-05-01T10:00:00Z",
            "count": 1, "type": "Normal", "eventTime": null,
            "reportingComponent": "kubelet", "reportingInstance": format!("node-{:03}", i % 500)
        }
    })
    .to_string()
    .into_bytes()
}

/// The k8s pod query route of the benchmark cluster.
const QUERY_PODS: &str = "/bcsapi/v4/storage/query/k8s/dynamic/clusters/BCS-K8S-00001/pod";

/// Pods whose `status.startTime` (7 s apart, see `pod_body`) lies in a window
/// of `span` seconds that starts at a random preloaded pod.
fn time_window_query(ctx: &mut RequestCtx, preload: u64, span: i64) -> Request {
    let last = preload.max(1);
    let first = ctx.rng.below(last.saturating_sub(span as u64 / 7).max(1));
    let begin = BASE_UNIX_SECS + i64::try_from(first).unwrap_or(0) * 7;
    Request::get(format!(
        "{QUERY_PODS}?startTimeBegin={begin}&startTimeEnd={}&limit={LIST_LIMIT}",
        begin + span
    ))
}

/// Namespace `ns-k` holds pods `i ≡ k (mod 100)`, whose app index is
/// `i mod 50 = k mod 50` (50 divides 100): that pair always has items.
fn matching_list_pair(k: u64) -> (u64, u64) {
    (k % NAMESPACES, k % APPS)
}

fn list_path(namespace: u64, app: u64) -> String {
    format!(
        "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{CLUSTER}/namespaces/ns-{namespace}/Pod?labelSelector=app%3Dapp-{app}&limit={LIST_LIMIT}"
    )
}

/// Probe: the reply carries a non-empty `data` (object or array).
fn expect_data(resp: &Response) -> Result<String> {
    check_reply(resp)?;
    match resp.json()?.get("data") {
        Some(Value::Array(items)) if !items.is_empty() => Ok(format!("{} item(s)", items.len())),
        Some(Value::Object(fields)) if !fields.is_empty() => Ok("one document".to_string()),
        other => bail!("expected non-empty data, got {}", short(other)),
    }
}

/// Probe: the reply's `data` is a non-empty array.
fn expect_non_empty_list(resp: &Response) -> Result<String> {
    check_reply(resp)?;
    match resp.json()?.get("data") {
        Some(Value::Array(items)) if !items.is_empty() => Ok(format!("{} item(s)", items.len())),
        other => bail!("expected a non-empty data array, got {}", short(other)),
    }
}

fn short(value: Option<&Value>) -> String {
    let text = value.map_or_else(|| "no data field".to_string(), Value::to_string);
    text.chars().take(120).collect()
}

/// Picks the phases named on the command line, in that order.
fn select_phases(all: &[Phase], names: &[String]) -> Result<Vec<Phase>> {
    names
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty())
        .map(|name| {
            all.iter().find(|p| p.name == name).cloned().ok_or_else(|| {
                let known: Vec<_> = all.iter().map(|p| p.name).collect();
                BenchError(format!(
                    "unknown phase {name:?} (known: {})",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running a phase
// ---------------------------------------------------------------------------

/// What one connection observed during a phase.
#[derive(Default)]
struct ConnStats {
    latencies_us: Vec<u32>,
    errors: u64,
    error_samples: BTreeSet<String>,
}

impl ConnStats {
    fn record_error(&mut self, e: BenchError) {
        self.errors += 1;
        if self.error_samples.len() < MAX_ERROR_SAMPLES {
            self.error_samples.insert(e.0);
        }
    }

    fn merge(&mut self, other: ConnStats) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() >= MAX_ERROR_SAMPLES {
                break;
            }
            self.error_samples.insert(sample);
        }
    }
}

/// Summary of one phase.
struct PhaseResult {
    name: &'static str,
    ok: u64,
    errors: u64,
    elapsed: Duration,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_anon_kib: Option<u64>,
    /// Cores the bench's own process and the server used during the phase
    /// (the client must not starve the server: on 2 cores, a client near
    /// 1.0 leaves the server one core).
    client_cores: Option<f64>,
    server_cores: Option<f64>,
}

/// CPU seconds (user + system) a process has used: this one, or `pid`.
/// Linux only (`/proc`); clock ticks are USER_HZ, 100 on Linux.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which may hold spaces: state is the
    // first, utime the twelfth, stime the thirteenth.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// CPU use of the bench and of `server` over a phase, in cores.
struct CpuWatch {
    server: u32,
    start: Instant,
    client: Option<f64>,
    served: Option<f64>,
}

impl CpuWatch {
    fn start(server: u32) -> Self {
        CpuWatch {
            server,
            start: Instant::now(),
            client: cpu_seconds(None),
            served: cpu_seconds(Some(server)),
        }
    }

    /// (client cores, server cores) since `start`.
    fn cores(&self) -> (Option<f64>, Option<f64>) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let used = |before: Option<f64>, now: Option<f64>| Some((now? - before?) / secs);
        (
            used(self.client, cpu_seconds(None)),
            used(self.served, cpu_seconds(Some(self.server))),
        )
    }
}

impl PhaseResult {
    fn requests(&self) -> u64 {
        self.ok + self.errors
    }

    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn failed(name: &'static str) -> Self {
        PhaseResult {
            name,
            ok: 0,
            errors: 1,
            elapsed: Duration::ZERO,
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
            peak_rss_anon_kib: None,
            client_cores: None,
            server_cores: None,
        }
    }
}

/// Sends one request of the phase and checks it with the phase's probe.
async fn probe_phase(addr: SocketAddr, phase: &Phase) -> Result<Option<String>> {
    let Some(probe) = &phase.probe else {
        return Ok(None);
    };
    let mut ctx = RequestCtx {
        conn: 0,
        seq: 0,
        rng: Rng::new(0xB0B0),
    };
    let req = (phase.next_request)(&mut ctx);
    let resp = Connection::new(addr).send(&req).await?;
    let described = probe(&resp).context(|| format!("probe {} {}", req.method, req.path))?;
    Ok(Some(described))
}

/// Runs `phase` for `duration` over `connections` connections.
async fn run_phase(
    addr: SocketAddr,
    phase: &Phase,
    connections: usize,
    duration: Duration,
    seed: u64,
) -> (ConnStats, Duration) {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<JoinHandle<ConnStats>> = (0..connections)
        .map(|conn| {
            let next_request = phase.next_request.clone();
            let rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(conn as u64));
            tokio::spawn(drive_connection(addr, next_request, conn, rng, deadline))
        })
        .collect();
    let mut total = ConnStats::default();
    for joined in futures::future::join_all(tasks).await {
        match joined {
            Ok(stats) => total.merge(stats),
            Err(e) => total.record_error(BenchError(format!("connection task failed: {e}"))),
        }
    }
    (total, start.elapsed())
}

/// One connection's request loop until `deadline`.
async fn drive_connection(
    addr: SocketAddr,
    next_request: NextRequest,
    conn: usize,
    rng: Rng,
    deadline: Instant,
) -> ConnStats {
    let mut stats = ConnStats {
        latencies_us: Vec::with_capacity(16 * 1024),
        ..ConnStats::default()
    };
    let mut client = Connection::new(addr);
    let mut ctx = RequestCtx { conn, seq: 0, rng };
    while Instant::now() < deadline {
        let req = next_request(&mut ctx);
        ctx.seq += 1;
        let started = Instant::now();
        let outcome = client.send(&req).await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        match outcome {
            Ok(resp) => match check_reply(&resp) {
                Ok(()) => stats.latencies_us.push(micros),
                Err(e) => stats.record_error(e),
            },
            Err(e) => {
                stats.record_error(e);
                // Do not spin on a server that refuses connections.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stats
}

/// The `q`-quantile (0..=1) of sorted latencies, in milliseconds.
fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[index]) / 1000.0
}

/// Probes, runs and summarises one phase, printing its errors.
async fn measure_phase(
    addr: SocketAddr,
    server_pid: u32,
    phase: &Phase,
    args: &Args,
    seed: u64,
    rss: &RssMonitor,
) -> PhaseResult {
    eprintln!(
        "phase {:<6} {} ({} connections, {} s)",
        phase.name, phase.about, args.connections, args.seconds
    );
    match probe_phase(addr, phase).await {
        Ok(Some(described)) => eprintln!("  probe: {described}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("  ERROR: probe failed, phase skipped: {e}");
            return PhaseResult::failed(phase.name);
        }
    }
    rss.reset_window();
    let duration = Duration::from_secs(args.seconds);
    let cpu = CpuWatch::start(server_pid);
    let (mut stats, elapsed) = run_phase(addr, phase, args.connections, duration, seed).await;
    let (client_cores, server_cores) = cpu.cores();
    stats.latencies_us.sort_unstable();
    if stats.errors > 0 {
        eprintln!("  ERROR: {} failed request(s), e.g.:", stats.errors);
        for sample in &stats.error_samples {
            eprintln!("    {sample}");
        }
    }
    PhaseResult {
        client_cores,
        server_cores,
        ..summarise(phase.name, &stats, elapsed, rss.window_anon_kib())
    }
}

/// A phase's figures from its connections' sorted latencies.
fn summarise(
    name: &'static str,
    stats: &ConnStats,
    elapsed: Duration,
    peak_rss_anon_kib: Option<u64>,
) -> PhaseResult {
    PhaseResult {
        name,
        ok: stats.latencies_us.len() as u64,
        errors: stats.errors,
        elapsed,
        p50_ms: percentile_ms(&stats.latencies_us, 0.50),
        p99_ms: percentile_ms(&stats.latencies_us, 0.99),
        peak_rss_anon_kib,
        client_cores: None,
        server_cores: None,
    }
}

/// The same phases run against etcd.
struct PeerReport {
    phases: Vec<PhaseResult>,
    peak_rss_kib: Option<u64>,
}

async fn against_etcd(args: &Args, ours: &[PhaseResult]) -> Result<PeerReport> {
    let etcd = peer::start().await?;
    let rss = RssMonitor::start(etcd.pid());
    eprintln!("peer: etcd on {} (pid {})", etcd.addr, etcd.pid());
    let what = Preload {
        addr: etcd.addr,
        count: args.preload,
        request: peer::preload_request,
        check: check_reply,
    };
    preload_with("peer preload", what, args.preload_connections).await?;
    let mut phases = Vec::new();
    for (name, phase) in peer::phases(args.preload) {
        if !ours.iter().any(|r| r.name == name) {
            continue;
        }
        eprintln!(
            "peer phase {name}: {} ({} connections, {} s)",
            phase.about, args.connections, args.seconds
        );
        if name != "put" {
            let mut conn = Connection::new(etcd.addr);
            let probe = conn
                .send(&(phase.next_request)(&mut RequestCtx {
                    conn: 0,
                    seq: 0,
                    rng: Rng::new(1),
                }))
                .await?;
            eprintln!("  probe: {}", peer::check_range(&probe.body)?);
        }
        let duration = Duration::from_secs(args.seconds);
        let cpu = CpuWatch::start(etcd.pid());
        let (mut stats, elapsed) =
            run_phase(etcd.addr, &phase, args.connections, duration, 11).await;
        let (client_cores, server_cores) = cpu.cores();
        stats.latencies_us.sort_unstable();
        phases.push(PhaseResult {
            client_cores,
            server_cores,
            ..summarise(name, &stats, elapsed, None)
        });
    }
    Ok(PeerReport {
        phases,
        peak_rss_kib: rss.peak_rss_anon_kib(),
    })
}

impl PeerReport {
    fn print(&self, ours: &[PhaseResult], our_peak_kib: Option<u64>) {
        let rate = |r: &PhaseResult| r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9);
        println!();
        println!(
            "{:<6} {:>12} {:>9} {:>9} {:>12} {:>9} {:>9} {:>10} {:>9} {:>9}",
            "vs etcd",
            "ours req/s",
            "p50 ms",
            "p99 ms",
            "etcd req/s",
            "p50 ms",
            "p99 ms",
            "ours/etcd",
            "ours CPU",
            "etcd CPU"
        );
        for theirs in &self.phases {
            let Some(mine) = ours.iter().find(|r| r.name == theirs.name) else {
                continue;
            };
            println!(
                "{:<7} {:>12.0} {:>9.3} {:>9.3} {:>12.0} {:>9.3} {:>9.3} {:>10.2} {:>9} {:>9}{}",
                theirs.name,
                rate(mine),
                mine.p50_ms,
                mine.p99_ms,
                rate(theirs),
                theirs.p50_ms,
                theirs.p99_ms,
                rate(mine) / rate(theirs).max(1e-9),
                cores(mine.server_cores),
                cores(theirs.server_cores),
                if theirs.errors > 0 {
                    format!("  ({} etcd errors)", theirs.errors)
                } else {
                    String::new()
                }
            );
        }
        println!(
            "peak RssAnon: ours {} MiB, etcd {} MiB",
            mib(our_peak_kib),
            mib(self.peak_rss_kib)
        );
    }
}

/// Latency of one client: GET and list on a single keep-alive connection,
/// watch delivery with one watcher and one writer.
struct OneConnection {
    get: PhaseResult,
    list: PhaseResult,
    watch: watch::WatchReport,
}

async fn one_connection(addr: SocketAddr, all: &[Phase], seconds: u64) -> Result<OneConnection> {
    let duration = Duration::from_secs(seconds);
    let one = |name: &'static str| {
        let phase = all
            .iter()
            .find(|p| p.name == name)
            .expect("get and list are phases");
        async move {
            let (mut stats, elapsed) = run_phase(addr, phase, 1, duration, 7).await;
            stats.latencies_us.sort_unstable();
            summarise(name, &stats, elapsed, None)
        }
    };
    let get = one("get").await;
    let list = one("list").await;
    let watch = watch::run(addr, 1, 1, seconds).await?;
    Ok(OneConnection { get, list, watch })
}

impl OneConnection {
    fn print(&self) {
        let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
        println!();
        for (r, target) in [(&self.get, None), (&self.list, Some(3.0))] {
            let rate = r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9);
            let goal = match target {
                Some(t) => format!(" (target p50 < {t} ms) {}", verdict(r.p50_ms < t)),
                None => String::new(),
            };
            println!(
                "one connection: {:<5} {rate:>8.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{goal}",
                r.name, r.p50_ms, r.p99_ms, r.errors
            );
        }
        let w = &self.watch;
        println!(
            "one connection: watch delivery at one writer ({} PUTs): p50 {:.2} ms, p99 {:.2} ms (target p99 < 10 ms) {}, missed {}",
            w.puts,
            w.p50_ms,
            w.p99_ms,
            verdict(w.p99_ms < 10.0),
            w.missing
        );
    }
}

// ---------------------------------------------------------------------------
// Preload
// ---------------------------------------------------------------------------

/// PUTs pods `0..count` over `connections` connections; stops at the first
/// rejected write.
async fn preload(addr: SocketAddr, count: u64, connections: usize) -> Result<()> {
    preload_with(
        "preload",
        Preload {
            addr,
            count,
            request: preload_request,
            check: check_write_reply,
        },
        connections,
    )
    .await
}

/// What a preload writes: `count` requests to `addr`, each checked.
#[derive(Clone, Copy)]
struct Preload {
    addr: SocketAddr,
    count: u64,
    request: fn(u64) -> Request,
    check: fn(&Response) -> Result<()>,
}

/// Sends `what`'s requests over `connections` connections, stopping at the
/// first refused one; `label` names the lines it prints.
async fn preload_with(label: &str, what: Preload, connections: usize) -> Result<()> {
    let count = what.count;
    if count == 0 {
        return Ok(());
    }
    eprintln!("{label}: {count} pods over {connections} connections");
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<JoinHandle<Result<()>>> = (0..connections.max(1))
        .map(|_| {
            let worker = PreloadWorker {
                what,
                next: next.clone(),
                done: done.clone(),
                bytes: bytes.clone(),
                abort: abort.clone(),
            };
            tokio::spawn(worker.run())
        })
        .collect();
    let mut first_error = None;
    for joined in futures::future::join_all(tasks).await {
        let result = joined
            .context(|| "preload task failed".to_string())
            .and_then(|r| r);
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        bail!(
            "preload failed after {} pods: {e}",
            done.load(Ordering::Relaxed)
        );
    }
    let secs = start.elapsed().as_secs_f64();
    let total_bytes = bytes.load(Ordering::Relaxed);
    println!(
        "{label}: {count} pods in {secs:.1} s = {:.0} pods/s, {:.1} MiB/s (avg body {} B)",
        count as f64 / secs,
        total_bytes as f64 / secs / MIB as f64,
        total_bytes / count
    );
    Ok(())
}

/// Shared cursor of the preload's connections.
struct PreloadWorker {
    what: Preload,
    next: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    abort: Arc<AtomicBool>,
}

impl PreloadWorker {
    async fn run(self) -> Result<()> {
        let Preload {
            addr,
            count,
            request,
            check,
        } = self.what;
        let mut client = Connection::new(addr);
        let step = (count / 10).max(1);
        while !self.abort.load(Ordering::Relaxed) {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                break;
            }
            let req = request(i);
            let size = req.body.as_ref().map_or(0, Vec::len) as u64;
            let outcome = client
                .send(&req)
                .await
                .and_then(|resp| check(&resp).context(|| format!("{} {}", req.method, req.path)));
            if let Err(e) = outcome {
                self.abort.store(true, Ordering::Relaxed);
                return Err(e);
            }
            self.bytes.fetch_add(size, Ordering::Relaxed);
            let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
            if done.is_multiple_of(step) {
                eprintln!("  preload {done}/{count}");
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

/// The running server; killed (and its data directory removed) on drop.
struct ServerGuard {
    child: Child,
    addr: SocketAddr,
    // Dropped after the child is killed (fields drop after `Drop::drop`).
    _data_dir: tempfile::TempDir,
}

impl ServerGuard {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!(
                "warning: could not kill server pid {}: {e}",
                self.child.id()
            );
        }
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context(|| "bind 127.0.0.1:0 to find a free port".to_string())?;
    let port = listener
        .local_addr()
        .context(|| "local address of probe listener".to_string())?
        .port();
    Ok(port)
}

/// What `BCS_STORAGE__STORAGE__SQLITE__PATH` is set to, given the data dir.
fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.to_path_buf()
}

/// Starts `<bin> serve` on a free port with a fresh SQLite directory.
fn spawn_server(bin: &Path, show_output: bool, log: &str) -> Result<ServerGuard> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let data_dir = tempfile::Builder::new()
        .prefix("bcs-storage-bench-")
        .tempdir()
        .context(|| "create temporary data directory".to_string())?;
    let output = || {
        if show_output {
            Stdio::inherit()
        } else {
            Stdio::null()
        }
    };
    let child = Command::new(bin)
        .arg("serve")
        .env("BCS_STORAGE__SERVER__LISTEN", addr.to_string())
        .env("BCS_STORAGE__STORAGE__BACKEND", "sqlite")
        .env(
            "BCS_STORAGE__STORAGE__SQLITE__PATH",
            sqlite_path(data_dir.path()),
        )
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(output())
        .stderr(output())
        .spawn()
        .context(|| {
            format!(
                "start {} serve (build it first: cargo build --release)",
                bin.display()
            )
        })?;
    Ok(ServerGuard {
        child,
        addr,
        _data_dir: data_dir,
    })
}

/// Polls `GET /healthz` until it answers 200, the server exits, or `timeout`.
async fn wait_healthy(server: &mut ServerGuard, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let request = Request::get("/healthz");
    let mut last_error = String::from("no attempt");
    while start.elapsed() < timeout {
        if let Some(status) = server
            .child
            .try_wait()
            .context(|| "check server process".to_string())?
        {
            bail!("server exited during startup with {status} (rerun with --show-server-output)");
        }
        let mut client = Connection::new(server.addr);
        match tokio::time::timeout(Duration::from_secs(2), client.send(&request)).await {
            Ok(Ok(resp)) if resp.status == 200 => return Ok(()),
            Ok(Ok(resp)) => last_error = format!("HTTP {}: {}", resp.status, resp.snippet()),
            Ok(Err(e)) => last_error = e.0,
            Err(_) => last_error = "timed out".to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("server not healthy after {timeout:?}: {last_error}")
}

// ---------------------------------------------------------------------------
// Server memory
// ---------------------------------------------------------------------------

const MIB: u64 = 1024 * 1024;
/// Marks "no sample yet" in the atomics.
const NO_SAMPLE: u64 = 0;

/// Peak memory of the server, sampled from `/proc/<pid>/status`.
struct RssMonitor {
    peaks: Arc<RssPeaks>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct RssPeaks {
    vm_rss_kib: AtomicU64,
    rss_anon_kib: AtomicU64,
    /// Peak RssAnon since the last [`RssMonitor::reset_window`].
    window_anon_kib: AtomicU64,
    samples: AtomicUsize,
}

impl RssMonitor {
    fn start(pid: u32) -> Self {
        let peaks = Arc::new(RssPeaks::default());
        let sampler = peaks.clone();
        let task = tokio::spawn(async move {
            let path = format!("/proc/{pid}/status");
            let mut tick = tokio::time::interval(RSS_SAMPLE_PERIOD);
            loop {
                tick.tick().await;
                let Ok(text) = std::fs::read_to_string(&path) else {
                    break; // process gone, or no /proc
                };
                sampler.record(&text);
            }
        });
        RssMonitor { peaks, task }
    }

    fn reset_window(&self) {
        self.peaks
            .window_anon_kib
            .store(NO_SAMPLE, Ordering::Relaxed);
    }

    fn window_anon_kib(&self) -> Option<u64> {
        some_sample(self.peaks.window_anon_kib.load(Ordering::Relaxed))
    }

    fn peak_vm_rss_kib(&self) -> Option<u64> {
        some_sample(self.peaks.vm_rss_kib.load(Ordering::Relaxed))
    }

    fn peak_rss_anon_kib(&self) -> Option<u64> {
        some_sample(self.peaks.rss_anon_kib.load(Ordering::Relaxed))
    }

    fn samples(&self) -> usize {
        self.peaks.samples.load(Ordering::Relaxed)
    }
}

impl Drop for RssMonitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RssPeaks {
    fn record(&self, status: &str) {
        if let Some(kib) = status_field_kib(status, "VmRSS:") {
            self.vm_rss_kib.fetch_max(kib, Ordering::Relaxed);
        }
        if let Some(kib) = status_field_kib(status, "RssAnon:") {
            self.rss_anon_kib.fetch_max(kib, Ordering::Relaxed);
            self.window_anon_kib.fetch_max(kib, Ordering::Relaxed);
        }
        self.samples.fetch_add(1, Ordering::Relaxed);
    }
}

fn some_sample(kib: u64) -> Option<u64> {
    (kib != NO_SAMPLE).then_some(kib)
}

/// Value of a `Name:   1234 kB` line of `/proc/<pid>/status`.
fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Milliseconds with three decimals, `-` when there was no sample.
fn ms(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "-".to_string()
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_string(),
        |k| format!("{:.1}", k as f64 / 1024.0),
    )
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

/// Prints the results table and memory peaks.
fn print_report(results: &[PhaseResult], args: &Args, rss: &RssMonitor) {
    let floor_rate = results
        .iter()
        .find(|r| r.name == "floor" && r.ok > 0)
        .map(PhaseResult::rate);
    println!();
    println!(
        "{:<8} {:>10} {:>7} {:>11} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10} {:>7} {:>7}",
        "phase",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "target",
        "verdict",
        "anon MiB",
        "client",
        "server"
    );
    for result in results {
        print_row(result, floor_rate, &args.targets);
    }
    println!();
    println!(
        "server peak VmRSS   {:>8} MiB ({} samples every {} ms)",
        mib(rss.peak_vm_rss_kib()),
        rss.samples(),
        RSS_SAMPLE_PERIOD.as_millis()
    );
    let anon = rss.peak_rss_anon_kib();
    let verdict = match anon {
        Some(kib) if kib as f64 / 1024.0 <= args.max_rss_anon_mib => "PASS",
        Some(_) => "FAIL",
        None => "n/a",
    };
    println!(
        "server peak RssAnon {:>8} MiB (target <= {} MiB) {verdict}",
        mib(anon),
        args.max_rss_anon_mib
    );
}

fn print_row(result: &PhaseResult, floor_rate: Option<f64>, targets: &[Target]) {
    let rate = result.rate();
    let ratio = floor_rate.filter(|f| *f > 0.0).map(|f| rate / f);
    let target = targets.iter().find(|t| t.phase == result.name);
    let verdict = match (ratio, target) {
        (_, _) if result.errors > 0 => "ERRORS",
        (Some(r), Some(t)) if r >= t.min_ratio => "PASS",
        (Some(_), Some(_)) => "FAIL",
        _ => "",
    };
    println!(
        "{:<8} {:>10} {:>7} {:>11.0} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10} {:>7} {:>7}",
        result.name,
        result.requests(),
        result.errors,
        rate,
        ms(result.p50_ms),
        ms(result.p99_ms),
        ratio.map_or_else(|| "-".to_string(), |r| format!("{r:.3}")),
        target.map_or_else(|| "-".to_string(), |t| format!("{}", t.min_ratio)),
        verdict,
        mib(result.peak_rss_anon_kib),
        cores(result.client_cores),
        cores(result.server_cores),
    );
}

/// CPU use as a share of one core (`140%` is 1.4 cores).
fn cores(used: Option<f64>) -> String {
    used.map_or_else(|| "n/a".to_string(), |c| format!("{:.0}%", c * 100.0))
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/// How a completed run went.
struct Outcome {
    any_phase_errors: bool,
}

async fn run(args: &Args) -> Result<Outcome> {
    let all_phases = build_phases(args.preload);
    // `watch` is not a request loop: it runs last, on its own.
    let with_watch = args.phases.iter().any(|p| p == "watch");
    // Nor are `kube-paged` (one client reading every pod page by page) and
    // `export` (one streamed export of every pod).
    let with_paged = args.phases.iter().any(|p| p == "kube-paged");
    let with_export = args.phases.iter().any(|p| p == "export");
    let with_one = args.phases.iter().any(|p| p == "one-connection");
    let names: Vec<String> = args
        .phases
        .iter()
        .filter(|p| {
            !matches!(
                p.as_str(),
                "watch" | "kube-paged" | "export" | "one-connection"
            )
        })
        .cloned()
        .collect();
    let phases = select_phases(&all_phases, &names)?;
    if args.preload == 0 && (with_one || phases.iter().any(|p| matches!(p.name, "get" | "list"))) {
        bail!("phases get, list and one-connection need --preload > 0");
    }
    let mut server = spawn_server(&args.server_bin, args.show_server_output, &args.server_log)?;
    let rss = RssMonitor::start(server.pid());
    let addr = server.addr;
    eprintln!(
        "server: {} serve on {addr} (pid {})",
        args.server_bin.display(),
        server.pid()
    );
    wait_healthy(&mut server, Duration::from_secs(args.startup_timeout)).await?;
    preload(addr, args.preload, args.preload_connections).await?;
    eprintln!(
        "server peak RssAnon so far: {} MiB",
        mib(rss.window_anon_kib())
    );

    let mut results = Vec::with_capacity(phases.len());
    for (index, phase) in phases.iter().enumerate() {
        let pid = server.pid();
        results.push(measure_phase(addr, pid, phase, args, index as u64 + 1, &rss).await);
    }
    let paged = if with_paged {
        eprintln!("phase kube-paged  every pod of the cluster through limit=500 / continue");
        rss.reset_window();
        Some(paged_list(addr, &rss).await?)
    } else {
        None
    };
    let exported = if with_export {
        eprintln!("phase export  every pod of the cluster through GET /v1/export/pods");
        rss.reset_window();
        Some(export_all(addr, &rss).await?)
    } else {
        None
    };
    let watch_report = if with_watch {
        eprintln!(
            "phase watch  {} watchers on the pods of one cluster while {} connections PUT new pods ({} s)",
            args.watchers, args.connections, args.seconds
        );
        rss.reset_window();
        Some(watch::run(addr, args.watchers, args.connections, args.seconds).await?)
    } else {
        None
    };
    let one = if with_one {
        eprintln!(
            "phase one-connection  GET and list-100 on one keep-alive connection, watch delivery at one writer ({} s each)",
            args.seconds
        );
        Some(one_connection(addr, &all_phases, args.seconds).await?)
    } else {
        None
    };
    let peer = match args.peer.as_deref() {
        None => None,
        Some("etcd") => Some(against_etcd(args, &results).await?),
        Some(other) => bail!("unknown peer {other:?} (etcd is the one known)"),
    };
    print_report(&results, args, &rss);
    let rate = |name: &str| {
        results
            .iter()
            .find(|r| r.name == name && r.ok > 0)
            .map(|r| r.ok as f64 / r.elapsed.as_secs_f64())
    };
    if let (Some(kube), Some(list)) = (rate("kube-list"), rate("list")) {
        let ratio = kube / list;
        println!(
            "kube-list / list: {ratio:.2} (target >= 0.8) {}",
            if ratio >= 0.8 { "PASS" } else { "MISS" }
        );
    }
    if let Some(p) = &paged {
        p.print(args.preload);
    }
    if let Some(e) = &exported {
        e.print(args.preload, args.max_rss_anon_mib);
    }
    if let Some(o) = &one {
        o.print();
    }
    if let Some(p) = &peer {
        p.print(&results, rss.peak_rss_anon_kib());
    }
    let watch_failed = match &watch_report {
        Some(w) => {
            w.print();
            w.missing > 0 || w.duplicates > 0 || w.gone > 0 || !w.errors.is_empty()
        }
        None => false,
    };
    drop(rss);
    drop(server);
    Ok(Outcome {
        any_phase_errors: results.iter().any(|r| r.errors > 0) || watch_failed,
    })
}

/// What the `export` phase saw.
struct ExportReport {
    pods: u64,
    errors: u64,
    bytes: usize,
    elapsed: Duration,
    peak_rss_anon_kib: Option<u64>,
}

impl ExportReport {
    fn print(&self, preload: u64, rss_target_mib: f64) {
        let secs = self.elapsed.as_secs_f64();
        let rss_ok = self
            .peak_rss_anon_kib
            .is_some_and(|k| k as f64 / 1024.0 <= rss_target_mib);
        let ok = self.pods >= preload && self.errors == 0 && rss_ok;
        println!(
            "export: {} pods ({} expected at least), {} error lines, {:.1} MiB in {:.2} s ({:.0} pods/s); server peak RssAnon {} MiB (target <= {} MiB) {}",
            self.pods,
            preload,
            self.errors,
            self.bytes as f64 / (1024.0 * 1024.0),
            secs,
            self.pods as f64 / secs.max(1e-9),
            mib(self.peak_rss_anon_kib),
            rss_target_mib,
            if ok { "PASS" } else { "MISS" },
        );
    }
}

/// Streams every pod through the export (seed 003) on one connection.
async fn export_all(addr: SocketAddr, rss: &RssMonitor) -> Result<ExportReport> {
    let mut client = Connection::new(addr);
    let start = Instant::now();
    let resp = client.send(&Request::get("/v1/export/pods")).await?;
    let elapsed = start.elapsed();
    if resp.status != 200 {
        bail!("HTTP {}: {}", resp.status, resp.snippet());
    }
    let (mut pods, mut errors) = (0u64, 0u64);
    for line in resp.body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if line.starts_with(b"{\"result\":{\"pod\":") {
            pods += 1;
        } else {
            errors += 1;
        }
    }
    Ok(ExportReport {
        pods,
        errors,
        bytes: resp.body.len(),
        elapsed,
        peak_rss_anon_kib: rss.window_anon_kib(),
    })
}

/// What the `kube-paged` phase saw.
struct PagedReport {
    items: u64,
    pages: u64,
    distinct: usize,
    elapsed: Duration,
    peak_rss_anon_kib: Option<u64>,
}

impl PagedReport {
    fn print(&self, preload: u64) {
        let secs = self.elapsed.as_secs_f64();
        // Earlier phases may have added pods: every preloaded one, none
        // twice, at the pace of 100k in 3 s.
        let rate = self.items as f64 / secs.max(1e-9);
        let ok = self.distinct as u64 >= preload
            && self.distinct as u64 == self.items
            && rate >= 100_000.0 / 3.0;
        println!(
            "kube-paged: {} pods ({} distinct, {} preloaded) in {} pages of 500 in {:.2} s ({:.0} pods/s; target: 100k in < 3 s) {}; server peak RssAnon {} MiB",
            self.items,
            self.distinct,
            preload,
            self.pages,
            secs,
            rate,
            if ok { "PASS" } else { "MISS" },
            mib(self.peak_rss_anon_kib),
        );
    }
}

#[derive(serde::Deserialize)]
struct PodPage {
    items: Vec<PageItem>,
    metadata: PageMeta,
}

#[derive(serde::Deserialize)]
struct PageItem {
    metadata: ItemMeta,
}

#[derive(serde::Deserialize)]
struct ItemMeta {
    name: String,
}

#[derive(serde::Deserialize)]
struct PageMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

/// Reads every pod of the benchmark cluster as kubectl does (`limit=500`,
/// then `continue` until there is none), on one connection.
async fn paged_list(addr: SocketAddr, rss: &RssMonitor) -> Result<PagedReport> {
    let mut client = Connection::new(addr);
    let mut token: Option<String> = None;
    let mut names = std::collections::HashSet::new();
    let (mut items, mut pages) = (0u64, 0u64);
    let start = Instant::now();
    loop {
        let mut path = format!("/clusters/{CLUSTER}/api/v1/pods?limit=500");
        if let Some(t) = &token {
            path.push_str("&continue=");
            path.push_str(t);
        }
        let asked = Instant::now();
        let resp = client
            .send(&Request::get(path).accepting("application/json"))
            .await?;
        let page_ms = asked.elapsed().as_secs_f64() * 1e3;
        check_reply(&resp)?;
        // Only names and the token are decoded: the client's time is not
        // what this phase measures.
        let page: PodPage =
            serde_json::from_slice(&resp.body).context(|| "reply is not a pod list".to_string())?;
        if pages == 0 || pages % 50 == 49 {
            eprintln!("  page {}: {page_ms:.1} ms", pages + 1);
        }
        pages += 1;
        for item in page.items {
            items += 1;
            names.insert(item.metadata.name);
        }
        match page.metadata.continue_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    Ok(PagedReport {
        items,
        pages,
        distinct: names.len(),
        elapsed: start.elapsed(),
        peak_rss_anon_kib: rss.window_anon_kib(),
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: cannot start the tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(outcome) if outcome.any_phase_errors => {
            eprintln!("bench: some phases had errors");
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(BASE_UNIX_SECS), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn result_flag_tolerates_whitespace() {
        assert_eq!(result_flag(br#"{"result":true}"#), Some(true));
        assert_eq!(result_flag(br#"{"result" : false}"#), Some(false));
        assert_eq!(result_flag(b"ok"), None);
    }

    #[test]
    fn chunk_sizes_are_hex_with_extensions() {
        assert_eq!(parse_chunk_size(b"1A").ok(), Some(26));
        assert_eq!(parse_chunk_size(b"ff;name=v").ok(), Some(255));
        assert!(parse_chunk_size(b"zz").is_err());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|v| v * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert!(percentile_ms(&[], 0.5).is_nan());
    }

    #[test]
    fn list_pairs_match_preloaded_pods() {
        for k in 0..NAMESPACES {
            let (namespace, app) = matching_list_pair(k);
            // Pod k is preloaded into ns-k with label app-(k % 50).
            assert_eq!(k % NAMESPACES, namespace);
            assert_eq!(k % APPS, app);
        }
    }

    #[test]
    fn pod_bodies_are_about_two_kib() {
        for i in [0, 1, 4_999, 99_999] {
            let body = pod_body(&format!("pod-{i}"), &namespace_of(i), i);
            assert!((1_800..2_600).contains(&body.len()), "{}", body.len());
            let value: Value = serde_json::from_slice(&body).expect("valid JSON");
            assert_eq!(value["data"]["status"]["hostIP"], host_ip(i));
        }
        assert_eq!(host_ip(499), "10.0.1.249");
    }
}
