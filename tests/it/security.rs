//! A server's answer never chooses where mlrb sends a credential: not a redirect, not a status
//! URL in a reply. Each test plays the attacker with a second local server that must see nothing,
//! with the canary secret as the credential (so no output or file may show it either).

use serde_json::{Value, json};

use crate::common::http_server::{Reply, Request, TestServer};
use crate::common::prometheus::model_config;
use crate::common::{Backend, CANARY, FileBackend, TestEnv, bad_release, tls, unique};

/// The attacker's server: records what it gets and answers every request with a success.
fn attacker() -> TestServer {
    TestServer::start(|_| Reply::json(200, json!({"id": 1, "status": "success"})))
}

/// `127.0.0.1:PORT` of a test server's URL.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
}

const RETRAIN_WAIT: &[&str] = &[
    "rollback",
    "retrain",
    "recsys",
    "--dataset-version",
    "ds-1",
    "--wait",
    "--yes",
];

/// Whether a request carries the canary anywhere (a header or the body).
fn carries_canary(r: &Request) -> bool {
    r.body.contains(CANARY) || r.headers.iter().any(|(_, v)| v.contains(CANARY))
}

/// A webhook retrain whose token is the canary, with `extra` config lines.
fn webhook_env(trigger: &TestServer, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("RETRAIN_TOKEN", CANARY);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"webhook\"\nurl = \"{}/retrain\"\ntoken_env = \"RETRAIN_TOKEN\"\npoll_interval = \"1s\"\n{extra}",
            trigger.url
        ),
    );
    env
}

/// A webhook trigger answering `{"id": "r-1", "status_url": status_url}` and, on GET, a
/// pipeline that succeeded.
fn webhook(status_url: String) -> TestServer {
    TestServer::start(move |req| match req.method.as_str() {
        "POST" => Reply::json(200, json!({"id": "r-1", "status_url": status_url})),
        _ => Reply::json(200, json!({"status": "success"})),
    })
}

#[test]
fn webhook_reply_cannot_send_the_token_to_another_origin() {
    let evil = attacker();
    let trigger = webhook(format!(
        "http://someone:pw@{}/status/r-1?token=chosen-by-server",
        authority(&evil.url)
    ));
    let env = webhook_env(&trigger, "");
    let out = env.run(RETRAIN_WAIT);
    out.code(1);
    assert!(
        evil.requests().is_empty(),
        "the reply's status URL was polled: {:?}",
        evil.requests()
    );
    let line = out.error_line();
    assert!(
        line.contains(&format!(
            "retrain r-1 was triggered, but its status cannot be followed at {}/status/r-1?…",
            evil.url
        )) && line.contains(&trigger.url),
        "{line}"
    );
    assert!(
        !out.stderr.contains("someone") && !out.stderr.contains("chosen-by-server"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: set [models.recsys.retrain].status_url"),
        "{}",
        out.stderr
    );
    // The trigger itself happened (and got the token); the report says so.
    assert_eq!(trigger.requests().len(), 1);
    assert!(out.stdout.contains("Retrain triggered"), "{}", out.stdout);
}

#[test]
fn webhook_status_url_on_the_triggers_origin_is_followed() {
    // Absolute on the trigger's origin, then relative to the trigger.
    for shape in ["absolute", "relative"] {
        let trigger = TestServer::start(move |req| match req.method.as_str() {
            "POST" => {
                let host = req
                    .headers
                    .iter()
                    .find(|(k, _)| k == "host")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let url = match shape {
                    "absolute" => format!("http://{host}/status/r-1"),
                    _ => "status/r-1".to_string(),
                };
                Reply::json(200, json!({"id": "r-1", "status_url": url}))
            }
            _ => Reply::json(200, json!({"status": "success"})),
        });
        let env = webhook_env(&trigger, "");
        env.run(RETRAIN_WAIT).code(0);
        let polls: Vec<Request> = trigger
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect();
        assert_eq!(polls.len(), 1, "{shape}");
        assert_eq!(polls[0].path, "/status/r-1", "{shape}");
        assert!(carries_canary(&polls[0]), "{shape}: polled with the token");
    }
}

#[test]
fn configured_status_url_wins_over_the_reply() {
    let evil = attacker();
    let trigger = webhook(format!("{}/status/r-1", evil.url));
    let env = webhook_env(
        &trigger,
        &format!("status_url = \"{}/jobs/{{id}}\"\n", trigger.url),
    );
    env.run(RETRAIN_WAIT).code(0);
    assert!(evil.requests().is_empty(), "{:?}", evil.requests());
    assert!(
        trigger
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/jobs/r-1")
    );
}

/// GitLab with the canary as both the trigger token (in the body) and the API token (header).
fn gitlab_env(url: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("RETRAIN_TOKEN", CANARY);
    env.set("GITLAB_API_TOKEN", CANARY);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"gitlab\"\nurl = \"{url}\"\nproject = \"ml/recsys\"\ntoken_env = \"RETRAIN_TOKEN\"\nstatus_token_env = \"GITLAB_API_TOKEN\"\npoll_interval = \"1s\"\n"
        ),
    );
    env
}

#[test]
fn gitlab_trigger_redirected_to_another_server_sends_it_nothing() {
    let evil = attacker();
    let to = format!("{}/api/v4/projects/ml%2Frecsys/trigger/pipeline", evil.url);
    let gitlab = TestServer::start(move |_| Reply::redirect(307, &to));
    let env = gitlab_env(&gitlab.url);
    let out = env.run(RETRAIN_WAIT);
    out.code(1);
    assert!(evil.requests().is_empty(), "{:?}", evil.requests());
    let line = out.error_line();
    assert!(
        line.contains(&format!(
            "the server redirected to {}/… (another origin); mlrb does not follow redirects with credentials",
            evil.url
        )) && line.contains("configure the final URL"),
        "{line}"
    );
    assert!(!line.contains(&format!("{}/api", evil.url)), "{line}");
    assert_eq!(
        gitlab.requests().len(),
        1,
        "a refused redirect is not retried"
    );
}

#[test]
fn gitlab_status_redirected_to_another_server_gets_no_private_token() {
    let evil = attacker();
    let to = format!("{}/api/v4/projects/ml%2Frecsys/pipelines/42", evil.url);
    let gitlab = TestServer::start(move |req| match req.method.as_str() {
        "POST" => Reply::json(
            201,
            json!({"id": 42, "web_url": "https://gitlab.example.com/p/42"}),
        ),
        _ => Reply::redirect(302, &to),
    });
    let env = gitlab_env(&gitlab.url);
    let out = env.run(RETRAIN_WAIT);
    out.code(1);
    assert!(evil.requests().is_empty(), "{:?}", evil.requests());
    assert!(
        out.error_line()
            .contains("(another origin); mlrb does not follow redirects"),
        "{}",
        out.stderr
    );
}

#[test]
fn same_origin_redirects_are_followed_with_the_credentials() {
    // The trigger moved within its server: a relative 307 keeps the POST, body and token.
    let gitlab = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v4/projects/ml%2Frecsys/trigger/pipeline") => {
            Reply::redirect(307, "/v2/trigger")
        }
        ("POST", "/v2/trigger") => Reply::json(201, json!({"id": 42, "web_url": ""})),
        ("GET", "/api/v4/projects/ml%2Frecsys/pipelines/42") => {
            Reply::redirect(302, "/v2/pipelines/42")
        }
        ("GET", "/v2/pipelines/42") => Reply::json(200, json!({"id": 42, "status": "success"})),
        _ => Reply::text(404, "text/plain", "no route"),
    });
    let env = gitlab_env(&gitlab.url);
    env.run(RETRAIN_WAIT).code(0);
    let reqs = gitlab.requests();
    let moved: Vec<&Request> = reqs.iter().filter(|r| r.path.starts_with("/v2/")).collect();
    assert_eq!(moved.len(), 2, "{reqs:?}");
    let body: Value = serde_json::from_str(&moved[0].body).unwrap();
    assert_eq!(body["token"], json!(CANARY));
    assert!(
        moved[1]
            .headers
            .iter()
            .any(|(k, v)| k == "private-token" && v == CANARY)
    );
}

#[test]
fn mlflow_redirect_off_https_or_to_another_port_gets_nothing() {
    let evil = attacker();
    let to = format!("{}/api/2.0/mlflow/registered-models/get", evil.url);
    // The registry behind TLS redirects to plain http: a scheme downgrade.
    let registry = TestServer::start(move |_| Reply::redirect(302, &to));
    let proxy = tls::start(authority(&registry.url), false);
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", proxy.url.clone());
    env.set(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        proxy.ca_pem.display().to_string(),
    );
    env.set("MLFLOW_TRACKING_USERNAME", "oncall");
    let line = env.run(&["status", "recsys"]).one_clear_error(1);
    assert!(
        line.contains(&format!(
            "the server redirected to {}/… (https to http, in clear text)",
            evil.url
        )),
        "{line}"
    );
    assert_eq!(registry.requests().len(), 1, "not retried");
    // Plain http, a redirect to another port, with a bearer token.
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", registry.url.clone());
    let line = env.run(&["status", "recsys"]).one_clear_error(1);
    assert!(line.contains("(another origin)"), "{line}");
    assert!(evil.requests().is_empty(), "{:?}", evil.requests());
}

#[test]
fn prometheus_redirect_to_another_port_gets_no_auth_header() {
    let evil = attacker();
    let to = format!("{}/api/v1/query", evil.url);
    let prom = TestServer::start(move |_| Reply::redirect(302, &to));
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("redirect");
    b.seed(&m, &bad_release(), &[]);
    let cfg = env.write(
        "mlrb.toml",
        &model_config(
            &prom.url,
            &m,
            &["error_rate"],
            "auth_header_env = \"PROM_AUTH\"\n",
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("PROM_AUTH", format!("Bearer {CANARY}"));
    let out = env.run(&["status", &m]);
    assert!(evil.requests().is_empty(), "{:?}", evil.requests());
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("(another origin)"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

/// The Slack webhook URL is itself the secret (its path): a redirect elsewhere gets nothing, and
/// the failure names neither the URL nor its path.
#[test]
fn slack_webhook_redirected_to_another_server_gets_nothing() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let evil = attacker();
    let to = format!("{}/services/T0/B0/{CANARY}", evil.url);
    let slack = TestServer::start(move |_| Reply::redirect(307, &to));
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("slack");
    b.seed(&m, &bad_release(), &[]);
    // Prometheus is down, so the controller goes blind at once and says so on Slack.
    let dead = format!("http://127.0.0.1:{}", crate::common::mlflow::free_port());
    let toml = model_config(
        &dead,
        &m,
        &["error_rate"],
        &format!(
            "[models.\"{m}\".controller]\ncheck_interval = \"1s\"\nblind_after = 1\n\
             [notify]\nslack_webhook_env = \"SLACK_URL\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set(
        "SLACK_URL",
        format!("{}/services/T0/B0/{CANARY}", slack.url),
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["watch", &m])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let t0 = Instant::now();
    let mut seen = Vec::new();
    let failed = loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("slack notification failed") => break Some(l),
            Some(Ok(l)) => seen.push(l),
            _ => break None,
        }
        if t0.elapsed() > Duration::from_secs(20) {
            break None;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(evil.requests().is_empty(), "{:?}", evil.requests());
    let failed = failed.unwrap_or_else(|| panic!("no slack failure:\n{}", seen.join("\n")));
    assert!(
        failed.contains(&format!(
            "the server redirected to {}/… (another origin)",
            evil.url
        )),
        "{failed}"
    );
    assert!(
        !failed.contains(CANARY) && !failed.contains("/services/"),
        "{failed}"
    );
}

/// A tool on PATH that writes its environment to `$DUMP_ENV_TO`, then runs the fake helm.
fn env_dumping_helm(env: &mut TestEnv) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helm = bin.join("helm");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\nenv >> \"$DUMP_ENV_TO\"\nexec {} \"$@\"\n",
            crate::common::repo_root()
                .join("tests/env/fake-helm/helm")
                .display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), env.vars["PATH"]);
    env.set("PATH", path);
    let dump = env.path().join("helm-env.txt");
    env.set("DUMP_ENV_TO", dump.display().to_string());
    dump
}

#[test]
fn subprocesses_get_no_credential_variables() {
    let slack = TestServer::start(|_| Reply::text(200, "text/plain", "ok"));
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("childenv");
    b.seed(&m, &bad_release(), &[]);
    let dump = env_dumping_helm(&mut env);
    let state = env.path().join("helm.json");
    std::fs::write(
        &state,
        r#"{"ml-serving/model-server": [{"revision": 1, "updated": "x", "status": "deployed", "chart": "model-server-0.1.0", "app_version": "1", "description": "Install complete"}]}"#,
    )
    .unwrap();
    env.set("FAKE_HELM_STATE", state.display().to_string());
    // Every kind of credential variable the config can name, each holding a canary.
    env.set("MLFLOW_TRACKING_USERNAME", CANARY);
    env.set("PROM_AUTH", format!("Bearer {CANARY}"));
    env.set("RETRAIN_TOKEN", CANARY);
    env.set("GITLAB_API_TOKEN", CANARY);
    env.set(
        "SLACK_URL",
        format!("{}/services/T0/B0/{CANARY}", slack.url),
    );
    env.set("HOOK_URL", format!("{}/hook/{CANARY}", slack.url));
    env.write(
        "mlrb.toml",
        &format!(
            "[notify]\nslack_webhook_env = \"SLACK_URL\"\nwebhook_env = \"HOOK_URL\"\n\
             [models.{m}.serving]\nkind = \"helm-set\"\nrelease = \"model-server\"\nchart = \"charts/model-server\"\nset_key = \"model.version\"\nnamespace = \"ml-serving\"\ntimeout = \"60s\"\n\
             [models.{m}.retrain]\nkind = \"gitlab\"\nurl = \"{}\"\nproject = \"ml/recsys\"\ntoken_env = \"RETRAIN_TOKEN\"\nstatus_token_env = \"GITLAB_API_TOKEN\"\n\
             [models.{m}.metrics]\nprometheus_url = \"{}\"\nauth_header_env = \"PROM_AUTH\"\nerror_rate = \"rate(x[5m])\"\n",
            slack.url, slack.url
        ),
    );
    let out = env.run(&["rollback", "model", &m, "--yes", "--no-verify"]);
    let seen = std::fs::read_to_string(&dump).unwrap_or_default();
    // Read, then removed: the test's own files are checked for the canary when it ends.
    let _ = std::fs::remove_file(&dump);
    assert!(
        seen.contains("DUMP_ENV_TO="),
        "helm did not run:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    for var in [
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_TRACKING_USERNAME",
        "PROM_AUTH",
        "RETRAIN_TOKEN",
        "GITLAB_API_TOKEN",
        "SLACK_URL",
        "HOOK_URL",
    ] {
        assert!(
            !seen.lines().any(|l| l.starts_with(&format!("{var}="))),
            "helm got {var}"
        );
    }
    assert!(!seen.contains(CANARY), "helm's environment held the canary");
    // What is no credential still reaches the tool.
    assert!(seen.contains("FAKE_HELM_STATE="), "{seen}");
}

/// What a registry writer puts in a version's source to spoof the on-call engineer's terminal:
/// clear the screen, a green all-clear, a window title and a hidden link.
const SPOOF: &str = "s3://m/v3\x1b[2J\x1b[H\x1b[32mALL CLEAR: v4 healthy\x1b[0m\x1b]0;prod ok\x07\x1b]8;;https://evil.example\x1b\\runbook\x1b]8;;\x1b\\\u{9b}2J";

#[test]
fn registry_text_cannot_drive_the_terminal() {
    use crate::common::mlflow::MlflowBackend;

    let b = MlflowBackend::new();
    let mut env = TestEnv::new();
    b.configure(&mut env);
    let m = unique("escapes");
    b.seed(
        &m,
        &[
            crate::common::v(mlrb::registry::Stage::Archived),
            crate::common::v(mlrb::registry::Stage::Archived)
                .healthy()
                .source(SPOOF),
            crate::common::v(mlrb::registry::Stage::Production).source(SPOOF),
        ],
        &[],
    );
    for args in [
        vec!["status", m.as_str()],
        vec!["status", m.as_str(), "-v"],
        vec!["candidate", m.as_str()],
        vec!["rollback", "model", m.as_str(), "--dry-run"],
    ] {
        let out = env.run(&args);
        for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !text.contains(['\x1b', '\x07', '\u{9b}']),
                "{args:?}: a control character reached {name}:\n{text:?}"
            );
        }
        assert!(
            args[0] != "status" || out.stdout.contains("\\u{1b}[2J"),
            "{args:?}: the source is shown, escaped:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_tools_error_text_cannot_drive_the_terminal() {
    use std::os::unix::fs::PermissionsExt;

    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("toolescapes");
    b.seed(&m, &bad_release(), &[]);
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helm = bin.join("helm");
    std::fs::write(
        &helm,
        "#!/bin/sh\nprintf 'Error: \\033[2J\\033[32mALL CLEAR: v4 healthy\\033]0;prod ok\\007\\n' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), env.vars["PATH"]);
    env.set("PATH", path);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.{m}.serving]\nkind = \"helm-set\"\nrelease = \"model-server\"\nchart = \"charts/model-server\"\nset_key = \"model.version\"\nnamespace = \"ml-serving\"\n"
        ),
    );
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("ALL CLEAR"), "{}", out.stderr);
    assert!(
        !out.stderr.contains(['\x1b', '\x07']),
        "a control character reached stderr:\n{:?}",
        out.stderr
    );
}

#[test]
fn server_text_cannot_ping_the_channel_or_hide_a_link_in_slack() {
    use std::time::{Duration, Instant};

    const MARKUP: &str = "<!channel> see <https://evil.example/x|the official runbook> & <@U0>";
    let slack = TestServer::start(|_| Reply::text(200, "text/plain", "ok"));
    let hook = TestServer::start(|_| Reply::text(200, "text/plain", "ok"));
    // A Prometheus whose every answer is an error carrying Slack markup: the controller goes blind
    // at once and quotes the error on Slack.
    let prom = TestServer::start(|_| {
        Reply::json(
            400,
            json!({"status": "error", "errorType": "bad_data", "error": MARKUP}),
        )
    });
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("slackmarkup");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &prom.url,
        &m,
        &["error_rate"],
        &format!(
            "[models.\"{m}\".controller]\ncheck_interval = \"1s\"\nblind_after = 1\n\
             [notify]\nslack_webhook_env = \"SLACK_URL\"\nwebhook_env = \"HOOK_URL\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("SLACK_URL", format!("{}/services/T0/B0/x", slack.url));
    env.set("HOOK_URL", format!("{}/hook", hook.url));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["watch", &m])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while (slack.requests().is_empty() || hook.requests().is_empty())
        && t0.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let blind = texts
        .iter()
        .find(|t| t.starts_with("CONTROLLER BLIND"))
        .unwrap_or_else(|| panic!("no blind message on Slack: {texts:?}"));
    assert!(
        !blind.contains('<') && !blind.contains('>'),
        "Slack markup reached Slack: {blind}"
    );
    assert!(
        blind.contains(
            "&lt;!channel&gt; see &lt;https://evil.example/x|the official runbook&gt; &amp; &lt;@U0&gt;"
        ),
        "{blind}"
    );
    // The generic webhook gets the text as it is, inside JSON.
    let messages: Vec<Value> = hook
        .requests()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert!(
        messages
            .iter()
            .any(|v| v["message"].as_str().is_some_and(|t| t.contains(MARKUP))),
        "{messages:?}"
    );
}

/// A model rollback whose helm-set reload failed: an unfinished event in the journal for
/// `--resume` to finish; helm works again afterwards and logs its argv to helm-argv.txt.
fn failed_helm_reload() -> (TestEnv, String) {
    use std::os::unix::fs::PermissionsExt;

    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("forged");
    b.seed(&m, &bad_release(), &[]);
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fail = env.path().join("helm-fails");
    let helm = bin.join("helm");
    std::fs::write(
        &helm,
        format!(
            "#!/bin/sh\nif [ -e '{}' ]; then echo 'Error: cluster unreachable' >&2; exit 1; fi\necho \"$@\" >> '{}'\n",
            fail.display(),
            env.path().join("helm-argv.txt").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), env.vars["PATH"]);
    env.set("PATH", path);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.{m}.serving]\nkind = \"helm-set\"\nrelease = \"model-server\"\nchart = \"charts/model-server\"\nset_key = \"model.version\"\nnamespace = \"ml-serving\"\ntimeout = \"60s\"\n"
        ),
    );
    std::fs::write(&fail, "").unwrap();
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    std::fs::remove_file(&fail).unwrap();
    (env, m)
}

/// Rewrites every serving command recorded in the journal with `f`.
fn forge_commands(env: &TestEnv, f: impl Fn(&mut Vec<Value>)) {
    let path = env.state_dir().join("journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut rec: Value = serde_json::from_str(line).unwrap();
        let mut walk = vec![&mut rec];
        while let Some(v) = walk.pop() {
            match v {
                Value::Object(o) => {
                    if o.get("kind") == Some(&json!("command"))
                        && let Some(Value::Array(argv)) = o.get_mut("argv")
                    {
                        f(argv);
                    }
                    walk.extend(o.values_mut());
                }
                Value::Array(a) => walk.extend(a.iter_mut()),
                _ => {}
            }
        }
        out.push_str(&serde_json::to_string(&rec).unwrap());
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
}

#[test]
fn a_forged_journal_entry_cannot_run_a_command_on_resume() {
    let (env, m) = failed_helm_reload();
    let pwned = env.path().join("pwned");
    let cmd = format!("touch {}", pwned.display());
    forge_commands(&env, |argv| {
        *argv = vec![json!("sh"), json!("-c"), json!(cmd.clone())];
    });
    let out = env.run(&["rollback", "model", &m, "--resume", "--yes"]);
    assert!(!pwned.exists(), "the journal's command ran");
    let line = out.one_clear_error(2);
    assert!(
        line.contains("the journal asks to run `sh -c 'touch ")
            && line.contains("nothing was changed"),
        "{line}"
    );
}

#[test]
fn a_journaled_command_the_config_no_longer_makes_is_not_resumed() {
    let (env, m) = failed_helm_reload();
    // A known tool, but options the config never gave it.
    forge_commands(&env, |argv| {
        argv.push(json!("--post-renderer=/tmp/evil"));
    });
    let out = env.run(&["rollback", "model", &m, "--resume", "--yes"]);
    let line = out.one_clear_error(2);
    assert!(
        line.contains("are not what the current config makes") && line.contains("--post-renderer"),
        "{line}"
    );
    assert!(!env.path().join("helm-argv.txt").exists(), "helm ran");
    // The journal as mlrb wrote it resumes.
    forge_commands(&env, |argv| {
        argv.pop();
    });
    env.run(&["rollback", "model", &m, "--resume", "--yes"])
        .code(0);
    let ran = std::fs::read_to_string(env.path().join("helm-argv.txt")).unwrap();
    assert!(
        ran.starts_with("upgrade model-server charts/model-server"),
        "{ran}"
    );
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn the_state_directory_is_private_and_a_shared_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;

    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("statedir");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(mode_of(&env.state_dir()), 0o700);
    assert_eq!(mode_of(&env.state_dir().join("locks")), 0o700);

    // A state directory anyone can write: anyone could forge what --resume runs.
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed(&m, &bad_release(), &[]);
    std::fs::create_dir(env.state_dir()).unwrap();
    std::fs::set_permissions(env.state_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    let line = out.one_clear_error(1);
    assert!(
        line.contains("can be changed by other users (mode 777)")
            && line.contains("nothing was changed"),
        "{line}"
    );
    assert_eq!(b.snapshot(&m), before, "the registry changed");
    assert!(!env.state_dir().join("journal.jsonl").exists());
}

#[test]
fn config_values_cannot_become_options_of_kubectl_or_helm() {
    let cases = [
        (
            "[models.recsys.serving]\nkind = \"kubectl-restart\"\ndeployment = \"--kubeconfig=evil.yaml\"\n",
            "[models.recsys.serving] deployment `--kubeconfig=evil.yaml` is not a Kubernetes name",
        ),
        (
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"--kubeconfig=evil.yaml\"\n",
            "[models.recsys.infra] deployment `--kubeconfig=evil.yaml` is not a Kubernetes name",
        ),
        (
            "[models.recsys.infra]\nstrategy = \"helm\"\nrelease = \"--post-renderer=/tmp/x\"\n",
            "[models.recsys.infra] release `--post-renderer=/tmp/x` is not a helm release name",
        ),
        (
            "[models.recsys.serving]\nkind = \"helm-set\"\nrelease = \"ms\"\nchart = \"--post-renderer=/tmp/x\"\nset_key = \"model.version\"\n",
            "[models.recsys.serving] chart `--post-renderer=/tmp/x` is not allowed here",
        ),
        (
            "[models.recsys.serving]\nkind = \"helm-set\"\nrelease = \"ms\"\nchart = \"c\"\nset_key = \"image.repository=evil,model.version\"\n",
            "[models.recsys.serving] set_key `image.repository=evil,model.version` is not a helm value key",
        ),
        (
            "[models.recsys.serving]\nkind = \"kubectl-set-env\"\ndeployment = \"ms\"\nenv_var = \"--kubeconfig\"\n",
            "[models.recsys.serving] env_var `--kubeconfig` is not an environment variable name",
        ),
        (
            "[models.recsys.fallback]\nswitch = \"kubectl-set-env\"\ndeployment = \"ms\"\nenv_var = \"--kubeconfig\"\nvalue = \"x\"\n",
            "[models.recsys.fallback] env_var `--kubeconfig` is not an environment variable name",
        ),
        (
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\nnamespace = \"-n\"\n",
            "[models.recsys.infra] namespace `-n` is not a Kubernetes namespace",
        ),
        (
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\ncontext = \"--token=x\"\n",
            "[models.recsys.infra] context `--token=x` is not allowed here",
        ),
    ];
    for (toml, want) in cases {
        let mut env = TestEnv::new();
        let b = FileBackend::new(&env);
        b.configure(&mut env);
        b.seed("recsys", &bad_release(), &[]);
        // kubectl and helm are never started: a PATH without them fails any attempt loudly.
        env.set("PATH", "/nonexistent");
        env.write("mlrb.toml", toml);
        let line = env
            .run(&["rollback", "model", "recsys", "--yes"])
            .one_clear_error(2);
        assert!(line.contains(want), "{toml}\n{line}");
        assert_eq!(b.version("recsys", 3).0, mlrb::registry::Stage::Production);
    }
}

/// A file someone wants mlrb to overwrite through a symlink.
fn victim(env: &TestEnv) -> std::path::PathBuf {
    env.write("victim.txt", "precious\n")
}

#[test]
fn state_files_are_private_and_never_written_through_a_symlink() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("symlinks");
    b.seed(&m, &bad_release(), &[]);
    // A shared registry file stays shared.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&b.path, std::fs::Permissions::from_mode(0o664)).unwrap();
    }
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(mode_of(&b.path), 0o664, "the registry's mode changed");
    let journal = env.state_dir().join("journal.jsonl");
    assert_eq!(mode_of(&journal), 0o600);
    let locks: Vec<std::path::PathBuf> = std::fs::read_dir(env.state_dir().join("locks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(mode_of(&locks[0]), 0o600);

    // The lock file and the journal replaced by links to another file.
    let target = victim(&env);
    std::fs::remove_file(&locks[0]).unwrap();
    std::os::unix::fs::symlink(&target, &locks[0]).unwrap();
    std::fs::remove_file(&journal).unwrap();
    std::os::unix::fs::symlink(&target, &journal).unwrap();
    b.transition(&m, 3, mlrb::registry::Stage::Production);
    b.transition(&m, 2, mlrb::registry::Stage::Archived);
    let out = env.run(&["rollback", "model", &m, "--to", "2", "--yes", "--force"]);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "precious\n",
        "written through a symlink:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("is a symlink"), "{}", out.stderr);
}

#[test]
fn outputs_replace_a_planted_symlink_instead_of_writing_through_it() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("outputs");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let target = victim(&env);
    let out = env.path().join("report.md");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    env.run(&["report", "--last", "--out", "report.md", "--force"])
        .code(0);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(!out.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("# Incident Report")
    );
    assert_eq!(mode_of(&out), 0o600);

    // init: a dangling link is "already there"; --force replaces the link, not its target.
    let dangling = env.path().join("created-through-link.toml");
    let cfg = env.path().join("planted.toml");
    std::os::unix::fs::symlink(&dangling, &cfg).unwrap();
    let line = env
        .run(&["init", "--path", "planted.toml"])
        .one_clear_error(2);
    assert!(line.contains("already exists"), "{line}");
    env.run(&["init", "--path", "planted.toml", "--force"])
        .code(0);
    assert!(!dangling.exists(), "init wrote through the link");
    assert!(!cfg.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(mode_of(&cfg), 0o600);
}

/// A secret written in a config file's URL (not the canary: the harness rejects any file that
/// holds the canary, the config included).
const URL_SECRET: &str = "url-Secret-31415926";

#[test]
fn credentials_in_urls_are_refused_and_never_echoed() {
    let cases = [
        (
            format!(
                "[models.recsys.metrics]\nprometheus_url = \"http://ops:{URL_SECRET}@127.0.0.1:9\"\nerror_rate = 'x'\n"
            ),
            "[models.recsys.metrics] prometheus_url `http://[redacted]@127.0.0.1:9/` carries a user name or password",
        ),
        (
            format!(
                "[models.recsys.serving]\nkind = \"http\"\nreload_url = \"http://ops:{URL_SECRET}@127.0.0.1:9/reload\"\nhealth_url = \"http://127.0.0.1:9/health\"\n"
            ),
            "[models.recsys.serving] reload_url `http://[redacted]@127.0.0.1:9/reload` carries a user name or password",
        ),
        (
            format!(
                "[models.recsys.retrain]\nkind = \"webhook\"\nurl = \"https://ci:{URL_SECRET}@ci.example/hook\"\n"
            ),
            "[models.recsys.retrain] url",
        ),
    ];
    for (toml, want) in cases {
        let mut env = TestEnv::new();
        let b = FileBackend::new(&env);
        b.configure(&mut env);
        b.seed("recsys", &bad_release(), &[]);
        env.write("mlrb.toml", &toml);
        let out = env.run(&["status", "recsys"]);
        let line = out.one_clear_error(2);
        assert!(line.contains(want), "{toml}\n{line}");
        assert!(!out.stderr.contains(URL_SECRET), "{}", out.stderr);
    }
    for uri in [
        format!("http://ops:{CANARY}@127.0.0.1:9"),
        // Not even a URL: still not echoed.
        format!("http:/ops:{CANARY}@127.0.0.1:9"),
        format!("mlflow+http://ops:{CANARY}@127.0.0.1:9"),
    ] {
        let mut env = TestEnv::new();
        env.set("MLFLOW_TRACKING_URI", uri.clone());
        let line = env.run(&["status", "recsys"]).one_clear_error(2);
        assert!(line.contains("MLFLOW_TRACKING_URI"), "{uri}: {line}");
    }
}

#[test]
fn a_configured_urls_secrets_are_not_printed_in_the_plan() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.serving]\nkind = \"http\"\nreload_url = \"http://127.0.0.1:9/reload?code={URL_SECRET}\"\nhealth_url = \"https://hooks.example/services/T0/{URL_SECRET}\"\n"
        ),
    );
    let out = env.run(&["rollback", "model", "recsys", "--dry-run"]);
    out.code(0);
    assert!(
        !out.stdout.contains(URL_SECRET) && !out.stderr.contains(URL_SECRET),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .contains("POST http://127.0.0.1:9/reload?code=[redacted]")
            && out
                .stdout
                .contains("GET https://hooks.example/services/[redacted]/[redacted] until"),
        "{}",
        out.stdout
    );
}

/// A server that answers every request with an error quoting what it was sent.
fn echoing_server() -> TestServer {
    TestServer::start(|req| {
        let sent: Vec<String> = req
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        Reply::json(
            400,
            json!({
                "error_code": "INVALID_PARAMETER_VALUE",
                "message": format!("rejected {} with {} and body {}", req.path, sent.join(", "), req.body),
                "status": "error", "errorType": "bad_data",
                "error": format!("rejected with {}", sent.join(", ")),
            }),
        )
    })
}

#[test]
fn a_server_echoing_the_credential_gets_it_printed_nowhere() {
    // The registry: its error quotes the Authorization header (MLFLOW_TRACKING_TOKEN).
    let echo = echoing_server();
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", echo.url.clone());
    let out = env.run(&["status", "recsys", "-v"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("authorization: Bearer [redacted]"),
        "{}",
        out.stderr
    );

    // A retrain trigger quoting the token it got: not printed, not journaled.
    let env = webhook_env(&echo, "");
    let out = env.run(RETRAIN_WAIT);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("[redacted]"), "{}", out.stderr);
    let journal = env.journal();
    assert!(!journal.is_empty());
    assert!(!journal.contains(CANARY), "{journal}");
}

#[test]
fn a_credential_echoed_by_prometheus_does_not_reach_slack() {
    use std::time::{Duration, Instant};

    let slack = TestServer::start(|_| Reply::text(200, "text/plain", "ok"));
    let prom = echoing_server();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("slackscrub");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &prom.url,
        &m,
        &["error_rate"],
        &format!(
            "auth_header_env = \"PROM_AUTH\"\n[models.\"{m}\".controller]\ncheck_interval = \"1s\"\nblind_after = 1\n\
             [notify]\nslack_webhook_env = \"SLACK_URL\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("PROM_AUTH", format!("Bearer {CANARY}"));
    env.set("SLACK_URL", format!("{}/services/T0/B0/x", slack.url));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["watch", &m])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while slack.requests().is_empty() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let bodies: Vec<String> = slack.requests().into_iter().map(|r| r.body).collect();
    assert!(
        bodies.iter().any(|b| b.contains("CONTROLLER BLIND")),
        "{bodies:?}"
    );
    assert!(
        bodies.iter().all(|b| !b.contains(CANARY)),
        "the credential reached Slack: {bodies:?}"
    );
    assert!(
        bodies.iter().any(|b| b.contains("[redacted]")),
        "{bodies:?}"
    );
}

#[test]
fn basic_auth_and_a_bare_header_token_are_not_shown_either() {
    // Basic auth echoed by the registry: the header carries base64("user:password").
    let echo = echoing_server();
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", echo.url.clone());
    env.set("MLFLOW_TRACKING_USERNAME", "oncall");
    let basic = "b25jYWxsOm1scmItY2FuYXJ5LVNlY3JldC03ZjNhOWM="; // oncall:CANARY
    let out = env.run(&["status", "recsys", "-v"]);
    assert_ne!(out.code, 0);
    assert!(!out.stderr.contains(basic), "{}", out.stderr);
    assert!(
        out.stderr.contains("authorization: Basic [redacted]"),
        "{}",
        out.stderr
    );

    // A header value without a scheme (the token alone) traced by -v.
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("bareheader");
    b.seed(&m, &bad_release(), &[]);
    let cfg = env.write(
        "mlrb.toml",
        &model_config(
            &echo.url,
            &m,
            &["error_rate"],
            "auth_header_env = \"PROM_AUTH\"\n",
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("PROM_AUTH", CANARY);
    let out = env.run(&["status", &m, "-v"]);
    assert!(
        out.stderr.contains("(authorization: [redacted])"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_drills_state_files_are_private() {
    let env = TestEnv::new();
    env.run(&["drill", "recsys", "--sandbox"]).code(0);
    assert_eq!(mode_of(&env.state_dir()), 0o700);
    assert_eq!(mode_of(&env.state_dir().join("drills.jsonl")), 0o600);
}
