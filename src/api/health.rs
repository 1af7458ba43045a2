//! Liveness and readiness probes, outside the API prefixes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::error::{ApiError, ErrorKind};
use crate::domain::Service;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(get_healthz))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(get_readyz))
            .default_service(web::to(super::method_not_allowed)),
    );
}

/// 200 while the process serves requests.
async fn get_healthz() -> HttpResponse {
    super::envelope::ok(&json!({"status": "ok"}))
}

/// 200 when the store answers within two seconds, else 503. Says whether
/// the time instants of stored documents are being derived again (after a
/// change of `query.time_zone`): until then some time-range queries miss
/// documents.
async fn get_readyz(svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    if svc.watch.draining() {
        return Err(ApiError::new(
            ErrorKind::NotReady,
            "shutting down: send requests elsewhere",
        ));
    }
    match tokio::time::timeout(Duration::from_secs(2), svc.store.ping()).await {
        Ok(Ok(())) => Ok(super::envelope::ok(
            &json!({"status": "ready", "backend": svc.store.name(), "watches": svc.watch.active(),
                    "timeZone": svc.times.status()}),
        )),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(
                ErrorKind::NotReady,
                "storage backend is not ready",
            ))
        }
        Err(_) => Err(ApiError::new(
            ErrorKind::NotReady,
            "storage backend did not answer in time",
        )),
    }
}
