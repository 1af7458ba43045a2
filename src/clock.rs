//! The source of "now", shared by the domain (times it writes into
//! documents) and the stores (deletion stamps, purges), so that a test that
//! injects a clock sees one time everywhere.

use chrono::{DateTime, Utc};

/// Source of "now", injectable for tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
