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
use crate::error::{CliError, ExitStatus};
use crate::printer::{Format, Printer};

use crate::config::{Overrides, Settings};
use crate::context::{Ctx, Result};

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
