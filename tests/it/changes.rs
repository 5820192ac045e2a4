//! `mlrb changes`: a real git repository (git2) for the feature pipeline and the embedded
//! registry, with the hint pointing at whichever component changed closest before the breach.

use std::path::Path;

use chrono::{Duration, Utc};
use mlrb::registry::{Stage, file::FileRegistry};

use crate::common::TestEnv;

/// A repo with one commit per (path, minutes ago), oldest first.
fn git_repo(dir: &Path, commits: &[(&str, i64, &str)]) {
    let repo = git2::Repository::init(dir).unwrap();
    let mut parent: Option<git2::Oid> = None;
    for (path, mins_ago, msg) in commits {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, format!("{msg}\n")).unwrap();
        let mut idx = repo.index().unwrap();
        idx.add_path(Path::new(path)).unwrap();
        idx.write().unwrap();
        let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
        let when = git2::Time::new((Utc::now() - Duration::minutes(*mins_ago)).timestamp(), 0);
        let sig = git2::Signature::new("Dana", "dana@example.com", &when).unwrap();
        let parents: Vec<git2::Commit> = parent
            .map(|p| vec![repo.find_commit(p).unwrap()])
            .unwrap_or_default();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        parent = Some(
            repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &refs)
                .unwrap(),
        );
    }
}

/// recsys with versions registered `mins_ago` (v1 first, the last one Production).
fn registry(env: &mut TestEnv, mins_ago: &[i64]) {
    let path = env.path().join("registry.json");
    let reg = FileRegistry::create(&path).unwrap();
    for (i, m) in mins_ago.iter().enumerate() {
        let stage = if i + 1 == mins_ago.len() {
            Stage::Production
        } else {
            Stage::Archived
        };
        reg.add_version(
            "recsys",
            &format!("s3://m/v{}", i + 1),
            stage,
            &[("dataset_version", "ds-2026-11")],
            Some(Utc::now() - Duration::minutes(*m)),
        )
        .unwrap();
    }
    env.set("MLRB_REGISTRY", path.display().to_string());
    let cfg = env.write(
        "mlrb.toml",
        "[models.recsys.features]\nrepo = \"pipe\"\npath = \"pipeline\"\ndvc = false\n",
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
}

fn breach_10m_ago() -> String {
    (Utc::now() - Duration::minutes(10)).to_rfc3339()
}

#[test]
fn changes_hint_points_at_the_feature_pipeline_when_it_changed_last() {
    let mut env = TestEnv::new();
    registry(&mut env, &[3000, 180]);
    git_repo(
        &env.path().join("pipe"),
        &[
            ("pipeline/transform.py", 600, "initial pipeline"),
            ("pipeline/data.dvc", 30, "new feature snapshot"),
            ("docs/readme.md", 15, "docs only"),
        ],
    );
    let out = env.run(&["changes", "recsys", "--breach-at", &breach_10m_ago()]);
    out.code(0);
    let hint = out.stdout.lines().last().unwrap();
    assert!(
        hint.contains("the feature pipeline") && hint.contains("new feature snapshot"),
        "{}",
        out.stdout
    );
    assert!(hint.contains("Evidence, not proof"), "{hint}");
    assert!(out.stdout.contains("DVC data changed: pipeline/data.dvc"));
    // Only commits touching the pipeline path count.
    assert!(!out.stdout.contains("docs only"), "{}", out.stdout);
    // Newest first, the breach marked between the changes.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let breach = lines
        .iter()
        .position(|l| l.contains("breach began"))
        .unwrap();
    let feat = lines
        .iter()
        .position(|l| l.contains("new feature snapshot"))
        .unwrap();
    let model = lines
        .iter()
        .position(|l| l.contains("v2 registered"))
        .unwrap();
    assert!(breach < feat && feat < model, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("v2 (live) was trained on dataset ds-2026-11 (version tag dataset_version)"),
        "{}",
        out.stdout
    );
}

#[test]
fn changes_hint_points_at_the_model_when_it_changed_last() {
    let mut env = TestEnv::new();
    // v3 registered 25 minutes ago; a v4 after the breach does not count as a cause.
    registry(&mut env, &[3000, 2000, 25, 5]);
    git_repo(
        &env.path().join("pipe"),
        &[("pipeline/transform.py", 120, "tune the transform")],
    );
    let out = env.run(&["changes", "recsys", "--breach-at", &breach_10m_ago()]);
    out.code(0);
    let hint = out.stdout.lines().last().unwrap();
    assert!(
        hint.contains("the model (registry)") && hint.contains("v3 registered"),
        "{}",
        out.stdout
    );
    let out = env.run(&[
        "changes",
        "recsys",
        "--breach-at",
        &breach_10m_ago(),
        "-o",
        "json",
    ]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let comps: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    assert!(comps.contains(&"features") && comps.contains(&"model"));
    assert!(v["hint"].as_str().unwrap().contains("v3 registered"));
}

#[test]
fn changes_window_and_no_breach() {
    let mut env = TestEnv::new();
    registry(&mut env, &[3000, 2000]);
    git_repo(
        &env.path().join("pipe"),
        &[("pipeline/transform.py", 120, "tune the transform")],
    );
    // Nothing in the last hour: the commit two hours ago is outside the window.
    let out = env.run(&["changes", "recsys", "--since", "1h"]);
    out.code(0);
    assert!(out.stdout.contains("no changes recorded"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("widen the window with mlrb changes --since")
    );
    let out = env.run(&["changes", "recsys"]);
    out.code(0);
    assert!(
        out.stdout.contains("no breach start known") && out.stdout.contains("the feature pipeline"),
        "{}",
        out.stdout
    );
}

#[test]
fn changes_hint_points_at_the_serving_infra_when_it_changed_last() {
    let k = crate::common::kube::cluster();
    let ns = k.namespace("changes");
    let mut env = TestEnv::new();
    k.configure(&mut env);
    registry(&mut env, &[3000, 60]);
    let cfg = env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.features]\nrepo = \"pipe\"\npath = \"pipeline\"\ndvc = false\n\
             [models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\nnamespace = \"{ns}\"\n"
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    git_repo(
        &env.path().join("pipe"),
        &[("pipeline/transform.py", 120, "tune the transform")],
    );
    k.deployment(&ns, "ms", &["reg/ms:v1", "reg/ms:v2-slow"]);
    // ReplicaSet timestamps have one-second resolution: the breach comes a moment later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let breach = Utc::now().to_rfc3339();
    let out = env.run(&["changes", "recsys", "--breach-at", &breach]);
    out.code(0);
    let hint = out.stdout.lines().last().unwrap();
    assert!(
        hint.contains("the serving infrastructure")
            && hint.contains("deployment/ms revision 2: reg/ms:v2-slow (deploy reg/ms:v2-slow)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("revision 1: reg/ms:v1"));
}

#[test]
fn changes_section_in_status_for_one_model() {
    let mut env = TestEnv::new();
    registry(&mut env, &[3000, 90]);
    git_repo(
        &env.path().join("pipe"),
        &[("pipeline/transform.py", 30, "tune the transform")],
    );
    let out = env.run(&["status", "recsys"]);
    out.code(0);
    assert!(
        out.stdout.contains("changes in the last 24h"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("tune the transform"));
    assert!(out.stdout.contains("v2 registered"));
    let out = env.run(&["status", "recsys", "-o", "json"]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["changes"]["changes"][0]["component"], "features");
}

#[test]
fn changes_section_in_the_incident_report() {
    let mut env = TestEnv::new();
    registry(&mut env, &[3000, 90]);
    git_repo(
        &env.path().join("pipe"),
        &[("pipeline/transform.py", 30, "tune the transform")],
    );
    let out = env.run(&[
        "rollback",
        "model",
        "recsys",
        "--yes",
        "--detected-at",
        "10m",
    ]);
    out.code(0);
    let what = out.stdout.find("## What Changed").expect(&out.stdout);
    let root = out.stdout.find("## Root Cause").unwrap();
    assert!(what < root, "{}", out.stdout);
    assert!(
        out.stdout.contains("| features | commit "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("**Hint:** closest change before the breach"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("the feature pipeline"));
    // `mlrb report` renders the same section from the journal.
    let out = env.run(&["report", "--last"]);
    out.code(0);
    assert!(out.stdout.contains("## What Changed"), "{}", out.stdout);
}

#[test]
fn changes_reads_the_dataset_from_the_training_runs_params_and_tags_on_mlflow() {
    use crate::common::Backend;
    use crate::common::mlflow::MlflowBackend;
    use serde_json::json;
    let b = MlflowBackend::new();
    let mut env = TestEnv::new();
    b.configure(&mut env);
    let m = crate::common::unique("changes-runs");
    let run = |key: &str, kind: &str, value: &str| -> String {
        let r = b.rest.post("runs/create", json!({"experiment_id": "0"}));
        let id = r["run"]["info"]["run_id"].as_str().unwrap().to_string();
        let path = if kind == "param" {
            "runs/log-parameter"
        } else {
            "runs/set-tag"
        };
        b.rest
            .post(path, json!({"run_id": id, "key": key, "value": value}));
        id
    };
    let r1 = run("data.snapshot", "param", "s3://lake/2026-11-01");
    let r2 = run("data.snapshot", "tag", "s3://lake/2026-11-25");
    b.rest.post("registered-models/create", json!({"name": m}));
    for (r, stage) in [(&r1, "Archived"), (&r2, "Production")] {
        let v = b.rest.post(
            "model-versions/create",
            json!({"name": m, "source": format!("runs:/{r}/model"), "run_id": r}),
        );
        b.rest.post(
            "model-versions/transition-stage",
            json!({"name": m, "version": v["model_version"]["version"], "stage": stage,
                   "archive_existing_versions": false}),
        );
    }
    let cfg = env.write(
        "mlrb.toml",
        &format!("[models.\"{m}\".training_data]\nkeys = [\"data.snapshot\"]\n"),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let out = env.run(&["changes", &m, "--since", "1h"]);
    out.code(0);
    assert!(
        out.stdout.contains(&format!(
            "v1 was trained on dataset s3://lake/2026-11-01 (run {} data.snapshot)",
            &r1[..8]
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "v2 (live) was trained on dataset s3://lake/2026-11-25 (run {} data.snapshot)",
            &r2[..8]
        )),
        "{}",
        out.stdout
    );
}

/// A config named by a relative path in another directory: its relative feature repository is
/// resolved against that directory once, when the config is read, and `changes` opens it there.
#[test]
fn a_relative_feature_repo_is_resolved_against_a_config_in_another_directory() {
    let mut env = TestEnv::new();
    registry(&mut env, &[3000, 180]);
    git_repo(
        &env.path().join("pipe"),
        &[("pipeline/transform.py", 600, "initial pipeline")],
    );
    std::fs::create_dir(env.path().join("conf")).unwrap();
    env.write(
        "conf/mlrb.toml",
        "[models.recsys.features]\nrepo = \"../pipe\"\npath = \"pipeline\"\ndvc = false\n",
    );
    env.set("MLRB_CONFIG", "conf/mlrb.toml");
    let out = env.run(&["changes", "recsys", "--breach-at", &breach_10m_ago()]);
    out.code(0);
    assert!(out.stdout.contains("initial pipeline"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("not a git repository")
            && !out.stderr.contains("not a git repository"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}
