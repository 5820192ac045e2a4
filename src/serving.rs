//! Serving reloads: tell the model server to load the version the registry now names, and wait
//! until it says it serves it. kubectl and helm reloads plug in beside `http` here.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::http::{Http, HttpOptions, error_detail, one_line};

/// POSTs `{"model", "version"}` to the reload URL; any 2xx is success.
pub fn reload(http: &Http, url: &str, model: &str, version: u64) -> Result<String, String> {
    let shown = crate::config::redact_str(url);
    let body = json!({"model": model, "version": version.to_string()});
    // A reload asks the server to load a version: asking twice is harmless.
    let resp = http
        .send(|c| c.post(url).json(&body), true)
        .map_err(|e| format!("reload request to {shown} failed: {}", error_detail(&e)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(format!("{shown} answered {}", status.as_u16()))
    } else {
        Err(format!(
            "reload request to {shown} answered {}: {}",
            status.as_u16(),
            one_line(&crate::http::error_text(resp), 160)
        ))
    }
}

/// Polls the health URL until the JSON value at `pointer` equals `version`, or the timeout ends.
pub fn await_version(
    http: &Http,
    url: &str,
    pointer: &str,
    version: u64,
    timeout: Duration,
) -> Result<String, String> {
    let shown = crate::config::redact_str(url);
    let start = Instant::now();
    let want = version.to_string();
    let mut last;
    loop {
        match http.send(|c| c.get(url), false) {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = http.read_text(resp);
                match body
                    .as_ref()
                    .map(|b| serde_json::from_str::<serde_json::Value>(b))
                {
                    Ok(Ok(v)) => match v.pointer(pointer) {
                        Some(found) => {
                            let got = match found {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            if got.trim_start_matches('v') == want && (200..300).contains(&status) {
                                return Ok(format!(
                                    "{shown} reports version {got} after {:.1}s",
                                    start.elapsed().as_secs_f64()
                                ));
                            }
                            last = format!("it reports version {got} (HTTP {status})");
                        }
                        None => last = format!("its answer has no {pointer} (HTTP {status})"),
                    },
                    Err(e) => last = format!("HTTP {status}: {e}"),
                    Ok(Err(_)) => last = format!("HTTP {status} without a JSON body"),
                }
            }
            Err(e) => last = error_detail(&e),
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "the model server did not report v{version} at {shown} within {}: {last}",
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Asks the model server to load the rollback target now, before it is needed.
pub fn prewarm(http: &Http, url: &str, model: &str, version: u64) -> Result<String, String> {
    reload(http, url, model, version).map(|r| format!("prewarm: {r}"))
}

/// Whether the model server has `version` loaded: GET the readiness URL (`{version}` filled in),
/// a 2xx answer means warm. `Err` when the server could not be asked.
pub fn readiness(http: &Http, url: &str, version: u64) -> Result<bool, String> {
    let url = url.replace("{version}", &version.to_string());
    // A status read: retried like any idempotent call.
    match http.send(|c| c.get(&url), true) {
        Ok(r) => Ok(r.status().is_success()),
        Err(e) => Err(error_detail(&e)),
    }
}

/// An HTTP client for the model server: short per-request timeouts, the caller's overall one.
pub fn client() -> Result<Http, String> {
    Http::new(&HttpOptions {
        connect_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        ..HttpOptions::default()
    })
}

/// The pod template of a kubectl serving Deployment (`kubectl-restart`, `kubectl-set-env`), as a
/// drill snapshots it before its breach and compares it after its restore; `None` for the other
/// kinds. The restart stamp is left out: a restart is what the reload is.
pub fn deployment_template(
    serving: &crate::config::ServingConfig,
) -> Result<Option<serde_json::Value>, String> {
    use crate::config::ServingKind;
    if !matches!(
        serving.kind,
        ServingKind::KubectlRestart | ServingKind::KubectlSetEnv
    ) {
        return Ok(None);
    }
    let name = serving.deployment.as_deref().unwrap_or_default();
    let k = crate::exec::kubectl::Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    };
    let dep = k
        .get_json("deployment", name)
        .map_err(|e| format!("cannot read deployment/{name}: {e}"))?;
    let mut t = dep["spec"]["template"].clone();
    if let Some(a) = t
        .pointer_mut("/metadata/annotations")
        .and_then(serde_json::Value::as_object_mut)
    {
        a.remove("kubectl.kubernetes.io/restartedAt");
    }
    Ok(Some(t))
}

/// Every difference between two pod templates, one line each naming the field
/// (`containers[log-shipper].env[MODEL_VERSION]`): list items with a `name` are matched by it.
pub fn template_diff(
    shown: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
) -> Vec<String> {
    use serde_json::Value;
    fn walk(path: String, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
        let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), |v| format!("`{v}`"));
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    walk(format!("{path}.{k}"), x.get(k), y.get(k), out);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y)))
                if x.iter().chain(y).all(|i| i["name"].is_string()) =>
            {
                let key = |i: &Value| i["name"].as_str().unwrap_or("").to_string();
                let names: Vec<String> = x
                    .iter()
                    .map(key)
                    .chain(
                        y.iter()
                            .map(key)
                            .filter(|n| !x.iter().any(|i| key(i) == *n)),
                    )
                    .collect();
                for n in names {
                    let find = |l: &Vec<Value>| l.iter().find(|i| key(i) == n).cloned();
                    walk(
                        format!("{path}[{n}]"),
                        find(x).as_ref(),
                        find(y).as_ref(),
                        out,
                    );
                }
            }
            (a, b) if a != b => out.push(format!("{path}: {} before, {} after", show(a), show(b))),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("template".into(), Some(before), Some(after), &mut out);
    out.into_iter()
        .map(|d| format!("serving {shown} {d}"))
        .collect()
}

/// Whether a kubectl serving Deployment runs `version` on Ready pods: its controller has
/// observed the last change, every replica is updated and ready (and there is one), and with
/// `kubectl-set-env` the variable names `version`. `Err` says what it shows instead; other
/// kinds, and a Deployment that cannot be read, say nothing against it.
pub fn converged(
    serving: &crate::config::ServingConfig,
    version: u64,
    within: Duration,
) -> Result<(), String> {
    use crate::config::ServingKind;
    if !matches!(
        serving.kind,
        ServingKind::KubectlRestart | ServingKind::KubectlSetEnv
    ) {
        return Ok(());
    }
    let name = serving.deployment.as_deref().unwrap_or_default();
    let k = crate::exec::kubectl::Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    };
    let read = k
        .cmd(["get", "deployment", name, "-o", "json"])
        .timeout(within)
        .run();
    let Some(dep) = read
        .ok()
        .and_then(|o| serde_json::from_str::<serde_json::Value>(&o.stdout).ok())
    else {
        return Ok(());
    };
    let n = |p: &str| dep.pointer(p).and_then(serde_json::Value::as_u64);
    if serving.kind == ServingKind::KubectlSetEnv {
        let var = serving.env_var.as_deref().unwrap_or("MODEL_VERSION");
        let set: Vec<String> = dep["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                serving
                    .container
                    .as_deref()
                    .is_none_or(|want| c["name"] == want)
            })
            .flat_map(|c| c["env"].as_array().into_iter().flatten())
            .filter(|e| e["name"] == var)
            .map(|e| e["value"].as_str().unwrap_or("").to_string())
            .collect();
        if !set.iter().any(|v| *v == version.to_string()) {
            return Err(format!(
                "deployment/{name} sets {var}={}, not {version}",
                if set.is_empty() {
                    "(unset)".to_string()
                } else {
                    set.join(",")
                }
            ));
        }
    }
    let wanted = n("/spec/replicas").unwrap_or(1);
    let (generation, observed) = (n("/metadata/generation"), n("/status/observedGeneration"));
    let updated = n("/status/updatedReplicas").unwrap_or(0);
    let ready = n("/status/readyReplicas").unwrap_or(0);
    let total = n("/status/replicas").unwrap_or(0);
    if wanted == 0 {
        return Err(format!("deployment/{name} is scaled to 0 replicas"));
    }
    if observed < generation || updated < wanted || ready < wanted || total > updated {
        return Err(format!(
            "the rollout of deployment/{name} is not Ready ({updated}/{wanted} updated, {ready}/{wanted} ready, {total} pods in all)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_difference_names_the_container_and_the_variable() {
        let before = json!({"spec": {"containers": [
            {"name": "server", "image": "a", "env": [{"name": "MODEL_VERSION", "value": "2"}]},
            {"name": "log-shipper", "image": "b"},
        ]}});
        let mut after = before.clone();
        after["spec"]["containers"][1]["env"] = json!([{"name": "MODEL_VERSION", "value": "2"}]);
        assert_eq!(
            template_diff("deployment/ms", &before, &before),
            Vec::<String>::new()
        );
        assert_eq!(
            template_diff("deployment/ms", &before, &after),
            [
                "serving deployment/ms template.spec.containers[log-shipper].env: (absent) before, `[{\"name\":\"MODEL_VERSION\",\"value\":\"2\"}]` after"
            ]
        );
    }
}
