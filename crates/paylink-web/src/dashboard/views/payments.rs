//! Payments and their refunds.

use axum::extract::{Query, State};
use axum::Extension;
use maud::html;
use paylink_domain::checkout::PaymentIntent;
use paylink_domain::roles::Permission;
use paylink_store::ListQuery;

use super::{
    date_of, enc, form_of, list_of, minor_amount_in, money, see_other, show_refusal, ListQ,
    Listable, C,
};
use crate::dashboard::error::{PageId, PageResult};
use crate::dashboard::pages::{self, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::service::refunds::{self, NewRefund};
use crate::{ApiError, AppState};

impl Listable for PaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

pub async fn payments(
    State(state): State<AppState>,
    Extension(ctx): C,
    Query(q): Query<ListQ>,
) -> PageResult {
    let listed = list_of(
        &q,
        |lq| {
            let (state, scope) = (&state, &ctx.scope);
            async move { state.store.list_payment_intents(scope, None, &lq).await }
        },
        // What the list shows, and no buyer's data.
        |p| {
            format!(
                "{} {} {} {}",
                p.id,
                p.status,
                p.card_brand.as_deref().unwrap_or(""),
                p.card_last4.as_deref().unwrap_or("")
            )
        },
    )
    .await?;
    let body = html! {
        (pages::search_box("/dashboard/payments", &q.q, "Search by id or status"))
        div class="card" {
            table {
                thead { tr { th { "Amount" } th { "Status" } th { "Refunded" } th { "Card" } th { "Date" } } }
                tbody {
                    @for p in &listed.data {
                        tr {
                            td { a href={ "/dashboard/payments/" (p.id) } { (money(p.amount, p.currency.code())) } }
                            td { (p.status) }
                            td { (money(p.amount_refunded, p.currency.code())) }
                            td { (p.card_brand.as_deref().unwrap_or("")) " " (p.card_last4.as_deref().unwrap_or("")) }
                            td { (date_of(p.created)) }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="5" class="muted" { "No payments." } } }
                }
            }
            (pages::pager("/dashboard/payments", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Payments",
        "/dashboard/payments",
        body,
    )))
}

async fn payment_of(state: &AppState, ctx: &Ctx, id: &str) -> Result<PaymentIntent, ApiError> {
    state
        .store
        .get_payment_intent(&ctx.scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment", id))
}

async fn payment_page(state: &AppState, ctx: &Ctx, id: &str, f: &FormState) -> PageResult {
    let p = payment_of(state, ctx, id).await?;
    let refunds = state
        .store
        .list_refunds(
            &ctx.scope,
            Some(&p.id),
            &ListQuery {
                limit: 100,
                starting_after: None,
                ending_before: None,
                ..Default::default()
            },
        )
        .await?
        .data;
    // Where the order ships, from the session that made the payment (its
    // street and name only for roles that see personal data).
    let ship = state
        .store
        .get_session(&ctx.scope, &p.checkout_session)
        .await
        .ok()
        .and_then(|s| s.shipping_details);
    let cur = p.currency.code();
    let left = p.refundable();
    let body = html! {
        div class="card" {
            div class="big" { (money(p.amount, cur)) }
            p class="muted" { (p.id) " · " (p.status) " · " (date_of(p.created)) }
            @if let Some(c) = &p.customer { p { "Customer: " a href={ "/dashboard/customers/" (c) } { (c) } } }
        }
        @if let Some(d) = &ship {
            @let a = &d.address;
            @let country = a.country.as_deref().unwrap_or("");
            div class="card" id="ship-to" {
                h2 { "Ship to" }
                @if ctx.role.sees_personal_data() {
                    p {
                        (d.name) br;
                        @if let Some(l) = &a.line1 { (l) br; }
                        @if let Some(l) = &a.line2 { (l) br; }
                        (a.postal_code.as_deref().unwrap_or("")) " " (a.city.as_deref().unwrap_or("")) br;
                        @if let Some(st) = &a.state { (st) br; }
                        (paylink_domain::countries::shipping_country(country).unwrap_or(country))
                    }
                } @else {
                    p { (paylink_domain::countries::shipping_country(country).unwrap_or(country)) }
                    p class="muted" { "The name and street are hidden for your role." }
                }
            }
        }
        div class="card" {
            h2 { "Refunds" }
            table {
                thead { tr { th { "Amount" } th { "Status" } th { "Date" } } }
                tbody {
                    @for r in &refunds { tr { td { (money(r.amount, cur)) } td { (r.status) } td { (date_of(r.created)) } } }
                    @if refunds.is_empty() { tr { td colspan="3" class="muted" { "None." } } }
                }
            }
            @if ctx.can(Permission::Refund) && left > 0 {
                h2 { "Refund" }
                (pages::alerts(f))
                form method="post" action={ "/dashboard/payments/" (p.id) "/refund" } {
                    (csrf(ctx))
                    (field(f, &format!("Amount (at most {})", money(left, cur)), "amount", "text", ""))
                    p { button class="danger" type="submit" { "Refund" } }
                }
            }
        }
    };
    Ok(crate::dashboard::page(layout(
        ctx,
        "Payment",
        "/dashboard/payments",
        body,
    )))
}

pub async fn payment_show(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<PaymentIntent>,
) -> PageResult {
    payment_page(&state, &ctx, &id, &FormState::default()).await
}

pub async fn payment_refund(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<PaymentIntent>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let p = payment_of(&state, &ctx, &id).await?;
    let Some(amount) = minor_amount_in(&form, "amount", p.currency) else {
        f.errors.insert(
            "amount".into(),
            "Enter the amount to refund, such as 5.00.".into(),
        );
        return payment_page(&state, &ctx, &id, &f).await;
    };
    let cmd = NewRefund {
        payment_intent: p.id.clone(),
        amount: Some(amount),
        ..NewRefund::default()
    };
    match refunds::create_refund(&state, &ctx.scope, cmd).await {
        Ok(_) => Ok(see_other(&format!("/dashboard/payments/{}", enc(&p.id)))),
        Err(e) => {
            show_refusal(&mut f, e, &[("amount", "amount")], "amount")?;
            payment_page(&state, &ctx, &id, &f).await
        }
    }
}
