//! Faults at every request of a full rollback against the real MLflow server: a single fault is
//! retried (every call mlrb makes is idempotent) and the rollback completes; a registry that stays
//! down stops mlrb with a clear message and a state that `--resume` finishes once it is back.

use std::time::Duration;

use mlrb::registry::Stage;

use crate::common::fault::{Fault, FaultProxy, When};
use crate::common::mlflow::{MlflowBackend, Rest, seed_rest};
use crate::common::{Backend, TestEnv, bad_release, unique};

fn env_for(proxy: &FaultProxy) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", proxy.url.clone());
    let cfg = env.write(
        "mlrb.toml",
        "[registry]\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\n",
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env
}

fn assert_rolled_back(b: &MlflowBackend, m: &str, what: &str) {
    assert_eq!(b.version(m, 2).0, Stage::Production, "{what}");
    assert_eq!(b.version(m, 3).0, Stage::Archived, "{what}");
    assert_eq!(b.version(m, 1).0, Stage::Archived, "{what}");
    let (_, t2) = b.version(m, 2);
    let (_, t3) = b.version(m, 3);
    assert_eq!(t2["rollback.event_id"], t3["rollback.event_id"], "{what}");
    assert_eq!(t3["rollback.role"], "rolled_back_from", "{what}");
}

/// A version's audit tags go out at once: one of them failing fails its step with one clear
/// line although the others landed, the event id (written last) is not written, and `--resume`
/// writes that step again.
#[test]
fn one_audit_tag_failing_among_those_sent_at_once_is_written_again_by_resume() {
    let b = MlflowBackend::new();
    let proxy = FaultProxy::start(
        &b.uri,
        Fault::Error500,
        When::Body("\"rollback.reason\""),
        Duration::ZERO,
    );
    let m = unique("tag-at-once");
    seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
    let env = env_for(&proxy);
    let out = env.run(&["rollback", "model", &m, "--yes", "--reason", "tags at once"]);
    out.code(1);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(
        errors[0].contains("step 3/5 failed") && errors[0].contains("500"),
        "{}",
        out.stderr
    );
    // The step's other writes landed (they went out at once), its reason did not, and the
    // event id, written last, was not written: the step is not done.
    let (_, t2) = b.version(&m, 2);
    assert!(t2.contains_key("rollback.role"), "{t2:?}");
    assert!(t2.contains_key("rollback.history"), "{t2:?}");
    assert!(!t2.contains_key("rollback.reason"), "{t2:?}");
    assert!(!t2.contains_key("rollback.event_id"), "{t2:?}");

    proxy.heal();
    let out = env.run(&["rollback", "model", &m, "--resume", "--yes"]);
    out.code(0);
    assert!(
        !out.stderr
            .lines()
            .any(|l| l.contains("[3/5]") && l.contains("already done")),
        "the half-written step is run again: {}",
        out.stderr
    );
    let (_, t2) = b.version(&m, 2);
    assert_eq!(t2["rollback.reason"], "tags at once");
    assert!(
        t2["rollback.history"].contains(t2["rollback.event_id"].as_str()),
        "{t2:?}"
    );
    assert_rolled_back(&b, &m, "after the resume");
}

#[test]
fn refused_connections() {
    every_request_of_a_rollback_survives(Fault::Refuse);
}

#[test]
fn requests_delayed_past_the_timeout() {
    every_request_of_a_rollback_survives(Fault::Delay);
}

#[test]
fn server_errors() {
    every_request_of_a_rollback_survives(Fault::Error500);
}

#[test]
fn connections_cut_after_the_write() {
    every_request_of_a_rollback_survives(Fault::Cut);
}

fn every_request_of_a_rollback_survives(fault: Fault) {
    let b = MlflowBackend::new();
    // How many requests a healthy rollback makes.
    let probe = FaultProxy::start(&b.uri, Fault::Error500, When::Never, Duration::ZERO);
    let m = unique("faults-probe");
    seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
    env_for(&probe)
        .run(&["rollback", "model", &m, "--yes"])
        .code(0);
    let total = probe.requests();
    // 24 today: the versions and the model (an unfinished rollback recorded in the registry?),
    // read at once, the two MLmodel files of the feature-schema gate, the bakery lease (doorway write, read, numbered write, read), two
    // transitions, six tag writes ×2 (the reference's five and the history), the verify's read
    // of the versions the rollback changed (which the report reuses), the lease's removal.
    assert!(
        (10..=24).contains(&total),
        "a stage-mode rollback takes {total} requests"
    );

    let mut matrix = Vec::new();
    {
        for n in 1..=total {
            // Once: retried, completes.
            let proxy =
                FaultProxy::start(&b.uri, fault, When::Once(n), Duration::from_millis(1500));
            let m = unique("fault-once");
            seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
            let env = env_for(&proxy);
            let out = env.run(&["rollback", "model", &m, "--yes"]);
            let what = format!("{fault:?} once at request {n}");
            assert_eq!(out.code, 0, "{what}: {}", out.stderr);
            assert_rolled_back(&b, &m, &what);

            // From N on: stops clearly; healed, resume (or the idempotent re-run) finishes.
            let proxy =
                FaultProxy::start(&b.uri, fault, When::From(n), Duration::from_millis(1500));
            let m = unique("fault-from");
            seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
            let env = env_for(&proxy);
            let out = env.run(&["rollback", "model", &m, "--yes"]);
            let what = format!("{fault:?} from request {n}");
            if out.code == 0 {
                // Down only after the registry was changed and verified (the report's "what
                // changed" read, the lease release): the rollback is done, and says what failed.
                assert_rolled_back(&b, &m, &what);
                assert!(out.stderr.contains("warning:"), "{what}: {}", out.stderr);
                assert!(
                    n + 2 >= total,
                    "{what}: a fault before the verify cannot end in success"
                );
            } else {
                assert!(
                    matches!(out.code, 1 | 3 | 5),
                    "{what}: exit {} {}",
                    out.code,
                    out.stderr
                );
            }
            assert!(
                out.stderr
                    .lines()
                    .any(|l| l.starts_with("error:") || l.starts_with("warning:")),
                "{what}: {}",
                out.stderr
            );
            proxy.heal();
            let status = env.run(&["status", &m, "-o", "json"]);
            status.code(0);
            let resumable = status.stdout.contains("interrupted_rollback");
            let finish = if resumable {
                env.run(&["rollback", "model", &m, "--resume", "--yes"])
            } else {
                env.run(&["rollback", "model", &m, "--yes"])
            };
            assert_eq!(finish.code, 0, "{what}: {}", finish.stderr);
            assert_rolled_back(&b, &m, &what);
            matrix.push(format!(
                "{fault:?}@{n}: once→ok, down→exit {} → {}",
                out.code,
                if resumable { "resume" } else { "re-run" }
            ));
        }
    }
    eprintln!(
        "fault matrix, {fault:?} ({total} requests):\n{}",
        matrix.join("\n")
    );
}
