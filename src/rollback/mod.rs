//! The rollback engine: the one flow every kind of rollback runs through (unfinished-rollback
//! guard, lock, plan, dry run, confirmation, write-ahead journal, step loop, verification, close,
//! report). A kind says only what differs: how to read the world and plan, its steps, how to tell
//! a step is already done, how to verify, and what "already rolled back" means for it.

pub mod close;
pub mod engine;
pub mod kinds;
pub mod prompt;
pub mod request;

use chrono::{DateTime, Utc};

use crate::error::CliError;

/// One rollback as asked for, whoever asks: the command line, `watch`, `drill` or `demo`.
#[derive(Debug, Clone)]
pub struct Request {
    /// The model as named on the command line (the config key).
    pub model: String,
    pub reason: String,
    pub who: String,
    /// When the breach began, if known; else the engine searches Prometheus history.
    pub detected_at: Option<DateTime<Utc>>,
    /// How `--detected-at` was read, when that was a choice (local time, a duration ago).
    pub detected_note: Option<String>,
    pub started_at: DateTime<Utc>,
    pub yes: bool,
    pub dry_run: bool,
    pub force_unlock: bool,
    pub resume: bool,
    /// Skip the verification on metrics (the registry and serving checks still run).
    pub no_verify: bool,
    /// An interrupted rollback to close as abandoned before planning afresh.
    pub abandon: Option<String>,
}

impl Request {
    /// A rollback mlrb starts by itself (the controller, a drill, the demo): confirmed, to the
    /// kind's own choice of target, with the breach time as a time.
    pub fn unattended(
        model: &str,
        reason: String,
        who: &str,
        detected_at: Option<DateTime<Utc>>,
    ) -> Request {
        Request {
            model: model.to_string(),
            reason: crate::rollback::request::clean_reason(Some(&reason)),
            who: who.to_string(),
            detected_at,
            detected_note: None,
            started_at: crate::clock::now(),
            yes: true,
            dry_run: false,
            force_unlock: false,
            resume: false,
            no_verify: false,
            abandon: None,
        }
    }

    /// A request from the flags every `rollback` shares.
    pub fn from_args(
        model: &str,
        common: &crate::cli::RollbackOptions,
        force_unlock: bool,
        resume: bool,
    ) -> Result<Request, CliError> {
        use crate::rollback::request::{clean_reason, detected_at, triggered_by};
        let detected = detected_at(common.detected_at.as_deref())?;
        Ok(Request {
            model: model.to_string(),
            reason: clean_reason(common.reason.as_deref()),
            who: triggered_by(common.triggered_by.as_deref())?,
            detected_at: detected.as_ref().map(|d| d.0),
            detected_note: detected.and_then(|d| d.1),
            started_at: crate::clock::now(),
            yes: common.yes,
            dry_run: common.dry_run,
            force_unlock,
            resume,
            no_verify: false,
            abandon: common.abandon.clone(),
        })
    }
}

/// How a step failed: what happened, and what to do next.
#[derive(Debug, Clone)]
pub struct StepFailure {
    pub detail: String,
    pub hint: Option<String>,
}

impl From<String> for StepFailure {
    fn from(detail: String) -> Self {
        StepFailure { detail, hint: None }
    }
}

/// One step of a plan as `-o json` shows it: the same fields for every kind (absent ones are
/// `null`), so a script reads a plan without parsing prose.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepView {
    /// What the step does, by what: `registry.transition_stage`, `registry.set_alias`,
    /// `registry.set_tags`, `serving.reload`, `serving.await`, `serving.command`, `command`
    /// (kubectl, helm, git, dvc), `git2`, `http`, `verify`.
    pub kind: String,
    /// What it changes or reads (`recsys v2`, `deployment/ms (ns ml)`).
    pub target: Option<String>,
    /// The value it replaces, when the plan knows it.
    pub before: Option<String>,
    /// The value it sets (or waits for).
    pub after: Option<String>,
    /// The command or request it runs, as the plan prints it.
    pub command: Option<String>,
    /// The step's line in the printed plan and the journal.
    pub line: String,
}

impl StepView {
    /// A step known only by its line: a command (`kubectl …`, `helm …`, `git …`, `dvc …`), or
    /// a line led by what runs it (`run       dvc …`, `git2      restore …`, `http      POST …`).
    pub fn of_line(line: String) -> StepView {
        let (tool, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let (kind, command) = match tool {
            "kubectl" | "helm" | "git" | "dvc" => ("command".to_string(), line.clone()),
            "run" => ("command".to_string(), rest.trim().to_string()),
            "" => ("step".to_string(), line.clone()),
            t => (t.to_string(), rest.trim().to_string()),
        };
        StepView {
            kind,
            target: None,
            before: None,
            after: None,
            command: Some(command),
            line,
        }
    }
}

/// One change a rollback makes. The engine journals its start before `run` (write-ahead), so a
/// crash mid-step is visible; a resumed rollback asks `done` before running it again.
pub trait Step {
    /// The step as the plan and the journal show it.
    fn line(&self) -> String;
    /// The step as `-o json` shows it. By default read from its line; the engine fills in the
    /// rollback's target when the step names none.
    fn view(&self) -> StepView {
        StepView::of_line(self.line())
    }
    /// Whether the world already shows this step's effect (a resumed rollback skips it).
    fn done(&self) -> bool {
        false
    }
    /// Makes the change; `event` is the rollback's id (a commit message or tag names it).
    fn run(&self, event: &str) -> Result<String, StepFailure>;
    /// A wait for the change to take effect (serving ready, the version reported): its failure
    /// means "rolled back, not verified" rather than "failed".
    fn awaits(&self) -> bool {
        false
    }
    /// A wait (`awaits`) whose failure leaves the event unfinished instead of closing it "not
    /// verified": the change is made but not in effect (a serving rollout that never became
    /// Ready), so the rollback is not done; a re-run or `--resume` checks it again and finishes.
    fn unfinished_until_done(&self) -> bool {
        false
    }
    /// On a resume, whether the world is asked (`done`) even when the journal shows the step
    /// finished, and the step run again if the world does not show it (a serving change that
    /// may have been undone since, or a wait, which is cheap to repeat).
    fn recheck_on_resume(&self) -> bool {
        false
    }
}

/// Turns a command's failure into (detail, hint) in a kind's words.
pub type Explain = Box<dyn Fn(&crate::exec::ExecError) -> (String, Option<String>)>;

/// A step that runs one external command (kubectl, helm, dvc, git).
pub struct CommandStep {
    pub cmd: crate::exec::Cmd,
    pub explain: Explain,
    pub done: Option<Box<dyn Fn() -> bool>>,
}

impl Step for CommandStep {
    fn line(&self) -> String {
        self.cmd.line()
    }
    fn done(&self) -> bool {
        self.done.as_ref().is_some_and(|d| d())
    }
    fn run(&self, _event: &str) -> Result<String, StepFailure> {
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
                let (detail, hint) = (self.explain)(&e);
                Err(StepFailure { detail, hint })
            }
        }
    }
}

/// What the journal's `Started` record says the rollback acts on.
#[derive(Debug, Clone)]
pub struct Subject {
    /// "rollback infra", "rollback features", …
    pub command: &'static str,
    /// The object rolled back (`deployment/recsys (ns ml)`, a repository path, a pipeline):
    /// one rollback of it at a time, and what an unfinished rollback is found by.
    pub target: String,
    /// Where it lives (strategy, repository, CI), the journal's `registry` field.
    pub place: String,
}

/// A kind's plan, ready for the engine to show, confirm and run.
pub struct Plan {
    pub mode: String,
    pub from: Vec<u64>,
    pub to: u64,
    pub to_reason: String,
    /// The report's one-line summary of what was rolled back (`Target` record).
    pub summary: (String, String),
    /// The plan as printed before the confirmation.
    pub text: String,
    pub question: String,
    pub steps: Vec<Box<dyn Step>>,
    /// The last step's line, and the check itself.
    pub verify_line: String,
    pub verify: Box<dyn Fn() -> Result<String, String>>,
    /// What the report must mention (warnings shown before the confirmation).
    pub notes: Vec<String>,
    /// Kind-specific fields of the JSON outcome (strategy, revisions, commits…).
    pub view: serde_json::Map<String, serde_json::Value>,
    /// The outcome line when every step ran and the check passed.
    pub done_message: String,
    /// The hint when a step failed.
    pub failure_hint: String,
    /// Called after a failed step (its index) before the event closes: puts back what can be
    /// put back, and says what it did.
    pub on_failure: Option<Box<dyn Fn(usize) -> String>>,
    /// Claims the target where every machine looks (a lease on the registered model, an
    /// annotation on the Kubernetes object), after the confirmation and before the first
    /// change, given the event id; also checks the world is still as planned. What it returns
    /// is held until the event closes (dropping it releases the claim).
    pub claim: Option<Claim>,
}

/// See `Plan::claim`.
pub type Claim = Box<dyn Fn(&str) -> anyhow::Result<Box<dyn std::any::Any>>>;

/// What a kind found when it read the world.
pub enum Planned {
    Plan(Box<Plan>),
    /// Nothing to do: the world is already as the rollback would leave it (a completed
    /// rollback of the same target, or nothing changed since the known-good state).
    Nothing {
        outcome: &'static str,
        message: String,
        view: serde_json::Map<String, serde_json::Value>,
    },
}

/// How an event ends: its exit status, the journal's outcome, the outcome line, the hint when
/// it did not succeed, and fields the kind adds to the JSON view.
pub struct Ending {
    pub status: crate::error::ExitStatus,
    pub outcome: &'static str,
    pub message: String,
    pub hint: String,
    pub view: serde_json::Map<String, serde_json::Value>,
}

/// One kind of rollback: model, fallback switch, infra, features, retrain.
pub trait Kind {
    /// What it acts on, known from the config before anything is read.
    fn subject(&self) -> Subject;
    /// Reads the world and plans (or says nothing is to be done). With `req.resume` the plan
    /// finishes an interrupted rollback whose `Started` record is given.
    fn plan(
        &self,
        ctx: &crate::context::Ctx,
        req: &Request,
        resuming: Option<&crate::journal::Record>,
    ) -> anyhow::Result<Planned>;
    /// How the event ends in the kind's own words, given the engine's ending (`rolled_back`,
    /// `not_verified` or `failed`, the plan's messages): a retrain that started a pipeline is
    /// "triggered", not "rolled back", and which pipeline is known only once its step ran.
    fn ending(&self, ending: Ending) -> Ending {
        ending
    }
    /// The metrics baseline the breach is detected and recovery judged against (known once
    /// the plan was made).
    fn baseline(&self) -> Option<crate::metrics::Baseline> {
        None
    }
    /// The plan's own steps for the journal, so `--resume` can rebuild it exactly.
    fn journal_plan(&self) -> Option<(Vec<crate::plan::Step>, crate::registry::LiveMode)> {
        None
    }
    /// The command the journal's `Started` record names, when it says more than the subject's:
    /// `rollback model --fallback --end` beside `rollback model --fallback`. The guard and the
    /// lock stay the subject's, so an unfinished run of either stops the other.
    fn command(&self) -> String {
        self.subject().command.to_string()
    }
    /// The kind's own records, journaled with the event's header (after the confirmation, before
    /// the first step) and never again by `--resume`: what must be on disk before anything
    /// changes, such as the value a fallback switch replaces, which `--end` restores.
    fn journal_records(&self) -> Vec<crate::journal::Entry> {
        Vec::new()
    }
    /// What planning read of the model (its registry, the model as settled, every version),
    /// handed once to the event's close, which then lists no version again.
    fn take_known(&self) -> Option<crate::timeline::facts::Known> {
        None
    }
    /// An unfinished rollback of the subject recorded where every machine looks (the
    /// registry), for `--resume` on a machine whose journal does not hold it: its `Started`
    /// and `Plan` entries (with the event id), which the engine journals here before resuming.
    /// Drops the kind's own record of the unfinished `event` (a lease kept as its record) when
    /// it is abandoned; says whether there was one.
    fn abandon(&self, _event: &str) -> anyhow::Result<bool> {
        Ok(false)
    }
    fn unfinished_elsewhere(
        &self,
        _req: &Request,
    ) -> anyhow::Result<Option<(String, Vec<crate::journal::Entry>)>> {
        Ok(None)
    }
}
