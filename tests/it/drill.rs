//! `mlrb drill`: with `--sandbox`, a whole rehearsal in the real binary — synthetic metrics served by the
//! drill itself through the real Prometheus client, the model rollback or the controller, the
//! restore check, the history and its trend, and the MTTR objective — and staging drills against
//! the real MLflow server and Prometheus, with a model server whose metrics follow what it serves.

use std::time::{Duration, Instant};

use mlrb::registry::Stage;

use crate::common::http_server::{Reply, TestServer};
use crate::common::mlflow::MlflowBackend;
use crate::common::prometheus::{model_config, prom};
use crate::common::staging::{StagingServer, staging_config};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique, v};

fn history(env: &TestEnv) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.state_dir().join("drills.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn drill(env: &TestEnv, args: &[&str]) -> crate::common::Output {
    let t = Instant::now();
    let mut all = vec!["drill", "recsys", "--sandbox"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "a sandbox drill took {:?}\n{}",
        t.elapsed(),
        out.stderr
    );
    out
}

#[test]
fn drill_manual_sandbox_rolls_back_verifies_restores_and_records() {
    let env = TestEnv::new();
    let out = drill(&env, &[]);
    out.code(0);
    assert!(out.stderr.contains("[1/5] healthy"), "{}", out.stderr);
    assert!(out.stderr.contains("alert fired"), "{}", out.stderr);
    assert!(out.stderr.contains("metrics recovered"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("[5/5] restored: stages, aliases and tags are exactly as before"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("# Drill drill-"), "{}", out.stdout);
    assert!(out.stdout.contains("registry restored: yes, exactly"));
    assert!(
        out.stdout.contains("first measured manual drill"),
        "{}",
        out.stdout
    );
    let h = history(&env);
    assert_eq!(h.len(), 1);
    let r = &h[0];
    assert_eq!(r["mode"], "manual");
    assert_eq!(r["rollback"], "rolled_back");
    assert_eq!(r["restored"], true);
    assert_eq!(r["passed"], true);
    assert_eq!(r["mttr_complete"], true, "{r}");
    for k in [
        "detection_millis",
        "triage_millis",
        "execution_millis",
        "verification_millis",
    ] {
        assert!(r[k].as_i64().is_some(), "{k} not measured: {r}");
    }
    // The drill left the user's own journal alone: its rollback lives in the sandbox.
    assert!(env.journal().is_empty());
    // The rollback's own plan and report are the drill's progress (stderr); stdout is the drill's.
    assert!(out.stderr.contains("# Incident Report"), "{}", out.stderr);
    assert!(!out.stdout.contains("# Incident Report"), "{}", out.stdout);

    let out = drill(&env, &["-o", "json"]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["drill"]["passed"], true);
    assert_eq!(v["earlier"].as_array().unwrap().len(), 1);
    assert!(v["trend"].as_str().unwrap().contains("MTTR"), "{v}");
}

#[test]
fn drill_auto_sandbox_uses_the_controller_and_history_shows_the_trend() {
    let env = TestEnv::new();
    let out = drill(&env, &["--mode", "auto"]);
    out.code(0);
    assert!(
        out.stderr.contains("failure 3/3"),
        "the consecutive rule: {}",
        out.stderr
    );
    assert!(out.stderr.contains("AUTOMATED ROLLBACK TRIGGERED"));
    let h = history(&env);
    assert_eq!(h[0]["mode"], "auto");
    assert_eq!(h[0]["passed"], true);
    assert_eq!(h[0]["restored"], true);

    // A second drill compares itself with the first of the same mode.
    let out = drill(&env, &["--mode", "auto"]);
    out.code(0);
    assert!(
        out.stdout.contains("Earlier drills of this model"),
        "{}",
        out.stdout
    );
    assert!(
        ["better:", "worse:", "steady:"]
            .iter()
            .any(|w| out.stdout.contains(w)),
        "{}",
        out.stdout
    );

    let out = env.run(&["drill", "--history"]);
    out.code(0);
    assert_eq!(out.stdout.matches("recsys").count(), 2, "{}", out.stdout);
    assert_eq!(out.stdout.matches(" auto ").count(), 2, "{}", out.stdout);
    assert!(out.stdout.contains("trend:"));
    let out = env.run(&["drill", "--history", "-o", "json"]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let drills = v["drills"].as_array().unwrap();
    assert_eq!(drills.len(), 2);
    // Newest first.
    assert!(drills[0]["started_at"].as_str() > drills[1]["started_at"].as_str());
    assert!(v["trend"].as_str().unwrap().contains("MTTR"));
}

#[test]
fn drill_fails_and_says_what_differs_when_the_registry_is_not_restored() {
    let mut env = TestEnv::new();
    env.set("MLRB_TEST_DRILL_TAMPER", "1");
    let out = drill(&env, &[]);
    out.code(1);
    let err = out.error_line();
    assert!(
        err.contains("did not restore the pre-drill state")
            && err.contains("v1 tag drill.tampered: (absent) before, `true` after"),
        "{err}"
    );
    assert!(out.stderr.contains("kept for inspection"), "{}", out.stderr);
    let h = history(&env);
    assert_eq!(h[0]["restored"], false);
    assert_eq!(h[0]["passed"], false);
}

#[test]
fn drill_missing_the_mttr_objective_exits_non_zero() {
    let mut env = TestEnv::new();
    // From the command line: no rollback with a verification phase is done in 1 ms.
    let out = drill(&env, &["--mttr-objective", "1ms"]);
    out.code(1);
    assert!(
        out.error_line().contains("missed the objective of 1ms"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("MTTR objective 1ms: MISSED"));
    assert_eq!(history(&env)[0]["objective_met"], false);

    // From the config, and a generous one is met.
    let cfg = env.write(
        "mlrb.toml",
        "[models.recsys.drill]\nmttr_objective = \"1ms\"\n",
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    drill(&env, &[]).code(1);
    let out = drill(&env, &["--mttr-objective", "10m"]);
    out.code(0);
    assert!(
        out.stdout.contains("MTTR objective 10m: met"),
        "{}",
        out.stdout
    );
}

/// Stages, aliases and tags of every version and the model's tags and aliases: what a drill
/// must leave exactly as it found it (timestamps aside).
fn registry_state(b: &MlflowBackend, m: &str, n: u64) -> String {
    let model = b.rest.get("registered-models/get", &[("name", m)]);
    let mut tags: Vec<serde_json::Value> = model["registered_model"]["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    tags.sort_by_key(|t| t["key"].as_str().unwrap_or("").to_string());
    let versions: Vec<String> = (1..=n).map(|v| format!("{:?}", b.version(m, v))).collect();
    format!(
        "tags {tags:?}\naliases {}\n{}",
        model["registered_model"]["aliases"],
        versions.join("\n")
    )
}

/// A staging world on the real MLflow server: model `prefix-…` seeded with `versions` and
/// `aliases`, a model server serving `serving` (its versions in `bad` breach), and mlrb.toml
/// from `staging_config` with `mode` and `drill`; returns once Prometheus has the healthy values.
#[allow(clippy::too_many_arguments)]
fn staging_world(
    prefix: &str,
    versions: &[crate::common::V],
    aliases: &[(&str, u64)],
    serving: u64,
    bad: &[u64],
    mode: &str,
    drill: impl Fn(&StagingServer) -> String,
    extra: &str,
) -> (MlflowBackend, TestEnv, String, StagingServer) {
    let b = MlflowBackend::new();
    let mut env = TestEnv::new();
    b.configure(&mut env);
    let m = unique(prefix);
    b.seed(&m, versions, aliases);
    let srv = StagingServer::start(&m, serving, bad);
    let cfg = env.write(
        "mlrb.toml",
        &(staging_config(&m, &m, &srv, mode, &drill(&srv)) + extra),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    prom().wait_for(&m, "prediction_diversity", 0.73);
    (b, env, m, srv)
}

#[test]
fn staging_drill_promotes_the_known_bad_version_rolls_back_and_restores_mlflow_exactly() {
    let (b, env, m, srv) = staging_world(
        "staging",
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::Archived).tag("note", "known bad: collapses diversity"),
        ],
        &[],
        2,
        &[3],
        "",
        |_| "breach = \"promote\"\nversion = 3".into(),
        "",
    );
    let before = registry_state(&b, &m, 3);

    // Changing a real registry needs a yes: without a terminal it is refused, nothing changed.
    let out = env.run(&["drill", &m]);
    out.code(3);
    assert!(out.stderr.contains("deploy known-bad v3"), "{}", out.stderr);
    assert_eq!(registry_state(&b, &m, 3), before);

    let out = env.run(&["drill", &m, "--yes"]);
    out.code(0);
    assert!(
        out.stderr
            .contains("[2/5] breach made: deploy known-bad v3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("alert fired"), "{}", out.stderr);
    assert!(out.stderr.contains("[5/5] restored"), "{}", out.stderr);
    assert!(
        out.stdout.contains("(manual mode, staging)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("breach: promote v3"), "{}", out.stdout);
    assert_eq!(
        registry_state(&b, &m, 3),
        before,
        "the drill left the registry changed"
    );
    assert_eq!(
        srv.serving(),
        2,
        "serving was not put back on the live version"
    );
    let calls: Vec<String> = srv
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/reload")
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(
        calls.len(),
        3,
        "deploy v3, roll back to v2, restore v2: {calls:?}"
    );

    let h = history(&env);
    let r = &h[0];
    assert_eq!(r["sandbox"], false);
    assert_eq!(r["breach"], "promote v3");
    assert_eq!(r["rollback"], "rolled_back");
    assert_eq!(r["passed"], true, "{r}");
    assert_eq!(r["mttr_complete"], true, "{r}");
    // The rollback happened for real, so the real journal keeps it and the drill's notes.
    let journal = env.journal();
    assert!(
        journal.contains("\"command\":\"rollback model\""),
        "{journal}"
    );
    assert!(
        journal.contains("registry restored, serving back on v2"),
        "{journal}"
    );
    let out = env.run(&["report", "--last"]);
    out.code(0);
    assert!(
        out.stdout.contains("drill: prediction diversity collapse"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("## Drill") && out.stdout.contains("first measured manual drill"),
        "the report of a drill's rollback names the drill and its trend: {}",
        out.stdout
    );
    assert!(r["event"].as_str().is_some(), "{r}");

    // A model that already breaches is an incident, not a drill: refused before any change.
    prom().put(&m, "error_rate", 0.08);
    let out = env.run(&["drill", &m, "--yes"]);
    let err = out.one_clear_error(2);
    assert!(err.contains("already breaches"), "{err}");
    assert_eq!(registry_state(&b, &m, 3), before);
}

#[test]
fn staging_drill_through_an_inject_endpoint_with_the_controller_in_alias_mode() {
    let slack = TestServer::start(|_| Reply::json(200, serde_json::json!({})));
    let (b, mut env, m, srv) = staging_world(
        "staging-alias",
        &[v(Stage::None).healthy(), v(Stage::None)],
        &[("champion", 2)],
        2,
        &[],
        "mode = \"alias\"\nalias = \"champion\"",
        |srv| {
            format!(
                "breach = \"endpoint\"\ninject_url = \"{}/inject\"",
                srv.server.url
            )
        },
        "[notify]\nslack_webhook_env = \"SLACK_URL\"\n",
    );
    env.set("SLACK_URL", slack.url.clone());
    let before = registry_state(&b, &m, 2);

    let out = env.run(&["drill", &m, "--yes", "--mode", "auto"]);
    out.code(0);
    assert!(
        out.stderr.contains("inject a fault into v2"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("AUTOMATED ROLLBACK TRIGGERED"),
        "{}",
        out.stderr
    );
    assert_eq!(registry_state(&b, &m, 2), before);
    assert_eq!(b.alias(&m, "champion"), Some(2));
    assert_eq!(srv.serving(), 2);
    assert!(srv.faults().is_empty(), "the fault was not stopped");
    let injects: Vec<String> = srv
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/inject")
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(injects.len(), 2, "{injects:?}");
    assert!(injects[0].contains("\"start\"") && injects[1].contains("\"stop\""));
    let h = history(&env);
    assert_eq!(h[0]["mode"], "auto");
    assert_eq!(h[0]["breach"], "endpoint on v2");
    assert_eq!(h[0]["passed"], true, "{}", h[0]);
    // The controller's messages went out, each marked as a drill so nobody is paged in earnest.
    let texts: Vec<String> = slack.requests().iter().map(|r| r.body.clone()).collect();
    assert!(!texts.is_empty(), "no notification");
    assert!(
        texts.iter().all(|t| t.contains("[DRILL drill-")),
        "{texts:?}"
    );
}

#[test]
fn staging_drill_without_a_breach_or_metrics_says_what_to_configure() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    let before = b.snapshot("recsys");

    let out = env.run(&["drill", "recsys"]);
    let err = out.one_clear_error(2);
    assert!(err.contains("needs its [models.recsys] section"), "{err}");
    assert!(out.stderr.contains("--sandbox"));

    let cfg = env.write(
        "mlrb.toml",
        "[models.recsys.drill]\nmttr_objective = \"5m\"\n",
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let err = env.run(&["drill", "recsys", "--yes"]).one_clear_error(2);
    assert!(err.contains("needs [models.recsys.metrics]"), "{err}");

    let cfg = env.write(
        "mlrb.toml",
        &model_config(
            &prom().url,
            "recsys",
            &["error_rate"],
            "[models.recsys.drill]\nbreach = \"promote\"\n",
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let out = env.run(&["drill", "recsys", "--yes"]);
    let err = out.one_clear_error(2);
    assert!(err.contains("known-bad version"), "{err}");
    assert!(
        out.stderr.contains("breach = \"promote\""),
        "{}",
        out.stderr
    );
    assert_eq!(b.snapshot("recsys"), before);
    assert!(env.journal().is_empty());
}

#[test]
fn an_interrupted_staging_drill_is_refused_until_drill_restore_puts_everything_back() {
    use std::io::{BufRead, BufReader};
    // v3 does not actually breach here, so the drill waits for its breach until it is killed.
    let (b, env, m, srv) = staging_world(
        "staging-kill",
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::Archived),
        ],
        &[],
        2,
        &[],
        "",
        |_| "breach = \"promote\"\nversion = 3".into(),
        "",
    );
    let before = registry_state(&b, &m, 3);

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["drill", &m, "--yes"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let t0 = Instant::now();
    loop {
        let line = lines.next().expect("the drill ended early").unwrap();
        if line.contains("[2/5] breach made") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no breach in 30 s");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        b.version(&m, 3).0,
        Stage::Production,
        "the drill's deploy is live"
    );
    assert_eq!(srv.serving(), 3);

    let out = env.run(&["status", &m]);
    assert!(
        out.stdout.contains("has not restored the registry") && out.stdout.contains("--restore"),
        "{}",
        out.stdout
    );
    let out = env.run(&["drill", &m, "--yes"]);
    let err = out.one_clear_error(2);
    assert!(err.contains("was interrupted"), "{err}");
    assert!(
        out.stderr.contains(&format!("mlrb drill {m} --restore")),
        "{}",
        out.stderr
    );

    let out = env.run(&["drill", &m, "--restore"]);
    out.code(3);
    assert!(
        out.stderr
            .contains("v3 stage: Archived before, Production after"),
        "{}",
        out.stderr
    );
    assert_ne!(
        registry_state(&b, &m, 3),
        before,
        "a refused restore changes nothing"
    );

    env.run(&["drill", &m, "--restore", "--yes"]).code(0);
    assert_eq!(registry_state(&b, &m, 3), before);
    assert_eq!(srv.serving(), 2);
    assert!(env.journal().contains("restored after an interruption"));
    let err = env
        .run(&["drill", &m, "--restore", "--yes"])
        .one_clear_error(2);
    assert!(err.contains("no interrupted drill"), "{err}");
}

#[test]
fn a_breach_that_cannot_be_made_changes_nothing_and_leaves_no_drill_open() {
    let (b, env, m, _srv) = staging_world(
        "staging-nobreach",
        &[v(Stage::Archived).healthy(), v(Stage::Production)],
        &[],
        2,
        &[],
        "",
        // The fault injector answers 404: no breach, so no drill.
        |srv| {
            format!(
                "breach = \"endpoint\"\ninject_url = \"{}/no-such-endpoint\"",
                srv.server.url
            )
        },
        "",
    );
    let before = registry_state(&b, &m, 2);
    let out = env.run(&["drill", &m, "--yes"]);
    out.code(1);
    let err = out.error_line();
    assert!(
        err.contains("could not make its breach") && err.contains("404"),
        "{err}"
    );
    assert!(
        out.stderr.contains("everything was put back"),
        "{}",
        out.stderr
    );
    assert_eq!(registry_state(&b, &m, 2), before);
    let status = env.run(&["status", &m]);
    assert!(
        !status.stdout.contains("has not restored"),
        "{}",
        status.stdout
    );
    assert!(
        history(&env).is_empty(),
        "a drill that never started is not in the history"
    );
}

/// A staging drill whose serving is a kubectl Deployment snapshots its pod template before the
/// breach and compares it after the restore: a variable the drill left behind fails it, named
/// by container. A Deployment with a sidecar and no `container` is refused before anything.
#[test]
fn staging_drill_compares_the_serving_pod_template_and_never_touches_a_sidecar() {
    let k = crate::common::kube::cluster();
    let ns = k.namespace("drillsrv");
    k.apply(
        &ns,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ms\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: ms}\n  template:\n    metadata:\n      labels: {app: ms}\n    spec:\n      containers:\n      - name: server\n        image: reg/ms:v1\n      - name: log-shipper\n        image: reg/shipper:v1\n",
    );
    k.kubectl(&[
        "-n",
        &ns,
        "rollout",
        "status",
        "deployment/ms",
        "--timeout=60s",
    ]);
    let (b, mut env, m, srv) = staging_world(
        "drillsrv",
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::Archived),
        ],
        &[],
        2,
        &[3],
        "",
        |_| "breach = \"promote\"\nversion = 3".into(),
        "",
    );
    k.configure(&mut env);
    let cfg = std::fs::read_to_string(env.path().join("mlrb.toml")).unwrap();
    let http = format!(
        "kind = \"http\"\nreload_url = \"{0}/reload\"\nhealth_url = \"{0}/health\"\ntimeout = \"10s\"\n",
        srv.server.url
    );
    assert!(cfg.contains(&http), "{cfg}");
    let kubectl = format!(
        "kind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
    );
    // The breach is never seen (the metrics follow the http model server, which this serving
    // does not reload): the drill ends after 3 s, restores, and checks.
    let cfg = cfg.replace(
        &format!("[models.\"{m}\".drill]\ntimeout = \"60s\""),
        &format!("[models.\"{m}\".drill]\ntimeout = \"3s\""),
    );
    env.write("mlrb.toml", &cfg.replace(&http, &kubectl));
    let before = registry_state(&b, &m, 3);
    let template = || {
        k.kubectl(&[
            "-n",
            &ns,
            "get",
            "deployment",
            "ms",
            "-o",
            "jsonpath={.spec.template.spec}",
        ])
    };
    let sidecar_before = template();

    let line = env.run(&["drill", &m, "--yes"]).one_clear_error(2);
    assert!(
        line.contains("has 2 containers (server, log-shipper)"),
        "{line}"
    );
    assert_eq!(registry_state(&b, &m, 3), before);
    assert_eq!(template(), sidecar_before, "nothing was changed");

    env.write(
        "mlrb.toml",
        &cfg.replace(&http, &format!("{kubectl}container = \"server\"\n")),
    );
    let out = env.run(&["drill", &m, "--yes"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    let h = history(&env);
    let r = &h[0];
    assert_eq!(r["restored"], false, "{r}");
    let differences = r["differences"].to_string();
    assert!(
        differences.contains(
            "serving deployment/ms template.spec.containers[server].env: (absent) before"
        ),
        "{differences}"
    );
    assert!(!differences.contains("log-shipper"), "{differences}");
    assert_eq!(
        registry_state(&b, &m, 3),
        before,
        "the registry is restored"
    );
}

/// `mlrb drill --restore` after an interrupted staging drill compares the serving Deployment's
/// whole pod template with the one saved before the breach, not only the registry: the
/// variable the drill's reloads left on the model's container is named, and the restore fails.
#[test]
fn drill_restore_compares_the_serving_pod_template_saved_before_the_breach() {
    use std::io::{BufRead, BufReader};
    let k = crate::common::kube::cluster();
    let ns = k.namespace("drillrestore");
    k.apply(
        &ns,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ms\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: ms}\n  template:\n    metadata:\n      labels: {app: ms}\n    spec:\n      containers:\n      - name: server\n        image: reg/ms:v1\n      - name: log-shipper\n        image: reg/shipper:v1\n",
    );
    k.kubectl(&[
        "-n",
        &ns,
        "rollout",
        "status",
        "deployment/ms",
        "--timeout=60s",
    ]);
    let (b, mut env, m, srv) = staging_world(
        "drillrestore",
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::Archived),
        ],
        &[],
        2,
        &[3],
        "",
        |_| "breach = \"promote\"\nversion = 3".into(),
        "",
    );
    k.configure(&mut env);
    let cfg = std::fs::read_to_string(env.path().join("mlrb.toml")).unwrap();
    let http = format!(
        "kind = \"http\"\nreload_url = \"{0}/reload\"\nhealth_url = \"{0}/health\"\ntimeout = \"10s\"\n",
        srv.server.url
    );
    assert!(cfg.contains(&http), "{cfg}");
    env.write(
        "mlrb.toml",
        &cfg.replace(
            &http,
            &format!(
                "kind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ncontainer = \"server\"\ntimeout = \"30s\"\n"
            ),
        ),
    );
    let before = registry_state(&b, &m, 3);
    // The breach is never seen (the metrics follow the http model server, which this serving
    // does not reload): the drill waits for it and is killed meanwhile.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["drill", &m, "--yes"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let t0 = Instant::now();
    loop {
        let line = lines.next().expect("the drill ended early").unwrap();
        if line.contains("[2/5] breach made") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no breach in 60 s");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let env_of = |c: &str| {
        k.kubectl(&[
            "-n",
            &ns,
            "get",
            "deployment",
            "ms",
            "-o",
            &format!("jsonpath={{.spec.template.spec.containers[?(@.name==\"{c}\")].env}}"),
        ])
    };
    assert!(env_of("server").contains("\"3\""), "{}", env_of("server"));

    let out = env.run(&["drill", &m, "--restore", "--yes"]);
    out.code(1);
    let line = out.error_line();
    assert!(
        line.contains("not fully restored")
            && line.contains(
                "serving deployment/ms template.spec.containers[server].env: (absent) before"
            ),
        "{line}"
    );
    assert!(!line.contains("log-shipper"), "{line}");
    assert_eq!(
        registry_state(&b, &m, 3),
        before,
        "the registry is restored"
    );
    assert!(
        env_of("log-shipper").is_empty(),
        "{}",
        env_of("log-shipper")
    );
}
