//! Query parameters of the dynamic routes (contract section 3): `field`,
//! `extra`, free-form `key=a,b` filters, `labelSelector`, `updateTimeBefore`,
//! paging, and the batch-delete time window.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::DateTime;
use serde_json::{Map, Value};

use super::DomainError;
use super::labels::parse_selector;
use crate::config::QuerySettings;
use crate::model::{Bound, Filter, Projection, RangeOp};

/// Query-string pairs in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct RawParams(pub Vec<(String, String)>);

impl RawParams {
    /// Decodes an `application/x-www-form-urlencoded` query string.
    pub fn parse(query: &str) -> RawParams {
        RawParams(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The single value of a parameter; a repeated one is an error. An
    /// empty value (`limit=`) is absent, as in the Go service, whose
    /// clients send unset fields that way.
    pub fn single(&self, name: &str) -> Result<Option<&str>, DomainError> {
        let mut found = self
            .0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(DomainError::param(name, "given more than once"));
        }
        Ok(first)
    }

    /// Refuses any empty value: on a DELETE, leaving a filter out because
    /// its value is empty would delete more than the client named.
    pub fn refuse_empty(&self) -> Result<(), DomainError> {
        match self.0.iter().find(|(_, v)| v.is_empty()) {
            Some((k, _)) => Err(DomainError::param(
                k,
                "empty value; on a DELETE an empty parameter would widen what is deleted, \
                 so leave it out instead",
            )),
            None => Ok(()),
        }
    }
}

/// What a list of the dynamic routes is parsed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListUse {
    /// A read: empty values are absent.
    Read,
    /// A delete of what the filters match: empty values are refused.
    Delete,
    /// A batch delete, which also takes the `updateTimeBegin/End` window.
    BatchDelete,
}

/// How `extra` keys become conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraMode {
    /// Dynamic and metric routes: equality.
    Equal,
    /// Query and events routes: `$in` (a scalar is a one-element list).
    In,
}

/// A list request of the dynamic routes, parsed.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// Conditions from the query string (AND-ed with the path's).
    pub filter: Vec<Filter>,
    pub projection: Option<Projection>,
    pub skip: u64,
    pub limit: u64,
    /// Batch delete: exclusive bounds on updateTime, unix seconds.
    pub window_begin: Option<i64>,
    pub window_end: Option<i64>,
}

/// Parameters that are not free-form filters.
const RESERVED: &[&str] = &[
    "field",
    "extra",
    "offset",
    "limit",
    "labelSelector",
    "updateTimeBefore",
    "updateTimeBegin",
    "updateTimeEnd",
];

impl ListParams {
    /// Parses every parameter; a batch delete also takes the
    /// `updateTimeBegin/End` window.
    pub fn parse(
        raw: &RawParams,
        limits: &QuerySettings,
        usage: ListUse,
    ) -> Result<ListParams, DomainError> {
        if usage != ListUse::Read {
            raw.refuse_empty()?;
        }
        let window = usage == ListUse::BatchDelete;
        let mut filter = Vec::new();
        for (k, v) in &raw.0 {
            if RESERVED.contains(&k.as_str()) || v.is_empty() {
                continue;
            }
            check_path(k, k)?;
            let values = v.split(',').map(|s| Value::String(s.to_owned())).collect();
            filter.push(Filter::In(k.clone(), values));
        }
        if let Some(e) = raw.single("extra")? {
            let text = match usage {
                ListUse::Read => ExtraText::Base64OrJson,
                ListUse::Delete | ListUse::BatchDelete => ExtraText::Base64,
            };
            filter.extend(parse_extra(e, ExtraMode::Equal, text)?);
        }
        if let Some(sel) = raw.single("labelSelector")? {
            let f = parse_selector(sel).map_err(|why| DomainError::param("labelSelector", why))?;
            filter.push(f);
        }
        if let Some(t) = raw.single("updateTimeBefore")? {
            let ms = parse_instant("updateTimeBefore", t)?;
            filter.push(Filter::Range(
                "updateTime".into(),
                RangeOp::Lt,
                Bound::Instant(ms),
            ));
        }
        let projection = parse_field(raw)?;
        let skip = parse_offset(raw)?;
        let limit = parse_limit(raw, limits)?;
        let (mut window_begin, mut window_end) = (None, None);
        if window {
            window_begin = parse_seconds(raw, "updateTimeBegin")?;
            window_end = parse_seconds(raw, "updateTimeEnd")?;
        } else {
            for name in ["updateTimeBegin", "updateTimeEnd"] {
                if let Some(v) = raw.single(name)? {
                    // Outside batch deletes these are ordinary filters.
                    filter.push(Filter::In(
                        name.to_owned(),
                        v.split(',').map(|s| Value::String(s.to_owned())).collect(),
                    ));
                }
            }
        }
        Ok(ListParams {
            filter,
            projection,
            skip,
            limit,
            window_begin,
            window_end,
        })
    }
}

/// A boolean parameter, in exactly the forms Go's `strconv.ParseBool`
/// accepts; anything else is refused rather than read as false.
pub fn parse_bool(name: &str, v: &str) -> Result<bool, DomainError> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(DomainError::param(
            name,
            format!(
                "{v:?} is not a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)"
            ),
        )),
    }
}

/// Validates a dotted document path given by a client.
pub fn check_path(param: &str, path: &str) -> Result<(), DomainError> {
    if path.is_empty() {
        return Err(DomainError::param(param, "empty field path"));
    }
    for comp in path.split('.') {
        if comp.is_empty() {
            return Err(DomainError::param(
                param,
                format!("field path {path:?} has an empty component"),
            ));
        }
        if comp.starts_with('$') {
            return Err(DomainError::param(
                param,
                format!("field path {path:?} uses a $-operator"),
            ));
        }
        if comp.contains('\0') {
            return Err(DomainError::param(
                param,
                "field path contains a NUL character",
            ));
        }
    }
    Ok(())
}

/// `offset`: absent is 0.
pub fn parse_offset(raw: &RawParams) -> Result<u64, DomainError> {
    let skip = parse_u64(raw, "offset")?.unwrap_or(0);
    if skip > i64::MAX as u64 {
        return Err(DomainError::param(
            "offset",
            format!("must not exceed {}", i64::MAX),
        ));
    }
    Ok(skip)
}

/// `limit`: absent or 0 is the default page, above the maximum an error.
pub fn parse_limit(raw: &RawParams, limits: &QuerySettings) -> Result<u64, DomainError> {
    page_size(raw, "limit", limits)
}

/// A page size parameter (`limit`, or `length` on events and alarms).
pub fn page_size(raw: &RawParams, name: &str, limits: &QuerySettings) -> Result<u64, DomainError> {
    match parse_u64(raw, name)? {
        None | Some(0) => Ok(limits.default_limit),
        Some(n) if n > limits.max_limit => Err(DomainError::param(
            name,
            format!("must not exceed {}", limits.max_limit),
        )),
        Some(n) => Ok(n),
    }
}

/// `timeBegin` / `timeEnd`: exclusive bounds on the instant at `path`.
pub fn time_window(
    raw: &RawParams,
    path: &str,
    zone: &crate::config::TimeZone,
) -> Result<Vec<Filter>, DomainError> {
    let mut out = Vec::new();
    for (name, op) in [("timeBegin", RangeOp::Gt), ("timeEnd", RangeOp::Lt)] {
        if let Some(t) = raw.single(name)? {
            let ms = super::times::parse_time(t, zone).ok_or_else(|| {
                DomainError::param(name, format!("{t:?} is not a time (unix seconds)"))
            })?;
            out.push(Filter::Range(path.to_owned(), op, Bound::Instant(ms)));
        }
    }
    Ok(out)
}

/// A string field of a request body; absent or null is "".
pub fn body_text(m: &mut Map<String, Value>, f: &str) -> Result<String, DomainError> {
    match m.remove(f) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(DomainError::InvalidBody(format!(
            "{f} must be a string, not {other}"
        ))),
    }
}

/// A unix-seconds field of a request body (absent or null is 0), as a
/// stored instant.
pub fn body_instant(
    m: &mut Map<String, Value>,
    f: &str,
    zone: &crate::config::TimeZone,
) -> Result<Value, DomainError> {
    let seconds = match m.remove(f) {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            DomainError::InvalidBody(format!("{f} must be an integer (unix seconds)"))
        })?,
        Some(other) => {
            return Err(DomainError::InvalidBody(format!(
                "{f} must be an integer (unix seconds), not {other}"
            )));
        }
    };
    let ms = super::times::parse_time(&seconds.to_string(), zone)
        .ok_or_else(|| DomainError::InvalidBody(format!("{f} is out of range")))?;
    Ok(crate::model::date_millis(ms))
}

/// `field`: the projection, from every `field` parameter.
pub fn parse_field(raw: &RawParams) -> Result<Option<Projection>, DomainError> {
    let mut paths = Vec::new();
    for (_, v) in raw.0.iter().filter(|(k, v)| k == "field" && !v.is_empty()) {
        for p in v.split(',') {
            check_path("field", p)?;
            paths.push(p.to_owned());
        }
    }
    Ok(if paths.is_empty() {
        None
    } else {
        Some(Projection::new(paths))
    })
}

fn parse_u64(raw: &RawParams, name: &str) -> Result<Option<u64>, DomainError> {
    match raw.single(name)? {
        None => Ok(None),
        Some(v) => {
            v.trim().parse::<u64>().map(Some).map_err(|_| {
                DomainError::param(name, format!("{v:?} is not a non-negative integer"))
            })
        }
    }
}

fn parse_seconds(raw: &RawParams, name: &str) -> Result<Option<i64>, DomainError> {
    match raw.single(name)? {
        None => Ok(None),
        Some(v) => {
            v.trim().parse::<i64>().map(Some).map_err(|_| {
                DomainError::param(name, format!("{v:?} is not a unix time in seconds"))
            })
        }
    }
}

/// Unix seconds or RFC 3339 -> unix milliseconds.
pub fn parse_instant(name: &str, v: &str) -> Result<i64, DomainError> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return secs
            .checked_mul(1000)
            .ok_or_else(|| DomainError::param(name, "time out of range"));
    }
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            DomainError::param(name, format!("{v:?} is neither unix seconds nor RFC 3339"))
        })
}

/// Which encodings of `extra` a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraText {
    /// Base64 of a JSON object only: deletes, where a value misread as no
    /// condition would delete more than asked.
    Base64,
    /// Base64, or the JSON object itself: read routes, where older
    /// data-watch agents send `extra={"namespace":"NS"}` unencoded.
    Base64OrJson,
}

/// Decodes `extra` into conditions.
pub fn parse_extra(
    encoded: &str,
    mode: ExtraMode,
    text: ExtraText,
) -> Result<Vec<Filter>, DomainError> {
    let obj = decode_extra("extra", encoded, text)?;
    for v in obj.values() {
        super::escape::check_depth(v, "extra")?;
    }
    let mut out = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        check_path("extra", &k)?;
        if has_operator(&v) {
            return Err(DomainError::param(
                "extra",
                format!("value of {k:?} contains a $-operator"),
            ));
        }
        out.push(match (mode, v) {
            (ExtraMode::Equal, v) => Filter::Eq(k, v),
            (ExtraMode::In, Value::Array(items)) => Filter::In(k, items),
            (ExtraMode::In, v) => Filter::In(k, vec![v]),
        });
    }
    Ok(out)
}

/// Base64 (standard or URL-safe, padded or not) of a JSON object, or where
/// `text` allows it the JSON object itself (no base64 text starts with `{`,
/// so the two never mix). `name` is the parameter, for messages.
pub fn decode_extra(
    name: &str,
    encoded: &str,
    text: ExtraText,
) -> Result<Map<String, Value>, DomainError> {
    let trimmed = encoded.trim();
    if trimmed.starts_with('{') {
        if text == ExtraText::Base64 {
            return Err(DomainError::param(
                name,
                "is a JSON object, not base64 of one; on a DELETE only base64 is taken",
            ));
        }
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(DomainError::param(name, "is not a JSON object")),
            Err(e) => Err(DomainError::param(
                name,
                format!("is neither base64 nor a valid JSON object: {e}"),
            )),
        };
    }
    // A '+' that was not percent-encoded arrives as a space.
    let b64 = trimmed.replace(' ', "+");
    let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&b64).ok())
        .ok_or_else(|| DomainError::param(name, "not valid base64 (of a JSON object)"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(DomainError::param(name, "decoded JSON is not an object")),
        Err(e) => Err(DomainError::param(
            name,
            format!("decoded value is not valid JSON: {e}"),
        )),
    }
}

fn has_operator(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, x)| k.starts_with('$') || has_operator(x)),
        Value::Array(items) => items.iter().any(has_operator),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> QuerySettings {
        QuerySettings {
            default_limit: 3000,
            max_limit: 50000,
            max_clusters: 500,
            time_zone: crate::config::TimeZone::default(),
        }
    }

    fn parse(q: &str) -> Result<ListParams, DomainError> {
        ListParams::parse(&RawParams::parse(q), &limits(), ListUse::Read)
    }

    fn b64(v: Value) -> String {
        STANDARD.encode(v.to_string())
    }

    #[test]
    fn free_form_filters_and_repeats() {
        let p = parse("resourceName=p1,p2&namespace=a&namespace=b").expect("valid");
        assert_eq!(p.filter.len(), 3);
        assert_eq!(
            p.filter[0],
            Filter::In("resourceName".into(), vec![json!("p1"), json!("p2")])
        );
        assert_eq!(p.limit, 3000);
        assert_eq!(p.skip, 0);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let name = |q: &str| match parse(q) {
            Err(DomainError::InvalidParameter(n, _)) => n,
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(name("limit=abc"), "limit");
        assert_eq!(name("limit=-1"), "limit");
        assert_eq!(name("offset=x"), "offset");
        assert_eq!(name("limit=50001"), "limit");
        assert_eq!(name("a..b=1"), "a..b");
        assert_eq!(name("%24where=1"), "$where");
        assert_eq!(name("extra=%%%"), "extra");
        assert_eq!(name(&format!("extra={}", STANDARD.encode("nope"))), "extra");
        assert_eq!(name(&format!("extra={}", b64(json!([1])))), "extra");
        assert_eq!(
            name(&format!("extra={}", b64(json!({"$where": "1"})))),
            "extra"
        );
        assert_eq!(
            name(&format!("extra={}", b64(json!({"a": {"$ne": 1}})))),
            "extra"
        );
        assert_eq!(name("labelSelector=app%20in%20(a"), "labelSelector");
        assert_eq!(name("updateTimeBefore=yesterday"), "updateTimeBefore");
        assert_eq!(name("field=a..b"), "field");
        assert_eq!(name("limit=1&limit=2"), "limit");
    }

    #[test]
    fn empty_values_are_absent_on_reads_and_refused_on_deletes() {
        let q = "hostIp=&limit=&offset=&field=&extra=&labelSelector=&updateTimeBefore=";
        let p = parse(q).expect("empty values are absent");
        assert!(p.filter.is_empty());
        assert!(p.projection.is_none());
        assert_eq!((p.skip, p.limit), (0, 3000));
        for usage in [ListUse::Delete, ListUse::BatchDelete] {
            for q in ["hostIp=", "extra=", "updateTimeBegin=", "limit="] {
                let err = ListParams::parse(&RawParams::parse(q), &limits(), usage);
                assert!(
                    matches!(&err, Err(DomainError::InvalidParameter(n, _)) if q.starts_with(n.as_str())),
                    "{q}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn raw_json_extra_is_read_only_where_it_cannot_widen_a_delete() {
        let raw = r#"{"namespace": "ns 1"}"#;
        let f = parse_extra(raw, ExtraMode::In, ExtraText::Base64OrJson).expect("JSON object");
        assert_eq!(f, vec![Filter::In("namespace".into(), vec![json!("ns 1")])]);
        for bad in [r#"{"namespace": "#, "[1]", r#"{"a": {"$gt": 1}}"#] {
            assert!(parse_extra(bad, ExtraMode::In, ExtraText::Base64OrJson).is_err());
        }
        assert!(parse_extra(raw, ExtraMode::Equal, ExtraText::Base64).is_err());
        let q = format!(
            "extra={}",
            form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>()
        );
        assert_eq!(parse(&q).expect("read").filter.len(), 1);
        assert!(ListParams::parse(&RawParams::parse(&q), &limits(), ListUse::Delete).is_err());
    }

    #[test]
    fn booleans_take_exactly_go_forms() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool("b", t).ok(), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool("b", f).ok(), Some(false), "{f}");
        }
        for bad in ["", "yes", "no", "tRUE", " true", "2"] {
            assert!(parse_bool("b", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn extra_accepts_every_base64_flavour() {
        let v = json!({"data.metadata.name": "p1?>"});
        let text = v.to_string();
        for enc in [
            STANDARD.encode(&text),
            URL_SAFE.encode(&text),
            STANDARD_NO_PAD.encode(&text),
        ] {
            let f = parse_extra(&enc, ExtraMode::Equal, ExtraText::Base64).expect("decodes");
            assert_eq!(
                f,
                vec![Filter::Eq("data.metadata.name".into(), json!("p1?>"))]
            );
        }
        let f = parse_extra(
            &b64(json!({"ns": "a", "l": ["x", "y"]})),
            ExtraMode::In,
            ExtraText::Base64,
        )
        .expect("decodes");
        assert_eq!(f[0], Filter::In("ns".into(), vec![json!("a")]));
        assert_eq!(f[1], Filter::In("l".into(), vec![json!("x"), json!("y")]));
    }

    #[test]
    fn times_accept_seconds_and_rfc3339() {
        assert_eq!(
            parse_instant("t", "1500000000").ok(),
            Some(1_500_000_000_000)
        );
        assert_eq!(
            parse_instant("t", "2017-10-16T07:34:52.123Z").ok(),
            Some(1_508_139_292_123)
        );
        assert!(parse_instant("t", "2017-10-16").is_err());
    }

    #[test]
    fn window_is_only_read_for_batch_deletes() {
        let raw = RawParams::parse("updateTimeBegin=10&updateTimeEnd=20");
        let p = ListParams::parse(&raw, &limits(), ListUse::BatchDelete).expect("valid");
        assert_eq!((p.window_begin, p.window_end), (Some(10), Some(20)));
        assert!(p.filter.is_empty());
        let bad = RawParams::parse("updateTimeBegin=soon");
        assert!(ListParams::parse(&bad, &limits(), ListUse::BatchDelete).is_err());
    }
}
