//! KServe serving and the kserve-canary infra strategy on the real kube-apiserver, with KServe's
//! InferenceService CRD (tests/env/crds) and tests/env/fake_kserve.py writing its status the way
//! the KServe controller does; model artifacts resolved by the real MLflow server.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlrb::registry::Stage;
use serde_json::{Value, json};

use crate::common::kube::{Kube, cluster};
use crate::common::mlflow::{MlflowBackend, seed_rest};
use crate::common::{Backend, TestEnv, repo_root, unique, v};

/// The fake KServe controller on one namespace, stopped with the test.
struct Controller(Child);

impl Controller {
    fn start(k: &Kube, ns: &str) -> Controller {
        k.kubectl(&[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "crd/inferenceservices.serving.kserve.io",
        ]);
        let child = Command::new(repo_root().join("tests/env/with-parent.sh"))
            .arg(std::process::id().to_string())
            .arg("python3")
            .arg(repo_root().join("tests/env/fake_kserve.py"))
            .args([
                "--kubeconfig",
                k.kubeconfig.to_str().unwrap(),
                "--namespace",
                ns,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/env/fake_kserve.py (python3 is required)");
        Controller(child)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn isvc(k: &Kube, ns: &str, name: &str) -> Value {
    serde_json::from_str(&k.kubectl(&[
        "-n",
        ns,
        "get",
        "inferenceservices.serving.kserve.io",
        name,
        "-o",
        "json",
    ]))
    .unwrap()
}

/// Creates an InferenceService serving `uri` and waits until its first revision is Ready.
fn create_isvc(k: &Kube, ns: &str, name: &str, uri: &str) {
    k.apply(
        ns,
        &format!(
            "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {name}\nspec:\n  predictor:\n    model:\n      modelFormat:\n        name: mlflow\n      storageUri: \"{uri}\"\n"
        ),
    );
    wait_for(k, ns, name, |i| {
        i["status"]["components"]["predictor"]["latestReadyRevision"]
            == format!("{name}-predictor-00001")
    });
}

fn wait_for(k: &Kube, ns: &str, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let i = isvc(k, ns, name);
        if ok(&i) {
            return i;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the fake KServe controller did not get there in 30 s: {:#}",
            i["status"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn download_uri(b: &MlflowBackend, m: &str, version: u64) -> String {
    b.rest.get(
        "model-versions/get-download-uri",
        &[("name", m), ("version", &version.to_string())],
    )["artifact_uri"]
        .as_str()
        .unwrap()
        .to_string()
}

fn env_for(b: &MlflowBackend, k: &Kube, toml: &str) -> TestEnv {
    let mut env = TestEnv::new();
    b.configure(&mut env);
    k.configure(&mut env);
    let cfg = env.write("mlrb.toml", toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env
}

fn serving_toml(m: &str, ns: &str) -> String {
    format!(
        "[models.\"{m}\".serving]\nkind = \"kserve\"\ninference_service = \"{m}\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
    )
}

/// Two pyfunc versions logged by MLflow's client (sources `models:/m-…`): the rollback points
/// the predictor at the directory the server resolves v1 to, and records the new revision.
#[test]
fn a_model_rollback_points_the_inference_service_at_the_target_and_waits_for_its_revision() {
    let k = cluster();
    let b = MlflowBackend::new();
    let m = unique("kserve").to_lowercase();
    let inputs = crate::schema::cols(&["a", "b"]);
    crate::schema::log_signed(&b.uri, &json!({m.clone(): [inputs.clone(), inputs]}));
    b.transition(&m, 1, Stage::Archived);
    b.transition(&m, 2, Stage::Production);
    let source = b
        .rest
        .get("model-versions/get", &[("name", &m), ("version", "1")])["model_version"]["source"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(source.starts_with("models:/"), "{source}");
    let (v1, v2) = (download_uri(&b, &m, 1), download_uri(&b, &m, 2));
    let ns = k.namespace("kserve");
    let _c = Controller::start(k, &ns);
    create_isvc(k, &ns, &m, &v2);
    let env = env_for(&b, k, &serving_toml(&m, &ns));

    let dry = env.run(&["rollback", "model", &m, "--dry-run"]);
    dry.code(0);
    assert!(
        dry.stdout.contains(&format!(
            "kubectl patch inferenceservice/{m} -n {ns}: spec.predictor.model.storageUri = {v1} (v1)"
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(&format!(
            "wait for inferenceservice/{m} Ready with a new revision (after {m}-predictor-00001)"
        )),
        "{}",
        dry.stdout
    );

    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    let i = isvc(k, &ns, &m);
    assert_eq!(i["spec"]["predictor"]["model"]["storageUri"], v1.as_str());
    let rev = format!("{m}-predictor-00002");
    assert_eq!(
        i["status"]["components"]["predictor"]["latestReadyRevision"],
        rev.as_str()
    );
    let recorded = env
        .journal()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .any(|r| {
            r["type"] == "step_finished"
                && r["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("revision {rev} takes all traffic")))
        });
    assert!(recorded, "{}", env.journal());
    assert_eq!(b.version(&m, 1).0, Stage::Production);

    // Again: already rolled back, nothing patched.
    let again = env.run(&["rollback", "model", &m, "--yes"]);
    again.code(0);
    assert_eq!(
        isvc(k, &ns, &m)["metadata"]["generation"],
        i["metadata"]["generation"]
    );
}

/// A target whose revision never becomes ready fails the rollback with KServe's reason; the
/// previous revision keeps serving and the rollback stays resumable.
#[test]
fn a_revision_that_never_becomes_ready_fails_the_rollback_with_the_reason() {
    let k = cluster();
    let b = MlflowBackend::new();
    let m = unique("kserve-bad").to_lowercase();
    seed_rest(
        &b.rest,
        &m,
        &[
            v(Stage::Archived).source("s3://models/recsys/broken-v1"),
            v(Stage::Production).source("s3://models/recsys/v2"),
        ],
        &[],
    );
    let ns = k.namespace("kserve-bad");
    let _c = Controller::start(k, &ns);
    create_isvc(k, &ns, &m, "s3://models/recsys/v2");
    let env = env_for(&b, k, &serving_toml(&m, &ns));
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(1);
    let line = out.error_line();
    assert!(
        line.contains(&format!(
            "revision {m}-predictor-00002 did not become ready: RevisionFailed"
        )) && line.contains(
            "ModelLoadFailed: failed to load the model from s3://models/recsys/broken-v1"
        ),
        "{}",
        out.stderr
    );
    let i = isvc(k, &ns, &m);
    assert_eq!(
        i["status"]["components"]["predictor"]["traffic"][0]["revisionName"],
        format!("{m}-predictor-00001")
    );
    let status = env.run(&["status", &m]);
    assert!(status.stdout.contains("--resume"), "{}", status.stdout);
}

/// A KServe serving section without its InferenceService is refused with one line.
#[test]
fn kserve_config_needs_the_inference_service_and_namespace() {
    let env = TestEnv::new();
    let cfg = env.write(
        "mlrb.toml",
        "[models.recsys.serving]\nkind = \"kserve\"\nnamespace = \"ml\"\n",
    );
    let mut env = env;
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let out = env.run(&["rollback", "model", "recsys", "--dry-run"]);
    let line = out.one_clear_error(2);
    assert!(
        line.contains(
            "kind = \"kserve\" needs `inference_service = \"NAME\"` and `namespace = \"NS\"`"
        ),
        "{line}"
    );
}

/// kserve-canary: a canary at 20% is reversed to 0%, and the rollback waits until the previously
/// rolled-out revision takes all traffic; a second run changes nothing.
#[test]
fn kserve_canary_reverses_the_split_until_the_previous_revision_takes_all_traffic() {
    let k = cluster();
    let ns = k.namespace("kserve-canary");
    let _c = Controller::start(k, &ns);
    create_isvc(k, &ns, "recsys", "s3://models/recsys/v1");
    k.kubectl(&[
        "-n",
        &ns,
        "patch",
        "inferenceservices.serving.kserve.io",
        "recsys",
        "--type=merge",
        "-p",
        r#"{"spec":{"predictor":{"canaryTrafficPercent":20,"model":{"storageUri":"s3://models/recsys/v2"}}}}"#,
    ]);
    wait_for(k, &ns, "recsys", |i| {
        i["status"]["components"]["predictor"]["traffic"]
            .as_array()
            .is_some_and(|t| t.len() == 2 && t[1]["percent"] == 20)
    });
    let mut env = TestEnv::new();
    k.configure(&mut env);
    let cfg = env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"kserve-canary\"\ninference_service = \"recsys\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n"
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let out = env.run(&["rollback", "infra", "recsys", "--yes"]);
    out.code(0);
    assert!(
        out.stdout.contains("canaryTrafficPercent 0"),
        "{}",
        out.stdout
    );
    let i = isvc(k, &ns, "recsys");
    assert_eq!(i["spec"]["predictor"]["canaryTrafficPercent"], 0);
    let t = &i["status"]["components"]["predictor"]["traffic"];
    assert_eq!(t[0]["revisionName"], "recsys-predictor-00001");
    assert_eq!(t[0]["percent"], 100);
    assert_eq!(t[1]["percent"], 0);
    let journal = env.journal();
    assert!(
        journal.contains("\"type\":\"verified\",\"ok\":true"),
        "{journal}"
    );
    let again = env.run(&["rollback", "infra", "recsys", "--yes"]);
    again.code(0);
    assert!(
        again.stderr.contains("already reversed"),
        "{}",
        again.stderr
    );
}

/// The world of `runbooks/served-by-kserve.md` on top of the runbooks' one: an InferenceService
/// `recsys` serving v2's artifact with a canary of v4's at 20%, the kubeconfig's namespace set to
/// its own, and the config's serving and infra sections pointing at it. The controller runs
/// while the returned value lives.
pub(crate) fn runbook_world(env: &mut TestEnv) -> impl Drop + use<> {
    let k = cluster();
    let ns = k.namespace("runbook-kserve");
    let c = Controller::start(k, &ns);
    create_isvc(k, &ns, "recsys", "s3://models/recsys/v2");
    k.kubectl(&[
        "-n",
        &ns,
        "patch",
        "inferenceservices.serving.kserve.io",
        "recsys",
        "--type=merge",
        "-p",
        r#"{"spec":{"predictor":{"canaryTrafficPercent":20,"model":{"storageUri":"s3://models/recsys/v4"}}}}"#,
    ]);
    wait_for(k, &ns, "recsys", |i| {
        i["status"]["components"]["predictor"]["traffic"]
            .as_array()
            .is_some_and(|t| t.len() == 2)
    });
    let kubeconfig = env.path().join("kubeconfig");
    std::fs::copy(&k.kubeconfig, &kubeconfig).unwrap();
    k.kubectl(&[
        "config",
        "set-context",
        "--current",
        &format!("--namespace={ns}"),
        &format!("--kubeconfig={}", kubeconfig.display()),
    ]);
    env.set("KUBECONFIG", kubeconfig.display().to_string());
    let cfg = env.path().join("mlrb.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let start = text.find("[models.recsys.infra]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let text = format!(
        "{}[models.recsys.infra]\nstrategy = \"kserve-canary\"\ninference_service = \"recsys\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"{}\n[models.recsys.serving]\nkind = \"kserve\"\ninference_service = \"recsys\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&cfg, text).unwrap();
    c
}
