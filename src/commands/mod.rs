//! One file per subcommand; this module dispatches and holds what they share.

pub mod candidate;
pub mod changes;
pub mod completions;
pub mod config;
pub mod demo;
pub mod drill;
pub mod export;
pub mod init;
pub mod report;
pub mod rollback;
pub mod runbook;
pub mod status;
pub mod watch;

use crate::cli::{Cli, Command, RollbackCommand};
use crate::config::{Overrides, RegistryTarget, Settings};
use crate::error::{CliError, ExitStatus};
use crate::printer::{Format, Printer};
use crate::registry::{Registry, file::FileRegistry, mlflow::Auth, mlflow::MlflowRegistry};

pub type Result<T> = anyhow::Result<T>;

/// What every command gets: resolved settings and the printer.
pub struct Ctx {
    pub settings: Settings,
    pub printer: Printer,
}

impl Ctx {
    /// The configured registry backend, or a usage error saying how to configure one.
    pub fn registry(&self) -> std::result::Result<Box<dyn Registry>, CliError> {
        match &self.settings.registry {
            Some(RegistryTarget::File { path }) => Ok(Box::new(FileRegistry::new(path.clone()))),
            Some(RegistryTarget::Mlflow { uri }) => {
                if self.settings.http.insecure_tls {
                    self.printer.warn(
                        "MLFLOW_TRACKING_INSECURE_TLS is set: the registry's TLS certificate is NOT verified",
                    );
                }
                let auth = if self.settings.registry_credentials {
                    Auth::from_env()
                } else {
                    let auth = Auth::from_env();
                    if let Some(vars) = auth.sent() {
                        self.printer.warn(&format!(
                            "{vars} are not sent to {}: they belong to the server MLFLOW_TRACKING_URI names, and {} points the registry elsewhere",
                            crate::config::redact_str(uri),
                            self.settings
                                .config_path
                                .as_deref()
                                .map(|p| p.display().to_string())
                                .unwrap_or_else(|| "the config".into())
                        ));
                    }
                    Auth::None
                };
                let reg = MlflowRegistry::new(uri, auth, &self.settings.http)
                    .map_err(CliError::usage)?;
                Ok(Box::new(reg))
            }
            None => Err(CliError::usage("no registry is configured").with_hint(
                "set MLFLOW_TRACKING_URI=http://mlflow:5000, pass --registry URI|PATH, or set [registry] uri in mlrb.toml (`mlrb config` shows which file was read)",
            )),
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitStatus> {
    let format = match &cli.command {
        Command::Status(a) => a.output.format,
        Command::Candidate(a) => a.output.format,
        Command::Rollback(RollbackCommand::Model(a)) => a.output.format,
        Command::Rollback(RollbackCommand::Infra(a)) => a.output.format,
        Command::Rollback(RollbackCommand::Features(a)) => a.output.format,
        Command::Rollback(RollbackCommand::Retrain(a)) => a.output.format,
        Command::Drill(a) => a.output.format,
        Command::Changes(a) => a.output.format,
        Command::Config(a) => a.output.format,
        Command::Report(a) => a.output.format,
        _ => Format::Table,
    };
    let printer = Printer::new(format, cli.global.quiet);
    crate::http::set_verbose(cli.global.verbose > 0);
    // Commands that need no settings run before the config is read, so a broken config
    // never stops `init`, `demo` or `completions`.
    match &cli.command {
        Command::Init(a) => return init::run(&printer, a),
        Command::Completions(a) => return completions::run(a),
        Command::Demo(a) => return demo::run(printer, a),
        _ => {}
    }
    let settings = Settings::resolve(&Overrides {
        config: cli.global.config.clone(),
        registry: cli.global.registry.clone(),
        state_dir: cli.global.state_dir.clone(),
    })?;
    let ctx = Ctx { settings, printer };
    match &cli.command {
        Command::Status(a) => status::run(&ctx, a),
        Command::Config(_) => config::run(&ctx),
        Command::Candidate(a) => candidate::run(&ctx, a),
        Command::Rollback(RollbackCommand::Model(a)) => rollback::model::run(&ctx, a),
        Command::Rollback(RollbackCommand::Infra(a)) => rollback::infra::run(&ctx, a),
        Command::Rollback(RollbackCommand::Features(a)) => rollback::features::run(&ctx, a),
        Command::Rollback(RollbackCommand::Retrain(a)) => rollback::retrain::run(&ctx, a),
        Command::Report(a) => report::run(&ctx, a),
        Command::Runbook(a) => runbook::run(&ctx, a),
        Command::Watch(a) => watch::run(&ctx, a),
        Command::Drill(a) => drill::run(&ctx, a),
        Command::Changes(a) => changes::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Init(_) | Command::Completions(_) | Command::Demo(_) => {
            unreachable!("handled above")
        }
    }
}

/// A version number as typed: `5` or `v5`.
pub fn parse_version(s: &str) -> std::result::Result<u64, CliError> {
    let t = s.trim();
    t.strip_prefix(['v', 'V'])
        .unwrap_or(t)
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            CliError::usage(format!(
                "`{}` is not a version number; versions are positive integers such as 4 or v4",
                s.escape_debug()
            ))
        })
}

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
