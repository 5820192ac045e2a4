//! `mlrb drill`: a rehearsed incident — healthy, breach, detect, roll back, verify, restore — with
//! the MTTR of every drill kept in `drills.jsonl` and compared with the earlier ones. `--sandbox`
//! rehearses on a throwaway registry with metrics the drill serves itself; without it the drill
//! runs against the configured (staging) registry, serving and Prometheus, and puts everything
//! back as it was.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::{DrillArgs, DrillMode};
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::config::{
    BaselineConfig, ControllerConfig, DrillBreach, MetricsConfig, ModelConfig, ModelTarget,
    RegistryTarget, ServingKind, Settings, VerifyConfig,
};
use crate::error::{CliError, ExitStatus};
use crate::http::HttpOptions;
use crate::journal::{Entry, Journal, Record};
use crate::metrics::decision::Decision;
use crate::metrics::{Baseline, ModelMetrics, fmt_snapshot};
use crate::plan::Step;
use crate::printer::Printer;
use crate::registry::{self, LiveMode, Registry, Stage, file::FileRegistry, tags};

/// The history file in the state dir: one JSON object per drill.
pub const HISTORY_FILE: &str = "drills.jsonl";

/// Healthy and breached values the synthetic Prometheus serves (the reference incident's).
const HEALTHY: [(&str, f64); 2] = [("error_rate", 0.01), ("prediction_diversity", 0.73)];
const BREACHED: [(&str, f64); 2] = [("error_rate", 0.08), ("prediction_diversity", 0.04)];

/// How long a staging drill waits for its breach to be seen and rolled back, unless configured.
const STAGING_TIMEOUT: Duration = Duration::from_secs(600);

/// One drill, as `drills.jsonl` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillRecord {
    pub id: String,
    pub model: String,
    pub mode: DrillMode,
    pub sandbox: bool,
    /// How the breach was made ("synthetic metrics", "promote v7", "endpoint on v3").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<String>,
    pub started_at: DateTime<Utc>,
    /// The rollback event in the journal (staging drills; a sandbox's journal is thrown away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub wall_millis: u64,
    pub detection_millis: Option<i64>,
    pub triage_millis: Option<i64>,
    pub execution_millis: Option<i64>,
    pub verification_millis: Option<i64>,
    /// Sum of the measured phases; `mttr_complete` says whether all four were measured.
    pub mttr_millis: i64,
    pub mttr_complete: bool,
    /// The rollback's outcome in the drill's journal (rolled_back, not_verified, failed, none).
    pub rollback: String,
    pub restored: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_millis: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_met: Option<bool>,
    pub passed: bool,
}

pub fn run(ctx: &Ctx, args: &DrillArgs) -> Result<ExitStatus> {
    if args.history {
        return history(ctx, args.model.as_deref());
    }
    let model = args
        .model
        .as_deref()
        .expect("clap requires MODEL without --history");
    let objective = args.mttr_objective.or_else(|| {
        ctx.settings
            .models
            .get(model)
            .and_then(|m| m.drill.mttr_objective)
    });
    if args.restore {
        restore_interrupted(ctx, model, args.yes)
    } else if args.sandbox {
        sandbox(ctx, model, args.mode, objective)
    } else {
        staging(ctx, model, args, objective)
    }
}

/// Everything the second half of a drill (respond, measure, restore, record) needs.
struct Rehearsal {
    id: String,
    model: String,
    registered: String,
    mode: DrillMode,
    sandbox: bool,
    breach: String,
    started_at: DateTime<Utc>,
    wall: Instant,
    /// Where the rollback runs: the sandbox's settings, or the user's own for staging.
    inner: Ctx,
    reg: Box<dyn Registry>,
    before: RegState,
    objective: Option<Duration>,
    /// How long detection and the rollback may take.
    limit: Duration,
    /// The staging drill's saved pre-drill state, removed once the restore is checked.
    pending: Option<PathBuf>,
}

fn sandbox(
    ctx: &Ctx,
    model: &str,
    mode: DrillMode,
    objective: Option<Duration>,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let wall = Instant::now();
    let started_at = clock::now();
    let id = crate::journal::new_event_id("drill");
    let tmp = tempfile::Builder::new()
        .prefix("mlrb-drill-")
        .tempdir()
        .map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!("cannot create a temp dir: {e}"),
            )
        })?;
    let dir = tmp.path().to_path_buf();
    let reg_path = dir.join("registry.json");
    let reg = FileRegistry::create(&reg_path)?;
    let days = |d: i64| Some(started_at - chrono::Duration::days(d));
    reg.add_version(
        model,
        &format!("sandbox://{model}/v1"),
        Stage::Archived,
        &[],
        days(60),
    )?;
    let target = reg.add_version(
        model,
        &format!("sandbox://{model}/v2"),
        Stage::Archived,
        &[(tags::HEALTHY_BASELINE, "true")],
        days(14),
    )?;
    let live = reg.add_version(
        model,
        &format!("sandbox://{model}/v3"),
        Stage::Production,
        &[],
        days(1),
    )?;
    let before = snapshot(&reg, model)?;
    let server = Synthetic::start(reg_path.clone(), model.to_string(), live)?;
    let inner = Ctx {
        settings: sandbox_settings(model, &reg_path, &dir.join("state"), &server.url),
        printer: Printer::nested(p.quiet || p.json()),
    };
    p.status(&format!(
        "drill {id}: {model} on a sandbox registry ({}), v{live} live, v{target} designated; synthetic Prometheus at {}",
        reg_path.display(),
        server.url
    ));
    let mm = ModelMetrics::for_model(inner.settings.models.get(model))?
        .expect("the sandbox model has metrics");
    let base = mm.baseline(&reg, None, None)?;

    // 1. Healthy: the metrics client reads the synthetic server and sees nothing wrong.
    let snap = mm.read(None).map_err(CliError::from)?;
    let e = mm.decide(&snap.values, &base);
    p.status(&format!(
        "[1/5] healthy: {} → {}",
        fmt_snapshot(&snap),
        e.decision
    ));

    // 2. The breach: prediction diversity collapses and errors climb on the live version.
    server.inject();
    p.status("[2/5] breach injected: prediction diversity collapse and error rate up on the live version");

    let r = Rehearsal {
        id,
        model: model.to_string(),
        registered: model.to_string(),
        mode,
        sandbox: true,
        breach: "synthetic metrics".into(),
        started_at,
        wall,
        inner,
        reg: Box::new(reg),
        before,
        objective,
        limit: Duration::from_secs(20),
        pending: None,
    };
    let tamper = || {
        if crate::testhooks::drill_tamper() {
            // A test-only fault: someone changes the registry between the restore and the check.
            let _ =
                FileRegistry::new(&reg_path).set_version_tag(model, 1, "drill.tampered", "true");
        }
        Vec::new()
    };
    conclude(ctx, &r, &mm, &base, Box::new(tamper), Some(tmp))
}

/// A drill against the configured registry, serving and Prometheus (a staging config): the
/// breach is a deploy of a known-bad version or a fault the user's endpoint injects.
fn staging(
    ctx: &Ctx,
    model: &str,
    args: &DrillArgs,
    objective: Option<Duration>,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let wall = Instant::now();
    let started_at = clock::now();
    let cfg = ctx.settings.models.get(model).ok_or_else(|| {
        CliError::usage(format!(
            "`{}` is not in the config, and a drill against a real registry needs its [models.{0}] section",
            model.escape_debug()
        ))
        .with_hint(format!(
            "rehearse without one on a throwaway registry: `mlrb drill {model} --sandbox`"
        ))
    })?;
    let example = |what: &str| {
        CliError::usage(format!("a staging drill of `{model}` needs {what}")).with_hint(format!(
            "add [models.{model}.drill] breach = \"promote\" and version = N (a known-bad version), or breach = \"endpoint\" and inject_url = \"http://…\"; or run `mlrb drill {model} --sandbox`"
        ))
    };
    let Some(mm) = ModelMetrics::for_model(Some(cfg))? else {
        return Err(CliError::usage(format!(
            "a staging drill of `{model}` needs [models.{model}.metrics]: it detects the breach and verifies the recovery there"
        ))
        .with_hint("configure prometheus_url and the queries (see `mlrb init`), or run the drill with --sandbox")
        .into());
    };
    if let Some((p, _)) = pending_of(&ctx.settings.state_dir, model).first() {
        return Err(CliError::usage(format!(
            "drill {} of `{model}` (started {}) was interrupted before it restored the registry",
            p.id,
            p.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        ))
        .with_hint(format!(
            "put the pre-drill state back first: `mlrb drill {model} --restore`"
        ))
        .into());
    }
    let breach = cfg
        .drill
        .breach
        .ok_or_else(|| example("a breach to rehearse"))?;
    let target = ctx.settings.model(model, None)?;
    // What the drill's reloads may touch: the model server's container only, and its pod
    // template as it is now, to compare after the restore.
    crate::rollback::kinds::model::serving_preflight(&target.serving)?;
    let serving_before = crate::serving::deployment_template(&target.serving)
        .map_err(|e| CliError::new(ExitStatus::Failure, format!("{e}; nothing was changed")))?;
    let reg = ctx.registry()?;
    let name = target.registered_name.clone();
    let mut versions = registry::all_versions(reg.as_ref(), &name).map_err(CliError::from)?;
    let m = reg.get_model(&name).map_err(CliError::from)?;
    registry::attach_aliases(&m, &mut versions);
    let live: Vec<u64> = registry::live_versions(&versions, &target.mode)
        .iter()
        .map(|v| v.version)
        .collect();
    let [live] = live[..] else {
        return Err(CliError::usage(format!(
            "`{name}` has {} live versions under {}; a drill starts from exactly one",
            live.len(),
            target.mode
        ))
        .with_hint(format!(
            "`mlrb status {model}` shows them; fix the registry first"
        ))
        .into());
    };
    let (how, breach_text) = match breach {
        DrillBreach::Promote => {
            let bad = cfg
                .drill
                .version
                .ok_or_else(|| example("the known-bad version to deploy (version = N)"))?;
            if !versions.iter().any(|v| v.version == bad) {
                return Err(CliError::usage(format!(
                    "[models.{model}.drill] version = {bad}: `{name}` has no version {bad}"
                ))
                .with_hint("name a version the registry has, one known to breach the metrics")
                .into());
            }
            if bad == live {
                return Err(CliError::usage(format!(
                    "[models.{model}.drill] version = {bad} is the live version; the drill deploys a different, known-bad one"
                ))
                .into());
            }
            (Breach::Promote { bad, live }, format!("promote v{bad}"))
        }
        DrillBreach::Endpoint => {
            let url = cfg.drill.inject_url.clone().ok_or_else(|| {
                example("the endpoint that injects the fault (inject_url = \"http://…\")")
            })?;
            if !matches!(reqwest::Url::parse(&url), Ok(u) if u.scheme() == "http" || u.scheme() == "https")
            {
                return Err(CliError::usage(format!(
                    "[models.{model}.drill] inject_url is not an http(s) URL"
                ))
                .with_hint("inject_url = \"http://model-server.staging:8080/fault\"")
                .into());
            }
            (
                Breach::Endpoint { url, live },
                format!("endpoint on v{live}"),
            )
        }
    };
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    if let Some(open) = crate::journal::unfinished(&records, &name, &reg.location()).first() {
        return Err(CliError::usage(format!(
            "rollback {open} of `{name}` never finished; a drill would tangle with it"
        ))
        .with_hint(format!(
            "finish it first: `mlrb rollback model {model} --resume`"
        ))
        .into());
    }
    let base = mm.baseline(reg.as_ref(), None, None)?;
    let snap = mm.read(None).map_err(CliError::from)?;
    let e = mm.decide(&snap.values, &base);
    if e.decision == Decision::RollbackNow {
        return Err(CliError::usage(format!(
            "`{model}` already breaches ({}), so a drill cannot show detection and recovery",
            e.reason
        ))
        .with_hint("this is an incident, not a drill: `mlrb rollback model` it, or wait for healthy metrics")
        .into());
    }
    let before = snapshot(reg.as_ref(), &name)?;
    let id = crate::journal::new_event_id("drill");
    let limit = cfg.drill.timeout.unwrap_or(STAGING_TIMEOUT);
    p.status(&format!(
        "drill {id}: {model} ({name}) on {}, v{live} live under {}; metrics from {}",
        reg.location(),
        target.mode,
        cfg.metrics
            .as_ref()
            .map(|m| m.prometheus_url.as_str())
            .unwrap_or("?")
    ));
    p.status(&format!(
        "the drill will: {}; wait up to {} for the {} rollback; then put stages, aliases, tags and serving back as they are now",
        how.describe(&name, &target.mode),
        humantime::format_duration(limit),
        mode_name(args.mode)
    ));
    if let crate::commands::rollback::Confirmation::Declined = crate::commands::rollback::confirm(
        p,
        args.yes,
        "Run this drill against the configured registry?",
    )? {
        return Err(
            CliError::new(ExitStatus::Refused, "drill not started: nothing changed").into(),
        );
    }
    let pending = Pending {
        id: id.clone(),
        model: model.to_string(),
        registered: name.clone(),
        registry: reg.location(),
        live,
        inject_url: match &how {
            Breach::Endpoint { url, .. } => Some(url.clone()),
            Breach::Promote { .. } => None,
        },
        started_at,
        before: before.clone(),
        serving_template: serving_before.clone(),
    };
    let pending_path = pending.save(&ctx.settings.state_dir)?;
    let mut journal = Journal::new(&ctx.settings.state_dir, &id);
    p.status(&format!(
        "[1/5] healthy: {} → {}",
        fmt_snapshot(&snap),
        e.decision
    ));
    journal.append(Entry::Note {
        text: format!(
            "drill {id} of {model}: {}",
            how.describe(&name, &target.mode)
        ),
    });
    if let Err(e) = how.start(reg.as_ref(), &target, &id) {
        // Undo what the breach got to before the failure, check it, then say so.
        let mut left: Vec<String> = Vec::new();
        if let Err(e) = restore(reg.as_ref(), &name, &before) {
            left.push(format!("restore failed: {e}"));
        }
        if let (Breach::Promote { .. }, Err(e)) = (&how, load_on_serving(&target, live)) {
            left.push(format!("serving was not put back on v{live}: {e}"));
        }
        // Best effort: an inject request that failed most likely injected nothing.
        let _ = how.stop(&target, &id);
        match snapshot(reg.as_ref(), &name) {
            Ok(after) => left.extend(diff(&before, &after)),
            Err(e) => left.push(format!("cannot read the registry back: {e}")),
        }
        journal.append(Entry::Note {
            text: format!(
                "drill {id}: the breach could not be made ({e}); {}",
                if left.is_empty() {
                    "everything put back".to_string()
                } else {
                    format!("NOT put back: {}", left.join("; "))
                }
            ),
        });
        if left.is_empty() {
            let _ = std::fs::remove_file(&pending_path);
        }
        return Err(CliError::new(
            ExitStatus::Failure,
            format!("the drill could not make its breach: {e}"),
        )
        .with_hint(if left.is_empty() {
            "everything was put back as it was; check the serving and inject endpoints named in [models.X]".to_string()
        } else {
            format!(
                "NOT put back: {}; retry with `mlrb drill {model} --restore`",
                left.join("; ")
            )
        })
        .into());
    }
    p.status(&format!(
        "[2/5] breach made: {}",
        how.describe(&name, &target.mode)
    ));

    let r = Rehearsal {
        id: id.clone(),
        model: model.to_string(),
        registered: name.clone(),
        mode: args.mode,
        sandbox: false,
        breach: breach_text,
        started_at,
        wall,
        inner: Ctx {
            settings: Settings {
                notify: crate::config::NotifyConfig {
                    drill: Some(id.clone()),
                    ..ctx.settings.notify.clone()
                },
                ..ctx.settings.clone()
            },
            printer: Printer::nested(p.quiet || p.json()),
        },
        reg,
        before,
        objective,
        limit,
        pending: Some(pending_path),
    };
    let undo = move || {
        let mut problems = Vec::new();
        if let Err(e) = load_on_serving(&target, live) {
            problems.push(format!("serving was not put back on v{live}: {e}"));
        }
        if let Err(e) = how.stop(&target, &id) {
            problems.push(format!("the injected fault was not stopped: {e}"));
        }
        if let Some(before) = &serving_before {
            let shown = format!(
                "deployment/{}",
                target.serving.deployment.as_deref().unwrap_or_default()
            );
            match crate::serving::deployment_template(&target.serving) {
                Ok(Some(after)) => {
                    problems.extend(crate::serving::template_diff(&shown, before, &after))
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("serving not checked: {e}")),
            }
        }
        journal.append(Entry::Note {
            text: format!(
                "drill {id}: registry restored, serving back on v{live}{}",
                if problems.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", problems.join("; "))
                }
            ),
        });
        problems
    };
    conclude(ctx, &r, &mm, &base, Box::new(undo), None)
}

/// A staging drill's pre-drill state, on disk from before the breach until the restore is
/// checked: what `mlrb drill MODEL --restore` puts back when the drill was interrupted.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    id: String,
    model: String,
    registered: String,
    registry: String,
    live: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inject_url: Option<String>,
    started_at: DateTime<Utc>,
    before: RegState,
    /// The serving Deployment's pod template before the breach (kubectl serving kinds), which
    /// the restore compares as it compares the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serving_template: Option<serde_json::Value>,
}

fn pending_dir(state: &Path) -> PathBuf {
    state.join("drills-in-progress")
}

impl Pending {
    /// Written and synced before the drill changes anything; a drill that cannot keep it does
    /// not start.
    fn save(&self, state: &Path) -> Result<PathBuf> {
        let dir = pending_dir(state);
        let path = dir.join(format!("{}.json", self.id));
        let write = || -> std::io::Result<()> {
            crate::statedir::ensure(state)?;
            crate::statedir::ensure(&dir)?;
            let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            crate::files::write_replacing(&path, &body)
        };
        write().map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!(
                    "cannot save the pre-drill state to {} ({e}); nothing changed",
                    path.display()
                ),
            )
        })?;
        Ok(path)
    }
}

/// Interrupted staging drills of `model`, oldest first (unreadable files are skipped).
fn pending_of(state: &Path, model: &str) -> Vec<(Pending, PathBuf)> {
    let mut out: Vec<(Pending, PathBuf)> = std::fs::read_dir(pending_dir(state))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let p: Pending = serde_json::from_str(&text).ok()?;
            (p.model == model).then_some((p, e.path()))
        })
        .collect();
    out.sort_by_key(|(p, _)| p.started_at);
    out
}

/// Staging drills of `model` that have not restored the registry yet (interrupted, or still
/// running): (drill id, when it started), for `mlrb status`.
pub fn in_progress(state: &Path, model: &str) -> Vec<(String, DateTime<Utc>)> {
    pending_of(state, model)
        .into_iter()
        .map(|(p, _)| (p.id, p.started_at))
        .collect()
}

/// `mlrb drill MODEL --restore`: puts back what an interrupted staging drill changed — stages,
/// aliases, tags, serving and the injected fault — from the state it saved before the breach.
fn restore_interrupted(ctx: &Ctx, model: &str, yes: bool) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let Some((pending, path)) = pending_of(&ctx.settings.state_dir, model)
        .into_iter()
        .next()
    else {
        return Err(CliError::usage(format!(
            "no interrupted drill of `{model}` in {}",
            pending_dir(&ctx.settings.state_dir).display()
        ))
        .with_hint("`mlrb drill --history` lists the drills that finished")
        .into());
    };
    let reg = ctx.registry()?;
    if reg.location() != pending.registry {
        return Err(CliError::usage(format!(
            "drill {} changed {}, but the registry now configured is {}",
            pending.id,
            pending.registry,
            reg.location()
        ))
        .with_hint("run the restore with the drill's config (--config, --registry)")
        .into());
    }
    let name = &pending.registered;
    let now = snapshot(reg.as_ref(), name)?;
    let changes = diff(&pending.before, &now);
    p.status(&format!(
        "drill {} of {model} (started {}) was interrupted; {} difference(s) from its pre-drill state in {}:",
        pending.id,
        pending.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        changes.len(),
        pending.registry
    ));
    for c in &changes {
        p.status(&format!("  - {c}"));
    }
    p.status(&format!(
        "the restore puts them back and reloads serving on v{}{}",
        pending.live,
        if pending.inject_url.is_some() {
            ", and stops the injected fault"
        } else {
            ""
        }
    ));
    if let crate::commands::rollback::Confirmation::Declined =
        crate::commands::rollback::confirm(p, yes, "Restore the pre-drill state?")?
    {
        return Err(CliError::new(ExitStatus::Refused, "not restored: nothing changed").into());
    }
    let target = ctx.settings.model(model, None)?;
    // A rollback the drill started and nobody finished ends here: the pre-drill state replaces it.
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    for open in crate::journal::unfinished(&records, name, &reg.location()) {
        let in_drill = records
            .iter()
            .any(|r| r.event == open && r.at >= pending.started_at);
        if in_drill {
            Journal::new(&ctx.settings.state_dir, open).append(Entry::Finished {
                outcome: "superseded".into(),
                message: format!("drill {} was restored to its pre-drill state", pending.id),
            });
        }
    }
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = restore(reg.as_ref(), name, &pending.before) {
        problems.push(format!("restore failed: {e}"));
    }
    if let Err(e) = load_on_serving(&target, pending.live) {
        problems.push(format!(
            "serving was not put back on v{}: {e}",
            pending.live
        ));
    }
    if let Some(url) = &pending.inject_url
        && let Err(e) = inject(url, "stop", name, pending.live, &pending.id)
    {
        problems.push(format!("the injected fault was not stopped: {e}"));
    }
    match snapshot(reg.as_ref(), name) {
        Ok(after) => problems.extend(diff(&pending.before, &after)),
        Err(e) => problems.push(format!("cannot read the registry back: {e}")),
    }
    // The whole pod template, not only what the reload sets: a variable on a sidecar, an
    // image, a resource changed by the drill's reloads is a difference.
    if let Some(before) = &pending.serving_template {
        let shown = format!(
            "deployment/{}",
            target.serving.deployment.as_deref().unwrap_or_default()
        );
        match crate::serving::deployment_template(&target.serving) {
            Ok(Some(after)) => {
                problems.extend(crate::serving::template_diff(&shown, before, &after))
            }
            Ok(None) => problems.push(format!(
                "serving {shown} not checked: [serving] is no longer a kubectl kind"
            )),
            Err(e) => problems.push(format!("serving not checked: {e}")),
        }
    }
    Journal::new(&ctx.settings.state_dir, &pending.id).append(Entry::Note {
        text: if problems.is_empty() {
            format!(
                "drill {}: restored after an interruption (mlrb drill --restore)",
                pending.id
            )
        } else {
            format!(
                "drill {}: restore after an interruption incomplete — {}",
                pending.id,
                problems.join("; ")
            )
        },
    });
    if !problems.is_empty() {
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "drill {} not fully restored: {}",
                pending.id,
                problems.join("; ")
            ),
        )
        .with_hint(format!(
            "fix what is named and re-run `mlrb drill {model} --restore`"
        ))
        .into());
    }
    let _ = std::fs::remove_file(&path);
    p.status(&format!(
        "drill {} restored: stages, aliases and tags are exactly as before it, serving on v{}",
        pending.id, pending.live
    ));
    Ok(ExitStatus::Success)
}

/// How a staging drill breaks the live model, and how it stops breaking it.
enum Breach {
    /// A deploy of a known-bad version: the registry names it live and serving loads it.
    Promote { bad: u64, live: u64 },
    /// The user's endpoint makes the live version misbehave until told to stop.
    Endpoint { url: String, live: u64 },
}

impl Breach {
    fn describe(&self, name: &str, mode: &LiveMode) -> String {
        match self {
            Breach::Promote { bad, live } => match mode {
                LiveMode::Stage => format!(
                    "deploy known-bad v{bad} of {name} (v{bad} → Production, v{live} → Archived, serving reloaded)"
                ),
                LiveMode::Alias(a) => {
                    format!("deploy known-bad v{bad} of {name} (@{a} → v{bad}, serving reloaded)")
                }
            },
            Breach::Endpoint { url, live } => {
                format!(
                    "ask {} to inject a fault into v{live} of {name}",
                    shown(url)
                )
            }
        }
    }

    fn start(
        &self,
        reg: &dyn Registry,
        target: &ModelTarget,
        id: &str,
    ) -> std::result::Result<(), String> {
        let name = &target.registered_name;
        match self {
            Breach::Promote { bad, live } => {
                match &target.mode {
                    LiveMode::Stage => reg
                        .transition_stage(name, *bad, Stage::Production)
                        .and_then(|_| reg.transition_stage(name, *live, Stage::Archived)),
                    LiveMode::Alias(a) => reg.set_alias(name, a, *bad),
                }
                .map_err(|e| e.to_string())?;
                load_on_serving(target, *bad)
            }
            Breach::Endpoint { url, live } => inject(url, "start", name, *live, id),
        }
    }

    fn stop(&self, target: &ModelTarget, id: &str) -> std::result::Result<(), String> {
        match self {
            Breach::Promote { .. } => Ok(()),
            Breach::Endpoint { url, live } => {
                inject(url, "stop", &target.registered_name, *live, id)
            }
        }
    }
}

/// POSTs `{"action", "model", "version", "drill"}` to the fault-injection endpoint; 2xx is success.
fn inject(
    url: &str,
    action: &str,
    model: &str,
    version: u64,
    id: &str,
) -> std::result::Result<(), String> {
    let http = crate::serving::client()?;
    let body =
        json!({"action": action, "model": model, "version": version.to_string(), "drill": id});
    let resp = http
        .send(|c| c.post(url).json(&body), true)
        .map_err(|e| format!("{}: {}", shown(url), crate::http::error_detail(&e)))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "{} answered {} to `{action}`: {}",
            shown(url),
            status.as_u16(),
            crate::http::one_line(&crate::http::error_text(resp), 160)
        ))
    }
}

/// A URL for messages and the journal: credentials and token-like query values redacted.
fn shown(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| crate::http::redact_url(&u))
        .unwrap_or_else(|_| "inject_url".into())
}

/// Has the serving layer load `version`, the way a rollback's plan would.
fn load_on_serving(target: &ModelTarget, version: u64) -> std::result::Result<(), String> {
    let s = &target.serving;
    let mut steps = Vec::new();
    if s.kind == ServingKind::Http
        && let (Some(reload), Some(health)) = (&s.reload_url, &s.health_url)
    {
        steps.push(Step::Reload {
            url: reload.clone(),
            version,
        });
        steps.push(Step::AwaitServing {
            url: health.clone(),
            version,
            timeout: s.timeout.unwrap_or(Duration::from_secs(120)),
        });
    }
    steps.extend(crate::plan::reload_commands(s, version));
    let http = OnceCell::new();
    for step in &steps {
        crate::rollback::kinds::model::serving_step(&http, s, &target.registered_name, step)
            .map_err(|(_, e)| e)?;
    }
    Ok(())
}

/// Steps 3–5 of every drill and its record: the rollback (by the on-call or the controller), the
/// MTTR from the journal, the restore and its check, the history, the report and the exit code.
fn conclude(
    ctx: &Ctx,
    r: &Rehearsal,
    mm: &ModelMetrics,
    base: &Baseline,
    undo: Box<dyn FnOnce() -> Vec<String> + '_>,
    sandbox_dir: Option<tempfile::TempDir>,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let model = r.model.as_str();
    let mode = r.mode;
    let id = &r.id;
    // 3. Detection and rollback, by the on-call (manual) or by the controller (auto).
    let rolled = match mode {
        DrillMode::Manual => manual(&r.inner, mm, base, model, r.limit),
        DrillMode::Auto => {
            let ctl = r.inner.settings.models.get(model).map(|m| &m.controller);
            p.status(&format!(
                "[3/5] `mlrb watch`: checking every {}, rollback after {} consecutive hard breaches",
                humantime::format_duration(ctl.map(|c| c.check_interval).unwrap_or_default()),
                ctl.map(|c| c.consecutive_failures_required).unwrap_or_default()
            ));
            crate::commands::watch::until_rollback(&r.inner, model, r.limit).map(|done| {
                if done {
                    ExitStatus::Success
                } else {
                    ExitStatus::Failure
                }
            })
        }
    };
    if let Err(e) = &rolled {
        p.warn(&format!("the drill's rollback failed: {e:#}"));
    }

    // 4. MTTR from the journal: the model rollback this drill started.
    let (records, _) = crate::journal::read_all(&r.inner.settings.state_dir).unwrap_or_default();
    let event = records.iter().rev().find_map(|rec| match &rec.entry {
        Entry::Started {
            command, model: m, ..
        } if command == "rollback model" && m == model && rec.at >= r.started_at => {
            Some(rec.event.clone())
        }
        _ => None,
    });
    let mine: Vec<&Record> = records
        .iter()
        .filter(|rec| Some(&rec.event) == event.as_ref())
        .collect();
    let outcome = mine
        .iter()
        .find_map(|rec| match &rec.entry {
            Entry::Finished { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "none".into());
    let mttr = crate::mttr::from_records(&mine);
    p.status(&format!("[4/5] rollback outcome: {outcome}"));

    // 5. Restore the registry (and serving) as they were before the drill, and check it.
    let restore_err = restore(r.reg.as_ref(), &r.registered, &r.before).err();
    let problems = undo();
    let mut differences = match snapshot(r.reg.as_ref(), &r.registered) {
        Ok(after) => diff(&r.before, &after),
        Err(e) => vec![format!("cannot read the registry back: {e}")],
    };
    if let Some(e) = restore_err {
        differences.insert(0, format!("restore failed: {e}"));
    }
    differences.extend(problems);
    if let (true, Some(path)) = (differences.is_empty(), &r.pending) {
        let _ = std::fs::remove_file(path);
    }
    p.status(&if differences.is_empty() {
        "[5/5] restored: stages, aliases and tags are exactly as before the drill".to_string()
    } else {
        format!(
            "[5/5] NOT restored: {} difference(s) from the pre-drill state",
            differences.len()
        )
    });

    let ms = |name: &str| {
        mttr.phases
            .iter()
            .find(|ph| ph.name == name)
            .and_then(|ph| ph.millis)
    };
    let objective = r.objective;
    let objective_met =
        objective.map(|o| mttr.complete && mttr.total_millis as u128 <= o.as_millis());
    let rollback_ok = matches!(rolled, Ok(ExitStatus::Success)) && outcome == "rolled_back";
    let rec = DrillRecord {
        id: id.clone(),
        model: model.to_string(),
        mode,
        sandbox: r.sandbox,
        breach: Some(r.breach.clone()),
        started_at: r.started_at,
        event: event.clone().filter(|_| !r.sandbox),
        wall_millis: r.wall.elapsed().as_millis() as u64,
        detection_millis: ms("detection"),
        triage_millis: ms("triage"),
        execution_millis: ms("execution"),
        verification_millis: ms("verification"),
        mttr_millis: mttr.total_millis,
        mttr_complete: mttr.complete,
        rollback: outcome.clone(),
        restored: differences.is_empty(),
        differences: differences.clone(),
        objective_millis: objective.map(|o| o.as_millis() as u64),
        objective_met,
        passed: rollback_ok && differences.is_empty() && objective_met != Some(false),
    };
    let earlier: Vec<DrillRecord> = read_history(&ctx.settings.state_dir)?
        .into_iter()
        .filter(|h| h.model == model)
        .collect();
    append_history(&ctx.settings.state_dir, &rec)?;
    let same_mode: Vec<DrillRecord> = earlier
        .iter()
        .filter(|h| h.mode == mode && h.sandbox == r.sandbox)
        .cloned()
        .collect();
    let trend = trend(&same_mode, &rec);
    if p.json() {
        p.out_json(&json!({"drill": rec, "trend": trend, "earlier": earlier}));
    } else {
        let mut s = format!(
            "\n# Drill {id}: {model} ({} mode, {})\n\n",
            mode_name(mode),
            if r.sandbox { "sandbox" } else { "staging" }
        );
        s.push_str(&format!("{}\n", mttr.markdown()));
        s.push_str(&format!(
            "- breach: {}\n- rollback: {outcome}{}\n- registry restored: {}\n",
            r.breach,
            event
                .as_deref()
                .filter(|_| !r.sandbox)
                .map(|e| format!(" (event {e}; `mlrb report {e}`)"))
                .unwrap_or_default(),
            if differences.is_empty() {
                "yes, exactly".to_string()
            } else {
                format!("NO — {}", differences.join("; "))
            }
        ));
        if let Some(o) = objective {
            s.push_str(&format!(
                "- MTTR objective {}: {}\n",
                humantime::format_duration(o),
                if objective_met == Some(true) {
                    "met"
                } else {
                    "MISSED"
                }
            ));
        }
        s.push_str(&format!(
            "- trend: {trend}\n- wall time: {:.1} s\n",
            rec.wall_millis as f64 / 1000.0
        ));
        if !earlier.is_empty() {
            s.push_str("\nEarlier drills of this model:\n\n");
            s.push_str(&table(&earlier));
        }
        p.out(&s);
    }

    if !differences.is_empty() {
        let hint = match sandbox_dir {
            Some(tmp) => format!(
                "the sandbox registry is kept for inspection: {}",
                tmp.keep().join("registry.json").display()
            ),
            None => format!(
                "retry with `mlrb drill {model} --restore`, or put them back by hand (`mlrb status {model}` shows the registry now)"
            ),
        };
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "the drill did not restore the pre-drill state: {}",
                differences.join("; ")
            ),
        )
        .with_hint(hint)
        .into());
    }
    if !rollback_ok {
        return Err(CliError::new(
            ExitStatus::Failure,
            format!("the drill's rollback did not complete (outcome: {outcome})"),
        )
        .with_hint("the messages above say which step failed")
        .into());
    }
    if let (Some(o), Some(false)) = (objective, objective_met) {
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "MTTR {} missed the objective of {}",
                clock::human(chrono::Duration::milliseconds(mttr.total_millis)),
                humantime::format_duration(o)
            ),
        )
        .with_hint("the phase table shows where the time went")
        .into());
    }
    p.status(&format!("drill {id} passed"));
    Ok(ExitStatus::Success)
}

/// The on-call path: an alert that fires once the breach has held for a second, then
/// `mlrb rollback model MODEL --yes`.
fn manual(
    ctx: &Ctx,
    mm: &ModelMetrics,
    base: &Baseline,
    model: &str,
    limit: Duration,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let deadline = Instant::now() + limit;
    let mut first: Option<Instant> = None;
    loop {
        let snap = mm.read(None).map_err(CliError::from)?;
        let e = mm.decide(&snap.values, base);
        if e.decision == Decision::RollbackNow {
            let since = *first.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(1) {
                p.status(&format!(
                    "[3/5] alert fired: {} [{}]; on-call runs `mlrb rollback model {model} --yes`",
                    e.reason,
                    fmt_snapshot(&snap)
                ));
                break;
            }
        } else {
            first = None;
        }
        if Instant::now() >= deadline {
            return Err(CliError::new(
                ExitStatus::Failure,
                format!(
                    "the breach was not seen by the metrics client within {}",
                    humantime::format_duration(limit)
                ),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    super::rollback::model::unattended(
        ctx,
        &crate::rollback::Request::unattended(
            model,
            "drill: prediction diversity collapse".into(),
            "mlrb-drill",
            None,
        ),
        None,
        None,
    )
}

fn mode_name(m: DrillMode) -> &'static str {
    match m {
        DrillMode::Manual => "manual",
        DrillMode::Auto => "auto",
    }
}

/// The sandbox model: metrics from the synthetic server, short intervals so a drill takes seconds.
fn sandbox_settings(model: &str, reg: &Path, state: &Path, prom: &str) -> Settings {
    let cfg = ModelConfig {
        metrics: Some(MetricsConfig {
            prometheus_url: prom.to_string(),
            timeout: Some(Duration::from_secs(5)),
            detection_lookback: Some(Duration::from_secs(300)),
            error_rate: Some("mlrb_drill_error_rate".into()),
            prediction_diversity: Some("mlrb_drill_prediction_diversity".into()),
            ..Default::default()
        }),
        baseline: BaselineConfig {
            source: None,
            offset: None,
            values: HEALTHY.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        },
        controller: ControllerConfig {
            check_interval: Duration::from_secs(1),
            consecutive_failures_required: 3,
            post_rollback_watch: Duration::from_secs(1),
            ..Default::default()
        },
        verify: VerifyConfig {
            tolerance: 0.10,
            timeout: Duration::from_secs(15),
            interval: Duration::from_millis(250),
        },
        ..Default::default()
    };
    Settings {
        config_path: None,
        registry: Some(RegistryTarget::File {
            path: reg.to_path_buf(),
        }),
        http: HttpOptions::default(),
        models: BTreeMap::from([(model.to_string(), cfg)]),
        state_dir: state.to_path_buf(),
        notify: Default::default(),
        registry_credentials: true,
        sources: Vec::new(),
    }
}

/// What a drill must leave as it found it: stages, aliases and tags (timestamps excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RegState {
    aliases: BTreeMap<String, u64>,
    tags: BTreeMap<String, String>,
    versions: BTreeMap<u64, VersionState>,
}

/// A version's stage and tags.
type VersionState = (Stage, BTreeMap<String, String>);

fn snapshot(reg: &dyn Registry, name: &str) -> Result<RegState> {
    let m = reg.get_model(name).map_err(CliError::from)?;
    let versions = registry::all_versions(reg, name).map_err(CliError::from)?;
    Ok(RegState {
        aliases: m.aliases,
        tags: m.tags,
        versions: versions
            .into_iter()
            .map(|v| (v.version, (v.stage, v.tags)))
            .collect(),
    })
}

fn diff_map<V: PartialEq + std::fmt::Display>(
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    let show = |v: Option<&V>| v.map(|v| format!("`{v}`")).unwrap_or("(absent)".into());
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        if a.get(k) != b.get(k) {
            out.push(format!(
                "{what} {k}: {} before, {} after",
                show(a.get(k)),
                show(b.get(k))
            ));
        }
    }
}

/// Every difference between two states, one line each, for the failure message.
fn diff(a: &RegState, b: &RegState) -> Vec<String> {
    let mut out = Vec::new();
    diff_map("model tag", &a.tags, &b.tags, &mut out);
    diff_map("alias @", &a.aliases, &b.aliases, &mut out);
    for (v, (stage, tags)) in &a.versions {
        match b.versions.get(v) {
            None => out.push(format!("v{v} is missing")),
            Some((s2, t2)) => {
                if s2 != stage {
                    out.push(format!("v{v} stage: {stage} before, {s2} after"));
                }
                diff_map(&format!("v{v} tag"), tags, t2, &mut out);
            }
        }
    }
    for v in b.versions.keys().filter(|v| !a.versions.contains_key(v)) {
        out.push(format!("v{v} is new"));
    }
    out
}

/// Puts stages, aliases and tags back as `before` had them: the versions that were live first,
/// so serving never reads a registry with nothing live.
fn restore(reg: &dyn Registry, name: &str, before: &RegState) -> Result<()> {
    let now = snapshot(reg, name)?;
    let mut order: Vec<(&u64, &VersionState)> = before.versions.iter().collect();
    order.sort_by_key(|(_, (stage, _))| *stage != Stage::Production);
    for (v, (stage, tags)) in order {
        let Some((s2, t2)) = now.versions.get(v) else {
            continue;
        };
        if s2 != stage {
            reg.transition_stage(name, *v, *stage)?;
        }
        let extra: Vec<String> = t2
            .keys()
            .filter(|k| !tags.contains_key(*k))
            .cloned()
            .collect();
        if !extra.is_empty() {
            reg.remove_drill_marks(name, Some(*v), &extra, &[])?;
        }
        let changed: Vec<(String, String)> = tags
            .iter()
            .filter(|(k, val)| t2.get(*k) != Some(val))
            .map(|(k, val)| (k.clone(), val.clone()))
            .collect();
        if !changed.is_empty() {
            reg.set_version_tags(name, *v, &changed)?;
        }
    }
    let extra_tags: Vec<String> = now
        .tags
        .keys()
        .filter(|k| !before.tags.contains_key(*k))
        .cloned()
        .collect();
    let extra_aliases: Vec<String> = now
        .aliases
        .keys()
        .filter(|k| !before.aliases.contains_key(*k))
        .cloned()
        .collect();
    if !extra_tags.is_empty() || !extra_aliases.is_empty() {
        reg.remove_drill_marks(name, None, &extra_tags, &extra_aliases)?;
    }
    for (k, val) in &before.tags {
        if now.tags.get(k) != Some(val) {
            reg.set_model_tag(name, k, val)?;
        }
    }
    for (a, v) in &before.aliases {
        if now.aliases.get(a) != Some(v) {
            reg.set_alias(name, a, *v)?;
        }
    }
    Ok(())
}

fn history_path(state: &Path) -> PathBuf {
    state.join(HISTORY_FILE)
}

/// Every drill recorded in the state dir, oldest first; unreadable lines are skipped.
pub fn read_history(state: &Path) -> Result<Vec<DrillRecord>> {
    let text = match std::fs::read_to_string(history_path(state)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(CliError::new(
                ExitStatus::Failure,
                format!(
                    "cannot read the drill history {}: {e}",
                    history_path(state).display()
                ),
            )
            .into());
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn append_history(state: &Path, rec: &DrillRecord) -> Result<()> {
    let path = history_path(state);
    let write = || -> std::io::Result<()> {
        crate::statedir::ensure(state)?;
        let mut f = crate::files::open_private(&path, true)?;
        let mut line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
        line.push('\n');
        f.write_all(line.as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| {
        CliError::new(
            ExitStatus::Failure,
            format!("cannot append to the drill history {}: {e}", path.display()),
        )
        .into()
    })
}

/// Is MTTR getting better? This drill against the mean of the last three complete ones (of the
/// same model and mode: a controller and a person are not the same race).
fn trend(earlier: &[DrillRecord], now: &DrillRecord) -> String {
    let prev: Vec<i64> = earlier
        .iter()
        .rev()
        .filter(|r| r.mttr_complete)
        .take(3)
        .map(|r| r.mttr_millis)
        .collect();
    if prev.is_empty() || !now.mttr_complete {
        return format!(
            "first measured {} drill of this model: no trend yet",
            mode_name(now.mode)
        );
    }
    let mean = prev.iter().sum::<i64>() as f64 / prev.len() as f64;
    let d = |ms: f64| clock::human(chrono::Duration::milliseconds(ms as i64));
    let change = (now.mttr_millis as f64 - mean) / mean.max(1.0);
    let word = if change < -0.10 {
        "better"
    } else if change > 0.10 {
        "worse"
    } else {
        "steady"
    };
    format!(
        "{word}: MTTR {} vs {} on average over the last {} drill(s) ({:+.0}%)",
        d(now.mttr_millis as f64),
        d(mean),
        prev.len(),
        change * 100.0
    )
}

fn table(recs: &[DrillRecord]) -> String {
    let ms = |v: Option<i64>| {
        v.map(|m| clock::human(chrono::Duration::milliseconds(m)))
            .unwrap_or_else(|| "—".into())
    };
    let mut s = format!(
        "{:<20} {:<8} {:<7} {:<6} {:>10} {:>10} {:>10} {:>12} {:>10} {:<8}\n",
        "started (UTC)",
        "model",
        "where",
        "mode",
        "detection",
        "triage",
        "execution",
        "verification",
        "MTTR",
        "result"
    );
    for r in recs.iter().rev().take(20) {
        s.push_str(&format!(
            "{:<20} {:<8} {:<7} {:<6} {:>10} {:>10} {:>10} {:>12} {:>10} {:<8}\n",
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.model,
            if r.sandbox { "sandbox" } else { "staging" },
            mode_name(r.mode),
            ms(r.detection_millis),
            ms(r.triage_millis),
            ms(r.execution_millis),
            ms(r.verification_millis),
            ms(Some(r.mttr_millis)),
            if r.passed { "passed" } else { "FAILED" }
        ));
    }
    s
}

/// The incident report's drill section when `event` is the rollback of a staging drill: which
/// drill, how it went, and its MTTR against the earlier drills of the same kind.
pub fn report_section(state: &Path, event: &str) -> Option<String> {
    let recs = read_history(state).ok()?;
    let i = recs
        .iter()
        .position(|r| r.event.as_deref() == Some(event))?;
    let rec = &recs[i];
    let earlier: Vec<DrillRecord> = recs[..i]
        .iter()
        .filter(|r| r.model == rec.model && r.mode == rec.mode && r.sandbox == rec.sandbox)
        .cloned()
        .collect();
    let mut s = format!(
        "\n## Drill\n\nThis rollback was drill {} ({} mode, {}; breach: {}): {}, registry {}.\n\n- MTTR trend: {}\n",
        rec.id,
        mode_name(rec.mode),
        if rec.sandbox { "sandbox" } else { "staging" },
        rec.breach.as_deref().unwrap_or("?"),
        if rec.passed { "passed" } else { "FAILED" },
        if rec.restored {
            "restored exactly"
        } else {
            "NOT restored"
        },
        trend(&earlier, rec)
    );
    if !earlier.is_empty() {
        s.push_str(&format!("\n```\n{}```\n", table(&earlier)));
    }
    Some(s)
}

/// `mlrb drill --history`: the records, newest first, with the trend of the newest.
fn history(ctx: &Ctx, model: Option<&str>) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let recs: Vec<DrillRecord> = read_history(&ctx.settings.state_dir)?
        .into_iter()
        .filter(|r| model.is_none_or(|m| r.model == m))
        .collect();
    let trend_text = recs
        .split_last()
        .map(|(last, earlier)| {
            let same: Vec<DrillRecord> = earlier
                .iter()
                .filter(|r| r.model == last.model && r.mode == last.mode)
                .cloned()
                .collect();
            trend(&same, last)
        })
        .unwrap_or_else(|| "no drills recorded".into());
    if p.json() {
        let mut newest_first = recs.clone();
        newest_first.reverse();
        p.out_json(&json!({"drills": newest_first, "trend": trend_text}));
        return Ok(ExitStatus::Success);
    }
    if recs.is_empty() {
        p.status(&format!(
            "no drills recorded in {}; run `mlrb drill MODEL --sandbox`",
            history_path(&ctx.settings.state_dir).display()
        ));
        return Ok(ExitStatus::Success);
    }
    let spark = recs
        .last()
        .and_then(|last| mttr_sparkline(&recs, last))
        .map(|s| format!("\n{s}"))
        .unwrap_or_default();
    p.out(&format!("{}\ntrend: {trend_text}{spark}", table(&recs)));
    Ok(ExitStatus::Success)
}

/// The MTTR of the drills like `last` (same model and mode), oldest to newest, as a sparkline
/// with its range: "MTTR of 5 drills like it, oldest to newest: ▃▁█▂▁ (1.2s–9.8s)". `None`
/// under two.
fn mttr_sparkline(recs: &[DrillRecord], last: &DrillRecord) -> Option<String> {
    let same: Vec<&DrillRecord> = recs
        .iter()
        .filter(|r| r.model == last.model && r.mode == last.mode)
        .collect();
    let shown = &same[same.len().saturating_sub(40)..];
    if shown.len() < 2 {
        return None;
    }
    let values: Vec<f64> = shown.iter().map(|r| r.mttr_millis as f64).collect();
    let ms = |v: f64| crate::clock::human(chrono::Duration::milliseconds(v as i64));
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    Some(format!(
        "MTTR of {} drills like it, oldest to newest: {} ({}–{})",
        shown.len(),
        crate::chart::sparkline(&values),
        ms(lo),
        ms(hi)
    ))
}

/// A Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`) inside the drill process,
/// serving healthy values until the breach is injected, then breached values for as long as the
/// version that was live at the breach is still live in the drill registry.
struct Synthetic {
    url: String,
    state: Arc<SynthState>,
}

struct SynthState {
    registry: PathBuf,
    model: String,
    bad_version: u64,
    breach_at: Mutex<Option<DateTime<Utc>>>,
    recovered_at: Mutex<Option<DateTime<Utc>>>,
}

impl Synthetic {
    fn start(registry: PathBuf, model: String, bad_version: u64) -> Result<Synthetic> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!("cannot start the drill's metrics server on loopback: {e}"),
            )
        })?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(anyhow::Error::from)?
        );
        let state = Arc::new(SynthState {
            registry,
            model,
            bad_version,
            breach_at: Mutex::new(None),
            recovered_at: Mutex::new(None),
        });
        let s = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // One connection at a time: the drill is the only client.
                let _ = serve(&s, stream);
            }
        });
        Ok(Synthetic { url, state })
    }

    fn inject(&self) {
        *self
            .state
            .breach_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(clock::now());
    }
}

impl SynthState {
    /// Notes the first moment the bad version is no longer live.
    fn observe(&self) {
        let live_bad = registry::all_versions(&FileRegistry::new(&self.registry), &self.model)
            .map(|vs| {
                vs.iter()
                    .any(|v| v.version == self.bad_version && v.stage == Stage::Production)
            })
            .unwrap_or(true);
        let breach = *self.breach_at.lock().unwrap_or_else(|e| e.into_inner());
        let mut rec = self.recovered_at.lock().unwrap_or_else(|e| e.into_inner());
        if breach.is_some() && !live_bad && rec.is_none() {
            *rec = Some(clock::now());
        }
    }

    fn value(&self, metric: &str, t: DateTime<Utc>) -> f64 {
        let breach = *self.breach_at.lock().unwrap_or_else(|e| e.into_inner());
        let rec = *self.recovered_at.lock().unwrap_or_else(|e| e.into_inner());
        let bad = breach.is_some_and(|b| t >= b) && rec.is_none_or(|r| t < r);
        let table = if bad { BREACHED } else { HEALTHY };
        table
            .iter()
            .find(|(k, _)| metric.contains(k))
            .map(|(_, v)| *v)
            .unwrap_or(f64::NAN)
    }
}

fn serve(s: &SynthState, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let url = reqwest::Url::parse(&format!("http://drill{target}"))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    let query = q.get("query").cloned().unwrap_or_default();
    let time = |k: &str| {
        q.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0) as i64))
    };
    s.observe();
    let secs = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
    let (status, body) = match url.path() {
        "/api/v1/query" => {
            let t = time("time").unwrap_or_else(clock::now);
            let v = s.value(&query, t);
            (
                "200 OK",
                json!({"status": "success", "data": {"resultType": "vector",
                    "result": [{"metric": {}, "value": [secs(t), v.to_string()]}]}}),
            )
        }
        "/api/v1/query_range" => {
            let (start, end) = (time("start"), time("end"));
            let step = q
                .get("step")
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| *s > 0.0)
                .unwrap_or(1.0);
            let mut values = Vec::new();
            if let (Some(start), Some(end)) = (start, end) {
                let mut t = start;
                while t <= end && values.len() < 11_000 {
                    values.push(json!([secs(t), s.value(&query, t).to_string()]));
                    t += chrono::Duration::milliseconds((step * 1000.0) as i64);
                }
            }
            (
                "200 OK",
                json!({"status": "success", "data": {"resultType": "matrix",
                    "result": [{"metric": {}, "values": values}]}}),
            )
        }
        _ => (
            "404 Not Found",
            json!({"status": "error", "errorType": "not_found", "error": "unknown path"}),
        ),
    };
    let body = body.to_string();
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inject_urls_are_shown_without_their_secrets() {
        let s = shown("https://ops:hunter2@staging/fault?token=abc&mode=slow");
        assert!(!s.contains("hunter2") && !s.contains("abc"), "{s}");
        // Every query value may be a secret (issue 17 item 4): the keys stay, the values go.
        assert!(s.contains("mode=[redacted]"), "{s}");
        assert_eq!(shown("not a url"), "inject_url");
    }
}
