//! The overview page and switching mode or account.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use maud::html;
use paylink_domain::clock::format_utc;
use paylink_store::users::Stage;
use serde::Deserialize;

use super::{form_of, money, see_other, PageResult, C};
use crate::dashboard::login::start_session;
use crate::dashboard::pages::{self, layout};
use crate::dashboard::Form;
use crate::AppState;

pub async fn overview(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    let now = state.now();
    let today = now.div_euclid(86_400);
    let since = (today - 29) * 86_400;
    let days = state.store.payment_days_since(&ctx.scope, since).await?;
    // The chart is of the currency most payments were in.
    let mut by_currency: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for d in &days {
        let e = by_currency.entry(d.currency.clone()).or_default();
        e.0 += d.net;
        e.1 += d.payments;
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
        let of_day = days.iter().filter(|t| t.day == d);
        let r: i64 = of_day
            .clone()
            .filter(|t| t.currency == main)
            .map(|t| t.net)
            .sum();
        revenue.push((day.clone(), r));
        counts.push((day, of_day.map(|t| t.payments).sum()));
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
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Overview",
        "/dashboard",
        body,
    )))
}

#[derive(Deserialize)]
pub struct ModeForm {}

pub async fn switch_mode(
    State(state): State<AppState>,
    Extension(ctx): C,
    f: Option<Extension<Form>>,
) -> PageResult {
    let live = form_of(f).get("live") == "true";
    state.store.set_session_mode(&ctx.session.id, live).await?;
    Ok(see_other("/dashboard"))
}

/// Switching accounts is a privilege change: a new session token.
pub async fn switch_account(
    State(state): State<AppState>,
    Extension(ctx): C,
    headers: HeaderMap,
    f: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(f);
    let target = form.get("account_id");
    let Some(membership) = ctx.memberships.iter().find(|m| m.account_id == target) else {
        return Err(crate::dashboard::refusal(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "You are not a member of that account.",
        )
        .into());
    };
    let now = state.now();
    state
        .store
        .end_session(&ctx.user.id, &ctx.session.id, now)
        .await?;
    if !crate::dashboard::allowlist_permits(&membership.ip_allowlist, &ctx.ip) {
        crate::dashboard::audit_ip_refused(&state, target, &ctx.actor(), &ctx.ip, "dashboard")
            .await;
        return Err(crate::dashboard::refusal(
            StatusCode::FORBIDDEN,
            "Not from this network",
            "That account only accepts sign-ins from its allowed networks.",
        )
        .into());
    }
    Ok(start_session(
        &state,
        &headers,
        &ctx.ip,
        &ctx.user.id,
        Some(target),
        Stage::Full,
        "/dashboard",
    )
    .await)
}
