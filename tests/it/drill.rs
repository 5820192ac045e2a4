//! `mlrb drill --sandbox`: a whole rehearsal in the real binary — synthetic metrics served by the
//! drill itself through the real Prometheus client, the model rollback or the controller, the
//! restore check, the history and its trend, and the MTTR objective.

use std::time::{Duration, Instant};

use crate::common::TestEnv;

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
        err.contains("did not restore the pre-drill registry state")
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

#[test]
fn drill_without_sandbox_says_how_to_run_one() {
    let env = TestEnv::new();
    let out = env.run(&["drill", "recsys"]);
    let err = out.one_clear_error(2);
    assert!(err.contains("staging"), "{err}");
    assert!(out.stderr.contains("--sandbox"));
}
