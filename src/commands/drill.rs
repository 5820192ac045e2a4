//! `mlrb drill`: arguments → a sandbox or staging drill, its restore, or the history (src/drill/)
//! → the drill's report, the history table and the exit code.

use serde_json::json;

use crate::cli::DrillArgs;
use crate::clock;
use crate::context::{Ctx, Result};
use crate::drill::history::{
    DrillRecord, history_path, mode_name, newest_trend, read_history, table,
};
use crate::drill::{Finished, restore, sandbox, staging};
use crate::error::{CliError, ExitStatus};

pub fn run(ctx: &Ctx, args: &DrillArgs) -> Result<ExitStatus> {
    if args.history {
        return history(ctx, args.model.as_deref());
    }
    let model = args
        .model
        .as_deref()
        .expect("clap requires MODEL without --history");
    let objective = args.mttr_objective.or_else(|| {
        ctx.settings
            .models
            .get(model)
            .and_then(|m| m.drill.mttr_objective)
    });
    let finished = if args.restore {
        return restore_interrupted(ctx, model, args.yes);
    } else if args.sandbox {
        sandbox::run(ctx, model, args.mode, objective)?
    } else {
        let prepared = staging::prepare(ctx, model)?;
        let p = &ctx.printer;
        p.status(&format!(
            "drill {}: {model} ({}) on {}, v{} live under {}; metrics from {}",
            prepared.id,
            prepared.name,
            prepared.location,
            prepared.live,
            prepared.mode,
            prepared.prometheus_url
        ));
        p.status(&format!(
            "the drill will: {}; wait up to {} for the {} rollback; then put stages, aliases, tags and serving back as they are now",
            prepared.what,
            humantime::format_duration(prepared.limit),
            mode_name(args.mode)
        ));
        if let crate::rollback::prompt::Confirmation::Declined = crate::rollback::prompt::confirm(
            p,
            args.yes,
            "Run this drill against the configured registry?",
        )? {
            return Err(
                CliError::new(ExitStatus::Refused, "drill not started: nothing changed").into(),
            );
        }
        staging::run(ctx, prepared, args.mode, objective)?
    };
    render(ctx, finished)
}

/// The drill's report on stdout (markdown, or JSON with `-o json`), then its exit code: a drill
/// passes when it rolled back, restored the registry exactly, and met its MTTR objective.
fn render(ctx: &Ctx, f: Finished) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let Finished {
        record: rec,
        earlier,
        trend,
        mttr,
        objective,
        rollback_ok,
        sandbox_dir,
    } = f;
    let (id, model, outcome) = (&rec.id, &rec.model, &rec.rollback);
    let differences = &rec.differences;
    if p.json() {
        p.out_json(&json!({"drill": rec, "trend": trend, "earlier": earlier}));
    } else {
        let mut s = format!(
            "\n# Drill {id}: {model} ({} mode, {})\n\n",
            mode_name(rec.mode),
            if rec.sandbox { "sandbox" } else { "staging" }
        );
        s.push_str(&format!("{}\n", mttr.markdown()));
        s.push_str(&format!(
            "- breach: {}\n- rollback: {outcome}{}\n- registry restored: {}\n",
            rec.breach.as_deref().unwrap_or_default(),
            rec.event
                .as_deref()
                .map(|e| format!(" (event {e}; `mlrb report {e}`)"))
                .unwrap_or_default(),
            if differences.is_empty() {
                "yes, exactly".to_string()
            } else {
                format!("NO — {}", differences.join("; "))
            }
        ));
        if let Some(o) = objective {
            s.push_str(&format!(
                "- MTTR objective {}: {}\n",
                humantime::format_duration(o),
                if rec.objective_met == Some(true) {
                    "met"
                } else {
                    "MISSED"
                }
            ));
        }
        s.push_str(&format!(
            "- trend: {trend}\n- wall time: {:.1} s\n",
            rec.wall_millis as f64 / 1000.0
        ));
        if !earlier.is_empty() {
            s.push_str("\nEarlier drills of this model:\n\n");
            s.push_str(&table(&earlier));
        }
        p.out(&s);
    }

    if !differences.is_empty() {
        let hint = match sandbox_dir {
            Some(tmp) => format!(
                "the sandbox registry is kept for inspection: {}",
                tmp.keep().join("registry.json").display()
            ),
            None => format!(
                "retry with `mlrb drill {model} --restore`, or put them back by hand (`mlrb status {model}` shows the registry now)"
            ),
        };
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "the drill did not restore the pre-drill state: {}",
                differences.join("; ")
            ),
        )
        .with_hint(hint)
        .into());
    }
    if !rollback_ok {
        return Err(CliError::new(
            ExitStatus::Failure,
            format!("the drill's rollback did not complete (outcome: {outcome})"),
        )
        .with_hint("the messages above say which step failed")
        .into());
    }
    if let (Some(o), Some(false)) = (objective, rec.objective_met) {
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "MTTR {} missed the objective of {}",
                clock::human(chrono::Duration::milliseconds(mttr.total_millis)),
                humantime::format_duration(o)
            ),
        )
        .with_hint("the phase table shows where the time went")
        .into());
    }
    p.status(&format!("drill {id} passed"));
    Ok(ExitStatus::Success)
}

/// `mlrb drill MODEL --restore`: shows what an interrupted staging drill left changed, asks,
/// and puts the pre-drill state back.
fn restore_interrupted(ctx: &Ctx, model: &str, yes: bool) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let found = restore::interrupted(ctx, model)?;
    let pending = &found.pending;
    p.status(&format!(
        "drill {} of {model} (started {}) was interrupted; {} difference(s) from its pre-drill state in {}:",
        pending.id,
        pending.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        found.changes.len(),
        pending.registry
    ));
    for c in &found.changes {
        p.status(&format!("  - {c}"));
    }
    p.status(&format!(
        "the restore puts them back and reloads serving on v{}{}",
        pending.live,
        if pending.inject_url.is_some() {
            ", and stops the injected fault"
        } else {
            ""
        }
    ));
    if let crate::rollback::prompt::Confirmation::Declined =
        crate::rollback::prompt::confirm(p, yes, "Restore the pre-drill state?")?
    {
        return Err(CliError::new(ExitStatus::Refused, "not restored: nothing changed").into());
    }
    let (id, live) = (pending.id.clone(), pending.live);
    restore::put_back(ctx, model, found)?;
    p.status(&format!(
        "drill {id} restored: stages, aliases and tags are exactly as before it, serving on v{live}"
    ));
    Ok(ExitStatus::Success)
}

/// `mlrb drill --history`: the records, newest first, with the trend of the newest.
fn history(ctx: &Ctx, model: Option<&str>) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let recs: Vec<DrillRecord> = read_history(&ctx.settings.state_dir)?
        .into_iter()
        .filter(|r| model.is_none_or(|m| r.model == m))
        .collect();
    let trend_text = newest_trend(&recs);
    if p.json() {
        let mut newest_first = recs.clone();
        newest_first.reverse();
        p.out_json(&json!({"drills": newest_first, "trend": trend_text}));
        return Ok(ExitStatus::Success);
    }
    if recs.is_empty() {
        p.status(&format!(
            "no drills recorded in {}; run `mlrb drill MODEL --sandbox`",
            history_path(&ctx.settings.state_dir).display()
        ));
        return Ok(ExitStatus::Success);
    }
    let spark = recs
        .last()
        .and_then(|last| mttr_sparkline(&recs, last))
        .map(|s| format!("\n{s}"))
        .unwrap_or_default();
    p.out(&format!("{}\ntrend: {trend_text}{spark}", table(&recs)));
    Ok(ExitStatus::Success)
}

/// The MTTR of the drills like `last` (same model and mode), oldest to newest, as a sparkline
/// with its range: "MTTR of 5 drills like it, oldest to newest: ▃▁█▂▁ (1.2s–9.8s)". `None`
/// under two.
fn mttr_sparkline(recs: &[DrillRecord], last: &DrillRecord) -> Option<String> {
    let same: Vec<&DrillRecord> = recs
        .iter()
        .filter(|r| r.model == last.model && r.mode == last.mode)
        .collect();
    let shown = &same[same.len().saturating_sub(40)..];
    if shown.len() < 2 {
        return None;
    }
    let values: Vec<f64> = shown.iter().map(|r| r.mttr_millis as f64).collect();
    let ms = |v: f64| crate::clock::human(chrono::Duration::milliseconds(v as i64));
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    Some(format!(
        "MTTR of {} drills like it, oldest to newest: {} ({}–{})",
        shown.len(),
        crate::chart::sparkline(&values),
        ms(lo),
        ms(hi)
    ))
}
