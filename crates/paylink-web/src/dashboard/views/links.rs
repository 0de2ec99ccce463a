//! Payment links: list, create (with a new product and price in the same
//! transaction), show, edit, QR code.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use maud::html;
use paylink_domain::catalog::{AdjustableQuantity, PaymentLink};
use paylink_domain::roles::Permission;
use paylink_store::catalog::PriceFilter;
use paylink_store::payment_links::LinkFilter;
use paylink_store::{ListQuery, Scope};
use serde::Deserialize;

use super::{
    date_of, form_of, list_of, minor_amount, money, see_other, show_refusal, whole_number, ListQ,
    Listable, C,
};
use crate::dashboard::error::{PageId, PageResult};
use crate::dashboard::pages::{self, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::service::catalog::NewPrice;
use crate::service::payment_links::{
    self as links, CompletedArgs, LinkUpdate, NewLineItem, NewLink, RestrictionArgs,
};
use crate::{objects, ApiError, AppState};

impl Listable for PaymentLink {
    fn id(&self) -> &str {
        &self.id
    }
}

/// One line item as the dashboard shows it.
struct ItemView {
    description: String,
    quantity: i64,
    total: i64,
}

/// The first `at_most` line items of `l`, with their product names.
async fn items_of(
    state: &AppState,
    scope: &Scope,
    l: &PaymentLink,
    at_most: usize,
) -> Result<Vec<ItemView>, ApiError> {
    let mut out = Vec::new();
    for item in l.line_items.iter().take(at_most) {
        let price = state.store.get_price(scope, &item.price).await?;
        let product = state.store.get_product(scope, &price.product).await?;
        out.push(ItemView {
            description: product.name,
            quantity: item.quantity,
            total: price
                .unit_amount()
                .and_then(|a| a.checked_mul(item.quantity))
                .unwrap_or(0),
        });
    }
    Ok(out)
}

pub async fn links(
    State(state): State<AppState>,
    Extension(ctx): C,
    Query(q): Query<ListQ>,
) -> PageResult {
    let url = |l: &PaymentLink| objects::link_url(&state.public_url, l);
    let listed = list_of(
        &q,
        |lq| {
            let (state, scope) = (&state, &ctx.scope);
            async move {
                state
                    .store
                    .list_payment_links(scope, &LinkFilter::default(), &lq)
                    .await
            }
        },
        |l| format!("{} {} {}", l.id, url(l), l.slug.as_deref().unwrap_or("")),
    )
    .await?;
    let mut rows = Vec::new();
    for l in &listed.data {
        let items = items_of(&state, &ctx.scope, l, 3).await?;
        let names: Vec<&str> = items.iter().map(|i| i.description.as_str()).collect();
        let total: i64 = items.iter().map(|i| i.total).sum();
        rows.push((l, names.join(", "), money(total, l.currency.code())));
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
                            td { a href={ "/dashboard/payment-links/" (l.id) } { (url(l)) } }
                            td { (names) }
                            td { (total) }
                            td { @if l.active { span class="badge good" { "Active" } } @else { span class="badge" { "Inactive" } } }
                            td { (date_of(l.created)) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="5" class="muted" { "No payment links." } } }
                }
            }
            (pages::pager("/dashboard/payment-links", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Payment links",
        "/dashboard/payment-links",
        body,
    )))
}

/// The active prices a new link can sell, labelled with their product.
async fn price_choices(state: &AppState, scope: &Scope) -> Result<Vec<(String, String)>, ApiError> {
    let filter = PriceFilter {
        active: Some(true),
        ..PriceFilter::default()
    };
    let page = state
        .store
        .list_prices(
            scope,
            &filter,
            &ListQuery {
                limit: 100,
                starting_after: None,
                ending_before: None,
                ..Default::default()
            },
        )
        .await?;
    let mut out = Vec::with_capacity(page.data.len());
    for p in page.data {
        let product = state.store.get_product(scope, &p.product).await?;
        let amount = p
            .unit_amount()
            .map(|a| money(a, p.currency.code()))
            .unwrap_or_else(|| "customer chooses".into());
        out.push((p.id, format!("{} — {amount}", product.name)));
    }
    Ok(out)
}

async fn link_form(state: &AppState, ctx: &Ctx, f: &FormState) -> PageResult {
    let prices = price_choices(state, &ctx.scope).await?;
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
                    @for (id, label) in &prices {
                        option value=(id) selected[chosen == id] { (label) }
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
    Ok(crate::dashboard::page(layout(
        ctx,
        "New payment link",
        "/dashboard/payment-links",
        body,
    )))
}

pub async fn link_new(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    let f = FormState {
        values: Form::parse(b"quantity=1&currency=eur"),
        ..Default::default()
    };
    link_form(&state, &ctx, &f).await
}

/// What the new-link form asks for, read and checked field by field.
struct LinkForm {
    link: NewLink,
    new_price: Option<NewPrice>,
}

// Long: the link form's fields, read and checked one after another.
fn read_link_form(form: &Form, f: &mut FormState) -> Option<LinkForm> {
    let quantity = match form.get("quantity").trim() {
        "" => Some(1),
        q => whole_number(q, 1, 999_999),
    };
    if quantity.is_none() {
        f.errors.insert(
            "quantity".into(),
            "Enter a whole number from 1 to 999999.".into(),
        );
    }
    let limit = match form.get("limit").trim() {
        "" => Some(None),
        l => whole_number(l, 1, i64::MAX).map(Some),
    };
    if limit.is_none() {
        f.errors.insert(
            "limit".into(),
            "Enter a whole number of at least 1, or leave it empty.".into(),
        );
    }
    let price = form.get("price").to_string();
    let mut new_price = None;
    if price.is_empty() {
        let name = form.get("product_name").trim();
        if name.is_empty() {
            f.errors.insert(
                "product_name".into(),
                "Name the product, or choose an existing price.".into(),
            );
        }
        if let Some((currency, minor)) = minor_amount(form, f, "amount", "currency") {
            new_price = Some(NewPrice::fixed_for_new_product(name, &currency, minor));
        }
    }
    let (Some(quantity), Some(limit)) = (quantity, limit) else {
        return None;
    };
    if !f.errors.is_empty() {
        return None;
    }
    let link = NewLink {
        line_items: vec![NewLineItem {
            price,
            quantity,
            adjustable_quantity: (!form.get("adjustable").is_empty()).then_some(
                AdjustableQuantity {
                    enabled: true,
                    minimum: None,
                    maximum: None,
                },
            ),
        }],
        allow_promotion_codes: Some(!form.get("allow_promotion_codes").is_empty()),
        restrictions: limit.map(|limit| RestrictionArgs {
            completed_sessions: CompletedArgs { limit },
        }),
        ..NewLink::default()
    };
    Some(LinkForm { link, new_price })
}

/// Where each parameter of a new link is on the form.
const LINK_FIELDS: [(&str, &str); 6] = [
    ("product_data[name]", "product_name"),
    ("unit_amount", "amount"),
    ("currency", "currency"),
    ("line_items[0][price]", "price"),
    ("line_items[0][quantity]", "quantity"),
    ("restrictions[completed_sessions][limit]", "limit"),
];

/// Creates a link: everything is checked before anything is stored, and a
/// new product and price are stored with the link in one transaction, so
/// a refusal leaves nothing behind and everything typed stays on the form.
pub async fn link_create(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let Some(cmd) = read_link_form(&form, &mut f) else {
        return link_form(&state, &ctx, &f).await;
    };
    match links::create_link(&state, &ctx.scope, cmd.link, cmd.new_price).await {
        Ok(link) => Ok(see_other(&format!(
            "/dashboard/payment-links/{}?created=1",
            link.id
        ))),
        Err(e) => {
            show_refusal(&mut f, e, &LINK_FIELDS, "")?;
            link_form(&state, &ctx, &f).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ShowQ {
    #[serde(default)]
    created: Option<String>,
}

async fn link_of(state: &AppState, ctx: &Ctx, id: &str) -> Result<PaymentLink, ApiError> {
    state
        .store
        .get_payment_link(&ctx.scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment link", id))
}

// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
pub async fn link_show(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<PaymentLink>,
    Query(q): Query<ShowQ>,
) -> PageResult {
    let link = link_of(&state, &ctx, &id).await?;
    let items = items_of(&state, &ctx.scope, &link, usize::MAX).await?;
    let url = objects::link_url(&state.public_url, &link);
    let cur = link.currency.code();
    let id = &link.id;
    let body = html! {
        @if q.created.is_some() { div class="okay" role="status" { "Payment link created. Share the URL or the QR code." } }
        div class="card" {
            label for="url" { "URL to share" }
            input id="url" readonly value=(url);
            p { a href=(url) { "Open the checkout page" } }
            img src={ "/dashboard/payment-links/" (id) "/qr.svg" } alt="QR code of the link" width="180" height="180";
        }
        div class="card" {
            table {
                thead { tr { th { "Item" } th { "Quantity" } th { "Amount" } } }
                tbody {
                    @for i in &items {
                        tr { td { (i.description) } td { (i.quantity) } td { (money(i.total, cur)) } }
                    }
                }
            }
            p class="muted" {
                "Status: " @if link.active { span class="badge good" id="link-status" { "Active" } } @else { span class="badge" id="link-status" { "Inactive" } }
                " · Promotion codes: " (if link.allow_promotion_codes { "allowed" } else { "off" })
                @if let Some(l) = link.completed_sessions_limit { " · Payments: " (link.completed_sessions_count) " of " (l) }
            }
            @if ctx.can(Permission::WriteCatalog) {
                form method="post" action={ "/dashboard/payment-links/" (id) } {
                    (csrf(&ctx))
                    @if link.active {
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
                    label { input type="checkbox" name="allow_promotion_codes" value="true" checked[link.allow_promotion_codes]; " Allow promotion codes" }
                    input type="hidden" name="edit" value="1";
                    label for="inactive_message" { "Message shown when the link is inactive" }
                    input id="inactive_message" name="inactive_message" value=(link.inactive_message.as_deref().unwrap_or(""));
                    p { button class="plain" type="submit" { "Save" } }
                }
            }
        }
    };
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Payment link",
        "/dashboard/payment-links",
        body,
    )))
}

pub async fn link_update(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<PaymentLink>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let change = if form.get("edit").is_empty() {
        LinkUpdate {
            active: Some(form.get("active") == "true"),
            ..LinkUpdate::default()
        }
    } else {
        LinkUpdate {
            allow_promotion_codes: Some(!form.get("allow_promotion_codes").is_empty()),
            inactive_message: Some(
                Some(form.get("inactive_message").trim().to_string()).filter(|m| !m.is_empty()),
            ),
            ..LinkUpdate::default()
        }
    };
    let link = links::update_link(&state, &ctx.scope, &id, change).await?;
    Ok(see_other(&format!("/dashboard/payment-links/{}", link.id)))
}

pub async fn link_qr(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<PaymentLink>,
) -> PageResult {
    let link = link_of(&state, &ctx, &id).await?;
    let svg = crate::qr::svg(&objects::link_url(&state.public_url, &link))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}
