//! `rollback retrain` against an HTTP server in the test implementing GitLab's pipeline trigger
//! and pipeline API, GitHub's workflow_dispatch and runs API, and a webhook.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::common::http_server::{Reply, TestServer};

const SECRET: &str = "glptt-s3cr3t-trigger";
const API_SECRET: &str = "glpat-s3cr3t-api";

fn gitlab_env(url: &str) -> TestEnv {
    gitlab_env_with(url, "")
}

/// `gitlab_env` with `extra` lines in `[models.recsys.retrain]`.
fn gitlab_env_with(url: &str, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("RETRAIN_TOKEN", SECRET);
    env.set("GITLAB_API_TOKEN", API_SECRET);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"gitlab\"\nurl = \"{url}\"\nproject = \"ml/recsys\"\nref = \"main\"\ntoken_env = \"RETRAIN_TOKEN\"\nstatus_token_env = \"GITLAB_API_TOKEN\"\nestimated_duration = \"45m\"\npoll_interval = \"1s\"\n{extra}"
        ),
    );
    env
}

/// GitLab: the trigger answers 201 with pipeline 42; its status walks through `statuses`
/// (a 500 first, to exercise the retry of the idempotent status read).
fn gitlab(trigger_status: u16, statuses: &'static [&'static str]) -> TestServer {
    let polls = Arc::new(AtomicU32::new(0));
    TestServer::start(move |req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v4/projects/ml%2Frecsys/trigger/pipeline") => match trigger_status {
            201 => Reply::json(
                201,
                json!({"id": 42, "status": "created", "web_url": "https://gitlab.example.com/ml/recsys/-/pipelines/42"}),
            ),
            401 => Reply::json(401, json!({"message": "401 Unauthorized"})),
            404 => Reply::json(404, json!({"message": "404 Project Not Found"})),
            _ => Reply::text(
                502,
                "text/html",
                "<html><title>502 Bad Gateway</title></html>",
            ),
        },
        ("GET", "/api/v4/projects/ml%2Frecsys/pipelines/42") => {
            let n = polls.fetch_add(1, Ordering::SeqCst) as usize;
            if n == 0 {
                return Reply::json(500, json!({"message": "500 Internal Server Error"}));
            }
            let s = statuses[(n - 1).min(statuses.len() - 1)];
            Reply::json(200, json!({"id": 42, "status": s}))
        }
        _ => Reply::text(404, "text/plain", "no route"),
    })
}

fn no_secret(out: &crate::common::Output, env: &TestEnv) {
    for s in [SECRET, API_SECRET] {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "token leaked"
        );
        assert!(!env.journal().contains(s), "token in the journal");
    }
}

#[test]
fn gitlab_trigger_starts_a_pipeline_with_the_dataset_variables() {
    let server = gitlab(201, &["running"]);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-2026-01",
        "--config-commit",
        "abc123",
        "--yes",
    ]);
    out.code(0);
    assert!(out.stderr.contains("pipeline 42"), "{}", out.stderr);
    assert!(out.stdout.contains("pipelines/42"), "{}", out.stdout);
    assert!(
        out.stdout.contains("45m"),
        "report records the estimate:\n{}",
        out.stdout
    );
    let reqs = server.requests();
    let body: Value = serde_json::from_str(&reqs[0].body).unwrap();
    assert_eq!(body["token"], json!(SECRET));
    assert_eq!(body["ref"], json!("abc123"));
    assert_eq!(
        body["variables"]["TRAINING_DATASET_VERSION"],
        json!("ds-2026-01")
    );
    assert_eq!(body["variables"]["EMERGENCY_RETRAIN"], json!("true"));
    assert_eq!(body["variables"]["MODEL_NAME"], json!("recsys"));
    assert_eq!(body["variables"]["TRAINING_CONFIG_COMMIT"], json!("abc123"));
    assert_eq!(reqs.len(), 1, "without --wait nothing is polled");
    no_secret(&out, &env);
}

#[test]
fn gitlab_wait_follows_the_pipeline_to_success_through_a_500() {
    let server = gitlab(201, &["pending", "running", "success"]);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--wait",
        "--yes",
    ]);
    out.code(0);
    assert!(out.stderr.contains("pipeline success"), "{}", out.stderr);
    let polls: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert!(
        polls.len() >= 4,
        "500, pending, running, success: {}",
        polls.len()
    );
    assert!(
        polls[0]
            .headers
            .iter()
            .any(|(k, v)| k == "private-token" && v == API_SECRET)
    );
    assert!(env.journal().contains("\"type\":\"verified\",\"ok\":true"));
    no_secret(&out, &env);
}

#[test]
fn gitlab_wait_reports_a_failed_pipeline() {
    let server = gitlab(201, &["running", "failed"]);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--wait",
        "--yes",
    ]);
    out.code(1);
    assert!(
        out.error_line().contains("pipeline ended failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn gitlab_401_names_the_variable_never_the_token() {
    let server = gitlab(401, &[]);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--yes",
    ]);
    out.code(1);
    let line = out.error_line();
    assert!(
        line.contains("refused the token from $RETRAIN_TOKEN (401)"),
        "{line}"
    );
    no_secret(&out, &env);
}

#[test]
fn gitlab_404_and_html_are_clear() {
    let server = gitlab(404, &[]);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--yes",
    ]);
    out.code(1);
    assert!(out.error_line().contains("answered 404"), "{}", out.stderr);
    let server = gitlab(502, &[]);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--yes",
    ]);
    out.code(1);
    assert!(out.error_line().contains("HTML"), "{}", out.stderr);
    // A trigger is never retried: one POST.
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );
}

#[test]
fn missing_token_variable_is_a_usage_error() {
    let server = gitlab(201, &[]);
    let mut env = gitlab_env(&server.url);
    env.vars.remove("RETRAIN_TOKEN");
    let line = env
        .run(&[
            "rollback",
            "retrain",
            "recsys",
            "--dataset-version",
            "ds-1",
            "--yes",
        ])
        .one_clear_error(2);
    assert!(line.contains("RETRAIN_TOKEN"), "{line}");
    assert!(server.requests().is_empty());
}

#[test]
fn github_dispatch_finds_and_follows_the_run() {
    let polls = Arc::new(AtomicU32::new(0));
    let server = TestServer::start(move |req| {
        let path = req.path.split('?').next().unwrap_or("");
        match (req.method.as_str(), path) {
            ("POST", "/repos/ml/training/actions/workflows/retrain.yml/dispatches") => {
                Reply::text(204, "application/json", "")
            }
            ("GET", "/repos/ml/training/actions/workflows/retrain.yml/runs") => Reply::json(
                200,
                json!({"total_count": 1, "workflow_runs": [{"id": 777, "html_url": "https://github.com/ml/training/actions/runs/777", "status": "queued"}]}),
            ),
            ("GET", "/repos/ml/training/actions/runs/777") => {
                let n = polls.fetch_add(1, Ordering::SeqCst);
                if n < 1 {
                    Reply::json(
                        200,
                        json!({"id": 777, "status": "in_progress", "conclusion": null}),
                    )
                } else {
                    Reply::json(
                        200,
                        json!({"id": 777, "status": "completed", "conclusion": "success"}),
                    )
                }
            }
            _ => Reply::text(404, "text/plain", "no route"),
        }
    });
    let mut env = TestEnv::new();
    env.set("GH_TOKEN_FOR_RETRAIN", SECRET);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"github\"\nurl = \"{}\"\nrepo = \"ml/training\"\nworkflow = \"retrain.yml\"\ntoken_env = \"GH_TOKEN_FOR_RETRAIN\"\n",
            server.url
        ),
    );
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-9",
        "--wait",
        "--yes",
    ]);
    out.code(0);
    let reqs = server.requests();
    let body: Value = serde_json::from_str(&reqs[0].body).unwrap();
    assert_eq!(body["ref"], json!("main"));
    assert_eq!(body["inputs"]["dataset_version"], json!("ds-9"));
    assert!(
        reqs[0]
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == &format!("Bearer {SECRET}"))
    );
    assert!(
        reqs[1].path.contains("event=workflow_dispatch"),
        "{}",
        reqs[1].path
    );
    assert!(out.stderr.contains("run 777"), "{}", out.stderr);
    no_secret(&out, &env);
}

#[test]
fn webhook_posts_the_request() {
    let server = TestServer::start(|req| match req.method.as_str() {
        "POST" => Reply::json(200, json!({"id": "r-1"})),
        _ => Reply::text(404, "text/plain", "no"),
    });
    let env = TestEnv::new();
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"webhook\"\nurl = \"{}/retrain\"\n",
            server.url
        ),
    );
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-2",
        "--yes",
    ]);
    out.code(0);
    // The report is titled and advised for a retrain, not a model rollback.
    assert!(
        out.stdout
            .contains("# Incident Report: Emergency Retrain - recsys"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("mlrb candidate"), "{}", out.stdout);
    let body: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
    assert_eq!(body["dataset_version"], json!("ds-2"));
    assert_eq!(body["emergency_retrain"], json!(true));
}

/// A GitLab that remembers what it was asked: every trigger creates a pipeline (42, 43, …)
/// with the variables it carried, listed by the pipelines API and readable with the API token.
/// The first trigger answers `first_answer` (a 502 from a proxy after the pipeline was created,
/// say); later ones 201.
fn remembering_gitlab(first_answer: u16) -> TestServer {
    let created: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    TestServer::start(move |req| {
        let path = req.path.split('?').next().unwrap_or("");
        let project = "/api/v4/projects/ml%2Frecsys";
        let web = |id: usize| format!("https://gitlab.example.com/ml/recsys/-/pipelines/{id}");
        let authorized = req
            .headers
            .iter()
            .any(|(k, v)| k == "private-token" && v == API_SECRET);
        let mut created = created.lock().unwrap();
        match (req.method.as_str(), path.strip_prefix(project)) {
            ("POST", Some("/trigger/pipeline")) => {
                let body: Value = serde_json::from_str(&req.body).unwrap();
                created.push(body["variables"].clone());
                let id = 41 + created.len();
                if created.len() == 1 && first_answer != 201 {
                    return Reply::text(first_answer, "text/html", "<html>Bad Gateway</html>");
                }
                Reply::json(201, json!({"id": id, "status": "created", "web_url": web(id)}))
            }
            ("GET", _) if !authorized => Reply::json(401, json!({"message": "401 Unauthorized"})),
            ("GET", Some("/pipelines")) => Reply::json(
                200,
                Value::Array(
                    (0..created.len())
                        .rev()
                        .map(|i| json!({"id": 42 + i, "ref": "main", "source": "trigger", "web_url": web(42 + i)}))
                        .collect(),
                ),
            ),
            ("GET", Some(p)) => {
                let rest = p.strip_prefix("/pipelines/").unwrap_or("");
                let (id, vars) = match rest.split_once('/') {
                    Some((id, "variables")) => (id, true),
                    _ => (rest, false),
                };
                let Some(v) = id
                    .parse::<usize>()
                    .ok()
                    .and_then(|id| created.get(id.wrapping_sub(42)))
                else {
                    return Reply::json(404, json!({"message": "404 Not found"}));
                };
                if vars {
                    let list: Vec<Value> = v
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, x)| json!({"key": k, "value": x, "variable_type": "env_var"}))
                        .collect();
                    Reply::json(200, Value::Array(list))
                } else {
                    Reply::json(200, json!({"id": id, "status": "success"}))
                }
            }
            _ => Reply::text(404, "text/plain", "no route"),
        }
    })
}

fn posts(server: &TestServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// The journal's records, parsed.
fn records(env: &TestEnv) -> Vec<Value> {
    env.journal()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The id of the only event in the journal.
fn only_event(env: &TestEnv) -> String {
    let started: Vec<String> = records(env)
        .iter()
        .filter(|r| r["type"] == "started")
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(started.len(), 1, "{started:?}");
    started[0].clone()
}

const RETRAIN: &[&str] = &[
    "rollback",
    "retrain",
    "recsys",
    "--dataset-version",
    "ds-1",
    "--yes",
];
const RESUME: &[&str] = &[
    "rollback", "retrain", "recsys", "--resume", "--yes", "-o", "json",
];

/// Killed right after the trigger's start was journaled (before the POST) or right after its
/// answer was: a plain re-run refuses to plan over the event, `--resume` finishes it, and CI
/// receives exactly one trigger, carrying the event id.
#[test]
fn a_crash_mid_way_is_refused_then_resumed_with_one_trigger() {
    for (at, wait) in [
        ("started:1", false),
        ("finished:1", false),
        ("finished:1", true),
    ] {
        let server = remembering_gitlab(201);
        let mut env = gitlab_env(&server.url);
        env.set("MLRB_TEST_CRASH_AT", at);
        let out = env.run(RETRAIN);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        let event = only_event(&env);

        let line = env.run(RETRAIN).one_clear_error(2);
        assert!(
            line.contains(&event) && line.contains("interrupted"),
            "{at}: {line}"
        );
        let mut resume = RESUME.to_vec();
        if wait {
            resume.push("--wait");
        }
        let out = env.run(&resume);
        out.code(0);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{at}: stdout is not one JSON document ({e}):\n{}",
                out.stdout
            )
        });
        assert_eq!(v["event_id"], json!(event), "{at}: {v}");
        assert_eq!(
            v["outcome"],
            json!(if wait { "retrained" } else { "triggered" }),
            "{at}: {v}"
        );
        assert_eq!(v["pipeline"]["id"], json!("42"), "{at}: {v}");
        assert_eq!(posts(&server), 1, "{at}: one trigger for one event");
        let body: Value = serde_json::from_str(
            &server
                .requests()
                .iter()
                .find(|r| r.method == "POST")
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(body["variables"]["MLRB_EVENT_ID"], json!(event), "{at}");
        no_secret(&out, &env);
    }
}

/// The trigger reached GitLab but its answer never made it to the journal (killed during the
/// request): `--resume` finds the pipeline by its MLRB_EVENT_ID and does not trigger again.
#[test]
fn a_trigger_whose_answer_was_lost_is_found_in_gitlab_not_sent_again() {
    let server = remembering_gitlab(201);
    let mut env = gitlab_env(&server.url);
    env.set("MLRB_TEST_CRASH_AT", "finished:1");
    assert_ne!(env.run(RETRAIN).code, 0);
    env.vars.remove("MLRB_TEST_CRASH_AT");
    // What a kill between the POST and its record leaves: the step's start, no end.
    let journal = env.state_dir().join("journal.jsonl");
    let kept: Vec<String> = env
        .journal()
        .lines()
        .filter(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            !(r["type"] == "step_finished" && r["index"] == 0)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&journal, kept.concat()).unwrap();

    let out = env.run(RESUME);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "triggered", "{v}");
    assert_eq!(v["pipeline"]["id"], "42", "{v}");
    assert!(out.stderr.contains("not triggered again"), "{}", out.stderr);
    assert_eq!(posts(&server), 1, "the lost trigger is not sent again");
}

/// A 5xx from the trigger may hide a pipeline that was created: the event stays open, and
/// `--resume` asks GitLab before sending anything.
#[test]
fn a_trigger_answered_5xx_is_looked_for_before_it_is_sent_again() {
    let server = remembering_gitlab(502);
    let env = gitlab_env(&server.url);
    let out = env.run(RETRAIN);
    out.code(1);
    let line = out.error_line();
    assert!(
        line.contains("502") && line.contains("may have started a pipeline"),
        "{line}"
    );
    assert!(
        out.stderr.contains("--resume` first asks GitLab"),
        "{}",
        out.stderr
    );
    env.run(RETRAIN).one_clear_error(2);
    let out = env.run(RESUME);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["pipeline"]["id"], "42", "{v}");
    assert_eq!(posts(&server), 1);
}

/// A trigger GitLab refused (a 401) started nothing: once the token is fixed, `--resume` sends
/// it without asking first.
#[test]
fn a_refused_trigger_is_sent_again_by_resume() {
    let server = remembering_gitlab(401);
    let mut env = gitlab_env(&server.url);
    let out = env.run(RETRAIN);
    out.code(1);
    assert!(
        out.error_line().contains("so no pipeline was started"),
        "{}",
        out.stderr
    );
    env.set("RETRAIN_TOKEN", "glptt-fixed");
    let out = env.run(RESUME);
    out.code(0);
    assert_eq!(posts(&server), 2);
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(gets, 0, "nothing to look for after a refusal");
}

/// A webhook cannot be asked what it started: a resumed trigger with no recorded answer is not
/// sent again; the event is closed with what to check, and a plain run afterwards triggers.
#[test]
fn a_webhook_trigger_with_no_recorded_answer_is_not_sent_again() {
    let server = TestServer::start(|req| match req.method.as_str() {
        "POST" => Reply::json(200, json!({"id": "r-1"})),
        _ => Reply::text(404, "text/plain", "no"),
    });
    let mut env = TestEnv::new();
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"webhook\"\nurl = \"{}/retrain\"\n",
            server.url
        ),
    );
    env.set("MLRB_TEST_CRASH_AT", "started:1");
    assert_ne!(env.run(RETRAIN).code, 0);
    env.vars.remove("MLRB_TEST_CRASH_AT");
    let event = only_event(&env);
    let out = env.run(RESUME);
    out.code(3);
    assert_eq!(posts(&server), 0, "not sent again blindly");
    let line = out.error_line();
    assert!(
        line.contains(&event) && line.contains("not sent again"),
        "{line}"
    );
    assert!(
        out.stderr
            .contains(&format!("with \"event_id\": \"{event}\"")),
        "says what to look for: {}",
        out.stderr
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "trigger_unknown", "{v}");
    // Closed: after checking CI, the same command triggers.
    env.run(RETRAIN).code(0);
    assert_eq!(posts(&server), 1);
}

/// GitHub: a dispatch killed before it was sent is sent on `--resume` (no run was dispatched
/// since); the run it started is found and followed.
#[test]
fn github_resume_dispatches_only_when_no_run_was_dispatched() {
    let dispatched = Arc::new(AtomicU32::new(0));
    let d = dispatched.clone();
    let server = TestServer::start(move |req| {
        let path = req.path.split('?').next().unwrap_or("");
        match (req.method.as_str(), path) {
            ("POST", "/repos/ml/training/actions/workflows/retrain.yml/dispatches") => {
                d.fetch_add(1, Ordering::SeqCst);
                Reply::text(204, "application/json", "")
            }
            ("GET", "/repos/ml/training/actions/workflows/retrain.yml/runs") => {
                let runs: Vec<Value> = (0..d.load(Ordering::SeqCst))
                    .map(|i| json!({"id": 777 + i, "html_url": format!("https://github.com/ml/training/actions/runs/{}", 777 + i), "status": "queued"}))
                    .collect();
                Reply::json(
                    200,
                    json!({"total_count": runs.len(), "workflow_runs": runs}),
                )
            }
            _ => Reply::text(404, "text/plain", "no route"),
        }
    });
    let mut env = TestEnv::new();
    env.set("GH_TOKEN_FOR_RETRAIN", SECRET);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"github\"\nurl = \"{}\"\nrepo = \"ml/training\"\nworkflow = \"retrain.yml\"\ntoken_env = \"GH_TOKEN_FOR_RETRAIN\"\n",
            server.url
        ),
    );
    env.set("MLRB_TEST_CRASH_AT", "started:1");
    assert_ne!(env.run(RETRAIN).code, 0);
    env.vars.remove("MLRB_TEST_CRASH_AT");
    let out = env.run(RESUME);
    out.code(0);
    assert_eq!(dispatched.load(Ordering::SeqCst), 1);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["pipeline"]["id"], "777", "{v}");

    // Killed after the dispatch was sent and before the run was found: the run is looked for
    // again, and nothing is dispatched.
    env.set("MLRB_TEST_CRASH_AT", "finished:1");
    let again = [
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-2",
        "--yes",
    ];
    assert_ne!(env.run(&again).code, 0);
    env.vars.remove("MLRB_TEST_CRASH_AT");
    env.run(RESUME).code(0);
    assert_eq!(dispatched.load(Ordering::SeqCst), 2);
}

/// Right after a retrain was triggered, the same command again (a second engineer, a re-run)
/// names the first and triggers nothing; another dataset version still triggers.
#[test]
fn the_same_retrain_again_is_a_no_op_that_names_the_first() {
    let server = remembering_gitlab(201);
    let env = gitlab_env(&server.url);
    env.run(RETRAIN).code(0);
    let event = only_event(&env);
    let mut json_out = RETRAIN.to_vec();
    json_out.extend(["-o", "json"]);
    let out = env.run(&json_out);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "already_triggered", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("already triggered by {event} at "))
            && message.contains("pipeline 42")
            && message.contains("nothing changed"),
        "{message}"
    );
    assert_eq!(posts(&server), 1, "never a second pipeline for one retrain");
    assert_eq!(
        records(&env)
            .iter()
            .filter(|r| r["type"] == "started")
            .count(),
        1,
        "the no-op writes no event"
    );

    let other = [
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-2",
        "--yes",
    ];
    env.run(&other).code(0);
    assert_eq!(posts(&server), 2);
}

/// `--dry-run -o json` is one JSON document with the plan, and sends nothing.
#[test]
fn dry_run_json_is_a_document() {
    let server = remembering_gitlab(201);
    let env = gitlab_env(&server.url);
    let out = env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--dry-run",
        "-o",
        "json",
    ]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "dry_run", "{v}");
    assert_eq!(v["dataset_version"], "ds-1", "{v}");
    let plan = v["plan"].as_array().unwrap();
    assert!(
        plan[0]["line"]
            .as_str()
            .unwrap()
            .contains("\"MLRB_EVENT_ID\":\"<event id>\""),
        "{v}"
    );
    assert_eq!(plan[0]["kind"], "http", "{v}");
    assert!(server.requests().is_empty());
}

/// `--wait` cut short (the pipeline still running at wait_timeout) leaves the event open: a
/// plain re-run refuses, and `--resume --wait` follows the same pipeline to its end without
/// triggering again.
#[test]
fn a_wait_cut_short_is_resumed_without_a_second_trigger() {
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = finished.clone();
    let server = TestServer::start(move |req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v4/projects/ml%2Frecsys/trigger/pipeline") => Reply::json(
            201,
            json!({"id": 42, "web_url": "https://gitlab.example.com/ml/recsys/-/pipelines/42"}),
        ),
        ("GET", "/api/v4/projects/ml%2Frecsys/pipelines/42") => {
            let status = if f.load(Ordering::SeqCst) {
                "success"
            } else {
                "running"
            };
            Reply::json(200, json!({"id": 42, "status": status}))
        }
        _ => Reply::text(404, "text/plain", "no route"),
    });
    let env = gitlab_env_with(&server.url, "wait_timeout = \"1s\"\n");
    let mut wait = RETRAIN.to_vec();
    wait.push("--wait");
    let out = env.run(&wait);
    out.code(1);
    assert!(
        out.error_line().contains("pipeline still running after 1s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--resume --wait` follows it again"),
        "{}",
        out.stderr
    );
    env.run(&wait).one_clear_error(2);
    finished.store(true, Ordering::SeqCst);
    let mut resume = RESUME.to_vec();
    resume.push("--wait");
    let out = env.run(&resume);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "retrained", "{v}");
    assert_eq!(posts(&server), 1);
}

/// A pipeline `--wait` sees fail ends the event (retrain_failed): the retrain may be triggered
/// again at once, as a new event.
#[test]
fn a_failed_pipeline_closes_the_event_and_may_be_triggered_again() {
    let server = gitlab(201, &["running", "failed"]);
    let env = gitlab_env(&server.url);
    let mut wait = RETRAIN.to_vec();
    wait.push("--wait");
    env.run(&wait).code(1);
    let outcomes: Vec<Value> = records(&env)
        .into_iter()
        .filter(|r| r["type"] == "finished")
        .map(|r| r["outcome"].clone())
        .collect();
    assert_eq!(outcomes, [json!("retrain_failed")]);
    env.run(RETRAIN).code(0);
    assert_eq!(posts(&server), 2);
}
