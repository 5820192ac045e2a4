//! `rollback model MODEL --fallback [--end]` when `[models.X.fallback]` is a serving switch:
//! arguments → the fallback-switch kind → the engine.

use crate::cli::ModelRollbackArgs;
use crate::config::Switch;
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::rollback::kinds::fallback::FallbackSwitch;
use crate::rollback::{Request, engine};

pub fn run(
    ctx: &Ctx,
    args: &ModelRollbackArgs,
    sw: &Switch,
    description: Option<&str>,
) -> Result<ExitStatus> {
    let model = args.model.as_str();
    if args.alias.is_some() {
        return Err(CliError::usage(format!(
            "--alias does not apply to the fallback of `{model}`: it is a serving switch ({}), not a registry version",
            sw.kind.as_str()
        ))
        .into());
    }
    let req = Request::from_args(model, &args.common, args.force_unlock, args.resume)?;
    let kind = FallbackSwitch::new(model, sw.clone(), description.map(str::to_string), args.end);
    engine::run(ctx, &kind, &req)
}
