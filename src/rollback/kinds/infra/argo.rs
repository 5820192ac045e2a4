//! argo-rollouts: abort the Rollout; the Argo controller sends all traffic back to stable, and
//! the rollback is verified only once the Rollout's status shows that it did.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{CliError, ExitStatus};
use crate::exec::kubectl;
use crate::rollback::{CommandStep, Kind, Request};

use super::{Draft, Drafted, Infra, Started, early, nothing};

const ROLLOUT: &str = "rollouts.argoproj.io";

/// The longest verification waits for the controller to act on the abort (less if the
/// configured timeout is shorter): it acts within seconds when it runs at all.
const ACT_WITHIN: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(500);

/// `status.abort`: the abort was asked for (by mlrb, the plugin or the UI), not yet done.
fn abort_requested(ro: &Value) -> bool {
    ro["status"]["abort"] == true
}

/// The canary's traffic weight as the controller last wrote it (with traffic routing only).
fn canary_weight(ro: &Value) -> Option<u64> {
    ro.pointer("/status/canary/weights/canary/weight")
        .and_then(Value::as_u64)
}

/// How the Rollout stands, in its status's words: `phase Paused, canary weight 20, step 1`.
fn state(ro: &Value) -> String {
    let s = &ro["status"];
    let mut out = vec![format!(
        "phase {}",
        s["phase"].as_str().unwrap_or("unknown")
    )];
    if let Some(w) = canary_weight(ro) {
        out.push(format!("canary weight {w}"));
    }
    if let Some(i) = s["currentStepIndex"].as_u64() {
        out.push(format!("step {i}"));
    }
    if let Some(m) = s["message"].as_str().filter(|m| !m.is_empty()) {
        out.push(format!("message \"{m}\""));
    }
    out.join(", ")
}

/// No canary in progress: the pods the spec asks for are the stable ones (fully promoted).
fn fully_promoted(ro: &Value) -> Option<String> {
    let s = &ro["status"];
    let stable = s["stableRS"].as_str().filter(|h| !h.is_empty())?;
    (s["currentPodHash"].as_str() == Some(stable)).then(|| stable.to_string())
}

/// Whether the controller has carried the abort out, as Argo Rollouts writes it: phase
/// Degraded with the RolloutAborted message or condition, and with traffic routing the
/// canary's weight at 0. `status.abort` alone is only the request.
fn abort_done(ro: &Value) -> bool {
    let s = &ro["status"];
    let marked = s["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("RolloutAborted"))
        || s["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["reason"] == "RolloutAborted");
    abort_requested(ro)
        && s["phase"] == "Degraded"
        && marked
        && canary_weight(ro).is_none_or(|w| w == 0)
}

impl Infra {
    /// Canary reversal by aborting the Argo Rollout: `kubectl argo rollouts abort` when the
    /// plugin is on PATH, else the same status write it makes (`status.abort: true` through the
    /// status subresource). The Argo controller then sends all traffic back to the stable
    /// ReplicaSet; the verification waits until the Rollout's status says it did.
    pub(super) fn plan_argo(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let name = self.cfg.rollout.clone().unwrap_or_default();
        let k = self.kubectl();
        let target = self.subject().target;
        let obj = self.object(ROLLOUT, &name);
        let ro = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let view = [
            ("strategy", Value::from("argo-rollouts")),
            ("target", target.clone().into()),
            ("state", state(&ro).into()),
        ];
        if started.is_none() && abort_requested(&ro) {
            if abort_done(&ro) {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target} is already aborted ({}); nothing changed",
                        state(&ro)
                    ),
                    &view,
                )));
            }
            return Err(CliError::new(
                ExitStatus::NotVerified,
                format!(
                    "{target} has its abort requested (status.abort) but the Argo Rollouts controller has not carried it out: {}; nothing was changed",
                    state(&ro)
                ),
            )
            .with_hint("is the Argo Rollouts controller running? `kubectl get pods -n argo-rollouts`; its logs say why it does not act")
            .into());
        }
        if started.is_none()
            && let Some(hash) = fully_promoted(&ro)
        {
            return Ok(Err(nothing(
                "no_change",
                format!(
                    "{target} has no canary in progress (fully promoted: the stable pods {hash} are the current ones, {}); there is nothing to abort; nothing changed",
                    state(&ro)
                ),
                &view,
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
            if !resuming && abort_requested(ro) {
                Err("it is aborted now".into())
            } else {
                Ok(())
            }
        });
        let t = target.clone();
        let within = self.timeout().min(ACT_WITHIN);
        Ok(Ok(Draft {
            strategy: "argo-rollouts",
            target: target.clone(),
            from: 0,
            to: 0,
            unit: "rollout",
            from_label: state(&ro),
            to_label: "aborted (phase Degraded, canary weight 0)".into(),
            to_reason: "abort: the Argo controller sends all traffic back to the stable version"
                .into(),
            detail: Vec::new(),
            notes: Vec::new(),
            steps: vec![Box::new(CommandStep {
                cmd,
                explain: Box::new(move |e| kubectl::explain(e, &t)),
                done: Some(Box::new(move || {
                    resuming && dobj.read().is_ok_and(|ro| abort_requested(&ro))
                })),
            })],
            verify: Box::new(move || {
                let start = Instant::now();
                loop {
                    let ro = obj
                        .read()
                        .map_err(|e| format!("cannot re-read the Rollout: {e}"))?;
                    if abort_done(&ro) {
                        return Ok(format!(
                            "the Argo controller aborted the Rollout: {}",
                            state(&ro)
                        ));
                    }
                    if start.elapsed() >= within {
                        return Err(format!(
                            "the Argo Rollouts controller did not act on the abort within {}: the Rollout's status still shows {} (is the controller running? `kubectl get pods -n argo-rollouts`)",
                            humantime::format_duration(within),
                            state(&ro)
                        ));
                    }
                    std::thread::sleep(POLL);
                }
            }),
            claim: Some(claim),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_controllers_write_shows_the_abort_done() {
        let mut ro = json!({"status": {"abort": true, "phase": "Paused",
            "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}}}});
        assert!(!abort_done(&ro), "requested only");
        ro["status"]["phase"] = json!("Degraded");
        ro["status"]["message"] = json!("RolloutAborted: Rollout aborted update to revision 2");
        assert!(!abort_done(&ro), "the canary still has weight 20");
        ro["status"]["canary"]["weights"]["canary"]["weight"] = json!(0);
        assert!(abort_done(&ro));
        assert_eq!(
            fully_promoted(&json!({"status": {"stableRS": "a", "currentPodHash": "a"}})),
            Some("a".into())
        );
        assert_eq!(fully_promoted(&json!({"status": {}})), None);
    }
}
