//! Every error the API answers, with its one HTTP status and one bcs code
//! (bcs-common numbering, 1405000 + n). `docs/api.md` lists the same table.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::envelope;
use crate::domain::DomainError;
use crate::store::StoreError;

/// Error categories; `code_and_status` is the single table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 1405080: the request body is not valid JSON or not the expected shape.
    BadRequestData,
    /// 1405082: a write failed in the store.
    PutFailed,
    /// 1405083: a single read failed in the store.
    GetFailed,
    /// 1405084: a delete failed in the store.
    DeleteFailed,
    /// 1405085: a list failed in the store.
    ListFailed,
    /// 1405087: the addressed resource does not exist.
    NotExist,
    /// 1405088: the store does not answer (readiness).
    NotReady,
    /// 1405090: a query or path parameter is invalid.
    InvalidParameter,
    /// 1405091: the request body is larger than allowed.
    PayloadTooLarge,
    /// 1405092: the storage backend is unavailable; retry later.
    BackendUnavailable,
    /// 1405093: no such route.
    RouteNotFound,
    /// 1405094: the route exists but not with this method.
    MethodNotAllowed,
    /// 1405095: a concurrent write conflicted; retry.
    Conflict,
    ListRefused,
    /// 1405097: no token, or one the service does not know.
    Unauthorized,
    /// 1405098: the token's scope does not allow this request.
    Forbidden,
    /// 1405099: the service is at one of its configured limits (open
    /// watches); retry later.
    Overloaded,
    /// 1405096: the watch's resourceVersion is older than the retained
    /// history; list again and watch from the list's state.
    Gone,
}

impl ErrorKind {
    /// The (bcs code, HTTP status) of this kind.
    pub fn code_and_status(self) -> (i64, StatusCode) {
        match self {
            ErrorKind::BadRequestData => (1_405_080, StatusCode::BAD_REQUEST),
            ErrorKind::PutFailed => (1_405_082, StatusCode::INTERNAL_SERVER_ERROR),
            ErrorKind::GetFailed => (1_405_083, StatusCode::INTERNAL_SERVER_ERROR),
            ErrorKind::DeleteFailed => (1_405_084, StatusCode::INTERNAL_SERVER_ERROR),
            ErrorKind::ListFailed => (1_405_085, StatusCode::INTERNAL_SERVER_ERROR),
            ErrorKind::NotExist => (1_405_087, StatusCode::NOT_FOUND),
            ErrorKind::NotReady => (1_405_088, StatusCode::SERVICE_UNAVAILABLE),
            ErrorKind::InvalidParameter => (1_405_090, StatusCode::BAD_REQUEST),
            ErrorKind::PayloadTooLarge => (1_405_091, StatusCode::PAYLOAD_TOO_LARGE),
            ErrorKind::BackendUnavailable => (1_405_092, StatusCode::SERVICE_UNAVAILABLE),
            ErrorKind::RouteNotFound => (1_405_093, StatusCode::NOT_FOUND),
            ErrorKind::MethodNotAllowed => (1_405_094, StatusCode::METHOD_NOT_ALLOWED),
            ErrorKind::Conflict => (1_405_095, StatusCode::CONFLICT),
            ErrorKind::ListRefused => (1_405_085, StatusCode::BAD_REQUEST),
            ErrorKind::Gone => (1_405_096, StatusCode::GONE),
            ErrorKind::Unauthorized => (1_405_097, StatusCode::UNAUTHORIZED),
            ErrorKind::Forbidden => (1_405_098, StatusCode::FORBIDDEN),
            ErrorKind::Overloaded => (1_405_099, StatusCode::SERVICE_UNAVAILABLE),
        }
    }
}

/// The operation a handler performs, which decides the code of a store failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    Delete,
    List,
}

/// An error answered with the envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// Extra top-level keys of the error envelope (e.g. `total: 0`).
    pub data_is_list: bool,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            data_is_list: false,
        }
    }

    /// Maps a domain error met during `op`. Store failures are logged here,
    /// once, and their cause is not echoed to the client.
    pub fn from_domain(op: Op, e: DomainError) -> ApiError {
        let mut err = match e {
            DomainError::InvalidParameter(name, why) => ApiError::new(
                ErrorKind::InvalidParameter,
                format!("invalid parameter {name}: {why}"),
            ),
            DomainError::InvalidBody(why) => ApiError::new(ErrorKind::BadRequestData, why),
            DomainError::NotFound => ApiError::new(ErrorKind::NotExist, "resource does not exist"),
            DomainError::Missing(what) => ApiError::new(ErrorKind::NotExist, what),
            DomainError::ListParameter(name, why) => ApiError::new(
                ErrorKind::ListRefused,
                format!("invalid parameter {name}: {why}"),
            ),
            DomainError::Overloaded(why) => ApiError::new(ErrorKind::Overloaded, why),
            DomainError::Store(se) => Self::from_store(op, se),
        };
        err.data_is_list = op == Op::List;
        err
    }

    fn from_store(op: Op, e: StoreError) -> ApiError {
        let failed = match op {
            Op::Put => (ErrorKind::PutFailed, "put resource failed"),
            Op::Get => (ErrorKind::GetFailed, "get resource failed"),
            Op::Delete => (ErrorKind::DeleteFailed, "delete resource failed"),
            Op::List => (ErrorKind::ListFailed, "list resource failed"),
        };
        match e {
            StoreError::NotFound => ApiError::new(ErrorKind::NotExist, "resource does not exist"),
            StoreError::InvalidFilter(why) => ApiError::new(
                ErrorKind::InvalidParameter,
                format!("invalid filter: {why}"),
            ),
            StoreError::Conflict(why) => {
                tracing::warn!(error = %why, "write conflict");
                ApiError::new(ErrorKind::Conflict, format!("write conflict: {why}"))
            }
            StoreError::Unavailable(why) => {
                tracing::error!(error = %why, "storage backend unavailable");
                ApiError::new(
                    ErrorKind::BackendUnavailable,
                    "storage backend unavailable; retry later",
                )
            }
            StoreError::Expired => ApiError::new(
                ErrorKind::Gone,
                "resourceVersion is too old: the changes after it are no longer kept; list again",
            ),
            StoreError::Internal(_) => {
                tracing::error!(error = %e, "{}", failed.1);
                ApiError::new(failed.0, failed.1)
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.code_and_status().1
    }

    fn error_response(&self) -> HttpResponse {
        let (code, status) = self.kind.code_and_status();
        let data = if self.data_is_list {
            serde_json::Value::Array(Vec::new())
        } else {
            serde_json::Value::Null
        };
        let mut resp = envelope::reply(status, false, code, &self.message, &data, None);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}
