//! The store's rules, run directly against the store on SQLite and on
//! PostgreSQL: reservations taken when a session opens, completion exactly
//! once, refunds that can't exceed the payment, data-key rotation.
// Tests report failure by panicking.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod shop;

use paylink_testkit::on_both_databases as on_both;

mod completion;
mod refunds;
mod reservations;
mod rotation;
