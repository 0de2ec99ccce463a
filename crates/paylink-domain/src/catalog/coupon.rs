//! Coupons and the promotion codes buyers type.

use serde::{Deserialize, Serialize};

use crate::money::{Discount, Money};

use super::{Metadata, RuleError};

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

impl PromotionRestrictions {
    /// Whether a subtotal of `amount` (in the minimum's currency) reaches
    /// the minimum; with none set, every subtotal does.
    pub fn minimum_reached(&self, amount: i64) -> bool {
        self.minimum_amount.is_none_or(|m| amount >= m.amount())
    }
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

impl Coupon {
    /// Checks this coupon, applied without a code (an API-created
    /// session's `discounts[0][coupon]`), against an order subtotal at
    /// `now`: the coupon's own deadline, redemptions and currency.
    pub fn check(&self, subtotal: Money, now: i64) -> Result<(), PromotionRejection> {
        if self.redeem_by.is_some_and(|r| now >= r) {
            return Err(PromotionRejection::Expired);
        }
        if self
            .max_redemptions
            .is_some_and(|m| self.times_redeemed >= m)
        {
            return Err(PromotionRejection::Exhausted);
        }
        if let Discount::Amount(off) = self.discount {
            if off.currency() != subtotal.currency() {
                return Err(PromotionRejection::CurrencyMismatch);
            }
        }
        Ok(())
    }
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
            if !self.restrictions.minimum_reached(subtotal.amount()) {
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

impl crate::id::Object for Coupon {
    const KIND: crate::IdKind = crate::IdKind::Coupon;
    const NAME: &'static str = "coupon";
    /// Its own ids, or one the merchant chose on create.
    fn accepts(s: &str) -> bool {
        crate::id::looks_like(Self::KIND, s) || crate::id::custom_id_ok(s)
    }
}

impl crate::id::Object for PromotionCode {
    const KIND: crate::IdKind = crate::IdKind::PromotionCode;
    const NAME: &'static str = "promotion_code";
}
