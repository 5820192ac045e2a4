//! A real `prometheus` (Debian's package), started once per test binary on a free loopback
//! port with a 1 s scrape interval, scraping an exporter served by the test process whose
//! gauges the tests set.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::http_server::{Reply, TestServer};
use super::mlflow::free_port;
use super::repo_root;

pub struct Prom {
    pub url: String,
    gauges: Arc<Mutex<BTreeMap<String, f64>>>,
    _exporter: TestServer,
    _dir: tempfile::TempDir,
    _child: Child,
}

fn prometheus_bin() -> String {
    let found = Command::new("sh")
        .args(["-c", "command -v prometheus"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("prometheus is missing; installing it with tests/env/setup.sh prometheus");
        let ok = Command::new(repo_root().join("tests/env/setup.sh"))
            .arg("prometheus")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "prometheus is required: run `tests/env/setup.sh prometheus` (apt-get install prometheus)"
        );
    }
    "prometheus".into()
}

/// The shared server and exporter.
pub fn prom() -> &'static Prom {
    static P: OnceLock<Prom> = OnceLock::new();
    P.get_or_init(|| start(None))
}

/// A server of its own that loads `rules` (a rules file) and evaluates them every second,
/// with an exporter of its own.
pub fn prom_with_rules(rules: &std::path::Path) -> Prom {
    start(Some(rules))
}

/// An alert as `/api/v1/alerts` shows it.
#[derive(Debug, Clone)]
pub struct ActiveAlert {
    pub name: String,
    pub state: String,
    pub active_at: String,
    pub labels: serde_json::Value,
}

fn start(rules: Option<&std::path::Path>) -> Prom {
    let gauges: Arc<Mutex<BTreeMap<String, f64>>> = Arc::default();
    let g = gauges.clone();
    let exporter = TestServer::start(move |_req| {
        let mut body = String::new();
        for (series, v) in g.lock().unwrap().iter() {
            let v = if v.is_nan() {
                "NaN".to_string()
            } else {
                v.to_string()
            };
            body.push_str(&format!("{series} {v}\n"));
        }
        Reply::text(200, "text/plain; version=0.0.4", &body)
    });
    let dir = tempfile::tempdir().unwrap();
    let target = exporter.url.trim_start_matches("http://").to_string();
    let tmpl = std::fs::read_to_string(repo_root().join("tests/env/prometheus.yml.tmpl")).unwrap();
    let cfg = dir.path().join("prometheus.yml");
    let mut text = tmpl.replace("__TARGET__", &target);
    if let Some(r) = rules {
        text.push_str(&format!("rule_files:\n  - '{}'\n", r.display()));
    }
    std::fs::write(&cfg, text).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(repo_root().join("tests/env/with-parent.sh"))
        .arg(std::process::id().to_string())
        .arg(prometheus_bin())
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let url = format!("http://127.0.0.1:{port}");
    let p = Prom {
        url,
        gauges,
        _exporter: exporter,
        _dir: dir,
        _child: child,
    };
    // Ready, then the first scrape of our exporter (service discovery hands it over in ~5 s).
    let t0 = Instant::now();
    loop {
        if p.instant(r#"up{job="mlrb-test"}"#) == Some(1.0) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "prometheus on {port} did not scrape the exporter in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    p
}

impl Prom {
    /// Sets gauge `mlrb_test_<metric>{model="<model>"}` (NaN allowed).
    pub fn set(&self, model: &str, metric: &str, v: f64) {
        self.gauges.lock().unwrap().insert(series(model, metric), v);
    }

    /// Sets a series with an extra label, for the several-series case.
    pub fn set_labeled(&self, model: &str, metric: &str, label: &str, v: f64) {
        self.gauges.lock().unwrap().insert(
            format!("mlrb_test_{metric}{{model=\"{model}\",pod=\"{label}\"}}"),
            v,
        );
    }

    /// The value of an instant query now (first series), `None` when empty or unreachable.
    pub fn instant(&self, q: &str) -> Option<f64> {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", q)])
            .send()
            .ok()?;
        let v: serde_json::Value = r.json().ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// The alerts Prometheus holds now (pending or firing).
    pub fn alerts(&self) -> Vec<ActiveAlert> {
        let v: serde_json::Value = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/alerts", self.url))
            .send()
            .and_then(|r| r.json())
            .expect("GET /api/v1/alerts");
        v["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|a| ActiveAlert {
                name: a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                state: a["state"].as_str().unwrap_or("").to_string(),
                active_at: a["activeAt"].as_str().unwrap_or("").to_string(),
                labels: a["labels"].clone(),
            })
            .collect()
    }

    /// The rules Prometheus loaded: (alert name, state, `for` in seconds).
    pub fn rules(&self) -> Vec<(String, String, f64)> {
        let v: serde_json::Value = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/rules", self.url))
            .send()
            .and_then(|r| r.json())
            .expect("GET /api/v1/rules");
        let mut out = Vec::new();
        for g in v["data"]["groups"].as_array().cloned().unwrap_or_default() {
            for r in g["rules"].as_array().cloned().unwrap_or_default() {
                out.push((
                    r["name"].as_str().unwrap_or("").to_string(),
                    r["state"].as_str().unwrap_or("").to_string(),
                    r["duration"].as_f64().unwrap_or(-1.0),
                ));
            }
        }
        out
    }

    /// Waits until Prometheus has scraped `value` for the gauge (NaN compares as NaN).
    pub fn wait_for(&self, model: &str, metric: &str, value: f64) {
        let q = series(model, metric);
        let t0 = Instant::now();
        loop {
            let got = self.instant(&q);
            let same = match got {
                Some(g) => g == value || (g.is_nan() && value.is_nan()),
                None => false,
            };
            if same {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "prometheus never showed {q} = {value} (last {got:?})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sets and waits until queries see it.
    pub fn put(&self, model: &str, metric: &str, v: f64) {
        self.set(model, metric, v);
        self.wait_for(model, metric, v);
    }
}

/// The PromQL selecting one test gauge.
pub fn series(model: &str, metric: &str) -> String {
    format!("mlrb_test_{metric}{{model=\"{model}\"}}")
}

/// A `[models.<m>]` config with the given metrics (each read from its test gauge) and extra TOML.
pub fn model_config(url: &str, m: &str, metrics: &[&str], extra: &str) -> String {
    let mut s = format!("[models.\"{m}\".metrics]\nprometheus_url = \"{url}\"\n");
    for k in metrics {
        s.push_str(&format!("{k} = '{}'\n", series(m, k)));
    }
    s.push_str(extra);
    s
}
