//! Catalog objects (products, prices, coupons, promotion codes, payment
//! links) and the rules that tie their fields together.
//!
//! Structural checks (types, lengths, enums) happen where input is parsed;
//! the rules here are the ones that look at more than one field. A
//! [`RuleError`] names the parameter at fault in Stripe's bracket notation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::money::{Discount, Money, MAX_AMOUNT};

/// A broken rule, with the parameter it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub param: String,
    pub message: String,
}

impl RuleError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: message.into(),
        }
    }
}

/// Stripe's metadata limits.
pub const METADATA_MAX_KEYS: usize = 50;
pub const METADATA_MAX_KEY_LEN: usize = 40;
pub const METADATA_MAX_VALUE_LEN: usize = 500;

/// Key-value pairs a merchant attaches to an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Applies an update as Stripe does: a key set to an empty value is
    /// removed; others are set. The result must respect the limits.
    pub fn apply(&mut self, update: &BTreeMap<String, String>) -> Result<(), RuleError> {
        for (k, v) in update {
            if k.is_empty() || k.chars().count() > METADATA_MAX_KEY_LEN || k.contains(['[', ']']) {
                return Err(RuleError::new(
                    format!("metadata[{k}]"),
                    format!("Metadata keys must be 1 to {METADATA_MAX_KEY_LEN} characters long and may not contain square brackets."),
                ));
            }
            if v.chars().count() > METADATA_MAX_VALUE_LEN {
                return Err(RuleError::new(
                    format!("metadata[{k}]"),
                    format!("Metadata values can have up to {METADATA_MAX_VALUE_LEN} characters, but you passed in a value that is {} characters.", v.chars().count()),
                ));
            }
            if v.is_empty() {
                self.0.remove(k);
            } else {
                self.0.insert(k.clone(), v.clone());
            }
        }
        if self.0.len() > METADATA_MAX_KEYS {
            return Err(RuleError::new(
                "metadata",
                format!("Metadata can have up to {METADATA_MAX_KEYS} keys."),
            ));
        }
        Ok(())
    }
    /// Applies an update parameter: absent keeps the metadata, an empty
    /// `metadata` clears it, otherwise [`Metadata::apply`].
    pub fn update(
        &mut self,
        param: Option<Option<BTreeMap<String, String>>>,
    ) -> Result<(), RuleError> {
        match param {
            Some(Some(m)) => self.apply(&m),
            Some(None) => {
                self.0.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, RuleError> {
        let mut m = Metadata::default();
        m.apply(map)?;
        Ok(m)
    }
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub updated: i64,
    pub name: String,
    pub description: Option<String>,
    pub active: bool,
    pub images: Vec<String>,
    pub metadata: Metadata,
    pub default_price: Option<String>,
    pub url: Option<String>,
}

/// Pay-what-you-want bounds of a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomUnitAmount {
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub preset: Option<i64>,
}

impl CustomUnitAmount {
    pub fn new(
        currency: Currency,
        minimum: Option<i64>,
        maximum: Option<i64>,
        preset: Option<i64>,
    ) -> Result<Self, RuleError> {
        let p = "custom_unit_amount";
        for (name, v) in [
            ("minimum", minimum),
            ("maximum", maximum),
            ("preset", preset),
        ] {
            if let Some(v) = v {
                if !(0..=MAX_AMOUNT).contains(&v) {
                    return Err(RuleError::new(
                        format!("{p}[{name}]"),
                        format!("{p}[{name}] must be between 0 and {MAX_AMOUNT}."),
                    ));
                }
            }
        }
        if let Some(min) = minimum {
            if min < currency.minimum_charge() {
                return Err(RuleError::new(
                    format!("{p}[minimum]"),
                    format!(
                        "{p}[minimum] must be at least the currency's minimum charge of {} minor units.",
                        currency.minimum_charge()
                    ),
                ));
            }
        }
        if let (Some(min), Some(max)) = (minimum, maximum) {
            if min > max {
                return Err(RuleError::new(
                    format!("{p}[maximum]"),
                    format!("{p}[maximum] must be greater than or equal to {p}[minimum]."),
                ));
            }
        }
        if let Some(pre) = preset {
            if minimum.is_some_and(|m| pre < m) || maximum.is_some_and(|m| pre > m) {
                return Err(RuleError::new(
                    format!("{p}[preset]"),
                    format!("{p}[preset] must be between {p}[minimum] and {p}[maximum]."),
                ));
            }
        }
        Ok(Self {
            minimum,
            maximum,
            preset,
        })
    }
    /// Whether a buyer-chosen amount is allowed.
    pub fn accepts(&self, currency: Currency, amount: i64) -> bool {
        amount >= self.minimum.unwrap_or(currency.minimum_charge())
            && amount <= self.maximum.unwrap_or(MAX_AMOUNT)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceAmount {
    Fixed(i64),
    Custom(CustomUnitAmount),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub product: String,
    pub currency: Currency,
    pub amount: PriceAmount,
    pub nickname: Option<String>,
    pub active: bool,
    pub lookup_key: Option<String>,
    pub metadata: Metadata,
}

impl Price {
    pub fn unit_amount(&self) -> Option<i64> {
        match self.amount {
            PriceAmount::Fixed(a) => Some(a),
            PriceAmount::Custom(_) => None,
        }
    }
    pub fn custom_unit_amount(&self) -> Option<CustomUnitAmount> {
        match self.amount {
            PriceAmount::Fixed(_) => None,
            PriceAmount::Custom(c) => Some(c),
        }
    }
}

/// Checks a fixed unit amount.
pub fn check_unit_amount(amount: i64) -> Result<i64, RuleError> {
    if (0..=MAX_AMOUNT).contains(&amount) {
        Ok(amount)
    } else {
        Err(RuleError::new(
            "unit_amount",
            format!(
                "unit_amount must be between 0 and {MAX_AMOUNT} (in the currency's minor unit)."
            ),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponDuration {
    Once,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub name: Option<String>,
    pub discount: Discount,
    pub duration: CouponDuration,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    pub metadata: Metadata,
}

impl Coupon {
    /// Whether the coupon can still be redeemed at `now` (unix seconds).
    pub fn valid(&self, now: i64) -> bool {
        self.redeem_by.is_none_or(|r| now < r)
            && self.max_redemptions.is_none_or(|m| self.times_redeemed < m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRestrictions {
    pub minimum_amount: Option<Money>,
    pub first_time_transaction: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionCode {
    pub id: String,
    pub livemode: bool,
    pub created: i64,
    pub code: String,
    pub coupon: String,
    pub active: bool,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    pub restrictions: PromotionRestrictions,
    pub times_redeemed: i64,
    pub metadata: Metadata,
}

/// Why a promotion code can't be applied to an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionRejection {
    #[error("This promotion code is not valid.")]
    Inactive,
    #[error("This promotion code has expired.")]
    Expired,
    #[error("This promotion code has been used up.")]
    Exhausted,
    #[error("This promotion code requires an order of at least {0}.")]
    BelowMinimum(String),
    #[error("This promotion code is only valid for a first purchase.")]
    NotFirstTransaction,
    #[error("This promotion code can't be used with this currency.")]
    CurrencyMismatch,
}

impl PromotionCode {
    /// Checks this code (and its coupon) against an order subtotal at `now`.
    pub fn check(
        &self,
        coupon: &Coupon,
        subtotal: Money,
        now: i64,
        is_first_transaction: bool,
    ) -> Result<(), PromotionRejection> {
        if !self.active {
            return Err(PromotionRejection::Inactive);
        }
        if self.expires_at.is_some_and(|e| now >= e) || coupon.redeem_by.is_some_and(|r| now >= r) {
            return Err(PromotionRejection::Expired);
        }
        if self
            .max_redemptions
            .is_some_and(|m| self.times_redeemed >= m)
            || coupon
                .max_redemptions
                .is_some_and(|m| coupon.times_redeemed >= m)
        {
            return Err(PromotionRejection::Exhausted);
        }
        if let Some(min) = self.restrictions.minimum_amount {
            if min.currency() != subtotal.currency() {
                return Err(PromotionRejection::CurrencyMismatch);
            }
            if subtotal.amount() < min.amount() {
                return Err(PromotionRejection::BelowMinimum(
                    min.currency().format(min.amount()),
                ));
            }
        }
        if let Discount::Amount(off) = coupon.discount {
            if off.currency() != subtotal.currency() {
                return Err(PromotionRejection::CurrencyMismatch);
            }
        }
        if self.restrictions.first_time_transaction && !is_first_transaction {
            return Err(PromotionRejection::NotFirstTransaction);
        }
        Ok(())
    }
}

/// Normalises a promotion code for the case-insensitive uniqueness check.
pub fn promotion_code_key(code: &str) -> String {
    code.to_uppercase()
}

/// Checks a merchant-chosen promotion code: 1 to 500 characters of letters,
/// digits, `-` and `_` (like Stripe's customer-facing codes).
pub fn check_promotion_code(code: &str) -> Result<(), RuleError> {
    let ok = !code.is_empty()
        && code.chars().count() <= 500
        && code
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RuleError::new(
            "code",
            "code must be 1 to 500 characters of letters, digits, '-' and '_'.",
        ))
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLineItem {
    pub id: String,
    pub price: String,
    pub quantity: i64,
    pub adjustable_quantity: Option<AdjustableQuantity>,
}

impl LinkLineItem {
    /// Checks quantity and adjustable bounds of the line item at `index`,
    /// filling Stripe's defaults (minimum 1, maximum 99) when enabled.
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
            .ok_or_else(|| RuleError::new(&param, format!("No such price: '{}'", item.price)))?;
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
                    "All line items of a payment link must use the same currency.",
                ));
            }
            Some(_) => {}
        }
        if price.custom_unit_amount().is_some() {
            if items.len() != 1 {
                return Err(RuleError::new(
                    &param,
                    "A price with custom_unit_amount must be the only line item of a payment link.",
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

/// Checks free text of a parameter: no NUL (no database stores it
/// faithfully) and at most `max` characters.
pub fn check_text(param: &str, s: &str, max: usize) -> Result<(), RuleError> {
    if s.contains('\0') {
        return Err(RuleError::new(
            param,
            format!("Invalid {param}: text may not contain NUL characters."),
        ));
    }
    if s.chars().count() > max {
        return Err(RuleError::new(
            param,
            format!("{param} is too long: it can be at most {max} characters."),
        ));
    }
    Ok(())
}

/// Checks that a whole-number parameter is within `min..=max`.
pub fn check_range(param: &str, n: i64, min: i64, max: i64) -> Result<(), RuleError> {
    if n < min || n > max {
        return Err(RuleError::new(
            param,
            format!("{param} must be between {min} and {max}."),
        ));
    }
    Ok(())
}

/// Checks a product's image URLs (`images[i]` names a bad one).
pub fn check_images(images: &[String]) -> Result<(), RuleError> {
    images
        .iter()
        .enumerate()
        .try_for_each(|(i, u)| check_http_url(u, &format!("images[{i}]")))
}

/// Checks a URL (redirect target, image): absolute http(s), at most 2048
/// characters, no whitespace or control characters.
pub fn check_http_url(url: &str, param: &str) -> Result<(), RuleError> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    });
    if url.len() > 2048 || !host_ok || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(RuleError::new(
            param,
            "Not a valid URL: use an absolute http or https URL of at most 2048 characters.",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldLabel {
    #[serde(rename = "type")]
    pub kind: String,
    pub custom: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropdownOption {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropdown {
    pub default_value: Option<String>,
    pub options: Vec<DropdownOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBounds {
    pub default_value: Option<String>,
    pub maximum_length: Option<i64>,
    pub minimum_length: Option<i64>,
}

/// A question the checkout page asks the buyer (Stripe's `custom_fields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub key: String,
    pub label: CustomFieldLabel,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub optional: bool,
    pub dropdown: Option<Dropdown>,
    pub numeric: Option<TextBounds>,
    pub text: Option<TextBounds>,
}

impl CustomField {
    /// Checks the cross-field rules of the custom field at `index`.
    pub fn check(&self, index: usize) -> Result<(), RuleError> {
        let p = |f: &str| format!("custom_fields[{index}][{f}]");
        if self.key.is_empty()
            || self.key.len() > 200
            || !self.key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(RuleError::new(
                p("key"),
                "key must be 1 to 200 alphanumeric characters.",
            ));
        }
        if self.label.custom.is_empty() || self.label.custom.chars().count() > 50 {
            return Err(RuleError::new(
                format!("custom_fields[{index}][label][custom]"),
                "label must be 1 to 50 characters.",
            ));
        }
        match self.kind.as_str() {
            "dropdown" => {
                let d = self.dropdown.as_ref().ok_or_else(|| {
                    RuleError::new(p("dropdown"), "dropdown is required when type is dropdown.")
                })?;
                if d.options.is_empty() || d.options.len() > 200 {
                    return Err(RuleError::new(
                        format!("custom_fields[{index}][dropdown][options]"),
                        "A dropdown needs 1 to 200 options.",
                    ));
                }
                for (j, o) in d.options.iter().enumerate() {
                    if o.value.is_empty()
                        || o.value.len() > 100
                        || !o.value.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        return Err(RuleError::new(
                            format!("custom_fields[{index}][dropdown][options][{j}][value]"),
                            "value must be 1 to 100 alphanumeric characters.",
                        ));
                    }
                    if o.label.is_empty() || o.label.chars().count() > 100 {
                        return Err(RuleError::new(
                            format!("custom_fields[{index}][dropdown][options][{j}][label]"),
                            "label must be 1 to 100 characters.",
                        ));
                    }
                }
                if let Some(dv) = &d.default_value {
                    if !d.options.iter().any(|o| &o.value == dv) {
                        return Err(RuleError::new(
                            format!("custom_fields[{index}][dropdown][default_value]"),
                            "default_value must be one of the options' values.",
                        ));
                    }
                }
                if self.text.is_some() || self.numeric.is_some() {
                    return Err(RuleError::new(
                        p("type"),
                        "Only the options of the field's own type may be set.",
                    ));
                }
            }
            "text" | "numeric" => {
                let bounds = if self.kind == "text" {
                    &self.text
                } else {
                    &self.numeric
                };
                if self.dropdown.is_some()
                    || (self.kind == "text" && self.numeric.is_some())
                    || (self.kind == "numeric" && self.text.is_some())
                {
                    return Err(RuleError::new(
                        p("type"),
                        "Only the options of the field's own type may be set.",
                    ));
                }
                if let Some(b) = bounds {
                    let bp = |f: &str| format!("custom_fields[{index}][{}][{f}]", self.kind);
                    for (name, v) in [
                        ("minimum_length", b.minimum_length),
                        ("maximum_length", b.maximum_length),
                    ] {
                        if v.is_some_and(|v| !(1..=255).contains(&v)) {
                            return Err(RuleError::new(
                                bp(name),
                                format!("{name} must be between 1 and 255."),
                            ));
                        }
                    }
                    if let (Some(min), Some(max)) = (b.minimum_length, b.maximum_length) {
                        if min > max {
                            return Err(RuleError::new(
                                bp("maximum_length"),
                                "maximum_length must be greater than or equal to minimum_length.",
                            ));
                        }
                    }
                    if let Some(dv) = &b.default_value {
                        let n = i64::try_from(dv.chars().count()).unwrap_or(i64::MAX);
                        if n > 255
                            || b.maximum_length.is_some_and(|m| n > m)
                            || (self.kind == "numeric" && !dv.chars().all(|c| c.is_ascii_digit()))
                        {
                            return Err(RuleError::new(
                                bp("default_value"),
                                "default_value does not fit the field's limits.",
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(RuleError::new(
                    p("type"),
                    "type must be one of dropdown, numeric or text.",
                ))
            }
        }
        Ok(())
    }
}

/// Checks the list of custom fields: at most 3, keys unique.
pub fn check_custom_fields(fields: &[CustomField]) -> Result<(), RuleError> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        return Err(RuleError::new(
            "custom_fields",
            format!("A payment link can have at most {MAX_CUSTOM_FIELDS} custom fields."),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        f.check(i)?;
        if fields.iter().take(i).any(|g| g.key == f.key) {
            return Err(RuleError::new(
                format!("custom_fields[{i}][key]"),
                "Custom field keys must be unique.",
            ));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        "usd".parse().unwrap_or_else(|_| unreachable!())
    }

    fn price(id: &str, cur: &str, amount: PriceAmount) -> Price {
        Price {
            id: id.into(),
            livemode: false,
            created: 0,
            product: "prod_x".into(),
            currency: cur.parse().unwrap_or_else(|_| unreachable!()),
            amount,
            nickname: None,
            active: true,
            lookup_key: None,
            metadata: Metadata::default(),
        }
    }

    fn item(
        i: usize,
        price: &str,
        q: i64,
        adj: Option<AdjustableQuantity>,
    ) -> Result<LinkLineItem, RuleError> {
        LinkLineItem::new(i, format!("li_{i}"), price.into(), q, adj)
    }

    #[test]
    fn metadata_limits_and_unset() {
        let mut m = Metadata::default();
        let mut u = BTreeMap::new();
        u.insert("a".to_string(), "1".to_string());
        u.insert("b".to_string(), "2".to_string());
        assert!(m.apply(&u).is_ok());
        let mut unset = BTreeMap::new();
        unset.insert("a".to_string(), String::new());
        assert!(m.apply(&unset).is_ok());
        assert_eq!(m.as_map().len(), 1);
        let mut long = BTreeMap::new();
        long.insert("k".repeat(41), "v".into());
        assert_eq!(
            m.apply(&long).map_err(|e| e.param.starts_with("metadata[")),
            Err(true)
        );
        let many: BTreeMap<_, _> = (0..51)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(Metadata::from_map(&many).is_err());
    }

    #[test]
    fn adjustable_quantity_defaults_and_bounds() -> Result<(), RuleError> {
        let a = item(
            0,
            "p",
            2,
            Some(AdjustableQuantity {
                enabled: true,
                minimum: None,
                maximum: None,
            }),
        )?;
        assert_eq!(a.adjustable_quantity.and_then(|a| a.maximum), Some(99));
        assert_eq!(a.adjustable_quantity.and_then(|a| a.minimum), Some(1));
        let too_big = item(
            0,
            "p",
            1,
            Some(AdjustableQuantity {
                enabled: true,
                minimum: None,
                maximum: Some(1000),
            }),
        );
        assert_eq!(
            too_big.map_err(|e| e.param),
            Err("line_items[0][adjustable_quantity][maximum]".into())
        );
        let outside = item(
            3,
            "p",
            50,
            Some(AdjustableQuantity {
                enabled: true,
                minimum: Some(1),
                maximum: Some(10),
            }),
        );
        assert_eq!(
            outside.map_err(|e| e.param),
            Err("line_items[3][quantity]".into())
        );
        assert!(item(0, "p", 0, None).is_err());
        assert!(item(0, "p", 999, None).is_ok());
        assert!(item(0, "p", 1000, None).is_err());
        Ok(())
    }

    #[test]
    fn link_prices_rules() -> Result<(), RuleError> {
        let prices = vec![
            price("price_a", "usd", PriceAmount::Fixed(500)),
            price("price_e", "eur", PriceAmount::Fixed(500)),
            price(
                "price_c",
                "usd",
                PriceAmount::Custom(CustomUnitAmount {
                    minimum: None,
                    maximum: None,
                    preset: None,
                }),
            ),
        ];
        assert_eq!(
            check_link_prices(&[item(0, "price_a", 1, None)?], &prices)?,
            usd()
        );
        let mixed = [item(0, "price_a", 1, None)?, item(1, "price_e", 1, None)?];
        assert_eq!(
            check_link_prices(&mixed, &prices).map_err(|e| e.param),
            Err("line_items[1][price]".into())
        );
        let custom_with_other = [item(0, "price_a", 1, None)?, item(1, "price_c", 1, None)?];
        assert!(check_link_prices(&custom_with_other, &prices).is_err());
        assert!(check_link_prices(&[item(0, "price_c", 2, None)?], &prices).is_err());
        assert!(check_link_prices(&[], &prices).is_err());
        let many: Vec<_> = (0..21)
            .map(|i| item(i, "price_a", 1, None))
            .collect::<Result<_, _>>()?;
        assert!(check_link_prices(&many, &prices).is_err());
        assert!(check_link_prices(many.get(..20).unwrap_or(&[]), &prices).is_ok());
        Ok(())
    }

    #[test]
    fn custom_unit_amount_rules() {
        assert!(CustomUnitAmount::new(usd(), Some(100), Some(50), None).is_err());
        assert!(CustomUnitAmount::new(usd(), Some(10), None, None).is_err());
        assert!(CustomUnitAmount::new(usd(), Some(100), Some(1000), Some(2000)).is_err());
        let c = CustomUnitAmount::new(usd(), Some(100), Some(1000), Some(500));
        assert!(c.is_ok_and(|c| c.accepts(usd(), 100)
            && !c.accepts(usd(), 99)
            && !c.accepts(usd(), 1001)));
    }

    fn coupon(discount: Discount) -> Coupon {
        Coupon {
            id: "c".into(),
            livemode: false,
            created: 0,
            name: None,
            discount,
            duration: CouponDuration::Once,
            max_redemptions: None,
            redeem_by: None,
            times_redeemed: 0,
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn promotion_code_checks() -> Result<(), crate::money::MoneyError> {
        let pct = Discount::Percent(
            crate::money::PercentOff::from_basis_points(1000).unwrap_or_else(|_| unreachable!()),
        );
        let c = coupon(pct);
        let mut code = PromotionCode {
            id: "promo".into(),
            livemode: false,
            created: 0,
            code: "SAVE".into(),
            coupon: "c".into(),
            active: true,
            max_redemptions: Some(1),
            expires_at: Some(100),
            restrictions: PromotionRestrictions {
                minimum_amount: Some(Money::new(1000, usd())?),
                first_time_transaction: true,
            },
            times_redeemed: 0,
            metadata: Metadata::default(),
        };
        let ok = Money::new(1000, usd())?;
        assert_eq!(code.check(&c, ok, 50, true), Ok(()));
        assert_eq!(
            code.check(&c, ok, 100, true),
            Err(PromotionRejection::Expired)
        );
        assert!(matches!(
            code.check(&c, Money::new(999, usd())?, 50, true),
            Err(PromotionRejection::BelowMinimum(_))
        ));
        assert_eq!(
            code.check(&c, ok, 50, false),
            Err(PromotionRejection::NotFirstTransaction)
        );
        code.times_redeemed = 1;
        assert_eq!(
            code.check(&c, ok, 50, true),
            Err(PromotionRejection::Exhausted)
        );
        code.active = false;
        assert_eq!(
            code.check(&c, ok, 50, true),
            Err(PromotionRejection::Inactive)
        );
        Ok(())
    }

    #[test]
    fn redirect_placeholder_and_url_check() {
        let a = AfterCompletion::Redirect {
            url: "https://shop.example/thanks?s={CHECKOUT_SESSION_ID}".into(),
        };
        assert_eq!(
            a.redirect_for("cs_1").as_deref(),
            Some("https://shop.example/thanks?s=cs_1")
        );
        assert!(check_http_url("https://x.example/a", "u").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "javascript:alert(1)",
            "https://a b",
            "/relative",
        ] {
            assert!(check_http_url(bad, "u").is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_field_rules() {
        let f = |kind: &str| CustomField {
            key: "size".into(),
            label: CustomFieldLabel {
                kind: "custom".into(),
                custom: "Size".into(),
            },
            kind: kind.into(),
            optional: false,
            dropdown: None,
            numeric: None,
            text: None,
        };
        assert!(check_custom_fields(&[f("text")]).is_ok());
        assert!(check_custom_fields(&[f("dropdown")]).is_err());
        assert!(check_custom_fields(&[f("text"), f("numeric")]).is_err());
        let four: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| CustomField {
                key: (*k).into(),
                ..f("text")
            })
            .collect();
        assert!(check_custom_fields(&four).is_err());
        assert!(check_custom_fields(four.get(..3).unwrap_or(&[])).is_ok());
    }
}
