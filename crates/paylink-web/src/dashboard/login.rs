//! Signing in: the password step, the second factor (TOTP or a recovery
//! code), setup links (password, then TOTP enrolment), sign-out; and the
//! brute-force defences around them.
//!
//! - Failures are counted per user and per client IP in the database. From
//!   the fifth consecutive failure a user waits (30 s, doubling); at the
//!   tenth the user is locked for an hour (an owner can lift it). An IP
//!   with too many failures in its window gets 429 with Retry-After.
//! - A locked user, an unknown email and a wrong password get the same
//!   page, and each costs one argon2 verification.
//! - Hashing runs on the blocking pool behind a small semaphore with a
//!   bounded queue: a flood of sign-ins waits for or is refused a hashing
//!   slot, while the API's requests keep the async workers.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use paylink_crypto::{password, totp, Secret};
use paylink_domain::{Id, IdKind};
use paylink_store::users::{NewSession, Stage};
use serde::Deserialize;

use super::pages::{self, LoginView};
use super::{
    clear_cookie, client_ip, csrf_for, csrf_refused, form_from_us, new_token, read_form,
    session_token, set_cookie, token_hash,
};
use crate::{ApiError, AppState};

/// The product name a password may not contain.
pub const PRODUCT: &str = "paylink";

/// Seconds a half-finished sign-in (password done, code due) stays usable.
const MFA_WINDOW: i64 = 5 * 60;

/// Seconds a TOTP enrolment stays usable.
const ENROL_WINDOW: i64 = 30 * 60;

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

pub use super::hashing::{Busy, HashPool};

fn busy() -> Response {
    let mut resp = super::refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts",
        "The server is busy checking sign-ins. Try again in a moment.",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

fn throttled(secs: i64) -> Response {
    let mut resp = super::refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Too many failed sign-ins from your network. Wait a while and try again.",
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn fail(e: ApiError) -> Response {
    super::error::fail(e)
}

/// Verifies `password` against `phc` (or the dummy hash) on the pool.
async fn verify_on_pool(
    state: &AppState,
    ticket: super::hashing::Ticket,
    password: Secret<String>,
    phc: Option<String>,
) -> Result<bool, Busy> {
    state
        .hash_pool
        .run_admitted(ticket, move || {
            let phc = phc.unwrap_or_else(|| password::dummy_hash().to_string());
            password::verify(password.expose(), &phc)
        })
        .await
}

/// Hashes a checked new password on the pool.
pub async fn hash_on_pool(state: &AppState, password: Secret<String>) -> Result<String, Response> {
    match state.hash_pool.run(move || password::hash(&password)).await {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) => Err(fail(ApiError::internal(e))),
        Err(Busy) => Err(busy()),
    }
}

/// A client address as the audit log keeps it: a keyed hash, so entries
/// kept for years hold no address in clear (the same address always gives
/// the same reference, for following one source across entries).
pub fn ip_ref(state: &AppState, ip: &str) -> String {
    let full = paylink_crypto::envelope::blind_index(&state.dashboard_key, &format!("ip:{ip}"));
    full.chars().take(16).collect()
}

/// Replaces a detail's `ip` by its [`ip_ref`].
pub fn pseudonymize(state: &AppState, mut detail: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = detail.as_object_mut() {
        if let Some(ip) = obj.remove("ip") {
            let r = ip_ref(state, ip.as_str().unwrap_or(""));
            obj.insert("ip_ref".into(), serde_json::Value::String(r));
        }
    }
    detail
}

/// Audit entry helper (failures are logged, never fatal to the answer).
pub async fn audit(
    state: &AppState,
    account: Option<&str>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) {
    let r = state
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: account,
            actor,
            action,
            target,
            detail: pseudonymize(state, detail),
            now: state.now(),
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, action, "audit entry failed");
    }
}

/// Audits and notifies a lock that the `n`-th reserved attempt of `user`
/// reached (`step`: password or second factor).
pub async fn lock_reached(state: &AppState, user: &str, ip: &str, n: i64, step: &str) {
    let detail = serde_json::json!({"ip": ip, "failures": n, "step": step});
    audit(
        state,
        None,
        &format!("user:{user}"),
        "user.locked",
        Some(user),
        detail.clone(),
    )
    .await;
    notice(state, None, user, "user.locked", detail).await;
}

/// Reserves a password attempt of `user` (see
/// `Store::reserve_password_attempt`): `None` when refused unevaluated.
pub async fn reserve_password(state: &AppState, user: &str) -> Result<Option<i64>, ApiError> {
    let cfg = &state.dashboard;
    Ok(state
        .store
        .reserve_password_attempt(user, state.now(), cfg.lock_after, cfg.lock_secs)
        .await?)
}

/// After a reserved password attempt failed: audits a lock it reached.
pub async fn password_failed(state: &AppState, user: &str, ip: &str, n: i64) {
    if n >= state.dashboard.lock_after {
        lock_reached(state, user, ip, n, "password").await;
    }
}

/// Checks a second factor of `user` behind its own reserved attempt (the
/// code step's counter and escalating lock): `Ok(None)` when the code was
/// wrong or the code step is locked; `locked` in the answer says which.
/// A right code leaves the counter to the caller: a sign-in resets it with
/// `Store::record_login`, a step-up with `Store::code_passed`.
pub async fn checked_second_factor(
    state: &AppState,
    user: &str,
    ip: &str,
    code: &str,
    totp_only: bool,
) -> Result<(Option<&'static str>, bool), ApiError> {
    let now = state.now();
    let Some(n) = state
        .store
        .reserve_code_attempt(user, now, state.dashboard.lock_secs)
        .await?
    else {
        return Ok((None, true));
    };
    let factor = second_factor(state, user, code, totp_only).await?;
    if factor.is_some() {
        return Ok((factor, false));
    }
    let reached = n % paylink_store::users::CODE_TRIES == 0;
    if reached {
        lock_reached(state, user, ip, n, "second_factor").await;
    }
    Ok((None, reached))
}

/// Queues a security notice for the email sender (and the security page).
pub async fn notice(
    state: &AppState,
    account: Option<&str>,
    user: &str,
    kind: &str,
    detail: serde_json::Value,
) {
    let id = match Id::generate(IdKind::Event) {
        Ok(id) => id.into_string(),
        Err(e) => {
            tracing::error!(error = %e, "no id for a security notice");
            return;
        }
    };
    if let Err(e) = state
        .store
        .security_notice(&id, account, Some(user), kind, &detail, state.now())
        .await
    {
        tracing::error!(error = %e, kind, "security notice failed");
    }
}

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
    super::page(pages::login(&view))
}

fn wrong_password(email: &str) -> Response {
    super::page(pages::login(&LoginView {
        email: email.to_string(),
        error: Some("Incorrect email or password.".into()),
        notice: None,
    }))
}

/// Starts a session of `stage` for `user_id` and sends the browser to `to`.
pub async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    ip: &str,
    user_id: &str,
    account_id: Option<&str>,
    stage: Stage,
    to: &str,
) -> Response {
    let token = match new_token() {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let id = match Id::generate(IdKind::DashboardSession) {
        Ok(id) => id.into_string(),
        Err(e) => return fail(ApiError::internal(e)),
    };
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(e) = state
        .store
        .create_session(NewSession {
            id: &id,
            token_hash: &token_hash(token.expose()),
            user_id,
            account_id,
            livemode: false,
            stage,
            now: state.now(),
            ip,
            user_agent: ua,
        })
        .await
    {
        return fail(e.into());
    }
    let mut resp = Redirect::to(to).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&token));
    resp
}

pub async fn login_submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    // The whole (small, size-limited) body first, within a deadline: a
    // slow client never holds a place in the hashing queue (finding 4).
    let (_, form) = match super::read_own_form(&state, req).await {
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

/// The session of a sign-in in progress (stage `want`), if still valid:
/// the code step for [`MFA_WINDOW`], TOTP enrolment (after a setup link, or
/// a password sign-in before TOTP was ever enrolled) for [`ENROL_WINDOW`].
async fn pending(
    state: &AppState,
    headers: &HeaderMap,
    want: Stage,
) -> Result<Option<(paylink_store::users::SessionRecord, String)>, ApiError> {
    let window = if want == Stage::Enrol {
        ENROL_WINDOW
    } else {
        MFA_WINDOW
    };
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let hash = token_hash(token.expose());
    let s = state.store.find_session(&hash).await?;
    Ok(
        s.filter(|s| s.stage == want && state.now() - s.created < window)
            .map(|s| (s, hash)),
    )
}

pub async fn mfa_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match pending(&state, &headers, Stage::Mfa).await {
        Ok(Some((_, hash))) => super::page(pages::mfa(&csrf_for(&state, &hash), None)),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(e) => fail(e),
    }
}

/// Where a user lands after signing in: the account named, or the first.
async fn landing_account(
    state: &AppState,
    user_id: &str,
    preferred: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let ms = state.store.memberships(user_id).await?;
    Ok(preferred
        .and_then(|p| ms.iter().find(|m| m.account_id == p))
        .or_else(|| ms.first())
        .map(|m| m.account_id.clone()))
}

/// Checks a second-factor `code` (TOTP, or a recovery code) for `user_id`.
async fn second_factor(
    state: &AppState,
    user_id: &str,
    code: &str,
    totp_only: bool,
) -> Result<Option<&'static str>, ApiError> {
    let now = state.now();
    let compact: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
        let Some((seed, last)) = state.store.totp_seed(user_id).await? else {
            return Ok(None);
        };
        let Some(bytes) = totp::from_base32(seed.expose()) else {
            return Err(ApiError::internal("stored TOTP seed is not base32"));
        };
        let bytes = Secret::new(bytes);
        if let Some(step) = totp::verify(&bytes, &compact, now, last) {
            // The conditional update makes a code single-use even when two
            // requests race with it.
            if state.store.use_totp_step(user_id, step).await? {
                return Ok(Some("totp"));
            }
        }
        return Ok(None);
    }
    if totp_only {
        return Ok(None);
    }
    let hash = recovery_hash(state, user_id, &compact);
    if state.store.use_recovery_code(user_id, &hash, now).await? {
        return Ok(Some("recovery_code"));
    }
    Ok(None)
}

/// The stored form of a recovery code (keyed, so a stolen table can't be
/// searched offline without the instance key).
pub fn recovery_hash(state: &AppState, user_id: &str, code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    paylink_crypto::envelope::blind_index(
        &state.dashboard_key,
        &format!("recovery:{user_id}:{norm}"),
    )
}

/// Ten fresh recovery codes (50 bits each, `xxxxx-xxxxx`), stored hashed;
/// returns the plaintexts to show once.
pub async fn new_recovery_codes(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<Secret<String>>, ApiError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let b = paylink_domain::id::random_bytes::<7>().map_err(ApiError::internal)?;
        let text = totp::base32(&b).to_ascii_lowercase();
        let code = format!(
            "{}-{}",
            text.get(..5).unwrap_or(""),
            text.get(5..10).unwrap_or("")
        );
        hashes.push(recovery_hash(state, user_id, &code));
        codes.push(Secret::new(code));
    }
    state.store.replace_recovery_codes(user_id, &hashes).await?;
    Ok(codes)
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
        return super::page(pages::mfa(&csrf, Some("That code didn't work. Try the current code from your authenticator app, or a recovery code.")));
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
        return super::refusal(
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

pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let (_, form) = match read_form(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Some(token) = session_token(&headers) {
        let hash = token_hash(token.expose());
        let csrf = csrf_for(&state, &hash);
        if !form_from_us(&state, &headers, form.get("csrf"), &csrf) {
            return csrf_refused();
        }
        match state.store.find_session(&hash).await {
            Ok(Some(s)) => {
                if let Err(e) = state
                    .store
                    .end_session(&s.user_id, &s.id, state.now())
                    .await
                {
                    return fail(e.into());
                }
                audit(
                    &state,
                    s.account_id.as_deref(),
                    &format!("user:{}", s.user_id),
                    "logout",
                    Some(&s.id),
                    serde_json::json!({}),
                )
                .await;
            }
            Ok(None) => {}
            Err(e) => return fail(e.into()),
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    resp
}

// ---- setup links ----

pub async fn setup_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.store.user_token_valid(&token_hash(&token), state.now()).await {
        Ok(true) => super::page(pages::setup(None)),
        Ok(false) => super::refusal(StatusCode::GONE, "Link expired", "This setup link was used already or has expired. Ask the account's owner (or the operator) for a new one."),
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
    let (_, form) = match super::read_own_form(&state, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let now = state.now();
    let hash = token_hash(&token);
    match state.store.user_token_valid(&hash, now).await {
        Ok(true) => {}
        Ok(false) => {
            return super::refusal(
                StatusCode::GONE,
                "Link expired",
                "This setup link was used already or has expired.",
            )
        }
        Err(e) => return fail(e.into()),
    }
    let typed = form.get("password");
    if typed != form.get("password_confirmation") {
        return super::page(pages::setup(Some((
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
        return super::refusal(
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
        Err(rej) => return super::page(pages::setup(Some(("password", rej.to_string())))),
    };
    let phc = match hash_on_pool(&state, checked).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let grant = match state.store.consume_user_token(&hash, now).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return super::refusal(
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
    super::page(pages::enrol(
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
        return super::refusal(
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
    let mut page = super::page(pages::recovery_codes(&codes, "/dashboard"));
    if let Some(c) = cookie {
        page.headers_mut().insert(header::SET_COOKIE, c);
    }
    page
}
