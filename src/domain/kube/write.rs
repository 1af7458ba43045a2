//! Kubernetes writes in the one-cluster view (seed 001): create, replace,
//! patch (JSON, merge and strategic merge), delete and delete-collection,
//! the `status` and `ephemeralcontainers` subresources, optimistic
//! concurrency and dry runs.
//!
//! An object written here is the dynamic document the bcs routes read and
//! write (cluster, namespace, kind, name): its `data` is the object as the
//! client sent it, without what the read path adds (the store revision as
//! `resourceVersion`, the cluster annotation); the agent's own
//! `resourceVersion`, served in an annotation, goes back to its place.

use serde_json::{Map, Value, json};

use super::discovery::namespace_of;
use super::object::{ReadAt, object_of, parse_stored, write_object_text};
use super::resources::Resource;
use super::{CLUSTER_ANNOTATION, SOURCE_RV_ANNOTATION, Status};
use crate::domain::Service;
use crate::domain::dynamic::{ResourcePath, check_segment, document};
use crate::domain::escape::escape_value;
use crate::domain::params::{RawParams, parse_bool};
use crate::model::{Document, Expect, Filter, Query, REVISION_FIELD};
use crate::store::{StoreError, Versions};

/// Which part of an object a write is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object; its `status` is left alone.
    Main,
    /// `/status`: only `status` changes.
    Status,
    /// `/ephemeralcontainers`: only `spec.ephemeralContainers` changes.
    EphemeralContainers,
}

impl Part {
    /// The part a subresource names; `None` for one that cannot be written.
    pub fn of(subresource: Option<&str>) -> Option<Part> {
        match subresource {
            None => Some(Part::Main),
            Some("status") => Some(Part::Status),
            Some("ephemeralcontainers") => Some(Part::EphemeralContainers),
            Some(_) => None,
        }
    }
}

/// The patch formats of `PATCH`, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902.
    Json,
    /// RFC 7386.
    Merge,
    /// Kubernetes' strategic merge patch (lists merged by their keys).
    Strategic,
}

impl PatchType {
    pub fn of_content_type(ct: &str) -> Result<PatchType, Status> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Err(unsupported(
                "server-side apply is not supported: use client-side `kubectl apply` \
                 (a strategic merge patch) instead",
            )),
            _ => Err(unsupported(format!(
                "the body of a PATCH must be application/json-patch+json, \
                 application/merge-patch+json or application/strategic-merge-patch+json, \
                 not {base:?}"
            ))),
        }
    }
}

fn unsupported(message: impl Into<String>) -> Status {
    Status {
        code: 415,
        reason: "UnsupportedMediaType",
        message: message.into(),
        details: None,
    }
}

/// The query parameters every write accepts.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: everything but the write.
    pub dry_run: bool,
}

impl WriteOptions {
    /// `dryRun`, `fieldManager`, `fieldValidation` (accepted: the store
    /// keeps no schemas to validate against, nor managed fields).
    pub fn parse(raw: &RawParams) -> Result<WriteOptions, Status> {
        let mut dry_run = false;
        for (k, v) in &raw.0 {
            match k.as_str() {
                "dryRun" => match v.as_str() {
                    "All" => dry_run = true,
                    _ => {
                        return Err(Status::bad_request(format!(
                            "dryRun: unsupported value {v:?}: the only value is \"All\""
                        )));
                    }
                },
                "fieldValidation" if !["Ignore", "Warn", "Strict", ""].contains(&v.as_str()) => {
                    return Err(Status::bad_request(format!(
                        "fieldValidation: unsupported value {v:?}: \
                         supported values are Ignore, Warn and Strict"
                    )));
                }
                "fieldManager" if v.chars().count() > 128 => {
                    return Err(Status::bad_request(
                        "fieldManager: longer than 128 characters",
                    ));
                }
                _ => {}
            }
        }
        Ok(WriteOptions { dry_run })
    }
}

/// What a write answers: the object as a GET would serve it now.
#[derive(Debug)]
pub struct Written {
    pub created: bool,
    pub object: String,
}

/// The object a write addresses.
struct Target<'a> {
    svc: &'a Service,
    cluster: &'a str,
    res: &'a Resource,
    namespace: Option<&'a str>,
    name: String,
}

/// The stored object: as served, and its version in the store.
struct Current {
    object: Map<String, Value>,
    version: String,
}

impl Target<'_> {
    fn path(&self) -> ResourcePath {
        ResourcePath {
            cluster_id: self.cluster.to_owned(),
            namespace: self.namespace.map(str::to_owned),
            resource_type: self.res.kind.clone(),
            resource_name: Some(self.name.clone()),
        }
    }

    fn versions(&self) -> Versions {
        self.svc.store.versions()
    }

    /// `pods "x"`, as the API server names an object in its messages.
    fn what(&self) -> String {
        let plural = if self.res.group.is_empty() {
            self.res.plural.clone()
        } else {
            format!("{}.{}", self.res.plural, self.res.group)
        };
        format!("{plural} {:?}", self.name)
    }

    fn not_found(&self) -> Status {
        Status::not_found(&self.res.group, &self.res.plural, &self.name)
    }

    fn conflict(&self, why: &str) -> Status {
        Status {
            code: 409,
            reason: "Conflict",
            message: format!("Operation cannot be fulfilled on {}: {why}", self.what()),
            details: Some((
                self.name.clone(),
                self.res.group.clone(),
                self.res.plural.clone(),
            )),
        }
    }

    fn modified(&self) -> Status {
        self.conflict(
            "the object has been modified; please apply your changes to the latest version \
             and try again",
        )
    }

    fn already_exists(&self) -> Status {
        Status {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} already exists", self.what()),
            details: Some((
                self.name.clone(),
                self.res.group.clone(),
                self.res.plural.clone(),
            )),
        }
    }

    /// A revision to show objects read or written now at: where the store
    /// numbers versions as revisions none is needed.
    async fn revision_now(&self) -> Result<String, Status> {
        match self.versions() {
            Versions::Revisions => Ok(String::new()),
            Versions::Stamps => Ok(self
                .svc
                .store
                .revision(&namespace_of(&self.res.kind))
                .await?),
        }
    }

    /// The stored object, if any.
    async fn current(&self) -> Result<Option<Current>, Status> {
        let at = self.revision_now().await?;
        let mut q = Query::new(Filter::and(self.path().base_filter()));
        q.limit = Some(1);
        q.with_revision = true;
        let Some(doc) = read_docs(self.svc, &namespace_of(&self.res.kind), &q)
            .await?
            .pop()
        else {
            return Ok(None);
        };
        let version = match doc.get(REVISION_FIELD) {
            Some(Value::String(v)) => v.clone(),
            _ => String::new(),
        };
        let stored = object_of(doc, self.res, ReadAt::new(&at, self.versions()));
        Ok(Some(Current {
            object: stored.object,
            version,
        }))
    }

    /// The object as served after a write of `doc` that gave it `version`.
    async fn served(&self, text: &str, version: Option<String>) -> Result<String, Status> {
        let at = self.revision_now().await?;
        let at = ReadAt::new(&at, self.versions());
        // The stored text with its version as the last member, as reads
        // give it: the read path's fast rendering applies.
        let mut stored = String::with_capacity(text.len() + 48);
        stored.push_str(text.strip_suffix('}').unwrap_or(text));
        if let Some(v) = &version {
            stored.push_str(",\"");
            stored.push_str(REVISION_FIELD);
            stored.push_str("\":");
            stored.push_str(&Value::String(v.clone()).to_string());
        }
        stored.push('}');
        let mut out = String::with_capacity(stored.len() + 256);
        if write_object_text(&stored, self.res, at, false, &mut out).is_some() {
            return Ok(out);
        }
        let obj = object_of(parse_stored(&stored)?, self.res, at).object;
        Ok(Value::Object(obj).to_string())
    }

    /// The version a client's `resourceVersion` names; 400 when it is not
    /// one this server hands out.
    fn client_version<'v>(&self, rv: &'v str) -> Result<&'v str, Status> {
        let invalid = || {
            Status::bad_request(format!(
                "metadata.resourceVersion: {rv:?} is not a resourceVersion this server issued"
            ))
        };
        match self.versions().split(rv) {
            (_, Some(v)) if self.versions() == Versions::Stamps => Ok(v),
            (_, Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => Ok(v),
            _ => Err(invalid()),
        }
    }

    /// Writes `object` (as served) when the stored one is as `expect` says;
    /// answers it as served then.
    async fn write(
        &self,
        object: Map<String, Value>,
        expect: Expect<'_>,
        opts: &WriteOptions,
    ) -> Result<Result<Written, StoreError>, Status> {
        let data = stored_data(object)?;
        let doc = document(self.svc, &self.path(), data).map_err(Status::from)?;
        let text = crate::store::doc_text(&doc)?;
        if opts.dry_run {
            let version = match expect {
                Expect::Version(v) => Some(v.to_owned()),
                Expect::Absent => None,
            };
            return Ok(Ok(Written {
                created: expect == Expect::Absent,
                object: self.served(&text, version).await?,
            }));
        }
        let ns = namespace_of(&self.res.kind);
        match self.svc.store.upsert_if(&ns, doc, expect).await {
            Ok(out) => Ok(Ok(Written {
                created: out.created,
                object: self.served(&text, out.version).await?,
            })),
            Err(e @ (StoreError::Conflict(_) | StoreError::NotFound)) => Ok(Err(e)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The documents a query reads, with their versions when it asks for them
/// (`find_text` is where stores add them).
async fn read_docs(
    svc: &Service,
    ns: &crate::model::Namespace,
    q: &Query,
) -> Result<Vec<Document>, Status> {
    let texts = svc
        .store
        .find_text(ns, q, std::sync::Arc::new(|t: &str| Ok(t.to_owned())))
        .await?;
    let texts: Vec<String> = futures::TryStreamExt::try_collect(texts).await?;
    Ok(texts
        .iter()
        .map(|t| parse_stored(t))
        .collect::<Result<_, _>>()?)
}

/// Times a write is tried when the object changes under it (an
/// unconditional replace or a patch is applied again to the new state).
const ATTEMPTS: usize = 8;

/// The object of a create or replace body, checked against the path:
/// `kind` and `apiVersion` default to the path's, `metadata.name` and
/// `metadata.namespace` too; any that disagrees is a 400 naming it.
fn body_object(
    body: &[u8],
    res: &Resource,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<Map<String, Value>, Status> {
    let mut obj = parse_object(body, res)?;
    obj.entry("kind")
        .or_insert_with(|| Value::String(res.kind.clone()));
    obj.entry("apiVersion")
        .or_insert_with(|| Value::String(res.api_version()));
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else {
        return Err(Status::bad_request("metadata: must be an object"));
    };
    if let Some(name) = name
        && meta.get("name").is_none_or(|n| n.as_str() == Some(""))
    {
        meta.insert("name".into(), Value::String(name.to_owned()));
    }
    if let Some(ns) = namespace
        && meta.get("namespace").is_none_or(|n| n.as_str() == Some(""))
    {
        meta.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    check_identity(&obj, res, namespace, name)?;
    Ok(obj)
}

/// A request body that must be an object of `res`'s kind.
pub(super) fn parse_object(body: &[u8], res: &Resource) -> Result<Map<String, Value>, Status> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Status::bad_request(format!(
            "the request body is empty: expected a {} object",
            res.kind
        )));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("the request body is not valid JSON: {e}")))?;
    match v {
        Value::Object(obj) => Ok(obj),
        _ => Err(Status::bad_request(format!(
            "the request body must be a {} object",
            res.kind
        ))),
    }
}

/// 400 unless the object is of the path's kind, apiVersion, namespace and
/// (when the path names one) name.
fn check_identity(
    obj: &Map<String, Value>,
    res: &Resource,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<(), Status> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let kind = text(obj.get("kind"));
    if kind.as_deref() != Some(res.kind.as_str()) {
        return Err(Status::bad_request(format!(
            "kind: {kind:?} does not match the kind of the path, {:?}",
            res.kind
        )));
    }
    let av = text(obj.get("apiVersion"));
    if av.as_deref() != Some(res.api_version().as_str()) {
        return Err(Status::bad_request(format!(
            "apiVersion: {av:?} does not match the path's, {:?}",
            res.api_version()
        )));
    }
    let meta = obj.get("metadata").and_then(Value::as_object);
    let field = |k: &str| meta.and_then(|m| m.get(k));
    match (field("namespace"), namespace) {
        (None | Some(Value::Null), _) => {}
        (Some(Value::String(s)), None) if s.is_empty() => {}
        (Some(Value::String(s)), Some(ns)) if s == ns => {}
        (Some(v), Some(ns)) => {
            return Err(Status::bad_request(format!(
                "metadata.namespace: {v} does not match the namespace of the path, {ns:?}"
            )));
        }
        (Some(v), None) => {
            return Err(Status::bad_request(format!(
                "metadata.namespace: {v} is set on a {} object, which has no namespace",
                res.kind
            )));
        }
    }
    let obj_name = field("name").and_then(Value::as_str).unwrap_or_default();
    if let Some(name) = name
        && obj_name != name
    {
        return Err(Status::bad_request(format!(
            "metadata.name: {obj_name:?} does not match the name of the path, {name:?}"
        )));
    }
    if obj_name.is_empty() {
        return Err(Status::bad_request(
            "metadata.name: required (or metadata.generateName)",
        ));
    }
    check_name(obj_name)
}

/// A name must be usable as one path segment.
fn check_name(name: &str) -> Result<(), Status> {
    check_segment("metadata.name", name).map_err(Status::from)?;
    if name.contains('/') || name.contains('%') || name.len() > 253 {
        return Err(Status::bad_request(format!(
            "metadata.name: {name:?} may not contain '/' or '%' nor be longer than 253 bytes"
        )));
    }
    Ok(())
}

fn metadata_mut(obj: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let m = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("metadata is an object")
}

fn metadata_str<'a>(obj: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(k)?.as_str()
}

/// The stored `data` of a served object: without the revision and the
/// cluster annotation the read path adds; the agent's own
/// `resourceVersion` back in place; keys escaped.
fn stored_data(mut object: Map<String, Value>) -> Result<Value, Status> {
    let meta = metadata_mut(&mut object);
    meta.shift_remove("resourceVersion");
    let mut empty = false;
    if let Some(Value::Object(a)) = meta.get_mut("annotations") {
        a.shift_remove(CLUSTER_ANNOTATION);
        let source = a.shift_remove(SOURCE_RV_ANNOTATION);
        empty = a.is_empty();
        if let Some(source) = source {
            meta.insert("resourceVersion".into(), source);
        }
    }
    if empty {
        meta.shift_remove("annotations");
    }
    let mut data = Value::Object(object);
    escape_value(&mut data).map_err(Status::from)?;
    Ok(data)
}

/// The server-set fields of an object about to be written over `current`
/// (or created): `uid` and `creationTimestamp` kept, `generation` bumped
/// when `spec` changes.
fn server_fields(next: &mut Map<String, Value>, current: Option<&Map<String, Value>>) {
    let cur_meta = current
        .and_then(|c| c.get("metadata"))
        .and_then(Value::as_object);
    let cur = |k: &str| cur_meta.and_then(|m| m.get(k)).cloned();
    let spec_changed = current.is_none_or(|c| c.get("spec") != next.get("spec"));
    let generation = match (current, cur("generation").and_then(|g| g.as_i64())) {
        (None, _) => 1,
        (Some(_), Some(g)) if spec_changed => g + 1,
        (Some(_), Some(g)) => g,
        (Some(_), None) if spec_changed => 1,
        (Some(_), None) => 0,
    };
    let meta = metadata_mut(next);
    match cur("uid") {
        Some(uid) => {
            meta.insert("uid".into(), uid);
        }
        None if current.is_none() => {
            meta.insert("uid".into(), Value::String(bson::Uuid::new().to_string()));
        }
        None => {}
    }
    match cur("creationTimestamp") {
        Some(t) => {
            meta.insert("creationTimestamp".into(), t);
        }
        None => {
            meta.insert(
                "creationTimestamp".into(),
                Value::String(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
        }
    }
    if generation > 0 {
        meta.insert("generation".into(), json!(generation));
    }
}

/// What a write of `part` makes of the stored object given the client's
/// version of it: the main resource keeps the stored `status`; `status`
/// takes only the client's `status`; `ephemeralcontainers` only its
/// `spec.ephemeralContainers`.
fn merge_part(
    part: Part,
    current: &Map<String, Value>,
    mut client: Map<String, Value>,
) -> Map<String, Value> {
    match part {
        Part::Main => {
            match current.get("status") {
                Some(s) => client.insert("status".into(), s.clone()),
                None => client.shift_remove("status"),
            };
            client
        }
        Part::Status => {
            let mut next = current.clone();
            let rv = client
                .get("metadata")
                .and_then(|m| m.get("resourceVersion"))
                .cloned();
            match client.shift_remove("status") {
                Some(s) => next.insert("status".into(), s),
                None => next.shift_remove("status"),
            };
            // The client's resourceVersion is its precondition.
            if let Some(rv) = rv {
                metadata_mut(&mut next).insert("resourceVersion".into(), rv);
            }
            next
        }
        Part::EphemeralContainers => {
            let mut next = current.clone();
            let rv = client
                .get("metadata")
                .and_then(|m| m.get("resourceVersion"))
                .cloned();
            let eph = client
                .get("spec")
                .and_then(|s| s.get("ephemeralContainers"))
                .cloned();
            let spec = next
                .entry("spec")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(spec) = spec {
                match eph {
                    Some(e) => spec.insert("ephemeralContainers".into(), e),
                    None => spec.shift_remove("ephemeralContainers"),
                };
            }
            if let Some(rv) = rv {
                metadata_mut(&mut next).insert("resourceVersion".into(), rv);
            }
            next
        }
    }
}

/// The status a created object starts with: a pod is `Pending`; other
/// kinds start without one (the status subresource sets it).
fn initial_status(obj: &mut Map<String, Value>, res: &Resource) {
    if res.kind == "Pod" && res.group.is_empty() {
        obj.insert("status".into(), json!({"phase": "Pending"}));
    } else {
        obj.shift_remove("status");
    }
}

/// `POST` to a collection: creates the object (409 `AlreadyExists` when
/// one of its name is stored).
pub async fn create(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    body: &[u8],
    opts: &WriteOptions,
) -> Result<Written, Status> {
    let mut obj = body_object_with_generated_name(body, res, namespace)?;
    if metadata_str(&obj, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        return Err(Status::bad_request(
            "metadata.resourceVersion: must not be set on an object to be created",
        ));
    }
    let name = metadata_str(&obj, "name").unwrap_or_default().to_owned();
    let t = Target {
        svc,
        cluster,
        res,
        namespace,
        name,
    };
    initial_status(&mut obj, res);
    server_fields(&mut obj, None);
    match t.write(obj, Expect::Absent, opts).await? {
        Ok(w) => Ok(w),
        Err(_) => Err(t.already_exists()),
    }
}

/// [`body_object`] for a create: `metadata.generateName` gives the name a
/// random suffix when it has none.
fn body_object_with_generated_name(
    body: &[u8],
    res: &Resource,
    namespace: Option<&str>,
) -> Result<Map<String, Value>, Status> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let generate = v
        .get("metadata")
        .filter(|m| {
            m.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .and_then(|m| m.get("generateName"))
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty());
    let name = generate.map(|prefix| {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let bytes = bson::Uuid::new().bytes();
        let suffix: String = bytes[..5]
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        format!("{prefix}{suffix}")
    });
    body_object(body, res, namespace, name.as_deref())
}

/// `PUT` of an object or of its `status`/`ephemeralcontainers`: replaces
/// it (creating the object when there is none, for the main resource),
/// under the precondition of the body's `metadata.resourceVersion`.
#[allow(clippy::too_many_arguments)]
pub async fn replace(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    part: Part,
    body: &[u8],
    opts: &WriteOptions,
) -> Result<Written, Status> {
    let client = body_object(body, res, namespace, Some(name))?;
    let t = Target {
        svc,
        cluster,
        res,
        namespace,
        name: name.to_owned(),
    };
    update(
        &t,
        part,
        opts,
        |current| Ok(merge_part(part, current, client.clone())),
        true,
    )
    .await
}

/// `PATCH` of an object or of a subresource.
#[allow(clippy::too_many_arguments)]
pub async fn patch(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    part: Part,
    kind: PatchType,
    body: &[u8],
    opts: &WriteOptions,
) -> Result<Written, Status> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("the patch is not valid JSON: {e}")))?;
    let json_ops: Option<json_patch::Patch> = match kind {
        PatchType::Json => Some(serde_json::from_value(patch.clone()).map_err(|e| {
            Status::bad_request(format!("the JSON patch is not a list of operations: {e}"))
        })?),
        _ => {
            if !patch.is_object() {
                return Err(Status::bad_request("the patch must be a JSON object"));
            }
            None
        }
    };
    let t = Target {
        svc,
        cluster,
        res,
        namespace,
        name: name.to_owned(),
    };
    let apply = |current: &Map<String, Value>| -> Result<Map<String, Value>, Status> {
        let mut doc = Value::Object(current.clone());
        match (kind, &json_ops) {
            (PatchType::Json, Some(ops)) => apply_json_patch(&mut doc, ops)?,
            (PatchType::Strategic, _) => super::patch::strategic_merge(&mut doc, &patch, &res.kind)
                .map_err(|e| Status::bad_request(format!("strategic merge patch: {e}")))?,
            _ => json_patch::merge(&mut doc, &patch),
        }
        let Value::Object(patched) = doc else {
            return Err(Status::bad_request("the patched object is not an object"));
        };
        check_identity(&patched, res, namespace, Some(name))?;
        Ok(merge_part(part, current, patched))
    };
    update(&t, part, opts, apply, false).await
}

/// Operations a JSON patch may hold (the API server's limit).
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;
/// Bytes a JSON patch's `copy` operations may copy in all: each can double
/// the object, so a short patch could otherwise take any amount of memory.
const MAX_JSON_PATCH_COPIED_BYTES: usize = 3 * 1024 * 1024;

/// Applies an RFC 6902 patch, within the limits above.
fn apply_json_patch(doc: &mut Value, ops: &json_patch::Patch) -> Result<(), Status> {
    let invalid = |message: String| Status {
        code: 422,
        reason: "Invalid",
        message,
        details: None,
    };
    if ops.0.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(Status::bad_request(format!(
            "the JSON patch has {} operations; at most {MAX_JSON_PATCH_OPERATIONS} are accepted",
            ops.0.len()
        )));
    }
    let mut copied = 0usize;
    for (i, op) in ops.0.iter().enumerate() {
        if let json_patch::PatchOperation::Copy(c) = op
            && let Some(v) = doc.pointer(c.from.as_str())
        {
            copied += serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
            if copied > MAX_JSON_PATCH_COPIED_BYTES {
                return Err(invalid(format!(
                    "the JSON patch's copy operations (up to operation {i}) copy more than \
                     {MAX_JSON_PATCH_COPIED_BYTES} bytes"
                )));
            }
        }
        json_patch::patch(doc, std::slice::from_ref(op)).map_err(|e| {
            invalid(format!(
                "the JSON patch cannot be applied: operation {i}: {e}"
            ))
        })?;
    }
    Ok(())
}

/// The read-modify-write of a replace or patch: `apply` makes the next
/// object of the current one; a `resourceVersion` in it that is not the
/// current one is a 409; a write that loses a race with another writer is
/// done again on the new state.
async fn update<F>(
    t: &Target<'_>,
    part: Part,
    opts: &WriteOptions,
    apply: F,
    create_missing: bool,
) -> Result<Written, Status>
where
    F: Fn(&Map<String, Value>) -> Result<Map<String, Value>, Status>,
{
    for _ in 0..ATTEMPTS {
        let Some(current) = t.current().await? else {
            if !(create_missing && part == Part::Main) {
                return Err(t.not_found());
            }
            let mut next = apply(&Map::new())?;
            if metadata_str(&next, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
                return Err(t.not_found());
            }
            initial_status(&mut next, t.res);
            server_fields(&mut next, None);
            match t.write(next, Expect::Absent, opts).await? {
                Ok(w) => return Ok(w),
                // Created meanwhile: replace that one.
                Err(_) => continue,
            }
        };
        let mut next = apply(&current.object)?;
        let current_rv = metadata_str(&current.object, "resourceVersion").unwrap_or_default();
        let wanted = metadata_str(&next, "resourceVersion")
            .filter(|rv| !rv.is_empty() && *rv != current_rv)
            .map(str::to_owned);
        if let Some(rv) = wanted
            && t.client_version(&rv)? != current.version
        {
            return Err(t.modified());
        }
        server_fields(&mut next, Some(&current.object));
        match t
            .write(next, Expect::Version(&current.version), opts)
            .await?
        {
            Ok(w) => return Ok(w),
            Err(StoreError::NotFound) => return Err(t.not_found()),
            // Changed since it was read: apply again to the new state (a
            // client precondition then fails).
            Err(_) => continue,
        }
    }
    Err(t.conflict("the object keeps changing; try again"))
}

/// How a delete treats the objects the deleted one owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// `DeleteOptions`, from the body and the query string.
#[derive(Debug)]
struct DeleteOptions {
    dry_run: bool,
    propagation: Propagation,
    uid: Option<String>,
    resource_version: Option<String>,
}

fn delete_options(raw: &RawParams, body: &[u8]) -> Result<DeleteOptions, Status> {
    let mut o = DeleteOptions {
        dry_run: WriteOptions::parse(raw)?.dry_run,
        propagation: Propagation::Background,
        uid: None,
        resource_version: None,
    };
    let policy = |v: &str| match v {
        "Orphan" => Ok(Propagation::Orphan),
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        _ => Err(Status::bad_request(format!(
            "propagationPolicy: {v:?} is not one of Orphan, Background, Foreground"
        ))),
    };
    let grace = |v: &Value| match v {
        Value::Null => Ok(()),
        Value::Number(n) if n.as_i64().is_some_and(|g| g >= 0) => Ok(()),
        Value::String(s) if s.parse::<i64>().is_ok_and(|g| g >= 0) => Ok(()),
        _ => Err(Status::bad_request(format!(
            "gracePeriodSeconds: {v} is not a number of seconds"
        ))),
    };
    if let Some(v) = raw.single("propagationPolicy").map_err(Status::from)? {
        o.propagation = policy(v)?;
    }
    if let Some(v) = raw.single("gracePeriodSeconds").map_err(Status::from)? {
        grace(&Value::String(v.to_owned()))?;
    }
    if let Some(v) = raw.single("orphanDependents").map_err(Status::from)?
        && parse_bool("orphanDependents", v).map_err(Status::from)?
    {
        o.propagation = Propagation::Orphan;
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(o);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Status::bad_request(format!("the DeleteOptions body is not valid JSON: {e}"))
    })?;
    let Value::Object(m) = v else {
        return Err(Status::bad_request(
            "the DeleteOptions body must be an object",
        ));
    };
    if let Some(k) = m.get("kind").and_then(Value::as_str)
        && k != "DeleteOptions"
    {
        return Err(Status::bad_request(format!(
            "kind: the body of a DELETE is DeleteOptions, not {k:?}"
        )));
    }
    if let Some(g) = m.get("gracePeriodSeconds") {
        grace(g)?;
    }
    match m.get("propagationPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) => o.propagation = policy(p)?,
        Some(v) => {
            return Err(Status::bad_request(format!(
                "propagationPolicy: {v} is not a string"
            )));
        }
    }
    if m.get("orphanDependents") == Some(&Value::Bool(true)) {
        o.propagation = Propagation::Orphan;
    }
    match m.get("dryRun") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(|x| x == "All") => o.dry_run |= !a.is_empty(),
        Some(v) => {
            return Err(Status::bad_request(format!(
                "dryRun: {v} is not a list of \"All\""
            )));
        }
    }
    if let Some(p) = m.get("preconditions").and_then(Value::as_object) {
        o.uid = p.get("uid").and_then(Value::as_str).map(str::to_owned);
        o.resource_version = p
            .get("resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    Ok(o)
}

/// The kinds whose objects a kind's objects own, for cascading deletes.
const DEPENDENTS: &[(&str, &[&str])] = &[
    ("Deployment", &["ReplicaSet"]),
    ("ReplicaSet", &["Pod"]),
    ("StatefulSet", &["Pod", "ControllerRevision"]),
    ("DaemonSet", &["Pod", "ControllerRevision"]),
    ("Job", &["Pod"]),
    ("CronJob", &["Job"]),
    ("ReplicationController", &["Pod"]),
    ("Service", &["EndpointSlice", "Endpoints"]),
];

/// Deletes, in `cluster`, the stored objects owned (through
/// `ownerReferences`) by the objects with these uids, and theirs in turn.
async fn delete_dependents(
    svc: &Service,
    cluster: &str,
    kind: &str,
    uids: Vec<Value>,
) -> Result<u64, Status> {
    let mut deleted = 0;
    let mut level = vec![(kind.to_owned(), uids)];
    for _ in 0..4 {
        let mut next = Vec::new();
        for (owner_kind, uids) in level {
            let Some((_, kinds)) = DEPENDENTS.iter().find(|(k, _)| *k == owner_kind) else {
                continue;
            };
            if uids.is_empty() {
                continue;
            }
            for dep in *kinds {
                let filter = Filter::and([
                    Filter::Eq("clusterId".into(), Value::String(cluster.to_owned())),
                    Filter::In("data.metadata.ownerReferences.uid".into(), uids.clone()),
                ]);
                let ns = namespace_of(dep);
                let q = Query {
                    projection: Some(crate::model::Projection::new(["data.metadata.uid"])),
                    ..Query::new(filter.clone())
                };
                let docs: Vec<Document> =
                    futures::TryStreamExt::try_collect(svc.store.find(&ns, &q).await?).await?;
                if docs.is_empty() {
                    continue;
                }
                let dep_uids: Vec<Value> = docs
                    .iter()
                    .filter_map(|d| d.get("data")?.get("metadata")?.get("uid").cloned())
                    .collect();
                deleted += svc.store.delete_many(&ns, &filter).await?;
                next.push(((*dep).to_owned(), dep_uids));
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(deleted)
}

/// `DELETE` of an object: answers the object as it was; its dependents go
/// too unless the propagation policy is `Orphan`.
#[allow(clippy::too_many_arguments)]
pub async fn delete(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    name: &str,
    raw: &RawParams,
    body: &[u8],
) -> Result<String, Status> {
    let o = delete_options(raw, body)?;
    let t = Target {
        svc,
        cluster,
        res,
        namespace,
        name: name.to_owned(),
    };
    // The object is deleted only as it was read: preconditions hold for
    // what goes; one changed meanwhile is read and checked again.
    for _ in 0..ATTEMPTS {
        let current = t.current().await?.ok_or_else(|| t.not_found())?;
        if let Some(uid) = &o.uid
            && metadata_str(&current.object, "uid") != Some(uid.as_str())
        {
            return Err(t.conflict(&format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                metadata_str(&current.object, "uid").unwrap_or_default()
            )));
        }
        if let Some(rv) = &o.resource_version
            && t.client_version(rv)? != current.version
        {
            return Err(t.conflict(&format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in \
                 object meta: {}",
                metadata_str(&current.object, "resourceVersion").unwrap_or_default()
            )));
        }
        if o.dry_run {
            return Ok(Value::Object(current.object).to_string());
        }
        let key = document(svc, &t.path(), Value::Null).map_err(Status::from)?;
        match svc
            .store
            .delete_if(&namespace_of(&res.kind), &key, &current.version)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(t.not_found()),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        if o.propagation != Propagation::Orphan
            && let Some(uid) = current.object.get("metadata").and_then(|m| m.get("uid"))
        {
            delete_dependents(svc, cluster, &res.kind, vec![uid.clone()]).await?;
        }
        return Ok(Value::Object(current.object).to_string());
    }
    Err(t.conflict("the object keeps changing; try again"))
}

/// `DELETE` of a collection (with the list's selectors): answers the list
/// of what was deleted.
pub async fn delete_collection(
    svc: &Service,
    cluster: &str,
    res: &Resource,
    namespace: Option<&str>,
    raw: &RawParams,
    body: &[u8],
) -> Result<String, Status> {
    let o = delete_options(raw, body)?;
    let opts = super::list::ListOptions::parse(raw, res)?;
    let view = super::path::View::One(cluster.to_owned());
    let mut parts = vec![super::list::scope_filter(&view, &opts.search, namespace)];
    parts.push(opts.filter);
    let filter = Filter::and(parts);
    let ns = namespace_of(&res.kind);
    let at = svc.store.revision(&ns).await?;
    let mut q = Query::new(filter.clone());
    q.with_revision = true;
    let docs = read_docs(svc, &ns, &q).await?;
    let versions = svc.store.versions();
    let mut names = Vec::with_capacity(docs.len());
    let items: Vec<Value> = docs
        .into_iter()
        .map(|d| {
            let stored = object_of(d, res, ReadAt::new(&at, versions));
            names.push(stored.key[3].clone());
            Value::Object(stored.object)
        })
        .collect();
    if !o.dry_run && !items.is_empty() {
        // What was listed (and still matches) goes: an object created
        // since is not deleted unseen.
        let listed = Filter::and([filter, Filter::In("resourceName".into(), names)]);
        svc.store.delete_many(&ns, &listed).await?;
        if o.propagation != Propagation::Orphan {
            let uids: Vec<Value> = items
                .iter()
                .filter_map(|i| i.get("metadata")?.get("uid").cloned())
                .collect();
            delete_dependents(svc, cluster, &res.kind, uids).await?;
        }
    }
    Ok(json!({
        "kind": format!("{}List", res.kind),
        "apiVersion": res.api_version(),
        "metadata": {"resourceVersion": at},
        "items": items,
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_res() -> Resource {
        Resource::of_builtin(super::super::resources::builtin_by_kind("Pod").unwrap())
    }

    #[test]
    fn served_annotations_go_back_to_their_places() {
        let obj = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {
            "name": "p", "resourceVersion": "17",
            "annotations": {CLUSTER_ANNOTATION: "c1", SOURCE_RV_ANNOTATION: "991", "a.b/c": "x"}}});
        let Value::Object(m) = obj else {
            unreachable!()
        };
        let data = stored_data(m).unwrap();
        assert_eq!(data["metadata"]["resourceVersion"], "991");
        assert_eq!(
            data["metadata"]["annotations"],
            json!({"a\u{ff0e}b/c": "x"})
        );
        let Value::Object(m) = json!({"metadata": {"name": "p", "resourceVersion": "3",
            "annotations": {CLUSTER_ANNOTATION: "c1"}}})
        else {
            unreachable!()
        };
        let data = stored_data(m).unwrap();
        assert_eq!(data["metadata"], json!({"name": "p"}));
    }

    #[test]
    fn bodies_that_disagree_with_the_path_name_the_field() {
        let res = pod_res();
        let err = |b: &str, ns: Option<&str>, name: Option<&str>| {
            body_object(b.as_bytes(), &res, ns, name)
                .unwrap_err()
                .message
        };
        for (body, name, field) in [
            (
                r#"{"kind":"Service","metadata":{"name":"p"}}"#,
                None,
                "kind:",
            ),
            (
                r#"{"apiVersion":"apps/v1","metadata":{"name":"p"}}"#,
                None,
                "apiVersion:",
            ),
            (
                r#"{"metadata":{"name":"p","namespace":"m"}}"#,
                None,
                "metadata.namespace:",
            ),
            (r#"{"metadata":{"name":"q"}}"#, Some("p"), "metadata.name:"),
            (r#"{"metadata":{}}"#, None, "metadata.name:"),
        ] {
            let message = err(body, Some("n"), name);
            assert!(message.starts_with(field), "{body}: {message}");
        }
        assert!(err("[1]", Some("n"), None).contains("must be a Pod object"));
        let ok = body_object(br#"{"metadata":{"name":"p"}}"#, &res, Some("n"), None).unwrap();
        assert_eq!(ok["kind"], "Pod");
        assert_eq!(ok["metadata"]["namespace"], "n");
    }

    #[test]
    fn the_main_resource_keeps_status_and_the_status_part_only_takes_it() {
        let Value::Object(cur) = json!({"metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"x": 1}, "status": {"phase": "Running"}})
        else {
            unreachable!()
        };
        let Value::Object(client) = json!({"metadata": {"name": "p", "labels": {"a": "2"}},
            "spec": {"x": 2}, "status": {"phase": "Failed"}})
        else {
            unreachable!()
        };
        let main = merge_part(Part::Main, &cur, client.clone());
        assert_eq!(main["status"]["phase"], "Running");
        assert_eq!(main["spec"]["x"], 2);
        let status = merge_part(Part::Status, &cur, client);
        assert_eq!(status["status"]["phase"], "Failed");
        assert_eq!(status["spec"]["x"], 1);
        assert_eq!(status["metadata"]["labels"]["a"], "1");
    }

    #[test]
    fn generation_moves_with_spec_changes_only() {
        let Value::Object(cur) = json!({"metadata": {"name": "p", "uid": "u1",
            "creationTimestamp": "2020-01-01T00:00:00Z", "generation": 4}, "spec": {"x": 1}})
        else {
            unreachable!()
        };
        let Value::Object(mut same) = json!({"metadata": {"name": "p", "uid": "forged"},
            "spec": {"x": 1}})
        else {
            unreachable!()
        };
        server_fields(&mut same, Some(&cur));
        assert_eq!(same["metadata"]["generation"], 4);
        assert_eq!(same["metadata"]["uid"], "u1");
        assert_eq!(
            same["metadata"]["creationTimestamp"],
            "2020-01-01T00:00:00Z"
        );
        let Value::Object(mut changed) = json!({"metadata": {"name": "p"}, "spec": {"x": 2}})
        else {
            unreachable!()
        };
        server_fields(&mut changed, Some(&cur));
        assert_eq!(changed["metadata"]["generation"], 5);
        let Value::Object(mut new) = json!({"metadata": {"name": "p"}}) else {
            unreachable!()
        };
        server_fields(&mut new, None);
        assert_eq!(new["metadata"]["generation"], 1);
        assert_eq!(new["metadata"]["uid"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn json_patches_cannot_copy_without_bound() {
        // Each copy of the whole object into a new member doubles it.
        let ops: Vec<Value> = (0..30)
            .map(|i| json!({"op": "copy", "from": "", "path": format!("/b{i}")}))
            .collect();
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).unwrap();
        let mut doc = json!({"a": "x".repeat(1024)});
        let err = apply_json_patch(&mut doc, &patch).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.contains("copy more than"), "{}", err.message);
        let many: json_patch::Patch = serde_json::from_value(Value::Array(vec![
            json!({"op": "test", "path": "/a", "value": 1});
            MAX_JSON_PATCH_OPERATIONS
                + 1
        ]))
        .unwrap();
        assert_eq!(apply_json_patch(&mut doc, &many).unwrap_err().code, 400);
        let ok: json_patch::Patch =
            serde_json::from_value(json!([{"op": "copy", "from": "/a", "path": "/c"}])).unwrap();
        apply_json_patch(&mut doc, &ok).unwrap();
        assert_eq!(doc["c"], doc["a"]);
    }

    #[test]
    fn patch_types_by_content_type() {
        assert_eq!(
            PatchType::of_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchType::Merge
        );
        assert_eq!(
            PatchType::of_content_type("application/strategic-merge-patch+json").unwrap(),
            PatchType::Strategic
        );
        assert_eq!(
            PatchType::of_content_type("application/apply-patch+yaml")
                .unwrap_err()
                .code,
            415
        );
        assert_eq!(
            PatchType::of_content_type("text/plain").unwrap_err().code,
            415
        );
    }
}
