//! Payments (payment intents) recorded by completed sessions.

use paylink_domain::checkout::PaymentIntent;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::{currency_of, metadata_of};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, Bind, Sql};
use crate::store::Store;
use crate::Scope;

pub(super) const PI_COLS: &str = "id, livemode, created, amount, amount_refunded, currency, status, card_brand, card_last4, customer_id, checkout_session_id, payment_link_id, metadata, last_payment_error, description, statement_descriptor, canceled_at";

const PAYMENT_INTENTS: crate::db::Table = crate::db::Table::new("payment_intents", PI_COLS);

pub(super) fn pi_of(row: &AnyRow) -> Result<PaymentIntent, StoreError> {
    let currency: String = row.try_get("currency")?;
    Ok(PaymentIntent {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        amount: row.try_get("amount")?,
        amount_refunded: row.try_get("amount_refunded")?,
        currency: currency_of(&currency)?,
        status: row.try_get("status")?,
        card_brand: row.try_get("card_brand")?,
        card_last4: row.try_get("card_last4")?,
        customer: row.try_get("customer_id")?,
        checkout_session: row.try_get("checkout_session_id")?,
        payment_link: super::sessions::link_of_row(row)?,
        metadata: metadata_of(row)?,
        last_payment_error: row
            .try_get::<Option<String>, _>("last_payment_error")?
            .map(|e| serde_json::from_str(&e))
            .transpose()?,
        description: row.try_get("description")?,
        statement_descriptor: row.try_get("statement_descriptor")?,
        canceled_at: row.try_get("canceled_at")?,
    })
}

impl Store {
    /// Payment intent `id` as the API renders it, read inside `tx` (what
    /// its events carry).
    pub(super) async fn payment_intent_object(
        &self,
        tx: &mut crate::db::WriteTx<'_>,
        scope: &Scope,
        id: &str,
    ) -> Result<serde_json::Value, StoreError> {
        let row = Sql::select_one(PI_COLS, "payment_intents", scope, id)
            .fetch_row(tx.conn())
            .await?;
        Ok(self.renderer().payment_intent(&pi_of(&row)?))
    }

    /// Changes what the merchant may change on a payment: its description
    /// and metadata.
    pub async fn update_payment_intent(
        &self,
        scope: &Scope,
        id: &str,
        change: impl FnOnce(&mut PaymentIntent) -> Result<(), paylink_domain::catalog::RuleError>,
    ) -> Result<PaymentIntent, StoreError> {
        self.modify(&PAYMENT_INTENTS, scope, id, pi_of, change, |p| {
            Ok(crate::sql::Update::new("payment_intents")
                .set("description", p.description.clone())
                .set("metadata", serde_json::to_string(&p.metadata)?))
        })
        .await
    }

    pub async fn get_payment_intent(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<PaymentIntent, StoreError> {
        let sql = Sql::select_one(PI_COLS, "payment_intents", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        pi_of(&row)
    }

    /// The provider and its reference for a payment.
    pub async fn payment_provider_ref(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(String, String), StoreError> {
        let mut sql = Sql::new("SELECT provider, provider_ref FROM payment_intents WHERE ");
        sql.scope(scope).push(" AND id = ").bind(id);
        let row = sql.fetch_row(&self.pool).await?;
        Ok((row.try_get("provider")?, row.try_get("provider_ref")?))
    }

    pub async fn list_payment_intents(
        &self,
        scope: &Scope,
        customer: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<PaymentIntent>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(c) = customer {
            filters.push(("customer_id", c.into()));
        }
        self.list_rows("payment_intents", PI_COLS, scope, &filters, q, pi_of)
            .await
    }
}
