//! The Kubernetes-dialect routes: the server root (`/api`, `/apis`,
//! `/version`), `/clusters/{id}/...` and Clusterpedia's
//! `/apis/clusterpedia.io/v1beta1/resources[/clusters/{id}]/...`.
//! Content negotiation (Table, PartialObjectMetadata, aggregated
//! discovery), watch streaming and `Status` errors; the meaning of every
//! request is in `domain::kube`.

use std::time::Duration;

use actix_web::http::header::{ACCEPT, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;

use crate::domain::Service;
use crate::domain::kube::list::{self, ListOptions, Shape};
use crate::domain::kube::path::{self, ResourceRef, Target, View};
use crate::domain::kube::table::IncludeObject;
use crate::domain::kube::watch::{self, WatchRequest};
use crate::domain::kube::{Status, discovery, extras, metrics, write};
use crate::domain::params::{RawParams, parse_bool};

pub fn configure(cfg: &mut web::ServiceConfig) {
    for pattern in [
        "/api",
        "/api/{tail:.*}",
        "/apis",
        "/apis/{tail:.*}",
        "/clusters/{tail:.*}",
        "/openapi/v3",
        "/openapi/v3/{tail:.*}",
        "/version",
    ] {
        cfg.service(web::resource(pattern).to(handle));
    }
}

/// Whether a path belongs to these routes (they keep their real statuses
/// whatever `always_http_200` says).
pub fn is_kube_path(path: &str) -> bool {
    path == "/api"
        || path == "/apis"
        || path == "/version"
        || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/clusters/")
        || path == "/openapi/v3"
        || path.starts_with("/openapi/v3/")
}

const JSON: &str = "application/json";
const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// A `Status` reply.
pub fn status_reply(s: &Status) -> HttpResponse {
    let mut reply = HttpResponse::build(
        StatusCode::from_u16(s.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    if s.code == 503 {
        reply.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
    }
    reply.content_type(JSON).body(s.to_json().to_string())
}

/// The media types of an Accept header, each as (type, params) in order.
fn accepted(req: &HttpRequest) -> Vec<(String, Vec<(String, String)>)> {
    let Some(h) = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    h.split(',')
        .map(|part| {
            let mut it = part.split(';');
            let ty = it.next().unwrap_or_default().trim().to_ascii_lowercase();
            let params = it
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim().to_owned(), v.trim().to_owned()))
                })
                .collect();
            (ty, params)
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], k: &str) -> Option<&'a str> {
    params.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
}

/// The first acceptable shape the client asks for (`as=Table`,
/// `as=PartialObjectMetadata[List]`, plain JSON); 406 when it accepts
/// none of them.
fn negotiate_shape(req: &HttpRequest, raw: &RawParams) -> Result<Shape, Status> {
    let only_meta = match raw.single("onlyMetadata").map_err(Status::from)? {
        Some(v) => parse_bool("onlyMetadata", v).map_err(Status::from)?,
        None => false,
    };
    let plain = if only_meta {
        Shape::Metadata
    } else {
        Shape::Object
    };
    let types = accepted(req);
    if types.is_empty() {
        return Ok(plain);
    }
    for (ty, params) in &types {
        if !matches!(
            ty.as_str(),
            "application/json" | "*/*" | "application/*" | ""
        ) {
            continue;
        }
        match (param(params, "as"), param(params, "g")) {
            (None, _) => return Ok(plain),
            (Some("Table"), Some("meta.k8s.io")) => {
                let include =
                    IncludeObject::parse(raw.single("includeObject").map_err(Status::from)?)
                        .map_err(Status::bad_request)?;
                return Ok(Shape::Table(include));
            }
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) => {
                return Ok(Shape::Metadata);
            }
            _ => {}
        }
    }
    Err(Status {
        code: 406,
        reason: "NotAcceptable",
        message: "only application/json (as an object, a Table or PartialObjectMetadata) is served"
            .into(),
        details: None,
    })
}

/// The aggregated discovery type the client asks for, if any.
fn aggregated_discovery(req: &HttpRequest) -> Option<(&'static str, &'static str)> {
    for (ty, params) in accepted(req) {
        if ty != "application/json" {
            continue;
        }
        if param(&params, "g") == Some("apidiscovery.k8s.io")
            && param(&params, "as") == Some("APIGroupDiscoveryList")
        {
            match param(&params, "v") {
                Some("v2") => return Some((AGGREGATED_V2, "apidiscovery.k8s.io/v2")),
                Some("v2beta1") => {
                    return Some((AGGREGATED_V2BETA1, "apidiscovery.k8s.io/v2beta1"));
                }
                _ => {}
            }
        }
        // Plain JSON comes before any aggregated form: legacy discovery.
        param(&params, "as")?;
    }
    None
}

fn pretty(raw: &RawParams) -> bool {
    raw.single("pretty")
        .ok()
        .flatten()
        .is_some_and(|v| parse_bool("pretty", v).unwrap_or(false))
}

fn json_reply(raw: &RawParams, content_type: &str, body: String) -> HttpResponse {
    json_reply_with(raw, StatusCode::OK, content_type, body)
}

/// A JSON reply with this status, indented with `pretty=true`.
fn json_reply_with(
    raw: &RawParams,
    status: StatusCode,
    content_type: &str,
    body: String,
) -> HttpResponse {
    let body = if pretty(raw) {
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(body)
    } else {
        body
    };
    HttpResponse::build(status)
        .content_type(content_type)
        .body(body)
}

async fn handle(svc: web::Data<Service>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    // Bodies are bounded by `server.max_body_bytes`, as on the bcs routes.
    let body = match super::read_body(&req, payload).await {
        Ok(b) => b,
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            return status_reply(&Status {
                code: status.as_u16(),
                reason: if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "RequestEntityTooLarge"
                } else {
                    "BadRequest"
                },
                message: e.message,
                details: None,
            });
        }
    };
    match serve(&svc, &req, &body).await {
        Ok(r) => r,
        Err(s) => status_reply(&s),
    }
}

async fn serve(svc: &Service, req: &HttpRequest, body: &[u8]) -> Result<HttpResponse, Status> {
    let Some((view, target)) = path::parse(req.path()) else {
        return Err(Status::no_resource());
    };
    if req.method() != Method::GET {
        return match target {
            Target::Resource(r) => write_resource(svc, req, &view, r, body).await,
            _ => Err(Status::method_not_allowed(req.method().as_str())),
        };
    }
    if let View::One(c) = &view {
        crate::domain::dynamic::check_segment("clusterId", c).map_err(Status::from)?;
    }
    let raw = RawParams::parse(req.query_string());
    match target {
        Target::Version => Ok(json_reply(&raw, JSON, discovery::version().to_string())),
        Target::CoreVersions => match aggregated_discovery(req) {
            Some((ct, av)) => {
                let all = discovery::resources(svc).await?;
                Ok(json_reply(
                    &raw,
                    ct,
                    discovery::aggregated(&all, true, av).to_string(),
                ))
            }
            None => Ok(json_reply(
                &raw,
                JSON,
                discovery::core_versions().to_string(),
            )),
        },
        Target::Groups => {
            let all = discovery::resources(svc).await?;
            match aggregated_discovery(req) {
                Some((ct, av)) => Ok(json_reply(
                    &raw,
                    ct,
                    discovery::aggregated(&all, false, av).to_string(),
                )),
                None => Ok(json_reply(
                    &raw,
                    JSON,
                    discovery::group_list(&all).to_string(),
                )),
            }
        }
        Target::Group(g) => {
            let all = discovery::resources(svc).await?;
            let doc = discovery::group(&all, &g).ok_or_else(Status::no_resource)?;
            Ok(json_reply(&raw, JSON, doc.to_string()))
        }
        Target::Resources { group, version } => {
            let all = discovery::resources(svc).await?;
            let doc =
                discovery::resource_list(&all, &group, &version).ok_or_else(Status::no_resource)?;
            Ok(json_reply(&raw, JSON, doc.to_string()))
        }
        Target::Resource(r) => resource(svc, req, &raw, &view, r).await,
        Target::OpenApiIndex => {
            let all = discovery::resources(svc).await?;
            Ok(json_reply(
                &raw,
                JSON,
                discovery::openapi_index(&all).to_string(),
            ))
        }
        Target::OpenApi { group, version } => {
            let all = discovery::resources(svc).await?;
            let doc = discovery::openapi_document(&all, &group, &version)
                .ok_or_else(Status::no_resource)?;
            Ok(json_reply(&raw, JSON, doc.to_string()))
        }
        Target::Containers { namespace, name } => {
            let body = extras::containers(svc, &view, &namespace, name.as_deref(), &raw).await?;
            Ok(json_reply(&raw, JSON, body))
        }
        Target::Workloads => {
            let shape = negotiate_shape(req, &raw)?;
            let body = extras::workloads(svc, &raw, shape).await?;
            Ok(stream_reply(&raw, body))
        }
        Target::ClusterpediaResources => Ok(json_reply(
            &raw,
            JSON,
            extras::clusterpedia_resources().to_string(),
        )),
        Target::ClusterpediaCollections => Ok(json_reply(
            &raw,
            JSON,
            extras::collection_resources().to_string(),
        )),
    }
}

fn stream_reply(raw: &RawParams, body: list::Body) -> HttpResponse {
    let pretty = pretty(raw);
    let chunks = body.map(|r| match r {
        Ok(b) => Ok::<Bytes, actix_web::Error>(b),
        Err(s) => {
            tracing::warn!(message = %s.message, "a kubernetes list ends early");
            Err(actix_web::error::ErrorInternalServerError(s.message))
        }
    });
    if pretty {
        // Indenting needs the whole document: pretty output is for people.
        let whole = async move {
            let parts: Vec<Result<Bytes, actix_web::Error>> = chunks.collect().await;
            let mut buf = Vec::new();
            for p in parts {
                buf.extend_from_slice(&p?);
            }
            let v: Value =
                serde_json::from_slice(&buf).map_err(actix_web::error::ErrorInternalServerError)?;
            serde_json::to_vec_pretty(&v)
                .map(Bytes::from)
                .map_err(actix_web::error::ErrorInternalServerError)
        };
        return HttpResponse::Ok()
            .content_type(JSON)
            .streaming(futures::stream::once(whole));
    }
    HttpResponse::Ok().content_type(JSON).streaming(chunks)
}

fn watch_flag(raw: &RawParams) -> Result<bool, Status> {
    match raw.single("watch").map_err(Status::from)? {
        Some(v) => parse_bool("watch", v).map_err(Status::from),
        None => Ok(false),
    }
}

async fn resource(
    svc: &Service,
    req: &HttpRequest,
    raw: &RawParams,
    view: &View,
    r: ResourceRef,
) -> Result<HttpResponse, Status> {
    let res = discovery::resolve(svc, &r).await?;
    if r.namespace.is_some() && !res.namespaced {
        return Err(Status::no_resource());
    }
    check_subresource(&r)?;
    check_segments(&r)?;
    if metrics::is_metrics(&res) {
        if r.watch || watch_flag(raw)? || r.subresource.is_some() {
            return Err(Status::method_not_allowed("watch"));
        }
        let ns = r.namespace.as_deref();
        if let Some(name) = &r.name {
            let body = metrics::get(svc, view, &res, ns, name, raw).await?;
            return Ok(json_reply(raw, JSON, body));
        }
        let table = match negotiate_shape(req, raw)? {
            Shape::Table(include) => Some(include),
            _ => None,
        };
        let body = metrics::list(svc, view, &res, ns, raw, table).await?;
        return Ok(json_reply(raw, JSON, body));
    }
    if r.watch || watch_flag(raw)? {
        return watch_reply(svc, raw, view, res, &r).await;
    }
    let shape = negotiate_shape(req, raw)?;
    if let Some(name) = &r.name {
        let body = list::get(svc, view, res, r.namespace.as_deref(), name, raw, shape).await?;
        return Ok(json_reply(raw, JSON, body));
    }
    let opts = ListOptions::parse(raw, &res)?;
    let body = list::list(svc, view, res, r.namespace.as_deref(), opts, shape).await?;
    Ok(stream_reply(raw, body))
}

async fn watch_reply(
    svc: &Service,
    raw: &RawParams,
    view: &View,
    res: crate::domain::kube::resources::Resource,
    r: &ResourceRef,
) -> Result<HttpResponse, Status> {
    let single = |n: &str| raw.single(n).map_err(Status::from);
    let opts = ListOptions::parse(raw, &res)?;
    let mut scope = vec![list::scope_filter(
        view,
        &opts.search,
        r.namespace.as_deref(),
    )];
    if let Some(name) = &r.name {
        scope.push(crate::model::Filter::Eq(
            "resourceName".into(),
            Value::String(name.clone()),
        ));
    }
    let selector = crate::model::Filter::and([opts.filter, opts.search.owner_filter(svc).await?]);
    let timeout = match single("timeoutSeconds")? {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(0) => None,
            Ok(n) => Some(Duration::from_secs(n)),
            Err(_) => {
                return Err(Status::bad_request(format!(
                    "timeoutSeconds: {v:?} is not a number of seconds"
                )));
            }
        },
    };
    let flag = |n: &str| -> Result<bool, Status> {
        match single(n)? {
            Some(v) => parse_bool(n, v).map_err(Status::from),
            None => Ok(false),
        }
    };
    let wr = WatchRequest {
        scope: crate::model::Filter::and(scope),
        selector,
        resource_version: single("resourceVersion")?.map(str::to_owned),
        bookmarks: flag("allowWatchBookmarks")?,
        timeout,
        send_initial: flag("sendInitialEvents")?,
    };
    let events = watch::open(svc, res, wr).await?;
    Ok(HttpResponse::Ok()
        .content_type(JSON)
        .streaming(events.map(Ok::<Bytes, actix_web::Error>)))
}

/// 404 for a subresource that is not served; `log` is a 404 that says why.
fn check_subresource(r: &ResourceRef) -> Result<(), Status> {
    match r.subresource.as_deref() {
        None | Some("status") => Ok(()),
        Some("ephemeralcontainers") if r.plural == "pods" && r.group.is_empty() => Ok(()),
        Some("log") if r.plural == "pods" && r.group.is_empty() => Err(Status {
            code: 404,
            reason: "NotFound",
            message: "the store keeps no container logs: read them from the cluster itself".into(),
            details: None,
        }),
        Some(_) => Err(Status::no_resource()),
    }
}

fn check_segments(r: &ResourceRef) -> Result<(), Status> {
    for seg in [r.namespace.as_deref(), r.name.as_deref()]
        .into_iter()
        .flatten()
    {
        crate::domain::dynamic::check_segment("path", seg).map_err(Status::from)?;
    }
    Ok(())
}

/// A create or replace body must be JSON (`kubectl` and the client
/// libraries send JSON).
fn check_json_body(req: &HttpRequest) -> Result<(), Status> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let base = ct.split(';').next().unwrap_or_default().trim();
    if base.is_empty() || base.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Status {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!("the body must be application/json, not {base:?}"),
            details: None,
        })
    }
}

/// `POST`, `PUT`, `PATCH` and `DELETE` of a resource, in the one-cluster
/// view.
async fn write_resource(
    svc: &Service,
    req: &HttpRequest,
    view: &View,
    r: ResourceRef,
    body: &[u8],
) -> Result<HttpResponse, Status> {
    let method = req.method().clone();
    let cluster = match view {
        View::One(c) => c.clone(),
        View::All => {
            return Err(Status {
                code: 405,
                reason: "MethodNotAllowed",
                message: format!(
                    "{method} is not allowed in the all-clusters view: write to one cluster, \
                     under /clusters/{{cluster}}{} (or \
                     /apis/clusterpedia.io/v1beta1/resources/clusters/{{cluster}}{0})",
                    r.api_path()
                ),
                details: None,
            });
        }
    };
    if r.watch {
        return Err(Status::method_not_allowed(method.as_str()));
    }
    let res = discovery::resolve(svc, &r).await?;
    if r.namespace.is_some() != res.namespaced && (r.name.is_some() || r.namespace.is_some()) {
        return Err(Status::no_resource());
    }
    check_subresource(&r)?;
    check_segments(&r)?;
    let raw = RawParams::parse(req.query_string());
    let opts = write::WriteOptions::parse(&raw)?;
    let ns = r.namespace.as_deref();
    let part = write::Part::of(r.subresource.as_deref()).ok_or_else(Status::no_resource)?;
    let reply = |code: StatusCode, body: String| json_reply_with(&raw, code, JSON, body);
    let name = r.name.as_deref();
    if metrics::is_metrics(&res) {
        return match (method, name, r.subresource.is_some()) {
            (Method::POST, None, false) | (Method::PUT, Some(_), false) => {
                check_json_body(req)?;
                if res.namespaced && ns.is_none() {
                    return Err(Status::method_not_allowed(req.method().as_str()));
                }
                let (created, obj) = metrics::put(svc, &cluster, &res, ns, name, body).await?;
                let code = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok(reply(code, obj))
            }
            (Method::DELETE, Some(name), false) => Ok(reply(
                StatusCode::OK,
                metrics::delete(svc, &cluster, &res, ns, name).await?,
            )),
            (m, _, _) => Err(Status::method_not_allowed(m.as_str())),
        };
    }
    match (method, name) {
        (Method::POST | Method::DELETE, None) if res.namespaced && ns.is_none() => Err(Status {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "{} {} objects under /namespaces/{{namespace}}/{}",
                if req.method() == Method::POST {
                    "create"
                } else {
                    "delete"
                },
                res.kind,
                res.plural
            ),
            details: None,
        }),
        (Method::POST, None) if part == write::Part::Main => {
            check_json_body(req)?;
            let w = write::create(svc, &cluster, &res, ns, body, &opts).await?;
            Ok(reply(StatusCode::CREATED, w.object))
        }
        (Method::PUT, Some(name)) => {
            check_json_body(req)?;
            let w = write::replace(svc, &cluster, &res, ns, name, part, body, &opts).await?;
            let code = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(reply(code, w.object))
        }
        (Method::PATCH, Some(name)) => {
            let ct = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let kind = write::PatchType::of_content_type(ct)?;
            let w = write::patch(svc, &cluster, &res, ns, name, part, kind, body, &opts).await?;
            Ok(reply(StatusCode::OK, w.object))
        }
        (Method::DELETE, Some(name)) if part == write::Part::Main => {
            let obj = write::delete(svc, &cluster, &res, ns, name, &raw, body).await?;
            Ok(reply(StatusCode::OK, obj))
        }
        (Method::DELETE, None) if part == write::Part::Main => {
            let list = write::delete_collection(svc, &cluster, &res, ns, &raw, body).await?;
            Ok(reply(StatusCode::OK, list))
        }
        (m, _) => Err(Status::method_not_allowed(m.as_str())),
    }
}
