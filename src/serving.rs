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

/// The serving Deployment as JSON, read within `within`; `None` when it cannot be read.
fn read_deployment(
    serving: &crate::config::ServingConfig,
    within: Duration,
) -> Option<serde_json::Value> {
    let name = serving.deployment.as_deref()?;
    let k = crate::exec::kubectl::Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    };
    let read = k
        .cmd(["get", "deployment", name, "-o", "json"])
        .timeout(within)
        .run();
    read.ok()
        .and_then(|o| serde_json::from_str::<serde_json::Value>(&o.stdout).ok())
}

/// Whether a `kubectl-set-env` Deployment's pod template sets the variable to `version` on
/// the model's container (`Err` says what it sets instead).
fn env_names(
    serving: &crate::config::ServingConfig,
    dep: &serde_json::Value,
    version: u64,
) -> Result<(), String> {
    let name = serving.deployment.as_deref().unwrap_or_default();
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
    if set.iter().any(|v| *v == version.to_string()) {
        Ok(())
    } else {
        Err(format!(
            "deployment/{name} sets {var}={}, not {version}",
            if set.is_empty() {
                "(unset)".to_string()
            } else {
                set.join(",")
            }
        ))
    }
}

/// Whether a `kubectl-set-env` reload of `version` is in the Deployment's pod template now (a
/// resumed rollback runs it again if not: someone may have set it back since). Unreadable:
/// not known to be done.
pub fn env_set_to(serving: &crate::config::ServingConfig, version: u64) -> bool {
    read_deployment(serving, Duration::from_secs(30))
        .is_some_and(|dep| env_names(serving, &dep, version).is_ok())
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
    let Some(dep) = read_deployment(serving, within) else {
        return Ok(());
    };
    let n = |p: &str| dep.pointer(p).and_then(serde_json::Value::as_u64);
    if serving.kind == ServingKind::KubectlSetEnv {
        env_names(serving, &dep, version)?;
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

/// KServe's InferenceService, as kubectl names the resource.
pub const ISVC: &str = "inferenceservices.serving.kserve.io";

/// kubectl for a KServe serving section.
pub fn kserve_kubectl(serving: &crate::config::ServingConfig) -> crate::exec::kubectl::Kubectl {
    crate::exec::kubectl::Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    }
}

/// The JSON pointer of the predictor's `storageUri`: `spec.predictor.model` (KServe's
/// `modelFormat` style) when there is one, else the framework's own spec (`spec.predictor.sklearn`)
/// that holds one.
pub fn storage_uri_field(isvc: &serde_json::Value) -> Result<String, String> {
    let predictor = isvc
        .pointer("/spec/predictor")
        .and_then(serde_json::Value::as_object)
        .ok_or("it has no spec.predictor")?;
    if predictor
        .get("model")
        .is_some_and(serde_json::Value::is_object)
    {
        return Ok("/spec/predictor/model/storageUri".into());
    }
    predictor
        .iter()
        .find(|(_, v)| v.get("storageUri").is_some())
        .map(|(k, _)| format!("/spec/predictor/{k}/storageUri"))
        .ok_or_else(|| {
            "its predictor has no `model` and no framework spec with a storageUri".to_string()
        })
}

/// The predictor's status (`status.components.predictor`) in a few words: Ready, revisions,
/// traffic, and the controller's failure message when there is one.
pub fn kserve_state(isvc: &serde_json::Value) -> String {
    let p = &isvc["status"]["components"]["predictor"];
    let ready = condition(isvc, "Ready")
        .map(|c| c["status"].as_str().unwrap_or("Unknown").to_string())
        .unwrap_or_else(|| "Unknown".into());
    let mut out = vec![format!("Ready {ready}")];
    for (k, label) in [
        ("latestCreatedRevision", "latest created"),
        ("latestReadyRevision", "latest ready"),
    ] {
        if let Some(r) = p[k].as_str() {
            out.push(format!("{label} {r}"));
        }
    }
    let traffic = traffic(isvc)
        .iter()
        .map(|(r, pct)| format!("{r} {pct}%"))
        .collect::<Vec<_>>();
    if !traffic.is_empty() {
        out.push(format!("traffic {}", traffic.join(", ")));
    }
    out.join(", ")
}

fn condition<'a>(isvc: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    isvc["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// The predictor's traffic split: (revision, percent), as Knative's traffic targets say it.
pub fn traffic(isvc: &serde_json::Value) -> Vec<(String, u64)> {
    isvc["status"]["components"]["predictor"]["traffic"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t["revisionName"].as_str()?.to_string(),
                t["percent"].as_u64().unwrap_or(0),
            ))
        })
        .collect()
}

/// Why the InferenceService's newest revision failed, in the controller's words: a False
/// condition's reason and message, or the model status's last failure.
fn kserve_failure(isvc: &serde_json::Value) -> Option<String> {
    let failed = [
        "PredictorConfigurationReady",
        "LatestDeploymentReady",
        "PredictorReady",
        "Ready",
    ]
    .iter()
    .filter_map(|k| condition(isvc, k))
    .find(|c| c["status"] == "False" && c["reason"].as_str().is_some_and(|r| r.contains("Fail")))
    .map(|c| {
        format!(
            "{}: {}",
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        )
    });
    let info = &isvc["status"]["modelStatus"]["lastFailureInfo"];
    failed.or_else(|| {
        info["reason"]
            .as_str()
            .map(|r| format!("{r}: {}", info["message"].as_str().unwrap_or("")))
    })
}

/// Whether the InferenceService serves the change: its controller has observed the spec, it is
/// Ready, its latest ready revision is the latest created one and not `previous`, and that
/// revision takes all traffic. `Ok(Some(revision))` when it does, `Ok(None)` while it is on
/// its way, `Err` with the reason when the new revision failed.
pub fn kserve_served(
    isvc: &serde_json::Value,
    previous: Option<&str>,
) -> Result<Option<String>, String> {
    let p = &isvc["status"]["components"]["predictor"];
    let generation = isvc["metadata"]["generation"].as_u64().unwrap_or(0);
    let observed = isvc["status"]["observedGeneration"].as_u64().unwrap_or(0);
    if observed < generation {
        return Ok(None);
    }
    let created = p["latestCreatedRevision"].as_str();
    let ready = p["latestReadyRevision"].as_str();
    if created.is_some()
        && created != ready
        && let Some(why) = kserve_failure(isvc)
    {
        return Err(format!(
            "revision {} did not become ready: {why}",
            created.unwrap_or("?")
        ));
    }
    let Some(ready) = ready.filter(|r| Some(*r) == created && Some(*r) != previous) else {
        return Ok(None);
    };
    let all = traffic(isvc)
        .iter()
        .all(|(r, pct)| (r == ready) == (*pct == 100) && (r == ready || *pct == 0));
    let ready_true = condition(isvc, "Ready").is_some_and(|c| c["status"] == "True");
    Ok((ready_true && all).then(|| ready.to_string()))
}

/// Polls the InferenceService until `kserve_served` says it serves the change, fails, or
/// `timeout` passes; says the revision that serves.
pub fn kserve_await(
    k: &crate::exec::kubectl::Kubectl,
    name: &str,
    previous: Option<&str>,
    timeout: Duration,
) -> Result<String, String> {
    let start = Instant::now();
    let mut last;
    loop {
        match k.get_json(ISVC, name) {
            Ok(isvc) => match kserve_served(&isvc, previous) {
                Ok(Some(rev)) => {
                    return Ok(format!(
                        "inferenceservice/{name} is Ready: revision {rev} takes all traffic (after {:.1}s)",
                        start.elapsed().as_secs_f64()
                    ));
                }
                Ok(None) => last = kserve_state(&isvc),
                Err(why) => {
                    return Err(format!(
                        "inferenceservice/{name}: {why} ({}); the previous revision still serves",
                        kserve_state(&isvc)
                    ));
                }
            },
            Err(e) => last = e.to_string(),
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "inferenceservice/{name} did not serve a new Ready revision within {}: {last}",
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The merge patch that points the predictor at `uri` (at `field`, a JSON pointer under
/// `/spec/predictor`) and drops a canary split, so the new revision takes all traffic.
pub fn kserve_patch(field: &str, uri: &str) -> serde_json::Value {
    let mut patch = json!({"spec": {"predictor": {"canaryTrafficPercent": null}}});
    let parts: Vec<&str> = field.trim_start_matches('/').split('/').collect();
    let mut at = &mut patch;
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            at[*part] = json!(uri);
        } else {
            if !at[*part].is_object() {
                at[*part] = json!({});
            }
            at = &mut at[*part];
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kserve_rollback_is_served_only_by_a_new_ready_revision_with_all_traffic() {
        let mut isvc = json!({"metadata": {"generation": 2},
            "spec": {"predictor": {"model": {"storageUri": "s3://m/v1"}}},
            "status": {"observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True"}],
                "components": {"predictor": {
                    "latestCreatedRevision": "m-predictor-00001",
                    "latestReadyRevision": "m-predictor-00001",
                    "traffic": [{"revisionName": "m-predictor-00001", "percent": 100}]}}}});
        let prev = Some("m-predictor-00001");
        assert_eq!(kserve_served(&isvc, prev), Ok(None), "not observed yet");
        isvc["status"]["observedGeneration"] = json!(2);
        assert_eq!(
            kserve_served(&isvc, prev),
            Ok(None),
            "still the previous revision"
        );
        isvc["status"]["components"]["predictor"]["latestCreatedRevision"] =
            json!("m-predictor-00002");
        isvc["status"]["conditions"] = json!([{"type": "Ready", "status": "False",
            "reason": "RevisionFailed", "message": "Revision \"m-predictor-00002\" failed"}]);
        assert_eq!(
            kserve_served(&isvc, prev),
            Err("revision m-predictor-00002 did not become ready: RevisionFailed: Revision \"m-predictor-00002\" failed".into())
        );
        isvc["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        isvc["status"]["components"]["predictor"]["latestReadyRevision"] =
            json!("m-predictor-00002");
        isvc["status"]["components"]["predictor"]["traffic"] = json!([
            {"revisionName": "m-predictor-00001", "percent": 90},
            {"revisionName": "m-predictor-00002", "percent": 10}]);
        assert_eq!(kserve_served(&isvc, prev), Ok(None), "a canary split");
        isvc["status"]["components"]["predictor"]["traffic"] =
            json!([{"revisionName": "m-predictor-00002", "percent": 100}]);
        assert_eq!(
            kserve_served(&isvc, prev),
            Ok(Some("m-predictor-00002".into()))
        );
        assert_eq!(
            storage_uri_field(&json!({"spec": {"predictor": {"sklearn": {"storageUri": "x"}}}})),
            Ok("/spec/predictor/sklearn/storageUri".into())
        );
        assert_eq!(
            kserve_patch("/spec/predictor/model/storageUri", "s3://m/v0"),
            json!({"spec": {"predictor": {"canaryTrafficPercent": null,
                "model": {"storageUri": "s3://m/v0"}}}})
        );
    }

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
