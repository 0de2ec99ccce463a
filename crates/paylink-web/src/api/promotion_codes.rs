//! `/v1/promotion_codes` — customer-facing codes for a coupon.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::PromotionCode;
use paylink_domain::money::MAX_AMOUNT;
use paylink_store::catalog::PromotionCodeFilter;
use serde::Deserialize;

use super::RetrieveArgs;
use super::{ok, ListArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::coupons;
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
pub struct Create {
    promotion: Option<Promotion>,
    coupon: Option<String>,
    #[serde(flatten)]
    cmd: coupons::NewPromotionCode,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
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
    let promo =
        coupons::create_promotion_code(&state, &auth.scope, &coupon_id, "promotion[coupon]", p.cmd)
            .await?;
    Ok(ok(objects::promotion_code(&promo)))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PromotionCode>,
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
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
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PromotionCode>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
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
