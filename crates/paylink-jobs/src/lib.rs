//! Background work and data retention. One pass, run every minute by
//! `paylink serve` (and on demand by `paylink retention purge`):
//! open checkout sessions past their 24 hours expire (giving back what they
//! reserved); idempotency records go after 24 hours; the buyer details of
//! abandoned checkouts are erased after 30 days; processed provider events
//! are forgotten after 30 days. Each step is a bounded, idempotent update,
//! safe to run in several instances at once.

pub mod refunds;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use paylink_domain::Clock;
use paylink_store::{Store, StoreError};

const DAY: i64 = 86_400;

/// Days client IP addresses (dashboard sessions, sign-in counters) are kept.
pub const IP_ADDRESS_DAYS: i64 = 14;

/// Days an ended dashboard session is kept.
pub const EXPIRED_SESSION_DAYS: i64 = 7;

/// Retention periods, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Buyer details of checkouts that expired unpaid.
    pub abandoned_checkout_days: i64,
    /// Processed provider events (exactly-once records).
    pub provider_event_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            abandoned_checkout_days: 30,
            provider_event_days: 30,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Open checkout sessions past their expiry, now expired.
    pub expired_sessions: u64,
    pub idempotency_records: u64,
    /// Abandoned checkouts whose buyer details were erased.
    pub abandoned_checkouts: u64,
    pub provider_events: u64,
    /// Events (`/v1/events`) past their 30 days, with the records of
    /// their webhook deliveries and attempts.
    pub events: u64,
    /// Dashboard sessions 7 days after they ended, sign-in throttle rows
    /// and security notices after 14 days (they hold client IP addresses).
    pub sign_in_records: u64,
}

/// One line of `paylink retention status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionLine {
    pub what: &'static str,
    pub kept: String,
    pub due: i64,
}

/// Runs one pass at `now`.
pub async fn purge_once(store: &Store, now: i64, r: &Retention) -> Result<PurgeReport, StoreError> {
    Ok(PurgeReport {
        expired_sessions: store.expire_due_sessions(now).await?,
        idempotency_records: store.purge_idempotency(now).await?,
        abandoned_checkouts: store
            .purge_abandoned(now - r.abandoned_checkout_days * DAY)
            .await?,
        provider_events: store
            .purge_provider_events(now - r.provider_event_days * DAY)
            .await?,
        events: purge_all_events(store, now - paylink_store::events::EVENT_DAYS * DAY).await?,
        sign_in_records: store
            .purge_dashboard_sessions(
                now - EXPIRED_SESSION_DAYS * DAY,
                now - IP_ADDRESS_DAYS * DAY,
            )
            .await?
            + store
                .purge_login_throttle(now - IP_ADDRESS_DAYS * DAY)
                .await?,
    })
}

/// Events older than `before` go, in batches (one short write each).
async fn purge_all_events(store: &Store, before: i64) -> Result<u64, StoreError> {
    const BATCH: i64 = 500;
    let mut total = 0;
    loop {
        let n = store.purge_events(before, BATCH).await?;
        total += n;
        if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            break;
        }
    }
    loop {
        let n = store.purge_deliveries(before, BATCH).await?;
        total += n;
        if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}

/// What each rule keeps and how much is due now.
pub async fn status(
    store: &Store,
    now: i64,
    r: &Retention,
) -> Result<Vec<RetentionLine>, StoreError> {
    Ok(vec![
        RetentionLine {
            what: "open checkout sessions (expire)",
            kept: "24 hours".into(),
            due: store.sessions_due(now).await?,
        },
        RetentionLine {
            what: "idempotency records",
            kept: "24 hours".into(),
            due: store.idempotency_due(now).await?,
        },
        RetentionLine {
            what: "buyer details of abandoned checkouts",
            kept: format!("{} days after expiry", r.abandoned_checkout_days),
            due: store
                .abandoned_due(now - r.abandoned_checkout_days * DAY)
                .await?,
        },
        RetentionLine {
            what: "processed provider events",
            kept: format!("{} days", r.provider_event_days),
            due: store
                .provider_events_due(now - r.provider_event_days * DAY)
                .await?,
        },
        RetentionLine {
            what: "events (/v1/events)",
            kept: format!("{} days", paylink_store::events::EVENT_DAYS),
            due: store
                .events_due(now - paylink_store::events::EVENT_DAYS * DAY)
                .await?,
        },
        RetentionLine {
            what: "dashboard sessions, sign-in counters, security notices (IP addresses)",
            kept: format!(
                "sessions {EXPIRED_SESSION_DAYS} days after use, the rest {IP_ADDRESS_DAYS} days"
            ),
            due: store
                .sign_in_records_due(now - IP_ADDRESS_DAYS * DAY)
                .await?,
        },
    ])
}

/// Background passes between two refreshes of the planner's statistics.
const STATISTICS_EVERY_PASSES: u64 = 60;

/// Runs [`purge_once`] every `every` until the task is dropped.
pub fn spawn_retention(
    store: Store,
    clock: Arc<dyn Clock>,
    every: Duration,
    r: Retention,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut passes: u64 = 0;
        loop {
            tick.tick().await;
            // Planner statistics at start and about hourly (finding F8).
            if passes.is_multiple_of(STATISTICS_EVERY_PASSES) {
                if let Err(e) = store.refresh_statistics().await {
                    tracing::warn!(error = %e, "could not refresh planner statistics");
                }
            }
            passes += 1;
            match purge_once(&store, clock.now(), &r).await {
                Ok(rep) if rep != PurgeReport::default() => tracing::info!(
                    expired_sessions = rep.expired_sessions,
                    idempotency_records = rep.idempotency_records,
                    abandoned_checkouts = rep.abandoned_checkouts,
                    provider_events = rep.provider_events,
                    events = rep.events,
                    "background pass"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "background pass failed; will retry"),
            }
        }
    })
}
