//! What every rollback kind shares at its end and around its steps: the outcome, the close of
//! the event with its report, a command step's progress and record, the verification read.

use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;

/// The journal's outcome for a rollback that ended with `status`.
pub fn outcome_of(status: ExitStatus) -> &'static str {
    match status {
        ExitStatus::Success => "rolled_back",
        ExitStatus::NotVerified => "not_verified",
        _ => "failed",
    }
}

/// Closes a rollback event of any kind: the Finished record, then the incident report and the
/// MTTR phases rendered from the journal (or, with `-o json`, the view `json` builds from the
/// outcome, phases and report), then the exit: success, a warning for "not verified", or the
/// error with `hint`.
#[allow(clippy::too_many_arguments)]
pub fn close_event(
    ctx: &crate::context::Ctx,
    journal: &mut crate::journal::Journal,
    status: ExitStatus,
    outcome: &str,
    message: String,
    hint: String,
    known: Option<&crate::timeline::facts::Known>,
    json: impl FnOnce(&str, Option<crate::mttr::Mttr>, Option<String>) -> serde_json::Value,
) -> anyhow::Result<ExitStatus> {
    use crate::journal::{Entry, Record};
    let p = &ctx.printer;
    let event = journal.event().to_string();
    // Read once at the close: what was verified and what was not closes the message (the last
    // line on the terminal and the timeline's last row say no more than the journal shows was
    // checked), and what the report states about the registry is frozen into the journal and
    // rendered from it ever after, so the report reads the same tomorrow.
    let (checks, facts) = {
        let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
        let mine: Vec<&Record> = records.iter().filter(|r| r.event == event).collect();
        (
            matches!(status, ExitStatus::Success | ExitStatus::NotVerified)
                .then(|| crate::report::checks(&mine)),
            crate::timeline::facts::report_facts(ctx, &mine, known),
        )
    };
    let message = match &checks {
        Some(c) => format!("{message} — {}", c.summary()),
        None => message,
    };
    if let Some(facts) = facts {
        journal.append(facts);
    }
    journal.append(Entry::Finished {
        outcome: outcome.into(),
        message: message.clone(),
    });
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    let mine: Vec<&Record> = records.iter().filter(|r| r.event == event).collect();
    // The report as `mlrb report` composes it, less what is known since. Whatever goes wrong
    // reading Prometheus (revenue, charts) is a line of the report, never the outcome; the
    // chart samples it read are frozen into the journal, so every later render draws the same.
    let (m, rep, revenue) = if mine.is_empty() {
        (None, None, None)
    } else {
        use crate::report::compose::{Charts, Options, compose};
        let composed = compose(
            ctx,
            &mine,
            Options {
                charts: if p.json() {
                    Charts::Omit
                } else {
                    Charts::Inline
                },
                since_then: false,
            },
        );
        if let Some(charts) = composed.read_now {
            journal.append(Entry::Charts { charts });
        }
        (
            Some(crate::mttr::from_records(&mine)),
            Some(composed.markdown),
            composed.revenue,
        )
    };
    if p.json() {
        let mut view = json(outcome, m, rep);
        if let (Some(obj), Some(r)) = (view.as_object_mut(), &revenue) {
            obj.insert(
                "revenue_impact".into(),
                serde_json::to_value(r).unwrap_or_default(),
            );
        }
        if let (Some(obj), Some(c)) = (view.as_object_mut(), &checks) {
            obj.insert("checks".into(), c.0.clone().into());
        }
        p.out_json(&view);
    } else {
        if let Some(r) = &rep {
            p.out(&format!("\n{r}"));
        }
        if let Some(m) = &m {
            p.out(&format!("MTTR of {event}\n{}", m.markdown()));
        }
    }
    match status {
        ExitStatus::Success => {
            p.status(&format!("{message} (event {event})"));
            Ok(status)
        }
        ExitStatus::NotVerified => {
            p.warn(&message);
            Ok(status)
        }
        _ => Err(CliError::new(status, message).with_hint(hint).into()),
    }
}

/// `--dry-run`: says that nothing changed (with the command's JSON view under `-o json`).
pub fn dry_run_done(p: &Printer, json: impl FnOnce() -> serde_json::Value) -> ExitStatus {
    p.status("dry run: nothing was changed");
    if p.json() {
        p.out_json(&json());
    }
    ExitStatus::Success
}

/// Runs one command step of a rollback: its progress bar, its start and end in the journal, and
/// its ✓/✗ line. A failure comes back explained by `explain` as (detail, hint).
pub fn command_step(
    p: &Printer,
    journal: &mut crate::journal::Journal,
    (index, total): (usize, usize),
    cmd: &crate::exec::Cmd,
    explain: impl FnOnce(&crate::exec::ExecError) -> (String, Option<String>),
) -> Result<(), (String, Option<String>)> {
    use crate::journal::Entry;
    let line = cmd.line();
    journal.append(Entry::StepStarted {
        index,
        step: line.clone(),
    });
    let bar = p.step(&format!("[{}/{total}] {line}", index + 1));
    let t0 = std::time::Instant::now();
    let result = cmd.run();
    let millis = t0.elapsed().as_millis() as u64;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (ok, detail, failure) = match result {
        Ok(out) => {
            let tail = crate::exec::runner::tail(&out.stdout, 2, 300);
            let detail = if tail.is_empty() {
                format!("{line}: done")
            } else {
                tail
            };
            (true, detail, None)
        }
        Err(e) => {
            let (detail, hint) = explain(&e);
            (false, detail.clone(), Some((detail, hint)))
        }
    };
    p.status(&format!(
        "  {} [{}/{total}] {detail} ({millis} ms)",
        if ok { "✓" } else { "✗" },
        index + 1
    ));
    journal.append(Entry::StepFinished {
        index,
        ok,
        detail,
        millis,
    });
    failure.map_or(Ok(()), Err)
}

/// The last step of a rollback, after its changes: `Executed`, then `check` run and recorded as
/// the verification step (journal, status line). Returns the check's result.
pub fn verify_step(
    p: &Printer,
    journal: &mut crate::journal::Journal,
    index: usize,
    line: String,
    check: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    journal.append(crate::journal::Entry::Executed);
    journal.append(crate::journal::Entry::StepStarted { index, step: line });
    let t0 = std::time::Instant::now();
    let result = check();
    let millis = t0.elapsed().as_millis() as u64;
    let (ok, detail) = match &result {
        Ok(d) => (true, d.as_str()),
        Err(d) => (false, d.as_str()),
    };
    record_verify(p, journal, index, ok, detail, millis);
    result
}

/// Records the last (verification) step of a rollback: its status line, the step's end and the
/// verification result in the journal.
pub fn record_verify(
    p: &Printer,
    journal: &mut crate::journal::Journal,
    index: usize,
    ok: bool,
    detail: &str,
    millis: u64,
) {
    let total = index + 1;
    p.status(&format!(
        "  {} [{total}/{total}] {detail} ({millis} ms)",
        if ok { "✓" } else { "✗" }
    ));
    journal.append(crate::journal::Entry::StepFinished {
        index,
        ok,
        detail: detail.to_string(),
        millis,
    });
    journal.append(crate::journal::Entry::Verified {
        ok,
        detail: detail.to_string(),
    });
}
