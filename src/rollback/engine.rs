//! The one rollback flow. Every guarantee the README makes of a rollback lives here once:
//! never plan over an unfinished rollback, one rollback of a target at a time, the plan before
//! anything changes, the confirmation, the journal written ahead of each step, verification,
//! MTTR and the report, the same `--dry-run`, `-o json` and `--quiet` for every kind.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{Kind, Plan, Planned, Request};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Journal, Record, new_event_id};
use crate::metrics::{Baseline, ModelMetrics};
use crate::rollback::close::{close_event, outcome_of};
use crate::rollback::prompt::{Confirmation, confirm};
use crate::testhooks::crash_point;

/// Runs `kind` for `req` from the guard to the report; returns the exit status.
pub fn run(ctx: &Ctx, kind: &dyn Kind, req: &Request) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    let subject = kind.subject();
    // An unreadable journal must stop a rollback: it is what tells an unfinished one.
    let mut records = read_journal(ctx)?;
    let mut open: Vec<String> =
        crate::journal::open_events(&records, subject.command, &subject.target, &subject.place)
            .into_iter()
            .map(str::to_string)
            .collect();
    // Another machine's unfinished rollback, found in the registry: this journal takes over
    // its record, and the same event is finished here.
    if req.resume
        && open.is_empty()
        && let Some((event, entries)) = kind.unfinished_elsewhere(req)?
    {
        let mut journal = Journal::new(&ctx.settings.state_dir, &event);
        for e in entries {
            journal.append(e);
        }
        records = read_journal(ctx)?;
        open.push(event);
    }
    // An unfinished rollback made obsolete (a new deploy since, say) is closed as abandoned,
    // on the record, before a fresh plan; nothing else is changed.
    if let Some(ev) = &req.abandon {
        if req.dry_run {
            return Err(CliError::usage(
                "--abandon closes a rollback on the record, which a dry run does not do",
            )
            .with_hint("look first with `mlrb status`, then abandon without --dry-run")
            .into());
        }
        if req.resume {
            return Err(CliError::usage("--abandon and --resume exclude each other")
                .with_hint("abandon the interrupted rollback, or finish it, not both")
                .into());
        }
        let local = open.iter().any(|e| e == ev);
        if !kind.abandon(ev)? && !local {
            return Err(CliError::usage(format!(
                "{ev} is not an unfinished rollback of {} (unfinished here: {})",
                subject.target,
                if open.is_empty() {
                    "none".to_string()
                } else {
                    open.join(", ")
                }
            ))
            .with_hint(format!(
                "`mlrb status {}` shows unfinished rollbacks",
                req.model
            ))
            .into());
        }
        let mut journal = Journal::new(&ctx.settings.state_dir, ev);
        journal.append(Entry::Finished {
            outcome: "abandoned".into(),
            message: format!(
                "abandoned by {} before a new plan{}",
                req.who,
                if req.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", req.reason)
                }
            ),
        });
        p.status(&format!("{ev} is closed as abandoned; planning afresh"));
        open.retain(|e| e != ev);
    }
    // A rollback whose changes were made but have not taken effect (serving never converged)
    // is finished by running the same command again: that is a resume, said as such.
    let rerun_finishes = !req.resume
        && open.last().is_some_and(|e| {
            crate::journal::last_outcome(&records, e) == Some(crate::journal::NOT_CONVERGED)
        });
    if rerun_finishes && let Some(e) = open.last() {
        p.status(&format!(
            "rollback {e} of {} made its changes, but they had not taken effect; this run checks them again and finishes it",
            subject.target
        ));
    }
    let resuming: Option<&Record> = match (open.last(), req.resume || rerun_finishes) {
        (Some(event), true) => records
            .iter()
            .find(|r| r.event == *event && matches!(r.entry, Entry::Started { .. })),
        (None, true) => {
            return Err(CliError::usage(format!(
                "no interrupted {} of {} in the journal {}",
                subject.command,
                subject.target,
                Journal::path_in(&ctx.settings.state_dir).display()
            ))
            .with_hint(
                "`mlrb status` shows interrupted rollbacks; without one, run the rollback itself",
            )
            .into());
        }
        (Some(event), false) => {
            // A fresh plan over it would go one step further back (or undo the undo).
            return Err(CliError::usage(format!(
                "rollback {event} of {} ({}) was interrupted or failed before it finished",
                subject.target, subject.command
            ))
            .with_hint(format!(
                "`mlrb status {}` shows what was done; finish it with `mlrb {} {} --resume`",
                req.model, subject.command, req.model
            ))
            .into());
        }
        (None, false) => None,
    };
    // Taken before the world is read, so two engineers never plan from the same state.
    let _lock = if req.dry_run {
        None
    } else {
        crate::lock::acquire(
            &ctx.settings.state_dir,
            &format!("{}|{}", subject.place, subject.target),
            &subject.target,
            &req.who,
        )?
    };
    let plan = match kind.plan(ctx, req, resuming)? {
        Planned::Plan(plan) => plan,
        Planned::Nothing {
            outcome,
            message,
            mut view,
        } => {
            p.status(&message);
            if p.json() {
                view.insert("event_id".into(), serde_json::Value::Null);
                view.insert("outcome".into(), outcome.into());
                view.insert("message".into(), message.into());
                view.insert("model".into(), req.model.clone().into());
                p.out_json(&view);
            }
            return Ok(ExitStatus::Success);
        }
    };
    if !p.json() {
        p.out(&plan.text);
        // The absolute time the MTTR's detection phase starts from, whatever form was typed.
        if let Some(t) = req.detected_at {
            p.out(&format!(
                "  breach began: {}{}\n",
                crate::clock::fmt(t),
                req.detected_note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
        }
    }
    let lines = plan_lines(&plan);
    if req.dry_run {
        p.status("dry run: nothing was changed");
        if p.json() {
            let mut v = view(
                &plan,
                req,
                None,
                "dry_run",
                "nothing was changed",
                (&subject, &kind.command()),
            );
            if let Some(t) = req.detected_at {
                v.insert("detected_at".into(), crate::clock::fmt(t).into());
            }
            p.out_json(&v);
        }
        return Ok(ExitStatus::Success);
    }
    for n in &plan.notes {
        p.warn(n);
    }
    let mm = metrics_for(ctx, &req.model);
    let baseline = mm.as_ref().and_then(|_| kind.baseline());
    // The claim (a lease where every machine looks) is taken after the confirmation and
    // before anything is written or changed; a refused claim leaves no trace of the event.
    let claim = |event: &str| -> anyhow::Result<Option<Box<dyn std::any::Any>>> {
        match &plan.claim {
            Some(claim) => Ok(Some(claim(event)?)),
            None => Ok(None),
        }
    };
    let (event, mut journal, _claim) = match resuming {
        Some(started) => {
            let held = claim(&started.event)?;
            let mut journal = Journal::new(&ctx.settings.state_dir, &started.event);
            journal.append(Entry::Resumed {
                how: match (rerun_finishes, req.yes) {
                    (true, true) => "re-run --yes".into(),
                    (true, false) => "re-run".into(),
                    (false, true) => "--resume --yes".into(),
                    (false, false) => "--resume".into(),
                },
            });
            (started.event.clone(), journal, held)
        }
        None => {
            let detection = match (req.detected_at, &mm) {
                (None, Some(mm)) => detect(ctx, mm, baseline.as_ref(), req.started_at),
                _ => None,
            };
            let how = match confirm(p, req.yes, &plan.question)? {
                Confirmation::Yes(how) => how,
                Confirmation::Declined => {
                    p.status("declined: nothing was changed");
                    return Ok(ExitStatus::Refused);
                }
            };
            let event = new_event_id("rollback");
            let held = claim(&event)?;
            crash_point("claimed", 0);
            let journal = start_event(
                ctx,
                &event,
                (&subject, kind),
                &plan,
                req,
                &lines,
                how,
                &detection,
            );
            (event, journal, held)
        }
    };
    let done = resuming
        .map(|s| steps_done(&records, &s.event))
        .unwrap_or_default();
    let (status, message, pending) = execute(ctx, &plan, &mut journal, &done);
    let (status, message) = match &mm {
        Some(mm) if status == ExitStatus::Success && !req.no_verify => {
            verify_metrics(ctx, mm, baseline.as_ref(), &mut journal, message)
        }
        _ => {
            if matches!(status, ExitStatus::Success | ExitStatus::NotVerified) {
                journal.append(Entry::NotChecked {
                    what: "metrics".into(),
                    why: metrics_unchecked(ctx, &req.model, mm.is_some(), req.no_verify, status),
                });
            }
            (status, message)
        }
    };
    let ending = kind.ending(super::Ending {
        status,
        outcome: pending.unwrap_or(outcome_of(status)),
        message,
        hint: plan.failure_hint.clone(),
        view: serde_json::Map::new(),
    });
    close_event(
        ctx,
        &mut journal,
        ending.status,
        ending.outcome,
        ending.message.clone(),
        ending.hint.clone(),
        kind.take_known().as_ref(),
        |outcome, m, r| {
            let mut v = view(
                &plan,
                req,
                Some(&event),
                outcome,
                &ending.message,
                (&subject, &kind.command()),
            );
            v.extend(ending.view.clone());
            if let Some(m) = m {
                v.insert("mttr".into(), serde_json::to_value(m).unwrap_or_default());
            }
            if let Some(r) = r {
                v.insert("report".into(), r.into());
            }
            serde_json::Value::Object(v)
        },
    )
}

/// The journal, or one clear line saying why it cannot be read.
pub fn read_journal(ctx: &Ctx) -> Result<Vec<Record>, CliError> {
    crate::journal::read_all(&ctx.settings.state_dir)
        .map(|(records, _)| records)
        .map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!(
                    "cannot read the journal {}: {e}; it is what tells whether a rollback is unfinished, so nothing was changed",
                    Journal::path_in(&ctx.settings.state_dir).display()
                ),
            )
            .with_hint("fix its permissions (or point MLRB_STATE_DIR at the state directory) and run the command again")
        })
}

/// Every step line of the plan, the verification last.
fn plan_lines(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = plan.steps.iter().map(|s| s.line()).collect();
    lines.push(plan.verify_line.clone());
    lines
}

/// Every step of the plan as `-o json` shows it, the verification last: objects of one shape
/// (`StepView`), with the rollback's target where a step names none.
fn plan_views(plan: &Plan, subject: &super::Subject) -> Vec<super::StepView> {
    let mut views: Vec<super::StepView> = plan.steps.iter().map(|s| s.view()).collect();
    views.push(super::StepView {
        kind: "verify".into(),
        target: None,
        before: None,
        after: None,
        command: None,
        line: plan.verify_line.clone(),
    });
    for v in &mut views {
        if v.target.is_none() {
            v.target = Some(subject.target.clone());
        }
    }
    views
}

/// The outcome's one serde view: what every kind says, then the kind's own fields, the change
/// as a whole (typed command, tagged target, from → to) and the plan's steps as objects.
fn view(
    plan: &Plan,
    req: &Request,
    event: Option<&str>,
    outcome: &str,
    message: &str,
    (subject, command): (&super::Subject, &str),
) -> serde_json::Map<String, serde_json::Value> {
    let mut v = serde_json::Map::new();
    v.insert("event_id".into(), event.into());
    v.insert("outcome".into(), outcome.into());
    v.insert("message".into(), message.into());
    v.insert("model".into(), req.model.clone().into());
    for (k, x) in &plan.view {
        v.insert(k.clone(), x.clone());
    }
    let action = crate::journal::RollbackCommand::of(command);
    let target = crate::journal::Target::of(&action, &subject.target, &subject.place);
    v.insert(
        "change".into(),
        serde_json::json!({
            "command": action,
            "target": target,
            "mode": plan.mode,
            "before": plan.from,
            "after": (plan.to != 0).then_some(plan.to),
        }),
    );
    v.insert(
        "plan".into(),
        serde_json::to_value(plan_views(plan, subject)).unwrap_or_default(),
    );
    v
}

/// The event's header records: what, why, who, the plan, the confirmation, the detection.
#[allow(clippy::too_many_arguments)]
fn start_event(
    ctx: &Ctx,
    event: &str,
    (subject, kind): (&super::Subject, &dyn Kind),
    plan: &Plan,
    req: &Request,
    lines: &[String],
    how: String,
    detection: &Option<(DateTime<Utc>, String)>,
) -> Journal {
    let mut journal = Journal::new(&ctx.settings.state_dir, event);
    let command = kind.command();
    let action = crate::journal::RollbackCommand::of(&command);
    let target = crate::journal::Target::of(&action, &subject.target, &subject.place);
    // Only a model rollback has a registered name; the other kinds' subject is `target`.
    let registered_name = match &target {
        crate::journal::Target::Model { name, .. } => name.clone(),
        _ => String::new(),
    };
    journal.append(Entry::Started {
        command,
        action: Some(action),
        target: Some(target),
        model: req.model.clone(),
        registered_name,
        registry: subject.place.clone(),
        mode: plan.mode.clone(),
        from: plan.from.clone(),
        to: plan.to,
        to_reason: plan.to_reason.clone(),
        reason: req.reason.clone(),
        triggered_by: req.who.clone(),
        detected_at: req.detected_at.or(detection.as_ref().map(|d| d.0)),
        started_at: req.started_at,
    });
    if let Some((at, reason)) = detection {
        journal.append(Entry::Detected {
            began_at: *at,
            reason: reason.clone(),
        });
    }
    // A model rollback's report is its own; other kinds say what they rolled back.
    if !plan.summary.0.is_empty() {
        journal.append(Entry::Target {
            kind: plan.summary.0.clone(),
            summary: plan.summary.1.clone(),
        });
    }
    let (detail, live_mode) = match kind.journal_plan() {
        Some((d, m)) => (d, Some(m)),
        None => (Vec::new(), None),
    };
    journal.append(Entry::Plan {
        steps: lines.to_vec(),
        detail,
        live_mode,
    });
    journal.append(Entry::Confirmed { how });
    for n in &plan.notes {
        journal.append(Entry::Note { text: n.clone() });
    }
    for entry in kind.journal_records() {
        journal.append(entry);
    }
    journal
}

/// The steps of `event` the journal shows finished well (a resume does not run them again).
fn steps_done(records: &[Record], event: &str) -> Vec<String> {
    let mut started: Vec<(usize, String)> = Vec::new();
    let mut done = Vec::new();
    for r in records.iter().filter(|r| r.event == event) {
        match &r.entry {
            Entry::StepStarted { index, step } => started.push((*index, step.clone())),
            Entry::StepFinished {
                index, ok: true, ..
            } => {
                if let Some((_, s)) = started.iter().rev().find(|(i, _)| i == index) {
                    done.push(s.clone());
                }
            }
            _ => {}
        }
    }
    done
}

/// The step loop: each step's start is journaled before it runs; a step the journal shows done
/// (and that need not be checked again in the world), or the world shows done, is not run
/// again; the first failure stops the loop. A failed wait that leaves the event unfinished
/// comes back with the `NOT_CONVERGED` outcome.
fn execute(
    ctx: &Ctx,
    plan: &Plan,
    journal: &mut Journal,
    done_before: &[String],
) -> (ExitStatus, String, Option<&'static str>) {
    let p = &ctx.printer;
    let total = plan.steps.len() + 1;
    for (i, step) in plan.steps.iter().enumerate() {
        let line = step.line();
        // The journal's word suffices unless the step asks to be checked in the world again.
        let journaled = done_before.contains(&line);
        if (journaled && !step.recheck_on_resume()) || step.done() {
            p.status(&format!(
                "  ✓ [{}/{total}] {line}: already done, not run again",
                i + 1
            ));
            continue;
        }
        journal.append(Entry::StepStarted {
            index: i,
            step: line.clone(),
        });
        crash_point("started", i + 1);
        let bar = p.step(&format!("[{}/{total}] {line}", i + 1));
        let t0 = Instant::now();
        let result = step.run(journal.event());
        let millis = t0.elapsed().as_millis() as u64;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let (ok, detail) = match &result {
            Ok(d) => (true, d.clone()),
            Err(f) => (false, f.detail.clone()),
        };
        p.status(&format!(
            "  {} [{}/{total}] {detail} ({millis} ms)",
            if ok { "✓" } else { "✗" },
            i + 1
        ));
        journal.append(Entry::StepFinished {
            index: i,
            ok,
            detail: detail.clone(),
            millis,
        });
        if let Err(f) = result {
            let pending = step.awaits() && step.unfinished_until_done();
            let status = if step.awaits() {
                journal.append(Entry::Verified {
                    ok: false,
                    detail: f.detail.clone(),
                });
                ExitStatus::NotVerified
            } else {
                ExitStatus::Failure
            };
            let mut message = format!("step {}/{total} failed: {}", i + 1, f.detail);
            match &plan.on_failure {
                Some(put_back) => message.push_str(&put_back(i)),
                None if i == 0 => message.push_str("; nothing was changed"),
                None => {}
            }
            if let Some(h) = f.hint {
                message.push_str(&format!(". Next: {h}"));
            }
            if pending {
                message.push_str(
                    ". The rollback stays unfinished until this takes effect: run the same command again (or with --resume) to check it and finish",
                );
                return (status, message, Some(crate::journal::NOT_CONVERGED));
            }
            return (status, message, None);
        }
        crash_point("finished", i + 1);
    }
    crash_point("started", total);
    let result = crate::rollback::close::verify_step(
        p,
        journal,
        plan.steps.len(),
        plan.verify_line.clone(),
        || (plan.verify)(),
    );
    if result.is_ok() {
        crash_point("finished", total);
    }
    match result {
        Ok(_) => (ExitStatus::Success, plan.done_message.clone(), None),
        Err(d) => (
            ExitStatus::NotVerified,
            format!("{}, but not verified: {d}", plan.done_message),
            None,
        ),
    }
}

/// The model's metrics, when configured. A setup problem (its auth variable unset) never stops
/// a rollback: it goes on without metric detection or verification, and says so.
pub fn metrics_for(ctx: &Ctx, model: &str) -> Option<ModelMetrics> {
    ModelMetrics::for_model(ctx.settings.models.get(model)).unwrap_or_else(|e| {
        ctx.printer.warn(&format!(
            "metrics are off for this rollback ({}); it goes on without metric verification",
            e.message
        ));
        None
    })
}

/// Why a rollback that got this far did not verify its metrics, in the report's words.
fn metrics_unchecked(
    ctx: &Ctx,
    model: &str,
    usable: bool,
    no_verify: bool,
    status: ExitStatus,
) -> String {
    let configured = ctx
        .settings
        .models
        .get(model)
        .is_some_and(|m| m.metrics.is_some());
    match (configured, usable) {
        (false, _) => "none configured".into(),
        (true, false) => "their configuration could not be used".into(),
        (true, true) if no_verify => "--no-verify given".into(),
        (true, true) if status != ExitStatus::Success => "not reached".into(),
        (true, true) => "not run".into(),
    }
}

/// When the breach began, from Prometheus history (no `--detected-at` given).
pub fn detect(
    ctx: &Ctx,
    mm: &ModelMetrics,
    baseline: Option<&Baseline>,
    started_at: DateTime<Utc>,
) -> Option<(DateTime<Utc>, String)> {
    let p = &ctx.printer;
    let empty = Baseline {
        values: Default::default(),
        source: "none".into(),
    };
    let lookback = mm
        .cfg
        .metrics
        .as_ref()
        .and_then(|m| m.detection_lookback)
        .unwrap_or(std::time::Duration::from_secs(3600));
    match mm.breach_start(baseline.unwrap_or(&empty), lookback) {
        Ok(Some((t, why))) => {
            p.status(&format!(
                "breach began at {} UTC (Prometheus history): {why}",
                t.format("%H:%M:%S")
            ));
            // The latest sample can be a few ms past the start of this command.
            Some((t.min(started_at), why))
        }
        Ok(None) => {
            p.status(&format!(
                "no breach in the last {} of Prometheus history: the detection phase is not measured",
                humantime::format_duration(lookback)
            ));
            None
        }
        Err(e) => {
            p.warn(&format!(
                "cannot search Prometheus history for the breach start: {e}"
            ));
            None
        }
    }
}

/// The verification phase on metrics: waits until every metric is back within tolerance of the
/// baseline with no hard breach, or the timeout.
pub fn verify_metrics(
    ctx: &Ctx,
    mm: &ModelMetrics,
    baseline: Option<&Baseline>,
    journal: &mut Journal,
    message: String,
) -> (ExitStatus, String) {
    use crate::metrics::{decision, fmt_snapshot};
    let p = &ctx.printer;
    let v = &mm.cfg.verify;
    let base = baseline.map(Baseline::as_values).unwrap_or_default();
    let tol = format!("{:.0}%", v.tolerance * 100.0);
    p.status(&format!(
        "verifying metrics: waiting up to {} for every metric within {tol} of baseline and no hard breach",
        humantime::format_duration(v.timeout)
    ));
    let deadline = Instant::now() + v.timeout;
    let mut last;
    loop {
        match mm.read(None) {
            Ok(snap) => {
                let line = fmt_snapshot(&snap);
                match decision::recovered(
                    &snap.values,
                    &base,
                    &mm.cfg.thresholds,
                    mm.custom(),
                    v.tolerance,
                ) {
                    Ok(()) => {
                        p.status(&format!("  ✓ metrics recovered: {line}"));
                        journal.append(Entry::MetricsVerified {
                            ok: true,
                            detail: format!("every metric within {tol} of baseline: {line}"),
                        });
                        // The event's close says "metrics back to baseline" with the rest.
                        return (ExitStatus::Success, message);
                    }
                    Err(why) => {
                        p.status(&format!("  … {line} — {why}"));
                        last = why;
                    }
                }
            }
            Err(e) => {
                p.status(&format!("  … metrics unavailable: {e}"));
                last = format!("metrics unavailable: {e}");
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep(v.interval.min(deadline - now));
    }
    journal.append(Entry::MetricsVerified {
        ok: false,
        detail: last.clone(),
    });
    (
        ExitStatus::NotVerified,
        format!(
            "{message}, but metrics did not recover within {}: {last}",
            humantime::format_duration(v.timeout)
        ),
    )
}
