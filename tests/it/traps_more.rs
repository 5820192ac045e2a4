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
