//! Customers: list, show, export and erase a buyer's data.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::Extension;
use maud::html;
use paylink_domain::checkout::Customer;
use paylink_domain::roles::Permission;

use super::{date_of, enc, form_of, list_of, mask_email, see_other, ListQ, Listable, Listed, C};
use crate::dashboard::error::{PageId, PageResult};
use crate::dashboard::pages::{self, csrf, layout};
use crate::dashboard::{Ctx, Form};
use crate::service::customers;
use crate::{ApiError, AppState};

impl Listable for Customer {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What a search of customers matches: the id, and the name only for
/// roles that see personal data (an email is looked up exactly instead).
fn search_text(ctx: &Ctx, c: &Customer) -> String {
    if ctx.role.sees_personal_data() {
        format!("{} {}", c.id, c.name.as_deref().unwrap_or(""))
    } else {
        c.id.clone()
    }
}

pub async fn customers(
    State(state): State<AppState>,
    Extension(ctx): C,
    Query(q): Query<ListQ>,
) -> PageResult {
    // An email is looked up exactly, through the blind index, and only by
    // roles that may see emails; other terms match what the role sees.
    let term = q.q.trim();
    let scope = &ctx.scope;
    let listed = if !term.contains('@') {
        list_of(
            &q,
            |lq| {
                let state = &state;
                async move { state.store.list_customers(scope, None, &lq).await }
            },
            |c| search_text(&ctx, c),
        )
        .await?
    } else if ctx.role.sees_personal_data() {
        list_of(
            &ListQ::default(),
            |lq| {
                let state = &state;
                async move { state.store.list_customers(scope, Some(term), &lq).await }
            },
            |c| search_text(&ctx, c),
        )
        .await?
    } else {
        Listed::empty()
    };
    let body = html! {
        (pages::search_box("/dashboard/customers", &q.q, if ctx.role.sees_personal_data() { "Search by exact email, name or id" } else { "Search by id" }))
        div class="card" {
            table {
                thead { tr { th { "Email" } th { "Name" } th { "Created" } } }
                tbody {
                    @for c in &listed.data {
                        tr {
                            td { a href={ "/dashboard/customers/" (c.id) } { (mask_email(&ctx, c.email.as_deref().unwrap_or(""))) } }
                            td { @if ctx.role.sees_personal_data() { (c.name.as_deref().unwrap_or("")) } @else { "—" } }
                            td { (date_of(c.created)) }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="3" class="muted" { "No customers." } } }
                }
            }
            (pages::pager("/dashboard/customers", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Customers",
        "/dashboard/customers",
        body,
    )))
}

pub async fn customer_show(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<Customer>,
) -> PageResult {
    let c = state
        .store
        .get_customer(&ctx.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "customer", &id))?;
    let body = html! {
        div class="card" {
            p { "Email: " (mask_email(&ctx, c.email.as_deref().unwrap_or(""))) }
            @if ctx.role.sees_personal_data() {
                p { "Name: " (c.name.as_deref().unwrap_or("")) }
                p { "Phone: " (c.phone.as_deref().unwrap_or("")) }
            }
            p class="muted" { (c.id) " · since " (date_of(c.created)) }
            @if ctx.can(Permission::ManageCustomerData) {
                p { a href={ "/dashboard/customers/" (c.id) "/export" } { "Download everything held about this customer (JSON)" } }
                form method="post" action={ "/dashboard/customers/" (c.id) "/redact" } {
                    (csrf(&ctx))
                    label { input type="checkbox" name="confirm" value="yes" required; " I understand this erases the customer's personal data for good (amounts and dates stay)." }
                    p { button class="danger" type="submit" { "Erase personal data" } }
                }
            }
        }
    };
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Customer",
        "/dashboard/customers",
        body,
    )))
}

pub async fn customer_export(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<Customer>,
) -> PageResult {
    let doc = customers::export(&state, &ctx.scope, &ctx.actor(), &id).await?;
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response();
    let name: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.json\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

pub async fn customer_redact(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<Customer>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    if form_of(fo).get("confirm") == "yes" {
        customers::redact(&state, &ctx.scope, &ctx.actor(), &id).await?;
    }
    Ok(see_other(&format!("/dashboard/customers/{}", enc(&id))))
}
