//! The dashboard's pages and actions. Each handler reads or changes data
//! through the in-process `/v1` API ([`super::call_api`]) as the session's
//! account and mode, or, for what the API does not cover (team, sessions,
//! security settings), through one store function.

// Indexing a serde_json::Value by key yields Null when absent; it never panics.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::html;
use paylink_crypto::{password, Secret};
use paylink_domain::clock::format_utc;
use paylink_domain::locale::parse_major;
use paylink_domain::net::Cidr;
use paylink_domain::roles::{Permission, Role};
use paylink_domain::{Currency, Email, Id, IdKind};
use paylink_store::users::Stage;
use paylink_store::StoreError;
use serde::Deserialize;
use serde_json::Value;

use super::login::{hash_on_pool, new_recovery_codes, start_session, PRODUCT};
use super::pages::{self, button, csrf, field, layout, FormState};
use super::{call_api, call_api_raw, ApiAnswer, Ctx, Form, InternalApi};
use crate::{ApiError, AppState};

type C = Extension<Arc<Ctx>>;
type A = Extension<InternalApi>;

/// A failure answered as a page: 4xx with its message, 5xx opaque with the
/// request id (the cause is logged).
pub fn fail(e: ApiError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        // Logging happens where ApiError becomes a response; do it here too.
        tracing::error!(error = ?e, "dashboard request failed");
        let id = crate::request_id::current().unwrap_or_default();
        return super::refusal(
            status,
            "Something went wrong",
            &format!("Please try again in a moment. Reference: {id}"),
        );
    }
    let msg = e.body()["error"]["message"]
        .as_str()
        .unwrap_or("That did not work.")
        .to_string();
    super::refusal(status, "That did not work", &msg)
}

fn store_fail(e: StoreError) -> Response {
    fail(e.into())
}

fn form_of(f: Option<Extension<Form>>) -> Form {
    f.map(|Extension(f)| f).unwrap_or_default()
}

fn money(minor: i64, currency: &str) -> String {
    match Currency::from_str(&currency.to_ascii_uppercase()) {
        Ok(c) => paylink_domain::locale::format(minor, c, paylink_domain::locale::style_for("en")),
        Err(_) => format!("{minor} {currency}"),
    }
}

fn date(v: &Value) -> String {
    v.as_i64().map(format_utc).unwrap_or_default()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Builds a form body from pairs.
fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

/// Masks an email for roles that may not see personal data.
fn mask_email(ctx: &Ctx, email: &str) -> String {
    if ctx.role.sees_personal_data() || email.is_empty() {
        return email.to_string();
    }
    match email.split_once('@') {
        Some((l, d)) => format!("{}***@{d}", l.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQ {
    #[serde(default)]
    q: String,
    #[serde(default)]
    starting_after: Option<String>,
    #[serde(default)]
    ending_before: Option<String>,
}

/// One page of a list: objects, and the cursors for older and newer.
struct Listed {
    data: Vec<Value>,
    next: Option<String>,
    prev: Option<String>,
}

const PAGE: usize = 20;
/// A search looks through at most this many of the newest objects.
const SEARCH_DEPTH: usize = 1000;

/// Fields that hold a buyer's personal data, wherever they appear.
const PERSONAL: [&str; 8] = [
    "email",
    "name",
    "phone",
    "address",
    "customer_details",
    "customer_email",
    "receipt_email",
    "custom_fields",
];

/// The text a search matches in `o`: the whole object for roles that see
/// personal data, and for the others the object without it (finding 8 of
/// the security review: an analyst recovered masked emails by searching).
fn searchable(ctx: &Ctx, o: &Value) -> String {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in PERSONAL {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if ctx.role.sees_personal_data() {
        return o.to_string().to_lowercase();
    }
    let mut c = o.clone();
    strip(&mut c);
    c.to_string().to_lowercase()
}

/// Lists `path` a page at a time, or, with a search term, the newest
/// objects whose text contains it (case-insensitively).
async fn list(
    api: &InternalApi,
    ctx: &Ctx,
    path: &str,
    extra: &str,
    q: &ListQ,
) -> Result<Listed, ApiError> {
    let sep = |p: &str| if p.contains('?') { '&' } else { '?' };
    let base = format!(
        "{path}{}",
        if extra.is_empty() {
            String::new()
        } else {
            format!("?{extra}")
        }
    );
    let term = q.q.trim().to_lowercase();
    if !term.is_empty() {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        let mut seen = 0;
        loop {
            let url = match &after {
                Some(a) => format!("{base}{}limit=100&starting_after={}", sep(&base), enc(a)),
                None => format!("{base}{}limit=100", sep(&base)),
            };
            let a = expect_ok(call_api(api, ctx, Method::GET, &url, None).await?)?;
            let data = a.body["data"].as_array().cloned().unwrap_or_default();
            seen += data.len();
            after = data
                .last()
                .and_then(|o| o["id"].as_str())
                .map(str::to_string);
            for o in data {
                if found.len() < PAGE * 5 && searchable(ctx, &o).contains(&term) {
                    found.push(o);
                }
            }
            if !a.body["has_more"].as_bool().unwrap_or(false)
                || seen >= SEARCH_DEPTH
                || after.is_none()
            {
                break;
            }
        }
        return Ok(Listed {
            data: found,
            next: None,
            prev: None,
        });
    }
    let mut url = format!("{base}{}limit={PAGE}", sep(&base));
    if let Some(a) = &q.starting_after {
        url.push_str(&format!("&starting_after={}", enc(a)));
    } else if let Some(b) = &q.ending_before {
        url.push_str(&format!("&ending_before={}", enc(b)));
    }
    let a = expect_ok(call_api(api, ctx, Method::GET, &url, None).await?)?;
    let data = a.body["data"].as_array().cloned().unwrap_or_default();
    let more = a.body["has_more"].as_bool().unwrap_or(false);
    let first = data
        .first()
        .and_then(|o| o["id"].as_str())
        .map(str::to_string);
    let last = data
        .last()
        .and_then(|o| o["id"].as_str())
        .map(str::to_string);
    let (next, prev) = if q.ending_before.is_some() {
        (last, if more { first } else { None })
    } else {
        (
            if more { last } else { None },
            if q.starting_after.is_some() {
                first
            } else {
                None
            },
        )
    };
    Ok(Listed { data, next, prev })
}

/// An API answer that must be a success (a 4xx becomes the error page).
fn expect_ok(a: ApiAnswer) -> Result<ApiAnswer, ApiError> {
    if a.ok() {
        return Ok(a);
    }
    let (m, p) = a.error();
    if a.status == StatusCode::NOT_FOUND {
        return Err(ApiError::no_such("object", "", None));
    }
    Err(ApiError::invalid(p, m))
}

async fn get_obj(api: &InternalApi, ctx: &Ctx, path: &str) -> Result<Value, Response> {
    match call_api(api, ctx, Method::GET, path, None).await {
        Ok(a) if a.ok() => Ok(a.body),
        Ok(a) if a.status == StatusCode::NOT_FOUND => Err(super::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such object in this account and mode.",
        )),
        Ok(a) => Err(fail(ApiError::invalid(a.error().1, a.error().0))),
        Err(e) => Err(fail(e)),
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------- overview

pub async fn overview(State(state): State<AppState>, Extension(ctx): C) -> Response {
    let now = state.now();
    let today = now.div_euclid(86_400);
    let since = (today - 29) * 86_400;
    let points = match state.store.payments_since(&ctx.scope, since).await {
        Ok(p) => p,
        Err(e) => return store_fail(e),
    };
    // The chart is of the currency most payments were in.
    let mut by_currency: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for p in &points {
        let e = by_currency.entry(p.currency.clone()).or_default();
        e.0 += p.amount - p.amount_refunded;
        e.1 += 1;
    }
    let main = by_currency
        .iter()
        .max_by_key(|(_, (_, n))| *n)
        .map(|(c, _)| c.clone())
        .unwrap_or_else(|| "eur".into());
    let mut revenue: Vec<(String, i64)> = Vec::with_capacity(30);
    let mut counts: Vec<(String, i64)> = Vec::with_capacity(30);
    for d in (today - 29)..=today {
        let day = format_utc(d * 86_400).chars().take(10).collect::<String>();
        let of_day = points.iter().filter(|p| p.created.div_euclid(86_400) == d);
        let r: i64 = of_day
            .clone()
            .filter(|p| p.currency == main)
            .map(|p| p.amount - p.amount_refunded)
            .sum();
        revenue.push((day.clone(), r));
        counts.push((day, i64::try_from(of_day.count()).unwrap_or(0)));
    }
    let fmt_money = |v: i64| money(v, &main);
    let fmt_count = |v: i64| v.to_string();
    let body = html! {
        div class="stats" {
            @for (cur, (sum, n)) in &by_currency {
                div class="card" {
                    div class="muted" { "Revenue, 30 days (" (cur.to_uppercase()) ")" }
                    div class="big" id={ "revenue-" (cur) } { (money(*sum, cur)) }
                    div class="muted" { (n) @if *n == 1 { " payment" } @else { " payments" } }
                }
            }
            @if by_currency.is_empty() {
                div class="card" { div class="muted" { "Revenue, 30 days" } div class="big" id="revenue-none" { "No payments yet" } }
            }
        }
        div class="card" { (pages::bar_chart(&format!("Revenue per day ({})", main.to_uppercase()), &revenue, &fmt_money)) }
        div class="card" { (pages::bar_chart("Payments per day", &counts, &fmt_count)) }
    };
    super::page(layout(&ctx, "Overview", "/dashboard", body))
}

#[derive(Deserialize)]
pub struct ModeForm {}

pub async fn switch_mode(
    State(state): State<AppState>,
    Extension(ctx): C,
    f: Option<Extension<Form>>,
) -> Response {
    let live = form_of(f).get("live") == "true";
    if let Err(e) = state.store.set_session_mode(&ctx.session.id, live).await {
        return store_fail(e);
    }
    see_other("/dashboard")
}

/// Switching accounts is a privilege change: a new session token.
pub async fn switch_account(
    State(state): State<AppState>,
    Extension(ctx): C,
    headers: HeaderMap,
    f: Option<Extension<Form>>,
) -> Response {
    let form = form_of(f);
    let target = form.get("account_id");
    let Some(membership) = ctx.memberships.iter().find(|m| m.account_id == target) else {
        return super::refusal(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "You are not a member of that account.",
        );
    };
    let now = state.now();
    if let Err(e) = state
        .store
        .end_session(&ctx.user.id, &ctx.session.id, now)
        .await
    {
        return store_fail(e);
    }
    if !super::allowlist_permits(&membership.ip_allowlist, &ctx.ip) {
        super::audit_ip_refused(&state, target, &ctx.actor(), &ctx.ip, "dashboard").await;
        return super::refusal(
            StatusCode::FORBIDDEN,
            "Not from this network",
            "That account only accepts sign-ins from its allowed networks.",
        );
    }
    start_session(
        &state,
        &headers,
        &ctx.ip,
        &ctx.user.id,
        Some(target),
        Stage::Full,
        "/dashboard",
    )
    .await
}

// ----------------------------------------------------------- payment links

pub async fn links(
    State(_s): State<AppState>,
    Extension(ctx): C,
    Extension(api): A,
    Query(q): Query<ListQ>,
) -> Response {
    let listed = match list(&api, &ctx, "/v1/payment_links", "", &q).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut rows = Vec::new();
    for l in &listed.data {
        let id = s(&l["id"]);
        let items = call_api(
            &api,
            &ctx,
            Method::GET,
            &format!("/v1/payment_links/{id}/line_items?limit=3"),
            None,
        )
        .await
        .ok()
        .map(|a| a.body["data"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
        let names: Vec<String> = items
            .iter()
            .map(|i| s(&i["description"]).to_string())
            .collect();
        let total: i64 = items
            .iter()
            .filter_map(|i| i["amount_total"].as_i64())
            .sum();
        rows.push((l.clone(), names.join(", "), money(total, s(&l["currency"]))));
    }
    let body = html! {
        div class="top" {
            (pages::search_box("/dashboard/payment-links", &q.q, "Search by id, URL or slug"))
            @if ctx.can(Permission::WriteCatalog) { a href="/dashboard/payment-links/new" { "New payment link" } }
        }
        div class="card" {
            table {
                thead { tr { th { "Link" } th { "Items" } th { "Price" } th { "Status" } th { "Created" } } }
                tbody {
                    @for (l, names, total) in &rows {
                        tr {
                            td { a href={ "/dashboard/payment-links/" (s(&l["id"])) } { (s(&l["url"])) } }
                            td { (names) }
                            td { (total) }
                            td { @if l["active"].as_bool().unwrap_or(false) { span class="badge good" { "Active" } } @else { span class="badge" { "Inactive" } } }
                            td { (date(&l["created"])) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="5" class="muted" { "No payment links." } } }
                }
            }
            (pages::pager("/dashboard/payment-links", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    super::page(layout(
        &ctx,
        "Payment links",
        "/dashboard/payment-links",
        body,
    ))
}

async fn link_form(api: &InternalApi, ctx: &Ctx, f: &FormState) -> Response {
    let prices = call_api(
        api,
        ctx,
        Method::GET,
        "/v1/prices?active=true&limit=100&expand[]=data.product",
        None,
    )
    .await
    .ok()
    .map(|a| a.body["data"].as_array().cloned().unwrap_or_default())
    .unwrap_or_default();
    let chosen = f.value("price");
    let body = html! {
        div class="card" {
            (pages::alerts(f))
            form method="post" action="/dashboard/payment-links" {
                (csrf(ctx))
                h2 { "What is sold" }
                label for="price" { "An existing price" }
                select id="price" name="price" aria-invalid=[f.errors.get("price").map(|_| "true")] {
                    option value="" { "— a new product (below) —" }
                    @for p in &prices {
                        @let label = format!("{} — {}", s(&p["product"]["name"]), p["unit_amount"].as_i64().map(|a| money(a, s(&p["currency"]))).unwrap_or_else(|| "customer chooses".into()));
                        option value=(s(&p["id"])) selected[chosen == s(&p["id"])] { (label) }
                    }
                }
                @if let Some(m) = f.errors.get("price") { div class="err" role="alert" { (m) } }
                div class="row" {
                    div { (field(f, "New product's name", "product_name", "text", "")) }
                    div { (field(f, "Price", "amount", "text", "19.90")) }
                    div { (field(f, "Currency", "currency", "text", "eur")) }
                }
                h2 { "Options" }
                div class="row" {
                    div { (field(f, "Quantity", "quantity", "number", "1")) }
                    div { (field(f, "Stop after this many payments (optional)", "limit", "number", "")) }
                }
                (pages::checkbox(f, "Buyers may change the quantity", "adjustable"))
                (pages::checkbox(f, "Allow promotion codes", "allow_promotion_codes"))
                p { button type="submit" { "Create payment link" } }
            }
        }
    };
    super::page(layout(
        ctx,
        "New payment link",
        "/dashboard/payment-links",
        body,
    ))
}

pub async fn link_new(Extension(ctx): C, Extension(api): A) -> Response {
    let f = FormState {
        values: Form::parse(b"quantity=1&currency=eur"),
        ..Default::default()
    };
    link_form(&api, &ctx, &f).await
}

/// Maps an API error's `param` onto the form field it came from.
fn field_error(f: &mut FormState, a: &ApiAnswer, map: &[(&str, &str)], fallback: &str) {
    let (msg, param) = a.error();
    let name = param
        .as_deref()
        .and_then(|p| {
            map.iter()
                .find(|(api, _)| *api == p)
                .map(|(_, field)| *field)
        })
        .unwrap_or(fallback);
    if name.is_empty() {
        f.alert = Some(msg);
    } else {
        f.errors.insert(name.to_string(), msg);
    }
}

pub async fn link_create(
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let quantity = form.get("quantity").trim();
    let quantity = if quantity.is_empty() { "1" } else { quantity };
    let limit = form.get("limit").trim();
    // Checked here before anything is created, so a mistake leaves nothing behind.
    if !quantity.bytes().all(|b| b.is_ascii_digit())
        || quantity
            .parse::<i64>()
            .map_or(true, |q| !(1..=999_999).contains(&q))
    {
        f.errors.insert(
            "quantity".into(),
            "Enter a whole number from 1 to 999999.".into(),
        );
    }
    if !limit.is_empty()
        && (!limit.bytes().all(|b| b.is_ascii_digit())
            || limit.parse::<i64>().map_or(true, |l| l < 1))
    {
        f.errors.insert(
            "limit".into(),
            "Enter a whole number of at least 1, or leave it empty.".into(),
        );
    }
    let mut price = form.get("price").to_string();
    let mut new_product: Option<(String, String, String)> = None;
    if price.is_empty() {
        let name = form.get("product_name").trim();
        if name.is_empty() {
            f.errors.insert(
                "product_name".into(),
                "Name the product, or choose an existing price.".into(),
            );
        }
        let currency = form.get("currency").trim().to_ascii_lowercase();
        match Currency::from_str(&currency.to_ascii_uppercase()) {
            Ok(c) => match parse_major(form.get("amount"), c) {
                Some(minor) if minor > 0 => {
                    new_product = Some((name.to_string(), minor.to_string(), currency.clone()))
                }
                _ => {
                    f.errors.insert(
                        "amount".into(),
                        format!(
                            "Enter an amount such as 19.90 (at most {} decimals).",
                            c.exponent()
                        ),
                    );
                }
            },
            Err(_) => {
                f.errors.insert(
                    "currency".into(),
                    "Enter a three-letter currency code such as eur or usd.".into(),
                );
            }
        }
    }
    if !f.errors.is_empty() {
        return link_form(&api, &ctx, &f).await;
    }
    if let Some((name, amount, currency)) = new_product {
        let a = match call_api(
            &api,
            &ctx,
            Method::POST,
            "/v1/prices",
            Some(body(&[
                ("product_data[name]", &name),
                ("unit_amount", &amount),
                ("currency", &currency),
            ])),
        )
        .await
        {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        if !a.ok() {
            field_error(
                &mut f,
                &a,
                &[
                    ("product_data[name]", "product_name"),
                    ("unit_amount", "amount"),
                    ("currency", "currency"),
                ],
                "",
            );
            return link_form(&api, &ctx, &f).await;
        }
        price = s(&a.body["id"]).to_string();
    }
    let mut pairs: Vec<(&str, &str)> = vec![
        ("line_items[0][price]", &price),
        ("line_items[0][quantity]", quantity),
    ];
    if !form.get("adjustable").is_empty() {
        pairs.push(("line_items[0][adjustable_quantity][enabled]", "true"));
    }
    if !form.get("allow_promotion_codes").is_empty() {
        pairs.push(("allow_promotion_codes", "true"));
    }
    if !limit.is_empty() {
        pairs.push(("restrictions[completed_sessions][limit]", limit));
    }
    let a = match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/payment_links",
        Some(body(&pairs)),
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if !a.ok() {
        // A new price was kept: offer it, so nothing typed is lost.
        f.values = Form::parse(&body(&[
            ("price", &price),
            ("quantity", quantity),
            ("limit", limit),
        ]));
        field_error(
            &mut f,
            &a,
            &[
                ("line_items[0][price]", "price"),
                ("line_items[0][quantity]", "quantity"),
                ("restrictions[completed_sessions][limit]", "limit"),
            ],
            "",
        );
        return link_form(&api, &ctx, &f).await;
    }
    see_other(&format!(
        "/dashboard/payment-links/{}?created=1",
        s(&a.body["id"])
    ))
}

#[derive(Deserialize, Default)]
pub struct ShowQ {
    #[serde(default)]
    created: Option<String>,
}

pub async fn link_show(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    Query(q): Query<ShowQ>,
) -> Response {
    let link = match get_obj(
        &api,
        &ctx,
        &format!("/v1/payment_links/{}?expand[]=line_items", enc(&id)),
    )
    .await
    {
        Ok(l) => l,
        Err(r) => return r,
    };
    let items = link["line_items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let active = link["active"].as_bool().unwrap_or(false);
    let limit = link["restrictions"]["completed_sessions"]["limit"].as_i64();
    let count = link["restrictions"]["completed_sessions"]["count"]
        .as_i64()
        .unwrap_or(0);
    let id = s(&link["id"]).to_string();
    let body = html! {
        @if q.created.is_some() { div class="okay" role="status" { "Payment link created. Share the URL or the QR code." } }
        div class="card" {
            label for="url" { "URL to share" }
            input id="url" readonly value=(s(&link["url"]));
            p { a href=(s(&link["url"])) { "Open the checkout page" } }
            img src={ "/dashboard/payment-links/" (id) "/qr.svg" } alt="QR code of the link" width="180" height="180";
        }
        div class="card" {
            table {
                thead { tr { th { "Item" } th { "Quantity" } th { "Amount" } } }
                tbody {
                    @for i in &items {
                        tr { td { (s(&i["description"])) } td { (i["quantity"]) } td { (money(i["amount_total"].as_i64().unwrap_or(0), s(&i["currency"]))) } }
                    }
                }
            }
            p class="muted" {
                "Status: " @if active { span class="badge good" id="link-status" { "Active" } } @else { span class="badge" id="link-status" { "Inactive" } }
                " · Promotion codes: " (if link["allow_promotion_codes"].as_bool().unwrap_or(false) { "allowed" } else { "off" })
                @if let Some(l) = limit { " · Payments: " (count) " of " (l) }
            }
            @if ctx.can(Permission::WriteCatalog) {
                form method="post" action={ "/dashboard/payment-links/" (id) } {
                    (csrf(&ctx))
                    @if active {
                        input type="hidden" name="active" value="false";
                        button class="danger" type="submit" { "Deactivate" }
                    } @else {
                        input type="hidden" name="active" value="true";
                        button type="submit" { "Activate" }
                    }
                }
                h2 { "Edit" }
                form method="post" action={ "/dashboard/payment-links/" (id) } {
                    (csrf(&ctx))
                    label { input type="checkbox" name="allow_promotion_codes" value="true" checked[link["allow_promotion_codes"].as_bool().unwrap_or(false)]; " Allow promotion codes" }
                    input type="hidden" name="edit" value="1";
                    label for="inactive_message" { "Message shown when the link is inactive" }
                    input id="inactive_message" name="inactive_message" value=(s(&link["inactive_message"]));
                    p { button class="plain" type="submit" { "Save" } }
                }
            }
        }
    };
    super::page(layout(
        &ctx,
        "Payment link",
        "/dashboard/payment-links",
        body,
    ))
}

pub async fn link_update(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let pairs: Vec<(&str, &str)> = if form.get("edit").is_empty() {
        vec![(
            "active",
            if form.get("active") == "true" {
                "true"
            } else {
                "false"
            },
        )]
    } else {
        vec![
            (
                "allow_promotion_codes",
                if form.get("allow_promotion_codes").is_empty() {
                    "false"
                } else {
                    "true"
                },
            ),
            ("inactive_message", form.get("inactive_message")),
        ]
    };
    match call_api(
        &api,
        &ctx,
        Method::POST,
        &format!("/v1/payment_links/{}", enc(&id)),
        Some(body(&pairs)),
    )
    .await
    {
        Ok(a) if a.ok() => see_other(&format!("/dashboard/payment-links/{}", enc(&id))),
        Ok(a) => fail(ApiError::invalid(a.error().1, a.error().0)),
        Err(e) => fail(e),
    }
}

pub async fn link_qr(Extension(ctx): C, Extension(api): A, Path(id): Path<String>) -> Response {
    match call_api_raw(
        &api,
        &ctx,
        &format!("/v1/payment_links/{}/qr.svg", enc(&id)),
    )
    .await
    {
        Ok((StatusCode::OK, _, bytes)) => {
            ([(header::CONTENT_TYPE, "image/svg+xml")], bytes).into_response()
        }
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => fail(e),
    }
}

// ------------------------------------------------------- products, coupons

async fn products_page(api: &InternalApi, ctx: &Ctx, q: &ListQ, f: &FormState) -> Response {
    let listed = match list(api, ctx, "/v1/products", "", q).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let body = html! {
        (pages::search_box("/dashboard/products", &q.q, "Search products"))
        div class="card" {
            table {
                thead { tr { th { "Name" } th { "Id" } th { "Status" } th { "Created" } } }
                tbody {
                    @for p in &listed.data {
                        tr { td { a href={ "/dashboard/products/" (s(&p["id"])) } { (s(&p["name"])) } } td class="mono" { (s(&p["id"])) } td { @if p["active"].as_bool().unwrap_or(false) { "Active" } @else { "Archived" } } td { (date(&p["created"])) } }
                    }
                    @if listed.data.is_empty() { tr { td colspan="4" class="muted" { "No products." } } }
                }
            }
            (pages::pager("/dashboard/products", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
        @if ctx.can(Permission::WriteCatalog) {
            div class="card" {
                h2 { "New product with a price" }
                (pages::alerts(f))
                form method="post" action="/dashboard/products" {
                    (csrf(ctx))
                    div class="row" {
                        div { (field(f, "Name", "name", "text", "")) }
                        div { (field(f, "Price", "amount", "text", "19.90")) }
                        div { (field(f, "Currency", "currency", "text", "eur")) }
                    }
                    (field(f, "Description (optional)", "description", "text", ""))
                    p { button type="submit" { "Create product" } }
                }
            }
        }
    };
    super::page(layout(ctx, "Products", "/dashboard/products", body))
}

pub async fn products(Extension(ctx): C, Extension(api): A, Query(q): Query<ListQ>) -> Response {
    products_page(&api, &ctx, &q, &FormState::default()).await
}

pub async fn product_create(
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let currency = form.get("currency").trim().to_ascii_lowercase();
    let amount = match Currency::from_str(&currency.to_ascii_uppercase()) {
        Ok(c) => match parse_major(form.get("amount"), c) {
            Some(a) if a > 0 => Some(a),
            _ => {
                f.errors
                    .insert("amount".into(), "Enter an amount such as 19.90.".into());
                None
            }
        },
        Err(_) => {
            f.errors.insert(
                "currency".into(),
                "Enter a three-letter currency code such as eur.".into(),
            );
            None
        }
    };
    if form.get("name").trim().is_empty() {
        f.errors.insert("name".into(), "Name the product.".into());
    }
    let Some(amount) = amount.filter(|_| f.errors.is_empty()) else {
        return products_page(&api, &ctx, &ListQ::default(), &f).await;
    };
    let mut pairs = vec![("name", form.get("name").trim())];
    if !form.get("description").trim().is_empty() {
        pairs.push(("description", form.get("description").trim()));
    }
    let a = match call_api(&api, &ctx, Method::POST, "/v1/products", Some(body(&pairs))).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if !a.ok() {
        field_error(
            &mut f,
            &a,
            &[("name", "name"), ("description", "description")],
            "",
        );
        return products_page(&api, &ctx, &ListQ::default(), &f).await;
    }
    let product = s(&a.body["id"]).to_string();
    let amount = amount.to_string();
    let b = match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/prices",
        Some(body(&[
            ("product", &product),
            ("unit_amount", &amount),
            ("currency", &currency),
            ("expand[]", "product"),
        ])),
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if !b.ok() {
        field_error(
            &mut f,
            &b,
            &[("unit_amount", "amount"), ("currency", "currency")],
            "",
        );
        return products_page(&api, &ctx, &ListQ::default(), &f).await;
    }
    see_other("/dashboard/products")
}

async fn product_page(
    state: &AppState,
    api: &InternalApi,
    ctx: &Ctx,
    id: &str,
    f: &FormState,
) -> Response {
    let p = match get_obj(api, ctx, &format!("/v1/products/{}", enc(id))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (current, versions) = match (
        state.store.current_product_image(&ctx.scope, id).await,
        state.store.product_images(&ctx.scope, id).await,
    ) {
        (Ok(c), Ok(v)) => (c, v),
        (Err(e), _) | (_, Err(e)) => return store_fail(e),
    };
    let action = format!("/dashboard/products/{}/image?csrf={}", enc(id), ctx.csrf);
    let body = html! {
        (pages::alerts(f))
        div class="card" {
            div class="big" { (s(&p["name"])) }
            p class="muted" { (s(&p["id"])) " · " (if p["active"].as_bool().unwrap_or(false) { "active" } else { "archived" }) }
            @if !s(&p["description"]).is_empty() { p { (s(&p["description"])) } }
        }
        div class="card" {
            h2 { "Image" }
            @if let Some(img) = &current {
                img id="product-image" src=(crate::files::signed_url(state, &img.id)) alt={ "Image of " (s(&p["name"])) } width="160";
                p class="muted" { (img.width) " × " (img.height) " · " (img.content_type) " · version " (img.version) }
            } @else {
                p class="muted" { "No image. Buyers see the product without one." }
            }
            @if ctx.can(Permission::WriteCatalog) {
                form method="post" action=(action) enctype="multipart/form-data" {
                    label for="image" { "Upload a PNG, JPEG or WebP image (at most 5 MB, 4096 × 4096)" }
                    input id="image" name="image" type="file" accept="image/png,image/jpeg,image/webp" aria-invalid=[f.errors.get("image").map(|_| "true")];
                    @if let Some(m) = f.errors.get("image") { div class="err" id="image-error" role="alert" { (m) } }
                    p { button type="submit" { "Upload" } }
                }
                @if current.is_some() {
                    (button(ctx, &format!("/dashboard/products/{}/image/delete", enc(id)), "Remove the image", "danger"))
                }
            }
            @if versions.len() > 1 || versions.iter().any(|v| v.deleted_at.is_some()) {
                h2 { "Earlier versions" }
                ul {
                    @for v in &versions {
                        li { "Version " (v.version) ", " (format_utc(v.created)) @if v.deleted_at.is_some() { " (removed)" } }
                    }
                }
            }
        }
    };
    super::page(layout(ctx, "Product", "/dashboard/products", body))
}

pub async fn product_show(
    State(state): State<AppState>,
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    product_page(&state, &api, &ctx, &id, &FormState::default()).await
}

pub async fn product_image_upload(
    State(state): State<AppState>,
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let mut bytes = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("image") => match field.bytes().await {
                Ok(b) => bytes = b.to_vec(),
                Err(_) => {
                    return product_page(
                        &state,
                        &api,
                        &ctx,
                        &id,
                        &FormState::error(
                            "image",
                            crate::files::ImageRejection::TooLarge.to_string(),
                        ),
                    )
                    .await;
                }
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                return product_page(
                    &state,
                    &api,
                    &ctx,
                    &id,
                    &FormState::error(
                        "image",
                        "The upload was cut short or is not a form; try again.",
                    ),
                )
                .await;
            }
        }
    }
    let clean = match tokio::task::spawn_blocking(move || crate::files::clean_image(&bytes)).await {
        Ok(Ok(c)) => c,
        Ok(Err(rej)) => {
            return product_page(
                &state,
                &api,
                &ctx,
                &id,
                &FormState::error("image", rej.to_string()),
            )
            .await
        }
        Err(e) => return fail(ApiError::internal(e)),
    };
    let file_id = match Id::generate(IdKind::File) {
        Ok(i) => i.into_string(),
        Err(e) => return fail(ApiError::internal(e)),
    };
    if let Err(e) = state.store.get_product(&ctx.scope, &id).await {
        return fail(ApiError::from_store(e, "product", &id));
    }
    let key = crate::files::object_key(&ctx.scope.account_id, ctx.scope.livemode, &id, &file_id);
    let size = i64::try_from(clean.bytes.len()).unwrap_or(i64::MAX);
    if let Err(e) = crate::files::put(state.files.as_ref(), &key, clean.bytes).await {
        return fail(ApiError::internal(e));
    }
    let version = state
        .store
        .add_product_image(
            &ctx.scope,
            paylink_store::files::NewFile {
                id: &file_id,
                product_id: &id,
                object_key: &key,
                content_type: clean.content_type,
                width: i64::from(clean.width),
                height: i64::from(clean.height),
                size,
                now: state.now(),
            },
        )
        .await;
    match version {
        Ok(v) => {
            ctx.audit(
                &state,
                "product_image.uploaded",
                Some(&file_id),
                serde_json::json!({"product": id, "version": v, "type": clean.content_type}),
            )
            .await;
            see_other(&format!("/dashboard/products/{}", enc(&id)))
        }
        Err(e) => fail(ApiError::from_store(e, "product", &id)),
    }
}

pub async fn product_image_delete(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> Response {
    match state
        .store
        .delete_product_image(&ctx.scope, &id, state.now())
        .await
    {
        Ok(_) => {
            ctx.audit(
                &state,
                "product_image.deleted",
                Some(&id),
                serde_json::json!({}),
            )
            .await;
            see_other(&format!("/dashboard/products/{}", enc(&id)))
        }
        Err(e) => fail(ApiError::from_store(e, "product", &id)),
    }
}

async fn coupons_page(api: &InternalApi, ctx: &Ctx, q: &ListQ, f: &FormState) -> Response {
    let listed = match list(api, ctx, "/v1/promotion_codes", "", q).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let body = html! {
        (pages::search_box("/dashboard/coupons", &q.q, "Search codes"))
        div class="card" {
            table {
                thead { tr { th { "Code" } th { "Discount" } th { "Used" } th { "Status" } } }
                tbody {
                    @for p in &listed.data {
                        @let c = &p["promotion"]["coupon"];
                        @let coupon = if c.is_object() { c.clone() } else { p["coupon"].clone() };
                        tr {
                            td class="mono" { (s(&p["code"])) }
                            td { @if let Some(pct) = coupon["percent_off"].as_f64() { (pct) " % off" } @else if let Some(a) = coupon["amount_off"].as_i64() { (money(a, s(&coupon["currency"]))) " off" } }
                            td { (p["times_redeemed"]) @if let Some(m) = p["max_redemptions"].as_i64() { " of " (m) } }
                            td { @if p["active"].as_bool().unwrap_or(false) { "Active" } @else { "Inactive" } }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="4" class="muted" { "No promotion codes." } } }
                }
            }
            (pages::pager("/dashboard/coupons", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
        @if ctx.can(Permission::WriteCatalog) {
            div class="card" {
                h2 { "New promotion code" }
                (pages::alerts(f))
                form method="post" action="/dashboard/coupons" {
                    (csrf(ctx))
                    div class="row" {
                        div { (field(f, "Code buyers type", "code", "text", "SPRING10")) }
                        div { (field(f, "Percent off", "percent_off", "text", "10")) }
                        div { (field(f, "Or an amount off", "amount_off", "text", "")) }
                        div { (field(f, "Currency (for an amount)", "currency", "text", "eur")) }
                        div { (field(f, "Uses at most (optional)", "max_redemptions", "number", "")) }
                    }
                    p { button type="submit" { "Create code" } }
                }
            }
        }
    };
    super::page(layout(
        ctx,
        "Coupons and promotion codes",
        "/dashboard/coupons",
        body,
    ))
}

pub async fn coupons(Extension(ctx): C, Extension(api): A, Query(q): Query<ListQ>) -> Response {
    coupons_page(&api, &ctx, &q, &FormState::default()).await
}

pub async fn coupon_create(
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let pct = form.get("percent_off").trim();
    let amt = form.get("amount_off").trim();
    let currency = form.get("currency").trim().to_ascii_lowercase();
    let mut coupon: Vec<(&str, String)> = vec![("duration", "once".into())];
    match (pct.is_empty(), amt.is_empty()) {
        (false, true) => coupon.push(("percent_off", pct.replace(',', "."))),
        (true, false) => match Currency::from_str(&currency.to_ascii_uppercase())
            .ok()
            .and_then(|c| parse_major(amt, c))
        {
            Some(minor) => {
                coupon.push(("amount_off", minor.to_string()));
                coupon.push(("currency", currency.clone()));
            }
            None => {
                f.errors.insert(
                    "amount_off".into(),
                    "Enter an amount such as 5 and a currency such as eur.".into(),
                );
            }
        },
        _ => {
            f.errors.insert(
                "percent_off".into(),
                "Give either a percentage or an amount off.".into(),
            );
        }
    }
    if form.get("code").trim().is_empty() {
        f.errors
            .insert("code".into(), "Choose the code buyers will type.".into());
    }
    if !f.errors.is_empty() {
        return coupons_page(&api, &ctx, &ListQ::default(), &f).await;
    }
    let pairs: Vec<(&str, &str)> = coupon.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = match call_api(&api, &ctx, Method::POST, "/v1/coupons", Some(body(&pairs))).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if !a.ok() {
        field_error(
            &mut f,
            &a,
            &[
                ("percent_off", "percent_off"),
                ("amount_off", "amount_off"),
                ("currency", "currency"),
            ],
            "",
        );
        return coupons_page(&api, &ctx, &ListQ::default(), &f).await;
    }
    let coupon_id = s(&a.body["id"]).to_string();
    let mut pairs = vec![
        ("coupon", coupon_id.as_str()),
        ("code", form.get("code").trim()),
    ];
    if !form.get("max_redemptions").trim().is_empty() {
        pairs.push(("max_redemptions", form.get("max_redemptions").trim()));
    }
    let b = match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/promotion_codes",
        Some(body(&pairs)),
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if !b.ok() {
        // The coupon is not useful without its code: remove it again.
        let _ = call_api(
            &api,
            &ctx,
            Method::DELETE,
            &format!("/v1/coupons/{}", enc(&coupon_id)),
            None,
        )
        .await;
        field_error(
            &mut f,
            &b,
            &[("code", "code"), ("max_redemptions", "max_redemptions")],
            "",
        );
        return coupons_page(&api, &ctx, &ListQ::default(), &f).await;
    }
    see_other("/dashboard/coupons")
}

// ------------------------------------------------------ payments, customers

pub async fn payments(Extension(ctx): C, Extension(api): A, Query(q): Query<ListQ>) -> Response {
    let listed = match list(&api, &ctx, "/v1/payment_intents", "", &q).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let body = html! {
        (pages::search_box("/dashboard/payments", &q.q, "Search by id or status"))
        div class="card" {
            table {
                thead { tr { th { "Amount" } th { "Status" } th { "Refunded" } th { "Card" } th { "Date" } } }
                tbody {
                    @for p in &listed.data {
                        tr {
                            td { a href={ "/dashboard/payments/" (s(&p["id"])) } { (money(p["amount"].as_i64().unwrap_or(0), s(&p["currency"]))) } }
                            td { (s(&p["status"])) }
                            td { (money(p["amount_refunded"].as_i64().unwrap_or(0), s(&p["currency"]))) }
                            td { (s(&p["payment_method_details"]["card"]["brand"])) " " (s(&p["payment_method_details"]["card"]["last4"])) }
                            td { (date(&p["created"])) }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="5" class="muted" { "No payments." } } }
                }
            }
            (pages::pager("/dashboard/payments", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    super::page(layout(&ctx, "Payments", "/dashboard/payments", body))
}

async fn payment_page(api: &InternalApi, ctx: &Ctx, id: &str, f: &FormState) -> Response {
    let p = match get_obj(api, ctx, &format!("/v1/payment_intents/{}", enc(id))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let refunds = call_api(
        api,
        ctx,
        Method::GET,
        &format!("/v1/refunds?payment_intent={}&limit=100", enc(id)),
        None,
    )
    .await
    .ok()
    .map(|a| a.body["data"].as_array().cloned().unwrap_or_default())
    .unwrap_or_default();
    let cur = s(&p["currency"]).to_string();
    let left = p["amount"].as_i64().unwrap_or(0) - p["amount_refunded"].as_i64().unwrap_or(0);
    let body = html! {
        div class="card" {
            div class="big" { (money(p["amount"].as_i64().unwrap_or(0), &cur)) }
            p class="muted" { (s(&p["id"])) " · " (s(&p["status"])) " · " (date(&p["created"])) }
            @if let Some(c) = p["customer"].as_str() { p { "Customer: " a href={ "/dashboard/customers/" (c) } { (c) } } }
        }
        div class="card" {
            h2 { "Refunds" }
            table {
                thead { tr { th { "Amount" } th { "Status" } th { "Date" } } }
                tbody {
                    @for r in &refunds { tr { td { (money(r["amount"].as_i64().unwrap_or(0), &cur)) } td { (s(&r["status"])) } td { (date(&r["created"])) } } }
                    @if refunds.is_empty() { tr { td colspan="3" class="muted" { "None." } } }
                }
            }
            @if ctx.can(Permission::Refund) && left > 0 {
                h2 { "Refund" }
                (pages::alerts(f))
                form method="post" action={ "/dashboard/payments/" (id) "/refund" } {
                    (csrf(ctx))
                    (field(f, &format!("Amount (at most {})", money(left, &cur)), "amount", "text", ""))
                    p { button class="danger" type="submit" { "Refund" } }
                }
            }
        }
    };
    super::page(layout(ctx, "Payment", "/dashboard/payments", body))
}

pub async fn payment_show(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    payment_page(&api, &ctx, &id, &FormState::default()).await
}

pub async fn payment_refund(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let p = match get_obj(&api, &ctx, &format!("/v1/payment_intents/{}", enc(&id))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cur = s(&p["currency"]).to_uppercase();
    let amount = match Currency::from_str(&cur)
        .ok()
        .and_then(|c| parse_major(form.get("amount"), c))
    {
        Some(a) if a > 0 => a.to_string(),
        _ => {
            f.errors.insert(
                "amount".into(),
                "Enter the amount to refund, such as 5.00.".into(),
            );
            return payment_page(&api, &ctx, &id, &f).await;
        }
    };
    match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/refunds",
        Some(body(&[("payment_intent", &id), ("amount", &amount)])),
    )
    .await
    {
        Ok(a) if a.ok() => see_other(&format!("/dashboard/payments/{}", enc(&id))),
        Ok(a) => {
            field_error(&mut f, &a, &[("amount", "amount")], "amount");
            payment_page(&api, &ctx, &id, &f).await
        }
        Err(e) => fail(e),
    }
}

pub async fn customers(Extension(ctx): C, Extension(api): A, Query(q): Query<ListQ>) -> Response {
    // An email is looked up exactly, through the blind index, and only by
    // roles that may see emails; other terms match what the role sees.
    let term = q.q.trim();
    let listed = if !term.contains('@') {
        list(&api, &ctx, "/v1/customers", "", &q).await
    } else if ctx.role.sees_personal_data() {
        let exact = format!("email={}", enc(term));
        list(&api, &ctx, "/v1/customers", &exact, &ListQ::default()).await
    } else {
        Ok(Listed {
            data: Vec::new(),
            next: None,
            prev: None,
        })
    };
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let body = html! {
        (pages::search_box("/dashboard/customers", &q.q, if ctx.role.sees_personal_data() { "Search by exact email, name or id" } else { "Search by id" }))
        div class="card" {
            table {
                thead { tr { th { "Email" } th { "Name" } th { "Created" } } }
                tbody {
                    @for c in &listed.data {
                        tr {
                            td { a href={ "/dashboard/customers/" (s(&c["id"])) } { (mask_email(&ctx, s(&c["email"]))) } }
                            td { @if ctx.role.sees_personal_data() { (s(&c["name"])) } @else { "—" } }
                            td { (date(&c["created"])) }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="3" class="muted" { "No customers." } } }
                }
            }
            (pages::pager("/dashboard/customers", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    super::page(layout(&ctx, "Customers", "/dashboard/customers", body))
}

pub async fn customer_show(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    let c = match get_obj(&api, &ctx, &format!("/v1/customers/{}", enc(&id))).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = html! {
        div class="card" {
            p { "Email: " (mask_email(&ctx, s(&c["email"]))) }
            @if ctx.role.sees_personal_data() {
                p { "Name: " (s(&c["name"])) }
                p { "Phone: " (s(&c["phone"])) }
            }
            p class="muted" { (s(&c["id"])) " · since " (date(&c["created"])) }
            @if ctx.can(Permission::ManageCustomerData) {
                p { a href={ "/dashboard/customers/" (id) "/export" } { "Download everything held about this customer (JSON)" } }
                form method="post" action={ "/dashboard/customers/" (id) "/redact" } {
                    (csrf(&ctx))
                    label { input type="checkbox" name="confirm" value="yes" required; " I understand this erases the customer's personal data for good (amounts and dates stay)." }
                    p { button class="danger" type="submit" { "Erase personal data" } }
                }
            }
        }
    };
    super::page(layout(&ctx, "Customer", "/dashboard/customers", body))
}

pub async fn customer_export(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    match call_api_raw(&api, &ctx, &format!("/v1/customers/{}/export", enc(&id))).await {
        Ok((StatusCode::OK, _, bytes)) => {
            let mut resp = ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"{}.json\"",
                id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "")
            )) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Ok(_) => super::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such customer.",
        ),
        Err(e) => fail(e),
    }
}

pub async fn customer_redact(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> Response {
    if form_of(fo).get("confirm") != "yes" {
        return see_other(&format!("/dashboard/customers/{}", enc(&id)));
    }
    match call_api(
        &api,
        &ctx,
        Method::POST,
        &format!("/v1/customers/{}/redact", enc(&id)),
        Some(Vec::new()),
    )
    .await
    {
        Ok(a) if a.ok() => see_other(&format!("/dashboard/customers/{}", enc(&id))),
        Ok(a) => fail(ApiError::invalid(a.error().1, a.error().0)),
        Err(e) => fail(e),
    }
}

// ---------------------------------------------------------------- API keys

async fn api_keys_page(
    state: &AppState,
    ctx: &Ctx,
    shown: Option<(String, Secret<String>)>,
) -> Response {
    let keys = match state.store.list_api_keys(&ctx.scope).await {
        Ok(k) => k,
        Err(e) => return store_fail(e),
    };
    let now = state.now();
    let mode = if ctx.scope.livemode { "live" } else { "test" };
    let body = html! {
        @if let Some((id, secret)) = &shown {
            div class="okay" role="status" {
                "New key " span class="mono" { (id) } ". Copy it now: it is shown only this once (only its hash is kept)."
                input id="new-key" readonly value=(secret.expose());
            }
        }
        div class="card" {
            h2 { "Secret keys (" (mode) " mode)" }
            table {
                thead { tr { th { "Key" } th { "Created" } th { "Status" } th { "" } } }
                tbody {
                    @for k in &keys {
                        @let live = k.revoked_at.is_none() && k.expires_at.is_none_or(|e| now < e);
                        tr {
                            td class="mono" { "sk_" (mode) "_…" (k.last4) }
                            td { (format_utc(k.created)) }
                            td { @if live { span class="badge good" { "Active" } } @else { span class="badge" { "Revoked" } } }
                            td { @if live { (button(ctx, &format!("/dashboard/api-keys/{}/revoke", k.id), "Revoke", "danger")) } }
                        }
                    }
                    @if keys.is_empty() { tr { td colspan="4" class="muted" { "No keys in this mode." } } }
                }
            }
            @if ctx.can(Permission::CreateSecretKey) {
                p { (button(ctx, "/dashboard/api-keys", &format!("Create a {mode} secret key"), "")) }
            } @else {
                p class="muted" { "A secret key can do everything in this account, so only owners and admins create one. Ask one of them, or wait for restricted keys." }
            }
        }
    };
    super::page(layout(ctx, "API keys", "/dashboard/api-keys", body))
}

pub async fn api_keys(State(state): State<AppState>, Extension(ctx): C) -> Response {
    api_keys_page(&state, &ctx, None).await
}

pub async fn api_key_create(State(state): State<AppState>, Extension(ctx): C) -> Response {
    match state
        .store
        .create_api_key(
            &ctx.scope,
            paylink_crypto::ApiKeyKind::Secret,
            &state.api_key_pepper,
            state.now(),
        )
        .await
    {
        Ok((id, secret)) => {
            ctx.audit(&state, "api_key.created", Some(&id), serde_json::json!({"type": "secret", "livemode": ctx.scope.livemode, "last4": secret.last4()})).await;
            let shown = Secret::new(secret.expose().to_string());
            api_keys_page(&state, &ctx, Some((id, shown))).await
        }
        Err(e) => store_fail(e),
    }
}

pub async fn api_key_revoke(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> Response {
    match state
        .store
        .revoke_api_key(&ctx.scope, &id, state.now())
        .await
    {
        Ok(true) => {
            ctx.audit(&state, "api_key.revoked", Some(&id), serde_json::json!({}))
                .await;
            see_other("/dashboard/api-keys")
        }
        Ok(false) => super::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "No such active key in this account and mode.",
        ),
        Err(e) => store_fail(e),
    }
}

// -------------------------------------------------------------------- team

async fn team_page(state: &AppState, ctx: &Ctx, f: &FormState) -> Response {
    let now = state.now();
    let (members, invitations) = match (
        state.store.members(&ctx.scope.account_id).await,
        state
            .store
            .open_invitations(&ctx.scope.account_id, now)
            .await,
    ) {
        (Ok(m), Ok(i)) => (m, i),
        (Err(e), _) | (_, Err(e)) => return store_fail(e),
    };
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner || ctx.can(Permission::TransferOwnership))
        .collect();
    let body = html! {
        (pages::alerts(f))
        div class="card" {
            h2 { "Access review" }
            table {
                thead { tr { th { "Member" } th { "Role" } th { "Two-step" } th { "Last sign-in" } th { "Last activity" } th { "" } } }
                tbody {
                    @for m in &members {
                        tr id={ "member-" (m.user.id) } {
                            td { (m.user.email) @if m.user.locked_until.is_some_and(|u| u > now) { " " span class="badge bad" { "Locked" } } }
                            td {
                                @if m.user.id != ctx.user.id && (m.role != Role::Owner || ctx.can(Permission::TransferOwnership)) {
                                    form class="inline" method="post" action={ "/dashboard/team/" (m.user.id) "/role" } {
                                        (csrf(ctx))
                                        select name="role" aria-label="Role" {
                                            @for r in &roles { option value=(r.as_str()) selected[*r == m.role] { (r.as_str()) } }
                                        }
                                        " " button class="plain" type="submit" { "Change" }
                                    }
                                } @else { (m.role.as_str()) }
                            }
                            td { @if m.user.totp_enabled { span class="badge good" { "On" } } @else { span class="badge bad" { "Not set up" } } }
                            td { (m.user.last_login.map(format_utc).unwrap_or_else(|| "never".into())) }
                            td { (m.user.last_seen.map(format_utc).unwrap_or_else(|| "—".into())) }
                            td {
                                @if m.user.locked_until.is_some_and(|u| u > now) || m.user.failed_count > 0 {
                                    (button(ctx, &format!("/dashboard/team/{}/unlock", m.user.id), "Unlock", "plain")) " "
                                }
                                @if m.user.id != ctx.user.id && (m.role != Role::Owner || ctx.can(Permission::TransferOwnership)) {
                                    (button(ctx, &format!("/dashboard/team/{}/remove", m.user.id), "Remove", "danger"))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !invitations.is_empty() {
            div class="card" {
                h2 { "Invitations waiting" }
                table {
                    thead { tr { th { "Email" } th { "Role" } th { "Expires" } th { "" } } }
                    tbody {
                        @for i in &invitations {
                            tr {
                                td { (i.email) }
                                td { (i.role.as_str()) }
                                td { (format_utc(i.expires_at)) }
                                td { (button(ctx, &format!("/dashboard/team/invitations/{}/revoke", i.id), "Withdraw", "plain")) }
                            }
                        }
                    }
                }
            }
        }
        div class="card" {
            h2 { "Invite a member" }
            p class="muted" { "The invitation link goes to that address only; the person joins by opening it (and, if they already use paylink, by accepting while signed in)." }
            form method="post" action="/dashboard/team/invite" {
                (csrf(ctx))
                div class="row" {
                    div { (field(f, "Email", "email", "email", "")) }
                    div {
                        label for="role" { "Role" }
                        // No role is preselected: the first would be owner.
                        select id="role" name="role" required {
                            option value="" selected[f.value("role").is_empty()] disabled { "Choose a role" }
                            @for r in &roles { option value=(r.as_str()) selected[f.value("role") == r.as_str()] { (r.as_str()) } }
                        }
                        @if let Some(m) = f.errors.get("role") { div class="err" role="alert" { (m) } }
                    }
                }
                p { button type="submit" { "Invite" } }
            }
            p class="muted" { "Owner: everything, and only owners connect the payment provider. Admin: everything but ownership and the provider. Developer: read everything, see and revoke API keys. Analyst: read-only, no personal data. Support: payments, customers and refunds." }
        }
    };
    super::page(layout(ctx, "Team", "/dashboard/team", body))
}

pub async fn team(State(state): State<AppState>, Extension(ctx): C) -> Response {
    team_page(&state, &ctx, &FormState::default()).await
}

/// Granting the owner role transfers ownership: owners only.
fn may_grant(ctx: &Ctx, role: Role) -> bool {
    role != Role::Owner || ctx.can(Permission::TransferOwnership)
}

pub async fn team_invite(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let Ok(email) = Email::parse(form.get("email").trim()) else {
        f.errors
            .insert("email".into(), "Enter a valid email address.".into());
        return team_page(&state, &ctx, &f).await;
    };
    let Some(role) = Role::parse(form.get("role")).filter(|r| may_grant(&ctx, *r)) else {
        f.errors
            .insert("role".into(), "Choose one of the roles listed.".into());
        return team_page(&state, &ctx, &f).await;
    };
    // Someone already in this account: said plainly (the member list shows
    // them anyway). Whether the address has a sign-in elsewhere on this
    // instance is never revealed: the answer below is the same either way.
    let member = match state.store.blind(email.as_str()).await {
        Ok(k) => match state.store.user_id_by_email(&k).await {
            Ok(Some(u)) => match state.store.role_of(&u, &ctx.scope.account_id).await {
                Ok(r) => r.is_some(),
                Err(e) => return store_fail(e),
            },
            Ok(None) => false,
            Err(e) => return store_fail(e),
        },
        Err(e) => return store_fail(e),
    };
    if member {
        f.errors
            .insert("email".into(), "This person is already a member.".into());
        return team_page(&state, &ctx, &f).await;
    }
    match crate::service::team::invite(
        &state.store,
        &state.public_url,
        &ctx.scope.account_id,
        &ctx.account_name,
        &ctx.actor(),
        &email,
        role,
        state.now(),
    )
    .await
    {
        // The link is for the invitee's mailbox only: not shown here.
        Ok(_link) => {
            let ok = FormState::notice(format!(
                "Invitation for {} as {} sent to that address. It is valid for 24 hours.",
                email.as_str(),
                role.as_str()
            ));
            team_page(&state, &ctx, &ok).await
        }
        Err(e) => fail(e),
    }
}

pub async fn team_invitation_revoke(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> Response {
    match state
        .store
        .revoke_invitation(&ctx.scope.account_id, &id, state.now())
        .await
    {
        Ok(true) => {
            ctx.audit(
                &state,
                "invitation.revoked",
                Some(&id),
                serde_json::json!({}),
            )
            .await;
            see_other("/dashboard/team")
        }
        Ok(false) => super::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "No such open invitation in this account.",
        ),
        Err(e) => store_fail(e),
    }
}

/// Checks that `user` is a member of this account, and, when
/// `owner_refusal` is given and the member is an owner, that the caller may
/// act on owners (only owners may); the refusal page otherwise.
async fn member_to_manage(
    state: &AppState,
    ctx: &Ctx,
    user: &str,
    owner_refusal: Option<&str>,
) -> Result<(), Response> {
    match state.store.role_of(user, &ctx.scope.account_id).await {
        Ok(Some(Role::Owner))
            if owner_refusal.is_some() && !ctx.can(Permission::TransferOwnership) =>
        {
            Err(super::refusal(
                StatusCode::FORBIDDEN,
                "Not allowed",
                owner_refusal.unwrap_or_default(),
            ))
        }
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(super::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "No such member.",
        )),
        Err(e) => Err(store_fail(e)),
    }
}

pub async fn team_role(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(user): Path<String>,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let Some(role) = Role::parse(form.get("role")).filter(|r| may_grant(&ctx, *r)) else {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("Choose one of the roles listed."),
        )
        .await;
    };
    // Changing an owner is changing ownership.
    if let Err(r) = member_to_manage(
        &state,
        &ctx,
        &user,
        Some("Only an owner can change another owner's role."),
    )
    .await
    {
        return r;
    }
    if user == ctx.user.id {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("You can't change your own role."),
        )
        .await;
    }
    match state
        .store
        .set_role(&ctx.scope.account_id, &user, role, state.now())
        .await
    {
        Ok(old) => {
            ctx.audit(
                &state,
                "member.role_changed",
                Some(&user),
                serde_json::json!({"from": old.as_str(), "to": role.as_str()}),
            )
            .await;
            see_other("/dashboard/team")
        }
        Err(StoreError::Conflict) => {
            team_page(
                &state,
                &ctx,
                &FormState::alert("An account needs at least one owner."),
            )
            .await
        }
        Err(e) => store_fail(e),
    }
}

pub async fn team_remove(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(user): Path<String>,
) -> Response {
    if let Err(r) = member_to_manage(
        &state,
        &ctx,
        &user,
        Some("Only an owner can remove an owner."),
    )
    .await
    {
        return r;
    }
    if user == ctx.user.id {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("You can't remove yourself."),
        )
        .await;
    }
    match state
        .store
        .remove_member(&ctx.scope.account_id, &user, state.now())
        .await
    {
        Ok(()) => {
            ctx.audit(&state, "member.removed", Some(&user), serde_json::json!({}))
                .await;
            see_other("/dashboard/team")
        }
        Err(StoreError::Conflict) => {
            team_page(
                &state,
                &ctx,
                &FormState::alert("An account needs at least one owner."),
            )
            .await
        }
        Err(e) => store_fail(e),
    }
}

pub async fn team_unlock(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(user): Path<String>,
) -> Response {
    if let Err(r) = member_to_manage(&state, &ctx, &user, None).await {
        return r;
    }
    // A lock is the person's, not the account's (finding 7): it may have
    // been caused by sign-ins meant for another account, so only when this
    // is the person's only account may its team lift it.
    match state.store.memberships(&user).await {
        Ok(ms) if ms.iter().all(|m| m.account_id == ctx.scope.account_id) => {}
        Ok(_) => {
            return team_page(
                &state,
                &ctx,
                &FormState::alert("This person also belongs to other accounts, so this account can't lift their lock. It ends by itself, or the operator sends them a recovery link."),
            )
            .await
        }
        Err(e) => return store_fail(e),
    }
    if let Err(e) = state.store.clear_user_failures(&user).await {
        return store_fail(e);
    }
    ctx.audit(&state, "user.unlocked", Some(&user), serde_json::json!({}))
        .await;
    see_other("/dashboard/team")
}

// ---------------------------------------------------------------- security

async fn security_page(
    state: &AppState,
    ctx: &Ctx,
    f: &FormState,
    codes: Option<Vec<Secret<String>>>,
) -> Response {
    let (sessions, left, allowlist, notices) = match (
        state.store.user_sessions(&ctx.user.id).await,
        state.store.recovery_codes_left(&ctx.user.id).await,
        state.store.ip_allowlist(&ctx.scope.account_id).await,
        state
            .store
            .security_notices(
                &ctx.scope.account_id,
                &ctx.user.id,
                ctx.can(Permission::ManageSecurity),
                20,
            )
            .await,
    ) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
            return store_fail(e)
        }
    };
    let allow_value = if f.values.0.contains_key("allowlist") {
        f.value("allowlist").to_string()
    } else {
        allowlist
    };
    let body = html! {
        (pages::alerts(f))
        @if let Some(codes) = &codes {
            div class="card" {
                h2 { "Your new recovery codes" }
                p { "Shown only now. Each works once; the old ones no longer work." }
                ul class="codes" id="recovery-codes" { @for c in codes { li { (c.expose()) } } }
            }
        }
        div class="card" {
            h2 { "Your sessions" }
            table {
                thead { tr { th { "Signed in" } th { "Last seen" } th { "Address" } th { "Browser" } th { "" } } }
                tbody {
                    @for s in &sessions {
                        tr {
                            td { (format_utc(s.created)) }
                            td { (format_utc(s.last_seen)) }
                            td { (s.ip.as_deref().unwrap_or("")) }
                            td class="muted" { (s.user_agent.as_deref().unwrap_or("")) }
                            td {
                                @if s.id == ctx.session.id { span class="badge good" { "This session" } }
                                @else { (button(ctx, &format!("/dashboard/security/sessions/{}/revoke", s.id), "Sign out", "plain")) }
                            }
                        }
                    }
                }
            }
            p { (button(ctx, "/dashboard/security/sign-out-everywhere", "Sign out everywhere else", "danger")) }
        }
        div class="card" {
            h2 { "Password" }
            form method="post" action="/dashboard/security/password" {
                (csrf(ctx))
                (field(f, "Current password", "current_password", "password", ""))
                (field(f, "New password", "new_password", "password", ""))
                (field(f, "Repeat the new password", "new_password_confirmation", "password", ""))
                p { button type="submit" { "Change password" } }
            }
            p class="muted" { "Changing it signs you out everywhere else." }
        }
        div class="card" {
            h2 { "Recovery codes" }
            p { (left) " unused codes left." }
            form method="post" action="/dashboard/security/recovery-codes" {
                (csrf(ctx))
                (field(f, "Your password (to confirm it's you)", "password", "password", ""))
                p { button class="plain" type="submit" { "Make new recovery codes" } }
            }
        }
        @if ctx.can(Permission::ManageSecurity) {
            div class="card" {
                h2 { "IP allowlist" }
                p class="muted" { "The dashboard and the API of this account answer only requests from these ranges (one per line, such as 203.0.113.0/24). Empty: from anywhere. Your address now: " (ctx.ip) }
                form method="post" action="/dashboard/security/allowlist" {
                    (csrf(ctx))
                    textarea id="allowlist" name="allowlist" rows="4" aria-invalid=[f.errors.get("allowlist").map(|_| "true")] { (allow_value) }
                    @if let Some(m) = f.errors.get("allowlist") { div class="err" id="allowlist-error" role="alert" { (m) } }
                    p { button type="submit" { "Save allowlist" } }
                }
            }
        }
        // Each person sees their own notices (a lock, a recovery code
        // used); those who manage security see the account's too.
        div class="card" {
            h2 { "Security events" }
            table {
                thead { tr { th { "When" } th { "Event" } th { "Details" } } }
                tbody {
                    @for n in &notices { tr { td { (format_utc(n.created)) } td { (n.kind) } td class="mono" { (n.detail.to_string()) } } }
                    @if notices.is_empty() { tr { td colspan="3" class="muted" { "None." } } }
                }
            }
        }
    };
    super::page(layout(ctx, "Security", "/dashboard/security", body))
}

pub async fn security(State(state): State<AppState>, Extension(ctx): C) -> Response {
    security_page(&state, &ctx, &FormState::default(), None).await
}

pub async fn session_revoke(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> Response {
    match state
        .store
        .end_session(&ctx.user.id, &id, state.now())
        .await
    {
        Ok(_) => {
            ctx.audit(&state, "session.revoked", Some(&id), serde_json::json!({}))
                .await;
            see_other("/dashboard/security")
        }
        Err(e) => store_fail(e),
    }
}

pub async fn sign_out_everywhere(State(state): State<AppState>, Extension(ctx): C) -> Response {
    match state
        .store
        .end_user_sessions(&ctx.user.id, Some(&ctx.session.id), state.now())
        .await
    {
        Ok(n) => {
            ctx.audit(
                &state,
                "session.revoked_all",
                Some(&ctx.user.id),
                serde_json::json!({"count": n}),
            )
            .await;
            let f = FormState::notice(format!("Signed out of {n} other sessions."));
            security_page(&state, &ctx, &f, None).await
        }
        Err(e) => store_fail(e),
    }
}

/// Checks the user's current password (re-authentication).
async fn current_password_ok(state: &AppState, ctx: &Ctx, typed: &str) -> Result<bool, Response> {
    // The attempt is reserved first, as at sign-in: a burst of guesses
    // is refused past the wait and the lock.
    let reserved = super::login::reserve_password(state, &ctx.user.id)
        .await
        .map_err(fail)?;
    let creds = state
        .store
        .credentials(&ctx.user.id)
        .await
        .map_err(store_fail)?;
    let typed = Secret::new(typed.to_string());
    let phc = creds.password_hash.filter(|_| reserved.is_some());
    let ok = state
        .hash_pool
        .run(move || phc.is_some_and(|p| password::verify(typed.expose(), &p)))
        .await
        .map_err(|_| {
            super::refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Busy",
                "The server is busy; try again in a moment.",
            )
        })?;
    if ok {
        state
            .store
            .password_passed(&ctx.user.id)
            .await
            .map_err(store_fail)?;
    } else {
        if let Some(n) = reserved {
            super::login::password_failed(state, &ctx.user.id, &ctx.ip, n).await;
        }
        ctx.audit(
            state,
            "reauth.failed",
            Some(&ctx.user.id),
            serde_json::json!({"failures": reserved, "locked": reserved.is_none()}),
        )
        .await;
    }
    Ok(ok)
}

pub async fn change_password(
    State(state): State<AppState>,
    Extension(ctx): C,
    headers: HeaderMap,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState::default();
    match current_password_ok(&state, &ctx, form.get("current_password")).await {
        Ok(true) => {}
        Ok(false) => {
            f.errors.insert(
                "current_password".into(),
                "That is not your current password.".into(),
            );
            return security_page(&state, &ctx, &f, None).await;
        }
        Err(r) => return r,
    }
    if form.get("new_password") != form.get("new_password_confirmation") {
        f.errors.insert(
            "new_password_confirmation".into(),
            "The two new passwords are not the same.".into(),
        );
        return security_page(&state, &ctx, &f, None).await;
    }
    let checked = match password::check_new(form.get("new_password"), &ctx.user.email, PRODUCT) {
        Ok(p) => p,
        Err(rej) => {
            f.errors.insert("new_password".into(), rej.to_string());
            return security_page(&state, &ctx, &f, None).await;
        }
    };
    let phc = match hash_on_pool(&state, checked).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let now = state.now();
    if let Err(e) = state.store.set_password(&ctx.user.id, &phc, now).await {
        return store_fail(e);
    }
    // Every session ends, this one too; this browser gets a new token.
    if let Err(e) = state.store.end_user_sessions(&ctx.user.id, None, now).await {
        return store_fail(e);
    }
    ctx.audit(
        &state,
        "password.changed",
        Some(&ctx.user.id),
        serde_json::json!({"ip": ctx.ip}),
    )
    .await;
    super::login::notice(
        &state,
        Some(&ctx.scope.account_id),
        &ctx.user.id,
        "password.changed",
        serde_json::json!({"ip": ctx.ip}),
    )
    .await;
    start_session(
        &state,
        &headers,
        &ctx.ip,
        &ctx.user.id,
        Some(&ctx.scope.account_id),
        Stage::Full,
        "/dashboard/security",
    )
    .await
}

pub async fn regenerate_codes(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    match current_password_ok(&state, &ctx, form.get("password")).await {
        Ok(true) => {}
        Ok(false) => {
            return security_page(
                &state,
                &ctx,
                &FormState::error("password", "That is not your password."),
                None,
            )
            .await;
        }
        Err(r) => return r,
    }
    match new_recovery_codes(&state, &ctx.user.id).await {
        Ok(codes) => {
            ctx.audit(
                &state,
                "recovery_codes.regenerated",
                Some(&ctx.user.id),
                serde_json::json!({}),
            )
            .await;
            security_page(&state, &ctx, &FormState::default(), Some(codes)).await
        }
        Err(e) => fail(e),
    }
}

pub async fn set_allowlist(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let mut ranges = Vec::new();
    for line in form
        .get("allowlist")
        .split(['\n', ',', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match line.parse::<Cidr>() {
            Ok(c) => ranges.push(c),
            Err(e) => {
                f.errors.insert("allowlist".into(), e.to_string());
                return security_page(&state, &ctx, &f, None).await;
            }
        }
    }
    if ranges.len() > 100 {
        f.errors
            .insert("allowlist".into(), "At most 100 ranges.".into());
        return security_page(&state, &ctx, &f, None).await;
    }
    // Refuse a list that would shut out the person saving it.
    if let Ok(ip) = ctx.ip.parse() {
        if !paylink_domain::net::allowed(&ranges, ip) {
            f.errors.insert(
                "allowlist".into(),
                format!(
                    "Your own address ({}) is not in these ranges; you would be locked out.",
                    ctx.ip
                ),
            );
            return security_page(&state, &ctx, &f, None).await;
        }
    }
    let text: Vec<String> = ranges.iter().map(ToString::to_string).collect();
    if let Err(e) = state
        .store
        .set_ip_allowlist(&ctx.scope.account_id, &text.join("\n"))
        .await
    {
        return store_fail(e);
    }
    ctx.audit(
        &state,
        "ip_allowlist.changed",
        Some(&ctx.scope.account_id),
        serde_json::json!({"ranges": text}),
    )
    .await;
    let ok = FormState::notice("Allowlist saved.");
    security_page(&state, &ctx, &ok, None).await
}

pub async fn audit_log(State(state): State<AppState>, Extension(ctx): C) -> Response {
    let entries = match state.store.audit_entries(Some(&ctx.scope.account_id)).await {
        Ok(e) => e,
        Err(e) => return store_fail(e),
    };
    let body = html! {
        div class="card" {
            p class="muted" { "Newest first; the last 200 entries. Each entry is chained to the one before by a keyed hash (" code { "paylink audit verify" } ")." }
            table {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "On" } th { "Details" } } }
                tbody {
                    @for e in entries.iter().rev().take(200) {
                        tr { td { (format_utc(e.created)) } td class="mono" { (e.actor) } td { (e.action) } td class="mono" { (e.target.as_deref().unwrap_or("")) } td class="mono" { (e.detail) } }
                    }
                }
            }
        }
    };
    super::page(layout(&ctx, "Audit log", "/dashboard/audit", body))
}

// ---------------------------------------------------------------- settings

async fn settings_page(api: &InternalApi, ctx: &Ctx, f: &FormState) -> Response {
    let acct = match get_obj(api, ctx, "/v1/account").await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let color = if f.values.0.contains_key("primary_color") {
        f.value("primary_color").to_string()
    } else {
        s(&acct["settings"]["branding"]["primary_color"]).to_string()
    };
    let any = s(&acct["settings"]["card_payments"]["request_three_d_secure"]) == "any";
    let provider = &acct["provider"];
    let shown = FormState {
        values: Form::parse(&body(&[("primary_color", &color)])),
        errors: f.errors.clone(),
        alert: f.alert.clone(),
        notice: f.notice.clone(),
    };
    let body = html! {
        (pages::alerts(f))
        div class="card" {
            h2 { "Checkout" }
            @if ctx.scope.livemode {
                form method="post" action="/dashboard/settings" {
                    (csrf(ctx))
                    (field(&shown, "Brand colour (#rrggbb)", "primary_color", "text", "#4f46e5"))
                    label { input type="checkbox" name="three_d_secure_any" value="true" checked[any]; " Send every card payment through 3-D Secure" }
                    p { button type="submit" { "Save" } }
                }
            } @else {
                p { "Brand colour " span class="mono" { (color) } " · 3-D Secure on every payment: " (if any { "yes" } else { "no" }) }
                p class="muted" { "These settings apply to live payments too, so they change only in live mode (“Switch to live data” in the menu)." }
            }
        }
        div class="card" {
            h2 { "Payment provider (" (if ctx.scope.livemode { "live" } else { "test" }) ")" }
            @if provider.is_object() {
                p { (s(&provider["type"])) " · key ending " span class="mono" { (s(&provider["last4"])) } }
                (button(ctx, "/dashboard/settings/disconnect", "Disconnect and wipe the key", "danger"))
            } @else {
                p class="muted" { "Not connected." }
            }
            @if ctx.can(Permission::ConnectProvider) {
                h3 { @if provider.is_object() { "Replace the provider key" } @else { "Connect" } }
                p class="muted" { "Paste the secret key your provider gave you; it is checked with the provider, stored sealed and never shown again. This decides where buyers' money goes, so it asks for a fresh code from your authenticator app, and every owner is notified." }
                form method="post" action="/dashboard/settings/connect" {
                    (csrf(ctx))
                    input type="hidden" name="provider" value="sim";
                    label for="secret_key" { "Secret key (sk_sim_…)" }
                    input id="secret_key" name="secret_key" type="password" autocomplete="off" aria-invalid=[f.errors.get("secret_key").map(|_| "true")];
                    @if let Some(m) = f.errors.get("secret_key") { div class="err" id="secret_key-error" role="alert" { (m) } }
                    label for="code" { "Code from your authenticator app" }
                    input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" aria-invalid=[f.errors.get("code").map(|_| "true")];
                    @if let Some(m) = f.errors.get("code") { div class="err" id="code-error" role="alert" { (m) } }
                    p { button type="submit" { "Connect" } }
                }
            } @else {
                p class="muted" { "Only an owner can connect or replace the payment provider." }
            }
        }
    };
    super::page(layout(ctx, "Settings", "/dashboard/settings", body))
}

pub async fn settings(Extension(ctx): C, Extension(api): A) -> Response {
    settings_page(&api, &ctx, &FormState::default()).await
}

pub async fn settings_update(
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let three = if form.get("three_d_secure_any").is_empty() {
        "automatic"
    } else {
        "any"
    };
    let pairs = [
        (
            "settings[branding][primary_color]",
            form.get("primary_color").trim(),
        ),
        ("settings[card_payments][request_three_d_secure]", three),
    ];
    match call_api(&api, &ctx, Method::POST, "/v1/account", Some(body(&pairs))).await {
        Ok(a) if a.ok() => {
            f = FormState::notice("Saved.");
            settings_page(&api, &ctx, &f).await
        }
        Ok(a) => {
            field_error(
                &mut f,
                &a,
                &[("settings[branding][primary_color]", "primary_color")],
                "",
            );
            settings_page(&api, &ctx, &f).await
        }
        Err(e) => fail(e),
    }
}

pub async fn settings_connect(
    State(state): State<AppState>,
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    // Where the money goes changes only after a fresh second factor.
    match super::login::checked_second_factor(&state, &ctx.user.id, &ctx.ip, form.get("code"), true)
        .await
    {
        Ok((Some(_), _)) => {
            if let Err(e) = state.store.code_passed(&ctx.user.id).await {
                return store_fail(e);
            }
        }
        Ok((None, locked)) => {
            let mut f = FormState::default();
            let msg = if locked {
                "Too many wrong codes: the code step is locked for a while."
            } else {
                "Enter the current code from your authenticator app to confirm."
            };
            f.errors.insert("code".into(), msg.into());
            ctx.audit(
                &state,
                "provider.connect_refused",
                Some(&ctx.scope.account_id),
                serde_json::json!({"reason": "second_factor", "locked": locked}),
            )
            .await;
            return settings_page(&api, &ctx, &f).await;
        }
        Err(e) => return fail(e),
    }
    let secret = Secret::new(form.get("secret_key").trim().to_string());
    match crate::service::provider::connect(&state, &ctx.scope, &ctx.actor(), "sim", secret).await {
        Ok(_) => {
            settings_page(
                &api,
                &ctx,
                &FormState::notice(
                    "Connected. The key is stored sealed and will not be shown again. Every owner was notified.",
                ),
            )
            .await
        }
        Err(e) if !e.status().is_server_error() => {
            // The key is never put back in the form.
            let mut f = FormState::default();
            let msg = e.body()["error"]["message"]
                .as_str()
                .unwrap_or("The provider did not accept this secret key.")
                .to_string();
            f.errors.insert("secret_key".into(), msg);
            settings_page(&api, &ctx, &f).await
        }
        Err(e) => fail(e),
    }
}

pub async fn settings_disconnect(Extension(ctx): C, Extension(api): A) -> Response {
    match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/account/disconnect",
        Some(Vec::new()),
    )
    .await
    {
        Ok(a) if a.ok() => {
            settings_page(
                &api,
                &ctx,
                &FormState::notice("Disconnected; the key was wiped."),
            )
            .await
        }
        Ok(a) => fail(ApiError::invalid(a.error().1, a.error().0)),
        Err(e) => fail(e),
    }
}
