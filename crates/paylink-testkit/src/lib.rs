//! What paylink's tests and benchmarks drive the product with: the real
//! application on loopback against a fresh database ([`helpers::spawn_app`],
//! on SQLite or a fresh PostgreSQL schema), a buyer's browser
//! ([`buyer::Buyer`]), a dashboard user ([`dash::Dash`]), `paylink serve` as
//! a separate process ([`served::Served`]) and the binary's one command
//! builder ([`cli::paylink`]).
// Test support reports failure by panicking, where the test can see it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod buyer;
pub mod cli;
pub mod dash;
pub mod db;
pub mod helpers;
pub mod receiver;
pub mod served;
