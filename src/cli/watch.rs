//! `bcs-storage watch`: the frames of the watch route, followed across the
//! stream's ends and lost connections by watching again from the last
//! revision received (nothing missed, nothing twice).

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Client, Failure, Format, seg};

/// The code of a revision the store no longer keeps.
const GONE: i64 = 1_405_096;

pub(super) fn follow(
    client: &Client,
    cluster: &str,
    kind: &str,
    since: Option<String>,
    max_events: Option<u64>,
    format: Format,
) -> Result<(), Failure> {
    let path = format!("/dynamic/watch/{}/{}", seg(cluster), seg(kind));
    let mut rev = since;
    let mut printed = 0u64;
    let mut out = Printer::new(format);
    let mut wait = Duration::from_millis(250);
    let mut told = false;
    loop {
        let mut body = json!({"allowBookmarks": true});
        if let Some(r) = &rev {
            body["resourceVersion"] = Value::from(r.as_str());
        }
        if let Some(m) = max_events {
            body["maxEvents"] = Value::from(m - printed);
        }
        let reply = match client.stream(&path, &body) {
            Ok(r) => r,
            Err(Failure::Unreachable(m)) => {
                // The server restarts, or is away: try again, quietly after
                // the first notice.
                if !told {
                    eprintln!("bcs-storage: {m}; watching again when it answers");
                    told = true;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
                continue;
            }
            Err(e) => return Err(e),
        };
        (wait, told) = (Duration::from_millis(250), false);
        let status = reply.status();
        let mut lines = BufReader::new(reply);
        let mut line = String::new();
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                // The connection ended or broke: watch again.
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = line.trim();
            if text.is_empty() {
                continue; // a heartbeat
            }
            let Ok(frame) = serde_json::from_str::<Value>(text) else {
                return Err(Failure::Refused(format!("HTTP {status}: {text}")));
            };
            if frame.get("result").is_some() {
                return Err(refusal(&frame, rev.as_deref()));
            }
            if let Some(at) = frame["resourceVersion"].as_str() {
                rev = Some(at.to_owned());
            }
            match frame["type"].as_i64() {
                // The stream's end (a timeout, the server stopping, a
                // watcher too far behind): watch again from `rev`.
                Some(-1) => break,
                Some(5) => {}
                _ => {
                    out.frame(&frame);
                    printed += 1;
                    if max_events.is_some_and(|m| printed >= m) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

fn refusal(envelope: &Value, rev: Option<&str>) -> Failure {
    let message = envelope["message"].as_str().unwrap_or("refused").to_owned();
    if envelope["code"] == GONE {
        Failure::Refused(format!(
            "revision {} is no longer kept ({message}): list again, then watch from now",
            rev.unwrap_or("")
        ))
    } else {
        Failure::Refused(message)
    }
}

/// Prints frames as they come (flushed at once, for pipes).
struct Printer {
    format: Format,
    header: bool,
}

impl Printer {
    fn new(format: Format) -> Printer {
        Printer {
            format,
            header: false,
        }
    }

    fn frame(&mut self, frame: &Value) {
        let mut stdout = std::io::stdout().lock();
        let doc = &frame["value"];
        let text = |k: &str| doc[k].as_str().unwrap_or("").to_owned();
        let event = match frame["type"].as_i64() {
            Some(1) => "ADDED",
            Some(2) => "DELETED",
            Some(3) => "MODIFIED",
            _ => "UNKNOWN",
        };
        let line = match self.format {
            Format::Json => format!("{frame}\n"),
            Format::Yaml => format!(
                "---\n{}",
                serde_norway::to_string(frame).unwrap_or_default()
            ),
            Format::Table | Format::Wide => {
                let mut s = String::new();
                if !self.header {
                    self.header = true;
                    s.push_str(&format!(
                        "{:<9} {:<20} {:<40} {}\n",
                        "EVENT", "NAMESPACE", "NAME", "REVISION"
                    ));
                }
                s.push_str(&format!(
                    "{:<9} {:<20} {:<40} {}\n",
                    event,
                    text("namespace"),
                    text("resourceName"),
                    frame["resourceVersion"].as_str().unwrap_or("")
                ));
                s
            }
        };
        let _ = stdout.write_all(line.as_bytes());
        let _ = stdout.flush();
    }
}
