//! `/v1/prices` — one-time prices: a fixed `unit_amount`, or
//! `custom_unit_amount` (pay what you want, e.g. donations).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::{Price, RuleError};
use paylink_domain::money::MAX_AMOUNT;
use paylink_store::catalog::PriceFilter;
use paylink_store::Scope;
use serde::Deserialize;
use serde_json::Value;

use super::RetrieveArgs;
use super::{currency, ok, ListArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::catalog;
use crate::AppState;

pub fn create_params() -> Kind {
    obj(vec![
        req("currency", string(3), "Three-letter ISO 4217 currency code, lower case."),
        f("unit_amount", int(0, MAX_AMOUNT), "Amount in the currency's minor unit (cents for EUR, yen for JPY). One of unit_amount or custom_unit_amount is required."),
        f("unit_amount_decimal", Kind::Decimal, "The amount as a decimal string, a whole number of minor units (1999 or 1999.00): paylink charges whole units."),
        f("custom_unit_amount", obj(vec![
            req("enabled", Kind::Bool, "Must be true: the buyer chooses the amount."),
            f("minimum", int(0, MAX_AMOUNT), "Smallest amount the buyer may choose (at least the currency's minimum charge)."),
            f("maximum", int(0, MAX_AMOUNT), "Largest amount the buyer may choose."),
            f("preset", int(0, MAX_AMOUNT), "Amount suggested to the buyer."),
        ]), "Lets the buyer choose the amount (pay what you want)."),
        f("product", string(255), "The id of the product this price belongs to. One of product or product_data is required."),
        f("product_data", obj(vec![
            req("name", string(5000), "The new product's name."),
            f("id", string(255), "An identifier of your choice for the new product."),
            f("active", Kind::Bool, "Whether the new product is active."),
            metadata(),
        ]), "Creates a product together with the price."),
        f("active", Kind::Bool, "Whether the price can be used (default true)."),
        f("nickname", string(5000), "A brief description of the price, hidden from buyers."),
        f("lookup_key", string(200), "A key to find the price by."),
        f("billing_scheme", one_of(&["per_unit"]), "Only per_unit (a unit amount times the quantity)."),
        f("tax_behavior", one_of(&["unspecified"]), "Only unspecified: paylink calculates no tax."),
        metadata(),
        expand_of(&["product"]),
    ])
}
pub fn update_params() -> Kind {
    obj(vec![
        f("active", Kind::Bool, "Whether the price can be used."),
        f(
            "nickname",
            string(5000),
            "A brief description of the price.",
        )
        .unsettable(),
        f("lookup_key", string(200), "A key to find the price by.").unsettable(),
        metadata(),
        expand_of(&["product"]),
    ])
}
pub fn retrieve_params() -> Kind {
    obj(vec![expand_of(&["product"])])
}
pub fn list_params() -> Kind {
    crate::schema::list_params_expanding(
        &["data.product"],
        vec![
            f("active", Kind::Bool, "Only active (or inactive) prices."),
            f("product", string(255), "Only prices of this product."),
            f("currency", string(3), "Only prices in this currency."),
        ],
    )
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(flatten)]
    cmd: catalog::NewPrice,
    expand: Option<Vec<String>>,
}

/// Renders a price, expanding its product when asked (`product` or, in a
/// list, `data.product`).
pub(crate) async fn render(
    state: &AppState,
    scope: &Scope,
    p: &Price,
    expand_product: bool,
) -> Result<Value, ApiError> {
    let product = if expand_product {
        Some(objects::product(
            &state.store.get_product(scope, &p.product).await?,
        ))
    } else {
        None
    };
    Ok(objects::price(p, product))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let price = catalog::create_price(&state, &auth.scope, p.cmd).await?;
    Ok(ok(
        render(&state, &auth.scope, &price, !exp.is_empty()).await?
    ))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Price>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let price = state
        .store
        .get_price(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "price", &id))?;
    Ok(ok(
        render(&state, &auth.scope, &price, !exp.is_empty()).await?
    ))
}

#[derive(Deserialize)]
pub struct Update {
    active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    nickname: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    lookup_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
    expand: Option<Vec<String>>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Price>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let price = state
        .store
        .update_price(&auth.scope, &id, |pr| -> Result<(), RuleError> {
            if let Some(a) = p.active {
                pr.active = a;
            }
            if let Some(n) = p.nickname {
                pr.nickname = n;
            }
            if let Some(k) = p.lookup_key {
                pr.lookup_key = k;
            }
            pr.metadata.update(p.metadata)?;
            Ok(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "price", &id))?;
    Ok(ok(
        render(&state, &auth.scope, &price, !exp.is_empty()).await?
    ))
}

#[derive(Deserialize)]
pub struct List {
    #[serde(flatten)]
    page: ListArgs,
    active: Option<bool>,
    product: Option<String>,
    currency: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<List>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.page.expand);
    if let Some(c) = &p.currency {
        currency("currency", c)?;
    }
    let filter = PriceFilter {
        active: p.active,
        product: p.product,
        currency: p.currency.map(|c| c.to_ascii_lowercase()),
    };
    let page = state
        .store
        .list_prices(&auth.scope, &filter, &p.page.query()?)
        .await?;
    let mut data = Vec::with_capacity(page.data.len());
    for price in &page.data {
        data.push(render(&state, &auth.scope, price, !exp.is_empty()).await?);
    }
    Ok(ok(objects::list("/v1/prices", data, page.has_more)))
}
