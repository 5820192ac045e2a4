//! Crash-safe rollbacks: killed at every point of a full rollback, `status` explains what was
//! done, a plain re-run refuses to plan over it, and `--resume` finishes the same event.

use mlrb::registry::Stage;
use serde_json::Value;

use crate::common::{Backend, TestEnv, bad_release, unique};

crate::on_both_registries!(killed_at_every_step_then_resumed);

fn killed_at_every_step_then_resumed(env: &mut TestEnv, b: &dyn Backend) {
    // bad_release plans 5 steps: v2 → Production, v3 → Archived, tags v2, tags v3, verify.
    for point in (1..=5).flat_map(|n| [format!("started:{n}"), format!("finished:{n}")]) {
        let m = unique("crash");
        b.seed(&m, &bad_release(), &[]);
        let out = env
            .mlrb()
            .args(["rollback", "model", &m, "--yes", "--reason", "crash drill"])
            .env("MLRB_TEST_CRASH_AT", &point)
            .output()
            .unwrap();
        assert!(
            out.status.code().is_none(),
            "{point}: the process was killed"
        );
        // Every intermediate state serves a good model: the target went live first.
        let (v2, _) = b.version(&m, 2);
        if point != "started:1" {
            assert_eq!(
                v2,
                Stage::Production,
                "{point}: target live from the first step on"
            );
        }
        let s: Value =
            serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
        let interrupted = s["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "interrupted_rollback")
            .unwrap_or_else(|| panic!("{point}: status shows the interrupted rollback: {s}"));
        assert!(
            interrupted["message"]
                .as_str()
                .unwrap()
                .contains("--resume")
        );
        let line = env
            .run(&["rollback", "model", &m, "--yes"])
            .one_clear_error(2);
        assert!(line.contains("interrupted"), "{point}: {line}");
        let out = env.run(&["rollback", "model", &m, "--resume", "--yes"]);
        out.code(0);
        assert_eq!(b.version(&m, 2).0, Stage::Production, "{point}");
        assert_eq!(b.version(&m, 3).0, Stage::Archived, "{point}");
        assert_eq!(
            b.version(&m, 1).0,
            Stage::Archived,
            "{point}: no further rollback"
        );
        let (_, t2) = b.version(&m, 2);
        let (_, t3) = b.version(&m, 3);
        assert_eq!(t2["rollback.role"], "rollback_target", "{point}");
        assert_eq!(t3["rollback.role"], "rolled_back_from", "{point}");
        assert_eq!(
            t2["rollback.event_id"], t3["rollback.event_id"],
            "{point}: one event"
        );
        assert!(
            out.stdout.contains(t2["rollback.event_id"].as_str()),
            "{point}: the report is of the same event"
        );
        // Finished: nothing left to resume, and a re-run is the idempotent no-op.
        assert!(
            env.run(&["rollback", "model", &m, "--resume", "--yes"])
                .one_clear_error(2)
                .contains("no interrupted")
        );
        env.run(&["rollback", "model", &m, "--yes"]).code(0);
    }
    assert!(env.journal().contains("\"type\":\"resumed\""));
}
