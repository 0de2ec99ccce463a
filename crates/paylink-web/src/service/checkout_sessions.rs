//! Checkout sessions the merchant creates through the API
//! (`POST /v1/checkout/sessions`, Stripe's mode `payment`): what they sell
//! (existing prices, or prices made inline with `price_data`), their rules
//! checked in Stripe's order, each naming its parameter, and their creation.
//! The buyer pays on paylink's checkout page for the session (its `url`).

use std::collections::BTreeMap;

use paylink_domain::catalog::{
    check_custom_fields, check_http_url, check_link_prices, AdjustableQuantity, CustomField,
    LinkLineItem, RuleError, MAX_LINE_ITEMS,
};
use paylink_domain::checkout::{
    client_reference, CheckoutSession, OrderLine, SessionOffer, SessionStatus, SESSION_TTL_SECS,
};
use paylink_domain::{Email, IdKind};
use paylink_store::catalog::PriceProduct;
use paylink_store::{Scope, StoreError};
use serde::Deserialize;

use super::catalog::{build_price, metadata, NewPrice};
use super::new_id;
use super::payment_links::Enabled;
use crate::{ApiError, AppState};

/// Shortest lifetime of a session, from its creation (Stripe's).
pub const MIN_SESSION_SECS: i64 = 30 * 60;

#[derive(Deserialize)]
pub struct NewSessionItem {
    pub price: Option<String>,
    pub price_data: Option<NewPrice>,
    pub quantity: Option<i64>,
    pub adjustable_quantity: Option<AdjustableQuantity>,
}

/// A new checkout session (`POST /v1/checkout/sessions`).
#[derive(Deserialize, Default)]
pub struct NewSession {
    pub mode: Option<String>,
    pub line_items: Option<Vec<NewSessionItem>>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub allow_promotion_codes: Option<bool>,
    pub expires_at: Option<i64>,
    pub billing_address_collection: Option<String>,
    pub phone_number_collection: Option<Enabled>,
    pub submit_type: Option<String>,
    pub custom_fields: Option<Vec<CustomField>>,
    pub ui_mode: Option<String>,
    pub payment_intent_data: Option<super::payment_links::IntentDataArgs>,
    pub custom_text: Option<super::payment_links::CustomTextArgs>,
    pub shipping_address_collection: Option<super::payment_links::ShippingArgs>,
    pub consent_collection: Option<super::payment_links::ConsentArgs>,
    pub discounts: Option<Vec<DiscountArgs>>,
    pub customer: Option<String>,
    pub locale: Option<String>,
    pub currency: Option<String>,
}

/// One of `discounts`: a coupon or a promotion code.
#[derive(Deserialize)]
pub struct DiscountArgs {
    pub coupon: Option<String>,
    pub promotion_code: Option<String>,
}

/// The session's `discounts` (at most one, as Stripe's): the coupon or
/// promotion code must exist and be usable now, an amount off in the
/// session's currency; it can't go with `allow_promotion_codes`.
async fn discount(
    state: &AppState,
    scope: &Scope,
    discounts: Option<Vec<DiscountArgs>>,
    allow_codes: bool,
    currency: paylink_domain::Currency,
    now: i64,
) -> Result<Option<SetDiscount>, ApiError> {
    let mut discounts = discounts.unwrap_or_default();
    if discounts.len() > 1 {
        return Err(ApiError::invalid(
            Some("discounts".into()),
            "A checkout session takes at most one discount.",
        ));
    }
    let Some(d) = discounts.pop() else {
        return Ok(None);
    };
    if allow_codes {
        return Err(ApiError::invalid(
            Some("allow_promotion_codes".into()),
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
        ));
    }
    let (coupon_id, promo) = match (d.coupon, d.promotion_code) {
        (Some(c), None) => (c, None),
        (None, Some(p)) => {
            let promo = match state.store.get_promotion_code(scope, &p).await {
                Ok(promo) => promo,
                Err(StoreError::NotFound) => {
                    return Err(ApiError::no_such(
                        "promotion_code",
                        &p,
                        Some("discounts[0][promotion_code]"),
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            if !promo.active {
                return Err(ApiError::invalid(
                    Some("discounts[0][promotion_code]".into()),
                    "This promotion code is not active.",
                ));
            }
            (promo.coupon.clone(), Some(promo))
        }
        _ => {
            return Err(ApiError::invalid(
                Some("discounts[0]".into()),
                "Each discount takes exactly one of coupon or promotion_code.",
            ))
        }
    };
    let param = if promo.is_some() {
        "discounts[0][promotion_code]"
    } else {
        "discounts[0][coupon]"
    };
    let coupon = match state.store.get_coupon(scope, &coupon_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return Err(ApiError::no_such("coupon", &coupon_id, Some(param)))
        }
        Err(e) => return Err(e.into()),
    };
    // Usable now, in this currency (limits are reserved when the buyer
    // submits the page, where a code that ran out is shown).
    let probe = paylink_domain::Money::new(0, currency)
        .map_err(|e| ApiError::invalid(Some("line_items".into()), e.to_string()))?;
    let checked = match &promo {
        Some(p) => p.check(&coupon, probe, now, true).and_then(|()| {
            if p.restrictions
                .minimum_amount
                .is_some_and(|m| m.currency() != currency)
            {
                Err(paylink_domain::catalog::PromotionRejection::CurrencyMismatch)
            } else {
                Ok(())
            }
        }),
        None => coupon.check(probe, now),
    };
    match checked {
        Ok(()) | Err(paylink_domain::catalog::PromotionRejection::BelowMinimum(_)) => {}
        // The rejection's words are a promotion code's; a coupon given
        // alone is named as one.
        Err(paylink_domain::catalog::PromotionRejection::CurrencyMismatch) if promo.is_none() => {
            return Err(ApiError::invalid(
                Some(param.into()),
                format!(
                    "This coupon is an amount off in another currency: the session is in {}.",
                    currency.code()
                ),
            ))
        }
        Err(r) => return Err(ApiError::invalid(Some(param.into()), r.to_string())),
    }
    let restrictions = promo.as_ref().map(|p| p.restrictions.clone());
    Ok(Some(SetDiscount {
        offer: paylink_domain::checkout::OfferDiscount {
            coupon: coupon.id,
            promotion_code: promo.map(|p| p.id),
        },
        off: coupon.discount,
        restrictions,
    }))
}

/// The session's discount: what it records, what it takes off, and its
/// promotion code's restrictions (the smallest subtotal it applies to).
struct SetDiscount {
    offer: paylink_domain::checkout::OfferDiscount,
    off: paylink_domain::money::Discount,
    restrictions: Option<paylink_domain::catalog::PromotionRestrictions>,
}

/// The session's `customer`: one of the account's customers, not deleted
/// (its email, if any, is the buyer's; `customer_email` can't go with it).
async fn existing_customer(
    state: &AppState,
    scope: &Scope,
    id: &str,
    email_given: bool,
) -> Result<paylink_domain::checkout::Customer, ApiError> {
    if email_given {
        return Err(ApiError::invalid(
            Some("customer_email".into()),
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    match state.store.get_customer(scope, id).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(ApiError::no_such("customer", id, Some("customer"))),
        Err(e) => Err(e.into()),
    }
}

fn missing(param: &str) -> ApiError {
    ApiError::invalid_code(
        "parameter_missing",
        Some(param.into()),
        format!("Missing required param: {param}."),
    )
}

type Price = paylink_domain::catalog::Price;

/// A session's line items, the prices they sell, and those of the prices
/// made inline (with their new products).
struct Items {
    items: Vec<LinkLineItem>,
    prices: Vec<Price>,
    inline: Vec<(PriceProduct, Price)>,
}

/// The line items: each an existing price or one made inline.
async fn items(
    state: &AppState,
    scope: &Scope,
    now: i64,
    given: Vec<NewSessionItem>,
) -> Result<Items, ApiError> {
    if given.is_empty() || given.len() > MAX_LINE_ITEMS {
        return Err(ApiError::invalid(
            Some("line_items".into()),
            format!("A checkout session must have between 1 and {MAX_LINE_ITEMS} line items."),
        ));
    }
    let mut out = Vec::with_capacity(given.len());
    let mut inline = Vec::new();
    let mut prices = Vec::new();
    for (i, it) in given.into_iter().enumerate() {
        let p = |f: &str| format!("line_items[{i}][{f}]");
        let quantity = it.quantity.ok_or_else(|| missing(&p("quantity")))?;
        let price = match (it.price, it.price_data) {
            (Some(id), None) => match state.store.get_price(scope, &id).await {
                Ok(price) => price,
                Err(StoreError::NotFound) => {
                    return Err(ApiError::invalid_code(
                        "resource_missing",
                        Some(p("price")),
                        format!(
                            "No such price: '{}'",
                            id.chars().take(255).collect::<String>()
                        ),
                    ))
                }
                Err(e) => return Err(e.into()),
            },
            (None, Some(data)) => {
                let built = build_price(scope.livemode, now, data)
                    .map_err(|e| e.nested_in(&format!("line_items[{i}][price_data]")))?;
                if let PriceProduct::Existing(id) = &built.product {
                    if let Err(StoreError::NotFound) = state.store.get_product(scope, id).await {
                        return Err(ApiError::invalid_code(
                            "resource_missing",
                            Some(format!("line_items[{i}][price_data][product]")),
                            format!(
                                "No such product: '{}'",
                                id.chars().take(255).collect::<String>()
                            ),
                        ));
                    }
                }
                inline.push((built.product, built.price.clone()));
                built.price
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    Some(p("price")),
                    format!(
                        "You may only specify one of these parameters: {}, {}.",
                        p("price"),
                        p("price_data")
                    ),
                ))
            }
            (None, None) => return Err(missing(&p("price"))),
        };
        out.push(LinkLineItem::new(
            i,
            new_id(IdKind::LineItem)?,
            price.id.clone(),
            quantity,
            it.adjustable_quantity,
        )?);
        prices.push(price);
    }
    check_link_prices(&out, &prices)?;
    // A price made inline belongs to its session: Stripe makes it
    // inactive, so no link or other session sells it.
    for (_, p) in &mut inline {
        p.active = false;
    }
    Ok(Items {
        items: out,
        prices,
        inline,
    })
}

fn url(param: &str, u: Option<String>) -> Result<Option<String>, RuleError> {
    if let Some(u) = &u {
        check_http_url(u, param)?;
    }
    Ok(u)
}

/// Creates an open checkout session; its buyer pays on its `url`.
// Long: Stripe's parameters checked in its order, each naming its
// parameter, before the one store call.
pub async fn create_session(
    state: &AppState,
    scope: &Scope,
    cmd: NewSession,
) -> Result<CheckoutSession, ApiError> {
    let now = state.now();
    match cmd.mode.as_deref() {
        Some("payment") => {}
        Some(_) => {
            return Err(ApiError::invalid(
                Some("mode".into()),
                "paylink takes one-time payments only: mode must be payment.",
            ))
        }
        None => return Err(missing("mode")),
    }
    // stripe-python 16 names the hosted page `hosted_page`; older API
    // versions `hosted`.
    if cmd
        .ui_mode
        .as_deref()
        .is_some_and(|m| m != "hosted" && m != "hosted_page")
    {
        return Err(ApiError::invalid(
            Some("ui_mode".into()),
            "paylink's checkout page is hosted: ui_mode must be hosted_page (or hosted).",
        ));
    }
    let Items {
        items: line_items,
        prices,
        inline,
    } = items(
        state,
        scope,
        now,
        cmd.line_items.ok_or_else(|| missing("line_items"))?,
    )
    .await?;
    let success_url = url("success_url", cmd.success_url)?;
    let cancel_url = url("cancel_url", cmd.cancel_url)?;
    let client_reference_id = match cmd.client_reference_id {
        Some(r) => Some(client_reference(&r).ok_or_else(|| {
            ApiError::invalid(
                Some("client_reference_id".into()),
                "client_reference_id must be 1 to 200 letters, digits, dashes and underscores.",
            )
        })?),
        None => None,
    };
    let customer = match &cmd.customer {
        Some(id) => Some(existing_customer(state, scope, id, cmd.customer_email.is_some()).await?),
        None => None,
    };
    let customer_email = match cmd.customer_email {
        None => customer.as_ref().and_then(|c| c.email.clone()),
        Some(e) => Some(
            Email::parse(&e)
                .map_err(|_| {
                    ApiError::invalid(
                        Some("customer_email".into()),
                        "Invalid email address: customer_email.",
                    )
                })?
                .as_str()
                .to_string(),
        ),
    };
    let expires_at = cmd.expires_at.unwrap_or(now + SESSION_TTL_SECS);
    if expires_at < now + MIN_SESSION_SECS || expires_at > now + SESSION_TTL_SECS {
        return Err(ApiError::invalid(
            Some("expires_at".into()),
            "expires_at must be between 30 minutes and 24 hours after the session's creation.",
        ));
    }
    let custom_fields = cmd.custom_fields.unwrap_or_default();
    check_custom_fields(&custom_fields)?;
    let terms =
        super::payment_links::terms_url_set(state, scope, cmd.consent_collection.is_some()).await?;
    let consent_terms = match &cmd.consent_collection {
        Some(c) => super::payment_links::consent(c, terms)?,
        None => false,
    };
    let custom_text = cmd
        .custom_text
        .map(super::payment_links::custom_text)
        .transpose()?
        .unwrap_or_default();
    super::payment_links::check_terms_text(&custom_text, consent_terms)?;
    let payment_intent_data = cmd
        .payment_intent_data
        .map(super::payment_links::intent_data)
        .transpose()?
        .flatten();
    let mut currency = None;
    let mut lines = Vec::with_capacity(line_items.len());
    let mut subtotal = 0i64;
    let too_large = || {
        ApiError::invalid(
            Some("line_items".into()),
            "The session's total is too large.",
        )
    };
    for item in &line_items {
        let Some(price) = prices.iter().find(|p| p.id == item.price) else {
            return Err(ApiError::internal("a line item's price is missing"));
        };
        let name = match inline.iter().find(|(_, p)| p.id == price.id) {
            Some((PriceProduct::New(product), _)) => product.name.clone(),
            _ => state.store.get_product(scope, &price.product).await?.name,
        };
        // A pay-what-you-want price has no amount until the buyer names it.
        let unit = price.unit_amount().unwrap_or(0);
        let amount = unit.checked_mul(item.quantity).ok_or_else(too_large)?;
        subtotal = subtotal.checked_add(amount).ok_or_else(too_large)?;
        lines.push(OrderLine {
            id: new_id(IdKind::LineItem)?,
            price: price.id.clone(),
            product: price.product.clone(),
            description: name,
            quantity: item.quantity,
            unit_amount: unit,
            amount_subtotal: amount,
            amount_discount: 0,
            amount_total: amount,
        });
        currency.get_or_insert(price.currency);
    }
    let currency = currency.ok_or_else(|| missing("line_items"))?;
    super::payment_links::stated_currency(cmd.currency.as_deref(), currency, "session")?;
    // A total that could never be charged is refused now, not on the
    // buyer's page (Stripe's amount_too_large and amount_too_small); one
    // the buyer still sets (an adjustable quantity, an amount of their
    // choice) is checked on the page.
    let buyer_sets = prices.iter().any(|p| p.custom_unit_amount().is_some())
        || line_items
            .iter()
            .any(|i| i.adjustable_quantity.is_some_and(|a| a.enabled));
    if subtotal > paylink_domain::money::MAX_AMOUNT {
        return Err(ApiError::invalid_code(
            "amount_too_large",
            Some("line_items".into()),
            format!(
                "The session's total must be at most {}.",
                currency.format(paylink_domain::money::MAX_AMOUNT)
            ),
        ));
    }
    if !buyer_sets && subtotal < currency.minimum_charge() {
        return Err(ApiError::invalid_code(
            "amount_too_small",
            Some("line_items".into()),
            format!(
                "The session's total must be at least {}.",
                currency.format(currency.minimum_charge())
            ),
        ));
    }
    let discount = discount(
        state,
        scope,
        cmd.discounts,
        cmd.allow_promotion_codes.unwrap_or(false),
        currency,
        now,
    )
    .await?;
    // The session shows its amounts with the discount from creation, as
    // Stripe's does (the page prices it the same way; a promotion code's
    // minimum not reached yet takes nothing off).
    let applies = discount
        .as_ref()
        .filter(|d| {
            d.restrictions
                .as_ref()
                .is_none_or(|r| r.minimum_reached(subtotal))
        })
        .map(|d| d.off);
    let totals = paylink_domain::checkout::price_order(currency, &mut lines, applies)
        .map_err(|_| too_large())?;
    // A discount that leaves less than can be charged would make a
    // session no buyer can pay (paylink has no free checkout): refused
    // now, naming the discount, as an undiscounted total is above.
    if !buyer_sets
        && totals.discount.amount() > 0
        && totals.total.amount() < currency.minimum_charge()
    {
        return Err(ApiError::invalid_code(
            "amount_too_small",
            Some("discounts".into()),
            format!(
                "With its discount the session's total is {}: it must be at least {}.",
                currency.format(totals.total.amount()),
                currency.format(currency.minimum_charge())
            ),
        ));
    }
    let session = CheckoutSession {
        id: new_id(IdKind::CheckoutSession)?,
        livemode: scope.livemode,
        created: now,
        expires_at,
        payment_link: None,
        status: SessionStatus::Open,
        paid: false,
        currency,
        amount_subtotal: totals.subtotal.amount(),
        amount_discount: totals.discount.amount(),
        amount_total: totals.total.amount(),
        promotion_code: None,
        coupon: None,
        customer_email: customer_email.clone(),
        customer_name: None,
        customer_phone: None,
        customer_address: None,
        custom_fields: Vec::new(),
        line_items: lines,
        metadata: metadata(cmd.metadata.as_ref())?,
        customer: customer.map(|c| c.id),
        payment_intent: None,
        provider: state.provider.name().to_string(),
        provider_ref: None,
        client_reference_id,
        offer: Some(SessionOffer {
            line_items,
            allow_promotion_codes: cmd.allow_promotion_codes.unwrap_or(false),
            billing_address_collection: cmd
                .billing_address_collection
                .unwrap_or_else(|| "auto".into()),
            phone_number_collection: cmd.phone_number_collection.is_some_and(|e| e.enabled),
            submit_type: cmd.submit_type.unwrap_or_else(|| "auto".into()),
            custom_fields,
            success_url,
            cancel_url,
            customer_email,
            custom_text,
            shipping_address_collection: cmd
                .shipping_address_collection
                .map(super::payment_links::shipping)
                .transpose()?,
            consent_terms,
            discount: discount.map(|d| d.offer),
            locale: cmd.locale,
        }),
        link_page: None,
        submitted_at: None,
        payment_intent_data,
        shipping_details: None,
        terms_accepted: false,
    };
    match state
        .store
        .create_api_session(scope, inline, &session)
        .await
    {
        Err(StoreError::Conflict) => Err(ApiError::invalid_code(
            "resource_already_exists",
            Some("line_items".into()),
            "A product named in price_data[product_data][id] already exists.",
        )),
        other => other.map(|()| session).map_err(ApiError::from),
    }
}
