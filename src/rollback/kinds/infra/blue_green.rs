//! blue-green: the Service's selector back to the standby colour, which still runs the previous
//! version, after checking the standby has ready pods.

use serde_json::Value;

use crate::clock;
use crate::error::{CliError, ExitStatus};
use crate::exec::kubectl;
use crate::rollback::{Kind, Request, Step, StepFailure};

use super::lease::{CasError, Object, Write};
use super::{
    AT, BY, Draft, Drafted, Infra, Recorded, Started, TO_SELECTOR, early, lease, nothing, usage,
};

/// Switches the Service's selector to the standby colour and records the rollback in the same
/// write, a compare-and-swap on the Service as read just before.
struct Switch {
    obj: Object,
    key: String,
    to: String,
    resuming: bool,
}

impl Switch {
    fn patch(&self, event: &str, at: &str) -> Value {
        serde_json::json!({
            "metadata": {"annotations": {
                BY: event, AT: at, TO_SELECTOR: format!("{}={}", self.key, self.to),
            }},
            "spec": {"selector": {self.key.clone(): self.to.clone()}},
        })
    }
}

impl Step for Switch {
    fn line(&self) -> String {
        // What is known only when it runs is in capitals; the patch also carries the
        // resourceVersion read just before.
        self.obj
            .k
            .cmd([
                "patch".to_string(),
                self.obj.resource.clone(),
                self.obj.name.clone(),
                "--type=merge".into(),
                "-p".into(),
                self.patch("EVENT", "NOW").to_string(),
            ])
            .line()
    }
    fn done(&self) -> bool {
        self.resuming
            && self
                .obj
                .read()
                .is_ok_and(|s| s["spec"]["selector"][&self.key] == self.to.as_str())
    }
    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let r = self.obj.cas(|s| {
            if let Some(l) = lease::foreign(s, event) {
                return Err(lease::held_by(&self.obj.shown, &l));
            }
            Ok(Write::Patch(self.patch(event, &clock::fmt(clock::now()))))
        });
        match r {
            Ok(_) => Ok(format!(
                "{} now selects {}={}",
                self.obj.shown, self.key, self.to
            )),
            Err(CasError::Refused(why)) => Err(why.into()),
            Err(CasError::Exec(e)) => {
                let (detail, hint) = kubectl::explain(&e, &self.obj.shown);
                Err(StepFailure { detail, hint })
            }
            Err(CasError::Busy) => Err(format!("{} kept changing", self.obj.shown).into()),
        }
    }
}

impl Infra {
    pub(super) fn plan_blue_green(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let svc = self.cfg.service.clone().unwrap_or_default();
        let key = self
            .cfg
            .selector_key
            .clone()
            .unwrap_or_else(|| "color".into());
        let colors = self
            .cfg
            .colors
            .clone()
            .unwrap_or_else(|| vec!["blue".into(), "green".into()]);
        let k = self.kubectl();
        let target = self.subject().target;
        let obj = self.object("service", &svc);
        let service = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let selector = service["spec"]["selector"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let live = selector
            .get(&key)
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                usage(format!(
                    "{target} has no `{key}` in its selector; set [models.*.infra].selector_key"
                ))
            })?
            .to_string();
        // A live colour the config does not name: which one is the standby is a guess.
        if !colors.contains(&live) {
            return Err(CliError::usage(format!(
                "{target} selects `{key}={live}`, which is not among the configured colors ({}); nothing was changed",
                colors.join(", ")
            ))
            .with_hint(format!(
                "set [models.*.infra].colors to the live colour and its standby, e.g. colors = [\"{live}\", \"…\"]"
            ))
            .into());
        }
        if started.is_none()
            && let Some(r) = Recorded::on(&service)
        {
            let to = service
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(TO_SELECTOR))
                .and_then(Value::as_str);
            if to == Some(format!("{key}={live}").as_str()) {
                return Ok(Err(nothing(
                    "already_rolled_back",
                    format!(
                        "already rolled back by {} at {} (colour {live}); nothing changed",
                        r.by,
                        r.at.map(clock::fmt)
                            .unwrap_or_else(|| "an unknown time".into())
                    ),
                    &[
                        ("strategy", "blue-green".into()),
                        ("target", target.clone().into()),
                        ("colour", live.clone().into()),
                        ("rolled_back_by", r.by.clone().into()),
                    ],
                )));
            }
        }
        // A resumed rollback goes to the colour it planned, whatever is live now, and only to
        // one the config names (the journal is not trusted to say which).
        let standby = match started {
            Some(s) => match s.word_after(&format!("`{key}=")) {
                Some(c) if colors.contains(&c) => c,
                _ => {
                    return Err(CliError::usage(format!(
                        "the interrupted rollback {} does not name one of the configured colours ({}) as its target ({}); nothing was changed",
                        s.event,
                        colors.join(", "),
                        s.to_reason
                    ))
                    .with_hint(format!("`mlrb report {}` shows what it did", s.event))
                    .into());
                }
            },
            None => colors
                .iter()
                .find(|c| **c != live)
                .cloned()
                .ok_or_else(|| usage("[models.*.infra].colors needs two colours".into()))?,
        };
        let labels: Vec<String> = selector
            .iter()
            .map(|(k2, v)| {
                if *k2 == key {
                    format!("{k2}={standby}")
                } else {
                    format!("{k2}={}", v.as_str().unwrap_or(""))
                }
            })
            .collect();
        let labels = labels.join(",");
        let (ready, total) = k
            .ready_pods(&labels)
            .map_err(|e| early("kubectl", e, &target))?;
        if ready == 0 {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!(
                    "the standby `{key}={standby}` of {target} has no ready pods ({ready}/{total} ready, selector {labels}); switching would take the model down; nothing was changed"
                ),
            )
            .with_hint("scale up or fix the standby deployment first (`kubectl get pods -l ...`)")
            .into());
        }
        let from_label = match started {
            Some(_) => colors
                .iter()
                .find(|c| **c != standby)
                .cloned()
                .unwrap_or(live.clone()),
            None => live.clone(),
        };
        let resuming = started.is_some();
        let (ckey, clive) = (key.clone(), live.clone());
        let claim = self.claim(obj.clone(), req, move |s| {
            let now = s["spec"]["selector"][&ckey].as_str().unwrap_or("");
            if resuming || now == clive {
                Ok(())
            } else {
                Err(format!("it now selects {ckey}={now}"))
            }
        });
        let vk = k.clone();
        let (vsvc, vkey, vstandby, vlabels) =
            (svc.clone(), key.clone(), standby.clone(), labels.clone());
        Ok(Ok(Draft {
            strategy: "blue-green",
            target,
            from: 0,
            to: 0,
            unit: "colour",
            from_label,
            to_label: standby.clone(),
            to_reason: format!("the standby `{key}={standby}` ({ready}/{total} pods ready)"),
            detail: Vec::new(),
            notes: Vec::new(),
            steps: vec![Box::new(Switch {
                obj,
                key: key.clone(),
                to: standby.clone(),
                resuming,
            })],
            verify: Box::new(move || {
                let s = vk
                    .get_json("service", &vsvc)
                    .map_err(|e| format!("cannot re-read the service: {e}"))?;
                let now = s["spec"]["selector"][&vkey].as_str().unwrap_or("");
                if now != vstandby {
                    return Err(format!("the selector says {vkey}={now}, not {vstandby}"));
                }
                let (ready, total) = vk.ready_pods(&vlabels).map_err(|e| e.to_string())?;
                if ready == 0 {
                    return Err(format!(
                        "no ready pods behind {vkey}={vstandby} ({ready}/{total})"
                    ));
                }
                Ok(format!(
                    "traffic goes to {vkey}={vstandby}: {ready}/{total} pods ready"
                ))
            }),
            claim: Some(claim),
        }))
    }
}
