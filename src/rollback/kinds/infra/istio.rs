//! istio: canary reversal through the VirtualService (stable 100, canary 0, no mirror).

use serde_json::Value;

use crate::error::CliError;
use crate::exec::kubectl;
use crate::rollback::{Kind, Request, Step, StepFailure};

use super::lease::{CasError, Object, Write};
use super::{Draft, Drafted, Infra, Started, early, lease, nothing};

const VS: &str = "virtualservices.networking.istio.io";

/// The VirtualService's http routes with the stable subset at 100, the canary at 0 and any
/// `mirror` removed; `None` when nothing would change.
fn reversed_routes(vs: &Value, stable: &str, canary: &str, route: Option<&str>) -> Option<Value> {
    let mut http = vs["spec"]["http"].clone();
    let mut changed = false;
    for r in http.as_array_mut()? {
        if route.is_some_and(|n| r["name"].as_str() != Some(n)) {
            continue;
        }
        if let Some(o) = r.as_object_mut() {
            changed |= o.remove("mirror").is_some();
            changed |= o.remove("mirrorPercentage").is_some();
            changed |= o.remove("mirror_percent").is_some();
        }
        for d in r["route"].as_array_mut().into_iter().flatten() {
            let want = match d["destination"]["subset"].as_str() {
                Some(s) if s == stable => 100,
                Some(s) if s == canary => 0,
                _ => continue,
            };
            if d["weight"].as_u64() != Some(want) {
                d["weight"] = serde_json::json!(want);
                changed = true;
            }
        }
    }
    changed.then_some(http)
}

/// A configured route or subset that matches nothing is an error listing what exists.
fn check_names(
    vs: &Value,
    stable: &str,
    canary: &str,
    route: Option<&str>,
    target: &str,
) -> Result<(), CliError> {
    let rs = vs["spec"]["http"].as_array().map_or(&[][..], Vec::as_slice);
    let listed = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    if let Some(want) = route
        && !rs.iter().any(|r| r["name"].as_str() == Some(want))
    {
        let names = rs
            .iter()
            .enumerate()
            .map(|(i, r)| match r["name"].as_str() {
                Some(n) => format!("route {n}"),
                None => format!("http[{i}] (unnamed)"),
            })
            .collect();
        return Err(CliError::usage(format!(
            "route `{want}` matches no http route of {target}; its routes: {}; nothing was changed",
            listed(names)
        ))
        .with_hint("set [models.*.infra].route to one of them"));
    }
    let mut subsets: Vec<String> = rs
        .iter()
        .flat_map(|r| r["route"].as_array().into_iter().flatten())
        .filter_map(|d| d["destination"]["subset"].as_str().map(str::to_string))
        .collect();
    subsets.sort();
    subsets.dedup();
    for (key, name) in [("stable_subset", stable), ("canary_subset", canary)] {
        if !subsets.iter().any(|s| s == name) {
            return Err(CliError::usage(format!(
                "{key} `{name}` matches no destination of {target}; its subsets: {}; nothing was changed",
                listed(subsets)
            ))
            .with_hint(format!("set [models.*.infra].{key} to one of them")));
        }
    }
    Ok(())
}

fn weights(vs: &Value, stable: &str, canary: &str) -> String {
    let mut s = Vec::new();
    for r in vs["spec"]["http"].as_array().into_iter().flatten() {
        for d in r["route"].as_array().into_iter().flatten() {
            if let Some(sub) = d["destination"]["subset"].as_str()
                && (sub == stable || sub == canary)
            {
                s.push(format!("{sub}={}", d["weight"].as_u64().unwrap_or(0)));
            }
        }
        if r.get("mirror").is_some() {
            s.push("mirror on".into());
        }
    }
    s.join(" ")
}

/// Reverses the canary: the routes as re-read just before, patched with that read's
/// resourceVersion (a compare-and-swap; the lease mlrb wrote since the plan changed it).
struct Reverse {
    obj: Object,
    stable: String,
    canary: String,
    route: Option<String>,
    /// The patch as planned, for the plan and the journal.
    planned: Value,
}

impl Step for Reverse {
    fn line(&self) -> String {
        self.obj
            .k
            .cmd([
                "patch".to_string(),
                VS.into(),
                self.obj.name.clone(),
                "--type=merge".into(),
                "-p".into(),
                self.planned.to_string(),
            ])
            .line()
    }
    fn done(&self) -> bool {
        self.obj.read().is_ok_and(|vs| {
            reversed_routes(&vs, &self.stable, &self.canary, self.route.as_deref()).is_none()
        })
    }
    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let mut patched = false;
        let r = self.obj.cas(|vs| {
            if let Some(l) = lease::foreign(vs, event) {
                return Err(lease::held_by(&self.obj.shown, &l));
            }
            Ok(
                match reversed_routes(vs, &self.stable, &self.canary, self.route.as_deref()) {
                    Some(http) => {
                        patched = true;
                        Write::Patch(serde_json::json!({"spec": {"http": http}}))
                    }
                    None => Write::Nothing,
                },
            )
        });
        match r {
            Ok(_) if patched => Ok(format!(
                "{} patched: all traffic to {}",
                self.obj.shown, self.stable
            )),
            Ok(_) => Ok(format!(
                "{} already sends all traffic to {}",
                self.obj.shown, self.stable
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
    pub(super) fn plan_istio(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let name = self.cfg.virtual_service.clone().unwrap_or_default();
        let stable = self
            .cfg
            .stable_subset
            .clone()
            .unwrap_or_else(|| "stable".into());
        let canary = self
            .cfg
            .canary_subset
            .clone()
            .unwrap_or_else(|| "canary".into());
        let target = self.subject().target;
        let obj = self.object(VS, &name);
        let vs = obj.read().map_err(|e| early("kubectl", e, &target))?;
        check_names(&vs, &stable, &canary, self.cfg.route.as_deref(), &target)?;
        let before = weights(&vs, &stable, &canary);
        let reversed = reversed_routes(&vs, &stable, &canary, self.cfg.route.as_deref());
        let http = match (reversed, started) {
            (Some(http), _) => http,
            (None, Some(_)) => vs["spec"]["http"].clone(),
            (None, None) => {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target} already sends all traffic to {stable} ({before}); nothing changed"
                    ),
                    &[
                        ("strategy", "istio".into()),
                        ("target", target.clone().into()),
                    ],
                )));
            }
        };
        let resuming = started.is_some();
        let planned_before = before.clone();
        let (cs, cc) = (stable.clone(), canary.clone());
        let claim = self.claim(obj.clone(), req, move |vs| {
            let now = weights(vs, &cs, &cc);
            if resuming || now == planned_before {
                Ok(())
            } else {
                Err(format!("its weights are now {now}"))
            }
        });
        let vobj = obj.clone();
        let (vstable, vcanary) = (stable.clone(), canary.clone());
        let route = self.cfg.route.clone();
        Ok(Ok(Draft {
            strategy: "istio",
            target,
            from: 0,
            to: 0,
            unit: "weights",
            from_label: before,
            to_label: format!("{stable}=100 {canary}=0, no mirror"),
            to_reason: format!("all traffic to subset {stable}"),
            detail: Vec::new(),
            notes: Vec::new(),
            steps: vec![Box::new(Reverse {
                obj,
                stable: stable.clone(),
                canary: canary.clone(),
                route: self.cfg.route.clone(),
                planned: serde_json::json!({"spec": {"http": http}}),
            })],
            verify: Box::new(move || {
                let vs = vobj
                    .read()
                    .map_err(|e| format!("cannot re-read the VirtualService: {e}"))?;
                if reversed_routes(&vs, &vstable, &vcanary, route.as_deref()).is_some() {
                    return Err(format!(
                        "the VirtualService still routes to the canary: {}",
                        weights(&vs, &vstable, &vcanary)
                    ));
                }
                Ok(format!("weights now {}", weights(&vs, &vstable, &vcanary)))
            }),
            claim: Some(claim),
        }))
    }
}
