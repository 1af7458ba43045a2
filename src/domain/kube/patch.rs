//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`)
//! applied to plain `serde_json::Value` documents.
//!
//! The behaviour follows the server side of
//! `k8s.io/apimachinery/pkg/util/strategicpatch`:
//!
//! * Objects merge recursively, as in JSON merge patch (RFC 7386); a `null`
//!   value removes the key.
//! * A list whose field carries a merge key (the `patchMergeKey` struct tag of
//!   the Kubernetes API types) merges element by element, matching elements by
//!   that key. A list of primitive values with the `merge` strategy (such as
//!   `metadata.finalizers`) merges as an ordered set. Every other list is
//!   replaced wholesale.
//! * The directives `$patch` (`replace`, `delete`, `merge`), `$retainKeys`,
//!   `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are
//!   honoured. Any other key that starts with `$` is rejected as an unknown
//!   directive, except for the two real API field names `$ref` and `$schema`.
//!
//! Which lists merge, and by which key, depends on the kind of the object and
//! on the path of the field inside it. That knowledge lives in the static
//! tables at the end of this file. Kinds missing from those tables get JSON
//! merge patch behaviour: every list is replaced, while the directives above
//! still work.
//!
//! Element order follows apimachinery as well. Without `$setElementOrder`, the
//! elements named by the patch keep the order of the patch, and the elements
//! only the live list has keep their relative order and are interleaved with
//! them by their positions in the live list. An element the live list does not
//! have yet has no such position and goes ahead of the remaining live-only
//! elements, so a patch that only adds an element puts it first, as a real API
//! server does. With `$setElementOrder`, the listed elements follow the given
//! order and the others are interleaved in the same way.

use serde_json::{Map, Value};

/// Applies a strategic merge patch to `target` (an object of kind `kind`, e.g. "Pod", "Deployment"), in place.
///
/// Both `target` and `patch` must be JSON objects. The kind selects the merge
/// keys used for lists; an unknown kind makes every list replace its old
/// value. On error `target` is left unchanged and the message names the
/// problem and, where it helps, the field path at which it was found.
///
/// Kind names match case-insensitively. A top-level `{"$patch": "delete"}`
/// leaves an empty object, as it does in apimachinery.
///
/// # Errors
///
/// Returns a message when the patch or the target is not a JSON object, when
/// the patch uses an unknown or malformed directive, or when a list element
/// does not fit the list's merge strategy (for example a container without
/// its `name`).
pub fn strategic_merge(target: &mut Value, patch: &Value, kind: &str) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        return Err("the patch must be a JSON object".to_string());
    };
    let Value::Object(current) = &*target else {
        return Err("the object to patch must be a JSON object".to_string());
    };
    let mut result = current.clone();
    let mut ctx = Ctx {
        schema: schema_for(kind),
        path: Vec::new(),
    };
    if merge_map(&mut result, patch, &mut ctx)? == Outcome::Delete {
        result.clear();
    }
    *target = Value::Object(result);
    Ok(())
}

const PATCH_DIRECTIVE: &str = "$patch";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";

/// Field names that start with `$` but are ordinary fields of the Kubernetes
/// API (both belong to the JSON schema of a `CustomResourceDefinition`).
const PLAIN_DOLLAR_FIELDS: &[&str] = &["$ref", "$schema"];

/// What merging a patch object into a map asks the caller to do with the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Keep the (merged) map.
    Keep,
    /// Remove the map: the patch said `$patch: delete`.
    Delete,
}

/// State carried through the recursion: the schema of the kind being patched
/// and the dotted path of the field being merged. List elements do not add a
/// segment to the path, so the fields of a container inside a pod spec have
/// paths such as `spec.containers.env`.
struct Ctx<'p> {
    schema: Option<&'static KindSchema>,
    path: Vec<&'p str>,
}

impl Ctx<'_> {
    /// The merge strategy declared for the field at the current path.
    fn strategy(&self) -> Option<Strategy> {
        self.schema.and_then(|schema| schema.lookup(&self.path))
    }

    fn path_string(&self) -> String {
        self.path.join(".")
    }

    /// A prefix for error messages that names the current path, if any.
    fn at(&self) -> String {
        if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path_string())
        }
    }

    /// A prefix for error messages about the list at the current path.
    fn list(&self) -> String {
        format!("list {}: ", self.path_string())
    }
}

/// A key of a patch object, sorted by what it means.
enum PatchKey<'p> {
    Patch,
    RetainKeys,
    SetElementOrder(&'p str),
    DeleteFromPrimitiveList(&'p str),
    Field(&'p str),
}

fn classify<'p>(key: &'p str, ctx: &Ctx<'_>) -> Result<PatchKey<'p>, String> {
    if !key.starts_with('$') || PLAIN_DOLLAR_FIELDS.contains(&key) {
        return Ok(PatchKey::Field(key));
    }
    if key == PATCH_DIRECTIVE {
        return Ok(PatchKey::Patch);
    }
    if key == RETAIN_KEYS_DIRECTIVE {
        return Ok(PatchKey::RetainKeys);
    }
    for prefix in [SET_ELEMENT_ORDER_PREFIX, DELETE_FROM_PRIMITIVE_LIST_PREFIX] {
        if let Some(rest) = key.strip_prefix(prefix) {
            return match rest.strip_prefix('/') {
                Some(field) if !field.is_empty() => Ok(if prefix == SET_ELEMENT_ORDER_PREFIX {
                    PatchKey::SetElementOrder(field)
                } else {
                    PatchKey::DeleteFromPrimitiveList(field)
                }),
                _ => Err(format!(
                    "{}{prefix} needs the name of a list field, as in {prefix}/<field> (found {key:?})",
                    ctx.at()
                )),
            };
        }
    }
    Err(format!("{}unknown directive {key:?}", ctx.at()))
}

/// Reads the `$patch` directive of an object, if it has one.
fn patch_directive<'v>(
    obj: &'v Map<String, Value>,
    ctx: &Ctx<'_>,
) -> Result<Option<&'v str>, String> {
    match obj.get(PATCH_DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(directive)) => match directive.as_str() {
            "replace" | "delete" | "merge" => Ok(Some(directive.as_str())),
            other => Err(format!("{}$patch: unknown directive {other:?}", ctx.at())),
        },
        Some(other) => Err(format!(
            "{}$patch: the directive must be a string, found {}",
            ctx.at(),
            type_name(other)
        )),
    }
}

/// Merges the patch object `patch` into `target`.
fn merge_map<'p>(
    target: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    ctx: &mut Ctx<'p>,
) -> Result<Outcome, String> {
    match patch_directive(patch, ctx)? {
        Some("delete") => return Ok(Outcome::Delete),
        Some("replace") => target.clear(),
        _ => {}
    }

    let mut fields: Vec<(&'p str, &'p Value)> = Vec::new();
    let mut orders: Vec<(&'p str, &'p Value)> = Vec::new();
    let mut deletions: Vec<(&'p str, &'p Value)> = Vec::new();
    let mut retain_keys: Option<&'p Value> = None;
    for (key, value) in patch {
        match classify(key, ctx)? {
            PatchKey::Patch => {}
            PatchKey::RetainKeys => retain_keys = Some(value),
            PatchKey::SetElementOrder(field) => orders.push((field, value)),
            PatchKey::DeleteFromPrimitiveList(field) => deletions.push((field, value)),
            PatchKey::Field(field) => fields.push((field, value)),
        }
    }

    // `$retainKeys` clears every field it does not list, before merging. Every
    // field the patch sets must be listed.
    if let Some(retain_keys) = retain_keys {
        let names: Vec<&str> = retain_keys
            .as_array()
            .and_then(|list| list.iter().map(Value::as_str).collect())
            .ok_or_else(|| format!("{}$retainKeys must be a list of field names", ctx.at()))?;
        if let Some((field, _)) = fields
            .iter()
            .find(|(field, value)| !value.is_null() && !names.contains(field))
        {
            return Err(format!(
                "{}the patch sets field {field:?}, which $retainKeys does not list",
                ctx.at()
            ));
        }
        target.retain(|key, _| names.contains(&key.as_str()));
    }

    // `$setElementOrder/<field>` merges its list first and then orders it. A
    // list the patch also sets is stored when the regular merge reaches it, so
    // that new fields keep the key order of the patch.
    let mut ordered: Vec<(&'p str, Vec<Value>)> = Vec::new();
    for (field, order) in orders {
        ctx.path.push(field);
        let result = apply_element_order(target, patch, field, order, ctx);
        ctx.path.pop();
        if let Some(list) = result? {
            ordered.push((field, list));
        }
    }

    for (field, value) in fields {
        if let Some(index) = ordered.iter().position(|(name, _)| *name == field) {
            let (_, list) = ordered.swap_remove(index);
            target.insert(field.to_string(), Value::Array(list));
            continue;
        }
        if value.is_null() {
            target.shift_remove(field);
            continue;
        }
        ctx.path.push(field);
        let result = merge_field(target, field, value, ctx);
        ctx.path.pop();
        result?;
    }

    for (field, list) in ordered {
        target.insert(field.to_string(), Value::Array(list));
    }

    for (field, values) in deletions {
        let Value::Array(values) = values else {
            return Err(format!(
                "{}{DELETE_FROM_PRIMITIVE_LIST_PREFIX}/{field} must be a list",
                ctx.at()
            ));
        };
        if let Some(Value::Array(list)) = target.get_mut(field) {
            list.retain(|item| !values.iter().any(|value| json_eq(item, value)));
        }
    }

    Ok(Outcome::Keep)
}

/// Merges the non-null patch value `value` into the field `field` of `target`;
/// the context path already ends with `field`.
fn merge_field<'p>(
    target: &mut Map<String, Value>,
    field: &'p str,
    value: &'p Value,
    ctx: &mut Ctx<'p>,
) -> Result<(), String> {
    match value {
        Value::Object(patch) => {
            let replace = ctx.strategy() == Some(Strategy::Replace);
            let outcome = match target.get_mut(field) {
                Some(Value::Object(existing)) if !replace => merge_map(existing, patch, ctx)?,
                _ => {
                    let mut fresh = Map::new();
                    let outcome = merge_map(&mut fresh, patch, ctx)?;
                    if outcome == Outcome::Keep {
                        target.insert(field.to_string(), Value::Object(fresh));
                    }
                    outcome
                }
            };
            if outcome == Outcome::Delete {
                target.shift_remove(field);
            }
        }
        Value::Array(patch) => {
            let existing = match target.get_mut(field) {
                Some(Value::Array(existing)) => std::mem::take(existing),
                _ => Vec::new(),
            };
            let merged = merge_list(existing, patch, ctx)?;
            target.insert(field.to_string(), Value::Array(merged));
        }
        other => {
            target.insert(field.to_string(), other.clone());
        }
    }
    Ok(())
}

/// Merges the patch list `patch` into the list `existing` according to the
/// strategy declared for the current path.
fn merge_list<'p>(
    existing: Vec<Value>,
    patch: &'p [Value],
    ctx: &mut Ctx<'p>,
) -> Result<Vec<Value>, String> {
    match ctx.strategy() {
        Some(Strategy::MergeByKey(key)) => merge_keyed_list(existing, patch, key, ctx),
        Some(Strategy::MergePrimitives) => merge_primitive_list(existing, patch, ctx),
        Some(Strategy::Replace) | None => replace_list(patch, ctx),
    }
}

/// Builds the new value of a list that is replaced: the patch elements, with
/// the directives inside them applied.
fn replace_list<'p>(patch: &'p [Value], ctx: &mut Ctx<'p>) -> Result<Vec<Value>, String> {
    let mut result = Vec::with_capacity(patch.len());
    for element in patch {
        match element {
            Value::Object(obj) => {
                // A bare `{"$patch": ...}` marker has nothing to add to a list
                // that is replaced anyway.
                if obj.len() == 1 && patch_directive(obj, ctx)?.is_some() {
                    continue;
                }
                let mut fresh = Map::new();
                if merge_map(&mut fresh, obj, ctx)? == Outcome::Keep {
                    result.push(Value::Object(fresh));
                }
            }
            other => result.push(other.clone()),
        }
    }
    Ok(result)
}

/// Merges a list of objects whose elements are identified by `key`.
fn merge_keyed_list<'p>(
    mut existing: Vec<Value>,
    patch: &'p [Value],
    key: &'static str,
    ctx: &mut Ctx<'p>,
) -> Result<Vec<Value>, String> {
    if let Some(bad) = existing.iter().find(|element| !element.is_object()) {
        return Err(format!(
            "{}the existing list holds {} where objects keyed by {key} were expected",
            ctx.list(),
            type_name(bad)
        ));
    }

    let mut elements: Vec<&'p Map<String, Value>> = Vec::new();
    let mut replace = false;
    for element in patch {
        let Value::Object(obj) = element else {
            return Err(format!(
                "{}elements must be objects with the merge key {key}, found {}",
                ctx.list(),
                type_name(element)
            ));
        };
        match patch_directive(obj, ctx)? {
            Some("delete") => {
                let Some(value) = obj.get(key) else {
                    return Err(format!(
                        "{}a $patch: delete element without its merge key {key}",
                        ctx.list()
                    ));
                };
                existing.retain(|item| !has_key_value(item, key, value));
            }
            Some("replace") => replace = true,
            _ => {
                if !obj.contains_key(key) {
                    return Err(format!(
                        "{}an element without its merge key {key}",
                        ctx.list()
                    ));
                }
                elements.push(obj);
            }
        }
    }

    if replace {
        let mut result = Vec::with_capacity(elements.len());
        for obj in elements {
            let mut fresh = Map::new();
            if merge_map(&mut fresh, obj, ctx)? == Outcome::Keep {
                result.push(Value::Object(fresh));
            }
        }
        return Ok(result);
    }

    let server_order = identities(&existing, Some(key));
    let patch_order: Vec<Option<Value>> =
        elements.iter().map(|obj| obj.get(key).cloned()).collect();
    for obj in elements {
        let value = &obj[key];
        let found = existing.iter_mut().find_map(|item| match item {
            Value::Object(map) if map.get(key).is_some_and(|v| json_eq(v, value)) => Some(map),
            _ => None,
        });
        if let Some(map) = found {
            merge_map(map, obj, ctx)?;
        } else {
            let mut fresh = Map::new();
            if merge_map(&mut fresh, obj, ctx)? == Outcome::Keep {
                existing.push(Value::Object(fresh));
            }
        }
    }
    Ok(reorder(existing, &patch_order, &server_order, Some(key)))
}

/// Merges a list of primitive values as an ordered set.
fn merge_primitive_list(
    existing: Vec<Value>,
    patch: &[Value],
    ctx: &Ctx<'_>,
) -> Result<Vec<Value>, String> {
    let mut values: Vec<&Value> = Vec::new();
    let mut replace = false;
    for element in patch {
        match element {
            Value::Object(obj) if obj.contains_key(PATCH_DIRECTIVE) => {
                match patch_directive(obj, ctx)? {
                    Some("replace") => replace = true,
                    Some("merge") => {}
                    _ => {
                        return Err(format!(
                            "{}$patch: delete does not apply to a list of primitive values; use {DELETE_FROM_PRIMITIVE_LIST_PREFIX}/<field>",
                            ctx.list()
                        ));
                    }
                }
            }
            Value::Object(_) | Value::Array(_) => {
                return Err(format!(
                    "{}expected primitive values, found {}",
                    ctx.list(),
                    type_name(element)
                ));
            }
            primitive => values.push(primitive),
        }
    }
    if replace {
        return Ok(values.into_iter().cloned().collect());
    }

    let server_order = identities(&existing, None);
    let patch_order: Vec<Option<Value>> = values.iter().map(|v| Some((*v).clone())).collect();
    let mut merged: Vec<Value> = Vec::with_capacity(existing.len() + values.len());
    for value in existing.into_iter().chain(values.into_iter().cloned()) {
        if !merged.iter().any(|seen| json_eq(seen, &value)) {
            merged.push(value);
        }
    }
    Ok(reorder(merged, &patch_order, &server_order, None))
}

/// Handles `$setElementOrder/<field>`: merges the patch list of `field` (if
/// any) into the existing list and returns the ordered result, or `None` when
/// the field is not a merging list (then the regular merge handles it).
fn apply_element_order<'p>(
    target: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    field: &'p str,
    order: &'p Value,
    ctx: &mut Ctx<'p>,
) -> Result<Option<Vec<Value>>, String> {
    let directive = format!("{SET_ELEMENT_ORDER_PREFIX}/{field}");
    let Value::Array(order) = order else {
        return Err(format!("{}{directive} must be a list", ctx.list()));
    };
    let key = match ctx.strategy() {
        Some(Strategy::MergeByKey(key)) => Some(key),
        Some(Strategy::MergePrimitives) => None,
        // A replaced list simply takes the order of the patch.
        Some(Strategy::Replace) | None => return Ok(None),
    };
    let patch_list = match patch.get(field) {
        None => None,
        Some(Value::Array(list)) => Some(list.as_slice()),
        Some(other) => {
            return Err(format!(
                "{}{directive} is given, but the patch sets the field to {} instead of a list",
                ctx.list(),
                type_name(other)
            ));
        }
    };

    // The order list names elements by merge key (or by value).
    let mut order_ids: Vec<Option<Value>> = Vec::with_capacity(order.len());
    for item in order {
        let id = match (key, item) {
            (Some(key), Value::Object(obj)) => obj.get(key),
            (None, value) if !value.is_object() && !value.is_array() => Some(value),
            _ => None,
        };
        let Some(id) = id else {
            return Err(match key {
                Some(key) => format!(
                    "{}{directive}: an element without its merge key {key}",
                    ctx.list()
                ),
                None => format!(
                    "{}{directive}: expected primitive values, found {}",
                    ctx.list(),
                    type_name(item)
                ),
            });
        };
        order_ids.push(Some(id.clone()));
    }

    // Every element the patch merges must appear in the order list, in the
    // same relative order.
    if let Some(list) = patch_list {
        let mut position = 0;
        for element in list {
            if matches!(element, Value::Object(obj) if obj.contains_key(PATCH_DIRECTIVE)) {
                continue;
            }
            let Some(id) = identity(element, key) else {
                continue; // the merge below reports the missing key
            };
            loop {
                let Some(Some(candidate)) = order_ids.get(position) else {
                    return Err(format!(
                        "{}the order of the patch list does not match {directive}",
                        ctx.list()
                    ));
                };
                position += 1;
                if json_eq(candidate, id) {
                    break;
                }
            }
        }
    }

    let existing = match target.get_mut(field) {
        Some(Value::Array(existing)) => Some(std::mem::take(existing)),
        _ => None,
    };
    if existing.is_none() && patch_list.is_none() {
        return Ok(None);
    }
    let server_order = existing
        .as_deref()
        .map(|list| identities(list, key))
        .unwrap_or_default();
    let merged = match patch_list {
        Some(list) => merge_list(existing.unwrap_or_default(), list, ctx)?,
        None => existing.unwrap_or_default(),
    };
    Ok(Some(reorder(merged, &order_ids, &server_order, key)))
}

/// Orders a merged list the way apimachinery does: the elements named by
/// `patch_order` come in that order, the other elements keep the order they
/// have in `server_order`, and the two runs are interleaved so that an
/// element of the second run goes before an element of the first run only if
/// it came before it in `server_order`.
fn reorder(
    merged: Vec<Value>,
    patch_order: &[Option<Value>],
    server_order: &[Option<Value>],
    key: Option<&str>,
) -> Vec<Value> {
    let position = |list: &[Option<Value>], item: &Value| {
        identity(item, key).and_then(|id| {
            list.iter()
                .position(|candidate| candidate.as_ref().is_some_and(|c| json_eq(c, id)))
        })
    };
    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(patch_order, item).is_some());
    from_patch.sort_by_key(|item| position(patch_order, item).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position(server_order, item).unwrap_or(usize::MAX));

    let mut result = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => matches!(
                (position(server_order, l), position(server_order, r)),
                (Some(li), Some(ri)) if li < ri
            ),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        result.extend(next);
    }
    result
}

/// The value that identifies a list element: its merge key, or the element
/// itself for lists of primitives.
fn identity<'v>(item: &'v Value, key: Option<&str>) -> Option<&'v Value> {
    match key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

fn identities(list: &[Value], key: Option<&str>) -> Vec<Option<Value>> {
    list.iter()
        .map(|item| identity(item, key).cloned())
        .collect()
}

fn has_key_value(item: &Value, key: &str, value: &Value) -> bool {
    item.get(key).is_some_and(|v| json_eq(v, value))
}

/// JSON equality in which numbers compare by value, so that `80` equals `80.0`.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        _ => a == b,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------
// The merge-key table.
//
// Paths are dotted field names inside an object; list elements add no
// segment, so `containers.env` is the `env` list of every element of
// `containers`. A `Structure` is a reusable piece of schema (a pod spec, a
// container, object metadata): its own rules, relative to where it is
// embedded, plus the places where other structures are embedded in it. The
// kinds table says, for each kind, which rules apply at object level and
// where the shared structures live (for instance the pod spec at `spec` in a
// Pod and at `spec.template.spec` in a Deployment). Every known kind also
// gets `ObjectMeta` at `metadata`.
//
// The entries mirror the `patchStrategy` and `patchMergeKey` struct tags of
// k8s.io/api v0.36.3 (Kubernetes 1.36) and k8s.io/apimachinery v0.36.3
// (ObjectMeta). Lists that carry no tag are not listed here and are replaced
// wholesale, for example `spec.tolerations`, `containers.resizePolicy`,
// `status.containerStatuses`, a Node's `spec.taints` and an Endpoints'
// `subsets`. Some fields also carry the `retainKeys` strategy (a pod spec's
// `volumes` and `resourceClaims`, a Pod's `status.resourceClaimStatuses`, a
// Deployment's `spec.strategy`); that only matters to clients that build
// patches, and the `$retainKeys` directive is honoured wherever it appears.
// ---------------------------------------------------------------------------

/// How a field is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// A list of objects merged element by element, matching on this key.
    MergeByKey(&'static str),
    /// A list of primitive values merged as an ordered set.
    MergePrimitives,
    /// An object replaced wholesale instead of merged.
    Replace,
}

/// The strategy of the field at a dotted path.
struct Rule {
    path: &'static str,
    strategy: Strategy,
}

/// A shared structure embedded at a dotted path.
struct Embed {
    at: &'static str,
    structure: &'static Structure,
}

/// A reusable piece of schema: rules relative to it and the structures it embeds.
struct Structure {
    rules: &'static [Rule],
    embeds: &'static [Embed],
}

/// The schema of one or more kinds.
struct KindSchema {
    kinds: &'static [&'static str],
    structure: Structure,
}

const fn key(path: &'static str, key: &'static str) -> Rule {
    Rule {
        path,
        strategy: Strategy::MergeByKey(key),
    }
}

const fn primitives(path: &'static str) -> Rule {
    Rule {
        path,
        strategy: Strategy::MergePrimitives,
    }
}

const fn replace(path: &'static str) -> Rule {
    Rule {
        path,
        strategy: Strategy::Replace,
    }
}

const fn embed(at: &'static str, structure: &'static Structure) -> Embed {
    Embed { at, structure }
}

/// `ObjectMeta` (k8s.io/apimachinery pkg/apis/meta/v1/types.go).
static OBJECT_META: Structure = Structure {
    rules: &[key("ownerReferences", "uid"), primitives("finalizers")],
    embeds: &[],
};

/// `Container` and `EphemeralContainerCommon` (core/v1).
static CONTAINER: Structure = Structure {
    rules: &[
        key("ports", "containerPort"),
        key("env", "name"),
        key("volumeMounts", "mountPath"),
        key("volumeDevices", "devicePath"),
    ],
    embeds: &[],
};

/// `PodSpec` (core/v1).
static POD_SPEC: Structure = Structure {
    rules: &[
        key("volumes", "name"), // also retainKeys
        key("initContainers", "name"),
        key("containers", "name"),
        key("ephemeralContainers", "name"),
        key("imagePullSecrets", "name"),
        key("hostAliases", "ip"),
        key("topologySpreadConstraints", "topologyKey"),
        key("schedulingGates", "name"),
        key("resourceClaims", "name"), // also retainKeys
    ],
    embeds: &[
        embed("containers", &CONTAINER),
        embed("initContainers", &CONTAINER),
        embed("ephemeralContainers", &CONTAINER),
    ],
};

/// `PodTemplateSpec` (core/v1): object metadata plus a pod spec.
static POD_TEMPLATE_SPEC: Structure = Structure {
    rules: &[],
    embeds: &[embed("metadata", &OBJECT_META), embed("spec", &POD_SPEC)],
};

/// `JobTemplateSpec` (batch/v1), as used by a `CronJob`.
static JOB_TEMPLATE_SPEC: Structure = Structure {
    rules: &[],
    embeds: &[
        embed("metadata", &OBJECT_META),
        embed("spec.template", &POD_TEMPLATE_SPEC),
    ],
};

const STATUS_CONDITIONS: Rule = key("status.conditions", "type");

/// The kinds this module knows. Kinds listed with no rules still get the
/// `ObjectMeta` rules (owner references, finalizers).
static KINDS: &[KindSchema] = &[
    KindSchema {
        kinds: &["Pod"],
        structure: Structure {
            rules: &[
                STATUS_CONDITIONS,
                key("status.hostIPs", "ip"),
                key("status.podIPs", "ip"),
                key("status.resourceClaimStatuses", "name"), // also retainKeys
            ],
            embeds: &[embed("spec", &POD_SPEC)],
        },
    },
    KindSchema {
        kinds: &["PodTemplate"],
        structure: Structure {
            rules: &[],
            embeds: &[embed("template", &POD_TEMPLATE_SPEC)],
        },
    },
    KindSchema {
        kinds: &[
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "ReplicationController",
        ],
        structure: Structure {
            rules: &[STATUS_CONDITIONS],
            embeds: &[embed("spec.template", &POD_TEMPLATE_SPEC)],
        },
    },
    KindSchema {
        kinds: &["CronJob"],
        structure: Structure {
            rules: &[],
            embeds: &[embed("spec.jobTemplate", &JOB_TEMPLATE_SPEC)],
        },
    },
    KindSchema {
        kinds: &["Service"],
        structure: Structure {
            rules: &[key("spec.ports", "port"), STATUS_CONDITIONS],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["Node"],
        structure: Structure {
            rules: &[
                primitives("spec.podCIDRs"),
                STATUS_CONDITIONS,
                key("status.addresses", "type"),
            ],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["ServiceAccount"],
        structure: Structure {
            rules: &[key("secrets", "name")],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["ComponentStatus"],
        structure: Structure {
            rules: &[key("conditions", "type")],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["PodDisruptionBudget"],
        structure: Structure {
            rules: &[replace("spec.selector"), STATUS_CONDITIONS],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &[
            "Namespace",
            "PersistentVolumeClaim",
            "HorizontalPodAutoscaler",
            "FlowSchema",
            "PriorityLevelConfiguration",
            "ServiceCIDR",
        ],
        structure: Structure {
            rules: &[STATUS_CONDITIONS],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &[
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ],
        structure: Structure {
            rules: &[
                key("webhooks", "name"),
                key("webhooks.matchConditions", "name"),
            ],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["ValidatingAdmissionPolicy"],
        structure: Structure {
            rules: &[
                key("spec.matchConditions", "name"),
                key("spec.variables", "name"),
            ],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["MutatingAdmissionPolicy"],
        structure: Structure {
            rules: &[key("spec.matchConditions", "name")],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["ResourceClaim"],
        structure: Structure {
            rules: &[key("status.reservedFor", "uid")],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &["CSINode"],
        structure: Structure {
            rules: &[key("spec.drivers", "name")],
            embeds: &[],
        },
    },
    KindSchema {
        kinds: &[
            "ConfigMap",
            "Secret",
            "Endpoints",
            "EndpointSlice",
            "Event",
            "LimitRange",
            "ResourceQuota",
            "PersistentVolume",
            "ControllerRevision",
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "Role",
            "ClusterRole",
            "RoleBinding",
            "ClusterRoleBinding",
            "StorageClass",
            "CSIDriver",
            "VolumeAttachment",
            "PriorityClass",
            "RuntimeClass",
            "Lease",
            "CertificateSigningRequest",
        ],
        structure: Structure {
            rules: &[],
            embeds: &[],
        },
    },
];

/// `ObjectMeta` sits at `metadata` in every kind.
static OBJECT_METADATA: Embed = embed("metadata", &OBJECT_META);

fn schema_for(kind: &str) -> Option<&'static KindSchema> {
    KINDS.iter().find(|schema| {
        schema
            .kinds
            .iter()
            .any(|known| known.eq_ignore_ascii_case(kind))
    })
}

impl KindSchema {
    fn lookup(&self, path: &[&str]) -> Option<Strategy> {
        OBJECT_METADATA
            .lookup(path)
            .or_else(|| self.structure.lookup(path))
    }
}

impl Structure {
    fn lookup(&self, path: &[&str]) -> Option<Strategy> {
        if let Some(rule) = self
            .rules
            .iter()
            .find(|rule| rule.path.split('.').eq(path.iter().copied()))
        {
            return Some(rule.strategy);
        }
        self.embeds.iter().find_map(|embed| embed.lookup(path))
    }
}

impl Embed {
    fn lookup(&self, path: &[&str]) -> Option<Strategy> {
        let mut rest = path;
        for segment in self.at.split('.') {
            match rest.split_first() {
                Some((first, tail)) if *first == segment => rest = tail,
                _ => return None,
            }
        }
        if rest.is_empty() {
            None
        } else {
            self.structure.lookup(rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(mut target: Value, patch: &Value, kind: &str) -> Value {
        strategic_merge(&mut target, patch, kind).expect("patch applies");
        target
    }

    fn names(list: &Value) -> Vec<String> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|item| item["name"].as_str().expect("a name").to_string())
            .collect()
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web",
                "labels": {"app": "web", "tier": "a"},
                "finalizers": ["a.example.com/x", "b.example.com/y"]
            },
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:1.25",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}]
                    },
                    {"name": "sidecar", "image": "busybox"}
                ],
                "tolerations": [{"key": "k1", "operator": "Exists"}]
            }
        })
    }

    #[test]
    fn merges_a_container_image_by_name_and_keeps_the_others() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}),
            "Pod",
        );
        let containers = &result["spec"]["containers"];
        assert_eq!(names(containers), ["app", "sidecar"]);
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[0]["env"][0]["name"], "A");
        assert_eq!(containers[1]["image"], "busybox");
    }

    #[test]
    fn adds_an_env_var() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}),
            "Pod",
        );
        let env = &result["spec"]["containers"][0]["env"];
        assert_eq!(env.as_array().unwrap().len(), 2);
        assert!(
            env.as_array()
                .unwrap()
                .contains(&json!({"name": "A", "value": "1"}))
        );
        assert!(
            env.as_array()
                .unwrap()
                .contains(&json!({"name": "B", "value": "2"}))
        );
    }

    #[test]
    fn changes_an_env_var_in_place() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "9"}]}]}}),
            "Pod",
        );
        assert_eq!(
            result["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "9"}])
        );
    }

    #[test]
    fn new_elements_go_first_like_apimachinery() {
        // Without $setElementOrder the API server places a new element
        // before the existing ones.
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "extra", "image": "redis"}]}}),
            "Pod",
        );
        assert_eq!(
            names(&result["spec"]["containers"]),
            ["extra", "app", "sidecar"]
        );
    }

    #[test]
    fn deletes_a_container_with_patch_delete() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}),
            "Pod",
        );
        assert_eq!(names(&result["spec"]["containers"]), ["app"]);
    }

    #[test]
    fn replaces_the_containers_list_with_patch_replace() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [
                {"$patch": "replace"},
                {"name": "only", "image": "alpine"}
            ]}}),
            "Pod",
        );
        assert_eq!(
            result["spec"]["containers"],
            json!([{"name": "only", "image": "alpine"}])
        );
    }

    #[test]
    fn set_element_order_reorders_containers() {
        let result = apply(
            pod(),
            &json!({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}),
            "Pod",
        );
        assert_eq!(names(&result["spec"]["containers"]), ["sidecar", "app"]);
        assert_eq!(result["spec"]["containers"][1]["image"], "nginx:1.25");
        assert!(result["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn set_element_order_places_a_new_container() {
        let result = apply(
            pod(),
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "extra"}],
                "containers": [{"name": "extra", "image": "redis"}]
            }}),
            "Pod",
        );
        assert_eq!(
            names(&result["spec"]["containers"]),
            ["app", "sidecar", "extra"]
        );
    }

    /// Ported from the apimachinery raw test cases "set elements order in a
    /// list with server-only items 2" and "... 3".
    #[test]
    fn set_element_order_interleaves_server_only_items() {
        let live = json!({"spec": {"containers": [
            {"name": "1", "other": "a"},
            {"name": "2", "value": 2},
            {"name": "7"},
            {"name": "9"},
            {"name": "8"},
            {"name": "3", "value": 3},
            {"name": "4", "value": 4}
        ]}});
        let patch = json!({"spec": {"$setElementOrder/containers": [
            {"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}
        ]}});
        let result = apply(live, &patch, "Pod");
        assert_eq!(
            names(&result["spec"]["containers"]),
            ["2", "1", "7", "9", "8", "4", "3"]
        );
    }

    /// Ported from the apimachinery raw test case "delete an item in a list
    /// and preserve order".
    #[test]
    fn delete_with_set_element_order() {
        let live = json!({"spec": {"containers": [
            {"name": "1", "other": "a"},
            {"name": "2", "value": 2, "other": "b"},
            {"name": "3", "value": 3}
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "2"}, {"name": "1"}],
            "containers": [{"name": "3", "$patch": "delete"}]
        }});
        let result = apply(live, &patch, "Pod");
        assert_eq!(
            result["spec"]["containers"],
            json!([{"name": "2", "value": 2, "other": "b"}, {"name": "1", "other": "a"}])
        );
    }

    /// Ported from the apimachinery raw test case "add multiple items in a
    /// list and preserve order".
    #[test]
    fn set_element_order_adds_several_items() {
        let live = json!({"spec": {"containers": [
            {"name": "1", "other": "a"},
            {"name": "2", "value": 2, "other": "b"}
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "1"}, {"name": "4"}, {"name": "2"}, {"name": "3"}],
            "containers": [{"name": "4", "value": 4}, {"name": "3", "value": 3}]
        }});
        let result = apply(live, &patch, "Pod");
        assert_eq!(
            result["spec"]["containers"],
            json!([
                {"name": "1", "other": "a"},
                {"name": "4", "value": 4},
                {"name": "2", "value": 2, "other": "b"},
                {"name": "3", "value": 3}
            ])
        );
    }

    #[test]
    fn new_fields_keep_the_key_order_of_the_patch() {
        let result = apply(
            json!({"spec": {}}),
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"name": "app", "image": "x"}],
                "restartPolicy": "Never"
            }}),
            "Pod",
        );
        assert_eq!(
            result.to_string(),
            r#"{"spec":{"containers":[{"name":"app","image":"x"}],"restartPolicy":"Never"}}"#
        );
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch_list() {
        let mut target = pod();
        let err = strategic_merge(
            &mut target,
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"name": "other", "image": "x"}]
            }}),
            "Pod",
        )
        .unwrap_err();
        assert!(
            err.contains("does not match $setElementOrder/containers"),
            "{err}"
        );
        assert_eq!(target, pod(), "the target is unchanged on error");
    }

    #[test]
    fn delete_from_primitive_list_removes_finalizers() {
        let result = apply(
            pod(),
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x", "absent"]}}),
            "Pod",
        );
        assert_eq!(result["metadata"]["finalizers"], json!(["b.example.com/y"]));
        assert!(
            result["metadata"]
                .get("$deleteFromPrimitiveList/finalizers")
                .is_none()
        );
    }

    #[test]
    fn delete_from_primitive_list_does_not_create_the_list() {
        let result = apply(
            json!({"metadata": {"name": "x"}}),
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            "Pod",
        );
        assert_eq!(result, json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let result = apply(
            pod(),
            &json!({"metadata": {"finalizers": ["b.example.com/y", "c.example.com/z"]}}),
            "Pod",
        );
        assert_eq!(
            result["metadata"]["finalizers"],
            json!(["a.example.com/x", "b.example.com/y", "c.example.com/z"])
        );
    }

    /// Ported from the apimachinery raw test case "add an item in a list of
    /// primitives and preserve order".
    #[test]
    fn primitive_list_with_set_element_order() {
        let result = apply(
            json!({"metadata": {"finalizers": ["1", "4", "2"]}}),
            &json!({"metadata": {"$setElementOrder/finalizers": ["3", "1", "2"], "finalizers": ["3"]}}),
            "ConfigMap",
        );
        assert_eq!(
            result["metadata"]["finalizers"],
            json!(["3", "1", "4", "2"])
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_fields() {
        let deployment = json!({"spec": {"strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1}
        }}});
        let result = apply(
            deployment,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            "Deployment",
        );
        assert_eq!(result["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn retain_keys_must_list_every_patched_field() {
        let mut target = json!({"spec": {"strategy": {"type": "Recreate"}}});
        let err = strategic_merge(
            &mut target,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            "Deployment",
        )
        .unwrap_err();
        assert!(err.contains("$retainKeys"), "{err}");
    }

    #[test]
    fn retain_keys_in_a_volume_element() {
        let live = json!({"spec": {"volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "c"}}
        ]}});
        let patch = json!({"spec": {"volumes": [
            {"$retainKeys": ["name", "hostPath"], "name": "data", "hostPath": {"path": "/x"}}
        ]}});
        let result = apply(live, &patch, "Pod");
        let volumes = result["spec"]["volumes"].as_array().unwrap();
        assert!(volumes.contains(&json!({"name": "data", "hostPath": {"path": "/x"}})));
        assert!(volumes.contains(&json!({"name": "cfg", "configMap": {"name": "c"}})));
    }

    #[test]
    fn sets_and_removes_labels() {
        let result = apply(
            pod(),
            &json!({"metadata": {"labels": {"tier": null, "env": "prod"}}}),
            "Pod",
        );
        assert_eq!(
            result["metadata"]["labels"],
            json!({"app": "web", "env": "prod"})
        );
    }

    #[test]
    fn merges_deployment_template_containers() {
        let deployment = json!({
            "kind": "Deployment",
            "spec": {
                "replicas": 1,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "app", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]},
                        {"name": "log", "image": "fluentbit"}
                    ]}
                }
            }
        });
        let patch = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.27", "env": [{"name": "B", "value": "2"}]}
        ]}}}});
        let result = apply(deployment, &patch, "Deployment");
        let containers = &result["spec"]["template"]["spec"]["containers"];
        assert_eq!(result["spec"]["replicas"], 3);
        assert_eq!(names(containers), ["app", "log"]);
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(containers[0]["env"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn merges_cronjob_pod_template_containers() {
        let cronjob = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "job", "image": "a"},
            {"name": "helper", "image": "b"}
        ]}}}}}});
        let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "job", "image": "c"}
        ]}}}}}});
        let result = apply(cronjob, &patch, "CronJob");
        let containers = &result["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
        assert_eq!(names(containers), ["job", "helper"]);
        assert_eq!(containers[0]["image"], "c");
    }

    #[test]
    fn unknown_kind_replaces_lists() {
        let target = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "size": 1}});
        let result = apply(
            target,
            &json!({"spec": {"containers": [{"name": "c"}], "size": null}}),
            "Widget",
        );
        assert_eq!(result, json!({"spec": {"containers": [{"name": "c"}]}}));
    }

    #[test]
    fn unknown_kind_still_applies_directives() {
        let target = json!({
            "metadata": {"finalizers": ["a", "b"]},
            "spec": {"items": [1, 2], "nested": {"x": 1, "y": 2}}
        });
        let patch = json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
            "spec": {
                "items": [{"$patch": "replace"}, 3],
                "nested": {"$patch": "replace", "z": 3}
            }
        });
        let result = apply(target, &patch, "Widget");
        assert_eq!(
            result,
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"items": [3], "nested": {"z": 3}}})
        );
    }

    #[test]
    fn unmarked_lists_of_known_kinds_are_replaced() {
        let result = apply(
            pod(),
            &json!({"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}),
            "Pod",
        );
        assert_eq!(
            result["spec"]["tolerations"],
            json!([{"key": "k2", "operator": "Exists"}])
        );
    }

    #[test]
    fn merges_ports_by_container_port() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "name": "http"},
                {"containerPort": 443, "protocol": "TCP"}
            ]}]}}),
            "Pod",
        );
        let ports = result["spec"]["containers"][0]["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 2);
        assert!(ports.contains(&json!({"containerPort": 80, "protocol": "TCP", "name": "http"})));
        assert!(ports.contains(&json!({"containerPort": 443, "protocol": "TCP"})));
    }

    #[test]
    fn numeric_merge_keys_compare_by_value() {
        let result = apply(
            pod(),
            &json!({"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80.0, "name": "http"}]}]}}),
            "Pod",
        );
        let ports = result["spec"]["containers"][0]["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0]["name"], "http");
    }

    #[test]
    fn merges_service_ports_by_port() {
        let service = json!({"spec": {"ports": [
            {"port": 80, "targetPort": 8080},
            {"port": 443, "targetPort": 8443}
        ]}});
        let result = apply(
            service,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            "Service",
        );
        assert_eq!(
            result["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 8443}])
        );
    }

    #[test]
    fn merges_status_conditions_by_type() {
        let node = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "DiskPressure", "status": "False"}
        ]}, "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}});
        let result = apply(
            node,
            &json!({
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                "spec": {"taints": []}
            }),
            "Node",
        );
        assert_eq!(
            result["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}])
        );
        assert_eq!(result["spec"]["taints"], json!([]));
    }

    #[test]
    fn replace_strategy_replaces_an_object() {
        let pdb = json!({"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 1}});
        let result = apply(
            pdb,
            &json!({"spec": {"selector": {"matchExpressions": []}}}),
            "PodDisruptionBudget",
        );
        assert_eq!(
            result["spec"],
            json!({"selector": {"matchExpressions": []}, "minAvailable": 1})
        );
    }

    #[test]
    fn patch_replace_and_delete_on_maps() {
        let target = json!({"spec": {"nodeSelector": {"a": "1", "b": "2"}, "securityContext": {"runAsUser": 1}}});
        let result = apply(
            target,
            &json!({"spec": {
                "nodeSelector": {"$patch": "replace", "c": "3"},
                "securityContext": {"$patch": "delete"}
            }}),
            "Pod",
        );
        assert_eq!(result, json!({"spec": {"nodeSelector": {"c": "3"}}}));
    }

    #[test]
    fn new_values_lose_nulls_and_directives() {
        let result = apply(
            json!({"spec": {"containers": []}}),
            &json!({"spec": {"containers": [{
                "name": "app",
                "image": null,
                "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                "env": [{"name": "B"}, {"name": "A"}]
            }]}}),
            "Pod",
        );
        assert_eq!(
            result,
            json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B"}, {"name": "A"}]}]}})
        );
    }

    #[test]
    fn rejects_a_patch_that_is_not_an_object() {
        let mut target = pod();
        let err = strategic_merge(&mut target, &json!([1, 2]), "Pod").unwrap_err();
        assert_eq!(err, "the patch must be a JSON object");
    }

    #[test]
    fn rejects_an_unknown_patch_directive() {
        let mut target = pod();
        let err =
            strategic_merge(&mut target, &json!({"spec": {"$patch": "foo"}}), "Pod").unwrap_err();
        assert!(err.contains("$patch: unknown directive \"foo\""), "{err}");

        let err = strategic_merge(&mut target, &json!({"metadata": {"$frobnicate": 1}}), "Pod")
            .unwrap_err();
        assert!(err.contains("unknown directive \"$frobnicate\""), "{err}");

        let err = strategic_merge(
            &mut target,
            &json!({"spec": {"containers": [{"name": "app", "$patch": "remove"}]}}),
            "Pod",
        )
        .unwrap_err();
        assert!(
            err.contains("$patch: unknown directive \"remove\""),
            "{err}"
        );
        assert_eq!(target, pod());
    }

    #[test]
    fn rejects_an_element_without_its_merge_key() {
        let mut target = pod();
        let err = strategic_merge(
            &mut target,
            &json!({"spec": {"containers": [{"image": "x"}]}}),
            "Pod",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "list spec.containers: an element without its merge key name"
        );
    }

    #[test]
    fn kubectl_apply_second_apply_patch() {
        let live = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "labels": {"tier": "a"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n"}
            },
            "spec": {
                "containers": [{
                    "name": "app",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "MODE", "value": "prod"}],
                    "imagePullPolicy": "IfNotPresent"
                }],
                "restartPolicy": "Always"
            },
            "status": {"phase": "Running"}
        });
        let last_applied = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{},\"labels\":{\"tier\":\"b\"},\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"env\":[{\"name\":\"MODE\",\"value\":\"prod\"}],\"image\":\"nginx:1.27\",\"name\":\"app\",\"ports\":[{\"containerPort\":80}]}]}}\n";
        let patch = json!({
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied},
                "labels": {"tier": "b"}
            },
            "spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"image": "nginx:1.27", "name": "app"}]
            }
        });
        let result = apply(live, &patch, "Pod");
        assert_eq!(result["metadata"]["labels"], json!({"tier": "b"}));
        assert_eq!(
            result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            last_applied
        );
        let containers = result["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1);
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(
            containers[0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}])
        );
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "MODE", "value": "prod"}])
        );
        assert_eq!(containers[0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(result["status"]["phase"], "Running");
        assert!(result["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn kubectl_apply_patch_with_nested_element_order() {
        let live = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "app",
            "image": "nginx",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        }]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
                "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                "name": "app"
            }]
        }}}});
        let result = apply(live, &patch, "Deployment");
        assert_eq!(
            result["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "A", "value": "1"}])
        );
    }

    #[test]
    fn owner_references_merge_by_uid() {
        let live = json!({"metadata": {"ownerReferences": [{"uid": "1", "kind": "ReplicaSet"}]}});
        let result = apply(
            live,
            &json!({"metadata": {"ownerReferences": [{"uid": "2", "kind": "Job"}]}}),
            "ConfigMap",
        );
        assert_eq!(
            result["metadata"]["ownerReferences"],
            json!([{"uid": "2", "kind": "Job"}, {"uid": "1", "kind": "ReplicaSet"}])
        );
    }

    #[test]
    fn top_level_patch_delete_leaves_an_empty_object() {
        let result = apply(pod(), &json!({"$patch": "delete"}), "Pod");
        assert_eq!(result, json!({}));
    }

    #[test]
    fn table_lookups() {
        let lookup = |kind: &str, path: &str| {
            let segments: Vec<&str> = path.split('.').collect();
            schema_for(kind).and_then(|schema| schema.lookup(&segments))
        };
        assert_eq!(
            lookup("Pod", "spec.containers.env"),
            Some(Strategy::MergeByKey("name"))
        );
        assert_eq!(
            lookup(
                "StatefulSet",
                "spec.template.spec.initContainers.volumeMounts"
            ),
            Some(Strategy::MergeByKey("mountPath"))
        );
        assert_eq!(
            lookup("Job", "spec.template.metadata.finalizers"),
            Some(Strategy::MergePrimitives)
        );
        assert_eq!(lookup("Pod", "spec.tolerations"), None);
        assert_eq!(lookup("Pod", "status.containerStatuses"), None);
        assert_eq!(lookup("Pod", "spec.template.spec.containers"), None);
        assert_eq!(lookup("Deployment", "spec.containers"), None);
        assert_eq!(lookup("Widget", "metadata.finalizers"), None);
    }
}
