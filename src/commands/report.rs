//! `mlrb report`: the incident report of a recorded event, with what is known now filled in.

use crate::cli::ReportArgs;
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::journal::{self, Action, Entry, Journal, Record};
use crate::report::compose::{Charts, Composed, Options, compose};
use crate::report::{self, Annotations};

pub fn run(ctx: &Ctx, args: &ReportArgs) -> Result<ExitStatus> {
    let actions = args
        .actions
        .iter()
        .map(|a| parse_action(a))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for (flag, text) in args
        .root_cause
        .iter()
        .map(|t| ("--root-cause", t))
        .chain(args.factors.iter().map(|t| ("--factor", t)))
    {
        if text.trim().is_empty() || text.chars().count() > 4000 {
            return Err(
                CliError::usage(format!("{flag} must be between 1 and 4000 characters")).into(),
            );
        }
    }
    let dir = &ctx.settings.state_dir;
    let (records, bad) = journal::read_all(dir).map_err(|e| {
        CliError::new(
            ExitStatus::Failure,
            format!(
                "cannot read the journal {}: {e}",
                Journal::path_in(dir).display()
            ),
        )
    })?;
    if bad > 0 {
        ctx.printer.warn(&format!(
            "skipped {bad} unreadable line(s) in {}",
            Journal::path_in(dir).display()
        ));
    }
    let events: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r.entry, Entry::Started { .. }))
        .map(|r| r.event.as_str())
        .collect();
    let event = match &args.event {
        Some(id) => events
            .iter()
            .find(|e| **e == id.as_str())
            .copied()
            .ok_or_else(|| {
                let recent: Vec<&str> = events.iter().rev().take(3).copied().collect();
                CliError::usage(format!(
                    "no event `{}` in the journal {}",
                    id.escape_debug(),
                    Journal::path_in(dir).display()
                ))
                .with_hint(if recent.is_empty() {
                    "the journal has no rollback events yet".to_string()
                } else {
                    format!("recent events: {}", recent.join(", "))
                })
            })?,
        None => events.last().copied().ok_or_else(|| {
            CliError::usage(format!(
                "the journal {} has no rollback events yet",
                Journal::path_in(dir).display()
            ))
            .with_hint("pass --state-dir (or MLRB_STATE_DIR) if the journal lives elsewhere")
        })?,
    }
    .to_string();

    let noted = args.root_cause.is_some() || !args.factors.is_empty() || !actions.is_empty();
    let mut mine: Vec<Record> = records.into_iter().filter(|r| r.event == event).collect();
    if noted {
        let entry = Entry::Annotation {
            root_cause: args.root_cause.clone(),
            factors: args.factors.clone(),
            actions,
        };
        // Kept in the journal, so the next render has them too.
        Journal::new(dir, &event).append(entry.clone());
        mine.push(Record {
            event: event.clone(),
            at: crate::clock::now(),
            entry,
        });
    }
    let refs: Vec<&Record> = mine.iter().collect();
    let charts = match &args.out {
        _ if ctx.printer.json() => Charts::Omit,
        Some(path) => Charts::Beside(path),
        None => Charts::Inline,
    };
    let Composed {
        markdown: text,
        revenue,
        svgs,
        ..
    } = compose(
        ctx,
        &refs,
        Options {
            charts,
            since_then: true,
        },
    );
    if ctx.printer.json() {
        // The report's data, for scripts and dashboards; the markdown is one of its fields.
        let outcome = refs.iter().rev().find_map(|r| match &r.entry {
            Entry::Finished { outcome, message } => Some((outcome.clone(), message.clone())),
            _ => None,
        });
        let notes = Annotations::from_records(&refs);
        ctx.printer.out_json(&serde_json::json!({
            "event": event,
            "outcome": outcome.as_ref().map(|o| o.0.as_str()),
            "message": outcome.as_ref().map(|o| o.1.as_str()),
            "checks": report::checks(&refs).0,
            "mttr": crate::mttr::from_records(&refs),
            "root_cause": notes.root_cause,
            "factors": notes.factors,
            "actions": notes.actions,
            "revenue_impact": revenue,
            "markdown": text,
        }));
        return Ok(ExitStatus::Success);
    }
    match &args.out {
        Some(path) if path.exists() && !args.force => {
            return Err(CliError::usage(format!(
                "{} already exists; the report was not written",
                path.display()
            ))
            .with_hint("pass --force to replace it, or --out another file")
            .into());
        }
        Some(path) => {
            // The charts first: the report links them, so it is written once they are there.
            for (file, svg) in &svgs {
                if file.exists() && !args.force {
                    return Err(CliError::usage(format!(
                        "{} already exists; the report and its charts were not written",
                        file.display()
                    ))
                    .with_hint("pass --force to replace it, or --out another file")
                    .into());
                }
                crate::files::write_replacing(file, svg.as_bytes()).map_err(|e| {
                    CliError::new(
                        ExitStatus::Failure,
                        format!("cannot write {}: {e}", file.display()),
                    )
                })?;
            }
            crate::files::write_replacing(path, text.as_bytes()).map_err(|e| {
                CliError::new(
                    ExitStatus::Failure,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            ctx.printer.status(&format!(
                "wrote the report of {event} to {}",
                path.display()
            ));
        }
        None => ctx.printer.out(&text),
    }
    Ok(ExitStatus::Success)
}

fn parse_action(s: &str) -> std::result::Result<Action, CliError> {
    let parts: Vec<&str> = s.split('|').map(str::trim).collect();
    match parts.as_slice() {
        [what, owner, due] if !what.is_empty() && !owner.is_empty() && !due.is_empty() => {
            Ok(Action {
                what: what.to_string(),
                owner: owner.to_string(),
                due: due.to_string(),
            })
        }
        _ => Err(CliError::usage(format!(
            "--action `{}` must be \"what|owner|due\", e.g. \"Alert on diversity drop|alice|2026-12-15\"",
            s.escape_debug()
        ))),
    }
}
