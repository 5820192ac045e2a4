//! `mlrb rollback retrain`: trigger an emergency retrain on a known-good dataset version in
//! GitLab (pipeline trigger API), GitHub Actions (workflow_dispatch) or a webhook, and follow it
//! with `--wait`. Tokens come only from environment variables named in the config.

use super::close_event;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::{Confirmation, clean_reason, confirm, detected_at, triggered_by};
use crate::cli::RetrainRollbackArgs;
use crate::clock;
use crate::commands::{Ctx, Result};
use crate::config::{RetrainConfig, RetrainKind};
use crate::error::{CliError, ExitStatus};
use crate::http::{Http, HttpOptions, bare_url, describe_body, error_detail, one_line};
use crate::journal::{Entry, Journal, new_event_id};

/// A started pipeline: its id, web URL and where to read its status.
#[derive(Debug, Clone, Serialize)]
struct Pipeline {
    id: String,
    web_url: String,
    #[serde(skip)]
    status: Status,
}

/// Where `--wait` reads a pipeline's status, sending the token along.
#[derive(Debug, Clone)]
enum Status {
    /// Nothing says where.
    Unknown,
    At(String),
    /// A webhook's reply put the status `url` (shown bare) on another origin than the `trusted`
    /// one: it is never polled, since the reply would otherwise choose where the token goes.
    Foreign {
        url: String,
        trusted: String,
    },
}

/// A webhook pipeline's status URL. The configured `status_url` wins (`{id}` filled in from the
/// reply, which may change the path but never the server); a `status_url` in the reply is taken
/// only on the trigger's own scheme, host and port, resolved against the trigger when relative.
fn webhook_status(cfg_url: Option<&str>, endpoint: &str, reply: Option<&str>, id: &str) -> Status {
    use reqwest::Url;
    if let Some(template) = cfg_url {
        let url = template.replace("{id}", id);
        return match (
            Url::parse(&template.replace("{id}", "id")),
            Url::parse(&url),
        ) {
            (Ok(t), Ok(u)) if t.origin() != u.origin() => Status::Foreign {
                url: bare_url(&u),
                trusted: t.origin().ascii_serialization(),
            },
            // A template that is not a URL fails at the first poll, saying so.
            _ => Status::At(url),
        };
    }
    let Some(reply) = reply else {
        return Status::Unknown;
    };
    let Ok(trigger) = Url::parse(endpoint) else {
        return Status::Unknown;
    };
    match trigger.join(reply) {
        Ok(u) if u.origin() == trigger.origin() => Status::At(u.to_string()),
        Ok(u) => Status::Foreign {
            url: bare_url(&u),
            trusted: trigger.origin().ascii_serialization(),
        },
        Err(_) => Status::Unknown,
    }
}

/// An HTTP answer turned into JSON, or one line saying what went wrong (never the token).
fn answer(
    what: &str,
    url: &str,
    token_var: Option<&str>,
    resp: std::result::Result<reqwest::blocking::Response, reqwest::Error>,
) -> std::result::Result<Value, String> {
    let resp = resp.map_err(|e| {
        let how = if e.is_redirect() { "" } else { " unreachable" };
        format!("{what}: {url}{how}: {}", error_detail(&e))
    })?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.text().unwrap_or_default();
    match status {
        200..=299 => {
            if body.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(&body).map_err(|_| {
                let (kind, snippet) = describe_body(&ct, &body);
                format!("{what}: {url} answered {status} with {kind} instead of JSON: {snippet}")
            })
        }
        401 | 403 => Err(format!(
            "{what}: {url} refused the token{} ({status}): {}",
            token_var.map(|v| format!(" from ${v}")).unwrap_or_default(),
            one_line(&body, 160)
        )),
        404 => Err(format!(
            "{what}: {url} answered 404 (project, workflow or pipeline not found, or the token cannot see it): {}",
            one_line(&body, 160)
        )),
        _ => {
            let (kind, snippet) = describe_body(&ct, &body);
            Err(format!(
                "{what}: {url} answered {status} ({kind}): {snippet}"
            ))
        }
    }
}

fn token(
    var: Option<&str>,
    model: &str,
    required: bool,
) -> std::result::Result<Option<String>, CliError> {
    let Some(var) = var else {
        if required {
            return Err(CliError::usage(format!(
                "[models.{model}.retrain] needs `token_env = \"VAR\"`: the environment variable holding the CI token"
            )));
        }
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        _ => Err(CliError::usage(format!(
            "the environment variable {var} (named by [models.{model}.retrain].token_env) is not set"
        ))
        .with_hint(format!("export {var}=… with the CI token; mlrb never reads tokens from the config file or the command line"))),
    }
}

struct Trigger<'a> {
    cfg: &'a RetrainConfig,
    model: &'a str,
    dataset: &'a str,
    config_commit: Option<&'a str>,
    event: String,
    git_ref: String,
}

impl Trigger<'_> {
    fn variables(&self) -> Value {
        let mut v = json!({
            "TRAINING_DATASET_VERSION": self.dataset,
            "EMERGENCY_RETRAIN": "true",
            "NOTIFY_SLACK": "true",
            "MODEL_NAME": self.model,
            "MLRB_EVENT_ID": self.event,
        });
        if let Some(c) = self.config_commit {
            v["TRAINING_CONFIG_COMMIT"] = json!(c);
        }
        v
    }

    fn endpoint(&self) -> String {
        let base = self.cfg.url.clone().unwrap_or_default();
        let base = base.trim_end_matches('/');
        match self.cfg.kind {
            RetrainKind::Gitlab => format!(
                "{base}/api/v4/projects/{}/trigger/pipeline",
                encode(self.cfg.project.as_deref().unwrap_or(""))
            ),
            RetrainKind::Github => {
                let base = if base.is_empty() {
                    "https://api.github.com"
                } else {
                    base
                };
                format!(
                    "{base}/repos/{}/actions/workflows/{}/dispatches",
                    self.cfg.repo.as_deref().unwrap_or(""),
                    self.cfg.workflow.as_deref().unwrap_or("")
                )
            }
            RetrainKind::Webhook => base.to_string(),
        }
    }
}

fn encode(s: &str) -> String {
    s.replace('/', "%2F")
}

pub fn run(ctx: &Ctx, args: &RetrainRollbackArgs) -> Result<ExitStatus> {
    let started_at = clock::now();
    let p = &ctx.printer;
    let detected = detected_at(args.common.detected_at.as_deref())?;
    let who = triggered_by(args.common.triggered_by.as_deref())?;
    let reason = clean_reason(args.common.reason.as_deref());
    let Some(cfg) = ctx
        .settings
        .models
        .get(&args.model)
        .and_then(|m| m.retrain.clone())
    else {
        return Err(CliError::usage(format!("no retrain trigger is configured for `{}`", args.model))
            .with_hint(format!(
                "add [models.{}.retrain] with kind = \"gitlab\" | \"github\" | \"webhook\" to mlrb.toml",
                args.model
            ))
            .into());
    };
    let need = |field: &str, v: &Option<String>| -> std::result::Result<(), CliError> {
        if v.as_deref().is_none_or(str::is_empty) {
            return Err(CliError::usage(format!(
                "[models.{}.retrain] needs `{field} = \"…\"`",
                args.model
            )));
        }
        Ok(())
    };
    match cfg.kind {
        RetrainKind::Gitlab => {
            need("url", &cfg.url)?;
            need("project", &cfg.project)?;
        }
        RetrainKind::Github => {
            need("repo", &cfg.repo)?;
            need("workflow", &cfg.workflow)?;
        }
        RetrainKind::Webhook => need("url", &cfg.url)?,
    }
    if args.dataset_version.trim().is_empty() || args.dataset_version.chars().any(char::is_control)
    {
        return Err(CliError::usage("--dataset-version must be a non-empty single line").into());
    }
    let tok = token(
        cfg.token_env.as_deref(),
        &args.model,
        cfg.kind != RetrainKind::Webhook,
    )?;
    let status_tok = token(cfg.status_token_env.as_deref(), &args.model, false)?;
    let event = new_event_id("retrain");
    let trig = Trigger {
        cfg: &cfg,
        model: &args.model,
        dataset: &args.dataset_version,
        config_commit: args.config_commit.as_deref(),
        event: event.clone(),
        git_ref: args
            .config_commit
            .clone()
            .or(cfg.git_ref.clone())
            .unwrap_or_else(|| "main".into()),
    };
    let kind = match cfg.kind {
        RetrainKind::Gitlab => "gitlab",
        RetrainKind::Github => "github",
        RetrainKind::Webhook => "webhook",
    };
    let endpoint = trig.endpoint();
    let mut lines = vec![format!(
        "http      POST {endpoint}  ref={} variables {}",
        trig.git_ref,
        trig.variables()
    )];
    if cfg.kind == RetrainKind::Github {
        lines.push(
            "http      GET  …/actions/workflows/…/runs?event=workflow_dispatch  (find the run)"
                .into(),
        );
    }
    if args.wait {
        lines.push(format!(
            "http      poll the pipeline until it finishes (timeout {})",
            humantime::format_duration(cfg.wait_timeout.unwrap_or(Duration::from_secs(4 * 3600)))
        ));
    }
    let estimate = cfg
        .estimated_duration
        .unwrap_or(Duration::from_secs(45 * 60));
    if !p.json() {
        let mut t = format!(
            "Emergency retrain plan for {} ({kind}): dataset {}{}, estimated {}\n  this is the slow path: use it when the training data itself is at fault\n",
            args.model,
            args.dataset_version,
            args.config_commit
                .as_deref()
                .map(|c| format!(", config {c}"))
                .unwrap_or_default(),
            humantime::format_duration(estimate)
        );
        for (i, l) in lines.iter().enumerate() {
            t.push_str(&format!("  {:>2}. {l}\n", i + 1));
        }
        p.out(&t);
    }
    if args.common.dry_run {
        p.status("dry run: nothing was triggered");
        if p.json() {
            p.out_json(&json!({"event_id": null, "outcome": "dry_run", "plan": lines}));
        }
        return Ok(ExitStatus::Success);
    }
    let how = match confirm(
        p,
        args.common.yes,
        &format!("Trigger an emergency retrain of {}?", args.model),
    )? {
        Confirmation::Yes(h) => h,
        Confirmation::Declined => {
            p.status("declined: nothing was triggered");
            return Ok(ExitStatus::Refused);
        }
    };
    let http = Http::new(&HttpOptions {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        ..HttpOptions::default()
    })
    .map_err(|e| CliError::new(ExitStatus::Failure, e))?;
    let mut journal = Journal::new(&ctx.settings.state_dir, &event);
    journal.append(Entry::Started {
        command: "rollback retrain".into(),
        model: args.model.clone(),
        registered_name: args.model.clone(),
        registry: kind.into(),
        mode: kind.into(),
        from: Vec::new(),
        to: 0,
        to_reason: format!("dataset {}", args.dataset_version),
        reason: reason.clone(),
        triggered_by: who.clone(),
        detected_at: detected,
        started_at,
    });
    journal.append(Entry::Plan {
        steps: lines.clone(),
        detail: Vec::new(),
        live_mode: None,
    });
    journal.append(Entry::Confirmed { how });

    let mut step_i = 0usize;
    let mut record =
        |journal: &mut Journal, line: &str, r: &std::result::Result<String, String>, ms: u64| {
            journal.append(Entry::StepStarted {
                index: step_i,
                step: line.to_string(),
            });
            let (ok, detail) = match r {
                Ok(d) => (true, d.clone()),
                Err(d) => (false, d.clone()),
            };
            p.status(&format!(
                "  {} [{}/{}] {detail} ({ms} ms)",
                if ok { "✓" } else { "✗" },
                step_i + 1,
                lines.len()
            ));
            journal.append(Entry::StepFinished {
                index: step_i,
                ok,
                detail,
                millis: ms,
            });
            step_i += 1;
        };
    let t0 = Instant::now();
    let tok_var = cfg.token_env.as_deref();
    let dispatched_at = clock::now();
    let triggered: std::result::Result<Pipeline, String> = match cfg.kind {
        RetrainKind::Gitlab => {
            let body = json!({"token": tok.clone().unwrap_or_default(), "ref": trig.git_ref, "variables": trig.variables()});
            // A trigger is not idempotent: never retried, so one command starts one pipeline.
            answer(
                "GitLab trigger",
                &endpoint,
                tok_var,
                http.send(|c| c.post(&endpoint).json(&body), false),
            )
            .and_then(|v| {
                let id = v["id"].as_u64().map(|n| n.to_string()).ok_or_else(|| {
                    format!(
                        "GitLab trigger: the answer has no pipeline id: {}",
                        one_line(&v.to_string(), 160)
                    )
                })?;
                let base = cfg.url.clone().unwrap_or_default();
                Ok(Pipeline {
                    web_url: v["web_url"].as_str().unwrap_or("").to_string(),
                    status: Status::At(format!(
                        "{}/api/v4/projects/{}/pipelines/{id}",
                        base.trim_end_matches('/'),
                        encode(cfg.project.as_deref().unwrap_or(""))
                    )),
                    id,
                })
            })
        }
        RetrainKind::Github => {
            let mut inputs = json!({"dataset_version": args.dataset_version, "emergency_retrain": "true", "model_name": args.model});
            if let Some(c) = &args.config_commit {
                inputs["config_commit"] = json!(c);
            }
            let body = json!({"ref": trig.git_ref, "inputs": inputs});
            let auth = format!("Bearer {}", tok.clone().unwrap_or_default());
            answer(
                "GitHub workflow_dispatch",
                &endpoint,
                tok_var,
                http.send(|c| github(c.post(&endpoint), &auth).json(&body), false),
            )
            .map(|_| Pipeline {
                id: String::new(),
                web_url: String::new(),
                status: Status::Unknown,
            })
        }
        RetrainKind::Webhook => {
            let body = json!({
                "model": args.model, "dataset_version": args.dataset_version,
                "config_commit": args.config_commit, "emergency_retrain": true, "event_id": event,
            });
            let auth = tok.clone().map(|t| format!("Bearer {t}"));
            answer(
                "webhook",
                &endpoint,
                tok_var,
                http.send(
                    |c| {
                        let r = c.post(&endpoint).json(&body);
                        match &auth {
                            Some(a) => r.header("Authorization", a),
                            None => r,
                        }
                    },
                    false,
                ),
            )
            .map(|v| {
                let id = v["id"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
                    .unwrap_or_default();
                Pipeline {
                    web_url: v["web_url"]
                        .as_str()
                        .or(v["url"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    status: webhook_status(
                        cfg.status_url.as_deref(),
                        &endpoint,
                        v["status_url"].as_str(),
                        &id,
                    ),
                    id,
                }
            })
        }
    };
    let ms = t0.elapsed().as_millis() as u64;
    record(
        &mut journal,
        &lines[0],
        &triggered
            .as_ref()
            .map(|pl| {
                if pl.id.is_empty() {
                    "workflow dispatched".to_string()
                } else {
                    format!("pipeline {} started {}", pl.id, pl.web_url)
                }
            })
            .map_err(Clone::clone),
        ms,
    );
    let mut result = triggered;
    if cfg.kind == RetrainKind::Github
        && let Ok(_) = &result
    {
        let t0 = Instant::now();
        let repo = cfg.repo.clone().unwrap_or_default();
        let base = cfg
            .url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".into());
        let base = base.trim_end_matches('/').to_string();
        let runs = format!(
            "{base}/repos/{repo}/actions/workflows/{}/runs",
            cfg.workflow.as_deref().unwrap_or("")
        );
        let auth = format!("Bearer {}", tok.clone().unwrap_or_default());
        let since = (dispatched_at - chrono::Duration::seconds(5))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut found = Err("GitHub: no workflow_dispatch run appeared within 60 s".to_string());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let q = [
                ("event", "workflow_dispatch".to_string()),
                ("branch", trig.git_ref.clone()),
                ("created", format!(">={since}")),
            ];
            match answer(
                "GitHub runs",
                &runs,
                tok_var,
                http.send(|c| github(c.get(&runs).query(&q), &auth), true),
            ) {
                Ok(v) => {
                    if let Some(r) = v["workflow_runs"].as_array().and_then(|a| a.first()) {
                        let id = r["id"].as_u64().unwrap_or(0).to_string();
                        found = Ok(Pipeline {
                            web_url: r["html_url"].as_str().unwrap_or("").to_string(),
                            status: Status::At(format!("{base}/repos/{repo}/actions/runs/{id}")),
                            id,
                        });
                        break;
                    }
                }
                Err(e) => {
                    found = Err(e);
                    break;
                }
            }
            sleep(Duration::from_secs(2));
        }
        let ms = t0.elapsed().as_millis() as u64;
        record(
            &mut journal,
            &lines[1],
            &found
                .as_ref()
                .map(|pl| format!("run {} {}", pl.id, pl.web_url))
                .map_err(Clone::clone),
            ms,
        );
        result = found;
    }
    let mut verified: Option<std::result::Result<String, String>> = None;
    if args.wait
        && let Ok(pl) = &result
    {
        journal.append(Entry::Executed);
        let t0 = Instant::now();
        let r = match &pl.status {
            Status::Unknown => {
                Err("no status URL to follow (set [models.*.retrain].status_url)".to_string())
            }
            Status::Foreign { url, trusted } => Err(format!(
                "not polled: the webhook's reply puts the status at {url}, another origin than {trusted} (the only one mlrb sends the token to)"
            )),
            Status::At(url) => {
                let auth = match cfg.kind {
                    RetrainKind::Gitlab => status_tok.clone().map(|t| ("PRIVATE-TOKEN", t)),
                    RetrainKind::Github => tok
                        .clone()
                        .map(|t| ("Authorization", format!("Bearer {t}"))),
                    RetrainKind::Webhook => tok
                        .clone()
                        .map(|t| ("Authorization", format!("Bearer {t}"))),
                };
                let status_var = if cfg.kind == RetrainKind::Gitlab {
                    cfg.status_token_env.as_deref()
                } else {
                    tok_var
                };
                follow(
                    ctx,
                    &http,
                    url,
                    cfg.kind,
                    auth,
                    status_var,
                    cfg.poll_interval.unwrap_or(Duration::from_secs(10)),
                    cfg.wait_timeout.unwrap_or(Duration::from_secs(4 * 3600)),
                )
            }
        };
        let ms = t0.elapsed().as_millis() as u64;
        let line = lines.last().cloned().unwrap_or_default();
        record(&mut journal, &line, &r, ms);
        journal.append(Entry::Verified {
            ok: r.is_ok(),
            detail: match &r {
                Ok(d) | Err(d) => d.clone(),
            },
        });
        verified = Some(r);
    } else if result.is_ok() {
        journal.append(Entry::Executed);
    }
    let (status, outcome, message) = match (&result, &verified) {
        (Err(e), _) => (
            ExitStatus::Failure,
            "failed",
            format!(
                "{e}; {}",
                if step_i <= 1 {
                    "no retrain was started (or, after a 5xx, check CI before re-running)"
                } else {
                    "the workflow was dispatched; check GitHub Actions"
                }
            ),
        ),
        (
            Ok(Pipeline {
                id,
                status: Status::Foreign { url, trusted },
                ..
            }),
            Some(Err(_)),
        ) => (
            ExitStatus::Failure,
            "triggered",
            format!(
                "retrain {id} was triggered, but its status cannot be followed at {url}: the webhook's reply puts it on another origin than {trusted}, the only one mlrb sends the token to"
            ),
        ),
        (Ok(_), Some(Err(e))) => (
            ExitStatus::Failure,
            "failed",
            format!("the retrain did not succeed: {e}"),
        ),
        (Ok(pl), Some(Ok(d))) => (
            ExitStatus::Success,
            "retrained",
            format!("retrain {} finished: {d}", pl.id),
        ),
        (Ok(pl), None) => (
            ExitStatus::Success,
            "triggered",
            format!(
                "retrain triggered: pipeline {} {} (estimated {}); follow it with --wait or in CI",
                pl.id,
                pl.web_url,
                humantime::format_duration(estimate)
            ),
        ),
    };
    if let Ok(pl) = &result {
        journal.append(Entry::Target {
            kind: "retrain".into(),
            summary: format!(
                "An emergency retrain of model `{}` on dataset {}{} was triggered in {kind}: pipeline {} {} (estimated duration {}); triggered by {who}, due to:",
                args.model,
                args.dataset_version,
                args.config_commit.as_deref().map(|c| format!(" with config {c}")).unwrap_or_default(),
                pl.id,
                pl.web_url,
                humantime::format_duration(estimate)
            ),
        });
    }
    let pipeline = result.as_ref().ok();
    close_event(
        ctx,
        &mut journal,
        status,
        outcome,
        message.clone(),
        match result.as_ref().map(|pl| &pl.status) {
            Ok(Status::Foreign { .. }) if args.wait => format!(
                "set [models.{}.retrain].status_url to the status endpoint you trust (`{{id}}` is replaced by the pipeline id), or follow the pipeline in CI; journal event {event}",
                args.model
            ),
            _ => format!("journal event {event}"),
        },
        |outcome, m, rep| {
            json!({
                "event_id": event, "outcome": outcome, "message": message, "model": args.model,
                "kind": kind, "pipeline": pipeline, "estimated_duration_minutes": estimate.as_secs() / 60,
                "plan": lines, "mttr": m, "report": rep,
            })
        },
    )
}

fn github(r: reqwest::blocking::RequestBuilder, auth: &str) -> reqwest::blocking::RequestBuilder {
    r.header("Authorization", auth)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
}

fn sleep(d: Duration) {
    if std::env::var_os("MLRB_TEST_NO_SLEEP").is_some() {
        std::thread::sleep(Duration::from_millis(20));
    } else {
        std::thread::sleep(d);
    }
}

/// Polls the pipeline until it finishes; Ok on success, Err on failure, cancel or timeout.
#[allow(clippy::too_many_arguments)]
fn follow(
    ctx: &Ctx,
    http: &Http,
    url: &str,
    kind: RetrainKind,
    auth: Option<(&'static str, String)>,
    token_var: Option<&str>,
    every: Duration,
    timeout: Duration,
) -> std::result::Result<String, String> {
    let bar = ctx.printer.step(&format!("waiting for {url}"));
    let start = Instant::now();
    let out = loop {
        let v = answer(
            "pipeline status",
            url,
            token_var,
            http.send(
                |c| {
                    let r = c.get(url);
                    let r = match &auth {
                        Some((h, v)) => r.header(*h, v),
                        None => r,
                    };
                    if kind == RetrainKind::Github {
                        r.header("Accept", "application/vnd.github+json")
                    } else {
                        r
                    }
                },
                true,
            ),
        )?;
        let (done, ok, state) = match kind {
            RetrainKind::Github => {
                let st = v["status"].as_str().unwrap_or("");
                let concl = v["conclusion"].as_str().unwrap_or("");
                (
                    st == "completed",
                    concl == "success",
                    if st == "completed" {
                        concl.to_string()
                    } else {
                        st.to_string()
                    },
                )
            }
            _ => {
                let st = v["status"].as_str().unwrap_or("").to_string();
                let done = matches!(
                    st.as_str(),
                    "success" | "failed" | "canceled" | "cancelled" | "skipped" | "error"
                );
                (done, st == "success", st)
            }
        };
        if let Some(b) = &bar {
            b.set_message(format!("pipeline is {state}"));
        }
        if done {
            break if ok {
                Ok(format!(
                    "pipeline {state} after {:.0}s",
                    start.elapsed().as_secs_f64()
                ))
            } else {
                Err(format!("pipeline ended {state}"))
            };
        }
        if start.elapsed() >= timeout {
            break Err(format!(
                "pipeline still {state} after {}",
                humantime::format_duration(timeout)
            ));
        }
        sleep(every);
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out
}
