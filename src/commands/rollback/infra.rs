//! `mlrb rollback infra`: kubectl rollout undo or helm rollback, with the same plan → confirm →
//! execute → verify → journal → MTTR → report shape as `rollback model`.

use super::close_event;
use std::time::Duration;

use comfy_table::{Table, presets};
use serde::Serialize;

use super::{Confirmation, clean_reason, confirm, detected_at, triggered_by};
use crate::cli::InfraRollbackArgs;
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::config::{InfraConfig, InfraStrategy};
use crate::error::{CliError, ExitStatus};
use crate::exec::helm::{self, Helm};
use crate::exec::kubectl::{self, Kubectl};
use crate::exec::{Cmd, ExecError};
use crate::journal::{Entry, Journal, new_event_id};
use crate::mttr;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// One revision as `--history` shows it.
#[derive(Serialize)]
struct HistoryRow {
    revision: u64,
    current: bool,
    change_cause: String,
    image: String,
    age: String,
}

#[derive(Serialize)]
struct Outcome<'a> {
    event_id: Option<&'a str>,
    outcome: &'a str,
    message: &'a str,
    model: &'a str,
    strategy: &'a str,
    target: &'a str,
    from_revision: u64,
    to_revision: u64,
    plan: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mttr: Option<mttr::Mttr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

/// A planned infra rollback: what it acts on, the revisions, the commands, and how to verify.
struct InfraPlan {
    strategy: &'static str,
    /// `deployment/D` or `release R`, with namespace and context.
    target: String,
    from: u64,
    to: u64,
    /// What `from`/`to` count ("revision") and how they read ("3", or "green" for blue-green).
    unit: &'static str,
    from_label: String,
    to_label: String,
    to_reason: String,
    steps: Vec<Cmd>,
    verify: Box<dyn Fn() -> std::result::Result<String, String>>,
}

pub fn run(ctx: &Ctx, args: &InfraRollbackArgs) -> Result<ExitStatus> {
    let started_at = clock::now();
    let cfg = ctx
        .settings
        .models
        .get(&args.model)
        .map(|m| m.infra.clone())
        .unwrap_or_default();
    let detected = detected_at(args.common.detected_at.as_deref())?;
    let who = triggered_by(args.common.triggered_by.as_deref())?;
    let reason = clean_reason(args.common.reason.as_deref());
    let plan = match cfg.strategy {
        InfraStrategy::None => {
            return Err(CliError::usage(format!(
                "no infra rollback is configured for `{}`",
                args.model
            ))
            .with_hint(format!(
                "add [models.{}.infra] with strategy = \"kubectl\" and deployment = \"NAME\" (or strategy = \"helm\" and release = \"NAME\") to mlrb.toml",
                args.model
            ))
            .into());
        }
        InfraStrategy::Kubectl => match plan_kubectl(ctx, args, &cfg)? {
            Some(p) => p,
            None => return Ok(ExitStatus::Success),
        },
        InfraStrategy::Helm => match plan_helm(ctx, args, &cfg)? {
            Some(p) => p,
            None => return Ok(ExitStatus::Success),
        },
        InfraStrategy::BlueGreen => plan_blue_green(args, &cfg)?,
        InfraStrategy::Istio => match plan_istio(ctx, args, &cfg)? {
            Some(p) => p,
            None => return Ok(ExitStatus::Success),
        },
        InfraStrategy::ArgoRollouts => match plan_argo(ctx, args, &cfg)? {
            Some(p) => p,
            None => return Ok(ExitStatus::Success),
        },
    };
    let p = &ctx.printer;
    let lines: Vec<String> = plan.steps.iter().map(Cmd::line).collect();
    if !p.json() {
        let mut text = format!(
            "Infra rollback plan for {} ({}): {}, {} {} → {}\n  target: {}\n",
            args.model,
            plan.strategy,
            plan.target,
            plan.unit,
            plan.from_label,
            plan.to_label,
            plan.to_reason
        );
        for (i, l) in lines.iter().enumerate() {
            text.push_str(&format!("  {:>2}. run       {l}\n", i + 1));
        }
        text.push_str(&format!(
            "  {:>2}. verify    re-read {}: {} {} is live and ready\n",
            lines.len() + 1,
            plan.target,
            plan.unit,
            plan.to_label
        ));
        p.out(&text);
    }
    let outcome_json = |event: Option<&str>,
                        outcome: &str,
                        message: &str,
                        m: Option<mttr::Mttr>,
                        r: Option<String>| {
        serde_json::to_value(Outcome {
            event_id: event,
            outcome,
            message,
            model: &args.model,
            strategy: plan.strategy,
            target: &plan.target,
            from_revision: plan.from,
            to_revision: plan.to,
            plan: lines.clone(),
            mttr: m,
            report: r,
        })
        .unwrap_or_default()
    };
    if args.common.dry_run {
        return Ok(super::dry_run_done(p, || {
            outcome_json(None, "dry_run", "nothing was changed", None, None)
        }));
    }
    // The reference: do not mix a model and an infra rollback without analysis. Say so when a
    // model rollback of this model is still running or inside its verification window.
    let window = ctx
        .settings
        .models
        .get(&args.model)
        .map(|m| m.verify.timeout)
        .unwrap_or(std::time::Duration::from_secs(15 * 60));
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    let mixed = crate::journal::recent_model_rollback(
        &records,
        &args.model,
        chrono::Duration::from_std(window).unwrap_or_default(),
    )
    .map(|(event, done)| {
        format!(
            "model rollback {event} of {} {} inside its {} verification window: rolling back the infrastructure now makes it impossible to tell which change fixed the problem (model first, assess, then infra)",
            args.model,
            match done {
                Some(t) => format!("finished at {}, still", crate::clock::fmt(t)),
                None => "is still running,".into(),
            },
            humantime::format_duration(window)
        )
    });
    if let Some(w) = &mixed {
        p.warn(w);
    }
    let how = match confirm(
        p,
        args.common.yes,
        &format!(
            "Roll back {} to {} {}?",
            plan.target, plan.unit, plan.to_label
        ),
    )? {
        Confirmation::Yes(how) => how,
        Confirmation::Declined => {
            p.status("declined: nothing was changed");
            return Ok(ExitStatus::Refused);
        }
    };

    let event = new_event_id("rollback");
    let mut journal = Journal::new(&ctx.settings.state_dir, &event);
    journal.append(Entry::Started {
        command: "rollback infra".into(),
        model: args.model.clone(),
        registered_name: plan.target.clone(),
        registry: plan.strategy.into(),
        mode: plan.strategy.into(),
        from: vec![plan.from],
        to: plan.to,
        to_reason: plan.to_reason.clone(),
        reason: reason.clone(),
        triggered_by: who.clone(),
        detected_at: detected,
        started_at,
    });
    journal.append(Entry::Target {
        kind: "infra".into(),
        summary: format!(
            "The serving infrastructure of model `{}` ({}, {}) was rolled back from {} {} to {}; triggered by {who}, due to:",
            args.model, plan.target, plan.strategy, plan.unit, plan.from_label, plan.to_reason
        ),
    });
    let mut steps = lines.clone();
    steps.push(format!("verify {}", plan.target));
    journal.append(Entry::Plan {
        steps,
        detail: Vec::new(),
        live_mode: None,
    });
    journal.append(Entry::Confirmed { how });
    if let Some(w) = mixed {
        journal.append(Entry::Note { text: w });
    }

    let (status, message) = execute(ctx, &plan, &mut journal);
    let hint = format!(
        "`mlrb rollback infra {} --history` shows the revisions now (journal event {event})",
        args.model
    );
    close_event(
        ctx,
        &mut journal,
        status,
        super::outcome_of(status),
        message.clone(),
        hint,
        |outcome, m, r| outcome_json(Some(&event), outcome, &message, m, r),
    )
}

/// Runs the commands in order, then verifies; stops at the first failure.
fn execute(ctx: &Ctx, plan: &InfraPlan, journal: &mut Journal) -> (ExitStatus, String) {
    let p = &ctx.printer;
    let total = plan.steps.len() + 1;
    for (i, cmd) in plan.steps.iter().enumerate() {
        let explained = super::command_step(p, journal, (i, total), cmd, |e| {
            explain(plan.strategy, e, &plan.target)
        });
        if let Err((detail, hint)) = explained {
            let changed = if i == 0 {
                "nothing was changed".to_string()
            } else {
                format!(
                    "the rollback command ran ({}); {} may be rolling out still",
                    plan.steps[0].line(),
                    plan.target
                )
            };
            let mut message = format!("step {}/{total} failed: {detail}; {changed}", i + 1);
            if let Some(h) = hint {
                message.push_str(&format!(". Next: {h}"));
            }
            return (ExitStatus::Failure, message);
        }
    }
    let result = super::verify_step(
        p,
        journal,
        plan.steps.len(),
        format!("verify {}", plan.target),
        || (plan.verify)(),
    );
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    if ok {
        (
            ExitStatus::Success,
            format!(
                "rolled back {}: {} {} → {}, verified",
                plan.target, plan.unit, plan.from_label, plan.to_label
            ),
        )
    } else {
        (
            ExitStatus::NotVerified,
            format!("rolled back {}, but not verified: {detail}", plan.target),
        )
    }
}

fn explain(strategy: &str, e: &ExecError, target: &str) -> (String, Option<String>) {
    if strategy == "helm" {
        helm::explain(e)
    } else {
        kubectl::explain(e, target)
    }
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

fn print_history(ctx: &Ctx, title: &str, rows: &[HistoryRow]) {
    let p = &ctx.printer;
    if p.json() {
        p.out_json(&rows);
        return;
    }
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY);
    t.set_header(vec!["revision", "change-cause", "image", "age"]);
    for r in rows {
        t.add_row(vec![
            format!(
                "{}{}",
                r.revision,
                if r.current { " (current)" } else { "" }
            ),
            r.change_cause.clone(),
            r.image.clone(),
            r.age.clone(),
        ]);
    }
    p.out(&format!("{title}\n{t}"));
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

fn nothing_to_do(ctx: &Ctx, args: &InfraRollbackArgs, msg: String) {
    ctx.printer.status(&msg);
    if ctx.printer.json() {
        ctx.printer.out_json(&serde_json::json!({
            "event_id": null, "outcome": "no_change", "message": msg, "model": args.model,
        }));
    }
}

fn plan_kubectl(
    ctx: &Ctx,
    args: &InfraRollbackArgs,
    cfg: &InfraConfig,
) -> Result<Option<InfraPlan>> {
    let name = cfg.deployment.clone().unwrap_or_default();
    let k = Kubectl {
        context: cfg.context.clone(),
        namespace: cfg.namespace.clone(),
    };
    let target = format!("deployment/{name}{}", where_(&cfg.namespace, &cfg.context));
    // The history is settled only once the controller has observed the last template change;
    // planning before that would undo to the revision before the last good one.
    let observe = cfg
        .timeout
        .unwrap_or(DEFAULT_TIMEOUT)
        .min(kubectl::OBSERVE_TIMEOUT);
    let dep = k
        .observed_deployment(&name, observe, |generation, observed| {
            ctx.printer.status(&format!(
                "waiting for the deployment controller to observe the latest change of {target} (generation {generation}, observed {observed})"
            ))
        })
        .map_err(|e| not_settled(e, &target))?;
    let revs = k.history(&dep).map_err(|e| early("kubectl", e, &target))?;
    if args.history {
        let rows: Vec<HistoryRow> = revs
            .iter()
            .map(|r| HistoryRow {
                revision: r.revision,
                current: r.current,
                change_cause: r.change_cause.clone(),
                image: r.images.join(", "),
                age: age(r.created),
            })
            .collect();
        print_history(ctx, &format!("Revisions of {target}"), &rows);
        return Ok(None);
    }
    let Some(current) = revs.iter().find(|r| r.current).or(revs.first()) else {
        return Err(CliError::new(
            ExitStatus::NoTarget,
            format!("{target} has no rollout history; nothing to undo"),
        )
        .into());
    };
    let to = match args.to_revision {
        Some(n) => revs.iter().find(|r| r.revision == n).ok_or_else(|| {
            no_revision(
                &target,
                n,
                &revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
                &args.model,
            )
        })?,
        None => revs
            .iter()
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
            })?,
    };
    if to.template == current.template {
        nothing_to_do(
            ctx,
            args,
            format!(
                "{target} already runs the template of revision {} (revision {}, {}); nothing changed",
                to.revision,
                current.revision,
                current.images.join(", ")
            ),
        );
        return Ok(None);
    }
    let timeout = cfg.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let want = to.template.clone();
    let images = to.images.join(", ");
    let vk = k.clone();
    let vname = name.clone();
    Ok(Some(InfraPlan {
        strategy: "kubectl",
        target: target.clone(),
        from: current.revision,
        to: to.revision,
        unit: "revision",
        from_label: current.revision.to_string(),
        to_label: to.revision.to_string(),
        to_reason: format!(
            "revision {} ({}{})",
            to.revision,
            images,
            if to.change_cause.is_empty() {
                String::new()
            } else {
                format!(", change-cause: {}", to.change_cause)
            }
        ),
        steps: vec![k.undo(&name, Some(to.revision)), k.status(&name, timeout)],
        verify: Box::new(move || {
            let dep = vk
                .get_deployment(&vname)
                .map_err(|e| format!("cannot re-read the deployment: {e}"))?;
            let revs = vk
                .history(&dep)
                .map_err(|e| format!("cannot re-read the revisions: {e}"))?;
            let cur = revs
                .iter()
                .find(|r| r.current)
                .ok_or("the deployment has no current revision")?;
            if cur.template != want {
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
        }),
    }))
}

fn plan_helm(ctx: &Ctx, args: &InfraRollbackArgs, cfg: &InfraConfig) -> Result<Option<InfraPlan>> {
    let name = cfg.release.clone().unwrap_or_default();
    let h = Helm {
        context: cfg.context.clone(),
        namespace: cfg.namespace.clone(),
    };
    let target = format!("release {name}{}", where_(&cfg.namespace, &cfg.context));
    let revs = h.history(&name).map_err(|e| early("helm", e, &target))?;
    let Some(current) = revs
        .iter()
        .find(|r| r.status == "deployed")
        .or(revs.first())
    else {
        return Err(CliError::new(
            ExitStatus::NoTarget,
            format!("{target} has no history; nothing to roll back"),
        )
        .into());
    };
    if args.history {
        let rows: Vec<HistoryRow> = revs
            .iter()
            .map(|r| HistoryRow {
                revision: r.revision,
                current: r.revision == current.revision,
                change_cause: format!("{} ({})", r.description, r.status),
                image: format!("{} app {}", r.chart, r.app_version),
                age: chrono::DateTime::parse_from_rfc3339(&r.updated)
                    .ok()
                    .map(|t| age(Some(t.with_timezone(&chrono::Utc))))
                    .unwrap_or_else(|| r.updated.clone()),
            })
            .collect();
        print_history(ctx, &format!("Revisions of {target}"), &rows);
        return Ok(None);
    }
    let to = match args.to_revision {
        Some(n) => revs.iter().find(|r| r.revision == n).ok_or_else(|| {
            no_revision(
                &target,
                n,
                &revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
                &args.model,
            )
        })?,
        None => revs
            .iter()
            .find(|r| r.revision < current.revision)
            .ok_or_else(|| {
                CliError::new(
                    ExitStatus::NoTarget,
                    format!(
                        "nothing to roll back: {target} has only revision {}",
                        current.revision
                    ),
                )
            })?,
    };
    if to.revision == current.revision {
        nothing_to_do(
            ctx,
            args,
            format!(
                "{target} is at revision {} already; nothing changed",
                to.revision
            ),
        );
        return Ok(None);
    }
    let timeout = cfg.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let vh = h.clone();
    let vname = name.clone();
    let want = to.revision;
    Ok(Some(InfraPlan {
        strategy: "helm",
        target,
        from: current.revision,
        to: to.revision,
        unit: "revision",
        from_label: current.revision.to_string(),
        to_label: to.revision.to_string(),
        to_reason: format!(
            "revision {} ({} app {}: {})",
            to.revision, to.chart, to.app_version, to.description
        ),
        steps: vec![h.rollback(&name, Some(to.revision), timeout)],
        verify: Box::new(move || {
            let revs = vh
                .history(&vname)
                .map_err(|e| format!("cannot re-read the history: {e}"))?;
            let top = revs.first().ok_or("the release has no history")?;
            if top.status != "deployed" || !top.description.contains(&format!("Rollback to {want}"))
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
    }))
}

/// Blue-green: switch the Service's selector back to the standby colour, which still runs the
/// previous version, after checking the standby has ready pods.
fn plan_blue_green(args: &InfraRollbackArgs, cfg: &InfraConfig) -> Result<InfraPlan> {
    if args.to_revision.is_some() || args.history {
        return Err(usage_bg(
            "--to-revision and --history do not apply to blue-green; the switch goes to the standby colour",
        ));
    }
    let svc = cfg.service.clone().unwrap_or_default();
    let key = cfg.selector_key.clone().unwrap_or_else(|| "color".into());
    let colors = cfg
        .colors
        .clone()
        .unwrap_or_else(|| vec!["blue".into(), "green".into()]);
    let k = Kubectl {
        context: cfg.context.clone(),
        namespace: cfg.namespace.clone(),
    };
    let target = format!("service/{svc}{}", where_(&cfg.namespace, &cfg.context));
    let out = k
        .cmd(["get", "service", svc.as_str(), "-o", "json"])
        .run()
        .map_err(|e| early("kubectl", e, &target))?;
    let service: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    let selector = service["spec"]["selector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let live = selector
        .get(&key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            usage_bg(&format!(
                "{target} has no `{key}` in its selector; set [models.*.infra].selector_key"
            ))
        })?
        .to_string();
    let standby = colors
        .iter()
        .find(|c| **c != live)
        .cloned()
        .ok_or_else(|| usage_bg("[models.*.infra].colors needs two colours"))?;
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
    let patch =
        serde_json::json!({"spec": {"selector": {key.clone(): standby.clone()}}}).to_string();
    let vk = k.clone();
    let (vsvc, vkey, vstandby, vlabels) =
        (svc.clone(), key.clone(), standby.clone(), labels.clone());
    Ok(InfraPlan {
        strategy: "blue-green",
        target,
        from: 0,
        to: 0,
        unit: "colour",
        from_label: live.clone(),
        to_label: standby.clone(),
        to_reason: format!("the standby `{key}={standby}` ({ready}/{total} pods ready)"),
        steps: vec![
            k.cmd([
                "patch",
                "service",
                svc.as_str(),
                "--type=merge",
                "-p",
                patch.as_str(),
            ])
            .timeout(Duration::from_secs(60)),
        ],
        verify: Box::new(move || {
            let out = vk
                .cmd(["get", "service", vsvc.as_str(), "-o", "json"])
                .run()
                .map_err(|e| format!("cannot re-read the service: {e}"))?;
            let s: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
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
    })
}

fn usage_bg(m: &str) -> anyhow::Error {
    CliError::usage(m.to_string()).into()
}

/// The VirtualService's http routes with the stable subset at 100, the canary at 0 and any
/// `mirror` removed; `None` when nothing would change.
fn reversed_routes(
    vs: &serde_json::Value,
    stable: &str,
    canary: &str,
    route: Option<&str>,
) -> Option<serde_json::Value> {
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

fn weights(vs: &serde_json::Value, stable: &str, canary: &str) -> String {
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

/// Canary reversal by aborting the Argo Rollout: `kubectl argo rollouts abort` when the plugin is
/// on PATH, else the same status write it makes (`status.abort: true` through the status
/// subresource). The Argo controller then sends all traffic back to the stable ReplicaSet.
fn plan_argo(ctx: &Ctx, args: &InfraRollbackArgs, cfg: &InfraConfig) -> Result<Option<InfraPlan>> {
    if args.to_revision.is_some() || args.history {
        return Err(usage_bg(
            "--to-revision and --history do not apply to argo-rollouts; aborting returns all traffic to the stable version",
        ));
    }
    let name = cfg.rollout.clone().unwrap_or_default();
    let k = Kubectl {
        context: cfg.context.clone(),
        namespace: cfg.namespace.clone(),
    };
    let target = format!("rollout/{name}{}", where_(&cfg.namespace, &cfg.context));
    let out = k
        .cmd(["get", "rollouts.argoproj.io", name.as_str(), "-o", "json"])
        .timeout(Duration::from_secs(30))
        .run()
        .map_err(|e| early("kubectl", e, &target))?;
    let ro: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    if ro["status"]["abort"] == serde_json::json!(true) {
        nothing_to_do(
            ctx,
            args,
            format!("{target} is already aborted; nothing changed"),
        );
        return Ok(None);
    }
    let step = if which::which("kubectl-argo-rollouts").is_ok() {
        k.cmd(["argo", "rollouts", "abort", name.as_str()])
    } else {
        k.cmd([
            "patch",
            "rollouts.argoproj.io",
            name.as_str(),
            "--type=merge",
            "--subresource=status",
            "-p",
            r#"{"status":{"abort":true}}"#,
        ])
    }
    .timeout(Duration::from_secs(60));
    let vk = k.clone();
    let vname = name.clone();
    Ok(Some(InfraPlan {
        strategy: "argo-rollouts",
        target,
        from: 0,
        to: 0,
        unit: "rollout",
        from_label: "progressing".into(),
        to_label: "aborted".into(),
        to_reason: "abort: all traffic back to the stable version".into(),
        steps: vec![step],
        verify: Box::new(move || {
            let out = vk
                .cmd(["get", "rollouts.argoproj.io", vname.as_str(), "-o", "json"])
                .run()
                .map_err(|e| format!("cannot re-read the Rollout: {e}"))?;
            let ro: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            if ro["status"]["abort"] == serde_json::json!(true) {
                Ok("the Rollout is aborted; the Argo controller returns traffic to stable".into())
            } else {
                Err("the Rollout does not show status.abort = true".into())
            }
        }),
    }))
}

/// Canary reversal through an Istio VirtualService patch (a real API write, guarded by the
/// resourceVersion read in the plan).
fn plan_istio(ctx: &Ctx, args: &InfraRollbackArgs, cfg: &InfraConfig) -> Result<Option<InfraPlan>> {
    if args.to_revision.is_some() || args.history {
        return Err(usage_bg(
            "--to-revision and --history do not apply to istio; the reversal sends all traffic to the stable subset",
        ));
    }
    let name = cfg.virtual_service.clone().unwrap_or_default();
    let stable = cfg.stable_subset.clone().unwrap_or_else(|| "stable".into());
    let canary = cfg.canary_subset.clone().unwrap_or_else(|| "canary".into());
    let k = Kubectl {
        context: cfg.context.clone(),
        namespace: cfg.namespace.clone(),
    };
    let target = format!(
        "virtualservice/{name}{}",
        where_(&cfg.namespace, &cfg.context)
    );
    let out = k
        .cmd([
            "get",
            "virtualservices.networking.istio.io",
            name.as_str(),
            "-o",
            "json",
        ])
        .timeout(Duration::from_secs(30))
        .run()
        .map_err(|e| early("kubectl", e, &target))?;
    let vs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    let before = weights(&vs, &stable, &canary);
    let Some(http) = reversed_routes(&vs, &stable, &canary, cfg.route.as_deref()) else {
        nothing_to_do(
            ctx,
            args,
            format!("{target} already sends all traffic to {stable} ({before}); nothing changed"),
        );
        return Ok(None);
    };
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": vs["metadata"]["resourceVersion"]},
        "spec": {"http": http},
    })
    .to_string();
    let vk = k.clone();
    let (vname, vstable, vcanary) = (name.clone(), stable.clone(), canary.clone());
    let route = cfg.route.clone();
    Ok(Some(InfraPlan {
        strategy: "istio",
        target,
        from: 0,
        to: 0,
        unit: "weights",
        from_label: before,
        to_label: format!("{stable}=100 {canary}=0, no mirror"),
        to_reason: format!("all traffic to subset {stable}"),
        steps: vec![
            k.cmd([
                "patch",
                "virtualservices.networking.istio.io",
                name.as_str(),
                "--type=merge",
                "-p",
                patch.as_str(),
            ])
            .timeout(Duration::from_secs(60)),
        ],
        verify: Box::new(move || {
            let out = vk
                .cmd([
                    "get",
                    "virtualservices.networking.istio.io",
                    vname.as_str(),
                    "-o",
                    "json",
                ])
                .run()
                .map_err(|e| format!("cannot re-read the VirtualService: {e}"))?;
            let vs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            if reversed_routes(&vs, &vstable, &vcanary, route.as_deref()).is_some() {
                return Err(format!(
                    "the VirtualService still routes to the canary: {}",
                    weights(&vs, &vstable, &vcanary)
                ));
            }
            Ok(format!("weights now {}", weights(&vs, &vstable, &vcanary)))
        }),
    }))
}
