//! The user's own security: sessions, password, recovery codes; the account's allowlist and audit log.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use maud::html;
use paylink_crypto::{password, Secret};
use paylink_domain::clock::format_utc;
use paylink_domain::net::Cidr;
use paylink_domain::roles::Permission;
use paylink_store::users::Stage;

use super::{form_of, see_other, PageError, PageResult, C};
use crate::dashboard::login::{hash_on_pool, new_recovery_codes, start_session, PRODUCT};
use crate::dashboard::pages::{self, button, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::AppState;

// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
async fn security_page(
    state: &AppState,
    ctx: &Ctx,
    f: &FormState,
    codes: Option<Vec<Secret<String>>>,
) -> PageResult {
    let sessions = state.store.user_sessions(&ctx.user.id).await?;
    let left = state.store.recovery_codes_left(&ctx.user.id).await?;
    let allowlist = state.store.ip_allowlist(&ctx.scope.account_id).await?;
    let notices = state
        .store
        .security_notices(
            &ctx.scope.account_id,
            &ctx.user.id,
            ctx.can(Permission::ManageSecurity),
            20,
        )
        .await?;
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
    Ok(crate::dashboard::page(layout(
        ctx,
        "Security",
        "/dashboard/security",
        body,
    )))
}

pub async fn security(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    security_page(&state, &ctx, &FormState::default(), None).await
}

pub async fn session_revoke(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    state
        .store
        .end_session(&ctx.user.id, &id, state.now())
        .await?;
    ctx.audit(&state, "session.revoked", Some(&id), serde_json::json!({}))
        .await;
    Ok(see_other("/dashboard/security"))
}

pub async fn sign_out_everywhere(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    let n = state
        .store
        .end_user_sessions(&ctx.user.id, Some(&ctx.session.id), state.now())
        .await?;
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

/// Checks the user's current password (re-authentication).
async fn current_password_ok(state: &AppState, ctx: &Ctx, typed: &str) -> Result<bool, PageError> {
    // The attempt is reserved first, as at sign-in: a burst of guesses
    // is refused past the wait and the lock.
    let reserved = crate::dashboard::login::reserve_password(state, &ctx.user.id).await?;
    let creds = state.store.credentials(&ctx.user.id).await?;
    let typed = Secret::new(typed.to_string());
    let phc = creds.password_hash.filter(|_| reserved.is_some());
    let ok = state
        .hash_pool
        .run(move || phc.is_some_and(|p| password::verify(typed.expose(), &p)))
        .await
        .map_err(|_| {
            crate::dashboard::refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Busy",
                "The server is busy; try again in a moment.",
            )
        })?;
    if ok {
        state.store.password_passed(&ctx.user.id).await?;
    } else {
        if let Some(n) = reserved {
            crate::dashboard::login::password_failed(state, &ctx.user.id, &ctx.ip, n).await;
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

// Long: the password change's checks (current password, breached list,
// strength) in order, each with its message.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(ctx): C,
    headers: HeaderMap,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState::default();
    if !current_password_ok(&state, &ctx, form.get("current_password")).await? {
        f.errors.insert(
            "current_password".into(),
            "That is not your current password.".into(),
        );
        return security_page(&state, &ctx, &f, None).await;
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
    let phc = hash_on_pool(&state, checked).await?;
    let now = state.now();
    state.store.set_password(&ctx.user.id, &phc, now).await?;
    // Every session ends, this one too; this browser gets a new token.
    state
        .store
        .end_user_sessions(&ctx.user.id, None, now)
        .await?;
    ctx.audit(
        &state,
        "password.changed",
        Some(&ctx.user.id),
        serde_json::json!({"ip": ctx.ip}),
    )
    .await;
    crate::dashboard::login::notice(
        &state,
        Some(&ctx.scope.account_id),
        &ctx.user.id,
        "password.changed",
        serde_json::json!({"ip": ctx.ip}),
    )
    .await;
    Ok(start_session(
        &state,
        &headers,
        &ctx.ip,
        &ctx.user.id,
        Some(&ctx.scope.account_id),
        Stage::Full,
        "/dashboard/security",
    )
    .await)
}

pub async fn regenerate_codes(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    if !current_password_ok(&state, &ctx, form.get("password")).await? {
        return security_page(
            &state,
            &ctx,
            &FormState::error("password", "That is not your password."),
            None,
        )
        .await;
    }
    let codes = new_recovery_codes(&state, &ctx.user.id).await?;
    ctx.audit(
        &state,
        "recovery_codes.regenerated",
        Some(&ctx.user.id),
        serde_json::json!({}),
    )
    .await;
    security_page(&state, &ctx, &FormState::default(), Some(codes)).await
}

pub async fn set_allowlist(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
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
    state
        .store
        .set_ip_allowlist(&ctx.scope.account_id, &text.join("\n"))
        .await?;
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

pub async fn audit_log(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    let entries = state
        .store
        .audit_entries(Some(&ctx.scope.account_id))
        .await?;
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
    Ok(crate::dashboard::page(layout(
        &ctx,
        "Audit log",
        "/dashboard/audit",
        body,
    )))
}
