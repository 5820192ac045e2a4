//! What a drill must put back: the registry's state (stages, aliases, tags) saved before the
//! breach, the difference from it, the restore itself, and a staging drill's pre-drill state on
//! disk for `mlrb drill MODEL --restore` after an interruption.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Journal};
use crate::registry::{self, Registry, Stage};

/// A staging drill's pre-drill state, on disk from before the breach until the restore is
/// checked: what `mlrb drill MODEL --restore` puts back when the drill was interrupted.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    pub id: String,
    pub model: String,
    pub registered: String,
    pub registry: String,
    pub live: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inject_url: Option<String>,
    pub started_at: DateTime<Utc>,
    pub before: RegState,
    /// The serving Deployment's pod template before the breach (kubectl serving kinds), which
    /// the restore compares as it compares the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_template: Option<serde_json::Value>,
}

/// Where staging drills keep their pre-drill state until the restore is checked.
pub fn pending_dir(state: &Path) -> PathBuf {
    state.join("drills-in-progress")
}

impl Pending {
    /// Written and synced before the drill changes anything; a drill that cannot keep it does
    /// not start.
    pub(super) fn save(&self, state: &Path) -> Result<PathBuf> {
        let dir = pending_dir(state);
        let path = dir.join(format!("{}.json", self.id));
        let write = || -> std::io::Result<()> {
            crate::statedir::ensure(state)?;
            crate::statedir::ensure(&dir)?;
            let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            crate::files::write_replacing(&path, &body)
        };
        write().map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!(
                    "cannot save the pre-drill state to {} ({e}); nothing changed",
                    path.display()
                ),
            )
        })?;
        Ok(path)
    }
}

/// Interrupted staging drills of `model`, oldest first (unreadable files are skipped).
pub(super) fn pending_of(state: &Path, model: &str) -> Vec<(Pending, PathBuf)> {
    let mut out: Vec<(Pending, PathBuf)> = std::fs::read_dir(pending_dir(state))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let p: Pending = serde_json::from_str(&text).ok()?;
            (p.model == model).then_some((p, e.path()))
        })
        .collect();
    out.sort_by_key(|(p, _)| p.started_at);
    out
}

/// Staging drills of `model` that have not restored the registry yet (interrupted, or still
/// running): (drill id, when it started), for `mlrb status`.
pub fn in_progress(state: &Path, model: &str) -> Vec<(String, DateTime<Utc>)> {
    pending_of(state, model)
        .into_iter()
        .map(|(p, _)| (p.id, p.started_at))
        .collect()
}

/// The oldest interrupted staging drill of a model, and how the registry differs from its
/// pre-drill state now: what `mlrb drill MODEL --restore` shows before it asks.
pub struct Interrupted {
    pub pending: Pending,
    path: PathBuf,
    reg: Box<dyn Registry>,
    /// Every difference from the pre-drill state, one line each.
    pub changes: Vec<String>,
}

/// Finds the interrupted drill of `model` and compares the configured registry with its
/// pre-drill state; changes nothing.
pub fn interrupted(ctx: &Ctx, model: &str) -> Result<Interrupted> {
    let Some((pending, path)) = pending_of(&ctx.settings.state_dir, model)
        .into_iter()
        .next()
    else {
        return Err(CliError::usage(format!(
            "no interrupted drill of `{model}` in {}",
            pending_dir(&ctx.settings.state_dir).display()
        ))
        .with_hint("`mlrb drill --history` lists the drills that finished")
        .into());
    };
    let reg = ctx.registry()?;
    if reg.location() != pending.registry {
        return Err(CliError::usage(format!(
            "drill {} changed {}, but the registry now configured is {}",
            pending.id,
            pending.registry,
            reg.location()
        ))
        .with_hint("run the restore with the drill's config (--config, --registry)")
        .into());
    }
    let name = &pending.registered;
    let now = snapshot(reg.as_ref(), name)?;
    let changes = diff(&pending.before, &now);
    Ok(Interrupted {
        pending,
        path,
        reg,
        changes,
    })
}

/// `mlrb drill MODEL --restore`, once confirmed: puts back what an interrupted staging drill
/// changed — stages, aliases, tags, serving and the injected fault — from the state it saved
/// before the breach, and checks it.
pub fn put_back(ctx: &Ctx, model: &str, it: Interrupted) -> Result<()> {
    let Interrupted {
        pending, path, reg, ..
    } = it;
    let name = &pending.registered;
    let target = ctx.settings.model(model, None)?;
    // A rollback the drill started and nobody finished ends here: the pre-drill state replaces it.
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    for open in crate::journal::unfinished(&records, name, &reg.location()) {
        let in_drill = records
            .iter()
            .any(|r| r.event == open && r.at >= pending.started_at);
        if in_drill {
            Journal::new(&ctx.settings.state_dir, open).append(Entry::Finished {
                outcome: "superseded".into(),
                message: format!("drill {} was restored to its pre-drill state", pending.id),
            });
        }
    }
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = restore(reg.as_ref(), name, &pending.before) {
        problems.push(format!("restore failed: {e}"));
    }
    if let Err(e) = super::staging::load_on_serving(&target, pending.live) {
        problems.push(format!(
            "serving was not put back on v{}: {e}",
            pending.live
        ));
    }
    if let Some(url) = &pending.inject_url
        && let Err(e) = super::staging::inject(url, "stop", name, pending.live, &pending.id)
    {
        problems.push(format!("the injected fault was not stopped: {e}"));
    }
    match snapshot(reg.as_ref(), name) {
        Ok(after) => problems.extend(diff(&pending.before, &after)),
        Err(e) => problems.push(format!("cannot read the registry back: {e}")),
    }
    // The whole pod template, not only what the reload sets: a variable on a sidecar, an
    // image, a resource changed by the drill's reloads is a difference.
    if let Some(before) = &pending.serving_template {
        let shown = format!(
            "deployment/{}",
            target.serving.deployment.as_deref().unwrap_or_default()
        );
        match crate::serving::deployment_template(&target.serving) {
            Ok(Some(after)) => {
                problems.extend(crate::serving::template_diff(&shown, before, &after))
            }
            Ok(None) => problems.push(format!(
                "serving {shown} not checked: [serving] is no longer a kubectl kind"
            )),
            Err(e) => problems.push(format!("serving not checked: {e}")),
        }
    }
    Journal::new(&ctx.settings.state_dir, &pending.id).append(Entry::Note {
        text: if problems.is_empty() {
            format!(
                "drill {}: restored after an interruption (mlrb drill --restore)",
                pending.id
            )
        } else {
            format!(
                "drill {}: restore after an interruption incomplete — {}",
                pending.id,
                problems.join("; ")
            )
        },
    });
    if !problems.is_empty() {
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "drill {} not fully restored: {}",
                pending.id,
                problems.join("; ")
            ),
        )
        .with_hint(format!(
            "fix what is named and re-run `mlrb drill {model} --restore`"
        ))
        .into());
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// What a drill must leave as it found it: stages, aliases and tags (timestamps excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegState {
    aliases: BTreeMap<String, u64>,
    tags: BTreeMap<String, String>,
    versions: BTreeMap<u64, VersionState>,
}

/// A version's stage and tags.
type VersionState = (Stage, BTreeMap<String, String>);

/// The registry's state of `name` now.
pub fn snapshot(reg: &dyn Registry, name: &str) -> Result<RegState> {
    let m = reg.get_model(name).map_err(CliError::from)?;
    let versions = registry::all_versions(reg, name).map_err(CliError::from)?;
    Ok(RegState {
        aliases: m.aliases,
        tags: m.tags,
        versions: versions
            .into_iter()
            .map(|v| (v.version, (v.stage, v.tags)))
            .collect(),
    })
}

fn diff_map<V: PartialEq + std::fmt::Display>(
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    let show = |v: Option<&V>| v.map(|v| format!("`{v}`")).unwrap_or("(absent)".into());
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        if a.get(k) != b.get(k) {
            out.push(format!(
                "{what} {k}: {} before, {} after",
                show(a.get(k)),
                show(b.get(k))
            ));
        }
    }
}

/// Every difference between two states, one line each, for the failure message.
pub fn diff(a: &RegState, b: &RegState) -> Vec<String> {
    let mut out = Vec::new();
    diff_map("model tag", &a.tags, &b.tags, &mut out);
    diff_map("alias @", &a.aliases, &b.aliases, &mut out);
    for (v, (stage, tags)) in &a.versions {
        match b.versions.get(v) {
            None => out.push(format!("v{v} is missing")),
            Some((s2, t2)) => {
                if s2 != stage {
                    out.push(format!("v{v} stage: {stage} before, {s2} after"));
                }
                diff_map(&format!("v{v} tag"), tags, t2, &mut out);
            }
        }
    }
    for v in b.versions.keys().filter(|v| !a.versions.contains_key(v)) {
        out.push(format!("v{v} is new"));
    }
    out
}

/// Puts stages, aliases and tags back as `before` had them: the versions that were live first,
/// so serving never reads a registry with nothing live.
pub fn restore(reg: &dyn Registry, name: &str, before: &RegState) -> Result<()> {
    let now = snapshot(reg, name)?;
    let mut order: Vec<(&u64, &VersionState)> = before.versions.iter().collect();
    order.sort_by_key(|(_, (stage, _))| *stage != Stage::Production);
    for (v, (stage, tags)) in order {
        let Some((s2, t2)) = now.versions.get(v) else {
            continue;
        };
        if s2 != stage {
            reg.transition_stage(name, *v, *stage)?;
        }
        let extra: Vec<String> = t2
            .keys()
            .filter(|k| !tags.contains_key(*k))
            .cloned()
            .collect();
        if !extra.is_empty() {
            reg.remove_drill_marks(name, Some(*v), &extra, &[])?;
        }
        let changed: Vec<(String, String)> = tags
            .iter()
            .filter(|(k, val)| t2.get(*k) != Some(val))
            .map(|(k, val)| (k.clone(), val.clone()))
            .collect();
        if !changed.is_empty() {
            reg.set_version_tags(name, *v, &changed)?;
        }
    }
    let extra_tags: Vec<String> = now
        .tags
        .keys()
        .filter(|k| !before.tags.contains_key(*k))
        .cloned()
        .collect();
    let extra_aliases: Vec<String> = now
        .aliases
        .keys()
        .filter(|k| !before.aliases.contains_key(*k))
        .cloned()
        .collect();
    if !extra_tags.is_empty() || !extra_aliases.is_empty() {
        reg.remove_drill_marks(name, None, &extra_tags, &extra_aliases)?;
    }
    for (k, val) in &before.tags {
        if now.tags.get(k) != Some(val) {
            reg.set_model_tag(name, k, val)?;
        }
    }
    for (a, v) in &before.aliases {
        if now.aliases.get(a) != Some(v) {
            reg.set_alias(name, a, *v)?;
        }
    }
    Ok(())
}
