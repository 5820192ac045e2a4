//! Infra rollback: a Deployment undone with kubectl, a helm release rolled back, a blue-green
//! Service switched to its standby, an Istio canary reversed or an Argo Rollout aborted. What a
//! rollback did is recorded on the object (`mlrb.dev/rolled-back-*`), which is what makes a second
//! run a no-op; a lease on the object keeps one rollback of it at a time across machines.

mod lease;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::clock;
use crate::commands::Ctx;
use crate::config::{InfraConfig, InfraStrategy};
use crate::error::{CliError, ExitStatus};
use crate::exec::helm::{self, Helm};
use crate::exec::kubectl::{self, Kubectl, Revision};
use crate::exec::{Cmd, ExecError};
use crate::journal::{Entry, Record};
use crate::rollback::{
    Claim, CommandStep, Kind, Plan, Planned, Request, Step, StepFailure, Subject,
};
use lease::{CasError, Lease, Object, Write};

type Result<T> = anyhow::Result<T>;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The annotations a rollback leaves on the object it rolled back.
const BY: &str = "mlrb.dev/rolled-back-by";
const AT: &str = "mlrb.dev/rolled-back-at";
/// kubectl: the revision number the rollback went back to, as planned.
const TO_REVISION: &str = "mlrb.dev/rolled-back-to-revision";
/// kubectl: the revision the rollback produced (the controller numbers it) and its
/// `pod-template-hash`: while the Deployment is at that revision, nothing was deployed since.
const REVISION: &str = "mlrb.dev/rolled-back-revision";
const TEMPLATE: &str = "mlrb.dev/rolled-back-template";
/// blue-green: the selector the rollback switched to (`color=blue`).
const TO_SELECTOR: &str = "mlrb.dev/rolled-back-to";

/// What `rollback infra` was asked for.
pub struct Infra {
    pub model: String,
    pub cfg: InfraConfig,
    pub to_revision: Option<u64>,
}

/// One revision as `--history` shows it.
#[derive(Serialize)]
pub struct HistoryRow {
    pub revision: u64,
    pub current: bool,
    pub change_cause: String,
    pub image: String,
    pub age: String,
}

/// A strategy's plan, before the parts every strategy shares are added.
struct Draft {
    strategy: &'static str,
    target: String,
    from: u64,
    to: u64,
    /// What `from`/`to` count ("revision") and how they read ("3", or "green" for blue-green).
    unit: &'static str,
    from_label: String,
    to_label: String,
    to_reason: String,
    steps: Vec<Box<dyn Step>>,
    verify: Box<dyn Fn() -> std::result::Result<String, String>>,
    claim: Option<Claim>,
}

impl Infra {
    /// The kind for `model`, or the error saying how to configure it or which flag does not
    /// apply to its strategy.
    pub fn new(
        ctx: &Ctx,
        model: &str,
        to_revision: Option<u64>,
        history: bool,
    ) -> std::result::Result<Infra, CliError> {
        let cfg = ctx
            .settings
            .models
            .get(model)
            .map(|m| m.infra.clone())
            .unwrap_or_default();
        let not_for = match cfg.strategy {
            InfraStrategy::None => {
                return Err(CliError::usage(format!(
                    "no infra rollback is configured for `{model}`"
                ))
                .with_hint(format!(
                    "add [models.{model}.infra] with strategy = \"kubectl\" and deployment = \"NAME\" (or strategy = \"helm\" and release = \"NAME\") to mlrb.toml"
                )));
            }
            InfraStrategy::Kubectl | InfraStrategy::Helm => None,
            InfraStrategy::BlueGreen => Some("blue-green; the switch goes to the standby colour"),
            InfraStrategy::Istio => {
                Some("istio; the reversal sends all traffic to the stable subset")
            }
            InfraStrategy::ArgoRollouts => {
                Some("argo-rollouts; aborting returns all traffic to the stable version")
            }
        };
        if let Some(why) = not_for
            && (to_revision.is_some() || history)
        {
            return Err(CliError::usage(format!(
                "--to-revision and --history do not apply to {why}"
            )));
        }
        Ok(Infra {
            model: model.to_string(),
            cfg,
            to_revision,
        })
    }

    fn kubectl(&self) -> Kubectl {
        Kubectl {
            context: self.cfg.context.clone(),
            namespace: self.cfg.namespace.clone(),
        }
    }

    fn helm(&self) -> Helm {
        Helm {
            context: self.cfg.context.clone(),
            namespace: self.cfg.namespace.clone(),
        }
    }

    fn timeout(&self) -> Duration {
        self.cfg.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The object a lease on it and the record of a rollback go on.
    fn object(&self, resource: &str, name: &str) -> Object {
        Object {
            k: self.kubectl(),
            resource: resource.to_string(),
            name: name.to_string(),
            shown: self.subject().target,
        }
    }

    /// The revisions (`--history`): a title and the rows, newest first. Changes nothing.
    pub fn history(&self, ctx: &Ctx) -> Result<(String, Vec<HistoryRow>)> {
        let target = self.subject().target;
        let rows = match self.cfg.strategy {
            InfraStrategy::Helm => {
                let name = self.cfg.release.clone().unwrap_or_default();
                let revs = self
                    .helm()
                    .history(&name)
                    .map_err(|e| early("helm", e, &target))?;
                let current = helm_current(&revs).map(|r| r.revision);
                revs.iter()
                    .map(|r| HistoryRow {
                        revision: r.revision,
                        current: Some(r.revision) == current,
                        change_cause: format!("{} ({})", r.description, r.status),
                        image: format!("{} app {}", r.chart, r.app_version),
                        age: chrono::DateTime::parse_from_rfc3339(&r.updated)
                            .ok()
                            .map(|t| age(Some(t.with_timezone(&chrono::Utc))))
                            .unwrap_or_else(|| r.updated.clone()),
                    })
                    .collect()
            }
            _ => {
                let name = self.cfg.deployment.clone().unwrap_or_default();
                let (_, revs) = self.observed(ctx, &name, &target)?;
                revs.iter()
                    .map(|r| HistoryRow {
                        revision: r.revision,
                        current: r.current,
                        change_cause: r.change_cause.clone(),
                        image: r.images.join(", "),
                        age: age(r.created),
                    })
                    .collect()
            }
        };
        Ok((format!("Revisions of {target}"), rows))
    }

    /// The Deployment once its controller has observed its last change, and its revisions.
    /// Planning before that would undo to the revision before the last good one.
    fn observed(&self, ctx: &Ctx, name: &str, target: &str) -> Result<(Value, Vec<Revision>)> {
        let k = self.kubectl();
        let observe = self.timeout().min(kubectl::OBSERVE_TIMEOUT);
        let dep = k
            .observed_deployment(name, observe, |generation, observed| {
                ctx.printer.status(&format!(
                    "waiting for the deployment controller to observe the latest change of {target} (generation {generation}, observed {observed})"
                ))
            })
            .map_err(|e| not_settled(e, target))?;
        let revs = k.history(&dep).map_err(|e| early("kubectl", e, target))?;
        Ok((dep, revs))
    }

    /// The warning against mixing a model and an infra rollback without analysis, when a model
    /// rollback of this model is still running or inside its verification window.
    fn mixing(&self, ctx: &Ctx, records: &[Record]) -> Option<String> {
        let window = ctx
            .settings
            .models
            .get(&self.model)
            .map(|m| m.verify.timeout)
            .unwrap_or(Duration::from_secs(15 * 60));
        crate::journal::recent_model_rollback(
            records,
            &self.model,
            chrono::Duration::from_std(window).unwrap_or_default(),
        )
        .map(|(event, done)| {
            format!(
                "model rollback {event} of {} {} inside its {} verification window: rolling back the infrastructure now makes it impossible to tell which change fixed the problem (model first, assess, then infra)",
                self.model,
                match done {
                    Some(t) => format!("finished at {}, still", clock::fmt(t)),
                    None => "is still running,".into(),
                },
                humantime::format_duration(window)
            )
        })
    }

    /// The parts every strategy shares: the plan text, the report's summary, the JSON view.
    fn finish(&self, req: &Request, d: Draft, notes: Vec<String>) -> Planned {
        let lines: Vec<String> = d.steps.iter().map(|s| s.line()).collect();
        let mut text = format!(
            "Infra rollback plan for {} ({}): {}, {} {} → {}\n  target: {}\n",
            self.model, d.strategy, d.target, d.unit, d.from_label, d.to_label, d.to_reason
        );
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&format!("  {:>2}. run       {l}\n", i + 1));
        }
        text.push_str(&format!(
            "  {:>2}. verify    re-read {}: {} {} is live and ready\n",
            lines.len() + 1,
            d.target,
            d.unit,
            d.to_label
        ));
        let mut view = serde_json::Map::new();
        view.insert("strategy".into(), d.strategy.into());
        view.insert("target".into(), d.target.clone().into());
        view.insert("from_revision".into(), d.from.into());
        view.insert("to_revision".into(), d.to.into());
        let first = lines.first().cloned().unwrap_or_default();
        let shown = d.target.clone();
        Planned::Plan(Box::new(Plan {
            mode: d.strategy.into(),
            from: vec![d.from],
            to: d.to,
            to_reason: d.to_reason.clone(),
            summary: (
                "infra".into(),
                format!(
                    "The serving infrastructure of model `{}` ({}, {}) was rolled back from {} {} to {}; triggered by {}, due to:",
                    self.model, d.target, d.strategy, d.unit, d.from_label, d.to_reason, req.who
                ),
            ),
            text,
            question: format!("Roll back {} to {} {}?", d.target, d.unit, d.to_label),
            steps: d.steps,
            verify_line: format!("verify {}", d.target),
            verify: d.verify,
            notes,
            view,
            done_message: format!(
                "rolled back {}: {} {} → {}, verified",
                d.target, d.unit, d.from_label, d.to_label
            ),
            failure_hint: format!(
                "`mlrb rollback infra {} --history` shows the revisions now",
                self.model
            ),
            on_failure: Some(Box::new(move |i| {
                if i == 0 {
                    "; nothing was changed".into()
                } else {
                    format!(
                        "; the rollback command ran ({first}); {shown} may be rolling out still"
                    )
                }
            })),
            claim: d.claim,
        }))
    }
}

impl Kind for Infra {
    fn subject(&self) -> Subject {
        let c = &self.cfg;
        let at = where_(&c.namespace, &c.context);
        let name = |n: &Option<String>| n.clone().unwrap_or_default();
        let (target, place) = match c.strategy {
            InfraStrategy::Helm => (format!("release {}{at}", name(&c.release)), "helm"),
            InfraStrategy::BlueGreen => (format!("service/{}{at}", name(&c.service)), "blue-green"),
            InfraStrategy::Istio => (
                format!("virtualservice/{}{at}", name(&c.virtual_service)),
                "istio",
            ),
            InfraStrategy::ArgoRollouts => {
                (format!("rollout/{}{at}", name(&c.rollout)), "argo-rollouts")
            }
            InfraStrategy::Kubectl | InfraStrategy::None => {
                (format!("deployment/{}{at}", name(&c.deployment)), "kubectl")
            }
        };
        Subject {
            command: "rollback infra",
            target,
            place: place.into(),
        }
    }

    fn plan(&self, ctx: &Ctx, req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        // The journal is a second witness of a completed rollback; an unreadable one was
        // already refused by the engine.
        let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
        let notes: Vec<String> = self.mixing(ctx, &records).into_iter().collect();
        let started = resuming.and_then(Started::of);
        let draft = match self.cfg.strategy {
            InfraStrategy::Helm => self.plan_helm(&records, started.as_ref())?,
            InfraStrategy::BlueGreen => self.plan_blue_green(req, started.as_ref())?,
            InfraStrategy::Istio => self.plan_istio(req, started.as_ref())?,
            InfraStrategy::ArgoRollouts => self.plan_argo(req, started.as_ref())?,
            _ => self.plan_kubectl(ctx, req, &records, started.as_ref())?,
        };
        Ok(match draft {
            Ok(d) => self.finish(req, d, notes),
            Err(nothing) => nothing,
        })
    }
}

/// What an interrupted rollback's `Started` record says it was doing.
struct Started {
    event: String,
    from: u64,
    to: u64,
    to_reason: String,
}

impl Started {
    fn of(r: &Record) -> Option<Started> {
        match &r.entry {
            Entry::Started {
                from,
                to,
                to_reason,
                ..
            } => Some(Started {
                event: r.event.clone(),
                from: from.first().copied().unwrap_or(0),
                to: *to,
                to_reason: to_reason.clone(),
            }),
            _ => None,
        }
    }

    /// The word after `prefix` in the target's description (`replicaset ms-5d8f` → `ms-5d8f`).
    fn word_after(&self, prefix: &str) -> Option<String> {
        let rest = &self.to_reason[self.to_reason.find(prefix)? + prefix.len()..];
        let w: String = rest
            .chars()
            .take_while(|c| !matches!(c, ',' | ')' | ' ' | '`'))
            .collect();
        (!w.is_empty()).then_some(w)
    }
}

/// A plan, or nothing to do.
type Drafted = Result<std::result::Result<Draft, Planned>>;

fn nothing(outcome: &'static str, message: String, view: &[(&str, Value)]) -> Planned {
    Planned::Nothing {
        outcome,
        message,
        view: view
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

// ---- kubectl: rollout undo, recorded on the Deployment ----

/// What the last rollback recorded on a Deployment.
struct Recorded {
    by: String,
    at: Option<chrono::DateTime<chrono::Utc>>,
    revision: Option<u64>,
    template: String,
}

impl Recorded {
    fn on(obj: &Value) -> Option<Recorded> {
        let a = obj.pointer("/metadata/annotations")?;
        let get = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let by = get(BY);
        (!by.is_empty()).then(|| Recorded {
            by,
            at: chrono::DateTime::parse_from_rfc3339(&get(AT))
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc)),
            revision: get(REVISION).parse().ok(),
            template: get(TEMPLATE),
        })
    }

    /// Whether the Deployment is still at the revision this rollback produced.
    fn produced(&self, current: &Revision) -> bool {
        self.revision == Some(current.revision)
            && (self.template.is_empty() || self.template == current.hash)
    }
}

/// The completed rollback that left the Deployment as it is now, if nothing was deployed since:
/// from the annotations on the object, else from this machine's journal. (event, when).
fn already_undone(
    dep: &Value,
    revs: &[Revision],
    current: &Revision,
    records: &[Record],
    target: &str,
) -> Option<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    if let Some(r) = Recorded::on(dep).filter(|r| r.produced(current)) {
        return Some((r.by, r.at));
    }
    // The journal: the last rollback of this Deployment that finished went to the ReplicaSet
    // that runs now, and no revision was made after the one it produced.
    let (event, s, at) = last_infra_rollback(records, target, "kubectl")?;
    let newest = revs.first().map(|r| r.revision);
    (s.word_after("replicaset ").as_deref() == Some(current.replicaset.as_str())
        && current.revision > s.from
        && newest == Some(current.revision))
    .then_some((event, Some(at)))
}

/// Undoes the Deployment to the target's template. On a resumed rollback it is done when the
/// Deployment already runs that template (the revision it named is renumbered by then).
struct Undo {
    cmd: Cmd,
    k: Kubectl,
    name: String,
    want: Value,
    target: String,
    resuming: bool,
}

impl Step for Undo {
    fn line(&self) -> String {
        self.cmd.line()
    }
    fn done(&self) -> bool {
        self.resuming
            && self
                .k
                .get_json("deployment", &self.name)
                .is_ok_and(|d| kubectl::template_of(&d) == self.want)
    }
    fn run(&self, _event: &str) -> std::result::Result<String, StepFailure> {
        run_cmd(&self.cmd, |e| kubectl::explain(e, &self.target))
    }
}

/// Records the rollback on the Deployment once its controller has numbered the revision the
/// undo produced, and takes the lease back (the undo replaces the Deployment's annotations with
/// the target ReplicaSet's). A compare-and-swap: refused if another rollback claimed it since.
struct RecordUndo {
    obj: Object,
    observe: Duration,
    want: Value,
    to: u64,
    /// The target's `pod-template-hash`.
    hash: String,
    who: String,
    /// The interrupted rollback being resumed.
    resumed: Option<String>,
}

impl RecordUndo {
    fn current(&self, dep: &Value) -> std::result::Result<Revision, String> {
        let revs = self
            .obj
            .k
            .history(dep)
            .map_err(|e| format!("cannot read the revisions: {e}"))?;
        let cur = revs
            .into_iter()
            .find(|r| r.current)
            .ok_or("the deployment has no current revision")?;
        if cur.template != self.want {
            return Err(format!(
                "the live template (revision {}, {}) is not the target's: the undo did not take, or something was deployed since",
                cur.revision,
                cur.images.join(", ")
            ));
        }
        Ok(cur)
    }
}

impl Step for RecordUndo {
    fn line(&self) -> String {
        // What is known only when it runs is in capitals.
        let set = [
            (BY, "EVENT".to_string()),
            (AT, "NOW".into()),
            (TO_REVISION, self.to.to_string()),
            (REVISION, "NEW".into()),
            (TEMPLATE, self.hash.clone()),
            (lease::KEY, "LEASE".into()),
        ];
        self.obj
            .k
            .annotate(&self.obj.resource, &self.obj.name, Some("RV"), &set, &[])
            .line()
    }

    fn done(&self) -> bool {
        let Some(event) = &self.resumed else {
            return false;
        };
        let Ok(dep) = self.obj.read() else {
            return false;
        };
        Recorded::on(&dep)
            .is_some_and(|r| r.by == *event && self.current(&dep).is_ok_and(|cur| r.produced(&cur)))
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        // The revision the undo produced is numbered by the controller when it observes it.
        self.obj
            .k
            .observed_deployment(&self.obj.name, self.observe, |_, _| {})
            .map_err(|e| e.to_string())?;
        let mut now_at = None;
        let r = self.obj.cas(|dep| {
            if let Some(l) = lease::foreign(dep, event) {
                return Err(format!(
                    "another rollback claimed {} after the undo: {}",
                    self.obj.shown,
                    lease::held_by(&self.obj.shown, &l)
                ));
            }
            let cur = self.current(dep)?;
            now_at = Some(cur.revision);
            Ok(Write::Annotate(vec![
                (BY, event.to_string()),
                (AT, clock::fmt(clock::now())),
                (TO_REVISION, self.to.to_string()),
                (REVISION, cur.revision.to_string()),
                (TEMPLATE, cur.hash.clone()),
                (
                    lease::KEY,
                    Lease::new(event, &self.who, Some(cur.revision)).json(),
                ),
            ]))
        });
        match r {
            Ok(_) => Ok(format!(
                "recorded on {}: rolled back by {event} to revision {}, now revision {}",
                self.obj.shown,
                self.to,
                now_at.unwrap_or_default()
            )),
            Err(CasError::Refused(why)) => Err(why.into()),
            Err(CasError::Exec(e)) => Err(kubectl::explain(&e, &self.obj.shown).0.into()),
            Err(CasError::Busy) => Err(format!(
                "cannot record the rollback on {}: it kept changing",
                self.obj.shown
            )
            .into()),
        }
    }
}

impl Infra {
    fn plan_kubectl(
        &self,
        ctx: &Ctx,
        req: &Request,
        records: &[Record],
        started: Option<&Started>,
    ) -> Drafted {
        let name = self.cfg.deployment.clone().unwrap_or_default();
        let k = self.kubectl();
        let target = self.subject().target;
        let (dep, revs) = self.observed(ctx, &name, &target)?;
        let Some(current) = revs.iter().find(|r| r.current).or(revs.first()) else {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!("{target} has no rollout history; nothing to undo"),
            )
            .into());
        };
        let known = || revs.iter().map(|r| r.revision).collect::<Vec<_>>();
        let to = match (started, self.to_revision) {
            // The ReplicaSet the interrupted rollback went to: its revision number changes
            // once the undo is made.
            (Some(s), _) => {
                let rs = s.word_after("replicaset ");
                revs.iter()
                    .find(|r| match &rs {
                        Some(rs) => r.replicaset == *rs,
                        None => r.revision == s.to,
                    })
                    .ok_or_else(|| {
                        CliError::new(
                            ExitStatus::Failure,
                            format!(
                                "the target of {} ({}) is no longer among the revisions of {target}; nothing was changed",
                                s.event, s.to_reason
                            ),
                        )
                        .with_hint(format!(
                            "`mlrb report {}` shows what was done; `mlrb rollback infra {} --history` lists the revisions",
                            s.event, self.model
                        ))
                    })?
            }
            (None, Some(n)) => revs
                .iter()
                .find(|r| r.revision == n)
                .ok_or_else(|| no_revision(&target, n, &known(), &self.model))?,
            (None, None) => {
                if let Some((event, at)) = already_undone(&dep, &revs, current, records, &target) {
                    return Ok(Err(nothing(
                        "already_rolled_back",
                        format!(
                            "already rolled back by {event} at {} (revision {}); nothing changed",
                            at.map(clock::fmt)
                                .unwrap_or_else(|| "an unknown time".into()),
                            current.revision
                        ),
                        &[
                            ("strategy", "kubectl".into()),
                            ("target", target.clone().into()),
                            ("revision", current.revision.into()),
                            ("rolled_back_by", event.into()),
                            ("rolled_back_at", at.map(clock::fmt).into()),
                        ],
                    )));
                }
                // A revision that made an earlier template live again (a rollback by hand, by
                // another tool, or one whose record is gone): undoing it would bring back what
                // it replaced.
                if !current.earlier.is_empty() {
                    let earlier: Vec<String> = current.earlier.iter().map(u64::to_string).collect();
                    return Ok(Err(nothing(
                        "already_rolled_back",
                        format!(
                            "already rolled back: revision {} of {target} made the template of revision {} ({}) live again, by a rollback or a deploy of that version; undoing it would bring back what it replaced; nothing changed (`--to-revision N` goes to another revision)",
                            current.revision,
                            earlier.join(", "),
                            current.images.join(", ")
                        ),
                        &[
                            ("strategy", "kubectl".into()),
                            ("target", target.clone().into()),
                            ("revision", current.revision.into()),
                            ("rolled_back_by", Value::Null),
                        ],
                    )));
                }
                revs.iter()
                    .find(|r| r.revision < current.revision)
                    .ok_or_else(|| {
                        CliError::new(
                            ExitStatus::NoTarget,
                            format!(
                                "nothing to undo: {target} has only revision {} ({})",
                                current.revision,
                                current.images.join(", ")
                            ),
                        )
                        .with_hint("there is no earlier revision to go back to; fix forward or check the deployment's revisionHistoryLimit")
                    })?
            }
        };
        if started.is_none() && to.template == current.template {
            return Ok(Err(nothing(
                "no_change",
                format!(
                    "{target} already runs the template of revision {} (revision {}, {}); nothing changed",
                    to.revision,
                    current.revision,
                    current.images.join(", ")
                ),
                &[
                    ("strategy", "kubectl".into()),
                    ("target", target.clone().into()),
                ],
            )));
        }
        // A resumed rollback shows and runs the undo it planned.
        let (from, to_n) = match started {
            Some(s) => (s.from, s.to),
            None => (current.revision, to.revision),
        };
        let images = to.images.join(", ");
        let obj = self.object("deployment", &name);
        let steps: Vec<Box<dyn Step>> = vec![
            Box::new(Undo {
                cmd: k.undo(&name, Some(to_n)),
                k: k.clone(),
                name: name.clone(),
                want: to.template.clone(),
                target: target.clone(),
                resuming: started.is_some(),
            }),
            Box::new(RecordUndo {
                obj: obj.clone(),
                observe: self.timeout().min(kubectl::OBSERVE_TIMEOUT),
                want: to.template.clone(),
                to: to_n,
                hash: to.hash.clone(),
                who: req.who.clone(),
                resumed: started.map(|s| s.event.clone()),
            }),
            command_step(k.status(&name, self.timeout()), "kubectl", &target),
        ];
        let planned = current.template.clone();
        let resuming = started.is_some();
        let claim = self.claim(obj, req, move |dep| {
            if resuming || kubectl::template_of(dep) == planned {
                return Ok(());
            }
            Err(match Recorded::on(dep) {
                Some(r) => format!(
                    "now rolled back by {} at {}",
                    r.by,
                    r.at.map(clock::fmt).unwrap_or_default()
                ),
                None => "its pod template is not the one planned from: something was deployed or rolled back".into(),
            })
        });
        let want = to.template.clone();
        let (vk, vname, vimages) = (k.clone(), name.clone(), images.clone());
        Ok(Ok(Draft {
            strategy: "kubectl",
            target,
            from,
            to: to_n,
            unit: "revision",
            from_label: from.to_string(),
            to_label: to_n.to_string(),
            to_reason: format!(
                "revision {to_n} (replicaset {}, {images}{})",
                to.replicaset,
                if to.change_cause.is_empty() {
                    String::new()
                } else {
                    format!(", change-cause: {}", to.change_cause)
                }
            ),
            steps,
            verify: Box::new(move || verify_deployment(&vk, &vname, &want, &vimages)),
            claim: Some(claim),
        }))
    }

    /// The lease on `obj` for the event, checking with `still` that it is as planned.
    fn claim(
        &self,
        obj: Object,
        req: &Request,
        still: impl Fn(&Value) -> std::result::Result<(), String> + 'static,
    ) -> Claim {
        let who = req.who.clone();
        Box::new(move |event: &str| {
            let held = lease::claim(&obj, event, &who, &still)?;
            Ok(Box::new(held) as Box<dyn std::any::Any>)
        })
    }
}

fn verify_deployment(
    k: &Kubectl,
    name: &str,
    want: &Value,
    images: &str,
) -> std::result::Result<String, String> {
    let dep = k
        .get_deployment(name)
        .map_err(|e| format!("cannot re-read the deployment: {e}"))?;
    let revs = k
        .history(&dep)
        .map_err(|e| format!("cannot re-read the revisions: {e}"))?;
    let cur = revs
        .iter()
        .find(|r| r.current)
        .ok_or("the deployment has no current revision")?;
    if cur.template != *want {
        return Err(format!(
            "the live template (revision {}, {}) is not the target's ({images})",
            cur.revision,
            cur.images.join(", ")
        ));
    }
    let ready = dep["status"]["readyReplicas"].as_u64().unwrap_or(0);
    let wanted = dep["spec"]["replicas"].as_u64().unwrap_or(1);
    if ready < wanted {
        return Err(format!("{ready}/{wanted} replicas ready"));
    }
    Ok(format!(
        "revision {} runs {images}, {ready}/{wanted} replicas ready",
        cur.revision
    ))
}

// ---- helm ----

/// The deployed revision (else the newest).
fn helm_current(revs: &[helm::Release]) -> Option<&helm::Release> {
    revs.iter()
        .find(|r| r.status == "deployed")
        .or(revs.first())
}

impl Infra {
    fn plan_helm(&self, records: &[Record], started: Option<&Started>) -> Drafted {
        let name = self.cfg.release.clone().unwrap_or_default();
        let h = self.helm();
        let target = self.subject().target;
        let revs = h.history(&name).map_err(|e| early("helm", e, &target))?;
        let Some(current) = helm_current(&revs) else {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!("{target} has no history; nothing to roll back"),
            )
            .into());
        };
        let to = match (started, self.to_revision) {
            (Some(s), _) => s.to,
            (None, Some(n)) => n,
            (None, None) => {
                // A release whose deployed revision is a rollback: going "back" from it would
                // deploy the revision it rolled back from.
                if let Some(n) = current
                    .description
                    .strip_prefix("Rollback to ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                {
                    let by =
                        last_infra_rollback(records, &target, "helm").filter(|(_, s, _)| s.to == n);
                    let message = match &by {
                        Some((event, _, at)) => format!(
                            "already rolled back by {event} at {} (revision {}); nothing changed",
                            clock::fmt(*at),
                            current.revision
                        ),
                        None => format!(
                            "already rolled back: revision {} of {target} is a helm rollback to revision {n} ({}); nothing changed",
                            current.revision, current.description
                        ),
                    };
                    return Ok(Err(nothing(
                        "already_rolled_back",
                        message,
                        &[
                            ("strategy", "helm".into()),
                            ("target", target.clone().into()),
                            ("revision", current.revision.into()),
                            (
                                "rolled_back_by",
                                by.as_ref().map(|(e, _, _)| e.clone()).into(),
                            ),
                        ],
                    )));
                }
                revs.iter()
                    .find(|r| r.revision < current.revision)
                    .map(|r| r.revision)
                    .ok_or_else(|| {
                        CliError::new(
                            ExitStatus::NoTarget,
                            format!(
                                "nothing to roll back: {target} has only revision {}",
                                current.revision
                            ),
                        )
                    })?
            }
        };
        let Some(to) = revs.iter().find(|r| r.revision == to) else {
            return Err(no_revision(
                &target,
                to,
                &revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
                &self.model,
            ));
        };
        if started.is_none() && to.revision == current.revision {
            return Ok(Err(nothing(
                "no_change",
                format!(
                    "{target} is at revision {} already; nothing changed",
                    to.revision
                ),
                &[
                    ("strategy", "helm".into()),
                    ("target", target.clone().into()),
                ],
            )));
        }
        let from = started.map_or(current.revision, |s| s.from);
        let want = to.revision;
        // Resumed: the rollback is done when the newest revision is a deployed rollback to the
        // target made after the one it started from.
        let done: Option<Box<dyn Fn() -> bool>> = started.map(|_| {
            let (dh, dname) = (h.clone(), name.clone());
            Box::new(move || {
                dh.history(&dname).is_ok_and(|revs| {
                    revs.first().is_some_and(|top| {
                        top.revision > from
                            && top.status == "deployed"
                            && top.description.contains(&format!("Rollback to {want}"))
                    })
                })
            }) as Box<dyn Fn() -> bool>
        });
        let (vh, vname) = (h.clone(), name.clone());
        let t = target.clone();
        Ok(Ok(Draft {
            strategy: "helm",
            target: target.clone(),
            from,
            to: want,
            unit: "revision",
            from_label: from.to_string(),
            to_label: want.to_string(),
            to_reason: format!(
                "revision {} ({} app {}: {})",
                to.revision, to.chart, to.app_version, to.description
            ),
            steps: vec![Box::new(CommandStep {
                cmd: h.rollback(&name, Some(want), self.timeout()),
                explain: Box::new(helm::explain),
                done,
            })],
            verify: Box::new(move || {
                let revs = vh
                    .history(&vname)
                    .map_err(|e| format!("cannot re-read the history of {t}: {e}"))?;
                let top = revs.first().ok_or("the release has no history")?;
                if top.status != "deployed"
                    || !top.description.contains(&format!("Rollback to {want}"))
                {
                    return Err(format!(
                        "the newest revision {} is {} ({}), not a deployed rollback to {want}",
                        top.revision, top.status, top.description
                    ));
                }
                Ok(format!(
                    "revision {} is deployed: {}",
                    top.revision, top.description
                ))
            }),
            claim: None,
        }))
    }
}

/// The last infra rollback of `target` in `place` that finished (rolled back, verified or not):
/// (event, what it started, when it finished).
fn last_infra_rollback(
    records: &[Record],
    target: &str,
    place: &str,
) -> Option<(String, Started, chrono::DateTime<chrono::Utc>)> {
    let mut open: Vec<(String, Started)> = Vec::new();
    let mut last = None;
    for r in records {
        match &r.entry {
            Entry::Started {
                command,
                registered_name,
                registry,
                ..
            } if command == "rollback infra" && registered_name == target && registry == place => {
                open.extend(Started::of(r).map(|s| (r.event.clone(), s)));
            }
            Entry::Finished { outcome, .. } if outcome != "failed" => {
                if let Some(i) = open.iter().position(|(e, _)| *e == r.event) {
                    let (e, s) = open.remove(i);
                    last = Some((e, s, r.at));
                }
            }
            _ => {}
        }
    }
    last
}

// ---- blue-green: the Service's selector back to the standby colour ----

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
        self.obj
            .k
            .cmd([
                "patch".to_string(),
                self.obj.resource.clone(),
                self.obj.name.clone(),
                "--type=merge".into(),
                "-p".into(),
                self.patch("<event>", "<now>").to_string(),
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
    fn plan_blue_green(&self, req: &Request, started: Option<&Started>) -> Drafted {
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
        // A resumed rollback goes to the colour it planned, whatever is live now.
        let resumed_to = started.and_then(|s| s.word_after(&format!("`{key}=")));
        let standby = match resumed_to {
            Some(c) => c,
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

// ---- istio: canary reversal through the VirtualService ----

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
        let r = self.obj.cas(|vs| {
            if let Some(l) = lease::foreign(vs, event) {
                return Err(lease::held_by(&self.obj.shown, &l));
            }
            Ok(
                match reversed_routes(vs, &self.stable, &self.canary, self.route.as_deref()) {
                    Some(http) => Write::Patch(serde_json::json!({"spec": {"http": http}})),
                    None => Write::Nothing,
                },
            )
        });
        match r {
            Ok(_) => Ok(format!("{} patched", self.obj.shown)),
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
    fn plan_istio(&self, req: &Request, started: Option<&Started>) -> Drafted {
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

// ---- argo-rollouts: abort ----

const ROLLOUT: &str = "rollouts.argoproj.io";

impl Infra {
    /// Canary reversal by aborting the Argo Rollout: `kubectl argo rollouts abort` when the
    /// plugin is on PATH, else the same status write it makes (`status.abort: true` through the
    /// status subresource). The Argo controller then sends all traffic back to the stable
    /// ReplicaSet.
    fn plan_argo(&self, req: &Request, started: Option<&Started>) -> Drafted {
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

// ---- shared ----

fn command_step(cmd: Cmd, strategy: &'static str, target: &str) -> Box<dyn Step> {
    let target = target.to_string();
    Box::new(CommandStep {
        cmd,
        explain: Box::new(move |e| explain(strategy, e, &target)),
        done: None,
    })
}

fn run_cmd(
    cmd: &Cmd,
    explain: impl Fn(&ExecError) -> (String, Option<String>),
) -> std::result::Result<String, StepFailure> {
    match cmd.run() {
        Ok(out) => {
            let tail = crate::exec::runner::tail(&out.stdout, 2, 300);
            Ok(if tail.is_empty() {
                format!("{}: done", cmd.line())
            } else {
                tail
            })
        }
        Err(e) => {
            let (detail, hint) = explain(&e);
            Err(StepFailure { detail, hint })
        }
    }
}

fn explain(strategy: &str, e: &ExecError, target: &str) -> (String, Option<String>) {
    if strategy == "helm" {
        helm::explain(e)
    } else {
        kubectl::explain(e, target)
    }
}

fn usage(m: String) -> anyhow::Error {
    CliError::usage(m).into()
}

/// An exec error before anything changed: one line, the exit code, and what to do next.
fn early(strategy: &str, e: ExecError, target: &str) -> anyhow::Error {
    let status = match &e {
        ExecError::NotFound { .. } => ExitStatus::Usage,
        ExecError::Failed { stderr, .. }
            if stderr.contains("not found") || stderr.contains("does not exist") =>
        {
            ExitStatus::Usage
        }
        _ => ExitStatus::Failure,
    };
    let (msg, hint) = explain(strategy, &e, target);
    let mut err = CliError::new(status, format!("{msg}; nothing was changed"));
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.into()
}

/// `early` for reading a Deployment, which can also find its controller behind.
fn not_settled(e: kubectl::DeploymentError, target: &str) -> anyhow::Error {
    match e {
        kubectl::DeploymentError::Exec(e) => early("kubectl", e, target),
        e => {
            let mut err = CliError::new(ExitStatus::Failure, format!("{e}; nothing was changed"));
            if let Some(h) = e.hint() {
                err = err.with_hint(h);
            }
            err.into()
        }
    }
}

fn where_(ns: &Option<String>, context: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(n) = ns {
        s.push_str(&format!(" in namespace {n}"));
    }
    if let Some(c) = context {
        s.push_str(&format!(" (context {c})"));
    }
    s
}

fn age(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| clock::human(clock::now() - t))
        .unwrap_or_else(|| "?".into())
}

fn no_revision(target: &str, n: u64, known: &[u64], model: &str) -> anyhow::Error {
    CliError::usage(format!(
        "{target} has no revision {n} (revisions: {})",
        known
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .with_hint(format!(
        "`mlrb rollback infra {model} --history` lists them with images and change-causes"
    ))
    .into()
}
