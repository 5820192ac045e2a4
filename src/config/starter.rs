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
