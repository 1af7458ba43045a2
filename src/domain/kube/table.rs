//! `meta.k8s.io/v1` Tables: the columns kubectl prints for the built-in
//! kinds (as the API server's printers compute them), Name/Age for other
//! kinds, and a first `Cluster` column in the all-clusters view.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::object::metadata_only;
use super::resources::Resource;

/// What a row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(v: Option<&str>) -> Result<IncludeObject, String> {
        match v {
            None | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "includeObject: unsupported value {other:?} (None, Metadata or Object)"
            )),
        }
    }
}

type Cell = fn(&Value, DateTime<Utc>) -> Value;

/// One column: name, type, format, priority, its cell.
struct Column(&'static str, &'static str, &'static str, u8, Cell);

fn s(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(x) => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn int(v: &Value, path: &str) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn none_if_empty(x: Option<String>) -> Value {
    match x {
        Some(x) if !x.is_empty() => Value::String(x),
        _ => Value::String("<none>".into()),
    }
}

/// `duration.HumanDuration` of the API server's printers.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Time since a timestamp field, or `<unknown>`.
fn since(v: &Value, path: &str, now: DateTime<Utc>) -> String {
    match s(v, path).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()) {
        Some(t) => human_duration((now - t.with_timezone(&Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

fn name(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "metadata.name").unwrap_or_default())
}

fn age(o: &Value, now: DateTime<Utc>) -> Value {
    json!(since(o, "metadata.creationTimestamp", now))
}

fn containers(o: &Value, path: &str) -> Value {
    let names: Vec<String> = arr(o, path).iter().filter_map(|c| s(c, "name")).collect();
    json!(names.join(","))
}

fn images(o: &Value, path: &str) -> Value {
    let names: Vec<String> = arr(o, path).iter().filter_map(|c| s(c, "image")).collect();
    json!(names.join(","))
}

/// `metav1.FormatLabelSelector`.
fn selector(o: &Value, path: &str) -> Value {
    let Some(sel) = at(o, path) else {
        return json!("<none>");
    };
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort();
        for k in keys {
            parts.push(format!("{k}={}", m[k].as_str().unwrap_or_default()));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let key = s(e, "key").unwrap_or_default();
        let values: Vec<String> = arr(e, "values")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        match s(e, "operator").as_deref() {
            Some("In") => parts.push(format!("{key} in ({})", values.join(","))),
            Some("NotIn") => parts.push(format!("{key} notin ({})", values.join(","))),
            Some("Exists") => parts.push(key),
            Some("DoesNotExist") => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    if parts.is_empty() {
        json!("<none>")
    } else {
        json!(parts.join(","))
    }
}

/// A plain `key=value` map (a service's selector, a node selector).
fn map_selector(o: &Value, path: &str) -> Value {
    match at(o, path).and_then(Value::as_object) {
        Some(m) if !m.is_empty() => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}={}", m[*k].as_str().unwrap_or_default()))
                .collect();
            json!(parts.join(","))
        }
        _ => json!("<none>"),
    }
}

fn pod_ready(o: &Value, _: DateTime<Utc>) -> Value {
    let total = arr(o, "spec.containers").len();
    let ready = arr(o, "status.containerStatuses")
        .iter()
        .filter(|c| c.get("ready") == Some(&Value::Bool(true)) && at(c, "state.running").is_some())
        .count();
    json!(format!("{ready}/{total}"))
}

/// The STATUS column of `kubectl get pods` (`printPod`).
fn pod_status(o: &Value, _: DateTime<Utc>) -> Value {
    let mut reason = s(o, "status.phase").unwrap_or_default();
    if let Some(r) = s(o, "status.reason").filter(|r| !r.is_empty()) {
        reason = r;
    }
    let mut initializing = false;
    let inits = arr(o, "status.initContainerStatuses");
    let init_total = arr(o, "spec.initContainers").len();
    for (i, c) in inits.iter().enumerate() {
        let exit = at(c, "state.terminated.exitCode").and_then(Value::as_i64);
        if exit == Some(0) {
            continue;
        }
        if let Some(t) = at(c, "state.terminated") {
            reason = match s(t, "reason").filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => match t.get("signal").and_then(Value::as_i64).filter(|x| *x != 0) {
                    Some(sig) => format!("Init:Signal:{sig}"),
                    None => format!("Init:ExitCode:{}", exit.unwrap_or(0)),
                },
            };
        } else if let Some(r) =
            s(c, "state.waiting.reason").filter(|r| !r.is_empty() && r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in arr(o, "status.containerStatuses").iter().rev() {
            if let Some(r) = s(c, "state.waiting.reason").filter(|r| !r.is_empty()) {
                reason = r;
            } else if let Some(t) = at(c, "state.terminated") {
                reason = match s(t, "reason").filter(|r| !r.is_empty()) {
                    Some(r) => r,
                    None => match t.get("signal").and_then(Value::as_i64).filter(|x| *x != 0) {
                        Some(sig) => format!("Signal:{sig}"),
                        None => format!("ExitCode:{}", int(t, "exitCode")),
                    },
                };
            } else if c.get("ready") == Some(&Value::Bool(true)) && at(c, "state.running").is_some()
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready = arr(o, "status.conditions").iter().any(|c| {
                s(c, "type").as_deref() == Some("Ready")
                    && s(c, "status").as_deref() == Some("True")
            });
            reason = if ready {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    if at(o, "metadata.deletionTimestamp").is_some_and(|v| !v.is_null()) {
        reason = if s(o, "status.reason").as_deref() == Some("NodeLost") {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    json!(reason)
}

fn pod_restarts(o: &Value, now: DateTime<Utc>) -> Value {
    let mut restarts = 0;
    let mut last: Option<DateTime<Utc>> = None;
    for c in arr(o, "status.containerStatuses") {
        restarts += int(c, "restartCount");
        if let Some(t) = s(c, "lastState.terminated.finishedAt")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        {
            let t = t.with_timezone(&Utc);
            if last.is_none_or(|l| t > l) {
                last = Some(t);
            }
        }
    }
    match last {
        Some(t) if restarts > 0 => json!(format!(
            "{restarts} ({} ago)",
            human_duration((now - t).num_seconds())
        )),
        _ => json!(restarts.to_string()),
    }
}

fn pod_ip(o: &Value, _: DateTime<Utc>) -> Value {
    none_if_empty(s(o, "status.podIP"))
}
fn pod_node(o: &Value, _: DateTime<Utc>) -> Value {
    none_if_empty(s(o, "spec.nodeName"))
}
fn pod_nominated(o: &Value, _: DateTime<Utc>) -> Value {
    none_if_empty(s(o, "status.nominatedNodeName"))
}
fn pod_gates(o: &Value, _: DateTime<Utc>) -> Value {
    let gates = arr(o, "spec.readinessGates");
    if gates.is_empty() {
        return json!("<none>");
    }
    let conds = arr(o, "status.conditions");
    let ready = gates
        .iter()
        .filter(|g| {
            let t = s(g, "conditionType");
            conds
                .iter()
                .any(|c| s(c, "type") == t && s(c, "status").as_deref() == Some("True"))
        })
        .count();
    json!(format!("{ready}/{}", gates.len()))
}

fn deploy_ready(o: &Value, _: DateTime<Utc>) -> Value {
    json!(format!(
        "{}/{}",
        int(o, "status.readyReplicas"),
        int(o, "spec.replicas")
    ))
}
fn updated(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.updatedReplicas"))
}
fn available(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.availableReplicas"))
}
fn tpl_containers(o: &Value, _: DateTime<Utc>) -> Value {
    containers(o, "spec.template.spec.containers")
}
fn tpl_images(o: &Value, _: DateTime<Utc>) -> Value {
    images(o, "spec.template.spec.containers")
}
fn spec_selector(o: &Value, _: DateTime<Utc>) -> Value {
    selector(o, "spec.selector")
}
fn rs_desired(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "spec.replicas"))
}
fn rs_current(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.replicas"))
}
fn rs_ready(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.readyReplicas"))
}
fn ds_desired(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.desiredNumberScheduled"))
}
fn ds_current(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.currentNumberScheduled"))
}
fn ds_ready(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.numberReady"))
}
fn ds_updated(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.updatedNumberScheduled"))
}
fn ds_available(o: &Value, _: DateTime<Utc>) -> Value {
    json!(int(o, "status.numberAvailable"))
}
fn ds_node_selector(o: &Value, _: DateTime<Utc>) -> Value {
    map_selector(o, "spec.template.spec.nodeSelector")
}

fn svc_type(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "spec.type").unwrap_or_else(|| "ClusterIP".into()))
}
fn svc_cluster_ip(o: &Value, _: DateTime<Utc>) -> Value {
    none_if_empty(s(o, "spec.clusterIP"))
}
fn svc_external_ip(o: &Value, _: DateTime<Utc>) -> Value {
    let mut ips: Vec<String> = arr(o, "spec.externalIPs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    match s(o, "spec.type").as_deref() {
        Some("ExternalName") => return none_if_empty(s(o, "spec.externalName")),
        Some("LoadBalancer") => {
            for i in arr(o, "status.loadBalancer.ingress") {
                if let Some(x) = s(i, "ip").or_else(|| s(i, "hostname")) {
                    ips.push(x);
                }
            }
            if ips.is_empty() {
                return json!("<pending>");
            }
        }
        _ => {}
    }
    none_if_empty(Some(ips.join(",")))
}
fn svc_ports(o: &Value, _: DateTime<Utc>) -> Value {
    let ports: Vec<String> = arr(o, "spec.ports")
        .iter()
        .map(|p| {
            let proto = s(p, "protocol").unwrap_or_else(|| "TCP".into());
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) if np != 0 => format!("{}:{np}/{proto}", int(p, "port")),
                _ => format!("{}/{proto}", int(p, "port")),
            }
        })
        .collect();
    none_if_empty(Some(ports.join(",")))
}
fn svc_selector(o: &Value, _: DateTime<Utc>) -> Value {
    map_selector(o, "spec.selector")
}

fn node_status(o: &Value, _: DateTime<Utc>) -> Value {
    let mut out = Vec::new();
    match arr(o, "status.conditions")
        .iter()
        .find(|c| s(c, "type").as_deref() == Some("Ready"))
    {
        Some(c) if s(c, "status").as_deref() == Some("True") => out.push("Ready".to_owned()),
        Some(_) => out.push("NotReady".to_owned()),
        None => out.push("Unknown".to_owned()),
    }
    if at(o, "spec.unschedulable") == Some(&Value::Bool(true)) {
        out.push("SchedulingDisabled".into());
    }
    json!(out.join(","))
}
fn node_roles(o: &Value, _: DateTime<Utc>) -> Value {
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = at(o, "metadata.labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                if !r.is_empty() {
                    roles.push(r.to_owned());
                }
            } else if k == "kubernetes.io/role"
                && let Some(r) = v.as_str().filter(|r| !r.is_empty())
            {
                roles.push(r.to_owned());
            }
        }
    }
    roles.sort();
    roles.dedup();
    none_if_empty(Some(roles.join(",")))
}
fn node_address(o: &Value, kind: &str) -> Value {
    none_if_empty(
        arr(o, "status.addresses")
            .iter()
            .find(|a| s(a, "type").as_deref() == Some(kind))
            .and_then(|a| s(a, "address")),
    )
}
fn node_internal_ip(o: &Value, _: DateTime<Utc>) -> Value {
    node_address(o, "InternalIP")
}
fn node_external_ip(o: &Value, _: DateTime<Utc>) -> Value {
    node_address(o, "ExternalIP")
}
fn node_version(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "status.nodeInfo.kubeletVersion").unwrap_or_default())
}
fn node_os(o: &Value, _: DateTime<Utc>) -> Value {
    none_if_empty(s(o, "status.nodeInfo.osImage"))
        .as_str()
        .map_or(json!("<unknown>"), |x| {
            if x == "<none>" {
                json!("<unknown>")
            } else {
                json!(x)
            }
        })
}
fn node_kernel(o: &Value, _: DateTime<Utc>) -> Value {
    let k = s(o, "status.nodeInfo.kernelVersion").filter(|x| !x.is_empty());
    json!(k.unwrap_or_else(|| "<unknown>".into()))
}
fn node_runtime(o: &Value, _: DateTime<Utc>) -> Value {
    let k = s(o, "status.nodeInfo.containerRuntimeVersion").filter(|x| !x.is_empty());
    json!(k.unwrap_or_else(|| "<unknown>".into()))
}

fn phase(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "status.phase").unwrap_or_default())
}
fn data_count(o: &Value, _: DateTime<Utc>) -> Value {
    let n = |p: &str| at(o, p).and_then(Value::as_object).map_or(0, Map::len);
    json!(n("data") + n("binaryData"))
}
fn secret_type(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "type").unwrap_or_default())
}

fn ev_last_seen(o: &Value, now: DateTime<Utc>) -> Value {
    for p in [
        "series.lastObservedTime",
        "lastTimestamp",
        "eventTime",
        "metadata.creationTimestamp",
    ] {
        if s(o, p).is_some_and(|x| !x.is_empty()) {
            return json!(since(o, p, now));
        }
    }
    json!("<unknown>")
}
fn ev_first_seen(o: &Value, now: DateTime<Utc>) -> Value {
    for p in ["firstTimestamp", "eventTime", "metadata.creationTimestamp"] {
        if s(o, p).is_some_and(|x| !x.is_empty()) {
            return json!(since(o, p, now));
        }
    }
    json!("<unknown>")
}
fn ev_type(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "type").unwrap_or_default())
}
fn ev_reason(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "reason").unwrap_or_default())
}
fn ev_object(o: &Value, _: DateTime<Utc>) -> Value {
    json!(format!(
        "{}/{}",
        s(o, "involvedObject.kind")
            .unwrap_or_default()
            .to_lowercase(),
        s(o, "involvedObject.name").unwrap_or_default()
    ))
}
fn ev_subobject(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "involvedObject.fieldPath").unwrap_or_default())
}
fn ev_source(o: &Value, _: DateTime<Utc>) -> Value {
    let c = s(o, "source.component")
        .or_else(|| s(o, "reportingComponent"))
        .unwrap_or_default();
    match s(o, "source.host").filter(|h| !h.is_empty()) {
        Some(h) => json!(format!("{c}, {h}")),
        None => json!(c),
    }
}
fn ev_message(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "message").unwrap_or_default().trim().to_owned())
}
fn ev_count(o: &Value, _: DateTime<Utc>) -> Value {
    let n = at(o, "series.count")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| int(o, "count"));
    json!(n)
}
fn ev_name(o: &Value, _: DateTime<Utc>) -> Value {
    name(o, Utc::now())
}

fn sts_ready(o: &Value, _: DateTime<Utc>) -> Value {
    json!(format!(
        "{}/{}",
        int(o, "status.readyReplicas"),
        int(o, "spec.replicas")
    ))
}

fn job_status(o: &Value, _: DateTime<Utc>) -> Value {
    let conds = arr(o, "status.conditions");
    let has = |t: &str| {
        conds.iter().any(|c| {
            s(c, "type").as_deref() == Some(t) && s(c, "status").as_deref() == Some("True")
        })
    };
    let st = if has("Failed") {
        "Failed"
    } else if has("Complete") {
        "Complete"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    json!(st)
}
fn job_completions(o: &Value, _: DateTime<Utc>) -> Value {
    match at(o, "spec.completions").and_then(Value::as_i64) {
        Some(c) => json!(format!("{}/{c}", int(o, "status.succeeded"))),
        None => {
            let p = at(o, "spec.parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if p > 1 {
                json!(format!("{}/1 of {p}", int(o, "status.succeeded")))
            } else {
                json!(format!("{}/1", int(o, "status.succeeded")))
            }
        }
    }
}
fn job_duration(o: &Value, now: DateTime<Utc>) -> Value {
    let t = |p: &str| {
        s(o, p)
            .and_then(|x| DateTime::parse_from_rfc3339(&x).ok())
            .map(|x| x.with_timezone(&Utc))
    };
    match (t("status.startTime"), t("status.completionTime")) {
        (Some(a), Some(b)) => json!(human_duration((b - a).num_seconds())),
        (Some(a), None) => json!(human_duration((now - a).num_seconds())),
        _ => json!(""),
    }
}
fn job_tpl_containers(o: &Value, _: DateTime<Utc>) -> Value {
    containers(o, "spec.jobTemplate.spec.template.spec.containers")
}
fn job_tpl_images(o: &Value, _: DateTime<Utc>) -> Value {
    images(o, "spec.jobTemplate.spec.template.spec.containers")
}
fn cj_selector(o: &Value, _: DateTime<Utc>) -> Value {
    selector(o, "spec.jobTemplate.spec.selector")
}
fn cj_schedule(o: &Value, _: DateTime<Utc>) -> Value {
    json!(s(o, "spec.schedule").unwrap_or_default())
}
fn cj_tz(o: &Value, _: DateTime<Utc>) -> Value {
    none_if_empty(s(o, "spec.timeZone"))
}
fn cj_suspend(o: &Value, _: DateTime<Utc>) -> Value {
    json!(if at(o, "spec.suspend") == Some(&Value::Bool(true)) {
        "True"
    } else {
        "False"
    })
}
fn cj_active(o: &Value, _: DateTime<Utc>) -> Value {
    json!(arr(o, "status.active").len())
}
fn cj_last(o: &Value, now: DateTime<Utc>) -> Value {
    if s(o, "status.lastScheduleTime").is_some() {
        json!(since(o, "status.lastScheduleTime", now))
    } else {
        json!("<none>")
    }
}
fn ep_endpoints(o: &Value, _: DateTime<Utc>) -> Value {
    let mut out = Vec::new();
    for sub in arr(o, "subsets") {
        for a in arr(sub, "addresses") {
            let ip = s(a, "ip").unwrap_or_default();
            let ports = arr(sub, "ports");
            if ports.is_empty() {
                out.push(ip.clone());
            }
            for p in ports {
                out.push(format!("{ip}:{}", int(p, "port")));
            }
        }
    }
    let n = out.len();
    if n > 3 {
        out.truncate(3);
        return json!(format!("{} + {} more...", out.join(","), n - 3));
    }
    none_if_empty(Some(out.join(",")))
}

const NAME: Column = Column("Name", "string", "name", 0, name);
const AGE: Column = Column("Age", "string", "", 0, age);

fn columns_of(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            NAME,
            Column("Ready", "string", "", 0, pod_ready),
            Column("Status", "string", "", 0, pod_status),
            Column("Restarts", "string", "", 0, pod_restarts),
            AGE,
            Column("IP", "string", "", 1, pod_ip),
            Column("Node", "string", "", 1, pod_node),
            Column("Nominated Node", "string", "", 1, pod_nominated),
            Column("Readiness Gates", "string", "", 1, pod_gates),
        ],
        "Deployment" => vec![
            NAME,
            Column("Ready", "string", "", 0, deploy_ready),
            Column("Up-to-date", "integer", "", 0, updated),
            Column("Available", "integer", "", 0, available),
            AGE,
            Column("Containers", "string", "", 1, tpl_containers),
            Column("Images", "string", "", 1, tpl_images),
            Column("Selector", "string", "", 1, spec_selector),
        ],
        "ReplicaSet" | "ReplicationController" => vec![
            NAME,
            Column("Desired", "integer", "", 0, rs_desired),
            Column("Current", "integer", "", 0, rs_current),
            Column("Ready", "integer", "", 0, rs_ready),
            AGE,
            Column("Containers", "string", "", 1, tpl_containers),
            Column("Images", "string", "", 1, tpl_images),
            Column("Selector", "string", "", 1, spec_selector),
        ],
        "StatefulSet" => vec![
            NAME,
            Column("Ready", "string", "", 0, sts_ready),
            AGE,
            Column("Containers", "string", "", 1, tpl_containers),
            Column("Images", "string", "", 1, tpl_images),
        ],
        "DaemonSet" => vec![
            NAME,
            Column("Desired", "integer", "", 0, ds_desired),
            Column("Current", "integer", "", 0, ds_current),
            Column("Ready", "integer", "", 0, ds_ready),
            Column("Up-to-date", "integer", "", 0, ds_updated),
            Column("Available", "integer", "", 0, ds_available),
            Column("Node Selector", "string", "", 0, ds_node_selector),
            AGE,
            Column("Containers", "string", "", 1, tpl_containers),
            Column("Images", "string", "", 1, tpl_images),
            Column("Selector", "string", "", 1, spec_selector),
        ],
        "Job" => vec![
            NAME,
            Column("Status", "string", "", 0, job_status),
            Column("Completions", "string", "", 0, job_completions),
            Column("Duration", "string", "", 0, job_duration),
            AGE,
            Column("Containers", "string", "", 1, tpl_containers),
            Column("Images", "string", "", 1, tpl_images),
            Column("Selector", "string", "", 1, spec_selector),
        ],
        "CronJob" => vec![
            NAME,
            Column("Schedule", "string", "", 0, cj_schedule),
            Column("Timezone", "string", "", 0, cj_tz),
            Column("Suspend", "boolean", "", 0, cj_suspend),
            Column("Active", "integer", "", 0, cj_active),
            Column("Last Schedule", "string", "", 0, cj_last),
            AGE,
            Column("Containers", "string", "", 1, job_tpl_containers),
            Column("Images", "string", "", 1, job_tpl_images),
            Column("Selector", "string", "", 1, cj_selector),
        ],
        "Service" => vec![
            NAME,
            Column("Type", "string", "", 0, svc_type),
            Column("Cluster-IP", "string", "", 0, svc_cluster_ip),
            Column("External-IP", "string", "", 0, svc_external_ip),
            Column("Port(s)", "string", "", 0, svc_ports),
            AGE,
            Column("Selector", "string", "", 1, svc_selector),
        ],
        "Endpoints" => vec![
            NAME,
            Column("Endpoints", "string", "", 0, ep_endpoints),
            AGE,
        ],
        "Node" => vec![
            NAME,
            Column("Status", "string", "", 0, node_status),
            Column("Roles", "string", "", 0, node_roles),
            AGE,
            Column("Version", "string", "", 0, node_version),
            Column("Internal-IP", "string", "", 1, node_internal_ip),
            Column("External-IP", "string", "", 1, node_external_ip),
            Column("OS-Image", "string", "", 1, node_os),
            Column("Kernel-Version", "string", "", 1, node_kernel),
            Column("Container-Runtime", "string", "", 1, node_runtime),
        ],
        "Namespace" => vec![NAME, Column("Status", "string", "", 0, phase), AGE],
        "ConfigMap" => vec![NAME, Column("Data", "integer", "", 0, data_count), AGE],
        "Secret" => vec![
            NAME,
            Column("Type", "string", "", 0, secret_type),
            Column("Data", "integer", "", 0, data_count),
            AGE,
        ],
        "Event" => vec![
            Column("Last Seen", "string", "", 0, ev_last_seen),
            Column("Type", "string", "", 0, ev_type),
            Column("Reason", "string", "", 0, ev_reason),
            Column("Object", "string", "", 0, ev_object),
            Column("Subobject", "string", "", 1, ev_subobject),
            Column("Source", "string", "", 1, ev_source),
            Column("Message", "string", "", 0, ev_message),
            Column("First Seen", "string", "", 1, ev_first_seen),
            Column("Count", "string", "", 1, ev_count),
            Column("Name", "string", "", 1, ev_name),
        ],
        "PersistentVolumeClaim" => vec![
            NAME,
            Column("Status", "string", "", 0, phase),
            Column("Volume", "string", "", 0, |o, _| {
                json!(s(o, "spec.volumeName").unwrap_or_default())
            }),
            Column("Capacity", "string", "", 0, |o, _| {
                json!(s(o, "status.capacity.storage").unwrap_or_default())
            }),
            Column("Storage Class", "string", "", 0, |o, _| {
                json!(s(o, "spec.storageClassName").unwrap_or_default())
            }),
            AGE,
        ],
        _ => vec![NAME, AGE],
    }
}

/// A table's column definitions.
pub struct Layout {
    columns: Vec<Column>,
    cluster: bool,
}

impl Layout {
    pub fn new(res: &Resource, cluster_column: bool) -> Layout {
        let kind = if res.builtin.is_some() {
            res.kind.as_str()
        } else {
            ""
        };
        Layout {
            columns: columns_of(kind),
            cluster: cluster_column,
        }
    }

    /// `columnDefinitions`.
    pub fn definitions(&self) -> Value {
        let mut defs = Vec::new();
        if self.cluster {
            defs.push(json!({"name": "Cluster", "type": "string", "format": "", "description": "The cluster the object is stored for", "priority": 0}));
        }
        for Column(name, ty, format, priority, _) in &self.columns {
            defs.push(json!({
                "name": name,
                "type": ty,
                "format": format,
                "description": description(name),
                "priority": priority,
            }));
        }
        Value::Array(defs)
    }

    /// One row.
    pub fn row(
        &self,
        obj: Map<String, Value>,
        cluster: &str,
        include: IncludeObject,
        now: DateTime<Utc>,
    ) -> Value {
        let meta = match include {
            IncludeObject::Metadata => Some(metadata_only(&obj)),
            _ => None,
        };
        let o = Value::Object(obj);
        let mut cells = Vec::with_capacity(self.columns.len() + 1);
        if self.cluster {
            cells.push(json!(cluster));
        }
        for Column(_, _, _, _, cell) in &self.columns {
            cells.push(cell(&o, now));
        }
        let mut row = json!({"cells": cells});
        match include {
            IncludeObject::None => {}
            IncludeObject::Metadata => {
                row["object"] = Value::Object(meta.unwrap_or_default());
            }
            IncludeObject::Object => row["object"] = o,
        }
        row
    }
}

fn description(column: &str) -> &'static str {
    match column {
        "Name" => {
            "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
        }
        "Age" => {
            "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kube::resources::builtin_by_kind;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600 * 5 + 60 * 7), "5h7m");
        assert_eq!(human_duration(86400 * 3 + 3600), "3d1h");
        assert_eq!(human_duration(86400 * 400), "400d");
    }

    #[test]
    fn pod_row() {
        let pod = json!({"metadata": {"name": "p", "creationTimestamp": "2026-12-03T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let res = Resource::of_builtin(builtin_by_kind("Pod").unwrap());
        let layout = Layout::new(&res, true);
        let now = DateTime::parse_from_rfc3339("2026-12-03T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let row = layout.row(
            pod.as_object().unwrap().clone(),
            "c1",
            IncludeObject::None,
            now,
        );
        assert_eq!(
            row["cells"],
            json!([
                "c1",
                "p",
                "1/2",
                "CrashLoopBackOff",
                "2",
                "60m",
                "10.0.0.1",
                "n1",
                "<none>",
                "<none>"
            ])
        );
    }
}
