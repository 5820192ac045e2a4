//! `mlrb drill`: a rehearsed incident — healthy, breach, detect, roll back, verify, restore — with
//! the MTTR of every drill kept in `drills.jsonl` and compared with the earlier ones.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::{DrillArgs, DrillMode, ModelRollbackArgs, OutputArgs, RollbackOptions};
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::config::{
    BaselineConfig, ControllerConfig, MetricsConfig, ModelConfig, RegistryTarget, Settings,
    VerifyConfig,
};
use crate::error::{CliError, ExitStatus};
use crate::http::HttpOptions;
use crate::journal::{Entry, Record};
use crate::metrics::decision::Decision;
use crate::metrics::{ModelMetrics, fmt_snapshot};
use crate::printer::Printer;
use crate::registry::{self, Registry, Stage, file::FileRegistry, tags};

/// The history file in the state dir: one JSON object per drill.
pub const HISTORY_FILE: &str = "drills.jsonl";

/// Healthy and breached values the synthetic Prometheus serves (the reference incident's).
const HEALTHY: [(&str, f64); 2] = [("error_rate", 0.01), ("prediction_diversity", 0.73)];
const BREACHED: [(&str, f64); 2] = [("error_rate", 0.08), ("prediction_diversity", 0.04)];

/// One drill, as `drills.jsonl` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillRecord {
    pub id: String,
    pub model: String,
    pub mode: DrillMode,
    pub sandbox: bool,
    pub started_at: DateTime<Utc>,
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
    if !args.sandbox {
        return Err(CliError::usage(
            "a drill against the configured registry and Prometheus (staging) is not available yet",
        )
        .with_hint(format!(
            "rehearse on a throwaway registry with synthetic metrics: `mlrb drill {model} --sandbox`"
        ))
        .into());
    }
    let objective = args.mttr_objective.or_else(|| {
        ctx.settings
            .models
            .get(model)
            .and_then(|m| m.drill.mttr_objective)
    });
    sandbox(ctx, model, args.mode, objective)
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

    // 3. Detection and rollback, by the on-call (manual) or by the controller (auto).
    let rolled = match mode {
        DrillMode::Manual => manual(&inner, &mm, &base, model),
        DrillMode::Auto => {
            p.status(
                "[3/5] `mlrb watch`: checking every 1 s, rollback after 3 consecutive hard breaches",
            );
            crate::commands::watch::until_rollback(&inner, model, Duration::from_secs(20)).map(
                |done| {
                    if done {
                        ExitStatus::Success
                    } else {
                        ExitStatus::Failure
                    }
                },
            )
        }
    };
    if let Err(e) = &rolled {
        p.warn(&format!("the drill's rollback failed: {e:#}"));
    }

    // 4. MTTR from the drill's journal.
    let (records, _) = crate::journal::read_all(&inner.settings.state_dir).unwrap_or_default();
    let event = records.iter().rev().find_map(|r| match &r.entry {
        Entry::Started { command, .. } if command == "rollback model" => Some(r.event.clone()),
        _ => None,
    });
    let mine: Vec<&Record> = records
        .iter()
        .filter(|r| Some(&r.event) == event.as_ref())
        .collect();
    let outcome = mine
        .iter()
        .find_map(|r| match &r.entry {
            Entry::Finished { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "none".into());
    let mttr = crate::mttr::from_records(&mine);
    p.status(&format!("[4/5] rollback outcome: {outcome}"));

    // 5. Restore the registry as it was before the drill, and check it.
    let restore_err = restore(&reg, model, &before).err();
    if std::env::var_os("MLRB_TEST_DRILL_TAMPER").is_some() {
        // A test-only fault: someone changes the registry between the restore and the check.
        reg.set_version_tag(model, 1, "drill.tampered", "true")?;
    }
    let mut differences = match snapshot(&reg, model) {
        Ok(after) => diff(&before, &after),
        Err(e) => vec![format!("cannot read the registry back: {e}")],
    };
    if let Some(e) = restore_err {
        differences.insert(0, format!("restore failed: {e}"));
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
    let objective_met =
        objective.map(|o| mttr.complete && mttr.total_millis as u128 <= o.as_millis());
    let rollback_ok = matches!(rolled, Ok(ExitStatus::Success)) && outcome == "rolled_back";
    let rec = DrillRecord {
        id: id.clone(),
        model: model.to_string(),
        mode,
        sandbox: true,
        started_at,
        wall_millis: wall.elapsed().as_millis() as u64,
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
        .filter(|r| r.model == model)
        .collect();
    append_history(&ctx.settings.state_dir, &rec)?;
    let same_mode: Vec<DrillRecord> = earlier.iter().filter(|r| r.mode == mode).cloned().collect();
    let trend = trend(&same_mode, &rec);
    if p.json() {
        p.out_json(&json!({"drill": rec, "trend": trend, "earlier": earlier}));
    } else {
        let mut s = format!(
            "\n# Drill {id}: {model} ({} mode, sandbox)\n\n",
            mode_name(mode)
        );
        s.push_str(&format!("{}\n", mttr.markdown()));
        s.push_str(&format!(
            "- rollback: {outcome}\n- registry restored: {}\n",
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
        let kept = tmp.keep();
        return Err(CliError::new(
            ExitStatus::Failure,
            format!(
                "the drill did not restore the pre-drill registry state: {}",
                differences.join("; ")
            ),
        )
        .with_hint(format!(
            "the sandbox registry is kept for inspection: {}",
            kept.join("registry.json").display()
        ))
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
    base: &crate::metrics::Baseline,
    model: &str,
) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let deadline = Instant::now() + Duration::from_secs(15);
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
                "the injected breach was never seen by the metrics client",
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    super::rollback::model::run(
        ctx,
        &ModelRollbackArgs {
            common: RollbackOptions {
                reason: Some("drill: prediction diversity collapse".into()),
                yes: true,
                dry_run: false,
                detected_at: None,
                triggered_by: Some("mlrb-drill".into()),
            },
            model: model.into(),
            to: None,
            resume: false,
            force_unlock: false,
            fallback: false,
            alias: None,
            no_verify: false,
            output: OutputArgs::default(),
        },
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
    }
}

/// What a drill must leave as it found it: stages, aliases and tags (timestamps excluded).
#[derive(Debug, Clone, PartialEq)]
struct RegState {
    aliases: BTreeMap<String, u64>,
    tags: BTreeMap<String, String>,
    versions: BTreeMap<u64, (Stage, BTreeMap<String, String>)>,
}

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

/// Puts stages, aliases and tags back as `before` had them.
fn restore(reg: &FileRegistry, name: &str, before: &RegState) -> Result<()> {
    let now = snapshot(reg, name)?;
    for (v, (stage, tags)) in &before.versions {
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
            reg.remove_for_drill(name, Some(*v), &extra, &[])?;
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
        reg.remove_for_drill(name, None, &extra_tags, &extra_aliases)?;
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
        std::fs::create_dir_all(state)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
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
        "{:<20} {:<8} {:<6} {:>10} {:>10} {:>10} {:>12} {:>10} {:<8}\n",
        "started (UTC)",
        "model",
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
            "{:<20} {:<8} {:<6} {:>10} {:>10} {:>10} {:>12} {:>10} {:<8}\n",
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.model,
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
    p.out(&format!("{}\ntrend: {trend_text}", table(&recs)));
    Ok(ExitStatus::Success)
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
