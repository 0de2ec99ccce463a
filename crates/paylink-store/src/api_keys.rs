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
}

const COLS: &str = "id, account_id, livemode, kind, key_hash, last4, created, expires_at, revoked_at, (SELECT ip_allowlist FROM accounts a WHERE a.id = api_keys.account_id) AS ip_allowlist";

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
        let usable = rec.revoked_at.is_none() && rec.expires_at.is_none_or(|e| now < e);
        Ok(usable.then_some(rec))
    }

    /// Creates a key of `kind` for `scope`: stores only its keyed hash and
    /// returns the id and the plaintext (to show once).
    pub async fn create_api_key(
        &self,
        scope: &Scope,
        kind: paylink_crypto::ApiKeyKind,
        pepper: &paylink_crypto::Secret<Vec<u8>>,
        now: i64,
    ) -> Result<(String, paylink_crypto::PlaintextApiKey), StoreError> {
        let mode = if scope.livemode {
            paylink_crypto::Mode::Live
        } else {
            paylink_crypto::Mode::Test
        };
        let secret = paylink_crypto::PlaintextApiKey::generate(kind, mode)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = paylink_domain::id::generate(paylink_domain::IdKind::ApiKey)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = secret.hash(pepper);
        self.insert_api_key(NewApiKey {
            id: &id,
            scope,
            kind: kind.as_str(),
            key_hash: &hash.0,
            last4: &secret.last4(),
            created: now,
        })
        .await?;
        Ok((id, secret))
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
        Ok(n == 1)
    }
}
