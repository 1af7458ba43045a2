//! Events (reference D.1-D.2): `PUT /events`, `GET /events`, `POST /events`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::events;
use crate::domain::params::RawParams;
use crate::domain::query::body_params;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events")
            .route(web::put().to(put))
            .route(web::get().to(list))
            .route(web::post().to(list))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn put(
    svc: web::Data<Service>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    events::put(&svc, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn list(
    svc: web::Data<Service>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let raw = if req.method() == Method::POST {
        let body = super::read_body(&req, payload).await?;
        body_params(&body).map_err(|e| ApiError::from_domain(Op::List, e))?
    } else {
        RawParams::parse(req.query_string())
    };
    let page = events::list(&svc, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    let mut extra = Map::new();
    extra.insert("total".into(), Value::from(page.total));
    extra.insert("pageSize".into(), Value::from(page.page_size));
    extra.insert("offset".into(), Value::from(page.offset));
    Ok(envelope::ok_stream_with(
        futures::stream::iter(page.items.into_iter().map(Ok)),
        extra,
    ))
}
