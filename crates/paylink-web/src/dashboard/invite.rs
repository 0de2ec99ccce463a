//! Accepting an invitation (`/invite/{token}`): the invitee's own action,
//! through the link sent to the invited address.
//!
//! - Someone with no sign-in on this instance chooses a password here,
//!   then enrols TOTP, and joins the account.
//! - Someone who already has a sign-in accepts explicitly while signed in
//!   as themselves (the invited address must be their own); any other
//!   session is refused, and nobody is ever joined silently.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use paylink_crypto::password;
use paylink_domain::IdKind;
use paylink_store::invitations::{Accepted, Invitation};
use paylink_store::users::{SessionRecord, Stage};
use paylink_store::StoreError;

use super::error::{PageError, PageResult};
use super::login::{audit, hash_on_pool, start_session, PRODUCT};
use super::pages::{bare, setup_under};
use super::{client_ip, csrf_for, form_from_us, read_form, token_hash};
use crate::{ApiError, AppState};

fn gone() -> Response {
    super::refusal(
        StatusCode::GONE,
        "Invitation expired",
        "This invitation was used already, was withdrawn, or has expired. Ask the account's owner for a new one.",
    )
}

/// The open invitation a link names; gone when used, withdrawn or expired.
async fn open_invitation(state: &AppState, token: &str) -> Result<Invitation, PageError> {
    load(state, token)
        .await?
        .ok_or_else(|| PageError::from(gone()))
}

/// The signed-in (both factors, not idle or too old) session of this
/// browser, if any.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(SessionRecord, String)>, ApiError> {
    Ok(match super::full_session(state, headers).await? {
        super::FullSession::Live(s, hash) => Some((s, hash)),
        super::FullSession::None | super::FullSession::Expired => None,
    })
}

async fn load(state: &AppState, token: &str) -> Result<Option<Invitation>, ApiError> {
    Ok(state
        .store
        .find_invitation(&token_hash(token), state.now())
        .await?)
}

fn heading(inv: &Invitation) -> maud::Markup {
    html! {
        h1 { "Join " (inv.account_name) }
        p { "You are invited to join " strong { (inv.account_name) } " on paylink as " strong { (inv.role.as_str()) } ", with the address " span class="mono" { (inv.email) } "." }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    let inv = open_invitation(&state, &token).await?;
    // The holder of the link proved they read this address's mail, so
    // they may learn whether it already has a sign-in here.
    let Some(user) = state.store.user_id_by_email(&inv.email_key).await? else {
        return Ok(super::page(new_user_page(&inv, None)));
    };
    Ok(match signed_in(&state, &headers).await? {
        Some((s, hash)) if s.user_id == user => super::page(bare(
            "Accept the invitation",
            html! {
                (heading(&inv))
                form method="post" action={ "/invite/" (token) "/accept" } {
                    input type="hidden" name="csrf" value=(csrf_for(&state, &hash));
                    p { button type="submit" { "Accept and join" } }
                }
                p class="muted" { "Not for you? Close this page: nothing changes unless you accept." }
            },
        )),
        Some(_) => super::refusal(
            StatusCode::FORBIDDEN,
            "Signed in as someone else",
            "This invitation is for another address. Sign out, then sign in with the invited address and open the link again.",
        ),
        None => super::page(bare(
            "Sign in to accept",
            html! {
                (heading(&inv))
                p { "This address already has a paylink sign-in. " a href="/login" { "Sign in" } " with it (password and code), then open this link again to accept." }
            },
        )),
    })
}

fn new_user_page(inv: &Invitation, error: Option<(&str, String)>) -> String {
    setup_under(heading(inv), error)
}

/// A new user sets a password; TOTP enrolment follows, then the account.
// Long: accepting an invitation: the invitation's checks, then the new member's
// password and second factor, in order.
pub async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> PageResult {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = super::read_own_form(&state, req).await?;
    let inv = open_invitation(&state, &token).await?;
    let typed = form.get("password");
    if typed != form.get("password_confirmation") {
        return Ok(super::page(new_user_page(
            &inv,
            Some((
                "password_confirmation",
                "The two passwords are not the same.".into(),
            )),
        )));
    }
    let checked = match password::check_new(typed, &inv.email, PRODUCT) {
        Ok(p) => p,
        Err(rej) => {
            return Ok(super::page(new_user_page(
                &inv,
                Some(("password", rej.to_string())),
            )))
        }
    };
    let phc = hash_on_pool(&state, checked).await?;
    let user_id = paylink_domain::id::generate(IdKind::User).map_err(ApiError::internal)?;
    let now = state.now();
    Ok(
        match state
            .store
            .accept_invitation_new_user(&token_hash(&token), &user_id, &phc, now)
            .await
        {
            Ok(Accepted::Joined { account_id, role }) => {
                audit(
                &state,
                Some(&account_id),
                &format!("user:{user_id}"),
                "member.joined",
                Some(&user_id),
                serde_json::json!({"ip": ip, "role": role.as_str(), "invitation": inv.id, "new_user": true}),
            )
            .await;
                start_session(
                    &state,
                    &headers,
                    &ip,
                    &user_id,
                    Some(&account_id),
                    Stage::Enrol,
                    "/setup/2fa",
                )
                .await
            }
            Ok(Accepted::AlreadyMember { .. } | Accepted::Gone) => gone(),
            // The address got a sign-in meanwhile: accept while signed in.
            Err(StoreError::Conflict) => Redirect::to(&format!("/invite/{token}")).into_response(),
            Err(e) => return Err(e.into()),
        },
    )
}

/// An existing user, signed in as themselves, accepts.
pub async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> PageResult {
    let ip = client_ip(req.extensions());
    let headers = req.headers().clone();
    let (_, form) = read_form(req).await?;
    let Some((session, hash)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !form_from_us(&state, &headers, form.get("csrf"), &csrf_for(&state, &hash)) {
        return Ok(super::csrf_refused());
    }
    // The store checks that the invited address is this user's own.
    let accepted = state
        .store
        .accept_invitation(&token_hash(&token), &session.user_id, state.now())
        .await?;
    Ok(match accepted {
        Accepted::Joined { account_id, role } => {
            audit(
                &state,
                Some(&account_id),
                &format!("user:{}", session.user_id),
                "member.joined",
                Some(&session.user_id),
                serde_json::json!({"ip": ip, "role": role.as_str(), "new_user": false}),
            )
            .await;
            Redirect::to("/dashboard").into_response()
        }
        Accepted::AlreadyMember { .. } => Redirect::to("/dashboard").into_response(),
        Accepted::Gone => match load(&state, &token).await? {
            Some(_) => super::refusal(
                StatusCode::FORBIDDEN,
                "Signed in as someone else",
                "This invitation is for another address.",
            ),
            None => gone(),
        },
    })
}
