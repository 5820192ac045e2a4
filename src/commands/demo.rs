//! `mlrb demo`: the reference incident (src/demo.rs) on a throwaway embedded registry: its
//! status, then its rollback for real, shown as the commands a user would type.

use crate::cli::{DemoArgs, OutputArgs, StatusArgs};
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;

pub fn run(printer: Printer, args: &DemoArgs) -> Result<ExitStatus> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| CliError::usage(format!("cannot create {}: {e}", d.display())))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("mlrb-demo-")
                .tempdir()
                .map_err(|e| {
                    CliError::new(
                        ExitStatus::Failure,
                        format!("cannot create a temp dir: {e}"),
                    )
                })?;
            tmp.path().to_path_buf()
        }
    };
    let path = crate::demo::create_registry(&dir)?;
    printer.status(&format!(
        "demo registry {}: recsys v1…v4, v4 (bad release) and v2 (left by a migration) in Production, v3 designated healthy\n",
        path.display()
    ));
    let ctx = Ctx {
        settings: crate::demo::settings(&path, &dir.join("state")),
        printer,
    };
    ctx.printer.out("$ mlrb status recsys");
    super::status::run(
        &ctx,
        &StatusArgs {
            model: Some(crate::demo::MODEL.into()),
            alias: None,
            rules: None,
            output: OutputArgs::default(),
        },
    )?;
    ctx.printer.out(&format!(
        "$ mlrb rollback model {} --yes --detected-at {}m --reason \"{}\"\n",
        crate::demo::MODEL,
        crate::demo::DETECTED_MINUTES_AGO,
        crate::demo::REASON
    ));
    let status =
        crate::rollback::kinds::model::unattended(&ctx, &crate::demo::request(), None, None)?;
    if args.dir.is_some() {
        ctx.printer.status(&format!(
            "kept: registry {} and journal in {}; try `mlrb --registry {} --state-dir {} report --last`",
            path.display(),
            dir.join("state").display(),
            path.display(),
            dir.join("state").display()
        ));
    }
    Ok(status)
}
