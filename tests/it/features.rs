//! `rollback features` on real git repositories and real DVC (pinned 3.67.1, from the test
//! cache) with a local-directory remote.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{TestEnv, cache_dir};

fn dvc_bin() -> PathBuf {
    let b = cache_dir().join("bin/dvc");
    assert!(
        b.exists(),
        "dvc 3.67.1 is required at {}: run `tests/env/setup.sh dvc` (python3 -m venv {1}/dvc && {1}/dvc/bin/pip install 'dvc==3.67.1')",
        b.display(),
        cache_dir().display()
    );
    b
}

fn sh(dir: &Path, prog: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let prog = if prog == "dvc" {
        dvc_bin().display().to_string()
    } else {
        prog.to_string()
    };
    let out = Command::new(&prog)
        .args(args)
        .current_dir(dir)
        .env("DVC_NO_ANALYTICS", "1")
        .env("GIT_AUTHOR_NAME", "dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Repo {
    env: TestEnv,
    dir: PathBuf,
    /// Commit ids: "good" (v1 code + data) and "bad" (v2).
    good: String,
    bad: String,
}

/// A repo with feature_pipeline/{transform.py, features.csv (DVC-tracked)}: commit good
/// (2026-01-01), then bad (2026-02-01); objects pushed to a local remote when `push`.
fn repo(push: bool) -> Repo {
    let mut env = TestEnv::new();
    let path = format!("{}:{}", cache_dir().join("bin").display(), env.vars["PATH"]);
    env.set("PATH", path);
    let dir = env.path().join("repo");
    std::fs::create_dir_all(dir.join("feature_pipeline")).unwrap();
    sh(&dir, "git", &["init", "-q", "-b", "main"], &[]);
    sh(&dir, "dvc", &["init", "-q"], &[]);
    let remote = env.path().join("remote");
    sh(
        &dir,
        "dvc",
        &["remote", "add", "-d", "local", remote.to_str().unwrap()],
        &[],
    );
    let commit = |msg: &str, date: &str, code: &str, data: &str| {
        std::fs::write(dir.join("feature_pipeline/transform.py"), code).unwrap();
        std::fs::write(dir.join("feature_pipeline/features.csv"), data).unwrap();
        sh(
            &dir,
            "dvc",
            &["add", "-q", "feature_pipeline/features.csv"],
            &[],
        );
        sh(&dir, "git", &["add", "-A"], &[]);
        sh(
            &dir,
            "git",
            &["commit", "-q", "-m", msg],
            &[("GIT_AUTHOR_DATE", date), ("GIT_COMMITTER_DATE", date)],
        );
        if push {
            sh(&dir, "dvc", &["push", "-q"], &[]);
        }
        sh(&dir, "git", &["rev-parse", "HEAD"], &[])
    };
    let good = commit(
        "features: v1",
        "2026-01-01T10:00:00Z",
        "def f(x): return x\n",
        "id,score\n1,0.5\n",
    );
    let bad = commit(
        "features: v2 (buggy scaling)",
        "2026-02-01T10:00:00Z",
        "def f(x): return x * 100\n",
        "id,score\n1,50.0\n",
    );
    env.write(
        "mlrb.toml",
        "[models.recsys.features]\nrepo = \"repo\"\npath = \"feature_pipeline\"\n",
    );
    Repo {
        env,
        dir,
        good,
        bad,
    }
}

fn read(r: &Repo, f: &str) -> String {
    std::fs::read_to_string(r.dir.join("feature_pipeline").join(f)).unwrap()
}

#[test]
fn restores_code_and_data_and_commits_with_the_event_id() {
    let r = repo(false);
    let out = r.env.run(&[
        "rollback",
        "features",
        "recsys",
        "--to",
        &r.good[..8],
        "--yes",
    ]);
    out.code(0);
    assert!(
        out.stdout.contains("features: v2 (buggy scaling)"),
        "commits undone listed:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("files changed"), "{}", out.stdout);
    // The report is titled and advised for the feature pipeline, not a model rollback.
    assert!(
        out.stdout
            .contains("# Incident Report: Feature Pipeline Rollback - recsys"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("mlrb candidate"), "{}", out.stdout);
    assert_eq!(read(&r, "transform.py"), "def f(x): return x\n");
    assert_eq!(read(&r, "features.csv"), "id,score\n1,0.5\n");
    let msg = sh(&r.dir, "git", &["log", "-1", "--format=%B"], &[]);
    let event = r
        .env
        .journal()
        .lines()
        .next()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    assert!(msg.contains(&event), "{msg}");
    assert_eq!(sh(&r.dir, "git", &["status", "--porcelain"], &[]), "");
    assert_eq!(sh(&r.dir, "git", &["rev-parse", "HEAD~1"], &[]), r.bad);
}

#[test]
fn before_picks_the_newest_commit_touching_the_path() {
    let r = repo(false);
    let out = r.env.run(&[
        "rollback",
        "features",
        "recsys",
        "--before",
        "2026-01-15 00:00",
        "--dry-run",
        "-o",
        "json",
    ]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["to_commit"], serde_json::json!(r.good));
    assert_eq!(read(&r, "transform.py"), "def f(x): return x * 100\n");
}

#[test]
fn no_commit_leaves_the_restore_staged() {
    let r = repo(false);
    r.env
        .run(&[
            "rollback",
            "features",
            "recsys",
            "--to",
            &r.good,
            "--no-commit",
            "--yes",
        ])
        .code(0);
    assert_eq!(sh(&r.dir, "git", &["rev-parse", "HEAD"], &[]), r.bad);
    let staged = sh(&r.dir, "git", &["diff", "--cached", "--name-only"], &[]);
    assert!(staged.contains("feature_pipeline/transform.py"), "{staged}");
}

#[test]
fn a_dirty_path_is_refused() {
    let r = repo(false);
    std::fs::write(r.dir.join("feature_pipeline/transform.py"), "wip\n").unwrap();
    let line = r
        .env
        .run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"])
        .one_clear_error(3);
    assert!(line.contains("uncommitted changes"), "{line}");
    assert_eq!(read(&r, "transform.py"), "wip\n");
}

#[test]
fn a_missing_cache_object_deletes_nothing() {
    let r = repo(false);
    // The good version's object is gone from the cache and there is no copy in the remote.
    let dvcfile = sh(
        &r.dir,
        "git",
        &[
            "show",
            &format!("{}:feature_pipeline/features.csv.dvc", r.good),
        ],
        &[],
    );
    let md5 = dvcfile
        .lines()
        .find_map(|l| l.trim_start_matches(['-', ' ']).strip_prefix("md5:"))
        .unwrap()
        .trim()
        .to_string();
    let obj = r
        .dir
        .join(".dvc/cache/files/md5")
        .join(&md5[..2])
        .join(&md5[2..]);
    std::fs::remove_file(&obj).unwrap();
    let out = r
        .env
        .run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"]);
    let line = out.one_clear_error(1);
    assert!(line.contains("not available"), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(read(&r, "features.csv"), "id,score\n1,50.0\n");
    assert_eq!(read(&r, "transform.py"), "def f(x): return x * 100\n");
    assert_eq!(sh(&r.dir, "git", &["status", "--porcelain"], &[]), "");
}

#[test]
fn an_object_only_in_the_remote_is_fetched() {
    let r = repo(true);
    std::fs::remove_dir_all(r.dir.join(".dvc/cache")).unwrap();
    // The current data must still be there: restore it from the remote for the dirty check.
    sh(&r.dir, "dvc", &["pull", "-q"], &[]);
    let dvcfile = sh(
        &r.dir,
        "git",
        &[
            "show",
            &format!("{}:feature_pipeline/features.csv.dvc", r.good),
        ],
        &[],
    );
    let md5 = dvcfile
        .lines()
        .find_map(|l| l.trim_start_matches(['-', ' ']).strip_prefix("md5:"))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        !r.dir
            .join(".dvc/cache/files/md5")
            .join(&md5[..2])
            .join(&md5[2..])
            .exists()
    );
    let out = r
        .env
        .run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"]);
    out.code(0);
    assert!(out.stdout.contains("dvc fetch"), "{}", out.stdout);
    assert_eq!(read(&r, "features.csv"), "id,score\n1,0.5\n");
}

#[test]
fn bad_commit_and_future_time_are_usage_errors() {
    let r = repo(false);
    let line = r
        .env
        .run(&[
            "rollback", "features", "recsys", "--to", "deadbeef", "--yes",
        ])
        .one_clear_error(2);
    assert!(line.contains("does not exist"), "{line}");
    let line = r
        .env
        .run(&[
            "rollback",
            "features",
            "recsys",
            "--before",
            "2099-01-01 00:00",
            "--yes",
        ])
        .one_clear_error(2);
    assert!(line.contains("in the future"), "{line}");
}

#[test]
fn push_sends_the_rollback_commit_to_the_upstream_and_a_failed_push_says_what_is_left() {
    let r = repo(false);
    let bare = r.env.path().join("origin.git");
    sh(
        r.env.path(),
        "git",
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        &[],
    );
    sh(
        &r.dir,
        "git",
        &["remote", "add", "origin", bare.to_str().unwrap()],
        &[],
    );
    sh(&r.dir, "git", &["push", "-q", "-u", "origin", "main"], &[]);

    let out = r.env.run(&[
        "rollback",
        "features",
        "recsys",
        "--to",
        &r.good[..8],
        "--push",
        "--yes",
    ]);
    out.code(0);
    assert!(out.stdout.contains("pushed"), "{}", out.stdout);
    let head = sh(&r.dir, "git", &["rev-parse", "HEAD"], &[]);
    let remote_head = sh(&bare, "git", &["rev-parse", "main"], &[]);
    assert_eq!(remote_head, head, "the upstream has the rollback commit");
    assert_ne!(head, r.bad);

    // The upstream goes away: the commit stays, and the message says to push it by hand.
    std::fs::rename(&bare, r.env.path().join("moved.git")).unwrap();
    let out = r.env.run(&[
        "rollback",
        "features",
        "recsys",
        "--to",
        &r.bad[..8],
        "--push",
        "--yes",
    ]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("push it by hand"), "{all}");
    assert_ne!(
        sh(&r.dir, "git", &["rev-parse", "HEAD"], &[]),
        head,
        "the local commit is kept"
    );
}

/// Right after a completed rollback, running it again (a second engineer, a re-run after a
/// crash) is a no-op that names the rollback, never a second restore.
#[test]
fn a_second_rollback_is_a_no_op_that_names_the_first() {
    let r = repo(true);
    r.env
        .run(&[
            "rollback",
            "features",
            "recsys",
            "--before",
            "2026-01-15 00:00",
            "--yes",
        ])
        .code(0);
    let head = sh(&r.dir, "git", &["rev-parse", "HEAD"], &[]);
    let again = r.env.run(&[
        "rollback",
        "features",
        "recsys",
        "--before",
        "2026-01-15 00:00",
        "--yes",
        "-o",
        "json",
    ]);
    again.code(0);
    let v: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(v["outcome"], "already_rolled_back", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("already rolled back by rollback-"),
        "{v}"
    );
    assert_eq!(
        sh(&r.dir, "git", &["rev-parse", "HEAD"], &[]),
        head,
        "nothing was committed twice"
    );
}

/// Killed between two steps: a plain re-run refuses to plan over it, `--resume` finishes it
/// without running the finished steps again, and prints JSON when asked.
#[test]
fn a_crash_mid_way_is_refused_then_resumed() {
    let r = repo(true);
    for at in ["finished:1", "started:3", "finished:3"] {
        let r = repo(true);
        let mut env = r.env;
        env.set("MLRB_TEST_CRASH_AT", at);
        let out = env.run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"]);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        let line = env
            .run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"])
            .one_clear_error(2);
        assert!(line.contains("interrupted"), "{at}: {line}");
        let out = env.run(&[
            "rollback", "features", "recsys", "--resume", "--yes", "-o", "json",
        ]);
        out.code(0);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{at}: stdout is not JSON ({e}):\n{}", out.stdout));
        assert_eq!(v["outcome"], "rolled_back", "{at}: {v}");
        let code = std::fs::read_to_string(r.dir.join("feature_pipeline/transform.py")).unwrap();
        assert_eq!(code, "def f(x): return x\n", "{at}");
        let log = sh(&r.dir, "git", &["log", "--format=%s"], &[]);
        assert_eq!(
            log.lines()
                .filter(|l| l.contains("(mlrb rollback-"))
                .count(),
            1,
            "{at}: one rollback commit:\n{log}"
        );
        assert_eq!(
            sh(&r.dir, "git", &["status", "--porcelain"], &[]),
            "",
            "{at}"
        );
    }
    drop(r);
}

/// A feature rollback's `started` record names its subject by its typed target only (no path
/// standing in for a registered model name); one journaled by the previous release, which named
/// it in `registered_name`, still stops a plain re-run and is finished by `--resume`.
#[test]
fn the_subject_is_the_typed_target_and_an_older_record_still_guards() {
    let r = repo(true);
    let mut env = r.env;
    env.set("MLRB_TEST_CRASH_AT", "finished:1");
    let out = env.run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"]);
    assert_ne!(out.code, 0, "the process was killed");
    env.vars.remove("MLRB_TEST_CRASH_AT");
    let path = env.state_dir().join("journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let started: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["type"] == "started")
        .unwrap();
    assert!(started.get("registered_name").is_none(), "{started}");
    assert_eq!(started["target"]["kind"], "repository", "{started}");
    assert_eq!(started["target"]["path"], "feature_pipeline", "{started}");
    let repository = started["target"]["repository"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        std::path::Path::new(&repository).is_absolute(),
        "{repository}"
    );
    // The same record as the previous release wrote it: no typed command or target, the
    // subject in `registered_name`.
    let older: Vec<String> = text
        .lines()
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
            if r["type"] == "started" {
                let o = r.as_object_mut().unwrap();
                o.remove("action");
                o.remove("target");
                o.insert(
                    "registered_name".into(),
                    format!("feature_pipeline in {repository}").into(),
                );
            }
            r.to_string()
        })
        .collect();
    std::fs::write(&path, older.join("\n") + "\n").unwrap();
    let line = env
        .run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"])
        .one_clear_error(2);
    assert!(line.contains("interrupted"), "{line}");
    env.run(&["rollback", "features", "recsys", "--resume", "--yes"])
        .code(0);
    let code = std::fs::read_to_string(r.dir.join("feature_pipeline/transform.py")).unwrap();
    assert_eq!(code, "def f(x): return x\n");
}

/// `--dry-run -o json` is one JSON document with the plan, and changes nothing.
#[test]
fn dry_run_json_is_a_document() {
    let r = repo(true);
    let out = r.env.run(&[
        "rollback",
        "features",
        "recsys",
        "--to",
        &r.good,
        "--dry-run",
        "-o",
        "json",
    ]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "dry_run");
    assert!(v["plan"].as_array().unwrap().len() >= 3, "{v}");
    assert_eq!(sh(&r.dir, "git", &["rev-parse", "HEAD"], &[]), r.bad);
    // The plan's steps are objects of the one shape every kind uses (tests/it/json_plan.rs).
    assert_eq!(v["change"]["command"]["kind"], "rollback_features", "{v}");
    assert_eq!(v["change"]["target"]["kind"], "repository", "{v}");
    assert_eq!(v["change"]["target"]["path"], "feature_pipeline", "{v}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b[0-9a-f]{7,40}\b", "[COMMIT]");
    settings.add_filter(&r.env.path().display().to_string(), "[DIR]");
    settings.bind(|| {
        insta::assert_snapshot!(
            "features_dry_run_plan",
            serde_json::to_string_pretty(
                &serde_json::json!({"change": v["change"], "plan": v["plan"]})
            )
            .unwrap()
        )
    });
}

/// `status` names an interrupted feature rollback of the model, with the command that
/// finishes it, like an interrupted model rollback.
#[test]
fn status_names_an_interrupted_feature_rollback() {
    let r = repo(true);
    let mut env = r.env;
    let reg = crate::common::FileBackend::new(&env);
    reg.configure(&mut env);
    use crate::common::Backend;
    reg.seed("recsys", &crate::common::bad_release(), &[]);
    env.set("MLRB_TEST_CRASH_AT", "finished:1");
    let out = env.run(&["rollback", "features", "recsys", "--to", &r.good, "--yes"]);
    assert_ne!(out.code, 0, "killed");
    env.vars.remove("MLRB_TEST_CRASH_AT");
    let s: serde_json::Value =
        serde_json::from_str(&env.run(&["status", "recsys", "-o", "json"]).code(0).stdout).unwrap();
    let msg = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "interrupted_rollback")
        .unwrap_or_else(|| panic!("{s}"))["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("rollback features") && msg.contains("mlrb rollback features recsys --resume"),
        "{msg}"
    );
}
