//! The Prometheus HTTP API client: instant queries and `query_range`, over the one HTTP client.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::http::{Http, HttpOptions, describe_body, error_detail, one_line};

/// What can go wrong asking Prometheus; every message names the query or the server.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PromError {
    #[error("cannot reach Prometheus at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("Prometheus at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("Prometheus at {url} refused the credentials ({status}){from}")]
    Auth {
        url: String,
        status: u16,
        from: String,
    },
    #[error("Prometheus rejected the query for {metric} `{query}`: {error_type}: {message}")]
    BadQuery {
        metric: String,
        query: String,
        error_type: String,
        message: String,
    },
    #[error("Prometheus at {url} answered {status} with {kind} instead of JSON: {snippet}")]
    NotJson {
        url: String,
        status: u16,
        kind: String,
        snippet: String,
    },
    /// An answer past `[http] max_body`.
    #[error("Prometheus at {url}: {detail}")]
    Limit { url: String, detail: String },
    #[error("Prometheus at {url} answered {status}: {message}")]
    Server {
        url: String,
        status: u16,
        message: String,
    },
    #[error(
        "the query for {metric} `{query}` returned {count} series where one was expected; they differ in {labels}"
    )]
    SeveralSeries {
        metric: String,
        query: String,
        count: usize,
        labels: String,
    },
}

impl PromError {
    /// Errors a config change fixes (exit 2), as opposed to an outage (exit 1).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            PromError::BadQuery { .. } | PromError::SeveralSeries { .. }
        )
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            PromError::BadQuery { metric, .. } => Some(format!(
                "fix the PromQL of `{metric}` in [models.*.metrics] of mlrb.toml (try it in the Prometheus UI first)"
            )),
            PromError::SeveralSeries { .. } => Some(
                "aggregate the query to one series, e.g. sum(…) or max(…), or select one with a label matcher".into(),
            ),
            PromError::Unreachable { .. } | PromError::Timeout { .. } => Some(
                "check [models.*.metrics].prometheus_url and that Prometheus is up; nothing was changed".into(),
            ),
            PromError::Auth { .. } => Some(
                "check the header value in the variable named by [models.*.metrics].auth_header_env".into(),
            ),
            _ => None,
        }
    }
}

impl From<PromError> for crate::error::CliError {
    fn from(e: PromError) -> Self {
        let status = if e.is_config() {
            crate::error::ExitStatus::Usage
        } else {
            crate::error::ExitStatus::Failure
        };
        let hint = e.hint();
        crate::error::CliError {
            status,
            message: e.to_string(),
            hint,
        }
    }
}

/// One reading: a number, or unknown with why ("no data", "NaN", "+Inf").
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Value(f64),
    Unknown(String),
}

impl Reading {
    pub fn value(&self) -> Option<f64> {
        match self {
            Reading::Value(v) => Some(*v),
            Reading::Unknown(_) => None,
        }
    }
}

/// Prometheus sample strings: "NaN" and "±Inf" are not measurements mlrb can compare, so they
/// are unknown (with the reason shown) rather than numbers that could trigger a rollback.
pub fn parse_sample(s: &str) -> Reading {
    match s {
        "NaN" => Reading::Unknown("NaN".into()),
        "+Inf" | "Inf" | "-Inf" => Reading::Unknown(s.into()),
        other => match other.parse::<f64>() {
            Ok(v) if v.is_finite() => Reading::Value(v),
            _ => Reading::Unknown(format!("unreadable sample `{}`", one_line(other, 40))),
        },
    }
}

/// One series of a range query: its labels and its (time, reading) samples in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(DateTime<Utc>, Reading)>,
}

fn samples(values: Vec<(f64, String)>) -> Vec<(DateTime<Utc>, Reading)> {
    values
        .into_iter()
        .filter_map(|(t, v)| {
            let at = DateTime::from_timestamp_millis((t * 1000.0).round() as i64)?;
            Some((at, parse_sample(&v)))
        })
        .collect()
}

/// One series of an instant query: its labels and its sample as Prometheus wrote it.
#[derive(Debug, Clone)]
pub struct InstantSeries {
    pub labels: BTreeMap<String, String>,
    pub sample: Option<String>,
}

pub struct Prometheus {
    http: Http,
    base: String,
    auth: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// A client for `url`; `auth_env` names the variable holding the Authorization header value.
    pub fn new(
        url: &str,
        auth_env: Option<&str>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Prometheus, crate::error::CliError> {
        let mut opts = HttpOptions::default();
        if let Some(t) = timeout {
            opts.timeout = t;
        }
        // One retry at most: a controller polls again on the next tick anyway.
        opts.attempts = 2;
        let http = Http::new(&opts).map_err(crate::error::CliError::usage)?;
        let auth = match auth_env {
            None => None,
            Some(var) => {
                let v = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
                match v {
                    Some(v) => Some((var.to_string(), v)),
                    None => {
                        return Err(crate::error::CliError::usage(format!(
                            "[metrics] auth_header_env = \"{var}\" but ${var} is not set"
                        ))
                        .with_hint(format!(
                            "export {var}='Bearer …' (the whole Authorization header value)"
                        )));
                    }
                }
            }
        };
        Ok(Prometheus {
            http,
            base: url.trim_end_matches('/').to_string(),
            auth,
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// The variable the Authorization header comes from, if any.
    pub fn auth_var(&self) -> Option<&str> {
        self.auth.as_ref().map(|(var, _)| var.as_str())
    }

    fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
        metric: &str,
        query: &str,
    ) -> Result<Data, PromError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .send(
                |c| {
                    let rb = c.get(&url).query(params);
                    match &self.auth {
                        Some((_, v)) => rb.header(reqwest::header::AUTHORIZATION, v),
                        None => rb,
                    }
                },
                true,
            )
            .map_err(|e| {
                if e.is_timeout() {
                    PromError::Timeout {
                        url: self.base.clone(),
                        secs: self.http.timeout.as_secs(),
                    }
                } else {
                    PromError::Unreachable {
                        url: self.base.clone(),
                        detail: error_detail(&e),
                    }
                }
            })?;
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = self.http.read_text(resp).map_err(|e| match e {
            crate::http::BodyError::TooLarge(t) => PromError::Limit {
                url: self.base.clone(),
                detail: t.to_string(),
            },
            e => PromError::Unreachable {
                url: self.base.clone(),
                detail: e.to_string(),
            },
        })?;
        if status == 401 || status == 403 {
            return Err(PromError::Auth {
                url: self.base.clone(),
                status,
                from: match &self.auth {
                    Some((var, _)) => format!(", header from ${var}"),
                    None => ", no auth_header_env configured".into(),
                },
            });
        }
        let env: Envelope = match serde_json::from_str(&body) {
            Ok(e) => e,
            Err(_) => {
                let (kind, snippet) = describe_body(&ct, &body);
                return Err(PromError::NotJson {
                    url: self.base.clone(),
                    status,
                    kind,
                    snippet,
                });
            }
        };
        if env.status != "success" {
            let error_type = env.error_type.unwrap_or_else(|| "error".into());
            let message = one_line(env.error.as_deref().unwrap_or("no message"), 300);
            // bad_data is Prometheus saying the query itself is wrong: pass its words on.
            if error_type == "bad_data" || status == 400 || status == 422 {
                return Err(PromError::BadQuery {
                    metric: metric.into(),
                    query: query.into(),
                    error_type,
                    message,
                });
            }
            return Err(PromError::Server {
                url: self.base.clone(),
                status,
                message: format!("{error_type}: {message}"),
            });
        }
        env.data.ok_or_else(|| PromError::Server {
            url: self.base.clone(),
            status,
            message: "success without data".into(),
        })
    }

    /// The value of `query` at `at` (now when `None`), which must be at most one series.
    pub fn query(
        &self,
        metric: &str,
        query: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Reading, PromError> {
        let mut params = vec![("query", query.to_string())];
        if let Some(t) = at {
            params.push((
                "time",
                format!("{:.3}", t.timestamp_millis() as f64 / 1000.0),
            ));
        }
        let data = self.get("/api/v1/query", &params, metric, query)?;
        match data.result_type.as_str() {
            "scalar" => {
                let (_, s): (f64, String) = serde_json::from_value(data.result)
                    .map_err(|e| self.shape(format!("scalar result: {e}")))?;
                Ok(parse_sample(&s))
            }
            "vector" => {
                let series: Vec<Series> = serde_json::from_value(data.result)
                    .map_err(|e| self.shape(format!("vector result: {e}")))?;
                let one = self.single(metric, query, series)?;
                Ok(match one.and_then(|s| s.value) {
                    Some((_, v)) => parse_sample(&v),
                    None => Reading::Unknown("no data".into()),
                })
            }
            other => Err(self.shape(format!(
                "result type {other} (an instant query needs a vector or scalar)"
            ))),
        }
    }

    /// Every series `query` answers now, for one query that covers several models; `None` when
    /// the answer is not a vector (it cannot be split by label).
    pub fn query_all(
        &self,
        metric: &str,
        query: &str,
    ) -> Result<Option<Vec<InstantSeries>>, PromError> {
        let data = self.get(
            "/api/v1/query",
            &[("query", query.to_string())],
            metric,
            query,
        )?;
        if data.result_type != "vector" {
            return Ok(None);
        }
        let series: Vec<Series> = serde_json::from_value(data.result)
            .map_err(|e| self.shape(format!("vector result: {e}")))?;
        Ok(Some(
            series
                .into_iter()
                .map(|s| InstantSeries {
                    labels: s.metric,
                    sample: s.value.map(|(_, v)| v),
                })
                .collect(),
        ))
    }

    /// The reading one model's `query` would have given, from its share of a `query_all`
    /// answer: the same one-series rule, the same unknowns.
    pub fn reading_of(
        &self,
        metric: &str,
        query: &str,
        series: Vec<InstantSeries>,
    ) -> Result<Reading, PromError> {
        let series = series
            .into_iter()
            .map(|s| Series {
                metric: s.labels,
                value: s.sample.map(|v| (0.0, v)),
                values: Vec::new(),
            })
            .collect();
        Ok(
            match self.single(metric, query, series)?.and_then(|s| s.value) {
                Some((_, v)) => parse_sample(&v),
                None => Reading::Unknown("no data".into()),
            },
        )
    }

    /// The samples of `query` from `start` to `end` every `step`: (time, reading) in order.
    pub fn query_range(
        &self,
        metric: &str,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: std::time::Duration,
    ) -> Result<Vec<(DateTime<Utc>, Reading)>, PromError> {
        let series = self.range(metric, query, start, end, step)?;
        let Some(one) = self.single(metric, query, series)? else {
            return Ok(Vec::new());
        };
        Ok(samples(one.values))
    }

    /// Every series `query` answers from `start` to `end` every `step`, each with its labels and
    /// its samples in order: for quantities that are summed over series rather than judged one
    /// at a time.
    pub fn query_range_all(
        &self,
        metric: &str,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: std::time::Duration,
    ) -> Result<Vec<RangeSeries>, PromError> {
        Ok(self
            .range(metric, query, start, end, step)?
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.metric,
                samples: samples(s.values),
            })
            .collect())
    }

    fn range(
        &self,
        metric: &str,
        query: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: std::time::Duration,
    ) -> Result<Vec<Series>, PromError> {
        let secs = |t: DateTime<Utc>| format!("{:.3}", t.timestamp_millis() as f64 / 1000.0);
        let params = vec![
            ("query", query.to_string()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", format!("{:.3}", step.as_secs_f64().max(0.001))),
        ];
        let data = self.get("/api/v1/query_range", &params, metric, query)?;
        if data.result_type != "matrix" {
            return Err(self.shape(format!("result type {} for query_range", data.result_type)));
        }
        serde_json::from_value(data.result).map_err(|e| self.shape(format!("matrix result: {e}")))
    }

    fn shape(&self, what: String) -> PromError {
        PromError::Server {
            url: self.base.clone(),
            status: 200,
            message: format!("unexpected {what}"),
        }
    }

    /// At most one series, else an error naming the labels whose values differ.
    fn single(
        &self,
        metric: &str,
        query: &str,
        mut series: Vec<Series>,
    ) -> Result<Option<Series>, PromError> {
        if series.len() <= 1 {
            return Ok(series.pop());
        }
        let keys: BTreeSet<&String> = series.iter().flat_map(|s| s.metric.keys()).collect();
        let mut differ = Vec::new();
        for k in keys {
            let vals: BTreeSet<&str> = series
                .iter()
                .map(|s| s.metric.get(k).map(String::as_str).unwrap_or("(absent)"))
                .collect();
            if vals.len() > 1 {
                let shown: Vec<String> = vals.iter().take(4).map(|v| format!("\"{v}\"")).collect();
                differ.push(format!(
                    "{k} ({}{})",
                    shown.join(", "),
                    if vals.len() > 4 { ", …" } else { "" }
                ));
            }
        }
        Err(PromError::SeveralSeries {
            metric: metric.into(),
            query: query.into(),
            count: series.len(),
            labels: if differ.is_empty() {
                "no label (duplicate series)".into()
            } else {
                differ.join(", ")
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_samples_are_unknown_never_zero() {
        assert_eq!(parse_sample("0.73"), Reading::Value(0.73));
        assert_eq!(parse_sample("NaN"), Reading::Unknown("NaN".into()));
        assert_eq!(parse_sample("+Inf"), Reading::Unknown("+Inf".into()));
        assert!(parse_sample("").value().is_none());
    }
}
