//! Webhooks: endpoints (add, disable, roll or reveal the secret, delete),
//! their recent deliveries with a resend button, and every attempt's
//! result. Developers and up manage them; only owners and admins may see
//! a secret again, after a fresh second factor, and the reveal is audited.

use axum::extract::{Path, State};
use axum::Extension;
use maud::{html, Markup};
use paylink_crypto::Secret;
use paylink_domain::roles::Permission;
use paylink_store::webhooks::WebhookEndpoint;

use super::{date_of, form_of, see_other, show_refusal, step_up, C};
use crate::dashboard::error::PageResult;
use crate::dashboard::pages::{alerts, button, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::service::webhooks::{
    self as service, EndpointChange, NewEndpoint, EMITTED, ROLL_OVERLAPS,
};
use crate::AppState;

/// Deliveries and attempts an endpoint's page shows.
const RECENT: i64 = 25;

fn status_badge(e: &WebhookEndpoint) -> Markup {
    html! {
        @if !e.enabled() {
            span class="badge bad" {
                @if e.disabled_reason.as_deref() == Some("failing") { "Disabled: failing for 3 days" } @else { "Disabled" }
            }
        } @else if let Some(t) = e.failing_since {
            span class="badge bad" { "Failing since " (date_of(t)) }
        } @else {
            span class="badge good" { "Enabled" }
        }
    }
}

fn events_text(e: &WebhookEndpoint) -> String {
    if e.enabled_events.iter().any(|x| x == "*") {
        "All events".into()
    } else {
        e.enabled_events.join(", ")
    }
}

/// The banner of a secret shown this once.
fn secret_banner(shown: Option<&Secret<String>>, what: &str) -> Markup {
    html! {
        @if let Some(s) = shown {
            div class="okay" role="status" {
                (what) " Copy it now into your webhook handler's configuration; it is stored sealed and shown only this once."
                label for="signing-secret" { "Signing secret" }
                input id="signing-secret" class="mono" readonly value=(s.expose());
            }
        }
    }
}

// Long: one maud template: the markup reads top to bottom as the page it
// renders.
async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    f: &FormState,
    shown: Option<&Secret<String>>,
) -> PageResult {
    let endpoints = state
        .store
        .list_webhook_endpoints(
            &ctx.scope,
            &paylink_store::ListQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await?
        .data;
    let all = f
        .values
        .0
        .get("events")
        .is_some_and(|v| v.iter().any(|e| e == "*"));
    let picked = |t: &str| {
        f.values
            .0
            .get("events")
            .is_some_and(|v| v.iter().any(|e| e == t))
    };
    let mode = if ctx.scope.livemode { "live" } else { "test" };
    let body = html! {
        (alerts(f))
        (secret_banner(shown, "Endpoint added."))
        div class="card" {
            h2 { "Endpoints (" (mode) " mode)" }
            table {
                thead { tr { th { "URL" } th { "Events" } th { "Status" } th { "" } } }
                tbody {
                    @for e in &endpoints {
                        tr {
                            td class="mono" { (e.url) }
                            td { (events_text(e)) }
                            td { (status_badge(e)) }
                            td { a href={ "/dashboard/webhooks/" (e.id) } { "Details" } }
                        }
                    }
                    @if endpoints.is_empty() { tr { td colspan="4" class="muted" { "No endpoints in this mode: events are only in the events list (/v1/events)." } } }
                }
            }
        }
        div class="card" {
            h2 { "Add an endpoint" }
            form method="post" action="/dashboard/webhooks" {
                (csrf(ctx))
                (field(f, "Endpoint URL", "url", "url", if ctx.scope.livemode { "https://shop.example/paylink-hook" } else { "https://… (http allowed in test mode)" }))
                fieldset {
                    legend { "Events to send" }
                    label { input type="checkbox" name="events" value="*" checked[all]; " All events" }
                    @for t in EMITTED {
                        label { input type="checkbox" name="events" value=(t) checked[picked(t)]; " " span class="mono" { (t) } }
                    }
                    @if let Some(m) = f.errors.get("events") { div class="err" role="alert" { (m) } }
                }
                (field(f, "Description (optional)", "description", "text", ""))
                p class="muted" { "Each event is posted as JSON, signed with Stripe's scheme (Stripe-Signature) and Standard Webhooks' (webhook-signature), retried for 3 days until your server answers 2xx. Internal addresses are refused." }
                button type="submit" { "Add endpoint" }
            }
        }
    };
    Ok(crate::dashboard::page(layout(
        ctx,
        "Webhooks",
        "/dashboard/webhooks",
        body,
    )))
}

pub async fn webhooks(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    list_page(&state, &ctx, &FormState::default(), None).await
}

pub async fn webhook_create(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let cmd = NewEndpoint {
        url: form.get("url").trim().to_string(),
        enabled_events: form.0.get("events").cloned().unwrap_or_default(),
        description: Some(form.get("description").trim().to_string()).filter(|d| !d.is_empty()),
        api_version: None,
        metadata: None,
    };
    match service::create_endpoint(&state, &ctx.scope, &ctx.actor(), cmd).await {
        Ok((_, secret)) => list_page(&state, &ctx, &FormState::default(), Some(&secret)).await,
        Err(e) => {
            let mut f = FormState {
                values: form,
                ..Default::default()
            };
            show_refusal(
                &mut f,
                e,
                &[
                    ("url", "url"),
                    ("description", "description"),
                    ("enabled_events", "events"),
                    ("enabled_events[0]", "events"),
                ],
                "events",
            )?;
            list_page(&state, &ctx, &f, None).await
        }
    }
}

// Long: one maud template: the markup reads top to bottom as the page it
// renders.
async fn show_page(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    f: &FormState,
    shown: Option<(&Secret<String>, &str)>,
) -> PageResult {
    let e = state
        .store
        .get_webhook_endpoint(&ctx.scope, id)
        .await
        .map_err(|e| crate::ApiError::from_store(e, "webhook endpoint", id))?;
    let deliveries = state
        .store
        .webhook_deliveries(&ctx.scope, id, RECENT)
        .await?;
    let attempts = state.store.webhook_attempts(&ctx.scope, id, RECENT).await?;
    let base = format!("/dashboard/webhooks/{id}");
    let now = state.now();
    let body = html! {
        (alerts(f))
        @if let Some((s, what)) = shown { (secret_banner(Some(s), what)) }
        div class="card" {
            h2 { "Endpoint" }
            table {
                tbody {
                    tr { th { "URL" } td class="mono" { (e.url) } }
                    tr { th { "Status" } td { (status_badge(&e)) } }
                    tr { th { "Events" } td { (events_text(&e)) } }
                    @if let Some(d) = &e.description { tr { th { "Description" } td { (d) } } }
                    tr { th { "Created" } td { (date_of(e.created)) } }
                    tr { th { "Id" } td class="mono" { (e.id) } }
                    tr { th { "Signing secret" } td {
                        "whsec_… (shown once when made or rolled)"
                        @if let Some(t) = e.previous_secret_expires.filter(|t| *t > now) {
                            br; span class="muted" { "The previous secret also signs until " (date_of(t)) "." }
                        }
                    } }
                }
            }
            p {
                @if e.enabled() {
                    (button(ctx, &format!("{base}/disable"), "Disable", "plain"))
                } @else {
                    (button(ctx, &format!("{base}/enable"), "Enable", ""))
                }
                " "
                (button(ctx, &format!("{base}/delete"), "Delete endpoint", "danger"))
            }
        }
        div class="card" {
            h2 { "Signing secret" }
            form method="post" action={ (base) "/roll" } {
                (csrf(ctx))
                label for="overlap" { "Roll the secret; the old one keeps signing beside the new one until" }
                select id="overlap" name="overlap" {
                    @for (secs, label) in ROLL_OVERLAPS {
                        option value=(secs) selected[*secs == 86_400] { (label) }
                    }
                }
                p { button type="submit" { "Roll secret" } }
            }
            @if ctx.can(Permission::RevealWebhookSecret) {
                form method="post" action={ (base) "/reveal" } {
                    (csrf(ctx))
                    (field(f, "Code from your authenticator app, to show the current secret", "code", "text", "123456"))
                    p { button class="plain" type="submit" { "Reveal secret" } }
                }
            } @else {
                p class="muted" { "Only owners and admins may see the current secret again; you may roll it." }
            }
        }
        div class="card" {
            h2 { "Recent deliveries" }
            table {
                thead { tr { th { "Event" } th { "Queued" } th { "State" } th { "Attempts" } th { "Last result" } th { "" } } }
                tbody {
                    @for d in &deliveries {
                        tr {
                            td class="mono" { (d.event_id) }
                            td { (date_of(d.created)) }
                            td {
                                @match d.state.as_str() {
                                    "succeeded" => span class="badge good" { "Delivered" },
                                    "failed" => span class="badge bad" { "Given up" },
                                    _ => span class="badge" { "Retrying " (date_of(d.next_attempt)) },
                                }
                            }
                            td { (d.attempts) }
                            td { @if let Some(s) = d.last_status { "HTTP " (s) } @else if let Some(e) = &d.last_error { (e) } }
                            td {
                                form class="inline" method="post" action={ (base) "/resend" } {
                                    (csrf(ctx))
                                    input type="hidden" name="event" value=(d.event_id);
                                    button class="plain" type="submit" { "Resend" }
                                }
                            }
                        }
                    }
                    @if deliveries.is_empty() { tr { td colspan="6" class="muted" { "Nothing sent yet." } } }
                }
            }
        }
        div class="card" {
            h2 { "Attempts" }
            table {
                thead { tr { th { "Time" } th { "Event" } th { "Result" } th { "Latency" } th { "Response" } } }
                tbody {
                    @for a in &attempts {
                        tr {
                            td { (date_of(a.created)) }
                            td class="mono" { (a.event_id) }
                            td {
                                @match a.status {
                                    Some(s) if (200..300).contains(&s) => span class="badge good" { "HTTP " (s) },
                                    Some(s) => span class="badge bad" { "HTTP " (s) },
                                    None => span class="badge bad" { (a.error.clone().unwrap_or_default()) },
                                }
                            }
                            td { (a.latency_ms) " ms" }
                            td class="mono" { (a.excerpt.as_deref().unwrap_or("").chars().take(200).collect::<String>()) }
                        }
                    }
                    @if attempts.is_empty() { tr { td colspan="5" class="muted" { "No attempts yet." } } }
                }
            }
        }
        p { a href="/dashboard/webhooks" { "All endpoints" } }
    };
    Ok(crate::dashboard::page(layout(
        ctx,
        "Webhook endpoint",
        "/dashboard/webhooks",
        body,
    )))
}

pub async fn webhook_show(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    show_page(&state, &ctx, &id, &FormState::default(), None).await
}

async fn set_disabled(state: &AppState, ctx: &Ctx, id: &str, off: bool) -> PageResult {
    let change = EndpointChange {
        disabled: Some(off),
        ..Default::default()
    };
    service::update_endpoint(state, &ctx.scope, &ctx.actor(), id, change).await?;
    Ok(see_other(&format!("/dashboard/webhooks/{id}")))
}

pub async fn webhook_disable(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    set_disabled(&state, &ctx, &id, true).await
}

pub async fn webhook_enable(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    set_disabled(&state, &ctx, &id, false).await
}

pub async fn webhook_delete(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    service::delete_endpoint(&state, &ctx.scope, &ctx.actor(), &id).await?;
    Ok(see_other("/dashboard/webhooks"))
}

pub async fn webhook_roll(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let overlap = ROLL_OVERLAPS
        .iter()
        .find(|(s, _)| s.to_string() == form.get("overlap"))
        .map_or(86_400, |(s, _)| *s);
    let (_, secret) = service::roll_secret(&state, &ctx.scope, &ctx.actor(), &id, overlap).await?;
    show_page(
        &state,
        &ctx,
        &id,
        &FormState::default(),
        Some((&secret, "Secret rolled.")),
    )
    .await
}

/// Shows the current secret after a fresh second factor.
pub async fn webhook_reveal(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    if let Some(msg) = step_up(
        &state,
        &ctx,
        &form,
        "webhook_endpoint.reveal_refused",
        &id,
        "Enter the current code from your authenticator app to see the secret.",
    )
    .await?
    {
        return show_page(&state, &ctx, &id, &FormState::error("code", msg), None).await;
    }
    let secret = service::reveal_secret(&state, &ctx.scope, &ctx.actor(), &id).await?;
    show_page(
        &state,
        &ctx,
        &id,
        &FormState::default(),
        Some((&secret, "The current secret.")),
    )
    .await
}

pub async fn webhook_resend(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    match service::resend(&state, &ctx.scope, &ctx.actor(), &id, form.get("event")).await {
        Ok(queued) => {
            let f = if queued {
                FormState::notice(format!("Event {} queued again.", form.get("event")))
            } else {
                FormState::notice(format!(
                    "Event {} is being sent to this endpoint right now.",
                    form.get("event")
                ))
            };
            show_page(&state, &ctx, &id, &f, None).await
        }
        Err(e) => {
            let mut f = FormState::default();
            show_refusal(&mut f, e, &[], "")?;
            show_page(&state, &ctx, &id, &f, None).await
        }
    }
}
