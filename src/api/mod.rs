//! HTTP: routes, extractors, the envelope and error mapping. Handlers parse
//! the wire, call one domain function and render; no business rules here.

mod alarms;
mod auth;
mod cluster_config;
mod custom;
mod dynamic;
pub mod envelope;
pub mod error;
mod events;
mod export;
mod health;
mod host;
pub mod kube;
mod measure;
mod metric;
pub mod openapi;
mod query;
mod ui;
mod watch;
mod watchkv;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use futures::StreamExt;

use crate::domain::Service;
pub use error::{ApiError, ErrorKind, Op};

/// The two prefixes every API route is served under.
pub const PREFIXES: [&str; 2] = ["/bcsstorage/v1", "/bcsapi/v4/storage"];

/// HTTP-level settings the handlers need.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    pub always_http_200: bool,
    /// Longest wait for the reply head of a request that does not stream.
    pub request_timeout: std::time::Duration,
    /// The accepted tokens; `None` when authentication is off.
    pub tokens: Option<std::sync::Arc<crate::auth::Tokens>>,
}

/// Builds the application: used by `main` and by every HTTP test.
pub fn create_app(
    svc: Service,
    http: HttpSettings,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let always_200 = http.always_http_200;
    let tokens = http.tokens.clone();
    let request_timeout = http.request_timeout;
    let mut app = App::new()
        .app_data(web::Data::new(svc))
        .app_data(web::Data::new(http))
        .wrap(from_fn(trim_trailing_slash))
        .wrap(from_fn(move |req: ServiceRequest, next: Next<_>| {
            deadline(req, next, request_timeout)
        }))
        .wrap(from_fn(move |req: ServiceRequest, next: Next<_>| {
            status_policy(req, next, always_200)
        }))
        // Refusals keep their 401/403 whatever `always_http_200` says.
        .wrap(from_fn(move |req: ServiceRequest, next: Next<_>| {
            auth::check(req, next, tokens.clone())
        }))
        .wrap(from_fn(measure::measure))
        .wrap(from_fn(access_log))
        .configure(health::configure)
        .configure(measure::configure)
        .configure(openapi::configure)
        .configure(kube::configure)
        .configure(export::configure)
        .configure(ui::configure);
    for prefix in PREFIXES {
        app = app.service(
            web::scope(prefix)
                .configure(watch::configure)
                .configure(dynamic::configure)
                .configure(query::configure)
                .configure(custom::configure)
                .configure(alarms::configure)
                .configure(watchkv::configure)
                .configure(metric::configure)
                .configure(events::configure)
                .configure(host::configure)
                .configure(cluster_config::configure),
        );
    }
    app.default_service(web::to(route_not_found))
}

/// `/events/` reaches the handler of `/events`, as it does in the Go
/// service: one trailing slash is dropped before routing. (Runs of slashes
/// are left alone: an empty segment inside a path is refused, not merged
/// into another route.)
async fn trim_trailing_slash(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = &path[..path.len() - 1];
        let target = match req.query_string() {
            "" => trimmed.to_owned(),
            q => format!("{trimmed}?{q}"),
        };
        let mut parts = req.head().uri.clone().into_parts();
        if let Ok(pq) = actix_web::http::uri::PathAndQuery::try_from(target) {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = actix_web::http::Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req).await
}

/// With `always_http_200`, envelope replies keep their code but answer 200
/// (health probes, the Kubernetes views and the export, which have no
/// envelope, keep their real status). Streamed replies to HTTP/1.0
/// clients are not chunked.
async fn status_policy(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    always_200: bool,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let probe = matches!(req.path(), "/healthz" | "/readyz")
        || kube::is_kube_path(req.path())
        || export::is_export_path(req.path())
        || ui::is_ui_path(req.path());
    let http10 = req.version() == actix_web::http::Version::HTTP_10;
    let mut res = next.call(req).await?;
    if always_200 && !probe && res.status() != StatusCode::OK {
        *res.response_mut().status_mut() = StatusCode::OK;
    }
    // HTTP/1.0 has no chunked encoding (actix would use it anyway): a
    // streamed reply to such a client ends by closing the connection.
    if http10 && matches!(res.response().body().size(), BodySize::Stream) {
        let head = res.response_mut().head_mut();
        head.no_chunking(true);
        head.set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(res)
}

/// A failure answered before (or instead of) a handler, in the dialect of
/// the route: the envelope with `kind`'s code, a Kubernetes `Status` with
/// `kube_reason`, or the export's grpc-gateway error with `grpc_code`.
pub(crate) fn failure_reply(
    path: &str,
    kind: ErrorKind,
    kube_reason: &'static str,
    grpc_code: i32,
    message: String,
) -> HttpResponse {
    let status = kind.code_and_status().1;
    if kube::is_kube_path(path) {
        kube::status_reply(&crate::domain::kube::Status {
            code: status.as_u16(),
            reason: kube_reason,
            message,
            details: None,
        })
    } else if export::is_export_path(path) {
        export::failure(status, grpc_code, &message)
    } else {
        actix_web::ResponseError::error_response(&ApiError::new(kind, message))
    }
}

/// Whether a request streams for as long as it likes (watches and the
/// export): the request timeout does not apply to it.
fn is_streaming(req: &ServiceRequest) -> bool {
    if matches!(
        *req.method(),
        actix_web::http::Method::PUT | actix_web::http::Method::DELETE
    ) {
        return false;
    }
    let path = req.path();
    if export::is_export_path(path) {
        return true;
    }
    if kube::is_kube_path(path) {
        return path.contains("/watch/")
            || req
                .query_string()
                .split('&')
                .any(|p| matches!(p, "watch=true" | "watch=1" | "watch=True"));
    }
    // The bcs watch routes (not the watch key/value routes `/{env}/watch/`).
    req.method() == actix_web::http::Method::POST
        && (path.contains("/dynamic/watch/")
            || path.contains("/metric/watch/")
            || path.ends_with("/events/watch"))
}

/// A request that did not finish in time, answered in its route's dialect.
#[derive(Debug)]
struct TimedOut {
    path: String,
    secs: u64,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request did not finish within {} s (server.request_timeout_secs); retry later",
            self.secs
        )
    }
}

impl actix_web::ResponseError for TimedOut {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        failure_reply(
            &self.path,
            ErrorKind::BackendUnavailable,
            "ServiceUnavailable",
            14,
            self.to_string(),
        )
    }
}

/// Answers 503 when a request that does not stream has no reply head
/// within `server.request_timeout_secs` (the store is slow or stuck). The
/// request is gone with the dropped future, so the answer is an error
/// (which keeps its real status whatever `always_http_200` says).
async fn deadline<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    limit: std::time::Duration,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if is_streaming(&req) {
        return next.call(req).await;
    }
    let path = req.path().to_owned();
    let method = req.method().clone();
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(%method, path, secs = limit.as_secs(), "request timed out");
            Err(TimedOut {
                path,
                secs: limit.as_secs(),
            }
            .into())
        }
    }
}

pub(crate) async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorKind::RouteNotFound,
        format!("no route {} {}", req.method(), req.path()),
    ))
}

/// The `default_service` of every resource: the path exists, the method not.
pub(crate) async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("method {} is not allowed on {}", req.method(), req.path()),
    ))
}

/// Reads the whole body, refusing more than `server.max_body_bytes`.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<bytes::Bytes, ApiError> {
    let limit = req
        .app_data::<web::Data<HttpSettings>>()
        .map(|s| s.max_body_bytes)
        .unwrap_or(3 * 1024 * 1024);
    let too_large = || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("request body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorKind::BadRequestData,
                format!("request body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// One access-log line per request, once its reply head is ready:
/// `method`, `target`, `status` and `us` (µs to the head; a streamed
/// list or watch goes on after it). A single event, not a span: a span per
/// request with its close event cost a quarter of the floor's throughput.
/// Off (nothing recorded) when `RUST_LOG` leaves out `info` for
/// `bcs_storage::access`. Failures are logged where they are classified.
async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !tracing::enabled!(target: "bcs_storage::access", tracing::Level::INFO) {
        return next.call(req).await;
    }
    let start = std::time::Instant::now();
    let method = req.method().clone();
    let target = req.uri().clone();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    tracing::info!(
        target: "bcs_storage::access",
        method = %method,
        target = %target,
        status = status.as_u16(),
        us = start.elapsed().as_micros() as u64,
        "request"
    );
    res
}
