//! How the client commands print documents: JSON, YAML, or kubectl-like
//! tables with aligned columns and human ages.

use chrono::{DateTime, Utc};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use serde_json::Value;

use super::Format;

/// One document (a `get`).
pub fn print_one(doc: &Value, format: Format) {
    match format {
        Format::Json | Format::Yaml => print!("{}", serialize(doc, format)),
        Format::Table | Format::Wide => print!("{}", table(std::slice::from_ref(doc), format)),
    }
}

/// A list of documents.
pub fn print_list(docs: &[Value], format: Format) {
    match format {
        Format::Json | Format::Yaml => {
            print!("{}", serialize(&Value::Array(docs.to_vec()), format))
        }
        Format::Table | Format::Wide if docs.is_empty() => {
            eprintln!("No documents found.")
        }
        Format::Table | Format::Wide => print!("{}", table(docs, format)),
    }
}

/// A column of a record table: its title and where its text comes from.
pub struct Column {
    title: &'static str,
    /// A dotted path into the record; an instant there is shown as an age.
    path: &'static str,
    age: bool,
    /// Shown only in the wide table.
    wide: bool,
}

const fn col(title: &'static str, path: &'static str) -> Column {
    Column {
        title,
        path,
        age: false,
        wide: false,
    }
}

const fn age_of(title: &'static str, path: &'static str) -> Column {
    Column {
        title,
        path,
        age: true,
        wide: false,
    }
}

const fn wide(title: &'static str, path: &'static str) -> Column {
    Column {
        title,
        path,
        age: false,
        wide: true,
    }
}

/// Events, like `kubectl get events`.
pub const EVENTS: &[Column] = &[
    age_of("AGE", "eventTime"),
    wide("CLUSTER", "clusterId"),
    col("LEVEL", "level"),
    col("NAMESPACE", "extraInfo.namespace"),
    col("KIND", "extraInfo.kind"),
    col("OBJECT", "extraInfo.name"),
    wide("COMPONENT", "component"),
    col("MESSAGE", "describe"),
];

/// Alarms.
pub const ALARMS: &[Column] = &[
    age_of("AGE", "receivedTime"),
    col("CLUSTER", "clusterId"),
    col("NAMESPACE", "namespace"),
    col("TYPE", "type"),
    wide("SOURCE", "source"),
    wide("MODULE", "module"),
    col("MESSAGE", "message"),
];

/// Records (events, alarms) as `format` asks.
pub fn print_records(records: &Value, columns: &[Column], format: Format) {
    let records = records.as_array().map(Vec::as_slice).unwrap_or_default();
    match format {
        Format::Json | Format::Yaml => {
            print!("{}", serialize(&Value::Array(records.to_vec()), format))
        }
        _ if records.is_empty() => eprintln!("No records found."),
        _ => {
            let now = Utc::now();
            let shown: Vec<&Column> = columns
                .iter()
                .filter(|c| format == Format::Wide || !c.wide)
                .collect();
            let rows = records.iter().map(|r| {
                shown
                    .iter()
                    .map(|c| {
                        let v = c.path.split('.').fold(r, |v, k| &v[k]);
                        if c.age {
                            age(v, now)
                        } else {
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        }
                    })
                    .collect()
            });
            print!("{}", aligned(shown.iter().map(|c| c.title).collect(), rows));
        }
    }
}

fn serialize(v: &Value, format: Format) -> String {
    match format {
        Format::Yaml => serde_norway::to_string(v).unwrap_or_default(),
        _ => {
            let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

/// The columns of a document table: NAMESPACE (when a document has one),
/// NAME, AGE; `wide` adds the cluster, the type, the last update and the
/// labels.
pub fn table(docs: &[Value], format: Format) -> String {
    let wide = format == Format::Wide;
    let now = Utc::now();
    let namespaced = docs.iter().any(|d| d["namespace"].is_string());
    let text = |d: &Value, k: &str| d[k].as_str().unwrap_or("").to_owned();
    let mut header = Vec::new();
    if wide {
        header.extend(["CLUSTER", "TYPE"]);
    }
    if namespaced {
        header.push("NAMESPACE");
    }
    header.extend(["NAME", "AGE"]);
    if wide {
        header.extend(["UPDATED", "LABELS"]);
    }
    let rows = docs.iter().map(|d| {
        let mut row = Vec::new();
        if wide {
            row.push(text(d, "clusterId"));
            row.push(text(d, "resourceType"));
        }
        if namespaced {
            row.push(text(d, "namespace"));
        }
        row.push(text(d, "resourceName"));
        row.push(age(&d["createTime"], now));
        if wide {
            row.push(age(&d["updateTime"], now));
            row.push(labels(&d["data"]["metadata"]["labels"]));
        }
        row
    });
    aligned(header, rows)
}

/// Columns aligned with three spaces between them, no borders (kubectl's
/// look).
fn aligned(header: Vec<&str>, rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.clone());
    for row in rows {
        t.add_row(row);
    }
    for (i, column) in t.column_iter_mut().enumerate() {
        column.set_padding((0, if i + 1 == header.len() { 0 } else { 3 }));
        column.set_cell_alignment(CellAlignment::Left);
    }
    let mut out: String = t.lines().map(|l| l.trim_end().to_owned() + "\n").collect();
    if out.is_empty() {
        out.push('\n');
    }
    out
}

fn labels(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".into(),
    }
}

/// The time since an RFC 3339 instant, as kubectl writes ages.
fn age(v: &Value, now: DateTime<Utc>) -> String {
    match v
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    {
        Some(t) => human_duration((now - t.with_timezone(&Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

/// kubectl's human duration (apimachinery `duration.HumanDuration`): more
/// precise when short, coarser when long.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let years = hours / 24 / 365;
        return match (hours / 24) % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_writes_them() {
        for (s, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 25 * 60, "3h25m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (800 * 86400, "2y70d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(s), want, "{s} s");
        }
    }

    #[test]
    fn tables_align_columns_and_name_what_documents_have() {
        let docs = vec![
            serde_json::json!({"clusterId": "C1", "namespace": "default", "resourceType": "Pod",
                "resourceName": "web-0", "createTime": "2020-01-01T00:00:00Z",
                "data": {"metadata": {"labels": {"app": "web"}}}}),
            serde_json::json!({"clusterId": "C1", "namespace": "kube-system", "resourceType": "Pod",
                "resourceName": "dns", "createTime": "not a time"}),
        ];
        let out = table(&docs, Format::Table);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAMESPACE     NAME    AGE"), "{out}");
        assert!(lines[1].starts_with("default       web-0   "), "{out}");
        assert!(lines[2].ends_with("<unknown>"), "{out}");
        let wide = table(&docs, Format::Wide);
        assert!(
            wide.lines().next().unwrap().starts_with("CLUSTER   TYPE"),
            "{wide}"
        );
        assert!(
            wide.contains("app=web") && wide.contains("<none>"),
            "{wide}"
        );
        // Cluster-scoped documents have no namespace column.
        let nodes = [serde_json::json!({"resourceName": "n1"})];
        assert!(table(&nodes, Format::Table).starts_with("NAME   AGE"));
    }
}
