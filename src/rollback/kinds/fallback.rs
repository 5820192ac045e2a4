//! The serving-switch fallback (`rollback model M --fallback [--end]`): an environment variable on
//! the serving Deployment or a Service's selector flipped to the pre-built fallback, and back to
//! the value the journal recorded. The model registry is not touched.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::clock;
use crate::config::{Switch, SwitchKind};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::exec::kubectl::{self, Kubectl};
use crate::exec::{Cmd, ExecError};
use crate::journal::{ActiveSwitch, Entry, Journal, Record, SwitchValue};
use crate::rollback::{Kind, Plan, Planned, Request, Step, StepFailure, Subject};

type Result<T> = anyhow::Result<T>;

const GET_TIMEOUT: Duration = Duration::from_secs(30);
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
const ON: &str = "rollback model --fallback";
const OFF: &str = "rollback model --fallback --end";
/// The journal's `registry` field for a switch: the rollback acts beside the registry.
const PLACE: &str = "not touched (serving switch)";

/// What `rollback model M --fallback [--end]` was asked for.
pub struct FallbackSwitch {
    pub model: String,
    pub sw: Switch,
    pub description: Option<String>,
    /// `--end`: switch the fallback off, restoring the value recorded when it went on.
    pub end: bool,
    /// Set while planning: the `FallbackSwitch` record the event's header carries.
    record: RefCell<Option<Entry>>,
}

impl FallbackSwitch {
    pub fn new(model: &str, sw: Switch, description: Option<String>, end: bool) -> FallbackSwitch {
        FallbackSwitch {
            model: model.to_string(),
            sw,
            description,
            end,
            record: RefCell::new(None),
        }
    }
}

/// Where the switch acts: the object, how kubectl reaches it, and how it is named in messages.
#[derive(Clone)]
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

    fn of_active(a: &ActiveSwitch) -> Place {
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

    /// The switch's current value in the object as read; `like` names the variable.
    fn read(&self, obj: &Value, like: &SwitchValue) -> std::result::Result<SwitchValue, String> {
        match self.kind {
            SwitchKind::KubectlSetEnv => read_env(
                obj,
                &env_var_of(like),
                self.container.as_deref(),
                &self.label,
            ),
            SwitchKind::ServiceSelector => read_selector(obj, &self.label),
        }
    }

    /// Reads the object and the switch's value in it.
    fn now(&self, like: &SwitchValue) -> std::result::Result<SwitchValue, String> {
        let obj = self
            .get()
            .map_err(|e| format!("cannot re-read {}: {e}", self.label))?;
        self.read(&obj, like)
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

/// A switch planned on or off: where, from what, to what.
struct Switching {
    on: bool,
    place: Place,
    from: SwitchValue,
    to: SwitchValue,
    /// With `on = false`: the event whose switch this ends.
    ends: Option<String>,
    /// Set when resuming: the event's record is in the journal already.
    recorded: bool,
}

impl Switching {
    fn record(&self, model: &str) -> Entry {
        Entry::FallbackSwitch {
            model: model.to_string(),
            on: self.on,
            switch: self.place.kind,
            object: self.place.object.clone(),
            namespace: self.place.k.namespace.clone(),
            context: self.place.k.context.clone(),
            container: self.place.container.clone(),
            previous: self.from.clone(),
            value: self.to.clone(),
            ends: self.ends.clone(),
        }
    }
}

/// The switch itself, or (kubectl-set-env) the wait for its rollout.
struct SwitchStep {
    cmd: Cmd,
    place: Place,
    /// `Some(to)`: the change, done when the object already has `to`; `None`: the rollout wait.
    sets: Option<SwitchValue>,
}

impl Step for SwitchStep {
    fn line(&self) -> String {
        self.cmd.line()
    }

    /// A resumed switch finds the value already set when the change was made before the crash.
    fn done(&self) -> bool {
        self.sets
            .as_ref()
            .is_some_and(|to| self.place.now(to).is_ok_and(|now| now == *to))
    }

    fn run(&self, _event: &str) -> std::result::Result<String, StepFailure> {
        match self.cmd.run() {
            Ok(out) => {
                let tail = crate::exec::runner::tail(&out.stdout, 2, 300);
                Ok(if tail.is_empty() {
                    format!("{}: done", self.cmd.line())
                } else {
                    tail
                })
            }
            Err(e) => {
                let (detail, hint) = kubectl::explain_in(&e, &self.place.label, "fallback");
                Err(StepFailure { detail, hint })
            }
        }
    }

    /// The rollout of the new value: its failure leaves the switch made, not verified.
    fn awaits(&self) -> bool {
        self.sets.is_none()
    }
}

impl Kind for FallbackSwitch {
    fn subject(&self) -> Subject {
        // On and `--end` are one subject: one lock, and an unfinished run of either stops both.
        Subject {
            command: ON,
            target: Place::of_config(&self.sw).label,
            place: PLACE.into(),
        }
    }

    fn command(&self) -> String {
        if self.end { OFF } else { ON }.into()
    }

    fn journal_records(&self) -> Vec<Entry> {
        self.record.borrow().iter().cloned().collect()
    }

    fn plan(&self, ctx: &Ctx, req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        let records = crate::rollback::engine::read_journal(ctx)?;
        let journal = Journal::path_in(&ctx.settings.state_dir);
        let switching = match resuming {
            Some(started) => self.resumed(&records, &journal, started)?,
            None if self.end => match self.plan_end(&records, &journal)? {
                Ok(s) => s,
                Err(nothing) => return Ok(nothing),
            },
            None => match self.plan_on(&records)? {
                Ok(s) => s,
                Err(nothing) => return Ok(nothing),
            },
        };
        if !switching.recorded {
            *self.record.borrow_mut() = Some(switching.record(&self.model));
        }
        Ok(Planned::Plan(Box::new(self.engine_plan(
            ctx,
            req,
            switching,
            resuming.map(|r| r.event.clone()),
        ))))
    }
}

impl FallbackSwitch {
    /// `--fallback`: from the value read now to the configured fallback, unless the fallback
    /// serves already (then `Err` says so).
    fn plan_on(&self, records: &[Record]) -> Result<std::result::Result<Switching, Planned>> {
        let model = &self.model;
        let sw = &self.sw;
        let place = Place::of_config(sw);
        let want = match sw.kind {
            SwitchKind::KubectlSetEnv => SwitchValue::Env {
                var: sw.env_var.clone(),
                value: Some(sw.value.clone()),
            },
            SwitchKind::ServiceSelector => SwitchValue::Selector(sw.selector.clone()),
        };
        let obj = place.get().map_err(|e| early(e, &place.label))?;
        let now = place.read(&obj, &want).map_err(preflight_failed)?;
        match crate::journal::active_switch(records, model) {
            Some(a) if now == want => {
                return Ok(Err(nothing(
                    &place,
                    true,
                    format!(
                        "`{model}` serves its fallback already, switched by {} at {}: {} has {want}; nothing changed",
                        a.event,
                        clock::fmt(a.at),
                        place.label
                    ),
                )));
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
                // Recording it as "previous" would make `--end` restore the fallback itself.
                return Ok(Err(nothing(
                    &place,
                    true,
                    format!(
                        "{} has {want} already (the fallback's value; not switched by mlrb, so `--end` has nothing recorded to restore); nothing changed",
                        place.label
                    ),
                )));
            }
            _ => {}
        }
        ready_check(&place, &want)?;
        Ok(Ok(Switching {
            on: true,
            place,
            from: now,
            to: want,
            ends: None,
            recorded: false,
        }))
    }

    /// `--fallback --end`: back to the value the switch that is on recorded; after an `--end`
    /// that left that value in place, nothing to do.
    fn plan_end(
        &self,
        records: &[Record],
        journal: &Path,
    ) -> Result<std::result::Result<Switching, Planned>> {
        let model = &self.model;
        let Some(a) = crate::journal::active_switch(records, model) else {
            return self.ended_already(records, journal).map(Err);
        };
        let place = Place::of_active(&a);
        let obj = place.get().map_err(|e| early(e, &place.label))?;
        let now = place.read(&obj, &a.previous).map_err(preflight_failed)?;
        if now != a.value {
            crate::printer::to_stderr(&format!(
                "warning: {} has {now} now, not the fallback's {} (changed since event {}); ending restores {} anyway",
                place.label, a.value, a.event, a.previous
            ));
        }
        ready_check(&place, &a.previous)?;
        Ok(Ok(Switching {
            on: false,
            place,
            from: now,
            to: a.previous.clone(),
            ends: Some(a.event.clone()),
            recorded: false,
        }))
    }

    /// No switch is on: after an `--end` whose value is still in place, a no-op naming it;
    /// otherwise there is nothing recorded to restore.
    fn ended_already(&self, records: &[Record], journal: &Path) -> Result<Planned> {
        let model = &self.model;
        if let Some((rec, at)) = last_switch(records, model)
            && let Entry::FallbackSwitch {
                on: false, value, ..
            } = &rec.entry
        {
            let place = place_of_record(rec);
            let obj = place.get().map_err(|e| early(e, &place.label))?;
            let now = place.read(&obj, value).map_err(preflight_failed)?;
            if now == *value {
                return Ok(nothing(
                    &place,
                    false,
                    format!(
                        "the fallback of `{model}` was ended already by {} at {}: {} has {value}; nothing changed",
                        rec.event,
                        clock::fmt(at),
                        place.label
                    ),
                ));
            }
            return Err(CliError::usage(format!(
                "no fallback switch of `{model}` is on according to the journal: {} ended it at {}, and {} has {now} now, not the {value} it restored (changed by hand?); nothing to end",
                rec.event,
                clock::fmt(at),
                place.label
            ))
            .with_hint(format!(
                "`mlrb status {model}` shows whether it serves its fallback; `--end` restores only what `mlrb rollback model {model} --fallback` recorded"
            ))
            .into());
        }
        Err(CliError::usage(format!(
            "no fallback switch of `{model}` is on according to the journal {}; nothing to end",
            journal.display()
        ))
        .with_hint(format!(
            "`mlrb status {model}` shows whether it serves its fallback; `--end` restores what `mlrb rollback model {model} --fallback` recorded"
        ))
        .into())
    }

    /// `--resume`: the interrupted event's own switch, from the record its header carries.
    fn resumed(&self, records: &[Record], journal: &Path, started: &Record) -> Result<Switching> {
        let model = &self.model;
        let event = &started.event;
        let was_end = matches!(&started.entry, Entry::Started { command, .. } if command == OFF);
        if self.end && !was_end {
            return Err(CliError::usage(format!(
                "event {event} was switching the fallback of `{model}` on when it stopped; `--end --resume` would finish the opposite"
            ))
            .with_hint(format!(
                "finish it with `mlrb rollback model {model} --fallback --resume`, then end it with `--fallback --end`"
            ))
            .into());
        }
        let record = records.iter().find(|r| {
            r.event == *event
                && matches!(&r.entry, Entry::FallbackSwitch { model: m, .. } if m == model)
        });
        if let Some(rec) = record
            && let Entry::FallbackSwitch {
                on,
                previous,
                value,
                ends,
                ..
            } = &rec.entry
        {
            return Ok(Switching {
                on: *on,
                place: place_of_record(rec),
                from: previous.clone(),
                to: value.clone(),
                ends: ends.clone(),
                recorded: true,
            });
        }
        // Stopped before its header was complete: nothing was changed, so plan from the world
        // (the claim records the value it replaces before the first step).
        let planned = if was_end {
            self.plan_end(records, journal)?
        } else {
            self.plan_on(records)?
        };
        let mut s = planned.map_err(|_| {
            CliError::usage(format!(
                "event {event} stopped before it changed anything, and there is nothing left to switch"
            ))
        })?;
        s.recorded = false;
        Ok(s)
    }

    /// The engine's plan for a planned switch.
    fn engine_plan(
        &self,
        ctx: &Ctx,
        req: &Request,
        s: Switching,
        resuming: Option<String>,
    ) -> Plan {
        let model = self.model.clone();
        let label = s.place.label.clone();
        let switch_name = s.place.kind.as_str();
        let steps = self.steps(&s);
        let lines: Vec<String> = steps.iter().map(|st| st.line()).collect();
        let verify_line = match &s.to {
            SwitchValue::Env { .. } => format!(
                "re-read {}: {} in {}",
                s.place.object,
                s.to,
                s.place
                    .container
                    .as_deref()
                    .map(|c| format!("container {c}"))
                    .unwrap_or_else(|| "every container".into())
            ),
            SwitchValue::Selector(_) => format!(
                "re-read {}: {} exactly, with ready pods behind it",
                s.place.object, s.to
            ),
        };
        let fallback_is = self
            .description
            .as_deref()
            .map(|d| format!("{d} ([models.{model}.fallback])"))
            .unwrap_or_else(|| format!("[models.{model}.fallback]"));
        let ends = s.ends.clone().unwrap_or_else(|| "?".into());
        let mut text = if s.on {
            format!(
                "Fallback plan for {model} (serving switch {switch_name}): {label}, {} → {}\n  fallback: {fallback_is}\n",
                s.from, s.to
            )
        } else {
            format!(
                "End of the fallback of {model} (serving switch {switch_name}): {label}, {} → {} (restored from event {ends})\n",
                s.from, s.to
            )
        };
        if let Some(ev) = &resuming {
            text.push_str(&format!(
                "  resuming event {ev}: steps the journal or {} shows done are not run again\n",
                s.place.object
            ));
        }
        text.push_str("  registry: not touched (the model's live version stays as it is)\n");
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&format!("  {:>2}. run       {l}\n", i + 1));
        }
        text.push_str(&format!(
            "  {:>2}. verify    {verify_line}\n",
            lines.len() + 1
        ));
        let what = if s.on {
            format!("switched {model} to its fallback")
        } else {
            format!("ended the fallback of {model}")
        };
        let mut view = serde_json::Map::new();
        view.insert("fallback".into(), if s.on { "on" } else { "off" }.into());
        view.insert("switch".into(), switch_name.into());
        view.insert("target".into(), label.clone().into());
        view.insert("from".into(), s.from.to_string().into());
        view.insert("to".into(), s.to.to_string().into());
        let failed_how = {
            let (label, from, to, what) =
                (label.clone(), s.from.clone(), s.to.clone(), what.clone());
            move |i: usize| {
                if i == 0 {
                    format!("; nothing was changed: {label} still has {from}")
                } else {
                    format!(
                        "; {what} ({from} → {to} on {label}), but the rollout did not become Ready"
                    )
                }
            }
        };
        let (vplace, vto) = (s.place.clone(), s.to.clone());
        Plan {
            mode: switch_name.into(),
            from: Vec::new(),
            to: 0,
            to_reason: if s.on {
                format!("the pre-built fallback, {fallback_is}: {}", s.to)
            } else {
                format!("the value before the fallback: {}", s.to)
            },
            summary: (
                "fallback".into(),
                if s.on {
                    format!(
                        "Model {model} was switched to its pre-built fallback, {fallback_is}, in the serving layer ({switch_name}): {label} from {} to {}; the model registry was not touched. Triggered by {}, due to:",
                        s.from, s.to, req.who
                    )
                } else {
                    format!(
                        "The fallback of model {model} was ended in the serving layer ({switch_name}): {label} from {} back to {}, the value recorded by event {ends}; the model registry was not touched. Triggered by {}, due to:",
                        s.from, s.to, req.who
                    )
                },
            ),
            text,
            question: if s.on {
                format!("Switch {model} to its fallback ({} on {label})?", s.to)
            } else {
                format!("End the fallback of {model} (restore {} on {label})?", s.to)
            },
            steps,
            verify_line,
            verify: Box::new(move || verify(&vplace, &vto)),
            notes: Vec::new(),
            view,
            done_message: format!("{what}: {label} {} → {}", s.from, s.to),
            // A failed change leaves its event open: a plain re-run (on or `--end`) refuses.
            failure_hint: format!(
                "once the cause is fixed, `mlrb rollback model {model} --fallback{} --resume` finishes this event; `mlrb status {model}` shows the switch as recorded",
                if s.on { "" } else { " --end" }
            ),
            on_failure: Some(Box::new(failed_how)),
            claim: Some(self.claim(ctx, req, &s)),
        }
    }

    /// The change, and for an environment variable the wait for its rollout.
    fn steps(&self, s: &Switching) -> Vec<Box<dyn Step>> {
        let mut steps: Vec<Box<dyn Step>> = vec![Box::new(SwitchStep {
            cmd: s.place.set(&s.from, &s.to),
            place: s.place.clone(),
            sets: Some(s.to.clone()),
        })];
        if let SwitchValue::Env { .. } = s.to {
            let name = s.place.object.trim_start_matches("deployment/");
            steps.push(Box::new(SwitchStep {
                cmd: s.place.k.status(name, self.sw.timeout),
                place: s.place.clone(),
                sets: None,
            }));
        }
        steps
    }

    /// The claim: a re-read after the confirmation, so a plan made stale while someone waited
    /// at the prompt (another engineer switched meanwhile) changes nothing. It takes no lease
    /// on the registered model: a serving switch leaves the registry untouched. A resumed event
    /// whose header lacks the switch record gets it here, before its first step.
    fn claim(&self, ctx: &Ctx, req: &Request, s: &Switching) -> crate::rollback::Claim {
        let (place, from, resuming) = (s.place.clone(), s.from.clone(), req.resume);
        let late_record = (req.resume && !s.recorded).then(|| s.record(&self.model));
        let state_dir = ctx.settings.state_dir.clone();
        Box::new(move |event: &str| {
            if !resuming {
                let now = place.now(&from).map_err(|why| {
                    CliError::new(ExitStatus::Failure, format!("{why}; nothing was changed"))
                })?;
                if now != from {
                    return Err(CliError::new(
                        ExitStatus::Refused,
                        format!(
                            "{} changed since the plan was made (it has {now}, the plan was made from {from}); nothing was changed",
                            place.label
                        ),
                    )
                    .with_hint("run the command again to plan from the current state")
                    .into());
                }
            }
            if let Some(rec) = &late_record {
                Journal::new(&state_dir, event).append(rec.clone());
            }
            Ok(Box::new(()) as Box<dyn std::any::Any>)
        })
    }
}

/// The newest switch event of `model` whose change was made (its first step finished, or the
/// event closed as rolled back): its `FallbackSwitch` record and when the change was made.
fn last_switch<'a>(records: &'a [Record], model: &str) -> Option<(&'a Record, DateTime<Utc>)> {
    let mut switches: BTreeMap<&str, &Record> = BTreeMap::new();
    let mut last = None;
    for r in records {
        match &r.entry {
            Entry::FallbackSwitch { model: m, .. } if m == model => {
                switches.insert(&r.event, r);
            }
            Entry::StepFinished {
                index: 0, ok: true, ..
            } => {
                if let Some(rec) = switches.get(r.event.as_str()) {
                    last = Some((*rec, r.at));
                }
            }
            Entry::Finished { outcome, .. } if outcome != "failed" => {
                if let Some(rec) = switches.get(r.event.as_str())
                    && last.is_none_or(|(l, _): (&Record, _)| l.event != r.event)
                {
                    last = Some((*rec, r.at));
                }
            }
            _ => {}
        }
    }
    last
}

fn place_of_record(rec: &Record) -> Place {
    match &rec.entry {
        Entry::FallbackSwitch {
            switch,
            object,
            namespace,
            context,
            container,
            ..
        } => Place::new(
            *switch,
            object.clone(),
            namespace.clone(),
            context.clone(),
            container.clone(),
        ),
        _ => unreachable!("a FallbackSwitch record"),
    }
}

/// Nothing to do, in the engine's words (outcome `no_change`, as it always was).
fn nothing(place: &Place, on: bool, message: String) -> Planned {
    let mut view = serde_json::Map::new();
    view.insert("fallback".into(), if on { "on" } else { "off" }.into());
    view.insert("switch".into(), place.kind.as_str().into());
    view.insert("target".into(), place.label.clone().into());
    Planned::Nothing {
        outcome: "no_change",
        message,
        view,
    }
}

/// Reads the object back: the value must be exactly `want` (and a selector must have ready pods).
fn verify(place: &Place, want: &SwitchValue) -> std::result::Result<String, String> {
    let now = place.now(want)?;
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
