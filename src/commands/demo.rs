//! `mlrb demo`: the reference incident on a throwaway embedded registry, rolled back for real.

use std::collections::BTreeMap;

use crate::cli::{DemoArgs, OutputArgs, StatusArgs};
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::config::{RegistryTarget, Settings};
use crate::error::{CliError, ExitStatus};
use crate::http::HttpOptions;
use crate::printer::Printer;
use crate::registry::{Stage, file::FileRegistry, tags};

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
    let path = dir.join("registry.json");
    let reg = FileRegistry::create(&path)?;
    // The reference incident: a migration script left an old version in Production, the
    // release four hours ago collapsed prediction diversity, and v3 was designated beforehand.
    let now = clock::now();
    let days = |d: i64| Some(now - chrono::Duration::days(d));
    let m = "recsys";
    reg.add_version(m, "s3://models/recsys/v1", Stage::Archived, &[], days(60))?;
    reg.add_version(m, "s3://models/recsys/v2", Stage::Production, &[], days(30))?;
    reg.add_version(
        m,
        "s3://models/recsys/v3",
        Stage::Archived,
        &[(tags::HEALTHY_BASELINE, "true")],
        days(7),
    )?;
    reg.add_version(
        m,
        "s3://models/recsys/v4",
        Stage::Production,
        &[],
        Some(now - chrono::Duration::hours(4)),
    )?;
    printer.status(&format!(
        "demo registry {}: recsys v1…v4, v4 (bad release) and v2 (left by a migration) in Production, v3 designated healthy\n",
        path.display()
    ));
    let ctx = Ctx {
        settings: Settings {
            config_path: None,
            registry: Some(RegistryTarget::File { path: path.clone() }),
            http: HttpOptions::default(),
            models: BTreeMap::new(),
            state_dir: dir.join("state"),
            notify: Default::default(),
            registry_credentials: true,
            sources: Vec::new(),
        },
        printer,
    };
    ctx.printer.out("$ mlrb status recsys");
    super::status::run(
        &ctx,
        &StatusArgs {
            model: Some(m.into()),
            alias: None,
            rules: None,
            output: OutputArgs::default(),
        },
    )?;
    ctx.printer.out("$ mlrb rollback model recsys --yes --detected-at 13m --reason \"prediction diversity collapsed 0.73 -> 0.04\"\n");
    let status = crate::rollback::kinds::model::unattended(
        &ctx,
        &crate::rollback::Request::unattended(
            m,
            "prediction diversity collapsed 0.73 -> 0.04".into(),
            "demo",
            Some(crate::clock::now() - chrono::Duration::minutes(13)),
        ),
        None,
        None,
    )?;
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
