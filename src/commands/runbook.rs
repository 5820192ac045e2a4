//! `mlrb runbook`: the on-call runbooks from `runbooks/`, with the model's names from the config.

use crate::cli::{RunbookArgs, RunbookTopic};
use crate::config::ServingKind;
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;

/// The runbooks as committed (and executed by the test suite), written for a model `recsys`.
fn text(topic: RunbookTopic) -> &'static str {
    match topic {
        RunbookTopic::Model => include_str!("../../runbooks/model-rollback.md"),
        RunbookTopic::Infra => include_str!("../../runbooks/infra-rollback.md"),
        RunbookTopic::Features => include_str!("../../runbooks/feature-rollback.md"),
        RunbookTopic::Retrain => include_str!("../../runbooks/emergency-retrain.md"),
        RunbookTopic::NoTarget => include_str!("../../runbooks/no-safe-target.md"),
        RunbookTopic::Drill => include_str!("../../runbooks/quarterly-drill.md"),
        RunbookTopic::Gitops => include_str!("../../runbooks/gitops-managed.md"),
        RunbookTopic::Shadow => include_str!("../../runbooks/shadow-stop.md"),
        RunbookTopic::Kserve => include_str!("../../runbooks/served-by-kserve.md"),
    }
}

/// Replaces the word `recsys` (not inside other words) with `model`.
fn fill(text: &str, model: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("recsys") {
        let before = rest[..i].chars().last();
        let after = rest[i + 6..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
        out.push_str(&rest[..i]);
        out.push_str(if word(before) || word(after) {
            "recsys"
        } else {
            model
        });
        rest = &rest[i + 6..];
    }
    out.push_str(rest);
    out
}

pub fn run(ctx: &Ctx, args: &RunbookArgs) -> Result<ExitStatus> {
    let target = ctx.settings.model(&args.model, None)?;
    let cfg = ctx.settings.models.get(&args.model);
    let mut facts = vec![
        format!("registered model: `{}`", target.registered_name),
        format!("live means: {}", target.mode),
        format!(
            "registry: {}",
            match &ctx.settings.registry {
                Some(crate::config::RegistryTarget::Mlflow { uri }) => format!("MLflow at {uri}"),
                Some(crate::config::RegistryTarget::File { path }) =>
                    format!("file {}", path.display()),
                None => "not configured (set MLFLOW_TRACKING_URI)".into(),
            }
        ),
    ];
    if target.serving.kind != ServingKind::None {
        facts.push(format!("serving reload: {:?}", target.serving.kind).to_lowercase());
    }
    if let Some(c) = cfg {
        if let Some(d) = &c.infra.deployment {
            facts.push(format!(
                "infra: deployment `{d}`{}",
                c.infra
                    .namespace
                    .as_deref()
                    .map(|n| format!(" in namespace `{n}`"))
                    .unwrap_or_default()
            ));
        }
        if let Some(f) = &c.features {
            facts.push(format!(
                "feature pipeline: `{}` in {}",
                f.path.display(),
                f.repo.display()
            ));
        }
        match target.fallback.as_ref().map(|f| &f.fallback) {
            Some(crate::config::Fallback::Version(n)) => {
                facts.push(format!("fallback: registry version v{n}"))
            }
            Some(crate::config::Fallback::Switch(sw)) => facts.push(format!(
                "fallback: serving switch {} on {}",
                sw.kind.as_str(),
                match sw.kind {
                    crate::config::SwitchKind::KubectlSetEnv => format!(
                        "deployment `{}` ({}={})",
                        sw.deployment, sw.env_var, sw.value
                    ),
                    crate::config::SwitchKind::ServiceSelector =>
                        format!("service `{}`", sw.service),
                }
            )),
            _ => {}
        }
        if let Some(g) = &c.gitops {
            let (_, name, what) = g.object();
            facts.push(format!(
                "gitops: {what} `{name}`, `{}` in {}",
                g.file.display(),
                g.repo.display()
            ));
        }
        if let Some(r) = &c.retrain {
            facts.push(format!("retrain: {:?}", r.kind).to_lowercase());
        }
    }
    let mut out = format!(
        "<!-- mlrb runbook {} --topic {:?}; from the config {} -->\n> {}\n\n",
        args.model,
        args.topic,
        ctx.settings
            .config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none: zero-config defaults)".into()),
        facts.join(" · ")
    );
    out.push_str(&fill(text(args.topic), &args.model));
    ctx.printer.out(&out);
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    #[test]
    fn fills_the_model_name_only_as_a_word() {
        assert_eq!(
            super::fill("mlrb status recsys; recsys2 [models.recsys]", "fraud"),
            "mlrb status fraud; recsys2 [models.fraud]"
        );
    }
}
