//! The drill history (`drills.jsonl` in the state dir): one record per drill, the MTTR trend
//! against the earlier drills, and the drill section of an incident report.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Mode;
use crate::clock;
use crate::context::Result;
use crate::error::{CliError, ExitStatus};

/// The history file in the state dir: one JSON object per drill.
pub const HISTORY_FILE: &str = "drills.jsonl";

/// One drill, as `drills.jsonl` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillRecord {
    pub id: String,
    pub model: String,
    pub mode: Mode,
    pub sandbox: bool,
    /// How the breach was made ("synthetic metrics", "promote v7", "endpoint on v3").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<String>,
    pub started_at: DateTime<Utc>,
    /// The rollback event in the journal (staging drills; a sandbox's journal is thrown away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub wall_millis: u64,
    pub detection_millis: Option<i64>,
    pub triage_millis: Option<i64>,
    pub execution_millis: Option<i64>,
    pub verification_millis: Option<i64>,
    /// Sum of the measured phases; `mttr_complete` says whether all four were measured.
    pub mttr_millis: i64,
    pub mttr_complete: bool,
    /// The rollback's outcome in the drill's journal (rolled_back, not_verified, failed, none).
    pub rollback: String,
    pub restored: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_millis: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_met: Option<bool>,
    pub passed: bool,
}

/// Where the history lives in the state dir.
pub fn history_path(state: &Path) -> PathBuf {
    state.join(HISTORY_FILE)
}

/// Every drill recorded in the state dir, oldest first; unreadable lines are skipped.
pub fn read_history(state: &Path) -> Result<Vec<DrillRecord>> {
    let text = match std::fs::read_to_string(history_path(state)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(CliError::new(
                ExitStatus::Failure,
                format!(
                    "cannot read the drill history {}: {e}",
                    history_path(state).display()
                ),
            )
            .into());
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

pub(super) fn append_history(state: &Path, rec: &DrillRecord) -> Result<()> {
    let path = history_path(state);
    let write = || -> std::io::Result<()> {
        crate::statedir::ensure(state)?;
        let mut f = crate::files::open_private(&path, true)?;
        let mut line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
        line.push('\n');
        f.write_all(line.as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| {
        CliError::new(
            ExitStatus::Failure,
            format!("cannot append to the drill history {}: {e}", path.display()),
        )
        .into()
    })
}

/// Is MTTR getting better? This drill against the mean of the last three complete ones (of the
/// same model and mode: a controller and a person are not the same race).
pub fn trend(earlier: &[DrillRecord], now: &DrillRecord) -> String {
    let prev: Vec<i64> = earlier
        .iter()
        .rev()
        .filter(|r| r.mttr_complete)
        .take(3)
        .map(|r| r.mttr_millis)
        .collect();
    if prev.is_empty() || !now.mttr_complete {
        return format!(
            "first measured {} drill of this model: no trend yet",
            mode_name(now.mode)
        );
    }
    let mean = prev.iter().sum::<i64>() as f64 / prev.len() as f64;
    let d = |ms: f64| clock::human(chrono::Duration::milliseconds(ms as i64));
    let change = (now.mttr_millis as f64 - mean) / mean.max(1.0);
    let word = if change < -0.10 {
        "better"
    } else if change > 0.10 {
        "worse"
    } else {
        "steady"
    };
    format!(
        "{word}: MTTR {} vs {} on average over the last {} drill(s) ({:+.0}%)",
        d(now.mttr_millis as f64),
        d(mean),
        prev.len(),
        change * 100.0
    )
}

pub fn table(recs: &[DrillRecord]) -> String {
    let ms = |v: Option<i64>| {
        v.map(|m| clock::human(chrono::Duration::milliseconds(m)))
            .unwrap_or_else(|| "—".into())
    };
    let mut s = format!(
        "{:<20} {:<8} {:<7} {:<6} {:>10} {:>10} {:>10} {:>12} {:>10} {:<8}\n",
        "started (UTC)",
        "model",
        "where",
        "mode",
        "detection",
        "triage",
        "execution",
        "verification",
        "MTTR",
        "result"
    );
    for r in recs.iter().rev().take(20) {
        s.push_str(&format!(
            "{:<20} {:<8} {:<7} {:<6} {:>10} {:>10} {:>10} {:>12} {:>10} {:<8}\n",
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.model,
            if r.sandbox { "sandbox" } else { "staging" },
            mode_name(r.mode),
            ms(r.detection_millis),
            ms(r.triage_millis),
            ms(r.execution_millis),
            ms(r.verification_millis),
            ms(Some(r.mttr_millis)),
            if r.passed { "passed" } else { "FAILED" }
        ));
    }
    s
}

/// The incident report's drill section when `event` is the rollback of a staging drill: which
/// drill, how it went, and its MTTR against the earlier drills of the same kind.
pub fn report_section(state: &Path, event: &str) -> Option<String> {
    let recs = read_history(state).ok()?;
    let i = recs
        .iter()
        .position(|r| r.event.as_deref() == Some(event))?;
    let rec = &recs[i];
    let earlier: Vec<DrillRecord> = recs[..i]
        .iter()
        .filter(|r| r.model == rec.model && r.mode == rec.mode && r.sandbox == rec.sandbox)
        .cloned()
        .collect();
    let mut s = format!(
        "\n## Drill\n\nThis rollback was drill {} ({} mode, {}; breach: {}): {}, registry {}.\n\n- MTTR trend: {}\n",
        rec.id,
        mode_name(rec.mode),
        if rec.sandbox { "sandbox" } else { "staging" },
        rec.breach.as_deref().unwrap_or("?"),
        if rec.passed { "passed" } else { "FAILED" },
        if rec.restored {
            "restored exactly"
        } else {
            "NOT restored"
        },
        trend(&earlier, rec)
    );
    if !earlier.is_empty() {
        s.push_str(&format!("\n```\n{}```\n", table(&earlier)));
    }
    Some(s)
}

/// The trend of the newest of `recs` against the earlier ones of the same model and mode.
pub fn newest_trend(recs: &[DrillRecord]) -> String {
    recs.split_last()
        .map(|(last, earlier)| {
            let same: Vec<DrillRecord> = earlier
                .iter()
                .filter(|r| r.model == last.model && r.mode == last.mode)
                .cloned()
                .collect();
            trend(&same, last)
        })
        .unwrap_or_else(|| "no drills recorded".into())
}

/// The mode as the command line and the history name it.
pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Manual => "manual",
        Mode::Auto => "auto",
    }
}
