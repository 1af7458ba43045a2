//! Metric routes (reference F) under `/metric`, and the cluster clean
//! (reference B.9) that sits beside them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::metric::{self, MetricPath};
use crate::domain::params::RawParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metric/clusters/{clusterId}/namespaces/{namespace}/{type}/{name}")
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(delete))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/metric/clusters/{clusterId}")
            .route(web::get().to(list))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/clusters/{clusterId}/data")
            .route(web::delete().to(clean))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/dynamic/clusters")
            .route(web::get().to(summaries))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/metric/clusters")
            .route(web::get().to(clusters))
            .default_service(web::to(super::method_not_allowed)),
    );
}

fn path_of(p: (String, String, String, String)) -> MetricPath {
    MetricPath {
        cluster_id: p.0,
        namespace: p.1,
        metric_type: p.2,
        name: p.3,
    }
}

async fn get(
    svc: web::Data<Service>,
    p: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let doc = metric::get(&svc, &path_of(p.into_inner()))
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok_json_text(&doc))
}

async fn put(
    svc: web::Data<Service>,
    req: HttpRequest,
    p: web::Path<(String, String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    metric::put(&svc, &path_of(p.into_inner()), &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn delete(
    svc: web::Data<Service>,
    p: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    metric::delete(&svc, &path_of(p.into_inner()))
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
    let items = metric::list(&svc, &cluster_id, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_stream(items))
}

/// `DELETE /clusters/{clusterId}/data` (cluster clean).
async fn clean(
    svc: web::Data<Service>,
    cluster_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let counts = crate::domain::cluster::clean(&svc, &cluster_id)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    Ok(envelope::ok(&counts))
}

/// `GET /dynamic/clusters`: every cluster with its count per resource type.
async fn summaries(svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let all = crate::domain::cluster::summaries(&svc)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok(&all))
}

async fn clusters(svc: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let names = metric::clusters(&svc)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok(&names))
}
