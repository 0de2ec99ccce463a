//! The store's data keys: an owner's keys read (and cached) for sealing
//! and opening its fields, made in the transaction that creates the owner
//! or when the vault is attached, never on a read; re-wrapped under a new
//! master key version.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use paylink_crypto::envelope::{blind_index, DataKey};
use paylink_crypto::Secret;
use sqlx::Row;

use crate::db::WriteTx;
use crate::error::StoreError;
use crate::sql::{Bind, Insert, Sql};
use crate::store::Store;
use crate::vault::{generation_owner, FieldKey, BLIND_INDEX, INSTANCE};

impl Store {
    /// The data keys of `owner` (every readable generation). Cached for
    /// [`crate::vault::KEY_CACHE_TTL`]. It only reads: an owner's first key is made in
    /// the transaction that creates the owner ([`Store::new_field_key`]),
    /// the instance key when the vault is attached ([`crate::Database::with_vault`]).
    pub async fn field_key(&self, owner: &str) -> Result<FieldKey, StoreError> {
        let vault = &self.vault;
        if let Some(k) = vault.cached(owner) {
            return Ok(k);
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
        let key = FieldKey::new(current, keys);
        vault.remember(owner, &key);
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
        let (fresh, wrapped, version) = self.vault.fresh_key(name)?;
        let ins = Insert::new("data_keys")
            .set("owner", name)
            .set("kek_version", version)
            .set("wrapped", Bind::Bytes(wrapped))
            .set("created", crate::migrate::now_unix())
            .sql();
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
        Ok(FieldKey::new(0, HashMap::from([(0, Arc::new(key))])))
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
        self.vault.unwrap_key(&stored, name)
    }

    /// Sets how long this process trusts cached data keys.
    pub fn set_key_cache_ttl(&self, ttl: Duration) {
        self.vault.set_cache_ttl(ttl);
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
        let current = self.vault.current_version();
        let mut sel =
            Sql::new("SELECT owner, kek_version, wrapped FROM data_keys WHERE kek_version < ");
        sel.bind(current).push(" ORDER BY owner LIMIT ").bind(batch);
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut done = 0;
        for r in rows {
            let owner: String = r.try_get("owner")?;
            let old: i64 = r.try_get("kek_version")?;
            let wrapped: Vec<u8> = r.try_get("wrapped")?;
            let (rewrapped, version) = self.vault.rewrap(&wrapped, &owner)?;
            let mut tx = self.write().await?;
            let mut up = Sql::new("UPDATE data_keys SET wrapped = ");
            up.bind(Bind::Bytes(rewrapped))
                .push(", kek_version = ")
                .bind(version)
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
