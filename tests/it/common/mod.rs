//! The test harness: real servers started once per test binary, a clean environment per test,
//! and fixtures that put a registry into a known state.

#![allow(dead_code)]

pub mod fault;
pub mod http_server;
pub mod kube;
pub mod mlflow;
pub mod prometheus;
pub mod staging;
pub mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use mlrb::registry::{Stage, file::FileRegistry};

/// Where the harness finds (and caches) the real components.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("MLRB_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/mlrb-test"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A secret no output may contain.
pub const CANARY: &str = "mlrb-canary-Secret-7f3a9c";
/// Credential variables that carry the canary unless a test sets them itself.
pub const CREDENTIAL_VARS: &[&str] = &["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD"];

/// Fails when `text` contains the canary or a secret the test set.
pub fn assert_no_secret(what: &str, text: &str, vars: &BTreeMap<String, String>) {
    assert!(
        !text.contains(CANARY),
        "the canary secret leaked into {what}:\n{text}"
    );
    for k in ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD"] {
        if let Some(v) = vars.get(k).filter(|v| v.len() >= 8) {
            assert!(
                !text.contains(v.as_str()),
                "{k} leaked into {what}:\n{text}"
            );
        }
    }
}

/// A fresh world for one test: temp HOME, state dir and working dir, and a cleared environment.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub vars: BTreeMap<String, String>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        if !cfg!(feature = "test-hooks") {
            panic!(
                "the integration tests inject faults into the mlrb binary: run them with `cargo test --features test-hooks` (tests/run.sh does)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let mut vars = BTreeMap::new();
        vars.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        vars.insert("HOME".into(), dir.path().join("home").display().to_string());
        vars.insert(
            "MLRB_STATE_DIR".into(),
            dir.path().join("state").display().to_string(),
        );
        vars.insert("MLRB_TEST_NO_SLEEP".into(), "1".into());
        vars.insert("USER".into(), "oncall".into());
        // A canary in every credential variable for the whole suite: it must never show up in
        // any output or file mlrb writes (checked on every run and when the env is dropped).
        for k in CREDENTIAL_VARS {
            vars.insert(k.to_string(), CANARY.into());
        }
        TestEnv { dir, vars }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn set(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
        self.vars.insert(k.into(), v.into());
        self
    }

    /// The real `mlrb` binary with only this env's variables, run in the env's directory.
    pub fn mlrb(&self) -> Command {
        let mut c = Command::cargo_bin("mlrb").unwrap();
        c.env_clear().envs(&self.vars).current_dir(self.dir.path());
        c
    }

    /// Runs mlrb with `args` and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> Output {
        let o = self.mlrb().args(args).output().unwrap();
        let out = Output {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert_no_secret("stdout", &out.stdout, &self.vars);
        assert_no_secret("stderr", &out.stderr, &self.vars);
        out
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn journal(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("journal.jsonl")).unwrap_or_default()
    }
}

impl Drop for TestEnv {
    /// Every file mlrb left in the test's directory (journal, reports, registry) is free of secrets.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(text) = std::fs::read(&p) {
                    assert_no_secret(
                        &p.display().to_string(),
                        &String::from_utf8_lossy(&text),
                        &self.vars,
                    );
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the exit code, printing everything when it differs.
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(
            self.code, want,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stderr's error line (the first line starting with "error:").
    pub fn error_line(&self) -> String {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no error line in stderr:\n{}", self.stderr))
            .to_string()
    }

    /// A bad-input failure: the given code, one `error:` line plus at most a `hint:` line.
    pub fn one_clear_error(&self, want: i32) -> String {
        self.code(want);
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(
            errors.len(),
            1,
            "exactly one error line expected:\n{}",
            self.stderr
        );
        let others: Vec<&&str> = lines
            .iter()
            .filter(|l| !l.starts_with("error:") && !l.starts_with("hint:"))
            .collect();
        assert!(
            others.is_empty(),
            "only error and hint lines expected:\n{}",
            self.stderr
        );
        self.error_line()
    }
}

/// One version of a fixture model: its stage and tags.
#[derive(Clone)]
pub struct V {
    pub stage: Stage,
    pub tags: Vec<(&'static str, &'static str)>,
    pub source: Option<String>,
}

pub fn v(stage: Stage) -> V {
    V {
        stage,
        tags: Vec::new(),
        source: None,
    }
}

impl V {
    pub fn healthy(mut self) -> V {
        self.tags.push(("rollback.healthy_baseline", "true"));
        self
    }
    pub fn tag(mut self, k: &'static str, val: &'static str) -> V {
        self.tags.push((k, val));
        self
    }
    pub fn source(mut self, s: &str) -> V {
        self.source = Some(s.into());
        self
    }
}

/// The reference incident's layout: v1 Archived, v2 Archived + healthy baseline, v3 Production.
pub fn bad_release() -> Vec<V> {
    vec![
        v(Stage::Archived),
        v(Stage::Archived).healthy(),
        v(Stage::Production),
    ]
}

/// A registry the scenarios run against: the real MLflow server or the embedded file.
pub trait Backend {
    /// Creates model `name` with `versions` (v1 first) and aliases; returns the registered name.
    fn seed(&self, name: &str, versions: &[V], aliases: &[(&str, u64)]);
    /// Points the env at this registry.
    fn configure(&self, env: &mut TestEnv);
    /// Everything the registry holds about `name`, as canonical JSON, for before/after checks.
    fn snapshot(&self, name: &str) -> String;
    /// (stage, tags) of one version.
    fn version(&self, name: &str, version: u64) -> (Stage, BTreeMap<String, String>);
    fn alias(&self, name: &str, alias: &str) -> Option<u64>;
    /// Deletes a version behind mlrb's back (what a "clean-up" script does): a fixture only.
    fn delete_version(&self, name: &str, version: u64);
    fn set_model_tag(&self, name: &str, key: &str, value: &str);
    /// Moves a version to a stage behind mlrb's back (a deploy): a fixture only.
    fn transition(&self, name: &str, version: u64, stage: Stage);
}

/// The embedded registry in a file of the test's own.
pub struct FileBackend {
    pub path: PathBuf,
}

impl FileBackend {
    pub fn new(env: &TestEnv) -> FileBackend {
        let path = env.path().join("registry.json");
        FileRegistry::create(&path).unwrap();
        FileBackend { path }
    }
    fn reg(&self) -> FileRegistry {
        FileRegistry::new(self.path.clone())
    }
}

impl Backend for FileBackend {
    fn transition(&self, name: &str, version: u64, stage: Stage) {
        use mlrb::registry::Registry;
        self.reg().transition_stage(name, version, stage).unwrap();
    }
    fn set_model_tag(&self, name: &str, key: &str, value: &str) {
        use mlrb::registry::Registry;
        self.reg().set_model_tag(name, key, value).unwrap();
    }
    fn delete_version(&self, name: &str, version: u64) {
        let text = std::fs::read_to_string(&self.path).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["models"][name]["versions"]
            .as_array_mut()
            .unwrap()
            .retain(|v| v["version"] != version);
        std::fs::write(&self.path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    fn seed(&self, name: &str, versions: &[V], aliases: &[(&str, u64)]) {
        use mlrb::registry::Registry;
        let reg = self.reg();
        // Registered an hour ago, a millisecond apart: a detection time of minutes ago then
        // falls inside the model's life, as it does in production.
        let first = chrono::Utc::now() - chrono::Duration::hours(1);
        for (i, ver) in versions.iter().enumerate() {
            let src = ver
                .source
                .clone()
                .unwrap_or_else(|| format!("s3://models/{name}/v{}", i + 1));
            let at = first + chrono::Duration::milliseconds(i as i64);
            reg.add_version(name, &src, ver.stage, &ver.tags, Some(at))
                .unwrap();
        }
        for (a, n) in aliases {
            reg.set_alias(name, a, *n).unwrap();
        }
    }
    fn configure(&self, env: &mut TestEnv) {
        env.set("MLRB_REGISTRY", self.path.display().to_string());
    }
    fn snapshot(&self, _name: &str) -> String {
        std::fs::read_to_string(&self.path).unwrap()
    }
    fn version(&self, name: &str, version: u64) -> (Stage, BTreeMap<String, String>) {
        use mlrb::registry::Registry;
        let v = self.reg().get_version(name, version).unwrap();
        (v.stage, v.tags)
    }
    fn alias(&self, name: &str, alias: &str) -> Option<u64> {
        use mlrb::registry::Registry;
        self.reg()
            .get_model(name)
            .unwrap()
            .aliases
            .get(alias)
            .copied()
    }
}

/// Now, as `--detected-at` takes it: a breach that began after the model was seeded.
pub fn just_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A unique model name per test, so tests share one server without seeing each other.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
