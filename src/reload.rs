//! A value read from files and read again when they change (the tokens
//! file, the TLS certificate and key): polled, compared by modification
//! time and size, and kept as it was when the new files do not load.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// What identifies a version of the files without reading them.
type Fingerprint = Vec<Option<(SystemTime, u64)>>;

type Loader<T> = Box<dyn Fn() -> Result<T, String> + Send + Sync>;

/// The value of some files, kept up to date by [`Reloading::reload_if_changed`].
pub struct Reloading<T> {
    /// What the files are, for the log ("tokens file", "TLS certificate").
    what: &'static str,
    paths: Vec<PathBuf>,
    load: Loader<T>,
    state: RwLock<(Fingerprint, Arc<T>)>,
}

impl<T> std::fmt::Debug for Reloading<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("what", &self.what)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

impl<T> Reloading<T> {
    /// Loads the value now; an error stops start-up.
    pub fn new(
        what: &'static str,
        paths: Vec<PathBuf>,
        load: impl Fn() -> Result<T, String> + Send + Sync + 'static,
    ) -> Result<Reloading<T>, String> {
        let seen = fingerprint(&paths);
        let value = load()?;
        Ok(Reloading {
            what,
            paths,
            load: Box::new(load),
            state: RwLock::new((seen, Arc::new(value))),
        })
    }

    /// The value in force.
    pub fn current(&self) -> Arc<T> {
        match self.state.read() {
            Ok(s) => s.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Loads again if a file's modification time or size changed; a load
    /// that fails keeps the value in force (logged). Returns whether a new
    /// value took effect.
    pub fn reload_if_changed(&self) -> bool {
        let now = fingerprint(&self.paths);
        let unchanged = match self.state.read() {
            Ok(s) => s.0 == now,
            Err(poisoned) => poisoned.into_inner().0 == now,
        };
        if unchanged {
            return false;
        }
        let loaded = (self.load)();
        let mut state = match self.state.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.0 = now;
        match loaded {
            Ok(v) => {
                tracing::info!(files = ?self.paths, "{} read again", self.what);
                state.1 = Arc::new(v);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the {} changed but cannot be loaded; the previous one stays in force", self.what);
                false
            }
        }
    }
}
