//! Idempotency records: the first response to a POST with an
//! `Idempotency-Key`, replayed byte for byte to retries within 24 hours.

use sqlx::Row;

use crate::db::Store;
use crate::error::StoreError;
use crate::list::{Bind, Sql};
use crate::Scope;

/// How long a record is honoured and kept.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// The outcome of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: run the request, then [`Store::finish_idempotency`].
    Fresh,
    /// The same request finished before: replay this response.
    Replay { status: u16, body: Vec<u8> },
    /// The same key is still being processed by another request.
    InFlight,
    /// The key was used with different parameters.
    Mismatch,
}

impl Store {
    /// Claims `key` for a request whose fingerprint is `request_hash`.
    /// Records older than the TTL are treated as absent and replaced.
    pub async fn claim_idempotency(
        &self,
        scope: &Scope,
        key: &str,
        request_hash: &str,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let mut tx = self.write().await?;
        let mut del = Sql::new("DELETE FROM idempotency_keys WHERE ");
        del.scope(scope)
            .push(" AND idem_key = ")
            .bind(key)
            .push(" AND created <= ")
            .bind(now - IDEMPOTENCY_TTL_SECS);
        del.query().execute(tx.conn()).await?;
        let mut ins = Sql::new("INSERT INTO idempotency_keys (account_id, livemode, idem_key, request_hash, state, created) VALUES (");
        ins.values(vec![
            scope.account_id.as_str().into(),
            scope.livemode.into(),
            key.into(),
            request_hash.into(),
            "in_flight".into(),
            now.into(),
        ])
        .push(") ON CONFLICT DO NOTHING");
        let inserted = ins.query().execute(tx.conn()).await?.rows_affected() == 1;
        if inserted {
            tx.commit().await?;
            return Ok(Claim::Fresh);
        }
        let mut sel =
            Sql::new("SELECT request_hash, state, status, body FROM idempotency_keys WHERE ");
        sel.scope(scope).push(" AND idem_key = ").bind(key);
        let row = sel.query().fetch_one(tx.conn()).await?;
        tx.commit().await?;
        // A request still running holds the key whatever its parameters.
        let state: String = row.try_get("state")?;
        if state == "in_flight" {
            return Ok(Claim::InFlight);
        }
        let stored_hash: String = row.try_get("request_hash")?;
        if !paylink_crypto::ct_eq(stored_hash.as_bytes(), request_hash.as_bytes()) {
            return Ok(Claim::Mismatch);
        }
        let status: i64 = row.try_get("status")?;
        let body: Vec<u8> = row.try_get("body")?;
        Ok(Claim::Replay {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
            body,
        })
    }

    /// Stores the response of a claimed key.
    pub async fn finish_idempotency(
        &self,
        scope: &Scope,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut sql = Sql::new("UPDATE idempotency_keys SET state = 'done', status = ");
        sql.bind(i64::from(status))
            .push(", body = ")
            .bind(Bind::Bytes(body.to_vec()));
        sql.push(" WHERE ")
            .scope(scope)
            .push(" AND idem_key = ")
            .bind(key);
        sql.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a claimed key (the request failed before producing a result
    /// worth replaying, e.g. a server error), so a retry runs again.
    pub async fn release_idempotency(&self, scope: &Scope, key: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut sql = Sql::new("DELETE FROM idempotency_keys WHERE ");
        sql.scope(scope)
            .push(" AND idem_key = ")
            .bind(key)
            .push(" AND state = 'in_flight'");
        sql.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes records older than the TTL. Returns how many went.
    pub async fn purge_idempotency(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut sql = Sql::new("DELETE FROM idempotency_keys WHERE created <= ");
        sql.bind(now - IDEMPOTENCY_TTL_SECS);
        let n = sql.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// How many records are older than the TTL (due for purge).
    pub async fn idempotency_due(&self, now: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM idempotency_keys WHERE created <= ");
        sql.bind(now - IDEMPOTENCY_TTL_SECS);
        Ok(sql
            .query()
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>(0)?)
    }
}
