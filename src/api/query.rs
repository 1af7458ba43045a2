//! Query routes (reference B.2): `GET` and `POST`
//! `/query/{k8s|mesos}/dynamic/clusters/{clusterId}/{kind}`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::envelope;
use super::error::{ApiError, ErrorKind, Op};
use crate::domain::Service;
use crate::domain::params::RawParams;
use crate::domain::query::{self, Env, QueryReply, find_kind};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/query/{env}/dynamic/clusters/{clusterId}/{kind}")
            .route(web::get().to(handle))
            .route(web::post().to(handle))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn handle(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (env, cluster_id, kind_name) = path.into_inner();
    let env = match env.as_str() {
        "k8s" => Env::K8s,
        "mesos" => Env::Mesos,
        _ => return super::route_not_found(req).await,
    };
    let Some(kind) = find_kind(env, &kind_name) else {
        return Err(ApiError::new(
            ErrorKind::RouteNotFound,
            format!("no query route for {} kind {kind_name:?}", env.as_str()),
        ));
    };
    let raw = if req.method() == Method::POST {
        let body = super::read_body(&req, payload).await?;
        query::body_params(&body).map_err(|e| ApiError::from_domain(Op::List, e))?
    } else {
        RawParams::parse(req.query_string())
    };
    match query::query(&svc, kind, &cluster_id, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?
    {
        QueryReply::Documents(items) => Ok(envelope::ok_stream(items)),
        QueryReply::Namespaces(names) => Ok(envelope::ok(&Value::from(names))),
    }
}
