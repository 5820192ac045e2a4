//! Checks of a parsed `mlrb.toml`: each failure is one line naming the section and key, and
//! what to write instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::redact_str;
use super::schema::*;

/// A checked `[models.X.fallback]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// A registry version, made live like any rollback target.
    Version(u64),
    /// A switch in the serving layer; the registry is not touched.
    Switch(Box<Switch>),
}

/// A model's fallback as commands act on it: what it is, and how plans and reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredFallback {
    pub fallback: Fallback,
    /// `description`, for the plan and the report ("most-popular heuristic").
    pub description: Option<String>,
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

impl GitopsConfig {
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

pub(super) fn validate(cfg: &FileConfig) -> Result<(), String> {
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
        validate_retrain(key, m)?;
        validate_no_userinfo(key, m)?;
    }
    if cfg.registry.kind == Some(RegistryKind::File) && cfg.registry.path.is_none() {
        return Err("[registry] kind = \"file\" needs `path = \"registry.json\"`".into());
    }
    Ok(())
}

/// `[models.X.retrain]`: the keys its kind needs to reach CI, and, except for a webhook, the
/// variable holding the trigger token (its value is read when a retrain is triggered).
fn validate_retrain(key: &str, m: &ModelConfig) -> Result<(), String> {
    let Some(r) = &m.retrain else {
        return Ok(());
    };
    let need = |field: &str, v: &Option<String>| -> Result<(), String> {
        if v.as_deref().is_none_or(str::is_empty) {
            return Err(format!("[models.{key}.retrain] needs `{field} = \"…\"`"));
        }
        Ok(())
    };
    match r.kind {
        RetrainKind::Gitlab => {
            need("url", &r.url)?;
            need("project", &r.project)?;
        }
        RetrainKind::Github => {
            need("repo", &r.repo)?;
            need("workflow", &r.workflow)?;
        }
        RetrainKind::Webhook => need("url", &r.url)?,
    }
    if r.kind != RetrainKind::Webhook && r.token_env.is_none() {
        return Err(format!(
            "[models.{key}.retrain] needs `token_env = \"VAR\"`: the environment variable holding the CI token"
        ));
    }
    Ok(())
}

/// Refuses `user:password@` in a URL: a credential there is printed wherever the URL is (plans,
/// errors, the journal, Slack), so credentials come only from the variables mlrb names.
pub(super) fn no_userinfo(what: &str, url: &str) -> Result<(), String> {
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
