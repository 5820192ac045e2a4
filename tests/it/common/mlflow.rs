//! A real `mlflow server` (pinned 3.17.2, `--workers 1`), installed into the cache when missing,
//! started once per test binary on a free loopback port, and stopped when the tests end.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mlrb::registry::Stage;
use serde_json::{Value, json};

use super::{Backend, TestEnv, V, cache_dir, repo_root};

pub struct MlflowServer {
    pub uri: String,
    pub port: u16,
    _dir: tempfile::TempDir,
    _child: Child,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mlflow_bin() -> PathBuf {
    let bin = cache_dir().join("mlflow/bin/mlflow");
    if !bin.exists() {
        eprintln!(
            "mlflow is not in {}; installing it with tests/env/setup.sh mlflow",
            cache_dir().display()
        );
        let ok = Command::new(repo_root().join("tests/env/setup.sh"))
            .arg("mlflow")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok && bin.exists(),
            "mlflow 3.17.2 is required: run `tests/env/setup.sh mlflow` (python3 -m venv {0}/mlflow && {0}/mlflow/bin/pip install 'mlflow[auth]==3.17.2')",
            cache_dir().display()
        );
    }
    bin
}

impl MlflowServer {
    /// Starts a server on `port`; `extra` adds `mlflow server` flags, `envs` its environment.
    pub fn start(port: u16, extra: &[String], envs: &[(&str, String)]) -> MlflowServer {
        let bin = mlflow_bin();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("mlflow.log")).unwrap();
        let mut cmd = Command::new(repo_root().join("tests/env/with-parent.sh"));
        cmd.arg(std::process::id().to_string())
            .arg(&bin)
            .arg("server")
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}/mlflow.db", dir.path().display()))
            .arg("--default-artifact-root")
            .arg(dir.path().join("artifacts"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .args(extra)
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .envs(envs.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().expect("start mlflow server");
        let uri = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = reqwest::blocking::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{uri}/health")).send()
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(120) {
                let log =
                    std::fs::read_to_string(dir.path().join("mlflow.log")).unwrap_or_default();
                panic!("mlflow server on {port} did not become healthy in 120 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        MlflowServer {
            uri,
            port,
            _dir: dir,
            _child: child,
        }
    }
}

/// The shared plain server (no auth).
pub fn server() -> &'static MlflowServer {
    static S: OnceLock<MlflowServer> = OnceLock::new();
    S.get_or_init(|| MlflowServer::start(free_port(), &[], &[]))
}

pub const ADMIN_PASSWORD: &str = "mlrb-Admin-pass-1";

/// A server with MLflow's basic-auth app, admin/ADMIN_PASSWORD, that allows only the
/// `127.0.0.1:PORT` Host header (so `localhost:PORT` gets the real "Invalid Host header").
pub fn auth_server() -> &'static MlflowServer {
    static S: OnceLock<MlflowServer> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let ini = dir.join("basic_auth.ini");
        std::fs::write(
            &ini,
            format!(
                "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{}/auth.db\nadmin_username = admin\nadmin_password = {ADMIN_PASSWORD}\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\nauth_cache_ttl_seconds = 60\n",
                dir.display()
            ),
        )
        .unwrap();
        // The port must be known before the start to name it in --allowed-hosts.
        let port = free_port();
        MlflowServer::start(
            port,
            &[
                "--app-name".into(),
                "basic-auth".into(),
                "--allowed-hosts".into(),
                format!("127.0.0.1:{port}"),
            ],
            &[
                ("MLFLOW_AUTH_CONFIG_PATH", ini.display().to_string()),
                ("MLFLOW_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
                ("MLFLOW_FLASK_SERVER_SECRET_KEY", "mlrb-test-secret".into()),
            ],
        )
    })
}

/// Plain REST calls for fixtures and checks: the harness never uses mlrb to inspect mlrb.
pub struct Rest {
    pub api: String,
    pub auth: Option<(String, String)>,
    client: reqwest::blocking::Client,
}

impl Rest {
    pub fn new(uri: &str) -> Rest {
        Rest {
            api: format!("{uri}/api/2.0/mlflow/"),
            auth: None,
            client: reqwest::blocking::Client::new(),
        }
    }
    pub fn with_auth(mut self, user: &str, pass: &str) -> Rest {
        self.auth = Some((user.into(), pass.into()));
        self
    }
    fn req(&self, rb: reqwest::blocking::RequestBuilder) -> Value {
        let rb = match &self.auth {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        };
        let r = rb.send().unwrap();
        let status = r.status();
        let body = r.text().unwrap();
        assert!(status.is_success(), "{status}: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }
    pub fn post(&self, path: &str, body: Value) -> Value {
        self.req(self.client.post(format!("{}{path}", self.api)).json(&body))
    }
    pub fn delete(&self, path: &str, body: Value) -> Value {
        self.req(
            self.client
                .delete(format!("{}{path}", self.api))
                .json(&body),
        )
    }
    pub fn get(&self, path: &str, q: &[(&str, &str)]) -> Value {
        self.req(self.client.get(format!("{}{path}", self.api)).query(q))
    }
}

pub struct MlflowBackend {
    pub uri: String,
    pub rest: Rest,
}

impl MlflowBackend {
    pub fn new() -> MlflowBackend {
        let s = server();
        MlflowBackend {
            uri: s.uri.clone(),
            rest: Rest::new(&s.uri),
        }
    }

    fn versions(&self, name: &str) -> Vec<Value> {
        let r = self.rest.get(
            "model-versions/search",
            &[
                ("filter", &format!("name='{name}'")),
                ("max_results", "10000"),
            ],
        );
        let mut vs = r["model_versions"].as_array().cloned().unwrap_or_default();
        vs.sort_by_key(|v| v["version"].as_str().unwrap().parse::<u64>().unwrap());
        vs
    }
}

fn tags_of(v: &Value) -> BTreeMap<String, String> {
    v["tags"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["key"].as_str().unwrap().to_string(),
                        t["value"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Backend for MlflowBackend {
    fn transition(&self, name: &str, version: u64, stage: Stage) {
        self.rest.post(
            "model-versions/transition-stage",
            json!({"name": name, "version": version.to_string(), "stage": stage.as_str(), "archive_existing_versions": false}),
        );
    }
    fn set_model_tag(&self, name: &str, key: &str, value: &str) {
        self.rest.post(
            "registered-models/set-tag",
            json!({"name": name, "key": key, "value": value}),
        );
    }
    fn delete_version(&self, name: &str, version: u64) {
        self.rest.delete(
            "model-versions/delete",
            json!({"name": name, "version": version.to_string()}),
        );
    }
    fn seed(&self, name: &str, versions: &[V], aliases: &[(&str, u64)]) {
        seed_rest(&self.rest, name, versions, aliases);
    }
    fn configure(&self, env: &mut TestEnv) {
        env.set("MLFLOW_TRACKING_URI", self.uri.clone());
    }
    fn snapshot(&self, name: &str) -> String {
        let model = self.rest.get("registered-models/get", &[("name", name)]);
        let mut versions = self.versions(name);
        for v in &mut versions {
            // Tag order is the server's; sort it so equal states compare equal.
            let mut tags = v["tags"].as_array().cloned().unwrap_or_default();
            tags.sort_by_key(|t| t["key"].as_str().unwrap_or("").to_string());
            v["tags"] = json!(tags);
        }
        serde_json::to_string_pretty(&json!({"model": model, "versions": versions})).unwrap()
    }
    fn version(&self, name: &str, version: u64) -> (Stage, BTreeMap<String, String>) {
        let r = self.rest.get(
            "model-versions/get",
            &[("name", name), ("version", &version.to_string())],
        );
        let v = &r["model_version"];
        (
            Stage::parse(v["current_stage"].as_str().unwrap()).unwrap(),
            tags_of(v),
        )
    }
    fn alias(&self, name: &str, alias: &str) -> Option<u64> {
        let r = self.rest.get("registered-models/get", &[("name", name)]);
        r["registered_model"]["aliases"]
            .as_array()?
            .iter()
            .find(|a| a["alias"] == alias)
            .and_then(|a| a["version"].as_str()?.parse().ok())
    }
}

pub fn seed_rest(rest: &Rest, name: &str, versions: &[V], aliases: &[(&str, u64)]) {
    rest.post("registered-models/create", json!({"name": name}));
    for (i, ver) in versions.iter().enumerate() {
        let n = (i + 1).to_string();
        let src = ver
            .source
            .clone()
            .unwrap_or_else(|| format!("s3://models/{name}/v{n}"));
        let tags: Vec<Value> = ver
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        rest.post(
            "model-versions/create",
            json!({"name": name, "source": src, "tags": tags}),
        );
        if ver.stage != Stage::None {
            rest.post(
                "model-versions/transition-stage",
                json!({"name": name, "version": n, "stage": ver.stage.as_str(), "archive_existing_versions": false}),
            );
        }
    }
    for (a, v) in aliases {
        rest.post(
            "registered-models/alias",
            json!({"name": name, "alias": a, "version": v.to_string()}),
        );
    }
}
