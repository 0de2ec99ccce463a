//! Figures for the dashboard's overview.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::Sql;
use crate::store::Store;
use crate::Scope;

/// The successful payments of one UTC day in one currency: how many, and
/// what they brought in net of refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotal {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub currency: String,
    pub payments: i64,
    /// Amount paid less amount refunded, in the currency's minor unit.
    pub net: i64,
}

impl Store {
    /// The tenant's successful payments created at or after `since`
    /// (a day's start), summed per day and currency by the database: at
    /// most one row per day and currency whatever the number of payments
    /// (an index on account, mode, status and creation serves the range).
    pub async fn payment_days_since(
        &self,
        scope: &Scope,
        since: i64,
    ) -> Result<Vec<DayTotal>, StoreError> {
        let mut sql = Sql::new(
            "SELECT created / 86400 AS day, currency, COUNT(*) AS payments, \
             CAST(SUM(amount - amount_refunded) AS BIGINT) AS net \
             FROM payment_intents WHERE ",
        );
        sql.scope(scope)
            .push(" AND status = 'succeeded' AND created >= ")
            .bind(since.max(0))
            .push(" GROUP BY created / 86400, currency ORDER BY day, currency");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DayTotal {
                    day: r.try_get("day")?,
                    currency: r.try_get("currency")?,
                    payments: r.try_get("payments")?,
                    net: r.try_get("net")?,
                })
            })
            .collect()
    }
}
