//! The Kubernetes resources the stored kinds are served as: one data table
//! for the built-in kinds (group, version, plural, short names, scope,
//! field labels), and the rule for any other stored kind (the group/version
//! of its stored `apiVersion`, the plural kubectl would guess).

/// How a field-selector value compares with the stored field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Bool,
    Int,
}

/// A field label a selector may name: the label, the path in the object,
/// the type of the value there.
pub type FieldLabel = (&'static str, &'static str, FieldType);

/// A built-in kind.
#[derive(Debug, PartialEq, Eq)]
pub struct Builtin {
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    pub categories: &'static [&'static str],
    /// Field labels besides `metadata.name` and `metadata.namespace`.
    pub fields: &'static [FieldLabel],
}

use FieldType::{Bool, Int, Str};

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

macro_rules! b {
    ($kind:literal, $group:literal, $version:literal, $plural:literal, [$($short:literal),*], $ns:literal, $cat:expr, $fields:expr) => {
        Builtin {
            kind: $kind,
            group: $group,
            version: $version,
            plural: $plural,
            short_names: &[$($short),*],
            namespaced: $ns,
            categories: $cat,
            fields: $fields,
        }
    };
}

const POD_FIELDS: &[FieldLabel] = &[
    ("spec.nodeName", "spec.nodeName", Str),
    ("spec.restartPolicy", "spec.restartPolicy", Str),
    ("spec.schedulerName", "spec.schedulerName", Str),
    ("spec.serviceAccountName", "spec.serviceAccountName", Str),
    ("spec.hostNetwork", "spec.hostNetwork", Bool),
    ("status.phase", "status.phase", Str),
    ("status.podIP", "status.podIP", Str),
    ("status.nominatedNodeName", "status.nominatedNodeName", Str),
];

const EVENT_FIELDS: &[FieldLabel] = &[
    ("involvedObject.kind", "involvedObject.kind", Str),
    ("involvedObject.namespace", "involvedObject.namespace", Str),
    ("involvedObject.name", "involvedObject.name", Str),
    ("involvedObject.uid", "involvedObject.uid", Str),
    (
        "involvedObject.apiVersion",
        "involvedObject.apiVersion",
        Str,
    ),
    (
        "involvedObject.resourceVersion",
        "involvedObject.resourceVersion",
        Str,
    ),
    ("involvedObject.fieldPath", "involvedObject.fieldPath", Str),
    ("reason", "reason", Str),
    ("reportingComponent", "reportingComponent", Str),
    ("source", "source.component", Str),
    ("type", "type", Str),
];

/// The built-in kinds, as a Kubernetes 1.32 API server serves them
/// (`batch/v1` is also reachable as seed 002's `apps/batch/v1`).
pub static BUILTINS: &[Builtin] = &[
    b!("Pod", "", "v1", "pods", ["po"], true, ALL, POD_FIELDS),
    // Read from the metric store (`super::metrics`), as metrics-server
    // serves them.
    b!(
        "PodMetrics",
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        [],
        true,
        NONE,
        &[]
    ),
    b!(
        "NodeMetrics",
        "metrics.k8s.io",
        "v1beta1",
        "nodes",
        [],
        false,
        NONE,
        &[]
    ),
    b!("Service", "", "v1", "services", ["svc"], true, ALL, &[]),
    b!("Endpoints", "", "v1", "endpoints", ["ep"], true, NONE, &[]),
    b!("ConfigMap", "", "v1", "configmaps", ["cm"], true, NONE, &[]),
    b!(
        "Secret",
        "",
        "v1",
        "secrets",
        [],
        true,
        NONE,
        &[("type", "type", Str)]
    ),
    b!(
        "Node",
        "",
        "v1",
        "nodes",
        ["no"],
        false,
        NONE,
        &[("spec.unschedulable", "spec.unschedulable", Bool)]
    ),
    b!(
        "Namespace",
        "",
        "v1",
        "namespaces",
        ["ns"],
        false,
        NONE,
        &[("status.phase", "status.phase", Str)]
    ),
    b!(
        "Event",
        "",
        "v1",
        "events",
        ["ev"],
        true,
        NONE,
        EVENT_FIELDS
    ),
    b!(
        "PersistentVolume",
        "",
        "v1",
        "persistentvolumes",
        ["pv"],
        false,
        NONE,
        &[]
    ),
    b!(
        "PersistentVolumeClaim",
        "",
        "v1",
        "persistentvolumeclaims",
        ["pvc"],
        true,
        NONE,
        &[]
    ),
    b!(
        "ServiceAccount",
        "",
        "v1",
        "serviceaccounts",
        ["sa"],
        true,
        NONE,
        &[]
    ),
    b!(
        "ReplicationController",
        "",
        "v1",
        "replicationcontrollers",
        ["rc"],
        true,
        ALL,
        &[("status.replicas", "status.replicas", Int)]
    ),
    b!(
        "ResourceQuota",
        "",
        "v1",
        "resourcequotas",
        ["quota"],
        true,
        NONE,
        &[]
    ),
    b!(
        "LimitRange",
        "",
        "v1",
        "limitranges",
        ["limits"],
        true,
        NONE,
        &[]
    ),
    b!("PodTemplate", "", "v1", "podtemplates", [], true, NONE, &[]),
    b!(
        "Deployment",
        "apps",
        "v1",
        "deployments",
        ["deploy"],
        true,
        ALL,
        &[]
    ),
    b!(
        "ReplicaSet",
        "apps",
        "v1",
        "replicasets",
        ["rs"],
        true,
        ALL,
        &[("status.replicas", "status.replicas", Int)]
    ),
    b!(
        "StatefulSet",
        "apps",
        "v1",
        "statefulsets",
        ["sts"],
        true,
        ALL,
        &[]
    ),
    b!(
        "DaemonSet",
        "apps",
        "v1",
        "daemonsets",
        ["ds"],
        true,
        ALL,
        &[]
    ),
    b!(
        "ControllerRevision",
        "apps",
        "v1",
        "controllerrevisions",
        [],
        true,
        NONE,
        &[]
    ),
    b!(
        "Job",
        "batch",
        "v1",
        "jobs",
        [],
        true,
        ALL,
        &[("status.successful", "status.succeeded", Int)]
    ),
    b!("CronJob", "batch", "v1", "cronjobs", ["cj"], true, ALL, &[]),
    b!(
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        ["hpa"],
        true,
        ALL,
        &[]
    ),
    b!(
        "Ingress",
        "networking.k8s.io",
        "v1",
        "ingresses",
        ["ing"],
        true,
        NONE,
        &[]
    ),
    b!(
        "IngressClass",
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        [],
        false,
        NONE,
        &[]
    ),
    b!(
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        ["netpol"],
        true,
        NONE,
        &[]
    ),
    b!(
        "EndpointSlice",
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        [],
        true,
        NONE,
        &[]
    ),
    b!(
        "PodDisruptionBudget",
        "policy",
        "v1",
        "poddisruptionbudgets",
        ["pdb"],
        true,
        NONE,
        &[]
    ),
    b!(
        "StorageClass",
        "storage.k8s.io",
        "v1",
        "storageclasses",
        ["sc"],
        false,
        NONE,
        &[]
    ),
    b!(
        "Role",
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        [],
        true,
        NONE,
        &[]
    ),
    b!(
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        [],
        true,
        NONE,
        &[]
    ),
    b!(
        "ClusterRole",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        [],
        false,
        NONE,
        &[]
    ),
    b!(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        [],
        false,
        NONE,
        &[]
    ),
    b!(
        "PriorityClass",
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        ["pc"],
        false,
        NONE,
        &[]
    ),
    b!(
        "Lease",
        "coordination.k8s.io",
        "v1",
        "leases",
        [],
        true,
        NONE,
        &[]
    ),
    b!(
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        ["crd", "crds"],
        false,
        NONE,
        &[]
    ),
];

/// A resource as served: a built-in kind or another stored kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The Kind; also the stored `resourceType` and collection.
    pub kind: String,
    pub group: String,
    pub version: String,
    pub plural: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub categories: Vec<String>,
    /// The built-in entry, for field labels and table columns.
    pub builtin: Option<&'static Builtin>,
}

impl Resource {
    pub fn of_builtin(b: &'static Builtin) -> Resource {
        Resource {
            kind: b.kind.to_owned(),
            group: b.group.to_owned(),
            version: b.version.to_owned(),
            plural: b.plural.to_owned(),
            short_names: b.short_names.iter().map(|s| (*s).to_owned()).collect(),
            namespaced: b.namespaced,
            categories: b.categories.iter().map(|s| (*s).to_owned()).collect(),
            builtin: Some(b),
        }
    }

    /// A stored kind that is not built in, from a stored `apiVersion`.
    pub fn of_stored(kind: &str, api_version: &str, namespaced: bool) -> Resource {
        let (group, version) = split_api_version(api_version);
        Resource {
            kind: kind.to_owned(),
            group: group.to_owned(),
            version: version.to_owned(),
            plural: guess_plural(kind),
            short_names: Vec::new(),
            namespaced,
            categories: Vec::new(),
            builtin: None,
        }
    }

    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Lower-case kind (`singularName` in discovery).
    pub fn singular(&self) -> String {
        self.kind.to_lowercase()
    }

    /// The field labels a selector may name (with `metadata.name` and
    /// `metadata.namespace`, which every kind has).
    pub fn field_labels(&self) -> &'static [FieldLabel] {
        self.builtin.map_or(&[], |b| b.fields)
    }
}

/// `group/version` or `version` (the core group).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The plural kubectl guesses for a kind (`meta.UnsafeGuessKindToResource`).
pub fn guess_plural(kind: &str) -> String {
    let singular = kind.to_lowercase();
    if let Some(stem) = singular.strip_suffix('s') {
        return format!("{stem}ses");
    }
    if let Some(stem) = singular.strip_suffix('y') {
        return format!("{stem}ies");
    }
    format!("{singular}s")
}

/// The built-in kind of that name.
pub fn builtin_by_kind(kind: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.kind == kind)
}

/// The built-in resource at a group/version/plural (seed 002's
/// `apps/batch` is `batch`).
pub fn builtin_by_path(group: &str, version: &str, plural: &str) -> Option<&'static Builtin> {
    let group = if group == "apps/batch" {
        "batch"
    } else {
        group
    };
    BUILTINS
        .iter()
        .find(|b| b.group == group && b.version == version && b.plural == plural)
}

/// Whether a stored collection could hold a Kubernetes kind: Kinds are
/// CamelCase (the mesos types are lower case).
pub fn kind_like(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_as_kubectl_guesses_them() {
        assert_eq!(guess_plural("BcsLogConfig"), "bcslogconfigs");
        assert_eq!(guess_plural("Ingress"), "ingresses");
        assert_eq!(guess_plural("NetworkPolicy"), "networkpolicies");
    }

    #[test]
    fn builtins_are_unique_by_path_and_kind() {
        for (i, a) in BUILTINS.iter().enumerate() {
            for b in &BUILTINS[i + 1..] {
                assert_ne!(a.kind, b.kind);
                assert!((a.group, a.plural) != (b.group, b.plural));
            }
        }
        assert_eq!(
            builtin_by_path("apps/batch", "v1", "jobs").unwrap().kind,
            "Job"
        );
        assert!(kind_like("Pod") && !kind_like("application") && !kind_like("Pod.x"));
    }
}
