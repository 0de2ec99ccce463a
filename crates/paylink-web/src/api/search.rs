//! `GET /v1/{products,prices,customers,payment_intents}/search`: Stripe's
//! search query language (see [`paylink_domain::search`]) over the
//! account's objects of one kind in the key's mode, newest first.
//!
//! The query is evaluated on the objects as paylink holds them (buyers'
//! details are sealed at rest, so a customer's name or phone can only be
//! compared once opened): a search reads the account's objects in batches
//! and stops after [`MAX_SCANNED`] of them once it has found something,
//! answering `has_more` with a `next_page` to go on from (a page is never
//! empty while more may follow: the SDKs' auto-paging stops at one). A customer search naming an exact `email`
//! reads only that email's customers, through the blind index.

use std::future::Future;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::search::{parse, FieldKind, FieldValue, Op, Query};
use paylink_store::catalog::{PriceFilter, ProductFilter};
use paylink_store::{ListQuery, Page, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ok;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Input;
use crate::objects;
use crate::schema::*;
use crate::AppState;

/// Objects read per batch.
const BATCH: i64 = 200;
/// Most objects one search request reads before answering.
pub const MAX_SCANNED: usize = 10_000;

pub fn search_params() -> Kind {
    obj(vec![
        req(
            "query",
            string(1000),
            "Stripe's search query, e.g. name~\"shirt\" AND active:\"true\".",
        ),
        f(
            "limit",
            int(1, 100),
            "Results per page, 1 to 100 (default 10).",
        ),
        f(
            "page",
            string(255),
            "The next_page of a previous answer, to go on from.",
        ),
        expand(),
    ])
}

#[derive(Deserialize)]
pub struct SearchArgs {
    query: String,
    limit: Option<i64>,
    page: Option<String>,
}

fn query_error(message: String) -> ApiError {
    ApiError::invalid(Some("query".into()), message)
}

/// The parsed query of `args`, checked against `resource`'s fields.
fn query_of(
    args: &SearchArgs,
    resource: &str,
    kind_of: fn(&str) -> Option<FieldKind>,
) -> Result<Query, ApiError> {
    let q = parse(&args.query).map_err(|e| query_error(e.0))?;
    q.check(resource, kind_of).map_err(|e| query_error(e.0))?;
    Ok(q)
}

/// Reads batches from `fetch` (a list, newest first, after an id) until
/// `limit` objects match or [`MAX_SCANNED`] were read; renders Stripe's
/// `search_result`.
async fn run<T, F, Fut>(
    url: &str,
    args: &SearchArgs,
    fetch: F,
    id_of: fn(&T) -> &str,
    keep: impl Fn(&T) -> bool,
    render: impl Fn(&T) -> Value,
) -> Result<Response, ApiError>
where
    F: Fn(ListQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let limit = usize::try_from(args.limit.unwrap_or(10)).unwrap_or(10);
    let mut after = args.page.clone();
    let mut found: Vec<Value> = Vec::new();
    let mut scanned = 0usize;
    let mut next_page: Option<String> = None;
    'scan: loop {
        let page = fetch(ListQuery {
            limit: BATCH,
            starting_after: after.clone(),
            ending_before: None,
            ..Default::default()
        })
        .await
        .map_err(|e| match e {
            StoreError::InvalidCursor(_) => ApiError::invalid(
                Some("page".into()),
                "Invalid page: it is not a next_page of this search.",
            ),
            e => e.into(),
        })?;
        for (i, item) in page.data.iter().enumerate() {
            if keep(item) {
                if found.len() == limit {
                    // One more match: there is a next page, after the last
                    // one returned.
                    break 'scan;
                }
                found.push(render(item));
                next_page = Some(id_of(item).to_string());
            }
            scanned += 1;
            after = Some(id_of(item).to_string());
            let more = i + 1 < page.data.len() || page.has_more;
            // Read enough for one request: go on from here next time. Never
            // with an empty page: the SDKs' auto-paging stops at one.
            if scanned >= MAX_SCANNED && more && !found.is_empty() {
                return Ok(ok(result(url, found, true, after)));
            }
        }
        if !page.has_more {
            return Ok(ok(result(url, found, false, None)));
        }
    }
    Ok(ok(result(url, found, true, next_page)))
}

fn result(url: &str, data: Vec<Value>, has_more: bool, next_page: Option<String>) -> Value {
    json!({
        "object": "search_result",
        "data": data,
        "has_more": has_more,
        "next_page": if has_more { next_page } else { None },
        "url": url,
    })
}

fn text(s: &str) -> Option<FieldValue<'_>> {
    Some(FieldValue::Text(Some(s)))
}

fn opt(s: &Option<String>) -> Option<FieldValue<'_>> {
    Some(FieldValue::Text(s.as_deref()))
}

fn product_fields(f: &str) -> Option<FieldKind> {
    Some(match f {
        "active" => FieldKind::Bool,
        "created" => FieldKind::Number,
        "description" | "name" => FieldKind::Text,
        "metadata" => FieldKind::Metadata,
        _ => return None,
    })
}

pub async fn products(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(args): Input<SearchArgs>,
) -> Result<Response, ApiError> {
    let q = query_of(&args, "products", product_fields)?;
    let filter = ProductFilter::default();
    run(
        "/v1/products/search",
        &args,
        |lq| {
            let (state, scope, filter) = (&state, &auth.scope, &filter);
            async move { state.store.list_products(scope, filter, &lq).await }
        },
        |p| p.id.as_str(),
        |p| {
            q.matches(
                |f| match f {
                    "active" => Some(FieldValue::Bool(p.active)),
                    "created" => Some(FieldValue::Number(p.created)),
                    "description" => opt(&p.description),
                    "name" => text(&p.name),
                    _ => None,
                },
                |k| p.metadata.as_map().get(k).map(String::as_str),
            )
        },
        objects::product,
    )
    .await
}

fn price_fields(f: &str) -> Option<FieldKind> {
    Some(match f {
        "active" => FieldKind::Bool,
        "created" => FieldKind::Number,
        "currency" | "lookup_key" | "product" | "type" => FieldKind::Token,
        "metadata" => FieldKind::Metadata,
        _ => return None,
    })
}

pub async fn prices(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(args): Input<SearchArgs>,
) -> Result<Response, ApiError> {
    let q = query_of(&args, "prices", price_fields)?;
    let filter = PriceFilter::default();
    run(
        "/v1/prices/search",
        &args,
        |lq| {
            let (state, scope, filter) = (&state, &auth.scope, &filter);
            async move { state.store.list_prices(scope, filter, &lq).await }
        },
        |p| p.id.as_str(),
        |p| {
            q.matches(
                |f| match f {
                    "active" => Some(FieldValue::Bool(p.active)),
                    "created" => Some(FieldValue::Number(p.created)),
                    "currency" => text(p.currency.code()),
                    "lookup_key" => opt(&p.lookup_key),
                    "product" => text(&p.product),
                    "type" => text("one_time"),
                    _ => None,
                },
                |k| p.metadata.as_map().get(k).map(String::as_str),
            )
        },
        |p| objects::price(p, None),
    )
    .await
}

fn customer_fields(f: &str) -> Option<FieldKind> {
    Some(match f {
        "created" => FieldKind::Number,
        "email" | "name" | "phone" => FieldKind::Text,
        "metadata" => FieldKind::Metadata,
        _ => return None,
    })
}

pub async fn customers(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(args): Input<SearchArgs>,
) -> Result<Response, ApiError> {
    let q = query_of(&args, "customers", customer_fields)?;
    // Every clause must hold and one names an exact email: only that
    // email's customers are read, found through the blind index.
    let email = match &q {
        Query::All(cs) => cs
            .iter()
            .find(|c| c.field == "email" && c.op == Op::Eq && !c.negated)
            .and_then(|c| match &c.value {
                paylink_domain::search::Literal::Text(t) => Some(t.clone()),
                paylink_domain::search::Literal::Number(_) => None,
            }),
        Query::Any(_) => None,
    };
    run(
        "/v1/customers/search",
        &args,
        |lq| {
            let (state, scope, email) = (&state, &auth.scope, email.as_deref());
            async move { state.store.list_customers(scope, email, &lq).await }
        },
        |c| c.id.as_str(),
        |c| {
            q.matches(
                |f| match f {
                    "created" => Some(FieldValue::Number(c.created)),
                    "email" => opt(&c.email),
                    "name" => opt(&c.name),
                    "phone" => opt(&c.phone),
                    _ => None,
                },
                |k| c.metadata.as_map().get(k).map(String::as_str),
            )
        },
        objects::customer,
    )
    .await
}

fn payment_intent_fields(f: &str) -> Option<FieldKind> {
    Some(match f {
        "amount" | "created" => FieldKind::Number,
        "currency" | "customer" | "status" => FieldKind::Token,
        "metadata" => FieldKind::Metadata,
        _ => return None,
    })
}

pub async fn payment_intents(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(args): Input<SearchArgs>,
) -> Result<Response, ApiError> {
    let q = query_of(&args, "payment_intents", payment_intent_fields)?;
    run(
        "/v1/payment_intents/search",
        &args,
        |lq| {
            let (state, scope) = (&state, &auth.scope);
            async move { state.store.list_payment_intents(scope, None, &lq).await }
        },
        |p| p.id.as_str(),
        |p| {
            q.matches(
                |f| match f {
                    "amount" => Some(FieldValue::Number(p.amount)),
                    "created" => Some(FieldValue::Number(p.created)),
                    "currency" => text(p.currency.code()),
                    "customer" => opt(&p.customer),
                    "status" => text(&p.status),
                    _ => None,
                },
                |k| p.metadata.as_map().get(k).map(String::as_str),
            )
        },
        objects::payment_intent,
    )
    .await
}
