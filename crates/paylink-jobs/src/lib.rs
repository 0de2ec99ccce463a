//! Background work: expiring checkout sessions after 24 hours (which gives
//! back what they reserved) and purging idempotency records after 24 hours. Jobs are stateless and safe to run in several instances
//! at once: each pass is one bounded DELETE.

use std::sync::Arc;
use std::time::Duration;

use paylink_domain::Clock;
use paylink_store::{Store, StoreError};

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    pub idempotency_records: u64,
    /// Open checkout sessions past their expiry, now expired (their
    /// reservations released).
    pub expired_sessions: u64,
}

/// Runs one pass at `now`: expire due checkout sessions, purge old
/// idempotency records.
pub async fn purge_once(store: &Store, now: i64) -> Result<PurgeReport, StoreError> {
    Ok(PurgeReport {
        expired_sessions: store.expire_due_sessions(now).await?,
        idempotency_records: store.purge_idempotency(now).await?,
    })
}

/// Runs [`purge_once`] every `every` until the task is dropped.
pub fn spawn_retention(
    store: Store,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match purge_once(&store, clock.now()).await {
                Ok(r) if r != PurgeReport::default() => {
                    tracing::info!(
                        idempotency_records = r.idempotency_records,
                        expired_sessions = r.expired_sessions,
                        "background pass"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
            }
        }
    })
}
