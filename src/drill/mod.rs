//! The drill: a rehearsed incident — healthy, breach, detect, roll back, verify, restore — with
//! the MTTR of every drill kept in `drills.jsonl` and compared with the earlier ones. The
//! sandbox rehearses on a throwaway registry with metrics the drill serves itself; staging runs
//! against the configured registry, serving and Prometheus, and puts everything back as it was.

pub mod history;
pub mod restore;
pub mod sandbox;
pub mod staging;
mod synthetic;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Record};
use crate::metrics::decision::Decision;
use crate::metrics::{Baseline, ModelMetrics, fmt_snapshot};
use crate::mttr::Mttr;
use crate::registry::Registry;
use history::{DrillRecord, append_history, read_history, trend};
use restore::{RegState, diff, restore, snapshot};

/// Who rolls back in a drill (`--mode`), as the history keeps it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The on-call path: an alert, then `rollback model --yes`
    #[default]
    Manual,
    /// The controller path: `watch` notices the breach and rolls back by itself
    Auto,
}

/// A drill that ran to its end (passed or not), recorded in the history: what the command
/// renders and turns into an exit code.
pub struct Finished {
    pub record: DrillRecord,
    /// The earlier drills of this model, oldest first.
    pub earlier: Vec<DrillRecord>,
    /// This drill's MTTR against the earlier ones of the same mode and place.
    pub trend: String,
    pub mttr: Mttr,
    pub objective: Option<Duration>,
    /// The rollback ran and its journal says rolled_back.
    pub rollback_ok: bool,
    /// A sandbox's directory, removed when dropped unless kept for inspection.
    pub sandbox_dir: Option<tempfile::TempDir>,
}

/// Everything the second half of a drill (respond, measure, restore, record) needs.
struct Rehearsal {
    id: String,
    model: String,
    registered: String,
    mode: Mode,
    sandbox: bool,
    breach: String,
    started_at: DateTime<Utc>,
    wall: Instant,
    /// Where the rollback runs: the sandbox's settings, or the user's own for staging.
    inner: Ctx,
    reg: Box<dyn Registry>,
    before: RegState,
    objective: Option<Duration>,
    /// How long detection and the rollback may take.
    limit: Duration,
    /// The staging drill's saved pre-drill state, removed once the restore is checked.
    pending: Option<PathBuf>,
}

/// Steps 3–5 of every drill and its record: the rollback (by the on-call or the controller), the
/// MTTR from the journal, the restore and its check, and the history.
fn conclude(
    ctx: &Ctx,
    r: &Rehearsal,
    mm: &ModelMetrics,
    base: &Baseline,
    undo: Box<dyn FnOnce() -> Vec<String> + '_>,
    sandbox_dir: Option<tempfile::TempDir>,
) -> Result<Finished> {
    let p = &ctx.printer;
    let model = r.model.as_str();
    let mode = r.mode;
    let id = &r.id;
    // 3. Detection and rollback, by the on-call (manual) or by the controller (auto).
    let rolled = match mode {
        Mode::Manual => manual(&r.inner, mm, base, model, r.limit),
        Mode::Auto => {
            let ctl = r.inner.settings.models.get(model).map(|m| &m.controller);
            p.status(&format!(
                "[3/5] `mlrb watch`: checking every {}, rollback after {} consecutive hard breaches",
                humantime::format_duration(ctl.map(|c| c.check_interval).unwrap_or_default()),
                ctl.map(|c| c.consecutive_failures_required).unwrap_or_default()
            ));
            crate::watch::until_rollback(&r.inner, model, r.limit).map(|done| {
                if done {
                    ExitStatus::Success
                } else {
                    ExitStatus::Failure
                }
            })
        }
    };
    if let Err(e) = &rolled {
        p.warn(&format!("the drill's rollback failed: {e:#}"));
    }

    // 4. MTTR from the journal: the model rollback this drill started.
    let (records, _) = crate::journal::read_all(&r.inner.settings.state_dir).unwrap_or_default();
    let event = records.iter().rev().find_map(|rec| match &rec.entry {
        Entry::Started {
            command, model: m, ..
        } if command == "rollback model" && m == model && rec.at >= r.started_at => {
            Some(rec.event.clone())
        }
        _ => None,
    });
    let mine: Vec<&Record> = records
        .iter()
        .filter(|rec| Some(&rec.event) == event.as_ref())
        .collect();
    let outcome = mine
        .iter()
        .find_map(|rec| match &rec.entry {
            Entry::Finished { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "none".into());
    let mttr = crate::mttr::from_records(&mine);
    p.status(&format!("[4/5] rollback outcome: {outcome}"));

    // 5. Restore the registry (and serving) as they were before the drill, and check it.
    let restore_err = restore(r.reg.as_ref(), &r.registered, &r.before).err();
    let problems = undo();
    let mut differences = match snapshot(r.reg.as_ref(), &r.registered) {
        Ok(after) => diff(&r.before, &after),
        Err(e) => vec![format!("cannot read the registry back: {e}")],
    };
    if let Some(e) = restore_err {
        differences.insert(0, format!("restore failed: {e}"));
    }
    differences.extend(problems);
    if let (true, Some(path)) = (differences.is_empty(), &r.pending) {
        let _ = std::fs::remove_file(path);
    }
    p.status(&if differences.is_empty() {
        "[5/5] restored: stages, aliases and tags are exactly as before the drill".to_string()
    } else {
        format!(
            "[5/5] NOT restored: {} difference(s) from the pre-drill state",
            differences.len()
        )
    });

    let ms = |name: &str| {
        mttr.phases
            .iter()
            .find(|ph| ph.name == name)
            .and_then(|ph| ph.millis)
    };
    let objective = r.objective;
    let objective_met =
        objective.map(|o| mttr.complete && mttr.total_millis as u128 <= o.as_millis());
    let rollback_ok = matches!(rolled, Ok(ExitStatus::Success)) && outcome == "rolled_back";
    let rec = DrillRecord {
        id: id.clone(),
        model: model.to_string(),
        mode,
        sandbox: r.sandbox,
        breach: Some(r.breach.clone()),
        started_at: r.started_at,
        event: event.clone().filter(|_| !r.sandbox),
        wall_millis: r.wall.elapsed().as_millis() as u64,
        detection_millis: ms("detection"),
        triage_millis: ms("triage"),
        execution_millis: ms("execution"),
        verification_millis: ms("verification"),
        mttr_millis: mttr.total_millis,
        mttr_complete: mttr.complete,
        rollback: outcome.clone(),
        restored: differences.is_empty(),
        differences: differences.clone(),
        objective_millis: objective.map(|o| o.as_millis() as u64),
        objective_met,
        passed: rollback_ok && differences.is_empty() && objective_met != Some(false),
    };
    let earlier: Vec<DrillRecord> = read_history(&ctx.settings.state_dir)?
        .into_iter()
        .filter(|h| h.model == model)
        .collect();
    append_history(&ctx.settings.state_dir, &rec)?;
    let same_mode: Vec<DrillRecord> = earlier
        .iter()
        .filter(|h| h.mode == mode && h.sandbox == r.sandbox)
        .cloned()
        .collect();
    let trend = trend(&same_mode, &rec);
    Ok(Finished {
        record: rec,
        earlier,
        trend,
        mttr,
        objective,
        rollback_ok,
        sandbox_dir,
    })
}

/// The on-call path: an alert that fires once the breach has held for a second, then
/// `mlrb rollback model MODEL --yes`.
fn manual(
    ctx: &Ctx,
    mm: &ModelMetrics,
    base: &Baseline,
    model: &str,
    limit: Duration,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let deadline = Instant::now() + limit;
    let mut first: Option<Instant> = None;
    loop {
        let snap = mm.read(None).map_err(CliError::from)?;
        let e = mm.decide(&snap.values, base);
        if e.decision == Decision::RollbackNow {
            let since = *first.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(1) {
                p.status(&format!(
                    "[3/5] alert fired: {} [{}]; on-call runs `mlrb rollback model {model} --yes`",
                    e.reason,
                    fmt_snapshot(&snap)
                ));
                break;
            }
        } else {
            first = None;
        }
        if Instant::now() >= deadline {
            return Err(CliError::new(
                ExitStatus::Failure,
                format!(
                    "the breach was not seen by the metrics client within {}",
                    humantime::format_duration(limit)
                ),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    crate::rollback::kinds::model::unattended(
        ctx,
        &crate::rollback::Request::unattended(
            model,
            "drill: prediction diversity collapse".into(),
            "mlrb-drill",
            None,
        ),
        None,
        None,
    )
}
