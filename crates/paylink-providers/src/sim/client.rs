//! paylink's client for the sim: the [`Provider`] it calls to create
//! hosted payments and refunds, and to check the sim's webhooks.

use std::time::Duration;

use axum::http::StatusCode;
use paylink_crypto::Secret;
use serde::Deserialize;
use serde_json::json;

use super::{CreatePayment, SimConfig};
use crate::{
    BoxFuture, HostedPayment, HostedPaymentRequest, Provider, ProviderError, ProviderEvent,
};

/// paylink's client for the sim.
pub struct SimClient {
    cfg: SimConfig,
    http: reqwest::Client,
}

impl SimClient {
    pub fn new(cfg: SimConfig) -> Self {
        Self {
            cfg,
            http: reqwest::Client::new(),
        }
    }

    /// `POST {origin}{path}` of `body` as JSON with the merchant's key; a
    /// sim that can't be reached is [`ProviderError::Unreachable`].
    async fn post(
        &self,
        credential: &Secret<String>,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Response, ProviderError> {
        self.http
            .post(format!("{}{path}", self.cfg.origin))
            .bearer_auth(credential.expose())
            .json(body)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
    url: String,
}

#[derive(Deserialize)]
struct EventCard {
    brand: String,
    last4: String,
}

#[derive(Deserialize)]
struct EventData {
    payment: String,
    merchant: String,
    #[serde(default)]
    livemode: bool,
    session: String,
    amount: i64,
    currency: String,
    card: EventCard,
}

#[derive(Deserialize)]
struct FailedData {
    payment: String,
    merchant: String,
    #[serde(default)]
    livemode: bool,
    session: String,
    amount: i64,
    currency: String,
    card: Option<EventCard>,
    failure: Failure,
}

#[derive(Deserialize)]
struct Failure {
    code: String,
    decline_code: Option<String>,
    message: String,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

impl Provider for SimClient {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn origin(&self) -> String {
        self.cfg.origin.clone()
    }

    fn verify_credential<'a>(
        &'a self,
        credential: &'a Secret<String>,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let resp = self
                .http
                .get(format!("{}/v1/merchant", self.cfg.origin))
                .bearer_auth(credential.expose())
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            if !resp.status().is_success() {
                return Err(ProviderError::Refused(
                    "the sim does not know this secret key".into(),
                ));
            }
            let v: serde_json::Value = resp.json().await.map_err(|_| ProviderError::BadPayload)?;
            v.get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or(ProviderError::BadPayload)
        })
    }

    fn create_payment<'a>(
        &'a self,
        credential: &'a Secret<String>,
        req: HostedPaymentRequest,
    ) -> BoxFuture<'a, Result<HostedPayment, ProviderError>> {
        Box::pin(async move {
            let body = CreatePayment {
                session_id: req.session_id,
                amount: req.amount,
                currency: req.currency,
                description: req.description,
                merchant_name: req.merchant_name,
                return_url: req.return_url,
                cancel_url: req.cancel_url,
                require_3ds: req.require_3ds,
                livemode: req.livemode,
            };
            let resp = self.post(credential, "/v1/payments", &body).await?;
            if !resp.status().is_success() {
                return Err(ProviderError::Refused(format!(
                    "sim answered {}",
                    resp.status()
                )));
            }
            let c: Created = resp.json().await.map_err(|_| ProviderError::BadPayload)?;
            Ok(HostedPayment {
                provider_ref: c.id,
                redirect_url: c.url,
            })
        })
    }

    fn verify_webhook(
        &self,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<ProviderEvent, ProviderError> {
        if !crate::signature::verify(&self.cfg.webhook_secret, signature_header, body, now) {
            return Err(ProviderError::BadSignature);
        }
        let e: Event = serde_json::from_slice(body).map_err(|_| ProviderError::BadPayload)?;
        if e.kind == "payment.failed" {
            let d: FailedData =
                serde_json::from_value(e.data).map_err(|_| ProviderError::BadPayload)?;
            let (card_brand, card_last4) = match d.card {
                Some(c) => (Some(c.brand), Some(c.last4)),
                None => (None, None),
            };
            return Ok(ProviderEvent::PaymentFailed {
                event_id: e.id,
                session_id: d.session,
                provider_ref: d.payment,
                merchant: d.merchant,
                livemode: d.livemode,
                amount: d.amount,
                currency: d.currency,
                card_brand,
                card_last4,
                code: d.failure.code,
                decline_code: d.failure.decline_code,
                message: d.failure.message,
            });
        }
        if e.kind != "payment.succeeded" {
            return Ok(ProviderEvent::Other {
                event_id: e.id,
                kind: e.kind,
            });
        }
        let d: EventData = serde_json::from_value(e.data).map_err(|_| ProviderError::BadPayload)?;
        Ok(ProviderEvent::PaymentSucceeded {
            event_id: e.id,
            session_id: d.session,
            provider_ref: d.payment,
            merchant: d.merchant,
            livemode: d.livemode,
            amount: d.amount,
            currency: d.currency,
            card_brand: d.card.brand,
            card_last4: d.card.last4,
        })
    }

    fn refund<'a>(
        &'a self,
        credential: &'a Secret<String>,
        provider_ref: &'a str,
        amount: i64,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        let body =
            json!({"payment": provider_ref, "amount": amount, "idempotency_key": idempotency_key});
        Box::pin(async move {
            let resp = self.post(credential, "/v1/refunds", &body).await?;
            let status = resp.status();
            // Only a definite refusal says the refund was not made; a
            // server error, a rate limit or an unreadable answer may hide
            // one that was, so the caller keeps it pending and asks again
            // with the same idempotency key.
            if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                return Err(ProviderError::Refused(format!("sim answered {status}")));
            }
            if !status.is_success() {
                return Err(ProviderError::Unreachable(format!("sim answered {status}")));
            }
            let c: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
            c.get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ProviderError::Unreachable("sim answered no refund id".into()))
        })
    }
}
