//! `/v1/products`

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::{check_http_url, check_images, Product, RuleError};
use paylink_store::catalog::{ProductDeletion, ProductFilter};
use serde::Deserialize;

use super::{expansions, ok, Empty, ListArgs, RetrieveArgs};
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
        metadata(),
        expand(),
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
    crate::schema::list_params(vec![f(
        "active",
        Kind::Bool,
        "Only products that are (or are not) active.",
    )])
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(flatten)]
    cmd: catalog::NewProduct,
    expand: Option<Vec<String>>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let product = catalog::create_product(&state, &auth.scope, p.cmd).await?;
    Ok(ok(objects::product(&product)))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<Product>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    let product = state
        .store
        .get_product(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "product", &id))?;
    Ok(ok(objects::product(&product)))
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
    expansions(&p.expand, &[])?;
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
    Ok(ok(objects::product(&product)))
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
    expansions(&p.page.expand, &[])?;
    let page = state
        .store
        .list_products(
            &auth.scope,
            &ProductFilter { active: p.active },
            &p.page.query()?,
        )
        .await?;
    let page = page.map(|x| objects::product(&x));
    Ok(ok(objects::list("/v1/products", page.data, page.has_more)))
}
