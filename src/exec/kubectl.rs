//! `kubectl`: deployments' rollout history, undo and status, with context and namespace applied.
//! KUBECONFIG is honoured because kubectl reads it from the inherited environment.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::runner::{Cmd, ExecError};

pub const INSTALL: &str =
    "kubectl (https://kubernetes.io/docs/tasks/tools/; Debian: apt-get install kubernetes-client)";

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

    pub fn set_env(&self, deployment: &str, var: &str, value: &str) -> Cmd {
        self.cmd([
            "set".to_string(),
            "env".into(),
            format!("deployment/{deployment}"),
            format!("{var}={value}"),
        ])
    }

    /// The Deployment's JSON; NotFound and a bad context become clear errors.
    pub fn get_deployment(&self, deployment: &str) -> Result<Value, ExecError> {
        let out = self
            .cmd(["get", "deployment", deployment, "-o", "json"])
            .timeout(Duration::from_secs(30))
            .run()?;
        serde_json::from_str(&out.stdout).map_err(|e| ExecError::Spawn {
            cmdline: format!("kubectl get deployment {deployment} -o json"),
            detail: format!("not JSON: {e}"),
        })
    }

    /// Every revision of the Deployment, newest first (ReplicaSets it owns, by revision).
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

    pub fn history(&self, deployment: &Value) -> Result<Vec<Revision>, ExecError> {
        let uid = deployment.pointer("/metadata/uid").and_then(Value::as_str);
        let current = revision_of(deployment);
        let out = self
            .cmd(["get", "replicasets", "-o", "json"])
            .timeout(Duration::from_secs(30))
            .run()?;
        let list: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        let mut revs: Vec<Revision> = list["items"]
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
                let mut template = rs["spec"]["template"].clone();
                // The controller's hash label differs per ReplicaSet; the template does not.
                if let Some(l) = template
                    .pointer_mut("/metadata/labels")
                    .and_then(Value::as_object_mut)
                {
                    l.remove("pod-template-hash");
                }
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
                    current: Some(revision) == current,
                    template,
                })
            })
            .collect();
        revs.sort_by_key(|r| std::cmp::Reverse(r.revision));
        Ok(revs)
    }
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
            Some("the rollout is not Ready: `kubectl describe deployment` and `kubectl get pods` show why (image pull, crash loop, resources); `--to-revision N` rolls back further".into()),
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
