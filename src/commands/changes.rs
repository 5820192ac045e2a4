//! `mlrb changes`: the change timeline of a model (see `crate::timeline`), newest first, with
//! the breach start marked in place.

use chrono::{DateTime, Utc};

use crate::cli::ChangesArgs;
use crate::clock;
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::timeline::{Timeline, timeline};

pub fn run(ctx: &Ctx, args: &ChangesArgs) -> Result<ExitStatus> {
    let target = ctx.settings.model(&args.model, args.alias.as_deref())?;
    let breach = args
        .breach_at
        .as_deref()
        .map(clock::parse_time)
        .transpose()
        .map_err(|e| CliError::usage(format!("--breach-at: {e}")))?;
    let since = clock::now() - chrono::Duration::from_std(args.since).unwrap_or_default();
    let reg = ctx.registry()?;
    let t = timeline(ctx, reg.as_ref(), &target, since, breach, true, true)?;
    let p = &ctx.printer;
    if p.json() {
        p.out_json(&t);
    } else {
        p.out(&render(&t));
    }
    Ok(ExitStatus::Success)
}

/// The timeline as text: one line per change, newest first, the breach marked in place.
fn render(t: &Timeline) -> String {
    let mut s = format!(
        "What changed for {} since {} UTC (newest first)\n",
        t.model,
        t.since.format("%Y-%m-%d %H:%M")
    );
    let mut breach_shown = false;
    let breach_line = |b: DateTime<Utc>| {
        format!(
            "  {}  ─── breach began ───\n",
            b.format("%Y-%m-%d %H:%M:%S")
        )
    };
    for c in &t.changes {
        if let Some(b) = t.breach_start
            && !breach_shown
            && c.at <= b
        {
            s.push_str(&breach_line(b));
            breach_shown = true;
        }
        s.push_str(&format!(
            "  {}  {:<8} {}\n",
            c.at.format("%Y-%m-%d %H:%M:%S"),
            c.component,
            c.what
        ));
    }
    if let (Some(b), false) = (t.breach_start, breach_shown) {
        s.push_str(&breach_line(b));
    }
    if t.changes.is_empty() {
        s.push_str("  (no changes recorded in the window)\n");
    }
    for u in &t.unavailable {
        s.push_str(&format!("  ! not read: {u}\n"));
    }
    s.push_str(&format!("hint: {}\n", t.hint));
    s
}
