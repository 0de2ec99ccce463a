//! The `/v1` endpoints. [`endpoints`] is the one table that builds the
//! router, chooses the schema each request is checked against, and
//! generates the OpenAPI document.

pub mod account;
pub mod coupons;
pub mod events;
pub mod payment_links;
pub mod payments;
pub mod prices;
pub mod products;
pub mod promotion_codes;
pub mod search;
pub mod webhook_endpoints;

use std::sync::LazyLock;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use paylink_store::ListQuery;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::schema::Kind;
pub use crate::service::{currency, custom_id, new_id};
use crate::{json_response_headers, AppState};

/// What an endpoint answers with.
#[derive(Debug, Clone)]
pub enum Resp {
    /// One object of this component.
    Object(&'static str),
    /// A list of this component.
    List(&'static str),
    /// A search result of this component.
    Search(&'static str),
    /// An image of this media type.
    Image(&'static str),
}

pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub operation: &'static str,
    pub summary: &'static str,
    pub params: Kind,
    pub response: Resp,
    pub handler: fn() -> MethodRouter<AppState>,
}

fn ep(
    method: Method,
    path: &'static str,
    operation: &'static str,
    summary: &'static str,
    params: Kind,
    response: Resp,
    handler: fn() -> MethodRouter<AppState>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        operation,
        summary,
        params,
        response,
        handler,
    }
}

#[rustfmt::skip]
static ENDPOINTS: LazyLock<Vec<Endpoint>> = LazyLock::new(|| {
    use axum::routing::{delete, get, post};
    use crate::schema::obj;
    use Method as M;
    vec![
        ep(M::POST, "/v1/products", "PostProducts", "Create a product", products::create_params(), Resp::Object("product"), || post(products::create)),
        ep(M::GET, "/v1/products", "GetProducts", "List products", products::list_params(), Resp::List("product"), || get(products::list)),
        ep(M::GET, "/v1/products/search", "GetProductsSearch", "Search products (Stripe's query language: name, description, active, created, metadata)", search::search_params(), Resp::Search("product"), || get(search::products)),
        ep(M::GET, "/v1/products/{id}", "GetProductsId", "Retrieve a product", products::retrieve_params(), Resp::Object("product"), || get(products::retrieve)),
        ep(M::POST, "/v1/products/{id}", "PostProductsId", "Update a product", products::update_params(), Resp::Object("product"), || post(products::update)),
        ep(M::DELETE, "/v1/products/{id}", "DeleteProductsId", "Delete a product (archived instead when it has prices)", products::delete_params(), Resp::Object("deleted_product"), || delete(products::delete)),
        ep(M::POST, "/v1/prices", "PostPrices", "Create a price", prices::create_params(), Resp::Object("price"), || post(prices::create)),
        ep(M::GET, "/v1/prices", "GetPrices", "List prices", prices::list_params(), Resp::List("price"), || get(prices::list)),
        ep(M::GET, "/v1/prices/search", "GetPricesSearch", "Search prices (active, created, currency, lookup_key, product, type, metadata)", search::search_params(), Resp::Search("price"), || get(search::prices)),
        ep(M::GET, "/v1/prices/{id}", "GetPricesId", "Retrieve a price", prices::retrieve_params(), Resp::Object("price"), || get(prices::retrieve)),
        ep(M::POST, "/v1/prices/{id}", "PostPricesId", "Update a price", prices::update_params(), Resp::Object("price"), || post(prices::update)),
        ep(M::POST, "/v1/coupons", "PostCoupons", "Create a coupon", coupons::create_params(), Resp::Object("coupon"), || post(coupons::create)),
        ep(M::GET, "/v1/coupons", "GetCoupons", "List coupons", coupons::list_params(), Resp::List("coupon"), || get(coupons::list)),
        ep(M::GET, "/v1/coupons/{id}", "GetCouponsId", "Retrieve a coupon", coupons::retrieve_params(), Resp::Object("coupon"), || get(coupons::retrieve)),
        ep(M::POST, "/v1/coupons/{id}", "PostCouponsId", "Update a coupon", coupons::update_params(), Resp::Object("coupon"), || post(coupons::update)),
        ep(M::DELETE, "/v1/coupons/{id}", "DeleteCouponsId", "Delete a coupon", coupons::delete_params(), Resp::Object("deleted_coupon"), || delete(coupons::delete)),
        ep(M::POST, "/v1/promotion_codes", "PostPromotionCodes", "Create a promotion code", promotion_codes::create_params(), Resp::Object("promotion_code"), || post(promotion_codes::create)),
        ep(M::GET, "/v1/promotion_codes", "GetPromotionCodes", "List promotion codes", promotion_codes::list_params(), Resp::List("promotion_code"), || get(promotion_codes::list)),
        ep(M::GET, "/v1/promotion_codes/{id}", "GetPromotionCodesId", "Retrieve a promotion code", promotion_codes::retrieve_params(), Resp::Object("promotion_code"), || get(promotion_codes::retrieve)),
        ep(M::POST, "/v1/promotion_codes/{id}", "PostPromotionCodesId", "Update a promotion code", promotion_codes::update_params(), Resp::Object("promotion_code"), || post(promotion_codes::update)),
        ep(M::POST, "/v1/payment_links", "PostPaymentLinks", "Create a payment link", payment_links::create_params(), Resp::Object("payment_link"), || post(payment_links::create)),
        ep(M::GET, "/v1/payment_links", "GetPaymentLinks", "List payment links", payment_links::list_params(), Resp::List("payment_link"), || get(payment_links::list)),
        ep(M::GET, "/v1/payment_links/{id}", "GetPaymentLinksId", "Retrieve a payment link", payment_links::retrieve_params(), Resp::Object("payment_link"), || get(payment_links::retrieve)),
        ep(M::POST, "/v1/payment_links/{id}", "PostPaymentLinksId", "Update a payment link (a link is never deleted: set active=false)", payment_links::update_params(), Resp::Object("payment_link"), || post(payment_links::update)),
        ep(M::GET, "/v1/payment_links/{id}/line_items", "GetPaymentLinksIdLineItems", "List a payment link's line items", payments::line_items_params(), Resp::List("item"), || get(payment_links::line_items)),
        ep(M::GET, "/v1/payment_links/{id}/qr.svg", "GetPaymentLinksIdQrSvg", "A QR code of the link's URL (SVG)", obj(vec![]), Resp::Image("image/svg+xml"), || get(payments::qr_svg)),
        ep(M::GET, "/v1/payment_links/{id}/qr.png", "GetPaymentLinksIdQrPng", "A QR code of the link's URL (PNG)", obj(vec![]), Resp::Image("image/png"), || get(payments::qr_png)),
        ep(M::POST, "/v1/checkout/sessions", "PostCheckoutSessions", "Create a checkout session (mode payment): the buyer pays on its url", payments::session_create_params(), Resp::Object("checkout.session"), || post(payments::create_session)),
        ep(M::GET, "/v1/checkout/sessions", "GetCheckoutSessions", "List checkout sessions", payments::session_list_params(), Resp::List("checkout.session"), || get(payments::list_sessions)),
        ep(M::GET, "/v1/checkout/sessions/{id}", "GetCheckoutSessionsSession", "Retrieve a checkout session", payments::session_params(), Resp::Object("checkout.session"), || get(payments::retrieve_session)),
        ep(M::GET, "/v1/checkout/sessions/{id}/line_items", "GetCheckoutSessionsSessionLineItems", "List a checkout session's line items", payments::line_items_params(), Resp::List("item"), || get(payments::session_line_items)),
        ep(M::POST, "/v1/checkout/sessions/{id}/expire", "PostCheckoutSessionsSessionExpire", "Expire an open checkout session (its reservations are released)", payments::session_params(), Resp::Object("checkout.session"), || post(payments::expire_session)),
        ep(M::GET, "/v1/payment_intents", "GetPaymentIntents", "List payments", payments::pi_list_params(), Resp::List("payment_intent"), || get(payments::list_payment_intents)),
        ep(M::GET, "/v1/payment_intents/search", "GetPaymentIntentsSearch", "Search payments (amount, created, currency, customer, status, metadata)", search::search_params(), Resp::Search("payment_intent"), || get(search::payment_intents)),
        ep(M::GET, "/v1/payment_intents/{id}", "GetPaymentIntentsIntent", "Retrieve a payment", payments::pi_params(), Resp::Object("payment_intent"), || get(payments::retrieve_payment_intent)),
        ep(M::POST, "/v1/payment_intents/{id}", "PostPaymentIntentsIntent", "Update a payment's description and metadata", payments::pi_update_params(), Resp::Object("payment_intent"), || post(payments::update_payment_intent)),
        ep(M::POST, "/v1/customers", "PostCustomers", "Create a customer", payments::customer_create_params(), Resp::Object("customer"), || post(payments::create_customer)),
        ep(M::GET, "/v1/customers", "GetCustomers", "List customers", payments::customer_list_params(), Resp::List("customer"), || get(payments::list_customers)),
        ep(M::GET, "/v1/customers/search", "GetCustomersSearch", "Search customers (created, email, name, phone, metadata; an exact email through the blind index)", search::search_params(), Resp::Search("customer"), || get(search::customers)),
        ep(M::GET, "/v1/customers/{id}", "GetCustomersCustomer", "Retrieve a customer (a deleted one as Stripe's deleted stub)", payments::expand_params(), Resp::Object("customer_or_deleted"), || get(payments::retrieve_customer)),
        ep(M::POST, "/v1/customers/{id}", "PostCustomersCustomer", "Update a customer", payments::customer_update_params(), Resp::Object("customer"), || post(payments::update_customer)),
        ep(M::POST, "/v1/customers/{id}/redact", "PostCustomersCustomerRedact", "Erase a customer's personal data (and their checkout sessions'); amounts and dates stay", payments::expand_params(), Resp::Object("customer"), || post(payments::redact_customer)),
        ep(M::GET, "/v1/customers/{id}/export", "GetCustomersCustomerExport", "Everything held about a customer, as JSON", payments::expand_params(), Resp::Object("customer_export"), || get(payments::export_customer)),
        ep(M::DELETE, "/v1/customers/{id}", "DeleteCustomersCustomer", "Delete a customer (personal data cleared; payments keep amounts and dates)", obj(vec![]), Resp::Object("deleted_customer"), || delete(payments::delete_customer)),
        ep(M::POST, "/v1/refunds", "PostRefunds", "Refund a payment, in whole or in part, through the provider", payments::refund_create_params(), Resp::Object("refund"), || post(payments::create_refund)),
        ep(M::GET, "/v1/refunds", "GetRefunds", "List refunds", payments::refund_list_params(), Resp::List("refund"), || get(payments::list_refunds)),
        ep(M::GET, "/v1/refunds/{id}", "GetRefundsRefund", "Retrieve a refund", payments::expand_params(), Resp::Object("refund"), || get(payments::retrieve_refund)),
        ep(M::GET, "/v1/events", "GetEvents", "List events (30 days), newest first", events::list_params(), Resp::List("event"), || get(events::list)),
        ep(M::GET, "/v1/events/{id}", "GetEventsId", "Retrieve an event", events::retrieve_params(), Resp::Object("event"), || get(events::retrieve)),
        ep(M::POST, "/v1/webhook_endpoints", "PostWebhookEndpoints", "Create a webhook endpoint (the answer holds its signing secret, shown once)", webhook_endpoints::create_params(), Resp::Object("webhook_endpoint"), || post(webhook_endpoints::create)),
        ep(M::GET, "/v1/webhook_endpoints", "GetWebhookEndpoints", "List webhook endpoints", webhook_endpoints::list_params(), Resp::List("webhook_endpoint"), || get(webhook_endpoints::list)),
        ep(M::GET, "/v1/webhook_endpoints/{id}", "GetWebhookEndpointsWebhookEndpoint", "Retrieve a webhook endpoint", webhook_endpoints::retrieve_params(), Resp::Object("webhook_endpoint"), || get(webhook_endpoints::retrieve)),
        ep(M::POST, "/v1/webhook_endpoints/{id}", "PostWebhookEndpointsWebhookEndpoint", "Update a webhook endpoint", webhook_endpoints::update_params(), Resp::Object("webhook_endpoint"), || post(webhook_endpoints::update)),
        ep(M::DELETE, "/v1/webhook_endpoints/{id}", "DeleteWebhookEndpointsWebhookEndpoint", "Delete a webhook endpoint (its secrets are wiped, pending deliveries dropped)", webhook_endpoints::delete_params(), Resp::Object("deleted_webhook_endpoint"), || delete(webhook_endpoints::delete)),
        ep(M::POST, "/v1/webhook_endpoints/{id}/roll_secret", "PostWebhookEndpointsWebhookEndpointRollSecret", "Roll the signing secret (a paylink extension): the old one signs beside the new one until expires_in", webhook_endpoints::roll_params(), Resp::Object("webhook_endpoint"), || post(webhook_endpoints::roll_secret)),
        ep(M::GET, "/v1/account", "GetAccount", "Retrieve the account of the key", payments::expand_params(), Resp::Object("account"), || get(account::retrieve)),
        ep(M::POST, "/v1/account/disconnect", "PostAccountDisconnect", "Disconnect the payment provider, wiping its secret key", account::disconnect_params(), Resp::Object("account"), || post(account::disconnect)),
        ep(M::POST, "/v1/account", "PostAccount", "Update the account's checkout settings", account::update_params(), Resp::Object("account"), || post(account::update)),
    ]
});

pub fn endpoints() -> &'static [Endpoint] {
    &ENDPOINTS
}

/// What a key must be allowed to call `method` on the route `path`: the
/// resource its path names, read for GET and write otherwise; the
/// account's own settings need a secret key. `None` for a route no key
/// may call (every route of the table has one: a test checks it).
pub fn needs_for(method: &Method, path: &str) -> Option<paylink_domain::access::Needs> {
    use paylink_domain::access::{Access, Needs, Resource as R};
    let rest = path.strip_prefix("/v1/")?;
    let resource = match rest.split('/').next()? {
        "products" => R::Products,
        "prices" => R::Prices,
        "coupons" | "promotion_codes" => R::PromotionCodes,
        "payment_links" => R::PaymentLinks,
        "checkout" if rest.starts_with("checkout/sessions") => R::CheckoutSessions,
        "payment_intents" => R::PaymentIntents,
        "refunds" => R::Refunds,
        "customers" => R::Customers,
        "webhook_endpoints" => R::WebhookEndpoints,
        "events" => R::Events,
        "account" => return Some(Needs::Secret),
        _ => return None,
    };
    let access = if *method == Method::GET {
        Access::Read
    } else {
        Access::Write
    };
    Some(Needs::On(resource, access))
}

/// The parameter schema of `method` on the route `path`.
pub fn params_for(method: &Method, path: &str) -> Option<&'static Kind> {
    ENDPOINTS
        .iter()
        .find(|e| e.method == *method && e.path == path)
        .map(|e| &e.params)
}

/// The router of every endpoint in the table.
pub fn routes() -> Router<AppState> {
    ENDPOINTS
        .iter()
        .fold(Router::new(), |r, e| r.route(e.path, (e.handler)()))
}

/// A 200 JSON answer.
pub fn ok(v: Value) -> Response {
    (StatusCode::OK, json_response_headers(), v.to_string()).into_response()
}

/// The pagination parameters every list takes.
#[derive(Debug, Deserialize)]
pub struct ListArgs {
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
    pub expand: Option<Vec<String>>,
    /// Object lists only (their schema has it).
    pub created: Option<Created>,
}

/// Stripe's `created` filter: `created[gte]=…` and the like.
#[derive(Debug, Default, Deserialize)]
pub struct Created {
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

impl Created {
    /// The range as (at or after, at or before).
    fn bounds(&self) -> (Option<i64>, Option<i64>) {
        (
            [self.gte, self.gt.map(|t| t.saturating_add(1))]
                .into_iter()
                .flatten()
                .max(),
            [self.lte, self.lt.map(|t| t.saturating_sub(1))]
                .into_iter()
                .flatten()
                .min(),
        )
    }
}

impl ListArgs {
    pub fn query(&self) -> Result<ListQuery, ApiError> {
        if self.starting_after.is_some() && self.ending_before.is_some() {
            return Err(ApiError::invalid(
                Some("ending_before".into()),
                "You may only specify one of these parameters: starting_after, ending_before.",
            ));
        }
        let (created_gte, created_lte) =
            self.created.as_ref().map_or((None, None), Created::bounds);
        Ok(ListQuery {
            limit: self.limit.unwrap_or(10),
            starting_after: self.starting_after.clone(),
            ending_before: self.ending_before.clone(),
            created_gte,
            created_lte,
        })
    }
}

/// One page of a short list held in memory (a link's or a session's line
/// items), in its own order, by Stripe's cursors: the items of the page and
/// `has_more`. `what` names the list in cursor errors.
pub fn page_in_memory<'a, T>(
    all: &'a [T],
    id_of: impl Fn(&T) -> &str,
    q: &ListQuery,
    what: &str,
) -> Result<(&'a [T], bool), ApiError> {
    let position = |id: &str, param: &str| {
        all.iter().position(|x| id_of(x) == id).ok_or_else(|| {
            ApiError::invalid_code(
                "resource_missing",
                Some(param.into()),
                format!("{param} does not name a line item of this {what}."),
            )
        })
    };
    let limit = usize::try_from(q.limit).unwrap_or(10);
    let (start, end) = match (&q.starting_after, &q.ending_before) {
        (Some(id), _) => {
            let s = position(id, "starting_after")? + 1;
            (s, (s + limit).min(all.len()))
        }
        (None, Some(id)) => {
            let e = position(id, "ending_before")?;
            (e.saturating_sub(limit), e)
        }
        (None, None) => (0, limit.min(all.len())),
    };
    let has_more = if q.ending_before.is_some() {
        start > 0
    } else {
        end < all.len()
    };
    Ok((all.get(start..end).unwrap_or(&[]), has_more))
}

/// Whether an answer holds an object's line items (a payment link's or a
/// checkout session's), and their prices' products.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Items {
    No,
    Yes,
    WithProducts,
}

/// The expansions of an answer whose object has line items (`prefix`:
/// how they are named, `line_items`, or `data.line_items` in a list):
/// the items, and `<prefix>.data.price.product` for their products too.
/// (The schema has refused any other path.)
pub fn item_expansions(expand: &Option<Vec<String>>, prefix: &str) -> Items {
    let exp = crate::schema::expanded(expand);
    let deep = format!("{prefix}.data.price.product");
    if exp.contains(&deep) {
        Items::WithProducts
    } else if exp.iter().any(|e| e == prefix) {
        Items::Yes
    } else {
        Items::No
    }
}

/// The arguments of a retrieve: only `expand`.
#[derive(Deserialize)]
pub struct RetrieveArgs {
    pub expand: Option<Vec<String>>,
}

/// A request that takes no arguments (a delete).
#[derive(Deserialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_unique_and_builds() {
        let mut seen = std::collections::HashSet::new();
        for e in endpoints() {
            assert!(
                seen.insert((e.method.clone(), e.path)),
                "{} {} twice",
                e.method,
                e.path
            );
            let _ = (e.handler)();
            assert!(matches!(e.params, Kind::Obj(_)), "{} {}", e.method, e.path);
            assert!(
                needs_for(&e.method, e.path).is_some(),
                "{} {} names no permission",
                e.method,
                e.path
            );
        }
        let _ = routes();
    }
}
