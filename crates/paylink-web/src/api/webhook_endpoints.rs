//! `/v1/webhook_endpoints` — where events are posted, signed: Stripe's
//! scheme (`Stripe-Signature`) and Standard Webhooks' side by side. The
//! signing secret is in the answer to the create (and to a roll) only.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::id::WebhookEndpoint;
use serde::Deserialize;
use serde_json::Value;

use super::{ok, Empty, ListArgs, RetrieveArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::webhooks::{self as service, EndpointChange, NewEndpoint};
use crate::AppState;

const EVENTS_DOC: &str = "Event types to send ('*': all). paylink sends checkout.session.completed and .expired, coupon.created, .updated and .deleted, payment_link.created and .updated, price.created and .updated, product.created and .updated, promotion_code.created and .updated; Stripe's other types for these objects are accepted but not yet sent.";

pub fn create_params() -> Kind {
    obj(vec![
        req("url", string(5_000), "The URL events are posted to: https in live mode; never an internal address."),
        req("enabled_events", arr(string(100), 250), EVENTS_DOC),
        f("description", string(5_000), "A description of the endpoint.").unsettable(),
        f("api_version", string(100), "The API version events are rendered in; paylink renders them in its one version (2026-10-28.endive)."),
        f("connect", Kind::Bool, "Accepted as false only: paylink has no connected accounts."),
        metadata(),
        expand(),
    ])
}
pub fn update_params() -> Kind {
    obj(vec![
        f("url", string(5_000), "The URL events are posted to."),
        f("enabled_events", arr(string(100), 250), EVENTS_DOC),
        f(
            "description",
            string(5_000),
            "A description of the endpoint.",
        )
        .unsettable(),
        f(
            "disabled",
            Kind::Bool,
            "Stop (true) or resume (false) deliveries to the endpoint.",
        ),
        metadata(),
        expand(),
    ])
}
pub fn roll_params() -> Kind {
    obj(vec![
        f(
            "expires_in",
            int(0, paylink_store::webhooks::MAX_PREVIOUS_SECRET_SECS),
            "Seconds the old secret keeps signing beside the new one (0 to 86400; default 86400).",
        ),
        expand(),
    ])
}
pub fn retrieve_params() -> Kind {
    obj(vec![expand()])
}
pub fn delete_params() -> Kind {
    obj(vec![])
}
pub fn list_params() -> Kind {
    crate::schema::list_params(vec![])
}

/// The endpoint, with its secret when it was just made or rolled.
fn render(e: &paylink_store::webhooks::WebhookEndpoint, secret: Option<&str>) -> Value {
    let mut v = objects::webhook_endpoint(e);
    if let (Some(s), Value::Object(m)) = (secret, &mut v) {
        m.insert("secret".into(), Value::String(s.to_string()));
    }
    v
}

/// The audit log's actor: the key.
fn actor(auth: &Auth) -> String {
    auth.key_id.clone()
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(flatten)]
    cmd: NewEndpoint,
    connect: Option<bool>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    if p.connect == Some(true) {
        return Err(ApiError::invalid(
            Some("connect".into()),
            "paylink has no connected accounts: connect can only be false.",
        ));
    }
    if let Some(v) = &p.cmd.api_version {
        if v != crate::STRIPE_VERSION {
            return Err(ApiError::invalid(
                Some("api_version".into()),
                format!(
                    "paylink renders events in API version {} only.",
                    crate::STRIPE_VERSION
                ),
            ));
        }
    }
    let (e, secret) = service::create_endpoint(&state, &auth.scope, &actor(&auth), p.cmd).await?;
    Ok(ok(render(&e, Some(secret.expose()))))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<WebhookEndpoint>,
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let e = state
        .store
        .get_webhook_endpoint(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "webhook endpoint", &id))?;
    Ok(ok(render(&e, None)))
}

#[derive(Deserialize)]
pub struct Update {
    url: Option<String>,
    enabled_events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<WebhookEndpoint>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    let change = EndpointChange {
        url: p.url,
        enabled_events: p.enabled_events,
        description: p.description,
        disabled: p.disabled,
        metadata: p.metadata,
    };
    let e = service::update_endpoint(&state, &auth.scope, &actor(&auth), &id, change).await?;
    Ok(ok(render(&e, None)))
}

#[derive(Deserialize)]
pub struct Roll {
    expires_in: Option<i64>,
}

/// `POST /v1/webhook_endpoints/{id}/roll_secret` (a paylink extension;
/// Stripe rolls in its dashboard): a new secret, the old one signing
/// beside it until it expires.
pub async fn roll_secret(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<WebhookEndpoint>,
    Input(p): Input<Roll>,
) -> Result<Response, ApiError> {
    let overlap = p
        .expires_in
        .unwrap_or(paylink_store::webhooks::MAX_PREVIOUS_SECRET_SECS);
    let (e, secret) =
        service::roll_secret(&state, &auth.scope, &actor(&auth), &id, overlap).await?;
    Ok(ok(render(&e, Some(secret.expose()))))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<WebhookEndpoint>,
    Input(_): Input<Empty>,
) -> Result<Response, ApiError> {
    service::delete_endpoint(&state, &auth.scope, &actor(&auth), &id).await?;
    Ok(ok(objects::deleted("webhook_endpoint", &id)))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<ListArgs>,
) -> Result<Response, ApiError> {
    let page = state
        .store
        .list_webhook_endpoints(&auth.scope, &p.query()?)
        .await?;
    let page = page.map(|e| render(&e, None));
    Ok(ok(objects::list(
        "/v1/webhook_endpoints",
        page.data,
        page.has_more,
    )))
}
