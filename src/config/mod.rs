//! `mlrb.toml` and the environment → Settings, resolved once (defaults < file < MLRB_* env < flags).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::CliError;
use crate::http::HttpOptions;
use crate::registry::LiveMode;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub registry: RegistryConfig,
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub http: HttpConfig,
}

/// `[http]`: what every HTTP client shares (registry, Prometheus, CI, notifications, serving).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The most one answer may weigh, e.g. "8MiB".
    #[serde(default, deserialize_with = "opt_size")]
    pub max_body: Option<u64>,
    /// The most pages of one listing (MLflow searches).
    pub max_pages: Option<u32>,
    /// A PEM bundle of CAs trusted by every client, beside the platform's roots.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    #[default]
    Mlflow,
    File,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub kind: Option<RegistryKind>,
    pub uri: Option<String>,
    pub path: Option<PathBuf>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub connect_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Stage,
    Alias,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub registered_name: Option<String>,
    pub mode: Option<Mode>,
    pub alias: Option<String>,
    #[serde(default)]
    pub serving: ServingConfig,
    #[serde(default)]
    pub infra: InfraConfig,
    #[serde(default)]
    pub features: Option<FeaturesConfig>,
    #[serde(default)]
    pub retrain: Option<RetrainConfig>,
    /// `[models.X.fallback]`: the pre-built answer to "no safe rollback target".
    pub fallback: Option<FallbackConfig>,
    pub metrics: Option<MetricsConfig>,
    #[serde(default)]
    pub thresholds: crate::metrics::decision::Thresholds,
    #[serde(default)]
    pub baseline: BaselineConfig,
    #[serde(default)]
    pub controller: ControllerConfig,
    #[serde(default)]
    pub verify: VerifyConfig,
    #[serde(default)]
    pub drill: DrillConfig,
    #[serde(default)]
    pub training_data: TrainingDataConfig,
    /// `[models.X.gitops]`: the Argo CD Application or Flux Kustomization / HelmRelease that
    /// manages the model's Kubernetes objects, and where in git their state is written.
    pub gitops: Option<GitopsConfig>,
}

/// `[models.X.training_data]`: where a version records the dataset it was trained on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingDataConfig {
    /// Keys looked up in order: in the version's tags, then its training run's params and tags.
    #[serde(default = "default_dataset_keys")]
    pub keys: Vec<String>,
}

fn default_dataset_keys() -> Vec<String> {
    ["dataset_version", "data_version", "dataset"]
        .map(String::from)
        .to_vec()
}

impl Default for TrainingDataConfig {
    fn default() -> Self {
        TrainingDataConfig {
            keys: default_dataset_keys(),
        }
    }
}

/// `[models.X.drill]`: what a rehearsal must achieve, and how a staging drill (one against the
/// configured registry and Prometheus, not `--sandbox`) produces its breach.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillConfig {
    /// The drill fails (exit 1) when its MTTR is longer than this.
    #[serde(default, deserialize_with = "opt_duration")]
    pub mttr_objective: Option<Duration>,
    /// How a staging drill breaks the model: `promote` makes `version` live (a bad deploy),
    /// `endpoint` asks `inject_url` to make the live version misbehave.
    pub breach: Option<DrillBreach>,
    /// `breach = "promote"`: the known-bad version the drill deploys.
    pub version: Option<u64>,
    /// `breach = "endpoint"`: POSTed `{"action": "start"|"stop", "model", "version", "drill"}`.
    pub inject_url: Option<String>,
    /// How long the breach may take to show in the metrics and be rolled back (default 10m).
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillBreach {
    Promote,
    Endpoint,
}

/// `[models.X.fallback]`: what serves when no safe rollback target is left. Either a registry
/// `version` kept (and tested) for this moment, such as a simple heuristic model, which
/// `rollback model --fallback` makes live like any rollback target; or a `switch` in the serving
/// layer (an environment variable on the serving Deployment, or a Service's selector) that turns
/// the ML feature off, which `--fallback` flips and `--fallback --end` flips back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    pub version: Option<u64>,
    /// What it is, for the plan and the report ("most-popular heuristic").
    pub description: Option<String>,
    pub switch: Option<SwitchKind>,
    /// kubectl-set-env: the serving Deployment, the variable and the value that selects the fallback.
    pub deployment: Option<String>,
    pub env_var: Option<String>,
    pub value: Option<String>,
    /// kubectl-set-env: the one container to set it on (default: every container).
    pub container: Option<String>,
    /// service-selector: the Service and the selector that picks the fallback's pods.
    pub service: Option<String>,
    pub selector: Option<BTreeMap<String, String>>,
    pub namespace: Option<String>,
    /// kubeconfig context (default: the current one; KUBECONFIG is honoured).
    pub context: Option<String>,
    /// kubectl-set-env: how long the rollout may take to become Ready (default 5m).
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

/// How a serving-switch fallback is flipped.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwitchKind {
    /// `kubectl set env deployment/D VAR=VALUE` + `rollout status`.
    KubectlSetEnv,
    /// A JSON patch that replaces the Service's whole `spec.selector`.
    ServiceSelector,
}

impl SwitchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchKind::KubectlSetEnv => "kubectl-set-env",
            SwitchKind::ServiceSelector => "service-selector",
        }
    }
}

/// A checked `[models.X.fallback]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// A registry version, made live like any rollback target.
    Version(u64),
    /// A switch in the serving layer; the registry is not touched.
    Switch(Box<Switch>),
}

/// A serving switch, with every key its kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub kind: SwitchKind,
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub deployment: String,
    pub env_var: String,
    pub value: String,
    pub container: Option<String>,
    pub service: String,
    pub selector: BTreeMap<String, String>,
    pub timeout: Duration,
}

impl FallbackConfig {
    /// The fallback this section describes, or what is wrong with it (after `[models.KEY.fallback] `).
    pub fn resolve(&self) -> Result<Fallback, String> {
        let kind = match (self.version, self.switch) {
            (Some(_), Some(s)) => {
                return Err(format!(
                    "sets both `version` (a registry version) and `switch = \"{}\"` (a serving switch); keep one",
                    s.as_str()
                ));
            }
            (None, None) => {
                return Err(
                    "needs `version = N` (a pre-built registry version) or `switch = \"kubectl-set-env\"` / `\"service-selector\"` (a switch in the serving layer)"
                        .into(),
                );
            }
            (Some(n), None) => {
                let extra = self.switch_keys();
                if let Some(k) = extra.first() {
                    return Err(format!(
                        "`{k}` belongs to a serving switch, but this fallback is registry version {n}; drop it or use `switch = \"…\"` instead of `version`"
                    ));
                }
                return Ok(Fallback::Version(n));
            }
            (None, Some(s)) => s,
        };
        let name = kind.as_str();
        let need = |field: &str, v: &Option<String>| -> Result<String, String> {
            match v.as_deref().map(str::trim) {
                Some(x) if !x.is_empty() => Ok(x.to_string()),
                _ => Err(format!("switch = \"{name}\" needs `{field} = \"…\"`")),
            }
        };
        let stray = |fields: &[(&str, bool)]| -> Result<(), String> {
            match fields.iter().find(|(_, set)| *set) {
                Some((f, _)) => Err(format!("`{f}` does not apply to switch = \"{name}\"")),
                None => Ok(()),
            }
        };
        for (field, v) in [("namespace", &self.namespace)] {
            if let Some(v) = v {
                k8s_name(field, v)?;
            }
        }
        if let Some(c) = &self.context
            && (c.trim().is_empty() || c.chars().any(char::is_control))
        {
            return Err("`context` must be a kubeconfig context name".into());
        }
        let mut sw = Switch {
            kind,
            namespace: self.namespace.clone(),
            context: self.context.clone(),
            deployment: String::new(),
            env_var: String::new(),
            value: String::new(),
            container: None,
            service: String::new(),
            selector: BTreeMap::new(),
            timeout: self.timeout.unwrap_or(Duration::from_secs(300)),
        };
        match kind {
            SwitchKind::KubectlSetEnv => {
                stray(&[
                    ("service", self.service.is_some()),
                    ("selector", self.selector.is_some()),
                ])?;
                sw.deployment = need("deployment", &self.deployment)?;
                k8s_name("deployment", &sw.deployment)?;
                sw.env_var = need("env_var", &self.env_var)?;
                let ok = sw
                    .env_var
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    && !sw.env_var.starts_with(|c: char| c.is_ascii_digit());
                if !ok {
                    return Err(format!(
                        "env_var `{}` is not an environment variable name (letters, digits, `_`, `-`, `.`; not starting with a digit)",
                        sw.env_var.escape_debug()
                    ));
                }
                sw.value = self.value.clone().ok_or_else(|| {
                    format!(
                        "switch = \"{name}\" needs `value = \"…\"` (what {} is set to)",
                        sw.env_var
                    )
                })?;
                if sw.value.chars().any(char::is_control) {
                    return Err("`value` must not contain control characters (a newline?)".into());
                }
                if let Some(c) = &self.container {
                    k8s_name("container", c)?;
                    sw.container = Some(c.clone());
                }
            }
            SwitchKind::ServiceSelector => {
                stray(&[
                    ("deployment", self.deployment.is_some()),
                    ("env_var", self.env_var.is_some()),
                    ("value", self.value.is_some()),
                    ("container", self.container.is_some()),
                    ("timeout", self.timeout.is_some()),
                ])?;
                sw.service = need("service", &self.service)?;
                k8s_name("service", &sw.service)?;
                sw.selector = self.selector.clone().unwrap_or_default();
                if sw.selector.is_empty() {
                    return Err(format!(
                        "switch = \"{name}\" needs `selector = {{ app = \"…\" }}` (the labels of the fallback's pods)"
                    ));
                }
                for (k, v) in &sw.selector {
                    let bad = |s: &str| {
                        s.is_empty()
                            || s.chars().any(|c| {
                                c.is_control() || c.is_whitespace() || matches!(c, ',' | '=' | '!')
                            })
                    };
                    if bad(k) || (bad(v) && !v.is_empty()) {
                        return Err(format!(
                            "selector `{}` = `{}` is not a label (no spaces, commas or `=`)",
                            k.escape_debug(),
                            v.escape_debug()
                        ));
                    }
                }
            }
        }
        Ok(Fallback::Switch(Box::new(sw)))
    }

    fn switch_keys(&self) -> Vec<&'static str> {
        [
            ("deployment", self.deployment.is_some()),
            ("env_var", self.env_var.is_some()),
            ("value", self.value.is_some()),
            ("container", self.container.is_some()),
            ("service", self.service.is_some()),
            ("selector", self.selector.is_some()),
            ("namespace", self.namespace.is_some()),
            ("context", self.context.is_some()),
            ("timeout", self.timeout.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// A Kubernetes object name as kubectl takes it in argv: never empty, never an option.
fn k8s_name(field: &str, v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 253
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{field} `{}` is not a Kubernetes name (letters, digits, `-`, `.`; starting with a letter or digit)",
            v.escape_debug()
        ))
    }
}

/// `[models.X.metrics]`: where the model's serving metrics live and the PromQL for each.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub prometheus_url: String,
    /// Environment variable holding the whole Authorization header value ("Bearer …").
    pub auth_header_env: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// How far back detection searches Prometheus history for the breach start (default 1h).
    #[serde(default, deserialize_with = "opt_duration")]
    pub detection_lookback: Option<Duration>,
    pub error_rate: Option<String>,
    pub latency_p99_ms: Option<String>,
    pub prediction_diversity: Option<String>,
    pub primary_metric: Option<String>,
    pub revenue_loss_per_minute: Option<String>,
    #[serde(default)]
    pub custom: BTreeMap<String, crate::metrics::decision::CustomMetric>,
    /// metric → its query as written, for queries with the `{model}` placeholder (replaced by
    /// the model's key in the fields above): `watch` reads models sharing one in one query.
    #[serde(skip)]
    pub templates: BTreeMap<String, String>,
}

impl MetricsConfig {
    /// Replaces `{model}` in every query with `key` (as a PromQL string's content), keeping the
    /// templates.
    fn expand_placeholder(&mut self, key: &str) {
        let value = crate::metrics::fleet::string_escape(key);
        let mut templates = BTreeMap::new();
        let mut expand = |name: &str, q: &mut String| {
            if q.contains(crate::metrics::fleet::PLACEHOLDER) {
                templates.insert(name.to_string(), q.clone());
                *q = q.replace(crate::metrics::fleet::PLACEHOLDER, &value);
            }
        };
        for (name, q) in [
            ("revenue_loss_per_minute", &mut self.revenue_loss_per_minute),
            ("error_rate", &mut self.error_rate),
            ("latency_p99_ms", &mut self.latency_p99_ms),
            ("primary_metric", &mut self.primary_metric),
            ("prediction_diversity", &mut self.prediction_diversity),
        ] {
            if let Some(q) = q {
                expand(name, q);
            }
        }
        for (name, c) in &mut self.custom {
            expand(name, &mut c.query);
        }
        self.templates = templates;
    }
}

impl MetricsConfig {
    /// (metric name, PromQL) for every configured metric, standard ones first.
    pub fn queries(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("revenue_loss_per_minute", &self.revenue_loss_per_minute),
            ("error_rate", &self.error_rate),
            ("latency_p99_ms", &self.latency_p99_ms),
            ("primary_metric", &self.primary_metric),
            ("prediction_diversity", &self.prediction_diversity),
        ]
        .into_iter()
        .filter_map(|(k, q)| q.as_ref().map(|q| (k.to_string(), q.clone())))
        .collect();
        for (k, c) in &self.custom {
            out.push((k.clone(), c.query.clone()));
        }
        out
    }
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineSource {
    /// Values written in `[models.X.baseline]`.
    #[default]
    Config,
    /// The rollback target's MLflow run metrics (`runs/get` of the version's run).
    Run,
    /// The same queries evaluated `offset` ago (default: just before the live version went live).
    Offset,
}

/// `[models.X.baseline]`: `source` plus metric = value pairs (the values of source = "config").
#[derive(Debug, Default, Clone, Deserialize)]
pub struct BaselineConfig {
    pub source: Option<BaselineSource>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub offset: Option<Duration>,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

/// `[models.X.controller]`: how `mlrb watch` decides to act.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    #[serde(deserialize_with = "duration")]
    pub check_interval: Duration,
    pub consecutive_failures_required: u32,
    /// M of the M-of-N rule: act when this many of the last `window` checks breached.
    pub failures_in_window: Option<u32>,
    /// N of the M-of-N rule, in checks.
    pub window: Option<u32>,
    /// Consecutive metric-fetch errors before notifying that the controller is blind.
    pub blind_after: u32,
    #[serde(deserialize_with = "duration")]
    pub post_rollback_watch: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            check_interval: Duration::from_secs(30),
            consecutive_failures_required: 3,
            failures_in_window: None,
            window: None,
            blind_after: 3,
            post_rollback_watch: Duration::from_secs(2 * 3600),
        }
    }
}

/// `[models.X.verify]`: when a rollback counts as recovered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// Allowed distance from baseline, as a fraction (0.10 = 10%).
    pub tolerance: f64,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            tolerance: 0.10,
            timeout: Duration::from_secs(15 * 60),
            interval: Duration::from_secs(5),
        }
    }
}

/// `[notify]`: where notifications go; URLs come from environment variables.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub slack_webhook_env: Option<String>,
    pub webhook_env: Option<String>,
    /// Set by a staging drill (never from the file): every message says it is a drill.
    #[serde(skip)]
    pub drill: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RetrainKind {
    /// GitLab pipeline trigger API (+ pipeline status).
    Gitlab,
    /// GitHub Actions workflow_dispatch (+ runs).
    Github,
    /// POST a JSON body to a URL; optional status URL.
    Webhook,
}

/// `[models.X.retrain]`: where an emergency retrain is triggered. Tokens come only from the
/// environment variables named here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainConfig {
    pub kind: RetrainKind,
    /// gitlab: the instance (https://gitlab.example.com); github: the API (default
    /// https://api.github.com); webhook: the URL to POST.
    pub url: Option<String>,
    /// gitlab: project id or path.
    pub project: Option<String>,
    /// github: owner/name.
    pub repo: Option<String>,
    /// github: the workflow file or id.
    pub workflow: Option<String>,
    /// The git ref the pipeline runs on (default main); --config-commit overrides it.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Environment variable holding the trigger token.
    pub token_env: Option<String>,
    /// gitlab: environment variable holding an API token to read the pipeline's status.
    pub status_token_env: Option<String>,
    /// webhook: polled with --wait until it answers {"status": "success"|"failed"}.
    pub status_url: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub estimated_duration: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub poll_interval: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub wait_timeout: Option<Duration>,
}

/// `[models.X.features]`: the feature pipeline's repository, the path to restore, DVC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// The git repository (relative to the config file's directory, or absolute).
    pub repo: PathBuf,
    /// The pipeline's path inside the repository (code and `.dvc` files).
    pub path: PathBuf,
    /// Restore the data artifacts with DVC too (default true).
    #[serde(default = "yes")]
    pub dvc: bool,
    /// The DVC remote to fetch missing objects from (default: the repository's default remote).
    pub remote: Option<String>,
}

fn yes() -> bool {
    true
}

/// Which GitOps controller manages the model's objects.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GitopsKind {
    Argocd,
    Flux,
}

/// What a rollback writes at `key`: the image running after it, its tag, or the model version.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GitopsValue {
    #[default]
    Image,
    Tag,
}

/// `[models.X.gitops]`: a rollback of a managed object suspends the controller's sync, rolls
/// back, commits the revert at `file`/`key` in `repo`, and resumes sync once git matches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitopsConfig {
    pub kind: GitopsKind,
    /// argocd: the Application.
    pub application: Option<String>,
    /// flux: the Kustomization, or the HelmRelease.
    pub kustomization: Option<String>,
    pub helm_release: Option<String>,
    /// Where that object lives (default `argocd`, or `flux-system`).
    pub namespace: Option<String>,
    /// kubeconfig context of the controller's object (default: the infra/serving one).
    pub context: Option<String>,
    /// The GitOps repository: a local clone (relative to the config file's directory).
    pub repo: PathBuf,
    /// The file in it, and the YAML key (`image.tag`, `spec.template.spec.containers[0].image`)
    /// holding the image (infra rollbacks) or the model version (model rollbacks).
    pub file: PathBuf,
    pub key: String,
    /// infra rollbacks: write the whole image (default) or only its tag.
    #[serde(default)]
    pub value: GitopsValue,
}

impl GitopsConfig {
    /// The controller's object: (kubectl resource, name, what it is called).
    pub fn object(&self) -> (&'static str, String, &'static str) {
        let n = |o: &Option<String>| o.clone().unwrap_or_default();
        match (self.kind, &self.helm_release) {
            (GitopsKind::Argocd, _) => (
                "applications.argoproj.io",
                n(&self.application),
                "Argo CD Application",
            ),
            (GitopsKind::Flux, Some(h)) => (
                "helmreleases.helm.toolkit.fluxcd.io",
                h.clone(),
                "Flux HelmRelease",
            ),
            (GitopsKind::Flux, None) => (
                "kustomizations.kustomize.toolkit.fluxcd.io",
                n(&self.kustomization),
                "Flux Kustomization",
            ),
        }
    }

    pub fn namespace(&self) -> String {
        self.namespace.clone().unwrap_or_else(|| {
            match self.kind {
                GitopsKind::Argocd => "argocd",
                GitopsKind::Flux => "flux-system",
            }
            .into()
        })
    }

    fn check(&self) -> Result<(), String> {
        let one = match self.kind {
            GitopsKind::Argocd => {
                if self.kustomization.is_some() || self.helm_release.is_some() {
                    return Err("kind = \"argocd\" takes `application`, not `kustomization` or `helm_release`".into());
                }
                self.application.as_ref().ok_or("kind = \"argocd\" needs `application = \"NAME\"`")?
            }
            GitopsKind::Flux => match (&self.kustomization, &self.helm_release, &self.application) {
                (_, _, Some(_)) => return Err("kind = \"flux\" takes `kustomization` or `helm_release`, not `application`".into()),
                (Some(k), None, None) => k,
                (None, Some(h), None) => h,
                _ => return Err("kind = \"flux\" needs exactly one of `kustomization = \"NAME\"` and `helm_release = \"NAME\"`".into()),
            },
        };
        if !dns_subdomain(one, 253) {
            return Err(format!(
                "`{one}` is not a Kubernetes name (lowercase letters, digits, `-` and `.`)"
            ));
        }
        if !dns_label(&self.namespace(), 63) {
            return Err(format!(
                "namespace `{}` is not a Kubernetes namespace name",
                self.namespace()
            ));
        }
        if let Some(c) = &self.context
            && !argv_text(c)
        {
            return Err(format!(
                "context `{c}` is not a usable kubeconfig context name"
            ));
        }
        if self.file.is_absolute()
            || self
                .file
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!(
                "file `{}` must be a path inside the repository (relative, without `..`)",
                self.file.display()
            ));
        }
        crate::rollback::kinds::gitops::yaml::parse_key(&self.key).map(|_| ())
    }
}

/// How `rollback infra` rolls the serving infrastructure back.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InfraStrategy {
    /// Not configured: `rollback infra` says how to configure it.
    #[default]
    None,
    /// `kubectl rollout undo deployment/D` + `kubectl rollout status`.
    Kubectl,
    /// `helm rollback RELEASE [REV] --wait`.
    Helm,
    /// Switch the Service's selector back to the standby colour.
    BlueGreen,
    /// Canary reversal: the VirtualService's stable subset gets 100, the canary 0, no mirror.
    Istio,
    /// Abort the Argo Rollout: the controller sends all traffic back to the stable version.
    ArgoRollouts,
    /// KServe canary reversal: the InferenceService's `canaryTrafficPercent` set to 0, until
    /// the previous revision takes all traffic.
    KserveCanary,
}

/// `[models.X.infra]`: the deployment or release that serves the model, and where it lives.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraConfig {
    #[serde(default)]
    pub strategy: InfraStrategy,
    pub deployment: Option<String>,
    pub release: Option<String>,
    pub namespace: Option<String>,
    /// kubeconfig context (default: the current context of KUBECONFIG).
    pub context: Option<String>,
    /// How long to wait for the rollout to become Ready (default 5m).
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// blue-green: the Service whose selector picks the live colour.
    pub service: Option<String>,
    /// blue-green: the selector key (default `color`).
    pub selector_key: Option<String>,
    /// blue-green: the two colours (default ["blue", "green"]).
    pub colors: Option<Vec<String>>,
    /// istio: the VirtualService, its stable and canary subsets, and the route that splits
    /// between them: `route` names it (needed when several do), `host` keeps to routes whose
    /// destinations are that host.
    pub virtual_service: Option<String>,
    pub stable_subset: Option<String>,
    pub canary_subset: Option<String>,
    pub route: Option<String>,
    pub host: Option<String>,
    /// istio: a third destination's share of the route goes to stable too (default: kept).
    #[serde(default)]
    pub others_to_stable: bool,
    /// argo-rollouts: the Rollout to abort.
    pub rollout: Option<String>,
    /// kserve-canary: the InferenceService whose canary is reversed.
    pub inference_service: Option<String>,
    /// istio: the model's shadow, the mirror destination `rollback infra --shadow` removes.
    pub shadow: Option<ShadowConfig>,
}

/// `shadow = { host = "ms", subset = "shadow" }`: where the VirtualService mirrors traffic for
/// the model in shadow mode. A mirror matches when its host and subset (none if not given) are
/// these.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShadowConfig {
    pub host: String,
    pub subset: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ServingKind {
    /// The model server follows the registry by itself.
    #[default]
    None,
    /// POST a reload URL, then poll a health URL until it reports the target version.
    Http,
    /// `kubectl rollout restart deployment/D` + `rollout status`: the pods re-read the registry.
    #[serde(rename = "kubectl-restart")]
    KubectlRestart,
    /// `kubectl set env deployment/D VAR=<version>` + `rollout status`.
    #[serde(rename = "kubectl-set-env")]
    KubectlSetEnv,
    /// `helm upgrade R CHART --reuse-values --set KEY=<version> --wait`.
    #[serde(rename = "helm-set")]
    HelmSet,
    /// A KServe InferenceService: its predictor's `storageUri` set to the target's artifact,
    /// then a wait for a new Ready revision serving it.
    Kserve,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingConfig {
    #[serde(default)]
    pub kind: ServingKind,
    /// POSTed {"model", "version"} by `candidate --designate`, so the server loads the rollback
    /// target before it is needed (pre-warming).
    pub prewarm_url: Option<String>,
    /// GET; a 2xx answer means the rollback target is loaded (warm). `{version}` is replaced by
    /// the target version.
    pub readiness_url: Option<String>,
    pub reload_url: Option<String>,
    pub health_url: Option<String>,
    /// JSON pointer to the served version in the health answer (default `/version`).
    pub version_pointer: Option<String>,
    /// kubectl-restart, kubectl-set-env: the Deployment that serves the model.
    pub deployment: Option<String>,
    /// kubectl-set-env: the variable that names the version (default MODEL_VERSION).
    pub env_var: Option<String>,
    /// kubectl-set-env: the model server's container (needed when the pod has several).
    pub container: Option<String>,
    /// kserve: the InferenceService that serves the model (in `namespace`).
    pub inference_service: Option<String>,
    /// helm-set: release, chart and the value key that names the version.
    pub release: Option<String>,
    pub chart: Option<String>,
    pub set_key: Option<String>,
    pub namespace: Option<String>,
    /// kubeconfig context (default: the current one; KUBECONFIG is honoured).
    pub context: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn opt_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let s = String::deserialize(d)?;
    crate::http::parse_size(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A positive duration such as `30s`, `15m`, `2h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration `{s}` ({e}); use e.g. `30s`, `15m`, `2h`"))?;
    if d.is_zero() {
        return Err(format!("duration `{s}` must be greater than zero"));
    }
    Ok(d)
}

/// Where the registry lives, after every source was consulted.
#[derive(Debug, Clone)]
pub enum RegistryTarget {
    Mlflow { uri: String },
    File { path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: Option<PathBuf>,
    pub registry: Option<RegistryTarget>,
    /// Whether the MLflow credential variables may go to `registry`: not when a config file
    /// points the registry away from the server MLFLOW_TRACKING_URI names.
    pub registry_credentials: bool,
    /// Each resolved value and where it came from, for `mlrb config`.
    pub sources: Vec<Setting>,
    pub http: HttpOptions,
    pub models: BTreeMap<String, ModelConfig>,
    pub state_dir: PathBuf,
    pub notify: NotifyConfig,
}

/// `[http]` → the limits and CA every client shares, set before any client is built.
fn http_transport(
    cfg: &HttpConfig,
    base: Option<&Path>,
    in_file: &dyn Fn(&str) -> String,
    sources: &mut Vec<Setting>,
) -> Result<(), CliError> {
    use crate::http::{DEFAULT_MAX_BODY, DEFAULT_MAX_PAGES, format_size};
    let from = |key: &str, set: bool| if set { in_file(key) } else { "default".into() };
    if cfg.max_pages == Some(0) {
        return Err(CliError::usage(format!(
            "{}: [http] max_pages must be at least 1",
            in_file("http.max_pages")
        )));
    }
    let ca_file = cfg.ca_file.as_ref().map(|p| match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.clone(),
    });
    if let Some(p) = &ca_file
        && let Err(e) = std::fs::metadata(p)
    {
        return Err(CliError::usage(format!(
            "{}: [http] ca_file {}: {e}",
            in_file("http.ca_file"),
            p.display()
        ))
        .with_hint("name a PEM file of CA certificates, or remove ca_file"));
    }
    let t = crate::http::Transport {
        max_body: cfg.max_body.unwrap_or(DEFAULT_MAX_BODY),
        max_pages: cfg.max_pages.unwrap_or(DEFAULT_MAX_PAGES),
        ca_file,
    };
    sources.push(Setting {
        key: "http.max_body".into(),
        value: format_size(t.max_body),
        source: from("http.max_body", cfg.max_body.is_some()),
    });
    sources.push(Setting {
        key: "http.max_pages".into(),
        value: t.max_pages.to_string(),
        source: from("http.max_pages", cfg.max_pages.is_some()),
    });
    sources.push(Setting {
        key: "http.ca_file".into(),
        value: t.ca_file.as_ref().map_or_else(
            || "(none; the platform's roots, SSL_CERT_FILE / SSL_CERT_DIR, and webpki's)".into(),
            |p| p.display().to_string(),
        ),
        source: from("http.ca_file", t.ca_file.is_some()),
    });
    crate::http::set_transport(t);
    Ok(())
}

/// One resolved value and its source: default, file:line, environment, flag.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// Where the registry location came from, named in registry error hints.
static REGISTRY_SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// "the registry URI came from …", for hints on registry errors.
pub fn registry_source() -> Option<&'static str> {
    REGISTRY_SOURCE.get().map(String::as_str)
}

/// A URL or URI-like text fit to print: parsed URLs lose userinfo and secret query values;
/// text that does not parse keeps only what precedes an `@` or `?`.
pub fn redact_str(s: &str) -> String {
    match reqwest::Url::parse(s) {
        Ok(u) => crate::http::redact_url(&u),
        Err(_) => {
            let cut = s.find(['@', '?']).map(|i| &s[..i]).unwrap_or(s);
            if cut.len() < s.len() {
                format!("{cut}…")
            } else {
                s.to_string()
            }
        }
    }
}

/// Whether two URLs share scheme, host and port.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// The line of each `table.key` in config text, for "file:line" sources. Best effort:
/// `[a.b]` headers and `key = value` lines; quoted names keep their text without quotes.
pub fn key_lines(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut table = String::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if let Some(h) = l.strip_prefix('[') {
            let h = h.trim_start_matches('[');
            let h = h.split(']').next().unwrap_or("");
            table = h.replace(['"', '\'', ' '], "");
            out.entry(table.clone()).or_insert(n + 1);
            continue;
        }
        if let Some((k, _)) = l.split_once('=') {
            let k = k.trim().replace(['"', '\''], "");
            let full = if table.is_empty() {
                k
            } else {
                format!("{table}.{k}")
            };
            out.entry(full).or_insert(n + 1);
        }
    }
    out
}

/// What the command line contributes to resolution.
#[derive(Debug, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub registry: Option<String>,
    pub state_dir: Option<PathBuf>,
}

/// A model as a command acts on it: the name typed, the registered name, the live mode.
#[derive(Debug, Clone)]
pub struct ModelTarget {
    pub key: String,
    pub registered_name: String,
    pub mode: LiveMode,
    /// Whether the mode was chosen (`--alias`, or `mode` in the config) rather than assumed:
    /// an assumed stage mode gives way to the model's alias when nothing is in Production.
    pub mode_chosen: bool,
    /// Why the mode is what it is, when mlrb found it in the registry rather than being told.
    pub mode_note: Option<String>,
    /// In alias mode: the version the alias names when the registry no longer holds it.
    pub alias_names_deleted: Option<u64>,
    pub serving: ServingConfig,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME/mlrb/mlrb.toml` (default `~/.config`).
pub fn xdg_config_file() -> Option<PathBuf> {
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
        .map(|d| d.join("mlrb").join("mlrb.toml"))
}

fn xdg_state_dir() -> PathBuf {
    env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("mlrb")
}

/// The config file to read, and why: `--config`, `MLRB_CONFIG`, `./mlrb.toml`, then the XDG
/// config dir.
fn find_config(explicit: Option<&Path>) -> Result<Option<(PathBuf, &'static str)>, CliError> {
    if let Some(p) = explicit {
        return Ok(Some((p.to_path_buf(), "--config")));
    }
    if let Some(p) = env("MLRB_CONFIG") {
        return Ok(Some((PathBuf::from(p), "environment MLRB_CONFIG")));
    }
    let local = PathBuf::from("mlrb.toml");
    if local.is_file() {
        return Ok(Some((local, "./mlrb.toml in the current directory")));
    }
    Ok(xdg_config_file()
        .filter(|p| p.is_file())
        .map(|p| (p, "the XDG config dir")))
}

/// The text of a config file mlrb may trust. A config decides where credentials go, so, as
/// git's safe.directory reasons, it must belong to this user (or root) and be writable by
/// nobody else; a file planted in a shared directory is refused, not read.
fn read_config(path: &Path) -> Result<String, CliError> {
    trusted(path)?;
    std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("cannot read config file {}: {e}", path.display()))
            .with_hint("pass --config PATH or set MLRB_CONFIG to a readable file; without one, mlrb uses MLFLOW_TRACKING_URI")
    })
}

#[cfg(unix)]
fn trusted(path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        // Reading it says what is wrong.
        return Ok(());
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(CliError::usage(format!(
            "config file {} belongs to uid {}, not to you (uid {me}); mlrb reads only configs of yours or root's",
            path.display(),
            meta.uid()
        ))
        .with_hint(
            "if you trust it, take it over (cp it to a file of yours and pass --config), or run from another directory; mlrb did nothing",
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(CliError::usage(format!(
            "config file {} can be changed by other users (mode {:o}); mlrb reads only configs nobody else can write",
            path.display(),
            meta.mode() & 0o777
        ))
        .with_hint(format!("chmod go-w {}", path.display())));
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_: &Path) -> Result<(), CliError> {
    Ok(())
}

/// Reads and checks a config file; errors name the file, line and key.
pub fn load_file(path: &Path) -> Result<FileConfig, CliError> {
    let text = read_config(path)?;
    parse(&text, path)
}

/// Parses and checks config text; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<FileConfig, CliError> {
    let mut cfg: FileConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| {
            text.as_bytes()[..s.start.min(text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        });
        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
        let snippet = line
            .and_then(|l| text.lines().nth(l - 1))
            .map(|s| format!(" (at `{}`)", s.trim()))
            .unwrap_or_default();
        CliError::usage(format!(
            "config {}{at}: {}{snippet}",
            path.display(),
            e.message().replace('\n', " ")
        ))
    })?;
    validate(&cfg).map_err(|m| CliError::usage(format!("config {}: {m}", path.display())))?;
    for (key, m) in &mut cfg.models {
        if let Some(mc) = &mut m.metrics {
            mc.expand_placeholder(key);
        }
    }
    Ok(cfg)
}

fn validate(cfg: &FileConfig) -> Result<(), String> {
    for (key, m) in &cfg.models {
        match (m.mode.unwrap_or_default(), &m.alias) {
            (Mode::Alias, None) => {
                return Err(format!(
                    "[models.{key}] has mode = \"alias\" but no `alias = \"…\"`"
                ));
            }
            (Mode::Stage, Some(_)) if m.mode.is_some() => {
                return Err(format!(
                    "[models.{key}] sets `alias` with mode = \"stage\"; use mode = \"alias\" or drop the alias"
                ));
            }
            _ => {}
        }
        if let Some(f) = &m.fallback {
            f.resolve()
                .map_err(|e| format!("[models.{key}.fallback] {e}"))?;
        }
        if m.serving.kind == ServingKind::Http
            && (m.serving.reload_url.is_none() || m.serving.health_url.is_none())
        {
            return Err(format!(
                "[models.{key}.serving] kind = \"http\" needs both reload_url and health_url"
            ));
        }
        let sv = &m.serving;
        let need = |field: &str, v: &Option<String>| -> Result<(), String> {
            if v.is_none() {
                return Err(format!(
                    "[models.{key}.serving] kind = \"{}\" needs `{field} = \"…\"`",
                    match sv.kind {
                        ServingKind::HelmSet => "helm-set",
                        ServingKind::KubectlSetEnv => "kubectl-set-env",
                        _ => "kubectl-restart",
                    }
                ));
            }
            Ok(())
        };
        if sv.container.is_some() && sv.kind != ServingKind::KubectlSetEnv {
            return Err(format!(
                "[models.{key}.serving] `container` applies only to kind = \"kubectl-set-env\" (the container the variable is set on)"
            ));
        }
        match sv.kind {
            ServingKind::KubectlRestart | ServingKind::KubectlSetEnv => {
                need("deployment", &sv.deployment)?
            }
            ServingKind::HelmSet => {
                need("release", &sv.release)?;
                need("chart", &sv.chart)?;
                need("set_key", &sv.set_key)?;
            }
            ServingKind::Kserve if sv.inference_service.is_none() || sv.namespace.is_none() => {
                return Err(format!(
                    "[models.{key}.serving] kind = \"kserve\" needs `inference_service = \"NAME\"` and `namespace = \"NS\"`"
                ));
            }
            _ => {}
        }
        if m.infra.strategy == InfraStrategy::KserveCanary
            && (m.infra.inference_service.is_none() || m.infra.namespace.is_none())
        {
            return Err(format!(
                "[models.{key}.infra] strategy = \"kserve-canary\" needs `inference_service = \"NAME\"` and `namespace = \"NS\"`"
            ));
        }
        match m.infra.strategy {
            InfraStrategy::Kubectl if m.infra.deployment.is_none() => {
                return Err(format!(
                    "[models.{key}.infra] strategy = \"kubectl\" needs `deployment = \"NAME\"`"
                ));
            }
            InfraStrategy::BlueGreen if m.infra.service.is_none() => {
                return Err(format!(
                    "[models.{key}.infra] strategy = \"blue-green\" needs `service = \"NAME\"`"
                ));
            }
            InfraStrategy::ArgoRollouts if m.infra.rollout.is_none() => {
                return Err(format!(
                    "[models.{key}.infra] strategy = \"argo-rollouts\" needs `rollout = \"NAME\"`"
                ));
            }
            s if m.infra.shadow.is_some() && s != InfraStrategy::Istio => {
                return Err(format!(
                    "[models.{key}.infra] shadow is the mirror destination of an Istio VirtualService: it needs strategy = \"istio\" and virtual_service = \"NAME\""
                ));
            }
            _ if m
                .infra
                .shadow
                .as_ref()
                .is_some_and(|s| s.host.trim().is_empty()) =>
            {
                return Err(format!(
                    "[models.{key}.infra] shadow needs a host: shadow = {{ host = \"HOST\", subset = \"SUBSET\" }}"
                ));
            }
            InfraStrategy::Istio if m.infra.virtual_service.is_none() => {
                return Err(format!(
                    "[models.{key}.infra] strategy = \"istio\" needs `virtual_service = \"NAME\"`"
                ));
            }
            InfraStrategy::Helm if m.infra.release.is_none() => {
                return Err(format!(
                    "[models.{key}.infra] strategy = \"helm\" needs `release = \"NAME\"`"
                ));
            }
            _ => {}
        }
        for (field, url) in [
            ("reload_url", &m.serving.reload_url),
            ("health_url", &m.serving.health_url),
            ("prewarm_url", &m.serving.prewarm_url),
            ("readiness_url", &m.serving.readiness_url),
        ] {
            if let Some(u) = url {
                reqwest::Url::parse(u).map_err(|e| {
                    format!("[models.{key}.serving] {field} `{u}` is not a URL ({e})")
                })?;
            }
        }
    }
    for (key, m) in &cfg.models {
        if let Some(g) = &m.gitops {
            g.check()
                .map_err(|e| format!("[models.{key}.gitops] {e}"))?;
        }
        validate_argv_values(key, m)?;
        validate_metrics(key, m)?;
        validate_no_userinfo(key, m)?;
    }
    if cfg.registry.kind == Some(RegistryKind::File) && cfg.registry.path.is_none() {
        return Err("[registry] kind = \"file\" needs `path = \"registry.json\"`".into());
    }
    Ok(())
}

/// Refuses `user:password@` in a URL: a credential there is printed wherever the URL is (plans,
/// errors, the journal, Slack), so credentials come only from the variables mlrb names.
fn no_userinfo(what: &str, url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url.trim()) {
        // Another scheme is refused where the URL is used, for being one.
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && (!u.username().is_empty() || u.password().is_some()) =>
        {
            Err(format!(
                "{what} `{}` carries a user name or password; mlrb takes no credentials in URLs (they would be printed and journaled): remove the `user:password@` part and give the credential in the variable the section names (auth_header_env, token_env, status_token_env) or in MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD",
                redact_str(url)
            ))
        }
        _ => Ok(()),
    }
}

/// Every URL of one model's sections, checked with `no_userinfo`.
fn validate_no_userinfo(key: &str, m: &ModelConfig) -> Result<(), String> {
    let sv = &m.serving;
    let mut urls: Vec<(&str, &str, Option<&str>)> = vec![
        ("serving", "reload_url", sv.reload_url.as_deref()),
        ("serving", "health_url", sv.health_url.as_deref()),
        ("serving", "prewarm_url", sv.prewarm_url.as_deref()),
        ("serving", "readiness_url", sv.readiness_url.as_deref()),
        ("drill", "inject_url", m.drill.inject_url.as_deref()),
    ];
    if let Some(mc) = &m.metrics {
        urls.push((
            "metrics",
            "prometheus_url",
            Some(mc.prometheus_url.as_str()),
        ));
    }
    if let Some(r) = &m.retrain {
        urls.push(("retrain", "url", r.url.as_deref()));
        urls.push(("retrain", "status_url", r.status_url.as_deref()));
    }
    for (section, field, url) in urls {
        if let Some(u) = url {
            no_userinfo(&format!("[models.{key}.{section}] {field}"), u)?;
        }
    }
    Ok(())
}

/// A DNS-1123 subdomain (Deployment, Service, Rollout, VirtualService names): lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit, at most `max` characters.
fn dns_subdomain(v: &str, max: usize) -> bool {
    !v.is_empty() && v.len() <= max && v.split('.').all(|l| dns_label(l, 63))
}

/// A DNS-1123 label (namespaces, subset names): as a subdomain, without dots.
fn dns_label(v: &str, max: usize) -> bool {
    !v.is_empty()
        && v.len() <= max
        && v.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && v.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Free text placed in an argv (a context, a chart): never an option, never a control character.
fn argv_text(v: &str) -> bool {
    !v.trim().is_empty() && !v.starts_with('-') && !v.chars().any(char::is_control)
}

/// A Kubernetes label value (a blue-green colour).
fn label_value(v: &str) -> bool {
    v.len() <= 63
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A Kubernetes label key: `[prefix/]name`, the prefix a DNS subdomain.
fn label_key(v: &str) -> bool {
    match v.rsplit_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix, 253) && label_value(name),
        None => label_value(v),
    }
}

/// An environment variable name as `kubectl set env` takes it (`VAR=value`).
fn env_var_name(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Every config value mlrb places in a kubectl, helm or dvc argv. A value such as
/// `deployment = "--kubeconfig=evil.yaml"` or `release = "--post-renderer=…"` would become an
/// option of the tool, so each is checked for what it names (a Kubernetes name is a DNS
/// subdomain or label) and none may start with `-`.
fn validate_argv_values(key: &str, m: &ModelConfig) -> Result<(), String> {
    type Check = fn(&str) -> bool;
    let subdomain: Check = |v| dns_subdomain(v, 253);
    let label: Check = |v| dns_label(v, 63);
    let release: Check = |v| dns_subdomain(v, 53);
    let text: Check = argv_text;
    let env_var: Check = env_var_name;
    let set_key: Check = |v| argv_text(v) && !v.contains([',', '=', ' ']);
    let label_value: Check = label_value;
    let label_key: Check = label_key;
    const SUBDOMAIN: &str = "a Kubernetes name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)";
    const LABEL: &str = "a Kubernetes namespace or label name (lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63)";
    const RELEASE: &str =
        "a helm release name (lowercase letters, digits, `-` and `.`, at most 53)";
    const TEXT: &str = "allowed here: it would become an option of the tool (it starts with `-`) or holds a control character";
    const ENV_VAR: &str =
        "an environment variable name (letters, digits and `_`, starting with a letter or `_`)";
    const SET_KEY: &str =
        "a helm value key (such as model.version; no `,`, `=` or spaces, not starting with `-`)";
    const LABEL_KEY: &str = "a Kubernetes label key";
    const LABEL_VALUE: &str = "a Kubernetes label value";
    let sv = &m.serving;
    let inf = &m.infra;
    let mut checks: Vec<(&str, &str, Option<&str>, Check, &str)> = vec![
        (
            "serving",
            "deployment",
            sv.deployment.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
        (
            "serving",
            "namespace",
            sv.namespace.as_deref(),
            label,
            LABEL,
        ),
        (
            "serving",
            "inference_service",
            sv.inference_service.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
        (
            "infra",
            "inference_service",
            inf.inference_service.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
        ("serving", "context", sv.context.as_deref(), text, TEXT),
        (
            "serving",
            "env_var",
            sv.env_var.as_deref(),
            env_var,
            ENV_VAR,
        ),
        (
            "serving",
            "release",
            sv.release.as_deref(),
            release,
            RELEASE,
        ),
        ("serving", "chart", sv.chart.as_deref(), text, TEXT),
        (
            "serving",
            "container",
            sv.container.as_deref(),
            label,
            LABEL,
        ),
        (
            "serving",
            "set_key",
            sv.set_key.as_deref(),
            set_key,
            SET_KEY,
        ),
        (
            "infra",
            "deployment",
            inf.deployment.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
        ("infra", "release", inf.release.as_deref(), release, RELEASE),
        ("infra", "namespace", inf.namespace.as_deref(), label, LABEL),
        ("infra", "context", inf.context.as_deref(), text, TEXT),
        (
            "infra",
            "service",
            inf.service.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
        (
            "infra",
            "selector_key",
            inf.selector_key.as_deref(),
            label_key,
            LABEL_KEY,
        ),
        (
            "infra",
            "virtual_service",
            inf.virtual_service.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
        (
            "infra",
            "stable_subset",
            inf.stable_subset.as_deref(),
            label,
            LABEL,
        ),
        (
            "infra",
            "canary_subset",
            inf.canary_subset.as_deref(),
            label,
            LABEL,
        ),
        ("infra", "route", inf.route.as_deref(), text, TEXT),
        ("infra", "host", inf.host.as_deref(), text, TEXT),
        (
            "infra",
            "rollout",
            inf.rollout.as_deref(),
            subdomain,
            SUBDOMAIN,
        ),
    ];
    for c in inf.colors.iter().flatten() {
        checks.push(("infra", "colors", Some(c), label_value, LABEL_VALUE));
    }
    if let Some(sh) = &inf.shadow {
        checks.push(("infra", "shadow.host", Some(sh.host.as_str()), text, TEXT));
        checks.push(("infra", "shadow.subset", sh.subset.as_deref(), label, LABEL));
    }
    if let Some(f) = &m.fallback {
        checks.extend([
            (
                "fallback",
                "deployment",
                f.deployment.as_deref(),
                subdomain,
                SUBDOMAIN,
            ),
            (
                "fallback",
                "service",
                f.service.as_deref(),
                subdomain,
                SUBDOMAIN,
            ),
            (
                "fallback",
                "namespace",
                f.namespace.as_deref(),
                label,
                LABEL,
            ),
            ("fallback", "context", f.context.as_deref(), text, TEXT),
            (
                "fallback",
                "env_var",
                f.env_var.as_deref(),
                env_var,
                ENV_VAR,
            ),
            (
                "fallback",
                "container",
                f.container.as_deref(),
                label,
                LABEL,
            ),
        ]);
    }
    let path_text = |p: &Path| p.to_str().map(argv_text).unwrap_or(false);
    if let Some(f) = &m.features {
        checks.push(("features", "remote", f.remote.as_deref(), text, TEXT));
        if !path_text(&f.path) {
            return Err(format!(
                "[models.{key}.features] path `{}` is not {TEXT}",
                f.path.display().to_string().escape_debug()
            ));
        }
    }
    for (section, field, value, ok, what) in checks {
        if let Some(v) = value
            && !ok(v)
        {
            return Err(format!(
                "[models.{key}.{section}] {field} `{}` is not {what}",
                v.escape_debug()
            ));
        }
    }
    Ok(())
}

/// The metric sections of one model: URLs, thresholds that agree, a baseline for what needs one.
fn validate_metrics(key: &str, m: &ModelConfig) -> Result<(), String> {
    use crate::metrics::decision::STANDARD;
    m.thresholds
        .check()
        .map_err(|e| format!("[models.{key}.thresholds] {e}"))?;
    let c = &m.controller;
    if c.consecutive_failures_required == 0 || c.blind_after == 0 {
        return Err(format!(
            "[models.{key}.controller] consecutive_failures_required and blind_after must be at least 1"
        ));
    }
    match (c.failures_in_window, c.window) {
        (Some(f), Some(w)) if f == 0 || w == 0 || f > w => {
            return Err(format!(
                "[models.{key}.controller] failures_in_window = {f} must be between 1 and window = {w}"
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(format!(
                "[models.{key}.controller] failures_in_window and window go together (M of the last N checks)"
            ));
        }
        _ => {}
    }
    let v = &m.verify;
    if !(v.tolerance > 0.0 && v.tolerance < 10.0) {
        return Err(format!(
            "[models.{key}.verify] tolerance = {} must be a fraction above 0 (0.10 = 10%)",
            v.tolerance
        ));
    }
    for k in m.baseline.values.keys() {
        let known = STANDARD.contains(&k.as_str())
            || m.metrics
                .as_ref()
                .is_some_and(|mc| mc.custom.contains_key(k));
        if !known {
            return Err(format!(
                "[models.{key}.baseline] unknown key `{k}`; expected source, offset, or a metric name ({}, or a custom metric)",
                STANDARD.join(", ")
            ));
        }
    }
    if m.baseline.offset.is_some() && m.baseline.source != Some(BaselineSource::Offset) {
        return Err(format!(
            "[models.{key}.baseline] `offset` needs source = \"offset\""
        ));
    }
    let Some(mc) = &m.metrics else {
        return Ok(());
    };
    let url = reqwest::Url::parse(&mc.prometheus_url).map_err(|e| {
        format!(
            "[models.{key}.metrics] prometheus_url `{}` is not a URL ({e})",
            mc.prometheus_url
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "[models.{key}.metrics] prometheus_url `{}` must be http:// or https://",
            mc.prometheus_url
        ));
    }
    if mc.queries().is_empty() {
        return Err(format!(
            "[models.{key}.metrics] names no query; set at least one of {} or a [models.{key}.metrics.custom.NAME]",
            STANDARD.join(", ")
        ));
    }
    for (name, c) in &mc.custom {
        if STANDARD.contains(&name.as_str()) {
            return Err(format!(
                "[models.{key}.metrics.custom.{name}] shadows the standard metric `{name}`; set it in [models.{key}.metrics] instead"
            ));
        }
        c.check()
            .map_err(|e| format!("[models.{key}.metrics.custom.{name}] {e}"))?;
    }
    // Metrics judged against a baseline need one: from config values, or a source that makes them.
    if m.baseline.source.unwrap_or_default() == BaselineSource::Config {
        let mut need: Vec<String> = Vec::new();
        if mc.prediction_diversity.is_some() {
            need.push("prediction_diversity".into());
        }
        for (name, c) in &mc.custom {
            if c.max_regression.is_some() {
                need.push(name.clone());
            }
        }
        for n in need {
            if !m.baseline.values.contains_key(&n) {
                return Err(format!(
                    "[models.{key}] metric `{n}` is judged against a baseline but has none: set [models.{key}.baseline] {n} = VALUE, or source = \"run\" (the rollback target's MLflow run) or \"offset\" (the same query before the deploy)"
                ));
            }
        }
    }
    Ok(())
}

fn env_bool(k: &str) -> bool {
    env(k).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

impl Settings {
    pub fn resolve(o: &Overrides) -> Result<Settings, CliError> {
        let found = find_config(o.config.as_deref())?;
        let config_path = found.as_ref().map(|(p, _)| p.clone());
        let text = match &config_path {
            Some(p) => Some(read_config(p)?),
            None => None,
        };
        let file = match (&config_path, &text) {
            (Some(p), Some(t)) => parse(t, p)?,
            _ => FileConfig::default(),
        };
        let lines = text.as_deref().map(key_lines).unwrap_or_default();
        // "file:line" for a key of the config file, for `mlrb config` and error hints.
        let in_file = |key: &str| -> String {
            let p = config_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            match lines.get(key) {
                Some(l) => format!("{p}:{l}"),
                None => p,
            }
        };
        let mut sources = Vec::new();
        sources.push(Setting {
            key: "config".into(),
            value: config_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(none)".into()),
            source: found
                .as_ref()
                .map(|(_, why)| why.to_string())
                .unwrap_or_else(|| "no --config, MLRB_CONFIG, ./mlrb.toml or XDG file".into()),
        });
        // Relative registry paths in a config file are relative to that file.
        let base = config_path
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        http_transport(&file.http, base.as_deref(), &in_file, &mut sources)?;
        let env_uri = env("MLFLOW_TRACKING_URI");
        let (registry, registry_source) = if let Some(r) = o.registry.clone() {
            (Some(parse_registry_arg(&r)), "--registry".to_string())
        } else if let Some(r) = env("MLRB_REGISTRY") {
            (
                Some(parse_registry_arg(&r)),
                "environment MLRB_REGISTRY".into(),
            )
        } else {
            match file.registry.kind {
                Some(RegistryKind::File) => {
                    let p = file.registry.path.clone().unwrap_or_default();
                    (
                        Some(RegistryTarget::File {
                            path: match (&base, p.is_relative()) {
                                (Some(b), true) => b.join(p),
                                _ => p,
                            },
                        }),
                        in_file("registry.path"),
                    )
                }
                _ => match (&file.registry.uri, &env_uri) {
                    (Some(u), _) => {
                        let at = in_file("registry.uri");
                        (
                            Some(parse_tracking_uri(u, &format!("[registry] uri ({at})"))?),
                            at,
                        )
                    }
                    (None, Some(u)) => (
                        Some(parse_tracking_uri(u, "MLFLOW_TRACKING_URI")?),
                        "environment MLFLOW_TRACKING_URI".into(),
                    ),
                    (None, None) => (None, "not set".into()),
                },
            }
        };
        if let Some(RegistryTarget::Mlflow { uri }) = &registry {
            no_userinfo(&format!("the registry URI (from {registry_source})"), uri).map_err(
                |e| {
                    CliError::usage(e).with_hint(
                        "export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead",
                    )
                },
            )?;
        }
        // MLflow credentials in the environment belong to the server MLFLOW_TRACKING_URI names.
        // A config file that points the registry elsewhere does not get them.
        let registry_credentials = match (&registry, &env_uri) {
            (Some(RegistryTarget::Mlflow { uri }), Some(e))
                if registry_source != "environment MLFLOW_TRACKING_URI" =>
            {
                same_origin(uri, e)
            }
            _ => true,
        };
        sources.push(Setting {
            key: "registry".into(),
            value: match &registry {
                Some(RegistryTarget::Mlflow { uri }) => redact_str(uri),
                Some(RegistryTarget::File { path }) => format!("file {}", path.display()),
                None => "(none)".into(),
            },
            source: registry_source.clone(),
        });
        let mut http = HttpOptions::default();
        let timeout_source =
            |key: &str, set: bool| if set { in_file(key) } else { "default".into() };
        if let Some(t) = file.registry.timeout {
            http.timeout = t;
        }
        if let Some(t) = file.registry.connect_timeout {
            http.connect_timeout = t;
        }
        sources.push(Setting {
            key: "registry.timeout".into(),
            value: humantime::format_duration(http.timeout).to_string(),
            source: timeout_source("registry.timeout", file.registry.timeout.is_some()),
        });
        sources.push(Setting {
            key: "registry.connect_timeout".into(),
            value: humantime::format_duration(http.connect_timeout).to_string(),
            source: timeout_source(
                "registry.connect_timeout",
                file.registry.connect_timeout.is_some(),
            ),
        });
        http.insecure_tls = env_bool("MLFLOW_TRACKING_INSECURE_TLS");
        http.ca_cert = env("MLFLOW_TRACKING_SERVER_CERT_PATH").map(PathBuf::from);
        http.client_cert = env("MLFLOW_TRACKING_CLIENT_CERT_PATH").map(PathBuf::from);
        for k in [
            "MLFLOW_TRACKING_INSECURE_TLS",
            "MLFLOW_TRACKING_SERVER_CERT_PATH",
            "MLFLOW_TRACKING_CLIENT_CERT_PATH",
        ] {
            if let Some(v) = env(k) {
                sources.push(Setting {
                    key: k.to_ascii_lowercase(),
                    value: v,
                    source: format!("environment {k}"),
                });
            }
        }
        for k in [
            "MLFLOW_TRACKING_TOKEN",
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
        ] {
            if env(k).is_some() {
                sources.push(Setting {
                    key: k.to_ascii_lowercase(),
                    value: if registry_credentials {
                        "set (hidden)".into()
                    } else {
                        "set (hidden), NOT sent: the registry is not the MLFLOW_TRACKING_URI server"
                            .into()
                    },
                    source: format!("environment {k}"),
                });
            }
        }
        let (state_dir, state_source) = if let Some(d) = o.state_dir.clone() {
            (d, "--state-dir".to_string())
        } else if let Some(d) = env("MLRB_STATE_DIR") {
            (PathBuf::from(d), "environment MLRB_STATE_DIR".into())
        } else {
            (
                xdg_state_dir(),
                "default (XDG_STATE_HOME or ~/.local/state)".into(),
            )
        };
        sources.push(Setting {
            key: "state_dir".into(),
            value: state_dir.display().to_string(),
            source: state_source,
        });
        for (key, m) in &file.models {
            let at = |k: &str| in_file(&format!("models.{key}.{k}"));
            sources.push(Setting {
                key: format!("models.{key}.registered_name"),
                value: m.registered_name.clone().unwrap_or_else(|| key.clone()),
                source: if m.registered_name.is_some() {
                    at("registered_name")
                } else {
                    "default (the key)".into()
                },
            });
            sources.push(Setting {
                key: format!("models.{key}.mode"),
                value: match (m.mode.unwrap_or_default(), &m.alias) {
                    (Mode::Alias, Some(a)) => format!("alias @{a}"),
                    _ => "stage Production".into(),
                },
                source: if m.mode.is_some() {
                    at("mode")
                } else {
                    "default (stage; an alias when nothing is in Production)".into()
                },
            });
        }
        if let Some(p) = &config_path {
            let _ = REGISTRY_SOURCE.set(format!("{registry_source} (config {})", p.display()));
        } else {
            let _ = REGISTRY_SOURCE.set(registry_source);
        }
        let settings = Settings {
            config_path,
            registry,
            registry_credentials,
            http,
            models: file.models,
            state_dir,
            notify: file.notify,
            sources,
        };
        crate::secrets::register(&settings);
        Ok(settings)
    }

    /// The model named on the command line, with `--alias` applied.
    pub fn model(&self, key: &str, alias: Option<&str>) -> Result<ModelTarget, CliError> {
        check_name(key)?;
        let cfg = self.models.get(key).cloned().unwrap_or_default();
        let mode_chosen = alias.is_some() || cfg.mode.is_some();
        let mode = match (alias, cfg.mode.unwrap_or_default(), &cfg.alias) {
            (Some(a), _, _) => {
                check_alias(a)?;
                LiveMode::Alias(a.to_string())
            }
            (None, Mode::Alias, Some(a)) => LiveMode::Alias(a.clone()),
            _ => LiveMode::Stage,
        };
        Ok(ModelTarget {
            key: key.to_string(),
            registered_name: cfg
                .registered_name
                .clone()
                .unwrap_or_else(|| key.to_string()),
            mode,
            mode_chosen,
            mode_note: None,
            alias_names_deleted: None,
            serving: cfg.serving,
        })
    }
}

/// A registry URI from MLFLOW_TRACKING_URI or `[registry] uri`: an MLflow tracking server over
/// HTTP(S). MLflow's other URI forms name stores mlrb cannot speak to; each gets its own fix.
fn parse_tracking_uri(u: &str, from: &str) -> Result<RegistryTarget, CliError> {
    let t = u.trim();
    let scheme = t.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => {
            no_userinfo(from, t).map_err(|e| {
                CliError::usage(e).with_hint(
                    "export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead",
                )
            })?;
            Ok(RegistryTarget::Mlflow { uri: t.to_string() })
        }
        Some("file") | None if !t.starts_with("databricks") => {
            let folder = t.strip_prefix("file://").unwrap_or(t);
            Err(CliError::usage(format!(
                "{from} is `{}`, a local MLflow store; mlrb speaks to an MLflow tracking server over HTTP(S)",
                redact_str(t).escape_debug()
            ))
            .with_hint(format!(
                "start a server on it: mlflow server --backend-store-uri {} --port 5000, then MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (mlrb's own registry file goes in --registry PATH)",
                if folder.is_empty() { "./mlruns" } else { folder }
            )))
        }
        _ => Err(CliError::usage(format!(
            "{from} is `{}`; mlrb speaks to an MLflow tracking server over http:// or https://",
            redact_str(t)
        ))
        .with_hint("for Databricks, use the workspace's https:// URL with MLFLOW_TRACKING_TOKEN")),
    }
}

fn parse_registry_arg(r: &str) -> RegistryTarget {
    let r = r.trim();
    if let Some(p) = r
        .strip_prefix("file://")
        .or_else(|| r.strip_prefix("file:"))
    {
        RegistryTarget::File { path: p.into() }
    } else if r.contains("://") {
        RegistryTarget::Mlflow { uri: r.to_string() }
    } else {
        RegistryTarget::File { path: r.into() }
    }
}

fn check_name(name: &str) -> Result<(), CliError> {
    if name.trim().is_empty() {
        return Err(CliError::usage("the model name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(CliError::usage(
            "the model name contains control characters (a newline?); pass the registered name exactly",
        ));
    }
    Ok(())
}

fn check_alias(a: &str) -> Result<(), CliError> {
    let ok = !a.is_empty()
        && a.len() <= 255
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(CliError::usage(format!(
            "alias `{}` is not valid; aliases are letters, digits, `_` and `-`",
            a.escape_debug()
        )));
    }
    Ok(())
}

/// The commented starter config `mlrb init` writes.
pub const STARTER: &str = r#"# mlrb.toml — which registry holds the truth about "what is live", and how each model rolls back.
# mlrb finds this file via --config, MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml.
# Every value below is a commented example: with none set, mlrb behaves exactly as with no file
# (the registry from MLFLOW_TRACKING_URI, the model argument as the registered name, live = the
# Production stage, or the model's alias when nothing is in Production). Uncomment what you need;
# `mlrb config` shows each resolved value and where it came from.
# Secrets never go here: mlrb reads them from the environment (MLFLOW_TRACKING_USERNAME /
# MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN).

# [registry]
# kind = "mlflow"                # or "file" (mlrb's embedded JSON registry)
# uri = "http://mlflow:5000"     # default: MLFLOW_TRACKING_URI
# path = "registry.json"         # with kind = "file"; relative to this file
# timeout = "30s"                # total time per registry request
# connect_timeout = "5s"

# [models.recsys]                # the name you type: mlrb rollback model recsys
# registered_name = "recommendation-model"   # the registered model name (defaults to the key)
# mode = "stage"                 # live = the Production stage; or "alias"
# alias = "champion"             # with mode = "alias": live = the version @champion points at

# How the model server picks up the new version after the registry changed.
# [models.recsys.serving]
# kind = "none"                  # the server follows the registry by itself; or "http",
#                                # "kubectl-restart", "kubectl-set-env", "helm-set", "kserve"
# reload_url = "http://model-server:8080/reload"     # kind = "http": POSTed {"model", "version"}
# health_url = "http://model-server:8080/health"     # polled until it reports the target version
# version_pointer = "/version"   # JSON pointer to the served version in the health answer
# timeout = "2m"
# deployment = "model-server"    # kubectl-restart / kubectl-set-env
# env_var = "MODEL_VERSION"      # kubectl-set-env: set to the target version
# container = "server"           # kubectl-set-env: on this container only (needed when the pod has several)
# release = "model-server"       # helm-set: helm upgrade RELEASE CHART --reuse-values --set KEY=<version>
# chart = "charts/model-server"
# set_key = "model.version"
# inference_service = "recsys"   # kind = "kserve": the InferenceService whose predictor storageUri is set
# namespace = "ml-serving"
# context = "prod"

# What serves when no safe rollback target is left: `mlrb rollback model recsys --fallback`.
# [models.recsys.fallback]
# description = "most-popular items, no ML"
# version = 1                    # a pre-built registry version; or a switch in the serving layer:
# switch = "kubectl-set-env"     # kubectl set env deployment/DEPLOYMENT ENV_VAR=VALUE (+ rollout status)
# deployment = "recs-api"
# env_var = "RECS_MODE"
# value = "popular"
# switch = "service-selector"    # or: replace the Service's selector with the fallback's pods'
# service = "recs"
# selector = { app = "recs-fallback" }
# `mlrb rollback model recsys --fallback --end` switches back to the value recorded in the journal.

# How `mlrb rollback features recsys --to COMMIT` restores the feature pipeline.
# [models.recsys.features]
# repo = "../feature-repo"       # a git repository
# path = "feature_pipeline"      # code and .dvc files restored to their state at COMMIT
# dvc = true                     # also restore the data artifacts (dvc fetch + checkout)
# remote = "storage"             # DVC remote for objects missing from the cache

# How `mlrb rollback retrain recsys --dataset-version D` triggers an emergency retrain.
# [models.recsys.retrain]
# kind = "gitlab"                # or "github" (workflow_dispatch) or "webhook"
# url = "https://gitlab.example.com"
# project = "ml/recsys-training" # gitlab; github: repo = "owner/name", workflow = "retrain.yml"
# ref = "main"
# token_env = "RETRAIN_TRIGGER_TOKEN"   # the token is read from this variable, never from here
# status_token_env = "GITLAB_API_TOKEN" # gitlab: to follow the pipeline with --wait
# estimated_duration = "45m"

# How `mlrb rollback infra recsys` rolls the serving infrastructure back.
# [models.recsys.infra]
# strategy = "kubectl"           # kubectl rollout undo + rollout status; or "helm" (helm rollback --wait),
#                                # "blue-green" (service = "model-server": selector back to the standby colour),
#                                # "istio" (virtual_service, stable_subset, canary_subset: canary to 0, mirror off,
#                                #   on the one route splitting between them; route = "NAME" / host = "HOST" pick it),
#                                # "argo-rollouts" (rollout = "model-server": abort, traffic back to stable),
#                                # "kserve-canary" (inference_service = "recsys": canaryTrafficPercent 0)
# deployment = "model-server"    # strategy = "kubectl"
# release = "model-server"       # strategy = "helm"
# namespace = "ml-serving"
# context = "prod"               # kubeconfig context; KUBECONFIG is honoured
# timeout = "5m"                 # how long the rollout may take to become Ready

# When Argo CD or Flux manages those objects, a rollback is refused unless mlrb may make it stick:
# suspend the controller's sync, roll back, commit the revert in the GitOps repository, resume.
# [models.recsys.gitops]
# kind = "argocd"                # or "flux" (kustomization = "recsys" or helm_release = "recsys")
# application = "recsys"
# namespace = "argocd"           # where the Application lives (flux: default "flux-system")
# repo = "../gitops"             # a local clone of the GitOps repository, relative to this file
# file = "apps/recsys/values.yaml"
# key = "image.tag"              # the YAML key holding the image (infra) or the model version
# value = "tag"                  # infra: write the tag only (default "image", the whole image)

# Metrics: `status` shows the decision (ROLLBACK NOW / INVESTIGATE / MONITOR), `rollback model`
# waits for them to recover, `mlrb watch recsys` rolls back by itself. Thresholds default to the
# reference document's (3000 $/min, 5% errors, 2000 ms p99; primary ≥ 0.80, diversity drop 20%).
# [models.recsys.metrics]
# prometheus_url = "http://prometheus:9090"
# auth_header_env = "PROMETHEUS_AUTH"   # variable holding the Authorization header value
# error_rate = 'sum(rate(model_errors_total{model="recsys"}[2m])) / sum(rate(model_requests_total{model="recsys"}[2m]))'
# prediction_diversity = 'avg(model_prediction_diversity{model="recsys"})'
# [models.recsys.baseline]
# source = "config"                     # or "run" (the target's MLflow run) or "offset"
# prediction_diversity = 0.73
# [models.recsys.controller]
# check_interval = "30s"
# consecutive_failures_required = 3
# [models.recsys.verify]
# tolerance = 0.10
# timeout = "15m"

# Drills: `mlrb drill recsys --sandbox` needs nothing; against this config's (staging) registry,
# serving and Prometheus the drill deploys a known-bad version (or asks your fault injector) and
# puts everything back afterwards.
# [models.recsys.drill]
# mttr_objective = "5m"
# breach = "promote"                    # or "endpoint" with inject_url = "http://…"
# version = 7                           # a version known to breach the metrics on staging

# Where a version records its training data, for `mlrb changes` (version tags, then run params/tags).
# [models.recsys.training_data]
# keys = ["dataset_version"]
# [notify]
# slack_webhook_env = "SLACK_WEBHOOK_URL"
"#;

#[cfg(test)]
mod fallback_tests {
    use super::*;

    fn fallback(text: &str) -> Result<Fallback, String> {
        let cfg: FileConfig = toml::from_str(&format!("[models.recsys.fallback]\n{text}"))
            .map_err(|e| e.to_string())?;
        cfg.models["recsys"].fallback.as_ref().unwrap().resolve()
    }

    #[test]
    fn a_fallback_is_a_version_or_a_switch_with_its_keys() {
        assert_eq!(fallback("version = 3"), Ok(Fallback::Version(3)));
        let Ok(Fallback::Switch(sw)) = fallback(
            "switch = \"kubectl-set-env\"\ndeployment = \"recs-api\"\nenv_var = \"RECS_MODE\"\nvalue = \"popular\"",
        ) else {
            panic!("an env switch")
        };
        assert_eq!(
            (
                sw.deployment.as_str(),
                sw.env_var.as_str(),
                sw.value.as_str()
            ),
            ("recs-api", "RECS_MODE", "popular")
        );
        assert_eq!(sw.timeout, Duration::from_secs(300));
        let Ok(Fallback::Switch(sw)) = fallback(
            "switch = \"service-selector\"\nservice = \"recs\"\nselector = { app = \"recs-fallback\" }",
        ) else {
            panic!("a selector switch")
        };
        assert_eq!(sw.selector["app"], "recs-fallback");
        for (text, why) in [
            ("version = 3\nswitch = \"kubectl-set-env\"", "both"),
            ("description = \"x\"", "needs `version = N`"),
            (
                "version = 3\nnamespace = \"prod\"",
                "`namespace` belongs to a serving switch",
            ),
            (
                "switch = \"kubectl-set-env\"\ndeployment = \"d\"\nvalue = \"x\"",
                "needs `env_var",
            ),
            (
                "switch = \"kubectl-set-env\"\ndeployment = \"d\"\nenv_var = \"M\"",
                "needs `value",
            ),
            (
                "switch = \"kubectl-set-env\"\ndeployment = \"d\"\nenv_var = \"A=B\"\nvalue = \"x\"",
                "not an environment variable name",
            ),
            (
                "switch = \"service-selector\"\nservice = \"recs\"\nselector = {}",
                "needs `selector",
            ),
            (
                "switch = \"service-selector\"\nservice = \"-x\"\nselector = { a = \"b\" }",
                "not a Kubernetes name",
            ),
            (
                "switch = \"service-selector\"\nservice = \"s\"\nselector = { \"a b\" = \"c\" }",
                "not a label",
            ),
        ] {
            let e = fallback(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
