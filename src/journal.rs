//! The journal: an append-only JSON-lines record of every event, in the state directory.

use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub event: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub entry: Entry,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Started {
        /// The command as typed words (`rollback model --fallback`); what the guard matches.
        command: String,
        /// The command, typed. Records written before it existed have only `command`:
        /// `RollbackCommand::of` reads it from there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<RollbackCommand>,
        /// What is rolled back, tagged by what it is. Records written before it existed name it
        /// in `registered_name` and `registry` only: `Target::of` reads it from there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Target>,
        model: String,
        /// The registered model's name, for a model rollback only (the other kinds' subject is
        /// in `target`). Records written before `target` existed name every kind's subject
        /// here, as `Target` words it: `subject` reads either.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        registered_name: String,
        registry: String,
        mode: String,
        /// Versions (revisions for infra) the rollback goes from and to; absent for kinds that
        /// have none (features, retrain), which older records wrote as `[]` and `0`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        from: Vec<u64>,
        #[serde(default, skip_serializing_if = "is_zero")]
        to: u64,
        to_reason: String,
        reason: String,
        triggered_by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detected_at: Option<DateTime<Utc>>,
        started_at: DateTime<Utc>,
    },
    /// What a non-model rollback acts on (`infra`, …) and its summary for the report; follows
    /// `Started`, whose version fields then hold revisions.
    Target {
        kind: String,
        summary: String,
    },
    Plan {
        steps: Vec<String>,
        /// The steps themselves, so an interrupted rollback can be resumed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        detail: Vec<crate::plan::Step>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        live_mode: Option<crate::registry::LiveMode>,
    },
    /// Something the report must mention (e.g. a model rollback still in its verification window).
    Note {
        text: String,
    },
    /// An interrupted rollback was picked up again (`--resume`).
    Resumed {
        how: String,
    },
    Confirmed {
        how: String,
    },
    StepStarted {
        index: usize,
        step: String,
    },
    StepFinished {
        index: usize,
        ok: bool,
        detail: String,
        millis: u64,
    },
    Executed,
    Verified {
        ok: bool,
        detail: String,
    },
    Finished {
        outcome: String,
        message: String,
    },
    /// When the breach began, found in Prometheus history (no --detected-at given).
    Detected {
        /// Not `at`: the record's own `at` (when it was written) shares the JSON object.
        began_at: DateTime<Utc>,
        reason: String,
    },
    /// A check the rollback did not make, and why (`metrics`: "none configured", "--no-verify"),
    /// so the report says what was not verified instead of implying it was.
    NotChecked {
        what: String,
        why: String,
    },
    /// What the incident report states about the world outside the journal (the change timeline
    /// before the rollback, each version's stage), read once at the event's close: the report
    /// is rendered from here ever after, so it reads the same tomorrow.
    ReportFacts {
        /// The start of the change window (24 hours before the rollback started).
        since: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        breach_start: Option<DateTime<Utc>>,
        /// Newest first.
        #[serde(default)]
        changes: Vec<ChangeFact>,
        #[serde(default)]
        hint: String,
        /// The versions the event concerned, as they stood before and after it.
        #[serde(default)]
        versions: Vec<VersionFact>,
        /// Sources that could not be read at the close, and why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unavailable: Vec<String>,
    },
    /// The samples of the report's metric charts, read from Prometheus once the event closed:
    /// the report draws the same charts on every render, and after Prometheus has dropped them.
    Charts {
        charts: Vec<ChartSamples>,
    },
    /// Metrics after the rollback: back within tolerance of baseline (`ok`) or not by the timeout.
    /// When present, the MTTR verification phase ends here rather than at the registry check.
    MetricsVerified {
        ok: bool,
        detail: String,
    },
    /// A serving-switch fallback about to be turned on (`on`) or back off: written before the
    /// change, with the value it replaces (`previous`), so `--fallback --end` can restore it.
    FallbackSwitch {
        model: String,
        on: bool,
        switch: crate::config::SwitchKind,
        /// `deployment/D` or `service/S`.
        object: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
        previous: SwitchValue,
        value: SwitchValue,
        /// With `on = false`: the event whose switch this ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ends: Option<String>,
    },
    Designated {
        model: String,
        version: u64,
        by: String,
    },
    Annotation {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root_cause: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        factors: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        actions: Vec<Action>,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A rollback's command, typed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RollbackCommand {
    /// `rollback model`: a registry version made live again.
    RollbackModel,
    /// `rollback model --fallback` with a serving switch: the switch turned on, or back off
    /// (`end`, `--fallback --end`).
    FallbackSwitch {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        end: bool,
    },
    RollbackInfra,
    RollbackFeatures,
    RollbackRetrain,
    /// A command this release has no type for (written by a newer one), in its words.
    Other {
        command: String,
    },
}

impl RollbackCommand {
    /// The typed command of a record's `command` words.
    pub fn of(command: &str) -> RollbackCommand {
        match command {
            "rollback model" => RollbackCommand::RollbackModel,
            "rollback model --fallback" => RollbackCommand::FallbackSwitch { end: false },
            "rollback model --fallback --end" => RollbackCommand::FallbackSwitch { end: true },
            "rollback infra" => RollbackCommand::RollbackInfra,
            "rollback features" => RollbackCommand::RollbackFeatures,
            "rollback retrain" => RollbackCommand::RollbackRetrain,
            other => RollbackCommand::Other {
                command: other.to_string(),
            },
        }
    }
}

/// What a rollback acts on, tagged by what it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A registered model in a registry (`registry` as mlrb names it: its URL or file).
    Model { name: String, registry: String },
    /// A Kubernetes object (`deployment/recsys (ns ml)`), changed by a strategy (kubectl, helm,
    /// blue-green, istio, argo) or a serving switch.
    Kubernetes { object: String, by: String },
    /// A feature pipeline's path in a git repository.
    Repository { path: String, repository: String },
    /// The model a CI pipeline retrains, and the CI.
    Pipeline { model: String, ci: String },
    /// The target of a command this release has no type for.
    Other { id: String, place: String },
}

impl Target {
    /// The tagged target of a rollback, from its command and the subject's words (`id`, the
    /// subject's target; `place`, where it lives).
    pub fn of(action: &RollbackCommand, id: &str, place: &str) -> Target {
        match action {
            RollbackCommand::RollbackModel => Target::Model {
                name: id.into(),
                registry: place.into(),
            },
            RollbackCommand::FallbackSwitch { .. } => Target::Kubernetes {
                object: id.into(),
                by: "serving switch".into(),
            },
            RollbackCommand::RollbackInfra => Target::Kubernetes {
                object: id.into(),
                by: place.into(),
            },
            RollbackCommand::RollbackFeatures => Target::Repository {
                path: id
                    .strip_suffix(&format!(" in {place}"))
                    .unwrap_or(id)
                    .into(),
                repository: place.into(),
            },
            RollbackCommand::RollbackRetrain => Target::Pipeline {
                model: id.into(),
                ci: place.into(),
            },
            RollbackCommand::Other { .. } => Target::Other {
                id: id.into(),
                place: place.into(),
            },
        }
    }
}

impl Target {
    /// The subject as one string, in the words `Target::of` reads: what one-rollback-at-a-time
    /// is keyed on (with the record's `registry`).
    pub fn id(&self) -> String {
        match self {
            Target::Model { name, .. } => name.clone(),
            Target::Kubernetes { object, .. } => object.clone(),
            Target::Repository { path, repository } => format!("{path} in {repository}"),
            Target::Pipeline { model, .. } => model.clone(),
            Target::Other { id, .. } => id.clone(),
        }
    }
}

/// A `Started` record's subject and where it lives (its `registry`): the typed target's words,
/// or for a record written before targets were typed, its `registered_name`.
pub fn subject(entry: &Entry) -> Option<(String, &str)> {
    let Entry::Started {
        target,
        registered_name,
        registry,
        ..
    } = entry
    else {
        return None;
    };
    let id = match target {
        Some(t) => t.id(),
        None => registered_name.clone(),
    };
    Some((id, registry.as_str()))
}

/// `entry` is a `Started` record of `target` in `place`.
pub fn started_on(entry: &Entry, target: &str, place: &str) -> bool {
    subject(entry).is_some_and(|(id, p)| id == target && p == place)
}

/// A `Started` record's typed command and target, read from its words when it was written
/// before they were recorded.
pub fn started_typed(entry: &Entry) -> Option<(RollbackCommand, Target)> {
    let Entry::Started {
        command,
        action,
        target,
        registered_name,
        registry,
        ..
    } = entry
    else {
        return None;
    };
    let action = action
        .clone()
        .unwrap_or_else(|| RollbackCommand::of(command));
    let target = target
        .clone()
        .unwrap_or_else(|| Target::of(&action, registered_name, registry));
    Some((action, target))
}

/// What a serving switch reads or sets: an environment variable (`None`: not set) or a
/// Service's whole selector.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SwitchValue {
    Env { var: String, value: Option<String> },
    Selector(std::collections::BTreeMap<String, String>),
}

impl std::fmt::Display for SwitchValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwitchValue::Env {
                var,
                value: Some(v),
            } => write!(f, "{var}={v}"),
            SwitchValue::Env { var, value: None } => write!(f, "{var} unset"),
            SwitchValue::Selector(s) => {
                let labels: Vec<String> = s.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "selector {}", labels.join(","))
            }
        }
    }
}

/// The serving-switch fallback of a model that is on according to the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveSwitch {
    /// The event that turned it on.
    pub event: String,
    pub at: DateTime<Utc>,
    pub switch: crate::config::SwitchKind,
    pub object: String,
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub container: Option<String>,
    /// The value the fallback replaced: what `--end` restores.
    pub previous: SwitchValue,
    pub value: SwitchValue,
    /// false: the event was interrupted while switching, so the switch may or may not be on.
    pub certain: bool,
}

/// The newest serving-switch fallback of `model` (the name typed) that was turned on and not
/// turned off since. A switch counts as on once its first step (the change) finished, or when
/// its event stopped while that step was running (it may have happened).
pub fn active_switch(records: &[Record], model: &str) -> Option<ActiveSwitch> {
    use std::collections::BTreeMap;
    // Switch events of this model seen so far: event → its FallbackSwitch record.
    let mut switches: BTreeMap<&str, &Record> = BTreeMap::new();
    let mut active: Option<&str> = None;
    let mut pending: Vec<&str> = Vec::new();
    for r in records {
        match &r.entry {
            Entry::FallbackSwitch { model: m, .. } if m == model => {
                switches.insert(&r.event, r);
            }
            Entry::StepStarted { index: 0, .. } if switches.contains_key(r.event.as_str()) => {
                pending.push(&r.event);
            }
            // A resumed switch whose change was made before the crash skips its step as done:
            // the event closing as rolled back (verified or not) says the change is in place.
            Entry::Finished { outcome, .. }
                if outcome != "failed" && pending.contains(&r.event.as_str()) =>
            {
                pending.retain(|e| *e != r.event);
                if let Some(rec) = switches.get(r.event.as_str()) {
                    let on = matches!(rec.entry, Entry::FallbackSwitch { on: true, .. });
                    active = on.then_some(rec.event.as_str());
                    pending.clear();
                }
            }
            Entry::StepFinished { index: 0, ok, .. } => {
                let Some(rec) = switches.get(r.event.as_str()).copied() else {
                    continue;
                };
                pending.retain(|e| *e != r.event);
                if *ok {
                    let on = matches!(rec.entry, Entry::FallbackSwitch { on: true, .. });
                    active = on.then_some(rec.event.as_str());
                    // A switch that finished supersedes every interrupted one before it.
                    pending.clear();
                }
            }
            _ => {}
        }
    }
    // Events left pending started their change and never finished it: an interrupted switch on
    // is possibly on; an interrupted switch off leaves the one it ends possibly on.
    let interrupted_on = pending.iter().rev().find(|e| {
        switches
            .get(**e)
            .is_some_and(|r| matches!(r.entry, Entry::FallbackSwitch { on: true, .. }))
    });
    let (event, certain) = match (interrupted_on, active) {
        (Some(e), _) => (*e, false),
        (None, Some(a)) => (a, pending.is_empty()),
        (None, None) => return None,
    };
    let rec = switches.get(event)?;
    let Entry::FallbackSwitch {
        switch,
        object,
        namespace,
        context,
        container,
        previous,
        value,
        ..
    } = &rec.entry
    else {
        return None;
    };
    Some(ActiveSwitch {
        event: event.to_string(),
        at: rec.at,
        switch: *switch,
        object: object.clone(),
        namespace: namespace.clone(),
        context: context.clone(),
        container: container.clone(),
        previous: previous.clone(),
        value: value.clone(),
        certain,
    })
}

/// One metric's samples over an incident window: (time, value), oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChartSamples {
    pub metric: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// One row of a frozen change timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeFact {
    pub at: DateTime<Utc>,
    pub component: String,
    pub what: String,
    pub source: String,
}

/// A version's place in the registry (stage and aliases, e.g. `Production` or `None @champion`)
/// before the event's changes and after them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionFact {
    pub version: u64,
    pub before: String,
    pub after: String,
}

/// A corrective action: what, who, by when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Action {
    pub what: String,
    pub owner: String,
    pub due: String,
}

pub struct Journal {
    path: PathBuf,
    event: String,
    failed: bool,
    file: Option<fs::File>,
}

impl Journal {
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("journal.jsonl")
    }

    pub fn new(state_dir: &Path, event: &str) -> Journal {
        Journal {
            path: Self::path_in(state_dir),
            event: event.to_string(),
            failed: false,
            file: None,
        }
    }

    pub fn event(&self) -> &str {
        &self.event
    }

    /// Appends one record and makes it durable before returning (write-ahead: a step's intent is
    /// on disk before the step runs). A journal that cannot be written never stops a rollback:
    /// the first failure is reported (the record of this event is incomplete), later ones are silent.
    pub fn append(&mut self, entry: Entry) {
        let rec = Record {
            event: self.event.clone(),
            at: clock::now(),
            entry,
        };
        if let Err(e) = self.write(&rec) {
            if !self.failed {
                crate::printer::to_stderr(&format!(
                    "warning: cannot write the journal {}: {e}; the rollback goes on, but its record is missing from the journal (the registry tags still record it)",
                    self.path.display()
                ));
            }
            self.failed = true;
        }
    }

    fn write(&mut self, rec: &Record) -> std::io::Result<()> {
        let line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
        // What a server echoed (a token it was sent) is not kept in the journal.
        let mut line = crate::secrets::scrub(&line).into_owned().into_bytes();
        line.push(b'\n');
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                crate::statedir::ensure(dir)?;
            }
            self.file = Some(crate::files::open_private(&self.path, true)?);
        }
        let f = self.file.as_mut().expect("opened above");
        // One write per line: appends from two processes never interleave within a line.
        f.write_all(&line)?;
        f.sync_data()
    }
}

/// Every record in the journal, in order, with the number of unreadable lines skipped.
pub fn read_all(state_dir: &Path) -> std::io::Result<(Vec<Record>, usize)> {
    crate::statedir::check(state_dir)?;
    let path = Journal::path_in(state_dir);
    let f = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut bad = 0;
    for line in std::io::BufReader::new(f).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(r) => out.push(r),
            Err(_) => bad += 1,
        }
    }
    Ok((out, bad))
}

/// How an event whose change was made but has not taken effect ends: a model rollback whose
/// serving rollout never became Ready. The event stays unfinished (like a failed one): a re-run
/// or `--resume` checks the wait again in the world and finishes it.
pub const NOT_CONVERGED: &str = "not_converged";

/// Whether an event that ended with `outcome` is finished: not when it failed or its serving
/// has not converged (both are what `--resume` finishes).
pub fn closes(outcome: &str) -> bool {
    outcome != "failed" && outcome != NOT_CONVERGED
}

/// The outcome of `event`'s last `Finished` record, if it has one.
pub fn last_outcome<'a>(records: &'a [Record], event: &str) -> Option<&'a str> {
    records.iter().rev().find_map(|r| match &r.entry {
        Entry::Finished { outcome, .. } if r.event == event => Some(outcome.as_str()),
        _ => None,
    })
}

/// Rollback events of `registered_name` in `registry` that never finished, or whose last end was
/// a failure (or serving not converged): the ones `--resume` finishes. Oldest first.
pub fn unfinished<'a>(
    records: &'a [Record],
    registered_name: &str,
    registry: &str,
) -> Vec<&'a str> {
    let mut open: Vec<&str> = Vec::new();
    for r in records {
        match &r.entry {
            Entry::Started { command, .. }
                if command == "rollback model"
                    && started_on(&r.entry, registered_name, registry) =>
            {
                open.push(&r.event)
            }
            Entry::Finished { outcome, .. } if closes(outcome) => open.retain(|e| *e != r.event),
            _ => {}
        }
    }
    open
}

/// The events of `command` on `target` (a `Started` record's `subject`) that were
/// interrupted or failed before they finished, oldest first: what a plain re-run must not plan
/// over, and what `--resume` finishes. A variant of the command (more flags after it:
/// `rollback model --fallback --end` of `rollback model --fallback`) counts as the command.
pub fn open_events<'a>(
    records: &'a [Record],
    command: &str,
    target: &str,
    place: &str,
) -> Vec<&'a str> {
    let mut open: Vec<&str> = Vec::new();
    for r in records {
        match &r.entry {
            Entry::Started { command: c, .. }
                if variant_of(c, command) && started_on(&r.entry, target, place) =>
            {
                open.push(&r.event)
            }
            Entry::Finished { outcome, .. } if closes(outcome) => open.retain(|e| *e != r.event),
            _ => {}
        }
    }
    open
}

/// `recorded` is `command` or the command with more flags after it.
fn variant_of(recorded: &str, command: &str) -> bool {
    recorded
        .strip_prefix(command)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(" --"))
}

/// The newest model rollback of `model` (the name typed) that is still running or finished less
/// than `window` ago: (event, when it finished, if it did).
pub fn recent_model_rollback<'a>(
    records: &'a [Record],
    model: &str,
    window: chrono::Duration,
) -> Option<(&'a str, Option<DateTime<Utc>>)> {
    let mut found: Option<(&str, Option<DateTime<Utc>>)> = None;
    for r in records {
        match &r.entry {
            Entry::Started {
                command, model: m, ..
            } if command == "rollback model" && m == model => {
                found = Some((&r.event, None));
            }
            Entry::Finished { .. } if found.is_some_and(|(e, _)| e == r.event) => {
                found = Some((&r.event, Some(r.at)));
            }
            _ => {}
        }
    }
    found.filter(|(_, done)| done.is_none_or(|t| clock::now() - t < window))
}

/// How far an event got: (steps finished, steps planned, the first step not finished).
pub fn progress(records: &[Record], event: &str) -> (usize, usize, Option<String>) {
    let mut planned: Vec<String> = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    for r in records.iter().filter(|r| r.event == event) {
        match &r.entry {
            Entry::Plan { steps, .. } => planned = steps.clone(),
            Entry::StepFinished {
                index, ok: true, ..
            } => {
                done.insert(*index);
            }
            _ => {}
        }
    }
    let next = (0..planned.len())
        .find(|i| !done.contains(i))
        .map(|i| planned[i].clone());
    (done.len(), planned.len(), next)
}

/// A new event id in the reference document's form, `rollback-<timestamp>`, made unique.
pub fn new_event_id(kind: &str) -> String {
    let now = clock::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{kind}-{}-{salt:04x}", now.format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SwitchKind;

    fn env(v: &str) -> SwitchValue {
        SwitchValue::Env {
            var: "RECS_MODE".into(),
            value: Some(v.into()),
        }
    }

    /// The records of one switch event: the intent, then its first step started and, with
    /// `finished`, its end.
    fn switch(event: &str, on: bool, ends: Option<&str>, finished: Option<bool>) -> Vec<Record> {
        let (previous, value) = if on {
            (env("personalised"), env("popular"))
        } else {
            (env("popular"), env("personalised"))
        };
        let rec = |entry| Record {
            event: event.into(),
            at: clock::now(),
            entry,
        };
        let mut out = vec![
            rec(Entry::FallbackSwitch {
                model: "recsys".into(),
                on,
                switch: SwitchKind::KubectlSetEnv,
                object: "deployment/recs-api".into(),
                namespace: None,
                context: None,
                container: None,
                previous,
                value,
                ends: ends.map(str::to_string),
            }),
            rec(Entry::StepStarted {
                index: 0,
                step: "kubectl set env".into(),
            }),
        ];
        if let Some(ok) = finished {
            out.push(rec(Entry::StepFinished {
                index: 0,
                ok,
                detail: String::new(),
                millis: 1,
            }));
        }
        out
    }

    fn active(parts: &[Vec<Record>]) -> Option<(String, bool)> {
        let records: Vec<Record> = parts.concat();
        active_switch(&records, "recsys").map(|a| (a.event, a.certain))
    }

    #[test]
    fn a_switch_is_on_from_its_change_until_an_end_succeeds() {
        assert_eq!(active(&[]), None);
        let on = switch("e1", true, None, Some(true));
        assert_eq!(active(std::slice::from_ref(&on)), Some(("e1".into(), true)));
        let failed_end = switch("e2", false, Some("e1"), Some(false));
        assert_eq!(
            active(&[on.clone(), failed_end.clone()]),
            Some(("e1".into(), true))
        );
        let end = switch("e3", false, Some("e1"), Some(true));
        assert_eq!(active(&[on.clone(), failed_end, end]), None);
        let failed_on = switch("e1", true, None, Some(false));
        assert_eq!(active(&[failed_on]), None);
        let records: Vec<Record> = on;
        assert_eq!(active_switch(&records, "other"), None);
    }

    #[test]
    fn an_interrupted_switch_is_possibly_on() {
        let interrupted_on = switch("e1", true, None, None);
        assert_eq!(
            active(std::slice::from_ref(&interrupted_on)),
            Some(("e1".into(), false))
        );
        // Ending it (it may have happened) clears it.
        let end = switch("e2", false, Some("e1"), Some(true));
        assert_eq!(active(&[interrupted_on, end]), None);
        // An interrupted end leaves the switch it ends possibly on.
        let on = switch("e1", true, None, Some(true));
        let interrupted_end = switch("e2", false, Some("e1"), None);
        assert_eq!(active(&[on, interrupted_end]), Some(("e1".into(), false)));
    }

    fn finished(event: &str, outcome: &str) -> Vec<Record> {
        vec![Record {
            event: event.into(),
            at: clock::now(),
            entry: Entry::Finished {
                outcome: outcome.into(),
                message: String::new(),
            },
        }]
    }

    /// Killed after its change and before the step's end, then resumed: the resume finds the
    /// change made and skips the step, so only the event's close says the switch is in place.
    #[test]
    fn a_resumed_switch_is_certain_once_its_event_closes_rolled_back() {
        let interrupted_on = switch("e1", true, None, None);
        assert_eq!(
            active(&[interrupted_on.clone(), finished("e1", "rolled_back")]),
            Some(("e1".into(), true))
        );
        assert_eq!(
            active(&[interrupted_on.clone(), finished("e1", "failed")]),
            Some(("e1".into(), false))
        );
        let on = switch("e1", true, None, Some(true));
        let interrupted_end = switch("e2", false, Some("e1"), None);
        assert_eq!(
            active(&[on, interrupted_end, finished("e2", "not_verified")]),
            None
        );
    }

    #[test]
    fn an_unfinished_event_blocks_every_variant_of_its_command() {
        let started = |event: &str, command: &str| Record {
            event: event.into(),
            at: clock::now(),
            entry: Entry::Started {
                command: command.into(),
                action: None,
                target: None,
                model: "recsys".into(),
                registered_name: "deployment/recs-api".into(),
                registry: "not touched (serving switch)".into(),
                mode: "kubectl-set-env".into(),
                from: Vec::new(),
                to: 0,
                to_reason: String::new(),
                reason: String::new(),
                triggered_by: "alice".into(),
                detected_at: None,
                started_at: clock::now(),
            },
        };
        let records = vec![
            started("e1", "rollback model --fallback --end"),
            started("e2", "rollback model --fallbackish"),
        ];
        let open = |command| {
            open_events(
                &records,
                command,
                "deployment/recs-api",
                "not touched (serving switch)",
            )
        };
        assert_eq!(open("rollback model --fallback"), vec!["e1"]);
        assert_eq!(open("rollback model --fallback --end"), vec!["e1"]);
        assert_eq!(open("rollback infra"), Vec::<&str>::new());
    }

    /// Records written before the typed command and target existed (a features rollback's
    /// `to: 0` and path included) load, and read as typed from their words; new records
    /// round-trip without the placeholders.
    #[test]
    fn started_records_of_the_previous_format_load_typed() {
        let old = r#"{"event":"rollback-1","at":"2026-11-29T21:59:08Z","type":"started","command":"rollback features","model":"recsys","registered_name":"feature_pipeline in /srv/repo","registry":"/srv/repo","mode":"git","from":[],"to":0,"to_reason":"","reason":"r","triggered_by":"a","started_at":"2026-11-29T21:59:08Z"}"#;
        let rec: Record = serde_json::from_str(old).unwrap();
        assert_eq!(
            started_typed(&rec.entry),
            Some((
                RollbackCommand::RollbackFeatures,
                Target::Repository {
                    path: "feature_pipeline".into(),
                    repository: "/srv/repo".into()
                }
            ))
        );
        let Entry::Started {
            command,
            registered_name,
            registry,
            ..
        } = &rec.entry
        else {
            unreachable!()
        };
        let action = RollbackCommand::of(command);
        let mut typed = rec.clone();
        if let Entry::Started {
            action: a,
            target: t,
            ..
        } = &mut typed.entry
        {
            *t = Some(Target::of(&action, registered_name, registry));
            *a = Some(action);
        }
        let text = serde_json::to_string(&typed).unwrap();
        assert!(
            !text.contains("\"to\":0") && !text.contains("\"from\""),
            "{text}"
        );
        assert!(
            text.contains(r#""action":{"kind":"rollback_features"}"#),
            "{text}"
        );
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back.entry, typed.entry);
        assert_eq!(
            RollbackCommand::of("rollback model --fallback --end"),
            RollbackCommand::FallbackSwitch { end: true }
        );
        assert_eq!(
            RollbackCommand::of("rollback infra --shadow"),
            RollbackCommand::Other {
                command: "rollback infra --shadow".into()
            }
        );
    }
}
