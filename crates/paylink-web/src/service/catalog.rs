//! Products and prices: the typed commands both doors send (the `/v1`
//! handlers deserialize them from the request; the dashboard fills them
//! from its forms), the rules checked while building the domain objects,
//! and the store calls that keep each command in one transaction.

use std::collections::BTreeMap;

use paylink_domain::catalog::{
    check_http_url, check_images, check_text, check_unit_amount, CustomUnitAmount, Metadata, Price,
    PriceAmount, Product,
};
use paylink_domain::IdKind;
use paylink_store::catalog::PriceProduct;
use paylink_store::{Scope, StoreError};
use serde::Deserialize;

use super::{currency, custom_id, new_id};
use crate::{ApiError, AppState};

/// A new product (`POST /v1/products`, or `product_data` of a price).
#[derive(Debug, Default, Deserialize)]
pub struct NewProduct {
    pub id: Option<String>,
    pub name: String,
    pub active: Option<bool>,
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
    pub url: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Builds a product, checking its rules (a name, well-formed id, images
/// and URL).
pub fn new_product(livemode: bool, now: i64, p: NewProduct) -> Result<Product, ApiError> {
    check_text("name", &p.name, 5000)?;
    if p.name.trim().is_empty() {
        return Err(ApiError::invalid(
            Some("name".into()),
            "name can't be blank.",
        ));
    }
    if let Some(d) = &p.description {
        check_text("description", d, 40_000)?;
    }
    let id = match p.id {
        Some(id) => {
            custom_id(&id)?;
            id
        }
        None => new_id(IdKind::Product)?,
    };
    let metadata = metadata(p.metadata.as_ref())?;
    let images = p.images.unwrap_or_default();
    check_images(&images)?;
    if let Some(u) = &p.url {
        check_http_url(u, "url")?;
    }
    Ok(Product {
        id,
        livemode,
        created: now,
        updated: now,
        name: p.name,
        description: p.description,
        active: p.active.unwrap_or(true),
        images,
        metadata,
        default_price: None,
        url: p.url,
    })
}

/// Metadata from parameters, checked (at most 50 keys, bounded sizes).
pub fn metadata(m: Option<&BTreeMap<String, String>>) -> Result<Metadata, ApiError> {
    Ok(m.map(Metadata::from_map).transpose()?.unwrap_or_default())
}

/// Creates a product.
pub async fn create_product(
    state: &AppState,
    scope: &Scope,
    cmd: NewProduct,
) -> Result<Product, ApiError> {
    let product = new_product(scope.livemode, state.now(), cmd)?;
    match state.store.create_product(scope, &product).await {
        Err(StoreError::Conflict) => Err(ApiError::invalid_code(
            "resource_already_exists",
            Some("id".into()),
            "A product with this id already exists.",
        )),
        other => other.map(|()| product).map_err(ApiError::from),
    }
}

/// A buyer-chosen amount (`custom_unit_amount`).
#[derive(Debug, Default, Deserialize)]
pub struct CustomAmount {
    pub enabled: bool,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub preset: Option<i64>,
}

/// The product a new price belongs to: an existing one, or one made with it.
#[derive(Debug, Default, Deserialize)]
pub struct NewProductData {
    pub name: String,
    pub id: Option<String>,
    pub active: Option<bool>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// Only a checkout session's `price_data[product_data]` takes these.
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
}

/// A new price (`POST /v1/prices`).
#[derive(Debug, Default, Deserialize)]
pub struct NewPrice {
    pub currency: String,
    pub unit_amount: Option<i64>,
    /// The amount as a decimal string: paylink charges whole minor units,
    /// so only a whole number (`1999`, `1999.00`) is taken.
    pub unit_amount_decimal: Option<String>,
    pub custom_unit_amount: Option<CustomAmount>,
    pub product: Option<String>,
    pub product_data: Option<NewProductData>,
    pub active: Option<bool>,
    pub nickname: Option<String>,
    pub lookup_key: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

impl NewPrice {
    /// A fixed price of a new product named `name`.
    pub fn fixed_for_new_product(name: &str, currency: &str, amount: i64) -> NewPrice {
        NewPrice {
            currency: currency.to_string(),
            unit_amount: Some(amount),
            product_data: Some(NewProductData {
                name: name.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// A price ready to store: its product (new or existing) and itself.
pub struct BuiltPrice {
    pub product: PriceProduct,
    pub price: Price,
}

/// `unit_amount_decimal` as whole minor units.
fn whole_amount(d: &str) -> Result<i64, ApiError> {
    let (whole, fraction) = d.split_once('.').unwrap_or((d, ""));
    let refused = || {
        ApiError::invalid(
            Some("unit_amount_decimal".into()),
            "paylink charges whole minor units: unit_amount_decimal must be a whole number (such as 1999 or 1999.00).",
        )
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b == b'0')
    {
        return Err(refused());
    }
    whole.parse().map_err(|_| refused())
}

fn price_amount(cmd: &NewPrice, cur: paylink_domain::Currency) -> Result<PriceAmount, ApiError> {
    let unit =
        match (cmd.unit_amount, &cmd.unit_amount_decimal) {
            (Some(_), Some(_)) => return Err(ApiError::invalid(
                Some("unit_amount_decimal".into()),
                "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            )),
            (Some(a), None) => Some(a),
            (None, Some(d)) => Some(whole_amount(d)?),
            (None, None) => None,
        };
    match (unit, &cmd.custom_unit_amount) {
        (Some(a), None) => Ok(PriceAmount::Fixed(check_unit_amount(a)?)),
        (None, Some(c)) => {
            if !c.enabled {
                return Err(ApiError::invalid(
                    Some("custom_unit_amount[enabled]".into()),
                    "custom_unit_amount[enabled] must be true.",
                ));
            }
            Ok(PriceAmount::Custom(CustomUnitAmount::new(
                cur, c.minimum, c.maximum, c.preset,
            )?))
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            Some("custom_unit_amount".into()),
            "You may only specify one of these parameters: unit_amount, custom_unit_amount.",
        )),
        (None, None) => Err(ApiError::invalid(
            Some("unit_amount".into()),
            "Missing required param: unit_amount (or custom_unit_amount).",
        )),
    }
}

/// Builds a price (and its new product), checking every rule; nothing is
/// stored.
pub fn build_price(livemode: bool, now: i64, cmd: NewPrice) -> Result<BuiltPrice, ApiError> {
    let cur = currency("currency", &cmd.currency)?;
    let amount = price_amount(&cmd, cur)?;
    if let Some(n) = &cmd.nickname {
        check_text("nickname", n, 5000)?;
    }
    if let Some(k) = &cmd.lookup_key {
        check_text("lookup_key", k, 200)?;
    }
    let product = match (cmd.product, cmd.product_data) {
        (Some(id), None) => PriceProduct::Existing(id),
        (None, Some(d)) => PriceProduct::New(Box::new(
            new_product(
                livemode,
                now,
                NewProduct {
                    id: d.id,
                    name: d.name,
                    active: d.active,
                    metadata: d.metadata,
                    description: d.description,
                    images: d.images,
                    url: None,
                },
            )
            .map_err(|e| e.nested_in("product_data"))?,
        )),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                Some("product_data".into()),
                "You may only specify one of these parameters: product, product_data.",
            ))
        }
        (None, None) => {
            return Err(ApiError::invalid(
                Some("product".into()),
                "Missing required param: product (or product_data).",
            ))
        }
    };
    let product_id = match &product {
        PriceProduct::Existing(id) => id.clone(),
        PriceProduct::New(p) => p.id.clone(),
    };
    let price = Price {
        id: new_id(IdKind::Price)?,
        livemode,
        created: now,
        product: product_id,
        currency: cur,
        amount,
        nickname: cmd.nickname,
        active: cmd.active.unwrap_or(true),
        lookup_key: cmd.lookup_key,
        metadata: metadata(cmd.metadata.as_ref())?,
    };
    Ok(BuiltPrice { product, price })
}

/// The answer to a new product whose id is taken.
pub fn product_id_taken() -> ApiError {
    ApiError::invalid_code(
        "resource_already_exists",
        Some("product_data[id]".into()),
        "A product with this id already exists.",
    )
}

/// Creates a price, and its product when it comes with `product_data`, in
/// one transaction.
pub async fn create_price(
    state: &AppState,
    scope: &Scope,
    cmd: NewPrice,
) -> Result<Price, ApiError> {
    let built = build_price(scope.livemode, state.now(), cmd)?;
    match state
        .store
        .create_price(scope, built.product, &built.price)
        .await
    {
        Err(StoreError::Conflict) => Err(product_id_taken()),
        other => other.map(|()| built.price).map_err(ApiError::from),
    }
}

/// Creates a product and its first price in one transaction (the
/// dashboard's "new product with a price", the API's `default_price_data`):
/// both or neither, the price the product's `default_price`. A price
/// error names its parameter inside `price_param` when one is given
/// (`default_price_data[unit_amount]`).
pub async fn create_product_with_price(
    state: &AppState,
    scope: &Scope,
    product: NewProduct,
    price: NewPrice,
    price_param: Option<&str>,
) -> Result<(Product, Price), ApiError> {
    let now = state.now();
    let mut product = new_product(scope.livemode, now, product)?;
    let built = build_price(
        scope.livemode,
        now,
        NewPrice {
            product: Some(product.id.clone()),
            product_data: None,
            ..price
        },
    )
    .map_err(|e| match price_param {
        Some(p) => e.nested_in(p),
        None => e,
    })?;
    product.default_price = Some(built.price.id.clone());
    match state
        .store
        .create_price(
            scope,
            PriceProduct::New(Box::new(product.clone())),
            &built.price,
        )
        .await
    {
        Err(StoreError::Conflict) => Err(ApiError::invalid_code(
            "resource_already_exists",
            Some("id".into()),
            "A product with this id already exists.",
        )),
        other => other
            .map(|()| (product, built.price))
            .map_err(ApiError::from),
    }
}
