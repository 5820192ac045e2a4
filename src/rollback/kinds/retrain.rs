//! Emergency retrain: one pipeline on a known-good dataset, triggered in CI and, with `--wait`,
//! followed to its end. One event never starts two pipelines: the trigger carries the event id,
//! and a resumed event whose trigger has no recorded answer asks CI before sending it again.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::ci::{self, Ci, EVENT_VARIABLE, Followed, Lookup, Pipeline, Status};
use crate::clock;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Record};
use crate::printer::Printer;
use crate::rollback::{Ending, Kind, Plan, Planned, Request, Step, StepFailure, Subject};

type Result<T> = anyhow::Result<T>;

const COMMAND: &str = "rollback retrain";

/// How a trigger step's detail ends when CI refused the request: a resumed event may send it
/// again without asking CI first.
const REFUSED: &str = "so no pipeline was started";

/// Journal outcomes of a retrain that started a pipeline: the same retrain again is a no-op.
const STARTED_A_PIPELINE: [&str; 3] = ["triggered", "retrained", "rolled_back"];

/// What `rollback retrain` was asked for.
pub struct Retrain {
    model: String,
    ci: Rc<Ci>,
    /// The retrain asked for on the command line; with `--resume` the journal says.
    want: Option<ci::Retrain>,
    wait: bool,
    /// What the steps saw, for the ending.
    seen: Rc<RefCell<Seen>>,
}

/// What the steps of one run saw.
#[derive(Default)]
struct Seen {
    want: Option<ci::Retrain>,
    event: Option<String>,
    /// When this event's trigger was first sent.
    sent_at: Option<DateTime<Utc>>,
    pipeline: Option<Pipeline>,
    failed: Option<Failed>,
    followed: Option<std::result::Result<String, Followed>>,
}

/// How the trigger step failed.
enum Failed {
    /// CI refused the request: nothing was started.
    Refused,
    /// No usable answer (a 5xx, a timeout, a cut connection): CI may have started a pipeline.
    MayHaveStarted(String),
    /// A resumed trigger without a recorded answer, and CI cannot be asked (why).
    CannotTell(String),
    /// A resumed trigger without a recorded answer, and asking CI failed.
    Unasked,
}

/// What the journal says of an event's trigger, for `--resume`.
#[derive(Debug, Clone)]
enum Prior {
    /// Never sent, or refused by CI: sending it is safe.
    Unsent,
    /// Answered: the pipeline it started, when CI named one.
    Answered(Option<Pipeline>),
    /// Sent (first at this time) with no usable answer recorded: CI may have started one.
    Unknown(DateTime<Utc>),
}

impl Retrain {
    /// The kind for `model`, or the error saying how to configure it. `want` is `None` with
    /// `--resume`.
    pub fn for_model(
        ctx: &Ctx,
        model: &str,
        want: Option<ci::Retrain>,
        wait: bool,
    ) -> std::result::Result<Retrain, CliError> {
        let Some(cfg) = ctx
            .settings
            .models
            .get(model)
            .and_then(|m| m.retrain.clone())
        else {
            return Err(CliError::usage(format!(
                "no retrain trigger is configured for `{model}`"
            ))
            .with_hint(format!(
                "add [models.{model}.retrain] with kind = \"gitlab\" | \"github\" | \"webhook\" to mlrb.toml"
            )));
        };
        if let Some(w) = &want {
            if w.dataset.trim().is_empty() || w.dataset.chars().any(char::is_control) {
                return Err(CliError::usage(
                    "--dataset-version must be a non-empty single line",
                ));
            }
            if w.config_commit
                .as_deref()
                .is_some_and(|c| c.trim().is_empty() || c.chars().any(char::is_control))
            {
                return Err(CliError::usage(
                    "--config-commit must be a non-empty single line",
                ));
            }
        }
        Ok(Retrain {
            model: model.to_string(),
            ci: Rc::new(Ci::new(&cfg, model)?),
            want,
            wait,
            seen: Rc::default(),
        })
    }
}

impl Kind for Retrain {
    fn subject(&self) -> Subject {
        Subject {
            command: COMMAND,
            target: self.model.clone(),
            place: self.ci.kind().into(),
        }
    }

    fn plan(&self, ctx: &Ctx, req: &Request, resuming: Option<&Record>) -> Result<Planned> {
        let ci = &self.ci;
        let records = crate::rollback::engine::read_journal(ctx)?;
        let want = self.asked(resuming)?;
        if resuming.is_none()
            && let Some(nothing) = self.already_triggered(&records, &want)
        {
            return Ok(nothing);
        }
        let steps = self.steps(&records, resuming, &want);
        let verify_line = if self.wait {
            format!(
                "http      poll the pipeline until it finishes (timeout {})",
                humantime::format_duration(ci.wait_timeout())
            )
        } else {
            "check     CI accepted the trigger (follow the pipeline with --wait or in CI)".into()
        };
        let lines: Vec<String> = steps
            .iter()
            .map(|s| s.line())
            .chain([verify_line.clone()])
            .collect();
        let mut view = self.view(&want);
        view.insert(
            "estimated_duration_minutes".into(),
            (ci.estimate().as_secs() / 60).into(),
        );
        Ok(Planned::Plan(Box::new(Plan {
            mode: ci.kind().into(),
            from: Vec::new(),
            to: 0,
            to_reason: encode(&want),
            summary: (
                "retrain".into(),
                format!(
                    "An emergency retrain of model `{}` on dataset {}{} in {} (estimated duration {}), started by {}, due to:",
                    self.model,
                    want.dataset,
                    want.config_commit
                        .as_deref()
                        .map(|c| format!(" with config {c}"))
                        .unwrap_or_default(),
                    ci.kind(),
                    humantime::format_duration(ci.estimate()),
                    req.who
                ),
            ),
            text: self.text(&want, resuming, &lines),
            question: format!("Trigger an emergency retrain of {}?", self.model),
            steps,
            verify_line,
            verify: self.verify(ctx.printer.format, ctx.printer.quiet),
            notes: Vec::new(),
            view,
            // The ending says how it went, in a retrain's words.
            done_message: "retrain triggered".into(),
            failure_hint: "`mlrb status` shows the event".into(),
            on_failure: None,
            claim: None,
        })))
    }

    fn ending(&self, e: Ending) -> Ending {
        let seen = self.seen.borrow();
        let mut view = Map::new();
        view.insert(
            "pipeline".into(),
            serde_json::to_value(&seen.pipeline).unwrap_or_default(),
        );
        let (status, outcome, message, hint) = match e.status {
            ExitStatus::Success => self.succeeded(&seen, e.hint),
            ExitStatus::NotVerified => self.not_followed(&seen),
            _ => self.failed(&seen, e),
        };
        Ending {
            status,
            outcome,
            message,
            hint,
            view,
        }
    }
}

type Closing = (ExitStatus, &'static str, String, String);

impl Retrain {
    /// The retrain asked for: on the command line, or by the journal of the resumed event.
    fn asked(&self, resuming: Option<&Record>) -> Result<ci::Retrain> {
        let Some(started) = resuming else {
            return Ok(self
                .want
                .clone()
                .ok_or_else(|| CliError::usage("--dataset-version is required"))?);
        };
        let asked = match &started.entry {
            Entry::Started { to_reason, .. } => decode(to_reason),
            _ => None,
        };
        Ok(asked.ok_or_else(|| {
            CliError::usage(format!(
                "the journal does not say which dataset {} retrained on",
                started.event
            ))
        })?)
    }

    /// The trigger and (GitHub) finding its run; a resumed event's are told what the journal
    /// shows of them.
    fn steps(
        &self,
        records: &[Record],
        resuming: Option<&Record>,
        want: &ci::Retrain,
    ) -> Vec<Box<dyn Step>> {
        let ci = &self.ci;
        let (prior, run, sent_at) = match resuming {
            Some(started) => prior(records, &started.event, ci),
            None => (Prior::Unsent, None, None),
        };
        {
            let mut seen = self.seen.borrow_mut();
            seen.want = Some(want.clone());
            seen.sent_at = sent_at;
            seen.pipeline = match &prior {
                Prior::Answered(pl) if !ci.is_github() => {
                    Some(pl.clone().unwrap_or_else(|| ci.pipeline("", "")))
                }
                _ => run.clone(),
            };
        }
        let mut steps: Vec<Box<dyn Step>> = vec![Box::new(TriggerStep {
            ci: ci.clone(),
            want: want.clone(),
            prior,
            seen: self.seen.clone(),
        })];
        if ci.is_github() {
            steps.push(Box::new(FindRunStep {
                ci: ci.clone(),
                want: want.clone(),
                found: run.is_some(),
                seen: self.seen.clone(),
            }));
        }
        steps
    }

    /// The plan as printed before the confirmation.
    fn text(&self, want: &ci::Retrain, resuming: Option<&Record>, lines: &[String]) -> String {
        let mut text = format!(
            "Emergency retrain plan for {} ({}): dataset {}{}, estimated {}\n  this is the slow path: use it when the training data itself is at fault\n",
            self.model,
            self.ci.kind(),
            want.dataset,
            want.config_commit
                .as_deref()
                .map(|c| format!(", config {c}"))
                .unwrap_or_default(),
            humantime::format_duration(self.ci.estimate())
        );
        if let Some(started) = resuming {
            text.push_str(&format!("  resuming {}\n", started.event));
        }
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&format!("  {:>2}. {l}\n", i + 1));
        }
        text
    }

    /// The JSON view's fields every outcome of a retrain has.
    fn view(&self, want: &ci::Retrain) -> Map<String, Value> {
        let mut view = Map::new();
        view.insert("kind".into(), self.ci.kind().into());
        view.insert("dataset_version".into(), want.dataset.clone().into());
        view.insert("config_commit".into(), want.config_commit.clone().into());
        view
    }

    /// The verification: with `--wait`, the pipeline followed to its end; else what CI answered.
    fn verify(
        &self,
        format: crate::printer::Format,
        quiet: bool,
    ) -> Box<dyn Fn() -> std::result::Result<String, String>> {
        let (ci, seen) = (self.ci.clone(), self.seen.clone());
        if !self.wait {
            return Box::new(move || {
                Ok(match &seen.borrow().pipeline {
                    Some(pl) => format!("{} accepted the trigger: {}", ci.name(), started(pl)),
                    None => format!("{} accepted the trigger", ci.name()),
                })
            });
        }
        Box::new(move || {
            let pipeline = seen.borrow().pipeline.clone();
            let r = match pipeline {
                Some(pl) => ci.follow(&Printer::new(format, quiet), &pl),
                None => Err(Followed::NotFollowed(
                    "CI named no pipeline to follow".into(),
                )),
            };
            seen.borrow_mut().followed = Some(r.clone());
            r.map_err(|e| e.to_string())
        })
    }

    /// A retrain that was triggered (and, with `--wait`, succeeded).
    fn succeeded(&self, seen: &Seen, hint: String) -> Closing {
        let pl = seen.pipeline.as_ref();
        let id = pl.map(|p| p.id.as_str()).unwrap_or("");
        match &seen.followed {
            Some(Ok(d)) => (
                ExitStatus::Success,
                "retrained",
                format!("retrain {id} finished: {d}"),
                hint,
            ),
            _ => (
                ExitStatus::Success,
                "triggered",
                format!(
                    "retrain triggered: pipeline {id} {} (estimated {}); follow it with --wait or in CI",
                    pl.map(|p| p.web_url.as_str()).unwrap_or(""),
                    humantime::format_duration(self.ci.estimate())
                ),
                hint,
            ),
        }
    }

    /// A retrain that was triggered, and `--wait` did not see succeed.
    fn not_followed(&self, seen: &Seen) -> Closing {
        let pl = seen
            .pipeline
            .clone()
            .unwrap_or_else(|| self.ci.pipeline("", ""));
        let (id, model) = (&pl.id, &self.model);
        let status_url_hint = format!(
            "set [models.{model}.retrain].status_url to the status endpoint you trust (`{{id}}` is replaced by the pipeline id), or follow the pipeline in CI"
        );
        match (&seen.followed, &pl.status) {
            (Some(Err(Followed::NotFollowed(_))), Status::Foreign { url, trusted }) => (
                ExitStatus::Failure,
                "triggered",
                format!(
                    "retrain {id} was triggered, but its status cannot be followed at {url}: the webhook's reply puts it on another origin than {trusted}, the only one mlrb sends the token to"
                ),
                status_url_hint,
            ),
            (Some(Err(Followed::NotFollowed(why))), _) => (
                ExitStatus::Failure,
                "triggered",
                format!("retrain {id} was triggered, but it cannot be followed: {why}"),
                status_url_hint,
            ),
            (Some(Err(e @ Followed::Ended(_))), _) => (
                ExitStatus::Failure,
                "retrain_failed",
                format!(
                    "the retrain did not succeed: {e} ({} {})",
                    if id.is_empty() { "pipeline" } else { id },
                    pl.web_url
                )
                .trim_end()
                .to_string(),
                format!(
                    "the pipeline's log says why; keep serving the fallback, and trigger a new retrain (`mlrb rollback retrain {model} --dataset-version …`) once it is fixed"
                ),
            ),
            (e, _) => (
                ExitStatus::Failure,
                "failed",
                format!(
                    "retrain {id} was triggered, but following it stopped: {}",
                    e.as_ref()
                        .and_then(|r| r.as_ref().err())
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                format!(
                    "`mlrb rollback retrain {model} --resume --wait` follows it again (it is not triggered again)"
                ),
            ),
        }
    }

    /// A step failed: the trigger, or (GitHub) finding the run it started.
    fn failed(&self, seen: &Seen, e: Ending) -> Closing {
        let model = &self.model;
        let resume = format!("mlrb rollback retrain {model} --resume");
        let event = seen.event.clone().unwrap_or_default();
        let since = seen.sent_at.unwrap_or_else(clock::now);
        let want = seen.want.clone().unwrap_or(ci::Retrain {
            dataset: String::new(),
            config_commit: None,
        });
        let look = self.ci.where_to_look(&want, &event, since);
        let again = format!(
            "`mlrb rollback retrain {model} --dataset-version {}{}`",
            shell_word(&want.dataset),
            want.config_commit
                .as_deref()
                .map(|c| format!(" --config-commit {}", shell_word(c)))
                .unwrap_or_default()
        );
        match &seen.failed {
            Some(Failed::Refused) => (
                e.status,
                "failed",
                e.message,
                format!("fix what the error says; then `{resume}` sends the trigger, once"),
            ),
            Some(Failed::MayHaveStarted(detail)) => match self.ci.can_lookup() {
                Ok(()) => (
                    e.status,
                    "failed",
                    format!(
                        "the trigger failed: {detail} for this event; it is not sent again blindly"
                    ),
                    format!(
                        "`{resume}` first asks {} for it and sends the trigger only if there is none",
                        self.ci.name()
                    ),
                ),
                Err(why) => (
                    e.status,
                    "trigger_unknown",
                    format!(
                        "the trigger failed: {detail} for this event, and mlrb cannot ask: {why}"
                    ),
                    format!(
                        "check {look}: if there is one, follow it there; if there is none, {again} triggers one (this event is closed)"
                    ),
                ),
            },
            Some(Failed::CannotTell(why)) => (
                ExitStatus::Refused,
                "trigger_unknown",
                format!(
                    "the trigger of {event}, first sent at {}, has no recorded answer (the process was stopped during the request?) and mlrb cannot ask {} whether it started a pipeline ({why}); it was not sent again",
                    since.format("%H:%M:%S UTC"),
                    self.ci.name()
                ),
                format!(
                    "check {look}: if there is one, follow it there; if there is none, {again} triggers one (this event is closed)"
                ),
            ),
            Some(Failed::Unasked) => (
                e.status,
                "failed",
                e.message,
                format!("`{resume}` asks {} again once it answers", self.ci.name()),
            ),
            None => (
                e.status,
                "failed",
                e.message,
                format!(
                    "the workflow was dispatched; `{resume}` looks for its run again (it is not dispatched again)"
                ),
            ),
        }
    }

    /// The same retrain (model, dataset, config) already started a pipeline, recently enough
    /// that it may still be running: a no-op that names it.
    fn already_triggered(&self, records: &[Record], want: &ci::Retrain) -> Option<Planned> {
        let subject = self.subject();
        let window = chrono::Duration::from_std(self.ci.wait_timeout()).ok()?;
        // Events of this retrain: what they asked for, and when and how the trigger answered.
        let mut asked: Vec<(&str, Option<ci::Retrain>, DateTime<Utc>, String)> = Vec::new();
        let mut last: Option<usize> = None;
        for r in records {
            let i = asked.iter().position(|(e, ..)| *e == r.event);
            match (&r.entry, i) {
                (
                    Entry::Started {
                        command,
                        to_reason,
                        started_at,
                        ..
                    },
                    None,
                ) if command == COMMAND
                    && crate::journal::started_on(&r.entry, &subject.target, &subject.place) =>
                {
                    asked.push((&r.event, decode(to_reason), *started_at, String::new()))
                }
                (
                    Entry::StepFinished {
                        index: 0,
                        ok: true,
                        detail,
                        ..
                    },
                    Some(i),
                ) => {
                    asked[i].2 = r.at;
                    asked[i].3 = detail.clone();
                }
                (Entry::Finished { outcome, .. }, Some(i))
                    if STARTED_A_PIPELINE.contains(&outcome.as_str()) =>
                {
                    last = Some(i)
                }
                _ => {}
            }
        }
        let (event, asked_for, at, detail) = &asked[last?];
        if asked_for.as_ref() != Some(want) || clock::now() - *at >= window {
            return None;
        }
        let mut view = self.view(want);
        view.insert("triggered_by_event".into(), (*event).into());
        view.insert("triggered_at".into(), clock::fmt(*at).into());
        Some(Planned::Nothing {
            outcome: "already_triggered",
            message: format!(
                "already triggered by {event} at {} ({detail}); nothing changed — the same retrain is triggered again {} after the first, or at once with another --dataset-version or --config-commit",
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                humantime::format_duration(self.ci.wait_timeout())
            ),
            view,
        })
    }
}

/// Step 1: the trigger, sent once per event.
struct TriggerStep {
    ci: Rc<Ci>,
    want: ci::Retrain,
    prior: Prior,
    seen: Rc<RefCell<Seen>>,
}

impl Step for TriggerStep {
    fn line(&self) -> String {
        self.ci.request_line(&self.want)
    }

    /// Done when the journal shows CI answered it (even if the plan's line changed since).
    fn done(&self) -> bool {
        matches!(self.prior, Prior::Answered(_))
    }

    fn run(&self, event: &str) -> std::result::Result<String, StepFailure> {
        let ci = &self.ci;
        let mut seen = self.seen.borrow_mut();
        seen.event = Some(event.to_string());
        let mut checked = "";
        if let Prior::Unknown(since) = self.prior {
            // Sent before, answer unknown: CI says whether it started a pipeline.
            match ci.lookup(&self.want, event, since) {
                Lookup::Found(pl) => {
                    let d = format!(
                        "{} — found in {} by its {EVENT_VARIABLE}: this event's earlier trigger started it, so it is not triggered again",
                        started(&pl),
                        ci.name()
                    );
                    seen.pipeline = Some(pl);
                    return Ok(d);
                }
                Lookup::Dispatched(runs) => {
                    return Ok(format!(
                        "not dispatched again: {} workflow_dispatch run(s) on {} since this event's earlier dispatch at {} ({}); the newest is taken as this event's",
                        runs.len(),
                        ci.git_ref(&self.want),
                        since.format("%H:%M:%S UTC"),
                        runs.join(", ")
                    ));
                }
                Lookup::NotFound => {
                    checked = " (no pipeline of this event's earlier trigger in CI: sent now)";
                }
                Lookup::CannotAsk(why) => {
                    seen.failed = Some(Failed::CannotTell(why.clone()));
                    return Err(format!(
                        "not sent again: this event's earlier trigger at {} has no recorded answer, and {why}",
                        since.format("%H:%M:%S UTC")
                    )
                    .into());
                }
                Lookup::Failed(why) => {
                    seen.failed = Some(Failed::Unasked);
                    return Err(format!(
                        "not sent again: cannot ask {} whether this event's earlier trigger at {} started a pipeline: {why}",
                        ci.name(),
                        since.format("%H:%M:%S UTC")
                    )
                    .into());
                }
            }
        }
        // Any earlier attempt started nothing (refused, or not found in CI): this one counts.
        seen.sent_at = Some(clock::now());
        match ci.trigger(&self.want, event) {
            Ok(Some(pl)) => {
                let d = format!("{}{checked}", started(&pl));
                seen.pipeline = Some(pl);
                Ok(d)
            }
            Ok(None) => Ok(format!("workflow dispatched{checked}")),
            Err(e) if e.refused => {
                seen.failed = Some(Failed::Refused);
                Err(format!("{}; CI refused it, {REFUSED}", e.detail).into())
            }
            Err(e) => {
                let d = format!("{}; {} may have started a pipeline", e.detail, ci.name());
                seen.failed = Some(Failed::MayHaveStarted(d.clone()));
                Err(d.into())
            }
        }
    }
}

/// Step 2 (GitHub): the run the dispatch started, which the dispatch's answer does not name.
struct FindRunStep {
    ci: Rc<Ci>,
    want: ci::Retrain,
    /// The journal shows it found.
    found: bool,
    seen: Rc<RefCell<Seen>>,
}

impl Step for FindRunStep {
    fn line(&self) -> String {
        "http      GET  …/actions/workflows/…/runs?event=workflow_dispatch  (find the run)".into()
    }

    fn done(&self) -> bool {
        self.found
    }

    fn run(&self, _event: &str) -> std::result::Result<String, StepFailure> {
        let since = self.seen.borrow().sent_at.unwrap_or_else(clock::now);
        let pl = self
            .ci
            .find_run(&self.want, since)
            .map_err(|e| format!("{e}; the workflow was dispatched"))?;
        let d = format!("run {} {}", pl.id, pl.web_url);
        self.seen.borrow_mut().pipeline = Some(pl);
        Ok(d)
    }
}

/// A trigger step's detail for the pipeline it started; `pipeline_in` reads it back.
fn started(pl: &Pipeline) -> String {
    if pl.id.is_empty() {
        format!("triggered; the answer names no pipeline {}", pl.web_url)
            .trim_end()
            .to_string()
    } else {
        format!("pipeline {} started {}", pl.id, pl.web_url)
            .trim_end()
            .to_string()
    }
}

/// The pipeline a step's detail names ("pipeline ID started URL…", "run ID URL").
fn pipeline_in(ci: &Ci, detail: &str) -> Option<Pipeline> {
    let rest = detail
        .strip_prefix("pipeline ")
        .or_else(|| detail.strip_prefix("run "))?;
    let (id, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let rest = rest.strip_prefix("started ").unwrap_or(rest);
    let url = rest
        .split_whitespace()
        .next()
        .filter(|u| u.starts_with("http"))
        .unwrap_or("");
    Some(ci.pipeline(id, url))
}

/// What the journal says of `event`'s trigger (step 1) and run (step 2, GitHub), and when the
/// trigger was first sent.
fn prior(
    records: &[Record],
    event: &str,
    ci: &Ci,
) -> (Prior, Option<Pipeline>, Option<DateTime<Utc>>) {
    let mut prior = Prior::Unsent;
    let mut run = None;
    let mut first_sent = None;
    for r in records.iter().filter(|r| r.event == event) {
        match &r.entry {
            Entry::StepStarted { index: 0, .. } => {
                let first = *first_sent.get_or_insert(r.at);
                if !matches!(prior, Prior::Answered(_)) {
                    prior = Prior::Unknown(first);
                }
            }
            Entry::StepFinished {
                index: 0,
                ok: true,
                detail,
                ..
            } => prior = Prior::Answered(pipeline_in(ci, detail)),
            // CI refused it, after any earlier attempt was found to have started nothing: the
            // next attempt is the first that may have.
            Entry::StepFinished {
                index: 0,
                ok: false,
                detail,
                ..
            } if detail.ends_with(REFUSED) => {
                prior = Prior::Unsent;
                first_sent = None;
            }
            Entry::StepFinished {
                index: 1,
                ok: true,
                detail,
                ..
            } if ci.is_github() => run = pipeline_in(ci, detail),
            _ => {}
        }
    }
    (prior, run, first_sent)
}

/// The journal's `to_reason` for a retrain: `dataset "D"` or `dataset "D", config "C"` (JSON
/// strings, so any dataset name reads back as it was).
fn encode(w: &ci::Retrain) -> String {
    let q = |s: &str| Value::from(s).to_string();
    match &w.config_commit {
        Some(c) => format!("dataset {}, config {}", q(&w.dataset), q(c)),
        None => format!("dataset {}", q(&w.dataset)),
    }
}

/// Reads `encode`'s text back; a retrain journaled before it was written as `dataset D`.
fn decode(s: &str) -> Option<ci::Retrain> {
    let rest = s.strip_prefix("dataset ")?;
    if !rest.starts_with('"') {
        return Some(ci::Retrain {
            dataset: rest.to_string(),
            config_commit: None,
        });
    }
    let mut it = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    let dataset = it.next()?.ok()?;
    let tail = &rest[it.byte_offset()..];
    let config_commit = match tail.strip_prefix(", config ") {
        Some(c) => Some(serde_json::from_str::<String>(c).ok()?),
        None if tail.is_empty() => None,
        None => return None,
    };
    Some(ci::Retrain {
        dataset,
        config_commit,
    })
}

/// `s` as one shell word.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journaled_retrain_reads_back_as_asked() {
        for (dataset, config) in [
            ("ds-2026-01", None),
            ("ds, config \"x\"", Some("abc123")),
            ("a \"quoted\" name", Some("feature/x y")),
        ] {
            let w = ci::Retrain {
                dataset: dataset.into(),
                config_commit: config.map(Into::into),
            };
            assert_eq!(decode(&encode(&w)), Some(w.clone()), "{}", encode(&w));
        }
        assert_eq!(
            decode("dataset ds-1"),
            Some(ci::Retrain {
                dataset: "ds-1".into(),
                config_commit: None
            })
        );
        assert_eq!(decode("commit abc"), None);
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("ds-2026-01"), "ds-2026-01");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
