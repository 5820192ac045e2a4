//! More 2 AM traps (issue 10): who did it, versions rolled back from before, times, Ctrl-C at
//! the prompt, `watch` logs, misleading errors and help — each against the real component.

use serde_json::Value;

use crate::common::mlflow::MlflowBackend;
use crate::common::{Backend, TestEnv, bad_release, unique};
use mlrb::registry::Stage;

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
    // Without --to, --force never makes the automatic choice a version rolled back from.
    let auto = env.run(&["rollback", "model", &m, "--force", "--dry-run"]);
    assert!(
        !auto.stdout.contains("--force goes back to it anyway")
            && !auto.stdout.contains("v4 was rolled back from"),
        "{}",
        auto.stdout
    );
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

/// The plan's echo of the breach start: "breach began: <UTC> (how it was read)".
fn breach_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with("breach began:"))
        .unwrap_or_else(|| panic!("the plan does not echo the breach start:\n{stdout}"))
        .trim()
        .to_string()
}

/// `--detected-at 22:04` is local time and the plan says so, with the absolute UTC time;
/// offsets and durations ago are echoed too; the future and `99999999m` are refused.
#[test]
fn detected_at_is_local_time_echoed_in_utc() {
    let (mut env, b) = mlflow_env();
    let m = unique("detected-local");
    b.seed(&m, &bad_release(), &[]);
    env.set("MLRB_NOW", "2026-11-29T12:00:00Z");
    env.set("TZ", "Europe/Berlin");
    let dry = |at: &str| {
        let out = env.run(&["rollback", "model", &m, "--dry-run", "--detected-at", at]);
        out.code(0);
        breach_line(&out.stdout)
    };
    // 12:30 in Berlin (UTC+1 in November) is 11:30 UTC, earlier today.
    let line = dry("12:30");
    assert!(line.contains("2026-11-29T11:30:00.000Z"), "{line}");
    assert!(
        line.contains("local time") && line.contains("Europe/Berlin") && line.contains("+01:00"),
        "{line}"
    );
    // 13:30 in Berlin is after 12:00 UTC: yesterday's, and said.
    let line = dry("13:30");
    assert!(line.contains("2026-11-28T12:30:00.000Z"), "{line}");
    assert!(line.contains("yesterday"), "{line}");
    // UTC when asked for; RFC 3339 with an offset; a duration ago.
    assert!(dry("11:10 UTC").contains("2026-11-29T11:10:00.000Z"));
    assert!(dry("2026-11-29T13:30:00+02:00").contains("2026-11-29T11:30:00.000Z"));
    let line = dry("15m");
    assert!(line.contains("2026-11-29T11:45:00"), "{line}");
    assert!(line.contains("ago"), "{line}");
    // -o json carries it too.
    let j: Value = serde_json::from_str(
        &env.run(&[
            "rollback",
            "model",
            &m,
            "--dry-run",
            "-o",
            "json",
            "--detected-at",
            "12:30",
        ])
        .code(0)
        .stdout,
    )
    .unwrap();
    assert_eq!(j["detected_at"], "2026-11-29T11:30:00.000Z", "{j}");
    // Refused: the future, and the absurd.
    let line = env
        .run(&[
            "rollback",
            "model",
            &m,
            "--yes",
            "--detected-at",
            "2026-11-29T14:00:00+01:00",
        ])
        .one_clear_error(2);
    assert!(line.contains("in the future"), "{line}");
    let line = env
        .run(&[
            "rollback",
            "model",
            &m,
            "--yes",
            "--detected-at",
            "99999999m",
        ])
        .one_clear_error(2);
    assert!(line.contains("days ago"), "{line}");
    assert_eq!(env.journal(), "", "nothing was started");
}

/// A breach cannot begin before the model had a version: `15m` against a model registered
/// seconds ago on the real MLflow is refused with one line, in a dry run and a real run, and
/// nothing is changed or journaled; a time after its first version goes ahead.
#[test]
fn detected_at_before_the_model_existed_is_refused() {
    let (env, b) = mlflow_env();
    let m = unique("detected-early");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    for extra in [&["--dry-run"][..], &["--yes"][..]] {
        let mut args = vec!["rollback", "model", m.as_str(), "--detected-at", "15m"];
        args.extend_from_slice(extra);
        let line = env.run(&args).one_clear_error(2);
        assert!(
            line.contains("is before") && line.contains("had any version") && line.contains(&m),
            "{line}"
        );
    }
    assert_eq!(env.journal(), "", "nothing was started");
    assert_eq!(b.version(&m, 3).0, Stage::Production);
    assert_eq!(b.version(&m, 2).0, Stage::Archived);
    // No lease tag left behind either: the registry is as it was.
    assert_eq!(b.snapshot(&m), before);
    env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--detected-at",
        &crate::common::just_now(),
    ])
    .code(0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

/// A detection phase of 9 min 59.6 s is ten minutes as shown: `10m 00s`, never `9m 59s`.
#[test]
fn ten_minutes_prints_as_ten_minutes() {
    let (env, b) = mlflow_env();
    let m = unique("ten-minutes");
    b.seed(&m, &bad_release(), &[]);
    env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--detected-at",
        &crate::common::just_now(),
    ])
    .code(0);
    // The journal as a slower clock would have written it: started 599.6 s after the breach.
    let path = env.state_dir().join("journal.jsonl");
    let text: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).unwrap();
            if r["type"] == "started" {
                let started: chrono::DateTime<chrono::Utc> =
                    r["started_at"].as_str().unwrap().parse().unwrap();
                let detected = started - chrono::Duration::milliseconds(599_600);
                r["detected_at"] = Value::String(detected.to_rfc3339());
            }
            r.to_string()
        })
        .collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    let out = env.run(&["report", "--last"]);
    out.code(0);
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("| detection |"))
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .to_string();
    assert!(row.contains("10m 00s"), "{row}");
}

/// Runs mlrb on a new pseudo-terminal (its controlling terminal, as in a shell) with `TERM`
/// set to `term`; once the prompt shows, types `keys`. Returns the exit code (-1 for a
/// signal) and everything the terminal showed.
fn at_the_prompt(env: &TestEnv, args: &[&str], term: &str, keys: &[u8]) -> (i32, String) {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two descriptors, owned below.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    let mut master = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(master) });
    let mut cmd = process(env);
    cmd.args(args)
        .env("TERM", term)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: setsid and ioctl are async-signal-safe; the terminal becomes the controlling one,
    // so Ctrl-C is the SIGINT a shell user sends.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // The terminal closes (and the reader below ends) only when no copy of its slave side is
    // left here: the command holds three.
    drop(cmd);
    drop(slave);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        let mut m = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave descriptor is closed.
            while let Ok(n) = m.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let t0 = std::time::Instant::now();
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("[y/N]") {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "no prompt: {}",
            String::from_utf8_lossy(&seen.lock().unwrap())
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Let the prompt reach its read.
    std::thread::sleep(std::time::Duration::from_millis(300));
    master.write_all(keys).unwrap();
    let status = child.wait().unwrap();
    drop(master);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    (status.code().unwrap_or(-1), text)
}

/// Ctrl-C at the confirmation: the cursor is shown again, mlrb says nothing was changed and
/// exits 130; nothing was changed.
#[test]
fn ctrl_c_at_the_prompt_says_nothing_was_changed() {
    let (env, b) = mlflow_env();
    let m = unique("ctrl-c");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    for term in ["xterm-256color", "dumb"] {
        let (code, text) = at_the_prompt(&env, &["rollback", "model", &m], term, b"\x03");
        assert_eq!(code, 130, "TERM={term}:\n{text}");
        assert!(
            text.contains("interrupted: nothing was changed"),
            "TERM={term}:\n{text}"
        );
        if let Some(hid) = text.rfind("\x1b[?25l") {
            assert!(
                text[hid..].contains("\x1b[?25h"),
                "TERM={term}: the cursor stays hidden:\n{text:?}"
            );
        }
    }
    assert_eq!(b.snapshot(&m), before);
    assert_eq!(env.journal(), "", "no event was started");
}

/// `TERM=dumb` gets a plain prompt: no cursor or colour escapes, and the answer still works.
#[test]
fn a_dumb_terminal_gets_no_escapes() {
    let (env, b) = mlflow_env();
    let m = unique("dumb-term");
    b.seed(&m, &bad_release(), &[]);
    let (code, text) = at_the_prompt(&env, &["rollback", "model", &m], "dumb", b"n\n");
    assert_eq!(code, 3, "{text}");
    assert!(
        !text.contains('\x1b'),
        "escapes on a dumb terminal: {text:?}"
    );
    let (code, text) = at_the_prompt(&env, &["rollback", "model", &m], "dumb", b"y\n");
    assert_eq!(code, 0, "{text}");
    assert_eq!(b.version(&m, 2).0, mlrb::registry::Stage::Production);
}

/// `watch --log-format json` with a rollback: every stderr line, the rollback's own included,
/// is one JSON object.
#[test]
fn watch_json_logs_cover_the_rollback_it_starts() {
    use crate::common::prometheus::{model_config, prom};
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let p = prom();
    let (mut env, b) = mlflow_env();
    let m = unique("watch-json");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &p.url,
        &m,
        &["error_rate"],
        &format!(
            "[models.\"{m}\".baseline]\nerror_rate = 0.01\n\
             [models.\"{m}\".controller]\ncheck_interval = \"1s\"\nconsecutive_failures_required = 1\npost_rollback_watch = \"1h\"\n\
             [models.\"{m}\".verify]\ntimeout = \"1s\"\ninterval = \"1s\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    p.put(&m, "error_rate", 0.08);
    let mut child = process(&env)
        .args(["watch", &m, "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let t0 = std::time::Instant::now();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("\"event\":\"post_rollback_watch\"");
        lines.push(line);
        if done || t0.elapsed() > std::time::Duration::from_secs(90) {
            break;
        }
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l.contains("post_rollback_watch")),
        "no rollback:\n{}",
        lines.join("\n")
    );
    assert_eq!(b.version(&m, 2).0, mlrb::registry::Stage::Production);
    for l in &lines {
        let v: Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", lines.join("\n")));
        assert!(v["ts"].is_string() && v["level"].is_string(), "{l}");
    }
    // The rollback's own step lines came through, as JSON.
    assert!(
        lines.iter().any(|l| l.contains("✓ [1/")),
        "{}",
        lines.join("\n")
    );
}

/// `watch --once` with no metric holding data is blind, not healthy: exit 1 naming them.
#[test]
fn watch_once_with_every_metric_unknown_is_blind() {
    use crate::common::prometheus::{model_config, prom};
    let p = prom();
    let (mut env, b) = mlflow_env();
    let m = unique("watch-blind");
    b.seed(&m, &bad_release(), &[]);
    // No gauge is ever set for this model: both queries return no series.
    let toml = model_config(
        &p.url,
        &m,
        &["error_rate", "prediction_diversity"],
        &format!("[models.\"{m}\".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.7\n"),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let out = env.run(&["watch", &m, "--once"]);
    out.code(1);
    assert!(
        out.stderr.contains("error_rate") && out.stderr.contains("prediction_diversity"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("BLIND"), "{}", out.stderr);
    // With data for one of them it is judged again.
    p.put(&m, "error_rate", 0.01);
    env.run(&["watch", &m, "--once"]).code(0);
}

/// A valid MLflow user without write permission (403) is told just that — who, and what was
/// refused — not to check the credentials.
#[test]
fn a_user_without_permission_is_told_so() {
    use crate::common::mlflow::{ADMIN_PASSWORD, Rest, auth_server, seed_rest};
    let s = auth_server();
    let admin = Rest::new(&s.uri).with_auth("admin", ADMIN_PASSWORD);
    let m = unique("forbidden");
    let user = unique("reader");
    admin.post(
        "users/create",
        serde_json::json!({"username": user, "password": "reader-Pass-123"}),
    );
    seed_rest(&admin, &m, &bad_release(), &[]);
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", s.uri.clone());
    env.set("MLFLOW_TRACKING_USERNAME", user.clone());
    env.set("MLFLOW_TRACKING_PASSWORD", "reader-Pass-123");
    // Reading is allowed (default permission READ)...
    env.run(&["status", &m]).code(0);
    // ...changing is not.
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    let line = out.one_clear_error(1);
    assert!(
        line.contains(&format!("user `{user}`")) && line.contains("lacks permission to"),
        "{line}"
    );
    assert!(line.contains(&m), "names what was refused: {line}");
    let hint = out.stderr.lines().find(|l| l.starts_with("hint:")).unwrap();
    assert!(
        hint.contains("EDIT") && hint.contains("credentials are right"),
        "{hint}"
    );
}

/// A registry that never answers: after the retries the error says the whole time and the
/// attempts, not one attempt's limit.
#[test]
fn a_timeout_after_retries_says_the_whole_time() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let env = TestEnv::new();
    env.write(
        "mlrb.toml",
        &format!("[registry]\nuri = \"{url}\"\ntimeout = \"1s\"\n"),
    );
    let line = env.run(&["status", "recsys"]).one_clear_error(1);
    assert!(
        line.contains("did not answer in 3 s: 3 attempts, each given 1 s"),
        "{line}"
    );
    drop(silent);
}

/// A reason longer than the journal keeps is cut with a mark and a warning saying where.
#[test]
fn a_reason_longer_than_the_journal_keeps_is_cut_with_a_word() {
    let (env, b) = mlflow_env();
    let m = unique("long-reason");
    b.seed(&m, &bad_release(), &[]);
    let reason = format!("{}THE-END", "x".repeat(4995));
    let out = env.run(&["rollback", "model", &m, "--yes", "--reason", &reason]);
    out.code(0);
    assert!(
        out.stderr
            .contains("warning: --reason is 5002 characters; the journal and the report keep 4000"),
        "{}",
        out.stderr
    );
    let kept = started(&env)["reason"].as_str().unwrap().to_string();
    assert!(kept.chars().count() <= 4000, "{}", kept.len());
    assert!(kept.ends_with("[…cut: 1002 more characters]"), "{kept}");
}

/// A name MLflow accepts — quotes of both kinds included — is one mlrb accepts; a model whose
/// name differs only there is not mixed in.
#[test]
fn names_with_both_quote_kinds_work() {
    use crate::common::v;
    let (env, b) = mlflow_env();
    let tail = unique("q");
    let m = format!("it's the \"quoted\" {tail}");
    let lookalike = format!("it_s the _quoted_ {tail}");
    b.seed(&m, &bad_release(), &[]);
    b.seed(
        &lookalike,
        &[
            v(Stage::Archived),
            v(Stage::Archived),
            v(Stage::Archived),
            v(Stage::Archived).healthy(),
            v(Stage::Production),
        ],
        &[],
    );
    let s: Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["live"][0]["version"], 3, "{s}");
    let c: Value =
        serde_json::from_str(&env.run(&["candidate", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(c["version"], 2, "{c}");
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
    assert_eq!(
        b.version(&lookalike, 5).0,
        Stage::Production,
        "the lookalike is untouched"
    );
}

/// Bare `mlrb` prints the command list; the main commands' --help end with examples, the exit
/// codes and the environment (MLFLOW_TRACKING_URI first); -v is one level (and -vv the same).
#[test]
fn help_lists_commands_examples_exit_codes_and_environment() {
    let env = TestEnv::new();
    let bare = env.run(&[]);
    bare.code(0);
    for cmd in [
        "status",
        "candidate",
        "rollback",
        "watch",
        "drill",
        "report",
    ] {
        assert!(
            bare.stdout.contains(&format!("  {cmd} ")),
            "{cmd}:\n{}",
            bare.stdout
        );
    }
    for args in [
        vec!["--help"],
        vec!["status", "--help"],
        vec!["candidate", "--help"],
        vec!["rollback", "model", "--help"],
        vec!["rollback", "infra", "--help"],
        vec!["watch", "--help"],
        vec!["drill", "--help"],
        vec!["report", "--help"],
    ] {
        let out = env.run(&args);
        out.code(0);
        let text = &out.stdout;
        let (ex, codes, envs) = (
            text.find("\nExamples:\n"),
            text.find("\nExit status:\n"),
            text.find("\nEnvironment:\n"),
        );
        assert!(
            matches!((ex, codes, envs), (Some(a), Some(b), Some(c)) if a < b && b < c),
            "{args:?}:\n{text}"
        );
        let after = &text[envs.unwrap()..];
        assert!(
            after
                .lines()
                .nth(2)
                .unwrap()
                .trim_start()
                .starts_with("MLFLOW_TRACKING_URI"),
            "{args:?}: MLFLOW_TRACKING_URI first:\n{after}"
        );
        for code in ["  0 ", "  2 ", "  3 ", "  4 ", "  5 ", "  130 "] {
            assert!(text.contains(code), "{args:?}: exit {code}:\n{text}");
        }
    }
    let help = env.run(&["--help"]).stdout.clone();
    assert!(help.contains("one level"), "{help}");
    env.run(&["-vv", "config"]).code(0);
}
