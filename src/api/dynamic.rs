//! Dynamic resource routes (reference B.1 #1-12) under `/{k8s|mesos}/dynamic`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::dynamic::{self, ResourcePath};
use crate::domain::params::RawParams;

const NS_ONE: &str = "/dynamic/namespace_resources/clusters/{clusterId}/namespaces/{namespace}/{resourceType}/{resourceName}";
const NS_LIST: &str =
    "/dynamic/namespace_resources/clusters/{clusterId}/namespaces/{namespace}/{resourceType}";
const CL_ONE: &str =
    "/dynamic/cluster_resources/clusters/{clusterId}/{resourceType}/{resourceName}";
const CL_LIST: &str = "/dynamic/cluster_resources/clusters/{clusterId}/{resourceType}";
const ALL_LIST: &str = "/dynamic/all_resources/clusters/{clusterId}/{resourceType}";

/// Both environments get literal routes: a regex segment would be evaluated
/// for every route on every request.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for env in ["/k8s", "/mesos"] {
        cfg.service(web::scope(env).configure(configure_env));
    }
}

fn configure_env(cfg: &mut web::ServiceConfig) {
    for one in [NS_ONE, CL_ONE] {
        cfg.service(
            web::resource(one)
                .route(web::get().to(get_resource))
                .route(web::put().to(put_resource))
                .route(web::delete().to(delete_resource))
                .default_service(web::to(super::method_not_allowed)),
        );
    }
    for list in [NS_LIST, CL_LIST, ALL_LIST] {
        cfg.service(
            web::resource(list)
                .route(web::get().to(list_resources))
                .route(web::delete().to(delete_resources))
                .default_service(web::to(super::method_not_allowed)),
        );
    }
}

/// Path parameters of every dynamic route.
#[derive(Debug, Deserialize)]
struct DynamicPathParams {
    #[serde(rename = "clusterId")]
    cluster_id: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(rename = "resourceName", default)]
    resource_name: Option<String>,
}

impl From<DynamicPathParams> for ResourcePath {
    fn from(p: DynamicPathParams) -> Self {
        ResourcePath {
            cluster_id: p.cluster_id,
            namespace: p.namespace,
            resource_type: p.resource_type,
            resource_name: p.resource_name,
        }
    }
}

async fn get_resource(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<DynamicPathParams>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let doc = dynamic::get_one(&svc, &path.into_inner().into(), &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok_json_text(&doc))
}

async fn put_resource(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<DynamicPathParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    dynamic::put(&svc, &path.into_inner().into(), &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn delete_resource(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<DynamicPathParams>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    dynamic::delete_one(&svc, &path.into_inner().into(), &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn list_resources(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<DynamicPathParams>,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let items = dynamic::list(&svc, &path.into_inner().into(), &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_stream(items))
}

async fn delete_resources(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<DynamicPathParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    let raw = RawParams::parse(req.query_string());
    let deleted = dynamic::delete_batch(&svc, &path.into_inner().into(), &raw, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    let mut extra = Map::new();
    extra.insert("total".into(), Value::from(deleted));
    Ok(envelope::ok_with(&Value::Null, &extra))
}
