//! The team: members, roles, invitations, locks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use maud::html;
use paylink_domain::clock::format_utc;
use paylink_domain::roles::{Permission, Role};
use paylink_domain::Email;
use paylink_store::StoreError;

use super::{form_of, see_other, PageError, PageResult, C};
use crate::dashboard::pages::{self, button, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::{ApiError, AppState};

// Long: one maud template: the markup reads top to bottom as the page it
// renders, and splitting it would scatter one page's HTML over several
// functions.
async fn team_page(state: &AppState, ctx: &Ctx, f: &FormState) -> PageResult {
    let now = state.now();
    let members = state.store.members(&ctx.scope.account_id).await?;
    let invitations = state
        .store
        .open_invitations(&ctx.scope.account_id, now)
        .await?;
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner || ctx.can(Permission::TransferOwnership))
        .collect();
    let body = html! {
        (pages::alerts(f))
        div class="card" {
            h2 { "Access review" }
            table {
                thead { tr { th { "Member" } th { "Role" } th { "Two-step" } th { "Last sign-in" } th { "Last activity" } th { "" } } }
                tbody {
                    @for m in &members {
                        tr id={ "member-" (m.user.id) } {
                            td { (m.user.email) @if m.user.locked_until.is_some_and(|u| u > now) { " " span class="badge bad" { "Locked" } } }
                            td {
                                @if m.user.id != ctx.user.id && (m.role != Role::Owner || ctx.can(Permission::TransferOwnership)) {
                                    form class="inline" method="post" action={ "/dashboard/team/" (m.user.id) "/role" } {
                                        (csrf(ctx))
                                        select name="role" aria-label="Role" {
                                            @for r in &roles { option value=(r.as_str()) selected[*r == m.role] { (r.as_str()) } }
                                        }
                                        " " button class="plain" type="submit" { "Change" }
                                    }
                                } @else { (m.role.as_str()) }
                            }
                            td { @if m.user.totp_enabled { span class="badge good" { "On" } } @else { span class="badge bad" { "Not set up" } } }
                            td { (m.user.last_login.map(format_utc).unwrap_or_else(|| "never".into())) }
                            td { (m.user.last_seen.map(format_utc).unwrap_or_else(|| "—".into())) }
                            td {
                                @if m.user.locked_until.is_some_and(|u| u > now) || m.user.failed_count > 0 {
                                    (button(ctx, &format!("/dashboard/team/{}/unlock", m.user.id), "Unlock", "plain")) " "
                                }
                                @if m.user.id != ctx.user.id && (m.role != Role::Owner || ctx.can(Permission::TransferOwnership)) {
                                    (button(ctx, &format!("/dashboard/team/{}/remove", m.user.id), "Remove", "danger"))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !invitations.is_empty() {
            div class="card" {
                h2 { "Invitations waiting" }
                table {
                    thead { tr { th { "Email" } th { "Role" } th { "Expires" } th { "" } } }
                    tbody {
                        @for i in &invitations {
                            tr {
                                td { (i.email) }
                                td { (i.role.as_str()) }
                                td { (format_utc(i.expires_at)) }
                                td { (button(ctx, &format!("/dashboard/team/invitations/{}/revoke", i.id), "Withdraw", "plain")) }
                            }
                        }
                    }
                }
            }
        }
        div class="card" {
            h2 { "Invite a member" }
            p class="muted" { "The invitation link goes to that address only; the person joins by opening it (and, if they already use paylink, by accepting while signed in)." }
            form method="post" action="/dashboard/team/invite" {
                (csrf(ctx))
                div class="row" {
                    div { (field(f, "Email", "email", "email", "")) }
                    div {
                        label for="role" { "Role" }
                        // No role is preselected: the first would be owner.
                        select id="role" name="role" required {
                            option value="" selected[f.value("role").is_empty()] disabled { "Choose a role" }
                            @for r in &roles { option value=(r.as_str()) selected[f.value("role") == r.as_str()] { (r.as_str()) } }
                        }
                        @if let Some(m) = f.errors.get("role") { div class="err" role="alert" { (m) } }
                    }
                }
                p { button type="submit" { "Invite" } }
            }
            p class="muted" { "Owner: everything, and only owners connect the payment provider. Admin: everything but ownership and the provider. Developer: read everything, see and revoke API keys. Analyst: read-only, no personal data. Support: payments, customers and refunds." }
        }
    };
    Ok(crate::dashboard::page(layout(
        ctx,
        "Team",
        "/dashboard/team",
        body,
    )))
}

pub async fn team(State(state): State<AppState>, Extension(ctx): C) -> PageResult {
    team_page(&state, &ctx, &FormState::default()).await
}

/// Granting the owner role transfers ownership: owners only.
fn may_grant(ctx: &Ctx, role: Role) -> bool {
    role != Role::Owner || ctx.can(Permission::TransferOwnership)
}

pub async fn team_invite(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let Ok(email) = Email::parse(form.get("email").trim()) else {
        f.errors
            .insert("email".into(), "Enter a valid email address.".into());
        return team_page(&state, &ctx, &f).await;
    };
    let Some(role) = Role::parse(form.get("role")).filter(|r| may_grant(&ctx, *r)) else {
        f.errors
            .insert("role".into(), "Choose one of the roles listed.".into());
        return team_page(&state, &ctx, &f).await;
    };
    // Someone already in this account: said plainly (the member list shows
    // them anyway). Whether the address has a sign-in elsewhere on this
    // instance is never revealed: the answer below is the same either way.
    let key = state.store.blind(email.as_str()).await?;
    let member = match state.store.user_id_by_email(&key).await? {
        Some(u) => state
            .store
            .role_of(&u, &ctx.scope.account_id)
            .await?
            .is_some(),
        None => false,
    };
    if member {
        f.errors
            .insert("email".into(), "This person is already a member.".into());
        return team_page(&state, &ctx, &f).await;
    }
    // The link is for the invitee's mailbox only: not shown here.
    let _link = crate::service::team::invite(
        &state.store,
        &state.public_url,
        &ctx.scope.account_id,
        &ctx.account_name,
        &ctx.actor(),
        &email,
        role,
        state.now(),
    )
    .await?;
    let ok = FormState::notice(format!(
        "Invitation for {} as {} sent to that address. It is valid for 24 hours.",
        email.as_str(),
        role.as_str()
    ));
    team_page(&state, &ctx, &ok).await
}

pub async fn team_invitation_revoke(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(id): Path<String>,
) -> PageResult {
    if !state
        .store
        .revoke_invitation(&ctx.scope.account_id, &id, state.now())
        .await?
    {
        return Err(ApiError::no_such("open invitation", &id, None).into());
    }
    ctx.audit(
        &state,
        "invitation.revoked",
        Some(&id),
        serde_json::json!({}),
    )
    .await;
    Ok(see_other("/dashboard/team"))
}

/// Checks that `user` is a member of this account, and, when
/// `owner_refusal` is given and the member is an owner, that the caller may
/// act on owners (only owners may); the refusal page otherwise.
async fn member_to_manage(
    state: &AppState,
    ctx: &Ctx,
    user: &str,
    owner_refusal: Option<&str>,
) -> Result<(), PageError> {
    match state.store.role_of(user, &ctx.scope.account_id).await? {
        Some(Role::Owner) if owner_refusal.is_some() && !ctx.can(Permission::TransferOwnership) => {
            Err(crate::dashboard::refusal(
                StatusCode::FORBIDDEN,
                "Not allowed",
                owner_refusal.unwrap_or_default(),
            )
            .into())
        }
        Some(_) => Ok(()),
        None => Err(ApiError::no_such("member", user, None).into()),
    }
}

pub async fn team_role(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(user): Path<String>,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let Some(role) = Role::parse(form.get("role")).filter(|r| may_grant(&ctx, *r)) else {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("Choose one of the roles listed."),
        )
        .await;
    };
    // Changing an owner is changing ownership.
    member_to_manage(
        &state,
        &ctx,
        &user,
        Some("Only an owner can change another owner's role."),
    )
    .await?;
    if user == ctx.user.id {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("You can't change your own role."),
        )
        .await;
    }
    match state
        .store
        .set_role(&ctx.scope.account_id, &user, role, state.now())
        .await
    {
        Ok(old) => {
            ctx.audit(
                &state,
                "member.role_changed",
                Some(&user),
                serde_json::json!({"from": old.as_str(), "to": role.as_str()}),
            )
            .await;
            Ok(see_other("/dashboard/team"))
        }
        Err(StoreError::LastOwner) => {
            team_page(
                &state,
                &ctx,
                &FormState::alert("An account needs at least one owner."),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn team_remove(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(user): Path<String>,
) -> PageResult {
    member_to_manage(
        &state,
        &ctx,
        &user,
        Some("Only an owner can remove an owner."),
    )
    .await?;
    if user == ctx.user.id {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("You can't remove yourself."),
        )
        .await;
    }
    match state
        .store
        .remove_member(&ctx.scope.account_id, &user, state.now())
        .await
    {
        Ok(()) => {
            ctx.audit(&state, "member.removed", Some(&user), serde_json::json!({}))
                .await;
            Ok(see_other("/dashboard/team"))
        }
        Err(StoreError::LastOwner) => {
            team_page(
                &state,
                &ctx,
                &FormState::alert("An account needs at least one owner."),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn team_unlock(
    State(state): State<AppState>,
    Extension(ctx): C,
    Path(user): Path<String>,
) -> PageResult {
    member_to_manage(&state, &ctx, &user, None).await?;
    // A lock is the person's, not the account's (finding 7): it may have
    // been caused by sign-ins meant for another account, so only when this
    // is the person's only account may its team lift it.
    let memberships = state.store.memberships(&user).await?;
    if memberships
        .iter()
        .any(|m| m.account_id != ctx.scope.account_id)
    {
        return team_page(
            &state,
            &ctx,
            &FormState::alert("This person also belongs to other accounts, so this account can't lift their lock. It ends by itself, or the operator sends them a recovery link."),
        )
        .await;
    }
    state.store.clear_user_failures(&user).await?;
    ctx.audit(&state, "user.unlocked", Some(&user), serde_json::json!({}))
        .await;
    Ok(see_other("/dashboard/team"))
}
