//! `bcs-storage export`: the streaming export's lines, unwrapped, one JSON
//! document per line, with a progress line on a terminal.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde_json::Value;

use super::{Client, Failure, seg};

pub(super) fn run(
    client: &Client,
    resource: &str,
    query: &str,
    file: Option<&Path>,
) -> Result<(), Failure> {
    let mut path = format!("/v1/export/{}", seg(resource));
    if !query.is_empty() {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", query)
            .finish();
        path.push('?');
        path.push_str(&q);
    }
    let reply = client.get_stream(&path)?;
    let status = reply.status();
    if !status.is_success() {
        let text = reply.text().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = v["message"].as_str().unwrap_or(text.trim()).to_owned();
        return Err(if status == reqwest::StatusCode::NOT_FOUND {
            Failure::NotFound(message)
        } else {
            Failure::Refused(format!("HTTP {status}: {message}"))
        });
    }
    let mut out: Box<dyn Write> = match file {
        Some(f) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(f)
                .map_err(|e| Failure::Usage(format!("{}: {e}", f.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = |e: std::io::Error| Failure::Usage(format!("cannot write: {e}"));
    // Hidden unless standard error is a terminal.
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} documents ({per_sec})")
            .expect("a valid template"),
    );
    let mut lines = BufReader::new(reply);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(Failure::Unreachable(format!("the export broke off: {e}"))),
        }
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .map_err(|_| Failure::Refused(format!("not an export line: {}", line.trim())))?;
        if let Some(err) = v.get("error") {
            progress.finish_and_clear();
            out.flush().map_err(written)?;
            let message = err["message"].as_str().unwrap_or("the export failed");
            return Err(Failure::Refused(format!(
                "after {} documents: {message}",
                progress.position()
            )));
        }
        let doc = match &v["result"] {
            Value::Object(m) => m.values().next().cloned().unwrap_or(Value::Null),
            _ => Value::Null,
        };
        serde_json::to_writer(&mut out, &doc).map_err(|e| written(e.into()))?;
        out.write_all(b"\n").map_err(written)?;
        progress.inc(1);
    }
    out.flush().map_err(written)?;
    progress.finish_and_clear();
    if file.is_some() {
        eprintln!("{} exported", super::documents(progress.position()));
    }
    Ok(())
}
