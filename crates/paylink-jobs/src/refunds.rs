//! Settling refunds with the provider, once.
//!
//! A refund is written `pending` (holding its amount) before the provider
//! is asked, and settled after. The provider call carries the refund's id
//! as its idempotency key, so asking again after a crash, a timeout or a
//! client that hung up refunds once. A refund the provider refused fails
//! (its amount can be refunded again); one whose provider could not be
//! reached stays pending for the reconciler (reliability finding F5), which
//! runs at start and every minute.

use std::sync::Arc;
use std::time::Duration;

use paylink_domain::checkout::Refund;
use paylink_domain::Clock;
use paylink_providers::{Provider, ProviderError};
use paylink_store::{Scope, Store, StoreError};

/// Refunds younger than this are left to the request that began them.
pub const RECONCILE_AFTER_SECS: i64 = 90;

/// Asks the provider to make `refund` (pending) and records the outcome.
/// Returns the refund as it now stands: succeeded, failed, or still
/// pending when the provider could not be reached.
pub async fn settle(
    store: &Store,
    provider: &dyn Provider,
    scope: &Scope,
    refund: &Refund,
) -> Result<Refund, StoreError> {
    let outcome = match store.provider_credential(scope).await? {
        None => Err(ProviderError::Refused(
            "no provider is connected any more".into(),
        )),
        Some((_, credential)) => {
            let (name, provider_ref) = store
                .payment_provider_ref(scope, &refund.payment_intent)
                .await?;
            if name == provider.name() {
                provider
                    .refund(&credential, &provider_ref, refund.amount, &refund.id)
                    .await
            } else {
                Err(ProviderError::Refused(format!(
                    "payments of provider {name} can't be refunded by this instance"
                )))
            }
        }
    };
    match outcome {
        Ok(r) => store.finish_refund(scope, refund, Some(&r)).await,
        Err(ProviderError::Unreachable(why)) => {
            tracing::warn!(refund = %refund.id, reason = %why, "provider unreachable; the refund stays pending and will be retried");
            Ok(refund.clone())
        }
        Err(why) => {
            tracing::error!(refund = %refund.id, reason = %why, "refund refused by the provider");
            store.finish_refund(scope, refund, None).await
        }
    }
}

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub succeeded: u64,
    pub failed: u64,
    pub still_pending: u64,
}

/// Settles every refund left pending for [`RECONCILE_AFTER_SECS`].
pub async fn reconcile_once(
    store: &Store,
    provider: &dyn Provider,
    now: i64,
) -> Result<Reconciled, StoreError> {
    let mut done = Reconciled::default();
    for (scope, refund) in store
        .pending_refunds(now - RECONCILE_AFTER_SECS, 500)
        .await?
    {
        match settle(store, provider, &scope, &refund)
            .await?
            .status
            .as_str()
        {
            "succeeded" => done.succeeded += 1,
            "failed" => done.failed += 1,
            _ => done.still_pending += 1,
        }
    }
    Ok(done)
}

/// Runs [`reconcile_once`] at start and every `every`.
pub fn spawn_reconciler(
    store: Store,
    provider: Arc<dyn Provider>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match reconcile_once(&store, provider.as_ref(), clock.now()).await {
                Ok(r) if r != Reconciled::default() => tracing::info!(
                    succeeded = r.succeeded,
                    failed = r.failed,
                    still_pending = r.still_pending,
                    "pending refunds reconciled"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "refund reconciliation failed; will retry"),
            }
        }
    })
}
