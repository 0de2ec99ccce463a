//! Typed commands shared by more than one front door (the dashboard, the
//! CLI, the demo). Each function enforces its rules itself, so no door can
//! skip them.

pub mod provider;
pub mod team;
