//! Host routes (reference B.7): `/host/{ip}` and `/host/clusters/{clusterId}`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::host::{self, Relation};
use crate::domain::params::RawParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/host/clusters/{clusterId}")
            .route(web::get().to(list))
            .route(web::put().to(set_cluster))
            .route(web::post().to(add_to_cluster))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/host/{ip}")
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(delete))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn get(svc: web::Data<Service>, ip: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let hosts = host::get(&svc, &ip)
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok_json_text(&hosts))
}

async fn put(
    svc: web::Data<Service>,
    req: HttpRequest,
    ip: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    host::put(&svc, &ip, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn delete(svc: web::Data<Service>, ip: web::Path<String>) -> Result<HttpResponse, ApiError> {
    host::delete(&svc, &ip)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn list(
    svc: web::Data<Service>,
    req: HttpRequest,
    cluster_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let items = host::list(&svc, &cluster_id, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_stream(items))
}

async fn relate(
    svc: web::Data<Service>,
    req: HttpRequest,
    cluster_id: web::Path<String>,
    payload: web::Payload,
    how: Relation,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    host::relate(&svc, &cluster_id, &body, how)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn set_cluster(
    svc: web::Data<Service>,
    req: HttpRequest,
    cluster_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    relate(svc, req, cluster_id, payload, Relation::Exactly).await
}

async fn add_to_cluster(
    svc: web::Data<Service>,
    req: HttpRequest,
    cluster_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    relate(svc, req, cluster_id, payload, Relation::Add).await
}
