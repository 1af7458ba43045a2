//! Prometheus metrics, served at `/metrics`.
//!
//! The request metrics keep the Go service's names and labels (its
//! go-http-metrics recorder with the `bkbcs_storage` prefix), so existing
//! dashboards and alerts work unchanged: `handler` is the route pattern
//! (never the raw path), `status` the status class (`2xx`, `4xx` ...). The
//! store metrics follow the Go driver's names on MongoDB
//! (`bkbcs_storage_driver_mongdb_total`, sic) and the same shape on SQLite.
//! Everything else is ours and named `bkbcs_storage_*`.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder, exponential_buckets,
};

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// `bkbcs_storage_api_request_total_num{handler,method,status}`.
    pub requests: IntCounterVec,
    /// `bkbcs_storage_api_request_duration_time{handler,method,status}`, seconds.
    pub duration: HistogramVec,
    /// `bkbcs_storage_api_response_size_bytes{handler,method,status}`.
    pub response_size: HistogramVec,
    /// `bkbcs_storage_api_requests_inflight{handler,method}`.
    pub inflight: IntGaugeVec,
    /// `bkbcs_storage_watch_request_total_num{handler,table}`: open watches.
    pub watches: IntGaugeVec,
    /// Store operations per backend: (count, latency) by `method`, `status`.
    mongo_ops: IntCounterVec,
    mongo_latency: HistogramVec,
    sqlite_ops: IntCounterVec,
    sqlite_latency: HistogramVec,
    /// Writes waiting for the SQLite writer.
    pub sqlite_queue: IntGauge,
    /// Writes per SQLite group commit.
    pub sqlite_batch: prometheus::Histogram,
    /// MongoDB connections checked out of the pool.
    pub mongo_pool_in_use: IntGauge,
    /// Documents the retention cleaner removed, by `kind`.
    pub retention_removed: IntCounterVec,
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid histogram")
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter")
}

impl Metrics {
    fn new() -> Metrics {
        let latency = || prometheus::DEFAULT_BUCKETS.to_vec();
        let store_latency =
            || exponential_buckets(0.000_05, 2.0, 18).expect("valid buckets (50 µs .. 6.5 s)");
        let m = Metrics {
            registry: Registry::new(),
            requests: counter(
                "bkbcs_storage_api_request_total_num",
                "The total number of requests to bcs-storage api",
                &["handler", "method", "status"],
            ),
            duration: histogram(
                "bkbcs_storage_api_request_duration_time",
                "The latency of the HTTP requests.",
                latency(),
                &["handler", "method", "status"],
            ),
            response_size: histogram(
                "bkbcs_storage_api_response_size_bytes",
                "The size of the HTTP responses.",
                exponential_buckets(100.0, 10.0, 8).expect("valid buckets"),
                &["handler", "method", "status"],
            ),
            inflight: IntGaugeVec::new(
                Opts::new(
                    "bkbcs_storage_api_requests_inflight",
                    "The number of inflight requests being handled at the same time.",
                ),
                &["handler", "method"],
            )
            .expect("valid gauge"),
            watches: IntGaugeVec::new(
                Opts::new(
                    "bkbcs_storage_watch_request_total_num",
                    "The number of open watch streams.",
                ),
                &["handler", "table"],
            )
            .expect("valid gauge"),
            mongo_ops: counter(
                "bkbcs_storage_driver_mongdb_total",
                "MongoDB operations by method and outcome.",
                &["method", "status"],
            ),
            mongo_latency: histogram(
                "bkbcs_storage_driver_mongodb_latency_seconds",
                "MongoDB operation latency.",
                store_latency(),
                &["method", "status"],
            ),
            sqlite_ops: counter(
                "bkbcs_storage_driver_sqlite_total",
                "SQLite operations by method and outcome.",
                &["method", "status"],
            ),
            sqlite_latency: histogram(
                "bkbcs_storage_driver_sqlite_latency_seconds",
                "SQLite operation latency.",
                store_latency(),
                &["method", "status"],
            ),
            sqlite_queue: IntGauge::new(
                "bkbcs_storage_sqlite_writer_queue_depth",
                "Writes waiting for the SQLite writer after it took a batch.",
            )
            .expect("valid gauge"),
            sqlite_batch: prometheus::Histogram::with_opts(
                HistogramOpts::new(
                    "bkbcs_storage_sqlite_commit_batch_size",
                    "Writes per SQLite group commit.",
                )
                .buckets(exponential_buckets(1.0, 2.0, 11).expect("valid buckets")),
            )
            .expect("valid histogram"),
            mongo_pool_in_use: IntGauge::new(
                "bkbcs_storage_mongodb_pool_connections_in_use",
                "MongoDB connections checked out of the pool.",
            )
            .expect("valid gauge"),
            retention_removed: counter(
                "bkbcs_storage_retention_removed_total",
                "Documents removed by the retention cleaner.",
                &["kind"],
            ),
        };
        let r = &m.registry;
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.requests.clone()),
            Box::new(m.duration.clone()),
            Box::new(m.response_size.clone()),
            Box::new(m.inflight.clone()),
            Box::new(m.watches.clone()),
            Box::new(m.mongo_ops.clone()),
            Box::new(m.mongo_latency.clone()),
            Box::new(m.sqlite_ops.clone()),
            Box::new(m.sqlite_latency.clone()),
            Box::new(m.sqlite_queue.clone()),
            Box::new(m.sqlite_batch.clone()),
            Box::new(m.mongo_pool_in_use.clone()),
            Box::new(m.retention_removed.clone()),
        ];
        for c in collectors {
            r.register(c).expect("unique metric names");
        }
        #[cfg(target_os = "linux")]
        if let Err(e) = r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            tracing::debug!(error = %e, "no process metrics");
        }
        m
    }

    /// The store operation metrics of a backend (`sqlite` or `mongodb`).
    pub fn store(&self, backend: &str) -> (&IntCounterVec, &HistogramVec) {
        if backend == "mongodb" {
            (&self.mongo_ops, &self.mongo_latency)
        } else {
            (&self.sqlite_ops, &self.sqlite_latency)
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The `status` label of an HTTP status: its class, as the Go service
/// groups them (`2xx`, `4xx` ...).
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// `bkbcs_storage_log_lines_dropped_total`: log lines dropped because the
/// log writer's queue was full, read from the writer at each scrape.
struct DroppedLogLines {
    from: crate::logwriter::BatchWriter,
    counter: prometheus::IntCounter,
}

impl prometheus::core::Collector for DroppedLogLines {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.counter.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let dropped = self.from.dropped();
        let shown = self.counter.get();
        if dropped > shown {
            self.counter.inc_by(dropped - shown);
        }
        self.counter.collect()
    }
}

/// Exports the count of log lines the log writer dropped.
pub fn watch_dropped_log_lines(from: crate::logwriter::BatchWriter) {
    let counter = prometheus::IntCounter::new(
        "bkbcs_storage_log_lines_dropped_total",
        "Log lines dropped because the log writer's queue was full",
    )
    .expect("valid counter");
    if let Err(e) = global()
        .registry
        .register(Box::new(DroppedLogLines { from, counter }))
    {
        tracing::debug!(error = %e, "dropped log lines not exported");
    }
}
