//! `rollback infra` against a real kube-apiserver through real kubectl, and helm through the
//! project's fake helm (tests/env/fake-helm/helm).

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::common::kube::cluster;
use crate::common::{TestEnv, assert_no_secret, repo_root};

fn kube_env(ns: &str, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n{extra}"
        ),
    );
    env
}

#[test]
fn undo_after_a_broken_image_restores_the_previous_one() {
    let k = cluster();
    let ns = k.namespace("undo");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    let env = kube_env(&ns, "");
    let out = env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--yes",
        "--reason",
        "p99 latency after deploy",
    ]);
    out.code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
    assert!(
        out.stdout.contains(&format!(
            "kubectl --namespace={ns} rollout undo deployment/ms --to-revision=2"
        )),
        "the plan names the command:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("# Incident Report"), "{}", out.stdout);
    assert!(out.stdout.contains("| verification |"), "{}", out.stdout);
    let journal = env.journal();
    assert!(journal.contains("\"command\":\"rollback infra\""));
    assert!(
        journal.contains("\"type\":\"verified\",\"ok\":true"),
        "{journal}"
    );
}

/// A rollback started right after a bad deploy, before the deployment controller has observed
/// it, goes back to the last good revision: planned on the unobserved history, "previous" was
/// the revision before the last good one (v1 here). The controller is held back for certain by a
/// ReplicaSet quota, and let go once mlrb says it is waiting.
#[test]
fn undo_before_the_controller_has_seen_the_bad_deploy_goes_back_to_the_last_good_revision() {
    let k = cluster();
    let ns = k.namespace("race");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    k.hold_replicasets(&ns);
    k.kubectl(&[
        "-n",
        &ns,
        "set",
        "image",
        "deployment/ms",
        "ms=reg/ms:broken-v3",
    ]);
    let (generation, observed) = k.unobserved(&ns, "ms");
    let env = kube_env(&ns, "");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .args(["rollback", "infra", "recsys", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    let waiting = format!(
        "waiting for the deployment controller to observe the latest change of deployment/ms in namespace {ns} (generation {generation}, observed {observed})"
    );
    while !stderr.contains(&waiting) && err.read_line(&mut stderr).unwrap() > 0 {}
    k.release_replicasets(&ns);
    err.read_to_string(&mut stderr).unwrap();
    let code = child.wait().unwrap().code();
    let stdout = stdout.join().unwrap();
    assert_no_secret("stdout", &stdout, &env.vars);
    assert_no_secret("stderr", &stderr, &env.vars);
    assert!(
        stderr.contains(&waiting),
        "mlrb planned without waiting for the controller:\n{stderr}\n{stdout}"
    );
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    assert!(
        stdout.contains("revision 3 → 2"),
        "the plan goes back from the bad revision to the last good one:\n{stdout}"
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
}

/// A controller that does not catch up within the timeout: one error line saying so with the
/// generations, a hint, and nothing changed.
#[test]
fn a_controller_that_does_not_catch_up_is_one_clear_failure() {
    let k = cluster();
    let ns = k.namespace("behind");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    k.hold_replicasets(&ns);
    k.kubectl(&[
        "-n",
        &ns,
        "set",
        "image",
        "deployment/ms",
        "ms=reg/ms:broken-v3",
    ]);
    let (generation, observed) = k.unobserved(&ns, "ms");
    let env = kube_env(&ns, "").clone_with_timeout(&ns, "2s");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    k.release_replicasets(&ns);
    out.code(1);
    let line = out.error_line();
    assert!(
        line.contains(&format!(
            "the deployment controller has not observed the latest change of deployment/ms within 2s (generation {generation}, observed {observed})"
        )),
        "{line}"
    );
    assert!(line.ends_with("; nothing was changed"), "{line}");
    assert!(
        out.stderr.contains(&format!(
            "hint: is kube-controller-manager running? `kubectl --namespace={ns} describe deployment ms`"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(env.journal(), "");
    assert_eq!(k.image(&ns, "ms"), "reg/ms:broken-v3");
}

#[test]
fn undo_to_a_named_revision_and_history_shows_it() {
    let k = cluster();
    let ns = k.namespace("torev");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:v3"]);
    let env = kube_env(&ns, "");
    let out = env.run(&["rollback", "infra", "recsys", "--history", "-o", "json"]);
    out.code(0);
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    let revs: Vec<u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, [3, 2, 1]);
    assert_eq!(rows[0]["current"], json!(true));
    assert_eq!(rows[2]["image"], json!("reg/ms:v1"));
    assert_eq!(rows[2]["change_cause"], json!("deploy reg/ms:v1"));

    env.run(&["rollback", "infra", "recsys", "--to-revision", "1", "--yes"])
        .code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v1");
}

#[test]
fn dry_run_changes_nothing() {
    let k = cluster();
    let ns = k.namespace("dry");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let env = kube_env(&ns, "");
    let out = env.run(&["rollback", "infra", "recsys", "--dry-run"]);
    out.code(0);
    assert!(out.stdout.contains("rollout undo"));
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
    assert_eq!(env.journal(), "");
}

#[test]
fn without_yes_and_terminal_it_refuses() {
    let k = cluster();
    let ns = k.namespace("refuse");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let env = kube_env(&ns, "");
    env.run(&["rollback", "infra", "recsys"]).code(3);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
}

#[test]
fn nothing_to_undo_exits_4() {
    let k = cluster();
    let ns = k.namespace("single");
    k.deployment(&ns, "ms", &["reg/ms:v1"]);
    let env = kube_env(&ns, "");
    let line = env
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(4);
    assert!(line.contains("nothing to undo"), "{line}");
}

#[test]
fn target_already_live_changes_nothing() {
    let k = cluster();
    let ns = k.namespace("same");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let env = kube_env(&ns, "");
    let out = env.run(&["rollback", "infra", "recsys", "--to-revision", "2", "--yes"]);
    out.code(0);
    assert!(out.stderr.contains("nothing changed"), "{}", out.stderr);
    assert_eq!(env.journal(), "");
}

#[test]
fn unknown_revision_is_a_usage_error_listing_the_revisions() {
    let k = cluster();
    let ns = k.namespace("norev");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let env = kube_env(&ns, "");
    let line = env
        .run(&["rollback", "infra", "recsys", "--to-revision", "9", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("has no revision 9 (revisions: 2, 1)"),
        "{line}"
    );
}

#[test]
fn a_not_ready_rollout_times_out_with_advice() {
    let k = cluster();
    let ns = k.namespace("notready");
    k.deployment(&ns, "ms", &["reg/ms:broken-a", "reg/ms:broken-b"]);
    let env = kube_env(&ns, "").clone_with_timeout(&ns, "2s");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    // The undo was applied and did not recover: 5, as for a model, and as the runbook says.
    out.code(5);
    assert!(out.stderr.contains("rollout status"), "{}", out.stderr);
    assert!(
        out.stderr.contains("kubectl describe deployment"),
        "{}",
        out.stderr
    );
    assert!(env.journal().contains("\"outcome\":\"not_verified\""));
    let runbook = std::fs::read_to_string(repo_root().join("runbooks/infra-rollback.md")).unwrap();
    assert!(
        runbook.contains("does not become Ready before the timeout (exit 5"),
        "runbooks/infra-rollback.md documents the exit code"
    );
}

#[test]
fn missing_deployment_is_one_clear_error() {
    let k = cluster();
    let ns = k.namespace("missing");
    let env = kube_env(&ns, "");
    let line = env
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("\"ms\" not found"), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
}

#[test]
fn wrong_context_is_one_clear_error() {
    let k = cluster();
    let ns = k.namespace("ctx");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let env = kube_env(&ns, "context = \"prod-eu\"\n");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    let line = out.one_clear_error(2);
    assert!(line.contains("prod-eu"), "{line}");
    assert!(
        out.stderr.contains("kubectl config get-contexts"),
        "{}",
        out.stderr
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
}

#[test]
fn kubectl_not_on_path_says_what_to_install() {
    let mut env = kube_env("default", "");
    env.set("PATH", "/nonexistent");
    let line = env
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("kubectl not on PATH: install kubectl"),
        "{line}"
    );
}

#[test]
fn unconfigured_infra_says_how_to_configure() {
    let env = TestEnv::new();
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.one_clear_error(2);
    assert!(
        out.stderr.contains("[models.recsys.infra]"),
        "{}",
        out.stderr
    );
}

trait WithTimeout {
    fn clone_with_timeout(self, ns: &str, t: &str) -> TestEnv;
}

impl WithTimeout for TestEnv {
    fn clone_with_timeout(self, ns: &str, t: &str) -> TestEnv {
        self.write(
            "mlrb.toml",
            &format!(
                "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"{t}\"\n"
            ),
        );
        self
    }
}

// ---- helm, through the project's fake helm ----

fn helm_env(release: &str, revisions: Value) -> TestEnv {
    let mut env = TestEnv::new();
    let bin = repo_root().join("tests/env/fake-helm");
    let path = format!("{}:{}", bin.display(), env.vars["PATH"]);
    env.set("PATH", path);
    let state = env.path().join("helm-state.json");
    std::fs::write(
        &state,
        json!({ format!("ml-serving/{release}"): revisions }).to_string(),
    )
    .unwrap();
    env.set("FAKE_HELM_STATE", state.display().to_string());
    env.set(
        "FAKE_HELM_LOG",
        env.path().join("helm-argv.jsonl").display().to_string(),
    );
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"helm\"\nrelease = \"{release}\"\nnamespace = \"ml-serving\"\ntimeout = \"90s\"\n"
        ),
    );
    env
}

fn rev(n: u64, status: &str, chart: &str, desc: &str) -> Value {
    json!({"revision": n, "updated": "2026-11-26T10:00:00.000000+00:00", "status": status,
           "chart": chart, "app_version": "1.0", "description": desc})
}

fn three_releases() -> Value {
    json!([
        rev(1, "superseded", "model-server-0.1.0", "Install complete"),
        rev(2, "superseded", "model-server-0.2.0", "Upgrade complete"),
        rev(3, "deployed", "model-server-0.3.0", "Upgrade complete"),
    ])
}

fn helm_argv(env: &TestEnv) -> Vec<Vec<String>> {
    std::fs::read_to_string(env.path().join("helm-argv.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn helm_rollback_to_the_previous_revision() {
    let env = helm_env("model-server", three_releases());
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    let argv = helm_argv(&env);
    let rollback = argv.iter().find(|a| a[0] == "rollback").unwrap();
    assert_eq!(
        rollback,
        &[
            "rollback",
            "model-server",
            "2",
            "--wait",
            "--timeout",
            "90s",
            "--namespace",
            "ml-serving"
        ]
    );
    assert!(out.stderr.contains("Rollback to 2"), "{}", out.stderr);
    assert!(env.journal().contains("\"type\":\"verified\",\"ok\":true"));
}

#[test]
fn helm_history_and_unknown_revision() {
    let env = helm_env("model-server", three_releases());
    let out = env.run(&["rollback", "infra", "recsys", "--history"]);
    out.code(0);
    assert!(out.stdout.contains("model-server-0.2.0"), "{}", out.stdout);
    let line = env
        .run(&["rollback", "infra", "recsys", "--to-revision", "7", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("has no revision 7"), "{line}");
    assert!(!helm_argv(&env).iter().any(|a| a[0] == "rollback"));
}

#[test]
fn helm_release_not_found() {
    let mut env = helm_env("model-server", three_releases());
    env.write(
        "mlrb.toml",
        "[models.recsys.infra]\nstrategy = \"helm\"\nrelease = \"typo\"\nnamespace = \"ml-serving\"\n",
    );
    env.set("X", "1");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    let line = out.one_clear_error(2);
    assert!(line.contains("Error: release: not found"), "{line}");
    assert!(out.stderr.contains("helm list"), "{}", out.stderr);
}

#[test]
fn helm_wait_timeout_fails_with_advice() {
    let env = helm_env(
        "model-server",
        json!([
            rev(
                1,
                "superseded",
                "model-server-broken-0.1.0",
                "Install complete"
            ),
            rev(2, "deployed", "model-server-0.2.0", "Upgrade complete"),
        ]),
    );
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(1);
    assert!(
        out.error_line()
            .contains("timed out waiting for the condition"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("helm status"), "{}", out.stderr);
}

// ---- blue-green ----

fn blue_green(ns: &str, blue_image: &str) {
    let k = cluster();
    let mut yaml = String::new();
    for (color, image) in [("blue", blue_image), ("green", "reg/ms:v2")] {
        yaml.push_str(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ms-{color}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: ms, color: {color}}}\n  template:\n    metadata:\n      labels: {{app: ms, color: {color}}}\n    spec:\n      containers:\n      - name: ms\n        image: {image}\n---\n"
        ));
    }
    yaml.push_str("apiVersion: v1\nkind: Service\nmetadata:\n  name: ms\nspec:\n  selector: {app: ms, color: green}\n  ports:\n  - port: 80\n");
    k.apply(ns, &yaml);
    k.kubectl(&[
        "-n",
        ns,
        "rollout",
        "status",
        "deployment/ms-green",
        "--timeout=60s",
    ]);
    if !blue_image.contains("broken") {
        k.kubectl(&[
            "-n",
            ns,
            "rollout",
            "status",
            "deployment/ms-blue",
            "--timeout=60s",
        ]);
    }
}

fn bg_env(ns: &str) -> TestEnv {
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"blue-green\"\nservice = \"ms\"\nnamespace = \"{ns}\"\n"
        ),
    );
    env
}

fn selector_color(ns: &str) -> String {
    cluster().kubectl(&[
        "-n",
        ns,
        "get",
        "service",
        "ms",
        "-o",
        "jsonpath={.spec.selector.color}",
    ])
}

#[test]
fn blue_green_switches_the_service_back_to_the_standby() {
    let k = cluster();
    let ns = k.namespace("bg");
    blue_green(&ns, "reg/ms:v1");
    let env = bg_env(&ns);
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(out.stdout.contains("colour green → blue"), "{}", out.stdout);
    assert_eq!(selector_color(&ns), "blue");
}

#[test]
fn blue_green_refuses_a_standby_without_ready_pods() {
    let k = cluster();
    let ns = k.namespace("bgdown");
    blue_green(&ns, "reg/ms:broken");
    let env = bg_env(&ns);
    let line = env
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(4);
    assert!(line.contains("no ready pods"), "{line}");
    assert_eq!(selector_color(&ns), "green");
}

// ---- canary reversal (Istio VirtualService, CRD installed in the test apiserver) ----

#[test]
fn istio_canary_reversal_sends_everything_to_stable_and_stops_the_mirror() {
    let k = cluster();
    let ns = k.namespace("canary");
    k.apply(
        &ns,
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: ms\nspec:\n  hosts: [ms]\n  http:\n  - name: primary\n    route:\n    - destination: {host: ms, subset: stable}\n      weight: 95\n    - destination: {host: ms, subset: canary}\n      weight: 5\n    mirror: {host: ms, subset: shadow}\n    mirrorPercentage: {value: 100}\n",
    );
    let mut env = TestEnv::new();
    k.configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"istio\"\nvirtual_service = \"ms\"\nstable_subset = \"stable\"\ncanary_subset = \"canary\"\nnamespace = \"{ns}\"\n"
        ),
    );
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stdout.contains("stable=95 canary=5 mirror on"),
        "{}",
        out.stdout
    );
    let vs: Value = serde_json::from_str(&k.kubectl(&[
        "-n",
        &ns,
        "get",
        "virtualservices.networking.istio.io",
        "ms",
        "-o",
        "json",
    ]))
    .unwrap();
    let route = &vs["spec"]["http"][0];
    assert_eq!(route["route"][0]["weight"], json!(100));
    assert_eq!(route["route"][1]["weight"], json!(0));
    assert!(route.get("mirror").is_none(), "{route}");
    // A second run finds nothing to reverse.
    let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
    again.code(0);
    assert!(again.stderr.contains("nothing changed"), "{}", again.stderr);
}

/// The reference warns against mixing model and infra rollbacks without analysis: an infra
/// rollback right after a model rollback of the same model says so, and the report records it.
#[test]
fn infra_rollback_inside_a_model_rollbacks_verification_window_warns_and_is_recorded() {
    use crate::common::{Backend, FileBackend, bad_release};
    let k = cluster();
    let ns = k.namespace("mixed");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let mut env = kube_env(&ns, "");
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    env.run(&["rollback", "model", "recsys", "--yes"]).code(0);
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(out.stderr.contains("verification window"), "{}", out.stderr);
    assert!(
        out.stdout.contains("Note: model rollback rollback-"),
        "{}",
        out.stdout
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v1");
}

// ---- canary reversal (Argo Rollouts abort, Rollout CRD with its status subresource) ----

/// Rollout `ms` in `ns` with `status` written as its controller would (through the status
/// subresource), and an env pointing `rollback infra` at it.
fn argo(ns: &str, status: Value) -> TestEnv {
    let k = cluster();
    k.apply(
        ns,
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: ms\nspec:\n  replicas: 2\n  strategy:\n    canary:\n      steps:\n      - setWeight: 20\n      - pause: {duration: 10m}\n",
    );
    k.kubectl(&[
        "-n",
        ns,
        "patch",
        "rollouts.argoproj.io",
        "ms",
        "--subresource=status",
        "--type=merge",
        "-p",
        &json!({ "status": status }).to_string(),
    ]);
    let mut env = TestEnv::new();
    k.configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!("[models.recsys.infra]\nstrategy = \"argo-rollouts\"\nrollout = \"ms\"\nnamespace = \"{ns}\"\ntimeout = \"3s\"\n"),
    );
    env
}

/// Paused at its second step with 20% of the traffic on the canary, as Argo leaves it.
fn mid_canary() -> Value {
    json!({
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "stableRS": "h1",
        "currentPodHash": "h2",
        "currentStepIndex": 1,
        "canary": {"weights": {
            "canary": {"weight": 20, "podTemplateHash": "h2"},
            "stable": {"weight": 80, "podTemplateHash": "h1"},
        }},
    })
}

fn rollout_status(ns: &str) -> Value {
    let ro: Value = serde_json::from_str(&cluster().kubectl(&[
        "-n",
        ns,
        "get",
        "rollouts.argoproj.io",
        "ms",
        "-o",
        "json",
    ]))
    .unwrap();
    ro["status"].clone()
}

/// A stand-in for the Argo Rollouts controller, which cannot run here: once `status.abort` is
/// set it writes what Argo writes on an abort (phase Degraded, RolloutAborted, the canary's
/// weight back to 0). Stops when dropped.
struct FakeArgo {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeArgo {
    fn start(ns: &str) -> FakeArgo {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, ns) = (stop.clone(), ns.to_string());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let st = rollout_status(&ns);
                if st["abort"] == json!(true) && st["phase"] != json!("Degraded") {
                    let aborted = json!({"status": {
                        "phase": "Degraded",
                        "message": "RolloutAborted: Rollout aborted update to revision 2",
                        "abortedAt": "2026-01-01T00:00:00Z",
                        "currentStepIndex": 0,
                        "conditions": [{"type": "Progressing", "status": "False", "reason": "RolloutAborted"}],
                        "canary": {"weights": {
                            "canary": {"weight": 0, "podTemplateHash": "h2"},
                            "stable": {"weight": 100, "podTemplateHash": "h1"},
                        }},
                    }});
                    cluster().kubectl(&[
                        "-n",
                        &ns,
                        "patch",
                        "rollouts.argoproj.io",
                        "ms",
                        "--subresource=status",
                        "--type=merge",
                        "-p",
                        &aborted.to_string(),
                    ]);
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        FakeArgo {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeArgo {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn argo_rollout_is_aborted_through_its_status() {
    let ns = cluster().namespace("argo");
    let env = argo(&ns, mid_canary());
    let _controller = FakeArgo::start(&ns);
    let dry = env.run(&["rollback", "infra", "recsys", "--dry-run"]);
    dry.code(0);
    assert!(
        dry.stdout.contains("--subresource=status"),
        "{}",
        dry.stdout
    );
    let out = env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--yes",
        "--reason",
        "canary error rate",
    ]);
    out.code(0);
    assert!(
        out.stderr
            .contains("the Argo controller aborted the Rollout: phase Degraded, canary weight 0"),
        "{}",
        out.stderr
    );
    assert_eq!(rollout_status(&ns)["abort"], json!(true));
    assert!(out.stdout.contains("# Incident Report"), "{}", out.stdout);
    let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
    again.code(0);
    assert!(again.stderr.contains("already aborted"), "{}", again.stderr);
}

/// With no controller acting, `status.abort` is only a request: the canary still has its 20%,
/// so the rollback is not verified (exit 5), and a second run does not call it done either.
#[test]
fn argo_abort_that_no_controller_acts_on_is_not_verified() {
    let ns = cluster().namespace("argonoctl");
    let env = argo(&ns, mid_canary());
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(5);
    assert!(
        out.stderr.contains(
            "the Argo Rollouts controller did not act on the abort within 3s: the Rollout's status still shows phase Paused, canary weight 20"
        ),
        "{}",
        out.stderr
    );
    assert!(
        env.journal().contains("\"type\":\"verified\",\"ok\":false"),
        "{}",
        env.journal()
    );
    let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
    let line = again.one_clear_error(5);
    assert!(line.contains("has not carried it out"), "{line}");
}

/// A fully promoted Rollout has no canary to abort: said, exit 0, nothing written.
#[test]
fn argo_with_no_canary_in_progress_changes_nothing() {
    let ns = cluster().namespace("argodone");
    let env = argo(
        &ns,
        json!({"phase": "Healthy", "stableRS": "h2", "currentPodHash": "h2", "currentStepIndex": 2}),
    );
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stderr.contains("has no canary in progress") && out.stderr.contains("nothing to abort"),
        "{}",
        out.stderr
    );
    assert!(
        rollout_status(&ns).get("abort").is_none(),
        "{}",
        rollout_status(&ns)
    );
    assert_eq!(env.journal(), "");
}

// ---- guarantees of the engine: idempotence, one rollback at a time, crash safety ----

/// The reported bug: a second `rollback infra` right after a completed one undid the undo and put
/// the broken image back. It is now a no-op naming the first rollback; a new deploy after it makes
/// a rollback possible again.
#[test]
fn a_second_rollback_is_a_no_op_that_names_the_first() {
    let k = cluster();
    let ns = k.namespace("again");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    let env = kube_env(&ns, "");
    env.run(&["rollback", "infra", "recsys", "--yes"]).code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
    let again = env.run(&["rollback", "infra", "recsys", "--yes", "-o", "json"]);
    again.code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2", "the undo was not undone");
    let v: Value = serde_json::from_str(&again.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", again.stdout));
    assert_eq!(v["outcome"], json!("already_rolled_back"), "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("already rolled back by rollback-")
            && message.ends_with("(revision 4); nothing changed"),
        "{message}"
    );
    assert_eq!(
        env.journal()
            .lines()
            .filter(|l| l.contains("\"type\":\"started\""))
            .count(),
        1,
        "one rollback in the journal"
    );
    // Another machine (its own empty journal) sees the same on the object.
    let mut other = kube_env(&ns, "");
    other.set("USER", "second-oncall");
    let out = other.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stderr.contains("already rolled back by rollback-"),
        "{}",
        out.stderr
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");

    // A new deploy after it: a rollback is possible again, and goes back to the rolled-back-to
    // image.
    k.deploy(&ns, "ms", &["reg/ms:broken-v4"]);
    env.run(&["rollback", "infra", "recsys", "--yes"]).code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
    // --to-revision still goes where it is told.
    env.run(&["rollback", "infra", "recsys", "--to-revision", "1", "--yes"])
        .code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v1");
}

/// A rollback done by hand (or by another tool), or one whose record on the object is gone, is
/// not undone either: the object, else the journal, else the controller's revision history says
/// the live template was made live again.
#[test]
fn a_rollback_made_by_hand_or_without_its_record_is_not_undone() {
    let k = cluster();
    let ns = k.namespace("byhand");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    k.kubectl(&["-n", &ns, "rollout", "undo", "deployment/ms"]);
    k.kubectl(&[
        "-n",
        &ns,
        "rollout",
        "status",
        "deployment/ms",
        "--timeout=60s",
    ]);
    let env = kube_env(&ns, "");
    let out = env.run(&["rollback", "infra", "recsys", "--yes", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], json!("already_rolled_back"), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("made the template of revision 2 (reg/ms:v2) live again"),
        "{v}"
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");

    // mlrb's own rollback, its annotations removed: this machine's journal still names it.
    let ns = k.namespace("norecord");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    let env = kube_env(&ns, "");
    env.run(&["rollback", "infra", "recsys", "--yes"]).code(0);
    k.kubectl(&[
        "-n",
        &ns,
        "annotate",
        "deployment/ms",
        "mlrb.dev/rolled-back-by-",
        "mlrb.dev/rolled-back-revision-",
    ]);
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stderr.contains("already rolled back by rollback-")
            && out.stderr.contains("(revision 4); nothing changed"),
        "{}",
        out.stderr
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
}

/// Reads `r` until `needle` shows up (a prompt has no newline); returns what was read.
fn read_until(r: &mut impl Read, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = r.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "ended before {needle:?}:\n{}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Two on-call engineers on two machines (two journals) roll back the same Deployment at the
/// same moment: both plan from the broken revision and both say yes at once. Exactly one gets
/// through; the other is refused (exit 3) by the lease on the Deployment (naming the holder and
/// its event) or, when it comes after the undo, because the Deployment is no longer as planned;
/// the Deployment is undone once.
#[test]
fn two_machines_at_once_exactly_one_rolls_back() {
    use std::io::Write;
    let k = cluster();
    let ns = k.namespace("twomachines");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    let a = kube_env(&ns, "");
    let mut b = kube_env(&ns, "");
    b.set("USER", "second-oncall");
    let mut children: Vec<_> = [&a, &b]
        .iter()
        .map(|env| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
                .env_clear()
                .envs(&env.vars)
                .env("MLRB_INTERACTIVE", "1")
                .current_dir(env.path())
                .args(["rollback", "infra", "recsys", "--reason", "race"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Both have planned and wait at the confirmation.
    let mut asked = Vec::new();
    for c in &mut children {
        let mut err = c.stderr.take().unwrap();
        asked.push(read_until(&mut err, "[y/N] "));
        c.stderr = Some(err);
    }
    for c in &mut children {
        c.stdin.take().unwrap().write_all(b"y\n").unwrap();
    }
    let outs: Vec<_> = children
        .into_iter()
        .zip(asked)
        .map(|(c, asked)| {
            let o = c.wait_with_output().unwrap();
            (
                o.status.code(),
                format!("{asked}{}", String::from_utf8_lossy(&o.stderr)),
            )
        })
        .collect();
    let mut codes: Vec<_> = outs.iter().map(|(c, _)| *c).collect();
    codes.sort();
    assert_eq!(codes, [Some(0), Some(3)], "{outs:#?}");
    let (_, refused) = outs.iter().find(|(c, _)| *c == Some(3)).unwrap();
    // The error follows the prompt on its line.
    let line = refused
        .lines()
        .find_map(|l| l.split_once("error: ").map(|(_, e)| e))
        .unwrap_or_else(|| panic!("{refused}"));
    assert!(
        line.contains("is being rolled back by") && line.contains("(event rollback-")
            || line.contains("changed since the plan was made"),
        "{line}"
    );
    assert!(line.ends_with("nothing was changed"), "{line}");
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
    let dep: Value =
        serde_json::from_str(&k.kubectl(&["-n", &ns, "get", "deployment", "ms", "-o", "json"]))
            .unwrap();
    let ann = &dep["metadata"]["annotations"];
    assert_eq!(
        ann["deployment.kubernetes.io/revision"],
        json!("4"),
        "undone once: {ann}"
    );
    assert!(ann.get("mlrb.dev/lease").is_none(), "released: {ann}");
    let journals: Vec<String> = [&a, &b].iter().map(|e| e.journal()).collect();
    assert_eq!(
        journals
            .iter()
            .filter(|j| j.contains("\"type\":\"started\""))
            .count(),
        1,
        "the refused one left no trace: {journals:#?}"
    );
}

/// Killed at every step boundary: a plain re-run refuses to plan over it (exit 2, naming the
/// event and --resume); `--resume --yes -o json` finishes it, checking each step against the
/// cluster, prints one JSON document, and the Deployment is undone exactly once.
#[test]
fn a_crash_at_any_step_is_refused_then_resumed_without_undoing_twice() {
    let k = cluster();
    for at in [
        "started:1",
        "finished:1",
        "started:2",
        "finished:2",
        "started:3",
        "finished:3",
    ] {
        let ns = k.namespace(&format!("crash{}", at.replace(':', "")));
        k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
        let mut env = kube_env(&ns, "");
        env.set("MLRB_TEST_CRASH_AT", at);
        let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        let line = env
            .run(&["rollback", "infra", "recsys", "--yes"])
            .one_clear_error(2);
        assert!(
            line.contains("was interrupted") && line.contains("rollback-"),
            "{at}: {line}"
        );
        let plain = env.run(&["rollback", "infra", "recsys", "--yes"]);
        assert!(
            plain
                .stderr
                .contains("finish it with `mlrb rollback infra recsys --resume`"),
            "{at}: {}",
            plain.stderr
        );
        let out = env.run(&[
            "rollback", "infra", "recsys", "--resume", "--yes", "-o", "json",
        ]);
        out.code(0);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{at}: stdout is not one JSON document ({e}):\n{}",
                out.stdout
            )
        });
        assert_eq!(v["outcome"], json!("rolled_back"), "{at}: {v}");
        assert_eq!(k.image(&ns, "ms"), "reg/ms:v2", "{at}");
        let dep: Value =
            serde_json::from_str(&k.kubectl(&["-n", &ns, "get", "deployment", "ms", "-o", "json"]))
                .unwrap();
        let ann = &dep["metadata"]["annotations"];
        assert_eq!(
            ann["deployment.kubernetes.io/revision"],
            json!("4"),
            "{at}: undone once: {ann}"
        );
        assert_eq!(ann["mlrb.dev/rolled-back-by"], v["event_id"], "{at}: {ann}");
        assert_eq!(ann["mlrb.dev/rolled-back-revision"], json!("4"), "{at}");
        assert!(ann.get("mlrb.dev/lease").is_none(), "{at}: released: {ann}");
        // Finished: a plain re-run is the no-op naming it.
        let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
        again.code(0);
        assert!(
            again.stderr.contains(&format!(
                "already rolled back by {}",
                v["event_id"].as_str().unwrap()
            )),
            "{at}: {}",
            again.stderr
        );
    }
}

/// `--dry-run -o json` is one JSON document with the plan, and changes nothing.
#[test]
fn dry_run_json_is_one_document() {
    let k = cluster();
    let ns = k.namespace("dryjson");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    let env = kube_env(&ns, "");
    let out = env.run(&["rollback", "infra", "recsys", "--dry-run", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", out.stdout));
    assert_eq!(v["outcome"], json!("dry_run"), "{v}");
    assert_eq!(v["event_id"], Value::Null);
    assert_eq!(
        (v["from_revision"].clone(), v["to_revision"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(v["plan"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
    assert_eq!(env.journal(), "");
}

#[test]
fn blue_green_second_run_does_not_switch_back() {
    let k = cluster();
    let ns = k.namespace("bgagain");
    blue_green(&ns, "reg/ms:v1");
    let env = bg_env(&ns);
    env.run(&["rollback", "infra", "recsys", "--yes"]).code(0);
    assert_eq!(selector_color(&ns), "blue");
    let again = env.run(&["rollback", "infra", "recsys", "--yes", "-o", "json"]);
    again.code(0);
    let v: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(v["outcome"], json!("already_rolled_back"), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("already rolled back by rollback-"),
        "{v}"
    );
    assert_eq!(selector_color(&ns), "blue", "not switched back to green");
}

#[test]
fn helm_second_run_does_not_roll_back_the_rollback() {
    let env = helm_env("model-server", three_releases());
    env.run(&["rollback", "infra", "recsys", "--yes"]).code(0);
    let again = env.run(&["rollback", "infra", "recsys", "--yes", "-o", "json"]);
    again.code(0);
    let v: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(v["outcome"], json!("already_rolled_back"), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("already rolled back by rollback-"),
        "{v}"
    );
    let rollbacks = helm_argv(&env)
        .iter()
        .filter(|a| a[0] == "rollback")
        .count();
    assert_eq!(rollbacks, 1);
}

/// The deployment controller copies a Deployment's annotations to its ReplicaSet, and `kubectl
/// rollout undo` copies the target ReplicaSet's back: a lease from an earlier rollback comes back
/// with the undo. Such a copy, even a live-looking one from another machine, holds for the
/// revision it was written at only, and does not stop the next rollback.
#[test]
fn a_lease_copied_back_by_an_undo_does_not_stop_the_rollback() {
    let k = cluster();
    let ns = k.namespace("stalelease");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    let env = kube_env(&ns, "");
    env.run(&["rollback", "infra", "recsys", "--yes"]).code(0);
    // Revision 4 runs v2: its ReplicaSet, as the controller left it with a lease copied in.
    let rs: Value =
        serde_json::from_str(&k.kubectl(&["-n", &ns, "get", "replicasets", "-o", "json"])).unwrap();
    let v2 = rs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == json!("reg/ms:v2"))
        .unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now();
    let lease = json!({
        "event": "rollback-20000101T000000Z-0000", "holder": "alice", "host": "other-machine",
        "pid": 1, "since": now.to_rfc3339(), "expires": (now + chrono::Duration::minutes(20)).to_rfc3339(),
        "revision": 4,
    });
    k.kubectl(&[
        "-n",
        &ns,
        "annotate",
        "--overwrite",
        &format!("replicaset/{v2}"),
        &format!("mlrb.dev/lease={lease}"),
    ]);
    k.deploy(&ns, "ms", &["reg/ms:broken-v4"]);
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
}

/// Blue-green killed after the switch: `--resume` finishes it towards the colour it planned (it
/// does not plan again from the live colour and switch back), and only to a colour the config
/// names, whatever the journal says.
#[test]
fn blue_green_crash_after_the_switch_is_resumed_to_the_planned_colour() {
    let k = cluster();
    let ns = k.namespace("bgcrash");
    blue_green(&ns, "reg/ms:v1");
    let mut env = bg_env(&ns);
    env.set("MLRB_TEST_CRASH_AT", "finished:1");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    assert_ne!(out.code, 0, "the process was killed");
    env.vars.remove("MLRB_TEST_CRASH_AT");
    assert_eq!(selector_color(&ns), "blue");
    env.run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);

    // A journal that names a colour the config does not is not followed.
    let path = env.state_dir().join("journal.jsonl");
    let journal = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, journal.replace("`color=blue`", "`color=evil`")).unwrap();
    let line = env
        .run(&["rollback", "infra", "recsys", "--resume", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("does not name one of the configured colours"),
        "{line}"
    );
    assert_eq!(selector_color(&ns), "blue");
    std::fs::write(&path, &journal).unwrap();

    let out = env.run(&[
        "rollback", "infra", "recsys", "--resume", "--yes", "-o", "json",
    ]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], json!("rolled_back"), "{v}");
    assert_eq!(selector_color(&ns), "blue", "not switched back to green");
    let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
    again.code(0);
    assert!(
        again.stderr.contains("already rolled back by rollback-"),
        "{}",
        again.stderr
    );
}

/// `--resume` follows the journal only as far as the cluster agrees: an interrupted undo whose
/// record names another revision number than its ReplicaSet has is refused, nothing changed.
#[test]
fn a_resume_whose_journal_disagrees_with_the_cluster_is_refused() {
    let k = cluster();
    let ns = k.namespace("forged");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2", "reg/ms:broken-v3"]);
    let mut env = kube_env(&ns, "");
    env.set("MLRB_TEST_CRASH_AT", "started:1");
    assert_ne!(env.run(&["rollback", "infra", "recsys", "--yes"]).code, 0);
    env.vars.remove("MLRB_TEST_CRASH_AT");
    let path = env.state_dir().join("journal.jsonl");
    let journal = std::fs::read_to_string(&path).unwrap();
    assert!(journal.contains("\"to\":2,"), "{journal}");
    std::fs::write(&path, journal.replace("\"to\":2,", "\"to\":1,")).unwrap();
    // The controller may still be observing the crashed run's change: a "waiting for the
    // deployment controller" status line may come first.
    let out = env.run(&["rollback", "infra", "recsys", "--resume", "--yes"]);
    out.code(2);
    let line = out.error_line();
    assert!(
        line.contains("is now revision 2 of deployment/ms")
            && line.ends_with("nothing was changed"),
        "{line}"
    );
    assert_eq!(k.image(&ns, "ms"), "reg/ms:broken-v3");
    std::fs::write(&path, &journal).unwrap();
    env.run(&["rollback", "infra", "recsys", "--resume", "--yes"])
        .code(0);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v2");
}

// ---- issue 13: names that match nothing, changes nobody asked for, "verified" means verified ----

fn istio_env(ns: &str, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"istio\"\nvirtual_service = \"ms\"\nnamespace = \"{ns}\"\n{extra}"
        ),
    );
    env
}

fn virtual_service(ns: &str) -> Value {
    serde_json::from_str(&cluster().kubectl(&[
        "-n",
        ns,
        "get",
        "virtualservices.networking.istio.io",
        "ms",
        "-o",
        "json",
    ]))
    .unwrap()
}

const PRIMARY_80_20: &str = "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: ms\nspec:\n  hosts: [ms]\n  http:\n  - name: primary\n    route:\n    - destination: {host: ms, subset: stable}\n      weight: 80\n    - destination: {host: ms, subset: canary}\n      weight: 20\n";

/// A route, subset or host that matches nothing is a configuration error listing what exists,
/// never "already sends all traffic to stable" while the canary keeps its 20%.
#[test]
fn istio_names_that_match_nothing_are_usage_errors_listing_what_exists() {
    let k = cluster();
    let ns = k.namespace("vsnames");
    k.apply(&ns, PRIMARY_80_20);
    let before = virtual_service(&ns)["spec"].clone();
    let line = istio_env(&ns, "route = \"primry\"\n")
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("route `primry` matches no http route")
            && line.contains("its routes: route primary"),
        "{line}"
    );
    let line = istio_env(&ns, "stable_subset = \"v1\"\ncanary_subset = \"v2\"\n")
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("stable_subset `v1` matches no destination")
            && line.contains("its subsets: canary, stable"),
        "{line}"
    );
    let line = istio_env(&ns, "canary_subset = \"canry\"\n")
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("canary_subset `canry`"), "{line}");
    assert_eq!(virtual_service(&ns)["spec"], before, "nothing was changed");
}

const THREE_ROUTES: &str = "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: ms\nspec:\n  hosts: [ms, other]\n  http:\n  - name: testers\n    match:\n    - headers: {x-tester: {exact: \"1\"}}\n    route:\n    - destination: {host: ms, subset: canary}\n  - name: primary\n    timeout: 3s\n    retries: {attempts: 2, perTryTimeout: 1s}\n    route:\n    - destination: {host: ms, subset: stable}\n      weight: 70\n    - destination: {host: ms, subset: canary}\n      weight: 20\n    - destination: {host: ms, subset: v3}\n      weight: 10\n    mirror: {host: ms, subset: shadow}\n    mirrorPercentage: {value: 50.5}\n  - name: other\n    route:\n    - destination: {host: other, subset: stable}\n      weight: 80\n    - destination: {host: other, subset: canary}\n      weight: 20\n    mirror: {host: other, subset: shadow}\n";

/// Without `route`, only the route splitting the model's host between stable and canary
/// changes: another host's route keeps its split and mirror, a header-matched route to the
/// canary gains no weight, a third destination keeps its share, and the weights sum to 100.
#[test]
fn istio_changes_only_the_models_split_route_and_keeps_every_other_field() {
    let k = cluster();
    let ns = k.namespace("vsonly");
    k.apply(&ns, THREE_ROUTES);
    let before = virtual_service(&ns)["spec"].clone();
    // Two routes split stable/canary (hosts ms and other) and none is named: refused.
    let line = istio_env(&ns, "")
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("2 http routes of virtualservice/ms")
            && line.contains("route primary (stable=70 canary=20 v3=10 mirror on), route other (stable=80 canary=20 mirror on)"),
        "{line}"
    );
    assert_eq!(virtual_service(&ns)["spec"], before, "nothing was changed");
    let line = istio_env(&ns, "host = \"ms.default\"\n")
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("host `ms.default` matches no destination")
            && line.contains("its destination hosts: ms, other"),
        "{line}"
    );

    let env = istio_env(&ns, "host = \"ms\"\n");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    for want in [
        "route testers (host ms): canary=100, unchanged",
        "route primary (host ms): stable=70 canary=20 v3=10 mirror on → stable=90 canary=0 v3=10",
        "route other (host other): stable=80 canary=20 mirror on, unchanged",
    ] {
        assert!(out.stdout.contains(want), "{want}\n{}", out.stdout);
    }
    assert!(
        out.stderr.contains("route testers of virtualservice/ms")
            && out.stderr.contains("also sends traffic to canary"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("v3=10; that share is kept"),
        "{}",
        out.stderr
    );
    let after = virtual_service(&ns)["spec"].clone();
    assert_eq!(after["hosts"], before["hosts"]);
    assert_eq!(after["http"][0], before["http"][0], "the testers' route");
    assert_eq!(
        after["http"][2], before["http"][2],
        "the other host's route"
    );
    let mut primary = before["http"][1].clone();
    primary["route"][0]["weight"] = json!(90);
    primary["route"][1]["weight"] = json!(0);
    let o = primary.as_object_mut().unwrap();
    o.remove("mirror");
    o.remove("mirrorPercentage");
    assert_eq!(
        after["http"][1], primary,
        "only the weights and the mirror changed"
    );
    let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
    again.code(0);
    assert!(again.stderr.contains("nothing changed"), "{}", again.stderr);
}

/// `others_to_stable` moves a third destination's share to stable too.
#[test]
fn istio_moves_a_third_share_to_stable_only_when_configured() {
    let k = cluster();
    let ns = k.namespace("vsthird");
    k.apply(&ns, THREE_ROUTES);
    istio_env(&ns, "route = \"primary\"\nothers_to_stable = true\n")
        .run(&["rollback", "infra", "recsys", "--yes"])
        .code(0);
    let vs = virtual_service(&ns);
    let w: Vec<&Value> = vs["spec"]["http"][1]["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["weight"])
        .collect();
    assert_eq!(w, [&json!(100), &json!(0), &json!(0)]);
}

/// A Deployment scaled to 0 serves nothing: the undo is said to change what would run only,
/// and the rollback is not verified (exit 5) instead of "0/0 replicas ready".
#[test]
fn a_deployment_at_zero_replicas_is_not_verified() {
    let k = cluster();
    let ns = k.namespace("zero");
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2"]);
    k.kubectl(&["-n", &ns, "scale", "deployment/ms", "--replicas=0"]);
    let env = kube_env(&ns, "");
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(5);
    assert!(
        out.stderr
            .contains("is scaled to 0 replicas: nothing serves the model"),
        "warned before acting:\n{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("but deployment/ms is scaled to 0 replicas: nothing serves it"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("0/0 replicas ready"), "{}", out.stdout);
    assert_eq!(k.image(&ns, "ms"), "reg/ms:v1");
}

/// Configured colours that do not include the live one: refused, naming both, never a guess.
#[test]
fn blue_green_colors_without_the_live_colour_are_refused() {
    let k = cluster();
    let ns = k.namespace("bgcolors");
    blue_green(&ns, "reg/ms:v1");
    let env = bg_env(&ns);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"blue-green\"\nservice = \"ms\"\nnamespace = \"{ns}\"\ncolors = [\"blue\", \"teal\"]\n"
        ),
    );
    let line = env
        .run(&["rollback", "infra", "recsys", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains(
            "selects `color=green`, which is not among the configured colors (blue, teal)"
        ),
        "{line}"
    );
    assert_eq!(selector_color(&ns), "green");
    assert_eq!(env.journal(), "");
}

/// An infra rollback's report is titled and advised as one, and a failed canary reversal's
/// hint names a flag `rollback infra` takes for its strategy (not --history).
#[test]
fn an_infra_report_is_titled_and_advised_as_an_infrastructure_rollback() {
    let k = cluster();
    let ns = k.namespace("bgreport");
    blue_green(&ns, "reg/ms:v1");
    let out = bg_env(&ns).run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("# Incident Report: Infrastructure Rollback - recsys"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("mlrb candidate"), "{}", out.stdout);
    assert!(
        out.stdout.contains("`mlrb rollback infra MODEL --dry-run`"),
        "{}",
        out.stdout
    );
    // The abort fails: a kubectl plugin on PATH that refuses, as RBAC would.
    let ns = k.namespace("argohint");
    let mut env = argo(&ns, mid_canary());
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let plugin = bin.join("kubectl-argo-rollouts");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho 'Error: rollouts.argoproj.io \"ms\" is forbidden' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), env.vars["PATH"]);
    env.set("PATH", path);
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(1);
    assert!(!out.stderr.contains("--history"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`mlrb rollback infra recsys --dry-run`"),
        "{}",
        out.stderr
    );
}
