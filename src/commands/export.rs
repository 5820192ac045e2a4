//! `mlrb export`: the rule `watch` applies, written for Prometheus or Argo Rollouts.

use crate::cli::{ExportArgoArgs, ExportCommand, ExportRulesArgs, RulesFormat};
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::export::{self, ModelRule};
use crate::live::load_versions;
use crate::metrics::{Baseline, ModelMetrics};
use crate::{registry, select};

pub fn run(ctx: &Ctx, cmd: &ExportCommand) -> Result<ExitStatus> {
    match cmd {
        ExportCommand::PrometheusRules(a) => rules(ctx, a),
        ExportCommand::ArgoAnalysis(a) => argo(ctx, a),
    }
}

fn rules(ctx: &Ctx, args: &ExportRulesArgs) -> Result<ExitStatus> {
    let mut all = Vec::new();
    for key in &args.models {
        all.push(model_rule(ctx, key)?);
    }
    let text = match args.format {
        RulesFormat::Rules => export::prometheus_rules(&all),
        RulesFormat::Prometheusrule => export::prometheus_rule_object(&all),
    };
    emit(ctx, &text, args.out.as_deref())
}

fn argo(ctx: &Ctx, args: &ExportArgoArgs) -> Result<ExitStatus> {
    let rule = model_rule(ctx, &args.model)?;
    emit(ctx, &export::argo_analysis(&rule), args.out.as_deref())
}

fn emit(ctx: &Ctx, text: &str, out: Option<&std::path::Path>) -> Result<ExitStatus> {
    match out {
        None => ctx.printer.out(text),
        Some(path) => {
            // The same bytes stdout would get.
            let text = crate::secrets::scrub(text);
            crate::files::write_replacing(path, text.as_bytes()).map_err(|e| {
                CliError::usage(format!("cannot write {}: {e}", path.display()))
                    .with_hint("give --out a path in a directory you can write")
            })?;
            ctx.printer.status(&format!("wrote {}", path.display()));
        }
    }
    Ok(ExitStatus::Success)
}

/// `key`'s rule with its baseline resolved as `status` resolves it.
pub fn model_rule(ctx: &Ctx, key: &str) -> Result<ModelRule> {
    let cfg = ctx.settings.models.get(key).ok_or_else(|| {
        CliError::usage(format!("{key} is not a model in the config"))
            .with_hint("export works from [models.X.metrics] and [models.X.thresholds] in mlrb.toml (`mlrb config` shows which file was read)")
    })?;
    let Some(mm) = ModelMetrics::for_model(Some(cfg))? else {
        return Err(CliError::usage(format!(
            "{key} has no [models.{key}.metrics]: there is no query to alert on"
        ))
        .with_hint("add prometheus_url and the metric queries (error_rate = '…') under it")
        .into());
    };
    let target = ctx.settings.model(key, None)?;
    let baseline = resolve_baseline(ctx, &mm, &target)?;
    ModelRule::new(key, &target.registered_name, cfg, &baseline)
        .ok_or_else(|| anyhow::anyhow!("{key}: metrics configuration vanished"))
}

/// The baseline as `status` resolves it: the config's values, or the rollback target's run,
/// or the queries before the live version went live (those two read the registry).
fn resolve_baseline(
    ctx: &Ctx,
    mm: &ModelMetrics,
    target: &crate::config::ModelTarget,
) -> Result<Baseline> {
    if let Some(b) = mm.config_baseline() {
        return Ok(b);
    }
    let reg = ctx.registry()?;
    let (target, versions) = load_versions(reg.as_ref(), target)?;
    let live = registry::live_versions(&versions, &target.mode);
    let choice = select::choose_in(&versions, &target.mode, None);
    mm.baseline(
        reg.as_ref(),
        choice.as_ref().ok().map(|c| &c.version),
        live.first().copied(),
    )
}

/// `status --rules FILE`: whether the file's alerts for a model are those the config gives.
#[derive(Debug, serde::Serialize)]
pub struct RulesCheck {
    pub path: String,
    /// false: the comparison could not be made (no metrics, no baseline); `message` says why.
    pub checked: bool,
    pub matches: bool,
    pub message: String,
    /// What differs, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

pub fn read_rules(path: &std::path::Path) -> std::result::Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("--rules {}: cannot read it: {e}", path.display()))
            .with_hint("give the file `mlrb export prometheus-rules MODEL --out FILE` wrote")
    })
}

/// Compares the file with the rule the config gives now, over the baseline `status` resolved.
pub fn check_rules(
    ctx: &Ctx,
    st: &crate::status::ModelStatus,
    path: &std::path::Path,
    text: &str,
) -> RulesCheck {
    let shown = path.display().to_string();
    let key = &st.model;
    let re_export = format!(
        "export again with `mlrb export prometheus-rules {key} --out {shown}` (and reload Prometheus)"
    );
    let verdict = |matches: bool, message: String, differences: Vec<String>| RulesCheck {
        path: shown.clone(),
        checked: matches || !differences.is_empty(),
        matches,
        message,
        differences,
    };
    let Some(cfg) = ctx.settings.models.get(key).filter(|c| c.metrics.is_some()) else {
        return verdict(
            false,
            format!("{shown} cannot be checked: {key} has no [models.{key}.metrics]"),
            Vec::new(),
        );
    };
    let Some(m) = st
        .metrics
        .as_ref()
        .filter(|m| !m.baseline_source.is_empty())
    else {
        let why = st
            .metrics
            .as_ref()
            .map(|m| m.reason.clone())
            .unwrap_or_default();
        return verdict(
            false,
            format!("{shown} cannot be checked: {why}"),
            Vec::new(),
        );
    };
    let baseline = Baseline {
        values: m.baseline.clone(),
        source: m.baseline_source.clone(),
    };
    let Some(rule) = ModelRule::new(key, &st.registered_name, cfg, &baseline) else {
        return verdict(false, format!("{shown} cannot be checked"), Vec::new());
    };
    let diffs = export::drift(&rule, text);
    if diffs.is_empty() {
        verdict(
            true,
            format!(
                "{shown} matches the config ({} alerts)",
                export::alerts(&rule).len()
            ),
            diffs,
        )
    } else {
        verdict(
            false,
            format!(
                "{shown} no longer matches the config: {}; {re_export}",
                diffs.join("; ")
            ),
            diffs,
        )
    }
}
