//! The second step: a TOTP code or a recovery code, then the account to land in.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use paylink_store::users::Stage;

use crate::dashboard::pages;
use crate::dashboard::{client_ip, csrf_for, csrf_refused, form_from_us, read_form};
use crate::AppState;

use super::{
    audit, checked_second_factor, fail, landing_account, notice, pending, pending_step, reserve_ip,
    start_session,
};
use crate::dashboard::error::PageResult;

pub async fn mfa_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match pending(&state, &headers, Stage::Mfa).await {
        Ok(Some((_, hash))) => crate::dashboard::page(pages::mfa(&csrf_for(&state, &hash), None)),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(e) => fail(e),
    }
}

/// The second step: the current TOTP code or an unused recovery code.
// Long: a sign-in step: the brute-force checks, the secret's check and the
// session's next stage, in the order the defence needs.
pub async fn mfa_submit(State(state): State<AppState>, req: Request) -> PageResult {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = read_form(req).await?;
    let now = state.now();
    let (session, hash) = pending_step(&state, &headers, Stage::Mfa).await?;
    let csrf = csrf_for(&state, &hash);
    if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
        return Ok(csrf_refused());
    }
    reserve_ip(&state, &ip).await?;
    let user = session.user_id.clone();
    let (factor, locked) =
        checked_second_factor(&state, &user, &ip, form.get("code"), false).await?;
    let actor = format!("user:{user}");
    let Some(factor) = factor else {
        if locked {
            // The code step is locked: this half-finished sign-in is over.
            let _ = state.store.end_session(&user, &session.id, now).await;
        }
        audit(
            &state,
            None,
            &actor,
            "login.failed",
            Some(&user),
            serde_json::json!({"ip": ip, "step": "second_factor", "locked": locked}),
        )
        .await;
        return Ok(crate::dashboard::page(pages::mfa(&csrf, Some("That code didn't work. Try the current code from your authenticator app, or a recovery code."))));
    };
    state.store.ip_attempt_passed(&ip).await?;
    state.store.end_session(&user, &session.id, now).await?;
    state.store.record_login(&user, now).await?;
    let account = landing_account(&state, &user, None).await?;
    audit(
        &state,
        account.as_deref(),
        &actor,
        "login.succeeded",
        Some(&user),
        serde_json::json!({"ip": ip, "factor": factor}),
    )
    .await;
    if factor == "recovery_code" {
        notice(
            &state,
            account.as_deref(),
            &user,
            "recovery_code.used",
            serde_json::json!({"ip": ip}),
        )
        .await;
    }
    if account.is_none() {
        return Ok(crate::dashboard::refusal(
            StatusCode::FORBIDDEN,
            "No account",
            "You are not a member of any account on this server.",
        ));
    }
    // A new token for the signed-in session (the half-way one is ended).
    Ok(start_session(
        &state,
        &headers,
        &ip,
        &user,
        account.as_deref(),
        Stage::Full,
        "/dashboard",
    )
    .await)
}
