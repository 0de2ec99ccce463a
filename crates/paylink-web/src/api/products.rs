//! `/v1/products`

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::{check_http_url, check_images, Product, RuleError};
use paylink_store::catalog::{ProductDeletion, ProductFilter};
use serde::Deserialize;

use super::{ok, Empty, ListArgs, RetrieveArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{double_option, Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::catalog;
use crate::AppState;

pub fn create_params() -> Kind {
    obj(vec![
        f(
            "id",
            string(255),
            "An identifier of your choice; generated when omitted.",
        ),
        req("name", string(5000), "The product's name, shown to buyers."),
        f(
            "active",
            Kind::Bool,
            "Whether the product can be sold (default true).",
        ),
        f(
            "description",
            string(40000),
            "A description shown to buyers.",
        ),
        f("images", arr(string(2048), 8), "Up to 8 image URLs."),
        f(
            "url",
            string(2048),
            "A publicly accessible web page for the product.",
        ),
        f(
            "default_price_data",
            obj(vec![
                req("currency", string(3), "Three-letter ISO 4217 currency code, lower case."),
                f("unit_amount", int(0, paylink_domain::money::MAX_AMOUNT), "Amount in the currency's minor unit. One of unit_amount or custom_unit_amount is required."),
                f("custom_unit_amount", obj(vec![
                    req("enabled", Kind::Bool, "Must be true: the buyer chooses the amount."),
                    f("minimum", int(0, paylink_domain::money::MAX_AMOUNT), "Smallest amount the buyer may choose."),
                    f("maximum", int(0, paylink_domain::money::MAX_AMOUNT), "Largest amount the buyer may choose."),
                    f("preset", int(0, paylink_domain::money::MAX_AMOUNT), "Amount suggested to the buyer."),
                ]), "Lets the buyer choose the amount (pay what you want)."),
                f("tax_behavior", one_of(&["unspecified"]), "Only unspecified: paylink calculates no tax."),
                metadata(),
            ]),
            "A price created with the product, in the same transaction, and made its default_price (Stripe's Payment Links guide's first step).",
        ),
        f("type", one_of(&["service"]), "Only service (what every paylink product is; goods with shipping dimensions are not modelled)."),
        metadata(),
        expand_of(&["default_price"]),
    ])
}
pub fn update_params() -> Kind {
    obj(vec![
        f("name", string(5000), "The product's name."),
        f("active", Kind::Bool, "Whether the product can be sold."),
        f(
            "description",
            string(40000),
            "A description shown to buyers.",
        )
        .unsettable(),
        f("images", arr(string(2048), 8), "Up to 8 image URLs.").unsettable(),
        f(
            "url",
            string(2048),
            "A publicly accessible web page for the product.",
        )
        .unsettable(),
        f(
            "default_price",
            string(255),
            "An active price of this product to make its default.",
        )
        .unsettable(),
        metadata(),
        expand_of(&["default_price"]),
    ])
}
pub fn retrieve_params() -> Kind {
    obj(vec![expand_of(&["default_price"])])
}
pub fn delete_params() -> Kind {
    obj(vec![])
}
pub fn list_params() -> Kind {
    crate::schema::list_params_expanding(
        &["data.default_price"],
        vec![f(
            "active",
            Kind::Bool,
            "Only products that are (or are not) active.",
        )],
    )
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(flatten)]
    cmd: catalog::NewProduct,
    default_price_data: Option<DefaultPriceData>,
    expand: Option<Vec<String>>,
}

/// `default_price_data`: the product's first price.
#[derive(Deserialize)]
pub struct DefaultPriceData {
    currency: String,
    unit_amount: Option<i64>,
    custom_unit_amount: Option<catalog::CustomAmount>,
    metadata: Option<BTreeMap<String, String>>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let product = match p.default_price_data {
        None => catalog::create_product(&state, &auth.scope, p.cmd).await?,
        Some(d) => {
            let price = catalog::NewPrice {
                currency: d.currency,
                unit_amount: d.unit_amount,
                custom_unit_amount: d.custom_unit_amount,
                metadata: d.metadata,
                ..Default::default()
            };
            catalog::create_product_with_price(
                &state,
                &auth.scope,
                p.cmd,
                price,
                Some("default_price_data"),
            )
            .await?
            .0
        }
    };
    Ok(ok(
        render(&state, &auth.scope, &product, !exp.is_empty()).await?
    ))
}

/// A product, its `default_price` expanded to the price when asked.
async fn render(
    state: &AppState,
    scope: &paylink_store::Scope,
    product: &Product,
    expand_price: bool,
) -> Result<serde_json::Value, ApiError> {
    let mut v = objects::product(product);
    if let (true, Some(id), serde_json::Value::Object(m)) =
        (expand_price, &product.default_price, &mut v)
    {
        let price = state.store.get_price(scope, id).await?;
        m.insert("default_price".into(), objects::price(&price, None));
    }
    Ok(v)
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Product>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let product = state
        .store
        .get_product(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "product", &id))?;
    Ok(ok(
        render(&state, &auth.scope, &product, !exp.is_empty()).await?
    ))
}

#[derive(Deserialize)]
pub struct Update {
    name: Option<String>,
    active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    images: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    default_price: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    metadata: Option<Option<BTreeMap<String, String>>>,
    expand: Option<Vec<String>>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Product>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let now = state.now();
    let product = state
        .store
        .update_product(&auth.scope, &id, |prod| {
            if let Some(n) = p.name {
                if n.trim().is_empty() {
                    return Err(RuleError::new("name", "name can't be blank."));
                }
                prod.name = n;
            }
            if let Some(a) = p.active {
                prod.active = a;
            }
            if let Some(d) = p.description {
                prod.description = d;
            }
            if let Some(i) = p.images {
                let i = i.unwrap_or_default();
                check_images(&i)?;
                prod.images = i;
            }
            if let Some(u) = p.url {
                if let Some(u) = &u {
                    check_http_url(u, "url")?;
                }
                prod.url = u;
            }
            if let Some(dp) = p.default_price {
                prod.default_price = dp;
            }
            prod.metadata.update(p.metadata)?;
            prod.updated = now;
            Ok(())
        })
        .await
        .map_err(|e| ApiError::from_store(e, "product", &id))?;
    Ok(ok(
        render(&state, &auth.scope, &product, !exp.is_empty()).await?
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Product>,
    Input(_): Input<Empty>,
) -> Result<Response, ApiError> {
    match state
        .store
        .delete_product(&auth.scope, &id, state.now())
        .await
    {
        Ok(ProductDeletion::Deleted) => Ok(ok(objects::deleted("product", &id))),
        Ok(ProductDeletion::Archived(p)) => Ok(ok(
            serde_json::json!({"id": p.id, "object": "product", "deleted": false}),
        )),
        Err(e) => Err(ApiError::from_store(e, "product", &id)),
    }
}

#[derive(Deserialize)]
pub struct List {
    #[serde(flatten)]
    page: ListArgs,
    active: Option<bool>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<List>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.page.expand);
    let page = state
        .store
        .list_products(
            &auth.scope,
            &ProductFilter { active: p.active },
            &p.page.query()?,
        )
        .await?;
    let mut data = Vec::with_capacity(page.data.len());
    for x in &page.data {
        data.push(render(&state, &auth.scope, x, !exp.is_empty()).await?);
    }
    Ok(ok(objects::list("/v1/products", data, page.has_more)))
}
