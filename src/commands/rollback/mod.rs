//! What every `rollback` shares: confirmation, the audit record's inputs, the end-of-run output.

pub mod fallback;
pub mod features;
pub mod infra;
pub mod model;
pub mod retrain;

use std::io::{BufRead, IsTerminal};

use chrono::{DateTime, Utc};

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::printer::Printer;

/// How the go-ahead was given, for the journal and the report.
pub enum Confirmation {
    Yes(String),
    Declined,
}

/// One confirmation: `--yes` skips it; a terminal (or `MLRB_INTERACTIVE=1`) asks; anything
/// else refuses, because a rollback nobody confirmed must not happen.
pub fn confirm(printer: &Printer, yes: bool, question: &str) -> Result<Confirmation, CliError> {
    let answer = ask(printer, yes, question)?;
    if matches!(answer, Confirmation::Yes(_)) {
        survive_hangup();
    }
    Ok(answer)
}

/// Once a rollback is confirmed it runs to its end: a terminal that goes away (an ssh session
/// dropped, a laptop lid closed) sends SIGHUP, which would otherwise stop it between two
/// registry writes. The journal and the exit code still say what happened.
fn survive_hangup() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGHUP,
        Arc::new(AtomicBool::new(false)),
    );
}

fn ask(printer: &Printer, yes: bool, question: &str) -> Result<Confirmation, CliError> {
    if yes {
        return Ok(Confirmation::Yes("--yes".into()));
    }
    let forced = std::env::var("MLRB_INTERACTIVE").is_ok_and(|v| v == "1");
    let term = printer.stderr_is_terminal() && std::io::stdin().is_terminal();
    if !term && !forced {
        return Err(CliError::new(
            ExitStatus::Refused,
            "refusing to change anything without confirmation: no terminal to ask on",
        )
        .with_hint("re-run with --yes (after reading the plan above, or with --dry-run first)"));
    }
    // A dumb terminal (or none named) gets the plain prompt: dialoguer hides the cursor with
    // escapes such a terminal prints as garbage.
    let fancy = term && std::env::var("TERM").is_ok_and(|t| !t.is_empty() && t != "dumb");
    let _interrupt = PromptInterrupt::arm(fancy);
    let answer = if fancy {
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|e| CliError::new(ExitStatus::Refused, format!("no answer: {e}")))?
    } else {
        crate::printer::to_stderr_partial(&format!("{question} [y/N] "));
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::new(ExitStatus::Refused, format!("no answer: {e}")))?;
        matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    };
    Ok(if answer {
        Confirmation::Yes("confirmed at the prompt".into())
    } else {
        Confirmation::Declined
    })
}

/// Ctrl-C while the prompt waits: nothing has changed yet, so mlrb says so and exits 130 at
/// once, showing the cursor again if the prompt hid it (dialoguer's read turns Ctrl-C into a
/// SIGINT too). The previous disposition is restored when the prompt is answered, so a Ctrl-C
/// during the steps behaves as before.
struct PromptInterrupt {
    previous: libc::sigaction,
}

static PROMPT_HID_CURSOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn interrupted_at_prompt(_: libc::c_int) {
    const SHOW: &[u8] = b"\x1b[?25h";
    const SAID: &[u8] = b"\ninterrupted: nothing was changed\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffers are static.
    unsafe {
        if PROMPT_HID_CURSOR.load(std::sync::atomic::Ordering::Relaxed) {
            libc::write(2, SHOW.as_ptr().cast(), SHOW.len());
        }
        libc::write(2, SAID.as_ptr().cast(), SAID.len());
        libc::_exit(130);
    }
}

impl PromptInterrupt {
    fn arm(cursor_may_hide: bool) -> Option<PromptInterrupt> {
        PROMPT_HID_CURSOR.store(cursor_may_hide, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: plain sigaction calls on zero-initialised structs; the handler is
        // async-signal-safe (see above).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = interrupted_at_prompt as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(libc::SIGINT, &action, &mut previous) == 0)
                .then_some(PromptInterrupt { previous })
        }
    }
}

impl Drop for PromptInterrupt {
    fn drop(&mut self) {
        // SAFETY: restores the disposition saved by `arm`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

/// How much of a reason the journal (and so the report) keeps.
pub const REASON_MAX_CHARS: usize = 4000;

/// The reason as recorded: control characters become spaces; the journal keeps up to 4 000
/// characters (tags keep 500, see `tag_reason`). A longer reason is cut with a mark where it
/// is cut and a warning saying so, never silently.
pub fn clean_reason(r: Option<&str>) -> String {
    let s: String = r
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    let n = s.chars().count();
    if n <= REASON_MAX_CHARS {
        return s.to_string();
    }
    let mark = format!(" […cut: {} more characters]", n - REASON_MAX_CHARS);
    let kept: String = s
        .chars()
        .take(REASON_MAX_CHARS - mark.chars().count())
        .collect();
    let tail: String = {
        let t: Vec<char> = kept.chars().collect();
        t[t.len().saturating_sub(30)..].iter().collect()
    };
    crate::printer::to_stderr(&format!(
        "warning: --reason is {n} characters; the journal and the report keep {REASON_MAX_CHARS}: it is cut after “…{}” and marked there (registry tags keep the first {})",
        tail.trim_start(),
        crate::registry::tags::REASON_MAX_CHARS
    ));
    format!("{}{mark}", kept.trim_end())
}

/// The reason as an audit tag: the reference document's 500-character cut.
pub fn tag_reason(reason: &str) -> String {
    reason
        .chars()
        .take(crate::registry::tags::REASON_MAX_CHARS)
        .collect()
}

/// Who started the rollback, for the audit tag, the lease holder and the report: `--triggered-by`
/// as given; else the first of `$USER`, `$LOGNAME`, the uid's account name and
/// `git config user.email` (root shells, containers and CI often set neither variable), with the
/// host added, since "root" alone names nobody.
pub fn triggered_by(flag: Option<&str>) -> Result<String, CliError> {
    if let Some(who) = flag.filter(|s| !s.trim().is_empty()) {
        if who.chars().any(char::is_control) || who.chars().count() > 200 {
            return Err(CliError::usage(
                "--triggered-by must be one line of at most 200 characters (a name, e-mail or system)",
            ));
        }
        return Ok(who.to_string());
    }
    let usable = |s: String| {
        let s = s.trim().to_string();
        (!s.is_empty() && !s.chars().any(char::is_control)).then_some(s)
    };
    let name = std::env::var("USER")
        .ok()
        .and_then(usable)
        .or_else(|| std::env::var("LOGNAME").ok().and_then(usable))
        .or_else(|| account_name().and_then(usable))
        .or_else(|| git_email().and_then(usable));
    let host = crate::lease::hostname();
    let who = match name {
        // An e-mail already says where it belongs; the host goes beside it.
        Some(n) if n.contains('@') && !host.is_empty() => format!("{n} on {host}"),
        Some(n) if !host.is_empty() => format!("{n}@{host}"),
        Some(n) => n,
        None if !host.is_empty() => format!("unknown@{host}"),
        None => "unknown".into(),
    };
    Ok(who.chars().take(200).collect())
}

/// The account name of the process's uid from the password database (NSS included).
fn account_name() -> Option<String> {
    let uid = unsafe { libc::getuid() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `pwd` and `buf` outlive the call; `found` is null or points at `pwd`.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: a successful getpwuid_r leaves a NUL-terminated name inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().map(str::to_string)
}

/// `git config user.email`, when git is installed and one is set.
fn git_email() -> Option<String> {
    crate::exec::Cmd::new("git", crate::exec::git::INSTALL)
        .args(["config", "user.email"])
        .timeout(std::time::Duration::from_secs(5))
        .run()
        .ok()
        .map(|o| o.stdout.trim().to_string())
}

/// A breach start as given: the time, and how the text was read when that was a choice.
pub type Detected = (DateTime<Utc>, Option<String>);

/// How far back a breach may have begun: older is a typo (`99999999m`), not an incident.
const DETECTED_AT_MAX_AGE_DAYS: i64 = 90;

/// `--detected-at`, which must not lie in the future nor absurdly far back; with how it was
/// read when that was a choice (local time, yesterday, a duration ago) for the plan's echo.
pub fn detected_at(flag: Option<&str>) -> Result<Option<Detected>, CliError> {
    let Some(s) = flag else { return Ok(None) };
    let (t, note) = clock::parse_time_explained(s)
        .map_err(|m| CliError::usage(format!("--detected-at: {m}")))?;
    let now = clock::now();
    let said = |note: &Option<String>| note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
    if t > now + chrono::Duration::seconds(5) {
        return Err(CliError::usage(format!(
            "--detected-at {} is in the future{}; give the time the breach began",
            clock::fmt(t),
            said(&note)
        ))
        .with_hint("a time of day is local time (add UTC for UTC); `15m` means 15 minutes ago"));
    }
    if t < now - chrono::Duration::days(DETECTED_AT_MAX_AGE_DAYS) {
        return Err(CliError::usage(format!(
            "--detected-at {} is more than {DETECTED_AT_MAX_AGE_DAYS} days ago{}; give the time the breach began",
            clock::fmt(t),
            said(&note)
        ))
        .with_hint("e.g. `15m` (ago), `22:04` (local time) or 2026-11-26T22:04:00Z"));
    }
    Ok(Some((t, note)))
}

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
    ctx: &crate::commands::Ctx,
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
