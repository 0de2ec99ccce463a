//! `/v1/account`: the account of the calling key and its checkout
//! settings (branding colour; 3-D Secure on every payment).

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::RetrieveArgs;
use super::{expansions, ok};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Input;
use crate::objects;
use crate::schema::*;
use crate::AppState;

pub fn update_params() -> Kind {
    obj(vec![
        f("settings", obj(vec![
            f("branding", obj(vec![f("primary_color", string(7), "Colour of the checkout page's header and button, as #rrggbb.")]), "Branding of the checkout page."),
            f("card_payments", obj(vec![f("request_three_d_secure", one_of(&["any", "automatic"]), "any: send every card payment through a 3-D Secure challenge; automatic: only when the card asks for it.")]), "Card payment settings."),
        ]), "Checkout settings."),
        expand(),
    ])
}

#[derive(Deserialize)]
struct Branding {
    primary_color: Option<String>,
}
#[derive(Deserialize)]
struct CardPayments {
    request_three_d_secure: Option<String>,
}
#[derive(Deserialize)]
struct Settings {
    branding: Option<Branding>,
    card_payments: Option<CardPayments>,
}
#[derive(Deserialize)]
pub struct Update {
    settings: Option<Settings>,
    expand: Option<Vec<String>>,
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    render(&state, &auth).await
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    // Finding 9 of the security review: these settings are the account's,
    // for live payments too, so a test key can't change them.
    if !auth.scope.livemode {
        return Err(ApiError::forbidden(
            "Checkout settings apply to live payments too: change them with a live key (sk_live_…) or in the dashboard's live mode.",
        ));
    }
    let settings = p.settings;
    let color = settings
        .as_ref()
        .and_then(|s| s.branding.as_ref())
        .and_then(|b| b.primary_color.clone());
    if let Some(c) = &color {
        let ok_color =
            c.len() == 7 && c.starts_with('#') && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
        if !ok_color {
            return Err(ApiError::invalid(
                Some("settings[branding][primary_color]".into()),
                "primary_color must be a colour like #4f46e5.",
            ));
        }
    }
    let three_ds = settings
        .as_ref()
        .and_then(|s| s.card_payments.as_ref())
        .and_then(|c| c.request_three_d_secure.as_deref())
        .map(|v| v == "any");
    state
        .store
        .update_account_settings(
            &auth.scope.account_id,
            color.as_deref().map(str::to_ascii_lowercase).as_deref(),
            three_ds,
        )
        .await?;
    let changed: Vec<&str> = [
        color.is_some().then_some("branding.primary_color"),
        three_ds
            .is_some()
            .then_some("card_payments.request_three_d_secure"),
    ]
    .into_iter()
    .flatten()
    .collect();
    state
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(&auth.scope.account_id),
            actor: &auth.key_id,
            action: "account.settings_updated",
            target: Some(&auth.scope.account_id),
            detail: serde_json::json!({"changed": changed}),
            now: state.now(),
        })
        .await?;
    render(&state, &auth).await
}

/// What shows the account of `auth`.
async fn render(state: &AppState, auth: &Auth) -> Result<Response, ApiError> {
    let s = state.store.account_settings(&auth.scope.account_id).await?;
    let c = state.store.provider_connection(&auth.scope).await?;
    Ok(ok(objects::account(&auth.scope.account_id, &s, c.as_ref())))
}

pub fn disconnect_params() -> Kind {
    obj(vec![expand()])
}

/// Wipes the account's provider credential (in the key's mode).
pub async fn disconnect(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    expansions(&p.expand, &[])?;
    if !state.store.disconnect_provider(&auth.scope).await? {
        return Err(ApiError::invalid_code(
            "provider_not_connected",
            None,
            "No payment provider is connected.",
        ));
    }
    state
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(&auth.scope.account_id),
            actor: &auth.key_id,
            action: "provider.disconnected",
            target: Some(&auth.scope.account_id),
            detail: serde_json::json!({"livemode": auth.scope.livemode}),
            now: state.now(),
        })
        .await?;
    render(&state, &auth).await
}
