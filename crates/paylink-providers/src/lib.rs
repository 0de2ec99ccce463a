//! Payment providers. paylink never sees a card number: a provider's hosted
//! page takes it, and paylink learns the outcome from a signed webhook.
//! Everything provider-specific stays behind [`Provider`].
//!
//! - [`sim`]: the built-in test provider, a hosted card page on its own
//!   listener and origin with test cards and 3-D Secure.
//! - [`signature`]: the webhook signature scheme (HMAC-SHA256 over
//!   timestamp and body, with a tolerance window).

pub mod signature;
pub mod sim;
pub mod sim_cards;

use std::future::Future;

use paylink_crypto::Secret;
use std::pin::Pin;

/// What paylink asks a provider to collect.
#[derive(Debug, Clone)]
pub struct HostedPaymentRequest {
    pub session_id: String,
    pub account_id: String,
    pub livemode: bool,
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub merchant_name: String,
    /// Where the buyer goes after paying (paylink's return page).
    pub return_url: String,
    /// Where the buyer goes to abandon (the link's page).
    pub cancel_url: String,
    /// Send every payment through a 3-D Secure challenge.
    pub require_3ds: bool,
}

/// A hosted payment the buyer is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedPayment {
    pub provider_ref: String,
    pub redirect_url: String,
}

/// A verified event from a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    PaymentSucceeded {
        event_id: String,
        session_id: String,
        /// The provider's payment (paylink's session must have created it).
        provider_ref: String,
        /// The provider's merchant whose account received the money.
        merchant: String,
        /// The mode the payment was made in.
        livemode: bool,
        amount: i64,
        currency: String,
        card_brand: String,
        card_last4: String,
    },
    /// An attempt at the payment failed (declined, not authenticated);
    /// the buyer may try again.
    PaymentFailed {
        event_id: String,
        session_id: String,
        provider_ref: String,
        merchant: String,
        livemode: bool,
        amount: i64,
        currency: String,
        card_brand: Option<String>,
        card_last4: Option<String>,
        code: String,
        decline_code: Option<String>,
        message: String,
    },
    /// An event paylink does not act on.
    Other { event_id: String, kind: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider refused the request: {0}")]
    Refused(String),
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("invalid webhook signature")]
    BadSignature,
    #[error("invalid webhook payload")]
    BadPayload,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A payment provider. Every call that acts for a merchant carries the
/// merchant's own credential (pasted once, stored sealed).
pub trait Provider: Send + Sync {
    /// The name stored with sessions and payments (`sim`, `stripe`).
    fn name(&self) -> &'static str;
    /// The origin of the provider's hosted pages (for CSP `form-action`).
    fn origin(&self) -> String;
    /// Checks a credential with the provider; returns the provider's id of
    /// the merchant it belongs to.
    fn verify_credential<'a>(
        &'a self,
        credential: &'a Secret<String>,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;
    /// Creates a hosted payment for a checkout session.
    fn create_payment<'a>(
        &'a self,
        credential: &'a Secret<String>,
        req: HostedPaymentRequest,
    ) -> BoxFuture<'a, Result<HostedPayment, ProviderError>>;
    /// Verifies a webhook's signature header and parses its body.
    fn verify_webhook(
        &self,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<ProviderEvent, ProviderError>;
    /// Refunds `amount` of a payment; returns the provider's refund id.
    /// `idempotency_key` makes a retried call refund once.
    fn refund<'a>(
        &'a self,
        credential: &'a Secret<String>,
        provider_ref: &'a str,
        amount: i64,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;
}
