//! `mlrb rollback infra`: arguments → the infra kind → the engine; `--history` lists the
//! revisions and changes nothing.

use crate::cli::InfraRollbackArgs;
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;
use crate::rollback::kinds::gitops::{self, Which};
use crate::rollback::kinds::infra::{HistoryRow, Infra};
use crate::rollback::{Request, engine};

/// The GitOps flags as the gitops wrapper takes them.
pub fn flags(a: &crate::cli::GitopsArgs) -> gitops::Flags {
    gitops::Flags {
        ignore: a.ignore_gitops,
        keep_suspended: a.keep_suspended,
        push: a.push_gitops,
    }
}

pub fn run(ctx: &Ctx, args: &InfraRollbackArgs) -> Result<ExitStatus> {
    let mut kind = Infra::new(ctx, &args.model, args.to_revision, args.history)?;
    if args.shadow {
        kind = kind.shadow_stop()?;
        kind.shadow_restore = args.restore;
    }
    if args.history {
        let (title, rows) = kind.history(ctx)?;
        print_history(ctx, &title, &rows);
        return Ok(ExitStatus::Success);
    }
    let req = Request::from_args(&args.model, &args.common, false, args.resume)?;
    let kind = gitops::wrap(
        ctx,
        Box::new(kind),
        &args.model,
        Which::Infra,
        flags(&args.gitops),
    );
    engine::run(ctx, &kind, &req)
}

fn print_history(ctx: &Ctx, title: &str, rows: &[HistoryRow]) {
    let p = &ctx.printer;
    if p.json() {
        p.out_json(&rows);
        return;
    }
    let mut t = crate::printer::table();
    t.set_header(vec!["revision", "change-cause", "image", "age"]);
    for r in rows {
        t.add_row(vec![
            format!(
                "{}{}",
                r.revision,
                if r.current { " (current)" } else { "" }
            ),
            r.change_cause.clone(),
            r.image.clone(),
            r.age.clone(),
        ]);
    }
    p.out(&format!("{title}\n{t}"));
}
