//! The client commands of `bcs-storage` (`get`, `list`, `put`, `delete`,
//! `batch-delete`, `clean-cluster`, `watch`, `query`, `events`, `alarms`,
//! `export`): they talk to a running server only
//! through its public HTTP API, as an ops script would, and end with an
//! exit code scripts can rely on.

mod export;
pub mod output;
mod watch;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

/// Flags of every client command, before or after the verb.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The server to talk to.
    #[arg(
        long,
        global = true,
        env = "BCS_STORAGE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// A token of the server's tokens file (sent as `Authorization: Bearer`).
    #[arg(long, global = true, env = "BCS_STORAGE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// How to print documents.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// Aligned columns with ages, like kubectl.
    Table,
    /// The table with more columns.
    Wide,
}

/// Which stored documents a command addresses.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The cluster (`BCS-K8S-00001`).
    #[arg(short, long)]
    pub cluster: String,
    /// The namespace; without it, the cluster's documents of every
    /// namespace (and cluster-scoped ones).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// The stored kind, as the data-watch agent names it (`Pod`,
    /// `Deployment`, `Node`).
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub kind: String,
    /// The environment of the route.
    #[arg(long, default_value = "k8s", value_parser = ["k8s", "mesos"])]
    pub env: String,
}

/// A `KEY=VALUE` filter (`VALUE` may be a comma list: any of them).
#[derive(Clone, Debug)]
pub struct Where(String, String);

fn parse_where(s: &str) -> Result<Where, String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok(Where(k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Print one stored document.
    #[command(after_help = "Examples:\n  \
        bcs-storage get -c BCS-K8S-00001 -n default -t Pod --name web-0\n  \
        bcs-storage get -c BCS-K8S-00001 -t Node --name node-1 -o yaml")]
    Get {
        #[command(flatten)]
        target: Target,
        /// The document's name.
        #[arg(long)]
        name: String,
        /// Only these dotted paths (repeatable; `_id` always comes).
        #[arg(long)]
        field: Vec<String>,
    },
    /// List stored documents, filtered, a page or all of them.
    #[command(after_help = "Examples:\n  \
        bcs-storage list -c BCS-K8S-00001 -n default -t Pod -l app=web\n  \
        bcs-storage list -c BCS-K8S-00001 -t Pod --where data.spec.nodeName=node-1 --all -o json\n  \
        bcs-storage list -c BCS-K8S-00001 -t Event --updated-before 2026-12-01T00:00:00Z -o wide")]
    List {
        #[command(flatten)]
        target: Target,
        /// A Kubernetes label selector on the objects' labels.
        #[arg(short = 'l', long)]
        selector: Option<String>,
        /// Only these dotted paths (repeatable; `_id` always comes).
        #[arg(long)]
        field: Vec<String>,
        /// Only documents whose KEY (a dotted path) is VALUE, or one of a
        /// comma list of values (repeatable).
        #[arg(long = "where", value_name = "KEY=VALUE", value_parser = parse_where)]
        wheres: Vec<Where>,
        /// Only documents last updated before this (unix seconds or RFC 3339).
        #[arg(long, value_name = "TIME")]
        updated_before: Option<String>,
        /// At most this many documents (with --all: per request).
        #[arg(long)]
        limit: Option<u64>,
        /// Every matching document, page after page.
        #[arg(long)]
        all: bool,
    },
    /// Store (create or replace) one document from a JSON file.
    #[command(after_help = "Examples:\n  \
        bcs-storage put -c BCS-K8S-00001 -n default -t Pod --name web-0 -f pod.json\n  \
        kubectl get pod web-0 -o json | bcs-storage put -c BCS-K8S-00001 -n default -t Pod --name web-0 -f -")]
    Put {
        #[command(flatten)]
        target: Target,
        /// The document's name.
        #[arg(long)]
        name: String,
        /// The object to store as the document's `data` (JSON; `-` reads
        /// standard input).
        #[arg(short, long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Delete every document of a type that matches, after saying how many.
    #[command(
        name = "batch-delete",
        after_help = "Examples:\n  \
        bcs-storage batch-delete -c BCS-K8S-00001 -n default -t Pod -l app=old\n  \
        bcs-storage batch-delete -c BCS-K8S-00001 -t Event --updated-before 2026-11-01T00:00:00Z --yes\n  \
        bcs-storage batch-delete -c BCS-K8S-00001 -t Pod --dry-run"
    )]
    BatchDelete {
        #[command(flatten)]
        target: Target,
        /// A Kubernetes label selector on the objects' labels.
        #[arg(short = 'l', long)]
        selector: Option<String>,
        /// Only documents whose KEY (a dotted path) is VALUE, or one of a
        /// comma list of values (repeatable).
        #[arg(long = "where", value_name = "KEY=VALUE", value_parser = parse_where)]
        wheres: Vec<Where>,
        /// Only documents last updated before this (unix seconds or RFC 3339).
        #[arg(long, value_name = "TIME")]
        updated_before: Option<String>,
        /// Delete without asking.
        #[arg(short, long)]
        yes: bool,
        /// Only count what would be deleted.
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
    },
    /// Delete every document of a cluster (every type, its events), after
    /// the cluster's id is typed again.
    #[command(
        name = "clean-cluster",
        after_help = "Examples:\n  \
        bcs-storage clean-cluster -c BCS-K8S-00001\n  \
        bcs-storage clean-cluster -c BCS-K8S-00001 --yes"
    )]
    CleanCluster {
        /// The cluster (`BCS-K8S-00001`).
        #[arg(short, long)]
        cluster: String,
        /// Delete without asking.
        #[arg(short, long)]
        yes: bool,
    },
    /// Follow changes of a type in a cluster, one line per change, resuming
    /// by itself after the stream ends or the connection is lost.
    #[command(after_help = "Examples:\n  \
        bcs-storage watch -c BCS-K8S-00001 -t Pod\n  \
        bcs-storage watch -c BCS-K8S-00001 -t Pod -o json --since 41 --max-events 10")]
    Watch {
        /// The cluster (`BCS-K8S-00001`).
        #[arg(short, long)]
        cluster: String,
        /// The stored kind (`Pod`).
        #[arg(short = 't', long = "type", value_name = "TYPE")]
        kind: String,
        /// Start right after this revision (a `resourceVersion` printed
        /// before) instead of now.
        #[arg(long, value_name = "REV")]
        since: Option<String>,
        /// Stop after this many changes.
        #[arg(long)]
        max_events: Option<u64>,
    },
    /// Query a kind through the typed query routes; the kind's own filters
    /// follow as `--kebab-case value` (`--host-ip 10.0.0.1`, time filters as
    /// `--start-time-begin T`).
    #[command(after_help = "Examples:\n  \
        bcs-storage query pod -c BCS-K8S-00001 --host-ip 10.0.0.1\n  \
        bcs-storage query deployment -c BCS-K8S-00001 -n default --replicas 3 -o json\n  \
        bcs-storage query application --env mesos -c BCS-MESOS-1 --status Running")]
    Query {
        /// The query kind (`pod`, `deployment`, `node` ...).
        kind: String,
        /// The cluster (`BCS-K8S-00001`).
        #[arg(short, long)]
        cluster: String,
        /// Namespaces (a comma list).
        #[arg(short, long)]
        namespace: Option<String>,
        /// Names (a comma list).
        #[arg(long)]
        name: Option<String>,
        /// The environment of the route.
        #[arg(long, default_value = "k8s", value_parser = ["k8s", "mesos"])]
        env: String,
        /// At most this many documents.
        #[arg(long)]
        limit: Option<u64>,
        /// The kind's filters: `--kebab-name VALUE` ..., after every other
        /// flag (global ones such as `-o` go before them).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "FILTERS"
        )]
        filters: Vec<String>,
    },
    /// List events of clusters, newest first.
    #[command(after_help = "Examples:\n  \
        bcs-storage events -c BCS-K8S-00001 --level Warning\n  \
        bcs-storage events -c BCS-K8S-00001,BCS-K8S-00002 --object web-0 --since 2026-12-01T00:00:00Z -o json")]
    Events {
        /// Clusters (a comma list).
        #[arg(short, long)]
        cluster: String,
        /// Levels (`Warning`, `Normal`; a comma list).
        #[arg(long)]
        level: Option<String>,
        /// The involved object's kinds (a comma list).
        #[arg(long)]
        kind: Option<String>,
        /// The involved object's namespaces (a comma list).
        #[arg(short, long)]
        namespace: Option<String>,
        /// The involved object's names (a comma list).
        #[arg(long)]
        object: Option<String>,
        /// Only events after this time (unix seconds, RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only events before this time.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// At most this many events.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// List alarms, newest first.
    #[command(after_help = "Example:\n  \
        bcs-storage alarms -c BCS-K8S-00001 --type sms --since 2026-12-01T00:00:00Z")]
    Alarms {
        /// Clusters (a comma list).
        #[arg(short, long)]
        cluster: Option<String>,
        /// Namespaces (a comma list).
        #[arg(short, long)]
        namespace: Option<String>,
        /// Types (a comma list; each may be part of the stored type).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Sources (a comma list).
        #[arg(long)]
        source: Option<String>,
        /// Only alarms after this time (unix seconds, RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only alarms before this time.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// At most this many alarms.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Stream every matching document of a resource as JSON lines, to
    /// standard output or a file (a progress line on a terminal's stderr).
    #[command(after_help = "Examples:\n  \
        bcs-storage export pods -c BCS-K8S-00001 > pods.ndjson\n  \
        bcs-storage export Deployment -c BCS-K8S-00001 -n default --file deployments.ndjson\n  \
        bcs-storage export pods --query 'Label:app=web+Node:node-1'")]
    Export {
        /// A Kubernetes plural (`pods`, `deployments`) or a stored type
        /// (`Deployment`); `pods` are written in the export's pod form.
        resource: String,
        /// Only these clusters (a comma list).
        #[arg(short, long)]
        cluster: Option<String>,
        /// Only these namespaces (a comma list).
        #[arg(short, long)]
        namespace: Option<String>,
        /// More conditions in the export's search form (`Field:value+...`).
        #[arg(long)]
        query: Option<String>,
        /// Write here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Print a shell completion script (`source <(bcs-storage completions bash)`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Delete one document (deleting one that is not there succeeds).
    #[command(after_help = "Example:\n  \
        bcs-storage delete -c BCS-K8S-00001 -n default -t Pod --name web-0")]
    Delete {
        #[command(flatten)]
        target: Target,
        /// The document's name.
        #[arg(long)]
        name: String,
    },
}

/// Asks on standard error; true when the answer (a line of standard input)
/// is `expected`.
fn confirm(question: &str, expected: &[&str]) -> Result<bool, Failure> {
    use std::io::Write;
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("standard input: {e}")))?;
    Ok(expected.contains(&line.trim()))
}

/// "1 document", "3 documents".
fn documents(n: u64) -> String {
    if n == 1 {
        "1 document".into()
    } else {
        format!("{n} documents")
    }
}

/// Unix seconds of a time given as unix seconds or RFC 3339.
fn unix_seconds(t: &str) -> Result<i64, Failure> {
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp())
        .map_err(|_| Failure::Usage(format!("{t:?}: give unix seconds or an RFC 3339 time")))
}

/// Why a command failed, and its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The server refused (exit 1).
    Refused(String),
    /// Bad input found before asking the server (exit 2, as clap's).
    Usage(String),
    /// What was asked for does not exist (exit 3).
    NotFound(String),
    /// No answer from the server (exit 4).
    Unreachable(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) => 1,
            Failure::Usage(_) => 2,
            Failure::NotFound(_) => 3,
            Failure::Unreachable(_) => 4,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Refused(m)
            | Failure::Usage(m)
            | Failure::NotFound(m)
            | Failure::Unreachable(m) => m,
        }
    }
}

/// The code of a bcs reply for a document that does not exist.
const NOT_FOUND: i64 = 1_405_087;

/// The server's API, as a client sees it.
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: Option<String>,
}

/// What is escaped in a path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

impl Client {
    pub fn new(global: &Global) -> Result<Client, Failure> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            // No limit on a whole exchange: a watch lasts, a large list takes
            // its time (the server bounds what it answers).
            .timeout(None)
            .build()
            .map_err(|e| Failure::Usage(format!("cannot make an HTTP client: {e}")))?;
        let base = global.server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Usage(format!(
                "--server {:?}: give an http:// or https:// URL",
                global.server
            )));
        }
        Ok(Client {
            http,
            base,
            token: global.token.clone(),
        })
    }

    /// Sends a request with the token, if any; an error when no reply came.
    fn send(
        &self,
        mut req: reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::Response, Failure> {
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send().map_err(|e| self.unreachable(&e))
    }

    fn unreachable(&self, e: &reqwest::Error) -> Failure {
        Failure::Unreachable(format!("cannot reach {}: {}", self.base, root_cause(e)))
    }

    /// GETs a path outside the bcs prefix (the export) and hands back the
    /// reply as it streams.
    fn get_stream(&self, path_and_query: &str) -> Result<reqwest::blocking::Response, Failure> {
        self.send(self.http.get(format!("{}{path_and_query}", self.base)))
    }

    /// POSTs `body` to a bcs route and hands back the streamed reply.
    fn stream(&self, path: &str, body: &Value) -> Result<reqwest::blocking::Response, Failure> {
        let url = format!("{}/bcsapi/v4/storage{path}", self.base);
        self.send(self.http.post(url).json(body))
    }

    /// Sends a request to a bcs route; the envelope when `result` is true.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut url = format!("{}/bcsapi/v4/storage{path}", self.base);
        if !query.is_empty() {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            url.push('?');
            url.push_str(&q.finish());
        }
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let reply = self.send(req)?;
        let status = reply.status();
        let text = reply.text().map_err(|e| self.unreachable(&e))?;
        let envelope: Value = serde_json::from_str(&text)
            .map_err(|_| Failure::Refused(format!("HTTP {status} from {url}: {}", text.trim())))?;
        if envelope["result"] == true {
            return Ok(envelope);
        }
        let message = envelope["message"]
            .as_str()
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        if envelope["code"] == NOT_FOUND {
            Err(Failure::NotFound(message))
        } else {
            Err(Failure::Refused(message))
        }
    }
}

/// The innermost cause of an error (reqwest's own says only "error
/// sending request").
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e;
    while let Some(c) = last.source() {
        last = c;
    }
    last.to_string()
}

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl Target {
    /// The dynamic route of the target, and of one document when `name`.
    fn path(&self, name: Option<&str>) -> String {
        let mut p = match &self.namespace {
            Some(ns) => format!(
                "/{}/dynamic/namespace_resources/clusters/{}/namespaces/{}/{}",
                self.env,
                seg(&self.cluster),
                seg(ns),
                seg(&self.kind)
            ),
            None => format!(
                "/{}/dynamic/cluster_resources/clusters/{}/{}",
                self.env,
                seg(&self.cluster),
                seg(&self.kind)
            ),
        };
        if let Some(n) = name {
            p.push('/');
            p.push_str(&seg(n));
        }
        p
    }

    /// How a document of the target is named in messages.
    fn describe(&self, name: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{name} in {}", self.kind, ns, self.cluster),
            None => format!("{} {name} in {}", self.kind, self.cluster),
        }
    }
}

/// Query parameters, in order (a name may repeat).
type Query = Vec<(String, String)>;

/// The query of a label selector, `KEY=VALUE` conditions and an update
/// time bound, as the list and batch-delete routes read them.
fn filters(
    selector: Option<String>,
    wheres: &[Where],
    updated_before: Option<&str>,
) -> Result<Query, Failure> {
    let mut query = Vec::new();
    if let Some(s) = selector {
        query.push(("labelSelector".into(), s));
    }
    if let Some(t) = updated_before {
        // Seconds, which both routes read (batch deletes only those).
        query.push(("updateTimeBefore".into(), unix_seconds(t)?.to_string()));
    }
    for w in wheres {
        query.push((w.0.clone(), w.1.clone()));
    }
    Ok(query)
}

/// The parameters that were given.
fn given<const N: usize>(pairs: [(&str, Option<String>); N]) -> Query {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?)))
        .collect()
}

/// `--host-ip 10.0.0.1 --start-time-begin T` → the kind's parameters
/// (`hostIp`, `startTimeBegin`), checked against the kind's table.
fn query_filters(env: &str, kind: &str, args: &[String]) -> Result<Query, Failure> {
    use crate::domain::query::{KINDS, Ty};
    let kinds = || {
        KINDS
            .iter()
            .filter(|k| k.env.as_str() == env)
            .map(|k| k.route)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(k) = KINDS
        .iter()
        .find(|k| k.env.as_str() == env && k.route == kind)
    else {
        return Err(Failure::Usage(format!(
            "no query kind {kind:?} in {env}; the kinds: {}",
            kinds()
        )));
    };
    let mut names: Vec<String> = Vec::new();
    for p in k.params {
        if p.ty == Ty::Time {
            names.push(format!("{}Begin", p.name));
            names.push(format!("{}End", p.name));
        } else {
            names.push(p.name.to_owned());
        }
    }
    let kebab = |camel: &str| {
        let mut out = String::new();
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                out.push('-');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    };
    let flags: Vec<String> = names.iter().map(|n| format!("--{}", kebab(n))).collect();
    let mut query = Query::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let Some(i) = flags.iter().position(|f| f == flag) else {
            return Err(Failure::Usage(format!(
                "{arg:?} is no filter of {kind}; its filters: {}",
                flags.join(" ")
            )));
        };
        let value = match inline.or_else(|| it.next().cloned()) {
            Some(v) => v,
            None => return Err(Failure::Usage(format!("{flag} wants a value"))),
        };
        query.push((names[i].clone(), value));
    }
    Ok(query)
}

/// Every document of `path` matching `query`, `page` per request.
fn list_all(
    client: &Client,
    path: &str,
    query: &[(String, String)],
    page: u64,
) -> Result<Vec<Value>, Failure> {
    let page = page.max(1);
    let mut docs = Vec::new();
    loop {
        let mut q = query.to_vec();
        q.push(("offset".into(), docs.len().to_string()));
        q.push(("limit".into(), page.to_string()));
        let reply = client.call(reqwest::Method::GET, path, &q, None)?;
        let got = match reply["data"].clone() {
            Value::Array(a) => a,
            _ => Vec::new(),
        };
        let short = (got.len() as u64) < page;
        docs.extend(got);
        if short {
            return Ok(docs);
        }
    }
}

/// Documents asked for per request with `--all` (as the Go SDK pages).
const PAGE: u64 = 200;

/// Runs a client command; its exit code.
pub fn run(verb: Verb, global: &Global) -> ExitCode {
    match execute(verb, global) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("bcs-storage: {}", f.message());
            ExitCode::from(f.exit_code())
        }
    }
}

fn execute(verb: Verb, global: &Global) -> Result<(), Failure> {
    use reqwest::Method;
    let client = Client::new(global)?;
    let fields =
        |field: &[String]| -> Query { field.iter().map(|f| ("field".into(), f.clone())).collect() };
    match verb {
        Verb::Get {
            target,
            name,
            field,
        } => {
            let reply = client
                .call(
                    Method::GET,
                    &target.path(Some(&name)),
                    &fields(&field),
                    None,
                )
                .map_err(|f| match f {
                    Failure::NotFound(m) => {
                        Failure::NotFound(format!("{}: {m}", target.describe(&name)))
                    }
                    other => other,
                })?;
            output::print_one(&reply["data"], global.output);
        }
        Verb::List {
            target,
            selector,
            field,
            wheres,
            updated_before,
            limit,
            all,
        } => {
            let mut query = filters(selector, &wheres, updated_before.as_deref())?;
            query.extend(fields(&field));
            let path = target.path(None);
            let docs = if all {
                list_all(&client, &path, &query, limit.unwrap_or(PAGE))?
            } else {
                if let Some(l) = limit {
                    query.push(("limit".into(), l.to_string()));
                }
                match client.call(Method::GET, &path, &query, None)?["data"].clone() {
                    Value::Array(a) => a,
                    _ => Vec::new(),
                }
            };
            output::print_list(&docs, global.output);
        }
        Verb::BatchDelete {
            target,
            selector,
            wheres,
            updated_before,
            yes,
            dry_run,
        } => {
            let query = filters(selector, &wheres, updated_before.as_deref())?;
            let path = target.path(None);
            let mut counting = query.clone();
            counting.push(("field".into(), "_id".into()));
            let count = list_all(&client, &path, &counting, 5000)?.len();
            let what = match &target.namespace {
                Some(ns) => format!("{} in namespace {ns} of {}", target.kind, target.cluster),
                None => format!("{} in {}", target.kind, target.cluster),
            };
            let verb = if count == 1 { "matches" } else { "match" };
            println!("{} of {what} {verb}", documents(count as u64));
            if dry_run || count == 0 {
                return Ok(());
            }
            let question = format!("Delete {}? [y/N]", documents(count as u64));
            if !yes && !confirm(&question, &["y", "yes"])? {
                return Err(Failure::Refused(
                    "not confirmed (--yes skips the question): nothing deleted".into(),
                ));
            }
            let reply = client.call(Method::DELETE, &path, &query, None)?;
            println!(
                "{} deleted",
                documents(reply["total"].as_u64().unwrap_or(0))
            );
        }
        Verb::CleanCluster { cluster, yes } => {
            let question = format!(
                "Every document of cluster {cluster} (all types, its events) will be deleted. \
                 Type the cluster's id to go on:"
            );
            if !yes && !confirm(&question, &[cluster.as_str()])? {
                return Err(Failure::Refused(
                    "not confirmed (--yes skips the question): nothing deleted".into(),
                ));
            }
            let reply = client.call(
                Method::DELETE,
                &format!("/clusters/{}/data", seg(&cluster)),
                &[],
                None,
            )?;
            let counts = &reply["data"][0]["deletedCounts"];
            println!(
                "cluster {cluster} cleaned: {} and {} events deleted",
                documents(counts["dynamic"].as_u64().unwrap_or(0)),
                counts["event"].as_u64().unwrap_or(0)
            );
        }
        Verb::Completions { .. } => unreachable!("main prints completions"),
        Verb::Export {
            resource,
            cluster,
            namespace,
            query,
            file,
        } => {
            let terms: Vec<String> = [("Cluster", cluster), ("Namespace", namespace)]
                .into_iter()
                .filter_map(|(f, v)| Some(format!("{f}:{}", v?)))
                .chain(query)
                .collect();
            export::run(&client, &resource, &terms.join("+"), file.as_deref())?;
        }
        Verb::Query {
            kind,
            cluster,
            namespace,
            name,
            env,
            limit,
            filters,
        } => {
            let mut query = query_filters(&env, &kind, &filters)?;
            query.extend(given([("namespace", namespace), ("name", name)]));
            if let Some(l) = limit {
                query.push(("limit".into(), l.to_string()));
            }
            let path = format!(
                "/query/{env}/dynamic/clusters/{}/{}",
                seg(&cluster),
                seg(&kind)
            );
            let docs = match client.call(Method::GET, &path, &query, None)?["data"].clone() {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            output::print_list(&docs, global.output);
        }
        Verb::Events {
            cluster,
            level,
            kind,
            namespace,
            object,
            since,
            until,
            limit,
        } => {
            let query = given([
                ("clusterId", Some(cluster)),
                ("level", level),
                ("extraInfo.kind", kind),
                ("extraInfo.namespace", namespace),
                ("extraInfo.name", object),
                ("timeBegin", since),
                ("timeEnd", until),
                ("length", limit.map(|l| l.to_string())),
            ]);
            let reply = client.call(Method::GET, "/events", &query, None)?;
            output::print_records(&reply["data"], output::EVENTS, global.output);
        }
        Verb::Alarms {
            cluster,
            namespace,
            kind,
            source,
            since,
            until,
            limit,
        } => {
            let query = given([
                ("clusterId", cluster),
                ("namespace", namespace),
                ("type", kind),
                ("source", source),
                ("timeBegin", since),
                ("timeEnd", until),
                ("length", limit.map(|l| l.to_string())),
            ]);
            let reply = client.call(Method::GET, "/alarms", &query, None)?;
            output::print_records(&reply["data"], output::ALARMS, global.output);
        }
        Verb::Watch {
            cluster,
            kind,
            since,
            max_events,
        } => watch::follow(&client, &cluster, &kind, since, max_events, global.output)?,
        Verb::Put { target, name, file } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| Failure::Usage(format!("standard input: {e}")))?;
                s
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?
            };
            let data: Value = serde_json::from_str(&text)
                .map_err(|e| Failure::Usage(format!("{}: not JSON: {e}", file.display())))?;
            let body = serde_json::json!({ "data": data });
            client.call(Method::PUT, &target.path(Some(&name)), &[], Some(&body))?;
            println!("{} stored", target.describe(&name));
        }
        Verb::Delete { target, name } => {
            client.call(Method::DELETE, &target.path(Some(&name)), &[], None)?;
            println!("{} deleted", target.describe(&name));
        }
    }
    Ok(())
}
