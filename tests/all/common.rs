//! Test helpers: isolated stores per test (SQLite always, MongoDB when
//! `BCS_STORAGE_TEST_MONGODB_URI` is set) and the real app around them.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::test;
use bcs_storage::api::{HttpSettings, create_app};
use bcs_storage::config::Settings;
use bcs_storage::domain::watch::WatchHub;
use bcs_storage::domain::{Service, SystemClock};
use bcs_storage::store::{self, Store};
use serde_json::Value;

/// Environment variable naming the MongoDB test server.
pub const MONGO_ENV: &str = "BCS_STORAGE_TEST_MONGODB_URI";

/// A clock that always answers the same instant.
pub struct FixedClock(pub chrono::DateTime<chrono::Utc>);

impl bcs_storage::clock::Clock for FixedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

/// Which backend a test store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mongo,
}

/// Set to `required` (scripts/test.sh does, unless told to skip) to make
/// every test that would run on MongoDB fail when no MongoDB is configured,
/// instead of passing on SQLite alone.
pub const MONGO_REQUIRED_ENV: &str = "BCS_STORAGE_TEST_MONGODB";

/// The backends to test: SQLite always, MongoDB when configured.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if std::env::var(MONGO_ENV).is_ok_and(|v| !v.is_empty()) {
        b.push(Backend::Mongo);
    } else if std::env::var(MONGO_REQUIRED_ENV).is_ok_and(|v| v == "required") {
        panic!(
            "{MONGO_REQUIRED_ENV}=required but {MONGO_ENV} is not set: the MongoDB half cannot run"
        );
    }
    b
}

/// A store of its own for one test; the SQLite directory lives as long as this.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub settings: Settings,
    pub backend: Backend,
    /// Shared by every service of this store (open watches, shutdown).
    pub hub: Arc<WatchHub>,
    _dir: tempfile::TempDir,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Default settings (no environment), adjusted by `f`.
pub fn settings_with(f: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::load_from(None, Vec::new()).expect("shipped defaults load");
    f(&mut s);
    s
}

impl TestStore {
    pub async fn new(backend: Backend) -> TestStore {
        Self::with_settings(backend, |_| {}).await
    }

    pub async fn with_settings(backend: Backend, f: impl FnOnce(&mut Settings)) -> TestStore {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let unique = format!(
            "t{}_{}_{n}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros() % 1_000_000_000
        );
        let settings = settings_with(|s| {
            s.storage.sqlite.path = dir.path().to_path_buf();
            s.storage.sqlite.synchronous = bcs_storage::config::Synchronous::Normal;
            s.storage.sqlite.read_connections = 2;
            // Tests read real statuses; the Go-client tests (go_wire) and the
            // tests of the shipped default set it back to true.
            s.server.always_http_200 = false;
            if backend == Backend::Mongo {
                s.storage.backend = bcs_storage::config::Backend::Mongodb;
                s.storage.mongodb.uri = std::env::var(MONGO_ENV).expect("mongo uri");
                s.storage.mongodb.server_selection_timeout_ms = 5000;
                let d = &mut s.storage.mongodb.databases;
                d.dynamic = format!("{unique}_dynamic");
                d.event = format!("{unique}_event");
                d.alarm = format!("{unique}_alarm");
                d.metric = format!("{unique}_metric");
                d.watch = format!("{unique}_watch");
                d.host = format!("{unique}_host");
                d.cluster_config = format!("{unique}_cc");
            }
            f(s);
        });
        let store = store::open(&settings, Arc::new(SystemClock))
            .await
            .expect("store opens");
        bcs_storage::domain::prepare(store.as_ref())
            .await
            .expect("query indexes");
        TestStore {
            store,
            hub: WatchHub::new(settings.watch.clone()),
            settings,
            backend,
            _dir: dir,
        }
    }

    /// A collection of this store's MongoDB database `db`, read and written
    /// directly (as another service would have written it).
    pub async fn mongo_collection(
        &self,
        db: bcs_storage::model::Database,
        name: &str,
    ) -> mongodb::Collection<bson::Document> {
        let m = &self.settings.storage.mongodb;
        let db_name = bcs_storage::store::mongo::database_name(&m.databases, db);
        let client = mongodb::Client::with_uri_str(&m.uri).await.expect("client");
        client.database(db_name).collection(name)
    }

    pub fn service(&self) -> Service {
        Service {
            store: self.store.clone(),
            clock: Arc::new(SystemClock),
            limits: self.settings.query.clone(),
            watch: self.hub.clone(),
            times: Arc::new(bcs_storage::domain::timefill::TimeFill::new(
                &self.settings.query.time_zone,
            )),
        }
    }
}

/// A reply read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
    pub content_type: String,
}

impl Reply {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-1)
    }
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn result(&self) -> bool {
        self.body["result"].as_bool().unwrap_or(false)
    }
    /// Asserts a success envelope.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.status, 200, "{}", self.raw);
        assert!(self.result(), "{}", self.raw);
        assert_eq!(self.code(), 0, "{}", self.raw);
        assert_eq!(self.message(), "success", "{}", self.raw);
        self
    }
    /// Asserts an error envelope with this status and code whose message
    /// mentions `needle`.
    #[track_caller]
    pub fn assert_err(&self, status: u16, code: i64, needle: &str) -> &Self {
        assert_eq!(self.status, status, "{}", self.raw);
        assert!(!self.result(), "{}", self.raw);
        assert_eq!(self.code(), code, "{}", self.raw);
        assert!(
            self.message().contains(needle),
            "message {:?} should mention {needle:?}",
            self.message()
        );
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        self
    }
}

/// The real application over a test store.
pub struct TestApp {
    pub store: TestStore,
    app: Box<dyn AppCall>,
}

trait AppCall {
    fn call<'a>(
        &'a self,
        req: actix_http::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ServiceResponse> + 'a>>;
}

struct Wrapped<S>(S);

impl<S, B> AppCall for Wrapped<S>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: MessageBody + 'static,
{
    fn call<'a>(
        &'a self,
        req: actix_http::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ServiceResponse> + 'a>> {
        Box::pin(async move {
            match self.0.call(req).await {
                Ok(res) => res.map_into_boxed_body(),
                Err(e) => panic!("service error escaped the app: {e}"),
            }
        })
    }
}

pub const V1: &str = "/bcsstorage/v1";
pub const V4: &str = "/bcsapi/v4/storage";
/// Both prefixes every route is served under.
pub const PREFIX_PAIR: [&str; 2] = [V1, V4];

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_settings(backend, |_| {}).await
    }

    pub async fn with_settings(backend: Backend, f: impl FnOnce(&mut Settings)) -> TestApp {
        let store = TestStore::with_settings(backend, f).await;
        let http = HttpSettings {
            max_body_bytes: store.settings.server.max_body_bytes,
            always_http_200: store.settings.server.always_http_200,
            tokens: None,
            request_timeout: std::time::Duration::from_secs(
                store.settings.server.request_timeout_secs,
            ),
        };
        let app = test::init_service(create_app(store.service(), http)).await;
        TestApp {
            store,
            app: Box::new(Wrapped(app)),
        }
    }

    /// Sends a request with an optional raw body.
    pub async fn send(&self, method: &str, uri: &str, body: Option<&[u8]>) -> Reply {
        self.send_with(method, uri, &[], body).await
    }

    /// Sends a request and reads the whole reply.
    async fn reply(&self, req: test::TestRequest) -> Reply {
        let res = self.app.call(req.to_request()).await;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = test::read_body(res).await;
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            raw,
            content_type,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send("GET", uri, None).await
    }

    /// A GET with request headers (`Accept` negotiation).
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.send_with("GET", uri, headers, None).await
    }

    /// A request with headers and an optional body.
    pub async fn send_with(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut req = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(uri);
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        if let Some(b) = body {
            req = req.set_payload(b.to_vec());
        }
        self.reply(req).await
    }
    /// Sends `body` as JSON.
    pub async fn send_json(&self, method: &str, uri: &str, body: &Value) -> Reply {
        self.send(method, uri, Some(body.to_string().as_bytes()))
            .await
    }
    pub async fn put_json(&self, uri: &str, body: &Value) -> Reply {
        self.send_json("PUT", uri, body).await
    }
    pub async fn delete(&self, uri: &str) -> Reply {
        self.send("DELETE", uri, None).await
    }
}

/// `/bcsapi/v4/storage/k8s/dynamic/namespace_resources/clusters/{c}/namespaces/{ns}`
pub fn ns_base(cluster: &str, ns: &str) -> String {
    format!("{V4}/k8s/dynamic/namespace_resources/clusters/{cluster}/namespaces/{ns}")
}

/// `/bcsapi/v4/storage/k8s/dynamic/cluster_resources/clusters/{c}`
pub fn cluster_base(cluster: &str) -> String {
    format!("{V4}/k8s/dynamic/cluster_resources/clusters/{cluster}")
}

/// Standard base64 of a JSON value (for `extra`), percent-encoded.
pub fn extra(v: &Value) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    form_urlencoded::byte_serialize(b.as_bytes()).collect()
}

/// An open watch stream read frame by frame (one JSON object per line).
pub struct Watch {
    pub status: u16,
    body: actix_web::body::BoxBody,
    buf: Vec<u8>,
    ended: bool,
    /// Bare newlines seen (sent on idle streams).
    pub heartbeats: u64,
}

impl TestApp {
    /// POSTs `body` to a watch route and returns the open stream. A reply
    /// that is not 200 is read whole: see [`Watch::envelope`].
    pub async fn watch(&self, uri: &str, body: &str) -> Watch {
        let req = test::TestRequest::post()
            .uri(uri)
            .set_payload(body.as_bytes().to_vec())
            .to_request();
        self.open_stream(req).await
    }

    /// Sends a request whose reply is read frame by frame.
    async fn open_stream(&self, req: actix_http::Request) -> Watch {
        let res = self.app.call(req).await;
        Watch {
            status: res.status().as_u16(),
            body: res.into_body(),
            buf: Vec::new(),
            ended: false,
            heartbeats: 0,
        }
    }
}

impl TestApp {
    /// GETs a streaming route (a Kubernetes watch) and returns the open
    /// stream.
    pub async fn watch_get(&self, uri: &str) -> Watch {
        let req = test::TestRequest::get().uri(uri).to_request();
        self.open_stream(req).await
    }
}

impl Watch {
    /// The next frame; None once the stream has ended. Fails the test when
    /// nothing arrives within 10 s.
    pub async fn next(&mut self) -> Option<Value> {
        match self.next_within(std::time::Duration::from_secs(10)).await {
            Ok(frame) => frame,
            Err(_) => panic!("no watch frame within 10 s"),
        }
    }

    /// The next frame, or `Err` when none arrives within `wait` (the stream
    /// stays usable).
    pub async fn next_within(
        &mut self,
        wait: std::time::Duration,
    ) -> Result<Option<Value>, tokio::time::error::Elapsed> {
        tokio::time::timeout(wait, self.read_frame()).await
    }

    async fn read_frame(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                if line == b"\n" {
                    // A heartbeat of an idle stream.
                    self.heartbeats += 1;
                    continue;
                }
                let v = serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!("bad frame {:?}: {e}", String::from_utf8_lossy(&line))
                });
                return Some(v);
            }
            if self.ended {
                assert!(
                    self.buf.is_empty(),
                    "unterminated frame: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
            let chunk =
                futures::future::poll_fn(|cx| std::pin::Pin::new(&mut self.body).poll_next(cx))
                    .await;
            match chunk {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(e)) => panic!("watch body failed: {e}"),
                None => self.ended = true,
            }
        }
    }

    /// Every remaining frame, up to the end of the stream.
    pub async fn rest(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(f) = self.next().await {
            out.push(f);
        }
        out
    }

    /// The whole reply as one JSON value (error envelopes).
    pub async fn envelope(mut self) -> Value {
        let mut all = Vec::new();
        loop {
            let chunk =
                futures::future::poll_fn(|cx| std::pin::Pin::new(&mut self.body).poll_next(cx))
                    .await;
            match chunk {
                Some(Ok(bytes)) => all.extend_from_slice(&bytes),
                _ => break,
            }
        }
        serde_json::from_slice(&all).unwrap_or(Value::Null)
    }
}
