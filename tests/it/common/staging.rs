//! A staging model server for drills against real services: it loads what it is told, says what
//! it serves, takes injected faults, and exports metrics that follow the version it serves.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::http_server::{Reply, TestServer};
use super::prometheus::{model_config, prom};

/// A staging model server: it loads the version it is told to (`POST /reload`), says which one
/// it serves (`GET /health`), takes faults (`POST /inject`, the drill's endpoint protocol), and
/// exports its quality to the real Prometheus: bad while it serves a known-bad version or one
/// with an injected fault.
pub struct StagingServer {
    pub server: TestServer,
    state: Arc<Mutex<(u64, BTreeSet<u64>)>>,
}

impl StagingServer {
    /// Serves `serving`; `label` is the `model` label of its gauges in Prometheus.
    pub fn start(label: &str, serving: u64, bad: &[u64]) -> StagingServer {
        let state = Arc::new(Mutex::new((
            serving,
            bad.iter().copied().collect::<BTreeSet<u64>>(),
        )));
        let m = label.to_string();
        let publish = move |st: &(u64, BTreeSet<u64>)| {
            let broken = st.1.contains(&st.0);
            prom().set(&m, "error_rate", if broken { 0.08 } else { 0.01 });
            prom().set(&m, "prediction_diversity", if broken { 0.04 } else { 0.73 });
        };
        publish(&state.lock().unwrap());
        let s = state.clone();
        let server = TestServer::start(move |req| {
            let mut st = s.lock().unwrap();
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            let version = || body["version"].as_str().and_then(|v| v.parse::<u64>().ok());
            match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/health") => Reply::json(200, json!({"version": st.0.to_string()})),
                ("POST", "/reload") => {
                    let Some(v) = version() else {
                        return Reply::json(400, json!({"error": "no version"}));
                    };
                    st.0 = v;
                    publish(&st);
                    Reply::json(200, json!({"loading": v}))
                }
                ("POST", "/inject") => {
                    let Some(v) = version() else {
                        return Reply::json(400, json!({"error": "no version"}));
                    };
                    match body["action"].as_str() {
                        Some("start") => st.1.insert(v),
                        Some("stop") => st.1.remove(&v),
                        _ => return Reply::json(400, json!({"error": "action?"})),
                    };
                    publish(&st);
                    Reply::json(200, json!({"ok": true}))
                }
                _ => Reply::json(404, json!({"error": "not found"})),
            }
        });
        StagingServer { server, state }
    }

    /// The version it serves now.
    pub fn serving(&self) -> u64 {
        self.state.lock().unwrap().0
    }

    /// The versions with an injected fault now.
    pub fn faults(&self) -> BTreeSet<u64> {
        self.state.lock().unwrap().1.clone()
    }
}

/// The staging config of model `m` whose gauges carry `label`: real Prometheus, the staging
/// model server, 1 s checks, and `[models.m.drill]` with `drill`.
pub fn staging_config(
    label: &str,
    m: &str,
    srv: &StagingServer,
    mode: &str,
    drill: &str,
) -> String {
    // The metrics section is the model's; its queries select the gauges carrying `label`.
    model_config(
        &prom().url,
        label,
        &["error_rate", "prediction_diversity"],
        &format!(
            "[models.\"{m}\"]\n{mode}\n\
             [models.\"{m}\".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.73\n\
             [models.\"{m}\".controller]\ncheck_interval = \"1s\"\nconsecutive_failures_required = 3\npost_rollback_watch = \"1s\"\n\
             [models.\"{m}\".verify]\ntimeout = \"30s\"\ninterval = \"1s\"\n\
             [models.\"{m}\".serving]\nkind = \"http\"\nreload_url = \"{0}/reload\"\nhealth_url = \"{0}/health\"\ntimeout = \"10s\"\n\
             [models.\"{m}\".drill]\ntimeout = \"60s\"\n{drill}\n",
            srv.server.url
        ),
    )
    .replacen(
        &format!("[models.\"{label}\".metrics]"),
        &format!("[models.\"{m}\".metrics]"),
        1,
    )
}
