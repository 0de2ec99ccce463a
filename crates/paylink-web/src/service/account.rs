//! The account's checkout settings and its provider connection's removal
//! (connecting is [`super::provider`]).

use paylink_store::accounts::AccountSettings;
use paylink_store::audit::AuditEvent;
use paylink_store::Scope;

use crate::{ApiError, AppState};

/// A change of checkout settings; a field left out stays as it is.
#[derive(Debug, Default)]
pub struct SettingsUpdate {
    /// The checkout page's colour, `#rrggbb`.
    pub primary_color: Option<String>,
    /// Whether every card payment goes through a 3-D Secure challenge.
    pub three_d_secure_always: Option<bool>,
    /// The terms of service buyers accept where a link asks (an https
    /// URL); `Some(None)` removes it.
    pub terms_url: Option<Option<String>>,
}

/// Where a terms of service URL is set (the dashboard's field maps to it).
pub const TERMS_PARAM: &str = "settings[checkout][terms_of_service_url]";

/// Changes the account's checkout settings as `actor`. They apply to live
/// payments too, so only in live mode (finding 9 of the security review:
/// a test key changed live settings).
pub async fn update_settings(
    state: &AppState,
    scope: &Scope,
    actor: &str,
    cmd: SettingsUpdate,
) -> Result<AccountSettings, ApiError> {
    if !scope.livemode {
        return Err(ApiError::forbidden(
            "Checkout settings apply to live payments too: change them with a live key (sk_live_…) or in the dashboard's live mode.",
        ));
    }
    if let Some(c) = &cmd.primary_color {
        let ok_color =
            c.len() == 7 && c.starts_with('#') && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
        if !ok_color {
            return Err(ApiError::invalid(
                Some("settings[branding][primary_color]".into()),
                "primary_color must be a colour like #4f46e5.",
            ));
        }
    }
    if let Some(Some(u)) = &cmd.terms_url {
        paylink_domain::catalog::check_http_url(u, TERMS_PARAM)?;
        if !u.to_ascii_lowercase().starts_with("https://") {
            return Err(ApiError::invalid(
                Some(TERMS_PARAM.into()),
                "The terms of service URL must be an https URL.",
            ));
        }
    }
    if cmd.terms_url == Some(None)
        && state.store.links_requiring_terms(&scope.account_id).await? > 0
    {
        return Err(ApiError::invalid(
            Some(TERMS_PARAM.into()),
            "Payment links ask buyers to accept your terms of service: stop asking on those links (consent_collection) before removing the URL.",
        ));
    }
    let color = cmd.primary_color.as_deref().map(str::to_ascii_lowercase);
    state
        .store
        .update_account_settings(
            &scope.account_id,
            color.as_deref(),
            cmd.three_d_secure_always,
            cmd.terms_url.as_ref().map(Option::as_deref),
        )
        .await?;
    let changed: Vec<&str> = [
        color.is_some().then_some("branding.primary_color"),
        cmd.three_d_secure_always
            .is_some()
            .then_some("card_payments.request_three_d_secure"),
        cmd.terms_url
            .is_some()
            .then_some("checkout.terms_of_service_url"),
    ]
    .into_iter()
    .flatten()
    .collect();
    state
        .store
        .audit(AuditEvent {
            account_id: Some(&scope.account_id),
            actor,
            action: "account.settings_updated",
            target: Some(&scope.account_id),
            detail: serde_json::json!({"changed": changed}),
            now: state.now(),
        })
        .await?;
    Ok(state.store.account_settings(&scope.account_id).await?)
}

/// Wipes the account's provider credential in `scope`'s mode, as `actor`.
pub async fn disconnect_provider(
    state: &AppState,
    scope: &Scope,
    actor: &str,
) -> Result<(), ApiError> {
    if !state.store.disconnect_provider(scope).await? {
        return Err(ApiError::invalid_code(
            "provider_not_connected",
            None,
            "No payment provider is connected.",
        ));
    }
    state
        .store
        .audit(AuditEvent {
            account_id: Some(&scope.account_id),
            actor,
            action: "provider.disconnected",
            target: Some(&scope.account_id),
            detail: serde_json::json!({"livemode": scope.livemode}),
            now: state.now(),
        })
        .await?;
    Ok(())
}
