//! What an on-call engineer should know before 2 AM about a model: the registry's anomalies
//! (nothing live, several live, no designated target, shared artifacts, deleted versions, a
//! live version rolled back from), serving that has not converged, and the rollbacks and drills
//! that did not finish, on this machine (the journal) or any (the lease tags).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::config::ModelTarget;
use crate::journal::Record;
use crate::registry::{self, LiveMode, ModelVersion, RegisteredModel, tags};

#[derive(Debug, Serialize, PartialEq)]
pub struct Anomaly {
    pub kind: &'static str,
    pub message: String,
}

/// The anomalies of `target` from its `versions` (as `load_versions` settled it), with
/// `designated` the usable version tagged as the healthy baseline.
pub fn of_versions(
    target: &ModelTarget,
    versions: &[ModelVersion],
    designated: Option<u64>,
) -> Vec<Anomaly> {
    let live = registry::live_versions(versions, &target.mode);
    let mut a = anomalies(versions, &target.mode, designated);
    // The registry says what should serve; a kubectl serving Deployment says what does
    // (read with a short timeout: an unreachable cluster says nothing here).
    if let [only] = live.as_slice()
        && let Err(why) = crate::serving::converged(
            &target.serving,
            only.version,
            std::time::Duration::from_secs(5),
        )
    {
        a.insert(
            0,
            Anomaly {
                kind: "serving_not_converged",
                message: format!(
                    "registry v{} is live, but serving has not converged on it: {why}",
                    only.version
                ),
            },
        );
    }
    if let Some(message) = crate::live::alias_names_deleted(target) {
        a.retain(|x| x.kind != "no_live_version");
        a.insert(
            0,
            Anomaly {
                kind: "alias_names_deleted",
                message,
            },
        );
    }
    a
}

/// The rollbacks of `target` (the model `key`) that this machine's journal shows unfinished,
/// of every kind, placed first in `out` with how to finish them. `registry` is where the
/// registry lives (`Registry::location`).
pub fn unfinished_here(
    records: &[Record],
    target: &ModelTarget,
    key: &str,
    registry: &str,
    out: &mut Vec<Anomaly>,
) {
    for event in crate::journal::unfinished(records, &target.registered_name, registry) {
        let (done, total, next) = crate::journal::progress(records, event);
        let (why, again) = if crate::journal::last_outcome(records, event)
            == Some(crate::journal::NOT_CONVERGED)
        {
            (
                "the registry is rolled back, but serving has not converged on the target",
                " (or the same command again)",
            )
        } else {
            ("interrupted, failed, or still running", "")
        };
        out.insert(
            0,
            Anomaly {
                kind: "interrupted_rollback",
                message: format!(
                    "rollback {event} did not finish ({why}): {done} of {total} steps done{}; finish it with `mlrb rollback model {key} --resume`{again}",
                    next.map(|n| format!(", next: {}", n.split_whitespace().collect::<Vec<_>>().join(" "))).unwrap_or_default()
                ),
            },
        );
    }
    // The other kinds' unfinished rollbacks of this model (infra, features, retrain, the
    // fallback switch), from this machine's journal.
    for (event, command) in unfinished_other_kinds(records, key) {
        let (done, total, next) = crate::journal::progress(records, &event);
        out.insert(
            0,
            Anomaly {
                kind: "interrupted_rollback",
                message: format!(
                    "{command} {event} did not finish (interrupted, failed, or still running): {done} of {total} steps done{}; finish it with `mlrb {} --resume`",
                    next.map(|n| format!(", next: {}", n.split_whitespace().collect::<Vec<_>>().join(" "))).unwrap_or_default(),
                    resume_command(&command, key)
                ),
            },
        );
    }
}

/// The unfinished rollbacks every machine sees on the registered `model` (a holder gone, a
/// lease expired, a failed step; whichever machine started them), placed first in `out` unless
/// already named.
pub fn unfinished_anywhere(model: &RegisteredModel, key: &str, out: &mut Vec<Anomaly>) {
    for u in crate::lease::unfinished(model) {
        if out.iter().any(|a| a.message.contains(&u.event)) {
            continue;
        }
        out.insert(
            0,
            Anomaly {
                kind: "interrupted_rollback",
                message: format!(
                    "rollback {} by {} on {} (since {}) did not finish: {}; finish it from any machine with `mlrb rollback model {key} --resume`",
                    u.event,
                    u.tag.holder,
                    if u.tag.host.is_empty() { "another machine" } else { u.tag.host.as_str() },
                    crate::clock::fmt(u.tag.since),
                    u.why
                ),
            },
        );
    }
}

/// The drills of `key` that have not restored the registry, placed first in `out`.
pub fn drills_in_progress(state_dir: &Path, key: &str, out: &mut Vec<Anomaly>) {
    for (id, since) in crate::drill::restore::in_progress(state_dir, key) {
        out.insert(
            0,
            Anomaly {
                kind: "drill_in_progress",
                message: format!(
                    "drill {id} (started {}) has not restored the registry: still running, or interrupted; put it back with `mlrb drill {key} --restore`",
                    since.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            },
        );
    }
}

/// Events of `model` other than model rollbacks that started and did not finish well:
/// (event, command).
fn unfinished_other_kinds(
    records: &[crate::journal::Record],
    model: &str,
) -> Vec<(String, String)> {
    use crate::journal::Entry;
    let mut open: Vec<(String, String)> = Vec::new();
    for r in records {
        match &r.entry {
            Entry::Started {
                command, model: m, ..
            } if m == model && command != "rollback model" => {
                open.push((r.event.clone(), command.clone()))
            }
            Entry::Finished { outcome, .. } if crate::journal::closes(outcome) => {
                open.retain(|(e, _)| *e != r.event)
            }
            _ => {}
        }
    }
    open
}

/// The command that finishes an interrupted `command` of `key`.
fn resume_command(command: &str, key: &str) -> String {
    match command.strip_prefix("rollback model --fallback") {
        Some(_) => format!("rollback model {key} --fallback"),
        None => format!("{command} {key}"),
    }
}

/// Everything about the registry state that an on-call engineer should know before 2 AM.
pub fn anomalies(
    versions: &[ModelVersion],
    mode: &LiveMode,
    designated: Option<u64>,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let live = registry::live_versions(versions, mode);
    let list = |vs: &[&ModelVersion]| {
        vs.iter()
            .map(|v| format!("v{}", v.version))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match live.len() {
        0 => out.push(Anomaly {
            kind: "no_live_version",
            message: format!("no version is live ({mode}): nothing is served from the registry"),
        }),
        1 => {}
        n => out.push(Anomaly {
            kind: "several_live",
            message: format!(
                "{n} versions are in Production ({}); which one serves is ambiguous. `mlrb rollback model` archives all but the target",
                list(&live)
            ),
        }),
    }
    if designated.is_none() {
        out.push(Anomaly {
            kind: "no_designated_target",
            message: format!(
                "no rollback target is designated (no usable version tagged {}=true); designate one before the next deploy: mlrb candidate MODEL --designate V",
                tags::HEALTHY_BASELINE
            ),
        });
    }
    for v in &live {
        if v.is_healthy_baseline() {
            out.push(Anomaly {
                kind: "target_is_live",
                message: format!(
                    "the live version v{} is itself the designated healthy baseline: right before a deploy that is intended, but if it breaks now a rollback cannot go to it",
                    v.version
                ),
            });
        }
        if let Some(message) = crate::repromotion::repromoted(v) {
            out.push(Anomaly {
                kind: "live_was_rolled_back_from",
                message,
            });
        }
        if v.status != "READY" {
            out.push(Anomaly {
                kind: "live_not_ready",
                message: format!(
                    "the live version v{} is {} in the registry",
                    v.version, v.status
                ),
            });
        }
    }
    let mut by_source: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for v in versions.iter().filter(|v| !v.source.is_empty()) {
        by_source
            .entry(v.source.as_str())
            .or_default()
            .push(v.version);
    }
    for (src, vs) in by_source.into_iter().filter(|(_, vs)| vs.len() > 1) {
        let mut vs = vs;
        vs.sort_unstable();
        out.push(Anomaly {
            kind: "shared_source",
            message: format!(
                "versions {} share one artifact source {src}: an artifact overwritten in place cannot be rolled back to",
                vs.iter().map(|v| format!("v{v}")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    if let Some(max) = versions.iter().map(|v| v.version).max() {
        let have: std::collections::BTreeSet<u64> = versions.iter().map(|v| v.version).collect();
        let missing: Vec<u64> = (1..=max).filter(|n| !have.contains(n)).collect();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(|v| format!("v{v}")).collect();
            out.push(Anomaly {
                kind: "deleted_versions",
                message: format!(
                    "{} version number(s) missing ({}{}): deleted versions are lost rollback targets; archive, never delete",
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > 10 { ", …" } else { "" }
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{ModelVersion, Stage, tags};

    fn v(n: u64, stage: Stage, src: &str, t: &[(&str, &str)]) -> ModelVersion {
        ModelVersion {
            version: n,
            stage,
            aliases: vec![],
            tags: t
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source: src.into(),
            run_id: None,
            status: "READY".into(),
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn finds_every_kind_of_anomaly() {
        let hb = (tags::HEALTHY_BASELINE, "true");
        let vs = vec![
            v(5, Stage::Production, "s3://a", &[hb]),
            v(
                4,
                Stage::Production,
                "s3://b",
                &[(tags::ROLE, tags::ROLE_ROLLED_BACK_FROM)],
            ),
            v(2, Stage::Archived, "s3://a", &[]),
        ];
        let kinds: Vec<&str> = anomalies(&vs, &LiveMode::Stage, None)
            .iter()
            .map(|a| a.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "several_live",
                "no_designated_target",
                "target_is_live",
                "live_was_rolled_back_from",
                "shared_source",
                "deleted_versions"
            ]
        );
        let healthy = vec![
            v(2, Stage::Production, "s3://2", &[]),
            v(1, Stage::Archived, "s3://1", &[hb]),
        ];
        assert!(anomalies(&healthy, &LiveMode::Stage, Some(1)).is_empty());
    }
}
