//! Custom resources (reference B.1 #14-18) under `/dynamic/customresources`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::custom;
use crate::domain::params::RawParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/dynamic/customresources/{resourceType}")
            .route(web::get().to(list))
            .route(web::put().to(put))
            .route(web::delete().to(delete))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/dynamic/customresources/{resourceType}/index/{indexName}")
            .route(web::put().to(create_index))
            .route(web::delete().to(drop_index))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn list(
    svc: web::Data<Service>,
    req: HttpRequest,
    resource_type: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let page = custom::list(&svc, &resource_type, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_page(page))
}

async fn put(
    svc: web::Data<Service>,
    req: HttpRequest,
    resource_type: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    custom::put(&svc, &resource_type, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn delete(
    svc: web::Data<Service>,
    req: HttpRequest,
    resource_type: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let deleted = custom::delete(&svc, &resource_type, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    let mut extra = Map::new();
    extra.insert("total".into(), Value::from(deleted));
    Ok(envelope::ok_with(&Value::Null, &extra))
}

async fn create_index(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, name) = path.into_inner();
    let body = super::read_body(&req, payload).await?;
    custom::create_index(&svc, &resource_type, &name, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn drop_index(
    svc: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (resource_type, name) = path.into_inner();
    custom::drop_index(&svc, &resource_type, &name)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    Ok(envelope::ok(&Value::Null))
}
