//! Background work. Today: the retention purge of idempotency records
//! (kept 24 hours). Jobs are stateless and safe to run in several instances
//! at once: each pass is one bounded DELETE.

use std::sync::Arc;
use std::time::Duration;

use paylink_domain::Clock;
use paylink_store::{Store, StoreError};

/// What one purge pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    pub idempotency_records: u64,
}

/// Runs one retention pass at `now`.
pub async fn purge_once(store: &Store, now: i64) -> Result<PurgeReport, StoreError> {
    Ok(PurgeReport {
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
                Ok(r) if r.idempotency_records > 0 => {
                    tracing::info!(
                        idempotency_records = r.idempotency_records,
                        "retention purge"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
            }
        }
    })
}
