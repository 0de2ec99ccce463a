//! Coupons and their promotion codes: a coupon is made with its first code
//! in one transaction.

use axum::extract::{Query, State};
use axum::Extension;
use maud::html;
use paylink_domain::catalog::{Coupon, PromotionCode};
use paylink_domain::roles::Permission;
use paylink_domain::Discount;
use paylink_store::catalog::PromotionCodeFilter;
use paylink_store::{Scope, StoreError};

use super::{
    form_of, list_of, minor_amount, money, see_other, show_refusal, whole_number, ListQ, Listable,
    C,
};
use crate::dashboard::error::PageResult;
use crate::dashboard::pages::{self, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::service::coupons::{self, NewCoupon, NewPromotionCode};
use crate::{ApiError, AppState};

impl Listable for PromotionCode {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What a coupon takes off, as the dashboard shows it.
fn discount_text(c: &Coupon) -> String {
    match c.discount {
        Discount::Percent(p) => format!("{} % off", p.to_decimal_string()),
        Discount::Amount(m) => format!("{} off", money(m.amount(), m.currency().code())),
    }
}

/// The coupon of each code (a deleted coupon shows as none).
async fn coupon_of(
    state: &AppState,
    scope: &Scope,
    p: &PromotionCode,
) -> Result<Option<Coupon>, ApiError> {
    match state.store.get_coupon(scope, &p.coupon).await {
        Ok(c) => Ok(Some(c)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
async fn coupons_page(state: &AppState, ctx: &Ctx, q: &ListQ, f: &FormState) -> PageResult {
    let listed = list_of(
        q,
        |lq| {
            let (state, scope) = (state, &ctx.scope);
            async move {
                state
                    .store
                    .list_promotion_codes(scope, &PromotionCodeFilter::default(), &lq)
                    .await
            }
        },
        |p| format!("{} {} {}", p.id, p.code, p.coupon),
    )
    .await?;
    let mut rows = Vec::with_capacity(listed.data.len());
    for p in &listed.data {
        let discount = coupon_of(state, &ctx.scope, p)
            .await?
            .map(|c| discount_text(&c))
            .unwrap_or_default();
        rows.push((p, discount));
    }
    let body = html! {
        (pages::search_box("/dashboard/coupons", &q.q, "Search codes"))
        div class="card" {
            table {
                thead { tr { th { "Code" } th { "Discount" } th { "Used" } th { "Status" } } }
                tbody {
                    @for (p, discount) in &rows {
                        tr {
                            td class="mono" { (p.code) }
                            td { (discount) }
                            td { (p.times_redeemed) @if let Some(m) = p.max_redemptions { " of " (m) } }
                            td { @if p.active { "Active" } @else { "Inactive" } }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="4" class="muted" { "No promotion codes." } } }
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
    Ok(crate::dashboard::page(layout(
        ctx,
        "Coupons and promotion codes",
        "/dashboard/coupons",
        body,
    )))
}

pub async fn coupons(
    State(state): State<AppState>,
    Extension(ctx): C,
    Query(q): Query<ListQ>,
) -> PageResult {
    coupons_page(&state, &ctx, &q, &FormState::default()).await
}

/// The coupon and code the form asks for, checked field by field.
fn read_coupon_form(form: &Form, f: &mut FormState) -> Option<(NewCoupon, NewPromotionCode)> {
    let pct = form.get("percent_off").trim();
    let amt = form.get("amount_off").trim();
    let mut coupon = NewCoupon::default();
    match (pct.is_empty(), amt.is_empty()) {
        (false, true) => coupon.percent_off = Some(pct.replace(',', ".")),
        (true, false) => {
            if let Some((currency, minor)) = minor_amount(form, f, "amount_off", "currency") {
                coupon.amount_off = Some(minor);
                coupon.currency = Some(currency);
            }
        }
        _ => {
            f.errors.insert(
                "percent_off".into(),
                "Give either a percentage or an amount off.".into(),
            );
        }
    }
    let code = form.get("code").trim();
    if code.is_empty() {
        f.errors
            .insert("code".into(), "Choose the code buyers will type.".into());
    }
    let max = form.get("max_redemptions").trim();
    let max_redemptions = if max.is_empty() {
        None
    } else {
        let n = whole_number(max, 1, i64::from(u32::MAX));
        if n.is_none() {
            f.errors.insert(
                "max_redemptions".into(),
                "Enter a whole number of at least 1, or leave it empty.".into(),
            );
        }
        n
    };
    if !f.errors.is_empty() {
        return None;
    }
    let promo = NewPromotionCode {
        code: Some(code.to_string()),
        max_redemptions,
        ..NewPromotionCode::default()
    };
    Some((coupon, promo))
}

/// Where each parameter of a new coupon and code is on the form.
const COUPON_FIELDS: [(&str, &str); 5] = [
    ("percent_off", "percent_off"),
    ("amount_off", "amount_off"),
    ("currency", "currency"),
    ("code", "code"),
    ("max_redemptions", "max_redemptions"),
];

/// Creates a coupon and its code in one transaction: a refused code (one
/// already used, say) leaves no coupon behind.
pub async fn coupon_create(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let Some((coupon, code)) = read_coupon_form(&form, &mut f) else {
        return coupons_page(&state, &ctx, &ListQ::default(), &f).await;
    };
    match coupons::create_coupon_with_code(&state, &ctx.scope, coupon, code).await {
        Ok(_) => Ok(see_other("/dashboard/coupons")),
        Err(e) => {
            show_refusal(&mut f, e, &COUPON_FIELDS, "")?;
            coupons_page(&state, &ctx, &ListQ::default(), &f).await
        }
    }
}
