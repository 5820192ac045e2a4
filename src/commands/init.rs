//! `mlrb init`: write the commented starter config.

use crate::cli::InitArgs;
use crate::config::STARTER;
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;

pub fn run(printer: &Printer, args: &InitArgs) -> anyhow::Result<ExitStatus> {
    // A dangling symlink counts as there: writing through it would create its target.
    if args.path.symlink_metadata().is_ok() && !args.force {
        return Err(CliError::usage(format!(
            "{} already exists; mlrb will not overwrite it",
            args.path.display()
        ))
        .with_hint("pass --force to replace it, or --path to write elsewhere")
        .into());
    }
    crate::files::write_replacing(&args.path, STARTER.as_bytes()).map_err(|e| {
        CliError::new(
            ExitStatus::Failure,
            format!("cannot write {}: {e}", args.path.display()),
        )
    })?;
    printer.status(&format!(
        "wrote {}: every value in it is a commented example; uncomment what you need, then check with `mlrb config`",
        args.path.display()
    ));
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    /// The starter sets nothing: written into a directory, it must not hide
    /// MLFLOW_TRACKING_URI or turn model names into names that do not exist.
    #[test]
    fn starter_config_parses_and_sets_nothing() {
        let cfg: crate::config::FileConfig = toml::from_str(crate::config::STARTER).unwrap();
        assert!(cfg.models.is_empty(), "{:?}", cfg.models.keys());
        assert!(cfg.registry.uri.is_none() && cfg.registry.kind.is_none());
    }
}
