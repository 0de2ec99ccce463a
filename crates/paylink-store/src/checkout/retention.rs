//! What the retention rules erase: abandoned checkouts' buyer details and
//! processed provider events.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::Sql;
use crate::store::Store;

impl Store {
    /// Sessions that expired before `cutoff` whose buyer details are still
    /// held (abandoned checkouts due for erasure).
    pub async fn abandoned_due(&self, cutoff: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM checkout_sessions WHERE status = 'expired' AND redacted = 0 AND expires_at <= ");
        sql.bind(cutoff);
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Erases the buyer details of abandoned checkouts that expired before
    /// `cutoff` (at most 500 a call). Returns how many.
    pub async fn purge_abandoned(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut sel = Sql::new("SELECT account_id, id FROM checkout_sessions WHERE status = 'expired' AND redacted = 0 AND expires_at <= ");
        sel.bind(cutoff).push(" ORDER BY account_id LIMIT 500");
        let rows = sel.query().fetch_all(&self.pool).await?;
        let mut done = 0;
        for r in rows {
            let account: String = r.try_get("account_id")?;
            let id: String = r.try_get("id")?;
            let k = self.field_key(&account).await?;
            let none = k.seal(&format!("checkout_sessions.custom_fields:{id}"), "[]")?;
            let mut tx = self.write().await?;
            let mut up = Sql::new(super::ERASE_BUYER);
            up.bind(none)
                .push(" WHERE account_id = ")
                .bind(account.as_str())
                .push(" AND id = ")
                .bind(id.as_str())
                .push(" AND status = 'expired' AND redacted = 0");
            done += up.query().execute(tx.conn()).await?.rows_affected();
            let mut del = Sql::new("DELETE FROM first_time_claims WHERE account_id = ");
            del.bind(account.as_str())
                .push(" AND session_id = ")
                .bind(id.as_str());
            del.query().execute(tx.conn()).await?;
            tx.commit().await?;
        }
        Ok(done)
    }

    /// Processed provider events received before `cutoff`.
    pub async fn provider_events_due(&self, cutoff: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) FROM provider_events WHERE received <= ");
        sql.bind(cutoff);
        Ok(sql.query().fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Forgets provider events received before `cutoff`. A provider retries
    /// for days, not weeks, so a month covers every redelivery.
    pub async fn purge_provider_events(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut del = Sql::new("DELETE FROM provider_events WHERE received <= ");
        del.bind(cutoff);
        let n = del.query().execute(tx.conn()).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
