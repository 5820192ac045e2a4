//! The `http` serving reload against a model server in the test: POST reload, poll health.

use std::sync::{Arc, Mutex};

use mlrb::registry::Stage;
use serde_json::json;

use crate::common::http_server::{Reply, TestServer};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique, v as mlrb_v};

/// A model server that serves `served` and switches to what a reload asks for, unless `stuck`.
fn model_server(stuck: bool) -> (TestServer, Arc<Mutex<String>>) {
    let served = Arc::new(Mutex::new("3".to_string()));
    let s = served.clone();
    let server = TestServer::start(move |req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/reload") => {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            if !stuck {
                *s.lock().unwrap() = body["version"].as_str().unwrap_or("").to_string();
            }
            Reply::json(202, json!({"accepted": true}))
        }
        ("GET", "/health") => Reply::json(
            200,
            json!({"status": "ok", "model": {"version": *s.lock().unwrap()}}),
        ),
        _ => Reply::text(404, "text/plain", "not found"),
    });
    (server, served)
}

fn config(env: &TestEnv, m: &str, url: &str, timeout: &str) {
    env.write(
        "mlrb.toml",
        &format!(
            "[models.{m}]\n[models.{m}.serving]\nkind = \"http\"\nreload_url = \"{url}/reload\"\nhealth_url = \"{url}/health\"\nversion_pointer = \"/model/version\"\ntimeout = \"{timeout}\"\n"
        ),
    );
}

#[test]
fn http_reload_waits_until_the_server_reports_the_target() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("serve");
    b.seed(&m, &bad_release(), &[]);
    let (server, served) = model_server(false);
    config(&env, &m, &server.url, "10s");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(
        out.stdout.contains(&format!("POST {}/reload", server.url)),
        "plan names the request"
    );
    assert_eq!(*served.lock().unwrap(), "2");
    let reqs = server.requests();
    let reload = reqs
        .iter()
        .find(|r| r.method == "POST")
        .expect("a reload request");
    let body: serde_json::Value = serde_json::from_str(&reload.body).unwrap();
    assert_eq!(body, json!({"model": m, "version": "2"}));
    assert!(reqs.iter().any(|r| r.path == "/health"));
}

#[test]
fn serving_that_never_reports_the_target_exits_5() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("stuck");
    b.seed(&m, &bad_release(), &[]);
    let (server, _) = model_server(true);
    config(&env, &m, &server.url, "1s");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(5);
    assert!(out.stderr.contains("did not report v2"), "{}", out.stderr);
    // The registry was rolled back; the report says it is not verified.
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert!(out.stdout.contains("NOT verified"), "{}", out.stdout);
}

/// Pre-warming: `candidate --designate` asks the model server to load the target now, and
/// `status` shows whether the server has it loaded (warm) or not (cold).
#[test]
fn designate_prewarms_and_status_shows_warm_or_cold() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("warm");
    b.seed(
        &m,
        &[
            mlrb_v(Stage::Archived),
            mlrb_v(Stage::Archived).healthy(),
            mlrb_v(Stage::Production),
        ],
        &[],
    );
    let loaded = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = loaded.clone();
    let server = TestServer::start(move |req| {
        if req.method == "POST" && req.path == "/prewarm" {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            l.lock()
                .unwrap()
                .push(body["version"].as_str().unwrap_or("").to_string());
            return Reply::json(202, json!({}));
        }
        match req.path.strip_prefix("/ready/") {
            Some(v) if l.lock().unwrap().iter().any(|x| x == v) => {
                Reply::json(200, json!({"ready": true}))
            }
            Some(_) => Reply::json(503, json!({"ready": false})),
            None => Reply::text(404, "text/plain", "no route"),
        }
    });
    env.write(
        "mlrb.toml",
        &format!(
            "[models.{m}.serving]\nprewarm_url = \"{0}/prewarm\"\nreadiness_url = \"{0}/ready/{{version}}\"\n",
            server.url
        ),
    );
    let s: serde_json::Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["target_readiness"], "cold");
    let out = env.run(&["candidate", &m, "--designate", "1"]);
    out.code(0);
    assert!(out.stderr.contains("prewarm"), "{}", out.stderr);
    assert_eq!(*loaded.lock().unwrap(), ["1"]);
    // v2 is still the newest healthy baseline, so the target stays v2: cold until pre-warmed.
    let s: serde_json::Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(
        (
            s["candidate"]["version"].as_u64(),
            s["target_readiness"].as_str()
        ),
        (Some(2), Some("cold"))
    );
    env.run(&["candidate", &m, "--designate", "2"]).code(0);
    let s: serde_json::Value =
        serde_json::from_str(&env.run(&["status", &m, "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(s["target_readiness"], "warm");
}

/// A reload URL that carries a secret in its query (`?token=…`, as some model servers take
/// it) is used as configured, but never written down: the journal and the registry lease's
/// record hold it redacted, and a rollback killed after the registry flip and resumed still
/// reloads with the configured URL (the resume takes it from the config, not the record).
#[test]
fn a_reload_urls_secret_is_never_recorded_and_resume_uses_the_configured_url() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("serve-secret");
    b.seed(&m, &bad_release(), &[]);
    let secret = "rl-7f3a9c1e5b";
    let served = Arc::new(Mutex::new("3".to_string()));
    let s = served.clone();
    let server = TestServer::start(move |req| {
        if req.method == "POST" && req.path == format!("/reload?token={secret}") {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            *s.lock().unwrap() = body["version"].as_str().unwrap_or("").to_string();
            Reply::json(202, json!({"accepted": true}))
        } else if req.method == "GET" && req.path == "/health" {
            Reply::json(
                200,
                json!({"status": "ok", "model": {"version": *s.lock().unwrap()}}),
            )
        } else {
            Reply::text(404, "text/plain", "not found")
        }
    });
    config(&env, &m, &server.url, "10s");
    let cfg = std::fs::read_to_string(env.path().join("mlrb.toml"))
        .unwrap()
        .replace("/reload\"", &format!("/reload?token={secret}\""));
    env.write("mlrb.toml", &cfg);

    // Killed as the reload step starts: the registry is flipped, the reload not sent.
    let steps = {
        let out = env.run(&["rollback", "model", &m, "--dry-run", "-o", "json"]);
        out.code(0);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v["plan"].as_array().unwrap().clone()
    };
    let reload_at = 1 + steps
        .iter()
        .position(|s| s["kind"] == "serving.reload")
        .expect("a reload step");
    let out = env
        .mlrb()
        .args(["rollback", "model", &m, "--yes"])
        .env("MLRB_TEST_CRASH_AT", format!("started:{reload_at}"))
        .output()
        .unwrap();
    assert!(out.status.code().is_none(), "the process was killed");
    assert!(server.requests().iter().all(|r| r.method != "POST"));
    let journal = env.journal();
    assert!(journal.contains("/reload?token="), "{journal}");
    assert!(!journal.contains(secret), "the journal holds the secret");
    let registry = std::fs::read_to_string(env.path().join("registry.json")).unwrap_or_default();
    assert!(!registry.contains(secret), "the registry holds the secret");

    env.run(&["rollback", "model", &m, "--resume", "--yes"])
        .code(0);
    assert_eq!(*served.lock().unwrap(), "2");
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, format!("/reload?token={secret}"));
    assert!(!env.journal().contains(secret));
}
