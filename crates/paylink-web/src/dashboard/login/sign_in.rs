//! The first step of signing in: the page, and the email and password.

use axum::extract::{Query, Request, State};
use axum::response::Response;
use paylink_crypto::{password, Secret};
use paylink_store::users::Stage;
use serde::Deserialize;

use crate::dashboard::client_ip;
use crate::dashboard::pages::{self, LoginView};
use crate::AppState;

use super::{
    audit, busy, password_failed, reserve_ip, reserve_password, start_session, verify_on_pool,
};
use crate::dashboard::error::{PageError, PageResult};

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    let view = LoginView {
        email: String::new(),
        error: None,
        notice: q
            .expired
            .map(|_| "Your session ended. Sign in again.".to_string()),
    };
    crate::dashboard::page(pages::login(&view))
}

fn wrong_password(email: &str) -> Response {
    crate::dashboard::page(pages::login(&LoginView {
        email: email.to_string(),
        error: Some("Incorrect email or password.".into()),
        notice: None,
    }))
}

/// The user an email names (none for a malformed or unknown address), with
/// their credentials.
async fn user_of(
    state: &AppState,
    email: &str,
) -> Result<Option<(String, paylink_store::users::Credentials)>, PageError> {
    let Ok(email) = paylink_domain::Email::parse(email) else {
        return Ok(None);
    };
    let key = state.store.blind(email.as_str()).await?;
    let Some(user) = state.store.user_id_by_email(&key).await? else {
        return Ok(None);
    };
    let creds = state.store.credentials(&user).await?;
    Ok(Some((user, creds)))
}

/// Stores a stronger hash of a right password when its stored one is of
/// weaker settings (best effort: a failure is logged).
async fn upgrade_hash(state: &AppState, user: &str, phc: &str, typed: &Secret<String>) {
    if !password::needs_rehash(phc) {
        return;
    }
    let t = typed.clone();
    if let Ok(Ok(new)) = state
        .hash_pool
        .run(move || password::hash(&password::normalize(t.expose())))
        .await
    {
        if let Err(e) = state.store.rehash_password(user, &new).await {
            tracing::error!(error = %e, "rehash on login failed");
        }
    }
}

/// The password step. Every answer but success is the same page, and each
/// costs one argon2 verification, whether the user exists, is locked or
/// typed the wrong password.
// Long: a sign-in step: the brute-force checks, the secret's check and the
// session's next stage, in the order the defence needs.
pub async fn login_submit(State(state): State<AppState>, req: Request) -> PageResult {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    // The whole (small, size-limited) body first, within a deadline: a
    // slow client never holds a place in the hashing queue (finding 4).
    let (_, form) = crate::dashboard::read_own_form(&state, req).await?;
    // A place in the hashing queue next: a flood is turned away before
    // it costs a database query.
    let Ok(ticket) = state.hash_pool.admit() else {
        return Ok(busy());
    };
    reserve_ip(&state, &ip).await?;
    let email = form.get("email").trim().to_string();
    let typed = Secret::new(form.get("password").to_string());
    let (user_id, creds) = user_of(&state, &email).await?.unzip();
    // The user's attempt is reserved too: refused unevaluated while the
    // user waits or is locked.
    let reserved = match &user_id {
        Some(u) => reserve_password(&state, u).await?,
        None => None,
    };
    let locked = user_id.is_some() && reserved.is_none();
    let phc = creds
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .filter(|_| !locked);
    // Always one verification: unknown, locked and password-less users
    // are checked against the dummy hash, so all answers cost the same.
    let Ok(verified) = verify_on_pool(&state, ticket, typed.clone(), phc.clone()).await else {
        return Ok(busy());
    };
    let good = verified && phc.is_some() && !locked;
    let Some(creds) = creds.filter(|_| good) else {
        if let (Some(u), Some(n)) = (&user_id, reserved) {
            password_failed(&state, u, &ip, n).await;
        }
        audit(
            &state,
            None,
            &user_id
                .as_ref()
                .map_or_else(|| "anonymous".to_string(), |u| format!("user:{u}")),
            "login.failed",
            user_id.as_deref(),
            serde_json::json!({"ip": ip, "step": "password", "locked": locked}),
        )
        .await;
        return Ok(wrong_password(&email));
    };
    // The reserved attempts were right: they are taken back.
    state.store.password_passed(&creds.user_id).await?;
    state.store.ip_attempt_passed(&ip).await?;
    if let Some(phc) = &phc {
        upgrade_hash(&state, &creds.user_id, phc, &typed).await;
    }
    let has_totp = state.store.totp_seed(&creds.user_id).await?.is_some();
    // The password alone never opens the dashboard.
    let (stage, to) = if has_totp {
        (Stage::Mfa, "/login/2fa")
    } else {
        (Stage::Enrol, "/setup/2fa")
    };
    Ok(start_session(&state, &headers, &ip, &creds.user_id, None, stage, to).await)
}
