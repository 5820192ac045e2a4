//! `mlrb rollback model`: plan → confirm → execute → verify → journal → MTTR → report.

use super::close_event;
use std::time::Instant;

use serde::Serialize;

use super::{Confirmation, clean_reason, confirm, detected_at, tag_reason, triggered_by};
use crate::cli::ModelRollbackArgs;
use crate::clock;
use crate::commands::{Ctx, Result, load_versions, parse_version};
use crate::config::Fallback;
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Journal, new_event_id};
use crate::metrics::{Baseline, ModelMetrics, decision, fmt_snapshot};
use crate::plan::{self, Plan, Step};
use crate::registry::{self, LiveMode, ModelVersion, Registry, Stage, tags};
use crate::select::{self, NO_TARGET_ADVICE};
use crate::{mttr, serving};

#[derive(Serialize)]
struct Outcome<'a> {
    event_id: Option<&'a str>,
    outcome: &'a str,
    message: &'a str,
    model: &'a str,
    from: &'a [u64],
    to: u64,
    plan: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mttr: Option<mttr::Mttr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

pub fn run(ctx: &Ctx, args: &ModelRollbackArgs) -> Result<ExitStatus> {
    let started_at = clock::now();
    let p = &ctx.printer;
    // Every input is checked before the registry is touched.
    let target = ctx.settings.model(&args.model, args.alias.as_deref())?;
    let fallback = if args.fallback {
        let f = ctx
            .settings
            .models
            .get(&args.model)
            .and_then(|m| m.fallback.clone())
            .ok_or_else(|| {
                CliError::usage(format!("no fallback is configured for `{}`", args.model)).with_hint(format!(
                    "add [models.{}.fallback] with `version = N` (a pre-built, tested version) or `switch = \"kubectl-set-env\"` / `\"service-selector\"` (a switch in the serving layer) to mlrb.toml",
                    args.model
                ))
            })?;
        // Checked when the config was read; an error here is one the checks missed.
        let kind = f
            .resolve()
            .map_err(|e| CliError::usage(format!("[models.{}.fallback] {e}", args.model)))?;
        match kind {
            Fallback::Switch(sw) => {
                return super::fallback::run(ctx, args, &sw, f.description.as_deref());
            }
            Fallback::Version(n) if args.end => {
                return Err(CliError::usage(format!(
                    "--end switches a serving-switch fallback off, but the fallback of `{}` is registry version {n}",
                    args.model
                ))
                .with_hint(format!(
                    "to leave it, roll to another version: mlrb rollback model {} --to V",
                    args.model
                ))
                .into());
            }
            Fallback::Version(n) => Some((n, f.description.clone())),
        }
    } else {
        None
    };
    let to = match &fallback {
        Some((n, _)) => Some(*n),
        None => args.to.as_deref().map(parse_version).transpose()?,
    };
    let detected = detected_at(args.common.detected_at.as_deref())?;
    let who = triggered_by(args.common.triggered_by.as_deref())?;
    let reason = clean_reason(args.common.reason.as_deref());
    // A metrics setup problem (say, its auth variable unset) must not stop a rollback at 2 AM.
    let mm = ModelMetrics::for_model(ctx.settings.models.get(&args.model)).unwrap_or_else(|e| {
        p.warn(&format!(
            "metrics are off for this rollback ({}); it goes on without metric verification",
            e.message
        ));
        None
    });
    let reg = ctx.registry()?;
    let reg = reg.as_ref();
    let name = target.registered_name.as_str();
    // Taken before the state is read, so two engineers never plan from the same state.
    let _lock = if args.common.dry_run {
        None
    } else {
        crate::lock::acquire(
            &ctx.settings.state_dir,
            &format!("{}|{name}", reg.location()),
            name,
            &who,
        )?
    };

    // An interrupted rollback of this model is finished, never planned over: with the target
    // already live, a fresh plan would roll back one version further.
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    let open = crate::journal::unfinished(&records, name, &reg.location());
    match (open.last(), args.resume) {
        (Some(event), true) => return resume(ctx, args, reg, &target, &records, event),
        (None, true) => {
            return Err(CliError::usage(format!(
                "no interrupted rollback of `{name}` in the journal {}",
                crate::journal::Journal::path_in(&ctx.settings.state_dir).display()
            ))
            .with_hint(
                "`mlrb status` shows interrupted rollbacks; without one, run the rollback itself",
            )
            .into());
        }
        (Some(event), false) => {
            return Err(CliError::usage(format!(
                "rollback {event} of `{name}` was interrupted or failed before it finished"
            ))
            .with_hint(format!(
                "`mlrb status {}` shows what was done; finish it with `mlrb rollback model {} --resume`",
                target.key, target.key
            ))
            .into());
        }
        (None, false) => {}
    }
    let (target, versions) = load_versions(reg, &target)?;
    if let Some(n) = to
        && !versions.iter().any(|v| v.version == n)
    {
        let known: Vec<String> = versions
            .iter()
            .rev()
            .map(|v| v.version.to_string())
            .collect();
        return Err(CliError::usage(format!(
            "model `{name}` has no version {n} (versions: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ))
        .with_hint(format!("`mlrb status {}` lists them", target.key))
        .into());
    }
    let live: Vec<&ModelVersion> = registry::live_versions(&versions, &target.mode);
    if let Some(deleted) = crate::commands::alias_names_deleted(&target) {
        return Err(CliError::usage(deleted)
            .with_hint(format!(
                "point the alias at a good version in the registry (MLflow: set_registered_model_alias); `mlrb status {}` lists the versions",
                target.key
            ))
            .into());
    }
    if target.mode == LiveMode::Stage && live.is_empty() {
        // Rolling back what is not live would report success while serving is unchanged.
        return Err(CliError::usage(format!(
            "nothing of `{name}` is live: no version is in Production and the model has no alias; there is nothing to roll back"
        ))
        .with_hint(format!(
            "if the model is served by an alias, name it with --alias NAME; `mlrb status {}` shows its versions",
            target.key
        ))
        .into());
    }
    if let (LiveMode::Alias(a), true) = (&target.mode, live.is_empty()) {
        // Moving an alias that does not exist would create one nobody serves from.
        let mut known: Vec<String> = versions
            .iter()
            .flat_map(|v| v.aliases.iter().map(|x| format!("@{x}")))
            .collect();
        known.sort();
        return Err(CliError::usage(format!(
            "model `{name}` has no alias @{a} (its aliases: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ))
        .with_hint("check --alias or [models.*].alias; without it, live means the Production stage")
        .into());
    }
    if let Some(done) = already_rolled_back(&live, to) {
        p.status(&done);
        if p.json() {
            p.out_json(&Outcome {
                event_id: None,
                outcome: "already_live",
                message: &done,
                model: name,
                from: &[],
                to: live[0].version,
                plan: Vec::new(),
                mttr: None,
                report: None,
            });
        }
        return Ok(ExitStatus::Success);
    }
    if let (Some(n), [only]) = (to, live.as_slice())
        && only.version == n
    {
        return Err(CliError::usage(format!(
            "--to {n} is the live version of `{name}` ({}); rolling back to it changes nothing",
            target.mode
        ))
        .with_hint(format!(
            "`mlrb candidate {}` shows where a rollback would go",
            target.key
        ))
        .into());
    }
    let live_ids: Vec<u64> = live.iter().map(|v| v.version).collect();
    let chosen = match (&fallback, to) {
        (Some((n, description)), _) => fallback_choice(
            &versions,
            &live_ids,
            *n,
            description.as_deref(),
            &target.key,
        ),
        (None, _) => select::choose_in(&versions, &target.mode, to),
    };
    let choice = match chosen {
        Ok(c) => c,
        Err(reasons) => {
            let configured = ctx
                .settings
                .models
                .get(&args.model)
                .and_then(|m| m.fallback.as_ref());
            let hint = match configured.map(|f| (f.resolve(), f.description.as_deref())) {
                Some((Ok(Fallback::Version(n)), _)) if fallback.is_none() => format!(
                    "activate the pre-built fallback v{n}: mlrb rollback model {} --fallback",
                    args.model
                ),
                Some((Ok(Fallback::Switch(sw)), d)) => format!(
                    "switch to the pre-built fallback{} ({} in the serving layer): mlrb rollback model {} --fallback",
                    d.map(|d| format!(", {d}")).unwrap_or_default(),
                    sw.kind.as_str(),
                    args.model
                ),
                _ => NO_TARGET_ADVICE.to_string(),
            };
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!("no rollback target for `{name}`: {}", reasons.join("; ")),
            )
            .with_hint(hint)
            .into());
        }
    };
    if let Err(why) = preflight(&choice.version) {
        return Err(CliError::new(
            ExitStatus::NoTarget,
            format!(
                "pre-flight failed for v{} of `{name}`: {why}; nothing was changed",
                choice.version.version
            ),
        )
        .with_hint(format!(
            "pick another target with --to V (`mlrb candidate {}` shows the choice)",
            target.key
        ))
        .into());
    }
    let plan = plan::model_rollback(
        &target.key,
        name,
        &target.mode,
        &versions,
        &choice.version,
        &target.serving,
    );

    let mut header = format!(
        "Rollback plan for {name} ({}, {}): {} → v{}\n  target: {}\n",
        reg.location(),
        target.mode,
        fmt_versions(&plan.from),
        plan.to,
        choice.why
    );
    if let Some(note) = &target.mode_note {
        header.push_str(&format!("  live: {note}\n"));
    }
    let mut warnings = Vec::new();
    if live.len() > 1 {
        warnings.push(format!(
            "{} versions are live ({}); all but the target will be archived",
            live.len(),
            fmt_versions(&live.iter().map(|v| v.version).collect::<Vec<_>>())
        ));
    }
    if !p.json() {
        let mut text = header.clone();
        for w in &warnings {
            text.push_str(&format!("  ! {w}\n"));
        }
        text.push_str(&plan.render());
        p.out(&text);
    }
    if args.common.dry_run {
        p.status("dry run: nothing was changed");
        if p.json() {
            p.out_json(&Outcome {
                event_id: None,
                outcome: "dry_run",
                message: "nothing was changed",
                model: name,
                from: &plan.from,
                to: plan.to,
                plan: plan.lines(),
                mttr: None,
                report: None,
            });
        }
        return Ok(ExitStatus::Success);
    }

    // Metrics never block a rollback: without a baseline or history it goes on, unverified.
    let baseline = mm.as_ref().and_then(|mm| {
        mm.baseline(reg, Some(&choice.version), live.first().copied())
            .map_err(|e| {
                p.warn(&format!(
                    "no metrics baseline ({e:#}); the rollback goes on, judged on hard thresholds only"
                ))
            })
            .ok()
    });
    let mut detection = None;
    let detected = match (detected, &mm) {
        (None, Some(mm)) => {
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
            match mm.breach_start(baseline.as_ref().unwrap_or(&empty), lookback) {
                Ok(Some((t, why))) => {
                    p.status(&format!(
                        "breach began at {} UTC (Prometheus history): {why}",
                        t.format("%H:%M:%S")
                    ));
                    // The latest sample can be a few ms past the start of this command.
                    let t = t.min(started_at);
                    detection = Some((t, why));
                    Some(t)
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
        (d, _) => d,
    };

    let how = match confirm(
        p,
        args.common.yes,
        &format!("Roll back {name} to v{}?", plan.to),
    )? {
        Confirmation::Yes(how) => how,
        Confirmation::Declined => {
            p.status("declined: nothing was changed");
            return Ok(ExitStatus::Refused);
        }
    };

    let event = new_event_id("rollback");
    // The lease is taken after the confirmation (which may take minutes at a prompt), so the
    // model as read back must still be as planned: another rollback may have finished meanwhile.
    let planned_live = match &target.mode {
        LiveMode::Stage => registry::latest_by_stage(&versions)
            .get(&Stage::Production)
            .copied(),
        LiveMode::Alias(_) => live.first().map(|v| v.version),
    };
    let _lease = crate::lease::acquire(reg, name, &who, &event, args.force_unlock, |m| {
        let now_live = match &target.mode {
            LiveMode::Stage => m.latest.get(&Stage::Production).copied(),
            LiveMode::Alias(a) => m.aliases.get(a).copied(),
        };
        if now_live == planned_live {
            Ok(())
        } else {
            Err(format!(
                "the newest live version was {}, now {}",
                planned_live
                    .map(|v| format!("v{v}"))
                    .unwrap_or("none".into()),
                now_live.map(|v| format!("v{v}")).unwrap_or("none".into())
            ))
        }
    })?;
    let mut journal = Journal::new(&ctx.settings.state_dir, &event);
    journal.append(Entry::Started {
        command: "rollback model".into(),
        model: target.key.clone(),
        registered_name: name.to_string(),
        registry: reg.location(),
        mode: target.mode.to_string(),
        from: plan.from.clone(),
        to: plan.to,
        to_reason: choice.why.clone(),
        reason: reason.clone(),
        triggered_by: who.clone(),
        detected_at: detected,
        started_at,
    });
    if let Some((at, reason)) = &detection {
        journal.append(Entry::Detected {
            began_at: *at,
            reason: reason.clone(),
        });
    }
    journal.append(Entry::Plan {
        steps: plan.lines(),
        detail: plan.steps.clone(),
        live_mode: Some(plan.mode.clone()),
    });
    journal.append(Entry::Confirmed { how });
    let audit = Audit {
        event,
        timestamp: clock::fmt(started_at),
        triggered_by: who,
        reason: tag_reason(&reason),
    };
    let verifier = mm
        .as_ref()
        .filter(|_| !args.no_verify)
        .map(|mm| (mm, baseline.as_ref()));
    conclude(
        ctx,
        reg,
        &target,
        &plan,
        &audit,
        journal,
        Conclusion {
            recheck: false,
            verifier,
        },
    )
}

/// How a rollback ends: whether steps are re-checked first (resume), and whether the metrics
/// verification phase runs after the registry verify.
struct Conclusion<'a> {
    recheck: bool,
    verifier: Option<(&'a ModelMetrics, Option<&'a Baseline>)>,
}

/// Executes the plan, closes the event in the journal, prints the report and the MTTR phases.
/// `recheck` (a resumed rollback) skips every step the registry shows as already done.
fn conclude(
    ctx: &Ctx,
    reg: &dyn Registry,
    target: &crate::config::ModelTarget,
    plan: &Plan,
    audit: &Audit,
    mut journal: Journal,
    how: Conclusion,
) -> Result<ExitStatus> {
    let Conclusion { recheck, verifier } = how;
    let _p = &ctx.printer;
    let name = plan.registered_name.as_str();
    let event = audit.event.as_str();
    let (status, message) = execute(
        ctx,
        reg,
        &target.serving,
        plan,
        audit,
        &mut journal,
        recheck,
    );
    let (status, message) = match verifier {
        Some((mm, baseline)) if status == ExitStatus::Success => {
            verify_metrics(ctx, mm, baseline, &mut journal, message)
        }
        _ => (status, message),
    };
    let hint = format!(
        "`mlrb status {}` shows what was done; `mlrb rollback model {} --resume` finishes it (event {event})",
        target.key, target.key
    );
    close_event(
        ctx,
        &mut journal,
        status,
        super::outcome_of(status),
        message.clone(),
        hint,
        |outcome, m, rep| {
            serde_json::to_value(Outcome {
                event_id: Some(event),
                outcome,
                message: &message,
                model: name,
                from: &plan.from,
                to: plan.to,
                plan: plan.lines(),
                mttr: m,
                report: rep,
            })
            .unwrap_or_default()
        },
    )
}

/// Picks up the newest interrupted rollback of the model: the same event, the same plan, every
/// step checked against the registry's actual state before it is run again.
fn resume(
    ctx: &Ctx,
    args: &ModelRollbackArgs,
    reg: &dyn Registry,
    target: &crate::config::ModelTarget,
    records: &[crate::journal::Record],
    event: &str,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let mine: Vec<&crate::journal::Record> = records.iter().filter(|r| r.event == event).collect();
    let started = mine.iter().find_map(|r| match &r.entry {
        Entry::Started {
            from,
            to,
            reason,
            triggered_by,
            started_at,
            ..
        } => Some((
            from.clone(),
            *to,
            reason.clone(),
            triggered_by.clone(),
            *started_at,
        )),
        _ => None,
    });
    let planned = mine.iter().find_map(|r| match &r.entry {
        Entry::Plan {
            detail, live_mode, ..
        } if !detail.is_empty() => Some((detail.clone(), live_mode.clone())),
        _ => None,
    });
    let (Some((from, to, reason, who, started_at)), Some((steps, mode))) = (started, planned)
    else {
        return Err(CliError::usage(format!(
            "the journal does not hold the plan of {event}; it cannot be resumed"
        ))
        .with_hint(format!(
            "check `mlrb status {}` and roll back with --to V",
            target.key
        ))
        .into());
    };
    let plan = Plan {
        model: target.key.clone(),
        registered_name: target.registered_name.clone(),
        mode: mode.unwrap_or_else(|| target.mode.clone()),
        from,
        to,
        steps,
    };
    let finished: std::collections::BTreeSet<usize> = mine
        .iter()
        .filter_map(|r| match r.entry {
            Entry::StepFinished {
                index, ok: true, ..
            } => Some(index),
            _ => None,
        })
        .collect();
    let mut text = format!(
        "Interrupted rollback {event} of {} ({}): {} → v{}\n",
        plan.registered_name,
        reg.location(),
        fmt_versions(&plan.from),
        plan.to
    );
    for (i, line) in plan.lines().iter().enumerate() {
        let mark = if finished.contains(&i) {
            "done per journal"
        } else {
            "to check and run"
        };
        text.push_str(&format!("  {:>2}. [{mark}] {line}\n", i + 1));
    }
    p.out(&text);
    if args.common.dry_run {
        p.status("dry run: nothing was changed");
        return Ok(ExitStatus::Success);
    }
    let how = match confirm(p, args.common.yes, &format!("Resume rollback {event}?"))? {
        Confirmation::Yes(how) => how,
        Confirmation::Declined => {
            p.status("declined: nothing was changed");
            return Ok(ExitStatus::Refused);
        }
    };
    let _lease = crate::lease::acquire(
        reg,
        &plan.registered_name,
        &who,
        event,
        args.force_unlock,
        |_| Ok(()),
    )?;
    let mut journal = Journal::new(&ctx.settings.state_dir, event);
    journal.append(Entry::Resumed { how });
    let audit = Audit {
        event: event.to_string(),
        timestamp: clock::fmt(started_at),
        triggered_by: who,
        reason: tag_reason(&reason),
    };
    // A resumed rollback is verified like any other, against the baseline of its target.
    let mm = ModelMetrics::for_model(ctx.settings.models.get(&target.key))
        .ok()
        .flatten();
    let baseline = mm.as_ref().and_then(|mm| {
        let v = reg.get_version(&plan.registered_name, plan.to).ok();
        mm.baseline(reg, v.as_ref(), None).ok()
    });
    let verifier = mm
        .as_ref()
        .filter(|_| !args.no_verify)
        .map(|mm| (mm, baseline.as_ref()));
    conclude(
        ctx,
        reg,
        target,
        &plan,
        &audit,
        journal,
        Conclusion {
            recheck: true,
            verifier,
        },
    )
}

/// Whether the registry already shows `step` done by this event (a resumed rollback skips it).
fn already_done(reg: &dyn Registry, name: &str, step: &Step, event: &str) -> bool {
    match step {
        Step::Stage { version, to, .. } => reg
            .get_version(name, *version)
            .is_ok_and(|v| v.stage == *to),
        Step::Alias { alias, version, .. } => reg
            .get_model(name)
            .is_ok_and(|m| m.aliases.get(alias) == Some(version)),
        Step::Tags { version, role } => reg.get_version(name, *version).is_ok_and(|v| {
            v.tag(tags::EVENT_ID) == Some(event) && v.tag(tags::ROLE) == Some(role.as_str())
        }),
        // Serving requests are repeated (asking twice is harmless); verification always runs.
        _ => false,
    }
}

/// A fault-injection point for crash tests and drills: `MLRB_TEST_CRASH_AT=started:N` or
/// `finished:N` kills the process there, as a power cut or `kill -9` would.
fn crash_point(kind: &str, step: usize) {
    if std::env::var("MLRB_TEST_CRASH_AT").is_ok_and(|v| v == format!("{kind}:{step}")) {
        std::process::abort();
    }
}

/// The configured fallback as the target. It was built and tested for exactly this moment and
/// may have been rolled back from before (it is not the model meant to shine), so only liveness
/// and READY are checked.
fn fallback_choice(
    versions: &[ModelVersion],
    live: &[u64],
    n: u64,
    description: Option<&str>,
    key: &str,
) -> std::result::Result<select::Choice, Vec<String>> {
    let v = versions
        .iter()
        .find(|v| v.version == n)
        .ok_or_else(|| vec![format!("the fallback v{n} is not in the registry")])?;
    if live.contains(&n) {
        return Err(vec![format!("the fallback v{n} is already live")]);
    }
    if v.status != "READY" {
        return Err(vec![format!(
            "the fallback v{n} is {} in the registry",
            v.status
        )]);
    }
    Ok(select::Choice {
        version: v.clone(),
        rule: select::Rule::Explicit,
        why: format!(
            "v{n} is the pre-built fallback{} ([models.{key}.fallback])",
            description.map(|d| format!(", {d}")).unwrap_or_default()
        ),
        skipped: Vec::new(),
    })
}

/// Before any change: the target must be READY in the registry and its artifact must exist
/// where mlrb can check (a local path or `file://`); remote sources are left to the server.
fn preflight(v: &ModelVersion) -> std::result::Result<(), String> {
    if !v.status.eq_ignore_ascii_case("READY") {
        return Err(format!("its registry status is {}, not READY", v.status));
    }
    let local = v
        .source
        .strip_prefix("file://")
        .or_else(|| v.source.strip_prefix("file:"))
        .or_else(|| (v.source.starts_with('/')).then_some(v.source.as_str()));
    if let Some(path) = local
        && !std::path::Path::new(path).exists()
    {
        return Err(format!("its artifact source {} does not exist", v.source));
    }
    Ok(())
}

/// The verification phase: polls until every metric is back within tolerance of its baseline
/// and no hard threshold is breached, up to the timeout, with live values on stderr.
fn verify_metrics(
    ctx: &Ctx,
    mm: &ModelMetrics,
    baseline: Option<&Baseline>,
    journal: &mut Journal,
    message: String,
) -> (ExitStatus, String) {
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
                        return (
                            ExitStatus::Success,
                            format!("{message}; metrics back within {tol} of baseline"),
                        );
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

/// The audit tags' shared values.
struct Audit {
    event: String,
    timestamp: String,
    triggered_by: String,
    reason: String,
}

impl Audit {
    fn tags(&self, role: &str) -> Vec<(String, String)> {
        vec![
            (tags::EVENT_ID.into(), self.event.clone()),
            (tags::TIMESTAMP.into(), self.timestamp.clone()),
            (tags::TRIGGERED_BY.into(), self.triggered_by.clone()),
            (tags::REASON.into(), self.reason.clone()),
            (tags::ROLE.into(), role.to_string()),
        ]
    }
}

/// A re-run after a finished rollback changes nothing: the live version is the one an earlier
/// rollback moved to, and no other target was named.
fn already_rolled_back(live: &[&ModelVersion], to: Option<u64>) -> Option<String> {
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

fn fmt_versions(vs: &[u64]) -> String {
    if vs.is_empty() {
        return "(none live)".into();
    }
    vs.iter()
        .map(|v| format!("v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one of a plan's serving steps (reload, wait for the version, kubectl/helm command).
pub(crate) fn serving_step(
    http: &std::cell::OnceCell<std::result::Result<crate::http::Http, String>>,
    serving_cfg: &crate::config::ServingConfig,
    name: &str,
    step: &Step,
) -> std::result::Result<String, (ExitStatus, String)> {
    match step {
        Step::Reload { url, version } => http
            .get_or_init(serving::client)
            .as_ref()
            .map_err(|e| (ExitStatus::Failure, e.clone()))
            .and_then(|h| {
                serving::reload(h, url, name, *version).map_err(|e| (ExitStatus::Failure, e))
            }),
        Step::AwaitServing {
            url,
            version,
            timeout,
        } => http
            .get_or_init(serving::client)
            .as_ref()
            .map_err(|e| (ExitStatus::Failure, e.clone()))
            .and_then(|h| {
                let pointer = serving_cfg.version_pointer.as_deref().unwrap_or("/version");
                serving::await_version(h, url, pointer, *version, *timeout)
                    .map_err(|e| (ExitStatus::NotVerified, e))
            }),
        Step::Command {
            argv,
            timeout,
            awaits,
        } => crate::exec::Cmd::from_argv(argv, *timeout)
            .run()
            .map(|o| {
                let t = crate::exec::runner::tail(&o.stdout, 2, 300);
                if t.is_empty() { argv.join(" ") } else { t }
            })
            .map_err(|e| {
                let (msg, hint) = crate::exec::kubectl::explain(&e, "the serving deployment");
                let status = if *awaits {
                    ExitStatus::NotVerified
                } else {
                    ExitStatus::Failure
                };
                (
                    status,
                    match hint {
                        Some(h) => format!("{msg} (next: {h})"),
                        None => msg,
                    },
                )
            }),
        _ => Err((
            ExitStatus::Failure,
            format!("not a serving step: {}", step.describe(name)),
        )),
    }
}

/// Runs the plan's steps in order, journaling each; stops at the first failure.
fn execute(
    ctx: &Ctx,
    reg: &dyn Registry,
    serving_cfg: &crate::config::ServingConfig,
    plan: &Plan,
    audit: &Audit,
    journal: &mut Journal,
    recheck: bool,
) -> (ExitStatus, String) {
    let p = &ctx.printer;
    let name = plan.registered_name.as_str();
    let total = plan.steps.len();
    let http = std::cell::OnceCell::new();
    let mut executed = false;
    for (i, step) in plan.steps.iter().enumerate() {
        if matches!(step, Step::Verify) && !executed {
            journal.append(Entry::Executed);
            executed = true;
        }
        let line = step.describe(name);
        journal.append(Entry::StepStarted {
            index: i,
            step: line.clone(),
        });
        crash_point("started", i + 1);
        if recheck && already_done(reg, name, step, &audit.event) {
            let detail = format!("already done (checked in the registry): {line}");
            p.status(&format!("  ✓ [{}/{total}] {detail}", i + 1));
            journal.append(Entry::StepFinished {
                index: i,
                ok: true,
                detail,
                millis: 0,
            });
            continue;
        }
        let bar = p.step(&format!("[{}/{total}] {line}", i + 1));
        let t0 = Instant::now();
        let result: std::result::Result<String, (ExitStatus, String)> = match step {
            Step::Stage { version, to, .. } => reg
                .transition_stage(name, *version, *to)
                .map(|_| format!("v{version} is now {to}"))
                .map_err(|e| (ExitStatus::Failure, e.to_string())),
            Step::Alias { alias, version, .. } => reg
                .set_alias(name, alias, *version)
                .map(|_| format!("@{alias} → v{version}"))
                .map_err(|e| (ExitStatus::Failure, e.to_string())),
            Step::Tags { version, role } => reg
                .set_version_tags(name, *version, &audit.tags(role))
                .map(|_| format!("audit tags on v{version} (role {role})"))
                .map_err(|e| (ExitStatus::Failure, e.to_string())),
            Step::Reload { .. } | Step::AwaitServing { .. } | Step::Command { .. } => {
                serving_step(&http, serving_cfg, name, step)
            }
            Step::Verify => verify(reg, name, &plan.mode, plan.to, &audit.event)
                .map_err(|e| (ExitStatus::NotVerified, e)),
        };
        let millis = t0.elapsed().as_millis() as u64;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        match result {
            Ok(detail) => {
                p.status(&format!("  ✓ [{}/{total}] {detail} ({millis} ms)", i + 1));
                journal.append(Entry::StepFinished {
                    index: i,
                    ok: true,
                    detail,
                    millis,
                });
                if matches!(step, Step::Verify) {
                    journal.append(Entry::Verified {
                        ok: true,
                        detail: format!("v{} is the only live version", plan.to),
                    });
                }
                crash_point("finished", i + 1);
            }
            Err((status, detail)) => {
                p.status(&format!("  ✗ [{}/{total}] {detail} ({millis} ms)", i + 1));
                journal.append(Entry::StepFinished {
                    index: i,
                    ok: false,
                    detail: detail.clone(),
                    millis,
                });
                let done: Vec<String> = plan.steps[..i].iter().map(|s| s.describe(name)).collect();
                let writes_done = plan.steps[..i].iter().any(Step::is_registry_write);
                if status == ExitStatus::NotVerified {
                    journal.append(Entry::Verified {
                        ok: false,
                        detail: detail.clone(),
                    });
                }
                let message = format!(
                    "step {}/{total} failed: {detail}. {}",
                    i + 1,
                    if writes_done {
                        format!("Done before it: {}", done.join("; "))
                    } else {
                        "Nothing was changed in the registry".into()
                    }
                );
                return (status, message);
            }
        }
    }
    (
        ExitStatus::Success,
        format!(
            "rolled back {name}: {} → v{}, verified in the registry",
            fmt_versions(&plan.from),
            plan.to
        ),
    )
}

/// Re-reads the registry: the target must be the only live version and carry this event's tags.
fn verify(
    reg: &dyn Registry,
    name: &str,
    mode: &LiveMode,
    to: u64,
    event: &str,
) -> std::result::Result<String, String> {
    let mut versions = reg
        .search_versions(name, &registry::VersionQuery::all())
        .map_err(|e| format!("cannot re-read the registry: {e}"))?;
    if let LiveMode::Alias(_) = mode {
        let m = reg
            .get_model(name)
            .map_err(|e| format!("cannot re-read the registry: {e}"))?;
        registry::attach_aliases(&m, &mut versions);
    }
    let live: Vec<u64> = registry::live_versions(&versions, mode)
        .iter()
        .map(|v| v.version)
        .collect();
    if live != [to] {
        return Err(format!(
            "registry shows live {} after the rollback, expected v{to}",
            fmt_versions(&live)
        ));
    }
    let target = versions
        .iter()
        .find(|v| v.version == to)
        .ok_or("target vanished")?;
    if target.tag(tags::EVENT_ID) != Some(event) {
        return Err(format!("v{to} does not carry {}={event}", tags::EVENT_ID));
    }
    if let LiveMode::Stage = mode
        && target.stage != Stage::Production
    {
        return Err(format!("v{to} is {} not Production", target.stage));
    }
    Ok(format!("v{to} is the only live version"))
}
