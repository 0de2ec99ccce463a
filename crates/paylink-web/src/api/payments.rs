//! Checkout sessions, payments (`payment_intents`), customers, refunds and
//! QR codes of payment links.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use paylink_domain::catalog::PaymentLink;
use paylink_domain::catalog::RuleError;
use paylink_domain::checkout::{Address, CheckoutSession, Customer, PaymentIntent, Refund};
use paylink_domain::Email;
use paylink_store::checkout::SessionFilter;
use serde::Deserialize;
use serde_json::Value;

use super::{expansions, ok, page_in_memory, ListArgs};
use super::{Empty, RetrieveArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::{customers, refunds};
use crate::AppState;

pub fn expand_params() -> Kind {
    obj(vec![expand()])
}
pub fn session_list_params() -> Kind {
    crate::schema::list_params(vec![
        f(
            "payment_link",
            string(255),
            "Only sessions of this payment link.",
        ),
        f(
            "status",
            one_of(&["open", "complete", "expired"]),
            "Only sessions in this status.",
        ),
        f(
            "payment_intent",
            string(255),
            "Only the session of this payment.",
        ),
    ])
}
pub fn pi_list_params() -> Kind {
    crate::schema::list_params(vec![f(
        "customer",
        string(255),
        "Only payments of this customer.",
    )])
}
pub fn customer_list_params() -> Kind {
    crate::schema::list_params(vec![f(
        "email",
        string(512),
        "Only customers with this email (any letter case).",
    )])
}
fn address_schema() -> Kind {
    obj(vec![
        f("line1", string(200), "Address line 1."),
        f("line2", string(200), "Address line 2."),
        f("city", string(100), "City."),
        f("postal_code", string(20), "Postal code."),
        f("state", string(100), "State or region."),
        f(
            "country",
            string(2),
            "Two-letter country code (ISO 3166-1 alpha-2).",
        ),
    ])
}
pub fn customer_update_params() -> Kind {
    obj(vec![
        f("email", string(254), "The customer's email address.").unsettable(),
        f("name", string(256), "The customer's name.").unsettable(),
        f("phone", string(30), "The customer's phone number.").unsettable(),
        f("address", address_schema(), "The customer's address.").unsettable(),
        metadata(),
        expand(),
    ])
}
pub fn refund_create_params() -> Kind {
    obj(vec![
        req("payment_intent", string(255), "The payment to refund."),
        f(
            "amount",
            int(1, paylink_domain::money::MAX_AMOUNT),
            "Amount to refund in minor units (default: all that is left).",
        ),
        f(
            "reason",
            one_of(&["duplicate", "fraudulent", "requested_by_customer"]),
            "Why the payment is refunded.",
        ),
        metadata(),
        expand(),
    ])
}
pub fn refund_list_params() -> Kind {
    crate::schema::list_params(vec![f(
        "payment_intent",
        string(255),
        "Only refunds of this payment.",
    )])
}

// ------------------------------------------------------------- sessions

/// A session, with its line items when `expand` asks for them.
fn render_session(s: &paylink_domain::checkout::CheckoutSession, with_items: bool) -> Value {
    let items = with_items.then(|| {
        let data = s
            .line_items
            .iter()
            .map(|l| objects::order_line(l, s.currency.code(), None))
            .collect();
        objects::list(
            &format!("/v1/checkout/sessions/{}/line_items", s.id),
            data,
            false,
        )
    });
    objects::checkout_session(s, items)
}

#[derive(Deserialize)]
pub struct SessionList {
    #[serde(flatten)]
    page: ListArgs,
    payment_link: Option<String>,
    status: Option<String>,
    payment_intent: Option<String>,
}

pub async fn list_sessions(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<SessionList>,
) -> Result<Response, ApiError> {
    let exp = expansions(&p.page.expand, &["data.line_items"])?;
    let filter = SessionFilter {
        payment_link: p.payment_link,
        status: p.status,
        payment_intent: p.payment_intent,
        customer: None,
    };
    let page = state
        .store
        .list_sessions(&auth.scope, &filter, &p.page.query()?)
        .await?;
    let mut data = Vec::with_capacity(page.data.len());
    for s in &page.data {
        data.push(render_session(s, !exp.is_empty()));
    }
    Ok(ok(objects::list(
        "/v1/checkout/sessions",
        data,
        page.has_more,
    )))
}

pub async fn retrieve_session(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<CheckoutSession>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let exp = expansions(&p.expand, &["line_items"])?;
    let s = state
        .store
        .get_session(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "checkout.session", &id))?;
    Ok(ok(render_session(&s, !exp.is_empty())))
}

pub async fn session_line_items(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<CheckoutSession>,
    Input(p): Input<ListArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let q = p.query()?;
    let s = state
        .store
        .get_session(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "checkout.session", &id))?;
    let (lines, has_more) =
        page_in_memory(&s.line_items, |l| l.id.as_str(), &q, "checkout session")?;
    let data = lines
        .iter()
        .map(|l| objects::order_line(l, s.currency.code(), None))
        .collect();
    Ok(ok(objects::list(
        &format!("/v1/checkout/sessions/{id}/line_items"),
        data,
        has_more,
    )))
}

pub async fn expire_session(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<CheckoutSession>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let exp = expansions(&p.expand, &["line_items"])?;
    let (s, changed) = state
        .store
        .expire_session(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "checkout.session", &id))?;
    if !changed {
        return Err(ApiError::invalid_code(
            "checkout_session_not_open",
            None,
            format!(
                "Only open checkout sessions can be expired; this one is {}.",
                s.status.as_str()
            ),
        ));
    }
    Ok(ok(render_session(&s, !exp.is_empty())))
}

// ------------------------------------------------------ payment intents

#[derive(Deserialize)]
pub struct PiList {
    #[serde(flatten)]
    page: ListArgs,
    customer: Option<String>,
}

pub async fn list_payment_intents(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<PiList>,
) -> Result<Response, ApiError> {
    expansions(&p.page.expand, &[])?;
    let page = state
        .store
        .list_payment_intents(&auth.scope, p.customer.as_deref(), &p.page.query()?)
        .await?;
    let page = page.map(|x| objects::payment_intent(&x));
    Ok(ok(objects::list(
        "/v1/payment_intents",
        page.data,
        page.has_more,
    )))
}

pub async fn retrieve_payment_intent(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentIntent>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let pi = state
        .store
        .get_payment_intent(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment_intent", &id))?;
    Ok(ok(objects::payment_intent(&pi)))
}

// ------------------------------------------------------------ customers

#[derive(Deserialize)]
pub struct CustomerList {
    #[serde(flatten)]
    page: ListArgs,
    email: Option<String>,
}

pub async fn list_customers(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<CustomerList>,
) -> Result<Response, ApiError> {
    expansions(&p.page.expand, &[])?;
    let page = state
        .store
        .list_customers(&auth.scope, p.email.as_deref(), &p.page.query()?)
        .await?;
    let page = page.map(|x| objects::customer(&x));
    Ok(ok(objects::list("/v1/customers", page.data, page.has_more)))
}

pub async fn retrieve_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let c = state
        .store
        .get_customer(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "customer", &id))?;
    Ok(ok(objects::customer(&c)))
}

#[derive(Deserialize)]
pub struct CustomerUpdate {
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
    expand: Option<Vec<String>>,
}

pub async fn update_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(p): Input<CustomerUpdate>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let email = match p.email {
        Some(Some(e)) => Some(Some(
            Email::parse(&e)
                .map_err(|_| ApiError::invalid(Some("email".into()), "Invalid email address."))?
                .as_str()
                .to_string(),
        )),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(Some(a)) = &p.address {
        if a.country
            .as_deref()
            .is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(ApiError::invalid(
                Some("address[country]".into()),
                "country must be a two-letter code.",
            ));
        }
    }
    let c = state
        .store
        .update_customer(&auth.scope, &id, |c| -> Result<(), RuleError> {
            if let Some(e) = email {
                c.email = e;
            }
            if let Some(n) = p.name {
                c.name = n;
            }
            if let Some(ph) = p.phone {
                c.phone = ph;
            }
            if let Some(a) = p.address {
                c.address = a.map(|a| Address {
                    country: a.country.map(|c| c.to_ascii_uppercase()),
                    ..a
                });
            }
            c.metadata.update(p.metadata)?;
            Ok(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "customer", &id))?;
    Ok(ok(objects::customer(&c)))
}

pub async fn delete_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(_): Input<Empty>,
) -> Result<Response, ApiError> {
    state
        .store
        .delete_customer(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "customer", &id))?;
    Ok(ok(objects::deleted("customer", &id)))
}

/// Erases the customer's personal data (and that of their checkout
/// sessions); amounts and dates stay.
pub async fn redact_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let c = customers::redact(&state, &auth.scope, &auth.key_id, &id).await?;
    Ok(ok(objects::customer(&c)))
}

/// Everything held about a customer, as JSON (a data subject's export).
pub async fn export_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    Ok(ok(customers::export(
        &state,
        &auth.scope,
        &auth.key_id,
        &id,
    )
    .await?))
}

// -------------------------------------------------------------- refunds

#[derive(Deserialize)]
pub struct RefundCreate {
    #[serde(flatten)]
    cmd: refunds::NewRefund,
    expand: Option<Vec<String>>,
}

/// Creates a refund of a payment (see [`refunds::create_refund`]).
pub async fn create_refund(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<RefundCreate>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let r = refunds::create_refund(&state, &auth.scope, p.cmd).await?;
    Ok(ok(objects::refund(&r)))
}

#[derive(Deserialize)]
pub struct RefundList {
    #[serde(flatten)]
    page: ListArgs,
    payment_intent: Option<String>,
}

pub async fn list_refunds(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<RefundList>,
) -> Result<Response, ApiError> {
    expansions(&p.page.expand, &[])?;
    let page = state
        .store
        .list_refunds(&auth.scope, p.payment_intent.as_deref(), &p.page.query()?)
        .await?;
    let page = page.map(|x| objects::refund(&x));
    Ok(ok(objects::list("/v1/refunds", page.data, page.has_more)))
}

pub async fn retrieve_refund(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Refund>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let r = state
        .store
        .get_refund(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "refund", &id))?;
    Ok(ok(objects::refund(&r)))
}

// ----------------------------------------------------------------- QR

async fn link_url(state: &AppState, auth: &Auth, id: &str) -> Result<String, ApiError> {
    let link = state
        .store
        .get_payment_link(&auth.scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment_link", id))?;
    Ok(objects::link_url(&state.public_url, &link))
}

pub async fn qr_svg(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentLink>,
    Input(_): Input<Empty>,
) -> Result<Response, ApiError> {
    let svg = crate::qr::svg(&link_url(&state, &auth, &id).await?)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "image/svg+xml")],
        svg,
    )
        .into_response())
}

pub async fn qr_png(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentLink>,
    Input(_): Input<Empty>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "image/png")],
        crate::qr::png(&link_url(&state, &auth, &id).await?)?,
    )
        .into_response())
}
