//! Two engineers, two machines, one model: an unfinished rollback is visible in the registry,
//! any machine finishes that rollback (same event, same target), a stale plan is refused, and
//! no machine's audit is lost. "Machines" are processes with their own state directories.

use mlrb::registry::Stage;
use serde_json::Value;

use crate::common::{Backend, TestEnv, bad_release, unique, v};

crate::on_both_registries!(
    killed_on_a_then_finished_on_b,
    killed_before_the_journal_is_finished_on_b,
    a_stale_plan_is_not_resumed,
    every_events_audit_stays_on_the_version,
    a_holder_is_taken_over_only_when_provably_gone,
    force_unlock_takes_over_the_rollback_in_flight,
);

/// The model's lease tags (key → JSON text), from either backend's snapshot.
fn lease_tags(b: &dyn Backend, m: &str) -> Vec<(String, String)> {
    let snap: Value = serde_json::from_str(&b.snapshot(m)).unwrap();
    let mut out = Vec::new();
    if let Some(tags) = snap["models"][m]["tags"].as_object() {
        for (k, v) in tags {
            out.push((k.clone(), v.as_str().unwrap_or("").to_string()));
        }
    }
    if let Some(tags) = snap["model"]["registered_model"]["tags"].as_array() {
        for t in tags {
            out.push((
                t["key"].as_str().unwrap().to_string(),
                t["value"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out.retain(|(k, _)| k.starts_with("rollback.lease."));
    out
}

/// A rollback in flight on another machine (its holder cannot be proven gone): a plain run
/// backs off naming it; --force-unlock alone is refused, since planning afresh would go one
/// version too far; --resume --force-unlock finishes that rollback, to its target.
fn force_unlock_takes_over_the_rollback_in_flight(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("in-flight");
    b.seed(&m, &bad_release(), &[]);
    let a = on(
        env,
        "a",
        &["rollback", "model", &m, "--yes"],
        Some("finished:1"),
    );
    assert!(a.status.code().is_none(), "{}", text(&a));
    // A's lease, as if A ran on another machine and might still be alive.
    let (key, tag) = lease_tags(b, &m).pop().expect("A's lease");
    let mut tag: Value = serde_json::from_str(&tag).unwrap();
    tag["machine"] = "another-machine/pid:[1]".into();
    tag["host"] = "laptop-of-a".into();
    b.set_model_tag(&m, &key, &tag.to_string());
    let plain = on(env, "b", &["rollback", "model", &m, "--yes"], None);
    assert_eq!(plain.status.code(), Some(3), "{}", text(&plain));
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("--resume --force-unlock"),
        "{}",
        text(&plain)
    );
    let force = on(
        env,
        "b",
        &["rollback", "model", &m, "--yes", "--force-unlock"],
        None,
    );
    assert_eq!(force.status.code(), Some(3), "{}", text(&force));
    assert_eq!(
        b.version(&m, 1).0,
        Stage::Archived,
        "not one version too far"
    );
    let take = on(
        env,
        "b",
        &[
            "rollback",
            "model",
            &m,
            "--resume",
            "--force-unlock",
            "--yes",
        ],
        None,
    );
    assert_eq!(take.status.code(), Some(0), "{}", text(&take));
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
    assert_eq!(b.version(&m, 1).0, Stage::Archived);
    assert!(lease_tags(b, &m).is_empty(), "no lease left");
}

/// A lease whose holder runs in another PID namespace (a container with the same hostname) is
/// alive for all this machine can tell: respected. One whose holder ran in this machine and
/// namespace, with no such process now, is taken over. The identity is injected in the tag.
fn a_holder_is_taken_over_only_when_provably_gone(env: &mut TestEnv, b: &dyn Backend) {
    let id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    assert!(!id.trim().is_empty(), "this test needs /etc/machine-id");
    let here = format!("{}/{}", id.trim(), ns.display());
    let now = chrono::Utc::now();
    let lease = |machine: &str| {
        serde_json::json!({
            "holder": "carol", "host": "same-hostname", "pid": 999_999, "start": 1,
            "machine": machine, "number": 1,
            "since": now - chrono::Duration::minutes(1), "expires": now + chrono::Duration::minutes(29)
        })
        .to_string()
    };
    let m = unique("other-ns");
    b.seed(&m, &bad_release(), &[]);
    b.set_model_tag(
        &m,
        "rollback.lease.rollback-container",
        &lease(&format!("{}/pid:[1]", id.trim())),
    );
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    assert!(out.one_clear_error(3).contains("carol"), "{}", out.stderr);
    assert_eq!(b.version(&m, 3).0, Stage::Production);
    let m = unique("gone-here");
    b.seed(&m, &bad_release(), &[]);
    b.set_model_tag(&m, "rollback.lease.rollback-gone", &lease(&here));
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(out.stderr.contains("taking over"), "{}", out.stderr);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert!(
        !b.snapshot(&m).contains("rollback-gone"),
        "the dead lease's tag is removed"
    );
}

/// A version rolled back to twice (two events) keeps both events' records: the reference's
/// tags describe the latest, `rollback.history` every one.
fn every_events_audit_stays_on_the_version(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("history");
    let mut versions = bad_release();
    versions.push(v(Stage::None));
    b.seed(&m, &versions, &[]);
    env.run(&["rollback", "model", &m, "--yes", "--triggered-by", "alice"])
        .code(0);
    let first = b.version(&m, 2).1["rollback.event_id"].clone();
    // A new release goes live and misbehaves too: back to v2 again, by someone else.
    b.transition(&m, 4, Stage::Production);
    b.transition(&m, 2, Stage::Archived);
    env.run(&[
        "rollback",
        "model",
        &m,
        "--to",
        "2",
        "--yes",
        "--triggered-by",
        "bob",
    ])
    .code(0);
    let (_, t2) = b.version(&m, 2);
    assert_ne!(
        t2["rollback.event_id"], first,
        "the tags describe the latest event"
    );
    let history: Vec<Value> = serde_json::from_str(&t2["rollback.history"]).unwrap();
    let events: Vec<&str> = history
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [first.as_str(), t2["rollback.event_id"].as_str()],
        "{history:?}"
    );
    assert_eq!(history[0]["triggered_by"], "alice");
    assert_eq!(history[1]["triggered_by"], "bob");
}

/// Runs mlrb as machine `who` (its own state directory).
fn on(env: &TestEnv, who: &str, args: &[&str], crash: Option<&str>) -> std::process::Output {
    let mut c = env.mlrb();
    c.env("MLRB_STATE_DIR", env.path().join(format!("state-{who}")))
        .args(args);
    if let Some(at) = crash {
        c.env("MLRB_TEST_CRASH_AT", at);
    }
    c.output().unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "code {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Killed on A at every step boundary; B refuses a fresh plan, finishes A's rollback (the
/// same event), and A's own --resume afterwards changes nothing and erases nothing.
fn killed_on_a_then_finished_on_b(env: &mut TestEnv, b: &dyn Backend) {
    // Every step boundary of the 5-step plan (4 registry writes, the verify re-read).
    let points: Vec<String> = (1..=5)
        .flat_map(|n| [format!("started:{n}"), format!("finished:{n}")])
        .collect();
    for point in points.iter().map(String::as_str) {
        let m = unique("a-then-b");
        b.seed(&m, &bad_release(), &[]);
        let a = on(env, "a", &["rollback", "model", &m, "--yes"], Some(point));
        assert!(
            a.status.code().is_none(),
            "{point}: A was killed\n{}",
            text(&a)
        );
        // B's status shows the unfinished rollback from the registry.
        let s = on(env, "b", &["status", &m, "-o", "json"], None);
        let st: Value = serde_json::from_slice(&s.stdout).unwrap();
        assert!(
            st["anomalies"].to_string().contains("interrupted_rollback"),
            "{point}: {st}"
        );
        // A fresh plan on B is refused: it would go one version further back.
        let fresh = on(env, "b", &["rollback", "model", &m, "--yes"], None);
        assert_eq!(fresh.status.code(), Some(2), "{point}: {}", text(&fresh));
        assert!(
            String::from_utf8_lossy(&fresh.stderr).contains("--resume"),
            "{point}: {}",
            text(&fresh)
        );
        let done = on(
            env,
            "b",
            &["rollback", "model", &m, "--resume", "--yes"],
            None,
        );
        assert_eq!(done.status.code(), Some(0), "{point}: {}", text(&done));
        assert_eq!(b.version(&m, 2).0, Stage::Production, "{point}");
        assert_eq!(b.version(&m, 3).0, Stage::Archived, "{point}");
        assert_eq!(
            b.version(&m, 1).0,
            Stage::Archived,
            "{point}: not one further back"
        );
        let (_, t2) = b.version(&m, 2);
        let (_, t3) = b.version(&m, 3);
        assert_eq!(t2["rollback.event_id"], t3["rollback.event_id"], "{point}");
        // A comes back and resumes its own journal's event: nothing left to do.
        let again = on(
            env,
            "a",
            &["rollback", "model", &m, "--resume", "--yes"],
            None,
        );
        assert_eq!(again.status.code(), Some(0), "{point}: {}", text(&again));
        assert_eq!(b.version(&m, 2).1, t2, "{point}: B's audit is intact");
        assert_eq!(b.version(&m, 1).0, Stage::Archived, "{point}");
        assert!(
            !b.snapshot(&m).contains("rollback.lease."),
            "{point}: no lease left"
        );
    }
}

/// Killed after the lease was written and before the journal's first record: every machine
/// sees it, and B finishes it from the registry's record alone.
fn killed_before_the_journal_is_finished_on_b(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("before-journal");
    b.seed(&m, &bad_release(), &[]);
    let a = on(
        env,
        "a",
        &["rollback", "model", &m, "--yes"],
        Some("claimed:0"),
    );
    assert!(a.status.code().is_none(), "{}", text(&a));
    assert_eq!(b.version(&m, 3).0, Stage::Production, "nothing changed yet");
    let s = on(env, "b", &["status", &m], None);
    assert!(
        String::from_utf8_lossy(&s.stdout).contains("did not finish"),
        "{}",
        text(&s)
    );
    let done = on(
        env,
        "b",
        &["rollback", "model", &m, "--resume", "--yes", "-o", "json"],
        None,
    );
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let out: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(out["outcome"], "rolled_back", "{out}");
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
}

/// A crash, then a new deploy: resuming the old plan would leave two live versions.
fn a_stale_plan_is_not_resumed(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("stale-resume");
    let mut versions = bad_release();
    versions.push(v(Stage::Staging));
    b.seed(&m, &versions, &[]);
    let a = on(
        env,
        "a",
        &["rollback", "model", &m, "--yes"],
        Some("finished:1"),
    );
    assert!(a.status.code().is_none(), "{}", text(&a));
    b.transition(&m, 4, Stage::Production);
    let again = on(
        env,
        "a",
        &["rollback", "model", &m, "--resume", "--yes"],
        None,
    );
    assert_eq!(again.status.code(), Some(3), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("v4"),
        "{}",
        text(&again)
    );
    // Nothing changed: the crash left v2 and v3 live, the deploy v4.
    for n in [2, 3, 4] {
        assert_eq!(b.version(&m, n).0, Stage::Production, "v{n}");
    }
    assert!(!b.version(&m, 3).1.contains_key("rollback.role"));
    // The way out: abandon the obsolete rollback on the record, then plan afresh.
    let journal = std::fs::read_to_string(env.path().join("state-a/journal.jsonl")).unwrap();
    let event = journal
        .lines()
        .find(|l| l.contains("\"type\":\"started\""))
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["event"].as_str().unwrap().to_string())
        .unwrap();
    let plain = on(
        env,
        "a",
        &["rollback", "model", &m, "--to", "1", "--yes"],
        None,
    );
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));
    let fresh = on(
        env,
        "a",
        &[
            "rollback",
            "model",
            &m,
            "--abandon",
            &event,
            "--to",
            "1",
            "--yes",
        ],
        None,
    );
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh));
    assert_eq!(b.version(&m, 1).0, Stage::Production);
    for n in [2, 3, 4] {
        assert_eq!(b.version(&m, n).0, Stage::Archived, "v{n}");
    }
    let journal = std::fs::read_to_string(env.path().join("state-a/journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"outcome\":\"abandoned\""),
        "the abandonment is on the record"
    );
}
