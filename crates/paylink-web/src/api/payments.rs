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

use super::{ok, page_in_memory, ListArgs};
use super::{Empty, Items, RetrieveArgs};
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
/// What a session's answer can expand.
/// (`payment_intent.latest_charge` and `.payment_method`, as receipt code
/// asks for them, expand the payment; those fields of it are null.)
const SESSION_EXPAND: &[&str] = &[
    "line_items",
    "line_items.data.price.product",
    "payment_intent",
    "payment_intent.latest_charge",
    "payment_intent.payment_method",
    "customer",
];
/// What a list of sessions can expand.
const SESSIONS_EXPAND: &[&str] = &[
    "data.line_items",
    "data.line_items.data.price.product",
    "data.payment_intent",
    "data.payment_intent.latest_charge",
    "data.payment_intent.payment_method",
    "data.customer",
];
/// A session's retrieve and expire.
pub fn session_params() -> Kind {
    obj(vec![expand_of(SESSION_EXPAND)])
}
/// A line items list: their prices' products.
pub fn line_items_params() -> Kind {
    crate::schema::page_params(&["data.price.product"])
}
pub fn session_list_params() -> Kind {
    crate::schema::list_params_expanding(
        SESSIONS_EXPAND,
        vec![
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
            f(
                "customer",
                string(255),
                "Only the sessions of this customer.",
            ),
        ],
    )
}
/// A payment's retrieve: `latest_charge` and `payment_method` are null
/// (paylink models no charges or payment methods), so expanding them, as
/// receipt-reading code does, answers null as Stripe expands a null field.
pub fn pi_params() -> Kind {
    obj(vec![expand_of(&["latest_charge", "payment_method"])])
}
pub fn pi_list_params() -> Kind {
    crate::schema::list_params_expanding(
        &["data.latest_charge", "data.payment_method"],
        vec![f(
            "customer",
            string(255),
            "Only payments of this customer.",
        )],
    )
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
/// A customer's description, shipping and languages (`unset`: each may be
/// unset by an update).
fn customer_details(unset: bool) -> Vec<Field> {
    let u = |f: Field| if unset { f.unsettable() } else { f };
    vec![
        u(f(
            "description",
            string(5000),
            "A note about the customer (sealed at rest, like their other details).",
        )),
        u(f(
            "shipping",
            obj(vec![
                req("name", string(256), "The recipient's name."),
                f("phone", string(30), "The recipient's phone number."),
                req("address", address_schema(), "Where to ship."),
            ]),
            "Where the customer's orders ship (sealed at rest).",
        )),
        u(f(
            "preferred_locales",
            arr(string(35), 10),
            "The customer's languages, most preferred first (language tags such as en or fr-CA).",
        )),
    ]
}
pub fn customer_update_params() -> Kind {
    let mut fields = vec![
        f("email", string(254), "The customer's email address.").unsettable(),
        f("name", string(256), "The customer's name.").unsettable(),
        f("phone", string(30), "The customer's phone number.").unsettable(),
        f("address", address_schema(), "The customer's address.").unsettable(),
    ];
    fields.extend(customer_details(true));
    fields.extend([metadata(), expand()]);
    obj(fields)
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

/// Order lines as Stripe's items, each with its price as an object (as
/// the SDKs type it), the price's product expanded with `with_product`.
async fn order_items(
    state: &AppState,
    scope: &paylink_store::Scope,
    s: &paylink_domain::checkout::CheckoutSession,
    lines: &[paylink_domain::checkout::OrderLine],
    with_product: bool,
) -> Result<Vec<Value>, ApiError> {
    let mut prices: std::collections::HashMap<&str, Value> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        if !prices.contains_key(l.price.as_str()) {
            let p = state.store.get_price(scope, &l.price).await?;
            let product = if with_product {
                Some(objects::product(
                    &state.store.get_product(scope, &p.product).await?,
                ))
            } else {
                None
            };
            prices.insert(l.price.as_str(), objects::price(&p, product));
        }
        out.push(objects::order_line(
            l,
            s.currency.code(),
            prices.get(l.price.as_str()).cloned(),
        ));
    }
    Ok(out)
}

/// What a session's answer expands: its line items (and their prices'
/// products), its payment intent, its customer.
#[derive(Clone, Copy)]
struct SessionExpand {
    items: Items,
    payment_intent: bool,
    customer: bool,
}

/// The expansions of a session answer; `list`: named under `data.`.
/// (The schema has refused any path but [`SESSION_EXPAND`]'s, or
/// [`SESSIONS_EXPAND`]'s in a list.)
fn session_expansions(expand: &Option<Vec<String>>, list: bool) -> SessionExpand {
    let pre = if list { "data." } else { "" };
    let items = format!("{pre}line_items");
    let deep = format!("{items}.data.price.product");
    let pi = format!("{pre}payment_intent");
    let customer = format!("{pre}customer");
    let exp = expanded(expand);
    SessionExpand {
        items: if exp.contains(&deep) {
            Items::WithProducts
        } else if exp.contains(&items) {
            Items::Yes
        } else {
            Items::No
        },
        payment_intent: exp.iter().any(|e| {
            e == &pi
                || e.strip_prefix(pi.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        }),
        customer: exp.contains(&customer),
    }
}

/// A session, with what `exp` expands.
async fn render_session(
    state: &AppState,
    scope: &paylink_store::Scope,
    s: &paylink_domain::checkout::CheckoutSession,
    exp: SessionExpand,
) -> Result<Value, ApiError> {
    let items = if exp.items == Items::No {
        None
    } else {
        let with_product = exp.items == Items::WithProducts;
        let data = order_items(state, scope, s, &s.line_items, with_product).await?;
        Some(objects::list(
            &format!("/v1/checkout/sessions/{}/line_items", s.id),
            data,
            false,
        ))
    };
    let mut v = objects::checkout_session(s, &state.public_url, items);
    let mut expanded = serde_json::Map::new();
    if let (true, Some(id)) = (exp.payment_intent, &s.payment_intent) {
        let pi = state.store.get_payment_intent(scope, id).await?;
        expanded.insert("payment_intent".into(), objects::payment_intent(&pi));
    }
    if let (true, Some(id)) = (exp.customer, &s.customer) {
        let c = match state.store.get_customer(scope, id).await {
            Ok(c) => objects::customer(&c),
            // Deleted since: Stripe's deleted stub.
            Err(paylink_store::StoreError::NotFound) => objects::deleted("customer", id),
            Err(e) => return Err(e.into()),
        };
        expanded.insert("customer".into(), c);
    }
    if let Some(m) = v.as_object_mut() {
        m.extend(expanded);
    }
    Ok(v)
}

/// `POST /v1/checkout/sessions` (mode payment).
pub fn session_create_params() -> Kind {
    use super::payment_links::{adjustable_schema, common_fields, custom_fields_schema};
    let max_qty = paylink_domain::catalog::MAX_ADJUSTABLE_QUANTITY;
    let price_data = obj(vec![
        req(
            "currency",
            string(3),
            "Three-letter ISO currency code, lower case.",
        ),
        f(
            "unit_amount",
            int(0, paylink_domain::money::MAX_AMOUNT),
            "Amount in minor units.",
        ),
        f(
            "unit_amount_decimal",
            Kind::Decimal,
            "The amount as a decimal string, a whole number of minor units (1999 or 1999.00).",
        ),
        f(
            "product",
            string(255),
            "The product this price is for (or product_data).",
        ),
        f(
            "product_data",
            obj(vec![
                req("name", string(250), "The new product's name."),
                f(
                    "description",
                    string(40000),
                    "A description shown to buyers.",
                ),
                f("images", arr(string(2048), 8), "Up to 8 image URLs."),
                metadata(),
            ]),
            "A new product this price is for.",
        ),
        f(
            "tax_behavior",
            one_of(&["unspecified"]),
            "Only unspecified: paylink calculates no tax.",
        ),
    ]);
    let mut fields = vec![
        req("mode", one_of(&["payment", "setup", "subscription"]), "Only payment: paylink takes one-time payments."),
        req(
            "line_items",
            arr(
                obj(vec![
                    f("price", string(255), "The price of this line item (or price_data)."),
                    f("price_data", price_data, "A price made for this session (inactive, as Stripe's)."),
                    req("quantity", int(0, max_qty), "Quantity, 1 to 999 (0 allowed with an adjustable quantity)."),
                    f("adjustable_quantity", adjustable_schema(), "Lets the buyer change the quantity."),
                ]),
                paylink_domain::catalog::MAX_LINE_ITEMS,
            ),
            "What the session sells: 1 to 20 line items in one currency.",
        ),
        f("success_url", string(2048), "Where the buyer goes after paying; {CHECKOUT_SESSION_ID} is replaced by the session id (default: paylink's confirmation page)."),
        f("cancel_url", string(2048), "Where the buyer goes who leaves the payment page."),
        f("client_reference_id", string(200), "Your own reference: 1 to 200 letters, digits, dashes and underscores."),
        f("customer_email", string(254), "The buyer's email, shown read-only on the page (not with customer)."),
        f("customer", string(255), "An existing customer the payment is for: their email is the buyer's, and the payment is theirs (no new customer is made)."),
        f("currency", string(3), "The session's currency: that of its prices (a session is in one currency)."),
        f("locale", one_of(&["auto", "en", "en-GB"]), "The page's language: paylink's checkout page is in English; auto formats amounts as the buyer's browser asks, en and en-GB always in English style."),
        f("expires_at", int(0, i64::from(i32::MAX)), "When the session expires: 30 minutes to 24 hours after creation (default 24 hours)."),
        f("custom_fields", custom_fields_schema(), "Up to 3 questions for the buyer."),
        f(
            "adaptive_pricing",
            obj(vec![req("enabled", Kind::Bool, "Must be false.")]),
            "Accepted at its off value only: prices are charged in their own currency.",
        ),
        f(
            "after_expiration",
            obj(vec![req(
                "recovery",
                obj(vec![
                    req("enabled", Kind::Bool, "Must be false."),
                    f("allow_promotion_codes", Kind::Bool, "Accepted."),
                ]),
                "Recovery of expired sessions.",
            )]),
            "Accepted at its off value only: no recovery link is made.",
        ),
        f(
            "saved_payment_method_options",
            obj(vec![f(
                "payment_method_save",
                one_of(&["disabled"]),
                "Only disabled: paylink saves no card.",
            )]),
            "Accepted at its off value only.",
        ),
        f("ui_mode", one_of(&["hosted", "hosted_page"]), "Only the hosted page (hosted_page, or hosted): the buyer pays on the session's url."),
        f(
            "discounts",
            arr(
                obj(vec![
                    f("coupon", string(255), "A coupon applied as it is (no code for the buyer to type)."),
                    f("promotion_code", string(255), "A promotion code (and its coupon), shown as applied."),
                ]),
                1,
            ),
            "The discount of the session (at most one; not with allow_promotion_codes): applied on its page and reserved when the buyer submits it.",
        ),
    ];
    fields.extend(
        common_fields()
            .into_iter()
            .filter(|f| f.name != "after_completion"),
    );
    fields.push(expand_of(SESSION_EXPAND));
    obj(fields)
}

#[derive(Deserialize)]
pub struct SessionCreate {
    #[serde(flatten)]
    cmd: crate::service::checkout_sessions::NewSession,
    #[serde(flatten)]
    off: super::payment_links::OffFeatures,
    expand: Option<Vec<String>>,
}

pub async fn create_session(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<SessionCreate>,
) -> Result<Response, ApiError> {
    let exp = session_expansions(&p.expand, false);
    p.off.check()?;
    let s = crate::service::checkout_sessions::create_session(&state, &auth.scope, p.cmd).await?;
    Ok(ok(render_session(&state, &auth.scope, &s, exp).await?))
}

#[derive(Deserialize)]
pub struct SessionList {
    #[serde(flatten)]
    page: ListArgs,
    payment_link: Option<String>,
    status: Option<String>,
    payment_intent: Option<String>,
    customer: Option<String>,
}

pub async fn list_sessions(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<SessionList>,
) -> Result<Response, ApiError> {
    let exp = session_expansions(&p.page.expand, true);
    let filter = SessionFilter {
        payment_link: p.payment_link,
        status: p.status,
        payment_intent: p.payment_intent,
        customer: p.customer,
    };
    let page = state
        .store
        .list_sessions(&auth.scope, &filter, &p.page.query()?)
        .await?;
    let mut data = Vec::with_capacity(page.data.len());
    for s in &page.data {
        data.push(render_session(&state, &auth.scope, s, exp).await?);
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
    let exp = session_expansions(&p.expand, false);
    let s = state
        .store
        .get_session(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "checkout.session", &id))?;
    Ok(ok(render_session(&state, &auth.scope, &s, exp).await?))
}

pub async fn session_line_items(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<CheckoutSession>,
    Input(p): Input<ListArgs>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let q = p.query()?;
    let s = state
        .store
        .get_session(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "checkout.session", &id))?;
    let (lines, has_more) =
        page_in_memory(&s.line_items, |l| l.id.as_str(), &q, "checkout session")?;
    let data = order_items(&state, &auth.scope, &s, lines, !exp.is_empty()).await?;
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
    let exp = session_expansions(&p.expand, false);
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
    Ok(ok(render_session(&state, &auth.scope, &s, exp).await?))
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
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let pi = state
        .store
        .get_payment_intent(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment_intent", &id))?;
    Ok(ok(objects::payment_intent(&pi)))
}

pub fn pi_update_params() -> Kind {
    obj(vec![
        f(
            "description",
            string(paylink_domain::catalog::MAX_PAYMENT_DESCRIPTION),
            "What the payment is for (empty to unset).",
        )
        .unsettable(),
        metadata(),
        expand(),
    ])
}

#[derive(Deserialize)]
pub struct PiUpdate {
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
}

/// `POST /v1/payment_intents/{id}`: what the merchant may change on a
/// payment (its description and metadata; the amount and the card are
/// the provider's).
pub async fn update_payment_intent(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentIntent>,
    Input(p): Input<PiUpdate>,
) -> Result<Response, ApiError> {
    let pi = state
        .store
        .update_payment_intent(&auth.scope, &id, |pi| {
            if let Some(d) = p.description {
                if let Some(d) = &d {
                    paylink_domain::catalog::check_text(
                        "description",
                        d,
                        paylink_domain::catalog::MAX_PAYMENT_DESCRIPTION,
                    )?;
                }
                pi.description = d;
            }
            pi.metadata.update(p.metadata)
        })
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
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let c = match state.store.get_customer(&auth.scope, &id).await {
        Ok(c) => c,
        // A deleted customer retrieves as Stripe's deleted stub.
        Err(paylink_store::StoreError::NotFound)
            if state.store.customer_deleted(&auth.scope, &id).await? =>
        {
            return Ok(ok(objects::deleted("customer", &id)));
        }
        Err(e) => return Err(ApiError::from_store(e, "customer", &id)),
    };
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
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    shipping: Option<Option<ShippingArgs>>,
    #[serde(default, deserialize_with = "double_option")]
    preferred_locales: Option<Option<Vec<String>>>,
}

/// A customer's `shipping` as sent.
#[derive(Deserialize)]
pub struct ShippingArgs {
    name: String,
    phone: Option<String>,
    address: Address,
}

impl ShippingArgs {
    fn checked(self) -> Result<paylink_domain::checkout::CustomerShipping, ApiError> {
        let address = customer_address(self.address).map_err(|e| e.nested_in("shipping"))?;
        Ok(paylink_domain::checkout::CustomerShipping {
            name: self.name,
            phone: self.phone,
            address,
        })
    }
}

/// Language tags: letters, digits and dashes, starting with a letter.
fn locales(list: Vec<String>) -> Result<Vec<String>, ApiError> {
    for (i, l) in list.iter().enumerate() {
        let ok = l.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric())
        }) && l.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
        if !ok {
            return Err(ApiError::invalid(
                Some(format!("preferred_locales[{i}]")),
                "Each preferred locale is a language tag such as en or fr-CA.",
            ));
        }
    }
    Ok(list)
}

pub async fn update_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(p): Input<CustomerUpdate>,
) -> Result<Response, ApiError> {
    let email = p
        .email
        .map(|e| e.as_deref().map(customer_email).transpose())
        .transpose()?;
    let address = p
        .address
        .map(|a| a.map(customer_address).transpose())
        .transpose()?;
    let shipping = p
        .shipping
        .map(|s| s.map(ShippingArgs::checked).transpose())
        .transpose()?;
    let preferred = p
        .preferred_locales
        .map(|l| locales(l.unwrap_or_default()))
        .transpose()?;
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
            if let Some(a) = address {
                c.address = a;
            }
            if let Some(d) = p.description {
                c.description = d;
            }
            if let Some(s) = shipping {
                c.shipping = s;
            }
            if let Some(l) = preferred {
                c.preferred_locales = l;
            }
            c.metadata.update(p.metadata)?;
            Ok(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "customer", &id))?;
    Ok(ok(objects::customer(&c)))
}

/// A customer's email, checked and normalised.
fn customer_email(e: &str) -> Result<String, ApiError> {
    Ok(Email::parse(e)
        .map_err(|_| ApiError::invalid(Some("email".into()), "Invalid email address."))?
        .as_str()
        .to_string())
}

/// A customer's address, its country a two-letter code in capitals.
fn customer_address(a: Address) -> Result<Address, ApiError> {
    if a.country
        .as_deref()
        .is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(ApiError::invalid(
            Some("address[country]".into()),
            "country must be a two-letter code.",
        ));
    }
    Ok(Address {
        country: a.country.map(|c| c.to_ascii_uppercase()),
        ..a
    })
}

#[derive(Deserialize)]
pub struct CustomerCreate {
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    address: Option<Address>,
    metadata: Option<BTreeMap<String, String>>,
    description: Option<String>,
    shipping: Option<ShippingArgs>,
    preferred_locales: Option<Vec<String>>,
}

pub fn customer_create_params() -> Kind {
    let mut fields = vec![
        f("email", string(254), "The customer's email address."),
        f("name", string(256), "The customer's name."),
        f("phone", string(30), "The customer's phone number."),
        f("address", address_schema(), "The customer's address."),
    ];
    fields.extend(customer_details(false));
    fields.extend([metadata(), expand()]);
    obj(fields)
}

/// `POST /v1/customers`: a customer made by the merchant (buyers become
/// customers when they pay).
pub async fn create_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<CustomerCreate>,
) -> Result<Response, ApiError> {
    let c = Customer {
        id: crate::service::new_id(paylink_domain::IdKind::Customer)?,
        livemode: auth.scope.livemode,
        created: state.now(),
        email: p.email.as_deref().map(customer_email).transpose()?,
        name: p.name,
        phone: p.phone,
        address: p.address.map(customer_address).transpose()?,
        metadata: crate::service::catalog::metadata(p.metadata.as_ref())?,
        description: p.description,
        shipping: p.shipping.map(ShippingArgs::checked).transpose()?,
        preferred_locales: locales(p.preferred_locales.unwrap_or_default())?,
    };
    state.store.create_customer(&auth.scope, &c).await?;
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
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let c = customers::redact(&state, &auth.scope, &auth.key_id, &id).await?;
    Ok(ok(objects::customer(&c)))
}

/// Everything held about a customer, as JSON (a data subject's export).
pub async fn export_customer(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Customer>,
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
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
}

/// Creates a refund of a payment (see [`refunds::create_refund`]).
pub async fn create_refund(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<RefundCreate>,
) -> Result<Response, ApiError> {
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
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
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
