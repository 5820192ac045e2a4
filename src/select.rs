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
    /// With `--force`: the earlier rollback that rolled back from this version, which the plan
    /// and the confirmation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Explicit,
    HealthyBaseline,
    NewestArchived,
    /// Alias mode: the newest version older than the live one.
    NewestOlder,
    /// Nothing to do: the live version is where an earlier rollback went.
    AlreadyLive,
}

/// The earlier rollback that rolled back from `v`, as a plan names it.
pub fn rolled_back_by(v: &ModelVersion) -> String {
    format!(
        "rollback {} at {}",
        v.tag(tags::EVENT_ID).unwrap_or("?"),
        v.tag(tags::TIMESTAMP).unwrap_or("?")
    )
}

/// "Already rolled back": the one live version is the target of an earlier rollback, and `to`
/// names it or nothing. Rollback and `candidate` both stop here.
pub fn already_rolled_back(live: &[&ModelVersion], to: Option<u64>) -> Option<String> {
    let [only] = live else { return None };
    if only.tag(tags::ROLE) != Some(tags::ROLE_TARGET) || to.is_some_and(|n| n != only.version) {
        return None;
    }
    Some(format!(
        "already rolled back: v{} is live since rollback {} at {}; nothing changed{}",
        only.version,
        only.tag(tags::EVENT_ID).unwrap_or("?"),
        only.tag(tags::TIMESTAMP).unwrap_or("?"),
        if to.is_none() {
            " (to go further back, name the version: --to V)"
        } else {
            ""
        }
    ))
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
/// `Err` carries the reasons every version was passed over. `force` lets an explicit target
/// be one rolled back from before (never a live or unready one).
pub fn choose(
    mode: &LiveMode,
    live: &[u64],
    explicit: Option<ModelVersion>,
    force: bool,
    baselines: &[ModelVersion],
    archived: &[ModelVersion],
) -> Result<Choice, Vec<String>> {
    let mut skipped = Vec::new();
    if let Some(v) = explicit {
        let forced = force && v.was_rolled_back_from();
        let mut unforced = v.clone();
        if forced {
            unforced.tags.remove(tags::ROLE);
        }
        return match unfit(&unforced, live) {
            Some(why) => Err(vec![format!("--to {}: {why}", v.version)]),
            None if forced => Ok(Choice {
                why: format!(
                    "v{} was named with --to --force, although {} rolled back from it",
                    v.version,
                    rolled_back_by(&v)
                ),
                overrides: Some(rolled_back_by(&v)),
                version: v,
                rule: Rule::Explicit,
                skipped,
            }),
            None => Ok(Choice {
                why: format!("v{} was named with --to", v.version),
                version: v,
                rule: Rule::Explicit,
                skipped,
                overrides: None,
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
                    overrides: None,
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
                    overrides: None,
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
                    overrides: None,
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
    choose_in_forced(versions, mode, to, false)
}

/// `choose_in`, where `force` lets `to` name a version rolled back from before.
pub fn choose_in_forced(
    versions: &[ModelVersion],
    mode: &LiveMode,
    to: Option<u64>,
    force: bool,
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
    choose(mode, &live, explicit, force, &baselines, versions)
}

/// How many tagged baselines one search asks for: enough to step over live or
/// rolled-back-from ones without listing the whole model.
const BASELINE_PAGE: usize = 20;
const ARCHIVED_PAGE: usize = 200;

/// The choice with as few registry calls as possible: one server-side tag search, and a
/// listing only when no tagged baseline is usable. `candidate` uses it on models that may hold
/// thousands of versions; the result is the one a rollback gives on a full snapshot
/// (`already_rolled_back`, then `choose_in`), "already rolled back" included.
pub fn find(
    reg: &dyn Registry,
    name: &str,
    mode: &LiveMode,
    to: Option<u64>,
) -> registry::Result<Result<Choice, Vec<String>>> {
    find_with_model(reg, name, mode, to, &reg.get_model(name)?)
}

/// `find` for a caller that has read the registered model already (to settle the live mode):
/// it is not read again.
pub fn find_with_model(
    reg: &dyn Registry,
    name: &str,
    mode: &LiveMode,
    to: Option<u64>,
    model: &registry::RegisteredModel,
) -> registry::Result<Result<Choice, Vec<String>>> {
    // The newest live version is one read; only when an earlier rollback made it live does
    // the answer need every live version, so only then is the model listed in full. That read
    // and the designated targets' search go out together (two connections): neither needs the
    // other, and each is a round trip.
    let newest_live = match mode {
        LiveMode::Alias(a) => model.aliases.get(a).copied(),
        LiveMode::Stage => model.latest.get(&Stage::Production).copied(),
    };
    let search_baselines = || {
        reg.search_versions(
            name,
            &VersionQuery::tagged(tags::HEALTHY_BASELINE, "true", BASELINE_PAGE),
        )
    };
    let (live_is_target, baselines) = std::thread::scope(|s| {
        let baselines = (to.is_none() && newest_live.is_some()).then(|| s.spawn(search_baselines));
        let live_is_target = newest_live.is_some_and(|n| {
            reg.get_version(name, n)
                .is_ok_and(|v| v.tag(tags::ROLE) == Some(tags::ROLE_TARGET))
        });
        let baselines =
            baselines.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (live_is_target, baselines)
    });
    if live_is_target {
        let versions = registry::all_versions(reg, name)?;
        let live = registry::live_versions(&versions, mode);
        if let Some(done) = already_rolled_back(&live, to) {
            return Ok(Ok(Choice {
                version: live[0].clone(),
                rule: Rule::AlreadyLive,
                why: done,
                skipped: Vec::new(),
                overrides: None,
            }));
        }
    }
    // Alias mode: the live version is one lookup. Stage mode: every version carries its stage,
    // so whether it is live is in the search result itself.
    let alias_live: Vec<u64> = match mode {
        LiveMode::Alias(a) => model.aliases.get(a).copied().into_iter().collect(),
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
            false,
            &[],
            &[],
        ));
    }
    let baselines = match baselines {
        Some(found) => found?,
        None => search_baselines()?,
    };
    if let Ok(c) = choose(mode, &live_of(&baselines), None, false, &baselines, &[]) {
        return Ok(Ok(c));
    }
    let mut pool = reg.search_versions(
        name,
        &VersionQuery {
            tags: Vec::new(),
            limit: Some(ARCHIVED_PAGE),
        },
    )?;
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
    Ok(choose(mode, &live, None, false, &baselines, &pool))
}

/// The reference document's advice when there is no safe rollback target.
pub const NO_TARGET_ADVICE: &str = "no safe rollback target. Options, fastest first: \
serve the pre-built fallback (heuristic, rule-based or static response) while an emergency retrain runs \
(`mlrb rollback retrain`); temporarily switch the ML feature off (e.g. most-popular instead of personalised); \
or roll back to a much older version with `--to V`, accepting lower quality \
(`--to V --force` for one rolled back from before). \
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
