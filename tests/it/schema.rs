//! The feature-schema gate: real pyfunc models logged with signatures by MLflow's Python
//! client, their MLmodel files read back through the real server's artifact route.

use std::process::Command;

use mlrb::registry::Stage;
use serde_json::{Value, json};

use crate::common::mlflow::MlflowBackend;
use crate::common::{Backend, FileBackend, TestEnv, cache_dir, repo_root, unique, v};

/// Logs `spec` ({model: [inputs | null, …]}) with the Python client of the test venv.
pub(crate) fn log_signed(uri: &str, spec: &Value) {
    let python = cache_dir().join("mlflow/bin/python");
    assert!(
        python.exists(),
        "the MLflow Python client is required: run `tests/env/setup.sh mlflow` ({} is missing)",
        python.display()
    );
    let out = Command::new(&python)
        .arg(repo_root().join("tests/env/log_signed_models.py"))
        .arg(uri)
        .arg(spec.to_string())
        .env("MLFLOW_TRACKING_URI", uri)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logging models failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn cols(names: &[&str]) -> Value {
    json!(
        names
            .iter()
            .map(|n| json!([n, "double", true]))
            .collect::<Vec<_>>()
    )
}

fn notes(env: &TestEnv) -> Vec<String> {
    env.journal()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "note")
        .filter_map(|r| r["text"].as_str().map(str::to_string))
        .collect()
}

/// Three models on the real server: a target that needs an input live does not take, a target
/// whose inputs live still takes (and more), and a target logged without a signature.
#[test]
fn the_gate_compares_real_signatures_refuses_and_records() {
    let b = MlflowBackend::new();
    let (blocked, fine, unsigned) = (
        unique("schema-old"),
        unique("schema-ok"),
        unique("schema-nosig"),
    );
    let live = ["a", "b", "user_embedding_v2", "session_len"];
    log_signed(
        &b.uri,
        &json!({
            blocked.clone(): [cols(&["a", "b", "legacy_ctr"]), cols(&live)],
            fine.clone(): [
                json!([["a", "double", true], ["b", "double", true], ["note", "string", false]]),
                cols(&live),
            ],
            unsigned.clone(): [Value::Null, cols(&live)],
        }),
    );
    for m in [&blocked, &fine, &unsigned] {
        b.transition(m, 1, Stage::Archived);
        b.transition(m, 2, Stage::Production);
    }
    let mut env = TestEnv::new();
    b.configure(&mut env);

    // Needs `legacy_ctr`, which the pipeline no longer sends: refused, nothing changed.
    let before = b.snapshot(&blocked);
    let out = env.run(&["rollback", "model", &blocked, "--yes"]);
    let line = out.one_clear_error(4);
    assert!(
        line.contains(
            "v1 expects 3 inputs; live v2 takes 4: new `user_embedding_v2`, `session_len`; v1 needs `legacy_ctr` (double) that live v2 does not receive"
        ),
        "{line}"
    );
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(b.snapshot(&blocked), before);
    // --force goes ahead; the plan and the report say what was overridden.
    let forced = env.run(&["rollback", "model", &blocked, "--yes", "--force"]);
    forced.code(0);
    assert!(
        forced
            .stdout
            .contains("! feature schema: v1 expects 3 inputs; live v2 takes 4"),
        "{}",
        forced.stdout
    );
    assert_eq!(b.version(&blocked, 1).0, Stage::Production);
    assert!(
        notes(&env)
            .iter()
            .any(|n| n.contains("needs `legacy_ctr` (double)") && n.contains("--force goes ahead")),
        "{:?}",
        notes(&env)
    );
    let report = env.run(&["report", "--last"]);
    report.code(0);
    assert!(
        report
            .stdout
            .contains(r"Note: feature schema: v1 expects 3 inputs")
            && report.stdout.contains(r"legacy\_ctr"),
        "{}",
        report.stdout
    );

    // Inputs the target reads are all still sent: it goes, and says so.
    let dry = env.run(&["rollback", "model", &fine, "--dry-run", "-o", "json"]);
    dry.code(0);
    let view: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(view["schema"]["blocks"], false, "{view}");
    assert_eq!(
        view["schema"]["summary"],
        "v1 expects 3 inputs; live v2 takes 4: new `user_embedding_v2`, `session_len`; v1's optional `note` (string) not received"
    );
    env.run(&["rollback", "model", &fine, "--yes"]).code(0);
    assert!(
        notes(&env)
            .iter()
            .any(|n| n.starts_with("feature schema checked: v1 expects 3 inputs")),
        "{:?}",
        notes(&env)
    );

    // No signature: a warning in the plan and the record, not a refusal.
    let out = env.run(&["rollback", "model", &unsigned, "--yes"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("! feature schema: inputs of v1 and live v2 not compared: v1 has no input signature in its MLmodel"),
        "{}",
        out.stdout
    );
}

/// The embedded registry reads the MLmodel beside a local source; a remote one is not read.
#[test]
fn the_file_registry_reads_a_local_mlmodel() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let dir = |n: &str, inputs: &str| {
        let d = env.path().join(n);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("MLmodel"),
            format!(
                "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\nsignature:\n  inputs: '{inputs}'\n  outputs: null\n"
            ),
        )
        .unwrap();
        d.display().to_string()
    };
    let old = dir(
        "v1",
        r#"[{"type": "long", "name": "clicks", "required": true}]"#,
    );
    let new = dir(
        "v2",
        r#"[{"type": "string", "name": "clicks", "required": true}]"#,
    );
    let m = unique("schema-file");
    b.seed(
        &m,
        &[
            v(Stage::Archived).source(&format!("file://{old}")),
            v(Stage::Production).source(&new),
        ],
        &[],
    );
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    let line = out.one_clear_error(4);
    assert!(
        line.contains("`clicks` is long for v1, string for live v2"),
        "{line}"
    );
    let remote = unique("schema-remote");
    b.seed(&remote, &crate::common::bad_release(), &[]);
    let out = env.run(&["rollback", "model", &remote, "--dry-run"]);
    out.code(0);
    assert!(
        out.stdout.contains("v2 has no MLmodel file where"),
        "{}",
        out.stdout
    );
}
