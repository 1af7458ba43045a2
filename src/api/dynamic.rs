//! Dynamic resource routes (reference B.1 #1-12) under `/{k8s|mesos}/dynamic`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::envelope;
use super::error::{ApiError, Op};
use crate::domain::Service;
use crate::domain::dynamic::{self, ResourcePath};
use crate::domain::params::RawParams;

/// The dynamic routes are matched by hand below `/{env}/dynamic`:
///
/// ```text
/// namespace_resources/clusters/{clusterId}/namespaces/{namespace}/{resourceType}[/{resourceName}]
/// cluster_resources/clusters/{clusterId}/{resourceType}[/{resourceName}]
/// all_resources/clusters/{clusterId}/{resourceType}
/// ```
///
/// The router compiles patterns with parameters into regular expressions and
/// tries them in turn on every request, which was 8% of the CPU of a GET.
/// Segments are percent-decoded as the router's path extractor does.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/k8s/dynamic/multicluster_resources/{resourceType}")
            .route(web::post().to(multicluster))
            .default_service(web::to(super::method_not_allowed)),
    );
    for env in ["/k8s/dynamic", "/mesos/dynamic"] {
        cfg.service(web::scope(env).default_service(web::to(dispatch)));
    }
}

/// The shapes of the dynamic routes under `/{k8s|mesos}/dynamic/`, most
/// specific first (the metrics' labels and the API document).
pub(crate) const SHAPES: [&str; 5] = [
    "all_resources/clusters/{clusterId}/{resourceType}",
    "namespace_resources/clusters/{clusterId}/namespaces/{namespace}/{resourceType}/{resourceName}",
    "namespace_resources/clusters/{clusterId}/namespaces/{namespace}/{resourceType}",
    "cluster_resources/clusters/{clusterId}/{resourceType}/{resourceName}",
    "cluster_resources/clusters/{clusterId}/{resourceType}",
];

/// The route pattern of a dynamic path (the metrics' `handler` label), if
/// it is one: `{prefix}/{env}/dynamic/namespace_resources/clusters/{clusterId}/...`.
pub(crate) fn pattern_of(path: &str) -> Option<&'static str> {
    const ENVS: [&str; 2] = ["/k8s/dynamic", "/mesos/dynamic"];
    // Every label, made once: a request's label costs no allocation.
    static LABELS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let mut v = Vec::new();
        for prefix in super::PREFIXES {
            for env in ENVS {
                for shape in SHAPES {
                    v.push(format!("{prefix}{env}/{shape}"));
                }
            }
        }
        v
    });
    let (pi, rest) = super::PREFIXES
        .iter()
        .enumerate()
        .find_map(|(i, p)| Some((i, path.strip_prefix(p)?)))?;
    let (ei, rest) = ENVS
        .iter()
        .enumerate()
        .find_map(|(i, e)| Some((i, rest.strip_prefix(e)?)))?;
    let (route, p) = match_route(rest)?;
    let shape = match (
        route,
        p.namespace.is_some(),
        rest.starts_with("/all_resources/"),
    ) {
        (_, _, true) => 0,
        (Route::One, true, _) => 1,
        (Route::List, true, _) => 2,
        (Route::One, false, _) => 3,
        (Route::List, false, _) => 4,
    };
    Some(LABELS[(pi * ENVS.len() + ei) * SHAPES.len() + shape].as_str())
}

/// One resource (GET, PUT, DELETE) or a list (GET, batch DELETE).
#[derive(Debug, PartialEq)]
enum Route {
    One,
    List,
}

/// The route and path parameters of the path below `/{env}/dynamic`.
fn match_route(rest: &str) -> Option<(Route, ResourcePath)> {
    let raw: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
    if raw.iter().any(|s| s.is_empty()) {
        return None;
    }
    let seg = |i: usize| -> Option<String> {
        raw.get(i)
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
    };
    if raw.len() < 4 || raw[1] != "clusters" {
        return None;
    }
    let (route, namespace, type_at) = match (raw[0], raw.len()) {
        ("namespace_resources", 6 | 7) if raw[3] == "namespaces" => {
            let route = if raw.len() == 7 {
                Route::One
            } else {
                Route::List
            };
            (route, seg(4), 5)
        }
        ("cluster_resources", 4 | 5) => {
            let route = if raw.len() == 5 {
                Route::One
            } else {
                Route::List
            };
            (route, None, 3)
        }
        ("all_resources", 4) => (Route::List, None, 3),
        _ => return None,
    };
    let path = ResourcePath {
        cluster_id: seg(2)?,
        namespace,
        resource_type: seg(type_at)?,
        resource_name: if route == Route::One {
            seg(type_at + 1)
        } else {
            None
        },
    };
    Some((route, path))
}

async fn dispatch(
    svc: web::Data<Service>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let Some((route, path)) = match_route(req.match_info().unprocessed()) else {
        return super::route_not_found(req).await;
    };
    match (route, req.method()) {
        (Route::One, &Method::GET) => get_resource(svc, req, path).await,
        (Route::One, &Method::PUT) => put_resource(svc, req, path, payload).await,
        (Route::One, &Method::DELETE) => delete_resource(svc, req, path).await,
        (Route::List, &Method::GET) => list_resources(svc, req, path).await,
        (Route::List, &Method::DELETE) => delete_resources(svc, req, path, payload).await,
        _ => super::method_not_allowed(req).await,
    }
}

/// `POST /k8s/dynamic/multicluster_resources/{resourceType}`.
async fn multicluster(
    svc: web::Data<Service>,
    req: HttpRequest,
    resource_type: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    let page = crate::domain::multicluster::list(&svc, &resource_type, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_page(page))
}

async fn get_resource(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: ResourcePath,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let doc = dynamic::get_one(&svc, &path, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Get, e))?;
    Ok(envelope::ok_json_text(&doc))
}

async fn put_resource(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: ResourcePath,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    dynamic::put(&svc, &path, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Put, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn delete_resource(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: ResourcePath,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    dynamic::delete_one(&svc, &path, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    Ok(envelope::ok(&Value::Null))
}

async fn list_resources(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: ResourcePath,
) -> Result<HttpResponse, ApiError> {
    let raw = RawParams::parse(req.query_string());
    let items = dynamic::list(&svc, &path, &raw)
        .await
        .map_err(|e| ApiError::from_domain(Op::List, e))?;
    Ok(envelope::ok_stream(items))
}

async fn delete_resources(
    svc: web::Data<Service>,
    req: HttpRequest,
    path: ResourcePath,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::read_body(&req, payload).await?;
    let raw = RawParams::parse(req.query_string());
    let deleted = dynamic::delete_batch(&svc, &path, &raw, &body)
        .await
        .map_err(|e| ApiError::from_domain(Op::Delete, e))?;
    let mut extra = Map::new();
    extra.insert("total".into(), Value::from(deleted));
    Ok(envelope::ok_with(&Value::Null, &extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rest: &str) -> Option<(Route, ResourcePath)> {
        match_route(rest)
    }

    #[test]
    fn every_route_shape_matches() {
        let (r, p) = m("/namespace_resources/clusters/c1/namespaces/n1/Pod/p1").unwrap();
        assert_eq!(r, Route::One);
        assert_eq!(
            (
                p.cluster_id.as_str(),
                p.namespace.as_deref(),
                p.resource_type.as_str(),
                p.resource_name.as_deref()
            ),
            ("c1", Some("n1"), "Pod", Some("p1"))
        );
        let (r, p) = m("/namespace_resources/clusters/c1/namespaces/n1/Pod").unwrap();
        assert_eq!((r, p.resource_name), (Route::List, None));
        let (r, p) = m("/cluster_resources/clusters/c1/Node/n1").unwrap();
        assert_eq!(
            (r, p.namespace, p.resource_name.as_deref()),
            (Route::One, None, Some("n1"))
        );
        let (r, p) = m("/cluster_resources/clusters/c1/Node").unwrap();
        assert_eq!((r, p.resource_type.as_str()), (Route::List, "Node"));
        let (r, p) = m("/all_resources/clusters/c1/Pod").unwrap();
        assert_eq!((r, p.cluster_id.as_str()), (Route::List, "c1"));
    }

    #[test]
    fn segments_are_percent_decoded() {
        let (_, p) = m("/cluster_resources/clusters/c%201/Node/a%2Fb%25").unwrap();
        assert_eq!(p.cluster_id, "c 1");
        assert_eq!(p.resource_name.as_deref(), Some("a/b%"));
    }

    #[test]
    fn other_paths_do_not_match() {
        for rest in [
            "",
            "/",
            "/namespace_resources/clusters/c1/namespaces/n1",
            "/namespace_resources/clusters/c1/namespace/n1/Pod",
            "/namespace_resources/clusters/c1/namespaces/n1/Pod/p1/x",
            "/namespace_resources/clusters//namespaces/n1/Pod",
            "/cluster_resources/clusters/c1/Node/",
            "/cluster_resources/cluster/c1/Node",
            "/cluster_resources/clusters/c1",
            "/all_resources/clusters/c1/Pod/p1",
            "/other_resources/clusters/c1/Pod",
        ] {
            assert!(m(rest).is_none(), "{rest:?} should not match");
        }
    }
}
