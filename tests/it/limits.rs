//! What mlrb reads from a server is bounded: one answer by `[http] max_body`, one listing by
//! `[http] max_pages`. The servers here play a registry (or a proxy before it) that sends a
//! huge answer or pages forever.

use std::process::Stdio;

use serde_json::json;

use crate::common::TestEnv;
use crate::common::http_server::{Reply, TestServer};
use crate::common::mlflow::{MlflowBackend, Rest, seed_rest};
use crate::common::{bad_release, unique};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Runs mlrb and returns (exit code, stderr, peak resident memory in bytes). The peak is
/// GNU time's (`%M`): mlrb is forked from that small process, so the figure is mlrb's own. (A
/// child spawned straight from the test process inherits the test process's high-water mark
/// at exec, a few hundred MiB in a full run, whatever mlrb itself used.)
fn run_measured(env: &TestEnv, args: &[&str]) -> (i32, String, u64) {
    let time = std::path::Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "GNU time is missing: install it with `apt-get install time` (tests/env/setup.sh does)"
    );
    let peak_file = env.path().join("peak-rss-kib");
    let out = std::process::Command::new(time)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&peak_file)
        .arg(assert_cmd::cargo::cargo_bin("mlrb"))
        .args(args)
        .env_clear()
        .envs(&env.vars)
        .current_dir(env.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    crate::common::assert_no_secret("stderr", &stderr, &env.vars);
    let text = std::fs::read_to_string(&peak_file).unwrap();
    std::fs::remove_file(&peak_file).unwrap();
    // GNU time prefixes "Command exited with non-zero status N" when mlrb fails.
    let kib: u64 = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("GNU time wrote no peak: {text:?}"));
    (code, stderr, kib * 1024)
}

fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("error:")).collect()
}

/// A registry whose version search answers 1 GiB: with and without a declared length.
#[test]
fn a_huge_answer_is_refused_at_the_limit_with_bounded_memory() {
    for declared in [false, true] {
        let m = unique("huge");
        let name = m.clone();
        let server = TestServer::start(move |req| {
            if req.path.contains("model-versions/search") {
                Reply::huge("{\"model_versions\": [", GIB, declared)
            } else if req.path.contains("registered-models/search") {
                Reply::json(200, json!({"registered_models": [{"name": name}]}))
            } else if req.path.contains("registered-models/get") {
                Reply::json(200, json!({"registered_model": {"name": name}}))
            } else {
                Reply::json(
                    404,
                    json!({"error_code": "ENDPOINT_NOT_FOUND", "message": req.path}),
                )
            }
        });
        let mut env = TestEnv::new();
        env.set("MLFLOW_TRACKING_URI", server.url.clone());
        let (code, stderr, rss) = run_measured(&env, &["rollback", "model", &m, "--yes"]);
        assert_eq!(code, 1, "{stderr}");
        let errors = error_lines(&stderr);
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("the answer is larger than 8 MiB")
                && errors[0].contains("raise [http] max_body in mlrb.toml"),
            "{stderr}"
        );
        // The rest of the gigabyte was never read, nor held.
        assert!(server.sent() < 64 * MIB, "sent {} MiB", server.sent() / MIB);
        assert!(rss < 64 * MIB, "peak RSS {} MiB", rss / MIB);
        eprintln!(
            "declared={declared}: peak RSS {} MiB, server wrote {} MiB",
            rss / MIB,
            server.sent() / MIB
        );
        // Nothing was written: the registry saw reads only.
        assert!(
            server.requests().iter().all(|r| r.method == "GET"),
            "{:?}",
            server.requests()
        );
        assert!(!env.journal().contains("\"step\""), "{}", env.journal());
    }
}

/// A registry (or a broken proxy) that hands out a next-page token forever.
#[test]
fn a_listing_that_never_ends_is_refused_at_max_pages() {
    let m = unique("pages");
    let name = m.clone();
    let server = TestServer::start(move |req| {
        if req.path.contains("model-versions/search") {
            Reply::json(
                200,
                json!({
                    "model_versions": [{"name": name, "version": "1", "current_stage": "Production", "status": "READY"}],
                    "next_page_token": "again",
                }),
            )
        } else if req.path.contains("registered-models/search") {
            Reply::json(200, json!({"registered_models": [{"name": name}]}))
        } else if req.path.contains("registered-models/get") {
            Reply::json(200, json!({"registered_model": {"name": name}}))
        } else {
            Reply::json(
                404,
                json!({"error_code": "ENDPOINT_NOT_FOUND", "message": req.path}),
            )
        }
    });
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", server.url.clone());
    let searches = || {
        server
            .requests()
            .iter()
            .filter(|r| r.path.contains("model-versions/search"))
            .count()
    };
    let line = env
        .run(&["rollback", "model", &m, "--to", "1", "--yes"])
        .one_clear_error(1);
    assert!(
        line.contains(&format!(
            "the listing of model `{m}`'s versions did not end after 100 pages"
        )) && line.contains("raise [http] max_pages in mlrb.toml"),
        "{line}"
    );
    assert_eq!(searches(), 100);
    assert!(server.requests().iter().all(|r| r.method == "GET"));

    // The limit is the config's.
    let before = searches();
    env.write("mlrb.toml", "[http]\nmax_pages = 3\n");
    let line = env.run(&["status", &m]).one_clear_error(1);
    assert!(line.contains("did not end after 3 pages"), "{line}");
    assert_eq!(searches() - before, 3);
}

/// `[http] max_body` is the limit, on the real MLflow server: a small one refuses its ordinary
/// answers and says which limit; the default reads them.
#[test]
fn max_body_is_configurable_on_the_real_server() {
    let b = MlflowBackend::new();
    let m = unique("maxbody");
    seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", b.uri.clone());
    env.run(&["status", &m]).code(0);
    env.write("mlrb.toml", "[http]\nmax_body = \"1KiB\"\n");
    let line = env.run(&["status", &m]).one_clear_error(1);
    assert!(line.contains("the answer is larger than 1 KiB"), "{line}");
    let out = env.run(&["config"]);
    out.code(0);
    assert!(out.stdout.contains("1 KiB"), "{}", out.stdout);
    env.write("mlrb.toml", "[http]\nmax_body = \"lots\"\n");
    let line = env.run(&["status", &m]).one_clear_error(2);
    assert!(line.contains("`lots` is not a size"), "{line}");
}

/// A Prometheus (or a proxy before it) and a CI webhook that answer 1 GiB: each stops at the
/// limit with one line naming it.
#[test]
fn prometheus_and_ci_answers_are_bounded_too() {
    use crate::common::prometheus::model_config;
    use crate::common::{Backend, FileBackend};
    let huge = TestServer::start(|_| Reply::huge("{\"status\": \"success\", ", GIB, false));

    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("hugeprom");
    b.seed(&m, &bad_release(), &[]);
    let cfg = env.write(
        "mlrb.toml",
        &model_config(&huge.url, &m, &["error_rate"], ""),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let (code, stderr, rss) = run_measured(&env, &["status", &m]);
    assert_eq!(code, 1, "{stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&format!("Prometheus at {}", huge.url))
            && errors[0].contains("the answer is larger than 8 MiB"),
        "{stderr}"
    );
    assert!(rss < 64 * MIB, "peak RSS {} MiB", rss / MIB);

    let mut env = TestEnv::new();
    env.set("RETRAIN_TOKEN", "limits-test-token-1234");
    let cfg = env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"webhook\"\nurl = \"{}/retrain\"\ntoken_env = \"RETRAIN_TOKEN\"\n",
            huge.url
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let args = [
        "rollback",
        "retrain",
        "recsys",
        "--dataset-version",
        "ds-1",
        "--yes",
    ];
    let (code, stderr, rss) = run_measured(&env, &args);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("answered 200, but the answer is larger than 8 MiB"),
        "{stderr}"
    );
    assert!(rss < 64 * MIB, "peak RSS {} MiB", rss / MIB);
}
