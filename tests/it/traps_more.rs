//! More 2 AM traps (issue 10): who did it, versions rolled back from before, times, Ctrl-C at
//! the prompt, `watch` logs, misleading errors and help — each against the real component.

use serde_json::Value;

use crate::common::mlflow::MlflowBackend;
use crate::common::{Backend, TestEnv, bad_release, unique};

/// The real binary as a plain process (for a uid of its own, a pty, a signal).
fn process(env: &TestEnv) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"));
    c.env_clear().envs(&env.vars).current_dir(env.path());
    c
}

fn mlflow_env() -> (TestEnv, MlflowBackend) {
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    (env, b)
}

/// The journal's `started` record of the only event.
fn started(env: &TestEnv) -> Value {
    env.journal()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "started")
        .unwrap_or_else(|| panic!("no started record:\n{}", env.journal()))
}

/// With `$USER` unset (a root shell, a container, CI) the audit, the journal and the report
/// name the account and the host, never "unknown"; `$LOGNAME` comes before the account.
#[test]
fn who_did_it_without_user_is_the_account_at_the_host() {
    let (mut env, b) = mlflow_env();
    env.vars.remove("USER");
    let host = mlrb::lease::hostname();
    let account = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = String::from_utf8(account.stdout)
        .unwrap()
        .trim()
        .to_string();
    let want = format!("{account}@{host}");
    let m = unique("who-account");
    b.seed(&m, &bad_release(), &[]);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert_eq!(b.version(&m, 2).1["rollback.triggered_by"], want);
    assert_eq!(started(&env)["triggered_by"], want.as_str());
    assert!(
        out.stdout.contains(&want),
        "the report names who:\n{}",
        out.stdout
    );
    assert!(!out.stdout.contains("unknown"), "{}", out.stdout);

    let (mut env, b) = mlflow_env();
    env.vars.remove("USER");
    env.set("LOGNAME", "night-owl");
    let m = unique("who-logname");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(
        b.version(&m, 2).1["rollback.triggered_by"],
        format!("night-owl@{host}")
    );
    // --triggered-by wins, as given.
    let (env, b) = mlflow_env();
    let m = unique("who-flag");
    b.seed(&m, &bad_release(), &[]);
    env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--triggered-by",
        "pagerduty",
    ])
    .code(0);
    assert_eq!(b.version(&m, 2).1["rollback.triggered_by"], "pagerduty");
}

/// A uid with no account (a container's `--user 4242`) and no variables: git's user.email.
#[test]
fn who_did_it_with_no_account_is_the_git_email() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let (mut env, b) = mlflow_env();
    env.vars.remove("USER");
    // The uid must be able to use its HOME and state dir.
    for d in [env.path().to_path_buf(), env.path().join("home")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    env.write("home/.gitconfig", "[user]\n\temail = alice@example.com\n");
    let m = unique("who-git");
    b.seed(&m, &bad_release(), &[]);
    let out = process(&env)
        .args(["rollback", "model", &m, "--yes"])
        .uid(4242)
        .gid(4242)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        b.version(&m, 2).1["rollback.triggered_by"],
        format!("alice@example.com on {}", mlrb::lease::hostname())
    );
}

/// v1 Archived, v2 Archived, v3 rolled back from by an earlier rollback, v4 live.
fn rolled_back_from_before(b: &dyn Backend, m: &str) {
    use crate::common::v;
    use mlrb::registry::Stage;
    b.seed(
        m,
        &[
            v(Stage::Archived),
            v(Stage::Archived),
            v(Stage::Archived)
                .tag("rollback.role", "rolled_back_from")
                .tag("rollback.event_id", "rollback-20261101T020500Z-beef")
                .tag("rollback.timestamp", "2026-11-01T02:05:00Z"),
            v(Stage::Production),
        ],
        &[],
    );
}

/// `--to 3` of a version rolled back from before is refused with a hint that does not repeat
/// the refused command; `--force` goes there, and the plan and the prompt name the old event.
#[test]
fn a_version_rolled_back_from_is_reached_with_force() {
    let (mut env, b) = mlflow_env();
    let m = unique("rbf-force");
    rolled_back_from_before(&b, &m);
    let before = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m, "--to", "3", "--yes"]);
    let line = out.one_clear_error(4);
    assert!(line.contains("rolled back from"), "{line}");
    let hint = out.stderr.lines().find(|l| l.starts_with("hint:")).unwrap();
    assert!(hint.contains("--to 3 --force"), "{hint}");
    assert!(
        !hint.contains("--to V"),
        "the hint repeats the refusal: {hint}"
    );
    assert_eq!(b.snapshot(&m), before);
    // The plan names the rollback that rolled back from v3.
    let dry = env.run(&["rollback", "model", &m, "--to", "3", "--force", "--dry-run"]);
    dry.code(0);
    assert!(
        dry.stdout.contains("rollback-20261101T020500Z-beef"),
        "{}",
        dry.stdout
    );
    // So does the confirmation (declined here).
    env.set("MLRB_INTERACTIVE", "1");
    let o = env
        .mlrb()
        .args(["rollback", "model", &m, "--to", "3", "--force"])
        .write_stdin("n\n")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let prompt = stderr.lines().find(|l| l.contains("[y/N]")).unwrap();
    assert!(
        prompt.contains("rollback-20261101T020500Z-beef"),
        "{prompt}"
    );
    assert_eq!(b.snapshot(&m), before);
    env.vars.remove("MLRB_INTERACTIVE");
    env.run(&["rollback", "model", &m, "--to", "3", "--force", "--yes"])
        .code(0);
    assert_eq!(b.version(&m, 3).0, mlrb::registry::Stage::Production);
    assert_eq!(b.version(&m, 4).0, mlrb::registry::Stage::Archived);
    // Without --to, --force is a usage error: it only ever applies to a named version.
    env.run(&["rollback", "model", &m, "--force", "--yes"])
        .code(2);
}

/// After a rollback, `candidate` says what the rollback says: already rolled back, to v2.
#[test]
fn candidate_and_rollback_agree_after_a_rollback() {
    let (env, b) = mlflow_env();
    let m = unique("agree");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let again = env.run(&["rollback", "model", &m, "--yes"]);
    again.code(0);
    assert!(
        again.stderr.contains("already rolled back"),
        "{}",
        again.stderr
    );
    let c: Value =
        serde_json::from_str(&env.run(&["candidate", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(c["version"], 2, "{c}");
    assert_eq!(c["rule"], "already_live", "{c}");
    let text = env.run(&["candidate", &m]).code(0).stdout.clone();
    assert!(text.contains("already rolled back"), "{text}");
}

/// `rollback.healthy_baseline=True` (typed by hand) is a baseline for both commands.
#[test]
fn a_baseline_tagged_true_in_capitals_counts() {
    use crate::common::v;
    use mlrb::registry::Stage;
    let (env, b) = mlflow_env();
    let m = unique("baseline-case");
    b.seed(
        &m,
        &[
            v(Stage::Archived),
            v(Stage::Archived).tag("rollback.healthy_baseline", "True"),
            v(Stage::Archived),
            v(Stage::Production),
        ],
        &[],
    );
    let c: Value =
        serde_json::from_str(&env.run(&["candidate", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(c["version"], 2, "{c}");
    assert_eq!(c["rule"], "healthy_baseline", "{c}");
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

/// `candidate --designate` runs the rollback's pre-flight: a version whose artifact was never
/// uploaded (MLflow names a path in its run's artifact directory that does not exist) is refused
/// when it is designated, not at 2 AM.
#[test]
fn designate_refuses_a_version_whose_artifact_is_gone() {
    use serde_json::json;
    let (env, b) = mlflow_env();
    let m = unique("designate-gone");
    let exp = b.rest.post("experiments/create", json!({"name": m}))["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = b.rest.post("runs/create", json!({"experiment_id": exp}));
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let artifacts = run["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .to_string();
    b.rest.post("registered-models/create", json!({"name": m}));
    b.rest.post(
        "model-versions/create",
        json!({"name": m, "source": format!("{artifacts}/model"), "run_id": run_id}),
    );
    let line = env
        .run(&["candidate", &m, "--designate", "1"])
        .one_clear_error(2);
    assert!(
        line.contains("pre-flight") && line.contains("does not exist"),
        "{line}"
    );
    assert!(!b.version(&m, 1).1.contains_key("rollback.healthy_baseline"));
}
