//! Journals written by earlier releases load, render and resume: the `started` record gained a
//! typed command and a tagged target, and a record without them is read from its words.

use mlrb::registry::Stage;
use serde_json::Value;

use crate::common::{Backend, FileBackend, TestEnv, repo_root, v};

/// A rollback of `compatmodel` interrupted after its two stage transitions, exactly as mlrb
/// 0.1.0 (25c6f94) journaled it (killed at `finished:2`); `@REGISTRY@` is the registry file.
const FIXTURE: &str = "tests/fixtures/journal-0.1.0-25c6f94-interrupted-model-rollback.jsonl";
const EVENT: &str = "rollback-20261129T215908Z-6d76";

#[test]
fn an_interrupted_rollback_journaled_by_the_previous_release_is_shown_and_resumed() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = "compatmodel";
    // The registry as the interrupted rollback left it: v2 made live, v3 archived, no tags yet.
    b.seed(
        m,
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::Archived),
        ],
        &[],
    );
    let text = std::fs::read_to_string(repo_root().join(FIXTURE)).unwrap();
    assert!(
        !text.contains("\"action\"") && !text.contains("\"target\""),
        "the fixture is in the previous release's format"
    );
    std::fs::create_dir_all(env.state_dir()).unwrap();
    std::fs::write(
        env.state_dir().join("journal.jsonl"),
        text.replace("@REGISTRY@", &b.path.display().to_string()),
    )
    .unwrap();

    let s: Value =
        serde_json::from_str(&env.run(&["status", m, "-o", "json"]).code(0).stdout).unwrap();
    let interrupted = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "interrupted_rollback")
        .unwrap_or_else(|| panic!("status shows the interrupted rollback: {s}"));
    let message = interrupted["message"].as_str().unwrap();
    assert!(
        message.contains(EVENT) && message.contains("2 of 5 steps done"),
        "{message}"
    );
    let line = env
        .run(&["rollback", "model", m, "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains(EVENT) && line.contains("interrupted"),
        "{line}"
    );

    let out = env.run(&["rollback", "model", m, "--resume", "--yes"]);
    out.code(0);
    assert!(
        out.stderr.contains("[1/5] registry  transition-stage")
            && out.stderr.contains("already done, not run again"),
        "{}",
        out.stderr
    );
    let (_, t2) = b.version(m, 2);
    let (_, t3) = b.version(m, 3);
    assert_eq!(t2["rollback.event_id"], EVENT);
    assert_eq!(t3["rollback.event_id"], EVENT);
    assert_eq!(t2["rollback.triggered_by"], "oncall@example.com");
    assert_eq!(t2["rollback.reason"], "diversity collapsed");
    assert_eq!(b.version(m, 2).0, Stage::Production);
    assert_eq!(b.version(m, 3).0, Stage::Archived);
    assert!(
        out.stdout.contains(EVENT),
        "the report is of the same event"
    );

    // The old record still reads as it did, and renders: the report of the event.
    let report = env.run(&["report", EVENT]);
    report.code(0);
    assert!(
        report.stdout.contains("diversity collapsed") && report.stdout.contains("v3"),
        "{}",
        report.stdout
    );
    // The journal is appended to, never rewritten: the old record is as it was.
    let journal = env.journal();
    let first: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert!(first.get("action").is_none(), "{first}");
    assert_eq!(first["command"], "rollback model");
}

/// A `started` record written now carries the typed command and the tagged target beside the
/// words older releases read; a kind with no versions writes no `to: 0`.
#[test]
fn started_records_carry_a_typed_command_and_a_tagged_target() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = "typedmodel";
    b.seed(m, &crate::common::bad_release(), &[]);
    env.run(&["rollback", "model", m, "--yes"]).code(0);
    let journal = env.journal();
    let started: Value = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "started")
        .unwrap();
    assert_eq!(
        started["action"],
        serde_json::json!({"kind": "rollback_model"})
    );
    assert_eq!(
        started["target"],
        serde_json::json!({"kind": "model", "name": m, "registry": format!("file registry {}", b.path.display())}),
        "{started}"
    );
    assert_eq!(started["command"], "rollback model");
    assert_eq!(started["to"], 2);
}
