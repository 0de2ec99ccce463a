//! Typed commands shared by more than one front door (the dashboard, the
//! CLI, the demo). Each function enforces its rules itself, so no door can
//! skip them.

pub mod account;
pub mod api_keys;
pub mod catalog;
pub mod checkout_sessions;
pub mod coupons;
pub mod customers;
pub mod payment_links;
pub mod provider;
pub mod refunds;
pub mod team;
pub mod trail;
pub mod webhooks;

use paylink_crypto::Secret;
use paylink_domain::IdKind;

use crate::ApiError;

/// A fresh id of `kind`.
pub fn new_id(kind: IdKind) -> Result<String, ApiError> {
    paylink_domain::id::generate(kind).map_err(ApiError::internal)
}

/// Checks a merchant-chosen object id (`id` on create).
pub fn custom_id(id: &str) -> Result<(), ApiError> {
    if !paylink_domain::id::custom_id_ok(id) {
        return Err(ApiError::invalid(
            Some("id".into()),
            "id must be 1 to 255 characters of letters, digits, '_' and '-'.",
        ));
    }
    Ok(())
}

/// Parses a currency parameter.
pub fn currency(param: &str, code: &str) -> Result<paylink_domain::Currency, ApiError> {
    code.parse()
        .map_err(|e: paylink_domain::currency::UnknownCurrency| {
            ApiError::invalid(Some(param.to_string()), e.to_string())
        })
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    paylink_crypto::sha256_hex(token.as_bytes())
}

/// A fresh random token (256 bits, URL-safe).
pub fn new_token() -> Result<Secret<String>, ApiError> {
    use base64::Engine;
    let bytes = paylink_domain::id::random_bytes::<32>().map_err(ApiError::internal)?;
    Ok(Secret::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ))
}
