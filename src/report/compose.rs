//! The incident report of one event, composed from its records: the rendered template, the
//! frozen "What Changed" facts, the drill, the metric charts, and what is known since. The one
//! composition the end of a rollback and `mlrb report` share.

use std::path::{Path, PathBuf};

use crate::chart::MetricChart;
use crate::context::Ctx;
use crate::journal::{ChartSamples, Entry, Record};
use crate::metrics::revenue::RevenueImpact;
use crate::report::{self, Annotations};

/// Where the report's metric charts go.
#[derive(Debug, Clone, Copy)]
pub enum Charts<'a> {
    /// Drawn inline as Mermaid xycharts (the report goes to a terminal or a pipe).
    Inline,
    /// As SVG files beside the report written to this path, linked from it.
    Beside(&'a Path),
    /// Not drawn, and Prometheus not asked (the report is a JSON field).
    Omit,
}

/// How the report is composed.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub charts: Charts<'a>,
    /// Adds the "Since Then" section: what the registry shows now that the record does not.
    pub since_then: bool,
}

/// A composed report.
pub struct Composed {
    pub markdown: String,
    pub revenue: Option<RevenueImpact>,
    /// Each chart's SVG file beside the report and its contents (`Charts::Beside` only).
    pub svgs: Vec<(PathBuf, String)>,
    /// The chart samples read from Prometheus now, for an event whose record holds none (and
    /// `None` when there was nothing to draw): what the event's close freezes into the journal.
    pub read_now: Option<Vec<ChartSamples>>,
}

/// The incident report of one event from its records: the template filled from the journal
/// (annotations and revenue impact included), the "What Changed" section frozen at its close,
/// the drill's section, the metric charts (frozen at the close, else read from Prometheus now;
/// a Prometheus that cannot be read is one line in their place), and with `since_then` what is
/// known since, last. Never fails: a source that cannot be read is said in the report.
pub fn compose(ctx: &Ctx, records: &[&Record], opts: Options) -> Composed {
    let revenue = crate::metrics::revenue::for_event(&ctx.settings, records);
    let mut text = report::render(
        records,
        &Annotations::from_records(records),
        revenue.as_ref(),
    );
    if let Some(section) = crate::timeline::facts::report_section(ctx, records) {
        text = insert_section(&text, &section);
    }
    if let Some(event) = records.first().map(|r| r.event.as_str())
        && let Some(section) = crate::drill::history::report_section(&ctx.settings.state_dir, event)
    {
        text = insert_section(&text, section.trim_start());
    }
    let (charts, read_now) = match opts.charts {
        Charts::Omit => (Ok(Vec::new()), None),
        _ => match frozen_charts(records) {
            Some(c) => (Ok(c), None),
            None => {
                let read = crate::metrics::incident_charts(&ctx.settings, records);
                let samples = read.as_ref().ok().filter(|cs| !cs.is_empty()).map(|cs| {
                    cs.iter()
                        .map(|c| ChartSamples {
                            metric: c.metric.clone(),
                            points: c.points.clone(),
                        })
                        .collect()
                });
                (read, samples)
            }
        },
    };
    let svgs = match (opts.charts, &charts) {
        (Charts::Beside(out), Ok(c)) => chart_files(out, c),
        _ => Vec::new(),
    };
    if let Some(section) = metrics_section(&charts, &svgs) {
        text = match text.find("\n## Impact\n") {
            Some(i) => format!("{}\n{section}{}", &text[..i], &text[i..]),
            None => format!("{text}\n{section}"),
        };
    }
    // Last: everything above it is the record, the same on every render.
    if opts.since_then
        && let Some(section) = crate::timeline::facts::since_section(ctx, records)
    {
        text = append_section(&text, &section);
    }
    Composed {
        markdown: text,
        revenue,
        svgs: svgs.into_iter().flatten().collect(),
        read_now,
    }
}

/// The charts whose samples the event's close froze into the journal, marked with the moments
/// its records show. `None` when the close froze none.
fn frozen_charts(records: &[&Record]) -> Option<Vec<MetricChart>> {
    let frozen = records.iter().rev().find_map(|r| match &r.entry {
        Entry::Charts { charts } => Some(charts),
        _ => None,
    })?;
    let markers = crate::metrics::incident_markers(records);
    Some(
        frozen
            .iter()
            .map(|c| MetricChart {
                metric: c.metric.clone(),
                points: c.points.clone(),
                markers: markers.clone(),
            })
            .collect(),
    )
}

/// Each chart's SVG file beside the report `out` (`report.md` → `report.error_rate.svg`), with
/// its contents, one entry per chart (`None`: drawn inline).
fn chart_files(out: &Path, charts: &[MetricChart]) -> Vec<Option<(PathBuf, String)>> {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    charts
        .iter()
        .map(|c| {
            let metric: String = c
                .metric
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect();
            Some((out.with_file_name(format!("{stem}.{metric}.svg")), c.svg()?))
        })
        .collect()
}

/// The report's "Metrics" section: each chart linked as its SVG file when the report is
/// written with --out, else drawn inline as a Mermaid xychart; a caption names the moments
/// marked. One line when Prometheus could not be read; `None` without charts.
fn metrics_section(
    charts: &Result<Vec<MetricChart>, String>,
    svgs: &[Option<(PathBuf, String)>],
) -> Option<String> {
    let charts = match charts {
        Ok(c) if c.is_empty() => return None,
        Ok(c) => c,
        Err(e) => {
            return Some(format!(
                "## Metrics\n\nNot drawn: {}\n\n",
                report::escape_md(e)
            ));
        }
    };
    let mut s = String::from("## Metrics\n\n");
    for (i, c) in charts.iter().enumerate() {
        match svgs.get(i).and_then(|f| f.as_ref()?.0.file_name()) {
            Some(file) => s.push_str(&format!(
                "![{}]({})\n",
                report::escape_md(&c.metric),
                file.to_string_lossy().replace(' ', "%20")
            )),
            None => s.push_str(&c.mermaid()?),
        }
        s.push_str(&format!("\n{}\n\n", report::escape_md(&c.caption())));
    }
    Some(s)
}

/// `report` with `section` placed last, before its closing rule (or at the end).
fn append_section(report: &str, section: &str) -> String {
    match report.rfind("\n---\n") {
        Some(i) => format!("{}\n{section}{}", &report[..i], &report[i..]),
        None => format!("{report}\n{section}"),
    }
}

/// `report` with `section` placed before its Root Cause section (or at the end).
fn insert_section(report: &str, section: &str) -> String {
    match report.find("\n## Root Cause") {
        Some(i) => format!("{}{section}{}", &report[..i + 1], &report[i..]),
        None => format!("{report}\n{section}"),
    }
}
