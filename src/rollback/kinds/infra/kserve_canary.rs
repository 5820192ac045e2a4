//! kserve-canary: reverse a KServe canary by setting the InferenceService's
//! `canaryTrafficPercent` to 0; verified once the predictor's traffic shows the previously
//! rolled-out revision taking all of it (KServe's documented rollback of a canary).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::exec::kubectl;
use crate::rollback::{CommandStep, Kind, Request};
use crate::serving::{ISVC, traffic};

use super::{Draft, Drafted, Infra, Started, early, nothing};

const POLL: Duration = Duration::from_millis(500);

fn canary_percent(isvc: &Value) -> Option<u64> {
    isvc.pointer("/spec/predictor/canaryTrafficPercent")
        .and_then(Value::as_u64)
}

/// The revision the canary is measured against: the last one fully rolled out, else the one
/// in the split that is not the latest ready.
fn stable_revision(isvc: &Value) -> Option<String> {
    let p = &isvc["status"]["components"]["predictor"];
    let latest = p["latestReadyRevision"].as_str();
    p["latestRolledoutRevision"]
        .as_str()
        .filter(|r| Some(*r) != latest)
        .map(str::to_string)
        .or_else(|| {
            traffic(isvc)
                .into_iter()
                .map(|(r, _)| r)
                .find(|r| Some(r.as_str()) != latest)
        })
}

/// Whether `stable` takes all traffic, in a status that has observed the last spec change.
fn reversed(isvc: &Value, stable: &str) -> bool {
    let generation = isvc["metadata"]["generation"].as_u64().unwrap_or(0);
    let observed = isvc["status"]["observedGeneration"].as_u64().unwrap_or(0);
    let t = traffic(isvc);
    observed >= generation
        && t.iter().any(|(r, p)| r == stable && *p == 100)
        && t.iter().all(|(r, p)| r == stable || *p == 0)
}

impl Infra {
    pub(super) fn plan_kserve_canary(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let name = self.cfg.inference_service.clone().unwrap_or_default();
        let target = self.subject().target;
        let obj = self.object(ISVC, &name);
        let isvc = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let state = crate::serving::kserve_state(&isvc);
        let view = [
            ("strategy", Value::from("kserve-canary")),
            ("target", target.clone().into()),
            ("state", state.clone().into()),
        ];
        let canary = canary_percent(&isvc);
        let stable = stable_revision(&isvc);
        let Some(stable) = stable else {
            return Ok(Err(nothing(
                "no_change",
                format!(
                    "{target} has no earlier revision to return to ({state}); there is no canary to reverse; nothing changed"
                ),
                &view,
            )));
        };
        if started.is_none() {
            if canary.is_none_or(|c| c >= 100) {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target} has no canary in progress (no canaryTrafficPercent below 100; {state}); nothing changed"
                    ),
                    &view,
                )));
            }
            if canary == Some(0) && reversed(&isvc, &stable) {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target}'s canary is already reversed: {stable} takes all traffic ({state}); nothing changed"
                    ),
                    &view,
                )));
            }
        }
        let patch = json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}}).to_string();
        let cmd = self
            .kubectl()
            .cmd([
                "patch",
                ISVC,
                name.as_str(),
                "--type=merge",
                "-p",
                patch.as_str(),
            ])
            .timeout(Duration::from_secs(60));
        let resuming = started.is_some();
        let dobj = obj.clone();
        let claim = self.claim(obj.clone(), req, move |isvc| {
            if !resuming && canary_percent(isvc) == Some(0) {
                Err("its canary is at 0% now".into())
            } else {
                Ok(())
            }
        });
        let (t, within, s) = (target.clone(), self.timeout(), stable.clone());
        Ok(Ok(Draft {
            strategy: "kserve-canary",
            target: target.clone(),
            from: canary.unwrap_or(0),
            to: 0,
            unit: "canary percent",
            from_label: format!("canary {}% ({state})", canary.unwrap_or(0)),
            to_label: format!("canary 0%, {stable} takes all traffic"),
            to_reason: format!(
                "canaryTrafficPercent 0: the previously rolled-out revision {stable} takes all traffic"
            ),
            detail: Vec::new(),
            notes: Vec::new(),
            steps: vec![Box::new(CommandStep {
                cmd,
                explain: Box::new(move |e| kubectl::explain(e, &t)),
                done: Some(Box::new(move || {
                    resuming && dobj.read().is_ok_and(|i| canary_percent(&i) == Some(0))
                })),
            })],
            verify: Box::new(move || {
                let start = Instant::now();
                loop {
                    let isvc = obj
                        .read()
                        .map_err(|e| format!("cannot re-read the InferenceService: {e}"))?;
                    if reversed(&isvc, &s) {
                        return Ok(format!(
                            "revision {s} takes all traffic again: {}",
                            crate::serving::kserve_state(&isvc)
                        ));
                    }
                    if start.elapsed() >= within {
                        return Err(format!(
                            "the KServe controller did not send all traffic back to {s} within {}: {} (is the KServe controller running? `kubectl get pods -n kserve`)",
                            humantime::format_duration(within),
                            crate::serving::kserve_state(&isvc)
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

    #[test]
    fn the_stable_revision_must_take_all_traffic_in_an_observed_status() {
        let mut isvc = json!({"metadata": {"generation": 3},
            "spec": {"predictor": {"canaryTrafficPercent": 0}},
            "status": {"observedGeneration": 2, "components": {"predictor": {
                "latestReadyRevision": "m-predictor-00002",
                "latestRolledoutRevision": "m-predictor-00001",
                "traffic": [
                    {"revisionName": "m-predictor-00001", "percent": 90, "tag": "prev"},
                    {"revisionName": "m-predictor-00002", "percent": 10, "latestRevision": true, "tag": "latest"}]}}}});
        assert_eq!(stable_revision(&isvc).as_deref(), Some("m-predictor-00001"));
        assert!(!reversed(&isvc, "m-predictor-00001"));
        isvc["status"]["observedGeneration"] = json!(3);
        isvc["status"]["components"]["predictor"]["traffic"][0]["percent"] = json!(100);
        isvc["status"]["components"]["predictor"]["traffic"][1]["percent"] = json!(0);
        assert!(reversed(&isvc, "m-predictor-00001"));
    }
}
