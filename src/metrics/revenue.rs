//! The incident report's revenue-impact estimate: `revenue_loss_per_minute` integrated over the
//! degradation window (breach start → metrics back to baseline) from Prometheus history.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::journal::{Entry, Record};
use crate::metrics::ModelMetrics;

/// The metric the estimate integrates, as named in `[models.X.metrics]`.
pub const METRIC: &str = "revenue_loss_per_minute";

/// Prometheus is asked for at most this many steps over the window.
const MAX_STEPS: f64 = 1000.0;

/// The estimate as the report (and `-o json`) shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevenueImpact {
    Estimated {
        /// Revenue lost over the sampled part of the window, in the metric's unit (dollars).
        lost: f64,
        window: Window,
        step_seconds: u64,
        /// Fraction of the window with samples on both sides (0 to 1).
        coverage: f64,
        /// Series summed; more than one when the query is not aggregated.
        series: usize,
    },
    /// The window is not known, so there is nothing to integrate over.
    NotAvailable { reason: String },
    /// Prometheus could not be read, or had nothing for the window.
    Failed { reason: String },
}

/// Where the degradation began and ended, and how each end is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `detected_at` (given on the command line) or `prometheus_history`.
    pub start_from: &'static str,
    /// `metrics_verified`, `rollback_end` (metrics not verified back to baseline) or `now`.
    pub end_at: &'static str,
}

impl Window {
    fn seconds(&self) -> f64 {
        (self.end - self.start).num_milliseconds() as f64 / 1000.0
    }
}

/// The degradation window of an event: from the breach start to the end of the verification
/// phase, else to the end of the rollback, else (still running) to `now`. `Err` says why it
/// is unknown.
pub fn window(records: &[&Record], now: DateTime<Utc>) -> Result<Window, String> {
    let mut start = None;
    let mut from_history = None;
    let mut verified = None;
    let mut finished = None;
    for r in records {
        match &r.entry {
            Entry::Started { detected_at, .. } => start = start.or(*detected_at),
            Entry::Detected { began_at, .. } => from_history = Some(*began_at),
            Entry::MetricsVerified { ok: true, .. } => verified = Some(r.at),
            Entry::Finished { .. } => finished = Some(r.at),
            _ => {}
        }
    }
    let (start, start_from) = match (from_history, start) {
        (Some(t), _) => (t, "prometheus_history"),
        (None, Some(t)) => (t, "detected_at"),
        (None, None) => {
            return Err(
                "the start of the degradation is unknown: no --detected-at was given and Prometheus history showed no breach"
                    .into(),
            );
        }
    };
    let (end, end_at) = match (verified, finished) {
        (Some(t), _) => (t, "metrics_verified"),
        (None, Some(t)) => (t, "rollback_end"),
        (None, None) => (now, "now"),
    };
    if end <= start {
        return Err(format!(
            "the breach start {} is not before the end of the degradation {}",
            crate::clock::fmt(start),
            crate::clock::fmt(end)
        ));
    }
    Ok(Window {
        start,
        end,
        start_from,
        end_at,
    })
}

/// The query step for a window: at most ~1 000 points, never finer than 1 s.
pub fn step_seconds(window_seconds: f64) -> u64 {
    (window_seconds / MAX_STEPS).ceil().max(1.0) as u64
}

/// What the trapezoid rule makes of the samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Integral {
    /// Sum over series of ∫ value dt, with the value per minute and t in seconds.
    pub total: f64,
    /// Seconds of [start, end] where at least one series has samples on both sides.
    pub covered: f64,
}

/// Integrates per-minute rates over [start, end] (seconds) with the trapezoid rule, summed over
/// series, on samples `step` seconds apart. An interval counts only when both its samples are
/// known: a NaN sample, or one missing from the answer (Prometheus leaves out steps without
/// data), is skipped, never bridged, so the time around it is uncovered rather than guessed.
/// Intervals are clipped to the window by linear interpolation.
pub fn integrate(series: &[Vec<(f64, Option<f64>)>], start: f64, end: f64, step: f64) -> Integral {
    let mut total = 0.0;
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for s in series {
        let mut known: Vec<(f64, f64)> = Vec::new();
        for pair in s.windows(2) {
            let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
            let (Some(v0), Some(v1)) = (v0, v1) else {
                continue;
            };
            if !(v0.is_finite() && v1.is_finite()) || t1 <= t0 || t1 - t0 > step * 1.5 {
                continue;
            }
            let (a, b) = (t0.max(start), t1.min(end));
            if b <= a {
                continue;
            }
            let at = |t: f64| v0 + (v1 - v0) * (t - t0) / (t1 - t0);
            total += (at(a) + at(b)) / 2.0 * (b - a) / 60.0;
            known.push((a, b));
        }
        spans.extend(known);
    }
    spans.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut covered = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (a, b) in spans {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                covered += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((ca, cb)) = current {
        covered += cb - ca;
    }
    Integral { total, covered }
}

/// The estimate for an event, or `None` when its model has no `revenue_loss_per_minute` query
/// (then nothing is asked of Prometheus). Never an error: what went wrong is the estimate's text.
pub fn for_event(settings: &Settings, records: &[&Record]) -> Option<RevenueImpact> {
    let model = records.iter().find_map(|r| match &r.entry {
        Entry::Started { model, .. } => Some(model.as_str()),
        _ => None,
    })?;
    let cfg = settings.models.get(model)?;
    let query = cfg.metrics.as_ref()?.revenue_loss_per_minute.clone()?;
    let w = match window(records, crate::clock::now()) {
        Ok(w) => w,
        Err(reason) => return Some(RevenueImpact::NotAvailable { reason }),
    };
    let mm = match ModelMetrics::for_model(Some(cfg)) {
        Ok(Some(mm)) => mm,
        Ok(None) => return None,
        Err(e) => return Some(RevenueImpact::Failed { reason: e.message }),
    };
    Some(estimate(&mm, &query, w))
}

fn estimate(mm: &ModelMetrics, query: &str, w: Window) -> RevenueImpact {
    let step = step_seconds(w.seconds());
    let steps = (w.seconds() / step as f64).ceil().max(1.0) as i64;
    // The grid starts at the breach start and its last point is at or past the end, so the
    // whole window lies between samples; the last interval is clipped to the end.
    let last = w.start + chrono::Duration::seconds(steps * step as i64);
    let got = mm.prom.query_range_all(
        METRIC,
        query,
        w.start,
        last,
        std::time::Duration::from_secs(step),
    );
    let series = match got {
        Ok(s) => s,
        Err(e) => {
            return RevenueImpact::Failed {
                reason: e.to_string(),
            };
        }
    };
    let secs = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
    let samples: Vec<Vec<(f64, Option<f64>)>> = series
        .iter()
        .map(|s| {
            s.samples
                .iter()
                .map(|(t, r)| (secs(*t), r.value()))
                .collect()
        })
        .collect();
    let i = integrate(&samples, secs(w.start), secs(w.end), step as f64);
    if i.covered <= 0.0 {
        return RevenueImpact::Failed {
            reason: format!(
                "Prometheus at {} has no samples of {METRIC} between {} and {} UTC",
                mm.prom.url(),
                w.start.format("%Y-%m-%d %H:%M:%S"),
                w.end.format("%H:%M:%S")
            ),
        };
    }
    RevenueImpact::Estimated {
        lost: i.total,
        coverage: (i.covered / w.seconds()).clamp(0.0, 1.0),
        window: w,
        step_seconds: step,
        series: series.len(),
    }
}

impl RevenueImpact {
    /// The one-line summary for the report's Impact list.
    pub fn summary(&self) -> String {
        match self {
            RevenueImpact::Estimated { lost, .. } => {
                format!("≈ {} (see Revenue Impact below)", money(*lost))
            }
            RevenueImpact::NotAvailable { .. } => {
                "[fill in] (no estimate: the start of the degradation is unknown)".into()
            }
            RevenueImpact::Failed { .. } => "[fill in] (could not be estimated, see below)".into(),
        }
    }

    /// The report section, a markdown heading and its text.
    pub fn markdown(&self) -> String {
        let mut s = String::from("## Revenue Impact (estimate)\n\n");
        match self {
            RevenueImpact::Estimated {
                lost,
                window: w,
                step_seconds,
                coverage,
                series,
            } => {
                let same_day = w.start.date_naive() == w.end.date_naive();
                let t = |x: DateTime<Utc>| {
                    if same_day {
                        x.format("%H:%M:%S").to_string()
                    } else {
                        x.format("%Y-%m-%d %H:%M:%S").to_string()
                    }
                };
                s.push_str(&format!(
                    "≈ {} lost over {} ({} → {} UTC; `{METRIC}` from Prometheus, step {step_seconds} s, {} of the window sampled{}).\n\n",
                    money(*lost),
                    crate::clock::human(chrono::Duration::milliseconds(
                        (w.seconds() * 1000.0).round() as i64
                    )),
                    t(w.start),
                    t(w.end),
                    percent(*coverage),
                    if *series > 1 {
                        format!(", summed over {series} series")
                    } else {
                        String::new()
                    }
                ));
                s.push_str(&format!(
                    "- **Window:** from the breach start ({}) to {}.\n",
                    match w.start_from {
                        "prometheus_history" => "found in Prometheus history",
                        _ => "--detected-at",
                    },
                    match w.end_at {
                        "metrics_verified" =>
                            "the end of verification, when the metrics were back to baseline",
                        "rollback_end" =>
                            "the end of the rollback: the metrics were not verified back to baseline, so the loss may have gone on",
                        _ => "now: the rollback has not finished",
                    }
                ));
                s.push_str("- **Method:** trapezoid rule over the samples of the query, per minute; missing and NaN samples are skipped, not interpolated.\n");
                if *coverage < 0.9995 {
                    s.push_str(&format!(
                        "- **Gaps:** {} of the window has no samples; that time is not counted, so the loss may be higher.\n",
                        percent(1.0 - coverage)
                    ));
                }
            }
            RevenueImpact::NotAvailable { reason } => s.push_str(&format!(
                "Not available: {reason}. Give the time the breach began with `--detected-at` (e.g. `--detected-at 22:04` or `--detected-at 15m`) when rolling back.\n"
            )),
            RevenueImpact::Failed { reason } => s.push_str(&format!(
                "Could not be estimated: {}\n",
                crate::report::escape_md(&crate::http::one_line(reason, 300))
            )),
        }
        s
    }
}

/// Dollars for people: cents under $10, whole dollars under $1 000, else three significant
/// figures (it is an estimate), thousands separated by spaces: "$41 800".
pub fn money(v: f64) -> String {
    if !v.is_finite() {
        return "unknown".into();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    if a < 10.0 {
        return format!("{sign}${a:.2}");
    }
    let rounded = if a < 1000.0 {
        a.round()
    } else {
        let unit = 10f64.powi(a.log10().floor() as i32 - 2);
        (a / unit).round() * unit
    };
    let digits = format!("{rounded:.0}");
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}")
}

fn percent(f: f64) -> String {
    let p = f * 100.0;
    if p >= 99.95 {
        "100%".into()
    } else if p >= 99.0 || (p > 0.0 && p < 1.0) {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(from: i64, to: i64, v: f64) -> Vec<(f64, Option<f64>)> {
        (from..=to).map(|t| (t as f64, Some(v))).collect()
    }

    #[test]
    fn a_constant_rate_integrates_to_rate_times_minutes() {
        let i = integrate(&[flat(0, 600, 3000.0)], 0.0, 600.0, 1.0);
        assert!((i.total - 30_000.0).abs() < 1e-6, "{i:?}");
        assert_eq!(i.covered, 600.0);
    }

    #[test]
    fn a_ramp_is_exact_under_the_trapezoid_rule() {
        // 0 → 120 $/min over two minutes: the area is 120 $.
        let s: Vec<_> = (0..=120).map(|t| (t as f64, Some(t as f64))).collect();
        let i = integrate(&[s], 0.0, 120.0, 1.0);
        assert!((i.total - 120.0).abs() < 1e-9, "{i:?}");
    }

    #[test]
    fn gaps_and_nan_are_skipped_and_leave_the_time_uncovered() {
        let mut s = flat(0, 10, 60.0);
        s[3].1 = None; // missing: intervals 2–3 and 3–4 are skipped
        s[7].1 = Some(f64::NAN); // NaN: intervals 6–7 and 7–8 too
        let i = integrate(&[s], 0.0, 10.0, 1.0);
        assert_eq!(i.covered, 6.0);
        assert!((i.total - 6.0).abs() < 1e-9, "{i:?}");
        // Prometheus leaves steps without data out of the answer: the same gap.
        let holed: Vec<_> = flat(0, 10, 60.0)
            .into_iter()
            .filter(|(t, _)| *t != 5.0)
            .collect();
        let i = integrate(&[holed], 0.0, 10.0, 1.0);
        assert_eq!(i.covered, 8.0, "4–6 is not bridged");
    }

    #[test]
    fn several_series_are_summed_and_coverage_is_their_union() {
        let a = flat(0, 60, 60.0);
        let b: Vec<_> = flat(0, 60, 120.0)
            .into_iter()
            .map(|(t, v)| (t, if t < 30.0 { None } else { v }))
            .collect();
        let i = integrate(&[a, b], 0.0, 60.0, 1.0);
        assert!((i.total - (60.0 + 60.0)).abs() < 1e-9, "{i:?}");
        assert_eq!(i.covered, 60.0);
        let only_late: Vec<_> = flat(0, 60, 60.0)
            .into_iter()
            .map(|(t, v)| (t, if t < 45.0 { None } else { v }))
            .collect();
        let i = integrate(&[only_late.clone(), only_late], 0.0, 60.0, 1.0);
        assert_eq!(i.covered, 15.0, "overlapping spans count once");
    }

    #[test]
    fn intervals_are_clipped_to_the_window() {
        // Samples every 10 s; the window ends 4 s into the last interval.
        let s: Vec<_> = (0..=3).map(|k| (k as f64 * 10.0, Some(60.0))).collect();
        let i = integrate(&[s], 5.0, 24.0, 10.0);
        assert_eq!(i.covered, 19.0);
        assert!((i.total - 19.0).abs() < 1e-9);
        assert_eq!(integrate(&[], 0.0, 10.0, 1.0).covered, 0.0);
        assert_eq!(integrate(&[flat(0, 0, 5.0)], 0.0, 10.0, 1.0).total, 0.0);
    }

    #[test]
    fn step_keeps_the_points_under_a_thousand() {
        assert_eq!(step_seconds(0.4), 1);
        assert_eq!(step_seconds(842.0), 1);
        assert_eq!(step_seconds(1000.0), 1);
        assert_eq!(step_seconds(1001.0), 2);
        assert_eq!(step_seconds(3.0 * 3600.0), 11);
    }

    #[test]
    fn numbers_read_like_an_estimate() {
        assert_eq!(money(41_837.2), "$41 800");
        assert_eq!(money(1_234_567.0), "$1 230 000");
        assert_eq!(money(999.4), "$999");
        assert_eq!(money(3.256), "$3.26");
        assert_eq!(money(-2500.0), "-$2 500");
        assert_eq!(money(f64::NAN), "unknown");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.995), "99.5%");
        assert_eq!(percent(0.62), "62%");
    }

    fn rec(at: &str, entry: Entry) -> Record {
        Record {
            event: "e".into(),
            at: at.parse().unwrap(),
            entry,
        }
    }

    fn started(detected: Option<&str>) -> Record {
        rec(
            "2026-11-26T02:20:00Z",
            Entry::Started {
                command: "rollback model".into(),
                action: None,
                target: None,
                model: "recsys".into(),
                registered_name: "recsys".into(),
                registry: "file".into(),
                mode: "stage Production".into(),
                from: vec![3],
                to: 2,
                to_reason: String::new(),
                reason: String::new(),
                triggered_by: "alice".into(),
                detected_at: detected.map(|d| d.parse().unwrap()),
                started_at: "2026-11-26T02:20:00Z".parse().unwrap(),
            },
        )
    }

    #[test]
    fn the_window_ends_at_verification_else_the_rollback_end_else_now() {
        let now: DateTime<Utc> = "2026-11-26T03:00:00Z".parse().unwrap();
        let s = started(Some("2026-11-26T02:17:00Z"));
        let verified = rec(
            "2026-11-26T02:31:02Z",
            Entry::MetricsVerified {
                ok: true,
                detail: String::new(),
            },
        );
        let finished = rec(
            "2026-11-26T02:31:03Z",
            Entry::Finished {
                outcome: "rolled_back".into(),
                message: String::new(),
            },
        );
        let w = window(&[&s, &verified, &finished], now).unwrap();
        assert_eq!(
            (w.seconds(), w.end_at, w.start_from),
            (842.0, "metrics_verified", "detected_at")
        );
        let w = window(&[&s, &finished], now).unwrap();
        assert_eq!(w.end_at, "rollback_end");
        let w = window(&[&s], now).unwrap();
        assert_eq!((w.end, w.end_at), (now, "now"));
        let unknown = window(&[&started(None), &finished], now).unwrap_err();
        assert!(
            unknown.contains("start of the degradation is unknown"),
            "{unknown}"
        );
        let history = rec(
            "2026-11-26T02:20:00Z",
            Entry::Detected {
                began_at: "2026-11-26T02:10:00Z".parse().unwrap(),
                reason: String::new(),
            },
        );
        let w = window(
            &[&started(Some("2026-11-26T02:10:00Z")), &history, &finished],
            now,
        )
        .unwrap();
        assert_eq!(w.start_from, "prometheus_history");
        let late = window(&[&started(Some("2026-11-26T02:40:00Z")), &finished], now).unwrap_err();
        assert!(late.contains("is not before"), "{late}");
    }

    #[test]
    fn the_section_says_what_it_estimated_from() {
        let w = Window {
            start: "2026-11-26T02:17:00Z".parse().unwrap(),
            end: "2026-11-26T02:31:02Z".parse().unwrap(),
            start_from: "detected_at",
            end_at: "metrics_verified",
        };
        let est = RevenueImpact::Estimated {
            lost: 42_100.0,
            window: w,
            step_seconds: 1,
            coverage: 1.0,
            series: 1,
        };
        let md = est.markdown();
        assert!(
            md.contains("≈ $42 100 lost over 14m 02s (02:17:00 → 02:31:02 UTC; `revenue_loss_per_minute` from Prometheus, step 1 s, 100% of the window sampled)."),
            "{md}"
        );
        assert!(!md.contains("Gaps"), "{md}");
        let failed = RevenueImpact::Failed {
            reason: "cannot reach Prometheus at http://x:9090: refused\nsecond line".into(),
        };
        assert_eq!(
            failed.markdown(),
            "## Revenue Impact (estimate)\n\nCould not be estimated: cannot reach Prometheus at http://x:9090: refused second line\n"
        );
    }
}
