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

use base64::Engine;
use paylink_crypto::envelope::{blind_index, wrapped_kek_version, DataKey, EnvelopeError};
use paylink_crypto::{KeyFile, Secret};
use sqlx::Row;

use crate::db::Store;
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
    cache: Mutex<HashMap<String, Arc<DataKey>>>,
}

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
    StoreError::Corrupt(e.to_string())
}

impl Vault {
    pub fn new(keys: KeyFile, path: Option<PathBuf>) -> Self {
        Self {
            keys: RwLock::new(Arc::new(keys)),
            path,
            cache: Mutex::new(HashMap::new()),
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
}

fn encode(blob: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
    )
}

fn decode(stored: &str) -> Result<Vec<u8>, StoreError> {
    let body = stored
        .strip_prefix(PREFIX)
        .ok_or_else(|| StoreError::Corrupt("a sealed column holds plain text".into()))?;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(body)
        .map_err(|_| StoreError::Corrupt("a sealed column is not base64".into()))
}

/// A data key ready to seal and open one owner's fields.
#[derive(Clone)]
pub struct FieldKey(Arc<DataKey>);

impl FieldKey {
    /// Seals `value` for `place` (`table.column:row`).
    pub fn seal(&self, place: &str, value: &str) -> Result<String, StoreError> {
        Ok(encode(
            &self
                .0
                .seal(value.as_bytes(), place.as_bytes())
                .map_err(crypto)?,
        ))
    }
    pub fn seal_opt(&self, place: &str, value: Option<&str>) -> Result<Option<String>, StoreError> {
        value.map(|v| self.seal(place, v)).transpose()
    }
    /// Opens a sealed column value.
    pub fn open(&self, place: &str, stored: &str) -> Result<String, StoreError> {
        let pt = self
            .0
            .open(&decode(stored)?, place.as_bytes())
            .map_err(|_| StoreError::Corrupt(format!("{place} could not be decrypted")))?;
        String::from_utf8(pt.expose().clone())
            .map_err(|_| StoreError::Corrupt(format!("{place} is not text")))
    }
    pub fn open_opt(
        &self,
        place: &str,
        stored: Option<String>,
    ) -> Result<Option<String>, StoreError> {
        stored.map(|s| self.open(place, &s)).transpose()
    }
}

impl Store {
    fn vault(&self) -> Result<&Arc<Vault>, StoreError> {
        self.vault
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("no keys are loaded for encrypted data".into()))
    }

    /// The data key of `owner`, created (and stored wrapped) on first use.
    /// Never call it inside a write transaction: it may write.
    pub async fn field_key(&self, owner: &str) -> Result<FieldKey, StoreError> {
        let vault = self.vault()?;
        if let Some(k) = lock(&vault.cache).get(owner) {
            return Ok(FieldKey(k.clone()));
        }
        let mut sel = Sql::new("SELECT wrapped FROM data_keys WHERE owner = ");
        sel.bind(owner);
        let row = sel.query().fetch_optional(&self.pool).await?;
        let wrapped: Vec<u8> = match row {
            Some(r) => r.try_get(0)?,
            None => {
                vault.reload();
                let fresh = DataKey::generate().map_err(crypto)?;
                let wrapped = fresh.wrap(&vault.keys(), owner).map_err(crypto)?;
                let version = i64::from(wrapped_kek_version(&wrapped).unwrap_or(0));
                let mut tx = self.write().await?;
                let mut ins = Sql::new(
                    "INSERT INTO data_keys (owner, kek_version, wrapped, created) VALUES (",
                );
                ins.values(vec![
                    owner.into(),
                    version.into(),
                    Bind::Bytes(wrapped),
                    crate::migrate::now_unix().into(),
                ])
                .push(") ON CONFLICT DO NOTHING");
                ins.query().execute(tx.conn()).await?;
                tx.commit().await?;
                // Another instance may have won the race: use what is stored.
                let mut sel = Sql::new("SELECT wrapped FROM data_keys WHERE owner = ");
                sel.bind(owner);
                sel.query().fetch_one(&self.pool).await?.try_get(0)?
            }
        };
        let key = Arc::new(vault.unwrap_key(&wrapped, owner)?);
        lock(&vault.cache).insert(owner.to_string(), key.clone());
        Ok(FieldKey(key))
    }

    /// An instance-wide secret for `purpose` (derived from the instance
    /// data key, so it survives master key rotation).
    pub async fn instance_secret(&self, purpose: &str) -> Result<Secret<Vec<u8>>, StoreError> {
        Ok(self.field_key(INSTANCE).await?.0.derive(purpose))
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
