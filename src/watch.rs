//! The automated rollback controller behind `mlrb watch` and the drill's auto mode: polls each
//! model's metrics, applies the decision rule, rolls back after N consecutive (or M of N) hard
//! breaches, notifies on soft breaches and blindness, then watches the rolled-back version.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::clock;
use crate::config::{ControllerConfig, ModelTarget};
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::live::load_versions;
use crate::metrics::decision::Decision;
use crate::metrics::prometheus::PromError;
use crate::metrics::{Baseline, ModelMetrics, Snapshot, fmt_snapshot};
use crate::notify::{Notifier, messages};
use crate::observe::Stats;
use crate::registry;

/// Log lines on stderr: human by default, one JSON object per line with `--log-format json`.
#[derive(Clone, Copy)]
pub struct Log {
    pub json: bool,
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
    /// The rollback the breach calls for was refused or failed (why): retried at every check
    /// while the breach lasts, notified once.
    blocked: Option<String>,
    /// `--recommend-only`: the breach's rollback was recommended already.
    recommended: bool,
}

/// What every check needs besides the model: where to log, notify, count, and whether it may
/// act.
struct Controller<'a> {
    ctx: &'a Ctx,
    reg: &'a dyn registry::Registry,
    log: Log,
    n: &'a Notifier,
    stats: &'a Stats,
    recommend_only: bool,
    elector: Option<&'a crate::leader::Elector>,
}

impl Controller<'_> {
    /// This replica may check and act: it leads, or no election runs.
    fn leading(&self) -> bool {
        self.elector.is_none_or(|e| e.leading())
    }
}

/// What the controller runs with: the models, how it logs, and whether it may act.
pub struct Options {
    /// Models as in mlrb.toml.
    pub models: Vec<String>,
    /// Watch (and roll back) by this alias instead of the configured mode.
    pub alias: Option<String>,
    /// One check of every model; the worst decision is the exit status.
    pub once: bool,
    /// Recommend the rollback the rule calls for, and make none.
    pub recommend_only: bool,
    /// Where to serve `GET /metrics` and `GET /healthz`.
    pub listen: Option<String>,
    /// Leader election on this lease (checked before anything starts).
    pub lease: Option<crate::leader::LeaseConfig>,
    pub log: Log,
}

/// The controller until a signal stops it, or one check with `once`.
pub fn run(ctx: &Ctx, opts: &Options) -> Result<ExitStatus> {
    let log = opts.log;
    let notifier = Notifier::from_config(&ctx.settings.notify)?;
    let mut models = Vec::new();
    for key in &opts.models {
        models.push(watched(ctx, key, opts.alias.as_deref())?);
    }
    let reg = ctx.registry()?;

    if opts.once {
        return once(reg.as_ref(), &mut models, &log);
    }

    // Checked before anything is started or printed: a bad setting is one clear error.
    let lease = match &opts.lease {
        None => None,
        Some(cfg) => {
            cfg.check()?;
            crate::leader::require_kubectl()?;
            Some(cfg.clone())
        }
    };
    let stats = Arc::new(Stats::default());
    for w in &models {
        stats.register(&w.target.key);
    }
    if let Some(addr) = &opts.listen {
        let bound = crate::observe::serve(addr, stats.clone())?;
        log.with(
            "info",
            "-",
            "listening",
            &format!("serving GET /metrics and GET /healthz on http://{bound}"),
            json!({"listen": bound}),
        );
    }
    let elector = match lease {
        None => None,
        Some(cfg) => {
            log.with(
                "info",
                "-",
                "campaigning",
                &format!(
                    "leader election on lease {}/{} as {} (lease {}, renew deadline {}, retry {})",
                    cfg.namespace,
                    cfg.name,
                    cfg.identity,
                    humantime::format_duration(cfg.lease_duration),
                    humantime::format_duration(cfg.renew_deadline),
                    humantime::format_duration(cfg.retry_period)
                ),
                json!({"identity": cfg.identity}),
            );
            Some(crate::leader::Elector::start(
                cfg,
                Box::new(move |level: &str, event: &str, msg: &str| {
                    log.line(level, "-", event, msg)
                }),
            )?)
        }
    };
    stats.leader(elector.as_ref().map(|_| false));

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
                "Rollback controller started for {} ({}). Check interval: {}s; {} after {} consecutive hard breaches{}.",
                w.target.registered_name,
                w.target.mode,
                w.ctl.check_interval.as_secs_f64(),
                if opts.recommend_only {
                    "RECOMMEND-ONLY: recommends a rollback (and makes none)"
                } else {
                    "rollback"
                },
                w.ctl.consecutive_failures_required,
                match (w.ctl.failures_in_window, w.ctl.window) {
                    (Some(m), Some(n)) => format!(" or {m} of the last {n} checks"),
                    _ => String::new(),
                }
            ),
            json!({"pid": std::process::id(), "recommend_only": opts.recommend_only}),
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
    let c = Controller {
        ctx,
        reg: reg.as_ref(),
        log,
        n: &notifier,
        stats: &stats,
        recommend_only: opts.recommend_only,
        elector: elector.as_ref(),
    };
    watch_until_stopped(&c, &mut models, &stop);
    if let Some(e) = elector {
        e.stop();
    }
    log.line(
        "info",
        "-",
        "stopped",
        "stopped by signal; no rollback was in progress",
    );
    Ok(ExitStatus::Success)
}

/// Checks the models as they fall due while this replica leads, until `stop` is set.
fn watch_until_stopped(c: &Controller, models: &mut [Watched], stop: &AtomicBool) {
    // The first pass through the loop is a change of leadership, also without an election.
    let mut was_leading = false;
    while !stop.load(Ordering::Relaxed) {
        let leading = c.leading();
        if leading != was_leading {
            was_leading = leading;
            if c.elector.is_some() {
                c.stats.leader(Some(leading));
            }
            for w in models.iter_mut() {
                // Evidence gathered before a stretch as standby is stale either way.
                w.consecutive = 0;
                w.run_start = None;
                w.window.clear();
                w.next = Instant::now();
            }
            if leading {
                for w in models.iter_mut() {
                    resume_post_rollback(c.reg, w, &c.log);
                }
            } else {
                c.log.line(
                    "warn",
                    "-",
                    "standby",
                    "not the leader: no checks and no rollbacks until this replica holds the lease",
                );
            }
        }
        if !leading {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let now = Instant::now();
        let due: Vec<usize> = (0..models.len())
            .filter(|&i| models[i].next <= now)
            .collect();
        if !due.is_empty() {
            round(c, models, &due, stop);
        }
        let due = models.iter().map(|w| w.next).min().unwrap_or(now);
        while !stop.load(Ordering::Relaxed) && Instant::now() < due && c.leading() {
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
        }
    }
}

/// One round: the due models' metrics read together (one query per metric for models sharing
/// a template), then each judged and acted on in turn.
fn round(c: &Controller, models: &mut [Watched], due: &[usize], stop: &AtomicBool) {
    let t0 = Instant::now();
    let reads: Vec<(&str, &ModelMetrics)> = due
        .iter()
        .map(|&i| (models[i].target.key.as_str(), &models[i].mm))
        .collect();
    let (snaps, st) = crate::metrics::fleet::read_all(&reads);
    c.stats.round(st.queries, t0.elapsed());
    for (&i, snap) in due.iter().zip(snaps) {
        let w = &mut models[i];
        // From the round's start, so models due together stay together (one round, one query
        // per metric) instead of drifting apart by the time each check takes.
        w.next = t0 + w.ctl.check_interval;
        // A leader that lost the lease while reading acts on nothing it read.
        if stop.load(Ordering::Relaxed) || !c.leading() {
            break;
        }
        check(c, w, snap);
    }
}

/// `--once`: every model read (together, as a round) and judged; the worst decision is the exit.
fn once(reg: &dyn registry::Registry, models: &mut [Watched], log: &Log) -> Result<ExitStatus> {
    let mut worst = ExitStatus::Success;
    for w in models.iter_mut() {
        ensure_baseline(reg, w, log);
    }
    let reads: Vec<(&str, &ModelMetrics)> = models
        .iter()
        .map(|w| (w.target.key.as_str(), &w.mm))
        .collect();
    let (snaps, _) = crate::metrics::fleet::read_all(&reads);
    for (w, snap) in models.iter().zip(snaps) {
        let base = w.baseline.clone().unwrap_or_else(empty_baseline);
        match snap {
            // Every metric without data is no evidence of health: the check is blind.
            Ok(snap) if !snap.values.is_empty() && snap.values.values().all(Option::is_none) => {
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
    Ok(worst)
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
        blocked: None,
        recommended: false,
        repromotion: Default::default(),
    })
}

/// The controller on one model until it has rolled back once or `limit` has passed: the
/// automated path of `mlrb drill`, with the same checks, rule and rollback as `watch`.
/// Returns whether it rolled back.
pub fn until_rollback(ctx: &Ctx, key: &str, limit: Duration) -> Result<bool> {
    let notifier = Notifier::from_config(&ctx.settings.notify)?;
    let mut w = watched(ctx, key, None)?;
    let reg = ctx.registry()?;
    let stats = Stats::default();
    let c = Controller {
        ctx,
        reg: reg.as_ref(),
        log: Log { json: false },
        n: &notifier,
        stats: &stats,
        recommend_only: false,
        elector: None,
    };
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let snap = w.mm.read(None);
        check(&c, &mut w, snap);
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

/// One check of one model, on the metrics just read for it.
fn check(c: &Controller, w: &mut Watched, read: std::result::Result<Snapshot, PromError>) {
    let (log, n) = (&c.log, c.n);
    let key = w.target.key.clone();
    ensure_baseline(c.reg, w, log);
    match w.repromotion.look(c.reg, &w.target) {
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
    let snap = match read {
        Ok(s) => s,
        Err(e) => {
            c.stats.checked(&key, false);
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
                c.stats.blind(&key, true);
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
    c.stats.checked(&key, true);
    w.fetch_errors = 0;
    if w.blind {
        w.blind = false;
        c.stats.blind(&key, false);
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
    match e.decision {
        Decision::RollbackNow => c.stats.breach(&key, "hard"),
        Decision::Investigate => c.stats.breach(&key, "soft"),
        Decision::Monitor => {}
    }

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
                if c.recommend_only {
                    recommend(c, w, &e.reason, &values);
                } else {
                    trigger(c, w, &e.reason, &values, began);
                }
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
            w.recommended = false;
            if w.blocked.take().is_some() {
                log.line(
                    "info",
                    &key,
                    "unblocked",
                    "breach cleared: no rollback is pending any more",
                );
            }
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

/// A rollback by `mlrb watch` within `post_rollback_watch` (by another replica, or by this one
/// before a restart) made the live version live: its post-rollback watch goes on here, so a
/// new leader notifies if it does not recover instead of rolling it back again. The window
/// counts from the event's recorded start (the breach), so it ends a little early, never late.
fn resume_post_rollback(reg: &dyn registry::Registry, w: &mut Watched, log: &Log) {
    if !matches!(w.phase, Phase::Watching) {
        return;
    }
    let Ok((t, vs)) = load_versions(reg, &w.target) else {
        return;
    };
    let window = chrono::Duration::from_std(w.ctl.post_rollback_watch).unwrap_or_default();
    for v in registry::live_versions(&vs, &t.mode) {
        let at = v
            .tag(registry::tags::TIMESTAMP)
            .and_then(|s| clock::parse_time(s).ok());
        let by_watch = v.tag(registry::tags::TRIGGERED_BY) == Some("mlrb-watch")
            && v.tag(registry::tags::ROLE) == Some(registry::tags::ROLE_TARGET);
        if let Some(at) = at.filter(|at| by_watch && clock::now() < *at + window) {
            let left = (at + window - clock::now()).to_std().unwrap_or_default();
            w.phase = Phase::PostRollback {
                until: Instant::now() + left,
                to: v.version,
                alerted: false,
            };
            log.line(
                "info",
                &w.target.key,
                "post_rollback_watch",
                &format!(
                    "v{} was made live by mlrb watch at {} (event {}): watching it for the {} left of the post-rollback watch, never rolling back again",
                    v.version,
                    clock::fmt(at),
                    v.tag(registry::tags::EVENT_ID).unwrap_or("?"),
                    humantime::format_duration(Duration::from_secs(left.as_secs()))
                ),
            );
            return;
        }
    }
}

/// (live versions as "v3, v4", the version a rollback would go to; 0 when none).
fn from_to(reg: &dyn registry::Registry, target: &ModelTarget) -> (String, u64) {
    match load_versions(reg, target) {
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
    }
}

/// The registered model's tag holding the last rollback `watch --recommend-only` recommended.
pub const RECOMMENDATION_TAG: &str = "rollback.recommendation";

/// `--recommend-only`: says which rollback the rule calls for, records it on the registered
/// model for `status`, and changes nothing else. Once per breach: notified again only after
/// the metrics recovered and breached anew.
fn recommend(c: &Controller, w: &mut Watched, reason: &str, values: &str) {
    let key = w.target.key.clone();
    let (from, to) = from_to(c.reg, &w.target);
    let line = format!(
        "ROLLBACK RECOMMENDED (recommend-only: nothing changed) for {key}: from {from} to v{to}. Reason: {reason}"
    );
    w.consecutive = 0;
    w.run_start = None;
    w.window.clear();
    if w.recommended {
        c.log.line(
            "warn",
            &key,
            "recommendation_standing",
            &format!("still: {line}"),
        );
        return;
    }
    w.recommended = true;
    c.stats.recommended(&key);
    c.log.with(
        "error",
        &key,
        "rollback_recommended",
        &line,
        json!({"from": from, "to": to, "reason": reason}),
    );
    notify(
        c.n,
        &c.log,
        &key,
        "rollback_recommended",
        &format!(
            "ROLLBACK RECOMMENDED (recommend-only mode: nothing was changed)\nModel: {key}\nWould roll back: {from} -> v{to}\nTrigger: {reason}\nValues: {values}\nTo act on it: mlrb rollback model {key}"
        ),
    );
    let record = json!({
        "at": clock::fmt(clock::now()),
        "from": from,
        "to": to,
        "reason": reason,
        "values": values,
        "by": "mlrb-watch --recommend-only",
        "host": crate::lease::hostname(),
    });
    if let Err(e) = c.reg.set_model_tag(
        &w.target.registered_name,
        RECOMMENDATION_TAG,
        &record.to_string(),
    ) {
        c.log.line(
            "error",
            &key,
            "registry_error",
            &format!("could not record the recommendation on the registered model: {e}"),
        );
    }
}

/// Runs the model rollback exactly as `mlrb rollback model --yes` would, as mlrb-watch. Only a
/// rollback that happened starts the post-rollback watch; one refused (another rollback's
/// lease) or failed is retried at the next check while the breach lasts, and notified once.
fn trigger(c: &Controller, w: &mut Watched, reason: &str, values: &str, began: DateTime<Utc>) {
    let (log, n) = (&c.log, c.n);
    let key = w.target.key.clone();
    if !c.leading() {
        log.line(
            "warn",
            &key,
            "not_leader",
            "no longer the leader: this replica does not roll back",
        );
        return;
    }
    let (from, to) = from_to(c.reg, &w.target);
    let retry = w.blocked.is_some();
    log.line(
        "error",
        &key,
        "rollback_triggered",
        &format!(
            "AUTOMATED ROLLBACK TRIGGERED for {key}{}. Rolling back from {from} to v{to}. Reason: {reason}",
            if retry { " (retry)" } else { "" }
        ),
    );
    if !retry {
        notify(
            n,
            log,
            &key,
            "rollback_in_progress",
            &messages::rollback_in_progress(&key, &from, to, reason, values),
        );
    }
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
    let result =
        crate::rollback::kinds::model::unattended(c.ctx, &req, alias, Some(Default::default()));
    let not_done = |w: &mut Watched, outcome: &'static str, kind: &str, why: String| {
        c.stats.rollback(&key, outcome);
        log.line(
            "error",
            &key,
            if outcome == "blocked" {
                "rollback_blocked"
            } else {
                "rollback_failed"
            },
            &format!(
                "Rollback {}: {why}; retrying at the next check while the breach lasts",
                outcome.to_uppercase()
            ),
        );
        if w.blocked.as_deref() != Some(why.as_str()) {
            let text = if outcome == "blocked" {
                format!(
                    "AUTOMATED ROLLBACK BLOCKED\nModel: {key}\nWanted: {from} -> v{to}\nTrigger: {reason}\nBlocked by: {why}\nmlrb watch retries at every check while the breach lasts. If that lease is not a rollback in progress, remove it (mlrb status {key} shows it) or roll back by hand."
                )
            } else {
                messages::rollback_failed(&key, &why)
            };
            notify(n, log, &key, kind, &text);
        }
        w.blocked = Some(why);
    };
    match result {
        Ok(ExitStatus::Success) => {
            c.stats.rollback(&key, "rolled_back");
            notify(
                n,
                log,
                &key,
                "rollback_complete",
                &messages::rollback_complete(&key, to, "rolled back and verified"),
            );
        }
        Ok(ExitStatus::NotVerified) => {
            c.stats.rollback(&key, "not_verified");
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
        Ok(ExitStatus::Refused) => {
            return not_done(
                w,
                "blocked",
                "rollback_blocked",
                "the rollback was refused".into(),
            );
        }
        Ok(other) => {
            return not_done(
                w,
                "failed",
                "rollback_failed",
                format!("rollback ended with exit {}", other.code()),
            );
        }
        Err(e) => {
            let (status, _) = crate::error::classify(&e);
            let why = crate::printer::escape_controls(&format!("{e:#}")).into_owned();
            return if status == ExitStatus::Refused {
                not_done(w, "blocked", "rollback_blocked", why)
            } else {
                not_done(w, "failed", "rollback_failed", why)
            };
        }
    }
    w.blocked = None;
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
