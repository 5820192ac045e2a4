//! `mlrb status`: what is live, what a rollback would go to, and every anomaly, per model.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::StatusArgs;
use crate::commands::{Ctx, Result, load_versions};
use crate::config::ModelTarget;
use crate::error::ExitStatus;
use crate::metrics::ModelMetrics;
use crate::metrics::decision::{Decision, fmt_value};
use crate::registry::{self, LiveMode, ModelVersion, Registry, Stage, tags};
use crate::select;

#[derive(Debug, Serialize)]
pub struct VersionView {
    pub version: u64,
    pub stage: Stage,
    pub aliases: Vec<String>,
    pub created_at: Option<String>,
    pub source: String,
    pub status: String,
}

impl From<&ModelVersion> for VersionView {
    fn from(v: &ModelVersion) -> Self {
        VersionView {
            version: v.version,
            stage: v.stage,
            aliases: v.aliases.clone(),
            created_at: v.created_at.map(crate::clock::fmt),
            source: v.source.clone(),
            status: v.status.clone(),
        }
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Anomaly {
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct ModelStatus {
    pub model: String,
    pub registered_name: String,
    pub registry: String,
    pub mode: LiveMode,
    /// How mlrb decided what "live" means when nobody told it (an alias-served model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_note: Option<String>,
    pub versions: usize,
    pub live: Vec<VersionView>,
    pub designated_target: Option<u64>,
    pub candidate: Option<VersionView>,
    pub candidate_reason: String,
    pub anomalies: Vec<Anomaly>,
    /// Whether the model server has the rollback target loaded: "warm", "cold" or
    /// "unknown (…)"; only with `[models.X.serving] readiness_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_readiness: Option<String>,
    /// Metrics now vs baseline and the decision; only for models with `[models.X.metrics]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsView>,
    /// What changed in the last 24 hours (`mlrb changes`); only when one model is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::commands::changes::Timeline>,
    /// The serving-switch fallback the journal shows on (`rollback model --fallback`, not ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_switch: Option<FallbackSwitchView>,
    /// Objects Argo CD or Flux manages, and a sync mlrb holds suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gitops: Option<crate::rollback::kinds::gitops::GitopsStatus>,
    /// `[models.X.infra] shadow`: whether the VirtualService mirrors traffic to the model's
    /// shadow now, and how much.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<String>,
    /// `--rules FILE`: whether the exported alerting rules still match the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules_file: Option<crate::commands::export::RulesCheck>,
    /// The last rollback `watch --recommend-only` recommended (the registered model's
    /// `rollback.recommendation` tag): at, from, to, reason, values, by, host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct FallbackSwitchView {
    /// The event that switched it on.
    pub event: String,
    pub since: String,
    pub switch: &'static str,
    pub target: String,
    pub value: String,
    /// What `--fallback --end` restores.
    pub previous: String,
    /// false: that event was interrupted while switching; the switch may or may not be on.
    pub certain: bool,
    pub message: String,
}

fn fallback_view(key: &str, a: crate::journal::ActiveSwitch) -> FallbackSwitchView {
    let mut target = a.object.clone();
    if let Some(n) = &a.namespace {
        target.push_str(&format!(" in namespace {n}"));
    }
    if let Some(c) = &a.context {
        target.push_str(&format!(" (context {c})"));
    }
    let since = crate::clock::fmt(a.at);
    let message = format!(
        "{} its fallback switch since {since} (event {}): {target} has {} instead of {}; end it with `mlrb rollback model {key} --fallback --end`",
        if a.certain {
            "serving"
        } else {
            "possibly serving (the switch was interrupted)"
        },
        a.event,
        a.value,
        a.previous
    );
    FallbackSwitchView {
        event: a.event,
        since,
        switch: a.switch.as_str(),
        target,
        value: a.value.to_string(),
        previous: a.previous.to_string(),
        certain: a.certain,
        message,
    }
}

#[derive(Debug, Serialize)]
pub struct MetricsView {
    pub prometheus: String,
    /// Values now; `null` is unknown (see `unknown_why`), never zero.
    pub now: BTreeMap<String, Option<f64>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown_why: BTreeMap<String, String>,
    pub baseline: BTreeMap<String, f64>,
    pub baseline_source: String,
    pub decision: Option<Decision>,
    pub decision_label: String,
    pub reason: String,
    pub breaches: Vec<crate::metrics::decision::Breach>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "err_message"
    )]
    pub error: Option<(String, ExitStatus)>,
}

/// The registry's models fit to show: one whose name has a control character (which no
/// command line can name, and which would fail the listing of all) is skipped with a warning.
fn listed_models(ctx: &Ctx, names: Vec<String>) -> Vec<String> {
    let (ok, bad): (Vec<String>, Vec<String>) = names
        .into_iter()
        .partition(|n| !n.chars().any(char::is_control));
    for n in bad {
        ctx.printer.warn(&format!(
            "skipped registered model \"{}\": its name has control characters, which mlrb cannot name on a command line (rename it in the registry)",
            n.escape_debug()
        ));
    }
    ok
}

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<ExitStatus> {
    let reg = ctx.registry()?;
    let keys: Vec<String> = match &args.model {
        Some(m) => vec![m.clone()],
        None if !ctx.settings.models.is_empty() => ctx.settings.models.keys().cloned().collect(),
        None => listed_models(ctx, reg.list_models()?),
    };
    let rules_text = args
        .rules
        .as_deref()
        .map(crate::commands::export::read_rules)
        .transpose()?;
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    let mut out = Vec::new();
    let mut metrics_error: Option<crate::error::CliError> = None;
    for key in &keys {
        let target = ctx.settings.model(key, args.alias.as_deref())?;
        let mm = ModelMetrics::for_model(ctx.settings.models.get(key))?;
        // The versions are listed once, for the status and its change timeline.
        let (target, versions) = load_versions(reg.as_ref(), &target)?;
        let mut st = model_status(reg.as_ref(), &target, &versions, mm.as_ref())?;
        if args.model.is_some() {
            // The breach start is searched only when the metrics say something is wrong now.
            let breached = st
                .metrics
                .as_ref()
                .is_some_and(|m| m.decision.is_some_and(|d| d != Decision::Monitor));
            let since = crate::clock::now() - chrono::Duration::hours(24);
            st.changes = crate::commands::changes::timeline_of(
                ctx,
                reg.as_ref(),
                (&target, Some(&versions)),
                since,
                None,
                breached,
                false,
            )
            .ok();
        }
        if let Some(m) = &st.metrics
            && let Some(e) = &m.error
            && metrics_error.is_none()
        {
            metrics_error = Some(crate::error::CliError::new(
                e.1,
                format!("{}: metrics: {}", st.model, e.0),
            ));
        }
        st.fallback_switch =
            crate::journal::active_switch(&records, key).map(|a| fallback_view(key, a));
        st.gitops = ctx
            .settings
            .models
            .get(key)
            .and_then(|m| crate::rollback::kinds::gitops::status(key, m));
        st.shadow = ctx
            .settings
            .models
            .get(key)
            .and_then(|c| crate::rollback::kinds::infra::shadow_status(&c.infra))
            .map(|l| l.replace("MODEL", key));
        // Every model with metrics, or the one asked for (which says why it cannot be checked).
        let alerting = ctx
            .settings
            .models
            .get(key)
            .is_some_and(|c| c.metrics.is_some());
        if let (Some(path), Some(text), true) =
            (&args.rules, &rules_text, alerting || args.model.is_some())
        {
            let check = crate::commands::export::check_rules(ctx, &st, path, text);
            if !check.matches {
                st.anomalies.push(Anomaly {
                    kind: if check.checked {
                        "rules_drift"
                    } else {
                        "rules_unchecked"
                    },
                    message: check.message.clone(),
                });
            }
            st.rules_file = Some(check);
        }
        for event in crate::journal::unfinished(&records, &target.registered_name, &reg.location())
        {
            let (done, total, next) = crate::journal::progress(&records, event);
            let (why, again) = if crate::journal::last_outcome(&records, event)
                == Some(crate::journal::NOT_CONVERGED)
            {
                (
                    "the registry is rolled back, but serving has not converged on the target",
                    " (or the same command again)",
                )
            } else {
                ("interrupted, failed, or still running", "")
            };
            st.anomalies.insert(
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
        for (event, command) in unfinished_other_kinds(&records, key) {
            let (done, total, next) = crate::journal::progress(&records, &event);
            st.anomalies.insert(
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
        // Unfinished rollbacks every machine sees: a holder gone, a lease expired, a failed
        // step; whichever machine started them.
        if let Ok(model) = reg.get_model(&target.registered_name) {
            st.recommendation = model
                .tags
                .get(crate::watch::RECOMMENDATION_TAG)
                .and_then(|v| serde_json::from_str(v).ok());
            for u in crate::lease::unfinished(&model) {
                if st.anomalies.iter().any(|a| a.message.contains(&u.event)) {
                    continue;
                }
                st.anomalies.insert(
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
        for (id, since) in crate::drill::restore::in_progress(&ctx.settings.state_dir, key) {
            st.anomalies.insert(
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
        out.push(st);
    }
    if ctx.printer.json() {
        if args.model.is_some() {
            ctx.printer.out_json(&out[0]);
        } else {
            ctx.printer.out_json(&out);
        }
    } else if out.is_empty() {
        ctx.printer
            .out(&format!("no models in the {}", reg.location()));
    } else {
        let text: Vec<String> = out.iter().map(render).collect();
        ctx.printer.out(&text.join("\n"));
    }
    // The registry part is printed either way; a metrics failure still fails the command.
    if let Some(e) = metrics_error {
        return Err(e.into());
    }
    Ok(ExitStatus::Success)
}

/// The status of `target` (as `load_versions` settled it) from its `versions`.
pub fn model_status(
    reg: &dyn Registry,
    target: &ModelTarget,
    versions: &[ModelVersion],
    mm: Option<&ModelMetrics>,
) -> Result<ModelStatus> {
    let live = registry::live_versions(versions, &target.mode);
    let live_ids: Vec<u64> = live.iter().map(|v| v.version).collect();
    let designated = versions
        .iter()
        .filter(|v| v.is_healthy_baseline())
        .find(|v| select::unfit(v, &live_ids).is_none())
        .map(|v| v.version);
    let choice = select::choose_in(versions, &target.mode, None);
    let metrics = mm.map(|mm| {
        let target_v = choice.as_ref().ok().map(|c| &c.version);
        metrics_view(reg, mm, target_v, live.first().copied())
    });
    let (candidate, candidate_reason) = match &choice {
        Ok(c) => (Some(VersionView::from(&c.version)), c.why.clone()),
        Err(reasons) => (None, format!("no rollback target: {}", reasons.join("; "))),
    };
    let target_readiness = match (&target.serving.readiness_url, &candidate) {
        (Some(url), Some(c)) => Some(
            match crate::serving::client()
                .and_then(|h| crate::serving::readiness(&h, url, c.version))
            {
                Ok(true) => "warm".to_string(),
                Ok(false) => "cold".to_string(),
                Err(e) => format!("unknown ({e})"),
            },
        ),
        _ => None,
    };
    Ok(ModelStatus {
        target_readiness,
        model: target.key.clone(),
        registered_name: target.registered_name.clone(),
        registry: reg.location(),
        mode: target.mode.clone(),
        mode_note: target.mode_note.clone(),
        versions: versions.len(),
        anomalies: {
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
            if let Some(message) = crate::commands::alias_names_deleted(target) {
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
        },
        live: live.into_iter().map(VersionView::from).collect(),
        designated_target: designated,
        candidate,
        candidate_reason,
        metrics,
        changes: None,
        fallback_switch: None,
        gitops: None,
        shadow: None,
        rules_file: None,
        recommendation: None,
    })
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

/// Metrics now, the baseline and the decision; a failure is kept in `error` (with its exit
/// status) so the registry part of `status` is still shown.
fn metrics_view(
    reg: &dyn Registry,
    mm: &ModelMetrics,
    target: Option<&ModelVersion>,
    live: Option<&ModelVersion>,
) -> MetricsView {
    let mut view = MetricsView {
        prometheus: mm.prom.url().to_string(),
        now: BTreeMap::new(),
        unknown_why: BTreeMap::new(),
        baseline: BTreeMap::new(),
        baseline_source: String::new(),
        decision: None,
        decision_label: "UNKNOWN".into(),
        reason: String::new(),
        breaches: Vec::new(),
        error: None,
    };
    let baseline = match mm.baseline(reg, target, live) {
        Ok(b) => b,
        Err(e) => {
            let (st, _) = crate::error::classify(&e);
            view.reason = format!("no baseline: {e}");
            view.error = Some((e.to_string(), st));
            return view;
        }
    };
    view.baseline = baseline.values.clone();
    view.baseline_source = baseline.source.clone();
    match mm.read(None) {
        Ok(snap) => {
            let e = mm.decide(&snap.values, &baseline);
            view.now = snap.values;
            view.unknown_why = snap.notes;
            view.decision = Some(e.decision);
            view.decision_label = e.decision.label().into();
            view.reason = e.reason;
            view.breaches = e.breaches;
        }
        Err(e) => {
            let ce = crate::error::CliError::from(e);
            view.reason = format!("metrics unavailable: {}", ce.message);
            view.error = Some((ce.message, ce.status));
        }
    }
    view
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

fn render(s: &ModelStatus) -> String {
    let mut t = crate::printer::table();
    t.set_header(vec![
        "role", "version", "stage", "aliases", "created", "source",
    ]);
    let row = |role: &str, v: &VersionView| {
        vec![
            role.to_string(),
            format!("v{}", v.version),
            v.stage.to_string(),
            v.aliases
                .iter()
                .map(|a| format!("@{a}"))
                .collect::<Vec<_>>()
                .join(" "),
            v.created_at
                .as_deref()
                .map(|c| c.get(..16).unwrap_or(c).replace('T', " "))
                .unwrap_or_default(),
            v.source.clone(),
        ]
    };
    for v in &s.live {
        t.add_row(row("live", v));
    }
    if let Some(c) = &s.candidate {
        t.add_row(row("rollback target", c));
    }
    let mut text = format!(
        "{}  ({}{}, live by {}, {} versions)\n{t}\n",
        s.model,
        if s.registered_name != s.model {
            format!("registered as {}, ", s.registered_name)
        } else {
            String::new()
        },
        s.registry,
        s.mode,
        s.versions
    );
    if let Some(note) = &s.mode_note {
        text.push_str(&format!("  live: {note}\n"));
    }
    if let Some(f) = &s.fallback_switch {
        text.push_str(&format!("  FALLBACK: {}\n", f.message));
    }
    if let Some(g) = &s.gitops {
        for m in &g.managed {
            text.push_str(&format!("  managed: {m}\n"));
        }
        if let Some(sv) = &g.suspended {
            text.push_str(&format!("  GITOPS SYNC SUSPENDED: {}\n", sv.message));
        }
    }
    text.push_str(&format!("  target: {}\n", s.candidate_reason));
    if let Some(r) = &s.target_readiness {
        text.push_str(&format!("  target loaded in the model server: {r}\n"));
    }
    if let Some(m) = &s.metrics {
        text.push_str(&render_metrics(m));
    }
    if let Some(r) = &s.recommendation {
        let field = |k: &str| match &r[k] {
            serde_json::Value::String(v) => v.replace(['\n', '\r'], " "),
            serde_json::Value::Null => "?".into(),
            other => other.to_string(),
        };
        text.push_str(&crate::printer::escape_controls(&format!(
            "  last recommendation ({} at {}): roll back {} -> v{}: {}\n",
            field("by"),
            field("at"),
            field("from"),
            field("to"),
            field("reason")
        )));
    }
    if let Some(c) = &s.changes {
        text.push_str(&crate::commands::changes::render_section(c, 8));
    }
    if let Some(sh) = &s.shadow {
        text.push_str(&format!("  shadow: {sh}\n"));
    }
    if let Some(r) = s.rules_file.as_ref().filter(|r| r.matches) {
        text.push_str(&format!("  alerting rules: {}\n", r.message));
    }
    if s.anomalies.is_empty() {
        text.push_str("  no anomalies\n");
    } else {
        text.push_str("  anomalies:\n");
        for a in &s.anomalies {
            text.push_str(&format!("  ! {}\n", a.message));
        }
    }
    text
}

fn err_message<S: serde::Serializer>(
    e: &Option<(String, ExitStatus)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match e {
        Some((m, _)) => s.serialize_str(m),
        None => s.serialize_none(),
    }
}

fn render_metrics(m: &MetricsView) -> String {
    let mut t = crate::printer::table();
    t.set_header(vec!["metric", "now", "baseline"]);
    let mut names: Vec<&String> = m.now.keys().chain(m.baseline.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        let now = match m.now.get(n) {
            Some(Some(v)) => fmt_value(n, *v),
            Some(None) => format!(
                "unknown ({})",
                m.unknown_why
                    .get(n)
                    .map(String::as_str)
                    .unwrap_or("no data")
            ),
            None => "—".into(),
        };
        let base = m
            .baseline
            .get(n)
            .map(|v| fmt_value(n, *v))
            .unwrap_or_else(|| "—".into());
        t.add_row(vec![n.clone(), now, base]);
    }
    let mut text = format!("  metrics ({}):\n{t}\n", m.prometheus);
    if !m.baseline_source.is_empty() {
        text.push_str(&format!("  baseline: {}\n", m.baseline_source));
    }
    text.push_str(&format!(
        "  decision: {} — {}\n",
        m.decision_label, m.reason
    ));
    for b in m.breaches.iter().skip(1) {
        text.push_str(&format!("    also: {}\n", b.reason));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
