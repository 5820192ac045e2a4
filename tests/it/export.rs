//! `mlrb export`: the rules file checked by the real `promtool` and loaded into a real
//! Prometheus (a breach goes pending, then firing after the `for:` window; a healthy value
//! stays inactive), the AnalysisTemplate accepted by the real kube-apiserver, and drift in
//! `status --rules`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::prometheus::{ActiveAlert, Prom, model_config, prom_with_rules};
use crate::common::{TestEnv, unique};

fn promtool() -> &'static str {
    let found = Command::new("sh")
        .args(["-c", "command -v promtool"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "promtool is required (it comes with Debian's prometheus package): run `tests/env/setup.sh prometheus`"
    );
    "promtool"
}

/// An env whose config gives model `m` error rate and diversity queries on the test gauges,
/// a 1 s check interval and 3 consecutive breaches (or 2 of the last 4 checks).
fn setup(prefix: &str) -> (TestEnv, String) {
    let mut env = TestEnv::new();
    let m = unique(prefix);
    let toml = model_config(
        "http://127.0.0.1:9",
        &m,
        &["error_rate", "prediction_diversity"],
        &format!(
            "[models.\"{m}\".baseline]\nprediction_diversity = 0.73\n[models.\"{m}\".controller]\ncheck_interval = \"1s\"\nconsecutive_failures_required = 3\nfailures_in_window = 2\nwindow = 4\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    (env, m)
}

fn camel(m: &str) -> String {
    m.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| p[..1].to_ascii_uppercase() + &p[1..])
        .collect()
}

fn find(p: &Prom, name: &str) -> Option<ActiveAlert> {
    p.alerts().into_iter().find(|a| a.name == name)
}

/// Polls until alert `name` is in `state` (within `limit`); the moment it was seen.
fn wait_state(p: &Prom, name: &str, state: &str, limit: Duration) -> (Instant, ActiveAlert) {
    let t0 = Instant::now();
    loop {
        if let Some(a) = find(p, name)
            && a.state == state
        {
            return (Instant::now(), a);
        }
        assert!(
            t0.elapsed() < limit,
            "{name} never went {state} in {limit:?}; alerts: {:?}",
            p.alerts()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn exported_rules_pass_promtool_and_fire_in_prometheus_after_the_watch_window() {
    let (env, m) = setup("rules");
    let out = env.run(&["export", "prometheus-rules", &m, "--out", "rules.yml"]);
    out.code(0);
    let file = env.path().join("rules.yml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the rules file is written 0600");
    }
    let check = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "promtool check rules: {said}");
    // error rate: consecutive + in-window; diversity drop (soft).
    assert!(said.contains("SUCCESS: 3 rules found"), "{said}");

    let hard = format!("Mlrb{}MaxErrorRate", camel(&m));
    let window = format!("{hard}InWindow");
    let soft = format!("Mlrb{}MaxPredictionDiversityDrop", camel(&m));
    let p = prom_with_rules(&file);
    let loaded = p.rules();
    let rule = loaded
        .iter()
        .find(|r| r.0 == hard)
        .unwrap_or_else(|| panic!("{hard} not loaded: {loaded:?}"));
    // `watch` acts at the 3rd breaching check 1 s apart: the breach has held 2 s.
    assert_eq!(rule.2, 2.0, "for: of {hard}");

    // Healthy: every alert stays inactive across several evaluations.
    p.put(&m, "prediction_diversity", 0.7);
    p.put(&m, "error_rate", 0.01);
    std::thread::sleep(Duration::from_secs(4));
    let ours: Vec<ActiveAlert> = p
        .alerts()
        .into_iter()
        .filter(|a| a.labels["mlrb_model"] == m.as_str())
        .collect();
    assert!(ours.is_empty(), "healthy values alert: {ours:?}");
    assert!(
        p.rules()
            .iter()
            .filter(|r| [&hard, &window, &soft].contains(&&r.0))
            .all(|r| r.1 == "inactive"),
        "{:?}",
        p.rules()
    );

    // A hard breach: pending first, firing once it has held for the window.
    p.put(&m, "error_rate", 0.08);
    let (_, pending) = wait_state(&p, &hard, "pending", Duration::from_secs(10));
    let (_, firing) = wait_state(&p, &hard, "firing", Duration::from_secs(10));
    assert_eq!(pending.active_at, firing.active_at);
    assert_eq!(firing.labels["severity"], "critical");
    assert_eq!(firing.labels["mlrb_decision"], "rollback_now");
    let since = chrono::DateTime::parse_from_rfc3339(&firing.active_at).unwrap();
    let fired_after = chrono::Utc::now().signed_duration_since(since);
    assert!(
        fired_after >= chrono::Duration::seconds(2),
        "firing {fired_after} after the breach began, before the 2 s window"
    );
    wait_state(&p, &window, "firing", Duration::from_secs(10));
    let a = find(&p, &hard).unwrap();
    assert!(a.labels["mlrb_model"] == m.as_str());

    // A soft breach: a warning at once, no waiting.
    p.put(&m, "prediction_diversity", 0.04);
    let (_, s) = wait_state(&p, &soft, "firing", Duration::from_secs(10));
    assert_eq!(s.labels["severity"], "warning");
    assert_eq!(s.labels["mlrb_decision"], "investigate");

    // Healthy again: the hard alert resolves.
    p.put(&m, "error_rate", 0.01);
    let t0 = Instant::now();
    while find(&p, &hard).is_some() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{hard} still active after recovery"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// promtool's own rule unit tests, on synthetic series: the alert fires exactly at the check
/// where `watch` would act (the 3rd consecutive breaching check), not one earlier.
#[test]
fn exported_rules_fire_at_the_check_where_watch_acts_in_promtool_unit_tests() {
    let (env, m) = setup("promtool");
    env.run(&["export", "prometheus-rules", &m, "--out", "rules.yml"])
        .code(0);
    let hard = format!("Mlrb{}MaxErrorRate", camel(&m));
    // Checks at 0..=2 s healthy, breach from 3 s: breaching checks at 3, 4, 5 s.
    let series = format!("mlrb_test_error_rate{{model=\"{m}\"}}");
    let test = format!(
        r#"rule_files: [rules.yml]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: '{series}'
        values: '0.01 0.01 0.01 0.08 0.08 0.08 0.08 0.08'
    alert_rule_test:
      - eval_time: 2s
        alertname: {hard}
        exp_alerts: []
      - eval_time: 4s
        alertname: {hard}
        exp_alerts: []
      - eval_time: 5s
        alertname: {hard}
        exp_alerts:
          - exp_labels:
              severity: critical
              mlrb_model: "{m}"
              mlrb_metric: error_rate
              mlrb_decision: rollback_now
              registered_model: "{m}"
              model: "{m}"
            exp_annotations:
              summary: "ROLLBACK NOW: {m} error_rate above 0.05 (max_error_rate)"
              description: "error_rate is above 0.05 for 3 consecutive checks 1s apart (value now: 0.08); the rule of `mlrb watch {m}`, exported by mlrb. Users are served a bad model: roll back."
              runbook: "mlrb rollback model {m}"
              runbook_more: "mlrb runbook {m}"
"#
    );
    let t = env.write("test.yml", &test);
    let o = Command::new(promtool())
        .args(["test", "rules"])
        .arg(&t)
        .current_dir(env.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "promtool test rules:\n{said}");
}

/// M of N (2 of the last 4 checks, as configured): breaches that never hold two checks in a row
/// fire the window alert, as `watch` acts on them, and never the consecutive one.
#[test]
fn the_window_alert_counts_m_of_the_last_n_checks_in_promtool_unit_tests() {
    let (env, m) = setup("mofn");
    env.run(&["export", "prometheus-rules", &m, "--out", "rules.yml"])
        .code(0);
    let hard = format!("Mlrb{}MaxErrorRate", camel(&m));
    let window = format!("{hard}InWindow");
    let series = format!("mlrb_test_error_rate{{model=\"{m}\"}}");
    let labels = format!(
        "severity: critical\n              mlrb_model: \"{m}\"\n              mlrb_metric: error_rate\n              mlrb_decision: rollback_now\n              registered_model: \"{m}\"\n              model: \"{m}\""
    );
    // Breaching checks at 1 s and 3 s only.
    let test = format!(
        r#"rule_files: [rules.yml]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: '{series}'
        values: '0.01 0.08 0.01 0.08 0.01 0.01 0.01 0.01'
    alert_rule_test:
      - eval_time: 2s
        alertname: {window}
        exp_alerts: []
      - eval_time: 3s
        alertname: {window}
        exp_alerts:
          - exp_labels:
              {labels}
            exp_annotations:
              summary: "ROLLBACK NOW: {m} error_rate above 0.05 (max_error_rate)"
              description: "error_rate is above 0.05 in 2 of the last 4 checks 1s apart (value now: 2); the rule of `mlrb watch {m}`, exported by mlrb. Users are served a bad model: roll back."
              runbook: "mlrb rollback model {m}"
              runbook_more: "mlrb runbook {m}"
      - eval_time: 6s
        alertname: {window}
        exp_alerts: []
      - eval_time: 3s
        alertname: {hard}
        exp_alerts: []
      - eval_time: 5s
        alertname: {hard}
        exp_alerts: []
"#
    );
    let t = env.write("test.yml", &test);
    let o = Command::new(promtool())
        .args(["test", "rules"])
        .arg(&t)
        .current_dir(env.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "promtool test rules:\n{said}");
}

#[test]
fn prometheusrule_object_carries_the_same_groups() {
    let (env, m) = setup("operator");
    let plain = env.run(&["export", "prometheus-rules", &m]);
    plain.code(0);
    let obj = env.run(&[
        "export",
        "prometheus-rules",
        &m,
        "--format",
        "prometheusrule",
    ]);
    obj.code(0);
    assert!(
        obj.stdout.contains("kind: PrometheusRule\n"),
        "{}",
        obj.stdout
    );
    // The spec's groups are the plain file's, indented under `spec:`.
    let groups = plain.stdout.split_once("groups:\n").unwrap().1;
    let indented: String = groups.lines().map(|l| format!("  {l}\n")).collect();
    assert!(obj.stdout.ends_with(&indented), "{}", obj.stdout);
}

/// The PrometheusRule object is accepted by the API server (the operator's schema, durations
/// by its own pattern) and stores the same alerts promtool checked.
#[test]
fn prometheusrule_object_is_accepted_by_the_api_server() {
    use crate::common::kube::cluster;
    let k = cluster();
    let (mut env, m) = setup("promrule");
    k.configure(&mut env);
    env.run(&[
        "export",
        "prometheus-rules",
        &m,
        "--format",
        "prometheusrule",
        "--out",
        "rule.yml",
    ])
    .code(0);
    let ns = k.namespace("promrule");
    let stored = k.kubectl(&[
        "-n",
        &ns,
        "apply",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        env.path().join("rule.yml").to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(v["kind"], "PrometheusRule");
    let g = &v["spec"]["groups"][0];
    assert_eq!(g["name"], format!("mlrb-{m}"));
    assert_eq!(g["interval"], "1s");
    let rules = g["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3, "{rules:?}");
    let hard = format!("Mlrb{}MaxErrorRate", camel(&m));
    let r = rules.iter().find(|r| r["alert"] == hard.as_str()).unwrap();
    assert_eq!(r["for"], "2s");
    assert_eq!(r["labels"]["severity"], "critical");
    assert_eq!(
        r["annotations"]["runbook"],
        format!("mlrb rollback model {m}")
    );
    assert_eq!(
        r["expr"],
        format!("(mlrb_test_error_rate{{model=\"{m}\"}}) > 0.05")
    );
    // The duration pattern is enforced: a `for` Prometheus could not parse is refused.
    let bad = std::fs::read_to_string(env.path().join("rule.yml"))
        .unwrap()
        .replace("for: 2s", "for: 2 seconds");
    let f = env.write("bad-rule.yml", &bad);
    let o = Command::new("kubectl")
        .env("KUBECONFIG", &env.vars["KUBECONFIG"])
        .args(["-n", &ns, "apply", "--dry-run=server", "-f"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!o.status.success(), "an unparsable duration was accepted");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("for"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_export_requests_get_one_clear_line() {
    let (env, _m) = setup("badexport");
    let e = env
        .run(&["export", "prometheus-rules", "nosuch"])
        .one_clear_error(2);
    assert!(e.contains("nosuch is not a model in the config"), "{e}");
    let cfg = env.write("plain.toml", "[models.plain]\n");
    let mut env2 = TestEnv::new();
    env2.set("MLRB_CONFIG", cfg.display().to_string());
    let e = env2
        .run(&["export", "argo-analysis", "plain"])
        .one_clear_error(2);
    assert!(e.contains("plain has no [models.plain.metrics]"), "{e}");
    let e = env
        .run(&[
            "export",
            "prometheus-rules",
            &_m,
            "--out",
            "/nonexistent/dir/r.yml",
        ])
        .one_clear_error(2);
    assert!(e.contains("cannot write /nonexistent/dir/r.yml"), "{e}");
}

#[test]
fn status_says_when_an_exported_rules_file_drifted_from_the_config() {
    use crate::common::prometheus::prom;
    use crate::common::{Backend, FileBackend, bad_release};
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("drift");
    b.seed(&m, &bad_release(), &[]);
    let config = |max_error_rate: f64| {
        model_config(
            &p.url,
            &m,
            &["error_rate", "prediction_diversity"],
            &format!(
                "[models.\"{m}\".baseline]\nprediction_diversity = 0.73\n[models.\"{m}\".thresholds]\nmax_error_rate = {max_error_rate}\n"
            ),
        )
    };
    let cfg = env.write("mlrb.toml", &config(0.05));
    env.set("MLRB_CONFIG", cfg.display().to_string());
    p.set(&m, "prediction_diversity", 0.73);
    p.put(&m, "error_rate", 0.01);
    env.run(&["export", "prometheus-rules", &m, "--out", "rules.yml"])
        .code(0);
    let out = env.run(&["status", &m, "--rules", "rules.yml"]);
    out.code(0);
    assert!(
        out.stdout
            .contains("alerting rules: rules.yml matches the config (2 alerts)"),
        "{}",
        out.stdout
    );
    // The threshold moves in mlrb.toml; the file on disk does not.
    env.write("mlrb.toml", &config(0.02));
    let out = env.run(&["status", &m, "--rules", "rules.yml", "-o", "json"]);
    out.code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["rules_file"]["matches"], false, "{}", out.stdout);
    assert_eq!(v["rules_file"]["checked"], true, "{}", out.stdout);
    let hard = format!("Mlrb{}MaxErrorRate", camel(&m));
    let diffs = v["rules_file"]["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let d = diffs[0].as_str().unwrap();
    assert!(
        d.starts_with(&format!("{hard}: the file has `")) && d.ends_with("> 0.02`"),
        "{d}"
    );
    assert!(
        v["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "rules_drift"
                && a["message"].as_str().unwrap().contains(&format!(
                    "export again with `mlrb export prometheus-rules {m} --out rules.yml`"
                ))),
        "{}",
        out.stdout
    );
    // A file without the model's group at all.
    env.write(
        "other.yml",
        "groups:\n  - name: \"someone-else\"\n    rules: []\n",
    );
    let out = env.run(&["status", &m, "--rules", "other.yml", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["rules_file"]["differences"][0],
        format!("it has no group mlrb-{m}")
    );
    let e = env
        .run(&["status", &m, "--rules", "missing.yml"])
        .one_clear_error(2);
    assert!(e.contains("--rules missing.yml: cannot read it"), "{e}");
}

#[test]
fn argo_analysis_template_is_accepted_by_the_api_server_with_the_same_rule() {
    use crate::common::kube::cluster;
    let k = cluster();
    let mut env = TestEnv::new();
    let m = unique("argo");
    let toml = format!(
        r#"[models."{m}"]
registered_name = "recommendation-model"
[models."{m}".metrics]
prometheus_url = "http://prometheus:9090"
error_rate = 'rate(model_errors_total{{model="recommendation-model", version="7"}}[5m])'
prediction_diversity = 'model_prediction_diversity{{model="recommendation-model", version="7"}}'
[models."{m}".baseline]
prediction_diversity = 0.73
[models."{m}".controller]
check_interval = "30s"
consecutive_failures_required = 3
"#
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    k.configure(&mut env);
    env.run(&["export", "argo-analysis", &m, "--out", "analysis.yml"])
        .code(0);
    let ns = k.namespace("argo-export");
    let file = env.path().join("analysis.yml");
    // The API server validates it against the CRD's schema and returns the object it would
    // store.
    let stored = k.kubectl(&[
        "-n",
        &ns,
        "apply",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        file.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(v["kind"], "AnalysisTemplate");
    assert_eq!(v["spec"]["args"][0]["name"], "canary-version");
    let metrics = v["spec"]["metrics"].as_array().unwrap();
    let by_name = |n: &str| {
        metrics
            .iter()
            .find(|x| x["name"] == n)
            .unwrap_or_else(|| panic!("no metric {n}: {metrics:?}"))
    };
    let e = by_name("error-rate");
    assert_eq!(e["successCondition"], "result[0] <= 0.05");
    assert_eq!(e["failureCondition"], "result[0] > 0.05");
    // Argo fails the metric when failures exceed failureLimit: the third, as watch acts at the third.
    assert_eq!(e["failureLimit"], 2);
    assert_eq!(e["interval"], "30s");
    assert_eq!(
        e["provider"]["prometheus"]["address"],
        "http://prometheus:9090"
    );
    assert_eq!(
        e["provider"]["prometheus"]["query"],
        r#"rate(model_errors_total{model="recommendation-model", version="{{args.canary-version}}"}[5m])"#
    );
    let d = by_name("prediction-diversity");
    assert_eq!(d["successCondition"], "result[0] >= 0.584");
    assert_eq!(
        d["failureCondition"], "false",
        "a soft limit is Inconclusive, never Failed"
    );

    // The schema is structural for real: a field the CRD does not know (a misspelling) never
    // reaches the stored object. kubectl refuses it once the CRD's schema is published to it;
    // before that, this API server prunes it. Either way the checks above saw what Argo
    // Rollouts would read.
    let bad = std::fs::read_to_string(&file)
        .unwrap()
        .replace("successCondition", "sucessCondition");
    let bad_file = env.write("bad.yml", &bad);
    let out = std::process::Command::new("kubectl")
        .args(["-n", &ns, "apply", "--dry-run=server", "-o", "json", "-f"])
        .arg(&bad_file)
        .env("KUBECONFIG", &k.kubeconfig)
        .output()
        .unwrap();
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let first = &v["spec"]["metrics"][0];
        assert!(
            first["sucessCondition"].is_null() && first["successCondition"].is_null(),
            "{first}"
        );
        assert_eq!(first["failureLimit"], 2);
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("unknown field \"sucessCondition\""),
            "refused for another reason: {err}"
        );
    }
}
