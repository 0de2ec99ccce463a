//! Refunds of a payment, from the API or the dashboard.

use std::collections::BTreeMap;

use paylink_domain::checkout::{PaymentIntent, Refund};
use paylink_domain::Id;
use paylink_store::checkout::NewRefund as StoreRefund;
use paylink_store::{Scope, StoreError};
use serde::Deserialize;

use super::catalog::metadata;
use crate::{ApiError, AppState};

/// A refund of (part of) a payment (`POST /v1/refunds`).
#[derive(Debug, Default, Deserialize)]
pub struct NewRefund {
    pub payment_intent: String,
    /// In the payment's minor unit; the whole amount left when omitted.
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Reserves the amount under the payment's lock (so concurrent refunds
/// can't exceed what was paid), asks the provider, then settles: succeeded,
/// or failed with the amount given back.
pub async fn create_refund(
    state: &AppState,
    scope: &Scope,
    cmd: NewRefund,
) -> Result<Refund, ApiError> {
    let metadata = metadata(cmd.metadata.as_ref())?;
    if state.store.provider_credential(scope).await?.is_none() {
        return Err(ApiError::invalid_code(
            "provider_not_connected",
            None,
            "Connect a payment provider (in the dashboard's settings) before refunding.",
        ));
    }
    let no_such = |value: &str| ApiError::no_such("payment_intent", value, Some("payment_intent"));
    let payment_intent: Id<PaymentIntent> =
        Id::parse(&cmd.payment_intent).map_err(|e| no_such(&e.value))?;
    let id = Id::<Refund>::generate().map_err(ApiError::internal)?;
    let refund = state
        .store
        .begin_refund(
            scope,
            StoreRefund {
                payment_intent: &payment_intent,
                amount: cmd.amount,
                reason: cmd.reason.as_deref(),
                refund_id: &id,
                metadata: &metadata,
                now: state.now(),
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_such(&payment_intent),
            other => other.into(),
        })?;
    Ok(paylink_jobs::refunds::settle(
        &state.store,
        state.provider.as_ref(),
        scope,
        &refund,
        paylink_jobs::refunds::Attempt::First,
    )
    .await?)
}
