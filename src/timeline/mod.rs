//! The change timeline: what changed, newest first, in the four places an ML failure can live —
//! model registry, serving infra, feature pipeline, training data — beside the breach start,
//! with the component that changed closest before it (evidence, never a verdict); and, in
//! `facts`, what an event's report states about it, frozen at the event's close.

pub mod facts;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock;
use crate::config::{InfraStrategy, ModelConfig, ModelTarget};
use crate::context::{Ctx, Result};
use crate::error::CliError;
use crate::exec::helm::Helm;
use crate::exec::kubectl::Kubectl;
use crate::journal::Entry;
use crate::live::load_versions;
use crate::metrics::ModelMetrics;
use crate::registry::{self, Registry, tags};

/// One change in one component.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    /// model, infra, features or data.
    pub component: &'static str,
    pub what: String,
    /// Where the evidence comes from (registry, journal, kubectl, helm, git).
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub model: String,
    pub since: DateTime<Utc>,
    /// Newest first.
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breach_start: Option<DateTime<Utc>>,
    pub hint: String,
    /// Sources that could not be read, and why: a missing source is never silent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// The timeline of `target` since `since`. Without `breach`, and with `detect`, the breach start
/// is searched in Prometheus history when the model has metrics; `infra` asks kubectl or helm
/// (left out where the answer must be instant, as in `status`).
pub fn timeline(
    ctx: &Ctx,
    reg: &dyn Registry,
    target: &ModelTarget,
    since: DateTime<Utc>,
    breach: Option<DateTime<Utc>>,
    detect: bool,
    infra: bool,
) -> Result<Timeline> {
    timeline_of(ctx, reg, (target, None), since, breach, detect, infra)
}

/// `timeline`, with the versions when the command has read them already (and `target` as that
/// read settled it): a command lists a model's versions once.
pub fn timeline_of(
    ctx: &Ctx,
    reg: &dyn Registry,
    (target, versions): (&ModelTarget, Option<&[registry::ModelVersion]>),
    since: DateTime<Utc>,
    breach: Option<DateTime<Utc>>,
    detect: bool,
    infra: bool,
) -> Result<Timeline> {
    let cfg = ctx.settings.models.get(&target.key);
    let mut changes = Vec::new();
    let mut unavailable = Vec::new();
    model_changes(ctx, reg, (target, versions), since, &mut changes)?;
    if let Some(cfg) = cfg {
        if infra && let Err(e) = infra_changes(cfg, since, &mut changes) {
            unavailable.push(format!("serving infra: {e}"));
        }
        if let Some(f) = &cfg.features
            && let Err(e) = feature_changes(&f.repo, &f.path, since, &mut changes)
        {
            unavailable.push(format!("feature pipeline: {e}"));
        }
    }
    changes.sort_by_key(|c| std::cmp::Reverse(c.at));
    let breach_start = match breach {
        Some(b) => Some(b),
        None if detect => match detect_breach(reg, target, cfg) {
            Ok(b) => b,
            Err(e) => {
                unavailable.push(format!("breach start: {e:#}"));
                None
            }
        },
        None => None,
    };
    let hint = hint(&changes, breach_start);
    Ok(Timeline {
        model: target.key.clone(),
        since,
        changes,
        breach_start,
        hint,
        unavailable,
    })
}

fn model_changes(
    ctx: &Ctx,
    reg: &dyn Registry,
    (target, known): (&ModelTarget, Option<&[registry::ModelVersion]>),
    since: DateTime<Utc>,
    out: &mut Vec<Change>,
) -> Result<()> {
    let listed;
    let versions = match known {
        Some(v) => v,
        None => {
            listed = load_versions(reg, target)?.1;
            listed.as_slice()
        }
    };
    let keys = ctx
        .settings
        .models
        .get(&target.key)
        .map(|m| m.training_data.keys.clone())
        .unwrap_or_else(|| crate::config::TrainingDataConfig::default().keys);
    let live: Vec<u64> = registry::live_versions(versions, &target.mode)
        .iter()
        .map(|v| v.version)
        .collect();
    // Training runs are read for the newest versions only: evidence, not an audit of history.
    let mut run_reads = 0;
    for v in versions {
        if let Some(c) = v.created_at.filter(|c| *c >= since) {
            out.push(Change {
                at: c,
                component: "model",
                // Not its stage: the stage now is not the stage it was registered in.
                what: format!("v{} registered{}", v.version, source_of(v)),
                source: "registry",
            });
        }
        // A later update that mlrb's own audit tags do not explain: a stage or alias move. Its
        // place is the one it has had since that (last) update — true in a frozen report too.
        if let (Some(u), Some(c)) = (v.updated_at, v.created_at)
            && u >= since
            && (u - c).num_seconds() > 1
            && v.tag(tags::EVENT_ID).is_none()
        {
            out.push(Change {
                at: u,
                component: "model",
                what: format!(
                    "v{} updated; since then {}",
                    v.version,
                    place(&v.stage, &v.aliases)
                ),
                source: "registry",
            });
        }
        // Training data is dated by the version that brought it.
        let Some(at) = v.created_at.filter(|c| *c >= since) else {
            continue;
        };
        let mut found = keys.iter().find_map(|k| {
            v.tag(k)
                .map(|d| (d.to_string(), format!("version tag {k}")))
        });
        if found.is_none()
            && run_reads < RUN_READS
            && let Some(run) = &v.run_id
        {
            run_reads += 1;
            if let Ok(fields) = reg.run_fields(run) {
                found = keys.iter().find_map(|k| {
                    fields
                        .get(k)
                        .map(|d| (d.clone(), format!("run {} {k}", short_run(run))))
                });
            }
        }
        if let Some((d, from)) = found {
            out.push(Change {
                at,
                component: "data",
                what: format!(
                    "v{}{} was trained on dataset {d} ({from})",
                    v.version,
                    if live.contains(&v.version) {
                        " (live)"
                    } else {
                        ""
                    }
                ),
                source: "registry",
            });
        }
    }
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    audit_changes(versions.iter(), &live, &records, since, out);
    for r in &records {
        if let Entry::Started {
            command,
            model,
            registered_name,
            from,
            to,
            triggered_by,
            to_reason,
            ..
        } = &r.entry
            && (model == &target.key || registered_name == &target.registered_name)
            && r.at >= since
        {
            let component = match command.as_str() {
                "rollback infra" => "infra",
                // A serving-switch fallback, or a shadow stop, changes the serving layer, not
                // the registry; and has no revisions to show.
                c if c.starts_with("rollback model --fallback")
                    || c.starts_with("rollback infra --shadow") =>
                {
                    out.push(Change {
                        at: r.at,
                        component: "infra",
                        what: format!(
                            "mlrb {command} by {triggered_by}: {to_reason} (event {})",
                            r.event
                        ),
                        source: "journal",
                    });
                    continue;
                }
                "rollback features" => "features",
                "rollback retrain" => "data",
                _ => "model",
            };
            let fmt = |v: &[u64]| {
                v.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(Change {
                at: r.at,
                component,
                what: format!(
                    "mlrb {command} by {triggered_by}: {} → {to} (event {})",
                    fmt(from),
                    r.event
                ),
                source: "journal",
            });
        }
    }
    Ok(())
}

/// What the versions' audit tags show that this machine's journal cannot: rollbacks made by
/// other machines (one row per event, from `rollback.history` and the five reference tags), and
/// a version rolled back from that was made live again by hand afterwards.
fn audit_changes<'a>(
    versions: impl IntoIterator<Item = &'a registry::ModelVersion>,
    live: &[u64],
    records: &[crate::journal::Record],
    since: DateTime<Utc>,
    out: &mut Vec<Change>,
) {
    use std::collections::BTreeMap;
    let known: std::collections::BTreeSet<&str> = records
        .iter()
        .filter(|r| matches!(r.entry, Entry::Started { .. }))
        .map(|r| r.event.as_str())
        .collect();
    let role_text = |role: &str| match role {
        tags::ROLE_TARGET => "made live",
        tags::ROLE_ROLLED_BACK_FROM => "rolled back from",
        _ => "touched",
    };
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    // event → (when, who, what it did to each version)
    let mut elsewhere: BTreeMap<String, (DateTime<Utc>, String, Vec<String>)> = BTreeMap::new();
    for v in versions {
        let mut entries: Vec<serde_json::Value> = v
            .tag(tags::HISTORY)
            .and_then(|h| serde_json::from_str(h).ok())
            .unwrap_or_default();
        if let Some(ev) = v.tag(tags::EVENT_ID)
            && !entries.iter().any(|e| e["event"] == ev)
        {
            entries.push(serde_json::json!({
                "event": ev,
                "role": v.tag(tags::ROLE),
                "timestamp": v.tag(tags::TIMESTAMP),
                "triggered_by": v.tag(tags::TRIGGERED_BY),
            }));
        }
        for e in &entries {
            let (Some(event), Some(at)) =
                (e["event"].as_str(), e["timestamp"].as_str().and_then(parse))
            else {
                continue;
            };
            if known.contains(event) || at < since {
                continue;
            }
            let row = elsewhere.entry(event.to_string()).or_insert_with(|| {
                (
                    at,
                    e["triggered_by"].as_str().unwrap_or("someone").to_string(),
                    Vec::new(),
                )
            });
            row.2.push(format!(
                "v{} {}",
                v.version,
                role_text(e["role"].as_str().unwrap_or(""))
            ));
        }
        // Rolled back from, live again, and updated after that rollback: a hand put it back.
        if v.tag(tags::ROLE) == Some(tags::ROLE_ROLLED_BACK_FROM)
            && live.contains(&v.version)
            && let (Some(rolled), Some(u)) = (v.tag(tags::TIMESTAMP).and_then(parse), v.updated_at)
            && u > rolled
            && u >= since
        {
            out.push(Change {
                at: u,
                component: "model",
                what: format!(
                    "v{} made live again ({}) after rollback {} rolled back from it",
                    v.version,
                    v.stage,
                    v.tag(tags::EVENT_ID).unwrap_or("?")
                ),
                source: "registry",
            });
        }
    }
    for (event, (at, who, what)) in elsewhere {
        out.push(Change {
            at,
            component: "model",
            what: format!(
                "rollback {event} by {who}, recorded in the registry's audit tags (not in this journal): {}",
                what.join(", ")
            ),
            source: "audit tags",
        });
    }
}

/// Stage and aliases in one label: `Production`, `None @champion`.
pub(crate) fn place(stage: &registry::Stage, aliases: &[String]) -> String {
    let mut s = stage.to_string();
    for a in aliases {
        s.push_str(&format!(" @{a}"));
    }
    s
}

fn source_of(v: &registry::ModelVersion) -> String {
    if v.source.is_empty() {
        String::new()
    } else {
        format!(" from {}", v.source)
    }
}

/// How many training runs `changes` reads at most (one request each).
const RUN_READS: usize = 10;

fn short_run(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn infra_changes(cfg: &ModelConfig, since: DateTime<Utc>, out: &mut Vec<Change>) -> Result<()> {
    let i = &cfg.infra;
    match i.strategy {
        InfraStrategy::Kubectl => {
            let Some(d) = &i.deployment else {
                return Ok(());
            };
            let k = Kubectl {
                context: i.context.clone(),
                namespace: i.namespace.clone(),
            };
            let dep = k.get_deployment(d).map_err(anyhow::Error::from)?;
            for r in k.history(&dep).map_err(anyhow::Error::from)? {
                if let Some(c) = r.created.filter(|c| *c >= since) {
                    out.push(Change {
                        at: c,
                        component: "infra",
                        what: format!(
                            "deployment/{d} revision {}: {}{}",
                            r.revision,
                            r.images.join(", "),
                            if r.change_cause.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", r.change_cause)
                            }
                        ),
                        source: "kubectl",
                    });
                }
            }
        }
        InfraStrategy::Helm => {
            let Some(rel) = &i.release else {
                return Ok(());
            };
            let h = Helm {
                context: i.context.clone(),
                namespace: i.namespace.clone(),
            };
            for r in h.history(rel).map_err(anyhow::Error::from)? {
                let at = DateTime::parse_from_rfc3339(r.updated.trim())
                    .ok()
                    .map(|t| t.with_timezone(&Utc));
                if let Some(at) = at.filter(|a| *a >= since) {
                    out.push(Change {
                        at,
                        component: "infra",
                        what: format!(
                            "helm release {rel} revision {}: {} {} ({})",
                            r.revision, r.chart, r.status, r.description
                        ),
                        source: "helm",
                    });
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `dir` is resolved against the config file's directory when the config is read.
fn feature_changes(
    dir: &Path,
    path: &Path,
    since: DateTime<Utc>,
    out: &mut Vec<Change>,
) -> Result<()> {
    let repo = git2::Repository::open(dir).map_err(|e| {
        CliError::usage(format!(
            "{} is not a git repository ({})",
            dir.display(),
            e.message()
        ))
    })?;
    let mut walk = repo.revwalk()?;
    walk.set_sorting(git2::Sort::TIME)?;
    walk.push_head()?;
    let floor = since.timestamp();
    for id in walk {
        let c = repo.find_commit(id?)?;
        if c.time().seconds() < floor {
            // Time order: everything after this is older (clock skew aside).
            break;
        }
        if !crate::exec::git::touches(&c, path) {
            continue;
        }
        let dvc = dvc_files(&repo, &c, path);
        let at = DateTime::from_timestamp(c.time().seconds(), 0).unwrap_or(since);
        let id = c.id().to_string();
        out.push(Change {
            at,
            component: "features",
            what: format!(
                "commit {} {} ({}){}",
                &id[..7],
                c.summary().unwrap_or(""),
                c.author().name().unwrap_or("?"),
                if dvc.is_empty() {
                    String::new()
                } else {
                    format!("; DVC data changed: {}", dvc.join(", "))
                }
            ),
            source: "git",
        });
    }
    Ok(())
}

/// `.dvc` and `dvc.lock` files under `path` that `c` changed.
fn dvc_files(repo: &git2::Repository, c: &git2::Commit, path: &Path) -> Vec<String> {
    let new = c.tree().ok();
    let old = c.parent(0).ok().and_then(|p| p.tree().ok());
    let mut opts = git2::DiffOptions::new();
    opts.pathspec(path);
    let Ok(diff) = repo.diff_tree_to_tree(old.as_ref(), new.as_ref(), Some(&mut opts)) else {
        return Vec::new();
    };
    diff.deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .filter(|p| p.ends_with(".dvc") || p.ends_with("dvc.lock"))
        .collect()
}

/// The breach start from Prometheus history, when the model has metrics.
fn detect_breach(
    reg: &dyn Registry,
    target: &ModelTarget,
    cfg: Option<&ModelConfig>,
) -> Result<Option<DateTime<Utc>>> {
    let Some(mm) = ModelMetrics::for_model(cfg)? else {
        return Ok(None);
    };
    let (target, versions) = load_versions(reg, target)?;
    let live = registry::live_versions(&versions, &target.mode);
    let choice = crate::select::choose_in(&versions, &target.mode, None).ok();
    let base = mm.baseline(
        reg,
        choice.as_ref().map(|c| &c.version),
        live.first().copied(),
    )?;
    let lookback = mm
        .cfg
        .metrics
        .as_ref()
        .and_then(|m| m.detection_lookback)
        .unwrap_or(Duration::from_secs(3600));
    Ok(mm
        .breach_start(&base, lookback)
        .map_err(CliError::from)?
        .map(|(t, _)| t))
}

/// Which component changed closest before the breach: a lead to check first, not a verdict.
fn hint(changes: &[Change], breach: Option<DateTime<Utc>>) -> String {
    let Some(b) = breach else {
        return match changes.first() {
            Some(c) => format!(
                "no breach start known (no metrics, or no breach in their history): the most recent change was in {} ({}, {} ago)",
                label(c.component),
                c.what,
                clock::human(clock::now() - c.at)
            ),
            None => {
                "nothing changed in the window; widen the window with mlrb changes --since".into()
            }
        };
    };
    // mlrb's own rollbacks (this machine's or another's) respond to a breach; they do not
    // cause one.
    match changes
        .iter()
        .find(|c| c.at <= b && c.source != "journal" && c.source != "audit tags")
    {
        Some(c) => format!(
            "closest change before the breach at {} UTC: {} — {} ({} before). Evidence, not proof: check it first.",
            b.format("%H:%M:%S"),
            label(c.component),
            c.what,
            clock::human(b - c.at)
        ),
        None => format!(
            "no change in the window before the breach at {} UTC; widen the window (mlrb changes --since), or look outside the four components",
            b.format("%H:%M:%S")
        ),
    }
}

fn label(component: &str) -> &'static str {
    match component {
        "model" => "the model (registry)",
        "infra" => "the serving infrastructure",
        "features" => "the feature pipeline",
        _ => "the training data",
    }
}
