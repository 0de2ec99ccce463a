//! Idempotency records: the first response to a POST with an
//! `Idempotency-Key`, replayed byte for byte to retries within 24 hours.
//!
//! A response may hold a buyer's personal data (stripe-python sends a key
//! on every POST), so it is kept sealed under the account's data key, like
//! every other personal field, and redaction replaces the responses that
//! mention the erased customer (see [`Store::erase_idempotent_mentions`]).

use sqlx::Row;

use crate::db::Store;
use crate::error::StoreError;
use crate::list::Sql;
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

/// Where a stored response is sealed (the row's key columns, as key
/// rotation finds them).
fn body_place(scope: &Scope, key: &str) -> String {
    format!(
        "idempotency_keys.sealed_body:{}:{}:{key}",
        scope.account_id,
        scope.livemode_i64()
    )
}

/// What a retry gets after the stored response was erased with the
/// customer it named: an error, never the work done a second time.
const ERASED: &str = r#"{"error":{"type":"idempotency_error","code":"idempotency_key_in_use","message":"The response stored for this idempotency key named personal data that has since been erased, so it can't be replayed. The request was not run again."}}"#;

impl Store {
    /// Replaces every stored response of `account_id` (both modes) that
    /// contains one of `needles` (a customer's id, email, name, phone) by
    /// an [`ERASED`] error, sealed like the rest. Returns how many.
    pub async fn erase_idempotent_mentions(
        &self,
        account_id: &str,
        needles: &[String],
    ) -> Result<u64, StoreError> {
        // Each value as written, and as JSON escapes it inside a string.
        let mut spellings: Vec<String> = Vec::new();
        for n in needles.iter().filter(|n| n.len() >= 3) {
            spellings.push(n.clone());
            if let Some(q) = serde_json::to_string(n)
                .ok()
                .and_then(|q| q.get(1..q.len().saturating_sub(1)).map(str::to_string))
                .filter(|q| q != n)
            {
                spellings.push(q);
            }
        }
        if spellings.is_empty() {
            return Ok(0);
        }
        let k = self.field_key(account_id).await?;
        let mut sel = Sql::new(
            "SELECT livemode, idem_key, sealed_body FROM idempotency_keys WHERE account_id = ",
        );
        sel.bind(account_id).push(" AND sealed_body IS NOT NULL");
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut erased = 0;
        for r in rows {
            let scope = Scope {
                account_id: account_id.to_string(),
                livemode: crate::list::get_bool(&r, "livemode")?,
            };
            let key: String = r.try_get("idem_key")?;
            let sealed: String = r.try_get("sealed_body")?;
            let place = body_place(&scope, &key);
            let plain = k.open(&place, &sealed)?;
            if !spellings.iter().any(|n| plain.contains(n.as_str())) {
                continue;
            }
            let tomb = k.seal(&place, ERASED)?;
            let mut up = Sql::new("UPDATE idempotency_keys SET status = 400, sealed_body = ");
            up.bind(tomb)
                .push(" WHERE ")
                .scope(&scope)
                .push(" AND idem_key = ")
                .bind(key.as_str());
            erased += self.write_one(&up).await?;
        }
        Ok(erased)
    }

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
        let mut sel = Sql::new(
            "SELECT request_hash, state, status, sealed_body FROM idempotency_keys WHERE ",
        );
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
        let sealed: String = row.try_get("sealed_body")?;
        let body = self
            .field_key(&scope.account_id)
            .await?
            .open(&body_place(scope, key), &sealed)?
            .into_bytes();
        Ok(Claim::Replay {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
            body,
        })
    }

    /// Stores the response of a claimed key, sealed.
    pub async fn finish_idempotency(
        &self,
        scope: &Scope,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        // Our responses are JSON; anything else is kept lossily as text.
        let text = String::from_utf8_lossy(body);
        let sealed = self
            .field_key(&scope.account_id)
            .await?
            .seal(&body_place(scope, key), &text)?;
        let mut tx = self.write().await?;
        let mut sql = Sql::new("UPDATE idempotency_keys SET state = 'done', status = ");
        sql.bind(i64::from(status))
            .push(", body = NULL, sealed_body = ")
            .bind(sealed);
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
