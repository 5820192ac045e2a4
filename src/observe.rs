//! What `mlrb watch --listen` serves: `GET /metrics` (Prometheus text exposition of the
//! controller's counters) and `GET /healthz` (liveness), from a small HTTP server thread.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::error::CliError;

/// One model's counters since the controller started.
#[derive(Debug, Default, Clone)]
struct ModelStats {
    checks_ok: u64,
    checks_failed: u64,
    /// kind ("hard", "soft") → breaches counted.
    breaches: BTreeMap<&'static str, u64>,
    /// outcome → rollbacks started.
    rollbacks: BTreeMap<&'static str, u64>,
    recommendations: u64,
    last_success: Option<f64>,
    blind: bool,
}

/// The controller's counters, shared with the server thread.
#[derive(Debug, Default)]
pub struct Stats {
    models: Mutex<BTreeMap<String, ModelStats>>,
    leader: Mutex<Option<bool>>,
    /// (rounds, Prometheus queries, seconds spent reading in all rounds).
    rounds: Mutex<(u64, u64, f64)>,
}

impl Stats {
    fn with(&self, model: &str, f: impl FnOnce(&mut ModelStats)) {
        let mut m = self.models.lock().unwrap_or_else(|e| e.into_inner());
        f(m.entry(model.to_string()).or_default());
    }

    /// The model is known (shows with zero counts before its first check).
    pub fn register(&self, model: &str) {
        self.with(model, |_| {});
    }

    pub fn checked(&self, model: &str, ok: bool) {
        self.with(model, |s| {
            if ok {
                s.checks_ok += 1;
                s.last_success = Some(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
            } else {
                s.checks_failed += 1;
            }
        });
    }

    pub fn breach(&self, model: &str, kind: &'static str) {
        self.with(model, |s| *s.breaches.entry(kind).or_default() += 1);
    }

    pub fn rollback(&self, model: &str, outcome: &'static str) {
        self.with(model, |s| *s.rollbacks.entry(outcome).or_default() += 1);
    }

    pub fn recommended(&self, model: &str) {
        self.with(model, |s| s.recommendations += 1);
    }

    pub fn blind(&self, model: &str, blind: bool) {
        self.with(model, |s| s.blind = blind);
    }

    /// One round of reads: how many queries it sent and how long it took.
    pub fn round(&self, queries: usize, took: std::time::Duration) {
        let mut r = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        r.0 += 1;
        r.1 += queries as u64;
        r.2 += took.as_secs_f64();
    }

    /// `None`: no leader election (a single controller acts).
    pub fn leader(&self, leading: Option<bool>) {
        *self.leader.lock().unwrap_or_else(|e| e.into_inner()) = leading;
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let models = self
            .models
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let leader = *self.leader.lock().unwrap_or_else(|e| e.into_inner());
        let rounds = *self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let l = |pairs: &[(&str, &str)]| {
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        };
        family(
            "mlrb_watch_checks_total",
            "counter",
            "Checks of a model's metrics, by result (ok: read and judged; error: unreadable).",
            models
                .iter()
                .flat_map(|(m, s)| {
                    [
                        (
                            l(&[("model", m), ("result", "ok")]),
                            s.checks_ok.to_string(),
                        ),
                        (
                            l(&[("model", m), ("result", "error")]),
                            s.checks_failed.to_string(),
                        ),
                    ]
                })
                .collect(),
        );
        family(
            "mlrb_watch_breaches_total",
            "counter",
            "Checks that found a threshold breached, by kind (hard: counts toward a rollback; soft: notifies).",
            models
                .iter()
                .flat_map(|(m, s)| {
                    ["hard", "soft"].map(|k| {
                        (
                            l(&[("model", m), ("kind", k)]),
                            s.breaches.get(k).copied().unwrap_or(0).to_string(),
                        )
                    })
                })
                .collect(),
        );
        family(
            "mlrb_watch_rollbacks_total",
            "counter",
            "Automated rollbacks started, by outcome.",
            models
                .iter()
                .flat_map(|(m, s)| {
                    s.rollbacks
                        .iter()
                        .map(|(o, n)| (l(&[("model", m), ("outcome", o)]), n.to_string()))
                        .collect::<Vec<_>>()
                })
                .collect(),
        );
        family(
            "mlrb_watch_recommendations_total",
            "counter",
            "Rollbacks recommended and not made (--recommend-only).",
            models
                .iter()
                .map(|(m, s)| (l(&[("model", m)]), s.recommendations.to_string()))
                .collect(),
        );
        family(
            "mlrb_watch_last_successful_check_timestamp_seconds",
            "gauge",
            "When the model's metrics were last read and judged (Unix time).",
            models
                .iter()
                .filter_map(|(m, s)| {
                    s.last_success
                        .map(|t| (l(&[("model", m)]), format!("{t:.3}")))
                })
                .collect(),
        );
        family(
            "mlrb_watch_blind",
            "gauge",
            "1 while the model's metrics cannot be read (the controller is blind to it).",
            models
                .iter()
                .map(|(m, s)| (l(&[("model", m)]), u8::from(s.blind).to_string()))
                .collect(),
        );
        family(
            "mlrb_watch_blind_models",
            "gauge",
            "Models whose metrics cannot be read now.",
            vec![(
                String::new(),
                models.values().filter(|s| s.blind).count().to_string(),
            )],
        );
        family(
            "mlrb_watch_round_duration_seconds",
            "summary",
            "Rounds of metric reads (the models due at one moment, read together) and the time they took.",
            vec![
                ("_sum".to_string(), format!("{:.6}", rounds.2)),
                ("_count".to_string(), rounds.0.to_string()),
            ],
        );
        family(
            "mlrb_watch_prometheus_queries_total",
            "counter",
            "Queries sent to Prometheus by the rounds (one per metric for models sharing a template).",
            vec![(String::new(), rounds.1.to_string())],
        );
        family(
            "mlrb_watch_leader",
            "gauge",
            "1 when this replica checks and acts: it holds the lease, or runs without --leader-elect.",
            vec![(String::new(), u8::from(leader.unwrap_or(true)).to_string())],
        );
        out
    }
}

/// A label value as the exposition format writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `stats` on `addr` from a background thread until the process ends. A bad address or
/// one in use is a usage error, before the controller starts.
pub fn serve(addr: &str, stats: Arc<Stats>) -> Result<String, CliError> {
    let server = tiny_http::Server::http(addr).map_err(|e| {
        CliError::usage(format!("--listen {addr}: cannot listen there: {e}"))
            .with_hint("give a free HOST:PORT, e.g. --listen 0.0.0.0:9464")
    })?;
    let bound = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .unwrap_or_else(|| addr.to_string());
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let path = req.url().split('?').next().unwrap_or("").to_string();
            let get = matches!(
                req.method(),
                tiny_http::Method::Get | tiny_http::Method::Head
            );
            let (status, ct, body) = match (get, path.as_str()) {
                (true, "/metrics") => (
                    200,
                    "text/plain; version=0.0.4; charset=utf-8",
                    stats.render(),
                ),
                (true, "/healthz") => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
                (false, "/metrics" | "/healthz") => {
                    (405, "text/plain; charset=utf-8", "GET only\n".to_string())
                }
                _ => (
                    404,
                    "text/plain; charset=utf-8",
                    "not found: GET /metrics or /healthz\n".to_string(),
                ),
            };
            let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], ct.as_bytes())
                .expect("a static header is valid");
            let _ = req.respond(
                tiny_http::Response::from_string(body)
                    .with_status_code(status)
                    .with_header(header),
            );
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family_with_escaped_labels() {
        let s = Stats::default();
        s.register("a\"b");
        s.checked("a\"b", true);
        s.breach("a\"b", "hard");
        s.rollback("a\"b", "rolled_back");
        s.blind("a\"b", true);
        s.leader(Some(false));
        let t = s.render();
        assert!(
            t.contains("mlrb_watch_checks_total{model=\"a\\\"b\",result=\"ok\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("mlrb_watch_breaches_total{model=\"a\\\"b\",kind=\"hard\"} 1\n"));
        assert!(t.contains("mlrb_watch_breaches_total{model=\"a\\\"b\",kind=\"soft\"} 0\n"));
        assert!(
            t.contains("mlrb_watch_rollbacks_total{model=\"a\\\"b\",outcome=\"rolled_back\"} 1\n")
        );
        assert!(t.contains("mlrb_watch_blind_models 1\n"));
        assert!(t.contains("mlrb_watch_leader 0\n"));
        assert!(t.contains("# TYPE mlrb_watch_last_successful_check_timestamp_seconds gauge\n"));
    }
}
