//! Refunds: the amount reserved under the payment's row lock, pending
//! until the provider confirms.

use paylink_domain::catalog::{Metadata, RuleError};
use paylink_domain::checkout::Refund;
use paylink_domain::Currency;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::catalog::{currency_of, metadata_of};
use crate::db::{Table, WriteTx};
use crate::error::StoreError;
use crate::list::{ListQuery, Page};
use crate::sql::{get_bool, Bind, Insert, Sql};
use crate::store::Store;
use crate::Scope;

use super::json;
use super::payments::{pi_of, PI_COLS};

const PAYMENT_INTENTS: Table = Table::new("payment_intents", PI_COLS);
const REFUND_COLS: &str =
    "id, livemode, created, payment_intent_id, amount, currency, reason, status, metadata";

fn refund_of(row: &AnyRow) -> Result<Refund, StoreError> {
    let currency: String = row.try_get("currency")?;
    Ok(Refund {
        id: row.try_get("id")?,
        livemode: get_bool(row, "livemode")?,
        created: row.try_get("created")?,
        payment_intent: row.try_get("payment_intent_id")?,
        amount: row.try_get("amount")?,
        currency: currency_of(&currency)?,
        reason: row.try_get("reason")?,
        status: row.try_get("status")?,
        metadata: metadata_of(row)?,
    })
}

/// A refund to begin.
pub struct NewRefund<'a> {
    pub payment_intent: &'a str,
    /// `None` refunds all that is left.
    pub amount: Option<i64>,
    pub reason: Option<&'a str>,
    pub refund_id: &'a str,
    pub metadata: &'a Metadata,
    pub now: i64,
}

impl Store {
    /// Reserves the amount of a payment for a refund (under the payment's
    /// row lock, so concurrent refunds can't exceed it) and records the
    /// refund as pending.
    pub async fn begin_refund(
        &self,
        scope: &Scope,
        r: NewRefund<'_>,
    ) -> Result<Refund, StoreError> {
        let NewRefund {
            payment_intent,
            amount,
            reason,
            refund_id,
            metadata,
            now,
        } = r;
        let mut tx = self.write().await?;
        let (amount, currency) = self
            .reserve_refund(&mut tx, scope, payment_intent, amount)
            .await?;
        let refund = Refund {
            id: refund_id.to_string(),
            livemode: scope.livemode,
            created: now,
            payment_intent: payment_intent.to_string(),
            amount,
            currency,
            reason: reason.map(str::to_string),
            status: "pending".into(),
            metadata: metadata.clone(),
        };
        crate::idempotency::note_created(&format!("/v1/refunds/{}", refund.id));
        let ins = Insert::new("refunds")
            .set("account_id", scope.account_id.as_str())
            .set("id", refund.id.as_str())
            .set("livemode", refund.livemode)
            .set("created", now)
            .set("payment_intent_id", payment_intent)
            .set("amount", amount)
            .set("currency", currency.code())
            .set("reason", refund.reason.clone())
            .set("status", "pending")
            .set("metadata", json(metadata)?)
            .sql();
        ins.query().execute(tx.conn()).await?;
        let object = self.renderer().refund(&refund);
        self.emit_change(&mut tx, scope, "refund.created", None, object)
            .await?;
        tx.commit().await?;
        Ok(refund)
    }

    /// Takes `amount` (all that is left, if `None`) from what the payment
    /// can still refund, under the payment's row lock, so that concurrent
    /// refunds can't exceed it. The amount taken and its currency.
    async fn reserve_refund(
        &self,
        tx: &mut WriteTx<'_>,
        scope: &Scope,
        payment_intent: &str,
        amount: Option<i64>,
    ) -> Result<(i64, Currency), StoreError> {
        let row = self
            .select_one_for_update(&PAYMENT_INTENTS, scope, payment_intent)
            .fetch_row(tx.conn())
            .await?;
        let pi = pi_of(&row)?;
        let amount = paylink_domain::checkout::refund_amount(&pi, amount)
            .map_err(|m| RuleError::new("amount", m))?;
        let mut up = Sql::new("UPDATE payment_intents SET amount_refunded = amount_refunded + ");
        up.bind(amount)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(payment_intent)
            .push(" AND amount_refunded + ")
            .bind(amount)
            .push(" <= amount");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Err(RuleError::new(
                "amount",
                "The refund amount is greater than what can still be refunded.",
            )
            .into());
        }
        crate::reports::add_to_day(tx, scope, pi.created, pi.currency.code(), 0, -amount).await?;
        Ok((amount, pi.currency))
    }

    /// Settles a pending refund: succeeded with the provider's refund id,
    /// or failed (the amount can be refunded again). Only a refund still
    /// pending changes, so the request that began it and the reconciler
    /// may both try; the refund as it now stands is returned.
    pub async fn finish_refund(
        &self,
        scope: &Scope,
        refund: &Refund,
        provider_ref: Option<&str>,
    ) -> Result<Refund, StoreError> {
        let mut tx = self.write().await?;
        let status = if provider_ref.is_some() {
            "succeeded"
        } else {
            "failed"
        };
        let mut up = Sql::new("UPDATE refunds SET status = ");
        up.bind(status)
            .push(", provider_ref = ")
            .bind(provider_ref)
            .push(" WHERE ")
            .scope(scope)
            .push(" AND id = ")
            .bind(refund.id.as_str())
            .push(" AND status = 'pending'");
        let changed = up.query().execute(tx.conn()).await?.rows_affected() == 1;
        if changed && provider_ref.is_none() {
            let mut back =
                Sql::new("UPDATE payment_intents SET amount_refunded = amount_refunded - ");
            back.bind(refund.amount)
                .push(" WHERE ")
                .scope(scope)
                .push(" AND id = ")
                .bind(refund.payment_intent.as_str())
                .push(" RETURNING created, currency");
            let pi = back.fetch_row(tx.conn()).await?;
            let currency: String = pi.try_get("currency")?;
            crate::reports::add_to_day(
                &mut tx,
                scope,
                pi.try_get("created")?,
                &currency,
                0,
                refund.amount,
            )
            .await?;
        }
        let row = Sql::select_one(REFUND_COLS, "refunds", scope, &refund.id)
            .fetch_row(tx.conn())
            .await?;
        let after = refund_of(&row)?;
        if changed {
            // refund.updated for the change of status; a failure also
            // writes refund.failed, as Stripe does.
            let mut before = after.clone();
            before.status = "pending".into();
            let (before, object) = (
                self.renderer().refund(&before),
                self.renderer().refund(&after),
            );
            self.emit_change(
                &mut tx,
                scope,
                "refund.updated",
                Some(before.clone()),
                object.clone(),
            )
            .await?;
            if provider_ref.is_none() {
                self.emit_change(&mut tx, scope, "refund.failed", Some(before), object)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Refunds still pending that began before `before` (their request
    /// died, or the provider could not be reached), oldest first, with the
    /// tenant each belongs to: the reconciler settles them.
    pub async fn pending_refunds(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(Scope, Refund)>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT account_id, {REFUND_COLS} FROM refunds WHERE status = 'pending' AND created < "
        ));
        sql.bind(before)
            .push(" ORDER BY created LIMIT ")
            .bind(limit);
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let refund = refund_of(r)?;
                let scope = Scope {
                    account_id: r.try_get("account_id")?,
                    livemode: refund.livemode,
                };
                Ok((scope, refund))
            })
            .collect()
    }

    pub async fn get_refund(&self, scope: &Scope, id: &str) -> Result<Refund, StoreError> {
        let sql = Sql::select_one(REFUND_COLS, "refunds", scope, id);
        let row = sql.fetch_row(&self.pool).await?;
        refund_of(&row)
    }

    pub async fn list_refunds(
        &self,
        scope: &Scope,
        payment_intent: Option<&str>,
        q: &ListQuery,
    ) -> Result<Page<Refund>, StoreError> {
        let mut filters: Vec<(&str, Bind)> = Vec::new();
        if let Some(p) = payment_intent {
            filters.push(("payment_intent_id", p.into()));
        }
        self.list_rows("refunds", REFUND_COLS, scope, &filters, q, refund_of)
            .await
    }
}
