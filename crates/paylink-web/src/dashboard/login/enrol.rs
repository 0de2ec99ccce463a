//! TOTP enrolment after a setup link: the seed, its QR code, the first code.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use paylink_crypto::{totp, Secret};
use paylink_store::users::Stage;

use crate::dashboard::pages;
use crate::dashboard::{client_ip, csrf_for, csrf_refused, form_from_us, read_form};
use crate::{ApiError, AppState};

use super::{audit, fail, landing_account, new_recovery_codes, pending, start_session, PRODUCT};

/// The pending seed of an enrolling user, made on first view.
async fn enrol_seed(state: &AppState, user_id: &str) -> Result<Secret<String>, ApiError> {
    if let Some(s) = state.store.pending_totp(user_id).await? {
        return Ok(s);
    }
    let raw = totp::generate_secret()
        .ok_or_else(|| ApiError::internal("no randomness for a TOTP seed"))?;
    let b32 = Secret::new(totp::base32(raw.expose()));
    state.store.set_pending_totp(user_id, &b32).await?;
    Ok(b32)
}

async fn enrol_view(state: &AppState, headers: &HeaderMap, error: Option<&str>) -> Response {
    let (session, hash) = match pending(state, headers, Stage::Enrol).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return fail(e),
    };
    let user = match state.store.get_user(&session.user_id).await {
        Ok(u) => u,
        Err(e) => return fail(e.into()),
    };
    let seed = match enrol_seed(state, &session.user_id).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    crate::dashboard::page(pages::enrol(
        &csrf_for(state, &hash),
        seed.expose(),
        &user.email,
        error,
    ))
}

pub async fn enrol_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    enrol_view(&state, &headers, None).await
}

/// The enrolment QR code (an `otpauth://` URI), only to the enrolling user.
pub async fn enrol_qr(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (session, _) = match pending(&state, &headers, Stage::Enrol).await {
        Ok(Some(p)) => p,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return fail(e),
    };
    let (user, seed) = match (
        state.store.get_user(&session.user_id).await,
        enrol_seed(&state, &session.user_id).await,
    ) {
        (Ok(u), Ok(s)) => (u, s),
        (Err(e), _) => return fail(e.into()),
        (_, Err(e)) => return fail(e),
    };
    let Some(raw) = totp::from_base32(seed.expose()) else {
        return fail(ApiError::internal("pending seed is not base32"));
    };
    let uri = totp::otpauth_uri(&Secret::new(raw), PRODUCT, &user.email);
    match qrcode::QrCode::with_error_correction_level(uri.expose().as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
        }
        Err(e) => fail(ApiError::internal(e)),
    }
}

pub async fn enrol_submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = match read_form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = state.now();
    let (session, hash) = match pending(&state, &headers, Stage::Enrol).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/login?expired=1").into_response(),
        Err(e) => return fail(e),
    };
    let csrf = csrf_for(&state, &hash);
    if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
        return csrf_refused();
    }
    let user = session.user_id.clone();
    let seed = match enrol_seed(&state, &user).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let Some(raw) = totp::from_base32(seed.expose()) else {
        return fail(ApiError::internal("pending seed is not base32"));
    };
    let Some(step) = totp::verify(&Secret::new(raw), form.get("code"), now, None) else {
        return enrol_view(
            &state,
            &headers,
            Some(
                "That code didn't match. Check the time on your phone and enter the current code.",
            ),
        )
        .await;
    };
    if let Err(e) = state.store.confirm_totp(&user, &seed, step).await {
        return fail(e.into());
    }
    let codes = match new_recovery_codes(&state, &user).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = state.store.end_user_sessions(&user, None, now).await {
        return fail(e.into());
    }
    if let Err(e) = state.store.record_login(&user, now).await {
        return fail(e.into());
    }
    let account = match landing_account(&state, &user, session.account_id.as_deref()).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let actor = format!("user:{user}");
    audit(
        &state,
        account.as_deref(),
        &actor,
        "2fa.enrolled",
        Some(&user),
        serde_json::json!({"ip": ip, "method": "totp"}),
    )
    .await;
    audit(
        &state,
        account.as_deref(),
        &actor,
        "login.succeeded",
        Some(&user),
        serde_json::json!({"ip": ip, "factor": "totp_enrolment"}),
    )
    .await;
    let Some(account) = account else {
        return crate::dashboard::refusal(
            StatusCode::FORBIDDEN,
            "No account",
            "You are not a member of any account on this server.",
        );
    };
    // The signed-in session gets a new token; the recovery codes are shown
    // once, on the answer to this request.
    let resp = start_session(
        &state,
        &headers,
        &ip,
        &user,
        Some(&account),
        Stage::Full,
        "/dashboard",
    )
    .await;
    let cookie = resp.headers().get(header::SET_COOKIE).cloned();
    let mut page = crate::dashboard::page(pages::recovery_codes(&codes, "/dashboard"));
    if let Some(c) = cookie {
        page.headers_mut().insert(header::SET_COOKIE, c);
    }
    page
}
