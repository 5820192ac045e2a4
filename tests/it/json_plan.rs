//! `-o json` plans: every step is an object of one shape (kind, target, before, after,
//! command, line) and the change as a whole is typed, the same for every kind. The schema is
//! pinned by snapshots (ids, paths, ports and times filtered).

use serde_json::Value;

use crate::common::{Backend, FileBackend, TestEnv, bad_release, v};
use mlrb::registry::Stage;

fn snapshot_settings(env: &TestEnv, b: &FileBackend) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&b.path.display().to_string()), "[REGISTRY]");
    settings.add_filter(&regex_escape(&env.path().display().to_string()), "[DIR]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "[HOST]");
    settings.add_filter(r"rollback-\d{8}T\d{6}Z-[0-9a-f]{4}", "[EVENT]");
    settings
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn shape(step: &Value) {
    let keys: Vec<&str> = step
        .as_object()
        .unwrap_or_else(|| panic!("a step is an object, not prose: {step}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["after", "before", "command", "kind", "line", "target"],
        "{step}"
    );
}

/// A stage-mode model rollback with an HTTP serving reload, as `--dry-run -o json` and as the
/// outcome of the rollback itself: the same step objects.
#[test]
fn a_model_rollback_plan_is_objects_in_dry_run_and_outcome() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = "jsonplan";
    b.seed(m, &bad_release(), &[]);
    let dry = env.run(&["rollback", "model", m, "--dry-run", "-o", "json"]);
    dry.code(0);
    let v: Value = serde_json::from_str(&dry.stdout).unwrap();
    for step in v["plan"].as_array().unwrap() {
        shape(step);
    }
    assert_eq!(v["plan"][0]["kind"], "registry.transition_stage");
    assert_eq!(v["plan"][0]["target"], "jsonplan v2");
    assert_eq!(v["plan"][0]["before"], "Archived");
    assert_eq!(v["plan"][0]["after"], "Production");
    assert_eq!(v["change"]["command"]["kind"], "rollback_model");
    assert_eq!(v["change"]["target"]["kind"], "model");
    assert_eq!(v["change"]["before"], serde_json::json!([3]));
    assert_eq!(v["change"]["after"], 2);
    snapshot_settings(&env, &b).bind(|| {
        insta::assert_snapshot!(
            "model_dry_run_plan",
            serde_json::to_string_pretty(
                &serde_json::json!({"change": v["change"], "plan": v["plan"]})
            )
            .unwrap()
        )
    });
    let done = env.run(&["rollback", "model", m, "--yes", "-o", "json"]);
    done.code(0);
    let o: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(o["plan"], v["plan"], "the outcome shows the plan it ran");
    assert_eq!(o["change"], v["change"]);
}

/// Alias mode: the alias move has the alias as its target, the version before and after.
#[test]
fn an_alias_move_has_before_and_after() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = "jsonalias";
    b.seed(
        m,
        &[v(Stage::None), v(Stage::None).healthy(), v(Stage::None)],
        &[("champion", 3)],
    );
    let out = env.run(&["rollback", "model", m, "--dry-run", "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    for step in v["plan"].as_array().unwrap() {
        shape(step);
    }
    let alias = v["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "registry.set_alias")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(alias["target"], "jsonalias @champion");
    assert_eq!(alias["before"], "v3");
    assert_eq!(alias["after"], "v2");
    snapshot_settings(&env, &b).bind(|| {
        insta::assert_snapshot!(
            "model_alias_dry_run_plan",
            serde_json::to_string_pretty(
                &serde_json::json!({"change": v["change"], "plan": v["plan"]})
            )
            .unwrap()
        )
    });
}
