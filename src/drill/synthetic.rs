//! The sandbox drill's metrics: a Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`)
//! inside the drill process, on tiny_http, answering from the drill registry's state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::registry::{self, Stage, file::FileRegistry};

/// Healthy and breached values the synthetic Prometheus serves (the reference incident's).
pub(super) const HEALTHY: [(&str, f64); 2] = [("error_rate", 0.01), ("prediction_diversity", 0.73)];
const BREACHED: [(&str, f64); 2] = [("error_rate", 0.08), ("prediction_diversity", 0.04)];

/// Serves healthy values until the breach is injected, then breached values for as long as the
/// version that was live at the breach is still live in the drill registry. Stops when dropped.
pub(super) struct Synthetic {
    pub url: String,
    state: Arc<SynthState>,
    server: Arc<tiny_http::Server>,
}

struct SynthState {
    registry: PathBuf,
    model: String,
    bad_version: u64,
    breach_at: Mutex<Option<DateTime<Utc>>>,
    recovered_at: Mutex<Option<DateTime<Utc>>>,
}

impl Synthetic {
    pub fn start(
        registry: PathBuf,
        model: String,
        bad_version: u64,
    ) -> Result<Synthetic, CliError> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!("cannot start the drill's metrics server on loopback: {e}"),
            )
        })?;
        let addr = server.server_addr().to_ip().ok_or_else(|| {
            CliError::new(
                ExitStatus::Failure,
                "the drill's metrics server has no IP address",
            )
        })?;
        let server = Arc::new(server);
        let state = Arc::new(SynthState {
            registry,
            model,
            bad_version,
            breach_at: Mutex::new(None),
            recovered_at: Mutex::new(None),
        });
        let (s, srv) = (state.clone(), server.clone());
        std::thread::spawn(move || {
            // One request at a time: the drill is the only client.
            for req in srv.incoming_requests() {
                let (status, body) = answer(&s, req.url());
                let header =
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .expect("a static header is valid");
                let _ = req.respond(
                    tiny_http::Response::from_string(body.to_string())
                        .with_status_code(status)
                        .with_header(header),
                );
            }
        });
        Ok(Synthetic {
            url: format!("http://{addr}"),
            state,
            server,
        })
    }

    pub fn inject(&self) {
        *self
            .state
            .breach_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(clock::now());
    }
}

impl Drop for Synthetic {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl SynthState {
    /// Notes the first moment the bad version is no longer live.
    fn observe(&self) {
        let live_bad = registry::all_versions(&FileRegistry::new(&self.registry), &self.model)
            .map(|vs| {
                vs.iter()
                    .any(|v| v.version == self.bad_version && v.stage == Stage::Production)
            })
            .unwrap_or(true);
        let breach = *self.breach_at.lock().unwrap_or_else(|e| e.into_inner());
        let mut rec = self.recovered_at.lock().unwrap_or_else(|e| e.into_inner());
        if breach.is_some() && !live_bad && rec.is_none() {
            *rec = Some(clock::now());
        }
    }

    fn value(&self, metric: &str, t: DateTime<Utc>) -> f64 {
        let breach = *self.breach_at.lock().unwrap_or_else(|e| e.into_inner());
        let rec = *self.recovered_at.lock().unwrap_or_else(|e| e.into_inner());
        let bad = breach.is_some_and(|b| t >= b) && rec.is_none_or(|r| t < r);
        let table = if bad { BREACHED } else { HEALTHY };
        table
            .iter()
            .find(|(k, _)| metric.contains(k))
            .map(|(_, v)| *v)
            .unwrap_or(f64::NAN)
    }
}

/// The status and JSON body for a request target (path and query), as Prometheus answers them.
fn answer(s: &SynthState, target: &str) -> (u16, serde_json::Value) {
    let Ok(url) = reqwest::Url::parse(&format!("http://drill{target}")) else {
        return (
            400,
            json!({"status": "error", "errorType": "bad_data", "error": "invalid request target"}),
        );
    };
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let query = q.get("query").cloned().unwrap_or_default();
    let time = |k: &str| {
        q.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0) as i64))
    };
    s.observe();
    let secs = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
    match url.path() {
        "/api/v1/query" => {
            let t = time("time").unwrap_or_else(clock::now);
            let v = s.value(&query, t);
            (
                200,
                json!({"status": "success", "data": {"resultType": "vector",
                    "result": [{"metric": {}, "value": [secs(t), v.to_string()]}]}}),
            )
        }
        "/api/v1/query_range" => {
            let (start, end) = (time("start"), time("end"));
            let step = q
                .get("step")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| *s > 0.0)
                .unwrap_or(1.0);
            let mut values = Vec::new();
            if let (Some(start), Some(end)) = (start, end) {
                let mut t = start;
                while t <= end && values.len() < 11_000 {
                    values.push(json!([secs(t), s.value(&query, t).to_string()]));
                    t += chrono::Duration::milliseconds((step * 1000.0) as i64);
                }
            }
            (
                200,
                json!({"status": "success", "data": {"resultType": "matrix",
                    "result": [{"metric": {}, "values": values}]}}),
            )
        }
        _ => (
            404,
            json!({"status": "error", "errorType": "not_found", "error": "unknown path"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Registry, tags};

    /// The server answers the two Prometheus endpoints the metrics client reads, over HTTP:
    /// healthy before the breach, breached while the bad version is live, healthy again (from
    /// the moment it was seen gone) once it is not.
    #[test]
    fn serves_healthy_breached_and_recovered_values_over_http() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.json");
        let reg = FileRegistry::create(&path).unwrap();
        let good = reg
            .add_version(
                "m",
                "s://m/1",
                Stage::Archived,
                &[(tags::HEALTHY_BASELINE, "true")],
                None,
            )
            .unwrap();
        let bad = reg
            .add_version("m", "s://m/2", Stage::Production, &[], None)
            .unwrap();
        let server = Synthetic::start(path.clone(), "m".into(), bad).unwrap();
        let get = |target: &str| {
            let resp = reqwest::blocking::get(format!("{}{target}", server.url)).unwrap();
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, ct, resp.json::<serde_json::Value>().unwrap())
        };
        let instant = |q: &str| {
            let (status, ct, v) = get(&format!("/api/v1/query?query={q}"));
            assert_eq!((status, ct.as_deref()), (200, Some("application/json")));
            assert_eq!(v["data"]["resultType"], "vector", "{v}");
            v["data"]["result"][0]["value"][1]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(instant("mlrb_drill_error_rate"), "0.01");
        assert_eq!(instant("mlrb_drill_prediction_diversity"), "0.73");
        assert_eq!(instant("something_else"), "NaN");

        server.inject();
        assert_eq!(instant("mlrb_drill_prediction_diversity"), "0.04");
        let now = clock::now().timestamp();
        let (status, _, v) = get(&format!(
            "/api/v1/query_range?query=mlrb_drill_error_rate&start={}&end={}&step=60",
            now - 600,
            now + 1
        ));
        assert_eq!(status, 200);
        assert_eq!(v["data"]["resultType"], "matrix", "{v}");
        let values = v["data"]["result"][0]["values"].as_array().unwrap();
        assert_eq!(values.len(), 11, "{v}");
        assert_eq!(values[0][1], "0.01", "before the breach: healthy");

        reg.transition_stage("m", good, Stage::Production).unwrap();
        reg.transition_stage("m", bad, Stage::Archived).unwrap();
        assert_eq!(instant("mlrb_drill_prediction_diversity"), "0.73");

        let (status, ct, v) = get("/api/v1/labels");
        assert_eq!((status, ct.as_deref()), (404, Some("application/json")));
        assert_eq!(v["errorType"], "not_found");
    }
}
