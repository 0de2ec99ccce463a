//! API keys: list, create (shown once) a secret, restricted or
//! publishable key, revoke. A restricted key's permissions are offered up
//! to what the member's own role may do, and checked again by the service.

use axum::extract::{Path, State};
use axum::Extension;
use maud::html;
use paylink_crypto::{ApiKeyKind, Secret};
use paylink_domain::access::{role_cap, Access, Permissions, Resource};
use paylink_domain::clock::format_utc;
use paylink_domain::roles::Permission;

use super::{form_of, see_other, show_refusal, PageResult, C};
use crate::dashboard::pages::{alerts, button, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::service::api_keys::{create_key, roll_key, NewKey, EXPIRIES, ROLL_OVERLAPS};
use crate::{ApiError, AppState};

/// How a stored key's permissions read in the list.
fn permissions_text(kind: &str, p: Option<&str>) -> String {
    match kind {
        "secret" => "Everything in this mode".into(),
        "publishable" => "Public pages only".into(),
        _ => p
            .and_then(|p| Permissions::from_text(p).ok())
            .map(|p| {
                p.granted()
                    .map(|(r, a)| format!("{} {}", r.as_str(), a.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
    }
}

fn prefix(kind: &str) -> &'static str {
    ApiKeyKind::parse(kind).map_or("??", |k| k.prefix())
}

/// A new key's expiry and IP ranges (`kind` tells the fields apart).
fn life_fields(f: &FormState, kind: &str) -> maud::Markup {
    let exp = format!("{kind}_expires_in");
    let ips = format!("{kind}_allowed_ips");
    html! {
        div class="row" {
            div {
                label for=(exp) { "Expires" }
                select id=(exp) name="expires_in" {
                    @for (secs, label) in EXPIRIES {
                        option value=(secs) selected[f.value("expires_in") == secs.to_string()] { (label) }
                    }
                }
            }
            div {
                label for=(ips) { "Only from these IP ranges (optional)" }
                input id=(ips) name="allowed_ips" value=(f.value("allowed_ips")) placeholder="203.0.113.0/24 2001:db8::/32"
                    aria-invalid=[f.errors.get("allowed_ips").map(|_| "true")];
                @if let Some(m) = f.errors.get("allowed_ips") { div class="err" role="alert" { (m) } }
            }
        }
    }
}

/// A new key's expiry and IP ranges, from the form.
fn life_of(form: &Form) -> (Option<i64>, String) {
    let exp = form
        .get("expires_in")
        .parse::<i64>()
        .ok()
        .filter(|s| EXPIRIES.iter().any(|(e, _)| e == s));
    (exp, form.get("allowed_ips").to_string())
}

// Long: one maud template: the markup reads top to bottom as the page it
// renders.
async fn api_keys_page(
    state: &AppState,
    ctx: &Ctx,
    f: &FormState,
    shown: Option<(String, Secret<String>)>,
) -> PageResult {
    let keys = state.store.list_api_keys(&ctx.scope).await?;
    let now = state.now();
    let mode = if ctx.scope.livemode { "live" } else { "test" };
    let body = html! {
        (alerts(f))
        @if let Some((id, secret)) = &shown {
            div class="okay" role="status" {
                "New key " span class="mono" { (id) } ". Copy it now: it is shown only this once (only its hash is kept)."
                input id="new-key" readonly value=(secret.expose());
            }
        }
        div class="card" {
            h2 { "Keys (" (mode) " mode)" }
            table {
                thead { tr { th { "Key" } th { "Name" } th { "May" } th { "Created" } th { "Last used" } th { "Status" } th { "" } } }
                tbody {
                    @for k in &keys {
                        @let live = k.active(now);
                        tr {
                            td class="mono" { (prefix(&k.kind)) "_" (mode) "_…" (k.last4) }
                            td { (k.name.clone().unwrap_or_default()) }
                            td {
                                (permissions_text(&k.kind, k.permissions.as_deref()))
                                @if let Some(r) = &k.allowed_ips { br; span class="muted" { "From " (r) } }
                            }
                            td { (format_utc(k.created)) }
                            td { @if let Some(t) = k.last_used { (format_utc(t)) } @else { span class="muted" { "never" } } }
                            td {
                                @if live {
                                    span class="badge good" { "Active" }
                                    @if let Some(e) = k.expires_at { br; span class="muted" { "until " (format_utc(e)) } }
                                } @else if k.revoked_at.is_some() {
                                    span class="badge" { "Revoked" }
                                } @else {
                                    span class="badge" { "Expired" }
                                }
                            }
                            td {
                                @if live {
                                    form class="inline" method="post" action={ "/dashboard/api-keys/" (k.id) "/roll" } {
                                        (csrf(ctx))
                                        label for={ "roll-" (k.id) } { "Old key stops" }
                                        select id={ "roll-" (k.id) } name="overlap" {
                                            @for (secs, label) in ROLL_OVERLAPS {
                                                option value=(secs) selected[*secs == 86_400] { (label) }
                                            }
                                        }
                                        button class="plain" type="submit" { "Roll" }
                                    }
                                    " "
                                    (button(ctx, &format!("/dashboard/api-keys/{}/revoke", k.id), "Revoke", "danger"))
                                }
                            }
                        }
                    }
                    @if keys.is_empty() { tr { td colspan="7" class="muted" { "No keys in this mode." } } }
                }
            }
            @if ctx.can(Permission::CreateSecretKey) {
                form method="post" action="/dashboard/api-keys" {
                    (csrf(ctx))
                    (life_fields(f, "secret"))
                    p { button type="submit" { "Create a " (mode) " secret key" } }
                }
            } @else {
                p class="muted" { "A secret key can do everything in this account, so only owners and admins create one; make a restricted key for what you need." }
            }
        }
        div class="card" {
            h2 { "Restricted key" }
            p class="muted" { "A key for one integration, with only the access it needs. You can grant up to what your role (" (ctx.role.as_str()) ") may do." }
            form method="post" action="/dashboard/api-keys/restricted" {
                (csrf(ctx))
                (field(f, "Name", "name", "text", "e.g. order sync"))
                table {
                    thead { tr { th { "Resource" } th { "Access" } } }
                    tbody {
                        @for r in Resource::ALL {
                            @let cap = role_cap(ctx.role, r);
                            @let name = format!("perm_{}", r.as_str());
                            @let chosen = f.value(&name);
                            tr {
                                td { label for=(name) { (r.label()) } }
                                td {
                                    select id=(name) name=(name) {
                                        @for a in Access::ALL {
                                            @if a <= cap {
                                                option value=(a.as_str()) selected[chosen == a.as_str()] { (a.as_str()) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(m) = f.errors.get("permissions") { div class="err" role="alert" { (m) } }
                (life_fields(f, "restricted"))
                p { button type="submit" { "Create a " (mode) " restricted key" } }
            }
        }
        div class="card" {
            h2 { "Publishable key" }
            p class="muted" { "Safe to put in a public web page: it can't read or change anything through the API." }
            p { (button(ctx, "/dashboard/api-keys/publishable", &format!("Create a {mode} publishable key"), "plain")) }
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
    api_keys_page(&state, &ctx, &FormState::default(), None).await
}

async fn make(state: &AppState, ctx: &Ctx, k: NewKey, form: Form) -> PageResult {
    match create_key(state, &ctx.scope, ctx.role, &ctx.actor(), k).await {
        Ok((id, secret)) => {
            let shown = Secret::new(secret.expose().to_string());
            api_keys_page(state, ctx, &FormState::default(), Some((id, shown))).await
        }
        Err(e) => {
            let mut f = FormState {
                values: form,
                ..Default::default()
            };
            show_refusal(
                &mut f,
                e,
                &[("name", "name"), ("allowed_ips", "allowed_ips")],
                "permissions",
            )?;
            api_keys_page(state, ctx, &f, None).await
        }
    }
}

pub async fn api_key_create(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let (expires_in, allowed_ips) = life_of(&form);
    let k = NewKey {
        kind: ApiKeyKind::Secret,
        name: None,
        permissions: None,
        allowed_ips,
        expires_in,
    };
    make(&state, &ctx, k, form).await
}

pub async fn api_key_create_publishable(
    State(state): State<AppState>,
    Extension(ctx): C,
) -> PageResult {
    let k = NewKey {
        kind: ApiKeyKind::Publishable,
        name: None,
        permissions: None,
        allowed_ips: String::new(),
        expires_in: None,
    };
    make(&state, &ctx, k, Form::default()).await
}

pub async fn api_key_create_restricted(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let pairs: Vec<(String, String)> = Resource::ALL
        .iter()
        .map(|r| {
            let v = form.get(&format!("perm_{}", r.as_str()));
            (
                r.as_str().to_string(),
                if v.is_empty() { "none" } else { v }.to_string(),
            )
        })
        .collect();
    let permissions = match Permissions::parse(pairs.iter().map(|(r, a)| (r.as_str(), a.as_str())))
    {
        Ok(p) => p,
        Err(e) => {
            let f = FormState {
                values: form,
                ..FormState::error("permissions", e.to_string())
            };
            return api_keys_page(&state, &ctx, &f, None).await;
        }
    };
    let (expires_in, allowed_ips) = life_of(&form);
    let k = NewKey {
        kind: ApiKeyKind::Restricted,
        name: Some(form.get("name").trim().to_string()),
        permissions: Some(permissions),
        allowed_ips,
        expires_in,
    };
    make(&state, &ctx, k, form).await
}

pub async fn api_key_roll(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let overlap = form.get("overlap").parse::<i64>().unwrap_or(-1);
    match roll_key(&state, &ctx.scope, ctx.role, &ctx.actor(), &id, overlap).await {
        Ok((new_id, secret)) => {
            let shown = Secret::new(secret.expose().to_string());
            api_keys_page(&state, &ctx, &FormState::default(), Some((new_id, shown))).await
        }
        Err(e) => {
            let mut f = FormState::default();
            show_refusal(&mut f, e, &[], "")?;
            api_keys_page(&state, &ctx, &f, None).await
        }
    }
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
