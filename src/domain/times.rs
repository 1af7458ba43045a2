//! Times written by people and by agents, read as instants: unix seconds,
//! RFC 3339 with any offset and any number of fraction digits, Go's
//! `-0700` offsets, and naive `YYYY-MM-DD HH:MM:SS` in a configured zone.
//!
//! Query routes compare time parameters with times inside `data`, which are
//! strings in whatever format the agent wrote. Comparing strings is wrong
//! (`2017-10-09T15:37:44+08:00` is before `2017-10-09T08:00:00Z`), so every
//! dynamic document carries, next to its data, the instants of the time
//! fields the query tables filter on: `_bcsTimes.<path with _ for .>`, an
//! ordinary stored instant that both backends compare and index natively.
//! The field is written on every PUT and never shown to clients.
//!
//! The instant of a naive `YYYY-MM-DD HH:MM:SS` depends on the configured
//! zone (`query.time_zone`): `_bcsTimes.zone` records the zone a document's
//! instants were derived with, or null when none was naive. When the
//! configured zone changes, [`super::query::maintain_times`] derives them
//! again in the background.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::{Map, Value};

use crate::config::TimeZone;
use crate::model::{date_millis, instant_of};

/// Top-level field holding the instants of a document's time fields.
pub const SHADOW_FIELD: &str = "_bcsTimes";

/// Key in `_bcsTimes` of the zone naive times were read in (null: none was
/// naive). Never a shadow key: those hold a path with its dots replaced.
pub const ZONE_KEY: &str = "zone";

/// Stored path of the zone of a document's instants.
pub const ZONE_PATH: &str = "_bcsTimes.zone";

/// Stored path of the instant of the time field at `path`.
pub fn shadow_path(path: &str) -> String {
    format!("{SHADOW_FIELD}.{}", shadow_key(path))
}

fn shadow_key(path: &str) -> String {
    path.replace('.', "_")
}

/// The `_bcsTimes` object for `doc`: one instant per path in `paths` whose
/// value reads as a time, and the zone of the naive ones (null if none).
pub fn shadow_times<'a>(
    doc: &Map<String, Value>,
    paths: impl IntoIterator<Item = &'a str>,
    zone: &TimeZone,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut zoned = false;
    for path in paths {
        let mut v = Some(doc.get(path.split('.').next().unwrap_or_default()));
        for comp in path.split('.').skip(1) {
            v = v.map(|x| x.and_then(|o| o.as_object()).and_then(|o| o.get(comp)));
        }
        if let Some(Some(value)) = v
            && let Some((ms, naive)) = read_stored(value, zone)
        {
            zoned |= naive;
            out.insert(shadow_key(path), date_millis(ms));
        }
    }
    let zone = if zoned {
        Value::String(zone.name())
    } else {
        Value::Null
    };
    out.insert(ZONE_KEY.to_owned(), zone);
    out
}

/// Instants are kept within years 1 to 9999 (what RFC 3339 can write and
/// every MongoDB tool accepts); a value beyond is not read as a time.
pub const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

fn in_range(ms: i64) -> Option<i64> {
    (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
}

/// A stored value read as an instant (unix milliseconds): a time string, a
/// number of unix seconds, or a stored instant.
pub fn stored_instant(v: &Value, zone: &TimeZone) -> Option<i64> {
    read_stored(v, zone).map(|(ms, _)| ms)
}

/// [`stored_instant`], and whether it was a naive time read in `zone`.
fn read_stored(v: &Value, zone: &TimeZone) -> Option<(i64, bool)> {
    let read = match v {
        Value::String(s) => parse_any(s.trim(), zone),
        Value::Number(n) => {
            let ms = if let Some(i) = n.as_i64() {
                i.checked_mul(1000)
            } else {
                let f = n.as_f64()? * 1000.0;
                (f.is_finite() && f.abs() < 9.0e18).then_some(f.round() as i64)
            };
            ms.map(|ms| (ms, false))
        }
        other => instant_of(other).map(|ms| (ms, false)),
    };
    read.and_then(|(ms, naive)| in_range(ms).map(|ms| (ms, naive)))
}

/// Unix milliseconds of `s`: unix seconds (optionally with a fraction),
/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM|±HH]`, or a date
/// `YYYY-MM-DD` (midnight). Without an offset the time is in `zone`.
pub fn parse_time(s: &str, zone: &TimeZone) -> Option<i64> {
    parse_any(s.trim(), zone)
        .map(|(ms, _)| ms)
        .and_then(in_range)
}

/// The instant of `s` and whether it was naive (read in `zone`).
fn parse_any(s: &str, zone: &TimeZone) -> Option<(i64, bool)> {
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !s[1..].contains('-') {
        return Some((s.parse::<i64>().ok()?.checked_mul(1000)?, false));
    }
    if let Some((whole, frac)) = s.split_once('.')
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let secs: f64 = s.parse().ok()?;
        let ms = secs * 1000.0;
        return (ms.is_finite() && ms < 9.0e18).then_some((ms.round() as i64, false));
    }
    let (local, offset) = split_offset(s)?;
    let naive = parse_naive(local)?;
    match offset {
        Some(o) => Some((TimeZone::Fixed(o).utc_millis(naive)?, false)),
        None => Some((zone.utc_millis(naive)?, true)),
    }
}

/// Splits a trailing `Z`, `±HH:MM`, `±HHMM` or `±HH` off the date-time.
fn split_offset(s: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(rest) = s.strip_suffix(['Z', 'z']) {
        return Some((rest, FixedOffset::east_opt(0)));
    }
    // An offset sign can only come after the time part (past the date's '-').
    let Some(time_start) = s.find(['T', 't', ' ']) else {
        return Some((s, None));
    };
    let Some(sign_at) = s[time_start..].rfind(['+', '-']).map(|i| i + time_start) else {
        return Some((s, None));
    };
    let sign = if s.as_bytes()[sign_at] == b'+' { 1 } else { -1 };
    let off = &s[sign_at + 1..];
    let digits: String = off.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    let offset = FixedOffset::east_opt(sign * (h * 3600 + m * 60))?;
    Some((s[..sign_at].trim_end(), Some(offset)))
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if s.len() == 10 {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(d.and_time(NaiveTime::MIN));
    }
    let normal: String = s
        .chars()
        .map(|c| if c == ' ' || c == 't' { 'T' } else { c })
        .collect();
    NaiveDateTime::parse_from_str(&normal, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn utc() -> &'static TimeZone {
        static UTC: std::sync::LazyLock<TimeZone> = std::sync::LazyLock::new(TimeZone::default);
        &UTC
    }

    fn zone(name: &str) -> TimeZone {
        name.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_format_of_the_same_instant_agrees() {
        let t = 1_507_534_664_000; // 2017-10-09T07:37:44Z
        for s in [
            "2017-10-09T07:37:44Z",
            "2017-10-09T15:37:44+08:00",
            "2017-10-09T15:37:44+0800",
            "2017-10-09T15:37:44+08",
            "2017-10-09T02:37:44-05:00",
            "2017-10-09 07:37:44",
            "2017-10-09t07:37:44z",
            "2017-10-09T07:37:44.000Z",
            "1507534664",
        ] {
            assert_eq!(parse_time(s, utc()), Some(t), "{s}");
        }
        assert_eq!(parse_time("2017-10-09 15:37:44", &zone("+08:00")), Some(t));
        assert_eq!(
            parse_time("2017-10-09 15:37:44", &zone("Asia/Shanghai")),
            Some(t)
        );
        assert_eq!(
            parse_time("2017-10-09T07:37:45.690518395Z", utc()),
            Some(t + 1690)
        );
        assert_eq!(parse_time("1507534664.5", utc()), Some(t + 500));
        assert_eq!(parse_time("2017-10-09", utc()), Some(1_507_507_200_000));
        assert_eq!(parse_time("-5", utc()), Some(-5000));
        assert_eq!(
            parse_time("9999-12-31T23:59:59.999Z", utc()),
            Some(253_402_300_799_999)
        );
        assert_eq!(
            parse_time("0001-01-01T00:00:00Z", utc()),
            Some(-62_135_596_800_000)
        );
        assert_eq!(stored_instant(&json!(1_507_536_000_000i64), utc()), None);
    }

    #[test]
    fn iana_zones_follow_summer_time() {
        let berlin = zone("Europe/Berlin");
        // Winter (+01:00) and summer (+02:00) in one zone.
        assert_eq!(
            parse_time("2021-01-15 12:00:00", &berlin),
            parse_time("2021-01-15T11:00:00Z", utc())
        );
        assert_eq!(
            parse_time("2021-07-15 12:00:00", &berlin),
            parse_time("2021-07-15T10:00:00Z", utc())
        );
        // 02:30 happens twice on 2021-10-31: the earlier one.
        assert_eq!(
            parse_time("2021-10-31 02:30:00", &berlin),
            parse_time("2021-10-31T00:30:00Z", utc())
        );
        // 02:30 does not happen on 2021-03-28: read at +01:00.
        assert_eq!(
            parse_time("2021-03-28 02:30:00", &berlin),
            parse_time("2021-03-28T01:30:00Z", utc())
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            parse_time("2021-07-15T12:00:00+05:00", &berlin),
            parse_time("2021-07-15T07:00:00Z", utc())
        );
        assert!("Mars/Olympus".parse::<TimeZone>().is_err());
        assert_eq!(berlin.name(), "Europe/Berlin");
        assert_eq!(zone("+08:00").name(), "+08:00");
        assert_eq!(zone("utc").name(), "UTC");
    }

    #[test]
    fn garbage_is_not_a_time() {
        for s in [
            "1507536000000",
            "-99999999999",
            "253402300800",
            "",
            "abc",
            "2017-13-01T00:00:00Z",
            "2017-10-09T25:00:00Z",
            "2017-10-09T07:37:44+0x:00",
            "2017-10-09T07:37:44+123",
            "10/09/2017",
            "1-2",
        ] {
            assert_eq!(parse_time(s, utc()), None, "{s}");
        }
    }

    #[test]
    fn shadows_hold_the_instants_of_time_fields() {
        let doc = json!({"data": {"metadata": {"creationTimestamp": "2017-10-16T07:34:52Z"},
                                   "status": {"startTime": null},
                                   "last_rolling_time": 1_500_000_000}});
        let Value::Object(doc) = doc else {
            unreachable!()
        };
        let s = shadow_times(
            &doc,
            [
                "data.metadata.creationTimestamp",
                "data.status.startTime",
                "data.last_rolling_time",
                "data.absent.field",
            ],
            utc(),
        );
        assert_eq!(
            Value::Object(s),
            json!({"data_metadata_creationTimestamp": {"$date": 1_508_139_292_000i64},
                   "data_last_rolling_time": {"$date": 1_500_000_000_000i64},
                   "zone": null})
        );
        // A naive time records the zone it was read in.
        let Value::Object(naive) = json!({"data": {"startTime": "2017-10-16 15:34:52"}}) else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(shadow_times(
                &naive,
                ["data.startTime"],
                &zone("Asia/Shanghai")
            )),
            json!({"data_startTime": {"$date": 1_508_139_292_000i64}, "zone": "Asia/Shanghai"})
        );
        assert_eq!(
            shadow_path("data.status.startTime"),
            "_bcsTimes.data_status_startTime"
        );
    }
}
