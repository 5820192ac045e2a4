//! `mlrb watch` against a real Prometheus: the consecutive rule, M of N, soft alerts, blindness,
//! notifications, the rollback itself (on the real MLflow server) and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlrb::registry::Stage;

use crate::common::http_server::{Reply, TestServer};
use crate::common::mlflow::{MlflowBackend, free_port};
use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique};

/// A running `mlrb watch` whose stderr lines are collected as they come.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(env: &TestEnv, args: &[&str]) -> Watch {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
            .env_clear()
            .envs(&env.vars)
            .current_dir(env.path())
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
        Watch { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits for the `n`th line containing `pat` (1-based); returns its index.
    fn wait_nth(&self, pat: &str, n: usize, secs: u64) -> usize {
        let t0 = Instant::now();
        loop {
            let ls = self.lines();
            let hits: Vec<usize> = ls
                .iter()
                .enumerate()
                .filter(|(_, l)| l.contains(pat))
                .map(|(i, _)| i)
                .collect();
            if hits.len() >= n {
                return hits[n - 1];
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "no {n}× `{pat}` in {secs} s:\n{}",
                ls.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait(&self, pat: &str, secs: u64) -> usize {
        self.wait_nth(pat, 1, secs)
    }

    /// SIGTERM, then the exit code and stdout.
    fn stop(mut self) -> (i32, String, Vec<String>) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "watch did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), out, self.lines())
    }
}

fn slack() -> TestServer {
    TestServer::start(|_| Reply::text(200, "text/plain", "ok"))
}

fn texts(s: &TestServer) -> Vec<String> {
    s.requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            // As Slack shows it: mlrb escapes Slack's `& < >`.
            v["text"]
                .as_str()
                .or(v["message"].as_str())
                .unwrap_or("")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// Config for model MODEL: metrics, a 1 s controller, short verification, Slack from $SLACK_URL.
fn config(metrics: &[&str], controller: &str) -> String {
    model_config(
        &prom().url,
        "MODEL",
        metrics,
        &format!(
            "[models.\"MODEL\".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.73\n\
             [models.\"MODEL\".controller]\ncheck_interval = \"1s\"\n{controller}\n\
             [models.\"MODEL\".verify]\ntimeout = \"15s\"\ninterval = \"1s\"\n\
             [notify]\nslack_webhook_env = \"SLACK_URL\"\n"
        ),
    )
}

fn setup(b: &dyn Backend, env: &mut TestEnv, toml: &str, slack_url: &str) -> String {
    let m = unique("watch");
    b.seed(&m, &bad_release(), &[]);
    let cfg = env.write("mlrb.toml", &toml.replace("MODEL", &m));
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("SLACK_URL", slack_url);
    m
}

#[test]
fn rolls_back_after_exactly_n_consecutive_breaches_not_after_a_transient_spike() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    let s = slack();
    let m = setup(
        &b,
        &mut env,
        &config(
            &["error_rate"],
            "consecutive_failures_required = 3\npost_rollback_watch = \"1h\"",
        ),
        &s.url,
    );
    p.put(&m, "error_rate", 0.01);
    let w = Watch::start(&env, &[&m]);
    w.wait("MONITOR", 15);
    // A transient spike: breached, then healthy again before a third check.
    p.set(&m, "error_rate", 0.08);
    w.wait("(failure 1/3", 10);
    p.set(&m, "error_rate", 0.01);
    w.wait("failure count reset", 10);
    assert!(!w.lines().iter().any(|l| l.contains("failure 3/3")));
    assert_eq!(
        b.version(&m, 3).0,
        Stage::Production,
        "no rollback after a spike"
    );
    // Sustained: three in a row, then the rollback.
    let reset_at = w.lines().len();
    p.set(&m, "error_rate", 0.08);
    w.wait("AUTOMATED ROLLBACK TRIGGERED", 20);
    let triggered = chrono::Utc::now();
    p.set(&m, "error_rate", 0.01);
    w.wait("watching v2 for 1h after the rollback", 30);
    let (code, stdout, lines) = w.stop();
    assert_eq!(code, 0, "{}", lines.join("\n"));
    let after: Vec<&String> = lines[reset_at..].iter().collect();
    let seq: Vec<&str> = after
        .iter()
        .filter_map(|l| {
            [
                "failure 1/3",
                "failure 2/3",
                "failure 3/3",
                "AUTOMATED ROLLBACK TRIGGERED",
            ]
            .into_iter()
            .find(|p| l.contains(p))
        })
        .collect();
    assert_eq!(
        seq,
        [
            "failure 1/3",
            "failure 2/3",
            "failure 3/3",
            "AUTOMATED ROLLBACK TRIGGERED"
        ],
        "{}",
        lines.join("\n")
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
    let (_, tags) = b.version(&m, 2);
    assert_eq!(tags["rollback.triggered_by"], "mlrb-watch");
    assert!(tags["rollback.reason"].contains("Error rate 8.0% exceeds threshold 5.0%"));
    assert!(
        stdout.contains("# Incident Report: Model Rollback"),
        "{stdout}"
    );
    assert!(lines.iter().any(|l| l.contains("stopped by signal")));
    let t = texts(&s);
    assert!(
        t.iter()
            .any(|x| x.starts_with("AUTOMATED ROLLBACK IN PROGRESS\nModel: ")
                && x.contains(
                    "Rolling back: v3 -> v2\nTrigger: Error rate 8.0% exceeds threshold 5.0%"
                )),
        "{t:?}"
    );
    assert!(
        t.iter()
            .any(|x| x.contains("ROLLBACK COMPLETE") && x.contains("now serving v2")),
        "{t:?}"
    );
    let _ = triggered;
}

#[test]
fn m_of_n_catches_a_flapping_metric() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    // The consecutive rule alone (10 in a row) never fires on a metric that flaps every check.
    let m = setup(
        &b,
        &mut env,
        &config(
            &["error_rate"],
            "consecutive_failures_required = 10\nfailures_in_window = 3\nwindow = 6",
        ),
        &s.url,
    );
    p.put(&m, "error_rate", 0.08);
    let w = Watch::start(&env, &[&m]);
    // Flip the metric after every check the watcher logs, until it acts.
    let t0 = Instant::now();
    let mut seen = 0;
    loop {
        let ls = w.lines();
        if ls
            .iter()
            .any(|l| l.contains("AUTOMATED ROLLBACK TRIGGERED"))
        {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(40), "{}", ls.join("\n"));
        for l in &ls[seen..] {
            if l.contains("Rollback trigger:") {
                p.set(&m, "error_rate", 0.01);
            } else if l.contains("MONITOR") {
                p.set(&m, "error_rate", 0.08);
            }
        }
        seen = ls.len();
        std::thread::sleep(Duration::from_millis(50));
    }
    p.set(&m, "error_rate", 0.01);
    w.wait("after the rollback", 30);
    let (code, _, lines) = w.stop();
    assert_eq!(code, 0);
    assert!(
        lines.iter().any(|l| l.contains("failure count reset")),
        "it flapped: {}",
        lines.join("\n")
    );
    assert!(
        lines.iter().any(|l| l.contains("3/3 in the last 6 checks")),
        "{}",
        lines.join("\n")
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

#[test]
fn soft_breaches_notify_once_and_again_when_cleared() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = setup(
        &b,
        &mut env,
        &config(&["error_rate", "prediction_diversity"], ""),
        &s.url,
    );
    p.set(&m, "error_rate", 0.01);
    p.put(&m, "prediction_diversity", 0.04);
    let w = Watch::start(&env, &[&m, "--log-format", "json"]);
    w.wait_nth("\"event\":\"soft_breach\"", 3, 20);
    p.set(&m, "prediction_diversity", 0.73);
    w.wait("SOFT ALERT CLEARED", 20);
    let (code, _, lines) = w.stop();
    assert_eq!(code, 0);
    for l in &lines {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
    }
    let t = texts(&s);
    let alerts: Vec<&String> = t.iter().filter(|x| x.starts_with("SOFT ALERT:")).collect();
    assert_eq!(alerts.len(), 1, "{t:?}");
    assert_eq!(
        alerts[0],
        &format!(
            "SOFT ALERT: {m} - Prediction diversity dropped 94.5% from baseline (threshold: 20.0%)"
        )
    );
    assert!(
        t.iter().any(|x| x.starts_with("SOFT ALERT CLEARED:")),
        "{t:?}"
    );
    assert_eq!(
        b.version(&m, 3).0,
        Stage::Production,
        "soft never rolls back"
    );
}

#[test]
fn prometheus_down_keeps_watching_and_reports_blind() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let hook = TestServer::start(|_| Reply::text(200, "text/plain", "ok"));
    let dead = format!("http://127.0.0.1:{}", free_port());
    let m = unique("blind");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &dead,
        &m,
        &["error_rate"],
        &format!(
            "[models.\"{m}\".controller]\ncheck_interval = \"1s\"\nblind_after = 2\n\
             [notify]\nslack_webhook_env = \"SLACK_URL\"\nwebhook_env = \"HOOK_URL\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    // Slack is down too: its failure is logged and changes nothing else.
    env.set(
        "SLACK_URL",
        format!("http://127.0.0.1:{}/hook", free_port()),
    );
    env.set("HOOK_URL", format!("{}/hook", hook.url));
    let w = Watch::start(&env, &[&m]);
    w.wait("CONTROLLER BLIND", 15);
    w.wait("slack notification failed", 5);
    w.wait_nth("not counted as a breach", 4, 15);
    let (code, _, lines) = w.stop();
    assert_eq!(code, 0, "{}", lines.join("\n"));
    let reqs = hook.requests();
    let blind: Vec<serde_json::Value> = reqs
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .filter(|v: &serde_json::Value| v["kind"] == "blind")
        .collect();
    assert_eq!(blind.len(), 1, "blind is notified once");
    assert_eq!(blind[0]["model"], m.as_str());
    assert!(
        blind[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach Prometheus")
    );
    assert_eq!(b.version(&m, 3).0, Stage::Production);
}

#[test]
fn once_exits_with_the_decision() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = setup(
        &b,
        &mut env,
        &config(&["error_rate", "prediction_diversity"], ""),
        "http://127.0.0.1:9/x",
    );
    p.set(&m, "prediction_diversity", 0.73);
    p.put(&m, "error_rate", 0.01);
    p.wait_for(&m, "prediction_diversity", 0.73);
    env.run(&["watch", &m, "--once"]).code(0);
    p.put(&m, "prediction_diversity", 0.04);
    env.run(&["watch", &m, "--once"]).code(10);
    p.put(&m, "error_rate", 0.08);
    let out = env.run(&["watch", &m, "--once"]);
    out.code(11);
    assert!(
        out.stderr
            .contains("ROLLBACK NOW: Error rate 8.0% exceeds threshold 5.0%")
    );
    assert_eq!(
        b.version(&m, 3).0,
        Stage::Production,
        "--once never rolls back"
    );
}

#[test]
fn post_rollback_watch_notifies_when_the_rolled_back_version_does_not_recover() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let toml = config(&["error_rate"], "consecutive_failures_required = 2")
        .replace("timeout = \"15s\"", "timeout = \"2s\"");
    let m = setup(&b, &mut env, &toml, &s.url);
    p.put(&m, "error_rate", 0.2);
    let w = Watch::start(&env, &[&m]);
    w.wait("AUTOMATED ROLLBACK TRIGGERED", 20);
    w.wait_nth("ROLLBACK NOW after rollback", 2, 20);
    let (code, _, lines) = w.stop();
    assert_eq!(code, 0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("AUTOMATED ROLLBACK TRIGGERED"))
            .count(),
        1,
        "never a second automated rollback"
    );
    let t = texts(&s);
    assert!(
        t.iter()
            .any(|x| x.contains("ROLLBACK COMPLETE") && x.contains("NOT recovered yet")),
        "{t:?}"
    );
    let not: Vec<&String> = t
        .iter()
        .filter(|x| x.starts_with("NOT RECOVERED AFTER ROLLBACK"))
        .collect();
    assert_eq!(not.len(), 1, "{t:?}");
    assert!(not[0].contains("on v2 - Error rate 20.0% exceeds threshold 5.0%"));
}

/// Faults in front of the real Prometheus at every query of a check: a single refused, delayed,
/// failed or cut query is retried and the decision stands; a Prometheus that stays down is
/// "metrics unreadable" (exit 1), never a breach, and never a rollback.
#[test]
fn prometheus_faults_at_every_query_never_fake_a_decision() {
    use crate::common::fault::{Fault, FaultProxy, When};
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("promfault");
    b.seed(&m, &bad_release(), &[]);
    p.set(&m, "prediction_diversity", 0.73);
    p.put(&m, "error_rate", 0.08);
    p.wait_for(&m, "prediction_diversity", 0.73);
    for fault in [Fault::Refuse, Fault::Delay, Fault::Error500, Fault::Cut] {
        for n in 1..=2 {
            for (when, want) in [(When::Once(n), 11), (When::From(n), 1)] {
                let proxy =
                    FaultProxy::start(&p.url, fault, when, std::time::Duration::from_millis(1500));
                let toml = model_config(
                    &proxy.url,
                    &m,
                    &["error_rate", "prediction_diversity"],
                    &format!(
                        "timeout = \"1s\"\n[models.\"{m}\".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.73\n"
                    ),
                );
                let cfg = env.write("mlrb.toml", &toml);
                env.set("MLRB_CONFIG", cfg.display().to_string());
                let out = env.run(&["watch", &m, "--once"]);
                assert_eq!(out.code, want, "{fault:?} {when:?}: {}", out.stderr);
                assert_eq!(
                    b.version(&m, 3).0,
                    Stage::Production,
                    "--once never rolls back"
                );
            }
        }
    }
}
