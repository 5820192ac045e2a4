//! Pictures of an incident: a metric over its window as SVG or as a Mermaid xychart, and the
//! one-line sparkline of a trend. Pure: the same data gives the same bytes.

use chrono::{DateTime, Utc};
use plotters::prelude::*;

/// A moment the chart marks: the breach start, the confirmation, the registry flip, recovery.
#[derive(Debug, Clone)]
pub struct Marker {
    pub at: DateTime<Utc>,
    pub label: &'static str,
}

/// One metric's samples over the incident window, with the moments to mark on it.
#[derive(Debug, Clone)]
pub struct MetricChart {
    pub metric: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
    pub markers: Vec<Marker>,
}

/// The SVG's size: fixed, so a chart's bytes depend only on its data.
const WIDTH: u32 = 800;
const HEIGHT: u32 = 360;

/// The most points a Mermaid chart shows (its x axis labels every one).
const MERMAID_POINTS: usize = 24;

impl MetricChart {
    /// The time span drawn: the samples' and the markers' together. `None` without samples.
    fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let times = self
            .points
            .iter()
            .map(|(t, _)| *t)
            .chain(self.markers.iter().map(|m| m.at));
        let (first, last) = (self.points.first()?.0, self.points.last()?.0);
        Some(times.fold((first, last), |(a, b), t| (a.min(t), b.max(t))))
    }

    /// The lowest and highest value, widened so a flat line sits inside the chart.
    fn value_range(&self) -> (f64, f64) {
        let (lo, hi) = self
            .points
            .iter()
            .map(|(_, v)| *v)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let lo = lo.min(0.0);
        let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.1).max(1e-9);
        (lo, hi + pad)
    }

    /// The chart as an SVG document (white background, the metric as a line, each marker a
    /// dashed vertical line with its name). `None` without samples.
    pub fn svg(&self) -> Option<String> {
        let (start, end) = self.span()?;
        let secs = |t: DateTime<Utc>| (t - start).num_milliseconds() as f64 / 1000.0;
        let width = secs(end).max(1.0);
        let (lo, hi) = self.value_range();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).ok()?;
            let title = format!(
                "{} from {} to {} UTC",
                self.metric,
                start.format("%Y-%m-%d %H:%M:%S"),
                end.format("%H:%M:%S")
            );
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..width, lo..hi)
                .ok()?;
            let at = |s: &f64| {
                (start + chrono::Duration::milliseconds((*s * 1000.0) as i64))
                    .format("%H:%M:%S")
                    .to_string()
            };
            chart
                .configure_mesh()
                .x_labels(6)
                .y_labels(6)
                .x_label_formatter(&at)
                .y_label_formatter(&|v: &f64| short(*v))
                .x_desc("UTC")
                .y_desc(self.metric.as_str())
                .draw()
                .ok()?;
            chart
                .draw_series(LineSeries::new(
                    self.points.iter().map(|(t, v)| (secs(*t), *v)),
                    BLUE.stroke_width(2),
                ))
                .ok()?;
            for (i, m) in self.markers.iter().enumerate() {
                let x = secs(m.at);
                let color = MARKER_COLORS[i % MARKER_COLORS.len()];
                chart
                    .draw_series(DashedLineSeries::new(
                        [(x, lo), (x, hi)],
                        6,
                        4,
                        color.stroke_width(1),
                    ))
                    .ok()?;
                // Labels step down so markers close in time stay readable.
                let y = hi - (hi - lo) * (0.06 + 0.08 * i as f64);
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!(" {} {}", m.label, m.at.format("%H:%M:%S")),
                        (x, y),
                        ("sans-serif", 13).into_font().color(&color),
                    )))
                    .ok()?;
            }
            root.present().ok()?;
        }
        Some(out)
    }

    /// The chart as a Mermaid xychart (GitHub and GitLab render it): at most 24 points, and the
    /// markers in a comment and the line after it, since an xychart draws no vertical marks.
    /// `None` without samples.
    pub fn mermaid(&self) -> Option<String> {
        if self.points.is_empty() {
            return None;
        }
        let every = self.points.len().div_ceil(MERMAID_POINTS).max(1);
        let shown: Vec<&(DateTime<Utc>, f64)> = self.points.iter().step_by(every).collect();
        let (lo, hi) = self.value_range();
        let labels: Vec<String> = shown
            .iter()
            .map(|(t, _)| format!("\"{}\"", t.format("%H:%M:%S")))
            .collect();
        let values: Vec<String> = shown.iter().map(|(_, v)| short(*v)).collect();
        let metric = self.metric.replace('"', "'");
        let mut s = format!(
            "```mermaid\nxychart-beta\n    title \"{metric} (UTC)\"\n    x-axis [{}]\n    y-axis \"{metric}\" {} --> {}\n    line [{}]\n",
            labels.join(", "),
            short(lo),
            short(hi),
            values.join(", ")
        );
        for m in &self.markers {
            s.push_str(&format!(
                "    %% {} at {}\n",
                m.label,
                m.at.format("%H:%M:%S")
            ));
        }
        s.push_str("```\n");
        Some(s)
    }

    /// The markers in words, for the line under a chart.
    pub fn caption(&self) -> String {
        let marks: Vec<String> = self
            .markers
            .iter()
            .map(|m| format!("{} {}", m.label, m.at.format("%H:%M:%S")))
            .collect();
        if marks.is_empty() {
            format!("{} over the incident window (UTC).", self.metric)
        } else {
            format!(
                "{} over the incident window (UTC); marked: {}.",
                self.metric,
                marks.join(", ")
            )
        }
    }
}

const MARKER_COLORS: [RGBColor; 4] = [
    RGBColor(200, 30, 30),
    RGBColor(200, 120, 0),
    RGBColor(110, 40, 170),
    RGBColor(20, 140, 60),
];

/// A number in at most four significant digits, without a trailing `.0`.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `values` as one line of block characters, lowest to highest (`▁` … `█`); empty for none.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    values
        .iter()
        .map(|v| {
            if hi - lo <= f64::EPSILON {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A breach at 22:04 on a 15 s scrape, rolled back at 22:09, recovered by 22:11.
    fn incident() -> MetricChart {
        let start = t("2026-11-20T22:00:00Z");
        let points = (0..60)
            .map(|i| {
                let at = start + chrono::Duration::seconds(15 * i);
                let v = if (16..44).contains(&i) { 0.08 } else { 0.01 };
                (at, v)
            })
            .collect();
        MetricChart {
            metric: "error_rate".into(),
            points,
            markers: vec![
                Marker {
                    at: t("2026-11-20T22:04:00Z"),
                    label: "breach start",
                },
                Marker {
                    at: t("2026-11-20T22:08:30Z"),
                    label: "confirmed",
                },
                Marker {
                    at: t("2026-11-20T22:09:00Z"),
                    label: "registry flipped",
                },
                Marker {
                    at: t("2026-11-20T22:11:00Z"),
                    label: "recovered",
                },
            ],
        }
    }

    #[test]
    fn svg_of_an_incident() {
        let svg = incident().svg().unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg, incident().svg().unwrap(), "not deterministic");
        insta::assert_snapshot!("metric_chart_svg", svg);
    }

    #[test]
    fn mermaid_of_an_incident() {
        insta::assert_snapshot!("metric_chart_mermaid", incident().mermaid().unwrap());
        assert_eq!(
            incident().caption(),
            "error_rate over the incident window (UTC); marked: breach start 22:04:00, confirmed 22:08:30, registry flipped 22:09:00, recovered 22:11:00."
        );
    }

    #[test]
    fn no_samples_no_chart() {
        let mut c = incident();
        c.points.clear();
        assert!(c.svg().is_none() && c.mermaid().is_none());
    }

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 8.0]), "▁▂▃█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(0.08), "0.08");
        assert_eq!(short(0.088), "0.088");
        assert_eq!(short(1234.6), "1235");
        assert_eq!(short(12.0), "12");
        assert_eq!(short(0.0), "0");
    }
}
