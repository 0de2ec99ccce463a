//! The `sim` provider: a hosted checkout on its own listener and origin
//! that behaves like a real one in test mode. It takes the card on its own
//! page (Luhn, expiry and CVC checked, errors beside the fields), applies
//! the test cards' outcomes, runs a 3-D Secure challenge page, sends paylink
//! a signed webhook and sends the buyer back. paylink only ever receives a
//! payment-method token, the brand and the last four digits.
//!
//! paylink calls the sim's API (`/v1/payments`, `/v1/refunds`) with a sim
//! secret key (`sk_sim_…`) that the sim checks on every call.
//!
//! The sim keeps its own records (payments, refunds, webhooks not yet
//! delivered) in memory and, when given a state file, on disk after every
//! change: a card page in progress survives a restart, and a webhook is
//! retried until paylink accepts it, across restarts (reliability finding
//! F6). paylink's records (sessions, payments, refunds) are in paylink's
//! database.
//!
//! - [`records`]: the sim's own records (payments, refunds, webhooks not
//!   yet delivered), kept in a state file, and webhook delivery;
//! - [`server`]: its HTTP API and page routes;
//! - [`pages`]: the hosted card and 3-D Secure pages;
//! - [`client`]: paylink's [`Provider`](crate::Provider) for it.

mod client;
mod pages;
mod records;
mod server;

use std::sync::{Arc, Mutex};

use paylink_crypto::Secret;
use paylink_domain::Clock;
use serde::{Deserialize, Serialize};

pub use client::SimClient;
pub use server::router;

/// Shared configuration of the sim server and of paylink's client for it.
#[derive(Clone)]
pub struct SimConfig {
    /// Origin of the sim's pages and API, e.g. `http://127.0.0.1:8081`.
    pub origin: String,
    /// The sim's own key for minting merchants' secret keys (which it then
    /// checks statelessly, so they survive a restart of the sim).
    pub issuing_key: Arc<Secret<Vec<u8>>>,
    /// The key the sim signs its webhooks with.
    pub webhook_secret: Arc<Secret<Vec<u8>>>,
    /// Where the sim posts its webhooks (paylink's `/webhooks/sim`).
    pub webhook_url: String,
    pub clock: Arc<dyn Clock>,
    /// Where the sim keeps its records (`None`: in memory only).
    pub state_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("origin", &self.origin)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

/// Where a sim payment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum SimStatus {
    RequiresPaymentMethod,
    RequiresAction { brand: String, last4: String },
    Succeeded { brand: String, last4: String },
}

/// A payment on the sim, as it keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPayment {
    /// When it was made (payments are forgotten a week later).
    #[serde(default)]
    created: i64,
    id: String,
    /// The sim merchant whose key created it.
    merchant: String,
    req: CreatePayment,
    status: SimStatus,
    refunded: i64,
}

/// paylink's request for a hosted payment (the body of `POST /v1/payments`).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct CreatePayment {
    session_id: String,
    amount: i64,
    currency: String,
    description: String,
    merchant_name: String,
    return_url: String,
    cancel_url: String,
    require_3ds: bool,
    /// The merchant's mode the payment was made in (sent back in events).
    #[serde(default)]
    livemode: bool,
}

/// A new random id with `prefix`.
fn random_id(prefix: &str) -> String {
    let v = paylink_domain::id::random_bytes::<16>()
        .map(u128::from_le_bytes)
        .unwrap_or(0);
    format!("{prefix}{}", paylink_domain::id::base62_128(v))
}

/// Locks `m`, going on past a poisoned lock (the maps stay consistent:
/// each change is one insert or field write).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The secret key of sim merchant `merchant`: `sk_sim_<merchant>_<mac>`,
/// where the MAC (HMAC-SHA256 under the sim's issuing key) lets the sim
/// check a key without storing it.
pub fn merchant_key(issuing: &Secret<Vec<u8>>, merchant: &str) -> Secret<String> {
    Secret::new(format!("sk_sim_{merchant}_{}", key_mac(issuing, merchant)))
}

fn key_mac(issuing: &Secret<Vec<u8>>, merchant: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut m) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(issuing.expose()) else {
        return String::new();
    };
    m.update(merchant.as_bytes());
    let mut first = [0u8; 16];
    for (d, s) in first.iter_mut().zip(m.finalize().into_bytes().iter()) {
        *d = *s;
    }
    paylink_domain::id::base62_128(u128::from_le_bytes(first))
}

/// The merchant of a presented key, if its MAC is right.
fn merchant_of_key(issuing: &Secret<Vec<u8>>, presented: &str) -> Option<String> {
    let (merchant, mac) = presented.strip_prefix("sk_sim_")?.rsplit_once('_')?;
    let ok = merchant.starts_with("simm")
        && merchant.len() <= 64
        && merchant.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok && paylink_crypto::ct_eq(mac.as_bytes(), key_mac(issuing, merchant).as_bytes()))
        .then(|| merchant.to_string())
}
