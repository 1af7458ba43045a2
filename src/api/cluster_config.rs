//! Cluster configuration routes (reference B.8) under `/cluster_config`.
//! The Go service registered `/cluster_config/clusters/{clusterId}/` with a
//! trailing slash; one trailing slash is dropped before routing, so both
//! spellings arrive here.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::cluster_config;
use crate::domain::params::RawParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/cluster_config/clusters/{clusterId}")
            .route(web::get().to(get_cluster))
            .route(web::put().to(put_cluster))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/cluster_config/services/{service}")
            .route(web::get().to(get_service))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/cluster_config/versions/{service}")
            .route(web::get().to(get_version))
            .route(web::put().to(put_version))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn get_cluster(
    svc: web::Data<Service>,
    req: HttpRequest,
    cluster_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let config = cluster_config::get_cluster(&svc, &cluster_id, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok(&config))
}

async fn put_cluster(
    svc: web::Data<Service>,
    req: HttpRequest,
    cluster_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    let raw = RawParams::parse(req.query_string());
    let config = cluster_config::put_cluster(&svc, &cluster_id, &raw, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&config))
}

async fn get_service(
    svc: web::Data<Service>,
    req: HttpRequest,
    service: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let config = cluster_config::get_service(&svc, &service, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok(&config))
}

async fn get_version(
    svc: web::Data<Service>,
    service: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let version = cluster_config::get_version(&svc, &service)
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok(&Value::String(version)))
}

async fn put_version(
    svc: web::Data<Service>,
    req: HttpRequest,
    service: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    cluster_config::put_version(&svc, &service, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}
