//! External processes: the runner (the one place that spawns them) and one wrapper per tool.

pub mod dvc;
pub mod git;
pub mod helm;
pub mod kubectl;
pub mod runner;

pub use runner::{Cmd, ExecError, Output};
