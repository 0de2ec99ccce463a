//! The first step of signing in: the page, and the email and password.

use axum::extract::{Query, Request, State};
use axum::response::Response;
use paylink_crypto::{password, Secret};
use paylink_store::users::Stage;
use serde::Deserialize;

use crate::dashboard::client_ip;
use crate::dashboard::hashing::Busy;
use crate::dashboard::pages::{self, LoginView};
use crate::AppState;

use super::{
    audit, busy, fail, password_failed, reserve_password, start_session, throttled, verify_on_pool,
};

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

pub async fn login_submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    // The whole (small, size-limited) body first, within a deadline: a
    // slow client never holds a place in the hashing queue (finding 4).
    let (_, form) = match crate::dashboard::read_own_form(&state, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    // A place in the hashing queue next: a flood is turned away before
    // it costs a database query.
    let Ok(ticket) = state.hash_pool.admit() else {
        return busy();
    };
    let now = state.now();
    let cfg = state.dashboard.clone();
    // The client's attempt is reserved (counted) before anything is
    // checked, in one atomic step: a burst can't overrun the limit.
    match state
        .store
        .reserve_ip_attempt(&ip, now, cfg.ip_window_secs, cfg.ip_limit)
        .await
    {
        Ok(Err(secs)) => return throttled(secs),
        Ok(Ok(_)) => {}
        Err(e) => return fail(e.into()),
    }
    let email = form.get("email").trim().to_string();
    let typed = Secret::new(form.get("password").to_string());
    let key = match paylink_domain::Email::parse(&email) {
        Ok(e) => match state.store.blind(e.as_str()).await {
            Ok(k) => Some(k),
            Err(e) => return fail(e.into()),
        },
        Err(_) => None,
    };
    let user_id = match key {
        Some(k) => match state.store.user_id_by_email(&k).await {
            Ok(u) => u,
            Err(e) => return fail(e.into()),
        },
        None => None,
    };
    let creds = match &user_id {
        Some(u) => match state.store.credentials(u).await {
            Ok(c) => Some(c),
            Err(e) => return fail(e.into()),
        },
        None => None,
    };
    // The user's attempt is reserved too: refused unevaluated while the
    // user waits or is locked.
    let reserved = match &user_id {
        Some(u) => match reserve_password(&state, u).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        },
        None => None,
    };
    let locked = user_id.is_some() && reserved.is_none();
    let phc = creds
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .filter(|_| !locked);
    // Always one verification: unknown, locked and password-less users
    // are checked against the dummy hash, so all answers cost the same.
    let verified = match verify_on_pool(&state, ticket, typed.clone(), phc.clone()).await {
        Ok(v) => v,
        Err(Busy) => return busy(),
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
        return wrong_password(&email);
    };
    // The reserved attempts were right: they are taken back.
    if let Err(e) = state.store.password_passed(&creds.user_id).await {
        return fail(e.into());
    }
    if let Err(e) = state.store.ip_attempt_passed(&ip).await {
        return fail(e.into());
    }
    if let Some(phc) = &phc {
        if password::needs_rehash(phc) {
            if let Ok(Ok(new)) = state
                .hash_pool
                .run({
                    let t = typed.clone();
                    move || password::hash(&password::normalize(t.expose()))
                })
                .await
            {
                if let Err(e) = state.store.rehash_password(&creds.user_id, &new).await {
                    tracing::error!(error = %e, "rehash on login failed");
                }
            }
        }
    }
    let has_totp = match state.store.totp_seed(&creds.user_id).await {
        Ok(s) => s.is_some(),
        Err(e) => return fail(e.into()),
    };
    // The password alone never opens the dashboard.
    let (stage, to) = if has_totp {
        (Stage::Mfa, "/login/2fa")
    } else {
        (Stage::Enrol, "/setup/2fa")
    };
    start_session(&state, &headers, &ip, &creds.user_id, None, stage, to).await
}
