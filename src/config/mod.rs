//! `mlrb.toml` and the environment → Settings, resolved once (defaults < file < MLRB_* env < flags).
//!
//! `schema` is what the file may say (serde types), `validate` checks a parsed file (one-line
//! errors), `resolve` finds and trusts the file and resolves every value with its source.

mod resolve;
mod schema;
mod starter;
mod validate;

pub use resolve::{
    ModelTarget, Overrides, RegistryTarget, Setting, Settings, load_file, parse, redact_str,
    registry_source, xdg_config_file,
};
pub use schema::*;
pub use starter::STARTER;
pub use validate::{ConfiguredFallback, Fallback, Switch};
