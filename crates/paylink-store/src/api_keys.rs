//! API keys, stored only as a keyed hash. Lookup is one indexed equality on
//! the hash; the hash match is then re-checked in constant time.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{get_bool, Insert, Sql};
use crate::store::Store;
use crate::Scope;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub account_id: String,
    pub livemode: bool,
    pub kind: String,
    pub last4: String,
    pub created: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The account's IP allowlist (CIDR ranges; empty: everywhere), read
    /// with the key so that authentication costs one query.
    pub ip_allowlist: String,
    /// A restricted key's permissions (`products=write,refunds=read`).
    pub permissions: Option<String>,
    pub name: Option<String>,
    pub created_by: Option<String>,
    /// CIDR ranges (space-separated) the key may be used from.
    pub allowed_ips: Option<String>,
    /// When it was last used (to within the flush interval).
    pub last_used: Option<i64>,
    /// The key this one replaced.
    pub rolled_from: Option<String>,
}

/// How long a key looked up is kept in memory: a change made through this
/// process (revoke, roll, the account's allowlist) clears it at once; one
/// made elsewhere (another instance, the CLI) shows within this long.
/// Expiry is checked at every request against the record.
pub const KEY_CACHE_MILLIS: u64 = 1_000;

/// Entries at most (a flood of valid keys can't grow it without bound).
const KEY_CACHE_MAX: usize = 10_000;

/// Key records by hash, each with when it was read.
#[derive(Default)]
pub struct KeyCache(
    std::sync::Mutex<std::collections::HashMap<String, (ApiKeyRecord, std::time::Instant)>>,
);

impl KeyCache {
    fn get(&self, hash: &str) -> Option<ApiKeyRecord> {
        let m = self.0.lock().ok()?;
        let (rec, at) = m.get(hash)?;
        (at.elapsed() < std::time::Duration::from_millis(KEY_CACHE_MILLIS)).then(|| rec.clone())
    }
    fn put(&self, hash: &str, rec: &ApiKeyRecord) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= KEY_CACHE_MAX {
                m.clear();
            }
            m.insert(hash.to_string(), (rec.clone(), std::time::Instant::now()));
        }
    }
    /// Forgets every key (after a change to any).
    pub fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

impl ApiKeyRecord {
    /// Neither revoked nor expired at `now`.
    pub fn active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

const COLS: &str = "id, account_id, livemode, kind, key_hash, last4, created, expires_at, revoked_at, permissions, name, created_by, allowed_ips, last_used, rolled_from, (SELECT ip_allowlist FROM accounts a WHERE a.id = api_keys.account_id) AS ip_allowlist";

fn key_of(row: &sqlx::any::AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        livemode: get_bool(row, "livemode")?,
        kind: row.try_get("kind")?,
        last4: row.try_get("last4")?,
        created: row.try_get("created")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        ip_allowlist: row.try_get("ip_allowlist")?,
        permissions: row.try_get("permissions")?,
        name: row.try_get("name")?,
        created_by: row.try_get("created_by")?,
        allowed_ips: row.try_get("allowed_ips")?,
        last_used: row.try_get("last_used")?,
        rolled_from: row.try_get("rolled_from")?,
    })
}

/// A new key row; `key_hash` is the HMAC of the plaintext, never the key.
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub scope: &'a Scope,
    pub kind: &'a str,
    pub key_hash: &'a str,
    pub last4: &'a str,
    pub created: i64,
    pub permissions: Option<&'a str>,
    pub name: Option<&'a str>,
    pub created_by: &'a str,
    pub allowed_ips: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub rolled_from: Option<&'a str>,
}

/// What kind of key to make, for whom.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec<'a> {
    pub kind: paylink_crypto::ApiKeyKind,
    /// A restricted key's permissions (`products=write,…`).
    pub permissions: Option<&'a str>,
    pub name: Option<&'a str>,
    /// Who makes it (`user:…`, `cli`).
    pub created_by: &'a str,
    /// CIDR ranges (space-separated) it may be used from.
    pub allowed_ips: Option<&'a str>,
    /// When it stops working.
    pub expires_at: Option<i64>,
}

impl KeySpec<'_> {
    /// A secret key made by `created_by`.
    pub fn secret(created_by: &str) -> KeySpec<'_> {
        KeySpec {
            kind: paylink_crypto::ApiKeyKind::Secret,
            permissions: None,
            name: None,
            created_by,
            allowed_ips: None,
            expires_at: None,
        }
    }
}

impl Store {
    pub async fn insert_api_key(&self, k: NewApiKey<'_>) -> Result<(), StoreError> {
        let sql = Insert::new("api_keys")
            .set("id", k.id)
            .set("account_id", k.scope.account_id.as_str())
            .set("livemode", k.scope.livemode)
            .set("kind", k.kind)
            .set("key_hash", k.key_hash)
            .set("last4", k.last4)
            .set("created", k.created)
            .set("permissions", k.permissions)
            .set("name", k.name)
            .set("created_by", k.created_by)
            .set("allowed_ips", k.allowed_ips)
            .set("expires_at", k.expires_at)
            .set("rolled_from", k.rolled_from)
            .sql();
        self.write_one(&sql).await?;
        Ok(())
    }

    /// Finds the key whose hash is `key_hash`, if it is neither revoked nor
    /// expired at `now`.
    pub async fn find_api_key(
        &self,
        key_hash: &str,
        now: i64,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        if let Some(rec) = self.keys.get(key_hash) {
            return Ok(rec.active(now).then_some(rec));
        }
        let mut sql = Sql::new(&format!("SELECT {COLS} FROM api_keys WHERE key_hash = "));
        sql.bind(key_hash);
        let Some(row) = sql.query().fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let stored: String = row.try_get("key_hash")?;
        if !paylink_crypto::ct_eq(stored.as_bytes(), key_hash.as_bytes()) {
            return Ok(None);
        }
        let rec = key_of(&row)?;
        self.keys.put(key_hash, &rec);
        let usable = rec.active(now);
        Ok(usable.then_some(rec))
    }

    /// Creates a key as `spec` says for `scope`: stores only its keyed
    /// hash and returns the id and the plaintext (to show once).
    pub async fn create_api_key(
        &self,
        scope: &Scope,
        spec: KeySpec<'_>,
        pepper: &paylink_crypto::Secret<Vec<u8>>,
        now: i64,
    ) -> Result<(String, paylink_crypto::PlaintextApiKey), StoreError> {
        let mode = if scope.livemode {
            paylink_crypto::Mode::Live
        } else {
            paylink_crypto::Mode::Test
        };
        let secret = paylink_crypto::PlaintextApiKey::generate(spec.kind, mode)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = paylink_domain::id::generate(paylink_domain::IdKind::ApiKey)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = secret.hash(pepper);
        self.insert_api_key(NewApiKey {
            id: &id,
            scope,
            kind: spec.kind.as_str(),
            key_hash: &hash.0,
            last4: &secret.last4(),
            created: now,
            permissions: spec.permissions,
            name: spec.name,
            created_by: spec.created_by,
            allowed_ips: spec.allowed_ips,
            expires_at: spec.expires_at,
            rolled_from: None,
        })
        .await?;
        Ok((id, secret))
    }

    /// One of the account's keys.
    pub async fn get_api_key(&self, scope: &Scope, id: &str) -> Result<ApiKeyRecord, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLS} FROM api_keys WHERE "));
        sql.scope(scope).push(" AND id = ").bind(id);
        key_of(&sql.fetch_row(&self.pool).await?)
    }

    /// Rolls the active key `id`: a new key of the same kind, permissions,
    /// name and IP ranges is issued, and the old one keeps working until
    /// `old_until` (at once if that is not after `now`; never longer than
    /// it would have). One transaction; returns the new id and plaintext.
    pub async fn roll_api_key(
        &self,
        scope: &Scope,
        id: &str,
        created_by: &str,
        pepper: &paylink_crypto::Secret<Vec<u8>>,
        now: i64,
        old_until: i64,
    ) -> Result<(String, paylink_crypto::PlaintextApiKey), StoreError> {
        let old = self.get_api_key(scope, id).await?;
        if !old.active(now) {
            return Err(StoreError::NotFound);
        }
        let kind = paylink_crypto::ApiKeyKind::parse(&old.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("key kind {}", old.kind)))?;
        let mode = if scope.livemode {
            paylink_crypto::Mode::Live
        } else {
            paylink_crypto::Mode::Test
        };
        let secret = paylink_crypto::PlaintextApiKey::generate(kind, mode)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let new_id = paylink_domain::id::generate(paylink_domain::IdKind::ApiKey)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = secret.hash(pepper);
        let until = old
            .expires_at
            .map_or(old_until, |e| e.min(old_until))
            .max(now);
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE api_keys SET expires_at = ");
        up.bind(until)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ")
            .bind(now)
            .push(")");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        Insert::new("api_keys")
            .set("id", new_id.as_str())
            .set("account_id", scope.account_id.as_str())
            .set("livemode", scope.livemode)
            .set("kind", old.kind.as_str())
            .set("key_hash", hash.0.as_str())
            .set("last4", secret.last4())
            .set("created", now)
            .set("permissions", old.permissions.clone())
            .set("name", old.name.clone())
            .set("created_by", created_by)
            .set("allowed_ips", old.allowed_ips.clone())
            .set("rolled_from", id)
            .sql()
            .query()
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        self.keys.clear();
        Ok((new_id, secret))
    }

    /// Records when keys were last used (the API's batched record of its
    /// requests): each `(id, time)` only moves a key's time forward.
    pub async fn touch_api_keys(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_carried().await?;
        for (id, t) in used {
            let mut up = Sql::new("UPDATE api_keys SET last_used = ");
            up.bind(*t)
                .push(" WHERE id = ")
                .bind(id.as_str())
                .push(" AND (last_used IS NULL OR last_used < ")
                .bind(*t)
                .push(")");
            up.query().execute(tx.conn()).await?;
        }
        tx.commit().await
    }

    /// The account's keys in one mode, newest first.
    pub async fn list_api_keys(&self, scope: &Scope) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLS} FROM api_keys WHERE "));
        sql.scope(scope).push(" ORDER BY created DESC, id");
        sql.query()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_of)
            .collect()
    }

    /// Revokes one of the account's keys (at once; it stops working).
    pub async fn revoke_api_key(
        &self,
        scope: &Scope,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::new("UPDATE api_keys SET revoked_at = ");
        sql.bind(now).push(" WHERE ");
        sql.scope(scope)
            .push(" AND id = ")
            .bind(id)
            .push(" AND revoked_at IS NULL");
        let n = self.write_one(&sql).await?;
        self.keys.clear();
        Ok(n == 1)
    }
}
