//! The 2 AM traps: what turned a rollback into a silent no-op for an engineer who did nothing
//! wrong — a model served by alias, a closed stdout, a starter config that hides the environment.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use mlrb::registry::Stage;
use serde_json::Value;

use crate::common::{Backend, TestEnv, bad_release, unique, v};

/// The real binary as a plain process, so the test owns its stdout pipe.
fn process(env: &TestEnv) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlrb"));
    c.env_clear().envs(&env.vars).current_dir(env.path());
    c
}

crate::on_both_registries!(
    closed_stdout_never_stops_a_rollback,
    stdout_closed_after_one_line_never_stops_a_rollback,
    a_model_served_by_its_only_alias_rolls_back_by_it,
    the_champion_alias_wins_among_several,
    several_aliases_and_no_champion_is_refused,
    nothing_live_is_never_rolled_back,
    alias_mode_target_skips_versions_rolled_back_from,
);

/// `mlrb rollback model M --yes | true`: the reader is gone before the first byte.
fn closed_stdout_never_stops_a_rollback(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("closed-stdout");
    b.seed(&m, &bad_release(), &[]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = process(env)
        .args(["rollback", "model", &m, "--yes"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(b.version(&m, 2).0, Stage::Production, "{stderr}");
    assert_eq!(b.version(&m, 3).0, Stage::Archived, "{stderr}");
    assert_eq!(b.version(&m, 3).1["rollback.role"], "rolled_back_from");
    assert!(
        env.journal().contains("\"type\":\"finished\""),
        "the event is closed in the journal"
    );
}

/// `mlrb rollback model M --yes | head -1`: one line read, then the pipe closes.
fn stdout_closed_after_one_line_never_stops_a_rollback(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("head-stdout");
    b.seed(&m, &bad_release(), &[]);
    let mut child = process(env)
        .args(["rollback", "model", &m, "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, as `head -1` exits after its line.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("Rollback plan"), "{first}");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(b.version(&m, 2).0, Stage::Production, "{stderr}");
    assert_eq!(b.version(&m, 3).0, Stage::Archived, "{stderr}");
    let json: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(json["live"][0]["version"], 2, "{json}");
}

/// The model's only alias, no version in Production, no config: the alias is what is live.
fn a_model_served_by_its_only_alias_rolls_back_by_it(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("only-alias");
    b.seed(
        &m,
        &[v(Stage::None), v(Stage::None), v(Stage::None)],
        &[("prod", 3)],
    );
    // status, candidate and the dry run agree: live = @prod (v3), target = v2.
    let s: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["mode"]["alias"], "prod", "{s}");
    assert_eq!(s["live"][0]["version"], 3, "{s}");
    assert_eq!(s["candidate"]["version"], 2, "{s}");
    assert!(s["mode_note"].as_str().unwrap().contains("@prod"), "{s}");
    let c: Value =
        serde_json::from_str(&env.run(&["candidate", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(c["version"], 2, "{c}");
    assert_eq!(c["rule"], "newest_older", "{c}");
    let dry = env.run(&["rollback", "model", &m, "--dry-run"]);
    dry.code(0);
    assert!(dry.stdout.contains("alias @prod"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("live means @prod"),
        "the plan says how live was found:\n{}",
        dry.stdout
    );
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert_eq!(b.alias(&m, "prod"), Some(2), "{}", out.stderr);
    assert_eq!(b.version(&m, 3).1["rollback.role"], "rolled_back_from");
    assert_eq!(b.version(&m, 2).1["rollback.role"], "rollback_target");
    // Stages are not how this model is run: they stay as they were.
    assert_eq!(b.version(&m, 2).0, Stage::None);
    assert_eq!(b.version(&m, 3).0, Stage::None);
}

/// With several aliases, `@champion` is the live one; `--to` moves it.
fn the_champion_alias_wins_among_several(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("champion");
    b.seed(
        &m,
        &[
            v(Stage::None),
            v(Stage::None),
            v(Stage::None),
            v(Stage::None),
        ],
        &[("champion", 4), ("challenger", 3)],
    );
    let out = env.run(&["rollback", "model", &m, "--to", "2", "--yes"]);
    out.code(0);
    assert_eq!(b.alias(&m, "champion"), Some(2), "{}", out.stderr);
    assert_eq!(b.alias(&m, "challenger"), Some(3), "other aliases stay");
    assert!(
        !out.stdout.contains("(none live)"),
        "never a rollback from nothing:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("v4 → v2"), "{}", out.stdout);
}

/// Several aliases, none is `champion`, nothing in Production: which is live is not guessed.
fn several_aliases_and_no_champion_is_refused(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("ambiguous");
    b.seed(
        &m,
        &[v(Stage::None), v(Stage::None), v(Stage::None)],
        &[("blue", 3), ("green", 2)],
    );
    let before = b.snapshot(&m);
    for args in [
        vec!["rollback", "model", m.as_str(), "--to", "1", "--yes"],
        vec!["rollback", "model", m.as_str(), "--yes"],
        vec!["candidate", m.as_str()],
        vec!["status", m.as_str()],
    ] {
        let out = env.run(&args);
        let line = out.one_clear_error(2);
        assert!(
            line.contains("@blue") && line.contains("@green"),
            "{args:?}: {line}"
        );
        assert!(out.stderr.contains("--alias"), "{args:?}: {}", out.stderr);
    }
    assert_eq!(b.snapshot(&m), before, "nothing changed");
    // Naming the alias settles it.
    env.run(&["rollback", "model", &m, "--alias", "blue", "--yes"])
        .code(0);
    assert_eq!(b.alias(&m, "blue"), Some(2));
}

/// No version in Production and no alias: there is nothing live to roll back.
fn nothing_live_is_never_rolled_back(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("nothing-live");
    b.seed(&m, &[v(Stage::Archived), v(Stage::None)], &[]);
    let before = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m, "--to", "1", "--yes"]);
    let line = out.one_clear_error(2);
    assert!(line.contains("nothing of"), "{line}");
    assert_eq!(b.snapshot(&m), before, "nothing changed");
    assert_eq!(env.journal(), "", "no event was started");
}

/// In alias mode a version rolled back from before is passed over, and stages are not read.
fn alias_mode_target_skips_versions_rolled_back_from(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("alias-rbf");
    b.seed(
        &m,
        &[
            v(Stage::Production),
            v(Stage::None),
            v(Stage::None).tag("rollback.role", "rolled_back_from"),
            v(Stage::None),
        ],
        &[("champion", 4)],
    );
    let c: Value = serde_json::from_str(
        &env.run(&["candidate", &m, "--alias", "champion", "-o", "json"])
            .code(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(c["version"], 2, "{c}");
    let s: Value = serde_json::from_str(
        &env.run(&["status", &m, "--alias", "champion", "-o", "json"])
            .code(0)
            .stdout,
    )
    .unwrap();
    assert_eq!(s["candidate"]["version"], 2, "{s}");
}

/// An alias whose version was deleted behind mlrb's back is reported as exactly that.
#[test]
fn an_alias_naming_a_deleted_version_is_reported() {
    let mut env = TestEnv::new();
    let b = crate::common::FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("dangling");
    b.seed(
        &m,
        &[v(Stage::None), v(Stage::None), v(Stage::None)],
        &[("champion", 3)],
    );
    b.delete_version(&m, 3);
    let s: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    let kinds: Vec<&str> = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"alias_names_deleted"), "{s}");
    let line = env
        .run(&["rollback", "model", &m, "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("names v3") && line.contains("deleted"),
        "{line}"
    );
}

/// `mlrb init` writes only commented examples: the zero-config path keeps working after it.
#[test]
fn init_leaves_the_zero_config_path_working() {
    let mut env = TestEnv::new();
    let b = crate::common::mlflow::MlflowBackend::new();
    b.configure(&mut env);
    let m = unique("after-init");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["init"]).code(0);
    assert!(env.path().join("mlrb.toml").is_file());
    let s: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["live"][0]["version"], 3, "{s}");
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    // `mlrb config` names the file it read and where the registry came from.
    let out = env.run(&["config", "-o", "json"]);
    out.code(0);
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    let row = |k: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {rows}"))
    };
    assert_eq!(row("config")["value"], "mlrb.toml");
    assert_eq!(row("registry")["source"], "environment MLFLOW_TRACKING_URI");
    assert_eq!(row("mlflow_tracking_token")["value"], "set (hidden)");
}

/// Each value `mlrb config` shows says where it came from: default, file:line, environment.
#[test]
fn config_shows_each_value_and_its_source() {
    let mut env = TestEnv::new();
    let srv = crate::common::http_server::TestServer::start(|_| {
        crate::common::http_server::Reply::json(200, serde_json::json!({}))
    });
    env.write(
        "mlrb.toml",
        &format!(
            "# team config\n[registry]\nuri = \"{}\"\ntimeout = \"10s\"\n\n[models.recsys]\nregistered_name = \"recommendation-model\"\n",
            srv.url
        ),
    );
    env.set("MLRB_STATE_DIR", env.state_dir().display().to_string());
    let rows: Value =
        serde_json::from_str(&env.run(&["config", "-o", "json"]).code(0).stdout).unwrap();
    let src = |k: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == k)
            .map(|r| r["source"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {k} in {rows}"))
    };
    assert_eq!(src("registry"), "mlrb.toml:3");
    assert_eq!(src("registry.timeout"), "mlrb.toml:4");
    assert_eq!(src("registry.connect_timeout"), "default");
    assert_eq!(src("models.recsys.registered_name"), "mlrb.toml:7");
    assert_eq!(src("state_dir"), "environment MLRB_STATE_DIR");
    // A registry error names the file the location came from.
    env.write(
        "mlrb.toml",
        "[registry]\nuri = \"http://127.0.0.1:9\"\ntimeout = \"2s\"\n",
    );
    let out = env.run(&["status", "recsys"]);
    out.code(1);
    assert!(out.stderr.contains("mlrb.toml:2"), "{}", out.stderr);
}

/// A `./mlrb.toml` that another user could have planted, or anyone can change, is not read:
/// its `uri` would otherwise receive the engineer's MLflow token.
#[test]
fn a_planted_config_is_refused_and_gets_no_credential() {
    use std::os::unix::fs::PermissionsExt;
    let mut env = TestEnv::new();
    let attacker = crate::common::http_server::TestServer::start(|_| {
        crate::common::http_server::Reply::json(200, serde_json::json!({"registered_models": []}))
    });
    let b = crate::common::mlflow::MlflowBackend::new();
    b.configure(&mut env);
    let planted = env.write(
        "mlrb.toml",
        &format!("[registry]\nuri = \"{}\"\n", attacker.url),
    );
    // World-writable: anyone could have written it.
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    let line = env.run(&["status"]).one_clear_error(2);
    assert!(
        line.contains("mlrb.toml") && line.contains("other users"),
        "{line}"
    );
    // Owned by another user.
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&planted, Some(4242), Some(4242)).unwrap();
    let line = env.run(&["status"]).one_clear_error(2);
    assert!(line.contains("uid 4242"), "{line}");
    assert!(
        attacker.requests.lock().unwrap().is_empty(),
        "a refused config sends nothing"
    );
    // A config of the user's own that points the registry away from MLFLOW_TRACKING_URI's
    // server does not get the credentials meant for that server.
    std::os::unix::fs::chown(&planted, Some(0), Some(0)).unwrap();
    let out = env.run(&["status"]);
    assert!(out.stderr.contains("not sent"), "{}", out.stderr);
    let reqs = attacker.requests.lock().unwrap();
    assert!(!reqs.is_empty(), "the configured registry was asked");
    for r in reqs.iter() {
        assert!(
            !r.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("authorization")),
            "a credential went to the config's host: {r:?}"
        );
    }
}

/// MLflow URIs that are not a tracking server get the fix, not a misleading error.
#[test]
fn a_local_mlruns_or_databricks_uri_says_what_mlrb_needs() {
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", "file:///srv/ml/mlruns");
    let out = env.run(&["status", "recsys"]);
    let line = out.one_clear_error(2);
    assert!(line.contains("HTTP(S)"), "{line}");
    assert!(
        out.stderr
            .contains("mlflow server --backend-store-uri /srv/ml/mlruns"),
        "{}",
        out.stderr
    );
    env.set("MLFLOW_TRACKING_URI", "databricks");
    let line = env.run(&["status", "recsys"]).one_clear_error(2);
    assert!(line.contains("http://"), "{line}");
}
