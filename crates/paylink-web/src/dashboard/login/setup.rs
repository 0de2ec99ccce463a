//! A setup link: the new user's password.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_crypto::password;
use paylink_store::users::Stage;

use crate::dashboard::error::{PageError, PageResult};
use crate::dashboard::pages;
use crate::dashboard::{client_ip, token_hash};
use crate::AppState;

use super::{audit, fail, hash_on_pool, start_session, PRODUCT};

pub async fn setup_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.store.user_token_valid(&token_hash(&token), state.now()).await {
        Ok(true) => crate::dashboard::page(pages::setup(None)),
        Ok(false) => crate::dashboard::refusal(StatusCode::GONE, "Link expired", "This setup link was used already or has expired. Ask the account's owner (or the operator) for a new one."),
        Err(e) => fail(e.into()),
    }
}

/// The answer to a setup link that was used or has expired.
fn link_gone() -> PageError {
    crate::dashboard::refusal(
        StatusCode::GONE,
        "Link expired",
        "This setup link was used already or has expired.",
    )
    .into()
}

/// A setup link's form: the new password (twice). The link is used only
/// once the password is acceptable, so a typo does not burn it.
// Long: a sign-in step: the brute-force checks, the secret's check and the
// session's next stage, in the order the defence needs.
pub async fn setup_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> PageResult {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = crate::dashboard::read_own_form(&state, req).await?;
    let now = state.now();
    let hash = token_hash(&token);
    if !state.store.user_token_valid(&hash, now).await? {
        return Err(link_gone());
    }
    let typed = form.get("password");
    if typed != form.get("password_confirmation") {
        return Ok(crate::dashboard::page(pages::setup(Some((
            "password_confirmation",
            "The two passwords are not the same.".into(),
        )))));
    }
    let user_id = state
        .store
        .user_token_owner(&hash, now)
        .await?
        .ok_or_else(link_gone)?;
    let user = state.store.get_user(&user_id).await?;
    let checked = match password::check_new(typed, &user.email, PRODUCT) {
        Ok(p) => p,
        Err(rej) => {
            return Ok(crate::dashboard::page(pages::setup(Some((
                "password",
                rej.to_string(),
            )))))
        }
    };
    let phc = hash_on_pool(&state, checked).await?;
    let grant = state
        .store
        .consume_user_token(&hash, now)
        .await?
        .ok_or_else(link_gone)?;
    state.store.set_password(&grant.user_id, &phc, now).await?;
    // The recovery flow lifts a lock (the second factor is still due).
    state.store.clear_user_failures(&grant.user_id).await?;
    // A new password ends every other session of the user.
    state
        .store
        .end_user_sessions(&grant.user_id, None, now)
        .await?;
    audit(
        &state,
        Some(&grant.account_id),
        &format!("user:{}", grant.user_id),
        "password.set",
        Some(&grant.user_id),
        serde_json::json!({"ip": ip, "via": "setup_link"}),
    )
    .await;
    // A setup link never skips the second factor: a user who has one must
    // give a code; one who has none enrols now.
    let (stage, to) = if user.totp_enabled {
        (Stage::Mfa, "/login/2fa")
    } else {
        (Stage::Enrol, "/setup/2fa")
    };
    Ok(start_session(
        &state,
        &headers,
        &ip,
        &grant.user_id,
        Some(&grant.account_id),
        stage,
        to,
    )
    .await)
}
