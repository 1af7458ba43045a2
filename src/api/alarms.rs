//! Alarms (reference D.3): `POST /alarms`, `GET /alarms`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::alarms;
use crate::domain::params::RawParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/alarms")
            .route(web::post().to(post))
            .route(web::get().to(list))
            .default_service(web::to(super::method_not_allowed)),
    );
}

async fn post(
    svc: web::Data<Service>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    alarms::post(&svc, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn list(svc: web::Data<Service>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let page = alarms::list(&svc, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_page(page))
}
