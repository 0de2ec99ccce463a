//! API keys: list, create (shown once), revoke.

use axum::extract::{Path, State};
use axum::Extension;
use maud::html;
use paylink_crypto::Secret;
use paylink_domain::clock::format_utc;
use paylink_domain::roles::Permission;

use super::{see_other, PageResult, C};
use crate::dashboard::pages::{button, layout};
use crate::dashboard::Ctx;
use crate::{ApiError, AppState};

async fn api_keys_page(
    state: &AppState,
    ctx: &Ctx,
    shown: Option<(String, Secret<String>)>,
) -> PageResult {
    let keys = state.store.list_api_keys(&ctx.scope).await?;
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
    Ok(crate::dashboard::page(layout(
        ctx,
        "API keys",
        "/dashboard/api-keys",
        body,
    )))
}

pub async fn api_keys(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    api_keys_page(&state, &ctx, None).await
}

pub async fn api_key_create(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    let (id, secret) = state
        .store
        .create_api_key(
            &ctx.scope,
            paylink_crypto::ApiKeyKind::Secret,
            &state.api_key_pepper,
            state.now(),
        )
        .await?;
    ctx.audit(
        &state,
        "api_key.created",
        Some(&id),
        serde_json::json!({"type": "secret", "livemode": ctx.scope.livemode, "last4": secret.last4()}),
    )
    .await;
    let shown = Secret::new(secret.expose().to_string());
    api_keys_page(&state, &ctx, Some((id, shown))).await
}

pub async fn api_key_revoke(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    if !state
        .store
        .revoke_api_key(&ctx.scope, &id, state.now())
        .await?
    {
        return Err(ApiError::no_such("active API key", &id, None).into());
    }
    ctx.audit(&state, "api_key.revoked", Some(&id), serde_json::json!({}))
        .await;
    Ok(see_other("/dashboard/api-keys"))
}
