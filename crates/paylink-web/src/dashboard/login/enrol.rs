//! TOTP enrolment after a setup link: the seed, its QR code, the first code.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use paylink_crypto::{totp, Secret};
use paylink_store::users::Stage;

use crate::dashboard::pages;
use crate::dashboard::{client_ip, csrf_for, csrf_refused, form_from_us, read_form};
use crate::{ApiError, AppState};

use super::{
    audit, landing_account, new_recovery_codes, pending, pending_step, start_session, PRODUCT,
};
use crate::dashboard::error::PageResult;

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

/// The raw bytes of a pending seed.
fn seed_bytes(seed: &Secret<String>) -> Result<Secret<Vec<u8>>, ApiError> {
    totp::from_base32(seed.expose())
        .map(Secret::new)
        .ok_or_else(|| ApiError::internal("pending seed is not base32"))
}

async fn enrol_view(state: &AppState, headers: &HeaderMap, error: Option<&str>) -> PageResult {
    let Some((session, hash)) = pending(state, headers, Stage::Enrol).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let user = state.store.get_user(&session.user_id).await?;
    let seed = enrol_seed(state, &session.user_id).await?;
    Ok(crate::dashboard::page(pages::enrol(
        &csrf_for(state, &hash),
        seed.expose(),
        &user.email,
        error,
    )))
}

pub async fn enrol_page(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    enrol_view(&state, &headers, None).await
}

/// The enrolment QR code (an `otpauth://` URI), only to the enrolling user.
pub async fn enrol_qr(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let Some((session, _)) = pending(&state, &headers, Stage::Enrol).await? else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let user = state.store.get_user(&session.user_id).await?;
    let seed = enrol_seed(&state, &session.user_id).await?;
    let uri = totp::otpauth_uri(&seed_bytes(&seed)?, PRODUCT, &user.email);
    let code =
        qrcode::QrCode::with_error_correction_level(uri.expose().as_bytes(), qrcode::EcLevel::M)
            .map_err(ApiError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The first code from the new authenticator: it confirms the seed, and
/// the user gets recovery codes and a signed-in session.
// Long: a sign-in step: the brute-force checks, the secret's check and the
// session's next stage, in the order the defence needs.
pub async fn enrol_submit(State(state): State<AppState>, req: Request) -> PageResult {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = read_form(req).await?;
    let now = state.now();
    let (session, hash) = pending_step(&state, &headers, Stage::Enrol).await?;
    let csrf = csrf_for(&state, &hash);
    if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
        return Ok(csrf_refused());
    }
    let user = session.user_id.clone();
    let seed = enrol_seed(&state, &user).await?;
    let Some(step) = totp::verify(&seed_bytes(&seed)?, form.get("code"), now, None) else {
        return enrol_view(
            &state,
            &headers,
            Some(
                "That code didn't match. Check the time on your phone and enter the current code.",
            ),
        )
        .await;
    };
    state.store.confirm_totp(&user, &seed, step).await?;
    let codes = new_recovery_codes(&state, &user).await?;
    state.store.end_user_sessions(&user, None, now).await?;
    state.store.record_login(&user, now).await?;
    let account = landing_account(&state, &user, session.account_id.as_deref()).await?;
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
        return Ok(crate::dashboard::refusal(
            StatusCode::FORBIDDEN,
            "No account",
            "You are not a member of any account on this server.",
        ));
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
    Ok(page)
}
