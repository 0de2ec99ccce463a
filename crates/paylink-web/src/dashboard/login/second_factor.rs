//! The second step: a TOTP code or a recovery code, then the account to land in.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use paylink_store::users::Stage;

use crate::dashboard::pages;
use crate::dashboard::{client_ip, csrf_for, csrf_refused, form_from_us, read_form};
use crate::AppState;

use super::{
    audit, checked_second_factor, fail, landing_account, notice, pending, start_session, throttled,
};

pub async fn mfa_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match pending(&state, &headers, Stage::Mfa).await {
        Ok(Some((_, hash))) => crate::dashboard::page(pages::mfa(&csrf_for(&state, &hash), None)),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(e) => fail(e),
    }
}

pub async fn mfa_submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = match read_form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = state.now();
    let cfg = state.dashboard.clone();
    let (session, hash) = match pending(&state, &headers, Stage::Mfa).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/login?expired=1").into_response(),
        Err(e) => return fail(e),
    };
    let csrf = csrf_for(&state, &hash);
    if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
        return csrf_refused();
    }
    match state
        .store
        .reserve_ip_attempt(&ip, now, cfg.ip_window_secs, cfg.ip_limit)
        .await
    {
        Ok(Err(secs)) => return throttled(secs),
        Ok(Ok(_)) => {}
        Err(e) => return fail(e.into()),
    }
    let user = session.user_id.clone();
    let (factor, locked) =
        match checked_second_factor(&state, &user, &ip, form.get("code"), false).await {
            Ok(f) => f,
            Err(e) => return fail(e),
        };
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
        return crate::dashboard::page(pages::mfa(&csrf, Some("That code didn't work. Try the current code from your authenticator app, or a recovery code.")));
    };
    if let Err(e) = state.store.ip_attempt_passed(&ip).await {
        return fail(e.into());
    }
    if let Err(e) = state.store.end_session(&user, &session.id, now).await {
        return fail(e.into());
    }
    if let Err(e) = state.store.record_login(&user, now).await {
        return fail(e.into());
    }
    let account = match landing_account(&state, &user, None).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
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
        return crate::dashboard::refusal(
            StatusCode::FORBIDDEN,
            "No account",
            "You are not a member of any account on this server.",
        );
    }
    // A new token for the signed-in session (the half-way one is ended).
    start_session(
        &state,
        &headers,
        &ip,
        &user,
        account.as_deref(),
        Stage::Full,
        "/dashboard",
    )
    .await
}
