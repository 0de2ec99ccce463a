//! The vault: data keys for envelope encryption, kept in `data_keys`
//! wrapped under the key file's master keys, and unwrapped into a cache on
//! first use. Fields are sealed with the owning account's key and their
//! place (`table.column:row`) as associated data; lookups by a sealed value
//! go through a keyed blind index. Instance-wide secrets (the API key
//! pepper, the blind index key, the sim provider's keys) derive from the
//! instance data key, so rotating the master key changes none of them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use paylink_crypto::envelope::{wrapped_kek_version, DataKey, EnvelopeError};
use paylink_crypto::{KeyFile, Secret};

use crate::error::StoreError;

/// Owner of the instance-wide data key.
pub const INSTANCE: &str = "instance";

/// Purpose of the blind index key.
pub const BLIND_INDEX: &str = "paylink/blind-index/v1";

/// Prefix of a sealed text column value.
const PREFIX: &str = "enc1:";

pub struct Vault {
    keys: RwLock<Arc<KeyFile>>,
    /// Where the key file lives, to pick up versions added by
    /// `paylink keys rotate-master` while this process runs.
    path: Option<PathBuf>,
    cache: Mutex<HashMap<String, (Instant, FieldKey)>>,
    /// How long an owner's keys are trusted from the cache. Another
    /// instance's `keys rotate-data` waits longer than this between steps.
    cache_ttl: Mutex<Duration>,
}

/// Default lifetime of cached data keys.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn crypto(e: EnvelopeError) -> StoreError {
    StoreError::Crypto(e.to_string())
}

impl Vault {
    pub fn new(keys: KeyFile, path: Option<PathBuf>) -> Self {
        Self {
            keys: RwLock::new(Arc::new(keys)),
            path,
            cache: Mutex::new(HashMap::new()),
            cache_ttl: Mutex::new(KEY_CACHE_TTL),
        }
    }

    pub fn keys(&self) -> Arc<KeyFile> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the key file (a rotation may have added a version).
    fn reload(&self) {
        if let Some(p) = &self.path {
            match KeyFile::load(p) {
                Ok(k) => match self.keys.write() {
                    Ok(mut g) => *g = Arc::new(k),
                    Err(p) => *p.into_inner() = Arc::new(k),
                },
                Err(e) => tracing::error!(error = %e, "could not reload the key file"),
            }
        }
    }

    pub(crate) fn unwrap_key(&self, wrapped: &[u8], owner: &str) -> Result<DataKey, StoreError> {
        match DataKey::unwrap(&self.keys(), wrapped, owner) {
            Err(EnvelopeError::UnknownKek(_)) => {
                self.reload();
                DataKey::unwrap(&self.keys(), wrapped, owner).map_err(crypto)
            }
            other => other.map_err(crypto),
        }
    }

    /// Forgets cached keys (after a data key rotation).
    pub fn forget(&self, owner: &str) {
        lock(&self.cache).remove(owner);
    }

    /// Sets how long cached data keys are trusted.
    pub fn set_cache_ttl(&self, ttl: Duration) {
        *lock(&self.cache_ttl) = ttl;
    }

    /// `owner`'s keys, if cached less than the cache lifetime ago.
    pub(crate) fn cached(&self, owner: &str) -> Option<FieldKey> {
        let ttl = *lock(&self.cache_ttl);
        match lock(&self.cache).get(owner) {
            Some((at, k)) if at.elapsed() < ttl => Some(k.clone()),
            _ => None,
        }
    }

    /// Caches `owner`'s keys.
    pub(crate) fn remember(&self, owner: &str, key: &FieldKey) {
        lock(&self.cache).insert(owner.to_string(), (Instant::now(), key.clone()));
    }

    /// A fresh data key and its wrapped form under the current master key
    /// (with that key's version), for `name`.
    pub(crate) fn fresh_key(&self, name: &str) -> Result<(DataKey, Vec<u8>, i64), StoreError> {
        self.reload();
        let fresh = DataKey::generate().map_err(crypto)?;
        let wrapped = fresh.wrap(&self.keys(), name).map_err(crypto)?;
        let version = i64::from(wrapped_kek_version(&wrapped).unwrap_or(0));
        Ok((fresh, wrapped, version))
    }

    /// `wrapped` (a key of `owner`) wrapped again under the current master
    /// key, and that key's version.
    pub(crate) fn rewrap(&self, wrapped: &[u8], owner: &str) -> Result<(Vec<u8>, i64), StoreError> {
        let key = self.unwrap_key(wrapped, owner)?;
        let keys = self.keys();
        let rewrapped = key.wrap(&keys, owner).map_err(crypto)?;
        Ok((rewrapped, i64::from(keys.current().version)))
    }

    /// The version of the master key new keys are wrapped with (after
    /// picking up versions a rotation added to the key file).
    pub(crate) fn current_version(&self) -> i64 {
        self.reload();
        i64::from(self.keys().current().version)
    }
}

/// Prefix of a value sealed under a later generation: `enc2:<n>:`.
const PREFIX2: &str = "enc2:";

fn encode(generation: u32, blob: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob);
    if generation == 0 {
        format!("{PREFIX}{b64}")
    } else {
        format!("{PREFIX2}{generation}:{b64}")
    }
}

/// The generation and the bytes of a sealed column value.
fn decode(stored: &str) -> Result<(u32, Vec<u8>), StoreError> {
    let (generation, body) = if let Some(b) = stored.strip_prefix(PREFIX) {
        (0, b)
    } else if let Some(rest) = stored.strip_prefix(PREFIX2) {
        let (g, b) = rest
            .split_once(':')
            .ok_or_else(|| StoreError::Crypto("a sealed column has no generation".into()))?;
        let g = g.parse::<u32>().map_err(|_| {
            StoreError::Crypto("a sealed column's generation is not a number".into())
        })?;
        (g, b)
    } else {
        return Err(StoreError::Crypto(
            "a sealed column holds plain text".into(),
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(body)
        .map_err(|_| StoreError::Crypto("a sealed column is not base64".into()))?;
    Ok((generation, bytes))
}

/// Whether a stored value is sealed under `generation`.
pub fn sealed_under(stored: &str, generation: u32) -> bool {
    decode(stored).is_ok_and(|(g, _)| g == generation)
}

/// An owner's data keys, ready to seal (with the current generation) and
/// to open (with whichever generation a value names).
#[derive(Clone)]
pub struct FieldKey {
    current: u32,
    keys: Arc<HashMap<u32, Arc<DataKey>>>,
}

impl FieldKey {
    /// The keys of an owner's generations, sealing with `current`.
    pub(crate) fn new(current: u32, keys: HashMap<u32, Arc<DataKey>>) -> Self {
        FieldKey {
            current,
            keys: Arc::new(keys),
        }
    }

    fn current_key(&self) -> Result<&Arc<DataKey>, StoreError> {
        self.keys
            .get(&self.current)
            .ok_or_else(|| StoreError::Crypto("the current data key is missing".into()))
    }
    /// The generation new values are sealed under.
    pub fn generation(&self) -> u32 {
        self.current
    }
    /// Seals `value` for `place` (`table.column:row`).
    pub fn seal(&self, place: &str, value: &str) -> Result<String, StoreError> {
        Ok(encode(
            self.current,
            &self
                .current_key()?
                .seal(value.as_bytes(), place.as_bytes())
                .map_err(crypto)?,
        ))
    }
    pub fn seal_opt(&self, place: &str, value: Option<&str>) -> Result<Option<String>, StoreError> {
        value.map(|v| self.seal(place, v)).transpose()
    }
    /// Opens a sealed column value.
    pub fn open(&self, place: &str, stored: &str) -> Result<String, StoreError> {
        let (generation, bytes) = decode(stored)?;
        let key = self.keys.get(&generation).ok_or_else(|| {
            StoreError::Crypto(format!(
                "{place} is sealed under data key generation {generation}, which is not loaded (destroyed, or added by another instance less than a cache period ago)"
            ))
        })?;
        let pt = key
            .open(&bytes, place.as_bytes())
            .map_err(|_| StoreError::Crypto(format!("{place} could not be decrypted")))?;
        String::from_utf8(pt.expose().clone())
            .map_err(|_| StoreError::Crypto(format!("{place} is not text")))
    }
    pub fn open_opt(
        &self,
        place: &str,
        stored: Option<String>,
    ) -> Result<Option<String>, StoreError> {
        stored.map(|s| self.open(place, &s)).transpose()
    }
    pub(crate) fn derive(&self, purpose: &str) -> Result<Secret<Vec<u8>>, StoreError> {
        Ok(self.current_key()?.derive(purpose))
    }
}

/// The `data_keys` row of an owner's generation.
pub fn generation_owner(owner: &str, generation: u32) -> String {
    if generation == 0 {
        owner.to_string()
    } else {
        format!("{owner}#g{generation}")
    }
}
