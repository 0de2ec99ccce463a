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

/// Who is settling a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The request that began it, before any call to the provider: if the
    /// provider can't be asked at all, the refund was surely not made.
    First,
    /// The reconciler: an earlier attempt may have reached the provider.
    Again,
}

/// Asks the provider to make `refund` (pending) and records the outcome.
/// Returns the refund as it now stands: succeeded, failed (only when the
/// provider refused it, or on a first attempt that could not be sent), or
/// still pending (the provider could not be reached, or no longer can be
/// asked about a refund that may have been made: the operator settles it).
pub async fn settle(
    store: &Store,
    provider: &dyn Provider,
    scope: &Scope,
    refund: &Refund,
    attempt: Attempt,
) -> Result<Refund, StoreError> {
    // Whether the provider can be asked at all.
    let asked = match store.provider_credential(scope).await? {
        None => Err("no provider is connected any more".to_string()),
        Some((_, credential)) => {
            let (name, provider_ref) = store
                .payment_provider_ref(scope, &refund.payment_intent)
                .await?;
            if name == provider.name() {
                Ok(provider
                    .refund(&credential, &provider_ref, refund.amount, &refund.id)
                    .await)
            } else {
                Err(format!(
                    "payments of provider {name} can't be refunded by this instance"
                ))
            }
        }
    };
    match (asked, attempt) {
        (Ok(Ok(r)), _) => store.finish_refund(scope, refund, Some(&r)).await,
        (Ok(Err(ProviderError::Refused(why))), _) | (Err(why), Attempt::First) => {
            tracing::error!(refund = %refund.id, reason = %why, "refund not made");
            store.finish_refund(scope, refund, None).await
        }
        (Err(why), Attempt::Again) => {
            tracing::error!(refund = %refund.id, reason = %why, "a pending refund can't be settled with its provider; it stays pending for the operator");
            Ok(refund.clone())
        }
        (Ok(Err(why)), _) => {
            tracing::warn!(refund = %refund.id, reason = %why, "provider unreachable; the refund stays pending and will be retried");
            Ok(refund.clone())
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
        // One refund that can't be settled (a broken row, a vault error)
        // must not hold up the others.
        match settle(store, provider, &scope, &refund, Attempt::Again).await {
            Ok(r) if r.status == "succeeded" => done.succeeded += 1,
            Ok(r) if r.status == "failed" => done.failed += 1,
            Ok(_) => done.still_pending += 1,
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "could not settle a pending refund; will retry");
                done.still_pending += 1;
            }
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
