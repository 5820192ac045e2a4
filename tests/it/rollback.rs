//! The rollback flow on both registries: stage and alias mode, the several-in-Production
//! anomaly, dry run, the no-terminal refusal, idempotent re-runs, candidate and designate.

use mlrb::registry::Stage;
use serde_json::Value;

use crate::common::{Backend, TestEnv, V, bad_release, unique, v};

crate::on_both_registries!(
    stage_mode_rollback,
    alias_mode_rollback,
    several_in_production_are_healed,
    dry_run_changes_nothing,
    refuses_without_terminal,
    declined_at_prompt_changes_nothing,
    rerun_is_idempotent,
    candidate_priority_and_designate,
    no_target_exits_4,
    status_reports_anomalies,
    deleted_versions_are_lost_targets,
);

fn deleted_versions_are_lost_targets(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("gaps");
    b.seed(
        &m,
        &[
            v(Stage::Archived),
            v(Stage::Archived),
            v(Stage::Archived).healthy(),
            v(Stage::Archived),
            v(Stage::Production),
        ],
        &[],
    );
    b.delete_version(&m, 3);
    b.delete_version(&m, 2);
    let s: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    let gaps = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "deleted_versions")
        .expect("gap anomaly");
    assert!(
        gaps["message"].as_str().unwrap().contains("v2, v3"),
        "{gaps}"
    );
    // The designated target was deleted: rollback falls back to the newest Archived version.
    assert_eq!(s["candidate"]["version"], 4);
}

fn stage_mode_rollback(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("stage");
    b.seed(&m, &bad_release(), &[]);
    let out = env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--reason",
        "prediction diversity collapsed",
        "--detected-at",
        &crate::common::just_now(),
    ]);
    out.code(0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
    assert_eq!(b.version(&m, 1).0, Stage::Archived);
    let (_, target) = b.version(&m, 2);
    let (_, from) = b.version(&m, 3);
    assert_eq!(target["rollback.role"], "rollback_target");
    assert_eq!(from["rollback.role"], "rolled_back_from");
    assert_eq!(target["rollback.event_id"], from["rollback.event_id"]);
    assert!(target["rollback.event_id"].starts_with("rollback-"));
    assert_eq!(target["rollback.reason"], "prediction diversity collapsed");
    assert_eq!(
        target["rollback.triggered_by"],
        format!("oncall@{}", mlrb::lease::hostname())
    );
    assert!(!target["rollback.timestamp"].is_empty());
    // The plan, the report and the MTTR phases are on stdout.
    assert!(out.stdout.contains("transition-stage"), "{}", out.stdout);
    assert!(out.stdout.contains("# Incident Report: Model Rollback"));
    for phase in ["detection", "triage", "execution", "verification"] {
        assert!(
            out.stdout.contains(&format!("| {phase} |")),
            "{phase} missing"
        );
    }
    assert!(!out.stdout.contains("not measured"), "detection was given");
    let journal = env.journal();
    assert!(journal.contains(&target["rollback.event_id"].to_string()));
    assert!(journal.contains("\"type\":\"verified\""));
}

fn alias_mode_rollback(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("alias");
    b.seed(
        &m,
        &[v(Stage::None), v(Stage::None).healthy(), v(Stage::None)],
        &[("champion", 3)],
    );
    let before_stage = b.version(&m, 3).0;
    env.run(&["rollback", "model", &m, "--alias", "champion", "--yes"])
        .code(0);
    assert_eq!(b.alias(&m, "champion"), Some(2));
    assert_eq!(
        b.version(&m, 3).0,
        before_stage,
        "alias mode leaves stages alone"
    );
    assert_eq!(b.version(&m, 3).1["rollback.role"], "rolled_back_from");
    // A config file can fix the mode per model, so the flag is not needed at 2 AM.
    let m2 = unique("alias-cfg");
    b.seed(
        &m2,
        &[v(Stage::None).healthy(), v(Stage::None)],
        &[("champion", 2)],
    );
    let cfg = env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys]\nregistered_name = \"{m2}\"\nmode = \"alias\"\nalias = \"champion\"\n"
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.run(&["rollback", "model", "recsys", "--yes"]).code(0);
    assert_eq!(b.alias(&m2, "champion"), Some(1));
}

fn several_in_production_are_healed(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("several");
    b.seed(
        &m,
        &[
            v(Stage::Production),
            v(Stage::Archived).healthy(),
            v(Stage::Production),
            v(Stage::Production),
        ],
        &[],
    );
    let status: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    let kinds: Vec<&str> = status["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"several_live"), "{kinds:?}");
    assert_eq!(status["live"].as_array().unwrap().len(), 3);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let stages: Vec<Stage> = (1..=4).map(|n| b.version(&m, n).0).collect();
    assert_eq!(
        stages,
        [
            Stage::Archived,
            Stage::Production,
            Stage::Archived,
            Stage::Archived
        ]
    );
    for n in [1, 3, 4] {
        assert_eq!(b.version(&m, n).1["rollback.role"], "rolled_back_from");
    }
}

fn dry_run_changes_nothing(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("dry");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m, "--dry-run"]);
    out.code(0);
    assert!(
        out.stdout
            .contains(&format!("{m} v2: Archived → Production")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("{m} v3: Production → Archived"))
    );
    assert!(out.stderr.contains("nothing was changed"));
    assert_eq!(
        b.snapshot(&m),
        before,
        "dry run must leave the registry byte-for-byte unchanged"
    );
    assert_eq!(env.journal(), "", "dry run writes no journal event");
    let json: Value = serde_json::from_str(
        &env.run(&["rollback", "model", &m, "--dry-run", "-o", "json"])
            .code(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(json["outcome"], "dry_run");
    assert_eq!(json["to"], 2);
    assert_eq!(b.snapshot(&m), before);
}

fn refuses_without_terminal(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("notty");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m]);
    let line = out.one_clear_error(3);
    assert!(line.contains("without confirmation"), "{line}");
    assert!(out.stderr.contains("--yes"));
    assert_eq!(b.snapshot(&m), before);
}

fn declined_at_prompt_changes_nothing(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("decline");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    env.set("MLRB_INTERACTIVE", "1");
    let out = env
        .mlrb()
        .args(["rollback", "model", &m])
        .write_stdin("n\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(b.snapshot(&m), before);
    let out = env
        .mlrb()
        .args(["rollback", "model", &m])
        .write_stdin("y\n")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert!(env.journal().contains("confirmed at the prompt"));
}

fn rerun_is_idempotent(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("rerun");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let after_first = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(out.stderr.contains("already rolled back"), "{}", out.stderr);
    let out = env.run(&["rollback", "model", &m, "--yes", "--to", "2"]);
    out.code(0);
    assert_eq!(b.snapshot(&m), after_first, "a re-run changes nothing");
}

fn candidate_priority_and_designate(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("cand");
    b.seed(
        &m,
        &[
            v(Stage::Archived),
            v(Stage::Archived).healthy(),
            v(Stage::Archived)
                .healthy()
                .tag("rollback.role", "rolled_back_from"),
            v(Stage::Archived),
            v(Stage::Production).healthy(),
        ],
        &[],
    );
    let out = env.run(&["candidate", &m, "-o", "json"]);
    let c: Value = serde_json::from_str(&out.code(0).stdout).unwrap();
    assert_eq!(
        c["version"], 2,
        "newest usable healthy baseline: v5 is live, v3 was rolled back from"
    );
    assert_eq!(c["rule"], "healthy_baseline");
    assert_eq!(c["skipped"].as_array().unwrap().len(), 2);
    let c: Value = serde_json::from_str(
        &env.run(&["candidate", &m, "--to", "v4", "-o", "json"])
            .code(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(
        (c["version"].as_u64(), c["rule"].as_str()),
        (Some(4), Some("explicit"))
    );
    // --to a live or rolled-back-from version is refused with the reason.
    assert!(
        env.run(&["candidate", &m, "--to", "5"])
            .one_clear_error(4)
            .contains("v5 is live")
    );
    assert!(
        env.run(&["candidate", &m, "--to", "3"])
            .one_clear_error(4)
            .contains("rolled back from")
    );
    // Designate v4: it becomes the newest usable baseline.
    env.run(&["candidate", &m, "--designate", "4"]).code(0);
    assert_eq!(b.version(&m, 4).1["rollback.healthy_baseline"], "true");
    let c: Value =
        serde_json::from_str(&env.run(&["candidate", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(c["version"], 4);
    assert!(env.journal().contains("\"type\":\"designated\""));
    let before = b.snapshot(&m);
    assert!(
        env.run(&["candidate", &m, "--designate", "3"])
            .one_clear_error(2)
            .contains("rolled back from")
    );
    assert!(
        env.run(&["candidate", &m, "--designate", "8"])
            .one_clear_error(2)
            .contains("version 8")
    );
    assert_eq!(b.snapshot(&m), before);
    // Without any baseline the newest Archived version is chosen.
    let m2 = unique("cand-arch");
    b.seed(
        &m2,
        &[
            v(Stage::Archived),
            v(Stage::Archived),
            v(Stage::Staging),
            v(Stage::Production),
        ],
        &[],
    );
    let c: Value =
        serde_json::from_str(&env.run(&["candidate", &m2, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(
        (c["version"].as_u64(), c["rule"].as_str()),
        (Some(2), Some("newest_archived"))
    );
}

fn no_target_exits_4(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("notarget");
    b.seed(
        &m,
        &[
            V {
                stage: Stage::Archived,
                tags: vec![("rollback.role", "rolled_back_from")],
                source: None,
            },
            v(Stage::Production),
        ],
        &[],
    );
    let before = b.snapshot(&m);
    let line = env.run(&["candidate", &m]).one_clear_error(4);
    assert!(line.contains("no rollback target"), "{line}");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.one_clear_error(4);
    assert!(
        out.stderr.contains("fallback"),
        "the reference document's advice: {}",
        out.stderr
    );
    assert_eq!(b.snapshot(&m), before);
}

fn status_reports_anomalies(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("anomalies");
    b.seed(
        &m,
        &[
            v(Stage::Archived).source("s3://models/shared"),
            v(Stage::Archived).source("s3://models/shared"),
            v(Stage::Production)
                .healthy()
                .tag("rollback.role", "rolled_back_from"),
        ],
        &[],
    );
    let s: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    let kinds: Vec<&str> = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    for k in [
        "no_designated_target",
        "target_is_live",
        "live_was_rolled_back_from",
        "shared_source",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(s["live"][0]["version"], 3);
    assert_eq!(s["candidate"]["version"], 2);
    let table = env.run(&["status", &m]).code(0).stdout.clone();
    assert!(
        table.contains("live") && table.contains("rollback target") && table.contains("anomalies"),
        "{table}"
    );
}

#[test]
fn a_second_rollback_of_the_same_model_is_refused_with_the_holder() {
    let mut env = TestEnv::new();
    let b = crate::common::FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    let before = b.snapshot("recsys");
    let key = format!("file registry {}|recsys", b.path.display());
    let held = mlrb::lock::acquire(&env.state_dir(), &key, "recsys", "alice").unwrap();
    assert!(held.is_some());
    let out = env.run(&["rollback", "model", "recsys", "--yes"]);
    let line = out.one_clear_error(3);
    assert!(
        line.contains("already running") && line.contains("alice"),
        "{line}"
    );
    assert_eq!(b.snapshot("recsys"), before);
    drop(held);
    env.run(&["rollback", "model", "recsys", "--yes"]).code(0);
}

crate::on_both_registries!(
    lease_of_another_machine_is_respected,
    stale_plan_is_refused_after_the_prompt,
    a_forged_lease_stops_nothing_after_its_cap,
    a_finished_rollback_leaves_no_lease_tag,
    two_machines_racing_exactly_one_rolls_back,
);

/// Any registry writer can add a lease claiming to last until 9999: it counts for at most
/// 30 minutes after its `since`, and then stops nothing.
fn a_forged_lease_stops_nothing_after_its_cap(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("forged");
    b.seed(&m, &bad_release(), &[]);
    let forged = serde_json::json!({
        "holder": "mallory", "host": "nowhere", "pid": 1,
        "since": chrono::Utc::now() - chrono::Duration::minutes(31), "expires": "9999-01-01T00:00:00Z"
    });
    b.set_model_tag(&m, "rollback.lease.rollback-forged", &forged.to_string());
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

/// A released lease removes its own tag: attempts, refused ones included, leave none behind.
fn a_finished_rollback_leaves_no_lease_tag(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("no-lease-left");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let snap = b.snapshot(&m);
    assert!(
        !snap.contains("rollback.lease."),
        "a lease tag was left behind:\n{snap}"
    );
}

/// Two machines (their own state directories) roll back one model at the same instant, many
/// times: exactly one rolls back each time; the other backs off naming it, or finds the work
/// done. Never both, never neither.
fn two_machines_racing_exactly_one_rolls_back(env: &mut TestEnv, b: &dyn Backend) {
    let races: usize = std::env::var("MLRB_TEST_RACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    for race in 0..races {
        let m = unique("race");
        b.seed(&m, &bad_release(), &[]);
        let mut children = Vec::new();
        for who in ["alice", "bob"] {
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"));
            c.env_clear()
                .envs(&env.vars)
                .env("MLRB_STATE_DIR", env.path().join(format!("state-{who}")))
                .args([
                    "rollback",
                    "model",
                    &m,
                    "--yes",
                    "--triggered-by",
                    who,
                    "-o",
                    "json",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            children.push(c.spawn().unwrap());
        }
        let outs: Vec<std::process::Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap_or(-1)).collect();
        let rolled: Vec<bool> = outs
            .iter()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("\"outcome\": \"rolled_back\""))
            .collect();
        let why = || {
            outs.iter()
                .map(|o| {
                    format!(
                        "{:?}: {}",
                        o.status.code(),
                        String::from_utf8_lossy(&o.stderr)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n---\n")
        };
        assert_eq!(
            rolled.iter().filter(|r| **r).count(),
            1,
            "race {race}: exactly one rolls back (codes {codes:?}):\n{}",
            why()
        );
        assert!(
            codes.iter().all(|c| *c == 0 || *c == 3),
            "race {race}: the other backs off (3) or finds it done (0): {codes:?}\n{}",
            why()
        );
        assert_eq!(b.version(&m, 2).0, Stage::Production, "race {race}");
        assert_eq!(b.version(&m, 3).0, Stage::Archived, "race {race}");
        let (_, t2) = b.version(&m, 2);
        let (_, t3) = b.version(&m, 3);
        assert_eq!(
            t2["rollback.event_id"], t3["rollback.event_id"],
            "race {race}: one event's audit on both versions"
        );
    }
}

fn lease_of_another_machine_is_respected(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("lease");
    b.seed(&m, &bad_release(), &[]);
    let now = chrono::Utc::now();
    let other = serde_json::json!({
        "holder": "bob", "host": "laptop-of-bob", "pid": 4242,
        "since": now - chrono::Duration::minutes(2), "expires": now + chrono::Duration::minutes(28)
    });
    b.set_model_tag(&m, "rollback.lease.rollback-elsewhere", &other.to_string());
    let before = b.snapshot(&m);
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(3);
    assert!(
        line.contains("bob") && line.contains("laptop-of-bob"),
        "{line}"
    );
    assert_eq!(b.version(&m, 3).0, Stage::Production, "nothing rolled back");
    assert_eq!(
        b.snapshot(&m),
        before,
        "our own lease was withdrawn: its tag is gone, nothing else changed"
    );
    let out = env.run(&["rollback", "model", &m, "--yes", "--force-unlock"]);
    out.code(0);
    assert!(
        out.stderr.contains("taking over from bob"),
        "{}",
        out.stderr
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

fn stale_plan_is_refused_after_the_prompt(env: &mut TestEnv, b: &dyn Backend) {
    use std::io::{BufRead, BufReader, Read, Write};
    let m = unique("stale");
    b.seed(
        &m,
        &[
            v(Stage::Archived),
            v(Stage::Archived).healthy(),
            v(Stage::Production),
        ],
        &[],
    );
    env.set("MLRB_INTERACTIVE", "1");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
        .args(["rollback", "model", &m, "--to", "1"])
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("[y/N]") {
        let mut byte = [0u8; 1];
        assert_eq!(
            err.read(&mut byte).unwrap(),
            1,
            "no prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(byte[0]);
    }
    // Meanwhile a colleague rolled back to v2.
    let mut other = TestEnv::new();
    other.vars = env.vars.clone();
    other.vars.remove("MLRB_INTERACTIVE");
    other.set(
        "MLRB_STATE_DIR",
        other.path().join("state").display().to_string(),
    );
    other
        .run(&["rollback", "model", &m, "--yes", "--to", "2"])
        .code(0);
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let mut rest = String::new();
    for line in err.lines() {
        rest.push_str(&line.unwrap());
        rest.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{rest}");
    assert!(rest.contains("changed since the plan"), "{rest}");
    assert_eq!(
        b.version(&m, 2).0,
        Stage::Production,
        "the colleague's rollback stands"
    );
    assert_eq!(
        b.version(&m, 1).0,
        Stage::Archived,
        "the stale plan did not run"
    );
}

/// No safe target: the hint names the pre-built fallback, and `--fallback` makes it live with
/// the usual plan, journal and report, even though it was rolled back from once.
#[test]
fn no_target_points_at_the_fallback_and_fallback_activates_it() {
    let mut env = TestEnv::new();
    let b = crate::common::FileBackend::new(&env);
    b.configure(&mut env);
    b.seed(
        "recsys",
        &[
            v(Stage::Archived).tag("rollback.role", "rolled_back_from"),
            v(Stage::Archived).tag("rollback.role", "rolled_back_from"),
            v(Stage::Production),
        ],
        &[],
    );
    let cfg = env.write(
        "mlrb.toml",
        "[models.recsys.fallback]\nversion = 1\ndescription = \"most-popular heuristic\"\n",
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let out = env.run(&["rollback", "model", "recsys", "--yes"]);
    out.one_clear_error(4);
    assert!(
        out.stderr.contains("mlrb rollback model recsys --fallback"),
        "{}",
        out.stderr
    );
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
    assert_eq!(b.version("recsys", 1).0, Stage::Production);
    assert_eq!(b.version("recsys", 3).0, Stage::Archived);
    assert!(
        out.stdout
            .contains("pre-built fallback, most-popular heuristic"),
        "{}",
        out.stdout
    );
    // Without a configured fallback, --fallback says how to configure one.
    let other = TestEnv::new();
    let line = other
        .run(&[
            "--registry",
            b.path.to_str().unwrap(),
            "rollback",
            "model",
            "recsys",
            "--fallback",
            "--yes",
        ])
        .one_clear_error(2);
    assert!(line.contains("no fallback is configured"), "{line}");
}
