//! A rollback as ordered steps, built from registry state and config alone; what --dry-run prints.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ServingConfig, ServingKind};
use crate::registry::{LiveMode, ModelVersion, Stage, tags};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Move a version to a stage (stage mode).
    Stage {
        version: u64,
        from: Stage,
        to: Stage,
    },
    /// Point the alias at a version (alias mode).
    Alias {
        alias: String,
        version: u64,
        previous: Option<u64>,
    },
    /// Write the five audit tags on a version.
    Tags { version: u64, role: String },
    /// Ask the model server to load the target version.
    Reload { url: String, version: u64 },
    /// Poll the model server until it reports the target version.
    AwaitServing {
        url: String,
        version: u64,
        #[serde(with = "humantime_serde_secs")]
        timeout: Duration,
    },
    /// Run a command (kubectl, helm) that makes the model server load the target; `awaits`
    /// marks a wait for readiness, whose failure means "rolled back, not verified".
    Command {
        argv: Vec<String>,
        #[serde(with = "humantime_serde_secs")]
        timeout: Duration,
        awaits: bool,
    },
    /// Point a KServe InferenceService's predictor at the target's artifact: `field` is the
    /// JSON pointer of its `storageUri`; a canary split is dropped.
    KservePatch {
        inference_service: String,
        namespace: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        field: String,
        storage_uri: String,
        version: u64,
    },
    /// Wait until the InferenceService is Ready with a new revision (not `previous`) taking
    /// all traffic; a revision that fails ends the wait with the controller's reason.
    KserveAwait {
        inference_service: String,
        namespace: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        previous: Option<String>,
        version: u64,
        #[serde(with = "humantime_serde_secs")]
        timeout: Duration,
    },
    /// Re-read the registry and confirm the new state.
    Verify,
}

mod humantime_serde_secs {
    use serde::Deserialize;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<std::time::Duration, D::Error> {
        u64::deserialize(d).map(std::time::Duration::from_secs)
    }

    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

impl Step {
    /// One line for the plan, naming the registry call or request it makes.
    pub fn describe(&self, model: &str) -> String {
        match self {
            Step::Stage { version, from, to } => {
                format!("registry  transition-stage  {model} v{version}: {from} → {to}")
            }
            Step::Alias {
                alias,
                version,
                previous,
            } => format!(
                "registry  set-alias         {model} @{alias} → v{version}{}",
                previous.map(|p| format!(" (was v{p})")).unwrap_or_default()
            ),
            Step::Tags { version, role } => format!(
                "registry  set-tag ×5        {model} v{version}: rollback.event_id, .timestamp, .triggered_by, .reason, .role={role}"
            ),
            Step::Reload { url, version } => {
                format!(
                    "serving   POST {}  {{\"model\": \"{model}\", \"version\": \"{version}\"}}",
                    crate::config::redact_str(url)
                )
            }
            Step::AwaitServing {
                url,
                version,
                timeout,
            } => format!(
                "serving   GET {} until it reports v{version} (timeout {})",
                crate::config::redact_str(url),
                humantime::format_duration(*timeout)
            ),
            Step::Command { argv, timeout, .. } => format!(
                "serving   {}",
                crate::exec::Cmd::from_argv(argv, *timeout).line()
            ),
            Step::KservePatch {
                inference_service,
                namespace,
                field,
                storage_uri,
                version,
                ..
            } => format!(
                "serving   kubectl patch inferenceservice/{inference_service} -n {namespace}: {} = {} (v{version})",
                field.trim_start_matches('/').replace('/', "."),
                crate::config::redact_str(storage_uri)
            ),
            Step::KserveAwait {
                inference_service,
                previous,
                version,
                timeout,
                ..
            } => format!(
                "serving   wait for inferenceservice/{inference_service} Ready with a new revision{} serving v{version} with all traffic (timeout {})",
                previous
                    .as_deref()
                    .map(|p| format!(" (after {p})"))
                    .unwrap_or_default(),
                humantime::format_duration(*timeout)
            ),
            Step::Verify => format!("verify    re-read the registry: {model} live = target only"),
        }
    }

    pub fn is_registry_write(&self) -> bool {
        matches!(
            self,
            Step::Stage { .. } | Step::Alias { .. } | Step::Tags { .. }
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub model: String,
    pub registered_name: String,
    pub mode: LiveMode,
    pub from: Vec<u64>,
    pub to: u64,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| s.describe(&self.registered_name))
            .collect()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for (i, line) in self.lines().iter().enumerate() {
            s.push_str(&format!("  {:>2}. {line}\n", i + 1));
        }
        s
    }
}

/// The steps of a model rollback. Stage mode makes the target live *before* anything is
/// archived, so every intermediate state serves a good model; audit tags follow the flip.
pub fn model_rollback(
    model: &str,
    registered_name: &str,
    mode: &LiveMode,
    versions: &[ModelVersion],
    target: &ModelVersion,
    serving: &ServingConfig,
) -> Plan {
    let live: Vec<&ModelVersion> = crate::registry::live_versions(versions, mode);
    let from: Vec<u64> = live
        .iter()
        .map(|v| v.version)
        .filter(|v| *v != target.version)
        .collect();
    let mut steps = Vec::new();
    match mode {
        LiveMode::Stage => {
            if target.stage != Stage::Production {
                steps.push(Step::Stage {
                    version: target.version,
                    from: target.stage,
                    to: Stage::Production,
                });
            }
            for v in live.iter().filter(|v| v.version != target.version) {
                steps.push(Step::Stage {
                    version: v.version,
                    from: v.stage,
                    to: Stage::Archived,
                });
            }
        }
        LiveMode::Alias(a) => steps.push(Step::Alias {
            alias: a.clone(),
            version: target.version,
            previous: from.first().copied(),
        }),
    }
    steps.push(Step::Tags {
        version: target.version,
        role: tags::ROLE_TARGET.into(),
    });
    for v in &from {
        steps.push(Step::Tags {
            version: *v,
            role: tags::ROLE_ROLLED_BACK_FROM.into(),
        });
    }
    if serving.kind == ServingKind::Http
        && let (Some(reload), Some(health)) = (&serving.reload_url, &serving.health_url)
    {
        steps.push(Step::Reload {
            url: reload.clone(),
            version: target.version,
        });
        steps.push(Step::AwaitServing {
            url: health.clone(),
            version: target.version,
            timeout: serving.timeout.unwrap_or(Duration::from_secs(120)),
        });
    }
    steps.extend(reload_commands(serving, target.version));
    steps.push(Step::Verify);
    Plan {
        model: model.to_string(),
        registered_name: registered_name.to_string(),
        mode: mode.clone(),
        from,
        to: target.version,
        steps,
    }
}

/// Programs a plan's serving command may run.
const SERVING_TOOLS: &[&str] = &["kubectl", "helm"];

/// Checks the serving steps of a plan read back from the journal against those the current
/// config makes for the same target. The journal is a file: what it says to run (a command, a
/// URL to POST) is run on `--resume` only if mlrb would run exactly that anyway.
/// The steps as recorded outside this process (the journal, the registry lease's intent): a
/// reload or health URL is kept redacted (its query values, userinfo and secret path cut), as
/// a URL's secret must not sit in a file or a tag; a resume takes the URL from the config.
pub fn recorded(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .cloned()
        .map(|s| match s {
            Step::Reload { url, version } => Step::Reload {
                url: crate::config::redact_str(&url),
                version,
            },
            Step::AwaitServing {
                url,
                version,
                timeout,
            } => Step::AwaitServing {
                url: crate::config::redact_str(&url),
                version,
                timeout,
            },
            s => s,
        })
        .collect()
}

/// A recorded URL names the configured one: equal to it, or to its redacted form.
fn configured(config: Option<&str>, recorded: &str) -> bool {
    config.is_some_and(|c| c == recorded || crate::config::redact_str(c) == recorded)
}

/// Resumed steps, checked by `check_resumed_serving`, with the configured URLs in place of
/// the recorded (redacted) ones.
pub fn with_configured_urls(steps: Vec<Step>, serving: &ServingConfig) -> Vec<Step> {
    steps
        .into_iter()
        .map(|s| match s {
            Step::Reload { version, .. } if serving.reload_url.is_some() => Step::Reload {
                url: serving.reload_url.clone().unwrap_or_default(),
                version,
            },
            Step::AwaitServing {
                version, timeout, ..
            } if serving.health_url.is_some() => Step::AwaitServing {
                url: serving.health_url.clone().unwrap_or_default(),
                version,
                timeout,
            },
            s => s,
        })
        .collect()
}

pub fn check_resumed_serving(
    steps: &[Step],
    serving: &ServingConfig,
    version: u64,
) -> Result<(), String> {
    let line = |argv: &[String]| crate::exec::Cmd::from_argv(argv, Duration::ZERO).line();
    let mut recorded = Vec::new();
    for s in steps {
        match s {
            Step::Command { argv, .. } => {
                if !argv
                    .first()
                    .is_some_and(|p| SERVING_TOOLS.contains(&p.as_str()))
                {
                    return Err(format!(
                        "the journal asks to run `{}`; a serving step runs only kubectl or helm",
                        line(argv)
                    ));
                }
                recorded.push(argv.clone());
            }
            Step::Reload { url, .. } if !configured(serving.reload_url.as_deref(), url) => {
                return Err(format!(
                    "the journal asks to POST {}, which is not the configured reload_url",
                    crate::config::redact_str(url)
                ));
            }
            Step::KservePatch {
                inference_service,
                namespace,
                context,
                ..
            }
            | Step::KserveAwait {
                inference_service,
                namespace,
                context,
                ..
            } if serving.kind != ServingKind::Kserve
                || serving.inference_service.as_deref() != Some(inference_service.as_str())
                || serving.namespace.as_deref() != Some(namespace.as_str())
                || serving.context != *context =>
            {
                return Err(format!(
                    "the journal names inferenceservice/{inference_service} in {namespace}, which is not the configured KServe serving"
                ));
            }
            Step::AwaitServing { url, .. } if !configured(serving.health_url.as_deref(), url) => {
                return Err(format!(
                    "the journal asks to poll {}, which is not the configured health_url",
                    crate::config::redact_str(url)
                ));
            }
            _ => {}
        }
    }
    let expected: Vec<Vec<String>> = reload_commands(serving, version)
        .into_iter()
        .filter_map(|s| match s {
            Step::Command { argv, .. } => Some(argv),
            _ => None,
        })
        .collect();
    if recorded != expected {
        let show = |cmds: &[Vec<String>]| {
            if cmds.is_empty() {
                "none".to_string()
            } else {
                cmds.iter()
                    .map(|a| format!("`{}`", line(a)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        return Err(format!(
            "the journal's serving commands ({}) are not what the current config makes ({})",
            show(&recorded),
            show(&expected)
        ));
    }
    Ok(())
}

/// Which container of the serving Deployment (its JSON) a `kubectl-set-env` reload sets the
/// variable on: the configured `container`, which must be one of them, else the only one. A
/// Deployment with several (a log shipper, a proxy) needs it named: the variable on a sidecar
/// would be a change nobody asked for.
pub fn serving_container(
    serving: &ServingConfig,
    deployment: &serde_json::Value,
) -> Result<String, String> {
    let names: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let shown = format!(
        "deployment/{}",
        serving.deployment.as_deref().unwrap_or_default()
    );
    match (&serving.container, names.as_slice()) {
        (Some(c), _) if names.contains(&c.as_str()) => Ok(c.clone()),
        (Some(c), _) => Err(format!(
            "[serving] container `{c}` matches no container of {shown}; its containers: {}",
            names.join(", ")
        )),
        (None, [one]) => Ok(one.to_string()),
        (None, []) => Err(format!("{shown} has no containers")),
        (None, several) => Err(format!(
            "{shown} has {} containers ({}) and [serving] names none: set `container = \"…\"` to the model server's, so {} is set on it alone",
            several.len(),
            several.join(", "),
            serving.env_var.as_deref().unwrap_or("MODEL_VERSION")
        )),
    }
}

/// The kubectl/helm commands of the `kubectl-restart`, `kubectl-set-env` and `helm-set` reloads.
pub fn reload_commands(serving: &ServingConfig, version: u64) -> Vec<Step> {
    use crate::exec::helm::Helm;
    use crate::exec::kubectl::Kubectl;
    let timeout = serving.timeout.unwrap_or(Duration::from_secs(300));
    let step = |c: crate::exec::Cmd, awaits: bool| Step::Command {
        argv: c.argv(),
        timeout: c.get_timeout(),
        awaits,
    };
    let k = Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    };
    let deployment = serving.deployment.clone().unwrap_or_default();
    match serving.kind {
        ServingKind::KubectlRestart => vec![
            step(k.restart(&deployment), false),
            step(k.status(&deployment, timeout), true),
        ],
        ServingKind::KubectlSetEnv => vec![
            step(
                k.set_env(
                    &deployment,
                    serving.container.as_deref(),
                    serving.env_var.as_deref().unwrap_or("MODEL_VERSION"),
                    &version.to_string(),
                ),
                false,
            ),
            step(k.status(&deployment, timeout), true),
        ],
        ServingKind::HelmSet => {
            let h = Helm {
                context: serving.context.clone(),
                namespace: serving.namespace.clone(),
            };
            vec![step(
                h.upgrade_set(
                    serving.release.as_deref().unwrap_or_default(),
                    serving.chart.as_deref().unwrap_or_default(),
                    serving.set_key.as_deref().unwrap_or_default(),
                    &version.to_string(),
                    timeout,
                ),
                false,
            )]
        }
        // KServe's steps need the target's artifact location, which only the registry knows.
        ServingKind::None | ServingKind::Http | ServingKind::Kserve => Vec::new(),
    }
}
