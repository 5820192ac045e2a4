//! `mlrb rollback model`: arguments → the model kind (or the serving-switch fallback) → the engine.

use std::sync::Arc;

use crate::cli::ModelRollbackArgs;
use crate::commands::parse_version;
use crate::config::Fallback;
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::rollback::kinds::model::Model;
use crate::rollback::{Request, engine};

pub fn run(ctx: &Ctx, args: &ModelRollbackArgs) -> Result<ExitStatus> {
    // Every input is checked before the registry is touched.
    let target = ctx.settings.model(&args.model, args.alias.as_deref())?;
    let fallback = if args.fallback {
        let f = target.fallback.clone().ok_or_else(|| {
            CliError::usage(format!("no fallback is configured for `{}`", args.model)).with_hint(format!(
                "add [models.{}.fallback] with `version = N` (a pre-built, tested version) or `switch = \"kubectl-set-env\"` / `\"service-selector\"` (a switch in the serving layer) to mlrb.toml",
                args.model
            ))
        })?;
        match f.fallback {
            Fallback::Switch(sw) => {
                return super::fallback::run(ctx, args, &sw, f.description.as_deref());
            }
            Fallback::Version(n) if args.end => {
                return Err(CliError::usage(format!(
                    "--end switches a serving-switch fallback off, but the fallback of `{}` is registry version {n}",
                    args.model
                ))
                .with_hint(format!(
                    "to leave it, roll to another version: mlrb rollback model {} --to V",
                    args.model
                ))
                .into());
            }
            Fallback::Version(n) => Some((n, f.description)),
        }
    } else {
        None
    };
    let to = match &fallback {
        Some((n, _)) => Some(*n),
        None => args.to.as_deref().map(parse_version).transpose()?,
    };
    let mut req = Request::from_args(&args.model, &args.common, args.force_unlock, args.resume)?;
    req.no_verify = args.no_verify;
    let reg: Arc<dyn crate::registry::Registry> = Arc::from(ctx.registry()?);
    let mut kind = Model::new(target, reg);
    kind.to = to;
    kind.force = args.force;
    kind.fallback = fallback;
    let kind = crate::rollback::kinds::gitops::wrap(
        ctx,
        Box::new(kind),
        &args.model,
        crate::rollback::kinds::gitops::Which::Model,
        super::infra::flags(&args.gitops),
    );
    engine::run(ctx, &kind, &req)
}
