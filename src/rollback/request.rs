//! A rollback request's recorded inputs, read from what was typed: the reason, who did it, and
//! when the breach began.

use chrono::{DateTime, Utc};

use crate::clock;
use crate::error::CliError;

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
