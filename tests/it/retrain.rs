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
    let mut env = TestEnv::new();
    env.set("RETRAIN_TOKEN", SECRET);
    env.set("GITLAB_API_TOKEN", API_SECRET);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"gitlab\"\nurl = \"{url}\"\nproject = \"ml/recsys\"\nref = \"main\"\ntoken_env = \"RETRAIN_TOKEN\"\nstatus_token_env = \"GITLAB_API_TOKEN\"\nestimated_duration = \"45m\"\npoll_interval = \"1s\"\n"
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
    env.run(&[
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-2",
        "--yes",
    ])
    .code(0);
    let body: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
    assert_eq!(body["dataset_version"], json!("ds-2"));
    assert_eq!(body["emergency_retrain"], json!(true));
}
