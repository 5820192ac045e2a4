//! TLS exactly as the official MLflow client reads it from the environment: verification on by
//! default, a custom CA, a client certificate, and INSECURE_TLS with a warning on every use.

use serde_json::json;

use crate::common::http_server::{Reply, TestServer};
use crate::common::mlflow::{MlflowBackend, Rest, seed_rest};
use crate::common::prometheus::{model_config, prom};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, tls, unique};

#[test]
fn tls_verification_custom_ca_insecure_and_client_certificates() {
    let b = MlflowBackend::new();
    let m = unique("tls");
    seed_rest(&Rest::new(&b.uri), &m, &bad_release(), &[]);
    let upstream = b.uri.trim_start_matches("http://").to_string();
    let proxy = tls::start(&upstream, false);

    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", proxy.url.clone());
    // Verification is on: a private CA is refused.
    let line = env.run(&["status", &m]).one_clear_error(1);
    assert!(line.to_lowercase().contains("certificate"), "{line}");
    // The CA from MLFLOW_TRACKING_SERVER_CERT_PATH is trusted.
    env.set(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        proxy.ca_pem.display().to_string(),
    );
    env.run(&["status", &m]).code(0);
    // INSECURE_TLS skips verification, and says so every time.
    env.vars.remove("MLFLOW_TRACKING_SERVER_CERT_PATH");
    env.set("MLFLOW_TRACKING_INSECURE_TLS", "true");
    let out = env.run(&["rollback", "model", &m, "--yes"]);
    out.code(0);
    assert!(out.stderr.contains("NOT verified"), "{}", out.stderr);

    // A proxy that demands a client certificate.
    let mtls = tls::start(&upstream, true);
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", mtls.url.clone());
    env.set(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        mtls.ca_pem.display().to_string(),
    );
    env.run(&["status", &m]).one_clear_error(1);
    env.set(
        "MLFLOW_TRACKING_CLIENT_CERT_PATH",
        mtls.client_pem.display().to_string(),
    );
    env.run(&["status", &m]).code(0);
    // A client certificate file that is not PEM is a configuration error, not a crash.
    let bogus = env.write("bogus.pem", "not a certificate");
    env.set(
        "MLFLOW_TRACKING_CLIENT_CERT_PATH",
        bogus.display().to_string(),
    );
    assert!(
        env.run(&["status", &m])
            .one_clear_error(2)
            .contains("client certificate")
    );
}

/// `127.0.0.1:PORT` of a server's URL.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
}

/// A webhook retrain to `url` and its status at `url/status/{id}` (the token in RETRAIN_TOKEN),
/// with `extra` config lines.
fn retrain_env(url: &str, extra: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.set("RETRAIN_TOKEN", "tls-test-token-1234");
    let cfg = env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.retrain]\nkind = \"webhook\"\nurl = \"{url}/retrain\"\ntoken_env = \"RETRAIN_TOKEN\"\npoll_interval = \"1s\"\nstatus_url = \"{url}/status/{{id}}\"\n{extra}"
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env
}

const RETRAIN_WAIT: &[&str] = &[
    "rollback",
    "retrain",
    "recsys",
    "--dataset-version",
    "ds-1",
    "--wait",
    "--yes",
];

fn trigger() -> TestServer {
    TestServer::start(|req| match req.method.as_str() {
        "POST" => Reply::json(200, json!({"id": "r-1", "status": "running"})),
        _ => Reply::json(200, json!({"status": "success"})),
    })
}

/// A CI webhook and the real Prometheus behind TLS with a private CA: refused without the CA,
/// trusted through `[http] ca_file` and through SSL_CERT_FILE (the platform's roots).
#[test]
fn every_client_trusts_the_ca_file_and_ssl_cert_file() {
    // A retrain webhook (the CI client).
    let hook = trigger();
    let hook_tls = tls::start(authority(&hook.url), false);
    let posts = || {
        hook.requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    let env = retrain_env(&hook_tls.url, "");
    let line = env.run(RETRAIN_WAIT).error_line();
    assert!(line.to_lowercase().contains("certificate"), "{line}");
    assert_eq!(posts(), 0);
    let env = retrain_env(
        &hook_tls.url,
        &format!("[http]\nca_file = \"{}\"\n", hook_tls.ca_pem.display()),
    );
    env.run(RETRAIN_WAIT).code(0);
    assert_eq!(posts(), 1);
    let mut env = retrain_env(&hook_tls.url, "");
    env.set("SSL_CERT_FILE", hook_tls.ca_pem.display().to_string());
    env.run(RETRAIN_WAIT).code(0);
    assert_eq!(posts(), 2);

    // The real Prometheus.
    let p = prom();
    let prom_tls = tls::start(authority(&p.url), false);
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let m = unique("tlsprom");
    b.seed(&m, &bad_release(), &[]);
    let status = |env: &TestEnv, url: &str, extra: &str| {
        let cfg = env.write("mlrb.toml", &model_config(url, &m, &["error_rate"], extra));
        let mut e = env.mlrb();
        e.env("MLRB_CONFIG", cfg.display().to_string());
        e.args(["status", &m]).output().unwrap()
    };
    let plain = status(&env, &p.url, "");
    let plain_code = plain.status.code();
    let refused = status(&env, &prom_tls.url, "");
    let err = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(
        err.contains("Prometheus at") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    let ca = format!("[http]\nca_file = \"{}\"\n", prom_tls.ca_pem.display());
    let trusted = status(&env, &prom_tls.url, &ca);
    let err = String::from_utf8_lossy(&trusted.stderr).to_string();
    assert_eq!(trusted.status.code(), plain_code, "{err}");
    assert!(!err.contains("error:"), "{err}");
    env.set("SSL_CERT_FILE", prom_tls.ca_pem.display().to_string());
    let trusted = status(&env, &prom_tls.url, "");
    let err = String::from_utf8_lossy(&trusted.stderr).to_string();
    assert_eq!(trusted.status.code(), plain_code, "{err}");
    assert!(!err.contains("error:"), "{err}");
    // A ca_file that is not there is a configuration error naming the key.
    let missing = status(&env, &prom_tls.url, "[http]\nca_file = \"nowhere.pem\"\n");
    let err = String::from_utf8_lossy(&missing.stderr).to_string();
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(err.contains("[http] ca_file"), "{err}");
}

/// This machine's first non-loopback IPv4 address: where a server is "on the network".
fn network_ip() -> String {
    // Connecting a UDP socket sends nothing; it only picks the interface a packet would take.
    for probe in ["192.0.2.1:9", "10.255.255.254:9", "8.8.8.8:53"] {
        let Ok(s) = std::net::UdpSocket::bind("0.0.0.0:0") else {
            continue;
        };
        if s.connect(probe).is_ok()
            && let Ok(a) = s.local_addr()
            && !a.ip().is_loopback()
            && !a.ip().is_unspecified()
        {
            return a.ip().to_string();
        }
    }
    panic!("this test needs a non-loopback IPv4 address on this machine (a network interface up)");
}

/// A token over plain http to a host on the network gets one warning per host; loopback none.
#[test]
fn a_credential_over_plain_http_off_the_machine_is_warned_once() {
    let ip = network_ip();
    let hook = TestServer::start_on(&ip, |req| {
        Some(match req.method.as_str() {
            "POST" => Reply::json(200, json!({"id": "r-1", "status": "running"})),
            _ => Reply::json(200, json!({"status": "success"})),
        })
    });
    let env = retrain_env(&hook.url, "");
    let out = env.run(RETRAIN_WAIT);
    out.code(0);
    assert!(hook.requests().len() >= 2, "{:?}", hook.requests());
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("over plain http"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].starts_with("warning: mlrb sends an Authorization header to http://")
            && warnings[0].contains(&ip)
            && warnings[0].contains("use https://"),
        "{}",
        warnings[0]
    );
    // The same on loopback never leaves the machine: no warning.
    let local = trigger();
    let out = retrain_env(&local.url, "").run(RETRAIN_WAIT);
    out.code(0);
    assert!(!out.stderr.contains("plain http"), "{}", out.stderr);
}
