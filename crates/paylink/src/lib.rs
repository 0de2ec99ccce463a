//! The paylink binary's wiring: command line, configuration, opening the
//! store, and serving. Exposed as a library so tests build the very same
//! application in-process.

pub mod app;
pub mod cli;
pub mod demo;
