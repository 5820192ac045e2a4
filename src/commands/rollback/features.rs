//! `mlrb rollback features`: arguments → the features kind → the engine.

use crate::cli::FeaturesRollbackArgs;
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;
use crate::rollback::kinds::features::Features;
use crate::rollback::{Request, engine};

pub fn run(ctx: &Ctx, args: &FeaturesRollbackArgs) -> Result<ExitStatus> {
    let req = Request::from_args(&args.model, &args.common, false, args.resume)?;
    let mut kind = Features::for_model(ctx, &args.model)?;
    kind.to = args.to.clone();
    kind.before = args.before.clone();
    kind.no_commit = args.no_commit;
    kind.push = args.push;
    engine::run(ctx, &kind, &req)
}
