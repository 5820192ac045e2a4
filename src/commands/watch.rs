//! `mlrb watch`: arguments → the controller's options → the controller (src/watch.rs).

use crate::cli::{LogFormat, WatchArgs};
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;
use crate::watch::{Log, Options};

pub fn run(ctx: &Ctx, args: &WatchArgs) -> Result<ExitStatus> {
    let log = Log {
        json: args.log_format == LogFormat::Json,
    };
    if log.json {
        crate::printer::set_json_lines();
    }
    let lease = args.leader_elect.then(|| crate::leader::LeaseConfig {
        name: args.lease_name.clone(),
        namespace: args
            .lease_namespace
            .clone()
            .unwrap_or_else(crate::leader::default_namespace),
        identity: crate::leader::identity(),
        lease_duration: args.lease_duration,
        renew_deadline: args.renew_deadline,
        retry_period: args.retry_period,
    });
    crate::watch::run(
        ctx,
        &Options {
            models: args.models.clone(),
            alias: args.alias.clone(),
            once: args.once,
            recommend_only: args.recommend_only,
            listen: args.listen.clone(),
            lease,
            log,
        },
    )
}
