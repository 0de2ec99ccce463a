//! Payment links: the typed command of a new link, its rules, and its
//! creation, together with a new price (and product) in one transaction
//! when the dashboard sells something not yet in the catalog.

use std::collections::BTreeMap;

use paylink_domain::catalog::{
    check_custom_fields, check_http_url, check_link_prices, check_range, check_slug,
    check_statement_descriptor, check_text, AdjustableQuantity, AfterCompletion, CustomField,
    CustomText, LinkLineItem, PaymentIntentData, PaymentLink, RuleError, ShippingAddressCollection,
    MAX_CUSTOM_TEXT, MAX_PAYMENT_DESCRIPTION,
};
use paylink_domain::{Id, IdKind};
use paylink_store::{Scope, StoreError};
use serde::Deserialize;

use crate::extract::double_option;

use super::catalog::{build_price, metadata, product_id_taken, NewPrice};
use super::new_id;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub struct NewLineItem {
    pub price: String,
    pub quantity: i64,
    pub adjustable_quantity: Option<AdjustableQuantity>,
}

#[derive(Deserialize)]
pub struct HostedArgs {
    pub custom_message: Option<String>,
}

#[derive(Deserialize)]
pub struct RedirectArgs {
    pub url: String,
}

#[derive(Deserialize)]
pub struct AfterArgs {
    #[serde(rename = "type")]
    pub kind: String,
    pub hosted_confirmation: Option<HostedArgs>,
    pub redirect: Option<RedirectArgs>,
}

#[derive(Deserialize)]
pub struct CompletedArgs {
    pub limit: i64,
}

#[derive(Deserialize)]
pub struct RestrictionArgs {
    pub completed_sessions: CompletedArgs,
}

#[derive(Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// One text of `custom_text`.
#[derive(Deserialize)]
pub struct Message {
    pub message: String,
}

/// `custom_text`: the texts beside the Pay button and above the shipping
/// address form. A text for a feature paylink does not offer (terms to
/// accept) is refused by the parameter schema.
#[derive(Deserialize)]
pub struct CustomTextArgs {
    #[serde(default, deserialize_with = "double_option")]
    pub submit: Option<Option<Message>>,
    #[serde(default, deserialize_with = "double_option")]
    pub after_submit: Option<Option<Message>>,
    #[serde(default, deserialize_with = "double_option")]
    pub shipping_address: Option<Option<Message>>,
    #[serde(default, deserialize_with = "double_option")]
    pub terms_of_service_acceptance: Option<Option<Message>>,
}

/// `consent_collection`: what the buyer is asked to agree to.
#[derive(Deserialize)]
pub struct ConsentArgs {
    pub terms_of_service: Option<String>,
    pub promotions: Option<String>,
    pub payment_method_reuse_agreement: Option<ReuseArgs>,
}

/// Where Stripe shows its text about saving a card (paylink saves none,
/// so either position shows nothing).
#[derive(Deserialize)]
pub struct ReuseArgs {
    pub position: String,
}

/// Whether `consent_collection` asks the buyer to accept the terms of
/// service; that needs the account's terms URL (`terms_url_set`).
/// Consent to promotional emails is not collected: only `none`.
pub fn consent(a: &ConsentArgs, terms_url_set: bool) -> Result<bool, RuleError> {
    if a.promotions.as_deref().is_some_and(|p| p != "none") {
        return Err(RuleError::new(
            "consent_collection[promotions]",
            "paylink does not collect consent to promotional emails: consent_collection[promotions] can only be none.",
        ));
    }
    let required = a.terms_of_service.as_deref() == Some("required");
    if required && !terms_url_set {
        return Err(RuleError::new(
            "consent_collection[terms_of_service]",
            "You cannot collect consent to your terms of service unless a URL is set in your account's settings (dashboard, Settings, Terms of service URL).",
        ));
    }
    Ok(required)
}

/// Whether the account has a terms of service URL, read only when
/// `consent_collection` is given.
pub async fn terms_url_set(state: &AppState, scope: &Scope, asked: bool) -> Result<bool, ApiError> {
    Ok(asked
        && state
            .store
            .account_settings(&scope.account_id)
            .await?
            .terms_url
            .is_some())
}

/// A checkbox label needs the checkbox.
pub fn check_terms_text(t: &CustomText, consent_terms: bool) -> Result<(), RuleError> {
    if t.terms_of_service_acceptance.is_some() && !consent_terms {
        return Err(RuleError::new(
            "custom_text[terms_of_service_acceptance]",
            "custom_text[terms_of_service_acceptance] can only be set when consent_collection[terms_of_service] is required.",
        ));
    }
    Ok(())
}

/// `shipping_address_collection`: the countries a shipping address may be
/// in.
#[derive(Deserialize)]
pub struct ShippingArgs {
    pub allowed_countries: Vec<String>,
}

/// Checks `shipping_address_collection`.
pub fn shipping(a: ShippingArgs) -> Result<ShippingAddressCollection, RuleError> {
    ShippingAddressCollection::new(a.allowed_countries, "shipping_address_collection")
}

/// Checks `custom_text`; an empty message is no text.
pub fn custom_text(a: CustomTextArgs) -> Result<CustomText, RuleError> {
    merge_custom_text(CustomText::default(), a)
}

/// `custom_text` applied over `current`: each text given replaces its
/// value (an empty one unsets it); the others stay.
pub fn merge_custom_text(current: CustomText, a: CustomTextArgs) -> Result<CustomText, RuleError> {
    let one = |name: &str, m: Option<Option<Message>>| -> Result<Option<String>, RuleError> {
        match m.flatten().map(|m| m.message).filter(|m| !m.is_empty()) {
            Some(m) => {
                check_text(
                    &format!("custom_text[{name}][message]"),
                    &m,
                    MAX_CUSTOM_TEXT,
                )?;
                Ok(Some(m))
            }
            None => Ok(None),
        }
    };
    Ok(CustomText {
        submit: match a.submit {
            Some(m) => one("submit", Some(m))?,
            None => current.submit,
        },
        after_submit: match a.after_submit {
            Some(m) => one("after_submit", Some(m))?,
            None => current.after_submit,
        },
        shipping_address: match a.shipping_address {
            Some(m) => one("shipping_address", Some(m))?,
            None => current.shipping_address,
        },
        terms_of_service_acceptance: match a.terms_of_service_acceptance {
            Some(m) => one("terms_of_service_acceptance", Some(m))?,
            None => current.terms_of_service_acceptance,
        },
    })
}

/// `payment_intent_data`: what each payment made gets.
#[derive(Deserialize)]
pub struct IntentDataArgs {
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub statement_descriptor: Option<Option<String>>,
    pub capture_method: Option<String>,
}

/// Checks `payment_intent_data`; None when it sets nothing.
pub fn intent_data(a: IntentDataArgs) -> Result<Option<PaymentIntentData>, RuleError> {
    merge_intent_data(None, a)
}

/// `payment_intent_data` applied over `current`, as Stripe updates it:
/// each field given replaces its value (an empty one unsets it), metadata
/// keys merge (an empty value removes the key). None when nothing is left
/// (and no capture method was named).
pub fn merge_intent_data(
    current: Option<PaymentIntentData>,
    a: IntentDataArgs,
) -> Result<Option<PaymentIntentData>, RuleError> {
    let p = |f: &str| format!("payment_intent_data[{f}]");
    let mut d = current.unwrap_or_default();
    if let Some(desc) = a.description {
        if let Some(t) = &desc {
            check_text(&p("description"), t, MAX_PAYMENT_DESCRIPTION)?;
        }
        d.description = desc;
    }
    if let Some(sd) = a.statement_descriptor {
        if let Some(t) = &sd {
            check_statement_descriptor(&p("statement_descriptor"), t)?;
        }
        d.statement_descriptor = sd;
    }
    if a.capture_method
        .as_deref()
        .is_some_and(|c| c != "automatic")
    {
        return Err(RuleError::new(
            p("capture_method"),
            "paylink captures every payment at once: capture_method can only be automatic.",
        ));
    }
    if let Some(m) = &a.metadata {
        d.metadata.apply(m).map_err(|e| {
            RuleError::new(
                format!(
                    "payment_intent_data[{}",
                    e.param.replacen("metadata", "metadata]", 1)
                ),
                e.message,
            )
        })?;
    }
    // Given only its capture method (the one paylink has), it is still
    // set, as Stripe echoes it.
    let named = a.capture_method.is_some();
    Ok((named || d != PaymentIntentData::default()).then_some(d))
}

/// A new payment link (`POST /v1/payment_links`).
#[derive(Deserialize, Default)]
pub struct NewLink {
    pub line_items: Vec<NewLineItem>,
    pub after_completion: Option<AfterArgs>,
    pub allow_promotion_codes: Option<bool>,
    pub billing_address_collection: Option<String>,
    pub custom_fields: Option<Vec<CustomField>>,
    pub inactive_message: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub phone_number_collection: Option<Enabled>,
    pub restrictions: Option<RestrictionArgs>,
    pub submit_type: Option<String>,
    pub slug: Option<String>,
    pub payment_intent_data: Option<IntentDataArgs>,
    pub custom_text: Option<CustomTextArgs>,
    pub shipping_address_collection: Option<ShippingArgs>,
    pub consent_collection: Option<ConsentArgs>,
    /// The link's currency as the merchant states it: that of its prices.
    pub currency: Option<String>,
}

/// A `currency` the merchant states for a link or session (`what`): it
/// must be that of its prices (any letter case).
pub fn stated_currency(
    given: Option<&str>,
    currency: paylink_domain::Currency,
    what: &str,
) -> Result<(), ApiError> {
    if given.is_some_and(|c| !c.eq_ignore_ascii_case(currency.code())) {
        return Err(ApiError::invalid(
            Some("currency".into()),
            format!(
                "currency must be that of the {what}'s prices ({}).",
                currency.code()
            ),
        ));
    }
    Ok(())
}

pub fn after_completion(a: AfterArgs) -> Result<AfterCompletion, RuleError> {
    match a.kind.as_str() {
        "redirect" => {
            if a.hosted_confirmation.is_some() {
                return Err(RuleError::new(
                    "after_completion[hosted_confirmation]",
                    "hosted_confirmation can't be set when type is redirect.",
                ));
            }
            let r = a.redirect.ok_or_else(|| RuleError::new("after_completion[redirect]", "Missing required param: after_completion[redirect] (required when type is redirect)."))?;
            check_http_url(&r.url, "after_completion[redirect][url]")?;
            Ok(AfterCompletion::Redirect { url: r.url })
        }
        _ => {
            if a.redirect.is_some() {
                return Err(RuleError::new(
                    "after_completion[redirect]",
                    "redirect can't be set when type is hosted_confirmation.",
                ));
            }
            Ok(AfterCompletion::HostedConfirmation {
                custom_message: a.hosted_confirmation.and_then(|h| h.custom_message),
            })
        }
    }
}

/// Most completed payments a link may be limited to.
const MAX_COMPLETED_LIMIT: i64 = 1_000_000;

fn check_limit(r: &RestrictionArgs) -> Result<(), RuleError> {
    check_range(
        "restrictions[completed_sessions][limit]",
        r.completed_sessions.limit,
        1,
        MAX_COMPLETED_LIMIT,
    )
}

/// The answer to a slug another link uses.
pub fn slug_taken() -> ApiError {
    ApiError::invalid_code(
        "resource_already_exists",
        Some("slug".into()),
        "This slug is already used by another payment link on this instance.",
    )
}

fn line_items(items: Vec<NewLineItem>) -> Result<Vec<LinkLineItem>, ApiError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        out.push(LinkLineItem::new(
            i,
            new_id(IdKind::LineItem)?,
            it.price,
            it.quantity,
            it.adjustable_quantity,
        )?);
    }
    Ok(out)
}

/// Creates a payment link. With `new_price`, that price (and its product,
/// when it comes with `product_data`) is made in the same transaction and
/// sold as the first line item, so a refused link leaves nothing behind.
// Long: a new link's parameters checked in Stripe's order, each naming its
// parameter, before the one store call.
pub async fn create_link(
    state: &AppState,
    scope: &Scope,
    mut cmd: NewLink,
    new_price: Option<NewPrice>,
) -> Result<PaymentLink, ApiError> {
    let now = state.now();
    let terms = terms_url_set(state, scope, cmd.consent_collection.is_some()).await?;
    let consent_terms = match &cmd.consent_collection {
        Some(c) => consent(c, terms)?,
        None => false,
    };
    let built = new_price
        .map(|p| build_price(scope.livemode, now, p))
        .transpose()?;
    if let Some(b) = &built {
        match cmd.line_items.first_mut() {
            Some(first) => first.price = b.price.id.clone(),
            None => cmd.line_items.push(NewLineItem {
                price: b.price.id.clone(),
                quantity: 1,
                adjustable_quantity: None,
            }),
        }
    }
    let items = line_items(cmd.line_items)?;
    let ids: Vec<String> = items
        .iter()
        .map(|i| i.price.clone())
        .filter(|id| built.as_ref().is_none_or(|b| b.price.id != *id))
        .collect();
    let mut prices = state.store.get_prices(scope, &ids).await?;
    if let Some(b) = &built {
        prices.push(b.price.clone());
    }
    if let Some((i, item)) = items
        .iter()
        .enumerate()
        .find(|(_, it)| !prices.iter().any(|p| p.id == it.price))
    {
        return Err(ApiError::invalid_code(
            "resource_missing",
            Some(format!("line_items[{i}][price]")),
            format!(
                "No such price: '{}'",
                item.price.chars().take(255).collect::<String>()
            ),
        ));
    }
    let currency = check_link_prices(&items, &prices)?;
    stated_currency(cmd.currency.as_deref(), currency, "link")?;
    let custom_fields = cmd.custom_fields.unwrap_or_default();
    check_custom_fields(&custom_fields)?;
    if let Some(m) = &cmd.inactive_message {
        check_text("inactive_message", m, 500)?;
    }
    if let Some(r) = &cmd.restrictions {
        check_limit(r)?;
    }
    let link = PaymentLink {
        id: new_id(IdKind::PaymentLink)?,
        livemode: scope.livemode,
        created: now,
        active: true,
        currency,
        line_items: items,
        allow_promotion_codes: cmd.allow_promotion_codes.unwrap_or(false),
        after_completion: cmd
            .after_completion
            .map(after_completion)
            .transpose()?
            .unwrap_or(AfterCompletion::HostedConfirmation {
                custom_message: None,
            }),
        inactive_message: cmd.inactive_message,
        completed_sessions_limit: cmd.restrictions.map(|r| r.completed_sessions.limit),
        completed_sessions_count: 0,
        custom_fields,
        billing_address_collection: cmd
            .billing_address_collection
            .unwrap_or_else(|| "auto".into()),
        phone_number_collection: cmd.phone_number_collection.is_some_and(|e| e.enabled),
        submit_type: cmd.submit_type.unwrap_or_else(|| "auto".into()),
        metadata: metadata(cmd.metadata.as_ref())?,
        slug: cmd.slug,
        payment_intent_data: cmd
            .payment_intent_data
            .map(intent_data)
            .transpose()?
            .flatten(),
        custom_text: cmd
            .custom_text
            .map(custom_text)
            .transpose()?
            .unwrap_or_default(),
        shipping_address_collection: cmd.shipping_address_collection.map(shipping).transpose()?,
        consent_terms,
    };
    check_terms_text(&link.custom_text, link.consent_terms)?;
    if let Some(s) = &link.slug {
        check_slug(s)?;
    }
    let new_product = built
        .as_ref()
        .is_some_and(|b| matches!(b.product, paylink_store::catalog::PriceProduct::New(_)));
    let stored = match built {
        Some(b) => {
            state
                .store
                .create_payment_link_with_price(scope, &link, b.product, &b.price)
                .await
        }
        None => state.store.create_payment_link(scope, &link).await,
    };
    match stored {
        // The slug, or (only with product_data naming an id) the product.
        Err(StoreError::Conflict) if new_product && link.slug.is_none() => Err(product_id_taken()),
        Err(StoreError::Conflict) => Err(slug_taken()),
        other => other.map(|()| link).map_err(ApiError::from),
    }
}

#[derive(Deserialize)]
/// A change of one line item of a link.
pub struct ItemUpdate {
    pub id: String,
    pub quantity: Option<i64>,
    pub adjustable_quantity: Option<AdjustableQuantity>,
}

/// A change of a payment link (`POST /v1/payment_links/{id}`): each
/// field left out stays as it is.
#[derive(Deserialize, Default)]
pub struct LinkUpdate {
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    pub slug: Option<Option<String>>,
    pub line_items: Option<Vec<ItemUpdate>>,
    #[serde(default, deserialize_with = "double_option")]
    pub custom_fields: Option<Option<Vec<CustomField>>>,
    #[serde(default, deserialize_with = "double_option")]
    pub inactive_message: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub restrictions: Option<Option<RestrictionArgs>>,
    pub after_completion: Option<AfterArgs>,
    pub allow_promotion_codes: Option<bool>,
    pub billing_address_collection: Option<String>,
    pub phone_number_collection: Option<Enabled>,
    pub submit_type: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "double_option")]
    pub payment_intent_data: Option<Option<IntentDataArgs>>,
    #[serde(default, deserialize_with = "double_option")]
    pub custom_text: Option<Option<CustomTextArgs>>,
    #[serde(default, deserialize_with = "double_option")]
    pub shipping_address_collection: Option<Option<ShippingArgs>>,
    #[serde(default, deserialize_with = "double_option")]
    pub consent_collection: Option<Option<ConsentArgs>>,
}

// Long: a link update's parameters, each applied and checked in turn, as
// Stripe's update does.
fn apply_update(l: &mut PaymentLink, p: LinkUpdate, terms: bool) -> Result<bool, RuleError> {
    if let Some(a) = p.active {
        l.active = a;
    }
    if let Some(slug) = p.slug {
        if let Some(s) = &slug {
            check_slug(s)?;
        }
        l.slug = slug;
    }
    let mut items_changed = false;
    if let Some(updates) = p.line_items {
        let mut next = Vec::with_capacity(updates.len());
        for (i, u) in updates.into_iter().enumerate() {
            let current = l
                .line_items
                .iter()
                .find(|it| it.id == u.id)
                .ok_or_else(|| {
                    RuleError::new(
                        format!("line_items[{i}][id]"),
                        format!("No such line item: '{}'", u.id),
                    )
                })?;
            if next.iter().any(|n: &LinkLineItem| n.id == u.id) {
                return Err(RuleError::new(
                    format!("line_items[{i}][id]"),
                    "Each line item can be listed only once.",
                ));
            }
            let adjustable = u.adjustable_quantity.or(current.adjustable_quantity);
            next.push(LinkLineItem::new(
                i,
                current.id.clone(),
                current.price.clone(),
                u.quantity.unwrap_or(current.quantity),
                adjustable,
            )?);
        }
        l.line_items = next;
        items_changed = true;
    }
    if let Some(cf) = p.custom_fields {
        let cf = cf.unwrap_or_default();
        check_custom_fields(&cf)?;
        l.custom_fields = cf;
    }
    if let Some(m) = p.inactive_message {
        if let Some(t) = &m {
            check_text("inactive_message", t, 500)?;
        }
        l.inactive_message = m;
    }
    if let Some(r) = p.restrictions {
        if let Some(r) = &r {
            check_limit(r)?;
        }
        l.completed_sessions_limit = r.map(|r| r.completed_sessions.limit);
    }
    if let Some(a) = p.after_completion {
        l.after_completion = after_completion(a)?;
    }
    if let Some(a) = p.allow_promotion_codes {
        l.allow_promotion_codes = a;
    }
    if let Some(b) = p.billing_address_collection {
        l.billing_address_collection = b;
    }
    if let Some(e) = p.phone_number_collection {
        l.phone_number_collection = e.enabled;
    }
    if let Some(s) = p.submit_type {
        l.submit_type = s;
    }
    l.metadata.update(p.metadata)?;
    if let Some(d) = p.payment_intent_data {
        l.payment_intent_data = match d {
            Some(d) => merge_intent_data(l.payment_intent_data.take(), d)?,
            None => None,
        };
    }
    if let Some(t) = p.custom_text {
        l.custom_text = match t {
            Some(t) => merge_custom_text(std::mem::take(&mut l.custom_text), t)?,
            None => CustomText::default(),
        };
    }
    if let Some(c) = p.shipping_address_collection {
        l.shipping_address_collection = c.map(shipping).transpose()?;
    }
    if let Some(c) = p.consent_collection {
        l.consent_terms = match c {
            Some(c) => consent(&c, terms)?,
            None => false,
        };
    }
    check_terms_text(&l.custom_text, l.consent_terms)?;
    Ok(items_changed)
}

/// Changes a payment link under its row lock, checking its rules (and its
/// prices when its line items change).
pub async fn update_link(
    state: &AppState,
    scope: &Scope,
    id: &Id<PaymentLink>,
    cmd: LinkUpdate,
) -> Result<PaymentLink, ApiError> {
    let terms = terms_url_set(
        state,
        scope,
        matches!(cmd.consent_collection, Some(Some(_))),
    )
    .await?;
    state
        .store
        .update_payment_link(
            scope,
            id,
            |l| apply_update(l, cmd, terms),
            |l, prices| check_link_prices(&l.line_items, prices).map(|_| ()),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict => slug_taken(),
            e => ApiError::from_store(e, "payment_link", id),
        })
}
