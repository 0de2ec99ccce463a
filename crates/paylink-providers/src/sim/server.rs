//! The sim's HTTP server: its API (merchants, payments, refunds), checked
//! against the merchant's secret key, and the routes of its hosted pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use paylink_domain::Currency;
use serde::Deserialize;
use serde_json::json;

use super::pages::{card_page, challenge_page, not_found, parse_exp, FormErrors, CSS};
use super::records::SimState;
use super::{lock, merchant_key, random_id, CreatePayment, SimConfig, SimPayment, SimStatus};
use crate::sim_cards::{self, CardError, Outcome};

/// Whether `url` is an absolute http(s) URL (no `javascript:` or `data:`).
fn web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn form_map(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn api_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"type": "invalid_request_error", "message": message}})),
    )
        .into_response()
}

/// The merchant whose key the request carries and its JSON body as a `T`,
/// or the status and message to answer (`invalid` when the body is not one).
fn authorized<T: serde::de::DeserializeOwned>(
    s: &SimState,
    headers: &HeaderMap,
    body: &[u8],
    invalid: &'static str,
) -> Result<(String, T), (StatusCode, &'static str)> {
    let merchant = s
        .merchant(headers)
        .ok_or((StatusCode::UNAUTHORIZED, "Invalid sim secret key."))?;
    let req = serde_json::from_slice::<T>(body).map_err(|_| (StatusCode::BAD_REQUEST, invalid))?;
    Ok((merchant, req))
}

async fn create_payment(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (merchant, req) =
        match authorized::<CreatePayment>(&s, &headers, &body, "Invalid payment request.") {
            Ok(x) => x,
            Err((status, message)) => return api_error(status, message),
        };
    if req.amount < 0 || req.currency.parse::<Currency>().is_err() {
        return api_error(StatusCode::BAD_REQUEST, "Invalid amount or currency.");
    }
    if !web_url(&req.return_url) || !web_url(&req.cancel_url) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "return_url and cancel_url must be http(s) URLs.",
        );
    }
    let id = random_id("simpay_");
    let url = format!("{}/pay/{id}", s.cfg.origin);
    lock(&s.payments).insert(
        id.clone(),
        SimPayment {
            created: s.cfg.clock.now(),
            id: id.clone(),
            merchant,
            req,
            status: SimStatus::RequiresPaymentMethod,
            refunded: 0,
        },
    );
    s.save().await;
    Json(json!({"id": id, "url": url})).into_response()
}

#[derive(Deserialize)]
struct RefundReq {
    payment: String,
    amount: i64,
    idempotency_key: String,
}

async fn create_refund(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (merchant, req) =
        match authorized::<RefundReq>(&s, &headers, &body, "Invalid refund request.") {
            Ok(x) => x,
            Err((status, message)) => return api_error(status, message),
        };
    let refund_key = format!("{merchant}/{}", req.idempotency_key);
    // The key is checked and recorded under one lock, so two calls with
    // the same key at once refund once.
    let made = {
        let mut refunds = lock(&s.refunds);
        if let Some(id) = refunds.get(&refund_key) {
            Ok((id.clone(), false))
        } else {
            let mut payments = lock(&s.payments);
            match payments
                .get_mut(&req.payment)
                .filter(|p| p.merchant == merchant)
            {
                None => Err(api_error(StatusCode::NOT_FOUND, "No such payment.")),
                Some(p)
                    if !matches!(p.status, SimStatus::Succeeded { .. })
                        || req.amount < 1
                        || p.refunded + req.amount > p.req.amount =>
                {
                    Err(api_error(
                        StatusCode::BAD_REQUEST,
                        "This refund is not possible.",
                    ))
                }
                Some(p) => {
                    p.refunded += req.amount;
                    let id = random_id("simre_");
                    refunds.insert(refund_key, id.clone());
                    Ok((id, true))
                }
            }
        }
    };
    let id = match made {
        Ok((id, true)) => {
            s.save().await;
            id
        }
        Ok((id, false)) => id,
        Err(resp) => return resp,
    };
    Json(json!({"id": id})).into_response()
}

async fn show_card_page(State(s): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    match s.payment(&id) {
        None => not_found(),
        Some(p) if matches!(p.status, SimStatus::Succeeded { .. }) => {
            Redirect::to(&p.req.return_url).into_response()
        }
        Some(p) => card_page(&p, &FormErrors::default(), "", ""),
    }
}

// Long: the sim's card outcomes (declined, insufficient funds, 3-D Secure,
// paid) decided in one place, as a real provider's hosted page decides them.
async fn submit_card(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(p) = s.payment(&id) else {
        return not_found();
    };
    if matches!(p.status, SimStatus::Succeeded { .. }) {
        return Redirect::to(&p.req.return_url).into_response();
    }
    let form = form_map(&body);
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let (number, exp, cvc, name) = (get("number"), get("exp"), get("cvc"), get("name"));
    let mut errors = FormErrors::default();
    if name.is_empty() {
        errors.name = Some("Enter the name on the card.".into());
    }
    let (now_year, now_month) = paylink_domain::clock::year_month(s.cfg.clock.now());
    let checked = sim_cards::validate(
        &number,
        parse_exp(&exp),
        &cvc,
        u32::try_from(now_year).unwrap_or(0),
        now_month,
    );
    let card = match checked {
        Ok(card) => Some(card),
        Err(problems) => {
            for e in problems {
                let msg = Some(e.to_string());
                match e {
                    CardError::InvalidNumber => errors.number = msg,
                    CardError::InvalidExpiry | CardError::Expired => errors.exp = msg,
                    CardError::InvalidCvc => errors.cvc = msg,
                }
            }
            None
        }
    };
    let Some((digits, brand)) = card.filter(|_| errors.name.is_none()) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            card_page(&p, &errors, &name, &exp),
        )
            .into_response();
    };
    let last4 = digits
        .get(digits.len().saturating_sub(4)..)
        .unwrap_or("")
        .to_string();
    match sim_cards::outcome(&digits, p.req.require_3ds) {
        Outcome::Succeeds => {
            s.succeed(&p, brand.as_str().into(), last4).await;
            Redirect::to(&p.req.return_url).into_response()
        }
        Outcome::Declined => {
            let message = "Your card was declined. Try another card.";
            s.fail(
                &p,
                Some((brand.as_str().into(), last4)),
                ("card_declined", Some("generic_decline"), message),
            )
            .await;
            errors.alert = Some(message.into());
            (
                StatusCode::PAYMENT_REQUIRED,
                card_page(&p, &errors, &name, &exp),
            )
                .into_response()
        }
        Outcome::InsufficientFunds => {
            let message = "Your card has insufficient funds. Try another card.";
            s.fail(
                &p,
                Some((brand.as_str().into(), last4)),
                ("card_declined", Some("insufficient_funds"), message),
            )
            .await;
            errors.alert = Some(message.into());
            (
                StatusCode::PAYMENT_REQUIRED,
                card_page(&p, &errors, &name, &exp),
            )
                .into_response()
        }
        Outcome::RequiresChallenge => {
            s.set_status(
                &p.id,
                SimStatus::RequiresAction {
                    brand: brand.as_str().into(),
                    last4,
                },
            )
            .await;
            Redirect::to(&format!("/3ds/{}", p.id)).into_response()
        }
    }
}

async fn show_challenge(State(s): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    let Some(p) = s.payment(&id) else {
        return not_found();
    };
    let SimStatus::RequiresAction { last4, .. } = &p.status else {
        return Redirect::to(&format!("/pay/{id}")).into_response();
    };
    challenge_page(&p, last4)
}

async fn answer_challenge(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(p) = s.payment(&id) else {
        return not_found();
    };
    let SimStatus::RequiresAction { brand, last4 } = p.status.clone() else {
        return Redirect::to(&format!("/pay/{id}")).into_response();
    };
    if form_map(&body).get("action").map(String::as_str) == Some("approve") {
        s.succeed(&p, brand, last4).await;
        return Redirect::to(&p.req.return_url).into_response();
    }
    s.set_status(&id, SimStatus::RequiresPaymentMethod).await;
    let message = "We are unable to authenticate your payment method. Choose another payment method and try again.";
    s.fail(
        &p,
        Some((brand, last4)),
        ("payment_intent_authentication_failure", None, message),
    )
    .await;
    let errors = FormErrors {
        alert: Some(message.into()),
        ..FormErrors::default()
    };
    (StatusCode::PAYMENT_REQUIRED, card_page(&p, &errors, "", "")).into_response()
}

/// The sim's sign-up: a new test merchant and its secret key (shown once).
async fn create_merchant(State(s): State<Arc<SimState>>) -> Response {
    let id = random_id("simm");
    let key = merchant_key(&s.cfg.issuing_key, &id);
    Json(json!({"id": id, "object": "sim.merchant", "secret_key": key.expose()})).into_response()
}

/// The merchant a key belongs to (how paylink validates a pasted key).
async fn current_merchant(State(s): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    match s.merchant(&headers) {
        Some(id) => Json(json!({"id": id, "object": "sim.merchant"})).into_response(),
        None => api_error(StatusCode::UNAUTHORIZED, "Invalid sim secret key."),
    }
}

/// The sim's HTTP server.
pub fn router(cfg: SimConfig) -> Router {
    let state = Arc::new(SimState::new(cfg));
    // Webhooks a previous run had not delivered.
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        for event in lock(&state.outbox).clone() {
            let me = state.clone();
            handle.spawn(async move { me.deliver_until_accepted(event).await });
        }
    }
    Router::new()
        .route("/v1/merchants", post(create_merchant))
        .route("/v1/merchant", get(current_merchant))
        .route("/v1/payments", post(create_payment))
        .route("/v1/refunds", post(create_refund))
        .route("/pay/{id}", get(show_card_page).post(submit_card))
        .route("/3ds/{id}", get(show_challenge).post(answer_challenge))
        .route(
            "/assets/sim.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], CSS) }),
        )
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// The headers every sim answer carries (JSON as well as pages); a page's
/// own CSP, set where it is made, is kept.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}
