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

/// Deployment `recs` (app=recs, tier=web) behind Service `recs`, and `recs-fallback` beside it,
/// both rolled out.
fn selector_world(ns: &str) {
    let k = cluster();
    k.apply(
        ns,
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
            ns,
            "rollout",
            "status",
            &format!("deployment/{d}"),
            "--timeout=60s",
        ]);
    }
}

fn selector_switch(ns: &str) -> String {
    format!(
        "description = \"most-popular items, no ML\"\nswitch = \"service-selector\"\nservice = \"recs\"\nnamespace = \"{ns}\"\nselector = {{ app = \"recs-fallback\" }}\n"
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

    // Ended already, and the value it restored is in place: a second --end changes nothing.
    let journal = env.journal();
    let again = env.run(&[
        "rollback",
        "model",
        "recsys",
        "--fallback",
        "--end",
        "--yes",
    ]);
    again.code(0);
    assert!(
        again.stderr.contains("was ended already by rollback-"),
        "{}",
        again.stderr
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
    let ns = cluster().namespace("fbsel");
    selector_world(&ns);
    let fallback = selector_switch(&ns);

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

/// The journal's records, parsed.
fn records(env: &TestEnv) -> Vec<Value> {
    env.journal()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The events the journal started with `command`, oldest first.
fn events(env: &TestEnv, command: &str) -> Vec<String> {
    records(env)
        .iter()
        .filter(|r| r["type"] == "started" && r["command"] == command)
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect()
}

/// The `fallback_switch` records of `event`.
fn switch_records(env: &TestEnv, event: &str) -> Vec<Value> {
    records(env)
        .into_iter()
        .filter(|r| r["type"] == "fallback_switch" && r["event"] == event)
        .collect()
}

fn fallback(env: &TestEnv, extra: &[&str]) -> crate::common::Output {
    let mut args = vec!["rollback", "model", "recsys", "--fallback"];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// Right after the switch went on, the same command again (a second engineer, a re-run after a
/// timeout) is a no-op naming the event; likewise `--end` right after an `--end`. Neither ever
/// switches again, which would record the fallback's own value as the one to restore.
#[test]
fn switching_again_right_after_is_a_no_op_that_names_the_event() {
    let k = cluster();
    let ns = k.namespace("fbagain");
    recs_api(&ns);
    let (env, _b) = env_with(&env_switch(&ns));
    fallback(&env, &["--yes"]).code(0);
    let on = events(&env, "rollback model --fallback");
    assert_eq!(on.len(), 1);
    let journal = env.journal();

    let again = fallback(&env, &["--yes", "-o", "json"]);
    again.code(0);
    let v: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(v["outcome"], "no_change", "{v}");
    assert_eq!(v["event_id"], Value::Null, "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("already, switched by {} at ", on[0]))
            && message.ends_with("nothing changed"),
        "{message}"
    );
    assert_eq!(env.journal(), journal, "no event for a no-op");
    assert_eq!(env_value(&ns, "recs-api"), "popular");

    fallback(&env, &["--end", "--yes"]).code(0);
    let off = events(&env, "rollback model --fallback --end");
    assert_eq!(off.len(), 1);
    assert_eq!(env_value(&ns, "recs-api"), "personalised");
    let journal = env.journal();
    let again = fallback(&env, &["--end", "--yes"]);
    again.code(0);
    assert!(
        again.stderr.contains(&format!(
            "the fallback of `recsys` was ended already by {} at ",
            off[0]
        )) && again.stderr.contains("nothing changed"),
        "{}",
        again.stderr
    );
    assert_eq!(env.journal(), journal);
    assert_eq!(env_value(&ns, "recs-api"), "personalised");

    // Switched on again, the value recorded as the one to restore is the original one.
    fallback(&env, &["--yes"]).code(0);
    let on = events(&env, "rollback model --fallback");
    let rec = &switch_records(&env, &on[1])[0];
    assert_eq!(
        rec["previous"],
        json!({"env": {"var": "RECS_MODE", "value": "personalised"}})
    );

    // A model whose switch mlrb never turned on has nothing to end: a usage error.
    let ns2 = k.namespace("fbnever");
    recs_api(&ns2);
    let (fresh, _b) = env_with(&env_switch(&ns2));
    let line = fallback(&fresh, &["--end", "--yes"]).one_clear_error(2);
    assert!(
        line.contains("no fallback switch of `recsys` is on"),
        "{line}"
    );
    assert_eq!(fresh.journal(), "");
}

/// Killed at a step boundary of the switch: a plain re-run refuses and names the event and
/// `--resume`; `--resume` finishes that event (a step the world shows done is not run again)
/// and prints one JSON document; `--end` afterwards restores the value before the switch.
#[test]
fn a_crash_while_switching_on_is_refused_then_resumed_and_end_restores_the_original() {
    let k = cluster();
    // Two steps (the change, the rollout), then the verification: step 3.
    for at in [
        "started:1",
        "finished:1",
        "started:2",
        "finished:2",
        "started:3",
        "finished:3",
    ] {
        let ns = k.namespace("fbcrash");
        recs_api(&ns);
        let (mut env, b) = env_with(&env_switch(&ns));
        let registry_before = b.snapshot("recsys");
        env.set("MLRB_TEST_CRASH_AT", at);
        let out = fallback(&env, &["--yes"]);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        let event = events(&env, "rollback model --fallback")
            .pop()
            .unwrap_or_else(|| panic!("{at}: no event started"));

        let line = fallback(&env, &["--yes"]).one_clear_error(2);
        assert!(
            line.contains(&event) && line.contains("interrupted"),
            "{at}: {line}"
        );
        let refused = fallback(&env, &["--yes"]);
        assert!(
            refused.stderr.contains("--resume"),
            "{at}: {}",
            refused.stderr
        );
        // `--end --resume` would finish the opposite of what the event was doing.
        let line = fallback(&env, &["--end", "--resume", "--yes"]).one_clear_error(2);
        assert!(
            line.contains(&event) && line.contains("switching the fallback of `recsys` on"),
            "{at}: {line}"
        );

        let out = fallback(&env, &["--resume", "--yes", "-o", "json"]);
        out.code(0);
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{at}: stdout is not JSON ({e}):\n{}", out.stdout));
        assert_eq!(v["outcome"], "rolled_back", "{at}: {v}");
        assert_eq!(v["event_id"], json!(event), "{at}: {v}");
        assert_eq!(v["fallback"], "on", "{at}: {v}");
        assert_eq!(env_value(&ns, "recs-api"), "popular", "{at}");
        let recs = switch_records(&env, &event);
        assert_eq!(recs.len(), 1, "{at}: one record of the value replaced");
        assert_eq!(
            recs[0]["previous"],
            json!({"env": {"var": "RECS_MODE", "value": "personalised"}}),
            "{at}"
        );
        let set_env =
            format!("kubectl --namespace={ns} set env deployment/recs-api RECS_MODE=popular");
        let ran_set_env = records(&env)
            .iter()
            .filter(|r| r["type"] == "step_started" && r["step"] == json!(set_env))
            .count();
        let want = if at == "started:1" { 2 } else { 1 };
        assert_eq!(
            ran_set_env, want,
            "{at}: the switch ran once (plus its interrupted start)"
        );
        let s: Value =
            serde_json::from_str(&env.run(&["status", "recsys", "-o", "json"]).code(0).stdout)
                .unwrap();
        assert_eq!(s["fallback_switch"]["event"], json!(event), "{at}: {s}");
        assert_eq!(s["fallback_switch"]["certain"], json!(true), "{at}: {s}");

        // Switching on again is a no-op; the end restores the value before the switch.
        fallback(&env, &["--yes"]).code(0);
        fallback(&env, &["--end", "--yes"]).code(0);
        assert_eq!(env_value(&ns, "recs-api"), "personalised", "{at}");
        assert_eq!(
            b.snapshot("recsys"),
            registry_before,
            "{at}: registry touched"
        );
    }
}

/// The same for `--end` and for the selector switch: resumed, the end restores the recorded
/// selector, and the switch goes on again from it.
#[test]
fn a_crash_while_ending_or_switching_a_selector_is_resumed() {
    let k = cluster();
    for at in ["started:1", "finished:1"] {
        let ns = k.namespace("fbcrashend");
        recs_api(&ns);
        let (mut env, _b) = env_with(&env_switch(&ns));
        fallback(&env, &["--yes"]).code(0);
        env.set("MLRB_TEST_CRASH_AT", at);
        assert_ne!(fallback(&env, &["--end", "--yes"]).code, 0, "{at}");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        let event = events(&env, "rollback model --fallback --end")
            .pop()
            .unwrap();
        let refused = fallback(&env, &["--end", "--yes"]);
        let line = refused.one_clear_error(2);
        assert!(line.contains(&event), "{at}: {line}");
        // A switch on is refused too while the end is unfinished.
        let line = fallback(&env, &["--yes"]).one_clear_error(2);
        assert!(line.contains(&event), "{at}: {line}");
        // Finished as asked (`--end --resume`), or with the command the refusal's hint names.
        let mut resume: Vec<String> = if at == "started:1" {
            [
                "rollback",
                "model",
                "recsys",
                "--fallback",
                "--end",
                "--resume",
            ]
            .map(String::from)
            .to_vec()
        } else {
            let hint = refused
                .stderr
                .split("finish it with `mlrb ")
                .nth(1)
                .and_then(|h| h.split('`').next())
                .unwrap_or_else(|| panic!("{at}: no resume command in:\n{}", refused.stderr));
            hint.split_whitespace().map(String::from).collect()
        };
        resume.extend(["--yes", "-o", "json"].map(String::from));
        let out = env.run(&resume.iter().map(String::as_str).collect::<Vec<_>>());
        out.code(0);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["outcome"], "rolled_back", "{at}: {v}");
        assert_eq!(v["fallback"], "off", "{at}: {v}");
        assert_eq!(env_value(&ns, "recs-api"), "personalised", "{at}");
        let status = env.run(&["status", "recsys"]);
        assert!(
            !status.stdout.contains("fallback switch since"),
            "{at}: {}",
            status.stdout
        );
    }

    let ns = k.namespace("fbcrashsel");
    selector_world(&ns);
    // One step (the patch), then the verification.
    for at in ["started:1", "finished:1", "started:2", "finished:2"] {
        let (mut env, _b) = env_with(&selector_switch(&ns));
        env.set("MLRB_TEST_CRASH_AT", at);
        assert_ne!(fallback(&env, &["--yes"]).code, 0, "{at}");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        fallback(&env, &["--yes"]).one_clear_error(2);
        fallback(&env, &["--resume", "--yes"]).code(0);
        assert_eq!(
            selector(&ns, "recs"),
            json!({"app": "recs-fallback"}),
            "{at}"
        );
        fallback(&env, &["--end", "--yes"]).code(0);
        assert_eq!(
            selector(&ns, "recs"),
            json!({"app": "recs", "tier": "web"}),
            "{at}"
        );
    }
}

/// `--dry-run -o json` is one JSON document with the plan, on and off, and changes nothing.
#[test]
fn dry_run_json_is_one_document() {
    let k = cluster();
    let ns = k.namespace("fbdryjson");
    recs_api(&ns);
    let (env, _b) = env_with(&env_switch(&ns));
    let out = fallback(&env, &["--dry-run", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "dry_run", "{v}");
    assert_eq!(v["fallback"], "on", "{v}");
    assert_eq!(v["from"], "RECS_MODE=personalised", "{v}");
    assert_eq!(v["to"], "RECS_MODE=popular", "{v}");
    assert_eq!(v["plan"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(env.journal(), "");

    fallback(&env, &["--yes"]).code(0);
    let journal = env.journal();
    let out = fallback(&env, &["--end", "--dry-run", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "dry_run", "{v}");
    assert_eq!(v["fallback"], "off", "{v}");
    assert_eq!(v["to"], "RECS_MODE=personalised", "{v}");
    assert_eq!(env.journal(), journal);
    assert_eq!(env_value(&ns, "recs-api"), "popular");
}

/// A change the cluster refuses (RBAC: the on-call account may read the Deployment but not
/// patch it) fails with nothing changed and leaves its event open: a plain re-run refuses; once
/// the account may patch, `--resume` finishes the same event and `--end` restores the original.
#[test]
fn a_refused_change_keeps_its_event_open_and_resume_finishes_it_once_allowed() {
    let k = cluster();
    let ns = k.namespace("fbrbac");
    recs_api(&ns);
    let role = |verbs: &str| {
        format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: oncall}}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: oncall}}\n\
             rules: [{{apiGroups: [apps], resources: [deployments], verbs: [{verbs}]}}]\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: oncall}}\n\
             subjects: [{{kind: ServiceAccount, name: oncall, namespace: {ns}}}]\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: oncall}}\n"
        )
    };
    k.apply(&ns, &role("get, list, watch"));
    let (mut env, _b) = env_with(&env_switch(&ns));
    env.set("KUBECONFIG", oncall_kubeconfig(&env, &ns));

    let out = fallback(&env, &["--yes"]);
    out.code(1);
    assert!(out.stderr.contains("forbidden"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`mlrb rollback model recsys --fallback --resume` finishes this event"),
        "{}",
        out.stderr
    );
    assert_eq!(env_value(&ns, "recs-api"), "personalised");
    let event = events(&env, "rollback model --fallback").pop().unwrap();
    let status = env.run(&["status", "recsys"]);
    assert!(!status.stdout.contains("FALLBACK:"), "{}", status.stdout);
    let line = fallback(&env, &["--yes"]).one_clear_error(2);
    assert!(line.contains(&event), "{line}");
    let line = fallback(&env, &["--end", "--yes"]).one_clear_error(2);
    assert!(line.contains(&event), "{line}");

    k.apply(&ns, &role("get, list, watch, patch, update"));
    let out = fallback(&env, &["--resume", "--yes", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["event_id"], json!(event), "{v}");
    assert_eq!(v["outcome"], "rolled_back", "{v}");
    assert_eq!(env_value(&ns, "recs-api"), "popular");
    fallback(&env, &["--end", "--yes"]).code(0);
    assert_eq!(env_value(&ns, "recs-api"), "personalised");
}

/// A kubeconfig in the env's directory whose current context is the `oncall` service account
/// of `ns` (its token, the test cluster).
fn oncall_kubeconfig(env: &TestEnv, ns: &str) -> String {
    let k = cluster();
    let mut token = String::new();
    for _ in 0..100 {
        let secret = k.kubectl(&[
            "-n",
            ns,
            "get",
            "serviceaccount",
            "oncall",
            "-o",
            "jsonpath={.secrets[0].name}",
        ]);
        if !secret.trim().is_empty() {
            token = k.kubectl(&[
                "-n",
                ns,
                "get",
                "secret",
                secret.trim(),
                "-o",
                "go-template={{.data.token | base64decode}}",
            ]);
        }
        if !token.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!token.trim().is_empty(), "no token for the oncall account");
    let path = env.path().join("oncall-kubeconfig");
    std::fs::copy(&k.kubeconfig, &path).unwrap();
    let cfg = format!("--kubeconfig={}", path.display());
    let cluster_name = k.kubectl(&[&cfg, "config", "view", "-o", "jsonpath={.clusters[0].name}"]);
    let token_arg = format!("--token={}", token.trim());
    k.kubectl(&[&cfg, "config", "set-credentials", "oncall", &token_arg]);
    let cluster_arg = format!("--cluster={}", cluster_name.trim());
    k.kubectl(&[
        &cfg,
        "config",
        "set-context",
        "oncall",
        &cluster_arg,
        "--user=oncall",
    ]);
    k.kubectl(&[&cfg, "config", "use-context", "oncall"]);
    path.display().to_string()
}
