//! `mlrb rollback retrain`: arguments → the retrain kind → the engine.

use crate::ci;
use crate::cli::RetrainRollbackArgs;
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;
use crate::rollback::kinds::retrain::Retrain;
use crate::rollback::{Request, engine};

pub fn run(ctx: &Ctx, args: &RetrainRollbackArgs) -> Result<ExitStatus> {
    let mut req = Request::from_args(&args.model, &args.common, false, args.resume)?;
    // A retrain changes nothing live: the model's metrics cannot recover from it.
    req.no_verify = true;
    let want = args.dataset_version.as_ref().map(|d| ci::Retrain {
        dataset: d.clone(),
        config_commit: args.config_commit.clone(),
    });
    let kind = Retrain::for_model(ctx, &args.model, want, args.wait)?;
    engine::run(ctx, &kind, &req)
}
