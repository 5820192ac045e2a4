//! The `rollback` subcommands: each turns its arguments into a request and a kind, runs the
//! engine and renders the outcome.

pub mod fallback;
pub mod features;
pub mod infra;
pub mod model;
pub mod retrain;
