//! The serde types of `mlrb.toml`, their defaults and serde helpers: what the file may say,
//! before any check or resolution.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

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
    pub(super) fn expand_placeholder(&mut self, key: &str) {
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
    /// The git repository (relative to the config file's directory, or absolute); `Settings`
    /// holds it resolved against that directory.
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
    /// The GitOps repository: a local clone (relative to the config file's directory);
    /// `Settings` holds it resolved against that directory.
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
