//! Checkout settings and the payment provider.

use axum::extract::State;
use axum::Extension;
use maud::html;
use paylink_crypto::Secret;
use paylink_domain::roles::Permission;

use super::{form_of, show_refusal, step_up, C};
use crate::dashboard::error::PageResult;
use crate::dashboard::pages::{self, button, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::service::account::{self, SettingsUpdate};
use crate::AppState;

// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
async fn settings_page(state: &AppState, ctx: &Ctx, f: &FormState) -> PageResult {
    let settings = state.store.account_settings(&ctx.scope.account_id).await?;
    let provider = state.store.provider_connection(&ctx.scope).await?;
    let color = if f.values.0.contains_key("primary_color") {
        f.value("primary_color").to_string()
    } else {
        settings.primary_color.clone()
    };
    let terms = if f.values.0.contains_key("terms_url") {
        f.value("terms_url").to_string()
    } else {
        settings.terms_url.clone().unwrap_or_default()
    };
    let any = settings.require_3ds;
    let mut values = Form::default();
    values.0.insert("primary_color".into(), vec![color.clone()]);
    values.0.insert("terms_url".into(), vec![terms.clone()]);
    let shown = FormState {
        values,
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
                    (field(&shown, "Terms of service URL (https; links can ask buyers to accept them)", "terms_url", "url", "https://shop.example/terms"))
                    label { input type="checkbox" name="three_d_secure_any" value="true" checked[any]; " Send every card payment through 3-D Secure" }
                    p { button type="submit" { "Save" } }
                }
            } @else {
                p { "Brand colour " span class="mono" { (color) } " · 3-D Secure on every payment: " (if any { "yes" } else { "no" }) }
                p { "Terms of service: " @if terms.is_empty() { span class="muted" { "none" } } @else { span class="mono" { (terms) } } }
                p class="muted" { "These settings apply to live payments too, so they change only in live mode (“Switch to live data” in the menu)." }
            }
        }
        div class="card" {
            h2 { "Payment provider (" (if ctx.scope.livemode { "live" } else { "test" }) ")" }
            @if let Some(c) = &provider {
                p { (c.provider) " · key ending " span class="mono" { (c.last4) } }
                (button(ctx, "/dashboard/settings/disconnect", "Disconnect and wipe the key", "danger"))
            } @else {
                p class="muted" { "Not connected." }
            }
            @if ctx.can(Permission::ConnectProvider) {
                h3 { @if provider.is_some() { "Replace the provider key" } @else { "Connect" } }
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
    Ok(crate::dashboard::page(layout(
        ctx,
        "Settings",
        "/dashboard/settings",
        body,
    )))
}

pub async fn settings(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    settings_page(&state, &ctx, &FormState::default()).await
}

pub async fn settings_update(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let color = form.get("primary_color").trim();
    let terms = form.get("terms_url").trim();
    let cmd = SettingsUpdate {
        primary_color: (!color.is_empty()).then(|| color.to_string()),
        three_d_secure_always: Some(!form.get("three_d_secure_any").is_empty()),
        terms_url: Some((!terms.is_empty()).then(|| terms.to_string())),
    };
    match account::update_settings(&state, &ctx.scope, &ctx.actor(), cmd).await {
        Ok(_) => settings_page(&state, &ctx, &FormState::notice("Saved.")).await,
        Err(e) => {
            show_refusal(
                &mut f,
                e,
                &[
                    ("settings[branding][primary_color]", "primary_color"),
                    (account::TERMS_PARAM, "terms_url"),
                ],
                "",
            )?;
            settings_page(&state, &ctx, &f).await
        }
    }
}
/// Connects the provider: only after a fresh second factor, since this
/// decides where buyers' money goes.
pub async fn settings_connect(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    if let Some(msg) = step_up(
        &state,
        &ctx,
        &form,
        "provider.connect_refused",
        &ctx.scope.account_id,
        "Enter the current code from your authenticator app to confirm.",
    )
    .await?
    {
        return settings_page(&state, &ctx, &FormState::error("code", msg)).await;
    }
    let secret = Secret::new(form.get("secret_key").trim().to_string());
    match crate::service::provider::connect(&state, &ctx.scope, &ctx.actor(), "sim", secret).await {
        Ok(_) => {
            let done = FormState::notice(
                "Connected. The key is stored sealed and will not be shown again. Every owner was notified.",
            );
            settings_page(&state, &ctx, &done).await
        }
        Err(e) => {
            // The key is never put back in the form.
            let mut f = FormState::default();
            show_refusal(&mut f, e, &[], "secret_key")?;
            settings_page(&state, &ctx, &f).await
        }
    }
}

pub async fn settings_disconnect(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    account::disconnect_provider(&state, &ctx.scope, &ctx.actor()).await?;
    settings_page(
        &state,
        &ctx,
        &FormState::notice("Disconnected; the key was wiped."),
    )
    .await
}
