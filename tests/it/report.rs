//! The incident report: rendered at the end of a rollback and again by `mlrb report`, filled.

use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique};

#[test]
fn report_is_rendered_again_filled_and_kept() {
    let mut env = TestEnv::new();
    env.set("MLRB_NOW", "2026-11-26T02:17:00Z");
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    env.run(&[
        "rollback",
        "model",
        "recsys",
        "--yes",
        "--reason",
        "Revenue loss: diversity collapsed 0.73 -> 0.04",
        "--detected-at",
        "2026-11-26T02:05:00Z",
        "--triggered-by",
        "alice@example.com",
    ])
    .code(0);
    let out = env.run(&[
        "report",
        "--last",
        "--root-cause",
        "feature pipeline changed the embeddings",
        "--factor",
        "three versions in Production",
        "--action",
        "Alert on diversity drop|bob|2026-12-15",
    ]);
    out.code(0);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"rollback-\d{8}T\d{6}Z-[0-9a-f]{4}", "[EVENT]");
    // The "What Changed" table dates the fixture's registry versions by the real clock.
    settings.add_filter(
        r"\| \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \|",
        "| [DATETIME] |",
    );
    settings.add_filter(r"0[2]:\d{2}:\d{2}\.\d{3}", "[TIME]");
    settings.add_filter(r"\d+(\.\d+)? ms|\d+\.\ds", "[DUR]");
    settings.add_filter(
        r"file registry /[^,]*registry\.json",
        "file registry [PATH]",
    );
    settings.add_filter(r"\b\d+m \d{2}s\b", "[MIN:SEC]");
    settings.bind(|| insta::assert_snapshot!("filled_report", out.stdout));
    // Annotations are kept: a later render still has them.
    let again = env.run(&["report", "--last"]).code(0).stdout.clone();
    assert!(again.contains("feature pipeline changed the embeddings"));
    assert!(
        again.contains("- [ ] Alert on diversity drop - Owner: bob, Due: 2026\\-12\\-15")
            || again.contains("Owner: bob, Due: 2026-12-15"),
        "{again}"
    );
    let file = env.path().join("incident.md");
    env.run(&["report", "--last", "--out", file.to_str().unwrap()])
        .code(0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), again);
    // No silent overwrite: an existing file stays unless --force.
    std::fs::write(&file, "notes of the post-mortem meeting\n").unwrap();
    let line = env
        .run(&["report", "--last", "--out", file.to_str().unwrap()])
        .one_clear_error(2);
    assert!(line.contains("already exists"), "{line}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "notes of the post-mortem meeting\n"
    );
    env.run(&[
        "report",
        "--last",
        "--out",
        file.to_str().unwrap(),
        "--force",
    ])
    .code(0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), again);
    // `-o json` is the report's data, the markdown one of its fields.
    let data: serde_json::Value =
        serde_json::from_str(&env.run(&["report", "--last", "-o", "json"]).code(0).stdout).unwrap();
    assert_eq!(data["outcome"], "rolled_back", "{data}");
    assert_eq!(
        data["markdown"].as_str().unwrap().trim_end(),
        again.trim_end(),
        "{data}"
    );
    assert!(data["mttr"].is_object(), "{data}");
    assert!(data["checks"].is_array(), "{data}");
}

#[test]
fn report_bad_input() {
    let env = TestEnv::new();
    assert!(
        env.run(&["report", "--last"])
            .one_clear_error(2)
            .contains("no rollback events")
    );
    assert!(
        env.run(&["report", "rollback-nope"])
            .one_clear_error(2)
            .contains("no event")
    );
    let line = env
        .run(&["report", "--action", "only-what"])
        .one_clear_error(2);
    assert!(line.contains("what|owner|due"), "{line}");
}

/// The `**Status:**` line of a rendered report.
fn status_line(report: &str) -> &str {
    report
        .lines()
        .find(|l| l.starts_with("**Status:**"))
        .unwrap_or_else(|| panic!("no status line in\n{report}"))
}

/// The timeline's last row, without its time.
fn last_timeline_row(report: &str) -> &str {
    let timeline = &report[report.find("## Timeline").expect("a timeline")..];
    let end = timeline.find("\n## ").unwrap_or(timeline.len());
    let row = timeline[..end]
        .lines()
        .rfind(|l| l.starts_with("- **"))
        .expect("a timeline row");
    row.split_once(" - ").map(|(_, r)| r).unwrap_or(row)
}

/// With no serving reload and no metrics, the report and the last line say that only the
/// registry was verified, and name the checks that were not made and why.
#[test]
fn report_states_only_what_was_checked() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    let out = env.run(&[
        "rollback", "model", "recsys", "--yes", "--reason", "bad recs",
    ]);
    out.code(0);
    let checked = "registry verified; serving not checked: no reload configured; metrics not checked: none configured";
    assert_eq!(
        status_line(&out.stdout),
        format!("**Status:** Resolved ({checked})")
    );
    assert_eq!(
        last_timeline_row(&out.stdout),
        format!("Finished: rolled back recsys: v3 → v2 — {checked}")
    );
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "rolled back recsys: v3 → v2 — {checked} (event rollback-"
        )),
        "{}",
        out.stderr
    );
    let again = env.run(&["report", "--last"]).code(0).stdout.clone();
    assert_eq!(
        status_line(&again),
        format!("**Status:** Resolved ({checked})")
    );
    // -o json names the same checks.
    b.transition("recsys", 3, mlrb::registry::Stage::Production);
    b.transition("recsys", 2, mlrb::registry::Stage::Archived);
    let out = env.run(&[
        "rollback", "model", "recsys", "--yes", "--to", "1", "-o", "json",
    ]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["checks"],
        serde_json::json!([
            "registry verified",
            "serving not checked: no reload configured",
            "metrics not checked: none configured"
        ])
    );
}

/// A reload whose served version was read back and metrics back to baseline are named as such;
/// metrics skipped with --no-verify are named as not checked.
#[test]
fn report_names_the_reload_and_metrics_it_confirmed() {
    use crate::common::http_server::{Reply, TestServer};
    use crate::common::prometheus::{model_config, prom};
    use std::sync::{Arc, Mutex};
    let served = Arc::new(Mutex::new("3".to_string()));
    let s = served.clone();
    let server = TestServer::start(move |req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/reload") => {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            *s.lock().unwrap() = body["version"].as_str().unwrap_or("").to_string();
            Reply::json(202, serde_json::json!({"accepted": true}))
        }
        ("GET", "/health") => Reply::json(
            200,
            serde_json::json!({"model": {"version": *s.lock().unwrap()}}),
        ),
        _ => Reply::text(404, "text/plain", "not found"),
    });
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("checked");
    b.seed(&m, &bad_release(), &[]);
    let url = &server.url;
    env.write(
        "mlrb.toml",
        &format!(
            "{}[models.\"{m}\".serving]\nkind = \"http\"\nreload_url = \"{url}/reload\"\nhealth_url = \"{url}/health\"\nversion_pointer = \"/model/version\"\ntimeout = \"10s\"\n",
            model_config(
                &p.url,
                &m,
                &["error_rate"],
                &format!(
                    "detection_lookback = \"2m\"\n[models.\"{m}\".baseline]\nerror_rate = 0.01\n[models.\"{m}\".verify]\ntimeout = \"20s\"\ninterval = \"1s\"\n"
                ),
            )
        ),
    );
    p.put(&m, "error_rate", 0.01);
    let out = env.run(&["rollback", "model", &m, "--yes", "--detected-at", "5m"]);
    out.code(0);
    assert_eq!(
        status_line(&out.stdout),
        "**Status:** Resolved (registry verified; serving reloaded and v2 confirmed served; metrics back to baseline)"
    );
    assert_eq!(*served.lock().unwrap(), "2");
    b.transition(&m, 3, mlrb::registry::Stage::Production);
    b.transition(&m, 2, mlrb::registry::Stage::Archived);
    let out = env.run(&["rollback", "model", &m, "--yes", "--to", "1", "--no-verify"]);
    out.code(0);
    assert_eq!(
        status_line(&out.stdout),
        "**Status:** Resolved (registry verified; serving reloaded and v1 confirmed served; metrics not checked: --no-verify given)"
    );
}

/// Severity agrees with the breach its own timeline records: an error-rate breach found in
/// Prometheus history is P2 whatever the reason says.
#[test]
fn severity_agrees_with_the_breach_in_the_timeline() {
    use crate::common::prometheus::{model_config, prom};
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("severity");
    b.seed(&m, &bad_release(), &[]);
    env.write(
        "mlrb.toml",
        &model_config(
            &p.url,
            &m,
            &["error_rate"],
            &format!("detection_lookback = \"2m\"\n[models.\"{m}\".baseline]\nerror_rate = 0.01\n"),
        ),
    );
    p.put(&m, "error_rate", 0.01);
    std::thread::sleep(std::time::Duration::from_secs(2));
    p.put(&m, "error_rate", 0.08);
    let out = env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--no-verify",
        "--reason",
        "drill",
    ]);
    out.code(0);
    assert!(
        out.stdout
            .contains("Breach began (from Prometheus history): Error rate 8.0% exceeds"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "**Severity:** P2 (the breach in the timeline mentions error rate or latency; adjust if needed)"
        ),
        "{}",
        out.stdout
    );
}

/// Rendered again after the registry moved on (the bad release promoted again, the rollback
/// target archived, a new version), the report reads the same up to its "Since Then" section,
/// which says what changed after the event; each version's place is the one it had.
#[test]
fn report_reads_the_same_tomorrow_on_mlflow() {
    use crate::common::mlflow::MlflowBackend;
    use mlrb::registry::Stage;
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    let m = unique("tomorrow");
    b.seed(&m, &bad_release(), &[]);
    env.run(&["rollback", "model", &m, "--yes", "--reason", "bad recs"])
        .code(0);
    let today = env.run(&["report", "--last"]).code(0).stdout.clone();
    assert!(!today.contains("## Since Then"), "{today}");
    assert!(today.contains("| v3 | Production | Archived |"), "{today}");
    assert!(today.contains("| v2 | Archived | Production |"), "{today}");
    assert!(
        today.contains(&format!(
            "| model | v3 registered from s3://models/{m}/v3 |"
        )),
        "{today}"
    );

    // Another machine (its own journal) rolls back to v1; then a hand promotes the bad release
    // again and a new version is registered.
    let mut other = TestEnv::new();
    b.configure(&mut other);
    other.set("USER", "bob");
    other
        .run(&["rollback", "model", &m, "--yes", "--to", "1"])
        .code(0);
    b.transition(&m, 3, Stage::Production);
    b.rest.post(
        "model-versions/create",
        serde_json::json!({"name": m, "source": format!("s3://models/{m}/v4")}),
    );
    let tomorrow = env.run(&["report", "--last"]).code(0).stdout.clone();
    let cut = tomorrow
        .find("## Since Then")
        .unwrap_or_else(|| panic!("no Since Then section:\n{tomorrow}"));
    assert_eq!(&tomorrow[..cut], &today[..cut], "the record changed");
    let since = &tomorrow[cut..];
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[DATETIME]");
    settings.add_filter(&regex_escape(&m), "[MODEL]");
    settings.add_filter(r"rollback-\d{8}T\d{6}Z-[0-9a-f]{4}", "[EVENT]");
    settings.add_filter(r"bob@[A-Za-z0-9.-]+", "bob@[HOST]");
    settings.bind(|| insta::assert_snapshot!("since_then", since));
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// The rows of the report's timeline, without their times.
fn timeline_rows(report: &str) -> Vec<String> {
    let timeline = &report[report.find("## Timeline").expect("a timeline")..];
    let end = timeline.find("\n## ").unwrap_or(timeline.len());
    timeline[..end]
        .lines()
        .filter(|l| l.starts_with("- **"))
        .map(|l| l.split_once(" - ").map_or(l, |(_, r)| r).to_string())
        .collect()
}

/// Killed during a step and resumed, the event's timeline shows where it stopped and the
/// resume, in order, before its end; killed between steps, it says after which step.
#[test]
fn an_interrupted_and_resumed_rollback_shows_both_in_its_timeline() {
    for (point, stopped) in [
        (
            "started:2",
            "Interrupted during step 2/5 (registry  transition-stage  recsys v3: Production → Archived): the process stopped before its end was recorded",
        ),
        (
            "finished:1",
            "Interrupted after step 1/5: the process stopped before the next one began",
        ),
    ] {
        let mut env = TestEnv::new();
        let b = FileBackend::new(&env);
        b.configure(&mut env);
        b.seed("recsys", &bad_release(), &[]);
        let out = env
            .mlrb()
            .args(["rollback", "model", "recsys", "--yes"])
            .env("MLRB_TEST_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(out.status.code().is_none(), "{point}: killed");
        let now = env.run(&["report", "--last"]).code(0).stdout.clone();
        assert_eq!(
            timeline_rows(&now).last().unwrap(),
            stopped,
            "{point}:\n{now}"
        );
        env.run(&["rollback", "model", "recsys", "--resume", "--yes"])
            .code(0);
        let rows = timeline_rows(&env.run(&["report", "--last"]).code(0).stdout);
        let at = |want: &str| {
            rows.iter()
                .position(|r| r.starts_with(want))
                .unwrap_or_else(|| panic!("{point}: no row {want:?} in {rows:#?}"))
        };
        let (stop, resume, end) = (
            at(stopped),
            at("Rollback resumed (--resume --yes)"),
            at("Finished: rolled back recsys: v3 → v2"),
        );
        assert!(stop < resume && resume < end, "{point}: {rows:#?}");
        assert_eq!(end, rows.len() - 1, "{point}: {rows:#?}");
    }
}

crate::on_both_registries!(names_render_as_written_in_code_spans);

/// A model whose name holds backticks, an ampersand, a backslash and `#` is named exactly so in
/// the report's code spans, as a CommonMark parser reads them.
fn names_render_as_written_in_code_spans(env: &mut TestEnv, b: &dyn Backend) {
    let name = format!("rec`s&x\\y#1-{}", unique("n"));
    b.seed(&name, &bad_release(), &[]);
    let out = env.run(&["rollback", "model", &name, "--yes"]);
    out.code(0);
    let report = env.run(&["report", "--last"]).code(0).stdout.clone();
    let code: Vec<String> = pulldown_cmark::Parser::new(&report)
        .filter_map(|e| match e {
            pulldown_cmark::Event::Code(c) => Some(c.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        code.iter().filter(|c| **c == name).count() >= 2,
        "model and registered name as written: {code:#?}\n{report}"
    );
    assert!(
        code.contains(&"mlrb rollback model".to_string()),
        "{code:#?}"
    );
}

/// The report draws the four MTTR phases as a Mermaid gantt chart; a phase not measured is a
/// comment saying why, not a bar.
#[test]
fn report_has_a_gantt_of_the_mttr_phases() {
    let mut env = TestEnv::new();
    env.set("MLRB_NOW", "2026-11-26T02:17:00Z");
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    let out = env.run(&[
        "rollback",
        "model",
        "recsys",
        "--yes",
        "--detected-at",
        "2026-11-26T02:05:00Z",
    ]);
    out.code(0);
    let chart = |report: &str| {
        let start = report.find("```mermaid\n").expect("a mermaid block");
        let len = report[start + 3..].find("```").expect("its end") + 6;
        report[start..start + len].to_string()
    };
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"02:1\d:\d{2}\.\d{3}", "[TIME]");
    settings.add_filter(r"\d+ ms|\d+\.\ds", "[DUR]");
    settings.add_filter(r"\b\d+m \d{2}s\b", "[MIN:SEC]");
    settings.bind(|| insta::assert_snapshot!("mttr_gantt", chart(&out.stdout)));
    // Not measured: no --detected-at and no metrics.
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    let out = env.run(&["rollback", "model", "recsys", "--yes"]);
    out.code(0);
    let c = chart(&out.stdout);
    assert!(
        c.contains("    %% detection: not measured: pass --detected-at")
            && !c.contains("    detection ("),
        "{c}"
    );
}

/// The bad release's promotion, when it came after its registration, is in the record: the
/// report's timeline is of the registry as the rollback's plan read it, before the rollback
/// archived the release, and the hint names the promotion as the change closest to the breach.
#[test]
fn the_bad_releases_promotion_is_in_the_record_on_mlflow() {
    use crate::common::mlflow::MlflowBackend;
    use crate::common::v;
    use mlrb::registry::Stage;
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    let m = unique("promoted");
    b.seed(
        &m,
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::None),
        ],
        &[],
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    b.transition(&m, 2, Stage::Archived);
    std::thread::sleep(std::time::Duration::from_millis(200));
    b.transition(&m, 3, Stage::Production);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    env.run(&["rollback", "model", &m, "--yes", "--detected-at", "1s"])
        .code(0);
    let report = env.run(&["report", "--last"]).code(0).stdout.clone();
    assert!(
        report.contains("| model | v3 updated; since then Production |"),
        "{report}"
    );
    assert!(
        report.contains("**Hint:** closest change before the breach at ")
            && report.contains("the model (registry) — v3 updated; since then Production"),
        "{report}"
    );
}
