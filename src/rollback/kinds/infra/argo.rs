//! argo-rollouts: abort the Rollout; the Argo controller sends all traffic back to stable.

use std::time::Duration;

use serde_json::Value;

use crate::exec::kubectl;
use crate::rollback::{CommandStep, Kind, Request};

use super::{Draft, Drafted, Infra, Started, early, nothing};

const ROLLOUT: &str = "rollouts.argoproj.io";

impl Infra {
    /// Canary reversal by aborting the Argo Rollout: `kubectl argo rollouts abort` when the
    /// plugin is on PATH, else the same status write it makes (`status.abort: true` through the
    /// status subresource). The Argo controller then sends all traffic back to the stable
    /// ReplicaSet.
    pub(super) fn plan_argo(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let name = self.cfg.rollout.clone().unwrap_or_default();
        let k = self.kubectl();
        let target = self.subject().target;
        let obj = self.object(ROLLOUT, &name);
        let ro = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let aborted = |ro: &Value| ro["status"]["abort"] == serde_json::json!(true);
        if started.is_none() && aborted(&ro) {
            return Ok(Err(nothing(
                "no_change",
                format!("{target} is already aborted; nothing changed"),
                &[
                    ("strategy", "argo-rollouts".into()),
                    ("target", target.clone().into()),
                ],
            )));
        }
        let cmd = if which::which("kubectl-argo-rollouts").is_ok() {
            k.cmd(["argo", "rollouts", "abort", name.as_str()])
        } else {
            k.cmd([
                "patch",
                ROLLOUT,
                name.as_str(),
                "--type=merge",
                "--subresource=status",
                "-p",
                r#"{"status":{"abort":true}}"#,
            ])
        }
        .timeout(Duration::from_secs(60));
        let dobj = obj.clone();
        let resuming = started.is_some();
        let claim = self.claim(obj.clone(), req, move |ro| {
            if !resuming && aborted(ro) {
                Err("it is aborted now".into())
            } else {
                Ok(())
            }
        });
        let t = target.clone();
        Ok(Ok(Draft {
            strategy: "argo-rollouts",
            target: target.clone(),
            from: 0,
            to: 0,
            unit: "rollout",
            from_label: "progressing".into(),
            to_label: "aborted".into(),
            to_reason: "abort: all traffic back to the stable version".into(),
            detail: Vec::new(),
            notes: Vec::new(),
            steps: vec![Box::new(CommandStep {
                cmd,
                explain: Box::new(move |e| kubectl::explain(e, &t)),
                done: Some(Box::new(move || {
                    resuming && dobj.read().is_ok_and(|ro| aborted(&ro))
                })),
            })],
            verify: Box::new(move || {
                let ro = obj
                    .read()
                    .map_err(|e| format!("cannot re-read the Rollout: {e}"))?;
                if aborted(&ro) {
                    Ok(
                        "the Rollout is aborted; the Argo controller returns traffic to stable"
                            .into(),
                    )
                } else {
                    Err("the Rollout does not show status.abort = true".into())
                }
            }),
            claim: Some(claim),
        }))
    }
}
