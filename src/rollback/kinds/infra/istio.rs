//! istio: canary reversal through the VirtualService: on the one http route that splits the
//! model's host between the stable and canary subsets, the canary's share goes to stable and the
//! mirror stops; every other route and field is written back as it was read.

use serde_json::Value;

use crate::error::CliError;
use crate::exec::kubectl;
use crate::rollback::{Kind, Request, Step, StepFailure};

use super::lease::{CasError, Object, Write};
use super::{Draft, Drafted, Infra, Started, early, lease, nothing};

const VS: &str = "virtualservices.networking.istio.io";

/// What the reversal is told by the config.
#[derive(Clone)]
struct Split {
    stable: String,
    canary: String,
    host: Option<String>,
    route: Option<String>,
    others_to_stable: bool,
}

fn routes(vs: &Value) -> &[Value] {
    vs["spec"]["http"].as_array().map_or(&[], Vec::as_slice)
}

fn destinations(r: &Value) -> &[Value] {
    r["route"].as_array().map_or(&[], Vec::as_slice)
}

/// How a route is named to the user: its name, else its place in `spec.http`.
fn route_name(i: usize, r: &Value) -> String {
    match r["name"].as_str() {
        Some(n) => format!("route {n}"),
        None => format!("http[{i}] (unnamed)"),
    }
}

fn subset(d: &Value) -> Option<&str> {
    d["destination"]["subset"].as_str()
}

fn host(d: &Value) -> &str {
    d["destination"]["host"].as_str().unwrap_or("")
}

/// A destination's weight as Istio reads it: a lone destination without one gets everything.
fn weight(d: &Value, of: usize) -> u64 {
    d["weight"]
        .as_u64()
        .unwrap_or(if of == 1 { 100 } else { 0 })
}

/// The host whose stable and canary subsets the route splits between, if it does.
fn split_host<'a>(r: &'a Value, s: &Split) -> Option<&'a str> {
    let ds = destinations(r);
    ds.iter()
        .filter(|d| subset(d) == Some(&s.stable))
        .map(host)
        .filter(|h| s.host.as_deref().is_none_or(|want| want == *h))
        .find(|h| {
            ds.iter()
                .any(|d| subset(d) == Some(&s.canary) && host(d) == *h)
        })
}

/// `stable=80 canary=20 v3=10 mirror on`
fn weights(r: &Value) -> String {
    let ds = destinations(r);
    let mut out: Vec<String> = ds
        .iter()
        .map(|d| format!("{}={}", subset(d).unwrap_or(host(d)), weight(d, ds.len())))
        .collect();
    if r.get("mirror").is_some() {
        out.push("mirror on".into());
    }
    out.join(" ")
}

/// A list for a message, or `none`.
fn listed(items: Vec<String>) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The index of the route to reverse, or why none can be (every configured name must match
/// something, and the message lists what exists).
fn select(vs: &Value, s: &Split, target: &str) -> Result<usize, CliError> {
    let rs = routes(vs);
    let names = || {
        listed(
            rs.iter()
                .enumerate()
                .map(|(i, r)| route_name(i, r))
                .collect(),
        )
    };
    if let Some(want) = &s.route
        && !rs.iter().any(|r| r["name"].as_str() == Some(want))
    {
        return Err(CliError::usage(format!(
            "route `{want}` matches no http route of {target}; its routes: {}; nothing was changed",
            names()
        ))
        .with_hint("set [models.*.infra].route to one of them"));
    }
    let all: Vec<&Value> = rs.iter().flat_map(destinations).collect();
    let mut hosts: Vec<String> = all.iter().map(|d| host(d).to_string()).collect();
    hosts.sort();
    hosts.dedup();
    if let Some(h) = &s.host
        && !hosts.contains(h)
    {
        return Err(CliError::usage(format!(
            "host `{h}` matches no destination of {target}; its destination hosts: {}; nothing was changed",
            listed(hosts)
        ))
        .with_hint("set [models.*.infra].host to one of them"));
    }
    let mut subsets: Vec<String> = all
        .iter()
        .filter(|d| s.host.as_deref().is_none_or(|h| h == host(d)))
        .filter_map(|d| subset(d).map(str::to_string))
        .collect();
    subsets.sort();
    subsets.dedup();
    for (key, name) in [("stable_subset", &s.stable), ("canary_subset", &s.canary)] {
        if !subsets.contains(name) {
            return Err(CliError::usage(format!(
                "{key} `{name}` matches no destination of {target}{}; its subsets: {}; nothing was changed",
                s.host
                    .as_ref()
                    .map(|h| format!(" for host {h}"))
                    .unwrap_or_default(),
                listed(subsets)
            ))
            .with_hint(format!("set [models.*.infra].{key} to one of them")));
        }
    }
    let both = format!(
        "both subsets {} and {}{}",
        s.stable,
        s.canary,
        s.host
            .as_ref()
            .map(|h| format!(" of host {h}"))
            .unwrap_or_default()
    );
    let qualify: Vec<usize> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| s.route.is_none() || r["name"].as_str() == s.route.as_deref())
        .filter(|(_, r)| split_host(r, s).is_some())
        .map(|(i, _)| i)
        .collect();
    match qualify.as_slice() {
        [i] => Ok(*i),
        [] => {
            let each = listed(
                rs.iter()
                    .enumerate()
                    .filter(|(_, r)| s.route.is_none() || r["name"].as_str() == s.route.as_deref())
                    .map(|(i, r)| format!("{} ({})", route_name(i, r), weights(r)))
                    .collect(),
            );
            Err(CliError::usage(format!(
                "no http route of {target} sends to {both}: {each}; nothing was changed"
            ))
            .with_hint("check [models.*.infra].route, host, stable_subset and canary_subset against `kubectl get virtualservice -o yaml`"))
        }
        several => Err(CliError::usage(format!(
            "{} http routes of {target} send to {both} and [models.*.infra].route names none of them: {}; nothing was changed",
            several.len(),
            several
                .iter()
                .map(|i| format!("{} ({})", route_name(*i, &rs[*i]), weights(&rs[*i])))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("set [models.*.infra].route to the one to reverse (an unnamed route needs a `name:` in the VirtualService), or host = \"HOST\" to keep to one host")),
    }
}

/// The route with the canary's share moved to stable (and, if configured, any other
/// destination's), weights summing to 100, no mirror; `None` when nothing would change.
fn reversed(r: &Value, s: &Split) -> Option<Value> {
    let h = split_host(r, s)?.to_string();
    let mut out = r.clone();
    let mut changed = false;
    if let Some(o) = out.as_object_mut() {
        for k in ["mirror", "mirrorPercentage", "mirror_percent"] {
            changed |= o.remove(k).is_some();
        }
    }
    let n = destinations(r).len();
    let is = |d: &Value, sub: &str| subset(d) == Some(sub) && host(d) == h;
    // What stays where it is: a third destination's share (unless moved), and a second
    // destination of the stable subset.
    let stable_at = destinations(r).iter().position(|d| is(d, &s.stable))?;
    // Its share goes to stable: the canary, and any other destination if so configured.
    let moved = |d: &Value| is(d, &s.canary) || (s.others_to_stable && !is(d, &s.stable));
    let kept: u64 = destinations(r)
        .iter()
        .enumerate()
        .filter(|(i, d)| *i != stable_at && !moved(d))
        .map(|(_, d)| weight(d, n))
        .sum();
    for (i, d) in out["route"].as_array_mut()?.iter_mut().enumerate() {
        let want = if i == stable_at {
            100u64.saturating_sub(kept)
        } else if moved(d) {
            0
        } else {
            continue;
        };
        if d["weight"].as_u64() != Some(want) {
            d["weight"] = want.into();
            changed = true;
        }
    }
    changed.then_some(out)
}

/// `spec.http` with route `i` reversed; `None` when it already is.
fn reversed_http(vs: &Value, i: usize, s: &Split) -> Option<Value> {
    let r = reversed(routes(vs).get(i)?, s)?;
    let mut http = vs["spec"]["http"].clone();
    http[i] = r;
    Some(http)
}

/// Reverses the canary: the routes as re-read just before, patched with that read's
/// resourceVersion (a compare-and-swap; the lease mlrb wrote since the plan changed it).
struct Reverse {
    obj: Object,
    split: Split,
    /// The route to reverse and how it is named, as planned.
    index: usize,
    name: String,
    /// The patch as planned, for the plan and the journal.
    planned: Value,
}

impl Reverse {
    /// The planned route's index in the VirtualService as read, if it is still that route.
    fn still(&self, vs: &Value) -> Result<usize, String> {
        match routes(vs).get(self.index) {
            Some(r)
                if route_name(self.index, r) == self.name
                    && split_host(r, &self.split).is_some() =>
            {
                Ok(self.index)
            }
            _ => Err(format!(
                "{} changed since the plan: {} is no longer the stable/canary route at http[{}]",
                self.obj.shown, self.name, self.index
            )),
        }
    }
}

impl Step for Reverse {
    fn line(&self) -> String {
        self.obj.merge_patch_line(&self.planned)
    }
    fn done(&self) -> bool {
        self.obj.read().is_ok_and(|vs| {
            self.still(&vs)
                .is_ok_and(|i| reversed_http(&vs, i, &self.split).is_none())
        })
    }
    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let mut patched = false;
        let r = self.obj.cas(|vs| {
            if let Some(l) = lease::foreign(vs, event) {
                return Err(lease::held_by(&self.obj.shown, &l));
            }
            let i = self.still(vs)?;
            Ok(match reversed_http(vs, i, &self.split) {
                Some(http) => {
                    patched = true;
                    Write::Patch(serde_json::json!({"spec": {"http": http}}))
                }
                None => Write::Nothing,
            })
        });
        match r {
            Ok(_) if patched => Ok(format!(
                "{} patched: {} sends all its {} traffic to {}",
                self.obj.shown, self.name, self.split.canary, self.split.stable
            )),
            Ok(_) => Ok(format!(
                "{}: {} already sends nothing to {}",
                self.obj.shown, self.name, self.split.canary
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
        let split = Split {
            stable: self
                .cfg
                .stable_subset
                .clone()
                .unwrap_or_else(|| "stable".into()),
            canary: self
                .cfg
                .canary_subset
                .clone()
                .unwrap_or_else(|| "canary".into()),
            host: self.cfg.host.clone(),
            route: self.cfg.route.clone(),
            others_to_stable: self.cfg.others_to_stable,
        };
        let (stable, canary) = (split.stable.clone(), split.canary.clone());
        let target = self.subject().target;
        let obj = self.object(VS, &name);
        let vs = obj.read().map_err(|e| early("kubectl", e, &target))?;
        let index = select(&vs, &split, &target)?;
        let route = &routes(&vs)[index];
        let rname = route_name(index, route);
        let rhost = split_host(route, &split).unwrap_or("").to_string();
        let before = weights(route);
        let reversed_route = reversed(route, &split);
        let after = reversed_route.as_ref().map_or(before.clone(), weights);
        let http = match (reversed_http(&vs, index, &split), started) {
            (Some(http), _) => http,
            (None, Some(_)) => vs["spec"]["http"].clone(),
            (None, None) => {
                return Ok(Err(nothing(
                    "no_change",
                    format!(
                        "{target}: {rname} (host {rhost}) already sends nothing to {canary} ({before}); nothing changed"
                    ),
                    &[
                        ("strategy", "istio".into()),
                        ("target", target.clone().into()),
                        ("route", rname.clone().into()),
                    ],
                )));
            }
        };
        // One line per route: what changes, and what is left as it is.
        let mut detail = Vec::new();
        let mut notes = Vec::new();
        for (i, r) in routes(&vs).iter().enumerate() {
            let hosts = listed({
                let mut h: Vec<String> = destinations(r)
                    .iter()
                    .map(|d| host(d).to_string())
                    .collect();
                h.dedup();
                h
            });
            if i == index {
                detail.push(format!(
                    "{} (host {hosts}): {before} → {after}",
                    route_name(i, r)
                ));
                continue;
            }
            detail.push(format!(
                "{} (host {hosts}): {}, unchanged",
                route_name(i, r),
                weights(r)
            ));
            let to_canary = destinations(r).iter().any(|d| {
                subset(d) == Some(&canary)
                    && host(d) == rhost
                    && weight(d, destinations(r).len()) > 0
            });
            if to_canary {
                notes.push(format!(
                    "{} of {target} also sends traffic to {canary} ({}); it is not the stable/canary split and is left as it is",
                    route_name(i, r),
                    weights(r)
                ));
            }
        }
        if let Some(rev) = &reversed_route {
            let others: Vec<String> = destinations(route)
                .iter()
                .zip(destinations(rev))
                .filter(|(d, _)| subset(d) != Some(&stable) && subset(d) != Some(&canary))
                .map(|(d, now)| {
                    format!(
                        "{}={}",
                        subset(d).unwrap_or(host(d)),
                        weight(now, destinations(rev).len())
                    )
                })
                .collect();
            if !others.is_empty() && !split.others_to_stable {
                notes.push(format!(
                    "{rname} of {target} also sends to {}; that share is kept (others_to_stable = true in [models.{}.infra] moves it to {stable})",
                    others.join(" "),
                    self.model
                ));
            }
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
        let step = Reverse {
            obj: obj.clone(),
            split: split.clone(),
            index,
            name: rname.clone(),
            planned: serde_json::json!({"spec": {"http": http}}),
        };
        let vobj = obj.clone();
        let (vsplit, vname) = (split.clone(), rname.clone());
        Ok(Ok(Draft {
            strategy: "istio",
            target,
            from: 0,
            to: 0,
            unit: "weights",
            from_label: before,
            to_label: format!("{after}, no mirror"),
            to_reason: format!("{after} on {rname} (host {rhost}), no mirror"),
            detail,
            notes,
            steps: vec![Box::new(step)],
            verify: Box::new(move || {
                let vs = vobj
                    .read()
                    .map_err(|e| format!("cannot re-read the VirtualService: {e}"))?;
                let r = routes(&vs)
                    .get(index)
                    .filter(|r| route_name(index, r) == vname)
                    .ok_or_else(|| format!("{vname} is no longer at http[{index}]"))?;
                if reversed(r, &vsplit).is_some() {
                    return Err(format!(
                        "{vname} still sends to {}: {}",
                        vsplit.canary,
                        weights(r)
                    ));
                }
                let n = destinations(r).len();
                let sum: u64 = destinations(r).iter().map(|d| weight(d, n)).sum();
                if sum != 100 {
                    return Err(format!("{vname}'s weights sum to {sum}: {}", weights(r)));
                }
                Ok(format!("{vname} now {}", weights(r)))
            }),
            claim: Some(claim),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(route: Option<&str>, host: Option<&str>) -> Split {
        Split {
            stable: "stable".into(),
            canary: "canary".into(),
            host: host.map(Into::into),
            route: route.map(Into::into),
            others_to_stable: false,
        }
    }

    fn d(host: &str, subset: &str, weight: u64) -> Value {
        json!({"destination": {"host": host, "subset": subset}, "weight": weight})
    }

    #[test]
    fn a_three_way_split_keeps_the_third_share_and_sums_to_100() {
        let r = json!({"name": "p", "route": [d("ms", "stable", 70), d("ms", "canary", 20), d("ms", "v3", 10)]});
        let out = reversed(&r, &split(None, None)).unwrap();
        assert_eq!(weights(&out), "stable=90 canary=0 v3=10");
        let all = Split {
            others_to_stable: true,
            ..split(None, None)
        };
        assert_eq!(
            weights(&reversed(&r, &all).unwrap()),
            "stable=100 canary=0 v3=0"
        );
    }

    #[test]
    fn only_the_split_route_of_the_host_qualifies() {
        let vs = json!({"spec": {"http": [
            {"name": "testers", "match": [{"headers": {"x": {"exact": "1"}}}], "route": [{"destination": {"host": "ms", "subset": "canary"}}]},
            {"name": "primary", "route": [d("ms", "stable", 80), d("ms", "canary", 20)]},
            {"name": "other", "route": [d("other", "stable", 50), d("other", "canary", 50)]},
        ]}});
        let e = select(&vs, &split(None, None), "vs").unwrap_err();
        assert!(
            e.message
                .contains("route primary (stable=80 canary=20), route other"),
            "{}",
            e.message
        );
        assert_eq!(select(&vs, &split(None, Some("ms")), "vs").ok(), Some(1));
        assert_eq!(select(&vs, &split(Some("other"), None), "vs").ok(), Some(2));
        let e = select(&vs, &split(Some("primry"), None), "vs").unwrap_err();
        assert!(
            e.message
                .contains("its routes: route testers, route primary, route other"),
            "{}",
            e.message
        );
    }
}
