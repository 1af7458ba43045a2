//! Settings: the shipped defaults in `conf/bcs-storage.toml`, an optional file,
//! then `BCS_STORAGE__SECTION__KEY` environment variables. Unknown keys and bad
//! values stop start-up with a message naming the key.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The shipped defaults, compiled in so a bare binary needs no file.
pub const DEFAULTS_TOML: &str = include_str!("../conf/bcs-storage.toml");

/// All settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub log: LogSettings,
    pub query: QuerySettings,
    pub retention: RetentionSettings,
    pub watch: WatchSettings,
    pub storage: StorageSettings,
    pub auth: AuthSettings,
}

/// `[auth]`: bearer tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The tokens file; empty turns authentication off.
    pub tokens_file: PathBuf,
}

impl AuthSettings {
    /// The tokens file, when authentication is on.
    pub fn tokens_file(&self) -> Option<&std::path::Path> {
        (!self.tokens_file.as_os_str().is_empty()).then_some(self.tokens_file.as_path())
    }
}

/// `[watch]`: the streaming watch routes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSettings {
    /// Changes a watcher may fall behind the newest before it is ended with
    /// a break (SQLite: the depth of the shared in-memory broadcast; MongoDB
    /// has none: each watcher reads its own change stream at its own pace
    /// and holds at most one batch).
    pub buffer_changes: usize,
    /// Milliseconds between bookmarks for watchers that ask for them.
    pub bookmark_interval_ms: u64,
    /// Milliseconds of silence after which an open watch stream gets a bare
    /// newline: writing is how a client that left is noticed (within two
    /// intervals), and it keeps proxies from closing idle streams.
    pub heartbeat_ms: u64,
    /// Most watch streams open at once (bcs and Kubernetes watches); past
    /// it a watch is refused with 503 and `Retry-After`.
    pub max_open: usize,
}

/// `[retention]`: the background cleaner of events and alarms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Seconds between runs; 0 disables the cleaner.
    pub interval_secs: u64,
    /// Events older than this many days (by eventTime) are removed.
    pub event_max_day: u64,
    /// Alarms older than this many days (by receivedTime) are removed.
    pub alarm_max_day: u64,
    /// At most this many alarms are kept (the newest).
    pub alarm_max_cap: u64,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Answer envelope replies with HTTP 200 whatever the outcome.
    pub always_http_200: bool,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    /// Grace period on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Milliseconds between the start of a shutdown (when `/readyz` turns
    /// 503) and the end of accepting requests.
    pub shutdown_drain_ms: u64,
    /// Longest wait for the reply of a request that does not stream.
    pub request_timeout_secs: u64,
    pub tls: TlsSettings,
}

/// `[server.tls]`: HTTPS when `cert` and `key` are set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM CA certificates; when set, clients must present a certificate
    /// one of them signed.
    pub client_ca: PathBuf,
}

impl TlsSettings {
    /// The certificate and key files, when TLS is on.
    pub fn files(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        (!self.cert.as_os_str().is_empty()).then_some((self.cert.as_path(), self.key.as_path()))
    }

    /// The client CA file, when clients must present certificates.
    pub fn client_ca(&self) -> Option<&std::path::Path> {
        (!self.client_ca.as_os_str().is_empty()).then_some(self.client_ca.as_path())
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[query]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySettings {
    /// Page size when `limit` is absent or 0.
    pub default_limit: u64,
    /// Largest allowed `limit`.
    pub max_limit: u64,
    /// Most clusters one event query may name.
    pub max_clusters: usize,
    /// Zone of date-times written without one (`2017-09-13 19:40:30`), in
    /// query parameters and in stored documents: `UTC` or an offset `+08:00`.
    pub time_zone: TimeZone,
}

/// The zone of date-times written without one: a fixed offset (`UTC`, `Z`,
/// `±HH:MM`) or an IANA zone (`Asia/Shanghai`), whose offset depends on the
/// date (summer time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::Fixed(chrono::FixedOffset::east_opt(0).expect("zero offset"))
    }
}

impl TimeZone {
    /// The name the zone is written with: `UTC`, `+08:00`, `Asia/Shanghai`.
    pub fn name(&self) -> String {
        match self {
            TimeZone::Fixed(o) if o.local_minus_utc() == 0 => "UTC".to_owned(),
            TimeZone::Fixed(o) => o.to_string(),
            TimeZone::Named(tz) => tz.name().to_owned(),
        }
    }

    /// Unix milliseconds of a local date-time in this zone. A time that
    /// occurs twice (clocks set back) is the earlier instant; one that does
    /// not occur (clocks set forward) is read with the offset in force just
    /// before the change.
    pub fn utc_millis(&self, local: chrono::NaiveDateTime) -> Option<i64> {
        use chrono::{LocalResult, Offset, TimeZone as _};
        match self {
            TimeZone::Fixed(o) => {
                let utc = local - chrono::Duration::seconds(i64::from(o.local_minus_utc()));
                Some(utc.and_utc().timestamp_millis())
            }
            TimeZone::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => Some(t.timestamp_millis()),
                LocalResult::Ambiguous(a, b) => {
                    Some(a.timestamp_millis().min(b.timestamp_millis()))
                }
                LocalResult::None => {
                    let before = local.checked_sub_signed(chrono::Duration::hours(3))?;
                    let offset = tz.offset_from_local_datetime(&before).earliest()?.fix();
                    let utc =
                        local - chrono::Duration::seconds(i64::from(offset.local_minus_utc()));
                    Some(utc.and_utc().timestamp_millis())
                }
            },
        }
    }
}

impl std::str::FromStr for TimeZone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(TimeZone::default());
        }
        let bad = || {
            format!("{s:?} is not UTC, an offset like +08:00 or an IANA zone like Asia/Shanghai")
        };
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => {
                return t
                    .parse::<chrono_tz::Tz>()
                    .map(TimeZone::Named)
                    .map_err(|_| bad());
            }
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
            return Err(bad());
        }
        chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(TimeZone::Fixed)
            .ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub backend: Backend,
    pub sqlite: SqliteSettings,
    pub mongodb: MongoSettings,
}

/// Storage backend.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Mongodb,
}

/// `[storage.sqlite]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteSettings {
    /// Data directory (created if missing).
    pub path: PathBuf,
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Size of the read connection pool.
    pub read_connections: usize,
    /// `PRAGMA mmap_size` in bytes.
    pub mmap_size: u64,
    /// Most writes per group commit.
    pub max_batch: usize,
    /// Changes kept in the change log.
    pub change_log_retain: u64,
}

/// SQLite `synchronous` mode.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

/// `[storage.mongodb]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MongoSettings {
    pub uri: String,
    pub write_concern: String,
    pub journal: bool,
    pub max_pool_size: u32,
    pub min_pool_size: u32,
    pub connect_timeout_ms: u64,
    pub server_selection_timeout_ms: u64,
    pub purge_interval_secs: u64,
    pub purge_after_secs: u64,
    pub databases: MongoDatabases,
}

/// Database names per logical database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MongoDatabases {
    pub dynamic: String,
    pub event: String,
    pub alarm: String,
    pub metric: String,
    pub watch: String,
    pub host: String,
    pub cluster_config: String,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`] with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        use config::{Config, File, FileFormat};
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULTS_TOML, FileFormat::Toml));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} not found",
                    path.display()
                )));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        let env_map: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("BCS_STORAGE__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("BCS_STORAGE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env_map)),
        );
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if self.query.default_limit == 0 {
            return bad("query.default_limit", "must be at least 1");
        }
        if self.query.max_limit < self.query.default_limit {
            return bad("query.max_limit", "must not be below query.default_limit");
        }
        let tls = &self.server.tls;
        if tls.cert.as_os_str().is_empty() != tls.key.as_os_str().is_empty() {
            return bad("server.tls", "cert and key are set together");
        }
        if tls.client_ca().is_some() && tls.files().is_none() {
            return bad("server.tls.client_ca", "needs server.tls.cert and key");
        }
        if self.server.request_timeout_secs == 0 {
            return bad("server.request_timeout_secs", "must be at least 1");
        }
        if self.server.shutdown_drain_ms / 1000 >= self.server.shutdown_timeout_secs.max(1) {
            return bad(
                "server.shutdown_drain_ms",
                "must be shorter than server.shutdown_timeout_secs",
            );
        }
        if self.query.max_clusters == 0 {
            return bad("query.max_clusters", "must be at least 1");
        }
        if self.server.max_body_bytes < 1024 {
            return bad("server.max_body_bytes", "must be at least 1024");
        }
        if self.storage.sqlite.read_connections == 0 {
            return bad("storage.sqlite.read_connections", "must be at least 1");
        }
        if self.storage.sqlite.max_batch == 0 {
            return bad("storage.sqlite.max_batch", "must be at least 1");
        }
        if self.watch.buffer_changes == 0 {
            return bad("watch.buffer_changes", "must be at least 1");
        }
        if self.watch.max_open == 0 {
            return bad("watch.max_open", "must be at least 1");
        }
        if self.watch.heartbeat_ms == 0 {
            return bad("watch.heartbeat_ms", "must be at least 1");
        }
        if self.watch.bookmark_interval_ms == 0 {
            return bad("watch.bookmark_interval_ms", "must be at least 1");
        }
        if self.storage.sqlite.change_log_retain == 0 {
            return bad("storage.sqlite.change_log_retain", "must be at least 1");
        }
        if self.storage.mongodb.max_pool_size == 0 {
            return bad("storage.mongodb.max_pool_size", "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shipped_file_loads_with_documented_defaults() {
        let s = Settings::load_from(None, env(&[])).expect("shipped defaults load");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.storage.backend, Backend::Sqlite);
        assert_eq!(s.storage.sqlite.path, PathBuf::from("./data"));
        assert_eq!(s.storage.sqlite.synchronous, Synchronous::Full);
        assert_eq!(s.server.max_body_bytes, 3 * 1024 * 1024);
        // Go clients check for HTTP 200 before they read `code`.
        assert!(s.server.always_http_200);
        assert_eq!(s.query.default_limit, 3000);
        assert_eq!(s.storage.mongodb.databases.dynamic, "dynamic");
        // The file on disk is the one compiled in.
        let on_disk = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/conf/bcs-storage.toml"
        ));
        assert_eq!(on_disk.ok().as_deref(), Some(DEFAULTS_TOML));
    }

    #[test]
    fn environment_overrides_by_section_and_key() {
        let s = Settings::load_from(
            None,
            env(&[
                ("BCS_STORAGE__SERVER__LISTEN", "0.0.0.0:9090"),
                ("BCS_STORAGE__STORAGE__BACKEND", "mongodb"),
                ("BCS_STORAGE__STORAGE__SQLITE__PATH", "/tmp/x"),
                ("BCS_STORAGE__SERVER__ALWAYS_HTTP_200", "false"),
                ("BCS_STORAGE__STORAGE__MONGODB__URI", "mongodb://h:1/"),
            ]),
        )
        .expect("overrides load");
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:9090");
        assert_eq!(s.storage.backend, Backend::Mongodb);
        assert_eq!(s.storage.sqlite.path, PathBuf::from("/tmp/x"));
        assert!(!s.server.always_http_200);
        assert_eq!(s.storage.mongodb.uri, "mongodb://h:1/");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Settings::load_from(None, env(&[("BCS_STORAGE__STORAGE__BACKEND", "oracle")]))
            .expect_err("unknown backend is rejected");
        assert!(e.to_string().contains("backend"), "{e}");
        let e = Settings::load_from(None, env(&[("BCS_STORAGE__QUERY__DEFAULT_LIMIT", "lots")]))
            .expect_err("non-numeric limit is rejected");
        assert!(e.to_string().contains("default_limit"), "{e}");
        let e = Settings::load_from(None, env(&[("BCS_STORAGE__SERVER__LISTEN", "nowhere")]))
            .expect_err("bad address is rejected");
        assert!(e.to_string().contains("listen"), "{e}");
        let e = Settings::load_from(
            None,
            env(&[("BCS_STORAGE__QUERY__TIME_ZONE", "Mars/Olympus")]),
        )
        .expect_err("unknown zone is rejected");
        assert!(e.to_string().contains("time_zone"), "{e}");
        let s = Settings::load_from(
            None,
            env(&[("BCS_STORAGE__QUERY__TIME_ZONE", "Asia/Shanghai")]),
        )
        .expect("IANA zone");
        assert_eq!(s.query.time_zone.name(), "Asia/Shanghai");
        for (pairs, key) in [
            (
                &[("BCS_STORAGE__SERVER__TLS__CERT", "/c.pem")][..],
                "server.tls",
            ),
            (
                &[("BCS_STORAGE__SERVER__TLS__CLIENT_CA", "/ca.pem")][..],
                "server.tls.client_ca",
            ),
            (
                &[("BCS_STORAGE__WATCH__MAX_OPEN", "0")][..],
                "watch.max_open",
            ),
            (
                &[("BCS_STORAGE__SERVER__REQUEST_TIMEOUT_SECS", "0")][..],
                "server.request_timeout_secs",
            ),
            (
                &[("BCS_STORAGE__SERVER__SHUTDOWN_DRAIN_MS", "60000")][..],
                "server.shutdown_drain_ms",
            ),
        ] {
            let e = Settings::load_from(None, env(pairs)).expect_err("refused");
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn tls_files_that_do_not_load_stop_start_up_naming_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").expect("write");
        let tls = TlsSettings {
            cert: cert.clone(),
            key: dir.path().join("missing.pem"),
            client_ca: PathBuf::new(),
        };
        let e = crate::tls::server_config(&tls).expect_err("refused");
        assert!(e.contains("server.tls.cert"), "{e}");
    }

    #[test]
    fn a_config_file_overrides_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "[query]\ndefault_limit = 10\n").expect("write");
        let s = Settings::load_from(Some(&good), env(&[])).expect("file loads");
        assert_eq!(s.query.default_limit, 10);
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[query]\ndefault_limt = 10\n").expect("write");
        let e = Settings::load_from(Some(&bad), env(&[])).expect_err("typo is refused");
        assert!(e.to_string().contains("default_limt"), "{e}");
    }
}
