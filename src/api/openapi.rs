//! The OpenAPI 3.1 description of every route, served at `GET /openapi.json`
//! and checked in as `docs/openapi.json` (a test fails when they differ).
//!
//! It is built (with utoipa's OpenAPI model) from the tables the service
//! itself runs on, so it cannot drift from them: the two route prefixes,
//! the dynamic route shapes and environments, the query kinds and their
//! typed parameters (`domain::query::KINDS`), and the built-in Kubernetes
//! resources (`domain::kube::resources::BUILTINS`). A test requests every
//! documented operation and checks a handler answers it (not the router's
//! 404 or 405); schemathesis (CI) checks the replies against the document.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation, Paths};

use crate::domain::kube::path::{CLUSTERPEDIA_GV, CLUSTERPEDIA_RESOURCES};
use crate::domain::kube::resources::BUILTINS;
use crate::domain::query::{Common, KINDS, Scope, Ty};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/openapi.json")
            .route(web::get().to(serve))
            .default_service(web::to(super::method_not_allowed)),
    );
}

/// The document as served (pretty, with a final newline, as checked in).
pub static TEXT: LazyLock<String> = LazyLock::new(|| {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serializes");
    text.push('\n');
    text
});

async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(TEXT.as_str())
}

/// Tag of the operations that stream for as long as the client likes
/// (watches, the export): tools that fire many requests skip them.
pub const STREAMING: &str = "streaming";

/// One operation, as JSON in OpenAPI's own words, before it is checked
/// against utoipa's model.
struct Op {
    method: HttpMethod,
    path: String,
    tag: &'static str,
    summary: String,
    params: Vec<Value>,
    body: Option<Value>,
    /// The 200 reply.
    ok: Value,
    /// Other successful replies (`201`), by status.
    also: Vec<(&'static str, Value)>,
    /// Every other reply.
    failure: Value,
    streaming: bool,
    deprecated: bool,
}

/// The operations of one family of routes, collected in order.
#[derive(Default)]
struct Catalogue(Vec<Op>);

impl Catalogue {
    fn add(&mut self, op: Op) {
        self.0.push(op);
    }
}

fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Put => "put",
        HttpMethod::Post => "post",
        HttpMethod::Delete => "delete",
        HttpMethod::Patch => "patch",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    }
}

/// An operation id from the method and path: `get /a/{b}` → `get_a_b`.
fn operation_id(method: &HttpMethod, path: &str) -> String {
    let mut id = method_name(method).to_owned();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id.replace("__", "_").trim_end_matches('_').to_owned()
}

/// The path parameters of a template, in order.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_reply(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// A query parameter.
fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// Any JSON value (utoipa's model wants a `type`, so every type is named).
fn any() -> Value {
    json!({"type": ["object", "array", "string", "number", "boolean", "null"]})
}

/// `v` as a part of utoipa's model; panics (in every test that serves the
/// document) when the model cannot hold it or would drop a word of it.
fn fit<T: serde::de::DeserializeOwned + serde::Serialize>(v: Value, what: &str) -> T {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{what} does not fit utoipa's model: {e}: {v}"));
    let back = serde_json::to_value(&typed).expect("the model serializes");
    assert!(
        back == v,
        "utoipa's model changes {what}: {v}\n  became {back}"
    );
    typed
}

fn string() -> Value {
    json!({"type": "string"})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

/// A JSON request body.
fn body(description: &str, schema: Value, required: bool) -> Value {
    json!({"description": description, "required": required,
           "content": {"application/json": {"schema": schema}}})
}

impl Op {
    fn new(method: HttpMethod, path: String, tag: &'static str, summary: impl Into<String>) -> Op {
        Op {
            method,
            path,
            tag,
            summary: summary.into(),
            params: Vec::new(),
            body: None,
            ok: json_reply("success", schema_ref("Envelope")),
            failure: json_reply(
                "a refusal or failure: `result` false, `code` names it",
                schema_ref("Envelope"),
            ),
            also: Vec::new(),
            streaming: false,
            deprecated: false,
        }
    }

    fn params(mut self, params: impl IntoIterator<Item = Value>) -> Op {
        self.params.extend(params);
        self
    }

    fn body(mut self, b: Value) -> Op {
        self.body = Some(b);
        self
    }

    fn ok(mut self, reply: Value) -> Op {
        self.ok = reply;
        self
    }

    /// An envelope whose `data` has this schema.
    fn data(self, data: Value) -> Op {
        self.ok(json_reply("success", envelope_with(data)))
    }

    fn also(mut self, status: &'static str, reply: Value) -> Op {
        self.also.push((status, reply));
        self
    }

    fn failure(mut self, reply: Value) -> Op {
        self.failure = reply;
        self
    }

    fn streaming(mut self) -> Op {
        self.streaming = true;
        self
    }

    fn deprecated(mut self) -> Op {
        self.deprecated = true;
        self
    }

    fn into_operation(self) -> Operation {
        let mut params: Vec<Value> = path_params(&self.path)
            .into_iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "description": path_param_meaning(name),
                       "schema": path_param_schema(name)})
            })
            .collect();
        params.extend(self.params);
        let mut tags = vec![self.tag];
        if self.streaming {
            tags.push(STREAMING);
        }
        let mut op = json!({
            "operationId": operation_id(&self.method, &self.path),
            "tags": tags,
            "summary": self.summary,
            "responses": {"200": self.ok, "default": self.failure},
        });
        for (status, reply) in self.also {
            op["responses"][status] = reply;
        }
        if !params.is_empty() {
            op["parameters"] = Value::from(params);
        }
        if let Some(b) = self.body {
            op["requestBody"] = b;
        }
        if self.deprecated {
            op["deprecated"] = Value::Bool(true);
        }
        fit(op, "an operation")
    }
}

fn path_param_meaning(name: &str) -> &'static str {
    match name {
        "clusterId" | "cluster" => "the cluster's id (`BCS-K8S-00001`)",
        "namespace" => "the namespace",
        "resourceType" => "the stored kind (`Pod`, `Deployment`; the collection's name)",
        "resourceName" | "name" => "the object's name",
        "kind" => "the query kind",
        "type" => "the metric type",
        "ip" => "the host's IP",
        "service" => "the service (`bcs-mesos-driver`)",
        "indexName" => "the index name",
        "resource" => "the resource: a plural (`pods`) served by the group/version",
        "group" => "the API group",
        "version" => "the API version",
        "subresource" => "the subresource",
        _ => "a path segment",
    }
}

fn path_param_schema(name: &str) -> Value {
    let examples: &[&str] = match name {
        "clusterId" | "cluster" => &["BCS-K8S-00001"],
        "namespace" => &["default"],
        "resourceType" => &["Pod", "Deployment"],
        "resourceName" | "name" => &["web-0"],
        "ip" => &["10.0.0.5"],
        "type" => &["cpu"],
        "service" => &["test"],
        "indexName" => &["by_name"],
        "resource" => &["pods", "deployments"],
        "group" => &["apps"],
        "version" => &["v1"],
        "subresource" => &["status"],
        _ => &[],
    };
    let mut s = json!({"type": "string", "minLength": 1, "pattern": "^[^/]+$"});
    if !examples.is_empty() {
        s["examples"] = json!(examples);
    }
    s
}

/// A bcs 200 reply: the success described, or a refusal (`result` false:
/// `server.always_http_200`, the default, answers refusals with HTTP 200).
fn success_or_refusal(success: Value) -> Value {
    json!({"anyOf": [success, schema_ref("Refusal")]})
}

/// The successful envelope with `data` of this schema.
fn envelope_with(data: Value) -> Value {
    success_or_refusal(json!({"allOf": [schema_ref("Envelope"), {
        "type": "object",
        "properties": {"result": {"type": "boolean", "enum": [true]}, "data": data},
    }]}))
}

/// The envelope of a page: `data` a list, and `total`, `pageSize`, `offset`.
fn page() -> Value {
    success_or_refusal(json!({"allOf": [schema_ref("Envelope"), {
        "type": "object",
        "required": ["total", "pageSize", "offset"],
        "properties": {
            "result": {"type": "boolean", "enum": [true]},
            "data": {"type": ["array", "null"], "items": {"type": "object"}},
            "total": count(), "pageSize": count(), "offset": count(),
        }
    }]}))
}

fn documents() -> Value {
    json!({"type": ["array", "null"], "items": schema_ref("Document")})
}

/// `field`, `extra`, `labelSelector`, `offset`, `limit` and the others of
/// dynamic GETs and DELETEs.
fn list_params(with_update_time: bool) -> Vec<Value> {
    let mut v = vec![
        query(
            "field",
            "projection: comma-separated dotted paths (`_id` always included)",
            string(),
        ),
        query(
            "extra",
            "base64 of a JSON object; each key is an equality condition on that dotted path",
            string(),
        ),
        query(
            "labelSelector",
            "Kubernetes label selector on `data.metadata.labels`",
            string(),
        ),
        query("offset", "skip this many documents", count()),
        query(
            "limit",
            "at most this many documents (0: `query.default_limit`)",
            count(),
        ),
    ];
    if with_update_time {
        v.push(query(
            "updateTimeBefore",
            "`updateTime` before this time (unix seconds or RFC 3339)",
            string(),
        ));
    }
    v
}

/// The document of the API: the bcs routes under both prefixes, the probes
/// and `/metrics`, the Kubernetes views and the export.
pub fn document() -> OpenApi {
    let mut ops = Catalogue::default();
    probes(&mut ops);
    for prefix in super::PREFIXES {
        bcs(&mut ops, prefix);
    }
    kube(&mut ops);
    export(&mut ops);
    let mut paths = Paths::new();
    for op in ops.0 {
        let path = op.path.clone();
        let method = op.method.clone();
        paths.add_path_operation(path, vec![method], op.into_operation());
    }
    let mut doc: OpenApi = fit(
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "bcs-storage",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "The document store of the BlueKing Container Service: the bcs \
                    routes (under `/bcsapi/v4/storage` and its alias `/bcsstorage/v1`) answer the \
                    `{result, code, message, data}` envelope; the same objects are served the \
                    way the Kubernetes API (`/api`, `/apis`, one cluster under `/clusters/{cluster}`), \
                    Clusterpedia (`/apis/clusterpedia.io/v1beta1/resources`), metrics.k8s.io \
                    and a streaming export serve them. Operations tagged `streaming` answer a \
                    stream of JSON lines for as long as the client asks. With `[auth]` on, every \
                    route but the probes and `/metrics` needs a token.",
                "license": {"name": "MIT", "identifier": "MIT"},
            },
            "paths": {},
            "components": {
                "schemas": schemas(),
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "xAuthToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                },
            },
            "security": [{}, {"bearer": []}, {"xAuthToken": []}],
            "tags": [
                {"name": "probes", "description": "health, readiness, metrics and this document"},
                {"name": "dynamic", "description": "stored cluster resources (reference B.1)"},
                {"name": "query", "description": "typed queries per kind (reference B.2)"},
                {"name": "custom", "description": "custom resources and their indexes"},
                {"name": "events", "description": "cluster events"},
                {"name": "alarms", "description": "alarms"},
                {"name": "metric", "description": "metric documents and cluster clean"},
                {"name": "hosts", "description": "hosts and their clusters"},
                {"name": "cluster config", "description": "Mesos-era cluster configuration"},
                {"name": "watch", "description": "change streams and watch key/value data"},
                {"name": "kubernetes", "description": "the Kubernetes and Clusterpedia views"},
                {"name": "export", "description": "the streaming pod export"},
                {"name": STREAMING, "description": "replies that stream until the client stops"},
            ],
        }),
        "the document",
    );
    doc.paths = paths;
    doc
}

fn schemas() -> Value {
    json!({
        "Envelope": {
            "type": "object",
            "description": "Every bcs reply: `code` 0 and `result` true on success.",
            "required": ["result", "code", "message", "data"],
            "properties": {
                "result": {"type": "boolean"},
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "data": any(),
            },
        },
        "Refusal": {
            "description": "A refused or failed bcs request: `code` names the problem, `message` says it.",
            "allOf": [schema_ref("Envelope"), {
                "type": "object",
                "properties": {"result": {"type": "boolean", "enum": [false]}},
            }],
        },
        "Document": {
            "type": "object",
            "description": "A stored document: its key fields, `data`, and the times.",
            "properties": {
                "_id": {"type": "string"},
                "clusterId": {"type": "string"},
                "namespace": {"type": "string"},
                "resourceType": {"type": "string"},
                "resourceName": {"type": "string"},
                "data": any(),
                "createTime": {"type": "string"},
                "updateTime": {"type": "string"},
            },
        },
        "WatchOptions": {
            "type": "object",
            "description": "What a watcher asks for; `{}` watches from now on.",
            "properties": {
                "maxEvents": {"type": "integer", "minimum": 0},
                "timeout": {"type": "integer", "minimum": 0, "description": "nanoseconds"},
                "resourceVersion": {"type": "string"},
                "allowBookmarks": {"type": "boolean"},
                "selfOnly": {"type": "boolean"},
                "mustDiff": {"type": "boolean"},
            },
        },
        "WatchFrame": {
            "type": "object",
            "description": "One line of a watch stream: type 1 add, 2 delete, 3 change, 5 bookmark, -1 break.",
            "required": ["type", "value"],
            "properties": {
                "type": {"type": "integer", "enum": [1, 2, 3, 5, -1]},
                "value": any(),
                "resourceVersion": {"type": "string"},
            },
        },
        "Status": {
            "type": "object",
            "description": "A Kubernetes `Status`: every failure of the Kubernetes views.",
            "required": ["kind", "apiVersion", "status", "code"],
            "properties": {
                "kind": {"type": "string", "enum": ["Status"]},
                "apiVersion": {"type": "string", "enum": ["v1"]},
                "metadata": {"type": "object"},
                "status": {"type": "string", "enum": ["Failure", "Success"]},
                "message": {"type": "string"},
                "reason": {"type": "string"},
                "details": {"type": "object"},
                "code": {"type": "integer"},
            },
        },
        "KubeObject": {
            "type": "object",
            "description": "A Kubernetes object, a list, a Table or discovery, as the Accept header asks.",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
            },
        },
        "MulticlusterList": {
            "type": "object",
            "description": "The console's MulticlusterListReqParams, as Go's encoding/json writes it.",
            "properties": {
                "offset": {"type": ["integer", "null"], "minimum": 0},
                "limit": {"type": ["integer", "null"], "minimum": 0},
                "clusteredNamespaces": {"type": ["array", "null"], "items": {
                    "type": ["object", "null"],
                    "properties": {
                        "clusterId": {"type": "string"},
                        "namespaces": {"type": ["array", "null"], "items": {"type": "string"}},
                    },
                }},
                "field": {"type": ["string", "null"]},
                "labelSelector": {"type": ["string", "null"]},
                "conditions": {"type": ["array", "null"], "items": schema_ref("Condition")},
                "sort": {"type": ["object", "null"], "additionalProperties": {"type": "integer", "enum": [1, -1]}},
            },
        },
        "Condition": {
            "type": ["object", "null"],
            "description": "A bcs-common operator condition (Go field names, no json tags).",
            "properties": {
                "Op": {"type": "string"},
                "Value": any(),
                "Children": {"type": ["array", "null"], "items": schema_ref("Condition")},
            },
        },
        "Event": {
            "type": "object",
            "description": "BcsStorageEventIf.",
            "required": ["clusterId"],
            "properties": {
                "id": {"type": "string"}, "env": {"type": "string"}, "kind": {"type": "string"},
                "level": {"type": "string"}, "component": {"type": "string"},
                "type": {"type": "string"}, "describe": {"type": "string"},
                "clusterId": {"type": "string"},
                "eventTime": {"type": "integer", "description": "unix seconds"},
                "extraInfo": {"type": "object", "properties": {
                    "namespace": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
                }},
                "data": any(),
            },
        },
        "Alarm": {
            "type": "object",
            "description": "BcsStorageAlarmIf.",
            "properties": {
                "clusterId": {"type": "string"}, "namespace": {"type": "string"},
                "message": {"type": "string"}, "source": {"type": "string"},
                "module": {"type": "string"}, "type": {"type": "string"},
                "receivedTime": {"type": "integer", "description": "unix seconds"},
                "data": any(),
            },
        },
        "DataBody": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": any()},
        },
        "Host": {
            "type": "object",
            "description": "BcsStorageHostIf; `ip`, when given, is the path's.",
            "properties": {"ip": {"type": "string"}, "clusterId": {"type": "string"}, "data": any()},
        },
        "Relation": {
            "type": "object",
            "description": "BcsStorageClusterRelationIf.",
            "properties": {"ips": {"type": ["array", "null"], "items": {"type": "string"}}},
        },
        "ClusterConfig": {
            "type": "object",
            "description": "BcsStorageClusterIf.",
            "properties": {
                "service": {"type": "string"},
                "zkIp": {"type": ["array", "null"], "items": {"type": "string"}},
                "masterIp": {"type": ["array", "null"], "items": {"type": "string"}},
                "dnsIp": {"type": ["array", "null"], "items": {"type": "string"}},
                "city": {"type": "string"},
                "jfrogUrl": {"type": "string"},
                "needNat": {"type": "boolean"},
            },
        },
        "GrpcError": {
            "type": "object",
            "description": "A grpc-gateway error of the export.",
            "required": ["code", "message"],
            "properties": {
                "error": {"type": "string"},
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "details": {"type": "array"},
            },
        },
    })
}

fn probes(ops: &mut Catalogue) {
    let probe = |path: &str, summary: &str| {
        Op::new(HttpMethod::Get, path.to_owned(), "probes", summary)
            .ok(json_reply("healthy or ready", schema_ref("Envelope")))
    };
    ops.add(probe("/healthz", "liveness: the process answers"));
    ops.add(probe(
        "/readyz",
        "readiness: the store answers (503 while it does not, or while shutting down)",
    ));
    ops.add(
        Op::new(
            HttpMethod::Get,
            "/metrics".into(),
            "probes",
            "Prometheus metrics (the Go service's names)",
        )
        .ok(json!({"description": "Prometheus text format",
                   "content": {"text/plain": {"schema": string()}}})),
    );
    ops.add(
        Op::new(
            HttpMethod::Get,
            "/openapi.json".into(),
            "probes",
            "this document",
        )
        .ok(json_reply("OpenAPI 3.1", json!({"type": "object"}))),
    );
}

/// The dynamic route shapes, as the router and the metrics labels know them.
fn bcs(ops: &mut Catalogue, prefix: &str) {
    use HttpMethod::{Delete, Get, Post, Put};
    let p = |s: &str| format!("{prefix}{s}");
    for env in ["k8s", "mesos"] {
        for shape in super::dynamic::SHAPES {
            let path = p(&format!("/{env}/dynamic/{shape}"));
            let one = shape.ends_with("{resourceName}");
            let scope = shape.split('/').next().unwrap_or_default();
            if one {
                ops.add(
                    Op::new(Get, path.clone(), "dynamic", "get one document")
                        .params(list_params(false))
                        .data(schema_ref("Document")),
                );
                ops.add(
                    Op::new(Put, path.clone(), "dynamic", "create or replace one document")
                        .body(body(
                            "the document: `data` is the object; other top-level keys are stored beside it",
                            json!({"type": "object"}),
                            true,
                        )),
                );
                ops.add(
                    Op::new(Delete, path, "dynamic", "delete one document")
                        .params(list_params(true)),
                );
            } else {
                ops.add(
                    Op::new(Get, path.clone(), "dynamic", format!("list ({scope})"))
                        .params(list_params(false))
                        .data(documents()),
                );
                ops.add(
                    Op::new(Delete, path, "dynamic", format!("batch delete ({scope})"))
                        .params(list_params(true)),
                );
            }
        }
    }
    ops.add(
        Op::new(
            Post,
            p("/k8s/dynamic/multicluster_resources/{resourceType}"),
            "dynamic",
            "list across clusters (the console's MulticlusterListReqParams)",
        )
        .body(body(
            "clusters and namespaces, conditions, selector, sort, paging",
            schema_ref("MulticlusterList"),
            true,
        ))
        .ok(json_reply("a page", page())),
    );
    for kind in KINDS {
        let path = p(&format!(
            "/query/{}/dynamic/clusters/{{clusterId}}/{}",
            kind.env.as_str(),
            kind.route
        ));
        let mut params = vec![
            query("field", "projection", string()),
            query(
                "extra",
                "base64 of a JSON object; each key is an *in* condition",
                string(),
            ),
            query("offset", "skip this many documents", count()),
            query("limit", "at most this many documents", count()),
        ];
        if kind.common != Common::None {
            params.push(query("name", "comma list of names", string()));
        }
        if kind.common == Common::NameNamespace {
            params.push(query("namespace", "comma list of namespaces", string()));
        }
        if kind.scope == Scope::Namespaces || kind.route == "namespace" {
            params.push(query(
                "used",
                "true: the namespaces in use (k8s namespace kind)",
                string(),
            ));
        }
        for param in kind.params {
            match param.ty {
                Ty::Time => {
                    for bound in ["Begin", "End"] {
                        params.push(query(
                            &format!("{}{bound}", param.name),
                            &format!("exclusive bound on `{}` (unix seconds, RFC 3339 or `YYYY-MM-DD HH:MM:SS`)", param.path),
                            string(),
                        ));
                    }
                }
                ty => params.push(query(
                    param.name,
                    &format!(
                        "`{}` {}",
                        param.path,
                        match ty {
                            Ty::Int => "in this comma list of integers",
                            Ty::Bool => "is this boolean (Go's ParseBool forms)",
                            _ => "in this comma list",
                        }
                    ),
                    string(),
                )),
            }
        }
        let summary = format!("query {} {}", kind.env.as_str(), kind.route);
        ops.add(
            Op::new(Get, path.clone(), "query", summary.clone())
                .params(params.clone())
                .data(json!({"type": ["array", "null"]})),
        );
        let props: serde_json::Map<String, Value> = params
            .iter()
            .filter_map(|p| {
                Some((
                    p["name"].as_str()?.to_owned(),
                    json!({"type": ["string", "number", "null"]}),
                ))
            })
            .collect();
        ops.add(
            Op::new(
                Post,
                path,
                "query",
                format!("{summary} (parameters as a JSON body)"),
            )
            .body(body(
                "the same parameters as a flat JSON object of strings or numbers",
                json!({"type": "object", "properties": props}),
                false,
            ))
            .data(json!({"type": ["array", "null"]})),
        );
    }
    let custom = p("/dynamic/customresources/{resourceType}");
    ops.add(
        Op::new(Get, custom.clone(), "custom", "list custom resources")
            .params(list_params(false))
            .ok(json_reply("a page", page())),
    );
    ops.add(
        Op::new(Put, custom.clone(), "custom", "store a custom resource").body(body(
            "the document",
            json!({"type": "object"}),
            true,
        )),
    );
    ops.add(
        Op::new(
            Delete,
            custom.clone(),
            "custom",
            "delete what the parameters match",
        )
        .params(list_params(false))
        .params([query(
            "deleteAll",
            "required (true) to delete without any filter",
            string(),
        )]),
    );
    let index = format!("{custom}/index/{{indexName}}");
    ops.add(
        Op::new(Put, index.clone(), "custom", "create a unique index").body(body(
            "`{path: 1 | -1}`, or the Go SDK's `[{\"Key\", \"Value\"}]`",
            json!({"type": ["object", "array"]}),
            true,
        )),
    );
    ops.add(Op::new(Delete, index, "custom", "drop an index"));

    let events = p("/events");
    ops.add(
        Op::new(
            Put,
            events.clone(),
            "events",
            "store an event (BcsStorageEventIf)",
        )
        .body(body("the event", schema_ref("Event"), true)),
    );
    let event_params = || {
        let mut v = vec![
            query("clusterId", "required: comma list of clusters", string()),
            query("timeBegin", "exclusive bound on `eventTime`", string()),
            query("timeEnd", "exclusive bound on `eventTime`", string()),
            query("extra", "base64 JSON object of *in* conditions", string()),
            query(
                "extra_contain",
                "base64 JSON object of substrings",
                string(),
            ),
            query("offset", "skip this many events", count()),
            query("length", "at most this many events", count()),
            query("field", "projection", string()),
        ];
        for (f, _) in crate::domain::events::FILTERS {
            if *f != "clusterId" {
                v.push(query(f, "comma list", string()));
            }
        }
        v
    };
    ops.add(
        Op::new(Get, events.clone(), "events", "list events, newest first")
            .params(event_params())
            .ok(json_reply("a page", page())),
    );
    ops.add(
        Op::new(Post, events, "events", "list events (parameters as a JSON body)")
            .body(body(
                "the parameters as a flat JSON object of strings or numbers",
                json!({"type": "object", "additionalProperties": {"type": ["string", "number", "null"]}}),
                true,
            ))
            .ok(json_reply("a page", page())),
    );

    let alarms = p("/alarms");
    ops.add(
        Op::new(
            Post,
            alarms.clone(),
            "alarms",
            "store an alarm (BcsStorageAlarmIf)",
        )
        .body(body("the alarm", schema_ref("Alarm"), true)),
    );
    ops.add(
        Op::new(Get, alarms, "alarms", "list alarms, newest first")
            .params(
                ["clusterId", "namespace", "source", "module", "type"]
                    .map(|f| query(f, "comma list", string())),
            )
            .params([
                query("timeBegin", "exclusive bound on `receivedTime`", string()),
                query("timeEnd", "exclusive bound on `receivedTime`", string()),
                query("offset", "skip this many alarms", count()),
                query("length", "at most this many alarms", count()),
                query("field", "projection", string()),
            ])
            .ok(json_reply("a page", page())),
    );

    for env in ["k8s", "mesos"] {
        let list = p(&format!(
            "/{env}/watch/clusters/{{clusterId}}/namespaces/{{namespace}}/{{resourceType}}"
        ));
        let one = format!("{list}/{{resourceName}}");
        ops.add(Op::new(
            Get,
            one.clone(),
            "watch",
            "get watch key/value data",
        ));
        ops.add(
            Op::new(Put, one.clone(), "watch", "store watch key/value data").body(body(
                "`{\"data\": {...}}`",
                schema_ref("DataBody"),
                true,
            )),
        );
        ops.add(Op::new(Delete, one, "watch", "delete watch key/value data"));
        ops.add(
            Op::new(Get, list, "watch", "list watch key/value data")
                .params([
                    query("offset", "skip", count()),
                    query("limit", "at most", count()),
                ])
                .data(json!({"type": ["array", "null"]})),
        );
    }

    let metric = p("/metric/clusters/{clusterId}/namespaces/{namespace}/{type}/{name}");
    ops.add(
        Op::new(Get, metric.clone(), "metric", "get a metric")
            .data(json!({"type": ["array", "object", "null"]})),
    );
    ops.add(
        Op::new(Put, metric.clone(), "metric", "store a metric").body(body(
            "`{\"data\": ...}`",
            schema_ref("DataBody"),
            true,
        )),
    );
    ops.add(Op::new(Delete, metric, "metric", "delete a metric"));
    ops.add(
        Op::new(
            Get,
            p("/metric/clusters/{clusterId}"),
            "metric",
            "list a cluster's metrics",
        )
        .params(["namespace", "type", "name"].map(|f| query(f, "comma list", string())))
        .params([
            query(
                "extra",
                "base64 JSON object of equality conditions",
                string(),
            ),
            query("field", "projection", string()),
            query("offset", "skip", count()),
            query("limit", "at most", count()),
        ])
        .data(json!({"type": ["array", "null"]})),
    );
    ops.add(
        Op::new(
            Get,
            p("/metric/clusters"),
            "metric",
            "the clusters that have metrics",
        )
        .data(json!({"type": ["array", "null"], "items": string()})),
    );
    ops.add(
        Op::new(
            Get,
            p("/dynamic/clusters"),
            "dynamic",
            "every cluster with documents, and how many of each resource type",
        )
        .data(json!({"type": "array", "items": {
            "type": "object",
            "required": ["clusterId", "resources", "total"],
            "properties": {
                "clusterId": string(),
                "resources": {"type": "object", "additionalProperties": count()},
                "total": count(),
            },
        }})),
    );
    ops.add(
        Op::new(
            Delete,
            p("/clusters/{clusterId}/data"),
            "metric",
            "clean a cluster: delete its documents in the dynamic and event databases",
        )
        .data(json!({"type": "array"})),
    );

    let host = p("/host/{ip}");
    ops.add(
        Op::new(Get, host.clone(), "hosts", "get a host").data(json!({"type": ["array", "null"]})),
    );
    ops.add(
        Op::new(Put, host.clone(), "hosts", "create or replace a host").body(body(
            "BcsStorageHostIf",
            schema_ref("Host"),
            false,
        )),
    );
    ops.add(Op::new(Delete, host, "hosts", "delete a host"));
    let relation = p("/host/clusters/{clusterId}");
    ops.add(
        Op::new(Get, relation.clone(), "hosts", "the cluster's hosts")
            .params([
                query("field", "projection", string()),
                query("offset", "skip", count()),
                query("limit", "at most", count()),
            ])
            .data(json!({"type": ["array", "null"]})),
    );
    ops.add(
        Op::new(
            Put,
            relation.clone(),
            "hosts",
            "the cluster holds exactly these hosts",
        )
        .body(body(
            "BcsStorageClusterRelationIf",
            schema_ref("Relation"),
            true,
        )),
    );
    ops.add(
        Op::new(Post, relation, "hosts", "add these hosts to the cluster").body(body(
            "BcsStorageClusterRelationIf",
            schema_ref("Relation"),
            true,
        )),
    );

    let cluster = p("/cluster_config/clusters/{clusterId}");
    let service_param = || query("service", "the service (default `test`)", string());
    ops.add(
        Op::new(
            Get,
            cluster.clone(),
            "cluster config",
            "the DeployConfig with this cluster's configuration",
        )
        .params([service_param()]),
    );
    ops.add(
        Op::new(
            Put,
            cluster,
            "cluster config",
            "render and store the cluster's configuration",
        )
        .params([service_param()])
        .body(body(
            "BcsStorageClusterIf",
            schema_ref("ClusterConfig"),
            true,
        )),
    );
    ops.add(
        Op::new(
            Get,
            p("/cluster_config/services/{service}"),
            "cluster config",
            "the DeployConfig of a service",
        )
        .params([
            query("clusterId", "comma list of clusters", string()),
            query("clusterIdNot", "comma list of clusters left out", string()),
        ]),
    );
    let version = p("/cluster_config/versions/{service}");
    ops.add(Op::new(
        Get,
        version.clone(),
        "cluster config",
        "the stable version",
    ));
    ops.add(
        Op::new(Put, version, "cluster config", "set the stable version").body(body(
            "BcsStorageStableVersionIf",
            json!({"type": "object", "properties": {"version": string()}}),
            true,
        )),
    );

    let watch = |path: String, summary: &str| {
        Op::new(Post, path, "watch", summary)
            .body(body("the options", schema_ref("WatchOptions"), false))
            .ok(
                json!({"description": "one WatchFrame per line, ending with the break frame",
                       "content": {"application/json": {"schema": schema_ref("WatchFrame")}}}),
            )
            .streaming()
    };
    ops.add(watch(
        p("/dynamic/watch/{clusterId}/{resourceType}"),
        "follow a cluster's documents of one type",
    ));
    ops.add(watch(
        p("/dynamic/watch/containers/{clusterId}"),
        "follow a cluster's ContainerInfo documents",
    ));
    ops.add(
        watch(p("/events/watch"), "follow a cluster's events").params([query(
            "clusterId",
            "required: the cluster",
            string(),
        )]),
    );
    ops.add(watch(
        p("/metric/watch/{clusterId}/{type}"),
        "follow a cluster's metrics of one type",
    ));
}

/// The Kubernetes-dialect paths, one set per view: every cluster (the
/// server root), one cluster (`/clusters/{cluster}`), and Clusterpedia's
/// two. Writes exist only where one cluster is named.
fn kube(ops: &mut Catalogue) {
    use HttpMethod::{Delete, Get, Patch, Post, Put};
    let core_plurals: Vec<&str> = BUILTINS
        .iter()
        .filter(|b| b.group.is_empty())
        .map(|b| b.plural)
        .collect();
    let group_plurals: Vec<&str> = {
        let mut v: Vec<&str> = BUILTINS
            .iter()
            .filter(|b| !b.group.is_empty())
            .map(|b| b.plural)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let kube_op = |method: HttpMethod, path: String, summary: &str| {
        Op::new(method, path, "kubernetes", summary)
            .ok(json_reply(
                "the object, list or discovery document",
                schema_ref("KubeObject"),
            ))
            .failure(json_reply(
                "a Status naming the failure",
                schema_ref("Status"),
            ))
    };
    let list_params = || {
        vec![
            query("labelSelector", "label selector", string()),
            query(
                "fieldSelector",
                "field selector (the kind's field labels)",
                string(),
            ),
            query("limit", "page size", count()),
            query("continue", "the token of the previous page", string()),
            query(
                "resourceVersion",
                "list at or after this revision",
                string(),
            ),
            query(
                "resourceVersionMatch",
                "`NotOlderThan` or `Exact`",
                string(),
            ),
            query("watch", "stream changes instead (`true`)", string()),
            query(
                "allowWatchBookmarks",
                "send bookmarks while watching",
                string(),
            ),
            query("timeoutSeconds", "end a watch after this long", count()),
        ]
    };
    let write_params = || {
        vec![
            query("dryRun", "`All`: check without writing", string()),
            query("fieldManager", "the writer's name", string()),
            query("fieldValidation", "`Ignore`, `Warn` or `Strict`", string()),
        ]
    };
    let delete_params = || {
        vec![
            query("dryRun", "`All`: check without deleting", string()),
            query("gracePeriodSeconds", "accepted", count()),
            query(
                "propagationPolicy",
                "`Background` (default), `Foreground` or `Orphan`",
                string(),
            ),
        ]
    };
    let patch_body = || {
        json!({"description": "a JSON, merge or strategic merge patch", "required": true, "content": {
            "application/merge-patch+json": {"schema": {"type": "object"}},
            "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
            "application/json-patch+json": {"schema": {"type": "array", "items": {"type": "object"}}},
        }})
    };
    let object_body = || body("the object", schema_ref("KubeObject"), true);
    let created = || json_reply("created: the object as stored", schema_ref("KubeObject"));
    let views = [
        ("", false),
        ("/clusters/{cluster}", true),
        (CLUSTERPEDIA_RESOURCES, false),
        (
            "/apis/clusterpedia.io/v1beta1/resources/clusters/{cluster}",
            true,
        ),
    ];
    for (view, writable) in views {
        let v = |s: &str| format!("{view}{s}");
        let all_note = if writable {
            ""
        } else {
            " (every cluster; `clusters` narrows them)"
        };
        let with_clusters = |op: Op| {
            if writable {
                op
            } else {
                op.params([query("clusters", "comma list of clusters to see", string())])
            }
        };
        ops.add(kube_op(Get, v("/version"), "the version"));
        ops.add(kube_op(Get, v("/api"), "core API versions"));
        ops.add(kube_op(
            Get,
            v("/apis"),
            "API groups (aggregated discovery on Accept)",
        ));
        ops.add(kube_op(Get, v("/apis/{group}"), "one API group"));
        ops.add(kube_op(Get, v("/api/{version}"), "core resources"));
        ops.add(kube_op(
            Get,
            v("/apis/{group}/{version}"),
            "a group version's resources",
        ));
        for (root, plurals) in [
            ("/api/v1", &core_plurals),
            ("/apis/{group}/{version}", &group_plurals),
        ] {
            let resource_schema = json!({"type": "string", "minLength": 1, "pattern": "^[^/]+$", "examples": plurals});
            let with_resource = |mut op: Op| {
                // The plural's examples are the resources this group serves.
                op.params.insert(
                    0,
                    json!({"name": "resource", "in": "path", "required": true,
                           "description": path_param_meaning("resource"), "schema": resource_schema}),
                );
                op
            };
            let collection = v(&format!("{root}/{{resource}}"));
            let ns_collection = v(&format!("{root}/namespaces/{{namespace}}/{{resource}}"));
            for (path, scope) in [
                (collection.clone(), "cluster-scoped, or across namespaces"),
                (ns_collection.clone(), "in a namespace"),
            ] {
                ops.add(with_resource(with_clusters(
                    kube_op(
                        Get,
                        path.clone(),
                        &format!("list or watch ({scope}){all_note}"),
                    )
                    .params(list_params()),
                )));
                if writable {
                    ops.add(with_resource(
                        kube_op(Post, path.clone(), &format!("create ({scope})"))
                            .also("201", created())
                            .params(write_params())
                            .body(object_body()),
                    ));
                    ops.add(with_resource(
                        kube_op(Delete, path, &format!("delete a collection ({scope})"))
                            .params(delete_params())
                            .params([
                                query("labelSelector", "label selector", string()),
                                query("fieldSelector", "field selector", string()),
                            ]),
                    ));
                }
            }
            for (path, scope) in [
                (format!("{collection}/{{name}}"), "cluster-scoped"),
                (format!("{ns_collection}/{{name}}"), "namespaced"),
            ] {
                ops.add(with_resource(with_clusters(kube_op(
                    Get,
                    path.clone(),
                    &format!("read one object ({scope}){all_note}"),
                ))));
                let sub = format!("{path}/{{subresource}}");
                ops.add(with_resource(with_clusters(kube_op(
                    Get,
                    sub.clone(),
                    &format!(
                        "read a subresource: status, log, ephemeralcontainers ({scope}){all_note}"
                    ),
                ))));
                if writable {
                    for (method, what) in [(Put, "replace"), (Patch, "patch")] {
                        let put = matches!(method, Put);
                        let body = if put { object_body() } else { patch_body() };
                        let created = |op: Op| if put { op.also("201", created()) } else { op };
                        ops.add(with_resource(created(
                            kube_op(
                                method.clone(),
                                path.clone(),
                                &format!("{what} one object ({scope})"),
                            )
                            .params(write_params())
                            .body(body.clone()),
                        )));
                        ops.add(with_resource(created(
                            kube_op(
                                method,
                                sub.clone(),
                                &format!("{what} a subresource ({scope})"),
                            )
                            .params(write_params())
                            .body(body),
                        )));
                    }
                    ops.add(with_resource(
                        kube_op(Delete, path, &format!("delete one object ({scope})"))
                            .params(delete_params())
                            .body(body(
                                "DeleteOptions (or in the query)",
                                json!({"type": "object"}),
                                false,
                            )),
                    ));
                }
            }
            for path in [
                v(&format!("{root}/watch/{{resource}}")),
                v(&format!(
                    "{root}/watch/namespaces/{{namespace}}/{{resource}}"
                )),
            ] {
                ops.add(with_resource(with_clusters(
                    kube_op(
                        Get,
                        path,
                        &format!("watch (the deprecated path form){all_note}"),
                    )
                    .params(list_params())
                    .streaming()
                    .deprecated(),
                )));
            }
        }
        let containers = v("/api/v1/namespaces/{namespace}/containers");
        ops.add(with_clusters(kube_op(
            Get,
            containers.clone(),
            "the containers of a namespace's pods (seed 002)",
        )));
        ops.add(with_clusters(kube_op(
            Get,
            format!("{containers}/{{name}}"),
            "one container",
        )));
        ops.add(kube_op(
            Get,
            v("/openapi/v3"),
            "the OpenAPI v3 index (kubectl's)",
        ));
        ops.add(kube_op(
            Get,
            v("/openapi/v3/api/{version}"),
            "the core group's OpenAPI v3 document",
        ));
        ops.add(kube_op(
            Get,
            v("/openapi/v3/apis/{group}/{version}"),
            "a group version's OpenAPI v3 document",
        ));
    }
    ops.add(kube_op(
        Get,
        CLUSTERPEDIA_GV.to_owned(),
        "Clusterpedia's resources (discovery)",
    ));
    ops.add(kube_op(
        Get,
        format!("{CLUSTERPEDIA_GV}/collectionresources"),
        "Clusterpedia's collection resources",
    ));
    ops.add(with_list(kube_op(
        Get,
        format!("{CLUSTERPEDIA_GV}/collectionresources/workloads"),
        "every workload of every cluster (Deployments, StatefulSets, DaemonSets)",
    )));
    fn with_list(op: Op) -> Op {
        op.params([
            query("clusters", "comma list of clusters to see", string()),
            query("limit", "page size", count()),
            query("continue", "the token of the previous page", string()),
        ])
    }
}

fn export(ops: &mut Catalogue) {
    ops.add(
        Op::new(
            HttpMethod::Get,
            "/v1/export/{resource}".into(),
            "export",
            "export pods (or another resource) as a stream of JSON lines",
        )
        .params([
            query("query", "which objects (the export's query form)", string()),
            query(
                "timeout",
                "stream changes for this long after the snapshot (seconds, or `90s`, `5m`)",
                string(),
            ),
        ])
        .ok(json!({"description": "one JSON object per line",
                   "content": {"application/json": {"schema": {"type": "object"}}}}))
        .failure(json_reply("a grpc-gateway error", schema_ref("GrpcError")))
        .streaming(),
    );
}
