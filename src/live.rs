//! What is live: a model's versions read once, its live mode settled (stage or alias), and the
//! registry's "not found" turned into "unknown model, did you mean …".

use crate::context::Result;
use crate::error::CliError;
use crate::registry::Registry;

/// Turns a registry NotFound for a model into "unknown model, did you mean …".
pub fn unknown_model(
    reg: &dyn Registry,
    name: &str,
    err: crate::registry::RegistryError,
) -> anyhow::Error {
    use crate::registry::RegistryError;
    match err {
        RegistryError::NotFound { ref what } if what.starts_with("model ") => {
            let names = reg.list_models().unwrap_or_default();
            let close = crate::registry::suggest(name, &names);
            let mut e = CliError::usage(format!(
                "unknown model `{}` in the {}",
                name.escape_debug(),
                reg.location()
            ));
            e = if close.is_empty() {
                e.with_hint("`mlrb status` lists the models; check the name or [models.*].registered_name in mlrb.toml")
            } else {
                e.with_hint(format!("did you mean: {}?", close.join(", ")))
            };
            e.into()
        }
        other => CliError::from(other).into(),
    }
}

/// Every version of the model, newest first, with aliases attached in alias mode: the state a
/// rollback plans from, and the target with its live mode settled (see `settle_mode`). One
/// registry request in stage mode with a version in Production, two otherwise.
pub fn load_versions(
    reg: &dyn Registry,
    target: &crate::config::ModelTarget,
) -> Result<(
    crate::config::ModelTarget,
    Vec<crate::registry::ModelVersion>,
)> {
    use crate::registry::{LiveMode, Stage};
    let name = &target.registered_name;
    let mut target = target.clone();
    let mut versions =
        crate::registry::all_versions(reg, name).map_err(|e| unknown_model(reg, name, e))?;
    let assumed_stage = target.mode == LiveMode::Stage
        && !target.mode_chosen
        && !versions.iter().any(|v| v.stage == Stage::Production);
    if assumed_stage || matches!(target.mode, LiveMode::Alias(_)) {
        let model = reg
            .get_model(name)
            .map_err(|e| unknown_model(reg, name, e))?;
        settle_with_model(&mut target, &mut versions, &model)?;
    }
    Ok((target, versions))
}

/// `load_versions`' second half, for a caller that has read the model already: the live mode
/// settled, a deleted alias target noted, aliases attached to the versions.
pub fn settle_with_model(
    target: &mut crate::config::ModelTarget,
    versions: &mut [crate::registry::ModelVersion],
    model: &crate::registry::RegisteredModel,
) -> std::result::Result<(), CliError> {
    use crate::registry::LiveMode;
    settle_mode(target, model)?;
    if let LiveMode::Alias(a) = &target.mode {
        target.alias_names_deleted = model
            .aliases
            .get(a)
            .copied()
            .filter(|n| !versions.iter().any(|v| v.version == *n));
    }
    crate::registry::attach_aliases(model, versions);
    Ok(())
}

/// Zero config assumes the Production stage. A model with nothing in Production that is served
/// by an alias (MLflow's recommended way) is live by that alias: its only alias, or
/// `@champion`. Several aliases and no champion is ambiguous: refused, listing them, rather
/// than guessed. A chosen mode (`--alias`, `mode` in the config) is never second-guessed.
pub fn settle_mode(
    target: &mut crate::config::ModelTarget,
    model: &crate::registry::RegisteredModel,
) -> std::result::Result<(), CliError> {
    use crate::registry::{LiveMode, Stage};
    if target.mode_chosen
        || target.mode != LiveMode::Stage
        || model.latest.contains_key(&Stage::Production)
        || model.aliases.is_empty()
    {
        return Ok(());
    }
    let aliases: Vec<&String> = model.aliases.keys().collect();
    let alias = match aliases.as_slice() {
        [only] => (*only).clone(),
        _ if model.aliases.contains_key("champion") => "champion".to_string(),
        _ => {
            let listed: Vec<String> = model
                .aliases
                .iter()
                .map(|(a, v)| format!("@{a} → v{v}"))
                .collect();
            return Err(CliError::usage(format!(
                "model `{}` has no version in Production and several aliases ({}); which one is live is ambiguous",
                target.registered_name.escape_debug(),
                listed.join(", ")
            ))
            .with_hint(format!(
                "name the alias serving traffic: --alias NAME (e.g. --alias {}), or set mode = \"alias\" and alias in [models.{}]",
                aliases[0], target.key
            )));
        }
    };
    target.mode_note = Some(format!(
        "no version is in Production, so live means @{alias} ({})",
        if aliases.len() == 1 {
            "the model's only alias"
        } else {
            "the champion alias"
        }
    ));
    target.mode = LiveMode::Alias(alias);
    Ok(())
}

/// An alias that names a version the registry no longer holds is reported as that, not as
/// "no such alias": nothing can serve from it, and the fix differs.
pub fn alias_names_deleted(target: &crate::config::ModelTarget) -> Option<String> {
    match (&target.mode, target.alias_names_deleted) {
        (crate::registry::LiveMode::Alias(a), Some(n)) => Some(format!(
            "alias @{a} of `{}` names v{n}, which is no longer in the registry (deleted); nothing can serve from it",
            target.registered_name.escape_debug()
        )),
        _ => None,
    }
}
