//! `/v1/coupons` — a discount (percent or fixed amount) applied once to a
//! payment.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::Coupon;
use paylink_domain::money::MAX_AMOUNT;
use serde::Deserialize;

use super::{ok, ListArgs};
use super::{Empty, RetrieveArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::coupons;
use crate::AppState;

pub fn create_params() -> Kind {
    obj(vec![
        f("id", string(255), "An identifier of your choice; generated when omitted."),
        f("percent_off", Kind::Decimal, "Percentage taken off, greater than 0 and at most 100, up to two decimals. One of percent_off or amount_off is required."),
        f("amount_off", int(1, MAX_AMOUNT), "Amount taken off, in the currency's minor unit (requires currency)."),
        f("currency", string(3), "Currency of amount_off."),
        f("duration", one_of(&["once"]), "How long the discount applies: once (paylink's payments are one-time)."),
        f("max_redemptions", int(1, i64::from(u32::MAX)), "How many times the coupon may be redeemed in all."),
        f("redeem_by", int(1, 253_402_300_799), "Unix time after which the coupon can no longer be redeemed."),
        f("name", string(40), "Name shown to buyers."),
        metadata(),
        expand(),
    ])
}
pub fn update_params() -> Kind {
    obj(vec![
        f("name", string(40), "Name shown to buyers.").unsettable(),
        metadata(),
        expand(),
    ])
}
pub fn retrieve_params() -> Kind {
    obj(vec![expand()])
}
pub fn delete_params() -> Kind {
    obj(vec![])
}
pub fn list_params() -> Kind {
    crate::schema::list_params(vec![])
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(flatten)]
    cmd: coupons::NewCoupon,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    let coupon = coupons::create_coupon(&state, &auth.scope, p.cmd).await?;
    Ok(ok(objects::coupon(&coupon, state.now())))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Coupon>,
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let c = state
        .store
        .get_coupon(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "coupon", &id))?;
    Ok(ok(objects::coupon(&c, state.now())))
}

#[derive(Deserialize)]
pub struct Update {
    #[serde(default, deserialize_with = "double_option")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Coupon>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    let c = state
        .store
        .update_coupon(&auth.scope, &id, |c| {
            if let Some(n) = p.name {
                c.name = n;
            }
            c.metadata.update(p.metadata)?;
            Ok(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "coupon", &id))?;
    Ok(ok(objects::coupon(&c, state.now())))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Coupon>,
    Input(_): Input<Empty>,
) -> Result<Response, ApiError> {
    state
        .store
        .delete_coupon(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "coupon", &id))?;
    Ok(ok(objects::deleted("coupon", &id)))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<ListArgs>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let page = state.store.list_coupons(&auth.scope, &p.query()?).await?;
    let page = page.map(|c| objects::coupon(&c, now));
    Ok(ok(objects::list("/v1/coupons", page.data, page.has_more)))
}
