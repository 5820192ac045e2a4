//! `mlrb candidate`: the version a rollback would go to and why; `--designate` tags one ahead.

use serde::Serialize;

use crate::cli::CandidateArgs;
use crate::clock;
use crate::commands::parse_version;
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Journal, new_event_id};
use crate::live::unknown_model;
use crate::registry::{LiveMode, Stage, VersionQuery, tags};
use crate::select::{self, NO_TARGET_ADVICE};

#[derive(Serialize)]
struct CandidateView<'a> {
    model: &'a str,
    version: u64,
    stage: Stage,
    rule: select::Rule,
    reason: &'a str,
    skipped: &'a [String],
}

pub fn run(ctx: &Ctx, args: &CandidateArgs) -> Result<ExitStatus> {
    let mut target = ctx.settings.model(&args.model, args.alias.as_deref())?;
    let to = args.to.as_deref().map(parse_version).transpose()?;
    let designate = args.designate.as_deref().map(parse_version).transpose()?;
    let reg = ctx.registry()?;
    let reg = reg.as_ref();
    // Read once: rollback and candidate agree on what is live (the same rule settles the
    // mode from it), and the choice starts from the same read.
    let model = reg
        .get_model(&target.registered_name)
        .map_err(|e| unknown_model(reg, &target.registered_name, e))?;
    crate::live::settle_mode(&mut target, &model)?;
    let name = target.registered_name.as_str();
    if let Some(v) = designate {
        return designate_target(ctx, reg, &target, v, &model);
    }
    let choice = select::find_with_model(reg, name, &target.mode, to, &model)
        .map_err(|e| unknown_model(reg, name, e))?;
    match choice {
        Ok(c) => {
            if ctx.printer.json() {
                ctx.printer.out_json(&CandidateView {
                    model: name,
                    version: c.version.version,
                    stage: c.version.stage,
                    rule: c.rule,
                    reason: &c.why,
                    skipped: &c.skipped,
                });
            } else {
                let mut text = format!(
                    "v{}  {}\n  why: {}\n",
                    c.version.version, c.version.source, c.why
                );
                if let Some(note) = &target.mode_note {
                    text.push_str(&format!("  live: {note}\n"));
                }
                for s in &c.skipped {
                    text.push_str(&format!("  passed over: {s}\n"));
                }
                ctx.printer.out(&text);
            }
            Ok(ExitStatus::Success)
        }
        Err(reasons) => Err(CliError::new(
            ExitStatus::NoTarget,
            format!("no rollback target for `{name}`: {}", reasons.join("; ")),
        )
        .with_hint(NO_TARGET_ADVICE)
        .into()),
    }
}

/// Tags `version` as the healthy baseline, the reference document's step before every deploy.
fn designate_target(
    ctx: &Ctx,
    reg: &dyn crate::registry::Registry,
    target: &crate::config::ModelTarget,
    version: u64,
    model: &crate::registry::RegisteredModel,
) -> Result<ExitStatus> {
    let name = target.registered_name.as_str();
    let v = reg
        .get_version(name, version)
        .map_err(|e| unknown_model(reg, name, e))?;
    // The live version may be designated: before a deploy, the version serving now is exactly
    // the one to come back to. A version already rolled back from, or not READY, may not.
    if let Some(why) = select::unfit(&v, &[]) {
        return Err(CliError::usage(format!(
            "cannot designate v{version} of `{name}` as the rollback target: {why}"
        ))
        .with_hint("designate a version known to be healthy, before the new one goes live")
        .into());
    }
    // The rollback's own pre-flight, now rather than at 2 AM.
    if let Err(why) = crate::rollback::kinds::model::preflight(&v) {
        return Err(CliError::usage(format!(
            "cannot designate v{version} of `{name}` as the rollback target: pre-flight failed: {why}"
        ))
        .with_hint("designate a version whose artifact is in place (`mlrb status` lists the versions)")
        .into());
    }
    let live: Vec<u64> = match &target.mode {
        LiveMode::Stage => (v.stage == Stage::Production)
            .then_some(v.version)
            .into_iter()
            .collect(),
        LiveMode::Alias(a) => model.aliases.get(a).copied().into_iter().collect(),
    };
    let who = crate::rollback::request::triggered_by(None)?;
    let stamp = clock::fmt(clock::now());
    reg.set_version_tags(
        name,
        version,
        &[
            (tags::HEALTHY_BASELINE.into(), "true".into()),
            ("rollback.designated_by".into(), who.clone()),
            ("rollback.designated_at".into(), stamp),
        ],
    )?;
    let event = new_event_id("designate");
    Journal::new(&ctx.settings.state_dir, &event).append(Entry::Designated {
        model: name.to_string(),
        version,
        by: who,
    });
    // A newer usable baseline still outranks this one; say so rather than untag it.
    let newer: Vec<String> = reg
        .search_versions(
            name,
            &VersionQuery::tagged(tags::HEALTHY_BASELINE, "true", 20),
        )?
        .into_iter()
        .filter(|o| {
            o.version > version && select::unfit(o, &live).is_none() && o.stage != Stage::Production
        })
        .map(|o| format!("v{}", o.version))
        .collect();
    ctx.printer.status(&format!(
        "v{version} of `{name}` is designated as the rollback target ({}=true)",
        tags::HEALTHY_BASELINE
    ));
    // Pre-warm: the server loads the target now, so a rollback does not wait for it to load.
    if let Some(url) = &target.serving.prewarm_url {
        match crate::serving::client().and_then(|h| crate::serving::prewarm(&h, url, name, version))
        {
            Ok(msg) => ctx.printer.status(&msg),
            Err(e) => ctx.printer.warn(&format!(
                "the rollback target is designated, but pre-warming it failed: {e}"
            )),
        }
    }
    if live.contains(&version) {
        ctx.printer.status(
            "it is live now: it becomes the rollback target once the next version goes live",
        );
    }
    if !newer.is_empty() {
        ctx.printer.warn(&format!(
            "newer healthy baselines ({}) still come first; `mlrb candidate {}` shows the choice",
            newer.join(", "),
            target.key
        ));
    }
    if ctx.printer.json() {
        ctx.printer.out_json(
            &serde_json::json!({"model": name, "designated": version, "outranked_by": newer}),
        );
    }
    Ok(ExitStatus::Success)
}
