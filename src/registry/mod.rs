//! The model registry seam: one trait, the types it speaks, and the backend chosen from config.

pub mod file;
pub mod mlflow;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::error::RegistryError;

pub type Result<T> = std::result::Result<T, RegistryError>;

/// Tag keys mlrb reads and writes; the names follow the reference design document.
pub mod tags {
    pub const EVENT_ID: &str = "rollback.event_id";
    pub const TIMESTAMP: &str = "rollback.timestamp";
    pub const TRIGGERED_BY: &str = "rollback.triggered_by";
    pub const REASON: &str = "rollback.reason";
    pub const ROLE: &str = "rollback.role";
    /// Every rollback event that touched the version, oldest first (JSON): the five tags
    /// above describe the latest; this keeps the others' record.
    pub const HISTORY: &str = "rollback.history";
    pub const HEALTHY_BASELINE: &str = "rollback.healthy_baseline";
    pub const ROLE_TARGET: &str = "rollback_target";
    pub const ROLE_ROLLED_BACK_FROM: &str = "rolled_back_from";
    /// The reference document cuts the reason to 500 characters.
    pub const REASON_MAX_CHARS: usize = 500;
    /// On the registered model, one per event (`rollback.lease.<event>`): who is rolling it
    /// back, since when, until when.
    pub const LEASE_PREFIX: &str = "rollback.lease.";
}

/// MLflow's lifecycle stages. Names compare case-insensitively, as the server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "" => Some(Stage::None),
            "staging" => Some(Stage::Staging),
            "production" => Some(Stage::Production),
            "archived" => Some(Stage::Archived),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a registered model, as every backend reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub version: u64,
    pub stage: Stage,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// READY, PENDING_REGISTRATION or FAILED_REGISTRATION.
    #[serde(default = "ready")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

fn ready() -> String {
    "READY".into()
}

impl ModelVersion {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
    /// `true` in any case: people type `True` (Python's spelling) by hand.
    pub fn is_healthy_baseline(&self) -> bool {
        self.tag(tags::HEALTHY_BASELINE)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
    pub fn was_rolled_back_from(&self) -> bool {
        self.tag(tags::ROLE) == Some(tags::ROLE_ROLLED_BACK_FROM)
    }
}

/// A registered model with its aliases (alias → version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    #[serde(default)]
    pub aliases: BTreeMap<String, u64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The newest version in each stage (MLflow's `latest_versions`).
    #[serde(default)]
    pub latest: BTreeMap<Stage, u64>,
}

/// The newest version in each stage, as `RegisteredModel::latest` reports it.
pub fn latest_by_stage(versions: &[ModelVersion]) -> BTreeMap<Stage, u64> {
    let mut m = BTreeMap::new();
    for v in versions {
        let e = m.entry(v.stage).or_insert(v.version);
        *e = (*e).max(v.version);
    }
    m
}

/// A server-side filter for version searches: all of the tag equalities must hold, ignoring
/// ASCII case (a baseline tagged `True` by hand is still a baseline).
#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    pub tags: Vec<(String, String)>,
    /// Stop after this many versions (newest first); `None` lists them all.
    pub limit: Option<usize>,
}

impl VersionQuery {
    pub fn all() -> Self {
        Self::default()
    }
    pub fn tagged(key: &str, value: &str, limit: usize) -> Self {
        VersionQuery {
            tags: vec![(key.into(), value.into())],
            limit: Some(limit),
        }
    }
}

/// How the live version is marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "alias", rename_all = "lowercase")]
pub enum LiveMode {
    /// Live = every version in the Production stage.
    Stage,
    /// Live = the version the alias points at.
    Alias(String),
}

impl std::fmt::Display for LiveMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveMode::Stage => f.write_str("stage Production"),
            LiveMode::Alias(a) => write!(f, "alias @{a}"),
        }
    }
}

/// What every registry backend can do. Nothing here deletes a model, a version or a tag a
/// rollback wrote; the one removal, `remove_drill_marks`, exists so that a drill leaves the
/// registry exactly as it found it (its journal records what was taken off).
pub trait Registry: Send + Sync {
    /// Where the registry lives, for messages ("mlflow at http://…", "file registry.json").
    fn location(&self) -> String;
    /// The registered model, with its aliases. `NotFound` when it does not exist.
    fn get_model(&self, name: &str) -> Result<RegisteredModel>;
    /// Names of every registered model (used for listings and "did you mean").
    fn list_models(&self) -> Result<Vec<String>>;
    fn get_version(&self, name: &str, version: u64) -> Result<ModelVersion>;
    /// Versions of a model matching the query, newest first. An unknown model yields an empty list.
    fn search_versions(&self, name: &str, query: &VersionQuery) -> Result<Vec<ModelVersion>>;
    /// Versions `from` and newer, newest first: what a check after a change needs, without
    /// listing a long history again.
    fn versions_from(&self, name: &str, from: u64) -> Result<Vec<ModelVersion>> {
        let mut all = self.search_versions(name, &VersionQuery::all())?;
        all.retain(|v| v.version >= from);
        Ok(all)
    }
    fn transition_stage(&self, name: &str, version: u64, stage: Stage) -> Result<()>;
    fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()>;
    fn set_version_tag(&self, name: &str, version: u64, key: &str, value: &str) -> Result<()>;
    /// A tag on the registered model itself (mlrb keeps its cross-machine lease there).
    fn set_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;
    /// Several tags on one version. MLflow takes one tag per request; the file backend
    /// writes them in one atomic update.
    fn set_version_tags(&self, name: &str, version: u64, tags: &[(String, String)]) -> Result<()> {
        for (k, v) in tags {
            self.set_version_tag(name, version, k, v)?;
        }
        Ok(())
    }
    /// Takes off a rollback's own lease tag from the model once the rollback is over (released,
    /// withdrawn, or abandoned and taken over): with the drill's restore, the only removals
    /// mlrb makes. The audit stays in the version tags and the journal.
    fn remove_lease_tag(&self, name: &str, key: &str) -> Result<()> {
        self.remove_drill_marks(name, None, &[key.to_string()], &[])
    }
    /// Takes off tags (of `version`, or of the model when `None`) and aliases that a drill added.
    /// Removing what is already gone is not an error.
    fn remove_drill_marks(
        &self,
        name: &str,
        version: Option<u64>,
        tag_keys: &[String],
        aliases: &[String],
    ) -> Result<()>;
    /// The version's `MLmodel` file (flavors, signature) as the registry serves it; `None` when
    /// the version has none where the registry can read it.
    fn model_file(&self, name: &str, version: u64) -> Result<Option<String>> {
        let v = self.get_version(name, version)?;
        Ok(local_source(&v.source)
            .and_then(|p| std::fs::read_to_string(std::path::Path::new(p).join("MLmodel")).ok()))
    }
    /// Where the version's artifact lives, as a model server loads it (`s3://…`, a path): a
    /// `models:/` or `runs:/` source resolved by the registry.
    fn download_uri(&self, name: &str, version: u64) -> Result<String> {
        Ok(self.get_version(name, version)?.source)
    }
    /// A training run's params and tags (params first when a key is both): where teams record
    /// the dataset a model was trained on. A registry without runs has none.
    fn run_fields(&self, _run_id: &str) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
    /// The latest value of each metric logged to a training run (a metrics baseline source).
    fn run_metrics(&self, run_id: &str) -> Result<BTreeMap<String, f64>> {
        Err(RegistryError::Invalid {
            message: format!(
                "{} keeps no training runs, so run {run_id}'s metrics cannot be a baseline; set the values in [models.X.baseline]",
                self.location()
            ),
        })
    }
}

/// The local directory a version's source names (`/path`, `file:///path`, `file:/path`).
pub fn local_source(source: &str) -> Option<&str> {
    source
        .strip_prefix("file://")
        .or_else(|| source.strip_prefix("file:"))
        .or_else(|| source.starts_with('/').then_some(source))
}

/// Every version of a model, newest first, failing with `NotFound` for an unknown model.
pub fn all_versions(reg: &dyn Registry, name: &str) -> Result<Vec<ModelVersion>> {
    let versions = reg.search_versions(name, &VersionQuery::all())?;
    if versions.is_empty() {
        // An empty search is either an unknown model or a model with no versions.
        reg.get_model(name)?;
    }
    Ok(versions)
}

/// The live version(s) in `versions` under `mode`; aliases must be filled in for alias mode.
pub fn live_versions<'a>(versions: &'a [ModelVersion], mode: &LiveMode) -> Vec<&'a ModelVersion> {
    versions
        .iter()
        .filter(|v| match mode {
            LiveMode::Stage => v.stage == Stage::Production,
            LiveMode::Alias(a) => v.aliases.iter().any(|x| x == a),
        })
        .collect()
}

/// Applies a registered model's alias map onto its versions (search results never carry aliases).
pub fn attach_aliases(model: &RegisteredModel, versions: &mut [ModelVersion]) {
    for v in versions.iter_mut() {
        v.aliases = model
            .aliases
            .iter()
            .filter(|(_, ver)| **ver == v.version)
            .map(|(a, _)| a.clone())
            .collect();
    }
}

/// Up to three registered names close to `name`, for "did you mean".
pub fn suggest(name: &str, candidates: &[String]) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| {
            let cl = c.to_lowercase();
            let d = if cl.contains(&lower) || lower.contains(&cl) {
                1
            } else {
                levenshtein(&lower, &cl)
            };
            (d, c)
        })
        .filter(|(d, c)| *d <= (c.chars().count().max(3) / 3).max(2))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        let names = vec!["recsys".to_string(), "fraud".into(), "ranker".into()];
        assert_eq!(suggest("recsy", &names), vec!["recsys".to_string()]);
        assert!(suggest("zzzzzz", &names).is_empty());
    }

    #[test]
    fn stages_parse_case_insensitively() {
        assert_eq!(Stage::parse("PRODUCTION"), Some(Stage::Production));
        assert_eq!(Stage::parse("bogus"), None);
    }
}
