//! The incident report: the reference document's post-mortem template, filled from the journal.

use chrono::{DateTime, Utc};

use crate::journal::{Action, Entry, Record};
use crate::metrics::revenue::RevenueImpact;
use crate::mttr;

pub mod compose;

const FILL: &str = "[fill in]";

/// What readers add after the fact (`report --root-cause … --factor … --action …`).
#[derive(Debug, Default, Clone)]
pub struct Annotations {
    pub root_cause: Option<String>,
    pub factors: Vec<String>,
    pub actions: Vec<Action>,
}

impl Annotations {
    /// Merges every annotation record of the event, later ones adding to earlier ones.
    pub fn from_records(records: &[&Record]) -> Annotations {
        let mut a = Annotations::default();
        for r in records {
            if let Entry::Annotation {
                root_cause,
                factors,
                actions,
            } = &r.entry
            {
                if root_cause.is_some() {
                    a.root_cause = root_cause.clone();
                }
                a.factors.extend(factors.iter().cloned());
                a.actions.extend(actions.iter().cloned());
            }
        }
        a
    }
}

/// Escapes text so it cannot change the report's structure: inline markdown punctuation is
/// backslash-escaped, HTML is neutralised, line breaks become spaces (so no text can start a
/// heading, list or quote of its own).
pub fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The timeline row of a run that stopped without finishing: where it stopped, from the last
/// step it recorded (index, line, whether its end was recorded).
fn interrupted(at: Option<(usize, &str, bool)>, plan_len: usize) -> String {
    match at {
        Some((i, step, false)) => format!(
            "Interrupted during step {}/{plan_len} ({}): the process stopped before its end was recorded",
            i + 1,
            escape_md(step.trim())
        ),
        Some((i, _, true)) => format!(
            "Interrupted after step {}/{plan_len}: the process stopped before the next one began",
            i + 1
        ),
        None => "Interrupted before a step of this run began: the process stopped".into(),
    }
}

/// `s` as a CommonMark code span that renders exactly as written: inside a code span no escape
/// applies, so the fence is one backtick longer than the longest run of backticks in `s`, and a
/// space pads each side when `s` starts or ends with a backtick (or with spaces on both ends,
/// which CommonMark would strip). Line breaks become spaces, as everywhere in the report.
pub fn code_span(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && s.trim() != "");
    let sp = if pad { " " } else { "" };
    format!("{fence}{sp}{s}{sp}{fence}")
}

/// The reference document's severity heuristic — revenue or safety → P1, error rate or latency
/// → P2, else P3 — on the reason given and on every breach the event's own timeline records
/// (so a report never calls P3 what its timeline shows breaching the error rate).
pub fn severity(reason: &str, breaches: &[&str]) -> (u8, String) {
    fn level(text: &str) -> Option<(u8, &'static str)> {
        let t = text.to_lowercase();
        if t.contains("revenue") || t.contains("safety") {
            Some((1, "revenue or safety"))
        } else if t.contains("error_rate") || t.contains("error rate") || t.contains("latency") {
            Some((2, "error rate or latency"))
        } else {
            None
        }
    }
    let found = std::iter::once(("the reason", reason))
        .chain(breaches.iter().map(|b| ("the breach in the timeline", *b)))
        .filter_map(|(source, text)| level(text).map(|(p, what)| (p, source, what)))
        .min_by_key(|(p, _, _)| *p);
    match found {
        Some((p, source, what)) => (p, format!("{source} mentions {what}")),
        None => (
            3,
            if breaches.is_empty() {
                "no revenue, safety, error-rate or latency impact named in the reason".into()
            } else {
                "no revenue, safety, error-rate or latency impact named in the reason or the breach"
                    .into()
            },
        ),
    }
}

/// What a rollback's verification established and what it did not, one phrase each, in the
/// order the report states them: the rollback's own re-read, the serving reload, the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checks(pub Vec<String>);

impl Checks {
    pub fn summary(&self) -> String {
        self.0.join("; ")
    }
}

/// The checks of one event, from its records alone (a report re-rendered later says the same).
pub fn checks(records: &[&Record]) -> Checks {
    let kind = records.iter().find_map(|r| match &r.entry {
        Entry::Target { kind, .. } => Some(kind.as_str()),
        _ => None,
    });
    let (lines, detail) = records
        .iter()
        .rev()
        .find_map(|r| match &r.entry {
            Entry::Plan { steps, detail, .. } => Some((steps.len(), detail.as_slice())),
            _ => None,
        })
        .unwrap_or((0, &[]));
    // The newest end of each step (a resumed event may have run one twice).
    let finished = |index: usize| {
        records.iter().rev().find_map(|r| match &r.entry {
            Entry::StepFinished { index: i, ok, .. } if *i == index => Some(*ok),
            _ => None,
        })
    };
    let mut out = Vec::new();
    let what = match kind {
        None => "registry",
        Some("infra") => "rollout",
        Some("features") => "restored files",
        Some("fallback") => "serving switch",
        Some(other) => other,
    };
    out.push(match lines.checked_sub(1).and_then(finished) {
        Some(true) => format!("{what} verified"),
        Some(false) => format!("{what} NOT verified"),
        None => format!("{what} not checked: not reached"),
    });
    if kind.is_none() && !detail.is_empty() {
        out.push(serving_check(detail, &finished));
    }
    let metrics = records.iter().rev().find_map(|r| match &r.entry {
        Entry::MetricsVerified { ok: true, .. } => Some("metrics back to baseline".to_string()),
        Entry::MetricsVerified { ok: false, .. } => Some("metrics did NOT recover".to_string()),
        Entry::NotChecked { what, why } if what == "metrics" => {
            Some(format!("metrics not checked: {why}"))
        }
        _ => None,
    });
    out.push(metrics.unwrap_or_else(|| "metrics not checked".into()));
    Checks(out)
}

/// What the model rollback's serving steps established: a reload whose served version was read
/// back, a reload whose rollout finished, or none configured.
fn serving_check(detail: &[crate::plan::Step], finished: &dyn Fn(usize) -> Option<bool>) -> String {
    use crate::plan::Step;
    let serving: Vec<(usize, &Step)> = detail
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s,
                Step::Reload { .. } | Step::AwaitServing { .. } | Step::Command { .. }
            )
        })
        .collect();
    if serving.is_empty() {
        return "serving not checked: no reload configured".into();
    }
    let ends: Vec<Option<bool>> = serving.iter().map(|(i, _)| finished(*i)).collect();
    if ends.contains(&Some(false)) {
        return "serving reload FAILED".into();
    }
    if ends.contains(&None) {
        return "serving not checked: not reached".into();
    }
    match serving.iter().find_map(|(_, s)| match s {
        Step::AwaitServing { version, .. } => Some(*version),
        _ => None,
    }) {
        Some(v) => format!("serving reloaded and v{v} confirmed served"),
        None => "serving reloaded (rollout finished; the served version was not read back)".into(),
    }
}

fn hms(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.3f").to_string()
}

/// Renders the report of one event from its records (in journal order), with the revenue-impact
/// estimate when the model has one configured.
pub fn render(records: &[&Record], notes: &Annotations, revenue: Option<&RevenueImpact>) -> String {
    let Some(first) = records.first() else {
        return String::new();
    };
    let event = &first.event;
    let mut model = String::from("?");
    let mut summary = String::new();
    let mut reason = String::new();
    let mut date = hms(first.at);
    let mut timeline: Vec<(DateTime<Utc>, String)> = Vec::new();
    let mut outcome: Option<(String, String)> = None;
    let mut plan_len = 0;
    let mut detected = None;
    // An interrupted run shows where it stopped: a run is each stretch from the start or a
    // resume to a Finished record; one that ends without it was interrupted.
    let mut run_finished = false;
    let mut at_step: Option<(usize, &str, bool)> = None;
    let mut last_at = first.at;
    for r in records {
        match &r.entry {
            Entry::Annotation { .. } | Entry::ReportFacts { .. } | Entry::Charts { .. } => {}
            Entry::Resumed { how } => {
                if !run_finished {
                    timeline.push((last_at, interrupted(at_step, plan_len)));
                }
                run_finished = false;
                at_step = None;
                timeline.push((r.at, format!("Rollback resumed ({})", escape_md(how))));
            }
            Entry::StepStarted { index, step } => at_step = Some((*index, step.as_str(), false)),
            Entry::StepFinished { index, .. } => {
                let line = at_step
                    .filter(|(i, _, _)| i == index)
                    .map_or("", |(_, l, _)| l);
                at_step = Some((*index, line, true));
            }
            Entry::Finished { .. } => run_finished = true,
            _ => {}
        }
        if !matches!(
            r.entry,
            Entry::Annotation { .. } | Entry::ReportFacts { .. } | Entry::Charts { .. }
        ) {
            last_at = r.at;
        }
        match &r.entry {
            Entry::Started {
                command,
                model: m,
                registered_name,
                registry,
                mode,
                from,
                to,
                to_reason,
                reason: why,
                triggered_by,
                detected_at,
                started_at,
                ..
            } => {
                model = m.clone();
                reason = why.clone();
                date = started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
                detected = *detected_at;
                let from_s = if from.is_empty() {
                    "(no live version)".to_string()
                } else {
                    from.iter()
                        .map(|v| format!("v{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                summary = format!(
                    "Model {} (registered as {}, {}, live by {}) was rolled back from {} to v{} due to:\n\n> {}\n\nTriggered by {}. Target: {}.",
                    code_span(m),
                    code_span(registered_name),
                    escape_md(registry),
                    escape_md(mode),
                    from_s,
                    to,
                    if why.is_empty() {
                        "no reason given".into()
                    } else {
                        escape_md(why)
                    },
                    escape_md(triggered_by),
                    escape_md(to_reason),
                );
                let from_history = records
                    .iter()
                    .any(|r| matches!(r.entry, Entry::Detected { .. }));
                if let Some(d) = detected_at
                    && !from_history
                {
                    timeline.push((*d, "Breach detected (--detected-at)".into()));
                }
                timeline.push((
                    *started_at,
                    format!(
                        "{} started by {}",
                        code_span(&format!("mlrb {command}")),
                        escape_md(triggered_by)
                    ),
                ));
            }
            Entry::Target { summary: text, .. } => {
                summary = format!(
                    "{}\n\n> {}\n\nTriggered by the person or system named in the timeline.",
                    escape_md(text),
                    if reason.is_empty() {
                        "no reason given".into()
                    } else {
                        escape_md(&reason)
                    }
                );
            }
            Entry::Plan { steps, .. } => {
                plan_len = steps.len();
                timeline.push((r.at, format!("Plan ready: {} steps", steps.len())));
            }
            Entry::Confirmed { how } => {
                timeline.push((r.at, format!("Rollback confirmed ({})", escape_md(how))))
            }
            Entry::StepFinished {
                index, ok, detail, ..
            } => timeline.push((
                r.at,
                format!(
                    "Step {}/{plan_len} {}: {}",
                    index + 1,
                    if *ok { "done" } else { "FAILED" },
                    escape_md(detail)
                ),
            )),
            Entry::Executed => timeline.push((r.at, "Execution complete".into())),
            Entry::Note { text } => timeline.push((r.at, format!("Note: {}", escape_md(text)))),
            Entry::Detected { began_at, reason } => timeline.push((
                *began_at,
                format!(
                    "Breach began (from Prometheus history): {}",
                    escape_md(reason)
                ),
            )),
            Entry::MetricsVerified { ok, detail } => timeline.push((
                r.at,
                format!(
                    "Metrics {}: {}",
                    if *ok { "recovered" } else { "did NOT recover" },
                    escape_md(detail)
                ),
            )),
            Entry::Verified { ok, detail } => timeline.push((
                r.at,
                format!(
                    "Verification {}: {}",
                    if *ok { "passed" } else { "FAILED" },
                    escape_md(detail)
                ),
            )),
            Entry::Finished {
                outcome: o,
                message,
            } => {
                timeline.push((r.at, format!("Finished: {}", escape_md(message))));
                outcome = Some((o.clone(), message.clone()));
            }
            _ => {}
        }
    }
    if !run_finished {
        timeline.push((last_at, interrupted(at_step, plan_len)));
    }
    let checked = checks(records).summary();
    let status: String = match outcome.as_ref().map(|(o, _)| o.as_str()) {
        Some("rolled_back") => format!("Resolved ({checked})"),
        Some("not_verified") => format!("Rolled back, NOT verified ({checked}) — keep watching"),
        Some("already_live") => "No change needed (already on the target)".into(),
        Some("declined") => "Declined — nothing was changed".into(),
        Some("failed") => "FAILED — manual intervention required".into(),
        Some("not_converged") => format!(
            "Rolled back in the registry, NOT verified: serving has not converged ({checked}) — unfinished: run the rollback again (or with --resume) once serving can take the target"
        ),
        Some("triggered") => {
            "Retrain triggered — follow the pipeline, then promote and verify".into()
        }
        Some("retrained") => "Retrain finished — promote the new version and verify".into(),
        Some("retrain_failed") => {
            "Retrain pipeline FAILED — keep serving the fallback; fix it, then trigger again".into()
        }
        Some("trigger_unknown") => {
            "Retrain trigger UNKNOWN — check CI for this event's pipeline before triggering again"
                .into()
        }
        _ => "Interrupted — see `mlrb status`".into(),
    };
    let breaches: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Detected { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    let (sev, sev_why) = severity(&reason, &breaches);
    let mttr = mttr::from_records(records);
    let verified_at = mttr.phases.last().and_then(|p| p.end);
    let degradation = match (detected, verified_at) {
        (Some(d), Some(v)) => format!(
            "{} (breach detected {} → verified {})",
            crate::clock::human(v - d),
            hms(d),
            hms(v)
        ),
        _ => format!("{FILL} (pass --detected-at to measure it)"),
    };
    let kind = records.iter().find_map(|r| match &r.entry {
        Entry::Target { kind, .. } => Some(kind.as_str()),
        _ => None,
    });
    let (title, prevention) = by_kind(kind);
    let mut s = String::new();
    s.push_str(&format!(
        "# Incident Report: {title} - {}\n\n",
        escape_md(&model)
    ));
    s.push_str(&format!("**Incident ID:** {event}\n"));
    s.push_str(&format!("**Date:** {date}\n"));
    s.push_str(&format!(
        "**Severity:** P{sev} ({sev_why}; adjust if needed)\n"
    ));
    s.push_str(&format!("**Status:** {status}\n\n"));
    s.push_str("## Summary\n\n");
    s.push_str(&summary);
    s.push_str("\n\n## Timeline\n\n");
    timeline.sort_by_key(|(t, _)| *t);
    for (t, what) in &timeline {
        s.push_str(&format!("- **{}** - {what}\n", hms(*t)));
    }
    s.push_str("\n## MTTR\n\n");
    s.push_str(&mttr.markdown());
    if let Some(chart) = mttr.gantt() {
        s.push('\n');
        s.push_str(&chart);
    }
    s.push_str("\n## Impact\n\n");
    s.push_str(&format!("- **Duration of degradation:** {degradation}\n"));
    s.push_str(&format!("- **Users affected:** {FILL}\n"));
    s.push_str(&format!(
        "- **Revenue impact (estimated):** {}\n",
        revenue
            .map(RevenueImpact::summary)
            .unwrap_or_else(|| FILL.into())
    ));
    if let Some(r) = revenue {
        s.push('\n');
        s.push_str(&r.markdown());
    }
    s.push_str("\n## Root Cause\n\n");
    s.push_str(
        &notes
            .root_cause
            .as_deref()
            .map(escape_md)
            .unwrap_or_else(|| {
                format!("{FILL} - check all four components: model artifact, serving infrastructure, feature pipeline, training data")
            }),
    );
    s.push_str("\n\n## Contributing Factors\n\n");
    if notes.factors.is_empty() {
        s.push_str(&format!("- {FILL}\n"));
    }
    for f in &notes.factors {
        s.push_str(&format!("- {}\n", escape_md(f)));
    }
    s.push_str("\n## What Went Well\n\n- [fill in - what detection/response mechanisms worked]\n");
    s.push_str(
        "\n## What Did Not Go Well\n\n- [fill in - what gaps allowed the incident to occur or prolonged it]\n",
    );
    s.push_str("\n## Corrective Actions\n\n");
    if notes.actions.is_empty() {
        s.push_str(&format!("- [ ] {FILL} - Owner: {FILL}, Due: {FILL}\n"));
    }
    for a in &notes.actions {
        s.push_str(&format!(
            "- [ ] {} - Owner: {}, Due: {}\n",
            escape_md(&a.what),
            escape_md(&a.owner),
            escape_md(&a.due)
        ));
    }
    s.push_str(&format!(
        "\n## Prevention\n\n[What changes to the deployment process, monitoring, or automated gates would prevent this class of incident? {prevention}]\n"
    ));
    s.push_str("\nKeep watching the model at high frequency for two hours after the rollback: caches and session state may take time to settle.\n");
    s.push_str("\n---\n*Generated by mlrb from its journal. Review and complete all [fill in] sections before sharing.*\n");
    s
}

/// The report's title and its prevention advice for the kind of rollback (`Target`'s kind;
/// none for a model rollback).
fn by_kind(kind: Option<&str>) -> (&'static str, &'static str) {
    match kind {
        Some("infra") => (
            "Infrastructure Rollback",
            "Ship serving changes (images, charts, routes) through a canary with automated analysis, and keep the previous revision, release or colour ready: `mlrb rollback infra MODEL --dry-run` shows what a rollback would do.",
        ),
        Some("features") => (
            "Feature Pipeline Rollback",
            "Version the feature pipeline's code and data together (git and DVC), check features against the training schema and distribution before they reach serving, and deploy pipeline changes apart from model changes.",
        ),
        Some("retrain") => (
            "Emergency Retrain",
            "Version and validate the training data (schema, labels, drift) before every training run, and keep a known-good dataset version to retrain from.",
        ),
        _ => (
            "Model Rollback",
            "Designate the next rollback target before every deploy: `mlrb candidate MODEL --designate V`.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_and_html() {
        assert_eq!(escape_md("# hi *x* <b> - y"), "\\# hi \\*x\\* &lt;b\\> - y");
        assert_eq!(escape_md("a\nb"), "a b");
    }

    #[test]
    fn code_spans_hold_any_name_as_written() {
        assert_eq!(code_span("recsys"), "`recsys`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x``"), "``` `x`` ```");
        assert_eq!(code_span("a&b\\c#d_e"), "`a&b\\c#d_e`");
        assert_eq!(code_span(" x "), "`  x  `");
    }

    #[test]
    fn severity_follows_the_reference() {
        assert_eq!(severity("Revenue loss", &[]).0, 1);
        assert_eq!(severity("p99 latency 3s", &[]).0, 2);
        assert_eq!(severity("diversity collapse", &[]).0, 3);
    }

    #[test]
    fn severity_agrees_with_the_breach_in_the_timeline() {
        let (p, why) = severity("drill", &["Error rate 8.0% exceeds threshold 5.0%"]);
        assert_eq!(
            (p, why.as_str()),
            (
                2,
                "the breach in the timeline mentions error rate or latency"
            )
        );
        assert_eq!(
            severity("latency", &["Revenue loss $4200/min exceeds threshold"]).0,
            1
        );
        assert_eq!(severity("", &["diversity 0.04 below minimum 0.5"]).0, 3);
    }
}
