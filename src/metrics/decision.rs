//! The rollback decision: thresholds (the reference's defaults) and the rule that turns metrics
//! now and a baseline into ROLLBACK NOW, INVESTIGATE or MONITOR with a human reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The metrics mlrb knows by name, in the order the rule looks at them.
pub const STANDARD: [&str; 5] = [
    "revenue_loss_per_minute",
    "error_rate",
    "latency_p99_ms",
    "primary_metric",
    "prediction_diversity",
];

/// Metric values; a missing key or `None` is unknown, never zero.
pub type Values = BTreeMap<String, Option<f64>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Monitor,
    Investigate,
    RollbackNow,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::RollbackNow => "ROLLBACK NOW",
            Decision::Investigate => "INVESTIGATE",
            Decision::Monitor => "MONITOR",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// `[models.X.thresholds]`; defaults are the reference document's `RollbackThresholds`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub max_revenue_loss_per_minute: f64,
    pub max_error_rate: f64,
    pub max_latency_p99_ms: f64,
    pub min_primary_metric: f64,
    pub max_prediction_diversity_drop: f64,
    pub max_metric_regression_from_baseline: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_revenue_loss_per_minute: 3000.0,
            max_error_rate: 0.05,
            max_latency_p99_ms: 2000.0,
            min_primary_metric: 0.80,
            max_prediction_diversity_drop: 0.20,
            max_metric_regression_from_baseline: 0.03,
        }
    }
}

impl Thresholds {
    /// Rejects thresholds that cannot mean what they say.
    pub fn check(&self) -> Result<(), String> {
        let finite = [
            (
                "max_revenue_loss_per_minute",
                self.max_revenue_loss_per_minute,
            ),
            ("max_error_rate", self.max_error_rate),
            ("max_latency_p99_ms", self.max_latency_p99_ms),
            ("min_primary_metric", self.min_primary_metric),
            (
                "max_prediction_diversity_drop",
                self.max_prediction_diversity_drop,
            ),
            (
                "max_metric_regression_from_baseline",
                self.max_metric_regression_from_baseline,
            ),
        ];
        for (k, v) in finite {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{k} = {v} must be a number ≥ 0"));
            }
        }
        if self.max_error_rate > 1.0 {
            return Err(format!(
                "max_error_rate = {} is a fraction (0.05 = 5%) and must be at most 1",
                self.max_error_rate
            ));
        }
        for (k, v) in [
            (
                "max_prediction_diversity_drop",
                self.max_prediction_diversity_drop,
            ),
            (
                "max_metric_regression_from_baseline",
                self.max_metric_regression_from_baseline,
            ),
        ] {
            if v >= 1.0 {
                return Err(format!(
                    "{k} = {v} is a fraction of the baseline (0.20 = 20%) and must be below 1"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher is better: a value below `min` breaches.
    Higher,
    /// Lower is better: a value above `max` breaches.
    Lower,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A breach means ROLLBACK NOW.
    Hard,
    /// A breach means INVESTIGATE.
    #[default]
    Soft,
}

/// `[models.X.metrics.custom.NAME]`: a metric of the team's own, with its direction and limits.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomMetric {
    pub query: String,
    pub direction: Direction,
    /// The acceptable band; outside it is a breach of `severity`.
    pub min: Option<f64>,
    pub max: Option<f64>,
    #[serde(default)]
    pub severity: Severity,
    /// Worse than the baseline by more than this fraction → INVESTIGATE.
    pub max_regression: Option<f64>,
}

impl CustomMetric {
    pub fn check(&self) -> Result<(), String> {
        if self.query.trim().is_empty() {
            return Err("query is empty".into());
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max)
            && lo > hi
        {
            return Err(format!(
                "min = {lo} is above max = {hi}: no value could be acceptable"
            ));
        }
        match (self.direction, self.min, self.max) {
            (Direction::Higher, None, Some(_)) => {
                return Err(
                    "direction = \"higher\" (higher is better) with only `max`: a limit on the good side never breaches; set `min`"
                        .into(),
                );
            }
            (Direction::Lower, Some(_), None) => {
                return Err(
                    "direction = \"lower\" (lower is better) with only `min`: a limit on the good side never breaches; set `max`"
                        .into(),
                );
            }
            _ => {}
        }
        if self.min.is_none() && self.max.is_none() && self.max_regression.is_none() {
            return Err("has no limit: set min, max or max_regression".into());
        }
        if let Some(r) = self.max_regression
            && !(r > 0.0 && r < 1.0)
        {
            return Err(format!(
                "max_regression = {r} is a fraction of the baseline and must be between 0 and 1"
            ));
        }
        Ok(())
    }
}

/// One threshold that a metric crossed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breach {
    pub metric: String,
    pub decision: Decision,
    pub reason: String,
}

/// The rule's answer: the decision, its reason, every breach, and what could not be judged.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    pub reason: String,
    pub breaches: Vec<Breach>,
    /// Metrics with no value now: never counted as a breach (and never as healthy either).
    pub unknown: Vec<String>,
}

fn known(v: &Values, k: &str) -> Option<f64> {
    v.get(k).copied().flatten()
}

/// Python's `{x:.1%}`.
fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The reference's `make_rollback_decision`, except that an unknown metric is skipped (the
/// reference reads it as 0, which hides an outage of the metrics themselves), every breach is
/// listed, the regression threshold is applied to the primary metric, and custom metrics count.
pub fn decide(
    now: &Values,
    baseline: &Values,
    t: &Thresholds,
    custom: &BTreeMap<String, CustomMetric>,
) -> Evaluation {
    let mut breaches = Vec::new();
    let hard = |metric: &str, reason: String| Breach {
        metric: metric.into(),
        decision: Decision::RollbackNow,
        reason,
    };
    if let Some(v) = known(now, "revenue_loss_per_minute")
        && v > t.max_revenue_loss_per_minute
    {
        breaches.push(hard(
            "revenue_loss_per_minute",
            format!(
                "Revenue loss ${v:.0}/min exceeds threshold ${:.0}/min",
                t.max_revenue_loss_per_minute
            ),
        ));
    }
    if let Some(v) = known(now, "error_rate")
        && v > t.max_error_rate
    {
        breaches.push(hard(
            "error_rate",
            format!(
                "Error rate {} exceeds threshold {}",
                pct(v),
                pct(t.max_error_rate)
            ),
        ));
    }
    if let Some(v) = known(now, "latency_p99_ms")
        && v > t.max_latency_p99_ms
    {
        breaches.push(hard(
            "latency_p99_ms",
            format!(
                "p99 latency {v:.0}ms exceeds threshold {:.0}ms",
                t.max_latency_p99_ms
            ),
        ));
    }
    let soft = |metric: &str, reason: String| Breach {
        metric: metric.into(),
        decision: Decision::Investigate,
        reason,
    };
    if let Some(v) = known(now, "primary_metric") {
        if v < t.min_primary_metric {
            breaches.push(soft(
                "primary_metric",
                format!(
                    "Primary metric {v:.4} below minimum {}",
                    t.min_primary_metric
                ),
            ));
        } else if let Some(b) = known(baseline, "primary_metric")
            && b > 0.0
            && (b - v) / b > t.max_metric_regression_from_baseline
        {
            breaches.push(soft(
                "primary_metric",
                format!(
                    "Primary metric {v:.4} regressed {} from baseline {b:.4} (threshold: {})",
                    pct((b - v) / b),
                    pct(t.max_metric_regression_from_baseline)
                ),
            ));
        }
    }
    if let (Some(v), Some(b)) = (
        known(now, "prediction_diversity"),
        known(baseline, "prediction_diversity"),
    ) && b > 0.0
    {
        let drop = (b - v) / b;
        if drop > t.max_prediction_diversity_drop {
            breaches.push(soft(
                "prediction_diversity",
                format!(
                    "Prediction diversity dropped {} from baseline (threshold: {})",
                    pct(drop),
                    pct(t.max_prediction_diversity_drop)
                ),
            ));
        }
    }
    for (name, c) in custom {
        let Some(v) = known(now, name) else { continue };
        let decision = match c.severity {
            Severity::Hard => Decision::RollbackNow,
            Severity::Soft => Decision::Investigate,
        };
        if let Some(hi) = c.max
            && v > hi
        {
            breaches.push(Breach {
                metric: name.clone(),
                decision,
                reason: format!("{name} {v} exceeds maximum {hi}"),
            });
            continue;
        }
        if let Some(lo) = c.min
            && v < lo
        {
            breaches.push(Breach {
                metric: name.clone(),
                decision,
                reason: format!("{name} {v} below minimum {lo}"),
            });
            continue;
        }
        if let (Some(r), Some(b)) = (c.max_regression, known(baseline, name))
            && b != 0.0
        {
            let worse = match c.direction {
                Direction::Higher => (b - v) / b.abs(),
                Direction::Lower => (v - b) / b.abs(),
            };
            if worse > r {
                breaches.push(Breach {
                    metric: name.clone(),
                    decision: Decision::Investigate,
                    reason: format!(
                        "{name} {v} regressed {} from baseline {b} (threshold: {})",
                        pct(worse),
                        pct(r)
                    ),
                });
            }
        }
    }
    // The hard breaches come first, as in the reference: the first of the worst kind decides.
    breaches.sort_by_key(|b| std::cmp::Reverse(b.decision));
    let unknown: Vec<String> = now
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let (decision, reason) = match breaches.first() {
        Some(b) => (b.decision, b.reason.clone()),
        None if unknown.is_empty() => (
            Decision::Monitor,
            "All metrics within acceptable range".to_string(),
        ),
        None => (
            Decision::Monitor,
            format!(
                "All known metrics within acceptable range; unknown (no data): {}",
                unknown.join(", ")
            ),
        ),
    };
    Evaluation {
        decision,
        reason,
        breaches,
        unknown,
    }
}

/// Whether a metric is better when higher (quality) or lower (errors, latency, loss).
pub fn direction(name: &str, custom: &BTreeMap<String, CustomMetric>) -> Direction {
    match name {
        "primary_metric" | "prediction_diversity" => Direction::Higher,
        "revenue_loss_per_minute" | "error_rate" | "latency_p99_ms" => Direction::Lower,
        other => custom
            .get(other)
            .map(|c| c.direction)
            .unwrap_or(Direction::Lower),
    }
}

/// Verification: is every metric back within `tolerance` of its baseline (on the bad side
/// only: better than baseline is fine) and no hard threshold breached? `Err` says what is not.
pub fn recovered(
    now: &Values,
    baseline: &Values,
    t: &Thresholds,
    custom: &BTreeMap<String, CustomMetric>,
    tolerance: f64,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let eval = decide(now, baseline, t, custom);
    for b in eval
        .breaches
        .iter()
        .filter(|b| b.decision == Decision::RollbackNow)
    {
        problems.push(b.reason.clone());
    }
    for (name, v) in now {
        let Some(v) = v else {
            problems.push(format!("{name} unknown (no data)"));
            continue;
        };
        let Some(b) = known(baseline, name) else {
            continue;
        };
        let limit = match direction(name, custom) {
            Direction::Higher => b - tolerance * b.abs(),
            Direction::Lower => b + tolerance * b.abs(),
        };
        let bad = match direction(name, custom) {
            Direction::Higher => *v < limit,
            Direction::Lower => *v > limit,
        };
        if bad {
            problems.push(format!(
                "{name} {} not within {} of baseline {}",
                fmt_value(name, *v),
                pct(tolerance),
                fmt_value(name, b)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// A value as people read it: rates as percentages, latency in ms, money in dollars.
pub fn fmt_value(name: &str, v: f64) -> String {
    match name {
        "error_rate" => pct(v),
        "latency_p99_ms" => format!("{v:.0}ms"),
        "revenue_loss_per_minute" => format!("${v:.0}/min"),
        _ => {
            let s = format!("{v:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s.is_empty() || s == "-" {
                "0".into()
            } else {
                s.to_string()
            }
        }
    }
}

/// Which side of a limit breaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A value above `value` breaches.
    Above,
    /// A value below `value` breaches.
    Below,
}

/// One threshold of the rule as a plain comparison on one metric, for renderings of the rule
/// outside mlrb (alerting rules, an analysis template): `metric` `side` `value` is a breach
/// that means `decision`. `key` names the setting the limit comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    pub metric: String,
    pub key: String,
    pub side: Side,
    pub value: f64,
    pub decision: Decision,
    /// Where a baseline entered the limit ("20% below the baseline 0.73"); empty otherwise.
    pub from_baseline: String,
}

/// The rule of `decide` as limits: every comparison `decide` makes on the metrics `present`,
/// with the baseline folded in. A baseline-relative limit without a baseline is left out, as
/// `decide` leaves it out. (The unit tests hold `decide` and these limits to the same answers.)
pub fn limits(
    present: &[String],
    baseline: &Values,
    t: &Thresholds,
    custom: &BTreeMap<String, CustomMetric>,
) -> Vec<Limit> {
    let has = |m: &str| present.iter().any(|p| p == m);
    let mut out = Vec::new();
    let mut push = |metric: &str, key: &str, side, value, decision, from_baseline: String| {
        out.push(Limit {
            metric: metric.into(),
            key: key.into(),
            side,
            value,
            decision,
            from_baseline,
        })
    };
    let hard = Decision::RollbackNow;
    let soft = Decision::Investigate;
    for (metric, key, v) in [
        (
            "revenue_loss_per_minute",
            "max_revenue_loss_per_minute",
            t.max_revenue_loss_per_minute,
        ),
        ("error_rate", "max_error_rate", t.max_error_rate),
        ("latency_p99_ms", "max_latency_p99_ms", t.max_latency_p99_ms),
    ] {
        if has(metric) {
            push(metric, key, Side::Above, v, hard, String::new());
        }
    }
    let below_baseline = |b: f64, r: f64| b - r * b;
    if has("primary_metric") {
        push(
            "primary_metric",
            "min_primary_metric",
            Side::Below,
            t.min_primary_metric,
            soft,
            String::new(),
        );
        if let Some(b) = known(baseline, "primary_metric")
            && b > 0.0
        {
            let r = t.max_metric_regression_from_baseline;
            push(
                "primary_metric",
                "max_metric_regression_from_baseline",
                Side::Below,
                below_baseline(b, r),
                soft,
                format!(
                    "{} below the baseline {}",
                    pct(r),
                    fmt_value("primary_metric", b)
                ),
            );
        }
    }
    if has("prediction_diversity")
        && let Some(b) = known(baseline, "prediction_diversity")
        && b > 0.0
    {
        let r = t.max_prediction_diversity_drop;
        push(
            "prediction_diversity",
            "max_prediction_diversity_drop",
            Side::Below,
            below_baseline(b, r),
            soft,
            format!(
                "{} below the baseline {}",
                pct(r),
                fmt_value("prediction_diversity", b)
            ),
        );
    }
    for (name, c) in custom {
        if !has(name) {
            continue;
        }
        let decision = match c.severity {
            Severity::Hard => hard,
            Severity::Soft => soft,
        };
        if let Some(hi) = c.max {
            push(name, "max", Side::Above, hi, decision, String::new());
        }
        if let Some(lo) = c.min {
            push(name, "min", Side::Below, lo, decision, String::new());
        }
        if let (Some(r), Some(b)) = (c.max_regression, known(baseline, name))
            && b != 0.0
        {
            let (side, v, dir) = match c.direction {
                Direction::Higher => (Side::Below, b - r * b.abs(), "below"),
                Direction::Lower => (Side::Above, b + r * b.abs(), "above"),
            };
            push(
                name,
                "max_regression",
                side,
                v,
                soft,
                format!("{} {dir} the baseline {}", pct(r), fmt_value(name, b)),
            );
        }
    }
    out
}

/// The decision the limits give for `now`: the worst breached, MONITOR when none is.
pub fn decide_by_limits(now: &Values, limits: &[Limit]) -> Decision {
    limits
        .iter()
        .filter(|l| {
            known(now, &l.metric).is_some_and(|v| match l.side {
                Side::Above => v > l.value,
                Side::Below => v < l.value,
            })
        })
        .map(|l| l.decision)
        .max()
        .unwrap_or(Decision::Monitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(kv: &[(&str, f64)]) -> Values {
        kv.iter().map(|(k, v)| (k.to_string(), Some(*v))).collect()
    }

    fn d(now: &Values, base: &Values) -> Evaluation {
        decide(now, base, &Thresholds::default(), &BTreeMap::new())
    }

    #[test]
    fn defaults_are_the_references() {
        let t = Thresholds::default();
        assert_eq!(t.max_revenue_loss_per_minute, 3000.0);
        assert_eq!(t.max_error_rate, 0.05);
        assert_eq!(t.max_latency_p99_ms, 2000.0);
        assert_eq!(t.min_primary_metric, 0.80);
        assert_eq!(t.max_prediction_diversity_drop, 0.20);
        assert_eq!(t.max_metric_regression_from_baseline, 0.03);
    }

    #[test]
    fn hard_breaches_roll_back_with_the_reference_reasons() {
        let e = d(&vals(&[("error_rate", 0.08)]), &Values::new());
        assert_eq!(e.decision, Decision::RollbackNow);
        assert_eq!(e.reason, "Error rate 8.0% exceeds threshold 5.0%");
        let e = d(
            &vals(&[("revenue_loss_per_minute", 4200.0)]),
            &Values::new(),
        );
        assert_eq!(
            e.reason,
            "Revenue loss $4200/min exceeds threshold $3000/min"
        );
        let e = d(&vals(&[("latency_p99_ms", 2500.0)]), &Values::new());
        assert_eq!(e.reason, "p99 latency 2500ms exceeds threshold 2000ms");
        // A hard breach wins over a soft one, whatever the order of the keys.
        let e = d(
            &vals(&[("primary_metric", 0.5), ("latency_p99_ms", 2500.0)]),
            &Values::new(),
        );
        assert_eq!(e.decision, Decision::RollbackNow);
        assert_eq!(e.breaches.len(), 2);
    }

    #[test]
    fn soft_breaches_investigate() {
        let e = d(&vals(&[("primary_metric", 0.75)]), &Values::new());
        assert_eq!(e.decision, Decision::Investigate);
        assert_eq!(e.reason, "Primary metric 0.7500 below minimum 0.8");
        let e = d(
            &vals(&[("prediction_diversity", 0.04)]),
            &vals(&[("prediction_diversity", 0.73)]),
        );
        assert_eq!(e.decision, Decision::Investigate);
        assert_eq!(
            e.reason,
            "Prediction diversity dropped 94.5% from baseline (threshold: 20.0%)"
        );
        let e = d(
            &vals(&[("primary_metric", 0.81)]),
            &vals(&[("primary_metric", 0.847)]),
        );
        assert_eq!(e.decision, Decision::Investigate);
        assert!(
            e.reason.contains("regressed 4.4% from baseline"),
            "{}",
            e.reason
        );
    }

    #[test]
    fn healthy_and_unknown_metrics_monitor() {
        let e = d(
            &vals(&[("error_rate", 0.01), ("prediction_diversity", 0.7)]),
            &vals(&[("prediction_diversity", 0.73)]),
        );
        assert_eq!(e.decision, Decision::Monitor);
        assert_eq!(e.reason, "All metrics within acceptable range");
        let mut now = Values::new();
        now.insert("error_rate".into(), None);
        let e = d(&now, &Values::new());
        assert_eq!(e.decision, Decision::Monitor);
        assert_eq!(e.unknown, vec!["error_rate".to_string()]);
        assert!(e.reason.contains("unknown (no data): error_rate"));
    }

    #[test]
    fn custom_metrics_follow_direction_and_severity() {
        let mut custom = BTreeMap::new();
        custom.insert(
            "ctr".to_string(),
            CustomMetric {
                query: "x".into(),
                direction: Direction::Higher,
                min: Some(0.02),
                max: None,
                severity: Severity::Hard,
                max_regression: Some(0.1),
            },
        );
        let t = Thresholds::default();
        let e = decide(&vals(&[("ctr", 0.01)]), &Values::new(), &t, &custom);
        assert_eq!(e.decision, Decision::RollbackNow);
        assert_eq!(e.reason, "ctr 0.01 below minimum 0.02");
        let e = decide(
            &vals(&[("ctr", 0.03)]),
            &vals(&[("ctr", 0.05)]),
            &t,
            &custom,
        );
        assert_eq!(e.decision, Decision::Investigate);
        let e = decide(
            &vals(&[("ctr", 0.05)]),
            &vals(&[("ctr", 0.05)]),
            &t,
            &custom,
        );
        assert_eq!(e.decision, Decision::Monitor);
    }

    #[test]
    fn contradicting_limits_are_rejected() {
        let c = CustomMetric {
            query: "x".into(),
            direction: Direction::Lower,
            min: Some(5.0),
            max: Some(1.0),
            severity: Severity::Soft,
            max_regression: None,
        };
        assert!(c.check().unwrap_err().contains("min = 5 is above max = 1"));
        let t = Thresholds {
            max_error_rate: 5.0,
            ..Thresholds::default()
        };
        assert!(t.check().is_err());
    }

    #[test]
    fn recovery_is_judged_on_the_bad_side_only() {
        let base = vals(&[("error_rate", 0.01), ("prediction_diversity", 0.73)]);
        let t = Thresholds::default();
        let none = BTreeMap::new();
        assert!(
            recovered(
                &vals(&[("error_rate", 0.005), ("prediction_diversity", 0.75)]),
                &base,
                &t,
                &none,
                0.1
            )
            .is_ok()
        );
        let err = recovered(
            &vals(&[("error_rate", 0.01), ("prediction_diversity", 0.5)]),
            &base,
            &t,
            &none,
            0.1,
        )
        .unwrap_err();
        assert!(
            err.contains("prediction_diversity 0.5 not within 10.0% of baseline 0.73"),
            "{err}"
        );
        let mut unknown = vals(&[("error_rate", 0.01)]);
        unknown.insert("prediction_diversity".into(), None);
        assert!(recovered(&unknown, &base, &t, &none, 0.1).is_err());
    }

    #[test]
    fn limits_give_the_decisions_decide_gives() {
        let mut custom = BTreeMap::new();
        for (name, direction, min, max, severity, reg) in [
            (
                "ctr",
                Direction::Higher,
                Some(0.02),
                None,
                Severity::Hard,
                Some(0.1),
            ),
            (
                "cost",
                Direction::Lower,
                None,
                Some(9.0),
                Severity::Soft,
                Some(0.25),
            ),
            (
                "drift",
                Direction::Lower,
                None,
                None,
                Severity::Soft,
                Some(0.5),
            ),
        ] {
            custom.insert(
                name.to_string(),
                CustomMetric {
                    query: "x".into(),
                    direction,
                    min,
                    max,
                    severity,
                    max_regression: reg,
                },
            );
        }
        let t = Thresholds::default();
        let names: Vec<String> = STANDARD
            .iter()
            .map(|s| s.to_string())
            .chain(custom.keys().cloned())
            .collect();
        let base = vals(&[
            ("primary_metric", 0.847),
            ("prediction_diversity", 0.73),
            ("ctr", 0.05),
            ("cost", 4.0),
            ("drift", -2.0),
        ]);
        for baseline in [base, Values::new()] {
            let ls = limits(&names, &baseline, &t, &custom);
            // Each limit, and a step either side of it, for every metric alone and all together.
            let mut probes: Vec<f64> = vec![0.0, 1e9, -1e9];
            for l in &ls {
                for f in [0.999, 1.001, 0.9, 1.1] {
                    probes.push(l.value * f);
                }
            }
            for name in &names {
                for p in &probes {
                    let now = vals(&[(name.as_str(), *p)]);
                    assert_eq!(
                        decide(&now, &baseline, &t, &custom).decision,
                        decide_by_limits(&now, &ls),
                        "{name} = {p}"
                    );
                }
            }
        }
    }
}
