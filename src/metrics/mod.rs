//! A model's serving metrics: reading them now, the baseline they are judged against, when a
//! breach began (detection) and whether a rollback recovered them (verification).

pub mod decision;
pub mod fleet;
pub mod prometheus;
pub mod revenue;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{BaselineSource, ModelConfig};
use crate::error::CliError;
use crate::registry::{ModelVersion, Registry};
use decision::{Decision, Evaluation, Values};
use prometheus::{PromError, Prometheus, Reading};

/// Everything a command needs to judge one model's metrics.
pub struct ModelMetrics {
    pub cfg: ModelConfig,
    pub prom: Prometheus,
}

/// The baseline values and where they came from, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub values: BTreeMap<String, f64>,
    pub source: String,
}

impl Baseline {
    pub fn as_values(&self) -> Values {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), Some(*v)))
            .collect()
    }
}

/// Metric values now, with why each unknown one is unknown.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub values: Values,
    pub notes: BTreeMap<String, String>,
}

impl ModelMetrics {
    /// `None` when the model has no `[models.X.metrics]`.
    pub fn for_model(cfg: Option<&ModelConfig>) -> Result<Option<ModelMetrics>, CliError> {
        let Some(cfg) = cfg else { return Ok(None) };
        let Some(mc) = &cfg.metrics else {
            return Ok(None);
        };
        let prom = Prometheus::new(
            &mc.prometheus_url,
            mc.auth_header_env.as_deref(),
            mc.timeout,
        )?;
        Ok(Some(ModelMetrics {
            cfg: cfg.clone(),
            prom,
        }))
    }

    /// (metric, PromQL) of every configured metric, `{model}` already replaced.
    pub fn query_list(&self) -> Vec<(String, String)> {
        self.queries()
    }

    /// (metric, template) of the metrics whose query was written with `{model}`.
    pub fn templates(&self) -> Vec<(String, String)> {
        self.cfg
            .metrics
            .as_ref()
            .map(|m| m.templates.clone().into_iter().collect())
            .unwrap_or_default()
    }

    fn queries(&self) -> Vec<(String, String)> {
        self.cfg
            .metrics
            .as_ref()
            .map(|m| m.queries())
            .unwrap_or_default()
    }

    pub fn custom(&self) -> &BTreeMap<String, decision::CustomMetric> {
        static EMPTY: std::sync::OnceLock<BTreeMap<String, decision::CustomMetric>> =
            std::sync::OnceLock::new();
        self.cfg
            .metrics
            .as_ref()
            .map(|m| &m.custom)
            .unwrap_or_else(|| EMPTY.get_or_init(BTreeMap::new))
    }

    /// Every configured metric at `at` (now when `None`). A query error fails the whole read:
    /// a half-read set of metrics must not look healthy.
    pub fn read(&self, at: Option<DateTime<Utc>>) -> Result<Snapshot, PromError> {
        let mut snap = Snapshot::default();
        for (name, q) in self.queries() {
            match self.prom.query(&name, &q, at)? {
                Reading::Value(v) => {
                    snap.values.insert(name, Some(v));
                }
                Reading::Unknown(why) => {
                    snap.values.insert(name.clone(), None);
                    snap.notes.insert(name, why);
                }
            }
        }
        Ok(snap)
    }

    pub fn decide(&self, now: &Values, baseline: &Baseline) -> Evaluation {
        decision::decide(
            now,
            &baseline.as_values(),
            &self.cfg.thresholds,
            self.custom(),
        )
    }

    /// The baseline when `[models.X.baseline]` gives it itself (source = "config"): nothing to
    /// read. `None` for the sources that read the registry or Prometheus.
    pub fn config_baseline(&self) -> Option<Baseline> {
        let b = &self.cfg.baseline;
        (b.source.unwrap_or_default() == BaselineSource::Config).then(|| Baseline {
            values: b.values.clone(),
            source: "config".to_string(),
        })
    }

    /// The baseline per `[models.X.baseline]`: config values; the rollback target's MLflow run
    /// metrics; or the same queries evaluated before the live version went live.
    pub fn baseline(
        &self,
        reg: &dyn Registry,
        target: Option<&ModelVersion>,
        live: Option<&ModelVersion>,
    ) -> anyhow::Result<Baseline> {
        if let Some(c) = self.config_baseline() {
            return Ok(c);
        }
        let b = &self.cfg.baseline;
        let mut values = b.values.clone();
        let source = match b.source.unwrap_or_default() {
            BaselineSource::Config => "config".to_string(),
            BaselineSource::Run => {
                let Some(t) = target else {
                    return Err(CliError::usage(
                        "baseline source = \"run\" needs a rollback target, and there is none",
                    )
                    .into());
                };
                let Some(run) = &t.run_id else {
                    return Err(CliError::usage(format!(
                        "baseline source = \"run\": the rollback target v{} has no MLflow run",
                        t.version
                    ))
                    .with_hint("register versions from a run, or set baseline values in [models.X.baseline]")
                    .into());
                };
                let run_metrics = reg.run_metrics(run).map_err(CliError::from)?;
                for (k, v) in run_metrics {
                    values.insert(k, v);
                }
                format!("run {run} of v{}", t.version)
            }
            BaselineSource::Offset => {
                let at = match (b.offset, live.and_then(|l| l.updated_at.or(l.created_at))) {
                    (Some(off), _) => {
                        crate::clock::now() - chrono::Duration::from_std(off).unwrap_or_default()
                    }
                    (None, Some(deployed)) => deployed - chrono::Duration::minutes(1),
                    (None, None) => {
                        return Err(CliError::usage(
                            "baseline source = \"offset\" without `offset`, and the live version has no deploy time",
                        )
                        .with_hint("set [models.X.baseline] offset = \"1h\"")
                        .into());
                    }
                };
                let snap = self.read(Some(at)).map_err(CliError::from)?;
                for (k, v) in snap.values {
                    if let Some(v) = v {
                        values.insert(k, v);
                    }
                }
                format!(
                    "offset: the same queries at {}{}",
                    crate::clock::fmt(at),
                    b.offset
                        .map(|o| format!(" ({} ago)", humantime::format_duration(o)))
                        .unwrap_or_else(|| " (before the live version went live)".into())
                )
            }
        };
        Ok(Baseline { values, source })
    }

    /// When the breach that holds now began: the first sample of the latest run of samples in
    /// `lookback` where the hard or soft condition held. `None` when history shows no breach.
    pub fn breach_start(
        &self,
        baseline: &Baseline,
        lookback: Duration,
    ) -> Result<Option<(DateTime<Utc>, String)>, PromError> {
        let end = crate::clock::now();
        let start = end - chrono::Duration::from_std(lookback).unwrap_or_default();
        // Prometheus caps a range at 11 000 points; 1 s is the finest step worth asking for.
        let step = Duration::from_secs_f64((lookback.as_secs_f64() / 1000.0).max(1.0));
        let at = self.samples(start, end, step)?;
        let found = match self.last_run_start(&at, baseline) {
            Some(run) => Some(run),
            // Recovered by now: the first breaching sample in the window, if any.
            None => at.iter().find_map(|(t, vals)| {
                let e = self.decide(vals, baseline);
                (e.decision != Decision::Monitor).then_some((*t, e.reason))
            }),
        };
        let Some((t, why)) = found else {
            return Ok(None);
        };
        if step <= Duration::from_secs(1) {
            return Ok(Some((t, why)));
        }
        // A coarse step can place the start up to one step late: look again between the sample
        // before it and it, every second.
        let from = t - chrono::Duration::from_std(step).unwrap_or_default();
        let fine = self.samples(from, t, Duration::from_secs(1))?;
        Ok(Some(
            self.last_run_start(&fine, baseline).unwrap_or((t, why)),
        ))
    }

    /// Every configured metric's samples from `start` to `end`, by time.
    fn samples(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<BTreeMap<DateTime<Utc>, Values>, PromError> {
        let mut at: BTreeMap<DateTime<Utc>, Values> = BTreeMap::new();
        for (name, q) in self.queries() {
            for (t, r) in self.prom.query_range(&name, &q, start, end, step)? {
                at.entry(t).or_default().insert(name.clone(), r.value());
            }
        }
        Ok(at)
    }

    /// Where the breach still going on at the last sample began: the first sample of the final
    /// unbroken run of non-healthy decisions. `None` when the last sample is healthy.
    fn last_run_start(
        &self,
        at: &BTreeMap<DateTime<Utc>, Values>,
        baseline: &Baseline,
    ) -> Option<(DateTime<Utc>, String)> {
        let mut run_start: Option<(DateTime<Utc>, String)> = None;
        for (t, vals) in at {
            let e = self.decide(vals, baseline);
            if e.decision == Decision::Monitor {
                run_start = None;
            } else if run_start.is_none() {
                run_start = Some((*t, e.reason));
            }
        }
        run_start
    }
}

/// Live values on one line: "error_rate 8.0%, prediction_diversity 0.04, latency_p99_ms unknown (NaN)".
pub fn fmt_snapshot(s: &Snapshot) -> String {
    s.values
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k} {}", decision::fmt_value(k, *v)),
            None => format!(
                "{k} unknown ({})",
                s.notes.get(k).map(String::as_str).unwrap_or("no data")
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The moments an incident chart marks, from the event's records: the breach start (found in
/// history, else `--detected-at`), the confirmation, the registry flip and the recovery.
pub fn incident_markers(records: &[&crate::journal::Record]) -> Vec<crate::chart::Marker> {
    use crate::chart::Marker;
    use crate::journal::Entry;
    let mut breach = None;
    let mut history = None;
    let mut out = Vec::new();
    for r in records {
        match &r.entry {
            Entry::Started { detected_at, .. } => breach = breach.or(*detected_at),
            Entry::Detected { began_at, .. } => history = Some(*began_at),
            Entry::Confirmed { .. } => out.push(Marker {
                at: r.at,
                label: "confirmed",
            }),
            Entry::Executed => out.push(Marker {
                at: r.at,
                label: "registry flipped",
            }),
            Entry::MetricsVerified { ok: true, .. } => out.push(Marker {
                at: r.at,
                label: "recovered",
            }),
            _ => {}
        }
    }
    if let Some(at) = history.or(breach) {
        out.insert(
            0,
            Marker {
                at,
                label: "breach start",
            },
        );
    }
    out.sort_by_key(|m| m.at);
    out
}

/// Each breached metric of the event's model over the incident window (a quarter of it again
/// on each side, a minute at least), for the report's charts. A metric is breached when the
/// breach's reason names it; when no reason names one, every configured metric is drawn. Empty
/// when the model has no metrics or Prometheus has no samples; a Prometheus that cannot be
/// read is the error, in one line.
pub fn incident_charts(
    settings: &crate::config::Settings,
    records: &[&crate::journal::Record],
) -> Result<Vec<crate::chart::MetricChart>, String> {
    use crate::journal::Entry;
    let Some((model, started)) = records.iter().find_map(|r| match &r.entry {
        Entry::Started {
            model, started_at, ..
        } => Some((model.as_str(), *started_at)),
        _ => None,
    }) else {
        return Ok(Vec::new());
    };
    let Ok(Some(mm)) = ModelMetrics::for_model(settings.models.get(model)) else {
        return Ok(Vec::new());
    };
    let markers = incident_markers(records);
    let finished = records.iter().rev().find_map(|r| match r.entry {
        Entry::Finished { .. } => Some(r.at),
        _ => None,
    });
    let from = markers.first().map_or(started, |m| m.at.min(started));
    let to = markers
        .iter()
        .map(|m| m.at)
        .chain(finished)
        .max()
        .unwrap_or(started)
        .max(started);
    let pad = ((to - from) / 4).max(chrono::Duration::minutes(1));
    let (from, to) = (from - pad, (to + pad).min(crate::clock::now().max(to)));
    let step = Duration::from_secs(revenue::step_seconds((to - from).num_seconds() as f64));
    let reasons: String = records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Detected { reason, .. } => Some(reason.to_lowercase()),
            Entry::Started { reason, .. } => Some(reason.to_lowercase()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ");
    let queries = mm.queries();
    let named: Vec<&(String, String)> = queries
        .iter()
        .filter(|(name, _)| {
            let n = name.to_lowercase();
            reasons.contains(&n) || reasons.contains(&n.replace('_', " "))
        })
        .collect();
    let drawn: Vec<&(String, String)> = if named.is_empty() {
        queries.iter().collect()
    } else {
        named
    };
    let mut charts = Vec::new();
    for (name, q) in drawn {
        let samples = mm.prom.query_range(name, q, from, to, step).map_err(|e| {
            format!(
                "{name} could not be read from Prometheus: {}",
                crate::error::CliError::from(e).message
            )
        })?;
        let points: Vec<(DateTime<Utc>, f64)> = samples
            .into_iter()
            .filter_map(|(t, r)| r.value().map(|v| (t, v)))
            .collect();
        if !points.is_empty() {
            charts.push(crate::chart::MetricChart {
                metric: name.clone(),
                points,
                markers: markers.clone(),
            });
        }
    }
    Ok(charts)
}
