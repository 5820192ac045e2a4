//! The one question a rollback asks: the go-ahead, on the terminal, with Ctrl-C and a hang-up
//! handled so the terminal is restored and nothing is half done.

use std::io::{BufRead, IsTerminal};

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
