//! The CI systems an emergency retrain runs in (GitLab's pipeline trigger API, GitHub Actions'
//! workflow_dispatch, a webhook): the trigger, finding what a trigger started, and following a
//! pipeline to its end. Tokens come only from the environment variables the config names, and go
//! only to the trigger's origin or the configured status URL.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{RetrainConfig, RetrainKind};
use crate::error::{CliError, ExitStatus};
use crate::http::{Http, HttpOptions, bare_url, describe_body, error_detail, one_line};
use crate::printer::Printer;

/// The GitLab pipeline variable (and webhook body field) naming the event that triggered it:
/// what tells, after a crash, whether an event already started a pipeline.
pub const EVENT_VARIABLE: &str = "MLRB_EVENT_ID";

/// What a retrain is asked to train on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrain {
    pub dataset: String,
    /// The training config commit (or ref); the pipeline runs on it.
    pub config_commit: Option<String>,
}

/// A started pipeline: its id, web URL and where to read its status.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub id: String,
    pub web_url: String,
    #[serde(skip)]
    pub status: Status,
}

/// Where a pipeline's status is read, sending the token along.
#[derive(Debug, Clone)]
pub enum Status {
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

/// A trigger that failed.
#[derive(Debug, Clone)]
pub struct TriggerError {
    pub detail: String,
    /// CI refused the request (a 4xx, a redirect mlrb did not follow, no connection), so it
    /// started nothing; otherwise (a 5xx, a timeout, a cut or unusable answer) it may have.
    pub refused: bool,
}

/// What CI says about the pipeline an event's trigger may have started.
#[derive(Debug)]
pub enum Lookup {
    /// The pipeline that carries the event id.
    Found(Pipeline),
    /// GitHub: workflow_dispatch runs were created on the ref since then. A run does not show
    /// its inputs, so one of them may be the event's, and none is dispatched again.
    Dispatched(Vec<String>),
    /// No pipeline carries the event id: the trigger never reached CI.
    NotFound,
    /// CI cannot be asked (why).
    CannotAsk(String),
    /// Asking failed (why); asking again later may work.
    Failed(String),
}

/// How following a pipeline ended without its success.
#[derive(Debug, Clone)]
pub enum Followed {
    /// The pipeline finished in this state (failed, canceled, skipped…).
    Ended(String),
    /// Not followed: mlrb does not know, or does not trust, where its status is (why).
    NotFollowed(String),
    /// Its status could not be read, or it was still running at the timeout (why).
    Unknown(String),
}

impl std::fmt::Display for Followed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Followed::Ended(state) => write!(f, "pipeline ended {state}"),
            Followed::NotFollowed(why) | Followed::Unknown(why) => f.write_str(why),
        }
    }
}

/// One model's CI, with its tokens read from the environment.
pub struct Ci {
    cfg: RetrainConfig,
    model: String,
    token: Option<String>,
    status_token: Option<String>,
    http: Http,
}

impl Ci {
    /// The CI of `[models.<model>.retrain]` (checked when the config was read), or the usage
    /// error naming a token variable that is not set.
    pub fn new(cfg: &RetrainConfig, model: &str) -> Result<Ci, CliError> {
        let trigger_token = token(cfg.token_env.as_deref(), "token_env", model)?;
        let status_token = token(cfg.status_token_env.as_deref(), "status_token_env", model)?;
        let http = Http::new(&HttpOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            ..HttpOptions::default()
        })
        .map_err(|e| CliError::new(ExitStatus::Failure, e))?;
        Ok(Ci {
            cfg: cfg.clone(),
            model: model.to_string(),
            token: trigger_token,
            status_token,
            http,
        })
    }

    /// "gitlab", "github" or "webhook".
    pub fn kind(&self) -> &'static str {
        match self.cfg.kind {
            RetrainKind::Gitlab => "gitlab",
            RetrainKind::Github => "github",
            RetrainKind::Webhook => "webhook",
        }
    }

    /// CI as a reader knows it: "GitLab", "GitHub Actions", "the webhook's CI".
    pub fn name(&self) -> &'static str {
        match self.cfg.kind {
            RetrainKind::Gitlab => "GitLab",
            RetrainKind::Github => "GitHub Actions",
            RetrainKind::Webhook => "the CI behind the webhook",
        }
    }

    pub fn is_github(&self) -> bool {
        self.cfg.kind == RetrainKind::Github
    }

    pub fn estimate(&self) -> Duration {
        self.cfg
            .estimated_duration
            .unwrap_or(Duration::from_secs(45 * 60))
    }

    pub fn wait_timeout(&self) -> Duration {
        self.cfg
            .wait_timeout
            .unwrap_or(Duration::from_secs(4 * 3600))
    }

    /// The git ref the pipeline runs on: the config commit, else the configured ref, else main.
    pub fn git_ref(&self, r: &Retrain) -> String {
        r.config_commit
            .clone()
            .or(self.cfg.git_ref.clone())
            .unwrap_or_else(|| "main".into())
    }

    fn base(&self) -> String {
        let base = self.cfg.url.clone().unwrap_or_default();
        let base = base.trim_end_matches('/');
        if base.is_empty() && self.is_github() {
            "https://api.github.com".into()
        } else {
            base.to_string()
        }
    }

    fn gitlab_project(&self) -> String {
        format!(
            "{}/api/v4/projects/{}",
            self.base(),
            encode(self.cfg.project.as_deref().unwrap_or(""))
        )
    }

    fn github_workflow(&self) -> String {
        format!(
            "{}/repos/{}/actions/workflows/{}",
            self.base(),
            self.cfg.repo.as_deref().unwrap_or(""),
            self.cfg.workflow.as_deref().unwrap_or("")
        )
    }

    /// Where the trigger is POSTed.
    pub fn endpoint(&self) -> String {
        match self.cfg.kind {
            RetrainKind::Gitlab => format!("{}/trigger/pipeline", self.gitlab_project()),
            RetrainKind::Github => format!("{}/dispatches", self.github_workflow()),
            RetrainKind::Webhook => self.base(),
        }
    }

    fn variables(&self, r: &Retrain, event: &str) -> Value {
        let mut v = json!({
            "TRAINING_DATASET_VERSION": r.dataset,
            "EMERGENCY_RETRAIN": "true",
            "NOTIFY_SLACK": "true",
            "MODEL_NAME": self.model,
            EVENT_VARIABLE: event,
        });
        if let Some(c) = &r.config_commit {
            v["TRAINING_CONFIG_COMMIT"] = json!(c);
        }
        v
    }

    fn inputs(&self, r: &Retrain) -> Value {
        let mut inputs = json!({"dataset_version": r.dataset, "emergency_retrain": "true", "model_name": self.model});
        if let Some(c) = &r.config_commit {
            inputs["config_commit"] = json!(c);
        }
        inputs
    }

    fn webhook_body(&self, r: &Retrain, event: &str) -> Value {
        json!({
            "model": self.model, "dataset_version": r.dataset,
            "config_commit": r.config_commit, "emergency_retrain": true, "event_id": event,
        })
    }

    /// The trigger as the plan shows it (never the token); the event id is not known yet.
    pub fn request_line(&self, r: &Retrain) -> String {
        let event = "<event id>";
        let what = match self.cfg.kind {
            RetrainKind::Gitlab => format!(
                "ref={} variables {}",
                self.git_ref(r),
                self.variables(r, event)
            ),
            RetrainKind::Github => {
                format!("ref={} inputs {}", self.git_ref(r), self.inputs(r))
            }
            RetrainKind::Webhook => format!("body {}", self.webhook_body(r, event)),
        };
        format!("http      POST {}  {what}", self.endpoint())
    }

    /// Where CI shows what this event's trigger started, for a person to look.
    pub fn where_to_look(&self, r: &Retrain, event: &str, since: DateTime<Utc>) -> String {
        let since = since.format("%Y-%m-%d %H:%M:%S UTC");
        match self.cfg.kind {
            RetrainKind::Gitlab => format!(
                "the pipelines of {} on ref {} created since {since} for one with the variable {EVENT_VARIABLE}={event}",
                self.cfg.project.as_deref().unwrap_or(""),
                self.git_ref(r)
            ),
            RetrainKind::Github => format!(
                "the workflow_dispatch runs of {} in {} on {} created since {since}",
                self.cfg.workflow.as_deref().unwrap_or(""),
                self.cfg.repo.as_deref().unwrap_or(""),
                self.git_ref(r)
            ),
            RetrainKind::Webhook => format!(
                "{} for a retrain requested since {since} with \"event_id\": \"{event}\"",
                self.name()
            ),
        }
    }

    /// Sends the trigger, once: a trigger is not idempotent, so it is never retried. GitHub's
    /// dispatch names no run (`Ok(None)`): `find_run` finds it.
    pub fn trigger(&self, r: &Retrain, event: &str) -> Result<Option<Pipeline>, TriggerError> {
        let endpoint = self.endpoint();
        let tok_var = self.cfg.token_env.as_deref();
        match self.cfg.kind {
            RetrainKind::Gitlab => {
                let body = json!({"token": self.token.clone().unwrap_or_default(), "ref": self.git_ref(r), "variables": self.variables(r, event)});
                let v = answer(
                    "GitLab trigger",
                    &endpoint,
                    tok_var,
                    self.http.send(|c| c.post(&endpoint).json(&body), false),
                )?;
                let Some(id) = v["id"].as_u64().map(|n| n.to_string()) else {
                    return Err(TriggerError {
                        detail: format!(
                            "GitLab trigger: the answer has no pipeline id: {}",
                            one_line(&v.to_string(), 160)
                        ),
                        refused: false,
                    });
                };
                Ok(Some(Pipeline {
                    web_url: v["web_url"].as_str().unwrap_or("").to_string(),
                    status: Status::At(format!("{}/pipelines/{id}", self.gitlab_project())),
                    id,
                }))
            }
            RetrainKind::Github => {
                let body = json!({"ref": self.git_ref(r), "inputs": self.inputs(r)});
                let auth = self.bearer();
                answer(
                    "GitHub workflow_dispatch",
                    &endpoint,
                    tok_var,
                    self.http
                        .send(|c| github(c.post(&endpoint), &auth).json(&body), false),
                )?;
                Ok(None)
            }
            RetrainKind::Webhook => {
                let body = self.webhook_body(r, event);
                let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
                let v = answer(
                    "webhook",
                    &endpoint,
                    tok_var,
                    self.http.send(
                        |c| {
                            let r = c.post(&endpoint).json(&body);
                            match &auth {
                                Some(a) => r.header("Authorization", a),
                                None => r,
                            }
                        },
                        false,
                    ),
                )?;
                let id = v["id"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
                    .unwrap_or_default();
                Ok(Some(Pipeline {
                    web_url: v["web_url"]
                        .as_str()
                        .or(v["url"].as_str())
                        .unwrap_or("")
                        .to_string(),
                    status: webhook_status(
                        self.cfg.status_url.as_deref(),
                        &endpoint,
                        v["status_url"].as_str(),
                        &id,
                    ),
                    id,
                }))
            }
        }
    }

    /// A pipeline known by its id (from the journal, after a crash): where its status is read.
    /// A webhook reply's own status URL is not kept, so only a configured one is known.
    pub fn pipeline(&self, id: &str, web_url: &str) -> Pipeline {
        let status = match self.cfg.kind {
            RetrainKind::Gitlab => Status::At(format!("{}/pipelines/{id}", self.gitlab_project())),
            RetrainKind::Github => Status::At(format!(
                "{}/repos/{}/actions/runs/{id}",
                self.base(),
                self.cfg.repo.as_deref().unwrap_or("")
            )),
            RetrainKind::Webhook => {
                webhook_status(self.cfg.status_url.as_deref(), &self.endpoint(), None, id)
            }
        };
        Pipeline {
            id: id.to_string(),
            web_url: web_url.to_string(),
            status,
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token.clone().unwrap_or_default())
    }

    /// GitHub's workflow_dispatch runs on the ref created since `since` (a few seconds of
    /// clock skew allowed), newest first.
    fn runs_since(&self, r: &Retrain, since: DateTime<Utc>) -> Result<Vec<Value>, String> {
        let runs = format!("{}/runs", self.github_workflow());
        let since = (since - chrono::Duration::seconds(5))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let q = [
            ("event", "workflow_dispatch".to_string()),
            ("branch", self.git_ref(r)),
            ("created", format!(">={since}")),
        ];
        let auth = self.bearer();
        let v = answer(
            "GitHub runs",
            &runs,
            self.cfg.token_env.as_deref(),
            self.http
                .send(|c| github(c.get(&runs).query(&q), &auth), true),
        )
        .map_err(|e| e.detail)?;
        Ok(v["workflow_runs"].as_array().cloned().unwrap_or_default())
    }

    /// GitHub: the run a dispatch at `since` started (the newest dispatched run on the ref since
    /// then), looked for during up to 60 s.
    pub fn find_run(&self, r: &Retrain, since: DateTime<Utc>) -> Result<Pipeline, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(run) = self.runs_since(r, since)?.first() {
                let id = run["id"].as_u64().unwrap_or(0).to_string();
                return Ok(self.pipeline(&id, run["html_url"].as_str().unwrap_or("")));
            }
            sleep(Duration::from_secs(2));
        }
        Err("GitHub: no workflow_dispatch run appeared within 60 s".into())
    }

    /// Whether CI can be asked what an event's trigger started (`Err`: why not).
    pub fn can_lookup(&self) -> Result<(), String> {
        match self.cfg.kind {
            RetrainKind::Gitlab if self.status_token.is_none() => Err(format!(
                "reading GitLab's pipelines needs an API token, and [models.{}.retrain].status_token_env is not set",
                self.model
            )),
            RetrainKind::Gitlab | RetrainKind::Github => Ok(()),
            RetrainKind::Webhook => {
                Err("a webhook has no API to ask which retrains it started".into())
            }
        }
    }

    /// Whether `event`'s trigger, sent at `since` or later, started a pipeline.
    pub fn lookup(&self, r: &Retrain, event: &str, since: DateTime<Utc>) -> Lookup {
        match (self.cfg.kind, &self.status_token) {
            (RetrainKind::Gitlab, Some(tok)) => self.gitlab_lookup(r, event, since, tok),
            (RetrainKind::Github, _) => match self.runs_since(r, since) {
                Ok(runs) if runs.is_empty() => Lookup::NotFound,
                Ok(runs) => Lookup::Dispatched(
                    runs.iter()
                        .map(|run| {
                            run["html_url"]
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| format!("run {}", run["id"]))
                        })
                        .collect(),
                ),
                Err(e) => Lookup::Failed(e),
            },
            _ => Lookup::CannotAsk(self.can_lookup().err().unwrap_or_default()),
        }
    }

    /// GitLab: the project's triggered pipelines on the ref since then, and their variables.
    fn gitlab_lookup(&self, r: &Retrain, event: &str, since: DateTime<Utc>, tok: &str) -> Lookup {
        let var = self.cfg.status_token_env.as_deref();
        let list = format!("{}/pipelines", self.gitlab_project());
        let after = (since - chrono::Duration::minutes(1))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let q = [
            ("ref", self.git_ref(r)),
            ("source", "trigger".to_string()),
            ("updated_after", after),
            ("per_page", "100".to_string()),
        ];
        let get = |url: &str, q: &[(&str, String)]| {
            answer(
                "GitLab pipelines",
                url,
                var,
                self.http
                    .send(|c| c.get(url).query(q).header("PRIVATE-TOKEN", tok), true),
            )
            .map_err(|e| e.detail)
        };
        let pipelines = match get(&list, &q) {
            Ok(v) => v.as_array().cloned().unwrap_or_default(),
            Err(e) => return Lookup::Failed(e),
        };
        for p in pipelines {
            let Some(id) = p["id"].as_u64() else { continue };
            let vars = match get(&format!("{list}/{id}/variables"), &[]) {
                Ok(v) => v,
                Err(e) => return Lookup::Failed(e),
            };
            let ours = vars.as_array().is_some_and(|vs| {
                vs.iter()
                    .any(|v| v["key"] == EVENT_VARIABLE && v["value"] == event)
            });
            if ours {
                return Lookup::Found(
                    self.pipeline(&id.to_string(), p["web_url"].as_str().unwrap_or("")),
                );
            }
        }
        Lookup::NotFound
    }

    /// Polls the pipeline until it finishes: Ok on success, else how it ended or why it was
    /// not followed to its end. The spinner shows on `printer`.
    pub fn follow(&self, printer: &Printer, pl: &Pipeline) -> Result<String, Followed> {
        let url = match &pl.status {
            Status::Unknown => {
                return Err(Followed::NotFollowed(format!(
                    "mlrb does not know where to read its status (set [models.{}.retrain].status_url)",
                    self.model
                )));
            }
            Status::Foreign { url, trusted } => {
                return Err(Followed::NotFollowed(format!(
                    "not polled: the webhook's reply puts the status at {url}, another origin than {trusted} (the only one mlrb sends the token to)"
                )));
            }
            Status::At(url) => url,
        };
        let (auth, token_var) = match self.cfg.kind {
            RetrainKind::Gitlab => (
                self.status_token.clone().map(|t| ("PRIVATE-TOKEN", t)),
                self.cfg.status_token_env.as_deref(),
            ),
            RetrainKind::Github | RetrainKind::Webhook => (
                self.token
                    .clone()
                    .map(|t| ("Authorization", format!("Bearer {t}"))),
                self.cfg.token_env.as_deref(),
            ),
        };
        let every = self.cfg.poll_interval.unwrap_or(Duration::from_secs(10));
        let timeout = self.wait_timeout();
        let github = self.is_github();
        let bar = printer.step(&format!("waiting for {url}"));
        let start = Instant::now();
        let out = loop {
            let v = match answer(
                "pipeline status",
                url,
                token_var,
                self.http.send(
                    |c| {
                        let r = c.get(url);
                        let r = match &auth {
                            Some((h, v)) => r.header(*h, v),
                            None => r,
                        };
                        if github {
                            r.header("Accept", "application/vnd.github+json")
                        } else {
                            r
                        }
                    },
                    true,
                ),
            ) {
                Ok(v) => v,
                Err(e) => break Err(Followed::Unknown(e.detail)),
            };
            let (done, ok, state) = if github {
                let st = v["status"].as_str().unwrap_or("");
                let concl = v["conclusion"].as_str().unwrap_or("");
                (
                    st == "completed",
                    concl == "success",
                    if st == "completed" { concl } else { st }.to_string(),
                )
            } else {
                let st = v["status"].as_str().unwrap_or("").to_string();
                let done = matches!(
                    st.as_str(),
                    "success" | "failed" | "canceled" | "cancelled" | "skipped" | "error"
                );
                (done, st == "success", st)
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
                    Err(Followed::Ended(state))
                };
            }
            if start.elapsed() >= timeout {
                break Err(Followed::Unknown(format!(
                    "pipeline still {state} after {}",
                    humantime::format_duration(timeout)
                )));
            }
            sleep(every);
        };
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        out
    }
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

/// An HTTP answer turned into JSON, or one line saying what went wrong (never the token) and
/// whether the server refused the request outright.
fn answer(
    what: &str,
    url: &str,
    token_var: Option<&str>,
    resp: Result<reqwest::blocking::Response, reqwest::Error>,
) -> Result<Value, TriggerError> {
    let resp = resp.map_err(|e| {
        let how = if e.is_redirect() { "" } else { " unreachable" };
        TriggerError {
            detail: format!("{what}: {url}{how}: {}", error_detail(&e)),
            // No connection, or a redirect not followed: the request never reached its handler.
            refused: e.is_connect() || e.is_redirect() || e.is_builder(),
        }
    })?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let failed = |detail: String| TriggerError {
        detail,
        refused: (300..500).contains(&status) && status != 408,
    };
    let body = if (200..300).contains(&status) {
        crate::http::read_body(resp, crate::http::transport().max_body).map_err(|e| {
            // A trigger answered 2xx was made: not refused, whatever its body.
            TriggerError {
                detail: format!("{what}: {url} answered {status}, but {e}"),
                refused: false,
            }
        })?
    } else {
        crate::http::error_text(resp)
    };
    match status {
        200..=299 => {
            if body.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(&body).map_err(|_| {
                let (kind, snippet) = describe_body(&ct, &body);
                failed(format!(
                    "{what}: {url} answered {status} with {kind} instead of JSON: {snippet}"
                ))
            })
        }
        401 | 403 => Err(failed(format!(
            "{what}: {url} refused the token{} ({status}): {}",
            token_var.map(|v| format!(" from ${v}")).unwrap_or_default(),
            one_line(&body, 160)
        ))),
        404 => Err(failed(format!(
            "{what}: {url} answered 404 (project, workflow or pipeline not found, or the token cannot see it): {}",
            one_line(&body, 160)
        ))),
        _ => {
            let (kind, snippet) = describe_body(&ct, &body);
            Err(failed(format!(
                "{what}: {url} answered {status} ({kind}): {snippet}"
            )))
        }
    }
}

/// The token in the environment variable `var` names (`field` of the config says which), or
/// the usage error saying what to export.
fn token(var: Option<&str>, field: &str, model: &str) -> Result<Option<String>, CliError> {
    let Some(var) = var else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        _ => Err(CliError::usage(format!(
            "the environment variable {var} (named by [models.{model}.retrain].{field}) is not set"
        ))
        .with_hint(format!("export {var}=… with the CI token; mlrb never reads tokens from the config file or the command line"))),
    }
}

fn encode(s: &str) -> String {
    s.replace('/', "%2F")
}

fn github(r: reqwest::blocking::RequestBuilder, auth: &str) -> reqwest::blocking::RequestBuilder {
    r.header("Authorization", auth)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
}

fn sleep(d: Duration) {
    if crate::testhooks::no_sleep() {
        std::thread::sleep(Duration::from_millis(20));
    } else {
        std::thread::sleep(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_status_url_wins_and_a_reply_keeps_to_the_trigger_origin() {
        let t = "https://ci.example.com/hooks/retrain";
        assert!(matches!(
            webhook_status(Some("https://ci.example.com/jobs/{id}"), t, Some("https://evil/x"), "7"),
            Status::At(u) if u == "https://ci.example.com/jobs/7"
        ));
        assert!(matches!(
            webhook_status(None, t, Some("status/7"), "7"),
            Status::At(u) if u == "https://ci.example.com/hooks/status/7"
        ));
        assert!(matches!(
            webhook_status(None, t, Some("https://evil.example.com/s?token=x"), "7"),
            Status::Foreign { url, trusted } if url == "https://evil.example.com/s?…" && trusted == "https://ci.example.com"
        ));
        assert!(matches!(
            webhook_status(None, t, None, "7"),
            Status::Unknown
        ));
    }
}
