//! The incident report's revenue-impact estimate: `revenue_loss_per_minute` from a real
//! Prometheus, integrated over the degradation window; and what the report says when it cannot.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique};
use mlrb::metrics::revenue::money;

fn setup(toml: &str) -> (TestEnv, FileBackend, String) {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("revenue");
    b.seed(&m, &bad_release(), &[]);
    let cfg = env.write("mlrb.toml", &toml.replace("MODEL", &m));
    env.set("MLRB_CONFIG", cfg.display().to_string());
    (env, b, m)
}

fn revenue_config(url: &str, extra: &str) -> String {
    model_config(
        url,
        "MODEL",
        &["revenue_loss_per_minute"],
        &format!(
            "detection_lookback = \"1m\"\n[models.\"MODEL\".thresholds]\nmax_revenue_loss_per_minute = 5000.0\n\
             [models.\"MODEL\".verify]\ntimeout = \"20s\"\ninterval = \"1s\"\n{extra}"
        ),
    )
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Seconds between two times.
fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

/// Two models lose $3 000 a minute from the same moment on. One rollback gives a breach start
/// after the first sample (the whole window is sampled), the other 5 s before Prometheus has
/// any data (that part of the window is uncovered and not counted).
#[test]
fn estimate_integrates_a_constant_loss_over_the_window() {
    let p = prom();
    let url = p.url.clone();
    let (env_full, _b1, full) = setup(&revenue_config(&url, ""));
    let (env_gap, _b2, gap) = setup(&revenue_config(&url, ""));
    let set_at = Utc::now();
    p.set(&full, "revenue_loss_per_minute", 3000.0);
    p.set(&gap, "revenue_loss_per_minute", 3000.0);
    p.wait_for(&full, "revenue_loss_per_minute", 3000.0);
    p.wait_for(&gap, "revenue_loss_per_minute", 3000.0);
    let scraped = Utc::now();
    // Every sample from `scraped` on is known to be there; let the loss run for a while.
    std::thread::sleep(Duration::from_secs(8));
    let lag = secs(set_at, scraped);

    let detected = scraped + chrono::Duration::milliseconds(500);
    let out = env_full.run(&[
        "rollback",
        "model",
        &full,
        "--yes",
        "--detected-at",
        &rfc3339(detected),
        "-o",
        "json",
    ]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let r = &v["revenue_impact"];
    assert_eq!(r["status"], "estimated", "{v}");
    assert_eq!(r["window"]["start_from"], "detected_at");
    assert_eq!(r["window"]["end_at"], "metrics_verified");
    assert_eq!(r["step_seconds"], 1);
    assert_eq!(r["series"], 1);
    let (start, end) = (at(&r["window"]["start"]), at(&r["window"]["end"]));
    assert_eq!(start.timestamp_millis(), detected.timestamp_millis());
    // The window ends when the metrics were verified back to baseline, as journaled.
    let verified = env_full
        .journal()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "metrics_verified" && r["ok"] == true)
        .expect("metrics verified");
    assert_eq!(end, at(&verified["at"]));
    let minutes = secs(start, end) / 60.0;
    assert!(minutes > 7.0 / 60.0, "{minutes}");
    let lost = r["lost"].as_f64().unwrap();
    assert!(r["coverage"].as_f64().unwrap() > 0.9999, "{r}");
    assert!(
        (lost - 3000.0 * minutes).abs() < 3000.0 * minutes * 0.01,
        "lost {lost} vs 3000 × {minutes} min"
    );
    // The same estimate in the report printed by the rollback and by `mlrb report`.
    let report = v["report"].as_str().unwrap();
    assert!(report.contains("## Revenue Impact (estimate)"), "{report}");
    let again = env_full.run(&["report", "--last"]);
    again.code(0);
    for text in [report, again.stdout.as_str()] {
        let line = format!(
            "≈ {} lost over {} ({} → {} UTC; `revenue_loss_per_minute` from Prometheus, step 1 s, 100% of the window sampled).",
            money(lost),
            mlrb::clock::human(end - start),
            start.format("%H:%M:%S"),
            end.format("%H:%M:%S"),
        );
        assert!(text.contains(&line), "want {line:?} in:\n{text}");
        assert!(
            text.contains(&format!(
                "- **Revenue impact (estimated):** ≈ {} (see Revenue Impact below)",
                money(lost)
            )),
            "{text}"
        );
        assert!(
            text.contains("to the end of verification, when the metrics were back to baseline"),
            "{text}"
        );
        assert!(!text.contains("**Gaps:**"), "{text}");
    }

    // Breach start 5 s before the gauge existed: those seconds have no samples.
    let detected = set_at - chrono::Duration::seconds(5);
    let out = env_gap.run(&[
        "rollback",
        "model",
        &gap,
        "--yes",
        "--detected-at",
        &rfc3339(detected),
        "-o",
        "json",
    ]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let r = &v["revenue_impact"];
    assert_eq!(r["status"], "estimated", "{v}");
    let (start, end) = (at(&r["window"]["start"]), at(&r["window"]["end"]));
    let window = secs(start, end);
    let coverage = r["coverage"].as_f64().unwrap();
    let uncovered = window * (1.0 - coverage);
    // At least the 5 s before the gauge was set; at most that plus the scrape lag and one step.
    assert!(
        (4.9..=5.0 + lag + 1.5).contains(&uncovered),
        "uncovered {uncovered} s of {window} s (scrape lag {lag} s)"
    );
    let lost = r["lost"].as_f64().unwrap();
    let sampled_minutes = window * coverage / 60.0;
    assert!(
        (lost - 3000.0 * sampled_minutes).abs() < 3000.0 * sampled_minutes * 0.01,
        "lost {lost} vs 3000 × {sampled_minutes} sampled min"
    );
    let report = v["report"].as_str().unwrap();
    assert!(
        report.contains("of the window has no samples; that time is not counted"),
        "{report}"
    );
}

/// Without --detected-at and without a breach in Prometheus history the window has no start.
#[test]
fn estimate_without_a_breach_start_says_how_to_give_one() {
    let p = prom();
    let (env, _b, m) = setup(&revenue_config(&p.url, ""));
    p.put(&m, "revenue_loss_per_minute", 100.0);
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    let impact = out
        .stdout
        .split("\n## Impact\n")
        .nth(1)
        .and_then(|s| s.split("\n## What Changed").next())
        .unwrap();
    insta::assert_snapshot!("revenue_unknown_start", impact);
    for text in [
        out.stdout.clone(),
        env.run(&["report", "--last"]).code(0).stdout.clone(),
    ] {
        assert!(
            text.contains(
                "## Revenue Impact (estimate)\n\nNot available: the start of the degradation is unknown: no --detected-at was given and Prometheus history showed no breach. Give the time the breach began with `--detected-at`"
            ),
            "{text}"
        );
        assert!(
            text.contains("- **Revenue impact (estimated):** [fill in] (no estimate: the start of the degradation is unknown)"),
            "{text}"
        );
    }
}

/// Prometheus down: the rollback and the report go on, the section says why there is no number.
/// And without a revenue query, nothing at all is asked of Prometheus for the report.
#[test]
fn estimate_with_prometheus_unreachable_never_fails_the_rollback() {
    let port = crate::common::mlflow::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (env, b, m) = setup(&revenue_config(&url, ""));
    let out = env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--no-verify",
        "--detected-at",
        "5m",
        "-o",
        "json",
    ]);
    out.code(0);
    assert_eq!(b.version(&m, 2).0, mlrb::registry::Stage::Production);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["revenue_impact"]["status"], "failed", "{v}");
    assert!(
        v["revenue_impact"]["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot reach Prometheus at {url}")),
        "{v}"
    );
    let report = env.run(&["report", "--last"]);
    report.code(0);
    for text in [v["report"].as_str().unwrap(), report.stdout.as_str()] {
        let want = format!(
            "## Revenue Impact (estimate)\n\nCould not be estimated: cannot reach Prometheus at {url}: "
        );
        assert!(text.contains(&want), "want {want:?} in:\n{text}");
        assert!(
            text.contains(
                "- **Revenue impact (estimated):** [fill in] (could not be estimated, see below)"
            ),
            "{text}"
        );
    }
    let section = report
        .stdout
        .split("## Revenue Impact (estimate)")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    assert_eq!(
        section.trim().lines().count(),
        1,
        "one line of reason: {section}"
    );

    use crate::common::http_server::{Reply, TestServer};
    let peer = TestServer::start(|_| Reply::json(500, serde_json::json!({})));
    let toml = model_config(&peer.url, "MODEL", &["error_rate"], "");
    let (env, _b, m) = setup(&toml);
    let out = env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--no-verify",
        "--detected-at",
        "5m",
    ]);
    out.code(0);
    assert!(!out.stdout.contains("Revenue Impact"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("- **Revenue impact (estimated):** [fill in]\n"),
        "{}",
        out.stdout
    );
    env.run(&["report", "--last"]).code(0);
    // `report` asks only for the breached metric's chart, never for a revenue estimate.
    let asked = peer.requests();
    assert!(
        asked
            .iter()
            .all(|r| r.path.contains("query_range") && r.path.contains("mlrb_test_error_rate")),
        "no request without the query: {asked:?}"
    );
}

/// An unaggregated query answering one series per pod: the losses are summed, and the text says so.
#[test]
fn estimate_sums_several_series() {
    let p = prom();
    let (env, _b, m) = setup(&revenue_config(&p.url, ""));
    p.set_labeled(&m, "revenue_loss_per_minute", "a", 1000.0);
    p.set_labeled(&m, "revenue_loss_per_minute", "b", 2000.0);
    let q = format!("sum(mlrb_test_revenue_loss_per_minute{{model=\"{m}\"}})");
    let t0 = std::time::Instant::now();
    while p.instant(&q) != Some(3000.0) {
        assert!(t0.elapsed() < Duration::from_secs(20), "never scraped");
        std::thread::sleep(Duration::from_millis(100));
    }
    let detected = Utc::now() + chrono::Duration::milliseconds(500);
    std::thread::sleep(Duration::from_secs(5));
    // --no-verify: verification judges each metric as one series and would refuse two.
    let out = env.run(&[
        "rollback",
        "model",
        &m,
        "--yes",
        "--no-verify",
        "--detected-at",
        &rfc3339(detected),
        "-o",
        "json",
    ]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let r = &v["revenue_impact"];
    assert_eq!(r["status"], "estimated", "{v}");
    assert_eq!(r["series"], 2);
    assert_eq!(r["window"]["end_at"], "rollback_end");
    let minutes = secs(at(&r["window"]["start"]), at(&r["window"]["end"])) / 60.0;
    let lost = r["lost"].as_f64().unwrap();
    assert!(
        (lost - 3000.0 * minutes).abs() < 3000.0 * minutes * 0.01,
        "lost {lost} vs 3000 × {minutes} min"
    );
    let report = v["report"].as_str().unwrap();
    assert!(
        report.contains("100% of the window sampled, summed over 2 series)."),
        "{report}"
    );
    assert!(
        report
            .contains("to the end of the rollback: the metrics were not verified back to baseline"),
        "{report}"
    );
}
