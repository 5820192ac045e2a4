//! Metrics against a real Prometheus: the decision in `status`, unknown values, bad queries and
//! bad metric config; verification and detection in `rollback model`; the `watch` controller.

use serde_json::Value;

use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, unique};

/// An env on a fresh embedded registry holding the reference incident, with config `toml`.
fn setup(toml: &str) -> (TestEnv, FileBackend, String) {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("metrics");
    b.seed(&m, &bad_release(), &[]);
    let cfg = env.write("mlrb.toml", &toml.replace("MODEL", &m));
    env.set("MLRB_CONFIG", cfg.display().to_string());
    (env, b, m)
}

fn diversity_config(extra: &str) -> String {
    model_config(
        &prom().url,
        "MODEL",
        &["error_rate", "prediction_diversity"],
        &format!("[models.\"MODEL\".baseline]\nprediction_diversity = 0.73\n{extra}"),
    )
}

#[test]
fn diversity_collapse_is_investigate_in_status() {
    let p = prom();
    let (env, _b, m) = setup(&diversity_config(""));
    let m = m.as_str();
    p.set(m, "error_rate", 0.01);
    p.put(m, "prediction_diversity", 0.73);
    p.wait_for(m, "error_rate", 0.01);
    let out = env.run(&["status", m]);
    out.code(0);
    assert!(
        out.stdout
            .contains("decision: MONITOR — All metrics within acceptable range"),
        "{}",
        out.stdout
    );
    p.put(m, "prediction_diversity", 0.04);
    let out = env.run(&["status", m]);
    out.code(0);
    assert!(
        out.stdout.contains(
            "decision: INVESTIGATE — Prediction diversity dropped 94.5% from baseline (threshold: 20.0%)"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("baseline: config"), "{}", out.stdout);
    let out = env.run(&["status", m, "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["metrics"]["decision"], "investigate");
    assert_eq!(v["metrics"]["now"]["prediction_diversity"], 0.04);
    assert_eq!(v["metrics"]["baseline"]["prediction_diversity"], 0.73);
    assert_eq!(v["metrics"]["baseline_source"], "config");
}

#[test]
fn error_rate_breach_is_rollback_now_and_nan_is_unknown() {
    let p = prom();
    let (env, _b, m) = setup(&diversity_config(""));
    let m = m.as_str();
    p.set(m, "prediction_diversity", f64::NAN);
    p.put(m, "error_rate", 0.08);
    p.wait_for(m, "prediction_diversity", f64::NAN);
    let out = env.run(&["status", m, "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["metrics"]["decision"], "rollback_now");
    assert_eq!(
        v["metrics"]["reason"],
        "Error rate 8.0% exceeds threshold 5.0%"
    );
    assert_eq!(v["metrics"]["now"]["prediction_diversity"], Value::Null);
    assert_eq!(v["metrics"]["unknown_why"]["prediction_diversity"], "NaN");
    // Unknown never triggers: with the error rate healthy the NaN leaves MONITOR.
    p.put(m, "error_rate", 0.01);
    let out = env.run(&["status", m]);
    out.code(0);
    assert!(out.stdout.contains("unknown (NaN)"), "{}", out.stdout);
    assert!(out.stdout.contains("decision: MONITOR"), "{}", out.stdout);
}

#[test]
fn bad_promql_passes_prometheus_message_on() {
    let toml = format!(
        "[models.\"MODEL\".metrics]\nprometheus_url = \"{}\"\nerror_rate = 'rate(x[5m'\n",
        prom().url
    );
    let (env, _b, m) = setup(&toml);
    let out = env.run(&["status", &m]);
    out.code(2);
    let e = out.error_line();
    assert!(
        e.contains("Prometheus rejected the query for error_rate `rate(x[5m`: bad_data:"),
        "{e}"
    );
    assert!(e.contains("parse error"), "{e}");
}

#[test]
fn several_series_name_the_differing_labels() {
    let p = prom();
    let m0 = unique("multi");
    p.set_labeled(&m0, "error_rate", "a", 0.01);
    p.set_labeled(&m0, "error_rate", "b", 0.02);
    let toml = format!(
        "[models.\"MODEL\".metrics]\nprometheus_url = \"{}\"\nerror_rate = 'mlrb_test_error_rate{{model=\"{m0}\"}}'\n",
        p.url
    );
    let (env, _b, m) = setup(&toml);
    let t0 = std::time::Instant::now();
    loop {
        let out = env.run(&["status", &m]);
        if out.code == 2 {
            let e = out.error_line();
            assert!(
                e.contains(
                    "returned 2 series where one was expected; they differ in pod (\"a\", \"b\")"
                ),
                "{e}"
            );
            break;
        }
        assert!(t0.elapsed().as_secs() < 20, "{out:?}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn unreachable_prometheus_fails_clearly() {
    let port = crate::common::mlflow::free_port();
    let toml = model_config(
        &format!("http://127.0.0.1:{port}"),
        "MODEL",
        &["error_rate"],
        "",
    );
    let (env, _b, m) = setup(&toml);
    let out = env.run(&["status", &m]);
    out.code(1);
    assert!(
        out.error_line().contains(&format!(
            "cannot reach Prometheus at http://127.0.0.1:{port}"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_metric_config_is_one_clear_line() {
    let url = "http://127.0.0.1:9";
    let cases = [
        (
            model_config(
                url,
                "MODEL",
                &["error_rate"],
                "[models.\"MODEL\".metrics.custom.ctr]\nquery = 'x'\ndirection = \"higher\"\nmin = 0.5\nmax = 0.1\n",
            ),
            "min = 0.5 is above max = 0.1",
        ),
        (
            model_config(url, "MODEL", &["prediction_diversity"], ""),
            "metric `prediction_diversity` is judged against a baseline but has none",
        ),
        (
            model_config(
                url,
                "MODEL",
                &["error_rate"],
                "[models.\"MODEL\".controller]\ncheck_interval = \"0s\"\n",
            ),
            "must be greater than zero",
        ),
        (
            model_config(
                url,
                "MODEL",
                &["error_rate"],
                "[models.\"MODEL\".thresholds]\nmax_error_rate = 5.0\n",
            ),
            "max_error_rate = 5 is a fraction",
        ),
        (
            model_config(
                url,
                "MODEL",
                &["error_rate"],
                "[models.\"MODEL\".controller]\nfailures_in_window = 4\nwindow = 3\n",
            ),
            "failures_in_window = 4 must be between 1 and window = 3",
        ),
    ];
    for (toml, want) in cases {
        let (env, b, m) = setup(&toml);
        let before = b.snapshot(&m);
        let out = env.run(&["rollback", "model", &m, "--yes"]);
        let e = out.one_clear_error(2);
        assert!(e.contains(want), "want {want:?} in {e}");
        assert_eq!(b.snapshot(&m), before, "nothing changed");
    }
}

fn verify_config(timeout: &str) -> String {
    model_config(
        &prom().url,
        "MODEL",
        &["error_rate", "prediction_diversity"],
        &format!(
            "detection_lookback = \"2m\"\n[models.\"MODEL\".baseline]\nprediction_diversity = 0.73\nerror_rate = 0.01\n\
             [models.\"MODEL\".verify]\ntimeout = \"{timeout}\"\ninterval = \"1s\"\n\
             [models.\"MODEL\".metrics.custom.unused]\nquery = 'vector(1)'\ndirection = \"higher\"\nmin = 0\n"
        ),
    )
}

#[test]
fn verification_waits_for_recovery_and_detection_finds_the_breach_start() {
    let p = prom();
    let (env, b, m) = setup(&verify_config("30s"));
    p.set(&m, "error_rate", 0.01);
    p.put(&m, "prediction_diversity", 0.73);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let collapse = chrono::Utc::now();
    p.put(&m, "prediction_diversity", 0.04);
    let m2 = m.clone();
    let fixer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(3));
        prom().set(&m2, "prediction_diversity", 0.72);
    });
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    fixer.join().unwrap();
    out.code(0);
    assert_eq!(b.version(&m, 2).0, mlrb::registry::Stage::Production);
    assert!(out.stderr.contains("verifying metrics"), "{}", out.stderr);
    assert!(
        out.stderr.contains("prediction_diversity 0.04"),
        "live values on stderr: {}",
        out.stderr
    );
    assert!(out.stderr.contains("✓ metrics recovered"), "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "Breach began (from Prometheus history): Prediction diversity dropped 94.5% from baseline"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Metrics recovered"), "{}", out.stdout);
    assert!(!out.stdout.contains("not measured"), "{}", out.stdout);
    let journal = env.journal();
    let detected: Value = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "detected")
        .expect("a detected record");
    let at: chrono::DateTime<chrono::Utc> = detected["began_at"].as_str().unwrap().parse().unwrap();
    let off = (at - collapse).num_milliseconds();
    assert!(
        (-1500..=3500).contains(&off),
        "breach start {at} vs collapse {collapse}"
    );
    // The MTTR verification phase ends when the metrics recovered, seconds after the flip.
    let verified: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "metrics_verified")
        .collect();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0]["ok"], true);
}

#[test]
fn verification_without_recovery_exits_5_and_no_verify_skips_it() {
    let p = prom();
    let (env, b, m) = setup(&verify_config("3s"));
    p.set(&m, "error_rate", 0.01);
    p.put(&m, "prediction_diversity", 0.04);
    let out = env.run(&["rollback", "model", &m, "--yes", "--detected-at", "5m"]);
    out.code(5);
    assert_eq!(b.version(&m, 2).0, mlrb::registry::Stage::Production);
    assert!(
        out.stderr.contains("metrics did not recover within 3s")
            && out
                .stderr
                .contains("prediction_diversity 0.04 not within 10.0% of baseline 0.73"),
        "{}",
        out.stderr
    );
    assert!(
        env.journal()
            .contains("\"type\":\"metrics_verified\",\"ok\":false")
    );
    assert!(out.stdout.contains("| verification |") && out.stdout.contains("not verified"));

    let (env, _b, m) = setup(&verify_config("30s"));
    p.set(&m, "error_rate", 0.01);
    p.put(&m, "prediction_diversity", 0.04);
    let out = env.run(&["rollback", "model", &m, "--yes", "--no-verify"]);
    out.code(0);
    assert!(!out.stderr.contains("verifying metrics"), "{}", out.stderr);
}

/// The mlrb.toml inside deploy/mlrb-watch.yaml's ConfigMap is a config mlrb accepts.
#[test]
fn deploy_manifest_config_loads() {
    let yaml =
        std::fs::read_to_string(crate::common::repo_root().join("deploy/mlrb-watch.yaml")).unwrap();
    let start = yaml.find("mlrb.toml: |\n").unwrap() + "mlrb.toml: |\n".len();
    let end = start + yaml[start..].find("\n---").unwrap();
    let toml: String = yaml[start..end]
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recommendation-model", &bad_release(), &[]);
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("PROMETHEUS_AUTH", "Bearer x");
    env.run(&["rollback", "model", "recsys", "--dry-run"])
        .code(0);
}

/// The arguments deploy/mlrb-watch.yaml gives the container are ones this mlrb accepts (clap
/// checks every argument before it acts on a trailing `--help`), so the manifest cannot drift
/// from the flags.
#[test]
fn deploy_manifest_args_parse() {
    let yaml =
        std::fs::read_to_string(crate::common::repo_root().join("deploy/mlrb-watch.yaml")).unwrap();
    let start = yaml
        .find("          args:\n")
        .expect("the manifest has container args")
        + "          args:\n".len();
    let args: Vec<String> = yaml[start..]
        .lines()
        .map_while(|l| l.strip_prefix("            - "))
        .map(|a| a.trim_matches('"').to_string())
        .collect();
    assert!(args.len() > 3 && args[0] == "watch", "{args:?}");
    let env = TestEnv::new();
    let with = |extra: Option<&str>| {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend(extra);
        a.push("--help");
        env.run(&a)
    };
    with(None).code(0);
    // The check itself can fail: an argument this mlrb does not know is refused.
    with(Some("--no-such-flag")).code(2);
}

/// Baseline source = "run": the rollback target's MLflow run metrics, on the real server.
#[test]
fn baseline_from_the_targets_mlflow_run() {
    use crate::common::mlflow::MlflowBackend;
    use serde_json::json;
    let p = prom();
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    let m = unique("runbase");
    let rest = &b.rest;
    let run = rest.post("runs/create", json!({"experiment_id": "0"}));
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    rest.post(
        "runs/log-metric",
        json!({"run_id": run_id, "key": "prediction_diversity", "value": 0.73, "timestamp": 0, "step": 0}),
    );
    rest.post("registered-models/create", json!({"name": m}));
    for (n, stage) in [("1", "Archived"), ("2", "Archived"), ("3", "Production")] {
        let mut body = json!({"name": m, "source": format!("s3://models/{m}/v{n}")});
        if n == "2" {
            body["run_id"] = json!(run_id);
        }
        rest.post("model-versions/create", body);
        rest.post(
            "model-versions/transition-stage",
            json!({"name": m, "version": n, "stage": stage, "archive_existing_versions": false}),
        );
    }
    rest.post(
        "model-versions/set-tag",
        json!({"name": m, "version": "2", "key": "rollback.healthy_baseline", "value": "true"}),
    );
    let toml = model_config(
        &p.url,
        &m,
        &["prediction_diversity"],
        &format!("[models.\"{m}\".baseline]\nsource = \"run\"\n"),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    p.put(&m, "prediction_diversity", 0.04);
    let out = env.run(&["status", &m]);
    out.code(0);
    assert!(
        out.stdout
            .contains(&format!("baseline: run {run_id} of v2")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("decision: INVESTIGATE — Prediction diversity dropped 94.5%"),
        "{}",
        out.stdout
    );
}

/// Baseline source = "offset": the same query, evaluated before the collapse.
#[test]
fn baseline_from_the_same_query_offset() {
    let p = prom();
    let (env, _b, m) = setup(&model_config(
        &p.url,
        "MODEL",
        &["prediction_diversity"],
        "[models.\"MODEL\".baseline]\nsource = \"offset\"\noffset = \"2s\"\n",
    ));
    p.put(&m, "prediction_diversity", 0.73);
    std::thread::sleep(std::time::Duration::from_secs(3));
    p.put(&m, "prediction_diversity", 0.04);
    let out = env.run(&["status", &m, "-o", "json"]);
    out.code(0);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["metrics"]["baseline"]["prediction_diversity"], 0.73,
        "{v}"
    );
    assert!(
        v["metrics"]["baseline_source"]
            .as_str()
            .unwrap()
            .starts_with("offset: the same queries at "),
        "{v}"
    );
    assert_eq!(v["metrics"]["decision"], "investigate");
}

/// The Authorization header comes from the variable named in config and never shows up in output;
/// an empty result is "unknown (no data)", never 0.
#[test]
fn auth_header_from_env_and_empty_result_is_unknown() {
    use crate::common::http_server::{Reply, TestServer};
    let peer = TestServer::start(|_| {
        Reply::json(
            200,
            serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": []}}),
        )
    });
    let toml = model_config(
        &peer.url,
        "MODEL",
        &["error_rate"],
        "auth_header_env = \"PROM_AUTH\"\n",
    );
    let (mut env, _b, m) = setup(&toml);
    let out = env.run(&["status", &m]);
    let e = out.one_clear_error(2);
    assert!(e.contains("$PROM_AUTH is not set"), "{e}");
    env.set("PROM_AUTH", "Bearer s3cret-token");
    let out = env.run(&["status", &m]);
    out.code(0);
    assert!(out.stdout.contains("unknown (no data)"), "{}", out.stdout);
    assert!(!out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"));
    let reqs = peer.requests();
    assert!(reqs.iter().all(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer s3cret-token")
    }));
    assert!(reqs[0].path.starts_with("/api/v1/query?query="));
}

/// deploy/mlrb-watch.yaml as the API server this suite runs (v1.20) can take it: PodDisruptionBudget
/// is policy/v1 from Kubernetes 1.21 on (1.25 removed v1beta1); its spec here (minAvailable,
/// selector) is the same in v1beta1, so v1beta1 stands in for it on the 1.20 server.
fn watch_manifest_for_the_test_server() -> String {
    let yaml =
        std::fs::read_to_string(crate::common::repo_root().join("deploy/mlrb-watch.yaml")).unwrap();
    let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget";
    assert_eq!(
        yaml.matches(pdb).count(),
        1,
        "one policy/v1 PodDisruptionBudget"
    );
    yaml.replace(pdb, "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget")
}

/// deploy/mlrb-watch.yaml is accepted by a real API server (`kubectl apply --dry-run=server`):
/// every object validates against the server's schemas; nothing is created.
#[test]
fn the_watch_manifest_passes_server_side_validation() {
    let k = crate::common::kube::cluster();
    let exists = std::process::Command::new("kubectl")
        .args(["get", "namespace", "ml-serving"])
        .env("KUBECONFIG", &k.kubeconfig)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        k.kubectl(&["create", "namespace", "ml-serving"]);
    }
    let manifest = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(manifest.path(), watch_manifest_for_the_test_server()).unwrap();
    let out = k.kubectl(&[
        "apply",
        "--dry-run=server",
        "-f",
        manifest.path().to_str().unwrap(),
    ]);
    for kind in [
        "serviceaccount/mlrb-watch",
        "role.rbac.authorization.k8s.io/mlrb-watch-lease",
        "rolebinding.rbac.authorization.k8s.io/mlrb-watch-lease",
        "configmap/mlrb-config",
        "service/mlrb-watch",
        "statefulset.apps/mlrb-watch",
        "poddisruptionbudget.policy/mlrb-watch",
        "networkpolicy.networking.k8s.io/mlrb-watch",
    ] {
        assert!(
            out.contains(&format!("{kind} created (server dry run)"))
                || out.contains(&format!("{kind} configured (server dry run)"))
                || out.contains(&format!("{kind} unchanged (server dry run)")),
            "{kind}: {out}"
        );
    }
    let created = std::process::Command::new("kubectl")
        .args(["-n", "ml-serving", "get", "statefulset", "mlrb-watch"])
        .env("KUBECONFIG", &k.kubeconfig)
        .output()
        .unwrap();
    assert!(
        !created.status.success(),
        "a server dry run creates nothing"
    );
}

/// The manifest applied for real (in a namespace of its own): the pods run as the dedicated
/// ServiceAccount, hardened, with two replicas each on its own claim; and that account may do
/// what leader election needs with its Lease and nothing else.
#[test]
fn the_watch_manifest_grants_its_lease_and_nothing_else() {
    let k = crate::common::kube::cluster();
    let ns = k.namespace("mlrbwatch");
    let yaml = watch_manifest_for_the_test_server()
        .replace("namespace: ml-serving", &format!("namespace: {ns}"));
    assert!(
        !yaml
            .lines()
            .any(|l| l.contains("ml-serving") && !l.trim_start().starts_with('#')),
        "every object is namespaced"
    );
    k.apply(&ns, &yaml);
    let sts: Value = serde_json::from_str(&k.kubectl(&[
        "-n",
        &ns,
        "get",
        "statefulset",
        "mlrb-watch",
        "-o",
        "json",
    ]))
    .unwrap();
    let spec = &sts["spec"];
    assert_eq!(spec["replicas"], 2);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "mlrb-watch");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["ports"][0]["containerPort"], 9464);
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for pair in [
        ["--lease-name", "mlrb-watch"],
        ["--lease-namespace", "$(POD_NAMESPACE)"],
        ["--listen", "0.0.0.0:9464"],
    ] {
        assert!(args.windows(2).any(|w| w == pair), "{pair:?} in {args:?}");
    }
    assert!(args.contains(&"--leader-elect"), "{args:?}");
    // The journal on a claim per replica, not an emptyDir.
    let state_mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/var/lib/mlrb")
        .expect("a state mount");
    assert_eq!(
        spec["volumeClaimTemplates"][0]["metadata"]["name"],
        state_mount["name"]
    );
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["name"] != state_mount["name"]),
        "state is the claim template, not a pod volume"
    );
    // The account has no token unless a pod asks for one (the StatefulSet does, for the Lease).
    let sa: Value = serde_json::from_str(&k.kubectl(&[
        "-n",
        &ns,
        "get",
        "serviceaccount",
        "mlrb-watch",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(sa["automountServiceAccountToken"], false);
    assert_eq!(pod["automountServiceAccountToken"], true);

    let who = format!("system:serviceaccount:{ns}:mlrb-watch");
    let can = |verb: &str, what: &str, in_ns: &str| -> bool {
        let o = std::process::Command::new("kubectl")
            .args(["auth", "can-i", verb, what, "-n", in_ns, "--as", &who])
            .env("KUBECONFIG", &k.kubeconfig)
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert!(
            answer == "yes" || answer == "no",
            "kubectl auth can-i {verb} {what}: {answer} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        answer == "yes"
    };
    for verb in ["get", "update"] {
        assert!(
            can(verb, "leases.coordination.k8s.io/mlrb-watch", &ns),
            "{verb} its lease"
        );
        assert!(
            !can(verb, "leases.coordination.k8s.io/other", &ns),
            "{verb} another lease"
        );
    }
    assert!(can("create", "leases.coordination.k8s.io", &ns));
    assert!(!can("delete", "leases.coordination.k8s.io/mlrb-watch", &ns));
    assert!(!can("list", "leases.coordination.k8s.io", &ns));
    assert!(
        !can("create", "leases.coordination.k8s.io", "default"),
        "other namespaces"
    );
    for what in ["secrets", "pods", "configmaps", "deployments.apps"] {
        assert!(!can("get", what, &ns), "get {what}");
    }
    k.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

#[test]
fn detection_over_an_hour_of_history_finds_the_start_within_seconds() {
    // An hour of lookback is searched 3.6 s at a time, then again every second around the start
    // found, so the start is placed within a scrape or two of the collapse.
    let p = prom();
    let toml =
        verify_config("30s").replace("detection_lookback = \"2m\"", "detection_lookback = \"1h\"");
    let (env, _b, m) = setup(&toml);
    p.set(&m, "error_rate", 0.01);
    p.put(&m, "prediction_diversity", 0.73);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let collapse = chrono::Utc::now();
    p.put(&m, "prediction_diversity", 0.04);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let out = env.run(&["rollback", "model", &m, "--yes", "--no-verify"]);
    out.code(0);
    let detected: Value = env
        .journal()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "detected")
        .expect("a detected record");
    let at: chrono::DateTime<chrono::Utc> = detected["began_at"].as_str().unwrap().parse().unwrap();
    let off = (at - collapse).num_milliseconds();
    assert!(
        (-1500..=2500).contains(&off),
        "breach start {at} vs collapse {collapse}: {off} ms"
    );
}
