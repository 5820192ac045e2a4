//! One file per subcommand; this module dispatches and holds what they share.

pub mod candidate;
pub mod changes;
pub mod completions;
pub mod demo;
pub mod drill;
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
                let reg = MlflowRegistry::new(uri, Auth::from_env(), &self.settings.http)
                    .map_err(CliError::usage)?;
                Ok(Box::new(reg))
            }
            None => Err(CliError::usage("no registry is configured").with_hint(
                "set MLFLOW_TRACKING_URI=http://mlflow:5000, pass --registry URI|PATH, or write mlrb.toml with `mlrb init`",
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
        _ => Format::Table,
    };
    let printer = Printer::new(format, cli.global.quiet);
    crate::http::set_verbose(cli.global.verbose);
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
/// rollback plans from. One registry request in stage mode, two in alias mode.
pub fn load_versions(
    reg: &dyn Registry,
    target: &crate::config::ModelTarget,
) -> Result<Vec<crate::registry::ModelVersion>> {
    let name = &target.registered_name;
    let mut versions =
        crate::registry::all_versions(reg, name).map_err(|e| unknown_model(reg, name, e))?;
    if let crate::registry::LiveMode::Alias(_) = target.mode {
        let model = reg
            .get_model(name)
            .map_err(|e| unknown_model(reg, name, e))?;
        crate::registry::attach_aliases(&model, &mut versions);
    }
    Ok(versions)
}
