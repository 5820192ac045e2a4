//! The incident report's metric charts, from the real Prometheus: a Mermaid xychart inline, an
//! SVG beside the report with `--out`; and the MTTR trend of `drill --history` as a sparkline.

use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique};

/// A rollback of a model whose error rate breached, then recovered after the flip: the test
/// environment, the model, the config and the rollback's stdout.
fn breached_and_rolled_back() -> (TestEnv, String, String, String) {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("chart");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &p.url,
        &m,
        &["error_rate"],
        &format!(
            "detection_lookback = \"2m\"\n[models.\"{m}\".baseline]\nerror_rate = 0.01\n\
             [models.\"{m}\".verify]\ntimeout = \"30s\"\ninterval = \"1s\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    p.set(&m, "error_rate", 0.01);
    std::thread::sleep(std::time::Duration::from_secs(2));
    p.put(&m, "error_rate", 0.09);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let m2 = m.clone();
    let fixer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(3));
        prom().set(&m2, "error_rate", 0.01);
    });
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    fixer.join().unwrap();
    out.code(0);
    (env, m, toml, out.stdout)
}

#[test]
fn the_report_charts_the_breached_metric_inline_and_as_svg() {
    let (env, _m, _toml, _out) = breached_and_rolled_back();
    // On stdout: a Mermaid xychart with the breach's values, and the moments it marks.
    let report = env.run(&["report", "--last"]).code(0).stdout.clone();
    let at = report
        .find("## Metrics\n")
        .unwrap_or_else(|| panic!("no Metrics section:\n{report}"));
    assert!(at < report.find("## Impact").unwrap(), "{report}");
    let section = &report[at..report.find("## Impact").unwrap()];
    assert!(section.contains("```mermaid\nxychart-beta\n"), "{section}");
    assert!(
        section.contains("    title \"error_rate (UTC)\""),
        "{section}"
    );
    let line = section
        .lines()
        .find(|l| l.starts_with("    line ["))
        .unwrap_or_else(|| panic!("no line:\n{section}"));
    assert!(line.contains("0.09") && line.contains("0.01"), "{line}");
    for mark in ["breach start", "confirmed", "registry flipped", "recovered"] {
        assert!(
            section.contains(&format!("%% {mark} at ")),
            "{mark}: {section}"
        );
    }
    assert!(
        section.contains("error\\_rate over the incident window (UTC); marked: breach start "),
        "{section}"
    );

    // With --out: an SVG beside the report, linked from it; not replaced without --force.
    let out = env.path().join("incident.md");
    env.run(&["report", "--last", "--out", out.to_str().unwrap()])
        .code(0);
    let md = std::fs::read_to_string(&out).unwrap();
    assert!(
        md.contains("![error\\_rate](incident.error_rate.svg)"),
        "{md}"
    );
    assert!(!md.contains("xychart"), "{md}");
    let svg = std::fs::read_to_string(env.path().join("incident.error_rate.svg")).unwrap();
    assert!(
        svg.starts_with("<svg width=\"800\" height=\"360\""),
        "{svg}"
    );
    for text in [
        "breach start",
        "registry flipped",
        "recovered",
        "error_rate from ",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    std::fs::remove_file(&out).unwrap();
    let line = env
        .run(&["report", "--last", "--out", out.to_str().unwrap()])
        .one_clear_error(2);
    assert!(
        line.contains("incident.error_rate.svg already exists"),
        "{line}"
    );
    assert!(!out.exists());
    env.run(&[
        "report",
        "--last",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ])
    .code(0);
    assert!(out.exists());
}

/// `report` without its "Since Then" section (what is read at render time, not the record).
fn without_since_then(report: &str) -> String {
    match report.find("\n## Since Then\n") {
        Some(i) => {
            let end = report[i..].find("\n---\n").map_or(report.len(), |e| i + e);
            format!("{}{}", &report[..i], &report[end..])
        }
        None => report.to_string(),
    }
}

/// The report printed at the end of a rollback of a model with metrics draws the breached
/// metric inline, and is the report `mlrb report EVENT` renders of that event (less what is
/// known since): one composition. The samples are frozen into the journal at the close, so
/// the chart is drawn the same when Prometheus can no longer be read; without them, a
/// Prometheus that cannot be read is one line in the Metrics section, and the exit is 0.
#[test]
fn the_end_of_rollback_report_charts_the_metric_as_mlrb_report_does() {
    let (mut env, _m, toml, rolled) = breached_and_rolled_back();
    let (report, mttr) = rolled
        .split_once("MTTR of ")
        .unwrap_or_else(|| panic!("no MTTR after the report:\n{rolled}"));
    // After the plan (which `mlrb report` does not repeat).
    let report = &report[report
        .find("# Incident Report")
        .unwrap_or_else(|| panic!("no report:\n{rolled}"))..];
    let event = mttr.lines().next().unwrap().trim().to_string();
    let at = report
        .find("## Metrics\n")
        .unwrap_or_else(|| panic!("no Metrics section in the rollback's report:\n{report}"));
    let section = &report[at..report.find("## Impact").unwrap()];
    assert!(section.contains("```mermaid\nxychart-beta\n"), "{section}");
    assert!(
        section.contains("    title \"error_rate (UTC)\""),
        "{section}"
    );
    for mark in ["breach start", "confirmed", "registry flipped", "recovered"] {
        assert!(
            section.contains(&format!("%% {mark} at ")),
            "{mark}: {section}"
        );
    }

    // The same report, rendered again from the journal.
    let again = env.run(&["report", &event]).code(0).stdout.clone();
    assert_eq!(without_since_then(&again), report);

    // The samples drawn are in the journal, after the event's close.
    let records: Vec<serde_json::Value> = env
        .journal()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["event"] == event.as_str())
        .collect();
    let types: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    let finished = types.iter().position(|t| *t == "finished").unwrap();
    let charts = types
        .iter()
        .position(|t| *t == "charts")
        .unwrap_or_else(|| panic!("no charts record: {types:?}"));
    assert!(charts > finished, "{types:?}");
    let frozen = &records[charts]["charts"][0];
    assert_eq!(frozen["metric"], "error_rate");
    assert!(frozen["points"].as_array().unwrap().len() > 2, "{frozen}");

    // Prometheus gone: the frozen chart is still drawn, the same.
    let gone = format!("http://127.0.0.1:{}", crate::common::mlflow::free_port());
    let url = toml
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_url = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string();
    let cfg = env.write("mlrb-gone.toml", &toml.replace(&url, &gone));
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let offline = env.run(&["report", &event]).code(0).stdout.clone();
    assert_eq!(without_since_then(&offline), report);

    // Without frozen samples (an event closed before mlrb froze them): one line says why
    // there is no chart.
    let journal = env.state_dir().join("journal.jsonl");
    let kept: Vec<String> = env
        .journal()
        .lines()
        .filter(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["type"] != "charts"
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&journal, kept.concat()).unwrap();
    let blind = env.run(&["report", &event]).code(0).stdout.clone();
    let at = blind
        .find("## Metrics\n")
        .unwrap_or_else(|| panic!("no Metrics section:\n{blind}"));
    let section = &blind[at..blind.find("## Impact").unwrap()];
    assert!(!section.contains("xychart"), "{section}");
    let said: Vec<&str> = section.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(said.len(), 2, "{section}");
    assert!(
        said[1].starts_with("Not drawn: error\\_rate could not be read from Prometheus: "),
        "{section}"
    );
    assert!(said[1].contains(&gone.replace("http://", "")), "{section}");
}

/// `drill --history` draws the MTTR of the drills like the newest (same model and mode) as a
/// sparkline, oldest to newest, with its range; a lone drill has no trend to draw.
#[test]
fn drill_history_shows_the_mttr_trend_as_a_sparkline() {
    let env = TestEnv::new();
    let state = env.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    let record = |i: usize, model: &str, mode: &str, mttr: i64| {
        serde_json::json!({
            "id": format!("drill-{i}"), "model": model, "mode": mode, "sandbox": true,
            "started_at": format!("2026-11-2{i}T10:00:00Z"), "wall_millis": 1000,
            "detection_millis": 100, "triage_millis": 100, "execution_millis": 100,
            "verification_millis": mttr - 300, "mttr_millis": mttr, "mttr_complete": true,
            "rollback": "rolled_back", "restored": true, "passed": true,
        })
        .to_string()
    };
    let write = |lines: &[String]| {
        std::fs::write(state.join("drills.jsonl"), lines.join("\n") + "\n").unwrap();
    };
    write(&[record(1, "recsys", "manual", 4000)]);
    let out = env.run(&["drill", "--history"]);
    out.code(0);
    assert!(!out.stdout.contains("MTTR of "), "{}", out.stdout);
    write(&[
        record(1, "recsys", "manual", 4000),
        record(2, "recsys", "auto", 60000),
        record(3, "recsys", "manual", 2000),
        record(4, "other", "manual", 90000),
        record(5, "recsys", "manual", 9000),
        record(6, "recsys", "manual", 3000),
    ]);
    let out = env.run(&["drill", "--history", "recsys"]);
    out.code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("MTTR of "))
        .unwrap_or_else(|| panic!("no sparkline:\n{}", out.stdout));
    assert_eq!(
        line,
        "MTTR of 4 drills like it, oldest to newest: ▃▁█▂ (2.0s–9.0s)"
    );
}
