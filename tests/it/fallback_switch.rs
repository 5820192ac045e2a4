//! `rollback model --fallback [--end]` with a serving-switch fallback, against the real
//! kube-apiserver through real kubectl: the environment-variable switch and the Service selector
//! switch, on and off, the pre-flight, the dry run, and what `status` says meanwhile.

use serde_json::{Value, json};

use crate::common::kube::cluster;
use crate::common::{Backend, FileBackend, TestEnv, bad_release};

/// A registry with a live model (which the switch must leave alone) and `fallback` as the
/// `[models.recsys.fallback]` section.
fn env_with(fallback: &str) -> (TestEnv, FileBackend) {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    cluster().configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!("[models.recsys]\n[models.recsys.fallback]\n{fallback}"),
    );
    (env, b)
}

fn env_value(ns: &str, deployment: &str) -> String {
    cluster().kubectl(&[
        "-n",
        ns,
        "get",
        "deployment",
        deployment,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"RECS_MODE\")].value}",
    ])
}

fn selector(ns: &str, service: &str) -> Value {
    let out = cluster().kubectl(&["-n", ns, "get", "service", service, "-o", "json"]);
    serde_json::from_str::<Value>(&out).unwrap()["spec"]["selector"].clone()
}

/// `recs-api` serving personalised recommendations (RECS_MODE=personalised).
fn recs_api(ns: &str) {
    let k = cluster();
    k.deployment(ns, "recs-api", &["reg/recs-api:1.0"]);
    k.kubectl(&[
        "-n",
        ns,
        "set",
        "env",
        "deployment/recs-api",
        "RECS_MODE=personalised",
    ]);
    k.kubectl(&[
        "-n",
        ns,
        "rollout",
        "status",
        "deployment/recs-api",
        "--timeout=60s",
    ]);
}

fn env_switch(ns: &str) -> String {
    format!(
        "description = \"most-popular items, no ML\"\nswitch = \"kubectl-set-env\"\ndeployment = \"recs-api\"\nnamespace = \"{ns}\"\nenv_var = \"RECS_MODE\"\nvalue = \"popular\"\ntimeout = \"30s\"\n"
    )
}

#[test]
fn env_switch_turns_the_fallback_on_and_end_restores_the_recorded_value() {
    let k = cluster();
    let ns = k.namespace("fbenv");
    recs_api(&ns);
    let (env, b) = env_with(&env_switch(&ns));
    let registry_before = b.snapshot("recsys");

    let out = env.run(&[
        "rollback",
        "model",
        "recsys",
        "--fallback",
        "--yes",
        "--reason",
        "no safe target",
    ]);
    out.code(0);
    assert_eq!(env_value(&ns, "recs-api"), "popular");
    for want in [
        format!("kubectl --namespace={ns} set env deployment/recs-api RECS_MODE=popular"),
        format!("kubectl --namespace={ns} rollout status deployment/recs-api --timeout=30s"),
        "registry: not touched".to_string(),
        "RECS_MODE=personalised → RECS_MODE=popular".to_string(),
        "# Incident Report".to_string(),
        "switched to its pre-built fallback, most-popular items, no ML".to_string(),
        "| verification |".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "`{want}` in:\n{}", out.stdout);
    }
    assert_eq!(b.snapshot("recsys"), registry_before, "registry touched");
    let journal = env.journal();
    let switch: Value = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "fallback_switch")
        .expect("a fallback_switch record");
    assert_eq!(switch["on"], json!(true));
    assert_eq!(
        switch["previous"],
        json!({"env": {"var": "RECS_MODE", "value": "personalised"}})
    );
    assert_eq!(
        switch["value"],
        json!({"env": {"var": "RECS_MODE", "value": "popular"}})
    );
    // Write-ahead: the record with the current value precedes the change.
    let at = |needle: &str| journal.find(needle).unwrap();
    assert!(at("\"type\":\"fallback_switch\"") < at("\"type\":\"step_started\""));
    assert!(
        journal.contains("\"type\":\"verified\",\"ok\":true"),
        "{journal}"
    );

    let status = env.run(&["status", "recsys"]);
    status.code(0);
    assert!(
        status.stdout.contains("serving its fallback switch")
            && status.stdout.contains("--fallback --end"),
        "{}",
        status.stdout
    );
    let s: Value =
        serde_json::from_str(&env.run(&["status", "recsys", "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["fallback_switch"]["value"], json!("RECS_MODE=popular"));
    assert_eq!(
        s["fallback_switch"]["previous"],
        json!("RECS_MODE=personalised")
    );

    // Switching on twice changes nothing and keeps the value recorded first.
    let again = env.run(&["rollback", "model", "recsys", "--fallback", "--yes"]);
    again.code(0);
    assert!(
        again.stderr.contains("serves its fallback already"),
        "{}",
        again.stderr
    );

    let out = env.run(&[
        "rollback",
        "model",
        "recsys",
        "--fallback",
        "--end",
        "--yes",
    ]);
    out.code(0);
    assert_eq!(env_value(&ns, "recs-api"), "personalised");
    assert!(
        out.stdout.contains(&format!(
            "kubectl --namespace={ns} set env deployment/recs-api RECS_MODE=personalised"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("The fallback of model recsys was ended"),
        "{}",
        out.stdout
    );
    assert_eq!(b.snapshot("recsys"), registry_before, "registry touched");
    let status = env.run(&["status", "recsys"]);
    assert!(!status.stdout.contains("FALLBACK:"), "{}", status.stdout);

    // Nothing recorded is on any more: --end refuses.
    let journal = env.journal();
    let line = env
        .run(&[
            "rollback",
            "model",
            "recsys",
            "--fallback",
            "--end",
            "--yes",
        ])
        .one_clear_error(2);
    assert!(
        line.contains("no fallback switch of `recsys` is on"),
        "{line}"
    );
    assert_eq!(env.journal(), journal);
}

#[test]
fn a_variable_that_was_unset_is_unset_again_by_end() {
    let k = cluster();
    let ns = k.namespace("fbunset");
    k.deployment(&ns, "recs-api", &["reg/recs-api:1.0"]);
    let (env, _b) = env_with(&env_switch(&ns));
    env.run(&["rollback", "model", "recsys", "--fallback", "--yes"])
        .code(0);
    assert_eq!(env_value(&ns, "recs-api"), "popular");
    let out = env.run(&[
        "rollback",
        "model",
        "recsys",
        "--fallback",
        "--end",
        "--yes",
    ]);
    out.code(0);
    assert!(out.stdout.contains("RECS_MODE-"), "{}", out.stdout);
    let envs = k.kubectl(&[
        "-n",
        &ns,
        "get",
        "deployment",
        "recs-api",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env}",
    ]);
    assert!(!envs.contains("RECS_MODE"), "{envs}");
}

#[test]
fn selector_switch_replaces_the_whole_selector_and_end_restores_it() {
    let k = cluster();
    let ns = k.namespace("fbsel");
    k.apply(
        &ns,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: recs}
spec:
  replicas: 1
  selector: {matchLabels: {app: recs, tier: web}}
  template:
    metadata: {labels: {app: recs, tier: web}}
    spec: {containers: [{name: recs, image: reg/recs:1.0}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: recs-fallback}
spec:
  replicas: 1
  selector: {matchLabels: {app: recs-fallback}}
  template:
    metadata: {labels: {app: recs-fallback}}
    spec: {containers: [{name: popular, image: reg/popular:1.0}]}
---
apiVersion: v1
kind: Service
metadata: {name: recs}
spec:
  selector: {app: recs, tier: web}
  ports: [{port: 80}]
"#,
    );
    for d in ["recs", "recs-fallback"] {
        k.kubectl(&[
            "-n",
            &ns,
            "rollout",
            "status",
            &format!("deployment/{d}"),
            "--timeout=60s",
        ]);
    }
    let fallback = format!(
        "description = \"most-popular items, no ML\"\nswitch = \"service-selector\"\nservice = \"recs\"\nnamespace = \"{ns}\"\nselector = {{ app = \"recs-fallback\" }}\n"
    );

    // A selector with no ready pods behind it would take the model down: refused, exit 4.
    let (ghost, _) = env_with(&fallback.replace("recs-fallback", "ghost"));
    let line = ghost
        .run(&["rollback", "model", "recsys", "--fallback", "--yes"])
        .one_clear_error(4);
    assert!(line.contains("no ready pods"), "{line}");
    assert_eq!(selector(&ns, "recs"), json!({"app": "recs", "tier": "web"}));
    assert_eq!(ghost.journal(), "");

    let (env, b) = env_with(&fallback);
    let before = b.snapshot("recsys");
    let out = env.run(&["rollback", "model", "recsys", "--fallback", "--yes"]);
    out.code(0);
    // Replaced, not merged: `tier` is gone.
    assert_eq!(selector(&ns, "recs"), json!({"app": "recs-fallback"}));
    assert!(
        out.stdout.contains(&format!(
            "kubectl --namespace={ns} patch service recs --type=json"
        )) && out.stdout.contains("\"op\":\"replace\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("# Incident Report"), "{}", out.stdout);
    let s: Value =
        serde_json::from_str(&env.run(&["status", "recsys", "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["fallback_switch"]["switch"], json!("service-selector"));
    assert_eq!(
        s["fallback_switch"]["previous"],
        json!("selector app=recs,tier=web")
    );

    env.run(&[
        "rollback",
        "model",
        "recsys",
        "--fallback",
        "--end",
        "--yes",
    ])
    .code(0);
    assert_eq!(selector(&ns, "recs"), json!({"app": "recs", "tier": "web"}));
    assert_eq!(b.snapshot("recsys"), before);
}

#[test]
fn preflight_failure_changes_nothing() {
    let k = cluster();
    let ns = k.namespace("fbmissing");
    let (env, b) = env_with(&env_switch(&ns).replace("recs-api", "no-such-deployment"));
    let before = b.snapshot("recsys");
    let line = env
        .run(&["rollback", "model", "recsys", "--fallback", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("pre-flight failed") && line.contains("no-such-deployment"),
        "{line}"
    );
    assert_eq!(env.journal(), "");
    assert_eq!(b.snapshot("recsys"), before);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let k = cluster();
    let ns = k.namespace("fbdry");
    recs_api(&ns);
    let (env, _b) = env_with(&env_switch(&ns));
    let out = env.run(&["rollback", "model", "recsys", "--fallback", "--dry-run"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("set env deployment/recs-api RECS_MODE=popular"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
    assert_eq!(env_value(&ns, "recs-api"), "personalised");
    assert_eq!(env.journal(), "");
    // Without --yes and a terminal it refuses, also before any change.
    env.run(&["rollback", "model", "recsys", "--fallback"])
        .code(3);
    assert_eq!(env_value(&ns, "recs-api"), "personalised");
    assert_eq!(env.journal(), "");
}
