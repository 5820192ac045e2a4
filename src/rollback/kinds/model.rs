//! Model rollback: make a known-good version live in the registry (stage transition or alias
//! move, the target live before anything is archived), write the audit tags, reload serving,
//! verify by re-reading the registry. The lease on the registered model is its claim.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use crate::clock;
use crate::config::ModelTarget;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Record};
use crate::live::load_versions;
use crate::metrics::{Baseline, ModelMetrics};
use crate::plan::{self, Step as PlanStep};
use crate::registry::{self, LiveMode, ModelVersion, Registry, Stage, tags};
use crate::rollback::{Kind, Plan, Planned, Request, Step, StepFailure, Subject};
use crate::select::{self, NO_TARGET_ADVICE};
use crate::serving;

type Result<T> = anyhow::Result<T>;

/// What `rollback model` was asked for.
pub struct Model {
    pub target: ModelTarget,
    pub reg: Arc<dyn Registry>,
    /// `--to V`, or the fallback version with `--fallback`.
    pub to: Option<u64>,
    /// `--force`: `--to V` may name a version rolled back from before.
    pub force: bool,
    /// `--fallback` with a registry-version fallback: (version, description).
    pub fallback: Option<(u64, Option<String>)>,
    /// Set while planning: the metrics baseline and the plan's own steps.
    planned: RefCell<Option<(Option<Baseline>, plan::Plan)>>,
    /// Set by a fresh plan: every version it read, which the event's close reuses.
    known: RefCell<Option<crate::timeline::facts::Known>>,
    /// What the verification read (stage mode), which the close reuses too.
    verified: Rc<RefCell<Option<Vec<ModelVersion>>>>,
    /// Set when the event ends with a failed step: its registry record stays, as unfinished.
    failed: Rc<std::cell::Cell<bool>>,
    /// Set by a fresh plan: the feature-schema gate's finding, for the journal and report.
    schema_record: RefCell<Vec<Entry>>,
}

/// The lease, held until the event closes; kept as the record of an unfinished rollback when
/// the event failed.
struct Inflight {
    lease: crate::lease::Lease<'static, Arc<dyn Registry>>,
    failed: Rc<std::cell::Cell<bool>>,
}

impl Drop for Inflight {
    fn drop(&mut self) {
        if self.failed.get() {
            self.lease.keep_as_unfinished();
        }
    }
}

impl Model {
    pub fn new(target: ModelTarget, reg: Arc<dyn Registry>) -> Model {
        Model {
            target,
            reg,
            to: None,
            force: false,
            fallback: None,
            planned: RefCell::new(None),
            known: RefCell::new(None),
            verified: Rc::default(),
            failed: Rc::new(std::cell::Cell::new(false)),
            schema_record: RefCell::default(),
        }
    }
}

/// A model rollback mlrb starts by itself (`watch`, `drill`, `demo`): the model as configured
/// (with `alias` when the controller watches by alias), to the candidate, through the engine.
/// With `gitops` (the controller) a rollback of what Argo CD or Flux manages takes the GitOps
/// steps of `[models.X.gitops]` (the sync stays suspended until a person pushes: nothing is
/// pushed unattended), and is refused without the section, as by hand; a drill's restore
/// cannot undo a GitOps commit, so a drill passes `None`.
pub fn unattended(
    ctx: &Ctx,
    req: &Request,
    alias: Option<&str>,
    gitops: Option<super::gitops::Flags>,
) -> anyhow::Result<ExitStatus> {
    let target = ctx.settings.model(&req.model, alias)?;
    let reg: Arc<dyn crate::registry::Registry> = Arc::from(ctx.registry()?);
    let kind = Model::new(target, reg);
    match gitops {
        Some(flags) => {
            let kind = super::gitops::wrap(
                ctx,
                Box::new(kind),
                &req.model,
                super::gitops::Which::Model,
                flags,
            );
            crate::rollback::engine::run(ctx, &kind, req)
        }
        None => crate::rollback::engine::run(ctx, &kind, req),
    }
}

/// One registry or serving step of a model rollback.
struct ModelStep {
    step: PlanStep,
    reg: Arc<dyn Registry>,
    name: String,
    audit: Audit,
    serving: crate::config::ServingConfig,
    http: Rc<OnceCell<std::result::Result<crate::http::Http, String>>>,
    /// The event a resumed rollback finishes: its steps are checked in the registry first.
    resuming: Option<String>,
    /// The version's tags as planned from (for its audit history); read again when absent.
    prior_tags: Option<std::collections::BTreeMap<String, String>>,
    /// The version the rollback makes live (what a serving step loads).
    target_version: u64,
}

impl Step for ModelStep {
    fn line(&self) -> String {
        self.step.describe(&self.name)
    }

    fn view(&self) -> crate::rollback::StepView {
        let name = &self.name;
        let v = |n: &u64| format!("v{n}");
        let (kind, target, before, after, command) = match &self.step {
            PlanStep::Stage { version, from, to } => (
                "registry.transition_stage",
                format!("{name} v{version}"),
                Some(from.to_string()),
                Some(to.to_string()),
                None,
            ),
            PlanStep::Alias {
                alias,
                version,
                previous,
            } => (
                "registry.set_alias",
                format!("{name} @{alias}"),
                previous.as_ref().map(v),
                Some(v(version)),
                None,
            ),
            PlanStep::Tags { version, role } => (
                "registry.set_tags",
                format!("{name} v{version}"),
                None,
                Some(format!("{}={role}", tags::ROLE)),
                None,
            ),
            PlanStep::Reload { url, version } => (
                "serving.reload",
                crate::config::redact_str(url),
                None,
                Some(v(version)),
                Some(self.line().trim_start_matches("serving").trim().to_string()),
            ),
            PlanStep::AwaitServing { url, version, .. } => (
                "serving.await",
                crate::config::redact_str(url),
                None,
                Some(v(version)),
                None,
            ),
            PlanStep::Command { .. } => (
                "serving.command",
                self.serving
                    .deployment
                    .as_ref()
                    .map(|d| format!("deployment/{d}"))
                    .or_else(|| {
                        self.serving
                            .release
                            .as_ref()
                            .map(|r| format!("release {r}"))
                    })
                    .unwrap_or_else(|| "serving".into()),
                None,
                Some(v(&self.target_version)),
                Some(self.line().trim_start_matches("serving").trim().to_string()),
            ),
            PlanStep::KservePatch {
                inference_service,
                namespace,
                field,
                storage_uri,
                version,
                ..
            } => (
                "serving.kserve_patch",
                format!("inferenceservice/{inference_service} -n {namespace}"),
                None,
                Some(format!(
                    "{field}={} (v{version})",
                    crate::config::redact_str(storage_uri)
                )),
                Some(self.line().trim_start_matches("serving").trim().to_string()),
            ),
            PlanStep::KserveAwait {
                inference_service,
                namespace,
                previous,
                version,
                ..
            } => (
                "serving.kserve_await",
                format!("inferenceservice/{inference_service} -n {namespace}"),
                previous.clone(),
                Some(v(version)),
                None,
            ),
            PlanStep::Verify => (
                "verify",
                name.clone(),
                None,
                Some(v(&self.target_version)),
                None,
            ),
        };
        crate::rollback::StepView {
            kind: kind.into(),
            target: Some(target),
            before,
            after,
            command,
            line: self.line(),
        }
    }

    fn done(&self) -> bool {
        self.resuming.as_deref().is_some_and(|ev| {
            already_done(
                self.reg.as_ref(),
                &self.name,
                &self.step,
                ev,
                &self.serving,
                self.target_version,
            )
        })
    }

    fn awaits(&self) -> bool {
        matches!(
            self.step,
            PlanStep::AwaitServing { .. } | PlanStep::Command { awaits: true, .. }
        )
    }

    /// A model rollback is done only when serving converged on the target: a serving wait
    /// that fails leaves the event unfinished, and a re-run or `--resume` finishes it.
    fn unfinished_until_done(&self) -> bool {
        self.awaits()
    }

    /// Serving steps are checked in the world on a resume: the variable a `kubectl-set-env`
    /// reload set (someone may have set it back since), and the waits and HTTP reloads, which
    /// are asked again (harmless twice). A `kubectl rollout restart` or `helm upgrade` is not
    /// repeated once the journal shows it done: a second one is a second rollout.
    fn recheck_on_resume(&self) -> bool {
        match &self.step {
            PlanStep::Reload { .. } | PlanStep::AwaitServing { .. } => true,
            PlanStep::Command { awaits: true, .. } => true,
            PlanStep::Command { awaits: false, .. } => {
                self.serving.kind == crate::config::ServingKind::KubectlSetEnv
            }
            _ => false,
        }
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let reg = self.reg.as_ref();
        let name = self.name.as_str();
        let audit = Audit {
            event: event.to_string(),
            ..self.audit.clone()
        };
        let r: std::result::Result<String, String> = match &self.step {
            PlanStep::Stage { version, to, .. } => reg
                .transition_stage(name, *version, *to)
                .map(|_| format!("v{version} is now {to}"))
                .map_err(|e| e.to_string()),
            PlanStep::Alias { alias, version, .. } => reg
                .set_alias(name, alias, *version)
                .map(|_| format!("@{alias} → v{version}"))
                .map_err(|e| e.to_string()),
            PlanStep::Tags { version, role } => {
                let prior = match &self.prior_tags {
                    Some(t) => Ok(t.clone()),
                    None => reg.get_version(name, *version).map(|v| v.tags),
                };
                prior
                    .and_then(|prior| {
                        // The event id goes last, alone: it is what proves the step done on a
                        // resume (`already_done`), so it is written only once every other tag
                        // of the step landed (those go out at once, in any order).
                        let mut tags = audit.tags(role);
                        tags.retain(|(k, _)| k != tags::EVENT_ID);
                        tags.push((tags::HISTORY.into(), history(&prior, &audit, role)));
                        reg.set_version_tags(name, *version, &tags)?;
                        reg.set_version_tag(name, *version, tags::EVENT_ID, &audit.event)
                    })
                    .map(|_| format!("audit tags on v{version} (role {role})"))
                    .map_err(|e| e.to_string())
            }
            PlanStep::Reload { .. }
            | PlanStep::AwaitServing { .. }
            | PlanStep::Command { .. }
            | PlanStep::KservePatch { .. }
            | PlanStep::KserveAwait { .. } => {
                serving_step(&self.http, &self.serving, name, &self.step).map_err(|(_, e)| e)
            }
            PlanStep::Verify => Err("verification is the engine's last step".into()),
        };
        r.map_err(StepFailure::from)
    }
}

impl Kind for Model {
    fn subject(&self) -> Subject {
        Subject {
            command: "rollback model",
            target: self.target.registered_name.clone(),
            place: self.reg.location(),
        }
    }

    fn baseline(&self) -> Option<Baseline> {
        self.planned.borrow().as_ref().and_then(|(b, _)| b.clone())
    }

    fn take_known(&self) -> Option<crate::timeline::facts::Known> {
        let mut known = self.known.borrow_mut().take()?;
        known.after = self.verified.borrow_mut().take();
        Some(known)
    }

    fn journal_plan(&self) -> Option<(Vec<PlanStep>, LiveMode)> {
        self.planned
            .borrow()
            .as_ref()
            .map(|(_, p)| (plan::recorded(&p.steps), p.mode.clone()))
    }

    fn journal_records(&self) -> Vec<Entry> {
        self.schema_record.borrow().clone()
    }

    fn ending(&self, ending: crate::rollback::Ending) -> crate::rollback::Ending {
        // Serving not converged is unfinished too: its registry record stays, for every machine.
        self.failed.set(
            ending.status == ExitStatus::Failure || ending.outcome == crate::journal::NOT_CONVERGED,
        );
        ending
    }

    fn abandon(&self, event: &str) -> Result<bool> {
        let key = format!("{}{event}", tags::LEASE_PREFIX);
        let model = self.reg.get_model(&self.target.registered_name)?;
        if !model.tags.contains_key(&key) {
            return Ok(false);
        }
        self.reg
            .remove_lease_tag(&self.target.registered_name, &key)?;
        Ok(true)
    }

    fn unfinished_elsewhere(&self, req: &Request) -> Result<Option<(String, Vec<Entry>)>> {
        let name = &self.target.registered_name;
        let model = self.reg.get_model(name)?;
        let mut found = crate::lease::unfinished(&model);
        if found.is_empty() && req.force_unlock {
            // --force-unlock takes over the unfinished rollback itself, not just its lock.
            found = live_intents(&model);
        }
        found.sort_by_key(|u| u.tag.since);
        let Some(u) = found.into_iter().next() else {
            return Ok(None);
        };
        let Some(intent) = u.tag.intent.clone() else {
            return Ok(None);
        };
        let Ok(intent) = serde_json::from_value::<Intent>(intent) else {
            return Err(CliError::usage(format!(
                "the registry's record of rollback {} of `{name}` cannot be read; it cannot be resumed here",
                u.event
            ))
            .with_hint("resume it on the machine that started it, or check `mlrb status`")
            .into());
        };
        let lines: Vec<String> = intent.steps.iter().map(|s| s.describe(name)).collect();
        Ok(Some((
            u.event.clone(),
            vec![
                Entry::Started {
                    command: "rollback model".into(),
                    action: Some(crate::journal::RollbackCommand::RollbackModel),
                    target: Some(crate::journal::Target::Model {
                        name: name.clone(),
                        registry: self.reg.location(),
                    }),
                    model: self.target.key.clone(),
                    registered_name: name.clone(),
                    registry: self.reg.location(),
                    mode: intent.mode.to_string(),
                    from: intent.from.clone(),
                    to: intent.to,
                    to_reason: intent.to_reason.clone(),
                    reason: intent.reason.clone(),
                    triggered_by: u.tag.holder.clone(),
                    detected_at: None,
                    started_at: u.tag.since,
                },
                Entry::Plan {
                    steps: lines,
                    detail: intent.steps.clone(),
                    live_mode: Some(intent.mode.clone()),
                },
                Entry::Note {
                    text: format!(
                        "rollback {} was started by {} on {} and left unfinished ({}); resumed on {} from its record in the registry",
                        u.event,
                        u.tag.holder,
                        if u.tag.host.is_empty() {
                            "another machine"
                        } else {
                            u.tag.host.as_str()
                        },
                        u.why,
                        crate::lease::hostname()
                    ),
                },
            ],
        )))
    }

    fn plan(&self, ctx: &Ctx, req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        match resuming {
            Some(started) => self.plan_resume(ctx, req, started),
            None => self.plan_fresh(ctx, req),
        }
    }
}

impl Model {
    fn plan_fresh(&self, ctx: &Ctx, req: &Request) -> Result<Planned> {
        let reg = self.reg.as_ref();
        let name = self.target.registered_name.as_str();
        let to = self.to;
        // The versions and the model are read at once (two connections): the model is not
        // needed to list the versions, and each read is a round trip before the target is live.
        let (listed, model) = std::thread::scope(|s| {
            let model = s.spawn(|| reg.get_model(name));
            let listed = registry::all_versions(reg, name);
            (listed, model.join())
        });
        let model = model
            .map_err(|_| anyhow::anyhow!("reading the model panicked"))?
            .map_err(|e| crate::live::unknown_model(reg, name, e))?;
        let mut versions = listed.map_err(|e| crate::live::unknown_model(reg, name, e))?;
        // The model is in hand: the live mode is settled from it, not read a second time.
        let mut target = self.target.clone();
        crate::live::settle_with_model(&mut target, &mut versions, &model)?;
        // An unfinished rollback recorded in the registry (another machine's, or one that
        // failed) is finished, never planned over.
        if let Some(u) = crate::lease::unfinished(&model).first() {
            return Err(CliError::usage(format!(
                "rollback {} of `{name}` by {} on {} is unfinished: {}",
                u.event,
                u.tag.holder,
                if u.tag.host.is_empty() { "another machine" } else { u.tag.host.as_str() },
                u.why
            ))
            .with_hint(format!(
                "finish it from any machine: mlrb rollback model {} --resume (`mlrb status {}` shows it)",
                target.key, target.key
            ))
            .into());
        }
        // --force-unlock takes over a rollback in flight, its target and its event: planning
        // afresh over it would pick the version after its target.
        if req.force_unlock
            && let Some(u) = live_intents(&model).first()
        {
            return Err(CliError::new(
                ExitStatus::Refused,
                format!(
                    "rollback {} of `{name}` by {} on {} is in flight ({} → v{}); --force-unlock takes that rollback over rather than planning a new one; nothing was changed",
                    u.event,
                    u.tag.holder,
                    if u.tag.host.is_empty() { "another machine" } else { u.tag.host.as_str() },
                    u.tag.intent.as_ref().and_then(|i| i.get("from")).map(|f| f.to_string()).unwrap_or_default(),
                    u.tag.intent.as_ref().and_then(|i| i.get("to")).map(|t| t.to_string()).unwrap_or_default(),
                ),
            )
            .with_hint(format!(
                "if it is abandoned, finish it: mlrb rollback model {} --resume --force-unlock",
                target.key
            ))
            .into());
        }
        if let Some(n) = to
            && !versions.iter().any(|v| v.version == n)
        {
            let known: Vec<String> = versions
                .iter()
                .rev()
                .map(|v| v.version.to_string())
                .collect();
            return Err(CliError::usage(format!(
                "model `{name}` has no version {n} (versions: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
            .with_hint(format!("`mlrb status {}` lists them", target.key))
            .into());
        }
        let live: Vec<&ModelVersion> = registry::live_versions(&versions, &target.mode);
        if let Some(deleted) = crate::live::alias_names_deleted(&target) {
            return Err(CliError::usage(deleted)
                .with_hint(format!(
                    "point the alias at a good version in the registry (MLflow: set_registered_model_alias); `mlrb status {}` lists the versions",
                    target.key
                ))
                .into());
        }
        if target.mode == LiveMode::Stage && live.is_empty() {
            // Rolling back what is not live would report success while serving is unchanged.
            return Err(CliError::usage(format!(
                "nothing of `{name}` is live: no version is in Production and the model has no alias; there is nothing to roll back"
            ))
            .with_hint(format!(
                "if the model is served by an alias, name it with --alias NAME; `mlrb status {}` shows its versions",
                target.key
            ))
            .into());
        }
        if let (LiveMode::Alias(a), true) = (&target.mode, live.is_empty()) {
            // Moving an alias that does not exist would create one nobody serves from.
            let mut known: Vec<String> = versions
                .iter()
                .flat_map(|v| v.aliases.iter().map(|x| format!("@{x}")))
                .collect();
            known.sort();
            return Err(CliError::usage(format!(
                "model `{name}` has no alias @{a} (its aliases: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
            .with_hint(
                "check --alias or [models.*].alias; without it, live means the Production stage",
            )
            .into());
        }
        if let Some(done) = select::already_rolled_back(&live, to) {
            // The registry is done; a kubectl serving rollout that never became Ready is not,
            // and "nothing changed" would hide that the old version still serves.
            if let Err(why) = serving::converged(
                &target.serving,
                live[0].version,
                std::time::Duration::from_secs(30),
            ) {
                return Err(CliError::new(
                    ExitStatus::NotVerified,
                    format!(
                        "v{} of `{name}` is live in the registry, but serving has not converged on it: {why}",
                        live[0].version
                    ),
                )
                .with_hint("`kubectl rollout status` and `kubectl get pods` show why the rollout is not Ready; fix it, and a re-run says it is done")
                .into());
            }
            let mut view = serde_json::Map::new();
            view.insert("model".into(), name.into());
            view.insert("from".into(), serde_json::json!([]));
            view.insert("to".into(), live[0].version.into());
            view.insert("plan".into(), serde_json::json!([]));
            return Ok(Planned::Nothing {
                outcome: "already_live",
                message: done,
                view,
            });
        }
        if let (Some(n), [only]) = (to, live.as_slice())
            && only.version == n
        {
            return Err(CliError::usage(format!(
                "--to {n} is the live version of `{name}` ({}); rolling back to it changes nothing",
                target.mode
            ))
            .with_hint(format!(
                "`mlrb candidate {}` shows where a rollback would go",
                target.key
            ))
            .into());
        }
        let live_ids: Vec<u64> = live.iter().map(|v| v.version).collect();
        let chosen = match &self.fallback {
            Some((n, description)) => fallback_choice(
                &versions,
                &live_ids,
                *n,
                description.as_deref(),
                &target.key,
            ),
            None => select::choose_in_forced(&versions, &target.mode, to, self.force),
        };
        let choice = match chosen {
            Ok(c) => c,
            Err(reasons) => return Err(self.no_target(name, reasons, &versions)),
        };
        if let Err(why) = preflight(&choice.version) {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!(
                    "pre-flight failed for v{} of `{name}`: {why}; nothing was changed",
                    choice.version.version
                ),
            )
            .with_hint(format!(
                "pick another target with --to V (`mlrb candidate {}` shows the choice)",
                target.key
            ))
            .into());
        }
        serving_preflight(&target.serving)?;
        let schema = live
            .iter()
            .map(|v| v.version)
            .max()
            .map(|l| crate::signature::check(reg, name, choice.version.version, l));
        if let Some(crate::signature::Check::Compared(c)) = &schema
            && c.blocks()
            && !self.force
        {
            return Err(CliError::new(
                ExitStatus::NoTarget,
                format!(
                    "pre-flight failed for v{} of `{name}`: feature schema: {}; nothing was changed",
                    choice.version.version,
                    c.summary()
                ),
            )
            .with_hint(format!(
                "roll the feature pipeline back with it (`mlrb rollback features {}`), pick another target with --to V, or, if the serving layer supplies those inputs, go ahead with --force",
                target.key
            ))
            .into());
        }
        let mut plan = plan::model_rollback(
            &target.key,
            name,
            &target.mode,
            &versions,
            &choice.version,
            &target.serving,
        );
        if target.serving.kind == crate::config::ServingKind::Kserve {
            let steps = kserve_steps(reg, name, &target.serving, choice.version.version)?;
            let at = plan.steps.len().saturating_sub(1);
            plan.steps.splice(at..at, steps);
        }
        let mut text = format!(
            "Rollback plan for {name} ({}, {}): {} → v{}\n  target: {}\n",
            reg.location(),
            target.mode,
            fmt_versions(&plan.from),
            plan.to,
            choice.why
        );
        if let Some(note) = &target.mode_note {
            text.push_str(&format!("  live: {note}\n"));
        }
        // A breach cannot begin before the model had a version: the time was mistyped (a day
        // off, a duration too long), and the detection phase would be wrong in every report.
        // When the registry's clock puts the first version after this machine's now, the two
        // clocks disagree and the comparison means nothing: said, not refused.
        if let (Some(t), Some(first)) = (
            req.detected_at,
            versions.iter().filter_map(|v| v.created_at).min(),
        ) && t < first
        {
            if first <= clock::now() {
                return Err(CliError::usage(format!(
                    "--detected-at {} is before `{name}` had any version (its first was registered at {}); nothing was changed",
                    clock::fmt(t),
                    clock::fmt(first)
                ))
                .with_hint(
                    "give the time the breach began (e.g. `--detected-at 15m` for 15 minutes ago, or `--detected-at 22:04` in local time)",
                )
                .into());
            }
            text.push_str(&format!(
                "  ! the registry says `{name}`'s first version was registered at {}, after this machine's clock ({}); --detected-at {} is taken as given\n",
                clock::fmt(first),
                clock::fmt(clock::now()),
                clock::fmt(t)
            ));
        }
        if let Some(by) = &choice.overrides {
            text.push_str(&format!(
                "  ! v{} was rolled back from by {by}; --force goes back to it anyway\n",
                choice.version.version
            ));
        }
        if live.len() > 1 {
            text.push_str(&format!(
                "  ! {} versions are live ({}); all but the target will be archived\n",
                live.len(),
                fmt_versions(&live_ids)
            ));
        }
        let mut record = Vec::new();
        match &schema {
            Some(crate::signature::Check::Compared(c)) if c.blocks() => {
                let n = format!("feature schema: {}; --force goes ahead anyway", c.summary());
                text.push_str(&format!("  ! {n}\n"));
                record.push(n);
            }
            Some(crate::signature::Check::Compared(c)) => {
                text.push_str(&format!("  schema: {}\n", c.summary()));
                record.push(format!("feature schema checked: {}", c.summary()));
            }
            Some(crate::signature::Check::NotCompared(why)) => {
                let n = format!("feature schema: {why}");
                text.push_str(&format!("  ! {n}\n"));
                record.push(n);
            }
            None => {}
        }
        // Journaled with the event's header (never a warning on stderr, which stays for what
        // goes wrong): the report states what the gate found.
        *self.schema_record.borrow_mut() = record
            .into_iter()
            .map(|text| Entry::Note { text })
            .collect();
        text.push_str(&plan.render());
        // Metrics never block a rollback: without a baseline it goes on, judged on hard
        // thresholds only.
        let baseline = match ModelMetrics::for_model(ctx.settings.models.get(&target.key)) {
            Ok(Some(mm)) => mm
                .baseline(reg, Some(&choice.version), live.first().copied())
                .map_err(|e| {
                    ctx.printer.warn(&format!(
                        "no metrics baseline ({e:#}); the rollback goes on, judged on hard thresholds only"
                    ))
                })
                .ok(),
            _ => None,
        };
        // The lease is taken after the confirmation (which may take minutes at a prompt), so
        // the model as read back must still be as planned.
        let planned_live = match &target.mode {
            LiveMode::Stage => registry::latest_by_stage(&versions)
                .get(&Stage::Production)
                .copied(),
            LiveMode::Alias(_) => live.first().map(|v| v.version),
        };
        let audit = Audit {
            event: String::new(),
            timestamp: clock::fmt(req.started_at),
            triggered_by: req.who.clone(),
            reason: crate::rollback::request::tag_reason(&req.reason),
        };
        let question = match &choice.overrides {
            Some(by) => format!(
                "Roll back {name} to v{}, which {by} rolled back from?",
                plan.to
            ),
            None => format!("Roll back {name} to v{}?", plan.to),
        };
        let out = self.engine_plan(
            ctx,
            req,
            &target,
            plan.clone(),
            audit,
            None,
            text,
            question,
            planned_live,
            versions
                .iter()
                .map(|v| (v.version, v.tags.clone()))
                .collect(),
        );
        let mut out = out;
        if let Planned::Plan(p) = &mut out {
            p.view.insert(
                "schema".into(),
                match &schema {
                    Some(crate::signature::Check::Compared(c)) => serde_json::json!({
                        "compared": true,
                        "blocks": c.blocks(),
                        "summary": c.summary(),
                        "detail": c,
                    }),
                    Some(crate::signature::Check::NotCompared(why)) => {
                        serde_json::json!({"compared": false, "summary": why})
                    }
                    None => serde_json::Value::Null,
                },
            );
        }
        *self.planned.borrow_mut() = Some((baseline, plan));
        *self.known.borrow_mut() = Some(crate::timeline::facts::Known {
            reg: self.reg.clone(),
            target,
            versions,
            after: None,
        });
        Ok(out)
    }

    fn plan_resume(&self, ctx: &Ctx, req: &Request, started: &Record) -> Result<Planned> {
        let event = started.event.as_str();
        let records = crate::rollback::engine::read_journal(ctx)?;
        let mine: Vec<&Record> = records.iter().filter(|r| r.event == event).collect();
        let head = match &started.entry {
            Entry::Started {
                from,
                to,
                reason,
                triggered_by,
                started_at,
                ..
            } => Some((
                from.clone(),
                *to,
                reason.clone(),
                triggered_by.clone(),
                *started_at,
            )),
            _ => None,
        };
        let planned = mine.iter().find_map(|r| match &r.entry {
            Entry::Plan {
                detail, live_mode, ..
            } if !detail.is_empty() => Some((detail.clone(), live_mode.clone())),
            _ => None,
        });
        let (Some((from, to, reason, who, started_at)), Some((steps, mode))) = (head, planned)
        else {
            return Err(CliError::usage(format!(
                "the journal does not hold the plan of {event}; it cannot be resumed"
            ))
            .with_hint(format!(
                "check `mlrb status {}` and roll back with --to V",
                self.target.key
            ))
            .into());
        };
        let mut plan = plan::Plan {
            model: self.target.key.clone(),
            registered_name: self.target.registered_name.clone(),
            mode: mode.unwrap_or_else(|| self.target.mode.clone()),
            from,
            to,
            steps,
        };
        check_journaled_serving(&self.target, &plan, event)?;
        plan.steps = plan::with_configured_urls(plan.steps, &self.target.serving);
        // A journaled artifact location is patched into the InferenceService only if the
        // registry still resolves the target to it.
        for s in &plan.steps {
            if let PlanStep::KservePatch {
                storage_uri,
                version,
                ..
            } = s
                && self
                    .reg
                    .download_uri(&plan.registered_name, *version)
                    .ok()
                    .as_deref()
                    != Some(storage_uri.as_str())
            {
                return Err(CliError::usage(format!(
                    "cannot resume {event}: the journal points the InferenceService at {}, which is not where the registry keeps v{version}; nothing was changed",
                    crate::config::redact_str(storage_uri)
                ))
                .into());
            }
        }
        // The plan's premises: nothing but what it goes from and to may be live now. A version
        // made live since (a new deploy) means the plan is stale: finishing it would leave two
        // live versions.
        let (now_target, versions) = load_versions(self.reg.as_ref(), &self.target)?;
        let mut now_live: Vec<u64> = registry::live_versions(&versions, &plan.mode)
            .iter()
            .map(|v| v.version)
            .collect();
        let _ = now_target;
        now_live.retain(|v| *v != plan.to && !plan.from.contains(v));
        if !now_live.is_empty() {
            return Err(CliError::new(
                ExitStatus::Refused,
                format!(
                    "the registry changed since rollback {event} was planned: {} is live now, which the plan ({} → v{}) did not make; nothing was changed",
                    fmt_versions(&now_live),
                    fmt_versions(&plan.from),
                    plan.to
                ),
            )
            .with_hint(format!(
                "`mlrb status {}` shows the state; if the new version is wanted, the interrupted rollback is obsolete — roll back afresh only after checking",
                self.target.key
            ))
            .into());
        }
        let finished: std::collections::BTreeSet<usize> = mine
            .iter()
            .filter_map(|r| match r.entry {
                Entry::StepFinished {
                    index, ok: true, ..
                } => Some(index),
                _ => None,
            })
            .collect();
        let mut text = format!(
            "Interrupted rollback {event} of {} ({}): {} → v{}\n",
            plan.registered_name,
            self.reg.location(),
            fmt_versions(&plan.from),
            plan.to
        );
        for (i, line) in plan.lines().iter().enumerate() {
            let mark = if finished.contains(&i) {
                "done per journal"
            } else {
                "to check and run"
            };
            text.push_str(&format!("  {:>2}. [{mark}] {line}\n", i + 1));
        }
        // A resumed rollback is verified like any other, against the baseline of its target.
        let baseline = ModelMetrics::for_model(ctx.settings.models.get(&self.target.key))
            .ok()
            .flatten()
            .and_then(|mm| {
                let v = self.reg.get_version(&plan.registered_name, plan.to).ok();
                mm.baseline(self.reg.as_ref(), v.as_ref(), None).ok()
            });
        let audit = Audit {
            event: String::new(),
            timestamp: clock::fmt(started_at),
            triggered_by: who,
            reason: crate::rollback::request::tag_reason(&reason),
        };
        let question = format!("Resume rollback {event}?");
        let out = self.engine_plan(
            ctx,
            req,
            &self.target,
            plan.clone(),
            audit,
            Some(event.to_string()),
            text,
            question,
            None,
            Default::default(),
        );
        *self.planned.borrow_mut() = Some((baseline, plan));
        Ok(out)
    }

    /// The engine's plan from the model's: steps over the shared registry, the lease as the
    /// claim (checking the live version is still `planned_live` unless resuming), the registry
    /// re-read as the verification.
    #[allow(clippy::too_many_arguments)]
    fn engine_plan(
        &self,
        _ctx: &Ctx,
        req: &Request,
        target: &ModelTarget,
        plan: plan::Plan,
        audit: Audit,
        resuming: Option<String>,
        text: String,
        question: String,
        planned_live: Option<u64>,
        prior: std::collections::BTreeMap<u64, std::collections::BTreeMap<String, String>>,
    ) -> Planned {
        let name = plan.registered_name.clone();
        let http = Rc::new(OnceCell::new());
        let steps: Vec<Box<dyn Step>> = plan
            .steps
            .iter()
            .filter(|s| !matches!(s, PlanStep::Verify))
            .map(|s| {
                Box::new(ModelStep {
                    step: s.clone(),
                    reg: self.reg.clone(),
                    name: name.clone(),
                    audit: audit.clone(),
                    serving: target.serving.clone(),
                    http: http.clone(),
                    resuming: resuming.clone(),
                    prior_tags: match s {
                        PlanStep::Tags { version, .. } => prior.get(version).cloned(),
                        _ => None,
                    },
                    target_version: plan.to,
                }) as Box<dyn Step>
            })
            .collect();
        // The claim knows the event; the verification needs it too.
        let event_cell: Rc<RefCell<String>> =
            Rc::new(RefCell::new(resuming.clone().unwrap_or_default()));
        let claim_event = event_cell.clone();
        let (reg_c, name_c, who, force, mode_c) = (
            self.reg.clone(),
            name.clone(),
            req.who.clone(),
            req.force_unlock,
            target.mode.clone(),
        );
        let is_resume = resuming.is_some();
        let intent = serde_json::to_value(Intent {
            from: plan.from.clone(),
            to: plan.to,
            mode: plan.mode.clone(),
            steps: plan::recorded(&plan.steps),
            reason: audit.reason.clone(),
            to_reason: text
                .lines()
                .nth(1)
                .and_then(|l| l.trim().strip_prefix("target: "))
                .unwrap_or("")
                .to_string(),
        })
        .ok()
        // MLflow keeps 5 000 characters of a tag; a longer plan stays in the journal only.
        .filter(|v| v.to_string().len() < 4000);
        let failed = self.failed.clone();
        let claim: crate::rollback::Claim = Box::new(move |event: &str| {
            *claim_event.borrow_mut() = event.to_string();
            let mode = mode_c.clone();
            let lease = crate::lease::acquire_with_intent(
                reg_c.clone(),
                &name_c,
                &who,
                event,
                force,
                intent.clone(),
                |m| {
                    if is_resume {
                        return Ok(());
                    }
                    let now_live = match &mode {
                        LiveMode::Stage => m.latest.get(&Stage::Production).copied(),
                        LiveMode::Alias(a) => m.aliases.get(a).copied(),
                    };
                    if now_live == planned_live {
                        Ok(())
                    } else {
                        Err(format!(
                            "the newest live version was {}, now {}",
                            planned_live
                                .map(|v| format!("v{v}"))
                                .unwrap_or("none".into()),
                            now_live.map(|v| format!("v{v}")).unwrap_or("none".into())
                        ))
                    }
                },
            )?;
            Ok(Box::new(Inflight {
                lease,
                failed: failed.clone(),
            }) as Box<dyn std::any::Any>)
        });
        let (reg_v, name_v, mode_v, from_v, to, seen) = (
            self.reg.clone(),
            name.clone(),
            plan.mode.clone(),
            plan.from.clone(),
            plan.to,
            self.verified.clone(),
        );
        let verify = Box::new(move || {
            let event = event_cell.borrow().clone();
            verify(reg_v.as_ref(), &name_v, &mode_v, &from_v, to, &event, &seen)
        });
        let writes: Vec<(bool, String)> = plan
            .steps
            .iter()
            .filter(|s| !matches!(s, PlanStep::Verify))
            .map(|s| (s.is_registry_write(), s.describe(&name)))
            .collect();
        let mut view = serde_json::Map::new();
        view.insert("model".into(), name.clone().into());
        view.insert("from".into(), serde_json::json!(plan.from));
        view.insert("to".into(), plan.to.into());
        Planned::Plan(Box::new(Plan {
            mode: target.mode.to_string(),
            from: plan.from.clone(),
            to: plan.to,
            to_reason: text
                .lines()
                .nth(1)
                .and_then(|l| l.trim().strip_prefix("target: "))
                .unwrap_or("")
                .to_string(),
            summary: (String::new(), String::new()),
            text,
            question,
            steps,
            verify_line: PlanStep::Verify.describe(&name),
            verify,
            notes: Vec::new(),
            view,
            done_message: format!(
                "rolled back {name}: {} → v{}",
                fmt_versions(&plan.from),
                plan.to
            ),
            failure_hint: format!(
                "`mlrb status {}` shows what was done; `mlrb rollback model {} --resume` finishes it",
                target.key, target.key
            ),
            on_failure: Some(Box::new(move |i| {
                let done: Vec<&str> = writes[..i].iter().map(|(_, l)| l.as_str()).collect();
                if writes[..i].iter().any(|(w, _)| *w) {
                    format!(". Done before it: {}", done.join("; "))
                } else {
                    ". Nothing was changed in the registry".into()
                }
            })),
            claim: Some(claim),
        }))
    }

    /// No safe target: the fallback when one is configured, else the reference's advice.
    fn no_target(
        &self,
        name: &str,
        reasons: Vec<String>,
        versions: &[ModelVersion],
    ) -> anyhow::Error {
        use crate::config::Fallback;
        let key = &self.target.key;
        // `--to V` refused: the hint is about V, never "--to V" again.
        let named = self
            .to
            .filter(|_| self.fallback.is_none())
            .and_then(|n| versions.iter().find(|v| v.version == n));
        if let Some(v) = named {
            let hint = if v.was_rolled_back_from() && !self.force {
                format!(
                    "if v{n} is good after all, go back to it anyway: mlrb rollback model {key} --to {n} --force (the plan names {by}); `mlrb candidate {key}` shows the automatic choice",
                    n = v.version,
                    by = select::rolled_back_by(v)
                )
            } else {
                format!("`mlrb candidate {key}` shows the version a rollback would go to instead")
            };
            return CliError::new(
                ExitStatus::NoTarget,
                format!("no rollback target for `{name}`: {}", reasons.join("; ")),
            )
            .with_hint(hint)
            .into();
        }
        let hint = match self
            .target
            .fallback
            .as_ref()
            .map(|f| (&f.fallback, f.description.as_deref()))
        {
            Some((Fallback::Version(n), _)) if self.fallback.is_none() => format!(
                "activate the pre-built fallback v{n}: mlrb rollback model {key} --fallback"
            ),
            Some((Fallback::Switch(sw), d)) => format!(
                "switch to the pre-built fallback{} ({} in the serving layer): mlrb rollback model {key} --fallback",
                d.map(|d| format!(", {d}")).unwrap_or_default(),
                sw.kind.as_str(),
            ),
            _ => NO_TARGET_ADVICE.to_string(),
        };
        CliError::new(
            ExitStatus::NoTarget,
            format!("no rollback target for `{name}`: {}", reasons.join("; ")),
        )
        .with_hint(hint)
        .into()
    }
}

/// Whether the registry (or the serving Deployment) already shows `step` done by this event (a
/// resumed rollback skips it).
fn already_done(
    reg: &dyn Registry,
    name: &str,
    step: &PlanStep,
    event: &str,
    serving: &crate::config::ServingConfig,
    to: u64,
) -> bool {
    match step {
        PlanStep::Stage { version, to, .. } => reg
            .get_version(name, *version)
            .is_ok_and(|v| v.stage == *to),
        PlanStep::Alias { alias, version, .. } => reg
            .get_model(name)
            .is_ok_and(|m| m.aliases.get(alias) == Some(version)),
        // The step writes the event id last, once every other tag of it landed.
        PlanStep::Tags { version, role } => reg.get_version(name, *version).is_ok_and(|v| {
            v.tag(tags::EVENT_ID) == Some(event) && v.tag(tags::ROLE) == Some(role.as_str())
        }),
        // The variable a `kubectl-set-env` reload sets, read on the Deployment.
        PlanStep::Command { awaits: false, .. }
            if serving.kind == crate::config::ServingKind::KubectlSetEnv =>
        {
            serving::env_set_to(serving, to)
        }
        // Other serving requests are repeated (asking twice is harmless); waits and the
        // verification always run.
        _ => false,
    }
}

/// The configured fallback as the target. It was built and tested for exactly this moment and
/// may have been rolled back from before (it is not the model meant to shine), so only liveness
/// and READY are checked.
fn fallback_choice(
    versions: &[ModelVersion],
    live: &[u64],
    n: u64,
    description: Option<&str>,
    key: &str,
) -> std::result::Result<select::Choice, Vec<String>> {
    let v = versions
        .iter()
        .find(|v| v.version == n)
        .ok_or_else(|| vec![format!("the fallback v{n} is not in the registry")])?;
    if live.contains(&n) {
        return Err(vec![format!("the fallback v{n} is already live")]);
    }
    if v.status != "READY" {
        return Err(vec![format!(
            "the fallback v{n} is {} in the registry",
            v.status
        )]);
    }
    Ok(select::Choice {
        version: v.clone(),
        rule: select::Rule::Explicit,
        why: format!(
            "v{n} is the pre-built fallback{} ([models.{key}.fallback])",
            description.map(|d| format!(", {d}")).unwrap_or_default()
        ),
        skipped: Vec::new(),
        overrides: None,
    })
}

/// Before any change: the target must be READY in the registry and its artifact must exist
/// where mlrb can check (a local path or `file://`); remote sources are left to the server.
pub(crate) fn preflight(v: &ModelVersion) -> std::result::Result<(), String> {
    if !v.status.eq_ignore_ascii_case("READY") {
        return Err(format!("its registry status is {}, not READY", v.status));
    }
    let local = v
        .source
        .strip_prefix("file://")
        .or_else(|| v.source.strip_prefix("file:"))
        .or_else(|| (v.source.starts_with('/')).then_some(v.source.as_str()));
    if let Some(path) = local
        && !std::path::Path::new(path).exists()
    {
        return Err(format!("its artifact source {} does not exist", v.source));
    }
    Ok(())
}

/// Before any change: a `kubectl-set-env` reload's Deployment exists and the container it sets
/// the variable on is the model server's (`plan::serving_container`).
pub(crate) fn serving_preflight(serving: &crate::config::ServingConfig) -> Result<()> {
    if serving.kind != crate::config::ServingKind::KubectlSetEnv {
        return Ok(());
    }
    let k = crate::exec::kubectl::Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    };
    let name = serving.deployment.as_deref().unwrap_or_default();
    let shown = format!("deployment/{name}");
    let dep = k
        .get_json("deployment", name)
        .map_err(|e| serving_read_error(&e, &shown))?;
    plan::serving_container(serving, &dep).map_err(|why| {
        CliError::usage(format!("{why}; nothing was changed"))
            .with_hint("`kubectl get deployment NAME -o jsonpath='{.spec.template.spec.containers[*].name}'` lists them")
    })?;
    Ok(())
}

/// What a rollback is about to do, in its lease, for every machine.
#[derive(serde::Serialize, serde::Deserialize)]
struct Intent {
    from: Vec<u64>,
    to: u64,
    mode: LiveMode,
    steps: Vec<PlanStep>,
    reason: String,
    #[serde(default)]
    to_reason: String,
}

/// Live leases that carry an intent (rollbacks under way, or whose holder cannot be proven
/// gone): what `--force-unlock` takes over.
fn live_intents(model: &registry::RegisteredModel) -> Vec<crate::lease::Unfinished> {
    model
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with(tags::LEASE_PREFIX))
        .filter_map(|(k, v)| {
            let tag: crate::lease::LeaseTag = serde_json::from_str(v).ok()?;
            (tag.intent.is_some() && tag.released.is_none()).then(|| crate::lease::Unfinished {
                event: k[tags::LEASE_PREFIX.len()..].to_string(),
                tag,
                why: "taken over with --force-unlock".into(),
            })
        })
        .collect()
}

/// The audit tags' shared values.
#[derive(Clone)]
struct Audit {
    event: String,
    timestamp: String,
    triggered_by: String,
    reason: String,
}

impl Audit {
    fn tags(&self, role: &str) -> Vec<(String, String)> {
        vec![
            (tags::EVENT_ID.into(), self.event.clone()),
            (tags::TIMESTAMP.into(), self.timestamp.clone()),
            (tags::TRIGGERED_BY.into(), self.triggered_by.clone()),
            (tags::REASON.into(), self.reason.clone()),
            (tags::ROLE.into(), role.to_string()),
        ]
    }
}

/// The version's `rollback.history` with this event appended. The five reference tags are
/// overwritten by each event; the history keeps every event's record, the one the tags
/// describe before this event included even when it predates the history. It is kept under
/// MLflow's 5 000 characters of a tag value by dropping the oldest entries (and saying how many).
fn history(
    prior: &std::collections::BTreeMap<String, String>,
    audit: &Audit,
    role: &str,
) -> String {
    use serde_json::{Value, json};
    let mut entries: Vec<Value> = prior
        .get(tags::HISTORY)
        .and_then(|h| serde_json::from_str::<Vec<Value>>(h).ok())
        .unwrap_or_default();
    if let Some(ev) = prior.get(tags::EVENT_ID)
        && ev != &audit.event
        && !entries.iter().any(|e| e["event"] == ev.as_str())
    {
        entries.push(json!({
            "event": ev,
            "role": prior.get(tags::ROLE),
            "timestamp": prior.get(tags::TIMESTAMP),
            "triggered_by": prior.get(tags::TRIGGERED_BY),
        }));
    }
    if !entries
        .iter()
        .any(|e| e["event"] == audit.event.as_str() && e["role"] == role)
    {
        entries.push(json!({
            "event": audit.event,
            "role": role,
            "timestamp": audit.timestamp,
            "triggered_by": audit.triggered_by,
        }));
    }
    let mut dropped = 0;
    loop {
        let text = serde_json::to_string(&entries).unwrap_or_default();
        if text.len() <= 4500 || entries.len() <= 1 {
            return text;
        }
        entries.remove(0);
        dropped += 1;
        if let Some(first) = entries.first_mut() {
            first["earlier_events_dropped"] = json!(dropped);
        }
    }
}

fn fmt_versions(vs: &[u64]) -> String {
    if vs.is_empty() {
        return "(none live)".into();
    }
    vs.iter()
        .map(|v| format!("v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A serving object pre-flight could not read, before anything changed: one that is not there
/// is a configuration error (exit 2), anything else a failure.
fn serving_read_error(e: &crate::exec::ExecError, shown: &str) -> CliError {
    let (msg, hint) = crate::exec::kubectl::explain_in(e, shown, "serving");
    let status = if e.stderr().contains("NotFound") || e.stderr().contains("not found") {
        ExitStatus::Usage
    } else {
        ExitStatus::Failure
    };
    let err = CliError::new(status, format!("[serving] {msg}; nothing was changed"));
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// A resumed plan runs only the serving steps the current config makes: the journal is a file,
/// and a forged entry must not choose a command (`sh -c …`) or a URL.
fn check_journaled_serving(target: &ModelTarget, plan: &plan::Plan, event: &str) -> Result<()> {
    plan::check_resumed_serving(&plan.steps, &target.serving, plan.to).map_err(|e| {
        CliError::usage(format!("cannot resume {event}: {e}; nothing was changed"))
            .with_hint(format!(
                "if the config changed on purpose, check `mlrb status {}` and roll back afresh with --to V; if not, the journal in the state directory was tampered with",
                target.key
            ))
            .into()
    })
}

/// Runs one of a plan's serving steps (reload, wait for the version, kubectl/helm command).
pub(crate) fn serving_step(
    http: &std::cell::OnceCell<std::result::Result<crate::http::Http, String>>,
    serving_cfg: &crate::config::ServingConfig,
    name: &str,
    step: &PlanStep,
) -> std::result::Result<String, (ExitStatus, String)> {
    match step {
        PlanStep::Reload { url, version } => http
            .get_or_init(serving::client)
            .as_ref()
            .map_err(|e| (ExitStatus::Failure, e.clone()))
            .and_then(|h| {
                serving::reload(h, url, name, *version).map_err(|e| (ExitStatus::Failure, e))
            }),
        PlanStep::AwaitServing {
            url,
            version,
            timeout,
        } => http
            .get_or_init(serving::client)
            .as_ref()
            .map_err(|e| (ExitStatus::Failure, e.clone()))
            .and_then(|h| {
                let pointer = serving_cfg.version_pointer.as_deref().unwrap_or("/version");
                serving::await_version(h, url, pointer, *version, *timeout)
                    .map_err(|e| (ExitStatus::NotVerified, e))
            }),
        PlanStep::Command {
            argv,
            timeout,
            awaits,
        } => crate::exec::Cmd::from_argv(argv, *timeout)
            .run()
            .map(|o| {
                let t = crate::exec::runner::tail(&o.stdout, 2, 300);
                if t.is_empty() { argv.join(" ") } else { t }
            })
            .map_err(|e| {
                let (msg, hint) =
                    crate::exec::kubectl::explain_in(&e, "the serving deployment", "serving");
                let status = if *awaits {
                    ExitStatus::NotVerified
                } else {
                    ExitStatus::Failure
                };
                (
                    status,
                    match hint {
                        Some(h) => format!("{msg} (next: {h})"),
                        None => msg,
                    },
                )
            })
            .and_then(|done| {
                if *awaits {
                    scaled_to_zero(serving_cfg)
                        .map_or(Ok(done), |why| Err((ExitStatus::NotVerified, why)))
                } else {
                    Ok(done)
                }
            }),
        PlanStep::KservePatch {
            inference_service,
            namespace,
            context,
            field,
            storage_uri,
            ..
        } => {
            let k = crate::exec::kubectl::Kubectl {
                context: context.clone(),
                namespace: Some(namespace.clone()),
            };
            let patch = serving::kserve_patch(field, storage_uri).to_string();
            k.cmd([
                "patch",
                serving::ISVC,
                inference_service.as_str(),
                "--type=merge",
                "-p",
                patch.as_str(),
            ])
            .timeout(std::time::Duration::from_secs(60))
            .run()
            .map(|_| {
                format!(
                    "inferenceservice/{inference_service}: {} = {}",
                    field.trim_start_matches('/').replace('/', "."),
                    crate::config::redact_str(storage_uri)
                )
            })
            .map_err(|e| {
                let shown = format!("inferenceservice/{inference_service}");
                let (msg, hint) = crate::exec::kubectl::explain_in(&e, &shown, "serving");
                (
                    ExitStatus::Failure,
                    match hint {
                        Some(h) => format!("{msg} (next: {h})"),
                        None => msg,
                    },
                )
            })
        }
        PlanStep::KserveAwait {
            inference_service,
            namespace,
            context,
            previous,
            timeout,
            ..
        } => {
            let k = crate::exec::kubectl::Kubectl {
                context: context.clone(),
                namespace: Some(namespace.clone()),
            };
            serving::kserve_await(&k, inference_service, previous.as_deref(), *timeout)
                .map_err(|e| (ExitStatus::Failure, e))
        }
        _ => Err((
            ExitStatus::Failure,
            format!("not a serving step: {}", step.describe(name)),
        )),
    }
}

/// A KServe serving section's steps for a rollback to `version`: the artifact location the
/// registry resolves (`models:/`, `runs:/` sources included), the InferenceService read for
/// where its predictor keeps `storageUri` and which revision serves now.
fn kserve_steps(
    reg: &dyn Registry,
    name: &str,
    serving: &crate::config::ServingConfig,
    version: u64,
) -> Result<Vec<PlanStep>> {
    let isvc_name = serving.inference_service.clone().unwrap_or_default();
    let namespace = serving.namespace.clone().unwrap_or_default();
    let uri = reg.download_uri(name, version).map_err(|e| {
        CliError::new(
            ExitStatus::Failure,
            format!(
                "cannot resolve where the artifact of v{version} lives: {e}; nothing was changed"
            ),
        )
    })?;
    let k = serving::kserve_kubectl(serving);
    let shown = format!("inferenceservice/{isvc_name} (namespace {namespace})");
    let isvc = k
        .get_json(serving::ISVC, &isvc_name)
        .map_err(|e| serving_read_error(&e, &shown))?;
    let field = serving::storage_uri_field(&isvc).map_err(|why| {
        CliError::usage(format!(
            "[serving] {shown} cannot be pointed at an artifact: {why}; nothing was changed"
        ))
    })?;
    // Already pointing there: no new revision will come; the wait is for it to be Ready.
    let previous = (isvc.pointer(&field).and_then(serde_json::Value::as_str) != Some(uri.as_str()))
        .then(|| {
            isvc["status"]["components"]["predictor"]["latestReadyRevision"]
                .as_str()
                .map(str::to_string)
        })
        .flatten();
    Ok(vec![
        PlanStep::KservePatch {
            inference_service: isvc_name.clone(),
            namespace: namespace.clone(),
            context: serving.context.clone(),
            field,
            storage_uri: uri,
            version,
        },
        PlanStep::KserveAwait {
            inference_service: isvc_name,
            namespace,
            context: serving.context.clone(),
            previous,
            version,
            timeout: serving
                .timeout
                .unwrap_or(std::time::Duration::from_secs(300)),
        },
    ])
}

/// A kubectl serving Deployment at 0 replicas: `rollout status` says it rolled out, and
/// nothing serves. Why it does not count as served, if so (a failed read says nothing).
fn scaled_to_zero(serving: &crate::config::ServingConfig) -> Option<String> {
    use crate::config::ServingKind;
    if !matches!(
        serving.kind,
        ServingKind::KubectlRestart | ServingKind::KubectlSetEnv
    ) {
        return None;
    }
    let name = serving.deployment.as_deref()?;
    let k = crate::exec::kubectl::Kubectl {
        context: serving.context.clone(),
        namespace: serving.namespace.clone(),
    };
    let dep = k.get_json("deployment", name).ok()?;
    (dep["spec"]["replicas"].as_u64() == Some(0)).then(|| {
        format!(
            "deployment/{name} is scaled to 0 replicas: its rollout is complete but nothing serves the model (`kubectl scale deployment/{name} --replicas=N`)"
        )
    })
}

/// Re-reads what the rollback changed, not the model's whole history: the target must be the
/// only live version and carry this event's tags.
///
/// Stage mode reads every version from the oldest the rollback touched (the target or a version
/// it took out of Production) upward, stages and tags in one request: 51 versions for a rollback
/// from v10000 to v9950, where the model has 10 000. That proves the versions it changed are
/// where the plan put them and that nothing newer went live meanwhile. The older versions are
/// not read again, and need not be: the plan read every version and `from` holds every one
/// that was in Production then, so an older one is live now only if something other than mlrb
/// (whose rivals the lease keeps out) put it there during the rollback's seconds; and even then
/// it is not what serves, since `models:/NAME/Production` resolves to the newest version in the
/// stage (the registered model's `latest_versions`), which this read shows is the target.
/// `latest_versions` alone would not do: it shows neither the target's tags nor a version the
/// rollback archived that is older than the target (a roll forward with `--to`).
/// Alias mode reads the alias (one version by definition) and the target. What stage mode read
/// goes to `seen`: the event's close states those versions' places without reading them again.
fn verify(
    reg: &dyn Registry,
    name: &str,
    mode: &LiveMode,
    from: &[u64],
    to: u64,
    event: &str,
    seen: &RefCell<Option<Vec<ModelVersion>>>,
) -> std::result::Result<String, String> {
    let reread = |e: registry::RegistryError| format!("cannot re-read the registry: {e}");
    let (live, target) = match mode {
        LiveMode::Stage => {
            let oldest = from.iter().copied().fold(to, u64::min);
            let versions = reg.versions_from(name, oldest).map_err(reread)?;
            let live: Vec<u64> = registry::live_versions(&versions, mode)
                .iter()
                .map(|v| v.version)
                .collect();
            let target = versions.iter().find(|v| v.version == to).cloned();
            *seen.borrow_mut() = Some(versions);
            (live, target)
        }
        LiveMode::Alias(a) => {
            let m = reg.get_model(name).map_err(reread)?;
            let live: Vec<u64> = m.aliases.get(a).copied().into_iter().collect();
            let target = match reg.get_version(name, to) {
                Ok(v) => Some(v),
                Err(registry::RegistryError::NotFound { .. }) => None,
                Err(e) => return Err(reread(e)),
            };
            (live, target)
        }
    };
    if live != [to] {
        return Err(format!(
            "registry shows live {} after the rollback, expected v{to}",
            fmt_versions(&live)
        ));
    }
    let target = target.ok_or("target vanished")?;
    if target.tag(tags::EVENT_ID) != Some(event) {
        return Err(format!("v{to} does not carry {}={event}", tags::EVENT_ID));
    }
    if let LiveMode::Stage = mode
        && target.stage != Stage::Production
    {
        return Err(format!("v{to} is {} not Production", target.stage));
    }
    Ok(format!("v{to} is the only live version"))
}
