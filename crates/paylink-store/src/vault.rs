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
use paylink_crypto::envelope::{blind_index, wrapped_kek_version, DataKey, EnvelopeError};
use paylink_crypto::{KeyFile, Secret};
use sqlx::Row;

use crate::db::{Store, WriteTx};
use crate::error::StoreError;
use crate::list::{Bind, Sql};

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

    fn unwrap_key(&self, wrapped: &[u8], owner: &str) -> Result<DataKey, StoreError> {
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
    fn derive(&self, purpose: &str) -> Result<Secret<Vec<u8>>, StoreError> {
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

impl Store {
    fn vault(&self) -> Result<&Arc<Vault>, StoreError> {
        self.vault.as_ref().ok_or(StoreError::NoVault)
    }

    /// The data keys of `owner` (every readable generation). Cached for
    /// [`KEY_CACHE_TTL`]. It only reads: an owner's first key is made in
    /// the transaction that creates the owner ([`Store::new_field_key`]),
    /// the instance key when the vault is attached ([`Store::with_vault`]).
    pub async fn field_key(&self, owner: &str) -> Result<FieldKey, StoreError> {
        let vault = self.vault()?;
        let ttl = *lock(&vault.cache_ttl);
        if let Some((at, k)) = lock(&vault.cache).get(owner) {
            if at.elapsed() < ttl {
                return Ok(k.clone());
            }
        }
        let mut gens =
            Sql::new("SELECT generation, state FROM data_key_generations WHERE owner = ");
        gens.bind(owner).push(" ORDER BY generation");
        let gens: Vec<(i64, String)> = gens
            .query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("generation")?, r.try_get("state")?)))
            .collect::<Result<_, StoreError>>()?;
        let mut keys = HashMap::new();
        let mut current = 0u32;
        if let Some(first) = self.wrapped_key(owner).await? {
            keys.insert(0, Arc::new(vault.unwrap_key(&first, owner)?));
        } else if gens.is_empty() {
            return Err(StoreError::Crypto(format!("no data key for {owner}")));
        }
        for (g, state) in gens {
            let g = u32::try_from(g).map_err(|_| StoreError::Crypto("generation".into()))?;
            let name = generation_owner(owner, g);
            if let Some(w) = self.wrapped_key(&name).await? {
                keys.insert(g, Arc::new(vault.unwrap_key(&w, &name)?));
            }
            if state == "current" {
                current = current.max(g);
            }
        }
        let key = FieldKey {
            current,
            keys: Arc::new(keys),
        };
        lock(&vault.cache).insert(owner.to_string(), (Instant::now(), key.clone()));
        Ok(key)
    }

    async fn wrapped_key(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut sel = Sql::new("SELECT wrapped FROM data_keys WHERE owner = ");
        sel.bind(name);
        Ok(match sel.query().fetch_optional(&self.pool).await? {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// A fresh data key for `name` and the statement that stores it
    /// wrapped under the current master key.
    fn fresh_data_key(&self, name: &str) -> Result<(DataKey, Sql), StoreError> {
        let vault = self.vault()?;
        vault.reload();
        let fresh = DataKey::generate().map_err(crypto)?;
        let wrapped = fresh.wrap(&vault.keys(), name).map_err(crypto)?;
        let version = i64::from(wrapped_kek_version(&wrapped).unwrap_or(0));
        let mut ins =
            Sql::new("INSERT INTO data_keys (owner, kek_version, wrapped, created) VALUES (");
        ins.values(vec![
            name.into(),
            version.into(),
            Bind::Bytes(wrapped),
            crate::migrate::now_unix().into(),
        ])
        .push(")");
        Ok((fresh, ins))
    }

    /// The first data key of a new owner (account or user), stored in
    /// `tx`, the transaction that creates the owner: an owner never exists
    /// without its key, nor a key without its owner. Ready to seal the
    /// owner's first fields.
    pub(crate) async fn new_field_key(
        &self,
        tx: &mut WriteTx<'_>,
        owner: &str,
    ) -> Result<FieldKey, StoreError> {
        let (key, ins) = self.fresh_data_key(owner)?;
        ins.query().execute(tx.conn()).await?;
        Ok(FieldKey {
            current: 0,
            keys: Arc::new(HashMap::from([(0, Arc::new(key))])),
        })
    }

    /// Makes the data keys that are missing: the instance's on first open,
    /// and those of accounts and users created by versions that made keys
    /// on first use. Runs when the vault is attached, so reads never write.
    pub(crate) async fn ensure_data_keys(&self) -> Result<u64, StoreError> {
        let missing = format!(
            "SELECT id FROM (SELECT CAST('{INSTANCE}' AS TEXT) AS id UNION ALL SELECT id FROM accounts UNION ALL SELECT id FROM users) o \
             WHERE NOT EXISTS (SELECT 1 FROM data_keys k WHERE k.owner = o.id) \
             AND NOT EXISTS (SELECT 1 FROM data_key_generations g WHERE g.owner = o.id)"
        );
        let rows = sqlx::query(&missing).fetch_all(&self.pool).await?;
        let mut made = 0;
        for r in rows {
            let id: String = r.try_get("id")?;
            self.create_data_key(&id).await?;
            made += 1;
        }
        Ok(made)
    }

    /// A new data key stored wrapped as `name` (or the one another
    /// instance stored first).
    pub(crate) async fn create_data_key(&self, name: &str) -> Result<DataKey, StoreError> {
        let vault = self.vault()?;
        let (_, mut ins) = self.fresh_data_key(name)?;
        ins.push(" ON CONFLICT DO NOTHING");
        let mut tx = self.write_unclaimed().await?;
        ins.query().execute(tx.conn()).await?;
        tx.commit().await?;
        // Another instance may have won the race: use what is stored.
        let stored = self
            .wrapped_key(name)
            .await?
            .ok_or_else(|| StoreError::Crypto(format!("data key {name} vanished")))?;
        vault.unwrap_key(&stored, name)
    }

    /// Sets how long this process trusts cached data keys.
    pub fn set_key_cache_ttl(&self, ttl: Duration) {
        if let Some(v) = &self.vault {
            v.set_cache_ttl(ttl);
        }
    }

    /// An instance-wide secret for `purpose` (derived from the instance
    /// data key, so it survives master key rotation).
    pub async fn instance_secret(&self, purpose: &str) -> Result<Secret<Vec<u8>>, StoreError> {
        self.field_key(INSTANCE).await?.derive(purpose)
    }

    /// The blind index of a normalised value (e.g. a lower-cased email).
    pub async fn blind(&self, normalized: &str) -> Result<String, StoreError> {
        let k = self.instance_secret(BLIND_INDEX).await?;
        Ok(blind_index(&k, normalized))
    }

    /// How many data keys each master key version wraps.
    pub async fn data_key_status(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kek_version, COUNT(*) FROM data_keys GROUP BY kek_version ORDER BY kek_version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Re-wraps up to `batch` data keys that are under an older master key
    /// with the current one. Each key is re-wrapped in its own transaction,
    /// guarded by the version it was read with, so the work can stop at any
    /// point and be resumed, and reads keep working throughout. Returns how
    /// many were re-wrapped.
    pub async fn rewrap_data_keys(&self, batch: i64) -> Result<u64, StoreError> {
        let vault = self.vault()?;
        vault.reload();
        let current = i64::from(vault.keys().current().version);
        let mut sel =
            Sql::new("SELECT owner, kek_version, wrapped FROM data_keys WHERE kek_version < ");
        sel.bind(current).push(" ORDER BY owner LIMIT ").bind(batch);
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut done = 0;
        for r in rows {
            let owner: String = r.try_get("owner")?;
            let old: i64 = r.try_get("kek_version")?;
            let wrapped: Vec<u8> = r.try_get("wrapped")?;
            let key = vault.unwrap_key(&wrapped, &owner)?;
            let rewrapped = key.wrap(&vault.keys(), &owner).map_err(crypto)?;
            let mut tx = self.write().await?;
            let mut up = Sql::new("UPDATE data_keys SET wrapped = ");
            up.bind(Bind::Bytes(rewrapped))
                .push(", kek_version = ")
                .bind(current)
                .push(" WHERE owner = ")
                .bind(owner.as_str())
                .push(" AND kek_version = ")
                .bind(old);
            done += up.query().execute(tx.conn()).await?.rows_affected();
            tx.commit().await?;
        }
        Ok(done)
    }
}
