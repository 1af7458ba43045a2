//! The streaming export (seed 003): `GET /v1/export/{resource}`, NDJSON.
//! Errors before the first line are grpc-gateway `RuntimeError` bodies
//! with a real HTTP status; later ones are the stream's last line.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;

use crate::domain::export::{self, ExportRequest};
use crate::domain::params::RawParams;
use crate::domain::{DomainError, Service};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/export/{resource}")
            .route(web::get().to(handle))
            .default_service(web::to(|req: HttpRequest| async move {
                failure(
                    StatusCode::METHOD_NOT_ALLOWED,
                    12,
                    &format!(
                        "{} is not allowed here: the export is read with GET",
                        req.method()
                    ),
                )
            })),
    );
}

/// Whether a path is one of the export's.
pub(crate) fn is_export_path(path: &str) -> bool {
    path.starts_with("/v1/export/")
}

/// A grpc-gateway error body (`RuntimeError`).
pub(crate) fn failure(status: StatusCode, grpc: i32, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(
            json!({"error": message, "code": grpc, "message": message, "details": []}).to_string(),
        )
}

async fn handle(
    svc: web::Data<Service>,
    req: HttpRequest,
    resource: web::Path<String>,
) -> HttpResponse {
    let raw = RawParams::parse(req.query_string());
    let opened = match ExportRequest::parse(&resource, &raw) {
        Ok(r) => export::open(&svc, r).await,
        Err(e) => Err(e),
    };
    match opened {
        Ok(lines) => HttpResponse::Ok()
            .content_type("application/json")
            .streaming(lines.map(Ok::<Bytes, actix_web::Error>)),
        Err(DomainError::NotFound) => failure(
            StatusCode::NOT_FOUND,
            5,
            &format!(
                "no resource {:?} to export: use pods, a Kubernetes plural (deployments) or a \
                 stored resource type (Deployment)",
                resource.as_str()
            ),
        ),
        Err(DomainError::Store(e)) => {
            tracing::error!(error = %e, "an export cannot start");
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                14,
                "storage backend unavailable; retry later",
            )
        }
        Err(e) => failure(StatusCode::BAD_REQUEST, 3, &e.to_string()),
    }
}
