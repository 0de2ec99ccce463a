//! `/v1/account`: the account of the calling key and its checkout
//! settings (branding colour; 3-D Secure on every payment).

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::ok;
use super::RetrieveArgs;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::Input;
use crate::objects;
use crate::schema::*;
use crate::service::account::{self, SettingsUpdate};
use crate::AppState;

pub fn update_params() -> Kind {
    obj(vec![
        f("settings", obj(vec![
            f("branding", obj(vec![f("primary_color", string(7), "Colour of the checkout page's header and button, as #rrggbb.")]), "Branding of the checkout page."),
            f("card_payments", obj(vec![f("request_three_d_secure", one_of(&["any", "automatic"]), "any: send every card payment through a 3-D Secure challenge; automatic: only when the card asks for it.")]), "Card payment settings."),
            f("checkout", obj(vec![f("terms_of_service_url", string(2048), "paylink extension: the https URL of your terms of service, linked beside the checkbox of links with consent_collection[terms_of_service]=required (empty to remove).").unsettable()]), "Checkout page settings."),
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
struct CheckoutSettings {
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    terms_of_service_url: Option<Option<String>>,
}
#[derive(Deserialize)]
struct Settings {
    branding: Option<Branding>,
    card_payments: Option<CardPayments>,
    checkout: Option<CheckoutSettings>,
}
#[derive(Deserialize)]
pub struct Update {
    settings: Option<Settings>,
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    render(&state, &auth).await
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    let settings = p.settings;
    let cmd = SettingsUpdate {
        primary_color: settings
            .as_ref()
            .and_then(|s| s.branding.as_ref())
            .and_then(|b| b.primary_color.clone()),
        three_d_secure_always: settings
            .as_ref()
            .and_then(|s| s.card_payments.as_ref())
            .and_then(|c| c.request_three_d_secure.as_deref())
            .map(|v| v == "any"),
        terms_url: settings
            .as_ref()
            .and_then(|s| s.checkout.as_ref())
            .and_then(|c| c.terms_of_service_url.clone()),
    };
    account::update_settings(&state, &auth.scope, &auth.key_id, cmd).await?;
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
    Input(_): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    account::disconnect_provider(&state, &auth.scope, &auth.key_id).await?;
    render(&state, &auth).await
}
