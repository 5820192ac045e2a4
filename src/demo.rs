//! The reference incident for `mlrb demo`: an embedded registry where a bad release and a
//! version left by a migration are both in Production, and the settings that roll it back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::clock;
use crate::config::{RegistryTarget, Settings};
use crate::error::CliError;
use crate::http::HttpOptions;
use crate::registry::{Stage, file::FileRegistry, tags};

/// The demo's model.
pub const MODEL: &str = "recsys";

/// Why the demo rolls back, as the on-call would say it.
pub const REASON: &str = "prediction diversity collapsed 0.73 -> 0.04";

/// How long before the rollback the breach was detected.
pub const DETECTED_MINUTES_AGO: i64 = 13;

/// Creates the incident's registry in `dir`: recsys v1…v4, v4 (released four hours ago) and v2
/// (left by a migration script) in Production, v3 designated healthy beforehand. Returns its
/// path.
pub fn create_registry(dir: &Path) -> Result<PathBuf, CliError> {
    let path = dir.join("registry.json");
    let reg = FileRegistry::create(&path)?;
    let now = clock::now();
    let days = |d: i64| Some(now - chrono::Duration::days(d));
    let m = MODEL;
    reg.add_version(m, "s3://models/recsys/v1", Stage::Archived, &[], days(60))?;
    reg.add_version(m, "s3://models/recsys/v2", Stage::Production, &[], days(30))?;
    reg.add_version(
        m,
        "s3://models/recsys/v3",
        Stage::Archived,
        &[(tags::HEALTHY_BASELINE, "true")],
        days(7),
    )?;
    reg.add_version(
        m,
        "s3://models/recsys/v4",
        Stage::Production,
        &[],
        Some(now - chrono::Duration::hours(4)),
    )?;
    Ok(path)
}

/// Settings for the demo: the embedded registry at `registry`, state in `state_dir`, no config.
pub fn settings(registry: &Path, state_dir: &Path) -> Settings {
    Settings {
        config_path: None,
        registry: Some(RegistryTarget::File {
            path: registry.to_path_buf(),
        }),
        http: HttpOptions::default(),
        models: BTreeMap::new(),
        state_dir: state_dir.to_path_buf(),
        notify: Default::default(),
        registry_credentials: true,
        sources: Vec::new(),
    }
}

/// The demo's rollback request: unattended, by "demo", the breach detected 13 minutes ago.
pub fn request() -> crate::rollback::Request {
    crate::rollback::Request::unattended(
        MODEL,
        REASON.into(),
        "demo",
        Some(clock::now() - chrono::Duration::minutes(DETECTED_MINUTES_AGO)),
    )
}
