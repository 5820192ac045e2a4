//! The kinds of rollback, each saying only what differs from the engine's flow.

pub mod fallback;
pub mod features;
pub mod gitops;
pub mod infra;
pub mod model;
pub mod retrain;
