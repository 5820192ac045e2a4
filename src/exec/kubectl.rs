//! `kubectl`: deployments' rollout history, undo and status, with context and namespace applied.
//! KUBECONFIG is honoured because kubectl reads it from the inherited environment.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::runner::{Cmd, ExecError};

pub const INSTALL: &str =
    "kubectl (https://kubernetes.io/docs/tasks/tools/; Debian: apt-get install kubernetes-client)";

/// The longest `get_deployment` waits for the controller to observe the Deployment's last change.
pub const OBSERVE_TIMEOUT: Duration = Duration::from_secs(60);
const OBSERVE_POLL: Duration = Duration::from_millis(250);

/// Reading a Deployment failed, or its controller has not caught up with its spec.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(
        "the deployment controller has not observed the latest change of deployment/{name} within {} (generation {generation}, observed {observed}), so its rollout history is not settled",
        humantime::format_duration(*.within)
    )]
    NotObserved {
        name: String,
        generation: u64,
        observed: u64,
        within: Duration,
        /// `kubectl describe deployment NAME`, with the context and namespace.
        describe: String,
    },
}

impl DeploymentError {
    /// What to do next, for a controller that has not caught up.
    pub fn hint(&self) -> Option<String> {
        match self {
            DeploymentError::Exec(_) => None,
            DeploymentError::NotObserved { describe, .. } => Some(format!(
                "is kube-controller-manager running? `{describe}` shows its conditions and events (e.g. a ReplicaSet it cannot create: quota, admission webhook); re-run once .status.observedGeneration equals .metadata.generation"
            )),
        }
    }
}

/// Where kubectl points: optional context and namespace from config.
#[derive(Debug, Clone, Default)]
pub struct Kubectl {
    pub context: Option<String>,
    pub namespace: Option<String>,
}

/// One revision of a Deployment, read from its ReplicaSets.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub revision: u64,
    pub change_cause: String,
    pub images: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub current: bool,
    /// The ReplicaSet's name: it stays when a rollback makes its template live again, while its
    /// revision number changes.
    pub replicaset: String,
    /// Its `pod-template-hash` label.
    pub hash: String,
    /// The revision numbers it had before (the controller's `revision-history`): its template
    /// was made live again, by a rollback or a deploy of an earlier version.
    pub earlier: Vec<u64>,
    /// The pod template, to tell whether two revisions are the same.
    #[serde(skip)]
    pub template: Value,
}

impl Kubectl {
    /// `kubectl [--context C] [--namespace N] ARGS…`
    pub fn cmd<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> Cmd {
        let mut c = Cmd::new("kubectl", INSTALL);
        if let Some(ctx) = &self.context {
            c = c.arg(format!("--context={ctx}"));
        }
        if let Some(ns) = &self.namespace {
            c = c.arg(format!("--namespace={ns}"));
        }
        c.args(args.into_iter().map(Into::<String>::into))
    }

    pub fn undo(&self, deployment: &str, to_revision: Option<u64>) -> Cmd {
        let mut args = vec![
            "rollout".to_string(),
            "undo".into(),
            format!("deployment/{deployment}"),
        ];
        if let Some(n) = to_revision {
            args.push(format!("--to-revision={n}"));
        }
        self.cmd(args).timeout(Duration::from_secs(60))
    }

    pub fn status(&self, deployment: &str, timeout: Duration) -> Cmd {
        self.cmd([
            "rollout".to_string(),
            "status".into(),
            format!("deployment/{deployment}"),
            format!("--timeout={}s", timeout.as_secs().max(1)),
        ])
        .timeout(timeout + Duration::from_secs(30))
    }

    pub fn restart(&self, deployment: &str) -> Cmd {
        self.cmd([
            "rollout".to_string(),
            "restart".into(),
            format!("deployment/{deployment}"),
        ])
    }

    /// `kubectl set env deployment/D [--containers=C] VAR=VALUE`: without a container, on
    /// every container of the pod template.
    pub fn set_env(
        &self,
        deployment: &str,
        container: Option<&str>,
        var: &str,
        value: &str,
    ) -> Cmd {
        let mut args = vec![
            "set".to_string(),
            "env".into(),
            format!("deployment/{deployment}"),
        ];
        if let Some(c) = container {
            args.push(format!("--containers={c}"));
        }
        args.push(format!("{var}={value}"));
        self.cmd(args)
    }

    /// The Deployment's JSON once its controller has observed the last change of its spec,
    /// waiting up to `OBSERVE_TIMEOUT`; NotFound and a bad context become clear errors.
    pub fn get_deployment(&self, deployment: &str) -> Result<Value, DeploymentError> {
        self.observed_deployment(deployment, OBSERVE_TIMEOUT, |_, _| {})
    }

    /// The Deployment's JSON once `status.observedGeneration >= metadata.generation`, polling
    /// for at most `within`; `on_wait(generation, observed)` is called once if it has to wait.
    /// Before that, the revision annotation and the ReplicaSets still describe the change before
    /// the last one: "the previous revision" read then is the one before the last good one.
    pub fn observed_deployment(
        &self,
        deployment: &str,
        within: Duration,
        on_wait: impl FnOnce(u64, u64),
    ) -> Result<Value, DeploymentError> {
        let describe = self.cmd(["describe", "deployment", deployment]).line();
        await_observed(
            deployment,
            &describe,
            (within, SAY_WAITING_AFTER),
            OBSERVE_POLL,
            || self.read_deployment(deployment),
            on_wait,
        )
    }

    fn read_deployment(&self, deployment: &str) -> Result<Value, ExecError> {
        self.get_json("deployment", deployment)
    }

    /// `kubectl get RESOURCE NAME -o json`, parsed.
    pub fn get_json(&self, resource: &str, name: &str) -> Result<Value, ExecError> {
        let cmd = self
            .cmd(["get", resource, name, "-o", "json"])
            .timeout(Duration::from_secs(30));
        let out = cmd.run()?;
        serde_json::from_str(&out.stdout).map_err(|e| ExecError::Spawn {
            cmdline: cmd.line(),
            detail: format!("not JSON: {e}"),
        })
    }

    /// `kubectl annotate RESOURCE NAME --overwrite [--resource-version=RV] K=V… K-…`: with a
    /// resource version it is a compare-and-swap, failing with a conflict (`is_conflict`) when
    /// the object was written since it was read.
    pub fn annotate(
        &self,
        resource: &str,
        name: &str,
        resource_version: Option<&str>,
        set: &[(&str, String)],
        remove: &[&str],
    ) -> Cmd {
        let mut args = vec![
            "annotate".to_string(),
            format!("{resource}/{name}"),
            "--overwrite".into(),
        ];
        if let Some(rv) = resource_version {
            args.push(format!("--resource-version={rv}"));
        }
        args.extend(set.iter().map(|(k, v)| format!("{k}={v}")));
        args.extend(remove.iter().map(|k| format!("{k}-")));
        self.cmd(args).timeout(Duration::from_secs(30))
    }

    /// (ready, total) pods matching a label selector (`app=x,tier=y`); pods being deleted
    /// are not ready.
    pub fn ready_pods(&self, labels: &str) -> Result<(usize, usize), ExecError> {
        let out = self
            .cmd(["get", "pods", "-l", labels, "-o", "json"])
            .timeout(Duration::from_secs(30))
            .run()?;
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        let pods = v["items"].as_array().cloned().unwrap_or_default();
        let ready = pods
            .iter()
            .filter(|p| {
                p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
            .count();
        Ok((ready, pods.len()))
    }

    /// Every revision of the Deployment, newest first. Pass a Deployment from
    /// `get_deployment`: the controller writes the revision annotations it reads.
    pub fn history(&self, deployment: &Value) -> Result<Vec<Revision>, ExecError> {
        let out = self
            .cmd(["get", "replicasets", "-o", "json"])
            .timeout(Duration::from_secs(30))
            .run()?;
        let list: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        Ok(revisions(deployment, &list))
    }
}

/// Polls `read` until the Deployment it returns has been observed by its controller, for at most
/// `within`.
/// How long the wait for the deployment controller goes on before mlrb says it is waiting.
const SAY_WAITING_AFTER: Duration = Duration::from_secs(1);

fn await_observed(
    name: &str,
    describe: &str,
    (within, say_after): (Duration, Duration),
    every: Duration,
    mut read: impl FnMut() -> Result<Value, ExecError>,
    on_wait: impl FnOnce(u64, u64),
) -> Result<Value, DeploymentError> {
    let start = Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        let dep = read()?;
        let generation = dep
            .pointer("/metadata/generation")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let observed = dep
            .pointer("/status/observedGeneration")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if observed >= generation {
            return Ok(dep);
        }
        let waited = start.elapsed();
        if waited >= within {
            return Err(DeploymentError::NotObserved {
                name: name.to_string(),
                generation,
                observed,
                within,
                describe: describe.to_string(),
            });
        }
        // A controller a moment behind is normal; a wait worth a line is one that lasts.
        if waited >= say_after
            && let Some(f) = on_wait.take()
        {
            f(generation, observed);
        }
        std::thread::sleep(every.min(within - waited));
    }
}

/// The Deployment's revisions from a ReplicaSet list, newest first. The current one is the
/// ReplicaSet whose template is the Deployment's (as the controller finds it), else the one the
/// Deployment's revision annotation names.
fn revisions(deployment: &Value, replicasets: &Value) -> Vec<Revision> {
    let uid = deployment.pointer("/metadata/uid").and_then(Value::as_str);
    let mut revs: Vec<Revision> = replicasets["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|rs| {
            rs.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|o| {
                    o.iter()
                        .any(|r| r["uid"].as_str().is_some_and(|u| Some(u) == uid))
                })
        })
        .filter_map(|rs| {
            let revision = revision_of(rs)?;
            let ann = &rs["metadata"]["annotations"];
            let template = without_hash(&rs["spec"]["template"]);
            Some(Revision {
                revision,
                change_cause: ann["kubernetes.io/change-cause"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                images: template["spec"]["containers"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|c| c["image"].as_str().map(str::to_string))
                    .collect(),
                created: rs["metadata"]["creationTimestamp"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                current: false,
                replicaset: rs["metadata"]["name"].as_str().unwrap_or("").to_string(),
                hash: rs
                    .pointer("/metadata/labels/pod-template-hash")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                earlier: ann["deployment.kubernetes.io/revision-history"]
                    .as_str()
                    .unwrap_or("")
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .collect(),
                template,
            })
        })
        .collect();
    revs.sort_by_key(|r| std::cmp::Reverse(r.revision));
    let live = without_hash(&deployment["spec"]["template"]);
    let current = revs.iter().position(|r| r.template == live).or_else(|| {
        let n = revision_of(deployment)?;
        revs.iter().position(|r| r.revision == n)
    });
    if let Some(i) = current {
        revs[i].current = true;
    }
    revs
}

/// A pod template without the controller's `pod-template-hash` label, which differs per
/// ReplicaSet while the template does not.
fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove("pod-template-hash");
    }
    t
}

/// A write refused because the object changed since it was read (HTTP 409).
pub fn is_conflict(e: &ExecError) -> bool {
    let err = e.stderr();
    err.contains("the object has been modified") || err.contains("(Conflict)")
}

/// The object's `metadata.resourceVersion`.
pub fn resource_version(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
}

/// The Deployment's (or ReplicaSet's) pod template as revisions compare it.
pub fn template_of(obj: &Value) -> Value {
    without_hash(&obj["spec"]["template"])
}

/// The `deployment.kubernetes.io/revision` annotation.
pub fn revision_of(obj: &Value) -> Option<u64> {
    obj.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// Turns kubectl's stderr into one line saying what is wrong and what to do next.
pub fn explain(e: &ExecError, what: &str) -> (String, Option<String>) {
    explain_in(e, what, "infra")
}

/// `explain` for an object named in `[models.*.SECTION]`.
pub fn explain_in(e: &ExecError, what: &str, section: &str) -> (String, Option<String>) {
    let err = e.stderr();
    let msg = e.to_string();
    if err.contains("context") && err.contains("does not exist") {
        return (
            msg,
            Some(format!(
                "check [models.*.{section}].context against `kubectl config get-contexts` (KUBECONFIG is honoured)"
            )),
        );
    }
    if err.contains("NotFound") || err.contains("not found") {
        if err.contains("context") {
            return (
                msg,
                Some(format!(
                    "check [models.*.{section}].context against `kubectl config get-contexts` (KUBECONFIG is honoured)"
                )),
            );
        }
        return (
            msg,
            Some(format!(
                "check the name and namespace of {what} in [models.*.{section}] (`kubectl get deployments -n NAMESPACE` lists them)"
            )),
        );
    }
    if err.contains("unable to find specified revision") {
        return (
            msg,
            Some("`mlrb rollback infra MODEL --history` lists the revisions".into()),
        );
    }
    if matches!(e, ExecError::Timeout { .. }) || err.contains("timed out waiting") {
        return (
            msg,
            Some(format!(
                "the rollout is not Ready: `kubectl describe deployment` and `kubectl get pods` show why (image pull, crash loop, resources){}",
                // Only `rollback infra` has the flag.
                if section == "infra" {
                    "; `--to-revision N` rolls back further"
                } else {
                    ""
                }
            )),
        );
    }
    if err.contains("connection refused") || err.contains("Unable to connect") {
        return (
            msg,
            Some("kubectl cannot reach the cluster: check KUBECONFIG and the context".into()),
        );
    }
    (msg, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(generation: u64, observed: Option<u64>) -> Value {
        let mut d = json!({"metadata": {"name": "ms", "generation": generation}, "status": {}});
        if let Some(o) = observed {
            d["status"]["observedGeneration"] = json!(o);
        }
        d
    }

    #[test]
    fn waits_until_the_controller_has_observed_the_last_change() {
        let mut reads = vec![dep(3, Some(3)), dep(3, Some(2)), dep(3, None)];
        let mut waited = None;
        let d = await_observed(
            "ms",
            "kubectl describe deployment ms",
            (Duration::from_secs(5), Duration::ZERO),
            Duration::from_millis(1),
            || Ok(reads.pop().unwrap()),
            |g, o| waited = Some((g, o)),
        )
        .unwrap();
        assert_eq!(d["status"]["observedGeneration"], json!(3));
        assert!(reads.is_empty());
        assert_eq!(waited, Some((3, 0)), "told once, with the first numbers");
    }

    #[test]
    fn an_observed_deployment_is_returned_at_once() {
        let mut calls = 0;
        await_observed(
            "ms",
            "kubectl describe deployment ms",
            (Duration::ZERO, Duration::ZERO),
            Duration::from_secs(60),
            || {
                calls += 1;
                Ok(dep(2, Some(2)))
            },
            |_, _| panic!("no wait"),
        )
        .unwrap();
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_controller_that_never_catches_up_is_one_clear_error() {
        let t0 = Instant::now();
        let e = await_observed(
            "ms",
            "kubectl describe deployment ms",
            (Duration::from_millis(100), Duration::ZERO),
            Duration::from_millis(10),
            || Ok(dep(4, Some(3))),
            |_, _| {},
        )
        .unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(matches!(
            e,
            DeploymentError::NotObserved {
                generation: 4,
                observed: 3,
                ..
            }
        ));
        assert!(
            e.to_string().contains(
                "has not observed the latest change of deployment/ms within 100ms (generation 4, observed 3)"
            ),
            "{e}"
        );
        assert!(e.hint().unwrap().contains("kubectl describe deployment ms"));
    }

    fn rs(revision: u64, image: &str, hash: &str) -> Value {
        json!({
            "metadata": {
                "ownerReferences": [{"uid": "u1"}],
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
            },
            "spec": {"template": {
                "metadata": {"labels": {"app": "ms", "pod-template-hash": hash}},
                "spec": {"containers": [{"name": "ms", "image": image}]},
            }},
        })
    }

    fn deployment(revision: u64, image: &str) -> Value {
        json!({
            "metadata": {
                "uid": "u1",
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
            },
            "spec": {"template": {
                "metadata": {"labels": {"app": "ms"}},
                "spec": {"containers": [{"name": "ms", "image": image}]},
            }},
        })
    }

    #[test]
    fn the_current_revision_is_the_replicaset_running_the_deployments_template() {
        let mut other = rs(9, "reg/ms:v9", "z");
        other["metadata"]["ownerReferences"][0]["uid"] = json!("u2");
        let list = json!({"items": [rs(1, "reg/ms:v1", "a"), rs(3, "reg/ms:v3", "c"),
                                    rs(2, "reg/ms:v2", "b"), other]});
        // The annotation lags behind the template: the template decides.
        let revs = revisions(&deployment(2, "reg/ms:v3"), &list);
        let seen: Vec<(u64, bool)> = revs.iter().map(|r| (r.revision, r.current)).collect();
        assert_eq!(seen, [(3, true), (2, false), (1, false)]);
        assert_eq!(revs[0].images, ["reg/ms:v3"]);
        // A template no ReplicaSet runs yet (a paused deployment): the annotation decides.
        let revs = revisions(&deployment(2, "reg/ms:v4"), &list);
        let current: Vec<u64> = revs
            .iter()
            .filter(|r| r.current)
            .map(|r| r.revision)
            .collect();
        assert_eq!(current, [2]);
    }

    #[test]
    fn a_replicaset_made_live_again_names_its_earlier_revisions() {
        let mut again = rs(6, "reg/ms:v2", "b");
        again["metadata"]["name"] = json!("ms-b");
        again["metadata"]["labels"] = json!({"pod-template-hash": "b"});
        again["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] =
            json!("2,4");
        let list = json!({"items": [rs(5, "reg/ms:v5", "e"), again]});
        let revs = revisions(&deployment(6, "reg/ms:v2"), &list);
        assert_eq!(
            (
                revs[0].revision,
                revs[0].current,
                revs[0].earlier.as_slice()
            ),
            (6, true, [2, 4].as_slice())
        );
        assert_eq!(
            (revs[0].replicaset.as_str(), revs[0].hash.as_str()),
            ("ms-b", "b")
        );
        assert!(revs[1].earlier.is_empty());
    }
}
