//! The staging drill: against the configured registry, serving and Prometheus, a breach made
//! by a deploy of a known-bad version or a fault the user's endpoint injects, then put back.

use std::cell::OnceCell;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Mode;
use super::restore::{Pending, RegState, diff, pending_of, restore, snapshot};
use super::{Finished, Rehearsal, conclude};
use crate::clock;
use crate::config::{DrillBreach, ModelTarget, ServingKind, Settings};
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::journal::{Entry, Journal};
use crate::metrics::decision::Decision;
use crate::metrics::{Baseline, ModelMetrics, fmt_snapshot};
use crate::plan::Step;
use crate::printer::Printer;
use crate::registry::{self, LiveMode, Registry, Stage};

/// How long a staging drill waits for its breach to be seen and rolled back, unless configured.
const STAGING_TIMEOUT: Duration = Duration::from_secs(600);

/// A staging drill checked and ready, nothing changed yet: what it will do, for the command to
/// show and confirm before [`run`].
pub struct Prepared {
    pub id: String,
    pub model: String,
    /// The registered model's name.
    pub name: String,
    /// The registry, as `Registry::location` names it.
    pub location: String,
    pub live: u64,
    pub mode: LiveMode,
    pub prometheus_url: String,
    /// The breach, in words.
    pub what: String,
    /// How long detection and the rollback may take.
    pub limit: Duration,
    wall: Instant,
    started_at: DateTime<Utc>,
    target: ModelTarget,
    reg: Box<dyn Registry>,
    how: Breach,
    breach_text: String,
    serving_before: Option<serde_json::Value>,
    before: RegState,
    mm: ModelMetrics,
    base: Baseline,
    /// The healthy check before the breach, as progress shows it.
    healthy: String,
}

/// Checks everything a staging drill of `model` needs (config, serving, one live version, the
/// breach, no unfinished rollback, healthy metrics) and reads the state it will put back.
pub fn prepare(ctx: &Ctx, model: &str) -> Result<Prepared> {
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
    Ok(Prepared {
        id,
        model: model.to_string(),
        location: reg.location(),
        live,
        mode: target.mode.clone(),
        prometheus_url: cfg
            .metrics
            .as_ref()
            .map(|m| m.prometheus_url.clone())
            .unwrap_or_else(|| "?".into()),
        what: how.describe(&name, &target.mode),
        name,
        limit,
        wall,
        started_at,
        target,
        reg,
        how,
        breach_text,
        serving_before,
        before,
        mm,
        base,
        healthy: format!("[1/5] healthy: {} → {}", fmt_snapshot(&snap), e.decision),
    })
}

/// The confirmed drill: saves the pre-drill state, makes the breach, then lets the on-call or
/// the controller roll back, and puts everything back.
pub fn run(
    ctx: &Ctx,
    prepared: Prepared,
    mode: Mode,
    objective: Option<Duration>,
) -> Result<Finished> {
    let p = &ctx.printer;
    let Prepared {
        id,
        model,
        name,
        live,
        limit,
        wall,
        started_at,
        target,
        reg,
        how,
        breach_text,
        serving_before,
        before,
        mm,
        base,
        healthy,
        ..
    } = prepared;
    let model = model.as_str();
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
    p.status(&healthy);
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
        mode,
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
pub(super) fn inject(
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
pub(super) fn load_on_serving(
    target: &ModelTarget,
    version: u64,
) -> std::result::Result<(), String> {
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
