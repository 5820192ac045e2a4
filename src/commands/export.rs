//! `mlrb export`: the rule `watch` applies, written for Prometheus or Argo Rollouts.

use crate::cli::{ExportArgoArgs, ExportCommand, ExportRulesArgs, RulesFormat};
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::export::{self, model_rule};

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
