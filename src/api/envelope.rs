//! The `{result, code, message, data}` envelope, for whole replies and for
//! lists streamed item by item.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::{ApiError, Op};
use crate::domain::DomainError;

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    result: bool,
    code: i64,
    message: &'a str,
    data: &'a T,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a Map<String, Value>>,
}

/// A complete envelope reply.
pub fn reply<T: Serialize>(
    status: StatusCode,
    result: bool,
    code: i64,
    message: &str,
    data: &T,
    extra: Option<&Map<String, Value>>,
) -> HttpResponse {
    let body = serde_json::to_vec(&Envelope {
        result,
        code,
        message,
        data,
        extra,
    })
    .unwrap_or_else(|_| {
        br#"{"result":false,"code":1405081,"message":"reply could not be encoded","data":null}"#
            .to_vec()
    });
    HttpResponse::build(status)
        .content_type(ContentType::json())
        .body(body)
}

/// Success with `data`.
pub fn ok<T: Serialize>(data: &T) -> HttpResponse {
    reply(StatusCode::OK, true, 0, "success", data, None)
}

/// Success with `data` and extra top-level keys.
pub fn ok_with<T: Serialize>(data: &T, extra: &Map<String, Value>) -> HttpResponse {
    reply(StatusCode::OK, true, 0, "success", data, Some(extra))
}

/// The start of a success envelope, up to the value of `data`.
const OK_HEAD: &[u8] = br#"{"result":true,"code":0,"message":"success","data":"#;

/// Success whose `data` is JSON text already in wire form.
pub fn ok_json_text(data: &str) -> HttpResponse {
    let mut body = Vec::with_capacity(OK_HEAD.len() + data.len() + 1);
    body.extend_from_slice(OK_HEAD);
    body.extend_from_slice(data.as_bytes());
    body.push(b'}');
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

/// A success whose `data` array is streamed as the items (JSON text in wire
/// form) arrive. An error after the first byte can only end the connection
/// (the reply is then visibly truncated); it is logged.
pub fn ok_stream<S>(items: S) -> HttpResponse
where
    S: Stream<Item = Result<String, DomainError>> + Send + 'static,
{
    ok_stream_with(items, Map::new())
}

/// A streamed page with its `total`, `pageSize` and `offset` keys.
pub fn ok_page<S>(page: crate::domain::Page<S>) -> HttpResponse
where
    S: Stream<Item = Result<String, DomainError>> + Send + 'static,
{
    let mut extra = Map::new();
    extra.insert("total".into(), Value::from(page.total));
    extra.insert("pageSize".into(), Value::from(page.page_size));
    extra.insert("offset".into(), Value::from(page.offset));
    ok_stream_with(page.items, extra)
}

/// [`ok_stream`] with extra top-level keys after `data` (`total` ...).
pub fn ok_stream_with<S>(items: S, extra: Map<String, Value>) -> HttpResponse
where
    S: Stream<Item = Result<String, DomainError>> + Send + 'static,
{
    let mut tail = b"]".to_vec();
    for (k, v) in &extra {
        tail.push(b',');
        tail.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
        tail.push(b':');
        tail.extend_from_slice(v.to_string().as_bytes());
    }
    tail.push(b'}');
    let head = Bytes::from([OK_HEAD, b"["].concat());
    let mut first = true;
    let body = items.ready_chunks(64).map(move |chunk| {
        let mut buf = Vec::with_capacity(
            chunk
                .iter()
                .map(|i| i.as_ref().map_or(0, |t| t.len() + 1))
                .sum(),
        );
        for item in chunk {
            let text = item.map_err(|e| {
                let err = ApiError::from_domain(Op::List, e);
                tracing::error!(error = %err, "list stream failed after the reply started");
                actix_web::error::ErrorInternalServerError(err.message)
            })?;
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(text.as_bytes());
        }
        Ok::<Bytes, actix_web::Error>(Bytes::from(buf))
    });
    let tail = futures::stream::once(async move { Ok(Bytes::from(tail)) });
    let stream = futures::stream::once(async move { Ok(head) })
        .chain(body)
        .chain(tail);
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .streaming(stream)
}
