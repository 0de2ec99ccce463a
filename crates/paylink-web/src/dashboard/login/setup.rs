//! A setup link: the new user's password.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use paylink_crypto::password;
use paylink_store::users::Stage;

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

pub async fn setup_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = match crate::dashboard::read_own_form(&state, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = state.now();
    let hash = token_hash(&token);
    match state.store.user_token_valid(&hash, now).await {
        Ok(true) => {}
        Ok(false) => {
            return crate::dashboard::refusal(
                StatusCode::GONE,
                "Link expired",
                "This setup link was used already or has expired.",
            )
        }
        Err(e) => return fail(e.into()),
    }
    let typed = form.get("password");
    if typed != form.get("password_confirmation") {
        return crate::dashboard::page(pages::setup(Some((
            "password_confirmation",
            "The two passwords are not the same.".into(),
        ))));
    }
    // The link is used only once the password is acceptable, so a typo
    // does not burn it.
    let Some(user_id) = (match state.store.user_token_owner(&hash, now).await {
        Ok(u) => u,
        Err(e) => return fail(e.into()),
    }) else {
        return crate::dashboard::refusal(
            StatusCode::GONE,
            "Link expired",
            "This setup link was used already or has expired.",
        );
    };
    let user = match state.store.get_user(&user_id).await {
        Ok(u) => u,
        Err(e) => return fail(e.into()),
    };
    let checked = match password::check_new(typed, &user.email, PRODUCT) {
        Ok(p) => p,
        Err(rej) => {
            return crate::dashboard::page(pages::setup(Some(("password", rej.to_string()))))
        }
    };
    let phc = match hash_on_pool(&state, checked).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let grant = match state.store.consume_user_token(&hash, now).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return crate::dashboard::refusal(
                StatusCode::GONE,
                "Link expired",
                "This setup link was used already or has expired.",
            )
        }
        Err(e) => return fail(e.into()),
    };
    if let Err(e) = state.store.set_password(&grant.user_id, &phc, now).await {
        return fail(e.into());
    }
    // The recovery flow lifts a lock (the second factor is still due).
    if let Err(e) = state.store.clear_user_failures(&grant.user_id).await {
        return fail(e.into());
    }
    // A new password ends every other session of the user.
    if let Err(e) = state
        .store
        .end_user_sessions(&grant.user_id, None, now)
        .await
    {
        return fail(e.into());
    }
    let actor = format!("user:{}", grant.user_id);
    audit(
        &state,
        Some(&grant.account_id),
        &actor,
        "password.set",
        Some(&grant.user_id),
        serde_json::json!({"ip": ip, "via": "setup_link"}),
    )
    .await;
    // A setup link never skips the second factor: a user who has one must
    // give a code; one who has none enrols now.
    let stage = if user.totp_enabled {
        Stage::Mfa
    } else {
        Stage::Enrol
    };
    let to = if user.totp_enabled {
        "/login/2fa"
    } else {
        "/setup/2fa"
    };
    start_session(
        &state,
        &headers,
        &ip,
        &grant.user_id,
        Some(&grant.account_id),
        stage,
        to,
    )
    .await
}
