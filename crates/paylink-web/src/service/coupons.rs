//! Coupons and their promotion codes: typed commands, the rules checked
//! while building them, and their creation (a coupon with its first code
//! in one transaction, so a refused code leaves no coupon behind).

use std::collections::BTreeMap;

use paylink_domain::catalog::{
    check_promotion_code, check_range, check_text, Coupon, CouponDuration, PromotionCode,
    PromotionRestrictions,
};
use paylink_domain::{Discount, IdKind, Money, PercentOff};
use paylink_store::{Scope, StoreError};
use serde::Deserialize;

use super::catalog::metadata;
use super::{currency, custom_id, new_id};
use crate::{ApiError, AppState};

/// A new coupon (`POST /v1/coupons`).
#[derive(Debug, Default, Deserialize)]
pub struct NewCoupon {
    pub id: Option<String>,
    pub percent_off: Option<String>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub name: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

fn discount(c: &NewCoupon) -> Result<Discount, ApiError> {
    match (&c.percent_off, c.amount_off) {
        (Some(pct), None) => {
            if c.currency.is_some() {
                return Err(ApiError::invalid(
                    Some("currency".into()),
                    "currency can only be set together with amount_off.",
                ));
            }
            Ok(Discount::Percent(PercentOff::parse(pct).map_err(|e| {
                ApiError::invalid(Some("percent_off".into()), e.to_string())
            })?))
        }
        (None, Some(a)) => {
            let code = c.currency.as_deref().ok_or_else(|| {
                ApiError::invalid(
                    Some("currency".into()),
                    "Missing required param: currency (required with amount_off).",
                )
            })?;
            let cur = currency("currency", code)?;
            Ok(Discount::Amount(Money::new(a, cur).map_err(|e| {
                ApiError::invalid(Some("amount_off".into()), e.to_string())
            })?))
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            Some("amount_off".into()),
            "You may only specify one of these parameters: amount_off, percent_off.",
        )),
        (None, None) => Err(ApiError::invalid(
            Some("percent_off".into()),
            "Missing required param: percent_off (or amount_off).",
        )),
    }
}

/// Builds a coupon, checking its rules; nothing is stored.
pub fn build_coupon(livemode: bool, now: i64, c: NewCoupon) -> Result<Coupon, ApiError> {
    let discount = discount(&c)?;
    if let Some(n) = &c.name {
        check_text("name", n, 40)?;
    }
    if let Some(m) = c.max_redemptions {
        check_range("max_redemptions", m, 1, i64::from(u32::MAX))?;
    }
    if c.redeem_by.is_some_and(|r| r <= now) {
        return Err(ApiError::invalid(
            Some("redeem_by".into()),
            "redeem_by must be in the future.",
        ));
    }
    let id = match c.id {
        Some(id) => {
            custom_id(&id)?;
            id
        }
        None => new_id(IdKind::Coupon)?,
    };
    Ok(Coupon {
        id,
        livemode,
        created: now,
        name: c.name,
        discount,
        duration: CouponDuration::Once,
        max_redemptions: c.max_redemptions,
        redeem_by: c.redeem_by,
        times_redeemed: 0,
        metadata: metadata(c.metadata.as_ref())?,
    })
}

fn coupon_taken() -> ApiError {
    ApiError::invalid_code(
        "resource_already_exists",
        Some("id".into()),
        "Coupon already exists.",
    )
}

fn code_taken() -> ApiError {
    ApiError::invalid_code(
        "resource_already_exists",
        Some("code".into()),
        "A promotion code with this code already exists in this account.",
    )
}

/// Creates a coupon.
pub async fn create_coupon(
    state: &AppState,
    scope: &Scope,
    cmd: NewCoupon,
) -> Result<Coupon, ApiError> {
    let coupon = build_coupon(scope.livemode, state.now(), cmd)?;
    match state.store.create_coupon(scope, &coupon).await {
        Err(StoreError::Conflict) => Err(coupon_taken()),
        other => other.map(|()| coupon).map_err(ApiError::from),
    }
}

/// Who may use a code.
#[derive(Debug, Default, Deserialize)]
pub struct CodeRestrictions {
    pub minimum_amount: Option<i64>,
    pub minimum_amount_currency: Option<String>,
    pub first_time_transaction: Option<bool>,
}

/// A new promotion code of a coupon (its coupon is named apart).
#[derive(Debug, Default, Deserialize)]
pub struct NewPromotionCode {
    /// The code buyers type; generated when omitted.
    pub code: Option<String>,
    pub active: Option<bool>,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    pub restrictions: Option<CodeRestrictions>,
    pub metadata: Option<BTreeMap<String, String>>,
}

fn restrictions(r: Option<CodeRestrictions>) -> Result<PromotionRestrictions, ApiError> {
    let Some(r) = r else {
        return Ok(PromotionRestrictions {
            minimum_amount: None,
            first_time_transaction: false,
        });
    };
    let minimum_amount = match (r.minimum_amount, r.minimum_amount_currency) {
        (Some(a), Some(c)) => {
            let cur = currency("restrictions[minimum_amount_currency]", &c)?;
            Some(Money::new(a, cur).map_err(|e| {
                ApiError::invalid(Some("restrictions[minimum_amount]".into()), e.to_string())
            })?)
        }
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::invalid(Some("restrictions[minimum_amount_currency]".into()), "Missing required param: restrictions[minimum_amount_currency] (required with minimum_amount).")),
        (None, Some(_)) => return Err(ApiError::invalid(Some("restrictions[minimum_amount]".into()), "Missing required param: restrictions[minimum_amount] (required with minimum_amount_currency).")),
    };
    Ok(PromotionRestrictions {
        minimum_amount,
        first_time_transaction: r.first_time_transaction.unwrap_or(false),
    })
}

/// A code buyers can type: 8 characters without look-alikes (0/O, 1/I).
fn generated_code() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let bytes = paylink_domain::id::random_bytes::<8>().map_err(ApiError::internal)?;
    Ok(bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(b % 32)).map(|c| char::from(*c)))
        .collect())
}

/// A promotion code checked against its coupon, not yet stored; `code` is
/// drawn anew on each call when the merchant chose none.
struct CodeDraft {
    chosen: Option<String>,
    template: PromotionCode,
}

impl CodeDraft {
    fn new(
        coupon: &Coupon,
        livemode: bool,
        now: i64,
        p: NewPromotionCode,
    ) -> Result<Self, ApiError> {
        if p.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::invalid(
                Some("expires_at".into()),
                "expires_at must be in the future.",
            ));
        }
        if let (Some(e), Some(r)) = (p.expires_at, coupon.redeem_by) {
            if e > r {
                return Err(ApiError::invalid(
                    Some("expires_at".into()),
                    "expires_at can't be later than the coupon's redeem_by.",
                ));
            }
        }
        if let Some(m) = p.max_redemptions {
            check_range("max_redemptions", m, 1, i64::from(u32::MAX))?;
        }
        let restrictions = restrictions(p.restrictions)?;
        if let Some(c) = &p.code {
            check_promotion_code(c)?;
        }
        let metadata = metadata(p.metadata.as_ref())?;
        Ok(CodeDraft {
            chosen: p.code,
            template: PromotionCode {
                id: String::new(),
                livemode,
                created: now,
                code: String::new(),
                coupon: coupon.id.clone(),
                active: p.active.unwrap_or(true),
                max_redemptions: p.max_redemptions,
                expires_at: p.expires_at,
                restrictions,
                times_redeemed: 0,
                metadata,
            },
        })
    }

    /// The next attempt: a fresh id, and the chosen code or a fresh one.
    fn attempt(&self) -> Result<PromotionCode, ApiError> {
        let mut p = self.template.clone();
        p.id = new_id(IdKind::PromotionCode)?;
        p.code = match &self.chosen {
            Some(c) => c.clone(),
            None => generated_code()?,
        };
        Ok(p)
    }
}

/// Attempts at a generated code before giving up (a collision is rare).
const CODE_ATTEMPTS: usize = 5;

/// Runs `store` with fresh attempts of `draft` until one is not a
/// duplicate; a chosen code that is taken is refused at once.
async fn with_free_code<F, Fut, T>(draft: &CodeDraft, mut store: F) -> Result<T, ApiError>
where
    F: FnMut(PromotionCode) -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    for attempt in 0..CODE_ATTEMPTS {
        match store(draft.attempt()?).await {
            Ok(t) => return Ok(t),
            Err(StoreError::Conflict) if draft.chosen.is_some() || attempt + 1 == CODE_ATTEMPTS => {
                return Err(code_taken())
            }
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(code_taken())
}

/// Creates a promotion code of the coupon `coupon_id` (`param` names that
/// parameter in an error).
pub async fn create_promotion_code(
    state: &AppState,
    scope: &Scope,
    coupon_id: &str,
    param: &str,
    cmd: NewPromotionCode,
) -> Result<PromotionCode, ApiError> {
    let coupon = state
        .store
        .get_coupon(scope, coupon_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::no_such("coupon", coupon_id, Some(param)),
            other => other.into(),
        })?;
    let draft = CodeDraft::new(&coupon, scope.livemode, state.now(), cmd)?;
    with_free_code(&draft, |promo| async move {
        state.store.create_promotion_code(scope, &promo).await?;
        Ok(promo)
    })
    .await
}

/// Creates a coupon and its first promotion code in one transaction: when
/// the code is refused (taken, say), the coupon is not kept either.
pub async fn create_coupon_with_code(
    state: &AppState,
    scope: &Scope,
    coupon: NewCoupon,
    code: NewPromotionCode,
) -> Result<(Coupon, PromotionCode), ApiError> {
    let now = state.now();
    let coupon = build_coupon(scope.livemode, now, coupon)?;
    let draft = CodeDraft::new(&coupon, scope.livemode, now, code)?;
    let coupon = &coupon;
    with_free_code(&draft, |promo| async move {
        state
            .store
            .create_coupon_with_code(scope, coupon, &promo)
            .await?;
        Ok((coupon.clone(), promo))
    })
    .await
}
