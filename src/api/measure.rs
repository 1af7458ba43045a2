//! The request metrics of every route, and `GET /metrics`.
//!
//! A request is counted when its reply body is done (or dropped, when the
//! client leaves): the duration and size of a streamed list are the whole
//! stream's, as the Go service measured them.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use prometheus::IntGauge;

use crate::metrics::{global, status_class};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .route(web::get().to(scrape))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn scrape() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(global().render())
}

/// The `handler` label: the route pattern, never the raw path (a path
/// holds cluster ids and names without bound).
fn handler_of(req: &ServiceRequest) -> Cow<'static, str> {
    // The probes (scraped often) and the hot dynamic routes without the
    // router's pattern search.
    match req.path() {
        "/healthz" => return Cow::Borrowed("/healthz"),
        "/readyz" => return Cow::Borrowed("/readyz"),
        "/metrics" => return Cow::Borrowed("/metrics"),
        _ => {}
    }
    if let Some(p) = super::dynamic::pattern_of(req.path()) {
        return Cow::Borrowed(p);
    }
    // The Kubernetes views are caught by a few catch-all routes: their
    // label is the path's shape, as `/openapi.json` names it.
    if super::kube::is_kube_path(req.path())
        && let Some(k) = crate::domain::kube::path::pattern(req.path())
    {
        return Cow::Owned(k);
    }
    match req.match_pattern() {
        Some(p) => Cow::Owned(p),
        None => Cow::Borrowed("unmatched"),
    }
}

/// What the metrics of one request need when its body ends.
struct Pending {
    handler: Cow<'static, str>,
    method: actix_web::http::Method,
    status: u16,
    started: Instant,
    bytes: u64,
    inflight: IntGauge,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let m = global();
        let labels = [
            self.handler.as_ref(),
            self.method.as_str(),
            status_class(self.status),
        ];
        m.requests.with_label_values(&labels).inc();
        m.duration
            .with_label_values(&labels)
            .observe(self.started.elapsed().as_secs_f64());
        m.response_size
            .with_label_values(&labels)
            .observe(self.bytes as f64);
        self.inflight.dec();
    }
}

pin_project_lite::pin_project! {
    /// A reply body that counts its bytes and records the request when done.
    pub struct Measured<B> {
        #[pin]
        body: B,
        pending: Pending,
    }
}

impl<B: MessageBody> MessageBody for Measured<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = this.body.poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            this.pending.bytes += chunk.len() as u64;
        }
        next
    }
}

/// The middleware.
pub async fn measure<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<Measured<B>>, actix_web::Error> {
    let handler = handler_of(&req);
    let method = req.method().clone();
    let inflight = global()
        .inflight
        .with_label_values(&[handler.as_ref(), method.as_str()]);
    inflight.inc();
    let started = Instant::now();
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let pending = Pending {
        handler,
        method,
        status: status.as_u16(),
        started,
        bytes: 0,
        inflight,
    };
    match result {
        Ok(res) => Ok(res.map_body(|_, body| Measured { body, pending })),
        Err(e) => {
            drop(pending);
            Err(e)
        }
    }
}
