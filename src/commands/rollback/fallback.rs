//! `rollback model MODEL --fallback [--end]` when `[models.X.fallback]` is a serving switch: flips
//! an environment variable on the serving Deployment or a Service's selector to the pre-built
//! fallback, and back, with the plan → confirm → journal → execute → verify → MTTR → report
//! shape of every rollback. The model registry is not touched.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{Confirmation, clean_reason, close_event, confirm, detected_at, triggered_by};
use crate::cli::ModelRollbackArgs;
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::config::{Switch, SwitchKind};
use crate::error::{CliError, ExitStatus};
use crate::exec::kubectl::{self, Kubectl};
use crate::exec::{Cmd, ExecError};
use crate::journal::{ActiveSwitch, Entry, Journal, SwitchValue, new_event_id};
use crate::mttr;

const GET_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct Outcome<'a> {
    event_id: Option<&'a str>,
    outcome: &'a str,
    message: &'a str,
    model: &'a str,
    /// "on" (switched to the fallback) or "off" (`--end`: switched back).
    fallback: &'a str,
    switch: &'a str,
    target: &'a str,
    from: String,
    to: String,
    plan: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mttr: Option<mttr::Mttr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

/// Where the switch acts: the object, how kubectl reaches it, and how it is named in messages.
struct Place {
    kind: SwitchKind,
    k: Kubectl,
    /// `deployment/D` or `service/S`.
    object: String,
    container: Option<String>,
    /// The object with its namespace and context, for messages.
    label: String,
}

impl Place {
    fn new(
        kind: SwitchKind,
        object: String,
        namespace: Option<String>,
        context: Option<String>,
        container: Option<String>,
    ) -> Place {
        let mut label = object.clone();
        if let Some(n) = &namespace {
            label.push_str(&format!(" in namespace {n}"));
        }
        if let Some(c) = &context {
            label.push_str(&format!(" (context {c})"));
        }
        Place {
            kind,
            k: Kubectl { context, namespace },
            object,
            container,
            label,
        }
    }

    fn of_config(sw: &Switch) -> Place {
        let object = match sw.kind {
            SwitchKind::KubectlSetEnv => format!("deployment/{}", sw.deployment),
            SwitchKind::ServiceSelector => format!("service/{}", sw.service),
        };
        Place::new(
            sw.kind,
            object,
            sw.namespace.clone(),
            sw.context.clone(),
            sw.container.clone(),
        )
    }

    fn of_journal(a: &ActiveSwitch) -> Place {
        Place::new(
            a.switch,
            a.object.clone(),
            a.namespace.clone(),
            a.context.clone(),
            a.container.clone(),
        )
    }

    /// `kubectl get OBJECT -o json`.
    fn get(&self) -> std::result::Result<Value, ExecError> {
        let out = self
            .k
            .cmd(["get", self.object.as_str(), "-o", "json"])
            .timeout(GET_TIMEOUT)
            .run()?;
        serde_json::from_str(&out.stdout).map_err(|e| ExecError::Spawn {
            cmdline: format!("kubectl get {} -o json", self.object),
            detail: format!("not JSON: {e}"),
        })
    }

    /// The switch's current value in the object as read; `var` names the environment variable.
    fn read(&self, obj: &Value, var: &str) -> std::result::Result<SwitchValue, String> {
        match self.kind {
            SwitchKind::KubectlSetEnv => read_env(obj, var, self.container.as_deref(), &self.label),
            SwitchKind::ServiceSelector => read_selector(obj, &self.label),
        }
    }

    /// The command that sets `to`; a selector is replaced whole, and only if it is still `from`.
    fn set(&self, from: &SwitchValue, to: &SwitchValue) -> Cmd {
        match to {
            SwitchValue::Env { var, value } => {
                let mut args = vec!["set".to_string(), "env".into(), self.object.clone()];
                if let Some(c) = &self.container {
                    args.push(format!("--containers={c}"));
                }
                args.push(match value {
                    Some(v) => format!("{var}={v}"),
                    None => format!("{var}-"),
                });
                self.k.cmd(args).timeout(WRITE_TIMEOUT)
            }
            SwitchValue::Selector(to) => {
                let mut ops = Vec::new();
                if let SwitchValue::Selector(from) = from {
                    ops.push(
                        serde_json::json!({"op": "test", "path": "/spec/selector", "value": from}),
                    );
                }
                ops.push(
                    serde_json::json!({"op": "replace", "path": "/spec/selector", "value": to}),
                );
                let patch = Value::Array(ops).to_string();
                let name = self.object.trim_start_matches("service/").to_string();
                self.k
                    .cmd([
                        "patch".to_string(),
                        "service".into(),
                        name,
                        "--type=json".into(),
                        "-p".into(),
                        patch,
                    ])
                    .timeout(WRITE_TIMEOUT)
            }
        }
    }
}

/// A planned switch, on or off.
struct SwitchPlan {
    on: bool,
    place: Place,
    from: SwitchValue,
    to: SwitchValue,
    steps: Vec<(Cmd, bool)>,
    verify_line: String,
}

pub fn run(
    ctx: &Ctx,
    args: &ModelRollbackArgs,
    sw: &Switch,
    description: Option<&str>,
) -> Result<ExitStatus> {
    let started_at = clock::now();
    let p = &ctx.printer;
    let model = args.model.as_str();
    if args.alias.is_some() {
        return Err(CliError::usage(format!(
            "--alias does not apply to the fallback of `{model}`: it is a serving switch ({}), not a registry version",
            sw.kind.as_str()
        ))
        .into());
    }
    let detected = detected_at(args.common.detected_at.as_deref())?;
    let who = triggered_by(args.common.triggered_by.as_deref())?;
    let reason = clean_reason(args.common.reason.as_deref());
    let _lock = if args.common.dry_run {
        None
    } else {
        crate::lock::acquire(
            &ctx.settings.state_dir,
            &format!("fallback|{model}"),
            model,
            &who,
        )?
    };
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    let active = crate::journal::active_switch(&records, model);
    let journal_path = Journal::path_in(&ctx.settings.state_dir);

    let plan = if args.end {
        let Some(a) = active.as_ref() else {
            return Err(CliError::usage(format!(
                "no fallback switch of `{model}` is on according to the journal {}; nothing to end",
                journal_path.display()
            ))
            .with_hint(format!(
                "`mlrb status {model}` shows whether it serves its fallback; `--end` restores what `mlrb rollback model {model} --fallback` recorded"
            ))
            .into());
        };
        let place = Place::of_journal(a);
        let obj = place.get().map_err(|e| early(e, &place.label))?;
        let var = env_var_of(&a.previous);
        let now = place.read(&obj, &var).map_err(preflight_failed)?;
        if now != a.value {
            p.warn(&format!(
                "{} has {now} now, not the fallback's {} (changed since event {}); ending restores {} anyway",
                place.label, a.value, a.event, a.previous
            ));
        }
        ready_check(&place, &a.previous)?;
        plan_switch(false, place, now, a.previous.clone(), sw)
    } else {
        let place = Place::of_config(sw);
        let obj = place.get().map_err(|e| early(e, &place.label))?;
        let now = place.read(&obj, &sw.env_var).map_err(preflight_failed)?;
        let want = match sw.kind {
            SwitchKind::KubectlSetEnv => SwitchValue::Env {
                var: sw.env_var.clone(),
                value: Some(sw.value.clone()),
            },
            SwitchKind::ServiceSelector => SwitchValue::Selector(sw.selector.clone()),
        };
        match &active {
            Some(a) if now == want => {
                let msg = format!(
                    "`{model}` serves its fallback already: {} has {want} since event {} at {}; nothing changed",
                    place.label,
                    a.event,
                    clock::fmt(a.at)
                );
                return Ok(nothing_to_do(ctx, model, &msg));
            }
            Some(a) if a.certain => {
                return Err(CliError::new(
                    ExitStatus::Refused,
                    format!(
                        "the journal says the fallback switch of `{model}` is on (event {}), but {} has {now}, not {want}; changed by hand? nothing was changed",
                        a.event, place.label
                    ),
                )
                .with_hint(format!(
                    "`mlrb rollback model {model} --fallback --end` restores {} (the value before the fallback); then switch again",
                    a.previous
                ))
                .into());
            }
            None if now == want => {
                let msg = format!(
                    "{} has {want} already (the fallback's value; not switched by mlrb, so `--end` has nothing recorded to restore); nothing changed",
                    place.label
                );
                return Ok(nothing_to_do(ctx, model, &msg));
            }
            _ => {}
        }
        ready_check(&place, &want)?;
        plan_switch(true, place, now, want, sw)
    };

    let lines: Vec<String> = plan.steps.iter().map(|(c, _)| c.line()).collect();
    let mut all_lines = lines.clone();
    all_lines.push(plan.verify_line.clone());
    let fallback_is = description
        .map(|d| format!("{d} ([models.{model}.fallback])"))
        .unwrap_or_else(|| format!("[models.{model}.fallback]"));
    if !p.json() {
        let mut text = if plan.on {
            format!(
                "Fallback plan for {model} (serving switch {}): {}, {} → {}\n  fallback: {fallback_is}\n",
                plan.place.kind.as_str(),
                plan.place.label,
                plan.from,
                plan.to
            )
        } else {
            format!(
                "End of the fallback of {model} (serving switch {}): {}, {} → {} (restored from event {})\n",
                plan.place.kind.as_str(),
                plan.place.label,
                plan.from,
                plan.to,
                active.as_ref().map(|a| a.event.as_str()).unwrap_or("?")
            )
        };
        text.push_str("  registry: not touched (the model's live version stays as it is)\n");
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&format!("  {:>2}. run       {l}\n", i + 1));
        }
        text.push_str(&format!(
            "  {:>2}. verify    {}\n",
            lines.len() + 1,
            plan.verify_line
        ));
        p.out(&text);
    }
    let switch_name = plan.place.kind.as_str();
    let outcome_json = |event: Option<&str>,
                        outcome: &str,
                        message: &str,
                        m: Option<mttr::Mttr>,
                        r: Option<String>| {
        serde_json::to_value(Outcome {
            event_id: event,
            outcome,
            message,
            model,
            fallback: if plan.on { "on" } else { "off" },
            switch: switch_name,
            target: &plan.place.label,
            from: plan.from.to_string(),
            to: plan.to.to_string(),
            plan: all_lines.clone(),
            mttr: m,
            report: r,
        })
        .unwrap_or_default()
    };
    if args.common.dry_run {
        return Ok(super::dry_run_done(p, || {
            outcome_json(None, "dry_run", "nothing was changed", None, None)
        }));
    }
    let question = if plan.on {
        format!(
            "Switch {model} to its fallback ({} on {})?",
            plan.to, plan.place.label
        )
    } else {
        format!(
            "End the fallback of {model} (restore {} on {})?",
            plan.to, plan.place.label
        )
    };
    let how = match confirm(p, args.common.yes, &question)? {
        Confirmation::Yes(how) => how,
        Confirmation::Declined => {
            p.status("declined: nothing was changed");
            return Ok(ExitStatus::Refused);
        }
    };

    let event = new_event_id("rollback");
    let mut journal = Journal::new(&ctx.settings.state_dir, &event);
    journal.append(Entry::Started {
        command: if plan.on {
            "rollback model --fallback".into()
        } else {
            "rollback model --fallback --end".into()
        },
        model: model.to_string(),
        registered_name: plan.place.label.clone(),
        registry: "not touched (serving switch)".into(),
        mode: switch_name.into(),
        from: Vec::new(),
        to: 0,
        to_reason: if plan.on {
            format!("the pre-built fallback, {fallback_is}: {}", plan.to)
        } else {
            format!("the value before the fallback: {}", plan.to)
        },
        reason: reason.clone(),
        triggered_by: who.clone(),
        detected_at: detected,
        started_at,
    });
    let summary = if plan.on {
        format!(
            "Model {model} was switched to its pre-built fallback, {fallback_is}, in the serving layer ({switch_name}): {} from {} to {}; the model registry was not touched. Triggered by {who}, due to:",
            plan.place.label, plan.from, plan.to
        )
    } else {
        format!(
            "The fallback of model {model} was ended in the serving layer ({switch_name}): {} from {} back to {}, the value recorded by event {}; the model registry was not touched. Triggered by {who}, due to:",
            plan.place.label,
            plan.from,
            plan.to,
            active.as_ref().map(|a| a.event.as_str()).unwrap_or("?")
        )
    };
    journal.append(Entry::Target {
        kind: "fallback".into(),
        summary,
    });
    journal.append(Entry::Plan {
        steps: all_lines.clone(),
        detail: Vec::new(),
        live_mode: None,
    });
    journal.append(Entry::Confirmed { how });
    // Write-ahead: the value being replaced is on disk before anything changes.
    let ns = plan.place.k.namespace.clone();
    let context = plan.place.k.context.clone();
    journal.append(Entry::FallbackSwitch {
        model: model.to_string(),
        on: plan.on,
        switch: plan.place.kind,
        object: plan.place.object.clone(),
        namespace: ns,
        context,
        container: plan.place.container.clone(),
        previous: plan.from.clone(),
        value: plan.to.clone(),
        ends: if plan.on {
            None
        } else {
            active.as_ref().map(|a| a.event.clone())
        },
    });

    let (status, message) = execute(ctx, model, &plan, &mut journal);
    let hint = if plan.on {
        format!(
            "`mlrb status {model}` shows the switch as recorded; `mlrb rollback model {model} --fallback --end` restores {} (event {event})",
            plan.from
        )
    } else {
        format!(
            "`mlrb status {model}` shows the switch as recorded; run `mlrb rollback model {model} --fallback --end` again once the cause is fixed (event {event})"
        )
    };
    close_event(
        ctx,
        &mut journal,
        status,
        super::outcome_of(status),
        message.clone(),
        hint,
        |outcome, m, r| outcome_json(Some(&event), outcome, &message, m, r),
    )
}

fn plan_switch(
    on: bool,
    place: Place,
    from: SwitchValue,
    to: SwitchValue,
    sw: &Switch,
) -> SwitchPlan {
    let mut steps = vec![(place.set(&from, &to), false)];
    let verify_line = match &to {
        SwitchValue::Env { .. } => {
            let name = place.object.trim_start_matches("deployment/").to_string();
            steps.push((place.k.status(&name, sw.timeout), true));
            format!(
                "re-read {}: {to} in {}",
                place.object,
                place
                    .container
                    .as_deref()
                    .map(|c| format!("container {c}"))
                    .unwrap_or_else(|| "every container".into())
            )
        }
        SwitchValue::Selector(_) => format!(
            "re-read {}: {to} exactly, with ready pods behind it",
            place.object
        ),
    };
    SwitchPlan {
        on,
        place,
        from,
        to,
        steps,
        verify_line,
    }
}

/// Runs the commands in order, then reads the object back; stops at the first failure.
fn execute(
    ctx: &Ctx,
    model: &str,
    plan: &SwitchPlan,
    journal: &mut Journal,
) -> (ExitStatus, String) {
    let p = &ctx.printer;
    let total = plan.steps.len() + 1;
    let what = if plan.on {
        format!("switched {model} to its fallback")
    } else {
        format!("ended the fallback of {model}")
    };
    for (i, (cmd, awaits)) in plan.steps.iter().enumerate() {
        let explained = super::command_step(p, journal, (i, total), cmd, |e| {
            kubectl::explain_in(e, &plan.place.label, "fallback")
        });
        if let Err((detail, hint)) = explained {
            let (status, changed) = if *awaits {
                journal.append(Entry::Verified {
                    ok: false,
                    detail: detail.clone(),
                });
                (
                    ExitStatus::NotVerified,
                    format!(
                        "{what} ({} → {} on {}), but the rollout did not become Ready",
                        plan.from, plan.to, plan.place.label
                    ),
                )
            } else {
                (
                    ExitStatus::Failure,
                    format!(
                        "nothing was changed: {} still has {}",
                        plan.place.label, plan.from
                    ),
                )
            };
            let mut message = format!("step {}/{total} failed: {detail}; {changed}", i + 1);
            if let Some(h) = hint {
                message.push_str(&format!(". Next: {h}"));
            }
            return (status, message);
        }
    }
    let result = super::verify_step(
        p,
        journal,
        plan.steps.len(),
        plan.verify_line.clone(),
        || verify(&plan.place, &plan.to),
    );
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    if ok {
        (
            ExitStatus::Success,
            format!(
                "{what}: {} {} → {}, verified",
                plan.place.label, plan.from, plan.to
            ),
        )
    } else {
        (
            ExitStatus::NotVerified,
            format!("{what} on {}, but not verified: {detail}", plan.place.label),
        )
    }
}

/// Reads the object back: the value must be exactly `want` (and a selector must have ready pods).
fn verify(place: &Place, want: &SwitchValue) -> std::result::Result<String, String> {
    let obj = place
        .get()
        .map_err(|e| format!("cannot re-read {}: {e}", place.label))?;
    let now = place.read(&obj, &env_var_of(want))?;
    if &now != want {
        return Err(format!("{} has {now}, not {want}", place.label));
    }
    match want {
        SwitchValue::Env { .. } => Ok(format!("{} has {now}", place.label)),
        SwitchValue::Selector(sel) => {
            let (ready, total) = ready_pods(&place.k, sel).map_err(|e| e.to_string())?;
            if ready == 0 {
                return Err(format!(
                    "{} has {now}, but no ready pods match it ({ready}/{total})",
                    place.label
                ));
            }
            Ok(format!(
                "{} has {now}: {ready}/{total} pods ready",
                place.label
            ))
        }
    }
}

fn env_var_of(v: &SwitchValue) -> String {
    match v {
        SwitchValue::Env { var, .. } => var.clone(),
        SwitchValue::Selector(_) => String::new(),
    }
}

/// The variable's value in the Deployment's containers (`container`, or all of them, which
/// must agree); a value taken from a Secret or ConfigMap cannot be recorded and restored.
fn read_env(
    dep: &Value,
    var: &str,
    container: Option<&str>,
    label: &str,
) -> std::result::Result<SwitchValue, String> {
    let containers = dep["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let chosen: Vec<&Value> = containers
        .iter()
        .filter(|c| container.is_none_or(|n| c["name"].as_str() == Some(n)))
        .collect();
    if chosen.is_empty() {
        return Err(match container {
            Some(n) => format!(
                "{label} has no container `{n}` (containers: {})",
                names.join(", ")
            ),
            None => format!("{label} has no containers"),
        });
    }
    let mut seen: Vec<(String, Option<String>)> = Vec::new();
    for c in chosen {
        let name = c["name"].as_str().unwrap_or("?").to_string();
        let entry = c["env"]
            .as_array()
            .and_then(|env| env.iter().rev().find(|e| e["name"].as_str() == Some(var)));
        let value = match entry {
            None => None,
            Some(e) if e.get("valueFrom").is_some() => {
                return Err(format!(
                    "{var} in container {name} of {label} comes from a reference (valueFrom), which mlrb cannot record and restore"
                ));
            }
            Some(e) => Some(e["value"].as_str().unwrap_or("").to_string()),
        };
        seen.push((name, value));
    }
    let first = seen[0].1.clone();
    if seen.iter().any(|(_, v)| *v != first) {
        let each: Vec<String> = seen
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.as_deref().unwrap_or("unset")))
            .collect();
        return Err(format!(
            "the containers of {label} disagree about {var} ({}); name one with `container = \"…\"` in [models.*.fallback]",
            each.join(", ")
        ));
    }
    Ok(SwitchValue::Env {
        var: var.to_string(),
        value: first,
    })
}

fn read_selector(svc: &Value, label: &str) -> std::result::Result<SwitchValue, String> {
    let sel = svc["spec"]["selector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if sel.is_empty() {
        return Err(format!(
            "{label} has no selector (its endpoints are managed by hand); a selector switch cannot flip it"
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in sel {
        out.insert(k, v.as_str().unwrap_or_default().to_string());
    }
    Ok(SwitchValue::Selector(out))
}

/// Before a Service is pointed at a selector: pods behind it must be ready, or the switch
/// would take the model down.
fn ready_check(place: &Place, to: &SwitchValue) -> Result<()> {
    let SwitchValue::Selector(sel) = to else {
        return Ok(());
    };
    let (ready, total) = ready_pods(&place.k, sel).map_err(|e| early(e, &place.label))?;
    if ready == 0 {
        return Err(CliError::new(
            ExitStatus::NoTarget,
            format!(
                "no ready pods match {to} ({ready}/{total} ready): pointing {} at them would take the model down; nothing was changed",
                place.label
            ),
        )
        .with_hint("scale up or fix the deployment behind that selector first (`kubectl get pods -l …`)")
        .into());
    }
    Ok(())
}

/// (ready, total) pods matching a selector.
fn ready_pods(
    k: &Kubectl,
    sel: &BTreeMap<String, String>,
) -> std::result::Result<(usize, usize), ExecError> {
    let labels: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
    k.ready_pods(&labels.join(","))
}

fn preflight_failed(why: String) -> anyhow::Error {
    CliError::usage(format!("pre-flight failed: {why}; nothing was changed")).into()
}

/// A kubectl error before anything changed: one line, the exit code, and what to do next.
fn early(e: ExecError, label: &str) -> anyhow::Error {
    let status = match &e {
        ExecError::NotFound { .. } => ExitStatus::Usage,
        ExecError::Failed { stderr, .. }
            if stderr.contains("not found") || stderr.contains("does not exist") =>
        {
            ExitStatus::Usage
        }
        _ => ExitStatus::Failure,
    };
    let (msg, hint) = kubectl::explain_in(&e, label, "fallback");
    let mut err = CliError::new(
        status,
        format!("pre-flight failed: {msg}; nothing was changed"),
    );
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.into()
}

fn nothing_to_do(ctx: &Ctx, model: &str, msg: &str) -> ExitStatus {
    ctx.printer.status(msg);
    if ctx.printer.json() {
        ctx.printer.out_json(&serde_json::json!({
            "event_id": null, "outcome": "no_change", "message": msg, "model": model,
        }));
    }
    ExitStatus::Success
}
