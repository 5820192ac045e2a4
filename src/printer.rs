//! Where output goes: data to stdout, status, progress, prompts and errors to stderr.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// Set once a write to stdout failed (a closed pipe): later data is dropped, the command goes on.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Text fit for a terminal: every control character but line feed and tab is shown escaped
/// (`\u{1b}`), so registry tags, server replies or tool output cannot clear the screen, move the
/// cursor, set the window title or hide a link. mlrb's own output holds no control characters
/// (colour and progress go through indicatif), so this applies to everything written.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Set by `watch --log-format json`: every stderr line is then one JSON object, the lines of
/// the rollbacks it starts (status, steps, warnings, errors) included.
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// Makes every later stderr line a JSON object (`watch --log-format json`).
pub fn set_json_lines() {
    JSON_LINES.store(true, Ordering::Relaxed);
}

/// One line on stderr. A closed or broken stderr is ignored: what mlrb is doing (a rollback
/// half-way through) matters more than telling about it, and the journal keeps the record.
pub fn to_stderr(line: &str) {
    if JSON_LINES.load(Ordering::Relaxed) {
        let (level, message) = if let Some(m) = line.strip_prefix("error: ") {
            ("error", m)
        } else if let Some(m) = line.strip_prefix("warning: ") {
            ("warn", m)
        } else {
            ("info", line)
        };
        let v = serde_json::json!({
            "ts": crate::clock::fmt(crate::clock::now()),
            "level": level,
            "event": "output",
            "message": message.trim_end(),
        });
        return json_to_stderr(&v);
    }
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{}", escape_controls(&crate::secrets::scrub(line)));
}

/// A JSON object as one stderr line, as it is (a log line already made).
pub fn json_to_stderr(v: &serde_json::Value) {
    let line = v.to_string();
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{}", crate::secrets::scrub(&line));
}

/// Text on stderr with no line end (a prompt); errors ignored as in `to_stderr`.
pub fn to_stderr_partial(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "{}", escape_controls(&crate::secrets::scrub(text)));
    let _ = e.flush();
}

pub struct Printer {
    pub format: Format,
    pub quiet: bool,
    stderr_term: bool,
    /// Data goes to stderr too: a command run inside another (a drill's rollback) is progress
    /// of the outer command, whose stdout stays its own data.
    nested: bool,
}

impl Printer {
    pub fn new(format: Format, quiet: bool) -> Self {
        Printer {
            format,
            quiet,
            stderr_term: std::io::stderr().is_terminal(),
            nested: false,
        }
    }

    /// A printer for a command run inside another: its data is written to stderr.
    pub fn nested(quiet: bool) -> Self {
        Printer {
            nested: true,
            ..Printer::new(Format::Table, quiet)
        }
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// Data for the user or a script. A closed stdout (`| true`, `| head -1`, a pager quit
    /// early) never stops the command: the rest of the data is dropped and the command runs to
    /// its end, so a confirmed rollback finishes and its exit code says what happened.
    pub fn out(&self, text: &str) {
        if self.nested {
            if !self.quiet {
                to_stderr(text.strip_suffix('\n').unwrap_or(text));
            }
            return;
        }
        if STDOUT_CLOSED.load(Ordering::Relaxed) {
            return;
        }
        let scrubbed = crate::secrets::scrub(text);
        let text = escape_controls(&scrubbed);
        let mut o = std::io::stdout().lock();
        let r = o.write_all(text.as_bytes()).and_then(|_| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                o.write_all(b"\n")
            }
        });
        if r.and_then(|_| o.flush()).is_err() {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
    }

    pub fn out_json(&self, value: &impl Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => self.out(&s),
            Err(e) => self.warn(&format!("cannot render JSON: {e}")),
        }
    }

    /// A status line on stderr, hidden by --quiet.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            to_stderr(text);
        }
    }

    /// A warning on stderr; never hidden.
    pub fn warn(&self, text: &str) {
        to_stderr(&format!("warning: {text}"));
    }

    /// A spinner for one step, only on a terminal and not under --quiet or -o json.
    pub fn step(&self, text: &str) -> Option<ProgressBar> {
        if !self.stderr_term || self.quiet || self.json() || JSON_LINES.load(Ordering::Relaxed) {
            return None;
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(escape_controls(text).into_owned());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        Some(pb)
    }

    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_term
    }
}

/// A table for people: borders only, and wrapped to the terminal's width, or to 80 columns when
/// stdout is not a terminal (a pager, a file, a ticket).
pub fn table() -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if t.width().is_none() {
        t.set_width(80);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(
            escape_controls("v4\x1b[2J\x1b]0;title\x07 ok\r\u{9b}31m"),
            "v4\\u{1b}[2J\\u{1b}]0;title\\u{7} ok\\u{d}\\u{9b}31m"
        );
        assert_eq!(escape_controls("a\tb\nc é"), "a\tb\nc é");
    }
}
