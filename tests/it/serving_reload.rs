//! Serving reloads after `rollback model` through real kubectl (restart, set env) against the
//! real kube-apiserver, helm-set through the fake helm, and the pre-flight before any change.

use mlrb::registry::Stage;

use crate::common::kube::cluster;
use crate::common::{Backend, FileBackend, TestEnv, bad_release, repo_root, unique, v};

fn env_with(serving: &str) -> (TestEnv, FileBackend, String) {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("reload");
    b.seed(&m, &bad_release(), &[]);
    env.write(
        "mlrb.toml",
        &format!("[models.{m}]\n[models.{m}.serving]\n{serving}"),
    );
    (env, b, m)
}

#[test]
fn kubectl_set_env_points_the_deployment_at_the_target() {
    let k = cluster();
    let ns = k.namespace("setenv");
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    let (mut env, b, m) = env_with(&format!(
        "kind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\nenv_var = \"MODEL_VERSION\"\ntimeout = \"30s\"\n"
    ));
    k.configure(&mut env);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(
        out.stdout.contains(&format!(
            "kubectl --namespace={ns} set env deployment/ms MODEL_VERSION=2"
        )),
        "{}",
        out.stdout
    );
    let envs = k.kubectl(&[
        "-n",
        &ns,
        "get",
        "deployment",
        "ms",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(envs, "2");
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

#[test]
fn kubectl_restart_restarts_and_waits() {
    let k = cluster();
    let ns = k.namespace("restart");
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    let (mut env, _b, m) = env_with(&format!(
        "kind = \"kubectl-restart\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
    ));
    k.configure(&mut env);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let ann = k.kubectl(&[
        "-n",
        &ns,
        "get",
        "deployment",
        "ms",
        "-o",
        "jsonpath={.spec.template.metadata.annotations}",
    ]);
    assert!(ann.contains("kubectl.kubernetes.io/restartedAt"), "{ann}");
}

#[test]
fn a_reload_that_never_becomes_ready_exits_5() {
    let k = cluster();
    let ns = k.namespace("stuckreload");
    k.deployment(&ns, "ms", &["reg/ms:broken"]);
    let (mut env, b, m) = env_with(&format!(
        "kind = \"kubectl-restart\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"2s\"\n"
    ));
    k.configure(&mut env);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(5);
    assert!(out.stderr.contains("rollout status"), "{}", out.stderr);
    // The hint names what this command can do: no `rollback infra` flag, no [infra] section.
    assert!(
        out.stderr.contains("kubectl describe deployment"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("--to-revision") && !out.stderr.contains("models.*.infra"),
        "{}",
        out.stderr
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

#[test]
fn helm_set_upgrades_the_release_with_the_version() {
    let (mut env, _b, m) = env_with(
        "kind = \"helm-set\"\nrelease = \"model-server\"\nchart = \"charts/model-server\"\nset_key = \"model.version\"\nnamespace = \"ml-serving\"\ntimeout = \"60s\"\n",
    );
    let path = format!(
        "{}:{}",
        repo_root().join("tests/env/fake-helm").display(),
        env.vars["PATH"]
    );
    env.set("PATH", path);
    let state = env.path().join("helm.json");
    std::fs::write(
        &state,
        r#"{"ml-serving/model-server": [{"revision": 1, "updated": "x", "status": "deployed", "chart": "model-server-0.1.0", "app_version": "1", "description": "Install complete"}]}"#,
    )
    .unwrap();
    env.set("FAKE_HELM_STATE", state.display().to_string());
    let log = env.path().join("argv.jsonl");
    env.set("FAKE_HELM_LOG", log.display().to_string());
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let argv: Vec<String> = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        argv,
        [
            "upgrade",
            "model-server",
            "charts/model-server",
            "--reuse-values",
            "--set",
            "model.version=2",
            "--wait",
            "--timeout",
            "60s",
            "--namespace",
            "ml-serving"
        ]
    );
}

#[test]
fn preflight_refuses_a_target_whose_local_artifact_is_gone() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("preflight");
    let gone = format!("file://{}/no-such-model", env.path().display());
    b.seed(
        &m,
        &[
            v(Stage::Archived).healthy().source(&gone),
            v(Stage::Production),
        ],
        &[],
    );
    let before = b.snapshot(&m);
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(4);
    assert!(line.contains("does not exist"), "{line}");
    assert_eq!(b.snapshot(&m), before);
}

#[test]
fn serving_kind_without_its_fields_is_a_config_error() {
    let (env, _b, m) = env_with("kind = \"kubectl-restart\"\n");
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(2);
    assert!(line.contains("needs `deployment"), "{line}");
}

/// kubectl-set-env touches only the model server's container: a pod with a sidecar needs
/// `container` (exit 2 before anything changes, listing the containers), a container that
/// matches nothing is exit 2 too, and the named one alone gets the variable.
#[test]
fn kubectl_set_env_sets_the_variable_on_the_model_container_only() {
    let k = cluster();
    let ns = k.namespace("sidecar");
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
    let base = format!(
        "kind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
    );
    let (mut env, b, m) = env_with(&base);
    k.configure(&mut env);
    let before = b.snapshot(&m);
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("deployment/ms has 2 containers (server, log-shipper)")
            && line.contains("container = "),
        "{line}"
    );
    assert_eq!(b.snapshot(&m), before, "nothing was changed");
    let cfg = |extra: &str| {
        env.write(
            "mlrb.toml",
            &format!("[models.{m}]\n[models.{m}.serving]\n{base}{extra}"),
        );
    };
    cfg("container = \"srv\"\n");
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("container `srv` matches no container of deployment/ms; its containers: server, log-shipper"),
        "{line}"
    );
    assert_eq!(b.snapshot(&m), before, "nothing was changed");
    cfg("container = \"server\"\n");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(
        out.stdout.contains(&format!(
            "kubectl --namespace={ns} set env deployment/ms --containers=server MODEL_VERSION=2"
        )),
        "{}",
        out.stdout
    );
    let env_of = |c: usize| {
        k.kubectl(&[
            "-n",
            &ns,
            "get",
            "deployment",
            "ms",
            "-o",
            &format!("jsonpath={{.spec.template.spec.containers[{c}].env}}"),
        ])
    };
    assert!(env_of(0).contains("\"value\":\"2\""), "{}", env_of(0));
    assert_eq!(env_of(1), "", "the sidecar is untouched");
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

/// A serving Deployment that matches nothing is exit 2 before the registry is touched.
#[test]
fn kubectl_set_env_with_a_deployment_that_matches_nothing_changes_nothing() {
    let k = cluster();
    let ns = k.namespace("nodep");
    let (mut env, b, m) = env_with(&format!(
        "kind = \"kubectl-set-env\"\ndeployment = \"nope\"\nnamespace = \"{ns}\"\n"
    ));
    k.configure(&mut env);
    let before = b.snapshot(&m);
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("[serving]") && line.contains("\"nope\" not found"),
        "{line}"
    );
    assert_eq!(b.snapshot(&m), before, "nothing was changed");
}

/// A serving Deployment scaled to 0 finishes `rollout status` at once and serves nothing: the
/// model rollback is not verified (exit 5), not "rolled back and verified".
#[test]
fn a_serving_deployment_at_zero_replicas_is_not_verified() {
    let k = cluster();
    let ns = k.namespace("zeroserve");
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    k.kubectl(&["-n", &ns, "scale", "deployment/ms", "--replicas=0"]);
    let (mut env, b, m) = env_with(&format!(
        "kind = \"kubectl-restart\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
    ));
    k.configure(&mut env);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(5);
    assert!(
        out.stderr
            .contains("deployment/ms is scaled to 0 replicas: its rollout is complete but nothing serves the model"),
        "{}",
        out.stderr
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

/// A model rollback whose kubectl-set-env rollout never became Ready (exit 5) is not done: the
/// event stays unfinished (status names it), a re-run while the rollout still cannot become
/// Ready says so again (exit 5) and changes nothing more, and once it can, the same command
/// finishes the serving step (exit 0); only then is a re-run "already rolled back". This is
/// what runbooks/model-rollback.md promises of running the command again.
#[test]
fn a_rerun_after_a_serving_rollout_that_never_became_ready_finishes_it() {
    let k = cluster();
    let ns = k.namespace("notconverged");
    k.deployment(&ns, "ms", &["reg/ms:broken"]);
    let (mut env, b, m) = env_with(&format!(
        "kind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"2s\"\n"
    ));
    k.configure(&mut env);
    let first = env.run(&["rollback", "model", &m, "--yes"]);
    first.code(5);
    assert!(
        first
            .stderr
            .contains("stays unfinished until this takes effect"),
        "{}",
        first.stderr
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    let status = env.run(&["status", &m]);
    status.code(0);
    assert!(
        status.stdout.contains("did not finish")
            && status.stdout.contains("serving has not converged")
            && status.stdout.contains("--resume"),
        "{}",
        status.stdout
    );
    // Still broken: the re-run checks serving again, says it is not done, and the event stays
    // open (not "already rolled back … nothing changed").
    let again = env.run(&["rollback", "model", &m, "--yes"]);
    again.code(5);
    assert!(
        again
            .stderr
            .contains("this run checks them again and finishes it")
            && again.stderr.contains("rollout status")
            && !again.stderr.contains("nothing changed"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("MODEL_VERSION=2: already done"),
        "the variable is in place and not set again: {}",
        again.stderr
    );
    // The rollout can become Ready now (the image is fixed): the same command finishes it.
    k.kubectl(&["-n", &ns, "set", "image", "deployment/ms", "ms=reg/ms:v1"]);
    let fixed = env.run(&["rollback", "model", &m, "--yes"]);
    fixed.code(0);
    assert!(
        fixed.stderr.contains(&format!("rolled back {m}")),
        "{}",
        fixed.stderr
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
    let envs = k.kubectl(&[
        "-n",
        &ns,
        "get",
        "deployment",
        "ms",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(envs, "2");
    let done = env.run(&["rollback", "model", &m, "--yes"]);
    done.code(0);
    assert!(
        done.stderr.contains("already rolled back"),
        "{}",
        done.stderr
    );
    let status = env.run(&["status", &m]);
    assert!(
        !status.stdout.contains("did not finish"),
        "{}",
        status.stdout
    );
}

/// `--resume` finishes a serving step that had not converged, and checks the variable in the
/// world: set back by hand since, it is set again.
#[test]
fn resume_sets_the_variable_again_when_it_was_set_back_and_waits_for_ready() {
    let k = cluster();
    let ns = k.namespace("notconvres");
    k.deployment(&ns, "ms", &["reg/ms:broken"]);
    let (mut env, b, m) = env_with(&format!(
        "kind = \"kubectl-set-env\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"2s\"\n"
    ));
    k.configure(&mut env);
    env.run(&["rollback", "model", &m, "--yes"]).code(5);
    k.kubectl(&["-n", &ns, "set", "env", "deployment/ms", "MODEL_VERSION=3"]);
    k.kubectl(&["-n", &ns, "set", "image", "deployment/ms", "ms=reg/ms:v1"]);
    let out = env.run(&["rollback", "model", &m, "--resume", "--yes"]);
    out.code(0);
    assert!(
        !out.stderr.contains("MODEL_VERSION=2: already done"),
        "{}",
        out.stderr
    );
    let envs = k.kubectl(&[
        "-n",
        &ns,
        "get",
        "deployment",
        "ms",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[0].value}",
    ]);
    assert_eq!(envs, "2");
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}
