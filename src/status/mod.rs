//! What `mlrb status` states about a model: what is live, what a rollback would go to, the
//! metrics against their baseline, and every anomaly (see `anomalies`).

pub mod anomalies;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::ModelTarget;
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;
use crate::journal::Record;
use crate::live::load_versions;
use crate::metrics::ModelMetrics;
use crate::metrics::decision::Decision;
use crate::registry::{self, LiveMode, ModelVersion, Registry, Stage};
use crate::select;
use anomalies::Anomaly;

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
    pub changes: Option<crate::timeline::Timeline>,
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
    pub rules_file: Option<crate::export::RulesCheck>,
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

/// Everything `status` states about the model `key`: what is live, the rollback target, the
/// metrics, the fallback switch, GitOps and shadow state, the last recommendation, and every
/// anomaly (the journal's `records` name this machine's unfinished rollbacks). `detail` (one
/// model asked for) adds the change timeline of the last 24 hours.
pub fn of_model(
    ctx: &Ctx,
    reg: &dyn Registry,
    (key, alias): (&str, Option<&str>),
    detail: bool,
    records: &[Record],
) -> Result<ModelStatus> {
    let target = ctx.settings.model(key, alias)?;
    let mm = ModelMetrics::for_model(ctx.settings.models.get(key))?;
    // The versions are listed once, for the status and its change timeline.
    let (target, versions) = load_versions(reg, &target)?;
    let mut st = model_status(reg, &target, &versions, mm.as_ref())?;
    if detail {
        // The breach start is searched only when the metrics say something is wrong now.
        let breached = st
            .metrics
            .as_ref()
            .is_some_and(|m| m.decision.is_some_and(|d| d != Decision::Monitor));
        let since = crate::clock::now() - chrono::Duration::hours(24);
        st.changes = crate::timeline::timeline_of(
            ctx,
            reg,
            (&target, Some(&versions)),
            since,
            None,
            breached,
            false,
        )
        .ok();
    }
    st.fallback_switch = crate::journal::active_switch(records, key).map(|a| fallback_view(key, a));
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
    anomalies::unfinished_here(records, &target, key, &reg.location(), &mut st.anomalies);
    if let Ok(model) = reg.get_model(&target.registered_name) {
        st.recommendation = model
            .tags
            .get(crate::watch::RECOMMENDATION_TAG)
            .and_then(|v| serde_json::from_str(v).ok());
        anomalies::unfinished_anywhere(&model, key, &mut st.anomalies);
    }
    anomalies::drills_in_progress(&ctx.settings.state_dir, key, &mut st.anomalies);
    Ok(st)
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
        anomalies: anomalies::of_versions(target, versions, designated),
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

fn err_message<S: serde::Serializer>(
    e: &Option<(String, ExitStatus)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match e {
        Some((m, _)) => s.serialize_str(m),
        None => s.serialize_none(),
    }
}
