//! Products and their prices (fixed or chosen by the buyer).

use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::money::MAX_AMOUNT;

use super::{Metadata, RuleError};

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

impl crate::id::Object for Product {
    const KIND: crate::IdKind = crate::IdKind::Product;
    const NAME: &'static str = "product";
    /// Its own ids, or one the merchant chose on create.
    fn accepts(s: &str) -> bool {
        crate::id::looks_like(Self::KIND, s) || crate::id::custom_id_ok(s)
    }
}

impl crate::id::Object for Price {
    const KIND: crate::IdKind = crate::IdKind::Price;
    const NAME: &'static str = "price";
}
