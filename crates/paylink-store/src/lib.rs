//! Persistence for paylink: one repository API over SQLite (the embedded
//! default) and PostgreSQL. Dialect differences live in [`db`] and in the
//! per-backend migration folders, nowhere else.
//!
//! Every tenant query filters on a [`Scope`] (account and mode).

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod checkout;
pub mod data_keys;
pub mod db;
pub mod error;
pub mod events;
pub mod files;
pub mod idempotency;
pub mod invitations;
pub mod list;
pub mod migrate;
pub mod payment_links;
pub mod providers;
pub mod reports;
pub mod rotation;
pub mod sql;
pub mod store;
pub mod users;
pub mod vault;
pub mod webhooks;

pub use db::{Backend, Database};
pub use error::StoreError;
pub use list::{ListQuery, Page};
pub use store::Store;

/// The tenant a query runs for: one account, in test or live mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account_id: String,
    pub livemode: bool,
}

impl Scope {
    pub fn livemode_i64(&self) -> i64 {
        i64::from(self.livemode)
    }
}
