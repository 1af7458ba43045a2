//! Who may call what: the token check in front of every route but the
//! probes and `/metrics`, when `auth.tokens_file` is set.
//!
//! A token comes as `Authorization: Bearer T` or `X-Auth-Token: T`. No token
//! or an unknown one is a 401, a scope too small a 403: in the envelope on
//! the bcs routes, as a `Status` on the Kubernetes routes and as a
//! grpc-gateway error on the export. Tokens never reach a log line; the
//! name of the token's owner does (on refusals).

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use super::error::ErrorKind;
use crate::auth::{Scope, Tokens};

/// The routes anyone may call: probes, the metrics scrape and the
/// console's files (the console asks for a token before it reads data).
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || super::ui::is_ui_path(path)
}

/// The scope a request needs, from its method and path.
pub fn required_scope(method: &Method, path: &str) -> Scope {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Scope::Read;
    }
    let Some(rest) = super::PREFIXES
        .iter()
        .find_map(|p| path.strip_prefix(p).filter(|r| r.starts_with('/')))
    else {
        // The Kubernetes views and anything else: a write unless it reads.
        return Scope::Write;
    };
    let segs: Vec<&str> = rest[1..].split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        // Queries and watches sent as POSTs.
        ("POST", ["k8s", "dynamic", "multicluster_resources", _])
        | ("POST", ["query", ..])
        | ("POST", ["events"])
        | ("POST", ["events", "watch"])
        | ("POST", ["dynamic", "watch", ..])
        | ("POST", ["metric", "watch", ..]) => Scope::Read,
        // A whole cluster's data.
        ("DELETE", ["clusters", _, "data"]) => Scope::Admin,
        // Batch deletes not bound to one namespace.
        ("DELETE", [_, "dynamic", "cluster_resources", "clusters", _, _])
        | ("DELETE", [_, "dynamic", "all_resources", ..])
        | ("DELETE", ["dynamic", "customresources", _]) => Scope::Admin,
        // Index changes of the custom resources.
        (_, ["dynamic", "customresources", _, "index", _]) => Scope::Admin,
        _ => Scope::Write,
    }
}

/// The token of a request, if it carries one.
fn presented(req: &ServiceRequest) -> Option<&str> {
    let headers = req.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("authorization")
        .and_then(|v| {
            let (kind, token) = v.trim().split_once(' ')?;
            kind.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .or_else(|| header("x-auth-token"))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The refusal in the dialect of the route.
fn refusal(path: &str, status: StatusCode, message: String) -> HttpResponse {
    let unauthorized = status == StatusCode::UNAUTHORIZED;
    let mut res = if unauthorized {
        super::failure_reply(path, ErrorKind::Unauthorized, "Unauthorized", 16, message)
    } else {
        super::failure_reply(path, ErrorKind::Forbidden, "Forbidden", 7, message)
    };
    if unauthorized {
        res.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static("Bearer realm=\"bcs-storage\""),
        );
    }
    res
}

/// The middleware: passes requests whose token has the scope they need.
pub async fn check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    tokens: Option<Arc<Tokens>>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let Some(tokens) = tokens else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if is_open(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let needed = required_scope(req.method(), req.path());
    let who = presented(&req).map(|t| tokens.authenticate(t));
    let denied = match who {
        None => Some((
            StatusCode::UNAUTHORIZED,
            "a token is required: send Authorization: Bearer <token> or X-Auth-Token".to_owned(),
        )),
        Some(None) => Some((
            StatusCode::UNAUTHORIZED,
            "the token is not valid".to_owned(),
        )),
        Some(Some(p)) if p.scope < needed => {
            tracing::info!(token = %p.name, scope = p.scope.as_str(), needed = needed.as_str(), method = %req.method(), path = req.path(), "request refused: scope too small");
            Some((
                StatusCode::FORBIDDEN,
                format!(
                    "the token {:?} has scope {}; {} {} needs {}",
                    p.name,
                    p.scope.as_str(),
                    req.method(),
                    req.path(),
                    needed.as_str()
                ),
            ))
        }
        Some(Some(_)) => None,
    };
    match denied {
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Some((status, message)) => {
            let res = refusal(req.path(), status, message);
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_follow_what_a_request_changes() {
        let v4 = "/bcsapi/v4/storage";
        let cases = [
            (
                "GET",
                format!("{v4}/k8s/dynamic/cluster_resources/clusters/C1/Node"),
                Scope::Read,
            ),
            (
                "POST",
                format!("{v4}/query/k8s/dynamic/clusters/C1/pod"),
                Scope::Read,
            ),
            ("POST", format!("{v4}/events"), Scope::Read),
            ("POST", format!("{v4}/dynamic/watch/C1/Pod"), Scope::Read),
            (
                "POST",
                "/bcsstorage/v1/k8s/dynamic/multicluster_resources/Pod".into(),
                Scope::Read,
            ),
            ("PUT", format!("{v4}/events"), Scope::Write),
            ("POST", format!("{v4}/alarms"), Scope::Write),
            (
                "PUT",
                format!("{v4}/k8s/dynamic/namespace_resources/clusters/C1/namespaces/n/Pod/p"),
                Scope::Write,
            ),
            (
                "DELETE",
                format!("{v4}/k8s/dynamic/namespace_resources/clusters/C1/namespaces/n/Pod"),
                Scope::Write,
            ),
            (
                "DELETE",
                format!("{v4}/k8s/dynamic/cluster_resources/clusters/C1/Node/n1"),
                Scope::Write,
            ),
            (
                "DELETE",
                format!("{v4}/k8s/dynamic/cluster_resources/clusters/C1/Pod"),
                Scope::Admin,
            ),
            ("DELETE", format!("{v4}/clusters/C1/data"), Scope::Admin),
            (
                "DELETE",
                format!("{v4}/dynamic/customresources/Crd"),
                Scope::Admin,
            ),
            (
                "PUT",
                format!("{v4}/dynamic/customresources/Crd"),
                Scope::Write,
            ),
            (
                "PUT",
                format!("{v4}/dynamic/customresources/Crd/index/i1"),
                Scope::Admin,
            ),
            (
                "PATCH",
                "/clusters/C1/api/v1/namespaces/n/pods/p".into(),
                Scope::Write,
            ),
            ("GET", "/clusters/C1/api/v1/pods".into(), Scope::Read),
        ];
        for (m, path, want) in cases {
            let method = Method::from_bytes(m.as_bytes()).expect("method");
            assert_eq!(required_scope(&method, &path), want, "{m} {path}");
        }
    }
}
