//! Infra rollback: a Deployment undone with kubectl, a helm release rolled back, a blue-green
//! Service switched to its standby, an Istio canary reversed or an Argo Rollout aborted. What a
//! rollback did is recorded on the object (`mlrb.dev/rolled-back-*`), which is what makes a second
//! run a no-op; a lease on the object keeps one rollback of it at a time across machines.

mod argo;
mod blue_green;
mod helm_rollback;
mod istio;
mod kserve_canary;
mod kubectl_undo;
mod lease;
mod shadow;

pub use shadow::status_line as shadow_status;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::clock;
use crate::config::{InfraConfig, InfraStrategy};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::exec::helm::{self, Helm};
use crate::exec::kubectl::{self, Kubectl, Revision};
use crate::exec::{Cmd, ExecError};
use crate::journal::{Entry, Record};
use crate::rollback::{
    Claim, CommandStep, Kind, Plan, Planned, Request, Step, StepFailure, Subject,
};
use helm_rollback::helm_current;
use lease::Object;

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
    /// `--shadow`: stop the mirror to the model's shadow instead of reversing the canary.
    pub shadow: bool,
    /// `--shadow --restore`: put back what the last shadow stop removed.
    pub shadow_restore: bool,
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
    /// Lines under the target in the plan (istio: each route's weights before → after).
    detail: Vec<String>,
    /// Warnings shown before the confirmation and kept in the report.
    notes: Vec<String>,
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
            InfraStrategy::KserveCanary => Some(
                "kserve-canary; the reversal sends all traffic to the previously rolled-out revision",
            ),
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
            shadow: false,
            shadow_restore: false,
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

    /// The parts every strategy shares: the plan text, the report's summary, the JSON view.
    fn finish(&self, req: &Request, d: Draft, mut notes: Vec<String>) -> Planned {
        let lines: Vec<String> = d.steps.iter().map(|s| s.line()).collect();
        let mut text = format!(
            "Infra rollback plan for {} ({}): {}, {} {} → {}\n  target: {}\n",
            self.model, d.strategy, d.target, d.unit, d.from_label, d.to_label, d.to_reason
        );
        for l in &d.detail {
            text.push_str(&format!("          {l}\n"));
        }
        notes.extend(d.notes);
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
                "rolled back {}: {} {} → {}",
                d.target, d.unit, d.from_label, d.to_label
            ),
            // --history is for the strategies with revisions.
            failure_hint: match self.cfg.strategy {
                InfraStrategy::Kubectl | InfraStrategy::Helm => format!(
                    "`mlrb rollback infra {} --history` shows the revisions now",
                    self.model
                ),
                _ => format!(
                    "`mlrb rollback infra {} --dry-run{}` shows what a new run would do",
                    self.model,
                    if self.shadow { " --shadow" } else { "" }
                ),
            },
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
            InfraStrategy::KserveCanary => (
                format!("inferenceservice/{}{at}", name(&c.inference_service)),
                "kserve-canary",
            ),
            InfraStrategy::Kubectl | InfraStrategy::None => {
                (format!("deployment/{}{at}", name(&c.deployment)), "kubectl")
            }
        };
        // A shadow stop is its own subject: its lock, and an unfinished one resumed with --shadow.
        Subject {
            command: match (self.shadow, self.shadow_restore) {
                (true, true) => "rollback infra --shadow --restore",
                (true, false) => "rollback infra --shadow",
                _ => "rollback infra",
            },
            target,
            place: match (self.shadow, self.shadow_restore) {
                (true, true) => "istio-shadow-restore",
                (true, false) => "istio-shadow",
                _ => place,
            }
            .into(),
        }
    }

    fn plan(&self, ctx: &Ctx, req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        // The journal is a second witness of a completed rollback; an unreadable one was
        // already refused by the engine.
        let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
        let notes: Vec<String> = self.mixing(ctx, &records).into_iter().collect();
        let started = resuming.and_then(Started::of);
        let draft = match self.cfg.strategy {
            InfraStrategy::Istio if self.shadow_restore => {
                self.plan_shadow_restore(req, started.as_ref())?
            }
            InfraStrategy::Istio if self.shadow => self.plan_shadow(req, started.as_ref())?,
            InfraStrategy::Helm => self.plan_helm(&records, started.as_ref())?,
            InfraStrategy::BlueGreen => self.plan_blue_green(req, started.as_ref())?,
            InfraStrategy::Istio => self.plan_istio(req, started.as_ref())?,
            InfraStrategy::ArgoRollouts => self.plan_argo(req, started.as_ref())?,
            InfraStrategy::KserveCanary => self.plan_kserve_canary(req, started.as_ref())?,
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

/// What the last rollback recorded on the object (a Deployment, a Service).
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
            Entry::Started { command, .. }
                if command == "rollback infra"
                    && crate::journal::started_on(&r.entry, target, place) =>
            {
                open.extend(Started::of(r).map(|s| (r.event.clone(), s)));
            }
            Entry::Finished { outcome, .. } if crate::journal::closes(outcome) => {
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

// ---- shared ----

fn command_step(cmd: Cmd, strategy: &'static str, target: &str) -> Box<dyn Step> {
    let target = target.to_string();
    Box::new(CommandStep {
        cmd,
        explain: Box::new(move |e| explain(strategy, e, &target)),
        done: None,
    })
}

/// A wait for the rollout to become Ready (`kubectl rollout status`): the rollback is applied by
/// then, so its failure is "rolled back, not verified" (exit 5), as for a model's serving.
struct Awaits(Box<dyn Step>);

impl Step for Awaits {
    fn line(&self) -> String {
        self.0.line()
    }
    fn done(&self) -> bool {
        self.0.done()
    }
    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        self.0.run(event)
    }
    fn awaits(&self) -> bool {
        true
    }
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
