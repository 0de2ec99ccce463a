//! Figures for the dashboard's overview.

use sqlx::Row;

use crate::error::StoreError;
use crate::sql::Sql;
use crate::store::Store;
use crate::Scope;

/// One successful payment: when, how much, in which currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPoint {
    pub created: i64,
    pub amount: i64,
    pub amount_refunded: i64,
    pub currency: String,
}

impl Store {
    /// The tenant's successful payments created at or after `since`.
    pub async fn payments_since(
        &self,
        scope: &Scope,
        since: i64,
    ) -> Result<Vec<PaymentPoint>, StoreError> {
        let mut sql = Sql::new(
            "SELECT created, amount, amount_refunded, currency FROM payment_intents WHERE ",
        );
        sql.scope(scope)
            .push(" AND status = 'succeeded' AND created >= ")
            .bind(since)
            .push(" ORDER BY created");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(PaymentPoint {
                    created: r.try_get("created")?,
                    amount: r.try_get("amount")?,
                    amount_refunded: r.try_get("amount_refunded")?,
                    currency: r.try_get("currency")?,
                })
            })
            .collect()
    }
}
