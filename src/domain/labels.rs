//! Kubernetes label selectors (`k=v`, `k==v`, `k!=v`, `k in (a,b)`,
//! `k notin (a,b)`, `k`, `!k`, comma-separated) as filters on
//! `data.metadata.labels`.

use serde_json::Value;

use super::escape::escape_key;
use crate::model::Filter;

/// Parses a selector into a filter; the error says what is wrong.
///
/// A literal `+` counts as a space: some clients percent-encode the `+` that
/// stands for a space in a query string (`app%2Bin%2B(a,b)`), and `+` can
/// appear in neither a label key nor a label value.
pub fn parse_selector(input: &str) -> Result<Filter, String> {
    let input = input.replace('+', " ");
    let mut parts = Vec::new();
    for req in split_requirements(&input)? {
        parts.push(parse_requirement(req.trim())?);
    }
    if parts.is_empty() {
        return Err("empty selector".into());
    }
    Ok(Filter::and(parts))
}

fn split_requirements(input: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')'".into());
                }
            }
            ',' if depth == 0 => {
                out.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    out.push(&input[start..]);
    Ok(out)
}

fn label_path(key: &str) -> String {
    format!("data.metadata.labels.{}", escape_key(key))
}

fn parse_requirement(req: &str) -> Result<Filter, String> {
    if req.is_empty() {
        return Err("empty requirement".into());
    }
    if let Some(key) = req.strip_prefix('!') {
        let key = key.trim();
        check_key(key)?;
        return Ok(Filter::Exists(label_path(key), false));
    }
    for (op, negate) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = req.split_once(op) {
            let (k, v) = (k.trim(), v.trim());
            check_key(k)?;
            check_value(v)?;
            let eq = Filter::Eq(label_path(k), Value::String(v.to_owned()));
            return Ok(if negate {
                Filter::Not(Box::new(eq))
            } else {
                eq
            });
        }
    }
    if req.contains(['<', '>']) {
        return Err(format!("unsupported operator in {req:?}"));
    }
    let words: Vec<&str> = req.splitn(2, char::is_whitespace).collect();
    if words.len() == 1 {
        check_key(words[0])?;
        return Ok(Filter::Exists(label_path(words[0]), true));
    }
    let key = words[0];
    check_key(key)?;
    let rest = words[1].trim_start();
    let (negate, list) = if let Some(l) = rest.strip_prefix("notin") {
        (true, l)
    } else if let Some(l) = rest.strip_prefix("in") {
        (false, l)
    } else {
        return Err(format!("expected =, ==, !=, in or notin after {key:?}"));
    };
    let list = list.trim();
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised value list after {key:?}"))?;
    let mut values = Vec::new();
    for v in inner.split(',') {
        let v = v.trim();
        check_value(v)?;
        values.push(Value::String(v.to_owned()));
    }
    let f = Filter::In(label_path(key), values);
    Ok(if negate { Filter::Not(Box::new(f)) } else { f })
}

fn is_name(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !s.is_empty()
        && s.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty() && p.len() <= 253 && p.split('.').all(|l| is_name(l, 63) && !l.contains('_'))
    });
    if !prefix_ok || !is_name(name, 63) {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(())
}

fn check_value(v: &str) -> Result<(), String> {
    if v.is_empty() || is_name(v, 63) {
        Ok(())
    } else {
        Err(format!("invalid label value {v:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(sel: &str, labels: Value) -> bool {
        let doc = json!({"data": {"metadata": {"labels": labels}}});
        parse_selector(sel).expect("valid selector").matches(&doc)
    }

    #[test]
    fn every_operator() {
        let l = json!({"app": "nginx", "tier": "web", "app．kubernetes．io/name": "x"});
        assert!(m("app=nginx", l.clone()));
        assert!(m("app==nginx,tier=web", l.clone()));
        assert!(!m("app!=nginx", l.clone()));
        assert!(m("app!=redis", l.clone()));
        assert!(m("missing!=x", l.clone()));
        assert!(m("app in (a, nginx)", l.clone()));
        assert!(!m("app notin (a,nginx)", l.clone()));
        assert!(m("tier", l.clone()));
        assert!(m("!missing", l.clone()));
        assert!(!m("!tier", l.clone()));
        assert!(m("app.kubernetes.io/name=x", l.clone()));
        assert!(m("app+in+(a,nginx)", l.clone()), "'+' stands for a space");
        assert!(!m("app+notin+(nginx)", l));
    }

    #[test]
    fn syntax_errors_are_reported() {
        for bad in [
            "",
            "app=",
            "=x",
            "app in (a",
            "app in a",
            "app>3",
            "a b c",
            "app=in valid",
            "-bad=x",
            ",",
        ] {
            if bad == "app=" {
                // An empty value is valid in Kubernetes.
                assert!(parse_selector(bad).is_ok());
                continue;
            }
            assert!(parse_selector(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
