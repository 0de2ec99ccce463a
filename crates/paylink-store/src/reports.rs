//! Figures for the dashboard's overview.

use sqlx::Row;

use crate::db::WriteTx;
use crate::error::StoreError;
use crate::sql::{Insert, Sql};
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

/// Adds to the daily totals of the payments created at `created` in
/// `currency` (a new payment: one payment and its amount; a refund: no
/// payment and minus its amount; a failed refund gives it back), inside
/// the transaction that changes the payment, so the totals are always
/// those of the payments.
pub(crate) async fn add_to_day(
    tx: &mut WriteTx<'_>,
    scope: &Scope,
    created: i64,
    currency: &str,
    payments: i64,
    net: i64,
) -> Result<(), StoreError> {
    let mut sql = Insert::new("payment_days")
        .set("account_id", scope.account_id.as_str())
        .set("livemode", scope.livemode)
        .set("day", created.div_euclid(86_400))
        .set("currency", currency)
        .set("payments", payments)
        .set("net", net)
        .sql();
    sql.push(
        " ON CONFLICT (account_id, livemode, day, currency) DO UPDATE SET \
         payments = payment_days.payments + excluded.payments, \
         net = payment_days.net + excluded.net",
    );
    sql.query().execute(tx.conn()).await?;
    Ok(())
}

fn day_total(r: &sqlx::any::AnyRow) -> Result<DayTotal, StoreError> {
    Ok(DayTotal {
        day: r.try_get("day")?,
        currency: r.try_get("currency")?,
        payments: r.try_get("payments")?,
        net: r.try_get("net")?,
    })
}

impl Store {
    /// The tenant's successful payments created at or after `since`
    /// (a day's start), per day and currency: the daily totals kept beside
    /// the payments, at most one row per day and currency whatever the
    /// number of payments.
    pub async fn payment_days_since(
        &self,
        scope: &Scope,
        since: i64,
    ) -> Result<Vec<DayTotal>, StoreError> {
        let mut sql = Sql::new("SELECT day, currency, payments, net FROM payment_days WHERE ");
        sql.scope(scope)
            .push(" AND day >= ")
            .bind(since.div_euclid(86_400))
            .push(" ORDER BY day, currency");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(day_total).collect()
    }

    /// The same totals counted from the payments themselves (a check that
    /// the kept totals are right; not for pages).
    pub async fn payment_days_counted(&self, scope: &Scope) -> Result<Vec<DayTotal>, StoreError> {
        let mut sql = Sql::new(
            "SELECT created / 86400 AS day, currency, COUNT(*) AS payments, \
             CAST(SUM(amount - amount_refunded) AS BIGINT) AS net \
             FROM payment_intents WHERE ",
        );
        sql.scope(scope).push(
            " AND status = 'succeeded' GROUP BY created / 86400, currency ORDER BY day, currency",
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(day_total).collect()
    }
}
