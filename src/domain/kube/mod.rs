//! The Kubernetes dialect over the stored documents (seed 001, Clusterpedia
//! seed 002): the same documents the bcs routes serve, as Kubernetes
//! objects, lists, tables and watch events, one cluster or all at once.
//! Transport-neutral: `api::kube` maps HTTP onto these functions.

pub mod discovery;
pub mod extras;
pub mod list;
pub mod metrics;
pub mod object;
pub mod patch;
pub mod path;
pub mod resources;
pub mod search;
pub mod selectors;
pub mod table;
pub mod watch;
pub mod write;

use serde_json::{Value, json};

use super::DomainError;
use crate::store::StoreError;

/// A Kubernetes `Status` failure: what every error of these views answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` (name, group, kind) of a NotFound.
    pub details: Option<(String, String, String)>,
}

impl Status {
    pub fn bad_request(message: impl Into<String>) -> Status {
        Status {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// The path names no resource (`the server could not find the requested
    /// resource`, as the API server says).
    pub fn no_resource() -> Status {
        Status {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        }
    }

    /// `pods "x" not found`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Status {
        let what = if group.is_empty() {
            plural.to_owned()
        } else {
            format!("{plural}.{group}")
        };
        Status {
            code: 404,
            reason: "NotFound",
            message: format!("{what} {name:?} not found"),
            details: Some((name.to_owned(), group.to_owned(), plural.to_owned())),
        }
    }

    pub fn method_not_allowed(method: &str) -> Status {
        Status {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "the server does not allow this method on the requested resource ({method})"
            ),
            details: None,
        }
    }

    /// A watch or continue from a revision that is no longer kept.
    pub fn expired(message: impl Into<String>) -> Status {
        Status {
            code: 410,
            reason: "Expired",
            message: message.into(),
            details: None,
        }
    }

    /// The `Status` object.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, group, kind)) = &self.details {
            let mut d = json!({ "name": name, "kind": kind });
            if !group.is_empty() {
                d["group"] = json!(group);
            }
            v["details"] = d;
        }
        v
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Status {
        match e {
            StoreError::NotFound => Status::no_resource(),
            StoreError::InvalidFilter(why) => Status::bad_request(why),
            StoreError::Expired => {
                Status::expired("too old resource version: the changes after it are no longer kept")
            }
            StoreError::Conflict(why) => Status {
                code: 409,
                reason: "Conflict",
                message: why,
                details: None,
            },
            StoreError::Unavailable(why) => {
                tracing::error!(error = %why, "storage backend unavailable");
                Status {
                    code: 503,
                    reason: "ServiceUnavailable",
                    message: "storage backend unavailable; retry later".into(),
                    details: None,
                }
            }
            StoreError::Internal(why) => {
                tracing::error!(error = %why, "kubernetes view failed");
                Status {
                    code: 500,
                    reason: "InternalError",
                    message: "an error on the server prevented the request from succeeding".into(),
                    details: None,
                }
            }
        }
    }
}

impl From<DomainError> for Status {
    fn from(e: DomainError) -> Status {
        match e {
            DomainError::Store(s) => s.into(),
            DomainError::NotFound => Status::no_resource(),
            DomainError::Missing(what) => Status {
                code: 404,
                reason: "NotFound",
                message: what,
                details: None,
            },
            DomainError::Overloaded(why) => Status {
                code: 503,
                reason: "ServiceUnavailable",
                message: why,
                details: None,
            },
            other => Status::bad_request(other.to_string()),
        }
    }
}

/// Annotation naming an object's cluster (seed 002).
pub const CLUSTER_ANNOTATION: &str = "shadow.clusterpedia.io/cluster-name";
/// Annotation keeping the `resourceVersion` the agent stored.
pub const SOURCE_RV_ANNOTATION: &str = "storage.bkbcs.tencent.com/source-resource-version";
