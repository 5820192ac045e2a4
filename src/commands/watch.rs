//! `mlrb watch`: the automated rollback controller. Polls each model's metrics, applies the
//! decision rule, rolls back after N consecutive (or M of N) hard breaches, notifies on soft
//! breaches and blindness, then watches the rolled-back version.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::cli::{LogFormat, WatchArgs};
use crate::clock;
use crate::commands::{Ctx, Result, load_versions};
use crate::config::{ControllerConfig, ModelTarget};
use crate::error::{CliError, ExitStatus};
use crate::metrics::decision::Decision;
use crate::metrics::{Baseline, ModelMetrics, fmt_snapshot};
use crate::notify::{Notifier, messages};
use crate::registry;

/// Log lines on stderr: human by default, one JSON object per line with `--log-format json`.
pub struct Log {
    json: bool,
}

impl Log {
    pub fn line(&self, level: &str, model: &str, event: &str, message: &str) {
        self.with(level, model, event, message, serde_json::Value::Null);
    }

    pub fn with(
        &self,
        level: &str,
        model: &str,
        event: &str,
        message: &str,
        extra: serde_json::Value,
    ) {
        let ts = clock::fmt(clock::now());
        if self.json {
            let mut v = json!({"ts": ts, "level": level, "model": model, "event": event, "message": message});
            if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            crate::printer::json_to_stderr(&v);
        } else {
            crate::printer::to_stderr(&format!(
                "{ts} {:<5} {model}: {message}",
                level.to_uppercase()
            ));
        }
    }
}

enum Phase {
    Watching,
    /// After a rollback: notify (never roll back again) until the deadline.
    PostRollback {
        until: Instant,
        to: u64,
        alerted: bool,
    },
}

struct Watched {
    target: ModelTarget,
    mm: ModelMetrics,
    ctl: ControllerConfig,
    baseline: Option<Baseline>,
    consecutive: u32,
    /// The last `window` checks: (hard breach?, when).
    window: VecDeque<(bool, DateTime<Utc>)>,
    run_start: Option<DateTime<Utc>>,
    soft: Option<(BTreeSet<String>, String)>,
    fetch_errors: u32,
    blind: bool,
    next: Instant,
    phase: Phase,
    /// Tells once when a version rolled back from is live again without an mlrb rollback.
    repromotion: crate::repromotion::Guard,
}

pub fn run(ctx: &Ctx, args: &WatchArgs) -> Result<ExitStatus> {
    let log = Log {
        json: args.log_format == LogFormat::Json,
    };
    if log.json {
        crate::printer::set_json_lines();
    }
    let notifier = Notifier::from_config(&ctx.settings.notify)?;
    let mut models = Vec::new();
    for key in &args.models {
        models.push(watched(ctx, key, args.alias.as_deref())?);
    }
    let reg = ctx.registry()?;

    if args.once {
        let mut worst = ExitStatus::Success;
        for w in &mut models {
            ensure_baseline(reg.as_ref(), w, &log);
            let base = w.baseline.clone().unwrap_or_else(empty_baseline);
            match w.mm.read(None) {
                // Every metric without data is no evidence of health: the check is blind.
                Ok(snap)
                    if !snap.values.is_empty() && snap.values.values().all(Option::is_none) =>
                {
                    let names: Vec<String> = snap
                        .values
                        .keys()
                        .map(|k| match snap.notes.get(k) {
                            Some(why) => format!("{k} ({why})"),
                            None => k.clone(),
                        })
                        .collect();
                    log.with(
                        "error",
                        &w.target.key,
                        "blind",
                        &format!(
                            "BLIND: no metric has data, so health cannot be judged: {}",
                            names.join(", ")
                        ),
                        json!({"unknown": snap.values.keys().collect::<Vec<_>>()}),
                    );
                    worst = worse(worst, ExitStatus::Failure);
                }
                Ok(snap) => {
                    let e = w.mm.decide(&snap.values, &base);
                    log.with(
                        level_of(e.decision),
                        &w.target.key,
                        "check",
                        &format!("{}: {} [{}]", e.decision, e.reason, fmt_snapshot(&snap)),
                        json!({"decision": e.decision, "values": snap.values}),
                    );
                    let st = match e.decision {
                        Decision::Monitor => ExitStatus::Success,
                        Decision::Investigate => ExitStatus::Investigate,
                        Decision::RollbackNow => ExitStatus::RollbackNow,
                    };
                    worst = worse(worst, st);
                }
                Err(e) => {
                    log.line("error", &w.target.key, "fetch_error", &e.to_string());
                    worst = worse(worst, ExitStatus::Failure);
                }
            }
        }
        return Ok(worst);
    }

    // signal-hook only sets a flag from the handler; the loop checks it between short sleeps.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| {
            CliError::new(ExitStatus::Failure, format!("cannot handle signals: {e}"))
        })?;
    }
    for w in &models {
        log.with(
            "info",
            &w.target.key,
            "started",
            &format!(
                "Rollback controller started for {} ({}). Check interval: {}s; rollback after {} consecutive hard breaches{}.",
                w.target.registered_name,
                w.target.mode,
                w.ctl.check_interval.as_secs_f64(),
                w.ctl.consecutive_failures_required,
                match (w.ctl.failures_in_window, w.ctl.window) {
                    (Some(m), Some(n)) => format!(" or {m} of the last {n} checks"),
                    _ => String::new(),
                }
            ),
            json!({"pid": std::process::id()}),
        );
        if !notifier.is_configured() {
            log.line(
                "warn",
                &w.target.key,
                "no_notify",
                "no [notify] destination: alerts go only to this log",
            );
        }
    }
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        for w in models.iter_mut().filter(|w| w.next <= now) {
            w.next = now + w.ctl.check_interval;
            check(ctx, reg.as_ref(), w, &log, &notifier);
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let due = models.iter().map(|w| w.next).min().unwrap_or(now);
        while !stop.load(Ordering::Relaxed) && Instant::now() < due {
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
        }
    }
    log.line(
        "info",
        "-",
        "stopped",
        "stopped by signal; no rollback was in progress",
    );
    Ok(ExitStatus::Success)
}

/// One model's controller state, before its first check.
fn watched(ctx: &Ctx, key: &str, alias: Option<&str>) -> Result<Watched> {
    let target = ctx.settings.model(key, alias)?;
    let cfg = ctx.settings.models.get(key);
    let Some(mm) = ModelMetrics::for_model(cfg)? else {
        return Err(CliError::usage(format!(
            "`{key}` has no [models.\"{key}\".metrics] in the config: watch needs a Prometheus URL and queries"
        ))
        .with_hint("see `mlrb init` for a commented example")
        .into());
    };
    let ctl = cfg.map(|c| c.controller.clone()).unwrap_or_default();
    Ok(Watched {
        target,
        mm,
        ctl,
        baseline: None,
        consecutive: 0,
        window: VecDeque::new(),
        run_start: None,
        soft: None,
        fetch_errors: 0,
        blind: false,
        next: Instant::now(),
        phase: Phase::Watching,
        repromotion: Default::default(),
    })
}

/// The controller on one model until it has rolled back once or `limit` has passed: the
/// automated path of `mlrb drill`, with the same checks, rule and rollback as `watch`.
/// Returns whether it rolled back.
pub fn until_rollback(ctx: &Ctx, key: &str, limit: Duration) -> Result<bool> {
    let log = Log { json: false };
    let notifier = Notifier::from_config(&ctx.settings.notify)?;
    let mut w = watched(ctx, key, None)?;
    let reg = ctx.registry()?;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        check(ctx, reg.as_ref(), &mut w, &log, &notifier);
        if matches!(w.phase, Phase::PostRollback { .. }) {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(w.ctl.check_interval.min(left));
    }
    Ok(false)
}

fn worse(a: ExitStatus, b: ExitStatus) -> ExitStatus {
    let rank = |s: ExitStatus| match s {
        ExitStatus::Success => 0,
        ExitStatus::Investigate => 1,
        ExitStatus::Failure => 2,
        _ => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

fn level_of(d: Decision) -> &'static str {
    match d {
        Decision::Monitor => "info",
        Decision::Investigate | Decision::RollbackNow => "warn",
    }
}

fn empty_baseline() -> Baseline {
    Baseline {
        values: Default::default(),
        source: "none".into(),
    }
}

fn ensure_baseline(reg: &dyn registry::Registry, w: &mut Watched, log: &Log) {
    if w.baseline.is_some() {
        return;
    }
    let versions = match load_versions(reg, &w.target) {
        Ok((t, v)) => {
            // A model served by alias with no mode configured is watched, and rolled back, by it.
            w.target = t;
            v
        }
        Err(e) => {
            log.line("error", &w.target.key, "registry_error", &format!("{e:#}"));
            return;
        }
    };
    let live = registry::live_versions(&versions, &w.target.mode);
    let choice = crate::select::choose_in(&versions, &w.target.mode, None).ok();
    match w.mm.baseline(
        reg,
        choice.as_ref().map(|c| &c.version),
        live.first().copied(),
    ) {
        Ok(b) => {
            log.line(
                "info",
                &w.target.key,
                "baseline",
                &format!("baseline from {}", b.source),
            );
            w.baseline = Some(b);
        }
        Err(e) => log.line(
            "warn",
            &w.target.key,
            "no_baseline",
            &format!("no baseline yet ({e:#}); judging hard thresholds only, retrying next check"),
        ),
    }
}

fn notify(n: &Notifier, log: &Log, model: &str, kind: &str, text: &str) {
    log.with(
        "info",
        model,
        "notify",
        &text.replace('\n', " | "),
        json!({"kind": kind}),
    );
    for f in n.send(kind, model, text) {
        log.line("error", model, "notify_failed", &f);
    }
}

/// One check of one model.
fn check(ctx: &Ctx, reg: &dyn registry::Registry, w: &mut Watched, log: &Log, n: &Notifier) {
    let key = w.target.key.clone();
    ensure_baseline(reg, w, log);
    match w.repromotion.look(reg, &w.target) {
        crate::repromotion::Found::Repromoted(text) => notify(n, log, &key, "repromoted", &text),
        crate::repromotion::Found::Unreadable(why) => {
            log.line("warn", &key, "registry_error", &why)
        }
        crate::repromotion::Found::Nothing => {}
    }
    if let Phase::PostRollback { until, .. } = w.phase
        && Instant::now() >= until
    {
        log.line(
            "info",
            &key,
            "post_rollback_over",
            "post-rollback watch over; back to normal watching",
        );
        w.phase = Phase::Watching;
    }
    let snap = match w.mm.read(None) {
        Ok(s) => s,
        Err(e) => {
            w.fetch_errors += 1;
            log.with(
                "error",
                &key,
                "fetch_error",
                &format!("Controller error (will retry; not counted as a breach): {e}"),
                json!({"consecutive_fetch_errors": w.fetch_errors}),
            );
            if w.fetch_errors >= w.ctl.blind_after && !w.blind {
                w.blind = true;
                notify(
                    n,
                    log,
                    &key,
                    "blind",
                    &messages::blind(&key, w.fetch_errors, &e.to_string()),
                );
            }
            return;
        }
    };
    w.fetch_errors = 0;
    if w.blind {
        w.blind = false;
        notify(
            n,
            log,
            &key,
            "sight_restored",
            &messages::sight_restored(&key),
        );
    }
    let base = w.baseline.clone().unwrap_or_else(empty_baseline);
    let e = w.mm.decide(&snap.values, &base);
    let values = fmt_snapshot(&snap);
    let extra = json!({"decision": e.decision, "reason": e.reason, "values": snap.values});

    if let Phase::PostRollback { to, alerted, .. } = &mut w.phase {
        if e.decision == Decision::Monitor {
            log.with(
                "info",
                &key,
                "check",
                &format!("MONITOR after rollback: {} [{values}]", e.reason),
                extra,
            );
            *alerted = false;
        } else {
            log.with(
                "warn",
                &key,
                "check",
                &format!("{} after rollback: {} [{values}]", e.decision, e.reason),
                extra,
            );
            if !*alerted {
                *alerted = true;
                notify(
                    n,
                    log,
                    &key,
                    "not_recovered",
                    &messages::not_recovered(&key, *to, &e.reason),
                );
            }
        }
        return;
    }

    let now = clock::now();
    let hard = e.decision == Decision::RollbackNow;
    w.window.push_back((hard, now));
    let keep = w.ctl.window.unwrap_or(0) as usize;
    while w.window.len() > keep.max(1) {
        w.window.pop_front();
    }
    match e.decision {
        Decision::RollbackNow => {
            w.consecutive += 1;
            w.run_start.get_or_insert(now);
            let in_window = w.window.iter().filter(|(h, _)| *h).count() as u32;
            let req = w.ctl.consecutive_failures_required;
            let mofn = match (w.ctl.failures_in_window, w.ctl.window) {
                (Some(m), Some(nn)) => format!(", {in_window}/{m} in the last {nn} checks"),
                _ => String::new(),
            };
            log.with(
                "warn",
                &key,
                "breach",
                &format!(
                    "Rollback trigger: {} (failure {}/{req}{mofn}) [{values}]",
                    e.reason, w.consecutive
                ),
                extra,
            );
            let by_window = w.ctl.failures_in_window.is_some_and(|m| in_window >= m);
            if w.consecutive >= req || by_window {
                let began = if w.consecutive >= req {
                    w.run_start.unwrap_or(now)
                } else {
                    w.window
                        .iter()
                        .find(|(h, _)| *h)
                        .map(|(_, t)| *t)
                        .unwrap_or(now)
                };
                trigger(ctx, reg, w, log, n, &e.reason, &values, began);
            }
        }
        Decision::Investigate => {
            w.consecutive = 0;
            w.run_start = None;
            let metrics: BTreeSet<String> = e.breaches.iter().map(|b| b.metric.clone()).collect();
            log.with(
                "warn",
                &key,
                "soft_breach",
                &format!("Soft threshold breached: {} [{values}]", e.reason),
                extra,
            );
            if w.soft.as_ref().map(|(m, _)| m) != Some(&metrics) {
                notify(
                    n,
                    log,
                    &key,
                    "soft_alert",
                    &messages::soft_alert(&key, &e.reason),
                );
                w.soft = Some((metrics, e.reason.clone()));
            }
        }
        Decision::Monitor => {
            if w.consecutive > 0 {
                log.line(
                    "info",
                    &key,
                    "reset",
                    &format!(
                        "breach cleared after {} check(s); failure count reset",
                        w.consecutive
                    ),
                );
            }
            w.consecutive = 0;
            w.run_start = None;
            log.with(
                "info",
                &key,
                "check",
                &format!("MONITOR: {} [{values}]", e.reason),
                extra,
            );
            if let Some((_, was)) = w.soft.take() {
                notify(
                    n,
                    log,
                    &key,
                    "soft_cleared",
                    &messages::soft_cleared(&key, &was),
                );
            }
        }
    }
}

/// Runs the model rollback exactly as `mlrb rollback model --yes` would, as mlrb-watch.
#[allow(clippy::too_many_arguments)]
fn trigger(
    ctx: &Ctx,
    reg: &dyn registry::Registry,
    w: &mut Watched,
    log: &Log,
    n: &Notifier,
    reason: &str,
    values: &str,
    began: DateTime<Utc>,
) {
    let key = w.target.key.clone();
    let (from, to) = match load_versions(reg, &w.target) {
        Ok((t, vs)) => {
            let live: Vec<String> = registry::live_versions(&vs, &t.mode)
                .iter()
                .map(|v| format!("v{}", v.version))
                .collect();
            let to = crate::select::choose_in(&vs, &t.mode, None)
                .map(|c| c.version.version)
                .unwrap_or(0);
            (live.join(", "), to)
        }
        Err(_) => ("?".into(), 0),
    };
    log.line(
        "error",
        &key,
        "rollback_triggered",
        &format!("AUTOMATED ROLLBACK TRIGGERED for {key}. Rolling back from {from} to v{to}. Reason: {reason}"),
    );
    notify(
        n,
        log,
        &key,
        "rollback_in_progress",
        &messages::rollback_in_progress(&key, &from, to, reason, values),
    );
    let req = crate::rollback::Request::unattended(
        &key,
        format!("mlrb watch: {reason}"),
        "mlrb-watch",
        Some(began),
    );
    let alias = match &w.target.mode {
        registry::LiveMode::Alias(a) => Some(a.as_str()),
        registry::LiveMode::Stage => None,
    };
    match super::rollback::model::unattended(ctx, &req, alias) {
        Ok(ExitStatus::Success) => {
            notify(
                n,
                log,
                &key,
                "rollback_complete",
                &messages::rollback_complete(&key, to, "rolled back and verified"),
            );
        }
        Ok(ExitStatus::NotVerified) => {
            notify(
                n,
                log,
                &key,
                "rollback_complete",
                &messages::rollback_complete(
                    &key,
                    to,
                    "rolled back, but metrics have NOT recovered yet (exit 5)",
                ),
            );
        }
        Ok(other) => {
            notify(
                n,
                log,
                &key,
                "rollback_failed",
                &messages::rollback_failed(
                    &key,
                    &format!("rollback ended with exit {}", other.code()),
                ),
            );
        }
        Err(e) => {
            log.line(
                "error",
                &key,
                "rollback_failed",
                &format!("Rollback FAILED: {e:#}"),
            );
            notify(
                n,
                log,
                &key,
                "rollback_failed",
                &messages::rollback_failed(&key, &format!("{e:#}")),
            );
        }
    }
    w.consecutive = 0;
    w.run_start = None;
    w.window.clear();
    w.phase = Phase::PostRollback {
        until: Instant::now() + w.ctl.post_rollback_watch,
        to,
        alerted: false,
    };
    log.line(
        "info",
        &key,
        "post_rollback_watch",
        &format!(
            "watching v{to} for {} after the rollback",
            humantime::format_duration(w.ctl.post_rollback_watch)
        ),
    );
}
