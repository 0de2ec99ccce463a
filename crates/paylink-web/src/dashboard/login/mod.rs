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

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use paylink_crypto::{password, totp, Secret};
use paylink_domain::IdKind;
use paylink_store::users::{NewSession, Stage};

use super::error::PageError;
use crate::dashboard::{new_token, session_token, set_cookie, token_hash};
use crate::{ApiError, AppState};

mod enrol;
mod logout;
mod second_factor;
mod setup;
mod sign_in;

pub use super::hashing::{Busy, HashPool};
pub use crate::service::trail::{audit, ip_ref, notice, pseudonymize};
pub use enrol::{enrol_page, enrol_qr, enrol_submit};
pub use logout::logout;
pub use second_factor::{mfa_page, mfa_submit};
pub use setup::{setup_page, setup_submit};
pub use sign_in::{login_page, login_submit};

/// The product name a password may not contain.
pub const PRODUCT: &str = "paylink";

/// Seconds a half-finished sign-in (password done, code due) stays usable.
const MFA_WINDOW: i64 = 5 * 60;

/// Seconds a TOTP enrolment stays usable.
const ENROL_WINDOW: i64 = 30 * 60;

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

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

/// Reserves this client's attempt: counted before anything is checked, in
/// one atomic step, so a burst can't overrun the limit (429 past it).
async fn reserve_ip(state: &AppState, ip: &str) -> Result<(), PageError> {
    let cfg = &state.dashboard;
    match state
        .store
        .reserve_ip_attempt(ip, state.now(), cfg.ip_window_secs, cfg.ip_limit)
        .await?
    {
        Err(secs) => Err(throttled(secs).into()),
        Ok(_) => Ok(()),
    }
}

/// The half-finished sign-in at `want` that this browser holds, with its
/// token's hash; without one (or too old), back to the sign-in page.
async fn pending_step(
    state: &AppState,
    headers: &HeaderMap,
    want: Stage,
) -> Result<(paylink_store::users::SessionRecord, String), PageError> {
    match pending(state, headers, want).await? {
        Some(p) => Ok(p),
        None => Err(Redirect::to("/login?expired=1").into_response().into()),
    }
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
    let id = match paylink_domain::id::generate(IdKind::DashboardSession) {
        Ok(id) => id,
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
