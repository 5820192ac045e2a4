//! Which version a rollback goes to, and why: `--to`, then the designated healthy baseline,
//! then the newest Archived version (in alias mode, where stages mean nothing: the newest READY
//! version older than the live one); never a live version, never one already rolled back from.

use serde::Serialize;

use crate::registry::{self, LiveMode, ModelVersion, Registry, Stage, VersionQuery, tags};

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub version: ModelVersion,
    pub rule: Rule,
    pub why: String,
    /// Versions passed over on the way, each with the reason.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Explicit,
    HealthyBaseline,
    NewestArchived,
    /// Alias mode: the newest version older than the live one.
    NewestOlder,
}

/// Why `v` may not be a rollback target, if it may not.
pub fn unfit(v: &ModelVersion, live: &[u64]) -> Option<String> {
    if live.contains(&v.version) {
        Some(format!("v{} is live", v.version))
    } else if v.was_rolled_back_from() {
        Some(format!(
            "v{} was rolled back from before ({}={})",
            v.version,
            tags::EVENT_ID,
            v.tag(tags::EVENT_ID).unwrap_or("?")
        ))
    } else if v.status != "READY" {
        Some(format!(
            "v{} is {} in the registry, not READY",
            v.version, v.status
        ))
    } else {
        None
    }
}

/// The pure choice among versions the caller fetched (each list newest first).
/// `Err` carries the reasons every version was passed over.
pub fn choose(
    mode: &LiveMode,
    live: &[u64],
    explicit: Option<ModelVersion>,
    baselines: &[ModelVersion],
    archived: &[ModelVersion],
) -> Result<Choice, Vec<String>> {
    let mut skipped = Vec::new();
    if let Some(v) = explicit {
        return match unfit(&v, live) {
            Some(why) => Err(vec![format!("--to {}: {why}", v.version)]),
            None => Ok(Choice {
                why: format!("v{} was named with --to", v.version),
                version: v,
                rule: Rule::Explicit,
                skipped,
            }),
        };
    }
    for v in baselines {
        match unfit(v, live) {
            Some(why) => skipped.push(format!("healthy baseline {why}")),
            None => {
                return Ok(Choice {
                    why: format!(
                        "v{} is the newest version tagged {}=true",
                        v.version,
                        tags::HEALTHY_BASELINE
                    ),
                    version: v.clone(),
                    rule: Rule::HealthyBaseline,
                    skipped,
                });
            }
        }
    }
    if baselines.is_empty() {
        skipped.push(format!(
            "no version is tagged {}=true",
            tags::HEALTHY_BASELINE
        ));
    }
    if let LiveMode::Alias(a) = mode {
        return newest_older(a, live, archived, skipped);
    }
    for v in archived.iter().filter(|v| v.stage == Stage::Archived) {
        match unfit(v, live) {
            Some(why) => skipped.push(format!("archived {why}")),
            None => {
                return Ok(Choice {
                    why: format!(
                        "v{} is the newest Archived version (no usable healthy baseline)",
                        v.version
                    ),
                    version: v.clone(),
                    rule: Rule::NewestArchived,
                    skipped,
                });
            }
        }
    }
    skipped.push("no Archived version is left to roll back to".into());
    Err(skipped)
}

/// Alias mode's fallback rule: the newest version older than the live one that may be a
/// target. Stages are not part of how an alias-served model is run, so they are not read.
fn newest_older(
    alias: &str,
    live: &[u64],
    pool: &[ModelVersion],
    mut skipped: Vec<String>,
) -> Result<Choice, Vec<String>> {
    let below = live.iter().min().copied().unwrap_or(u64::MAX);
    for v in pool.iter().filter(|v| v.version < below) {
        match unfit(v, live) {
            Some(why) => skipped.push(why),
            None => {
                return Ok(Choice {
                    why: format!(
                        "v{} is the newest READY version older than the live @{alias} (no usable healthy baseline)",
                        v.version
                    ),
                    version: v.clone(),
                    rule: Rule::NewestOlder,
                    skipped,
                });
            }
        }
    }
    skipped.push(format!(
        "no version older than the live @{alias} is left to roll back to"
    ));
    Err(skipped)
}

/// The choice over a full snapshot of the model's versions (aliases attached).
pub fn choose_in(
    versions: &[ModelVersion],
    mode: &LiveMode,
    to: Option<u64>,
) -> Result<Choice, Vec<String>> {
    let live: Vec<u64> = registry::live_versions(versions, mode)
        .iter()
        .map(|v| v.version)
        .collect();
    let explicit = to.and_then(|n| versions.iter().find(|v| v.version == n).cloned());
    let baselines: Vec<ModelVersion> = versions
        .iter()
        .filter(|v| v.is_healthy_baseline())
        .cloned()
        .collect();
    choose(mode, &live, explicit, &baselines, versions)
}

/// How many tagged baselines one search asks for: enough to step over live or
/// rolled-back-from ones without listing the whole model.
const BASELINE_PAGE: usize = 20;
const ARCHIVED_PAGE: usize = 200;

/// The choice with as few registry calls as possible: one server-side tag search, and a
/// listing only when no tagged baseline is usable. `candidate` uses it on models that may hold
/// thousands of versions; the result is the one `choose_in` gives on a full snapshot.
pub fn find(
    reg: &dyn Registry,
    name: &str,
    mode: &LiveMode,
    to: Option<u64>,
) -> registry::Result<Result<Choice, Vec<String>>> {
    // Alias mode: the live version is one lookup. Stage mode: every version carries its stage,
    // so whether it is live is in the search result itself.
    let alias_live: Vec<u64> = match mode {
        LiveMode::Alias(a) => reg
            .get_model(name)?
            .aliases
            .get(a)
            .copied()
            .into_iter()
            .collect(),
        LiveMode::Stage => Vec::new(),
    };
    let live_of = |vs: &[ModelVersion]| -> Vec<u64> {
        let mut l = alias_live.clone();
        if matches!(mode, LiveMode::Stage) {
            l.extend(
                vs.iter()
                    .filter(|v| v.stage == Stage::Production)
                    .map(|v| v.version),
            );
        }
        l
    };
    if let Some(n) = to {
        let v = reg.get_version(name, n)?;
        return Ok(choose(
            mode,
            &live_of(std::slice::from_ref(&v)),
            Some(v),
            &[],
            &[],
        ));
    }
    let baselines = reg.search_versions(
        name,
        &VersionQuery::tagged(tags::HEALTHY_BASELINE, "true", BASELINE_PAGE),
    )?;
    if let Ok(c) = choose(mode, &live_of(&baselines), None, &baselines, &[]) {
        return Ok(Ok(c));
    }
    let mut pool = reg.search_versions(
        name,
        &VersionQuery {
            tags: Vec::new(),
            limit: Some(ARCHIVED_PAGE),
        },
    )?;
    if pool.is_empty() {
        reg.get_model(name)?;
    }
    let baselines_cut = baselines.len() >= BASELINE_PAGE;
    if baselines_cut || pool.len() >= ARCHIVED_PAGE {
        pool = registry::all_versions(reg, name)?;
    }
    let baselines: Vec<ModelVersion> = if baselines_cut {
        pool.iter()
            .filter(|v| v.is_healthy_baseline())
            .cloned()
            .collect()
    } else {
        baselines
    };
    let mut live = live_of(&pool);
    live.extend(live_of(&baselines));
    Ok(choose(mode, &live, None, &baselines, &pool))
}

/// The reference document's advice when there is no safe rollback target.
pub const NO_TARGET_ADVICE: &str = "no safe rollback target. Options, fastest first: \
serve the pre-built fallback (heuristic, rule-based or static response) while an emergency retrain runs \
(`mlrb rollback retrain`); temporarily switch the ML feature off (e.g. most-popular instead of personalised); \
or roll back to a much older version with `--to V`, accepting lower quality. \
Prevent this next time: tag a target before every deploy with `mlrb candidate MODEL --designate V`.";

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64, stage: Stage, t: &[(&str, &str)]) -> ModelVersion {
        ModelVersion {
            version: n,
            stage,
            aliases: vec![],
            tags: t
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source: format!("s3://m/{n}"),
            run_id: None,
            status: "READY".into(),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn priority_and_exclusions() {
        let hb = (tags::HEALTHY_BASELINE, "true");
        let rbf = (tags::ROLE, tags::ROLE_ROLLED_BACK_FROM);
        let vs = vec![
            v(6, Stage::Production, &[hb]),
            v(5, Stage::Archived, &[hb, rbf]),
            v(4, Stage::Archived, &[]),
            v(3, Stage::Archived, &[hb]),
            v(2, Stage::Archived, &[]),
        ];
        let c = choose_in(&vs, &LiveMode::Stage, None).unwrap();
        assert_eq!((c.version.version, c.rule), (3, Rule::HealthyBaseline));
        assert_eq!(c.skipped.len(), 2, "{:?}", c.skipped);

        let no_baseline: Vec<_> = vs
            .iter()
            .filter(|x| !x.is_healthy_baseline())
            .cloned()
            .collect();
        let c = choose_in(&no_baseline, &LiveMode::Stage, None).unwrap();
        assert_eq!((c.version.version, c.rule), (4, Rule::NewestArchived));

        assert!(choose_in(&vs, &LiveMode::Stage, Some(6)).is_err());
        assert!(choose_in(&vs, &LiveMode::Stage, Some(5)).is_err());
        assert_eq!(
            choose_in(&vs, &LiveMode::Stage, Some(2)).unwrap().rule,
            Rule::Explicit
        );

        let only_live = vec![v(1, Stage::Production, &[])];
        assert!(choose_in(&only_live, &LiveMode::Stage, None).is_err());
    }
}
