//! Typed commands shared by more than one front door (the dashboard, the
//! CLI, the demo). Each function enforces its rules itself, so no door can
//! skip them.

pub mod account;
pub mod catalog;
pub mod coupons;
pub mod customers;
pub mod payment_links;
pub mod provider;
pub mod refunds;
pub mod team;

use paylink_domain::{Id, IdKind};

use crate::ApiError;

/// A fresh id of `kind`.
pub fn new_id(kind: IdKind) -> Result<String, ApiError> {
    Id::generate(kind)
        .map(Id::into_string)
        .map_err(ApiError::internal)
}

/// Checks a merchant-chosen object id (`id` on create).
pub fn custom_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > 255
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
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
