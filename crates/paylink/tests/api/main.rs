//! The integration suite: one test binary that drives the real application
//! over HTTP (and the CLI as a process), each case on SQLite and on
//! PostgreSQL.
// Tests report failure by panicking.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

// The test kit's modules, under the names the tests use.
use paylink_testkit::{both, buyer, dash, helpers, served};

mod all_or_nothing;
mod audit;
mod auth;
mod bad_input;
mod browser;
mod checkout;
mod checkout_sessions;
mod cli;
mod consent;
mod coupons;
mod dashboard;
mod encryption;
mod events;
mod files;
mod hostile;
mod idempotency;
mod key_kinds;
mod logs;
mod openapi;
mod page_cache;
mod pagination;
mod payment_links;
mod payments;
mod prices;
mod products;
mod promotion_codes;
mod reliability;
mod rotation;
mod sdk;
mod search;
mod security_review;
mod shipping;
mod webhooks;
