//! The re-promotion guard on the real MLflow server and Prometheus: a version mlrb rolled back
//! from is made live again by something else (a CI job re-promoting the bad release); `status`
//! flags it, `watch` notifies once, `changes` lists it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::http_server::{Reply, TestServer};
use crate::common::mlflow::MlflowBackend;
use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, TestEnv, bad_release, unique};

#[test]
fn a_ci_job_re_promoting_a_rolled_back_version_is_flagged_and_notified_once() {
    let p = prom();
    let b = MlflowBackend::new();
    let mut env = TestEnv::new();
    b.configure(&mut env);
    let m = unique("repromote");
    b.seed(&m, &bad_release(), &[]);
    let slack = TestServer::start(|_| Reply::text(200, "text/plain", "ok"));
    let toml = model_config(
        &p.url,
        &m,
        &["error_rate"],
        &format!(
            "[models.\"{m}\".baseline]\nerror_rate = 0.01\n[models.\"{m}\".controller]\ncheck_interval = \"1s\"\n[notify]\nslack_webhook_env = \"SLACK_URL\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("SLACK_URL", slack.url.clone());
    p.put(&m, "error_rate", 0.01);

    env.run(&["rollback", "model", &m, "--yes", "--no-verify"])
        .code(0);
    let anomalies = |env: &TestEnv| -> Vec<Value> {
        let out = env.run(&["status", &m, "-o", "json"]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let s = if v.is_array() { v[0].clone() } else { v };
        s["anomalies"].as_array().cloned().unwrap_or_default()
    };
    assert!(
        !anomalies(&env)
            .iter()
            .any(|a| a["kind"] == "live_was_rolled_back_from"),
        "mlrb's own rollback is no re-promotion"
    );

    // The watch starts on the rolled-back state, then a CI job puts v3 back.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["watch", &m, "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let (l, err) = (lines.clone(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    let checks = |n: usize, secs: u64| {
        let t0 = Instant::now();
        while lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("\"event\":\"check\""))
            .count()
            < n
        {
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "{:#?}",
                lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    checks(2, 30);
    assert!(slack.requests().is_empty(), "nothing to tell before");
    b.rest.post(
        "model-versions/transition-stage",
        json!({"name": m, "version": "3", "stage": "Production", "archive_existing_versions": true}),
    );
    let seen = lines.lock().unwrap().len();
    let t0 = Instant::now();
    while lines.lock().unwrap()[seen..]
        .iter()
        .filter(|l| l.contains("\"event\":\"check\""))
        .count()
        < 3
    {
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["text"].to_string())
        .collect();
    assert_eq!(texts.len(), 1, "notified once: {texts:#?}");
    assert!(
        texts[0].contains("the live version v3 was rolled back from")
            && texts[0].contains("without an mlrb rollback")
            && texts[0].contains(&format!("mlrb rollback model {m}")),
        "{}",
        texts[0]
    );
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"kind\":\"repromoted\"")),
        "{:#?}",
        lines.lock().unwrap()
    );

    let flagged = anomalies(&env);
    let a = flagged
        .iter()
        .find(|a| a["kind"] == "live_was_rolled_back_from")
        .unwrap_or_else(|| panic!("{flagged:#?}"));
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("is live again without an mlrb rollback"),
        "{a}"
    );
    let changes = env.run(&["changes", &m, "-o", "json"]);
    changes.code(0);
    let t: Value = serde_json::from_str(&changes.stdout).unwrap();
    assert!(
        t["changes"].as_array().unwrap().iter().any(|c| c["what"]
            .as_str()
            .unwrap()
            .starts_with("v3 made live again (Production) after rollback")),
        "{t:#}"
    );
}
