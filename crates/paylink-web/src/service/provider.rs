//! Connecting the payment provider: where the money goes.
//!
//! This is not an API operation (finding 3 of the security review: a key
//! holder reconnected an account to their own merchant). The dashboard
//! calls it for an owner after a fresh second factor; the operator's CLI
//! and the demo call it directly. Every connection is audited and notified
//! to every owner of the account.

use paylink_crypto::Secret;
use paylink_domain::roles::Role;
use paylink_providers::ProviderError;
use paylink_store::providers::Connection;
use paylink_store::Scope;

use crate::{ApiError, AppState};

/// Checks `secret` with the provider, stores it sealed for `scope` (in
/// place of any earlier one), audits the change as `actor`, and queues a
/// security notice for every owner of the account.
// Long: connecting a provider: the key checked with the provider, then sealed,
// stored and audited, in order.
pub async fn connect(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    provider: &str,
    secret: Secret<String>,
) -> Result<Connection, ApiError> {
    if provider != state.provider.name() {
        return Err(ApiError::invalid(
            Some("provider".into()),
            "This instance runs another provider.",
        ));
    }
    let merchant = state
        .provider
        .verify_credential(&secret)
        .await
        .map_err(|e| match e {
            ProviderError::Unreachable(_) => ApiError::internal(e),
            _ => ApiError::invalid(
                Some("secret_key".into()),
                "The provider did not accept this secret key.",
            ),
        })?;
    let before = state.store.provider_connection(scope).await?;
    let c = state
        .store
        .connect_provider(scope, provider, &secret, &merchant, state.now())
        .await?;
    let detail = serde_json::json!({
        "provider": c.provider,
        "last4": c.last4,
        "livemode": scope.livemode,
        "provider_account": c.provider_account,
        "replaced": before.map(|b| b.provider_account),
    });
    state
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(&scope.account_id),
            actor,
            action: "provider.connected",
            target: Some(&scope.account_id),
            detail: detail.clone(),
            now: state.now(),
        })
        .await?;
    for m in state.store.members(&scope.account_id).await? {
        if m.role == Role::Owner {
            super::trail::notice(
                state,
                Some(&scope.account_id),
                &m.user.id,
                "provider.connected",
                detail.clone(),
            )
            .await;
        }
    }
    Ok(c)
}
