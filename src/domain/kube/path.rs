//! Where a Kubernetes-dialect request points: the view (one cluster or all
//! of them) and the target under it (discovery, a resource collection or
//! object, Clusterpedia's extra resources).

use percent_encoding::percent_decode_str;

/// Clusterpedia's resources root.
pub const CLUSTERPEDIA_RESOURCES: &str = "/apis/clusterpedia.io/v1beta1/resources";
/// Clusterpedia's group/version.
pub const CLUSTERPEDIA_GV: &str = "/apis/clusterpedia.io/v1beta1";

/// Which clusters a request sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// One cluster, named in the path.
    One(String),
    /// Every cluster (narrowed by the `clusters` parameter).
    All,
}

/// What under the view a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    Resources {
        group: String,
        version: String,
    },
    /// A collection or one object.
    Resource(ResourceRef),
    /// `/openapi/v3`: the index of the OpenAPI v3 documents.
    OpenApiIndex,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
    OpenApi {
        group: String,
        version: String,
    },
    /// `/api/v1/namespaces/{ns}/containers[/{name}]` (seed 002).
    Containers {
        namespace: String,
        name: Option<String>,
    },
    /// `/apis/clusterpedia.io/v1beta1/collectionresources/workloads`.
    Workloads,
    /// `/apis/clusterpedia.io/v1beta1` and its collection resources.
    ClusterpediaResources,
    ClusterpediaCollections,
}

/// A resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// A subresource (`status`, `log`...).
    pub subresource: Option<String>,
    /// The deprecated `/watch/` form.
    pub watch: bool,
}

impl ResourceRef {
    /// The path under a view's root (`/api/v1/namespaces/n/pods/p`).
    pub fn api_path(&self) -> String {
        let mut p = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let Some(ns) = &self.namespace {
            p.push_str("/namespaces/");
            p.push_str(ns);
        }
        p.push('/');
        p.push_str(&self.plural);
        for part in [&self.name, &self.subresource].into_iter().flatten() {
            p.push('/');
            p.push_str(part);
        }
        p
    }
}

fn decode(seg: &str) -> String {
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

/// Parses a request path; `None` when it is no Kubernetes path (not found).
pub fn parse(path: &str) -> Option<(View, Target)> {
    if let Some(rest) = path.strip_prefix(CLUSTERPEDIA_RESOURCES) {
        return parse_view(rest);
    }
    if let Some(rest) = path.strip_prefix(CLUSTERPEDIA_GV) {
        return match rest {
            "" => Some((View::All, Target::ClusterpediaResources)),
            "/collectionresources" => Some((View::All, Target::ClusterpediaCollections)),
            "/collectionresources/workloads" => Some((View::All, Target::Workloads)),
            _ => None,
        };
    }
    if path.starts_with("/clusters/") {
        return parse_view(path);
    }
    Some((View::All, parse_target(path)?))
}

/// `[/clusters/{c}]` then a Kubernetes path.
fn parse_view(rest: &str) -> Option<(View, Target)> {
    if let Some(after) = rest.strip_prefix("/clusters/") {
        let (cluster, tail) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        if cluster.is_empty() {
            return None;
        }
        return Some((View::One(decode(cluster)), parse_target(tail)?));
    }
    Some((View::All, parse_target(rest)?))
}

fn parse_target(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    if path.is_empty() {
        return None;
    }
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    match segs.as_slice() {
        ["version"] => Some(Target::Version),
        ["openapi", "v3"] => Some(Target::OpenApiIndex),
        ["openapi", "v3", "api", v] => Some(Target::OpenApi {
            group: String::new(),
            version: decode(v),
        }),
        ["openapi", "v3", "apis", g, v] => Some(Target::OpenApi {
            group: decode(g),
            version: decode(v),
        }),
        ["api"] => Some(Target::CoreVersions),
        ["api", v] => Some(Target::Resources {
            group: String::new(),
            version: decode(v),
        }),
        ["api", v, rest @ ..] => resource(String::new(), decode(v), rest),
        ["apis"] => Some(Target::Groups),
        ["apis", g] => Some(Target::Group(decode(g))),
        // Seed 002 writes the batch group as `apps/batch`.
        ["apis", "apps", "batch", v] => Some(Target::Resources {
            group: "batch".into(),
            version: decode(v),
        }),
        ["apis", "apps", "batch", v, rest @ ..] => resource("batch".into(), decode(v), rest),
        ["apis", g, v] => Some(Target::Resources {
            group: decode(g),
            version: decode(v),
        }),
        ["apis", g, v, rest @ ..] => resource(decode(g), decode(v), rest),
        _ => None,
    }
}

fn resource(group: String, version: String, segs: &[&str]) -> Option<Target> {
    let (watch, segs) = match segs {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, segs),
    };
    let mk = |plural: &str, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Target::Resource(ResourceRef {
            group: group.clone(),
            version: version.clone(),
            plural: decode(plural),
            namespace: namespace.map(decode),
            name: name.map(decode),
            subresource: sub.map(decode),
            watch,
        })
    };
    match segs {
        ["namespaces", ns, "containers"] if group.is_empty() && !watch => {
            Some(Target::Containers {
                namespace: decode(ns),
                name: None,
            })
        }
        ["namespaces", ns, "containers", name] if group.is_empty() && !watch => {
            Some(Target::Containers {
                namespace: decode(ns),
                name: Some(decode(name)),
            })
        }
        [plural] => Some(mk(plural, None, None, None)),
        // `/api/v1/namespaces/{name}` is the namespace object itself.
        ["namespaces", name] => Some(mk("namespaces", None, Some(name), None)),
        ["namespaces", name, "status" | "finalize"] if !watch => {
            Some(mk("namespaces", None, Some(name), Some(segs[2])))
        }
        ["namespaces", ns, plural] => Some(mk(plural, Some(ns), None, None)),
        ["namespaces", ns, plural, name] => Some(mk(plural, Some(ns), Some(name), None)),
        ["namespaces", ns, plural, name, sub] if !watch => {
            Some(mk(plural, Some(ns), Some(name), Some(sub)))
        }
        [plural, name] => Some(mk(plural, None, Some(name), None)),
        [plural, name, sub] if !watch => Some(mk(plural, None, Some(name), Some(sub))),
        _ => None,
    }
}

/// The route pattern of a Kubernetes path, as `/openapi.json` names it
/// (`/clusters/{cluster}/api/v1/namespaces/{namespace}/{resource}/{name}`):
/// the `handler` label of its metrics. None when it is no such path.
pub fn pattern(path: &str) -> Option<String> {
    let (view, target) = parse(path)?;
    let mut p = String::new();
    if path.starts_with(CLUSTERPEDIA_RESOURCES) {
        p.push_str(CLUSTERPEDIA_RESOURCES);
    }
    if matches!(view, View::One(_)) {
        p.push_str("/clusters/{cluster}");
    }
    let api = |group: &str| {
        if group.is_empty() {
            "/api/v1"
        } else {
            "/apis/{group}/{version}"
        }
    };
    match target {
        Target::Version => p.push_str("/version"),
        Target::CoreVersions => p.push_str("/api"),
        Target::Groups => p.push_str("/apis"),
        Target::Group(_) => p.push_str("/apis/{group}"),
        Target::Resources { group, .. } if group.is_empty() => p.push_str("/api/{version}"),
        Target::Resources { .. } => p.push_str("/apis/{group}/{version}"),
        Target::OpenApiIndex => p.push_str("/openapi/v3"),
        Target::OpenApi { group, .. } if group.is_empty() => {
            p.push_str("/openapi/v3/api/{version}")
        }
        Target::OpenApi { .. } => p.push_str("/openapi/v3/apis/{group}/{version}"),
        Target::Containers { name, .. } => {
            p.push_str("/api/v1/namespaces/{namespace}/containers");
            if name.is_some() {
                p.push_str("/{name}");
            }
        }
        Target::ClusterpediaResources => p.push_str(CLUSTERPEDIA_GV),
        Target::ClusterpediaCollections => {
            p.push_str(CLUSTERPEDIA_GV);
            p.push_str("/collectionresources");
        }
        Target::Workloads => {
            p.push_str(CLUSTERPEDIA_GV);
            p.push_str("/collectionresources/workloads");
        }
        Target::Resource(r) => {
            p.push_str(api(&r.group));
            if r.watch {
                p.push_str("/watch");
            }
            if r.namespace.is_some() {
                p.push_str("/namespaces/{namespace}");
            }
            p.push_str("/{resource}");
            if r.name.is_some() {
                p.push_str("/{name}");
            }
            if r.subresource.is_some() {
                p.push_str("/{subresource}");
            }
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(t: Target) -> ResourceRef {
        match t {
            Target::Resource(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn views() {
        let (v, t) = parse("/clusters/BCS-K8S-1/api/v1/pods").unwrap();
        assert_eq!(v, View::One("BCS-K8S-1".into()));
        assert_eq!(res(t).plural, "pods");
        let (v, t) = parse(
            "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/apis/apps/batch/v1/namespaces/d/jobs/j",
        )
        .unwrap();
        assert_eq!(v, View::One("c1".into()));
        let r = res(t);
        assert_eq!(
            (r.group.as_str(), r.namespace.as_deref(), r.name.as_deref()),
            ("batch", Some("d"), Some("j"))
        );
        let (v, t) =
            parse("/apis/clusterpedia.io/v1beta1/resources/apis/apps/v1/deployments").unwrap();
        assert_eq!(v, View::All);
        assert_eq!(res(t).plural, "deployments");
        assert_eq!(parse("/api").unwrap().1, Target::CoreVersions);
        assert_eq!(parse("/clusters/c/apis").unwrap().1, Target::Groups);
        assert_eq!(
            parse("/apis/clusterpedia.io/v1beta1/collectionresources/workloads")
                .unwrap()
                .1,
            Target::Workloads
        );
        assert!(parse("/api/v1/namespaces//pods").is_none());
        assert!(parse("/clusters/").is_none());
    }

    #[test]
    fn resource_forms() {
        let r = res(parse("/api/v1/namespaces/kube-system").unwrap().1);
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let r = res(parse("/api/v1/watch/namespaces/default/pods/p%2A")
            .unwrap()
            .1);
        assert!(r.watch);
        assert_eq!(r.name.as_deref(), Some("p*"));
        let r = res(parse("/api/v1/nodes/n1").unwrap().1);
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref()),
            ("nodes", Some("n1"))
        );
        assert_eq!(
            parse("/api/v1/namespaces/default/containers").unwrap().1,
            Target::Containers {
                namespace: "default".into(),
                name: None
            }
        );
    }
}
