//! Watch key/value routes (reference B.6) under `/{k8s|mesos}/watch`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::params::RawParams;
use crate::domain::watchkv::{self, WatchPath};

pub fn configure(cfg: &mut web::ServiceConfig) {
    for env in ["k8s", "mesos"] {
        cfg.service(
            web::resource(format!(
                "/{env}/watch/clusters/{{clusterId}}/namespaces/{{namespace}}/{{resourceType}}/{{resourceName}}"
            ))
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(delete))
            .default_service(web::to(super::method_not_allowed)),
        )
        .service(
            web::resource(format!(
                "/{env}/watch/clusters/{{clusterId}}/namespaces/{{namespace}}/{{resourceType}}"
            ))
            .route(web::get().to(list))
            .default_service(web::to(super::method_not_allowed)),
        );
    }
}

fn path_of(req: &HttpRequest) -> WatchPath {
    let m = req.match_info();
    let seg = |k: &str| m.get(k).unwrap_or_default().to_owned();
    // The route's pattern, not the path: a k8s namespace may be named
    // `mesos` and a resource type `watch`.
    let env = if req
        .match_pattern()
        .is_some_and(|p| p.contains("/mesos/watch/"))
    {
        "mesos"
    } else {
        "k8s"
    };
    WatchPath {
        env: env.to_owned(),
        cluster_id: seg("clusterId"),
        namespace: seg("namespace"),
        resource_type: seg("resourceType"),
        resource_name: m.get("resourceName").map(str::to_owned),
    }
}

async fn get(svc: web::Data<Service>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let data = watchkv::get(&svc, &path_of(&req))
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok(&data))
}

async fn put(
    svc: web::Data<Service>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    watchkv::put(&svc, &path_of(&req), &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn delete(svc: web::Data<Service>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    watchkv::delete(&svc, &path_of(&req))
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn list(svc: web::Data<Service>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let items = watchkv::list(&svc, &path_of(&req), &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok(&items))
}
