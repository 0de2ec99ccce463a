//! The sim's records: payments, refunds and webhooks not yet accepted by
//! paylink, in memory and (given a state file) on disk after every change;
//! and the delivery of its webhooks, retried until paylink accepts them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{lock, merchant_of_key, random_id, SimConfig, SimPayment, SimStatus};

pub(super) struct SimState {
    pub(super) cfg: SimConfig,
    pub(super) payments: Mutex<HashMap<String, SimPayment>>,
    pub(super) refunds: Mutex<HashMap<String, String>>,
    /// Webhooks not yet accepted by paylink.
    pub(super) outbox: Mutex<Vec<String>>,
    /// One writer of the state file at a time, in order.
    pub(super) saving: tokio::sync::Mutex<()>,
    pub(super) http: reqwest::Client,
}

/// The sim's records as kept in its state file.
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    payments: HashMap<String, SimPayment>,
    refunds: HashMap<String, String>,
    outbox: Vec<String>,
}

/// How long the sim remembers a payment.
const KEEP_PAYMENTS_SECS: i64 = 7 * 86_400;

/// The longest wait between two deliveries of a webhook.
const MAX_RETRY_WAIT_SECS: u64 = 30;

/// Replaces `path` with `bytes`: a new file (mode 0600, never through a
/// link left at its temporary name), synced, renamed over the old one, and
/// the directory synced so the rename survives a crash.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl SimState {
    pub(super) fn new(cfg: SimConfig) -> Self {
        let saved: Saved = cfg
            .state_file
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| match serde_json::from_slice(&b) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "sim: state file unreadable; starting empty");
                    None
                }
            })
            .unwrap_or_default();
        SimState {
            cfg,
            payments: Mutex::new(saved.payments),
            refunds: Mutex::new(saved.refunds),
            outbox: Mutex::new(saved.outbox),
            saving: tokio::sync::Mutex::new(()),
            http: reqwest::Client::new(),
        }
    }

    /// Writes the records to the state file (if any), forgetting payments
    /// older than a week. One save at a time, in order (an async lock held
    /// across the write); the file is written off the async threads. Each
    /// map is copied under its own lock, never two at once.
    pub(super) async fn save(&self) {
        let Some(path) = self.cfg.state_file.clone() else {
            return;
        };
        let _one = self.saving.lock().await;
        let horizon = self.cfg.clock.now() - KEEP_PAYMENTS_SECS;
        lock(&self.payments).retain(|_, p| p.created >= horizon);
        let payments = lock(&self.payments).clone();
        let refunds = lock(&self.refunds).clone();
        let outbox = lock(&self.outbox).clone();
        let saved = Saved {
            payments,
            refunds,
            outbox,
        };
        let written = tokio::task::spawn_blocking(move || {
            serde_json::to_vec(&saved)
                .map_err(std::io::Error::other)
                .and_then(|b| write_atomically(&path, &b))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        if let Err(e) = written {
            tracing::error!(error = %e, "sim: could not write its state file");
        }
    }

    pub(super) fn payment(&self, id: &str) -> Option<SimPayment> {
        lock(&self.payments).get(id).cloned()
    }
    pub(super) async fn set_status(&self, id: &str, status: SimStatus) {
        if let Some(p) = lock(&self.payments).get_mut(id) {
            p.status = status;
        }
        self.save().await;
    }

    /// Delivers `event` (already in the outbox), retrying with a growing
    /// wait for as long as paylink refuses it or can't be reached; a
    /// delivered event leaves the outbox.
    pub(super) async fn deliver_until_accepted(&self, event: String) {
        let mut wait = 1u64;
        while !self.deliver(&event).await {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            wait = (wait * 2).min(MAX_RETRY_WAIT_SECS);
        }
        lock(&self.outbox).retain(|e| e != &event);
        self.save().await;
    }

    /// Marks the payment succeeded and tells paylink, returning after the
    /// first attempt (later ones run in the background until paylink
    /// accepts the webhook).
    pub(super) async fn succeed(self: &Arc<Self>, p: &SimPayment, brand: String, last4: String) {
        self.set_status(
            &p.id,
            SimStatus::Succeeded {
                brand: brand.clone(),
                last4: last4.clone(),
            },
        )
        .await;
        let event = json!({
            "id": random_id("evt_sim_"),
            "type": "payment.succeeded",
            "created": self.cfg.clock.now(),
            "data": {
                "payment": p.id,
                "merchant": p.merchant,
                "livemode": p.req.livemode,
                "session": p.req.session_id,
                "amount": p.req.amount,
                "currency": p.req.currency,
                "payment_method": random_id("pm_sim_"),
                "card": {"brand": brand, "last4": last4},
            }
        })
        .to_string();
        self.publish(event).await;
    }

    /// Tells paylink that an attempt at `p` failed (a declined card, a
    /// failed 3-D Secure check), as a real provider's event does; the
    /// buyer stays on the card page meanwhile and may try again.
    pub(super) async fn fail(
        self: &Arc<Self>,
        p: &SimPayment,
        card: Option<(String, String)>,
        (code, decline_code, message): (&str, Option<&str>, &str),
    ) {
        let card = card.map(|(brand, last4)| json!({"brand": brand, "last4": last4}));
        let event = json!({
            "id": random_id("evt_sim_"),
            "type": "payment.failed",
            "created": self.cfg.clock.now(),
            "data": {
                "payment": p.id,
                "merchant": p.merchant,
                "livemode": p.req.livemode,
                "session": p.req.session_id,
                "amount": p.req.amount,
                "currency": p.req.currency,
                "card": card,
                "failure": {"code": code, "decline_code": decline_code, "message": message},
            }
        })
        .to_string();
        self.publish(event).await;
    }

    /// Sends `event` to paylink until it is accepted (kept on disk until
    /// then), returning after the first attempt.
    async fn publish(self: &Arc<Self>, event: String) {
        lock(&self.outbox).push(event.clone());
        self.save().await;
        // Delivery runs on its own task, so a buyer who leaves mid-way
        // can't stop it; the buyer is sent back after the first attempt.
        let (first_tried, tried) = tokio::sync::oneshot::channel();
        let me = self.clone();
        tokio::spawn(async move {
            if me.deliver(&event).await {
                lock(&me.outbox).retain(|e| e != &event);
                me.save().await;
                let _ = first_tried.send(());
            } else {
                let _ = first_tried.send(());
                me.deliver_until_accepted(event).await;
            }
        });
        let _ = tried.await;
    }

    pub(super) async fn deliver(&self, event: &str) -> bool {
        let sig = crate::signature::sign(
            &self.cfg.webhook_secret,
            self.cfg.clock.now(),
            event.as_bytes(),
        );
        match self
            .http
            .post(&self.cfg.webhook_url)
            .header("content-type", "application/json")
            .header("sim-signature", sig)
            .body(event.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                tracing::warn!(status = r.status().as_u16(), "sim: webhook refused");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "sim: webhook not delivered");
                false
            }
        }
    }

    /// The merchant whose secret key the request presents, if it is valid.
    pub(super) fn merchant(&self, headers: &HeaderMap) -> Option<String> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        merchant_of_key(&self.cfg.issuing_key, presented)
    }
}
