//! Bad input: one clear line, a non-zero exit code, and nothing changed.

use mlrb::registry::Stage;

use crate::common::http_server::{Reply, TestServer};
use crate::common::mlflow::{
    ADMIN_PASSWORD, MlflowBackend, Rest, auth_server, free_port, seed_rest,
};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique};

crate::on_both_registries!(
    unknown_names_and_versions,
    reasons_are_cut_and_escaped,
    bad_times_and_values
);

fn unknown_names_and_versions(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("names");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    let typo = &m[..m.len() - 1];
    let out = env.run(&["rollback", "model", typo, "--yes"]);
    let line = out.one_clear_error(2);
    assert!(line.contains("unknown model"), "{line}");
    assert!(
        out.stderr.contains(&format!("did you mean: {m}")) || out.stderr.contains(&m),
        "{}",
        out.stderr
    );
    assert!(
        env.run(&["status", typo])
            .one_clear_error(2)
            .contains("unknown model")
    );
    assert!(
        env.run(&["candidate", typo])
            .one_clear_error(2)
            .contains("unknown model")
    );
    let line = env
        .run(&["rollback", "model", &m, "--to", "9", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("no version 9"), "{line}");
    assert!(
        env.run(&["candidate", &m, "--to", "9"])
            .one_clear_error(2)
            .contains("version 9")
    );
    let line = env
        .run(&["rollback", "model", &m, "--to", "3", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("is the live version"), "{line}");
    let line = env
        .run(&["rollback", "model", &m, "--to", "three", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("not a version number"), "{line}");
    for name in [
        "bad\nname",
        "a'b\"c",
        "../../etc/passwd",
        "$(rm -rf /)",
        "name with spaces",
    ] {
        let out = env.run(&["rollback", "model", name, "--yes"]);
        assert!(out.code == 2, "{name:?}: {}", out.stderr);
        out.one_clear_error(2);
    }
    let line = env
        .run(&["rollback", "model", &m, "--alias", "bad alias!", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("alias"), "{line}");
    assert_eq!(b.snapshot(&m), before);
}

fn reasons_are_cut_and_escaped(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("reason");
    b.seed(&m, &bad_release(), &[]);
    let huge = format!(
        "# Heading\n<script>alert(1)</script> **bold** | pipe\u{7}\u{1b}[31m é {}",
        "x".repeat(100_000)
    );
    let out = env.run(&["rollback", "model", &m, "--yes", "--reason", &huge]);
    out.code(0);
    let (_, tags) = b.version(&m, 2);
    let reason = &tags["rollback.reason"];
    assert_eq!(reason.chars().count(), 500, "the tag keeps 500 characters");
    assert!(
        !reason.chars().any(char::is_control),
        "no control characters in tags"
    );
    assert!(reason.starts_with("# Heading <script>"));
    let report = &out.stdout;
    assert!(
        report.contains("> \\# Heading &lt;script\\>"),
        "escaped in the report"
    );
    assert!(!report.contains("<script>"));
    assert!(!report.contains('\u{1b}'));
    assert!(!report.lines().any(|l| l.starts_with("# Heading")));
}

fn bad_times_and_values(env: &mut TestEnv, b: &dyn Backend) {
    let m = unique("times");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    for (args, needle) in [
        (vec!["--detected-at", "yesterday-ish"], "cannot read"),
        (
            vec!["--detected-at", "2999-01-01T00:00:00Z"],
            "in the future",
        ),
        (vec!["--detected-at", "25:99"], "cannot read"),
        (vec!["--triggered-by", "a\nb"], "one line"),
        (vec!["--to", "0"], "not a version number"),
    ] {
        let mut all = vec!["rollback", "model", m.as_str(), "--yes"];
        all.extend(args.iter().copied());
        let line = env.run(&all).one_clear_error(2);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
    assert_eq!(b.snapshot(&m), before);
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("cfg");
    b.seed(&m, &bad_release(), &[]);
    let before = b.snapshot(&m);
    let cases = [
        (
            "[registry]\nkind = \"file\"\npath = \"registry.json\"\n[models.x]\nmode = \"stage\"\nflavour = 1\n",
            ":6",
            "flavour",
        ),
        ("[registry\nkind = 1\n", ":1", ""),
        ("[models.x]\nmode = \"sideways\"\n", ":2", "sideways"),
        ("[models.x]\nmode = \"alias\"\n", "", "alias"),
        ("[registry]\ntimeout = \"soon\"\n", ":2", "invalid duration"),
        ("[registry]\ntimeout = \"0s\"\n", ":2", "greater than zero"),
        (
            "[models.x.serving]\nkind = \"http\"\nreload_url = \"http://a/reload\"\n",
            "",
            "health_url",
        ),
        ("[models.x]\nregistered_name = 42\n", ":2", "invalid type"),
    ];
    for (text, line_no, needle) in cases {
        let cfg = env.write("mlrb.toml", text);
        let out = env.run(&["--config", cfg.to_str().unwrap(), "status", &m]);
        let line = out.one_clear_error(2);
        assert!(line.contains("mlrb.toml"), "names the file: {line}");
        assert!(line.contains(line_no), "names the line {line_no}: {line}");
        assert!(line.contains(needle), "names {needle}: {line}");
    }
    let out = env.run(&["--config", "/nonexistent/mlrb.toml", "status"]);
    assert!(out.one_clear_error(2).contains("cannot read config"));
    assert_eq!(b.snapshot(&m), before);
}

#[test]
fn corrupt_or_foreign_registry_file_is_refused_untouched() {
    let env = TestEnv::new();
    for (text, needle) in [
        ("{ \"schema\": \"mlrb-registry\", ", "not valid JSON"),
        ("{\"models\": {}}", "not an mlrb registry"),
        (
            "{\"schema\": \"mlrb-registry\", \"schema_version\": 99, \"models\": {}}",
            "schema_version 99",
        ),
        (
            "{\"schema\": \"mlrb-registry\", \"schema_version\": 1, \"models\": {\"m\": {\"versions\": [{\"version\": \"x\"}]}}}",
            "damaged",
        ),
    ] {
        let p = env.write("registry.json", text);
        let out = env.run(&[
            "--registry",
            p.to_str().unwrap(),
            "rollback",
            "model",
            "m",
            "--yes",
        ]);
        assert!(
            out.one_clear_error(2).contains(needle),
            "{needle}: {}",
            out.stderr
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text, "file untouched");
    }
    let out = env.run(&[
        "--registry",
        env.path().join("missing.json").to_str().unwrap(),
        "status",
        "m",
    ]);
    assert!(out.one_clear_error(2).contains("does not exist"));
    let out = env.run(&["status", "m"]);
    assert!(out.one_clear_error(2).contains("no registry is configured"));
}

/// The journal is what tells an unfinished rollback: one that cannot be read stops the
/// rollback with one clear line, before anything changes.
#[test]
fn unreadable_journal_stops_the_rollback_and_changes_nothing() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("journal");
    b.seed(&m, &bad_release(), &[]);
    let blocker = env.write("not-a-dir", "a file where the state dir should be");
    env.set(
        "MLRB_STATE_DIR",
        blocker.join("state").display().to_string(),
    );
    let before = b.snapshot(&m);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    let line = out.one_clear_error(1);
    assert!(line.contains("cannot read the journal"), "{line}");
    assert_eq!(b.snapshot(&m), before, "nothing changed");
    assert_eq!(b.version(&m, 3).0, Stage::Production);
}

#[test]
fn unreachable_registry_names_the_url_and_changes_nothing() {
    let mut env = TestEnv::new();
    let port = free_port();
    env.set("MLFLOW_TRACKING_URI", format!("http://127.0.0.1:{port}"));
    let out = env.run(&["rollback", "model", "recsys", "--yes"]);
    let line = out.one_clear_error(1);
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(out.stderr.contains("nothing was changed"));
    env.set("MLFLOW_TRACKING_URI", "ftp://example.com");
    assert!(
        env.run(&["status", "recsys"])
            .one_clear_error(2)
            .contains("http://")
    );
}

#[test]
fn html_or_text_where_json_was_expected() {
    let html = TestServer::start(|_| {
        Reply::text(
            200,
            "text/html; charset=utf-8",
            "<html><head><title>Sign in - Corp SSO</title></head><body>login</body></html>",
        )
    });
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", html.url.clone());
    let line = env.run(&["status", "recsys"]).one_clear_error(1);
    assert!(
        line.contains("HTML") && line.contains("Sign in - Corp SSO"),
        "{line}"
    );
    let text = TestServer::start(|_| Reply::text(502, "text/plain", "upstream connect error"));
    env.set("MLFLOW_TRACKING_URI", text.url.clone());
    let line = env.run(&["candidate", "recsys"]).one_clear_error(1);
    assert!(
        line.contains("502") && line.contains("upstream connect error"),
        "{line}"
    );
    // 502 is transient: the GET was retried before giving up.
    assert!(text.requests().len() >= 2, "idempotent GET retried");
}

#[test]
fn real_mlflow_html_404_for_a_wrong_base_path() {
    let b = MlflowBackend::new();
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", format!("{}/not-mlflow", b.uri));
    let line = env.run(&["status", "recsys"]).one_clear_error(1);
    assert!(line.contains("404") && line.contains("HTML"), "{line}");
}

#[test]
fn basic_auth_right_wrong_and_host_header() {
    let s = auth_server();
    let m = unique("auth");
    seed_rest(
        &Rest::new(&s.uri).with_auth("admin", ADMIN_PASSWORD),
        &m,
        &bad_release(),
        &[],
    );
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", s.uri.clone());
    env.set("MLFLOW_TRACKING_USERNAME", "admin");
    env.set("MLFLOW_TRACKING_PASSWORD", "wrong-Secret-123");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    let line = out.one_clear_error(1);
    assert!(line.contains("401"), "{line}");
    assert!(
        out.stderr
            .contains("MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD")
    );
    assert!(!out.stderr.contains("wrong-Secret-123") && !out.stdout.contains("wrong-Secret-123"));

    env.vars.remove("MLFLOW_TRACKING_USERNAME");
    env.vars.remove("MLFLOW_TRACKING_PASSWORD");
    env.set("MLFLOW_TRACKING_TOKEN", "tok-Secret-456");
    // MLflow's basic-auth app with its auth cache on fails with a 500 on a Bearer header
    // (a server bug); the hint names the variable the credentials came from.
    let out = env.run(&["status", &m]);
    out.one_clear_error(1);
    assert!(
        out.stderr.contains("MLFLOW_TRACKING_TOKEN"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("tok-Secret-456"));

    env.vars.remove("MLFLOW_TRACKING_TOKEN");
    env.set("MLFLOW_TRACKING_USERNAME", "admin");
    env.set("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD);
    let out = env.run(&["rollback", "model", &m, "--yes", "--verbose"]);
    out.code(0);
    assert!(
        out.stderr.contains("authorization: Basic [redacted]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("http: ← 200"), "{}", out.stderr);
    assert!(!out.stdout.contains(ADMIN_PASSWORD) && !out.stderr.contains(ADMIN_PASSWORD));
    assert!(!env.journal().contains(ADMIN_PASSWORD));

    env.set(
        "MLFLOW_TRACKING_URI",
        format!("http://localhost:{}", s.port),
    );
    let line = env.run(&["status", &m]).one_clear_error(1);
    assert!(
        line.contains("Invalid Host header") && line.contains("--allowed-hosts"),
        "{line}"
    );
}
