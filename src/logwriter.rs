//! The log's writer: formatted lines are appended to a shared buffer that
//! a thread of its own writes to stdout every [`FLUSH_EVERY`], so a request
//! neither waits on a `write` nor wakes another thread for its access-log
//! line (waking a writer thread per line cost as much as the write:
//! context switches were a sixth of the server's CPU on the floor phase).
//!
//! A buffer that reaches [`MAX_BUFFERED`] (stdout stuck) drops further
//! lines and counts them (`bkbcs_storage_log_lines_dropped_total`). A
//! `kill -9` loses at most the last [`FLUSH_EVERY`] of lines; dropping the
//! [`Flusher`] writes what is buffered.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How often buffered lines are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Bytes that may wait for the writer thread before lines are dropped.
pub const MAX_BUFFERED: usize = 16 << 20;

#[derive(Default)]
struct Shared {
    buf: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while appending leaves whole lines or a torn last one:
        // still worth writing.
        self.buf.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what is buffered; the buffer's memory is kept for reuse.
    fn flush_to(&self, out: &mut impl Write, spare: &mut Vec<u8>) {
        spare.clear();
        std::mem::swap(&mut *self.lock(), spare);
        if !spare.is_empty() {
            // Nowhere to report a failing stdout: the lines are lost.
            let _ = out.write_all(spare).and_then(|()| out.flush());
        }
    }
}

/// The `MakeWriter` of the tracing subscriber.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Writes the buffer out until dropped; dropping it writes the rest.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A writer into the buffer, and the thread that empties it into `out`.
pub fn batched(out: impl Write + Send + 'static) -> (BatchWriter, Flusher) {
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("bcs-storage-log".into())
            .spawn(move || {
                let mut out = out;
                let mut spare = Vec::new();
                while !shared.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(FLUSH_EVERY);
                    shared.flush_to(&mut out, &mut spare);
                }
                shared.flush_to(&mut out, &mut spare);
            })
            .ok()
    };
    (
        BatchWriter {
            shared: shared.clone(),
        },
        Flusher { shared, thread },
    )
}

impl BatchWriter {
    /// Lines dropped so far because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// One event's writer: the subscriber formats an event, then writes it
/// whole, so each write is a line (or a few) appended under the lock.
pub struct Append<'a> {
    shared: &'a Shared,
}

impl Write for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.shared.lock();
        if buf.len() + bytes.len() > MAX_BUFFERED {
            drop(buf);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            buf.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = Append<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Append {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_reach_the_output_in_order_and_the_rest_on_drop() {
        let sink = Sink::default();
        let (writer, flusher) = batched(sink.clone());
        use tracing_subscriber::fmt::MakeWriter;
        for i in 0..1000 {
            writeln!(writer.make_writer(), "line {i}").unwrap();
        }
        // Written by the thread within a few flush periods...
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !sink.0.lock().unwrap().ends_with(b"line 999\n") {
            assert!(std::time::Instant::now() < deadline, "not flushed");
            std::thread::sleep(Duration::from_millis(5));
        }
        // ... and what is left when the flusher goes.
        writeln!(writer.make_writer(), "last").unwrap();
        drop(flusher);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let want: String = (0..1000).map(|i| format!("line {i}\n")).collect::<String>() + "last\n";
        assert_eq!(text, want);
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn a_full_buffer_drops_lines_and_counts_them() {
        // An output that never takes anything: the thread is stopped first.
        let (writer, flusher) = batched(Sink::default());
        flusher.shared.stop.store(true, Ordering::Release);
        let big = vec![b'x'; MAX_BUFFERED / 4];
        use tracing_subscriber::fmt::MakeWriter;
        std::thread::sleep(FLUSH_EVERY * 3);
        for _ in 0..6 {
            writer.make_writer().write_all(&big).unwrap();
        }
        assert!(writer.shared.lock().len() <= MAX_BUFFERED);
        assert!(writer.dropped() >= 2, "{}", writer.dropped());
    }
}
