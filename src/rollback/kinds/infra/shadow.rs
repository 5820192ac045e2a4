//! istio shadow stop: the VirtualService stops mirroring traffic to the model's shadow (its
//! `shadow = { host, subset }`). Only that mirror goes: live weights, mirrors to any other
//! destination and every other field are written back as read. Users never saw the shadow's
//! answers, so nothing is rolled back for them. What was removed is recorded on the object
//! (`mlrb.dev/shadow-stopped`) and in the journal, so a drill's restore can put it back.

use serde_json::{Map, Value, json};

use crate::config::ShadowConfig;
use crate::error::CliError;
use crate::exec::kubectl;
use crate::rollback::{Kind, Request, Step, StepFailure};

use super::lease::{CasError, Object, Write};
use super::{Draft, Drafted, Infra, Started, early, lease, nothing};

const VS: &str = "virtualservices.networking.istio.io";
/// The annotation holding what the last shadow stop removed, route by route (JSON).
pub const STOPPED: &str = "mlrb.dev/shadow-stopped";

/// The fields of a route that belong to its single `mirror`.
const MIRROR_FIELDS: [&str; 4] = [
    "mirror",
    "mirrorPercentage",
    "mirrorPercent",
    "mirror_percent",
];

fn routes(vs: &Value) -> &[Value] {
    vs["spec"]["http"].as_array().map_or(&[], Vec::as_slice)
}

fn route_name(i: usize, r: &Value) -> String {
    match r["name"].as_str() {
        Some(n) => format!("route {n}"),
        None => format!("http[{i}] (unnamed)"),
    }
}

/// `ms/shadow`, or `ms` for a destination without a subset.
pub fn shown(s: &ShadowConfig) -> String {
    match &s.subset {
        Some(sub) => format!("{}/{sub}", s.host),
        None => s.host.clone(),
    }
}

fn is_shadow(dest: &Value, s: &ShadowConfig) -> bool {
    dest["host"].as_str() == Some(s.host.as_str()) && dest["subset"].as_str() == s.subset.as_deref()
}

/// A percentage as Istio reads it: `mirrorPercentage.value`, else the older `mirrorPercent`,
/// else all of it.
fn percent(p: Option<&Value>, legacy: Option<&Value>) -> f64 {
    p.and_then(|p| p["value"].as_f64())
        .or_else(|| legacy.and_then(Value::as_f64))
        .unwrap_or(100.0)
}

fn pct(v: f64) -> String {
    let s = format!("{v}");
    format!("{s}%")
}

/// What route `r` mirrors to the shadow, as (the fields to remove, the share), if it does:
/// its `mirror` (with its percentage fields) and/or entries of `mirrors`.
fn shadow_part(r: &Value, s: &ShadowConfig) -> Option<(Value, f64)> {
    let mut part = Map::new();
    let mut share = None;
    if is_shadow(&r["mirror"], s) {
        for k in MIRROR_FIELDS {
            if let Some(v) = r.get(k) {
                part.insert(k.to_string(), v.clone());
            }
        }
        share = Some(percent(
            r.get("mirrorPercentage"),
            r.get("mirrorPercent").or(r.get("mirror_percent")),
        ));
    }
    let many: Vec<Value> = r["mirrors"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter(|m| is_shadow(&m["destination"], s))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(m) = many.first() {
        share.get_or_insert(percent(m.get("percentage"), None));
        part.insert("mirrors".into(), Value::Array(many));
    }
    share.map(|p| (Value::Object(part), p))
}

/// The route without its mirror to the shadow; every other field as read.
fn without_shadow(r: &Value, s: &ShadowConfig) -> Value {
    let mut out = r.clone();
    let Some(o) = out.as_object_mut() else {
        return out;
    };
    if is_shadow(&r["mirror"], s) {
        for k in MIRROR_FIELDS {
            o.remove(k);
        }
    }
    if let Some(ms) = o.get_mut("mirrors").and_then(Value::as_array_mut) {
        ms.retain(|m| !is_shadow(&m["destination"], s));
        if ms.is_empty() {
            o.remove("mirrors");
        }
    }
    out
}

/// The routes mirroring to the shadow: (index, name, removed fields, share).
fn mirroring(vs: &Value, s: &ShadowConfig) -> Vec<(usize, String, Value, f64)> {
    routes(vs)
        .iter()
        .enumerate()
        .filter_map(|(i, r)| shadow_part(r, s).map(|(part, p)| (i, route_name(i, r), part, p)))
        .collect()
}

/// `spec.http` with every mirror to the shadow removed; `None` when there is none.
fn stopped_http(vs: &Value, s: &ShadowConfig) -> Option<Value> {
    if mirroring(vs, s).is_empty() {
        return None;
    }
    Some(Value::Array(
        routes(vs).iter().map(|r| without_shadow(r, s)).collect(),
    ))
}

/// What the removal takes away, as recorded: `[{"index": 1, "route": "primary", "removed": {…}}]`.
fn record(vs: &Value, s: &ShadowConfig) -> Value {
    Value::Array(
        mirroring(vs, s)
            .into_iter()
            .map(|(i, _, part, _)| {
                json!({"index": i, "route": routes(vs)[i]["name"], "removed": part})
            })
            .collect(),
    )
}

/// What a route mirrors, for the plan: `mirror ms/shadow 50.5%`, `mirrors ms/shadow 10%, tap 1%`.
fn mirrors_text(r: &Value) -> String {
    let dest = |d: &Value| match d["subset"].as_str() {
        Some(sub) => format!("{}/{sub}", d["host"].as_str().unwrap_or("")),
        None => d["host"].as_str().unwrap_or("").to_string(),
    };
    let mut out = Vec::new();
    if r.get("mirror").is_some() {
        out.push(format!(
            "mirror {} {}",
            dest(&r["mirror"]),
            pct(percent(
                r.get("mirrorPercentage"),
                r.get("mirrorPercent").or(r.get("mirror_percent"))
            ))
        ));
    }
    for m in r["mirrors"].as_array().map_or(&[][..], Vec::as_slice) {
        out.push(format!(
            "mirror {} {}",
            dest(&m["destination"]),
            pct(percent(m.get("percentage"), None))
        ));
    }
    if out.is_empty() {
        "no mirror".into()
    } else {
        out.join(", ")
    }
}

/// The live shadow for `status` (read with a short timeout): "live: mirroring 50.5% of route
/// primary to ms/shadow …" or "off …"; `None` without a configured shadow.
pub fn status_line(cfg: &crate::config::InfraConfig) -> Option<String> {
    let s = cfg.shadow.as_ref()?;
    let vs_name = cfg.virtual_service.as_deref()?;
    let k = kubectl::Kubectl {
        context: cfg.context.clone(),
        namespace: cfg.namespace.clone(),
    };
    let what = format!("virtualservice/{vs_name}");
    let read = k
        .cmd(["get", VS, vs_name, "-o", "json"])
        .timeout(std::time::Duration::from_secs(5))
        .run()
        .map_err(|e| kubectl::explain(&e, &what).0)
        .and_then(|o| serde_json::from_str::<Value>(&o.stdout).map_err(|e| e.to_string()));
    let vs = match read {
        Ok(vs) => vs,
        Err(e) => return Some(format!("unknown (cannot read {what}: {e})")),
    };
    let on = mirroring(&vs, s);
    if on.is_empty() {
        return Some(format!("off ({what} mirrors nothing to {})", shown(s)));
    }
    Some(
        on.iter()
            .map(|(_, name, _, p)| {
                format!(
                    "live: {what} mirrors {} of {name} to {}; users never see its answers; stop it with `mlrb rollback infra MODEL --shadow`",
                    pct(*p),
                    shown(s)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Removes the shadow's mirrors from the routes as re-read just before, with that read's
/// resourceVersion, and records what it removed on the object in the same write.
struct StopMirror {
    obj: Object,
    shadow: ShadowConfig,
    planned: Value,
}

impl Step for StopMirror {
    fn line(&self) -> String {
        self.obj.merge_patch_line(&self.planned)
    }
    fn done(&self) -> bool {
        self.obj
            .read()
            .is_ok_and(|vs| mirroring(&vs, &self.shadow).is_empty())
    }
    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let mut removed = Vec::new();
        let r = self.obj.cas(|vs| {
            if let Some(l) = lease::foreign(vs, event) {
                return Err(lease::held_by(&self.obj.shown, &l));
            }
            removed = mirroring(vs, &self.shadow)
                .into_iter()
                .map(|(_, n, _, p)| format!("{n} ({})", pct(p)))
                .collect();
            Ok(match stopped_http(vs, &self.shadow) {
                Some(http) => Write::Patch(json!({
                    "metadata": {"annotations": {STOPPED: record(vs, &self.shadow).to_string()}},
                    "spec": {"http": http},
                })),
                None => Write::Nothing,
            })
        });
        let to = shown(&self.shadow);
        match r {
            Ok(_) if !removed.is_empty() => Ok(format!(
                "{} patched: no more traffic mirrored to {to} (was: {})",
                self.obj.shown,
                removed.join(", ")
            )),
            Ok(_) => Ok(format!(
                "{}: already mirrors nothing to {to}",
                self.obj.shown
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

/// Every route's destinations and weights, and every mirror not to the shadow: what the stop
/// must leave exactly as it was.
fn untouched(vs: &Value, s: &ShadowConfig) -> Vec<Value> {
    routes(vs).iter().map(|r| without_shadow(r, s)).collect()
}

impl Infra {
    /// `--shadow`: the istio strategy with `shadow` configured, or why not.
    pub fn shadow_stop(mut self) -> Result<Infra, CliError> {
        let model = &self.model;
        if self.cfg.strategy != crate::config::InfraStrategy::Istio {
            return Err(CliError::usage(format!(
                "--shadow stops an Istio mirror, and [models.{model}.infra] strategy is not \"istio\""
            ))
            .with_hint(format!(
                "set strategy = \"istio\", virtual_service = \"NAME\" and shadow = {{ host = \"HOST\", subset = \"SUBSET\" }} in [models.{model}.infra]"
            )));
        }
        if self.cfg.shadow.is_none() {
            return Err(CliError::usage(format!(
                "--shadow needs the model's shadow: [models.{model}.infra] has no `shadow`"
            ))
            .with_hint(format!(
                "add shadow = {{ host = \"HOST\", subset = \"SUBSET\" }} to [models.{model}.infra]: the mirror destination of the model in shadow mode"
            )));
        }
        self.shadow = true;
        Ok(self)
    }

    pub(super) fn plan_shadow(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let Some(shadow) = self.cfg.shadow.clone() else {
            return Err(CliError::usage("--shadow needs [models.X.infra] shadow").into());
        };
        let to = shown(&shadow);
        let name = self.cfg.virtual_service.clone().unwrap_or_default();
        let target = self.subject().target;
        let obj = self.object(VS, &name);
        let vs = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let on = mirroring(&vs, &shadow);
        let mut detail = Vec::new();
        for (i, r) in routes(&vs).iter().enumerate() {
            let before = mirrors_text(r);
            let after = mirrors_text(&without_shadow(r, &shadow));
            detail.push(if before == after {
                format!("{} ({before}), unchanged", route_name(i, r))
            } else {
                format!("{}: {before} → {after}", route_name(i, r))
            });
        }
        let http = match (stopped_http(&vs, &shadow), started) {
            (Some(http), _) => http,
            (None, Some(_)) => vs["spec"]["http"].clone(),
            (None, None) => {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target}: no route mirrors traffic to the shadow {to} ({}); nothing changed. Users were never exposed to the shadow",
                        detail.join("; ")
                    ),
                    &[
                        ("strategy", "istio-shadow".into()),
                        ("target", target.clone().into()),
                        ("shadow", to.clone().into()),
                    ],
                )));
            }
        };
        let was = on
            .iter()
            .map(|(_, n, _, p)| format!("{} of {n}", pct(*p)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut notes = vec![format!(
            "a shadow stop: users were never exposed to the shadow {to} (it gets a copy of the traffic and its answers are discarded); live routing and weights are not touched"
        )];
        if !on.is_empty() {
            notes.push(format!(
                "removed from {target}, recorded for a restore (also on the object as {STOPPED}): {}",
                record(&vs, &shadow)
            ));
        }
        let resuming = started.is_some();
        let planned_http = vs["spec"]["http"].clone();
        let claim = self.claim(obj.clone(), req, move |vs| {
            if resuming || vs["spec"]["http"] == planned_http {
                Ok(())
            } else {
                Err("its http routes changed".into())
            }
        });
        let keep = untouched(&vs, &shadow);
        let vobj = obj.clone();
        let vshadow = shadow.clone();
        let vto = to.clone();
        Ok(Ok(Draft {
            strategy: "istio-shadow",
            target,
            from: 0,
            to: 0,
            unit: "shadow",
            from_label: if was.is_empty() {
                format!("{to} (already stopped)")
            } else {
                format!("{to} mirrored ({was})")
            },
            to_label: "stopped".into(),
            to_reason: format!(
                "no traffic mirrored to the shadow {to}; live routing unchanged: users were never exposed"
            ),
            detail,
            notes,
            steps: vec![Box::new(StopMirror {
                obj,
                shadow,
                planned: json!({"spec": {"http": http}}),
            })],
            verify: Box::new(move || {
                let vs = vobj
                    .read()
                    .map_err(|e| format!("cannot re-read the VirtualService: {e}"))?;
                if let Some((_, n, _, p)) = mirroring(&vs, &vshadow).first() {
                    return Err(format!("{n} still mirrors {} to {vto}", pct(*p)));
                }
                if untouched(&vs, &vshadow) != keep {
                    return Err(
                        "the routes changed beyond the shadow's mirror since the plan".into(),
                    );
                }
                Ok(format!(
                    "no route mirrors to {vto}; every route otherwise as before"
                ))
            }),
            claim: Some(claim),
        }))
    }
}

/// What the last stop recorded on the VirtualService: (index, route name, removed fields).
fn recorded(vs: &Value) -> Result<Vec<(usize, Option<String>, Value)>, String> {
    let Some(text) = vs["metadata"]["annotations"][STOPPED].as_str() else {
        return Ok(Vec::new());
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("its {STOPPED} annotation is not what mlrb wrote ({e})"))?;
    v.as_array()
        .ok_or_else(|| format!("its {STOPPED} annotation is not a list"))?
        .iter()
        .map(|e| {
            let i = e["index"]
                .as_u64()
                .ok_or_else(|| format!("its {STOPPED} annotation has an entry without index"))?;
            Ok((
                i as usize,
                e["route"].as_str().map(str::to_string),
                e["removed"].clone(),
            ))
        })
        .collect()
}

/// The route a record entry names, as it stands now: by name, else (unnamed) by its place.
fn find(vs: &Value, index: usize, name: &Option<String>) -> Option<usize> {
    match name {
        Some(n) => routes(vs)
            .iter()
            .position(|r| r["name"].as_str() == Some(n.as_str())),
        None => routes(vs)
            .get(index)
            .filter(|r| r["name"].as_str().is_none())
            .map(|_| index),
    }
}

/// `spec.http` with the recorded mirrors put back; `Ok(None)` when every one is there already.
/// A route that now mirrors somewhere else with the single `mirror` is refused, never
/// overwritten.
fn restored_http(vs: &Value, s: &ShadowConfig) -> Result<Option<Value>, String> {
    let rec = recorded(vs)?;
    let mut http: Vec<Value> = routes(vs).to_vec();
    let mut changed = false;
    for (index, name, removed) in &rec {
        let shown_name = name
            .as_ref()
            .map(|n| format!("route {n}"))
            .unwrap_or_else(|| format!("http[{index}] (unnamed)"));
        let Some(i) = find(vs, *index, name) else {
            return Err(format!(
                "{shown_name}, which the shadow was mirrored from, is gone"
            ));
        };
        if shadow_part(&http[i], s).is_some() {
            continue;
        }
        let Some(o) = http[i].as_object_mut() else {
            continue;
        };
        for (k, v) in removed.as_object().into_iter().flatten() {
            if k == "mirrors" {
                let mut list = o
                    .get("mirrors")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                list.extend(v.as_array().into_iter().flatten().cloned());
                o.insert(k.clone(), Value::Array(list));
            } else if o.get(k).is_some_and(|now| now != v) {
                return Err(format!(
                    "{shown_name} now has its own {k} ({}); putting the shadow back would replace it",
                    o[k]
                ));
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
        changed = true;
    }
    Ok(changed.then_some(Value::Array(http)))
}

/// Puts back what the last stop removed, from the record on the object, and clears the record.
struct RestoreMirror {
    obj: Object,
    shadow: ShadowConfig,
    planned: Value,
}

impl Step for RestoreMirror {
    fn line(&self) -> String {
        self.obj.merge_patch_line(&self.planned)
    }
    fn done(&self) -> bool {
        self.obj.read().is_ok_and(|vs| {
            vs["metadata"]["annotations"][STOPPED].is_null()
                && !mirroring(&vs, &self.shadow).is_empty()
        })
    }
    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let r = self.obj.cas(|vs| {
            if let Some(l) = lease::foreign(vs, event) {
                return Err(lease::held_by(&self.obj.shown, &l));
            }
            let http = restored_http(vs, &self.shadow)?;
            let mut patch = json!({"metadata": {"annotations": {STOPPED: Value::Null}}});
            if let Some(http) = http {
                patch["spec"] = json!({"http": http});
            } else if vs["metadata"]["annotations"][STOPPED].is_null() {
                return Ok(Write::Nothing);
            }
            Ok(Write::Patch(patch))
        });
        match r {
            Ok(_) => Ok(format!(
                "{} patched: traffic mirrored to {} again, as before the stop",
                self.obj.shown,
                shown(&self.shadow)
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
    /// `--shadow --restore`: put back the mirror the last shadow stop removed.
    pub(super) fn plan_shadow_restore(&self, req: &Request, started: Option<&Started>) -> Drafted {
        let Some(shadow) = self.cfg.shadow.clone() else {
            return Err(CliError::usage("--shadow needs [models.X.infra] shadow").into());
        };
        let to = shown(&shadow);
        let name = self.cfg.virtual_service.clone().unwrap_or_default();
        let target = self.subject().target;
        let obj = self.object(VS, &name);
        let vs = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let http = restored_http(&vs, &shadow).map_err(|why| {
            CliError::usage(format!("{target}: {why}; nothing was changed")).with_hint(
                "put the shadow's mirror back by hand (`kubectl edit virtualservice`), from the record in the stop's report",
            )
        })?;
        let http = match (http, started) {
            (Some(http), _) => http,
            (None, Some(_)) => vs["spec"]["http"].clone(),
            (None, None) => {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target}: no shadow stop recorded to undo ({}); nothing changed",
                        if mirroring(&vs, &shadow).is_empty() {
                            format!("and nothing mirrors to {to}")
                        } else {
                            format!("it mirrors to {to} already")
                        }
                    ),
                    &[
                        ("strategy", "istio-shadow".into()),
                        ("target", target.clone().into()),
                        ("shadow", to.clone().into()),
                    ],
                )));
            }
        };
        let after = json!({"spec": {"http": http.clone()}});
        let mut detail = Vec::new();
        for (i, r) in routes(&vs).iter().enumerate() {
            let before = mirrors_text(r);
            let now = mirrors_text(&http[i]);
            detail.push(if before == now {
                format!("{} ({before}), unchanged", route_name(i, r))
            } else {
                format!("{}: {before} → {now}", route_name(i, r))
            });
        }
        let resuming = started.is_some();
        let planned_http = vs["spec"]["http"].clone();
        let claim = self.claim(obj.clone(), req, move |vs| {
            if resuming || vs["spec"]["http"] == planned_http {
                Ok(())
            } else {
                Err("its http routes changed".into())
            }
        });
        let vobj = obj.clone();
        let vshadow = shadow.clone();
        let vto = to.clone();
        let mut planned = after.clone();
        planned["metadata"] = json!({"annotations": {STOPPED: Value::Null}});
        Ok(Ok(Draft {
            strategy: "istio-shadow",
            target,
            from: 0,
            to: 0,
            unit: "shadow",
            from_label: "stopped".into(),
            to_label: format!("{to} mirrored again"),
            to_reason: format!(
                "traffic mirrored to the shadow {to} again, as recorded by the stop; live routing unchanged"
            ),
            detail,
            notes: vec![format!(
                "putting the shadow {to} back: it gets a copy of the traffic again (its answers are discarded; users are not exposed)"
            )],
            steps: vec![Box::new(RestoreMirror {
                obj,
                shadow,
                planned,
            })],
            verify: Box::new(move || {
                let vs = vobj
                    .read()
                    .map_err(|e| format!("cannot re-read the VirtualService: {e}"))?;
                let on = mirroring(&vs, &vshadow);
                if on.is_empty() {
                    return Err(format!("no route mirrors to {vto}"));
                }
                Ok(format!(
                    "{} mirrored to {vto} again",
                    on.iter()
                        .map(|(_, n, _, p)| format!("{} of {n}", pct(*p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
            claim: Some(claim),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shadow() -> ShadowConfig {
        ShadowConfig {
            host: "ms".into(),
            subset: Some("shadow".into()),
        }
    }

    #[test]
    fn only_the_shadows_mirror_goes() {
        let vs = json!({"spec": {"http": [
            {"name": "a", "route": [{"destination": {"host": "ms", "subset": "stable"}, "weight": 90}],
             "mirror": {"host": "ms", "subset": "shadow"}, "mirrorPercentage": {"value": 50.5}},
            {"name": "b", "route": [{"destination": {"host": "ms", "subset": "stable"}}],
             "mirror": {"host": "tap", "subset": "shadow"}},
            {"name": "c", "route": [{"destination": {"host": "ms", "subset": "stable"}}],
             "mirrors": [{"destination": {"host": "ms", "subset": "shadow"}, "percentage": {"value": 5}},
                         {"destination": {"host": "tap"}}]},
            {"name": "d", "route": [{"destination": {"host": "ms", "subset": "stable"}}],
             "mirror": {"host": "ms"}},
        ]}});
        let http = stopped_http(&vs, &shadow()).unwrap();
        assert!(http[0].get("mirror").is_none() && http[0].get("mirrorPercentage").is_none());
        assert_eq!(http[0]["route"], vs["spec"]["http"][0]["route"]);
        assert_eq!(http[1], vs["spec"]["http"][1], "a mirror to another host");
        assert_eq!(
            http[2]["mirrors"],
            json!([{"destination": {"host": "tap"}}]),
            "the other entry of mirrors"
        );
        assert_eq!(http[3], vs["spec"]["http"][3], "the same host, no subset");
        let on = mirroring(&vs, &shadow());
        assert_eq!(on.len(), 2);
        assert_eq!(on[0].3, 50.5);
        assert_eq!(on[1].3, 5.0);
        let vs2 = json!({"spec": {"http": http}});
        assert!(stopped_http(&vs2, &shadow()).is_none());
    }
}
