//! Payment links, their line items and what happens after payment.

use serde::{Deserialize, Serialize};

use crate::currency::Currency;

use super::{CustomField, Metadata, Price, RuleError};

/// Payment link limits, as Stripe's.
pub const MAX_LINE_ITEMS: usize = 20;
pub const DEFAULT_ADJUSTABLE_MAXIMUM: i64 = 99;
pub const MAX_ADJUSTABLE_QUANTITY: i64 = 999;
pub const MAX_CUSTOM_FIELDS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustableQuantity {
    pub enabled: bool,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
}

/// What a link (or an API-created session) sets on the payment it makes
/// (Stripe's `payment_intent_data`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntentData {
    pub description: Option<String>,
    pub metadata: Metadata,
    pub statement_descriptor: Option<String>,
}

/// Where a link ships (Stripe's `shipping_address_collection`): its page
/// asks for a shipping address in one of these countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddressCollection {
    pub allowed_countries: Vec<String>,
}

impl ShippingAddressCollection {
    /// At least one country, each from Stripe's list (upper case, as its
    /// API takes them); a repeated one is kept once, the order as given.
    /// `param` is where the list came from.
    pub fn new(countries: Vec<String>, param: &str) -> Result<Self, RuleError> {
        if countries.is_empty() {
            return Err(RuleError::new(
                format!("{param}[allowed_countries]"),
                "Provide at least one country to ship to.",
            ));
        }
        let mut allowed: Vec<String> = Vec::with_capacity(countries.len());
        for (i, c) in countries.into_iter().enumerate() {
            if crate::countries::shipping_country(&c).is_none() {
                return Err(RuleError::new(
                    format!("{param}[allowed_countries][{i}]"),
                    format!(
                        "Invalid country: '{}'. Use a two-letter ISO 3166-1 code in upper case, such as FR or US.",
                        c.chars().take(20).collect::<String>()
                    ),
                ));
            }
            if !allowed.contains(&c) {
                allowed.push(c);
            }
        }
        Ok(Self {
            allowed_countries: allowed,
        })
    }
}

/// Texts the checkout page shows beside its Pay button (Stripe's
/// `custom_text`): `submit` above it, `after_submit` below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomText {
    #[serde(default)]
    pub submit: Option<String>,
    #[serde(default)]
    pub after_submit: Option<String>,
    /// Shown above the shipping address form.
    #[serde(default)]
    pub shipping_address: Option<String>,
    /// Replaces the label of the terms of service checkbox.
    #[serde(default)]
    pub terms_of_service_acceptance: Option<String>,
}

/// Longest custom text (Stripe's).
pub const MAX_CUSTOM_TEXT: usize = 1200;

/// Longest payment description (Stripe's).
pub const MAX_PAYMENT_DESCRIPTION: usize = 1000;

/// Checks a statement descriptor as card networks take it (Stripe's
/// rules): 5 to 22 Latin characters, at least one letter, none of
/// `< > \ ' " *`.
pub fn check_statement_descriptor(param: &str, s: &str) -> Result<(), RuleError> {
    let n = s.chars().count();
    let ok = (5..=22).contains(&n)
        && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && !s.contains(['<', '>', '\\', '\'', '"', '*']);
    if ok {
        Ok(())
    } else {
        Err(RuleError::new(
            param,
            "The statement descriptor must be 5 to 22 Latin characters with at least one letter, and may not contain < > \\ ' \" *.",
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkLineItem {
    pub id: String,
    pub price: String,
    pub quantity: i64,
    pub adjustable_quantity: Option<AdjustableQuantity>,
}

impl LinkLineItem {
    /// Checks quantity and adjustable bounds of the line item at `index`,
    /// filling Stripe's defaults (minimum 1, maximum 99) when enabled.
    // Long: Stripe's rules for a line item and its adjustable quantity, each
    // naming its parameter: a list, not a flow.
    pub fn new(
        index: usize,
        id: String,
        price: String,
        quantity: i64,
        adjustable: Option<AdjustableQuantity>,
    ) -> Result<Self, RuleError> {
        let p = |f: &str| format!("line_items[{index}][{f}]");
        if !(0..=MAX_ADJUSTABLE_QUANTITY).contains(&quantity) {
            return Err(RuleError::new(
                p("quantity"),
                format!("quantity must be between 0 and {MAX_ADJUSTABLE_QUANTITY}."),
            ));
        }
        let adjustable = match adjustable {
            Some(a) if a.enabled => {
                let min = a.minimum.unwrap_or(1);
                let max = a.maximum.unwrap_or(DEFAULT_ADJUSTABLE_MAXIMUM);
                let ap = |f: &str| format!("line_items[{index}][adjustable_quantity][{f}]");
                if !(0..=MAX_ADJUSTABLE_QUANTITY).contains(&min) {
                    return Err(RuleError::new(
                        ap("minimum"),
                        format!("minimum must be between 0 and {MAX_ADJUSTABLE_QUANTITY}."),
                    ));
                }
                if !(1..=MAX_ADJUSTABLE_QUANTITY).contains(&max) {
                    return Err(RuleError::new(
                        ap("maximum"),
                        format!("maximum must be between 1 and {MAX_ADJUSTABLE_QUANTITY}."),
                    ));
                }
                if min > max {
                    return Err(RuleError::new(
                        ap("maximum"),
                        "maximum must be greater than or equal to minimum.",
                    ));
                }
                if quantity < min || quantity > max {
                    return Err(RuleError::new(p("quantity"), format!("quantity must be between the adjustable minimum ({min}) and maximum ({max}).")));
                }
                Some(AdjustableQuantity {
                    enabled: true,
                    minimum: Some(min),
                    maximum: Some(max),
                })
            }
            Some(a) => {
                if a.minimum.is_some() || a.maximum.is_some() {
                    return Err(RuleError::new(
                        format!("line_items[{index}][adjustable_quantity][enabled]"),
                        "minimum and maximum can only be set when adjustable_quantity[enabled] is true.",
                    ));
                }
                Some(AdjustableQuantity {
                    enabled: false,
                    minimum: None,
                    maximum: None,
                })
            }
            None => None,
        };
        if quantity == 0 && !adjustable.is_some_and(|a| a.enabled) {
            return Err(RuleError::new(
                p("quantity"),
                "quantity must be at least 1 unless the quantity is adjustable.",
            ));
        }
        Ok(Self {
            id,
            price,
            quantity,
            adjustable_quantity: adjustable,
        })
    }
}

/// Checks the set of line items of a link against the prices they name:
/// 1 to 20 items, every price active and of one currency, a pay-what-you-want
/// price alone with quantity 1. Returns the link's currency.
pub fn check_link_prices(items: &[LinkLineItem], prices: &[Price]) -> Result<Currency, RuleError> {
    if items.is_empty() || items.len() > MAX_LINE_ITEMS {
        return Err(RuleError::new(
            "line_items",
            format!("A payment link must have between 1 and {MAX_LINE_ITEMS} line items."),
        ));
    }
    let mut currency: Option<Currency> = None;
    for (i, item) in items.iter().enumerate() {
        let param = format!("line_items[{i}][price]");
        let price = prices
            .iter()
            .find(|p| p.id == item.price)
            .ok_or_else(|| RuleError::no_such(&param, "price", &item.price))?;
        if !price.active {
            return Err(RuleError::new(
                &param,
                format!("The price '{}' is not active.", price.id),
            ));
        }
        match currency {
            None => currency = Some(price.currency),
            Some(c) if c != price.currency => {
                return Err(RuleError::new(
                    &param,
                    "All line items must use the same currency.",
                ));
            }
            Some(_) => {}
        }
        if price.custom_unit_amount().is_some() {
            if items.len() != 1 {
                return Err(RuleError::new(
                    &param,
                    "A price with custom_unit_amount must be the only line item.",
                ));
            }
            if item.quantity != 1 || item.adjustable_quantity.is_some_and(|a| a.enabled) {
                return Err(RuleError::new(format!("line_items[{i}][quantity]"), "A price with custom_unit_amount must have quantity 1 and no adjustable quantity."));
            }
        }
    }
    currency
        .ok_or_else(|| RuleError::new("line_items", "A payment link needs at least one line item."))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AfterCompletion {
    HostedConfirmation { custom_message: Option<String> },
    Redirect { url: String },
}

impl AfterCompletion {
    /// The redirect target for a completed session, with
    /// `{CHECKOUT_SESSION_ID}` replaced.
    pub fn redirect_for(&self, session_id: &str) -> Option<String> {
        match self {
            AfterCompletion::Redirect { url } => {
                Some(url.replace("{CHECKOUT_SESSION_ID}", session_id))
            }
            AfterCompletion::HostedConfirmation { .. } => None,
        }
    }
}

/// Checks a link slug: 3 to 64 characters of lower-case letters, digits and
/// single dashes, not starting or ending with a dash, and not shaped like an
/// object id.
pub fn check_slug(slug: &str) -> Result<(), RuleError> {
    let ok = (3..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && !slug.contains('_');
    if ok {
        Ok(())
    } else {
        Err(RuleError::new("slug", "slug must be 3 to 64 characters of lower-case letters, digits and single dashes, e.g. summer-sale."))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLink {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub active: bool,
    pub currency: Currency,
    pub line_items: Vec<LinkLineItem>,
    pub allow_promotion_codes: bool,
    pub after_completion: AfterCompletion,
    pub inactive_message: Option<String>,
    pub completed_sessions_limit: Option<i64>,
    pub completed_sessions_count: i64,
    pub custom_fields: Vec<CustomField>,
    pub billing_address_collection: String,
    pub phone_number_collection: bool,
    pub submit_type: String,
    pub metadata: Metadata,
    /// The link's own URL path (`/l/<slug>`), unique on the instance.
    pub slug: Option<String>,
    /// What the link sets on each payment it makes.
    pub payment_intent_data: Option<PaymentIntentData>,
    pub custom_text: CustomText,
    pub shipping_address_collection: Option<ShippingAddressCollection>,
    /// Whether the buyer must accept the merchant's terms of service
    /// (Stripe's `consent_collection[terms_of_service]=required`).
    pub consent_terms: bool,
}

impl PaymentLink {
    /// Whether the link still accepts buyers.
    pub fn accepts_buyers(&self) -> bool {
        self.active
            && self
                .completed_sessions_limit
                .is_none_or(|l| self.completed_sessions_count < l)
    }
}

impl crate::id::Object for PaymentLink {
    const KIND: crate::IdKind = crate::IdKind::PaymentLink;
    const NAME: &'static str = "payment_link";
}
