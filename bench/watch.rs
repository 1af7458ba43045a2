//! The `watch` phase: `--watchers` streaming watches on the pods of one
//! cluster while `--connections` connections PUT new pods for `--seconds`.
//! Every PUT carries its sequence number and the time it was sent; each
//! watcher records which sequence numbers it received and how long after the
//! send. A watcher ended with a break (it fell too far behind) resumes from
//! the last resourceVersion it saw, as a client should. At the end every
//! watcher must have received every acknowledged PUT, exactly once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{BenchError, Connection, Request, Result, check_reply, percentile_ms};

const CLUSTER: &str = "BCS-K8S-WATCH";
const WATCH_PATH: &str = "/bcsapi/v4/storage/dynamic/watch/BCS-K8S-WATCH/Pod";

/// What one watcher saw.
#[derive(Default)]
struct Seen {
    /// Bit `seq` set when the add of pod `seq` arrived.
    got: Vec<u64>,
    duplicates: u64,
    /// Microseconds from send to receipt, per event.
    delays_us: Vec<u32>,
    /// When the last event arrived (microseconds after the base).
    last_us: u64,
    /// Streams ended with a break and resumed.
    resumes: u64,
    /// Resumes refused (410): events lost for good.
    gone: u64,
    errors: Vec<String>,
}

impl Seen {
    fn mark(&mut self, seq: u64) {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.got.len() <= word {
            self.got.resize(word + 1, 0);
        }
        if self.got[word] & (1 << bit) != 0 {
            self.duplicates += 1;
        }
        self.got[word] |= 1 << bit;
    }

    fn has(&self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        self.got.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }
}

/// The numbers of the phase.
pub struct WatchReport {
    pub watchers: usize,
    pub puts: u64,
    pub put_errors: u64,
    pub put_seconds: f64,
    pub delivered: u64,
    pub deliver_seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub missing: u64,
    pub duplicates: u64,
    pub resumes: u64,
    pub gone: u64,
    pub errors: Vec<String>,
}

impl WatchReport {
    pub fn print(&self) {
        println!();
        println!(
            "watch: {} watchers on one resource type, {} PUTs in {:.1} s ({:.0}/s, {} errors)",
            self.watchers,
            self.puts,
            self.put_seconds,
            self.puts as f64 / self.put_seconds.max(1e-9),
            self.put_errors
        );
        println!(
            "watch: {} events delivered in {:.1} s ({:.0} events/s); delay from PUT sent to event read: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.delivered,
            self.deliver_seconds,
            self.delivered as f64 / self.deliver_seconds.max(1e-9),
            self.p50_ms,
            self.p99_ms,
            self.max_ms
        );
        let verdict = if self.missing == 0 && self.duplicates == 0 && self.gone == 0 {
            "PASS"
        } else {
            "FAIL"
        };
        println!(
            "watch: missed {} (acknowledged PUTs some watcher never saw), duplicates {}, resumes after a break {}, resumes refused {} -> {verdict}",
            self.missing, self.duplicates, self.resumes, self.gone
        );
        for e in self.errors.iter().take(5) {
            println!("watch: error: {e}");
        }
    }
}

fn pod(seq: u64, sent_us: u64) -> Request {
    let name = format!("w-{seq}");
    let body = format!(
        concat!(
            r#"{{"data":{{"seq":{seq},"sentUs":{sent},"apiVersion":"v1","kind":"Pod","#,
            r#""metadata":{{"name":"{name}","namespace":"bench","labels":{{"app":"watch"}}}},"#,
            r#""spec":{{"nodeName":"node-{node:03}","containers":[{{"name":"app","image":"registry.example.com/bench/app:1.0"}}]}},"#,
            r#""status":{{"phase":"Running","hostIP":"10.0.0.{host}","podIP":"172.16.{a}.{b}"}}}}}}"#
        ),
        seq = seq,
        sent = sent_us,
        name = name,
        node = seq % 500,
        host = seq % 250,
        a = (seq / 250) % 250,
        b = seq % 250,
    );
    Request::put_json(
        format!(
            "/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{CLUSTER}/namespaces/bench/Pod/{name}"
        ),
        body.into_bytes(),
    )
}

/// The unsigned integer after `key` in `frame`.
fn number_after(frame: &[u8], key: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(frame, key)? + key.len();
    let digits = frame[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&frame[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// The top-level resourceVersion at the end of a frame.
fn revision_of(frame: &[u8]) -> Option<String> {
    let key = b"\"resourceVersion\":\"";
    let at = memchr::memmem::rfind(frame, key)? + key.len();
    let end = frame[at..].iter().position(|b| *b == b'"')?;
    Some(String::from_utf8_lossy(&frame[at..at + end]).into_owned())
}

/// Opens a watch; Ok(None) when the server answered 410.
async fn open(addr: SocketAddr, since: Option<&str>) -> Result<Option<BufReader<TcpStream>>> {
    // Bookmarks: the first frame names where the stream starts, so a
    // watcher ended before its first event still resumes without a gap.
    let body = match since {
        Some(rev) => format!("{{\"resourceVersion\":\"{rev}\",\"allowBookmarks\":true}}"),
        None => "{\"allowBookmarks\":true}".to_string(),
    };
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| BenchError(format!("watch connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    let head = format!(
        "POST {WATCH_PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| BenchError(format!("watch request: {e}")))?;
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .map_err(|e| BenchError(format!("watch status: {e}")))?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|e| BenchError(format!("watch headers: {e}")))?;
        if n == 0 || line == "\r\n" {
            break;
        }
    }
    match status {
        200 => Ok(Some(reader)),
        410 => Ok(None),
        other => Err(BenchError(format!("watch answered HTTP {other}"))),
    }
}

/// Reads one watcher's stream (resuming after breaks) until `done` says
/// every acknowledged PUT was sent and this watcher has them all, or the
/// deadline passes.
async fn follow(
    addr: SocketAddr,
    base: Instant,
    opened: Arc<AtomicUsize>,
    finish: Arc<tokio::sync::watch::Receiver<Option<(u64, Instant)>>>,
) -> Seen {
    let mut seen = Seen::default();
    let mut last: Option<String> = None;
    let mut first = true;
    let mut got = 0u64;
    'streams: loop {
        let reader = match open(addr, last.as_deref()).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                seen.gone += 1;
                return seen;
            }
            Err(e) => {
                seen.errors.push(e.0);
                return seen;
            }
        };
        if first {
            first = false;
            opened.fetch_add(1, Ordering::SeqCst);
        }
        let mut reader = reader;
        let mut pending: Vec<u8> = Vec::new();
        let mut size_line = Vec::new();
        loop {
            // Every acknowledged PUT arrived: done.
            if let Some((acked, deadline)) = *finish.borrow() {
                if got >= acked && (0..acked).all(|s| seen.has(s)) {
                    return seen;
                }
                if Instant::now() > deadline {
                    return seen;
                }
            }
            size_line.clear();
            let read = tokio::time::timeout(
                Duration::from_millis(500),
                reader.read_until(b'\n', &mut size_line),
            )
            .await;
            let n = match read {
                Err(_) => continue, // idle: look at `finish` again
                Ok(Err(e)) => {
                    seen.errors.push(format!("watch read: {e}"));
                    return seen;
                }
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                seen.resumes += 1;
                continue 'streams;
            }
            let text = String::from_utf8_lossy(&size_line);
            let size = match usize::from_str_radix(text.trim().split(';').next().unwrap_or(""), 16)
            {
                Ok(s) => s,
                Err(_) => {
                    seen.errors.push(format!("bad chunk size {text:?}"));
                    return seen;
                }
            };
            if size == 0 {
                seen.resumes += 1;
                continue 'streams;
            }
            let start = pending.len();
            pending.resize(start + size + 2, 0);
            if let Err(e) = reader.read_exact(&mut pending[start..]).await {
                seen.errors.push(format!("watch chunk: {e}"));
                return seen;
            }
            pending.truncate(start + size);
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let frame: Vec<u8> = pending.drain(..=i).collect();
                if frame.starts_with(b"{\"type\":-1") {
                    // Ended (fell behind): resume from the last revision.
                    seen.resumes += 1;
                    continue 'streams;
                }
                if frame.starts_with(b"{\"type\":5") {
                    last = revision_of(&frame).or(last);
                    continue;
                }
                if !frame.starts_with(b"{\"type\":1") {
                    continue;
                }
                let now_us = base.elapsed().as_micros() as u64;
                if let (Some(seq), Some(sent)) = (
                    number_after(&frame, b"\"seq\":"),
                    number_after(&frame, b"\"sentUs\":"),
                ) {
                    seen.mark(seq);
                    seen.last_us = now_us;
                    got += 1;
                    seen.delays_us
                        .push(u32::try_from(now_us.saturating_sub(sent)).unwrap_or(u32::MAX));
                }
                last = revision_of(&frame).or(last);
            }
        }
    }
}

/// Runs the phase.
pub async fn run(
    addr: SocketAddr,
    watchers: usize,
    connections: usize,
    seconds: u64,
) -> Result<WatchReport> {
    let base = Instant::now();
    let opened = Arc::new(AtomicUsize::new(0));
    let (finish_tx, finish_rx) = tokio::sync::watch::channel(None);
    let finish_rx = Arc::new(finish_rx);
    let mut tasks = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        tasks.push(tokio::spawn(follow(
            addr,
            base,
            opened.clone(),
            finish_rx.clone(),
        )));
    }
    let wait_open = Instant::now() + Duration::from_secs(30);
    while opened.load(Ordering::SeqCst) < watchers {
        if Instant::now() > wait_open {
            return Err(BenchError(format!(
                "only {} of {watchers} watches opened",
                opened.load(Ordering::SeqCst)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The writers: new pods, numbered from 0 without gaps among the
    // acknowledged ones (a failed PUT is counted and its number retired).
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let failed_seqs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let put_start = Instant::now();
    let deadline = put_start + Duration::from_secs(seconds);
    let writers: Vec<_> = (0..connections)
        .map(|_| {
            let (next, failed, failed_seqs) = (next.clone(), failed.clone(), failed_seqs.clone());
            tokio::spawn(async move {
                let mut conn = Connection::new(addr);
                while Instant::now() < deadline {
                    let seq = next.fetch_add(1, Ordering::SeqCst);
                    let sent = base.elapsed().as_micros() as u64;
                    let ok = match conn.send(&pod(seq, sent)).await {
                        Ok(resp) => check_reply(&resp).is_ok(),
                        Err(_) => false,
                    };
                    if !ok {
                        failed.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut f) = failed_seqs.lock() {
                            f.push(seq);
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        let _ = w.await;
    }
    let put_seconds = put_start.elapsed().as_secs_f64();
    let sent = next.load(Ordering::SeqCst);
    let failed_seqs: Vec<u64> = failed_seqs.lock().map(|f| f.clone()).unwrap_or_default();
    // Watchers finish once they have every PUT (failed ones may never come).
    let expected = sent - failed_seqs.len() as u64;
    let _ = finish_tx.send(Some((
        if failed_seqs.is_empty() {
            sent
        } else {
            u64::MAX
        },
        Instant::now() + Duration::from_secs(120),
    )));
    let mut delays = Vec::new();
    let mut last_us = 0u64;
    let mut report = WatchReport {
        watchers,
        puts: expected,
        put_errors: failed.load(Ordering::SeqCst),
        put_seconds,
        delivered: 0,
        deliver_seconds: 0.0,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        max_ms: f64::NAN,
        missing: 0,
        duplicates: 0,
        resumes: 0,
        gone: 0,
        errors: Vec::new(),
    };
    for t in tasks {
        let seen = match t.await {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(format!("watcher task: {e}"));
                continue;
            }
        };
        report.missing += (0..sent)
            .filter(|s| !failed_seqs.contains(s) && !seen.has(*s))
            .count() as u64;
        report.duplicates += seen.duplicates;
        report.resumes += seen.resumes;
        report.gone += seen.gone;
        report.delivered += seen.delays_us.len() as u64;
        last_us = last_us.max(seen.last_us);
        report.errors.extend(seen.errors);
        delays.extend(seen.delays_us);
    }
    let put_start_us = put_start.duration_since(base).as_micros() as u64;
    report.deliver_seconds = last_us.saturating_sub(put_start_us) as f64 / 1e6;
    delays.sort_unstable();
    report.p50_ms = percentile_ms(&delays, 0.50);
    report.p99_ms = percentile_ms(&delays, 0.99);
    report.max_ms = delays.last().map_or(f64::NAN, |d| f64::from(*d) / 1000.0);
    Ok(report)
}
