//! `/v1/promotion_codes` — customer-facing codes for a coupon.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::{
    check_promotion_code, Metadata, PromotionCode, PromotionRestrictions,
};
use paylink_domain::money::MAX_AMOUNT;
use paylink_domain::{IdKind, Money};
use paylink_store::catalog::PromotionCodeFilter;
use paylink_store::StoreError;
use serde::Deserialize;

use super::products::{rule, RetrieveArgs};
use super::{currency, expansions, new_id, ok, ListArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input};
use crate::objects;
use crate::schema::*;
use crate::AppState;

pub fn create_params() -> Kind {
    obj(vec![
        f("code", string(500), "The code buyers enter, case-insensitively unique in the account; generated when omitted."),
        f("promotion", obj(vec![
            req("type", one_of(&["coupon"]), "What the code grants: coupon."),
            f("coupon", string(255), "The coupon the code applies."),
        ]), "What the code grants (the current API shape)."),
        f("coupon", string(255), "The coupon the code applies (the older API shape; use promotion[coupon])."),
        f("active", Kind::Bool, "Whether the code can be used (default true)."),
        f("max_redemptions", int(1, i64::from(u32::MAX)), "How many times the code may be redeemed."),
        f("expires_at", int(1, 253_402_300_799), "Unix time at which the code expires."),
        f("restrictions", obj(vec![
            f("minimum_amount", int(1, MAX_AMOUNT), "Smallest order subtotal the code applies to, in minor units."),
            f("minimum_amount_currency", string(3), "Currency of minimum_amount."),
            f("first_time_transaction", Kind::Bool, "Only for a buyer's first purchase."),
        ]), "Conditions on the order."),
        metadata(),
        expand(),
    ])
}
pub fn update_params() -> Kind {
    obj(vec![
        f("active", Kind::Bool, "Whether the code can be used."),
        metadata(),
        expand(),
    ])
}
pub fn retrieve_params() -> Kind {
    obj(vec![expand()])
}
pub fn list_params() -> Kind {
    crate::schema::list_params(vec![
        f("active", Kind::Bool, "Only active (or inactive) codes."),
        f(
            "code",
            string(500),
            "Only the code with this text (any letter case).",
        ),
        f("coupon", string(255), "Only codes of this coupon."),
    ])
}

#[derive(Deserialize)]
struct Promotion {
    coupon: Option<String>,
}

#[derive(Deserialize)]
struct Restrictions {
    minimum_amount: Option<i64>,
    minimum_amount_currency: Option<String>,
    first_time_transaction: Option<bool>,
}

#[derive(Deserialize)]
pub struct Create {
    code: Option<String>,
    promotion: Option<Promotion>,
    coupon: Option<String>,
    active: Option<bool>,
    max_redemptions: Option<i64>,
    expires_at: Option<i64>,
    restrictions: Option<Restrictions>,
    metadata: Option<BTreeMap<String, String>>,
    expand: Option<Vec<String>>,
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

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let now = state.now();
    let coupon_id = match (p.promotion.and_then(|pr| pr.coupon), p.coupon) {
        (Some(c), None) | (None, Some(c)) => c,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                Some("coupon".into()),
                "You may only specify one of these parameters: promotion[coupon], coupon.",
            ))
        }
        (None, None) => {
            return Err(ApiError::invalid(
                Some("promotion[coupon]".into()),
                "Missing required param: promotion[coupon].",
            ))
        }
    };
    let coupon = state
        .store
        .get_coupon(&auth.scope, &coupon_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::no_such("coupon", &coupon_id, Some("promotion[coupon]"))
            }
            other => other.into(),
        })?;
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
    let restrictions = match p.restrictions {
        None => PromotionRestrictions {
            minimum_amount: None,
            first_time_transaction: false,
        },
        Some(r) => {
            let minimum_amount = match (r.minimum_amount, r.minimum_amount_currency) {
                (Some(a), Some(c)) => {
                    let cur = currency("restrictions[minimum_amount_currency]", &c)?;
                    Some(Money::new(a, cur).map_err(|e| ApiError::invalid(Some("restrictions[minimum_amount]".into()), e.to_string()))?)
                }
                (None, None) => None,
                (Some(_), None) => return Err(ApiError::invalid(Some("restrictions[minimum_amount_currency]".into()), "Missing required param: restrictions[minimum_amount_currency] (required with minimum_amount).")),
                (None, Some(_)) => return Err(ApiError::invalid(Some("restrictions[minimum_amount]".into()), "Missing required param: restrictions[minimum_amount] (required with minimum_amount_currency).")),
            };
            PromotionRestrictions {
                minimum_amount,
                first_time_transaction: r.first_time_transaction.unwrap_or(false),
            }
        }
    };
    let chosen = p.code.is_some();
    if let Some(c) = &p.code {
        check_promotion_code(c).map_err(rule)?;
    }
    let metadata = p
        .metadata
        .as_ref()
        .map(Metadata::from_map)
        .transpose()
        .map_err(rule)?
        .unwrap_or_default();
    let mut code = p.code.map_or_else(generated_code, Ok)?;
    // A generated code may, rarely, collide with an existing one: draw again.
    for attempt in 0..5 {
        let promo = PromotionCode {
            id: new_id(IdKind::PromotionCode)?,
            livemode: auth.scope.livemode,
            created: now,
            code: code.clone(),
            coupon: coupon.id.clone(),
            active: p.active.unwrap_or(true),
            max_redemptions: p.max_redemptions,
            expires_at: p.expires_at,
            restrictions: restrictions.clone(),
            times_redeemed: 0,
            metadata: metadata.clone(),
        };
        match state.store.create_promotion_code(&auth.scope, &promo).await {
            Ok(()) => return Ok(ok(objects::promotion_code(&promo))),
            Err(StoreError::Conflict) if chosen || attempt == 4 => {
                return Err(ApiError::invalid_code(
                    "resource_already_exists",
                    Some("code".into()),
                    "A promotion code with this code already exists in this account.",
                ));
            }
            Err(StoreError::Conflict) => code = generated_code()?,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("promotion code generation loop ended"))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let promo = state
        .store
        .get_promotion_code(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "promotion_code", &id))?;
    Ok(ok(objects::promotion_code(&promo)))
}

#[derive(Deserialize)]
pub struct Update {
    active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
    expand: Option<Vec<String>>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let promo = state
        .store
        .update_promotion_code(&auth.scope, &id, |pc| {
            if let Some(a) = p.active {
                pc.active = a;
            }
            pc.metadata.update(p.metadata)?;
            Ok(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "promotion_code", &id))?;
    Ok(ok(objects::promotion_code(&promo)))
}

#[derive(Deserialize)]
pub struct List {
    #[serde(flatten)]
    page: ListArgs,
    active: Option<bool>,
    code: Option<String>,
    coupon: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<List>,
) -> Result<Response, ApiError> {
    expansions(&p.page.expand, &[])?;
    let filter = PromotionCodeFilter {
        active: p.active,
        code: p.code,
        coupon: p.coupon,
    };
    let page = state
        .store
        .list_promotion_codes(&auth.scope, &filter, &p.page.query()?)
        .await?;
    let page = page.map(|x| objects::promotion_code(&x));
    Ok(ok(objects::list(
        "/v1/promotion_codes",
        page.data,
        page.has_more,
    )))
}
