//! Bearer tokens: the tokens file, what a token may do, and its reloading.
//!
//! The file (`auth.tokens_file`, TOML) holds one table per token and never the
//! token itself, only its SHA-256:
//!
//! ```toml
//! [[token]]
//! name = "data-watch-cluster-a"
//! scope = "write"
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! ```
//!
//! A presented token is hashed and compared with every entry in constant
//! time. The file is read again when it changes; a file that no longer
//! parses keeps the previous tokens (and says why in the log).

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET, lists, watches and the query POSTs.
    Read,
    /// Plus writes and deletes of resources.
    Write,
    /// Plus cluster clean, batch deletes over more than one namespace and
    /// custom-resource index changes.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            _ => Err(format!("{s:?} is not a scope: read, write or admin")),
        }
    }
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub scope: Scope,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    scope: Scope,
    sha256: String,
}

/// The parsed tokens: (SHA-256, who).
#[derive(Debug, Default)]
struct Table(Vec<([u8; 32], Principal)>);

impl Table {
    fn parse(text: &str) -> Result<Table, String> {
        let file: TokensFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(file.token.len());
        for (i, e) in file.token.into_iter().enumerate() {
            let bytes = hex::decode(e.sha256.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    format!(
                        "token {} ({:?}): sha256 must be 64 hexadecimal digits",
                        i + 1,
                        e.name
                    )
                })?;
            if e.name.trim().is_empty() {
                return Err(format!("token {}: name is empty", i + 1));
            }
            out.push((
                bytes,
                Principal {
                    name: e.name,
                    scope: e.scope,
                },
            ));
        }
        Ok(Table(out))
    }

    /// Every entry is compared, whatever matches first.
    fn find(&self, token: &str) -> Option<Principal> {
        let digest = sha256(token);
        let mut found = None;
        for (hash, who) in &self.0 {
            if bool::from(hash.ct_eq(&digest)) && found.is_none() {
                found = Some(who.clone());
            }
        }
        found
    }
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The tokens of a file, read again when it changes.
#[derive(Debug)]
pub struct Tokens(crate::reload::Reloading<Table>);

impl Tokens {
    /// Reads the file; a missing or malformed file stops start-up.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let file = path.to_owned();
        let read = move || {
            std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|t| Table::parse(&t))
                .map_err(|e| format!("auth.tokens_file {}: {e}", file.display()))
        };
        let tokens = crate::reload::Reloading::new("tokens file", vec![path.to_owned()], read)?;
        if tokens.current().0.is_empty() {
            tracing::warn!(file = %path.display(), "the tokens file has no token: every request but the probes is refused");
        }
        Ok(Tokens(tokens))
    }

    /// Who `token` belongs to, if anyone.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        self.0.current().find(token)
    }

    /// Reads the file again if it changed; returns whether new tokens took
    /// effect.
    pub fn reload_if_changed(&self) -> bool {
        self.0.reload_if_changed()
    }
}

/// Makes a new random token for `name`, appends its hash to the file
/// (created if missing) and returns the token, which is nowhere else.
pub fn add_token(path: &Path, name: &str, scope: Scope) -> Result<String, String> {
    if name.trim().is_empty() || name.contains(['"', '\\', '\n']) {
        return Err(format!("{name:?} is not a usable token name"));
    }
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let table = Table::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if table.0.iter().any(|(_, p)| p.name == name) {
            return Err(format!("{}: a token named {name:?} exists", path.display()));
        }
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("no random numbers: {e}"))?;
    let token = format!("bcs_{}", hex::encode(secret));
    let entry = format!(
        "\n[[token]]\nname = \"{name}\"\nscope = \"{}\"\nsha256 = \"{}\"\n",
        scope.as_str(),
        hex::encode(sha256(&token))
    );
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(entry.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_tokens_authenticate_with_their_scope_and_nothing_else_does() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.toml");
        let w = add_token(&path, "agent", Scope::Write).expect("add");
        let r = add_token(&path, "console", Scope::Read).expect("add");
        assert_ne!(w, r);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&w) && !text.contains(&r), "{text}");
        let tokens = Tokens::load(&path).expect("load");
        assert_eq!(
            tokens.authenticate(&w),
            Some(Principal {
                name: "agent".into(),
                scope: Scope::Write
            })
        );
        assert_eq!(tokens.authenticate(&r).map(|p| p.scope), Some(Scope::Read));
        assert_eq!(tokens.authenticate(""), None);
        assert_eq!(tokens.authenticate(&w[..w.len() - 1]), None);
        assert!(add_token(&path, "agent", Scope::Admin).is_err());
    }

    #[test]
    fn a_broken_file_keeps_the_previous_tokens() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tokens.toml");
        let t = add_token(&path, "a", Scope::Admin).expect("add");
        let tokens = Tokens::load(&path).expect("load");
        std::fs::write(
            &path,
            "[[token]]\nname = \"a\"\nscope = \"root\"\nsha256 = \"00\"\n",
        )
        .expect("write");
        assert!(!tokens.reload_if_changed());
        assert_eq!(tokens.authenticate(&t).map(|p| p.scope), Some(Scope::Admin));
        assert!(
            Table::parse("[[token]]\nname = \"a\"\nscope = \"read\"\nsha256 = \"zz\"\n").is_err()
        );
    }
}
