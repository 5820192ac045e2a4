//! The four MTTR phases of an event — detection, triage, execution, verification — from its journal.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::clock;
use crate::journal::{Entry, Record};

#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: &'static str,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Milliseconds, or `None` when the phase was not measured (never a fake zero).
    pub millis: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mttr {
    pub phases: Vec<Phase>,
    /// Sum of the measured phases; `complete` says whether all four were measured.
    pub total_millis: i64,
    pub complete: bool,
}

fn phase(
    name: &'static str,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    missing: &str,
) -> Phase {
    let millis = match (start, end) {
        (Some(s), Some(e)) => Some((e - s).num_milliseconds().max(0)),
        _ => None,
    };
    Phase {
        name,
        start,
        end,
        millis,
        note: if millis.is_some() {
            String::new()
        } else {
            missing.to_string()
        },
    }
}

/// The phases of one event from its records (all of the same event, in order).
pub fn from_records(records: &[&Record]) -> Mttr {
    let mut detected = None;
    let mut started = None;
    let mut confirmed = None;
    let mut executed = None;
    let mut verified = None;
    // Metric verification, when it ran, is what "verified" means; the registry check is not enough.
    let metrics_checked = records
        .iter()
        .any(|r| matches!(r.entry, Entry::MetricsVerified { .. }));
    for r in records {
        match &r.entry {
            Entry::Started {
                detected_at,
                started_at,
                ..
            } => {
                detected = *detected_at;
                started = Some(*started_at);
            }
            Entry::Confirmed { .. } => confirmed = Some(r.at),
            Entry::Executed => executed = Some(r.at),
            Entry::Verified { ok: true, .. } if !metrics_checked => verified = Some(r.at),
            Entry::MetricsVerified { ok: true, .. } => verified = Some(r.at),
            _ => {}
        }
    }
    let phases = vec![
        phase(
            "detection",
            detected,
            started,
            "not measured: pass --detected-at with the time the breach began",
        ),
        phase("triage", started, confirmed, "not reached"),
        phase("execution", confirmed, executed, "not reached"),
        phase("verification", executed, verified, "not verified"),
    ];
    let total_millis = phases.iter().filter_map(|p| p.millis).sum();
    let complete = phases.iter().all(|p| p.millis.is_some());
    Mttr {
        phases,
        total_millis,
        complete,
    }
}

impl Mttr {
    /// The measured phases as a Mermaid gantt chart (GitHub and GitLab render it), in UTC; a
    /// phase not measured is a comment saying why, never a bar of made-up length. `None` when
    /// no phase was measured.
    pub fn gantt(&self) -> Option<String> {
        if self.phases.iter().all(|p| p.millis.is_none()) {
            return None;
        }
        let t = |x: DateTime<Utc>| x.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
        let mut s = String::from(
            "```mermaid\ngantt\n    title MTTR phases (UTC)\n    dateFormat YYYY-MM-DD HH:mm:ss.SSS\n    axisFormat %H:%M:%S\n    section Rollback\n",
        );
        for p in &self.phases {
            match (p.start, p.end, p.millis) {
                (Some(start), Some(end), Some(ms)) => s.push_str(&format!(
                    "    {} ({}) :done, {}, {}, {}\n",
                    p.name,
                    clock::human(Duration::milliseconds(ms)),
                    p.name,
                    t(start),
                    t(end)
                )),
                _ => s.push_str(&format!("    %% {}: {}\n", p.name, p.note)),
            }
        }
        s.push_str("```\n");
        Some(s)
    }

    /// A markdown table; the same text is printed on the terminal.
    pub fn markdown(&self) -> String {
        let mut s = String::from("| Phase | Start | End | Duration |\n|---|---|---|---|\n");
        for p in &self.phases {
            let t = |x: Option<DateTime<Utc>>| {
                x.map(|t| t.format("%H:%M:%S%.3f").to_string())
                    .unwrap_or_else(|| "—".into())
            };
            let d = match p.millis {
                Some(ms) => clock::human(Duration::milliseconds(ms)),
                None => p.note.clone(),
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                p.name,
                t(p.start),
                t(p.end),
                d
            ));
        }
        let total = clock::human(Duration::milliseconds(self.total_millis));
        s.push_str(&format!(
            "| **MTTR** | | | **{total}**{} |\n",
            if self.complete {
                ""
            } else {
                " (measured phases only)"
            }
        ));
        s
    }
}
