//! Published link pages' data, kept in memory for a moment.
//!
//! `GET /l/{id}` needs a link, its prices and products, their images and
//! the account's page settings: six queries for a page that rarely
//! changes. This cache keeps what was read, under the id or slug asked
//! for, and serves it while both hold:
//!
//! - this process has committed no change to page data since it was read
//!   ([`paylink_store::Database::pages_version`]), and
//! - it was read less than [`TTL_SECS`] ago by the app's clock.
//!
//! So a change made through this instance shows at once, and one made
//! through another instance (several behind one database) shows within
//! [`TTL_SECS`]: that is all the staleness there can be. Submitting the
//! form never uses the cache: the order is priced, and its limits
//! reserved, from the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::Loaded;

/// How long page data read from the database is served, at most, in
/// seconds of the app's clock (whole seconds: a page read at second `t` is
/// served until second `t + TTL_SECS` begins).
pub const TTL_SECS: i64 = 1;

/// The most links kept; past it the cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct PageCache {
    entries: RwLock<HashMap<String, Entry>>,
}

struct Entry {
    read_at: i64,
    version: u64,
    loaded: Arc<Loaded>,
}

impl PageCache {
    /// The page data of `key` read at `version`, if still current at `now`.
    pub(super) fn get(&self, key: &str, now: i64, version: u64) -> Option<Arc<Loaded>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let e = entries.get(key)?;
        (e.version == version && now - e.read_at < TTL_SECS && now >= e.read_at)
            .then(|| e.loaded.clone())
    }

    /// Keeps `loaded`, read at `now` when the store's pages version was
    /// `version` (taken before the read, so a change committed during it
    /// makes the entry stale at once).
    pub(super) fn put(&self, key: &str, now: i64, version: u64, loaded: Arc<Loaded>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(
            key.to_string(),
            Entry {
                read_at: now,
                version,
                loaded,
            },
        );
    }
}
