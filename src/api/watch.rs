//! Streaming watch routes (contract section 8, reference E.2): POST with a
//! `WatchOptions` body, answered with a chunked stream of event frames.

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::params::RawParams;
use crate::domain::watch::{self, Target, WatchOptions};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The containers route first: its path also fits the generic one.
    cfg.service(
        web::resource("/dynamic/watch/containers/{clusterId}")
            .route(web::post().to(containers))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/dynamic/watch/{clusterId}/{resourceType}")
            .route(web::post().to(dynamic))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/events/watch")
            .route(web::post().to(events))
            .default_service(web::to(super::method_not_allowed)),
    )
    .service(
        web::resource("/metric/watch/{clusterId}/{type}")
            .route(web::post().to(metric))
            .default_service(web::to(super::method_not_allowed)),
    );
}

fn refused(e: crate::domain::DomainError) -> ApiError {
    ApiError::from_domain(Op::Get, e)
}

async fn dynamic(
    svc: web::Data<Service>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (cluster_id, resource_type) = path.into_inner();
    let target = Target::dynamic(&cluster_id, &resource_type).map_err(refused)?;
    serve(&svc, target, &req, payload).await
}

async fn containers(
    svc: web::Data<Service>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let target = Target::containers(&path.into_inner()).map_err(refused)?;
    serve(&svc, target, &req, payload).await
}

async fn events(
    svc: web::Data<Service>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let cluster_id = raw
        .single("clusterId")
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    let target = Target::events(cluster_id).map_err(refused)?;
    serve(&svc, target, &req, payload).await
}

async fn metric(
    svc: web::Data<Service>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (cluster_id, metric_type) = path.into_inner();
    let target = Target::metric(&cluster_id, &metric_type).map_err(refused)?;
    serve(&svc, target, &req, payload).await
}

/// Reads the options and streams; an empty or invalid body gets the break
/// event alone, as from the running service.
async fn serve(
    svc: &Service,
    target: Target,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(req, payload).await?;
    let Some(opts) = WatchOptions::parse(&body) else {
        return Ok(streaming(watch::break_only()));
    };
    let frames = watch::open(svc, target, opts).await.map_err(refused)?;
    Ok(streaming(frames))
}

fn streaming(frames: impl Stream<Item = Bytes> + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(frames.map(Ok::<_, actix_web::Error>))
}
