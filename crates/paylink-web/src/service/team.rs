//! Inviting someone to an account: the one way into an account besides
//! the operator's setup link for a brand-new owner.
//!
//! The link is made here and put in the mail outbox for the invited
//! address; the caller gets it back only to hand to the operator's CLI
//! output. The dashboard never shows it (an inviter must never hold a
//! credential for someone else's email), and its answer is the same
//! whether or not the address already has a sign-in on this instance.

use paylink_crypto::Secret;
use paylink_domain::roles::Role;
use paylink_domain::{Email, IdKind};
use paylink_store::invitations::NewInvitation;
use paylink_store::Store;

use super::{new_token, token_hash};
use crate::ApiError;

/// Seconds an invitation stays valid.
pub const INVITATION_TTL: i64 = 24 * 3600;

/// Invites `email` into `account_id` with `role` on behalf of `actor`;
/// returns the invitation link (for the operator's eyes only).
#[allow(clippy::too_many_arguments)]
pub async fn invite(
    store: &Store,
    public_url: &str,
    account_id: &str,
    account_name: &str,
    actor: &str,
    email: &Email,
    role: Role,
    now: i64,
) -> Result<Secret<String>, ApiError> {
    let token = new_token()?;
    let id = paylink_domain::id::generate(IdKind::Invitation).map_err(ApiError::internal)?;
    let mail_id = paylink_domain::id::generate(IdKind::Event).map_err(ApiError::internal)?;
    let link = Secret::new(format!(
        "{}/invite/{}",
        public_url.trim_end_matches('/'),
        token.expose()
    ));
    let body = Secret::new(format!(
        "You are invited to join {account_name} on paylink as {role}.\n\nOpen this link to accept (it works once, for 24 hours): {}\n\nIf you did not expect this, ignore this message: nothing happens unless you open the link.",
        link.expose()
    ));
    store
        .create_invitation(NewInvitation {
            id: id.as_str(),
            token_hash: &token_hash(token.expose()),
            account_id,
            email: email.as_str(),
            email_key: &store.blind(email.as_str()).await?,
            role,
            invited_by: actor,
            now,
            expires_at: now + INVITATION_TTL,
            mail_id: mail_id.as_str(),
            mail_body: &body,
        })
        .await?;
    store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(account_id),
            actor,
            action: "member.invited",
            target: Some(id.as_str()),
            detail: serde_json::json!({"role": role.as_str()}),
            now,
        })
        .await?;
    Ok(link)
}
