//! What an event's incident report states about the world outside the journal — the change
//! timeline before the rollback and the versions it concerned — frozen into the journal at the
//! event's close, and the report's sections rendered from it.

use chrono::{DateTime, Utc};

use super::{Change, place, timeline, timeline_of};
use crate::clock;
use crate::config::ModelTarget;
use crate::context::{Ctx, Result};
use crate::error::CliError;
use crate::journal::{ChangeFact, Entry, Record, VersionFact};
use crate::live::load_versions;
use crate::registry::{self, Registry};

/// The event's model, live mode, breach start and rollback start.
type StartedAs = (String, String, Option<DateTime<Utc>>, DateTime<Utc>);

/// The event's model, live mode, breach start and rollback start, from its `Started` record.
fn started_of(records: &[&Record]) -> Option<StartedAs> {
    records.iter().find_map(|r| match &r.entry {
        Entry::Started {
            model,
            mode,
            detected_at,
            started_at,
            ..
        } => Some((model.clone(), mode.clone(), *detected_at, *started_at)),
        _ => None,
    })
}

/// The frozen facts of an event, when its close recorded them.
fn facts_of<'a>(records: &[&'a Record]) -> Option<&'a Entry> {
    records
        .iter()
        .rev()
        .map(|r| &r.entry)
        .find(|e| matches!(e, Entry::ReportFacts { .. }))
}

/// How long before the rollback the report's change window starts.
const REPORT_WINDOW_HOURS: i64 = 24;

/// Read at an event's close: what its report states about the world outside the journal — the
/// change timeline of the 24 hours before the rollback (with the breach start it recorded) and
/// the versions it concerned, as they stood before and after it. A source that cannot be read
/// is named in the record. `None` when the event names no model of the config or registry.
///
/// With `known` (what the rollback's plan read: every version as it stood when the rollback
/// started, which is what the timeline of the hours before it is about), the close lists no
/// version again: it reads only the versions the event concerned, as they stand now.
pub fn report_facts(ctx: &Ctx, records: &[&Record], known: Option<&Known>) -> Option<Entry> {
    let (model, mode, detected, started) = started_of(records)?;
    let known = known.filter(|k| k.target.key == model);
    let target = match known {
        Some(k) => k.target.clone(),
        None => ctx
            .settings
            .model(&model, mode.strip_prefix("alias @"))
            .ok()?,
    };
    let since = started - chrono::Duration::hours(REPORT_WINDOW_HOURS);
    let mut unavailable = Vec::new();
    let mut changes = Vec::new();
    let mut hint = String::new();
    let mut versions = Vec::new();
    let mut fresh = None;
    let reg: std::result::Result<&dyn Registry, CliError> = match known {
        Some(k) => Ok(k.reg.as_ref()),
        None => ctx.registry().map(|r| &**fresh.insert(r)),
    };
    match reg {
        Err(e) => unavailable.push(format!("registry: {e:#}")),
        Ok(reg) => {
            let read = known.map(|k| k.versions.as_slice());
            match timeline_of(ctx, reg, (&target, read), since, detected, false, false) {
                Ok(t) => {
                    changes = t
                        .changes
                        .into_iter()
                        .map(|c| ChangeFact {
                            at: c.at,
                            component: c.component.to_string(),
                            what: c.what,
                            source: c.source.to_string(),
                        })
                        .collect();
                    hint = t.hint;
                    unavailable.extend(t.unavailable);
                }
                Err(e) => unavailable.push(format!("registry: {e:#}")),
            }
            let now = match known {
                Some(Known {
                    after: Some(vs), ..
                }) => Ok(vs.clone()),
                Some(_) => concerned_now(reg, &target, records),
                None => load_versions(reg, &target).map(|(_, vs)| vs),
            };
            if let Ok(vs) = now {
                versions = version_facts(records, &vs);
            }
        }
    }
    Some(Entry::ReportFacts {
        since,
        breach_start: detected,
        changes,
        hint,
        versions,
        unavailable,
    })
}

/// What a rollback's plan read of its model: the registry it read from, the model as that read
/// settled it (stage or alias), and every version as it stood when the rollback started.
pub struct Known {
    pub reg: std::sync::Arc<dyn Registry>,
    pub target: ModelTarget,
    pub versions: Vec<registry::ModelVersion>,
    /// Every version from the oldest the rollback went from or to upward, as its verification
    /// read them after the change (stage mode).
    pub after: Option<Vec<registry::ModelVersion>>,
}

/// The versions an event concerned as they stand now, read narrowly: every version from the
/// oldest it went from or to upward (with the aliases, in alias mode). An older version was not
/// live when the plan read them all, and the event did not touch it.
fn concerned_now(
    reg: &dyn Registry,
    target: &ModelTarget,
    records: &[&Record],
) -> Result<Vec<registry::ModelVersion>> {
    let oldest = records.iter().find_map(|r| match &r.entry {
        Entry::Started { from, to, .. } => Some(from.iter().copied().fold(*to, u64::min)),
        _ => None,
    });
    let Some(oldest) = oldest else {
        return Ok(load_versions(reg, target)?.1);
    };
    let name = &target.registered_name;
    let mut vs = reg.versions_from(name, oldest)?;
    if let registry::LiveMode::Alias(_) = target.mode {
        registry::attach_aliases(&reg.get_model(name)?, &mut vs);
    }
    Ok(vs)
}

/// The versions an event concerned (those its plan moved or tagged, and every version live
/// before or after it), newest first, each before and after the event: "before" undoes the
/// event's own stage and alias steps on what the registry shows at its close.
fn version_facts(records: &[&Record], versions: &[registry::ModelVersion]) -> Vec<VersionFact> {
    use crate::plan::Step;
    use registry::Stage;
    let detail: &[Step] = records
        .iter()
        .rev()
        .find_map(|r| match &r.entry {
            Entry::Plan { detail, .. } => Some(detail.as_slice()),
            _ => None,
        })
        .unwrap_or(&[]);
    let mut out = Vec::new();
    for v in versions.iter().rev() {
        let mut stage = v.stage;
        let mut aliases = v.aliases.clone();
        let mut touched = false;
        for step in detail {
            match step {
                Step::Stage { version, from, .. } if *version == v.version => {
                    stage = *from;
                    touched = true;
                }
                Step::Alias {
                    alias,
                    version,
                    previous,
                } => {
                    if *version == v.version {
                        aliases.retain(|a| a != alias);
                        touched = true;
                    }
                    if *previous == Some(v.version) && !aliases.contains(alias) {
                        aliases.push(alias.clone());
                        aliases.sort();
                        touched = true;
                    }
                }
                Step::Tags { version, .. } if *version == v.version => touched = true,
                _ => {}
            }
        }
        let live = |s: Stage, a: &[String]| s == Stage::Production || !a.is_empty();
        if touched || live(stage, &aliases) || live(v.stage, &v.aliases) {
            out.push(VersionFact {
                version: v.version,
                before: place(&stage, &aliases),
                after: place(&v.stage, &v.aliases),
            });
        }
    }
    out
}

/// A markdown table of change rows.
fn change_table(rows: &[&ChangeFact]) -> String {
    let esc = crate::report::escape_md;
    let mut s = String::from("| Time (UTC) | Component | Change |\n|---|---|---|\n");
    for c in rows {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            c.at.format("%Y-%m-%d %H:%M:%S"),
            esc(&c.component),
            esc(&c.what)
        ));
    }
    s
}

/// The "What Changed" section of the incident report of one event, from the facts its close
/// froze into the journal. An event closed before mlrb froze them is read from the registry
/// now, and says so. `None` when there is nothing to state.
pub fn report_section(ctx: &Ctx, records: &[&Record]) -> Option<String> {
    let Some(Entry::ReportFacts {
        changes,
        hint,
        versions,
        unavailable,
        ..
    }) = facts_of(records)
    else {
        return live_section(ctx, records);
    };
    let esc = crate::report::escape_md;
    let mut s = String::from("## What Changed\n\n");
    s.push_str(&format!(
        "As recorded when the event closed: the {REPORT_WINDOW_HOURS} hours before the rollback.\n\n"
    ));
    if changes.is_empty() {
        s.push_str("No change recorded in the registry, the journal or the feature pipeline in that window.\n");
    } else {
        let rows: Vec<&ChangeFact> = changes.iter().take(20).collect();
        s.push_str(&change_table(&rows));
        if changes.len() > rows.len() {
            s.push_str(&format!(
                "\n… and {} older changes.\n",
                changes.len() - rows.len()
            ));
        }
    }
    if !hint.is_empty() {
        s.push_str(&format!("\n**Hint:** {}\n", esc(hint)));
    }
    if !versions.is_empty() {
        s.push_str("\n| Version | Before the rollback | After it |\n|---|---|---|\n");
        for v in versions {
            s.push_str(&format!(
                "| v{} | {} | {} |\n",
                v.version,
                esc(&v.before),
                esc(&v.after)
            ));
        }
    }
    for u in unavailable {
        s.push_str(&format!("\nNot read when the event closed: {}\n", esc(u)));
    }
    Some(s)
}

/// The "What Changed" section read from the registry now, for an event whose journal has no
/// frozen facts.
fn live_section(ctx: &Ctx, records: &[&Record]) -> Option<String> {
    let (model, mode, detected, started) = started_of(records)?;
    let target = ctx
        .settings
        .model(&model, mode.strip_prefix("alias @"))
        .ok()?;
    let reg = ctx.registry().ok()?;
    let since = started - chrono::Duration::hours(REPORT_WINDOW_HOURS);
    let t = timeline(ctx, reg.as_ref(), &target, since, detected, false, false).ok()?;
    let esc = crate::report::escape_md;
    let mut s = String::from("## What Changed\n\n");
    s.push_str(
        "Read from the registry now (this event closed before mlrb recorded what it saw).\n\n",
    );
    if t.changes.is_empty() {
        s.push_str("No change recorded in the registry, the journal or the feature pipeline in the 24 hours before the rollback.\n");
    } else {
        let facts: Vec<ChangeFact> = t.changes.iter().take(20).map(fact).collect();
        let rows: Vec<&ChangeFact> = facts.iter().collect();
        s.push_str(&change_table(&rows));
    }
    s.push_str(&format!("\n**Hint:** {}\n", esc(&t.hint)));
    Some(s)
}

fn fact(c: &Change) -> ChangeFact {
    ChangeFact {
        at: c.at,
        component: c.component.to_string(),
        what: c.what.clone(),
        source: c.source.to_string(),
    }
}

/// The report's "Since Then" section: what the registry and the journal show now that the
/// event's frozen facts do not — changes not in its record, versions whose place moved since.
/// `None` when nothing is new (or the event has no frozen facts).
pub fn since_section(ctx: &Ctx, records: &[&Record]) -> Option<String> {
    let Some(Entry::ReportFacts {
        since,
        changes,
        versions,
        ..
    }) = facts_of(records)
    else {
        return None;
    };
    let (model, mode, _, _) = started_of(records)?;
    let target = ctx
        .settings
        .model(&model, mode.strip_prefix("alias @"))
        .ok()?;
    let esc = crate::report::escape_md;
    let head = format!(
        "## Since Then\n\nRead now ({} UTC), not part of the record above.\n\n",
        clock::now().format("%Y-%m-%d %H:%M:%S")
    );
    let reg = match ctx.registry() {
        Ok(r) => r,
        Err(e) => return Some(format!("{head}Not read: {}\n", esc(&format!("{e:#}")))),
    };
    let t = match timeline(ctx, reg.as_ref(), &target, *since, None, false, false) {
        Ok(t) => t,
        Err(e) => return Some(format!("{head}Not read: {}\n", esc(&format!("{e:#}")))),
    };
    let new: Vec<ChangeFact> = t
        .changes
        .iter()
        .map(fact)
        .filter(|c| !changes.contains(c))
        .collect();
    let now: Vec<registry::ModelVersion> = load_versions(reg.as_ref(), &target)
        .map(|(_, vs)| vs)
        .unwrap_or_default();
    let mut moved = Vec::new();
    for v in versions {
        let place_now = now
            .iter()
            .find(|n| n.version == v.version)
            .map(|n| place(&n.stage, &n.aliases))
            .unwrap_or_else(|| "deleted".into());
        if place_now != v.after {
            moved.push(format!(
                "- v{}: {} after the rollback, {} now\n",
                v.version,
                esc(&v.after),
                esc(&place_now)
            ));
        }
    }
    if new.is_empty() && moved.is_empty() {
        return None;
    }
    let mut s = head;
    if !new.is_empty() {
        let rows: Vec<&ChangeFact> = new.iter().take(20).collect();
        s.push_str(&change_table(&rows));
        if !moved.is_empty() {
            s.push('\n');
        }
    }
    for m in moved {
        s.push_str(&m);
    }
    Some(s)
}
