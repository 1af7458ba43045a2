//! The query routes `/query/{k8s,mesos}/dynamic/clusters/{clusterId}/{kind}`
//! (contract section 4, reference B.2 and C.5): one table per kind maps a
//! request parameter to a stored path and a type. Adding a kind or a
//! parameter is one line in [`KINDS`].

use std::collections::BTreeSet;
use std::sync::LazyLock;

use futures::{Stream, StreamExt};
use serde_json::{Map, Value};

use super::dynamic::{DYNAMIC_KEY, check_segment, renderer};
use super::params::{
    ExtraMode, ExtraText, RawParams, parse_bool, parse_extra, parse_field, parse_limit,
    parse_offset,
};
use super::times::{parse_time, shadow_path};
use super::{DomainError, Service};
use crate::config::QuerySettings;
use crate::model::{Bound, Database, Filter, Namespace, Projection, Query, RangeOp};
use crate::store::{IndexField, IndexSpec};

/// The two families of query routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    K8s,
    Mesos,
}

impl Env {
    /// The path segment (`k8s`, `mesos`).
    pub fn as_str(self) -> &'static str {
        match self {
            Env::K8s => "k8s",
            Env::Mesos => "mesos",
        }
    }
}

/// How a parameter's value becomes a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Comma-separated strings, any of which may equal the stored string.
    Str,
    /// Comma-separated integers, compared as numbers.
    Int,
    /// A boolean in the forms of Go's `strconv.ParseBool`; others are 400s.
    Bool,
    /// `<name>Begin` / `<name>End`: exclusive bounds, compared as instants.
    Time,
}

/// One parameter of a kind's table.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    /// Stored path of the value (for times, of the time string in `data`).
    pub path: &'static str,
    pub ty: Ty,
    /// Whether the stores keep an index for it.
    pub indexed: bool,
}

/// Which of the parameters every kind shares apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Common {
    /// `name` (resourceName) and `namespace`.
    NameNamespace,
    /// `name` only: cluster-scoped kinds.
    Name,
    /// Neither (the IP pool statistics are one document per cluster).
    None,
}

/// Documents of a collection that a kind shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Mesos applications: every document of `application` but processes.
    Application,
    /// Mesos processes: the documents of `application` whose kind is process.
    Process,
    /// The distinct namespaces in use (C.5.3), not documents.
    Namespaces,
}

/// A query route's kind.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub env: Env,
    /// Last path segment of the route.
    pub route: &'static str,
    pub collection: &'static str,
    pub common: Common,
    pub scope: Scope,
    pub params: &'static [Param],
}

const fn p(name: &'static str, path: &'static str, ty: Ty) -> Param {
    Param {
        name,
        path,
        ty,
        indexed: false,
    }
}

const fn ix(name: &'static str, path: &'static str, ty: Ty) -> Param {
    Param {
        name,
        path,
        ty,
        indexed: true,
    }
}

use Ty::{Bool, Int, Str, Time};

const K8S_CREATE: Param = ix("createTime", "data.metadata.creationTimestamp", Time);
const MESOS_API: &[Param] = &[p("apiVersion", "data.apiVersion", Str)];
const K8S_CREATE_ONLY: &[Param] = &[K8S_CREATE];
const APPLICATION: &[Param] = &[
    p("instance", "data.instance", Int),
    p("buildedInstance", "data.buildedInstance", Int),
    p("runningInstance", "data.runningInstance", Int),
    p("status", "data.status", Str),
    p("lastStatus", "data.lastStatus", Str),
    p("podIp", "data.podIP", Str),
    p("createTime", "data.createTime", Time),
    p("lastUpdateTime", "data.lastUpdateTime", Time),
    p("kind", "data.kind", Str),
];

const fn kind(
    env: Env,
    route: &'static str,
    collection: &'static str,
    common: Common,
    params: &'static [Param],
) -> Kind {
    Kind {
        env,
        route,
        collection,
        common,
        scope: Scope::All,
        params,
    }
}

const fn scoped(mut k: Kind, scope: Scope) -> Kind {
    k.scope = scope;
    k
}

use Common::{Name, NameNamespace};
use Env::{K8s, Mesos};

/// Every query route: C.5.1, C.5.2, and the V0.9.0 document's k8s pod and
/// endpoints `createTimeBegin/End`.
pub static KINDS: &[Kind] = &[
    kind(
        Mesos,
        "taskgroup",
        "taskgroup",
        NameNamespace,
        &[
            p("rcName", "data.rcname", Str),
            p("status", "data.status", Str),
            p("lastStatus", "data.lastStatus", Str),
            ix("hostIp", "data.hostIP", Str),
            p("hostName", "data.hostName", Str),
            ix("podIp", "data.podIP", Str),
            p("createTime", "data.metadata.creationTimestamp", Time),
            ix("startTime", "data.startTime", Time),
            p("lastUpdateTime", "data.lastUpdateTime", Time),
        ],
    ),
    scoped(
        kind(
            Mesos,
            "application",
            "application",
            NameNamespace,
            APPLICATION,
        ),
        Scope::Application,
    ),
    scoped(
        kind(Mesos, "process", "application", NameNamespace, APPLICATION),
        Scope::Process,
    ),
    kind(
        Mesos,
        "deployment",
        "deployment",
        NameNamespace,
        &[
            p("checkTime", "data.check_time", Int),
            p("status", "data.status", Str),
            p("applicationName", "data.application.name", Str),
            p("applicationExtName", "data.application_ext.name", Str),
            p("currRollingOperation", "data.curr_rolling_operation", Str),
            p("isInRolling", "data.is_in_rolling", Bool),
            p("lastRollingTime", "data.last_rolling_time", Time),
        ],
    ),
    kind(Mesos, "service", "service", NameNamespace, MESOS_API),
    kind(Mesos, "configmap", "configmap", NameNamespace, MESOS_API),
    kind(Mesos, "secret", "secret", NameNamespace, MESOS_API),
    kind(Mesos, "endpoints", "endpoint", NameNamespace, MESOS_API),
    kind(
        Mesos,
        "exportservice",
        "exportservice",
        NameNamespace,
        &[
            p("serviceName", "data.serviceName", Str),
            p("sslCert", "data.sslcert", Bool),
            p("balance", "data.balance", Str),
        ],
    ),
    scoped(
        kind(Mesos, "namespace", "", Common::None, &[]),
        Scope::Namespaces,
    ),
    kind(Mesos, "ippoolstatic", "IPPoolStatic", Common::None, &[]),
    kind(
        Mesos,
        "ippoolstaticdetail",
        "IPPoolStaticDetail",
        Common::None,
        &[],
    ),
    kind(
        K8s,
        "pod",
        "Pod",
        NameNamespace,
        &[
            ix("hostIp", "data.status.hostIP", Str),
            ix("podIp", "data.status.podIP", Str),
            p("status", "data.status.phase", Str),
            ix("startTime", "data.status.startTime", Time),
            K8S_CREATE,
        ],
    ),
    kind(
        K8s,
        "replicaset",
        "ReplicaSet",
        NameNamespace,
        &[
            p("replicas", "data.status.replicas", Int),
            p("availableReplicas", "data.status.availableReplicas", Int),
            p("readyReplicas", "data.status.readyReplicas", Int),
            K8S_CREATE,
        ],
    ),
    kind(
        K8s,
        "deployment",
        "Deployment",
        NameNamespace,
        &[
            p("replicas", "data.status.replicas", Int),
            p("availableReplicas", "data.status.availableReplicas", Int),
            p("updatedReplicas", "data.status.updatedReplicas", Int),
            p("strategyType", "data.spec.strategy.type", Str),
            p("dnsPolicy", "data.spec.template.spec.dnsPolicy", Str),
            p(
                "restartPolicy",
                "data.spec.template.spec.restartPolicy",
                Str,
            ),
            K8S_CREATE,
        ],
    ),
    kind(
        K8s,
        "service",
        "Service",
        NameNamespace,
        &[
            p("clusterIp", "data.spec.clusterIP", Str),
            p("type", "data.spec.type", Str),
            K8S_CREATE,
        ],
    ),
    kind(
        K8s,
        "configmap",
        "ConfigMap",
        NameNamespace,
        K8S_CREATE_ONLY,
    ),
    kind(K8s, "secret", "Secret", NameNamespace, K8S_CREATE_ONLY),
    kind(
        K8s,
        "endpoints",
        "Endpoints",
        NameNamespace,
        K8S_CREATE_ONLY,
    ),
    kind(K8s, "ingress", "Ingress", NameNamespace, K8S_CREATE_ONLY),
    kind(
        K8s,
        "namespace",
        "Namespace",
        Name,
        &[p("status", "data.status.phase", Str), K8S_CREATE],
    ),
    kind(
        K8s,
        "node",
        "Node",
        Name,
        &[p("externalID", "data.spec.externalID", Str), K8S_CREATE],
    ),
    kind(
        K8s,
        "daemonset",
        "DaemonSet",
        NameNamespace,
        &[
            p("resourceVersion", "data.metadata.resourceVersion", Str),
            p("uid", "data.metadata.uid", Str),
            p("generation", "data.metadata.generation", Int),
            p("templateGeneration", "data.spec.templateGeneration", Int),
            p("updateStrategyType", "data.spec.updateStrategy.type", Str),
            K8S_CREATE,
        ],
    ),
    kind(
        K8s,
        "job",
        "Job",
        NameNamespace,
        &[
            p("resourceVersion", "data.metadata.resourceVersion", Str),
            p("uid", "data.metadata.uid", Str),
            K8S_CREATE,
        ],
    ),
    kind(
        K8s,
        "statefulset",
        "StatefulSet",
        NameNamespace,
        &[
            p("resourceVersion", "data.metadata.resourceVersion", Str),
            p("uid", "data.metadata.uid", Str),
            p("generation", "data.metadata.generation", Int),
            p("podManagementPolicy", "data.spec.podManagementPolicy", Str),
            p("updateStrategyType", "data.spec.updateStrategy.type", Str),
            p("serviceName", "data.spec.serviceName", Str),
            K8S_CREATE,
        ],
    ),
    kind(K8s, "ippoolstatic", "IPPoolStatic", Common::None, &[]),
    kind(
        K8s,
        "ippoolstaticdetail",
        "IPPoolStaticDetail",
        Common::None,
        &[],
    ),
];

/// Collections whose namespaces the namespace routes gather (C.5.3).
const MESOS_NAMESPACE_SOURCES: &[&str] = &[
    "application",
    "deployment",
    "service",
    "configmap",
    "secret",
];
const K8S_NAMESPACE_SOURCES: &[&str] = &[
    "ReplicaSet",
    "Deployment",
    "Service",
    "ConfigMap",
    "Secret",
    "Ingress",
    "DaemonSet",
    "Job",
    "StatefulSet",
];

/// The kind of a route, if there is one.
pub fn find_kind(env: Env, route: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.env == env && k.route == route)
}

/// Paths of every time parameter of every table: the fields whose instants
/// a dynamic document carries (see [`super::times`]).
pub static TIME_PATHS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let set: BTreeSet<&'static str> = KINDS
        .iter()
        .flat_map(|k| k.params.iter())
        .filter(|p| p.ty == Ty::Time)
        .map(|p| p.path)
        .collect();
    set.into_iter().collect()
});

/// Stored path a parameter's conditions read.
fn stored_path(param: &Param) -> String {
    match param.ty {
        Ty::Time => shadow_path(param.path),
        _ => param.path.to_owned(),
    }
}

/// The secondary indexes the query tables rely on, per collection.
pub fn index_specs() -> Vec<(Namespace, IndexSpec)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for k in KINDS {
        for param in k.params.iter().filter(|p| p.indexed) {
            let path = stored_path(param);
            if seen.insert((k.collection, path.clone())) {
                let field = |path: String, instant| IndexField { path, instant };
                out.push((
                    dynamic_ns(k.collection),
                    IndexSpec {
                        fields: vec![
                            field("clusterId".to_owned(), false),
                            field(path, param.ty == Ty::Time),
                        ],
                    },
                ));
            }
        }
    }
    out
}

fn dynamic_ns(collection: &str) -> Namespace {
    Namespace {
        database: Database::Dynamic,
        collection: collection.to_owned(),
        key_fields: DYNAMIC_KEY,
    }
}

/// A parsed query request.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub filter: Vec<Filter>,
    pub projection: Option<Projection>,
    pub skip: u64,
    pub limit: u64,
    /// `used=1` on the k8s namespace route.
    pub used: bool,
}

/// Parameters every kind reads besides its table.
const RESERVED: &[&str] = &["field", "extra", "offset", "limit", "clusterId", "used"];

/// Turns a POST body (a flat JSON object of strings and numbers) into the
/// parameters a GET would carry.
pub fn body_params(body: &[u8]) -> Result<RawParams, DomainError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RawParams::default());
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| DomainError::InvalidBody(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(DomainError::InvalidBody(
            "request body must be a JSON object of parameters".into(),
        ));
    };
    let mut pairs = Vec::with_capacity(m.len());
    for (k, v) in m {
        let text = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            Value::Array(_) | Value::Object(_) => {
                return Err(DomainError::param(
                    &k,
                    "must be a string or a number in the request body",
                ));
            }
        };
        pairs.push((k, text));
    }
    Ok(RawParams(pairs))
}

impl QueryRequest {
    /// Parses the parameters of `kind`; unknown parameters are ignored and an
    /// empty value sets no condition, as the running service does.
    pub fn parse(
        kind: &Kind,
        raw: &RawParams,
        limits: &QuerySettings,
    ) -> Result<QueryRequest, DomainError> {
        let mut filter = Vec::new();
        for (k, v) in &raw.0 {
            if RESERVED.contains(&k.as_str()) || v.trim().is_empty() {
                continue;
            }
            if let Some(f) = common_condition(kind, k, v) {
                filter.push(f);
                continue;
            }
            for param in kind.params {
                if let Some(f) = condition(param, k, v, limits)? {
                    filter.push(f);
                }
            }
        }
        if let Some(e) = raw.single("extra")?
            && !e.trim().is_empty()
        {
            filter.extend(parse_extra(e, ExtraMode::In, ExtraText::Base64OrJson)?);
        }
        let used = match raw.single("used")? {
            Some(v) => parse_bool("used", v)?,
            None => false,
        };
        Ok(QueryRequest {
            filter,
            projection: parse_field(raw)?,
            skip: parse_offset(raw)?,
            limit: parse_limit(raw, limits)?,
            used,
        })
    }
}

fn strings(v: &str) -> Vec<Value> {
    v.split(',').map(|s| Value::String(s.to_owned())).collect()
}

fn common_condition(kind: &Kind, k: &str, v: &str) -> Option<Filter> {
    match (k, kind.common) {
        ("name", Common::Name | Common::NameNamespace) => {
            Some(Filter::In("resourceName".into(), strings(v)))
        }
        ("namespace", Common::NameNamespace) => Some(Filter::In("namespace".into(), strings(v))),
        _ => None,
    }
}

/// The condition `param` makes of the request parameter `k=v`, if `k` is
/// one of its names.
fn condition(
    param: &Param,
    k: &str,
    v: &str,
    limits: &QuerySettings,
) -> Result<Option<Filter>, DomainError> {
    let path = stored_path(param);
    Ok(Some(match param.ty {
        Ty::Str if k == param.name => Filter::In(path, strings(v)),
        Ty::Int if k == param.name => {
            let mut values = Vec::new();
            for item in v.split(',') {
                let n: i64 = item
                    .trim()
                    .parse()
                    .map_err(|_| DomainError::param(k, format!("{item:?} is not an integer")))?;
                values.push(Value::from(n));
            }
            Filter::In(path, values)
        }
        Ty::Bool if k == param.name => Filter::Eq(path, Value::Bool(parse_bool(k, v)?)),
        Ty::Time => {
            let op = match k.strip_prefix(param.name) {
                Some("Begin") => RangeOp::Gt,
                Some("End") => RangeOp::Lt,
                _ => return Ok(None),
            };
            let ms = parse_time(v, &limits.time_zone).ok_or_else(|| {
                DomainError::param(
                    k,
                    format!("{v:?} is not a time (unix seconds, RFC 3339 or YYYY-MM-DD HH:MM:SS)"),
                )
            })?;
            Filter::Range(path, op, Bound::Instant(ms))
        }
        _ => return Ok(None),
    }))
}

/// The documents a kind shows in a cluster, before the request's conditions.
fn scope_filter(kind: &Kind, cluster_id: &str) -> Vec<Filter> {
    let mut f = vec![Filter::Eq(
        "clusterId".into(),
        Value::String(cluster_id.to_owned()),
    )];
    let process = || Filter::Eq("data.kind".into(), Value::String("process".into()));
    match kind.scope {
        Scope::Application => f.push(Filter::Not(Box::new(process()))),
        Scope::Process => f.push(process()),
        Scope::All | Scope::Namespaces => {}
    }
    f
}

/// What a query route answers.
pub enum QueryReply<S> {
    /// Documents as wire JSON text, streamed.
    Documents(S),
    /// The namespaces in use.
    Namespaces(Vec<String>),
}

/// Runs a query route.
pub async fn query(
    svc: &Service,
    kind: &'static Kind,
    cluster_id: &str,
    raw: &RawParams,
) -> Result<QueryReply<impl Stream<Item = Result<String, DomainError>> + Send + 'static>, DomainError>
{
    check_segment("clusterId", cluster_id)?;
    let req = QueryRequest::parse(kind, raw, &svc.limits)?;
    let aggregate = kind.scope == Scope::Namespaces || (kind.route == "namespace" && req.used);
    if aggregate {
        let sources = match kind.env {
            Env::Mesos => MESOS_NAMESPACE_SOURCES,
            Env::K8s => K8S_NAMESPACE_SOURCES,
        };
        let base = Filter::and(scope_filter(kind, cluster_id));
        let mut all = BTreeSet::new();
        for collection in sources {
            let values = svc
                .store
                .distinct(&dynamic_ns(collection), "namespace", &base)
                .await?;
            all.extend(values.into_iter().filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            }));
        }
        let page = all
            .into_iter()
            .skip(req.skip.min(usize::MAX as u64) as usize)
            .take(req.limit.min(usize::MAX as u64) as usize)
            .collect();
        return Ok(QueryReply::Namespaces(page));
    }
    let mut q = Query::new(Filter::and(
        scope_filter(kind, cluster_id).into_iter().chain(req.filter),
    ));
    q.projection = req.projection;
    q.skip = req.skip;
    q.limit = Some(req.limit);
    let stream = svc
        .store
        .find_text(&dynamic_ns(kind.collection), &q, renderer())
        .await?;
    Ok(QueryReply::Documents(
        stream.map(|r| r.map_err(DomainError::from)),
    ))
}

/// The collections whose kinds have time parameters (their documents
/// carry time instants).
pub fn time_collections() -> impl Iterator<Item = &'static str> {
    KINDS
        .iter()
        .filter(|k| k.params.iter().any(|p| p.ty == Ty::Time))
        .map(|k| k.collection)
}

/// The shadow instants a dynamic document of any kind carries.
pub fn shadow_times_of(data_doc: &Map<String, Value>, svc: &Service) -> Map<String, Value> {
    super::times::shadow_times(data_doc, TIME_PATHS.iter().copied(), &svc.limits.time_zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TimeZone;
    use serde_json::json;

    fn limits() -> QuerySettings {
        QuerySettings {
            default_limit: 3000,
            max_limit: 50000,
            max_clusters: 500,
            time_zone: TimeZone::default(),
        }
    }

    fn parse(kind: (Env, &str), q: &str) -> Result<QueryRequest, DomainError> {
        let k = find_kind(kind.0, kind.1).unwrap_or_else(|| panic!("kind {kind:?}"));
        QueryRequest::parse(k, &RawParams::parse(q), &limits())
    }

    #[test]
    fn every_route_of_the_contract_has_a_kind() {
        for r in [
            "taskgroup",
            "application",
            "process",
            "deployment",
            "service",
            "configmap",
            "secret",
            "endpoints",
            "exportservice",
            "namespace",
            "ippoolstatic",
            "ippoolstaticdetail",
        ] {
            assert!(find_kind(Env::Mesos, r).is_some(), "mesos {r}");
        }
        for r in [
            "pod",
            "replicaset",
            "deployment",
            "service",
            "configmap",
            "secret",
            "endpoints",
            "ingress",
            "namespace",
            "node",
            "daemonset",
            "job",
            "statefulset",
            "ippoolstatic",
            "ippoolstaticdetail",
        ] {
            assert!(find_kind(Env::K8s, r).is_some(), "k8s {r}");
        }
        assert_eq!(
            find_kind(Env::Mesos, "endpoints").map(|k| k.collection),
            Some("endpoint")
        );
    }

    #[test]
    fn typed_parameters_become_typed_conditions() {
        let r = parse((Env::K8s, "deployment"), "replicas=3&name=a,b&unknown=x").expect("valid");
        assert_eq!(
            r.filter,
            vec![
                Filter::In("data.status.replicas".into(), vec![json!(3)]),
                Filter::In("resourceName".into(), vec![json!("a"), json!("b")]),
            ]
        );
        let r = parse((Env::Mesos, "deployment"), "isInRolling=TRUE").expect("valid");
        assert_eq!(
            r.filter,
            vec![Filter::Eq("data.is_in_rolling".into(), json!(true))]
        );
        let r = parse((Env::Mesos, "deployment"), "isInRolling=f").expect("valid");
        assert_eq!(
            r.filter,
            vec![Filter::Eq("data.is_in_rolling".into(), json!(false))]
        );
        // Only Go's strconv.ParseBool forms: a typo is not silently false.
        for bad in ["no", "yes", "tRUE", "2", " true"] {
            assert!(
                parse((Env::Mesos, "deployment"), &format!("isInRolling={bad}")).is_err(),
                "{bad}"
            );
        }
        let r = parse(
            (Env::K8s, "pod"),
            "startTimeBegin=1509423130&startTimeEnd=2017-10-31%2004:12:10",
        )
        .expect("valid");
        assert_eq!(
            r.filter,
            vec![
                Filter::Range(
                    "_bcsTimes.data_status_startTime".into(),
                    RangeOp::Gt,
                    Bound::Instant(1_509_423_130_000)
                ),
                Filter::Range(
                    "_bcsTimes.data_status_startTime".into(),
                    RangeOp::Lt,
                    Bound::Instant(1_509_423_130_000)
                ),
            ]
        );
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let name = |kind: (Env, &str), q: &str| match parse(kind, q) {
            Err(DomainError::InvalidParameter(n, _)) => n,
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(name((Env::K8s, "deployment"), "replicas=x"), "replicas");
        assert_eq!(name((Env::K8s, "deployment"), "replicas=1,x"), "replicas");
        assert_eq!(
            name((Env::K8s, "pod"), "startTimeBegin=abc"),
            "startTimeBegin"
        );
        assert_eq!(
            name((Env::K8s, "pod"), "createTimeEnd=2017-99-01"),
            "createTimeEnd"
        );
        assert_eq!(name((Env::K8s, "pod"), "offset=abc"), "offset");
        assert_eq!(name((Env::K8s, "pod"), "limit=-1"), "limit");
        assert_eq!(name((Env::Mesos, "taskgroup"), "extra=%%%"), "extra");
    }

    #[test]
    fn namespace_is_not_a_filter_of_cluster_scoped_kinds() {
        let r = parse((Env::K8s, "node"), "namespace=a&name=n1").expect("valid");
        assert_eq!(
            r.filter,
            vec![Filter::In("resourceName".into(), vec![json!("n1")])]
        );
        let r = parse((Env::K8s, "pod"), "hostIp=&namespace=").expect("valid");
        assert!(r.filter.is_empty());
    }

    #[test]
    fn post_bodies_are_flat_objects_of_strings_and_numbers() {
        let raw =
            body_params(br#"{"namespace":"ns1","limit":1,"replicas":3,"x":null}"#).expect("valid");
        assert_eq!(
            raw.0,
            vec![
                ("namespace".to_owned(), "ns1".to_owned()),
                ("limit".to_owned(), "1".to_owned()),
                ("replicas".to_owned(), "3".to_owned()),
            ]
        );
        assert!(matches!(
            body_params(br#"{"namespace":["a"]}"#),
            Err(DomainError::InvalidParameter(n, _)) if n == "namespace"
        ));
        assert!(body_params(b"[1]").is_err());
        assert!(body_params(b"{").is_err());
        assert!(
            body_params(b"  ")
                .expect("empty is no parameters")
                .0
                .is_empty()
        );
    }

    #[test]
    fn time_paths_and_indexes_come_from_the_tables() {
        assert!(TIME_PATHS.contains(&"data.status.startTime"));
        assert!(TIME_PATHS.contains(&"data.metadata.creationTimestamp"));
        let specs = index_specs();
        let has = |coll: &str, path: &str, instant: bool| {
            specs.iter().any(|(ns, s)| {
                ns.collection == coll
                    && s.fields[0].path == "clusterId"
                    && s.fields[1]
                        == IndexField {
                            path: path.into(),
                            instant,
                        }
            })
        };
        assert!(has("Pod", "data.status.hostIP", false));
        assert!(has("Pod", "_bcsTimes.data_status_startTime", true));
        assert!(has("taskgroup", "data.hostIP", false));
    }
}
