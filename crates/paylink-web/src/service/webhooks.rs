//! Webhook endpoints: creating, changing and deleting them, rolling and
//! revealing their signing secrets, and sending an event again. The API
//! and the dashboard both come through here.

use std::collections::BTreeMap;

use paylink_crypto::Secret;
use paylink_domain::catalog::{check_text, RuleError};
use paylink_domain::IdKind;
use paylink_store::webhooks::WebhookEndpoint;
use paylink_store::{Scope, StoreError};
use serde::Deserialize;

use super::catalog::metadata;
use super::new_id;
use crate::{ApiError, AppState};

/// The event types paylink writes today (`/v1/events`); an endpoint
/// listening to them receives them.
pub const EMITTED: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.expired",
    "coupon.created",
    "coupon.deleted",
    "coupon.updated",
    "customer.created",
    "customer.deleted",
    "customer.updated",
    "payment_intent.canceled",
    "payment_intent.created",
    "payment_intent.payment_failed",
    "payment_intent.succeeded",
    "payment_link.created",
    "payment_link.updated",
    "price.created",
    "price.updated",
    "product.created",
    "product.updated",
    "promotion_code.created",
    "promotion_code.updated",
    "refund.created",
    "refund.failed",
    "refund.updated",
];

/// Further Stripe event types about the objects paylink has, accepted in
/// `enabled_events` so that existing integrations can be pointed here
/// unchanged; paylink does not write them yet, so none is sent.
pub const ACCEPTED_NOT_EMITTED: &[&str] = &[
    "charge.refunded",
    "charge.succeeded",
    "charge.failed",
    "checkout.session.async_payment_failed",
    "checkout.session.async_payment_succeeded",
    "price.deleted",
    "product.deleted",
];

/// Longest URL accepted (Stripe's limit).
const MAX_URL: usize = 5_000;

/// A new endpoint (`POST /v1/webhook_endpoints`).
#[derive(Debug, Default, Deserialize)]
pub struct NewEndpoint {
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub api_version: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A change to an endpoint (`POST /v1/webhook_endpoints/{id}`).
#[derive(Debug, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

fn events(list: &[String]) -> Result<Vec<String>, ApiError> {
    if list.is_empty() {
        return Err(ApiError::invalid(
            Some("enabled_events".into()),
            "enabled_events must name at least one event type, or '*' for all.",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let known =
            e == "*" || EMITTED.contains(&e.as_str()) || ACCEPTED_NOT_EMITTED.contains(&e.as_str());
        if !known {
            return Err(ApiError::invalid(
                Some(format!("enabled_events[{i}]")),
                format!(
                    "Invalid event type: '{e}'. Use '*' or one of: {}.",
                    EMITTED.join(", ")
                ),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// Checks an endpoint URL for `livemode`: http(s), https in live mode, no
/// internal address, literally or by what the name resolves to now (it is
/// checked again at every delivery).
pub async fn check_url(state: &AppState, raw: &str, livemode: bool) -> Result<String, ApiError> {
    let bad = |m: String| ApiError::invalid(Some("url".into()), m);
    if raw.len() > MAX_URL {
        return Err(bad(format!("url must be at most {MAX_URL} characters.")));
    }
    let cfg = &state.webhooks;
    let url = paylink_jobs::webhooks::parse_url(raw, livemode, &cfg.allow)
        .map_err(|e| bad(e.to_string()))?;
    // As stored: the parser percent-encodes what needs it.
    if url.as_str().len() > MAX_URL {
        return Err(bad(format!("url must be at most {MAX_URL} characters.")));
    }
    if let Some(host) = url.host_str() {
        // A name that does not resolve yet may later: checked then.
        if let Err(e @ paylink_jobs::webhooks::UrlError::Internal { .. }) =
            paylink_jobs::webhooks::resolve_checked(&cfg.lookup, &cfg.allow, host).await
        {
            return Err(bad(e.to_string()));
        }
    }
    Ok(url.to_string())
}

/// The host an endpoint URL points to, for the audit log.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Creates an endpoint; returns it with its signing secret (shown once).
pub async fn create_endpoint(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    cmd: NewEndpoint,
) -> Result<(WebhookEndpoint, Secret<String>), ApiError> {
    let url = check_url(state, &cmd.url, scope.livemode).await?;
    if let Some(d) = &cmd.description {
        check_text("description", d, 5_000)?;
    }
    let e = WebhookEndpoint {
        id: new_id(IdKind::WebhookEndpoint)?,
        livemode: scope.livemode,
        created: state.now(),
        url,
        description: cmd.description.filter(|d| !d.is_empty()),
        enabled_events: events(&cmd.enabled_events)?,
        api_version: cmd.api_version,
        metadata: metadata(cmd.metadata.as_ref())?,
        status: "enabled".into(),
        disabled_reason: None,
        failing_since: None,
        previous_secret_expires: None,
    };
    let secret = paylink_crypto::webhook::generate().map_err(ApiError::internal)?;
    state
        .store
        .create_webhook_endpoint(scope, &e, &secret)
        .await?;
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "webhook_endpoint.created",
        Some(&e.id),
        serde_json::json!({"livemode": scope.livemode, "url_host": host_of(&e.url), "enabled_events": e.enabled_events}),
    )
    .await;
    Ok((e, secret))
}

/// Applies `c` to endpoint `id`.
pub async fn update_endpoint(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &str,
    c: EndpointChange,
) -> Result<WebhookEndpoint, ApiError> {
    let url = match &c.url {
        Some(u) => Some(check_url(state, u, scope.livemode).await?),
        None => None,
    };
    let enabled_events = c.enabled_events.as_deref().map(events).transpose()?;
    let changed: Vec<&str> = [
        ("url", c.url.is_some()),
        ("enabled_events", c.enabled_events.is_some()),
        ("description", c.description.is_some()),
        ("disabled", c.disabled.is_some()),
        ("metadata", c.metadata.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect();
    if let Some(Some(d)) = &c.description {
        check_text("description", d, 5_000)?;
    }
    let e = state
        .store
        .update_webhook_endpoint(scope, id, |e| {
            if let Some(u) = url {
                e.url = u;
            }
            if let Some(ev) = enabled_events {
                e.enabled_events = ev;
            }
            if let Some(d) = c.description {
                e.description = d.filter(|d| !d.is_empty());
            }
            if let Some(off) = c.disabled {
                e.status = if off { "disabled" } else { "enabled" }.into();
                if !off {
                    e.disabled_reason = None;
                    e.failing_since = None;
                } else if e.disabled_reason.is_none() {
                    e.disabled_reason = Some("merchant".into());
                }
            }
            e.metadata.update(c.metadata)?;
            Ok::<(), RuleError>(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "webhook endpoint", id))?;
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "webhook_endpoint.updated",
        Some(id),
        serde_json::json!({"changed": changed, "url_host": host_of(&e.url), "status": e.status, "enabled_events": e.enabled_events}),
    )
    .await;
    Ok(e)
}

pub async fn delete_endpoint(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &str,
) -> Result<(), ApiError> {
    state
        .store
        .delete_webhook_endpoint(scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "webhook endpoint", id))?;
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "webhook_endpoint.deleted",
        Some(id),
        serde_json::json!({}),
    )
    .await;
    Ok(())
}

/// How long a rolled secret keeps signing beside the new one (seconds,
/// at most 24 hours).
pub const ROLL_OVERLAPS: &[(i64, &str)] =
    &[(0, "now"), (3_600, "in 1 hour"), (86_400, "in 24 hours")];

/// Gives endpoint `id` a new signing secret; the old one signs beside it
/// for `overlap_secs` more (0 to 24 hours). Returns the new secret.
pub async fn roll_secret(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &str,
    overlap_secs: i64,
) -> Result<(WebhookEndpoint, Secret<String>), ApiError> {
    if !(0..=paylink_store::webhooks::MAX_PREVIOUS_SECRET_SECS).contains(&overlap_secs) {
        return Err(ApiError::invalid(
            Some("expires_in".into()),
            "The old secret may keep signing for 0 to 86400 seconds (24 hours).",
        ));
    }
    let secret = paylink_crypto::webhook::generate().map_err(ApiError::internal)?;
    let now = state.now();
    let e = state
        .store
        .roll_webhook_secret(scope, id, &secret, now, now + overlap_secs)
        .await
        .map_err(|e| ApiError::from_store(e, "webhook endpoint", id))?;
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "webhook_endpoint.secret_rolled",
        Some(id),
        serde_json::json!({"previous_signs_for_secs": overlap_secs}),
    )
    .await;
    Ok((e, secret))
}

/// The current signing secret of endpoint `id`, for an owner or admin who
/// asked to see it; the reveal is in the audit log.
pub async fn reveal_secret(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &str,
) -> Result<Secret<String>, ApiError> {
    let (_, mut secrets) = state
        .store
        .webhook_endpoint_with_secrets(scope, id, state.now())
        .await
        .map_err(|e| ApiError::from_store(e, "webhook endpoint", id))?;
    if secrets.is_empty() {
        return Err(ApiError::no_such("webhook endpoint", id, Some("id")));
    }
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "webhook_endpoint.secret_revealed",
        Some(id),
        serde_json::json!({}),
    )
    .await;
    Ok(secrets.swap_remove(0))
}

/// Sends event `event_id` to endpoint `id` again: only an event that was
/// sent to it (one waiting for a retry is made due now); `false` when it
/// is being attempted this moment.
pub async fn resend(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    id: &str,
    event_id: &str,
) -> Result<bool, ApiError> {
    let queued = match state
        .store
        .resend_event(scope, id, event_id, state.now())
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::invalid_code(
            "resource_missing",
            Some("event".into()),
            format!("Event '{event_id}' was not sent to this endpoint."),
        )),
        r => r.map_err(ApiError::from),
    }?;
    if queued {
        super::trail::audit(
            state,
            Some(&scope.account_id),
            actor,
            "webhook_endpoint.event_resent",
            Some(id),
            serde_json::json!({"event": event_id}),
        )
        .await;
    }
    Ok(queued)
}
